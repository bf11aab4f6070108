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

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::Value;

use super::auth;
use super::cinder;
use super::ipam;
use super::state::{
    AttachedVolume, Fault, FixedIp, Pending, Port, Server, ServerExtra, ServerStatus, Token,
    VolumeStatus,
};
use crate::clock::Op;
use crate::errors::{self, Service};
use crate::faults::Faults;
use crate::server::SiteContext;
use crate::world::Site;
use protector_wire::ids::{IdGen, fnv};
use protector_wire::nova as model;

/// The lowest microversion (2.1) and the highest the twin serves (2.100: Nova 2025.1, which
/// adds `scheduler_hints` to the server; 2.96 added `pinned_availability_zone`).
pub const MIN_MICROVERSION: u32 = 1;
pub const MAX_MICROVERSION: u32 = 100;

/// Nova's `[api] max_limit`: the largest page.
const MAX_LIMIT: usize = 1000;

/// Nova's default `metadata_items` quota.
const METADATA_ITEMS: usize = 128;

const OPENSTACK_API_VERSION: &str = "openstack-api-version";
const LEGACY_API_VERSION: &str = "x-openstack-nova-api-version";

mod keypairs;
mod scheduler;
mod server_groups;
mod tags;

pub use keypairs::{fingerprint, generated_public_key};
pub use scheduler::place;

// ---------------------------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------------------------

/// The site loses power: running servers stop, a boot under way fails, a start or stop under
/// way ends stopped; deletes go on. Nova finds them so when the site is back (and starts none:
/// `resume_guests_state_on_host_boot` is off by default).
pub fn power_off(site: &mut Site) {
    let wall = site.clock.wall();
    for server in site.compute.servers.values_mut() {
        let deleting = server
            .pending
            .as_ref()
            .is_some_and(|pending| pending.then == ServerStatus::Deleting);
        if deleting {
            continue;
        }
        server.pending = None;
        server.status = match server.status {
            ServerStatus::Build => {
                server.fault = Some(Fault {
                    code: 500,
                    message: "the host lost power while the instance was building".to_string(),
                    created: wall,
                });
                ServerStatus::Error
            }
            ServerStatus::Active => ServerStatus::Shutoff,
            other => other,
        };
        server.updated = wall;
    }
}

/// Applies due server transitions (BUILD -> ACTIVE or ERROR, stops, starts, deletes, and the
/// failures `faults` inject into running servers).
pub fn advance(site: &mut Site, now: Instant, faults: &Faults) {
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
        let Some(pending) = site
            .compute
            .servers
            .get_mut(&id)
            .and_then(|server| server.pending.take())
        else {
            continue;
        };
        let wall = site.clock.wall();
        match pending.then {
            ServerStatus::Deleting => remove_server(site, &id),
            ServerStatus::Error => {
                // A failed build: Nova detaches the volumes (`_shutdown_instance`), deallocates
                // the networks (`_cleanup_allocated_networks`) and takes the server off its host.
                release_ports(site, &id);
                detach_all_volumes(site, &id);
                if let Some(server) = site.compute.servers.get_mut(&id) {
                    server.status = ServerStatus::Error;
                    server.updated = wall;
                    server.host = None;
                    server.ports.clear();
                    server.fault = Some(Fault {
                        code: 500,
                        message: pending
                            .error
                            .unwrap_or_else(|| "An unknown exception occurred.".to_string()),
                        created: wall,
                    });
                }
            }
            status => {
                if let Some(server) = site.compute.servers.get_mut(&id) {
                    server.status = status;
                    server.updated = wall;
                }
                if status == ServerStatus::Active {
                    extra_mut(site, &id).launched_at.get_or_insert(wall);
                }
            }
        }
    }
    fail_servers(site, now, faults);
}

/// The control API's `server_error` fault: each running server a rule takes is marked to fail
/// after the rule's delay, and those due turn ERROR with the rule's message. Nova leaves such a
/// server on its host with its ports and volumes (nothing cleans up a VM that crashed), so the
/// twin does too.
fn fail_servers(site: &mut Site, now: Instant, faults: &Faults) {
    if faults.fails_servers(&site.name) {
        let running: Vec<(String, String)> = site
            .compute
            .servers
            .values()
            .filter(|server| server.status == ServerStatus::Active && server.pending.is_none())
            .filter(|server| {
                site.compute
                    .server_extras
                    .get(&server.id)
                    .is_none_or(|extra| extra.failing.is_none())
            })
            .map(|server| (server.id.clone(), server.name.clone()))
            .collect();
        for (id, name) in running {
            if let Some((after, message)) = faults.take_server_error(&site.name, &name) {
                extra_mut(site, &id).failing = Some((now + after, message));
            }
        }
    }
    let due: Vec<(String, String)> = site
        .compute
        .server_extras
        .iter()
        .filter_map(|(id, extra)| {
            let (at, message) = extra.failing.as_ref()?;
            (*at <= now).then(|| (id.clone(), message.clone()))
        })
        .collect();
    let wall = site.clock.wall();
    for (id, message) in due {
        extra_mut(site, &id).failing = None;
        // A server stopped or being deleted meanwhile no longer runs: nothing left to fail.
        if let Some(server) = site.compute.servers.get_mut(&id)
            && server.status == ServerStatus::Active
            && server.pending.is_none()
        {
            server.status = ServerStatus::Error;
            server.updated = wall;
            server.fault = Some(Fault {
                code: 500,
                message,
                created: wall,
            });
        }
    }
}

/// The end of a delete: volumes detached (and deleted when asked), ports released, gone.
fn remove_server(site: &mut Site, id: &str) {
    let Some(server) = site.compute.servers.get(id) else {
        return;
    };
    let doomed: Vec<String> = server
        .volumes
        .iter()
        .filter(|volume| volume.delete_on_termination)
        .map(|volume| volume.volume_id.clone())
        .collect();
    release_ports(site, id);
    detach_all_volumes(site, id);
    for volume_id in doomed {
        // Nova deletes a `delete_on_termination` volume once detached; a refusal (the volume
        // in use elsewhere) leaves it, as Nova only logs it.
        let _ = cinder::start_delete(site, &volume_id);
    }
    site.compute.servers.remove(id);
    site.compute.server_extras.remove(id);
    for group in &mut site.compute.server_groups {
        group.members.retain(|member| member != id);
    }
}

/// Deletes the ports Nova made for the server and unbinds the ones it was given.
fn release_ports(site: &mut Site, server_id: &str) {
    let Some(server) = site.compute.servers.get(server_id) else {
        return;
    };
    let ports = server.ports.clone();
    let preexisting = site
        .compute
        .server_extras
        .get(server_id)
        .map(|extra| extra.preexisting_ports.clone())
        .unwrap_or_default();
    let wall = site.clock.wall();
    for port_id in ports {
        if preexisting.contains(&port_id) {
            if let Some(port) = site.network.ports.get_mut(&port_id)
                && port.device_id == server_id
            {
                port.device_id.clear();
                port.device_owner.clear();
                touch_port(site, &port_id, wall);
            }
        } else {
            site.network.ports.remove(&port_id);
            site.network.port_meta.remove(&port_id);
        }
    }
}

/// A port changed through Nova: Neutron bumps its revision.
fn touch_port(site: &mut Site, port_id: &str, wall: chrono::DateTime<chrono::Utc>) {
    if let Some(meta) = site.network.port_meta.get_mut(port_id) {
        meta.revision_number += 1;
        meta.updated_at = wall;
    }
}

fn detach_all_volumes(site: &mut Site, server_id: &str) {
    let Some(server) = site.compute.servers.get(server_id) else {
        return;
    };
    let volumes: Vec<String> = server
        .volumes
        .iter()
        .map(|volume| volume.volume_id.clone())
        .collect();
    for volume_id in volumes {
        cinder::detach(site, &volume_id, server_id);
    }
}

/// The server's API-only attributes, made with the defaults a fixture server has when it has
/// none yet (launched when it was created, unless still building).
fn extra_mut<'a>(site: &'a mut Site, server_id: &str) -> &'a mut ServerExtra {
    let launched_at = site
        .compute
        .servers
        .get(server_id)
        .filter(|server| server.status != ServerStatus::Build)
        .map(|server| server.created);
    site.compute
        .server_extras
        .entry(server_id.to_string())
        .or_insert_with(|| ServerExtra {
            launched_at,
            ..ServerExtra::default()
        })
}

// ---------------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Request context: token, microversion, links
// ---------------------------------------------------------------------------------------------

/// A request to the v2.1 API that passed keystonemiddleware (a valid token: else 401) and
/// microversion negotiation (else 400/406).
pub struct Api {
    /// The minor microversion (major is always 2).
    pub minor: u32,
    pub token: Token,
    /// `http://HOST/compute`: what Nova's `application_url` gives links.
    pub base: String,
}

impl FromRequestParts<SiteContext> for Api {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SiteContext,
    ) -> Result<Self, Self::Rejection> {
        let (token, base) = {
            let site = state.lock();
            let token = auth::token(&site, &parts.headers).map_err(IntoResponse::into_response)?;
            (token, base_url(&site, &parts.headers))
        };
        // Version errors carry no version headers (Nova fails before it has a version).
        let minor = negotiate(&parts.headers)
            .map_err(|(status, message)| errors::respond(Service::Nova, status, message))?;
        Ok(Api { minor, token, base })
    }
}

/// The base of links for an unauthenticated request (version documents).
pub struct Base(String);

impl FromRequestParts<SiteContext> for Base {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SiteContext,
    ) -> Result<Self, Self::Rejection> {
        let site = state.lock();
        Ok(Base(base_url(&site, &parts.headers)))
    }
}

/// `scheme://HOST/compute`, HOST as the client addressed the site (Nova builds links from the
/// request's host).
fn base_url(site: &Site, headers: &HeaderMap) -> String {
    let endpoint = site.endpoints.openstack.trim_end_matches('/');
    match headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
    {
        Some(host) => {
            let scheme = if endpoint.starts_with("https://") {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}/compute")
        }
        None => format!("{endpoint}/compute"),
    }
}

/// The microversion a request asks for, as `microversion_parse.get_version` reads it: the
/// `compute` entry of `OpenStack-API-Version`, else the legacy header.
fn requested_version(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(OPENSTACK_API_VERSION) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut words = item.split_whitespace();
            if words
                .next()
                .is_some_and(|service| service.eq_ignore_ascii_case("compute"))
                && let Some(version) = words.next()
            {
                return Some(version.to_string());
            }
        }
    }
    headers
        .get(LEGACY_API_VERSION)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// Nova's `set_api_version_request`: the minor version, or the 400/406 it answers.
fn negotiate(headers: &HeaderMap) -> Result<u32, Failure> {
    let Some(version) = requested_version(headers) else {
        return Ok(MIN_MICROVERSION);
    };
    if version == "latest" {
        return Ok(MAX_MICROVERSION);
    }
    let parsed = version.split_once('.').and_then(|(major, minor)| {
        let valid = |text: &str, zero_ok: bool| {
            !text.is_empty()
                && text.bytes().all(|b| b.is_ascii_digit())
                && (text == "0" && zero_ok || !text.starts_with('0'))
        };
        (valid(major, false) && valid(minor, true))
            .then(|| Some((major.parse::<u64>().ok()?, minor.parse::<u64>().ok()?)))
            .flatten()
    });
    let Some((major, minor)) = parsed else {
        return Err(bad_request(format!(
            "API Version String {version} is of invalid format. Must be of format MajorNum.MinorNum."
        )));
    };
    if major != 2 || minor < u64::from(MIN_MICROVERSION) || minor > u64::from(MAX_MICROVERSION) {
        return Err(fail(
            StatusCode::NOT_ACCEPTABLE,
            format!(
                "Version {major}.{minor} is not supported by the API. Minimum is 2.{MIN_MICROVERSION} and maximum is 2.{MAX_MICROVERSION}."
            ),
        ));
    }
    Ok(minor as u32)
}

type Failure = (StatusCode, String);

fn fail(status: StatusCode, message: impl Into<String>) -> Failure {
    (status, message.into())
}

fn bad_request(message: impl Into<String>) -> Failure {
    fail(StatusCode::BAD_REQUEST, message)
}

impl Api {
    fn at_least(&self, minor: u32) -> bool {
        self.minor >= minor
    }

    fn is_admin(&self) -> bool {
        self.token.roles.iter().any(|role| role == "admin")
    }

    /// Nova's `PROJECT_READER_OR_ADMIN` default.
    fn can_read(&self) -> bool {
        self.token
            .roles
            .iter()
            .any(|role| matches!(role.as_str(), "reader" | "member" | "admin"))
    }

    /// Nova's `PROJECT_MEMBER_OR_ADMIN` default.
    fn can_write(&self) -> bool {
        self.token
            .roles
            .iter()
            .any(|role| matches!(role.as_str(), "member" | "admin"))
    }

    fn policy(&self, allowed: bool, rule: &str) -> Result<(), Failure> {
        if allowed {
            Ok(())
        } else {
            Err(fail(
                StatusCode::FORBIDDEN,
                format!("Policy doesn't allow os_compute_api:{rule} to be performed."),
            ))
        }
    }

    fn version_headers(&self, response: &mut Response) {
        version_headers(self.minor, response);
    }

    fn reply<T: Serialize>(&self, status: StatusCode, body: &T) -> Response {
        let mut response = (status, axum::Json(body)).into_response();
        self.version_headers(&mut response);
        response
    }

    fn empty(&self, status: StatusCode) -> Response {
        let mut response = status.into_response();
        self.version_headers(&mut response);
        response
    }

    fn error(&self, (status, message): Failure) -> Response {
        let mut response = errors::respond(Service::Nova, status, message);
        self.version_headers(&mut response);
        response
    }

    fn done<T: Serialize>(&self, status: StatusCode, result: Result<T, Failure>) -> Response {
        match result {
            Ok(body) => self.reply(status, &body),
            Err(failure) => self.error(failure),
        }
    }

    fn links(&self, collection: &str, id: &str) -> Vec<model::Link> {
        vec![
            link(format!("{}/v2.1/{collection}/{id}", self.base), "self"),
            link(format!("{}/{collection}/{id}", self.base), "bookmark"),
        ]
    }

    fn bookmark(&self, collection: &str, id: &str) -> Vec<model::Link> {
        vec![link(format!("{}/{collection}/{id}", self.base), "bookmark")]
    }

    fn sees(&self, project_id: &str) -> bool {
        self.is_admin() || self.token.project_id == project_id
    }
}

/// The microversion a response was made at, in both headers, and `Vary` on both (Nova adds two
/// `Vary` headers).
fn version_headers(minor: u32, response: &mut Response) {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("compute 2.{minor}")) {
        headers.insert("OpenStack-API-Version", value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("2.{minor}")) {
        headers.insert("X-OpenStack-Nova-API-Version", value);
    }
    headers.append(
        header::VARY,
        HeaderValue::from_static("OpenStack-API-Version"),
    );
    headers.append(
        header::VARY,
        HeaderValue::from_static("X-OpenStack-Nova-API-Version"),
    );
}

fn link(href: String, rel: &str) -> model::Link {
    model::Link {
        href,
        rel: rel.to_string(),
        media_type: None,
    }
}

/// A request body as JSON; Nova's answer to one that is not.
fn parse_body(body: &Bytes) -> Result<Value, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body).map_err(|_| bad_request("Malformed request body"))
}

/// Nova's jsonschema error text.
fn invalid_input(field: &str, value: &Value, reason: impl std::fmt::Display) -> Failure {
    bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {}. {reason}",
        python_repr(value)
    ))
}

fn invalid_query(field: &str, value: &str, reason: impl std::fmt::Display) -> Failure {
    bad_request(format!(
        "Invalid input for query parameters {field}. Value: {value}. {reason}"
    ))
}

/// A JSON value as Python prints it, for error messages that echo the input.
fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(repr_item).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(key, value)| format!("'{key}': {}", repr_item(value)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn repr_item(value: &Value) -> String {
    match value {
        Value::String(text) => format!("'{text}'"),
        other => python_repr(other),
    }
}

// ---------------------------------------------------------------------------------------------
// Versions and zones
// ---------------------------------------------------------------------------------------------

fn v21(base: &str, detailed: bool) -> model::ApiVersion {
    let mut links = vec![link(format!("{base}/v2.1/"), "self")];
    if detailed {
        links.push(model::Link {
            href: "http://docs.openstack.org/".to_string(),
            rel: "describedby".to_string(),
            media_type: Some("text/html".to_string()),
        });
    }
    model::ApiVersion {
        id: "v2.1".to_string(),
        links,
        media_types: detailed.then(|| {
            vec![model::MediaType {
                base: "application/json".to_string(),
                media_type: "application/vnd.openstack.compute+json;version=2.1".to_string(),
            }]
        }),
        status: "CURRENT".to_string(),
        version: format!("2.{MAX_MICROVERSION}"),
        min_version: format!("2.{MIN_MICROVERSION}"),
        updated: "2013-07-23T11:33:21Z".to_string(),
    }
}

/// `GET /compute/`: every version (Nova answers `/` with 200; the twin answers `/compute`
/// without the slash the same way, so discovery works whichever form a client asks).
pub async fn versions_index(Base(base): Base) -> Response {
    let versions = model::VersionsList {
        versions: vec![
            model::ApiVersion {
                id: "v2.0".to_string(),
                links: vec![link(format!("{base}/v2/"), "self")],
                media_types: None,
                status: "SUPPORTED".to_string(),
                version: String::new(),
                min_version: String::new(),
                updated: "2011-01-21T11:33:21Z".to_string(),
            },
            v21(&base, false),
        ],
    };
    axum::Json(versions).into_response()
}

/// `GET /compute/v2.1`: the version document with the microversion range (no token needed,
/// as Nova's `oscomputeversion_v2` pipeline).
async fn version_show(Base(base): Base, headers: HeaderMap) -> Response {
    let minor = match negotiate(&headers) {
        Ok(minor) => minor,
        Err((status, message)) => return errors::respond(Service::Nova, status, message),
    };
    let mut response = axum::Json(model::VersionResponse {
        version: v21(&base, true),
    })
    .into_response();
    version_headers(minor, &mut response);
    response
}

async fn zones_index(State(ctx): State<SiteContext>, api: Api) -> Response {
    let result = (|| {
        api.policy(api.can_read(), "os-availability-zone:list")?;
        let site = ctx.lock();
        Ok(model::AvailabilityZonesList {
            availability_zone_info: site
                .compute
                .availability_zones
                .iter()
                .map(|zone| model::AvailabilityZone {
                    zone_name: zone.clone(),
                    zone_state: model::ZoneState { available: true },
                    hosts: None,
                })
                .collect(),
        })
    })();
    api.done(StatusCode::OK, result)
}

// ---------------------------------------------------------------------------------------------
// Flavors
// ---------------------------------------------------------------------------------------------

fn flavor_view(api: &Api, flavor: &super::state::Flavor) -> model::Flavor {
    model::Flavor {
        id: flavor.id.clone(),
        name: flavor.name.clone(),
        vcpus: flavor.vcpus,
        ram: flavor.ram_mb,
        disk: flavor.disk_gb,
        swap: if api.at_least(75) {
            model::FlavorSwap::Megabytes(0)
        } else {
            model::FlavorSwap::None(model::EmptyString)
        },
        ephemeral: 0,
        is_public: true,
        links: api.links("flavors", &flavor.id),
        disabled: Some(false),
        rxtx_factor: Some(1.0),
        description: api.at_least(55).then_some(None),
        extra_specs: api.at_least(61).then(BTreeMap::new),
    }
}

/// Flavors for a list: `minDisk`/`minRam` filters, `flavorid` order, `limit`/`marker`; the
/// `next` link when the page is full.
fn flavor_page<'a>(
    api: &Api,
    site: &'a Site,
    query: &[(String, String)],
    collection: &str,
) -> Result<(Vec<&'a super::state::Flavor>, Option<Vec<model::Link>>), Failure> {
    let mut min_disk = 0;
    let mut min_ram = 0;
    for (key, value) in query {
        match key.as_str() {
            "minDisk" => {
                min_disk = value
                    .parse::<u64>()
                    .map_err(|_| bad_request(format!("Invalid minDisk filter [{value}]")))?
            }
            "minRam" => {
                min_ram = value
                    .parse::<u64>()
                    .map_err(|_| bad_request(format!("Invalid minRam filter [{value}]")))?
            }
            _ => {}
        }
    }
    let (limit, marker) = limit_and_marker(query)?;
    let mut flavors: Vec<&super::state::Flavor> = site
        .compute
        .flavors
        .values()
        .filter(|flavor| flavor.disk_gb >= min_disk && flavor.ram_mb >= min_ram)
        .collect();
    flavors.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(marker) = &marker {
        if !site.compute.flavors.contains_key(marker) {
            return Err(bad_request(format!("marker [{marker}] not found")));
        }
        flavors.retain(|flavor| flavor.id.as_str() > marker.as_str());
    }
    let page_size = limit.unwrap_or(MAX_LIMIT).min(MAX_LIMIT);
    flavors.truncate(page_size);
    let links = next_link(api, query, collection, page_size, &flavors, |f| &f.id);
    Ok((flavors, links))
}

