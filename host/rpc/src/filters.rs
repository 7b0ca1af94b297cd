//! Polling filters: `eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`,
//! `eth_getFilterChanges`, `eth_getFilterLogs`, `eth_uninstallFilter`.
//!
//! Block and log filters remember the next block they have not reported and pull from the
//! backend when polled (robust to missed events). Pending-transaction filters are pushed: a
//! pump task receives [`ChainEvent::PendingTx`] and appends to each pending filter's bounded
//! buffer. A sweep task removes filters nobody polled within the timeout (geth: 5 minutes).
//! Both tasks start with the first installed filter and stop when the manager is dropped.
//!
//! Slots are per client as well as global: each filter holds a [`Reservation`] of its client's
//! filter count and criteria bytes (shared with WebSocket subscriptions), given back when the
//! filter goes, so one client cannot take every slot. A pending filter's buffer is a ring: a
//! full one drops its oldest hash in O(1).

use std::{
    collections::{HashMap, VecDeque, hash_map::RandomState},
    hash::BuildHasher,
    net::IpAddr,
    sync::{
        Arc, OnceLock, Weak,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::B256;
use alloy_rpc_types_eth::{Filter, FilterBlockOption, Log};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::{sync::broadcast::error::RecvError, time::Instant};

use crate::{
    BackendError, ChainEvent, EthBackend, RpcConfig,
    backend::blocking,
    clients::{Clients, Reservation, filter_bytes},
};

/// A fresh unguessable 128-bit id (filters, subscriptions), as geth hands out.
pub(crate) fn random_id() -> u128 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    let keys = KEYS.get_or_init(RandomState::new);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    (u128::from(keys.hash_one((n, 0u8))) << 64) | u128::from(keys.hash_one((n, 1u8)))
}

/// Formats an id the way geth does: `0x` and 32 hex digits.
pub(crate) fn format_id(id: u128) -> String {
    format!("0x{id:032x}")
}

/// Parses an id from `format_id` (leading zeros optional).
pub(crate) fn parse_id(text: &str) -> Option<u128> {
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))?;
    u128::from_str_radix(hex, 16).ok()
}

/// What `eth_getFilterChanges` returns: hashes (block and pending filters) or logs.
#[derive(Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub(crate) enum FilterChanges {
    /// Block hashes or transaction hashes.
    Hashes(Vec<B256>),
    /// Logs.
    Logs(Vec<Log>),
}

#[derive(Debug)]
enum Kind {
    /// Reports the hashes of blocks `next..=head`.
    Blocks { next: u64 },
    /// Reports the pushed pending transaction hashes (oldest first).
    PendingTxs { hashes: VecDeque<B256> },
    /// Reports logs matching `filter` in blocks `next..=head`.
    Logs { filter: Box<Filter>, next: u64 },
}

#[derive(Debug)]
struct Entry {
    kind: Kind,
    last_poll: Instant,
    /// The owner's slot; released when the entry is dropped.
    _slot: Reservation,
}

/// The installed filters of one server (shared by HTTP and WebSocket connections).
#[derive(Debug)]
pub(crate) struct FilterManager {
    filters: Mutex<HashMap<u128, Entry>>,
    /// Number of pending-transaction filters, read by the pump without the lock.
    pending_filters: AtomicUsize,
    tasks_started: AtomicBool,
    timeout: Duration,
    max_filters: usize,
    max_pending_hashes: usize,
    clients: Arc<Clients>,
}

impl FilterManager {
    pub(crate) fn new(config: &RpcConfig, clients: Arc<Clients>) -> Self {
        Self {
            clients,
            filters: Mutex::new(HashMap::new()),
            pending_filters: AtomicUsize::new(0),
            tasks_started: AtomicBool::new(false),
            timeout: config.filter_timeout,
            max_filters: config.max_filters,
            max_pending_hashes: config.max_filter_pending_txs,
        }
    }

    /// Installs a log filter reporting logs of blocks after the current head.
    pub(crate) fn new_log_filter(
        self: &Arc<Self>,
        backend: &Arc<dyn EthBackend>,
        filter: Filter,
        client: Option<IpAddr>,
    ) -> Result<String, BackendError> {
        let next = backend.head_number().saturating_add(1);
        let bytes = filter_bytes(&filter);
        self.install(
            backend,
            Kind::Logs {
                filter: Box::new(filter),
                next,
            },
            client,
            bytes,
        )
    }

