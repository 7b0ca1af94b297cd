//! Ordo storage: fjall keyspaces with typed accessors. Every other stage reads and writes
//! through [`Storage`]; nobody else names a keyspace or a key layout.
//!
//! Map:
//! - `wal`: accepted, not yet included transactions (`hash → seq ‖ raw`). Appended by the
//!   pool's group-commit writer with one fsync per group ([`Storage::wal_append`]); pruned
//!   ([`Storage::wal_remove`], not fsynced) once the block including them is stored, so a
//!   crash can leave an included transaction there, which the pool drops on restart (its
//!   nonce is below its sender's).
//! - `blocks` (`number → BlockRecord`), `block_hashes` (`hash → number`), `txs`
//!   (`hash → TxLocation`), `receipts` (`number → [ReceiptRecord]`).
//! - `accounts` (`keccak(address) → AccountRecord`), `storage`
//!   (`keccak(address) ‖ keccak(slot) → value`), `code` (`code hash → bytecode`): the head
//!   state, keyed as the state trie is, so its leaves are read in trie order.
//! - `account_trie` (`"s" ‖ path → branch node`) and `storage_trie`
//!   (`keccak(address) ‖ path → branch node`), in a fjall database of their own (`trie/`,
//!   with its own journal and `meta`): every branch node of the state trie and of
//!   each storage trie at the head, a path being one byte per nibble. Blocks rewrite only
//!   the nodes on the paths they touched (`ordo_exec::trie`), and are written behind the
//!   blocks as the indexes below are: a block's nodes wait in memory (readable through
//!   every view) and the writer thread stores a few blocks' worth at a time, each batch
//!   taking the tries whole from one block's to a later one's and moving their `meta`'s
//!   `trie_at` mark. After a crash the state recomputes the lost ones from the change sets
//!   since the mark ([`Storage::trie_behind`], [`Storage::repair_trie`]); trie reads fail
//!   until it has.
//! - `account_history` (`address ‖ block → record before block`) and `storage_history`
//!   (`address ‖ slot ‖ block → value before block`): change sets that answer state
//!   queries at older blocks ([`Storage::account_at`], [`Storage::storage_at`]); and
//!   `changes` (`block → the accounts and slots it changed`), so a walk back from the head
//!   knows which keys differ at an older block ([`view::StateView::changed_after`]).
//! - `txs` and the two history keyspaces are written behind the blocks (index.rs): a
//!   block's batch carries its `index_log` record (`block → the values it replaced`), its
//!   entries wait in memory, readable, and a thread (`ordo-index`) writes them in small
//!   unsynced batches and drops the logs; `meta`'s `indexed` mark says where a restart
//!   resumes.
//! - [`Storage::output`] ([`output`]): a stored block's output root (OP's version 0, over the
//!   message passer's storage root), what the proposer posts to L1.
//! - Reads of the state go through [`view::StateView`]: live, or a snapshot that later
//!   commits do not change (proofs and other multi-key walks).
//! - `batches`: batch records by index (big-endian), built by the batcher and updated as
//!   the L1 poster submits and confirms them ([`Storage::put_batch`], fsynced).
//! - `bundles`: accepted searcher bundles not yet expired (`bundle hash → record`, the
//!   record owned and encoded by `ordo_primitives::Bundle`). Each write fsyncs on its own
//!   ([`Storage::put_bundle`], [`Storage::put_bundles`], [`Storage::remove_bundles`]), so an acknowledged bundle survives a crash.
//! - `meta`: the head pointer and chain identity.
//! - `raft_log` (`index → entry`) and `raft_meta` (vote, committed and purged log ids): a
//!   replica's Raft log, opaque bytes that `ordo-replica` encodes (raft.rs). Every write
//!   fsyncs before it returns, as Raft requires of a log and a vote.
//! - `plugins`: WASM plugin components by code hash (`w ‖ keccak256(bytes) → bytes`), their
//!   compiled artifacts (`c ‖ code hash ‖ engine → bytes`, a cache the plugin host fills so
//!   a restart does not compile every plugin again), and the
//!   plugin host's registry state (`state → opaque bytes`, owned and encoded by
//!   `ordo-plugin-host`: loaded entries, active set, rollback history).
//!
//! Free space: the node keeps a reserve free on the datadir's filesystem
//! ([`Storage::set_min_free_bytes`]); under it the acknowledging writes (WAL, bundles,
//! plugins) fail with [`StorageError::DiskFull`] before they start, and the builder waits
//! instead of sealing. A write that fails half way would poison fjall until a restart.
//!
//! Durability: [`Storage::wal_append`] and [`Storage::commit_block`] return only after
//! `PersistMode::SyncAll`; a crash loses nothing either acknowledged. Everything else
//! (`put_meta` aside) happens inside those two batches (trie nodes after genesis aside:
//! they are recomputed from what the batches hold), except the plugin writes
//! ([`Storage::put_plugin_wasm`], [`Storage::put_plugin_state`]), which fsync on their own:
//! an operator's `activate` must survive a crash just like a transaction. The index
//! writes are outside them too, and need no fsync: what they write is rebuilt from the
//! blocks' batches if a crash loses it. So are the plugins' compiled artifacts
//! ([`Storage::put_plugin_artifact`]): a lost one is compiled again.

mod index;
pub mod output;
pub mod raft;
mod records;
mod staged;
pub mod view;

pub use index::INDEX_BATCH_BLOCKS;
use index::{BlockIndex, INDEXED_KEY, IndexCloser, IndexKeyspaces, IndexLog, Indexer, TRIE_KEY};
pub use records::AccountRecord;
use records::{ChangeSet, SlotRef, decode_node, encode, encode_node, history_slot_key, path_key};
pub use staged::Staged;
use staged::{put_writes, remove_stored_under};

use std::{path::Path, sync::Arc};

use quick_cache::sync::Cache;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::Decodable;
use alloy_trie::{BranchNodeCompact, Nibbles};
use fjall::{
    Database, Keyspace, KeyspaceCreateOptions, PersistMode,
    config::{CompressionPolicy, HashRatioPolicy, PinningPolicy},
};
use ordo_primitives::{BlockRecord, ReceiptRecord, TxLocation};

