//! The world state: fjall is the truth; bounded caches keep what blocks and readers touch.
//!
//! Accounts, slots and code are read through quick_cache caches in front of fjall (sized by
//! `[state] cache_mb`); nothing is loaded at startup. The state root of each block comes from
//! the stored trie nodes and the paths the block touched ([`crate::trie`]): a changed
//! account's storage root from its storage trie, then the state root from the account trie.
//!
//! Cache coherence: only [`StateDb::apply`] writes values it knows to be the new head's; a
//! reader fills a miss only if no block was applied while it read ([`Generation`]), so a
//! value read before a block never lands in the cache after it.
//!
//! Prefetch: [`StateDb::prefetch`] reads an account and its trie path through the same
//! caches ahead of the block that will change it (the node calls it from a thread of its
//! own for every accepted transaction), so execution and the root walk find them cached.
//!
//! Pipelining: a sealed block is first staged ([`StateDb::stage`]): its writes are laid over
//! the stored state and applied to the caches, so the next block executes on it at once,
//! while its batch is written ([`StateDb::commit_staged`]), after which the overlay goes. The
//! head state this type reads is therefore the builder's tip, one block ahead of the durable
//! head while a commit is in flight; readers that must not see further than the durable head
//! read that block's state from the change sets instead.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, Nibbles};
use ordo_primitives::ChainSpec;
use ordo_storage::{
    AccountChange, AccountRecord, BlockCommit, Staged, Storage, StorageError, view::StateView,
};
use parking_lot::RwLock;
use quick_cache::{Weighter, sync::Cache};
use revm::{bytecode::Bytecode, database_interface::DatabaseRef, state::AccountInfo};

use crate::{
    error::StateError,
    trie::{
        Base, CachedNodes, ExtensionHints, Generation, NoNodes, NodeCache, Overlaid, PrefixSet,
        STATE_TRIE_OWNER, StoredNodes, TrieNodes, account_leaf, extension_hints, next_key,
        node_cache, slot_leaf, update_root, update_root_parallel, with_leaf_hashes,
    },
};

/// Default size of the state caches (`[state] cache_mb`).
pub const DEFAULT_CACHE_MB: usize = 256;

/// Rough bytes one cached account or slot costs (key, value, cache overhead).
const ENTRY_BYTES: u64 = 128;

#[derive(Clone)]
struct CodeWeight;

impl Weighter<B256, Bytecode> for CodeWeight {
    fn weight(&self, _: &B256, code: &Bytecode) -> u64 {
        ENTRY_BYTES + code.len() as u64
    }
}

/// The state at the head of the chain.
pub struct StateDb {
    storage: Storage,
    accounts: Cache<Address, Option<AccountRecord>>,
    slots: Cache<(Address, B256), U256>,
    code: Cache<B256, Bytecode, CodeWeight>,
    /// Trie nodes the blocks' root walks read.
    nodes: NodeCache,
    /// Where the tries' extensions lead, so a walk need not range-read for them.
    hints: ExtensionHints,
    /// Advanced by every [`StateDb::apply`]; see the module docs.
    generation: Generation,
    /// The sealed block whose batch is being written, if any.
    staged: RwLock<Option<Arc<Staged>>>,
    /// The block whose state this is (the staged one, while one is).
    at: AtomicU64,
    /// Bumped before a block is staged or applied: a read that saw it unchanged on both
    /// sides saw one block's state ([`StateAt`] at the head).
    epoch: AtomicU64,
    /// The accounts read ahead ([`StateDb::prefetch`]) in the generation it names.
    prefetched: parking_lot::Mutex<(u64, HashSet<Address>)>,
}

/// Accounts [`StateDb::prefetch`] remembers within one generation; past this it forgets
/// them all (a request then costs a walk over cached nodes again, nothing worse).
const PREFETCHED_MAX: usize = 1 << 16;

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb").finish_non_exhaustive()
    }
}

/// A block's changes to one account's storage.
struct SlotChanges {
    hashed_address: B256,
    /// The block recreated the account: the stored slots and nodes are gone.
    wiped: bool,
    /// Changed slots by hashed key (`None`: now zero).
    overlay: BTreeMap<B256, Option<Vec<u8>>>,
    /// The changed slots that were non-zero before the block.
    stored: HashSet<B256>,
}

impl StateDb {
    /// The state in `storage`, with caches of [`DEFAULT_CACHE_MB`].
    pub fn open(storage: Storage) -> Result<Self, StateError> {
        Self::with_cache(storage, DEFAULT_CACHE_MB)
    }

