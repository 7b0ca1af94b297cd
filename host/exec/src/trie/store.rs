//! The trie's sources over ordo-storage: stored branch nodes, and stored leaves under an
//! overlay of what a block (or a walk back in history) changed.

use std::{
    collections::{BTreeMap, HashSet},
    sync::atomic::{AtomicU64, Ordering},
};

use alloy_primitives::{B256, U256};
use alloy_trie::{BranchNodeCompact, Nibbles, TrieAccount};
use ordo_storage::{AccountRecord, view::StateView};
use quick_cache::{Weighter, sync::Cache};

use super::root::{TrieLeaves, TrieNodes, seek_key};
use crate::error::StateError;

/// The encoded state trie leaf of an account.
pub fn account_leaf(record: &AccountRecord) -> Vec<u8> {
    alloy_rlp::encode(TrieAccount {
        nonce: record.nonce,
        balance: record.balance,
        storage_root: record.storage_root,
        code_hash: record.code_hash,
    })
}

/// The encoded storage trie leaf of a non-zero slot value.
pub fn slot_leaf(value: &U256) -> Vec<u8> {
    alloy_rlp::encode(value)
}

/// The stored nodes of one trie: the state trie ([`STATE_TRIE_OWNER`]) or the storage trie
/// of the account whose keccak(address) is `owner`.
pub struct StoredNodes<'a> {
    /// The state.
    pub view: &'a StateView<'a>,
    /// Whose trie.
    pub owner: B256,
}

impl<'a> StoredNodes<'a> {
    /// The state trie's nodes.
    pub fn state(view: &'a StateView<'a>) -> Self {
        Self {
            view,
            owner: STATE_TRIE_OWNER,
        }
    }
}

impl TrieNodes for StoredNodes<'_> {
    fn first_under(
        &self,
        prefix: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateError> {
        Ok(if self.owner == STATE_TRIE_OWNER {
            self.view.account_node_under(prefix)?
        } else {
            self.view.storage_node_under(&self.owner, prefix)?
        })
    }

    fn node_at(&self, path: &Nibbles) -> Result<Option<BranchNodeCompact>, StateError> {
        Ok(if self.owner == STATE_TRIE_OWNER {
            self.view.account_node_at(path)?
        } else {
            self.view.storage_node_at(&self.owner, path)?
        })
    }
}

/// The cache key of a stored node: the trie's owner (keccak(address); zero for the state
/// trie) and the node's path.
pub type NodeKey = (B256, Nibbles);

/// Stored nodes (`None`: nothing stored at that path) of the tries blocks walk. The top of
/// the state trie, which every block crosses, stays in it.
pub type NodeCache = Cache<NodeKey, Option<BranchNodeCompact>, NodeWeight>;

/// The owner under which the state trie's nodes are cached.
pub const STATE_TRIE_OWNER: B256 = B256::ZERO;

/// What one cached node costs, roughly.
#[derive(Debug, Clone)]
pub struct NodeWeight;

impl Weighter<NodeKey, Option<BranchNodeCompact>> for NodeWeight {
    fn weight(&self, _: &NodeKey, node: &Option<BranchNodeCompact>) -> u64 {
        96 + node.as_ref().map_or(0, |n| 32 * n.hashes.len() as u64)
    }
}

/// A node cache of `bytes`.
pub fn node_cache(bytes: u64) -> NodeCache {
    Cache::with_weighter(
        (bytes / 512).max(1024) as usize,
        bytes.max(1 << 20),
        NodeWeight,
    )
}

/// Which block the caches in front of the stored state are at. Only the one who applies a
/// block writes values it knows to be the new state's; a reader fills a miss only if no block
/// was applied since it began reading, so a value read before a block never lands in a cache
/// after that block's own values. The check and the fill happen under `fills` (shared), the
/// advance under it exclusively, so no fill that passed the check lands after the advance.
#[derive(Debug, Default)]
pub struct Generation {
    counter: AtomicU64,
    fills: parking_lot::RwLock<()>,
}

impl Generation {
    /// The current generation: take it before reading what may fill a cache.
    pub fn now(&self) -> u64 {
        self.counter.load(Ordering::Acquire)
    }

    /// Runs `fill` if the generation is still `since`.
    pub fn fill_if_current(&self, since: u64, fill: impl FnOnce()) {
        let _fills = self.fills.read();
        if self.now() == since {
            fill();
        }
    }

