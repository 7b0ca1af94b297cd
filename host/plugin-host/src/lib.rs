//! Ordo's WASM plugin host. The only crate that sees wasmtime.
//!
//! Flow:
//! - **Load** ([`PluginManager::load`], slow, off the hot path): keccak256 code hash →
//!   static checks on the bytes (a component; imports only `ordo:plugin/host@0.1.x`, plus
//!   `pre-state` for searchers; an `ordo:plugin-api` section of a supported version in the
//!   core module: [`validate`]) → compile, cached by code hash (`engine`) → link and
//!   type-check the kind's world exports → `metadata()` (kind must match, name
//!   `[a-z0-9-]{1,64}`) → the kind's self-test (ordering: generated candidate sets whose
//!   answers must pass the checks; compression: round trips; prover: determinism;
//!   searcher: well-formed answers over an all-zero pre-state) →
//!   bytes and registry entry persisted in the storage `plugins` keyspace.
//! - **Activate / roll back / shadow** ([`PluginManager::activate`], `rollback`, `shadow`):
//!   a registry mutation, persisted (fsynced) before it becomes visible. Visible means: the
//!   next [`PolicySource::current`](ordo_hooks::PolicySource::current) (the next block)
//!   or the next [`PluginManager::compressor`] / [`PluginManager::prover`] handle.
//! - **Call** (per block or batch): a fresh `Store` and instance per call scope, with the
//!   kind's [`CallLimits`]: fuel, an epoch deadline (1 ms ticker thread), a memory cap
//!   (a trap when hit), a host-transfer cap. Answers are re-checked by the host (ordering:
//!   range, uniqueness, per-sender nonce order, gas, length, read without copying an
//!   oversized list; compression: round trip on every compress; prover: size).
//! - **Failure**: classified ([`FailureReason`]), counted per plugin, logged with name,
//!   version and code hash; the caller uses its native fallback for that block or batch
//!   (ordering: [`OrderingError::Failed`](ordo_hooks::OrderingError::Failed) with
//!   `plugin name@version (hash): reason: detail`). After
//!   [`PluginsConfig::max_consecutive_failures`] in a row the kind rolls back by itself.
//! - **Shadow**: an ordering plugin run after the active policy on a separate thread,
//!   compared on included transactions, captured priority fees and time; never delays or
//!   affects a block.
//! - **Restart**: [`PluginManager::open`] re-loads every persisted plugin (compile and
//!   self-test again) and restores the active set, histories and shadow.
//!
//! - **Searchers**: several active at once ([`PluginManager::activate`] adds one to the set,
//!   [`PluginManager::deactivate`] takes one out). [`PluginManager::searcher_host`] runs
//!   them in activation order, each in a fresh store under the `searcher` limits, with the
//!   builder's pre-state behind the `pre-state` imports and a per-block `call` gas budget of
//!   [`SEARCHER_CALL_GAS_PER_BLOCK`]; answers are shape-checked ([`MAX_BUNDLES_PER_CALL`],
//!   [`MAX_TXS_PER_BUNDLE`], [`MAX_BUNDLE_TX_BYTES`]); a failing searcher is skipped for
//!   the block, and deactivated after the configured streak of failures.
//!
//! Seams: the plugin host implements the traits of `ordo-hooks` and depends on nothing that
//! runs the EVM: the builder sees `ordo_hooks::{PolicySource, OrderingPolicy, SearcherHost}`,
//! the batcher `ordo_hooks::BatchPlugins` ([`PluginManager::batch_plugins`], over
//! [`Compressor`] and [`Prover`]). Shipped plugins are embedded ([`shipped`]).

mod abi;
pub mod bindings;
mod compression;
pub mod config;
mod engine;
mod health;
mod manager;
mod ordering;
mod plugin;
mod prover;
mod searcher;
pub mod shipped;
pub mod testing;
pub mod validate;

use std::{fmt, str::FromStr};

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

pub use compression::Compressor;
pub use config::{CallLimits, PluginsConfig};
pub use engine::{CallFailure, FailureReason};
pub use health::{HealthReport, ShadowReport};
pub use manager::{LoadedReport, PluginManager, PluginsReport};
pub use ordering::SELF_TEST_BLOCK;
pub use prover::{BatchHeader, MAX_ATTESTATION_BYTES, Prover};
pub use searcher::{
    MAX_BUNDLE_TX_BYTES, MAX_BUNDLES_PER_CALL, MAX_CALL_DATA_BYTES, MAX_CALL_OUTPUT_BYTES,
    MAX_TXS_PER_BUNDLE, MIN_CALL_GAS_CHARGE, SEARCHER_CALL_GAS_PER_BLOCK,
};

