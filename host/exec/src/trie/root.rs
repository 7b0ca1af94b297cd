//! The incremental root: alloy-trie's [`HashBuilder`] fed by a walk over the stored branch
//! nodes that descends only where the block changed something.
//!
//! Every branch node of a trie is stored (`HashBuilder::with_all_branch_nodes`), keyed by
//! its path. A stored node's masks say, per child: present (`state_mask`), a stored branch
//! somewhere below (`tree_mask`), and a known hash (`hash_mask`, the hash in `hashes`). The
//! walk (`visit` → `node`) goes through a node's children in order:
//!
//! ```text
//! child changed (in the PrefixSet) ── branch below? ──▶ visit it : feed its leaves
//! unchanged, branch below, hash known ──▶ add_branch(path, hash)   (the whole subtrie)
//! unchanged, branch below, no hash    ──▶ visit it  (an extension, or an inlined branch)
//! unchanged leaf ── node stays a branch? ──▶ add_branch(path, leaf hash) (stored or computed)
//!                                      else ──▶ add_leaf (a lone child moves up: new path)
//! ```
//!
//! Reads are what a block costs, so the walk avoids them: a branch child is read by its exact
//! path first (`TrieNodes::node_at`, a point read the builder caches), and a changed child
//! with no branch below takes its leaves from the block's changes alone when they tell them
//! all (`TrieLeaves::changed_under`: its one stored leaf is a changed key, or it had none),
//! as do the new leaves beside an extension.
//!
//! Whatever the builder rebuilds it reports as updated nodes; a node the walk entered and the
//! builder did not report is gone (its branch collapsed). The same walk with the proof
//! targets counted as changed, and a proof retainer on the builder, yields EIP-1186 proofs.
//!
//! [`update_root_parallel`] first tries to do without the builder: a stored node whose
//! children keep their shape (the common case in a large state: a full branch whose changed
//! child is a branch too, or a leaf that changes its value) is rehashed where it stands from
//! its stored hashes and its changed children's new ones ([`rehash_root`]); a node that may
//! change shape is walked alone on a builder of its own, fed keys without its path's nibbles
//! (a subtrie hashes as the trie of its keys' remainders). Each node is handed the changed
//! keys under it and splits them among its children in one pass (prefix.rs `by_child`), so no node
//! searches the whole change set. A large change rehashes the root's changed children on
//! their own threads. It gives exactly what [`update_root`] gives, or
//! defers to it.

use alloy_primitives::B256;
use alloy_trie::{
    BranchNodeCompact, HashBuilder, Nibbles, TrieMask,
    nodes::{BranchNodeRef, LeafNodeRef, RlpNode},
    proof::{ProofNodes, ProofRetainer},
};

use super::prefix::{PrefixSet, by_child};
use crate::error::StateError;

/// The stored branch nodes of one trie.
pub trait TrieNodes {
    /// The first stored node, in path order, whose path starts with `prefix`.
    fn first_under(
        &self,
        prefix: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateError>;

    /// The node stored at exactly `path`. A point read (cacheable) where `first_under` is a
    /// range read: the walk tries it first, since a branch child is most often a branch.
    fn node_at(&self, path: &Nibbles) -> Result<Option<BranchNodeCompact>, StateError> {
        Ok(self
            .first_under(path)?
            .filter(|(found, _)| found == path)
            .map(|(_, node)| node))
    }
}

/// The leaves of one trie as they are after the change (stored leaves under the block's
/// overlay), in key order.
pub trait TrieLeaves {
    /// The first leaf whose key is at or after `from` (a shorter path stands for its
    /// smallest completion): its hashed key and its encoded value.
    fn seek(&self, from: &Nibbles) -> Result<Option<(B256, Vec<u8>)>, StateError>;

    /// The leaves under `prefix`, if the changed leaves alone tell them: `prefix` is a child
    /// slot of a stored node with no branch below it, which held one stored leaf
    /// (`had_leaf`) or none. `None` means "read the stored leaves" (the default).
    fn changed_under(&self, _prefix: &Nibbles, _had_leaf: bool) -> Option<Vec<(B256, Vec<u8>)>> {
        None
    }

