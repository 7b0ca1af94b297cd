//! The Flashbots bundle methods on the public port: `eth_sendBundle`, `eth_cancelBundle`,
//! `eth_callBundle` and `ordo_searcherStats`.
//!
//! A bundle is checked here as a transaction would be (decode, signature, chain id), then
//! handed to the [`ordo_pool::BundlePool`], which makes it durable before answering. On a
//! follower of a replica group, `eth_sendBundle` and `eth_cancelBundle` go to the leader
//! with the searcher this replica checked ([`ordo_replica::ForwardedCalls`]).

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use alloy_primitives::{Address, B256, Bytes, U64, U256, keccak256};
use ordo_builder::{SearcherStats, rpc_searcher_key};
use ordo_exec::BlockParams;
use ordo_pool::{BundleError, MAX_BUNDLE_TXS};
use ordo_primitives::{
    Bundle,
    alloy_eips::{BlockId, BlockNumberOrTag},
};
use ordo_rpc::{BackendError, BackendResult, Caller, Cost, Namespace, Params, json};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::{
    NodeApi,
    errors::{exec_err, storage_err},
};

/// The bundle methods and searcher stats over the chain and the bundle pool.
pub struct MevNamespace(pub Arc<NodeApi>);

impl Namespace for MevNamespace {
    fn cost(&self, method: &str) -> Option<Cost> {
        match method {
            // Runs up to a block's worth of gas: a read-pool job with its budget.
            "eth_callBundle" => Some(Cost::Heavy),
            "eth_sendBundle" | "eth_cancelBundle" | "ordo_searcherStats" => Some(Cost::Quick),
            _ => None,
        }
    }

    fn call(&self, method: &str, p: &Params<'_>, caller: Caller) -> BackendResult<Box<RawValue>> {
        let api = &self.0;
        match method {
            "eth_callBundle" => api.call_bundle(p),
            "eth_sendBundle" => api.send_bundle(p, caller.searcher),
            "eth_cancelBundle" => api.cancel_bundle(p, caller.searcher),
            "ordo_searcherStats" => api.searcher_stats(p),
            other => Err(BackendError::method_not_found(other)),
        }
    }
}

/// A follower's forwarded bundle writes, answered on the leader as if sent here, by the
/// searcher the follower checked.
impl ordo_replica::ForwardedCalls for NodeApi {
    fn call(
        &self,
        method: &str,
        params: &serde_json::Value,
        searcher: Option<Address>,
    ) -> Result<serde_json::Value, (i32, String)> {
        let failed = |e: BackendError| (e.code, e.message.into_owned());
        let raw = serde_json::value::to_raw_value(params)
            .map_err(|e| failed(BackendError::invalid_params(e.to_string())))?;
        let p = Params::parse(Some(&raw)).map_err(failed)?;
        let answer = match method {
            "eth_sendBundle" => self.send_bundle(&p, searcher),
            "eth_cancelBundle" => self.cancel_bundle(&p, searcher),
            other => Err(BackendError::method_not_found(other)),
        }
        .map_err(failed)?;
        serde_json::from_str(answer.get())
            .map_err(|e| failed(BackendError::internal(e.to_string())))
    }

