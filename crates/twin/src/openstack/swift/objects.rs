//! Objects (`/v1/{account}/{container}/{object}`): PUT (201), GET and HEAD (200; 304 and 412
//! for `If-None-Match`/`If-Match`), POST (202: metadata, content type, expiry), DELETE (204).
//!
//! As Swift's proxy and object server answer:
//! - `If-None-Match: *` on PUT creates only: 412 when the object exists (any other value: 400);
//!   `If-Match` on PUT is ignored (no compare-and-swap); an `ETag` sent with the body must be its
//!   MD5, else 422;
//! - a PUT whose timestamp is not newer than the stored object's (the clock was stepped back)
//!   answers 202 and changes nothing; such a DELETE answers 409;
//! - `X-Delete-At`/`X-Delete-After` expire the object: 404 once due, and no longer there for
//!   `If-None-Match: *`; listings keep it until the object-expirer would have run (300 s);
//! - in a container with `X-History-Location`, a PUT or DELETE first copies the current object
//!   (if any) into the archive container as `<len:03x><name>/<its X-Timestamp>`, data, ETag and
//!   metadata kept; a DELETE then writes a zero-byte delete marker named with the time of the
//!   delete, whether or not the object existed. The copy happens before the PUT's own checks (a
//!   create-only PUT that fails with 412 has still archived the current object), and a missing
//!   archive container makes the PUT or DELETE a 412.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::IntoResponse;
use md5::{Digest, Md5};
use protector_wire::swift::{self as wire, Timestamp};
use std::collections::BTreeMap;

use super::containers::find;
use super::request::*;
use crate::openstack::state::SwiftObject;
use crate::world::Site;

/// The longest object name Swift accepts, in bytes.
const MAX_OBJECT_NAME: usize = 1024;

/// How long an expired object stays listed: the object-expirer's default `interval`.
const EXPIRER_INTERVAL_SECS: i64 = 300;

/// Whether the object is there for GET, HEAD, POST and conditional PUT at `now` (Unix secs).
pub(super) fn live(object: &SwiftObject, now: i64) -> bool {
    object.delete_at.is_none_or(|at| at > now)
}

/// Whether listings still show the object at `now`: until the expirer has removed it.
pub(super) fn listed(object: &SwiftObject, now: i64) -> bool {
    object
        .delete_at
        .is_none_or(|at| at + EXPIRER_INTERVAL_SECS > now)
}

/// One object request.
pub(super) fn object(
    site: &mut Site,
    method: &str,
    path: (&str, &str, &str),
    headers: &HeaderMap,
    body: Bytes,
) -> Answer {
    let (account, container, name_) = path;
    if name_.len() > MAX_OBJECT_NAME {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            format!(
                "Object name length of {} longer than {MAX_OBJECT_NAME}",
                name_.len()
            ),
        ));
    }
    find(site, account, container)?;
    match method {
        "PUT" => put(site, path, headers, body),
        "GET" | "HEAD" => read(site, method == "HEAD", path, headers),
        "POST" => post(site, path, headers),
        "DELETE" => delete(site, path),
        _ => Err(error(StatusCode::METHOD_NOT_ALLOWED)),
    }
}

fn current<'a>(
    site: &'a Site,
    (account, container, name_): (&str, &str, &str),
) -> Option<&'a SwiftObject> {
    let now = now_secs(site);
    site.object.accounts[account].containers[container]
        .objects
        .get(name_)
        .filter(|object| live(object, now))
}

fn put(site: &mut Site, path: (&str, &str, &str), headers: &HeaderMap, body: Bytes) -> Answer {
    let (_, _, name_) = path;
    archive_current(site, path)?;
    let sized = headers.contains_key(header::CONTENT_LENGTH)
        || header_text(headers, "transfer-encoding").is_some_and(|te| te.contains("chunked"));
    if !sized {
        return Err(error(StatusCode::LENGTH_REQUIRED));
    }
    let create_only = match etag_list(headers, wire::IF_NONE_MATCH) {
        None => false,
        Some(tags) if tags.iter().any(|tag| tag == "*") => true,
        Some(_) => {
            return Err(plain(
                StatusCode::BAD_REQUEST,
                "If-None-Match only supports *",
            ));
        }
    };
    let delete_at = expiry(site, headers)?;
    if create_only && current(site, path).is_some() {
        return Err(error(StatusCode::PRECONDITION_FAILED));
    }
    let etag = hex::md5(&body);
    if let Some(sent) = header_text(headers, wire::ETAG)
        && !sent.trim_matches('"').eq_ignore_ascii_case(&etag)
    {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY));
    }
    let Some((objects, timestamp)) = newer_write(site, path) else {
        return Ok(status_page(StatusCode::ACCEPTED, Vec::new()));
    };
    let content_type = header_text(headers, "content-type")
        .map(str::to_string)
        .unwrap_or_else(|| guess_content_type(name_).to_string());
    objects.insert(
        name_.to_string(),
        SwiftObject {
            bytes: body.len() as u64,
            body: body.to_vec(),
            etag: etag.clone(),
            content_type,
            timestamp: timestamp.internal(),
            metadata: nonempty(metadata(headers, wire::OBJECT_META_PREFIX)),
            delete_at,
        },
    );
    Ok(status_page(
        StatusCode::CREATED,
        vec![
            (header::ETAG, etag),
            (header::LAST_MODIFIED, http_date(timestamp)),
        ],
    ))
}

