//! Listing volumes: Cinder's filters, sorting and pages.

use super::{call::*, request::*, views::*};
use crate::openstack::state::Volume;
use crate::world::Site;
use axum::http::StatusCode;
use axum::response::Response;
use protector_wire::cinder as wire;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A sort key of the volume list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SortKey {
    CreatedAt,
    UpdatedAt,
    Id,
    Name,
    Status,
    Size,
    AvailabilityZone,
    Bootable,
    VolumeType,
}

impl SortKey {
    pub(super) fn parse(key: &str) -> Option<SortKey> {
        Some(match key {
            "created_at" => SortKey::CreatedAt,
            "updated_at" => SortKey::UpdatedAt,
            "id" => SortKey::Id,
            "name" | "display_name" => SortKey::Name,
            "status" => SortKey::Status,
            "size" => SortKey::Size,
            "availability_zone" => SortKey::AvailabilityZone,
            "bootable" => SortKey::Bootable,
            "volume_type" | "volume_type_id" => SortKey::VolumeType,
            _ => return None,
        })
    }

    pub(super) fn compare(self, a: &Volume, b: &Volume) -> Ordering {
        match self {
            SortKey::CreatedAt => a.created_at.cmp(&b.created_at),
            SortKey::UpdatedAt => a.updated_at.cmp(&b.updated_at),
            SortKey::Id => a.id.cmp(&b.id),
            SortKey::Name => a.name.cmp(&b.name),
            SortKey::Status => db_status(a.status).cmp(db_status(b.status)),
            SortKey::Size => a.size_gb.cmp(&b.size_gb),
            SortKey::AvailabilityZone => a.availability_zone.cmp(&b.availability_zone),
            SortKey::Bootable => a.bootable.cmp(&b.bootable),
            SortKey::VolumeType => a.volume_type.cmp(&b.volume_type),
        }
    }
}

/// `sort=k1:d1,k2` or `sort_key`/`sort_dir`, as Cinder's `get_sort_params`: (key, ascending).
pub(super) fn take_sort(
    params: &mut Vec<(String, String)>,
    default_key: &str,
) -> Result<Vec<(String, bool)>, CinderError> {
    let sort = take(params, "sort");
    let sort_key = take(params, "sort_key");
    let sort_dir = take(params, "sort_dir");
    let direction = |dir: &str| match dir.trim() {
        "asc" => Ok(true),
        "desc" => Ok(false),
        _ => Err(CinderError::invalid_input(
            "Unknown sort direction, must be 'desc' or 'asc'",
        )),
    };

    if let Some(sort) = sort {
        if sort_key.is_some() || sort_dir.is_some() {
            return Err(CinderError::invalid_input(
                "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used \
                 with the 'sort' parameter.",
            ));
        }
        return sort
            .split(',')
            .filter(|item| !item.trim().is_empty())
            .map(|item| match item.split_once(':') {
                Some((key, dir)) => Ok((key.trim().to_string(), direction(dir)?)),
                None => Ok((item.trim().to_string(), false)),
            })
            .collect();
    }
    let ascending = match sort_dir {
        Some(dir) => direction(&dir)?,
        None => false,
    };

    Ok(vec![(
        sort_key.unwrap_or_else(|| default_key.to_string()),
        ascending,
    )])
}

/// A `metadata` filter: a Python or JSON dict literal.
pub(super) fn parse_metadata_filter(text: &str) -> Option<BTreeMap<String, String>> {
    let parsed: Value = serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&text.replace('\'', "\"")))
        .ok()?;
    parsed
        .as_object()?
        .iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            Some((key.clone(), value))
        })
        .collect()
}

/// One filter of the volume list.
pub(super) enum Filter {
    Name(String),
    NameLike(String),
    Status(String),
    StatusLike(String),
    Metadata(BTreeMap<String, String>),
    Bootable(bool),
    AvailabilityZone(String),
    Size(u64),
    ProjectId(String),
    /// A filter Cinder accepts that the twin's volumes never match (e.g. `group_id=x`).
    Nothing,
}

