//! Bundles: acceptance rules, eligibility by block and timestamp, replacement by uuid,
//! cancellation, limits, pruning, and persistence across a reopened storage.

use std::sync::Arc;

use alloy_primitives::{Address, B256};
use ordo_pool::{BundleError, BundleLimits, BundlePool, MAX_BUNDLE_TXS};
use ordo_primitives::{Bundle, PooledTx};
use ordo_storage::Storage;
use tempfile::TempDir;

use crate::util::{key, tx};

const NOW: u64 = 1_700_000_000;

fn signed(k: u64, nonce: u64) -> Arc<PooledTx> {
    Arc::new(tx(nonce).sign(&key(k)))
}

fn bundle(k: u64, block: u64) -> Bundle {
    Bundle {
        txs: vec![signed(k, 0), signed(k, 1)],
        block_number: block,
        min_timestamp: None,
        max_timestamp: None,
        reverting_tx_hashes: vec![],
        replacement_uuid: None,
        searcher: None,
    }
}

fn searcher(i: u8) -> Option<Address> {
    Some(Address::repeat_byte(i))
}

fn open(limits: BundleLimits) -> (BundlePool, Storage, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    (BundlePool::new(storage.clone(), limits), storage, dir)
}

fn hashes(bundles: &[Arc<Bundle>]) -> Vec<B256> {
    bundles.iter().map(|b| b.bundle_hash()).collect()
}

#[test]
fn insert_eligible_prune() {
    let (pool, storage, _dir) = open(BundleLimits::default());
    let a = pool.insert(bundle(0, 11), 10, NOW).unwrap();
    let b = pool
        .insert(
            Bundle {
                min_timestamp: Some(NOW + 10),
                max_timestamp: Some(NOW + 20),
                ..bundle(1, 11)
            },
            10,
            NOW,
        )
        .unwrap();
    let c = pool.insert(bundle(2, 12), 10, NOW).unwrap();
    assert_eq!(pool.len(), 3);
    assert_eq!(storage.bundles().unwrap().len(), 3);

    assert_eq!(hashes(&pool.eligible(11, NOW)), vec![a]);
    assert_eq!(hashes(&pool.eligible(11, NOW + 10)), vec![a, b]);
    assert_eq!(hashes(&pool.eligible(11, NOW + 20)), vec![a, b]);
    assert_eq!(hashes(&pool.eligible(11, NOW + 21)), vec![a]);
    assert_eq!(hashes(&pool.eligible(12, NOW)), vec![c]);
    assert!(pool.eligible(13, NOW).is_empty());

    // Block 11 landed: its bundles are gone, from memory and disk.
    let mut pruned = pool.prune(11, NOW);
    pruned.sort();
    let mut expect = vec![a, b];
    expect.sort();
    assert_eq!(pruned, expect);
    assert_eq!(pool.len(), 1);
    assert_eq!(storage.bundles().unwrap()[0].0, c);

    // A passed max_timestamp expires a bundle even before its block.
    let d = pool
        .insert(
            Bundle {
                max_timestamp: Some(NOW + 5),
                ..bundle(3, 14)
            },
            11,
            NOW,
        )
        .unwrap();
    assert_eq!(pool.prune(11, NOW + 6), vec![d]);
    assert_eq!(pool.len(), 1);
}

#[test]
fn refusals_have_clear_messages_and_codes() {
    let (pool, _storage, _dir) = open(BundleLimits::default());
    let err = pool.insert(bundle(0, 10), 10, NOW).unwrap_err();
    assert!(matches!(
        err,
        BundleError::PastBlock {
            target: 10,
            head: 10
        }
    ));
    assert_eq!(err.to_string(), "bundle target block is in the past");
    assert_eq!(err.rpc_code(), -32000);

    let empty = Bundle {
        txs: vec![],
        ..bundle(0, 11)
    };
    assert!(matches!(
        pool.insert(empty, 10, NOW),
        Err(BundleError::Empty)
    ));

    let many = Bundle {
        txs: (0..=MAX_BUNDLE_TXS as u64).map(|n| signed(0, n)).collect(),
        ..bundle(0, 11)
    };
    assert!(matches!(
        pool.insert(many, 10, NOW),
        Err(BundleError::TooManyTxs { count: 17, max: 16 })
    ));
    let sixteen = Bundle {
        txs: (0..MAX_BUNDLE_TXS as u64).map(|n| signed(0, n)).collect(),
        ..bundle(0, 11)
    };
    pool.insert(sixteen, 10, NOW).unwrap();

    let late = Bundle {
        max_timestamp: Some(NOW - 1),
        ..bundle(1, 11)
    };
    let err = pool.insert(late, 10, NOW).unwrap_err();
    assert_eq!(err.to_string(), "bundle max timestamp is in the past");

    let inverted = Bundle {
        min_timestamp: Some(NOW + 9),
        max_timestamp: Some(NOW + 1),
        ..bundle(1, 11)
    };
    assert!(matches!(
        pool.insert(inverted, 10, NOW),
        Err(BundleError::InvalidTimestampRange)
    ));
    assert_eq!(pool.len(), 1);
}

