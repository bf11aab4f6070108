//! Server metadata: all of it, one item, replace, merge, delete.

use super::{actions::*, create::*, request::*, servers::*};
use crate::openstack::state::ServerStatus;
use crate::world::Site;
use crate::world::SiteContext;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use protector_wire::nova as model;
use std::collections::BTreeMap;

pub(super) async fn metadata_index(
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

pub(super) async fn metadata_show(
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
pub(super) fn write_metadata(
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

pub(super) fn metadata_body(body: &Bytes, key: &str) -> Result<BTreeMap<String, String>, Failure> {
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

pub(super) async fn metadata_replace(
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

pub(super) async fn metadata_merge(
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

pub(super) async fn metadata_set(
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

pub(super) async fn metadata_delete(
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

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use axum::http::StatusCode;
    use protector_wire::nova as model;
    use serde_json::json;

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
}
