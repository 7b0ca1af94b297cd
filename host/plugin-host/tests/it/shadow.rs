//! Shadow runs: compared beside the active policy, never affecting blocks.

use std::time::Duration;

use ordo_plugin_host::{FailureReason, PluginKind, testing};

use crate::{load_ordering, manager, order_block};

const IDLE: Duration = Duration::from_secs(30);

#[test]
fn shadow_stats_accumulate_against_the_native_policy() {
    let m = manager();
    let shadow = load_ordering(&m, "mode=identity name=shadow");
    m.shadow(&shadow.id).unwrap();
    let mut native_total = 0;
    for block in 1..=3 {
        let candidates = testing::candidates(40, 8, block);
        let (policy, answer) = order_block(&m, block, &candidates);
        assert_eq!(policy.name(), "native-priority-fee");
        native_total += answer.unwrap().len() as u64;
        assert!(m.wait_shadow_idle(IDLE));
    }
    let report = m.list().shadow.unwrap();
    assert_eq!(report.id, shadow.id);
    assert_eq!(report.blocks_compared, 3);
    assert!(report.failures.is_empty());
    // Everything fits the 30M gas limit: both include every candidate.
    assert_eq!(report.active_txs, native_total);
    assert_eq!(report.shadow_txs, 120);
    let active_fees: u128 = report.active_priority_fees.parse().unwrap();
    let shadow_fees: u128 = report.shadow_priority_fees.parse().unwrap();
    assert!(active_fees > 0);
    assert_eq!(active_fees, shadow_fees);
    // The shadow is not in the active slot.
    assert_eq!(m.list().active[&PluginKind::Ordering], None);
}

#[test]
fn shadow_fees_count_only_what_fits_the_gas_limit() {
    let m = manager();
    let shadow = load_ordering(&m, "mode=identity name=shadow");
    m.shadow(&shadow.id).unwrap();
    let candidates = testing::candidates(200, 20, 9);
    let mut ctx = testing::context(1);
    ctx.gas_limit = 1_000_000;
    let policy = m.ordering_source().current();
    let native = policy.order(&ctx, &candidates).unwrap();
    assert!(m.wait_shadow_idle(IDLE));
    let report = m.list().shadow.unwrap();
    // Native answers every candidate; only a gas-limit's worth counts.
    assert_eq!(native.len(), 200);
    assert!(report.active_txs < 200);
    assert!(report.shadow_txs < 200);
    assert_eq!(report.blocks_compared, 1);
}

#[test]
fn shadow_failures_are_counted_apart_and_never_roll_back() {
    let m = manager();
    let active = load_ordering(&m, "mode=identity name=active");
    let shadow = load_ordering(&m, "mode=trap arm=1");
    m.activate(&active.id).unwrap();
    m.shadow(&shadow.id).unwrap();
    let candidates = testing::candidates(10, 2, 4);
    for block in 1..=5 {
        let (_, answer) = order_block(&m, block, &candidates);
        assert_eq!(answer.unwrap().len(), 10);
        assert!(m.wait_shadow_idle(IDLE));
    }
    let report = m.list();
    let shadow_report = report.shadow.as_ref().unwrap();
    assert_eq!(shadow_report.failures[&FailureReason::Trap], 5);
    assert_eq!(shadow_report.blocks_compared, 0);
    assert_eq!(
        report.active[&PluginKind::Ordering].as_ref().unwrap().id,
        active.id
    );
    // Shadow runs do not touch the shadow plugin's own health counters either.
    let shadow_health = &report
        .loaded
        .iter()
        .find(|p| p.info.id == shadow.id)
        .unwrap()
        .health;
    assert_eq!(shadow_health.calls, 0);
    m.unshadow().unwrap();
    assert!(m.list().shadow.is_none());
}
