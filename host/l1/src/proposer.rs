//! The output proposer: posts the output root of every batch's last block to the output
//! oracle on L1, with the prover hook's attestation of it, once the batch is confirmed there
//! (the data an output commits to is on L1 before the output is).
//!
//! ```text
//! tick: oracle.latestBlockNumber() = L (what L1 already holds)
//!   proposer's pending nonce > mined nonce ──▶ a proposal is in flight (sent before a
//!       restart, say): wait for it to land or drop, never send a second one beside it
//!   OutputQueue::next_after(L) ──▶ none (nothing confirmed above L, or not the leader): wait
//!       ──▶ proposeL2OutputAttested(root, block, L1 block of the batch (if still within
//!           BLOCKHASH's reach: the proposal fails if a reorg dropped it), prover code hash,
//!           attestation) ──▶ receipt ──▶ next
//! ```
//!
//! The oracle is the only record of what was proposed: it takes strictly increasing block
//! numbers, so a restarted proposer (or a new leader) resumes right after L1's latest output
//! and cannot post one twice or leave a gap in the indices.

use std::{sync::Arc, time::Duration};

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use tracing::{info, warn};

use crate::oracle::L2OutputOracle;

const TARGET: &str = "ordo::l1";

/// Longest wait for one L1 answer or one proposal's receipt.
const RPC_TIMEOUT: Duration = Duration::from_secs(60);

/// Proposals in one tick at most (catching up after a pause without starving shutdown).
const MAX_PER_TICK: usize = 16;

/// `BLOCKHASH` sees the last 256 L1 blocks; a batch's L1 block older than this (with a margin
/// for the blocks mined while the proposal waits) is not named in it.
const BLOCKHASH_REACH: u64 = 240;

/// One output to propose: a batch confirmed on L1, its last block's output root and the
/// prover's attestation of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOutput {
    /// The batch.
    pub batch: u64,
    /// Its last L2 block, the output's block.
    pub l2_block: u64,
    /// That block's output root.
    pub output_root: B256,
    /// The prover plugin's code hash (zero: no prover ran).
    pub prover_hash: B256,
    /// The prover's attestation (empty: none).
    pub attestation: Bytes,
    /// The L1 block (number, hash) the batch landed in.
    pub l1_block: (u64, B256),
}

/// What the proposer needs from the node: the batches confirmed on L1, by last block.
pub trait OutputQueue: Send + Sync {
    /// The first batch confirmed on L1 whose last block is above `after`; `None` when there
    /// is none yet, or when this node does not propose (a replica that does not lead).
    fn next_after(&self, after: u64) -> Option<PendingOutput>;
}

/// How the proposer reaches L1.
#[derive(Clone, Debug)]
pub struct ProposerConfig {
    /// HTTP JSON-RPC endpoint of an L1 node.
    pub rpc_url: String,
    /// The output oracle.
    pub oracle: Address,
    /// The proposer key (the oracle's `PROPOSER`).
    pub signer: PrivateKeySigner,
    /// Time between looks at L1 and at the batches.
    pub poll_interval: Duration,
    /// A proposal unmined this long is replaced at its nonce with higher fees.
    pub resubmit_after: Duration,
}

/// Posts outputs until stopped ([`Proposer::run`]).
pub struct Proposer {
    config: ProposerConfig,
    queue: Arc<dyn OutputQueue>,
    /// The nonce of the proposal seen unmined, since when, and how often it was replaced.
    in_flight: Option<(u64, std::time::Instant, u32)>,
    /// The oracle's `PROPOSER`, once it matched this key.
    checked: bool,
}

impl std::fmt::Debug for Proposer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proposer")
            .field("oracle", &self.config.oracle)
            .field("proposer", &self.config.signer.address())
            .finish_non_exhaustive()
    }
}

/// Why a tick stopped early.
#[derive(Debug, thiserror::Error)]
enum TickError {
    #[error("invalid L1 rpc url {0:?}")]
    Url(String),
    #[error("L1 rpc: {0}")]
    Rpc(String),
    #[error("no answer from L1 within {0:?}")]
    Timeout(Duration),
    #[error("the proposal of block {block} ({tx}) reverted on L1")]
    Reverted { block: u64, tx: B256 },
    #[error(
        "the oracle's proposer is {oracle}, not this node's proposer key {ours}: it would refuse every output"
    )]
    NotProposer { oracle: Address, ours: Address },
}

async fn rpc<T, E: std::fmt::Display>(
    fut: impl std::future::IntoFuture<Output = Result<T, E>>,
) -> Result<T, TickError> {
    match tokio::time::timeout(RPC_TIMEOUT, fut.into_future()).await {
        Ok(r) => r.map_err(|e| TickError::Rpc(e.to_string())),
        Err(_) => Err(TickError::Timeout(RPC_TIMEOUT)),
    }
}

impl Proposer {
    /// A proposer of `queue`'s outputs.
    pub fn new(config: ProposerConfig, queue: Arc<dyn OutputQueue>) -> Self {
        Self {
            config,
            queue,
            in_flight: None,
            checked: false,
        }
    }

