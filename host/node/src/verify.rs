//! `ordo verify`: rebuild the L2 chain from batch frames alone and check every block.
//!
//! Map of [`Deriver::apply_frame`] (one posted batch):
//! 1. decode the frame ([`BatchFrame`]); its index must be the next one;
//! 2. pick the codec the header names — the identity for [`CODEC_NONE`], else the
//!    compression plugin with the recorded code hash (the shipped ones are built in; more
//!    can be loaded from a folder) — and decompress;
//! 3. decode the payload ([`BatchPayload`]); every block must follow the chain so far
//!    (number and parent hash);
//! 4. re-execute each block with revm from the derived state ([`Executor::build_block`]);
//!    every transaction must execute (a block that would skip one is not the sequencer's);
//! 5. the rebuilt hashes must chain (each block's hash is the next one's parent) and the
//!    last block's hash and state root must equal the header's; then the block is stored.
//!
//! Where the frames come from is a [`FrameSource`]: the batch inbox on L1, or (for
//! checking a node's batches before they are posted) its `ordo_getBatch`.

use std::{path::Path, sync::Arc};

use alloy_primitives::B256;
use eyre::{WrapErr, bail, eyre};
use ordo_exec::{BlockParams, Executor, StateDb};
use ordo_plugins::{PluginKind, PluginManager};
use ordo_primitives::{
    BatchFrame, BatchPayload, BlockRecord, CODEC_NONE, Provenance, decode_raw_tx,
};
use ordo_storage::Storage;

use crate::NodeConfig;

/// Rebuilds the chain batch by batch into its own datadir.
pub struct Deriver {
    exec: Executor,
    storage: Storage,
    head: BlockRecord,
    codecs: Arc<PluginManager>,
    next_index: u64,
}

/// What one frame added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Batch index.
    pub index: u64,
    /// First block rebuilt.
    pub first_block: u64,
    /// Last block rebuilt.
    pub last_block: u64,
    /// Its hash.
    pub last_hash: B256,
}

