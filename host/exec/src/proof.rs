//! EIP-1186 proofs (`eth_getProof`) from the stored trie, at the head or at an older block.
//!
//! The stored nodes describe the head. For an older block `n`, the accounts and slots that
//! blocks after `n` changed (the `changes` keyspace) are put back to their values at `n` as an
//! overlay, and the walk descends wherever the overlay differs: the same walk as a block's
//! root, with the proof targets counted as changed. Everything is read from one snapshot, so a
//! block committed meanwhile does not tear the proof. The roots are checked against the
//! block's header and the account's storage root before anything is returned.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{Nibbles, proof::ProofNodes};
use ordo_storage::{AccountRecord, StorageError};

use crate::{
    error::StateError,
    state::StateDb,
    trie::{Base, Overlaid, PrefixSet, StoredNodes, account_leaf, prove, slot_leaf},
};

/// An account's proof, with its slots'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProof {
    /// The block whose state this proves.
    pub block: u64,
    /// The account (`None`: it does not exist; the proof shows its absence).
    pub account: Option<AccountRecord>,
    /// State trie nodes from the root to the account (RLP, root first).
    pub account_proof: Vec<Bytes>,
    /// The account's slots, in the order asked.
    pub storage: Vec<SlotProof>,
}

/// One slot's proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotProof {
    /// The slot.
    pub slot: B256,
    /// Its value (zero when absent).
    pub value: U256,
    /// Storage trie nodes from the account's storage root to the slot (RLP, root first).
    pub proof: Vec<Bytes>,
}

fn path_of(nodes: &ProofNodes, target: &Nibbles) -> Vec<Bytes> {
    nodes
        .matching_nodes_sorted(target)
        .into_iter()
        .map(|(_, node)| node)
        .collect()
}

fn inconsistent(what: &'static str) -> StateError {
    StateError(StorageError::Corrupt {
        keyspace: "account_trie",
        source: alloy_rlp::Error::Custom(what),
    })
}

impl StateDb {
    /// The proof of `address` and its `slots` in the state after block `block` (`None`: the
    /// head as it is now; a block above the head proves the head).
    pub fn proof(
        &self,
        address: Address,
        slots: &[B256],
        block: Option<u64>,
    ) -> Result<AccountProof, StateError> {
        let view = self.storage().snapshot();
        let head = view.head()?.unwrap_or_default();
        let at = block.unwrap_or(head).min(head);
        let since = if at < head {
            view.changed_after(at)?
        } else {
            Default::default()
        };

        let mut overlay = BTreeMap::new();
        for changed in &since.accounts {
            let then = view.account_at(changed, at)?;
            overlay.insert(keccak256(changed), then.as_ref().map(account_leaf));
        }
        let changed = PrefixSet::new(overlay.keys().map(Nibbles::unpack).collect());
        let hashed = keccak256(address);
        let target = Nibbles::unpack(hashed);
        let leaves = Overlaid {
            base: Base::Accounts(&view),
            overlay: &overlay,
            stored: None,
        };
        let (root, nodes) = prove(&StoredNodes::state(&view), &leaves, &changed, &[target])?;
        let header_root = self
            .storage()
            .block(at)?
            .map(|b| b.header.state_root)
            .ok_or_else(|| inconsistent("no block for the proof"))?;
        if root != header_root {
            return Err(inconsistent(
                "the proof's root is not the block's state root",
            ));
        }
        let account = view.account_at(&address, at)?;

        let Some(record) = account else {
            // No account, no storage trie: every slot is zero, with an empty proof.
            let storage = slots
                .iter()
                .map(|slot| SlotProof {
                    slot: *slot,
                    value: U256::ZERO,
                    proof: vec![],
                })
                .collect();
            return Ok(AccountProof {
                block: at,
                account,
                account_proof: path_of(&nodes, &target),
                storage,
            });
        };

        let mut slot_overlay = BTreeMap::new();
        for (owner, slot) in &since.slots {
            if *owner == address {
                let value = view.storage_at(owner, slot, at)?;
                slot_overlay.insert(
                    keccak256(slot),
                    (!value.is_zero()).then(|| slot_leaf(&value)),
                );
            }
        }
        let slot_changed = PrefixSet::new(slot_overlay.keys().map(Nibbles::unpack).collect());
        let targets: Vec<Nibbles> = slots
            .iter()
            .map(|s| Nibbles::unpack(keccak256(s)))
            .collect();
        let slot_leaves = Overlaid {
            base: Base::Slots(&view, hashed),
            overlay: &slot_overlay,
            stored: None,
        };
        let slot_nodes = StoredNodes {
            view: &view,
            owner: hashed,
        };
        let (storage_root, proofs) = prove(&slot_nodes, &slot_leaves, &slot_changed, &targets)?;
        if storage_root != record.storage_root {
            return Err(inconsistent(
                "the storage proof's root is not the account's storage root",
            ));
        }
        let mut storage = Vec::with_capacity(slots.len());
        for (slot, target) in slots.iter().zip(&targets) {
            storage.push(SlotProof {
                slot: *slot,
                value: view.storage_at(&address, slot, at)?,
                proof: path_of(&proofs, target),
            });
        }
        Ok(AccountProof {
            block: at,
            account,
            account_proof: path_of(&nodes, &target),
            storage,
        })
    }
}
