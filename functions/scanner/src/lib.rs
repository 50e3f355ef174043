//! The scanner: the watchdog's eyes. Observes every GameLift Streams stream group and
//! session, publishes metrics to CloudWatch and findings to SNS, and returns a report.

pub mod alerts;
pub mod config;
pub mod digest;
pub mod evaluate;
pub mod event;
pub mod figures;
pub mod inventory;
pub mod metrics;
pub mod observe;
pub mod organisation;
pub mod scan;

pub use config::Config;
pub use scan::{Report, Scanner};

use lambda_runtime::Diagnostic;
use serde_json::Value;
use std::sync::Arc;
use watchdog_core::organisation::TargetList;
use watchdog_core::ports::Operation;

/// Every GameLift Streams operation the scanner calls; its IAM policy is checked against
/// these, and the in-memory world refuses any other.
pub const OPERATIONS: &[Operation] = &[
    Operation::ListStreamGroups,
    Operation::GetStreamGroup,
    Operation::ListTagsForResource,
    Operation::ListStreamSessions,
    Operation::ListStreamSessionsByAccount,
    Operation::GetStreamSession,
    Operation::TagResource,
    Operation::UntagResource,
];

impl Scanner {
    /// The scanner on AWS (or whatever the standard endpoint variables point at).
    pub async fn connect(config: Config) -> Self {
        let (ports, hub) = watchdog_aws::connect_hub(&config.connection).await;
        Self::new(config, ports).with_hub(hub)
    }
}

/// What the function answers: a scan's report, or the organisation's target list.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Answer {
    Report(Box<Report>),
    Targets(TargetList),
}

impl Scanner {
    /// This scanner pointed at one target of an organisation: that account's region only,
    /// read with its spoke role (assumed first, so a role that cannot be assumed fails the
    /// target by name before any read); metrics and findings still go where this one sends them.
    pub async fn for_target(&self, target: &event::ScanTarget) -> Result<Self, String> {
        let assumed = watchdog_aws::assumed_region(&self.config.connection, &target.role_arn(), &target.region)
            .await
            .map_err(|e| format!("account {} ({}): {e}", target.account, target.region))?;
        let mut config = self.config.clone();
        config.connection.regions = vec![target.region.clone()];
        Ok(Self::new(config, self.ports_with_target(assumed)))
    }
}

impl Scanner {
    /// The organisation's targets (the hub's first state): the listed ones, and every ACTIVE
    /// account of the units in each of REGIONS, each once. A unit that cannot be read is
    /// named in the answer, for the digest, and never stops the others.
    async fn organisation_targets(&self, sources: Value) -> Result<TargetList, Diagnostic> {
        let sources = organisation::parse_sources(sources).map_err(|e| watchdog_aws::lambda::diagnostic(e.into()))?;
        let regions = &self.config.connection.regions;
        let directory = self.hub.as_ref().map(|hub| hub.directory.as_ref());
        Ok(watchdog_core::organisation::list_targets(directory, &sources, regions).await)
    }

    /// The organisation's digest (the hub's last state): every target's result in one message
    /// on DIGEST_TOPIC_ARN, grouped by account and region.
    async fn organisation_digest(&self, event: Value) -> Result<Report, Diagnostic> {
        use watchdog_core::reconcile::RunError;
        let diagnostic = watchdog_aws::lambda::diagnostic;
        let event = organisation::parse(event).map_err(|e| diagnostic(e.into()))?;
        let Some(topic) = self.config.digest_topic_arn.clone() else {
            return Err(Diagnostic {
                error_type: "InvalidConfiguration".into(),
                error_message: "DIGEST_TOPIC_ARN is not set: the organisation's digest has nowhere to go".into(),
            });
        };
        // Where the map wrote its results to S3, a result that cannot be read fails the digest
        // (the org-scan-failed alarm) rather than leave a target out of it.
        let store = self.hub.as_ref().map(|hub| hub.results.as_ref());
        let results = event
            .load(store)
            .await
            .map_err(|message| Diagnostic { error_type: "MapResultsNotRead".into(), error_message: message })?;
        let now = self.now().await.map_err(|e| diagnostic(RunError::Clock(e)))?;
        let (message, mut summary) = organisation::digest(&results, now);
        // The hub's alarm on targets not scanned reads this, whatever becomes of the digest.
        let metrics = self.put_organisation_metrics(&summary, now).await;
        self.notify(&topic, &message)
            .await
            .map_err(|e| diagnostic(RunError::Publish(format!("SNS refused the organisation's digest: {e}"))))?;
        summary.sent = true;
        // Then each owner's own (OWNER_TAG_KEY on the targets' scans), for filter policies.
        for (owner, message) in organisation::owner_digests(&results, now) {
            self.notify(&topic, &message).await.map_err(|e| {
                diagnostic(RunError::Publish(format!("SNS refused the digest of owner {owner:?}: {e}")))
            })?;
            summary.owners.push(owner);
        }
        Ok(Report {
            trigger: "organisation-digest".into(),
            now: now.to_rfc3339(),
            organisation: Some(summary),
            metrics,
            ..Report::default()
        })
    }

    /// `TargetsNotScanned`: how many targets of the run could not be scanned (a role not
    /// assumed, a region not enabled, a failed scan).
    async fn put_organisation_metrics(
        &self,
        summary: &organisation::Summary,
        now: chrono::DateTime<chrono::Utc>,
    ) -> metrics::MetricSummary {
        use watchdog_core::ports::{Datum, Unit};
        let not_scanned = summary.targets_not_scanned() as f64;
        let datums = [Datum { name: "TargetsNotScanned", dimensions: vec![], value: not_scanned, unit: Unit::Count }];
        let result = self.put_metrics(&datums, now).await;
        metrics::MetricSummary {
            namespace: self.config.namespace.clone(),
            datums: datums.len(),
            put_metric_data_calls: 1,
            published: result.is_ok(),
            errors: result.err().into_iter().collect(),
        }
    }
}

/// The Lambda handler: parse the event (errors name the field), then scan (the account's
/// own regions, or one organisation target), list the organisation's targets, or send its
/// digest.
pub async fn handle(scanner: Arc<Scanner>, event: Value) -> Result<Answer, Diagnostic> {
    if let Some(sources) = event.get("organisation_targets") {
        return scanner.organisation_targets(sources.clone()).await.map(Answer::Targets);
    }
    if event.get("organisation_digest").is_some() {
        return scanner.organisation_digest(event).await.map(|r| Answer::Report(Box::new(r)));
    }
    let request = event::parse(event).map_err(|e| watchdog_aws::lambda::diagnostic(e.into()))?;
    let Some(target) = request.target.clone() else {
        let report = scanner.scan(request).await.map_err(watchdog_aws::lambda::diagnostic)?;
        return Ok(Answer::Report(Box::new(report)));
    };
    let scanner = scanner
        .for_target(&target)
        .await
        .map_err(|message| Diagnostic { error_type: "TargetRoleNotAssumed".into(), error_message: message })?;
    let mut report = scanner.scan(request).await.map_err(watchdog_aws::lambda::diagnostic)?;
    report.target = Some(target);
    Ok(Answer::Report(Box::new(report)))
}
