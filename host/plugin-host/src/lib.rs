//! Ordo's WASM plugin host. The only crate that sees wasmtime.
//!
//! Map of the flow (file by file):
//! - **Load** ([`PluginManager::load`], slow, off the hot path; `plugin.rs` runs the steps,
//!   `kinds/mod.rs` supplies what differs per kind): keccak256 code hash → static checks on
//!   the bytes (a component; imports only `ordo:plugin/host@0.1.x`, plus `pre-state` for
//!   searchers; an `ordo:plugin-api` section of a supported version in the core module:
//!   [`validate`]) → compile, cached by code hash (`engine.rs`: in memory, and as a stored
//!   artifact that a restart deserializes after checking its keccak) → link and type-check the
//!   kind's world exports → `metadata()` (kind must match, name `[a-z0-9-]{1,64}`) → the
//!   kind's self-test (ordering: generated candidate sets whose answers must pass the
//!   checks; compression: round trips; prover: determinism; searcher: well-formed answers
//!   over an all-zero pre-state) → bytes and registry entry persisted in the storage
//!   `plugins` keyspace.
//! - **Instantiate** (per call, `engine.rs` and `plugin.rs`): a fresh `Store` and instance
//!   per call scope, with the kind's [`CallLimits`]: fuel, an epoch deadline (1 ms ticker
//!   thread), a memory cap (a trap when hit), a host-transfer cap; the host imports (`log`,
//!   `config`, and `pre-state` for searchers: `pre_state.rs`).
//! - **Per-kind adapters** (`kinds/`, one file per kind): the calls, the host's re-checks of
//!   every answer (ordering: range, uniqueness, per-sender nonce order, gas, length, read
//!   without copying an oversized list; searcher: bundle shapes; compression: round trip on
//!   every compress; prover: size), and what the node sees: the builder
//!   `ordo_hooks::{PolicySource, OrderingPolicy, SearcherHost}`, the batcher
//!   `ordo_hooks::BatchPlugins` ([`PluginManager::batch_plugins`], over [`Compressor`] and
//!   [`Prover`]), derivation `ordo_hooks::BatchCodecs` ([`open_codecs`]). The adapters
//!   report every outcome to their supervisor (`supervisor.rs`), the manager.
//! - **Manager** (`manager.rs`): the registry and the active set.
//!   - *Hot swap*: [`PluginManager::activate`], `rollback`, `shadow` are registry
//!     mutations, persisted (fsynced) before they become visible. Visible means: the next
//!     [`PolicySource::current`](ordo_hooks::PolicySource::current) (the next block) or the
//!     next [`PluginManager::compressor`] / [`PluginManager::prover`] handle. Searchers:
//!     several active at once ([`PluginManager::activate`] adds one to the set,
//!     [`PluginManager::deactivate`] takes one out), run in activation order by
//!     [`PluginManager::searcher_host`] with a per-block `call` gas budget of
//!     [`SEARCHER_CALL_GAS_PER_BLOCK`]; answers are shape-checked
//!     ([`MAX_BUNDLES_PER_CALL`], [`MAX_TXS_PER_BUNDLE`], [`MAX_BUNDLE_TX_BYTES`]).
//!   - *Failure*: classified ([`FailureReason`]), counted per plugin, logged with name,
//!     version and code hash; the caller uses its native fallback for that block or batch
//!     (ordering: [`OrderingError::Failed`](ordo_hooks::OrderingError::Failed) with
//!     `plugin name@version (hash): reason: detail`; a searcher is skipped for the block).
//!     After [`PluginsConfig::max_consecutive_failures`] in a row the kind rolls back by
//!     itself (a searcher is deactivated).
//!   - *Shadow*: an ordering plugin run after the active policy on a separate thread,
//!     compared on included transactions, captured priority fees and time; never delays or
//!     affects a block.
//!   - *Health* (`health.rs`): per-plugin call counters and the shadow comparison
//!     ([`PluginManager::list`]).
//!   - *Restart*: [`PluginManager::open`] re-loads every persisted plugin (from its stored
//!     compiled artifact when there is an intact one for this engine, else compiled again;
//!     self-tested again either way) and restores the active set, histories and shadow.
//!
//! Shared pieces: `info.rs` (the kinds and a plugin's identity), `error.rs`, [`config`],
//! `convert.rs` (host values in WIT form), `abi.rs` (the candidate set lowered as two
//! memcpys), `samples.rs` (deterministic self-test inputs), [`bindings`]. Shipped plugins
//! are embedded ([`shipped`]); test helpers are behind the `test-utils` feature
//! (`testing`).
//!
//! Seams: the plugin host implements the traits of `ordo-hooks` and depends on nothing that
//! runs the EVM (primitives, hooks, storage, wasmtime).

mod abi;
pub mod bindings;
mod codecs;
pub mod config;
mod convert;
mod engine;
mod error;
mod health;
mod info;
mod kinds;
mod manager;
mod plugin;
mod pre_state;
mod samples;
pub mod shipped;
mod supervisor;
#[cfg(feature = "test-utils")]
pub mod testing;
pub mod validate;

pub use codecs::{CodecsError, open_codecs};
pub use config::{CallLimits, PluginsConfig};
pub use error::{CallFailure, FailureReason, PluginCallError, PluginError};
pub use health::{HealthReport, ShadowReport};
pub use info::{PluginInfo, PluginKind};
pub use kinds::{
    compression::Compressor,
    prover::{BatchHeader, MAX_ATTESTATION_BYTES, Prover},
    searcher::{MAX_BUNDLE_TX_BYTES, MAX_BUNDLES_PER_CALL, MAX_TXS_PER_BUNDLE},
};
pub use manager::{LoadedReport, PluginManager, PluginsReport};
pub use pre_state::{
    MAX_CALL_DATA_BYTES, MAX_CALL_OUTPUT_BYTES, MIN_CALL_GAS_CHARGE, SEARCHER_CALL_GAS_PER_BLOCK,
};
pub use samples::SELF_TEST_BLOCK;

/// The host's checks on what ordering and searcher plugins answer, for the fuzz targets in
/// `fuzz/`; not part of this crate's API.
#[doc(hidden)]
pub mod answers {
    pub use crate::kinds::{
        ordering::check_answer,
        searcher::{CheckedBundle, check_bundles},
    };
}
