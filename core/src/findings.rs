//! Findings: what the watchdog tells people and programs. Kind names are an interface that
//! SNS subscriptions filter on; never rename one.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    RotationDue,
    AssociationCutoffSoon,
    AssociationCutoffPassed,
    ExpirySoon,
    Expired,
    ActiveWithErrors,
    GroupError,
    IdleCapacity,
    StaleSession,
}

impl FindingKind {
    pub const ALL: &[FindingKind] = &[
        Self::RotationDue,
        Self::AssociationCutoffSoon,
        Self::AssociationCutoffPassed,
        Self::ExpirySoon,
        Self::Expired,
        Self::ActiveWithErrors,
        Self::GroupError,
        Self::IdleCapacity,
        Self::StaleSession,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RotationDue => "rotation_due",
            Self::AssociationCutoffSoon => "association_cutoff_soon",
            Self::AssociationCutoffPassed => "association_cutoff_passed",
            Self::ExpirySoon => "expiry_soon",
            Self::Expired => "expired",
            Self::ActiveWithErrors => "active_with_errors",
            Self::GroupError => "group_error",
            Self::IdleCapacity => "idle_capacity",
            Self::StaleSession => "stale_session",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Info, Self::Warning, Self::High, Self::Critical].into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing the watchdog found about one stream group (and location, where it applies).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub stream_group_id: String,
    pub stream_group_arn: String,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    /// A sentence for people.
    pub message: String,
    pub recommended_action: String,
    /// Figures behind the finding, for programs (days left, failed locations, sessions...).
    #[serde(default)]
    pub details: serde_json::Value,
}

impl Finding {
    /// What makes two findings "the same" for alert de-duplication.
    pub fn dedup_key(&self) -> String {
        match &self.location {
            Some(location) => format!("{}:{location}", self.kind),
            None => self.kind.to_string(),
        }
    }

    /// The kind and location a [`Finding::dedup_key`] was made of.
    pub fn split_dedup_key(key: &str) -> (&str, Option<&str>) {
        match key.split_once(':') {
            Some((kind, location)) => (kind, Some(location)),
            None => (key, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_the_published_interface() {
        let names: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "rotation_due",
                "association_cutoff_soon",
                "association_cutoff_passed",
                "expiry_soon",
                "expired",
                "active_with_errors",
                "group_error",
                "idle_capacity",
                "stale_session"
            ]
        );
        for &kind in FindingKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(FindingKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn severities_are_ordered() {
        assert!(
            Severity::Info < Severity::Warning
                && Severity::Warning < Severity::High
                && Severity::High < Severity::Critical
        );
        assert_eq!(Severity::parse("high"), Some(Severity::High));
    }
}