async fn flavors_index(
    State(ctx): State<SiteContext>,
    api: Api,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let site = ctx.lock();
    let result = flavor_page(&api, &site, &query, "flavors").map(|(flavors, links)| {
        model::FlavorSummariesList {
            flavors: flavors
                .into_iter()
                .map(|flavor| model::FlavorSummary {
                    id: flavor.id.clone(),
                    name: flavor.name.clone(),
                    links: api.links("flavors", &flavor.id),
                    description: api.at_least(55).then_some(None),
                })
                .collect(),
            flavors_links: links,
        }
    });
    drop(site);
    api.done(StatusCode::OK, result)
}

async fn flavors_detail(
    State(ctx): State<SiteContext>,
    api: Api,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let site = ctx.lock();
    let result = flavor_page(&api, &site, &query, "flavors/detail").map(|(flavors, links)| {
        model::FlavorsList {
            flavors: flavors
                .into_iter()
                .map(|flavor| flavor_view(&api, flavor))
                .collect(),
            flavors_links: links,
        }
    });
    drop(site);
    api.done(StatusCode::OK, result)
}

async fn flavor_show(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(flavor_id): Path<String>,
) -> Response {
    let site = ctx.lock();
    let result = site
        .compute
        .flavors
        .get(&flavor_id)
        .map(|flavor| model::FlavorResponse {
            flavor: flavor_view(&api, flavor),
        })
        .ok_or_else(|| {
            fail(
                StatusCode::NOT_FOUND,
                format!("Flavor {flavor_id} could not be found."),
            )
        });
    drop(site);
    api.done(StatusCode::OK, result)
}

// ---------------------------------------------------------------------------------------------
// Pagination
// ---------------------------------------------------------------------------------------------

/// Nova's query schemas from 2.75 on (`additionalProperties: False`): a parameter not in
/// `known` is a 400; before, unknown parameters are ignored.
fn known_params(api: &Api, query: &[(String, String)], known: &[&str]) -> Result<(), Failure> {
    match query.iter().find(|(key, _)| !known.contains(&key.as_str())) {
        Some((key, _)) if api.at_least(75) => Err(bad_request(format!(
            "Invalid input for query parameters {key}. Value: {key}. Additional properties are not allowed ('{key}' was unexpected)"
        ))),
        _ => Ok(()),
    }
}

/// Nova's `common.get_limit_and_marker`.
fn limit_and_marker(
    query: &[(String, String)],
) -> Result<(Option<usize>, Option<String>), Failure> {
    let mut limit = None;
    let mut marker = None;
    for (key, value) in query {
        match key.as_str() {
            "limit" => {
                limit = Some(value.parse::<usize>().map_err(|_| {
                    invalid_query(
                        "limit",
                        value,
                        format!("'{value}' does not match '^[0-9]*$'"),
                    )
                })?)
            }
            "marker" => marker = Some(value.clone()),
            _ => {}
        }
    }
    Ok((limit, marker))
}

/// Nova's `_get_collection_links`: a `next` link when the page holds as many items as were
/// allowed, with the request's parameters (sorted, one value each) and `marker` set to the
/// last item.
fn next_link<T>(
    api: &Api,
    query: &[(String, String)],
    collection: &str,
    page_size: usize,
    items: &[T],
    id: impl Fn(&T) -> &String,
) -> Option<Vec<model::Link>> {
    let last = items.last()?;
    if page_size == 0 || items.len() != page_size {
        return None;
    }
    let mut params: BTreeMap<&str, &str> = query
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    params.insert("marker", id(last));
    let encoded: Vec<String> = params
        .iter()
        .map(|(key, value)| format!("{}={}", quote_plus(key), quote_plus(value)))
        .collect();
    Some(vec![link(
        format!("{}/v2.1/{collection}?{}", api.base, encoded.join("&")),
        "next",
    )])
}

/// Python's `urllib.parse.quote_plus`.
fn quote_plus(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Server views
// ---------------------------------------------------------------------------------------------

/// The host object the site's array knows its compute nodes by (one, holding every node's
/// initiator): Cinder connects attached volumes' array volumes to it, whichever node runs the
/// server.
pub fn compute_host(site: &Site) -> String {
    format!("{}-compute", site.name)
}

/// Nova's `hostId`: a hash of project and host, stable and opaque (Nova uses SHA-224; the twin
/// uses its seeded generator, same length and alphabet).
fn host_id(project_id: &str, host: &str) -> String {
    IdGen::new(fnv(&format!("{project_id}{host}"))).hex(56)
}

/// `instance-0000002a`: the libvirt domain name.
fn instance_name(server_id: &str) -> String {
    format!("instance-{:08x}", fnv(server_id) & 0xffff_ffff)
}

/// The block device mapping's uuid (>= 2.89), stable per server and volume.
fn bdm_uuid(server_id: &str, volume_id: &str) -> String {
    IdGen::new(fnv(&format!("{server_id}/{volume_id}"))).uuid()
}

/// Nova's `sanitize_hostname`.
fn sanitize_hostname(name: &str) -> String {
    let mut hostname: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '_' { '-' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    hostname.truncate(63);
    let trimmed = hostname.trim_matches(|c| c == '-' || c == '.');
    if trimmed.is_empty() {
        "server".to_string()
    } else {
        trimmed.to_string()
    }
}

fn isotime(time: &chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn status_text(status: ServerStatus) -> &'static str {
    match status {
        ServerStatus::Build => "BUILD",
        ServerStatus::Active => "ACTIVE",
        ServerStatus::Shutoff => "SHUTOFF",
        ServerStatus::Error => "ERROR",
        ServerStatus::Deleting => "DELETED",
    }
}

fn vm_state(status: ServerStatus) -> &'static str {
    match status {
        ServerStatus::Build => "building",
        ServerStatus::Active => "active",
        ServerStatus::Shutoff => "stopped",
        ServerStatus::Error => "error",
        ServerStatus::Deleting => "deleted",
    }
}

/// The task a pending change stands for.
fn task_state(server: &Server) -> Option<&'static str> {
    let pending = server.pending.as_ref()?;
    Some(match (server.status, pending.then) {
        (_, ServerStatus::Deleting) => "deleting",
        (ServerStatus::Build, _) => "spawning",
        (_, ServerStatus::Shutoff) => "powering-off",
        (ServerStatus::Shutoff, ServerStatus::Active) => "powering-on",
        _ => return None,
    })
}

fn power_state(server: &Server) -> u8 {
    match server.status {
        ServerStatus::Active => 1,
        ServerStatus::Shutoff => 4,
        _ => 0,
    }
}

/// When the server was launched: recorded for servers the API made, the creation time for the
/// fixture's running ones.
fn launched_at(
    server: &Server,
    extra: Option<&ServerExtra>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    match extra {
        Some(extra) => extra.launched_at,
        None => (server.status != ServerStatus::Build).then_some(server.created),
    }
}

/// The server's addresses, network by network in NIC order.
fn addresses(site: &Site, server: &Server) -> model::ServerAddresses {
    let mut networks: Vec<(String, Vec<model::ServerAddress>)> = Vec::new();
    for port_id in &server.ports {
        let Some(port) = site.network.ports.get(port_id) else {
            continue;
        };
        let name = site
            .network
            .networks
            .get(&port.network_id)
            .map(|network| network.name.clone())
            .unwrap_or_else(|| port.network_id.clone());
        let addresses = port.fixed_ips.iter().map(|fixed| model::ServerAddress {
            addr: fixed.ip_address.clone(),
            version: if fixed.ip_address.contains(':') { 6 } else { 4 },
            ip_type: "fixed".to_string(),
            mac_addr: port.mac_address.clone(),
        });
        match networks.iter_mut().find(|(network, _)| *network == name) {
            Some((_, list)) => list.extend(addresses),
            None => networks.push((name, addresses.collect())),
        }
    }
    model::ServerAddresses(networks)
}

/// The security groups of the server's ports, by name (one entry per port and group, as Nova
/// lists them); None when it has none.
fn security_groups(site: &Site, server: &Server) -> Option<Vec<model::SecurityGroupRef>> {
    let mut groups: Vec<model::SecurityGroupRef> = Vec::new();
    for port in server
        .ports
        .iter()
        .filter_map(|port_id| site.network.ports.get(port_id))
    {
        // A port's groups in the order the server asked for them.
        let mut names: Vec<&str> = port
            .security_groups
            .iter()
            .filter_map(|group_id| site.network.security_groups.get(group_id))
            .map(|group| group.name.as_str())
            .collect();
        names.sort_by_key(|name| {
            server
                .security_groups
                .iter()
                .position(|asked| asked == name)
                .unwrap_or(usize::MAX)
        });
        groups.extend(names.into_iter().map(|name| model::SecurityGroupRef {
            name: name.to_string(),
        }));
    }
    (!groups.is_empty()).then_some(groups)
}

/// The traceback Nova records with a fault (its last frame), as admins see it.
fn fault_traceback(message: &str) -> String {
    let (frame, exception) = if message.starts_with("Exceeded maximum number of retries") {
        (
            "  File \"/opt/stack/nova/nova/conductor/manager.py\", line 707, in build_instances\n    raise exception.MaxRetriesExceeded(reason=msg)\n",
            "nova.exception.MaxRetriesExceeded",
        )
    } else if message.starts_with(scheduler::NO_VALID_HOST) {
        (
            "  File \"/opt/stack/nova/nova/scheduler/manager.py\", line 283, in _select_destinations\n    raise exception.NoValidHost(reason=reason)\n",
            "nova.exception.NoValidHost",
        )
    } else if !message.starts_with("Build of instance") {
        // A running server that failed (the control API's `server_error`): the hypervisor
        // lost the domain and the compute manager's sync set the server to ERROR.
        (
            "  File \"/opt/stack/nova/nova/compute/manager.py\", line 10462, in _sync_power_states\n    raise exception.InstanceInvalidState(\n",
            "nova.exception.InstanceInvalidState",
        )
    } else {
        (
            "  File \"/opt/stack/nova/nova/compute/manager.py\", line 2708, in _build_and_run_instance\n    raise exception.BuildAbortException(\n",
            "nova.exception.BuildAbortException",
        )
    };
    format!("Traceback (most recent call last):\n{frame}{exception}: {message}\n")
}

