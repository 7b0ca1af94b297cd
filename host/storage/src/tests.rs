use super::*;
use alloy_primitives::keccak256;
use alloy_trie::{BranchNodeCompact, Nibbles, TrieMask};
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
        l1_origin: None,
        extras: None,
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
fn block_commit_is_one_batch_with_head_and_state() {
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
    // The block's transactions leave the WAL after it, not in its batch.
    assert_eq!(s.wal_entries().unwrap().len(), 1);
    s.wal_remove(&[tx]).unwrap();
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
fn a_shared_block_is_decoded_once_and_reads_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path()).unwrap();
    assert!(s.shared_block(1).unwrap().is_none());
    let stored = block(1, vec![B256::repeat_byte(3), B256::repeat_byte(4)]);
    s.commit_block(&BlockCommit {
        block: Some(stored.clone()),
        ..Default::default()
    })
    .unwrap();
    // Absent before the commit, present after: a miss is not kept.
    let first = s.shared_block(1).unwrap().unwrap();
    assert_eq!(*first, stored);
    let again = s.shared_block(1).unwrap().unwrap();
    assert!(Arc::ptr_eq(&first, &again), "the second read decoded again");
    assert!(s.shared_block(2).unwrap().is_none());
}

#[test]
fn trie_nodes_are_found_by_path_prefix_and_a_wipe_removes_an_accounts_nodes() {
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

/// A pseudo-random number from `seed` and `i` (deterministic, no dependency).
fn pick(seed: u64, i: u64) -> u64 {
    let h = keccak256([seed.to_be_bytes(), i.to_be_bytes()].concat());
    u64::from_be_bytes(h[..8].try_into().unwrap())
}

fn test_node(seed: u64) -> BranchNodeCompact {
    let hashes = (seed % 3 + 1) as usize;
    BranchNodeCompact::new(
        TrieMask::new(0b111),
        TrieMask::new(0),
        TrieMask::new((1u16 << hashes) - 1),
        (0..hashes)
            .map(|i| B256::repeat_byte((seed as u8).wrapping_add(i as u8)))
            .collect(),
        None,
    )
}

fn random_path(seed: u64, i: u64) -> Nibbles {
    let len = pick(seed, i) % 4;
    Nibbles::from_nibbles(
        (0..len)
            .map(|j| (pick(seed, i * 8 + j + 1000) % 16) as u8)
            .collect::<Vec<_>>(),
    )
}

/// Everything a block's root walk and execution read, as `view` sees it.
fn reads(view: &view::StateView<'_>, owners: &[Address], seed: u64) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..300 {
        let from = keccak256(pick(seed, i).to_be_bytes());
        out.push(format!("{:?}", view.next_account(&from).unwrap()));
        out.push(format!(
            "{:?}",
            view.account(&Address::with_last_byte(i as u8)).unwrap()
        ));
    }
    out.push(format!("{:?}", view.next_account(&B256::ZERO).unwrap()));
    for owner in owners {
        let hashed = keccak256(owner);
        out.push(format!(
            "{:?}",
            view.next_slot(&hashed, &B256::ZERO).unwrap()
        ));
        for i in 0..60 {
            let from = keccak256(pick(seed ^ 1, i).to_be_bytes());
            out.push(format!("{:?}", view.next_slot(&hashed, &from).unwrap()));
            let slot = B256::with_last_byte(i as u8);
            out.push(format!("{:?}", view.storage(owner, &slot).unwrap()));
        }
        for prefix in (0..273u64).map(|i| match i {
            0 => Nibbles::default(),
            1..=16 => Nibbles::from_nibbles([(i - 1) as u8]),
            _ => Nibbles::from_nibbles([((i - 17) / 16) as u8, ((i - 17) % 16) as u8]),
        }) {
            out.push(format!(
                "{:?}",
                view.storage_node_under(&hashed, &prefix).unwrap()
            ));
            out.push(format!(
                "{:?}",
                view.storage_node_at(&hashed, &prefix).unwrap()
            ));
            out.push(format!("{:?}", view.account_node_under(&prefix).unwrap()));
            out.push(format!("{:?}", view.account_node_at(&prefix).unwrap()));
        }
    }
    out.push(format!(
        "{:?}",
        view.code(&B256::repeat_byte(0xc0)).unwrap()
    ));
    out
}

