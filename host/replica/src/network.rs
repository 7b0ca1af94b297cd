//! Replica-to-replica transport: openraft's three RPCs as JSON over HTTP on a listener of
//! their own (never the public RPC port), each request carrying the group's shared secret.
//!
//! [`serve`] answers them for one replica; [`HttpNetwork`] sends them. A fourth route,
//! `/chain/blocks` (and `/chain/batches`), serves stored blocks to a replica installing a
//! snapshot (which names the chain's head, not its blocks: see machine.rs); `/forward`
//! takes a follower's forwarded write ([`crate::ForwardedCalls`]) while this replica leads. A peer that cannot be
//! reached is `Unreachable` (openraft backs off) rather than a network error it would retry
//! hot. [`Faults`] is the seam for partitions: a link it cuts behaves like a dead peer, in
//! both directions, so tests split a group deterministically.

use std::{collections::HashSet, net::SocketAddr, sync::Arc, time::Duration};

use alloy_primitives::{Address, Bytes, bytes};
use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, HeaderValue, Request, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::post,
};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use openraft::{
    error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable},
    network::{RPCOption, RaftNetwork, RaftNetworkFactory},
    raft::{
        AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest,
        InstallSnapshotResponse, VoteRequest, VoteResponse,
    },
};
use ordo_storage::Storage;
use parking_lot::RwLock;
use serde::{Serialize, de::DeserializeOwned};
use subtle::ConstantTimeEq;

use crate::types::{
    ForwardRequest, ForwardTarget, NodeId, Raft, ReplicaNode, TxAnswer, TypeConfig,
};

/// Links cut on purpose (tests, drills): a cut link drops every RPC between its two ends.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<RwLock<HashSet<(NodeId, NodeId)>>>);

impl Faults {
    /// Cuts every link between `node` and the others of `group`.
    pub fn isolate(&self, node: NodeId, group: &[NodeId]) {
        let mut cut = self.0.write();
        for &other in group.iter().filter(|&&o| o != node) {
            cut.insert((node, other));
            cut.insert((other, node));
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.0.write().clear();
    }

    fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.0.read().contains(&(from, to))
    }
}

/// Whether this replica is catching up: the last AppendEntries it received ended below what
/// the leader had committed, so its log is behind the group's. A replica behind does not
/// stand for election: it could not win (the others' logs are longer), and its higher term
/// would cost the replica that can win a round (the follower 50 blocks behind must
/// not delay a failover). [`crate::Replica`] lets it stand again when no leader has been
/// heard for a while, so a group whose survivors are all behind still elects one.
#[derive(Debug)]
pub struct CatchUp {
    lagging: std::sync::atomic::AtomicBool,
    last_append: parking_lot::Mutex<std::time::Instant>,
}

impl Default for CatchUp {
    fn default() -> Self {
        Self {
            lagging: Default::default(),
            last_append: parking_lot::Mutex::new(std::time::Instant::now()),
        }
    }
}

impl CatchUp {
    /// Whether the last AppendEntries left this replica behind the leader's commit.
    pub fn lagging(&self) -> bool {
        self.lagging.load(std::sync::atomic::Ordering::Acquire)
    }

    /// How long since a leader last sent entries or a heartbeat.
    pub fn since_append(&self) -> Duration {
        self.last_append.lock().elapsed()
    }

    fn saw(&self, req: &AppendEntriesRequest<TypeConfig>) {
        let carried = req
            .entries
            .last()
            .map(|e| e.log_id.index)
            .or(req.prev_log_id.map(|l| l.index));
        let behind = req.leader_commit.map(|c| c.index) > carried;
        self.lagging
            .store(behind, std::sync::atomic::Ordering::Release);
        *self.last_append.lock() = std::time::Instant::now();
    }
}

