//! Token checks shared by the twin's Nova, Cinder and Neutron: a request carries a Keystone
//! token (`X-Auth-Token`) issued by this site's Keystone and not expired, else 401. The 401 body
//! is Keystone's shape, not the service's: real deployments answer it from keystonemiddleware,
//! in front of the service.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::state::Token;
use crate::errors::{self, Service};
use crate::world::Site;

/// A request without a valid token.
#[derive(Debug, Clone, Copy)]
pub struct Unauthorized;

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut response = errors::respond(
            Service::Keystone,
            StatusCode::UNAUTHORIZED,
            "The request you have made requires authentication.",
        );
        response.headers_mut().insert(
            "www-authenticate",
            axum::http::HeaderValue::from_static("Keystone uri=\"/identity\""),
        );
        response
    }
}

/// The token a request authenticates with.
pub fn token(site: &Site, headers: &HeaderMap) -> Result<Token, Unauthorized> {
    let id = headers
        .get("x-auth-token")
        .and_then(|value| value.to_str().ok())
        .ok_or(Unauthorized)?;
    let token = site.identity.tokens.get(id).ok_or(Unauthorized)?;
    if token.expires_at <= site.clock.wall() {
        return Err(Unauthorized);
    }
    Ok(token.clone())
}

/// Whether the token carries one of `roles` (Cinder/Nova policy checks).
pub fn has_any_role(token: &Token, roles: &[String]) -> bool {
    token.roles.iter().any(|role| roles.contains(role))
}