/// Block 0 of the overlay tests: 120 accounts, 40 slots and 30 storage trie nodes for each
/// of `owners`, 60 state trie nodes.
fn random_base(seed: u64, owners: &[Address]) -> BlockCommit {
    let mut base = BlockCommit {
        block: Some(block(0, vec![])),
        ..Default::default()
    };
    for i in 0..120u64 {
        let record = AccountRecord {
            nonce: i,
            balance: U256::from(pick(seed, i)),
            storage_root: B256::ZERO,
            code_hash: B256::ZERO,
        };
        base.accounts
            .push((Address::with_last_byte(i as u8), AccountChange::Set(record)));
    }
    for owner in owners {
        for i in 0..40u64 {
            let value = U256::from(pick(seed, i + 500) % 7);
            base.storage
                .push((*owner, B256::with_last_byte(i as u8), value));
        }
        for i in 0..30 {
            let path = random_path(seed, i + u64::from(owner[19]) * 100);
            base.storage_nodes
                .push((keccak256(owner), path, Some(test_node(i))));
        }
    }
    for i in 0..60 {
        base.account_nodes
            .push((random_path(seed ^ 9, i), Some(test_node(i + 7))));
    }
    base
}

/// A block `number` over [`random_base`]: accounts set and deleted, `wiped` wiped and partly
/// rewritten, slots set and cleared, nodes set and removed, new code.
fn random_change(seed: u64, number: u64, owners: &[Address], wiped: &[Address]) -> BlockCommit {
    let mut change = BlockCommit {
        block: Some(block(number, vec![])),
        wiped_storage: wiped.to_vec(),
        code: vec![(B256::repeat_byte(0xc0), Bytes::from_static(b"code"))],
        ..Default::default()
    };
    for i in 0..80u64 {
        let address = Address::with_last_byte((pick(seed, i + 900) % 200) as u8);
        let record = AccountRecord {
            nonce: 1000 + i,
            balance: U256::from(i),
            storage_root: B256::ZERO,
            code_hash: B256::ZERO,
        };
        let set = if pick(seed, i + 950).is_multiple_of(3) {
            AccountChange::Delete
        } else {
            AccountChange::Set(record)
        };
        change.accounts.push((address, set));
    }
    for (n, owner) in owners.iter().enumerate() {
        for i in 0..15u64 {
            let slot = B256::with_last_byte((pick(seed, i + 700 + n as u64 * 50) % 60) as u8);
            let value = U256::from(pick(seed, i + 800) % 3);
            change.storage.push((*owner, slot, value));
        }
        for i in 0..12u64 {
            let path = random_path(seed ^ 3, i + n as u64 * 100);
            let node = pick(seed, i + 600)
                .is_multiple_of(2)
                .then(|| test_node(i + 3));
            change.storage_nodes.push((keccak256(owner), path, node));
        }
    }
    for i in 0..40u64 {
        let path = random_path(seed ^ 9, pick(seed, i + 300) % 90);
        let node = pick(seed, i + 400)
            .is_multiple_of(2)
            .then(|| test_node(i + 11));
        change.account_nodes.push((path, node));
    }
    // Later entries win in a batch; keep one write per key, as blocks do.
    dedup_last(&mut change.accounts, |(a, _)| *a);
    dedup_last(&mut change.storage, |(a, s, _)| (*a, *s));
    dedup_last(&mut change.account_nodes, |(p, _)| *p);
    dedup_last(&mut change.storage_nodes, |(o, p, _)| (*o, *p));
    change
}

#[test]
fn a_staged_block_reads_as_the_stored_block_does() {
    for seed in 0..4u64 {
        let owners: Vec<Address> = (0..4u8).map(Address::with_last_byte).collect();
        let base = random_base(seed, &owners);
        let change = random_change(seed, 1, &owners, &owners[..1]);
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (stored, staged_on) = (
            Storage::open(a.path()).unwrap(),
            Storage::open(b.path()).unwrap(),
        );
        stored.commit_block(&base).unwrap();
        staged_on.commit_block(&base).unwrap();
        stored.commit_block(&change).unwrap();
        stored.flush_indexes().unwrap();
        let staged = Arc::new(Staged::of(&change));
        let expected = reads(&stored.live(), &owners, seed);
        assert_eq!(
            reads(&staged_on.live().over(Some(&staged)), &owners, seed),
            expected,
            "seed {seed}"
        );
        // And once the staged block is stored (its trie nodes waiting in memory), the plain
        // view says the same.
        staged_on.commit_staged(&change, &staged).unwrap();
        assert_eq!(
            reads(&staged_on.live(), &owners, seed),
            expected,
            "seed {seed}"
        );
    }
}

