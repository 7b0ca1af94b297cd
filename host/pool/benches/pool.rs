//! Mempool benches at 10k transactions (1 000 senders × 10 nonces):
//! - `insert_10k`: pooling 10k checked transactions (the in-memory insert path, via
//!   `restore`, which skips the WAL);
//! - `candidates_10k`: the builder's candidate list;
//! - `on_block_10k`: re-validating every sender after a block;
//! - `submit_10k`: the full path, 10k concurrent submissions with group-committed fsyncs on a
//!   real fjall WAL in a tempdir (throughput depends on the disk's fsync latency).
//!
//! Numbers are reported, never asserted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ordo_pool::{MockState, Pool, PoolConfig, PoolLimits};
use ordo_primitives::PooledTx;
use ordo_storage::Storage;
use rayon::prelude::*;

const SENDERS: u64 = 1_000;
const PER_SENDER: u64 = 10;
const CHAIN_ID: u64 = 1337;

fn limits() -> PoolLimits {
    PoolLimits {
        chain_id: CHAIN_ID,
        block_gas_limit: 30_000_000,
        min_base_fee: 7,
    }
}

fn key(i: u64) -> PrivateKeySigner {
    let mut bytes = [0u8; 32];
    bytes[24..].copy_from_slice(&(i + 1).to_be_bytes());
    PrivateKeySigner::from_slice(&bytes).unwrap()
}

/// 10k signed transfers with varied tips; arrival order interleaves senders.
fn signed() -> (Vec<PooledTx>, Arc<MockState>) {
    let state = Arc::new(MockState::new());
    let keys: Vec<_> = (0..SENDERS).map(key).collect();
    for k in &keys {
        state.set(k.address(), 0, U256::from(10u128.pow(22)));
    }
    let txs = (0..PER_SENDER)
        .flat_map(|n| {
            keys.iter()
                .enumerate()
                .map(move |(i, k)| (n, i as u128, k.clone()))
        })
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(nonce, i, k)| {
            let tx = TxEip1559 {
                chain_id: CHAIN_ID,
                nonce,
                gas_limit: 21_000,
                max_fee_per_gas: 100_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000 + i * 1_000,
                to: TxKind::Call(Address::repeat_byte(0x42)),
                value: U256::from(1),
                ..Default::default()
            };
            let sig = k.sign_hash_sync(&tx.signature_hash()).unwrap();
            PooledTx::from_signed(TxEnvelope::from(tx.into_signed(sig))).unwrap()
        })
        .collect();
    (txs, state)
}

fn benches(c: &mut Criterion) {
    let (txs, state) = signed();
    let n = txs.len() as u64;
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let new_pool = || {
        Pool::new(
            PoolConfig::default(),
            limits(),
            state.clone(),
            storage.clone(),
        )
    };

    let mut group = c.benchmark_group("pool");
    group.throughput(Throughput::Elements(n));
    group.sample_size(20);

    group.bench_function("insert_10k", |b| {
        b.iter_batched(
            || (new_pool(), txs.clone()),
            |(pool, txs)| {
                assert_eq!(pool.restore(txs), n as usize);
                pool
            },
            BatchSize::PerIteration,
        )
    });

    let full = new_pool();
    full.restore(txs.clone());
    group.bench_function("candidates_10k", |b| {
        b.iter(|| black_box(full.candidates(7)).len())
    });
    // A block that changed 100 of the pool's senders (and as many other accounts).
    let mut changed: Vec<_> = txs.iter().map(|t| t.sender).collect();
    changed.sort();
    changed.dedup();
    changed.truncate(100);
    changed.extend((0..100u8).map(alloy_primitives::Address::repeat_byte));
    group.bench_function("on_block_10k_pool_200_changed", |b| {
        b.iter(|| black_box(full.on_block(&[], &changed)))
    });
    drop(full);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    group.sample_size(10);
    group.bench_function("submit_10k", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let storage = Storage::open(dir.path()).unwrap();
                let pool = Pool::new(PoolConfig::default(), limits(), state.clone(), storage);
                (dir, pool, txs.clone())
            },
            |(dir, pool, txs)| {
                rt.block_on(async {
                    let handles: Vec<_> = txs
                        .into_iter()
                        .map(|tx| {
                            let pool = pool.clone();
                            tokio::spawn(async move { pool.submit(tx).await })
                        })
                        .collect();
                    for h in handles {
                        h.await.unwrap().unwrap();
                    }
                });
                let stats = pool.wal_stats();
                eprintln!(
                    "submit_10k: {} txs in {} fsync groups",
                    stats.appended, stats.groups
                );
                (dir, pool)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(pool_benches, benches);
criterion_main!(pool_benches);
