//! Keystone: the API of one simulated site.

use axum::Router;

use crate::sim::server::SiteContext;

pub fn routes() -> Router<SiteContext> {
    Router::new()
}