/// What the replication listener needs.
#[derive(Clone)]
struct Server {
    raft: Raft,
    catch_up: Arc<CatchUp>,
    storage: Storage,
    calls: ForwardTarget,
    secret: Arc<str>,
    me: NodeId,
    faults: Faults,
}

/// The replication listener's routes for `raft` (and the blocks stored in `storage`),
/// answering only requests that carry `secret`.
pub fn router(
    raft: Raft,
    catch_up: Arc<CatchUp>,
    storage: Storage,
    calls: ForwardTarget,
    me: NodeId,
    secret: Arc<str>,
    faults: Faults,
) -> Router {
    Router::new()
        .route(Endpoint::Append.path(), post(append))
        .route(Endpoint::Vote.path(), post(vote))
        .route(Endpoint::Snapshot.path(), post(snapshot))
        .route("/chain/blocks", post(blocks))
        .route("/chain/batches", post(batches))
        .route("/forward", post(forward))
        .route(
            "/forward/txs",
            post(forward_txs).layer(axum::extract::DefaultBodyLimit::max(MAX_FORWARDED_BYTES)),
        )
        .route("/leads", post(leads))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_RPC_BYTES))
        .with_state(Server {
            raft,
            catch_up,
            storage,
            calls,
            secret,
            me,
            faults,
        })
}

/// Which stored blocks a catching-up replica asks for: `from..=to`.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize)]
pub(crate) struct BlocksRequest {
    pub from: u64,
    pub to: u64,
}

/// Most bytes of blocks one `/chain/blocks` answer carries (it stops after the block that
/// crosses this), so a page stays far below [`MAX_RPC_BYTES`] however big blocks are.
const BLOCKS_PAGE_BYTES: usize = 8 << 20;

/// Serves [`router`] on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router).await
}

/// Largest replication request accepted. axum's default (2 MB) is below one full block of
/// calldata once hex-encoded in JSON; an AppendEntries carries up to openraft's
/// `max_payload_entries` of them, which the node's config keeps small enough for this.
pub const MAX_RPC_BYTES: usize = 256 << 20;

/// The sender's id, from the `x-ordo-replica` header.
const FROM_HEADER: &str = "x-ordo-replica";

impl Server {
    /// `None` when the request may go on; else the answer that refuses it.
    fn refuse(&self, headers: &HeaderMap) -> Option<Response> {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(self.secret.as_bytes())) {
            return Some((StatusCode::UNAUTHORIZED, "bad replication secret").into_response());
        }
        let from = headers
            .get(FROM_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<NodeId>().ok());
        // A cut link drops what arrives too: a partition is cut at both ends.
        if from.is_some_and(|from| self.faults.is_cut(from, self.me)) {
            return Some((StatusCode::SERVICE_UNAVAILABLE, "link cut").into_response());
        }
        None
    }

    /// Where a follower's forwarded writes are answered: here, if the request carries the
    /// secret and this replica leads (else the follower tells its caller to retry; it never
    /// answers for a replica that does not lead).
    fn leading_calls(
        &self,
        headers: &HeaderMap,
    ) -> Result<Arc<dyn crate::types::ForwardedCalls>, Box<Response>> {
        if let Some(refused) = self.refuse(headers) {
            return Err(Box::new(refused));
        }
        let leads = leads_now(&self.raft, self.me);
        self.calls.get().cloned().filter(|_| leads).ok_or_else(|| {
            Box::new((StatusCode::SERVICE_UNAVAILABLE, "not leading").into_response())
        })
    }
}

async fn append(
    State(server): State<Server>,
    headers: HeaderMap,
    Json(req): Json<AppendEntriesRequest<TypeConfig>>,
) -> Response {
    if let Some(refused) = server.refuse(&headers) {
        return refused;
    }
    server.catch_up.saw(&req);
    let lagging = server.catch_up.lagging();
    server.raft.runtime_config().elect(!lagging);
    Json(server.raft.append_entries(req).await).into_response()
}

