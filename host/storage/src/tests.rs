use super::*;
use ordo_primitives::{Provenance, alloy_consensus::Header};

fn block(number: u64, tx_hashes: Vec<B256>) -> BlockRecord {
    let header = Header {
        number,
        ..Default::default()
    };
    BlockRecord {
        hash: header.hash_slow(),
        header,
        transactions: tx_hashes
            .iter()
            .map(|h| Bytes::copy_from_slice(h.as_slice()))
            .collect(),
        senders: tx_hashes.iter().map(|_| Address::ZERO).collect(),
        tx_hashes,
        provenance: Provenance::default(),
    }
}

#[test]
fn wal_entries_come_back_in_arrival_order_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Storage::open(dir.path()).unwrap();
        let a = B256::repeat_byte(1);
        let b = B256::repeat_byte(2);
        s.wal_append(&[(b, 7, b"second"), (a, 3, b"first")])
            .unwrap();
    }
    let s = Storage::open(dir.path()).unwrap();
    let entries = s.wal_entries().unwrap();
    assert_eq!(
        entries,
        vec![
            (3, Bytes::from_static(b"first")),
            (7, Bytes::from_static(b"second"))
        ]
    );
}

#[test]
fn block_commit_is_one_batch_with_head_state_and_wal_pruning() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path()).unwrap();
    let tx = B256::repeat_byte(9);
    s.wal_append(&[(tx, 1, b"raw")]).unwrap();
    let addr = Address::repeat_byte(0xaa);
    let slot = B256::repeat_byte(1);
    let record = AccountRecord {
        nonce: 1,
        balance: U256::from(5),
        storage_root: B256::ZERO,
        code_hash: B256::ZERO,
    };
    let commit = BlockCommit {
        block: Some(block(1, vec![tx])),
        receipts: vec![],
        accounts: vec![(addr, AccountChange::Set(record))],
        wiped_storage: vec![],
        storage: vec![(addr, slot, U256::from(42))],
        code: vec![],
        wal_remove: vec![tx],
        ..Default::default()
    };
    s.commit_block(&commit).unwrap();
    assert_eq!(s.head().unwrap(), Some(1));
    assert_eq!(s.account(&addr).unwrap(), Some(record));
    assert_eq!(s.storage(&addr, &slot).unwrap(), U256::from(42));
    assert_eq!(
        s.tx_location(&tx).unwrap(),
        Some(TxLocation { block: 1, index: 0 })
    );
    assert!(s.wal_entries().unwrap().is_empty());
    let stored = s.block(1).unwrap().unwrap();
    assert_eq!(s.block_number(&stored.hash).unwrap(), Some(1));

    // Zero deletes a slot; a wipe clears the account's storage.
    let commit = BlockCommit {
        block: Some(block(2, vec![])),
        wiped_storage: vec![addr],
        storage: vec![(addr, B256::repeat_byte(2), U256::from(1))],
        ..Default::default()
    };
    s.commit_block(&commit).unwrap();
    assert_eq!(s.storage(&addr, &slot).unwrap(), U256::ZERO);
    let hashed = keccak256(addr);
    let only = keccak256(B256::repeat_byte(2));
    assert_eq!(
        s.live().next_slot(&hashed, &B256::ZERO).unwrap(),
        Some((only, U256::from(1)))
    );
    let after = B256::from(U256::from_be_bytes(only.0) + U256::from(1));
    assert_eq!(s.live().next_slot(&hashed, &after).unwrap(), None);
}

#[test]
fn trie_nodes_are_found_by_path_prefix_and_a_wipe_removes_an_accounts_nodes() {
    use alloy_trie::{BranchNodeCompact, Nibbles, TrieMask};
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path()).unwrap();
    let node = |hashes: usize| {
        let bits = (1u16 << hashes.max(2)) - 1;
        BranchNodeCompact::new(
            TrieMask::new(bits),
            TrieMask::new(0),
            TrieMask::new((1u16 << hashes) - 1),
            (0..hashes)
                .map(|i| B256::repeat_byte(i as u8 + 1))
                .collect(),
            None,
        )
    };
    let path = |n: &[u8]| Nibbles::from_nibbles(n);
    let owner = B256::repeat_byte(0x77);
    let addr = Address::repeat_byte(0x77);
    s.commit_block(&BlockCommit {
        block: Some(block(0, vec![])),
        account_nodes: vec![
            (path(&[]), Some(node(2))),
            (path(&[1, 2]), Some(node(0))),
            (path(&[1, 2, 3]), Some(node(3))),
        ],
        storage_nodes: vec![(keccak256(addr), path(&[4]), Some(node(1)))],
        ..Default::default()
    })
    .unwrap();
    let under = |p: &[u8]| s.live().account_node_under(&path(p)).unwrap();
    assert_eq!(under(&[]), Some((path(&[]), node(2))));
    assert_eq!(under(&[1]), Some((path(&[1, 2]), node(0))));
    assert_eq!(under(&[1, 2, 3]), Some((path(&[1, 2, 3]), node(3))));
    assert_eq!(under(&[2]), None);
    assert_eq!(
        s.live().storage_node_under(&owner, &path(&[])).unwrap(),
        None
    );
    let stored = s
        .live()
        .storage_node_under(&keccak256(addr), &path(&[]))
        .unwrap();
    assert_eq!(stored, Some((path(&[4]), node(1))));

    // Deleting a node, and wiping an account's storage (its nodes too).
    s.commit_block(&BlockCommit {
        block: Some(block(1, vec![])),
        account_nodes: vec![(path(&[1, 2]), None)],
        wiped_storage: vec![addr],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(under(&[1]), Some((path(&[1, 2, 3]), node(3))));
    assert_eq!(
        s.live()
            .storage_node_under(&keccak256(addr), &path(&[]))
            .unwrap(),
        None
    );
}

#[test]
fn a_datadir_in_another_state_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Storage::open(dir.path()).unwrap();
        s.commit_block(&BlockCommit {
            block: Some(block(0, vec![])),
            ..Default::default()
        })
        .unwrap();
        s.meta.insert(STATE_FORMAT_KEY, [1u8]).unwrap();
    }
    let err = Storage::open(dir.path()).unwrap_err();
    assert!(matches!(err, StorageError::Format { found: 1 }), "{err}");
    assert!(err.to_string().contains("fresh datadir"), "{err}");
}

