//! Ordo batcher: sealed blocks → batches, compressed by the active compression plugin,
//! attested by the prover hook, stored for the L1 poster.
//!
//! Map of [`Batcher::tick`] (run every block time by [`Batcher::run`]):
//! 1. read the blocks after the last one read, up to the head, into the open batch,
//!    measuring their encoded size ([`BatchBlock`]); each block is read once;
//! 2. close a batch when the blocks reach [`BatcherConfig::max_batch_bytes`] (while a
//!    stored batch still waits to be sent to L1, [`BatcherConfig::max_batch_bytes_behind`]:
//!    larger batches when posting is behind; the block that crosses it ends the batch) or the oldest one has waited
//!    [`BatcherConfig::max_delay`];
//! 3. encode the payload ([`BatchPayload`], versioned), compress it with the active codec
//!    ([`BatchPlugins::codec`]) and check it decompresses back — on any failure the batch
//!    is stored uncompressed ([`CODEC_NONE`]) and says so in its header;
//! 4. compute the last block's output root ([`ordo_storage::Storage::output`]) and call the
//!    prover hook on the header (which carries it) and the compressed bytes;
//! 5. store the [`BatchRecord`] (status `Built`) with one fsync; if that write fails, the
//!    blocks stay in the open batch and the next tick seals them again.
//!
//! The next batch index and the next block come from the stored records, so a restart
//! resumes exactly after the last stored batch: no block is skipped or batched twice.
//! [`Batcher::set_status`] is how the L1 poster moves a batch to submitted / confirmed /
//! finalized (and back to submitted after an L1 reorg deeper than the confirmations).
//!
//! In a replica group: only the leader builds ([`Batcher::set_gate`]; the poster's queue is
//! gated the same way), and every record written (a sealed batch, a status change) is first
//! committed by the group ([`BatchReplicator`]); the log's apply ([`Batcher::adopt`]) then
//! writes it on every replica, so the next leader has the same batches and L1 progress and
//! never builds or posts one twice.
//!
//! Locks: `building` (the open batch) serialises ticks and is held across the plugin calls;
//! `write` serialises writes to the batches keyspace and is never held across a plugin call,
//! so the poster's status writes never wait for a codec or a prover.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::{B256, Bytes};
pub use ordo_primitives::{
    BatchBlock, BatchFrame, BatchHeader, BatchPayload, BatchRecord, BatchStatus, CODEC_NONE,
};
use ordo_storage::{Storage, StorageError};
use parking_lot::{Mutex, RwLock};
use tracing::{debug, info, warn};

/// Batcher failures: storage is broken, or a stored record does not decode.
#[derive(Debug, thiserror::Error)]
pub enum BatcherError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored batch record is corrupt.
    #[error("batch {index}: {source}")]
    Corrupt {
        /// Which batch.
        index: u64,
        /// Why.
        source: ordo_primitives::BatchDecodeError,
    },
    /// A block the batcher needs is missing from storage.
    #[error("block {0} missing")]
    MissingBlock(u64),
    /// A replica group did not commit the record (this replica no longer leads, or no
    /// quorum); it is not written here.
    #[error("batch {index} not replicated: {why}")]
    NotReplicated {
        /// Which batch.
        index: u64,
        /// Why.
        why: String,
    },
}

/// A replica group's log under the batcher: every batch record written (a sealed batch, an
/// L1 status change) is committed by the group first, so the replica that leads next has
/// the same batches with the same L1 progress, and neither builds nor posts one twice.
/// The other replicas store it with [`Batcher::adopt`].
pub trait BatchReplicator: Send + Sync {
    /// Blocks until the group committed batch `index`'s `record`, or fails.
    fn replicate(&self, index: u64, record: Bytes) -> Result<(), String>;
}

/// Whether this batcher builds (and its batches go to L1): false on a replica that does not
/// lead.
pub type ActiveGate = Arc<dyn Fn() -> bool + Send + Sync>;

// The codec and prover seams live in ordo-hooks.
pub use ordo_hooks::{BatchCodec, BatchPlugins, BatchProver, HookError, NoPlugins};

