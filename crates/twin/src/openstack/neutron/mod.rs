//! Neutron v2.0 of one simulated site, at `/network` as the twin's catalog names it (openstacksdk
//! appends `v2.0` to the catalog URL itself, without discovery): the version document,
//! `/v2.0/` resources and extensions; networks, subnets and security groups (list, show);
//! ports (list, show, create, update, delete).
//!
//! Lists filter as Neutron does (an attribute given once or repeated: any of the values;
//! `fixed_ips=ip_address=...`/`subnet_id=...`/`ip_address_substr=...` for ports; empty values
//! ignored; `fields` restricts the attributes shown), sort by `sort_key`/`sort_dir` and then id,
//! and paginate with `limit`, `marker` and `page_reverse`, answering `<collection>_links` with
//! `next`/`previous` exactly as Neutron's `get_pagination_links` builds them.
//!
//! Addresses come from the subnet's allocation pools, lowest free first (deterministic, where
//! real Neutron picks at random among the first free ones); a requested address must lie in the
//! subnet (400 `InvalidIpForSubnet`) and be free (409 `IpAddressAlreadyAllocated`), and an
//! exhausted pool is 409 `IpAddressGenerationFailure`, with Neutron's messages. [`create_port`]
//! is public so that Nova can allocate a server's ports the same way.
//!
//! Visibility follows Neutron's defaults: an admin token sees everything, others their project's
//! resources and shared networks (with their subnets); anything else is a 404. Writing ports needs
//! a role other than `reader` (403 `PolicyNotAuthorized`).

mod networks;
mod ports;
mod query;
mod request;
#[cfg(test)]
mod testing;
mod versions;
mod views;

use self::{networks::*, ports::*, request::*, versions::*};
use crate::world::SiteContext;
use axum::Router;
use axum::routing::get;
pub use versions::versions;

pub fn routes() -> Router<SiteContext> {
    Router::new()
        .route("/", get(versions))
        .route("/v2.0", get(resources))
        .route("/v2.0/", get(resources))
        .route("/v2.0/extensions", get(extensions))
        .route("/v2.0/extensions/{alias}", get(extension))
        .route("/v2.0/networks", get(list_networks))
        .route("/v2.0/networks/{id}", get(show_network))
        .route("/v2.0/subnets", get(list_subnets))
        .route("/v2.0/subnets/{id}", get(show_subnet))
        .route("/v2.0/ports", get(list_ports).post(create_port_handler))
        .route(
            "/v2.0/ports/{id}",
            get(show_port).put(update_port).delete(delete_port),
        )
        .route("/v2.0/security-groups", get(list_security_groups))
        .route("/v2.0/security-groups/{id}", get(show_security_group))
        .fallback(not_found)
}
