//! Manage and unmanage: manageable volumes of a backend, managing one (with the Pure driver's checks), unmanaging.

use super::{call::*, list::*, request::*, views::*, volumes::*};
use crate::clock::Op;
use crate::openstack::auth;
use crate::openstack::state::{Pending, Volume, VolumeJob, VolumeStatus};
use crate::world::Site;
use axum::http::StatusCode;
use axum::response::Response;
use protector_wire::cinder as wire;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// One array volume as the Pure driver's `get_manageable_volumes` reports it.
pub(super) struct Manageable {
    pub(super) name: String,
    pub(super) size: u64,
    pub(super) reason: String,
    pub(super) cinder_id: Option<String>,
}

pub(super) fn list_manageable(
    site: &Site,
    call: &Call,
    detail: bool,
    v3_path: bool,
) -> Result<Response, CinderError> {
    if v3_path && call.version < MV_MANAGE_EXISTING_LIST {
        return Err(CinderError::not_found());
    }
    if !auth::has_any_role(&call.token, &site.block.policy.volume_manage) {
        return Err(CinderError::policy("volume_extension:list_manageable"));
    }
    let mut params = call.query.clone();
    let (host, cluster) = cluster_host(&mut params, call.version >= MV_LIST_MANAGEABLE_CLUSTER)?;
    let limit = take_limit(&mut params)?;
    let marker = take(&mut params, "marker");
    let offset = take_offset(&mut params)?;
    let sort = take_sort(&mut params, "reference")?;
    let invalid: Vec<&str> = sort
        .iter()
        .map(|(key, _)| key.as_str())
        .filter(|key| !matches!(*key, "reference" | "size"))
        .collect();
    if !invalid.is_empty() {
        return Err(CinderError::bad_request(format!(
            "Invalid sort keys passed: {}",
            invalid.join(", ")
        )));
    }
    if let Some(cluster) = cluster {
        return Err(CinderError::new(
            404,
            format!("Service cinder-volume could not be found on cluster {cluster}."),
        ));
    }
    let host = host.unwrap_or_default();
    let backend = backend_of(&host).to_string();
    let pool = site
        .block
        .pools
        .iter()
        .find(|pool| backend_of(&pool.name) == backend)
        .ok_or_else(|| {
            CinderError::new(
                404,
                format!("Service cinder-volume could not be found on host {backend}."),
            )
        })?;

    // The driver's view of the array: every volume, with why it is not safe to manage.
    let mut entries: Vec<Manageable> = Vec::new();
    if pool.array_name == site.array.name {
        let managed: BTreeMap<&str, &str> = site
            .block
            .volumes
            .values()
            .filter(|volume| backend_of(&volume.host) == backend && !volume.array_volume.is_empty())
            .filter(|volume| volume.status != VolumeStatus::ErrorManaging)
            .map(|volume| (volume.array_volume.as_str(), volume.id.as_str()))
            .collect();
        for volume in site.array.volumes.values() {
            let mut reasons = Vec::new();
            if let Some((host, _)) = site.array.hosts_of(&volume.name).next() {
                reasons.push(format!("Volume connected to host {host}"));
            }
            let cinder_id = managed.get(volume.name.as_str()).map(|id| id.to_string());
            if cinder_id.is_some() {
                reasons.push("Volume already managed".to_string());
            }
            if volume.name.contains("::") {
                reasons.push("Volume is in a Pod".to_string());
            }
            if volume.destroyed {
                reasons.push("Volume is deleted".to_string());
            }
            entries.push(Manageable {
                name: volume.name.clone(),
                size: volume.provisioned.div_ceil(GIB),
                reason: reasons.join(" && "),
                cinder_id,
            });
        }
    }
    let order = |a: &Manageable, b: &Manageable| {
        sort.iter()
            .map(|(key, ascending)| {
                let ordering = if key == "size" {
                    a.size.cmp(&b.size)
                } else {
                    a.name.cmp(&b.name)
                };
                if *ascending {
                    ordering
                } else {
                    ordering.reverse()
                }
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
    };

    entries.sort_by(|a, b| order(a, b));
    let start = match marker {
        Some(marker) => {
            let reference = serde_json::from_str::<Value>(&marker)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| {
                    CinderError::invalid_input(format!(
                        "marker {marker} can not be analysed, please use json like format"
                    ))
                })?;
            let position = entries
                .iter()
                .position(|entry| reference_of(&entry.name) == reference)
                .ok_or_else(|| CinderError::invalid_input(format!("marker not found: {marker}")))?;
            position + 1
        }
        None => 0,
    };

    let page = entries.into_iter().skip(start + offset).take(limit);
    let manageable_volumes = page
        .map(|entry| {
            let safe = entry.reason.is_empty();
            wire::ManageableVolume {
                reference: wire::VolumeReference {
                    source_name: None,
                    source_id: None,
                    name: Some(entry.name),
                },
                size: entry.size,
                safe_to_manage: safe,
                reason_not_safe: detail.then_some(Some(entry.reason)),
                cinder_id: detail.then_some(entry.cinder_id),
                extra_info: detail.then_some(None),
            }
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &wire::ManageableVolumesList { manageable_volumes },
    ))
}

/// The `reference` the Pure driver reports for an array volume: `name`, the key its manage read
/// before Cinder 29 (which reads `source-name` but kept this listing).
pub(super) fn reference_of(name: &str) -> Value {
    serde_json::json!({ "name": name })
}

/// Cinder's `get_cluster_host`: exactly one of `host` and `cluster` (`cluster` only from the
/// microversion that allows it).
pub(super) fn cluster_host(
    params: &mut Vec<(String, String)>,
    cluster_allowed: bool,
) -> Result<(Option<String>, Option<String>), CinderError> {
    let host = take(params, "host").filter(|host| !host.is_empty());
    let cluster = if cluster_allowed {
        take(params, "cluster").filter(|cluster| !cluster.is_empty())
    } else {
        None
    };

    let message = if cluster_allowed {
        "One and only one of cluster and host must be set."
    } else {
        "Host field is missing."
    };

    if host.is_some() == cluster.is_some() {
        return Err(CinderError::invalid_input(message));
    }
    Ok((host, cluster))
}

/// `POST /manageable_volumes` (and `os-volume-manage`): what Cinder's API checks before it
/// answers 202; the driver's checks run when the manage completes ([`finish_manage`]).
pub(super) fn manage(site: &mut Site, call: &Call, v3_path: bool) -> Result<Response, CinderError> {
    if v3_path && call.version < MV_MANAGE_EXISTING_LIST {
        return Err(CinderError::not_found());
    }
    // The JSON schema (`volume_manage_create`).
    let body = call.json()?;
    let Some(request) = body.get("volume").and_then(Value::as_object) else {
        return Err(match body.get("volume") {
            Some(value) => schema_error(
                "volume",
                value,
                &format!("{} is not of type 'object'", py_repr(value)),
            ),
            None => CinderError::bad_request("'volume' is a required property"),
        });
    };

    if let Some(extra) = body
        .as_object()
        .and_then(|object| object.keys().find(|key| *key != "volume"))
    {
        return Err(CinderError::bad_request(format!(
            "Additional properties are not allowed ('{extra}' was unexpected)"
        )));
    }
    let volume_value = body.get("volume").cloned().unwrap_or_default();
    let cluster_allowed = call.version >= MV_MANAGE_CLUSTER;
    let allowed = [
        "description",
        "availability_zone",
        "bootable",
        "volume_type",
        "name",
        "host",
        "ref",
        "metadata",
    ];
    if let Some(extra) = request
        .keys()
        .find(|key| !(allowed.contains(&key.as_str()) || cluster_allowed && *key == "cluster"))
    {
        return Err(schema_error(
            "volume",
            &volume_value,
            &format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        ));
    }
    let reference = match request.get("ref") {
        Some(reference @ (Value::Object(_) | Value::String(_))) => reference.clone(),
        Some(other) => {
            return Err(schema_error(
                "volume/ref",
                other,
                &format!("{} is not of type 'object', 'string'", py_repr(other)),
            ));
        }
        None => {
            return Err(schema_error(
                "volume",
                &volume_value,
                "'ref' is a required property",
            ));
        }
    };

    let name = optional_string(request, "name")?;
    let description = optional_string(request, "description")?;
    let zone = optional_string(request, "availability_zone")?;
    let type_name = optional_string(request, "volume_type")?;
    let host = optional_string(request, "host")?;
    let cluster = optional_string(request, "cluster")?;
    let bootable = match request.get("bootable") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => parse_bool(text, true).ok_or_else(|| {
            schema_error(
                "volume/bootable",
                &Value::String(text.clone()),
                &format!("'{text}' is not one of the accepted boolean values"),
            )
        })?,
        Some(other) => {
            return Err(schema_error(
                "volume/bootable",
                other,
                &format!("{} is not of type 'boolean', 'string'", py_repr(other)),
            ));
        }
    };

    let metadata = match request.get("metadata") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => metadata_value(value)?,
    };

    // Policy, then the controller's checks.
    if !auth::has_any_role(&call.token, &site.block.policy.volume_manage) {
        return Err(CinderError::policy("volume_extension:volume_manage"));
    }
    let host = host.filter(|host| !host.is_empty());
    let cluster = cluster.filter(|cluster| !cluster.is_empty());
    if host.is_some() == cluster.is_some() {
        return Err(CinderError::invalid_input(if cluster_allowed {
            "One and only one of cluster and host must be set."
        } else {
            "Host field is missing."
        }));
    }
    let volume_type = match &type_name {
        Some(name) if !name.is_empty() => find_type(site, name).cloned().ok_or_else(|| {
            CinderError::bad_request(format!(
                "Invalid volume type: Cannot find requested '{name}' volume type"
            ))
        })?,
        _ => default_type(site)
            .cloned()
            .ok_or_else(|| CinderError::new(404, "Volume type default could not be found."))?,
    };

    // `volume_api.manage_existing`: a `source-name` naming an existing Cinder volume.
    if let Some(source_name) = reference.get("source-name").and_then(Value::as_str)
        && let Some(id) = source_name.strip_prefix("volume-")
        && id.len() == 36
        && site.block.volumes.contains_key(id)
    {
        return Err(CinderError::bad_request(
            "Unable to manage existing volume. The volume is already managed",
        ));
    }
    let Some(host) = host else {
        let cluster = cluster.unwrap_or_default();
        return Err(CinderError::bad_request(format!(
            "Cluster '{cluster}' not found"
        )));
    };

    let backend = backend_of(&host).to_string();
    if !site
        .block
        .pools
        .iter()
        .any(|pool| backend_of(&pool.name) == backend)
    {
        return Err(CinderError::bad_request(format!("Host '{host}' not found")));
    }

    let id = site.ids.uuid();
    let wall = site.clock.wall();
    let at = site.clock.now() + site.clock.latency(Op::ManageVolume);
    let volume = Volume {
        id: id.clone(),
        name: name.map(|n| n.trim().to_string()).unwrap_or_default(),
        description: description
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty()),
        project_id: call.project().to_string(),
        user_id: call.token.user_id.clone(),
        size_gb: 0,
        status: VolumeStatus::Managing,
        volume_type: volume_type.name.clone(),
        bootable,
        // With a pool, the volume lives there; without, on the backend's service host.
        host: if host.contains('#') { host } else { backend },
        availability_zone: zone.unwrap_or_else(|| "nova".to_string()),
        metadata,
        attachments: Vec::new(),
        array_volume: String::new(),
        created_at: wall,
        updated_at: wall,
        pending: Some(Pending {
            at,
            then: VolumeStatus::Available,
            error: None,
        }),
    };

    site.block.volumes.insert(id.clone(), volume);
    site.block
        .jobs
        .insert(id.clone(), VolumeJob::Manage { reference });
    let volume = &site.block.volumes[&id];
    Ok(json(
        StatusCode::ACCEPTED,
        &wire::VolumeResponse {
            volume: call.view().detail(site, volume),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::driver::*;
    use super::super::testing::*;
    use crate::flasharray::state as fa;
    use crate::openstack::state::VolumeStatus;
    use axum::http::StatusCode;
    use protector_wire::cinder as wire;
    use serde_json::Value;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[tokio::test]
    async fn manage_renames_the_array_volume_and_unmanage_keeps_it() {
        let twin = Twin::new("site-b");
        let token = twin.token("protector", &["admin", "member"]);
        add_array_volume(&twin, "dr-web-1-boot", 20);

        // Listed as safe to manage, under the Pure driver's listing key (`name`).
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/manageable_volumes/detail?host=site-b@pure%23fa-b",
                Some(&token),
                Some("3.8"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let list: wire::ManageableVolumesList = serde_json::from_value(body).unwrap();
        let entry = list
            .manageable_volumes
            .iter()
            .find(|m| m.reference.name.as_deref() == Some("dr-web-1-boot"))
            .unwrap();
        assert!(entry.safe_to_manage);
        assert_eq!(entry.size, 20);
        assert_eq!(entry.reason_not_safe, Some(Some(String::new())));
        assert_eq!(entry.cinder_id, Some(None));

        // Before 3.8 the path does not exist; os-volume-manage does.
        let (status, _, _) = twin
            .call(
                "GET",
                "/volume/v3/{project}/manageable_volumes?host=site-b@pure",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let request = wire::VolumeManageRequest {
            volume: wire::VolumeManage {
                host: Some("site-b@pure#fa-b".to_string()),
                cluster: None,
                // Cinder 29's driver reads `source-name` alone.
                reference: wire::VolumeReference {
                    source_name: Some("dr-web-1-boot".to_string()),
                    source_id: None,
                    name: None,
                },
                name: Some("web-1-boot".to_string()),
                description: None,
                availability_zone: None,
                volume_type: Some("pure-replicated".to_string()),
                bootable: Some(true),
                metadata: Some(BTreeMap::from([("dr.pg".to_string(), "prod".to_string())])),
            },
        };
        let (status, _, body) = twin
            .call(
                "POST",
                "/volume/v3/{project}/manageable_volumes",
                Some(&token),
                Some("3.8"),
                Some(serde_json::to_value(&request).unwrap()),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let managed: wire::VolumeResponse = serde_json::from_value(body).unwrap();
        let id = managed.volume.id.clone();
        assert_eq!(managed.volume.status, "creating");
        assert_eq!(managed.volume.size, 0);
        assert_eq!(managed.volume.bootable, wire::StringBool(true));
        assert_eq!(managed.volume.metadata["dr.pg"], "prod");
        assert_eq!(
            twin.site().block.volumes[&id].status,
            VolumeStatus::Managing
        );

        twin.settle();
        let new_name = format!("volume-{id}-cinder");
        let (_, _, body) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volume"]["status"], "available", "{body}");
        assert_eq!(body["volume"]["size"], 20);
        assert_eq!(body["volume"]["bootable"], "true");
        assert_eq!(body["volume"]["replication_status"], "enabled");
        assert_eq!(
            body["volume"]["metadata"],
            json!({"array_name": "fa-b", "array_volume_name": new_name}),
            "the driver's metadata replaces the request's"
        );
        {
            let site = twin.site();
            assert!(site.array.volumes.contains_key(&new_name));
            assert!(!site.array.volumes.contains_key("dr-web-1-boot"));
        }

        // Listed again: already managed.
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/os-volume-manage/detail?host=site-b@pure",
                Some(&token),
                None,
                None,
            )
            .await;
        let entry = body["manageable-volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["reference"]["name"] == new_name.as_str())
            .unwrap()
            .clone();
        assert_eq!(entry["safe_to_manage"], false);
        assert_eq!(entry["reason_not_safe"], "Volume already managed");
        assert_eq!(entry["cinder_id"], id.as_str());

        // Unmanage: 202, unmanaging, then gone; the array volume renamed, never destroyed.
        let (status, _, body) = twin
            .call(
                "POST",
                &format!("/volume/v3/{{project}}/volumes/{id}/action"),
                Some(&token),
                None,
                Some(json!({"os-unmanage": null})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let (_, _, body) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volume"]["status"], "unmanaging");
        twin.settle();
        let (status, _, _) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let site = twin.site();
        let kept = &site.array.volumes[&format!("{new_name}-unmanaged")];
        assert!(!kept.destroyed);
        assert_eq!(kept.content, "empty:fa-b:dr-web-1-boot");
    }

    #[tokio::test]
    async fn manage_failures_are_cinders() {
        let twin = Twin::new("site-b");
        let token = twin.token("protector", &["admin", "member"]);
        let manage = |body: Value| {
            let twin = &twin;
            let token = token.clone();
            async move {
                twin.call(
                    "POST",
                    "/volume/v3/{project}/os-volume-manage",
                    Some(&token),
                    None,
                    Some(body),
                )
                .await
            }
        };
        let (status, _, body) =
            manage(json!({"volume": {"host": "nowhere@pure#x", "ref": {"source-name": "v"}}}))
                .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["badRequest"]["message"],
            "Host 'nowhere@pure#x' not found"
        );
        let (status, _, body) = manage(json!({"volume": {"ref": {"source-name": "v"}}})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["badRequest"]["message"],
            "Invalid input received: Host field is missing."
        );
        let (status, _, body) = manage(json!({"volume": {"host": "site-b@pure"}})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["badRequest"]["message"]
                .as_str()
                .unwrap()
                .ends_with("'ref' is a required property"),
            "{body}"
        );
        let (status, _, body) = manage(
            json!({"volume": {"host": "site-b@pure", "ref": {"source-name": "v"}, "volume_type": "gold"}}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["badRequest"]["message"],
            "Invalid volume type: Cannot find requested 'gold' volume type"
        );

        // Accepted, then the driver finds nothing: error (error_managing), with the reason.
        let (status, _, body) = manage(
            json!({"volume": {"host": "site-b@pure#fa-b", "ref": {"source-name": "ghost"}}}),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let id = body["volume"]["id"].as_str().unwrap().to_string();
        twin.settle();
        {
            let site = twin.site();
            assert_eq!(site.block.volumes[&id].status, VolumeStatus::ErrorManaging);
            assert_eq!(
                site.block.volume_errors[&id],
                "Manage existing volume failed due to invalid backend reference \
                 {'source-name': 'ghost'}: Unable to find Purity ref with source-name=ghost"
            );
        }
        let (_, _, body) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volume"]["status"], "error");
        // A failed manage can be deleted; the array is not touched.
        let (status, _, _) = twin
            .call(
                "DELETE",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        twin.settle();
        assert!(!twin.site().block.volumes.contains_key(&id));

        // Cinder 29's driver reads only `ref["source-name"]`: a `name` ref (what older drivers
        // read, and what the listing still reports) or an empty `source-name` ends in error.
        add_array_volume(&twin, "by-name", 1);
        for (reference, shown) in [
            (json!({"name": "by-name"}), "{'name': 'by-name'}"),
            (json!({"source-name": ""}), "{'source-name': ''}"),
        ] {
            let (status, _, body) =
                manage(json!({"volume": {"host": "site-b@pure#fa-b", "ref": reference}})).await;
            assert_eq!(status, StatusCode::ACCEPTED);
            let id = body["volume"]["id"].as_str().unwrap().to_string();
            twin.settle();
            let site = twin.site();
            assert_eq!(site.block.volumes[&id].status, VolumeStatus::ErrorManaging);
            assert_eq!(
                site.block.volume_errors[&id],
                format!(
                    "Manage existing volume failed due to invalid backend reference {shown}: \
                     manage_existing requires a 'source-name' key to identify an existing \
                     volume."
                )
            );
            assert!(site.array.volumes.contains_key("by-name"), "untouched");
        }

        // A realm's volume is refused with the driver's bare message; a pod's is not found
        // (the twin's arrays have no pods).
        for (source_name, reason) in [
            (
                "realm::pod::by-name",
                "Unable to manage volume in a Realm".to_string(),
            ),
            (
                "pod::by-name",
                "Manage existing volume failed due to invalid backend reference \
                 {'source-name': 'pod::by-name'}: Unable to find Purity ref with \
                 source-name=pod::by-name"
                    .to_string(),
            ),
        ] {
            let (_, _, body) = manage(json!({"volume": {"host": "site-b@pure#fa-b",
                                                        "ref": {"source-name": source_name}}}))
            .await;
            let id = body["volume"]["id"].as_str().unwrap().to_string();
            twin.settle();
            let site = twin.site();
            assert_eq!(site.block.volumes[&id].status, VolumeStatus::ErrorManaging);
            assert_eq!(site.block.volume_errors[&id], reason);
        }

        // A volume connected to a host cannot be managed.
        add_array_volume(&twin, "attached", 1);
        twin.site().array.hosts.insert(
            "compute-1".to_string(),
            fa::Host {
                name: "compute-1".to_string(),
                connections: BTreeMap::from([("attached".to_string(), 1)]),
                ..Default::default()
            },
        );
        let (_, _, body) =
            manage(json!({"volume": {"host": "site-b@pure", "ref": {"source-name": "attached"}}}))
                .await;
        let id = body["volume"]["id"].as_str().unwrap().to_string();
        assert_eq!(body["volume"]["os-vol-host-attr:host"], "site-b@pure");
        twin.settle();
        let site = twin.site();
        assert_eq!(site.block.volumes[&id].status, VolumeStatus::ErrorManaging);
        assert!(
            site.block.volume_errors[&id].contains("cannot manage a volume connected to hosts")
        );
        assert!(site.array.volumes.contains_key("attached"), "not renamed");
    }

    /// Real Cinder 29 with its Pure driver: unmanaging the record of a failed manage fails in
    /// the driver (no provider_id) and leaves it `error_unmanaging`; deleting it works.
    #[tokio::test]
    async fn a_failed_manage_cannot_be_unmanaged_only_deleted() {
        let twin = Twin::new("site-b");
        let token = twin.token("protector", &["admin", "member"]);
        let failed_manage = async || {
            let (status, _, body) = twin
                .call(
                    "POST",
                    "/volume/v3/{project}/os-volume-manage",
                    Some(&token),
                    None,
                    Some(json!({"volume": {"host": "site-b@pure#fa-b", "ref": {"name": "ghost"}}})),
                )
                .await;
            assert_eq!(status, StatusCode::ACCEPTED);
            twin.settle();
            body["volume"]["id"].as_str().unwrap().to_string()
        };
        let action = |id: &str, verb: &str, body: Option<Value>| {
            let path = match body {
                Some(_) => format!("/volume/v3/{{project}}/volumes/{id}/action"),
                None => format!("/volume/v3/{{project}}/volumes/{id}"),
            };
            let (twin, token, verb) = (&twin, token.clone(), verb.to_string());
            async move { twin.call(&verb, &path, Some(&token), None, body).await.0 }
        };
        let id = failed_manage().await;
        let status = action(&id, "POST", Some(json!({"os-unmanage": {}}))).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        twin.settle();
        let (_, _, body) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volume"]["status"], "error_unmanaging");

        let id = failed_manage().await;
        let status = action(&id, "DELETE", None).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        twin.settle();
        assert!(!twin.site().block.volumes.contains_key(&id));
    }

    #[tokio::test]
    async fn policy_denies_manage_and_unmanage_with_cinders_body() {
        let twin = Twin::new("site-b");
        let viewer = twin.token("viewer", &["reader"]);
        let member = twin.token("protector", &["member"]);
        add_array_volume(&twin, "dr-db-1-boot", 40);
        let body =
            json!({"volume": {"host": "site-b@pure#fa-b", "ref": {"source-name": "dr-db-1-boot"}}});
        for token in [&viewer, &member] {
            let (status, _, answer) = twin
                .call(
                    "POST",
                    "/volume/v3/{project}/manageable_volumes",
                    Some(token),
                    Some("3.8"),
                    Some(body.clone()),
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert_eq!(
                answer,
                json!({"forbidden": {"code": 403, "message":
                    "Policy doesn't allow volume_extension:volume_manage to be performed."}})
            );
        }
        let (status, _, answer) = twin
            .call(
                "GET",
                "/volume/v3/{project}/manageable_volumes?host=site-b@pure",
                Some(&viewer),
                Some("3.8"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            answer["forbidden"]["message"],
            "Policy doesn't allow volume_extension:list_manageable to be performed."
        );

        // The viewer can read but not write; nobody but an admin may unmanage.
        let (status, _, _) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes",
                Some(&viewer),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, answer) = twin
            .call(
                "POST",
                "/volume/v3/{project}/volumes",
                Some(&viewer),
                None,
                Some(json!({"volume": {"size": 1}})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            answer["forbidden"]["message"],
            "Policy doesn't allow volume:create to be performed."
        );
        let (_, _, created) = twin
            .call(
                "POST",
                "/volume/v3/{project}/volumes",
                Some(&member),
                None,
                Some(json!({"volume": {"size": 1}})),
            )
            .await;
        twin.settle();
        let id = created["volume"]["id"].as_str().unwrap();
        let (status, _, answer) = twin
            .call(
                "POST",
                &format!("/volume/v3/{{project}}/volumes/{id}/action"),
                Some(&member),
                None,
                Some(json!({"os-unmanage": {}})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            answer,
            json!({"forbidden": {"code": 403, "message":
                "Policy doesn't allow volume_extension:volume_unmanage to be performed."}})
        );
    }

    #[test]
    fn unmanaged_names_fit_flasharray() {
        let name = array_volume_name("2b955850-f177-45f7-9f49-ecb2c256d161");
        assert_eq!(
            protector_wire::names::pure_unmanaged_name(&name),
            format!("{name}-unmanaged")
        );
        let long = "x".repeat(60);
        let cut = protector_wire::names::pure_unmanaged_name(&long);
        assert_eq!(cut.len(), 60);
        assert!(cut.ends_with("-unmanaged"));
    }
}
