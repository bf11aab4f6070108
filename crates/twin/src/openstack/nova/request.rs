//! The request context of every Nova call: the token, the microversion and its headers, links, pagination, and the error bodies Nova answers with.

use crate::errors::{self, Service};
use crate::openstack::auth;
use crate::openstack::state::Token;
use crate::world::Site;
use crate::world::SiteContext;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use protector_wire::nova as model;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The lowest microversion (2.1) and the highest the twin serves (2.100: Nova 2025.1, which
/// adds `scheduler_hints` to the server; 2.96 added `pinned_availability_zone`).
pub const MIN_MICROVERSION: u32 = 1;

pub const MAX_MICROVERSION: u32 = 100;

/// Nova's `[api] max_limit`: the largest page.
pub(super) const MAX_LIMIT: usize = 1000;

/// Nova's default `metadata_items` quota.
pub(super) const METADATA_ITEMS: usize = 128;

pub(super) const OPENSTACK_API_VERSION: &str = "openstack-api-version";

pub(super) const LEGACY_API_VERSION: &str = "x-openstack-nova-api-version";

/// A request to the v2.1 API that passed keystonemiddleware (a valid token: else 401) and
/// microversion negotiation (else 400/406).
pub struct Api {
    /// The minor microversion (major is always 2).
    pub minor: u32,
    pub token: Token,
    /// `http://HOST/compute`: what Nova's `application_url` gives links.
    pub base: String,
}

impl FromRequestParts<SiteContext> for Api {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SiteContext,
    ) -> Result<Self, Self::Rejection> {
        let (token, base) = {
            let site = state.lock();
            let token = auth::token(&site, &parts.headers).map_err(IntoResponse::into_response)?;
            (token, base_url(&site, &parts.headers))
        };
        // Version errors carry no version headers (Nova fails before it has a version).
        let minor = negotiate(&parts.headers)
            .map_err(|(status, message)| errors::respond(Service::Nova, status, message))?;
        Ok(Api { minor, token, base })
    }
}

/// The base of links for an unauthenticated request (version documents).
pub struct Base(pub(super) String);

impl FromRequestParts<SiteContext> for Base {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SiteContext,
    ) -> Result<Self, Self::Rejection> {
        let site = state.lock();
        Ok(Base(base_url(&site, &parts.headers)))
    }
}

/// `scheme://HOST/compute`, HOST as the client addressed the site (Nova builds links from the
/// request's host).
pub(super) fn base_url(site: &Site, headers: &HeaderMap) -> String {
    let endpoint = site.endpoints.openstack.trim_end_matches('/');
    match headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
    {
        Some(host) => {
            let scheme = if endpoint.starts_with("https://") {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}/compute")
        }
        None => format!("{endpoint}/compute"),
    }
}

/// The microversion a request asks for, as `microversion_parse.get_version` reads it: the
/// `compute` entry of `OpenStack-API-Version`, else the legacy header.
pub(super) fn requested_version(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(OPENSTACK_API_VERSION) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut words = item.split_whitespace();
            if words
                .next()
                .is_some_and(|service| service.eq_ignore_ascii_case("compute"))
                && let Some(version) = words.next()
            {
                return Some(version.to_string());
            }
        }
    }
    headers
        .get(LEGACY_API_VERSION)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// Nova's `set_api_version_request`: the minor version, or the 400/406 it answers.
pub(super) fn negotiate(headers: &HeaderMap) -> Result<u32, Failure> {
    let Some(version) = requested_version(headers) else {
        return Ok(MIN_MICROVERSION);
    };

    if version == "latest" {
        return Ok(MAX_MICROVERSION);
    }
    let parsed = version.split_once('.').and_then(|(major, minor)| {
        let valid = |text: &str, zero_ok: bool| {
            !text.is_empty()
                && text.bytes().all(|b| b.is_ascii_digit())
                && (text == "0" && zero_ok || !text.starts_with('0'))
        };
        (valid(major, false) && valid(minor, true))
            .then(|| Some((major.parse::<u64>().ok()?, minor.parse::<u64>().ok()?)))
            .flatten()
    });
    let Some((major, minor)) = parsed else {
        return Err(bad_request(format!(
            "API Version String {version} is of invalid format. Must be of format MajorNum.MinorNum."
        )));
    };

    if major != 2 || minor < u64::from(MIN_MICROVERSION) || minor > u64::from(MAX_MICROVERSION) {
        return Err(fail(
            StatusCode::NOT_ACCEPTABLE,
            format!(
                "Version {major}.{minor} is not supported by the API. Minimum is 2.{MIN_MICROVERSION} and maximum is 2.{MAX_MICROVERSION}."
            ),
        ));
    }
    Ok(minor as u32)
}

pub(super) type Failure = (StatusCode, String);

pub(super) fn fail(status: StatusCode, message: impl Into<String>) -> Failure {
    (status, message.into())
}

pub(super) fn bad_request(message: impl Into<String>) -> Failure {
    fail(StatusCode::BAD_REQUEST, message)
}

impl Api {
    pub(super) fn at_least(&self, minor: u32) -> bool {
        self.minor >= minor
    }

    pub(super) fn is_admin(&self) -> bool {
        self.token.roles.iter().any(|role| role == "admin")
    }

    /// Nova's `PROJECT_READER_OR_ADMIN` default.
    pub(super) fn can_read(&self) -> bool {
        self.token
            .roles
            .iter()
            .any(|role| matches!(role.as_str(), "reader" | "member" | "admin"))
    }

    /// Nova's `PROJECT_MEMBER_OR_ADMIN` default.
    pub(super) fn can_write(&self) -> bool {
        self.token
            .roles
            .iter()
            .any(|role| matches!(role.as_str(), "member" | "admin"))
    }

