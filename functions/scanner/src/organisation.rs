//! The organisation's two ends around the hub's Distributed Map (org/scan-organisation.asl.json):
//! - first, `{"organisation_targets": {...}}`: the run's (account, region) targets, from the
//!   list and from organisational units (`watchdog_core::organisation`);
//! - last, `{"organisation_digest": ..., ...}`: every target's result (its counts, or why
//!   it could not be scanned; in S3 where the map's ResultWriter put them, `map_results`),
//!   with the units not listed and the accounts skipped, as one
//!   message for people, grouped by account and region, in the chat custom-notification form
//!   the per-scan digest uses (schemas/chatbot-custom-notification.schema.json).

use crate::event::ScanTarget;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use watchdog_core::event_fields::EventError;
use watchdog_core::organisation::{AccountRegion, AccountSkipped, ResultStore, TargetSources, UnitNotListed};
use watchdog_core::ports::Message;

mod map_results;
pub use map_results::WrittenResults;

/// The sources of an `organisation_targets` event; errors name the field.
pub fn parse_sources(sources: Value) -> Result<TargetSources, EventError> {
    watchdog_core::event_fields::deserialize(sources, "organisation_targets")
        .map_err(|e| e.in_event("organisation targets"))
}

/// One target's result, as the state machine's ResultSelector (or its Catch) shaped it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetResult {
    pub target: ScanTarget,
    /// The scan's counts (`stream_groups`, `findings_by_severity`, ...) when it ran.
    pub counts: Option<Value>,
    #[serde(default)]
    pub failed: bool,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// The digest state's payload: the map's results and what the target list could not give.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestEvent {
    pub organisation_digest: MapResults,
    #[serde(default)]
    pub units_not_listed: Vec<UnitNotListed>,
    #[serde(default)]
    pub accounts_skipped: Vec<AccountSkipped>,
    /// The run's targets (the first state's list): one with no result is named, not lost.
    pub listed_targets: Option<Vec<AccountRegion>>,
}

/// The map's results: in the state (a list) or where its ResultWriter wrote them.
#[derive(Debug, Clone)]
pub enum MapResults {
    Inline(Vec<TargetResult>),
    Written(WrittenResults),
}

/// By the value's form, so that an error still names the entry and field (an untagged enum
/// would only say that no form matched).
impl<'de> Deserialize<'de> for MapResults {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Form;
        impl<'de> serde::de::Visitor<'de> for Form {
            type Value = MapResults;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the map's results: a list, or its ResultWriter's output ({\"ResultWriterDetails\": ...})")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<MapResults, A::Error> {
                let mut results = Vec::new();
                while let Some(result) = seq.next_element()? {
                    results.push(result);
                }
                Ok(MapResults::Inline(results))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<MapResults, A::Error> {
                WrittenResults::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(MapResults::Written)
            }
        }
        deserializer.deserialize_any(Form)
    }
}

/// Every target's result, with what the target list could not give.
#[derive(Debug, Clone)]
pub struct DigestRequest {
    pub results: Vec<TargetResult>,
    pub units_not_listed: Vec<UnitNotListed>,
    pub accounts_skipped: Vec<AccountSkipped>,
}

impl DigestEvent {
    /// The results, read from `store` where the map wrote them; a listed target without one
    /// is a target not scanned.
    pub async fn load(self, store: Option<&dyn ResultStore>) -> Result<DigestRequest, String> {
        let mut results = match self.organisation_digest {
            MapResults::Inline(results) => results,
            MapResults::Written(written) => {
                let store = store.ok_or("the map's results are in S3, and this scanner has no S3 client")?;
                map_results::read(store, &written).await?
            }
        };
        let answered: std::collections::BTreeSet<(String, String)> =
            results.iter().map(|r| (r.target.account.clone(), r.target.region.clone())).collect();
        for listed in self.listed_targets.unwrap_or_default() {
            if !answered.contains(&(listed.account.clone(), listed.region.clone())) {
                results.push(TargetResult {
                    // The digest names a target by its account and region; no role was used.
                    target: ScanTarget { account: listed.account, region: listed.region, role_name: String::new() },
                    counts: None,
                    failed: true,
                    error: Some("NoResult".into()),
                    cause: Some("the map recorded no result for this target".into()),
                });
            }
        }
        Ok(DigestRequest { results, units_not_listed: self.units_not_listed, accounts_skipped: self.accounts_skipped })
    }
}

/// What the organisation's digest said, in the function's answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub targets: usize,
    pub not_scanned: Vec<String>,
    /// Units whose accounts could not be listed: each may hide targets nobody scanned.
    pub units_not_listed: Vec<String>,
    /// Accounts found in a unit and not scanned because they are not ACTIVE.
    pub accounts_skipped: Vec<String>,
    pub findings: u64,
    pub sent: bool,
    /// The owners whose own digest was sent too.
    pub owners: Vec<String>,
}

