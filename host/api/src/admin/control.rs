//! Operator controls: halt and resume, live block parameters, and the status report. Every
//! change is written to storage (fsynced) before it takes effect, so a restart comes back
//! the way the operator left it.
//!
//! ```text
//! admin_halt {reason}   ──▶ storage.put_halt ──▶ builder.halt (returns after the block in
//!                            progress; sends are refused from here on)
//! admin_resume          ──▶ storage.put_halt(None) ──▶ builder.resume (same head)
//! admin_setBlockParams  ──▶ LiveConfig (epoch + 1) stored ──▶ builder params + pool limits
//! admin_setLimits       ──▶ LiveConfig (epoch + 1) stored ──▶ per-IP / per-sender quotas
//! launch                ──▶ Control::restore: stored live config, then the halt flag
//! ```

use std::{sync::Arc, time::Duration};

use ordo_builder::Builder;
use ordo_pool::Pool;
use ordo_storage::Storage;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What the operator changed at run time; stored as JSON in the `meta` keyspace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LiveConfig {
    /// Bumped by every change; `admin_status` reports it.
    pub epoch: u64,
    /// Milliseconds between blocks.
    pub block_time_ms: Option<u64>,
    /// Gas limit of the next blocks.
    pub gas_limit: Option<u64>,
    /// Base fee floor (wei).
    pub min_base_fee: Option<u64>,
    /// JSON-RPC calls per client IP.
    pub per_ip: Option<ordo_rpc::Quota>,
    /// Transactions per sender.
    pub per_sender: Option<ordo_rpc::Quota>,
}

/// `admin_setLimits`'s argument: either or both.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitsChange {
    pub per_ip: Option<ordo_rpc::Quota>,
    pub per_sender: Option<ordo_rpc::Quota>,
}

/// `admin_setBlockParams`'s argument: any subset.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlockParamsChange {
    pub block_time_ms: Option<u64>,
    pub gas_limit: Option<u64>,
    pub min_base_fee: Option<u64>,
}

/// Bounds of the live block parameters.
const BLOCK_TIME_MS: std::ops::RangeInclusive<u64> = 1..=60_000;
const MIN_GAS_LIMIT: u64 = 5_000_000;
const MAX_GAS_LIMIT: u64 = 1_000_000_000;

/// The node's operator controls.
pub struct Control {
    storage: Storage,
    builder: Arc<Builder>,
    pool: Arc<Pool>,
    plugins: Arc<ordo_plugin_host::PluginManager>,
    per_ip: Arc<ordo_rpc::RateLimiter<std::net::IpAddr>>,
    per_sender: Arc<ordo_rpc::RateLimiter<alloy_primitives::Address>>,
    live: Mutex<LiveConfig>,
    /// Held across the stored flag and the builder's state, so concurrent halt/resume calls
    /// cannot leave the two disagreeing (a restart would then undo what the node shows).
    halting: Mutex<()>,
}

/// The stages the controls act on.
pub struct Controlled {
    pub storage: Storage,
    pub builder: Arc<Builder>,
    pub pool: Arc<Pool>,
    /// The plugins, whose per-block deadlines follow the block time.
    pub plugins: Arc<ordo_plugin_host::PluginManager>,
    /// Per-IP limiter of the RPC server, holding the configured quota.
    pub per_ip: Arc<ordo_rpc::RateLimiter<std::net::IpAddr>>,
    /// Per-sender limiter of the API, holding the configured quota.
    pub per_sender: Arc<ordo_rpc::RateLimiter<alloy_primitives::Address>>,
}

/// Why a control call failed: invalid input, or storage.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{0}")]
    Invalid(String),
    #[error("storage: {0}")]
    Storage(#[from] ordo_storage::StorageError),
    #[error("stored live configuration is unreadable: {0}")]
    CorruptLiveConfig(serde_json::Error),
}

