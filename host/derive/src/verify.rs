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
    /// Check every block's deposits against a portal's logs on L1, and the sequencing
    /// window; default: no check.
    pub deposits: Option<DepositCheck>,
    /// Check every output on L1 (and its attestation) against the derived chain; default:
    /// no check.
    pub outputs: Option<crate::OutputCheck>,
}

/// Where deposits come from, and the window batches must reach L1 within.
#[derive(Debug, Clone)]
pub struct DepositCheck {
    /// L1 JSON-RPC URL.
    pub l1_rpc: String,
    /// The deposit portal.
    pub portal: Address,
    /// The sequencing window, in L1 blocks.
    pub window: u64,
}

/// Progress, reported as it happens (a failure stops the run after what was reported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Every output on L1 matched the derived chain (and its attestation the prover's).
    Outputs {
        /// How many outputs the oracle holds.
        count: usize,
    },
    /// The same batch appeared again on the source; the first one counts.
    Duplicate {
        /// Its index.
        index: u64,
    },
    /// A batch derived (and, with a node to compare with, matched it).
    Applied(Applied),
    /// A deposit-only block derivation made for an origin whose sequencing window passed
    /// with no batch for it.
    DepositOnly {
        /// The block's number and hash.
        block: u64,
        hash: B256,
        /// The L1 origin.
        l1_block: u64,
        /// How many deposits from L1 users it holds (besides its L1-attributes deposit).
        deposits: usize,
    },
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
    let posted_outputs = match &options.outputs {
        Some(check) => Some(crate::outputs::read(check).await?),
        None => None,
    };
    let (frames, landed): (Vec<Vec<u8>>, Vec<Option<u64>>) =
        source.frames_landed().await?.into_iter().unzip();
    if frames.is_empty() {
        return Err(DeriveError::NoBatches);
    }
    // Where a frame (one of `frames`, as ordered) landed on L1.
    let landed_at = |frame: &[u8]| {
        frames
            .iter()
            .position(|f| f.as_ptr() == frame.as_ptr())
            .and_then(|i| landed[i])
    };
    let mut deriver = Deriver::open(config, codecs)?;
    let node = options.compare_rpc.as_deref().map(client).transpose()?;
    let ordered = order_frames(&frames);
    for index in ordered.duplicates {
        on_event(&Event::Duplicate { index });
    }
    let portal = options
        .deposits
        .as_ref()
        .map(|check| {
            ordo_l1::DepositReader::new(&check.l1_rpc, check.portal).map(|r| (r, check.window))
        })
        .transpose()
        .map_err(|e| DeriveError::Malformed(format!("the L1 for deposits: {e}")))?;
    // What every origin's L1-attributes deposit hands L1Block besides L1's values.
    let scalars = config.chain.l1_fee_scalars;
    let mut applied = Vec::with_capacity(ordered.frames.len());
    let mut seen = None;
    let mut applied_frames = Vec::with_capacity(ordered.frames.len());
    for frame in ordered.frames {
        let at = landed_at(frame);
        let a = tokio::task::block_in_place(|| deriver.apply_frame(frame))?;
        if let Some((portal, window)) = &portal {
            for n in a.first_block..=a.last_block {
                let window = at.map(|l| (l, *window));
                check_deposits(portal, scalars, &deriver, n, window, &mut seen).await?;
            }
        }
        if let Some(node) = &node {
            for n in a.first_block..=a.last_block {
                compare_block(node, &deriver, n, options.sequencer).await?;
            }
        }
        on_event(&Event::Applied(a));
        applied.push(a);
        applied_frames.push(frame);
    }
    if let Some((portal, window)) = &portal {
        let node = node.as_ref();
        force_deposits(portal, scalars, *window, &mut deriver, node, &mut on_event).await?;
    }
    if let Some(outputs) = &posted_outputs {
        tokio::task::block_in_place(|| crate::outputs::check(&deriver, outputs, &applied_frames))?;
        on_event(&Event::Outputs {
            count: outputs.len(),
        });
    }
    Ok(Verified {
        applied,
        head: deriver.head().clone(),
    })
}

