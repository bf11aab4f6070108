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
//! `total_item_count` (see [`super::query`]). Every call but `api_version` and `login` needs
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

use std::collections::BTreeSet;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::query::{self, ListOptions, Params, QueryError};
use super::replication::{self, SnapshotOptions};
use super::state::{self, Array, PURITY_VERSION, valid_name, valid_suffix};
use crate::clock::Op;
use crate::server::SiteContext;
use crate::world::{Site, World};
use protector_wire::flasharray::{self as model, ApiError, ItemsResponse, ListResponse};
use protector_wire::ids::IdGen;

/// The newest REST minor version served: `/api/2.0` to `/api/2.56`.
pub const NEWEST_MINOR: u32 = 56;

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

// ---------------------------------------------------------------------------------------------
// Errors, sessions, bodies
// ---------------------------------------------------------------------------------------------

/// An error answer: status and the array's error body.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    error: Box<ApiError>,
}

type Reply = Result<Response, Failure>;

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>, context: Option<&str>) -> Self {
        Failure {
            status,
            error: Box::new(ApiError {
                message: message.into(),
                context: context.map(str::to_string),
                location_context: None,
            }),
        }
    }
}

/// 400 with `message` about the object `context`.
fn bad(message: impl Into<String>, context: &str) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, message, Some(context))
}

/// `DELETE` of destroyed objects: eradicates `names`, or refuses (naming the first) when any of
/// them is not destroyed yet, as the array does.
fn eradicate_destroyed(
    array: &mut Array,
    names: &[String],
    destroyed: impl Fn(&Array, &str) -> bool,
    refusal: &str,
    eradicate: impl Fn(&mut Array, &str),
) -> Reply {
    if let Some(live) = names.iter().find(|name| !destroyed(array, name)) {
        return Err(bad(refusal, live));
    }
    for name in names {
        eradicate(array, name);
    }
    Ok(StatusCode::OK.into_response())
}

/// 400 without an object.
fn bad_request(message: impl Into<String>) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, message, None)
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = model::ErrorResponse {
            errors: vec![*self.error],
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<QueryError> for Failure {
    fn from(error: QueryError) -> Self {
        Failure::new(
            StatusCode::BAD_REQUEST,
            error.message,
            error.context.as_deref(),
        )
    }
}

const INVALID_COMBINATION: &str = "Invalid combination of parameters specified.";
const INVALID_NAME: &str = "Invalid name: names are 1 to 63 letters, digits, '-' and '_', begin with a letter or digit and are not all digits.";

/// The REST version in `/api/2.N/...` must be one the array serves.
fn check_version(path: &str) -> Result<(), Failure> {
    let version = path
        .trim_start_matches("/api/")
        .split('/')
        .next()
        .unwrap_or_default();
    let served = version
        .strip_prefix("2.")
        .and_then(|minor| minor.parse::<u32>().ok())
        .is_some_and(|minor| minor <= NEWEST_MINOR && !version.ends_with('.'));
    if served {
        Ok(())
    } else {
        Err(Failure::new(
            StatusCode::NOT_FOUND,
            "Unsupported REST API version.",
            Some(version),
        ))
    }
}

/// A request on a served REST version with the `x-auth-token` of an open session.
struct Authorized;

impl FromRequestParts<SiteContext> for Authorized {
    type Rejection = Failure;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &SiteContext,
    ) -> Result<Self, Self::Rejection> {
        check_version(parts.uri.path())?;
        let token = parts
            .headers
            .get("x-auth-token")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let site = ctx.lock();
        if !token.is_empty() && site.array.sessions.contains_key(token) {
            Ok(Authorized)
        } else {
            Err(Failure::new(
                StatusCode::UNAUTHORIZED,
                "Invalid session.",
                None,
            ))
        }
    }
}

/// A JSON request body; an empty body is the type's default.
fn body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, Failure> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|error| bad_request(format!("Invalid request body: {error}.")))
}

fn items<T: Serialize>(items: Vec<T>) -> Response {
    Json(ItemsResponse { items }).into_response()
}

/// A `GET` list page of `items` (in the endpoint's natural order).
fn list<T: Serialize>(items: Vec<T>, options: &ListOptions, key: fn(&Value) -> String) -> Reply {
    let rows = items
        .into_iter()
        .map(|item| {
            let json = serde_json::to_value(&item).unwrap_or(Value::Null);
            (item, json)
        })
        .collect();
    let page = query::select(rows, options, key)?;
    let token = page.continuation_token.clone();
    let mut response = Json(ListResponse {
        continuation_token: page.continuation_token,
        items: page.items,
        more_items_remaining: page.more_items_remaining,
        total_item_count: page.total_item_count,
        total: None,
        errors: Vec::new(),
    })
    .into_response();
    if let Some(value) = token.and_then(|token| HeaderValue::from_str(&token).ok()) {
        response.headers_mut().insert("x-next-token", value);
    }
    Ok(response)
}

/// `names` (or `ids`) of a request that changes objects: required, one of the two.
fn targets_of(params: &Params) -> Result<Selector, Failure> {
    match (params.list("names"), params.list("ids")) {
        (Some(_), Some(_)) => Err(bad_request(INVALID_COMBINATION)),
        (Some(names), None) if !names.is_empty() => Ok(Selector::Names(names)),
        (None, Some(ids)) if !ids.is_empty() => Ok(Selector::Ids(ids)),
        _ => Err(bad_request("Missing required parameter: names or ids.")),
    }
}

enum Selector {
    Names(Vec<String>),
    Ids(Vec<String>),
}

impl Selector {
    /// The names selected among `(id, name)` pairs; an unknown one is `missing` (error message).
    fn resolve<'a>(
        &self,
        objects: impl Iterator<Item = (&'a str, &'a str)> + Clone,
        missing: &str,
    ) -> Result<Vec<String>, Failure> {
        match self {
            Selector::Names(names) => {
                for name in names {
                    if !objects.clone().any(|(_, n)| n == name) {
                        return Err(bad(missing, name));
                    }
                }
                Ok(names.clone())
            }
            Selector::Ids(ids) => ids
                .iter()
                .map(|id| {
                    objects
                        .clone()
                        .find(|(i, _)| i == id)
                        .map(|(_, name)| name.to_string())
                        .ok_or_else(|| bad(missing, id))
                })
                .collect(),
        }
    }
}

/// The `names`/`ids` filter of a `GET`: `None` when absent; unknown objects are errors.
fn optional_selection<'a>(
    params: &Params,
    objects: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    missing: &str,
) -> Result<Option<BTreeSet<String>>, Failure> {
    if !params.has("names") && !params.has("ids") {
        return Ok(None);
    }
    let selector = targets_of(params)?;
    Ok(Some(
        selector.resolve(objects, missing)?.into_iter().collect(),
    ))
}

/// With `destroyed=true|false` and named objects, every named one must be in that state.
fn check_destroyed_state(
    wanted: Option<bool>,
    selected: &Option<BTreeSet<String>>,
    name: &str,
    destroyed: bool,
    kind: &str,
) -> Result<(), Failure> {
    match (wanted, selected) {
        (Some(wanted), Some(selected)) if selected.contains(name) && wanted != destroyed => {
            Err(if destroyed {
                bad(format!("{kind} has been destroyed."), name)
            } else {
                bad(format!("{kind} is not destroyed."), name)
            })
        }
        _ => Ok(()),
    }
}

fn keep(wanted: Option<bool>, destroyed: bool) -> bool {
    wanted.is_none_or(|wanted| wanted == destroyed)
}

// ---------------------------------------------------------------------------------------------
// Rendering the array's state as wire models
// ---------------------------------------------------------------------------------------------

struct Render<'a> {
    array: &'a Array,
    now: Instant,
    speed: f64,
}

impl<'a> Render<'a> {
    fn new(site: &'a Site, world: &World) -> Self {
        Render {
            array: &site.array,
            now: world.clock.now(),
            speed: world.clock.speed(),
        }
    }

    fn time_remaining(&self, id: &str, destroyed: bool) -> Option<u64> {
        self.array
            .time_remaining_ms(id, destroyed, self.now, self.speed)
    }

    fn space(provisioned: u64) -> model::Space {
        model::Space {
            data_reduction: Some(1.0),
            snapshots: Some(0),
            thin_provisioning: Some(1.0),
            total_physical: Some(0),
            total_provisioned: Some(provisioned),
            total_reduction: Some(1.0),
            unique: Some(0),
            virtual_: Some(0),
            ..Default::default()
        }
    }

    /// A reference to a local volume by name (with its id when it exists here).
    fn volume_ref(&self, name: &str) -> model::Reference {
        match self.array.volumes.get(name) {
            Some(volume) => model::Reference::new(&volume.id, name),
            None => model::Reference::named(name),
        }
    }

    /// The volume a copy came from: the volume itself, or the volume a snapshot was taken of.
    fn origin(&self, source: &str) -> model::Reference {
        if self.array.volumes.contains_key(source) {
            return self.volume_ref(source);
        }
        if let Some(snapshot) = self.array.volume_snapshots.get(source) {
            return self.snapshot_source(snapshot);
        }
        let (prefix, rest) = match state::replica_source(source) {
            Some(array) => (format!("{array}:"), &source[array.len() + 1..]),
            None => (String::new(), source),
        };
        let parts: Vec<&str> = rest.split('.').collect();
        let volume = match parts.as_slice() {
            [volume, _suffix] => volume,
            [.., volume] => volume,
            [] => rest,
        };
        if prefix.is_empty() {
            self.volume_ref(volume)
        } else {
            model::Reference::named(format!("{prefix}{volume}"))
        }
    }

    /// A snapshot's `source`: on a target, the replica volume `<array>:<volume>`.
    fn snapshot_source(&self, snapshot: &state::VolumeSnapshot) -> model::Reference {
        match state::replica_source(&snapshot.name) {
            Some(array) => model::Reference::named(format!("{array}:{}", snapshot.source)),
            None => self.volume_ref(&snapshot.source),
        }
    }

    fn volume(&self, volume: &state::Volume) -> model::Volume {
        let qos = self
            .array
            .volume_qos
            .get(&volume.id)
            .copied()
            .unwrap_or_default();
        model::Volume {
            id: Some(volume.id.clone()),
            name: Some(volume.name.clone()),
            connection_count: Some(self.array.connection_count(&volume.name)),
            created: Some(volume.created),
            destroyed: Some(volume.destroyed),
            host_encryption_key_status: Some("none".to_string()),
            priority_adjustment: Some(model::PriorityAdjustment {
                priority_adjustment_operator: Some("+".to_string()),
                priority_adjustment_value: Some(0),
            }),
            provisioned: Some(volume.provisioned),
            qos: Some(model::Qos {
                bandwidth_limit: qos.bandwidth_limit,
                iops_limit: qos.iops_limit,
            }),
            serial: Some(volume.serial.clone()),
            space: Some(Self::space(volume.provisioned)),
            time_remaining: self.time_remaining(&volume.id, volume.destroyed),
            priority: Some(0),
            promotion_status: Some("promoted".to_string()),
            requested_promotion_state: Some("promoted".to_string()),
            source: volume.source.as_deref().map(|source| self.origin(source)),
            subtype: Some("regular".to_string()),
            ..Default::default()
        }
    }

    fn volume_snapshot(&self, snapshot: &state::VolumeSnapshot) -> model::VolumeSnapshot {
        model::VolumeSnapshot {
            id: Some(snapshot.id.clone()),
            name: Some(snapshot.name.clone()),
            created: Some(snapshot.created),
            destroyed: Some(snapshot.destroyed),
            provisioned: Some(snapshot.provisioned),
            source: Some(self.snapshot_source(snapshot)),
            suffix: Some(snapshot.suffix.clone()),
            time_remaining: self.time_remaining(&snapshot.id, snapshot.destroyed),
            serial: Some(snapshot.serial.clone()),
            space: Some(Self::space(snapshot.provisioned)),
            ..Default::default()
        }
    }

