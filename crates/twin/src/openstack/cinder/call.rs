//! One Cinder call as its handlers see it: the site's base URL, the microversion, the token, the
//! query and the body; and the volumes it may see.

use super::{request::*, views::*};
use crate::openstack::state::{Token, Volume};
use crate::world::Site;
use axum::body::Bytes;
use axum::http::Method;
use serde_json::Value;

/// What a handler knows of its request.
pub(super) struct Call {
    pub(super) method: Method,
    pub(super) query: Vec<(String, String)>,
    pub(super) body: Bytes,
    /// The minor microversion (3.N).
    pub(super) version: u32,
    pub(super) admin: bool,
    /// `http://127.0.0.1:PORT`.
    pub(super) base: String,
    pub(super) token: Token,
}

impl Call {
    pub(super) fn project(&self) -> &str {
        &self.token.project_id
    }

    pub(super) fn view(&self) -> View<'_> {
        View {
            version: self.version,
            admin: self.admin,
            base: &self.base,
            project: self.project(),
        }
    }

    /// The JSON body (`null` when empty).
    pub(super) fn json(&self) -> Result<Value, CinderError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body)
            .map_err(|_| CinderError::bad_request("Malformed request body"))
    }

    /// Cinder's default policies let readers read only.
    pub(super) fn require_writer(&self, action: &str) -> Result<(), CinderError> {
        if self.token.roles.iter().any(|role| role != "reader") {
            Ok(())
        } else {
            Err(CinderError::policy(action))
        }
    }
}

/// A volume the caller may see (its project's; any, for an admin), else 404.
pub(super) fn visible<'a>(
    site: &'a Site,
    call: &Call,
    id: &str,
) -> Result<&'a Volume, CinderError> {
    site.block
        .volumes
        .get(id)
        .filter(|volume| call.admin || volume.project_id == call.project())
        .ok_or_else(|| CinderError::volume_not_found(id))
}