/// The four plugin kinds, one WIT world each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum PluginKind {
    /// Orders a block's transactions (`ordering-plugin`).
    Ordering = 0,
    /// Proposes bundles (`searcher-plugin`); several run side by side.
    Searcher = 1,
    /// Compresses batches (`compression-plugin`).
    Compression = 2,
    /// Attests to batches (`prover-plugin`).
    Prover = 3,
}

impl PluginKind {
    /// The lowercase name used in config, RPC and logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ordering => "ordering",
            Self::Searcher => "searcher",
            Self::Compression => "compression",
            Self::Prover => "prover",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PluginKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ordering" => Ok(Self::Ordering),
            "searcher" => Ok(Self::Searcher),
            "compression" => Ok(Self::Compression),
            "prover" => Ok(Self::Prover),
            other => Err(format!(
                "unknown plugin kind {other:?} (ordering, searcher, compression, prover)"
            )),
        }
    }
}

/// A loaded plugin's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginInfo {
    /// Registry id: 16 hex chars of keccak256(code hash ‖ kind ‖ config). Loading the same
    /// bytes with the same kind and config gives the same id.
    pub id: String,
    /// Kind.
    pub kind: PluginKind,
    /// Name from `metadata()`.
    pub name: String,
    /// Version from `metadata()`.
    pub version: String,
    /// keccak256 of the component bytes (block and batch provenance).
    pub code_hash: B256,
}

/// Why a plugin could not be loaded or a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin configuration is unusable.
    #[error("invalid plugins config: {0}")]
    Config(String),
    /// The wasmtime engine could not be set up.
    #[error("plugin engine: {0}")]
    Engine(String),
    /// Not a valid component.
    #[error("invalid component: {0}")]
    Invalid(String),
    /// The component imports something plugins may not use (WASI, other interfaces).
    #[error(
        "forbidden import{} {}: {kind} plugins may import only ordo:plugin/host@0.1.x{}",
        if imports.len() == 1 { "" } else { "s" },
        imports.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", "),
        if *kind == PluginKind::Searcher { " and ordo:plugin/pre-state@0.1.x" } else { "" }
    )]
    ForbiddenImports {
        /// The kind it was loaded as.
        kind: PluginKind,
        /// Every offending import name.
        imports: Vec<String>,
    },
    /// The core module carries no `ordo:plugin-api` section.
    #[error("not built with ordo-sdk: no `ordo:plugin-api` section in the component")]
    MissingApiSection,
    /// The `ordo:plugin-api` section names a version this host does not implement.
    #[error("built for plugin API {0:?}; this host implements 0.1.x")]
    UnsupportedApi(String),
    /// The component does not implement the world of the kind it was loaded as.
    #[error("does not implement the {kind} world: {detail}")]
    Contract {
        /// The kind it was loaded as.
        kind: PluginKind,
        /// What is missing or mistyped.
        detail: String,
    },
    /// `metadata()` names another kind.
    #[error("loaded as {expected} but metadata() says {found}")]
    KindMismatch {
        /// The kind it was loaded as.
        expected: PluginKind,
        /// The kind it reports.
        found: PluginKind,
    },
    /// `metadata()` returned a name outside `[a-z0-9-]{1,64}`.
    #[error("invalid plugin name {0:?}: must match [a-z0-9-]{{1,64}}")]
    InvalidName(String),
    /// A call made while loading failed.
    #[error("{during} failed: {failure}")]
    Call {
        /// Which call.
        during: &'static str,
        /// How.
        failure: CallFailure,
    },
    /// The kind's self-test failed.
    #[error("self-test failed: {0}")]
    SelfTest(String),
    /// No loaded plugin has this id.
    #[error("no loaded plugin with id {0}")]
    UnknownPlugin(String),
    /// The operation does not apply to this kind.
    #[error("not supported: {0}")]
    NotSupported(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] ordo_storage::StorageError),
    /// The persisted registry does not decode or is inconsistent.
    #[error("plugin registry state: {0}")]
    CorruptState(String),
}

impl PluginError {
    /// Whether the plugin itself is at fault (as opposed to the node or the request):
    /// the operator should fix the plugin, not the node.
    pub fn is_bad_plugin(&self) -> bool {
        matches!(
            self,
            Self::Invalid(_)
                | Self::ForbiddenImports { .. }
                | Self::MissingApiSection
                | Self::UnsupportedApi(_)
                | Self::Contract { .. }
                | Self::KindMismatch { .. }
                | Self::InvalidName(_)
                | Self::Call { .. }
                | Self::SelfTest(_)
        )
    }
}

/// A failed compression or prover call: which plugin, and how. The caller uses its native
/// fallback; the failure has been counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{plugin}: {failure}")]
pub struct PluginCallError {
    /// `plugin name@version (hash)`.
    pub plugin: String,
    /// The classified failure.
    pub failure: CallFailure,
}
