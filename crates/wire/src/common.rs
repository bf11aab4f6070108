//! Serde helpers shared by the services' wire models: the shapes OpenStack APIs use that serde
//! has no attribute for (a field absent vs null, booleans sent as strings), and the fault body
//! Nova and Cinder share.

use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// A JSON boolean, or the string `"true"`/`"false"` (any case) standing for one.
pub fn bool_or_bool_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    struct BoolVisitor;
    impl Visitor<'_> for BoolVisitor {
        type Value = bool;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a boolean or \"true\"/\"false\"")
        }
        fn visit_bool<E: de::Error>(self, value: bool) -> Result<bool, E> {
            Ok(value)
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<bool, E> {
            if value.eq_ignore_ascii_case("true") {
                Ok(true)
            } else if value.eq_ignore_ascii_case("false") {
                Ok(false)
            } else {
                Err(E::invalid_value(Unexpected::Str(value), &self))
            }
        }
    }
    deserializer.deserialize_any(BoolVisitor)
}

/// An optional JSON boolean that may arrive as the string `"true"`/`"false"` (any case).
pub fn option_bool_or_bool_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    struct BoolVisitor;
    impl<'de> Visitor<'de> for BoolVisitor {
        type Value = Option<bool>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a boolean, \"true\"/\"false\", or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
            inner.deserialize_any(self)
        }
        fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
            Ok(Some(value))
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
            if value.eq_ignore_ascii_case("true") {
                Ok(Some(true))
            } else if value.eq_ignore_ascii_case("false") {
                Ok(Some(false))
            } else {
                Err(E::invalid_value(Unexpected::Str(value), &self))
            }
        }
    }
    deserializer.deserialize_option(BoolVisitor)
}

/// `Option<Option<T>>` for a field that may be absent, null, or a value: absent stays absent
/// (with `skip_serializing_if = "Option::is_none"`), null stays null.
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

/// The error body of Nova and Cinder (one WSGI fault mapping, inherited by Cinder): one key
/// naming the fault, e.g. `{"itemNotFound": {"code": 404, "message": "Instance x could not
/// be found."}}` or Cinder's policy denial of manage, `{"forbidden": {"code": 403, "message":
/// "Policy doesn't allow volume_extension:volume_manage to be performed."}}`. (A 401 from
/// keystonemiddleware has Keystone's shape instead, see
/// [`crate::keystone::ErrorResponse`].)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ErrorResponse {
    /// 400.
    #[serde(rename = "badRequest")]
    BadRequest(ErrorDetail),
    /// 401.
    #[serde(rename = "unauthorized")]
    Unauthorized(ErrorDetail),
    /// 403.
    #[serde(rename = "forbidden")]
    Forbidden(ErrorDetail),
    /// 404.
    #[serde(rename = "itemNotFound")]
    ItemNotFound(ErrorDetail),
    /// 405.
    #[serde(rename = "badMethod")]
    BadMethod(ErrorDetail),
    /// 409: e.g. an action the server's state does not allow.
    #[serde(rename = "conflictingRequest")]
    ConflictingRequest(ErrorDetail),
    /// 413 and 429: quota or rate limit.
    #[serde(rename = "overLimit")]
    OverLimit(ErrorDetail),
    /// 415.
    #[serde(rename = "badMediaType")]
    BadMediaType(ErrorDetail),
    /// 501.
    #[serde(rename = "notImplemented")]
    NotImplemented(ErrorDetail),
    /// 503.
    #[serde(rename = "serviceUnavailable")]
    ServiceUnavailable(ErrorDetail),
    /// Any other status, 500 included.
    #[serde(rename = "computeFault")]
    ComputeFault(ErrorDetail),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// The HTTP status, repeated.
    pub code: u16,
    pub message: String,
    /// 413/429 only: the `Retry-After` header's value, in seconds.
    #[serde(
        rename = "retryAfter",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_after: Option<String>,
}

impl ErrorResponse {
    /// The body the service answers an HTTP `status` with.
    pub fn for_status(status: u16, message: impl Into<String>) -> Self {
        let detail = ErrorDetail {
            code: status,
            message: message.into(),
            retry_after: None,
        };
        match status {
            400 => ErrorResponse::BadRequest(detail),
            401 => ErrorResponse::Unauthorized(detail),
            403 => ErrorResponse::Forbidden(detail),
            404 => ErrorResponse::ItemNotFound(detail),
            405 => ErrorResponse::BadMethod(detail),
            409 => ErrorResponse::ConflictingRequest(detail),
            413 | 429 => ErrorResponse::OverLimit(detail),
            415 => ErrorResponse::BadMediaType(detail),
            501 => ErrorResponse::NotImplemented(detail),
            503 => ErrorResponse::ServiceUnavailable(detail),
            _ => ErrorResponse::ComputeFault(detail),
        }
    }

    pub fn detail(&self) -> &ErrorDetail {
        match self {
            ErrorResponse::BadRequest(detail)
            | ErrorResponse::Unauthorized(detail)
            | ErrorResponse::Forbidden(detail)
            | ErrorResponse::ItemNotFound(detail)
            | ErrorResponse::BadMethod(detail)
            | ErrorResponse::ConflictingRequest(detail)
            | ErrorResponse::OverLimit(detail)
            | ErrorResponse::BadMediaType(detail)
            | ErrorResponse::NotImplemented(detail)
            | ErrorResponse::ServiceUnavailable(detail)
            | ErrorResponse::ComputeFault(detail) => detail,
        }
    }
}