impl Summary {
    /// The `TargetsNotScanned` figure: the targets that failed, and each unit not listed
    /// (it hides at least one target). Accounts that are not ACTIVE are expected, not counted.
    pub fn targets_not_scanned(&self) -> usize {
        self.not_scanned.len() + self.units_not_listed.len()
    }
}

/// An `organisation_digest` event; errors name the entry.
pub fn parse(event: Value) -> Result<DigestEvent, EventError> {
    watchdog_core::event_fields::deserialize(event, "").map_err(|e| e.in_event("organisation digest"))
}

/// Severity to count, from a counts object's `findings_by_severity` or an owner's entry.
fn severities(by_severity: &Value) -> BTreeMap<String, u64> {
    by_severity
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect())
        .unwrap_or_default()
}

/// "3 finding(s) (1 critical, 2 warning)", and the total.
fn findings_line(findings: &BTreeMap<String, u64>) -> (String, u64) {
    let total: u64 = findings.values().sum();
    let by_severity: Vec<String> = ["critical", "high", "warning", "info"]
        .iter()
        .filter_map(|s| findings.get(*s).filter(|n| **n > 0).map(|n| format!("{n} {s}")))
        .collect();
    let detail = if by_severity.is_empty() { String::new() } else { format!(" ({})", by_severity.join(", ")) };
    (format!("{total} finding(s){detail}"), total)
}

/// The digest: the units not listed and the accounts skipped first, then one line per target
/// under its account, the ones not scanned first.
pub fn digest(request: &DigestRequest, at: DateTime<Utc>) -> (Message, Summary) {
    let results = &request.results;
    let mut by_account: BTreeMap<&str, Vec<&TargetResult>> = BTreeMap::new();
    for result in results {
        by_account.entry(result.target.account.as_str()).or_default().push(result);
    }
    let mut summary = Summary { targets: results.len(), ..Summary::default() };
    let mut lines = Vec::new();
    for unit in &request.units_not_listed {
        let why: String = unit.why.chars().take(300).collect();
        lines.push(format!("• ❌ unit `{}` not listed, its accounts not scanned: {why}", unit.unit));
        summary.units_not_listed.push(unit.unit.clone());
    }
    for skipped in &request.accounts_skipped {
        lines
            .push(format!("• `{}` in `{}` not scanned: its state is {}", skipped.account, skipped.unit, skipped.state));
        summary.accounts_skipped.push(skipped.account.clone());
    }
    for (account, mut targets) in by_account {
        targets.sort_by_key(|r| (!r.failed, r.target.region.clone()));
        lines.push(format!("• `{account}`"));
        for result in targets {
            let region = &result.target.region;
            let Some(counts) = result.counts.as_ref().filter(|_| !result.failed) else {
                let why = result.cause.as_deref().or(result.error.as_deref()).unwrap_or("no result");
                let why: String = why.chars().take(300).collect();
                lines.push(format!("    ◦ {region}: ❌ not scanned: {why}"));
                summary.not_scanned.push(format!("{account}/{region}"));
                continue;
            };
            let (findings, total) = findings_line(&severities(&counts["findings_by_severity"]));
            summary.findings += total;
            let groups = counts["stream_groups"].as_u64().unwrap_or(0);
            lines.push(format!("    ◦ {region}: {groups} stream group(s), {findings}"));
        }
    }
    let headline = format!(
        "organisation, {} target(s), {} not scanned, {} finding(s)",
        summary.targets,
        summary.targets_not_scanned(),
        summary.findings
    );
    let context = json!({
        "targets": summary.targets.to_string(),
        "not_scanned": summary.targets_not_scanned().to_string(),
    });
    let message =
        chat_message(&headline, &lines, context, format!("gls-watchdog-organisation-{}", at.timestamp()), None);
    (message, summary)
}