/// A server as `GET /servers/{id}` and `/servers/detail` show it at the request's microversion
/// and for the caller's role.
fn server_view(site: &Site, api: &Api, server: &Server, show: bool) -> model::Server {
    let extra = site.compute.server_extras.get(&server.id);
    let admin = api.is_admin();
    let status = status_text(server.status);
    let host = server.host.clone();
    let flavor = site.compute.flavors.get(&server.flavor_id);
    let flavor = match flavor {
        Some(flavor) if api.at_least(47) => model::ServerFlavor::Embedded(model::EmbeddedFlavor {
            original_name: flavor.name.clone(),
            vcpus: flavor.vcpus,
            ram: flavor.ram_mb,
            disk: flavor.disk_gb,
            ephemeral: 0,
            swap: 0,
            extra_specs: Some(BTreeMap::new()),
        }),
        _ => model::ServerFlavor::Reference(model::FlavorRef {
            id: server.flavor_id.clone(),
            links: api.bookmark("flavors", &server.flavor_id),
        }),
    };
    let hostname = extra
        .and_then(|extra| extra.hostname.clone())
        .unwrap_or_else(|| sanitize_hostname(&server.name));
    let root_device = server
        .volumes
        .iter()
        .find(|volume| volume.boot_index == Some(0))
        .map(|volume| volume.device.clone());
    let fault = server
        .fault
        .as_ref()
        .filter(|_| server.status == ServerStatus::Error)
        .map(|fault| model::ServerFault {
            code: fault.code,
            message: fault.message.clone(),
            created: isotime(&fault.created),
            // Nova keeps the traceback of a 500 fault and shows it to admins only.
            details: (admin && fault.code == 500).then(|| fault_traceback(&fault.message)),
        });
    model::Server {
        id: server.id.clone(),
        name: server.name.clone(),
        status: status.to_string(),
        tenant_id: server.project_id.clone(),
        user_id: server.user_id.clone(),
        host_id: host
            .as_deref()
            .map(|host| host_id(&server.project_id, host))
            .unwrap_or_default(),
        created: isotime(&server.created),
        updated: isotime(&server.updated),
        flavor,
        image: model::ServerImage::BootedFromVolume(model::EmptyString),
        addresses: addresses(site, server),
        metadata: server.metadata.clone(),
        key_name: server.key_name.clone(),
        links: api.links("servers", &server.id),
        access_ipv4: extra.map(|e| e.access_ipv4.clone()).unwrap_or_default(),
        access_ipv6: extra.map(|e| e.access_ipv6.clone()).unwrap_or_default(),
        config_drive: if extra.is_some_and(|e| e.config_drive) {
            "True".to_string()
        } else {
            String::new()
        },
        disk_config: if extra.is_some_and(|e| e.auto_disk_config) {
            "AUTO".to_string()
        } else {
            "MANUAL".to_string()
        },
        availability_zone: server.availability_zone.clone(),
        vm_state: vm_state(server.status).to_string(),
        task_state: task_state(server).map(str::to_string),
        power_state: power_state(server),
        volumes_attached: server
            .volumes
            .iter()
            .map(|volume| model::AttachedVolume {
                id: volume.volume_id.clone(),
                delete_on_termination: api.at_least(3).then_some(volume.delete_on_termination),
            })
            .collect(),
        launched_at: launched_at(server, extra)
            .map(|time| time.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
        terminated_at: None,
        progress: matches!(server.status, ServerStatus::Active | ServerStatus::Build).then_some(0),
        security_groups: security_groups(site, server),
        fault,
        host: admin.then(|| host.clone()),
        hypervisor_hostname: admin.then(|| host.clone()),
        instance_name: admin.then(|| instance_name(&server.id)),
        hostname: ((admin && api.at_least(3)) || api.at_least(90)).then_some(hostname),
        reservation_id: (admin && api.at_least(3)).then(|| {
            extra
                .map(|e| e.reservation_id.clone())
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("r-{}", &server.id[..8]))
        }),
        launch_index: (admin && api.at_least(3)).then_some(0),
        kernel_id: (admin && api.at_least(3)).then(|| Some(String::new())),
        ramdisk_id: (admin && api.at_least(3)).then(|| Some(String::new())),
        root_device_name: (admin && api.at_least(3)).then_some(root_device),
        user_data: (admin && api.at_least(3)).then(|| extra.and_then(|e| e.user_data.clone())),
        host_status: (admin && api.at_least(16)).then(|| {
            if host.is_some() {
                "UP".to_string()
            } else {
                String::new()
            }
        }),
        locked: api.at_least(9).then_some(false),
        locked_reason: api.at_least(73).then_some(None),
        description: api.at_least(19).then(|| server.description.clone()),
        tags: api.at_least(26).then(|| server.tags.clone()),
        trusted_image_certificates: api.at_least(63).then_some(None),
        server_groups: (show && api.at_least(71))
            .then(|| server_groups::of_server(site, &server.id)),
        pinned_availability_zone: api
            .at_least(96)
            .then(|| extra.and_then(|e| e.requested_zone.clone())),
        scheduler_hints: api.at_least(100).then(|| {
            extra
                .map(|e| {
                    e.scheduler_hints
                        .iter()
                        .map(|(key, values)| {
                            (key.clone(), model::SchedulerHint::Many(values.clone()))
                        })
                        .collect()
                })
                .unwrap_or_default()
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Listing servers
// ---------------------------------------------------------------------------------------------

/// The query parameters Nova's server list schema knows (>= 2.75 anything else is a 400).
const SERVER_QUERY_PARAMS: &[&str] = &[
    "user_id",
    "project_id",
    "tenant_id",
    "launch_index",
    "image_ref",
    "image",
    "kernel_id",
    "ramdisk_id",
    "hostname",
    "key_name",
    "power_state",
    "vm_state",
    "task_state",
    "host",
    "node",
    "flavor",
    "reservation_id",
    "launched_at",
    "terminated_at",
    "availability_zone",
    "name",
    "display_name",
    "description",
    "display_description",
    "locked_by",
    "uuid",
    "root_device_name",
    "config_drive",
    "access_ip_v4",
    "access_ip_v6",
    "auto_disk_config",
    "progress",
    "sort_key",
    "sort_dir",
    "all_tenants",
    "soft_deleted",
    "deleted",
    "status",
    "changes-since",
    "changes-before",
    "ip",
    "ip6",
    "created_at",
    "block_device_mapping",
    "services",
    "metadata",
    "system_metadata",
    "info_cache",
    "security_groups",
    "pci_devices",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
    "locked",
    "limit",
    "marker",
];

/// The Nova status names `task_and_vm_state_from_status` knows.
const KNOWN_STATUSES: &[&str] = &[
    "ACTIVE",
    "BUILD",
    "SHUTOFF",
    "ERROR",
    "DELETED",
    "SOFT_DELETED",
    "REBOOT",
    "HARD_REBOOT",
    "REBUILD",
    "PASSWORD",
    "RESIZE",
    "VERIFY_RESIZE",
    "REVERT_RESIZE",
    "MIGRATING",
    "PAUSED",
    "SUSPENDED",
    "RESCUE",
    "SHELVED",
    "SHELVED_OFFLOADED",
];

/// A timestamp as `timeutils.parse_isotime` reads it (UTC when no offset is given).
fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&chrono::Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(naive.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc())
}

fn bool_param(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "" | "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// One page of the servers a list request selects, newest first, and its `next` link.
fn server_page<'a>(
    api: &Api,
    site: &'a Site,
    query: &[(String, String)],
    collection: &str,
) -> Result<(Vec<&'a Server>, Option<Vec<model::Link>>), Failure> {
    known_params(api, query, SERVER_QUERY_PARAMS)?;
    let (limit, marker) = limit_and_marker(query)?;
    let values = |name: &str| -> Vec<&str> {
        query
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    };
    let last = |name: &str| values(name).last().copied();

    // all_tenants: admins only (the policy `servers:detail:get_all_tenants`).
    let all_tenants = match last("all_tenants") {
        None => false,
        Some(value) => bool_param(value).ok_or_else(|| {
            invalid_query(
                "all_tenants",
                value,
                format!("'{value}' is not a valid boolean"),
            )
        })?,
    };
    if all_tenants {
        let rule = if collection.ends_with("detail") {
            "servers:detail:get_all_tenants"
        } else {
            "servers:index:get_all_tenants"
        };
        api.policy(api.is_admin(), rule)?;
    }
    let project_filter: Option<&str> = if all_tenants {
        last("project_id").or_else(|| last("tenant_id"))
    } else {
        Some(api.token.project_id.as_str())
    };

    // status: a Nova status name (case-insensitive); unknown ones are a 400 since 2.38.
    let statuses: Vec<String> = values("status")
        .iter()
        .map(|status| status.to_ascii_uppercase())
        .collect();
    if !statuses.is_empty() {
        let known: Vec<&String> = statuses
            .iter()
            .filter(|status| KNOWN_STATUSES.contains(&status.as_str()))
            .collect();
        if known.is_empty() {
            if api.at_least(38) {
                return Err(bad_request("Invalid status value"));
            }
            return Ok((Vec::new(), None));
        }
        if known.iter().any(|status| status.as_str() == "DELETED") && !api.is_admin() {
            return Err(fail(
                StatusCode::FORBIDDEN,
                "Only administrators may list deleted instances",
            ));
        }
    }

    let time_filter = |name: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, Failure> {
        match last(name) {
            None => Ok(None),
            Some(text) => parse_time(text)
                .map(Some)
                .ok_or_else(|| invalid_query(name, text, format!("'{text}' is not a 'date-time'"))),
        }
    };
    let changes_since = time_filter("changes-since")?;
    let changes_before = if api.at_least(66) {
        time_filter("changes-before")?
    } else {
        None
    };
    if let (Some(since), Some(before)) = (changes_since, changes_before)
        && since > before
    {
        return Err(bad_request(
            "The value of changes-since must be less than or equal to changes-before.",
        ));
    }
    let name = last("name")
        .or_else(|| last("display_name"))
        .map(pattern::Pattern::new);
    let ip = last("ip").map(pattern::Pattern::new);
    let flavor = last("flavor");
    let uuid = last("uuid");
    // Filters Nova lets only admins use before 2.83 (silently dropped for others).
    let extended = api.is_admin() || api.at_least(83);
    let zone = last("availability_zone").filter(|_| extended);
    let key_name = last("key_name").filter(|_| extended);
    let user_id = last("user_id").filter(|_| extended);
    let tag_filters: Vec<(&str, &str)> = ["tags", "tags-any", "not-tags", "not-tags-any"]
        .into_iter()
        .filter(|_| api.at_least(26))
        .filter_map(|filter| Some((filter, last(filter)?)))
        .collect();

    let selected = |server: &&Server| -> bool {
        if let Some(project) = project_filter
            && server.project_id != project
        {
            return false;
        }
        if !statuses.is_empty()
            && !statuses
                .iter()
                .any(|status| status == status_text(server.status))
        {
            return false;
        }
        if let Some(since) = changes_since
            && server.updated < since
        {
            return false;
        }
        if let Some(before) = changes_before
            && server.updated > before
        {
            return false;
        }
        if let Some(name) = &name
            && !name.is_match(&server.name)
        {
            return false;
        }
        if flavor.is_some_and(|flavor| flavor != server.flavor_id) {
            return false;
        }
        if uuid.is_some_and(|uuid| uuid != server.id) {
            return false;
        }
        if zone.is_some_and(|zone| zone != server.availability_zone) {
            return false;
        }
        if key_name.is_some_and(|key| Some(key) != server.key_name.as_deref()) {
            return false;
        }
        if user_id.is_some_and(|user| user != server.user_id) {
            return false;
        }
        if !tag_filters
            .iter()
            .all(|(filter, value)| tags::selected(server, filter, value))
        {
            return false;
        }
        if let Some(ip) = &ip {
            let matched = server
                .ports
                .iter()
                .filter_map(|port_id| site.network.ports.get(port_id))
                .flat_map(|port| port.fixed_ips.iter())
                .any(|fixed| ip.is_match(&fixed.ip_address));
            if !matched {
                return false;
            }
        }
        true
    };
    let mut servers: Vec<&Server> = site.compute.servers.values().filter(selected).collect();
    let newest_first =
        |a: &&Server, b: &&Server| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id));
    servers.sort_by(newest_first);
    if let Some(marker) = &marker {
        let Some(marker_server) = site
            .compute
            .servers
            .get(marker)
            .filter(|server| api.sees(&server.project_id))
        else {
            return Err(bad_request(format!("marker [{marker}] not found")));
        };
        servers.retain(|server| newest_first(&marker_server, server).is_lt());
    }
    let page_size = limit.unwrap_or(MAX_LIMIT).min(MAX_LIMIT);
    servers.truncate(page_size);
    let links = next_link(api, query, collection, page_size, &servers, |s| &s.id);
    Ok((servers, links))
}

async fn servers_index(
    State(ctx): State<SiteContext>,
    api: Api,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let site = ctx.lock();
    let result = api
        .policy(api.can_read(), "servers:index")
        .and_then(|()| server_page(&api, &site, &query, "servers"))
        .map(|(servers, links)| model::ServersList {
            servers: servers
                .into_iter()
                .map(|server| model::ServerSummary {
                    id: server.id.clone(),
                    name: server.name.clone(),
                    links: api.links("servers", &server.id),
                })
                .collect(),
            servers_links: links,
        });
    drop(site);
    api.done(StatusCode::OK, result)
}

async fn servers_detail(
    State(ctx): State<SiteContext>,
    api: Api,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let site = ctx.lock();
    let result = api
        .policy(api.can_read(), "servers:detail")
        .and_then(|()| server_page(&api, &site, &query, "servers/detail"))
        .map(|(servers, links)| model::ServersDetailList {
            servers: servers
                .into_iter()
                .map(|server| server_view(&site, &api, server, false))
                .collect(),
            servers_links: links,
        });
    drop(site);
    api.done(StatusCode::OK, result)
}

/// The server the caller may see, or Nova's 404.
fn find_server<'a>(site: &'a Site, api: &Api, server_id: &str) -> Result<&'a Server, Failure> {
    site.compute
        .servers
        .get(server_id)
        .filter(|server| api.sees(&server.project_id))
        .ok_or_else(|| {
            fail(
                StatusCode::NOT_FOUND,
                format!("Instance {server_id} could not be found."),
            )
        })
}

async fn server_show(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
) -> Response {
    let site = ctx.lock();
    let result = find_server(&site, &api, &server_id).and_then(|server| {
        api.policy(api.can_read(), "servers:show")?;
        Ok(model::ServerResponse {
            server: server_view(&site, &api, server, true),
        })
    });
    drop(site);
    api.done(StatusCode::OK, result)
}

// ---------------------------------------------------------------------------------------------
// Creating servers
// ---------------------------------------------------------------------------------------------

/// The `server` keys Nova's create schema allows at a microversion.
fn allowed_create_key(api: &Api, key: &str) -> bool {
    match key {
        "name"
        | "imageRef"
        | "flavorRef"
        | "adminPass"
        | "metadata"
        | "networks"
        | "OS-DCF:diskConfig"
        | "accessIPv4"
        | "accessIPv6"
        | "availability_zone"
        | "block_device_mapping"
        | "block_device_mapping_v2"
        | "config_drive"
        | "key_name"
        | "min_count"
        | "max_count"
        | "return_reservation_id"
        | "security_groups"
        | "user_data" => true,
        "personality" => !api.at_least(57),
        "description" => api.at_least(19),
        "tags" => api.at_least(52),
        "trusted_image_certificates" => api.at_least(63),
        "host" | "hypervisor_hostname" => api.at_least(74),
        "hostname" => api.at_least(90),
        _ => false,
    }
}

/// One NIC of a create request, resolved against Neutron.
enum Nic {
    /// Nova makes a port on the network (with the fixed IP if given).
    Network {
        network_id: String,
        subnet_id: String,
        fixed_ip: Option<String>,
    },
    /// An existing port, bound to the server.
    Port(String),
}

/// A create request that passed the schema.
struct CreateRequest {
    request: model::ServerCreateRequest,
    raw: serde_json::Map<String, Value>,
}

fn validate_create(api: &Api, body: &Value) -> Result<CreateRequest, Failure> {
    let Some(top) = body.as_object() else {
        return Err(invalid_input("", body, "is not of type 'object'"));
    };
    for key in top.keys() {
        if !matches!(
            key.as_str(),
            "server" | "OS-SCH-HNT:scheduler_hints" | "os:scheduler_hints"
        ) {
            return Err(invalid_input(
                "",
                body,
                format!("Additional properties are not allowed ('{key}' was unexpected)"),
            ));
        }
    }
    let Some(server) = top.get("server") else {
        return Err(invalid_input("", body, "'server' is a required property"));
    };
    let Some(raw) = server.as_object() else {
        return Err(invalid_input("server", server, "is not of type 'object'"));
    };
    for required in ["name", "flavorRef"] {
        if !raw.contains_key(required) {
            return Err(invalid_input(
                "server",
                server,
                format!("'{required}' is a required property"),
            ));
        }
    }
    if api.at_least(37) && !raw.contains_key("networks") {
        return Err(invalid_input(
            "server",
            server,
            "'networks' is a required property",
        ));
    }
    if let Some(key) = raw.keys().find(|key| !allowed_create_key(api, key)) {
        return Err(invalid_input(
            "server",
            server,
            format!("Additional properties are not allowed ('{key}' was unexpected)"),
        ));
    }
    match raw.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() && name.chars().count() <= 255 => {}
        Some(name @ Value::String(text)) if text.chars().count() > 255 => {
            return Err(invalid_input("name", name, format!("'{text}' is too long")));
        }
        Some(name @ Value::String(_)) => {
            return Err(invalid_input("name", name, "'' is too short"));
        }
        Some(name) => return Err(invalid_input("name", name, "is not of type 'string'")),
        None => {}
    }
    if let Some(metadata) = raw.get("metadata") {
        validate_metadata("metadata", metadata)?;
    }
    if let Some(tags) = raw.get("tags") {
        tags::parse(tags)?;
    }
    if let Some(networks) = raw.get("networks") {
        match networks {
            Value::String(text) if text == "auto" || text == "none" => {
                if !api.at_least(37) {
                    return Err(invalid_input(
                        "networks",
                        networks,
                        "is not of type 'array'",
                    ));
                }
            }
            Value::Array(items) => {
                for item in items {
                    if let Some(uuid) = item.get("uuid").and_then(Value::as_str)
                        && api.at_least(37)
                        && !is_uuid(uuid)
                    {
                        return Err(invalid_input(
                            "uuid",
                            &Value::String(uuid.to_string()),
                            format!("'{uuid}' is not a 'uuid'"),
                        ));
                    }
                    if let Some(ip) = item.get("fixed_ip").and_then(Value::as_str)
                        && ip.parse::<std::net::IpAddr>().is_err()
                    {
                        return Err(invalid_input(
                            "fixed_ip",
                            &Value::String(ip.to_string()),
                            format!("'{ip}' is not a 'ip-address'"),
                        ));
                    }
                }
            }
            other => {
                return Err(invalid_input("networks", other, "is not of type 'array'"));
            }
        }
    }
    let request: model::ServerCreateRequest = serde_json::from_value(normalized(body))
        .map_err(|error| invalid_input("server", server, error))?;
    Ok(CreateRequest {
        request,
        raw: raw.clone(),
    })
}

/// The create body with the values Nova's schema also takes in another JSON type made the
/// model's type: `flavorRef` as a number, counts as digit strings, booleans as strings.
fn normalized(body: &Value) -> Value {
    let mut body = body.clone();
    let Some(server) = body.get_mut("server").and_then(Value::as_object_mut) else {
        return body;
    };
    if let Some(Value::Number(number)) = server.get("flavorRef") {
        let text = number.to_string();
        server.insert("flavorRef".to_string(), Value::String(text));
    }
    for key in ["min_count", "max_count"] {
        if let Some(count) = server
            .get(key)
            .and_then(Value::as_str)
            .and_then(|text| text.trim().parse::<u32>().ok())
        {
            server.insert(key.to_string(), Value::from(count));
        }
    }
    for key in ["config_drive", "return_reservation_id"] {
        if let Some(flag) = server
            .get(key)
            .and_then(Value::as_str)
            .map(|text| !text.is_empty() && bool_param(text).unwrap_or(false))
        {
            server.insert(key.to_string(), Value::Bool(flag));
        }
    }
    body
}

/// Nova's metadata schema: string keys of 1-255 characters, string values up to 255.
fn validate_metadata(field: &str, metadata: &Value) -> Result<BTreeMap<String, String>, Failure> {
    let Some(map) = metadata.as_object() else {
        return Err(invalid_input(field, metadata, "is not of type 'object'"));
    };
    let mut out = BTreeMap::new();
    for (key, value) in map {
        if key.is_empty() || key.chars().count() > 255 {
            return Err(invalid_input(
                field,
                metadata,
                format!("'{key}' does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{{1,255}}$'"),
            ));
        }
        let Some(text) = value.as_str() else {
            return Err(invalid_input(
                field,
                metadata,
                format!("{} is not of type 'string'", repr_item(value)),
            ));
        };
        if text.chars().count() > 255 {
            return Err(invalid_input(
                field,
                metadata,
                format!("'{text}' is too long"),
            ));
        }
        out.insert(key.clone(), text.to_string());
    }
    Ok(out)
}

fn metadata_quota(metadata: &BTreeMap<String, String>) -> Result<(), Failure> {
    if metadata.len() > METADATA_ITEMS {
        return Err(fail(
            StatusCode::FORBIDDEN,
            format!(
                "Quota exceeded for metadata_items: Requested {}, but already used 0 of {METADATA_ITEMS} metadata_items",
                metadata.len()
            ),
        ));
    }
    Ok(())
}

