//! The account (`/v1/AUTH_<project_id>`: HEAD, GET lists its containers; made on first use,
//! as `account_autocreate` does) and its containers: PUT (201 new, 202 existing), POST (204),
//! HEAD (204), GET (the object listing), DELETE (204; 409 while it holds objects).
//!
//! A container's `X-Container-Meta-*` are set by PUT and POST (an empty value removes one), and
//! so is history mode: `X-History-Location: <archive>` (the archive must be a container of the
//! same account when a version is written, else that write is a 412), removed by an empty value
//! or `X-Remove-History-Location`. Setting it together with `X-Versions-Location` is a 400, as
//! the versioned_writes middleware answers; stack mode itself is not simulated (501).

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, header};
use protector_wire::swift as wire;
use serde_json::json;

use super::listing::ListingQuery;
use super::objects::listed;
use super::request::*;
use crate::openstack::state::{SwiftAccount, SwiftContainer};
use crate::world::Site;

/// The longest container name Swift accepts, in bytes.
const MAX_CONTAINER_NAME: usize = 256;

/// `HEAD|GET /v1/{account}`.
pub(super) fn account(
    site: &Site,
    method: &str,
    account: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Answer {
    if !matches!(method, "GET" | "HEAD") {
        return Err(error(StatusCode::METHOD_NOT_ALLOWED));
    }
    let empty = SwiftAccount::default();
    let held = site.object.accounts.get(account).unwrap_or(&empty);
    let now = now_secs(site);
    let (mut objects, mut bytes) = (0u64, 0u64);
    let mut rows = Vec::new();
    for (name, container) in &held.containers {
        let (count, used) = container
            .objects
            .values()
            .filter(|object| listed(object, now))
            .fold((0, 0), |(c, b), object| (c + 1, b + object.bytes));
        objects += count;
        bytes += used;
        let last_modified = listing_time(stored(&container.created));
        rows.push((name.as_str(), count, used, last_modified));
    }
    let summary = vec![
        (
            name(wire::X_ACCOUNT_CONTAINER_COUNT),
            held.containers.len().to_string(),
        ),
        (name(wire::X_ACCOUNT_OBJECT_COUNT), objects.to_string()),
        (name(wire::X_ACCOUNT_BYTES_USED), bytes.to_string()),
        (header::ACCEPT_RANGES, "bytes".to_string()),
    ];
    if method == "HEAD" {
        return Ok(status_page(StatusCode::NO_CONTENT, summary));
    }
    let listing = ListingQuery::parse(query, headers)?;
    let names: Vec<&str> = rows.iter().map(|row| row.0).collect();
    let page = listing
        .select(&names)
        .into_iter()
        .map(|entry| match entry {
            Ok(name) => {
                let row = rows.iter().find(|row| row.0 == name).expect("a listed row");
                let info = wire::ContainerInfo {
                    name: name.to_string(),
                    count: row.1,
                    bytes: row.2,
                    last_modified: Some(row.3.clone()),
                };
                let value = serde_json::to_value(info).unwrap_or_default();
                (name.to_string(), value)
            }
            Err(subdir) => (subdir.clone(), json!({ "subdir": subdir })),
        })
        .collect();
    Ok(listing.respond(page, summary))
}

/// `PUT|POST|HEAD|GET|DELETE /v1/{account}/{container}`.
pub(super) fn container(
    site: &mut Site,
    method: &str,
    account: &str,
    name_: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Answer {
    match method {
        "PUT" | "POST" => write(site, method, account, name_, headers),
        "HEAD" | "GET" => {
            let now = now_secs(site);
            let container = find(site, account, name_)?;
            let headers_out = container_headers(container, now);
            if method == "HEAD" {
                return Ok(status_page(StatusCode::NO_CONTENT, headers_out));
            }
            let listing = ListingQuery::parse(query, headers)?;
            let names: Vec<&str> = container
                .objects
                .iter()
                .filter(|(_, object)| listed(object, now))
                .map(|(name, _)| name.as_str())
                .collect();
            let page = listing
                .select(&names)
                .into_iter()
                .map(|entry| match entry {
                    Ok(name) => {
                        let object = &container.objects[name];
                        let info = wire::ObjectInfo {
                            name: name.to_string(),
                            hash: object.etag.clone(),
                            bytes: object.bytes,
                            content_type: object.content_type.clone(),
                            last_modified: listing_time(stored(&object.timestamp)),
                        };
                        (
                            name.to_string(),
                            serde_json::to_value(info).unwrap_or_default(),
                        )
                    }
                    Err(subdir) => (subdir.clone(), json!({ "subdir": subdir })),
                })
                .collect();
            Ok(listing.respond(page, headers_out))
        }
        "DELETE" => {
            let now = now_secs(site);
            let container = find(site, account, name_)?;
            if container.objects.values().any(|object| listed(object, now)) {
                return Err(error(StatusCode::CONFLICT));
            }
            if let Some(held) = site.object.accounts.get_mut(account) {
                held.containers.remove(name_);
            }
            Ok(status_page(StatusCode::NO_CONTENT, Vec::new()))
        }
        _ => Err(error(StatusCode::METHOD_NOT_ALLOWED)),
    }
}

/// The container, or Swift's 404.
pub(super) fn find<'a>(
    site: &'a Site,
    account: &str,
    container: &str,
) -> Result<&'a SwiftContainer, Refused> {
    site.object
        .accounts
        .get(account)
        .and_then(|held| held.containers.get(container))
        .ok_or_else(|| error(StatusCode::NOT_FOUND))
}

