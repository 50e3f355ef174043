//! Codecs for every tag the watchdog writes. All its state lives in tags on the stream groups
//! (no database): the scanner's alert memory, the recycler's recreation and repair state, and
//! the trimmer's record of the capacity a studio set. Each module owns its keys and values.

pub mod alert;
pub mod recycle;
pub mod trim;

pub use crate::ports::Tags;

/// The most tags one resource holds (AWS tagging reference; the model's TagResource takes 50):
/// every function that adds tags to a group checks the room first.
pub const MAX_TAGS_PER_RESOURCE: usize = 50;