impl Deriver {
    /// Opens (or creates) the verifier's chain in `config.datadir` from the same genesis as
    /// the sequencer, and loads the shipped codecs plus every `.wasm` in `plugin_dir`.
    pub fn open(config: &NodeConfig, plugin_dir: Option<&Path>) -> eyre::Result<Self> {
        let (storage, head) = crate::open_chain(config)?;
        if head.number() != 0 {
            bail!(
                "verifier datadir {} already holds blocks up to {}; use an empty one",
                config.datadir.display(),
                head.number()
            );
        }
        let chain_id = storage.chain_id()?.unwrap_or(config.chain_id);
        let state = Arc::new(StateDb::open(storage.clone())?);
        let codecs = PluginManager::open(Default::default(), None)?;
        for shipped in ordo_plugins::shipped::all() {
            if shipped.kind == PluginKind::Compression {
                codecs.load(shipped.kind, shipped.bytes, "")?;
            }
        }
        if let Some(dir) = plugin_dir {
            for entry in std::fs::read_dir(dir)
                .wrap_err_with(|| format!("reading plugin folder {}", dir.display()))?
            {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "wasm") {
                    let bytes = std::fs::read(&path)?;
                    // Not every file need be a codec; the others are skipped.
                    if let Err(e) = codecs.load(PluginKind::Compression, &bytes, "") {
                        tracing::debug!(target: "ordo::verify", path = %path.display(), %e, "not a codec");
                    }
                }
            }
        }
        Ok(Self {
            exec: Executor::new(state, chain_id),
            storage,
            head,
            codecs,
            next_index: 0,
        })
    }

    /// The index of the next batch to apply.
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// The last rebuilt block.
    pub fn head(&self) -> &BlockRecord {
        &self.head
    }

    fn decompress(&self, frame: &BatchFrame) -> eyre::Result<Vec<u8>> {
        let h = &frame.header;
        if h.codec_id == CODEC_NONE {
            return Ok(frame.data.to_vec());
        }
        let id = self
            .codecs
            .list()
            .loaded
            .into_iter()
            .find(|p| p.info.code_hash == h.codec_hash)
            .map(|p| p.info.id)
            .ok_or_else(|| {
                eyre!(
                    "batch {}: codec {} with code hash {} is not available (add it with --plugin-dir)",
                    h.index,
                    h.codec_id,
                    h.codec_hash
                )
            })?;
        self.codecs.activate(&id)?;
        let codec = self
            .codecs
            .compressor()
            .ok_or_else(|| eyre!("codec {id} did not activate"))?;
        if codec.codec_id() != h.codec_id {
            bail!(
                "batch {}: the plugin with code hash {} is codec {}, the header says {}",
                h.index,
                h.codec_hash,
                codec.codec_id(),
                h.codec_id
            );
        }
        codec
            .decompress(&frame.data)
            .map_err(|e| eyre!("batch {}: decompression failed: {e}", h.index))
    }

    /// Applies one posted frame; any mismatch is an error saying which batch and block.
    pub fn apply_frame(&mut self, bytes: &[u8]) -> eyre::Result<Applied> {
        let frame = BatchFrame::decode(bytes).map_err(|e| eyre!("batch frame: {e}"))?;
        let h = frame.header;
        if h.index != self.next_index {
            bail!(
                "batch {} where batch {} was expected (gap or reorder)",
                h.index,
                self.next_index
            );
        }
        let raw = self.decompress(&frame)?;
        let payload =
            BatchPayload::decode(&raw).map_err(|e| eyre!("batch {}: payload: {e}", h.index))?;
        let Some(first) = payload.blocks.first() else {
            bail!("batch {}: no blocks", h.index);
        };
        if first.number != h.first_block
            || payload.blocks.last().map(|b| b.number) != Some(h.last_block)
        {
            bail!(
                "batch {}: header says blocks {}..={}, payload holds {}..={}",
                h.index,
                h.first_block,
                h.last_block,
                first.number,
                payload.blocks.last().map_or(0, |b| b.number)
            );
        }
        for block in &payload.blocks {
            let parent = &self.head;
            if block.number != parent.number() + 1 {
                bail!(
                    "batch {}: block {} does not follow block {}",
                    h.index,
                    block.number,
                    parent.number()
                );
            }
            if block.parent_hash != parent.hash {
                bail!(
                    "batch {}: block {} names parent {}, but the derived block {} is {}",
                    h.index,
                    block.number,
                    block.parent_hash,
                    parent.number(),
                    parent.hash
                );
            }
            let txs = block
                .txs
                .iter()
                .enumerate()
                .map(|(i, raw)| {
                    decode_raw_tx(raw)
                        .map(Arc::new)
                        .map_err(|e| eyre!("batch {}: block {} tx {i}: {e}", h.index, block.number))
                })
                .collect::<eyre::Result<Vec<_>>>()?;
            let params = BlockParams {
                number: block.number,
                timestamp: block.timestamp,
                beneficiary: block.beneficiary,
                gas_limit: block.gas_limit,
                base_fee: block.base_fee,
                extra_data: block.extra_data.clone(),
                state_block: None,
            };
            let built = self.exec.build_block(
                &parent.header,
                parent.hash,
                &params,
                &txs,
                Provenance {
                    policy: "derived".into(),
                    ..Default::default()
                },
            )?;
            if let Some((hash, why)) = built.skipped.first() {
                bail!(
                    "batch {}: block {}: transaction {hash} does not execute: {why:?}",
                    h.index,
                    block.number
                );
            }
            self.storage.commit_block(&built.commit)?;
            self.exec.state().apply(&built.commit);
            self.head = built.block;
        }
        if self.head.hash != h.last_block_hash || self.head.header.state_root != h.state_root {
            bail!(
                "batch {}: block {} derives to hash {} / state root {}, the batch says {} / {}",
                h.index,
                self.head.number(),
                self.head.hash,
                self.head.header.state_root,
                h.last_block_hash,
                h.state_root
            );
        }
        self.next_index += 1;
        Ok(Applied {
            index: h.index,
            first_block: h.first_block,
            last_block: h.last_block,
            last_hash: self.head.hash,
        })
    }
}

