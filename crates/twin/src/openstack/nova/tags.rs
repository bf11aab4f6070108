//! Nova's server tags (`/servers/{id}/tags`, >= 2.26; below it the paths are 404): a set of
//! strings per server, at most 50, each 1-60 characters without `/` or `,`, as
//! `nova/api/openstack/compute/server_tags.py` keeps them. Reading needs a reader role, writing
//! a member; writes need the server ACTIVE, SHUTOFF (or paused/suspended, which the twin has
//! not) or they are 409.
//!
//! | method | path (under `/compute/v2.1/servers/{id}`) | answer |
//! |---|---|---|
//! | GET | `/tags` | `{"tags": [...]}` |
//! | PUT | `/tags` | `{"tags": [...]}` replaces them all (200, the new set) |
//! | DELETE | `/tags` | 204, none left |
//! | GET | `/tags/{tag}` | 204, or 404 `Server U has no tag 'T'` |
//! | PUT | `/tags/{tag}` | 201 with `Location`, 204 when it was there already |
//! | DELETE | `/tags/{tag}` | 204, or 404 `Instance U has no tag 'T'` |

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::{
    Api, Failure, bad_request, fail, find_server, invalid_input, invalid_state, model, parse_body,
    python_repr, vm_state,
};
use crate::openstack::state::{Server, ServerStatus};
use crate::world::Site;
use crate::world::SiteContext;

/// `objects.instance.MAX_TAG_COUNT`.
const MAX_TAGS: usize = 50;
/// `objects.tag.MAX_TAG_LENGTH`.
const MAX_TAG_LENGTH: usize = 60;

/// Why `tag` is not a valid tag (`parameter_types.tag`), as jsonschema words it.
fn invalid_tag(tag: &str) -> Option<String> {
    if tag.is_empty() {
        Some("'' is too short".to_string())
    } else if tag.chars().count() > MAX_TAG_LENGTH {
        Some(format!("'{tag}' is too long"))
    } else if tag.contains(['/', ',']) {
        Some(format!("'{tag}' does not match '^[^,/]*$'"))
    } else {
        None
    }
}

/// A `tags` list of a request body (a create at >= 2.52, or `PUT /tags`), checked as Nova's
/// schema does; duplicates are dropped, first one kept (Nova stores a set).
pub(super) fn parse(value: &Value) -> Result<Vec<String>, Failure> {
    let Some(items) = value.as_array() else {
        return Err(invalid_input("tags", value, "is not of type 'array'"));
    };

    if items.len() > MAX_TAGS {
        return Err(invalid_input(
            "tags",
            value,
            format!("{} is too long", python_repr(value)),
        ));
    }
    let mut tags: Vec<String> = Vec::new();
    for item in items {
        let Some(tag) = item.as_str() else {
            return Err(invalid_input(
                "tags",
                value,
                format!("{} is not of type 'string'", python_repr(item)),
            ));
        };
        if let Some(reason) = invalid_tag(tag) {
            return Err(invalid_input("tags", value, reason));
        }
        if !tags.iter().any(|known| known == tag) {
            tags.push(tag.to_string());
        }
    }
    Ok(tags)
}

/// The server a tag request is about, after the microversion (< 2.26: the path does not exist)
/// and the policy.
fn server<'a>(
    site: &'a Site,
    api: &Api,
    server_id: &str,
    rule: &str,
) -> Result<&'a Server, Failure> {
    if !api.at_least(26) {
        return Err(fail(
            StatusCode::NOT_FOUND,
            "The resource could not be found.",
        ));
    }
    let server = find_server(site, api, server_id)?;
    let allowed = if matches!(rule, "index" | "show") {
        api.can_read()
    } else {
        api.can_write()
    };

    api.policy(allowed, &format!("os-server-tags:{rule}"))?;
    Ok(server)
}

/// The server a tag write is about: it must be running or stopped.
fn writable<'a>(
    site: &'a mut Site,
    api: &Api,
    server_id: &str,
    rule: &str,
    action: &str,
) -> Result<&'a mut Server, Failure> {
    let status = server(site, api, server_id, rule)?.status;
    if !matches!(status, ServerStatus::Active | ServerStatus::Shutoff) {
        return Err(invalid_state(
            action,
            server_id,
            "vm_state",
            vm_state(status),
        ));
    }
    let wall = site.clock.wall();
    // Found above, under the same lock.
    let server = site.compute.servers.get_mut(server_id).ok_or_else(|| {
        fail(
            StatusCode::NOT_FOUND,
            format!("Instance {server_id} could not be found."),
        )
    })?;
    server.updated = wall;
    Ok(server)
}

