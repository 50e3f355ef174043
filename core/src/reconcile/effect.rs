//! What a step does: the tags written before its call (a record that must survive a crash
//! between the two), the call, the tags written after, and the record written when the call
//! fails. The executor knows no tag schema and no function: it applies effects.

use crate::ports::{Message, Tags, Write};

/// In the tag values of [`Effect::after`], stands for the id CreateStreamGroup returned.
pub const CREATED_GROUP_ID: &str = "{created-group-id}";
/// In the tag values of [`Effect::on_failure`], stands for the kind of error the call met
/// (`quota`, `validation`, `throttled`, ...: [`ErrorKind`](crate::ports::ErrorKind) in snake case).
pub const FAILURE_KIND: &str = "{failure-kind}";

/// Tags to set and keys to remove on one resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TagWrite {
    pub arn: String,
    pub set: Tags,
    pub remove: Vec<String>,
}

impl TagWrite {
    pub fn set(arn: &str, tags: Tags) -> Self {
        Self { arn: arn.to_owned(), set: tags, remove: Vec::new() }
    }

    pub fn remove(arn: &str, keys: Vec<String>) -> Self {
        Self { arn: arn.to_owned(), set: Tags::new(), remove: keys }
    }

    /// The TagResource and UntagResource writes it takes (none for an empty side), with
    /// `placeholder` replaced by `value` in the values set.
    pub(super) fn writes(&self, placeholder: &str, value: &str) -> Vec<Write> {
        let tags: Tags = self.set.iter().map(|(k, v)| (k.clone(), v.replace(placeholder, value))).collect();
        [Write::Tag { arn: self.arn.clone(), tags }, Write::Untag { arn: self.arn.clone(), keys: self.remove.clone() }]
            .into_iter()
            .filter(|write| !write.is_empty())
            .collect()
    }

    fn calls(&self) -> usize {
        usize::from(!self.set.is_empty()) + usize::from(!self.remove.is_empty())
    }
}

/// The one call of a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// A step that only writes tags.
    None,
    /// A write to GameLift Streams.
    Write(Write),
    /// Publish to the actions topic; the step fails when there is no topic or SNS refuses.
    Announce(Message),
    /// Publish to the actions topic if one is configured.
    AnnounceIfConfigured(Message),
}

impl From<Write> for Call {
    fn from(write: Write) -> Self {
        Call::Write(write)
    }
}

impl Call {
    /// Mutating API calls this call makes (publishing is not one).
    pub(super) fn mutating_calls(&self) -> usize {
        match self {
            Call::Write(write) => write.api_calls(),
            Call::None | Call::Announce(_) | Call::AnnounceIfConfigured(_) => 0,
        }
    }
}

/// Everything a step does, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub before: Option<TagWrite>,
    pub call: Call,
    pub after: Option<TagWrite>,
    /// Written when the call fails: the record of the failure (its count, its back-off) that
    /// the next run plans with, so a refused call is not simply retried every run.
    pub on_failure: Option<TagWrite>,
}

impl Effect {
    pub fn call(call: impl Into<Call>) -> Self {
        Self { before: None, call: call.into(), after: None, on_failure: None }
    }

    pub fn tags(write: TagWrite) -> Self {
        Self { before: None, call: Call::None, after: Some(write), on_failure: None }
    }

    /// Mutating API calls this effect makes (publishing is not one).
    pub fn mutating_calls(&self) -> usize {
        self.before.as_ref().map_or(0, TagWrite::calls)
            + self.call.mutating_calls()
            + self.after.as_ref().map_or(0, TagWrite::calls)
    }

    /// One effect for a batch of capacity changes to one group: their records in one tag
    /// write, their locations in one UpdateStreamGroup.
    pub(super) fn merge(effects: &[&Effect]) -> Effect {
        let mut merged = effects[0].clone();
        for effect in &effects[1..] {
            if let (Some(into), Some(from)) = (merged.before.as_mut(), effect.before.as_ref()) {
                into.set.extend(from.set.clone());
            }
            if let (
                Call::Write(Write::UpdateCapacity { locations, .. }),
                Call::Write(Write::UpdateCapacity { locations: more, .. }),
            ) = (&mut merged.call, &effect.call)
            {
                locations.extend(more.iter().cloned());
            }
        }
        merged
    }
}