    fn transfer(
        id: &str,
        name: &str,
        destroyed: bool,
        transfer: Option<&state::Transfer>,
        share: f64,
    ) -> model::SnapshotTransfer {
        let moved = transfer.map(|t| (t.data_transferred() as f64 * share).round() as u64);
        model::SnapshotTransfer {
            id: Some(id.to_string()),
            name: Some(name.to_string()),
            destroyed: Some(destroyed),
            completed: transfer.and_then(|t| t.completed),
            data_transferred: moved,
            physical_bytes_written: moved,
            progress: transfer.map(|t| t.progress),
            started: transfer.map(|t| t.started),
            context: None,
        }
    }

    fn volume_snapshot_transfer(
        &self,
        snapshot: &state::VolumeSnapshot,
    ) -> model::SnapshotTransfer {
        let transfer = snapshot
            .protection_group_snapshot
            .as_ref()
            .and_then(|group| self.array.protection_group_snapshots.get(group))
            .and_then(|group| group.transfer.as_ref());
        let share = transfer.map_or(0.0, |t| {
            if t.data_total == 0 {
                0.0
            } else {
                snapshot.provisioned as f64 / t.data_total as f64
            }
        });
        Self::transfer(
            &snapshot.id,
            &snapshot.name,
            snapshot.destroyed,
            transfer,
            share,
        )
    }

    fn group(&self, group: &state::ProtectionGroup) -> model::ProtectionGroup {
        let local = group.source == self.array.name;
        let retention = |r: &state::Retention| model::RetentionPolicy {
            all_for_sec: Some(r.all_for_sec),
            days: Some(r.days as i64),
            per_day: Some(r.per_day),
            ..Default::default()
        };
        model::ProtectionGroup {
            id: Some(group.id.clone()),
            name: Some(group.name.clone()),
            destroyed: Some(group.destroyed),
            eradication_config: Some(model::ProtectionGroupEradicationConfig {
                manual_eradication: Some("enabled".to_string()),
            }),
            host_count: Some(0),
            host_group_count: Some(0),
            is_local: Some(local),
            replication_schedule: Some(model::ReplicationSchedule {
                enabled: Some(group.replication_schedule.enabled),
                frequency: Some(group.replication_schedule.frequency),
                ..Default::default()
            }),
            retention_lock: Some("unlocked".to_string()),
            snapshot_schedule: Some(model::SnapshotSchedule {
                enabled: Some(group.snapshot_schedule.enabled),
                frequency: Some(group.snapshot_schedule.frequency),
                ..Default::default()
            }),
            source: Some(if local {
                model::Reference::new(&self.array.id, &self.array.name)
            } else {
                model::Reference::named(&group.source)
            }),
            source_retention: Some(retention(&group.source_retention)),
            target_count: Some(group.targets.len() as u64),
            target_retention: Some(retention(&group.target_retention)),
            time_remaining: self.time_remaining(&group.id, group.destroyed),
            volume_count: Some(group.volumes.len() as u64),
            ..Default::default()
        }
    }

    fn group_snapshot(
        &self,
        snapshot: &state::ProtectionGroupSnapshot,
    ) -> model::ProtectionGroupSnapshot {
        let source = match self.array.protection_groups.get(&snapshot.source) {
            Some(group) => model::Reference::new(&group.id, &group.name),
            None => model::Reference::named(&snapshot.source),
        };
        model::ProtectionGroupSnapshot {
            id: Some(snapshot.id.clone()),
            name: Some(snapshot.name.clone()),
            created: Some(snapshot.created),
            destroyed: Some(snapshot.destroyed),
            eradication_config: Some(model::ProtectionGroupEradicationConfig {
                manual_eradication: Some("enabled".to_string()),
            }),
            source: Some(source),
            suffix: Some(snapshot.suffix.clone()),
            time_remaining: self.time_remaining(&snapshot.id, snapshot.destroyed),
            ..Default::default()
        }
    }

    fn target(
        &self,
        group: &state::ProtectionGroup,
        target: &state::Target,
    ) -> model::TargetProtectionGroup {
        let member_id = if target.name == self.array.name {
            Some(self.array.id.clone())
        } else {
            self.array
                .connections
                .get(&target.name)
                .map(|connection| connection.id.clone())
        };
        model::TargetProtectionGroup {
            allowed: Some(target.allowed),
            group: Some(model::Reference::new(&group.id, &group.name)),
            member: Some(model::ReferenceWithType {
                id: member_id,
                name: Some(target.name.clone()),
                resource_type: Some("arrays".to_string()),
            }),
            status: Some(
                if target.allowed {
                    "replicating"
                } else {
                    "disallowed"
                }
                .to_string(),
            ),
            context: None,
        }
    }

    fn membership(
        &self,
        group: &state::ProtectionGroup,
        member: &str,
    ) -> model::ProtectionGroupsVolumes {
        let volume = self.array.volumes.get(member);
        model::ProtectionGroupsVolumes {
            group: Some(model::Reference::new(&group.id, &group.name)),
            member: Some(model::ProtectionGroupsVolumesMember {
                id: volume.map(|v| v.id.clone()),
                name: Some(member.to_string()),
                destroyed: Some(volume.is_some_and(|v| v.destroyed)),
            }),
            context: None,
        }
    }

    fn host(&self, host: &state::Host) -> model::Host {
        model::Host {
            name: Some(host.name.clone()),
            connection_count: Some(host.connections.len() as u64),
            destroyed: Some(false),
            iqns: Some(host.iqns.clone()),
            is_local: Some(true),
            nqns: Some(host.nqns.clone()),
            personality: host.personality.clone(),
            port_connectivity: Some(model::HostPortConnectivity {
                details: Some(
                    if host.connections.is_empty() {
                        "None"
                    } else {
                        "Redundant"
                    }
                    .to_string(),
                ),
                status: Some(
                    if host.connections.is_empty() {
                        "critical"
                    } else {
                        "healthy"
                    }
                    .to_string(),
                ),
            }),
            vlan: Some("any".to_string()),
            wwns: Some(host.wwns.clone()),
            ..Default::default()
        }
    }

    fn connection(&self, host: &str, volume: &str, lun: u32) -> model::Connection {
        model::Connection {
            host: Some(model::ReferenceNoId::named(host)),
            lun: Some(u64::from(lun)),
            volume: Some(self.volume_ref(volume)),
            ..Default::default()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Versions, sessions, arrays
// ---------------------------------------------------------------------------------------------

async fn api_version() -> Json<model::ApiVersionResponse> {
    Json(model::ApiVersionResponse {
        version: (0..=NEWEST_MINOR)
            .map(|minor| format!("2.{minor}"))
            .collect(),
    })
}

async fn login(
    State(ctx): State<SiteContext>,
    parts: axum::http::Uri,
    headers: HeaderMap,
) -> Reply {
    check_version(parts.path())?;
    let token = headers
        .get("api-token")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let mut site = ctx.lock();
    let Some(user) = site.array.api_tokens.get(token).cloned() else {
        return Err(bad_request("Unable to list user for API token."));
    };
    site.array.sessions_issued += 1;
    let session = IdGen::for_site(
        site.array.sessions_issued,
        &format!("{}/session", site.name),
    )
    .uuid();
    site.array.sessions.insert(session.clone(), user.clone());
    let mut response = Json(model::UsernameResponse {
        items: vec![model::Username {
            username: Some(user),
        }],
    })
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&session) {
        response.headers_mut().insert("x-auth-token", value);
    }
    Ok(response)
}

async fn logout(
    State(ctx): State<SiteContext>,
    parts: axum::http::Uri,
    headers: HeaderMap,
) -> Reply {
    check_version(parts.path())?;
    if let Some(token) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) {
        ctx.lock().array.sessions.remove(token);
    }
    Ok(StatusCode::OK.into_response())
}

async fn not_found() -> Failure {
    Failure::new(StatusCode::NOT_FOUND, "Not found.", None)
}

async fn arrays_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let array = &site.array;
    let delay = state::ERADICATION_DELAY.as_millis() as u64;
    let item = model::Array {
        id: Some(array.id.clone()),
        name: Some(array.name.clone()),
        as_of: Some(site.clock.wall_ms()),
        banner: Some(String::new()),
        capacity: Some(state::CAPACITY),
        console_lock_enabled: Some(false),
        encryption: Some(model::ArrayEncryption {
            data_at_rest: Some(model::DataAtRest {
                algorithm: Some("AES-256-CTR".to_string()),
                enabled: Some(true),
            }),
            module_version: Some("FA-1.3".to_string()),
        }),
        eradication_config: Some(model::EradicationConfig {
            disabled_delay: Some(delay),
            enabled_delay: Some(delay),
            eradication_delay: Some(delay),
            manual_eradication: Some("all-enabled".to_string()),
        }),
        idle_timeout: Some(1_800_000),
        ntp_servers: Some(Vec::new()),
        os: Some("Purity//FA".to_string()),
        parity: Some(1.0),
        scsi_timeout: Some(60_000),
        space: Some(Render::space(array.provisioned())),
        time_zone: Some("UTC".to_string()),
        version: Some(PURITY_VERSION.to_string()),
        ..Default::default()
    };
    list(vec![item], &options, query::name_key)
}

async fn arrays_space_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let array = &site.array;
    let item = model::ArraySpace {
        id: Some(array.id.clone()),
        name: Some(array.name.clone()),
        capacity: Some(state::CAPACITY),
        capacity_installed: Some(state::CAPACITY),
        parity: Some(1.0),
        space: Some(Render::space(array.provisioned())),
        time: Some(site.clock.wall_ms()),
        ..Default::default()
    };
    list(vec![item], &options, query::name_key)
}

/// The most samples `GET /arrays/performance` answers: the newest, whatever the resolution.
const PERFORMANCE_SAMPLES: i64 = 1000;

/// Performance samples from `start_time` to `end_time` (ms, default now) every `resolution`
/// (ms, default 30 s), newest first; without `start_time`, the latest. Every value is 0: the
/// twin's volumes see no I/O.
async fn arrays_performance_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let time =
        |key: &str| -> Result<Option<i64>, Failure> { Ok(params.number(key)?.map(|ms| ms as i64)) };
    let site = ctx.lock();
    let now = site.clock.wall_ms();
    let end = time("end_time")?.unwrap_or(now).min(now);
    let resolution = time("resolution")?.unwrap_or(30_000);
    if resolution <= 0 {
        return Err(bad_request(
            "Invalid value for parameter `resolution`: must be positive.",
        ));
    }
    let start = time("start_time")?.unwrap_or(end);
    if start > end {
        return Err(bad_request(INVALID_COMBINATION));
    }
    let count = ((end - start) / resolution + 1).min(PERFORMANCE_SAMPLES);
    let rows = (0..count)
        .map(|index| model::ArrayPerformance {
            id: Some(site.array.id.clone()),
            name: Some(site.array.name.clone()),
            time: Some(end - index * resolution),
            reads_per_sec: Some(0),
            writes_per_sec: Some(0),
            mirrored_writes_per_sec: Some(0),
            read_bytes_per_sec: Some(0),
            write_bytes_per_sec: Some(0),
            mirrored_write_bytes_per_sec: Some(0),
            usec_per_read_op: Some(0),
            usec_per_write_op: Some(0),
            usec_per_mirrored_write_op: Some(0),
            queue_usec_per_read_op: Some(0),
            queue_usec_per_write_op: Some(0),
            queue_usec_per_mirrored_write_op: Some(0),
            san_usec_per_read_op: Some(0),
            san_usec_per_write_op: Some(0),
            service_usec_per_read_op: Some(0),
            service_usec_per_write_op: Some(0),
            ..Default::default()
        })
        .collect();
    list(rows, &options, |json| {
        json["time"].as_i64().unwrap_or_default().to_string()
    })
}

