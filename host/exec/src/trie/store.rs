//! The trie's sources over ordo-storage: stored branch nodes, and stored leaves under an
//! overlay of what a block (or a walk back in history) changed.

use std::collections::BTreeMap;

use alloy_primitives::{B256, U256};
use alloy_trie::{BranchNodeCompact, Nibbles, TrieAccount};
use ordo_storage::{AccountRecord, view::StateView};

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

/// The stored nodes of the state trie.
pub struct AccountNodes<'a>(pub &'a StateView<'a>);

impl TrieNodes for AccountNodes<'_> {
    fn first_under(
        &self,
        prefix: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateError> {
        Ok(self.0.account_node_under(prefix)?)
    }
}

/// The stored nodes of one account's storage trie.
pub struct StorageNodes<'a> {
    /// The state.
    pub storage: &'a StateView<'a>,
    /// keccak(address).
    pub hashed_address: B256,
}

impl TrieNodes for StorageNodes<'_> {
    fn first_under(
        &self,
        prefix: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateError> {
        Ok(self
            .storage
            .storage_node_under(&self.hashed_address, prefix)?)
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

impl Base<'_> {
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
pub struct Overlaid<'a> {
    /// The stored leaves.
    pub base: Base<'a>,
    /// Changed leaves by hashed key, encoded.
    pub overlay: &'a BTreeMap<B256, Option<Vec<u8>>>,
}

fn next_key(key: &B256) -> Option<B256> {
    let (next, overflow) = U256::from_be_bytes(key.0).overflowing_add(U256::from(1));
    (!overflow).then(|| B256::from(next.to_be_bytes::<32>()))
}

impl TrieLeaves for Overlaid<'_> {
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
}
