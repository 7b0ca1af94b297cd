//! Searchers: several active at once, the pre-state imports, the per-block gas budget,
//! answer checks, automatic deactivation and persistence of the active set.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes, U256};
use ordo_hooks::{CallView, Placement, PreStateView, ProposedBundle};
use ordo_plugin_host::{
    FailureReason, MIN_CALL_GAS_CHARGE, PluginError, PluginInfo, PluginKind, PluginManager,
    PluginsConfig, SEARCHER_CALL_GAS_PER_BLOCK, testing,
};
use ordo_storage::Storage;

use crate::{failures, health_of, manager};

/// The address a fixture's `who=<n>` names: zero but for `n` in the last 8 bytes.
fn who(n: u64) -> Address {
    let mut a = [0u8; 20];
    a[12..].copy_from_slice(&n.to_be_bytes());
    Address::from(a)
}

type Call = (Address, Address, U256, u64, Bytes);

/// A pre-state that knows one account and records every call.
#[derive(Default)]
struct MockState {
    calls: Mutex<Vec<Call>>,
    /// The deadline each call was given.
    deadlines: Mutex<Vec<Instant>>,
    /// Calls use no gas.
    free: bool,
    /// Calls answer 200 KiB.
    big_output: bool,
}

impl PreStateView for MockState {
    fn balance(&self, address: Address) -> U256 {
        if address == who(7) {
            U256::from(0x1234_5678_9abc_u64) << 100
        } else {
            U256::ZERO
        }
    }

    fn nonce(&self, address: Address) -> u64 {
        if address == who(7) { 42 } else { 0 }
    }

    fn storage(&self, address: Address, slot: B256) -> B256 {
        if address == who(7) && slot == B256::with_last_byte(1) {
            B256::repeat_byte(0x5a)
        } else {
            B256::ZERO
        }
    }

    fn code_hash(&self, address: Address) -> B256 {
        if address == who(7) {
            B256::repeat_byte(0xc4)
        } else {
            B256::ZERO
        }
    }

    /// Uses all the gas it is given (none when `free`), answers `[0xbe, 0xef]`.
    fn call(
        &self,
        from: Address,
        to: Address,
        value: U256,
        gas: u64,
        data: Bytes,
        deadline: Instant,
    ) -> Result<CallView, ordo_hooks::PreStateError> {
        self.deadlines.lock().unwrap().push(deadline);
        self.calls
            .lock()
            .unwrap()
            .push((from, to, value, gas, data));
        Ok(CallView {
            success: true,
            gas_used: if self.free { 0 } else { gas },
            output: if self.big_output {
                Bytes::from(vec![0; 200 << 10])
            } else {
                Bytes::from_static(&[0xbe, 0xef])
            },
        })
    }
}

fn load_searcher(m: &PluginManager, config: &str) -> PluginInfo {
    m.load(PluginKind::Searcher, &testing::fixture("searcher"), config)
        .unwrap_or_else(|e| panic!("load searcher fixture {config:?}: {e}"))
}

fn search(m: &Arc<PluginManager>, number: u64, state: Arc<MockState>) -> Vec<ProposedBundle> {
    let candidates = testing::candidates(4, 2, 3);
    m.searcher_host()
        .search(&testing::context(number), &candidates, state)
}

fn names(bundles: &[ProposedBundle]) -> Vec<&str> {
    bundles.iter().map(|b| b.searcher.as_str()).collect()
}

fn active_ids(m: &PluginManager) -> Vec<String> {
    m.list()
        .active_searchers
        .into_iter()
        .map(|p| p.id)
        .collect()
}

