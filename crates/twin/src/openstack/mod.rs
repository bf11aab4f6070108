//! The simulated OpenStack services of one site, served on one port with DevStack-style paths:
//! Keystone `/identity/v3`, Nova `/compute/v2.1`, Cinder `/volume/v3`, Neutron `/network/v2.0`,
//! and Swift `/v1/AUTH_<project_id>` (with `/info`), at the root as a Swift proxy serves it.

pub mod auth;
pub mod cinder;
pub mod ipam;
pub mod keystone;
pub mod neutron;
pub mod nova;
pub mod state;
pub mod swift;
#[cfg(test)]
pub(crate) mod testing;

use axum::Router;
use axum::routing::{any, get};

use super::world::SiteContext;

/// All OpenStack services of a site on one router.
pub fn router() -> Router<SiteContext> {
    // `nest` serves `/identity` but not `/identity/`; real services answer both.
    Router::new()
        .route("/identity/", get(keystone::versions))
        .route("/compute/", get(nova::versions_index))
        .route("/volume/", any(cinder::dispatch))
        .route("/network/", get(neutron::versions))
        .nest("/identity", keystone::routes())
        .nest("/compute", nova::routes())
        .nest("/volume", cinder::routes())
        .nest("/network", neutron::routes())
        .merge(swift::routes())
}
