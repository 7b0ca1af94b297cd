//! Method dispatch: method name → parameter parsing → backend or namespace call → raw JSON
//! result.
//!
//! Every eth method parses its positional parameters with [`Params`] (geth's error wording),
//! applies geth's defaults (block tag `latest`, `fullTx` false), calls the backend (heavy calls
//! on the read pool) and serializes the result once into a [`RawValue`]. Any other method goes
//! to the first [`Namespace`] that serves it, on the blocking pool or the read pool as its
//! [`Cost`] says.

use std::sync::Arc;

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U64, U256, keccak256};
use alloy_rpc_types_eth::{
    BlockOverrides, Filter, Index, TransactionRequest, state::StateOverride,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::{
    BackendError, Caller, Cost, EthBackend, Namespace, Params,
    clients::check_filter,
    namespace::json as to_raw,
    server::{MethodResult, RequestContext, Server},
};

/// The most blocks one `eth_feeHistory` call covers (geth's limit); larger counts are clamped.
pub const MAX_FEE_HISTORY_BLOCKS: u64 = 1024;
/// Most storage keys one `eth_getProof` proves.
pub const MAX_PROOF_KEYS: usize = 1024;
/// The most reward percentiles one `eth_feeHistory` call may ask for (geth's maxQueryLimit):
/// the answer holds one row of that many per block.
pub const MAX_FEE_HISTORY_PERCENTILES: usize = 100;

fn quantity(value: u64) -> MethodResult {
    to_raw(&U64::from(value))
}

/// A block count given as a JSON number, a hex quantity or a decimal string (geth's
/// `math.HexOrDecimal64`).
struct HexOrDecimal(u64);

impl<'de> Deserialize<'de> for HexOrDecimal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Number(u64),
            Text(String),
        }
        match Repr::deserialize(deserializer)? {
            Repr::Number(n) => Ok(Self(n)),
            Repr::Text(text) => {
                let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => text.parse(),
                };
                parsed.map(Self).map_err(|_| {
                    serde::de::Error::custom(format!("invalid hex or decimal integer {text:?}"))
                })
            }
        }
    }
}

/// How long `eth_sendRawTransactionSync` waits for the receipt unless asked otherwise (the
/// EIP's recommended 2 s), and the most it waits (geth's 1 minute), in milliseconds.
pub const SEND_SYNC_DEFAULT_MS: u64 = 2_000;
pub const SEND_SYNC_MAX_MS: u64 = 60_000;
/// EIP-7966's error code for a transaction pooled but not in a block within the timeout.
pub const SEND_SYNC_TIMEOUT_CODE: i32 = 4;

/// EIP-7966: sends `raw` as `eth_sendRawTransaction` does, then answers its receipt once a
/// sealed and stored block holds it; past the timeout (`timeout_ms`, a number or a hex
/// quantity as geth took it before 1.17; 0 or none: the default; at most the maximum) the
/// EIP's error, code 4 with the transaction's hash as data: it stays in the pool,
/// acknowledged. A transaction the pool refuses gets `eth_sendRawTransaction`'s error.
async fn send_sync(
    b: &Arc<dyn EthBackend>,
    raw: Bytes,
    timeout_ms: Option<u64>,
) -> Result<crate::RpcReceipt, BackendError> {
    let ms = timeout_ms
        .filter(|ms| *ms > 0)
        .unwrap_or(SEND_SYNC_DEFAULT_MS)
        .min(SEND_SYNC_MAX_MS);
    let timeout = std::time::Duration::from_millis(ms);
    let deadline = tokio::time::Instant::now() + timeout;
    // Subscribed before sending: the block that includes it cannot pass unseen.
    let mut blocks = b.subscribe();
    let hash = b.send_raw_transaction(raw).await?;
    let timed_out = || {
        BackendError::new(
            SEND_SYNC_TIMEOUT_CODE,
            "The transaction was added to the mempool but wasn't processed within the \
             designated timeout interval.",
        )
        .with_data(serde_json::json!(hash))
    };
    loop {
        if let Some(receipt) = b.receipt(hash)? {
            return Ok(receipt);
        }
        // Only a new block can hold it: other events (pending transactions) wait on.
        loop {
            match tokio::time::timeout_at(deadline, blocks.recv()).await {
                Ok(Ok(crate::ChainEvent::NewBlock { .. })) => break,
                Ok(Ok(_)) => {}
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => break,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) | Err(_) => {
                    return b.receipt(hash)?.ok_or_else(timed_out);
                }
            }
        }
    }
}

fn block_or_latest(params: &Params<'_>, index: usize) -> Result<BlockId, BackendError> {
    Ok(params
        .optional::<BlockId>(index)?
        .unwrap_or(BlockId::latest()))
}