#[test]
fn active_searchers_all_run_in_activation_order_and_their_bundles_carry_their_names() {
    let m = manager();
    let a = load_searcher(&m, "mode=ok name=a who=7");
    let b = load_searcher(&m, "mode=ok name=b who=7");
    assert!(search(&m, 1, Arc::default()).is_empty());
    m.activate(&b.id).unwrap();
    m.activate(&a.id).unwrap();
    // Activating an active searcher changes nothing.
    m.activate(&b.id).unwrap();
    assert_eq!(active_ids(&m), vec![b.id.clone(), a.id.clone()]);

    let state = Arc::new(MockState::default());
    let candidates = testing::candidates(4, 2, 3);
    let bundles = m
        .searcher_host()
        .search(&testing::context(9), &candidates, state.clone());
    assert_eq!(
        names(&bundles),
        ["fixture-searcher-b", "fixture-searcher-a"]
    );
    for bundle in &bundles {
        assert_eq!(bundle.placement, Placement::After(candidates[0].tx.hash));
        assert_eq!(bundle.bid, U256::from(9));
        assert_eq!(bundle.txs.len(), 1);
    }
    assert_eq!(bundles[0].txs, bundles[1].txs);
    assert_eq!(state.calls.lock().unwrap().len(), 2);
    // No candidates: top of block.
    let bundles =
        m.searcher_host()
            .search(&testing::context(10), &[], Arc::new(MockState::default()));
    assert!(bundles.iter().all(|b| b.placement == Placement::TopOfBlock));

    let report = m.list();
    assert!(report.loaded.iter().all(|p| p.active));
    assert!(!report.active.contains_key(&PluginKind::Searcher));
    for id in [&a.id, &b.id] {
        // Two real blocks (the self-test is not counted).
        let h = health_of(&m, id);
        assert_eq!((h.calls, h.successes), (2, 2));
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["activeSearchers"][0]["id"], b.id);
    assert_eq!(json["activeSearchers"][1]["name"], "fixture-searcher-a");
    assert_eq!(json["active"]["ordering"], serde_json::Value::Null);
}

#[test]
fn the_pre_state_imports_answer_what_the_view_says() {
    let m = manager();
    let s = load_searcher(&m, "mode=ok who=7 gas=77777");
    m.activate(&s.id).unwrap();
    let state = Arc::new(MockState::default());
    let bundles = search(&m, 1, state.clone());
    assert_eq!(bundles.len(), 1);
    let tx = &bundles[0].txs[0];
    assert_eq!(tx.len(), 32 + 8 + 32 + 32 + 1 + 8 + 2);
    assert_eq!(
        U256::from_be_slice(&tx[0..32]),
        U256::from(0x1234_5678_9abc_u64) << 100
    );
    assert_eq!(u64::from_be_bytes(tx[32..40].try_into().unwrap()), 42);
    assert_eq!(&tx[40..72], B256::repeat_byte(0x5a).as_slice());
    assert_eq!(&tx[72..104], B256::repeat_byte(0xc4).as_slice());
    assert_eq!(tx[104], 1, "call success");
    assert_eq!(u64::from_be_bytes(tx[105..113].try_into().unwrap()), 77_777);
    assert_eq!(&tx[113..], &[0xbe, 0xef]);
    let calls = state.calls.lock().unwrap();
    assert_eq!(
        *calls,
        vec![(
            who(7),
            who(7),
            U256::ZERO,
            77_777,
            Bytes::from_static(&[1, 2, 3])
        )]
    );
}

/// A pre-state call runs the EVM on the host, where the plugin's epoch deadline cannot
/// reach: the view must be handed the searcher call's own deadline, capped by the block
/// time the operator set last.
#[test]
fn pre_state_calls_get_the_searchers_deadline_capped_by_the_block_time() {
    let m = manager();
    let s = load_searcher(&m, "mode=ok who=7 gas=1000");
    m.activate(&s.id).unwrap();
    let configured = m.effective_limits(PluginKind::Searcher).deadline_ms;
    for block_time_ms in [80_u64, 800] {
        m.set_block_time(block_time_ms);
        let cap = Duration::from_millis((block_time_ms / 8).min(configured));
        assert_eq!(
            m.effective_limits(PluginKind::Searcher).deadline_ms,
            cap.as_millis() as u64
        );
        assert_eq!(
            m.effective_limits(PluginKind::Ordering).deadline_ms,
            (block_time_ms / 2).min(m.config().limits(PluginKind::Ordering).deadline_ms)
        );
        let state = Arc::new(MockState::default());
        let before = Instant::now();
        search(&m, 1, state.clone());
        let after = Instant::now();
        let deadlines = state.deadlines.lock().unwrap().clone();
        assert_eq!(deadlines.len(), 1);
        assert!(
            deadlines[0] >= before + cap && deadlines[0] <= after + cap,
            "block time {block_time_ms} ms: deadline not the searcher's {cap:?} from its start"
        );
    }
}

