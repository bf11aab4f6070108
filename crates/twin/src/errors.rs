//! Error responses in each service's real body shape, shared by the handlers and by fault
//! injection, so a client sees the same error whether the twin meant it or a test injected it.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The services a site serves; also the `service` of a fault rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Keystone,
    Nova,
    Cinder,
    Neutron,
    Swift,
    Flasharray,
}

impl Service {
    /// The service a request path belongs to (DevStack-style prefixes; `/api` is the array).
    pub fn of_path(path: &str) -> Option<Service> {
        let first = path.trim_start_matches('/').split('/').next()?;
        Some(match first {
            "identity" => Service::Keystone,
            "compute" => Service::Nova,
            "volume" => Service::Cinder,
            "network" => Service::Neutron,
            "v1" | "info" => Service::Swift,
            "api" => Service::Flasharray,
            _ => return None,
        })
    }
}

/// Nova's and Cinder's fault names by status (their WSGI fault mapping).
fn nova_style_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 | 429 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

/// Neutron's exception type names by status.
fn neutron_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        429 => "OverQuota",
        503 => "ServiceUnavailable",
        _ => "InternalError",
    }
}

/// The body `service` answers with for `status` and `message`.
pub fn body(service: Service, status: StatusCode, message: &str) -> serde_json::Value {
    match service {
        Service::Keystone => json!({
            "error": {
                "code": status.as_u16(),
                "message": message,
                "title": status.canonical_reason().unwrap_or("Error"),
            }
        }),
        Service::Nova | Service::Cinder => json!({
            nova_style_name(status): { "code": status.as_u16(), "message": message }
        }),
        Service::Neutron => json!({
            "NeutronError": { "type": neutron_type(status), "message": message, "detail": "" }
        }),
        Service::Swift => json!(swift_page(status, message)),
        Service::Flasharray => json!({
            "errors": [ { "message": message, "context": "" } ]
        }),
    }
}

/// Swift's error body (swob's): a line of HTML with the status's title and explanation.
pub fn swift_page(status: StatusCode, explanation: &str) -> String {
    let title = match status.as_u16() {
        500 => "Internal Error",
        code => StatusCode::from_u16(code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error"),
    };
    format!("<html><h1>{title}</h1><p>{explanation}</p></html>")
}

/// An error response of `service`.
pub fn respond(service: Service, status: StatusCode, message: impl AsRef<str>) -> Response {
    if service == Service::Swift {
        let page = swift_page(status, message.as_ref());
        return (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
            page,
        )
            .into_response();
    }
    (status, Json(body(service, status, message.as_ref()))).into_response()
}

/// 429 with `Retry-After`, as an overloaded API answers.
pub fn over_limit(service: Service, retry_after_secs: u64) -> Response {
    let mut response = respond(
        service,
        StatusCode::TOO_MANY_REQUESTS,
        "This request was rate-limited.",
    );
    if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// A FlashArray error with the context (the object name) the real array puts in it.
pub fn array_error(status: StatusCode, message: &str, context: &str) -> Response {
    (
        status,
        Json(json!({ "errors": [ { "message": message, "context": context } ] })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_follow_each_service() {
        let nova = body(
            Service::Nova,
            StatusCode::NOT_FOUND,
            "Server x could not be found.",
        );
        assert_eq!(nova["itemNotFound"]["code"], 404);
        let neutron = body(Service::Neutron, StatusCode::CONFLICT, "IP in use");
        assert_eq!(neutron["NeutronError"]["type"], "Conflict");
        let keystone = body(Service::Keystone, StatusCode::UNAUTHORIZED, "no");
        assert_eq!(keystone["error"]["title"], "Unauthorized");
        let array = body(
            Service::Flasharray,
            StatusCode::BAD_REQUEST,
            "does not exist",
        );
        assert_eq!(array["errors"][0]["message"], "does not exist");
        assert_eq!(
            Service::of_path("/volume/v3/abc/volumes"),
            Some(Service::Cinder)
        );
        assert_eq!(
            Service::of_path("/api/2.26/volumes"),
            Some(Service::Flasharray)
        );
        assert_eq!(
            Service::of_path("/v1/AUTH_abc/state/lock"),
            Some(Service::Swift)
        );
        assert_eq!(
            swift_page(
                StatusCode::PRECONDITION_FAILED,
                "A precondition for this request was not met."
            ),
            "<html><h1>Precondition Failed</h1><p>A precondition for this request was not met.</p></html>"
        );
        assert_eq!(Service::of_path("/other"), None);
    }
}
