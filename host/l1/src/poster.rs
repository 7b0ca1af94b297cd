//! The poster loop: one `tick` per poll interval looks at the oldest unconfirmed batch and does
//! the one thing it needs next (post, wait, confirm, replace, re-post).

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::{BlockNumberOrTag, eip2718::Encodable2718},
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, TxKind, U256},
    providers::{Provider, RootProvider},
    rpc::types::TransactionRequest,
    signers::SignerSync,
    transports::TransportError,
};
use tracing::{debug, info, warn};

use crate::{BatchQueue, Confirmation, L1Config, PendingBatch, StatusHandle, Submission};

const TARGET: &str = "ordo::l1";
/// One RPC call may not hang the loop (a half-dead L1 endpoint): it counts as an error instead.
const RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// Backoff cap while L1 is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// Estimates are exact for calldata to an EOA, but an inbox contract may branch on state.
const GAS_MARGIN_PERCENT: u64 = 10;

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
}

/// Runs an RPC future under [`RPC_TIMEOUT`].
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

/// The L1 batch poster. Build with [`L1Poster::new`], drive with [`L1Poster::run`].
pub struct L1Poster {
    config: L1Config,
    queue: Arc<dyn BatchQueue>,
    status: StatusHandle,
    provider: Option<RootProvider>,
    chain_id: Option<u64>,
    /// Next nonce to use for a fresh post; None: ask the L1 (startup, after any error).
    nonce: Option<u64>,
    /// Earlier submissions of the in-flight batch in this process (replaced by bumps or
    /// re-posts). Any of them may still be the one that gets mined.
    earlier: Vec<(u64, Submission)>,
}

impl std::fmt::Debug for L1Poster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1Poster")
            .field("rpc_url", &self.config.rpc_url)
            .field("sender", &self.config.signer.address())
            .field("inbox", &self.config.inbox)
            .field("status", &self.status.get())
            .finish()
    }
}

