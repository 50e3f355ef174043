//! The stage every end-to-end test sets: an emulator loaded with a fleet, LocalStack, a suffix
//! no other test or run shares (tests share one LocalStack), and the environment a function
//! needs to reach both.

use crate::TestEmulator;
use crate::lambda::{LocalAws, local_env};
use gls_emulator::Config;

/// A name no other test or run of the suite uses: `prefix`, the process and the microsecond.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), chrono::Utc::now().timestamp_micros())
}

pub struct Stage {
    pub emu: TestEmulator,
    /// LocalStack, signed as the stage's account.
    pub aws: LocalAws,
    /// Appended to every topic, queue and metric namespace this stage creates.
    pub suffix: String,
    /// The access key the functions sign with: LocalStack takes a 12-digit one as the account.
    access_key_id: String,
}

impl Stage {
    /// `fleet` on an emulator whose clock moves only when the test advances it.
    pub async fn frozen(mut config: Config, fleet: Option<&str>) -> Self {
        config.frozen_clock = true;
        Self::start(config, fleet).await
    }

    pub async fn start(config: Config, fleet: Option<&str>) -> Self {
        Self::signed_as("test", config, fleet).await
    }

    /// As [`start`](Self::start), with LocalStack's resources and the functions' calls in
    /// `account` (a stack deployed in one member account).
    pub async fn signed_as(account: &str, config: Config, fleet: Option<&str>) -> Self {
        let emu = TestEmulator::start(config, fleet).await;
        let aws = LocalAws::connect_as(account).await;
        Self { emu, aws, suffix: unique(""), access_key_id: account.to_owned() }
    }

    /// A topic, named after `name` and this stage, drained by a queue: (topic ARN, queue URL).
    pub async fn topic(&self, name: &str) -> (String, String) {
        self.aws.topic_with_queue(&format!("{name}{}", self.suffix)).await
    }

    /// An event bus, named after `name` and this stage, whose rule sends every event to a
    /// queue: (bus name, queue URL).
    pub async fn bus(&self, name: &str) -> (String, String) {
        self.aws.bus_with_queue(&format!("{name}{}", self.suffix)).await
    }

    /// The metric namespace of this stage's `name`: tests sharing LocalStack never read each
    /// other's metrics (or health history).
    pub fn namespace(&self, name: &str) -> String {
        format!("Watchdog/{name}{}", self.suffix)
    }

    /// A function's environment: the emulator and LocalStack as its endpoints, signed as the
    /// stage's account, the namespace of `name`, then `vars`, each replacing an earlier value
    /// of its variable.
    pub fn env(&self, name: &str, vars: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut env = local_env(&self.emu.url, &self.aws.url);
        let stage = [("AWS_ACCESS_KEY_ID", self.access_key_id.clone()), ("METRIC_NAMESPACE", self.namespace(name))];
        for (variable, value) in stage.into_iter().chain(vars.iter().map(|(k, v)| (*k, v.to_string()))) {
            env.retain(|(known, _)| *known != variable);
            env.push((variable, value));
        }
        env
    }
}