/// Where frames come from, in batch order.
#[derive(Debug, Clone)]
pub enum FrameSource {
    /// The batch inbox on L1: calldata or blobs of transactions from `batcher` to `inbox`,
    /// in L1 order, starting at L1 block `from_block`.
    L1 {
        /// L1 JSON-RPC URL.
        rpc: String,
        /// Batch inbox address.
        inbox: alloy_primitives::Address,
        /// The batcher's address (transactions from anyone else are ignored).
        batcher: alloy_primitives::Address,
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

async fn rpc_call(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    params: serde_json::Value,
) -> eyre::Result<serde_json::Value> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let resp: serde_json::Value = client
        .post(url)
        .json(&body)
        .send()
        .await
        .wrap_err_with(|| format!("connecting to {url}"))?
        .json()
        .await
        .wrap_err_with(|| format!("{method}: response is not JSON"))?;
    if let Some(err) = resp.get("error") {
        bail!("{method} at {url}: {err}");
    }
    Ok(resp.get("result").cloned().unwrap_or_default())
}

fn hex_field(v: &serde_json::Value, field: &str) -> eyre::Result<Vec<u8>> {
    let s = v[field]
        .as_str()
        .ok_or_else(|| eyre!("{field} missing in {v}"))?;
    Ok(alloy_primitives::hex::decode(s)?)
}

/// A JSON-RPC hex quantity.
fn quantity(v: &serde_json::Value) -> eyre::Result<u64> {
    let q: alloy_primitives::U64 =
        serde_json::from_value(v.clone()).map_err(|e| eyre!("not a hex quantity: {v}: {e}"))?;
    Ok(q.to())
}

impl FrameSource {
    /// Every frame currently available, in order.
    pub async fn frames(&self) -> eyre::Result<Vec<Vec<u8>>> {
        let client = reqwest::Client::new();
        match self {
            Self::Node { rpc } => {
                let mut out = Vec::new();
                loop {
                    let index = format!("{:#x}", out.len());
                    let batch =
                        rpc_call(&client, rpc, "ordo_getBatch", serde_json::json!([index])).await?;
                    if batch.is_null() {
                        return Ok(out);
                    }
                    out.push(hex_field(&batch, "frame")?);
                }
            }
            Self::L1 {
                rpc,
                inbox,
                batcher,
                from_block,
                beacon,
            } => {
                let mut beacon = ordo_l1::BeaconClient::new(beacon.as_deref().unwrap_or(rpc));
                let head = rpc_call(&client, rpc, "eth_blockNumber", serde_json::json!([])).await?;
                let head = quantity(&head)?;
                let mut out = Vec::new();
                for n in *from_block..=head {
                    let block = rpc_call(
                        &client,
                        rpc,
                        "eth_getBlockByNumber",
                        serde_json::json!([format!("{n:#x}"), true]),
                    )
                    .await?;
                    for tx in block["transactions"].as_array().into_iter().flatten() {
                        let to = tx["to"].as_str().and_then(|s| s.parse().ok());
                        let from = tx["from"].as_str().and_then(|s| s.parse().ok());
                        if to != Some(*inbox) || from != Some(*batcher) {
                            continue;
                        }
                        // A reverted inbox transaction (an inbox contract refusing it) still
                        // carries its data; the poster counts it as posted, and so does
                        // derivation, or its index would be a gap for good.
                        let hashes = tx["blobVersionedHashes"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .map(|h| h.as_str().unwrap_or_default().parse::<B256>())
                                    .collect::<Result<Vec<_>, _>>()
                            })
                            .transpose()?
                            .unwrap_or_default();
                        if hashes.is_empty() {
                            out.push(hex_field(tx, "input")?);
                            continue;
                        }
                        let at = ordo_l1::BlobBlock {
                            number: n,
                            hash: block["hash"]
                                .as_str()
                                .ok_or_else(|| eyre!("L1 block {n} has no hash"))?
                                .parse()?,
                            timestamp: quantity(&block["timestamp"])?,
                        };
                        let blobs = beacon
                            .blobs(at, &hashes)
                            .await
                            .map_err(|e| eyre!("L1 block {n} tx {}: {e}", tx["hash"]))?;
                        let data = ordo_l1::decode_blobs(&blobs).ok_or_else(|| {
                            eyre!(
                                "L1 block {n} tx {}: blobs do not hold length-prefixed data",
                                tx["hash"]
                            )
                        })?;
                        out.push(data);
                    }
                }
                Ok(out)
            }
        }
    }
}