#[test]
fn state_at_older_blocks_comes_from_history() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path()).unwrap();
    let addr = Address::repeat_byte(0xbb);
    let slot = B256::repeat_byte(3);
    let rec = |nonce| AccountRecord {
        nonce,
        balance: U256::from(nonce * 10),
        storage_root: B256::ZERO,
        code_hash: B256::ZERO,
    };
    // Block 1 creates the account with nonce 1 and slot = 5; block 3 bumps both.
    s.commit_block(&BlockCommit {
        block: Some(block(1, vec![])),
        accounts: vec![(addr, AccountChange::Set(rec(1)))],
        storage: vec![(addr, slot, U256::from(5))],
        account_history: vec![(addr, None)],
        storage_history: vec![(addr, slot, U256::ZERO)],
        ..Default::default()
    })
    .unwrap();
    s.commit_block(&BlockCommit {
        block: Some(block(2, vec![])),
        ..Default::default()
    })
    .unwrap();
    s.commit_block(&BlockCommit {
        block: Some(block(3, vec![])),
        accounts: vec![(addr, AccountChange::Set(rec(2)))],
        storage: vec![(addr, slot, U256::from(6))],
        account_history: vec![(addr, Some(rec(1)))],
        storage_history: vec![(addr, slot, U256::from(5))],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(s.account_at(&addr, 0).unwrap(), None);
    assert_eq!(s.account_at(&addr, 1).unwrap(), Some(rec(1)));
    assert_eq!(s.account_at(&addr, 2).unwrap(), Some(rec(1)));
    assert_eq!(s.account_at(&addr, 3).unwrap(), Some(rec(2)));
    assert_eq!(s.storage_at(&addr, &slot, 0).unwrap(), U256::ZERO);
    assert_eq!(s.storage_at(&addr, &slot, 2).unwrap(), U256::from(5));
    assert_eq!(s.storage_at(&addr, &slot, 3).unwrap(), U256::from(6));
}

#[test]
fn plugin_wasm_and_state_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let hash = B256::repeat_byte(0x42);
    let other = B256::repeat_byte(0x43);
    {
        let s = Storage::open(dir.path()).unwrap();
        assert_eq!(s.plugin_state().unwrap(), None);
        assert_eq!(s.plugin_wasm(&hash).unwrap(), None);
        s.put_plugin_wasm(&hash, b"\0asm component").unwrap();
        s.put_plugin_wasm(&other, b"other").unwrap();
        s.put_plugin_state(b"{\"v\":1}").unwrap();
        s.put_plugin_state(b"{\"v\":2}").unwrap();
        s.remove_plugin_wasm(&other).unwrap();
    }
    let s = Storage::open(dir.path()).unwrap();
    assert_eq!(
        s.plugin_wasm(&hash).unwrap().as_deref(),
        Some(&b"\0asm component"[..])
    );
    assert_eq!(s.plugin_wasm(&other).unwrap(), None);
    assert_eq!(
        s.plugin_state().unwrap().as_deref(),
        Some(&b"{\"v\":2}"[..])
    );
    // The state key and the wasm keys share a keyspace but never collide.
    assert_eq!(s.plugin_wasm(&B256::ZERO).unwrap(), None);
}

#[test]
fn bundles_survive_reopen_and_removal_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        B256::repeat_byte(1),
        B256::repeat_byte(2),
        B256::repeat_byte(3),
    );
    {
        let s = Storage::open(dir.path()).unwrap();
        assert!(s.bundles().unwrap().is_empty());
        s.put_bundle(&b, b"bee").unwrap();
        s.put_bundle(&a, b"ay").unwrap();
        s.put_bundle(&c, b"sea").unwrap();
        s.put_bundle(&c, b"sea2").unwrap(); // overwrite
        s.remove_bundles(&[b]).unwrap();
        s.remove_bundles(&[]).unwrap();
    }
    let s = Storage::open(dir.path()).unwrap();
    assert_eq!(
        s.bundles().unwrap(),
        vec![(a, b"ay".to_vec()), (c, b"sea2".to_vec())]
    );
    // Bundles live in their own keyspace: the WAL is untouched.
    assert!(s.wal_entries().unwrap().is_empty());
}