    /// Installs a filter reporting the hashes of blocks after the current head.
    pub(crate) fn new_block_filter(
        self: &Arc<Self>,
        backend: &Arc<dyn EthBackend>,
        client: Option<IpAddr>,
    ) -> Result<String, BackendError> {
        let next = backend.head_number().saturating_add(1);
        self.install(backend, Kind::Blocks { next }, client, 256)
    }

    /// Installs a filter reporting hashes of transactions entering the pool.
    pub(crate) fn new_pending_tx_filter(
        self: &Arc<Self>,
        backend: &Arc<dyn EthBackend>,
        client: Option<IpAddr>,
    ) -> Result<String, BackendError> {
        // A full buffer is 32 bytes a hash; the budget counts it up front.
        let bytes = 256 + 32 * self.max_pending_hashes;
        self.install(
            backend,
            Kind::PendingTxs {
                hashes: VecDeque::new(),
            },
            client,
            bytes,
        )
    }

    fn install(
        self: &Arc<Self>,
        backend: &Arc<dyn EthBackend>,
        kind: Kind,
        client: Option<IpAddr>,
        bytes: usize,
    ) -> Result<String, BackendError> {
        self.start_tasks(backend);
        let is_pending = matches!(kind, Kind::PendingTxs { .. });
        let mut filters = self.filters.lock();
        if filters.len() >= self.max_filters {
            return Err(BackendError::limit_exceeded("too many filters"));
        }
        let slot = self.clients.reserve_filter(client, bytes)?;
        let mut id = random_id();
        while filters.contains_key(&id) {
            id = random_id();
        }
        filters.insert(
            id,
            Entry {
                kind,
                last_poll: Instant::now(),
                _slot: slot,
            },
        );
        if is_pending {
            self.pending_filters.fetch_add(1, Ordering::Relaxed);
        }
        drop(filters);
        tracing::debug!(target: "ordo::rpc", id = %format_id(id), "filter installed");
        Ok(format_id(id))
    }

    /// Removes a filter; `false` if there was none with this id.
    pub(crate) fn uninstall(&self, id: &str) -> bool {
        let Some(id) = parse_id(id) else { return false };
        let removed = self.filters.lock().remove(&id);
        match removed {
            Some(entry) => {
                if matches!(entry.kind, Kind::PendingTxs { .. }) {
                    self.pending_filters.fetch_sub(1, Ordering::Relaxed);
                }
                true
            }
            None => false,
        }
    }

    /// `eth_getFilterChanges`: what happened since the previous poll.
    pub(crate) async fn changes(
        &self,
        backend: &Arc<dyn EthBackend>,
        id: &str,
    ) -> Result<FilterChanges, BackendError> {
        let id = parse_id(id).ok_or_else(BackendError::filter_not_found)?;
        let head = backend.head_number();
        // Take what to report under the lock, fetch from the backend after releasing it.
        let work = {
            let mut filters = self.filters.lock();
            let entry = self.live_entry(&mut filters, id)?;
            entry.last_poll = Instant::now();
            match &mut entry.kind {
                Kind::PendingTxs { hashes } => {
                    return Ok(FilterChanges::Hashes(std::mem::take(hashes).into()));
                }
                Kind::Blocks { next } => {
                    let from = *next;
                    *next = (*next).max(head.saturating_add(1));
                    Work::Blocks { from, to: head }
                }
                Kind::Logs { filter, next } => {
                    let from = *next;
                    *next = (*next).max(head.saturating_add(1));
                    match log_range(filter, from, head, |t| backend.tag_number(t)) {
                        Some((from, to)) => {
                            let mut ranged = (**filter).clone();
                            ranged.block_option = FilterBlockOption::Range {
                                from_block: Some(BlockNumberOrTag::Number(from)),
                                to_block: Some(BlockNumberOrTag::Number(to)),
                            };
                            Work::Logs(Box::new(ranged))
                        }
                        None => return Ok(FilterChanges::Logs(Vec::new())),
                    }
                }
            }
        };
        match work {
            Work::Blocks { from, to } if from > to => Ok(FilterChanges::Hashes(Vec::new())),
            Work::Blocks { from, to } => {
                blocking(backend, move |backend| {
                    let mut hashes = Vec::with_capacity((to - from + 1).min(1024) as usize);
                    for number in from..=to {
                        if let Some(block) = backend.block(BlockId::number(number), false)? {
                            hashes.push(block.header.hash);
                        }
                    }
                    Ok(FilterChanges::Hashes(hashes))
                })
                .await
            }
            Work::Logs(filter) => {
                blocking(backend, move |backend| {
                    backend.logs(&filter).map(FilterChanges::Logs)
                })
                .await
            }
        }
    }