    /// The state in `storage`, with `cache_mb` MiB of caches, a quarter each for accounts,
    /// slots, trie nodes and code. Reads nothing up front, unless a crash lost trie nodes
    /// written behind the blocks: those are recomputed first ([`StateDb::repair_trie`]).
    pub fn with_cache(storage: Storage, cache_mb: usize) -> Result<Self, StateError> {
        Self::repair_trie(&storage)?;
        Ok(Self::unrepaired(storage, cache_mb))
    }

    fn unrepaired(storage: Storage, cache_mb: usize) -> Self {
        let bytes = (cache_mb.max(1) as u64) << 20;
        let quarter = bytes / 4;
        let entries = (quarter / ENTRY_BYTES).max(1024) as usize;
        let code_bytes = quarter;
        let at = AtomicU64::new(storage_head(&storage));
        Self {
            storage,
            accounts: Cache::new(entries),
            slots: Cache::new(entries),
            nodes: node_cache(quarter),
            hints: extension_hints(quarter),
            code: Cache::with_weighter(
                (code_bytes / 4096).max(64) as usize,
                code_bytes.max(1 << 20),
                CodeWeight,
            ),
            generation: Generation::default(),
            staged: RwLock::new(None),
            at,
            epoch: AtomicU64::new(0),
            prefetched: parking_lot::Mutex::new((0, HashSet::new())),
        }
    }

