//! Protection group snapshots and their transfers; copying a snapshot's volume.

use super::{pgroups::*, request::*, views::*};
use crate::clock::Op;
use crate::flasharray::query::{self, ListOptions, Params};
use crate::flasharray::replication::{self, SnapshotOptions};
use crate::flasharray::state::{self, Array};
use crate::world::SiteContext;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use protector_wire::flasharray::{self as model};
use std::collections::BTreeSet;

/// The protection-group snapshots a `GET` selects, oldest first. A name in `names` may also be
/// a protection group's, selecting all its snapshots (what Cinder's driver relies on when it
/// asks `names=<array>:<pg>` for the latest replicated snapshot).
pub(super) fn selected_group_snapshots<'a>(
    params: &Params,
    array: &'a Array,
) -> Result<Vec<&'a state::ProtectionGroupSnapshot>, Failure> {
    let destroyed = params.bool("destroyed")?;
    let mut names: Option<BTreeSet<String>> = None;
    let mut groups: Option<BTreeSet<String>> = None;
    match (params.list("names"), params.list("ids")) {
        (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
        (Some(requested), None) => {
            let (mut by_name, mut by_group) = (BTreeSet::new(), BTreeSet::new());
            for name in requested {
                if array.protection_group_snapshots.contains_key(&name) {
                    by_name.insert(name);
                } else if array.protection_groups.contains_key(&name) {
                    by_group.insert(name);
                } else {
                    return Err(bad("Protection group snapshot does not exist.", &name));
                }
            }
            if !by_group.is_empty() {
                groups = Some(by_group);
            }
            names = Some(by_name);
        }
        (None, Some(ids)) => {
            let selector = Selector::Ids(ids);
            let pairs = array
                .protection_group_snapshots
                .values()
                .map(|s| (s.id.as_str(), s.name.as_str()));
            names = Some(
                selector
                    .resolve(pairs, "Protection group snapshot does not exist.")?
                    .into_iter()
                    .collect(),
            );
        }
        (None, None) => {}
    }
    let sources: Option<BTreeSet<String>> =
        group_like(params, "source", array)?.map(|sources| sources.into_iter().collect());
    let mut snapshots = Vec::new();
    for snapshot in array.protection_group_snapshots.values() {
        let by_name = names.as_ref().is_some_and(|n| n.contains(&snapshot.name));
        if by_name {
            check_destroyed_state(
                destroyed,
                &names,
                &snapshot.name,
                snapshot.destroyed,
                "Protection group snapshot",
            )?;
        }
        let named = match (&names, &groups) {
            (None, None) => true,
            _ => {
                by_name
                    || groups
                        .as_ref()
                        .is_some_and(|g| g.contains(&snapshot.source))
            }
        };
        if named
            && sources
                .as_ref()
                .is_none_or(|s| s.contains(&snapshot.source))
            && keep(destroyed, snapshot.destroyed)
        {
            snapshots.push(snapshot);
        }
    }
    snapshots.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
    Ok(snapshots)
}

/// `<prefix>_names` / `<prefix>_ids` naming protection groups, resolved.
pub(super) fn group_like(
    params: &Params,
    prefix: &str,
    array: &Array,
) -> Result<Option<Vec<String>>, Failure> {
    let selector = match (
        params.list(&format!("{prefix}_names")),
        params.list(&format!("{prefix}_ids")),
    ) {
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

pub(super) async fn group_snapshots_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let rows = selected_group_snapshots(&params, &site.array)?
        .into_iter()
        .map(|snapshot| render.group_snapshot(snapshot))
        .collect();
    list(rows, &options, query::name_key)
}

pub(super) async fn group_snapshots_transfer_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let rows = selected_group_snapshots(&params, &site.array)?
        .into_iter()
        .map(|s| Render::transfer(&s.id, &s.name, s.destroyed, s.transfer.as_ref(), 1.0))
        .collect();
    list(rows, &options, query::name_key)
}

pub(super) async fn group_snapshots_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let request: model::ProtectionGroupSnapshotPost = body(&bytes)?;
    let replicate = params.flag("replicate")?;
    let replicate_now = params.flag("replicate_now")?;
    let apply_retention = params.flag("apply_retention")?;
    params.bool("for_replication")?;
    if replicate && replicate_now {
        return Err(bad_request(INVALID_COMBINATION));
    }
    let (site_name, groups) = {
        let site = ctx.lock();
        let groups = group_like(&params, "source", &site.array)?
            .filter(|groups| !groups.is_empty())
            .ok_or_else(|| {
                bad_request("Missing required parameter: source_names or source_ids.")
            })?;
        (site.name.clone(), groups)
    };

    let options = SnapshotOptions {
        suffix: request.suffix.clone(),
        replicate: replicate || replicate_now,
        completed: false,
    };

    let mut taken = Vec::new();
    for group in &groups {
        let name = replication::take_snapshot(&ctx.world, &site_name, group, &options)
            .map_err(|error| bad(error.to_string(), error.context()))?;
        taken.push(name);
    }
    let response = {
        let mut site = ctx.lock();
        if apply_retention {
            let (wall_ms, now, speed) = (
                site.clock.wall_ms(),
                ctx.world.clock.now(),
                ctx.world.clock.speed(),
            );
            for group in &groups {
                let retention = site.array.protection_groups[group].source_retention.clone();
                site.array
                    .apply_retention(group, &retention, wall_ms, now, speed);
            }
        }
        let render = Render::new(&site, &ctx.world);
        items(
            taken
                .iter()
                .filter_map(|name| site.array.protection_group_snapshots.get(name))
                .map(|snapshot| render.group_snapshot(snapshot))
                .collect(),
        )
    };

    tokio::time::sleep(ctx.world.clock.latency(Op::ArraySnapshot)).await;
    Ok(response)
}

