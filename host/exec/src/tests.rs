use std::sync::Arc;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use ordo_primitives::{ChainSpec, GenesisAccount, PooledTx, Provenance};
use ordo_storage::Storage;

use super::*;

fn signed(
    key: &PrivateKeySigner,
    nonce: u64,
    to: TxKind,
    value: u64,
    input: Bytes,
) -> Arc<PooledTx> {
    let tx = TxEip1559 {
        chain_id: 7,
        nonce,
        gas_limit: 200_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::from(value),
        access_list: Default::default(),
        input,
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    Arc::new(PooledTx::from_signed(TxEnvelope::from(tx.into_signed(sig))).unwrap())
}

fn setup(key: &PrivateKeySigner) -> (tempfile::TempDir, Executor, alloy_consensus::Header) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let mut spec = ChainSpec::empty(7);
    spec.alloc.insert(
        key.address(),
        GenesisAccount {
            balance: U256::from(10u128.pow(21)),
            ..Default::default()
        },
    );
    let (commit, root) = StateDb::genesis_commit(&spec).unwrap();
    storage.commit_block(&commit).unwrap();
    let state = Arc::new(StateDb::open(storage).unwrap());
    assert_eq!(state.state_root().unwrap(), root);
    (dir, Executor::new(state, 7), genesis_header(&spec, root))
}

fn params(number: u64) -> BlockParams {
    BlockParams {
        number,
        timestamp: number,
        beneficiary: Address::repeat_byte(0xcb),
        gas_limit: 30_000_000,
        base_fee: 1_000_000_000,
        extra_data: Bytes::new(),
        state_block: None,
        max_tx_bytes: None,
        beacon_root: B256::ZERO,
        ethereum: None,
    }
}

#[test]
fn transfer_block_moves_value_pays_tip_and_roots_match_the_stored_state() {
    let key = PrivateKeySigner::random();
    let (_dir, exec, genesis) = setup(&key);
    let to = Address::repeat_byte(0x11);
    let tx = signed(&key, 0, TxKind::Call(to), 1000, Bytes::new());
    let built = exec
        .build_block(
            &genesis,
            genesis.hash_slow(),
            &params(1),
            std::slice::from_ref(&tx),
            Provenance::default(),
        )
        .unwrap();
    assert_eq!(built.included, vec![tx.hash]);
    assert_eq!(built.block.header.gas_used, 21_000);
    exec.state().storage().commit_block(&built.commit).unwrap();
    exec.state().apply(&built.commit);
    assert_eq!(exec.state().balance(&to), U256::from(1000));
    assert_eq!(exec.state().nonce(&key.address()), 1);
    // The tip (1 gwei * 21000) reaches the coinbase; the base fee, which Ethereum burns,
    // the base fee vault.
    assert_eq!(
        exec.state().balance(&Address::repeat_byte(0xcb)),
        U256::from(21_000u64 * 1_000_000_000)
    );
    assert_eq!(
        exec.state().balance(&ordo_primitives::BASE_FEE_VAULT),
        U256::from(21_000u64 * 1_000_000_000)
    );
    assert_eq!(
        exec.state().state_root().unwrap(),
        built.block.header.state_root
    );
    // Reopening the storage rebuilds the same root.
    let reopened = StateDb::open(exec.state().storage().clone()).unwrap();
    assert_eq!(
        reopened.state_root().unwrap(),
        built.block.header.state_root
    );
}

/// An Ordo block names its L1 origin's beacon root in its header and stores it in
/// EIP-4788's contract under the block's time, where contracts read it.
#[test]
fn a_block_names_and_stores_its_origins_beacon_root() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let spec = ChainSpec::empty(7).with_predeploys();
    let (commit, root) = StateDb::genesis_commit(&spec).unwrap();
    storage.commit_block(&commit).unwrap();
    let exec = Executor::new(Arc::new(StateDb::open(storage).unwrap()), 7);
    let genesis = genesis_header(&spec, root);
    let beacon_root = B256::repeat_byte(0x4b);
    let params = BlockParams {
        timestamp: 12_345,
        beacon_root,
        ..params(1)
    };
    let built = exec
        .build_block(
            &genesis,
            genesis.hash_slow(),
            &params,
            &[],
            Provenance::default(),
        )
        .unwrap();
    assert_eq!(
        built.block.header.parent_beacon_block_root,
        Some(beacon_root)
    );
    exec.state().storage().commit_block(&built.commit).unwrap();
    exec.state().apply(&built.commit);
    // EIP-4788's ring: the time at `time % 8191`, the root 8191 slots on.
    let contract = alloy_eips::eip4788::BEACON_ROOTS_ADDRESS;
    let slot = |i: u64| B256::from(U256::from(i));
    let ring = 12_345 % 8191;
    assert_eq!(
        exec.state().storage_at(&contract, &slot(ring)).unwrap(),
        U256::from(12_345)
    );
    assert_eq!(
        exec.state()
            .storage_at(&contract, &slot(ring + 8191))
            .unwrap(),
        U256::from_be_bytes(beacon_root.0)
    );
    // Replaying the sealed block from its header (as traces do) names the same root.
    let replay = exec
        .build_block(
            &genesis,
            genesis.hash_slow(),
            &BlockParams::of_block(&built.block.header, Some(0)),
            &[],
            Provenance::default(),
        )
        .unwrap();
    assert_eq!(
        replay.block.header.parent_beacon_block_root,
        Some(beacon_root)
    );
    assert_eq!(
        replay.block.header.state_root,
        built.block.header.state_root
    );
}

#[test]
fn invalid_transactions_are_skipped_and_the_block_still_seals() {
    let key = PrivateKeySigner::random();
    let (_dir, exec, genesis) = setup(&key);
    let good = signed(&key, 0, TxKind::Call(Address::ZERO), 1, Bytes::new());
    let gap = signed(&key, 5, TxKind::Call(Address::ZERO), 1, Bytes::new());
    let stale = signed(&key, 0, TxKind::Call(Address::ZERO), 2, Bytes::new());
    let built = exec
        .build_block(
            &genesis,
            genesis.hash_slow(),
            &params(1),
            &[good.clone(), gap.clone(), stale.clone()],
            Provenance::default(),
        )
        .unwrap();
    assert_eq!(built.included, vec![good.hash]);
    assert!(matches!(built.skipped[0], (h, Skipped::Deferred(_)) if h == gap.hash));
    assert!(matches!(built.skipped[1], (h, Skipped::Invalid(_)) if h == stale.hash));
}