/// When a batch closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatcherConfig {
    /// Uncompressed size at which a batch closes. The default keeps the compressed frame
    /// well inside one ~120 KB calldata transaction (compression only shrinks it; an
    /// incompressible batch is stored as is).
    pub max_batch_bytes: usize,
    /// Longest a block waits in an open batch.
    pub max_delay: Duration,
    /// Most blocks in one batch (bounds memory when blocks are empty).
    pub max_blocks: usize,
    /// Uncompressed size at which a batch closes while posting is behind (a stored batch
    /// not yet sent to L1): with blobs, one transaction carries up to six, so fewer, larger
    /// batches move the backlog faster. At least `max_batch_bytes`.
    pub max_batch_bytes_behind: usize,
}

impl Default for BatcherConfig {
    fn default() -> Self {
        Self {
            max_batch_bytes: 110_000,
            max_delay: Duration::from_secs(30),
            max_blocks: 4096,
            max_batch_bytes_behind: 110_000,
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Where each stored batch is, for `ordo_txStatus` and the poster, without decoding records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSummary {
    /// Batch index.
    pub index: u64,
    /// First block.
    pub first_block: u64,
    /// Last block.
    pub last_block: u64,
    /// L1 progress.
    pub status: BatchStatus,
    /// Size of the compressed payload that goes to L1.
    pub posted_bytes: u64,
}

/// The blocks read so far for the next batch.
#[derive(Default)]
struct OpenBatch {
    blocks: Vec<BatchBlock>,
    size: usize,
    /// The last block read (its hash and state root end the batch).
    last: Option<Arc<ordo_primitives::BlockRecord>>,
}

/// Builds and stores batches.
pub struct Batcher {
    storage: Storage,
    config: BatcherConfig,
    plugins: Arc<dyn BatchPlugins>,
    /// The blocks of the batch being filled, so each block is read from storage once however
    /// many ticks its batch stays open. Only `tick` takes it.
    building: Mutex<OpenBatch>,
    /// Serialises writes of batch records (a sealed batch, a status change): one writer of
    /// the `batches` keyspace. Never held across a plugin call.
    write: Mutex<()>,
    summaries: RwLock<Vec<BatchSummary>>,
    /// [`Batcher::backlog_bytes`] as the last tick measured it: the builder asks every
    /// block, and must not scan the summaries for it.
    backlog: std::sync::atomic::AtomicU64,
    /// A replica group's log, when this batcher is a replica's: then the log's apply
    /// ([`Batcher::adopt`]) is the only writer of batch records, on every replica alike.
    replicator: RwLock<Option<Arc<dyn BatchReplicator>>>,
    /// Builds only while this says so (always, on a single node).
    gate: RwLock<Option<ActiveGate>>,
    /// Test hook: this many of the next batch-record writes fail as storage would.
    #[cfg(test)]
    fail_writes: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Batcher {
    /// Opens the batcher over `storage`, recovering where it stopped from the stored records.
    pub fn open(
        storage: Storage,
        config: BatcherConfig,
        plugins: Arc<dyn BatchPlugins>,
    ) -> Result<Arc<Self>, BatcherError> {
        let mut summaries = Vec::new();
        for (index, bytes) in storage.batches()? {
            let record = BatchRecord::decode(&bytes)
                .map_err(|source| BatcherError::Corrupt { index, source })?;
            let h = record.frame.header;
            summaries.push(BatchSummary {
                index,
                first_block: h.first_block,
                last_block: h.last_block,
                status: record.status,
                posted_bytes: record.frame.data.len() as u64,
            });
        }
        if let Some(last) = summaries.last() {
            info!(target: "ordo::batcher", batches = summaries.len(), last_block = last.last_block, "batches restored");
        }
        Ok(Arc::new(Self {
            storage,
            config,
            plugins,
            building: Mutex::new(OpenBatch::default()),
            write: Mutex::new(()),
            summaries: RwLock::new(summaries),
            backlog: Default::default(),
            replicator: RwLock::new(None),
            gate: RwLock::new(None),
            #[cfg(test)]
            fail_writes: Default::default(),
        }))
    }

    /// Commits every record through `replicator` before it is written here.
    pub fn set_replicator(&self, replicator: Arc<dyn BatchReplicator>) {
        *self.replicator.write() = Some(replicator);
    }

    /// Builds batches (and offers them to the poster) only while `gate` answers true.
    pub fn set_gate(&self, gate: ActiveGate) {
        *self.gate.write() = Some(gate);
    }

    /// Whether this batcher builds now: always on a single node; on a replica, while it
    /// leads. The poster posts only while this holds.
    pub fn is_active(&self) -> bool {
        self.gate.read().as_ref().is_none_or(|gate| gate())
    }

    /// Stores batch `index`'s record as the group committed it: on every replica, the
    /// leader included (whose writer waits for this under `write`, so this does not take
    /// it; the log applies one entry at a time).
    pub fn adopt(&self, index: u64, bytes: &[u8]) -> Result<(), BatcherError> {
        let record =
            BatchRecord::decode(bytes).map_err(|source| BatcherError::Corrupt { index, source })?;
        self.storage.put_batch(index, bytes)?;
        let h = record.frame.header;
        self.upsert_summary(BatchSummary {
            index,
            first_block: h.first_block,
            last_block: h.last_block,
            status: record.status,
            posted_bytes: record.frame.data.len() as u64,
        });
        Ok(())
    }

    fn upsert_summary(&self, summary: BatchSummary) {
        let mut summaries = self.summaries.write();
        match summaries.binary_search_by_key(&summary.index, |s| s.index) {
            Ok(at) => summaries[at] = summary,
            Err(at) => summaries.insert(at, summary),
        }
    }

    /// The configuration.
    pub fn config(&self) -> BatcherConfig {
        self.config
    }

    /// The first block not yet in a batch (block 0, genesis, is never batched).
    pub fn next_block(&self) -> u64 {
        self.summaries.read().last().map_or(1, |s| s.last_block + 1)
    }

    /// Every batch's summary, ascending.
    pub fn summaries(&self) -> Vec<BatchSummary> {
        self.summaries.read().clone()
    }

    /// The last `n` batches, newest last.
    pub fn recent(&self, n: usize) -> Vec<BatchSummary> {
        let summaries = self.summaries.read();
        summaries[summaries.len().saturating_sub(n)..].to_vec()
    }

    /// The first batch whose record may still change (not finalized on L1), or the number
    /// of batches when every one is final: where a replica catching up starts fetching.
    pub fn first_unsettled(&self) -> u64 {
        let summaries = self.summaries.read();
        summaries
            .iter()
            .find(|s| {
                !matches!(
                    s.status,
                    BatchStatus::Confirmed {
                        finalized: true,
                        ..
                    }
                )
            })
            .map_or_else(|| summaries.last().map_or(0, |s| s.index + 1), |s| s.index)
    }

    /// The L2 heads L1 vouches for: `(safe, finalized)`, the last block of the longest run
    /// of batches from the first on that are confirmed on L1 (for `finalized`: in L1 blocks
    /// L1 has finalized). A confirmed batch after one that is not does not count: a verifier
    /// reading L1 cannot derive its blocks yet. Block 0 (genesis) when none is.
    pub fn settled_heads(&self) -> (u64, u64) {
        let (mut safe, mut finalized) = (0, 0);
        let mut finalizing = true;
        for s in self.summaries.read().iter() {
            match s.status {
                BatchStatus::Confirmed { finalized: f, .. } => {
                    safe = s.last_block;
                    finalizing &= f;
                    if finalizing {
                        finalized = s.last_block;
                    }
                }
                _ => break,
            }
        }
        (safe, finalized)
    }

    /// Bytes the chain has sealed that L1 has not taken yet, as of the last tick: the posted
    /// size of every batch not confirmed on L1, plus the raw size of the blocks waiting in
    /// the open batch (an upper bound: they are not compressed yet). What DA throttling
    /// watches.
    pub fn backlog_bytes(&self) -> u64 {
        self.backlog.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn measure_backlog(&self, open_bytes: u64) -> u64 {
        // Unconfirmed batches are the newest ones; older than the last 1,024 means L1 has
        // taken nothing for so long that the throttle is on anyway.
        let stored: u64 = self
            .summaries
            .read()
            .iter()
            .rev()
            .take(1024)
            .filter(|s| !matches!(s.status, BatchStatus::Confirmed { .. }))
            .map(|s| s.posted_bytes)
            .sum();
        stored + open_bytes
    }

    /// The first batch whose last block is above `block`, if it and every batch before it
    /// are confirmed on L1 (what an output may be proposed for: a verifier can derive it).
    pub fn first_safe_after(&self, block: u64) -> Option<BatchSummary> {
        for s in self.summaries.read().iter() {
            if !matches!(s.status, BatchStatus::Confirmed { .. }) {
                return None;
            }
            if s.last_block > block {
                return Some(s.clone());
            }
        }
        None
    }

    /// Confirmed batches whose L1 block is not final yet, ascending (what the poster watches
    /// for reorgs).
    pub fn unfinalized(&self) -> Vec<BatchSummary> {
        self.summaries
            .read()
            .iter()
            .filter(|s| {
                matches!(
                    s.status,
                    BatchStatus::Confirmed {
                        finalized: false,
                        ..
                    }
                )
            })
            .cloned()
            .collect()
    }

    /// How many batches are not yet confirmed on L1.
    pub fn unconfirmed_count(&self) -> usize {
        self.summaries
            .read()
            .iter()
            .filter(|s| !matches!(s.status, BatchStatus::Confirmed { .. }))
            .count()
    }

    /// How many batches there are.
    pub fn len(&self) -> usize {
        self.summaries.read().len()
    }

    /// Whether no batch was built yet.
    pub fn is_empty(&self) -> bool {
        self.summaries.read().is_empty()
    }

    /// Up to `limit` of the oldest batches not yet confirmed on L1 (what the poster works on).
    pub fn unconfirmed(&self, limit: usize) -> Vec<BatchSummary> {
        self.summaries
            .read()
            .iter()
            .filter(|s| !matches!(s.status, BatchStatus::Confirmed { .. }))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The batch holding block `number`, if it has been batched.
    pub fn batch_of_block(&self, number: u64) -> Option<BatchSummary> {
        let summaries = self.summaries.read();
        let i = summaries.partition_point(|s| s.last_block < number);
        summaries
            .get(i)
            .filter(|s| s.first_block <= number)
            .cloned()
    }

    /// Batch `index`'s stored record.
    pub fn batch(&self, index: u64) -> Result<Option<BatchRecord>, BatcherError> {
        self.storage
            .batch(index)?
            .map(|bytes| {
                BatchRecord::decode(&bytes)
                    .map_err(|source| BatcherError::Corrupt { index, source })
            })
            .transpose()
    }

    /// Records L1 progress of batch `index` (durable before returning).
    pub fn set_status(&self, index: u64, status: BatchStatus) -> Result<(), BatcherError> {
        let _write = self.write.lock();
        let Some(mut record) = self.batch(index)? else {
            return Ok(());
        };
        record.status = status.clone();
        self.put_record(index, &record.encode())?;
        if let Some(s) = self.summaries.write().iter_mut().find(|s| s.index == index) {
            s.status = status;
        }
        Ok(())
    }

    /// Closes every batch that is due with the head at `head`; returns their headers.
    pub fn tick(&self, head: u64, now_ms: u64) -> Result<Vec<BatchHeader>, BatcherError> {
        let mut open = self.building.lock();
        if !self.is_active() {
            // A replica that does not lead builds nothing; when it leads, it starts after
            // the last batch the group committed.
            *open = OpenBatch::default();
            return Ok(Vec::new());
        }
        let mut built = Vec::new();
        let mut next = open
            .last
            .as_ref()
            .map_or_else(|| self.next_block(), |b| b.number() + 1);
        loop {
            if open.size >= self.max_batch_bytes() || open.blocks.len() >= self.config.max_blocks {
                built.push(self.seal(&mut open, now_ms)?);
                continue;
            }
            if next > head {
                break;
            }
            let record = self
                .storage
                .shared_block(next)?
                .ok_or(BatcherError::MissingBlock(next))?;
            let block = BatchBlock::from_record(&record);
            let size = BatchPayload::block_size(&block);
            // While behind, the larger size is what one blob transaction holds: a block
            // that would cross it starts the next batch instead.
            let limit = self.max_batch_bytes();
            if limit > self.config.max_batch_bytes
                && !open.blocks.is_empty()
                && open.size + size > limit
            {
                built.push(self.seal(&mut open, now_ms)?);
            }
            open.size += size;
            open.blocks.push(block);
            open.last = Some(record);
            next += 1;
        }
        let oldest_ms = open
            .blocks
            .first()
            .map(|b| b.timestamp.saturating_mul(1000));
        let backlog = self.measure_backlog(open.size as u64);
        self.backlog
            .store(backlog, std::sync::atomic::Ordering::Relaxed);
        metrics::gauge!("ordo_batcher_backlog_bytes").set(backlog as f64);
        if oldest_ms
            .is_some_and(|t| now_ms.saturating_sub(t) >= self.config.max_delay.as_millis() as u64)
        {
            built.push(self.seal(&mut open, now_ms)?);
        }
        Ok(built)
    }

    /// Where the open batch closes: larger while posting is behind (the newest stored batch
    /// has not been sent: batches are first sent in index order).
    fn max_batch_bytes(&self) -> usize {
        let behind = self
            .summaries
            .read()
            .last()
            .is_some_and(|s| matches!(s.status, BatchStatus::Built));
        if behind {
            self.config
                .max_batch_bytes_behind
                .max(self.config.max_batch_bytes)
        } else {
            self.config.max_batch_bytes
        }
    }

    /// Stores the open batch and starts an empty one. Only called with blocks in it. On an
    /// error the blocks stay open, to be sealed by a later tick.
    fn seal(&self, open: &mut OpenBatch, now_ms: u64) -> Result<BatchHeader, BatcherError> {
        let payload = BatchPayload {
            blocks: std::mem::take(&mut open.blocks),
        };
        match self.store(&payload, open.last.as_deref(), now_ms) {
            Ok(header) => {
                open.size = 0;
                Ok(header)
            }
            Err(e) => {
                open.blocks = payload.blocks;
                Err(e)
            }
        }
    }

    /// Compresses, attests and stores `payload` as the next batch; `last` is its last block.
    fn store(
        &self,
        payload: &BatchPayload,
        last: Option<&ordo_primitives::BlockRecord>,
        now_ms: u64,
    ) -> Result<BatchHeader, BatcherError> {
        // Only `tick` (serialised by `building`) adds batches, so the index holds until the
        // record is written below.
        let index = self.summaries.read().last().map_or(0, |s| s.index + 1);
        let _span = tracing::info_span!("batch", index).entered();
        let last = last.ok_or(BatcherError::MissingBlock(0))?;
        let first_block = payload
            .blocks
            .first()
            .map(|b| b.number)
            .ok_or(BatcherError::MissingBlock(0))?;
        let tx_count = payload.blocks.iter().map(|b| b.txs.len() as u64).sum();
        let raw = payload.encode();
        let (codec_id, codec_hash, data) = match self.plugins.codec() {
            Some(codec) => match compress_checked(codec.as_ref(), &raw) {
                Ok(data) => (codec.codec_id(), codec.code_hash(), data),
                Err(why) => {
                    warn!(target: "ordo::batcher", index, %why, "compression failed; batch stored uncompressed");
                    (CODEC_NONE, B256::ZERO, raw.clone())
                }
            },
            None => (CODEC_NONE, B256::ZERO, raw.clone()),
        };
        // From the stored block and state history: the batch's blocks are stored before
        // they are batched.
        let output_root = self
            .storage
            .output(last.number())?
            .ok_or(BatcherError::MissingBlock(last.number()))?
            .root;
        let header = BatchHeader {
            index,
            first_block,
            last_block: last.number(),
            last_block_hash: last.hash,
            state_root: last.header.state_root,
            output_root,
            codec_id,
            codec_hash,
        };
        let (attestation, prover_hash) = match self.plugins.prover() {
            Some(prover) => match prover.on_batch(&header, &data) {
                Ok(att) => (Bytes::from(att), prover.code_hash()),
                Err(why) => {
                    warn!(target: "ordo::batcher", index, %why, "prover hook failed; batch stored without attestation");
                    (Bytes::new(), B256::ZERO)
                }
            },
            None => (Bytes::new(), B256::ZERO),
        };
        let record = BatchRecord {
            frame: BatchFrame {
                header,
                data: Bytes::from(data),
            },
            raw_size: raw.len() as u64,
            tx_count,
            attestation,
            prover_hash,
            built_at_ms: now_ms,
            status: BatchStatus::Built,
        };
        {
            let _write = self.write.lock();
            self.put_record(index, &record.encode())?;
            self.upsert_summary(BatchSummary {
                index,
                first_block: header.first_block,
                last_block: header.last_block,
                status: BatchStatus::Built,
                posted_bytes: record.frame.data.len() as u64,
            });
        }
        info!(target: "ordo::batcher", index, first = header.first_block, last = header.last_block, txs = tx_count, raw = raw.len(), posted = record.frame.data.len(), codec = codec_id, "batch built");
        let posted = record.frame.data.len() as f64;
        metrics::counter!("ordo_batches_built_total").increment(1);
        metrics::histogram!("ordo_batch_raw_bytes").record(raw.len() as f64);
        metrics::histogram!("ordo_batch_posted_bytes").record(posted);
        metrics::histogram!("ordo_batch_txs").record(tx_count as f64);
        if !raw.is_empty() {
            metrics::gauge!("ordo_batch_compression_ratio").set(posted / raw.len() as f64);
        }
        Ok(header)
    }

    /// Writes batch `index`'s record (fsynced), after the replica group committed it if
    /// there is one; the one place batch records are written.
    fn put_record(&self, index: u64, record: &[u8]) -> Result<(), BatcherError> {
        #[cfg(test)]
        if self
            .fail_writes
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |n| n.checked_sub(1),
            )
            .is_ok()
        {
            return Err(BatcherError::Storage(StorageError::Engine(
                fjall::Error::Io(std::io::Error::other("injected write failure")),
            )));
        }
        let replicator = self.replicator.read().clone();
        match replicator {
            // Committed and applied ([`Batcher::adopt`] wrote it) when this returns.
            Some(replicator) => replicator
                .replicate(index, Bytes::copy_from_slice(record))
                .map_err(|why| BatcherError::NotReplicated { index, why }),
            None => Ok(self.storage.put_batch(index, record)?),
        }
    }

    /// Builds batches every `interval` until `shutdown`, following `head()`.
    pub async fn run(
        self: Arc<Self>,
        head: impl Fn() -> u64 + Send + 'static,
        interval: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(interval) => {}
            }
            let (this, head) = (self.clone(), head());
            match tokio::task::spawn_blocking(move || this.tick(head, now_ms())).await {
                Ok(Ok(built)) => {
                    if !built.is_empty() {
                        debug!(target: "ordo::batcher", count = built.len(), "batches built");
                    }
                }
                Ok(Err(e)) => tracing::error!(target: "ordo::batcher", %e, "batching failed"),
                Err(e) => tracing::error!(target: "ordo::batcher", %e, "batcher task panicked"),
            }
        }
    }
}

/// Compresses and checks the round trip: a codec whose output does not decompress to the
/// input must never reach L1.
fn compress_checked(codec: &dyn BatchCodec, raw: &[u8]) -> Result<Vec<u8>, HookError> {
    let data = codec.compress(raw)?;
    let back = codec.decompress(&data)?;
    if back != raw {
        return Err(HookError(format!(
            "codec {} round trip differs ({} bytes back for {})",
            codec.codec_id(),
            back.len(),
            raw.len()
        )));
    }
    Ok(data)
}

#[cfg(test)]
mod tests;
