//! Counts every HTTP attempt the AWS SDK makes, by service and operation, and the answers
//! that were throttles or server errors. Attach one `CallStats` to every client of a run:
//! the report and the health metrics read it, and it sees retries the caller never does.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use watchdog_core::ports::OperationStats;

#[derive(Debug, Default, Clone)]
pub struct CallStats(Arc<Mutex<BTreeMap<String, OperationStats>>>);

impl CallStats {
    pub fn snapshot(&self) -> BTreeMap<String, OperationStats> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn update(&self, cfg: &ConfigBag, f: impl FnOnce(&mut OperationStats)) {
        let name = cfg.load::<Metadata>().map_or("unknown", |m| m.name()).to_owned();
        f(self.0.lock().unwrap_or_else(|e| e.into_inner()).entry(name).or_default());
    }
}

impl Intercept for CallStats {
    fn name(&self) -> &'static str {
        "WatchdogCallStats"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.update(cfg, |s| s.attempts += 1);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(response) = context.response() {
            let status = response.status().as_u16();
            if status == 429 {
                self.update(cfg, |s| s.throttled += 1);
            } else if status >= 500 {
                self.update(cfg, |s| s.server_errors += 1);
            }
        }
        Ok(())
    }
}
