pub mod plan;
pub mod schedule;
