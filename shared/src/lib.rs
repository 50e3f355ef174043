//! The watchdog's domain: plain data about stream groups and sessions, the stream class
//! catalogue and the lifecycle arithmetic, free of AWS SDK types. The one place that knows
//! the SDK's types is [`adapter`], which converts them into this model.

pub mod adapter;
pub mod api_limits;
pub mod call_stats;
pub mod clock;
pub mod env_config;
pub mod event_fields;
pub mod findings;
pub mod gamelift;
pub mod lambda;
pub mod lifecycle;
pub mod model;
pub mod opt_in;
pub mod rules;
pub mod sns;
pub mod stream_class;

pub use clock::{Clock, FixedClock, SystemClock};
pub use lifecycle::Lifecycle;
pub use model::*;
pub use stream_class::{Platform, StreamClass, StreamClassInfo};
