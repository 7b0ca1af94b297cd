//! The admin listener: the `admin` namespace (`ordo_api::AdminNamespace`) and `/metrics`
//! behind a bearer token, on their own address (default 127.0.0.1:8548) so the public RPC
//! port never exposes them.
//!
//! ```text
//! any request ──▶ bearer check (constant time; anything else is a bare 401, body unread)
//! POST /      ──▶ ordo-rpc's framing and parameter parser ──▶ admin_* ──▶ AdminNamespace
//! GET /metrics ──▶ Prometheus text
//! ```

use std::{path::Path, sync::Arc};

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use eyre::WrapErr;
use ordo_api::AdminNamespace;
use subtle::ConstantTimeEq;

use crate::secret_file::write_private;

/// Largest admin request: a plugin travels base64-encoded inside it.
const MAX_ADMIN_BODY: usize = 64 * 1024 * 1024;

/// Reads the admin token from `file`, or from `<datadir>/admin.token`, creating that with a
/// fresh random token (mode 0600) on first start.
pub fn load_or_create_token(datadir: &Path, file: Option<&Path>) -> eyre::Result<String> {
    if let Some(file) = file {
        let token = std::fs::read_to_string(file)
            .wrap_err_with(|| format!("reading admin token file {}", file.display()))?;
        let token = token.trim().to_string();
        eyre::ensure!(
            token.len() >= MIN_TOKEN_LEN,
            "admin token in {} is shorter than {MIN_TOKEN_LEN} characters",
            file.display()
        );
        warn_if_readable_by_others(file);
        return Ok(token);
    }
    let path = datadir.join("admin.token");
    match std::fs::read_to_string(&path) {
        Ok(token) if token.trim().len() >= MIN_TOKEN_LEN => {
            warn_if_readable_by_others(&path);
            return Ok(token.trim().to_string());
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).wrap_err_with(|| format!("reading {}", path.display())),
    }
    let bytes: [u8; 32] = rand::random();
    let token = alloy_primitives::hex::encode(bytes);
    write_private(&path, token.as_bytes())?;
    tracing::info!(target: "ordo::admin", path = %path.display(), "generated admin token");
    Ok(token)
}

/// Tokens shorter than this are refused (a generated one has 64 hex characters).
const MIN_TOKEN_LEN: usize = 16;

fn warn_if_readable_by_others(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path)
        && crate::secret_file::open_to_others(&meta).is_some()
    {
        tracing::warn!(target: "ordo::admin", path = %path.display(), "admin token file is readable by others; chmod 600 it");
    }
}

/// The admin service over `admin`. The token is checked before anything else, the body
/// included: an unauthenticated request gets a bare 401 whatever its method, path or size.
pub fn router(admin: Arc<AdminNamespace>, token: String) -> Router {
    let config = ordo_rpc::RpcConfig {
        max_body_bytes: MAX_ADMIN_BODY,
        cors_any_origin: false,
        // Admin methods are quick; no read threads are needed.
        read_threads: 1,
        ..Default::default()
    };
    let metrics = Router::new().route(
        "/metrics",
        axum::routing::get({
            let admin = admin.clone();
            move || {
                let admin = admin.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        crate::metrics::render(&crate::metrics::Sources {
                            builder: &admin.builder,
                            pool: &admin.pool,
                            plugins: &admin.manager,
                            poster: admin.poster.as_ref(),
                        }),
                    )
                }
            }
        }),
    );
    ordo_rpc::namespace_router(vec![admin], config)
        .merge(metrics)
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(middleware::from_fn_with_state(
            Arc::new(token),
            require_token,
        ))
}

async fn require_token(State(token): State<Arc<String>>, request: Request, next: Next) -> Response {
    if authorized(request.headers(), &token) {
        next.run(request).await
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    given.trim().as_bytes().ct_eq(token.as_bytes()).into()
}