#[test]
fn trie_nodes_written_behind_read_as_written_ones_until_and_after_they_are() {
    for seed in 0..3u64 {
        let owners: Vec<Address> = (0..4u8).map(Address::with_last_byte).collect();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        // `written` stores every block's nodes at once; `behind` keeps them all pending.
        let (written, behind) = (
            Storage::open(a.path()).unwrap(),
            Storage::open(b.path()).unwrap(),
        );
        behind.index.set_writer(false);
        let base = random_base(seed, &owners);
        written.commit_block(&base).unwrap();
        behind.commit_block(&base).unwrap();
        for number in 1..=6u64 {
            // Wipes in some blocks, of an owner a later block writes under again.
            let wiped: Vec<Address> = match number % 3 {
                0 => vec![owners[(number as usize / 3) % 4]],
                _ => vec![],
            };
            let change = random_change(seed * 100 + number, number, &owners, &wiped);
            written.commit_block(&change).unwrap();
            written.flush_indexes().unwrap();
            behind.commit_block(&change).unwrap();
            let expected = reads(&written.live(), &owners, seed);
            assert_eq!(
                reads(&behind.live(), &owners, seed),
                expected,
                "seed {seed} block {number}"
            );
            assert_eq!(
                reads(&behind.snapshot(), &owners, seed),
                expected,
                "seed {seed} block {number} (snapshot)"
            );
        }
        let pending = behind.index.pending();
        assert_eq!(pending.iter().filter(|b| b.trie.is_some()).count(), 6);
        let expected = reads(&written.live(), &owners, 7);
        // A snapshot taken before the nodes are written reads the same after.
        let snapshot = behind.snapshot();
        behind.flush_indexes().unwrap();
        assert!(behind.index.pending().is_empty());
        assert_eq!(reads(&snapshot, &owners, 7), expected, "seed {seed}");
        assert_eq!(reads(&behind.live(), &owners, 7), expected, "seed {seed}");
        assert_eq!(
            behind
                .trie_meta
                .get(crate::index::TRIE_KEY)
                .unwrap()
                .map(|v| read_head(&v)),
            Some(6)
        );
        // The stored keyspaces alone now say what the overlays said.
        drop(snapshot);
        drop(behind);
        let reopened = Storage::open(b.path()).unwrap();
        assert_eq!(reopened.trie_behind().unwrap(), None);
        assert_eq!(reads(&reopened.live(), &owners, 7), expected, "seed {seed}");
    }
}

/// A datadir of state format 2 kept its tries in the blocks' database: it opens as format
/// 3, its nodes moved into the tries' own. The move also runs again over what an earlier
/// attempt, cut short before the format mark, left in the tries' database.
#[test]
fn a_format_2_datadir_moves_its_tries_into_their_own_database() {
    let owners: Vec<Address> = (0..3u8).map(Address::with_last_byte).collect();
    let dir = tempfile::tempdir().unwrap();
    let stray = path_key(ACCOUNT_TRIE_OWNER, &Nibbles::from_nibbles([0xf; 9]));
    let (expected, nodes) = {
        let s = Storage::open(dir.path()).unwrap();
        s.commit_block(&random_base(5, &owners)).unwrap();
        s.commit_block(&random_change(5, 1, &owners, &owners[..1]))
            .unwrap();
        s.commit_block(&random_change(6, 2, &owners, &[])).unwrap();
        s.flush_indexes().unwrap();
        let expected = reads(&s.live(), &owners, 5);
        // Back to format 2: the nodes and their mark in the blocks' database.
        let mut nodes = 0;
        for (name, from) in FORMAT_2_TRIES
            .into_iter()
            .zip([&s.account_trie, &s.storage_trie])
        {
            let into = s.db.keyspace(name, KeyspaceCreateOptions::default).unwrap();
            for item in from.iter() {
                let (key, value) = item.into_inner().unwrap();
                into.insert(key, value).unwrap();
                nodes += 1;
            }
        }
        assert!(nodes > 80, "{nodes} nodes");
        let trie_at = s.trie_meta.get(TRIE_KEY).unwrap().unwrap();
        s.meta.insert(TRIE_KEY, trie_at).unwrap();
        s.meta.insert(STATE_FORMAT_KEY, [2]).unwrap();
        // What a move cut short could have left: a node no block wrote, and no mark.
        s.account_trie
            .insert(&stray, encode_node(&test_node(1)))
            .unwrap();
        s.trie_meta.remove(TRIE_KEY).unwrap();
        s.flush().unwrap();
        (expected, nodes)
    };
    let moved = Storage::open(dir.path()).unwrap();
    assert_eq!(
        moved.meta.get(STATE_FORMAT_KEY).unwrap().as_deref(),
        Some(&[STATE_FORMAT][..])
    );
    assert_eq!(STATE_FORMAT, 3);
    for name in FORMAT_2_TRIES {
        assert!(!moved.db.keyspace_exists(name), "{name} is left");
    }
    assert!(moved.meta.get(TRIE_KEY).unwrap().is_none());
    assert_eq!(moved.trie_behind().unwrap(), None);
    assert_eq!(moved.account_trie.get(&stray).unwrap(), None);
    assert_eq!(
        moved.account_trie.iter().count() + moved.storage_trie.iter().count(),
        nodes
    );
    assert_eq!(reads(&moved.live(), &owners, 5), expected);
    assert_eq!(reads(&moved.snapshot(), &owners, 5), expected);
    // And it goes on as format 3: another block, another open.
    moved
        .commit_block(&random_change(7, 3, &owners, &owners[1..2]))
        .unwrap();
    moved.flush_indexes().unwrap();
    let expected = reads(&moved.live(), &owners, 7);
    // A move cut short after its format mark left an old keyspace: the next open drops it.
    moved
        .db
        .keyspace(FORMAT_2_TRIES[1], KeyspaceCreateOptions::default)
        .unwrap()
        .insert(b"left", b"over")
        .unwrap();
    moved.flush().unwrap();
    drop(moved);
    let reopened = Storage::open(dir.path()).unwrap();
    assert!(!reopened.db.keyspace_exists(FORMAT_2_TRIES[1]));
    assert_eq!(reads(&reopened.live(), &owners, 7), expected);
}

