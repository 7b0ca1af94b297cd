//! Reading the state: [`StateView`] over the live keyspaces or over a snapshot, so a walk
//! that reads many keys (a proof, a root) sees one block's state even while the builder
//! commits the next. [`Storage`]'s own state reads are the live view's. A view may also lay
//! a staged block ([`Staged`]) over the stored state: its point reads answer from the block
//! first, its range reads merge the two in key order.

use std::{
    collections::BTreeSet,
    sync::{Arc, OnceLock},
};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{BranchNodeCompact, Nibbles};
use fjall::{Iter, Keyspace, Readable, Snapshot};

use crate::{
    ACCOUNT_TRIE_OWNER, AccountRecord, HEAD_KEY, Result, Storage, StorageError, decode,
    history_slot_key,
    index::PendingIndex,
    node_value, read_head,
    records::{ChangeSet, key_path, path_key},
    slot_key,
    staged::{Staged, Writes},
};

/// The keys blocks changed ([`StateView::changed_after`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed {
    /// Accounts.
    pub accounts: BTreeSet<Address>,
    /// Slots, by account.
    pub slots: BTreeSet<(Address, B256)>,
}

/// The state as one moment of the database saw it.
pub struct StateView<'a> {
    storage: &'a Storage,
    /// The blocks' database's and the tries' database's, taken together.
    snapshot: Option<(Snapshot, Snapshot)>,
    staged: Option<&'a Staged>,
    /// The history entries not yet in their keyspaces, as of the snapshot (index.rs).
    pending: PendingIndex,
    /// The trie writes of stored blocks not yet in their keyspaces, newest first: taken at
    /// the first trie read (from `pending` up to the snapshot's head on a snapshot view, up
    /// to the last stored block on a live one).
    /// A live view keeps the list it took: the writer only ever moves a listed block's
    /// nodes into the keyspaces, where they say the same, and only the builder, which
    /// reads through one view per block, adds blocks.
    trie: OnceLock<Vec<Arc<Staged>>>,
    /// Reads the stored tries even while they are behind (the repair's own view).
    repairing: bool,
}

/// The state keyspaces a staged block writes.
#[derive(Clone, Copy)]
enum Layer {
    Accounts,
    Storage,
    AccountTrie,
    StorageTrie,
}

impl std::fmt::Debug for StateView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateView")
            .field("snapshot", &self.snapshot.is_some())
            .finish()
    }
}

impl Storage {
    /// The live state: each read sees the latest commit.
    pub fn live(&self) -> StateView<'_> {
        StateView {
            storage: self,
            snapshot: None,
            staged: None,
            // History reads need a snapshot view (`account_at`), the only readers of it.
            pending: PendingIndex::default(),
            trie: OnceLock::new(),
            repairing: false,
        }
    }

    /// The state as it is now, unchanged by later commits for as long as the view lives
    /// (keep it short: it holds old data on disk).
    pub fn snapshot(&self) -> StateView<'_> {
        // The tries' first: the writer stores only the nodes of stored blocks, so the tries
        // then stand at or before the blocks' snapshot's head, and the pending list taken
        // with them covers the blocks between. The other order could pair the head's state
        // with a later block's nodes (a block stored and its nodes written in between).
        let (pending, (tries, db)) = self
            .index
            .capture(|| (self.tries.snapshot(), self.db.snapshot()));
        let snapshot = (db, tries);
        StateView {
            storage: self,
            snapshot: Some(snapshot),
            staged: None,
            pending,
            trie: OnceLock::new(),
            repairing: false,
        }
    }

    /// A snapshot view that reads the stored tries even while they are behind the head
    /// ([`Storage::trie_behind`]): what [`Storage::repair_trie`]'s caller computes from.
    pub fn repair_view(&self) -> StateView<'_> {
        StateView {
            repairing: true,
            ..self.snapshot()
        }
    }

    /// An account.
    pub fn account(&self, address: &Address) -> Result<Option<AccountRecord>> {
        self.live().account(address)
    }

    /// A storage slot (zero when absent).
    pub fn storage(&self, address: &Address, slot: &B256) -> Result<U256> {
        self.live().storage(address, slot)
    }

    /// An account as it was after block `block`. Read from a snapshot: the history and the
    /// state it falls back to must not straddle a commit.
    pub fn account_at(&self, address: &Address, block: u64) -> Result<Option<AccountRecord>> {
        self.snapshot().account_at(address, block)
    }

    /// A storage slot as it was after block `block` (from a snapshot, as
    /// [`Storage::account_at`]).
    pub fn storage_at(&self, address: &Address, slot: &B256, block: u64) -> Result<U256> {
        self.snapshot().storage_at(address, slot, block)
    }
}