/// Derived block `n` keeps the deposits rule ([`crate::deposits`]), with its origin's
/// deposits read from L1; with `window` = (the L1 block its batch landed in, the window),
/// also the sequencing window: a block whose batch landed after its origin's window must be
/// that origin's deposit-only block. `seen` keeps the last origin looked up on L1, so a run
/// of blocks with one origin asks L1 once.
async fn check_deposits(
    portal: &ordo_l1::DepositReader,
    scalars: ordo_primitives::L1FeeScalars,
    deriver: &Deriver,
    n: u64,
    window: Option<(u64, u64)>,
    seen: &mut Option<ordo_l1::L1BlockRef>,
) -> Result<(), DeriveError> {
    let l1 = |e: ordo_l1::PortalError| DeriveError::Malformed(format!("L1: {e}"));
    let block = deriver
        .block(n)?
        .ok_or(DeriveError::MissingDerivedBlock(n))?;
    let parent_block = match n {
        0 => None,
        _ => deriver.block(n - 1)?,
    };
    let parent = parent_block.as_ref().and_then(deposits::origin_of);
    let origin = deposits::origin_of(&block);
    let at = match origin {
        Some(hash) if seen.is_some_and(|s| s.origin.hash == hash) => *seen,
        Some(hash) => {
            *seen = portal.block_by_hash(hash).await.map_err(l1)?;
            *seen
        }
        None => None,
    };
    if let Some(at) = &at {
        deposits::check_beacon_root(&block, &at.origin, deriver.beacon_roots_from())
            .map_err(|why| DeriveError::Deposits { block: n, why })?;
    }
    if let (Some((landed, window)), Some(at), Some(parent_block)) =
        (window, at, parent_block.as_ref())
        && at.origin.number.saturating_add(window) < landed
    {
        deposits::check_deposit_only(
            &block,
            parent_block,
            &at.origin,
            deriver.beacon_roots_from(),
        )
        .map_err(|why| DeriveError::Deposits { block: n, why })?;
    }
    let on_l1 = match at.filter(|_| origin != parent) {
        Some(at) => Some(deposits::OriginOnL1 {
            parent_hash: at.parent_hash,
            deposits: portal
                .origin_deposits(&at.origin, scalars)
                .await
                .map_err(|e| DeriveError::Deposits {
                    block: n,
                    why: e.to_string(),
                })?
                .into_iter()
                .map(|d| d.encoded)
                .collect(),
        }),
        None => None,
    };
    deposits::check(&block, parent, on_l1.as_ref())
        .map_err(|why| DeriveError::Deposits { block: n, why })
}

/// Derivation's part of the sequencing window: after the last posted block, every L1
/// origin whose window has passed gets its deposit-only block, so a halted or censoring
/// sequencer cannot keep a deposit out. A node to compare with is compared on the blocks it
/// has (a halted sequencer has none of them yet).
async fn force_deposits(
    portal: &ordo_l1::DepositReader,
    scalars: ordo_primitives::L1FeeScalars,
    window: u64,
    deriver: &mut Deriver,
    node: Option<&RpcClient>,
    on_event: &mut impl FnMut(&Event),
) -> Result<(), DeriveError> {
    let l1 = |e: ordo_l1::PortalError| DeriveError::Malformed(format!("L1: {e}"));
    let Some(mut current) = deposits::origin_of(deriver.head()) else {
        return Ok(());
    };
    let mut number = match portal.block_by_hash(current).await.map_err(l1)? {
        Some(at) => at.origin.number,
        None => return Ok(()),
    };
    loop {
        let (next, head) = portal.block_at(number + 1).await.map_err(l1)?;
        let Some(next) = next else { return Ok(()) };
        if next.origin.number.saturating_add(window) > head {
            return Ok(());
        }
        if next.parent_hash != current {
            return Err(DeriveError::Malformed(format!(
                "L1 block {} does not follow the derived chain's origin {current}",
                next.origin.number
            )));
        }
        let deposits: Vec<_> = portal
            .origin_deposits(&next.origin, scalars)
            .await
            .map_err(l1)?
            .into_iter()
            .map(Arc::new)
            .collect();
        // Those from L1 users, besides the origin's L1-attributes deposit.
        let count = deposits.len() - 1;
        let block = tokio::task::block_in_place(|| {
            deriver.apply_deposit_only(&next.origin, deposits).cloned()
        })?;
        if let Some(node) = node
            && !call(
                node,
                "eth_getBlockByNumber",
                json!([format!("{:#x}", block.number()), false]),
            )
            .await?
            .is_null()
        {
            compare_block(node, deriver, block.number(), None).await?;
        }
        on_event(&Event::DepositOnly {
            block: block.number(),
            hash: block.hash,
            l1_block: next.origin.number,
            deposits: count,
        });
        current = next.origin.hash;
        number = next.origin.number;
    }
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