/// A hardware `GET` (controllers, ports, interfaces): the rows its `names` keep (400 naming an
/// unknown one), as a list answer.
fn hardware<T: Serialize>(raw: Option<&str>, rows: Vec<(String, T)>, missing: &str) -> Reply {
    let params = Params::parse(raw)?;
    let options = ListOptions::from_params(&params)?;
    let selected = optional_selection(
        &params,
        rows.iter().map(|(name, _)| (name.as_str(), name.as_str())),
        missing,
    )?;
    let rows = rows
        .into_iter()
        .filter(|(name, _)| selected.as_ref().is_none_or(|s| s.contains(name)))
        .map(|(_, row)| row)
        .collect();
    list(rows, &options, query::name_key)
}

async fn controllers_get(_: Authorized, RawQuery(raw): RawQuery) -> Reply {
    let rows = state::CONTROLLERS
        .iter()
        .map(|controller| {
            let row = model::Controller {
                name: Some(controller.name.to_string()),
                mode: Some(controller.mode.to_string()),
                model: Some("FA-X70R4".to_string()),
                status: Some("ready".to_string()),
                r#type: Some("array_controller".to_string()),
                version: Some(PURITY_VERSION.to_string()),
                ..Default::default()
            };
            (controller.name.to_string(), row)
        })
        .collect();
    hardware(raw.as_deref(), rows, "Controller does not exist.")
}

async fn ports_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let iqn = ctx.lock().array.iqn();
    let rows = state::CONTROLLERS
        .iter()
        .map(|controller| {
            let row = model::Port {
                name: Some(controller.iscsi_port.to_string()),
                iqn: Some(iqn.clone()),
                portal: Some(format!("{}:{}", controller.address, state::ISCSI_PORT)),
                ..Default::default()
            };
            (controller.iscsi_port.to_string(), row)
        })
        .collect();
    hardware(raw.as_deref(), rows, "Port does not exist.")
}

async fn network_interfaces_get(_: Authorized, RawQuery(raw): RawQuery) -> Reply {
    let rows = state::CONTROLLERS
        .iter()
        .enumerate()
        .map(|(index, controller)| {
            let name = controller.iscsi_port.to_lowercase();
            let row = model::NetworkInterface {
                name: Some(name.clone()),
                enabled: Some(true),
                eth: Some(model::NetworkInterfaceEth {
                    address: Some(controller.address.to_string()),
                    mac_address: Some(format!("24:a9:37:00:00:{index:02x}")),
                    mtu: Some(1500),
                    netmask: Some("255.0.0.0".to_string()),
                    subtype: Some("physical".to_string()),
                    ..Default::default()
                }),
                interface_type: Some("eth".to_string()),
                services: Some(vec!["iscsi".to_string()]),
                speed: Some(25_000_000_000),
                ..Default::default()
            };
            (name, row)
        })
        .collect();
    hardware(raw.as_deref(), rows, "Network interface does not exist.")
}

async fn array_connections_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let connections = &site.array.connections;
    let selected = optional_selection(
        &params,
        connections
            .values()
            .map(|c| (c.id.as_str(), c.name.as_str())),
        "Array connection does not exist.",
    )?;
    let rows = connections
        .values()
        .filter(|c| selected.as_ref().is_none_or(|s| s.contains(&c.name)))
        .map(|connection| {
            let reachable = ctx
                .world
                .site_of_array(&connection.name)
                .is_some_and(|cell| cell.is_up());
            model::ArrayConnection {
                id: Some(connection.id.clone()),
                name: Some(connection.name.clone()),
                encryption: Some("unencrypted".to_string()),
                management_address: Some(connection.management_address.clone()),
                os: Some("Purity//FA".to_string()),
                remote: Some(model::ReferenceWithType {
                    id: Some(connection.id.clone()),
                    name: Some(connection.name.clone()),
                    resource_type: Some("remote-arrays".to_string()),
                }),
                replication_addresses: Some(Vec::new()),
                replication_transport: Some("ip".to_string()),
                status: Some(
                    if reachable && connection.status == "connected" {
                        "connected"
                    } else {
                        "connecting"
                    }
                    .to_string(),
                ),
                r#type: Some(connection.r#type.clone()),
                version: Some(PURITY_VERSION.to_string()),
                ..Default::default()
            }
        })
        .collect();
    list(rows, &options, query::name_key)
}

// ---------------------------------------------------------------------------------------------
// Volumes
// ---------------------------------------------------------------------------------------------

fn volume_pairs(array: &Array) -> impl Iterator<Item = (&str, &str)> + Clone {
    array
        .volumes
        .values()
        .map(|v| (v.id.as_str(), v.name.as_str()))
}

async fn volumes_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let destroyed = params.bool("destroyed")?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let selected =
        optional_selection(&params, volume_pairs(&site.array), "Volume does not exist.")?;
    let mut rows = Vec::new();
    for volume in site.array.volumes.values() {
        check_destroyed_state(
            destroyed,
            &selected,
            &volume.name,
            volume.destroyed,
            "Volume",
        )?;
        if selected.as_ref().is_none_or(|s| s.contains(&volume.name))
            && keep(destroyed, volume.destroyed)
        {
            rows.push(render.volume(volume));
        }
    }
    list(rows, &options, query::name_key)
}

/// Checks QoS limits against the array's ranges.
fn check_qos(bandwidth: Option<u64>, iops: Option<u64>, context: &str) -> Result<(), Failure> {
    if bandwidth.is_some_and(|b| !(1_048_576..=549_755_813_888).contains(&b)) {
        return Err(bad("Invalid bandwidth limit: 1 MB/s to 512 GB/s.", context));
    }
    if iops.is_some_and(|i| !(100..=100_000_000).contains(&i)) {
        return Err(bad("Invalid IOPS limit: 100 to 100M.", context));
    }
    Ok(())
}

const MAX_PROVISIONED: u64 = 4_503_599_627_370_496;

async fn volumes_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let request: model::VolumePost = body(&bytes)?;
    let overwrite = params.flag("overwrite")?;
    let names = params
        .list("names")
        .filter(|names| !names.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: names."))?;
    let add_to_groups = params
        .list("add_to_protection_group_names")
        .unwrap_or_default();
    let copy = request.source.is_some();
    let response = {
        let mut site = ctx.lock();
        let now = ctx.world.clock.now();
        for group in &add_to_groups {
            match site.array.protection_groups.get(group) {
                None => return Err(bad("Protection group does not exist.", group)),
                Some(g) if g.source != site.array.name => {
                    return Err(bad(
                        "Cannot add volumes to a protection group replicated from another array.",
                        group,
                    ));
                }
                Some(_) => {}
            }
        }
        // Validate everything before changing anything.
        let source = match &request.source {
            Some(reference) => Some(copy_source(&site.array, reference)?),
            None => None,
        };
        let provisioned = match (&source, request.provisioned) {
            (Some(source), _) => source.provisioned,
            (None, None) => 1 << 20,
            (None, Some(0)) => {
                return Err(bad_request(
                    "Invalid provisioned size: must be at least 1 MB.",
                ));
            }
            (None, Some(size)) if size > MAX_PROVISIONED => {
                return Err(bad_request("Invalid provisioned size: at most 4 PB."));
            }
            (None, Some(size)) => size.div_ceil(512) * 512,
        };
        if let Some(qos) = &request.qos {
            check_qos(qos.bandwidth_limit, qos.iops_limit, &names[0])?;
        }
        for name in &names {
            if !valid_name(name) {
                return Err(bad(INVALID_NAME, name));
            }
            match site.array.volumes.get(name) {
                Some(existing) if overwrite && copy && existing.destroyed => {
                    return Err(bad("Volume has been destroyed.", name));
                }
                Some(_) if overwrite && copy => {}
                Some(_) => return Err(bad("Volume already exists.", name)),
                None => {}
            }
        }
        let created = site.clock.wall_ms();
        for name in &names {
            let (content, origin) = match &source {
                Some(source) => (source.content.clone(), Some(source.name.clone())),
                None => (format!("empty:{}:{name}:{created}", site.array.name), None),
            };
            if let Some(existing) = site.array.volumes.get_mut(name) {
                existing.provisioned = provisioned;
                existing.content = content;
                existing.source = origin;
            } else {
                let id = site.ids.uuid();
                let serial = site.ids.hex(24).to_uppercase();
                if let Some(source) = source.as_ref().filter(|s| !s.tags.is_empty()) {
                    site.array
                        .volume_tags
                        .insert(id.clone(), source.tags.clone());
                }
                site.array.volumes.insert(
                    name.clone(),
                    state::Volume {
                        id,
                        name: name.clone(),
                        provisioned,
                        serial,
                        created,
                        destroyed: false,
                        source: origin,
                        content,
                    },
                );
            }
            let id = site.array.volumes[name].id.clone();
            if let Some(qos) = &request.qos {
                site.array.volume_qos.insert(
                    id,
                    state::Qos {
                        bandwidth_limit: qos.bandwidth_limit,
                        iops_limit: qos.iops_limit,
                    },
                );
            }
            for group in &add_to_groups {
                let group = site
                    .array
                    .protection_groups
                    .get_mut(group)
                    .expect("checked");
                if !group.volumes.contains(name) {
                    group.volumes.push(name.clone());
                }
            }
            if request.destroyed == Some(true) {
                site.array.set_volume_destroyed(name, true, now);
            }
        }
        let render = Render::new(&site, &ctx.world);
        items(
            names
                .iter()
                .map(|name| render.volume(&site.array.volumes[name]))
                .collect(),
        )
    };
    if copy {
        tokio::time::sleep(ctx.world.clock.latency(Op::ArrayCopy)).await;
    }
    Ok(response)
}

/// What a copy copies.
struct CopySource {
    name: String,
    provisioned: u64,
    content: String,
    /// The source volume's copyable tags (the twin's snapshots have none).
    tags: Vec<state::Tag>,
}

fn copy_source(array: &Array, reference: &model::Reference) -> Result<CopySource, Failure> {
    let by_name = |name: &str| -> Result<CopySource, Failure> {
        if let Some(volume) = array.volumes.get(name) {
            if volume.destroyed {
                return Err(bad("Volume has been destroyed.", name));
            }
            return Ok(CopySource {
                name: name.to_string(),
                provisioned: volume.provisioned,
                content: volume.content.clone(),
                tags: array
                    .volume_tags
                    .get(&volume.id)
                    .into_iter()
                    .flatten()
                    .filter(|tag| tag.copyable)
                    .cloned()
                    .collect(),
            });
        }
        let Some(snapshot) = array.volume_snapshots.get(name) else {
            return Err(bad("No such volume or snapshot.", name));
        };
        if snapshot.destroyed {
            return Err(bad("Snapshot has been destroyed.", name));
        }
        let pending = snapshot
            .protection_group_snapshot
            .as_ref()
            .and_then(|group| array.protection_group_snapshots.get(group))
            .and_then(|group| group.transfer.as_ref())
            .is_some_and(|transfer| !transfer.is_complete() && transfer.peer != array.name)
            && state::replica_source(name).is_some();
        if pending {
            return Err(bad(
                "Snapshot is still being replicated to this array.",
                name,
            ));
        }
        Ok(CopySource {
            name: name.to_string(),
            provisioned: snapshot.provisioned,
            content: snapshot.content.clone(),
            tags: Vec::new(),
        })
    };
    match (&reference.name, &reference.id) {
        (Some(name), _) => by_name(name),
        (None, Some(id)) => {
            let name = array
                .volumes
                .values()
                .find(|v| &v.id == id)
                .map(|v| v.name.clone())
                .or_else(|| {
                    array
                        .volume_snapshots
                        .values()
                        .find(|s| &s.id == id)
                        .map(|s| s.name.clone())
                })
                .ok_or_else(|| bad("No such volume or snapshot.", id))?;
            by_name(&name)
        }
        (None, None) => Err(bad_request("Invalid source: give a name or an id.")),
    }
}