impl<'a> StateView<'a> {
    /// This view with `staged` (a sealed block not yet stored) laid over the state it reads.
    /// The history reads ([`StateView::account_at`], [`StateView::storage_at`]) and
    /// [`StateView::changed_after`] know nothing of it: use them on plain views.
    pub fn over(mut self, staged: Option<&'a Staged>) -> Self {
        self.staged = staged;
        self
    }
}

impl StateView<'_> {
    /// A key of one of the blocks' database's keyspaces.
    fn get(&self, keyspace: &Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_in(self.snapshot.as_ref().map(|(db, _)| db), keyspace, key)
    }

    /// A key of the keyspace of `layer`, through the snapshot of its database.
    fn layer_get(&self, layer: Layer, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_in(self.layer_snapshot(layer), self.keyspace(layer).0, key)
    }

    fn get_in(
        &self,
        snapshot: Option<&Snapshot>,
        keyspace: &Keyspace,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        Ok(match snapshot {
            Some(snapshot) => snapshot.get(keyspace, key)?,
            None => keyspace.get(key)?,
        }
        .map(|v| v.to_vec()))
    }

    /// The snapshot (of a snapshot view) of the database that holds `layer`: a snapshot
    /// reads only its own database's keyspaces.
    fn layer_snapshot(&self, layer: Layer) -> Option<&Snapshot> {
        self.snapshot
            .as_ref()
            .map(|(db, tries)| if Self::is_trie(layer) { tries } else { db })
    }

    fn keyspace(&self, layer: Layer) -> (&Keyspace, &'static str) {
        let s = self.storage;
        match layer {
            Layer::Accounts => (&s.accounts, "accounts"),
            Layer::Storage => (&s.storage, "storage"),
            Layer::AccountTrie => (&s.account_trie, "account_trie"),
            Layer::StorageTrie => (&s.storage_trie, "storage_trie"),
        }
    }

    fn writes(staged: &Staged, layer: Layer) -> &Writes {
        match layer {
            Layer::Accounts => &staged.accounts,
            Layer::Storage => &staged.storage,
            Layer::AccountTrie => &staged.account_trie,
            Layer::StorageTrie => &staged.storage_trie,
        }
    }

    fn wipeable(layer: Layer) -> bool {
        matches!(layer, Layer::Storage | Layer::StorageTrie)
    }

    /// The trie writes of stored blocks not yet in their keyspaces, newest first.
    fn pending_tries(&self) -> Result<&[Arc<Staged>]> {
        if let Some(tries) = self.trie.get() {
            return Ok(tries);
        }
        // A block is pushed before its batch is written, and withdrawn if that fails: the
        // view takes it only once the keyspaces it reads hold the batch (the builder's own
        // view of the block in flight has it staged).
        let (pending, head) = match &self.snapshot {
            Some(_) => (self.pending.clone(), self.head()?),
            None => {
                let pending = self.storage.index.pending();
                (pending, Some(self.storage.index.stored_head()))
            }
        };
        let tries = pending
            .iter()
            .rev()
            .filter(|b| head.is_none_or(|head| b.number <= head))
            .filter_map(|b| b.trie.clone())
            .collect();
        Ok(self.trie.get_or_init(|| tries))
    }

    /// Fails while the stored tries are behind the head, but on the repair's own view.
    fn check_tries(&self) -> Result<()> {
        if !self.repairing && self.storage.index.trie_behind() {
            let at = self.storage.trie_behind()?.unwrap_or_default();
            return Err(StorageError::TrieBehind(at));
        }
        Ok(())
    }

    fn is_trie(layer: Layer) -> bool {
        matches!(layer, Layer::AccountTrie | Layer::StorageTrie)
    }

    /// What lies over the stored keyspace of `layer`, newest first: the staged block, then
    /// (for the tries) the stored blocks whose nodes are not written yet.
    fn overlays(&self, layer: Layer) -> Result<impl Iterator<Item = &Staged>> {
        let pending: &[Arc<Staged>] = if Self::is_trie(layer) {
            self.check_tries()?;
            self.pending_tries()?
        } else {
            &[]
        };
        Ok(self.staged.into_iter().chain(pending.iter().map(|s| &**s)))
    }

    /// A state key as this view sees it: the overlays first, then stored (unless wiped).
    fn state_get(&self, layer: Layer, key: &[u8]) -> Result<Option<Vec<u8>>> {
        for staged in self.overlays(layer)? {
            if let Some(value) = Self::writes(staged, layer).get(key) {
                return Ok(value.clone());
            }
            if Self::wipeable(layer) && staged.wipes(key) {
                return Ok(None);
            }
        }
        self.layer_get(layer, key)
    }

    /// The first state key in `from..=to` that this view sees, with its value. A range read
    /// stays under one owner, so a wipe hides what lies under it whole.
    fn state_first(
        &self,
        layer: Layer,
        from: &[u8],
        to: &[u8],
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let overlays: Vec<&Staged> = self.overlays(layer)?.collect();
        self.first_under_overlays(layer, &overlays, from, to)
    }

    /// [`StateView::state_first`] through `overlays` (newest first) over the keyspace: the
    /// top one's first live write, or the first key below it that it neither writes nor
    /// deletes, whichever is smaller.
    fn first_under_overlays(
        &self,
        layer: Layer,
        overlays: &[&Staged],
        from: &[u8],
        to: &[u8],
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let Some((top, below)) = overlays.split_first() else {
            let keyspace = self.keyspace(layer).0;
            return match self
                .range_in(self.layer_snapshot(layer), keyspace, from, to)
                .next()
            {
                Some(item) => {
                    let (key, value) = item.into_inner()?;
                    Ok(Some((key.to_vec(), value.to_vec())))
                }
                None => Ok(None),
            };
        };
        let writes = Self::writes(top, layer);
        let written = writes
            .range(from.to_vec()..=to.to_vec())
            .find_map(|(key, value)| value.as_ref().map(|v| (key, v)));
        let mut lower = None;
        if !(Self::wipeable(layer) && top.wipes(from)) {
            let mut cursor = from.to_vec();
            while cursor[..] <= to[..] {
                let Some((key, value)) = self.first_under_overlays(layer, below, &cursor, to)?
                else {
                    break;
                };
                if written.is_some_and(|(w, _)| w[..] < key[..]) {
                    break;
                }
                if !writes.contains_key(&key) {
                    lower = Some((key, value));
                    break;
                }
                // Written or deleted above: look past it.
                cursor = key;
                cursor.push(0);
            }
        }
        Ok(match (written, lower) {
            (Some((key, value)), lower) if lower.as_ref().is_none_or(|(l, _)| key < l) => {
                Some((key.clone(), value.clone()))
            }
            (_, lower) => lower,
        })
    }

    /// A range of one of the blocks' database's keyspaces.
    fn range(&self, keyspace: &Keyspace, from: &[u8], to: &[u8]) -> Iter {
        self.range_in(self.snapshot.as_ref().map(|(db, _)| db), keyspace, from, to)
    }

    fn range_in(
        &self,
        snapshot: Option<&Snapshot>,
        keyspace: &Keyspace,
        from: &[u8],
        to: &[u8],
    ) -> Iter {
        match snapshot {
            Some(snapshot) => snapshot.range(keyspace, from..=to),
            None => keyspace.range(from..=to),
        }
    }

    /// The head block number, `None` before genesis.
    pub fn head(&self) -> Result<Option<u64>> {
        Ok(self
            .get(&self.storage.meta, HEAD_KEY)?
            .map(|v| read_head(&v)))
    }

    /// An account.
    pub fn account(&self, address: &Address) -> Result<Option<AccountRecord>> {
        self.account_hashed(&keccak256(address))
    }

    /// An account by `keccak(address)`.
    pub fn account_hashed(&self, hashed: &B256) -> Result<Option<AccountRecord>> {
        self.state_get(Layer::Accounts, hashed.as_slice())?
            .map(|v| decode("accounts", &v))
            .transpose()
    }

    /// The first account whose hashed address is at or after `from` (state trie order).
    pub fn next_account(&self, from: &B256) -> Result<Option<(B256, AccountRecord)>> {
        let last = B256::repeat_byte(0xff);
        match self.state_first(Layer::Accounts, from.as_slice(), last.as_slice())? {
            Some((key, value)) => Ok(Some((B256::from_slice(&key), decode("accounts", &value)?))),
            None => Ok(None),
        }
    }

    /// Bytecode by hash.
    pub fn code(&self, hash: &B256) -> Result<Option<Bytes>> {
        if let Some(code) = self.staged.and_then(|s| s.code.get(hash)) {
            return Ok(Some(code.clone()));
        }
        Ok(self
            .get(&self.storage.code, hash.as_slice())?
            .map(Bytes::from))
    }

    /// A storage slot (zero when absent).
    pub fn storage(&self, address: &Address, slot: &B256) -> Result<U256> {
        self.storage_hashed(&keccak256(address), &keccak256(slot))
    }

    /// A storage slot by hashed address and hashed slot.
    pub fn storage_hashed(&self, hashed_address: &B256, hashed_slot: &B256) -> Result<U256> {
        Ok(self
            .state_get(Layer::Storage, &slot_key(hashed_address, hashed_slot))?
            .map(|v| U256::from_be_slice(&v))
            .unwrap_or_default())
    }

    /// The account's first non-zero slot whose hashed key is at or after `from` (storage trie
    /// order).
    pub fn next_slot(&self, hashed_address: &B256, from: &B256) -> Result<Option<(B256, U256)>> {
        let start = slot_key(hashed_address, from);
        let end = slot_key(hashed_address, &B256::repeat_byte(0xff));
        match self.state_first(Layer::Storage, &start, &end)? {
            Some((key, value)) => Ok(Some((
                B256::from_slice(&key[32..]),
                U256::from_be_slice(&value),
            ))),
            None => Ok(None),
        }
    }

    /// The first stored state trie node, in path order, whose path starts with `prefix`.
    pub fn account_node_under(
        &self,
        prefix: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>> {
        self.node_under(Layer::AccountTrie, ACCOUNT_TRIE_OWNER, prefix)
    }

    /// The first stored node of an account's storage trie whose path starts with `prefix`.
    pub fn storage_node_under(
        &self,
        hashed_address: &B256,
        prefix: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>> {
        self.node_under(Layer::StorageTrie, hashed_address.as_slice(), prefix)
    }

    /// The state trie node stored at exactly `path`.
    pub fn account_node_at(&self, path: &Nibbles) -> Result<Option<BranchNodeCompact>> {
        self.node_at(Layer::AccountTrie, ACCOUNT_TRIE_OWNER, path)
    }

    /// The node of an account's storage trie stored at exactly `path`.
    pub fn storage_node_at(
        &self,
        hashed_address: &B256,
        path: &Nibbles,
    ) -> Result<Option<BranchNodeCompact>> {
        self.node_at(Layer::StorageTrie, hashed_address.as_slice(), path)
    }

    fn node_at(
        &self,
        layer: Layer,
        owner: &[u8],
        path: &Nibbles,
    ) -> Result<Option<BranchNodeCompact>> {
        let name = self.keyspace(layer).1;
        self.state_get(layer, &path_key(owner, path))?
            .map(|value| node_value(name, &value))
            .transpose()
    }

    fn node_under(
        &self,
        layer: Layer,
        owner: &[u8],
        prefix: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>> {
        let name = self.keyspace(layer).1;
        let from = path_key(owner, prefix);
        // Path keys hold one nibble per byte: 0x10 is past every key under the prefix.
        let mut to = from.clone();
        to.push(0x10);
        let Some((key, value)) = self.state_first(layer, &from, &to)? else {
            return Ok(None);
        };
        let path = key_path(&key[owner.len()..]).ok_or(StorageError::Corrupt {
            keyspace: name,
            source: alloy_rlp::Error::Custom("not a trie path"),
        })?;
        Ok(Some((path, node_value(name, &value)?)))
    }

    /// An account as it was after block `block` (history first, then the state). Snapshot
    /// views only ([`Storage::snapshot`]): a live one could miss entries written between
    /// its reads.
    pub fn account_at(&self, address: &Address, block: u64) -> Result<Option<AccountRecord>> {
        debug_assert!(self.snapshot.is_some(), "history read on a live view");
        let mut from = address.to_vec();
        from.extend_from_slice(&(block + 1).to_be_bytes());
        let mut to = address.to_vec();
        to.extend_from_slice(&u64::MAX.to_be_bytes());
        // The first change after `block` recorded the value that held at `block`. Every
        // stored entry is older than every entry only pending.
        if let Some(item) = self.range(&self.storage.account_history, &from, &to).next() {
            let (_, value) = item.into_inner()?;
            if value.is_empty() {
                return Ok(None);
            }
            return decode("account_history", &value).map(Some);
        }
        let mut pending = self.pending.iter().filter(|b| b.number > block);
        if let Some(previous) = pending.find_map(|b| b.accounts.get(address)) {
            return Ok(*previous);
        }
        self.account(address)
    }

    /// A storage slot as it was after block `block` (snapshot views only, as
    /// [`StateView::account_at`]).
    pub fn storage_at(&self, address: &Address, slot: &B256, block: u64) -> Result<U256> {
        debug_assert!(self.snapshot.is_some(), "history read on a live view");
        let prefix = history_slot_key(address, slot);
        let mut from = prefix.to_vec();
        from.extend_from_slice(&(block + 1).to_be_bytes());
        let mut to = prefix.to_vec();
        to.extend_from_slice(&u64::MAX.to_be_bytes());
        if let Some(item) = self.range(&self.storage.storage_history, &from, &to).next() {
            let (_, value) = item.into_inner()?;
            return Ok(U256::from_be_slice(&value));
        }
        let key = (*address, *slot);
        let mut pending = self.pending.iter().filter(|b| b.number > block);
        if let Some(previous) = pending.find_map(|b| b.slots.get(&key)) {
            return Ok(*previous);
        }
        self.storage(address, slot)
    }

    /// Every account and slot some block after `block` changed (up to this view's head).
    pub fn changed_after(&self, block: u64) -> Result<Changed> {
        let mut changed = Changed::default();
        let from = (block + 1).to_be_bytes();
        let to = u64::MAX.to_be_bytes();
        for item in self.range(&self.storage.changes, &from, &to) {
            let (_, value) = item.into_inner()?;
            let set: ChangeSet = decode("changes", &value)?;
            changed.accounts.extend(set.accounts);
            changed
                .slots
                .extend(set.slots.into_iter().map(|s| (s.address, s.slot)));
        }
        Ok(changed)
    }
}