/// The tries are written before the genesis block's batch, not with it: a genesis cut short
/// in between leaves nodes, which go when the datadir (still without a head) opens again,
/// before the next genesis, small or bulk.
#[test]
fn a_genesis_removes_the_trie_nodes_an_interrupted_one_left() {
    let stray = path_key(ACCOUNT_TRIE_OWNER, &Nibbles::from_nibbles([0xe; 7]));
    let stray_storage = path_key(&[0x55; 32], &Nibbles::from_nibbles([0x1; 3]));
    // A first start that stored the nodes and stopped before the genesis block, then the
    // restart.
    let reopened_with_strays = |dir: &std::path::Path| {
        let s = Storage::open(dir).unwrap();
        s.account_trie
            .insert(&stray, encode_node(&test_node(4)))
            .unwrap();
        s.storage_trie
            .insert(&stray_storage, encode_node(&test_node(5)))
            .unwrap();
        s.flush().unwrap();
        drop(s);
        Storage::open(dir).unwrap()
    };
    let owners: Vec<Address> = (0..2u8).map(Address::with_last_byte).collect();
    let small = tempfile::tempdir().unwrap();
    let s = reopened_with_strays(small.path());
    s.commit_block(&random_base(3, &owners)).unwrap();
    assert_eq!(s.account_trie.get(&stray).unwrap(), None);
    assert_eq!(s.storage_trie.get(&stray_storage).unwrap(), None);
    assert!(s.account_trie.iter().count() > 0);

    let bulk = tempfile::tempdir().unwrap();
    let s = reopened_with_strays(bulk.path());
    let path = Nibbles::from_nibbles([0x3, 0x4]);
    s.ingest_state(BulkState {
        accounts: vec![],
        slots: vec![],
        account_nodes: vec![(path, test_node(6))],
        storage_nodes: vec![],
        code: vec![],
    })
    .unwrap();
    s.commit_block(&BlockCommit {
        block: Some(block(0, vec![])),
        ..Default::default()
    })
    .unwrap();
    let stored: Vec<Vec<u8>> = s
        .account_trie
        .iter()
        .map(|item| item.key().unwrap().to_vec())
        .collect();
    assert_eq!(stored, [path_key(ACCOUNT_TRIE_OWNER, &path)]);
    assert_eq!(s.storage_trie.iter().count(), 0);
    drop(s);
    // And they stay so across a restart (the removals are journaled before the tables).
    let s = Storage::open(bulk.path()).unwrap();
    assert_eq!(s.account_trie.iter().count(), 1);
    assert_eq!(s.trie_behind().unwrap(), None);
}