#[test]
fn same_uuid_same_searcher_replaces() {
    let (pool, storage, _dir) = open(BundleLimits::default());
    let with = |k, s| Bundle {
        replacement_uuid: Some("u-1".into()),
        searcher: searcher(s),
        ..bundle(k, 11)
    };
    let first = pool.insert(with(0, 1), 10, NOW).unwrap();
    let second = pool.insert(with(1, 1), 10, NOW).unwrap();
    assert_ne!(first, second);
    assert_eq!(hashes(&pool.eligible(11, NOW)), vec![second]);
    let stored: Vec<B256> = storage
        .bundles()
        .unwrap()
        .into_iter()
        .map(|(h, _)| h)
        .collect();
    assert_eq!(stored, vec![second]);

    // Another searcher's uuid is its own.
    let other = pool.insert(with(2, 2), 10, NOW).unwrap();
    assert_eq!(hashes(&pool.eligible(11, NOW)), vec![second, other]);

    // Re-sending the identical bundle is idempotent.
    assert_eq!(pool.insert(with(1, 1), 10, NOW).unwrap(), second);
    assert_eq!(pool.len(), 2);
}

#[test]
fn cancel_by_uuid_and_searcher() {
    let (pool, storage, _dir) = open(BundleLimits::default());
    let b = Bundle {
        replacement_uuid: Some("u-9".into()),
        searcher: searcher(1),
        ..bundle(0, 11)
    };
    pool.insert(b, 10, NOW).unwrap();
    assert!(!pool.cancel("u-9", searcher(2)), "another searcher's uuid");
    assert!(!pool.cancel("nope", searcher(1)));
    assert!(pool.cancel("u-9", searcher(1)));
    assert!(!pool.cancel("u-9", searcher(1)), "already cancelled");
    assert_eq!(pool.len(), 0);
    assert!(storage.bundles().unwrap().is_empty());
}

#[test]
fn per_searcher_and_global_limits() {
    let (pool, _storage, _dir) = open(BundleLimits {
        max_total: 3,
        max_per_searcher: 2,
    });
    let by = |k, s| Bundle {
        searcher: searcher(s),
        ..bundle(k, 11)
    };
    pool.insert(by(0, 1), 10, NOW).unwrap();
    pool.insert(by(1, 1), 10, NOW).unwrap();
    let err = pool.insert(by(2, 1), 10, NOW).unwrap_err();
    assert!(matches!(err, BundleError::SearcherLimit { limit: 2 }));
    assert_eq!(err.to_string(), "searcher bundle limit exceeded");
    // A replacement does not count against the limit.
    pool.insert(
        Bundle {
            replacement_uuid: Some("r".into()),
            ..by(3, 2)
        },
        10,
        NOW,
    )
    .unwrap();
    let err = pool.insert(by(4, 3), 10, NOW).unwrap_err();
    assert!(matches!(err, BundleError::PoolFull { limit: 3 }));
    assert_eq!(err.rpc_code(), -32000);
    pool.insert(
        Bundle {
            replacement_uuid: Some("r".into()),
            ..by(5, 2)
        },
        10,
        NOW,
    )
    .unwrap();
    assert_eq!(pool.len(), 3);
    // Pruning frees room.
    pool.prune(11, NOW);
    pool.insert(by(2, 1), 11, NOW).unwrap_err(); // still block 11: in the past now
    pool.insert(
        Bundle {
            block_number: 12,
            ..by(2, 1)
        },
        11,
        NOW,
    )
    .unwrap();
}

