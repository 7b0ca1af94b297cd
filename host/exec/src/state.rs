//! The world state: fjall is the truth, memory holds the account index the state root and
//! revm read from.
//!
//! Accounts are all kept in memory (`address → record` plus a `keccak(address)`-sorted index
//! for the state trie); storage slots and code are read through fjall, whose block cache is
//! the storage cache. The state root is recomputed from the sorted index each block (fine at
//! dev and test scale; an incremental trie is the known next step for large states).

use std::collections::{BTreeMap, HashMap};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, TrieAccount, root::storage_root_unhashed};
use ordo_primitives::ChainSpec;
use ordo_storage::{AccountChange, AccountRecord, BlockCommit, Storage, StorageError};
use parking_lot::RwLock;
use revm::{
    bytecode::Bytecode,
    database_interface::{DBErrorMarker, DatabaseRef},
    state::AccountInfo,
};

/// A storage failure surfaced through revm.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StateError(#[from] pub StorageError);

impl DBErrorMarker for StateError {}

#[derive(Default)]
struct Index {
    accounts: HashMap<Address, AccountRecord>,
    trie: BTreeMap<B256, AccountRecord>,
    code: HashMap<B256, Bytecode>,
}

/// The state at the head of the chain.
pub struct StateDb {
    storage: Storage,
    index: RwLock<Index>,
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb").finish_non_exhaustive()
    }
}

fn to_trie(record: &AccountRecord) -> TrieAccount {
    TrieAccount {
        nonce: record.nonce,
        balance: record.balance,
        storage_root: record.storage_root,
        code_hash: record.code_hash,
    }
}

impl StateDb {
    /// Loads the account index from storage.
    pub fn open(storage: Storage) -> Result<Self, StateError> {
        let mut index = Index::default();
        for (address, record) in storage.all_accounts()? {
            index.trie.insert(keccak256(address), record);
            index.accounts.insert(address, record);
        }
        Ok(Self {
            storage,
            index: RwLock::new(index),
        })
    }

    /// The storage this state lives in.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The changes that write a genesis allocation, and the resulting state root.
    pub fn genesis_commit(spec: &ChainSpec) -> (BlockCommit, B256) {
        let mut commit = BlockCommit::default();
        let mut trie = BTreeMap::new();
        for (address, account) in &spec.alloc {
            let code_hash = if account.code.is_empty() {
                KECCAK_EMPTY
            } else {
                keccak256(&account.code)
            };
            if !account.code.is_empty() {
                commit.code.push((code_hash, account.code.clone()));
            }
            let slots: Vec<(B256, U256)> = account
                .storage
                .iter()
                .filter(|(_, v)| !v.is_zero())
                .map(|(k, v)| (*k, *v))
                .collect();
            let storage_root = storage_root_unhashed(slots.iter().copied());
            for (slot, value) in slots {
                commit.storage.push((*address, slot, value));
            }
            let record = AccountRecord {
                nonce: account.nonce,
                balance: account.balance,
                storage_root,
                code_hash,
            };
            trie.insert(keccak256(address), to_trie(&record));
            commit.accounts.push((*address, AccountChange::Set(record)));
        }
        let root = alloy_trie::root::state_root(trie);
        (commit, root)
    }

    /// An account at the head.
    pub fn account(&self, address: &Address) -> Option<AccountRecord> {
        self.index.read().accounts.get(address).copied()
    }

    /// Nonce at the head (0 for unknown accounts).
    pub fn nonce(&self, address: &Address) -> u64 {
        self.account(address).map(|a| a.nonce).unwrap_or_default()
    }

    /// Balance at the head (0 for unknown accounts).
    pub fn balance(&self, address: &Address) -> U256 {
        self.account(address).map(|a| a.balance).unwrap_or_default()
    }

