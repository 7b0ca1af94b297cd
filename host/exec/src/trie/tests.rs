//! The incremental root against alloy-trie's from-scratch root, over random change
//! sequences on an in-memory store shaped like the disk one.

use std::{
    collections::{BTreeMap, HashSet},
    sync::atomic::{AtomicUsize, Ordering},
};

use alloy_primitives::{B256, Bytes};
use alloy_trie::{BranchNodeCompact, HashBuilder, Nibbles, proof::verify_proof};
use rand::{Rng, SeedableRng, rngs::StdRng};

use super::*;
use crate::error::StateError;

#[derive(Default, Clone)]
struct Mem {
    nodes: BTreeMap<Nibbles, BranchNodeCompact>,
    leaves: BTreeMap<B256, Vec<u8>>,
}

impl TrieNodes for Mem {
    fn first_under(
        &self,
        prefix: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateError> {
        Ok(self
            .nodes
            .range(*prefix..)
            .next()
            .filter(|(path, _)| path.starts_with(prefix))
            .map(|(path, node)| (*path, node.clone())))
    }
}

impl TrieLeaves for Mem {
    fn seek(&self, from: &Nibbles) -> Result<Option<(B256, Vec<u8>)>, StateError> {
        Ok(self
            .leaves
            .range(seek_key(from)..)
            .next()
            .map(|(k, v)| (*k, v.clone())))
    }
}

/// Stored leaves that count their reads (shareable across a parallel root's threads).
struct Counted<'a> {
    leaves: &'a BTreeMap<B256, Vec<u8>>,
    reads: AtomicUsize,
}

impl<'a> Counted<'a> {
    fn new(leaves: &'a BTreeMap<B256, Vec<u8>>) -> Self {
        Self {
            leaves,
            reads: AtomicUsize::new(0),
        }
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }
}

impl StoredLeaves for Counted<'_> {
    fn next(&self, from: &B256) -> Result<Option<(B256, Vec<u8>)>, StateError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self
            .leaves
            .range(*from..)
            .next()
            .map(|(k, v)| (*k, v.clone())))
    }
}

/// The change from `before` to `after` as a block overlay, and which of its keys were
/// stored before.
fn overlay_of(
    before: &BTreeMap<B256, Vec<u8>>,
    after: &BTreeMap<B256, Vec<u8>>,
    changed: &PrefixSet,
) -> (BTreeMap<B256, Option<Vec<u8>>>, HashSet<B256>) {
    let mut overlay = BTreeMap::new();
    let mut stored = HashSet::new();
    for key in changed.keys() {
        let key = B256::from_slice(&key.pack());
        overlay.insert(key, after.get(&key).cloned());
        if before.contains_key(&key) {
            stored.insert(key);
        }
    }
    (overlay, stored)
}

/// Root and every branch node, from scratch.
fn scratch(leaves: &BTreeMap<B256, Vec<u8>>) -> (B256, BTreeMap<Nibbles, BranchNodeCompact>) {
    let mut hb = HashBuilder::default()
        .with_updates(true)
        .with_all_branch_nodes(true);
    for (k, v) in leaves {
        hb.add_leaf(Nibbles::unpack(k), v);
    }
    let root = hb.root();
    let (_, updates) = hb.split();
    (root, updates.into_iter().collect())
}

/// Keys crowded into a few prefixes, so extensions, deep branches and collapses are common.
fn key(rng: &mut StdRng) -> B256 {
    let mut k = B256::from(rng.random::<[u8; 32]>());
    let crowd = rng.random_range(0..4u8);
    k[0] = [0x00, 0x01, 0x10, 0xab][crowd as usize];
    if rng.random_bool(0.5) {
        k[1] = rng.random_range(0..3u8);
        if rng.random_bool(0.5) {
            k[2] = 0x42;
        }
    }
    k
}

fn value(rng: &mut StdRng) -> Vec<u8> {
    // Storage-like (1..33 bytes) and account-like (~70 bytes) values.
    let len = if rng.random_bool(0.5) {
        rng.random_range(1..=33)
    } else {
        70
    };
    (0..len).map(|_| rng.random()).collect()
}

/// Applies `update` to the stored nodes.
fn apply(mem: &mut Mem, update: &TrieUpdate) {
    for path in &update.removed {
        mem.nodes.remove(path);
    }
    for (path, node) in &update.nodes {
        mem.nodes.insert(*path, node.clone());
    }
}

