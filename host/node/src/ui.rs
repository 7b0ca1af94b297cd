//! `GET /ui`: the read-only dashboard, served by the node from assets compiled into the
//! binary (no other server, nothing fetched from the internet; uPlot, which draws the live
//! charts, is vendored under `ui/vendor/` with its license). The page talks to this
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
const CHARTS: &str = include_str!("ui/charts.js");
/// uPlot, vendored (`ui/vendor/README.md`): the page works offline.
const UPLOT_JS: &str = include_str!("ui/vendor/uplot-1.6.32.min.js");
const UPLOT_CSS: &str = include_str!("ui/vendor/uplot-1.6.32.min.css");
const UPLOT_LICENSE: &str = include_str!("ui/vendor/uplot-LICENSE");
/// Scripts and styles only from this origin, connections only back to it.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   connect-src 'self' ws: wss:; img-src 'self'; base-uri 'none'; form-action 'none'";

/// The page's scripts, styles and the vendored license: path, type, body.
const ASSETS: [(&str, &str, &str); 5] = [
    ("/ui/app.js", "text/javascript; charset=utf-8", APP),
    ("/ui/charts.js", "text/javascript; charset=utf-8", CHARTS),
    (
        "/ui/vendor/uplot.min.js",
        "text/javascript; charset=utf-8",
        UPLOT_JS,
    ),
    (
        "/ui/vendor/uplot.min.css",
        "text/css; charset=utf-8",
        UPLOT_CSS,
    ),
    (
        "/ui/vendor/uplot-LICENSE",
        "text/plain; charset=utf-8",
        UPLOT_LICENSE,
    ),
];

/// A route per compiled-in asset.
fn assets() -> Router {
    ASSETS
        .into_iter()
        .fold(Router::new(), |router, (path, content_type, body)| {
            router.route(
                path,
                get(move || async move {
                    (
                        [
                            (header::CONTENT_TYPE, content_type),
                            (header::CACHE_CONTROL, "no-cache"),
                        ],
                        body,
                    )
                        .into_response()
                }),
            )
        })
}

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
        .merge(assets())
}