async fn vote(
    State(server): State<Server>,
    headers: HeaderMap,
    Json(req): Json<VoteRequest<NodeId>>,
) -> Response {
    if let Some(refused) = server.refuse(&headers) {
        return refused;
    }
    Json(server.raft.vote(req).await).into_response()
}

async fn snapshot(
    State(server): State<Server>,
    headers: HeaderMap,
    Json(req): Json<InstallSnapshotRequest<TypeConfig>>,
) -> Response {
    if let Some(refused) = server.refuse(&headers) {
        return refused;
    }
    Json(server.raft.install_snapshot(req).await).into_response()
}

async fn blocks(
    State(server): State<Server>,
    headers: HeaderMap,
    Json(req): Json<BlocksRequest>,
) -> Response {
    page(&server, &headers, req, |storage, number| {
        Ok(storage
            .block(number)?
            .map(|block| Bytes::from(alloy_rlp::encode(&block))))
    })
    .await
}

/// A follower's forwarded write, answered here only while this replica leads (else the
/// follower tells its caller to retry; it never answers for a replica that does not lead).
async fn forward(
    State(server): State<Server>,
    headers: HeaderMap,
    Json(req): Json<ForwardRequest>,
) -> Response {
    let calls = match server.leading_calls(&headers) {
        Ok(calls) => calls,
        Err(refused) => return *refused,
    };
    let answer =
        tokio::task::spawn_blocking(move || calls.call(&req.method, &req.params, req.searcher))
            .await;
    match answer {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Transactions a follower decoded and recovered, submitted here only while this replica
/// leads (else the follower tells their senders to retry).
async fn forward_txs(
    State(server): State<Server>,
    headers: HeaderMap,
    Json(txs): Json<Vec<(Bytes, Address)>>,
) -> Response {
    let calls = match server.leading_calls(&headers) {
        Ok(calls) => calls,
        Err(refused) => return *refused,
    };
    if txs.len() > MAX_FORWARDED_TXS {
        return (StatusCode::PAYLOAD_TOO_LARGE, "too many transactions").into_response();
    }
    // On a task of its own: a follower that stops waiting does not cancel the submissions
    // halfway (they go on, and their answers still count).
    match tokio::spawn(calls.submit_recovered(txs)).await {
        Ok(answers) => Json(answers).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Why a leader took none of a batch of forwarded transactions.
#[derive(Debug)]
pub(crate) enum TxsNotTaken {
    /// It no longer leads (it said so: nothing was submitted).
    NotLeading,
    /// It has no `/forward/txs` (an older build): forward the calls as they came.
    Unsupported,
    /// No answer, or a broken one: it may or may not have taken them.
    Failed(String),
}

/// Most transactions one `/forward/txs` request may carry (a follower sends at most 1,024).
const MAX_FORWARDED_TXS: usize = 4096;
/// And most bytes (a follower's batch is at most 4 MiB raw, about twice that as hex).
const MAX_FORWARDED_BYTES: usize = 32 << 20;

/// The leader `raft` knows of, and where it listens, when that is not replica `me`.
pub(crate) fn leader_of(raft: &Raft, me: NodeId) -> Option<(NodeId, crate::types::ReplicaNode)> {
    let metrics = raft.metrics();
    let m = metrics.borrow();
    let leader = m.current_leader.filter(|&l| l != me)?;
    let node = m.membership_config.membership().get_node(&leader)?.clone();
    Some((leader, node))
}

/// Whether replica `me` leads, as its Raft sees it now.
pub(crate) fn leads_now(raft: &Raft, me: NodeId) -> bool {
    // Asked on every forwarded write: read the metrics in place, do not clone them.
    let metrics = raft.metrics();
    let m = metrics.borrow();
    m.state == openraft::ServerState::Leader && m.current_leader == Some(me)
}

/// Whether this replica leads: a follower that stopped hearing from it asks before it
/// stands for election ([`HttpNetwork::leads`]).
async fn leads(State(server): State<Server>, headers: HeaderMap) -> Response {
    if let Some(refused) = server.refuse(&headers) {
        return refused;
    }
    Json(leads_now(&server.raft, server.me)).into_response()
}

/// Stored batch records `from..=to`, as `(index, record)`.
async fn batches(
    State(server): State<Server>,
    headers: HeaderMap,
    Json(req): Json<BlocksRequest>,
) -> Response {
    page(&server, &headers, req, |storage, index| {
        Ok(storage
            .batch(index)?
            .map(|record| (index, Bytes::from(record))))
    })
    .await
}

/// Answers `from..=to` of what `read` finds stored, in order, as many as are stored (a
/// block still being committed ends the page early; the asker comes back for it), up to
/// [`BLOCKS_PAGE_BYTES`].
async fn page<T: Serialize + Send + 'static>(
    server: &Server,
    headers: &HeaderMap,
    req: BlocksRequest,
    read: fn(&Storage, u64) -> Result<Option<T>, ordo_storage::StorageError>,
) -> Response {
    if let Some(refused) = server.refuse(headers) {
        return refused;
    }
    let storage = server.storage.clone();
    let pages = tokio::task::spawn_blocking(move || -> Result<Vec<T>, String> {
        let mut out = Vec::new();
        let mut bytes = 0;
        for n in req.from..=req.to {
            let Some(item) = read(&storage, n).map_err(|e| e.to_string())? else {
                break;
            };
            bytes += serde_json::to_vec(&item).map_or(0, |v| v.len());
            out.push(item);
            if bytes >= BLOCKS_PAGE_BYTES {
                break;
            }
        }
        Ok(out)
    })
    .await;
    match pages {
        Ok(Ok(items)) => Json(items).into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Sends a replica's RPCs to its peers over HTTP.
#[derive(Debug, Clone)]
pub struct HttpNetwork {
    me: NodeId,
    client: PeerClient,
    faults: Faults,
}

impl HttpNetwork {
    /// The network of replica `me`, authenticating with `secret`.
    pub fn new(me: NodeId, secret: Arc<str>, faults: Faults) -> Self {
        Self {
            me,
            client: PeerClient::new(me, &secret),
            faults,
        }
    }
}

/// hyper's pooled HTTP/1 client (kept-alive connections, no delay on small writes, as
/// reqwest's), with the group's secret and the sender's id on every request.
///
/// Not reqwest: a replica talks to fixed addresses of its own group, and reqwest's layers
/// (a redirect policy that parses every request's URL twice, a retry policy, its own URL
/// type) were a third of an idle leader's replication client samples.
#[derive(Debug, Clone)]
struct PeerClient {
    http: Client<HttpConnector, Full<bytes::Bytes>>,
    /// `Bearer <secret>` (marked sensitive), or why the secret makes no header.
    auth: Result<HeaderValue, String>,
    from: HeaderValue,
}

/// Why an exchange with a peer failed.
#[derive(Debug)]
enum Failure {
    /// Not reached: refused, cut, no answer in time, or not a success status. openraft
    /// backs off from an unreachable peer.
    Unreachable(String),
    /// Reached, but the exchange broke (a dropped connection, a body that does not decode).
    Broken(String),
    /// Reached, and answered this status, not a success (openraft: unreachable too).
    Status(StatusCode),
}

impl Failure {
    fn into_string(self) -> String {
        match self {
            Failure::Unreachable(why) | Failure::Broken(why) => why,
            Failure::Status(status) => format!("answered {status}"),
        }
    }
}

impl PeerClient {
    fn new(me: NodeId, secret: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_millis(500)));
        // As reqwest did: probes find a peer whose host vanished without a reset.
        connector.set_keepalive(Some(Duration::from_secs(15)));
        let http = Client::builder(TokioExecutor::new()).build(connector);
        let auth = HeaderValue::from_str(&format!("Bearer {secret}"))
            .map(|mut value| {
                value.set_sensitive(true);
                value
            })
            .map_err(|_| "the group's secret is not a valid HTTP header value".to_string());
        Self {
            http,
            auth,
            from: HeaderValue::from(me),
        }
    }

    /// POSTs `req` as JSON to `uri` and decodes the JSON answer, all within `timeout`.
    async fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        uri: Uri,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, Failure> {
        let auth = self.auth.clone().map_err(Failure::Broken)?;
        let body = serde_json::to_vec(req).map_err(|e| Failure::Broken(e.to_string()))?;
        let request = Request::post(uri)
            .header(header::AUTHORIZATION, auth)
            .header(FROM_HEADER, self.from.clone())
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )
            .body(Full::new(bytes::Bytes::from(body)))
            .map_err(|e| Failure::Broken(e.to_string()))?;
        let exchange = async {
            let answer = self.http.request(request).await.map_err(|e| {
                let why = with_sources(&e);
                if e.is_connect() {
                    Failure::Unreachable(why)
                } else {
                    Failure::Broken(why)
                }
            })?;
            let status = answer.status();
            if !status.is_success() {
                return Err(Failure::Status(status));
            }
            let body = answer
                .into_body()
                .collect()
                .await
                .map_err(|e| Failure::Broken(with_sources(&e)))?
                .to_bytes();
            serde_json::from_slice(&body).map_err(|e| Failure::Broken(e.to_string()))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Failure::Unreachable(format!("no answer within {timeout:?}")))?
    }
}

/// An error and its causes, `outer: inner: ...` (hyper's own message is only the outermost
/// kind, "client error (Connect)").
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl HttpNetwork {
    /// Stored blocks `from..=to` (RLP records, in order; fewer when the peer has fewer) from
    /// the replica listening at `addr`.
    pub(crate) async fn fetch_blocks(
        &self,
        target: NodeId,
        addr: &str,
        req: BlocksRequest,
    ) -> Result<Vec<Bytes>, String> {
        self.fetch(target, addr, "blocks", req).await
    }

    /// Stored batch records `from..=to` as `(index, record)` from the replica at `addr`.
    pub(crate) async fn fetch_batches(
        &self,
        target: NodeId,
        addr: &str,
        req: BlocksRequest,
    ) -> Result<Vec<(u64, Bytes)>, String> {
        self.fetch(target, addr, "batches", req).await
    }

    /// Hands a write to the leader (`target`, listening at `addr`): its answer, or why it
    /// could not be asked.
    pub(crate) async fn forward(
        &self,
        target: NodeId,
        addr: &str,
        req: &ForwardRequest,
    ) -> Result<Result<serde_json::Value, (i32, String)>, String> {
        self.post(target, addr, "forward", req, Duration::from_secs(10))
            .await
            .map_err(Failure::into_string)
    }

    /// Hands decoded transactions and their senders to the leader (`target`, listening at
    /// `addr`): its answer to each, or why it could not be asked.
    pub(crate) async fn forward_txs(
        &self,
        target: NodeId,
        addr: &str,
        txs: &[(Bytes, Address)],
        within: Duration,
    ) -> Result<Vec<TxAnswer>, TxsNotTaken> {
        self.post(target, addr, "forward/txs", &txs, within)
            .await
            .map_err(|failure| match failure {
                Failure::Status(StatusCode::SERVICE_UNAVAILABLE) => TxsNotTaken::NotLeading,
                Failure::Status(StatusCode::NOT_FOUND) => TxsNotTaken::Unsupported,
                other => TxsNotTaken::Failed(other.into_string()),
            })
    }

    /// Whether `target` (listening at `addr`) answers within `within` that it leads. Any
    /// failure to answer (refused, cut, late) is a no: a dead leader's port refuses at once.
    pub(crate) async fn leads(&self, target: NodeId, addr: &str, within: Duration) -> bool {
        self.post::<_, bool>(target, addr, "leads", &(), within)
            .await
            .unwrap_or(false)
    }

    async fn fetch<T: DeserializeOwned>(
        &self,
        target: NodeId,
        addr: &str,
        what: &str,
        req: BlocksRequest,
    ) -> Result<T, String> {
        let path = format!("chain/{what}");
        self.post(target, addr, &path, &req, Duration::from_secs(30))
            .await
            .map_err(Failure::into_string)
    }

    /// POSTs `req` to `path` on the replica `target` listening at `addr`, with the secret.
    /// A failure says what failed, not which replica: callers name it.
    async fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        target: NodeId,
        addr: &str,
        path: &str,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, Failure> {
        if self.faults.is_cut(self.me, target) {
            return Err(Failure::Unreachable("link cut".to_string()));
        }
        let uri = peer_uri(addr, &format!("/{path}")).map_err(Failure::Broken)?;
        self.client.post(uri, req, timeout).await
    }
}

/// One peer.
#[derive(Debug)]
pub struct HttpPeer {
    net: HttpNetwork,
    target: NodeId,
    /// Its Raft endpoints, parsed once (indexed by [`Endpoint`]), or why the address does
    /// not make a URI.
    uris: Result<[Uri; 3], String>,
}

/// A peer's Raft endpoints.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Append,
    Vote,
    Snapshot,
}

impl Endpoint {
    /// Every endpoint, in the order [`HttpPeer::uris`] holds them.
    const ALL: [Endpoint; 3] = [Endpoint::Append, Endpoint::Vote, Endpoint::Snapshot];

    /// Its path on the replication listener, where [`router`] serves it.
    fn path(self) -> &'static str {
        match self {
            Endpoint::Append => "/raft/append",
            Endpoint::Vote => "/raft/vote",
            Endpoint::Snapshot => "/raft/snapshot",
        }
    }
}

