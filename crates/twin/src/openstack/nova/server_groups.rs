//! Nova's server groups (`os-server-groups`) of one simulated site, as
//! `nova/api/openstack/compute/server_groups.py` serves them: a group has one policy
//! (`affinity`, `anti-affinity`, and from 2.15 `soft-affinity`, `soft-anti-affinity`), an
//! anti-affinity group may have the rule `max_server_per_host` (>= 2.64), and a server joins one
//! at boot with the scheduler hint `group` (its id). Members are the servers not deleted.
//!
//! | method | path (under `/compute/v2.1`) | answer |
//! |---|---|---|
//! | GET | `/os-server-groups` | the project's groups (admins: `all_projects`), `limit`/`offset` |
//! | POST | `/os-server-groups` | 200 and the group; `policies: [P]` below 2.64, `policy` and `rules` from it |
//! | GET | `/os-server-groups/{id}` | one; 404 `Instance group U could not be found.` |
//! | DELETE | `/os-server-groups/{id}` | 204 (members stay, no longer grouped) |
//!
//! Views follow the microversion: below 2.64 `policies` (a list of one) and an empty
//! `metadata`, from 2.64 `policy` and `rules`; from 2.13 `project_id` and `user_id`. Policy is
//! Nova's default: readers list and show, members create and delete, within their project. A
//! project may have 10 groups (Nova's `server_groups` quota; beyond it 403).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::{
    Api, Failure, bad_request, fail, invalid_input, invalid_query, known_params, model, parse_body,
    python_repr,
};
use crate::openstack::state::ServerGroup;
use crate::world::Site;
use crate::world::SiteContext;
use protector_wire::nova::ServerGroupPolicy;

/// Nova's default `server_groups` quota.
const QUOTA: usize = 10;

/// The group with this id, whichever project it is in (Nova's `InstanceGroup.get_by_uuid`).
pub(super) fn by_id<'a>(site: &'a Site, id: &str) -> Option<&'a ServerGroup> {
    site.compute
        .server_groups
        .iter()
        .find(|group| group.id == id)
}

fn not_found(id: &str) -> Failure {
    fail(
        StatusCode::NOT_FOUND,
        format!("Instance group {id} could not be found."),
    )
}

/// The group a boot names in its `group` hint: a boot naming none that exists is a 400.
pub(super) fn find<'a>(site: &'a Site, id: &str) -> Result<&'a ServerGroup, Failure> {
    by_id(site, id).ok_or_else(|| bad_request(format!("Instance group {id} could not be found.")))
}

/// The ids of the groups `server_id` is a member of (the server's `server_groups`, >= 2.71).
pub(super) fn of_server(site: &Site, server_id: &str) -> Vec<String> {
    site.compute
        .server_groups
        .iter()
        .filter(|group| group.members.iter().any(|member| member == server_id))
        .map(|group| group.id.clone())
        .collect()
}

fn view(api: &Api, group: &ServerGroup) -> model::ServerGroup {
    let new = api.at_least(64);
    model::ServerGroup {
        id: group.id.clone(),
        name: group.name.clone(),
        policies: (!new).then(|| vec![group.policy]),
        policy: new.then_some(group.policy),
        rules: new.then_some(model::ServerGroupRules {
            max_server_per_host: group.max_server_per_host,
        }),
        members: group.members.clone(),
        metadata: (!new).then(Default::default),
        project_id: api.at_least(13).then(|| group.project_id.clone()),
        user_id: api.at_least(13).then(|| group.user_id.clone()),
    }
}

