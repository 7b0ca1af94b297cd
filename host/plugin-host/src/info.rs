//! What names a plugin: its kind (one WIT world each) and its identity in the registry.
//!
//! Only the kind's vocabulary lives here (its name, parsing it, the WIT enum); what the host
//! does differently per kind is in `kinds`.

use std::{fmt, str::FromStr};

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

use crate::bindings::types;

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
    /// Every kind, in discriminant order.
    pub const ALL: [Self; 4] = [
        Self::Ordering,
        Self::Searcher,
        Self::Compression,
        Self::Prover,
    ];

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

impl From<types::PluginKind> for PluginKind {
    fn from(kind: types::PluginKind) -> Self {
        match kind {
            types::PluginKind::Ordering => Self::Ordering,
            types::PluginKind::Searcher => Self::Searcher,
            types::PluginKind::Compression => Self::Compression,
            types::PluginKind::Prover => Self::Prover,
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
