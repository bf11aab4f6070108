//! Test support for the twin's OpenStack handlers, in process: tokens granted without going
//! through Keystone, and one request through a router with its status, headers and JSON body.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use super::state::Token;
use crate::world::Site;

/// Inserts a one-hour token `id` for `user` on project `prod` with `roles`.
pub fn grant_token(site: &mut Site, id: &str, user: &str, roles: &[&str]) {
    let user_id = site
        .identity
        .users
        .values()
        .find(|u| u.name == user)
        .unwrap_or_else(|| panic!("no user {user} in the fixture"))
        .id
        .clone();
    let project_id = site.project_id("prod").expect("project prod").to_string();
    let now = chrono::Utc::now();
    site.identity.tokens.insert(
        id.to_string(),
        Token {
            user_id,
            project_id,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            method: "password".to_string(),
            application_credential_id: None,
            issued_at: now,
            expires_at: now + chrono::Duration::hours(1),
        },
    );
}

/// One request through `app`: (status, headers, body as JSON; `Null` when empty, a string when
/// not JSON).
pub async fn call(
    app: &Router,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", host);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };

    let response = app
        .clone()
        .oneshot(request.body(body).expect("a request"))
        .await
        .expect("the router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };

    (status, headers, value)
}