    /// `eth_getFilterLogs`: every log matching a log filter's whole range.
    pub(crate) async fn logs(
        &self,
        backend: &Arc<dyn EthBackend>,
        id: &str,
    ) -> Result<Vec<Log>, BackendError> {
        let id = parse_id(id).ok_or_else(BackendError::filter_not_found)?;
        let filter = {
            let mut filters = self.filters.lock();
            let entry = self.live_entry(&mut filters, id)?;
            entry.last_poll = Instant::now();
            match &entry.kind {
                Kind::Logs { filter, .. } => (**filter).clone(),
                _ => return Err(BackendError::filter_not_found()),
            }
        };
        blocking(backend, move |backend| backend.logs(&filter)).await
    }

    /// The entry for `id` unless it expired (an expired entry is removed here too, so expiry
    /// does not depend on the sweep's cadence).
    fn live_entry<'m>(
        &self,
        filters: &'m mut HashMap<u128, Entry>,
        id: u128,
    ) -> Result<&'m mut Entry, BackendError> {
        let expired = match filters.get(&id) {
            None => return Err(BackendError::filter_not_found()),
            Some(entry) => entry.last_poll.elapsed() > self.timeout,
        };
        if expired {
            if let Some(entry) = filters.remove(&id)
                && matches!(entry.kind, Kind::PendingTxs { .. })
            {
                self.pending_filters.fetch_sub(1, Ordering::Relaxed);
            }
            return Err(BackendError::filter_not_found());
        }
        filters
            .get_mut(&id)
            .ok_or_else(BackendError::filter_not_found)
    }

    /// Removes every filter not polled within the timeout; returns how many.
    pub(crate) fn sweep(&self) -> usize {
        let mut filters = self.filters.lock();
        let before = filters.len();
        let mut pending_removed = 0;
        filters.retain(|_, entry| {
            let keep = entry.last_poll.elapsed() <= self.timeout;
            if !keep && matches!(entry.kind, Kind::PendingTxs { .. }) {
                pending_removed += 1;
            }
            keep
        });
        self.pending_filters
            .fetch_sub(pending_removed, Ordering::Relaxed);
        before - filters.len()
    }

    /// Appends a pending transaction hash to every pending filter (dropping the oldest hash
    /// of a filter whose buffer is full).
    pub(crate) fn push_pending(&self, hash: B256) {
        if self.pending_filters.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut filters = self.filters.lock();
        for entry in filters.values_mut() {
            if let Kind::PendingTxs { hashes } = &mut entry.kind {
                while hashes.len() >= self.max_pending_hashes.max(1) {
                    hashes.pop_front();
                }
                hashes.push_back(hash);
            }
        }
    }

    /// Number of installed filters.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.filters.lock().len()
    }

    /// Starts the sweep and pending pump tasks once (needs a tokio runtime, which every caller
    /// inside a request handler has).
    fn start_tasks(self: &Arc<Self>, backend: &Arc<dyn EthBackend>) {
        if self.tasks_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let interval = (self.timeout / 4).max(Duration::from_millis(100));
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(manager) = weak.upgrade() else { break };
                let removed = manager.sweep();
                if removed > 0 {
                    tracing::debug!(target: "ordo::rpc", removed, "expired filters removed");
                }
            }
        });
        let weak: Weak<Self> = Arc::downgrade(self);
        let mut events = backend.subscribe();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(ChainEvent::PendingTx(hash)) => {
                        let Some(manager) = weak.upgrade() else { break };
                        manager.push_pending(hash);
                    }
                    Ok(ChainEvent::NewBlock { .. }) => {
                        if weak.strong_count() == 0 {
                            break;
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(target: "ordo::rpc", missed, "pending filter pump lagged");
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
    }
}

