//! JSON-RPC clients: alloy providers, the raw [`Rpc`] wrapper over `ordo-rpc-client`,
//! polling for receipts and blocks, and checking an `eth_getProof` answer.

use std::time::{Duration, Instant};

use alloy::{
    network::EthereumWallet,
    primitives::{B256, Bytes, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder, WsConnect},
    rpc::types::TransactionReceipt,
    signers::{SignerSync, local::PrivateKeySigner},
};
use eyre::{Context, Result, bail, eyre};
use serde_json::{Value, json};

/// An alloy HTTP provider (recommended fillers + a wallet for `signer`), type-erased.
pub fn http_provider(url: &str, signer: &PrivateKeySigner) -> DynProvider {
    let url = url.parse().unwrap_or_else(|e| panic!("bad url {url}: {e}"));
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer.clone()))
        .connect_http(url)
        .erased()
}

/// An alloy WebSocket provider (for subscriptions), type-erased.
pub async fn ws_provider(url: &str) -> Result<DynProvider> {
    let p = ProviderBuilder::new()
        .connect_ws(WsConnect::new(url))
        .await?;
    Ok(p.erased())
}

/// A JSON-RPC error object (code, message, data): the shared client's.
pub use ordo_rpc_client::RpcError;
use ordo_rpc_client::{ClientError, RpcClient};

/// Raw JSON-RPC over HTTP for byte-exact requests and error checks: a thin wrapper over the
/// shared client (`ordo-rpc-client`) that keeps a node's JSON-RPC error apart from a
/// transport failure (`Ok(Err(rpc error))` vs `Err`).
#[derive(Debug, Clone)]
pub struct Rpc {
    inner: RpcClient,
}

/// A call's outcome as the tests see it: a JSON-RPC error is a value, anything else fails.
fn split(
    r: std::result::Result<Value, ClientError>,
) -> Result<std::result::Result<Value, RpcError>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(ClientError::Rpc(e)) => Ok(Err(e)),
        Err(e) => Err(e.into()),
    }
}

impl Rpc {
    /// A client for `url`.
    pub fn new(url: &str) -> Self {
        let inner = RpcClient::builder(url)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_else(|e| panic!("reqwest client: {e}"));
        Self { inner }
    }

    /// The same client, sending `Authorization: Bearer <token>` (the admin API).
    pub fn with_bearer(mut self, token: &str) -> Self {
        self.inner = self.inner.with_bearer(token);
        self
    }

    /// The URL.
    pub fn url(&self) -> &str {
        self.inner.url()
    }

    /// POSTs `body` verbatim (Content-Type: application/json); returns status and body text.
    pub async fn post_raw(&self, body: impl Into<String>) -> Result<(reqwest::StatusCode, String)> {
        Ok(self.inner.post_raw(body.into(), &[]).await?)
    }

    /// POSTs a JSON value; returns the parsed JSON response (error if the body is not JSON).
    pub async fn post_json(&self, body: &Value) -> Result<Value> {
        let (status, text) = self.post_raw(body.to_string()).await?;
        serde_json::from_str(&text)
            .wrap_err_with(|| format!("HTTP {status}: response is not JSON: {text:?}"))
    }

    /// One call; `Ok(Ok(result))`, `Ok(Err(rpc error))`, or `Err` for transport problems.
    pub async fn call(
        &self,
        method: &str,
        params: Value,
    ) -> Result<std::result::Result<Value, RpcError>> {
        split(self.inner.call(method, params).await)
    }

    /// One call sent with an `X-Flashbots-Signature` header by `searcher` (EIP-191 over the
    /// hex keccak of the exact body, as Flashbots' tooling signs).
    pub async fn call_signed(
        &self,
        searcher: &PrivateKeySigner,
        method: &str,
        params: Value,
    ) -> Result<std::result::Result<Value, RpcError>> {
        let body = ordo_rpc_client::request(1, method, params).to_string();
        let message = format!("{:#x}", keccak256(body.as_bytes()));
        let signature = searcher.sign_message_sync(message.as_bytes())?;
        let header = format!("{}:{}", searcher.address(), signature);
        split(
            self.inner
                .call_body(body, &[("x-flashbots-signature", &header)])
                .await,
        )
    }