#[test]
fn a_block_data_limit_defers_the_transactions_past_it_in_order() {
    let key = PrivateKeySigner::random();
    let (_dir, exec, genesis) = setup(&key);
    let txs: Vec<_> = (0..5)
        .map(|n| signed(&key, n, TxKind::Call(Address::ZERO), 1, Bytes::new()))
        .collect();
    let size = txs[0].encoded.len() as u64;
    // Room for two and a half transactions: two go in, the rest wait in the pool.
    let limited = BlockParams {
        max_tx_bytes: Some(2 * size + size / 2),
        ..params(1)
    };
    let built = exec
        .build_block(
            &genesis,
            genesis.hash_slow(),
            &limited,
            &txs,
            Provenance::default(),
        )
        .unwrap();
    assert_eq!(built.included, vec![txs[0].hash, txs[1].hash]);
    assert_eq!(built.skipped.len(), 3);
    for (_, why) in &built.skipped {
        assert!(
            matches!(why, Skipped::Deferred(w) if w.contains("block data limit")),
            "{why:?}"
        );
    }
}

#[test]
fn contract_storage_logs_and_calls() {
    let key = PrivateKeySigner::random();
    let (_dir, exec, genesis) = setup(&key);
    // Runtime: SSTORE(0, CALLDATALOAD(0)); LOG1(0,0,topic=0x01); return SLOAD(0) as a word.
    let runtime = hex_bytes("600035600055600160006000a160005460005260206000f3");
    // Initcode copies the runtime to memory and returns it.
    let mut init = hex_bytes(&format!(
        "60{:02x}600c60003960{:02x}6000f3",
        runtime.len(),
        runtime.len()
    ))
    .to_vec();
    init.extend_from_slice(&runtime);
    let deploy = signed(&key, 0, TxKind::Create, 0, Bytes::from(init));
    let contract = key.address().create(0);
    let mut word = [0u8; 32];
    word[31] = 42;
    let set = signed(
        &key,
        1,
        TxKind::Call(contract),
        0,
        Bytes::copy_from_slice(&word),
    );
    let built = exec
        .build_block(
            &genesis,
            genesis.hash_slow(),
            &params(1),
            &[deploy, set],
            Provenance::default(),
        )
        .unwrap();
    assert_eq!(built.included.len(), 2);
    assert_eq!(built.commit.receipts[0].contract_address, contract);
    assert_eq!(built.commit.receipts[1].receipt.logs().len(), 1);
    exec.state().storage().commit_block(&built.commit).unwrap();
    exec.state().apply(&built.commit);
    assert_eq!(
        exec.state().storage_at(&contract, &B256::ZERO).unwrap(),
        U256::from(42)
    );
    assert_eq!(exec.state().code_of(&contract).unwrap(), runtime);
    assert_eq!(
        exec.state().state_root().unwrap(),
        built.block.header.state_root
    );

    let mut seven = [0u8; 32];
    seven[31] = 7;
    let request = alloy_rpc_types_eth::TransactionRequest {
        to: Some(TxKind::Call(contract)),
        input: Bytes::copy_from_slice(&seven).into(),
        ..Default::default()
    };
    // The call's write is simulated: it returns 7 but the stored value stays 42.
    let out = exec.call(&params(2), &request, None, None).unwrap();
    assert_eq!(U256::from_be_slice(&out.output), U256::from(7));
    assert_eq!(
        exec.state().storage_at(&contract, &B256::ZERO).unwrap(),
        U256::from(42)
    );
    let gas = exec.estimate_gas(&params(2), &request, None, None).unwrap();
    assert!(gas > 21_000 && gas < 100_000, "estimate {gas}");
}

fn hex_bytes(s: &str) -> Bytes {
    Bytes::from(hex_decode(s))
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn a_reverting_transaction_is_included_with_status_zero_and_pays_gas() {
    let key = PrivateKeySigner::random();
    let (_dir, exec, genesis) = setup(&key);
    // Runtime: REVERT(0, 0). Initcode copies those 5 bytes out and returns them.
    let runtime = hex_bytes("60006000fd");
    let mut init = hex_bytes("6005600c60003960056000f3").to_vec();
    init.extend_from_slice(&runtime);
    let deploy = signed(&key, 0, TxKind::Create, 0, Bytes::from(init));
    let contract = key.address().create(0);
    let call = signed(&key, 1, TxKind::Call(contract), 0, Bytes::new());
    let built = exec
        .build_block(
            &genesis,
            genesis.hash_slow(),
            &params(1),
            &[deploy, call.clone()],
            Provenance::default(),
        )
        .unwrap();
    assert_eq!(built.included.len(), 2);
    let receipt = &built.commit.receipts[1];
    assert!(!receipt.receipt.is_success());
    assert!(receipt.gas_used > 21_000);
    exec.state().storage().commit_block(&built.commit).unwrap();
    exec.state().apply(&built.commit);
    // The nonce advanced: the reverted call happened.
    assert_eq!(exec.state().nonce(&key.address()), 2);
    let request = alloy_rpc_types_eth::TransactionRequest {
        to: Some(TxKind::Call(contract)),
        ..Default::default()
    };
    assert!(matches!(
        exec.call(&params(2), &request, None, None),
        Err(ExecError::Reverted { .. })
    ));
}

/// Gas does not bound time: a call given a deadline is stopped there and says so, instead
/// of spinning through its whole gas; without one it runs to its gas limit (out of gas).
#[test]
fn a_call_past_its_deadline_stops_with_timed_out() {
    let key = PrivateKeySigner::random();
    let (_dir, exec, _genesis) = setup(&key);
    // Initcode `JUMPDEST PUSH1 0 JUMP`: loops until the gas runs out.
    let spin = alloy_rpc_types_eth::TransactionRequest {
        to: Some(TxKind::Create),
        input: hex_bytes("5b600056").into(),
        gas: Some(crate::CALL_GAS_CAP),
        ..Default::default()
    };
    let past = std::time::Instant::now();
    assert!(matches!(
        exec.call(&params(1), &spin, None, Some(past)),
        Err(ExecError::TimedOut)
    ));
    let soon = std::time::Instant::now() + std::time::Duration::from_millis(5);
    assert!(matches!(
        exec.call(&params(1), &spin, None, Some(soon)),
        Err(ExecError::TimedOut)
    ));
    assert!(matches!(
        exec.estimate_gas(&params(1), &spin, None, Some(soon)),
        Err(ExecError::TimedOut)
    ));
    assert!(matches!(
        exec.call_raw(&params(1), &spin, Some(soon)),
        Err(ExecError::TimedOut)
    ));
    let small = alloy_rpc_types_eth::TransactionRequest {
        gas: Some(100_000),
        ..spin
    };
    let far = std::time::Instant::now() + std::time::Duration::from_secs(600);
    // Out of gas, in geth's words.
    assert!(matches!(
        exec.call(&params(1), &small, None, Some(far)),
        Err(ExecError::Halted(why)) if why == "out of gas"
    ));
}

/// A contract that always reverts with the 32-byte word 42.
const REVERTER: Address = Address::repeat_byte(0xee);

fn bundle_setup(
    keys: &[&PrivateKeySigner],
) -> (tempfile::TempDir, Executor, alloy_consensus::Header) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let mut spec = ChainSpec::empty(7);
    for key in keys {
        spec.alloc.insert(
            key.address(),
            GenesisAccount {
                balance: U256::from(10u128.pow(21)),
                ..Default::default()
            },
        );
    }
    // PUSH1 42 PUSH1 0 MSTORE PUSH1 32 PUSH1 0 REVERT
    spec.alloc.insert(
        REVERTER,
        GenesisAccount {
            code: hex_bytes("602a60005260206000fd"),
            ..Default::default()
        },
    );
    let (commit, root) = StateDb::genesis_commit(&spec).unwrap();
    storage.commit_block(&commit).unwrap();
    let state = Arc::new(StateDb::open(storage).unwrap());
    (dir, Executor::new(state, 7), genesis_header(&spec, root))
}