    fn submit_recovered(
        self: Arc<Self>,
        txs: Vec<(alloy_primitives::Bytes, Address)>,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Vec<ordo_replica::TxAnswer>> + Send + 'static>,
    > {
        Box::pin(async move {
            self.submit_forwarded(txs)
                .await
                .into_iter()
                .map(|answer| answer.map_err(|e| (e.code, e.message.into_owned())))
                .collect()
        })
    }
}

/// JSON-RPC code for a searcher out of failure credit (as rate limits elsewhere: -32005).
const RPC_LIMITED: i32 = -32005;
/// How far ahead of the head a bundle may target: a bundle holds a pool slot (and disk)
/// until its block passes.
pub const MAX_BUNDLE_LOOKAHEAD: u64 = 256;
/// Longest `replacementUuid` (a UUID is 36 characters).
pub const MAX_UUID_LEN: usize = 128;
/// Largest total size of a bundle's raw transactions.
pub const MAX_BUNDLE_BYTES: usize = 256 * 1024;

/// A block number or timestamp given as a hex quantity, a decimal string or a number.
fn quantity<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Q {
        Num(u64),
        Str(String),
    }
    let parse = |s: &str| -> Result<u64, String> {
        match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).map_err(|e| format!("{s:?}: {e}")),
            None => s.parse().map_err(|e| format!("{s:?}: {e}")),
        }
    };
    match Option::<Q>::deserialize(d)? {
        None => Ok(None),
        Some(Q::Num(n)) => Ok(Some(n)),
        Some(Q::Str(s)) => parse(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

/// `eth_sendBundle`'s argument (Flashbots).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendBundleArgs {
    txs: Vec<String>,
    #[serde(default, deserialize_with = "quantity")]
    block_number: Option<u64>,
    #[serde(default, deserialize_with = "quantity")]
    min_timestamp: Option<u64>,
    #[serde(default, deserialize_with = "quantity")]
    max_timestamp: Option<u64>,
    #[serde(default)]
    reverting_tx_hashes: Option<Vec<B256>>,
    #[serde(default)]
    replacement_uuid: Option<String>,
    /// Builder extensions Ordo does not implement: refused when set, so a searcher never
    /// believes it got a refund or a drop allowance it did not get.
    #[serde(default)]
    dropping_tx_hashes: Option<Vec<B256>>,
    #[serde(default)]
    refund_percent: Option<serde_json::Value>,
    #[serde(default)]
    refund_recipient: Option<serde_json::Value>,
    #[serde(default)]
    refund_tx_hashes: Option<Vec<B256>>,
}

impl SendBundleArgs {
    fn unsupported(&self) -> Option<&'static str> {
        if self
            .dropping_tx_hashes
            .as_ref()
            .is_some_and(|v| !v.is_empty())
        {
            Some("droppingTxHashes")
        } else if self.refund_percent.as_ref().is_some_and(|v| !v.is_null()) {
            Some("refundPercent")
        } else if self.refund_recipient.as_ref().is_some_and(|v| !v.is_null()) {
            Some("refundRecipient")
        } else if self
            .refund_tx_hashes
            .as_ref()
            .is_some_and(|v| !v.is_empty())
        {
            Some("refundTxHashes")
        } else {
            None
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelBundleArgs {
    replacement_uuid: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendBundleView {
    bundle_hash: B256,
}

/// One searcher in `ordo_searcherStats`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SearcherView {
    /// Searcher address, `anonymous`, or `plugin:<name>`.
    searcher: String,
    proposed: u64,
    landed: u64,
    dropped: std::collections::BTreeMap<String, u64>,
    /// Wei paid to the coinbase by landed bundles (decimal string, as Flashbots amounts).
    bids_paid: String,
    /// True while the searcher's failing bundles are refused.
    rate_limited: bool,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn bundle_err(e: BundleError) -> BackendError {
    if e.is_internal() {
        tracing::error!(target: "ordo::rpc", %e, "bundle pool failure");
        return BackendError::new(e.rpc_code() as i32, e.to_string());
    }
    let message = match &e {
        BundleError::PastBlock { target, head } => {
            format!("bundle block number {target} is not after the head block {head}")
        }
        BundleError::TooManyTxs { count, max } => {
            format!("bundle has {count} transactions, at most {max} allowed")
        }
        BundleError::Expired { max_timestamp, now } => {
            format!("bundle maxTimestamp {max_timestamp} is before now ({now})")
        }
        other => other.to_string(),
    };
    BackendError::new(e.rpc_code() as i32, message)
}

/// The bounds every bundle method applies before decoding anything: at most
/// [`MAX_BUNDLE_TXS`] transactions of at most [`MAX_BUNDLE_BYTES`] in all, so a request cannot
/// make the node recover thousands of signatures.
pub(crate) fn check_bundle_size(txs: &[String]) -> BackendResult<()> {
    if txs.len() > MAX_BUNDLE_TXS {
        return Err(bundle_err(BundleError::TooManyTxs {
            count: txs.len(),
            max: MAX_BUNDLE_TXS,
        }));
    }
    let size: usize = txs.iter().map(|t| t.len() / 2).sum();
    if size > MAX_BUNDLE_BYTES {
        return Err(BackendError::invalid_params(format!(
            "bundle transactions total {size} bytes, at most {MAX_BUNDLE_BYTES}"
        )));
    }
    Ok(())
}

/// Decodes a bundle's hex EIP-2718 transactions and recovers their senders. A transaction
/// for another chain is refused, and so is one without a chain id when `replay_protected`.
pub(crate) fn decode_bundle_txs(
    raw: &[String],
    chain_id: u64,
    replay_protected: bool,
) -> BackendResult<Vec<ordo_primitives::PooledTx>> {
    raw.iter()
        .enumerate()
        .map(|(i, raw)| {
            let tx = alloy_primitives::hex::decode(raw)
                .map_err(|e| e.to_string())
                .and_then(|b| ordo_primitives::decode_raw_tx(&b).map_err(|e| e.to_string()))
                .map_err(|e| {
                    BackendError::invalid_params(format!("could not decode tx {i}: {e}"))
                })?;
            match alloy_consensus::Transaction::chain_id(&tx.tx) {
                Some(id) if id != chain_id => Err(BackendError::tx(format!(
                    "tx {i}: invalid chain id: have {id}, want {chain_id}"
                ))),
                None if replay_protected => Err(BackendError::tx(format!(
                    "tx {i}: only replay-protected (EIP-155) transactions allowed"
                ))),
                _ => Ok(tx),
            }
        })
        .collect()
}

impl NodeApi {
    pub(crate) fn send_bundle(
        &self,
        p: &Params<'_>,
        searcher: Option<Address>,
    ) -> BackendResult<Box<RawValue>> {
        self.refuse_if_halted()?;
        if let Some(answer) = self.forward_to_leader_listener("eth_sendBundle", p, searcher) {
            return answer;
        }
        let args: SendBundleArgs = p.only()?;
        if let Some(field) = args.unsupported() {
            return Err(BackendError::invalid_params(format!(
                "{field} is not supported by this sequencer"
            )));
        }
        let pool = self
            .builder
            .bundle_pool()
            .ok_or_else(|| BackendError::method_not_found("eth_sendBundle"))?;
        // Flashbots: an empty bundle with a replacement uuid cancels.
        if args.txs.is_empty() {
            return match &args.replacement_uuid {
                Some(uuid) => {
                    pool.cancel(uuid, searcher);
                    json(&SendBundleView {
                        bundle_hash: alloy_primitives::keccak256([]),
                    })
                }
                None => Err(BackendError::invalid_params("bundle missing txs")),
            };
        }
        if args
            .replacement_uuid
            .as_ref()
            .is_some_and(|u| u.len() > MAX_UUID_LEN)
        {
            return Err(BackendError::invalid_params(format!(
                "replacementUuid longer than {MAX_UUID_LEN} characters"
            )));
        }
        // Unsigned callers cannot be told apart, so they may not name (and so replace or
        // cancel) bundles: any of them could cancel another's.
        if searcher.is_none()
            && args
                .replacement_uuid
                .as_ref()
                .is_some_and(|u| !u.is_empty())
        {
            return Err(BackendError::invalid_params(
                "replacementUuid needs the X-Flashbots-Signature header",
            ));
        }
        if args.txs.len() > MAX_BUNDLE_TXS {
            return Err(bundle_err(BundleError::TooManyTxs {
                count: args.txs.len(),
                max: MAX_BUNDLE_TXS,
            }));
        }
        let reverting = args.reverting_tx_hashes.as_ref().map_or(0, Vec::len);
        if reverting > args.txs.len() {
            return Err(BackendError::invalid_params(format!(
                "{reverting} revertingTxHashes for {} transactions",
                args.txs.len()
            )));
        }
        let size: usize = args.txs.iter().map(|t| t.len() / 2).sum();
        if size > MAX_BUNDLE_BYTES {
            return Err(BackendError::invalid_params(format!(
                "bundle transactions total {size} bytes, at most {MAX_BUNDLE_BYTES}"
            )));
        }
        let head = self.head().number();
        let key = rpc_searcher_key(searcher);
        if self.builder.searcher_ledger().rate_limited(&key, head + 1) {
            return Err(BackendError::new(
                RPC_LIMITED,
                format!("rate limited: too many bundles from {key} failed simulation"),
            ));
        }
        let txs = decode_bundle_txs(&args.txs, self.exec.chain_id(), true)?
            .into_iter()
            .map(std::sync::Arc::new)
            .collect();
        let block_number = args.block_number.unwrap_or(head + 1);
        if block_number > head + MAX_BUNDLE_LOOKAHEAD {
            return Err(BackendError::invalid_params(format!(
                "bundle block number {block_number} is more than {MAX_BUNDLE_LOOKAHEAD} blocks ahead of the head {head}"
            )));
        }
        let bundle = Bundle {
            txs,
            block_number,
            min_timestamp: args.min_timestamp.and_then(ordo_primitives::timestamp_opt),
            max_timestamp: args.max_timestamp.and_then(ordo_primitives::timestamp_opt),
            reverting_tx_hashes: args.reverting_tx_hashes.unwrap_or_default(),
            replacement_uuid: args.replacement_uuid.filter(|u| !u.is_empty()),
            searcher,
        };
        // A key that never landed a bundle shares the unsigned quota: fresh keys are free.
        let quota = searcher.filter(|_| self.builder.searcher_ledger().credit_key(&key) == key);
        let bundle_hash = pool
            .insert_with_quota(bundle, head, now_secs(), quota)
            .map_err(bundle_err)?;
        json(&SendBundleView { bundle_hash })
    }

    pub(crate) fn cancel_bundle(
        &self,
        p: &Params<'_>,
        searcher: Option<Address>,
    ) -> BackendResult<Box<RawValue>> {
        if let Some(answer) = self.forward_to_leader_listener("eth_cancelBundle", p, searcher) {
            return answer;
        }
        let args: CancelBundleArgs = p.only()?;
        if searcher.is_none() {
            return Err(BackendError::invalid_params(
                "eth_cancelBundle needs the X-Flashbots-Signature header",
            ));
        }
        let pool = self
            .builder
            .bundle_pool()
            .ok_or_else(|| BackendError::method_not_found("eth_cancelBundle"))?;
        // Flashbots answers the same whether or not something was cancelled.
        let cancelled = pool.cancel(&args.replacement_uuid, searcher);
        tracing::debug!(target: "ordo::rpc", uuid = %args.replacement_uuid, cancelled, "eth_cancelBundle");
        json(&())
    }

    pub(crate) fn searcher_stats(&self, p: &Params<'_>) -> BackendResult<Box<RawValue>> {
        let want: Option<String> = {
            p.at_most(1)?;
            p.optional(0)?
        };
        let next = self.head().number() + 1;
        let ledger = self.builder.searcher_ledger();
        let view: Vec<SearcherView> = ledger
            .snapshot()
            .into_iter()
            .filter(|(key, _)| {
                want.as_ref()
                    .is_none_or(|want| want.eq_ignore_ascii_case(key))
            })
            .map(|(key, s): (String, SearcherStats)| SearcherView {
                rate_limited: ledger.rate_limited(&key, next),
                searcher: key,
                proposed: s.proposed,
                landed: s.landed,
                dropped: s.dropped,
                bids_paid: s.paid.to_string(),
            })
            .collect();
        json(&view)
    }
}

/// `eth_callBundle` request (Flashbots): signed transactions simulated in order on top of
/// `stateBlockNumber`, as block `blockNumber`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallBundleArgs {
    /// Raw signed transactions (EIP-2718 hex).
    txs: Vec<String>,
    /// The number of the simulated block.
    block_number: U64,
    /// The state to simulate on (default `latest`).
    #[serde(default)]
    state_block_number: Option<BlockNumberOrTag>,
    /// The simulated block's timestamp (default: the state block's + 1).
    #[serde(default)]
    timestamp: Option<u64>,
}

/// One transaction's result in an `eth_callBundle` answer (Flashbots' field names).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BundleTxView {
    tx_hash: B256,
    gas_used: u64,
    /// Coinbase difference per gas (decimal wei).
    gas_price: String,
    /// Gas used × effective priority fee (decimal wei).
    gas_fees: String,
    from_address: Address,
    to_address: Option<Address>,
    coinbase_diff: String,
    eth_sent_to_coinbase: String,
    /// Return data; only on success, as on Flashbots.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Bytes>,
    /// Revert data, on revert.
    #[serde(skip_serializing_if = "Option::is_none")]
    revert: Option<Bytes>,
    /// Why the transaction failed (`execution reverted`, or the halt reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The `eth_callBundle` answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BundleView {
    bundle_gas_price: String,
    bundle_hash: B256,
    coinbase_diff: String,
    eth_sent_to_coinbase: String,
    gas_fees: String,
    results: Vec<BundleTxView>,
    state_block_number: u64,
    total_gas_used: u64,
}

impl NodeApi {
    pub(crate) fn call_bundle(&self, p: &Params<'_>) -> BackendResult<Box<RawValue>> {
        let args: CallBundleArgs = p.only()?;
        if args.txs.is_empty() {
            return Err(BackendError::invalid_params("bundle missing txs"));
        }
        // eth_sendBundle's bounds, checked before any signature is recovered.
        check_bundle_size(&args.txs)?;
        // Pre-EIP-155 transactions simulate (as geth's callBundle does); they are refused by
        // eth_sendBundle.
        let txs = decode_bundle_txs(&args.txs, self.exec.chain_id(), false)?;

        let id = BlockId::Number(args.state_block_number.unwrap_or(BlockNumberOrTag::Latest));
        let state_block = self.state_block(id)?;
        let parent = match state_block {
            None => self.head(),
            Some(n) => Arc::new(
                self.storage
                    .block(n)
                    .map_err(storage_err)?
                    .ok_or_else(|| BackendError::tx("header not found"))?,
            ),
        };
        let cfg = self.builder.params();
        let h = &parent.header;
        let params = BlockParams {
            number: args.block_number.to(),
            timestamp: args
                .timestamp
                .unwrap_or_else(|| h.timestamp.saturating_add(1)),
            beneficiary: cfg.coinbase,
            gas_limit: cfg.gas_limit,
            base_fee: ordo_primitives::next_base_fee(
                h.gas_used,
                h.gas_limit,
                h.base_fee_per_gas.unwrap_or(cfg.min_base_fee),
                cfg.base_fee_params,
                cfg.min_base_fee,
            ),
            extra_data: cfg.extra_data.clone(),
            state_block,
            max_tx_bytes: None,
            // The next block's origin is the parent's until the builder moves it.
            beacon_root: parent
                .l1_origin
                .map(|o| o.beacon_root_of_block(args.block_number.to(), cfg.beacon_roots_from))
                .unwrap_or_default(),
            ethereum: None,
        };
        let out = self
            .exec
            .simulate_bundle(&params, keccak256(parent.hash), &txs)
            .map_err(exec_err)?;

        let mut hashes = Vec::with_capacity(out.results.len() * 32);
        for r in &out.results {
            hashes.extend_from_slice(r.hash.as_slice());
        }
        let results = out
            .results
            .iter()
            .map(|r| BundleTxView {
                tx_hash: r.hash,
                gas_used: r.gas_used,
                gas_price: (r.coinbase_diff / U256::from(r.gas_used.max(1))).to_string(),
                gas_fees: r.gas_fees.to_string(),
                from_address: r.from,
                to_address: r.to,
                coinbase_diff: r.coinbase_diff.to_string(),
                eth_sent_to_coinbase: r.eth_sent_to_coinbase().to_string(),
                value: r.error.is_none().then(|| r.output.clone()),
                revert: r.reverted.then(|| r.output.clone()),
                error: r.error.clone(),
            })
            .collect();
        let view = BundleView {
            bundle_gas_price: out.bundle_gas_price().to_string(),
            bundle_hash: keccak256(&hashes),
            coinbase_diff: out.coinbase_diff.to_string(),
            eth_sent_to_coinbase: out.eth_sent_to_coinbase().to_string(),
            gas_fees: out.gas_fees.to_string(),
            results,
            state_block_number: parent.number(),
            total_gas_used: out.total_gas_used,
        };
        serde_json::value::to_raw_value(&view)
            .map_err(|e| BackendError::internal(format!("serializing bundle result: {e}")))
    }
}
