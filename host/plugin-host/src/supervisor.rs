//! The manager as the per-kind adapters see it ([`Supervisor`]): the engine their calls run
//! in, the active searchers, and where every call's outcome is counted ([`account`]); a
//! streak of failures rolls the kind back. The adapters hold it as a trait object, so they
//! never depend on the manager that hands them out.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{
    config::PluginsConfig,
    engine::PluginEngine,
    error::{CallFailure, FailureReason, PluginCallError},
    plugin::LoadedPlugin,
};

/// What a per-kind adapter needs from the plugin manager.
pub(crate) trait Supervisor: Send + Sync {
    /// The engine every call runs in.
    fn engine(&self) -> &PluginEngine;

    /// The configured limits.
    fn config(&self) -> &PluginsConfig;

    /// The active searchers now, in activation order.
    fn active_searchers(&self) -> Vec<Arc<LoadedPlugin>>;

    /// Counts a failure that made the caller fall back, logs it and, at the configured
    /// streak of failures, rolls the kind back (a searcher: out of the active set).
    fn failed(&self, plugin: &Arc<LoadedPlugin>, failure: &CallFailure, elapsed: Duration);
}

/// Counts a call's outcome (see [`Supervisor::failed`]) and names the plugin in a failure.
/// `count_plugin_errors: false` treats a plugin-error as a correct refusal.
pub(crate) fn account<T>(
    supervisor: &dyn Supervisor,
    plugin: &Arc<LoadedPlugin>,
    result: Result<T, CallFailure>,
    start: Instant,
    count_plugin_errors: bool,
) -> Result<T, PluginCallError> {
    let elapsed = start.elapsed();
    match result {
        Ok(value) => {
            plugin.health.success(elapsed);
            Ok(value)
        }
        Err(failure) => {
            if count_plugin_errors || failure.reason != FailureReason::PluginError {
                supervisor.failed(plugin, &failure, elapsed);
            }
            Err(PluginCallError {
                plugin: plugin.label(),
                failure,
            })
        }
    }
}