pub(super) fn group_snapshot_pairs(array: &Array) -> impl Iterator<Item = (&str, &str)> + Clone {
    array
        .protection_group_snapshots
        .values()
        .map(|s| (s.id.as_str(), s.name.as_str()))
}

pub(super) async fn group_snapshots_patch(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let patch: model::ProtectionGroupSnapshotPatch = body(&bytes)?;
    if patch.name.is_some() {
        return Err(bad_request(
            "Renaming protection group snapshots is not supported by the simulated array.",
        ));
    }
    let selector = targets_of(&params)?;
    let mut site = ctx.lock();
    let now = ctx.world.clock.now();
    let names = selector.resolve(
        group_snapshot_pairs(&site.array),
        "Protection group snapshot does not exist.",
    )?;
    if let Some(destroyed) = patch.destroyed {
        for name in &names {
            if destroyed && site.array.protection_group_snapshots[name].destroyed {
                return Err(bad("Protection group snapshot has been destroyed.", name));
            }
        }
        for name in &names {
            site.array
                .set_group_snapshot_destroyed(name, destroyed, now);
        }
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        names
            .iter()
            .map(|name| render.group_snapshot(&site.array.protection_group_snapshots[name]))
            .collect(),
    ))
}

pub(super) async fn group_snapshots_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let selector = targets_of(&params)?;
    let mut site = ctx.lock();
    let names = selector.resolve(
        group_snapshot_pairs(&site.array),
        "Protection group snapshot does not exist.",
    )?;
    eradicate_destroyed(
        &mut site.array,
        &names,
        |array, name| array.protection_group_snapshots[name].destroyed,
        "Protection group snapshot must be destroyed before it can be eradicated.",
        Array::eradicate_group_snapshot,
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::views::*;
    use crate::flasharray::state::{self, Array};
    use axum::http::StatusCode;
    use protector_wire::flasharray::{self as model};
    use serde_json::json;
    use std::time::Instant;

    #[tokio::test]
    async fn a_replicated_snapshot_copies_into_a_volume_with_its_data() {
        let h = Harness::new(1e6).await;
        let (status, body) = h
            .call(
                true,
                "POST",
                "protection-group-snapshots?source_names=prod-web-app&replicate_now=true",
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["items"][0]["name"], "prod-web-app.2");
        // The transfer completes soon at this speed; a loaded machine may need a few looks.
        // Snapshots taken within the same millisecond tie on `started`: find ours by name.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let ours = loop {
            let latest = h
                .items(false, "protection-group-snapshots/transfer?names=fa-a:prod-web-app&destroyed=False&filter=progress%3D%221.0%22&sort=started-")
                .await;
            if let Some(ours) = latest
                .into_iter()
                .find(|transfer| transfer["name"] == "fa-a:prod-web-app.2")
            {
                break ours;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the new snapshot's transfer never completed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(ours["progress"], 1.0);
        let snapshots = h
            .items(
                false,
                "volume-snapshots?filter=name%3D%27fa-a%3Aprod-web-app.2.*%27",
            )
            .await;
        assert_eq!(snapshots.len(), 4);
        let name = snapshots[0]["name"].as_str().unwrap().to_string();
        let volume = name.rsplit('.').next().unwrap().to_string();
        let (status, body) = h
            .call(
                false,
                "POST",
                "volumes?names=restored&overwrite=true",
                Some(json!({"source": {"name": name}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["items"][0]["source"]["name"], format!("fa-a:{volume}"));
        let dump = h.world.dump();
        assert_eq!(
            dump["sites"]["site-b"]["array"]["volumes"]["restored"]["content"],
            dump["sites"]["site-a"]["array"]["volumes"][volume.as_str()]["content"]
        );
    }

    #[test]
    fn copies_come_from_the_volume_a_snapshot_was_taken_of() {
        let mut site_array = Array {
            name: "fa-b".into(),
            ..Default::default()
        };
        site_array.volumes.insert(
            "v".into(),
            state::Volume {
                id: "vid".into(),
                name: "v".into(),
                provisioned: 1,
                serial: "S".into(),
                created: 0,
                destroyed: false,
                source: None,
                content: String::new(),
            },
        );
        let render = Render {
            array: &site_array,
            now: Instant::now(),
            speed: 1.0,
        };
        assert_eq!(render.origin("v"), model::Reference::new("vid", "v"));
        assert_eq!(render.origin("v.snap1"), model::Reference::new("vid", "v"));
        assert_eq!(render.origin("pg.3.v"), model::Reference::new("vid", "v"));
        assert_eq!(
            render.origin("fa-a:pg.3.volume-x-cinder"),
            model::Reference::named("fa-a:volume-x-cinder")
        );
    }
}
