//! Alerts on SNS without an alert storm. The memory of what was sent lives on each stream group
//! itself, in tags the watchdog owns (see `watchdog_core::tags::alert`): no database. A finding
//! is sent when it is new, when its severity rose, or when the re-send interval has passed since
//! it was last sent; its memory is written only once SNS accepted it.
//!
//! By job: [`policy`] (what is due, pure), [`message`] (what a message says) and [`delivery`]
//! (SNS batches and memory writes).

pub mod delivery;
pub mod message;
pub mod policy;
#[cfg(test)]
mod tests;

pub use delivery::{Delivered, GroupMemory, MemoryWrite, PerFinding, deliver};
pub use message::{human_text, message, subject};
pub use policy::{
    AlertPolicy, AlertReason, AlertTarget, GroupAlerts, Resolved, expiry_window_due, first_scan_of_interval, plan,
    plan_without_memory, should_send,
};
