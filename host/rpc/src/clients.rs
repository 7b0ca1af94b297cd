//! Who a client is and what it holds: the client address behind trusted proxies
//! (`X-Forwarded-For`), and per-client budgets that one client cannot exceed however many
//! connections it opens: calls running at once, filter and subscription slots and the memory
//! their criteria take, and bytes queued for its WebSockets.
//!
//! ```text
//! peer IP ──▶ in trusted_proxies? ──yes──▶ X-Forwarded-For, rightmost hop not a trusted proxy
//!                               └─no───▶ the peer IP (headers ignored)
//!         ──▶ client_key (IPv6 by /64) ──▶ rate limits, call permits, filter/subscription
//!             reservations, WebSocket queue bytes
//! ```
//!
//! Reservations are guards: a filter or subscription keeps its [`Reservation`] and gives the
//! slot back when it is dropped, whichever way it goes (uninstalled, expired, connection
//! closed). Entries of clients that hold nothing are removed, so the tables stay as small as
//! the set of active clients.

use std::{
    collections::HashMap,
    net::IpAddr,
    str::FromStr,
    sync::{Arc, Weak},
};

use alloy_rpc_types_eth::Filter;
use axum::http::HeaderMap;
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::BackendError;

/// An IP network (`10.0.0.0/8`, `2001:db8::/32`) or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// A trusted proxy entry that is neither an IP address nor a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid IP address or CIDR block {0:?}")]
pub struct InvalidIpNet(String);

impl FromStr for IpNet {
    type Err = InvalidIpNet;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidIpNet(text.to_string());
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix.parse::<u8>().map_err(|_| bad())?)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { addr, prefix })
    }
}

impl IpNet {
    /// Whether `ip` is inside this network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (canonical(self.addr), ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix.min(32)));
                let mask = mask.unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix.min(128)));
                let mask = mask.unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The proxies whose `X-Forwarded-For` is believed (`[rpc] trusted_proxies`). Empty: the
/// header is ignored from everyone.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// Parses IP addresses and CIDR blocks.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, InvalidIpNet> {
        let nets = entries
            .iter()
            .map(|e| e.as_ref().parse())
            .collect::<Result<Vec<IpNet>, _>>()?;
        Ok(Self(nets.into()))
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client a request comes from: the peer itself, unless the peer is a trusted proxy;
    /// then the rightmost `X-Forwarded-For` hop that is not a trusted proxy (hops to its left
    /// were written by the client and prove nothing). A hop that does not parse stops the walk
    /// at the proxy that appended it; a header of trusted hops only names its leftmost.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if self.0.is_empty() || !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|hop| !hop.is_empty())
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                return client;
            };
            client = canonical(ip);
            if !self.contains(ip) {
                return client;
            }
        }
        client
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// Per-client limits (0: no limit).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientLimits {
    pub(crate) max_calls: usize,
    pub(crate) max_filters: usize,
    pub(crate) max_filter_bytes: usize,
    pub(crate) max_queue_bytes: usize,
}

#[derive(Debug, Default)]
struct Usage {
    filters: usize,
    filter_bytes: usize,
    queued_bytes: usize,
}

impl Usage {
    fn is_idle(&self) -> bool {
        self.filters == 0 && self.filter_bytes == 0 && self.queued_bytes == 0
    }
}

/// The per-client tables of one server.
#[derive(Debug)]
pub(crate) struct Clients {
    limits: ClientLimits,
    usage: Mutex<HashMap<IpAddr, Usage>>,
    calls: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
}

/// A filter's or subscription's hold on its client's slots; dropping it gives them back.
#[derive(Debug)]
pub(crate) struct Reservation {
    clients: Weak<Clients>,
    client: Option<IpAddr>,
    bytes: usize,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let (Some(client), Some(clients)) = (self.client, self.clients.upgrade()) {
            clients.release(client, |u| {
                u.filters = u.filters.saturating_sub(1);
                u.filter_bytes = u.filter_bytes.saturating_sub(self.bytes);
            });
        }
    }
}

