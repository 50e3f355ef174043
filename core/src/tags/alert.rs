//! The scanner's alert memory: `<prefix><kind>[:<location>]` = `<severity>|<epoch seconds>`
//! (for example `watchdog:alert:idle_capacity:us-west-2 = warning|1763726400`), with
//! `|<epoch seconds>` appended once the finding was seen cleared and a digest said so.

use crate::findings::Severity;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// The default prefix of the alert-memory tags (ALERT_TAG_PREFIX).
pub const DEFAULT_PREFIX: &str = "watchdog:alert:";

/// What was last sent for one finding, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertRecord {
    pub severity: Severity,
    pub sent_at: DateTime<Utc>,
    /// When a scan first saw the finding cleared and announced it resolved (digests only), so
    /// that it is announced once, not on every scan until its memory is forgotten.
    pub cleared_at: Option<DateTime<Utc>>,
}

impl AlertRecord {
    pub fn sent(severity: Severity, sent_at: DateTime<Utc>) -> Self {
        Self { severity, sent_at, cleared_at: None }
    }

    pub fn encode(&self) -> String {
        match self.cleared_at {
            None => format!("{}|{}", self.severity, self.sent_at.timestamp()),
            Some(cleared) => format!("{}|{}|{}", self.severity, self.sent_at.timestamp(), cleared.timestamp()),
        }
    }

    pub fn decode(value: &str) -> Option<Self> {
        let mut parts = value.split('|');
        let severity = Severity::parse(parts.next()?)?;
        let epoch = |part: &str| DateTime::from_timestamp(part.parse().ok()?, 0);
        let sent_at = epoch(parts.next()?)?;
        let cleared_at = match parts.next() {
            None => None,
            Some(part) => Some(epoch(part)?),
        };
        parts.next().is_none().then_some(Self { severity, sent_at, cleared_at })
    }
}

/// The tag key that remembers the finding with this dedup key.
pub fn key(prefix: &str, dedup_key: &str) -> String {
    format!("{prefix}{dedup_key}")
}

/// The alert memory held in a group's tags, by dedup key. Unreadable values are ignored
/// (the alert is then sent again, which is better than never).
pub fn memory(tags: &BTreeMap<String, String>, prefix: &str) -> BTreeMap<String, AlertRecord> {
    tags.iter()
        .filter_map(|(key, value)| Some((key.strip_prefix(prefix)?.to_owned(), AlertRecord::decode(value)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_ignores_foreign_and_unreadable_tags() {
        let tags = BTreeMap::from([
            ("watchdog:alert:expired".to_owned(), "bogus".to_owned()),
            ("watchdog:alert:rotation_due".to_owned(), "high|1800000000".to_owned()),
            ("owner".to_owned(), "high|1".to_owned()),
        ]);
        let memory = memory(&tags, DEFAULT_PREFIX);
        assert_eq!(memory.len(), 1);
        assert_eq!(memory["rotation_due"].severity, Severity::High);
        assert_eq!(memory["rotation_due"].encode(), "high|1800000000");
    }

    #[test]
    fn a_cleared_mark_round_trips_and_malformed_values_are_refused() {
        let record = AlertRecord::decode("warning|1800000000|1800003600").unwrap();
        assert_eq!(record.cleared_at.map(|t| t.timestamp()), Some(1_800_003_600));
        assert_eq!(record.encode(), "warning|1800000000|1800003600");
        assert_eq!(AlertRecord::decode("warning|1800000000").unwrap().cleared_at, None);
        for bad in ["warning|1800000000|", "warning|1800000000|x", "warning|1|2|3", "warning", "loud|1"] {
            assert_eq!(AlertRecord::decode(bad), None, "{bad}");
        }
    }
}
