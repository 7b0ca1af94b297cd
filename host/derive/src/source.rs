//! [`FrameSource`]: where posted batch frames are read from, in posting order.

use alloy_primitives::{Address, B256};
use serde_json::json;

use ordo_rpc_client::RpcClient;

use crate::{
    error::DeriveError,
    rpc::{call, client, hash, hex_field, quantity},
};

/// Where frames come from, in batch order.
#[derive(Debug, Clone)]
pub enum FrameSource {
    /// The batch inbox on L1: calldata or blobs of transactions from `batcher` to `inbox`,
    /// in L1 order, starting at L1 block `from_block`.
    L1 {
        /// L1 JSON-RPC URL.
        rpc: String,
        /// Batch inbox address.
        inbox: Address,
        /// The batcher's address (transactions from anyone else are ignored).
        batcher: Address,
        /// First L1 block to scan.
        from_block: u64,
        /// Beacon API serving blobs (`/eth/v1/beacon/blobs/{block_id}`); None: the L1 RPC URL
        /// (a dev L1 such as anvil serves both).
        beacon: Option<String>,
    },
    /// A node's own batches through `ordo_getBatch` (before or without L1 posting).
    Node {
        /// The node's JSON-RPC URL.
        rpc: String,
    },
}

impl FrameSource {
    /// Every frame currently available, in order.
    pub async fn frames(&self) -> Result<Vec<Vec<u8>>, DeriveError> {
        Ok(self
            .frames_landed()
            .await?
            .into_iter()
            .map(|(f, _)| f)
            .collect())
    }

    /// Every frame currently available, in order, with the L1 block it landed in (None for
    /// frames read from a node).
    pub async fn frames_landed(&self) -> Result<Vec<(Vec<u8>, Option<u64>)>, DeriveError> {
        match self {
            Self::Node { rpc } => Ok(node_frames(&client(rpc)?)
                .await?
                .into_iter()
                .map(|f| (f, None))
                .collect()),
            Self::L1 {
                rpc,
                inbox,
                batcher,
                from_block,
                beacon,
            } => {
                let beacon = beacon.as_deref().unwrap_or(rpc);
                l1_frames(&client(rpc)?, *inbox, *batcher, *from_block, beacon).await
            }
        }
    }
}

/// `ordo_getBatch` 0, 1, ... until the node has no more.
async fn node_frames(node: &RpcClient) -> Result<Vec<Vec<u8>>, DeriveError> {
    let mut out = Vec::new();
    loop {
        let index = format!("{:#x}", out.len());
        let batch = call(node, "ordo_getBatch", json!([index])).await?;
        if batch.is_null() {
            return Ok(out);
        }
        out.push(hex_field(&batch, "frame")?);
    }
}

/// The data of every inbox transaction from the batcher, L1 block `from_block` to the head:
/// calldata, or the payload of its blobs (read from the beacon API).
async fn l1_frames(
    l1: &RpcClient,
    inbox: Address,
    batcher: Address,
    from_block: u64,
    beacon: &str,
) -> Result<Vec<(Vec<u8>, Option<u64>)>, DeriveError> {
    let mut beacon = ordo_l1::BeaconClient::new(beacon);
    let head = call(l1, "eth_blockNumber", json!([])).await?;
    let head = quantity(&head)?;
    let mut out = Vec::new();
    for n in from_block..=head {
        let block = call(l1, "eth_getBlockByNumber", json!([format!("{n:#x}"), true])).await?;
        for tx in block["transactions"].as_array().into_iter().flatten() {
            let to = tx["to"].as_str().and_then(|s| s.parse().ok());
            let from = tx["from"].as_str().and_then(|s| s.parse().ok());
            if to != Some(inbox) || from != Some(batcher) {
                continue;
            }
            // A reverted inbox transaction (an inbox contract refusing it) still carries its
            // data; the poster counts it as posted, and so does derivation, or its index
            // would be a gap for good.
            let hashes = tx["blobVersionedHashes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|h| hash(h, "blob versioned hash"))
                        .collect::<Result<Vec<B256>, _>>()
                })
                .transpose()?
                .unwrap_or_default();
            if hashes.is_empty() {
                out.push((hex_field(tx, "input")?, Some(n)));
                continue;
            }
            let at = ordo_l1::BlobBlock {
                number: n,
                hash: hash(&block["hash"], &format!("L1 block {n} hash"))?,
                timestamp: quantity(&block["timestamp"])?,
            };
            let blobs_error = |reason: String| DeriveError::Blobs {
                block: n,
                tx: tx["hash"].to_string(),
                reason,
            };
            let blobs = beacon.blobs(at, &hashes).await.map_err(blobs_error)?;
            let data = ordo_l1::decode_blobs(&blobs)
                .ok_or_else(|| blobs_error("blobs do not hold length-prefixed data".to_string()))?;
            out.push((data, Some(n)));
        }
    }
    Ok(out)
}