    /// Runtime code of an account.
    pub fn code_of(&self, address: &Address) -> Result<Bytes, StateError> {
        match self.account(address) {
            Some(a) if a.code_hash != KECCAK_EMPTY => {
                Ok(self.code_by_hash_ref(a.code_hash)?.original_bytes())
            }
            _ => Ok(Bytes::new()),
        }
    }

    /// A storage slot at the head.
    pub fn storage_at(&self, address: &Address, slot: &B256) -> Result<U256, StateError> {
        Ok(self.storage.storage(address, slot)?)
    }

    /// Turns the block's touched accounts into storage writes, computing each changed
    /// account's storage root and the new state root. Does not write anything.
    ///
    /// `pre` is the cache revm read through during the block: it already holds every
    /// touched slot's pre-block value, so finding net changes costs no storage reads.
    pub fn prepare_changes(
        &self,
        changes: &revm::state::EvmState,
        pre: &revm::database::Cache,
        commit: &mut BlockCommit,
    ) -> Result<B256, StateError> {
        let mut overlay: BTreeMap<B256, Option<AccountRecord>> = BTreeMap::new();
        let index = self.index.read();
        for (address, account) in changes {
            if !account.is_touched() {
                continue;
            }
            let hashed = keccak256(address);
            if account.is_selfdestructed() || (account.info.is_empty() && !account.is_created()) {
                // EIP-161: touched empty accounts are removed; destroyed ones lose storage.
                if index.accounts.contains_key(address) || account.is_selfdestructed() {
                    commit
                        .account_history
                        .push((*address, index.accounts.get(address).copied()));
                    commit.accounts.push((*address, AccountChange::Delete));
                    commit.wiped_storage.push(*address);
                    overlay.insert(hashed, None);
                }
                continue;
            }
            let previous = index.accounts.get(address);
            let wiped = account.is_created();
            // revm re-baselines `original_value` per transaction, so compare with what is
            // stored to find the block's net changes.
            let mut changed_slots: Vec<(B256, U256)> = Vec::new();
            let pre_slots = pre.accounts.get(address).map(|a| &a.storage);
            for (raw_key, slot) in &account.storage {
                let key = B256::from(*raw_key);
                let stored = match pre_slots.and_then(|slots| slots.get(raw_key)) {
                    _ if wiped => U256::ZERO,
                    Some(value) => *value,
                    None => self.storage.storage(address, &key)?,
                };
                if slot.present_value != stored {
                    commit.storage_history.push((*address, key, stored));
                    changed_slots.push((key, slot.present_value));
                }
            }
            let storage_root = if changed_slots.is_empty() && !wiped {
                previous.map(|p| p.storage_root).unwrap_or(EMPTY_ROOT_HASH)
            } else {
                let mut slots: BTreeMap<B256, U256> = if wiped {
                    BTreeMap::new()
                } else {
                    self.storage.account_storage(address)?.into_iter().collect()
                };
                for (slot, value) in &changed_slots {
                    if value.is_zero() {
                        slots.remove(slot);
                    } else {
                        slots.insert(*slot, *value);
                    }
                }
                storage_root_unhashed(slots)
            };
            if wiped {
                commit.wiped_storage.push(*address);
            }
            for (slot, value) in changed_slots {
                commit.storage.push((*address, slot, value));
            }
            if let Some(code) = &account.info.code
                && account.info.code_hash != KECCAK_EMPTY
                && !index.code.contains_key(&account.info.code_hash)
            {
                commit
                    .code
                    .push((account.info.code_hash, code.original_bytes()));
            }
            let record = AccountRecord {
                nonce: account.info.nonce,
                balance: account.info.balance,
                storage_root,
                code_hash: account.info.code_hash,
            };
            if previous != Some(&record) {
                commit.account_history.push((*address, previous.copied()));
            }
            commit.accounts.push((*address, AccountChange::Set(record)));
            overlay.insert(hashed, Some(record));
        }
        Ok(merged_root(&index.trie, &overlay))
    }

