//! Nova (compute v2.1) of one simulated site, DevStack-style under `/compute`: version
//! discovery, flavors, servers (boot from volume, list/detail with filters and pagination, show,
//! update, delete), the `os-start`/`os-stop` actions, server metadata and tags, volume
//! attachments, availability zones, key pairs ([`keypairs`]) and server groups
//! ([`server_groups`]); where a boot lands is [`scheduler`]'s choice.
//!
//! | method | path (under `/compute`) | answer |
//! |---|---|---|
//! | GET | (`/compute` itself), `/v2.1`, `/v2.1/` | version documents (no token needed) |
//! | GET | `/v2.1/flavors`, `/v2.1/flavors/detail`, `/v2.1/flavors/{id}` | flavors |
//! | GET, POST | `/v2.1/servers` | list (ids, names) / create (202, `Location`) |
//! | GET | `/v2.1/servers/detail` | full servers; `name` (regex), `status`, `flavor`, `ip`, `changes-since`, ... |
//! | GET, PUT, DELETE | `/v2.1/servers/{id}` | show / update / delete (204) |
//! | POST | `/v2.1/servers/{id}/action` | `os-stop`, `os-start` (202) |
//! | GET, PUT, POST | `/v2.1/servers/{id}/metadata` | all metadata / replace / merge |
//! | GET, PUT, DELETE | `/v2.1/servers/{id}/metadata/{key}` | one item |
//! | GET, POST | `/v2.1/servers/{id}/os-volume_attachments` | list / attach |
//! | GET, DELETE | `/v2.1/servers/{id}/os-volume_attachments/{volume_id}` | show / detach (202) |
//! | GET, PUT, DELETE | `/v2.1/servers/{id}/tags` | tags (>= 2.26) / replace all / remove all (204) |
//! | GET, PUT, DELETE | `/v2.1/servers/{id}/tags/{tag}` | has it (204) / add (201) / remove (204) |
//! | GET | `/v2.1/os-availability-zone` | zones |
//! | GET, POST | `/v2.1/os-keypairs` | the user's key pairs / create or import |
//! | GET, DELETE | `/v2.1/os-keypairs/{name}` | one / delete |
//! | GET, POST | `/v2.1/os-server-groups` | the project's groups / create |
//! | GET, DELETE | `/v2.1/os-server-groups/{id}` | one / delete (204) |
//!
//! Microversions: `OpenStack-API-Version: compute 2.x` (or the legacy
//! `X-OpenStack-Nova-API-Version: 2.x`, or `latest`) from 2.1 to [`MAX_MICROVERSION`]; the
//! version used is echoed in both headers with `Vary`, a malformed one is a 400 and one out of
//! range a 406, as Nova answers. Without a header the version is 2.1.
//!
//! Lifecycle (the latencies are [`Op`]s of the clock, applied by [`advance`]):
//! a created server is `BUILD` (task `spawning`), its volumes `in-use` with a Cinder attachment
//! and its ports made or bound at once; after `Op::BootFromVolume` it is `ACTIVE`, or `ERROR`
//! with a fault when the build fails. `os-stop` makes it `SHUTOFF` after `Op::StopServer`
//! (task `powering-off` meanwhile), `os-start` `ACTIVE` after `Op::StartServer`. A delete (204)
//! sets task `deleting`; after `Op::DeleteServer` the server is gone, its volumes are detached
//! (Cinder `available`) and the ports Nova made are deleted while ports passed in are unbound.
//!
//! Which failures are API errors and which are build failures follows real Nova
//! (`nova/api/openstack/compute/servers.py` `create`, `nova/compute/api.py`
//! `_validate_bdm`/`_provision_instances`, `nova/network/neutron.py`
//! `_ports_needed_per_instance`, `nova/compute/manager.py` `_build_and_run_instance`):
//! - unknown `flavorRef`: 400 `Flavor X could not be found.` (FlavorNotFound is mapped to
//!   400 by the create handler; no server is made);
//! - a volume that is not `available` (in-use, creating, error, ...): 400, because Nova reserves
//!   every volume with a Cinder attachment before it answers and Cinder refuses
//!   (`Invalid volume: Invalid input received: Invalid volume: Volume X status must be
//!   available or downloading to reserve, but the current status is in-use. (HTTP 400)
//!   (Request-ID: req-...)`);
//! - an unknown volume: 400 `Block Device Mapping is Invalid: failed to get volume X.`; a boot
//!   volume that is not bootable: 400 `Block Device X is not bootable.`;
//! - a taken `fixed_ip`: 400 `Fixed IP address A is already in use on instance U.` (Nova
//!   asks Neutron before it answers); an unknown network or port: 400; a port in use: 409;
//! - a network without a free address: the request is accepted (202) and the build fails: the
//!   server goes `ERROR` with fault 500 `Build of instance U aborted: Failed to allocate the
//!   network(s) with error No fixed IP addresses available for network: N, not rescheduling.`
//!   (NoMoreFixedIps -> BuildAbortException, no reschedule);
//! - a `fixed_ip` Neutron cannot give (outside the subnet, the gateway, network or broadcast
//!   address): also a build failure, which Nova reschedules until it runs out of hosts: fault
//!   500 `Exceeded maximum number of retries. Exhausted all hosts available for retrying build
//!   failures for instance U.` (MaxRetriesExceeded).
//!
//! After a failed build the server keeps its block device mappings (`volumes_attached`) but
//! Nova has detached the volumes (Cinder `available`) and deallocated its ports, as
//! `_build_resources`/`_cleanup_allocated_networks` do.
//!
//! Policy follows Nova's defaults: readers (`reader`, `member`, `admin`) list and show, members
//! and admins change; admins see every project (`all_tenants`) and the `OS-EXT-SRV-ATTR:*`
//! attributes. Metadata writes, stop/start and attach/detach check the server's state as
//! Nova's `check_instance_state` does (409 `Cannot 'stop' instance U while it is in vm_state
//! stopped`).
//!
//! Scheduling: a boot is placed on one of the site's compute hosts at once, in the zone asked
//! for and as its server group (`OS-SCH-HNT:scheduler_hints.group`) allows; when no host
//! passes, or the control API's `no_valid_host` fault takes the boot, the request is still
//! accepted and the server ends `ERROR` with fault 500 `No valid host was found. ...`, no host
//! and no ports (Nova's conductor buries it in cell0). The control API's `server_error` fault
//! turns a running server `ERROR` later, its host, ports and volumes kept, as a VM that dies
//! on its hypervisor.
//!
//! Left out: images (a non-empty `imageRef` or an `image` block device is 400 "not found"),
//! blank/snapshot block devices, `sort_key`/`sort_dir`
//! (the order is always Nova's default, newest first), deleted servers in `changes-since`
//! answers, project ids in URLs, locking, multiple create (`max_count` > 1 is refused as the
//! volumes cannot all be reserved), and every action besides `os-start`/`os-stop`.
//!
//! Cinder's side of attach, detach and `delete_on_termination` goes through `cinder::attach`,
//! `cinder::detach` and `cinder::start_delete` (volume status, attachment records and the
//! array volume's connection to this site's compute host, [`compute_host`]).

