//! Blocks, transactions and receipts; `eth_sendRawTransaction` (halt check, signature recovery
//! on the decoding threads, the pool's validation and group commit; on a follower, the
//! decoded transaction and its sender handed to the leader, which admits them).

use alloy_consensus::transaction::Recovered;
use alloy_primitives::{B256, Bytes};
use ordo_primitives::alloy_eips::BlockId;
use ordo_rpc::{BackendError, BackendResult, EthBlocks, SendTxFuture};

use crate::{
    NodeApi,
    convert::rpc_receipt,
    errors::{pool_err, storage_err},
};

impl EthBlocks for NodeApi {
    fn chain_id(&self) -> u64 {
        self.exec.chain_id()
    }

    fn head_number(&self) -> u64 {
        self.head().number()
    }

    fn tag_number(&self, tag: ordo_primitives::alloy_eips::BlockNumberOrTag) -> u64 {
        self.resolve_tag(tag, self.head().number())
    }

    fn block(&self, id: BlockId, full_txs: bool) -> BackendResult<Option<ordo_rpc::RpcBlock>> {
        match self.block_record(id)? {
            Some(b) => Ok(Some(self.full_block(&b, full_txs)?)),
            None => Ok(None),
        }
    }

    fn block_receipts(&self, id: BlockId) -> BackendResult<Option<Vec<ordo_rpc::RpcReceipt>>> {
        match self.block_record(id)? {
            Some(b) => Ok(Some(self.rpc_receipts(&b)?)),
            None => Ok(None),
        }
    }

    fn block_tx_count(&self, id: BlockId) -> BackendResult<Option<u64>> {
        Ok(self.block_record(id)?.map(|b| b.transactions.len() as u64))
    }

    fn transaction_by_hash(&self, hash: B256) -> BackendResult<Option<ordo_rpc::RpcTransaction>> {
        if let Some(loc) = self.storage.tx_location(&hash).map_err(storage_err)?
            && let Some(block) = self.block_record(BlockId::number(loc.block))?
        {
            return self.rpc_tx(&block, loc.index as usize);
        }
        if let Some(p) = self.pool.get(&hash) {
            return pooled_rpc_tx(&p).map(Some);
        }
        if let Some((tip, index)) = self.in_flight(&hash) {
            return Ok(self
                .rpc_tx(&tip, index)?
                .map(|tx| pending_tx(tx.inner.inner)));
        }
        // Its block may have become the head while this looked elsewhere.
        match self.storage.tx_location(&hash).map_err(storage_err)? {
            Some(loc) => match self.block_record(BlockId::number(loc.block))? {
                Some(block) => self.rpc_tx(&block, loc.index as usize),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }

    fn transaction_by_block_and_index(
        &self,
        id: BlockId,
        index: u64,
    ) -> BackendResult<Option<ordo_rpc::RpcTransaction>> {
        match self.block_record(id)? {
            Some(b) => self.rpc_tx(&b, index as usize),
            None => Ok(None),
        }
    }

    fn receipt(&self, hash: B256) -> BackendResult<Option<ordo_rpc::RpcReceipt>> {
        let Some(loc) = self.storage.tx_location(&hash).map_err(storage_err)? else {
            return Ok(None);
        };
        let Some(block) = self.block_record(BlockId::number(loc.block))? else {
            return Ok(None);
        };
        let receipts = self
            .storage
            .receipts(loc.block)
            .map_err(storage_err)?
            .unwrap_or_default();
        match receipts.get(loc.index as usize) {
            Some(r) => Ok(Some(rpc_receipt(
                &block,
                loc.index as usize,
                r,
                self.blob_gas_price(&block),
            )?)),
            None => Ok(None),
        }
    }

    fn send_raw_transaction(&self, raw: Bytes) -> SendTxFuture<'_> {
        Box::pin(async move {
            // Before the recovery it would waste. A halt goes through the group's log, so a
            // follower refuses as its leader does.
            self.refuse_if_halted()?;
            let following = self.cluster.get().filter(|replica| !replica.is_leader());
            // A blob transaction in its network form (an imported chain's) goes to the
            // leader as the call it came as: its sidecar is checked where it is pooled.
            if following.is_some() && raw.first() == Some(&3) {
                return self.forward_call(following, raw).await;
            }
            let tx = self.decode_tx(raw.clone()).await?;
            // A follower recovers the sender (most of what accepting a transaction costs)
            // and hands both to the leader, whose pool decides.
            if let Some(replica) = following {
                match replica.forward_tx(raw.clone(), tx.sender).await {
                    ordo_replica::Forwarded::Answer(Ok(hash)) if hash != tx.hash => {
                        tracing::error!(target: "ordo::rpc", %hash, sent = %tx.hash, "the leader answered another transaction's hash");
                        return Err(BackendError::tx(
                            "the leader's answer does not match the transaction; retry",
                        ));
                    }
                    ordo_replica::Forwarded::Answer(answer) => {
                        return answer.map_err(|(code, message)| BackendError::new(code, message));
                    }
                    ordo_replica::Forwarded::Unsupported => {
                        return self.forward_call(following, raw).await;
                    }
                    // Leads since: admitted here, as on any leader.
                    ordo_replica::Forwarded::Leading => {}
                }
            }
            self.admit(tx).await
        })
    }
}

impl NodeApi {
    /// On a follower: `eth_sendRawTransaction(raw)` asked of the leader's public JSON-RPC,
    /// and its answer.
    async fn forward_call(
        &self,
        following: Option<&ordo_replica::Replica>,
        raw: Bytes,
    ) -> BackendResult<B256> {
        let forwarded = self
            .forwarder
            .forward_if_following(
                following,
                "eth_sendRawTransaction",
                serde_json::json!([raw]),
            )
            .await;
        match forwarded {
            Some(answer) => serde_json::from_value(answer?).map_err(|e| {
                BackendError::internal(format!("the leader's answer is not a hash: {e}"))
            }),
            // Leads since: the call is this replica's to answer.
            None => {
                let tx = self.decode_tx(raw).await?;
                self.admit(tx).await
            }
        }
    }