    /// Recomputes the trie nodes a crash lost (ordo-storage writes them behind the blocks):
    /// from the stored tries as of their last complete block `T` and the head's leaves, over
    /// every key some block after `T` changed. The stored nodes off those paths are the same
    /// at `T` and at the head, so the walk is the one a block does, over more keys. A
    /// storage trie whose result is not the head account's storage root (its storage was
    /// wiped meanwhile, leaving nodes no change set names) is rebuilt from its slots; the
    /// state root must then be the head block's, or the datadir is refused.
    pub fn repair_trie(storage: &Storage) -> Result<(), StateError> {
        let Some(from) = storage.trie_behind()? else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        let view = storage.repair_view();
        let corrupt = |why: &'static str| {
            StateError(StorageError::Corrupt {
                keyspace: "account_trie",
                source: alloy_rlp::Error::Custom(why),
            })
        };
        let head = view.head()?.ok_or_else(|| corrupt("no head"))?;
        let block = storage
            .block(head)?
            .ok_or_else(|| corrupt("the head block is missing"))?;
        let changed = view.changed_after(from)?;
        let mut slots_of: BTreeMap<Address, BTreeMap<B256, Option<Vec<u8>>>> = BTreeMap::new();
        for (address, slot) in &changed.slots {
            let value = view.storage(address, slot)?;
            slots_of.entry(*address).or_default().insert(
                keccak256(slot),
                (!value.is_zero()).then(|| slot_leaf(&value)),
            );
        }
        let mut commit = BlockCommit::default();
        let mut wiped = Vec::new();
        let mut accounts = BTreeMap::new();
        for address in &changed.accounts {
            let hashed = keccak256(address);
            let record = view.account(address)?;
            accounts.insert(hashed, record.as_ref().map(account_leaf));
            let expected = record.map_or(EMPTY_ROOT_HASH, |r| r.storage_root);
            let overlay = slots_of.remove(address).unwrap_or_default();
            let changed_slots = PrefixSet::new(overlay.keys().map(Nibbles::unpack).collect());
            let leaves = Overlaid {
                base: Base::Slots(&view, hashed),
                overlay: &overlay,
                stored: None,
            };
            let nodes = StoredNodes {
                view: &view,
                owner: hashed,
            };
            let update = update_root(&nodes, &leaves, &changed_slots)?;
            let update = if update.root == expected {
                update
            } else {
                // Rebuilt from every slot the account has at the head.
                let mut all = BTreeMap::new();
                let mut cursor = Some(B256::ZERO);
                while let Some(from) = cursor {
                    let Some((key, value)) = view.next_slot(&hashed, &from)? else {
                        break;
                    };
                    all.insert(key, Some(slot_leaf(&value)));
                    cursor = next_key(&key);
                }
                let leaves = Overlaid {
                    base: Base::None,
                    overlay: &all,
                    stored: None,
                };
                let changed_slots = PrefixSet::new(all.keys().map(Nibbles::unpack).collect());
                let mut update = update_root(&NoNodes, &leaves, &changed_slots)?;
                with_leaf_hashes(&mut update.nodes, &leaves)?;
                if update.root != expected {
                    return Err(corrupt("a storage root does not match its slots"));
                }
                wiped.push(hashed);
                update.removed.clear();
                update
            };
            let mut nodes = Vec::new();
            push_nodes(&mut nodes, update.nodes, update.removed);
            commit
                .storage_nodes
                .extend(nodes.into_iter().map(|(path, node)| (hashed, path, node)));
        }
        let changed_accounts = PrefixSet::new(accounts.keys().map(Nibbles::unpack).collect());
        let leaves = Overlaid {
            base: Base::Accounts(&view),
            overlay: &accounts,
            stored: None,
        };
        let update = update_root_parallel(&StoredNodes::state(&view), &leaves, &changed_accounts)?;
        if update.root != block.header.state_root {
            return Err(corrupt(
                "the recomputed state root is not the head block's: the datadir's tries are damaged",
            ));
        }
        push_nodes(&mut commit.account_nodes, update.nodes, update.removed);
        storage.repair_trie(head, &commit.account_nodes, &commit.storage_nodes, &wiped)?;
        tracing::info!(
            target: "ordo::state",
            from,
            head,
            accounts = changed.accounts.len(),
            slots = changed.slots.len(),
            ms = started.elapsed().as_millis() as u64,
            "recomputed the trie nodes a crash lost"
        );
        Ok(())
    }

    /// Runs `read` on this state if it is block `number`'s, before and after: nothing
    /// staged over it, no block applied meanwhile. `None`: it is not, and the caller reads
    /// block `number` from the change sets instead.
    fn read_if_at<T>(
        &self,
        number: u64,
        read: impl FnOnce() -> Result<T, StateError>,
    ) -> Result<Option<T>, StateError> {
        let epoch = self.epoch.load(Ordering::Acquire);
        if self.at.load(Ordering::Acquire) != number || self.staged.read().is_some() {
            return Ok(None);
        }
        let value = read()?;
        Ok((self.epoch.load(Ordering::Acquire) == epoch).then_some(value))
    }

    fn staged(&self) -> Option<Arc<Staged>> {
        self.staged.read().clone()
    }

    /// Makes a sealed block's changes the state this type reads before they are stored:
    /// laid over the stored state, and applied to the caches. At most one block is staged at
    /// a time: commit it ([`StateDb::commit_staged`]) before staging the next.
    pub fn stage(&self, commit: &BlockCommit) -> Arc<Staged> {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let staged = Arc::new(Staged::of(commit));
        let previous = self.staged.write().replace(staged.clone());
        debug_assert!(previous.is_none(), "a block was staged over another");
        // Overlay first, caches second: a reader that misses the cache after the generation
        // moves must find the block's values underneath.
        self.apply(commit);
        staged
    }

    /// Stores a staged block (one atomic batch, fsynced), then lifts its overlay: the stored
    /// state now says the same.
    pub fn commit_staged(
        &self,
        commit: &BlockCommit,
        staged: &Arc<Staged>,
    ) -> Result<(), StorageError> {
        self.storage.commit_staged(commit, staged)?;
        let mut slot = self.staged.write();
        if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, staged)) {
            *slot = None;
        }
        Ok(())
    }

    /// Takes back a staged block that will never be stored (a replica staged it as leader
    /// and lost the leadership before the group committed it): the overlay goes, and every
    /// cached value the block wrote is forgotten, so reads see the stored state again.
    pub fn unstage(&self, commit: &BlockCommit, staged: &Arc<Staged>) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        {
            let mut slot = self.staged.write();
            if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, staged)) {
                *slot = None;
            }
        }
        if let Some(block) = &commit.block {
            self.at
                .store(block.number().saturating_sub(1), Ordering::Release);
        }
        // Fills that read the block's values before this are refused by the advance.
        let _advance = self.generation.advance();
        for address in &commit.wiped_storage {
            let hashed = keccak256(address);
            self.slots.retain(|(owner, _), _| owner != address);
            self.nodes.retain(|(owner, _), _| *owner != hashed);
        }
        for (path, _) in &commit.account_nodes {
            self.nodes.remove(&(STATE_TRIE_OWNER, *path));
        }
        for (owner, path, _) in &commit.storage_nodes {
            self.nodes.remove(&(*owner, *path));
        }
        for (address, _) in &commit.accounts {
            self.accounts.remove(address);
        }
        for (address, slot, _) in &commit.storage {
            self.slots.remove(&(*address, *slot));
        }
    }

    /// Whether the state this type reads is block `number`'s (the head, nothing staged).
    pub fn is_head(&self, number: u64) -> bool {
        self.at.load(Ordering::Acquire) == number && self.staged.read().is_none()
    }

    /// The number and hash of the block staged over the stored state, if any.
    pub fn staged_block(&self) -> Option<(u64, B256)> {
        self.staged.read().as_ref().and_then(|s| s.block())
    }

    /// The storage this state lives in.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The changes that write a genesis allocation (trie nodes included), and the state root.
    pub fn genesis_commit(spec: &ChainSpec) -> Result<(BlockCommit, B256), StateError> {
        let mut commit = BlockCommit::default();
        let mut accounts = BTreeMap::new();
        for (address, account) in &spec.alloc {
            let code_hash = if account.code.is_empty() {
                KECCAK_EMPTY
            } else {
                keccak256(&account.code)
            };
            if !account.code.is_empty() {
                commit.code.push((code_hash, account.code.clone()));
            }
            let mut slots = SlotChanges {
                hashed_address: keccak256(address),
                wiped: true,
                overlay: BTreeMap::new(),
                stored: HashSet::new(),
            };
            for (slot, value) in &account.storage {
                if !value.is_zero() {
                    slots
                        .overlay
                        .insert(keccak256(slot), Some(slot_leaf(value)));
                    commit.storage.push((*address, *slot, *value));
                }
            }
            let storage_root = Self::storage_root_of(None, &slots, &mut commit)?;
            let record = AccountRecord {
                nonce: account.nonce,
                balance: account.balance,
                storage_root,
                code_hash,
            };
            accounts.insert(slots.hashed_address, Some(account_leaf(&record)));
            commit.accounts.push((*address, AccountChange::Set(record)));
        }
        let changed = PrefixSet::new(accounts.keys().map(Nibbles::unpack).collect());
        let leaves = Overlaid {
            base: Base::None,
            overlay: &accounts,
            stored: None,
        };
        let mut update = update_root(&NoNodes, &leaves, &changed)?;
        with_leaf_hashes(&mut update.nodes, &leaves)?;
        push_nodes(&mut commit.account_nodes, update.nodes, update.removed);
        Ok((commit, update.root))
    }

    /// An account at the head.
    pub fn account(&self, address: &Address) -> Result<Option<AccountRecord>, StateError> {
        if let Some(cached) = self.accounts.get(address) {
            return Ok(cached);
        }
        self.read_through(
            |view| view.account(address),
            |record| self.accounts.insert(*address, record),
        )
    }

    /// Reads into the caches what a block that changes `address` will read: its account and
    /// the state trie's branch nodes on its path. The node's prefetch thread calls it for the
    /// accounts of each accepted transaction, so the random reads a large state costs are
    /// done before the block that includes the transaction, not in its execution and root
    /// walk. Fills obey the caches' [`Generation`] like any read; errors are logged.
    ///
    /// An account already read ahead in this generation (no block applied since) is
    /// skipped: its path is cached, and only a block changes it. Every transaction of a
    /// sender asks again, so without this a busy sender's path was walked once per
    /// transaction rather than once per block.
    pub fn prefetch(&self, address: &Address) {
        {
            let mut prefetched = self.prefetched.lock();
            // Read under the lock: callers on several threads then never take the set back
            // to an older generation.
            let now = self.generation.now();
            let (generation, done) = &mut *prefetched;
            if *generation != now || done.len() >= PREFETCHED_MAX {
                *generation = now;
                done.clear();
            }
            if !done.insert(*address) {
                return;
            }
        }
        if let Err(e) = self.prefetch_path(address) {
            tracing::warn!(target: "ordo::state", %address, error = %e, "prefetching an account");
        }
    }

    fn prefetch_path(&self, address: &Address) -> Result<(), StateError> {
        self.account(address)?;
        // The generation before the overlay, as in `read_through`: a block staged between
        // the two then refuses this thread's fills, read from the state before it.
        let since = self.generation.now();
        let staged = self.staged();
        let view = self.storage.live().over(staged.as_deref());
        let source = self.node_source(&view, since);
        let nodes = source.nodes(STATE_TRIE_OWNER);
        let key = Nibbles::unpack(keccak256(address));
        let mut path = Nibbles::default();
        // Down the branches on the key's path, through extensions too (the range read here
        // leaves the walk a hint and caches the node it leads to); a child that is no stored
        // branch is a leaf, and the walk needs nothing more.
        while path.len() < key.len() {
            let node = match nodes.node_at(&path)? {
                Some(node) => node,
                None => match nodes.first_under(&path)? {
                    Some((below, node)) if key.starts_with(&below) => {
                        path = below;
                        node
                    }
                    _ => break,
                },
            };
            let nibble = key.get_unchecked(path.len());
            // The walk also enters the unchanged children beside the path that hold an
            // extension (a node keeps no hash for those): their range reads are done here too.
            let beside = node.tree_mask.get() & !node.hash_mask.get() & !(1 << nibble);
            for other in (0..16u8).filter(|n| beside & (1 << n) != 0) {
                let mut child = path;
                child.push(other);
                if nodes.node_at(&child)?.is_none() {
                    nodes.first_under(&child)?;
                }
            }
            if !node.tree_mask.is_bit_set(nibble) {
                break;
            }
            path.push(nibble);
        }
        Ok(())
    }

    /// A cache miss: reads the live state under the staged block, if any, and fills the
    /// cache with it unless a block was applied meanwhile ([`Generation`]).
    fn read_through<T: Copy>(
        &self,
        read: impl FnOnce(&StateView<'_>) -> Result<T, StorageError>,
        fill: impl FnOnce(T),
    ) -> Result<T, StateError> {
        let generation = self.generation.now();
        let staged = self.staged();
        let value = read(&self.storage.live().over(staged.as_deref()))?;
        self.generation.fill_if_current(generation, || fill(value));
        Ok(value)
    }

    /// Nonce at the head (0 for unknown accounts, and when storage fails: logged).
    pub fn nonce(&self, address: &Address) -> u64 {
        self.account_or_log(address)
            .map(|a| a.nonce)
            .unwrap_or_default()
    }

    /// Balance at the head (0 for unknown accounts, and when storage fails: logged).
    pub fn balance(&self, address: &Address) -> U256 {
        self.account_or_log(address)
            .map(|a| a.balance)
            .unwrap_or_default()
    }

    fn account_or_log(&self, address: &Address) -> Option<AccountRecord> {
        self.account(address).unwrap_or_else(|e| {
            tracing::error!(target: "ordo::state", %address, error = %e, "reading an account");
            None
        })
    }

    /// Runtime code of an account.
    pub fn code_of(&self, address: &Address) -> Result<Bytes, StateError> {
        match self.account(address)? {
            Some(a) if a.code_hash != KECCAK_EMPTY => {
                Ok(self.code_by_hash_ref(a.code_hash)?.original_bytes())
            }
            _ => Ok(Bytes::new()),
        }
    }

    /// A storage slot at the head.
    pub fn storage_at(&self, address: &Address, slot: &B256) -> Result<U256, StateError> {
        let key = (*address, *slot);
        if let Some(value) = self.slots.get(&key) {
            return Ok(value);
        }
        self.read_through(
            |view| view.storage(address, slot),
            |value| self.slots.insert(key, value),
        )
    }

    /// Turns the block's touched accounts into storage writes, computing each changed
    /// account's storage root and the new state root from the stored trie nodes and the
    /// paths the block touched. Does not write anything.
    ///
    /// `pre` is the cache revm read through during the block: it already holds every
    /// touched slot's pre-block value, so finding net changes costs no storage reads.
    /// `state_clear` is EIP-161 (from Spurious Dragon): touched empty accounts are removed;
    /// before it they are stored.
    pub fn prepare_changes(
        &self,
        changes: &revm::state::EvmState,
        pre: &revm::database::Cache,
        commit: &mut BlockCommit,
        state_clear: bool,
    ) -> Result<B256, StateError> {
        // The builder is the only writer: the live view (with the block before this one, if
        // it is still being written) is the pre-block state throughout.
        let since = self.generation.now();
        let staged = self.staged();
        let view = self.storage.live().over(staged.as_deref());
        let cache = self.node_source(&view, since);
        let mut accounts: BTreeMap<B256, Option<Vec<u8>>> = BTreeMap::new();
        let mut existing = HashSet::new();
        for (address, account) in changes {
            if !account.is_touched() {
                continue;
            }
            let hashed = keccak256(address);
            let previous = self.account(address)?;
            if previous.is_some() {
                existing.insert(hashed);
            }
            if account.is_selfdestructed()
                || (state_clear && account.info.is_empty() && !account.is_created())
            {
                // EIP-161: touched empty accounts are removed; destroyed ones lose storage.
                if previous.is_some() || account.is_selfdestructed() {
                    commit.account_history.push((*address, previous));
                    commit.accounts.push((*address, AccountChange::Delete));
                    commit.wiped_storage.push(*address);
                    accounts.insert(hashed, None);
                }
                continue;
            }
            let wiped = account.is_created();
            // revm re-baselines `original_value` per transaction, so compare with what is
            // stored to find the block's net changes.
            let mut slots = SlotChanges {
                hashed_address: hashed,
                wiped,
                overlay: BTreeMap::new(),
                stored: HashSet::new(),
            };
            let pre_slots = pre.accounts.get(address).map(|a| &a.storage);
            for (raw_key, slot) in &account.storage {
                let key = B256::from(*raw_key);
                let stored = match pre_slots.and_then(|slots| slots.get(raw_key)) {
                    _ if wiped => U256::ZERO,
                    Some(value) => *value,
                    None => self.storage_at(address, &key)?,
                };
                if slot.present_value != stored {
                    commit.storage_history.push((*address, key, stored));
                    commit.storage.push((*address, key, slot.present_value));
                    let leaf =
                        (!slot.present_value.is_zero()).then(|| slot_leaf(&slot.present_value));
                    let hashed_slot = keccak256(key);
                    if !stored.is_zero() {
                        slots.stored.insert(hashed_slot);
                    }
                    slots.overlay.insert(hashed_slot, leaf);
                }
            }
            let storage_root = if slots.overlay.is_empty() && !wiped {
                previous.map(|p| p.storage_root).unwrap_or(EMPTY_ROOT_HASH)
            } else {
                if wiped {
                    commit.wiped_storage.push(*address);
                }
                Self::storage_root_of(Some(&cache), &slots, commit)?
            };
            if let Some(code) = &account.info.code
                && account.info.code_hash != KECCAK_EMPTY
                && !self.code.contains_key(&account.info.code_hash)
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
            if previous != Some(record) {
                commit.account_history.push((*address, previous));
            }
            commit.accounts.push((*address, AccountChange::Set(record)));
            accounts.insert(hashed, Some(account_leaf(&record)));
        }
        let changed = PrefixSet::new(accounts.keys().map(Nibbles::unpack).collect());
        let leaves = Overlaid {
            base: Base::Accounts(&view),
            overlay: &accounts,
            stored: Some(&existing),
        };
        let update = update_root_parallel(&cache.nodes(STATE_TRIE_OWNER), &leaves, &changed)?;
        push_nodes(&mut commit.account_nodes, update.nodes, update.removed);
        Ok(update.root)
    }

    /// The storage root after `slots`, from the stored nodes and slots (none: genesis),
    /// with the node changes added to `commit`.
    fn storage_root_of(
        source: Option<&NodeSource<'_>>,
        slots: &SlotChanges,
        commit: &mut BlockCommit,
    ) -> Result<B256, StateError> {
        let changed = PrefixSet::new(slots.overlay.keys().map(Nibbles::unpack).collect());
        let stored = source.filter(|_| !slots.wiped);
        let base = match stored {
            Some(source) => Base::Slots(source.view, slots.hashed_address),
            None => Base::None,
        };
        let leaves = Overlaid {
            base,
            overlay: &slots.overlay,
            stored: Some(&slots.stored),
        };
        let update = match stored {
            Some(source) => {
                update_root_parallel(&source.nodes(slots.hashed_address), &leaves, &changed)?
            }
            None => {
                let mut update = update_root(&NoNodes, &leaves, &changed)?;
                with_leaf_hashes(&mut update.nodes, &leaves)?;
                update
            }
        };
        let mut nodes = Vec::new();
        // A wipe already removes every stored node of the account.
        let removed = if slots.wiped { vec![] } else { update.removed };
        push_nodes(&mut nodes, update.nodes, removed);
        commit.storage_nodes.extend(
            nodes
                .into_iter()
                .map(|(path, node)| (slots.hashed_address, path, node)),
        );
        Ok(update.root)
    }

    /// The nodes under `view` through the caches. `since`: the generation taken before the
    /// view's overlay was (so a block applied in between refuses the fills).
    fn node_source<'v>(&'v self, view: &'v StateView<'v>, since: u64) -> NodeSource<'v> {
        NodeSource {
            view,
            cache: &self.nodes,
            hints: &self.hints,
            generation: &self.generation,
            since,
        }
    }

    /// Stores a block's commit (one atomic, fsynced batch) and then applies it to the
    /// caches: how a block built outside the builder's pipeline (derivation, an import)
    /// becomes the head.
    pub fn commit(&self, commit: &BlockCommit) -> Result<(), ordo_storage::StorageError> {
        self.storage.commit_block(commit)?;
        self.apply(commit);
        Ok(())
    }

    /// Applies a committed block's changes to the caches. Call after the fjall batch is
    /// durable.
    pub fn apply(&self, commit: &BlockCommit) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Some(block) = &commit.block {
            self.at.store(block.number(), Ordering::Release);
        }
        let _advance = self.generation.advance();
        if !commit.wiped_storage.is_empty() {
            // Only an account that had storage can have cached slots or nodes to forget (a
            // new contract's are all "zero" / "none", which stays true): a retain walks the
            // whole cache.
            let before: HashMap<&Address, &Option<AccountRecord>> = commit
                .account_history
                .iter()
                .map(|(address, previous)| (address, previous))
                .collect();
            for address in &commit.wiped_storage {
                let had_storage = before.get(address).is_none_or(|previous| {
                    previous.is_some_and(|p| p.storage_root != EMPTY_ROOT_HASH)
                });
                if had_storage {
                    let hashed = keccak256(address);
                    self.slots.retain(|(owner, _), _| owner != address);
                    self.nodes.retain(|(owner, _), _| *owner != hashed);
                }
            }
        }
        for (path, node) in &commit.account_nodes {
            self.nodes.insert((STATE_TRIE_OWNER, *path), node.clone());
        }
        for (owner, path, node) in &commit.storage_nodes {
            self.nodes.insert((*owner, *path), node.clone());
        }
        for (address, change) in &commit.accounts {
            let record = match change {
                AccountChange::Set(record) => Some(*record),
                AccountChange::Delete => None,
            };
            self.accounts.insert(*address, record);
        }
        for (address, slot, value) in &commit.storage {
            self.slots.insert((*address, *slot), *value);
        }
    }

    /// The state root of the head state, from the stored trie (nothing changed: the stored
    /// hashes answer it).
    pub fn state_root(&self) -> Result<B256, StateError> {
        let view = self.storage.snapshot();
        let leaves = Overlaid {
            base: Base::Accounts(&view),
            overlay: &BTreeMap::new(),
            stored: None,
        };
        Ok(update_root(&StoredNodes::state(&view), &leaves, &PrefixSet::default())?.root)
    }
}

