//! The few JSON-RPC reads derivation makes (L1 blocks, a node's batches, blocks and
//! provenance), over the project's one client (`ordo-rpc-client`): its failures become
//! [`DeriveError`]s naming the method and the endpoint; the parsers read the answers.

use ordo_rpc_client::{ClientError, RpcClient};
use serde_json::Value;

use crate::error::DeriveError;

/// A client for the endpoint `url`.
pub(crate) fn client(url: &str) -> Result<RpcClient, DeriveError> {
    RpcClient::new(url).map_err(|source| DeriveError::Connect {
        url: url.to_string(),
        source,
    })
}

/// Calls `method`; a JSON-RPC error is an error.
pub(crate) async fn call(
    client: &RpcClient,
    method: &str,
    params: Value,
) -> Result<Value, DeriveError> {
    client.call(method, params).await.map_err(|e| {
        let url = client.url().to_string();
        match e {
            ClientError::Rpc(error) => DeriveError::Rpc {
                method: method.to_string(),
                url,
                error,
            },
            source @ ClientError::Transport(_) => DeriveError::Connect { url, source },
            source => DeriveError::NotJson {
                method: method.to_string(),
                url,
                source,
            },
        }
    })
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
