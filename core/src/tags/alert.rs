//! The scanner's alert memory: `<prefix><kind>[:<location>]` = `<severity>|<epoch seconds>`
//! (for example `watchdog:alert:idle_capacity:us-west-2 = warning|1763726400`).

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
}

impl AlertRecord {
    pub fn encode(&self) -> String {
        format!("{}|{}", self.severity, self.sent_at.timestamp())
    }

    pub fn decode(value: &str) -> Option<Self> {
        let (severity, epoch) = value.split_once('|')?;
        Some(Self { severity: Severity::parse(severity)?, sent_at: DateTime::from_timestamp(epoch.parse().ok()?, 0)? })
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
}