fn unsigned(tx: &Arc<PooledTx>) -> PooledTx {
    (**tx).clone()
}

#[test]
fn bundle_of_two_transfers_sees_earlier_writes_and_pays_only_tips() {
    let alice = PrivateKeySigner::random();
    let (_dir, exec, _genesis) = bundle_setup(&[&alice]);
    let bob = Address::repeat_byte(0x22);
    // The second tx has nonce 1: it is only valid after the first.
    let txs = [
        unsigned(&signed(&alice, 0, TxKind::Call(bob), 1000, Bytes::new())),
        unsigned(&signed(&alice, 1, TxKind::Call(bob), 2000, Bytes::new())),
    ];
    let p = params(1);
    let out = exec.simulate_bundle(&p, B256::ZERO, &txs).unwrap();
    assert_eq!(out.results.len(), 2);
    // Tip: min(1 gwei, 10 gwei - 1 gwei base fee) = 1 gwei.
    let fees = U256::from(21_000u64 * 1_000_000_000);
    for (r, tx) in out.results.iter().zip(&txs) {
        assert_eq!(r.hash, tx.hash);
        assert_eq!(r.from, alice.address());
        assert_eq!(r.to, Some(bob));
        assert_eq!(r.gas_used, 21_000);
        assert_eq!(r.gas_fees, fees);
        assert_eq!(r.coinbase_diff, fees);
        assert_eq!(r.eth_sent_to_coinbase(), U256::ZERO);
        assert!(r.output.is_empty());
        assert_eq!(r.error, None);
        assert!(!r.reverted);
    }
    assert_eq!(out.total_gas_used, 42_000);
    assert_eq!(out.coinbase_diff, fees * U256::from(2));
    assert_eq!(out.gas_fees, fees * U256::from(2));
    assert_eq!(out.eth_sent_to_coinbase(), U256::ZERO);
    assert_eq!(out.bundle_gas_price(), U256::from(1_000_000_000u64));
    // Nothing reached the state.
    assert_eq!(exec.state().nonce(&alice.address()), 0);
    assert_eq!(exec.state().balance(&bob), U256::ZERO);
    assert_eq!(exec.state().balance(&p.beneficiary), U256::ZERO);

    // Out of order, the nonce-1 tx is invalid and fails the whole bundle.
    let err = exec
        .simulate_bundle(&p, B256::ZERO, &[txs[1].clone(), txs[0].clone()])
        .unwrap_err();
    assert!(matches!(err, ExecError::Invalid(_)), "{err:?}");
    assert!(err.to_string().starts_with("tx 0: "), "{err}");
    // A replay of the same tx is a nonce error on tx 1.
    let err = exec
        .simulate_bundle(&p, B256::ZERO, &[txs[0].clone(), txs[0].clone()])
        .unwrap_err();
    assert!(err.to_string().starts_with("tx 1: "), "{err}");
    assert!(matches!(
        exec.simulate_bundle(&p, B256::ZERO, &[]),
        Err(ExecError::InvalidParams(_))
    ));
}

#[test]
fn bundle_reports_a_direct_coinbase_payment() {
    let alice = PrivateKeySigner::random();
    let (_dir, exec, _genesis) = bundle_setup(&[&alice]);
    let p = params(1);
    let bribe = 5_000_000_000_000u64;
    let txs = [
        unsigned(&signed(
            &alice,
            0,
            TxKind::Call(Address::repeat_byte(0x22)),
            1,
            Bytes::new(),
        )),
        unsigned(&signed(
            &alice,
            1,
            TxKind::Call(p.beneficiary),
            bribe,
            Bytes::new(),
        )),
    ];
    let out = exec.simulate_bundle(&p, B256::ZERO, &txs).unwrap();
    let fees = U256::from(21_000u64 * 1_000_000_000);
    assert_eq!(out.results[0].eth_sent_to_coinbase(), U256::ZERO);
    let paid = &out.results[1];
    assert_eq!(paid.gas_fees, fees);
    assert_eq!(paid.coinbase_diff, fees + U256::from(bribe));
    assert_eq!(paid.eth_sent_to_coinbase(), U256::from(bribe));
    assert_eq!(out.eth_sent_to_coinbase(), U256::from(bribe));
    assert_eq!(out.coinbase_diff, fees * U256::from(2) + U256::from(bribe));
    assert_eq!(
        out.bundle_gas_price(),
        out.coinbase_diff / U256::from(42_000u64)
    );
}

#[test]
fn bundle_reverts_are_results_and_insufficient_funds_fail_the_bundle() {
    let alice = PrivateKeySigner::random();
    let poor = PrivateKeySigner::random();
    let (_dir, exec, genesis) = bundle_setup(&[&alice]);
    let p = params(1);
    let revert = unsigned(&signed(&alice, 0, TxKind::Call(REVERTER), 0, Bytes::new()));
    let after = unsigned(&signed(
        &alice,
        1,
        TxKind::Call(Address::repeat_byte(0x22)),
        0,
        Bytes::new(),
    ));
    let out = exec
        .simulate_bundle(
            &p,
            alloy_primitives::keccak256(genesis.hash_slow()),
            &[revert, after],
        )
        .unwrap();
    let r = &out.results[0];
    assert!(r.reverted);
    assert_eq!(r.error.as_deref(), Some("execution reverted"));
    assert_eq!(
        r.output,
        Bytes::from(U256::from(42).to_be_bytes::<32>().to_vec())
    );
    assert!(r.gas_used > 21_000);
    assert_eq!(r.coinbase_diff, r.gas_fees);
    // The reverted tx still used its nonce: the next one runs.
    assert_eq!(out.results[1].error, None);

    let broke = unsigned(&signed(
        &poor,
        0,
        TxKind::Call(Address::repeat_byte(0x22)),
        0,
        Bytes::new(),
    ));
    let err = exec.simulate_bundle(&p, B256::ZERO, &[broke]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tx 0: insufficient funds for gas * price + value"
    );
}