    /// Applies a committed block's account changes to the in-memory index. Call after the
    /// fjall batch is durable.
    pub fn apply(&self, commit: &BlockCommit) {
        let mut index = self.index.write();
        for (address, change) in &commit.accounts {
            let hashed = keccak256(address);
            match change {
                AccountChange::Set(record) => {
                    index.accounts.insert(*address, *record);
                    index.trie.insert(hashed, *record);
                }
                AccountChange::Delete => {
                    index.accounts.remove(address);
                    index.trie.remove(&hashed);
                }
            }
        }
    }

    /// The state root of the head state.
    pub fn state_root(&self) -> B256 {
        merged_root(&self.index.read().trie, &BTreeMap::new())
    }
}

/// State root of `base` with `overlay` applied (`None` deletes), without copying `base`.
fn merged_root(
    base: &BTreeMap<B256, AccountRecord>,
    overlay: &BTreeMap<B256, Option<AccountRecord>>,
) -> B256 {
    let mut out: Vec<(B256, TrieAccount)> = Vec::with_capacity(base.len() + overlay.len());
    let mut a = base.iter().peekable();
    let mut b = overlay.iter().peekable();
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some((ka, va)), None) => {
                out.push((**ka, to_trie(va)));
                a.next();
            }
            (None, Some((kb, vb))) => {
                if let Some(v) = vb {
                    out.push((**kb, to_trie(v)));
                }
                b.next();
            }
            (Some((ka, va)), Some((kb, vb))) => {
                if ka < kb {
                    out.push((**ka, to_trie(va)));
                    a.next();
                } else {
                    if let Some(v) = vb {
                        out.push((**kb, to_trie(v)));
                    }
                    if ka == kb {
                        a.next();
                    }
                    b.next();
                }
            }
        }
    }
    alloy_trie::root::state_root(out)
}

/// The state as it was after block `block` (`None`: the head), for reads and calls at
/// older blocks. Older values come from the storage change sets.
#[derive(Debug, Clone, Copy)]
pub struct StateAt<'a> {
    /// The head state.
    pub state: &'a StateDb,
    /// Which block; `None` is the head.
    pub block: Option<u64>,
}

impl StateAt<'_> {
    /// The account record at this block.
    pub fn account(&self, address: &Address) -> Result<Option<AccountRecord>, StateError> {
        match self.block {
            None => Ok(self.state.account(address)),
            Some(n) => Ok(self.state.storage.account_at(address, n)?),
        }
    }

    /// Runtime code at this block.
    pub fn code(&self, address: &Address) -> Result<Bytes, StateError> {
        match self.account(address)? {
            Some(a) if a.code_hash != KECCAK_EMPTY => {
                Ok(self.state.code_by_hash_ref(a.code_hash)?.original_bytes())
            }
            _ => Ok(Bytes::new()),
        }
    }

    /// A slot at this block.
    pub fn slot(&self, address: &Address, slot: &B256) -> Result<U256, StateError> {
        match self.block {
            None => Ok(self.state.storage.storage(address, slot)?),
            Some(n) => Ok(self.state.storage.storage_at(address, slot, n)?),
        }
    }
}

impl DatabaseRef for StateAt<'_> {
    type Error = StateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.account(&address)?.map(|a| AccountInfo {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash,
            account_id: None,
            code: None,
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.state.code_by_hash_ref(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        self.slot(&address, &B256::from(index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.state.block_hash_ref(number)
    }
}

impl DatabaseRef for StateDb {
    type Error = StateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        StateAt {
            state: self,
            block: None,
        }
        .basic_ref(address)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.index.read().code.get(&code_hash) {
            return Ok(code.clone());
        }
        let bytes = self.storage.code(&code_hash)?.unwrap_or_default();
        let code = Bytecode::new_raw(bytes);
        self.index.write().code.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.storage.storage(&address, &B256::from(index))?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        Ok(self
            .storage
            .block(number)?
            .map(|b| b.hash)
            .unwrap_or_default())
    }
}