    /// Whether a changed key under `prefix` now has a value (so a leaf is there for sure,
    /// without reading). `false` when not known.
    fn sets_under(&self, _prefix: &Nibbles) -> bool {
        false
    }
}

/// The smallest 32-byte key under `path` (its nibbles, then zeros): where a leaf seek for a
/// partial path starts.
pub fn seek_key(path: &Nibbles) -> B256 {
    let mut key = B256::ZERO;
    let packed = path.pack();
    key[..packed.len()].copy_from_slice(&packed);
    key
}

/// What a root computation found and changed.
#[derive(Debug, Default)]
pub struct TrieUpdate {
    /// The new root.
    pub root: B256,
    /// Branch nodes to store (new or rewritten), by path.
    pub nodes: Vec<(Nibbles, BranchNodeCompact)>,
    /// Paths of stored branch nodes that no longer exist.
    pub removed: Vec<Nibbles>,
}

/// The root after the leaves under `changed` changed, from the nodes stored for the trie
/// before the change. Nothing is written: the caller stores `nodes` and deletes `removed`.
pub fn update_root(
    nodes: &impl TrieNodes,
    leaves: &impl TrieLeaves,
    changed: &PrefixSet,
) -> Result<TrieUpdate, StateError> {
    let hb = HashBuilder::default()
        .with_updates(true)
        .with_all_branch_nodes(true);
    let mut walk = Walk::new(nodes, leaves, changed, hb);
    walk.visit(Nibbles::default())?;
    let root = walk.hb.root();
    let (_, mut updates) = walk.hb.split();
    let removed = walk
        .visited
        .into_iter()
        .filter(|path| !updates.contains_key(path))
        .collect();
    let mut nodes: Vec<(Nibbles, BranchNodeCompact)> = updates.drain().collect();
    nodes.sort_unstable_by_key(|a| a.0);
    Ok(TrieUpdate {
        root,
        nodes,
        removed,
    })
}

/// Fewer changed keys than this are rehashed on the calling thread. A split costs thread
/// hand-offs and pays only when a core is free to take a subtrie; a 1,000-transfer block
/// (over 1,000 changed accounts) is where the walk is long enough to gain from it.
pub const PARALLEL_KEYS: usize = 1024;

/// How many levels of a large change split their changed branch children across the root
/// threads: the root's sixteen subtries alone left one thread idle for up to a third of the
/// walk behind the other's last subtrie (`perf sched timehist` of `ordo bench blocks`); the
/// 256 below them share out evenly.
const SPLIT_LEVELS: usize = 2;

/// Threads for [`update_root_parallel`], apart from rayon's global pool (the transaction
/// pool's parallel account reads), so that a block's root does not queue behind them.
fn root_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(16));
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("ordo-root-{i}"))
            .start_handler(move |i| {
                crate::apply_block_thread_priority();
                crate::priority::pin_pool_thread(i, threads);
            })
            .build()
            .map_err(|e| tracing::warn!(target: "ordo::exec", error = %e, "no root threads: roots are computed on the builder's thread"))
            .ok()
    })
    .as_ref()
}

/// [`update_root`], computed where it can be without the hash builder ([`rehash_root`]),
/// with the root's changed subtries, and theirs, on their own threads when the change is large
/// ([`PARALLEL_KEYS`]). It gives exactly what [`update_root`] gives, or defers to it.
pub fn update_root_parallel<N: TrieNodes + Sync, L: TrieLeaves + Sync>(
    nodes: &N,
    leaves: &L,
    changed: &PrefixSet,
) -> Result<TrieUpdate, StateError> {
    let parallel = changed.keys().len() >= PARALLEL_KEYS;
    if let Some(update) = rehash_root(nodes, leaves, changed, parallel)? {
        return Ok(update);
    }
    update_root(nodes, leaves, changed)
}