async fn volumes_patch(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let patch: model::VolumePatch = body(&bytes)?;
    let truncate = params.flag("truncate")?;
    let selector = targets_of(&params)?;
    if patch.name.is_some() && patch.destroyed.is_some() {
        return Err(bad_request(INVALID_COMBINATION));
    }
    let mut site = ctx.lock();
    let now = ctx.world.clock.now();
    let names = selector.resolve(volume_pairs(&site.array), "Volume does not exist.")?;
    if patch.name.is_some() && names.len() > 1 {
        return Err(bad_request(INVALID_COMBINATION));
    }
    let modifies = patch.name.is_some() || patch.provisioned.is_some() || patch.qos.is_some();
    let (bandwidth, iops) = match &patch.qos {
        Some(qos) => (limit(&qos.bandwidth_limit), limit(&qos.iops_limit)),
        None => (None, None),
    };
    check_qos(bandwidth.flatten(), iops.flatten(), &names[0])?;
    // Validate every volume first: a PATCH applies to all or to none.
    for name in &names {
        let volume = &site.array.volumes[name];
        match patch.destroyed {
            Some(true) if volume.destroyed => return Err(bad("Volume has been destroyed.", name)),
            Some(false) if modifies && volume.destroyed => {}
            _ if modifies && volume.destroyed => {
                return Err(bad("Volume has been destroyed.", name));
            }
            _ => {}
        }
        if let Some(new) = &patch.name {
            if !valid_name(new) {
                return Err(bad(INVALID_NAME, new));
            }
            if new != name && site.array.volumes.contains_key(new) {
                return Err(bad("Volume already exists.", new));
            }
        }
        if let Some(size) = patch.provisioned {
            if size == 0 || size > MAX_PROVISIONED {
                return Err(bad("Invalid provisioned size.", name));
            }
            if size < volume.provisioned && !truncate {
                return Err(bad("Implicit truncation not permitted.", name));
            }
        }
    }
    let mut changed = Vec::new();
    for name in names {
        if let Some(destroyed) = patch.destroyed {
            site.array.set_volume_destroyed(&name, destroyed, now);
        }
        if let Some(size) = patch.provisioned {
            let volume = site.array.volumes.get_mut(&name).expect("validated");
            volume.provisioned = size.div_ceil(512) * 512;
        }
        if patch.qos.is_some() {
            let id = site.array.volumes[&name].id.clone();
            let mut qos = site.array.volume_qos.get(&id).copied().unwrap_or_default();
            if let Some(bandwidth) = bandwidth {
                qos.bandwidth_limit = bandwidth;
            }
            if let Some(iops) = iops {
                qos.iops_limit = iops;
            }
            site.array.volume_qos.insert(id, qos);
        }
        let name = match &patch.name {
            Some(new) if *new != name => {
                site.array.rename_volume(&name, new);
                new.clone()
            }
            _ => name,
        };
        changed.push(name);
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        changed
            .iter()
            .map(|name| render.volume(&site.array.volumes[name]))
            .collect(),
    ))
}

/// A QoS patch value: `None` untouched, `Some(None)` unset, `Some(Some(n))` set.
fn limit(value: &Option<model::LimitPatch>) -> Option<Option<u64>> {
    match value {
        None => None,
        Some(model::LimitPatch::Limit(n)) => Some(Some(*n)),
        Some(model::LimitPatch::Unset(_)) => Some(None),
    }
}

async fn volumes_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let selector = targets_of(&params)?;
    let mut site = ctx.lock();
    let names = selector.resolve(volume_pairs(&site.array), "Volume does not exist.")?;
    eradicate_destroyed(
        &mut site.array,
        &names,
        |array, name| array.volumes[name].destroyed,
        "Volume must be destroyed before it can be eradicated.",
        Array::eradicate_volume,
    )
}

// ---------------------------------------------------------------------------------------------
// Volume tags
// ---------------------------------------------------------------------------------------------

/// The namespace of a tag given without one.
const DEFAULT_NAMESPACE: &str = "default";
/// The most tags one `PUT /volumes/tags/batch` carries.
const MAX_TAG_BATCH: usize = 30;

/// The volumes a tag request names (`resource_names` or `resource_ids`, not both); `None` when
/// it names none and may.
fn tagged_volumes(
    params: &Params,
    array: &Array,
    required: bool,
) -> Result<Option<Vec<String>>, Failure> {
    let selector = match (params.list("resource_names"), params.list("resource_ids")) {
        (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
        (Some(names), None) if !names.is_empty() => Selector::Names(names),
        (None, Some(ids)) if !ids.is_empty() => Selector::Ids(ids),
        _ if required => {
            return Err(bad_request(
                "Missing required parameter: resource_names or resource_ids.",
            ));
        }
        _ => return Ok(None),
    };
    Ok(Some(
        selector.resolve(volume_pairs(array), "Volume does not exist.")?,
    ))
}

fn tag_model(volume: &state::Volume, tag: &state::Tag) -> model::Tag {
    model::Tag {
        copyable: Some(tag.copyable),
        key: Some(tag.key.clone()),
        namespace: Some(tag.namespace.clone()),
        resource: Some(model::Reference::new(&volume.id, &volume.name)),
        value: Some(tag.value.clone()),
        ..Default::default()
    }
}

fn tag_key(json: &Value) -> String {
    ["/resource/name", "/namespace", "/key"]
        .map(|pointer| {
            json.pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
        })
        .join("\t")
}

async fn volume_tags_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let namespaces = params.list("namespaces");
    let destroyed = params.bool("resource_destroyed")?;
    let site = ctx.lock();
    let array = &site.array;
    let volumes = tagged_volumes(&params, array, false)?;
    let mut rows = Vec::new();
    for volume in array.volumes.values() {
        if volumes.as_ref().is_some_and(|v| !v.contains(&volume.name))
            || !keep(destroyed, volume.destroyed)
        {
            continue;
        }
        for tag in array.volume_tags.get(&volume.id).into_iter().flatten() {
            if namespaces
                .as_ref()
                .is_none_or(|n| n.contains(&tag.namespace))
            {
                rows.push(tag_model(volume, tag));
            }
        }
    }
    list(rows, &options, tag_key)
}

/// Creates the body's tags on every named volume, or updates those whose namespace and key
/// they already have.
async fn volume_tags_put(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let batch: Vec<model::TagBatch> = body(&bytes)?;
    if batch.is_empty() || batch.len() > MAX_TAG_BATCH {
        return Err(bad_request(format!(
            "Invalid tags: give 1 to {MAX_TAG_BATCH}."
        )));
    }
    let tags = batch
        .into_iter()
        .map(|item| {
            Ok(state::Tag {
                namespace: item
                    .namespace
                    .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string()),
                key: item
                    .key
                    .filter(|key| !key.is_empty())
                    .ok_or_else(|| bad_request("Missing required field: key."))?,
                value: item.value.unwrap_or_default(),
                copyable: item.copyable.unwrap_or(true),
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let mut site = ctx.lock();
    let array = &mut site.array;
    let volumes = tagged_volumes(&params, array, true)?.unwrap_or_default();
    let mut changed = Vec::new();
    for name in &volumes {
        let volume = &array.volumes[name];
        let stored = array.volume_tags.entry(volume.id.clone()).or_default();
        for tag in &tags {
            match stored
                .iter_mut()
                .find(|t| t.namespace == tag.namespace && t.key == tag.key)
            {
                Some(existing) => *existing = tag.clone(),
                None => stored.push(tag.clone()),
            }
            changed.push(tag_model(volume, tag));
        }
    }
    Ok(items(changed))
}

/// Deletes the named volumes' tags in one namespace (`default` when not given), all of them or
/// those of `keys`.
async fn volume_tags_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let namespaces = params.list("namespaces").unwrap_or_default();
    if namespaces.len() > 1 {
        return Err(bad_request(
            "Only one namespace is allowed per delete request.",
        ));
    }
    let namespace = namespaces
        .into_iter()
        .next()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
    let keys = params.list("keys");
    let mut site = ctx.lock();
    let array = &mut site.array;
    let volumes = tagged_volumes(&params, array, true)?.unwrap_or_default();
    for name in &volumes {
        let id = &array.volumes[name].id;
        if let Some(tags) = array.volume_tags.get_mut(id) {
            tags.retain(|tag| {
                tag.namespace != namespace || keys.as_ref().is_some_and(|k| !k.contains(&tag.key))
            });
            if tags.is_empty() {
                array.volume_tags.remove(id);
            }
        }
    }
    Ok(StatusCode::OK.into_response())
}

// ---------------------------------------------------------------------------------------------
// Volume snapshots
// ---------------------------------------------------------------------------------------------

fn volume_snapshot_pairs(array: &Array) -> impl Iterator<Item = (&str, &str)> + Clone {
    array
        .volume_snapshots
        .values()
        .map(|s| (s.id.as_str(), s.name.as_str()))
}

/// The volume snapshots a `GET` selects, oldest first.
fn selected_volume_snapshots<'a>(
    params: &Params,
    render: &Render<'a>,
) -> Result<Vec<&'a state::VolumeSnapshot>, Failure> {
    let array = render.array;
    let destroyed = params.bool("destroyed")?;
    let selected = optional_selection(
        params,
        volume_snapshot_pairs(array),
        "No such volume or snapshot.",
    )?;
    let sources: Option<BTreeSet<String>> =
        match (params.list("source_names"), params.list("source_ids")) {
            (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
            (Some(names), None) => Some(names.into_iter().collect()),
            (None, Some(ids)) => Some(
                ids.iter()
                    .map(|id| {
                        array
                            .volumes
                            .values()
                            .find(|v| &v.id == id)
                            .map(|v| v.name.clone())
                            .ok_or_else(|| bad("Volume does not exist.", id))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (None, None) => None,
        };
    let mut snapshots: Vec<&state::VolumeSnapshot> = Vec::new();
    for snapshot in array.volume_snapshots.values() {
        check_destroyed_state(
            destroyed,
            &selected,
            &snapshot.name,
            snapshot.destroyed,
            "Snapshot",
        )?;
        let source = render.snapshot_source(snapshot).name.unwrap_or_default();
        if selected.as_ref().is_none_or(|s| s.contains(&snapshot.name))
            && sources.as_ref().is_none_or(|s| s.contains(&source))
            && keep(destroyed, snapshot.destroyed)
        {
            snapshots.push(snapshot);
        }
    }
    snapshots.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
    Ok(snapshots)
}

async fn volume_snapshots_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let rows = selected_volume_snapshots(&params, &render)?
        .into_iter()
        .map(|snapshot| render.volume_snapshot(snapshot))
        .collect();
    list(rows, &options, query::name_key)
}

async fn volume_snapshots_transfer_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let rows = selected_volume_snapshots(&params, &render)?
        .into_iter()
        .map(|snapshot| render.volume_snapshot_transfer(snapshot))
        .collect();
    list(rows, &options, query::name_key)
}

async fn volume_snapshots_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let request: model::VolumeSnapshotPost = body(&bytes)?;
    let response = {
        let mut site = ctx.lock();
        let sources = match (params.list("source_names"), params.list("source_ids")) {
            (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
            (Some(names), None) if !names.is_empty() => Selector::Names(names),
            (None, Some(ids)) if !ids.is_empty() => Selector::Ids(ids),
            _ => {
                return Err(bad_request(
                    "Missing required parameter: source_names or source_ids.",
                ));
            }
        }
        .resolve(volume_pairs(&site.array), "Volume does not exist.")?;
        if let Some(suffix) = &request.suffix
            && !valid_suffix(suffix)
        {
            return Err(bad("Invalid suffix.", suffix));
        }
        let mut created_names = Vec::new();
        for source in &sources {
            let volume = &site.array.volumes[source];
            if volume.destroyed {
                return Err(bad("Volume has been destroyed.", source));
            }
            let suffix = match &request.suffix {
                Some(suffix) => suffix.clone(),
                None => {
                    let prefix = format!("{source}.");
                    let next = site
                        .array
                        .volume_snapshots
                        .keys()
                        .filter_map(|name| name.strip_prefix(&prefix))
                        .filter_map(|suffix| suffix.parse::<u64>().ok())
                        .max()
                        .unwrap_or(0)
                        + 1;
                    next.to_string()
                }
            };
            let name = format!("{source}.{suffix}");
            if site.array.volume_snapshots.contains_key(&name) {
                return Err(bad("Snapshot already exists.", &name));
            }
            let (provisioned, content) = (volume.provisioned, volume.content.clone());
            let id = site.ids.uuid();
            let serial = site.ids.hex(24).to_uppercase();
            let created = site.clock.wall_ms();
            site.array.volume_snapshots.insert(
                name.clone(),
                state::VolumeSnapshot {
                    id,
                    name: name.clone(),
                    source: source.clone(),
                    suffix,
                    provisioned,
                    created,
                    destroyed: false,
                    content,
                    protection_group_snapshot: None,
                    serial,
                },
            );
            created_names.push(name);
        }
        let render = Render::new(&site, &ctx.world);
        items(
            created_names
                .iter()
                .map(|name| render.volume_snapshot(&site.array.volume_snapshots[name]))
                .collect(),
        )
    };
    tokio::time::sleep(ctx.world.clock.latency(Op::ArraySnapshot)).await;
    Ok(response)
}

async fn volume_snapshots_patch(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let patch: model::VolumeSnapshotPatch = body(&bytes)?;
    if patch.name.is_some() && patch.destroyed.is_some() {
        return Err(bad_request(INVALID_COMBINATION));
    }
    let selector = targets_of(&params)?;
    let mut site = ctx.lock();
    let now = ctx.world.clock.now();
    let names = selector.resolve(
        volume_snapshot_pairs(&site.array),
        "No such volume or snapshot.",
    )?;
    let mut changed = Vec::new();
    for name in names {
        let snapshot = &site.array.volume_snapshots[&name];
        match patch.destroyed {
            Some(true) if snapshot.destroyed => {
                return Err(bad("Snapshot has been destroyed.", &name));
            }
            Some(destroyed) => site
                .array
                .set_volume_snapshot_destroyed(&name, destroyed, now),
            None => {}
        }
        let Some(new) = &patch.name else {
            changed.push(name);
            continue;
        };
        let snapshot = &site.array.volume_snapshots[&name];
        if snapshot.destroyed {
            return Err(bad("Snapshot has been destroyed.", &name));
        }
        if state::replica_source(&name).is_some() || snapshot.protection_group_snapshot.is_some() {
            return Err(bad(
                "Cannot rename a snapshot that belongs to a protection group snapshot.",
                &name,
            ));
        }
        let prefix = format!("{}.", snapshot.source);
        let suffix = new.strip_prefix(&prefix).unwrap_or(new).to_string();
        if !valid_suffix(&suffix) {
            return Err(bad("Invalid suffix.", new));
        }
        let new_name = format!("{prefix}{suffix}");
        if new_name != name {
            if site.array.volume_snapshots.contains_key(&new_name) {
                return Err(bad("Snapshot already exists.", &new_name));
            }
            let mut snapshot = site.array.volume_snapshots.remove(&name).expect("exists");
            snapshot.name = new_name.clone();
            snapshot.suffix = suffix;
            site.array
                .volume_snapshots
                .insert(new_name.clone(), snapshot);
        }
        changed.push(new_name);
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        changed
            .iter()
            .map(|name| render.volume_snapshot(&site.array.volume_snapshots[name]))
            .collect(),
    ))
}

async fn volume_snapshots_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let selector = targets_of(&params)?;
    let mut site = ctx.lock();
    let names = selector.resolve(
        volume_snapshot_pairs(&site.array),
        "No such volume or snapshot.",
    )?;
    eradicate_destroyed(
        &mut site.array,
        &names,
        |array, name| array.volume_snapshots[name].destroyed,
        "Snapshot must be destroyed before it can be eradicated.",
        Array::eradicate_volume_snapshot,
    )
}

