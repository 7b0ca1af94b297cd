//! Block execution cost: N transfers from distinct senders through revm, receipts and the
//! state root. Run: `cargo bench -p ordo-exec --bench block`.

// A benchmark aborts on setup failure; there is nothing to recover.
#![allow(clippy::expect_used)]

use std::sync::Arc;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ordo_exec::{BlockParams, Executor, StateDb, genesis_header};
use ordo_primitives::{ChainSpec, GenesisAccount, PooledTx, Provenance};
use ordo_storage::Storage;

fn bench(c: &mut Criterion) {
    let n = 1_000usize;
    let keys: Vec<PrivateKeySigner> = (0..n).map(|_| PrivateKeySigner::random()).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Storage::open(dir.path()).expect("storage");
    let mut spec = ChainSpec::empty(7331);
    for k in &keys {
        spec.alloc.insert(
            k.address(),
            GenesisAccount {
                balance: U256::from(10u128.pow(20)),
                ..Default::default()
            },
        );
    }
    let (commit, root) = StateDb::genesis_commit(&spec).expect("genesis");
    storage.commit_block(&commit).expect("genesis");
    let state = Arc::new(StateDb::open(storage).expect("state"));
    let exec = Executor::new(state, 7331);
    let genesis = genesis_header(&spec, root);
    let txs: Vec<Arc<PooledTx>> = keys
        .iter()
        .map(|k| {
            let tx = TxEip1559 {
                chain_id: 7331,
                nonce: 0,
                gas_limit: 21_000,
                max_fee_per_gas: 2_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
                to: TxKind::Call(Address::repeat_byte(7)),
                value: U256::from(1),
                access_list: Default::default(),
                input: Bytes::new(),
            };
            let sig = k.sign_hash_sync(&tx.signature_hash()).expect("sign");
            Arc::new(PooledTx::from_signed(TxEnvelope::from(tx.into_signed(sig))).expect("tx"))
        })
        .collect();
    let params = BlockParams {
        number: 1,
        timestamp: 1,
        beneficiary: Address::repeat_byte(0x42),
        gas_limit: 30_000_000,
        base_fee: 1_000_000_000,
        extra_data: Bytes::new(),
        state_block: None,
        max_tx_bytes: None,
        beacon_root: B256::ZERO,
        ethereum: None,
    };
    let mut group = c.benchmark_group("block");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(20);
    group.bench_function("execute_1000_transfers", |b| {
        b.iter_batched(
            || txs.clone(),
            |txs| {
                exec.build_block(
                    &genesis,
                    genesis.hash_slow(),
                    &params,
                    &txs,
                    Provenance::default(),
                )
                .expect("block")
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