/// The update when the root keeps its shape: each stored node on a changed path whose
/// children stay as they were (present, branch or leaf, and all hashed) is rehashed where it
/// stands, from its stored hashes and its changed children's new ones; a node that may change
/// shape is walked alone ([`Walk::rewalk`]). `None` when the root itself may change shape.
///
/// Most of a large state's changed paths are such nodes: a branch with sixteen children
/// whose one changed child is a branch too, down to a leaf that changes its value. Rehashing
/// one costs its encoding and its hash, where the hash builder also replays each of its
/// children through its stack. `parallel`: the root's changed branch children, and theirs
/// ([`SPLIT_LEVELS`]), are rehashed on their own threads.
pub(super) fn rehash_root<N: TrieNodes + Sync, L: TrieLeaves + Sync>(
    nodes: &N,
    leaves: &L,
    changed: &PrefixSet,
    parallel: bool,
) -> Result<Option<TrieUpdate>, StateError> {
    let top = Nibbles::default();
    let Some(root) = nodes.node_at(&top)? else {
        return Ok(None);
    };
    let pool = if parallel { root_pool() } else { None };
    let mut walk = Walk::new(nodes, leaves, changed, HashBuilder::default());
    // About as many nodes as the changed keys' paths have levels above their leaves.
    let mut out = Rebuilt::with_capacity(changed.keys().len() * 4);
    let Some(root_hash) = walk.rehash(top, &root, changed.keys(), &mut out, pool)? else {
        return Ok(None);
    };
    out.nodes.sort_unstable_by_key(|a| a.0);
    Ok(Some(TrieUpdate {
        root: root_hash,
        nodes: out.nodes,
        removed: out.removed,
    }))
}

/// Nodes rebuilt by [`Walk::rehash`] and [`Walk::rewalk`] (full paths), and the stored nodes
/// found gone.
#[derive(Default)]
struct Rebuilt {
    nodes: Vec<(Nibbles, BranchNodeCompact)>,
    removed: Vec<Nibbles>,
}

impl Rebuilt {
    fn with_capacity(nodes: usize) -> Self {
        Self {
            nodes: Vec::with_capacity(nodes),
            removed: Vec::new(),
        }
    }

    fn mark(&self) -> (usize, usize) {
        (self.nodes.len(), self.removed.len())
    }

    /// Forgets what was added since `mark` (a rehash given up half way).
    fn undo(&mut self, (nodes, removed): (usize, usize)) {
        self.nodes.truncate(nodes);
        self.removed.truncate(removed);
    }

    fn append(&mut self, mut other: Rebuilt) {
        self.nodes.append(&mut other.nodes);
        self.removed.append(&mut other.removed);
    }
}

/// The root and the proof nodes of `targets` (full hashed keys). `changed` names the keys
/// where `leaves` differs from what the stored nodes describe (a historical overlay), empty
/// at the head.
pub fn prove(
    nodes: &impl TrieNodes,
    leaves: &impl TrieLeaves,
    changed: &PrefixSet,
    targets: &[Nibbles],
) -> Result<(B256, ProofNodes), StateError> {
    let mut keys = changed.keys().to_vec();
    keys.extend_from_slice(targets);
    let expanded = PrefixSet::new(keys);
    let hb = HashBuilder::default().with_proof_retainer(ProofRetainer::new(targets.to_vec()));
    let mut walk = Walk::new(nodes, leaves, &expanded, hb);
    walk.proving = true;
    walk.visit(Nibbles::default())?;
    let root = walk.hb.root();
    Ok((root, walk.hb.take_proof_nodes()))
}

/// Adds to every node the hashes of its leaf children, so the first block that touches a
/// node built from leaves alone (a genesis, a new contract's storage) need not read the
/// node's other leaves. `leaves` are the trie's own.
pub fn with_leaf_hashes(
    nodes: &mut [(Nibbles, BranchNodeCompact)],
    leaves: &impl TrieLeaves,
) -> Result<(), StateError> {
    let mut buf = Vec::with_capacity(128);
    for (path, node) in nodes.iter_mut() {
        let leafy = node.state_mask.get() & !node.tree_mask.get() & !node.hash_mask.get();
        if leafy == 0 {
            continue;
        }
        let mut mask = node.hash_mask.get();
        let mut hashes = Vec::with_capacity(16);
        for nibble in 0..16u8 {
            let bit = 1u16 << nibble;
            if node.hash_mask.get() & bit != 0 {
                hashes.push(node.hash_for_nibble(nibble));
                continue;
            }
            if leafy & bit == 0 {
                continue;
            }
            let child = child(path, nibble);
            let Some((key, value)) = leaves.seek(&child)? else {
                continue;
            };
            let key = Nibbles::unpack(key);
            if !key.starts_with(&child) {
                continue;
            }
            buf.clear();
            let suffix = key.slice(path.len() + 1..);
            if let Some(hash) = LeafNodeRef::new(&suffix, &value).rlp(&mut buf).as_hash() {
                hashes.push(hash);
                mask |= bit;
            }
        }
        *node = BranchNodeCompact::new(
            node.state_mask,
            node.tree_mask,
            TrieMask::new(mask),
            hashes,
            node.root_hash,
        );
    }
    Ok(())
}

