//! The in-memory queues: per-sender nonce maps, the pending/queued split, replacement,
//! capacity eviction, re-validation and the candidate list. Pure data structure: no I/O, no
//! locking, no clock reads (callers pass `now`). [`crate::Pool`] wraps it in one lock.
//!
//! Layout:
//! - `senders`: `Address → SenderTxs { state nonce, balance, nonce → Entry }`. A sender's
//!   *pending* transactions are the run of consecutive nonces starting at its state nonce;
//!   everything above a gap is *queued*.
//! - `by_hash`: `hash → (sender, nonce)`, for lookups and duplicate detection.
//! - `tails`: one [`TailKey`] per sender (its highest-nonce transaction), ordered
//!   cheapest-first with queued before pending. Eviction takes from the front, so it only
//!   ever removes a sender's last transaction and never opens a nonce gap.
//! - `inflight`: hashes between the pre-check and the insert (their WAL write is in
//!   progress), so a concurrent duplicate is "already known" before touching the WAL.
//! - `ready`: every pending transaction in the order candidates are offered ([`ReadyKey`]),
//!   with the lowest fee cap of its sender's run up to it. Kept up to date sender by sender
//!   as their transactions change, so a block's candidates are read off in order, and a
//!   block's pool work is the senders it touched, not the pool.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, U256};
use ordo_primitives::{Candidate, PooledTx};

use crate::validate::{check_replacement, eviction_price};
use crate::{PoolConfig, PoolError};

/// An account as read from state at some point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Account {
    /// The account nonce.
    pub nonce: u64,
    /// The account balance.
    pub balance: U256,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Why re-validation after a block dropped a transaction (what `ordo_txStatus` reports).
pub(crate) const DROP_NONCE_TOO_LOW: &str = "nonce too low";
/// See [`DROP_NONCE_TOO_LOW`].
pub(crate) const DROP_INSUFFICIENT_FUNDS: &str = "insufficient funds for gas * price + value";
/// See [`DROP_NONCE_TOO_LOW`].
pub(crate) const DROP_EXPIRED: &str = "queued too long behind a nonce gap";

/// One pooled transaction with the facts the pool ranks it by.
#[derive(Debug)]
struct Entry {
    tx: Arc<PooledTx>,
    /// Arrival order (global, monotonic).
    seq: u64,
    /// Eviction price: the tip at the minimum base fee at insert time.
    price: u128,
    /// `gas * fee cap + value`.
    cost: U256,
    /// When it entered the pool (queued TTL).
    added: Instant,
    /// When it entered the pool, as wall-clock milliseconds (what ordering policies see).
    arrival_ms: u64,
}

/// The eviction rank of a sender's last transaction. Ordered cheapest first: queued before
/// pending, then by price, then newest first among equals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct TailKey {
    pending: bool,
    price: u128,
    newest_first: Reverse<u64>,
    sender: Address,
}

/// Where a pending transaction stands among the candidates: the latest arrival among its
/// sender's pending run up to and including it, then the sender and the nonce. The latest
/// arrival never decreases along a run, so this order keeps every sender's nonce order and
/// otherwise follows arrival (arrival numbers are unique, so two senders never tie).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct ReadyKey {
    latest: u64,
    sender: Address,
    nonce: u64,
}

/// A pending transaction as a candidate. `floor` is the lowest fee cap along its sender's
/// run up to it: the transaction is executable at a base fee only if `floor` covers it.
#[derive(Debug)]
struct Ready {
    floor: u128,
    tx: Arc<PooledTx>,
    seq: u64,
    arrival_ms: u64,
}

/// What one sender has in `TxPool::ready`: the key, the floor and the hash, per pending
/// transaction in nonce order.
type ReadyEntry = (ReadyKey, u128, B256);

/// One sender's transactions and the account state they were last validated against.
#[derive(Debug, Default)]
struct SenderTxs {
    nonce: u64,
    balance: U256,
    txs: BTreeMap<u64, Entry>,
    /// This sender's key in `TxPool::tails`.
    tail: Option<TailKey>,
    /// This sender's entries in `TxPool::ready`.
    ready: Vec<ReadyEntry>,
}

/// One sender's pooled transactions, pending and queued, each in nonce order.
#[derive(Debug, Clone, Default)]
pub struct SenderContent {
    /// Executable now: the consecutive run from the account nonce.
    pub pending: Vec<Arc<PooledTx>>,
    /// Waiting for a nonce gap to close.
    pub queued: Vec<Arc<PooledTx>>,
}

/// The first nonce after the consecutive run of `txs` starting at `from`.
fn run_end(txs: &BTreeMap<u64, Entry>, from: u64) -> u64 {
    let mut next = from;
    for nonce in txs.range(from..).map(|(n, _)| *n) {
        if nonce != next {
            break;
        }
        next += 1;
    }
    next
}

