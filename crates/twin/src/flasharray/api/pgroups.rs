//! Protection groups and their volumes.

use super::{request::*, views::*, volumes::*};
use crate::flasharray::query::{self, ListOptions, Params};
use crate::flasharray::state::{self, Array, valid_name};
use crate::world::SiteContext;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use protector_wire::flasharray::{self as model};
use serde_json::Value;

pub(super) fn group_pairs(array: &Array) -> impl Iterator<Item = (&str, &str)> + Clone {
    array
        .protection_groups
        .values()
        .map(|g| (g.id.as_str(), g.name.as_str()))
}

pub(super) async fn groups_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let destroyed = params.bool("destroyed")?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let selected = optional_selection(
        &params,
        group_pairs(&site.array),
        "Protection group does not exist.",
    )?;
    let mut rows = Vec::new();
    for group in site.array.protection_groups.values() {
        check_destroyed_state(
            destroyed,
            &selected,
            &group.name,
            group.destroyed,
            "Protection group",
        )?;
        if selected.as_ref().is_none_or(|s| s.contains(&group.name))
            && keep(destroyed, group.destroyed)
        {
            rows.push(render.group(group));
        }
    }
    list(rows, &options, query::name_key)
}

pub(super) async fn groups_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let _request: model::ProtectionGroupPost = body(&bytes)?;
    if params.has("source_names") || params.has("source_ids") {
        return Err(bad_request(
            "Copying protection groups is not supported by the simulated array.",
        ));
    }
    let names = params
        .list("names")
        .filter(|names| !names.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: names."))?;
    let mut site = ctx.lock();
    for name in &names {
        if !valid_name(name) {
            return Err(bad(INVALID_NAME, name));
        }
        if site.array.protection_groups.contains_key(name) {
            return Err(bad("Protection group already exists.", name));
        }
    }
    for name in &names {
        let id = site.ids.uuid();
        let source = site.array.name.clone();
        site.array.protection_groups.insert(
            name.clone(),
            state::ProtectionGroup {
                id,
                name: name.clone(),
                source,
                volumes: Vec::new(),
                targets: Vec::new(),
                // Purity's defaults: replicate every 4 hours, snapshot every hour, both off.
                replication_schedule: state::Schedule {
                    enabled: false,
                    frequency: 14_400_000,
                },
                snapshot_schedule: state::Schedule {
                    enabled: false,
                    frequency: 3_600_000,
                },
                source_retention: state::Retention::default(),
                target_retention: state::Retention::default(),
                destroyed: false,
                next_suffix: 1,
                next_replication: None,
            },
        );
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        names
            .iter()
            .map(|name| render.group(&site.array.protection_groups[name]))
            .collect(),
    ))
}

pub(super) fn apply_retention_patch(
    retention: &mut state::Retention,
    patch: &model::RetentionPolicy,
) {
    if let Some(all_for_sec) = patch.all_for_sec {
        retention.all_for_sec = all_for_sec;
    }
    if let Some(per_day) = patch.per_day.or(patch.per_period) {
        retention.per_day = per_day;
    }
    if let Some(days) = patch.days {
        retention.days = days.max(0) as u64;
    }
}

pub(super) async fn groups_patch(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let patch: model::ProtectionGroup = body(&bytes)?;
    if patch.name.is_some() && patch.destroyed.is_some() {
        return Err(bad_request(INVALID_COMBINATION));
    }
    let selector = targets_of(&params)?;
    let mut site = ctx.lock();
    let now = ctx.world.clock.now();
    let names = selector.resolve(group_pairs(&site.array), "Protection group does not exist.")?;
    let modifies = patch.name.is_some()
        || patch.replication_schedule.is_some()
        || patch.snapshot_schedule.is_some()
        || patch.source_retention.is_some()
        || patch.target_retention.is_some();
    for name in &names {
        let group = &site.array.protection_groups[name];
        if patch.destroyed == Some(true) && group.destroyed {
            return Err(bad("Protection group has been destroyed.", name));
        }
        if modifies && group.destroyed && patch.destroyed != Some(false) {
            return Err(bad("Protection group has been destroyed.", name));
        }
        if modifies && group.source != site.array.name {
            return Err(bad(
                "Cannot modify a protection group replicated from another array.",
                name,
            ));
        }
        if let Some(schedule) = &patch.replication_schedule
            && schedule
                .frequency
                .is_some_and(|f| f < *model::REPLICATION_FREQUENCY_MS.start())
        {
            return Err(bad(
                "Invalid replication frequency: at least 5 minutes.",
                name,
            ));
        }
        if patch.name.as_ref().is_some_and(|new| new != name) {
            return Err(bad(
                "Renaming protection groups is not supported by the simulated array.",
                name,
            ));
        }
    }
    for name in &names {
        if let Some(destroyed) = patch.destroyed {
            site.array.set_group_destroyed(name, destroyed, now);
        }
        let group = site
            .array
            .protection_groups
            .get_mut(name)
            .expect("resolved");
        if let Some(schedule) = &patch.replication_schedule {
            if let Some(enabled) = schedule.enabled {
                group.replication_schedule.enabled = enabled;
            }
            if let Some(frequency) = schedule.frequency {
                group.replication_schedule.frequency = frequency;
            }
            group.next_replication = None;
        }
        if let Some(schedule) = &patch.snapshot_schedule {
            if let Some(enabled) = schedule.enabled {
                group.snapshot_schedule.enabled = enabled;
            }
            if let Some(frequency) = schedule.frequency {
                group.snapshot_schedule.frequency = frequency;
            }
        }
        if let Some(retention) = &patch.source_retention {
            apply_retention_patch(&mut group.source_retention, retention);
        }
        if let Some(retention) = &patch.target_retention {
            apply_retention_patch(&mut group.target_retention, retention);
        }
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        names
            .iter()
            .map(|name| render.group(&site.array.protection_groups[name]))
            .collect(),
    ))
}