fn check_proofs(nodes: &Mem, leaves: &Mem, changed: &PrefixSet, rng: &mut StdRng, root: B256) {
    let mut targets: Vec<B256> = leaves.leaves.keys().copied().take(3).collect();
    if let Some((k, _)) = leaves
        .leaves
        .iter()
        .nth(rng.random_range(0..leaves.leaves.len().max(1)))
    {
        targets.push(*k);
    }
    targets.push(key(rng));
    let view = Mem {
        nodes: nodes.nodes.clone(),
        leaves: leaves.leaves.clone(),
    };
    let nibbles: Vec<Nibbles> = targets.iter().map(Nibbles::unpack).collect();
    let (proof_root, proof) = prove(&view, &view, changed, &nibbles).unwrap();
    assert_eq!(proof_root, root);
    for (target, path) in targets.iter().zip(&nibbles) {
        let nodes: Vec<Bytes> = proof
            .matching_nodes_sorted(path)
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        let expected = leaves.leaves.get(target).cloned();
        verify_proof(root, *path, expected, &nodes).unwrap_or_else(|e| panic!("{target}: {e}"));
    }
}

fn sorted(mut paths: Vec<Nibbles>) -> Vec<Nibbles> {
    paths.sort_unstable();
    paths
}

#[test]
fn incremental_root_equals_scratch_root() {
    let mut rehashed = 0;
    for seed in 0..60u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut mem = Mem::default();
        for round in 0..25 {
            let before = mem.clone();
            let mut changed = Vec::new();
            // Mostly inserts early, then a mix; some rounds delete in bulk (collapses).
            let bulk_delete = round > 5 && rng.random_bool(0.2);
            let n = rng.random_range(1..40);
            for _ in 0..n {
                let existing: Option<B256> = if mem.leaves.is_empty() {
                    None
                } else {
                    let i = rng.random_range(0..mem.leaves.len());
                    mem.leaves.keys().nth(i).copied()
                };
                match (rng.random_range(0..10), existing) {
                    (0..=3, Some(k)) if bulk_delete || round > 3 => {
                        mem.leaves.remove(&k);
                        changed.push(Nibbles::unpack(k));
                    }
                    (4..=5, Some(k)) => {
                        mem.leaves.insert(k, value(&mut rng));
                        changed.push(Nibbles::unpack(k));
                    }
                    _ => {
                        let k = key(&mut rng);
                        mem.leaves.insert(k, value(&mut rng));
                        changed.push(Nibbles::unpack(k));
                    }
                }
            }
            if bulk_delete {
                let keep = rng.random_range(0..3);
                let doomed: Vec<B256> = mem.leaves.keys().skip(keep).copied().collect();
                for k in doomed {
                    if rng.random_bool(0.9) {
                        mem.leaves.remove(&k);
                        changed.push(Nibbles::unpack(k));
                    }
                }
            }
            let changed = PrefixSet::new(changed);
            let update = update_root(&before, &mem, &changed).unwrap();
            let (root, all) = scratch(&mem.leaves);
            assert_eq!(update.root, root, "seed {seed} round {round}");
            // The same change as the builder sees it: stored leaves under the block's
            // overlay, knowing which changed keys were stored, gives the same update.
            let (overlay, stored) = overlay_of(&before.leaves, &mem.leaves, &changed);
            let layered = Overlaid {
                base: Counted::new(&before.leaves),
                overlay: &overlay,
                stored: Some(&stored),
            };
            let via_overlay = update_root(&before, &layered, &changed).unwrap();
            assert_eq!(via_overlay.root, root, "overlay: seed {seed} round {round}");
            assert_eq!(via_overlay.nodes, update.nodes, "seed {seed} round {round}");
            assert_eq!(
                via_overlay.removed, update.removed,
                "seed {seed} round {round}"
            );
            // Rehashing in place (where the shape allows) gives the same update.
            if let Some(direct) =
                super::root::rehash_root(&before, &layered, &changed, false).unwrap()
            {
                rehashed += 1;
                assert_eq!(direct.root, root, "rehash: seed {seed} round {round}");
                assert_eq!(
                    direct.nodes, update.nodes,
                    "rehash: seed {seed} round {round}"
                );
                assert_eq!(
                    sorted(direct.removed),
                    sorted(update.removed.clone()),
                    "rehash: seed {seed} round {round}"
                );
            }
            apply(&mut mem, &update);
            let stored: Vec<(Nibbles, u16)> = mem
                .nodes
                .iter()
                .map(|(p, n)| (*p, n.state_mask.get()))
                .collect();
            let expected: Vec<(Nibbles, u16)> =
                all.iter().map(|(p, n)| (*p, n.state_mask.get())).collect();
            assert_eq!(
                stored, expected,
                "stored branch nodes, seed {seed} round {round}"
            );
            // Nothing changed: the same root, computed from stored hashes alone.
            let again = update_root(&mem, &mem, &PrefixSet::default()).unwrap();
            assert_eq!(again.root, root);
            if round % 5 == 4 {
                check_proofs(&mem, &mem, &PrefixSet::default(), &mut rng, root);
                // An older state over today's nodes: the keys changed since then are the
                // overlay, as for `eth_getProof` at an older block.
                let (old_root, _) = scratch(&before.leaves);
                check_proofs(&mem, &before, &changed, &mut rng, old_root);
            }
        }
    }
    assert!(rehashed > 0, "never rehashed in place");
}