pub(super) async fn index(
    State(ctx): State<SiteContext>,
    api: Api,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let result = (|| {
        known_params(&api, &query, &["all_projects", "limit", "offset"])?;
        api.policy(api.can_read(), "os-server-groups:index")?;
        let number = |name: &str| -> Result<Option<usize>, Failure> {
            match query.iter().rev().find(|(key, _)| key == name) {
                None => Ok(None),
                Some((_, value)) => value.parse().map(Some).map_err(|_| {
                    invalid_query(name, value, format!("'{value}' does not match '^[0-9]*$'"))
                }),
            }
        };
        let offset = number("offset")?.unwrap_or(0);
        let limit = number("limit")?
            .unwrap_or(super::MAX_LIMIT)
            .min(super::MAX_LIMIT);
        // A non-admin asking for all projects gets their own, as Nova answers.
        let all = api.is_admin() && query.iter().any(|(key, _)| key == "all_projects");
        let site = ctx.lock();
        Ok(model::ServerGroupsList {
            server_groups: site
                .compute
                .server_groups
                .iter()
                .filter(|group| all || group.project_id == api.token.project_id)
                .skip(offset)
                .take(limit)
                .map(|group| view(&api, group))
                .collect(),
        })
    })();
    api.done(StatusCode::OK, result)
}

pub(super) async fn show(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(group_id): Path<String>,
) -> Response {
    let site = ctx.lock();
    let result = by_id(&site, &group_id)
        .ok_or_else(|| not_found(&group_id))
        .and_then(|group| {
            api.policy(
                api.can_read() && api.sees(&group.project_id),
                "os-server-groups:show",
            )?;
            Ok(model::ServerGroupResponse {
                server_group: view(&api, group),
            })
        });
    drop(site);
    api.done(StatusCode::OK, result)
}

pub(super) async fn delete(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(group_id): Path<String>,
) -> Response {
    let result = (|| {
        let mut site = ctx.lock();
        let group = by_id(&site, &group_id).ok_or_else(|| not_found(&group_id))?;
        api.policy(
            api.can_write() && api.sees(&group.project_id),
            "os-server-groups:delete",
        )?;
        site.compute
            .server_groups
            .retain(|group| group.id != group_id);
        Ok(())
    })();
    match result {
        Ok(()) => api.empty(StatusCode::NO_CONTENT),
        Err(failure) => api.error(failure),
    }
}

/// The policies a create may name at the request's microversion (`soft-*` from 2.15).
fn allowed_policy(api: &Api, policy: &str) -> Option<ServerGroupPolicy> {
    let policy: ServerGroupPolicy = serde_json::from_value(Value::from(policy)).ok()?;
    let soft = matches!(
        policy,
        ServerGroupPolicy::SoftAffinity | ServerGroupPolicy::SoftAntiAffinity
    );
    (!soft || api.at_least(15)).then_some(policy)
}

fn enum_text(api: &Api) -> &'static str {
    if api.at_least(15) {
        "['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity']"
    } else {
        "['anti-affinity', 'affinity']"
    }
}

