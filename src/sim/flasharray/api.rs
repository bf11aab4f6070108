//! The FlashArray REST 2.x API of one simulated array.

use axum::Router;

use crate::sim::server::SiteContext;

pub fn router() -> Router<SiteContext> {
    Router::new()
}
