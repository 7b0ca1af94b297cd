//! Per-plugin call counters and the shadow comparison. In memory only: a restart starts
//! counting afresh (the registry itself is persisted).

use std::{collections::BTreeMap, time::Duration};

use parking_lot::Mutex;
use serde::Serialize;

use crate::error::{CallFailure, FailureReason};

/// A plugin's call record since it was loaded (or since the node started).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    /// Calls made (successes and failures).
    pub calls: u64,
    /// Calls whose answer was used.
    pub successes: u64,
    /// Failed calls by reason.
    pub failures: BTreeMap<FailureReason, u64>,
    /// Failures since the last success; at the configured maximum the kind rolls back.
    pub consecutive_failures: u32,
    /// Blocks or batches that used the native fallback because of this plugin.
    pub fallbacks: u64,
    /// Total time in calls, microseconds (instantiate, call and host checks).
    pub total_call_us: u64,
    /// Time of the last call, microseconds.
    pub last_call_us: u64,
    /// Times this plugin was rolled back from the active slot (by the operator or
    /// automatically).
    pub rollbacks: u64,
    /// The last failure, for the operator.
    pub last_failure: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Health(Mutex<HealthReport>);

impl Health {
    pub fn success(&self, elapsed: Duration) {
        let mut h = self.0.lock();
        h.calls += 1;
        h.successes += 1;
        h.consecutive_failures = 0;
        h.record_time(elapsed);
    }

    /// Counts a failure that made the caller fall back; returns the consecutive count.
    pub fn failure(&self, failure: &CallFailure, elapsed: Duration) -> u32 {
        let mut h = self.0.lock();
        h.calls += 1;
        *h.failures.entry(failure.reason).or_default() += 1;
        h.consecutive_failures = h.consecutive_failures.saturating_add(1);
        h.fallbacks += 1;
        h.last_failure = Some(failure.to_string());
        h.record_time(elapsed);
        h.consecutive_failures
    }

    pub fn rolled_back(&self) {
        let mut h = self.0.lock();
        h.rollbacks += 1;
        // A plugin brought back later (activate) starts with a clean streak.
        h.consecutive_failures = 0;
    }

    pub fn report(&self) -> HealthReport {
        self.0.lock().clone()
    }
}

impl HealthReport {
    fn record_time(&mut self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.total_call_us = self.total_call_us.saturating_add(us);
        self.last_call_us = us;
    }
}

/// How the shadow plugin would have done against the active policy, summed over the blocks
/// both answered. Fees are `Σ effective tip × gas limit` of the transactions that fit the
/// block gas limit in answer order, in wei, as decimal strings (they overflow u64).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShadowReport {
    /// The shadow plugin's id.
    pub id: String,
    /// Blocks where both answered and were compared.
    pub blocks_compared: u64,
    /// Blocks skipped because the previous shadow run was still going.
    pub blocks_skipped: u64,
    /// Shadow calls that failed, by reason (never affect the block or trigger a rollback).
    pub failures: BTreeMap<FailureReason, u64>,
    /// The shadow's last failure.
    pub last_failure: Option<String>,
    /// Transactions the active answers included.
    pub active_txs: u64,
    /// Transactions the shadow answers included.
    pub shadow_txs: u64,
    /// Priority fees the active answers captured (wei, decimal).
    pub active_priority_fees: String,
    /// Priority fees the shadow answers captured (wei, decimal).
    pub shadow_priority_fees: String,
    /// Blocks where the shadow captured more fees than the active policy.
    pub shadow_better_blocks: u64,
    /// Blocks where it captured fewer.
    pub shadow_worse_blocks: u64,
    /// Time the active policy spent, microseconds.
    pub active_call_us: u64,
    /// Time the shadow spent, microseconds.
    pub shadow_call_us: u64,
}

/// The accumulating side of [`ShadowReport`] (fees kept as integers).
#[derive(Debug, Default)]
pub(crate) struct ShadowStats {
    pub blocks_compared: u64,
    pub blocks_skipped: u64,
    pub failures: BTreeMap<FailureReason, u64>,
    pub last_failure: Option<String>,
    pub active_txs: u64,
    pub shadow_txs: u64,
    pub active_fees: u128,
    pub shadow_fees: u128,
    pub shadow_better_blocks: u64,
    pub shadow_worse_blocks: u64,
    pub active_call_us: u64,
    pub shadow_call_us: u64,
}

/// One block's measurement of one answer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AnswerScore {
    pub txs: u64,
    pub fees: u128,
    pub call_us: u64,
}

impl ShadowStats {
    pub fn compared(&mut self, active: AnswerScore, shadow: AnswerScore) {
        self.blocks_compared += 1;
        self.active_txs += active.txs;
        self.shadow_txs += shadow.txs;
        self.active_fees = self.active_fees.saturating_add(active.fees);
        self.shadow_fees = self.shadow_fees.saturating_add(shadow.fees);
        self.active_call_us = self.active_call_us.saturating_add(active.call_us);
        self.shadow_call_us = self.shadow_call_us.saturating_add(shadow.call_us);
        match shadow.fees.cmp(&active.fees) {
            std::cmp::Ordering::Greater => self.shadow_better_blocks += 1,
            std::cmp::Ordering::Less => self.shadow_worse_blocks += 1,
            std::cmp::Ordering::Equal => {}
        }
    }

    pub fn failed(&mut self, failure: &CallFailure) {
        *self.failures.entry(failure.reason).or_default() += 1;
        self.last_failure = Some(failure.to_string());
    }

    pub fn report(&self, id: &str) -> ShadowReport {
        ShadowReport {
            id: id.to_string(),
            blocks_compared: self.blocks_compared,
            blocks_skipped: self.blocks_skipped,
            failures: self.failures.clone(),
            last_failure: self.last_failure.clone(),
            active_txs: self.active_txs,
            shadow_txs: self.shadow_txs,
            active_priority_fees: self.active_fees.to_string(),
            shadow_priority_fees: self.shadow_fees.to_string(),
            shadow_better_blocks: self.shadow_better_blocks,
            shadow_worse_blocks: self.shadow_worse_blocks,
            active_call_us: self.active_call_us,
            shadow_call_us: self.shadow_call_us,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaks_reset_on_success_and_reasons_are_counted() {
        let h = Health::default();
        let t = Duration::from_micros(10);
        let f = CallFailure::new(FailureReason::Timeout, "x");
        assert_eq!(h.failure(&f, t), 1);
        assert_eq!(h.failure(&f, t), 2);
        h.success(t);
        assert_eq!(h.failure(&CallFailure::new(FailureReason::Trap, "y"), t), 1);
        let r = h.report();
        assert_eq!(r.calls, 4);
        assert_eq!(r.successes, 1);
        assert_eq!(r.fallbacks, 3);
        assert_eq!(r.failures[&FailureReason::Timeout], 2);
        assert_eq!(r.failures[&FailureReason::Trap], 1);
        assert_eq!(r.total_call_us, 40);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["failures"]["timeout"], 2);
    }
}