/// Stored nodes as the builder reads them: the live view through the node cache.
struct NodeSource<'v> {
    view: &'v StateView<'v>,
    cache: &'v NodeCache,
    hints: &'v ExtensionHints,
    generation: &'v Generation,
    since: u64,
}

impl<'v> NodeSource<'v> {
    /// The nodes of `owner`'s trie ([`STATE_TRIE_OWNER`]: the state trie).
    fn nodes(&self, owner: B256) -> CachedNodes<'v> {
        CachedNodes {
            inner: StoredNodes {
                view: self.view,
                owner,
            },
            owner,
            cache: self.cache,
            hints: self.hints,
            generation: self.generation,
            since: self.since,
        }
    }
}

fn push_nodes<T>(
    out: &mut Vec<(Nibbles, Option<T>)>,
    nodes: Vec<(Nibbles, T)>,
    removed: Vec<Nibbles>,
) {
    out.extend(removed.into_iter().map(|path| (path, None)));
    out.extend(nodes.into_iter().map(|(path, node)| (path, Some(node))));
}

/// The state as it was after block `block` (`None`: the state db as it is, the builder's
/// tip), for reads and calls. A block's values come from the state db (its caches) while it
/// is exactly that block's ([`StateDb::read_if_at`]), else from the change sets.
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
            None => self.state.account(address),
            Some(n) => match self.state.read_if_at(n, || self.state.account(address))? {
                Some(record) => Ok(record),
                None => Ok(self.state.storage.account_at(address, n)?),
            },
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
            None => self.state.storage_at(address, slot),
            Some(n) => match self
                .state
                .read_if_at(n, || self.state.storage_at(address, slot))?
            {
                Some(value) => Ok(value),
                None => Ok(self.state.storage.storage_at(address, slot, n)?),
            },
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
        if let Some(code) = self.code.get(&code_hash) {
            return Ok(code);
        }
        let staged = self.staged();
        let bytes = self
            .storage
            .live()
            .over(staged.as_deref())
            .code(&code_hash)?
            .unwrap_or_default();
        let code = Bytecode::new_raw(bytes);
        // Code never changes under its hash: no generation check needed.
        self.code.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        self.storage_at(&address, &B256::from(index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        if let Some((staged, hash)) = self.staged_block()
            && staged == number
        {
            return Ok(hash);
        }
        Ok(self
            .storage
            .block(number)?
            .map(|b| b.hash)
            .unwrap_or_default())
    }
}

