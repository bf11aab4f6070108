//! FlashArray REST 2.x (Purity//FA): volumes, volume snapshots, protection groups and their
//! snapshots, replication transfers, array connections, hosts and host-volume connections.
//!
//! `model` holds the wire types, shared by protector's FlashArray client (which deserializes
//! them) and the twin's array (which serializes them); `tests/it/flasharray_api/` checks every
//! body the twin sends against Pure's OpenAPI description (`FA2.56-dr-subset.spec.yaml`).
//!
//! [`FlashArray`] is the client: it picks the newest REST version both sides know
//! (`GET /api/api_version`), logs in with the API token (the session token comes back in
//! `x-auth-token`), logs in again once when a session expires (401), and follows continuation
//! tokens so lists of thousands of volumes come back whole.

pub use protector_wire::flasharray as model;

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;

use super::clouds::Secret;
use super::http::{Call, ClientError, ErrorKind, Failure, Http, Reply, Trust};
use super::openstack::query;

/// The newest REST version protector knows; arrays serving less are spoken to at their newest.
pub const NEWEST_KNOWN: (u32, u32) = (2, 56);
/// The oldest with everything protector uses (protection-group transfers, `allowed` targets).
pub const OLDEST_USABLE: (u32, u32) = (2, 4);

pub struct FlashArray {
    /// The array's name as the spec gives it.
    pub name: String,
    base: String,
    token: Secret,
    http: Http,
    state: tokio::sync::Mutex<Connection>,
}

#[derive(Default)]
struct Connection {
    version: Option<String>,
    session: Option<String>,
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

impl FlashArray {
    pub fn new(
        name: &str,
        url: &str,
        token: Secret,
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<FlashArray, ClientError> {
        // An array's private CA is trusted beside the system's, as the spec documents.
        let trust = ca_file.map_or(Trust::System, |ca| Trust::SystemAnd(ca.to_path_buf()));
        Ok(FlashArray {
            name: name.to_string(),
            base: url.trim_end_matches('/').to_string(),
            token,
            http: Http::new(format!("flasharray {name}"), &trust, timeout)?,
            state: tokio::sync::Mutex::new(Connection::default()),
        })
    }

    fn failure(&self, path: &str, message: String) -> ClientError {
        Failure {
            service: self.http.service.clone(),
            method: String::new(),
            path: path.to_string(),
            status: None,
            message,
            request_id: String::new(),
            kind: ErrorKind::Decode,
        }
        .into()
    }

    /// The REST version to speak: the newest the array serves that protector knows.
    async fn version(&self, connection: &mut Connection) -> Result<String, ClientError> {
        if let Some(version) = &connection.version {
            return Ok(version.clone());
        }
        let reply = self
            .http
            .send(Call::new(
                Method::GET,
                format!("{}/api/api_version", self.base),
            ))
            .await?;
        let versions: model::ApiVersionResponse = reply.json()?;
        let best = versions
            .version
            .iter()
            .filter_map(|text| parse_version(text).map(|parsed| (parsed, text)))
            .filter(|(parsed, _)| *parsed >= OLDEST_USABLE && *parsed <= NEWEST_KNOWN)
            .max_by_key(|(parsed, _)| *parsed)
            .map(|(_, text)| text.clone())
            .ok_or_else(|| {
                self.failure(
                    "/api/api_version",
                    format!(
                        "the array serves REST {}; protector needs 2.{} to 2.{}",
                        versions.version.join(", "),
                        OLDEST_USABLE.1,
                        NEWEST_KNOWN.1
                    ),
                )
            })?;
        connection.version = Some(best.clone());
        Ok(best)
    }

    async fn login(&self, connection: &mut Connection) -> Result<String, ClientError> {
        let version = self.version(connection).await?;
        let call = Call::new(Method::POST, format!("{}/api/{version}/login", self.base))
            .header("api-token", self.token.expose())
            .idempotent();
        let reply = self.http.send(call).await?;
        let session = reply
            .header("x-auth-token")
            .map(str::to_string)
            .ok_or_else(|| {
                self.failure("/login", "the login answer has no x-auth-token".to_string())
            })?;
        connection.session = Some(session.clone());
        Ok(session)
    }

    /// A call to `/api/<version>/<path>`, logged in; logs in again once on 401.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
        idempotent: bool,
    ) -> Result<Reply, ClientError> {
        let mut retried = false;
        loop {
            let (version, session) = {
                let mut connection = self.state.lock().await;
                let version = self.version(&mut connection).await?;
                let session = match connection.session.clone() {
                    Some(session) => session,
                    None => self.login(&mut connection).await?,
                };
                (version, session)
            };
            let mut call = Call::new(
                method.clone(),
                format!("{}/api/{version}/{path}", self.base),
            )
            .header("x-auth-token", &session);
            call.body = body.clone();
            if idempotent {
                call = call.idempotent();
            }
            match self.http.send(call).await {
                Err(error) if error.status == Some(401) && !retried => {
                    self.state.lock().await.session = None;
                    retried = true;
                }
                outcome => return outcome,
            }
        }
    }

