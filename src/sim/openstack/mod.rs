//! The simulated OpenStack services of one site, served on one port with DevStack-style paths:
//! Keystone `/identity/v3`, Nova `/compute/v2.1`, Cinder `/volume/v3`, Neutron `/network/v2.0`.

pub mod auth;
pub mod cinder;
pub mod ipam;
pub mod keystone;
pub mod neutron;
pub mod nova;
pub mod state;

use axum::Router;

use super::server::SiteContext;

/// All OpenStack services of a site on one router.
pub fn router() -> Router<SiteContext> {
    Router::new()
        .nest("/identity", keystone::routes())
        .nest("/compute", nova::routes())
        .nest("/volume", cinder::routes())
        .nest("/network", neutron::routes())
}