/// Blocks 0-3 of a random chain, of which a crash lost blocks 2 and 3's trie nodes (they
/// were never written behind the blocks), reopened.
fn reopened_after_losing_trie_nodes(dir: &std::path::Path, owners: &[Address]) -> Storage {
    {
        let s = Storage::open(dir).unwrap();
        s.index.set_writer(false);
        s.commit_block(&random_base(1, owners)).unwrap();
        s.commit_block(&random_change(1, 1, owners, &[])).unwrap();
        s.flush_indexes().unwrap();
        s.commit_block(&random_change(2, 2, owners, &[])).unwrap();
        s.commit_block(&random_change(3, 3, owners, &[])).unwrap();
        // Dropped with blocks 2 and 3's nodes in memory only.
    }
    Storage::open(dir).unwrap()
}

#[test]
fn a_crash_before_the_nodes_are_written_leaves_the_tries_marked_behind() {
    let owners: Vec<Address> = (0..4u8).map(Address::with_last_byte).collect();
    let dir = tempfile::tempdir().unwrap();
    let s = reopened_after_losing_trie_nodes(dir.path(), &owners);
    assert_eq!(s.trie_behind().unwrap(), Some(1));
    let err = s.live().account_node_at(&Nibbles::default()).unwrap_err();
    assert!(matches!(err, StorageError::TrieBehind(1)), "{err}");
    assert!(s.repair_view().account_node_at(&Nibbles::default()).is_ok());
    // Nothing moves the marks past the lost nodes meanwhile.
    s.flush_indexes().unwrap();
    assert_eq!(s.trie_behind().unwrap(), Some(1));
    s.repair_trie(3, &[], &[], &[]).unwrap();
    assert_eq!(s.trie_behind().unwrap(), None);
    assert!(s.live().account_node_at(&Nibbles::default()).is_ok());
}

#[test]
fn a_commit_without_a_block_is_refused_while_trie_nodes_wait_before_it() {
    let owners: Vec<Address> = (0..4u8).map(Address::with_last_byte).collect();
    let dir = tempfile::tempdir().unwrap();
    let s = reopened_after_losing_trie_nodes(dir.path(), &owners);
    // Block 4's nodes wait behind it, and no flush writes them while the tries are behind.
    s.commit_block(&random_change(4, 4, &owners, &[])).unwrap();
    s.flush_indexes().unwrap();
    let err = s.commit_block(&BlockCommit::default()).unwrap_err();
    assert!(matches!(err, StorageError::TriesPending), "{err}");
    assert_eq!(s.head().unwrap(), Some(4));
}

fn dedup_last<T, K: std::hash::Hash + Eq>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<T> = Vec::new();
    for item in std::mem::take(items).into_iter().rev() {
        if seen.insert(key(&item)) {
            kept.push(item);
        }
    }
    kept.reverse();
    *items = kept;
}

/// Blocks `from..=to` of the index test's chain: block `i` holds three transactions and
/// sets the account's nonce and the slot to `i`.
fn commit_indexed_blocks(s: &Storage, addr: Address, slot: B256, from: u64, to: u64) {
    for i in from..=to {
        let txs = (0..3u64).map(|j| tx_hash_of(i, j)).collect();
        s.commit_block(&BlockCommit {
            block: Some(block(i, txs)),
            accounts: vec![(addr, AccountChange::Set(indexed_record(i)))],
            storage: vec![(addr, slot, U256::from(i))],
            account_history: vec![(addr, (i > 1).then(|| indexed_record(i - 1)))],
            storage_history: vec![(addr, slot, U256::from(i - 1))],
            ..Default::default()
        })
        .unwrap();
    }
}

fn tx_hash_of(block: u64, index: u64) -> B256 {
    keccak256([block.to_be_bytes(), index.to_be_bytes()].concat())
}

fn indexed_record(nonce: u64) -> AccountRecord {
    AccountRecord {
        nonce,
        balance: U256::from(nonce),
        storage_root: B256::ZERO,
        code_hash: B256::ZERO,
    }
}

/// Every transaction's location and the account and slot at every block up to `head`.
fn check_indexes(view: &view::StateView<'_>, s: &Storage, addr: Address, slot: B256, head: u64) {
    for i in 1..=head {
        for j in 0..3 {
            assert_eq!(
                s.tx_location(&tx_hash_of(i, j)).unwrap(),
                Some(TxLocation { block: i, index: j }),
                "tx {j} of block {i}"
            );
        }
    }
    assert_eq!(s.tx_location(&tx_hash_of(head + 1, 0)).unwrap(), None);
    for at in 0..=head {
        let want = (at > 0).then(|| indexed_record(at));
        assert_eq!(view.account_at(&addr, at).unwrap(), want, "account at {at}");
        assert_eq!(
            view.storage_at(&addr, &slot, at).unwrap(),
            U256::from(at),
            "slot at {at}"
        );
    }
}