impl L1Poster {
    pub fn new(mut config: L1Config, queue: Arc<dyn BatchQueue>) -> Self {
        config.fee_bump_percent = config.fee_bump_percent.max(10);
        config.confirmations = config.confirmations.max(1);
        Self {
            config,
            queue,
            status: StatusHandle::default(),
            provider: None,
            chain_id: None,
            nonce: None,
            earlier: Vec::new(),
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
        info!(target: TARGET, sender = %self.config.signer.address(), inbox = %self.config.inbox, "l1 poster started");
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
                        let msg = e.to_string();
                        warn!(target: TARGET, error = %msg, failures, "l1 poster tick failed");
                        self.status.update(|s| { s.last_error = Some(msg); s.ticks += 1; });
                        let exp = self.config.poll_interval.saturating_mul(1 << failures.min(6));
                        exp.min(MAX_BACKOFF).max(self.config.poll_interval)
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
            .map_err(|_| TickError::Url(self.config.rpc_url.clone()))?;
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
        let Some((index, bytes, recorded)) = self.queue.next_unconfirmed() else {
            self.status.update(|s| s.pending = None);
            return Ok(());
        };
        if self.earlier.first().is_some_and(|(i, _)| *i != index) {
            self.earlier.clear();
        }
        let Some(sub) = recorded else {
            let nonce = self.fresh_nonce(&provider).await?;
            self.post(&provider, index, &bytes, nonce, None, None)
                .await?;
            self.status.update(|s| s.posted += 1);
            return Ok(());
        };

        // The mined nonce is read before the receipts: if it is past ours and none of our
        // receipts exist afterwards, the nonce went to another transaction (not a race with
        // our own tx being mined between the two reads).
        let sender = self.config.signer.address();
        let mined_nonce = rpc(provider.get_transaction_count(sender).latest()).await?;

        // Mined in a canonical block (ours, or an earlier submission of the same batch)?
        let mut candidates = vec![sub.clone()];
        candidates.extend(
            self.earlier
                .iter()
                .filter(|(i, _)| *i == index)
                .map(|(_, s)| s.clone()),
        );
        for cand in &candidates {
            if let Some((block, block_hash)) =
                self.canonical_receipt(&provider, cand.tx_hash).await?
            {
                if cand.tx_hash != sub.tx_hash {
                    // An earlier submission won the race; track that one from now on.
                    info!(target: TARGET, index, tx = %cand.tx_hash, "earlier submission of the batch was mined");
                    self.queue.submitted(index, cand.clone());
                }
                return self.await_confirmations(index, cand, head, block, block_hash);
            }
        }

        self.status.update(|s| {
            s.pending = Some(PendingBatch {
                index,
                tx_hash: sub.tx_hash,
                nonce: sub.nonce,
                mined_in: None,
            })
        });
        if mined_nonce > sub.nonce {
            // Our nonce went to a transaction that is not ours for this batch (another sender
            // of the same key): the batch is not on L1, post it again under a fresh nonce.
            warn!(target: TARGET, index, nonce = sub.nonce, tx = %sub.tx_hash, "batch nonce consumed by another transaction, re-posting");
            self.remember(index, &sub);
            self.nonce = Some(mined_nonce.max(self.nonce.unwrap_or(0)));
            let nonce = self.fresh_nonce(&provider).await?;
            self.post(&provider, index, &bytes, nonce, None, None)
                .await?;
            self.status.update(|s| s.reposted += 1);
            return Ok(());
        }

        let known = rpc(provider.get_transaction_by_hash(sub.tx_hash))
            .await?
            .is_some();
        let overdue = now_ms().saturating_sub(sub.submitted_at_ms)
            >= self.config.resubmit_after.as_millis() as u64;
        if overdue {
            let fees = self.fees(&provider).await?;
            let cap = self.config.max_fee_per_gas_cap;
            let pct = self.config.fee_bump_percent;
            let max_fee = bump(sub.max_fee_per_gas, pct).max(fees.0).min(cap);
            let tip = bump(sub.max_priority_fee_per_gas, pct)
                .max(fees.1)
                .min(max_fee);
            if known
                && (max_fee < bump(sub.max_fee_per_gas, 10)
                    || tip < bump(sub.max_priority_fee_per_gas, 10))
            {
                // A replacement below +10% would be refused; waiting is all that is left.
                warn!(target: TARGET, index, max_fee, cap, "fee cap reached, cannot replace pending batch tx");
                return Ok(());
            }
            info!(target: TARGET, index, nonce = sub.nonce, max_fee, tip, "batch tx not mined in time, replacing with bumped fees");
            self.remember(index, &sub);
            self.post(
                &provider,
                index,
                &bytes,
                sub.nonce,
                Some((max_fee, tip)),
                None,
            )
            .await?;
            self.status.update(|s| s.bumped += 1);
        } else if !known {
            // Reorged out, or the node restarted / evicted it: the nonce is still ours, so the
            // same transaction (same nonce and fees) goes out again.
            info!(target: TARGET, index, nonce = sub.nonce, tx = %sub.tx_hash, "batch tx unknown to L1 node, re-posting with the same nonce");
            let fees = (sub.max_fee_per_gas, sub.max_priority_fee_per_gas);
            let tx_hash = self
                .post(&provider, index, &bytes, sub.nonce, Some(fees), Some(&sub))
                .await?;
            if tx_hash != sub.tx_hash {
                // Re-estimated gas changed the tx; the old one may still surface somewhere.
                self.remember(index, &sub);
            }
            self.status.update(|s| s.reposted += 1);
        } else {
            debug!(target: TARGET, index, tx = %sub.tx_hash, "batch tx pending");
        }
        Ok(())
    }

    /// Keeps a replaced submission of the in-flight batch in mind (once per hash).
    fn remember(&mut self, index: u64, sub: &Submission) {
        if !self.earlier.iter().any(|(_, s)| s.tx_hash == sub.tx_hash) {
            self.earlier.push((index, sub.clone()));
        }
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
                    // The bytes are in L1 calldata either way; the inbox contract (if any)
                    // rejecting them is for the verifier to judge.
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

    fn await_confirmations(
        &mut self,
        index: u64,
        sub: &Submission,
        head: u64,
        block: u64,
        block_hash: B256,
    ) -> Result<(), TickError> {
        let depth = head.saturating_sub(block) + 1;
        if head >= block && depth >= self.config.confirmations {
            info!(target: TARGET, index, tx = %sub.tx_hash, block, "batch confirmed on L1");
            self.queue.confirmed(
                index,
                Confirmation {
                    tx_hash: sub.tx_hash,
                    l1_block: block,
                    l1_block_hash: block_hash,
                },
            );
            self.earlier.clear();
            // The nonce after this one is ours for the next batch.
            if self.nonce.is_none_or(|n| n <= sub.nonce) {
                self.nonce = Some(sub.nonce + 1);
            }
            self.status.update(|s| {
                s.confirmed += 1;
                s.pending = None;
            });
        } else {
            self.status.update(|s| {
                s.pending = Some(PendingBatch {
                    index,
                    tx_hash: sub.tx_hash,
                    nonce: sub.nonce,
                    mined_in: Some(block),
                })
            });
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

    /// (max_fee_per_gas, max_priority_fee_per_gas) from the L1: twice the latest base fee plus
    /// the node's suggested tip, capped.
    async fn fees(&self, provider: &RootProvider) -> Result<(u128, u128), TickError> {
        let tip = rpc(provider.get_max_priority_fee_per_gas()).await?;
        let base = rpc(provider.get_block_by_number(BlockNumberOrTag::Latest))
            .await?
            .and_then(|b| b.header.base_fee_per_gas)
            .unwrap_or(0) as u128;
        let cap = self.config.max_fee_per_gas_cap;
        let max_fee = base.saturating_mul(2).saturating_add(tip).min(cap);
        Ok((max_fee, tip.min(max_fee)))
    }

    /// Signs the batch tx, records it (write-ahead), then broadcasts it. `fees` None: from the
    /// L1. `resend`: the recorded submission being sent again; if the signed tx comes out
    /// identical (signatures are deterministic) the record and its resubmission clock stay.
    async fn post(
        &mut self,
        provider: &RootProvider,
        index: u64,
        bytes: &Bytes,
        nonce: u64,
        fees: Option<(u128, u128)>,
        resend: Option<&Submission>,
    ) -> Result<B256, TickError> {
        let (max_fee, tip) = match fees {
            Some(f) => f,
            None => self.fees(provider).await?,
        };
        let sender: Address = self.config.signer.address();
        let request = TransactionRequest::default()
            .with_from(sender)
            .with_to(self.config.inbox)
            .with_value(U256::ZERO)
            .with_input(bytes.clone());
        let estimate = rpc(provider.estimate_gas(request)).await?;
        let gas_limit = estimate + estimate * GAS_MARGIN_PERCENT / 100;
        let tx = TxEip1559 {
            chain_id: self.chain_id.unwrap_or(1),
            nonce,
            gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(self.config.inbox),
            value: U256::ZERO,
            access_list: Default::default(),
            input: bytes.clone(),
        };
        let signature = self.config.signer.sign_hash_sync(&tx.signature_hash())?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        let tx_hash = *envelope.tx_hash();
        match resend {
            Some(prev) if prev.tx_hash == tx_hash => {}
            _ => {
                let sub = Submission {
                    tx_hash,
                    nonce,
                    max_fee_per_gas: max_fee,
                    max_priority_fee_per_gas: tip,
                    submitted_at_ms: now_ms(),
                };
                // Write-ahead: once recorded, a crash or a lost response is resolved by looking
                // the hash and nonce up on L1, never by posting the batch under another nonce
                // blindly.
                self.queue.submitted(index, sub);
            }
        }
        self.status.update(|s| {
            s.pending = Some(PendingBatch {
                index,
                tx_hash,
                nonce,
                mined_in: None,
            })
        });
        let raw = envelope.encoded_2718();
        match rpc(provider.send_raw_transaction(&raw)).await {
            Ok(_) => {
                info!(target: TARGET, index, %tx_hash, nonce, max_fee, tip, gas_limit, bytes = bytes.len(), "batch tx broadcast");
                if self.nonce.is_none_or(|n| n <= nonce) {
                    self.nonce = Some(nonce + 1);
                }
                Ok(tx_hash)
            }
            Err(e) => {
                let msg = rpc_message(&e);
                if msg.contains("already known") || msg.contains("known transaction") {
                    debug!(target: TARGET, %tx_hash, "batch tx already in the node's pool");
                    return Ok(tx_hash);
                }
                if msg.contains("nonce too low") {
                    // Another sender of this key got there first; the next tick sees the nonce
                    // consumed and re-posts under a fresh one.
                    warn!(target: TARGET, index, nonce, "nonce too low, refreshing from L1");
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bump;

    #[test]
    fn bump_rounds_up_to_at_least_the_percentage() {
        assert_eq!(bump(100, 10), 110);
        assert_eq!(bump(101, 10), 112); // 111.1 rounds up: 111 would be refused as < +10%
        assert_eq!(bump(1, 10), 2);
        assert_eq!(bump(u128::MAX / 2, 10), u128::MAX);
    }
}