    /// Decodes a submitted transaction and recovers its sender, on the decoding threads
    /// (signature recovery is the CPU-heavy step). Blob transactions exist on an Ethereum
    /// chain from Cancun (an imported one), not on the L2, which refuses them as OP Stack
    /// chains do.
    async fn decode_tx(&self, raw: Bytes) -> BackendResult<ordo_primitives::PooledTx> {
        let rules = self.exec.rules();
        let head = self.head();
        let h = &head.header;
        let blobs = (!rules.op_fees && rules.blob_params_at(h.timestamp).is_some())
            .then(|| rules.blob_sidecar_version_at(h.number, h.timestamp));
        let decoded = crate::decoders::decode(move || {
            let started = std::time::Instant::now();
            let decoded = if let Some(version) = blobs {
                ordo_primitives::decode_raw_tx_with_blobs(&raw, Some(version))
            } else {
                ordo_primitives::decode_raw_tx(&raw)
            };
            metrics::histogram!("ordo_tx_recover_seconds").record(started.elapsed().as_secs_f64());
            decoded
        })
        .await
        .map_err(|_| BackendError::internal("decoder task failed"))?;
        decoded.map_err(|e| {
            ingress_refused("decode");
            BackendError::tx(e.to_string())
        })
    }

    /// Admits a decoded transaction to the pool (this node leads, or is alone): its hash
    /// once it is durable (in a group: once the group committed it), or why not. The halt
    /// is checked here too: a forwarded transaction, or one whose replica has come to lead
    /// while it waited, may meet a halt made since.
    pub(crate) async fn admit(&self, tx: ordo_primitives::PooledTx) -> BackendResult<B256> {
        self.refuse_if_halted()?;
        let span = tracing::debug_span!("tx", hash = %tx.hash, sender = %tx.sender);
        let sender = tx.sender;
        if !self.per_sender.check(&tx.sender) {
            ingress_refused("rate_limited");
            return Err(BackendError::limit_exceeded("rate limit exceeded"));
        }
        match tracing::Instrument::instrument(self.pool.submit(tx), span).await {
            Ok(hash) => {
                metrics::counter!("ordo_tx_ingress_total", "result" => "accepted", "reason" => "")
                    .increment(1);
                Ok(hash)
            }
            Err(e) => {
                // Only accepted transactions count against the sender: anyone can replay a
                // sender's old transactions, which the pool refuses.
                self.per_sender.refund(&sender);
                ingress_refused(e.label());
                Err(pool_err(e))
            }
        }
    }

    /// What a leader does with the transactions a follower decoded and recovered: each
    /// one's hash or error, as `eth_sendRawTransaction` would answer it here.
    pub(crate) async fn submit_forwarded(
        &self,
        txs: Vec<(Bytes, alloy_primitives::Address)>,
    ) -> Vec<BackendResult<B256>> {
        let count = txs.len();
        // No recovery, but a decode and a hash each: off the reactor, as one job.
        let decoded = crate::decoders::decode(move || {
            txs.iter()
                .map(|(raw, sender)| ordo_primitives::decode_with_sender(raw, *sender))
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(decoded) = decoded else {
            return vec![Err(BackendError::internal("decoder task failed")); count];
        };
        futures::future::join_all(decoded.into_iter().map(|tx| async move {
            let tx = tx.map_err(|e| {
                ingress_refused("decode");
                BackendError::tx(e.to_string())
            })?;
            self.admit(tx).await
        }))
        .await
    }
}

/// Counts a refused submission by why.
fn ingress_refused(reason: &'static str) {
    metrics::counter!("ordo_tx_ingress_total", "result" => "rejected", "reason" => reason)
        .increment(1);
}

/// A transaction not (yet) in a stored block.
/// A pooled transaction as the RPC shows one not yet in a block.
pub(crate) fn pooled_rpc_tx(
    p: &ordo_primitives::PooledTx,
) -> BackendResult<ordo_rpc::RpcTransaction> {
    Ok(pending_tx(Recovered::new_unchecked(
        ordo_primitives::OrdoTxEnvelope::from(p.tx.clone()),
        p.sender,
    )))
}

fn pending_tx(inner: Recovered<ordo_primitives::OrdoTxEnvelope>) -> ordo_rpc::RpcTransaction {
    ordo_rpc::RpcTransaction {
        inner: alloy_rpc_types_eth::Transaction {
            inner,
            block_hash: None,
            block_number: None,
            transaction_index: None,
            effective_gas_price: None,
            block_timestamp: None,
        },
        deposit_nonce: None,
        deposit_receipt_version: None,
    }
}
