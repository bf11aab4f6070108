//! What every array call shares: sessions (`x-auth-token`), the REST version, request bodies and parameters, the array's error bodies.

use crate::flasharray::query::{self, ListOptions, Params, QueryError};
use crate::flasharray::state::Array;
use crate::world::SiteContext;
use axum::Json;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use protector_wire::flasharray::{self as model, ApiError, ItemsResponse, ListResponse};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeSet;

/// The newest REST minor version served: `/api/2.0` to `/api/2.56`.
pub const NEWEST_MINOR: u32 = 56;

/// An error answer: status and the array's error body.
#[derive(Debug)]
pub struct Failure {
    pub(super) status: StatusCode,
    pub(super) error: Box<ApiError>,
}

pub(super) type Reply = Result<Response, Failure>;

impl Failure {
    pub(super) fn new(
        status: StatusCode,
        message: impl Into<String>,
        context: Option<&str>,
    ) -> Self {
        Failure {
            status,
            error: Box::new(ApiError {
                message: message.into(),
                context: context.map(str::to_string),
                location_context: None,
            }),
        }
    }
}

/// 400 with `message` about the object `context`.
pub(super) fn bad(message: impl Into<String>, context: &str) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, message, Some(context))
}

/// `DELETE` of destroyed objects: eradicates `names`, or refuses (naming the first) when any of
/// them is not destroyed yet, as the array does.
pub(super) fn eradicate_destroyed(
    array: &mut Array,
    names: &[String],
    destroyed: impl Fn(&Array, &str) -> bool,
    refusal: &str,
    eradicate: impl Fn(&mut Array, &str),
) -> Reply {
    if let Some(live) = names.iter().find(|name| !destroyed(array, name)) {
        return Err(bad(refusal, live));
    }
    for name in names {
        eradicate(array, name);
    }
    Ok(StatusCode::OK.into_response())
}

/// 400 without an object.
pub(super) fn bad_request(message: impl Into<String>) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, message, None)
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = model::ErrorResponse {
            errors: vec![*self.error],
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<QueryError> for Failure {
    fn from(error: QueryError) -> Self {
        Failure::new(
            StatusCode::BAD_REQUEST,
            error.message,
            error.context.as_deref(),
        )
    }
}

pub(super) const INVALID_COMBINATION: &str = "Invalid combination of parameters specified.";

pub(super) const INVALID_NAME: &str = "Invalid name: names are 1 to 63 letters, digits, '-' and '_', begin with a letter or digit and are not all digits.";

/// The REST version in `/api/2.N/...` must be one the array serves.
pub(super) fn check_version(path: &str) -> Result<(), Failure> {
    let version = path
        .trim_start_matches("/api/")
        .split('/')
        .next()
        .unwrap_or_default();
    let served = version
        .strip_prefix("2.")
        .and_then(|minor| minor.parse::<u32>().ok())
        .is_some_and(|minor| minor <= NEWEST_MINOR && !version.ends_with('.'));
    if served {
        Ok(())
    } else {
        Err(Failure::new(
            StatusCode::NOT_FOUND,
            "Unsupported REST API version.",
            Some(version),
        ))
    }
}

/// A request on a served REST version with the `x-auth-token` of an open session.
pub(super) struct Authorized;

impl FromRequestParts<SiteContext> for Authorized {
    type Rejection = Failure;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &SiteContext,
    ) -> Result<Self, Self::Rejection> {
        check_version(parts.uri.path())?;
        let token = parts
            .headers
            .get("x-auth-token")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let site = ctx.lock();
        if !token.is_empty() && site.array.sessions.contains_key(token) {
            Ok(Authorized)
        } else {
            Err(Failure::new(
                StatusCode::UNAUTHORIZED,
                "Invalid session.",
                None,
            ))
        }
    }
}

/// A JSON request body; an empty body is the type's default.
pub(super) fn body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, Failure> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|error| bad_request(format!("Invalid request body: {error}.")))
}