    /// Proposes until `shutdown` resolves. Errors are logged and retried with backoff.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        info!(target: TARGET, oracle = %self.config.oracle, proposer = %self.config.signer.address(), "output proposer started");
        let poll = self.config.poll_interval;
        let mut failures: u32 = 0;
        loop {
            let wait = tokio::select! {
                _ = &mut shutdown => break,
                r = self.tick() => match r {
                    Ok(()) => {
                        failures = 0;
                        poll
                    }
                    Err(e) => {
                        failures = failures.saturating_add(1);
                        let msg = crate::scrub_url(&e.to_string(), &self.config.rpc_url);
                        warn!(target: TARGET, error = %msg, failures, "output proposer tick failed");
                        metrics::counter!("ordo_output_proposal_errors_total").increment(1);
                        crate::poster::backoff(poll, failures, Duration::from_secs(30))
                    }
                },
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        info!(target: TARGET, "output proposer stopped");
    }

    async fn tick(&mut self) -> Result<(), TickError> {
        let url = self
            .config
            .rpc_url
            .parse()
            .map_err(|_| TickError::Url(crate::redact_url(&self.config.rpc_url)))?;
        let me = self.config.signer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(self.config.signer.clone()))
            .connect_http(url);
        let oracle = L2OutputOracle::new(self.config.oracle, &provider);
        if !self.checked {
            let named = rpc(oracle.PROPOSER().call()).await?;
            if named != me {
                return Err(TickError::NotProposer {
                    oracle: named,
                    ours: me,
                });
            }
            self.checked = true;
        }
        for _ in 0..MAX_PER_TICK {
            let pending = rpc(provider.get_transaction_count(me).pending()).await?;
            let mined = rpc(provider.get_transaction_count(me)).await?;
            // Fee multiplier for a replacement (0: a fresh proposal at the pending nonce).
            let mut replacing = 0;
            if pending > mined {
                // Ours, sent before a restart or still unmined: it lands or drops first,
                // unless it waited so long that its fees are the likely reason.
                let (since, replaced) = match self.in_flight {
                    Some((nonce, since, replaced)) if nonce == mined => (since, replaced),
                    _ => {
                        self.in_flight = Some((mined, std::time::Instant::now(), 0));
                        (std::time::Instant::now(), 0)
                    }
                };
                metrics::gauge!("ordo_output_proposal_waiting_seconds")
                    .set(since.elapsed().as_secs_f64());
                if since.elapsed() < self.config.resubmit_after {
                    return Ok(());
                }
                warn!(target: TARGET, nonce = mined, waited = ?since.elapsed(), "an output proposal is still unmined: replacing it with higher fees");
                replacing = replaced + 1;
            } else {
                self.in_flight = None;
                metrics::gauge!("ordo_output_proposal_waiting_seconds").set(0.0);
            }
            let latest: U256 = rpc(oracle.latestBlockNumber().call()).await?;
            let after = u64::try_from(latest).unwrap_or(u64::MAX);
            metrics::gauge!("ordo_output_latest_l2_block").set(after as f64);
            let queue = self.queue.clone();
            let next = tokio::task::spawn_blocking(move || queue.next_after(after))
                .await
                .map_err(|e| TickError::Rpc(format!("the batch read panicked: {e}")))?;
            let Some(next) = next else {
                return Ok(());
            };
            let head = rpc(provider.get_block_number()).await?;
            let (l1_number, l1_hash) = next.l1_block;
            let (l1_hash, l1_number) = if head.saturating_sub(l1_number) < BLOCKHASH_REACH {
                (l1_hash, U256::from(l1_number))
            } else {
                (B256::ZERO, U256::ZERO)
            };
            let mut call = oracle.proposeL2OutputAttested(
                next.output_root,
                U256::from(next.l2_block),
                l1_hash,
                l1_number,
                next.prover_hash,
                next.attestation.clone(),
            );
            if replacing > 0 {
                // Same nonce, every fee doubled per replacement over today's estimate: above
                // the 10% (and, after a fee drop, the old fees) a pool wants to replace it.
                let fees = rpc(provider.estimate_eip1559_fees()).await?;
                let factor = 2u128.saturating_pow(replacing.min(16));
                call = call
                    .nonce(mined)
                    .max_fee_per_gas(fees.max_fee_per_gas.saturating_mul(factor))
                    .max_priority_fee_per_gas(
                        fees.max_priority_fee_per_gas.max(1).saturating_mul(factor),
                    );
                self.in_flight = Some((mined, std::time::Instant::now(), replacing));
            }
            let sent = rpc(call.send()).await?;
            let tx = *sent.tx_hash();
            let receipt = rpc(sent.with_timeout(Some(RPC_TIMEOUT)).get_receipt()).await?;
            if !receipt.status() {
                return Err(TickError::Reverted {
                    block: next.l2_block,
                    tx,
                });
            }
            metrics::counter!("ordo_outputs_proposed_total").increment(1);
            metrics::gauge!("ordo_output_latest_l2_block").set(next.l2_block as f64);
            info!(target: TARGET, batch = next.batch, l2_block = next.l2_block, output_root = %next.output_root, %tx, "output proposed");
        }
        Ok(())
    }
}