fn is_uuid(text: &str) -> bool {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// `flavorRef` as an id (`common.get_id_from_href`).
fn id_from_href(href: &str) -> String {
    let path = href.split(['?', '#']).next().unwrap_or(href);
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
        .to_string()
}

/// The addresses of a subnet that ports hold.
fn taken_addresses(site: &Site, subnet_id: &str) -> HashSet<String> {
    site.network
        .ports
        .values()
        .flat_map(|port| port.fixed_ips.iter())
        .filter(|fixed| fixed.subnet_id == subnet_id)
        .map(|fixed| fixed.ip_address.clone())
        .collect()
}

/// A password as Nova generates one (12 characters, no look-alikes).
fn admin_password(ids: &mut IdGen) -> String {
    const SYMBOLS: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    (0..12)
        .map(|_| SYMBOLS[(ids.next_u64() % SYMBOLS.len() as u64) as usize] as char)
        .collect()
}

/// Nova's answer when Cinder refuses to reserve a volume (cinderclient's BadRequest text,
/// wrapped in InvalidInput and then InvalidVolume).
fn reserve_refused(site: &mut Site, volume_id: &str, status: VolumeStatus) -> Failure {
    let request_id = format!("req-{}", site.ids.uuid());
    let status = serde_json::to_value(status)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default();
    let cinder = if status == "error" {
        format!(
            "Invalid volume: Volume attachments can not be created if the volume is in an error state. The Volume {volume_id} currently has a status of: {status} "
        )
    } else {
        format!(
            "Invalid volume: Volume {volume_id} status must be available or downloading to reserve, but the current status is {status}."
        )
    };
    bad_request(format!(
        "Invalid volume: Invalid input received: {cinder} (HTTP 400) (Request-ID: {request_id})"
    ))
}

async fn server_create(State(ctx): State<SiteContext>, api: Api, body: Bytes) -> Response {
    let result = (|| {
        let body = parse_body(&body)?;
        api.policy(api.can_write(), "servers:create")?;
        let request = validate_create(&api, &body)?;
        let mut site = ctx.lock();
        create_server(&mut site, &api, request, &ctx.world.faults)
    })();
    match result {
        Ok(Created::Server(created)) => {
            let location = created
                .links
                .iter()
                .find(|link| link.rel == "self")
                .map(|link| link.href.clone());
            let mut response = api.reply(
                StatusCode::ACCEPTED,
                &model::ServerCreateResponse { server: created },
            );
            if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        Ok(Created::Reservation(reservation_id)) => api.reply(
            StatusCode::ACCEPTED,
            &serde_json::json!({ "reservation_id": reservation_id }),
        ),
        Err(failure) => api.error(failure),
    }
}

enum Created {
    Server(model::CreatedServer),
    Reservation(String),
}

/// Nova's `compute_api.create` for a boot from volume, in Nova's order of checks.
fn create_server(
    site: &mut Site,
    api: &Api,
    create: CreateRequest,
    faults: &Faults,
) -> Result<Created, Failure> {
    let CreateRequest { request, raw } = create;
    let server = request.server;
    let project_id = api.token.project_id.clone();
    let name = server.name.trim().to_string();

    // min_count / max_count: one server per request here (several from the same volumes
    // cannot all reserve them anyway).
    let min_count = server.min_count.unwrap_or(1);
    let max_count = server.max_count.unwrap_or(min_count);
    if min_count > max_count {
        return Err(bad_request("min_count must be <= max_count"));
    }

    // The zone (`zone`, `zone:host`, `zone:host:node`).
    let requested_zone = server
        .availability_zone
        .as_deref()
        .map(|zone| zone.split(':').next().unwrap_or_default().to_string())
        .filter(|zone| !zone.is_empty());

    // Block device mappings: volumes only.
    let mappings = server.block_device_mapping_v2.clone().unwrap_or_default();
    if raw.contains_key("block_device_mapping") {
        return Err(bad_request(
            "Block Device Mapping is Invalid: the twin supports block_device_mapping_v2 only.",
        ));
    }
    let image_ref = server.image_ref.clone().filter(|image| !image.is_empty());
    if image_ref.is_none() && mappings.is_empty() {
        return Err(bad_request("Missing imageRef attribute"));
    }

    // The flavor.
    let flavor_id = id_from_href(&server.flavor_ref);
    if !site.compute.flavors.contains_key(&flavor_id) {
        return Err(bad_request(format!(
            "Flavor {flavor_id} could not be found."
        )));
    }

    // The zone must exist.
    if let Some(zone) = &requested_zone
        && !site.compute.availability_zones.contains(zone)
    {
        return Err(bad_request(
            "The requested availability zone is not available",
        ));
    }
    if image_ref.is_some() {
        return Err(bad_request("Can not find requested image"));
    }

    // The key pair: one of the caller's (`KeyPair.get_by_name(context, context.user_id, ..)`).
    if let Some(key_name) = &server.key_name
        && !keypairs::exists(site, &api.token.user_id, key_name)
    {
        return Err(bad_request("Invalid key_name provided."));
    }

    // Scheduler hints; the server group named by `group` (`_get_requested_instance_group`).
    let hints: BTreeMap<String, Vec<String>> = request
        .scheduler_hints
        .or_else(|| {
            raw.get("os:scheduler_hints")
                .and_then(|hints| serde_json::from_value(hints.clone()).ok())
        })
        .unwrap_or_default()
        .into_iter()
        .map(|(key, hint)| {
            let values = match hint {
                model::SchedulerHint::One(value) => vec![value],
                model::SchedulerHint::Many(values) => values,
            };
            (key, values)
        })
        .collect();
    let group_id = match hints.get("group").map(Vec::as_slice) {
        None => None,
        Some([group]) if is_uuid(group) => Some(server_groups::find(site, group)?.id.clone()),
        // The schema's `group`: one string in uuid format.
        Some([group]) => {
            let value = Value::String(group.clone());
            return Err(invalid_input(
                "group",
                &value,
                format!("'{group}' is not a 'uuid'"),
            ));
        }
        Some(groups) => {
            let value = Value::from(groups.to_vec());
            return Err(invalid_input(
                "group",
                &value,
                format!("{} is not of type 'string'", python_repr(&value)),
            ));
        }
    };

    // Mappings: sources, uuids, boot index.
    let mut volumes: Vec<(String, Option<i64>, bool)> = Vec::new();
    for mapping in &mappings {
        let uuid = mapping.uuid.clone().unwrap_or_default();
        match mapping.source_type {
            model::BlockDeviceSource::Volume => {}
            model::BlockDeviceSource::Image => {
                return Err(bad_request(format!(
                    "Block Device Mapping is Invalid: failed to get image {uuid}."
                )));
            }
            model::BlockDeviceSource::Snapshot => {
                return Err(bad_request(format!(
                    "Block Device Mapping is Invalid: failed to get snapshot {uuid}."
                )));
            }
            model::BlockDeviceSource::Blank => {
                return Err(bad_request(
                    "Block Device Mapping is Invalid: the twin boots from existing volumes only.",
                ));
            }
        }
        if mapping.destination_type == Some(model::BlockDeviceDestination::Local) {
            return Err(bad_request(
                "Block Device Mapping is Invalid: Mapping a volume to local is not supported.",
            ));
        }
        if uuid.is_empty() {
            return Err(bad_request(
                "Block Device Mapping is Invalid: Missing device UUID.",
            ));
        }
        let boot_index = match &mapping.boot_index {
            None => None,
            Some(index) => Some(index.value().ok_or_else(|| {
                bad_request("Block Device Mapping is Invalid: Boot index is invalid.")
            })?),
        };
        if volumes.iter().any(|(id, _, _)| *id == uuid) {
            return Err(bad_request(format!(
                "Invalid volume: volume {uuid} already attached"
            )));
        }
        volumes.push((
            uuid,
            boot_index,
            mapping.delete_on_termination.unwrap_or(false),
        ));
    }

    // The boot volume (`get_bdm_image_metadata`): it must exist and be bootable.
    if let Some((boot_volume, _, _)) = volumes.iter().find(|(_, index, _)| *index == Some(0)) {
        let volume = site
            .block
            .volumes
            .get(boot_volume)
            .filter(|volume| api.sees(&volume.project_id))
            .ok_or_else(|| {
                bad_request(format!(
                    "Block Device Mapping is Invalid: failed to get volume {boot_volume}."
                ))
            })?;
        if !volume.bootable {
            return Err(bad_request(format!(
                "Block Device {boot_volume} is not bootable."
            )));
        }
    }

    // Security groups (`_check_requested_secgroups`).
    let mut group_names: Vec<String> = Vec::new();
    for group in server.security_groups.iter().flatten() {
        if !group_names.contains(&group.name) {
            group_names.push(group.name.clone());
        }
    }
    if group_names.is_empty() {
        group_names.push("default".to_string());
    }
    let mut group_ids = Vec::new();
    for group in &group_names {
        let found = site.network.security_groups.values().find(|candidate| {
            candidate.project_id == project_id
                && (candidate.name == *group || candidate.id == *group)
        });
        match found {
            Some(found) => group_ids.push(found.id.clone()),
            None if group == "default" => {}
            None => {
                return Err(bad_request(format!(
                    "Unable to find security_group with name or id '{group}'"
                )));
            }
        }
    }

    // Networks (`validate_networks`).
    let visible_network = |site: &Site, id: &str| {
        site.network
            .networks
            .get(id)
            .filter(|network| network.shared || api.sees(&network.project_id))
            .map(|network| network.id.clone())
    };
    let mut nics: Vec<Nic> = Vec::new();
    match &server.networks {
        None | Some(model::ServerNetworks::Allocation(model::NetworkAllocation::Auto)) => {
            let mut candidates: Vec<&super::state::Network> = site
                .network
                .networks
                .values()
                .filter(|network| network.shared || network.project_id == project_id)
                .collect();
            candidates.sort_by(|a, b| a.id.cmp(&b.id));
            match candidates.as_slice() {
                [] => {
                    return Err(bad_request(format!(
                        "Unable to automatically allocate a network for project {project_id}"
                    )));
                }
                [network] => {
                    let subnet_id = network.subnet_ids.first().cloned().ok_or_else(|| {
                        bad_request(format!(
                            "Network {} requires a subnet in order to boot instances on.",
                            network.id
                        ))
                    })?;
                    nics.push(Nic::Network {
                        network_id: network.id.clone(),
                        subnet_id,
                        fixed_ip: None,
                    });
                }
                _ => {
                    return Err(fail(
                        StatusCode::CONFLICT,
                        "Multiple possible networks found, use a Network ID to be more specific.",
                    ));
                }
            }
        }
        Some(model::ServerNetworks::Allocation(model::NetworkAllocation::None)) => {}
        Some(model::ServerNetworks::Nics(requests)) => {
            for request in requests {
                if let Some(port_id) = &request.port {
                    let port = site
                        .network
                        .ports
                        .get(port_id)
                        .filter(|port| api.sees(&port.project_id))
                        .ok_or_else(|| {
                            bad_request(format!("Port id {port_id} could not be found."))
                        })?;
                    if !port.device_id.is_empty()
                        || nics
                            .iter()
                            .any(|nic| matches!(nic, Nic::Port(p) if p == port_id))
                    {
                        return Err(fail(
                            StatusCode::CONFLICT,
                            format!("Port {port_id} is still in use."),
                        ));
                    }
                    if port.fixed_ips.is_empty() {
                        return Err(bad_request(format!(
                            "Port {port_id} requires a FixedIP in order to be used."
                        )));
                    }
                    nics.push(Nic::Port(port_id.clone()));
                    continue;
                }
                let Some(network_id) = &request.uuid else {
                    return Err(bad_request(
                        "Bad networks format: network uuid is not in proper format ()",
                    ));
                };
                if let Some(address) = &request.fixed_ip
                    && let Some(holder) = site.network.ports.values().find(|port| {
                        port.network_id == *network_id
                            && port
                                .fixed_ips
                                .iter()
                                .any(|fixed| fixed.ip_address == *address)
                    })
                {
                    return Err(bad_request(format!(
                        "Fixed IP address {address} is already in use on instance {}.",
                        holder.device_id
                    )));
                }
                let network_id = visible_network(site, network_id).ok_or_else(|| {
                    bad_request(format!("Network {network_id} could not be found."))
                })?;
                let network = &site.network.networks[&network_id];
                // The subnet the fixed IP belongs to, else the first one.
                let subnet_id = match &request.fixed_ip {
                    Some(address) => network
                        .subnet_ids
                        .iter()
                        .find(|id| {
                            site.network
                                .subnets
                                .get(*id)
                                .is_some_and(|subnet| ipam::contains(&subnet.cidr, address))
                        })
                        .or_else(|| network.subnet_ids.first()),
                    None => network.subnet_ids.first(),
                };
                let Some(subnet_id) = subnet_id.cloned() else {
                    return Err(bad_request(format!(
                        "Network {network_id} requires a subnet in order to boot instances on."
                    )));
                };
                nics.push(Nic::Network {
                    network_id,
                    subnet_id,
                    fixed_ip: request.fixed_ip.clone(),
                });
            }
        }
    }

    // Every volume must exist (`_get_volumes_for_bdms`), the boot sequence must be 0, 1, ...
    // (`_validate_bdm`), then Cinder must reserve each one.
    for (volume_id, _, _) in &volumes {
        if !site
            .block
            .volumes
            .get(volume_id)
            .is_some_and(|volume| api.sees(&volume.project_id))
        {
            return Err(bad_request(format!(
                "Block Device Mapping is Invalid: failed to get volume {volume_id}."
            )));
        }
    }
    let mut boot_indexes: Vec<i64> = volumes
        .iter()
        .filter_map(|(_, index, _)| *index)
        .filter(|index| *index >= 0)
        .collect();
    boot_indexes.sort_unstable();
    if boot_indexes.first() != Some(&0)
        || boot_indexes.windows(2).any(|pair| pair[1] != pair[0] + 1)
    {
        return Err(bad_request(
            "Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.",
        ));
    }
    for (volume_id, _, _) in &volumes {
        let status = site.block.volumes[volume_id].status;
        if status != VolumeStatus::Available {
            return Err(reserve_refused(site, volume_id, status));
        }
    }
    if max_count > 1 {
        let (volume_id, _, _) = &volumes[0];
        return Err(bad_request(format!(
            "Invalid volume: Invalid input received: Invalid volume: Volume {volume_id} status must be available or downloading to reserve, but the current status is reserved. (HTTP 400) (Request-ID: req-{})",
            site.ids.uuid()
        )));
    }
    let metadata = server.metadata.clone().unwrap_or_default();
    metadata_quota(&metadata)?;
    let tags = raw
        .get("tags")
        .map(tags::parse)
        .transpose()?
        .unwrap_or_default();

    // Accepted: the server, its ports and its volumes. The scheduler runs before the compute
    // host allocates networks, so NoValidHost is the build's first failure.
    let server_id = site.ids.uuid();
    let now = site.clock.wall();
    let group = group_id.as_deref().and_then(|id| {
        site.compute
            .server_groups
            .iter()
            .find(|group| group.id == id)
    });
    let host = if faults.take_no_valid_host(&site.name) {
        None
    } else {
        scheduler::place(&site.compute, requested_zone.as_deref(), group)
    };
    let mut build_error: Option<String> =
        host.is_none().then(|| scheduler::NO_VALID_HOST.to_string());
    let zone = host
        .as_deref()
        .and_then(|host| site.compute.hosts.iter().find(|h| h.name == host))
        .map(|host| host.zone.clone())
        .or_else(|| requested_zone.clone())
        .unwrap_or_default();
    let mut ports = Vec::new();
    let mut preexisting = Vec::new();
    let mut planned: Vec<(String, String, String)> = Vec::new(); // (network, subnet, address)
    let mut taken: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for nic in &nics {
        let Nic::Network {
            network_id,
            subnet_id,
            fixed_ip,
        } = nic
        else {
            continue;
        };
        let Some(subnet) = site.network.subnets.get(subnet_id) else {
            continue;
        };
        let used = taken
            .entry(subnet_id.clone())
            .or_insert_with(|| taken_addresses(site, subnet_id));
        match fixed_ip {
            Some(address) => {
                // Neutron refuses an address outside the subnet or one of its reserved ones;
                // Nova reschedules that failure until it runs out of hosts.
                let reserved = ipam::parse_cidr(&subnet.cidr)
                    .map(|(network, prefix)| {
                        let base = u32::from(network);
                        let broadcast = base | (u32::MAX >> prefix);
                        [base, broadcast]
                            .map(|value| std::net::Ipv4Addr::from(value).to_string())
                            .contains(address)
                    })
                    .unwrap_or(true);
                if !ipam::contains(&subnet.cidr, address)
                    || reserved
                    || subnet.gateway_ip.as_deref() == Some(address.as_str())
                    || used.contains(address)
                {
                    build_error.get_or_insert_with(|| format!(
                        "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance {server_id}."
                    ));
                    continue;
                }
                used.insert(address.clone());
                planned.push((network_id.clone(), subnet_id.clone(), address.clone()));
            }
            None => match ipam::first_free(&subnet.allocation_pools, |ip| used.contains(ip)) {
                Some(address) => {
                    used.insert(address.clone());
                    planned.push((network_id.clone(), subnet_id.clone(), address));
                }
                None => {
                    build_error.get_or_insert_with(|| format!(
                        "Build of instance {server_id} aborted: Failed to allocate the network(s) with error No fixed IP addresses available for network: {network_id}, not rescheduling."
                    ));
                }
            },
        }
    }
    let device_owner = format!("compute:{zone}");
    if build_error.is_none() {
        let mut planned = planned.into_iter();
        for nic in &nics {
            match nic {
                Nic::Port(port_id) => {
                    if let Some(port) = site.network.ports.get_mut(port_id) {
                        port.device_id = server_id.clone();
                        port.device_owner = device_owner.clone();
                    }
                    touch_port(site, port_id, now);
                    ports.push(port_id.clone());
                    preexisting.push(port_id.clone());
                }
                Nic::Network { .. } => {
                    let Some((network_id, subnet_id, address)) = planned.next() else {
                        continue;
                    };
                    let port_id = site.ids.uuid();
                    let mac_address = site.ids.mac();
                    site.network.ports.insert(
                        port_id.clone(),
                        Port {
                            id: port_id.clone(),
                            name: String::new(),
                            network_id,
                            project_id: project_id.clone(),
                            mac_address,
                            fixed_ips: vec![FixedIp {
                                subnet_id,
                                ip_address: address,
                            }],
                            device_id: server_id.clone(),
                            device_owner: device_owner.clone(),
                            security_groups: group_ids.clone(),
                            created_at: now,
                        },
                    );
                    ports.push(port_id);
                }
            }
        }
    }

    // Volumes: the boot volume is vda, the others follow in request order.
    volumes.sort_by_key(|(_, index, _)| match index {
        Some(index) if *index >= 0 => (0, *index),
        _ => (1, 0),
    });
    let mut attached = Vec::new();
    let array_host = compute_host(site);
    for (position, (volume_id, boot_index, delete_on_termination)) in volumes.iter().enumerate() {
        let device = format!("/dev/vd{}", device_letter(position));
        // Checked `available` above, so Cinder accepts.
        let _ = cinder::attach(site, volume_id, &server_id, &device, &array_host);
        attached.push(AttachedVolume {
            volume_id: volume_id.clone(),
            device,
            boot_index: boot_index
                .filter(|index| *index >= 0)
                .map(|index| index as u32),
            delete_on_termination: *delete_on_termination,
        });
    }

    let latency = site.clock.latency(Op::BootFromVolume);
    let pending = Pending {
        at: site.clock.now() + latency,
        then: if build_error.is_some() {
            ServerStatus::Error
        } else {
            ServerStatus::Active
        },
        error: build_error,
    };
    let reservation_id = format!("r-{}", &site.ids.hex(8));
    let password = server
        .admin_pass
        .clone()
        .unwrap_or_else(|| admin_password(&mut site.ids));
    // Nova adds the server to its group when it records the request, whatever the build does.
    if let Some(group_id) = &group_id
        && let Some(group) = site
            .compute
            .server_groups
            .iter_mut()
            .find(|group| group.id == *group_id)
    {
        group.members.push(server_id.clone());
    }
    site.compute.server_extras.insert(
        server_id.clone(),
        ServerExtra {
            access_ipv4: server.access_ipv4.clone().unwrap_or_default(),
            access_ipv6: server.access_ipv6.clone().unwrap_or_default(),
            auto_disk_config: server.disk_config.as_deref() == Some("AUTO"),
            config_drive: server.config_drive.unwrap_or(false),
            user_data: server.user_data.clone(),
            hostname: server.hostname.clone(),
            requested_zone: requested_zone.clone(),
            scheduler_hints: hints,
            reservation_id: reservation_id.clone(),
            launched_at: None,
            failing: None,
            preexisting_ports: preexisting,
        },
    );
    let description = if api.at_least(19) {
        server.description.clone()
    } else {
        Some(name.clone())
    };
    site.compute.servers.insert(
        server_id.clone(),
        Server {
            id: server_id.clone(),
            name,
            project_id,
            user_id: api.token.user_id.clone(),
            status: ServerStatus::Build,
            flavor_id,
            key_name: server.key_name.clone(),
            availability_zone: zone,
            host,
            metadata,
            tags,
            description,
            security_groups: group_names,
            ports,
            volumes: attached,
            fault: None,
            created: now,
            updated: now,
            pending: Some(pending),
        },
    );
    if server.return_reservation_id == Some(true) {
        return Ok(Created::Reservation(reservation_id));
    }
    Ok(Created::Server(model::CreatedServer {
        id: server_id.clone(),
        links: api.links("servers", &server_id),
        disk_config: if server.disk_config.as_deref() == Some("AUTO") {
            "AUTO".to_string()
        } else {
            "MANUAL".to_string()
        },
        admin_pass: Some(password),
        security_groups: Some(server.security_groups.clone().unwrap_or_else(|| {
            vec![model::SecurityGroupRef {
                name: "default".to_string(),
            }]
        })),
    }))
}

/// `a`, `b`, ... `z`, `aa`, ... as Linux names disks.
fn device_letter(position: usize) -> String {
    let mut name = Vec::new();
    let mut n = position + 1;
    while n > 0 {
        n -= 1;
        name.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    name.iter().rev().collect()
}

// ---------------------------------------------------------------------------------------------
// Update, delete, actions
// ---------------------------------------------------------------------------------------------

async fn server_update(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let body = parse_body(&body)?;
        let mut site = ctx.lock();
        find_server(&site, &api, &server_id)?;
        api.policy(api.can_write(), "servers:update")?;
        let Some(update) = body.get("server").and_then(Value::as_object) else {
            return Err(invalid_input("", &body, "'server' is a required property"));
        };
        for key in update.keys() {
            let allowed = match key.as_str() {
                "name" | "accessIPv4" | "accessIPv6" | "OS-DCF:diskConfig" => true,
                "description" => api.at_least(19),
                "hostname" => api.at_least(90),
                _ => false,
            };
            if !allowed {
                return Err(invalid_input(
                    "server",
                    &Value::Object(update.clone()),
                    format!("Additional properties are not allowed ('{key}' was unexpected)"),
                ));
            }
        }
        let wall = site.clock.wall();
        let extra = extra_mut(&mut site, &server_id);
        if let Some(value) = update.get("accessIPv4") {
            extra.access_ipv4 = value.as_str().unwrap_or_default().to_string();
        }
        if let Some(value) = update.get("accessIPv6") {
            extra.access_ipv6 = value.as_str().unwrap_or_default().to_string();
        }
        if let Some(value) = update.get("OS-DCF:diskConfig") {
            extra.auto_disk_config = value.as_str() == Some("AUTO");
        }
        if let Some(value) = update.get("hostname").and_then(Value::as_str) {
            extra.hostname = Some(value.to_string());
        }
        if let Some(server) = site.compute.servers.get_mut(&server_id) {
            if let Some(value) = update.get("description") {
                server.description = value.as_str().map(str::to_string);
            }
            if let Some(name) = update.get("name") {
                match name.as_str().map(str::trim) {
                    Some(name) if !name.is_empty() && name.chars().count() <= 255 => {
                        server.name = name.to_string()
                    }
                    _ => return Err(invalid_input("name", name, "is not a valid name")),
                }
            }
            server.updated = wall;
        }
        let server = find_server(&site, &api, &server_id)?;
        Ok(model::ServerResponse {
            server: server_view(&site, &api, server, true),
        })
    })();
    api.done(StatusCode::OK, result)
}

async fn server_delete(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
) -> Response {
    let result = (|| {
        let mut site = ctx.lock();
        find_server(&site, &api, &server_id)?;
        api.policy(api.can_write(), "servers:delete")?;
        let at = site.clock.now() + site.clock.latency(Op::DeleteServer);
        let wall = site.clock.wall();
        if let Some(server) = site.compute.servers.get_mut(&server_id) {
            // A second delete while one runs is ignored, as Nova does.
            let deleting = server
                .pending
                .as_ref()
                .is_some_and(|pending| pending.then == ServerStatus::Deleting);
            if !deleting {
                server.pending = Some(Pending {
                    at,
                    then: ServerStatus::Deleting,
                    error: None,
                });
                server.updated = wall;
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => api.empty(StatusCode::NO_CONTENT),
        Err(failure) => api.error(failure),
    }
}

/// Nova's `raise_http_conflict_for_instance_invalid_state`: the 409 of an action refused in
/// the server's state.
fn invalid_state(action: &str, server_id: &str, attr: &str, state: &str) -> Failure {
    fail(
        StatusCode::CONFLICT,
        format!("Cannot '{action}' instance {server_id} while it is in {attr} {state}"),
    )
}

/// Nova's `check_instance_state`: the 409 for an action the server's state does not allow.
fn check_state(
    site: &Site,
    server: &Server,
    action: &str,
    vm_states: &[ServerStatus],
    must_have_launched: bool,
) -> Result<(), Failure> {
    let conflict = |attr: &str, state: &str| invalid_state(action, &server.id, attr, state);
    if !vm_states.contains(&server.status) {
        return Err(conflict("vm_state", vm_state(server.status)));
    }
    if let Some(task) = task_state(server) {
        return Err(conflict("task_state", task));
    }
    if must_have_launched
        && launched_at(server, site.compute.server_extras.get(&server.id)).is_none()
    {
        return Err(conflict("launched_at", "None"));
    }
    Ok(())
}

async fn server_action(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let body = parse_body(&body)?;
        let action = body
            .as_object()
            .and_then(|map| map.keys().next().cloned())
            .unwrap_or_default();
        let (rule, allowed, then, latency): (&str, &[ServerStatus], ServerStatus, Op) =
            match action.as_str() {
                "os-stop" => (
                    "stop",
                    &[ServerStatus::Active, ServerStatus::Error],
                    ServerStatus::Shutoff,
                    Op::StopServer,
                ),
                "os-start" => (
                    "start",
                    &[ServerStatus::Shutoff],
                    ServerStatus::Active,
                    Op::StartServer,
                ),
                other => return Err(bad_request(format!("There is no such action: {other}"))),
            };
        let mut site = ctx.lock();
        let server = find_server(&site, &api, &server_id)?;
        api.policy(api.can_write(), &format!("servers:{rule}"))?;
        check_state(&site, server, rule, allowed, true)?;
        let at = site.clock.now() + site.clock.latency(latency);
        let wall = site.clock.wall();
        if let Some(server) = site.compute.servers.get_mut(&server_id) {
            server.pending = Some(Pending {
                at,
                then,
                error: None,
            });
            server.updated = wall;
        }
        Ok(())
    })();
    match result {
        Ok(()) => api.empty(StatusCode::ACCEPTED),
        Err(failure) => api.error(failure),
    }
}

// ---------------------------------------------------------------------------------------------
// Server metadata
// ---------------------------------------------------------------------------------------------

async fn metadata_index(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
) -> Response {
    let site = ctx.lock();
    let result = find_server(&site, &api, &server_id).and_then(|server| {
        api.policy(api.can_read(), "server-metadata:index")?;
        Ok(model::ServerMetadata {
            metadata: server.metadata.clone(),
        })
    });
    drop(site);
    api.done(StatusCode::OK, result)
}

async fn metadata_show(
    State(ctx): State<SiteContext>,
    api: Api,
    Path((server_id, key)): Path<(String, String)>,
) -> Response {
    let site = ctx.lock();
    let result = find_server(&site, &api, &server_id).and_then(|server| {
        api.policy(api.can_read(), "server-metadata:show")?;
        let value = server
            .metadata
            .get(&key)
            .ok_or_else(|| fail(StatusCode::NOT_FOUND, "Metadata item was not found"))?;
        Ok(model::ServerMetadataItem {
            meta: BTreeMap::from([(key.clone(), value.clone())]),
        })
    });
    drop(site);
    api.done(StatusCode::OK, result)
}

/// Replaces (`delete`) or merges the server's metadata; Nova's state check applies.
fn write_metadata(
    site: &mut Site,
    api: &Api,
    server_id: &str,
    rule: &str,
    items: BTreeMap<String, String>,
    replace: bool,
) -> Result<BTreeMap<String, String>, Failure> {
    let server = find_server(site, api, server_id)?;
    api.policy(api.can_write(), rule)?;
    let mut metadata = if replace {
        BTreeMap::new()
    } else {
        server.metadata.clone()
    };
    metadata.extend(items);
    metadata_quota(&metadata)?;
    check_state(
        site,
        server,
        "update metadata",
        &[ServerStatus::Active, ServerStatus::Shutoff],
        false,
    )?;
    let wall = site.clock.wall();
    let server = site
        .compute
        .servers
        .get_mut(server_id)
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "Server does not exist"))?;
    server.metadata = metadata.clone();
    server.updated = wall;
    Ok(metadata)
}