pub(super) async fn index(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
) -> Response {
    let site = ctx.lock();
    let result = server(&site, &api, &server_id, "index").map(|server| model::ServerTags {
        tags: server.tags.clone(),
    });
    drop(site);
    api.done(StatusCode::OK, result)
}

pub(super) async fn show(
    State(ctx): State<SiteContext>,
    api: Api,
    Path((server_id, tag)): Path<(String, String)>,
) -> Response {
    let site = ctx.lock();
    let result = server(&site, &api, &server_id, "show").and_then(|server| {
        if server.tags.contains(&tag) {
            Ok(())
        } else {
            Err(fail(
                StatusCode::NOT_FOUND,
                format!("Server {server_id} has no tag '{tag}'"),
            ))
        }
    });
    drop(site);
    match result {
        Ok(()) => api.empty(StatusCode::NO_CONTENT),
        Err(failure) => api.error(failure),
    }
}

pub(super) async fn replace(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let body = parse_body(&body)?;
        let tags = match body.as_object() {
            Some(object) if object.keys().all(|key| key == "tags") => match object.get("tags") {
                Some(tags) => parse(tags)?,
                None => return Err(invalid_input("", &body, "'tags' is a required property")),
            },
            _ => {
                return Err(invalid_input(
                    "",
                    &body,
                    "Additional properties are not allowed",
                ));
            }
        };
        let mut site = ctx.lock();
        let server = writable(&mut site, &api, &server_id, "update_all", "update tags")?;
        server.tags = tags;
        Ok(model::ServerTags {
            tags: server.tags.clone(),
        })
    })();
    api.done(StatusCode::OK, result)
}

pub(super) async fn clear(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
) -> Response {
    let mut site = ctx.lock();
    let result = writable(&mut site, &api, &server_id, "delete_all", "delete tags")
        .map(|server| server.tags.clear());
    drop(site);
    match result {
        Ok(()) => api.empty(StatusCode::NO_CONTENT),
        Err(failure) => api.error(failure),
    }
}

