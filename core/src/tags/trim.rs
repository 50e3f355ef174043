//! The trimmer's record of one location: the level a studio set (so it can always be put
//! back), the level the trimmer set, when and why. `watchdog:trim:<location>` =
//! `original=10/0;set=4/0;at=1790000000;why=demand` (always-on/target-idle). Capacity that
//! differs from `set` was changed by someone else and becomes the new original.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Prefix of the per-location record tag; the location name follows.
pub const RECORD_PREFIX: &str = "watchdog:trim:";
/// A group's own off-hours window, overriding the deployment's (`none` switches it off).
pub const OFF_HOURS: &str = "watchdog:off-hours";
/// A group's own capacity floor, overriding the deployment's.
pub const FLOOR: &str = "watchdog:trim-floor";
/// A group's own choice (`true`/`false`) whether its target-idle buffer may be trimmed,
/// overriding the deployment's TRIM_TARGET_IDLE.
pub const TRIM_TARGET_IDLE: &str = "watchdog:trim-target-idle";

/// The paid capacity settings of one location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Levels {
    pub always_on: u32,
    pub target_idle: u32,
}

impl Levels {
    pub fn total(self) -> u32 {
        self.always_on + self.target_idle
    }
}

impl fmt::Display for Levels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "always-on {} / target-idle {}", self.always_on, self.target_idle)
    }
}

/// Why capacity changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeReason {
    /// Lowered to the window's peak demand plus headroom.
    Demand,
    /// Raised: in-use near capacity, placement failures or a higher peak.
    DemandReturned,
    /// Lowered to the floor for the off-hours window.
    OffHours,
    /// Restored to the recorded level when the off-hours window ends.
    OnHours,
}

impl ChangeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Demand => "demand",
            Self::DemandReturned => "demand_returned",
            Self::OffHours => "off_hours",
            Self::OnHours => "on_hours",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Demand, Self::DemandReturned, Self::OffHours, Self::OnHours].into_iter().find(|w| w.as_str() == text)
    }
}

/// What the trimmer remembers about one location: the user's level (with the maximum it
/// had, which the trimmer never changes), the level it set, when and why. Tag value:
/// `original=10/0;set=4/0;at=1790000000;why=demand;max=12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub original: Levels,
    pub set: Levels,
    pub changed_at: DateTime<Utc>,
    pub why: ChangeReason,
    /// MaximumCapacity when the original was recorded (absent in records of older versions).
    pub original_maximum: Option<u32>,
}

impl Record {
    pub fn encode(&self) -> String {
        format!(
            "original={}/{};set={}/{};at={};why={};max={}",
            self.original.always_on,
            self.original.target_idle,
            self.set.always_on,
            self.set.target_idle,
            self.changed_at.timestamp(),
            self.why.as_str(),
            self.original_maximum.map(|m| m.to_string()).unwrap_or_default(),
        )
    }

    pub fn decode(text: &str) -> Option<Self> {
        let fields: BTreeMap<&str, &str> = text.split(';').filter_map(|f| f.split_once('=')).collect();
        let levels = |name: &str| -> Option<Levels> {
            let (always_on, target_idle) = fields.get(name)?.split_once('/')?;
            Some(Levels { always_on: always_on.parse().ok()?, target_idle: target_idle.parse().ok()? })
        };
        Some(Self {
            original: levels("original")?,
            set: levels("set")?,
            changed_at: DateTime::from_timestamp(fields.get("at")?.parse().ok()?, 0)?,
            why: ChangeReason::parse(fields.get("why")?)?,
            original_maximum: fields.get("max").and_then(|m| m.parse().ok()),
        })
    }
}

/// The tag key of one location's record.
pub fn record_key(location: &str) -> String {
    format!("{RECORD_PREFIX}{location}")
}
