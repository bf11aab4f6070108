//! Volume snapshots.

use super::{request::*, views::*, volumes::*};
use crate::clock::Op;
use crate::flasharray::query::{self, ListOptions, Params};
use crate::flasharray::state::{self, Array, valid_suffix};
use crate::world::SiteContext;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use protector_wire::flasharray::{self as model};
use std::collections::BTreeSet;

pub(super) fn volume_snapshot_pairs(array: &Array) -> impl Iterator<Item = (&str, &str)> + Clone {
    array
        .volume_snapshots
        .values()
        .map(|s| (s.id.as_str(), s.name.as_str()))
}

/// The volume snapshots a `GET` selects, oldest first.
pub(super) fn selected_volume_snapshots<'a>(
    params: &Params,
    render: &Render<'a>,
) -> Result<Vec<&'a state::VolumeSnapshot>, Failure> {
    let array = render.array;
    let destroyed = params.bool("destroyed")?;
    let selected = optional_selection(
        params,
        volume_snapshot_pairs(array),
        "No such volume or snapshot.",
    )?;
    let sources: Option<BTreeSet<String>> =
        match (params.list("source_names"), params.list("source_ids")) {
            (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
            (Some(names), None) => Some(names.into_iter().collect()),
            (None, Some(ids)) => Some(
                ids.iter()
                    .map(|id| {
                        array
                            .volumes
                            .values()
                            .find(|v| &v.id == id)
                            .map(|v| v.name.clone())
                            .ok_or_else(|| bad("Volume does not exist.", id))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (None, None) => None,
        };
    let mut snapshots: Vec<&state::VolumeSnapshot> = Vec::new();
    for snapshot in array.volume_snapshots.values() {
        check_destroyed_state(
            destroyed,
            &selected,
            &snapshot.name,
            snapshot.destroyed,
            "Snapshot",
        )?;
        let source = render.snapshot_source(snapshot).name.unwrap_or_default();
        if selected.as_ref().is_none_or(|s| s.contains(&snapshot.name))
            && sources.as_ref().is_none_or(|s| s.contains(&source))
            && keep(destroyed, snapshot.destroyed)
        {
            snapshots.push(snapshot);
        }
    }
    snapshots.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
    Ok(snapshots)
}

pub(super) async fn volume_snapshots_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let rows = selected_volume_snapshots(&params, &render)?
        .into_iter()
        .map(|snapshot| render.volume_snapshot(snapshot))
        .collect();
    list(rows, &options, query::name_key)
}

pub(super) async fn volume_snapshots_transfer_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let rows = selected_volume_snapshots(&params, &render)?
        .into_iter()
        .map(|snapshot| render.volume_snapshot_transfer(snapshot))
        .collect();
    list(rows, &options, query::name_key)
}

pub(super) async fn volume_snapshots_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let request: model::VolumeSnapshotPost = body(&bytes)?;
    let response = {
        let mut site = ctx.lock();
        let sources = match (params.list("source_names"), params.list("source_ids")) {
            (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
            (Some(names), None) if !names.is_empty() => Selector::Names(names),
            (None, Some(ids)) if !ids.is_empty() => Selector::Ids(ids),
            _ => {
                return Err(bad_request(
                    "Missing required parameter: source_names or source_ids.",
                ));
            }
        }
        .resolve(volume_pairs(&site.array), "Volume does not exist.")?;
        if let Some(suffix) = &request.suffix
            && !valid_suffix(suffix)
        {
            return Err(bad("Invalid suffix.", suffix));
        }
        let mut created_names = Vec::new();
        for source in &sources {
            let volume = &site.array.volumes[source];
            if volume.destroyed {
                return Err(bad("Volume has been destroyed.", source));
            }
            let suffix = match &request.suffix {
                Some(suffix) => suffix.clone(),
                None => {
                    let prefix = format!("{source}.");
                    let next = site
                        .array
                        .volume_snapshots
                        .keys()
                        .filter_map(|name| name.strip_prefix(&prefix))
                        .filter_map(|suffix| suffix.parse::<u64>().ok())
                        .max()
                        .unwrap_or(0)
                        + 1;
                    next.to_string()
                }
            };
            let name = format!("{source}.{suffix}");
            if site.array.volume_snapshots.contains_key(&name) {
                return Err(bad("Snapshot already exists.", &name));
            }
            let (provisioned, content) = (volume.provisioned, volume.content.clone());
            let id = site.ids.uuid();
            let serial = site.ids.hex(24).to_uppercase();
            let created = site.clock.wall_ms();
            site.array.volume_snapshots.insert(
                name.clone(),
                state::VolumeSnapshot {
                    id,
                    name: name.clone(),
                    source: source.clone(),
                    suffix,
                    provisioned,
                    created,
                    destroyed: false,
                    content,
                    protection_group_snapshot: None,
                    serial,
                },
            );
            created_names.push(name);
        }
        let render = Render::new(&site, &ctx.world);
        items(
            created_names
                .iter()
                .map(|name| render.volume_snapshot(&site.array.volume_snapshots[name]))
                .collect(),
        )
    };

    tokio::time::sleep(ctx.world.clock.latency(Op::ArraySnapshot)).await;
    Ok(response)
}

pub(super) async fn volume_snapshots_patch(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let patch: model::VolumeSnapshotPatch = body(&bytes)?;
    if patch.name.is_some() && patch.destroyed.is_some() {
        return Err(bad_request(INVALID_COMBINATION));
    }
    let selector = targets_of(&params)?;
    let mut site = ctx.lock();
    let now = ctx.world.clock.now();
    let names = selector.resolve(
        volume_snapshot_pairs(&site.array),
        "No such volume or snapshot.",
    )?;
    let mut changed = Vec::new();
    for name in names {
        let snapshot = &site.array.volume_snapshots[&name];
        match patch.destroyed {
            Some(true) if snapshot.destroyed => {
                return Err(bad("Snapshot has been destroyed.", &name));
            }
            Some(destroyed) => site
                .array
                .set_volume_snapshot_destroyed(&name, destroyed, now),
            None => {}
        }
        let Some(new) = &patch.name else {
            changed.push(name);
            continue;
        };
        let snapshot = &site.array.volume_snapshots[&name];
        if snapshot.destroyed {
            return Err(bad("Snapshot has been destroyed.", &name));
        }
        if state::replica_source(&name).is_some() || snapshot.protection_group_snapshot.is_some() {
            return Err(bad(
                "Cannot rename a snapshot that belongs to a protection group snapshot.",
                &name,
            ));
        }
        let prefix = format!("{}.", snapshot.source);
        let suffix = new.strip_prefix(&prefix).unwrap_or(new).to_string();
        if !valid_suffix(&suffix) {
            return Err(bad("Invalid suffix.", new));
        }
        let new_name = format!("{prefix}{suffix}");
        if new_name != name {
            if site.array.volume_snapshots.contains_key(&new_name) {
                return Err(bad("Snapshot already exists.", &new_name));
            }
            let mut snapshot = site.array.volume_snapshots.remove(&name).expect("exists");
            snapshot.name = new_name.clone();
            snapshot.suffix = suffix;
            site.array
                .volume_snapshots
                .insert(new_name.clone(), snapshot);
        }
        changed.push(new_name);
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        changed
            .iter()
            .map(|name| render.volume_snapshot(&site.array.volume_snapshots[name]))
            .collect(),
    ))
}

pub(super) async fn volume_snapshots_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let selector = targets_of(&params)?;
    let mut site = ctx.lock();
    let names = selector.resolve(
        volume_snapshot_pairs(&site.array),
        "No such volume or snapshot.",
    )?;
    eradicate_destroyed(
        &mut site.array,
        &names,
        |array, name| array.volume_snapshots[name].destroyed,
        "Snapshot must be destroyed before it can be eradicated.",
        Array::eradicate_volume_snapshot,
    )
}
