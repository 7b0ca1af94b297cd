//! EIP-1186 proofs (`eth_getProof`) from the stored trie, at the head or at an older block.
//!
//! The stored nodes describe the head. For an older block `n`, the accounts and slots that
//! blocks after `n` changed (the `changes` keyspace) are put back to their values at `n` as an
//! overlay, and the walk descends wherever the overlay differs: the same walk as a block's
//! root, with the proof targets counted as changed. Everything is read from one snapshot, so a
//! block committed meanwhile does not tear the proof. The roots are checked against the
//! block's header and the account's storage root before anything is returned.
//!
//! [`StateDb::root_after`] uses the same overlay for a state root on an older block plus
//! changes of its own: an `eth_simulateV1` block built on it.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{Nibbles, proof::ProofNodes};
use ordo_storage::{
    AccountRecord, StorageError,
    view::{Changed, StateView},
};

use crate::{
    error::StateError,
    state::StateDb,
    trie::{Base, NoNodes, Overlaid, PrefixSet, StoredNodes, account_leaf, prove, slot_leaf},
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

/// The accounts some block after `at` changed, as an overlay of their leaves at `at` over
/// the head's stored ones (`None`: absent then), with the keys those blocks changed.
type AccountsThen = (Changed, BTreeMap<B256, Option<Vec<u8>>>);

fn accounts_then(view: &StateView<'_>, at: u64, head: u64) -> Result<AccountsThen, StateError> {
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
    Ok((since, overlay))
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
        let (since, overlay) = accounts_then(&view, at, head)?;
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

impl StateDb {
    /// The state root of the state after block `block` with `changes` applied (a simulated
    /// block's, on a block below the head): the state at `block` as [`StateDb::proof`]
    /// rebuilds it, then `changes` over it. `state_clear` is EIP-161's.
    pub fn root_after(
        &self,
        block: u64,
        changes: &revm::state::EvmState,
        state_clear: bool,
    ) -> Result<B256, StateError> {
        let view = self.storage().snapshot();
        let head = view.head()?.unwrap_or_default();
        let at = block.min(head);
        let (since, mut overlay) = accounts_then(&view, at, head)?;
        let mut slots_then: std::collections::HashMap<Address, BTreeMap<B256, Option<Vec<u8>>>> =
            Default::default();
        for (owner, slot) in &since.slots {
            let value = view.storage_at(owner, slot, at)?;
            slots_then.entry(*owner).or_default().insert(
                keccak256(slot),
                (!value.is_zero()).then(|| slot_leaf(&value)),
            );
        }
        for (address, account) in changes {
            if !account.is_touched() {
                continue;
            }
            let hashed = keccak256(address);
            if account.is_selfdestructed()
                || (state_clear && account.info.is_empty() && !account.is_created())
            {
                overlay.insert(hashed, None);
                continue;
            }
            let wiped = account.is_created();
            let then = view.account_at(address, at)?;
            let storage_root = if account.storage.is_empty() && !wiped {
                then.map_or(alloy_trie::EMPTY_ROOT_HASH, |r| r.storage_root)
            } else {
                let mut slots = if wiped {
                    BTreeMap::new()
                } else {
                    slots_then.remove(address).unwrap_or_default()
                };
                for (slot, value) in &account.storage {
                    let value = value.present_value;
                    slots.insert(
                        keccak256(B256::from(*slot)),
                        (!value.is_zero()).then(|| slot_leaf(&value)),
                    );
                }
                let changed = PrefixSet::new(slots.keys().map(Nibbles::unpack).collect());
                if wiped {
                    let leaves = Overlaid {
                        base: Base::None,
                        overlay: &slots,
                        stored: None,
                    };
                    prove(&NoNodes, &leaves, &changed, &[])?.0
                } else {
                    let leaves = Overlaid {
                        base: Base::Slots(&view, hashed),
                        overlay: &slots,
                        stored: None,
                    };
                    let nodes = StoredNodes {
                        view: &view,
                        owner: hashed,
                    };
                    prove(&nodes, &leaves, &changed, &[])?.0
                }
            };
            let record = AccountRecord {
                nonce: account.info.nonce,
                balance: account.info.balance,
                code_hash: account.info.code_hash,
                storage_root,
            };
            overlay.insert(hashed, Some(account_leaf(&record)));
        }
        let changed = PrefixSet::new(overlay.keys().map(Nibbles::unpack).collect());
        let leaves = Overlaid {
            base: Base::Accounts(&view),
            overlay: &overlay,
            stored: None,
        };
        Ok(prove(&StoredNodes::state(&view), &leaves, &changed, &[])?.0)
    }
}
