//! Nova: flavors and servers of one simulated site.

use std::time::Instant;

use super::state::ServerStatus;
use crate::sim::world::Site;

/// Applies due server transitions (BUILD -> ACTIVE or ERROR, stops, starts, deletes).
pub fn advance(site: &mut Site, now: Instant) {
    let due: Vec<String> = site
        .compute
        .servers
        .values()
        .filter(|server| {
            server
                .pending
                .as_ref()
                .is_some_and(|pending| pending.at <= now)
        })
        .map(|server| server.id.clone())
        .collect();
    for id in due {
        let Some(server) = site.compute.servers.get_mut(&id) else {
            continue;
        };
        let Some(pending) = server.pending.take() else {
            continue;
        };
        server.status = pending.then;
        server.updated = site.clock.wall();
        if server.status == ServerStatus::Deleting {
            site.compute.servers.remove(&id);
        }
    }
}

pub fn routes() -> axum::Router<crate::sim::server::SiteContext> {
    axum::Router::new()
}
