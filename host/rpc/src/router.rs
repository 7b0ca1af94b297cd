//! The routers: the public JSON-RPC service (HTTP, WebSocket, health) and the
//! namespaces-only service an operator listener mounts (admin).

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Extension, Router,
    body::Bytes,
    extract::{
        ConnectInfo, DefaultBodyLimit, State,
        ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use tower_http::cors::CorsLayer;

use crate::{
    ConnectionSlot, EthBackend, Namespace, RpcConfig,
    clients::client_key,
    flashbots, framing,
    server::{RequestContext, Server},
    ws::{self, WsLimits},
};

/// The JSON-RPC service: `POST /` (JSON-RPC over HTTP), `GET /` (WebSocket upgrade, JSON-RPC
/// and subscriptions), `GET /health` ("ok"). `eth_*`, `net_*` and `web3_*` go to `backend`;
/// any other method to the first of `namespaces` that serves it.
///
/// Filter background tasks start with the first filter, inside the serving runtime, so this
/// function itself needs no runtime.
pub fn router(
    backend: Arc<dyn EthBackend>,
    namespaces: Vec<Arc<dyn Namespace>>,
    config: RpcConfig,
) -> Router {
    let server = Arc::new(Server::new(Some(backend), namespaces, config.clone()));
    let router = Router::new()
        .route("/", get(websocket).post(http))
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            config.body_timeout,
        ))
        .with_state(server);
    if config.cors_any_origin {
        router.layer(CorsLayer::permissive())
    } else {
        router
    }
}

/// `POST /` serving only `namespaces` (no eth methods, no WebSocket, no CORS), with the same
/// framing, parameter parsing and limits as [`router`]. The caller adds its own
/// authentication in front.
pub fn namespace_router(namespaces: Vec<Arc<dyn Namespace>>, config: RpcConfig) -> Router {
    let server = Arc::new(Server::new(None, namespaces, config.clone()));
    Router::new()
        .route("/", post(http))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            config.body_timeout,
        ))
        .with_state(server)
}

/// `POST /`. With an `X-Flashbots-Signature: <address>:<signature>` header the body must be
/// signed by `<address>` (EIP-191 over the hex text of keccak256(body)); the verified address
/// reaches namespaces as [`crate::Caller::searcher`]. A malformed header or a wrong signature
/// is answered with a -32600 error (HTTP 200, the request's id when it has one) and nothing
/// runs. Without the header nothing changes.
async fn http(
    State(server): State<Arc<Server>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let searcher = match headers.get(flashbots::HEADER) {
        None => None,
        Some(value) => match flashbots::verify(value.as_bytes(), &body) {
            Ok(searcher) => Some(searcher),
            Err(err) => {
                tracing::debug!(target: "ordo::rpc", error = %err.message, "flashbots signature refused");
                return json_response(framing::reject(&body, &err));
            }
        },
    };
    let ctx = RequestContext {
        ws: None,
        searcher,
        client: server
            .config
            .client(peer.map(|Extension(ConnectInfo(addr))| addr), &headers),
    };
    match framing::handle(&server, &body, ctx).await {
        Some(response) => json_response(response),
        None => StatusCode::OK.into_response(),
    }
}

fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn websocket(
    State(server): State<Arc<Server>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    slot: Option<Extension<ConnectionSlot>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let client = server
        .config
        .client(peer.map(|Extension(ConnectInfo(addr))| addr), &headers);
    // Opening a connection counts against the caller's budget; there is no JSON-RPC body to
    // answer in yet, so the refusal is HTTP 429.
    if let Some(ip) = client
        && !server.config.per_ip.check(&client_key(ip))
    {
        metrics::counter!("ordo_rpc_rate_limited_total", "limit" => "ip").increment(1);
        return StatusCode::TOO_MANY_REQUESTS.into_response();
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let limits = WsLimits {
        max_in_flight: server.config.ws_max_in_flight,
        send_queue: server.config.ws_send_queue,
        max_subscriptions: server.config.ws_max_subscriptions,
        max_queue_bytes: server.config.ws_max_queue_bytes,
        idle_timeout: server.config.ws_idle_timeout,
    };
    upgrade
        .max_message_size(server.config.max_body_bytes)
        .on_upgrade(move |socket| async move {
            // The connection's slot under the cap lives as long as the WebSocket.
            let _slot = slot;
            ws::serve_connection(server, socket, limits, client).await
        })
}

async fn health() -> &'static str {
    "ok"
}
