//! Version discovery (`/compute`, `/v2.1`) and availability zones.

use super::request::*;
use crate::errors::{self, Service};
use crate::world::SiteContext;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use protector_wire::nova as model;

pub(super) fn v21(base: &str, detailed: bool) -> model::ApiVersion {
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
pub(super) async fn version_show(Base(base): Base, headers: HeaderMap) -> Response {
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

pub(super) async fn zones_index(State(ctx): State<SiteContext>, api: Api) -> Response {
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

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use axum::http::StatusCode;
    use protector_wire::nova as model;
    use serde_json::Value;

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
}