/// One digest per owner (the scans' `findings_by_owner`, with OWNER_TAG_KEY): that owner's
/// findings by account and region, with the SNS message attribute `owner`, so that a
/// subscription's filter policy (`{"owner": ["racing"]}`) receives only its own. The
/// organisation's digest has no `owner` attribute (`{"owner": [{"exists": false}]}` selects it).
pub fn owner_digests(request: &DigestRequest, at: DateTime<Utc>) -> Vec<(String, Message)> {
    /// One target's findings for an owner: account, region, count by severity.
    type OwnerTarget<'a> = (&'a str, &'a str, BTreeMap<String, u64>);
    let mut by_owner: BTreeMap<String, Vec<OwnerTarget>> = BTreeMap::new();
    for result in request.results.iter().filter(|r| !r.failed) {
        let owners = result.counts.as_ref().and_then(|c| c["findings_by_owner"].as_object());
        for (owner, by_severity) in owners.into_iter().flatten() {
            let target = &result.target;
            by_owner.entry(owner.clone()).or_default().push((&target.account, &target.region, severities(by_severity)));
        }
    }
    by_owner
        .into_iter()
        .map(|(owner, mut targets)| {
            targets.sort();
            let mut total = 0;
            let lines: Vec<String> = targets
                .iter()
                .map(|(account, region, findings)| {
                    let (line, count) = findings_line(findings);
                    total += count;
                    format!("• `{account}` {region}: {line}")
                })
                .collect();
            let headline = format!("owner {owner}, {total} finding(s) in {} target(s)", targets.len());
            let context = json!({ "owner": owner, "targets": targets.len().to_string() });
            let id = format!("gls-watchdog-organisation-{}-{}", at.timestamp(), owner_id(&owner));
            let message = chat_message(&headline, &lines, context, id, Some(&owner));
            (owner, message)
        })
        .collect()
}

