//! The plugin kinds, and the one place the host branches on a plugin's kind.
//!
//! Each kind has its file: `ordering`, `searcher`, `compression`, `prover`. A kind's file
//! holds its world's exports, its calls and the host's checks of their answers, its
//! self-test, and the adapter the rest of the node sees (an `ordo-hooks` trait object or a
//! handle). None of them imports another, this module, or the manager (the adapters reach
//! the manager as a [`Supervisor`](crate::supervisor::Supervisor)).
//!
//! What differs per kind is decided here:
//! - what loading checks ([`contract`], [`load`]): the imports allowed, the exports, the
//!   self-test;
//! - how the manager treats a loaded plugin: one active slot with a rollback history, or a
//!   set running side by side ([`has_slot`]); whether it may run as the shadow
//!   ([`can_shadow`]); how its deadline follows the block time ([`block_deadline_cap`]);
//!   what the caller does when a call fails ([`fallback`]).

pub(crate) mod compression;
pub(crate) mod ordering;
pub(crate) mod prover;
pub(crate) mod searcher;

use crate::{
    config::CallLimits,
    engine::PluginEngine,
    error::PluginError,
    info::PluginKind,
    plugin::{KindContract, LoadedPlugin},
};

/// What loading checks of a `kind` plugin.
pub(crate) fn contract(kind: PluginKind) -> &'static KindContract {
    match kind {
        PluginKind::Ordering => &ordering::CONTRACT,
        PluginKind::Searcher => &searcher::CONTRACT,
        PluginKind::Compression => &compression::CONTRACT,
        PluginKind::Prover => &prover::CONTRACT,
    }
}

/// Loads a plugin as `kind`: [`LoadedPlugin::load`] against that kind's [`contract`].
pub(crate) fn load(
    engine: &PluginEngine,
    limits: CallLimits,
    kind: PluginKind,
    bytes: &[u8],
    config: &str,
) -> Result<LoadedPlugin, PluginError> {
    LoadedPlugin::load(engine, limits, kind, bytes, config, contract(kind))
}

/// Whether the kind has one active slot with a rollback history (ordering, compression,
/// prover). Searchers have none: several are active at once, in activation order, and
/// rolling one back takes it out of that set.
pub(crate) fn has_slot(kind: PluginKind) -> bool {
    match kind {
        PluginKind::Ordering | PluginKind::Compression | PluginKind::Prover => true,
        PluginKind::Searcher => false,
    }
}

/// Whether a loaded plugin of the kind may run as the shadow (beside the active ordering
/// policy on every block, compared with it): ordering plugins only.
pub(crate) fn can_shadow(kind: PluginKind) -> bool {
    match kind {
        PluginKind::Ordering => true,
        PluginKind::Searcher | PluginKind::Compression | PluginKind::Prover => false,
    }
}

/// The most milliseconds a call of the kind may take under a block time of
/// `block_time_ms`, for the kinds called on the block path: an ordering call at most half
/// the slot, so even one that spins until its deadline leaves time to execute and seal on
/// schedule; a searcher call an eighth (the searchers' round gets two searcher deadlines, a
/// quarter of the slot). `None` for the kinds called once per batch, off the block path.
pub(crate) fn block_deadline_cap(kind: PluginKind, block_time_ms: u64) -> Option<u64> {
    match kind {
        PluginKind::Ordering => Some((block_time_ms / 2).max(1)),
        PluginKind::Searcher => Some((block_time_ms / 8).max(1)),
        PluginKind::Compression | PluginKind::Prover => None,
    }
}

/// What the caller does instead when a call of the kind fails (for the log line).
pub(crate) fn fallback(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Searcher => "searcher skipped for this block",
        PluginKind::Ordering | PluginKind::Compression | PluginKind::Prover => {
            "native fallback used"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a plugin loaded as `kind` may import `name`.
    fn import_allowed(name: &str, kind: PluginKind) -> bool {
        crate::validate::import_allowed(name, contract(kind).may_import)
    }

    #[test]
    fn imports_are_checked_by_interface_and_version() {
        use PluginKind::*;
        assert!(import_allowed("ordo:plugin/host@0.1.0", Ordering));
        assert!(import_allowed("ordo:plugin/host@0.1.7", Prover));
        assert!(import_allowed("ordo:plugin/types@0.1.0", Compression));
        assert!(!import_allowed("ordo:plugin/host@0.2.0", Ordering));
        assert!(!import_allowed("ordo:plugin/host", Ordering));
        assert!(!import_allowed("ordo:plugin/pre-state@0.1.0", Ordering));
        assert!(import_allowed("ordo:plugin/pre-state@0.1.0", Searcher));
        assert!(!import_allowed("wasi:filesystem/types@0.2.3", Ordering));
        assert!(!import_allowed("ordo:plugin/ordering@0.1.0", Ordering));
    }
}