/// Storage failures. All of them are I/O or corruption: none is the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The storage engine failed.
    #[error("storage engine: {0}")]
    Engine(#[from] fjall::Error),
    /// The datadir holds state in a layout this version does not read.
    #[error(
        "the datadir's state is in format {found} (this Ordo reads format {STATE_FORMAT}); \
         start from a fresh datadir"
    )]
    Format {
        /// The format found (0: written before formats were recorded).
        found: u8,
    },
    /// A stored record did not decode.
    #[error("corrupt record in {keyspace}: {source}")]
    Corrupt {
        /// Which keyspace.
        keyspace: &'static str,
        /// The decode error.
        source: alloy_rlp::Error,
    },
    /// The datadir's filesystem has less free space than the node keeps in reserve: the
    /// write was not attempted (a write that fails half way poisons the engine until a
    /// restart, so the node stops before the disk is full, not when it is).
    #[error(
        "disk full: {free} bytes free on the datadir's filesystem, under the {reserve}-byte \
         reserve (min_free_disk_mb)"
    )]
    DiskFull {
        /// Bytes available to the node.
        free: u64,
        /// The reserve ([`Storage::set_min_free_bytes`]).
        reserve: u64,
    },
    /// A trie node was read while the stored tries are behind the stored blocks (a crash
    /// lost nodes that were written behind them), before the state recomputed them
    /// ([`Storage::repair_trie`]).
    #[error("the stored tries are behind block {0}: they must be recomputed first")]
    TrieBehind(u64),
    /// A commit without a block (written in place) was refused: trie nodes of stored blocks
    /// still wait to be written (the datadir is short of space, or the tries wait to be
    /// recomputed), and they must land first.
    #[error(
        "trie nodes of stored blocks are not written yet: a commit without a block cannot be written before them"
    )]
    TriesPending,
}