/// PUT (create or update) and POST (update).
fn write(site: &mut Site, method: &str, account: &str, name_: &str, headers: &HeaderMap) -> Answer {
    if name_.len() > MAX_CONTAINER_NAME {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            format!(
                "Container name length of {} longer than {MAX_CONTAINER_NAME}",
                name_.len()
            ),
        ));
    }
    let history = history_change(headers)?;
    let exists = find(site, account, name_).is_ok();
    if method == "POST" && !exists {
        return Err(error(StatusCode::NOT_FOUND));
    }
    let created = issue_timestamp(site).internal();
    let container = site
        .object
        .accounts
        .entry(account.to_string())
        .or_default()
        .containers
        .entry(name_.to_string())
        .or_insert_with(|| SwiftContainer {
            created,
            metadata: Default::default(),
            history_location: None,
            objects: Default::default(),
        });
    for (key, value) in metadata(headers, wire::CONTAINER_META_PREFIX) {
        if value.is_empty() {
            container.metadata.remove(&key);
        } else {
            container.metadata.insert(key, value);
        }
    }
    if let Some(location) = history {
        container.history_location = location;
    }
    Ok(status_page(
        match (method, exists) {
            ("POST", _) => StatusCode::NO_CONTENT,
            (_, true) => StatusCode::ACCEPTED,
            (_, false) => StatusCode::CREATED,
        },
        Vec::new(),
    ))
}

/// How a request changes history mode: `Some(Some(archive))` sets it, `Some(None)` removes it.
fn history_change(headers: &HeaderMap) -> Result<Option<Option<String>>, Refused> {
    let history = header_text(headers, wire::X_HISTORY_LOCATION);
    let versions = header_text(headers, wire::X_VERSIONS_LOCATION);
    match (history, versions) {
        (Some(h), Some(v)) if !h.is_empty() && !v.is_empty() => {
            return Err(plain(
                StatusCode::BAD_REQUEST,
                format!(
                    "Only one of {} or {} may be specified",
                    wire::X_VERSIONS_LOCATION,
                    wire::X_HISTORY_LOCATION
                ),
            ));
        }
        (_, Some(v)) if !v.is_empty() => {
            return Err(plain(
                StatusCode::NOT_IMPLEMENTED,
                "X-Versions-Location (stack mode) is not simulated by the twin; use X-History-Location",
            ));
        }
        _ => {}
    }
    if let Some(archive) = history.filter(|h| !h.is_empty()) {
        if archive.contains('/') {
            return Err(plain(
                StatusCode::PRECONDITION_FAILED,
                "Container name cannot contain slashes",
            ));
        }
        return Ok(Some(Some(archive.to_string())));
    }
    let removed = history.is_some()
        || versions.is_some_and(str::is_empty)
        || header_text(headers, wire::X_REMOVE_HISTORY_LOCATION).is_some_and(|v| !v.is_empty());
    Ok(removed.then_some(None))
}