// ---------------------------------------------------------------------------------------------
// Protection groups
// ---------------------------------------------------------------------------------------------

fn group_pairs(array: &Array) -> impl Iterator<Item = (&str, &str)> + Clone {
    array
        .protection_groups
        .values()
        .map(|g| (g.id.as_str(), g.name.as_str()))
}

async fn groups_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let destroyed = params.bool("destroyed")?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let selected = optional_selection(
        &params,
        group_pairs(&site.array),
        "Protection group does not exist.",
    )?;
    let mut rows = Vec::new();
    for group in site.array.protection_groups.values() {
        check_destroyed_state(
            destroyed,
            &selected,
            &group.name,
            group.destroyed,
            "Protection group",
        )?;
        if selected.as_ref().is_none_or(|s| s.contains(&group.name))
            && keep(destroyed, group.destroyed)
        {
            rows.push(render.group(group));
        }
    }
    list(rows, &options, query::name_key)
}

async fn groups_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let _request: model::ProtectionGroupPost = body(&bytes)?;
    if params.has("source_names") || params.has("source_ids") {
        return Err(bad_request(
            "Copying protection groups is not supported by the simulated array.",
        ));
    }
    let names = params
        .list("names")
        .filter(|names| !names.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: names."))?;
    let mut site = ctx.lock();
    for name in &names {
        if !valid_name(name) {
            return Err(bad(INVALID_NAME, name));
        }
        if site.array.protection_groups.contains_key(name) {
            return Err(bad("Protection group already exists.", name));
        }
    }
    for name in &names {
        let id = site.ids.uuid();
        let source = site.array.name.clone();
        site.array.protection_groups.insert(
            name.clone(),
            state::ProtectionGroup {
                id,
                name: name.clone(),
                source,
                volumes: Vec::new(),
                targets: Vec::new(),
                // Purity's defaults: replicate every 4 hours, snapshot every hour, both off.
                replication_schedule: state::Schedule {
                    enabled: false,
                    frequency: 14_400_000,
                },
                snapshot_schedule: state::Schedule {
                    enabled: false,
                    frequency: 3_600_000,
                },
                source_retention: state::Retention::default(),
                target_retention: state::Retention::default(),
                destroyed: false,
                next_suffix: 1,
                next_replication: None,
            },
        );
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        names
            .iter()
            .map(|name| render.group(&site.array.protection_groups[name]))
            .collect(),
    ))
}

fn apply_retention_patch(retention: &mut state::Retention, patch: &model::RetentionPolicy) {
    if let Some(all_for_sec) = patch.all_for_sec {
        retention.all_for_sec = all_for_sec;
    }
    if let Some(per_day) = patch.per_day.or(patch.per_period) {
        retention.per_day = per_day;
    }
    if let Some(days) = patch.days {
        retention.days = days.max(0) as u64;
    }
}

async fn groups_patch(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let patch: model::ProtectionGroup = body(&bytes)?;
    if patch.name.is_some() && patch.destroyed.is_some() {
        return Err(bad_request(INVALID_COMBINATION));
    }
    let selector = targets_of(&params)?;
    let mut site = ctx.lock();
    let now = ctx.world.clock.now();
    let names = selector.resolve(group_pairs(&site.array), "Protection group does not exist.")?;
    let modifies = patch.name.is_some()
        || patch.replication_schedule.is_some()
        || patch.snapshot_schedule.is_some()
        || patch.source_retention.is_some()
        || patch.target_retention.is_some();
    for name in &names {
        let group = &site.array.protection_groups[name];
        if patch.destroyed == Some(true) && group.destroyed {
            return Err(bad("Protection group has been destroyed.", name));
        }
        if modifies && group.destroyed && patch.destroyed != Some(false) {
            return Err(bad("Protection group has been destroyed.", name));
        }
        if modifies && group.source != site.array.name {
            return Err(bad(
                "Cannot modify a protection group replicated from another array.",
                name,
            ));
        }
        if let Some(schedule) = &patch.replication_schedule
            && schedule
                .frequency
                .is_some_and(|f| f < *model::REPLICATION_FREQUENCY_MS.start())
        {
            return Err(bad(
                "Invalid replication frequency: at least 5 minutes.",
                name,
            ));
        }
        if patch.name.as_ref().is_some_and(|new| new != name) {
            return Err(bad(
                "Renaming protection groups is not supported by the simulated array.",
                name,
            ));
        }
    }
    for name in &names {
        if let Some(destroyed) = patch.destroyed {
            site.array.set_group_destroyed(name, destroyed, now);
        }
        let group = site
            .array
            .protection_groups
            .get_mut(name)
            .expect("resolved");
        if let Some(schedule) = &patch.replication_schedule {
            if let Some(enabled) = schedule.enabled {
                group.replication_schedule.enabled = enabled;
            }
            if let Some(frequency) = schedule.frequency {
                group.replication_schedule.frequency = frequency;
            }
            group.next_replication = None;
        }
        if let Some(schedule) = &patch.snapshot_schedule {
            if let Some(enabled) = schedule.enabled {
                group.snapshot_schedule.enabled = enabled;
            }
            if let Some(frequency) = schedule.frequency {
                group.snapshot_schedule.frequency = frequency;
            }
        }
        if let Some(retention) = &patch.source_retention {
            apply_retention_patch(&mut group.source_retention, retention);
        }
        if let Some(retention) = &patch.target_retention {
            apply_retention_patch(&mut group.target_retention, retention);
        }
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        names
            .iter()
            .map(|name| render.group(&site.array.protection_groups[name]))
            .collect(),
    ))
}

async fn groups_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let selector = targets_of(&params)?;
    let mut site = ctx.lock();
    let names = selector.resolve(group_pairs(&site.array), "Protection group does not exist.")?;
    eradicate_destroyed(
        &mut site.array,
        &names,
        |array, name| array.protection_groups[name].destroyed,
        "Protection group must be destroyed before it can be eradicated.",
        Array::eradicate_group,
    )
}