/// An owner's tag value as a notification id part (letters, digits and dashes).
fn owner_id(owner: &str) -> String {
    owner.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

/// A digest in the chat custom-notification form (schemas/chatbot-custom-notification.schema.json),
/// with a plain-text e-mail form.
fn chat_message(headline: &str, lines: &[String], context: Value, id: String, owner: Option<&str>) -> Message {
    let chat = json!({
        "version": "1.0",
        "source": "custom",
        "id": id,
        "content": {
            "textType": "client-markdown",
            "title": format!("GameLift Streams watchdog: {headline}"),
            "description": lines.join("\n"),
        },
        "metadata": {
            "summary": format!("GameLift Streams watchdog: {headline}"),
            "eventType": "GameLiftStreamsWatchdogOrganisationDigest",
            "additionalContext": context,
        },
    })
    .to_string();
    let text = format!("GameLift Streams watchdog: {headline}\n\n{}", lines.join("\n"));
    let body = json!({ "default": chat, "email": text, "email-json": chat, "sqs": chat, "lambda": chat, "http": chat, "https": chat });
    let mut attributes = BTreeMap::from([("type".to_owned(), "organisation_digest".to_owned())]);
    if let Some(owner) = owner {
        attributes.insert("owner".to_owned(), owner.to_owned());
    }
    Message {
        subject: format!("[GameLift Streams watchdog] {headline}"),
        body: body.to_string(),
        per_protocol: true,
        attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest request of an event whose results are in it.
    fn loaded(event: Value) -> DigestRequest {
        let event = parse(event).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(event.load(None)).unwrap()
    }

    #[test]
    fn a_listed_target_without_a_result_is_named_not_scanned() {
        let request = loaded(json!({
            "organisation_digest": [{ "target": { "account": "222233334444", "region": "us-west-2", "role_name": "r" },
              "counts": { "stream_groups": 1, "findings_by_severity": {} } }],
            "listed_targets": [
                { "account": "222233334444", "region": "us-west-2" },
                { "account": "333344445555", "region": "us-west-2" }
            ]
        }));
        let (message, summary) = digest(&request, DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        assert_eq!(summary.targets, 2);
        assert_eq!(summary.not_scanned, ["333344445555/us-west-2"]);
        assert!(message.body.contains("the map recorded no result for this target"), "{}", message.body);
    }

    #[test]
    fn targets_are_grouped_by_account_and_the_ones_not_scanned_named() {
        let request = loaded(json!({ "organisation_digest": [
            { "target": { "account": "222233334444", "region": "us-west-2", "role_name": "r" },
              "counts": { "stream_groups": 3, "findings_by_severity": { "critical": 1, "warning": 2 } } },
            { "target": { "account": "333344445555", "region": "eu-central-1", "role_name": "r" },
              "failed": true, "error": "Lambda.Unknown", "cause": "AccessDeniedException: not authorized" },
        ]}));
        let (message, summary) = digest(&request, DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        assert_eq!(summary.findings, 3);
        assert_eq!(summary.not_scanned, ["333344445555/eu-central-1"]);
        assert_eq!(summary.targets_not_scanned(), 1);
        let body: Value = serde_json::from_str(&message.body).unwrap();
        let chat: Value = serde_json::from_str(body["default"].as_str().unwrap()).unwrap();
        let description = chat["content"]["description"].as_str().unwrap();
        assert!(
            description.contains("us-west-2: 3 stream group(s), 3 finding(s) (1 critical, 2 warning)"),
            "{description}"
        );
        assert!(description.contains("eu-central-1: ❌ not scanned: AccessDeniedException"), "{description}");
        let bad = parse(json!({ "organisation_digest": [{ "target": { "account": "1" } }] })).unwrap_err();
        assert!(bad.field.starts_with("organisation_digest") && bad.field.contains("[0].target"), "{bad}");
    }

    #[test]
    fn the_organisation_fixtures_in_events_parse() {
        use watchdog_core::testkit::event_fixture as fixture;
        let sources =
            parse_sources(fixture("scanner-organisation-targets.json")["organisation_targets"].clone()).unwrap();
        assert_eq!(sources.organizational_units, ["ou-ab12-games001"]);
        assert!(watchdog_core::organisation::is_unit_id(&sources.organizational_units[0]));
        let request = loaded(fixture("scanner-organisation-digest.json"));
        let (_, summary) = digest(&request, DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        assert_eq!((summary.targets, summary.targets_not_scanned(), summary.findings), (2, 2, 3));
        assert_eq!(owner_digests(&request, DateTime::from_timestamp(1_800_000_000, 0).unwrap()).len(), 1);
    }

    #[test]
    fn each_owner_gets_a_digest_of_its_own_findings_with_the_owner_attribute() {
        let request = loaded(json!({ "organisation_digest": [
            { "target": { "account": "222233334444", "region": "us-west-2", "role_name": "r" },
              "counts": { "stream_groups": 3, "findings_by_severity": { "critical": 1, "warning": 2 },
                          "findings_by_owner": { "racing": { "critical": 1 }, "tactics": { "warning": 2 } } } },
            { "target": { "account": "333344445555", "region": "eu-central-1", "role_name": "r" },
              "counts": { "stream_groups": 1, "findings_by_severity": { "warning": 1 },
                          "findings_by_owner": { "racing": { "warning": 1 } } } },
        ]}));
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (whole, _) = digest(&request, at);
        assert!(!whole.attributes.contains_key("owner"), "the organisation's digest is nobody's");
        let owners = owner_digests(&request, at);
        let names: Vec<&str> = owners.iter().map(|(owner, _)| owner.as_str()).collect();
        assert_eq!(names, ["racing", "tactics"]);
        let (_, racing) = &owners[0];
        assert_eq!(racing.attributes.get("owner").map(String::as_str), Some("racing"));
        let body: Value = serde_json::from_str(&racing.body).unwrap();
        let text = body["email"].as_str().unwrap();
        assert!(text.contains("owner racing, 2 finding(s) in 2 target(s)"), "{text}");
        assert!(text.contains("`222233334444` us-west-2: 1 finding(s) (1 critical)"), "{text}");
        assert!(text.contains("`333344445555` eu-central-1: 1 finding(s) (1 warning)"), "{text}");
        let (_, tactics) = &owners[1];
        assert!(!tactics.body.contains("333344445555"), "only its own targets");
        // Scans without OWNER_TAG_KEY name no owner: no owner digest.
        let plain = loaded(
            json!({ "organisation_digest": [{ "target": { "account": "222233334444", "region": "us-west-2", "role_name": "r" },
            "counts": { "stream_groups": 1, "findings_by_severity": {}, "findings_by_owner": {} } }] }),
        );
        assert!(owner_digests(&plain, at).is_empty());
    }

    #[test]
    fn a_unit_not_listed_counts_as_not_scanned_and_an_account_not_active_is_named_without_counting() {
        let request = loaded(json!({
            "organisation_digest": [],
            "units_not_listed": [{ "unit": "ou-ab12-games001", "why": "AccessDeniedException: not the management account" }],
            "accounts_skipped": [{ "account": "999988887777", "unit": "ou-ab12-live0001", "state": "SUSPENDED" }],
        }));
        let (message, summary) = digest(&request, DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        assert_eq!(summary.targets_not_scanned(), 1, "{summary:?}");
        assert_eq!(summary.accounts_skipped, ["999988887777"]);
        assert!(message.subject.contains("1 not scanned"), "{}", message.subject);
        let body: Value = serde_json::from_str(&message.body).unwrap();
        let text = body["email"].as_str().unwrap();
        assert!(
            text.contains("unit `ou-ab12-games001` not listed") && text.contains("AccessDeniedException"),
            "{text}"
        );
        assert!(text.contains("`999988887777` in `ou-ab12-live0001` not scanned: its state is SUSPENDED"), "{text}");
        let unknown = parse(json!({ "organisation_digest": [], "units": [] })).unwrap_err();
        assert!(unknown.problem.contains("`units`"), "{unknown}");
    }
}
