//! Restart: a pool on a reopened storage rebuilds itself from the WAL, drops (and un-WALs)
//! what is no longer valid, and continues sequence numbers above the old ones.

use std::sync::Arc;

use ordo_pool::{MockState, Pool, PoolConfig};
use ordo_primitives::decode_raw_tx;
use ordo_storage::Storage;

use crate::util::{GWEI, Harness, key, limits, sorted, tx};

#[tokio::test]
async fn restore_from_a_reopened_storage() {
    let h = Harness::default_config();
    let (a, b) = (key(0), key(1));
    let a0 = tx(0).sign(&a);
    let a1 = tx(1).sign(&a);
    let a3 = tx(3).sign(&a); // queued
    let b0 = tx(0).sign(&b);
    let b1 = tx(1).sign(&b);
    for t in [&a0, &a1, &a3, &b0, &b1] {
        h.pool.submit(t.clone()).await.unwrap();
    }
    let Harness {
        pool,
        state,
        storage,
        dir,
    } = h;
    drop(pool); // joins the WAL writer thread
    drop(storage);

    // Meanwhile b0 was included in a block.
    state.set_nonce(b.address(), 1);
    let storage = Storage::open(dir.path()).unwrap();
    let pool = Pool::new(
        PoolConfig::default(),
        limits(),
        state.clone(),
        storage.clone(),
    );
    assert_eq!(pool.restore_from_storage().unwrap(), 4);
    assert_eq!(pool.status().pending, 3);
    assert_eq!(pool.status().queued, 1);
    assert_eq!(pool.pending_nonce(&a.address()), 2);
    assert!(pool.get(&b0.hash).is_none());

    // The stale entry leaves the WAL; new submissions get higher sequence numbers.
    let a2 = tx(2).sign(&a);
    pool.submit(a2.clone()).await.unwrap();
    let entries = storage.wal_entries().unwrap();
    let last = decode_raw_tx(&entries.last().unwrap().1).unwrap();
    assert_eq!(last.hash, a2.hash);
    assert!(
        !entries
            .iter()
            .any(|(_, raw)| decode_raw_tx(raw).unwrap().hash == b0.hash)
    );
    assert_eq!(pool.status().pending, 5);
}

#[tokio::test]
async fn restore_with_decoded_txs_applies_replacements_in_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let k = key(0);
    let old = tx(0).fees(10 * GWEI, GWEI).sign(&k);
    let new = tx(0).fees(20 * GWEI, 2 * GWEI).sign(&k);
    let under = tx(0).fees(21 * GWEI, 2 * GWEI).sign(&k); // not a 10 % bump over `new`
    // As if the process died before the replaced entry's removal reached disk.
    storage
        .wal_append(&[
            (old.hash, 1, &old.encoded[..]),
            (new.hash, 2, &new.encoded[..]),
            (under.hash, 3, &under.encoded[..]),
        ])
        .unwrap();
    let state = Arc::new(MockState::new());
    state.set(k.address(), 0, crate::util::eth(1));
    let pool = Pool::new(PoolConfig::default(), limits(), state, storage.clone());
    assert_eq!(
        pool.restore(vec![old.clone(), new.clone(), under.clone()]),
        1
    );
    assert!(pool.get(&new.hash).is_some());
    drop(pool); // joins the writer: queued removals are applied
    let left: Vec<_> = storage
        .wal_entries()
        .unwrap()
        .iter()
        .map(|(_, raw)| alloy_primitives::keccak256(raw))
        .collect();
    assert_eq!(sorted(left), vec![new.hash]);
}

#[tokio::test]
async fn undecodable_wal_entries_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let junk = b"not a transaction";
    storage
        .wal_append(&[(alloy_primitives::keccak256(junk), 1, &junk[..])])
        .unwrap();
    let pool = Pool::new(
        PoolConfig::default(),
        limits(),
        Arc::new(MockState::new()),
        storage.clone(),
    );
    assert_eq!(pool.restore_from_storage().unwrap(), 0);
    drop(pool);
    assert!(storage.wal_entries().unwrap().is_empty());
}

/// A stored block's transactions leave the WAL through `forget_stored`: an included one goes
/// (the pool forgot it at the block), but one a client sent again and the pool holds stays,
/// since its WAL entry is what keeps the acknowledged resend.
#[tokio::test]
async fn forget_stored_removes_all_but_what_the_pool_holds_again() {
    let h = Harness::default_config();
    let (a, b) = (key(0), key(1));
    let included = tx(0).sign(&a);
    let resent = tx(0).sign(&b);
    for t in [&included, &resent] {
        h.pool.submit(t.clone()).await.unwrap();
    }
    // The block included `included`; `resent` was found invalid in it, and its sender sent
    // it again before the block was stored: the pool holds it (as it does here).
    h.state.set_nonce(a.address(), 1);
    h.pool.on_block(&[included.hash], &[a.address()]);
    assert_eq!(
        h.wal_hashes(),
        sorted(vec![included.hash, resent.hash]),
        "the WAL changed before the block was stored"
    );
    let removed = h.pool.wal_stats().removed;
    h.pool.forget_stored(vec![included.hash, resent.hash]);
    h.wait_removed(removed + 1);
    assert_eq!(h.wal_hashes(), vec![resent.hash]);
    assert!(h.pool.get(&resent.hash).is_some());
}