/// What an admitted transaction does to the pool: the transaction it replaces and the
/// transactions evicted to make room, as `(sender, nonce)`.
#[derive(Debug, Default)]
struct Admission {
    replaces: Option<u64>,
    evict: Vec<(Address, u64)>,
}

/// Hashes that left the pool because of an insert (all must leave the WAL too).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Inserted {
    /// The same-nonce transaction this one replaced.
    pub replaced: Option<B256>,
    /// Transactions evicted for capacity.
    pub evicted: Vec<B256>,
    /// Transactions found below the sender's (newer) state nonce: included or invalid.
    pub stale: Vec<B256>,
}

impl Inserted {
    /// Every hash that left the pool.
    pub fn removed(self) -> impl Iterator<Item = B256> {
        self.replaced
            .into_iter()
            .chain(self.evicted)
            .chain(self.stale)
    }
}

/// The mempool's data structure. See the module docs.
#[derive(Debug)]
pub(crate) struct TxPool {
    config: PoolConfig,
    senders: HashMap<Address, SenderTxs>,
    by_hash: HashMap<B256, (Address, u64)>,
    tails: BTreeSet<TailKey>,
    ready: BTreeMap<ReadyKey, Ready>,
    /// Entries put into or taken out of `ready` so far (what keeping the order costs).
    ready_writes: u64,
    inflight: HashSet<B256>,
    /// Sum of the senders' `pending`.
    pending: usize,
    /// Sum of the pooled transactions' encoded sizes.
    bytes: usize,
}

impl TxPool {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Self {
        Self {
            config,
            senders: HashMap::new(),
            by_hash: HashMap::new(),
            tails: BTreeSet::new(),
            ready: BTreeMap::new(),
            ready_writes: 0,
            inflight: HashSet::new(),
            pending: 0,
            bytes: 0,
        }
    }

    /// Number of pooled transactions.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Number of executable transactions.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Encoded bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `hash` is pooled.
    pub fn contains(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Whether `hash` is pooled or being written.
    pub fn is_known(&self, hash: &B256) -> bool {
        self.contains(hash) || self.inflight.contains(hash)
    }

    /// Whether `hash` is being written (reserved, not yet pooled).
    pub fn is_in_flight(&self, hash: &B256) -> bool {
        self.inflight.contains(hash)
    }

    /// Marks `hash` as being written to the WAL; false if it already was.
    pub fn reserve(&mut self, hash: B256) -> bool {
        self.inflight.insert(hash)
    }

    /// Clears the in-flight mark of `hash`.
    pub fn unreserve(&mut self, hash: &B256) {
        self.inflight.remove(hash);
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<&Arc<PooledTx>> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.senders.get(sender)?.txs.get(nonce).map(|e| &e.tx)
    }

    /// A sender's pooled transactions in nonce order.
    pub fn sender_txs(&self, sender: &Address) -> Vec<Arc<PooledTx>> {
        self.senders
            .get(sender)
            .map(|s| s.txs.values().map(|e| e.tx.clone()).collect())
            .unwrap_or_default()
    }

    /// Whether `sender` has pooled transactions.
    pub fn has_sender(&self, sender: &Address) -> bool {
        self.senders.contains_key(sender)
    }

    /// Every pooled transaction, each sender's in nonce order.
    pub fn all(&self) -> Vec<Arc<PooledTx>> {
        self.senders
            .values()
            .flat_map(|s| s.txs.values().map(|e| e.tx.clone()))
            .collect()
    }

    /// A sender's pooled transactions in nonce order, split as geth's `txpool_content` splits
    /// them: pending (the consecutive run from the account nonce, what the next blocks can
    /// include) and queued (after a gap).
    pub fn sender_content(&self, sender: &Address) -> SenderContent {
        let Some(s) = self.senders.get(sender) else {
            return SenderContent::default();
        };
        let end = s.nonce + s.ready.len() as u64;
        let mut content = SenderContent::default();
        for (nonce, e) in &s.txs {
            match *nonce < end {
                true => content.pending.push(e.tx.clone()),
                false => content.queued.push(e.tx.clone()),
            }
        }
        content
    }

    /// Every sender with pooled transactions.
    pub fn senders(&self) -> Vec<Address> {
        self.senders.keys().copied().collect()
    }

    /// The nonce after `state_nonce` and the sender's consecutive pooled transactions.
    pub fn pending_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        match self.senders.get(sender) {
            Some(s) => run_end(&s.txs, state_nonce.max(s.nonce)),
            None => state_nonce,
        }
    }

    /// Checks whether `tx` may enter the pool given `account` (freshly read), without
    /// changing anything. Used as the pre-check before the WAL write.
    pub fn check(
        &self,
        tx: &PooledTx,
        account: Account,
        min_base_fee: u64,
    ) -> Result<(), PoolError> {
        self.admit(tx, account, min_base_fee).map(|_| ())
    }