    /// Every item of a list, following continuation tokens.
    pub async fn list<T: DeserializeOwned + Default>(
        &self,
        resource: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<T>, ClientError> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut pairs: Vec<(&str, &str)> = params.to_vec();
            if let Some(token) = token.as_deref() {
                pairs.push(("continuation_token", token));
            }
            let reply = self
                .call(
                    Method::GET,
                    &format!("{resource}{}", query(&pairs)),
                    None,
                    true,
                )
                .await?;
            let page: model::ListResponse<T> = reply.json()?;
            let empty = page.items.is_empty();
            items.extend(page.items);
            token = page
                .continuation_token
                .filter(|t| !t.is_empty() && !empty && page.more_items_remaining);
            if token.is_none() {
                return Ok(items);
            }
        }
    }

    /// The named protection groups that exist (asked one by one: an array answers a list of
    /// names with an error when any of them does not exist).
    pub async fn protection_groups(
        &self,
        names: &[&str],
    ) -> Result<Vec<model::ProtectionGroup>, ClientError> {
        let mut found = Vec::new();
        for name in names {
            match self.list("protection-groups", &[("names", name)]).await {
                Ok(groups) => found.extend(groups),
                Err(error) if error.message.contains("does not exist") => {}
                Err(error) => return Err(error),
            }
        }
        Ok(found)
    }

    /// Member volume names of a protection group.
    pub async fn group_volumes(&self, group: &str) -> Result<Vec<String>, ClientError> {
        let members: Vec<model::ProtectionGroupsVolumes> = self
            .list("protection-groups/volumes", &[("group_names", group)])
            .await?;
        Ok(members
            .into_iter()
            .filter_map(|m| m.member.and_then(|member| member.name))
            .collect())
    }

    /// `(target array, allowed)` of a protection group.
    pub async fn group_targets(&self, group: &str) -> Result<Vec<(String, bool)>, ClientError> {
        let targets: Vec<model::TargetProtectionGroup> = self
            .list("protection-groups/targets", &[("group_names", group)])
            .await?;
        Ok(targets
            .into_iter()
            .filter_map(|t| Some((t.member?.name?, t.allowed.unwrap_or(false))))
            .collect())
    }

    /// Transfers of a group's snapshots (on a target: the replicated snapshots arriving).
    pub async fn transfers(
        &self,
        group: &str,
    ) -> Result<Vec<model::SnapshotTransfer>, ClientError> {
        self.list(
            "protection-group-snapshots/transfer",
            &[("source_names", group), ("sort", "started-")],
        )
        .await
    }

    /// The volume snapshots of one protection-group snapshot (`<snapshot>.<volume>`).
    pub async fn snapshot_volumes(
        &self,
        snapshot: &str,
    ) -> Result<Vec<model::VolumeSnapshot>, ClientError> {
        let filter = format!("name='{snapshot}.*'");
        self.list("volume-snapshots", &[("filter", &filter)]).await
    }

    /// How far the array's clock runs ahead of this machine's, in milliseconds (negative:
    /// behind), as its answer arrives: `_as_of` of `GET /arrays`, else the answer's `Date`
    /// header (whole seconds); `None` when it tells neither. Snapshot times are the array's, so
    /// their ages are measured on its clock, whatever this machine's says.
    pub async fn clock_offset_ms(&self) -> Result<Option<i64>, ClientError> {
        let reply = self.call(Method::GET, "arrays", None, true).await?;
        let arrived_ms = chrono::Utc::now().timestamp_millis();
        let arrays: model::ListResponse<model::Array> = reply.json()?;
        let as_of = arrays.items.first().and_then(|array| array.as_of);
        Ok(array_time_ms(as_of, reply.header("date"))
            .map(|array_ms| array_ms.saturating_sub(arrived_ms)))
    }

    /// Names of the volumes on the array (destroyed ones excluded).
    pub async fn volume_names(&self) -> Result<Vec<String>, ClientError> {
        let volumes: Vec<model::Volume> = self.list("volumes", &[("destroyed", "false")]).await?;
        Ok(volumes.into_iter().filter_map(|v| v.name).collect())
    }
}

/// The array's time in milliseconds since the epoch: `_as_of`, else an HTTP `Date` header.
fn array_time_ms(as_of: Option<i64>, date: Option<&str>) -> Option<i64> {
    as_of.or_else(|| {
        let date = chrono::DateTime::parse_from_rfc2822(date?).ok()?;
        Some(date.timestamp_millis())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_array_time_is_as_of_else_the_date_header() {
        let date = Some("Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            array_time_ms(Some(784_111_777_123), date),
            Some(784_111_777_123)
        );
        assert_eq!(array_time_ms(None, date), Some(784_111_777_000));
        assert_eq!(array_time_ms(None, Some("yesterday")), None);
        assert_eq!(array_time_ms(None, None), None);
    }

    #[test]
    fn versions_parse_and_compare_numerically() {
        assert_eq!(parse_version("2.26"), Some((2, 26)));
        assert!(parse_version("2.4").unwrap() < parse_version("2.26").unwrap());
        assert_eq!(parse_version("1.x"), None);
    }
}