#[test]
fn the_call_gas_budget_is_per_searcher_per_block() {
    let m = manager();
    // 3M per call against a 10M budget: 3M, 3M, 3M, then the 1M left, then the error.
    let s = load_searcher(&m, "mode=budget gas=3000000 name=three");
    let t = load_searcher(&m, "mode=budget gas=1000000 name=one");
    m.activate(&s.id).unwrap();
    m.activate(&t.id).unwrap();
    assert_eq!(SEARCHER_CALL_GAS_PER_BLOCK, 10_000_000);
    for block in 1..=2 {
        let state = Arc::new(MockState::default());
        let bundles = search(&m, block, state.clone());
        assert_eq!(
            names(&bundles),
            ["fixture-searcher-three", "fixture-searcher-one"]
        );
        let report = |b: &ProposedBundle| {
            let tx = &b.txs[0];
            (
                u64::from_be_bytes(tx[0..8].try_into().unwrap()),
                String::from_utf8(tx[8..].to_vec()).unwrap(),
            )
        };
        assert_eq!(report(&bundles[0]), (4, "gas budget exhausted".to_string()));
        // The other searcher has its own budget.
        assert_eq!(
            report(&bundles[1]),
            (10, "gas budget exhausted".to_string())
        );
        let gas: Vec<u64> = state.calls.lock().unwrap().iter().map(|c| c.3).collect();
        // Who runs first rotates with the block number (answers keep activation order).
        let three = vec![3_000_000, 3_000_000, 3_000_000, 1_000_000];
        let one = vec![1_000_000; 10];
        let expected = if block % 2 == 0 {
            [three, one].concat()
        } else {
            [one, three].concat()
        };
        assert_eq!(gas, expected, "block {block}");
    }
}

#[test]
fn free_calls_still_spend_the_budget_and_big_outputs_are_refused() {
    let m = manager();
    let s = load_searcher(&m, "mode=budget gas=0");
    m.activate(&s.id).unwrap();
    let state = Arc::new(MockState {
        free: true,
        ..Default::default()
    });
    let bundles = search(&m, 1, state.clone());
    let tx = &bundles[0].txs[0];
    // Each call costs MIN_CALL_GAS_CHARGE: 476 of them leave 4 000, the 477th takes it.
    let expected = SEARCHER_CALL_GAS_PER_BLOCK.div_ceil(MIN_CALL_GAS_CHARGE);
    assert_eq!(expected, 477);
    assert_eq!(u64::from_be_bytes(tx[0..8].try_into().unwrap()), expected);
    assert_eq!(state.calls.lock().unwrap().len() as u64, expected);

    // The ok fixture turns the refused call into its own plugin-error.
    let big = load_searcher(&m, "mode=ok name=big");
    m.deactivate(&s.id).unwrap();
    m.activate(&big.id).unwrap();
    let state = Arc::new(MockState {
        big_output: true,
        ..Default::default()
    });
    assert!(search(&m, 2, state).is_empty());
    let h = health_of(&m, &big.id);
    assert_eq!(failures(&m, &big.id, FailureReason::PluginError), 1);
    let last = h.last_failure.unwrap();
    assert!(last.contains("call output of 204800 bytes"), "{last}");
}

/// Unlimited searcher fuel, so the looping fixture always meets the deadline.
fn manager_deadline_only() -> Arc<PluginManager> {
    let mut config = PluginsConfig::default();
    config.searcher.fuel = u64::MAX / 2;
    PluginManager::open(config, None).unwrap()
}

#[test]
fn a_failing_searcher_is_skipped_and_the_others_still_answer() {
    let cases = [
        ("trap", FailureReason::Trap),
        ("loop", FailureReason::Timeout),
        ("garbage", FailureReason::InvalidAnswer),
        ("empty-tx", FailureReason::InvalidAnswer),
        ("error", FailureReason::PluginError),
    ];
    for (mode, reason) in cases {
        let m = manager_deadline_only();
        let first = load_searcher(&m, "mode=ok name=first who=7");
        // `arm=1`: well-behaved in the load-time self-test (block 0).
        let bad = load_searcher(&m, &format!("mode={mode} arm=1"));
        let last = load_searcher(&m, "mode=ok name=last who=7");
        for id in [&first.id, &bad.id, &last.id] {
            m.activate(id).unwrap();
        }
        let bundles = search(&m, 1, Arc::default());
        assert_eq!(
            names(&bundles),
            ["fixture-searcher-first", "fixture-searcher-last"],
            "{mode}"
        );
        assert_eq!(failures(&m, &bad.id, reason), 1, "{mode}");
        let h = health_of(&m, &bad.id);
        assert_eq!(
            (h.calls, h.successes, h.consecutive_failures),
            (1, 0, 1),
            "{mode}"
        );
        let last_failure = h.last_failure.unwrap();
        assert!(
            last_failure.starts_with(reason.as_str()),
            "{mode}: {last_failure}"
        );
        assert_eq!(health_of(&m, &first.id).successes, 1);
        // Still active after one failure.
        assert_eq!(active_ids(&m).len(), 3, "{mode}");
    }
}

