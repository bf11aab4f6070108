//! Protection group targets: adding a target array, allowing replication on the target.

use super::{pgroups::*, request::*, views::*};
use crate::flasharray::query::{ListOptions, Params};
use crate::flasharray::replication::{self};
use crate::flasharray::state::{self};
use crate::world::SiteContext;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use protector_wire::flasharray::{self as model};

pub(super) async fn targets_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let groups = group_selection(&params, &site.array)?;
    let members = params.list("member_names");
    let mut rows = Vec::new();
    for group in site.array.protection_groups.values() {
        if groups.as_ref().is_some_and(|g| !g.contains(&group.name)) {
            continue;
        }
        for target in &group.targets {
            if members.as_ref().is_none_or(|m| m.contains(&target.name)) {
                rows.push(render.target(group, target));
            }
        }
    }
    list(rows, &options, membership_key)
}

pub(super) async fn targets_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let (groups, members, source_array) = {
        let site = ctx.lock();
        let groups = required_groups(&params, &site.array)?;
        let members = params
            .list("member_names")
            .filter(|members| !members.is_empty())
            .ok_or_else(|| bad_request("Missing required parameter: member_names."))?;
        for group in &groups {
            let group = &site.array.protection_groups[group];
            if group.source != site.array.name {
                return Err(bad(
                    "Cannot add targets to a protection group replicated from another array.",
                    &group.name,
                ));
            }
            if group.destroyed {
                return Err(bad("Protection group has been destroyed.", &group.name));
            }
            for member in &members {
                if !site.array.connections.contains_key(member) {
                    return Err(bad("Array does not exist.", member));
                }
                if group.targets.iter().any(|t| &t.name == member) {
                    return Err(bad(
                        format!("Protection group {} already includes {member}.", group.name),
                        member,
                    ));
                }
            }
        }
        (groups, members, site.array.name.clone())
    };

    // The target learns of the group at once (one site lock at a time).
    let mut allowed = Vec::new();
    for member in &members {
        for group in &groups {
            let ok = match ctx.world.site_of_array(member) {
                Some(cell) => {
                    let mut target = cell.lock(&ctx.world);
                    replication::ensure_replica_group(&mut target, &source_array, group)
                }
                None => false,
            };
            allowed.push((group.clone(), member.clone(), ok));
        }
    }
    let mut site = ctx.lock();
    for (group, member, ok) in &allowed {
        if let Some(group) = site.array.protection_groups.get_mut(group)
            && !group.targets.iter().any(|t| &t.name == member)
        {
            group.targets.push(state::Target {
                name: member.clone(),
                allowed: *ok,
            });
        }
    }
    let render = Render::new(&site, &ctx.world);
    let mut rows = Vec::new();
    for (group, member, _) in &allowed {
        let group = &site.array.protection_groups[group];
        if let Some(target) = group.targets.iter().find(|t| &t.name == member) {
            rows.push(render.target(group, target));
        }
    }
    Ok(items(rows))
}

pub(super) async fn targets_patch(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let patch: model::TargetProtectionGroupPostPatch = body(&bytes)?;
    let allowed = patch
        .allowed
        .ok_or_else(|| bad_request("Missing required parameter: allowed."))?;
    let (groups, this_array) = {
        let mut site = ctx.lock();
        let groups = required_groups(&params, &site.array)?;
        let this_array = site.array.name.clone();
        for group in &groups {
            let group = &site.array.protection_groups[group];
            if group.source == this_array {
                return Err(bad(
                    "The allowed flag can only be set on the target array.",
                    &group.name,
                ));
            }
            let current = group.targets.iter().find(|t| t.name == this_array);
            if allowed && current.is_some_and(|t| t.allowed) {
                return Err(bad(
                    format!(
                        "Protection group {} is already allowed on {this_array}.",
                        group.name
                    ),
                    &group.name,
                ));
            }
        }
        for group in &groups {
            let group = site
                .array
                .protection_groups
                .get_mut(group)
                .expect("resolved");
            match group.targets.iter_mut().find(|t| t.name == this_array) {
                Some(target) => target.allowed = allowed,
                None => group.targets.push(state::Target {
                    name: this_array.clone(),
                    allowed,
                }),
            }
        }
        let groups: Vec<(String, String)> = groups
            .iter()
            .map(|name| {
                (
                    name.clone(),
                    site.array.protection_groups[name].source.clone(),
                )
            })
            .collect();
        (groups, this_array)
    };

    // Tell each source array (one site lock at a time).
    for (name, source) in &groups {
        let Some(cell) = ctx.world.site_of_array(source) else {
            continue;
        };
        let local_name = name.strip_prefix(&format!("{source}:")).unwrap_or(name);
        let mut source_site = cell.lock(&ctx.world);
        if let Some(group) = source_site.array.protection_groups.get_mut(local_name)
            && let Some(target) = group.targets.iter_mut().find(|t| t.name == this_array)
        {
            target.allowed = allowed;
        }
    }
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let rows = groups
        .iter()
        .filter_map(|(name, _)| {
            let group = &site.array.protection_groups[name];
            group
                .targets
                .iter()
                .find(|t| t.name == this_array)
                .map(|target| render.target(group, target))
        })
        .collect();
    Ok(items(rows))
}

pub(super) async fn targets_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let mut site = ctx.lock();
    let groups = required_groups(&params, &site.array)?;
    let members = params
        .list("member_names")
        .filter(|members| !members.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: member_names."))?;
    for group in &groups {
        let group = &site.array.protection_groups[group];
        if let Some(member) = members
            .iter()
            .find(|m| !group.targets.iter().any(|t| &t.name == *m))
        {
            return Err(bad(
                format!(
                    "Target {member} could not be found in protection group {}.",
                    group.name
                ),
                member,
            ));
        }
    }
    for group in &groups {
        let group = site
            .array
            .protection_groups
            .get_mut(group)
            .expect("resolved");
        group.targets.retain(|t| !members.contains(&t.name));
    }
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use axum::http::StatusCode;
    use serde_json::json;

    #[tokio::test]
    async fn targets_are_allowed_on_the_target_and_the_source_learns_it() {
        let h = Harness::new(1e6).await;
        let (_, body) = h
            .call(
                false,
                "PATCH",
                "protection-groups/targets?group_names=fa-a:prod-web-app",
                Some(json!({"allowed": true})),
            )
            .await;
        assert!(message(&body).contains("already allowed on"));
        let (status, _) = h
            .call(
                false,
                "PATCH",
                "protection-groups/targets?group_names=fa-a:prod-web-app",
                Some(json!({"allowed": false})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let source = h
            .items(true, "protection-groups/targets?group_names=prod-web-app")
            .await;
        assert_eq!(source[0]["allowed"], false);
        assert_eq!(source[0]["status"], "disallowed");
        // Disallowed: the next snapshot stays on the source.
        h.call(
            true,
            "POST",
            "protection-group-snapshots?source_names=prod-web-app&replicate_now=true",
            None,
        )
        .await;
        let (_, body) = h
            .call(
                false,
                "GET",
                "protection-group-snapshots?names=fa-a:prod-web-app.2",
                None,
            )
            .await;
        assert!(message(&body).contains("does not exist"));
    }
}
