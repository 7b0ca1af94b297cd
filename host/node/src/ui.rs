//! `GET /ui`: the read-only dashboard, served by the node from assets compiled into the
//! binary (no other server, nothing fetched from the internet). The page talks to this
//! node's JSON-RPC over a WebSocket on the same origin: `eth_subscribe newHeads` drives
//! refreshes of `ordo_nodeStatus`, recent blocks with their `ordo_getBlockProvenance`, and
//! the search box (`eth_getTransactionByHash` + `ordo_txStatus`, or a block).

use axum::{
    Router,
    http::header,
    response::{IntoResponse, Redirect},
    routing::get,
};

const INDEX: &str = include_str!("ui/index.html");
const APP: &str = include_str!("ui/app.js");
/// Scripts only from this origin, connections only back to it.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; \
                   connect-src 'self' ws: wss:; img-src 'self'; base-uri 'none'; form-action 'none'";

/// The dashboard's routes, merged into the RPC listener's router.
pub fn routes() -> Router {
    Router::new()
        .route(
            "/ui",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                        (header::CONTENT_SECURITY_POLICY, CSP),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    INDEX,
                )
                    .into_response()
            }),
        )
        .route("/ui/", get(|| async { Redirect::permanent("/ui") }))
        .route(
            "/ui/app.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    APP,
                )
                    .into_response()
            }),
        )
}