/// The datadir of the index tests, its writer thread off: blocks 0 to `to` stored, their
/// entries pending.
fn indexed_chain(dir: &std::path::Path, to: u64) -> Storage {
    let s = Storage::open(dir).unwrap();
    s.index.set_writer(false);
    s.commit_block(&BlockCommit {
        block: Some(block(0, vec![])),
        ..Default::default()
    })
    .unwrap();
    commit_indexed_blocks(&s, Address::repeat_byte(0xcc), B256::repeat_byte(4), 1, to);
    s
}

#[test]
fn block_indexes_read_alike_pending_written_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::repeat_byte(0xcc);
    let slot = B256::repeat_byte(4);
    {
        let s = indexed_chain(dir.path(), 10);
        // Nothing written yet: the keyspaces are empty, the logs hold the history.
        assert_eq!(s.txs.iter().count(), 0);
        assert_eq!(s.account_history.iter().count(), 0);
        assert_eq!(s.index_log.iter().count(), 11);
        check_indexes(&s.snapshot(), &s, addr, slot, 10);

        // A snapshot taken before the entries are written still reads every one after.
        let before = s.snapshot();
        s.flush_indexes().unwrap();
        assert_eq!(s.txs.iter().count(), 30);
        assert_eq!(s.account_history.iter().count(), 10);
        assert_eq!(s.storage_history.iter().count(), 10);
        assert_eq!(s.index_log.iter().count(), 0);
        check_indexes(&before, &s, addr, slot, 10);
        check_indexes(&s.snapshot(), &s, addr, slot, 10);

        // Half ingested, half pending; then a stop without ingesting.
        commit_indexed_blocks(&s, addr, slot, 11, 20);
        check_indexes(&s.snapshot(), &s, addr, slot, 20);
    }
    {
        // The restart puts the pending half back from the records and the logs.
        let s = Storage::open(dir.path()).unwrap();
        s.index.set_writer(false);
        check_indexes(&s.snapshot(), &s, addr, slot, 20);
        // The lost blocks wrote no trie nodes: nothing to recompute, but until the state
        // says so (ordo-exec's repair), nothing is written behind them.
        assert_eq!(s.trie_behind().unwrap(), Some(10));
        s.flush_indexes().unwrap();
        assert_eq!(s.index_log.iter().count(), 10);
        s.repair_trie(20, &[], &[], &[]).unwrap();
        s.flush_indexes().unwrap();
        check_indexes(&s.snapshot(), &s, addr, slot, 20);
        assert_eq!(s.index_log.iter().count(), 0);

        // Past a batch's worth of blocks the writer thread writes them on its own.
        s.index.set_writer(true);
        let head = 20 + INDEX_BATCH_BLOCKS as u64 + 5;
        commit_indexed_blocks(&s, addr, slot, 21, head);
        let waited = std::time::Instant::now();
        while s.index.pending().len() >= INDEX_BATCH_BLOCKS {
            assert!(
                waited.elapsed() < std::time::Duration::from_secs(60),
                "the index writer never ran"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(s.txs.iter().count() > 60 + 3 * INDEX_BATCH_BLOCKS);
        check_indexes(&s.snapshot(), &s, addr, slot, head);
    }
    let s = Storage::open(dir.path()).unwrap();
    let head = 20 + INDEX_BATCH_BLOCKS as u64 + 5;
    check_indexes(&s.snapshot(), &s, addr, slot, head);
}

#[test]
fn a_datadir_from_before_deferred_indexes_counts_as_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::repeat_byte(0xcc);
    let slot = B256::repeat_byte(4);
    {
        let s = indexed_chain(dir.path(), 3);
        s.flush_indexes().unwrap();
        // As an older version left it: no mark, no logs.
        s.meta.remove(index::INDEXED_KEY).unwrap();
    }
    {
        let s = Storage::open(dir.path()).unwrap();
        s.index.set_writer(false);
        assert!(s.index.pending().is_empty());
        check_indexes(&s.snapshot(), &s, addr, slot, 3);
        // Blocks stored after the upgrade, then a stop before their entries are written.
        commit_indexed_blocks(&s, addr, slot, 4, 5);
    }
    let s = Storage::open(dir.path()).unwrap();
    check_indexes(&s.snapshot(), &s, addr, slot, 5);
}