/// `group_names` (or `group_ids`), resolved; `None` when absent.
fn group_selection(params: &Params, array: &Array) -> Result<Option<Vec<String>>, Failure> {
    let selector = match (params.list("group_names"), params.list("group_ids")) {
        (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
        (Some(names), None) => Selector::Names(names),
        (None, Some(ids)) => Selector::Ids(ids),
        (None, None) => return Ok(None),
    };
    Ok(Some(selector.resolve(
        group_pairs(array),
        "Protection group does not exist.",
    )?))
}

fn required_groups(params: &Params, array: &Array) -> Result<Vec<String>, Failure> {
    group_selection(params, array)?
        .filter(|groups| !groups.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: group_names."))
}

/// `member_names` (or `member_ids`) of volumes, resolved; `None` when absent.
fn volume_members(params: &Params, array: &Array) -> Result<Option<Vec<String>>, Failure> {
    let selector = match (params.list("member_names"), params.list("member_ids")) {
        (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
        (Some(names), None) => Selector::Names(names),
        (None, Some(ids)) => Selector::Ids(ids),
        (None, None) => return Ok(None),
    };
    Ok(Some(
        selector.resolve(volume_pairs(array), "Volume does not exist.")?,
    ))
}

fn membership_key(json: &Value) -> String {
    format!(
        "{}\t{}",
        json.pointer("/group/name")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        json.pointer("/member/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    )
}

async fn group_volumes_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let member_destroyed = params.bool("member_destroyed")?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let groups = group_selection(&params, &site.array)?;
    let members = volume_members(&params, &site.array)?;
    let mut rows = Vec::new();
    for group in site.array.protection_groups.values() {
        if groups.as_ref().is_some_and(|g| !g.contains(&group.name)) {
            continue;
        }
        for member in &group.volumes {
            let destroyed = site.array.volumes.get(member).is_some_and(|v| v.destroyed);
            if members.as_ref().is_none_or(|m| m.contains(member))
                && keep(member_destroyed, destroyed)
            {
                rows.push(render.membership(group, member));
            }
        }
    }
    list(rows, &options, membership_key)
}

async fn group_volumes_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let mut site = ctx.lock();
    let groups = required_groups(&params, &site.array)?;
    let members = volume_members(&params, &site.array)?
        .filter(|members| !members.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: member_names."))?;
    for group in &groups {
        let group = &site.array.protection_groups[group];
        if group.destroyed {
            return Err(bad("Protection group has been destroyed.", &group.name));
        }
        if group.source != site.array.name {
            return Err(bad(
                "Cannot add members to a protection group replicated from another array.",
                &group.name,
            ));
        }
    }
    for member in &members {
        if site.array.volumes[member].destroyed {
            return Err(bad("Volume has been destroyed.", member));
        }
    }
    for group in &groups {
        let group = site
            .array
            .protection_groups
            .get_mut(group)
            .expect("resolved");
        for member in &members {
            if !group.volumes.contains(member) {
                group.volumes.push(member.clone());
            }
        }
    }
    let render = Render::new(&site, &ctx.world);
    let mut rows = Vec::new();
    for group in &groups {
        for member in &members {
            rows.push(render.membership(&site.array.protection_groups[group], member));
        }
    }
    Ok(items(rows))
}

async fn group_volumes_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let mut site = ctx.lock();
    let groups = required_groups(&params, &site.array)?;
    let members = volume_members(&params, &site.array)?
        .filter(|members| !members.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: member_names."))?;
    for group in &groups {
        let group = &site.array.protection_groups[group];
        if let Some(member) = members.iter().find(|m| !group.volumes.contains(m)) {
            return Err(bad(
                format!(
                    "Volume {member} could not be found in protection group {}.",
                    group.name
                ),
                member,
            ));
        }
    }
    for group in &groups {
        let group = site
            .array
            .protection_groups
            .get_mut(group)
            .expect("resolved");
        group.volumes.retain(|member| !members.contains(member));
    }
    Ok(StatusCode::OK.into_response())
}

// ---------------------------------------------------------------------------------------------
// Protection group targets
// ---------------------------------------------------------------------------------------------

async fn targets_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let groups = group_selection(&params, &site.array)?;
    let members = params.list("member_names");
    let mut rows = Vec::new();
    for group in site.array.protection_groups.values() {
        if groups.as_ref().is_some_and(|g| !g.contains(&group.name)) {
            continue;
        }
        for target in &group.targets {
            if members.as_ref().is_none_or(|m| m.contains(&target.name)) {
                rows.push(render.target(group, target));
            }
        }
    }
    list(rows, &options, membership_key)
}

async fn targets_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let (groups, members, source_array) = {
        let site = ctx.lock();
        let groups = required_groups(&params, &site.array)?;
        let members = params
            .list("member_names")
            .filter(|members| !members.is_empty())
            .ok_or_else(|| bad_request("Missing required parameter: member_names."))?;
        for group in &groups {
            let group = &site.array.protection_groups[group];
            if group.source != site.array.name {
                return Err(bad(
                    "Cannot add targets to a protection group replicated from another array.",
                    &group.name,
                ));
            }
            if group.destroyed {
                return Err(bad("Protection group has been destroyed.", &group.name));
            }
            for member in &members {
                if !site.array.connections.contains_key(member) {
                    return Err(bad("Array does not exist.", member));
                }
                if group.targets.iter().any(|t| &t.name == member) {
                    return Err(bad(
                        format!("Protection group {} already includes {member}.", group.name),
                        member,
                    ));
                }
            }
        }
        (groups, members, site.array.name.clone())
    };
    // The target learns of the group at once (one site lock at a time).
    let mut allowed = Vec::new();
    for member in &members {
        for group in &groups {
            let ok = match ctx.world.site_of_array(member) {
                Some(cell) => {
                    let mut target = cell.lock(&ctx.world);
                    replication::ensure_replica_group(&mut target, &source_array, group)
                }
                None => false,
            };
            allowed.push((group.clone(), member.clone(), ok));
        }
    }
    let mut site = ctx.lock();
    for (group, member, ok) in &allowed {
        if let Some(group) = site.array.protection_groups.get_mut(group)
            && !group.targets.iter().any(|t| &t.name == member)
        {
            group.targets.push(state::Target {
                name: member.clone(),
                allowed: *ok,
            });
        }
    }
    let render = Render::new(&site, &ctx.world);
    let mut rows = Vec::new();
    for (group, member, _) in &allowed {
        let group = &site.array.protection_groups[group];
        if let Some(target) = group.targets.iter().find(|t| &t.name == member) {
            rows.push(render.target(group, target));
        }
    }
    Ok(items(rows))
}

async fn targets_patch(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let patch: model::TargetProtectionGroupPostPatch = body(&bytes)?;
    let allowed = patch
        .allowed
        .ok_or_else(|| bad_request("Missing required parameter: allowed."))?;
    let (groups, this_array) = {
        let mut site = ctx.lock();
        let groups = required_groups(&params, &site.array)?;
        let this_array = site.array.name.clone();
        for group in &groups {
            let group = &site.array.protection_groups[group];
            if group.source == this_array {
                return Err(bad(
                    "The allowed flag can only be set on the target array.",
                    &group.name,
                ));
            }
            let current = group.targets.iter().find(|t| t.name == this_array);
            if allowed && current.is_some_and(|t| t.allowed) {
                return Err(bad(
                    format!(
                        "Protection group {} is already allowed on {this_array}.",
                        group.name
                    ),
                    &group.name,
                ));
            }
        }
        for group in &groups {
            let group = site
                .array
                .protection_groups
                .get_mut(group)
                .expect("resolved");
            match group.targets.iter_mut().find(|t| t.name == this_array) {
                Some(target) => target.allowed = allowed,
                None => group.targets.push(state::Target {
                    name: this_array.clone(),
                    allowed,
                }),
            }
        }
        let groups: Vec<(String, String)> = groups
            .iter()
            .map(|name| {
                (
                    name.clone(),
                    site.array.protection_groups[name].source.clone(),
                )
            })
            .collect();
        (groups, this_array)
    };
    // Tell each source array (one site lock at a time).
    for (name, source) in &groups {
        let Some(cell) = ctx.world.site_of_array(source) else {
            continue;
        };
        let local_name = name.strip_prefix(&format!("{source}:")).unwrap_or(name);
        let mut source_site = cell.lock(&ctx.world);
        if let Some(group) = source_site.array.protection_groups.get_mut(local_name)
            && let Some(target) = group.targets.iter_mut().find(|t| t.name == this_array)
        {
            target.allowed = allowed;
        }
    }
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let rows = groups
        .iter()
        .filter_map(|(name, _)| {
            let group = &site.array.protection_groups[name];
            group
                .targets
                .iter()
                .find(|t| t.name == this_array)
                .map(|target| render.target(group, target))
        })
        .collect();
    Ok(items(rows))
}

async fn targets_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let mut site = ctx.lock();
    let groups = required_groups(&params, &site.array)?;
    let members = params
        .list("member_names")
        .filter(|members| !members.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: member_names."))?;
    for group in &groups {
        let group = &site.array.protection_groups[group];
        if let Some(member) = members
            .iter()
            .find(|m| !group.targets.iter().any(|t| &t.name == *m))
        {
            return Err(bad(
                format!(
                    "Target {member} could not be found in protection group {}.",
                    group.name
                ),
                member,
            ));
        }
    }
    for group in &groups {
        let group = site
            .array
            .protection_groups
            .get_mut(group)
            .expect("resolved");
        group.targets.retain(|t| !members.contains(&t.name));
    }
    Ok(StatusCode::OK.into_response())
}

// ---------------------------------------------------------------------------------------------
// Protection group snapshots
// ---------------------------------------------------------------------------------------------

/// The protection-group snapshots a `GET` selects, oldest first. A name in `names` may also be
/// a protection group's, selecting all its snapshots (what Cinder's driver relies on when it
/// asks `names=<array>:<pg>` for the latest replicated snapshot).
fn selected_group_snapshots<'a>(
    params: &Params,
    array: &'a Array,
) -> Result<Vec<&'a state::ProtectionGroupSnapshot>, Failure> {
    let destroyed = params.bool("destroyed")?;
    let mut names: Option<BTreeSet<String>> = None;
    let mut groups: Option<BTreeSet<String>> = None;
    match (params.list("names"), params.list("ids")) {
        (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
        (Some(requested), None) => {
            let (mut by_name, mut by_group) = (BTreeSet::new(), BTreeSet::new());
            for name in requested {
                if array.protection_group_snapshots.contains_key(&name) {
                    by_name.insert(name);
                } else if array.protection_groups.contains_key(&name) {
                    by_group.insert(name);
                } else {
                    return Err(bad("Protection group snapshot does not exist.", &name));
                }
            }
            if !by_group.is_empty() {
                groups = Some(by_group);
            }
            names = Some(by_name);
        }
        (None, Some(ids)) => {
            let selector = Selector::Ids(ids);
            let pairs = array
                .protection_group_snapshots
                .values()
                .map(|s| (s.id.as_str(), s.name.as_str()));
            names = Some(
                selector
                    .resolve(pairs, "Protection group snapshot does not exist.")?
                    .into_iter()
                    .collect(),
            );
        }
        (None, None) => {}
    }
    let sources: Option<BTreeSet<String>> =
        group_like(params, "source", array)?.map(|sources| sources.into_iter().collect());
    let mut snapshots = Vec::new();
    for snapshot in array.protection_group_snapshots.values() {
        let by_name = names.as_ref().is_some_and(|n| n.contains(&snapshot.name));
        if by_name {
            check_destroyed_state(
                destroyed,
                &names,
                &snapshot.name,
                snapshot.destroyed,
                "Protection group snapshot",
            )?;
        }
        let named = match (&names, &groups) {
            (None, None) => true,
            _ => {
                by_name
                    || groups
                        .as_ref()
                        .is_some_and(|g| g.contains(&snapshot.source))
            }
        };
        if named
            && sources
                .as_ref()
                .is_none_or(|s| s.contains(&snapshot.source))
            && keep(destroyed, snapshot.destroyed)
        {
            snapshots.push(snapshot);
        }
    }
    snapshots.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
    Ok(snapshots)
}

/// `<prefix>_names` / `<prefix>_ids` naming protection groups, resolved.
fn group_like(
    params: &Params,
    prefix: &str,
    array: &Array,
) -> Result<Option<Vec<String>>, Failure> {
    let selector = match (
        params.list(&format!("{prefix}_names")),
        params.list(&format!("{prefix}_ids")),
    ) {
        (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
        (Some(names), None) => Selector::Names(names),
        (None, Some(ids)) => Selector::Ids(ids),
        (None, None) => return Ok(None),
    };
    Ok(Some(selector.resolve(
        group_pairs(array),
        "Protection group does not exist.",
    )?))
}

async fn group_snapshots_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let rows = selected_group_snapshots(&params, &site.array)?
        .into_iter()
        .map(|snapshot| render.group_snapshot(snapshot))
        .collect();
    list(rows, &options, query::name_key)
}

async fn group_snapshots_transfer_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let rows = selected_group_snapshots(&params, &site.array)?
        .into_iter()
        .map(|s| Render::transfer(&s.id, &s.name, s.destroyed, s.transfer.as_ref(), 1.0))
        .collect();
    list(rows, &options, query::name_key)
}

