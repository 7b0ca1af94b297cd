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
//! [`update_root_parallel`] splits a large change at the root: each changed child of the root
//! is walked on its own builder, on its own thread, fed keys without their first nibble (a
//! subtrie hashes as the trie of its keys' remainders), and the root's walk takes their hashes
//! as it takes any stored child's. It gives exactly what [`update_root`] gives, or defers to it.

use alloy_primitives::B256;
use alloy_trie::{
    BranchNodeCompact, HashBuilder, Nibbles, TrieMask,
    nodes::LeafNodeRef,
    proof::{ProofNodes, ProofRetainer},
};

use super::prefix::PrefixSet;
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

/// Fewer changed keys than this are walked on the calling thread. A split costs thread
/// hand-offs and pays only when a core is free to take a subtrie; a 1,000-transfer block
/// (over 1,000 changed accounts) is where the walk is long enough to gain from it.
pub const PARALLEL_KEYS: usize = 1024;

/// Threads for [`update_root_parallel`], apart from the ingress work on rayon's global pool,
/// so that a block's root does not queue behind transaction decoding.
fn root_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(16));
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("ordo-root-{i}"))
            .build()
            .map_err(|e| tracing::warn!(target: "ordo::exec", error = %e, "no root threads: roots are computed on the builder's thread"))
            .ok()
    })
    .as_ref()
}

/// [`update_root`], with the root's changed subtries walked in parallel when the change is
/// large ([`PARALLEL_KEYS`]) and the root stays a branch whose changed children are all
/// branches: a root that may collapse, or a child that is (or becomes) a leaf or an
/// extension, is left to the one walk, which handles every shape.
pub fn update_root_parallel<N: TrieNodes + Sync, L: TrieLeaves + Sync>(
    nodes: &N,
    leaves: &L,
    changed: &PrefixSet,
) -> Result<TrieUpdate, StateError> {
    if changed.keys().len() >= PARALLEL_KEYS
        && let Some(update) = split_at_root(nodes, leaves, changed)?
    {
        return Ok(update);
    }
    update_root(nodes, leaves, changed)
}

/// One changed child of the root, walked alone: its hash, and its nodes and the stored nodes
/// it entered, by their full paths.
struct Subtrie {
    hash: B256,
    nodes: Vec<(Nibbles, BranchNodeCompact)>,
    visited: Vec<Nibbles>,
}

pub(super) fn split_at_root<N: TrieNodes + Sync, L: TrieLeaves + Sync>(
    nodes: &N,
    leaves: &L,
    changed: &PrefixSet,
) -> Result<Option<TrieUpdate>, StateError> {
    let top = Nibbles::default();
    let Some(root) = nodes.node_at(&top)? else {
        return Ok(None);
    };
    let Some(pool) = root_pool() else {
        return Ok(None);
    };
    let changed_mask = changed.child_mask(&top);
    let (state, tree, hashed) = (
        root.state_mask.get(),
        root.tree_mask.get(),
        root.hash_mask.get(),
    );
    // Every unchanged child is taken by its stored hash, and every changed one has a branch
    // below it. Each changed child that is still a branch afterwards is a child of the root,
    // so with two children the root stays a branch.
    let unchanged = state & !changed_mask;
    if unchanged & !hashed != 0 || changed_mask & !tree != 0 || changed_mask.count_ones() < 2 {
        return Ok(None);
    }
    let children: Vec<u8> = (0..16u8).filter(|n| changed_mask & (1 << n) != 0).collect();
    let walked: Vec<Result<Option<Subtrie>, StateError>> = pool.install(|| {
        use rayon::prelude::*;
        children
            .par_iter()
            .map(|&nibble| subtrie(nodes, leaves, changed, nibble))
            .collect()
    });
    let mut hashes = [None; 16];
    let mut visited = vec![top];
    let mut updated = Vec::new();
    for (nibble, sub) in children.iter().zip(walked) {
        // A child that is no longer a branch: the one walk builds what it became.
        let Some(sub) = sub? else {
            return Ok(None);
        };
        hashes[*nibble as usize] = Some(sub.hash);
        visited.extend(sub.visited);
        updated.extend(sub.nodes);
    }
    let hb = HashBuilder::default()
        .with_updates(true)
        .with_all_branch_nodes(true);
    let mut walk = Walk::new(nodes, leaves, changed, hb);
    walk.subtrie_hashes = Some(hashes);
    walk.node(top, root)?;
    let root_hash = walk.hb.root();
    let (_, top_nodes) = walk.hb.split();
    updated.extend(top_nodes);
    let kept: std::collections::HashSet<Nibbles> = updated.iter().map(|(p, _)| *p).collect();
    let removed = visited
        .into_iter()
        .filter(|path| !kept.contains(path))
        .collect();
    updated.sort_unstable_by_key(|a| a.0);
    Ok(Some(TrieUpdate {
        root: root_hash,
        nodes: updated,
        removed,
    }))
}

/// Walks child `nibble` of the root on a builder of its own, fed the keys without their
/// first nibble. `None` when the child is no longer a branch.
fn subtrie<N: TrieNodes, L: TrieLeaves>(
    nodes: &N,
    leaves: &L,
    changed: &PrefixSet,
    nibble: u8,
) -> Result<Option<Subtrie>, StateError> {
    let hb = HashBuilder::default()
        .with_updates(true)
        .with_all_branch_nodes(true);
    let mut walk = Walk::new(nodes, leaves, changed, hb);
    walk.strip = 1;
    let path = Nibbles::from_nibbles([nibble]);
    walk.visit(path)?;
    let hash = walk.hb.root();
    let (_, updates) = walk.hb.split();
    // The child is a branch exactly when the builder stored a node at its top. Its
    // hash is then the reference its parent holds: a branch over hashed keys is never
    // short enough to be inlined.
    if !updates.contains_key(&Nibbles::default()) {
        return Ok(None);
    }
    let nodes = updates
        .into_iter()
        .map(|(sub, mut node)| {
            node.root_hash = None;
            let mut full = path;
            full.extend(&sub);
            (full, node)
        })
        .collect();
    Ok(Some(Subtrie {
        hash,
        nodes,
        visited: walk.visited,
    }))
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
    /// Leading nibbles left off what the builder is fed (1 when walking a child of the
    /// root on a builder of its own).
    strip: usize,
    /// The hashes of the root's changed children, walked apart ([`split_at_root`]).
    subtrie_hashes: Option<[Option<B256>; 16]>,
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
            subtrie_hashes: None,
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
                    match self.subtrie_hashes.and_then(|h| h[nibble as usize]) {
                        Some(hash) if path.is_empty() => self.add_branch(child, hash, true),
                        _ => self.visit(child)?,
                    }
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