    /// Runs every stateful check and plans the replacement and evictions.
    fn admit(
        &self,
        tx: &PooledTx,
        account: Account,
        min_base_fee: u64,
    ) -> Result<Admission, PoolError> {
        if self.by_hash.contains_key(&tx.hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let sender = self.senders.get(&tx.sender);
        let state_nonce = account.nonce.max(sender.map_or(0, |s| s.nonce));
        let nonce = tx.nonce();
        if nonce < state_nonce {
            return Err(PoolError::NonceTooLow {
                tx: nonce,
                state: state_nonce,
            });
        }
        let empty = BTreeMap::new();
        let txs = sender.map_or(&empty, |s| &s.txs);
        let existing = txs.get(&nonce);
        let mut admission = Admission::default();
        match existing {
            Some(old) => {
                check_replacement(&old.tx, tx, self.config.price_bump_percent)?;
                admission.replaces = Some(nonce);
            }
            None => {
                let live = txs.range(state_nonce..).count();
                let max = state_nonce
                    .saturating_add(live as u64)
                    .saturating_add(self.config.max_nonce_gap);
                if nonce > max {
                    return Err(PoolError::NonceTooHigh { tx: nonce, max });
                }
                if live >= self.config.max_per_sender {
                    return Err(PoolError::AccountLimit {
                        limit: self.config.max_per_sender,
                    });
                }
            }
        }

        // Balance: this transaction alone, then with the sender's other live transactions.
        let Some(cost) = tx.max_cost() else {
            return Err(PoolError::InsufficientFunds {
                cost: U256::MAX,
                balance: account.balance,
            });
        };
        if cost > account.balance {
            return Err(PoolError::InsufficientFunds {
                cost,
                balance: account.balance,
            });
        }
        let total = txs
            .range(state_nonce..)
            .filter(|(n, _)| **n != nonce)
            .fold(cost, |sum, (_, e)| sum.saturating_add(e.cost));
        if total > account.balance {
            return Err(PoolError::InsufficientFunds {
                cost: total,
                balance: account.balance,
            });
        }

        // Capacity: plan evictions from the cheapest tails of other senders.
        let (freed_count, freed_bytes) = existing.map_or((0, 0), |e| (1, e.tx.size()));
        let mut count = self.by_hash.len() + 1 - freed_count;
        let mut bytes = (self.bytes + tx.size()).saturating_sub(freed_bytes);
        let fits = |count: usize, bytes: usize| {
            count <= self.config.max_txs && bytes <= self.config.max_bytes
        };
        if !fits(count, bytes) {
            let new_rank = (
                nonce <= run_end(txs, state_nonce),
                eviction_price(tx, min_base_fee),
            );
            for key in &self.tails {
                if fits(count, bytes) {
                    break;
                }
                if key.sender == tx.sender {
                    continue;
                }
                if (key.pending, key.price) >= new_rank {
                    return Err(PoolError::PoolFull);
                }
                let Some((victim_nonce, victim)) = self
                    .senders
                    .get(&key.sender)
                    .and_then(|s| s.txs.last_key_value())
                else {
                    continue;
                };
                admission.evict.push((key.sender, *victim_nonce));
                count -= 1;
                bytes = bytes.saturating_sub(victim.tx.size());
            }
            if !fits(count, bytes) {
                return Err(PoolError::PoolFull);
            }
        }
        Ok(admission)
    }

    /// Inserts `tx` after re-running every check against `account` (read in the current
    /// block epoch). On success returns what left the pool to make it fit.
    ///
    /// Before checking, the sender's view is brought up to `account`: transactions below a
    /// newer state nonce are dropped (reported as `stale`, even when the insert then fails).
    pub fn insert(
        &mut self,
        tx: Arc<PooledTx>,
        seq: u64,
        account: Account,
        min_base_fee: u64,
        now: Instant,
    ) -> Result<Inserted, PoolError> {
        let mut out = Inserted::default();
        let sender = tx.sender;
        out.stale = self.sync_account(&sender, account);
        let admission = match self.admit(&tx, account, min_base_fee) {
            Ok(admission) => admission,
            Err(e) => {
                self.refresh(&sender);
                return Err(e);
            }
        };
        for (victim, nonce) in admission.evict {
            if let Some(entry) = self.remove_entry(&victim, nonce) {
                out.evicted.push(entry.tx.hash);
            }
            self.refresh(&victim);
        }
        let nonce = tx.nonce();
        if let Some(old) = admission
            .replaces
            .and_then(|n| self.remove_entry(&sender, n))
        {
            out.replaced = Some(old.tx.hash);
        }
        let entry = Entry {
            price: eviction_price(&tx, min_base_fee),
            // `admit` refused a cost that overflows, so this is the checked value.
            cost: tx.max_cost().unwrap_or(U256::MAX),
            seq,
            added: now,
            arrival_ms: unix_ms(),
            tx,
        };
        self.bytes += entry.tx.size();
        self.by_hash.insert(entry.tx.hash, (sender, nonce));
        let s = self.senders.entry(sender).or_insert_with(|| SenderTxs {
            nonce: account.nonce,
            balance: account.balance,
            ..SenderTxs::default()
        });
        s.txs.insert(nonce, entry);
        // Only this nonce and the run behind it changed.
        self.refresh_from(&sender, nonce);
        Ok(out)
    }

    /// Brings a pooled sender's state up to `account` (never backwards: the pool may have
    /// seen a newer nonce than a slow reader) and drops its transactions below the nonce.
    fn sync_account(&mut self, sender: &Address, account: Account) -> Vec<B256> {
        let Some(s) = self.senders.get_mut(sender) else {
            return Vec::new();
        };
        s.balance = account.balance;
        if account.nonce <= s.nonce {
            return Vec::new();
        }
        s.nonce = account.nonce;
        let stale: Vec<u64> = s.txs.range(..account.nonce).map(|(n, _)| *n).collect();
        let hashes = stale
            .into_iter()
            .filter_map(|n| self.remove_entry(sender, n))
            .map(|e| e.tx.hash)
            .collect();
        self.refresh(sender);
        hashes
    }

    /// Removes included transactions by hash; returns the ones that were pooled. A sender's
    /// state nonce is at least one past its included nonces, so its view moves there at
    /// once: the rest of its run keeps its place among the candidates rather than leaving
    /// and coming back with the revalidation that follows.
    pub fn remove_included(&mut self, hashes: &[B256]) -> Vec<Arc<PooledTx>> {
        let mut touched: HashMap<Address, u64> = HashMap::new();
        let mut removed = Vec::new();
        for hash in hashes {
            if let Some((sender, nonce)) = self.by_hash.get(hash).copied()
                && let Some(entry) = self.remove_entry(&sender, nonce)
            {
                removed.push(entry.tx);
                let next = touched.entry(sender).or_default();
                *next = (*next).max(nonce.saturating_add(1));
            }
        }
        for (sender, next) in touched {
            if let Some(s) = self.senders.get_mut(&sender) {
                s.nonce = s.nonce.max(next);
            }
            self.refresh(&sender);
        }
        removed
    }

    /// Takes transactions out that no block included (the rest of a sender's run then waits
    /// behind the gap, as queued). Returns the hashes that were pooled.
    pub fn remove(&mut self, hashes: &[B256]) -> Vec<B256> {
        let mut touched = HashSet::new();
        let mut removed = Vec::new();
        for hash in hashes {
            if let Some((sender, nonce)) = self.by_hash.get(hash).copied()
                && self.remove_entry(&sender, nonce).is_some()
            {
                removed.push(*hash);
                touched.insert(sender);
            }
        }
        for sender in touched {
            self.refresh(&sender);
        }
        removed
    }

    /// Re-validates one sender against its new state after a block: drops transactions
    /// below the nonce and those whose own cost exceeds the balance (later nonces then wait
    /// as queued), and queued transactions older than the TTL. Returns the dropped hashes.
    pub fn revalidate(
        &mut self,
        sender: &Address,
        account: Account,
        now: Instant,
        ttl: Duration,
    ) -> Vec<(B256, &'static str)> {
        let Some(s) = self.senders.get_mut(sender) else {
            return Vec::new();
        };
        let moved = s.nonce != account.nonce;
        s.nonce = account.nonce;
        s.balance = account.balance;
        let mut drop: Vec<(u64, &'static str)> = s
            .txs
            .range(..account.nonce)
            .map(|(n, _)| (*n, DROP_NONCE_TOO_LOW))
            .collect();
        drop.extend(
            s.txs
                .range(account.nonce..)
                .filter(|(_, e)| e.cost > account.balance)
                .map(|(n, _)| (*n, DROP_INSUFFICIENT_FUNDS)),
        );
        let mut dropped: Vec<(B256, &'static str)> = drop
            .into_iter()
            .filter_map(|(n, why)| Some((self.remove_entry(sender, n)?.tx.hash, why)))
            .collect();
        dropped.extend(
            self.expire_sender(sender, now, ttl)
                .into_iter()
                .map(|h| (h, DROP_EXPIRED)),
        );
        // A balance alone changes neither the run nor its place among the candidates.
        if moved || !dropped.is_empty() {
            self.refresh(sender);
        }
        dropped
    }

    /// Drops every transaction whose gas limit is above `limit` (the block gas limit was
    /// lowered: they could never be included). A sender's later nonces stay, queued behind
    /// the gap, until the sender fills it or they expire.
    pub fn drop_above_gas(&mut self, limit: u64) -> Vec<B256> {
        let over: Vec<(Address, u64)> = self
            .senders
            .iter()
            .flat_map(|(sender, s)| {
                s.txs
                    .iter()
                    .filter(|(_, e)| e.tx.gas_limit() > limit)
                    .map(|(n, _)| (*sender, *n))
            })
            .collect();
        let mut touched = HashSet::new();
        let mut dropped = Vec::with_capacity(over.len());
        for (sender, nonce) in over {
            if let Some(entry) = self.remove_entry(&sender, nonce) {
                dropped.push(entry.tx.hash);
                touched.insert(sender);
            }
        }
        for sender in touched {
            self.refresh(&sender);
        }
        dropped
    }

    /// Drops queued transactions of `sender` older than `ttl`.
    fn expire_sender(&mut self, sender: &Address, now: Instant, ttl: Duration) -> Vec<B256> {
        let Some(s) = self.senders.get(sender) else {
            return Vec::new();
        };
        let end = run_end(&s.txs, s.nonce);
        let expired: Vec<u64> = s
            .txs
            .range(end..)
            .filter(|(_, e)| now.saturating_duration_since(e.added) > ttl)
            .map(|(n, _)| *n)
            .collect();
        expired
            .into_iter()
            .filter_map(|n| self.remove_entry(sender, n))
            .map(|e| e.tx.hash)
            .collect()
    }

    /// Drops every queued transaction older than `ttl`.
    pub fn expire(&mut self, now: Instant, ttl: Duration) -> Vec<B256> {
        let mut dropped = Vec::new();
        for sender in self.senders() {
            let expired = self.expire_sender(&sender, now, ttl);
            if !expired.is_empty() {
                dropped.extend(expired);
                self.refresh(&sender);
            }
        }
        dropped
    }

    /// Executable transactions at `base_fee`: per sender, the consecutive nonces from its
    /// state nonce while the fee cap covers `base_fee`. Merged across senders in arrival
    /// order, each sender's in nonce order ([`ReadyKey`]). Read off the kept order: no sort,
    /// no walk over the senders.
    pub fn candidates(&self, base_fee: u64) -> Vec<Candidate> {
        let base_fee = u128::from(base_fee);
        self.ready
            .values()
            .filter(|r| r.floor >= base_fee)
            .map(|r| Candidate {
                tx: r.tx.clone(),
                arrival_seq: r.seq,
                arrival_ms: r.arrival_ms,
            })
            .collect()
    }

    /// Removes one entry from the maps and the byte count; the caller refreshes the sender.
    fn remove_entry(&mut self, sender: &Address, nonce: u64) -> Option<Entry> {
        let entry = self.senders.get_mut(sender)?.txs.remove(&nonce)?;
        self.by_hash.remove(&entry.tx.hash);
        self.bytes -= entry.tx.size();
        Some(entry)
    }

    /// Recomputes a sender's pending run and tail key after its transactions changed;
    /// forgets the sender when it has none left.
    fn refresh(&mut self, sender: &Address) {
        self.refresh_from(sender, 0);
    }

    /// [`TxPool::refresh`] when nothing of the sender below nonce `from` changed since its
    /// last refresh (nor its state nonce): its candidate entries below `from` stand, so
    /// appending a nonce to a run costs that nonce, not the run.
    fn refresh_from(&mut self, sender: &Address, from: u64) {
        let Some(s) = self.senders.get_mut(sender) else {
            return;
        };
        if let Some(key) = s.tail.take() {
            self.tails.remove(&key);
        }
        self.pending -= s.ready.len();
        let kept = s.ready.partition_point(|(key, _, _)| key.nonce < from);
        let run = ready_run(sender, s, kept);
        self.ready_writes += update_ready(&mut self.ready, s, kept, run);
        let Some((last_nonce, last)) = s.txs.last_key_value() else {
            self.senders.remove(sender);
            return;
        };
        // The pending run is what `ready` holds of the sender.
        let end = s.nonce + s.ready.len() as u64;
        self.pending += s.ready.len();
        let key = TailKey {
            pending: *last_nonce >= s.nonce && *last_nonce < end,
            price: last.price,
            newest_first: Reverse(last.seq),
            sender: *sender,
        };
        self.tails.insert(key);
        s.tail = Some(key);
    }
}

/// A sender's pending run as candidate entries after its first `kept` ones: the consecutive
/// nonces from its state nonce, each with the latest arrival and the lowest fee cap of the
/// run up to it.
fn ready_run(sender: &Address, s: &SenderTxs, kept: usize) -> Vec<ReadyEntry> {
    let (start, mut latest, mut floor) = match kept.checked_sub(1).map(|i| s.ready[i]) {
        Some((key, floor, _)) => (key.nonce + 1, key.latest, floor),
        None => (s.nonce, 0, u128::MAX),
    };
    s.txs
        .range(start..)
        .zip(start..)
        .take_while(|((nonce, _), expected)| *nonce == expected)
        .map(|((nonce, entry), _)| {
            latest = latest.max(entry.seq);
            floor = floor.min(entry.tx.max_fee_per_gas());
            let key = ReadyKey {
                latest,
                sender: *sender,
                nonce: *nonce,
            };
            (key, floor, entry.tx.hash)
        })
        .collect()
}

/// Brings `ready` from the sender's entries there after the first `kept` (`s.ready`) to
/// `run`, touching only the entries that changed: a new nonce at the end of a run adds one,
/// an included head removes what left. Returns how many entries it put or took.
fn update_ready(
    ready: &mut BTreeMap<ReadyKey, Ready>,
    s: &mut SenderTxs,
    kept: usize,
    run: Vec<ReadyEntry>,
) -> u64 {
    let old = s.ready.split_off(kept);
    let mut writes = 0;
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < run.len() {
        let same = i < old.len() && j < run.len() && old[i] == run[j];
        let take_old = j == run.len() || (i < old.len() && old[i].0.nonce <= run[j].0.nonce);
        if same {
            i += 1;
            j += 1;
        } else if take_old {
            ready.remove(&old[i].0);
            writes += 1;
            i += 1;
        } else {
            let (key, floor, _) = run[j];
            if let Some(entry) = s.txs.get(&key.nonce) {
                ready.insert(
                    key,
                    Ready {
                        floor,
                        tx: entry.tx.clone(),
                        seq: entry.seq,
                        arrival_ms: entry.arrival_ms,
                    },
                );
                writes += 1;
            }
            j += 1;
        }
    }
    s.ready.extend(run);
    writes
}

#[cfg(test)]
mod tests {
    //! Unit tests on the bare data structure. Transactions are signed for real because
    //! `PooledTx` carries a recovered sender; one key per test sender.

    use super::*;
    use crate::testutil::{eip1559, key, sender_of};

    fn rich(nonce: u64) -> Account {
        Account {
            nonce,
            balance: U256::from(10u128.pow(24)),
        }
    }

    fn pool(config: PoolConfig) -> TxPool {
        TxPool::new(config)
    }

    fn add(
        p: &mut TxPool,
        tx: &Arc<PooledTx>,
        seq: u64,
        acct: Account,
    ) -> Result<Inserted, PoolError> {
        p.insert(tx.clone(), seq, acct, 1, Instant::now())
    }

    #[test]
    fn pending_and_queued_split_and_promotion() {
        let k = key(1);
        let mut p = pool(PoolConfig::default());
        let t0 = Arc::new(eip1559(&k, 0, 10, 2));
        let t2 = Arc::new(eip1559(&k, 2, 10, 2));
        let t1 = Arc::new(eip1559(&k, 1, 10, 2));
        add(&mut p, &t0, 0, rich(0)).unwrap();
        add(&mut p, &t2, 1, rich(0)).unwrap();
        assert_eq!((p.len(), p.pending()), (2, 1));
        assert_eq!(p.pending_nonce(&sender_of(&k), 0), 1);
        add(&mut p, &t1, 2, rich(0)).unwrap();
        assert_eq!((p.len(), p.pending()), (3, 3));
        assert_eq!(p.pending_nonce(&sender_of(&k), 0), 3);
        let c = p.candidates(1);
        assert_eq!(
            c.iter().map(|t| t.nonce()).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
    }

    #[test]
    fn candidates_stop_at_fee_cap_and_merge_by_arrival() {
        let (a, b) = (key(1), key(2));
        let mut p = pool(PoolConfig::default());
        let a0 = Arc::new(eip1559(&a, 0, 100, 2));
        let b0 = Arc::new(eip1559(&b, 0, 100, 2));
        let a1 = Arc::new(eip1559(&a, 1, 5, 2));
        add(&mut p, &a0, 0, rich(0)).unwrap();
        add(&mut p, &b0, 1, rich(0)).unwrap();
        add(&mut p, &a1, 2, rich(0)).unwrap();
        let hashes: Vec<_> = p.candidates(1).iter().map(|t| t.hash).collect();
        assert_eq!(hashes, vec![a0.hash, b0.hash, a1.hash]);
        let hashes: Vec<_> = p.candidates(50).iter().map(|t| t.hash).collect();
        assert_eq!(hashes, vec![a0.hash, b0.hash]);
    }

    /// The candidates as a merge computed from scratch over every sender (what `candidates`
    /// did before it kept its order).
    fn candidates_from_scratch(p: &TxPool, base_fee: u64) -> Vec<B256> {
        let base_fee = u128::from(base_fee);
        let mut keyed: Vec<(u64, u64, B256)> = Vec::new();
        for s in p.senders.values() {
            let mut latest = 0;
            for ((nonce, entry), expected) in s.txs.range(s.nonce..).zip(s.nonce..) {
                if *nonce != expected || entry.tx.max_fee_per_gas() < base_fee {
                    break;
                }
                latest = latest.max(entry.seq);
                keyed.push((latest, *nonce, entry.tx.hash));
            }
        }
        keyed.sort_unstable();
        keyed.into_iter().map(|(_, _, hash)| hash).collect()
    }

    #[test]
    fn kept_candidate_order_equals_a_merge_from_scratch_after_every_change() {
        // Inserts, gaps, replacements, evictions (a pool of 12), inclusions, drops for
        // funds and expiry, withdrawals, in a deterministic pseudo-random sequence.
        let keys: Vec<_> = (1..=6).map(key).collect();
        let signed: Vec<Vec<[Arc<PooledTx>; 2]>> = keys
            .iter()
            .map(|k| {
                (0..8)
                    .map(|n| {
                        [
                            Arc::new(eip1559(k, n, 40, 2)),
                            Arc::new(eip1559(k, n, 100, 10)),
                        ]
                    })
                    .collect()
            })
            .collect();
        let mut p = pool(PoolConfig {
            max_txs: 12,
            ..PoolConfig::default()
        });
        let mut state = [0u64; 6];
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let start = Instant::now();
        let mut seq = 0;
        let mut ops = [0usize; 6];
        for step in 0..600 {
            let who = (next() % 6) as usize;
            let sender = sender_of(&keys[who]);
            let op = (next() % 11) as usize;
            match op {
                0..=5 => {
                    let nonce = state[who] + next() % 4;
                    let Some(pair) = signed[who].get(nonce as usize) else {
                        continue;
                    };
                    let tx = &pair[(next() % 2) as usize];
                    seq += 1;
                    if p.insert(tx.clone(), seq, rich(state[who]), 1, start)
                        .is_ok()
                    {
                        ops[0] += 1;
                    }
                }
                6 | 7 => {
                    // A block includes the sender's first pending transactions.
                    let run: Vec<B256> = p
                        .sender_content(&sender)
                        .pending
                        .iter()
                        .take(1 + (next() % 3) as usize)
                        .map(|t| t.hash)
                        .collect();
                    state[who] += run.len() as u64;
                    p.remove_included(&run);
                    p.revalidate(&sender, rich(state[who]), start, Duration::from_secs(60));
                    ops[1] += 1;
                }
                8 => {
                    // Funds for the cheap transactions only: the dear ones are dropped.
                    let poor = Account {
                        nonce: state[who],
                        balance: U256::from(21_000u64 * 50),
                    };
                    ops[2] += p
                        .revalidate(&sender, poor, start, Duration::from_secs(60))
                        .len();
                }
                9 => {
                    ops[3] += p
                        .expire(start + Duration::from_secs(120), Duration::from_secs(60))
                        .len()
                }
                _ => {
                    // A replica group drops one of the sender's (pending or queued).
                    let content = p.sender_content(&sender);
                    let all: Vec<B256> = content
                        .pending
                        .iter()
                        .chain(&content.queued)
                        .map(|t| t.hash)
                        .collect();
                    if let Some(hash) = all.get((next() % 4) as usize) {
                        ops[5] += p.remove(&[*hash]).len();
                    }
                }
            }
            for base_fee in [1, 50] {
                let kept: Vec<B256> = p.candidates(base_fee).iter().map(|c| c.tx.hash).collect();
                assert_eq!(
                    kept,
                    candidates_from_scratch(&p, base_fee),
                    "step {step}, op {op}"
                );
            }
            assert_eq!(p.ready.len(), p.pending(), "step {step}");
            ops[4] = ops[4].max(p.len());
        }
        // The sequence exercised every kind of change, and filled the pool.
        assert!(
            ops[0] > 100 && ops[1] > 30 && ops[2] > 0 && ops[3] > 0 && ops[5] > 5,
            "{ops:?}"
        );
        assert_eq!(ops[4], 12, "{ops:?}");
    }

    #[test]
    fn a_block_moves_only_the_candidates_it_included() {
        let (a, b) = (key(1), key(2));
        let mut p = pool(PoolConfig::default());
        let a_txs: Vec<_> = (0..5).map(|n| Arc::new(eip1559(&a, n, 100, 2))).collect();
        let b_txs: Vec<_> = (0..3).map(|n| Arc::new(eip1559(&b, n, 100, 2))).collect();
        let mut seq = 0;
        for tx in a_txs.iter().chain(&b_txs) {
            seq += 1;
            add(&mut p, tx, seq, rich(0)).unwrap();
        }
        // Appending costs one entry each.
        assert_eq!(p.ready_writes, 8);
        // A block includes A's first two: two entries leave, A's other three and B's keep
        // their places, through the inclusion and the revalidation after it.
        p.remove_included(&[a_txs[0].hash, a_txs[1].hash]);
        p.revalidate(
            &sender_of(&a),
            rich(2),
            Instant::now(),
            Duration::from_secs(60),
        );
        // B's balance moved (it received something): nothing to redo.
        p.revalidate(
            &sender_of(&b),
            rich(0),
            Instant::now(),
            Duration::from_secs(60),
        );
        assert_eq!(p.ready_writes, 10);
        let hashes: Vec<_> = p.candidates(1).iter().map(|c| c.tx.hash).collect();
        assert_eq!(hashes, candidates_from_scratch(&p, 1));
        assert_eq!(hashes.len(), 6);
    }

    #[test]
    fn replacement_needs_bump_on_both_fees() {
        let k = key(1);
        let mut p = pool(PoolConfig::default());
        let t = Arc::new(eip1559(&k, 0, 100, 10));
        add(&mut p, &t, 0, rich(0)).unwrap();
        let low_tip = Arc::new(eip1559(&k, 0, 200, 10));
        assert!(matches!(
            add(&mut p, &low_tip, 1, rich(0)),
            Err(PoolError::ReplacementUnderpriced)
        ));
        let ok = Arc::new(eip1559(&k, 0, 110, 11));
        let out = add(&mut p, &ok, 2, rich(0)).unwrap();
        assert_eq!(out.replaced, Some(t.hash));
        assert_eq!(p.len(), 1);
        assert!(p.get(&ok.hash).is_some() && p.get(&t.hash).is_none());
    }

    #[test]
    fn eviction_prefers_queued_then_cheapest_and_refuses_worse() {
        let cfg = PoolConfig {
            max_txs: 2,
            ..PoolConfig::default()
        };
        let (a, b, c) = (key(1), key(2), key(3));
        let mut p = pool(cfg);
        let a0 = Arc::new(eip1559(&a, 0, 100, 50));
        let b5 = Arc::new(eip1559(&b, 5, 100, 90)); // queued, pricier than a0
        add(&mut p, &a0, 0, rich(0)).unwrap();
        add(&mut p, &b5, 1, rich(0)).unwrap();
        // A pending tx with a tiny tip still beats any queued one.
        let c0 = Arc::new(eip1559(&c, 0, 100, 1));
        let out = add(&mut p, &c0, 2, rich(0)).unwrap();
        assert_eq!(out.evicted, vec![b5.hash]);
        // Now both are pending; a queued newcomer is not better than either.
        let c9 = Arc::new(eip1559(&c, 9, 100, 99));
        assert!(matches!(
            add(&mut p, &c9, 3, rich(0)),
            Err(PoolError::PoolFull)
        ));
        // A pending newcomer must beat the cheapest pending tail (c0, tip 1) of another sender.
        let b0 = Arc::new(eip1559(&b, 0, 100, 1));
        assert!(matches!(
            add(&mut p, &b0, 4, rich(0)),
            Err(PoolError::PoolFull)
        ));
        let b0 = Arc::new(eip1559(&b, 0, 100, 2));
        let out = add(&mut p, &b0, 5, rich(0)).unwrap();
        assert_eq!(out.evicted, vec![c0.hash]);
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn revalidate_drops_included_and_unfunded_then_promotes() {
        let k = key(1);
        let s = sender_of(&k);
        let mut p = pool(PoolConfig::default());
        for n in 0..4 {
            add(&mut p, &Arc::new(eip1559(&k, n, 10, 1)), n, rich(0)).unwrap();
        }
        assert_eq!(p.pending(), 4);
        let dropped = p.revalidate(&s, rich(2), Instant::now(), Duration::from_secs(60));
        assert_eq!(dropped.len(), 2);
        assert!(dropped.iter().all(|(_, why)| *why == DROP_NONCE_TOO_LOW));
        assert_eq!((p.len(), p.pending()), (2, 2));
        let dropped = p.revalidate(
            &s,
            Account {
                nonce: 2,
                balance: U256::ZERO,
            },
            Instant::now(),
            Duration::from_secs(60),
        );
        assert_eq!(dropped.len(), 2);
        assert!(
            dropped
                .iter()
                .all(|(_, why)| *why == DROP_INSUFFICIENT_FUNDS)
        );
        assert_eq!(p.len(), 0);
        assert!(p.senders().is_empty() && p.tails.is_empty());
        assert_eq!(p.bytes(), 0);
    }

    #[test]
    fn queued_expire_after_ttl_pending_do_not() {
        let k = key(1);
        let mut p = pool(PoolConfig::default());
        let start = Instant::now();
        p.insert(Arc::new(eip1559(&k, 0, 10, 1)), 0, rich(0), 1, start)
            .unwrap();
        p.insert(Arc::new(eip1559(&k, 5, 10, 1)), 1, rich(0), 1, start)
            .unwrap();
        let ttl = Duration::from_secs(10);
        assert!(p.expire(start + Duration::from_secs(5), ttl).is_empty());
        assert_eq!(p.expire(start + Duration::from_secs(11), ttl).len(), 1);
        assert_eq!((p.len(), p.pending()), (1, 1));
    }
}