/// Runs `ordo verify`: derives every available batch and, with `compare_rpc`, checks each
/// rebuilt block's hash against that node, and with `sequencer` also that the node holds the
/// sequencer's signature over each rebuilt block hash. Returns the applied batches.
pub async fn run(
    config: &NodeConfig,
    source: &FrameSource,
    compare_rpc: Option<&str>,
    sequencer: Option<alloy_primitives::Address>,
    plugin_dir: Option<&Path>,
) -> eyre::Result<Vec<Applied>> {
    if sequencer.is_some() && compare_rpc.is_none() {
        bail!("--sequencer needs --compare-rpc (block signatures come from the node)");
    }
    let frames = source.frames().await?;
    if frames.is_empty() {
        bail!("no batches found at the source");
    }
    let mut deriver = Deriver::open(config, plugin_dir)?;
    let client = reqwest::Client::new();
    let mut applied = Vec::with_capacity(frames.len());
    // L1 may carry a batch after later ones (a re-post under a fresh nonce while several
    // were in flight): frames wait here, by index, until their turn.
    let mut waiting: std::collections::BTreeMap<u64, &[u8]> = Default::default();
    let mut ready: Vec<&[u8]> = Vec::new();
    let mut undecodable: Vec<&[u8]> = Vec::new();
    for frame in &frames {
        let Ok(f) = BatchFrame::decode(frame) else {
            // Reported after the batches that do decode are applied in order.
            undecodable.push(frame);
            continue;
        };
        if waiting.contains_key(&f.header.index) {
            // The same batch posted twice (a poster that crashed between a fee bump and its
            // record): the first on L1 counts.
            println!("batch {}: posted again, skipped", f.header.index);
            continue;
        }
        waiting.insert(f.header.index, frame);
    }
    let mut next = 0u64;
    while let Some(frame) = waiting.remove(&next) {
        ready.push(frame);
        next += 1;
    }
    // Applied in order up to the gap; then what does not decode, then the gap itself.
    ready.extend(undecodable);
    if let Some((&index, _)) = waiting.iter().next() {
        ready.push(waiting[&index]);
    }
    for frame in ready {
        let a = tokio::task::block_in_place(|| deriver.apply_frame(frame))?;
        if let Some(url) = compare_rpc {
            for n in a.first_block..=a.last_block {
                let theirs = rpc_call(
                    &client,
                    url,
                    "eth_getBlockByNumber",
                    serde_json::json!([format!("{n:#x}"), false]),
                )
                .await?;
                let theirs: B256 = theirs["hash"]
                    .as_str()
                    .ok_or_else(|| eyre!("{url} has no block {n}"))?
                    .parse()?;
                let ours = deriver
                    .storage
                    .block(n)?
                    .ok_or_else(|| eyre!("derived block {n} missing"))?
                    .hash;
                if ours != theirs {
                    bail!("block {n}: derived hash {ours}, {url} says {theirs}");
                }
                if let Some(expected) = sequencer {
                    let p = rpc_call(
                        &client,
                        url,
                        "ordo_getBlockProvenance",
                        serde_json::json!([format!("{n:#x}")]),
                    )
                    .await?;
                    let signature = p["signature"]
                        .as_str()
                        .ok_or_else(|| eyre!("block {n}: {url} has no sequencer signature"))?;
                    let signature = alloy_primitives::hex::decode(signature)?;
                    let chain_id = deriver.exec.chain_id();
                    match crate::keys::block_signer(chain_id, ours, &signature) {
                        Some(who) if who == expected => {}
                        who => bail!(
                            "block {n}: signature is by {}, not the sequencer {expected}",
                            who.map_or("nobody (invalid)".to_string(), |a| a.to_string())
                        ),
                    }
                }
            }
        }
        println!(
            "batch {}: blocks {}..={} ok ({})",
            a.index, a.first_block, a.last_block, a.last_hash
        );
        applied.push(a);
    }
    let head = deriver.head();
    println!(
        "verified {} batches: blocks 1..={}, head {} state root {}",
        applied.len(),
        head.number(),
        head.hash,
        head.header.state_root
    );
    Ok(applied)
}
