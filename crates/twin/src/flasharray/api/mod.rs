//! The FlashArray REST 2.x API of one simulated array, as Pure's OpenAPI description
//! (`FA2.56-dr-subset.spec.yaml`) and the real clients (py-pure-client, Cinder's Pure driver)
//! use it.
//!
//! | method | path (`/api/2.N/...`, N = 0..=56) | parameters |
//! |---|---|---|
//! | GET | `/api/api_version` (no auth) | |
//! | POST | `login` (header `api-token`) -> header `x-auth-token` | |
//! | POST | `logout` | |
//! | GET | `arrays`, `arrays/space` | |
//! | GET | `arrays/performance` | `start_time`, `end_time`, `resolution` (ms) |
//! | GET | `controllers`, `ports`, `network-interfaces` | `names` |
//! | GET | `array-connections` | `names`, `ids` (peer array) |
//! | GET POST PATCH DELETE | `volumes` | `names`, `ids`, `destroyed`; POST `overwrite`, `add_to_protection_group_names`; PATCH `truncate` |
//! | GET DELETE | `volumes/tags` | `resource_names`, `resource_ids`, `namespaces`; DELETE `keys` |
//! | PUT | `volumes/tags/batch` | `resource_names`, `resource_ids` |
//! | GET POST DELETE | `volumes/protection-groups`, `protection-groups/volumes` (the same memberships) | `group_names`, `group_ids`, `member_names`, `member_ids`, `member_destroyed` |
//! | GET POST PATCH DELETE | `volume-snapshots` | `names`, `ids`, `source_names`, `source_ids`, `destroyed` |
//! | GET | `volume-snapshots/transfer` | as `volume-snapshots` |
//! | GET POST PATCH DELETE | `protection-groups` | `names`, `ids`, `destroyed` |
//! | GET POST PATCH DELETE | `protection-groups/targets` | `group_names`, `member_names` (PATCH `allowed` on the target array) |
//! | GET POST PATCH DELETE | `protection-group-snapshots` | `names`, `ids`, `source_names`, `destroyed`; POST `replicate_now`, `replicate`, `apply_retention` |
//! | GET | `protection-group-snapshots/transfer` | as `protection-group-snapshots` |
//! | GET POST PATCH DELETE | `hosts` | `names` |
//! | GET POST DELETE | `connections` (host-volume) | `host_names`, `volume_names` |
//!
//! Every `GET` list also takes `filter`, `sort`, `limit`, `offset`, `continuation_token` and
//! `total_item_count` (see [`crate::flasharray::query`]). Every call but `api_version` and `login` needs
//! the `x-auth-token` of an open session: 401 `Invalid session.` otherwise (py-pure-client then
//! logs in again). Errors are 400 with `{"errors": [{"message", "context"}]}` whose messages
//! carry the phrases clients match on: "does not exist", "already exists", "has been
//! destroyed", "already includes", "already allowed on", "could not be found", "already in use",
//! "cannot be deleted due to existing connections", "Invalid combination of parameters
//! specified.".
//!
//! Modelled latencies: a copy (`POST volumes` with a `source`) answers after `Op::ArrayCopy`,
//! a snapshot after `Op::ArraySnapshot` (the array's work happens at once, under the site lock;
//! the answer waits without holding it). Copying a replicated snapshot whose transfer has not
//! completed is refused: its data is not on this array yet.

mod arrays;
mod hosts;
mod pgroup_snapshots;
mod pgroups;
mod request;
mod snapshots;
mod tags;
mod targets;
#[cfg(test)]
mod testing;
mod views;
mod volumes;

use self::{
    arrays::*, hosts::*, pgroup_snapshots::*, pgroups::*, snapshots::*, tags::*, targets::*,
    volumes::*,
};
use crate::world::SiteContext;
use axum::Router;
use axum::routing::{get, post, put};

pub fn router() -> Router<SiteContext> {
    Router::new()
        .route("/api/api_version", get(api_version))
        .route("/api/{version}/login", post(login))
        .route("/api/{version}/logout", post(logout))
        .route("/api/{version}/arrays", get(arrays_get))
        .route("/api/{version}/arrays/space", get(arrays_space_get))
        .route(
            "/api/{version}/arrays/performance",
            get(arrays_performance_get),
        )
        .route("/api/{version}/controllers", get(controllers_get))
        .route("/api/{version}/ports", get(ports_get))
        .route(
            "/api/{version}/network-interfaces",
            get(network_interfaces_get),
        )
        .route(
            "/api/{version}/array-connections",
            get(array_connections_get),
        )
        .route(
            "/api/{version}/volumes",
            get(volumes_get)
                .post(volumes_post)
                .patch(volumes_patch)
                .delete(volumes_delete),
        )
        .route(
            "/api/{version}/volumes/tags",
            get(volume_tags_get).delete(volume_tags_delete),
        )
        .route("/api/{version}/volumes/tags/batch", put(volume_tags_put))
        .route(
            "/api/{version}/volumes/protection-groups",
            get(group_volumes_get)
                .post(group_volumes_post)
                .delete(group_volumes_delete),
        )
        .route(
            "/api/{version}/volume-snapshots",
            get(volume_snapshots_get)
                .post(volume_snapshots_post)
                .patch(volume_snapshots_patch)
                .delete(volume_snapshots_delete),
        )
        .route(
            "/api/{version}/volume-snapshots/transfer",
            get(volume_snapshots_transfer_get),
        )
        .route(
            "/api/{version}/protection-groups",
            get(groups_get)
                .post(groups_post)
                .patch(groups_patch)
                .delete(groups_delete),
        )
        .route(
            "/api/{version}/protection-groups/volumes",
            get(group_volumes_get)
                .post(group_volumes_post)
                .delete(group_volumes_delete),
        )
        .route(
            "/api/{version}/protection-groups/targets",
            get(targets_get)
                .post(targets_post)
                .patch(targets_patch)
                .delete(targets_delete),
        )
        .route(
            "/api/{version}/protection-group-snapshots",
            get(group_snapshots_get)
                .post(group_snapshots_post)
                .patch(group_snapshots_patch)
                .delete(group_snapshots_delete),
        )
        .route(
            "/api/{version}/protection-group-snapshots/transfer",
            get(group_snapshots_transfer_get),
        )
        .route(
            "/api/{version}/hosts",
            get(hosts_get)
                .post(hosts_post)
                .patch(hosts_patch)
                .delete(hosts_delete),
        )
        .route(
            "/api/{version}/connections",
            get(connections_get)
                .post(connections_post)
                .delete(connections_delete),
        )
        .fallback(not_found)
}
