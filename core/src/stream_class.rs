//! The stream class catalogue. Tenancy (concurrent sessions per compute unit) comes from
//! the service model's documentation; capacity values must be whole multiples of it.
//! Classes newer than this catalogue are kept by name as [`StreamClass::Unknown`], so a
//! scan never fails because AWS shipped new hardware.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Linux and Proton runtimes.
    Linux,
    Windows,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamClassInfo {
    pub name: &'static str,
    pub tenancy: u32,
    pub platform: Platform,
}

const fn class(name: &'static str, tenancy: u32, platform: Platform) -> StreamClassInfo {
    StreamClassInfo { name, tenancy, platform }
}

use Platform::{Linux, Windows};

/// Every class the service model (2025-12) documents.
pub const CATALOGUE: &[StreamClassInfo] = &[
    class("gen4n_high", 2, Linux),
    class("gen4n_ultra", 1, Linux),
    class("gen4n_win2022", 1, Windows),
    class("gen5n_high", 2, Linux),
    class("gen5n_ultra", 1, Linux),
    class("gen5n_win2022", 1, Windows),
    class("gen6n_small", 12, Linux),
    class("gen6n_medium", 4, Linux),
    class("gen6n_high", 2, Linux),
    class("gen6n_ultra", 1, Linux),
    class("gen6n_ultra_win2022", 1, Windows),
    class("gen6n_pro", 1, Linux),
    class("gen6n_pro_win2022", 1, Windows),
    class("gen6n_small_win2022", 1, Windows),
    class("gen6n_medium_win2022", 1, Windows),
    class("gen6e_pro", 1, Linux),
    class("gen6e_pro_win2022", 1, Windows),
];

/// A stream class as the service names it; unknown names survive round trips unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum StreamClass {
    Known(&'static StreamClassInfo),
    Unknown(String),
}

impl StreamClass {
    pub fn parse(name: &str) -> Self {
        CATALOGUE.iter().find(|info| info.name == name).map_or_else(|| Self::Unknown(name.to_owned()), Self::Known)
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Known(info) => info.name,
            Self::Unknown(name) => name,
        }
    }

    /// Concurrent sessions per compute unit, or `None` for a class this catalogue does not know.
    pub fn tenancy(&self) -> Option<u32> {
        match self {
            Self::Known(info) => Some(info.tenancy),
            Self::Unknown(_) => None,
        }
    }

    pub fn platform(&self) -> Option<Platform> {
        match self {
            Self::Known(info) => Some(info.platform),
            Self::Unknown(name) if name.contains("win") => Some(Platform::Windows),
            Self::Unknown(_) => None,
        }
    }

    /// Whether `capacity` is a whole multiple of the tenancy; unknown classes accept anything,
    /// because refusing would be a guess about hardware this code has never seen.
    pub fn is_valid_capacity(&self, capacity: u32) -> bool {
        self.tenancy().is_none_or(|t| capacity.is_multiple_of(t))
    }

    /// The family GPU quotas are kept for: `gen5n_high` -> `gen5n` (AWS General Reference,
    /// "Amazon GameLift Streams endpoints and quotas": "Gen4n GPUs, <location>", ...).
    pub fn family(&self) -> &str {
        let name = self.name();
        name.split('_').next().unwrap_or(name)
    }

    /// The GPUs (compute units) `capacity` sessions occupy: the quota's unit ("Some stream
    /// classes support running multiple applications per GPU, such as Gen4n_High"). One per
    /// session for a class of unknown tenancy, the most it could be.
    pub fn gpus(&self, capacity: u32) -> u32 {
        capacity.div_ceil(self.tenancy().unwrap_or(1))
    }

    /// The smallest valid capacity at or above `capacity`.
    pub fn round_up_capacity(&self, capacity: u32) -> u32 {
        match self.tenancy() {
            Some(t) => capacity.div_ceil(t) * t,
            None => capacity,
        }
    }
}

impl From<String> for StreamClass {
    fn from(name: String) -> Self {
        Self::parse(&name)
    }
}

impl From<StreamClass> for String {
    fn from(class: StreamClass) -> Self {
        class.name().to_owned()
    }
}

impl fmt::Display for StreamClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_tenancies_match_the_model_documentation() {
        assert_eq!(StreamClass::parse("gen6n_small").tenancy(), Some(12));
        assert_eq!(StreamClass::parse("gen6n_medium").tenancy(), Some(4));
        for name in ["gen4n_high", "gen5n_high", "gen6n_high"] {
            assert_eq!(StreamClass::parse(name).tenancy(), Some(2), "{name}");
        }
        assert_eq!(StreamClass::parse("gen6e_pro_win2022").tenancy(), Some(1));
        assert_eq!(CATALOGUE.len(), 17);
    }

    #[test]
    fn unknown_class_is_kept_by_name_without_panicking() {
        let class = StreamClass::parse("gen7x_mega");
        assert_eq!(class, StreamClass::Unknown("gen7x_mega".into()));
        assert_eq!(class.name(), "gen7x_mega");
        assert_eq!(class.tenancy(), None);
        assert!(class.is_valid_capacity(3));
        assert_eq!(class.round_up_capacity(3), 3);
    }

    #[test]
    fn capacity_must_be_a_multiple_of_tenancy() {
        let small = StreamClass::parse("gen6n_small");
        assert!(small.is_valid_capacity(0));
        assert!(small.is_valid_capacity(24));
        assert!(!small.is_valid_capacity(10));
        assert_eq!(small.round_up_capacity(10), 12);
        assert_eq!(small.round_up_capacity(13), 24);
    }
}
