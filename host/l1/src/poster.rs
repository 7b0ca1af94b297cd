//! The poster loop: one `tick` per poll interval first checks the confirmed batches that are
//! not final yet (finalized, or reorged away), then walks the oldest unconfirmed batches in
//! order and does, for each, the one thing it needs next (post, wait, confirm, replace,
//! re-post).

use std::{
    collections::{BTreeMap, HashMap},
    future::Future,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy::{
    consensus::{
        SignableTransaction, TxEip1559, TxEip4844, TxEip4844Variant, TxEip4844WithSidecar,
        TxEnvelope,
    },
    eips::{
        BlockNumberOrTag,
        eip2718::Encodable2718,
        eip4844::{
            Blob, DATA_GAS_PER_BLOB, FIELD_ELEMENTS_PER_BLOB,
            builder::{SidecarBuilder, SidecarCoder, SimpleCoder},
        },
        eip7594::BlobTransactionSidecarVariant,
    },
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, TxKind, U256},
    providers::{Provider, RootProvider},
    rpc::types::TransactionRequest,
    signers::SignerSync,
    transports::TransportError,
};
use tracing::{debug, error, info, warn};

use crate::{
    config::{DaMode, L1Config},
    queue::{
        BatchQueue, Confirmation, ConfirmedBatch, PendingBatch, QueuedBatch, RecordError,
        Submission,
    },
    status::StatusHandle,
};

const TARGET: &str = "ordo::l1";
/// One RPC call may not hang the loop (a half-dead L1 endpoint): it counts as an error instead.
const RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// Backoff cap while L1 is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// Estimates are exact for calldata to an EOA, but an inbox contract may branch on state.
const GAS_MARGIN_PERCENT: u64 = 10;
/// Blobs per transaction the L1 accepts (EIP-7594 caps a transaction at 6); a batch that needs
/// more goes as calldata.
const MAX_BLOBS_PER_TX: usize = 6;
/// geth's and reth's blob pools replace a blob tx only if every fee at least doubles.
const BLOB_BUMP_PERCENT: u64 = 100;
/// The replacement rule for other transactions.
const MIN_BUMP_PERCENT: u64 = 10;
/// Confirmed batches at or below L1's finalized block checked (and finalized) per tick: a
/// backlog (an L1 that finalized nothing for a while) is worked off over a few ticks.
const MAX_FINALIZED_PER_TICK: usize = 256;
/// Heights above L1's finalized block checked for reorgs per tick, newest first (reorgs hit
/// the newest blocks; older ones are checked again before they are finalized).
const MAX_WATCHED_HEIGHTS: usize = 64;