#[test]
fn bundles_survive_reopening_storage() {
    let dir = tempfile::tempdir().unwrap();
    let (kept, with_meta) = {
        let storage = Storage::open(dir.path()).unwrap();
        let pool = BundlePool::new(storage, BundleLimits::default());
        let kept = pool.insert(bundle(0, 11), 10, NOW).unwrap();
        let meta = Bundle {
            min_timestamp: Some(NOW),
            max_timestamp: Some(NOW + 100),
            reverting_tx_hashes: vec![signed(1, 1).hash],
            replacement_uuid: Some("keep-me".into()),
            searcher: searcher(7),
            ..bundle(1, 12)
        };
        pool.insert(meta.clone(), 10, NOW).unwrap();
        pool.insert(bundle(2, 11), 10, NOW).unwrap();
        assert!(!pool.cancel("keep-me", searcher(9)));
        (kept, meta)
    }; // pool and storage dropped: the "crash"

    let storage = Storage::open(dir.path()).unwrap();
    let pool = BundlePool::new(storage.clone(), BundleLimits::default());
    assert_eq!(pool.restore_from_storage_at(10, NOW).unwrap(), 3);
    assert_eq!(pool.len(), 3);
    let at11 = pool.eligible(11, NOW);
    assert_eq!(at11.len(), 2);
    assert!(hashes(&at11).contains(&kept));
    let at12 = pool.eligible(12, NOW);
    assert_eq!(at12.len(), 1);
    assert_eq!(
        *at12[0], with_meta,
        "same transactions, senders and metadata"
    );
    assert_eq!(at12[0].txs[0].sender, key(1).address());
    // The uuid index is rebuilt: cancel still works.
    assert!(pool.cancel("keep-me", searcher(7)));
    // Restoring twice does not duplicate or delete anything.
    assert_eq!(pool.restore_from_storage_at(10, NOW).unwrap(), 0);
    assert_eq!(pool.len(), 2);
    drop(pool);
    drop(storage);

    // After block 11, a restart drops (and deletes) the expired ones and garbage.
    let storage = Storage::open(dir.path()).unwrap();
    storage
        .put_bundle(&B256::repeat_byte(1), b"garbage")
        .unwrap();
    let pool = BundlePool::new(storage.clone(), BundleLimits::default());
    assert_eq!(pool.restore_from_storage(11).unwrap(), 0);
    assert!(pool.is_empty());
    assert!(storage.bundles().unwrap().is_empty());
}

#[test]
fn unsigned_bundles_share_one_quota_and_a_copied_bundle_stays_with_its_first_sender() {
    let (pool, _storage, _dir) = open(BundleLimits {
        max_total: 10,
        max_per_searcher: 2,
    });
    pool.insert(bundle(0, 11), 10, NOW).unwrap();
    pool.insert(bundle(1, 11), 10, NOW).unwrap();
    let err = pool.insert(bundle(2, 11), 10, NOW).unwrap_err();
    assert!(
        matches!(err, BundleError::SearcherLimit { limit: 2 }),
        "{err}"
    );
    // A signed searcher still has room.
    let mine = Bundle {
        searcher: searcher(7),
        replacement_uuid: Some("u".into()),
        ..bundle(3, 11)
    };
    let hash = pool.insert(mine.clone(), 10, NOW).unwrap();
    // Someone else sending the very same transactions neither takes it over nor frees
    // the first sender's uuid.
    let copy = Bundle {
        searcher: searcher(8),
        replacement_uuid: None,
        ..mine.clone()
    };
    assert_eq!(pool.insert(copy, 10, NOW).unwrap(), hash);
    let held = pool.eligible(11, NOW);
    let held = held.iter().find(|b| b.bundle_hash() == hash).unwrap();
    assert_eq!(held.searcher, searcher(7));
    assert!(pool.cancel("u", searcher(7)));
}

/// Concurrent `eth_sendBundle`s share fsyncs, as transactions do in the WAL, and every one
/// of them is durable when acknowledged.
#[test]
fn concurrent_inserts_share_fsyncs_and_all_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let senders = 48u64;
    {
        let storage = Storage::open(dir.path()).unwrap();
        let pool = Arc::new(BundlePool::new(storage, BundleLimits::default()));
        let start = Arc::new(std::sync::Barrier::new(senders as usize));
        let threads: Vec<_> = (0..senders)
            .map(|k| {
                let (pool, start) = (pool.clone(), start.clone());
                std::thread::spawn(move || {
                    let b = Bundle {
                        searcher: searcher(k as u8),
                        ..bundle(k, 11)
                    };
                    start.wait();
                    pool.insert(b, 10, NOW).unwrap()
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let (groups, written) = pool.write_stats();
        assert_eq!(written, senders);
        assert!(
            groups < senders,
            "{senders} concurrent inserts took {groups} fsyncs"
        );
    }
    let storage = Storage::open(dir.path()).unwrap();
    let pool = BundlePool::new(storage, BundleLimits::default());
    assert_eq!(
        pool.restore_from_storage_at(10, NOW).unwrap(),
        senders as usize
    );
}

/// Inside one group the checks still see every earlier decision: the per-searcher quota
/// holds, and a replacement arriving right behind the bundle it replaces wins.
#[test]
fn a_group_decides_in_arrival_order() {
    let (pool, _storage, _dir) = open(BundleLimits {
        max_total: 100,
        max_per_searcher: 2,
    });
    let pool = Arc::new(pool);
    let start = Arc::new(std::sync::Barrier::new(6));
    let threads: Vec<_> = (0..6u64)
        .map(|k| {
            let (pool, start) = (pool.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                pool.insert_with_quota(bundle(k, 11), 10, NOW, searcher(1))
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(accepted, 2, "{results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, BundleError::SearcherLimit { limit: 2 }))
    );
    assert_eq!(pool.len(), 2);
}
