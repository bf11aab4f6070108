//! Swift (object storage, API v1) of one simulated site, the subset a state backend needs, at
//! `/v1/AUTH_<project_id>` on the site's OpenStack port (the catalog's `object-store` endpoint;
//! real Swift serves the same paths from its proxy's own port): the account ([`containers`]),
//! containers with their listings ([`listing`]) and history mode, and objects ([`objects`]):
//! create-only writes (`If-None-Match: *`), ETags, metadata, conditional reads, expiry, and every
//! overwritten or deleted version kept in the archive container (`X-History-Location`).
//!
//! Requests need a token of this site's Keystone whose project owns the account and which
//! carries `admin` or `member` (keystoneauth's `operator_roles`): else 401 (no valid token) or
//! 403. Errors are swob's one-line HTML pages, or Swift's plain-text messages where it writes its
//! own. The data lives in the world (`Site::object`), in memory; `GET /world` shows each object's
//! size, ETag, timestamps and metadata, not its body. `GET /info` answers the capabilities a
//! client checks (`swift` and `versioned_writes`).

mod containers;
mod listing;
mod objects;
mod request;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use self::request::{authorize, error};
use crate::world::SiteContext;

/// The largest object the twin takes, in bytes (real Swift's default is 5 GiB; the twin holds
/// objects in memory).
pub const MAX_OBJECT_BYTES: usize = 256 * 1024 * 1024;

pub fn routes() -> Router<SiteContext> {
    Router::new()
        .route("/info", get(info))
        .route("/v1/{account}", any(account))
        .route("/v1/{account}/", any(account))
        .route("/v1/{account}/{container}", any(container))
        .route("/v1/{account}/{container}/", any(container))
        .route("/v1/{account}/{container}/{*object}", any(object))
}

/// `GET /info`: the proxy's capabilities (the subset the twin has), unauthenticated.
async fn info() -> Response {
    axum::Json(serde_json::json!({
        "swift": {
            "version": "2.38.3",
            "max_file_size": MAX_OBJECT_BYTES,
            "container_listing_limit": protector_wire::swift::LISTING_LIMIT,
            "max_object_name_length": 1024,
            "max_container_name_length": 256,
            "strict_cors_mode": true,
            "policies": [{"name": "Policy-0", "default": true}],
        },
        "versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]},
    }))
    .into_response()
}

async fn account(
    State(ctx): State<SiteContext>,
    method: Method,
    Path(account): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let site = ctx.lock();
    settle((|| {
        authorize(&site, &headers, &account)?;
        containers::account(&site, method.as_str(), &account, &headers, &query)
    })())
}

async fn container(
    State(ctx): State<SiteContext>,
    method: Method,
    Path((account, container)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut site = ctx.lock();
    settle((|| {
        authorize(&site, &headers, &account)?;
        containers::container(
            &mut site,
            method.as_str(),
            &account,
            &container,
            &headers,
            &query,
        )
    })())
}

async fn object(
    State(ctx): State<SiteContext>,
    method: Method,
    Path((account, container, object)): Path<(String, String, String)>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    // The body first: the site's lock is never held across an `.await`.
    let Ok(body) = axum::body::to_bytes(request.into_body(), MAX_OBJECT_BYTES).await else {
        return *error(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let mut site = ctx.lock();
    settle((|| {
        authorize(&site, &headers, &account)?;
        objects::object(
            &mut site,
            method.as_str(),
            (&account, &container, &object),
            &headers,
            body,
        )
    })())
}

fn settle(answer: request::Answer) -> Response {
    answer.unwrap_or_else(|refused| *refused)
}
