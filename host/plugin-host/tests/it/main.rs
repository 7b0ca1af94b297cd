//! Integration tests against real components (the fixtures and the shipped plugins built
//! by build.rs) in a real engine. No assertion depends on wall-clock timing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;
mod hostile;
mod lifecycle;
mod load;
mod searchers;
mod shadow;
mod slots;

use std::sync::Arc;

use ordo_hooks::{OrderingError, OrderingPolicy};
use ordo_plugin_host::{
    FailureReason, PluginInfo, PluginKind, PluginManager, PluginsConfig, testing,
};
use ordo_primitives::Candidate;

pub fn manager() -> Arc<PluginManager> {
    PluginManager::open(PluginsConfig::default(), None).unwrap()
}

/// A manager whose ordering fuel is effectively unlimited, so a runaway plugin always
/// meets the deadline first (which one wins under the default limits depends on the
/// machine's speed, and tests must not).
pub fn manager_deadline_only() -> Arc<PluginManager> {
    manager_with_deadline(PluginsConfig::default().ordering.deadline_ms)
}

/// Unlimited fuel and the given ordering deadline: a long deadline makes the outcome of a
/// plugin that does a lot of legitimate work (allocating 200 MiB) independent of how busy
/// the machine is.
pub fn manager_with_deadline(deadline_ms: u64) -> Arc<PluginManager> {
    let mut config = PluginsConfig::default();
    config.ordering.fuel = u64::MAX / 2;
    config.ordering.deadline_ms = deadline_ms;
    PluginManager::open(config, None).unwrap()
}

/// Loads the ordering fixture with a `mode=...` config.
pub fn load_ordering(m: &PluginManager, config: &str) -> PluginInfo {
    m.load(PluginKind::Ordering, &testing::fixture("ordering"), config)
        .unwrap_or_else(|e| panic!("load ordering fixture {config:?}: {e}"))
}

/// One block through the manager's policy source, as the builder does it.
pub fn order_block(
    m: &Arc<PluginManager>,
    number: u64,
    candidates: &[Candidate],
) -> (Arc<dyn OrderingPolicy>, Result<Vec<u32>, OrderingError>) {
    let policy = m.ordering_source().current();
    let answer = policy.order(&testing::context(number), candidates);
    (policy, answer)
}

pub fn health_of(m: &PluginManager, id: &str) -> ordo_plugin_host::HealthReport {
    m.list()
        .loaded
        .into_iter()
        .find(|p| p.info.id == id)
        .unwrap_or_else(|| panic!("{id} not loaded"))
        .health
}

pub fn failures(m: &PluginManager, id: &str, reason: FailureReason) -> u64 {
    health_of(m, id).failures.get(&reason).copied().unwrap_or(0)
}