/// Runtime code that always reverts: `REVERT(0, 0)`.
const REVERT_CODE: &str = "60006000fd";
/// Runtime code that forwards its call value to the block's coinbase.
const PAY_COINBASE: &str = "600060006000600034415af100";

fn plan_setup() -> (
    tempfile::TempDir,
    Executor,
    alloy_consensus::Header,
    PrivateKeySigner,
    PrivateKeySigner,
) {
    let a = PrivateKeySigner::random();
    let b = PrivateKeySigner::random();
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let mut spec = ChainSpec::empty(7);
    for key in [&a, &b] {
        spec.alloc.insert(
            key.address(),
            GenesisAccount {
                balance: U256::from(10u128.pow(21)),
                ..Default::default()
            },
        );
    }
    for (byte, code) in [(0xd0, REVERT_CODE), (0xd1, PAY_COINBASE)] {
        spec.alloc.insert(
            Address::repeat_byte(byte),
            GenesisAccount {
                code: hex_bytes(code),
                ..Default::default()
            },
        );
    }
    let (commit, root) = StateDb::genesis_commit(&spec).unwrap();
    storage.commit_block(&commit).unwrap();
    let state = Arc::new(StateDb::open(storage).unwrap());
    (
        dir,
        Executor::new(state, 7),
        genesis_header(&spec, root),
        a,
        b,
    )
}

fn bundle(txs: &[&Arc<PooledTx>], reverting: &[B256], after: Option<B256>) -> BlockItem {
    let txs: Vec<Arc<PooledTx>> = txs.iter().map(|t| (*t).clone()).collect();
    let mut id = Vec::new();
    for tx in &txs {
        id.extend_from_slice(tx.hash.as_slice());
    }
    BlockItem::Bundle(BundleItem {
        id: alloy_primitives::keccak256(&id),
        txs,
        reverting_tx_hashes: reverting.to_vec(),
        after,
    })
}

fn build_and_commit(
    exec: &Executor,
    genesis: &alloy_consensus::Header,
    items: &[BlockItem],
) -> BuiltBlock {
    let built = exec
        .build_block_items(
            genesis,
            genesis.hash_slow(),
            &params(1),
            items,
            Provenance::default(),
        )
        .unwrap();
    exec.state().storage().commit_block(&built.commit).unwrap();
    exec.state().apply(&built.commit);
    assert_eq!(
        exec.state().state_root().unwrap(),
        built.block.header.state_root
    );
    built
}

#[test]
fn a_bundle_whose_transaction_reverts_is_dropped_whole_and_its_state_rolled_back() {
    let (_dir, exec, genesis, a, b) = plan_setup();
    let x = Address::repeat_byte(0x42);
    let pay = signed(&a, 0, TxKind::Call(x), 1000, Bytes::new());
    let revert = signed(
        &a,
        1,
        TxKind::Call(Address::repeat_byte(0xd0)),
        0,
        Bytes::new(),
    );
    let public = signed(&b, 0, TxKind::Call(x), 7, Bytes::new());
    let built = build_and_commit(
        &exec,
        &genesis,
        &[
            bundle(&[&pay, &revert], &[], None),
            BlockItem::Tx(public.clone()),
        ],
    );
    assert_eq!(built.included, vec![public.hash]);
    assert!(
        matches!(
            &built.bundles[0].1,
            BundleResult::Dropped(DropReason::Reverted { index: 1, .. })
        ),
        "{:?}",
        built.bundles
    );
    // The first transaction's transfer was undone with the bundle.
    assert_eq!(exec.state().balance(&x), U256::from(7));
    assert_eq!(exec.state().nonce(&a.address()), 0);
    assert_eq!(built.commit.receipts.len(), 1);
    assert_eq!(
        built.commit.receipts[0].receipt.cumulative_gas_used(),
        21_000
    );
}

#[test]
fn an_allowed_revert_keeps_the_bundle_and_a_bundle_with_an_invalid_tx_is_dropped() {
    let (_dir, exec, genesis, a, b) = plan_setup();
    let x = Address::repeat_byte(0x42);
    let pay = signed(&a, 0, TxKind::Call(x), 1000, Bytes::new());
    let revert = signed(
        &a,
        1,
        TxKind::Call(Address::repeat_byte(0xd0)),
        0,
        Bytes::new(),
    );
    let b_ok = signed(&b, 0, TxKind::Call(x), 5, Bytes::new());
    let b_gap = signed(&b, 9, TxKind::Call(x), 5, Bytes::new());
    let built = build_and_commit(
        &exec,
        &genesis,
        &[
            bundle(&[&pay, &revert], &[revert.hash], None),
            bundle(&[&b_ok, &b_gap], &[], None),
        ],
    );
    assert_eq!(built.included, vec![pay.hash, revert.hash]);
    assert!(matches!(built.bundles[0].1, BundleResult::Landed { .. }));
    assert!(
        matches!(
            &built.bundles[1].1,
            BundleResult::Dropped(DropReason::Invalid { index: 1, .. })
        ),
        "{:?}",
        built.bundles
    );
    assert!(!built.commit.receipts[1].receipt.is_success());
    assert_eq!(exec.state().balance(&x), U256::from(1000));
    assert_eq!(exec.state().nonce(&b.address()), 0);
}

#[test]
fn bundles_report_what_reached_the_coinbase_and_backruns_need_their_target() {
    let (_dir, exec, genesis, a, b) = plan_setup();
    let target = signed(
        &b,
        0,
        TxKind::Call(Address::repeat_byte(0x42)),
        1,
        Bytes::new(),
    );
    let bid = 5_000_000_000_000_000u64;
    let backrun = signed(
        &a,
        0,
        TxKind::Call(Address::repeat_byte(0xd1)),
        bid,
        Bytes::new(),
    );
    let orphan = signed(
        &a,
        1,
        TxKind::Call(Address::repeat_byte(0xd1)),
        1,
        Bytes::new(),
    );
    let built = build_and_commit(
        &exec,
        &genesis,
        &[
            BlockItem::Tx(target.clone()),
            bundle(&[&backrun], &[], Some(target.hash)),
            bundle(&[&orphan], &[], Some(B256::repeat_byte(9))),
        ],
    );
    assert_eq!(built.included, vec![target.hash, backrun.hash]);
    let BundleResult::Landed {
        gas_used,
        coinbase_diff,
    } = built.bundles[0].1.clone()
    else {
        panic!("backrun dropped: {:?}", built.bundles);
    };
    // Tip (1 gwei per gas) plus the direct payment.
    assert_eq!(
        coinbase_diff,
        U256::from(bid) + U256::from(gas_used) * U256::from(1_000_000_000u64)
    );
    assert!(matches!(
        &built.bundles[1].1,
        BundleResult::Dropped(DropReason::TargetMissing(_))
    ));
}