impl Server {
    /// Runs one method. Internal errors are logged here and reach the client only as
    /// "internal error".
    pub(crate) async fn dispatch(
        &self,
        method: &str,
        params: Params<'_>,
        ctx: RequestContext<'_>,
    ) -> MethodResult {
        match self.call(method, params, ctx).await {
            Err(err) if err.is_internal() => {
                tracing::warn!(target: "ordo::rpc", method, error = %err.message, "internal error");
                Err(BackendError::internal("internal error"))
            }
            Err(err) => {
                tracing::trace!(target: "ordo::rpc", method, code = err.code, error = %err.message, "call failed");
                Err(err)
            }
            ok => ok,
        }
    }

    async fn call(&self, method: &str, p: Params<'_>, ctx: RequestContext<'_>) -> MethodResult {
        if let Some((namespace, cost)) = self
            .namespaces
            .iter()
            .find_map(|n| n.cost(method).map(|cost| (n, cost)))
        {
            return self.namespaced(namespace, cost, method, &p, ctx).await;
        }
        if p.is_object() {
            return Err(BackendError::invalid_params("non-array args"));
        }
        match &self.backend {
            Some(backend) => self.eth(backend, method, p, ctx).await,
            None => Err(BackendError::method_not_found(method)),
        }
    }

    /// Runs a namespace's method off the reactor, with its own copy of the parameters.
    async fn namespaced(
        &self,
        namespace: &Arc<dyn Namespace>,
        cost: Cost,
        method: &str,
        p: &Params<'_>,
        ctx: RequestContext<'_>,
    ) -> MethodResult {
        let namespace = Arc::clone(namespace);
        let name = method.to_string();
        let params = p.to_owned();
        let caller = Caller {
            searcher: ctx.searcher,
            client: ctx.client,
        };
        let run = move || namespace.call(&name, &params.params(), caller);
        match cost {
            Cost::Heavy => self.read(ctx, run).await,
            Cost::Quick => tokio::task::spawn_blocking(run)
                .await
                .map_err(|err| BackendError::internal(format!("blocking task failed: {err}")))?,
        }
    }