/// The create body checked as Nova's schemas (`create`, `create_v215`, `create_v264`) do: the
/// name, the policy, and the rules.
fn validate(api: &Api, body: &Value) -> Result<(String, ServerGroupPolicy, Option<u32>), Failure> {
    let Some(group) = body.get("server_group").and_then(Value::as_object) else {
        return Err(invalid_input(
            "",
            body,
            "'server_group' is a required property",
        ));
    };

    let whole = Value::Object(group.clone());
    let allowed: &[&str] = if api.at_least(64) {
        &["name", "policy", "rules"]
    } else {
        &["name", "policies"]
    };

    if let Some(key) = group.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(invalid_input(
            "server_group",
            &whole,
            format!("Additional properties are not allowed ('{key}' was unexpected)"),
        ));
    }
    let name = match group.get("name") {
        None => {
            return Err(invalid_input(
                "server_group",
                &whole,
                "'name' is a required property",
            ));
        }
        Some(Value::String(name))
            if !name.is_empty() && name.chars().count() <= 255 && name.trim() == name.as_str() =>
        {
            name.clone()
        }
        Some(name) => {
            return Err(invalid_input(
                "name",
                name,
                format!("{} is not a valid name", python_repr(name)),
            ));
        }
    };

    if api.at_least(64) {
        let Some(value) = group.get("policy") else {
            return Err(invalid_input(
                "server_group",
                &whole,
                "'policy' is a required property",
            ));
        };
        let policy = value
            .as_str()
            .and_then(|text| allowed_policy(api, text))
            .ok_or_else(|| {
                invalid_input(
                    "policy",
                    value,
                    format!("{} is not one of {}", python_repr(value), enum_text(api)),
                )
            })?;
        let rules = match group.get("rules") {
            None => None,
            Some(Value::Object(rules)) => {
                if let Some(key) = rules.keys().find(|key| *key != "max_server_per_host") {
                    return Err(invalid_input(
                        "rules",
                        &Value::Object(rules.clone()),
                        format!("Additional properties are not allowed ('{key}' was unexpected)"),
                    ));
                }
                match rules.get("max_server_per_host") {
                    None => None,
                    Some(value) => Some(
                        value
                            .as_u64()
                            .and_then(|n| u32::try_from(n).ok())
                            .filter(|n| *n >= 1)
                            .ok_or_else(|| {
                                invalid_input(
                                    "max_server_per_host",
                                    value,
                                    format!("{} is less than the minimum of 1", python_repr(value)),
                                )
                            })?,
                    ),
                }
            }
            Some(other) => return Err(invalid_input("rules", other, "is not of type 'object'")),
        };
        let has_rules = group
            .get("rules")
            .and_then(Value::as_object)
            .is_some_and(|rules| !rules.is_empty());
        if has_rules && policy != ServerGroupPolicy::AntiAffinity {
            return Err(bad_request("Only anti-affinity policy supports rules."));
        }
        Ok((name, policy, rules))
    } else {
        let Some(value) = group.get("policies") else {
            return Err(invalid_input(
                "server_group",
                &whole,
                "'policies' is a required property",
            ));
        };
        let policy = match value.as_array().map(Vec::as_slice) {
            Some([one]) => one
                .as_str()
                .and_then(|text| allowed_policy(api, text))
                .ok_or_else(|| {
                    invalid_input(
                        "policies",
                        value,
                        format!("{} is not one of {}", python_repr(one), enum_text(api)),
                    )
                })?,
            Some([]) => {
                return Err(invalid_input("policies", value, "[] is too short"));
            }
            Some(_) => {
                return Err(invalid_input(
                    "policies",
                    value,
                    format!("{} is too long", python_repr(value)),
                ));
            }
            None => return Err(invalid_input("policies", value, "is not of type 'array'")),
        };
        Ok((name, policy, None))
    }
}

pub(super) async fn create(State(ctx): State<SiteContext>, api: Api, body: Bytes) -> Response {
    let result = (|| {
        // The schema is checked before the handler runs, then its policy and quota.
        let body = parse_body(&body)?;
        let (name, policy, max_server_per_host) = validate(&api, &body)?;
        api.policy(api.can_write(), "os-server-groups:create")?;
        let mut site = ctx.lock();
        let used = site
            .compute
            .server_groups
            .iter()
            .filter(|group| group.project_id == api.token.project_id)
            .count();
        if used >= QUOTA {
            return Err(fail(
                StatusCode::FORBIDDEN,
                "Quota exceeded, too many server groups.",
            ));
        }
        let group = ServerGroup {
            id: site.ids.uuid(),
            name,
            policy,
            max_server_per_host,
            project_id: api.token.project_id.clone(),
            user_id: api.token.user_id.clone(),
            members: Vec::new(),
        };
        let answer = model::ServerGroupResponse {
            server_group: view(&api, &group),
        };
        site.compute.server_groups.push(group);
        Ok(answer)
    })();
    api.done(StatusCode::OK, result)
}

