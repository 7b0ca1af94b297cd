//! Every hostile behaviour fails its block (never the node), is classified and counted,
//! and three in a row roll the slot back.

use ordo_hooks::OrderingError;
use ordo_plugin_host::{FailureReason, PluginKind, PluginManager, PluginsConfig, testing};

use crate::{
    failures, health_of, load_ordering, manager, manager_deadline_only, manager_with_deadline,
    order_block,
};

#[test]
fn each_hostile_fixture_fails_its_block_with_a_classified_reason() {
    // Only the loop meets the deadline; everything else must fail for its own reason
    // however slow the machine is.
    let looping = manager_deadline_only();
    let m = manager_with_deadline(60_000);
    let candidates = testing::candidates(50, 10, 7);
    let cases = [
        ("loop", FailureReason::Timeout),
        ("bomb", FailureReason::Memory),
        ("trap", FailureReason::Trap),
        ("recurse", FailureReason::StackOverflow),
        ("out-of-range", FailureReason::InvalidAnswer),
        ("duplicate", FailureReason::InvalidAnswer),
        ("nonce", FailureReason::InvalidAnswer),
        ("gas", FailureReason::InvalidAnswer),
        ("huge", FailureReason::InvalidAnswer),
        ("error", FailureReason::PluginError),
    ];
    for (mode, reason) in cases {
        let m = if mode == "loop" { &looping } else { &m };
        // `arm=1`: the fixture behaves during the load-time self-test (block 0).
        let info = load_ordering(m, &format!("mode={mode} arm=1"));
        m.activate(&info.id).unwrap();
        let mut ctx = testing::context(1);
        if mode == "gas" {
            ctx.gas_limit = 100_000;
        }
        let policy = m.ordering_source().current();
        assert_eq!(policy.name(), format!("fixture-{mode}"));
        let err = policy.order(&ctx, &candidates).unwrap_err();
        let OrderingError::Failed(message) = &err else {
            panic!("{mode}: expected Failed, got {err:?}");
        };
        let prefix = format!("plugin fixture-{mode}@0.1.0 (0x");
        assert!(message.starts_with(&prefix), "{mode}: {message}");
        assert!(
            message.contains(&format!("): {reason}: ")),
            "{mode}: expected {reason}: {message}"
        );
        assert_eq!(failures(m, &info.id, reason), 1, "{mode}");
        let health = health_of(m, &info.id);
        assert_eq!(
            (health.calls, health.fallbacks, health.consecutive_failures),
            (1, 1, 1),
            "{mode}"
        );
        // The node is fine: the next call (a fresh store) works.
        assert!(
            m.ordering_source()
                .current()
                .order(&testing::context(0), &candidates)
                .is_ok(),
            "{mode}: next block"
        );
    }
}

#[test]
fn huge_answers_are_refused_by_length() {
    let m = manager_with_deadline(60_000);
    let info = load_ordering(&m, "mode=huge arm=1");
    m.activate(&info.id).unwrap();
    let (_, answer) = order_block(&m, 1, &testing::candidates(10, 2, 1));
    let OrderingError::Failed(message) = answer.unwrap_err() else {
        panic!("expected Failed")
    };
    assert!(
        message.contains("50000000 indices for 10 candidates"),
        "{message}"
    );
}

#[test]
fn a_small_fuel_budget_runs_out_before_the_deadline() {
    let mut config = PluginsConfig::default();
    config.ordering.fuel = 5_000_000;
    config.ordering.deadline_ms = 60_000;
    let m = PluginManager::open(config, None).unwrap();
    let info = load_ordering(&m, "mode=loop arm=1");
    m.activate(&info.id).unwrap();
    let (_, answer) = order_block(&m, 1, &testing::candidates(5, 1, 1));
    assert!(answer.is_err());
    assert_eq!(failures(&m, &info.id, FailureReason::OutOfFuel), 1);
}

