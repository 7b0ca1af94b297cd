//! The L1 blocks the sequencer may take as origins, with their deposits, fetched ahead of
//! the builder so that sealing a block never waits on L1.
//!
//! A background task follows L1 up to its head minus the confirmation depth, one block at a
//! time and in order, reading each block's header and the portal's deposits in it (by the
//! block's hash, so a block and its deposits always belong together). Each block must name
//! the one before it as its parent: an L1 reorg deeper than the confirmation depth breaks
//! that, and the feed then reports it ([`OriginFeed::broken`]) and stops, since a block built
//! on a dropped origin would be derived by nobody.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
    providers::{Provider, RootProvider},
};
use ordo_primitives::{DepositTx, L1Origin};
use parking_lot::Mutex;
use tracing::{info, warn};

use crate::{DepositReader, PortalError};

/// One L1 block as an origin: where it is, its parent, and the deposit transactions it
/// makes on L2 (in log order).
#[derive(Debug, Clone)]
pub struct FedOrigin {
    pub origin: L1Origin,
    pub parent_hash: B256,
    /// The block that moves to it starts with these: its L1-attributes deposit, then the
    /// portal's deposits.
    pub deposits: Vec<Arc<DepositTx>>,
}

/// Where the feed starts and how it follows L1.
#[derive(Debug, Clone)]
pub struct OriginFeedConfig {
    pub rpc_url: String,
    pub portal: Address,
    /// L1 blocks on top of a block before it may be an origin.
    pub confirmations: u64,
    /// The chain's newest origin: the feed goes on after it (and checks that L1 still has
    /// it). None: it starts at L1's confirmed head.
    pub after: Option<L1Origin>,
    /// The sequencing window, in L1 blocks (reported to the builder).
    pub window: u64,
    /// The chain's L1 fee scalars, for each origin's L1-attributes deposit.
    pub scalars: ordo_primitives::L1FeeScalars,
    pub poll: Duration,
}

#[derive(Default)]
struct FeedState {
    fetched: BTreeMap<u64, FedOrigin>,
    broken: Option<String>,
    /// L1's newest block with the confirmations, as last seen.
    confirmed: Option<u64>,
}

/// The origins fetched so far; cheap to clone.
#[derive(Clone)]
pub struct OriginFeed {
    state: Arc<Mutex<FeedState>>,
    window: u64,
}

/// Most origins held ahead of the builder.
const AHEAD: usize = 256;

impl OriginFeed {
    /// Starts following L1 on the current runtime.
    pub fn start(config: OriginFeedConfig) -> Result<Self, PortalError> {
        let reader = DepositReader::new(&config.rpc_url, config.portal)?;
        let provider = crate::portal::rpc_client(&config.rpc_url)?;
        let feed = Self {
            state: Default::default(),
            window: config.window,
        };
        let state = feed.state.clone();
        tokio::spawn(async move { follow(config, provider, reader, state).await });
        Ok(feed)
    }

    /// The fetched origin at L1 height `number`, if the feed has it.
    pub fn get(&self, number: u64) -> Option<FedOrigin> {
        self.state.lock().fetched.get(&number).cloned()
    }

    /// The lowest origin fetched (where a chain without origins starts).
    pub fn first(&self) -> Option<FedOrigin> {
        self.state.lock().fetched.values().next().cloned()
    }

    /// Forgets origins below `number` (the chain is past them).
    pub fn prune_below(&self, number: u64) {
        let mut state = self.state.lock();
        state.fetched = state.fetched.split_off(&number);
    }

    /// L1's newest block with the confirmations, as last seen (None before L1 answered).
    pub fn confirmed(&self) -> Option<u64> {
        self.state.lock().confirmed
    }

    /// The sequencing window, in L1 blocks.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Why the feed stopped (an L1 reorg below the confirmation depth), if it did.
    pub fn broken(&self) -> Option<String> {
        self.state.lock().broken.clone()
    }
}

async fn follow(
    config: OriginFeedConfig,
    provider: RootProvider,
    reader: DepositReader,
    state: Arc<Mutex<FeedState>>,
) {
    let mut next = config.after.map(|o| o.number + 1);
    let mut parent: Option<(u64, B256)> = config.after.map(|o| (o.number, o.hash));
    let mut backoff = config.poll;
    loop {
        match fetch_some(&config, &provider, &reader, &state, &mut next, &mut parent).await {
            Ok(true) => {
                backoff = config.poll;
                continue;
            }
            Ok(false) => backoff = config.poll,
            Err(FeedError::Broken(why)) => {
                warn!(target: "ordo::l1", %why, "origin feed stopped");
                state.lock().broken = Some(why);
                return;
            }
            Err(FeedError::Rpc(e)) => {
                warn!(target: "ordo::l1", %e, "reading L1 origins failed; retrying");
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
        tokio::time::sleep(backoff).await;
    }
}

enum FeedError {
    Rpc(String),
    Broken(String),
}

impl From<PortalError> for FeedError {
    fn from(e: PortalError) -> Self {
        Self::Rpc(e.to_string())
    }
}

/// Fetches what is confirmed and not fetched yet (up to the room ahead): whether it
/// fetched anything.
async fn fetch_some(
    config: &OriginFeedConfig,
    provider: &RootProvider,
    reader: &DepositReader,
    state: &Mutex<FeedState>,
    next: &mut Option<u64>,
    parent: &mut Option<(u64, B256)>,
) -> Result<bool, FeedError> {
    let rpc = |e: alloy::transports::TransportError| FeedError::Rpc(e.to_string());
    let head = provider.get_block_number().await.map_err(rpc)?;
    let Some(confirmed) = (head + 1).checked_sub(config.confirmations.max(1)) else {
        return Ok(false);
    };
    state.lock().confirmed = Some(confirmed);
    // A fresh start takes L1's confirmed head: deposits made before it are not the chain's.
    let from = *next.get_or_insert(confirmed);
    let room = AHEAD.saturating_sub(state.lock().fetched.len()) as u64;
    let to = confirmed.min(from.saturating_add(room.saturating_sub(1)));
    if from > to || room == 0 {
        return Ok(false);
    }
    for number in from..=to {
        let block = provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(rpc)?
            .ok_or_else(|| FeedError::Rpc(format!("L1 has no block {number} yet")))?;
        let header = &block.header;
        if let Some((at, hash)) = *parent
            && at + 1 == number
            && header.parent_hash != hash
        {
            return Err(FeedError::Broken(format!(
                "L1 block {number} no longer follows block {at} {hash}: L1 reorganised below \
                 the confirmation depth ({} blocks); the chain's origins may be gone",
                config.confirmations
            )));
        }
        let origin = crate::portal::origin_of(provider, header).await?;
        let deposits: Vec<Arc<DepositTx>> =
            match reader.origin_deposits(&origin, config.scalars).await {
                Ok(txs) => txs.into_iter().map(Arc::new).collect(),
                Err(PortalError::Deposit(e)) => return Err(FeedError::Broken(e.to_string())),
                Err(e) => return Err(e.into()),
            };
        if deposits.len() > 1 {
            info!(target: "ordo::l1", l1_block = number, deposits = deposits.len() - 1, "deposits seen on L1");
        }
        state.lock().fetched.insert(
            number,
            FedOrigin {
                origin,
                parent_hash: header.parent_hash,
                deposits,
            },
        );
        *parent = Some((number, header.hash));
        *next = Some(number + 1);
    }
    Ok(true)
}