    pub(super) fn policy(&self, allowed: bool, rule: &str) -> Result<(), Failure> {
        if allowed {
            Ok(())
        } else {
            Err(fail(
                StatusCode::FORBIDDEN,
                format!("Policy doesn't allow os_compute_api:{rule} to be performed."),
            ))
        }
    }

    pub(super) fn version_headers(&self, response: &mut Response) {
        version_headers(self.minor, response);
    }

    pub(super) fn reply<T: Serialize>(&self, status: StatusCode, body: &T) -> Response {
        let mut response = (status, axum::Json(body)).into_response();
        self.version_headers(&mut response);
        response
    }

    pub(super) fn empty(&self, status: StatusCode) -> Response {
        let mut response = status.into_response();
        self.version_headers(&mut response);
        response
    }

    pub(super) fn error(&self, (status, message): Failure) -> Response {
        let mut response = errors::respond(Service::Nova, status, message);
        self.version_headers(&mut response);
        response
    }

    pub(super) fn done<T: Serialize>(
        &self,
        status: StatusCode,
        result: Result<T, Failure>,
    ) -> Response {
        match result {
            Ok(body) => self.reply(status, &body),
            Err(failure) => self.error(failure),
        }
    }

    pub(super) fn links(&self, collection: &str, id: &str) -> Vec<model::Link> {
        vec![
            link(format!("{}/v2.1/{collection}/{id}", self.base), "self"),
            link(format!("{}/{collection}/{id}", self.base), "bookmark"),
        ]
    }

    pub(super) fn bookmark(&self, collection: &str, id: &str) -> Vec<model::Link> {
        vec![link(format!("{}/{collection}/{id}", self.base), "bookmark")]
    }

    pub(super) fn sees(&self, project_id: &str) -> bool {
        self.is_admin() || self.token.project_id == project_id
    }
}

/// The microversion a response was made at, in both headers, and `Vary` on both (Nova adds two
/// `Vary` headers).
pub(super) fn version_headers(minor: u32, response: &mut Response) {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("compute 2.{minor}")) {
        headers.insert("OpenStack-API-Version", value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("2.{minor}")) {
        headers.insert("X-OpenStack-Nova-API-Version", value);
    }
    headers.append(
        header::VARY,
        HeaderValue::from_static("OpenStack-API-Version"),
    );
    headers.append(
        header::VARY,
        HeaderValue::from_static("X-OpenStack-Nova-API-Version"),
    );
}

pub(super) fn link(href: String, rel: &str) -> model::Link {
    model::Link {
        href,
        rel: rel.to_string(),
        media_type: None,
    }
}

/// A request body as JSON; Nova's answer to one that is not.
pub(super) fn parse_body(body: &Bytes) -> Result<Value, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body).map_err(|_| bad_request("Malformed request body"))
}

/// Nova's jsonschema error text.
pub(super) fn invalid_input(field: &str, value: &Value, reason: impl std::fmt::Display) -> Failure {
    bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {}. {reason}",
        python_repr(value)
    ))
}

pub(super) fn invalid_query(field: &str, value: &str, reason: impl std::fmt::Display) -> Failure {
    bad_request(format!(
        "Invalid input for query parameters {field}. Value: {value}. {reason}"
    ))
}

/// A JSON value as Python prints it, for error messages that echo the input.
pub(super) fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(repr_item).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(key, value)| format!("'{key}': {}", repr_item(value)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub(super) fn repr_item(value: &Value) -> String {
    match value {
        Value::String(text) => format!("'{text}'"),
        other => python_repr(other),
    }
}

/// Nova's query schemas from 2.75 on (`additionalProperties: False`): a parameter not in
/// `known` is a 400; before, unknown parameters are ignored.
pub(super) fn known_params(
    api: &Api,
    query: &[(String, String)],
    known: &[&str],
) -> Result<(), Failure> {
    match query.iter().find(|(key, _)| !known.contains(&key.as_str())) {
        Some((key, _)) if api.at_least(75) => Err(bad_request(format!(
            "Invalid input for query parameters {key}. Value: {key}. Additional properties are not allowed ('{key}' was unexpected)"
        ))),
        _ => Ok(()),
    }
}

/// Nova's `common.get_limit_and_marker`.
pub(super) fn limit_and_marker(
    query: &[(String, String)],
) -> Result<(Option<usize>, Option<String>), Failure> {
    let mut limit = None;
    let mut marker = None;
    for (key, value) in query {
        match key.as_str() {
            "limit" => {
                limit = Some(value.parse::<usize>().map_err(|_| {
                    invalid_query(
                        "limit",
                        value,
                        format!("'{value}' does not match '^[0-9]*$'"),
                    )
                })?)
            }
            "marker" => marker = Some(value.clone()),
            _ => {}
        }
    }
    Ok((limit, marker))
}

/// Nova's `_get_collection_links`: a `next` link when the page holds as many items as were
/// allowed, with the request's parameters (sorted, one value each) and `marker` set to the
/// last item.
pub(super) fn next_link<T>(
    api: &Api,
    query: &[(String, String)],
    collection: &str,
    page_size: usize,
    items: &[T],
    id: impl Fn(&T) -> &String,
) -> Option<Vec<model::Link>> {
    let last = items.last()?;
    if page_size == 0 || items.len() != page_size {
        return None;
    }
    let mut params: BTreeMap<&str, &str> = query
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    params.insert("marker", id(last));
    let encoded: Vec<String> = params
        .iter()
        .map(|(key, value)| format!("{}={}", quote_plus(key), quote_plus(value)))
        .collect();
    Some(vec![link(
        format!("{}/v2.1/{collection}?{}", api.base, encoded.join("&")),
        "next",
    )])
}

/// Python's `urllib.parse.quote_plus`.
pub(super) fn quote_plus(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
