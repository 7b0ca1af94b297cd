//! Reading blob data back: the blobs of an L1 block from a beacon API
//! (`/eth/v1/beacon/blobs/{block_id}`), matched to a transaction's versioned hashes by their
//! KZG commitments, never trusted by position.
//!
//! A beacon node names blocks by slot, so the slot comes from the L1 block's timestamp, the
//! beacon genesis time and `SECONDS_PER_SLOT`. A dev L1 without a chain spec (anvil) serves
//! the same route keyed by the execution block hash; that is tried when there is no spec or
//! the slot's blobs do not match.

use alloy::{
    eips::eip4844::{Blob, env_settings::EnvKzgSettings, kzg_to_versioned_hash},
    primitives::{B256, hex},
};
use serde_json::Value;

/// The L1 block a blob transaction was mined in.
#[derive(Clone, Copy, Debug)]
pub struct BlobBlock {
    pub number: u64,
    pub hash: B256,
    pub timestamp: u64,
}

/// A beacon API endpoint, with its genesis and slot length once learned.
#[derive(Debug)]
pub struct BeaconClient {
    url: String,
    http: reqwest::Client,
    /// (genesis time, seconds per slot); None: not a beacon node with a spec (a dev L1).
    clock: Option<Option<(u64, u64)>>,
}

impl BeaconClient {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into().trim_end_matches('/').to_string(),
            // A half-dead endpoint must fail the read, not hang `ordo verify`.
            http: reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .unwrap_or_default(),
            clock: None,
        }
    }

    async fn get(&self, path: &str) -> Result<Option<Value>, String> {
        self.get_status(path).await.map(|(_, v)| v)
    }

    /// (HTTP status, JSON body if the status was a success).
    async fn get_status(&self, path: &str) -> Result<(u16, Option<Value>), String> {
        let url = format!("{}{path}", self.url);
        let resp = self.http.get(&url).send().await.map_err(|e| {
            let e = crate::scrub_url(&e.to_string(), &url);
            format!("beacon api {} {path}: {e}", crate::redact_url(&self.url))
        })?;
        let status = resp.status();
        if !status.is_success() {
            return Ok((status.as_u16(), None));
        }
        resp.json()
            .await
            .map(|v| (status.as_u16(), Some(v)))
            .map_err(|e| {
                format!(
                    "beacon api {} {path}: not JSON: {}",
                    crate::redact_url(&self.url),
                    crate::scrub_url(&e.to_string(), &url)
                )
            })
    }

    async fn clock(&mut self) -> Result<Option<(u64, u64)>, String> {
        if let Some(c) = self.clock {
            return Ok(c);
        }
        let (_, genesis) = self.get_status("/eth/v1/beacon/genesis").await?;
        let (spec_status, spec) = self.get_status("/eth/v1/config/spec").await?;
        let num = |v: &Value| -> Option<u64> { v.as_str()?.parse().ok() };
        let clock = match (genesis, spec) {
            (Some(g), Some(s)) => num(&g["data"]["genesis_time"])
                .zip(num(&s["data"]["SECONDS_PER_SLOT"]))
                .filter(|(_, secs)| *secs > 0),
            _ => None,
        };
        // Remembered only when it is an answer: a clock, or a node without the spec route
        // (a dev L1). A beacon node that is still syncing (5xx) is asked again next time.
        if clock.is_some() || spec_status == 404 {
            self.clock = Some(clock);
        }
        Ok(clock)
    }

    async fn blobs_at(&self, block_id: &str) -> Result<Vec<Blob>, String> {
        let Some(v) = self
            .get(&format!("/eth/v1/beacon/blobs/{block_id}"))
            .await?
        else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for b in v["data"].as_array().into_iter().flatten() {
            let bytes = hex::decode(b.as_str().unwrap_or_default())
                .map_err(|e| format!("beacon api blob at {block_id}: {e}"))?;
            let blob = Blob::try_from(bytes.as_slice())
                .map_err(|_| format!("beacon api blob at {block_id}: {} bytes", bytes.len()))?;
            out.push(blob);
        }
        Ok(out)
    }

    /// The blobs with `hashes` (a transaction's versioned hashes), in that order.
    pub async fn blobs(&mut self, block: BlobBlock, hashes: &[B256]) -> Result<Vec<Blob>, String> {
        let mut ids = Vec::new();
        if let Some((genesis, secs)) = self.clock().await?
            && block.timestamp >= genesis
        {
            ids.push(((block.timestamp - genesis) / secs).to_string());
        }
        ids.push(block.hash.to_string());
        for id in &ids {
            let found = self.blobs_at(id).await?;
            let wanted = hashes.to_vec();
            // KZG commitments take milliseconds per blob: off the async runtime.
            let matched = tokio::task::spawn_blocking(move || match_hashes(found, &wanted))
                .await
                .map_err(|e| format!("matching blobs: {e}"))??;
            if let Some(ordered) = matched {
                return Ok(ordered);
            }
        }
        Err(format!(
            "the beacon api at {} has no blobs {:?} for L1 block {} (tried block ids {ids:?})",
            self.url, hashes, block.number
        ))
    }
}

/// Orders `blobs` by `hashes`, each blob identified by the versioned hash of its KZG
/// commitment. None: some hash has no blob.
fn match_hashes(blobs: Vec<Blob>, hashes: &[B256]) -> Result<Option<Vec<Blob>>, String> {
    if blobs.is_empty() {
        return Ok(None);
    }
    let settings = EnvKzgSettings::Default.get();
    let mut keyed = Vec::with_capacity(blobs.len());
    for blob in blobs {
        let c_blob = alloy::eips::eip4844::c_kzg::Blob::new(blob.0);
        let commitment = settings
            .blob_to_kzg_commitment(&c_blob)
            .map_err(|e| format!("kzg commitment of a served blob: {e}"))?;
        keyed.push((kzg_to_versioned_hash(commitment.as_slice()), blob));
    }
    Ok(hashes
        .iter()
        .map(|h| keyed.iter().find(|(k, _)| k == h).map(|(_, b)| *b))
        .collect())
}