/// `path` on the replica listening at `addr`.
fn peer_uri(addr: &str, path: &str) -> Result<Uri, String> {
    format!("http://{addr}{path}")
        .parse()
        .map_err(|e| format!("replica address {addr}: {e}"))
}

/// The Raft endpoints of a replica listening at `addr`, indexed by [`Endpoint`].
fn raft_uris(addr: &str) -> Result<[Uri; 3], String> {
    let [append, vote, snapshot] = Endpoint::ALL.map(|endpoint| peer_uri(addr, endpoint.path()));
    Ok([append?, vote?, snapshot?])
}

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = HttpPeer;

    async fn new_client(&mut self, target: NodeId, node: &ReplicaNode) -> HttpPeer {
        HttpPeer {
            net: self.clone(),
            target,
            uris: raft_uris(&node.addr),
        }
    }
}

impl HttpPeer {
    /// Sends `req` to the peer's `endpoint`.
    async fn send<Req, Resp, E>(
        &self,
        endpoint: Endpoint,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, ReplicaNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let unreachable =
            |why: String| RPCError::Unreachable(Unreachable::new(&std::io::Error::other(why)));
        if self.net.faults.is_cut(self.net.me, self.target) {
            return Err(unreachable(format!("link to {} cut", self.target)));
        }
        let uri = match &self.uris {
            Ok(uris) => uris[endpoint as usize].clone(),
            Err(why) => return Err(unreachable(why.clone())),
        };
        let result: Result<Resp, RaftError<NodeId, E>> = self
            .net
            .client
            .post(uri, req, option.hard_ttl())
            .await
            .map_err(|failure| match failure {
                Failure::Unreachable(why) => unreachable(format!("replica {}: {why}", self.target)),
                Failure::Status(status) => {
                    unreachable(format!("replica {}: answered {status}", self.target))
                }
                Failure::Broken(why) => RPCError::Network(NetworkError::new(
                    &std::io::Error::other(format!("replica {}: {why}", self.target)),
                )),
            })?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for HttpPeer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, ReplicaNode, RaftError<NodeId>>>
    {
        self.send(Endpoint::Append, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, ReplicaNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.send(Endpoint::Snapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, ReplicaNode, RaftError<NodeId>>> {
        self.send(Endpoint::Vote, &rpc, &option).await
    }
}

/// A member reached at `addr` (its replication listener), serving JSON-RPC at `rpc`.
pub fn node_at(addr: SocketAddr, rpc: SocketAddr) -> ReplicaNode {
    ReplicaNode {
        addr: addr.to_string(),
        rpc: rpc.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, Vote};

    use super::*;

    fn log_id(index: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(1, 1), index)
    }

    /// An AppendEntries after `prev`, carrying entries up to `last`, with the leader's
    /// commit at `commit`.
    fn append(prev: u64, last: u64, commit: u64) -> AppendEntriesRequest<TypeConfig> {
        AppendEntriesRequest {
            vote: Vote::new_committed(1, 1),
            prev_log_id: Some(log_id(prev)),
            entries: (prev + 1..=last)
                .map(|i| Entry {
                    log_id: log_id(i),
                    payload: EntryPayload::Blank,
                })
                .collect(),
            leader_commit: Some(log_id(commit)),
        }
    }

    /// A listener answering `/echo` with what it was sent (the two headers a replica
    /// checks, and the JSON body), and `/refuse` with 401.
    async fn echo_server() -> SocketAddr {
        async fn echo(headers: HeaderMap, Json(body): Json<serde_json::Value>) -> Response {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            Json((
                header("authorization"),
                header(FROM_HEADER),
                header("content-type"),
                body,
            ))
            .into_response()
        }
        let app = Router::new().route("/echo", post(echo)).route(
            "/refuse",
            post(|| async { StatusCode::UNAUTHORIZED.into_response() }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    /// `client`'s POST of `body` to `path` on the listener at `addr`.
    async fn ask<Resp: DeserializeOwned>(
        client: &PeerClient,
        addr: &str,
        path: &str,
        body: &impl Serialize,
        timeout: Duration,
    ) -> Result<Resp, Failure> {
        client
            .post(peer_uri(addr, path).unwrap(), body, timeout)
            .await
    }

    /// What a follower makes of the ways a leader answers forwarded transactions: answers in
    /// order; "not leading" (nothing taken, so it may ask another); no such route (an older
    /// build: the calls go as they came); anything else, a failure that may have taken them.
    #[tokio::test]
    async fn forwarded_transactions_are_answered_refused_as_not_leading_or_unsupported() {
        let answers = |Json(txs): Json<Vec<(Bytes, Address)>>| async move {
            let each: Vec<TxAnswer> = txs
                .iter()
                .map(|(raw, _)| match raw.first() {
                    Some(1) => Ok(alloy_primitives::keccak256(raw)),
                    _ => Err((-32000, "nonce too low".to_string())),
                })
                .collect();
            Json(each).into_response()
        };
        let serve = |app: Router| async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            tokio::spawn(async move { axum::serve(listener, app).await });
            addr
        };
        let leading = serve(Router::new().route("/forward/txs", post(answers))).await;
        let deposed = serve(Router::new().route(
            "/forward/txs",
            post(|| async { (StatusCode::SERVICE_UNAVAILABLE, "not leading").into_response() }),
        ))
        .await;
        let older = serve(Router::new().route("/forward", post(|| async { "{}" }))).await;
        let broken = serve(Router::new().route(
            "/forward/txs",
            post(|| async { StatusCode::INTERNAL_SERVER_ERROR.into_response() }),
        ))
        .await;
        let net = HttpNetwork::new(1, "s".into(), Faults::default());
        let txs = vec![
            (Bytes::from_static(&[1, 2]), Address::repeat_byte(7)),
            (Bytes::from_static(&[2]), Address::repeat_byte(8)),
        ];
        let within = Duration::from_secs(5);
        let answered = net.forward_txs(2, &leading, &txs, within).await.unwrap();
        assert_eq!(
            answered,
            vec![
                Ok(alloy_primitives::keccak256([1, 2])),
                Err((-32000, "nonce too low".to_string()))
            ]
        );
        let refused = net.forward_txs(2, &deposed, &txs, within).await;
        assert!(
            matches!(refused, Err(TxsNotTaken::NotLeading)),
            "{refused:?}"
        );
        let old = net.forward_txs(2, &older, &txs, within).await;
        assert!(matches!(old, Err(TxsNotTaken::Unsupported)), "{old:?}");
        let failed = net.forward_txs(2, &broken, &txs, within).await;
        assert!(
            matches!(&failed, Err(TxsNotTaken::Failed(why)) if why.contains("500")),
            "{failed:?}"
        );
    }

    #[tokio::test]
    async fn a_request_carries_the_secret_and_the_sender_and_its_answer_decodes() {
        let addr = echo_server().await.to_string();
        let client = PeerClient::new(7, "s3cret");
        type Echo = (
            Option<String>,
            Option<String>,
            Option<String>,
            serde_json::Value,
        );
        let body = serde_json::json!({"entries": [1, 2, 3]});
        for _ in 0..2 {
            // Twice: one client serves request after request.
            let echoed: Echo = ask(&client, &addr, "/echo", &body, Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(
                echoed,
                (
                    Some("Bearer s3cret".into()),
                    Some("7".into()),
                    Some("application/json".into()),
                    body.clone()
                )
            );
        }
        let refused = ask::<Echo>(&client, &addr, "/refuse", &body, Duration::from_secs(5)).await;
        assert!(
            matches!(&refused, Err(Failure::Status(StatusCode::UNAUTHORIZED))),
            "{refused:?}"
        );
        // An answer that is not what was asked for: reached, but broken.
        let wrong = ask::<u64>(&client, &addr, "/echo", &body, Duration::from_secs(5)).await;
        assert!(matches!(wrong, Err(Failure::Broken(_))), "{wrong:?}");
    }

    #[tokio::test]
    async fn a_peer_that_refuses_or_does_not_answer_in_time_is_unreachable() {
        let client = PeerClient::new(1, "secret");
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        let refused = ask::<bool>(&client, &closed, "/leads", &(), Duration::from_secs(5)).await;
        assert!(
            matches!(&refused, Err(Failure::Unreachable(why)) if why.contains("refused")),
            "{refused:?}"
        );
        // Accepts the connection and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap().to_string();
        let late = ask::<bool>(&client, &addr, "/leads", &(), Duration::from_millis(200)).await;
        assert!(
            matches!(&late, Err(Failure::Unreachable(why)) if why.contains("no answer")),
            "{late:?}"
        );
        assert!(peer_uri("not an address", "/leads").is_err());
    }

    #[test]
    fn a_replica_is_behind_while_what_it_receives_ends_below_the_leaders_commit() {
        let catch_up = CatchUp::default();
        assert!(!catch_up.lagging(), "a replica starts electable");
        // Catching up: a page of entries that ends below what the leader committed.
        catch_up.saw(&append(10, 26, 90));
        assert!(catch_up.lagging());
        // The last page reaches the commit, and the heartbeats after it too.
        catch_up.saw(&append(74, 95, 90));
        assert!(!catch_up.lagging());
        catch_up.saw(&append(95, 95, 95));
        assert!(!catch_up.lagging());
        // Under load the leader's log runs ahead of its commit: that is not behind.
        catch_up.saw(&append(95, 120, 100));
        assert!(!catch_up.lagging());
        // A heartbeat to a replica whose log stops below the commit: behind.
        catch_up.saw(&append(60, 60, 120));
        assert!(catch_up.lagging());
        assert!(catch_up.since_append() < Duration::from_secs(5));
    }
}
