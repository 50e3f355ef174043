//! The executor: runs a region's steps in plan order within the per-run limit, batches
//! consecutive steps of one batch into one effect, defers the rest of a sequence whose step
//! failed, records failures, and announces every step done.

use super::effect::{CREATED_GROUP_ID, Call, Effect, FAILURE_KIND, TagWrite};
use super::plan::{Step, StepKind};
use super::report::{Executed, Report};
use super::settings::{Limit, RunSettings};
use crate::ports::{ApiError, ErrorKind, GameLiftStreams, Message, Ports};
use serde_json::json;
use std::collections::BTreeSet;

pub(super) struct Executor<'a, K> {
    pub region: &'a dyn GameLiftStreams,
    pub ports: &'a Ports,
    pub settings: &'a RunSettings,
    pub report: &'a mut Report<K>,
}

/// Why an effect failed: the kind of the call's own error (none when a tag write around it
/// failed), and the message.
type Failure = (Option<ErrorKind>, String);

impl<K: StepKind> Executor<'_, K> {
    /// Runs `steps` in order within the limit; `steps_spent` counts steps across regions.
    pub async fn execute(&mut self, steps: &[Step<K>], steps_spent: &mut usize, publish_errors: &mut Vec<String>) {
        let mut failed: BTreeSet<String> = BTreeSet::new();
        let mut i = 0;
        while i < steps.len() {
            // A batch: consecutive steps with the same batch key.
            let mut end = i + 1;
            while end < steps.len() && steps[i].batch.is_some() && steps[end].batch == steps[i].batch {
                end += 1;
            }
            let unit = &steps[i..end];
            i = end;
            if failed.contains(&unit[0].sequence) {
                self.report.deferred.extend(unit.iter().cloned());
                continue;
            }
            let take = self.fitting(unit, *steps_spent);
            self.report.deferred.extend(unit[take..].iter().cloned());
            if take == 0 {
                continue;
            }
            let unit = &unit[..take];
            let effect = Effect::merge(&unit.iter().map(|step| &step.effect).collect::<Vec<_>>());
            *steps_spent += take;
            match self.apply(&effect).await {
                Ok(created) => {
                    for step in unit {
                        let outcome = step.done.replace(CREATED_GROUP_ID, created.as_deref().unwrap_or("?"));
                        self.done(step, outcome, publish_errors).await;
                    }
                }
                Err((kind, error)) => {
                    let error = self.record_failure(&effect, kind, error).await;
                    self.report.failed_steps += unit.len();
                    for step in unit {
                        let name = step.kind.name();
                        tracing::error!(function = self.settings.function, action = %name, stream_group = %step.stream_group, error = %error, "action failed; the next run resumes");
                        self.report.errors.push(format!("{} {name}: {error}", step.stream_group));
                    }
                    failed.insert(unit[0].sequence.clone());
                }
            }
        }
    }

    /// How many steps of `unit` fit the per-run limit. The first step of a run always goes,
    /// so a step dearer than the whole limit cannot stall a recreation for ever.
    fn fitting(&self, unit: &[Step<K>], steps_spent: usize) -> usize {
        let spent = match self.settings.limit {
            Limit::MutatingCalls(_) => self.report.mutating_calls,
            Limit::Steps(_) => steps_spent,
        };
        let mut take = 0;
        let mut cost = 0;
        for step in unit {
            let next = self.settings.limit.cost(step);
            if spent + cost + next > self.settings.limit.max() && spent + cost > 0 {
                break;
            }
            cost += next;
            take += 1;
        }
        take
    }

    /// Writes the effect's failure record, with the call's error kind in it; returns the
    /// error to report (saying so when the record could not be written either).
    async fn record_failure(&mut self, effect: &Effect, kind: Option<ErrorKind>, error: String) -> String {
        let (Some(record), Some(kind)) = (&effect.on_failure, kind) else { return error };
        match self.write_tags(record, FAILURE_KIND, kind.as_str()).await {
            Ok(()) => error,
            Err(e) => format!("{error}; recording the failure failed too: {e}"),
        }
    }

    /// The tag writes of `write`, with `placeholder` replaced by `value` in the values set.
    async fn write_tags(&mut self, write: &TagWrite, placeholder: &str, value: &str) -> Result<(), ApiError> {
        for tag_write in write.writes(placeholder, value) {
            self.report.mutating_calls += 1;
            self.region.write(&tag_write).await?;
        }
        Ok(())
    }

    /// Applies one effect; returns the id of a group it created, or why it failed.
    async fn apply(&mut self, effect: &Effect) -> Result<Option<String>, Failure> {
        if let Some(before) = &effect.before {
            self.write_tags(before, CREATED_GROUP_ID, CREATED_GROUP_ID).await.map_err(|e| (None, e.to_string()))?;
        }
        self.report.mutating_calls += effect.call.mutating_calls();
        let created = match &effect.call {
            Call::None => None,
            Call::Write(write) => self.region.write(write).await.map_err(|e| (Some(e.kind), e.to_string()))?,
            Call::Announce(message) => {
                let topic = self.settings.actions_topic_arn.as_ref().ok_or_else(|| {
                    (None, "no ACTIONS_TOPIC_ARN: this step must be announced and cannot be".to_owned())
                })?;
                self.publish(topic, message).await?;
                None
            }
            Call::AnnounceIfConfigured(message) => {
                if let Some(topic) = &self.settings.actions_topic_arn {
                    self.publish(topic, message).await?;
                }
                None
            }
        };
        let created = created.map(|group| group.id);
        if let Some(after) = &effect.after {
            let id = created.as_deref().unwrap_or(CREATED_GROUP_ID);
            self.write_tags(after, CREATED_GROUP_ID, id).await.map_err(|e| (None, e.to_string()))?;
        }
        Ok(created)
    }

    async fn publish(&self, topic: &str, message: &Message) -> Result<(), Failure> {
        self.ports.notifier.publish(topic, message).await.map_err(|e| (Some(e.kind), e.to_string()))
    }

    /// Logs a done step, announces it, and adds it to the report.
    async fn done(&mut self, step: &Step<K>, outcome: String, publish_errors: &mut Vec<String>) {
        let figures = step.kind.figures();
        let name = step.kind.name();
        tracing::info!(
            function = self.settings.function,
            action = %name,
            stream_group = %step.stream_group,
            region = %step.region,
            reason = %step.reason,
            outcome = %outcome,
            figures = %serde_json::Value::Object(figures.clone()),
            "action"
        );
        if let Some(topic) = &self.settings.actions_topic_arn {
            let mut body = json!({
                "type": "action",
                "function": self.settings.function,
                "action": name,
                "item": step,
                "outcome": outcome,
            });
            body.as_object_mut().expect("object").extend(figures);
            let subject = format!("{name} {}", step.stream_group);
            let attributes =
                [("type", "action"), ("action", name.as_str()), ("stream_group", step.stream_group.as_str())];
            let message = Message::announcement(&subject, &body, &attributes);
            if let Err(e) = self.ports.notifier.publish(topic, &message).await {
                publish_errors.push(format!("announcing {name} on {}: {e}", step.stream_group));
            }
        }
        self.report.executed.push(Executed { step: step.clone(), outcome });
    }
}
