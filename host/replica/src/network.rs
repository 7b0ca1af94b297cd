//! Replica-to-replica transport: openraft's three RPCs as JSON over HTTP on a listener of
//! their own (never the public RPC port), each request carrying the group's shared secret.
//!
//! [`serve`] answers them for one replica; [`HttpNetwork`] sends them. A peer that cannot be
//! reached is `Unreachable` (openraft backs off) rather than a network error it would retry
//! hot. [`Faults`] is the seam for partitions: a link it cuts behaves like a dead peer, in
//! both directions, so tests split a group deterministically.

use std::{collections::HashSet, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use openraft::{
    BasicNode,
    error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable},
    network::{RPCOption, RaftNetwork, RaftNetworkFactory},
    raft::{
        AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest,
        InstallSnapshotResponse, VoteRequest, VoteResponse,
    },
};
use parking_lot::RwLock;
use serde::{Serialize, de::DeserializeOwned};
use subtle::ConstantTimeEq;

use crate::types::{NodeId, Raft, TypeConfig};

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

/// What the replication listener needs.
#[derive(Clone)]
struct Server {
    raft: Raft,
    secret: Arc<str>,
    me: NodeId,
    faults: Faults,
}

/// The replication listener's routes for `raft`, answering only requests that carry
/// `secret`.
pub fn router(raft: Raft, me: NodeId, secret: Arc<str>, faults: Faults) -> Router {
    Router::new()
        .route("/raft/append", post(append))
        .route("/raft/vote", post(vote))
        .route("/raft/snapshot", post(snapshot))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_RPC_BYTES))
        .with_state(Server {
            raft,
            secret,
            me,
            faults,
        })
}

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
}

async fn append(
    State(server): State<Server>,
    headers: HeaderMap,
    Json(req): Json<AppendEntriesRequest<TypeConfig>>,
) -> Response {
    if let Some(refused) = server.refuse(&headers) {
        return refused;
    }
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

/// Sends a replica's RPCs to its peers over HTTP.
#[derive(Debug, Clone)]
pub struct HttpNetwork {
    me: NodeId,
    client: reqwest::Client,
    secret: Arc<str>,
    faults: Faults,
}

impl HttpNetwork {
    /// The network of replica `me`, authenticating with `secret`.
    pub fn new(me: NodeId, secret: Arc<str>, faults: Faults) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(500))
            .build()
            .unwrap_or_default();
        Self {
            me,
            client,
            secret,
            faults,
        }
    }
}

/// One peer.
#[derive(Debug)]
pub struct HttpPeer {
    net: HttpNetwork,
    target: NodeId,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = HttpPeer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> HttpPeer {
        HttpPeer {
            net: self.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

impl HttpPeer {
    async fn send<Req, Resp, E>(
        &self,
        path: &str,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
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
        let url = format!("http://{}/raft/{path}", self.addr);
        let answer = self
            .net
            .client
            .post(url)
            .bearer_auth(&*self.net.secret)
            .header(FROM_HEADER, self.net.me.to_string())
            .timeout(option.hard_ttl())
            .json(req)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() || e.is_timeout() {
                    unreachable(e.to_string())
                } else {
                    RPCError::Network(NetworkError::new(&e))
                }
            })?;
        if !answer.status().is_success() {
            return Err(unreachable(format!(
                "replica {} answered {}",
                self.target,
                answer.status()
            )));
        }
        let result: Result<Resp, RaftError<NodeId, E>> = answer
            .json()
            .await
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for HttpPeer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.send("append", &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.send("snapshot", &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.send("vote", &rpc, &option).await
    }
}

/// The address a replica's listener is reached at, as its `BasicNode`.
pub fn node_at(addr: SocketAddr) -> BasicNode {
    BasicNode {
        addr: addr.to_string(),
    }
}
