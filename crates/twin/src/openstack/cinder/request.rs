//! What every Cinder call shares: microversions and version discovery, Cinder's error bodies, URL text.

use crate::world::Site;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protector_wire::cinder as wire;
use serde::Serialize;

/// The highest microversion the twin's Cinder speaks (3.71: Cinder 2023.2 and later); the
/// lowest is 3.0.
pub const MAX_MICROVERSION: u32 = 71;

/// The `updated` date of Cinder's v3 version document (unchanged since Rocky).
pub(super) const VERSION_UPDATED: &str = "2018-07-17T00:00:00Z";

/// `osapi_max_limit`: the largest page, and the page size when `limit` is absent.
pub(super) const MAX_LIMIT: usize = 1000;

pub(super) const GIB: u64 = 1 << 30;

/// Cinder's answer to deleting or unmanaging a volume in the wrong state (`InvalidVolume`).
pub const INVALID_VOLUME_STATE: &str = "Invalid volume: Volume status must be available or \
    error or error_restoring or error_extending or error_managing and must not be migrating, \
    attached, belong to a group, have snapshots or be disassociated from snapshots after volume \
    transfer.";
/// The class name the Pure driver's messages start with (iSCSI is the twin's protocol).
pub(super) const DRIVER_CLASS: &str = "PureISCSIDriver";

// Microversions that change behaviour.
pub(super) const MV_MANAGE_EXISTING_LIST: u32 = 8;

pub(super) const MV_GROUP_VOLUME: u32 = 13;

pub(super) const MV_MANAGE_CLUSTER: u32 = 16;

pub(super) const MV_LIST_MANAGEABLE_CLUSTER: u32 = 17;

pub(super) const MV_PROVIDER_ID: u32 = 21;

pub(super) const MV_RESOURCE_FILTER: u32 = 33;

pub(super) const MV_LIKE_FILTER: u32 = 34;

pub(super) const MV_SUPPORT_COUNT: u32 = 45;

pub(super) const MV_SHARED_TARGETS: u32 = 48;

pub(super) const MV_CLUSTER_NAME: u32 = 61;

pub(super) const MV_VOLUME_TYPE_ID: u32 = 63;

pub(super) const MV_USE_QUOTA: u32 = 65;

pub(super) const MV_SHARED_TARGETS_TRISTATE: u32 = 69;

/// A Cinder error: the HTTP status and the message of its fault body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CinderError {
    pub status: u16,
    pub message: String,
}

impl CinderError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        CinderError {
            status,
            message: message.into(),
        }
    }

    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        CinderError::new(400, message)
    }

    pub(super) fn invalid_input(reason: impl AsRef<str>) -> Self {
        CinderError::new(400, format!("Invalid input received: {}", reason.as_ref()))
    }

    pub(super) fn not_found() -> Self {
        CinderError::new(404, "The resource could not be found.")
    }

    pub(super) fn volume_not_found(id: &str) -> Self {
        CinderError::new(404, format!("Volume {id} could not be found."))
    }

    /// `PolicyNotAuthorized`.
    pub(super) fn policy(action: &str) -> Self {
        CinderError::new(
            403,
            format!("Policy doesn't allow {action} to be performed."),
        )
    }
}

impl IntoResponse for CinderError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = wire::ErrorResponse::for_status(self.status, self.message);
        let over_limit = self.status == 413;
        if let (true, wire::ErrorResponse::OverLimit(detail)) = (over_limit, &mut body) {
            // QuotaError: `Retry-After: 0`, repeated in the body.
            detail.retry_after = Some("0".to_string());
        }
        let mut response = json(status, &body);
        if over_limit {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
        }
        response
    }
}

pub(super) fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (status, axum::Json(body)).into_response()
}

pub(super) fn empty(status: StatusCode) -> Response {
    status.into_response()
}

