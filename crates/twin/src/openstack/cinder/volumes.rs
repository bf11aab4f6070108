//! Volumes: show, create, update, delete, actions, metadata.

use super::{attachments::*, call::*, driver::*, quotas::*, request::*, views::*};
use crate::clock::Op;
use crate::openstack::auth;
use crate::openstack::state::{Pending, Volume, VolumeJob, VolumeStatus};
use crate::world::Site;
use axum::http::StatusCode;
use axum::response::Response;
use protector_wire::cinder as wire;
use serde_json::Value;
use std::collections::BTreeMap;

pub(super) fn metadata_not_found(id: &str, key: &str) -> CinderError {
    CinderError::new(404, format!("Volume {id} has no metadata with key {key}."))
}

pub(super) fn show_volume(site: &Site, call: &Call, id: &str) -> Result<Response, CinderError> {
    let volume = visible(site, call, id)?;
    Ok(json(
        StatusCode::OK,
        &wire::VolumeResponse {
            volume: call.view().detail(site, volume),
        },
    ))
}

/// `Invalid input for field/attribute ...`: Cinder's JSON-schema error.
pub(super) fn schema_error(field: &str, value: &Value, detail: &str) -> CinderError {
    CinderError::bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {}. {detail}",
        py_repr(value)
    ))
}

/// A string or null field of a request object.
pub(super) fn optional_string(
    object: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<String>, CinderError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.len() <= 255 => Ok(Some(text.clone())),
        Some(Value::String(text)) => Err(schema_error(
            key,
            &Value::String(text.clone()),
            &format!("'{text}' is too long"),
        )),
        Some(other) => Err(schema_error(
            key,
            other,
            &format!("{} is not of type 'string', 'null'", py_repr(other)),
        )),
    }
}

/// A metadata object (string keys of 1 to 255 characters, string values of at most 255).
pub(super) fn metadata_value(value: &Value) -> Result<BTreeMap<String, String>, CinderError> {
    let object = value.as_object().ok_or_else(|| {
        schema_error(
            "metadata",
            value,
            &format!("{} is not of type 'object'", py_repr(value)),
        )
    })?;
    let mut metadata = BTreeMap::new();
    for (key, item) in object {
        let Some(text) = item.as_str() else {
            return Err(schema_error(
                &format!("metadata/{key}"),
                item,
                &format!("{} is not of type 'string'", py_repr(item)),
            ));
        };
        if key.is_empty() || key.len() > 255 || text.len() > 255 {
            return Err(schema_error(
                "metadata",
                value,
                "Metadata keys must be 1 to 255 characters, values at most 255.",
            ));
        }
        metadata.insert(key.clone(), text.to_string());
    }
    Ok(metadata)
}