enum Work {
    Blocks { from: u64, to: u64 },
    Logs(Box<Filter>),
}

/// The numeric block range `[from, to]` a log filter should scan now, given the first
/// unreported block and the head; `None` if empty. A `blockHash` filter reports no changes
/// (its logs are available through `eth_getFilterLogs`).
/// `tag` resolves a block tag to its number now (`safe`, `finalized`).
fn log_range(
    filter: &Filter,
    next: u64,
    head: u64,
    tag: impl Fn(BlockNumberOrTag) -> u64,
) -> Option<(u64, u64)> {
    let FilterBlockOption::Range {
        from_block,
        to_block,
    } = &filter.block_option
    else {
        return None;
    };
    let from = match from_block {
        None | Some(BlockNumberOrTag::Latest | BlockNumberOrTag::Pending) => next,
        Some(t) => next.max(tag(*t)),
    };
    let to = match to_block {
        None | Some(BlockNumberOrTag::Latest | BlockNumberOrTag::Pending) => head,
        Some(t) => head.min(tag(*t)),
    };
    (from <= to).then_some((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_differ() {
        let a = random_id();
        let b = random_id();
        assert_ne!(a, b);
        let text = format_id(a);
        assert_eq!(text.len(), 34);
        assert_eq!(parse_id(&text), Some(a));
        assert_eq!(parse_id("0x1"), Some(1));
        assert_eq!(parse_id("1"), None);
    }

    #[test]
    fn log_range_clamps_to_the_filter_and_head() {
        let open = Filter::new();
        assert_eq!(log_range(&open, 5, 9, plain), Some((5, 9)));
        assert_eq!(log_range(&open, 10, 9, plain), None);
        let bounded = Filter::new().from_block(7u64).to_block(8u64);
        assert_eq!(log_range(&bounded, 5, 9, plain), Some((7, 8)));
        assert_eq!(log_range(&bounded, 9, 12, plain), None);
        assert_eq!(
            log_range(&Filter::new().at_block_hash(B256::ZERO), 1, 5, plain),
            None
        );
        // `safe` as the chain resolves it (here block 6): logs up to it, not the head.
        let safe = |t: BlockNumberOrTag| match t {
            BlockNumberOrTag::Safe => 6,
            other => plain(other),
        };
        let to_safe = Filter::new().to_block(BlockNumberOrTag::Safe);
        assert_eq!(log_range(&to_safe, 2, 9, safe), Some((2, 6)));
        assert_eq!(log_range(&to_safe, 7, 9, safe), None);
    }

    /// Tags as a backend without its own `safe`/`finalized` resolves them.
    fn plain(tag: BlockNumberOrTag) -> u64 {
        match tag {
            BlockNumberOrTag::Number(n) => n,
            BlockNumberOrTag::Earliest => 0,
            _ => 9,
        }
    }

    #[test]
    fn pending_buffer_is_bounded_and_sweep_counts() {
        let config = RpcConfig {
            max_filter_pending_txs: 2,
            filter_timeout: Duration::ZERO,
            ..RpcConfig::default()
        };
        let clients = crate::clients::Clients::new(config.client_limits());
        let manager = FilterManager::new(&config, clients.clone());
        manager.filters.lock().insert(
            1,
            Entry {
                kind: Kind::PendingTxs {
                    hashes: VecDeque::new(),
                },
                last_poll: Instant::now(),
                _slot: clients.reserve_filter(None, 0).unwrap(),
            },
        );
        manager.pending_filters.store(1, Ordering::Relaxed);
        for byte in 1..=3u8 {
            manager.push_pending(B256::repeat_byte(byte));
        }
        match &manager.filters.lock()[&1].kind {
            Kind::PendingTxs { hashes } => {
                assert_eq!(hashes, &[B256::repeat_byte(2), B256::repeat_byte(3)]);
            }
            other => panic!("unexpected kind {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(manager.sweep(), 1);
        assert_eq!(manager.len(), 0);
        assert_eq!(manager.pending_filters.load(Ordering::Relaxed), 0);
        assert!(!manager.uninstall("0x1"));
    }
}
