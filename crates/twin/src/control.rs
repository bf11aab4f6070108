//! The control API (JSON over HTTP at `PROTECTOR_SIM_CONTROL`): what a test or a rehearsal
//! does to the world from outside — take a site down and up, inject and clear faults, run a
//! replication cycle now, step the sites' clocks, dump the whole world.
//!
//! | method | path | body | effect |
//! |---|---|---|---|
//! | POST | `/sites/{site}/down` | `{"power_off"?: true}` | the site's ports refuse connections; with `power_off`, its servers stop too (a power loss: nothing runs there when it is back) |
//! | POST | `/sites/{site}/up` | | the site serves again on the same ports |
//! | POST | `/faults` | a [`FaultRule`] | 201; applies to matching requests (400 for a rule that cannot apply) |
//! | POST | `/faults` | `{"site"?, "action": {"kind": "no_valid_host"}, "count"?}` | 201; the next `count` boots end in ERROR with Nova's NoValidHost fault |
//! | POST | `/faults` | `{"site"?, "action": {"kind": "server_error", "name"?, "after_ms"?, "message"?}, "count"?}` | 201; `count` servers (name glob) that are or become ACTIVE turn ERROR `after_ms` later |
//! | GET | `/faults` | | the active rules, with the uses they have left |
//! | DELETE | `/faults` | | 204; all rules removed (servers already set to fail still fail) |
//! | POST | `/replicate` | `{"site"?, "protection_group"?, "wait"?}` | replicate now; with `wait`, completed at once |
//! | POST | `/clock` | `{"offset_secs": N}` | every site's clock reads this machine's plus N seconds (negative: behind; at most ten years either way), as if stepped: what exists keeps its timestamps |
//! | GET | `/world` | | the world dump (`World::dump`) |

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::faults::FaultRule;
use super::runtime::Runtime;

pub fn router(runtime: Arc<Runtime>) -> Router {
    Router::new()
        .route("/sites/{site}/down", post(site_down))
        .route("/sites/{site}/up", post(site_up))
        .route(
            "/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route("/replicate", post(replicate))
        .route("/clock", post(set_clock))
        .route("/world", get(world))
        .with_state(runtime)
}

fn not_found(message: String) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": message }))).into_response()
}

async fn set_up(runtime: &Runtime, site: &str, up: bool) -> Response {
    match runtime.set_site_up(site, up).await {
        Ok(()) => Json(json!({ "site": site, "up": up })).into_response(),
        Err(message) => not_found(message),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DownRequest {
    /// The site loses power: its servers stop (a boot under way fails).
    #[serde(default)]
    power_off: bool,
}

async fn site_down(
    State(runtime): State<Arc<Runtime>>,
    Path(site): Path<String>,
    body: Option<Json<DownRequest>>,
) -> Response {
    let request = body.map(|Json(request)| request).unwrap_or_default();
    if request.power_off
        && let Some(cell) = runtime.world.site(&site)
    {
        super::openstack::nova::power_off(&mut cell.lock(&runtime.world));
    }
    set_up(&runtime, &site, false).await
}

async fn site_up(State(runtime): State<Arc<Runtime>>, Path(site): Path<String>) -> Response {
    set_up(&runtime, &site, true).await
}

async fn add_fault(State(runtime): State<Arc<Runtime>>, Json(rule): Json<FaultRule>) -> Response {
    if let Err(message) = rule.check() {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response();
    }
    runtime.world.faults.add(rule.clone());
    (StatusCode::CREATED, Json(rule)).into_response()
}

async fn list_faults(State(runtime): State<Arc<Runtime>>) -> Json<Vec<FaultRule>> {
    Json(runtime.world.faults.list())
}

async fn clear_faults(State(runtime): State<Arc<Runtime>>) -> StatusCode {
    runtime.world.faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplicateRequest {
    site: Option<String>,
    protection_group: Option<String>,
    /// Complete the transfers at once instead of over the modelled time.
    #[serde(default)]
    wait: bool,
}

async fn replicate(
    State(runtime): State<Arc<Runtime>>,
    body: Option<Json<ReplicateRequest>>,
) -> Response {
    let request = body.map(|Json(request)| request).unwrap_or_default();
    let world = &runtime.world;
    let mut snapshots = Vec::new();
    for (name, cell) in &world.sites {
        if request.site.as_ref().is_some_and(|site| site != name) || !cell.is_up() {
            continue;
        }
        let groups: Vec<String> = {
            let site = cell.lock(world);
            site.array
                .protection_groups
                .values()
                .filter(|group| !group.destroyed && group.source == site.array.name)
                .filter(|group| {
                    request
                        .protection_group
                        .as_ref()
                        .is_none_or(|wanted| *wanted == group.name)
                })
                .map(|group| group.name.clone())
                .collect()
        };
        for group in groups {
            match super::flasharray::replication::replicate_now(world, name, &group, request.wait) {
                Ok(snapshot) => snapshots.push(json!({ "site": name, "snapshot": snapshot })),
                Err(message) => return not_found(message),
            }
        }
    }
    Json(json!({ "snapshots": snapshots })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    /// Seconds the sites' clocks run ahead of this machine's (negative: behind).
    offset_secs: i64,
}

/// Ten years: enough for any rehearsal, and far from where time arithmetic overflows.
const MAX_CLOCK_OFFSET_SECS: i64 = 10 * 366 * 86_400;

async fn set_clock(
    State(runtime): State<Arc<Runtime>>,
    Json(request): Json<ClockRequest>,
) -> Response {
    if request.offset_secs.unsigned_abs() > MAX_CLOCK_OFFSET_SECS.unsigned_abs() {
        let error = format!("offset_secs must be within ±{MAX_CLOCK_OFFSET_SECS} (ten years)");
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response();
    }
    runtime
        .world
        .clock
        .set_offset_ms(request.offset_secs * 1000);
    Json(json!({ "offset_secs": request.offset_secs })).into_response()
}

async fn world(State(runtime): State<Arc<Runtime>>) -> Json<serde_json::Value> {
    Json(runtime.world.dump())
}