fn metadata_body(body: &Bytes, key: &str) -> Result<BTreeMap<String, String>, Failure> {
    let body = parse_body(body)?;
    let Some(value) = body.get(key) else {
        return Err(invalid_input(
            "",
            &body,
            format!("'{key}' is a required property"),
        ));
    };
    validate_metadata(key, value)
}

async fn metadata_replace(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Response {
    let result = metadata_body(&body, "metadata").and_then(|items| {
        let mut site = ctx.lock();
        write_metadata(
            &mut site,
            &api,
            &server_id,
            "server-metadata:update_all",
            items,
            true,
        )
    });
    api.done(
        StatusCode::OK,
        result.map(|metadata| model::ServerMetadata { metadata }),
    )
}

async fn metadata_merge(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Response {
    let result = metadata_body(&body, "metadata").and_then(|items| {
        let mut site = ctx.lock();
        write_metadata(
            &mut site,
            &api,
            &server_id,
            "server-metadata:create",
            items,
            false,
        )
    });
    api.done(
        StatusCode::OK,
        result.map(|metadata| model::ServerMetadata { metadata }),
    )
}

async fn metadata_set(
    State(ctx): State<SiteContext>,
    api: Api,
    Path((server_id, key)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let result = metadata_body(&body, "meta").and_then(|items| {
        if items.len() > 1 {
            return Err(bad_request("Request body contains too many items"));
        }
        let Some((item_key, value)) = items.into_iter().next() else {
            return Err(bad_request("Request body and URI mismatch"));
        };
        if item_key != key {
            return Err(bad_request("Request body and URI mismatch"));
        }
        let mut site = ctx.lock();
        write_metadata(
            &mut site,
            &api,
            &server_id,
            "server-metadata:update",
            BTreeMap::from([(key.clone(), value.clone())]),
            false,
        )?;
        Ok(model::ServerMetadataItem {
            meta: BTreeMap::from([(key.clone(), value)]),
        })
    });
    api.done(StatusCode::OK, result)
}

async fn metadata_delete(
    State(ctx): State<SiteContext>,
    api: Api,
    Path((server_id, key)): Path<(String, String)>,
) -> Response {
    let result = (|| {
        let mut site = ctx.lock();
        let server = find_server(&site, &api, &server_id)?;
        api.policy(api.can_write(), "server-metadata:delete")?;
        if !server.metadata.contains_key(&key) {
            return Err(fail(StatusCode::NOT_FOUND, "Metadata item was not found"));
        }
        check_state(
            &site,
            server,
            "delete metadata",
            &[ServerStatus::Active, ServerStatus::Shutoff],
            false,
        )?;
        let wall = site.clock.wall();
        if let Some(server) = site.compute.servers.get_mut(&server_id) {
            server.metadata.remove(&key);
            server.updated = wall;
        }
        Ok(())
    })();
    match result {
        Ok(()) => api.empty(StatusCode::NO_CONTENT),
        Err(failure) => api.error(failure),
    }
}

// ---------------------------------------------------------------------------------------------
// Volume attachments
// ---------------------------------------------------------------------------------------------

fn attachment_view(
    site: &Site,
    api: &Api,
    server: &Server,
    volume: &AttachedVolume,
) -> model::VolumeAttachment {
    let attachment_id = site
        .block
        .volumes
        .get(&volume.volume_id)
        .and_then(|cinder| {
            cinder
                .attachments
                .iter()
                .find(|attachment| attachment.server_id == server.id)
        })
        .map(|attachment| attachment.attachment_id.clone());
    let new_style = api.at_least(89);
    model::VolumeAttachment {
        device: Some(volume.device.clone()),
        server_id: server.id.clone(),
        volume_id: volume.volume_id.clone(),
        id: (!new_style).then(|| volume.volume_id.clone()),
        tag: api.at_least(70).then_some(None),
        delete_on_termination: api.at_least(79).then_some(volume.delete_on_termination),
        attachment_id: if new_style { attachment_id } else { None },
        bdm_uuid: new_style.then(|| bdm_uuid(&server.id, &volume.volume_id)),
    }
}

async fn attachments_index(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
) -> Response {
    let site = ctx.lock();
    let result = find_server(&site, &api, &server_id).and_then(|server| {
        api.policy(api.can_read(), "os-volumes-attachments:index")?;
        Ok(model::VolumeAttachmentsList {
            volume_attachments: server
                .volumes
                .iter()
                .map(|volume| attachment_view(&site, &api, server, volume))
                .collect(),
        })
    });
    drop(site);
    api.done(StatusCode::OK, result)
}

fn not_attached(server_id: &str, volume_id: &str) -> Failure {
    fail(
        StatusCode::NOT_FOUND,
        format!("Instance {server_id} is not attached to volume {volume_id}"),
    )
}

async fn attachment_show(
    State(ctx): State<SiteContext>,
    api: Api,
    Path((server_id, volume_id)): Path<(String, String)>,
) -> Response {
    let site = ctx.lock();
    let result = find_server(&site, &api, &server_id).and_then(|server| {
        api.policy(api.can_read(), "os-volumes-attachments:show")?;
        let volume = server
            .volumes
            .iter()
            .find(|volume| volume.volume_id == volume_id)
            .ok_or_else(|| not_attached(&server_id, &volume_id))?;
        Ok(model::VolumeAttachmentResponse {
            volume_attachment: attachment_view(&site, &api, server, volume),
        })
    });
    drop(site);
    api.done(StatusCode::OK, result)
}

/// The states Nova lets a volume be attached or detached in.
const ATTACHABLE: &[ServerStatus] = &[ServerStatus::Active, ServerStatus::Shutoff];

async fn attachment_create(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let body = parse_body(&body)?;
        let request: model::VolumeAttachmentRequest = serde_json::from_value(body.clone())
            .map_err(|error| invalid_input("volumeAttachment", &body, error))?;
        let request = request.volume_attachment;
        let mut site = ctx.lock();
        let server = find_server(&site, &api, &server_id)?;
        api.policy(api.can_write(), "os-volumes-attachments:create")?;
        check_state(&site, server, "attach_volume", ATTACHABLE, false)?;
        let volume_id = request.volume_id.clone();
        let volume = site
            .block
            .volumes
            .get(&volume_id)
            .filter(|volume| api.sees(&volume.project_id))
            .ok_or_else(|| {
                fail(
                    StatusCode::NOT_FOUND,
                    format!("Volume {volume_id} could not be found."),
                )
            })?;
        if server
            .volumes
            .iter()
            .any(|attached| attached.volume_id == volume_id)
        {
            return Err(bad_request(format!(
                "Invalid volume: volume {volume_id} already attached"
            )));
        }
        if volume.status != VolumeStatus::Available {
            let status = volume.status;
            let (_, message) = reserve_refused(&mut site, &volume_id, status);
            // The attach path reports Cinder's refusal as InvalidInput (no InvalidVolume wrap).
            return Err(bad_request(
                message.trim_start_matches("Invalid volume: ").to_string(),
            ));
        }
        let used: Vec<String> = server
            .volumes
            .iter()
            .map(|volume| volume.device.clone())
            .collect();
        let device = (0..)
            .map(|position| format!("/dev/vd{}", device_letter(position)))
            .find(|device| !used.contains(device))
            .unwrap_or_default();
        let delete_on_termination = api.at_least(79) && request.delete_on_termination == Some(true);
        let host = compute_host(&site);
        cinder::attach(&mut site, &volume_id, &server_id, &device, &host)
            .map_err(|error| bad_request(format!("Invalid input received: {}", error.message)))?;
        let wall = site.clock.wall();
        let server = site
            .compute
            .servers
            .get_mut(&server_id)
            .ok_or_else(|| not_attached(&server_id, &volume_id))?;
        let attached = AttachedVolume {
            volume_id: volume_id.clone(),
            device,
            boot_index: None,
            delete_on_termination,
        };
        server.volumes.push(attached.clone());
        server.updated = wall;
        let server = &site.compute.servers[&server_id];
        Ok(model::VolumeAttachmentResponse {
            volume_attachment: attachment_view(&site, &api, server, &attached),
        })
    })();
    api.done(StatusCode::OK, result)
}

async fn attachment_delete(
    State(ctx): State<SiteContext>,
    api: Api,
    Path((server_id, volume_id)): Path<(String, String)>,
) -> Response {
    let result = (|| {
        let mut site = ctx.lock();
        let server = find_server(&site, &api, &server_id)?;
        api.policy(api.can_write(), "os-volumes-attachments:delete")?;
        check_state(&site, server, "detach_volume", ATTACHABLE, false)?;
        if !site
            .block
            .volumes
            .get(&volume_id)
            .is_some_and(|volume| api.sees(&volume.project_id))
        {
            return Err(fail(
                StatusCode::NOT_FOUND,
                format!("Volume {volume_id} could not be found."),
            ));
        }
        let attached = server
            .volumes
            .iter()
            .find(|volume| volume.volume_id == volume_id)
            .ok_or_else(|| not_attached(&server_id, &volume_id))?;
        if attached.boot_index == Some(0) {
            return Err(bad_request("Cannot detach a root device volume"));
        }
        cinder::detach(&mut site, &volume_id, &server_id);
        let wall = site.clock.wall();
        if let Some(server) = site.compute.servers.get_mut(&server_id) {
            server
                .volumes
                .retain(|volume| volume.volume_id != volume_id);
            server.updated = wall;
        }
        Ok(())
    })();
    match result {
        Ok(()) => api.empty(StatusCode::ACCEPTED),
        Err(failure) => api.error(failure),
    }
}

// ---------------------------------------------------------------------------------------------
// Name filters
// ---------------------------------------------------------------------------------------------

/// Nova's `name` and `ip` filters are regular expressions matched anywhere in the value (the
/// database's `REGEXP`; MySQL's is case-insensitive under Nova's collation, and so is this).
/// A small backtracking matcher for the syntax names use: literals, `.`, `^`, `$`, classes
/// (`[a-z]`, `[^0-9]`, `\d`, `\w`, `\s`), groups with `|`, and the quantifiers `*`, `+`, `?`,
/// `{m,n}` (greedy or lazy). A pattern it cannot parse matches as a plain substring.
mod pattern {
    #[derive(Debug)]
    enum Node {
        Literal(char),
        Any,
        Class(Class),
        Start,
        End,
        Group(Vec<Vec<Node>>),
        Repeat {
            node: Box<Node>,
            min: usize,
            max: Option<usize>,
            greedy: bool,
        },
    }

    #[derive(Debug)]
    struct Class {
        items: Vec<Item>,
        negated: bool,
    }

    #[derive(Debug)]
    enum Item {
        Range(char, char),
        Digit(bool),
        Word(bool),
        Space(bool),
    }

    impl Item {
        fn matches(&self, c: char) -> bool {
            match *self {
                Item::Range(low, high) => low <= c && c <= high,
                Item::Digit(negated) => c.is_ascii_digit() != negated,
                Item::Word(negated) => (c.is_alphanumeric() || c == '_') != negated,
                Item::Space(negated) => c.is_whitespace() != negated,
            }
        }
    }

    impl Class {
        fn matches(&self, c: char) -> bool {
            let variants = [c, lower(c), c.to_uppercase().next().unwrap_or(c)];
            let found = self
                .items
                .iter()
                .any(|item| variants.iter().any(|v| item.matches(*v)));
            found != self.negated
        }
    }

    fn lower(c: char) -> char {
        c.to_lowercase().next().unwrap_or(c)
    }

    pub struct Pattern {
        parsed: Option<Vec<Vec<Node>>>,
        literal: Vec<char>,
    }

    impl Pattern {
        pub fn new(text: &str) -> Pattern {
            let chars: Vec<char> = text.chars().collect();
            let mut parser = Parser {
                chars: &chars,
                pos: 0,
            };
            let parsed = parser
                .alternation()
                .ok()
                .filter(|_| parser.pos == chars.len());
            Pattern {
                parsed,
                literal: chars.iter().map(|c| lower(*c)).collect(),
            }
        }

        /// Whether the pattern matches somewhere in `text`.
        pub fn is_match(&self, text: &str) -> bool {
            let text: Vec<char> = text.chars().collect();
            match &self.parsed {
                Some(alternatives) => (0..=text.len()).any(|start| {
                    alternatives
                        .iter()
                        .any(|sequence| match_sequence(sequence, &text, start, &|_| true))
                }),
                None => {
                    let folded: Vec<char> = text.iter().map(|c| lower(*c)).collect();
                    self.literal.is_empty()
                        || folded
                            .windows(self.literal.len())
                            .any(|window| window == self.literal.as_slice())
                }
            }
        }
    }

    struct Parser<'a> {
        chars: &'a [char],
        pos: usize,
    }

    impl Parser<'_> {
        fn peek(&self) -> Option<char> {
            self.chars.get(self.pos).copied()
        }

        fn next(&mut self) -> Result<char, ()> {
            let c = self.peek().ok_or(())?;
            self.pos += 1;
            Ok(c)
        }

        fn alternation(&mut self) -> Result<Vec<Vec<Node>>, ()> {
            let mut alternatives = vec![self.sequence()?];
            while self.peek() == Some('|') {
                self.pos += 1;
                alternatives.push(self.sequence()?);
            }
            Ok(alternatives)
        }

        fn sequence(&mut self) -> Result<Vec<Node>, ()> {
            let mut sequence = Vec::new();
            while let Some(c) = self.peek() {
                if c == '|' || c == ')' {
                    break;
                }
                let atom = self.atom()?;
                sequence.push(self.quantified(atom)?);
            }
            Ok(sequence)
        }

        fn atom(&mut self) -> Result<Node, ()> {
            Ok(match self.next()? {
                '.' => Node::Any,
                '^' => Node::Start,
                '$' => Node::End,
                '(' => {
                    if self.peek() == Some('?') {
                        if self.chars.get(self.pos + 1) != Some(&':') {
                            return Err(());
                        }
                        self.pos += 2;
                    }
                    let alternatives = self.alternation()?;
                    if self.next()? != ')' {
                        return Err(());
                    }
                    Node::Group(alternatives)
                }
                '[' => Node::Class(self.class()?),
                '\\' => match self.escape()? {
                    Escaped::Char(c) => Node::Literal(c),
                    Escaped::Item(item) => Node::Class(Class {
                        items: vec![item],
                        negated: false,
                    }),
                },
                '*' | '+' | '?' => return Err(()),
                '{' if self.braces_ahead(self.pos - 1).is_some() => return Err(()),
                c => Node::Literal(c),
            })
        }

        fn escape(&mut self) -> Result<Escaped, ()> {
            Ok(match self.next()? {
                'd' => Escaped::Item(Item::Digit(false)),
                'D' => Escaped::Item(Item::Digit(true)),
                'w' => Escaped::Item(Item::Word(false)),
                'W' => Escaped::Item(Item::Word(true)),
                's' => Escaped::Item(Item::Space(false)),
                'S' => Escaped::Item(Item::Space(true)),
                'n' => Escaped::Char('\n'),
                't' => Escaped::Char('\t'),
                c if c.is_ascii_alphanumeric() => return Err(()),
                c => Escaped::Char(c),
            })
        }

        fn class(&mut self) -> Result<Class, ()> {
            let negated = self.peek() == Some('^');
            if negated {
                self.pos += 1;
            }
            let mut items = Vec::new();
            let mut first = true;
            loop {
                let c = self.next()?;
                if c == ']' && !first {
                    break;
                }
                first = false;
                let low = if c == '\\' {
                    match self.escape()? {
                        Escaped::Item(item) => {
                            items.push(item);
                            continue;
                        }
                        Escaped::Char(c) => c,
                    }
                } else {
                    c
                };
                if self.peek() == Some('-')
                    && self.chars.get(self.pos + 1).is_some_and(|c| *c != ']')
                {
                    self.pos += 1;
                    let high = match self.next()? {
                        '\\' => match self.escape()? {
                            Escaped::Char(c) => c,
                            Escaped::Item(_) => return Err(()),
                        },
                        c => c,
                    };
                    if high < low {
                        return Err(());
                    }
                    items.push(Item::Range(low, high));
                } else {
                    items.push(Item::Range(low, low));
                }
            }
            Ok(Class { items, negated })
        }

        /// `{m}`, `{m,}`, `{m,n}`, `{,n}` starting at `at`: the bounds and the position after.
        fn braces_ahead(&self, at: usize) -> Option<(usize, Option<usize>, usize)> {
            if self.chars.get(at) != Some(&'{') {
                return None;
            }
            let close = at + self.chars[at..].iter().position(|c| *c == '}')?;
            let inner: String = self.chars[at + 1..close].iter().collect();
            let number = |text: &str| -> Option<Option<usize>> {
                if text.is_empty() {
                    Some(None)
                } else if text.bytes().all(|b| b.is_ascii_digit()) {
                    text.parse().ok().map(Some)
                } else {
                    None
                }
            };
            let (min, max) = match inner.split_once(',') {
                Some((min, max)) => (number(min)?, number(max)?),
                None => {
                    let exact = number(&inner)??;
                    (Some(exact), Some(exact))
                }
            };
            let min = min.unwrap_or(0);
            if max.is_some_and(|max| max < min) {
                return None;
            }
            Some((min, max, close + 1))
        }

        fn quantified(&mut self, atom: Node) -> Result<Node, ()> {
            let (min, max) = match self.peek() {
                Some('*') => {
                    self.pos += 1;
                    (0, None)
                }
                Some('+') => {
                    self.pos += 1;
                    (1, None)
                }
                Some('?') => {
                    self.pos += 1;
                    (0, Some(1))
                }
                Some('{') => match self.braces_ahead(self.pos) {
                    Some((min, max, after)) => {
                        self.pos = after;
                        (min, max)
                    }
                    None => return Ok(atom),
                },
                _ => return Ok(atom),
            };
            let greedy = if self.peek() == Some('?') {
                self.pos += 1;
                false
            } else {
                true
            };
            if matches!(self.peek(), Some('*' | '+' | '?')) || self.braces_ahead(self.pos).is_some()
            {
                return Err(()); // "multiple repeat"
            }
            Ok(Node::Repeat {
                node: Box::new(atom),
                min,
                max,
                greedy,
            })
        }
    }

    enum Escaped {
        Char(char),
        Item(Item),
    }

    fn match_sequence(
        sequence: &[Node],
        text: &[char],
        pos: usize,
        then: &dyn Fn(usize) -> bool,
    ) -> bool {
        match sequence.split_first() {
            None => then(pos),
            Some((node, rest)) => match_node(node, text, pos, &|next| {
                match_sequence(rest, text, next, then)
            }),
        }
    }

    fn match_node(node: &Node, text: &[char], pos: usize, then: &dyn Fn(usize) -> bool) -> bool {
        match node {
            Node::Literal(c) => pos < text.len() && lower(text[pos]) == lower(*c) && then(pos + 1),
            Node::Any => pos < text.len() && text[pos] != '\n' && then(pos + 1),
            Node::Class(class) => pos < text.len() && class.matches(text[pos]) && then(pos + 1),
            Node::Start => pos == 0 && then(pos),
            Node::End => pos == text.len() && then(pos),
            Node::Group(alternatives) => alternatives
                .iter()
                .any(|sequence| match_sequence(sequence, text, pos, then)),
            Node::Repeat {
                node,
                min,
                max,
                greedy,
            } => repeat(node, *min, *max, *greedy, 0, text, pos, then),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn repeat(
        node: &Node,
        min: usize,
        max: Option<usize>,
        greedy: bool,
        count: usize,
        text: &[char],
        pos: usize,
        then: &dyn Fn(usize) -> bool,
    ) -> bool {
        let more = || {
            max.is_none_or(|max| count < max)
                && match_node(node, text, pos, &|next| {
                    // An empty iteration only counts towards the minimum (no endless loops).
                    (next != pos || count < min)
                        && repeat(node, min, max, greedy, count + 1, text, next, then)
                })
        };
        if count < min {
            return more();
        }
        // Greedy: as many as possible first; lazy: as few.
        let (first, second): (&dyn Fn() -> bool, &dyn Fn() -> bool) = if greedy {
            (&more, &|| then(pos))
        } else {
            (&|| then(pos), &more)
        };
        first() || second()
    }

    #[cfg(test)]
    mod tests {
        use super::Pattern;

        fn matches(pattern: &str, text: &str) -> bool {
            Pattern::new(pattern).is_match(text)
        }

        #[test]
        fn search_semantics_like_nova() {
            assert!(matches("web", "web-1"));
            assert!(matches("web", "my-web-2"));
            assert!(matches("WEB", "web-1"), "case-insensitive like MySQL");
            assert!(!matches("^web", "my-web-2"));
            assert!(matches("^web-[0-9]+$", "web-12"));
            assert!(!matches("^web-[0-9]+$", "web-12a"));
            assert!(matches("^(db|web)-\\d$", "db-1"));
            assert!(!matches("^(db|web)-\\d$", "app-1"));
            assert!(matches("a.c", "abc"));
            assert!(matches("^vm-0{2,}1", "vm-00001"));
            assert!(!matches("^vm-0{5}1", "vm-00001"));
            assert!(matches("x*", "anything"));
            assert!(matches("^(a*)*$", "aaaa"));
            assert!(matches("[^a-c]", "abcd"));
            assert!(!matches("^[^a-c]+$", "abc"));
            assert!(matches("10\\.10\\.1\\.", "10.10.1.11"));
            assert!(!matches("10\\.10\\.1\\.", "10.10.11.1"));
            assert!(matches("^a+?b$", "aaab"));
        }

        #[test]
        fn unparsable_patterns_match_as_text() {
            assert!(matches("web(", "a web( b"));
            assert!(!matches("web(", "web-1"));
            assert!(matches("*", "a*b"));
            assert!(matches("", "anything"));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::clock::Clock;
    use crate::fixture;
    use crate::openstack::state::{Network, Subnet, Volume};
    use crate::world::World;

    const FIXTURE: &str = include_str!("../../../../examples/sim/two-sites.yaml");

    /// Site-a of the built-in world behind the OpenStack router, with a token per role set.
    struct Twin {
        router: Router,
        ctx: SiteContext,
    }

    struct Reply {
        status: StatusCode,
        headers: HeaderMap,
        body: Value,
    }

    impl Twin {
        fn new(speed: f64) -> Twin {
            Twin::from_fixture(&fixture::parse(FIXTURE).unwrap(), speed)
        }

        fn from_fixture(fixture: &fixture::Fixture, speed: f64) -> Twin {
            let world = Arc::new(World::from_fixture(fixture, 7, Clock::new(speed)).unwrap());
            let cell = world.site("site-a").unwrap().clone();
            let ctx = SiteContext { world, cell };
            {
                let mut site = ctx.lock();
                for (id, roles) in [
                    ("admin-token", &["admin", "member"][..]),
                    ("member-token", &["member"][..]),
                    ("reader-token", &["reader"][..]),
                ] {
                    crate::openstack::testing::grant_token(&mut site, id, "protector", roles);
                }
            }
            let router = crate::openstack::router().with_state(ctx.clone());
            Twin { router, ctx }
        }

        async fn call(
            &self,
            method: &str,
            path: &str,
            headers: &[(&str, &str)],
            body: Option<Value>,
        ) -> Reply {
            let (status, headers, body) = crate::openstack::testing::call(
                &self.router,
                "twin.test",
                method,
                path,
                headers,
                body,
            )
            .await;
            Reply {
                status,
                headers,
                body,
            }
        }

        /// As the admin (`protector`) at a microversion.
        async fn nova(
            &self,
            method: &str,
            path: &str,
            version: &str,
            body: Option<Value>,
        ) -> Reply {
            self.call(
                method,
                &format!("/compute/v2.1{path}"),
                &[
                    ("x-auth-token", "admin-token"),
                    ("openstack-api-version", &format!("compute {version}")),
                ],
                body,
            )
            .await
        }

        fn server_id(&self, name: &str) -> String {
            let site = self.ctx.lock();
            site.compute
                .servers
                .values()
                .find(|server| server.name == name)
                .unwrap()
                .id
                .clone()
        }

        /// A new available volume, a copy of an existing one.
        fn volume(&self, name: &str, bootable: bool) -> String {
            let mut site = self.ctx.lock();
            let mut volume: Volume = site.block.volumes.values().next().unwrap().clone();
            let id = site.ids.uuid();
            volume.id = id.clone();
            volume.name = name.to_string();
            volume.status = VolumeStatus::Available;
            volume.attachments.clear();
            volume.bootable = bootable;
            volume.pending = None;
            site.block.volumes.insert(id.clone(), volume);
            id
        }

        fn network_id(&self, name: &str) -> String {
            let site = self.ctx.lock();
            site.network
                .networks
                .values()
                .find(|network| network.name == name)
                .unwrap()
                .id
                .clone()
        }

        /// Waits (real time) for the twin's latencies.
        async fn settle(&self, ms: u64) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }

    fn boot_body(name: &str, flavor: &str, volumes: &[&str], networks: Value) -> Value {
        let mappings: Vec<Value> = volumes
            .iter()
            .enumerate()
            .map(|(index, id)| {
                let mut mapping = json!({
                    "uuid": id, "source_type": "volume", "destination_type": "volume",
                    "delete_on_termination": false
                });
                if index == 0 {
                    mapping["boot_index"] = json!(0);
                }
                mapping
            })
            .collect();
        json!({"server": {
            "name": name, "flavorRef": flavor, "networks": networks,
            "block_device_mapping_v2": mappings, "metadata": {"protector:step": "boot"},
            "key_name": "ops", "availability_zone": "az-2",
            "security_groups": [{"name": "default"}, {"name": "web"}]
        }})
    }

    fn flavor_id(twin: &Twin, name: &str) -> String {
        let site = twin.ctx.lock();
        site.compute
            .flavors
            .values()
            .find(|flavor| flavor.name == name)
            .unwrap()
            .id
            .clone()
    }

    #[tokio::test]
    async fn version_documents_need_no_token() {
        let twin = Twin::new(1.0);
        for path in ["/compute"] {
            let reply = twin.call("GET", path, &[], None).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}");
            let versions: model::VersionsList = serde_json::from_value(reply.body).unwrap();
            assert_eq!(versions.versions[1].id, "v2.1");
            assert_eq!(versions.versions[1].version, "2.100");
            assert_eq!(
                versions.versions[1].links[0].href,
                "http://twin.test/compute/v2.1/"
            );
        }
        for path in ["/compute/v2.1", "/compute/v2.1/"] {
            let reply = twin.call("GET", path, &[], None).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}");
            assert_eq!(reply.body["version"]["min_version"], "2.1");
            assert_eq!(reply.body["version"]["max_version"], Value::Null);
            assert_eq!(reply.body["version"]["version"], "2.100");
            assert_eq!(
                reply.body["version"]["media-types"][0]["type"],
                "application/vnd.openstack.compute+json;version=2.1"
            );
        }
    }

    #[tokio::test]
    async fn microversions_are_negotiated_and_echoed() {
        let twin = Twin::new(1.0);
        let token = ("x-auth-token", "admin-token");
        let reply = twin
            .call("GET", "/compute/v2.1/servers", &[token], None)
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.headers["openstack-api-version"], "compute 2.1");
        assert_eq!(reply.headers["x-openstack-nova-api-version"], "2.1");
        let vary: Vec<&str> = reply
            .headers
            .get_all("vary")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            vary,
            ["OpenStack-API-Version", "X-OpenStack-Nova-API-Version"]
        );

        for (header, value, echoed) in [
            ("openstack-api-version", "compute 2.79", "2.79"),
            ("openstack-api-version", "volume 3.0, compute 2.60", "2.60"),
            ("x-openstack-nova-api-version", "2.37", "2.37"),
            ("openstack-api-version", "compute latest", "2.100"),
        ] {
            let reply = twin
                .call(
                    "GET",
                    "/compute/v2.1/servers",
                    &[token, (header, value)],
                    None,
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{value}");
            assert_eq!(
                reply.headers["openstack-api-version"],
                format!("compute {echoed}").as_str()
            );
            assert_eq!(reply.headers["x-openstack-nova-api-version"], echoed);
        }

        let reply = twin
            .call(
                "GET",
                "/compute/v2.1/servers",
                &[token, ("openstack-api-version", "compute 2.x")],
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body["badRequest"]["message"],
            "API Version String 2.x is of invalid format. Must be of format MajorNum.MinorNum."
        );
        for version in ["2.101", "3.0", "2.0"] {
            let reply = twin
                .call(
                    "GET",
                    "/compute/v2.1/servers",
                    &[
                        token,
                        ("openstack-api-version", &format!("compute {version}")),
                    ],
                    None,
                )
                .await;
            assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE, "{version}");
            assert_eq!(
                reply.body["computeFault"]["message"],
                format!(
                    "Version {version} is not supported by the API. Minimum is 2.1 and maximum is 2.100."
                )
            );
        }

        let reply = twin.call("GET", "/compute/v2.1/servers", &[], None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body["error"]["code"], 401);
    }

    #[tokio::test]
    async fn fixture_servers_list_show_and_page() {
        let twin = Twin::new(1.0);
        let reply = twin.nova("GET", "/servers/detail", "2.100", None).await;
        assert_eq!(reply.status, StatusCode::OK);
        let list: model::ServersDetailList = serde_json::from_value(reply.body.clone()).unwrap();
        assert_eq!(list.servers.len(), 3);
        assert!(list.servers_links.is_none());
        let db = list.servers.iter().find(|s| s.name == "db-1").unwrap();
        assert_eq!(db.status, "ACTIVE");
        assert_eq!(db.metadata["tier"], "db");
        assert_eq!(db.volumes_attached.len(), 2);
        let (network, address) = db.fixed_ips().next().unwrap();
        assert_eq!(
            (network, address.addr.as_str()),
            ("net-primary-db", "10.10.2.10")
        );
        assert!(address.mac_addr.starts_with("fa:16:3e:"));
        assert!(
            matches!(db.flavor, model::ServerFlavor::Embedded(ref f) if f.original_name == "m1.large")
        );
        assert!(db.launched_at.is_some());
        assert_eq!(
            db.host.clone().flatten().as_deref(),
            Some("site-a-compute-1")
        );
        assert_eq!(db.availability_zone, "az-1");
        assert_eq!(
            db.tags.as_deref(),
            Some(&["db".to_string(), "critical".to_string()][..])
        );
        assert_eq!(db.description, Some(Some("PostgreSQL primary".to_string())));
        assert_eq!(db.host_id.len(), 56);
        let groups: Vec<&str> = db
            .security_groups
            .iter()
            .flatten()
            .map(|g| g.name.as_str())
            .collect();
        assert_eq!(groups, ["default", "db", "db-admin"]);
        assert!(db.fault.is_none());
        assert_eq!(db.pinned_availability_zone, Some(None));
        assert_eq!(reply.body["servers"][0]["image"], "");

        // 2.1: flavor by reference, no microversioned fields.
        let reply = twin
            .nova("GET", &format!("/servers/{}", db.id), "2.1", None)
            .await;
        let show: model::ServerResponse = serde_json::from_value(reply.body.clone()).unwrap();
        assert!(matches!(
            show.server.flavor,
            model::ServerFlavor::Reference(_)
        ));
        assert!(reply.body["server"].get("locked").is_none());
        assert!(
            reply.body["server"]["os-extended-volumes:volumes_attached"][0]
                .get("delete_on_termination")
                .is_none()
        );

        // Pages of one, newest first, each with a `next` link carrying the request's parameters.
        let mut seen = Vec::new();
        let mut path = "/servers/detail?limit=1&name=-".to_string();
        loop {
            let reply = twin.nova("GET", &path, "2.100", None).await;
            let page: model::ServersDetailList = serde_json::from_value(reply.body).unwrap();
            seen.extend(page.servers.iter().map(|s| s.name.clone()));
            let Some(links) = page.servers_links else {
                break;
            };
            let href = &links[0].href;
            assert_eq!(links[0].rel, "next");
            assert!(
                href.starts_with("http://twin.test/compute/v2.1/servers/detail?limit=1&marker="),
                "{href}"
            );
            assert!(href.ends_with("&name=-"), "{href}");
            path = href
                .trim_start_matches("http://twin.test/compute/v2.1")
                .to_string();
        }
        seen.sort();
        assert_eq!(seen, ["db-1", "web-1", "web-2"]);

        let reply = twin.nova("GET", "/servers?marker=nope", "2.1", None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body["badRequest"]["message"],
            "marker [nope] not found"
        );

        let reply = twin
            .nova(
                "GET",
                "/servers/5b9f5d3c-0000-4000-8000-000000000000",
                "2.1",
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(
            reply.body,
            json!({"itemNotFound": {"code": 404, "message": "Instance 5b9f5d3c-0000-4000-8000-000000000000 could not be found."}})
        );
    }

    #[tokio::test]
    async fn filters_follow_nova() {
        let twin = Twin::new(1.0);
        let names = |reply: Reply| -> Vec<String> {
            let mut names: Vec<String> = reply.body["servers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            names(twin.nova("GET", "/servers?name=web", "2.1", None).await),
            ["web-1", "web-2"]
        );
        assert_eq!(
            names(twin.nova("GET", "/servers?name=%5Edb", "2.1", None).await),
            ["db-1"]
        );
        assert_eq!(
            names(
                twin.nova("GET", "/servers?name=WEB-%5B2-9%5D%24", "2.1", None)
                    .await
            ),
            ["web-2"]
        );
        assert_eq!(
            names(
                twin.nova(
                    "GET",
                    "/servers/detail?status=active&ip=10%5C.10%5C.1%5C.",
                    "2.1",
                    None
                )
                .await
            ),
            ["web-1", "web-2"]
        );
        assert!(
            names(
                twin.nova("GET", "/servers?status=SHUTOFF", "2.1", None)
                    .await
            )
            .is_empty()
        );
        // Unknown status: an empty list before 2.38, a 400 since.
        let reply = twin
            .nova("GET", "/servers?status=bogus", "2.37", None)
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(names(reply).is_empty());
        let reply = twin
            .nova("GET", "/servers?status=bogus", "2.38", None)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.body["badRequest"]["message"], "Invalid status value");
        // Unknown parameters: ignored before 2.75, a 400 since.
        assert_eq!(
            twin.nova("GET", "/servers?foo=1", "2.74", None)
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            twin.nova("GET", "/servers?foo=1", "2.75", None)
                .await
                .status,
            StatusCode::BAD_REQUEST
        );
        let future = (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
        assert!(
            names(
                twin.nova(
                    "GET",
                    &format!("/servers?changes-since={future}"),
                    "2.1",
                    None
                )
                .await
            )
            .is_empty()
        );
        assert_eq!(
            names(
                twin.nova(
                    "GET",
                    "/servers?changes-since=2000-01-01T00:00:00Z",
                    "2.1",
                    None
                )
                .await
            )
            .len(),
            3
        );
        let reply = twin
            .nova("GET", "/servers?changes-since=yesterday", "2.1", None)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        // all_tenants needs admin.
        let reply = twin
            .call(
                "GET",
                "/compute/v2.1/servers/detail?all_tenants=1",
                &[("x-auth-token", "member-token")],
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.body["forbidden"]["message"],
            "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants to be performed."
        );
    }

    #[tokio::test]
    async fn boot_from_volume_stop_start_delete() {
        let twin = Twin::new(200.0);
        let boot = twin.volume("app-boot", true);
        let data = twin.volume("app-data", false);
        let web = twin.network_id("net-primary-web");
        let flavor = flavor_id(&twin, "m1.small");
        // A port made beforehand, passed in as a second NIC.
        let port_id = {
            let mut site = twin.ctx.lock();
            let network = site
                .network
                .networks
                .values()
                .find(|network| network.name == "net-primary-db")
                .unwrap()
                .clone();
            let mut port = site.network.ports.values().next().unwrap().clone();
            port.id = site.ids.uuid();
            port.device_id.clear();
            port.device_owner.clear();
            port.network_id = network.id.clone();
            port.fixed_ips = vec![FixedIp {
                subnet_id: network.subnet_ids[0].clone(),
                ip_address: "10.10.2.77".to_string(),
            }];
            let id = port.id.clone();
            site.network.ports.insert(id.clone(), port);
            id
        };
        let body = boot_body(
            "app-1",
            &format!("http://twin.test/compute/flavors/{flavor}"),
            &[&boot, &data],
            json!([{"uuid": web, "fixed_ip": "10.10.1.50"}, {"port": port_id}]),
        );
        let reply = twin.nova("POST", "/servers", "2.100", Some(body)).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        let created: model::ServerCreateResponse =
            serde_json::from_value(reply.body.clone()).unwrap();
        let id = created.server.id.clone();
        assert_eq!(
            reply.headers["location"],
            format!("http://twin.test/compute/v2.1/servers/{id}").as_str()
        );
        assert_eq!(
            created.server.admin_pass.as_ref().map(String::len),
            Some(12)
        );
        assert_eq!(created.server.security_groups.as_ref().unwrap().len(), 2);

        // BUILD at once, volumes in use, ports made or bound.
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.100", None)
            .await;
        let server: model::ServerResponse = serde_json::from_value(show.body.clone()).unwrap();
        assert_eq!(server.server.status, "BUILD");
        assert_eq!(server.server.task_state.as_deref(), Some("spawning"));
        assert_eq!(
            server.server.volume_ids().collect::<Vec<_>>(),
            [boot.as_str(), data.as_str()]
        );
        {
            let site = twin.ctx.lock();
            for (volume, device) in [(&boot, "/dev/vda"), (&data, "/dev/vdb")] {
                let volume = &site.block.volumes[volume];
                assert_eq!(volume.status, VolumeStatus::InUse);
                assert_eq!(volume.attachments[0].server_id, id);
                assert_eq!(volume.attachments[0].device, device);
            }
            let server = &site.compute.servers[&id];
            assert_eq!(server.ports.len(), 2);
            let made = &site.network.ports[&server.ports[0]];
            assert_eq!(made.fixed_ips[0].ip_address, "10.10.1.50");
            assert_eq!(made.device_owner, "compute:az-2");
            assert_eq!(made.security_groups.len(), 2);
            let bound = &site.network.ports[&port_id];
            assert_eq!(bound.device_id, id);
        }

        twin.settle(250).await;
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.100", None)
            .await;
        let server: model::ServerResponse = serde_json::from_value(show.body).unwrap();
        assert_eq!(server.server.status, "ACTIVE");
        assert_eq!(server.server.power_state, 1);
        assert!(server.server.task_state.is_none());
        assert!(server.server.launched_at.is_some());
        assert_eq!(server.server.metadata["protector:step"], "boot");
        assert_eq!(
            server.server.pinned_availability_zone,
            Some(Some("az-2".to_string()))
        );
        let nets: Vec<&str> = server
            .server
            .addresses
            .0
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(nets, ["net-primary-web", "net-primary-db"]);

        // Volume attachments, old and new shapes.
        let old = twin
            .nova(
                "GET",
                &format!("/servers/{id}/os-volume_attachments"),
                "2.1",
                None,
            )
            .await;
        assert_eq!(old.body["volumeAttachments"][0]["id"], boot.as_str());
        assert_eq!(old.body["volumeAttachments"][0]["device"], "/dev/vda");
        let new = twin
            .nova(
                "GET",
                &format!("/servers/{id}/os-volume_attachments"),
                "2.89",
                None,
            )
            .await;
        let list: model::VolumeAttachmentsList = serde_json::from_value(new.body).unwrap();
        assert!(
            list.volume_attachments
                .iter()
                .all(|a| a.id.is_none() && a.attachment_id.is_some())
        );

        // Stop: powering-off, then SHUTOFF; a second stop is a conflict.
        let action = |name: &str| Some(json!({ name: null }));
        assert_eq!(
            twin.nova(
                "POST",
                &format!("/servers/{id}/action"),
                "2.1",
                action("os-stop")
            )
            .await
            .status,
            StatusCode::ACCEPTED
        );
        let again = twin
            .nova(
                "POST",
                &format!("/servers/{id}/action"),
                "2.1",
                action("os-stop"),
            )
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(
            again.body["conflictingRequest"]["message"],
            format!("Cannot 'stop' instance {id} while it is in task_state powering-off")
        );
        twin.settle(100).await;
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.1", None)
            .await;
        assert_eq!(show.body["server"]["status"], "SHUTOFF");
        assert_eq!(show.body["server"]["OS-EXT-STS:power_state"], 4);
        let again = twin
            .nova(
                "POST",
                &format!("/servers/{id}/action"),
                "2.1",
                action("os-stop"),
            )
            .await;
        assert_eq!(
            again.body["conflictingRequest"]["message"],
            format!("Cannot 'stop' instance {id} while it is in vm_state stopped")
        );
        let unknown = twin
            .nova(
                "POST",
                &format!("/servers/{id}/action"),
                "2.1",
                action("os-reboot-please"),
            )
            .await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            twin.nova(
                "POST",
                &format!("/servers/{id}/action"),
                "2.1",
                action("os-start")
            )
            .await
            .status,
            StatusCode::ACCEPTED
        );
        twin.settle(100).await;
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.1", None)
            .await;
        assert_eq!(show.body["server"]["status"], "ACTIVE");

        // Delete: 204, deleting, then gone; volumes available, ports cleaned.
        let reply = twin
            .nova("DELETE", &format!("/servers/{id}"), "2.1", None)
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.1", None)
            .await;
        assert_eq!(show.body["server"]["OS-EXT-STS:task_state"], "deleting");
        twin.settle(100).await;
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.1", None)
            .await;
        assert_eq!(show.status, StatusCode::NOT_FOUND);
        let site = twin.ctx.lock();
        for volume in [&boot, &data] {
            assert_eq!(site.block.volumes[volume].status, VolumeStatus::Available);
            assert!(site.block.volumes[volume].attachments.is_empty());
        }
        assert!(
            site.network
                .ports
                .values()
                .all(|p| p.fixed_ips[0].ip_address != "10.10.1.50")
        );
        assert_eq!(site.network.ports[&port_id].device_id, "");
        assert!(!site.compute.server_extras.contains_key(&id));
    }

    #[tokio::test]
    async fn create_failures_follow_nova() {
        let twin = Twin::new(100_000.0);
        let flavor = flavor_id(&twin, "m1.small");
        let web = twin.network_id("net-primary-web");
        let boot = twin.volume("boot", true);
        let nets = json!([{"uuid": web}]);

        // Unknown flavor: 400, nothing made.
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body("x", "no-such-flavor", &[&boot], nets.clone())),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body["badRequest"]["message"],
            "Flavor no-such-flavor could not be found."
        );
        assert_eq!(
            twin.ctx.lock().block.volumes[&boot].status,
            VolumeStatus::Available
        );

        // A volume in use: 400 from Cinder's refusal to reserve it.
        let in_use = {
            let site = twin.ctx.lock();
            site.compute
                .servers
                .values()
                .find(|s| s.name == "web-1")
                .unwrap()
                .volumes[0]
                .volume_id
                .clone()
        };
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body("x", &flavor, &[&in_use], nets.clone())),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let message = reply.body["badRequest"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("Invalid volume: Invalid input received: Invalid volume: Volume {in_use} status must be available or downloading to reserve, but the current status is in-use. (HTTP 400) (Request-ID: req-")),
            "{message}"
        );

        // Unknown volume, not bootable, bad boot sequence.
        let missing = "0d5d8e7c-0000-4000-8000-000000000000";
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body("x", &flavor, &[missing], nets.clone())),
            )
            .await;
        assert_eq!(
            reply.body["badRequest"]["message"],
            format!("Block Device Mapping is Invalid: failed to get volume {missing}.")
        );
        let plain = twin.volume("plain", false);
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body("x", &flavor, &[&plain], nets.clone())),
            )
            .await;
        assert_eq!(
            reply.body["badRequest"]["message"],
            format!("Block Device {plain} is not bootable.")
        );

        // A fixed IP in use: 400 naming the server that holds it.
        let web_1 = twin.server_id("web-1");
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body(
                    "x",
                    &flavor,
                    &[&boot],
                    json!([{"uuid": web, "fixed_ip": "10.10.1.11"}]),
                )),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body["badRequest"]["message"],
            format!("Fixed IP address 10.10.1.11 is already in use on instance {web_1}.")
        );
        // 2.37+: networks are required; an unknown network is a 400.
        let mut body = boot_body("x", &flavor, &[&boot], nets.clone());
        body["server"].as_object_mut().unwrap().remove("networks");
        let reply = twin.nova("POST", "/servers", "2.37", Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(
            reply.body["badRequest"]["message"]
                .as_str()
                .unwrap()
                .ends_with("'networks' is a required property")
        );
        let ghost = "7f0c3a1e-0000-4000-8000-000000000000";
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body("x", &flavor, &[&boot], json!([{"uuid": ghost}]))),
            )
            .await;
        assert_eq!(
            reply.body["badRequest"]["message"],
            format!("Network {ghost} could not be found.")
        );
        // A reader may not create.
        let reply = twin
            .call(
                "POST",
                "/compute/v2.1/servers",
                &[("x-auth-token", "reader-token")],
                Some(boot_body("x", &flavor, &[&boot], nets.clone())),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.body["forbidden"]["message"],
            "Policy doesn't allow os_compute_api:servers:create to be performed."
        );
        assert_eq!(
            twin.ctx.lock().compute.servers.len(),
            3,
            "no failed request left a server"
        );

        // A full network: accepted, then ERROR with Nova's build-abort fault; volumes freed.
        let full = {
            let mut site = twin.ctx.lock();
            let mut network: Network = site.network.networks.values().next().unwrap().clone();
            let mut subnet: Subnet = site.network.subnets.values().next().unwrap().clone();
            network.id = site.ids.uuid();
            network.name = "net-full".to_string();
            subnet.id = site.ids.uuid();
            subnet.network_id = network.id.clone();
            subnet.cidr = "10.99.0.0/29".to_string();
            subnet.gateway_ip = Some("10.99.0.1".to_string());
            subnet.allocation_pools = vec![("10.99.0.2".to_string(), "10.99.0.2".to_string())];
            network.subnet_ids = vec![subnet.id.clone()];
            let mut port = site.network.ports.values().next().unwrap().clone();
            port.id = site.ids.uuid();
            port.network_id = network.id.clone();
            port.fixed_ips = vec![FixedIp {
                subnet_id: subnet.id.clone(),
                ip_address: "10.99.0.2".to_string(),
            }];
            site.network.ports.insert(port.id.clone(), port);
            site.network.subnets.insert(subnet.id.clone(), subnet);
            let id = network.id.clone();
            site.network.networks.insert(id.clone(), network);
            id
        };
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body(
                    "full",
                    &flavor,
                    &[&boot],
                    json!([{"uuid": full}]),
                )),
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        let id = reply.body["server"]["id"].as_str().unwrap().to_string();
        {
            // While it builds, its volume is attached (on a loaded machine the modelled boot
            // may already be over: then the failed build has detached it again).
            let site = twin.ctx.lock();
            if site.compute.servers[&id].status == ServerStatus::Build {
                assert_eq!(site.block.volumes[&boot].status, VolumeStatus::InUse);
            }
        }
        twin.settle(20).await;
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.1", None)
            .await;
        assert_eq!(show.body["server"]["status"], "ERROR");
        assert_eq!(show.body["server"]["fault"]["code"], 500);
        assert_eq!(
            show.body["server"]["fault"]["message"],
            format!(
                "Build of instance {id} aborted: Failed to allocate the network(s) with error No fixed IP addresses available for network: {full}, not rescheduling."
            )
        );
        assert_eq!(show.body["server"]["hostId"], "");
        assert_eq!(show.body["server"]["addresses"], json!({}));
        assert_eq!(
            twin.ctx.lock().block.volumes[&boot].status,
            VolumeStatus::Available
        );
        // A fixed IP Neutron refuses (the gateway): rescheduled until no host is left.
        let other = twin.volume("boot-2", true);
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body(
                    "gw",
                    &flavor,
                    &[&other],
                    json!([{"uuid": web, "fixed_ip": "10.10.1.1"}]),
                )),
            )
            .await;
        let gw = reply.body["server"]["id"].as_str().unwrap().to_string();
        twin.settle(20).await;
        let show = twin
            .nova("GET", &format!("/servers/{gw}"), "2.1", None)
            .await;
        assert_eq!(
            show.body["server"]["fault"]["message"],
            format!(
                "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance {gw}."
            )
        );
        // An ERROR server can be deleted; its (already freed) volumes stay available.
        assert_eq!(
            twin.nova("DELETE", &format!("/servers/{id}"), "2.1", None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        twin.settle(20).await;
        assert_eq!(
            twin.nova("GET", &format!("/servers/{id}"), "2.1", None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            twin.ctx.lock().block.volumes[&boot].status,
            VolumeStatus::Available
        );
    }

    #[tokio::test]
    async fn metadata_flavors_and_zones() {
        let twin = Twin::new(1.0);
        let id = twin.server_id("web-1");
        let path = format!("/servers/{id}/metadata");
        let reply = twin.nova("GET", &path, "2.1", None).await;
        assert_eq!(reply.body, json!({"metadata": {"tier": "web"}}));
        let reply = twin
            .nova(
                "POST",
                &path,
                "2.1",
                Some(json!({"metadata": {"owner": "ops"}})),
            )
            .await;
        assert_eq!(
            reply.body,
            json!({"metadata": {"owner": "ops", "tier": "web"}})
        );
        let reply = twin
            .nova(
                "PUT",
                &format!("{path}/owner"),
                "2.1",
                Some(json!({"meta": {"owner": "dr"}})),
            )
            .await;
        assert_eq!(reply.body, json!({"meta": {"owner": "dr"}}));
        let reply = twin
            .nova(
                "PUT",
                &format!("{path}/owner"),
                "2.1",
                Some(json!({"meta": {"other": "dr"}})),
            )
            .await;
        assert_eq!(
            reply.body["badRequest"]["message"],
            "Request body and URI mismatch"
        );
        let reply = twin
            .nova("GET", &format!("{path}/owner"), "2.1", None)
            .await;
        assert_eq!(reply.body, json!({"meta": {"owner": "dr"}}));
        assert_eq!(
            twin.nova("DELETE", &format!("{path}/owner"), "2.1", None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        let reply = twin
            .nova("GET", &format!("{path}/owner"), "2.1", None)
            .await;
        assert_eq!(
            reply.body,
            json!({"itemNotFound": {"code": 404, "message": "Metadata item was not found"}})
        );
        let reply = twin
            .nova("PUT", &path, "2.1", Some(json!({"metadata": {"a": "1"}})))
            .await;
        assert_eq!(reply.body, json!({"metadata": {"a": "1"}}));
        let reply = twin
            .nova("PUT", &path, "2.1", Some(json!({"metadata": {"a": 1}})))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);

        let reply = twin.nova("GET", "/flavors", "2.1", None).await;
        let list: model::FlavorSummariesList = serde_json::from_value(reply.body).unwrap();
        assert_eq!(list.flavors.len(), 2);
        let reply = twin.nova("GET", "/flavors/detail", "2.1", None).await;
        assert_eq!(reply.body["flavors"][0]["swap"], "");
        let reply = twin
            .nova("GET", "/flavors/detail?limit=1", "2.75", None)
            .await;
        let list: model::FlavorsList = serde_json::from_value(reply.body.clone()).unwrap();
        assert_eq!(reply.body["flavors"][0]["swap"], 0);
        assert_eq!(list.flavors.len(), 1);
        assert!(list.flavors_links.is_some());
        let flavor = flavor_id(&twin, "m1.large");
        let reply = twin
            .nova("GET", &format!("/flavors/{flavor}"), "2.61", None)
            .await;
        assert_eq!(reply.body["flavor"]["name"], "m1.large");
        assert_eq!(reply.body["flavor"]["extra_specs"], json!({}));
        let reply = twin.nova("GET", "/flavors/m1.large", "2.1", None).await;
        assert_eq!(
            reply.body,
            json!({"itemNotFound": {"code": 404, "message": "Flavor m1.large could not be found."}})
        );

        let reply = twin.nova("GET", "/os-availability-zone", "2.1", None).await;
        assert_eq!(
            reply.body,
            json!({"availabilityZoneInfo": [
                {"zoneName": "az-1", "zoneState": {"available": true}, "hosts": null},
                {"zoneName": "az-2", "zoneState": {"available": true}, "hosts": null}
            ]})
        );
    }

    #[tokio::test]
    async fn attach_and_detach_a_volume() {
        let twin = Twin::new(1.0);
        let id = twin.server_id("web-1");
        let extra = twin.volume("extra", false);
        let path = format!("/servers/{id}/os-volume_attachments");
        let reply = twin
            .nova(
                "POST",
                &path,
                "2.79",
                Some(json!({"volumeAttachment": {"volumeId": extra}})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["volumeAttachment"]["device"], "/dev/vdb");
        assert_eq!(
            reply.body["volumeAttachment"]["delete_on_termination"],
            false
        );
        assert_eq!(
            twin.ctx.lock().block.volumes[&extra].status,
            VolumeStatus::InUse
        );
        let reply = twin
            .nova(
                "POST",
                &path,
                "2.79",
                Some(json!({"volumeAttachment": {"volumeId": extra}})),
            )
            .await;
        assert_eq!(
            reply.body["badRequest"]["message"],
            format!("Invalid volume: volume {extra} already attached")
        );
        let reply = twin
            .nova("GET", &format!("{path}/{extra}"), "2.1", None)
            .await;
        assert_eq!(reply.body["volumeAttachment"]["serverId"], id.as_str());
        let boot = twin.ctx.lock().compute.servers[&id].volumes[0]
            .volume_id
            .clone();
        let reply = twin
            .nova("DELETE", &format!("{path}/{boot}"), "2.1", None)
            .await;
        assert_eq!(
            reply.body["badRequest"]["message"],
            "Cannot detach a root device volume"
        );
        let reply = twin
            .nova("DELETE", &format!("{path}/{extra}"), "2.1", None)
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        assert_eq!(
            twin.ctx.lock().block.volumes[&extra].status,
            VolumeStatus::Available
        );
        let reply = twin
            .nova("GET", &format!("{path}/{extra}"), "2.1", None)
            .await;
        assert_eq!(
            reply.body["itemNotFound"]["message"],
            format!("Instance {id} is not attached to volume {extra}")
        );
    }

    #[tokio::test]
    async fn a_thousand_servers_list_in_pages() {
        let twin = Twin::from_fixture(&fixture::generate(1000, 3), 1.0);
        let reply = twin.nova("GET", "/servers/detail", "2.100", None).await;
        let list: model::ServersDetailList = serde_json::from_value(reply.body).unwrap();
        assert_eq!(list.servers.len(), 1000);
        assert!(
            list.servers_links.is_some(),
            "a full page of max_limit has a next link"
        );
        let mut seen = HashSet::new();
        let mut path = "/servers?limit=250".to_string();
        loop {
            let reply = twin.nova("GET", &path, "2.1", None).await;
            let page: model::ServersList = serde_json::from_value(reply.body).unwrap();
            seen.extend(page.servers.into_iter().map(|s| s.id));
            match page.servers_links {
                Some(links) => {
                    path = links[0]
                        .href
                        .trim_start_matches("http://twin.test/compute/v2.1")
                        .to_string()
                }
                None => break,
            }
        }
        assert_eq!(seen.len(), 1000);
    }

    /// A boot of a new volume on net-primary-web, as the admin at `version`, with `extra` merged
    /// into the `server` object and `hints` as the scheduler hints.
    async fn boot(twin: &Twin, name: &str, version: &str, extra: Value, hints: Value) -> Reply {
        let flavor = flavor_id(twin, "m1.small");
        let web = twin.network_id("net-primary-web");
        let boot = twin.volume(&format!("{name}-boot"), true);
        let mut body = boot_body(name, &flavor, &[&boot], json!([{"uuid": web}]));
        if let (Some(server), Some(extra)) = (body["server"].as_object_mut(), extra.as_object()) {
            server.remove("availability_zone");
            server.extend(extra.clone());
        }
        if !hints.is_null() {
            body["OS-SCH-HNT:scheduler_hints"] = hints;
        }
        twin.nova("POST", "/servers", version, Some(body)).await
    }

    #[tokio::test]
    async fn key_pairs_are_listed_shown_created_imported_and_deleted() {
        let twin = Twin::new(100_000.0);
        let list = twin.nova("GET", "/os-keypairs", "2.35", None).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let ops = &list.body["keypairs"][0]["keypair"];
        assert_eq!(ops["name"], "ops");
        assert_eq!(ops["type"], "ssh");
        assert!(
            ops["public_key"]
                .as_str()
                .unwrap()
                .starts_with("ssh-ed25519 ")
        );
        assert!(ops.get("user_id").is_none(), "the list shows no owner");

        let show = twin.nova("GET", "/os-keypairs/ops", "2.10", None).await;
        assert_eq!(show.status, StatusCode::OK);
        let keypair: model::KeypairResponse = serde_json::from_value(show.body.clone()).unwrap();
        assert_eq!(keypair.keypair.deleted, Some(false));
        assert_eq!(keypair.keypair.updated_at, Some(None));
        assert!(keypair.keypair.user_id.is_some() && keypair.keypair.id.is_some());

        // An import: the fingerprint of Nova's own sample (v2.92/keypairs-import-post-*.json).
        let key = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDx8nkQv/zgGgB4rMYmIf+6A4l6Rr+o/6lHBQdW5aYd44bd8JttDCE/F/pNRr0lRE+PiqSPO8nDPHw0010JeMH9gYgnnFlyY3/OcJ02RhIPyyxYpv9FhY+2YiUkpwFOcLImyrxEsYXpD/0d3ac30bNH6Sw9JD9UZHYcpSxsIbECHw== Generated-by-Nova";
        let import = json!({"keypair": {"name": "me.and.myself@this.nice.domain.com mooh.", "type": "ssh", "public_key": key}});
        let created = twin
            .nova("POST", "/os-keypairs", "2.92", Some(import.clone()))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(
            created.body["keypair"]["fingerprint"],
            "1e:2c:9b:56:79:4b:45:77:f9:ca:7a:98:2c:b0:d5:3c"
        );
        assert!(created.body["keypair"]["user_id"].is_string());
        let again = twin
            .nova("POST", "/os-keypairs", "2.92", Some(import))
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(
            again.body["conflictingRequest"]["message"],
            "Key pair 'me.and.myself@this.nice.domain.com mooh.' already exists."
        );
        // `@` and `.` in names only from 2.92.
        let dotted = json!({"keypair": {"name": "a.b", "public_key": key}});
        let old = twin
            .nova("POST", "/os-keypairs", "2.91", Some(dotted))
            .await;
        assert_eq!(old.status, StatusCode::BAD_REQUEST);

        // Generated below 2.92 (the only copy of the private key is in the answer), refused
        // from it.
        let generate = json!({"keypair": {"name": "made"}});
        let made = twin
            .nova("POST", "/os-keypairs", "2.10", Some(generate.clone()))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let private = made.body["keypair"]["private_key"].as_str().unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
        let refused = twin
            .nova("POST", "/os-keypairs", "2.92", Some(generate))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(
            refused.body["badRequest"]["message"]
                .as_str()
                .unwrap()
                .ends_with("'public_key' is a required property"),
            "{}",
            refused.body
        );

        let deleted = twin.nova("DELETE", "/os-keypairs/made", "2.2", None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let gone = twin.nova("GET", "/os-keypairs/made", "2.2", None).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        let user_id = keypair.keypair.user_id.unwrap();
        assert_eq!(
            gone.body["itemNotFound"]["message"],
            format!("Keypair made not found for user {user_id}")
        );

        // A boot names a key pair of the caller's.
        let reply = boot(
            &twin,
            "keyless",
            "2.1",
            json!({"key_name": "nope"}),
            Value::Null,
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body["badRequest"]["message"],
            "Invalid key_name provided."
        );
    }

    #[tokio::test]
    async fn server_groups_place_their_members_and_refuse_a_full_group() {
        let twin = Twin::new(100_000.0);
        let list = twin.nova("GET", "/os-server-groups", "2.64", None).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let groups: model::ServerGroupsList = serde_json::from_value(list.body).unwrap();
        let web = &groups.server_groups[0];
        assert_eq!(web.name, "web-servers");
        assert_eq!(web.policy, Some(model::ServerGroupPolicy::AntiAffinity));
        assert_eq!(web.rules, Some(model::ServerGroupRules::default()));
        assert_eq!(web.policies, None);
        let members: HashSet<String> = web.members.iter().cloned().collect();
        assert_eq!(
            members,
            HashSet::from([twin.server_id("web-1"), twin.server_id("web-2")])
        );
        let old = twin
            .nova(
                "GET",
                &format!("/os-server-groups/{}", web.id),
                "2.13",
                None,
            )
            .await;
        assert_eq!(
            old.body["server_group"]["policies"],
            json!(["anti-affinity"])
        );
        assert_eq!(old.body["server_group"]["metadata"], json!({}));
        assert!(old.body["server_group"].get("policy").is_none());

        // Rules are for anti-affinity only; soft policies from 2.15.
        let rules = json!({"server_group": {"name": "db", "policy": "affinity", "rules": {"max_server_per_host": 2}}});
        let reply = twin
            .nova("POST", "/os-server-groups", "2.64", Some(rules))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body["badRequest"]["message"],
            "Only anti-affinity policy supports rules."
        );
        let soft = json!({"server_group": {"name": "soft", "policies": ["soft-anti-affinity"]}});
        let reply = twin
            .nova("POST", "/os-server-groups", "2.14", Some(soft.clone()))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let reply = twin
            .nova("POST", "/os-server-groups", "2.15", Some(soft))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

        // web-1 and web-2 hold one host of each zone: az-1 has one more free host for the group.
        let hint = json!({"group": web.id});
        let first = boot(
            &twin,
            "web-3",
            "2.100",
            json!({"availability_zone": "az-1"}),
            hint.clone(),
        )
        .await;
        assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
        let full = boot(
            &twin,
            "web-4",
            "2.100",
            json!({"availability_zone": "az-1"}),
            hint,
        )
        .await;
        assert_eq!(
            full.status,
            StatusCode::ACCEPTED,
            "NoValidHost is a build failure"
        );
        twin.settle(50).await;
        let first = first.body["server"]["id"].as_str().unwrap().to_string();
        let full = full.body["server"]["id"].as_str().unwrap().to_string();
        let show = twin
            .nova("GET", &format!("/servers/{first}"), "2.100", None)
            .await;
        assert_eq!(show.body["server"]["status"], "ACTIVE");
        assert_eq!(show.body["server"]["server_groups"], json!([web.id]));
        assert_eq!(show.body["server"]["OS-EXT-AZ:availability_zone"], "az-1");
        let show = twin
            .nova("GET", &format!("/servers/{full}"), "2.100", None)
            .await;
        assert_eq!(show.body["server"]["status"], "ERROR");
        assert_eq!(
            show.body["server"]["fault"]["message"],
            scheduler::NO_VALID_HOST
        );
        assert_eq!(show.body["server"]["OS-EXT-SRV-ATTR:host"], Value::Null);
        assert_eq!(show.body["server"]["hostId"], "");
        {
            let site = twin.ctx.lock();
            let volume = &site.compute.servers[&full].volumes[0].volume_id;
            assert_eq!(site.block.volumes[volume].status, VolumeStatus::Available);
            assert!(site.compute.servers[&full].ports.is_empty());
        }

        // An unknown group is a 400; a deleted server leaves its group.
        let unknown = json!({"group": "0e44cc9c-e052-415d-afbf-469b0d384170"});
        let reply = boot(&twin, "lost", "2.1", json!({}), unknown).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body["badRequest"]["message"],
            "Instance group 0e44cc9c-e052-415d-afbf-469b0d384170 could not be found."
        );
        let reply = twin
            .nova("DELETE", &format!("/servers/{full}"), "2.1", None)
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        twin.settle(50).await;
        let path = format!("/os-server-groups/{}", web.id);
        let group = twin.nova("GET", &path, "2.64", None).await;
        assert_eq!(
            group.body["server_group"]["members"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            twin.nova("DELETE", &path, "2.64", None).await.status,
            StatusCode::NO_CONTENT
        );
        let gone = twin.nova("GET", &path, "2.64", None).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn tags_are_read_written_and_filter_lists() {
        let twin = Twin::new(100_000.0);
        let db = twin.server_id("db-1");
        let tags = format!("/servers/{db}/tags");
        let old = twin.nova("GET", &tags, "2.25", None).await;
        assert_eq!(old.status, StatusCode::NOT_FOUND);
        let reply = twin.nova("GET", &tags, "2.26", None).await;
        assert_eq!(reply.body, json!({"tags": ["db", "critical"]}));

        let added = twin
            .nova("PUT", &format!("{tags}/blue"), "2.26", None)
            .await;
        assert_eq!(added.status, StatusCode::CREATED);
        assert_eq!(
            added.headers[header::LOCATION],
            format!("http://twin.test/compute/v2.1/servers/{db}/tags/blue")
        );
        let again = twin
            .nova("PUT", &format!("{tags}/blue"), "2.26", None)
            .await;
        assert_eq!(again.status, StatusCode::NO_CONTENT);
        let has = twin
            .nova("GET", &format!("{tags}/blue"), "2.26", None)
            .await;
        assert_eq!(has.status, StatusCode::NO_CONTENT);
        let missing = twin
            .nova("DELETE", &format!("{tags}/nope"), "2.26", None)
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(
            missing.body["itemNotFound"]["message"],
            format!("Instance {db} has no tag 'nope'")
        );
        let bad = twin.nova("PUT", &format!("{tags}/a,b"), "2.26", None).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);

        let replaced = twin
            .nova(
                "PUT",
                &tags,
                "2.26",
                Some(json!({"tags": ["blue", "green"]})),
            )
            .await;
        assert_eq!(replaced.body, json!({"tags": ["blue", "green"]}));
        let list = twin
            .nova("GET", "/servers?tags=blue,green", "2.26", None)
            .await;
        let names: Vec<&Value> = list.body["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["name"])
            .collect();
        assert_eq!(names, [&json!("db-1")]);
        let list = twin
            .nova("GET", "/servers?not-tags-any=web", "2.26", None)
            .await;
        assert_eq!(list.body["servers"].as_array().unwrap().len(), 1);
        let cleared = twin.nova("DELETE", &tags, "2.26", None).await;
        assert_eq!(cleared.status, StatusCode::NO_CONTENT);
        let show = twin
            .nova("GET", &format!("/servers/{db}"), "2.26", None)
            .await;
        assert_eq!(show.body["server"]["tags"], json!([]));

        // Tags and a description on create (2.52 and 2.19).
        let extra = json!({"tags": ["web", "web"], "description": "the third"});
        let created = boot(&twin, "web-3", "2.52", extra, Value::Null).await;
        assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
        let id = created.body["server"]["id"].as_str().unwrap();
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.52", None)
            .await;
        assert_eq!(show.body["server"]["tags"], json!(["web"]));
        assert_eq!(show.body["server"]["description"], "the third");
        let too_early = boot(
            &twin,
            "web-4",
            "2.51",
            json!({"tags": ["web"]}),
            Value::Null,
        )
        .await;
        assert_eq!(too_early.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn injected_faults_fail_running_servers_and_boots() {
        let twin = Twin::new(100_000.0);
        let rule = |action: Value| -> crate::faults::FaultRule {
            serde_json::from_value(json!({"site": "site-a", "action": action, "count": 1})).unwrap()
        };
        let faults = &twin.ctx.world.faults;
        faults.add(rule(json!({"kind": "server_error", "name": "web-*", "after_ms": 30, "message": "host lost"})));
        faults.add(rule(json!({"kind": "no_valid_host"})));

        // The first matching running server is taken; it fails after the delay.
        let taken = {
            let site = twin.ctx.lock();
            let failing: Vec<&String> = site
                .compute
                .server_extras
                .iter()
                .filter(|(_, extra)| extra.failing.is_some())
                .map(|(id, _)| id)
                .collect();
            assert_eq!(failing.len(), 1);
            failing[0].clone()
        };
        assert_eq!(
            twin.ctx.lock().compute.servers[&taken].status,
            ServerStatus::Active
        );
        twin.settle(60).await;
        let show = twin
            .nova("GET", &format!("/servers/{taken}"), "2.1", None)
            .await;
        assert_eq!(show.body["server"]["status"], "ERROR");
        assert_eq!(show.body["server"]["fault"]["message"], "host lost");
        assert_eq!(show.body["server"]["fault"]["code"], 500);
        let others = twin
            .ctx
            .lock()
            .compute
            .servers
            .values()
            .filter(|s| s.status == ServerStatus::Error)
            .count();
        assert_eq!(others, 1, "count 1 takes one server");

        // The next boot ends in NoValidHost, the one after runs.
        let refused = boot(&twin, "one", "2.1", json!({}), Value::Null).await;
        let runs = boot(&twin, "two", "2.1", json!({}), Value::Null).await;
        twin.settle(50).await;
        for (reply, status) in [(refused, "ERROR"), (runs, "ACTIVE")] {
            let id = reply.body["server"]["id"].as_str().unwrap();
            let show = twin
                .nova("GET", &format!("/servers/{id}"), "2.1", None)
                .await;
            assert_eq!(show.body["server"]["status"], status, "{}", show.body);
        }
        assert!(faults.list().is_empty());
    }
}