    /// Runs an expensive eth read on the read pool, charged to the caller.
    async fn read_eth<T, F>(
        &self,
        backend: &Arc<dyn EthBackend>,
        ctx: RequestContext<'_>,
        f: F,
    ) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn EthBackend) -> Result<T, BackendError> + Send + 'static,
    {
        let backend = Arc::clone(backend);
        self.read(ctx, move || f(&*backend)).await
    }

    /// The eth, net and web3 namespaces.
    async fn eth(
        &self,
        b: &Arc<dyn EthBackend>,
        method: &str,
        p: Params<'_>,
        ctx: RequestContext<'_>,
    ) -> MethodResult {
        match method {
            // The hot path first.
            "eth_sendRawTransaction" => {
                p.at_most(1)?;
                let raw: Bytes = p.required(0)?;
                to_raw(&b.send_raw_transaction(raw).await?)
            }
            "eth_sendRawTransactionSync" => {
                p.at_most(2)?;
                let raw: Bytes = p.required(0)?;
                let timeout = p.optional::<HexOrDecimal>(1)?.map(|t| t.0);
                to_raw(&send_sync(b, raw, timeout).await?)
            }
            "eth_getTransactionReceipt" => {
                p.at_most(1)?;
                to_raw(&b.receipt(p.required::<B256>(0)?)?)
            }
            "eth_getTransactionCount" => {
                p.at_most(2)?;
                let address: Address = p.required(0)?;
                quantity(b.transaction_count(address, block_or_latest(&p, 1)?)?)
            }
            "eth_blockNumber" => quantity(b.head_number()),
            "eth_chainId" => quantity(b.chain_id()),
            "eth_getBalance" => {
                p.at_most(2)?;
                let address: Address = p.required(0)?;
                to_raw(&b.balance(address, block_or_latest(&p, 1)?)?)
            }
            "eth_getCode" => {
                p.at_most(2)?;
                let address: Address = p.required(0)?;
                to_raw(&b.code(address, block_or_latest(&p, 1)?)?)
            }
            "eth_getStorageAt" => {
                p.at_most(3)?;
                let address: Address = p.required(0)?;
                let slot = storage_key(&p, 1)?;
                to_raw(&b.storage_at(address, slot, block_or_latest(&p, 2)?)?)
            }
            "eth_getProof" => {
                p.at_most(3)?;
                let address: Address = p.required(0)?;
                let keys: Vec<alloy_serde::JsonStorageKey> = p.required(1)?;
                if keys.len() > MAX_PROOF_KEYS {
                    return Err(BackendError::invalid_params(format!(
                        "too many storage keys: {} (at most {MAX_PROOF_KEYS})",
                        keys.len()
                    )));
                }
                let at = block_or_latest(&p, 2)?;
                to_raw(
                    &self
                        .read_eth(b, ctx, move |b| b.proof(address, keys, at))
                        .await?,
                )
            }
            "eth_call" | "eth_estimateGas" => {
                p.at_most(4)?;
                let request: TransactionRequest = p.required(0)?;
                let at = block_or_latest(&p, 1)?;
                let state: Option<StateOverride> = p.optional(2)?;
                let block: Option<BlockOverrides> = p.optional(3)?;
                if method == "eth_call" {
                    to_raw(
                        &self
                            .read_eth(b, ctx, move |b| b.call(request, at, state, block))
                            .await?,
                    )
                } else {
                    let gas = self
                        .read_eth(b, ctx, move |b| b.estimate_gas(request, at, state, block))
                        .await?;
                    quantity(gas)
                }
            }
            "eth_createAccessList" => {
                p.at_most(2)?;
                let request: TransactionRequest = p.required(0)?;
                let at = block_or_latest(&p, 1)?;
                to_raw(
                    &self
                        .read_eth(b, ctx, move |b| b.create_access_list(request, at))
                        .await?,
                )
            }
            "eth_gasPrice" => to_raw(&U256::from(b.gas_price()?)),
            "eth_maxPriorityFeePerGas" => to_raw(&U256::from(b.max_priority_fee_per_gas()?)),
            "eth_feeHistory" => {
                p.at_most(3)?;
                let count = p.required::<HexOrDecimal>(0)?.0.min(MAX_FEE_HISTORY_BLOCKS);
                let newest: BlockNumberOrTag = p.required(1)?;
                let percentiles: Option<Vec<f64>> = p.optional(2)?;
                if let Some(percentiles) = &percentiles {
                    check_percentiles(percentiles)?;
                }
                to_raw(
                    &self
                        .read_eth(b, ctx, move |b| b.fee_history(count, newest, percentiles))
                        .await?,
                )
            }
            "eth_getBlockByNumber" => {
                p.at_most(2)?;
                let number: BlockNumberOrTag = p.required(0)?;
                let full = p.optional::<bool>(1)?.unwrap_or(false);
                to_raw(&b.block(BlockId::Number(number), full)?)
            }
            "eth_getBlockByHash" => {
                p.at_most(2)?;
                let hash: B256 = p.required(0)?;
                let full = p.optional::<bool>(1)?.unwrap_or(false);
                to_raw(&b.block(BlockId::hash(hash), full)?)
            }
            "eth_getBlockReceipts" => {
                p.at_most(1)?;
                let at: BlockId = p.required(0)?;
                to_raw(&self.read_eth(b, ctx, move |b| b.block_receipts(at)).await?)
            }
            "eth_getBlockTransactionCountByNumber" => {
                p.at_most(1)?;
                let number = p.optional::<BlockNumberOrTag>(0)?.unwrap_or_default();
                to_raw(&b.block_tx_count(BlockId::Number(number))?.map(U64::from))
            }
            "eth_getBlockTransactionCountByHash" => {
                p.at_most(1)?;
                let hash: B256 = p.required(0)?;
                to_raw(&b.block_tx_count(BlockId::hash(hash))?.map(U64::from))
            }
            "eth_getUncleCountByBlockNumber" => {
                p.at_most(1)?;
                let number = p.optional::<BlockNumberOrTag>(0)?.unwrap_or_default();
                to_raw(
                    &b.block_tx_count(BlockId::Number(number))?
                        .map(|_| U64::ZERO),
                )
            }
            "eth_getUncleCountByBlockHash" => {
                p.at_most(1)?;
                let hash: B256 = p.required(0)?;
                to_raw(&b.block_tx_count(BlockId::hash(hash))?.map(|_| U64::ZERO))
            }
            "eth_getUncleByBlockNumberAndIndex" | "eth_getUncleByBlockHashAndIndex" => {
                p.at_most(2)?;
                Ok(RawValue::NULL.to_owned())
            }
            "eth_getTransactionByHash" => {
                p.at_most(1)?;
                to_raw(&b.transaction_by_hash(p.required::<B256>(0)?)?)
            }
            "eth_getTransactionByBlockNumberAndIndex" => {
                p.at_most(2)?;
                let number: BlockNumberOrTag = p.required(0)?;
                let index: Index = p.required(1)?;
                to_raw(&b.transaction_by_block_and_index(BlockId::Number(number), index.0 as u64)?)
            }
            "eth_getTransactionByBlockHashAndIndex" => {
                p.at_most(2)?;
                let hash: B256 = p.required(0)?;
                let index: Index = p.required(1)?;
                to_raw(&b.transaction_by_block_and_index(BlockId::hash(hash), index.0 as u64)?)
            }
            "eth_getLogs" => {
                p.at_most(1)?;
                let filter: Filter = p.required(0)?;
                check_filter(&filter)?;
                to_raw(&self.read_eth(b, ctx, move |b| b.logs(&filter)).await?)
            }
            "eth_newFilter" => {
                p.at_most(1)?;
                let filter: Filter = p.required(0)?;
                check_filter(&filter)?;
                to_raw(&self.filters.new_log_filter(b, filter, ctx.client)?)
            }
            "eth_newBlockFilter" => {
                p.at_most(0)?;
                to_raw(&self.filters.new_block_filter(b, ctx.client)?)
            }
            "eth_newPendingTransactionFilter" => {
                p.at_most(1)?;
                to_raw(&self.filters.new_pending_tx_filter(b, ctx.client)?)
            }
            "eth_getFilterChanges" => {
                p.at_most(1)?;
                let id: String = p.required(0)?;
                to_raw(&self.filters.changes(b, &id).await?)
            }
            "eth_getFilterLogs" => {
                p.at_most(1)?;
                let id: String = p.required(0)?;
                to_raw(&self.filters.logs(b, &id).await?)
            }
            "eth_uninstallFilter" => {
                p.at_most(1)?;
                let id: String = p.required(0)?;
                to_raw(&self.filters.uninstall(&id))
            }
            "eth_subscribe" => match ctx.ws {
                Some(ws) => ws.subscribe(self, &p, ctx.client),
                None => Err(BackendError::notifications_unsupported()),
            },
            "eth_unsubscribe" => match ctx.ws {
                Some(ws) => {
                    p.at_most(1)?;
                    let id: String = p.required(0)?;
                    to_raw(&ws.unsubscribe(&id))
                }
                None => Err(BackendError::notifications_unsupported()),
            },
            "eth_syncing" | "eth_mining" | "net_listening" => to_raw(&(method == "net_listening")),
            "eth_accounts" => to_raw::<[Address]>(&[]),
            "eth_hashrate" | "net_peerCount" => quantity(0),
            "net_version" => to_raw(&b.chain_id().to_string()),
            "web3_clientVersion" => to_raw(ordo_primitives::CLIENT_VERSION),
            "web3_sha3" => {
                p.at_most(1)?;
                to_raw(&keccak256(p.required::<Bytes>(0)?))
            }
            _ => Err(BackendError::method_not_found(method)),
        }
    }
}

