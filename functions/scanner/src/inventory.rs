//! What a region's scan saw and found: the record the metrics, the figures and the report
//! are made from.

use crate::observe::{SessionListing, Unread};
use watchdog_core::findings::Finding;
use watchdog_core::{StreamGroup, StreamSession};

/// What one region's scan saw and found.
#[derive(Debug, Default)]
pub struct RegionInventory {
    pub region: String,
    /// Every group read; a group whose GetStreamGroup failed keeps its summary (no locations).
    pub groups: Vec<StreamGroup>,
    /// Ids of groups read in full (with locations and capacity).
    pub described: Vec<String>,
    /// Sessions that hold or wait for capacity, in the scanned groups.
    pub sessions: Vec<StreamSession>,
    pub session_listing: Option<SessionListing>,
    pub findings: Vec<Finding>,
    pub unread: Vec<Unread>,
    /// Groups with alerts held back because their memory would not fit (50 tags).
    pub memory_full: Vec<String>,
    /// Each group's owner (OWNER_TAG_KEY), for the groups with findings that have the tag.
    pub owners: std::collections::BTreeMap<String, String>,
}

impl RegionInventory {
    /// Whether the region's groups were listed: a region that could not be listed is unknown,
    /// not empty (its zero counts would tell an alarm that nothing is wrong there).
    pub fn listed(&self) -> bool {
        !self.unread.iter().any(Unread::is_region_unlisted)
    }
}
