//! Limits per call kind. Each section of `[plugins]` may set any subset of its fields; the
//! rest keep that kind's default.

use serde::{Deserialize, Deserializer, Serialize};

use crate::info::PluginKind;

/// Default wall-clock deadline of an ordering call: 200 ms, a fraction of a block time.
pub const DEFAULT_ORDERING_DEADLINE_MS: u64 = 200;
/// Default fuel of an ordering call: 2·10⁹. A tight wasm loop burns that in ~170 ms on
/// the development machine, so fuel and deadline bound about the same work; fuel is the
/// deterministic bound (same cut-off on every node), the deadline the wall-clock one.
pub const DEFAULT_ORDERING_FUEL: u64 = 2_000_000_000;
/// Default memory cap of an ordering (or searcher) instance: 256 MiB.
pub const DEFAULT_ORDERING_MEMORY_BYTES: u64 = 256 << 20;
/// Default deadline of a compression or prover call: 2 s (once per batch, off the block path).
pub const DEFAULT_BATCH_DEADLINE_MS: u64 = 2_000;
/// Default fuel of a compression or prover call: 2·10¹⁰.
pub const DEFAULT_BATCH_FUEL: u64 = 20_000_000_000;
/// Default memory cap of a compression or prover instance: 512 MiB.
pub const DEFAULT_BATCH_MEMORY_BYTES: u64 = 512 << 20;
/// Default number of consecutive failures after which a kind rolls back.
pub const DEFAULT_MAX_CONSECUTIVE_FAILURES: u32 = 3;

/// Smallest accepted memory cap (a component needs a few pages to start at all).
pub const MIN_MEMORY_BYTES: u64 = 1 << 20;
/// Largest accepted memory cap: a wasm32 memory cannot grow past 4 GiB anyway.
pub const MAX_MEMORY_BYTES: u64 = 4 << 30;

/// What one call (one block, one batch) may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CallLimits {
    /// Wall-clock deadline for the whole call scope (instantiate, call, checks), enforced by
    /// epoch interruption with a 1 ms tick.
    pub deadline_ms: u64,
    /// Fuel (roughly wasm instructions) for the call scope.
    pub fuel: u64,
    /// Cap on the instance's linear memory.
    pub memory_bytes: u64,
}

impl CallLimits {
    /// Ordering defaults: 200 ms, 2·10⁹ fuel, 256 MiB.
    pub const ORDERING: Self = Self {
        deadline_ms: DEFAULT_ORDERING_DEADLINE_MS,
        fuel: DEFAULT_ORDERING_FUEL,
        memory_bytes: DEFAULT_ORDERING_MEMORY_BYTES,
    };
    /// Compression and prover defaults: 2 s, 2·10¹⁰ fuel, 512 MiB.
    pub const BATCH: Self = Self {
        deadline_ms: DEFAULT_BATCH_DEADLINE_MS,
        fuel: DEFAULT_BATCH_FUEL,
        memory_bytes: DEFAULT_BATCH_MEMORY_BYTES,
    };

    fn merge(self, partial: Option<PartialLimits>) -> Self {
        let Some(p) = partial else { return self };
        Self {
            deadline_ms: p.deadline_ms.unwrap_or(self.deadline_ms),
            fuel: p.fuel.unwrap_or(self.fuel),
            memory_bytes: p.memory_bytes.unwrap_or(self.memory_bytes),
        }
    }

    fn validate(&self, kind: &str) -> Result<(), String> {
        if self.deadline_ms == 0 {
            return Err(format!("plugins.{kind}.deadline_ms must be at least 1"));
        }
        if self.fuel == 0 {
            return Err(format!("plugins.{kind}.fuel must be at least 1"));
        }
        if !(MIN_MEMORY_BYTES..=MAX_MEMORY_BYTES).contains(&self.memory_bytes) {
            return Err(format!(
                "plugins.{kind}.memory_bytes must be between {MIN_MEMORY_BYTES} and {MAX_MEMORY_BYTES}"
            ));
        }
        Ok(())
    }
}