impl Filter {
    pub(super) fn matches(&self, volume: &Volume) -> bool {
        match self {
            Filter::Name(name) => volume.name == *name,
            Filter::NameLike(part) => volume.name.to_lowercase().contains(&part.to_lowercase()),
            Filter::Status(status) => db_status(volume.status) == status,
            Filter::StatusLike(part) => db_status(volume.status).contains(part.as_str()),
            Filter::Metadata(wanted) => wanted
                .iter()
                .all(|(key, value)| volume.metadata.get(key) == Some(value)),
            Filter::Bootable(bootable) => volume.bootable == *bootable,
            Filter::AvailabilityZone(zone) => volume.availability_zone == *zone,
            Filter::Size(size) => volume.size_gb == *size,
            Filter::ProjectId(project) => volume.project_id == *project,
            Filter::Nothing => false,
        }
    }
}

pub(super) fn list_volumes(
    site: &Site,
    call: &Call,
    detail: bool,
) -> Result<Response, CinderError> {
    let mut params = call.query.clone();
    let limit = take_limit(&mut params)?;
    let marker = take(&mut params, "marker");
    let offset = take_offset(&mut params)?;
    let sort = take_sort(&mut params, "created_at")?;
    let with_count = if call.version >= MV_SUPPORT_COUNT {
        match take(&mut params, "with_count") {
            Some(value) => parse_bool(&value, true).ok_or_else(|| {
                CinderError::invalid_input(format!("Invalid value '{value}' for with_count"))
            })?,
            None => false,
        }
    } else {
        false
    };

    // Filters: Cinder's resource filter rules for non-admins.
    let all_tenants = take(&mut params, "all_tenants")
        .is_some_and(|value| parse_bool(&value, false).unwrap_or(false) || value.is_empty());
    if !call.admin {
        if call.version >= MV_RESOURCE_FILTER {
            let like = call.version >= MV_LIKE_FILTER;
            let invalid: Vec<&str> = params
                .iter()
                .map(|(key, _)| key.as_str())
                .filter(|key| {
                    let configured = VOLUME_FILTERS.contains(key);
                    let like_configured = like
                        && key
                            .strip_suffix('~')
                            .is_some_and(|_| VOLUME_FILTERS.contains(&format!("{key}~").as_str()));
                    !(configured || like_configured)
                })
                .collect();
            if !invalid.is_empty() {
                return Err(CinderError::bad_request(format!(
                    "Invalid filters {} are found in query options.",
                    invalid.join(",")
                )));
            }
        } else {
            params.retain(|(key, _)| LEGACY_VOLUME_FILTERS.contains(&key.as_str()));
        }
    }
    let strict_bool = call.version >= 2;
    let mut filters = Vec::new();
    for (key, value) in &params {
        let filter = match key.as_str() {
            "name" | "display_name" => Filter::Name(value.clone()),
            "name~" | "display_name~" => Filter::NameLike(value.clone()),
            "status" => Filter::Status(value.clone()),
            "status~" => Filter::StatusLike(value.clone()),
            "metadata" => Filter::Metadata(
                parse_metadata_filter(value)
                    .ok_or_else(|| CinderError::invalid_input(format!("'metadata = {value}'")))?,
            ),
            "bootable" => Filter::Bootable(
                parse_bool(value, strict_bool)
                    .ok_or_else(|| CinderError::invalid_input(format!("'bootable = {value}'")))?,
            ),
            "availability_zone" => Filter::AvailabilityZone(value.clone()),
            "size" => match value.trim().parse() {
                Ok(size) => Filter::Size(size),
                Err(_) => Filter::Nothing,
            },
            "project_id" if call.admin => Filter::ProjectId(value.clone()),
            "migration_status" | "group_id" => Filter::Nothing,
            // Other keys an admin may pass name columns the twin does not keep: ignored.
            _ => continue,
        };
        filters.push(filter);
    }

    let mut keys = Vec::new();
    for (key, ascending) in &sort {
        let parsed = SortKey::parse(key)
            .ok_or_else(|| CinderError::invalid_input(format!("Invalid sort key {key}")))?;
        keys.push((parsed, *ascending));
    }
    // Cinder appends `created_at` and `id`, in the first key's direction.
    let default_ascending = keys.first().is_some_and(|(_, ascending)| *ascending);
    for default in [SortKey::CreatedAt, SortKey::Id] {
        if !keys.iter().any(|(key, _)| *key == default) {
            keys.push((default, default_ascending));
        }
    }
    let order = |a: &Volume, b: &Volume| {
        keys.iter()
            .map(|(key, ascending)| {
                let ordering = key.compare(a, b);
                if *ascending {
                    ordering
                } else {
                    ordering.reverse()
                }
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
    };

    let every_project = call.admin && all_tenants;
    let mut matching: Vec<&Volume> = site
        .block
        .volumes
        .values()
        .filter(|volume| every_project || volume.project_id == call.project())
        .filter(|volume| filters.iter().all(|filter| filter.matches(volume)))
        .collect();
    matching.sort_by(|a, b| order(a, b));
    let count = matching.len() as u64;
    let start = match &marker {
        Some(marker) => {
            let marker_volume = visible(site, call, marker)?;
            matching.partition_point(|volume| order(volume, marker_volume) != Ordering::Greater)
        }
        None => 0,
    };

    let page: Vec<&Volume> = matching
        .into_iter()
        .skip(start + offset)
        .take(limit)
        .collect();

    let next = (!page.is_empty() && page.len() >= limit).then(|| {
        let last = page
            .last()
            .map(|volume| volume.id.clone())
            .unwrap_or_default();
        let mut query: Vec<(String, String)> = call
            .query
            .iter()
            .filter(|(key, _)| key != "marker")
            .cloned()
            .collect();
        query.push(("marker".to_string(), last));
        let collection = if detail { "volumes/detail" } else { "volumes" };
        vec![wire::Link {
            href: format!(
                "{}/volume/v3/{}/{collection}?{}",
                call.base,
                call.project(),
                url_encode(&query)
            ),
            rel: "next".to_string(),
        }]
    });
    let count = with_count.then_some(count);
    let view = call.view();
    Ok(if detail {
        json(
            StatusCode::OK,
            &wire::VolumesDetailList {
                volumes: page
                    .iter()
                    .map(|volume| view.detail(site, volume))
                    .collect(),
                volumes_links: next,
                count,
            },
        )
    } else {
        json(
            StatusCode::OK,
            &wire::VolumesList {
                volumes: page.iter().map(|volume| view.summary(volume)).collect(),
                volumes_links: next,
                count,
            },
        )
    })
}

/// The volume filters Cinder allows non-admins (`resource_filters.json`).
pub(super) const VOLUME_FILTERS: &[&str] = &[
    "name",
    "status",
    "metadata",
    "bootable",
    "migration_status",
    "availability_zone",
    "group_id",
    "size",
    "created_at",
    "updated_at",
];

/// Before 3.33 non-admins' other filters are dropped silently; these survive.
pub(super) const LEGACY_VOLUME_FILTERS: &[&str] = &[
    "name",
    "status",
    "metadata",
    "bootable",
    "availability_zone",
];

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use axum::http::StatusCode;
    use protector_wire::cinder as wire;
    use serde_json::json;

    #[tokio::test]
    async fn lists_filter_sort_and_page() {
        let twin = Twin::new("site-a");
        let token = twin.token("protector", &["admin", "member"]);
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes/detail",
                Some(&token),
                Some("3.69"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let list: wire::VolumesDetailList = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(list.volumes.len(), 4, "db-1 (2), web-1, web-2");
        assert!(list.volumes_links.is_none());
        let boot = list
            .volumes
            .iter()
            .find(|v| v.name.as_deref() == Some("db-1-boot"))
            .unwrap();
        assert_eq!(boot.status, "in-use");
        assert_eq!(boot.bootable, wire::StringBool(true));
        assert_eq!(boot.host, Some(Some("site-a@pure#fa-a".to_string())));
        assert_eq!(boot.attachments.len(), 1);
        assert_eq!(boot.replication_status, Some(Some("enabled".to_string())));
        assert_eq!(
            boot.provider_id,
            Some(Some(format!("volume-{}-cinder", boot.id)))
        );
        assert_eq!(boot.metadata["array_name"], "fa-a");
        assert_eq!(boot.shared_targets, Some(Some(true)));
        assert!(boot.volume_type_id.is_some());
        // Every key the v3.69 sample carries is present.
        let sample = json!({
            "attachments": [], "availability_zone": "", "bootable": "", "consistencygroup_id": null,
            "created_at": "", "description": null, "encrypted": false, "id": "", "links": [],
            "metadata": {}, "migration_status": null, "multiattach": false, "name": null,
            "os-vol-host-attr:host": null, "os-vol-mig-status-attr:migstat": null,
            "os-vol-mig-status-attr:name_id": null, "os-vol-tenant-attr:tenant_id": "",
            "replication_status": null, "size": 10, "snapshot_id": null, "source_volid": null,
            "status": "", "updated_at": null, "user_id": "", "volume_type": "",
            "volume_type_id": "", "provider_id": null, "group_id": null, "service_uuid": null,
            "shared_targets": null, "cluster_name": null, "consumes_quota": true
        });
        let shown = &body["volumes"][0];
        for key in sample.as_object().unwrap().keys() {
            assert!(shown.get(key).is_some(), "detail lacks {key}");
        }

        // Filters.
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes?name=web-1-boot",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volumes"].as_array().unwrap().len(), 1);
        assert_eq!(body["volumes"][0]["name"], "web-1-boot");
        assert!(body["volumes"][0].get("status").is_none(), "summary view");
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes/detail?bootable=false&status=in-use",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(
            body["volumes"].as_array().unwrap().len(),
            1,
            "db-1's data volume"
        );
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes/detail?metadata=%7B%27array_name%27%3A%27fa-a%27%7D",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volumes"].as_array().unwrap().len(), 4);

        // Pages of 3, by name.
        let (_, _, first) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes?limit=3&sort=name:asc",
                Some(&token),
                None,
                None,
            )
            .await;
        let names: Vec<&str> = first["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["db-1-boot", "db-1-data-1", "web-1-boot"]);
        let next = first["volumes_links"][0]["href"].as_str().unwrap();
        assert_eq!(first["volumes_links"][0]["rel"], "next");
        let third = first["volumes"][2]["id"].as_str().unwrap();
        let project = twin.project();
        assert_eq!(
            next,
            format!(
                "http://cinder.test/volume/v3/{project}/volumes?limit=3&sort=name%3Aasc&marker={third}"
            )
        );
        let path = next.trim_start_matches("http://cinder.test");
        let (_, _, second) = twin.call("GET", path, Some(&token), None, None).await;
        assert_eq!(second["volumes"].as_array().unwrap().len(), 1);
        assert_eq!(second["volumes"][0]["name"], "web-2-boot");
        assert!(second.get("volumes_links").is_none());

        // A marker that is no volume; a filter a member may not use.
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes?marker=nope",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body["itemNotFound"]["message"],
            "Volume nope could not be found."
        );
        let member = twin.token("protector", &["member"]);
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes?host=x",
                Some(&member),
                Some("3.60"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["badRequest"]["message"],
            "Invalid filters host are found in query options."
        );
        // with_count, >= 3.45.
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes?limit=1&with_count=true",
                Some(&member),
                Some("3.45"),
                None,
            )
            .await;
        assert_eq!(body["count"], 4);
        // Members do not see admin-only attributes.
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes/detail",
                Some(&member),
                Some("3.69"),
                None,
            )
            .await;
        assert!(body["volumes"][0].get("os-vol-host-attr:host").is_none());
        assert!(body["volumes"][0].get("provider_id").is_none());
    }

    #[tokio::test]
    async fn more_volumes_than_a_page_list_in_pages() {
        let fixture = crate::fixture::generate(400, 3);
        let twin = Twin::from_fixture(&fixture, "site-a");
        let token = twin.token("protector", &["admin", "member"]);
        assert_eq!(twin.site().block.volumes.len(), 1200);
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes/detail",
                Some(&token),
                Some("3.69"),
                None,
            )
            .await;
        assert_eq!(body["volumes"].as_array().unwrap().len(), 1000);
        assert!(
            body["volumes_links"][0]["href"]
                .as_str()
                .unwrap()
                .contains("marker=")
        );
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes?limit=100",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volumes"].as_array().unwrap().len(), 100);
    }
}