#[test]
fn garbage_answers_name_what_is_wrong() {
    let m = manager();
    let bad = load_searcher(&m, "mode=garbage arm=1");
    m.activate(&bad.id).unwrap();
    assert!(search(&m, 1, Arc::default()).is_empty());
    let last = health_of(&m, &bad.id).last_failure.unwrap();
    assert!(last.contains("17 bundles (at most 16)"), "{last}");
}

#[test]
fn consecutive_failures_deactivate_a_searcher_and_a_success_resets_the_streak() {
    let m = manager();
    let good = load_searcher(&m, "mode=ok name=good");
    // Traps from block 2 on: block 1 succeeds.
    let bad = load_searcher(&m, "mode=trap arm=2");
    m.activate(&good.id).unwrap();
    m.activate(&bad.id).unwrap();
    let max = m.config().max_consecutive_failures;
    assert_eq!(max, 3);
    // Block 1: success (no bundles before arm); blocks 2..=3 fail; still active.
    for block in 1..=3 {
        assert_eq!(
            names(&search(&m, block, Arc::default())),
            ["fixture-searcher-good"]
        );
    }
    assert_eq!(health_of(&m, &bad.id).consecutive_failures, 2);
    assert_eq!(active_ids(&m), vec![good.id.clone(), bad.id.clone()]);
    // Block 4: the third failure in a row deactivates it.
    search(&m, 4, Arc::default());
    assert_eq!(active_ids(&m), vec![good.id.clone()]);
    let h = health_of(&m, &bad.id);
    assert_eq!((h.calls, h.rollbacks, h.consecutive_failures), (4, 1, 0));
    assert_eq!(failures(&m, &bad.id, FailureReason::Trap), 3);
    assert_eq!(
        m.list().history[&PluginKind::Searcher],
        vec![bad.id.clone()]
    );
    // It no longer runs.
    assert_eq!(
        names(&search(&m, 5, Arc::default())),
        ["fixture-searcher-good"]
    );
    assert_eq!(health_of(&m, &bad.id).calls, 4);
    // The operator can bring it back; it leaves the history.
    m.activate(&bad.id).unwrap();
    assert!(m.list().history[&PluginKind::Searcher].is_empty());
    assert_eq!(active_ids(&m), vec![good.id.clone(), bad.id.clone()]);
}

#[test]
fn deactivate_rollback_and_unload_of_searchers() {
    let m = manager();
    let a = load_searcher(&m, "mode=ok name=a");
    let b = load_searcher(&m, "mode=ok name=b");
    let c = load_searcher(&m, "mode=ok name=c");
    for id in [&a.id, &b.id, &c.id] {
        m.activate(id).unwrap();
    }
    assert_eq!(m.deactivate(&b.id).unwrap(), b);
    assert!(matches!(
        m.deactivate(&b.id),
        Err(PluginError::NotSupported(_))
    ));
    assert!(matches!(
        m.deactivate("0123456789abcdef"),
        Err(PluginError::UnknownPlugin(_))
    ));
    assert_eq!(active_ids(&m), vec![a.id.clone(), c.id.clone()]);
    // Rollback deactivates the most recently activated searcher.
    assert_eq!(m.rollback(PluginKind::Searcher).unwrap(), None);
    assert_eq!(active_ids(&m), vec![a.id.clone()]);
    assert_eq!(
        m.list().history[&PluginKind::Searcher],
        vec![b.id.clone(), c.id.clone()]
    );
    assert_eq!(health_of(&m, &c.id).rollbacks, 1);
    // Unloading an active searcher deactivates it.
    m.unload(&a.id).unwrap();
    assert!(active_ids(&m).is_empty());
    assert!(search(&m, 1, Arc::default()).is_empty());
    assert_eq!(m.rollback(PluginKind::Searcher).unwrap(), None);
    // Other kinds are not deactivated.
    let codec = m
        .load(
            PluginKind::Compression,
            &testing::fixture("compression"),
            "",
        )
        .unwrap();
    m.activate(&codec.id).unwrap();
    assert!(matches!(
        m.deactivate(&codec.id),
        Err(PluginError::NotSupported(_))
    ));
}