#[test]
fn empty_and_single_leaf() {
    let mem = Mem::default();
    let update = update_root(&mem, &mem, &PrefixSet::default()).unwrap();
    assert_eq!(update.root, alloy_trie::EMPTY_ROOT_HASH);
    assert!(update.nodes.is_empty() && update.removed.is_empty());

    let mut one = Mem::default();
    one.leaves.insert(B256::repeat_byte(7), vec![1, 2, 3]);
    let changed = PrefixSet::new(vec![Nibbles::unpack(B256::repeat_byte(7))]);
    let update = update_root(&mem, &one, &changed).unwrap();
    assert_eq!(update.root, scratch(&one.leaves).0);
    assert!(update.nodes.is_empty(), "a lone leaf has no branch");
}

#[test]
fn changing_stored_leaves_reads_no_stored_leaf() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut leaves = BTreeMap::new();
    for _ in 0..3000 {
        leaves.insert(B256::from(rng.random::<[u8; 32]>()), value(&mut rng));
    }
    // The nodes alone: the leaves come from the block's overlay over `leaves`.
    let stored = Mem {
        leaves: BTreeMap::new(),
        ..with_hashed_nodes(leaves.clone())
    };

    // New values for existing keys (a block of transfers between known accounts).
    let mut after = leaves.clone();
    let keys: Vec<B256> = leaves.keys().copied().collect();
    let mut changed = Vec::new();
    for _ in 0..200 {
        let key = keys[rng.random_range(0..keys.len())];
        after.insert(key, value(&mut rng));
        changed.push(Nibbles::unpack(key));
    }
    let changed = PrefixSet::new(changed);
    let (overlay, known) = overlay_of(&leaves, &after, &changed);
    let layered = Overlaid {
        base: Counted::new(&leaves),
        overlay: &overlay,
        stored: Some(&known),
    };
    let update = update_root(&stored, &layered, &changed).unwrap();
    assert_eq!(update.root, scratch(&after).0);
    assert_eq!(layered.base.reads(), 0, "stored leaves read");

    // The same without knowing what was stored reads the stored leaves.
    let blind = Overlaid {
        base: Counted::new(&leaves),
        overlay: &overlay,
        stored: None,
    };
    assert_eq!(
        update_root(&stored, &blind, &changed).unwrap().root,
        update.root
    );
    assert!(blind.base.reads() >= 150);

    // New keys read at most the one stored leaf beside each.
    let mut grown = leaves.clone();
    let mut changed = Vec::new();
    for _ in 0..200 {
        let key = B256::from(rng.random::<[u8; 32]>());
        grown.insert(key, value(&mut rng));
        changed.push(Nibbles::unpack(key));
    }
    let changed = PrefixSet::new(changed);
    let (overlay, known) = overlay_of(&leaves, &grown, &changed);
    let layered = Overlaid {
        base: Counted::new(&leaves),
        overlay: &overlay,
        stored: Some(&known),
    };
    assert_eq!(
        update_root(&stored, &layered, &changed).unwrap().root,
        scratch(&grown).0
    );
    assert!(layered.base.reads() <= 2 * 200, "{}", layered.base.reads());
}

/// A trie like a large state's: `n` leaves, mostly spread keys and every `crowded`-th one
/// crowded (extensions and deep branches below the root), its nodes stored from scratch with
/// their leaf children's hashes.
fn spread(rng: &mut StdRng, n: usize, crowded: usize) -> Mem {
    let mut leaves = BTreeMap::new();
    for i in 0..n {
        let k = if i % crowded == 0 {
            key(rng)
        } else {
            B256::from(rng.random::<[u8; 32]>())
        };
        leaves.insert(k, value(rng));
    }
    with_hashed_nodes(leaves)
}