pub(super) fn version_document(base: &str) -> wire::ApiVersion {
    wire::ApiVersion {
        id: "v3.0".to_string(),
        status: "CURRENT".to_string(),
        version: format!("3.{MAX_MICROVERSION}"),
        min_version: "3.0".to_string(),
        updated: VERSION_UPDATED.to_string(),
        links: vec![
            wire::VersionLink {
                rel: "describedby".to_string(),
                media_type: Some("text/html".to_string()),
                href: "https://docs.openstack.org/".to_string(),
            },
            wire::VersionLink {
                rel: "self".to_string(),
                media_type: None,
                href: format!("{base}/volume/v3/"),
            },
        ],
        media_types: vec![wire::MediaType {
            base: "application/json".to_string(),
            media_type: "application/vnd.openstack.volume+json;version=3".to_string(),
        }],
    }
}

/// The microversion a request asks for (`OpenStack-API-Version: volume 3.N`; 3.0 without).
pub(super) fn microversion(headers: &HeaderMap) -> Result<u32, CinderError> {
    let items = headers
        .get_all("openstack-api-version")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for item in items {
        let mut words = item.split_whitespace();
        let (Some(service), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        if !service.eq_ignore_ascii_case("volume") {
            continue;
        }
        if version.eq_ignore_ascii_case("latest") {
            return Ok(MAX_MICROVERSION);
        }
        let parsed = version.split_once('.').and_then(|(major, minor)| {
            Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?))
        });
        let Some((major, minor)) = parsed else {
            return Err(CinderError::bad_request(format!(
                "API Version String {version} is of invalid format. Must be of format \
                 MajorNum.MinorNum."
            )));
        };
        if major != 3 || minor > MAX_MICROVERSION {
            return Err(CinderError::new(
                406,
                format!(
                    "Version {major}.{minor} is not supported by the API. Minimum is 3.0 and \
                     maximum is 3.{MAX_MICROVERSION}."
                ),
            ));
        }
        return Ok(minor);
    }
    Ok(0)
}

/// The URL the site is served at (Cinder's `public_endpoint`); the request's `Host` when the
/// site has not bound its port yet (unit tests).
pub(super) fn base_url(site: &Site, headers: &HeaderMap) -> String {
    if !site.endpoints.openstack.is_empty() {
        return site.endpoints.openstack.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

pub(super) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `application/x-www-form-urlencoded`, as Python's `urlencode`.
pub(super) fn url_encode(pairs: &[(String, String)]) -> String {
    let encode = |text: &str| {
        let mut out = String::new();
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                    out.push(byte as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
        out
    };

    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Removes every `key` from the query; the last value wins.
pub(super) fn take(params: &mut Vec<(String, String)>, key: &str) -> Option<String> {
    let mut value = None;
    params.retain(|(k, v)| {
        if k == key {
            value = Some(v.clone());
            false
        } else {
            true
        }
    });
    value
}

/// `limit` (default and maximum `osapi_max_limit`), as Cinder's `_get_limit_param`.
pub(super) fn take_limit(params: &mut Vec<(String, String)>) -> Result<usize, CinderError> {
    let Some(limit) = take(params, "limit") else {
        return Ok(MAX_LIMIT);
    };

    let limit: i64 = limit
        .trim()
        .parse()
        .map_err(|_| CinderError::bad_request("limit param must be an integer"))?;
    if limit < 0 {
        return Err(CinderError::bad_request("limit param must be positive"));
    }
    Ok((limit as usize).min(MAX_LIMIT))
}

pub(super) fn take_offset(params: &mut Vec<(String, String)>) -> Result<usize, CinderError> {
    let Some(offset) = take(params, "offset") else {
        return Ok(0);
    };

    let offset: i64 = offset
        .trim()
        .parse()
        .map_err(|_| CinderError::invalid_input("offset must be an integer."))?;
    if offset < 0 {
        return Err(CinderError::invalid_input("offset must be >= 0."));
    }
    Ok(offset as usize)
}

/// `true`/`false` as oslo's `bool_from_string`; `strict` rejects anything else.
pub(super) fn parse_bool(value: &str, strict: bool) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ if strict => None,
        _ => Some(false),
    }
}