impl StorageError {
    /// Storage errors are never retryable by a client: the node is unhealthy.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// The free space the node keeps on the datadir's filesystem ([`Storage::ensure_space`]).
struct DiskReserve {
    dir: std::path::PathBuf,
    bytes: std::sync::atomic::AtomicU64,
}

impl DiskReserve {
    fn free_bytes(&self) -> Result<u64> {
        let stat = rustix::fs::statvfs(&self.dir)
            .map_err(|e| StorageError::Engine(fjall::Error::Io(e.into())))?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    fn ensure_space(&self) -> Result<()> {
        let reserve = self.bytes.load(std::sync::atomic::Ordering::Relaxed);
        if reserve == 0 {
            return Ok(());
        }
        let free = self.free_bytes()?;
        if free < reserve {
            return Err(StorageError::DiskFull { free, reserve });
        }
        Ok(())
    }
}

/// Result alias.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// One account's changes in a sealed block.
#[derive(Debug, Clone)]
pub enum AccountChange {
    /// The account exists with this record after the block.
    Set(AccountRecord),
    /// The account was destroyed (and its storage wiped).
    Delete,
}

/// Everything a sealed block writes, applied as one atomic fjall batch.
#[derive(Debug, Clone, Default)]
pub struct BlockCommit {
    /// The block.
    pub block: Option<BlockRecord>,
    /// Its receipts.
    pub receipts: Vec<ReceiptRecord>,
    /// Account changes.
    pub accounts: Vec<(Address, AccountChange)>,
    /// Accounts whose whole storage is wiped before `storage` applies (selfdestruct).
    pub wiped_storage: Vec<Address>,
    /// Storage slot changes (zero deletes the slot).
    pub storage: Vec<(Address, B256, U256)>,
    /// New bytecode by hash.
    pub code: Vec<(B256, Bytes)>,
    /// Each changed account's record *before* this block (`None`: it did not exist).
    /// Keyed by the block number, this is what answers state queries at older blocks.
    pub account_history: Vec<(Address, Option<AccountRecord>)>,
    /// Each changed slot's value before this block.
    pub storage_history: Vec<(Address, B256, U256)>,
    /// State trie branch nodes to store (`Some`) or delete (`None`), by path.
    pub account_nodes: Vec<(Nibbles, Option<BranchNodeCompact>)>,
    /// Storage trie branch nodes by hashed address and path (applied after the wipes).
    pub storage_nodes: Vec<(B256, Nibbles, Option<BranchNodeCompact>)>,
    /// On a replica: the Raft log position of the entry that carried this block (encoded by
    /// `ordo-replica`), stored with the block so that what the log applied and what the
    /// chain holds can never disagree after a crash.
    pub raft_applied: Option<Vec<u8>>,
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
}

/// A large state for [`Storage::ingest_state`]: every sequence sorted by its storage key
/// (hashed address; hashed address then hashed slot; trie path; code hash), without
/// duplicates.
#[derive(Default)]
pub struct BulkState {
    /// Accounts by keccak(address).
    pub accounts: Vec<(B256, AccountRecord)>,
    /// Non-zero slots: keccak(address), keccak(slot), value.
    pub slots: Vec<(B256, B256, U256)>,
    /// State trie branch nodes by path.
    pub account_nodes: Vec<(Nibbles, BranchNodeCompact)>,
    /// Storage trie branch nodes: keccak(address), path.
    pub storage_nodes: Vec<(B256, Nibbles, BranchNodeCompact)>,
    /// Bytecode by hash.
    pub code: Vec<(B256, Bytes)>,
}

/// The layout of the state keyspaces this version writes (2: hashed keys and stored trie
/// nodes; 3: the trie nodes in a database of their own, [`TRIE_DIR`]). Recorded with the
/// genesis block. A format 2 datadir is moved to 3 when it opens.
pub const STATE_FORMAT: u8 = 3;

/// The tries' database, under the datadir's database directory.
const TRIE_DIR: &str = "trie";
/// The keyspaces that held the tries in format 2, in the blocks' database.
const FORMAT_2_TRIES: [&str; 2] = ["account_trie", "storage_trie"];

/// Keys per batch of [`write_chunked`].
const MOVE_CHUNK: usize = 16 * 1_024;

/// Writes to `keyspace` of `db` each key with its value (`None`: removed), in batches of
/// [`MOVE_CHUNK`] through the journal.
fn write_chunked(
    db: &Database,
    keyspace: &Keyspace,
    writes: impl Iterator<Item = fjall::Result<(fjall::UserKey, Option<fjall::UserValue>)>>,
) -> Result<()> {
    let mut batch = db.batch();
    for write in writes {
        match write? {
            (key, Some(value)) => batch.insert(keyspace, key, value),
            (key, None) => batch.remove(keyspace, key),
        }
        if batch.len() == MOVE_CHUNK {
            std::mem::replace(&mut batch, db.batch()).commit()?;
        }
    }
    batch.commit()?;
    Ok(())
}

/// Removes every key of `keyspace`: not with fjall's `clear`, which a journal replays at
/// recovery over whatever was ingested after it.
fn remove_all(db: &Database, keyspace: &Keyspace) -> Result<()> {
    write_chunked(
        db,
        keyspace,
        keyspace.iter().map(|item| Ok((item.key()?, None))),
    )
}

/// The journal files in `dir`, each with where its last non-zero byte ends, read before
/// fjall opens (and recovers) them.
fn journal_sizes(dir: &Path) -> Vec<(std::path::PathBuf, u64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jnl"))
        .filter_map(|p| Some((p.clone(), written_end(&p).ok()?)))
        .collect()
}

/// Where the last non-zero byte of `path` ends. fjall preallocates its active journal, so
/// a crash leaves zeros after the last write: those are not a torn write. Scans backwards
/// a MiB at a time, so only the zero tail is read.
fn written_end(path: &Path) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let mut end = file.metadata()?.len();
    let mut chunk = vec![0u8; 1 << 20];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let buf = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(buf)?;
        if let Some(i) = buf.iter().rposition(|b| *b != 0) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// fjall cuts a journal back to its last complete write when it recovers one that a crash
/// interrupted, and says so only at debug level: the operator hears it here. Such a write
/// never returned, so nothing it held was acknowledged.
fn report_torn_journals(before: &[(std::path::PathBuf, u64)]) {
    for (path, written) in before {
        if let Ok(now) = std::fs::metadata(path).map(|m| m.len())
            && now < *written
        {
            tracing::warn!(
                target: "ordo::storage",
                journal = %path.display(),
                cut_bytes = written - now,
                "recovered a torn journal tail: the write a crash interrupted was dropped, everything before it kept"
            );
        }
    }
}

/// The fjall database and its keyspaces.
#[derive(Clone)]
pub struct Storage {
    db: Database,
    /// The tries' own database ([`TRIE_DIR`]): `account_trie`, `storage_trie` and their
    /// `meta` (the `trie_at` mark).
    tries: Database,
    /// Decoded receipts of recently read blocks: a wallet or explorer asks for the receipts
    /// of a block's transactions one by one, and each would otherwise decode them all.
    recent_receipts: Arc<Cache<u64, Arc<Vec<ReceiptRecord>>>>,
    /// Decoded recent blocks: every receipt or transaction a client asks for by hash needs
    /// its block, and decoding a block of a thousand transactions for each was a sixth of
    /// the JSON-RPC workers' time under load.
    recent_blocks: Arc<Cache<u64, Arc<BlockRecord>>>,
    wal: Keyspace,
    blocks: Keyspace,
    block_hashes: Keyspace,
    txs: Keyspace,
    receipts: Keyspace,
    accounts: Keyspace,
    storage: Keyspace,
    code: Keyspace,
    account_trie: Keyspace,
    storage_trie: Keyspace,
    trie_meta: Keyspace,
    account_history: Keyspace,
    storage_history: Keyspace,
    changes: Keyspace,
    index_log: Keyspace,
    /// The `txs` and history entries of stored blocks not yet written (index.rs).
    index: Arc<Indexer>,
    /// Stops the index writer when the last clone of this `Storage` goes.
    _closer: Arc<IndexCloser>,
    meta: Keyspace,
    plugins: Keyspace,
    bundles: Keyspace,
    batches: Keyspace,
    raft_log: Keyspace,
    raft_meta: Keyspace,
    reserve: Arc<DiskReserve>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").finish_non_exhaustive()
    }
}

/// How many blocks' decoded receipts [`Storage::receipts`] keeps.
const RECENT_RECEIPT_BLOCKS: usize = 64;

/// How many decoded blocks [`Storage::shared_block`] keeps.
const RECENT_BLOCKS: usize = 64;

/// Default size of fjall's block cache (fjall's own default).
pub const DEFAULT_BLOCK_CACHE_MB: u64 = 32;

const HEAD_KEY: &[u8] = b"head";
/// `raft_meta`'s key of the applied log position (`raft::RaftMeta::Applied`), written here
/// with each replicated block.
const RAFT_APPLIED_KEY: &[u8] = b"applied";
const STATE_FORMAT_KEY: &[u8] = b"state_format";
/// Leads every `account_trie` key: the root's path is empty, and fjall keys may not be.
const ACCOUNT_TRIE_OWNER: &[u8] = b"s";
const CHAIN_ID_KEY: &[u8] = b"chain_id";
const CHAIN_CONFIG_KEY: &[u8] = b"chain_config";
const HALT_KEY: &[u8] = b"halt";
const LIVE_CONFIG_KEY: &[u8] = b"live_config";
const PLUGIN_STATE_KEY: &[u8] = b"state";
const PLUGIN_WASM_PREFIX: u8 = b'w';
const PLUGIN_ARTIFACT_PREFIX: u8 = b'c';

fn plugin_wasm_key(hash: &B256) -> [u8; 33] {
    let mut key = [0u8; 33];
    key[0] = PLUGIN_WASM_PREFIX;
    key[1..].copy_from_slice(hash.as_slice());
    key
}

/// `c ‖ code hash ‖ engine`: a plugin's compiled artifact for one engine configuration, so
/// every artifact of a component shares the prefix `c ‖ code hash`.
fn plugin_artifact_key(hash: &B256, engine: u64) -> [u8; 41] {
    let mut key = [0u8; 41];
    key[0] = PLUGIN_ARTIFACT_PREFIX;
    key[1..33].copy_from_slice(hash.as_slice());
    key[33..].copy_from_slice(&engine.to_be_bytes());
    key
}

fn plugin_artifacts_prefix(hash: &B256) -> [u8; 33] {
    let mut key = plugin_wasm_key(hash);
    key[0] = PLUGIN_ARTIFACT_PREFIX;
    key
}

fn decode<T: Decodable>(keyspace: &'static str, bytes: &[u8]) -> Result<T> {
    let mut buf = bytes;
    T::decode(&mut buf).map_err(|source| StorageError::Corrupt { keyspace, source })
}

/// The `storage` key of a slot: hashed address, hashed slot.
fn slot_key(hashed_address: &B256, hashed_slot: &B256) -> [u8; 64] {
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(hashed_address.as_slice());
    key[32..].copy_from_slice(hashed_slot.as_slice());
    key
}

fn read_head(value: &[u8]) -> u64 {
    let mut n = [0u8; 8];
    n[..value.len().min(8)].copy_from_slice(&value[..value.len().min(8)]);
    u64::from_be_bytes(n)
}

fn node_value(keyspace: &'static str, bytes: &[u8]) -> Result<BranchNodeCompact> {
    decode_node(bytes).ok_or(StorageError::Corrupt {
        keyspace,
        source: alloy_rlp::Error::Custom("not a branch node"),
    })
}

impl Storage {
    /// Opens (or creates) the database in `path`, with fjall's default block cache.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_cache(path, DEFAULT_BLOCK_CACHE_MB)
    }