async fn group_snapshots_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let request: model::ProtectionGroupSnapshotPost = body(&bytes)?;
    let replicate = params.flag("replicate")?;
    let replicate_now = params.flag("replicate_now")?;
    let apply_retention = params.flag("apply_retention")?;
    params.bool("for_replication")?;
    if replicate && replicate_now {
        return Err(bad_request(INVALID_COMBINATION));
    }
    let (site_name, groups) = {
        let site = ctx.lock();
        let groups = group_like(&params, "source", &site.array)?
            .filter(|groups| !groups.is_empty())
            .ok_or_else(|| {
                bad_request("Missing required parameter: source_names or source_ids.")
            })?;
        (site.name.clone(), groups)
    };
    let options = SnapshotOptions {
        suffix: request.suffix.clone(),
        replicate: replicate || replicate_now,
        completed: false,
    };
    let mut taken = Vec::new();
    for group in &groups {
        let name = replication::take_snapshot(&ctx.world, &site_name, group, &options)
            .map_err(|error| bad(error.to_string(), error.context()))?;
        taken.push(name);
    }
    let response = {
        let mut site = ctx.lock();
        if apply_retention {
            let (wall_ms, now, speed) = (
                site.clock.wall_ms(),
                ctx.world.clock.now(),
                ctx.world.clock.speed(),
            );
            for group in &groups {
                let retention = site.array.protection_groups[group].source_retention.clone();
                site.array
                    .apply_retention(group, &retention, wall_ms, now, speed);
            }
        }
        let render = Render::new(&site, &ctx.world);
        items(
            taken
                .iter()
                .filter_map(|name| site.array.protection_group_snapshots.get(name))
                .map(|snapshot| render.group_snapshot(snapshot))
                .collect(),
        )
    };
    tokio::time::sleep(ctx.world.clock.latency(Op::ArraySnapshot)).await;
    Ok(response)
}

fn group_snapshot_pairs(array: &Array) -> impl Iterator<Item = (&str, &str)> + Clone {
    array
        .protection_group_snapshots
        .values()
        .map(|s| (s.id.as_str(), s.name.as_str()))
}

async fn group_snapshots_patch(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let patch: model::ProtectionGroupSnapshotPatch = body(&bytes)?;
    if patch.name.is_some() {
        return Err(bad_request(
            "Renaming protection group snapshots is not supported by the simulated array.",
        ));
    }
    let selector = targets_of(&params)?;
    let mut site = ctx.lock();
    let now = ctx.world.clock.now();
    let names = selector.resolve(
        group_snapshot_pairs(&site.array),
        "Protection group snapshot does not exist.",
    )?;
    if let Some(destroyed) = patch.destroyed {
        for name in &names {
            if destroyed && site.array.protection_group_snapshots[name].destroyed {
                return Err(bad("Protection group snapshot has been destroyed.", name));
            }
        }
        for name in &names {
            site.array
                .set_group_snapshot_destroyed(name, destroyed, now);
        }
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        names
            .iter()
            .map(|name| render.group_snapshot(&site.array.protection_group_snapshots[name]))
            .collect(),
    ))
}

async fn group_snapshots_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let selector = targets_of(&params)?;
    let mut site = ctx.lock();
    let names = selector.resolve(
        group_snapshot_pairs(&site.array),
        "Protection group snapshot does not exist.",
    )?;
    eradicate_destroyed(
        &mut site.array,
        &names,
        |array, name| array.protection_group_snapshots[name].destroyed,
        "Protection group snapshot must be destroyed before it can be eradicated.",
        Array::eradicate_group_snapshot,
    )
}

// ---------------------------------------------------------------------------------------------
// Hosts and host-volume connections
// ---------------------------------------------------------------------------------------------

fn host_pairs(array: &Array) -> impl Iterator<Item = (&str, &str)> + Clone {
    array
        .hosts
        .values()
        .map(|h| (h.name.as_str(), h.name.as_str()))
}

async fn hosts_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let selected = optional_selection(&params, host_pairs(&site.array), "Host does not exist.")?;
    let rows = site
        .array
        .hosts
        .values()
        .filter(|h| selected.as_ref().is_none_or(|s| s.contains(&h.name)))
        .map(|host| render.host(host))
        .collect();
    list(rows, &options, query::name_key)
}

/// An initiator (IQN, WWN, NQN) another host already has.
fn initiator_in_use(
    array: &Array,
    host: &str,
    iqns: &[String],
    wwns: &[String],
    nqns: &[String],
) -> Result<(), Failure> {
    for other in array.hosts.values().filter(|h| h.name != host) {
        let taken = iqns
            .iter()
            .find(|i| other.iqns.contains(i))
            .or_else(|| wwns.iter().find(|w| other.wwns.contains(w)))
            .or_else(|| nqns.iter().find(|n| other.nqns.contains(n)));
        if let Some(initiator) = taken {
            return Err(bad(
                format!("{initiator} is already in use by host {}.", other.name),
                host,
            ));
        }
    }
    Ok(())
}

async fn hosts_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let request: model::HostPost = body(&bytes)?;
    let names = params
        .list("names")
        .filter(|names| !names.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: names."))?;
    let mut site = ctx.lock();
    let (iqns, wwns, nqns) = (
        request.iqns.clone().unwrap_or_default(),
        request.wwns.clone().unwrap_or_default(),
        request.nqns.clone().unwrap_or_default(),
    );
    for name in &names {
        if !valid_name(name) {
            return Err(bad(INVALID_NAME, name));
        }
        if site.array.hosts.contains_key(name) {
            return Err(bad("Host already exists.", name));
        }
        initiator_in_use(&site.array, name, &iqns, &wwns, &nqns)?;
    }
    for name in &names {
        site.array.hosts.insert(
            name.clone(),
            state::Host {
                name: name.clone(),
                iqns: iqns.clone(),
                wwns: wwns.clone(),
                nqns: nqns.clone(),
                personality: request.personality.clone().filter(|p| !p.is_empty()),
                connections: Default::default(),
            },
        );
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        names
            .iter()
            .map(|name| render.host(&site.array.hosts[name]))
            .collect(),
    ))
}

fn merge(
    current: &[String],
    replace: &Option<Vec<String>>,
    add: &Option<Vec<String>>,
    remove: &Option<Vec<String>>,
) -> Vec<String> {
    let mut list = replace.clone().unwrap_or_else(|| current.to_vec());
    for item in add.iter().flatten() {
        if !list.contains(item) {
            list.push(item.clone());
        }
    }
    if let Some(remove) = remove {
        list.retain(|item| !remove.contains(item));
    }
    list
}

async fn hosts_patch(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let patch: model::HostPatch = body(&bytes)?;
    let names = params
        .list("names")
        .filter(|names| !names.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: names."))?;
    let mut site = ctx.lock();
    let names = Selector::Names(names).resolve(host_pairs(&site.array), "Host does not exist.")?;
    if patch.name.is_some() && names.len() > 1 {
        return Err(bad_request(INVALID_COMBINATION));
    }
    let mut updated = Vec::new();
    for name in &names {
        let host = &site.array.hosts[name];
        let iqns = merge(&host.iqns, &patch.iqns, &patch.add_iqns, &patch.remove_iqns);
        let wwns = merge(&host.wwns, &patch.wwns, &patch.add_wwns, &patch.remove_wwns);
        let nqns = merge(&host.nqns, &patch.nqns, &patch.add_nqns, &patch.remove_nqns);
        initiator_in_use(&site.array, name, &iqns, &wwns, &nqns)?;
        if let Some(new) = &patch.name {
            if !valid_name(new) {
                return Err(bad(INVALID_NAME, new));
            }
            if new != name && site.array.hosts.contains_key(new) {
                return Err(bad("Host already exists.", new));
            }
        }
        updated.push((name.clone(), iqns, wwns, nqns));
    }
    let mut changed = Vec::new();
    for (name, iqns, wwns, nqns) in updated {
        let mut host = site.array.hosts.remove(&name).expect("resolved");
        host.iqns = iqns;
        host.wwns = wwns;
        host.nqns = nqns;
        if let Some(personality) = &patch.personality {
            host.personality = Some(personality.clone()).filter(|p| !p.is_empty());
        }
        if let Some(new) = &patch.name {
            host.name = new.clone();
        }
        changed.push(host.name.clone());
        site.array.hosts.insert(host.name.clone(), host);
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        changed
            .iter()
            .map(|name| render.host(&site.array.hosts[name]))
            .collect(),
    ))
}

async fn hosts_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let names = params
        .list("names")
        .filter(|names| !names.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: names."))?;
    let mut site = ctx.lock();
    let names = Selector::Names(names).resolve(host_pairs(&site.array), "Host does not exist.")?;
    for name in &names {
        if !site.array.hosts[name].connections.is_empty() {
            return Err(bad(
                "Host cannot be deleted due to existing connections.",
                name,
            ));
        }
    }
    for name in &names {
        site.array.hosts.remove(name);
    }
    Ok(StatusCode::OK.into_response())
}

