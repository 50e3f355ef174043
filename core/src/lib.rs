//! The watchdog's pure core: plain data about stream groups and sessions, the stream class
//! catalogue, lifecycle arithmetic, the finding rules, codecs for every tag the watchdog
//! writes, the ports (traits) through which the functions reach AWS, and the reconciler
//! runner the remediation functions share. No AWS SDK type appears here: `watchdog-aws`
//! implements the ports, `testkit` (a feature) implements them in memory.

pub mod api_limits;
pub mod connection;
pub mod env_config;
pub mod event_fields;
pub mod findings;
pub mod lifecycle;
pub mod model;
pub mod operations;
pub mod opt_in;
pub mod organisation;
pub mod ports;
pub mod reconcile;
pub mod rules;
pub mod stream_class;
pub mod tags;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use lifecycle::Lifecycle;
pub use model::*;
pub use stream_class::{Platform, StreamClass, StreamClassInfo};