/// `leaves` with their nodes stored from scratch, each holding its leaf children's hashes
/// (as a genesis writes them).
fn with_hashed_nodes(leaves: BTreeMap<B256, Vec<u8>>) -> Mem {
    let (_, all) = scratch(&leaves);
    let mut nodes: Vec<(Nibbles, BranchNodeCompact)> = all.into_iter().collect();
    let plain = Mem {
        nodes: BTreeMap::new(),
        leaves,
    };
    with_leaf_hashes(&mut nodes, &plain).unwrap();
    Mem {
        nodes: nodes.into_iter().collect(),
        leaves: plain.leaves,
    }
}

/// Makes `n` random changes to `mem`'s leaves (a fifth of them deletions) and returns the
/// keys changed: `stored` in ten pick a stored key, one in ten a crowded new one, the rest a
/// spread new one.
fn change(rng: &mut StdRng, mem: &mut Mem, n: usize, stored: u32) -> Vec<Nibbles> {
    let keys: Vec<B256> = mem.leaves.keys().copied().collect();
    let mut changed = Vec::with_capacity(n);
    for _ in 0..n {
        let pick = rng.random_range(0..10);
        let k = if pick < stored {
            keys[rng.random_range(0..keys.len())]
        } else if pick == stored {
            key(rng)
        } else {
            B256::from(rng.random::<[u8; 32]>())
        };
        if rng.random_range(0..10) < 2 {
            mem.leaves.remove(&k);
        } else {
            mem.leaves.insert(k, value(rng));
        }
        changed.push(Nibbles::unpack(k));
    }
    changed
}

/// `got` is exactly `one`'s update (the one walk's), and its root that of `after`'s leaves
/// from scratch. Removed paths may come in another order.
fn same_update(got: &TrieUpdate, one: &TrieUpdate, after: &Mem, what: &str) {
    assert_eq!(got.root, scratch(&after.leaves).0, "{what}");
    assert_eq!(got.root, one.root, "{what}");
    assert_eq!(got.nodes, one.nodes, "{what}");
    assert_eq!(
        sorted(got.removed.clone()),
        sorted(one.removed.clone()),
        "{what}"
    );
}

#[test]
fn parallel_root_equals_the_one_walk() {
    for seed in 0..6u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut mem = spread(&mut rng, 4000, 8);
        let mut split = 0;
        for round in 0..6 {
            let before = mem.clone();
            let n = rng.random_range(PARALLEL_KEYS..2 * PARALLEL_KEYS);
            let mut changed = change(&mut rng, &mut mem, n, 6);
            // Round 3 empties one child of the root but a leaf (it collapses), round 5 all
            // of another (it goes): the split must leave both to the one walk.
            let doomed = |k: &B256| match round {
                3 => k[0] >> 4 == 0x5,
                5 => k[0] >> 4 == 0x9,
                _ => false,
            };
            let gone: Vec<B256> = mem.leaves.keys().filter(|k| doomed(k)).copied().collect();
            for k in gone.iter().skip(usize::from(round == 3)) {
                mem.leaves.remove(k);
                changed.push(Nibbles::unpack(*k));
            }
            let changed = PrefixSet::new(changed);
            let one = update_root(&before, &mem, &changed).unwrap();
            let (overlay, stored) = overlay_of(&before.leaves, &mem.leaves, &changed);
            let layered = Overlaid {
                base: Counted::new(&before.leaves),
                overlay: &overlay,
                stored: Some(&stored),
            };
            let parallel = update_root_parallel(&before, &layered, &changed).unwrap();
            same_update(&parallel, &one, &mem, &format!("seed {seed} round {round}"));
            let direct = super::root::rehash_root(&before, &layered, &changed, true)
                .unwrap()
                .is_some();
            split += usize::from(direct);
            // The same on one thread.
            if let Some(alone) =
                super::root::rehash_root(&before, &layered, &changed, false).unwrap()
            {
                assert_eq!(alone.nodes, one.nodes, "seed {seed} round {round}");
                assert_eq!(alone.root, one.root, "seed {seed} round {round}");
            }
            apply(&mut mem, &one);
        }
        assert!(split >= 3, "the root was rehashed in {split} of 6 rounds");
    }
}