    /// One call that must succeed.
    pub async fn ok(&self, method: &str, params: Value) -> Result<Value> {
        self.call(method, params)
            .await?
            .map_err(|e| eyre!("{method} failed: {e}"))
    }

    /// A batch of calls (ids 0..n); results are returned in call order, matched by id.
    pub async fn batch(
        &self,
        calls: &[(&str, Value)],
    ) -> Result<Vec<std::result::Result<Value, RpcError>>> {
        self.inner
            .batch(calls)
            .await?
            .into_iter()
            .enumerate()
            .map(|(i, r)| match r {
                Err(ClientError::MissingFromBatch) => bail!("batch response lacks id {i}"),
                r => split(r),
            })
            .collect()
    }

    /// `eth_sendRawTransaction` of pre-encoded bytes.
    pub async fn send_raw(&self, raw: &[u8]) -> Result<std::result::Result<B256, RpcError>> {
        let r = self
            .call(
                "eth_sendRawTransaction",
                json!([Bytes::copy_from_slice(raw)]),
            )
            .await?;
        Ok(match r {
            Ok(v) => Ok(serde_json::from_value(v)?),
            Err(e) => Err(e),
        })
    }

    /// `eth_blockNumber`.
    pub async fn block_number(&self) -> Result<u64> {
        let v = self.ok("eth_blockNumber", json!([])).await?;
        parse_quantity(&v)
    }
}

/// Splits a JSON-RPC response object into result or error.
pub fn parse_response(resp: &Value) -> Result<std::result::Result<Value, RpcError>> {
    Ok(ordo_rpc_client::parse_response(resp)?)
}

/// Parses a hex quantity (`"0x1a"`).
pub fn parse_quantity(v: &Value) -> Result<u64> {
    let s = v
        .as_str()
        .ok_or_else(|| eyre!("not a string quantity: {v}"))?;
    let hex = s
        .strip_prefix("0x")
        .ok_or_else(|| eyre!("quantity without 0x: {s}"))?;
    Ok(u64::from_str_radix(hex, 16)?)
}

/// Polls `eth_getTransactionReceipt` until the receipt exists (failure guard: `timeout`).
pub async fn wait_receipt(
    provider: &DynProvider,
    hash: B256,
    timeout: Duration,
) -> Result<TransactionReceipt> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(r) = provider.get_transaction_receipt(hash).await? {
            return Ok(r);
        }
        if Instant::now() > deadline {
            bail!("no receipt for {hash} within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until the head is at least `n`.
pub async fn wait_block(provider: &DynProvider, n: u64, timeout: Duration) -> Result<u64> {
    let deadline = Instant::now() + timeout;
    loop {
        let head = provider.get_block_number().await?;
        if head >= n {
            return Ok(head);
        }
        if Instant::now() > deadline {
            bail!("head stuck at {head}, wanted {n} within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks an `eth_getProof` answer for an account that exists: the account it states is the
/// leaf at keccak(address) of the trie whose root is `state_root` (a block's).
pub fn check_account_proof(
    state_root: alloy::primitives::B256,
    proof: &alloy::rpc::types::EIP1186AccountProofResponse,
) -> Result<()> {
    alloy_trie::proof::verify_proof(
        state_root,
        alloy_trie::Nibbles::unpack(alloy::primitives::keccak256(proof.address)),
        Some(alloy_rlp::encode(alloy_trie::TrieAccount {
            nonce: proof.nonce,
            balance: proof.balance,
            storage_root: proof.storage_hash,
            code_hash: proof.code_hash,
        })),
        &proof.account_proof,
    )
    .map_err(|e| eyre!("proof of {} against {state_root}: {e}", proof.address))
}