/// The state root from scratch over everything stored: every account's storage root
/// recomputed from its slots, then the account trie. Checks each stored storage root too.
fn scratch_state_root(storage: &Storage) -> B256 {
    use alloy_trie::{HashBuilder, Nibbles};
    let mut accounts = alloy_trie::HashBuilder::default();
    let mut cursor = Some(B256::ZERO);
    while let Some(from) = cursor {
        let Some((hashed, record)) = storage.live().next_account(&from).unwrap() else {
            break;
        };
        let mut slots = HashBuilder::default();
        let mut slot_cursor = Some(B256::ZERO);
        while let Some(from) = slot_cursor {
            let Some((slot, value)) = storage.live().next_slot(&hashed, &from).unwrap() else {
                break;
            };
            slots.add_leaf(Nibbles::unpack(slot), &trie::slot_leaf(&value));
            slot_cursor = next(&slot);
        }
        assert_eq!(
            slots.root(),
            record.storage_root,
            "storage root of {hashed}"
        );
        accounts.add_leaf(Nibbles::unpack(hashed), &trie::account_leaf(&record));
        cursor = next(&hashed);
    }
    accounts.root()
}

fn next(key: &B256) -> Option<B256> {
    let (n, overflow) = U256::from_be_bytes(key.0).overflowing_add(U256::from(1));
    (!overflow).then(|| B256::from(n))
}

/// Runtime: SSTORE(CALLDATALOAD(0), CALLDATALOAD(32)); with 64 bytes of calldata a caller
/// sets any slot to any value (zero deletes it).
const SETTER: [u8; 8] = [0x60, 0x20, 0x35, 0x60, 0x00, 0x35, 0x55, 0x00];

/// Initcode: sets `slots`, then returns [`SETTER`].
fn setter_initcode(slots: &[(u8, u8)]) -> Bytes {
    let mut code = Vec::new();
    for (k, v) in slots {
        code.extend_from_slice(&[0x60, *v, 0x60, *k, 0x55]);
    }
    let offset = code.len() + 12;
    code.extend_from_slice(&[
        0x60,
        SETTER.len() as u8,
        0x80,
        0x60,
        offset as u8,
        0x60,
        0x00,
        0x39,
        0x60,
        0x00,
        0xf3,
    ]);
    code.push(0x00);
    assert_eq!(code.len(), offset);
    code.extend_from_slice(&SETTER);
    code.into()
}

/// The random-block tests' chain: a funded key, empty accounts (touching one removes it,
/// EIP-161: a deletion in the trie) and a setter contract with storage from genesis.
struct RandomChain {
    rng: rand::rngs::StdRng,
    key: PrivateKeySigner,
    nonce: u64,
    empties: Vec<Address>,
    setters: Vec<Address>,
}

impl RandomChain {
    fn new(seed: u64) -> (Self, ChainSpec) {
        use rand::SeedableRng;
        let key = PrivateKeySigner::random();
        let mut spec = ChainSpec::empty(7);
        spec.alloc.insert(
            key.address(),
            GenesisAccount {
                balance: U256::from(10u128.pow(24)),
                ..Default::default()
            },
        );
        let empties: Vec<Address> = (1..=12u8).map(Address::repeat_byte).collect();
        for a in &empties {
            spec.alloc.insert(*a, GenesisAccount::default());
        }
        let setter = Address::repeat_byte(0xee);
        spec.alloc.insert(
            setter,
            GenesisAccount {
                code: Bytes::copy_from_slice(&SETTER),
                storage: (0..40u64)
                    .map(|i| (B256::from(U256::from(i)), U256::from(i + 1)))
                    .collect(),
                ..Default::default()
            },
        );
        let chain = Self {
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            key,
            nonce: 0,
            empties,
            setters: vec![setter],
        };
        (chain, spec)
    }

    /// 1 to 24 transactions: transfers to new accounts, touches of empty ones, contracts
    /// created with slots, created and destroyed at once, and slot writes (half clearing).
    fn txs(&mut self) -> Vec<Arc<PooledTx>> {
        use rand::Rng;
        let rng = &mut self.rng;
        let mut txs = Vec::new();
        for _ in 0..rng.random_range(1..25) {
            let (to, value, input) = match rng.random_range(0..6) {
                0 => (
                    TxKind::Call(Address::from(rng.random::<[u8; 20]>())),
                    1 + rng.random_range(0..1000),
                    Bytes::new(),
                ),
                1 => {
                    let a = self.empties[rng.random_range(0..self.empties.len())];
                    (TxKind::Call(a), 0, Bytes::new())
                }
                2 => {
                    let slots: Vec<(u8, u8)> = (0..rng.random_range(0..5))
                        .map(|_| (rng.random(), rng.random()))
                        .collect();
                    (TxKind::Create, 0, setter_initcode(&slots))
                }
                3 => {
                    // Created and destroyed in one transaction.
                    let mut init = vec![0x73];
                    init.extend_from_slice(self.key.address().as_slice());
                    init.push(0xff);
                    (TxKind::Create, 5, Bytes::from(init))
                }
                _ => {
                    let target = self.setters[rng.random_range(0..self.setters.len())];
                    let mut data = [0u8; 64];
                    data[31] = rng.random_range(0..45);
                    if rng.random_bool(0.5) {
                        data[63] = rng.random();
                    }
                    (TxKind::Call(target), 0, Bytes::copy_from_slice(&data))
                }
            };
            if matches!(to, TxKind::Create) {
                self.setters.push(self.key.address().create(self.nonce));
            }
            txs.push(signed(&self.key, self.nonce, to, value, input));
            self.nonce += 1;
        }
        txs
    }

    /// Builds blocks `numbers` on `parent`, pipelined as the builder runs them (each built
    /// while the one before is only staged), checking every stored root; returns the headers
    /// and how many accounts were deleted and slots cleared.
    fn build(
        &mut self,
        exec: &Executor,
        storage: &Storage,
        parent: &alloy_consensus::Header,
        numbers: std::ops::RangeInclusive<u64>,
    ) -> (Vec<alloy_consensus::Header>, usize, usize) {
        let mut parent = parent.clone();
        let (mut deleted, mut cleared) = (0, 0);
        let mut headers = Vec::new();
        let mut in_flight = None;
        for number in numbers {
            let txs = self.txs();
            let built = exec
                .build_block(
                    &parent,
                    parent.hash_slow(),
                    &params(number),
                    &txs,
                    Provenance::default(),
                )
                .unwrap();
            assert_eq!(built.included.len(), txs.len(), "block {number}");
            deleted += built
                .commit
                .accounts
                .iter()
                .filter(|(_, c)| matches!(c, ordo_storage::AccountChange::Delete))
                .count();
            cleared += built
                .commit
                .storage
                .iter()
                .filter(|(_, _, v)| v.is_zero())
                .count();
            if let Some((commit, staged, header)) = in_flight.take() {
                store_staged(exec, storage, &commit, &staged, &header);
            }
            let staged = exec.state().stage(&built.commit);
            parent = built.block.header.clone();
            headers.push(parent.clone());
            in_flight = Some((built.commit, staged, parent.clone()));
        }
        if let Some((commit, staged, header)) = in_flight.take() {
            store_staged(exec, storage, &commit, &staged, &header);
        }
        (headers, deleted, cleared)
    }