pub(super) fn items<T: Serialize>(items: Vec<T>) -> Response {
    Json(ItemsResponse { items }).into_response()
}

/// A `GET` list page of `items` (in the endpoint's natural order).
pub(super) fn list<T: Serialize>(
    items: Vec<T>,
    options: &ListOptions,
    key: fn(&Value) -> String,
) -> Reply {
    let rows = items
        .into_iter()
        .map(|item| {
            let json = serde_json::to_value(&item).unwrap_or(Value::Null);
            (item, json)
        })
        .collect();
    let page = query::select(rows, options, key)?;
    let token = page.continuation_token.clone();
    let mut response = Json(ListResponse {
        continuation_token: page.continuation_token,
        items: page.items,
        more_items_remaining: page.more_items_remaining,
        total_item_count: page.total_item_count,
        total: None,
        errors: Vec::new(),
    })
    .into_response();
    if let Some(value) = token.and_then(|token| HeaderValue::from_str(&token).ok()) {
        response.headers_mut().insert("x-next-token", value);
    }
    Ok(response)
}

/// `names` (or `ids`) of a request that changes objects: required, one of the two.
pub(super) fn targets_of(params: &Params) -> Result<Selector, Failure> {
    match (params.list("names"), params.list("ids")) {
        (Some(_), Some(_)) => Err(bad_request(INVALID_COMBINATION)),
        (Some(names), None) if !names.is_empty() => Ok(Selector::Names(names)),
        (None, Some(ids)) if !ids.is_empty() => Ok(Selector::Ids(ids)),
        _ => Err(bad_request("Missing required parameter: names or ids.")),
    }
}

pub(super) enum Selector {
    Names(Vec<String>),
    Ids(Vec<String>),
}

impl Selector {
    /// The names selected among `(id, name)` pairs; an unknown one is `missing` (error message).
    pub(super) fn resolve<'a>(
        &self,
        objects: impl Iterator<Item = (&'a str, &'a str)> + Clone,
        missing: &str,
    ) -> Result<Vec<String>, Failure> {
        match self {
            Selector::Names(names) => {
                for name in names {
                    if !objects.clone().any(|(_, n)| n == name) {
                        return Err(bad(missing, name));
                    }
                }
                Ok(names.clone())
            }
            Selector::Ids(ids) => ids
                .iter()
                .map(|id| {
                    objects
                        .clone()
                        .find(|(i, _)| i == id)
                        .map(|(_, name)| name.to_string())
                        .ok_or_else(|| bad(missing, id))
                })
                .collect(),
        }
    }
}

/// The `names`/`ids` filter of a `GET`: `None` when absent; unknown objects are errors.
pub(super) fn optional_selection<'a>(
    params: &Params,
    objects: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    missing: &str,
) -> Result<Option<BTreeSet<String>>, Failure> {
    if !params.has("names") && !params.has("ids") {
        return Ok(None);
    }
    let selector = targets_of(params)?;
    Ok(Some(
        selector.resolve(objects, missing)?.into_iter().collect(),
    ))
}

/// With `destroyed=true|false` and named objects, every named one must be in that state.
pub(super) fn check_destroyed_state(
    wanted: Option<bool>,
    selected: &Option<BTreeSet<String>>,
    name: &str,
    destroyed: bool,
    kind: &str,
) -> Result<(), Failure> {
    match (wanted, selected) {
        (Some(wanted), Some(selected)) if selected.contains(name) && wanted != destroyed => {
            Err(if destroyed {
                bad(format!("{kind} has been destroyed."), name)
            } else {
                bad(format!("{kind} is not destroyed."), name)
            })
        }
        _ => Ok(()),
    }
}

pub(super) fn keep(wanted: Option<bool>, destroyed: bool) -> bool {
    wanted.is_none_or(|wanted| wanted == destroyed)
}
