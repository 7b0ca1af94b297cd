//! A sealed block's state writes before its batch is on disk: the builder executes block
//! N+1 on top of block N while N's batch is written (pipelining), reading N's state through
//! [`Staged`] laid over the stored keyspaces ([`crate::view::StateView::over`]).
//!
//! The writes are keyed and encoded exactly as `Storage::commit_staged` stores them
//! (`Staged::of`, beside it in lib.rs), so an overlay read and a stored read decode alike,
//! and a range read merges the two in byte order.

use std::{
    borrow::Borrow,
    collections::{BTreeMap, HashMap, HashSet},
};

use alloy_primitives::{B256, Bytes};
use fjall::{Keyspace, OwnedWriteBatch};

/// One state keyspace's writes: key → new value (`None`: removed).
pub(crate) type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A block's state writes, not yet stored.
#[derive(Debug, Default)]
pub struct Staged {
    /// The block (`None`: a commit without one).
    pub(crate) block: Option<(u64, B256)>,
    pub(crate) accounts: Writes,
    pub(crate) storage: Writes,
    pub(crate) account_trie: Writes,
    pub(crate) storage_trie: Writes,
    pub(crate) code: HashMap<B256, Bytes>,
    /// Hashed addresses whose stored slots and storage trie nodes are all gone (what the
    /// block writes again aside).
    pub(crate) wiped: HashSet<B256>,
}

impl Staged {
    /// The staged block's number and hash.
    pub fn block(&self) -> Option<(u64, B256)> {
        self.block
    }

    /// Whether the stored keys under `owner` (a hashed address leading a `storage` or
    /// `storage_trie` key) are hidden by a wipe.
    pub(crate) fn wipes(&self, key: &[u8]) -> bool {
        key.len() >= 32 && self.wiped.contains(&B256::from_slice(&key[..32]))
    }
}

/// Puts `writes` into `batch` for `keyspace` (`None` removes the key): a block's own
/// [`Writes`], or several blocks' merged by reference (index.rs).
pub(crate) fn put_writes<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    batch: &mut OwnedWriteBatch,
    keyspace: &Keyspace,
    writes: &BTreeMap<K, Option<V>>,
) {
    for (key, value) in writes {
        match value {
            Some(value) => batch.insert(keyspace, key.as_ref(), value.as_ref()),
            None => batch.remove(keyspace, key.as_ref()),
        }
    }
}

/// Removes in `batch` every key of `keyspace` stored under `owner` (a wipe), but those
/// `kept` writes again: a batch must not both remove and insert one key.
pub(crate) fn remove_stored_under<K: Ord + Borrow<[u8]>, V>(
    batch: &mut OwnedWriteBatch,
    keyspace: &Keyspace,
    owner: &[u8],
    kept: &BTreeMap<K, Option<V>>,
) -> fjall::Result<()> {
    for item in keyspace.prefix(owner) {
        let key = item.key()?;
        if !kept.contains_key(&key[..]) {
            batch.remove(keyspace, key);
        }
    }
    Ok(())
}