    /// Opens (or creates) the database in `path` with a block cache of `block_cache_mb` MiB.
    /// Blocks, their indexes and filters are cached together: on a state larger than memory,
    /// a point read that finds its index and filter blocks cached costs one block read.
    /// The tries, in a database of their own, take half of it.
    pub fn open_with_cache(path: impl AsRef<Path>, block_cache_mb: u64) -> Result<Self> {
        let cache_bytes = (block_cache_mb.max(2) << 20) / 2;
        let trie_path = path.as_ref().join(TRIE_DIR);
        let journals = journal_sizes(path.as_ref());
        let trie_journals = journal_sizes(&trie_path);
        let db = Database::builder(path.as_ref())
            .cache_size(cache_bytes)
            .open()?;
        report_torn_journals(&journals);
        let ks = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default);
        // The state's keyspaces serve random point reads (one per touched account, slot or
        // trie node) over data much larger than any cache: their index and filter blocks are
        // kept in memory at every level, and data blocks carry a hash index, so a read that
        // misses the caches costs one data block.
        let state_options = || {
            KeyspaceCreateOptions::default()
                .index_block_pinning_policy(PinningPolicy::all(true))
                .filter_block_pinning_policy(PinningPolicy::all(true))
                .data_block_hash_ratio_policy(HashRatioPolicy::all(0.75))
        };
        let state_ks = |name: &str| db.keyspace(name, state_options);
        let txs = ks("txs")?;
        // Trie nodes are mostly hashes, which no compression shrinks: their blocks are
        // stored plain, so a read that misses the block cache decompresses nothing.
        //
        // The tries live in a database of their own (`<path>/trie`), with its own journal:
        // a batch holds its database's journal lock while it fills the memtables, and the
        // writer's batch of a block's nodes (some 4,000 at ten million accounts) held it
        // for 3-40 ms, which every block's commit arriving meanwhile waited out (`ordo
        // bench blocks`: every commit over 8.7 ms of 200 overlapped one). The tries need
        // no atomicity with the blocks: their `trie_at` mark is in their own batches.
        let tries = Database::builder(&trie_path)
            .cache_size(cache_bytes)
            .open()?;
        report_torn_journals(&trie_journals);
        let trie_ks = |name: &str| {
            tries.keyspace(name, || {
                state_options().data_block_compression_policy(CompressionPolicy::disabled())
            })
        };
        let account_trie = trie_ks("account_trie")?;
        let storage_trie = trie_ks("storage_trie")?;
        let trie_meta = tries.keyspace("meta", KeyspaceCreateOptions::default)?;
        let account_history = ks("account_history")?;
        let storage_history = ks("storage_history")?;
        let index_log = ks("index_log")?;
        let meta = ks("meta")?;
        let reserve = Arc::new(DiskReserve {
            dir: path.as_ref().to_path_buf(),
            bytes: std::sync::atomic::AtomicU64::new(0),
        });
        let space = reserve.clone();
        let index = Arc::new(Indexer::new(
            Box::new(move || space.ensure_space().is_ok()),
            db.clone(),
            tries.clone(),
            IndexKeyspaces {
                txs: txs.clone(),
                account_trie: account_trie.clone(),
                storage_trie: storage_trie.clone(),
                account_history: account_history.clone(),
                storage_history: storage_history.clone(),
                index_log: index_log.clone(),
                meta: meta.clone(),
                trie_meta: trie_meta.clone(),
            },
        ));
        let storage = Self {
            wal: ks("wal")?,
            blocks: ks("blocks")?,
            block_hashes: ks("block_hashes")?,
            txs,
            receipts: ks("receipts")?,
            accounts: state_ks("accounts")?,
            storage: state_ks("storage")?,
            code: ks("code")?,
            account_trie,
            storage_trie,
            trie_meta,
            account_history,
            storage_history,
            changes: ks("changes")?,
            index_log,
            _closer: Arc::new(IndexCloser(index.clone())),
            index,
            meta,
            plugins: ks("plugins")?,
            bundles: ks("bundles")?,
            batches: ks("batches")?,
            raft_log: ks("raft_log")?,
            raft_meta: ks("raft_meta")?,
            reserve,
            recent_receipts: Arc::new(Cache::new(RECENT_RECEIPT_BLOCKS)),
            recent_blocks: Arc::new(Cache::new(RECENT_BLOCKS)),
            db,
            tries,
        };
        if storage.head()?.is_some() {
            let found = storage
                .meta
                .get(STATE_FORMAT_KEY)?
                .and_then(|v| v.first().copied())
                .unwrap_or(0);
            match found {
                2 => storage.move_tries()?,
                STATE_FORMAT => storage.drop_format_2_tries()?,
                _ => return Err(StorageError::Format { found }),
            }
        } else {
            // Nothing in a datadir without a head counts: the nodes a genesis cut short
            // left (they are written before its block, or ingested before it) go, so the
            // next genesis, small or bulk, starts from empty tries.
            remove_all(&storage.tries, &storage.account_trie)?;
            remove_all(&storage.tries, &storage.storage_trie)?;
        }
        storage.recover_index()?;
        Ok(storage)
    }

    /// Moves a format 2 datadir's tries into their own database (format 3). Each step can
    /// be cut short and run again: the copy starts over until the format mark moves, and
    /// the old keyspaces go only after it.
    fn move_tries(&self) -> Result<()> {
        let head = self.head()?.unwrap_or_default();
        tracing::info!(target: "ordo::storage", "moving the stored tries into a database of their own (state format 3)");
        for (name, into) in FORMAT_2_TRIES
            .into_iter()
            .zip([&self.account_trie, &self.storage_trie])
        {
            remove_all(&self.tries, into)?;
            if !self.db.keyspace_exists(name) {
                continue;
            }
            // Through the journal (about 5 s at ten million accounts): simple, and it needs
            // no `clear`, which a journal replays at recovery over what was ingested after.
            let from = self.db.keyspace(name, KeyspaceCreateOptions::default)?;
            let copies = from.iter().map(|item| {
                let (key, value) = item.into_inner()?;
                Ok((key, Some(value)))
            });
            write_chunked(&self.tries, into, copies)?;
        }
        // Absent: a datadir from before the tries were written behind, all of them stored.
        let trie_at = self.meta.get(TRIE_KEY)?.map_or(head, |v| read_head(&v));
        self.trie_meta.insert(TRIE_KEY, trie_at.to_be_bytes())?;
        self.tries.persist(PersistMode::SyncAll)?;
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        batch.insert(&self.meta, STATE_FORMAT_KEY, [STATE_FORMAT]);
        batch.remove(&self.meta, TRIE_KEY);
        batch.commit()?;
        self.drop_format_2_tries()
    }

    /// Deletes the format 2 trie keyspaces from the blocks' database, if a move left them
    /// (it was cut short after its format mark).
    fn drop_format_2_tries(&self) -> Result<()> {
        for name in FORMAT_2_TRIES {
            if self.db.keyspace_exists(name) {
                let from = self.db.keyspace(name, KeyspaceCreateOptions::default)?;
                self.db.delete_keyspace(from)?;
            }
        }
        Ok(())
    }

    /// Puts back in memory the index entries of the stored blocks that a crash (or a stop)
    /// left unwritten: from their records and their `index_log` entries.
    fn recover_index(&self) -> Result<()> {
        let Some(head) = self.head()? else {
            return Ok(());
        };
        let next = match self.meta.get(INDEXED_KEY)? {
            Some(v) => read_head(&v),
            None => {
                // A datadir from before the indexes were deferred: every block so far is
                // indexed. Marked now, durably, before a block can commit: else the blocks
                // committed before the first write of their entries would count as indexed
                // at the next start.
                let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
                batch.insert(&self.meta, INDEXED_KEY, (head + 1).to_be_bytes());
                batch.commit()?;
                head + 1
            }
        };
        let trie_at = match self.trie_meta.get(TRIE_KEY)? {
            Some(v) => read_head(&v),
            None => {
                return Err(StorageError::Corrupt {
                    keyspace: "meta",
                    source: alloy_rlp::Error::Custom(
                        "the tries' database is missing (the datadir's db/trie)",
                    ),
                });
            }
        };
        if trie_at < head {
            tracing::info!(target: "ordo::storage", stored = trie_at, head, "the stored tries are behind the head: the state recomputes them");
            self.index.set_trie_behind(true);
        }
        for number in next..=head {
            let block = self.block(number)?.ok_or(StorageError::Corrupt {
                keyspace: "blocks",
                source: alloy_rlp::Error::Custom("a stored block is missing below the head"),
            })?;
            let log: IndexLog = match self.index_log.get(number.to_be_bytes())? {
                Some(v) => decode("index_log", &v)?,
                None => {
                    return Err(StorageError::Corrupt {
                        keyspace: "index_log",
                        source: alloy_rlp::Error::Custom("a block's index log is missing"),
                    });
                }
            };
            self.index
                .push(BlockIndex::new(number, &block.tx_hashes, &log));
        }
        self.index.stored(head);
        if next <= head {
            tracing::info!(target: "ordo::storage", from = next, to = head, "indexing stored blocks again");
        }
        Ok(())
    }

    /// Writes the index entries and trie nodes of every stored block still waiting in
    /// memory (index.rs); a thread of their own does it every [`INDEX_BATCH_BLOCKS`] blocks.
    pub fn flush_indexes(&self) -> Result<()> {
        Ok(self.index.flush()?)
    }

    /// Whether stored blocks wake the thread that writes their index entries and trie nodes
    /// (on by default). Off, they wait in memory until [`Storage::flush_indexes`], or are
    /// lost with it: how tests stage a crash that loses them.
    pub fn set_write_behind(&self, enabled: bool) {
        self.index.set_writer(enabled);
    }

    /// The last block whose trie nodes are stored, if the stored tries are behind a stored
    /// block whose nodes a crash lost (they were written behind it): the state recomputes
    /// them from the blocks' change sets ([`Storage::repair_trie`]) before anything reads a
    /// trie node. `None`: nothing to recompute.
    pub fn trie_behind(&self) -> Result<Option<u64>> {
        if !self.index.trie_behind() {
            return Ok(None);
        }
        Ok(self.trie_meta.get(TRIE_KEY)?.map(|v| read_head(&v)))
    }

    /// Stores the trie nodes that take the stored tries from [`Storage::trie_behind`]'s
    /// block to `head`'s (`wiped`: storage tries rebuilt whole, whose other stored nodes
    /// go), durably, and lets trie reads and the written-behind marks go on.
    pub fn repair_trie(
        &self,
        head: u64,
        account_nodes: &[(Nibbles, Option<BranchNodeCompact>)],
        storage_nodes: &[(B256, Nibbles, Option<BranchNodeCompact>)],
        wiped: &[B256],
    ) -> Result<()> {
        let mut staged = Staged::default();
        for (path, node) in account_nodes {
            staged.account_trie.insert(
                path_key(ACCOUNT_TRIE_OWNER, path),
                node.as_ref().map(encode_node),
            );
        }
        for (owner, path, node) in storage_nodes {
            staged.storage_trie.insert(
                path_key(owner.as_slice(), path),
                node.as_ref().map(encode_node),
            );
        }
        let mut batch = self.tries.batch().durability(Some(PersistMode::SyncAll));
        for owner in wiped {
            remove_stored_under(
                &mut batch,
                &self.storage_trie,
                owner.as_slice(),
                &staged.storage_trie,
            )?;
        }
        self.write_trie(&mut batch, &staged);
        batch.insert(&self.trie_meta, TRIE_KEY, head.to_be_bytes());
        batch.commit()?;
        self.index.set_trie_behind(false);
        Ok(())
    }

    /// The nodes of a commit not written behind (the genesis block's, or a commit without
    /// a block), in the tries' database, durably, before the commit's own batch: the two
    /// are not one atomic write. What a genesis cut short between them leaves goes at the
    /// next open (a datadir without a head). A commit without a block is for tests and
    /// tools: a crash between the two writes leaves its nodes ahead of its state.
    fn write_trie_in_place(&self, commit: &BlockCommit, staged: &Staged) -> Result<()> {
        let genesis = commit.block.as_ref().is_some_and(|b| b.number() == 0);
        let mut batch = self.tries.batch().durability(Some(PersistMode::SyncAll));
        for hashed in &staged.wiped {
            let owner = hashed.as_slice();
            remove_stored_under(&mut batch, &self.storage_trie, owner, &staged.storage_trie)?;
        }
        self.write_trie(&mut batch, staged);
        if genesis {
            batch.insert(&self.trie_meta, TRIE_KEY, 0u64.to_be_bytes());
        }
        batch.commit()?;
        Ok(())
    }

    fn write_trie(&self, batch: &mut fjall::OwnedWriteBatch, staged: &Staged) {
        put_writes(batch, &self.account_trie, &staged.account_trie);
        put_writes(batch, &self.storage_trie, &staged.storage_trie);
    }

    // ---- Free space ------------------------------------------------------------------

    /// Keeps `bytes` free on the datadir's filesystem: below that, [`Storage::ensure_space`]
    /// fails and the writes that acknowledge something to a client (the WAL, bundles,
    /// plugins) are refused. 0 (the default) turns the check off.
    pub fn set_min_free_bytes(&self, bytes: u64) {
        self.reserve
            .bytes
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// The free space kept in reserve ([`Storage::set_min_free_bytes`]; 0: none).
    pub fn min_free_bytes(&self) -> u64 {
        self.reserve
            .bytes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bytes available to the node on the datadir's filesystem.
    pub fn free_bytes(&self) -> Result<u64> {
        self.reserve.free_bytes()
    }

    /// Fails with [`StorageError::DiskFull`] while the datadir's filesystem has less free
    /// than the reserve. Checked before each acknowledging write, and by the builder before
    /// it stages a block, so no write runs out of space half way (fjall refuses every write
    /// after one failed, until a restart). One `statvfs`: far cheaper than the fsync after.
    pub fn ensure_space(&self) -> Result<()> {
        self.reserve.ensure_space()
    }

    // ---- WAL -------------------------------------------------------------------------

    /// Appends transactions to the WAL and fsyncs once for the whole group.
    /// `seq` orders them across restarts (arrival order).
    pub fn wal_append(&self, entries: &[(B256, u64, &[u8])]) -> Result<()> {
        self.ensure_space()?;
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for (hash, seq, raw) in entries {
            let mut value = Vec::with_capacity(8 + raw.len());
            value.extend_from_slice(&seq.to_be_bytes());
            value.extend_from_slice(raw);
            batch.insert(&self.wal, hash.as_slice(), value);
        }
        batch.commit()?;
        Ok(())
    }

    /// Removes transactions from the WAL (stored in a block, evicted, dropped). Not fsynced:
    /// losing a removal only means a stale transaction is re-validated (and dropped) later.
    pub fn wal_remove(&self, hashes: &[B256]) -> Result<()> {
        let mut batch = self.db.batch();
        for hash in hashes {
            batch.remove(&self.wal, hash.as_slice());
        }
        batch.commit()?;
        Ok(())
    }

    /// Every WAL entry as `(seq, raw)`, in arrival order.
    pub fn wal_entries(&self) -> Result<Vec<(u64, Bytes)>> {
        Ok(self
            .wal_records()?
            .into_iter()
            .map(|(_, seq, raw)| (seq, raw))
            .collect())
    }

    /// Every WAL entry as `(key, seq, raw)`, in arrival order. A record too short to hold
    /// its sequence number (damaged) comes back with sequence 0 and its bytes as the
    /// transaction, so the reader that fails to decode it can remove it by its key.
    pub fn wal_records(&self) -> Result<Vec<(B256, u64, Bytes)>> {
        let mut out = Vec::new();
        for item in self.wal.iter() {
            let (key, value) = item.into_inner()?;
            let key = B256::try_from(&key[..]).unwrap_or_default();
            match value.split_first_chunk::<8>() {
                Some((seq, raw)) => {
                    out.push((key, u64::from_be_bytes(*seq), Bytes::copy_from_slice(raw)))
                }
                None => out.push((key, 0, Bytes::copy_from_slice(&value))),
            }
        }
        out.sort_by_key(|(_, seq, _)| *seq);
        Ok(out)
    }

    // ---- Blocks ----------------------------------------------------------------------

    /// Writes a sealed block, its receipts, its state changes and the new head in one
    /// atomic, fsynced batch.
    pub fn commit_block(&self, commit: &BlockCommit) -> Result<()> {
        self.commit_staged(commit, &Arc::new(Staged::of(commit)))
    }

    /// [`Storage::commit_block`] with the state writes already staged (`staged` must be
    /// [`Staged::of`] `commit`): one atomic batch, fsynced. A block's trie nodes (genesis
    /// aside) are not in it: they wait in memory, readable through every view, and are
    /// written behind the blocks (index.rs), as a crash loses only what the blocks' change
    /// sets recompute ([`Storage::repair_trie`]).
    pub fn commit_staged(&self, commit: &BlockCommit, staged: &Arc<Staged>) -> Result<()> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        let mut pushed = None;
        let behind = commit.block.as_ref().is_some_and(|b| b.number() > 0);
        if let Some(block) = &commit.block {
            let number = block.number().to_be_bytes();
            batch.insert(&self.blocks, number, encode(block));
            batch.insert(&self.block_hashes, block.hash.as_slice(), number);
            batch.insert(&self.receipts, number, encode(&commit.receipts));
            batch.insert(&self.meta, HEAD_KEY, number);
            if block.number() == 0 {
                batch.insert(&self.meta, STATE_FORMAT_KEY, [STATE_FORMAT]);
                batch.insert(&self.meta, INDEXED_KEY, number);
            }
            // The transaction locations and the history follow the block (index.rs): its
            // batch carries only what they are rebuilt from after a crash.
            let log = IndexLog::of(&commit.account_history, &commit.storage_history);
            batch.insert(&self.index_log, number, encode(&log));
            let changes = ChangeSet {
                accounts: commit.account_history.iter().map(|(a, _)| *a).collect(),
                slots: commit
                    .storage_history
                    .iter()
                    .map(|(address, slot, _)| SlotRef {
                        address: *address,
                        slot: *slot,
                    })
                    .collect(),
            };
            if !changes.accounts.is_empty() || !changes.slots.is_empty() {
                batch.insert(&self.changes, number, encode(&changes));
            }
            let mut index = BlockIndex::new(block.number(), &block.tx_hashes, &log);
            if behind {
                index.trie = Some(staged.clone());
            }
            pushed = Some(index);
        } else if self.index.pending().iter().any(|b| b.trie.is_some()) {
            // Written in place, these nodes must land after every pending block's: a flush
            // that could not write them (no space, tries behind) refuses this commit.
            self.index.flush()?;
            if self.index.pending().iter().any(|b| b.trie.is_some()) {
                return Err(StorageError::TriesPending);
            }
        }
        if !behind {
            self.write_trie_in_place(commit, staged)?;
        }
        // A wiped storage trie's stored nodes go when its block's nodes are written.
        for hashed in &staged.wiped {
            let owner = hashed.as_slice();
            remove_stored_under(&mut batch, &self.storage, owner, &staged.storage)?;
        }
        put_writes(&mut batch, &self.accounts, &staged.accounts);
        put_writes(&mut batch, &self.storage, &staged.storage);
        for (hash, code) in &staged.code {
            batch.insert(&self.code, hash.as_slice(), code.to_vec());
        }
        if let Some(applied) = &commit.raft_applied {
            batch.insert(&self.raft_meta, RAFT_APPLIED_KEY, applied.as_slice());
        }
        // Before the batch, and after every step that can fail: a history read on a
        // snapshot that sees the block must find its entries (one that does not see it
        // finds the same values either way), and a trie read its nodes.
        let number = pushed.as_ref().map(|index| index.number);
        if let Some(index) = pushed {
            self.index.push(index);
        }
        if let Err(err) = batch.commit() {
            if let Some(number) = number {
                self.index.withdraw(number);
            }
            return Err(err.into());
        }
        if let Some(number) = number {
            self.index.stored(number);
            self.index.after_store();
        }
        Ok(())
    }

    /// The head block number, `None` before genesis is written.
    pub fn head(&self) -> Result<Option<u64>> {
        Ok(self.meta.get(HEAD_KEY)?.map(|v| read_head(&v)))
    }

    /// A block by number.
    pub fn block(&self, number: u64) -> Result<Option<BlockRecord>> {
        self.blocks
            .get(number.to_be_bytes())?
            .map(|v| decode("blocks", &v))
            .transpose()
    }

    /// A block by number, shared: decoded once and kept while it is recent (stored blocks
    /// never change, so a kept one is never stale).
    pub fn shared_block(&self, number: u64) -> Result<Option<Arc<BlockRecord>>> {
        if let Some(block) = self.recent_blocks.get(&number) {
            return Ok(Some(block));
        }
        let Some(block) = self.block(number)?.map(Arc::new) else {
            return Ok(None);
        };
        self.recent_blocks.insert(number, block.clone());
        Ok(Some(block))
    }

    /// A block number by hash.
    pub fn block_number(&self, hash: &B256) -> Result<Option<u64>> {
        Ok(self.block_hashes.get(hash.as_slice())?.map(|v| {
            let mut n = [0u8; 8];
            n.copy_from_slice(&v[..8.min(v.len())]);
            u64::from_be_bytes(n)
        }))
    }

    /// The receipts of a block (receipts never change once stored, so they are cached).
    pub fn receipts(&self, number: u64) -> Result<Option<Arc<Vec<ReceiptRecord>>>> {
        if let Some(receipts) = self.recent_receipts.get(&number) {
            return Ok(Some(receipts));
        }
        let Some(bytes) = self.receipts.get(number.to_be_bytes())? else {
            return Ok(None);
        };
        let receipts = Arc::new(decode::<Vec<ReceiptRecord>>("receipts", &bytes)?);
        self.recent_receipts.insert(number, receipts.clone());
        Ok(Some(receipts))
    }

    /// Where a transaction was included.
    pub fn tx_location(&self, hash: &B256) -> Result<Option<TxLocation>> {
        if let Some(location) = self.index.tx_location(hash) {
            return Ok(Some(location));
        }
        self.txs
            .get(hash.as_slice())?
            .map(|v| decode("txs", &v))
            .transpose()
    }

    // ---- State (reads: view.rs) ----------------------------------------------------

    /// Bulk-loads a large genesis state into an empty datadir, keyspace by keyspace, from
    /// streams sorted by key (fjall ingestion: no write-ahead log, no per-key cost). Not
    /// atomic: the genesis block, committed afterwards, is what makes the datadir usable, so
    /// a datadir interrupted here has no head and is refused as incomplete by nothing but its
    /// missing genesis (start it over).
    pub fn ingest_state(&self, state: BulkState) -> Result<()> {
        if self.head()?.is_some() {
            return Err(StorageError::Corrupt {
                keyspace: "meta",
                source: alloy_rlp::Error::Custom("bulk state goes into an empty datadir only"),
            });
        }
        let mut ingest = self.accounts.start_ingestion()?;
        for (hashed, record) in state.accounts {
            ingest.write(hashed.0, encode(&record))?;
        }
        ingest.finish()?;
        let mut ingest = self.storage.start_ingestion()?;
        for (owner, slot, value) in state.slots {
            ingest.write(slot_key(&owner, &slot), value.to_be_bytes::<32>())?;
        }
        ingest.finish()?;
        let mut ingest = self.account_trie.start_ingestion()?;
        for (path, node) in state.account_nodes {
            ingest.write(path_key(ACCOUNT_TRIE_OWNER, &path), encode_node(&node))?;
        }
        ingest.finish()?;
        let mut ingest = self.storage_trie.start_ingestion()?;
        for (owner, path, node) in state.storage_nodes {
            ingest.write(path_key(owner.as_slice(), &path), encode_node(&node))?;
        }
        ingest.finish()?;
        let mut ingest = self.code.start_ingestion()?;
        for (hash, code) in state.code {
            ingest.write(hash.0, code.to_vec())?;
        }
        ingest.finish()?;
        self.db.persist(PersistMode::SyncAll)?;
        self.tries.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    /// Bytecode by hash.
    pub fn code(&self, hash: &B256) -> Result<Option<Bytes>> {
        self.live().code(hash)
    }

    /// Records the chain id at genesis, so a restart cannot silently change it.
    pub fn put_chain_id(&self, chain_id: u64) -> Result<()> {
        self.meta.insert(CHAIN_ID_KEY, chain_id.to_be_bytes())?;
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    /// Records the fork rules of an imported Ethereum chain (its genesis file's `config`,
    /// JSON that `ordo-exec` reads) and fsyncs. Ordo's own chains record none.
    pub fn put_chain_config(&self, config: &[u8]) -> Result<()> {
        self.meta.insert(CHAIN_CONFIG_KEY, config)?;
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    /// The recorded fork rules ([`Storage::put_chain_config`]), if any.
    pub fn chain_config(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get(CHAIN_CONFIG_KEY)?.map(|v| v.to_vec()))
    }

    /// The chain id recorded at genesis.
    pub fn chain_id(&self) -> Result<Option<u64>> {
        Ok(self.meta.get(CHAIN_ID_KEY)?.map(|v| {
            let mut n = [0u8; 8];
            n.copy_from_slice(&v[..8.min(v.len())]);
            u64::from_be_bytes(n)
        }))
    }

    /// Records why the sequencer is halted (None: running) and fsyncs: a restart stays
    /// halted until an operator resumes it.
    pub fn put_halt(&self, reason: Option<&str>) -> Result<()> {
        match reason {
            Some(r) => self.meta.insert(HALT_KEY, r.as_bytes())?,
            None => self.meta.remove(HALT_KEY)?,
        }
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    /// Why the sequencer was halted, if it is.
    pub fn halt(&self) -> Result<Option<String>> {
        Ok(self
            .meta
            .get(HALT_KEY)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Stores the operator's live configuration (an opaque document owned by the node) and
    /// fsyncs.
    pub fn put_live_config(&self, bytes: &[u8]) -> Result<()> {
        self.meta.insert(LIVE_CONFIG_KEY, bytes)?;
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    /// The operator's live configuration, if one was stored.
    pub fn live_config(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get(LIVE_CONFIG_KEY)?.map(|v| v.to_vec()))
    }

    // ---- Plugins ---------------------------------------------------------------------

    /// Stores a plugin component under its code hash (keccak256 of `bytes`, computed by the
    /// caller) and fsyncs. Idempotent: the same hash always names the same bytes.
    pub fn put_plugin_wasm(&self, hash: &B256, bytes: &[u8]) -> Result<()> {
        self.ensure_space()?;
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        batch.insert(&self.plugins, plugin_wasm_key(hash), bytes);
        batch.commit()?;
        Ok(())
    }

    /// A plugin component by code hash.
    pub fn plugin_wasm(&self, hash: &B256) -> Result<Option<Vec<u8>>> {
        Ok(self.plugins.get(plugin_wasm_key(hash))?.map(|v| v.to_vec()))
    }

    /// Removes a plugin component (a plugin no longer referenced by the registry), and its
    /// compiled artifacts.
    pub fn remove_plugin_wasm(&self, hash: &B256) -> Result<()> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        batch.remove(&self.plugins, plugin_wasm_key(hash));
        for item in self.plugins.prefix(plugin_artifacts_prefix(hash)) {
            batch.remove(&self.plugins, item.key()?);
        }
        batch.commit()?;
        Ok(())
    }

    /// A plugin component's compiled artifact for the engine configuration `engine` (opaque
    /// bytes, owned by `ordo-plugin-host`), if one was stored.
    pub fn plugin_artifact(&self, hash: &B256, engine: u64) -> Result<Option<Vec<u8>>> {
        Ok(self
            .plugins
            .get(plugin_artifact_key(hash, engine))?
            .map(|v| v.to_vec()))
    }

    /// The engine configurations a plugin component has a stored artifact for.
    pub fn plugin_artifact_engines(&self, hash: &B256) -> Result<Vec<u64>> {
        let mut engines = Vec::new();
        for item in self.plugins.prefix(plugin_artifacts_prefix(hash)) {
            let key = item.key()?;
            // Only `put_plugin_artifact` writes under the prefix; anything else is skipped.
            if let Some(engine) = key.get(33..).and_then(|e| <[u8; 8]>::try_from(e).ok()) {
                engines.push(u64::from_be_bytes(engine));
            }
        }
        Ok(engines)
    }

    /// Stores a plugin component's compiled artifact for `engine`, replacing those of other
    /// engine configurations (an older build's). Not fsynced: it is a cache, which a crash
    /// may lose and the plugin host then fills again.
    pub fn put_plugin_artifact(&self, hash: &B256, engine: u64, bytes: &[u8]) -> Result<()> {
        self.ensure_space()?;
        let key = plugin_artifact_key(hash, engine);
        let mut batch = self.db.batch();
        for item in self.plugins.prefix(plugin_artifacts_prefix(hash)) {
            let old = item.key()?;
            if old[..] != key[..] {
                batch.remove(&self.plugins, old);
            }
        }
        batch.insert(&self.plugins, key, bytes);
        batch.commit()?;
        Ok(())
    }

    /// Replaces the plugin registry state (opaque to storage) and fsyncs.
    pub fn put_plugin_state(&self, state: &[u8]) -> Result<()> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        batch.insert(&self.plugins, PLUGIN_STATE_KEY, state);
        batch.commit()?;
        Ok(())
    }

    /// The plugin registry state, `None` before the first write.
    pub fn plugin_state(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.plugins.get(PLUGIN_STATE_KEY)?.map(|v| v.to_vec()))
    }

    // ---- Bundles ---------------------------------------------------------------------

    /// Stores (or overwrites) a bundle record under its hash and fsyncs before returning.
    pub fn put_bundle(&self, hash: &B256, record: &[u8]) -> Result<()> {
        self.put_bundle_replacing(hash, record, &[])
    }

    /// Stores a bundle record and removes the bundles it replaces in one atomic, fsynced
    /// batch: after a crash either the old bundles or the new one exist, never both.
    pub fn put_bundle_replacing(
        &self,
        hash: &B256,
        record: &[u8],
        replaced: &[B256],
    ) -> Result<()> {
        self.ensure_space()?;
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for old in replaced {
            batch.remove(&self.bundles, old.as_slice());
        }
        batch.insert(&self.bundles, hash.as_slice(), record);
        batch.commit()?;
        Ok(())
    }

    /// Stores a group of bundles and removes the ones they replace, in one fsynced batch
    /// (one fsync for every concurrent `eth_sendBundle`).
    pub fn put_bundles(&self, puts: &[(B256, Vec<u8>)], removes: &[B256]) -> Result<()> {
        self.ensure_space()?;
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for old in removes {
            batch.remove(&self.bundles, old.as_slice());
        }
        for (hash, record) in puts {
            batch.insert(&self.bundles, hash.as_slice(), record);
        }
        batch.commit()?;
        Ok(())
    }

    /// Removes bundles (replaced, cancelled, expired) in one fsynced batch, so a cancelled
    /// bundle does not come back after a crash.
    pub fn remove_bundles(&self, hashes: &[B256]) -> Result<()> {
        if hashes.is_empty() {
            return Ok(());
        }
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        for hash in hashes {
            batch.remove(&self.bundles, hash.as_slice());
        }
        batch.commit()?;
        Ok(())
    }

    /// Every stored bundle as `(hash, record)`, in hash order.
    pub fn bundles(&self) -> Result<Vec<(B256, Vec<u8>)>> {
        let mut out = Vec::new();
        for item in self.bundles.iter() {
            let (key, value) = item.into_inner()?;
            if key.len() != 32 {
                continue;
            }
            out.push((B256::from_slice(&key), value.to_vec()));
        }
        Ok(out)
    }

    // ---- Batches -----------------------------------------------------------------------

    /// Stores (or overwrites, on a status change) batch `index`'s record, fsynced.
    pub fn put_batch(&self, index: u64, record: &[u8]) -> Result<()> {
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        batch.insert(&self.batches, index.to_be_bytes(), record);
        batch.commit()?;
        Ok(())
    }

    /// Batch `index`'s record.
    pub fn batch(&self, index: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.batches.get(index.to_be_bytes())?.map(|v| v.to_vec()))
    }

    /// Every batch record as `(index, record)`, ascending.
    pub fn batches(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut out = Vec::new();
        for item in self.batches.iter() {
            let (key, value) = item.into_inner()?;
            let Ok(index) = <[u8; 8]>::try_from(&key[..]) else {
                continue;
            };
            out.push((u64::from_be_bytes(index), value.to_vec()));
        }
        Ok(out)
    }

    /// Persists everything written so far (used at shutdown).
    pub fn flush(&self) -> Result<()> {
        self.db.persist(PersistMode::SyncAll)?;
        self.tries.persist(PersistMode::SyncAll)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