mod actions;
mod attachments;
mod create;
mod flavors;
mod lifecycle;
mod metadata;
mod request;
mod servers;
#[cfg(test)]
mod testing;
mod versions;
mod views;

use self::{
    actions::*, attachments::*, create::*, flavors::*, metadata::*, request::*, servers::*,
    versions::*, views::*,
};
use crate::errors::{self, Service};
use crate::world::SiteContext;
use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
pub use lifecycle::{advance, power_off};
use protector_wire::nova as model;
pub use versions::versions_index;

mod keypairs;

mod scheduler;

mod server_groups;

mod tags;

pub use keypairs::{fingerprint, generated_public_key};

pub use scheduler::place;

pub fn routes() -> Router<SiteContext> {
    let api = Router::new()
        .route("/", get(version_show))
        .route("/flavors", get(flavors_index))
        .route("/flavors/detail", get(flavors_detail))
        .route("/flavors/{flavor_id}", get(flavor_show))
        .route("/servers", get(servers_index).post(server_create))
        .route("/servers/detail", get(servers_detail))
        .route(
            "/servers/{server_id}",
            get(server_show).put(server_update).delete(server_delete),
        )
        .route("/servers/{server_id}/action", post(server_action))
        .route(
            "/servers/{server_id}/metadata",
            get(metadata_index)
                .put(metadata_replace)
                .post(metadata_merge),
        )
        .route(
            "/servers/{server_id}/metadata/{key}",
            get(metadata_show).put(metadata_set).delete(metadata_delete),
        )
        .route(
            "/servers/{server_id}/os-volume_attachments",
            get(attachments_index).post(attachment_create),
        )
        .route(
            "/servers/{server_id}/os-volume_attachments/{volume_id}",
            get(attachment_show).delete(attachment_delete),
        )
        .route(
            "/servers/{server_id}/tags",
            get(tags::index).put(tags::replace).delete(tags::clear),
        )
        .route(
            "/servers/{server_id}/tags/{tag}",
            get(tags::show).put(tags::add).delete(tags::remove),
        )
        .route("/os-availability-zone", get(zones_index))
        .route("/os-keypairs", get(keypairs::index).post(keypairs::create))
        .route(
            "/os-keypairs/{name}",
            get(keypairs::show).delete(keypairs::delete),
        )
        .route(
            "/os-server-groups",
            get(server_groups::index).post(server_groups::create),
        )
        .route(
            "/os-server-groups/{group_id}",
            get(server_groups::show).delete(server_groups::delete),
        );
    Router::new()
        .route("/", get(versions_index))
        .route("/v2.1/", get(version_show))
        .nest("/v2.1", api)
        .fallback(unknown_path)
}

/// Paths under `/compute` no route matches: a Nova-shaped 404. (`/compute/` with its slash
/// does not reach this router: axum's `nest` matches `/compute` and `/compute/...` only, so
/// the parent router needs `.route("/compute/", get(nova::versions_index))` for it.)
async fn unknown_path() -> Response {
    errors::respond(
        Service::Nova,
        StatusCode::NOT_FOUND,
        "The resource could not be found.",
    )
}

mod pattern;