fn read(site: &Site, head: bool, path: (&str, &str, &str), headers: &HeaderMap) -> Answer {
    let if_match = etag_list(headers, wire::IF_MATCH);
    let Some(object) = current(site, path) else {
        // swob: `If-Match: *` has no current representation to match.
        let status = if if_match.is_some_and(|tags| tags.iter().any(|t| t == "*")) {
            StatusCode::PRECONDITION_FAILED
        } else {
            StatusCode::NOT_FOUND
        };
        return Err(error(status));
    };
    let matches = |tags: &Vec<String>| tags.iter().any(|t| t == "*" || *t == object.etag);
    let described = describe(object);
    if if_match.as_ref().is_some_and(|tags| !matches(tags)) {
        let refused = with_headers(*error(StatusCode::PRECONDITION_FAILED), described);
        return Err(Box::new(refused));
    }
    if etag_list(headers, wire::IF_NONE_MATCH).is_some_and(|tags| matches(&tags)) {
        return Ok(with_headers(
            StatusCode::NOT_MODIFIED.into_response(),
            described,
        ));
    }
    let body = if head {
        Vec::new()
    } else {
        object.body.clone()
    };
    let mut response = (StatusCode::OK, body).into_response();
    if head {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, object.bytes.into());
    }
    Ok(with_headers(response, described))
}

/// The headers that describe a stored object.
fn describe(object: &SwiftObject) -> Vec<(HeaderName, String)> {
    let timestamp = stored(&object.timestamp);
    let mut headers = vec![
        (header::CONTENT_TYPE, object.content_type.clone()),
        (header::ETAG, object.etag.clone()),
        (header::LAST_MODIFIED, http_date(timestamp)),
        (name(wire::X_TIMESTAMP), object.timestamp.clone()),
        (header::ACCEPT_RANGES, "bytes".to_string()),
    ];
    if let Some(at) = object.delete_at {
        headers.push((name(wire::X_DELETE_AT), at.to_string()));
    }
    for (key, value) in &object.metadata {
        let header = format!("{}{key}", wire::OBJECT_META_PREFIX);
        if let Ok(header) = HeaderName::from_bytes(header.as_bytes()) {
            headers.push((header, value.clone()));
        }
    }
    headers
}

/// POST: the object's metadata becomes the request's (all of it), with its content type and
/// expiry if given; a new timestamp, the data and ETag kept. No version is archived.
fn post(site: &mut Site, path: (&str, &str, &str), headers: &HeaderMap) -> Answer {
    if current(site, path).is_none() {
        return Err(error(StatusCode::NOT_FOUND));
    }
    let delete_at = expiry(site, headers)?;
    let timestamp = issue_timestamp(site).internal();
    let (account, container, name_) = path;
    let object = site
        .object
        .accounts
        .get_mut(account)
        .and_then(|held| held.containers.get_mut(container))
        .and_then(|held| held.objects.get_mut(name_))
        .expect("the object was found");
    object.metadata = nonempty(metadata(headers, wire::OBJECT_META_PREFIX));
    if let Some(content_type) = header_text(headers, "content-type") {
        object.content_type = content_type.to_string();
    }
    if delete_at.is_some() {
        object.delete_at = delete_at;
    }
    object.timestamp = timestamp;
    Ok(status_page(StatusCode::ACCEPTED, Vec::new()))
}

