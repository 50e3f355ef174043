//! The emulator and the watchdog each keep their own copy of the service's facts: the emulator
//! in `gls_emulator::facts` (with the sentence of the model, a seed or the developer guide each
//! rests on), the watchdog in `watchdog_core`. Neither imports the other, so a wrong belief in
//! the watchdog cannot make its own tests agree with it. This test is where the two meet: a
//! disagreement fails here and is settled against the source, not hidden.

use gls_emulator::facts::{self, LimitSource};
use watchdog_core::api_limits::documented_limit;
use watchdog_core::lifecycle::{ASSOCIATION_CUTOFF, DEFAULT_LIFETIME};
use watchdog_core::rules::sessions::{DEFAULT_CONNECTION_TIMEOUT, DEFAULT_SESSION_LENGTH, PLACEMENT_TIMEOUT_LINUX};
use watchdog_core::{StreamClass, stream_class::CATALOGUE};

#[test]
fn tenancy_of_every_stream_class() {
    for (class, tenancy) in facts::TENANCY {
        assert_eq!(StreamClass::parse(class).tenancy(), Some(*tenancy), "{class}");
    }
    let emulator: Vec<&str> = facts::TENANCY.iter().map(|(c, _)| *c).collect();
    let watchdog: Vec<&str> = CATALOGUE.iter().map(|c| c.name).collect();
    assert_eq!(watchdog, emulator, "both know the same classes");
}

#[test]
fn lifecycle_days() {
    assert_eq!(ASSOCIATION_CUTOFF, facts::association_cutoff());
    assert_eq!(DEFAULT_LIFETIME, facts::lifetime());
}

#[test]
fn rate_limits_of_every_documented_operation() {
    for spec in gls_emulator::operations::OPERATIONS {
        let (operation, rate) = (spec.name, spec.rate_limit);
        match spec.rate_source {
            LimitSource::DeveloperGuide => assert_eq!(documented_limit(operation), Some(rate), "{operation}"),
            // The emulator has to throttle somewhere; the watchdog does not invent a figure.
            LimitSource::Assumed => assert_eq!(documented_limit(operation), None, "{operation}"),
        }
    }
}

#[test]
fn session_timeouts() {
    assert_eq!(DEFAULT_CONNECTION_TIMEOUT.num_seconds(), facts::DEFAULT_CONNECTION_TIMEOUT_SECONDS);
    assert_eq!(DEFAULT_SESSION_LENGTH.num_seconds(), facts::DEFAULT_SESSION_LENGTH_SECONDS);
    // The watchdog cannot tell which capacity a waiting Linux session gets: it must wait at
    // least as long as the longer of the two documented placement timeouts.
    assert_eq!(
        PLACEMENT_TIMEOUT_LINUX,
        facts::PLACEMENT_TIMEOUT_ALWAYS_ON.max(facts::PLACEMENT_TIMEOUT_ON_DEMAND_LINUX)
    );
}