pub(super) async fn add(
    State(ctx): State<SiteContext>,
    api: Api,
    Path((server_id, tag)): Path<(String, String)>,
) -> Response {
    let mut site = ctx.lock();
    let result = writable(&mut site, &api, &server_id, "update", "update tag").and_then(|server| {
        if let Some(reason) = invalid_tag(&tag) {
            return Err(bad_request(format!(
                "Tag '{tag}' is invalid. It must be a non empty string without characters '/' and ','. Validation error message: {reason}"
            )));
        }
        if server.tags.len() >= MAX_TAGS {
            return Err(bad_request(format!(
                "The number of tags exceeded the per-server limit {MAX_TAGS}"
            )));
        }
        if server.tags.contains(&tag) {
            return Ok(false);
        }
        server.tags.push(tag.clone());
        Ok(true)
    });
    drop(site);
    match result {
        Ok(false) => api.empty(StatusCode::NO_CONTENT),
        Ok(true) => {
            let mut response = api.empty(StatusCode::CREATED);
            let location = format!("{}/v2.1/servers/{server_id}/tags/{tag}", api.base);
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        Err(failure) => api.error(failure),
    }
}

pub(super) async fn remove(
    State(ctx): State<SiteContext>,
    api: Api,
    Path((server_id, tag)): Path<(String, String)>,
) -> Response {
    let mut site = ctx.lock();
    let result = writable(&mut site, &api, &server_id, "delete", "delete tag").and_then(|server| {
        let before = server.tags.len();
        server.tags.retain(|known| *known != tag);
        if server.tags.len() == before {
            Err(fail(
                StatusCode::NOT_FOUND,
                format!("Instance {server_id} has no tag '{tag}'"),
            ))
        } else {
            Ok(())
        }
    });
    drop(site);
    match result {
        Ok(()) => api.empty(StatusCode::NO_CONTENT),
        Err(failure) => api.error(failure),
    }
}

/// The `tags`, `tags-any`, `not-tags` and `not-tags-any` filters of a server list (comma
/// separated; >= 2.26), as Nova's DB query applies them.
pub(super) fn selected(server: &Server, filter: &str, value: &str) -> bool {
    let wanted: Vec<&str> = value.split(',').filter(|tag| !tag.is_empty()).collect();
    let has = |tag: &&str| server.tags.iter().any(|known| known == tag);
    match filter {
        "tags" => wanted.iter().all(has),
        "tags-any" => wanted.iter().any(has),
        "not-tags" => !wanted.iter().all(has),
        "not-tags-any" => !wanted.iter().any(has),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_checked_as_nova_schema_does() {
        assert_eq!(
            parse(&serde_json::json!(["a", "b", "a"])).unwrap(),
            ["a", "b"]
        );
        for bad in [
            serde_json::json!("a"),
            serde_json::json!([""]),
            serde_json::json!(["a/b"]),
            serde_json::json!(["a,b"]),
            serde_json::json!([1]),
            serde_json::json!(["x".repeat(61)]),
            Value::from((0..51).map(|n| n.to_string()).collect::<Vec<_>>()),
        ] {
            let (status, message) = parse(&bad).unwrap_err();
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(
                message.starts_with("Invalid input for field/attribute tags."),
                "{message}"
            );
        }
    }
}

#[cfg(test)]
mod api_tests {
    use super::super::testing::*;
    use axum::http::{StatusCode, header};
    use serde_json::Value;
    use serde_json::json;

    #[tokio::test]
    async fn tags_are_read_written_and_filter_lists() {
        let twin = Twin::new(100_000.0);
        let db = twin.server_id("db-1");
        let tags = format!("/servers/{db}/tags");
        let old = twin.nova("GET", &tags, "2.25", None).await;
        assert_eq!(old.status, StatusCode::NOT_FOUND);
        let reply = twin.nova("GET", &tags, "2.26", None).await;
        assert_eq!(reply.body, json!({"tags": ["db", "critical"]}));

        let added = twin
            .nova("PUT", &format!("{tags}/blue"), "2.26", None)
            .await;
        assert_eq!(added.status, StatusCode::CREATED);
        assert_eq!(
            added.headers[header::LOCATION],
            format!("http://twin.test/compute/v2.1/servers/{db}/tags/blue")
        );
        let again = twin
            .nova("PUT", &format!("{tags}/blue"), "2.26", None)
            .await;
        assert_eq!(again.status, StatusCode::NO_CONTENT);
        let has = twin
            .nova("GET", &format!("{tags}/blue"), "2.26", None)
            .await;
        assert_eq!(has.status, StatusCode::NO_CONTENT);
        let missing = twin
            .nova("DELETE", &format!("{tags}/nope"), "2.26", None)
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(
            missing.body["itemNotFound"]["message"],
            format!("Instance {db} has no tag 'nope'")
        );
        let bad = twin.nova("PUT", &format!("{tags}/a,b"), "2.26", None).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);

        let replaced = twin
            .nova(
                "PUT",
                &tags,
                "2.26",
                Some(json!({"tags": ["blue", "green"]})),
            )
            .await;
        assert_eq!(replaced.body, json!({"tags": ["blue", "green"]}));
        let list = twin
            .nova("GET", "/servers?tags=blue,green", "2.26", None)
            .await;
        let names: Vec<&Value> = list.body["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["name"])
            .collect();
        assert_eq!(names, [&json!("db-1")]);
        let list = twin
            .nova("GET", "/servers?not-tags-any=web", "2.26", None)
            .await;
        assert_eq!(list.body["servers"].as_array().unwrap().len(), 1);
        let cleared = twin.nova("DELETE", &tags, "2.26", None).await;
        assert_eq!(cleared.status, StatusCode::NO_CONTENT);
        let show = twin
            .nova("GET", &format!("/servers/{db}"), "2.26", None)
            .await;
        assert_eq!(show.body["server"]["tags"], json!([]));

        // Tags and a description on create (2.52 and 2.19).
        let extra = json!({"tags": ["web", "web"], "description": "the third"});
        let created = boot(&twin, "web-3", "2.52", extra, Value::Null).await;
        assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
        let id = created.body["server"]["id"].as_str().unwrap();
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.52", None)
            .await;
        assert_eq!(show.body["server"]["tags"], json!(["web"]));
        assert_eq!(show.body["server"]["description"], "the third");
        let too_early = boot(
            &twin,
            "web-4",
            "2.51",
            json!({"tags": ["web"]}),
            Value::Null,
        )
        .await;
        assert_eq!(too_early.status, StatusCode::BAD_REQUEST);
    }
}
