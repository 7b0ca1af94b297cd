//! [`verify`]: read every frame from a source, derive them in order and, optionally, compare
//! each rebuilt block with a node (hash, and the sequencer's signature).

use std::sync::Arc;

use alloy_primitives::{Address, B256};
use ordo_hooks::BatchCodecs;
use ordo_primitives::BlockRecord;
use ordo_rpc_client::RpcClient;
use serde_json::json;

use crate::{
    deposits,
    deriver::{Applied, DeriveConfig, Deriver},
    error::DeriveError,
    order::order_frames,
    rpc::{call, client, hash},
    source::FrameSource,
};

/// What to check besides the batches themselves.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Compare every rebuilt block hash with this node's (JSON-RPC URL); default: no
    /// comparison.
    pub compare_rpc: Option<String>,
    /// Also check that the node holds this sequencer's signature over every rebuilt block
    /// hash (needs `compare_rpc`); default: no check.
    pub sequencer: Option<Address>,
    /// Check every block's deposits against this portal's logs on this L1 (JSON-RPC URL,
    /// portal address); default: no check.
    pub deposits: Option<(String, Address)>,
}

/// Progress, reported as it happens (a failure stops the run after what was reported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The same batch appeared again on the source; the first one counts.
    Duplicate {
        /// Its index.
        index: u64,
    },
    /// A batch derived (and, with a node to compare with, matched it).
    Applied(Applied),
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Every batch applied, in order.
    pub applied: Vec<Applied>,
    /// The last rebuilt block.
    pub head: BlockRecord,
}

/// Derives every batch `source` holds into `config.datadir`, decoding them with `codecs`,
/// and, per `options`, checks each rebuilt block against a node. Needs a multi-threaded
/// runtime (re-execution runs in place on it).
pub async fn verify(
    config: &DeriveConfig,
    codecs: Arc<dyn BatchCodecs>,
    source: &FrameSource,
    options: &VerifyOptions,
    mut on_event: impl FnMut(&Event),
) -> Result<Verified, DeriveError> {
    if options.sequencer.is_some() && options.compare_rpc.is_none() {
        return Err(DeriveError::SequencerWithoutCompare);
    }
    let frames = source.frames().await?;
    if frames.is_empty() {
        return Err(DeriveError::NoBatches);
    }
    let mut deriver = Deriver::open(config, codecs)?;
    let node = options.compare_rpc.as_deref().map(client).transpose()?;
    let ordered = order_frames(&frames);
    for index in ordered.duplicates {
        on_event(&Event::Duplicate { index });
    }
    let portal = options
        .deposits
        .as_ref()
        .map(|(url, portal)| ordo_l1::DepositReader::new(url, *portal))
        .transpose()
        .map_err(|e| DeriveError::Malformed(format!("the L1 for deposits: {e}")))?;
    let mut applied = Vec::with_capacity(ordered.frames.len());
    for frame in ordered.frames {
        let a = tokio::task::block_in_place(|| deriver.apply_frame(frame))?;
        if let Some(portal) = &portal {
            for n in a.first_block..=a.last_block {
                check_deposits(portal, &deriver, n).await?;
            }
        }
        if let Some(node) = &node {
            for n in a.first_block..=a.last_block {
                compare_block(node, &deriver, n, options.sequencer).await?;
            }
        }
        on_event(&Event::Applied(a));
        applied.push(a);
    }
    Ok(Verified {
        applied,
        head: deriver.head().clone(),
    })
}

/// Derived block `n` keeps the deposits rule ([`crate::deposits`]), with its origin's
/// deposits read from L1.
async fn check_deposits(
    portal: &ordo_l1::DepositReader,
    deriver: &Deriver,
    n: u64,
) -> Result<(), DeriveError> {
    let block = deriver
        .block(n)?
        .ok_or(DeriveError::MissingDerivedBlock(n))?;
    let parent = match n {
        0 => None,
        _ => deriver.block(n - 1)?.and_then(|p| deposits::origin_of(&p)),
    };
    let origin = deposits::origin_of(&block);
    let on_l1 = match origin {
        Some(hash) if origin != parent => {
            let l1 = |e: ordo_l1::PortalError| DeriveError::Malformed(format!("L1: {e}"));
            match portal.parent_of(hash).await.map_err(l1)? {
                Some(parent_hash) => Some(deposits::OriginOnL1 {
                    parent_hash,
                    deposits: portal
                        .deposits_in(hash)
                        .await
                        .map_err(l1)?
                        .iter()
                        .map(|log| {
                            log.to_tx()
                                .map(|tx| ordo_primitives::DepositTx::new(tx).encoded)
                                .map_err(|e| DeriveError::Deposits {
                                    block: n,
                                    why: e.to_string(),
                                })
                        })
                        .collect::<Result<_, _>>()?,
                }),
                None => None,
            }
        }
        _ => None,
    };
    deposits::check(&block, parent, on_l1.as_ref())
        .map_err(|why| DeriveError::Deposits { block: n, why })
}

/// Block `n` at `node` is the derived one, and signed by `sequencer` when given.
async fn compare_block(
    node: &RpcClient,
    deriver: &Deriver,
    n: u64,
    sequencer: Option<Address>,
) -> Result<(), DeriveError> {
    let url = node.url();
    let theirs = call(
        node,
        "eth_getBlockByNumber",
        json!([format!("{n:#x}"), false]),
    )
    .await?;
    if theirs["hash"].as_str().is_none() {
        return Err(DeriveError::MissingBlock {
            url: url.to_string(),
            block: n,
        });
    }
    let theirs: B256 = hash(&theirs["hash"], &format!("block {n} hash"))?;
    let ours = deriver
        .block(n)?
        .ok_or(DeriveError::MissingDerivedBlock(n))?
        .hash;
    if ours != theirs {
        return Err(DeriveError::HashMismatch {
            block: n,
            ours,
            url: url.to_string(),
            theirs,
        });
    }
    let Some(expected) = sequencer else {
        return Ok(());
    };
    let p = call(node, "ordo_getBlockProvenance", json!([format!("{n:#x}")])).await?;
    let signature = p["signature"]
        .as_str()
        .ok_or_else(|| DeriveError::NoSignature {
            block: n,
            url: url.to_string(),
        })?;
    let signature = alloy_primitives::hex::decode(signature)
        .map_err(|e| DeriveError::Malformed(format!("block {n}: signature is not hex: {e}")))?;
    match ordo_primitives::block_signer(deriver.chain_id(), ours, &signature) {
        Some(who) if who == expected => Ok(()),
        signer => Err(DeriveError::WrongSigner {
            block: n,
            signer,
            expected,
        }),
    }
}