#[test]
fn three_consecutive_failures_roll_back_to_the_previous_version() {
    let m = manager();
    let candidates = testing::candidates(20, 4, 3);
    let good = load_ordering(&m, "mode=identity name=good");
    let bad = load_ordering(&m, "mode=trap arm=1");
    m.activate(&good.id).unwrap();
    m.activate(&bad.id).unwrap();
    for block in 1..=2 {
        let (policy, answer) = order_block(&m, block, &candidates);
        assert_eq!(policy.name(), "fixture-trap");
        assert!(answer.is_err());
    }
    // Two failures: still active.
    assert_eq!(
        m.list().active[&PluginKind::Ordering].as_ref().unwrap().id,
        bad.id
    );
    let (_, answer) = order_block(&m, 3, &candidates);
    assert!(answer.is_err());
    // The third rolled the slot back; the next block uses the previous version.
    let report = m.list();
    assert_eq!(
        report.active[&PluginKind::Ordering].as_ref().unwrap().id,
        good.id
    );
    assert!(report.history[&PluginKind::Ordering].is_empty());
    let health = health_of(&m, &bad.id);
    assert_eq!(health.rollbacks, 1);
    assert_eq!(health.failures[&FailureReason::Trap], 3);
    let (policy, answer) = order_block(&m, 4, &candidates);
    assert_eq!(policy.name(), "fixture-good");
    assert_eq!(answer.unwrap().len(), 20);
}

#[test]
fn with_no_history_a_failing_ordering_plugin_falls_back_to_native() {
    let m = manager_deadline_only();
    let bad = load_ordering(&m, "mode=loop arm=1");
    m.activate(&bad.id).unwrap();
    let candidates = testing::candidates(8, 2, 5);
    for block in 1..=3 {
        assert!(order_block(&m, block, &candidates).1.is_err());
    }
    assert_eq!(m.list().active[&PluginKind::Ordering], None);
    let (policy, answer) = order_block(&m, 4, &candidates);
    assert_eq!(policy.name(), "native-priority-fee");
    assert_eq!(answer.unwrap().len(), 8);
    assert_eq!(failures(&m, &bad.id, FailureReason::Timeout), 3);
}

#[test]
fn a_success_resets_the_failure_streak() {
    let m = manager();
    // Fails from block 5 on, behaves before.
    let flaky = load_ordering(&m, "mode=trap arm=5");
    m.activate(&flaky.id).unwrap();
    let candidates = testing::candidates(8, 2, 5);
    for block in [5, 6, 1, 7, 8] {
        let _ = order_block(&m, block, &candidates);
    }
    let health = health_of(&m, &flaky.id);
    assert_eq!(health.consecutive_failures, 2);
    assert_eq!(health.successes, 1);
    assert_eq!(health.rollbacks, 0);
    assert_eq!(
        m.list().active[&PluginKind::Ordering].as_ref().unwrap().id,
        flaky.id
    );
}

#[test]
fn the_configured_failure_limit_is_honoured() {
    let config = PluginsConfig {
        max_consecutive_failures: 1,
        ..PluginsConfig::default()
    };
    let m = PluginManager::open(config, None).unwrap();
    let bad = load_ordering(&m, "mode=error arm=1");
    m.activate(&bad.id).unwrap();
    assert!(order_block(&m, 1, &testing::candidates(3, 1, 1)).1.is_err());
    assert_eq!(m.list().active[&PluginKind::Ordering], None);
}

#[test]
fn chatty_plugins_are_rate_limited_not_failed() {
    let m = manager();
    let info = load_ordering(&m, "mode=chatty arm=1");
    m.activate(&info.id).unwrap();
    let (_, answer) = order_block(&m, 1, &testing::candidates(4, 1, 1));
    assert_eq!(answer.unwrap().len(), 4);
}

#[test]
fn snapshots_taken_before_a_swap_do_not_roll_back_the_new_plugin() {
    let m: std::sync::Arc<PluginManager> = manager();
    let bad = load_ordering(&m, "mode=trap arm=1");
    let good = load_ordering(&m, "mode=identity");
    m.activate(&bad.id).unwrap();
    let stale: Vec<_> = (0..3).map(|_| m.ordering_source().current()).collect();
    m.activate(&good.id).unwrap();
    for policy in stale {
        assert!(
            policy
                .order(&testing::context(1), &testing::candidates(3, 1, 1))
                .is_err()
        );
    }
    assert_eq!(
        m.list().active[&PluginKind::Ordering].as_ref().unwrap().id,
        good.id
    );
}