#[cfg(test)]
mod api_tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::openstack::state::VolumeStatus;
    use axum::http::StatusCode;
    use protector_wire::nova as model;
    use serde_json::Value;
    use serde_json::json;
    use std::collections::HashSet;

    #[tokio::test]
    async fn server_groups_place_their_members_and_refuse_a_full_group() {
        let twin = Twin::new(100_000.0);
        let list = twin.nova("GET", "/os-server-groups", "2.64", None).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let groups: model::ServerGroupsList = serde_json::from_value(list.body).unwrap();
        let web = &groups.server_groups[0];
        assert_eq!(web.name, "web-servers");
        assert_eq!(web.policy, Some(model::ServerGroupPolicy::AntiAffinity));
        assert_eq!(web.rules, Some(model::ServerGroupRules::default()));
        assert_eq!(web.policies, None);
        let members: HashSet<String> = web.members.iter().cloned().collect();
        assert_eq!(
            members,
            HashSet::from([twin.server_id("web-1"), twin.server_id("web-2")])
        );
        let old = twin
            .nova(
                "GET",
                &format!("/os-server-groups/{}", web.id),
                "2.13",
                None,
            )
            .await;
        assert_eq!(
            old.body["server_group"]["policies"],
            json!(["anti-affinity"])
        );
        assert_eq!(old.body["server_group"]["metadata"], json!({}));
        assert!(old.body["server_group"].get("policy").is_none());

        // Rules are for anti-affinity only; soft policies from 2.15.
        let rules = json!({"server_group": {"name": "db", "policy": "affinity", "rules": {"max_server_per_host": 2}}});
        let reply = twin
            .nova("POST", "/os-server-groups", "2.64", Some(rules))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body["badRequest"]["message"],
            "Only anti-affinity policy supports rules."
        );
        let soft = json!({"server_group": {"name": "soft", "policies": ["soft-anti-affinity"]}});
        let reply = twin
            .nova("POST", "/os-server-groups", "2.14", Some(soft.clone()))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let reply = twin
            .nova("POST", "/os-server-groups", "2.15", Some(soft))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

        // web-1 and web-2 hold one host of each zone: az-1 has one more free host for the group.
        let hint = json!({"group": web.id});
        let first = boot(
            &twin,
            "web-3",
            "2.100",
            json!({"availability_zone": "az-1"}),
            hint.clone(),
        )
        .await;
        assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
        let full = boot(
            &twin,
            "web-4",
            "2.100",
            json!({"availability_zone": "az-1"}),
            hint,
        )
        .await;
        assert_eq!(
            full.status,
            StatusCode::ACCEPTED,
            "NoValidHost is a build failure"
        );
        twin.settle(50).await;
        let first = first.body["server"]["id"].as_str().unwrap().to_string();
        let full = full.body["server"]["id"].as_str().unwrap().to_string();
        let show = twin
            .nova("GET", &format!("/servers/{first}"), "2.100", None)
            .await;
        assert_eq!(show.body["server"]["status"], "ACTIVE");
        assert_eq!(show.body["server"]["server_groups"], json!([web.id]));
        assert_eq!(show.body["server"]["OS-EXT-AZ:availability_zone"], "az-1");
        let show = twin
            .nova("GET", &format!("/servers/{full}"), "2.100", None)
            .await;
        assert_eq!(show.body["server"]["status"], "ERROR");
        assert_eq!(
            show.body["server"]["fault"]["message"],
            scheduler::NO_VALID_HOST
        );
        assert_eq!(show.body["server"]["OS-EXT-SRV-ATTR:host"], Value::Null);
        assert_eq!(show.body["server"]["hostId"], "");
        {
            let site = twin.ctx.lock();
            let volume = &site.compute.servers[&full].volumes[0].volume_id;
            assert_eq!(site.block.volumes[volume].status, VolumeStatus::Available);
            assert!(site.compute.servers[&full].ports.is_empty());
        }

        // An unknown group is a 400; a deleted server leaves its group.
        let unknown = json!({"group": "0e44cc9c-e052-415d-afbf-469b0d384170"});
        let reply = boot(&twin, "lost", "2.1", json!({}), unknown).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body["badRequest"]["message"],
            "Instance group 0e44cc9c-e052-415d-afbf-469b0d384170 could not be found."
        );
        let reply = twin
            .nova("DELETE", &format!("/servers/{full}"), "2.1", None)
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        twin.settle(50).await;
        let path = format!("/os-server-groups/{}", web.id);
        let group = twin.nova("GET", &path, "2.64", None).await;
        assert_eq!(
            group.body["server_group"]["members"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            twin.nova("DELETE", &path, "2.64", None).await.status,
            StatusCode::NO_CONTENT
        );
        let gone = twin.nova("GET", &path, "2.64", None).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
    }
}
