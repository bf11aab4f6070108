//! `/api/api_version`, login and logout, the array itself and its connections.

use super::{request::*, views::*};
use crate::flasharray::query::{self, ListOptions, Params};
use crate::flasharray::state::{self, PURITY_VERSION};
use crate::world::SiteContext;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use protector_wire::flasharray::{self as model};
use protector_wire::ids::IdGen;
use serde::Serialize;

pub(super) async fn api_version() -> Json<model::ApiVersionResponse> {
    Json(model::ApiVersionResponse {
        version: (0..=NEWEST_MINOR)
            .map(|minor| format!("2.{minor}"))
            .collect(),
    })
}

pub(super) async fn login(
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

pub(super) async fn logout(
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

pub(super) async fn not_found() -> Failure {
    Failure::new(StatusCode::NOT_FOUND, "Not found.", None)
}

pub(super) async fn arrays_get(
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

pub(super) async fn arrays_space_get(
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
pub(super) const PERFORMANCE_SAMPLES: i64 = 1000;

/// Performance samples from `start_time` to `end_time` (ms, default now) every `resolution`
/// (ms, default 30 s), newest first; without `start_time`, the latest. Every value is 0: the
/// twin's volumes see no I/O.
pub(super) async fn arrays_performance_get(
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
pub(super) fn hardware<T: Serialize>(
    raw: Option<&str>,
    rows: Vec<(String, T)>,
    missing: &str,
) -> Reply {
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

pub(super) async fn controllers_get(_: Authorized, RawQuery(raw): RawQuery) -> Reply {
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

pub(super) async fn ports_get(
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

pub(super) async fn network_interfaces_get(_: Authorized, RawQuery(raw): RawQuery) -> Reply {
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

pub(super) async fn array_connections_get(
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

#[cfg(test)]
mod tests {
    use super::super::request::*;
    use super::super::testing::*;
    use axum::body::Body;
    use axum::http::Request;
    use axum::http::StatusCode;
    use tower::ServiceExt;

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
}