pub(super) fn create_volume(site: &mut Site, call: &Call) -> Result<Response, CinderError> {
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

    let name = optional_string(request, "name")?;
    let description = optional_string(request, "description")?;
    let zone = optional_string(request, "availability_zone")?;
    let type_name = optional_string(request, "volume_type")?;
    let metadata = match request.get("metadata") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => metadata_value(value)?,
    };

    let size = request.get("size").filter(|size| !size.is_null());
    for (key, what) in [
        ("snapshot_id", "Snapshot"),
        ("backup_id", "Backup"),
        ("imageRef", "Image"),
        ("consistencygroup_id", "ConsistencyGroup"),
        ("group_id", "Group"),
    ] {
        if let Some(id) = optional_string(request, key)? {
            return Err(CinderError::new(
                404,
                format!("{what} {id} could not be found."),
            ));
        }
    }
    let source = optional_string(request, "source_volid")?;

    // The type, as the controller looks it up.
    let volume_type = match &type_name {
        Some(name) => find_type(site, name).ok_or_else(|| {
            let uuid_like = name.len() == 36 && name.matches('-').count() == 4;
            CinderError::new(
                404,
                if uuid_like {
                    format!("Volume type {name} could not be found.")
                } else {
                    format!("Volume type with name {name} could not be found.")
                },
            )
        })?,
        None => default_type(site)
            .ok_or_else(|| CinderError::new(404, "Volume type default could not be found."))?,
    }
    .clone();

    call.require_writer("volume:create")?;
    let source_volume = match &source {
        Some(id) => Some(visible(site, call, id)?.clone()),
        None => None,
    };

    if let Some(source) = &source_volume
        && !matches!(source.status, VolumeStatus::Available | VolumeStatus::InUse)
    {
        return Err(CinderError::invalid_input(format!(
            "Source volume status must be available or in-use, but current status is: {}.",
            api_status(source.status)
        )));
    }
    let size_gb = match size {
        Some(value) => {
            let parsed = match value {
                Value::Number(number) => number.as_i64(),
                Value::String(text) => text.trim().parse::<i64>().ok(),
                _ => None,
            };
            match parsed {
                Some(size) if size > 0 => size as u64,
                _ => return Err(invalid_size(&py_repr(value))),
            }
        }
        None => match &source_volume {
            Some(source) => source.size_gb,
            None => return Err(invalid_size("None")),
        },
    };

    if let Some(source) = &source_volume
        && size_gb < source.size_gb
    {
        return Err(CinderError::invalid_input(format!(
            "Volume size {size_gb}GB cannot be smaller than original volume size {}GB. They \
             must be >= original volume size.",
            source.size_gb
        )));
    }
    let zone = match zone {
        Some(zone) => {
            if !known_zone(site, &zone) {
                return Err(CinderError::bad_request(format!(
                    "Invalid input received: Availability zone '{zone}' is invalid."
                )));
            }
            zone
        }
        None => source_volume
            .as_ref()
            .map(|source| source.availability_zone.clone())
            .unwrap_or_else(|| "nova".to_string()),
    };

    check_quota(site, call.project(), None)?;

    // The scheduler: a pool of the type's backend.
    let pool = match volume_type.extra_specs.get("volume_backend_name") {
        Some(backend) => site
            .block
            .pools
            .iter()
            .find(|pool| backend_of(&pool.name) == backend),
        None => site.block.pools.first(),
    }
    .filter(|pool| pool.array_name == site.array.name)
    .map(|pool| pool.name.clone());

    let id = site.ids.uuid();
    let wall = site.clock.wall();
    let at = site.clock.now() + site.clock.latency(Op::CreateVolume);
    let scheduled = pool.is_some();
    let volume = Volume {
        id: id.clone(),
        name: name.map(|n| n.trim().to_string()).unwrap_or_default(),
        description,
        project_id: call.project().to_string(),
        user_id: call.token.user_id.clone(),
        size_gb,
        status: if scheduled {
            VolumeStatus::Creating
        } else {
            VolumeStatus::Error
        },
        volume_type: volume_type.name.clone(),
        bootable: source_volume.as_ref().is_some_and(|source| source.bootable),
        host: pool.unwrap_or_default(),
        availability_zone: zone,
        metadata,
        attachments: Vec::new(),
        array_volume: if scheduled {
            array_volume_name(&id)
        } else {
            String::new()
        },
        created_at: wall,
        updated_at: wall,
        pending: scheduled.then_some(Pending {
            at,
            then: VolumeStatus::Available,
            error: None,
        }),
    };

    site.block.volumes.insert(id.clone(), volume);
    if scheduled {
        let clone_of = source_volume.map(|source| source.array_volume);
        site.block
            .jobs
            .insert(id.clone(), VolumeJob::Create { clone_of });
    } else {
        site.block.volume_errors.insert(
            id.clone(),
            "No valid backend was found. No weighed backends available".to_string(),
        );
    }
    let volume = &site.block.volumes[&id];
    Ok(json(
        StatusCode::ACCEPTED,
        &wire::VolumeResponse {
            volume: call.view().detail(site, volume),
        },
    ))
}

pub(super) fn invalid_size(size: &str) -> CinderError {
    CinderError::invalid_input(format!(
        "Invalid volume size provided for create request: {size} (size argument must be an \
         integer (or string representation of an integer) and greater than zero)."
    ))
}

/// Cinder's storage availability zones: Nova's zones of the site, and `nova`.
pub(super) fn known_zone(site: &Site, zone: &str) -> bool {
    zone == "nova" || site.compute.availability_zones.iter().any(|z| z == zone)
}

pub(super) fn update_volume(
    site: &mut Site,
    call: &Call,
    id: &str,
) -> Result<Response, CinderError> {
    visible(site, call, id)?;
    let body = call.json()?;
    let Some(request) = body.get("volume").and_then(Value::as_object) else {
        return Err(CinderError::bad_request("'volume' is a required property"));
    };

    let name = optional_string(request, "name")?;
    let description = optional_string(request, "description")?;
    let metadata = match request.get("metadata") {
        None | Some(Value::Null) => None,
        Some(value) => Some(metadata_value(value)?),
    };

    call.require_writer("volume:update")?;
    let wall = site.clock.wall();
    let volume = site
        .block
        .volumes
        .get_mut(id)
        .ok_or_else(|| CinderError::volume_not_found(id))?;
    if request.contains_key("name") {
        volume.name = name.unwrap_or_default();
    }
    if request.contains_key("description") {
        volume.description = description;
    }
    if let Some(metadata) = metadata {
        volume.metadata = metadata;
    }
    volume.updated_at = wall;
    let volume = &site.block.volumes[id];
    Ok(json(
        StatusCode::OK,
        &wire::VolumeResponse {
            volume: call.view().detail(site, volume),
        },
    ))
}

