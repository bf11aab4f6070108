//! What every Neutron call shares: the token and its policy, `NeutronError` bodies.

use crate::openstack::auth;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protector_wire::neutron as wire;
use serde_json::Value;

/// The MTU of the twin's (Geneve) tenant networks, as DevStack with OVN sets it.
pub(super) const MTU: u32 = 1442;

/// A Neutron error: status, exception type and message, answered as `NeutronError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeutronError {
    pub status: StatusCode,
    /// Neutron's exception class name: `IpAddressAlreadyAllocated`, `NetworkNotFound`, ...
    pub kind: String,
    pub message: String,
}

impl NeutronError {
    pub fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        NeutronError {
            status,
            kind: kind.to_string(),
            message: message.into(),
        }
    }

    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        NeutronError::new(StatusCode::BAD_REQUEST, "HTTPBadRequest", message)
    }

    pub(super) fn invalid_input(message: &str) -> Self {
        NeutronError::new(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            format!("Invalid input for operation: {message}."),
        )
    }

    pub fn network_not_found(id: &str) -> Self {
        NeutronError::new(
            StatusCode::NOT_FOUND,
            "NetworkNotFound",
            format!("Network {id} could not be found."),
        )
    }

    pub fn subnet_not_found(id: &str) -> Self {
        NeutronError::new(
            StatusCode::NOT_FOUND,
            "SubnetNotFound",
            format!("Subnet {id} could not be found."),
        )
    }

    pub fn port_not_found(id: &str) -> Self {
        NeutronError::new(
            StatusCode::NOT_FOUND,
            "PortNotFound",
            format!("Port {id} could not be found."),
        )
    }

    pub fn security_group_not_found(id: &str) -> Self {
        NeutronError::new(
            StatusCode::NOT_FOUND,
            "SecurityGroupNotFound",
            format!("Security group {id} does not exist"),
        )
    }

    pub(super) fn policy(rule: &str) -> Self {
        NeutronError::new(
            StatusCode::FORBIDDEN,
            "PolicyNotAuthorized",
            format!("{rule} is disallowed by policy"),
        )
    }
}

impl IntoResponse for NeutronError {
    fn into_response(self) -> Response {
        let body = wire::ErrorResponse {
            neutron_error: wire::ErrorDetail {
                error_type: self.kind,
                message: self.message,
                detail: String::new(),
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// Either error a handler meets: no valid token (Keystone's 401) or Neutron's own.
pub(super) enum Failure {
    Unauthorized(auth::Unauthorized),
    Neutron(NeutronError),
}

impl From<auth::Unauthorized> for Failure {
    fn from(error: auth::Unauthorized) -> Self {
        Failure::Unauthorized(error)
    }
}

impl From<NeutronError> for Failure {
    fn from(error: NeutronError) -> Self {
        Failure::Neutron(error)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Unauthorized(error) => error.into_response(),
            Failure::Neutron(error) => error.into_response(),
        }
    }
}

pub(super) fn answer(result: Result<(StatusCode, Value), Failure>) -> Response {
    match result {
        Ok((StatusCode::NO_CONTENT, _)) => StatusCode::NO_CONTENT.into_response(),
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(failure) => failure.into_response(),
    }
}

pub(super) async fn not_found() -> Response {
    NeutronError::new(
        StatusCode::NOT_FOUND,
        "HTTPNotFound",
        "The resource could not be found.",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::super::ports::*;
    use protector_wire::neutron as wire;
    use serde_json::json;

    #[test]
    fn policy_rules_compose_like_neutron() {
        let request: wire::PortCreate = serde_json::from_value(json!({
            "network_id": "n",
            "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.5"}]
        }))
        .unwrap();
        assert_eq!(
            create_rule(&request),
            "(rule:create_port and (rule:create_port:fixed_ips and \
             (rule:create_port:fixed_ips:subnet_id and rule:create_port:fixed_ips:ip_address)))"
        );
        let plain: wire::PortCreate = serde_json::from_value(json!({"network_id": "n"})).unwrap();
        assert_eq!(create_rule(&plain), "rule:create_port");
    }
}