/// geth's checks: at most [`MAX_FEE_HISTORY_PERCENTILES`], every one in `0..=100`, ascending.
fn check_percentiles(percentiles: &[f64]) -> Result<(), BackendError> {
    if percentiles.len() > MAX_FEE_HISTORY_PERCENTILES {
        return Err(BackendError::invalid_params(format!(
            "invalid reward percentile: over the query limit {MAX_FEE_HISTORY_PERCENTILES}"
        )));
    }
    for (i, &p) in percentiles.iter().enumerate() {
        if !(0.0..=100.0).contains(&p) {
            return Err(BackendError::invalid_params(format!(
                "invalid reward percentile: {p}"
            )));
        }
        if i > 0 && p < percentiles[i - 1] {
            return Err(BackendError::invalid_params(format!(
                "invalid reward percentile: #{}:{} > #{i}:{p}",
                i - 1,
                percentiles[i - 1]
            )));
        }
    }
    Ok(())
}

/// A storage slot argument: at most 32 bytes of hex, as geth takes it (a longer string with
/// leading zeros would otherwise parse).
fn storage_key(p: &Params<'_>, index: usize) -> Result<U256, BackendError> {
    let text: String = p.required(index)?;
    let digits = text.strip_prefix("0x").unwrap_or(&text);
    if digits.len() > 64 {
        return Err(BackendError::invalid_params(format!(
            "storage key too long (want at most 32 bytes): {text:?}"
        )));
    }
    text.parse::<U256>()
        .map_err(|e| BackendError::invalid_params(format!("invalid argument {index}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_or_decimal_accepts_all_spellings() {
        for text in ["5", "\"5\"", "\"0x5\""] {
            assert_eq!(
                serde_json::from_str::<HexOrDecimal>(text).unwrap().0,
                5,
                "{text}"
            );
        }
        assert!(serde_json::from_str::<HexOrDecimal>("\"0xzz\"").is_err());
    }

    #[test]
    fn percentiles_must_be_in_range_and_ascending() {
        assert!(check_percentiles(&[10.0, 50.0, 50.0, 90.0]).is_ok());
        assert!(check_percentiles(&[101.0]).is_err());
        assert!(check_percentiles(&[50.0, 10.0]).is_err());
        let many: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(
            check_percentiles(&many).unwrap_err().message,
            "invalid reward percentile: over the query limit 100"
        );
        assert!(check_percentiles(&many[..100]).is_ok());
    }
}
