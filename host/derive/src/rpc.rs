//! The few JSON-RPC reads derivation makes (L1 blocks, a node's batches, blocks and
//! provenance), over plain HTTP.

use serde_json::Value;

use crate::DeriveError;

/// A JSON-RPC-over-HTTP caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct RpcClient {
    http: reqwest::Client,
}

impl RpcClient {
    /// Calls `method` at `url`; a JSON-RPC error is an error, a missing result is null.
    pub(crate) async fn call(
        &self,
        url: &str,
        method: &str,
        params: Value,
    ) -> Result<Value, DeriveError> {
        let body =
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let resp: Value = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|source| DeriveError::Connect {
                url: url.to_string(),
                source,
            })?
            .json()
            .await
            .map_err(|source| DeriveError::NotJson {
                method: method.to_string(),
                source,
            })?;
        if let Some(error) = resp.get("error") {
            return Err(DeriveError::Rpc {
                method: method.to_string(),
                url: url.to_string(),
                error: error.clone(),
            });
        }
        Ok(resp.get("result").cloned().unwrap_or_default())
    }
}

/// The hex bytes in `v[field]`.
pub(crate) fn hex_field(v: &Value, field: &str) -> Result<Vec<u8>, DeriveError> {
    let s = v[field]
        .as_str()
        .ok_or_else(|| DeriveError::Malformed(format!("{field} missing in {v}")))?;
    alloy_primitives::hex::decode(s)
        .map_err(|e| DeriveError::Malformed(format!("{field} is not hex: {e}")))
}

/// A JSON-RPC hex quantity.
pub(crate) fn quantity(v: &Value) -> Result<u64, DeriveError> {
    let q: alloy_primitives::U64 = serde_json::from_value(v.clone())
        .map_err(|e| DeriveError::Malformed(format!("not a hex quantity: {v}: {e}")))?;
    Ok(q.to())
}

/// A 32-byte hash in `v`, named `what` in the error.
pub(crate) fn hash(v: &Value, what: &str) -> Result<alloy_primitives::B256, DeriveError> {
    v.as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|e| DeriveError::Malformed(format!("{what} is not a hash: {v}: {e}")))
}