fn connection_key(json: &Value) -> String {
    format!(
        "{}\t{}",
        json.pointer("/host/name")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        json.pointer("/volume/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    )
}

/// `host_names` and `volume_names` (or `volume_ids`), resolved; `None` when absent.
type ConnectionSelection = (Option<Vec<String>>, Option<Vec<String>>);

fn connection_selection(params: &Params, array: &Array) -> Result<ConnectionSelection, Failure> {
    if params.has("host_group_names") {
        return Err(bad_request(
            "Host groups are not supported by the simulated array.",
        ));
    }
    let hosts = match params.list("host_names") {
        Some(names) => {
            Some(Selector::Names(names).resolve(host_pairs(array), "Host does not exist.")?)
        }
        None => None,
    };
    let volumes = match (params.list("volume_names"), params.list("volume_ids")) {
        (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
        (Some(names), None) => {
            Some(Selector::Names(names).resolve(volume_pairs(array), "Volume does not exist.")?)
        }
        (None, Some(ids)) => {
            Some(Selector::Ids(ids).resolve(volume_pairs(array), "Volume does not exist.")?)
        }
        (None, None) => None,
    };
    Ok((hosts, volumes))
}

async fn connections_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let (hosts, volumes) = connection_selection(&params, &site.array)?;
    let mut rows = Vec::new();
    for host in site.array.hosts.values() {
        if hosts.as_ref().is_some_and(|h| !h.contains(&host.name)) {
            continue;
        }
        for (volume, lun) in &host.connections {
            if volumes.as_ref().is_none_or(|v| v.contains(volume)) {
                rows.push(render.connection(&host.name, volume, *lun));
            }
        }
    }
    list(rows, &options, connection_key)
}

async fn connections_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let request: model::ConnectionPost = body(&bytes)?;
    let mut site = ctx.lock();
    let (hosts, volumes) = connection_selection(&params, &site.array)?;
    let hosts = hosts
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: host_names."))?;
    let volumes = volumes
        .filter(|v| !v.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: volume_names or volume_ids."))?;
    if hosts.len() > 1 && volumes.len() > 1 {
        return Err(bad_request(INVALID_COMBINATION));
    }
    if request.lun.is_some_and(|lun| !(1..=4095).contains(&lun)) {
        return Err(bad_request("Invalid LUN: 1 to 4095."));
    }
    for volume in &volumes {
        if site.array.volumes[volume].destroyed {
            return Err(bad("Volume has been destroyed.", volume));
        }
        for host in &hosts {
            if site.array.hosts[host].connections.contains_key(volume) {
                return Err(bad("Connection already exists.", volume));
            }
        }
    }
    let mut rows = Vec::new();
    for host_name in &hosts {
        for volume in &volumes {
            let host = site.array.hosts.get_mut(host_name).expect("resolved");
            let lun = match request.lun {
                Some(lun) if host.connections.values().any(|l| *l == lun) => {
                    return Err(bad(format!("LUN {lun} is already in use."), host_name));
                }
                Some(lun) => lun,
                None => (1..=4095)
                    .find(|lun| !host.connections.values().any(|l| l == lun))
                    .ok_or_else(|| bad("No free LUN.", host_name))?,
            };
            host.connections.insert(volume.clone(), lun);
            rows.push((host_name.clone(), volume.clone(), lun));
        }
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        rows.iter()
            .map(|(host, volume, lun)| render.connection(host, volume, *lun))
            .collect(),
    ))
}

async fn connections_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let mut site = ctx.lock();
    let (hosts, volumes) = connection_selection(&params, &site.array)?;
    let hosts = hosts
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: host_names."))?;
    let volumes = volumes
        .filter(|v| !v.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: volume_names or volume_ids."))?;
    for host in &hosts {
        for volume in &volumes {
            if !site.array.hosts[host].connections.contains_key(volume) {
                return Err(bad("Connection does not exist.", volume));
            }
        }
    }
    for host in &hosts {
        let host = site.array.hosts.get_mut(host).expect("resolved");
        for volume in &volumes {
            host.connections.remove(volume);
        }
    }
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::Request;
    use serde_json::json;
    use tower::ServiceExt;

    use crate::clock::Clock;
    use crate::fixture;

    /// The built-in two-site world at a speed where every modelled wait is a few microseconds,
    /// with a logged-in session on each array.
    struct Harness {
        world: Arc<World>,
        a: Router,
        b: Router,
        token_a: String,
        token_b: String,
    }

    impl Harness {
        async fn new(speed: f64) -> Harness {
            let text = include_str!("../../../../examples/sim/two-sites.yaml");
            let fixture = fixture::parse(text).unwrap();
            let world = Arc::new(World::from_fixture(&fixture, 3, Clock::new(speed)).unwrap());
            let app = |site: &str| {
                router().with_state(SiteContext {
                    world: world.clone(),
                    cell: world.site(site).unwrap().clone(),
                })
            };
            let (a, b) = (app("site-a"), app("site-b"));
            let mut harness = Harness {
                world: world.clone(),
                a,
                b,
                token_a: String::new(),
                token_b: String::new(),
            };
            harness.token_a = harness
                .login(true, &fixture.sites["site-a"].array.api_token)
                .await;
            harness.token_b = harness
                .login(false, &fixture.sites["site-b"].array.api_token)
                .await;
            harness
        }

        async fn login(&self, on_a: bool, api_token: &str) -> String {
            let router = if on_a { &self.a } else { &self.b };
            let request = Request::post("/api/2.56/login")
                .header("api-token", api_token)
                .body(Body::empty())
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.headers()["x-auth-token"]
                .to_str()
                .unwrap()
                .to_string()
        }

        /// `METHOD /api/2.56/<endpoint>` on fa-a (`on_a`) or fa-b: status and JSON body.
        async fn call(
            &self,
            on_a: bool,
            method: &str,
            endpoint: &str,
            body: Option<Value>,
        ) -> (StatusCode, Value) {
            let (router, token) = if on_a {
                (&self.a, &self.token_a)
            } else {
                (&self.b, &self.token_b)
            };
            let request = Request::builder()
                .method(method)
                .uri(format!("/api/2.56/{endpoint}"))
                .header("x-auth-token", token)
                .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            let json = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap()
            };
            (status, json)
        }

        async fn items(&self, on_a: bool, endpoint: &str) -> Vec<Value> {
            let (status, body) = self.call(on_a, "GET", endpoint, None).await;
            assert_eq!(status, StatusCode::OK, "{endpoint}: {body}");
            body["items"].as_array().unwrap().clone()
        }
    }

    fn message(body: &Value) -> &str {
        body["errors"][0]["message"].as_str().unwrap_or_default()
    }

    #[tokio::test]
    async fn every_call_needs_a_session_of_this_array() {
        let harness = Harness::new(1e6).await;
        let get = |token: &str| {
            Request::get("/api/2.56/volumes")
                .header("x-auth-token", token)
                .body(Body::empty())
                .unwrap()
        };
        let ok = harness
            .a
            .clone()
            .oneshot(get(&harness.token_a))
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let other = harness
            .a
            .clone()
            .oneshot(get(&harness.token_b))
            .await
            .unwrap();
        assert_eq!(
            other.status(),
            StatusCode::UNAUTHORIZED,
            "fa-b's session is not fa-a's"
        );
        let bad = Request::post("/api/2.56/login")
            .header("api-token", "nope")
            .body(Body::empty())
            .unwrap();
        let refused = harness.a.clone().oneshot(bad).await.unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let logout = Request::post("/api/2.3/logout")
            .header("x-auth-token", &harness.token_a)
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            harness.a.clone().oneshot(logout).await.unwrap().status(),
            StatusCode::OK
        );
        let after = harness
            .a
            .clone()
            .oneshot(get(&harness.token_a))
            .await
            .unwrap();
        assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn volumes_follow_the_array_rules() {
        let h = Harness::new(1e6).await;
        let (status, body) = h
            .call(
                true,
                "POST",
                "volumes?names=v1",
                Some(json!({"provisioned": 1000})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["items"][0]["provisioned"], 1024,
            "rounded up to 512-byte sectors"
        );
        let (_, body) = h
            .call(true, "POST", "volumes?names=v1", Some(json!({})))
            .await;
        assert_eq!(message(&body), "Volume already exists.");
        let (_, body) = h
            .call(true, "POST", "volumes?names=a.b", Some(json!({})))
            .await;
        assert!(message(&body).starts_with("Invalid name"));
        let (_, body) = h
            .call(
                true,
                "PATCH",
                "volumes?names=v1",
                Some(json!({"name": "v2", "destroyed": true})),
            )
            .await;
        assert_eq!(message(&body), INVALID_COMBINATION);
        let (_, body) = h.call(true, "DELETE", "volumes?names=v1", None).await;
        assert!(message(&body).contains("must be destroyed"));
        let (status, _) = h
            .call(
                true,
                "PATCH",
                "volumes?names=v1",
                Some(json!({"destroyed": true})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, body) = h
            .call(
                true,
                "PATCH",
                "volumes?names=v1",
                Some(json!({"name": "v2"})),
            )
            .await;
        assert_eq!(message(&body), "Volume has been destroyed.");
        let (status, body) = h.call(true, "DELETE", "volumes?names=v1", None).await;
        assert_eq!((status, body), (StatusCode::OK, Value::Null));
        let (_, body) = h.call(true, "GET", "volumes?names=v1", None).await;
        assert_eq!(message(&body), "Volume does not exist.");
        assert_eq!(body["errors"][0]["context"], "v1");
    }

    #[tokio::test]
    async fn a_replicated_snapshot_copies_into_a_volume_with_its_data() {
        let h = Harness::new(1e6).await;
        let (status, body) = h
            .call(
                true,
                "POST",
                "protection-group-snapshots?source_names=prod-web-app&replicate_now=true",
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["items"][0]["name"], "prod-web-app.2");
        // The transfer completes soon at this speed; a loaded machine may need a few looks.
        // Snapshots taken within the same millisecond tie on `started`: find ours by name.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let ours = loop {
            let latest = h
                .items(false, "protection-group-snapshots/transfer?names=fa-a:prod-web-app&destroyed=False&filter=progress%3D%221.0%22&sort=started-")
                .await;
            if let Some(ours) = latest
                .into_iter()
                .find(|transfer| transfer["name"] == "fa-a:prod-web-app.2")
            {
                break ours;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the new snapshot's transfer never completed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(ours["progress"], 1.0);
        let snapshots = h
            .items(
                false,
                "volume-snapshots?filter=name%3D%27fa-a%3Aprod-web-app.2.*%27",
            )
            .await;
        assert_eq!(snapshots.len(), 4);
        let name = snapshots[0]["name"].as_str().unwrap().to_string();
        let volume = name.rsplit('.').next().unwrap().to_string();
        let (status, body) = h
            .call(
                false,
                "POST",
                "volumes?names=restored&overwrite=true",
                Some(json!({"source": {"name": name}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["items"][0]["source"]["name"], format!("fa-a:{volume}"));
        let dump = h.world.dump();
        assert_eq!(
            dump["sites"]["site-b"]["array"]["volumes"]["restored"]["content"],
            dump["sites"]["site-a"]["array"]["volumes"][volume.as_str()]["content"]
        );
    }

    #[tokio::test]
    async fn targets_are_allowed_on_the_target_and_the_source_learns_it() {
        let h = Harness::new(1e6).await;
        let (_, body) = h
            .call(
                false,
                "PATCH",
                "protection-groups/targets?group_names=fa-a:prod-web-app",
                Some(json!({"allowed": true})),
            )
            .await;
        assert!(message(&body).contains("already allowed on"));
        let (status, _) = h
            .call(
                false,
                "PATCH",
                "protection-groups/targets?group_names=fa-a:prod-web-app",
                Some(json!({"allowed": false})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let source = h
            .items(true, "protection-groups/targets?group_names=prod-web-app")
            .await;
        assert_eq!(source[0]["allowed"], false);
        assert_eq!(source[0]["status"], "disallowed");
        // Disallowed: the next snapshot stays on the source.
        h.call(
            true,
            "POST",
            "protection-group-snapshots?source_names=prod-web-app&replicate_now=true",
            None,
        )
        .await;
        let (_, body) = h
            .call(
                false,
                "GET",
                "protection-group-snapshots?names=fa-a:prod-web-app.2",
                None,
            )
            .await;
        assert!(message(&body).contains("does not exist"));
    }

    #[tokio::test]
    async fn large_lists_come_in_pages() {
        let h = Harness::new(1e6).await;
        let names: Vec<String> = (0..2500).map(|n| format!("bulk-{n:05}")).collect();
        for chunk in names.chunks(500) {
            let (status, body) = h
                .call(
                    true,
                    "POST",
                    &format!("volumes?names={}", chunk.join(",")),
                    Some(json!({"provisioned": 1 << 30})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let started = std::time::Instant::now();
        let mut seen = 0;
        let mut token: Option<String> = None;
        loop {
            let query = token.map_or(String::new(), |t| {
                format!(
                    "?continuation_token={}",
                    t.replace('+', "%2B")
                        .replace('=', "%3D")
                        .replace('/', "%2F")
                )
            });
            let (status, body) = h.call(true, "GET", &format!("volumes{query}"), None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            seen += body["items"].as_array().unwrap().len();
            match body["continuation_token"].as_str() {
                Some(next) => token = Some(next.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, 2504);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn served_versions_are_2_0_to_2_56() {
        assert!(check_version("/api/2.0/volumes").is_ok());
        assert!(check_version("/api/2.36/login").is_ok());
        assert!(check_version("/api/2.56/volumes").is_ok());
        for path in [
            "/api/2.57/volumes",
            "/api/1.19/volume",
            "/api/2./x",
            "/api/two/x",
            "/api/2.x/x",
        ] {
            let failure = check_version(path).unwrap_err();
            assert_eq!(failure.status, StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[test]
    fn copies_come_from_the_volume_a_snapshot_was_taken_of() {
        let mut site_array = Array {
            name: "fa-b".into(),
            ..Default::default()
        };
        site_array.volumes.insert(
            "v".into(),
            state::Volume {
                id: "vid".into(),
                name: "v".into(),
                provisioned: 1,
                serial: "S".into(),
                created: 0,
                destroyed: false,
                source: None,
                content: String::new(),
            },
        );
        let render = Render {
            array: &site_array,
            now: Instant::now(),
            speed: 1.0,
        };
        assert_eq!(render.origin("v"), model::Reference::new("vid", "v"));
        assert_eq!(render.origin("v.snap1"), model::Reference::new("vid", "v"));
        assert_eq!(render.origin("pg.3.v"), model::Reference::new("vid", "v"));
        assert_eq!(
            render.origin("fa-a:pg.3.volume-x-cinder"),
            model::Reference::named("fa-a:volume-x-cinder")
        );
    }
}