impl Control {
    /// Controls over a launched node's stages; applies what was stored (live parameters, then
    /// the halt flag) before any block is built.
    pub fn restore(stages: Controlled) -> Result<Arc<Self>, ControlError> {
        let Controlled {
            storage,
            builder,
            pool,
            plugins,
            per_ip,
            per_sender,
        } = stages;
        let live = match storage.live_config()? {
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(ControlError::CorruptLiveConfig)?
            }
            None => LiveConfig::default(),
        };
        let control = Arc::new(Self {
            storage,
            builder,
            pool,
            plugins,
            per_ip,
            per_sender,
            live: Mutex::new(LiveConfig::default()),
            halting: Mutex::new(()),
        });
        if live != LiveConfig::default() {
            tracing::info!(target: "ordo::admin", ?live, "live configuration restored (set by an operator; overrides the file)");
        }
        control.apply(&live);
        *control.live.lock() = live;
        if let Some(reason) = control.storage.halt()? {
            tracing::warn!(target: "ordo::admin", %reason, "sequencer halted (restored): no blocks until admin_resume");
            control.builder.halt(reason);
        }
        Ok(control)
    }

    fn apply(&self, live: &LiveConfig) {
        let mut params = self.builder.params();
        let mut limits = self.pool.limits();
        if let Some(ms) = live.block_time_ms {
            params.block_time = Duration::from_millis(ms);
            self.plugins.set_block_time(ms);
        }
        if let Some(g) = live.gas_limit {
            params.gas_limit = g;
            limits.block_gas_limit = g;
        }
        if let Some(f) = live.min_base_fee {
            params.min_base_fee = f;
            limits.min_base_fee = f;
        }
        self.builder.set_params(params);
        self.pool.set_limits(limits);
        if let Some(q) = live.per_ip {
            self.per_ip.set_quota(q);
        }
        if let Some(q) = live.per_sender {
            self.per_sender.set_quota(q);
        }
    }

    /// Stores `next` (one more epoch) and puts it in force.
    fn commit(
        &self,
        live: &mut LiveConfig,
        mut next: LiveConfig,
    ) -> Result<LiveConfig, ControlError> {
        next.epoch = live.epoch + 1;
        let bytes = serde_json::to_vec(&next).map_err(|e| ControlError::Invalid(e.to_string()))?;
        self.storage.put_live_config(&bytes)?;
        self.apply(&next);
        *live = next.clone();
        Ok(next)
    }

    /// Changes the rate limits from the next call on; durable first. Blocking.
    pub fn set_limits(&self, change: LimitsChange) -> Result<LiveConfig, ControlError> {
        if change.per_ip.is_none() && change.per_sender.is_none() {
            return Err(ControlError::Invalid(
                "give at least one of perIp, perSender".into(),
            ));
        }
        let mut live = self.live.lock();
        let mut next = live.clone();
        next.per_ip = change.per_ip.or(next.per_ip);
        next.per_sender = change.per_sender.or(next.per_sender);
        let next = self.commit(&mut live, next)?;
        tracing::info!(target: "ordo::admin", ?change, epoch = next.epoch, "rate limits changed");
        Ok(next)
    }

    /// The rate limits in force, for `admin_status`.
    pub fn limits_view(&self) -> Value {
        json!({ "perIp": self.per_ip.quota(), "perSender": self.per_sender.quota() })
    }

    /// Halts block production and sends; durable before it takes effect. Blocking.
    pub fn halt(&self, reason: String) -> Result<(), ControlError> {
        self.halt_with(reason, true)
    }

    /// [`Control::halt`] as a replica group's log applies it: without waiting for the
    /// block in progress ([`ordo_builder::Builder::halt_in_order`]).
    pub fn halt_in_order(&self, reason: String) -> Result<(), ControlError> {
        self.halt_with(reason, false)
    }

    /// The reason a halt is recorded with (trimmed), if it is one: 1 to 256 bytes.
    pub fn halt_reason(reason: &str) -> Result<String, ControlError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(ControlError::Invalid("a halt needs a reason".into()));
        }
        if reason.len() > 256 {
            return Err(ControlError::Invalid(
                "the halt reason is longer than 256 bytes".into(),
            ));
        }
        Ok(reason.to_string())
    }

    fn halt_with(&self, reason: String, wait: bool) -> Result<(), ControlError> {
        let reason = Self::halt_reason(&reason)?;
        let _halting = self.halting.lock();
        self.storage.put_halt(Some(&reason))?;
        tracing::warn!(target: "ordo::admin", %reason, head = self.builder.head().number(), "sequencer halted by the operator");
        if wait {
            self.builder.halt(reason);
        } else {
            self.builder.halt_in_order(reason);
        }
        Ok(())
    }

    /// Resumes block production on the same head. Blocking.
    pub fn resume(&self) -> Result<bool, ControlError> {
        let _halting = self.halting.lock();
        let was = self.builder.halted().is_some();
        self.storage.put_halt(None)?;
        self.builder.resume();
        tracing::info!(target: "ordo::admin", head = self.builder.head().number(), was_halted = was, "sequencer resumed");
        Ok(was)
    }

    /// Changes block parameters from the next block on; durable first. Blocking.
    pub fn set_block_params(&self, change: BlockParamsChange) -> Result<LiveConfig, ControlError> {
        if let Some(ms) = change.block_time_ms
            && !BLOCK_TIME_MS.contains(&ms)
        {
            return Err(ControlError::Invalid(format!(
                "blockTimeMs must be within {}..={}, got {ms}",
                BLOCK_TIME_MS.start(),
                BLOCK_TIME_MS.end()
            )));
        }
        if let Some(g) = change.gas_limit
            && !(MIN_GAS_LIMIT..=MAX_GAS_LIMIT).contains(&g)
        {
            return Err(ControlError::Invalid(format!(
                "gasLimit must be within {MIN_GAS_LIMIT}..={MAX_GAS_LIMIT}, got {g}"
            )));
        }
        if change.block_time_ms.is_none()
            && change.gas_limit.is_none()
            && change.min_base_fee.is_none()
        {
            return Err(ControlError::Invalid(
                "give at least one of blockTimeMs, gasLimit, minBaseFee".into(),
            ));
        }
        let mut live = self.live.lock();
        let mut next = live.clone();
        next.block_time_ms = change.block_time_ms.or(next.block_time_ms);
        next.gas_limit = change.gas_limit.or(next.gas_limit);
        next.min_base_fee = change.min_base_fee.or(next.min_base_fee);
        let next = self.commit(&mut live, next)?;
        tracing::info!(target: "ordo::admin", ?change, epoch = next.epoch, "block parameters changed from the next block");
        Ok(next)
    }

    /// The live configuration as last set.
    pub fn live(&self) -> LiveConfig {
        self.live.lock().clone()
    }

    /// Why the sequencer is halted, if it is.
    pub fn halted(&self) -> Option<String> {
        self.builder.halted()
    }

    /// Readiness for `GET /ready`: storage answers, the head advances, not halted. The
    /// reasons it is not ready, if any.
    pub fn not_ready(&self) -> Vec<String> {
        let mut why = Vec::new();
        if let Err(e) = self.storage.head() {
            why.push(format!("storage: {e}"));
        }
        if let Err(e) = self.storage.ensure_space() {
            why.push(format!("storage unavailable: {e}"));
        }
        if let Some(reason) = self.builder.halted() {
            why.push(format!("sequencer halted: {reason}"));
        } else {
            // A block every slot, empty or not: a head older than a few slots means the
            // builder is stuck (timestamps are whole seconds, hence the floor).
            let head = self.builder.head();
            let slot = self.builder.params().block_time;
            let allowed = (slot * 3).max(Duration::from_secs(5)).as_secs();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let age = now.saturating_sub(head.header.timestamp);
            if head.number() > 0 && age > allowed {
                why.push(format!(
                    "head block {} is {age} s old (more than {allowed} s)",
                    head.number()
                ));
            }
        }
        why
    }

    /// The block parameters in force, for `admin_status`.
    pub fn params_view(&self) -> Value {
        let p = self.builder.params();
        let deadline = |kind| self.plugins.effective_limits(kind).deadline_ms;
        json!({
            "blockTimeMs": p.block_time.as_millis() as u64,
            "gasLimit": p.gas_limit,
            "minBaseFee": p.min_base_fee,
            // What per-block plugin calls may take now: configured, capped by the slot.
            "pluginDeadlinesMs": {
                "ordering": deadline(ordo_plugin_host::PluginKind::Ordering),
                "searcher": deadline(ordo_plugin_host::PluginKind::Searcher),
            },
        })
    }
}
