//! Backend pools and the volume services behind them (`os-services`).

use super::{call::*, request::*, views::*};
use crate::openstack::auth;
use crate::world::Site;
use axum::http::StatusCode;
use axum::response::Response;
use protector_wire::cinder as wire;

/// `GET /os-services[?binary=..&host=..]`: a scheduler on the site's controller and a volume
/// service per backend (`host@backend` of each pool); the twin's services are always up.
pub(super) fn list_services(site: &Site, call: &Call) -> Result<Response, CinderError> {
    if !auth::has_any_role(&call.token, &site.block.policy.services_index) {
        return Err(CinderError::policy("volume_extension:services:index"));
    }
    let filter = |key: &str| {
        call.query
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    };

    let updated_at = Some(timestamp(&site.clock.wall()));
    let service = |binary: &str, host: &str| wire::Service {
        binary: binary.to_string(),
        host: host.to_string(),
        zone: Some("nova".to_string()),
        status: "enabled".to_string(),
        state: "up".to_string(),
        updated_at: updated_at.clone(),
        disabled_reason: None,
        cluster: None,
        frozen: (binary == "cinder-volume").then_some(false),
        replication_status: (binary == "cinder-volume").then(|| "disabled".to_string()),
        active_backend_id: None,
        backend_state: (binary == "cinder-volume").then(|| "up".to_string()),
    };

    let mut services = vec![service("cinder-scheduler", &site.name)];
    for pool in &site.block.pools {
        let backend = pool.name.split('#').next().unwrap_or(&pool.name);
        if !services.iter().any(|s| s.host == backend) {
            services.push(service("cinder-volume", backend));
        }
    }
    services.retain(|s| {
        filter("binary").is_none_or(|binary| s.binary == binary)
            && filter("host").is_none_or(|host| s.host == host)
    });
    Ok(json(StatusCode::OK, &wire::ServicesList { services }))
}