#[derive(Debug, thiserror::Error)]
enum TickError {
    #[error("L1 rpc: {0}")]
    Rpc(#[from] TransportError),
    #[error("L1 rpc timed out after {0:?}")]
    Timeout(Duration),
    #[error("signing: {0}")]
    Sign(#[from] alloy::signers::Error),
    #[error("invalid rpc url {0:?}")]
    Url(String),
    #[error("building the blob sidecar: {0}")]
    Kzg(String),
    #[error("batch {index}: {source}")]
    Record { index: u64, source: RecordError },
    #[error("blocking task failed: {0}")]
    Blocking(String),
}

/// Runs blocking work (storage, fsyncs, KZG) on tokio's blocking pool, so the runtime's
/// workers (RPC, block production) never wait on it.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TickError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| TickError::Blocking(e.to_string()))
}

/// Runs an RPC future under [`RPC_TIMEOUT`].
/// The wait after `failures` failed ticks in a row: the poll interval doubled per failure,
/// at most `cap` (never below the poll interval). The poster's and the proposer's.
pub(crate) fn backoff(poll: Duration, failures: u32, cap: Duration) -> Duration {
    poll.saturating_mul(1 << failures.min(6)).min(cap).max(poll)
}

async fn rpc<T>(
    fut: impl std::future::IntoFuture<Output = Result<T, TransportError>>,
) -> Result<T, TickError> {
    match tokio::time::timeout(RPC_TIMEOUT, fut.into_future()).await {
        Ok(r) => r.map_err(TickError::Rpc),
        Err(_) => Err(TickError::Timeout(RPC_TIMEOUT)),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn bump(fee: u128, percent: u64) -> u128 {
    // Rounded up: a replacement exactly at +10% passes, one wei under does not.
    // Saturating the product would shrink the result; saturate the answer instead.
    fee.checked_mul(100 + percent as u128)
        .map_or(u128::MAX, |v| v.div_ceil(100))
}

/// What the node said when it refused a transaction, by the messages geth, reth and anvil use.
fn rpc_message(e: &TickError) -> String {
    match e {
        TickError::Rpc(e) => e
            .as_error_resp()
            .map(|p| p.message.to_string())
            .unwrap_or_else(|| e.to_string())
            .to_lowercase(),
        other => other.to_string().to_lowercase(),
    }
}

/// Blobs needed to carry `data` with [`SimpleCoder`].
fn blobs_needed(data: &[u8]) -> usize {
    SimpleCoder::default()
        .required_fe(data)
        .div_ceil(FIELD_ELEMENTS_PER_BLOB as usize)
}

/// Execution gas of a calldata transaction carrying `data` to an EOA inbox: the larger of the
/// standard token cost and the EIP-7623 floor.
fn calldata_gas(data: &[u8]) -> u64 {
    let zeros = data.iter().filter(|b| **b == 0).count() as u64;
    let nonzero = data.len() as u64 - zeros;
    let tokens = zeros + 4 * nonzero;
    21_000 + (4 * tokens).max(10 * tokens)
}

/// Whether `data` costs less as blobs than as calldata at these prices: execution gas at
/// `gas_price` (base fee plus tip) for both, plus blob gas at `blob_base_fee` for blobs.
fn blobs_cheaper(data: &[u8], gas_price: u128, blob_base_fee: u128) -> bool {
    let calldata = u128::from(calldata_gas(data)).saturating_mul(gas_price);
    let blob_gas = (blobs_needed(data) as u128) * u128::from(DATA_GAS_PER_BLOB);
    let blob = 21_000u128
        .saturating_mul(gas_price)
        .saturating_add(blob_gas.saturating_mul(blob_base_fee.max(1)));
    blob < calldata
}

/// The bytes a batch transaction's blobs carry, in order ([`SimpleCoder`] in reverse).
/// None: the blobs do not hold data in that packing.
pub fn decode_blobs(blobs: &[Blob]) -> Option<Vec<u8>> {
    let pieces = SimpleCoder::default().decode_all(blobs)?;
    Some(pieces.concat())
}

/// Fees of one transaction: EIP-1559 fee cap and tip, and the blob fee cap for a blob tx.
#[derive(Clone, Copy, Debug)]
struct Fees {
    max_fee: u128,
    tip: u128,
    blob_fee: Option<u128>,
}

/// The L1 batch poster. Build with [`L1Poster::new`], drive with [`L1Poster::run`].
pub struct L1Poster {
    config: L1Config,
    queue: Arc<dyn BatchQueue>,
    status: StatusHandle,
    provider: Option<RootProvider>,
    chain_id: Option<u64>,
    /// Next nonce to use for a fresh post; None: ask the L1 (startup, after any error).
    nonce: Option<u64>,
    /// Blob sidecars by (batch index, cell proofs?): KZG proofs take a while, and a replaced or
    /// re-posted blob tx must carry the same blobs.
    sidecars: HashMap<(u64, bool), Arc<BlobTransactionSidecarVariant>>,
    /// Whether the L1 wants EIP-7594 cell proofs (Osaka and later) rather than EIP-4844 blob
    /// proofs; learned from its answer to the first blob tx.
    cell_proofs: bool,
    /// The L1 refused the `finalized` block tag once (said in the log once, not every tick).
    no_finality_warned: bool,
}

impl std::fmt::Debug for L1Poster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1Poster")
            .field("rpc_url", &crate::redact_url(&self.config.rpc_url))
            .field("sender", &self.config.signer.address())
            .field("inbox", &self.config.inbox)
            .field("da", &self.config.da)
            .field("status", &self.status.get())
            .finish()
    }
}

impl L1Poster {
    pub fn new(mut config: L1Config, queue: Arc<dyn BatchQueue>) -> Self {
        config.fee_bump_percent = config.fee_bump_percent.max(MIN_BUMP_PERCENT);
        config.confirmations = config.confirmations.max(1);
        config.max_in_flight = config.max_in_flight.max(1);
        Self {
            config,
            queue,
            status: StatusHandle::default(),
            provider: None,
            chain_id: None,
            nonce: None,
            sidecars: HashMap::new(),
            cell_proofs: true,
            no_finality_warned: false,
        }
    }

    pub fn status(&self) -> crate::PosterStatus {
        self.status.get()
    }

    /// A handle that keeps reporting after `run` has taken the poster.
    pub fn status_handle(&self) -> StatusHandle {
        self.status.clone()
    }

