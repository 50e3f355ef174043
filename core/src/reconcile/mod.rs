//! The one reconciler runner the remediation functions share. A run observes each region and
//! plans (the function's part: I/O in, a pure plan out), then executes the plan within the
//! per-run limit, in dry run only reports it, defers what cannot run, announces every step,
//! and returns one report.
//!
//! By job: [`effect`] (what a step does), [`plan`] (steps, notes, blocked work), [`settings`]
//! (dry run, limit, topic), [`reconciler`] (what a function supplies), [`observe`] (reads every
//! reconciler shares), `execute` (the executor), [`run`] (a run in its phases) and [`report`]
//! (what a run returns, its health metrics and error types).

pub mod effect;
mod execute;
pub mod observe;
pub mod plan;
pub mod reconciler;
pub mod report;
pub mod run;
pub mod settings;
#[cfg(test)]
mod tests;

pub use effect::{CREATED_GROUP_ID, Call, Effect, FAILURE_KIND, TagWrite};
pub use observe::{OBSERVING, read_concurrently, tagged_groups};
pub use plan::{Blocked, Note, Plan, Step, StepKind};
pub use reconciler::{Deployable, Reconciler, RegionRun, operations};
pub use report::{Executed, Report, RunError, health};
pub use run::{Deployed, run};
pub use settings::{Limit, RunSettings, effective_dry_run};