pub(super) async fn groups_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let selector = targets_of(&params)?;
    let mut site = ctx.lock();
    let names = selector.resolve(group_pairs(&site.array), "Protection group does not exist.")?;
    eradicate_destroyed(
        &mut site.array,
        &names,
        |array, name| array.protection_groups[name].destroyed,
        "Protection group must be destroyed before it can be eradicated.",
        Array::eradicate_group,
    )
}

/// `group_names` (or `group_ids`), resolved; `None` when absent.
pub(super) fn group_selection(
    params: &Params,
    array: &Array,
) -> Result<Option<Vec<String>>, Failure> {
    let selector = match (params.list("group_names"), params.list("group_ids")) {
        (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
        (Some(names), None) => Selector::Names(names),
        (None, Some(ids)) => Selector::Ids(ids),
        (None, None) => return Ok(None),
    };

    Ok(Some(selector.resolve(
        group_pairs(array),
        "Protection group does not exist.",
    )?))
}

pub(super) fn required_groups(params: &Params, array: &Array) -> Result<Vec<String>, Failure> {
    group_selection(params, array)?
        .filter(|groups| !groups.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: group_names."))
}

/// `member_names` (or `member_ids`) of volumes, resolved; `None` when absent.
pub(super) fn volume_members(
    params: &Params,
    array: &Array,
) -> Result<Option<Vec<String>>, Failure> {
    let selector = match (params.list("member_names"), params.list("member_ids")) {
        (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
        (Some(names), None) => Selector::Names(names),
        (None, Some(ids)) => Selector::Ids(ids),
        (None, None) => return Ok(None),
    };

    Ok(Some(
        selector.resolve(volume_pairs(array), "Volume does not exist.")?,
    ))
}

pub(super) fn membership_key(json: &Value) -> String {
    format!(
        "{}\t{}",
        json.pointer("/group/name")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        json.pointer("/member/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    )
}

pub(super) async fn group_volumes_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let member_destroyed = params.bool("member_destroyed")?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let groups = group_selection(&params, &site.array)?;
    let members = volume_members(&params, &site.array)?;
    let mut rows = Vec::new();
    for group in site.array.protection_groups.values() {
        if groups.as_ref().is_some_and(|g| !g.contains(&group.name)) {
            continue;
        }
        for member in &group.volumes {
            let destroyed = site.array.volumes.get(member).is_some_and(|v| v.destroyed);
            if members.as_ref().is_none_or(|m| m.contains(member))
                && keep(member_destroyed, destroyed)
            {
                rows.push(render.membership(group, member));
            }
        }
    }
    list(rows, &options, membership_key)
}

pub(super) async fn group_volumes_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let mut site = ctx.lock();
    let groups = required_groups(&params, &site.array)?;
    let members = volume_members(&params, &site.array)?
        .filter(|members| !members.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: member_names."))?;
    for group in &groups {
        let group = &site.array.protection_groups[group];
        if group.destroyed {
            return Err(bad("Protection group has been destroyed.", &group.name));
        }
        if group.source != site.array.name {
            return Err(bad(
                "Cannot add members to a protection group replicated from another array.",
                &group.name,
            ));
        }
    }
    for member in &members {
        if site.array.volumes[member].destroyed {
            return Err(bad("Volume has been destroyed.", member));
        }
    }
    for group in &groups {
        let group = site
            .array
            .protection_groups
            .get_mut(group)
            .expect("resolved");
        for member in &members {
            if !group.volumes.contains(member) {
                group.volumes.push(member.clone());
            }
        }
    }
    let render = Render::new(&site, &ctx.world);
    let mut rows = Vec::new();
    for group in &groups {
        for member in &members {
            rows.push(render.membership(&site.array.protection_groups[group], member));
        }
    }
    Ok(items(rows))
}

pub(super) async fn group_volumes_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let mut site = ctx.lock();
    let groups = required_groups(&params, &site.array)?;
    let members = volume_members(&params, &site.array)?
        .filter(|members| !members.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: member_names."))?;
    for group in &groups {
        let group = &site.array.protection_groups[group];
        if let Some(member) = members.iter().find(|m| !group.volumes.contains(m)) {
            return Err(bad(
                format!(
                    "Volume {member} could not be found in protection group {}.",
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
        group.volumes.retain(|member| !members.contains(member));
    }
    Ok(StatusCode::OK.into_response())
}