    /// Accounts worth a proof: the sender, one that never existed, empties and setters.
    fn proved(&self) -> Vec<Address> {
        let mut who: Vec<Address> = vec![self.key.address(), Address::repeat_byte(0x99)];
        who.extend(self.empties.iter().take(3));
        who.extend(self.setters.iter().take(4));
        who
    }
}

#[test]
fn roots_over_random_blocks_equal_roots_from_scratch() {
    for seed in 0..4u64 {
        let (mut chain, spec) = RandomChain::new(seed);
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let genesis = write_genesis(&storage, &spec).unwrap();
        assert_eq!(scratch_state_root(&storage), genesis.header.state_root);
        let exec = Executor::new(Arc::new(StateDb::open(storage.clone()).unwrap()), 7);
        let (mut headers, deleted, cleared) = chain.build(&exec, &storage, &genesis.header, 1..=12);
        headers.insert(0, genesis.header.clone());
        // Proofs at every block, of accounts that changed, disappeared or never existed.
        for header in &headers {
            for address in chain.proved() {
                check_proof(&exec, header, address);
            }
        }
        // The run removed accounts and cleared slots, not only added them.
        assert!(
            deleted > 0 && cleared > 0,
            "seed {seed}: {deleted} deleted, {cleared} cleared"
        );
    }
}

#[test]
fn trie_nodes_a_crash_lost_are_recomputed_when_the_state_opens() {
    for seed in 0..3u64 {
        let (mut chain, spec) = RandomChain::new(seed + 40);
        let dir = tempfile::tempdir().unwrap();
        let (genesis, headers) = {
            let storage = Storage::open(dir.path()).unwrap();
            let genesis = write_genesis(&storage, &spec).unwrap();
            let exec = Executor::new(Arc::new(StateDb::open(storage.clone()).unwrap()), 7);
            let (before, _, _) = chain.build(&exec, &storage, &genesis.header, 1..=3);
            storage.flush_indexes().unwrap();
            // From here the nodes stay in memory, and are lost with it.
            storage.set_write_behind(false);
            let (after, _, _) = chain.build(&exec, &storage, before.last().unwrap(), 4..=9);
            (genesis, [before, after].concat())
        };
        let storage = Storage::open(dir.path()).unwrap();
        assert_eq!(storage.trie_behind().unwrap(), Some(3), "seed {seed}");
        assert!(storage.live().account_node_at(&Default::default()).is_err());
        let exec = Executor::new(Arc::new(StateDb::open(storage.clone()).unwrap()), 7);
        assert_eq!(storage.trie_behind().unwrap(), None);
        let head = headers.last().unwrap();
        assert_eq!(scratch_state_root(&storage), head.state_root);
        assert_eq!(exec.state().state_root().unwrap(), head.state_root);
        for header in [&genesis.header, &headers[2], head] {
            for address in chain.proved() {
                check_proof(&exec, header, address);
            }
        }
        // The chain goes on from the recomputed tries.
        chain.build(&exec, &storage, head, 10..=13);
        storage.flush_indexes().unwrap();
        drop((exec, storage));
        let storage = Storage::open(dir.path()).unwrap();
        assert_eq!(storage.trie_behind().unwrap(), None);
    }
}

/// Stores a staged block and checks the stored state's root, from scratch and from the
/// stored trie, against its header.
fn store_staged(
    exec: &Executor,
    storage: &Storage,
    commit: &ordo_storage::BlockCommit,
    staged: &Arc<ordo_storage::Staged>,
    header: &alloy_consensus::Header,
) {
    exec.state().commit_staged(commit, staged).unwrap();
    assert_eq!(
        scratch_state_root(storage),
        header.state_root,
        "block {}",
        header.number
    );
    assert_eq!(exec.state().state_root().unwrap(), header.state_root);
}

/// `eth_getProof` of `address` (and slots 0..45) at `header`'s block verifies against the
/// header's state root and the account's storage root.
fn check_proof(exec: &Executor, header: &alloy_consensus::Header, address: Address) {
    use alloy_trie::{Nibbles, proof::verify_proof};
    let slots: Vec<B256> = (0..45u64).map(|i| B256::from(U256::from(i))).collect();
    let proof = exec
        .state()
        .proof(address, &slots, Some(header.number))
        .unwrap();
    let storage = exec.state().storage();
    let account = storage.account_at(&address, header.number).unwrap();
    assert_eq!(proof.account, account);
    verify_proof(
        header.state_root,
        Nibbles::unpack(alloy_primitives::keccak256(address)),
        account.as_ref().map(trie::account_leaf),
        &proof.account_proof,
    )
    .unwrap_or_else(|e| panic!("account {address} at {}: {e}", header.number));
    for slot in &proof.storage {
        let value = storage
            .storage_at(&address, &slot.slot, header.number)
            .unwrap();
        assert_eq!(slot.value, value);
        match &account {
            Some(record) => verify_proof(
                record.storage_root,
                Nibbles::unpack(alloy_primitives::keccak256(slot.slot)),
                (!value.is_zero()).then(|| trie::slot_leaf(&value)),
                &slot.proof,
            )
            .unwrap_or_else(|e| {
                panic!("slot {} of {address} at {}: {e}", slot.slot, header.number)
            }),
            None => assert!(value.is_zero() && slot.proof.is_empty()),
        }
    }
}