/// What is under a child slot with no branch below it.
enum ChildLeaves {
    None,
    One(Nibbles, Vec<u8>),
    Many,
}

struct Walk<'a, N, L> {
    nodes: &'a N,
    leaves: &'a L,
    changed: &'a PrefixSet,
    hb: HashBuilder,
    /// Stored nodes the walk entered (the builder rebuilds each one that still exists).
    visited: Vec<Nibbles>,
    buf: Vec<u8>,
    /// Building a proof: changed leaves are fed whole.
    proving: bool,
    /// Leading nibbles left off what the builder is fed (a subtrie walked on a builder of
    /// its own, [`Walk::rewalk`]).
    strip: usize,
}

fn child(path: &Nibbles, nibble: u8) -> Nibbles {
    let mut child = *path;
    child.push(nibble);
    child
}

impl<'a, N: TrieNodes, L: TrieLeaves> Walk<'a, N, L> {
    fn new(nodes: &'a N, leaves: &'a L, changed: &'a PrefixSet, hb: HashBuilder) -> Self {
        Self {
            nodes,
            leaves,
            changed,
            hb,
            visited: Vec::new(),
            buf: Vec::with_capacity(128),
            proving: false,
            strip: 0,
        }
    }

    fn add_leaf(&mut self, key: Nibbles, value: &[u8]) {
        self.hb.add_leaf(key.slice(self.strip..), value);
    }

    fn add_branch(&mut self, path: Nibbles, hash: B256, stored: bool) {
        self.hb.add_branch(path.slice(self.strip..), hash, stored);
    }

    /// Feeds the builder everything under `prefix`.
    fn visit(&mut self, prefix: Nibbles) -> Result<(), StateError> {
        if let Some(node) = self.nodes.node_at(&prefix)? {
            return self.node(prefix, node);
        }
        let Some((path, node)) = self.nodes.first_under(&prefix)? else {
            return self.feed(&prefix, prefix, None);
        };
        // Every branch is stored, so all stored nodes under `prefix` are under the first
        // one; before the change every leaf under `prefix` was under it too (an extension led
        // there). Leaves beside it are new.
        let below = path.len() > prefix.len();
        if below && let Some(known) = self.leaves.changed_under(&prefix, false) {
            // An extension led from `prefix` to `path`: no stored leaf is beside it, so the
            // only leaves there are new ones, and the changes name them.
            let (before, after): (Vec<_>, Vec<_>) = known
                .into_iter()
                .map(|(key, value)| (Nibbles::unpack(key), value))
                .filter(|(key, _)| !key.starts_with(&path))
                .partition(|(key, _)| *key < path);
            for (key, value) in before {
                self.add_leaf(key, &value);
            }
            self.node(path, node)?;
            for (key, value) in after {
                self.add_leaf(key, &value);
            }
            return Ok(());
        }
        if below {
            self.feed(&prefix, prefix, Some(&path))?;
        }
        self.node(path, node)?;
        if below && let Some(after) = path.increment() {
            self.feed(&prefix, after, None)?;
        }
        Ok(())
    }

    /// Feeds the leaves under `prefix` from `from` on, up to (not into) `stop`'s subtrie.
    fn feed(
        &mut self,
        prefix: &Nibbles,
        from: Nibbles,
        stop: Option<&Nibbles>,
    ) -> Result<(), StateError> {
        let mut cursor = from;
        while let Some((key, value)) = self.leaves.seek(&cursor)? {
            let key = Nibbles::unpack(key);
            if !key.starts_with(prefix) {
                break;
            }
            if let Some(stop) = stop
                && key.slice(..stop.len()) >= *stop
            {
                break;
            }
            self.add_leaf(key, &value);
            match key.increment() {
                Some(next) => cursor = next,
                None => break,
            }
        }
        Ok(())
    }

    /// The leaf under `prefix`, if there is one.
    fn leaf_under(&self, prefix: &Nibbles) -> Result<Option<(Nibbles, Vec<u8>)>, StateError> {
        self.leaf_under_from(prefix, prefix)
    }

    /// The first leaf under `prefix` at or after `from`.
    fn leaf_under_from(
        &self,
        prefix: &Nibbles,
        from: &Nibbles,
    ) -> Result<Option<(Nibbles, Vec<u8>)>, StateError> {
        Ok(match self.leaves.seek(from)? {
            Some((key, value)) => {
                let key = Nibbles::unpack(key);
                key.starts_with(prefix).then_some((key, value))
            }
            None => None,
        })
    }

