//! Counts the HTTP requests sent to each service (every attempt, retries included), for `-v`,
//! `--json` and the benchmarks.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
pub struct CallCounter {
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl CallCounter {
    pub fn new() -> Arc<CallCounter> {
        Arc::new(CallCounter::default())
    }

    pub fn interceptor(self: &Arc<Self>, service: &'static str) -> ServiceCalls {
        ServiceCalls {
            service,
            counter: self.clone(),
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .map(|c| c.iter().map(|(k, v)| (k.to_string(), *v)).collect())
            .unwrap_or_default()
    }

    fn add(&self, service: &'static str) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(service).or_default() += 1;
        }
    }
}

/// The interceptor one service's client carries.
#[derive(Debug, Clone)]
pub struct ServiceCalls {
    service: &'static str,
    counter: Arc<CallCounter>,
}

impl Intercept for ServiceCalls {
    fn name(&self) -> &'static str {
        "beanpole-call-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.counter.add(self.service);
        Ok(())
    }
}