#[test]
fn a_bulk_genesis_equals_the_same_genesis_written_in_one_batch() {
    let key = PrivateKeySigner::random();
    let mut spec = ChainSpec::empty(7);
    spec.alloc.insert(
        key.address(),
        GenesisAccount {
            balance: U256::from(10u128.pow(21)),
            ..Default::default()
        },
    );
    let contract = Address::repeat_byte(0xee);
    let slots: Vec<(B256, U256)> = (0..300u64)
        .map(|i| (B256::from(U256::from(i)), U256::from(i * 7)))
        .collect();
    let bulk: Vec<BulkAccount> = (0..2000u64)
        .map(|i| BulkAccount {
            address: Address::from_word(alloy_primitives::keccak256(i.to_be_bytes())),
            balance: U256::from(i + 1),
            ..Default::default()
        })
        .chain([BulkAccount {
            address: contract,
            code: Bytes::copy_from_slice(&SETTER),
            storage: slots.clone(),
            ..Default::default()
        }])
        .collect();
    let mut whole = spec.clone();
    for a in &bulk {
        whole.alloc.insert(
            a.address,
            GenesisAccount {
                balance: a.balance,
                code: a.code.clone(),
                storage: a.storage.iter().copied().collect(),
                ..Default::default()
            },
        );
    }
    let one = tempfile::tempdir().unwrap();
    let one = Storage::open(one.path()).unwrap();
    let expected = write_genesis(&one, &whole).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let block = write_bulk_genesis(&storage, &spec, bulk).unwrap();
    assert_eq!(block.hash, expected.hash);
    assert_eq!(scratch_state_root(&storage), block.header.state_root);
    assert_eq!(
        storage
            .storage(&contract, &B256::from(U256::from(5)))
            .unwrap(),
        U256::from(35)
    );
    // A bulk datadir goes on like any other: a block on top, roots from the stored trie.
    let exec = Executor::new(Arc::new(StateDb::open(storage.clone()).unwrap()), 7);
    assert_eq!(exec.state().state_root().unwrap(), block.header.state_root);
    let tx = signed(&key, 0, TxKind::Call(contract), 0, {
        let mut data = [0u8; 64];
        data[31] = 5;
        Bytes::copy_from_slice(&data)
    });
    let built = exec
        .build_block(
            &block.header,
            block.hash,
            &params(1),
            &[tx],
            Provenance::default(),
        )
        .unwrap();
    storage.commit_block(&built.commit).unwrap();
    exec.state().apply(&built.commit);
    assert_eq!(scratch_state_root(&storage), built.block.header.state_root);
    assert_eq!(
        storage
            .storage(&contract, &B256::from(U256::from(5)))
            .unwrap(),
        U256::ZERO
    );
    // A bulk load goes into an empty datadir only.
    assert!(storage.ingest_state(Default::default()).is_err());
}

fn deposit(
    from: Address,
    to: TxKind,
    mint: u128,
    value: u64,
    gas_limit: u64,
    input: Bytes,
    log_index: u64,
) -> Arc<ordo_primitives::DepositTx> {
    Arc::new(ordo_primitives::DepositTx::new(
        ordo_primitives::TxDeposit {
            source_hash: ordo_primitives::UserDepositSource::new(
                B256::repeat_byte(0x1a),
                log_index,
            )
            .source_hash(),
            from,
            to,
            mint,
            value: U256::from(value),
            gas_limit,
            is_system_transaction: false,
            input,
        },
    ))
}

#[test]
fn deposits_mint_run_free_of_fees_and_a_failing_one_keeps_its_mint_and_bumps_the_nonce() {
    let key = PrivateKeySigner::random();
    let (_dir, exec, genesis) = setup(&key);
    let (alice, bob) = (Address::repeat_byte(0xa1), Address::repeat_byte(0xb0));
    // Runtime: REVERT(0, 0), deployed by the key's first transaction.
    let runtime = hex_bytes("60006000fd");
    let mut init = hex_bytes("6005600c60003960056000f3").to_vec();
    init.extend_from_slice(&runtime);
    let reverter = key.address().create(0);
    let ok = deposit(
        alice,
        TxKind::Call(bob),
        1_000,
        300,
        100_000,
        Bytes::new(),
        0,
    );
    let reverts = deposit(
        alice,
        TxKind::Call(reverter),
        50,
        0,
        100_000,
        Bytes::new(),
        1,
    );
    // Asks for more value than it holds even after its mint: it cannot run at all.
    let broke = deposit(
        alice,
        TxKind::Call(bob),
        1,
        1_000_000,
        60_000,
        Bytes::new(),
        2,
    );
    let deploy = signed(&key, 0, TxKind::Create, 0, Bytes::from(init));
    let built = build_and_commit(
        &exec,
        &genesis,
        &[
            BlockItem::Tx(deploy.clone()),
            BlockItem::Deposit(ok.clone()),
            BlockItem::Deposit(reverts.clone()),
            BlockItem::Deposit(broke.clone()),
        ],
    );
    assert_eq!(
        built.included,
        vec![deploy.hash, ok.hash, reverts.hash, broke.hash]
    );
    assert!(built.skipped.is_empty());
    let state = exec.state();
    // Minted 1000 + 50 + 1; 300 went to bob; nothing paid for gas.
    assert_eq!(state.balance(&alice), U256::from(1_000 + 50 + 1 - 300));
    assert_eq!(state.balance(&bob), U256::from(300));
    assert_eq!(
        state.nonce(&alice),
        3,
        "every deposit bumps the nonce, failed or not"
    );

    let receipts = &built.commit.receipts;
    let ok_receipt = &receipts[1];
    assert!(ok_receipt.receipt.is_success());
    assert_eq!(ok_receipt.gas_used, 21_000);
    assert_eq!(ok_receipt.effective_gas_price, 0);
    assert_eq!(ok_receipt.receipt.deposit_nonce(), Some(0));
    assert_eq!(ok_receipt.receipt.deposit_receipt_version(), Some(1));
    assert!(!receipts[2].receipt.is_success());
    assert_eq!(receipts[2].receipt.deposit_nonce(), Some(1));
    assert!(!receipts[3].receipt.is_success());
    assert_eq!(
        receipts[3].gas_used, 60_000,
        "an unrunnable deposit uses its whole limit"
    );
    assert_eq!(receipts[3].receipt.deposit_nonce(), Some(2));
    // Gas used counts deposits like any transaction.
    let total: u64 = receipts.iter().map(|r| r.gas_used).sum();
    assert_eq!(built.block.header.gas_used, total);

    // The body holds the deposits' own bytes (type 0x7E) and their senders; the
    // transactions root is over those bytes.
    let body = &built.block;
    assert_eq!(body.transactions[1], ok.encoded);
    assert_eq!(body.transactions[1][0], ordo_primitives::DEPOSIT_TX_TYPE);
    assert_eq!(body.senders[1], alice);
    assert_eq!(body.tx_hashes[3], broke.hash);
    let root = alloy_trie::root::ordered_trie_root_with_encoder(&body.transactions, |t, out| {
        out.extend_from_slice(t)
    });
    assert_eq!(body.header.transactions_root, root);
}

#[test]
fn a_block_of_signed_transactions_keeps_ethereums_transactions_root() {
    let key = PrivateKeySigner::random();
    let (_dir, exec, genesis) = setup(&key);
    let a = signed(&key, 0, TxKind::Call(Address::ZERO), 1, Bytes::new());
    let b = signed(&key, 1, TxKind::Call(Address::ZERO), 2, Bytes::new());
    let built = build_and_commit(
        &exec,
        &genesis,
        &[BlockItem::Tx(a.clone()), BlockItem::Tx(b.clone())],
    );
    let envelopes = [a.tx.clone(), b.tx.clone()];
    assert_eq!(
        built.block.header.transactions_root,
        alloy_consensus::proofs::calculate_transaction_root(&envelopes)
    );
}