    /// Moves to the next generation; the caller writes the new block's values to the caches
    /// while holding the guard.
    pub fn advance(&self) -> parking_lot::RwLockWriteGuard<'_, ()> {
        let fills = self.fills.write();
        self.counter.fetch_add(1, Ordering::AcqRel);
        fills
    }
}

/// Where an extension leads: for a path with no stored node but stored nodes below it (a
/// child slot holding an extension), the path of the first of them. Only a hint: a use
/// checks it against the node cache ([`CachedNodes::first_under`]), so nothing ever has to
/// invalidate it.
pub type ExtensionHints = Cache<NodeKey, Nibbles>;

/// Extension hints for a node cache of `node_bytes`: extensions are a small part of a trie
/// of hashed keys (a child slot whose two or more keys share their next nibble).
pub fn extension_hints(node_bytes: u64) -> ExtensionHints {
    Cache::new((node_bytes / 4096).max(4096) as usize)
}

/// Stored nodes read through a [`NodeCache`], filled on a miss as [`Generation`] allows.
pub struct CachedNodes<'a, N = StoredNodes<'a>> {
    /// The stored nodes.
    pub inner: N,
    /// Whose trie they are ([`STATE_TRIE_OWNER`]: the state trie's): the caches' key.
    pub owner: B256,
    /// The cache.
    pub cache: &'a NodeCache,
    /// Where extensions lead.
    pub hints: &'a ExtensionHints,
    /// The caches' generation.
    pub generation: &'a Generation,
    /// `generation` when these reads began.
    pub since: u64,
}

impl<N: TrieNodes> CachedNodes<'_, N> {
    /// The node at `hint` if it is the first stored node under `prefix`: `hint` is stored and
    /// no path from `prefix` down to it is. That is enough, because in a trie whose branches
    /// are all stored, the nodes under a path with no node of its own share one top node
    /// (two of them would otherwise diverge at a branch below the path, stored too), and the
    /// top is on the path to every one of them. The check is as good as the node cache: it
    /// takes the cached nodes for the view's, as `node_at` always does.
    fn hinted(
        &self,
        prefix: &Nibbles,
        hint: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateError> {
        if hint.len() <= prefix.len() || !hint.starts_with(prefix) {
            return Ok(None);
        }
        for len in prefix.len()..hint.len() {
            if self.node_at(&hint.slice(..len))?.is_some() {
                return Ok(None);
            }
        }
        Ok(self.node_at(hint)?.map(|node| (*hint, node)))
    }
}

impl<N: TrieNodes> TrieNodes for CachedNodes<'_, N> {
    /// A range read, unless a hint names the answer and the node cache confirms it (point
    /// lookups, most of them cached). What the range read finds becomes the hint, and its
    /// node is cached as a point read's would be (as [`Generation`] allows).
    fn first_under(
        &self,
        prefix: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateError> {
        let key = (self.owner, *prefix);
        if let Some(hint) = self.hints.get(&key)
            && let Some(found) = self.hinted(prefix, &hint)?
        {
            return Ok(Some(found));
        }
        let found = self.inner.first_under(prefix)?;
        if let Some((path, node)) = &found
            && path.len() > prefix.len()
        {
            self.hints.insert(key, *path);
            self.generation.fill_if_current(self.since, || {
                self.cache.insert((self.owner, *path), Some(node.clone()));
            });
        }
        Ok(found)
    }

    fn node_at(&self, path: &Nibbles) -> Result<Option<BranchNodeCompact>, StateError> {
        let key = (self.owner, *path);
        if let Some(node) = self.cache.get(&key) {
            return Ok(node);
        }
        let node = self.inner.node_at(path)?;
        self.generation
            .fill_if_current(self.since, || self.cache.insert(key, node.clone()));
        Ok(node)
    }
}

/// A trie with no stored nodes (genesis, a storage trie wiped by the block).
pub struct NoNodes;

impl TrieNodes for NoNodes {
    fn first_under(&self, _: &Nibbles) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateError> {
        Ok(None)
    }
}

/// Where the stored leaves of a trie come from.
pub enum Base<'a> {
    /// No stored leaves.
    None,
    /// The accounts.
    Accounts(&'a StateView<'a>),
    /// One account's slots (by keccak(address)).
    Slots(&'a StateView<'a>, B256),
}

/// Stored leaves in key order.
pub trait StoredLeaves {
    /// The first stored leaf at or after `from`: hashed key, encoded value.
    fn next(&self, from: &B256) -> Result<Option<(B256, Vec<u8>)>, StateError>;
}