/// The plugin host's configuration (`[plugins]` in the node's TOML).
///
/// Every field defaults as documented on [`CallLimits::ORDERING`], [`CallLimits::BATCH`] and
/// [`DEFAULT_MAX_CONSECUTIVE_FAILURES`]; unknown keys are an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PluginsConfig {
    /// Limits of an ordering call (once per block).
    pub ordering: CallLimits,
    /// Limits of a searcher call (once per block per searcher).
    pub searcher: CallLimits,
    /// Limits of a compression call (once per batch).
    pub compression: CallLimits,
    /// Limits of a prover call (once per batch).
    pub prover: CallLimits,
    /// Consecutive failures of the active plugin of a kind before that kind rolls back.
    pub max_consecutive_failures: u32,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            ordering: CallLimits::ORDERING,
            searcher: CallLimits::ORDERING,
            compression: CallLimits::BATCH,
            prover: CallLimits::BATCH,
            max_consecutive_failures: DEFAULT_MAX_CONSECUTIVE_FAILURES,
        }
    }
}

impl PluginsConfig {
    /// Checks the values are usable.
    pub fn validate(&self) -> Result<(), String> {
        self.ordering.validate("ordering")?;
        self.searcher.validate("searcher")?;
        self.compression.validate("compression")?;
        self.prover.validate("prover")?;
        if self.max_consecutive_failures == 0 {
            return Err("plugins.max_consecutive_failures must be at least 1".into());
        }
        Ok(())
    }

    /// The limits of a kind's calls.
    pub fn limits(&self, kind: PluginKind) -> CallLimits {
        match kind {
            PluginKind::Ordering => self.ordering,
            PluginKind::Searcher => self.searcher,
            PluginKind::Compression => self.compression,
            PluginKind::Prover => self.prover,
        }
    }

    /// The largest memory cap of any kind: the size of one pooling-allocator memory slot.
    pub(crate) fn max_memory_bytes(&self) -> u64 {
        [self.ordering, self.searcher, self.compression, self.prover]
            .iter()
            .map(|l| l.memory_bytes)
            .max()
            .unwrap_or(DEFAULT_BATCH_MEMORY_BYTES)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialLimits {
    deadline_ms: Option<u64>,
    fuel: Option<u64>,
    memory_bytes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    ordering: Option<PartialLimits>,
    searcher: Option<PartialLimits>,
    compression: Option<PartialLimits>,
    prover: Option<PartialLimits>,
    max_consecutive_failures: Option<u32>,
}

impl<'de> Deserialize<'de> for PluginsConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawConfig::deserialize(deserializer)?;
        let d = Self::default();
        Ok(Self {
            ordering: d.ordering.merge(raw.ordering),
            searcher: d.searcher.merge(raw.searcher),
            compression: d.compression.merge(raw.compression),
            prover: d.prover.merge(raw.prover),
            max_consecutive_failures: raw
                .max_consecutive_failures
                .unwrap_or(d.max_consecutive_failures),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_sections_keep_the_kind_defaults() {
        let c: PluginsConfig = serde_json::from_str(
            r#"{"ordering": {"deadline_ms": 50}, "prover": {"fuel": 7}, "max_consecutive_failures": 5}"#,
        )
        .unwrap();
        assert_eq!(c.ordering.deadline_ms, 50);
        assert_eq!(c.ordering.fuel, DEFAULT_ORDERING_FUEL);
        assert_eq!(c.prover.fuel, 7);
        assert_eq!(c.prover.memory_bytes, DEFAULT_BATCH_MEMORY_BYTES);
        assert_eq!(c.compression, CallLimits::BATCH);
        assert_eq!(c.max_consecutive_failures, 5);
        assert_eq!(
            serde_json::from_str::<PluginsConfig>("{}").unwrap(),
            PluginsConfig::default()
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(serde_json::from_str::<PluginsConfig>(r#"{"ordring": {}}"#).is_err());
        assert!(serde_json::from_str::<PluginsConfig>(r#"{"ordering": {"deadline": 1}}"#).is_err());
        let mut c = PluginsConfig::default();
        c.ordering.memory_bytes = 1;
        assert!(c.validate().is_err());
        c = PluginsConfig::default();
        c.max_consecutive_failures = 0;
        assert!(c.validate().is_err());
        assert!(PluginsConfig::default().validate().is_ok());
    }
}