/// The stored head's number (0 before genesis, or when it cannot be read: the first
/// applied block sets it).
fn storage_head(storage: &Storage) -> u64 {
    storage.head().ok().flatten().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;
    use ordo_primitives::GenesisAccount;

    use super::*;

    /// Three accounts: `a` and `b` share their keys' first two nibbles (the root's child
    /// holds an extension to their branch), `c` is alone under another child of the root.
    fn three_accounts() -> ([Address; 3], [u8; 2]) {
        let addresses: Vec<Address> = (1..5000u64)
            .map(|i| Address::left_padding_from(&i.to_be_bytes()))
            .collect();
        let first = |a: &Address| keccak256(a)[0];
        let (a, b) = addresses
            .iter()
            .enumerate()
            .find_map(|(i, a)| {
                addresses[..i]
                    .iter()
                    .find(|b| first(b) == first(a) && keccak256(b)[1] >> 4 != keccak256(a)[1] >> 4)
                    .map(|b| (*a, *b))
            })
            .expect("two keys share their first byte");
        let c = *addresses
            .iter()
            .find(|c| first(c) >> 4 != first(&a) >> 4)
            .unwrap();
        ([a, b, c], [first(&a) >> 4, first(&a) & 0xf])
    }

    fn state_with(accounts: &[Address]) -> (tempfile::TempDir, StateDb) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let mut spec = ChainSpec::empty(7);
        for address in accounts {
            spec.alloc.insert(
                *address,
                GenesisAccount {
                    balance: U256::from(1),
                    ..Default::default()
                },
            );
        }
        let (commit, _) = StateDb::genesis_commit(&spec).unwrap();
        storage.commit_block(&commit).unwrap();
        (dir, StateDb::open(storage).unwrap())
    }

    #[test]
    fn prefetching_resolves_the_extensions_on_and_beside_an_accounts_path() {
        let (accounts, [n, m]) = three_accounts();
        let [a, _, c] = accounts;
        let slot = (STATE_TRIE_OWNER, Nibbles::from_nibbles([n]));
        let top = Nibbles::from_nibbles([n, m]);
        for (who, what) in [(a, "on"), (c, "beside")] {
            let (_dir, state) = state_with(&accounts);
            let view = state.storage.live();
            let stored = StoredNodes::state(&view);
            assert!(
                stored.node_at(&slot.1).unwrap().is_none(),
                "no node at the slot"
            );
            assert!(stored.node_at(&top).unwrap().is_some(), "a branch below it");
            assert_eq!(state.hints.get(&slot), None);
            state.prefetch(&who);
            assert_eq!(
                state.hints.get(&slot),
                Some(top),
                "the extension {what} the path"
            );
            assert!(
                state.nodes.get(&(STATE_TRIE_OWNER, top)).is_some(),
                "the node it leads to is cached ({what} the path)"
            );
        }
    }

    #[test]
    fn an_account_is_read_ahead_once_per_block() {
        let (accounts, [n, m]) = three_accounts();
        let [a, b, _] = accounts;
        let top = (STATE_TRIE_OWNER, Nibbles::from_nibbles([n, m]));
        let (_dir, state) = state_with(&accounts);
        state.prefetch(&a);
        assert!(state.nodes.get(&top).is_some(), "read ahead");
        // Evicted meanwhile: the same generation does not read it again (the skip is
        // what makes a sender's later transactions cheap)...
        state.nodes.remove(&top);
        state.prefetch(&a);
        assert!(
            state.nodes.get(&top).is_none(),
            "skipped in the same generation"
        );
        // ...but another account does, and so does the next block's generation.
        state.prefetch(&b);
        assert!(
            state.nodes.get(&top).is_some(),
            "another account reads its path"
        );
        state.nodes.remove(&top);
        state.apply(&BlockCommit::default());
        state.prefetch(&a);
        assert!(
            state.nodes.get(&top).is_some(),
            "read ahead again after a block"
        );
    }
}