/// A call slot of a client; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct CallPermit {
    clients: Weak<Clients>,
    client: IpAddr,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for CallPermit {
    fn drop(&mut self) {
        drop(self.permit.take());
        if let Some(clients) = self.clients.upgrade() {
            let mut calls = clients.calls.lock();
            // Only the table holds the semaphore: nobody runs or waits, forget the client.
            if calls
                .get(&self.client)
                .is_some_and(|s| Arc::strong_count(s) == 1)
            {
                calls.remove(&self.client);
            }
        }
    }
}

/// The memory a filter's criteria take, roughly: what the per-client budget counts.
pub(crate) fn filter_bytes(filter: &Filter) -> usize {
    let topics: usize = filter.topics.iter().map(|t| t.len()).sum();
    256 + 20 * filter.address.len() + 32 * topics
}

/// geth's bounds on filter criteria (eth/filters: maxAddresses, maxSubTopics).
pub(crate) const MAX_FILTER_ADDRESSES: usize = 1000;
/// The most alternatives in one topic position.
pub(crate) const MAX_FILTER_SUB_TOPICS: usize = 1000;

/// Refuses criteria over geth's bounds, with geth's messages.
pub(crate) fn check_filter(filter: &Filter) -> Result<(), BackendError> {
    if filter.address.len() > MAX_FILTER_ADDRESSES {
        return Err(BackendError::invalid_params(
            "invalid argument 0: exceed max addresses",
        ));
    }
    if filter
        .topics
        .iter()
        .any(|t| t.len() > MAX_FILTER_SUB_TOPICS)
    {
        return Err(BackendError::invalid_params(
            "invalid argument 0: exceed max topics",
        ));
    }
    Ok(())
}