impl StoredLeaves for Base<'_> {
    fn next(&self, from: &B256) -> Result<Option<(B256, Vec<u8>)>, StateError> {
        Ok(match self {
            Self::None => None,
            Self::Accounts(storage) => storage
                .next_account(from)?
                .map(|(key, record)| (key, account_leaf(&record))),
            Self::Slots(storage, owner) => storage
                .next_slot(owner, from)?
                .map(|(key, value)| (key, slot_leaf(&value))),
        })
    }
}

/// Leaves as they are after a change: `overlay` (`None`: deleted) over the stored ones.
pub struct Overlaid<'a, B = Base<'a>> {
    /// The stored leaves.
    pub base: B,
    /// Changed leaves by hashed key, encoded.
    pub overlay: &'a BTreeMap<B256, Option<Vec<u8>>>,
    /// Which overlay keys have a stored leaf (`None`: not known). Knowing it, a child slot
    /// whose one stored leaf is a changed key needs no read of the stored leaves.
    pub stored: Option<&'a HashSet<B256>>,
}

/// Whether hashed `key`'s nibbles start with `prefix`: `Nibbles::unpack(key)
/// .starts_with(prefix)`, reading only the prefix's nibbles (a walk asks it of every changed
/// leaf slot, whose prefixes are a few nibbles long).
fn key_under(key: &B256, prefix: &Nibbles) -> bool {
    // A `Nibbles` holds at most 64 nibbles, as many as a hashed key.
    (0..prefix.len()).all(|i| {
        let byte = key[i / 2];
        let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
        nibble == prefix.get_unchecked(i)
    })
}

/// The hashed key after `key` (`None` past the last).
pub fn next_key(key: &B256) -> Option<B256> {
    let (next, overflow) = U256::from_be_bytes(key.0).overflowing_add(U256::from(1));
    (!overflow).then(|| B256::from(next.to_be_bytes::<32>()))
}

impl<B: StoredLeaves> TrieLeaves for Overlaid<'_, B> {
    fn seek(&self, from: &Nibbles) -> Result<Option<(B256, Vec<u8>)>, StateError> {
        let mut cursor = seek_key(from);
        loop {
            let changed = self.overlay.range(cursor..).next();
            let stored = self.base.next(&cursor)?;
            match (changed, stored) {
                (None, stored) => return Ok(stored),
                (Some((key, value)), stored) if stored.as_ref().is_none_or(|(s, _)| key <= s) => {
                    if let Some(value) = value {
                        return Ok(Some((*key, value.clone())));
                    }
                    // Deleted (whether or not it was stored): look past it.
                    match next_key(key) {
                        Some(next) => cursor = next,
                        None => return Ok(None),
                    }
                }
                (_, stored) => return Ok(stored),
            }
        }
    }

    fn changed_under(&self, prefix: &Nibbles, had_leaf: bool) -> Option<Vec<(B256, Vec<u8>)>> {
        let stored = self.stored?;
        let mut replaced = false;
        let mut leaves = Vec::new();
        for (key, value) in self.overlay.range(seek_key(prefix)..) {
            if !key_under(key, prefix) {
                break;
            }
            replaced |= stored.contains(key);
            if let Some(value) = value {
                leaves.push((*key, value.clone()));
            }
        }
        // The slot's one stored leaf, if it had one, is among the changed keys: the changed
        // leaves are all there is.
        (!had_leaf || replaced).then_some(leaves)
    }

    fn sets_under(&self, prefix: &Nibbles) -> bool {
        self.overlay
            .range(seek_key(prefix)..)
            .take_while(|(key, _)| key_under(key, prefix))
            .any(|(_, value)| value.is_some())
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::keccak256;

    use super::*;

    #[test]
    fn a_key_is_under_a_prefix_exactly_when_its_nibbles_start_with_it() {
        for i in 0u32..200 {
            let key = keccak256(i.to_be_bytes());
            let nibbles = Nibbles::unpack(key);
            for len in 0..=64 {
                let prefix = nibbles.slice(..len);
                assert!(key_under(&key, &prefix), "{i} {len}");
                if len > 0 {
                    let mut other = prefix;
                    other.set_at(len - 1, (prefix.get_unchecked(len - 1) + 1) % 16);
                    assert!(!key_under(&key, &other), "{i} {len}");
                }
            }
        }
    }
}