pub(super) fn get_pools(site: &Site, call: &Call) -> Result<Response, CinderError> {
    if !call.admin {
        return Err(CinderError::policy(
            "scheduler_extension:scheduler_stats:get_pools",
        ));
    }
    let detail = call
        .query
        .iter()
        .rev()
        .find(|(key, _)| key == "detail")
        .is_some_and(|(_, value)| parse_bool(value, false).unwrap_or(false));
    let now = timestamp(&site.clock.wall());
    let number = |value: f64| {
        wire::Capacity::Number(serde_json::Number::from_f64(value).unwrap_or_else(|| 0.into()))
    };

    let pools = site
        .block
        .pools
        .iter()
        .map(|pool| {
            let allocated: u64 = site
                .block
                .volumes
                .values()
                .filter(|volume| volume.host == pool.name)
                .map(|volume| volume.size_gb)
                .sum();
            let provisioned: u64 = if pool.array_name == site.array.name {
                site.array
                    .volumes
                    .values()
                    .filter(|volume| !volume.destroyed)
                    .map(|volume| volume.provisioned)
                    .sum::<u64>()
                    .div_ceil(GIB)
            } else {
                0
            };
            // A 100 TiB array, thin: data reduction keeps physical use at a fifth.
            let total = 102_400.0;
            let used = provisioned as f64 / 5.0;
            wire::Pool {
                name: pool.name.clone(),
                capabilities: detail.then(|| wire::PoolCapabilities {
                    volume_backend_name: backend_of(&pool.name).to_string(),
                    total_capacity_gb: number(total),
                    free_capacity_gb: number((total - used).max(0.0)),
                    updated: Some(now.clone()),
                    reserved_percentage: Some(0),
                    driver_version: Some("19.0.0".to_string()),
                    storage_protocol: Some("iSCSI".to_string()),
                    qos_support: Some(true),
                    vendor_name: Some("Pure Storage".to_string()),
                    pool_name: Some(
                        pool.name
                            .split_once('#')
                            .map_or(pool.name.as_str(), |(_, pool)| pool)
                            .to_string(),
                    ),
                    timestamp: Some(now.clone()),
                    allocated_capacity_gb: Some(wire::Capacity::Number(allocated.into())),
                    provisioned_capacity_gb: Some(wire::Capacity::Number(provisioned.into())),
                    max_over_subscription_ratio: Some(number(20.0)),
                    thin_provisioning_support: Some(true),
                    thick_provisioning_support: None,
                    multiattach: Some(true),
                    consistencygroup_support: Some(true),
                    consistent_group_snapshot_enabled: Some(true),
                    replication_enabled: Some(!site.array.connections.is_empty()),
                    replication_type: None,
                    replication_targets: Some(site.array.connections.keys().cloned().collect()),
                    backend_state: Some("up".to_string()),
                }),
            }
        })
        .collect();
    Ok(json(StatusCode::OK, &wire::PoolsList { pools }))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use axum::http::StatusCode;
    use protector_wire::cinder as wire;
    use serde_json::json;

    #[tokio::test]
    async fn metadata_types_and_pools() {
        let twin = Twin::new("site-a");
        let token = twin.token("protector", &["admin", "member"]);
        let id = twin.site().block.volumes.keys().next().unwrap().clone();
        let base = format!("/volume/v3/{{project}}/volumes/{id}/metadata");
        let (status, _, body) = twin
            .call(
                "POST",
                &base,
                Some(&token),
                None,
                Some(json!({"metadata": {"a": "1"}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["metadata"]["a"], "1");
        assert_eq!(body["metadata"]["array_name"], "fa-a", "merged");
        let (_, _, body) = twin
            .call(
                "PUT",
                &format!("{base}/a"),
                Some(&token),
                None,
                Some(json!({"meta": {"a": "2"}})),
            )
            .await;
        assert_eq!(body, json!({"meta": {"a": "2"}}));
        let (status, _, body) = twin
            .call(
                "PUT",
                &format!("{base}/a"),
                Some(&token),
                None,
                Some(json!({"meta": {"b": "2"}})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["badRequest"]["message"],
            "Request body and URI mismatch"
        );
        let (status, _, _) = twin
            .call("DELETE", &format!("{base}/a"), Some(&token), None, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, body) = twin
            .call("GET", &format!("{base}/a"), Some(&token), None, None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body["itemNotFound"]["message"],
            format!("Volume {id} has no metadata with key a.")
        );
        let (_, _, body) = twin
            .call(
                "PUT",
                &base,
                Some(&token),
                None,
                Some(json!({"metadata": {"only": "x"}})),
            )
            .await;
        assert_eq!(body, json!({"metadata": {"only": "x"}}));

        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/types",
                Some(&token),
                None,
                None,
            )
            .await;
        let types: wire::VolumeTypesList = serde_json::from_value(body).unwrap();
        assert_eq!(types.volume_types.len(), 2);
        let replicated = types
            .volume_types
            .iter()
            .find(|t| t.name == "pure-replicated")
            .unwrap();
        assert_eq!(
            replicated.extra_specs.as_ref().unwrap()["replication_enabled"],
            "<is> True"
        );
        let viewer = twin.token("viewer", &["reader"]);
        let (_, _, body) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/types/{}", replicated.id),
                Some(&viewer),
                None,
                None,
            )
            .await;
        assert_eq!(body["volume_type"]["name"], "pure-replicated");
        assert!(
            body["volume_type"].get("extra_specs").is_none(),
            "admins only"
        );

        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/scheduler-stats/get_pools?detail=true",
                Some(&token),
                None,
                None,
            )
            .await;
        let pools: wire::PoolsList = serde_json::from_value(body).unwrap();
        assert_eq!(pools.pools[0].name, "site-a@pure#fa-a");
        let capabilities = pools.pools[0].capabilities.as_ref().unwrap();
        assert_eq!(capabilities.vendor_name.as_deref(), Some("Pure Storage"));
        assert_eq!(
            capabilities.replication_targets,
            Some(vec!["fa-b".to_string()])
        );
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/scheduler-stats/get_pools",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body, json!({"pools": [{"name": "site-a@pure#fa-a"}]}));
        let (status, _, _) = twin
            .call(
                "GET",
                "/volume/v3/{project}/scheduler-stats/get_pools",
                Some(&viewer),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn services_list_the_backends_volume_service_for_admins_only() {
        let twin = Twin::new("site-a");
        let token = twin.token("protector", &["admin", "member"]);
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/os-services",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let services: wire::ServicesList = serde_json::from_value(body).unwrap();
        let hosts: Vec<(&str, &str, &str)> = services
            .services
            .iter()
            .map(|s| (s.binary.as_str(), s.host.as_str(), s.state.as_str()))
            .collect();
        assert_eq!(
            hosts,
            [
                ("cinder-scheduler", "site-a", "up"),
                ("cinder-volume", "site-a@pure", "up")
            ]
        );
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/os-services?binary=cinder-volume",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["services"].as_array().unwrap().len(), 1);
        assert_eq!(body["services"][0]["backend_state"], "up");
        let member = twin.token("viewer", &["member"]);
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/os-services",
                Some(&member),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(
            body.to_string().contains("volume_extension:services:index"),
            "{body}"
        );
    }
}