pub(super) fn delete_volume(
    site: &mut Site,
    call: &Call,
    id: &str,
) -> Result<Response, CinderError> {
    visible(site, call, id)?;
    call.require_writer("volume:delete")?;
    start_delete(site, id)?;
    Ok(empty(StatusCode::ACCEPTED))
}

pub(super) fn volume_action(
    site: &mut Site,
    call: &Call,
    id: &str,
) -> Result<Response, CinderError> {
    let body = call.json()?;
    let Some((action, arguments)) = body
        .as_object()
        .filter(|object| object.len() == 1)
        .and_then(|object| object.iter().next())
    else {
        return Err(CinderError::bad_request("Malformed request body"));
    };

    match action.as_str() {
        "os-unmanage" => {
            let volume = visible(site, call, id)?;
            if !auth::has_any_role(&call.token, &site.block.policy.volume_unmanage) {
                return Err(CinderError::policy("volume_extension:volume_unmanage"));
            }
            if !removable(volume) {
                return Err(CinderError::bad_request(INVALID_VOLUME_STATE));
            }
            // Cinder calls the driver's unmanage for a failed manage too (where it fails: see
            // `complete`); only a delete of one skips the driver.
            let backend = true;
            let at = site.clock.now() + site.clock.latency(Op::UnmanageVolume);
            let wall = site.clock.wall();
            if let Some(volume) = site.block.volumes.get_mut(id) {
                volume.status = VolumeStatus::Unmanaging;
                volume.updated_at = wall;
                volume.pending = Some(Pending {
                    at,
                    then: VolumeStatus::Unmanaging,
                    error: None,
                });
            }
            site.block
                .jobs
                .insert(id.to_string(), VolumeJob::Unmanage { backend });
            Ok(empty(StatusCode::ACCEPTED))
        }
        "os-set_bootable" => {
            visible(site, call, id)?;
            let bootable = arguments.get("bootable").and_then(|value| match value {
                Value::Bool(flag) => Some(*flag),
                Value::String(text) => parse_bool(text, true),
                _ => None,
            });
            let Some(bootable) = bootable else {
                return Err(CinderError::invalid_input(
                    "Must specify a valid value for 'bootable'",
                ));
            };
            call.require_writer("volume_extension:volume_actions:set_bootable")?;
            let wall = site.clock.wall();
            if let Some(volume) = site.block.volumes.get_mut(id) {
                volume.bootable = bootable;
                volume.updated_at = wall;
            }
            Ok(empty(StatusCode::OK))
        }
        "os-reset_status" => {
            visible(site, call, id)?;
            if !call.admin {
                return Err(CinderError::policy(
                    "volume_extension:volume_admin_actions:reset_status",
                ));
            }
            let status = match arguments.get("status").and_then(Value::as_str) {
                Some("available") => VolumeStatus::Available,
                Some("in-use") => VolumeStatus::InUse,
                Some("error") => VolumeStatus::Error,
                Some("creating") => VolumeStatus::Creating,
                Some("deleting") => VolumeStatus::Deleting,
                Some("error_managing") => VolumeStatus::ErrorManaging,
                Some(other) => {
                    return Err(CinderError::invalid_input(format!(
                        "'{other}' is not a valid status"
                    )));
                }
                None => return Err(CinderError::invalid_input("Must specify 'status'")),
            };
            let wall = site.clock.wall();
            if let Some(volume) = site.block.volumes.get_mut(id) {
                volume.status = status;
                volume.pending = None;
                volume.updated_at = wall;
            }
            site.block.jobs.remove(id);
            Ok(empty(StatusCode::ACCEPTED))
        }
        other => Err(CinderError::bad_request(format!(
            "There is no such action: {other}"
        ))),
    }
}

