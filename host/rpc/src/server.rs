//! What every request handler shares: the [`Server`] (chain backend, namespaces, filters,
//! read pool, clients, config), and the per-request [`RequestContext`].

use std::{net::IpAddr, sync::Arc};

use alloy_primitives::Address;
use serde_json::value::RawValue;

use crate::{
    BackendError, EthBackend, Namespace, Params, RpcConfig, clients::Clients,
    filters::FilterManager, reads::ReadPool,
};

/// The result of one method: its JSON, serialized once.
pub(crate) type MethodResult = Result<Box<RawValue>, BackendError>;

/// `eth_subscribe` / `eth_unsubscribe` on the connection a request came in on (WebSocket).
pub(crate) trait Subscriptions: Sync {
    /// Opens a subscription on this connection.
    fn subscribe(
        &self,
        server: &Server,
        params: &Params<'_>,
        client: Option<IpAddr>,
    ) -> MethodResult;
    /// Closes one; `true` if it existed on this connection.
    fn unsubscribe(&self, id: &str) -> bool;
}

/// Who is asking, per request: the WebSocket message context (subscriptions) and, for HTTP
/// requests carrying a valid `X-Flashbots-Signature`, the searcher's address.
#[derive(Clone, Copy, Default)]
pub(crate) struct RequestContext<'a> {
    /// The connection's subscriptions (`None` over HTTP).
    pub(crate) ws: Option<&'a dyn Subscriptions>,
    /// The signer of the request body (Flashbots searcher identity), verified.
    pub(crate) searcher: Option<Address>,
    /// The peer's IP (per-IP rate limits); None when the server runs without peer info.
    pub(crate) client: Option<IpAddr>,
}

/// Everything a request handler needs; one per router, shared by all connections.
pub(crate) struct Server {
    /// The eth namespace; `None` on a listener that serves namespaces only (admin).
    pub(crate) backend: Option<Arc<dyn EthBackend>>,
    /// Every other namespace, asked in order.
    pub(crate) namespaces: Vec<Arc<dyn Namespace>>,
    pub(crate) filters: Arc<FilterManager>,
    pub(crate) reads: ReadPool,
    pub(crate) clients: Arc<Clients>,
    pub(crate) config: RpcConfig,
}

impl Server {
    /// A server for `backend` and `namespaces`; the read pool's threads start here.
    pub(crate) fn new(
        backend: Option<Arc<dyn EthBackend>>,
        namespaces: Vec<Arc<dyn Namespace>>,
        config: RpcConfig,
    ) -> Self {
        let clients = Clients::new(config.client_limits());
        Self {
            filters: Arc::new(FilterManager::new(&config, Arc::clone(&clients))),
            clients,
            reads: ReadPool::new(
                config.read_threads,
                config.read_queue,
                config.call_timeout,
                config.read_ms_per_ip.clone(),
            ),
            backend,
            namespaces,
            config,
        }
    }

    /// Runs an expensive read on the read pool, charged to the caller.
    pub(crate) async fn read<T, F>(&self, ctx: RequestContext<'_>, f: F) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, BackendError> + Send + 'static,
    {
        self.reads
            .run(ctx.client.map(crate::clients::client_key), f)
            .await
    }
}
