//! How things fail: a call ([`CallFailure`], classified by [`FailureReason`]), a call as the
//! caller of a compression or prover plugin sees it ([`PluginCallError`]), and a load or
//! registry operation ([`PluginError`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::info::PluginKind;

/// A log line (a plugin's, or a failure's detail) longer than this is cut (on a char
/// boundary).
pub(crate) const MAX_LOG_LINE_BYTES: usize = 1024;

/// Why a call did not produce a usable answer. Counted per reason in the health report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureReason {
    /// The plugin trapped (unreachable, out-of-bounds access, ...).
    Trap,
    /// The wall-clock deadline passed.
    Timeout,
    /// The fuel budget ran out.
    OutOfFuel,
    /// The memory cap was hit.
    Memory,
    /// The wasm stack was exhausted.
    StackOverflow,
    /// The answer failed the host's checks.
    InvalidAnswer,
    /// The plugin returned its own `plugin-error`.
    PluginError,
    /// The instance could not be created (pool exhausted, start-up trap).
    Instantiate,
}

impl FailureReason {
    /// The stable key used in reports and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Trap => "trap",
            Self::Timeout => "timeout",
            Self::OutOfFuel => "out-of-fuel",
            Self::Memory => "memory",
            Self::StackOverflow => "stack-overflow",
            Self::InvalidAnswer => "invalid-answer",
            Self::PluginError => "plugin-error",
            Self::Instantiate => "instantiate",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed call: the reason and what exactly happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct CallFailure {
    /// The classified reason.
    pub reason: FailureReason,
    /// Details for the log.
    pub detail: String,
}

impl CallFailure {
    pub(crate) fn new(reason: FailureReason, detail: impl Into<String>) -> Self {
        let mut detail = detail.into();
        if detail.len() > MAX_LOG_LINE_BYTES {
            let mut cut = MAX_LOG_LINE_BYTES;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
        }
        Self { reason, detail }
    }

    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        Self::new(FailureReason::InvalidAnswer, detail)
    }
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
        "forbidden import{} {}: {kind} plugins may import only {}",
        if imports.len() == 1 { "" } else { "s" },
        imports.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", "),
        may_import.iter().map(|i| format!("ordo:plugin/{i}@0.1.x")).collect::<Vec<_>>().join(" and ")
    )]
    ForbiddenImports {
        /// The kind it was loaded as.
        kind: PluginKind,
        /// Every offending import name.
        imports: Vec<String>,
        /// The `ordo:plugin` interfaces that kind may import (besides `types`, which
        /// carries only type definitions).
        may_import: &'static [&'static str],
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