/// OP's L1 data fee, end to end in one block: the L1-attributes deposit hands L1Block an
/// origin's fees, every later transaction pays the fee of its signed bytes on top of gas
/// (reverting or not), the L1 fee vault and the base fee vault receive exactly what was paid,
/// and a sender who can pay gas and value but not the L1 fee waits.
#[test]
fn the_l1_attributes_deposit_prices_the_l1_fee_every_transaction_pays_into_the_vaults() {
    use ordo_primitives::{BASE_FEE_VAULT, L1_FEE_VAULT, L1FeeScalars, L1Fees, L1Origin};
    let key = PrivateKeySigner::random();
    let poor = PrivateKeySigner::random();
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let mut spec = ChainSpec::empty(7).with_predeploys();
    let rich = U256::from(10u128.pow(21));
    spec.alloc.insert(
        key.address(),
        GenesisAccount {
            balance: rich,
            ..Default::default()
        },
    );
    // Exactly gas x max fee + value of its transfer below: nothing left for the L1 fee.
    let exact = U256::from(200_000u64 * 10_000_000_000 + 1);
    spec.alloc.insert(
        poor.address(),
        GenesisAccount {
            balance: exact,
            ..Default::default()
        },
    );
    let (commit, root) = StateDb::genesis_commit(&spec).unwrap();
    storage.commit_block(&commit).unwrap();
    let exec = Executor::new(Arc::new(StateDb::open(storage).unwrap()), 7);
    let genesis = genesis_header(&spec, root);

    let origin = L1Origin {
        number: 40,
        hash: B256::repeat_byte(0x40),
        timestamp: 1,
        fees: Some(L1Fees {
            base_fee: 7_000_000_000,
            blob_base_fee: 3,
        }),
        beacon_root: None,
    };
    let scalars = L1FeeScalars::default();
    let info = Arc::new(ordo_primitives::l1_info_deposit(&origin, scalars));
    assert_eq!(info.tx.input.len(), 164);
    let to = Address::repeat_byte(0x11);
    let transfer = signed(&key, 0, TxKind::Call(to), 5, Bytes::new());
    // A call that reverts (REVERT at once) pays the L1 fee all the same.
    let reverts = signed(&key, 1, TxKind::Create, 0, hex_bytes("60006000fd"));
    let broke = signed(&poor, 0, TxKind::Call(to), 1, Bytes::new());
    let items = [
        BlockItem::Deposit(info.clone()),
        BlockItem::Tx(transfer.clone()),
        BlockItem::Tx(reverts.clone()),
        BlockItem::Tx(broke.clone()),
    ];
    let built = exec
        .build_block_items(
            &genesis,
            genesis.hash_slow(),
            &params(1),
            &items,
            Provenance::default(),
        )
        .unwrap();
    assert_eq!(built.included, vec![info.hash, transfer.hash, reverts.hash]);
    let (hash, why) = &built.skipped[0];
    assert_eq!(*hash, broke.hash);
    assert!(
        matches!(why, Skipped::Deferred(m) if m.contains("L1 data fee")),
        "{why:?}"
    );
    let receipts = &built.commit.receipts;
    assert!(receipts[0].receipt.is_success() && receipts[0].l1_fee.is_none());
    assert!(!receipts[2].receipt.is_success());
    let want = ordo_primitives::L1FeeParams {
        l1_base_fee: 7_000_000_000,
        blob_base_fee: 3,
        base_fee_scalar: scalars.base_fee_scalar,
        blob_base_fee_scalar: scalars.blob_base_fee_scalar,
    };
    let mut l1_total = U256::ZERO;
    let mut base_total = U256::ZERO;
    let mut paid = U256::ZERO;
    for (r, tx) in receipts[1..].iter().zip([&transfer, &reverts]) {
        let charged = r
            .l1_fee
            .expect("a signed transaction's receipt has its L1 fee");
        assert_eq!(charged.params, want);
        assert_eq!(charged.fee, ordo_primitives::l1_fee(&tx.encoded, &want));
        assert!(charged.fee > U256::ZERO);
        assert_eq!(charged.gas_used, ordo_primitives::l1_gas_used(&tx.encoded));
        l1_total += charged.fee;
        base_total += U256::from(r.gas_used) * U256::from(1_000_000_000u64);
        paid += U256::from(r.gas_used) * U256::from(r.effective_gas_price) + charged.fee;
    }
    exec.state().storage().commit_block(&built.commit).unwrap();
    exec.state().apply(&built.commit);
    let state = exec.state();
    assert_eq!(state.balance(&L1_FEE_VAULT), l1_total);
    assert_eq!(state.balance(&BASE_FEE_VAULT), base_total);
    assert_eq!(state.balance(&key.address()), rich - paid - U256::from(5));
    // The one that could not pay is untouched.
    assert_eq!(state.balance(&poor.address()), exact);
    assert_eq!(state.nonce(&poor.address()), 0);
    assert_eq!(state.state_root().unwrap(), built.block.header.state_root);
}

/// A deposit that cannot run is included with its sender's nonce bumped; a transaction right
/// after it that the block skips (a nonce gap) must not take that bump back, or the block the
/// builder seals and the block a replay (without the skipped transaction) makes differ.
#[test]
fn a_skipped_transaction_after_a_failed_deposit_leaves_the_deposits_nonce_bump() {
    let key = PrivateKeySigner::random();
    let (_dir, exec, genesis) = setup(&key);
    let depositor = Address::repeat_byte(0xde);
    // 5 wei more than it has (nothing): the call cannot run.
    let failing = deposit(
        depositor,
        TxKind::Call(Address::repeat_byte(1)),
        0,
        5,
        100_000,
        Bytes::new(),
        0,
    );
    let gapped = signed(&key, 5, TxKind::Call(Address::ZERO), 1, Bytes::new());
    let next = signed(&key, 0, TxKind::Call(Address::ZERO), 2, Bytes::new());
    let build = |items: &[BlockItem]| {
        exec.build_block_items(
            &genesis,
            genesis.hash_slow(),
            &params(1),
            items,
            Provenance::default(),
        )
        .unwrap()
    };
    let with_skip = build(&[
        BlockItem::Deposit(failing.clone()),
        BlockItem::Tx(gapped.clone()),
        BlockItem::Tx(next.clone()),
    ]);
    assert_eq!(with_skip.included, vec![failing.hash, next.hash]);
    assert!(!with_skip.commit.receipts[0].receipt.is_success());
    let replayed = build(&[
        BlockItem::Deposit(failing.clone()),
        BlockItem::Tx(next.clone()),
    ]);
    assert_eq!(
        with_skip.block.header.state_root,
        replayed.block.header.state_root
    );
    exec.state()
        .storage()
        .commit_block(&with_skip.commit)
        .unwrap();
    exec.state().apply(&with_skip.commit);
    assert_eq!(exec.state().nonce(&depositor), 1);
}