    /// The leaves under child `nibble` of the node at `path`, which has no branch below it:
    /// none, one, or several (`Many`: feed them from the leaves).
    fn child_leaves(
        &self,
        path: &Nibbles,
        node: &BranchNodeCompact,
        nibble: u8,
    ) -> Result<ChildLeaves, StateError> {
        let child = child(path, nibble);
        if let Some(mut known) = self
            .leaves
            .changed_under(&child, node.state_mask.is_bit_set(nibble))
        {
            return Ok(match (known.pop(), known.is_empty()) {
                (None, _) => ChildLeaves::None,
                (Some((key, value)), true) => ChildLeaves::One(Nibbles::unpack(key), value),
                (Some(_), false) => ChildLeaves::Many,
            });
        }
        let Some((key, value)) = self.leaf_under(&child)? else {
            return Ok(ChildLeaves::None);
        };
        let more = match key.increment() {
            Some(next) => self.leaf_under_from(&child, &next)?.is_some(),
            None => false,
        };
        Ok(if more {
            ChildLeaves::Many
        } else {
            ChildLeaves::One(key, value)
        })
    }

    /// Whether the node at `path` still has two children or more after the change.
    fn survives(
        &self,
        path: &Nibbles,
        node: &BranchNodeCompact,
        changed: u16,
    ) -> Result<bool, StateError> {
        let mut children = (node.state_mask.get() & !changed).count_ones();
        for nibble in 0..16u8 {
            if children >= 2 {
                break;
            }
            if changed & (1 << nibble) == 0 {
                continue;
            }
            let present = if node.tree_mask.is_bit_set(nibble) {
                let child = child(path, nibble);
                self.leaves.sets_under(&child) || self.leaf_under(&child)?.is_some()
            } else {
                !matches!(self.child_leaves(path, node, nibble)?, ChildLeaves::None)
            };
            if present {
                children += 1;
            }
        }
        Ok(children >= 2)
    }

    /// Feeds the builder the children of the stored node at `path`.
    fn node(&mut self, path: Nibbles, node: BranchNodeCompact) -> Result<(), StateError> {
        self.visited.push(path);
        let changed = self.changed.child_mask(&path);
        let mut survives = None;
        for nibble in 0..16u8 {
            let child = child(&path, nibble);
            let below = node.tree_mask.is_bit_set(nibble);
            if changed & (1 << nibble) != 0 {
                if below {
                    self.visit(child)?;
                    continue;
                }
                // No branch below: no leaf, one leaf, or (new) several.
                let (key, value) = match self.child_leaves(&path, &node, nibble)? {
                    ChildLeaves::None => continue,
                    ChildLeaves::Many => {
                        self.feed(&child, child, None)?;
                        continue;
                    }
                    ChildLeaves::One(key, value) => (key, value),
                };
                // A proof needs the changed (target) leaves themselves, not their hashes.
                let stays = !self.proving
                    && match survives {
                        Some(stays) => stays,
                        None => *survives.insert(self.survives(&path, &node, changed)?),
                    };
                self.leaf_child(&path, child, key, &value, stays);
                continue;
            }
            if !node.state_mask.is_bit_set(nibble) {
                continue;
            }
            let hashed = node.hash_mask.is_bit_set(nibble);
            if below {
                if hashed {
                    self.add_branch(child, node.hash_for_nibble(nibble), true);
                } else {
                    self.visit(child)?;
                }
                continue;
            }
            // A leaf. Its hash stands for it only while this node stays a branch: a lone
            // child moves up into the parent, and its leaf path (so its hash) changes.
            let stays = match survives {
                Some(stays) => stays,
                None => *survives.insert(self.survives(&path, &node, changed)?),
            };
            if stays && hashed {
                self.add_branch(child, node.hash_for_nibble(nibble), false);
                continue;
            }
            let Some((key, value)) = self.leaf_under(&child)? else {
                continue;
            };
            self.leaf_child(&path, child, key, &value, stays);
        }
        Ok(())
    }