/// A spread trie like a large state's (every node holding its leaf children's hashes),
/// changed a few keys at a time: new leaves beside stored ones, leaves that go, values that
/// change. Rehashing in place must give exactly the one walk's update, also where a node
/// below the root changes shape and is walked alone.
#[test]
fn rehashing_in_place_equals_the_one_walk() {
    let mut rehashed = 0;
    let mut rounds = 0;
    for seed in 0..8u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut mem = spread(&mut rng, 3000, 16);
        for round in 0..40 {
            let before = mem.clone();
            let n = rng.random_range(1..60);
            let changed = PrefixSet::new(change(&mut rng, &mut mem, n, 7));
            let one = update_root(&before, &mem, &changed).unwrap();
            let (overlay, stored) = overlay_of(&before.leaves, &mem.leaves, &changed);
            let layered = Overlaid {
                base: Counted::new(&before.leaves),
                overlay: &overlay,
                stored: Some(&stored),
            };
            rounds += 1;
            if let Some(direct) =
                super::root::rehash_root(&before, &layered, &changed, false).unwrap()
            {
                rehashed += 1;
                same_update(&direct, &one, &mem, &format!("seed {seed} round {round}"));
            }
            apply(&mut mem, &one);
        }
    }
    assert!(
        rehashed * 10 >= rounds * 9,
        "rehashed in place in {rehashed} of {rounds} rounds"
    );
}

/// Stored nodes that count their range reads (point reads are free, as cached ones are).
struct RangeCounted<'a> {
    mem: &'a Mem,
    ranges: AtomicUsize,
}

impl TrieNodes for RangeCounted<'_> {
    fn first_under(
        &self,
        prefix: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateError> {
        self.ranges.fetch_add(1, Ordering::Relaxed);
        self.mem.first_under(prefix)
    }

    fn node_at(&self, path: &Nibbles) -> Result<Option<BranchNodeCompact>, StateError> {
        Ok(self.mem.nodes.get(path).cloned())
    }
}

#[test]
fn extension_hints_never_change_an_answer() {
    // Kept over every round and every seed, never invalidated: most go stale as the tries
    // change under them.
    let hints = extension_hints(0);
    let generation = Generation::default();
    let (mut stale, mut hinted) = (0, 0);
    for seed in 0..12u64 {
        let mut rng = StdRng::seed_from_u64(700 + seed);
        let mut mem = Mem::default();
        for round in 0..30 {
            let keys: Vec<B256> = mem.leaves.keys().copied().collect();
            for _ in 0..rng.random_range(1..30) {
                if !keys.is_empty() && rng.random_bool(0.3) {
                    mem.leaves.remove(&keys[rng.random_range(0..keys.len())]);
                } else {
                    mem.leaves.insert(key(&mut rng), value(&mut rng));
                }
            }
            mem.nodes = scratch(&mem.leaves).1;
            // Every path a walk can ask about: each prefix of each key, one nibble past.
            let mut probes: Vec<Nibbles> = Vec::new();
            for k in mem.leaves.keys().take(200) {
                let k = Nibbles::unpack(k);
                probes.extend((0..=12).map(|len| k.slice(..len)));
            }
            probes.sort_unstable();
            probes.dedup();
            // The node cache is kept exact by the block applier; here it starts empty.
            let cache = node_cache(1 << 20);
            let nodes = CachedNodes {
                inner: RangeCounted {
                    mem: &mem,
                    ranges: AtomicUsize::new(0),
                },
                owner: STATE_TRIE_OWNER,
                cache: &cache,
                hints: &hints,
                generation: &generation,
                since: generation.now(),
            };
            let mut ranged = 0;
            for pass in 0..2 {
                for probe in &probes {
                    let truth = mem.first_under(probe).unwrap();
                    let hint = hints.get(&(STATE_TRIE_OWNER, *probe));
                    if pass == 0 && hint.is_some_and(|h| truth.as_ref().is_none_or(|t| t.0 != h)) {
                        stale += 1;
                    }
                    let found = nodes.first_under(probe).unwrap();
                    assert_eq!(
                        found, truth,
                        "seed {seed} round {round} pass {pass} {probe:?}"
                    );
                    // The second time, a path whose first node is below it is answered
                    // from its hint: only the others are range reads.
                    if pass == 1 && truth.is_none_or(|(path, _)| path == *probe) {
                        ranged += 1;
                    } else if pass == 1 {
                        hinted += 1;
                    }
                }
                if pass == 0 {
                    nodes.inner.ranges.store(0, Ordering::Relaxed);
                }
            }
            assert_eq!(
                nodes.inner.ranges.load(Ordering::Relaxed),
                ranged,
                "seed {seed} round {round}"
            );
        }
    }
    // The stale hints were met (and refused), and the fresh ones spared range reads.
    assert!(stale > 100, "{stale} stale hints");
    assert!(hinted > 100, "{hinted} hinted answers");
}