fn delete(site: &mut Site, path: (&str, &str, &str)) -> Answer {
    let (account, _, name_) = path;
    if let Some(archive) = archive_current(site, path)? {
        let marker = wire::archive_name(name_, issue_timestamp(site));
        let timestamp = issue_timestamp(site).internal();
        let archive = archive_container(site, account, &archive)?;
        archive.objects.insert(
            marker,
            SwiftObject {
                body: Vec::new(),
                bytes: 0,
                etag: hex::md5(b""),
                content_type: wire::DELETE_MARKER_CONTENT_TYPE.to_string(),
                timestamp,
                metadata: Default::default(),
                delete_at: None,
            },
        );
    }
    if current(site, path).is_none() {
        return Err(error(StatusCode::NOT_FOUND));
    }
    let Some((objects, _)) = newer_write(site, path) else {
        return Err(error(StatusCode::CONFLICT));
    };
    objects.remove(name_);
    Ok(status_page(StatusCode::NO_CONTENT, Vec::new()))
}

/// The container's objects and the timestamp of a write to `path` now; `None` when the stored
/// object is newer (the object server's 409, which the proxy answers a PUT with as 202).
fn newer_write<'a>(
    site: &'a mut Site,
    (account, container, name_): (&str, &str, &str),
) -> Option<(&'a mut BTreeMap<String, SwiftObject>, Timestamp)> {
    let timestamp = issue_timestamp(site);
    let objects = &mut site
        .object
        .accounts
        .get_mut(account)?
        .containers
        .get_mut(container)?
        .objects;
    let stale = objects
        .get(name_)
        .is_some_and(|existing| stored(&existing.timestamp) >= timestamp);
    (!stale).then_some((objects, timestamp))
}

/// History mode's copy of the current object before a PUT or DELETE changes it. Returns the
/// archive container's name when the container keeps history; a 412 when the archive is gone.
fn archive_current(site: &mut Site, path: (&str, &str, &str)) -> Result<Option<String>, Refused> {
    let (account, container, name_) = path;
    let Some(archive) = site.object.accounts[account].containers[container]
        .history_location
        .clone()
    else {
        return Ok(None);
    };
    let Some(previous) = current(site, path).cloned() else {
        return Ok(Some(archive));
    };
    let version = wire::archive_name(name_, stored(&previous.timestamp));
    let timestamp = issue_timestamp(site).internal();
    archive_container(site, account, &archive)?.objects.insert(
        version,
        SwiftObject {
            timestamp,
            ..previous
        },
    );
    Ok(Some(archive))
}

fn archive_container<'a>(
    site: &'a mut Site,
    account: &str,
    archive: &str,
) -> Result<&'a mut crate::openstack::state::SwiftContainer, Refused> {
    site.object
        .accounts
        .get_mut(account)
        .and_then(|held| held.containers.get_mut(archive))
        .ok_or_else(|| error(StatusCode::PRECONDITION_FAILED))
}

/// `X-Delete-At`/`X-Delete-After` as Unix seconds (`X-Delete-After` wins), or Swift's 400.
fn expiry(site: &Site, headers: &HeaderMap) -> Result<Option<i64>, Refused> {
    let now = now_secs(site);
    if let Some(after) = header_text(headers, wire::X_DELETE_AFTER) {
        let after: i64 = after
            .trim()
            .parse()
            .map_err(|_| plain(StatusCode::BAD_REQUEST, "Non-integer X-Delete-After"))?;
        if after < 0 {
            return Err(plain(StatusCode::BAD_REQUEST, "X-Delete-After in past"));
        }
        return Ok(Some(now + after));
    }
    let Some(at) = header_text(headers, wire::X_DELETE_AT) else {
        return Ok(None);
    };
    let at: i64 = at
        .trim()
        .split('.')
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|_| plain(StatusCode::BAD_REQUEST, "Non-integer X-Delete-At"))?;
    if at <= now {
        return Err(plain(StatusCode::BAD_REQUEST, "X-Delete-At in past"));
    }
    Ok(Some(at))
}

fn nonempty(metadata: BTreeMap<String, String>) -> BTreeMap<String, String> {
    metadata
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// The proxy's guess when a PUT names no content type (Python's `mimetypes`, the few a state
/// store meets).
fn guess_content_type(name_: &str) -> &'static str {
    match name_.rsplit_once('.').map(|(_, ext)| ext) {
        Some("json") => "application/json",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}

mod hex {
    use super::*;

    /// MD5 of `data`, lowercase hex: an object's ETag.
    pub fn md5(data: &[u8]) -> String {
        Md5::digest(data)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// Read by tests: the timestamp an object was written at.
#[cfg(test)]
pub(super) fn timestamp_of(object: &SwiftObject) -> Timestamp {
    stored(&object.timestamp)
}