    /// Feeds the lone leaf at child `child` of the node at `path`: by its hash while the node
    /// stays a branch (so the rebuilt node stores it and later blocks need not read the
    /// leaf), else as a leaf, whose path the builder shortens as it moves up.
    fn leaf_child(
        &mut self,
        path: &Nibbles,
        child: Nibbles,
        key: Nibbles,
        value: &[u8],
        stays: bool,
    ) {
        if stays {
            self.buf.clear();
            let suffix = key.slice(path.len() + 1..);
            let rlp = LeafNodeRef::new(&suffix, value).rlp(&mut self.buf);
            if let Some(hash) = rlp.as_hash() {
                self.add_branch(child, hash, false);
                return;
            }
        }
        self.add_leaf(key, value);
    }
}

impl<N: TrieNodes + Sync, L: TrieLeaves + Sync> Walk<'_, N, L> {
    /// The new hash of the stored node at `path`, rehashed where it stands, its rebuilt
    /// nodes added to `out`; `None` (and `out` as it was) when it may change shape: a child
    /// comes or goes, a leaf slot gains or loses leaves, an unchanged child has no stored
    /// hash (an extension, a leaf stored without one), or a changed branch child stops being
    /// a branch at its slot. `keys`: the changed keys under `path` (each node splits its own
    /// among its children, so no node searches the whole set). `pool`: the changed branch
    /// children are rehashed on it.
    fn rehash(
        &mut self,
        path: Nibbles,
        node: &BranchNodeCompact,
        keys: &[Nibbles],
        out: &mut Rebuilt,
        pool: Option<&rayon::ThreadPool>,
    ) -> Result<Option<B256>, StateError> {
        let (changed, under) = by_child(keys, path.len());
        let (state, tree, hashed) = (
            node.state_mask.get(),
            node.tree_mask.get(),
            node.hash_mask.get(),
        );
        if changed & !state != 0 || state & !changed & !hashed != 0 {
            return Ok(None);
        }
        let mut hashes = [B256::ZERO; 16];
        let mut stored = node.hashes.iter();
        let mut branches = Vec::with_capacity((changed & tree).count_ones() as usize);
        for nibble in 0..16u8 {
            let bit = 1u16 << nibble;
            if state & bit == 0 {
                continue;
            }
            let old = (hashed & bit != 0).then(|| stored.next()).flatten();
            if changed & bit == 0 {
                // The mask check above makes every unchanged child's hash stored.
                let Some(old) = old else {
                    return Ok(None);
                };
                hashes[nibble as usize] = *old;
                continue;
            }
            if tree & bit != 0 {
                branches.push(nibble);
                continue;
            }
            // A leaf slot keeps its shape only with exactly one leaf, hashed in the node.
            let ChildLeaves::One(key, value) = self.child_leaves(&path, node, nibble)? else {
                return Ok(None);
            };
            self.buf.clear();
            let suffix = key.slice(path.len() + 1..);
            let Some(hash) = LeafNodeRef::new(&suffix, &value)
                .rlp(&mut self.buf)
                .as_hash()
            else {
                return Ok(None);
            };
            hashes[nibble as usize] = hash;
        }
        let mark = out.mark();
        let below: Vec<(u8, Option<B256>)> = match pool {
            Some(pool) if branches.len() > 1 => {
                let (nodes, leaves, changed) = (self.nodes, self.leaves, self.changed);
                let walked: Vec<Result<(Option<B256>, Rebuilt), StateError>> = pool.install(|| {
                    use rayon::prelude::*;
                    branches
                        .par_iter()
                        .map(|&nibble| {
                            let mut walk =
                                Walk::new(nodes, leaves, changed, HashBuilder::default());
                            let keys = under[nibble as usize];
                            let mut own = Rebuilt::with_capacity(keys.len() * 4);
                            let below = child(&path, nibble);
                            let split = (below.len() < SPLIT_LEVELS).then_some(pool);
                            let hash = walk.branch_below(below, keys, &mut own, split)?;
                            Ok((hash, own))
                        })
                        .collect()
                });
                let mut below = Vec::with_capacity(branches.len());
                for (nibble, walked) in branches.iter().zip(walked) {
                    let (hash, own) = walked?;
                    out.append(own);
                    below.push((*nibble, hash));
                }
                below
            }
            _ => {
                let mut below = Vec::with_capacity(branches.len());
                for nibble in branches {
                    let hash =
                        self.branch_below(child(&path, nibble), under[nibble as usize], out, None)?;
                    if hash.is_none() {
                        out.undo(mark);
                        return Ok(None);
                    }
                    below.push((nibble, hash));
                }
                below
            }
        };
        for (nibble, hash) in below {
            let Some(hash) = hash else {
                out.undo(mark);
                return Ok(None);
            };
            hashes[nibble as usize] = hash;
        }
        // Every child is hashed now, so the node is: the hash builder would store it with
        // the same masks, every child's hash kept, and the root's own hash on the root.
        let mut stack: [RlpNode; 16] = Default::default();
        let mut kept = Vec::with_capacity(state.count_ones() as usize);
        for n in (0..16).filter(|n| state & (1 << n) != 0) {
            stack[kept.len()] = RlpNode::word_rlp(&hashes[n]);
            kept.push(hashes[n]);
        }
        self.buf.clear();
        // A branch of two hashed children or more is always hashed, never inlined.
        let Some(hash) = BranchNodeRef::new(&stack[..kept.len()], node.state_mask)
            .rlp(&mut self.buf)
            .as_hash()
        else {
            out.undo(mark);
            return Ok(None);
        };
        out.nodes.push((
            path,
            BranchNodeCompact::new(
                node.state_mask,
                node.tree_mask,
                node.state_mask,
                kept,
                path.is_empty().then_some(hash),
            ),
        ));
        Ok(Some(hash))
    }

    /// The hash of the subtrie at child slot `path` (a branch below it before the change),
    /// if it is a branch at `path` after: rehashed where the node allows, else walked alone.
    /// `keys`: the changed keys under `path`; `pool`: its changed branch children are
    /// rehashed on it.
    fn branch_below(
        &mut self,
        path: Nibbles,
        keys: &[Nibbles],
        out: &mut Rebuilt,
        pool: Option<&rayon::ThreadPool>,
    ) -> Result<Option<B256>, StateError> {
        if let Some(node) = self.nodes.node_at(&path)?
            && let Some(hash) = self.rehash(path, &node, keys, out, pool)?
        {
            return Ok(Some(hash));
        }
        self.rewalk(path, out)
    }

    /// The subtrie at `path` walked on a hash builder of its own, fed the keys without their
    /// first `path.len()` nibbles (a subtrie hashes as the trie of its keys' remainders):
    /// its hash, if it is a branch at `path` after the change. Its hash is then the
    /// reference its parent holds: a branch over hashed keys is never short enough to be
    /// inlined.
    fn rewalk(&self, path: Nibbles, out: &mut Rebuilt) -> Result<Option<B256>, StateError> {
        let hb = HashBuilder::default()
            .with_updates(true)
            .with_all_branch_nodes(true);
        let mut walk = Walk::new(self.nodes, self.leaves, self.changed, hb);
        walk.strip = path.len();
        walk.visit(path)?;
        let hash = walk.hb.root();
        let (_, updates) = walk.hb.split();
        // The builder stores a node at its top exactly when the subtrie is a branch there.
        if !updates.contains_key(&Nibbles::default()) {
            return Ok(None);
        }
        let first = out.nodes.len();
        out.nodes.extend(updates.into_iter().map(|(sub, mut node)| {
            node.root_hash = None;
            let mut full = path;
            full.extend(&sub);
            (full, node)
        }));
        let kept: std::collections::HashSet<Nibbles> =
            out.nodes[first..].iter().map(|(p, _)| *p).collect();
        out.removed
            .extend(walk.visited.into_iter().filter(|p| !kept.contains(p)));
        Ok(Some(hash))
    }
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod pool_tests {
    fn cores_of_this_thread() -> Vec<usize> {
        crate::priority::allowed_cores().expect("affinity of the calling thread")
    }

    #[test]
    fn each_root_thread_runs_on_a_core_of_its_own() {
        let allowed = cores_of_this_thread();
        let pool = super::root_pool().expect("the root threads start");
        let mut pinned: Vec<Vec<usize>> = pool.broadcast(|_| cores_of_this_thread());
        if allowed.len() < 2 || pool.current_num_threads() != allowed.len() {
            assert!(pinned.iter().all(|cores| *cores == allowed), "{pinned:?}");
            return;
        }
        assert!(pinned.iter().all(|cores| cores.len() == 1), "{pinned:?}");
        pinned.sort();
        pinned.dedup();
        assert_eq!(
            pinned.len(),
            pool.current_num_threads(),
            "two threads share a core"
        );
        assert!(pinned.iter().all(|cores| allowed.contains(&cores[0])));
    }
}