#[test]
fn the_active_searchers_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    let (a, b, c) = {
        let m = PluginManager::open(PluginsConfig::default(), Some(storage.clone())).unwrap();
        let a = load_searcher(&m, "mode=ok name=a");
        let b = load_searcher(&m, "mode=ok name=b");
        let c = load_searcher(&m, "mode=ok name=c");
        for id in [&c.id, &a.id, &b.id] {
            m.activate(id).unwrap();
        }
        m.deactivate(&a.id).unwrap();
        (a, b, c)
    };
    drop(storage);

    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    let m = PluginManager::open(PluginsConfig::default(), Some(storage)).unwrap();
    assert_eq!(active_ids(&m), vec![c.id.clone(), b.id.clone()]);
    assert_eq!(m.list().history[&PluginKind::Searcher], vec![a.id.clone()]);
    assert_eq!(
        names(&search(&m, 1, Arc::default())),
        ["fixture-searcher-c", "fixture-searcher-b"]
    );
    // A rollback after the restart is persisted too.
    m.rollback(PluginKind::Searcher).unwrap();
    drop(m);
    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    let m = PluginManager::open(PluginsConfig::default(), Some(storage)).unwrap();
    assert_eq!(active_ids(&m), vec![c.id.clone()]);
}

#[test]
fn automatic_deactivation_is_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    let good = {
        let m = PluginManager::open(PluginsConfig::default(), Some(storage.clone())).unwrap();
        let good = load_searcher(&m, "mode=ok name=good");
        let bad = load_searcher(&m, "mode=error arm=1");
        m.activate(&bad.id).unwrap();
        m.activate(&good.id).unwrap();
        for block in 1..=3 {
            search(&m, block, Arc::default());
        }
        assert_eq!(failures(&m, &bad.id, FailureReason::PluginError), 3);
        good
    };
    drop(storage);
    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    let m = PluginManager::open(PluginsConfig::default(), Some(storage)).unwrap();
    assert_eq!(active_ids(&m), vec![good.id]);
    assert_eq!(m.list().loaded.len(), 2);
}

#[test]
fn searchers_load_only_as_searchers() {
    let m = manager();
    let err = m
        .load(PluginKind::Searcher, &testing::fixture("ordering"), "")
        .unwrap_err();
    assert!(matches!(err, PluginError::Contract { .. }), "{err}");
    let err = m
        .load(PluginKind::Ordering, &testing::fixture("searcher"), "")
        .unwrap_err();
    assert!(matches!(err, PluginError::ForbiddenImports { .. }), "{err}");
    // A searcher that fails its self-test (it traps at block 0) is refused.
    let err = m
        .load(
            PluginKind::Searcher,
            &testing::fixture("searcher"),
            "mode=trap",
        )
        .unwrap_err();
    assert!(matches!(err, PluginError::SelfTest(_)), "{err}");
    assert!(m.list().loaded.is_empty());
}

#[test]
fn a_spent_round_budget_skips_the_remaining_searchers_without_blaming_them() {
    let m = manager_deadline_only();
    // Two searchers that spin to their deadline use up the round (two deadlines).
    let slow1 = load_searcher(&m, "mode=loop arm=1 name=slow1");
    let slow2 = load_searcher(&m, "mode=loop arm=1 name=slow2");
    let ok = load_searcher(&m, "mode=ok name=ok who=7");
    for id in [&slow1.id, &slow2.id, &ok.id] {
        m.activate(id).unwrap();
    }
    // Block 3 with three searchers: the round starts with the first activated.
    assert!(search(&m, 3, Arc::default()).is_empty());
    let h = health_of(&m, &ok.id);
    assert_eq!(h.failures.values().sum::<u64>(), 0, "skipped is not failed");
    // Block 5 starts with `ok` (5 % 3 = 2): it answers.
    let bundles = search(&m, 5, Arc::default());
    assert_eq!(names(&bundles), ["fixture-searcher-ok"]);
}