pub(super) fn set_metadata(
    site: &mut Site,
    call: &Call,
    id: &str,
    replace: bool,
) -> Result<Response, CinderError> {
    visible(site, call, id)?;
    let body = call.json()?;
    let Some(value) = body.get("metadata") else {
        return Err(CinderError::bad_request("Malformed request body"));
    };

    let metadata = metadata_value(value)?;
    call.require_writer("volume:update_volume_metadata")?;
    let wall = site.clock.wall();
    let volume = site
        .block
        .volumes
        .get_mut(id)
        .ok_or_else(|| CinderError::volume_not_found(id))?;
    if replace {
        volume.metadata = metadata;
    } else {
        volume.metadata.extend(metadata);
    }
    volume.updated_at = wall;
    Ok(json(
        StatusCode::OK,
        &wire::VolumeMetadata {
            metadata: volume.metadata.clone(),
        },
    ))
}

pub(super) fn set_metadata_item(
    site: &mut Site,
    call: &Call,
    id: &str,
    key: &str,
) -> Result<Response, CinderError> {
    visible(site, call, id)?;
    let body = call.json()?;
    let Some(value) = body.get("meta") else {
        return Err(CinderError::bad_request("Malformed request body"));
    };

    let item = metadata_value(value)?;
    if !item.contains_key(key) {
        return Err(CinderError::bad_request("Request body and URI mismatch"));
    }
    if item.len() > 1 {
        return Err(CinderError::bad_request(
            "Request body contains too many items",
        ));
    }
    call.require_writer("volume:update_volume_metadata")?;
    let wall = site.clock.wall();
    let volume = site
        .block
        .volumes
        .get_mut(id)
        .ok_or_else(|| CinderError::volume_not_found(id))?;
    volume.metadata.extend(item.clone());
    volume.updated_at = wall;
    Ok(json(
        StatusCode::OK,
        &wire::VolumeMetadataItem { meta: item },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::request::*;
    use super::super::testing::*;
    use crate::openstack::state::VolumeStatus;
    use axum::http::StatusCode;
    use protector_wire::cinder as wire;
    use serde_json::Value;
    use serde_json::json;

    #[tokio::test]
    async fn create_then_delete_goes_through_the_array() {
        let twin = Twin::new("site-b");
        let token = twin.token("protector", &["admin", "member"]);
        let (status, _, body) = twin
            .call(
                "POST",
                "/volume/v3/{project}/volumes",
                Some(&token),
                Some("3.69"),
                Some(
                    json!({"volume": {"size": 2, "name": "scratch", "volume_type": "pure",
                                       "metadata": {"k": "v"}}}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let created: wire::VolumeResponse = serde_json::from_value(body).unwrap();
        let id = created.volume.id.clone();
        assert_eq!(created.volume.status, "creating");
        assert_eq!(created.volume.updated_at, Some(None));
        assert_eq!(created.volume.shared_targets, Some(None));
        let array_name = format!("volume-{id}-cinder");
        assert!(!twin.site().array.volumes.contains_key(&array_name));

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
        assert_eq!(body["volume"]["status"], "available");
        assert_eq!(body["volume"]["replication_status"], "disabled");
        assert_eq!(body["volume"]["metadata"]["k"], "v");
        assert_eq!(
            body["volume"]["metadata"]["array_volume_name"],
            array_name.as_str()
        );
        assert_eq!(body["volume"]["metadata"]["array_name"], "fa-b");
        assert_eq!(twin.site().array.volumes[&array_name].provisioned, 2 << 30);

        let (status, _, body) = twin
            .call(
                "DELETE",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(body, Value::Null);
        let (_, _, body) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volume"]["status"], "deleting");
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
        assert!(
            twin.site().array.volumes[&array_name].destroyed,
            "destroyed, not eradicated (pure_eradicate_on_delete is off by default)"
        );
    }

    #[tokio::test]
    async fn in_use_volumes_are_neither_deleted_nor_unmanaged() {
        let twin = Twin::new("site-a");
        let token = twin.token("protector", &["admin", "member"]);
        let in_use = twin
            .site()
            .block
            .volumes
            .values()
            .find(|v| v.status == VolumeStatus::InUse)
            .unwrap()
            .id
            .clone();
        let path = format!("/volume/v3/{{project}}/volumes/{in_use}");
        let (status, _, body) = twin.call("DELETE", &path, Some(&token), None, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"badRequest": {"code": 400, "message": INVALID_VOLUME_STATE}})
        );
        let (status, _, body) = twin
            .call(
                "POST",
                &format!("{path}/action"),
                Some(&token),
                None,
                Some(json!({"os-unmanage": {}})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["badRequest"]["message"], INVALID_VOLUME_STATE);
        assert_eq!(
            twin.site().block.volumes[&in_use].status,
            VolumeStatus::InUse,
            "unchanged"
        );
    }
}
