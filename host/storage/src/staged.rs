//! A sealed block's state writes before its batch is on disk: the builder executes block
//! N+1 on top of block N while N's batch is written (pipelining), reading N's state through
//! [`Staged`] laid over the stored keyspaces ([`crate::view::StateView::over`]).
//!
//! The writes are keyed and encoded exactly as [`Storage::commit_staged`] stores them, so
//! an overlay read and a stored read decode alike, and a range read merges the two in
//! byte order.

use std::collections::{BTreeMap, HashMap, HashSet};

use alloy_primitives::{B256, Bytes, keccak256};

use crate::{
    ACCOUNT_TRIE_OWNER, AccountChange, BlockCommit, encode,
    records::{encode_node, path_key},
    slot_key,
};

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
    /// The state writes of `commit`.
    pub fn of(commit: &BlockCommit) -> Self {
        let mut staged = Self {
            block: commit.block.as_ref().map(|b| (b.number(), b.hash)),
            wiped: commit.wiped_storage.iter().map(keccak256).collect(),
            ..Self::default()
        };
        for (address, change) in &commit.accounts {
            let value = match change {
                AccountChange::Set(record) => Some(encode(record)),
                AccountChange::Delete => None,
            };
            staged.accounts.insert(keccak256(address).to_vec(), value);
        }
        for (address, slot, value) in &commit.storage {
            let key = slot_key(&keccak256(address), &keccak256(slot)).to_vec();
            let value = (!value.is_zero()).then(|| value.to_be_bytes::<32>().to_vec());
            staged.storage.insert(key, value);
        }
        for (path, node) in &commit.account_nodes {
            let key = path_key(ACCOUNT_TRIE_OWNER, path);
            staged
                .account_trie
                .insert(key, node.as_ref().map(encode_node));
        }
        for (owner, path, node) in &commit.storage_nodes {
            let key = path_key(owner.as_slice(), path);
            staged
                .storage_trie
                .insert(key, node.as_ref().map(encode_node));
        }
        for (hash, code) in &commit.code {
            staged.code.insert(*hash, code.clone());
        }
        staged
    }

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