    /// Posts until `shutdown` resolves. Errors never end the loop: they are logged, kept in the
    /// status, and retried with exponential backoff.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        info!(target: TARGET, sender = %self.config.signer.address(), inbox = %self.config.inbox, da = %self.config.da, max_in_flight = self.config.max_in_flight, "l1 poster started");
        let mut failures: u32 = 0;
        loop {
            let wait = tokio::select! {
                _ = &mut shutdown => break,
                r = self.tick() => match r {
                    Ok(()) => {
                        failures = 0;
                        self.status.update(|s| { s.last_error = None; s.ticks += 1; });
                        self.config.poll_interval
                    }
                    Err(e) => {
                        failures = failures.saturating_add(1);
                        // The cached nonce may be what went wrong; the L1 knows better.
                        self.nonce = None;
                        let msg = crate::scrub_url(&e.to_string(), &self.config.rpc_url);
                        warn!(target: TARGET, error = %msg, failures, "l1 poster tick failed");
                        self.status.update(|s| { s.last_error = Some(msg); s.ticks += 1; });
                        backoff(self.config.poll_interval, failures, MAX_BACKOFF)
                    }
                },
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        info!(target: TARGET, "l1 poster stopped");
    }

    fn provider(&mut self) -> Result<RootProvider, TickError> {
        if let Some(p) = &self.provider {
            return Ok(p.clone());
        }
        let url = self
            .config
            .rpc_url
            .parse()
            .map_err(|_| TickError::Url(crate::redact_url(&self.config.rpc_url)))?;
        let p = RootProvider::new_http(url);
        self.provider = Some(p.clone());
        Ok(p)
    }

    async fn tick(&mut self) -> Result<(), TickError> {
        let provider = self.provider()?;
        let head = rpc(provider.get_block_number()).await?;
        self.status.update(|s| s.l1_head = Some(head));
        if self.chain_id.is_none() {
            self.chain_id = Some(rpc(provider.get_chain_id()).await?);
        }
        // Before the unconfirmed ones: a batch a reorg sent back is handled in this tick.
        self.watch_confirmed(&provider).await?;
        let limit = self.config.max_in_flight;
        let queue = self.queue.clone();
        let batches = blocking(move || queue.unconfirmed(limit)).await?;
        if let Some(first) = batches.first() {
            self.sidecars.retain(|(i, _), _| *i >= first.index);
        } else {
            self.sidecars.clear();
        }
        // The mined nonce is read before any receipt: if it is past a submission's and none of
        // that batch's receipts exist afterwards, the nonce went to another transaction (not
        // a race with our own tx being mined between the two reads).
        let mined_nonce = if batches.iter().any(|b| b.submission.is_some()) {
            Some(
                rpc(provider
                    .get_transaction_count(self.config.signer.address())
                    .latest())
                .await?,
            )
        } else {
            None
        };
        let mut in_flight = Vec::new();
        // The kind (blobs?) of the submissions out and not yet mined: a fresh post must match.
        let mut unmined_kind: Option<bool> = None;
        for batch in batches {
            let QueuedBatch {
                index,
                bytes,
                submission,
            } = batch;
            match submission {
                Some(sub) => {
                    let mined_nonce = mined_nonce.unwrap_or(0);
                    let p = self
                        .check(&provider, head, mined_nonce, index, &bytes, sub)
                        .await?;
                    if let Some(p) = p {
                        if p.mined_in.is_none() {
                            unmined_kind = Some(p.blobs);
                        }
                        in_flight.push(p);
                    }
                }
                None => {
                    let blobs = self.choose_blobs(&provider, &bytes).await?;
                    if unmined_kind.is_some_and(|k| k != blobs) {
                        // geth and reth refuse a blob tx from a sender with other txs pending
                        // (and the reverse); wait until those are mined.
                        debug!(target: TARGET, index, blobs, "waiting for the other kind of pending batch tx to be mined");
                        break;
                    }
                    let nonce = self.fresh_nonce(&provider).await?;
                    let hash = self
                        .post(&provider, index, &bytes, nonce, None, blobs, None)
                        .await?;
                    self.status.update(|s| {
                        s.posted += 1;
                        s.posted_blobs += u64::from(blobs);
                    });
                    unmined_kind = Some(blobs);
                    in_flight.push(PendingBatch {
                        index,
                        tx_hash: hash,
                        nonce,
                        mined_in: None,
                        blobs,
                    });
                }
            }
        }
        self.status.update(|s| s.in_flight = in_flight);
        Ok(())
    }

    /// Moves one submitted batch along. Returns it as still in flight, or None once confirmed.
    async fn check(
        &mut self,
        provider: &RootProvider,
        head: u64,
        mined_nonce: u64,
        index: u64,
        bytes: &Bytes,
        sub: Submission,
    ) -> Result<Option<PendingBatch>, TickError> {
        let blobs = sub.max_fee_per_blob_gas.is_some();
        // Mined in a canonical block (the latest submission, or one it replaced)?
        for (i, hash) in std::iter::once(sub.tx_hash)
            .chain(sub.replaced.iter().rev().copied())
            .enumerate()
        {
            if let Some((block, block_hash)) = self.canonical_receipt(provider, hash).await? {
                if i > 0 {
                    // An earlier submission won the race; track that one from now on.
                    info!(target: TARGET, index, tx = %hash, "an earlier submission of the batch was mined");
                    let mut winner = sub.clone();
                    winner.tx_hash = hash;
                    winner.replaced.retain(|h| *h != hash);
                    winner.replaced.push(sub.tx_hash);
                    // The record names the fees of the tx that won, not of its replacement.
                    if let Some(tx) = rpc(provider.get_transaction_by_hash(hash)).await? {
                        use alloy::consensus::Transaction;
                        winner.max_fee_per_gas = tx.max_fee_per_gas();
                        winner.max_priority_fee_per_gas =
                            tx.max_priority_fee_per_gas().unwrap_or(0);
                        winner.max_fee_per_blob_gas = tx.max_fee_per_blob_gas();
                    }
                    self.record_submitted(index, winner.clone()).await?;
                    return self
                        .await_confirmations(
                            index,
                            &winner,
                            bytes.len(),
                            blobs,
                            head,
                            block,
                            block_hash,
                        )
                        .await;
                }
                return self
                    .await_confirmations(index, &sub, bytes.len(), blobs, head, block, block_hash)
                    .await;
            }
        }

        let pending = |tx_hash, nonce| PendingBatch {
            index,
            tx_hash,
            nonce,
            mined_in: None,
            blobs,
        };
        if mined_nonce > sub.nonce {
            // Our nonce went to a transaction that is not ours for this batch (another sender
            // of the same key): the batch is not on L1, post it again under a fresh nonce.
            warn!(target: TARGET, index, nonce = sub.nonce, tx = %sub.tx_hash, "batch nonce consumed by another transaction, re-posting");
            self.nonce = Some(mined_nonce.max(self.nonce.unwrap_or(0)));
            let nonce = self.fresh_nonce(provider).await?;
            let hash = self
                .post(provider, index, bytes, nonce, None, blobs, Some(&sub))
                .await?;
            self.status.update(|s| s.reposted += 1);
            return Ok(Some(pending(hash, nonce)));
        }

        let known = rpc(provider.get_transaction_by_hash(sub.tx_hash))
            .await?
            .is_some();
        let overdue = now_ms().saturating_sub(sub.submitted_at_ms)
            >= self.config.resubmit_after.as_millis() as u64;
        let fees = if overdue {
            let Some(fees) = self.bumped_fees(provider, &sub, known).await? else {
                // A replacement below the pool's minimum bump would be refused; waiting is all
                // that is left.
                warn!(target: TARGET, index, cap = self.config.max_fee_per_gas_cap, "fee cap reached, cannot replace pending batch tx");
                return Ok(Some(pending(sub.tx_hash, sub.nonce)));
            };
            info!(target: TARGET, index, nonce = sub.nonce, max_fee = fees.max_fee, tip = fees.tip, blob_fee = ?fees.blob_fee, "batch tx not mined in time, replacing with bumped fees");
            fees
        } else if !known {
            // Reorged out, or the node restarted / evicted it: the nonce is still ours, so the
            // same transaction (same nonce and fees) goes out again.
            info!(target: TARGET, index, nonce = sub.nonce, tx = %sub.tx_hash, "batch tx unknown to L1 node, re-posting with the same nonce");
            Fees {
                max_fee: sub.max_fee_per_gas,
                tip: sub.max_priority_fee_per_gas,
                blob_fee: sub.max_fee_per_blob_gas,
            }
        } else {
            debug!(target: TARGET, index, tx = %sub.tx_hash, "batch tx pending");
            return Ok(Some(pending(sub.tx_hash, sub.nonce)));
        };
        let hash = self
            .post(
                provider,
                index,
                bytes,
                sub.nonce,
                Some(fees),
                blobs,
                Some(&sub),
            )
            .await?;
        self.status.update(|s| {
            if overdue {
                s.bumped += 1;
            } else {
                s.reposted += 1;
            }
        });
        Ok(Some(pending(hash, sub.nonce)))
    }

    /// Fees for replacing `sub`: the current L1 fees, but at least the pool's bump over what
    /// `sub` offered, all capped. None: the caps leave no valid replacement of a tx the node
    /// still holds.
    async fn bumped_fees(
        &self,
        provider: &RootProvider,
        sub: &Submission,
        known: bool,
    ) -> Result<Option<Fees>, TickError> {
        let blobs = sub.max_fee_per_blob_gas.is_some();
        let now = self.fees(provider, blobs).await?;
        let (pct, min_pct) = if blobs {
            let p = self.config.fee_bump_percent.max(BLOB_BUMP_PERCENT);
            (p, BLOB_BUMP_PERCENT)
        } else {
            (self.config.fee_bump_percent, MIN_BUMP_PERCENT)
        };
        let max_fee = bump(sub.max_fee_per_gas, pct)
            .max(now.max_fee)
            .min(self.config.max_fee_per_gas_cap);
        let tip = bump(sub.max_priority_fee_per_gas, pct)
            .max(now.tip)
            .min(max_fee);
        let blob_fee = sub.max_fee_per_blob_gas.map(|old| {
            bump(old, pct)
                .max(now.blob_fee.unwrap_or(0))
                .min(self.config.max_fee_per_blob_gas_cap)
        });
        let short = max_fee < bump(sub.max_fee_per_gas, min_pct)
            || tip < bump(sub.max_priority_fee_per_gas, min_pct)
            || matches!((blob_fee, sub.max_fee_per_blob_gas), (Some(new), Some(old)) if new < bump(old, min_pct));
        if known && short {
            return Ok(None);
        }
        Ok(Some(Fees {
            max_fee,
            tip,
            blob_fee,
        }))
    }

    /// Receipt block (number, hash) if the tx is mined in a block that is still canonical.
    async fn canonical_receipt(
        &self,
        provider: &RootProvider,
        tx: B256,
    ) -> Result<Option<(u64, B256)>, TickError> {
        let Some(receipt) = rpc(provider.get_transaction_receipt(tx)).await? else {
            return Ok(None);
        };
        let (Some(number), Some(hash)) = (receipt.block_number, receipt.block_hash) else {
            return Ok(None);
        };
        let block = rpc(provider.get_block_by_number(BlockNumberOrTag::Number(number))).await?;
        match block {
            Some(b) if b.header.hash == hash => {
                if !receipt.status() {
                    // The bytes are on L1 either way; the inbox contract (if any) rejecting
                    // them is for the verifier to judge.
                    warn!(target: TARGET, %tx, "batch tx reverted in the inbox");
                }
                Ok(Some((number, hash)))
            }
            _ => {
                warn!(target: TARGET, %tx, number, "batch tx receipt block no longer canonical (reorg)");
                Ok(None)
            }
        }
    }

    /// Records `sub` for batch `index` (write-ahead, fsynced) off the runtime. An error means
    /// nothing durable names `sub`: the caller must not broadcast it.
    async fn record_submitted(&self, index: u64, sub: Submission) -> Result<(), TickError> {
        let queue = self.queue.clone();
        let tx_hash = sub.tx_hash;
        blocking(move || queue.submitted(index, sub))
            .await?
            .map_err(|source| {
                error!(target: TARGET, index, tx = %tx_hash, error = %source, "cannot record the batch tx; not broadcasting it, retrying later");
                TickError::Record { index, source }
            })
    }

    /// Records a confirmation (or finality) off the runtime.
    async fn record_confirmed(&self, index: u64, c: Confirmation) -> Result<(), TickError> {
        let queue = self.queue.clone();
        blocking(move || queue.confirmed(index, c))
            .await?
            .map_err(|source| {
                error!(target: TARGET, index, error = %source, "cannot record the batch's L1 progress, retrying later");
                TickError::Record { index, source }
            })
    }

    /// `sub` (carrying a frame of `frame_bytes`) is mined in `block`: confirmed once deep
    /// enough, else still in flight.
    #[allow(clippy::too_many_arguments)]
    async fn await_confirmations(
        &mut self,
        index: u64,
        sub: &Submission,
        frame_bytes: usize,
        blobs: bool,
        head: u64,
        block: u64,
        block_hash: B256,
    ) -> Result<Option<PendingBatch>, TickError> {
        let (tx_hash, nonce) = (sub.tx_hash, sub.nonce);
        let depth = head.saturating_sub(block) + 1;
        if head >= block && depth >= self.config.confirmations {
            let confirmation = Confirmation {
                tx_hash,
                l1_block: block,
                l1_block_hash: block_hash,
                blobs,
                finalized: false,
                submission: sub.clone(),
            };
            self.record_confirmed(index, confirmation).await?;
            info!(target: TARGET, index, tx = %tx_hash, block, "batch confirmed on L1");
            // What the bench reports as posted bytes/s.
            metrics::counter!("ordo_l1_confirmed_bytes_total").increment(frame_bytes as u64);
            // The nonce after this one is ours for the next batch.
            if self.nonce.is_none_or(|n| n <= nonce) {
                self.nonce = Some(nonce + 1);
            }
            self.status.update(|s| {
                s.confirmed += 1;
                s.unfinalized += 1;
            });
            Ok(None)
        } else {
            Ok(Some(PendingBatch {
                index,
                tx_hash,
                nonce,
                mined_in: Some(block),
                blobs,
            }))
        }
    }

    /// L1's finalized block number; None when the L1 has no `finalized` tag (nothing is final
    /// then) or the call fails (asked again next tick).
    async fn finalized_block(&mut self, provider: &RootProvider) -> Option<u64> {
        match rpc(provider.get_block_by_number(BlockNumberOrTag::Finalized)).await {
            Ok(block) => block.map(|b| b.header.number),
            Err(e) => {
                if !self.no_finality_warned {
                    self.no_finality_warned = true;
                    let e = crate::scrub_url(&e.to_string(), &self.config.rpc_url);
                    warn!(target: TARGET, error = %e, "L1 did not answer the finalized block tag; confirmed batches are watched until it does");
                }
                None
            }
        }
    }

    /// Moves confirmed batches along: finalized once L1's finalized block reaches theirs with
    /// the recorded hash still canonical; sent back to `submitted` (the mined tx, to be found
    /// again or re-sent under its nonce) when a reorg deeper than the confirmations dropped
    /// their block.
    async fn watch_confirmed(&mut self, provider: &RootProvider) -> Result<(), TickError> {
        let queue = self.queue.clone();
        let watched = blocking(move || queue.unfinalized()).await?;
        let count = watched.len();
        self.status.update(|s| s.unfinalized = count);
        if watched.is_empty() {
            return Ok(());
        }
        let finalized = self.finalized_block(provider).await;
        self.status.update(|s| s.l1_finalized = finalized);
        let mut heights: BTreeMap<u64, Vec<ConfirmedBatch>> = BTreeMap::new();
        for b in watched {
            heights.entry(b.confirmation.l1_block).or_default().push(b);
        }
        let fin = finalized.unwrap_or(0);
        let final_heights = heights.range(..=fin).map(|(h, _)| *h);
        let mut checked: Vec<u64> = Vec::new();
        let mut batches = 0;
        for h in final_heights {
            if batches >= MAX_FINALIZED_PER_TICK || finalized.is_none() {
                break;
            }
            batches += heights.get(&h).map_or(0, Vec::len);
            checked.push(h);
        }
        checked.extend(
            heights
                .range(fin.saturating_add(1)..)
                .rev()
                .take(MAX_WATCHED_HEIGHTS)
                .map(|(h, _)| *h),
        );
        for h in checked {
            let canonical = rpc(provider.get_block_by_number(BlockNumberOrTag::Number(h)))
                .await?
                .map(|b| b.header.hash);
            let is_final = finalized.is_some_and(|f| h <= f);
            for b in heights.remove(&h).unwrap_or_default() {
                let ConfirmedBatch {
                    index,
                    mut confirmation,
                } = b;
                if canonical == Some(confirmation.l1_block_hash) {
                    if is_final {
                        confirmation.finalized = true;
                        let tx = confirmation.tx_hash;
                        self.record_confirmed(index, confirmation).await?;
                        info!(target: TARGET, index, %tx, block = h, "batch final on L1");
                        self.status.update(|s| {
                            s.finalized += 1;
                            s.unfinalized = s.unfinalized.saturating_sub(1);
                        });
                    }
                    continue;
                }
                warn!(target: TARGET, index, tx = %confirmation.tx_hash, block = h, recorded = %confirmation.l1_block_hash, now = ?canonical, "confirmed batch's L1 block reorged away; sending it again");
                let mut sub = confirmation.submission;
                // A fresh resubmission clock: the tx may be back in the L1 pool, pending.
                sub.submitted_at_ms = now_ms();
                self.record_submitted(index, sub).await?;
                self.status.update(|s| {
                    s.reorged += 1;
                    s.unfinalized = s.unfinalized.saturating_sub(1);
                });
            }
        }
        Ok(())
    }

    async fn fresh_nonce(&mut self, provider: &RootProvider) -> Result<u64, TickError> {
        let pending = rpc(provider
            .get_transaction_count(self.config.signer.address())
            .pending())
        .await?;
        // The cache only ever moves the nonce forward (the node's pending view may lag ours).
        let n = pending.max(self.nonce.unwrap_or(0));
        self.nonce = Some(n);
        Ok(n)
    }

    /// Current L1 fees: twice the latest base fee plus the node's suggested tip, and for blobs
    /// twice the blob base fee; capped.
    async fn fees(&self, provider: &RootProvider, blobs: bool) -> Result<Fees, TickError> {
        let tip = rpc(provider.get_max_priority_fee_per_gas()).await?;
        let base = self.base_fee(provider).await?;
        let cap = self.config.max_fee_per_gas_cap;
        let max_fee = base.saturating_mul(2).saturating_add(tip).min(cap);
        let blob_fee = if blobs {
            let blob_base = rpc(provider.get_blob_base_fee()).await?;
            Some(
                blob_base
                    .saturating_mul(2)
                    .max(1)
                    .min(self.config.max_fee_per_blob_gas_cap),
            )
        } else {
            None
        };
        Ok(Fees {
            max_fee,
            tip: tip.min(max_fee),
            blob_fee,
        })
    }

    async fn base_fee(&self, provider: &RootProvider) -> Result<u128, TickError> {
        Ok(rpc(provider.get_block_by_number(BlockNumberOrTag::Latest))
            .await?
            .and_then(|b| b.header.base_fee_per_gas)
            .unwrap_or(0) as u128)
    }

    /// Blobs or calldata for a batch posted now.
    async fn choose_blobs(
        &self,
        provider: &RootProvider,
        bytes: &Bytes,
    ) -> Result<bool, TickError> {
        let fits = blobs_needed(bytes) <= MAX_BLOBS_PER_TX;
        match self.config.da {
            DaMode::Calldata => Ok(false),
            DaMode::Blobs if fits => Ok(true),
            DaMode::Blobs => {
                warn!(target: TARGET, bytes = bytes.len(), "batch does not fit in {MAX_BLOBS_PER_TX} blobs, posting it as calldata");
                Ok(false)
            }
            DaMode::Auto if !fits => Ok(false),
            DaMode::Auto => {
                let gas_price = self
                    .base_fee(provider)
                    .await?
                    .saturating_add(rpc(provider.get_max_priority_fee_per_gas()).await?);
                let blob_base_fee = rpc(provider.get_blob_base_fee()).await?;
                Ok(blobs_cheaper(bytes, gas_price, blob_base_fee))
            }
        }
    }

    /// The batch's blob sidecar in the format the L1 wants, built once, off the runtime.
    async fn sidecar(
        &mut self,
        index: u64,
        bytes: &Bytes,
    ) -> Result<Arc<BlobTransactionSidecarVariant>, TickError> {
        let key = (index, self.cell_proofs);
        if let Some(s) = self.sidecars.get(&key) {
            return Ok(s.clone());
        }
        let (data, cell_proofs) = (bytes.clone(), self.cell_proofs);
        let sidecar = Arc::new(blocking(move || build_sidecar(&data, cell_proofs)).await??);
        self.sidecars.insert(key, sidecar.clone());
        Ok(sidecar)
    }

    /// Signs the batch tx (calldata, or blobs with their sidecar) and its network encoding.
    fn sign(
        &self,
        bytes: &Bytes,
        blob: Option<(u128, &BlobTransactionSidecarVariant)>,
        nonce: u64,
        gas_limit: u64,
        fees: Fees,
    ) -> Result<(B256, Vec<u8>), TickError> {
        let chain_id = self.chain_id.unwrap_or(1);
        let envelope = match blob {
            None => {
                let tx = TxEip1559 {
                    chain_id,
                    nonce,
                    gas_limit,
                    max_fee_per_gas: fees.max_fee,
                    max_priority_fee_per_gas: fees.tip,
                    to: TxKind::Call(self.config.inbox),
                    value: U256::ZERO,
                    access_list: Default::default(),
                    input: bytes.clone(),
                };
                let signature = self.config.signer.sign_hash_sync(&tx.signature_hash())?;
                TxEnvelope::from(tx.into_signed(signature))
            }
            Some((blob_fee, sidecar)) => {
                let tx = TxEip4844 {
                    chain_id,
                    nonce,
                    gas_limit,
                    max_fee_per_gas: fees.max_fee,
                    max_priority_fee_per_gas: fees.tip,
                    to: self.config.inbox,
                    value: U256::ZERO,
                    access_list: Default::default(),
                    blob_versioned_hashes: sidecar.versioned_hashes().collect(),
                    max_fee_per_blob_gas: blob_fee,
                    input: Bytes::new(),
                };
                let signature = self.config.signer.sign_hash_sync(&tx.signature_hash())?;
                let with_sidecar = TxEip4844WithSidecar::from_tx_and_sidecar(tx, sidecar.clone());
                let variant = TxEip4844Variant::TxEip4844WithSidecar(with_sidecar);
                TxEnvelope::from(variant.into_signed(signature))
            }
        };
        Ok((*envelope.tx_hash(), envelope.encoded_2718()))
    }

    /// Signs the batch tx, records it (write-ahead), then broadcasts it. `fees` None: from the
    /// L1. `prev`: the recorded submission this one replaces or re-sends; if the signed tx
    /// comes out identical (signatures are deterministic) the record and its resubmission
    /// clock stay, else `prev` joins the replaced list.
    #[allow(clippy::too_many_arguments)]
    async fn post(
        &mut self,
        provider: &RootProvider,
        index: u64,
        bytes: &Bytes,
        nonce: u64,
        fees: Option<Fees>,
        blobs: bool,
        prev: Option<&Submission>,
    ) -> Result<B256, TickError> {
        let fees = match fees {
            Some(f) => f,
            None => self.fees(provider, blobs).await?,
        };
        let sender: Address = self.config.signer.address();
        let request = TransactionRequest::default()
            .with_from(sender)
            .with_to(self.config.inbox)
            .with_value(U256::ZERO)
            .with_input(if blobs { Bytes::new() } else { bytes.clone() });
        let estimate = rpc(provider.estimate_gas(request)).await?;
        let gas_limit = estimate + estimate * GAS_MARGIN_PERCENT / 100;
        let mut retried_format = false;
        loop {
            let sidecar = match fees.blob_fee {
                Some(_) => Some(self.sidecar(index, bytes).await?),
                None => None,
            };
            let blob = fees.blob_fee.zip(sidecar.as_deref());
            let (tx_hash, raw) = self.sign(bytes, blob, nonce, gas_limit, fees)?;
            match prev {
                Some(p) if p.tx_hash == tx_hash => {}
                _ => {
                    let mut replaced = prev.map(|p| p.replaced.clone()).unwrap_or_default();
                    if let Some(p) = prev {
                        replaced.push(p.tx_hash);
                    }
                    let sub = Submission {
                        tx_hash,
                        nonce,
                        max_fee_per_gas: fees.max_fee,
                        max_priority_fee_per_gas: fees.tip,
                        submitted_at_ms: now_ms(),
                        max_fee_per_blob_gas: fees.blob_fee,
                        replaced,
                    };
                    // Write-ahead: once recorded, a crash or a lost response is resolved by
                    // looking the hash and nonce up on L1, never by posting the batch under
                    // another nonce blindly. Unrecorded, it is not sent at all: a restart
                    // would not know it and post the batch a second time.
                    self.record_submitted(index, sub).await?;
                }
            }
            match rpc(provider.send_raw_transaction(&raw)).await {
                Ok(_) => {
                    info!(target: TARGET, index, %tx_hash, nonce, max_fee = fees.max_fee, tip = fees.tip, blob_fee = ?fees.blob_fee, gas_limit, bytes = bytes.len(), blobs, "batch tx broadcast");
                    if self.nonce.is_none_or(|n| n <= nonce) {
                        self.nonce = Some(nonce + 1);
                    }
                    return Ok(tx_hash);
                }
                Err(e) => {
                    let msg = rpc_message(&e);
                    if msg.contains("already known") || msg.contains("known transaction") {
                        debug!(target: TARGET, %tx_hash, "batch tx already in the node's pool");
                        return Ok(tx_hash);
                    }
                    if blobs && !retried_format && sidecar_format_refused(&msg) {
                        // Before Osaka the L1 wants EIP-4844 blob proofs, from Osaka on
                        // EIP-7594 cell proofs; the refused record is replaced right away.
                        self.cell_proofs = !self.cell_proofs;
                        retried_format = true;
                        warn!(target: TARGET, index, cell_proofs = self.cell_proofs, error = %msg, "L1 refused the blob sidecar format, switching");
                        continue;
                    }
                    if msg.contains("nonce too low") {
                        // Another sender of this key got there first; the next tick sees the
                        // nonce consumed and re-posts under a fresh one.
                        warn!(target: TARGET, index, nonce, "nonce too low, refreshing from L1");
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// Packs `bytes` into blobs with their KZG commitments and proofs (EIP-7594 cell proofs, or
/// EIP-4844 blob proofs): hundreds of milliseconds of CPU per blob.
fn build_sidecar(
    bytes: &[u8],
    cell_proofs: bool,
) -> Result<BlobTransactionSidecarVariant, TickError> {
    #[cfg(test)]
    tests::SIDECAR_THREADS.lock().push((
        bytes.iter().take(16).copied().collect(),
        std::thread::current().id(),
    ));
    let builder = SidecarBuilder::<SimpleCoder>::from_slice(bytes);
    if cell_proofs {
        builder
            .build_7594()
            .map(BlobTransactionSidecarVariant::Eip7594)
    } else {
        builder
            .build_4844()
            .map(BlobTransactionSidecarVariant::Eip4844)
    }
    .map_err(|e| TickError::Kzg(e.to_string()))
}

/// Whether a refusal is about the blob sidecar's version (4844 proofs vs 7594 cell proofs).
fn sidecar_format_refused(msg: &str) -> bool {
    msg.contains("sidecar") || msg.contains("cell proof") || msg.contains("blob version")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where [`build_sidecar`] ran: (first bytes of the batch, thread).
    pub(super) static SIDECAR_THREADS: parking_lot::Mutex<Vec<(Vec<u8>, std::thread::ThreadId)>> =
        parking_lot::Mutex::new(Vec::new());

    struct NoQueue;

    impl BatchQueue for NoQueue {
        fn unconfirmed(&self, _: usize) -> Vec<QueuedBatch> {
            Vec::new()
        }
        fn unfinalized(&self) -> Vec<crate::ConfirmedBatch> {
            Vec::new()
        }
        fn submitted(&self, _: u64, _: Submission) -> Result<(), crate::RecordError> {
            Ok(())
        }
        fn confirmed(&self, _: u64, _: Confirmation) -> Result<(), crate::RecordError> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn blob_sidecars_are_built_off_the_runtime_thread() {
        let signer: alloy::signers::local::PrivateKeySigner =
            "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
                .parse()
                .unwrap();
        let config = L1Config::new("http://127.0.0.1:9", signer, Address::ZERO);
        let mut poster = L1Poster::new(config, Arc::new(NoQueue));
        let bytes = Bytes::from(b"sidecar thread probe ".repeat(200));
        poster.sidecar(3, &bytes).await.unwrap();
        let here = std::thread::current().id();
        let threads: Vec<_> = SIDECAR_THREADS
            .lock()
            .iter()
            .filter(|(prefix, _)| bytes.starts_with(prefix))
            .map(|(_, t)| *t)
            .collect();
        assert!(!threads.is_empty(), "the sidecar was built");
        assert!(
            threads.iter().all(|t| *t != here),
            "KZG proofs computed on the async runtime's thread"
        );
    }

    #[test]
    fn bump_rounds_up_to_at_least_the_percentage() {
        assert_eq!(bump(100, 10), 110);
        assert_eq!(bump(101, 10), 112); // 111.1 rounds up: 111 would be refused as < +10%
        assert_eq!(bump(1, 10), 2);
        assert_eq!(bump(u128::MAX / 2, 10), u128::MAX);
    }

    #[test]
    fn blob_packing_round_trips_and_counts_blobs() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(blobs_needed(&data[..1000]), 1);
        // 4096 field elements of 31 bytes, less the length word: one blob holds 126,945 bytes.
        assert_eq!(blobs_needed(&data[..126_945]), 1);
        assert_eq!(blobs_needed(&data[..126_946]), 2);
        let blobs = SidecarBuilder::<SimpleCoder>::from_slice(&data).take();
        assert_eq!(blobs.len(), 2);
        assert_eq!(decode_blobs(&blobs).unwrap(), data);
    }

    #[test]
    fn auto_mode_weighs_calldata_gas_against_blob_gas() {
        let gwei = 1_000_000_000u128;
        let batch = vec![7u8; 50_000];
        // Blob gas nearly free (a quiet blob market): blobs.
        assert!(blobs_cheaper(&batch, 10 * gwei, 1));
        // 50 KB of calldata is ~2M gas; one blob is 131072 blob gas. At a blob base fee far
        // above the execution gas price, calldata wins.
        assert!(!blobs_cheaper(&batch, gwei, 100 * gwei));
        // A tiny batch does not pay for a whole blob at equal prices.
        assert!(!blobs_cheaper(b"tiny", gwei, gwei));
    }

    #[test]
    fn calldata_gas_uses_the_eip7623_floor() {
        assert_eq!(calldata_gas(&[]), 21_000);
        assert_eq!(calldata_gas(&[1; 100]), 21_000 + 100 * 40);
        assert_eq!(calldata_gas(&[0; 100]), 21_000 + 100 * 10);
    }
}