impl Clients {
    pub(crate) fn new(limits: ClientLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            usage: Mutex::new(HashMap::new()),
            calls: Mutex::new(HashMap::new()),
        })
    }

    fn release(&self, client: IpAddr, f: impl FnOnce(&mut Usage)) {
        let mut usage = self.usage.lock();
        if let Some(u) = usage.get_mut(&client) {
            f(u);
            if u.is_idle() {
                usage.remove(&client);
            }
        }
    }

    /// Takes a filter (or subscription) slot of `bytes` criteria for `client`; over the
    /// client's count or byte budget: -32005.
    pub(crate) fn reserve_filter(
        self: &Arc<Self>,
        client: Option<IpAddr>,
        bytes: usize,
    ) -> Result<Reservation, BackendError> {
        let client = client.map(client_key);
        if let Some(key) = client {
            let mut usage = self.usage.lock();
            let u = usage.entry(key).or_default();
            let l = self.limits;
            if l.max_filters > 0 && u.filters >= l.max_filters {
                return Err(BackendError::limit_exceeded("too many filters"));
            }
            if l.max_filter_bytes > 0 && u.filter_bytes.saturating_add(bytes) > l.max_filter_bytes {
                // A client that holds nothing must not stay in the table because it asked.
                if u.is_idle() {
                    usage.remove(&key);
                }
                return Err(BackendError::limit_exceeded(
                    "filter criteria exceed this client's memory budget",
                ));
            }
            u.filters += 1;
            u.filter_bytes += bytes;
        }
        Ok(Reservation {
            clients: Arc::downgrade(self),
            client,
            bytes,
        })
    }

    /// Counts `bytes` queued for one of `client`'s WebSockets; `false` (and nothing counted)
    /// when the client is over its budget.
    pub(crate) fn queue(&self, client: Option<IpAddr>, bytes: usize) -> bool {
        let Some(key) = client.map(client_key) else {
            return true;
        };
        let mut usage = self.usage.lock();
        let u = usage.entry(key).or_default();
        let limit = self.limits.max_queue_bytes;
        if limit > 0 && u.queued_bytes > 0 && u.queued_bytes.saturating_add(bytes) > limit {
            if u.is_idle() {
                usage.remove(&key);
            }
            return false;
        }
        u.queued_bytes += bytes;
        true
    }

    /// Bytes written out (or dropped with their connection).
    pub(crate) fn dequeue(&self, client: Option<IpAddr>, bytes: usize) {
        if let Some(key) = client.map(client_key) {
            self.release(key, |u| {
                u.queued_bytes = u.queued_bytes.saturating_sub(bytes)
            });
        }
    }

    /// Waits for one of `client`'s call slots (`None` without a client or a limit).
    pub(crate) async fn call_permit(
        self: &Arc<Self>,
        client: Option<IpAddr>,
    ) -> Option<CallPermit> {
        let max = self.limits.max_calls;
        let key = client.map(client_key).filter(|_| max > 0)?;
        let semaphore = Arc::clone(
            self.calls
                .lock()
                .entry(key)
                .or_insert_with(|| Arc::new(Semaphore::new(max))),
        );
        // The semaphore is never closed, so acquiring only fails if it were; run unlimited then.
        let permit = semaphore.acquire_owned().await.ok();
        Some(CallPermit {
            clients: Arc::downgrade(self),
            client: key,
            permit,
        })
    }

    /// Clients with an entry in the usage table (tests: the table shrinks back).
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.usage.lock().len() + self.calls.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_parse_and_match() {
        let net: IpNet = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")));
        let single: IpNet = "127.0.0.1".parse().unwrap();
        assert!(single.contains(ip("127.0.0.1")) && !single.contains(ip("127.0.0.2")));
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:5::1")) && !v6.contains(ip("2001:db9::1")));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("192.0.2.1")));
        for bad in ["10.0.0.0/33", "nowhere", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let proxies = TrustedProxies::parse(&["127.0.0.1", "10.0.0.0/8"]).unwrap();
        let h = headers(&["198.51.100.7, 192.0.2.9, 10.0.0.5"]);
        // The rightmost untrusted hop; the client-written 198.51.100.7 is ignored.
        assert_eq!(proxies.client(ip("127.0.0.1"), &h), ip("192.0.2.9"));
        // From anyone else the header means nothing.
        assert_eq!(proxies.client(ip("127.0.0.2"), &h), ip("127.0.0.2"));
        assert_eq!(
            TrustedProxies::default().client(ip("127.0.0.1"), &h),
            ip("127.0.0.1")
        );
        // Several header lines are one list.
        let h = headers(&["198.51.100.7", "192.0.2.9:4000"]);
        assert_eq!(proxies.client(ip("127.0.0.1"), &h), ip("192.0.2.9"));
        // No header: the proxy itself.
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
        // Garbage stops at the proxy that appended it.
        let h = headers(&["192.0.2.9, garbage, 10.0.0.5"]);
        assert_eq!(proxies.client(ip("127.0.0.1"), &h), ip("10.0.0.5"));
        // Only trusted hops: the leftmost.
        let h = headers(&["10.0.0.7, 10.0.0.5"]);
        assert_eq!(proxies.client(ip("127.0.0.1"), &h), ip("10.0.0.7"));
    }

    #[tokio::test]
    async fn reservations_and_permits_give_their_slots_back() {
        let clients = Clients::new(ClientLimits {
            max_calls: 1,
            max_filters: 2,
            max_filter_bytes: 1000,
            max_queue_bytes: 100,
        });
        let a = Some(ip("192.0.2.1"));
        let r1 = clients.reserve_filter(a, 400).unwrap();
        let r2 = clients.reserve_filter(a, 400).unwrap();
        assert!(clients.reserve_filter(a, 1).is_err(), "count");
        drop(r2);
        assert!(clients.reserve_filter(a, 700).is_err(), "bytes");
        assert!(clients.reserve_filter(Some(ip("192.0.2.2")), 700).is_ok());
        drop(r1);
        let p = clients.call_permit(a).await.unwrap();
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), clients.call_permit(a))
                .await
                .is_err(),
            "one call at a time"
        );
        drop(p);
        assert!(clients.queue(a, 80));
        assert!(clients.queue(a, 20));
        assert!(!clients.queue(a, 1));
        clients.dequeue(a, 100);
        assert!(
            clients.queue(a, 500),
            "an empty queue takes one large message"
        );
        clients.dequeue(a, 500);
        assert_eq!(clients.tracked(), 0, "idle clients are forgotten");
    }
}

/// The rate-limit key of a client address: the address for IPv4, its /64 for IPv6 (one
/// host usually holds a whole /64, so single IPv6 addresses would be free fresh buckets).
pub(crate) fn client_key(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => std::net::IpAddr::V4(v4),
            None => std::net::IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod client_key_tests {
    use super::client_key;

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: std::net::IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let v4: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: std::net::IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(client_key(v4), v4);
        assert_eq!(client_key(mapped), v4);
    }
}
