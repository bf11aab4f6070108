//! What every Swift call shares: the token and the account it may use, swob's error pages,
//! header reading, the write timestamps, and the time formats Swift answers with.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protector_wire::swift::{self as wire, Timestamp};
use std::collections::BTreeMap;

use crate::errors::{Service, respond};
use crate::openstack::auth;
use crate::world::Site;

/// A handler's answer: its response, or the error that ends it early.
pub(super) type Answer = Result<Response, Refused>;

/// An error response, boxed: it travels through `?` a long way.
pub(super) type Refused = Box<Response>;

/// The roles keystoneauth lets act on their project's account (`operator_roles`).
pub(super) const OPERATOR_ROLES: [&str; 2] = ["admin", "member"];

/// An error as swob answers it: the status's title and its standard explanation, as HTML.
pub(super) fn error(status: StatusCode) -> Refused {
    let explanation = match status.as_u16() {
        401 => {
            "This server could not verify that you are authorized to access the document you requested."
        }
        403 => "Access was denied to this resource.",
        404 => "The resource could not be found.",
        405 => "The method is not allowed for this resource.",
        409 => "There was a conflict when trying to complete your request.",
        411 => "Length Required",
        412 => "A precondition for this request was not met.",
        413 => "The body of your request was too large for this server.",
        422 => "Unable to process the contained instructions",
        _ => "The server has either erred or is incapable of performing the requested operation.",
    };
    Box::new(respond(Service::Swift, status, explanation))
}

/// An error whose body Swift writes itself, as plain text (`If-None-Match only supports *`).
pub(super) fn plain(status: StatusCode, text: impl Into<String>) -> Refused {
    let content_type = [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")];
    Box::new((status, content_type, text.into()).into_response())
}

/// A success without a body of its own: 201 and 204 empty, 202 with swob's page.
pub(super) fn status_page(status: StatusCode, headers: Vec<(HeaderName, String)>) -> Response {
    let body = match status {
        StatusCode::ACCEPTED => crate::errors::swift_page(
            StatusCode::ACCEPTED,
            "The request is accepted for processing.",
        ),
        _ => String::new(),
    };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        body,
    )
        .into_response();
    if status == StatusCode::NO_CONTENT {
        response.headers_mut().remove(header::CONTENT_TYPE);
    }
    with_headers(response, headers)
}

pub(super) fn with_headers(mut response: Response, headers: Vec<(HeaderName, String)>) -> Response {
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// The token's project must own the account (`AUTH_<project_id>`) and the token carry an
/// operator role, as keystoneauth requires: else 401 without a valid token, 403 with one.
pub(super) fn authorize(site: &Site, headers: &HeaderMap, account: &str) -> Result<(), Refused> {
    let token = auth::token(site, headers).map_err(|_| unauthorized(site))?;
    let roles: Vec<String> = OPERATOR_ROLES.iter().map(|r| r.to_string()).collect();
    if account != format!("AUTH_{}", token.project_id) || !auth::has_any_role(&token, &roles) {
        return Err(error(StatusCode::FORBIDDEN));
    }
    Ok(())
}

fn unauthorized(site: &Site) -> Refused {
    let mut response = error(StatusCode::UNAUTHORIZED);
    let challenge = format!("Keystone uri=\"{}/identity\"", site.endpoints.openstack);
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("www-authenticate"), value);
    }
    response
}

/// A header's value as text.
pub(super) fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The ETags an `If-Match`/`If-None-Match` lists, quotes removed (`*` kept).
pub(super) fn etag_list(headers: &HeaderMap, name: &str) -> Option<Vec<String>> {
    let value = header_text(headers, name)?;
    Some(
        value
            .split(',')
            .map(|tag| tag.trim().trim_matches('"').to_string())
            .collect(),
    )
}

/// The user metadata a request sets: `prefix<name>` headers, names lower-cased without the
/// prefix, values as sent (empty: remove).
pub(super) fn metadata(headers: &HeaderMap, prefix: &str) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let key = name.as_str().strip_prefix(prefix)?;
            Some((key.to_string(), value.to_str().ok()?.to_string()))
        })
        .collect()
}

/// The timestamp of a write now: the site's wall clock, and distinct from (newer than) the
/// last one issued when requests come within one tick. A clock stepped back by a second or more
/// issues older timestamps, as a proxy whose clock was stepped does.
pub(super) fn issue_timestamp(site: &mut Site) -> Timestamp {
    let now = Timestamp::from_micros(site.clock.wall().timestamp_micros());
    let last = site.object.last_timestamp;
    let issued = if now > last || last.0 - now.0 >= 100_000 {
        now
    } else {
        Timestamp(last.0 + 1)
    };
    site.object.last_timestamp = last.max(issued);
    issued
}

/// The site's wall clock in Unix seconds (`X-Delete-At` compares with it).
pub(super) fn now_secs(site: &Site) -> i64 {
    site.clock.wall().timestamp()
}

/// `Last-Modified` of a timestamp: rounded up to the second, IMF-fixdate.
pub(super) fn http_date(timestamp: Timestamp) -> String {
    chrono::DateTime::from_timestamp(timestamp.ceil_secs(), 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// A listing's `last_modified`: `2026-12-07T10:15:02.123450`.
pub(super) fn listing_time(timestamp: Timestamp) -> String {
    chrono::DateTime::from_timestamp_micros(timestamp.micros())
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

/// A stored timestamp (`Timestamp::internal`) read back.
pub(super) fn stored(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap_or_default()
}

pub(super) fn name(text: &'static str) -> HeaderName {
    HeaderName::from_static(text)
}

/// The headers every container answer carries besides its metadata.
pub(super) fn container_headers(
    container: &crate::openstack::state::SwiftContainer,
    now: i64,
) -> Vec<(HeaderName, String)> {
    let live = container
        .objects
        .values()
        .filter(|object| super::objects::listed(object, now));
    let (count, bytes) = live.fold((0u64, 0u64), |(count, bytes), object| {
        (count + 1, bytes + object.bytes)
    });
    let mut headers = vec![
        (name(wire::X_CONTAINER_OBJECT_COUNT), count.to_string()),
        (name(wire::X_CONTAINER_BYTES_USED), bytes.to_string()),
        (name(wire::X_TIMESTAMP), container.created.clone()),
        (name("x-put-timestamp"), container.created.clone()),
        (header::LAST_MODIFIED, http_date(stored(&container.created))),
        (name("x-storage-policy"), "Policy-0".to_string()),
        (header::ACCEPT_RANGES, "bytes".to_string()),
    ];
    if let Some(archive) = &container.history_location {
        headers.push((name(wire::X_HISTORY_LOCATION), archive.clone()));
    }
    for (key, value) in &container.metadata {
        if let Ok(header) =
            HeaderName::from_bytes(format!("{}{key}", wire::CONTAINER_META_PREFIX).as_bytes())
        {
            headers.push((header, value.clone()));
        }
    }
    headers
}
