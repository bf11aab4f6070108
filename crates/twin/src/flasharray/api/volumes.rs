//! Volumes: list, create (empty or a copy), update (rename, destroy, recover), eradicate.

use super::{request::*, views::*};
use crate::clock::Op;
use crate::flasharray::query::{self, ListOptions, Params};
use crate::flasharray::state::{self, Array, valid_name};
use crate::world::SiteContext;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use protector_wire::flasharray::{self as model};

pub(super) fn volume_pairs(array: &Array) -> impl Iterator<Item = (&str, &str)> + Clone {
    array
        .volumes
        .values()
        .map(|v| (v.id.as_str(), v.name.as_str()))
}

pub(super) async fn volumes_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let destroyed = params.bool("destroyed")?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let selected =
        optional_selection(&params, volume_pairs(&site.array), "Volume does not exist.")?;
    let mut rows = Vec::new();
    for volume in site.array.volumes.values() {
        check_destroyed_state(
            destroyed,
            &selected,
            &volume.name,
            volume.destroyed,
            "Volume",
        )?;
        if selected.as_ref().is_none_or(|s| s.contains(&volume.name))
            && keep(destroyed, volume.destroyed)
        {
            rows.push(render.volume(volume));
        }
    }
    list(rows, &options, query::name_key)
}

/// Checks QoS limits against the array's ranges.
pub(super) fn check_qos(
    bandwidth: Option<u64>,
    iops: Option<u64>,
    context: &str,
) -> Result<(), Failure> {
    if bandwidth.is_some_and(|b| !(1_048_576..=549_755_813_888).contains(&b)) {
        return Err(bad("Invalid bandwidth limit: 1 MB/s to 512 GB/s.", context));
    }
    if iops.is_some_and(|i| !(100..=100_000_000).contains(&i)) {
        return Err(bad("Invalid IOPS limit: 100 to 100M.", context));
    }
    Ok(())
}

pub(super) const MAX_PROVISIONED: u64 = 4_503_599_627_370_496;

pub(super) async fn volumes_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let request: model::VolumePost = body(&bytes)?;
    let overwrite = params.flag("overwrite")?;
    let names = params
        .list("names")
        .filter(|names| !names.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: names."))?;
    let add_to_groups = params
        .list("add_to_protection_group_names")
        .unwrap_or_default();
    let copy = request.source.is_some();
    let response = {
        let mut site = ctx.lock();
        let now = ctx.world.clock.now();
        for group in &add_to_groups {
            match site.array.protection_groups.get(group) {
                None => return Err(bad("Protection group does not exist.", group)),
                Some(g) if g.source != site.array.name => {
                    return Err(bad(
                        "Cannot add volumes to a protection group replicated from another array.",
                        group,
                    ));
                }
                Some(_) => {}
            }
        }
        // Validate everything before changing anything.
        let source = match &request.source {
            Some(reference) => Some(copy_source(&site.array, reference)?),
            None => None,
        };
        let provisioned = match (&source, request.provisioned) {
            (Some(source), _) => source.provisioned,
            (None, None) => 1 << 20,
            (None, Some(0)) => {
                return Err(bad_request(
                    "Invalid provisioned size: must be at least 1 MB.",
                ));
            }
            (None, Some(size)) if size > MAX_PROVISIONED => {
                return Err(bad_request("Invalid provisioned size: at most 4 PB."));
            }
            (None, Some(size)) => size.div_ceil(512) * 512,
        };
        if let Some(qos) = &request.qos {
            check_qos(qos.bandwidth_limit, qos.iops_limit, &names[0])?;
        }
        for name in &names {
            if !valid_name(name) {
                return Err(bad(INVALID_NAME, name));
            }
            match site.array.volumes.get(name) {
                Some(existing) if overwrite && copy && existing.destroyed => {
                    return Err(bad("Volume has been destroyed.", name));
                }
                Some(_) if overwrite && copy => {}
                Some(_) => return Err(bad("Volume already exists.", name)),
                None => {}
            }
        }
        let created = site.clock.wall_ms();
        for name in &names {
            let (content, origin) = match &source {
                Some(source) => (source.content.clone(), Some(source.name.clone())),
                None => (format!("empty:{}:{name}:{created}", site.array.name), None),
            };
            if let Some(existing) = site.array.volumes.get_mut(name) {
                existing.provisioned = provisioned;
                existing.content = content;
                existing.source = origin;
            } else {
                let id = site.ids.uuid();
                let serial = site.ids.hex(24).to_uppercase();
                if let Some(source) = source.as_ref().filter(|s| !s.tags.is_empty()) {
                    site.array
                        .volume_tags
                        .insert(id.clone(), source.tags.clone());
                }
                site.array.volumes.insert(
                    name.clone(),
                    state::Volume {
                        id,
                        name: name.clone(),
                        provisioned,
                        serial,
                        created,
                        destroyed: false,
                        source: origin,
                        content,
                    },
                );
            }
            let id = site.array.volumes[name].id.clone();
            if let Some(qos) = &request.qos {
                site.array.volume_qos.insert(
                    id,
                    state::Qos {
                        bandwidth_limit: qos.bandwidth_limit,
                        iops_limit: qos.iops_limit,
                    },
                );
            }
            for group in &add_to_groups {
                let group = site
                    .array
                    .protection_groups
                    .get_mut(group)
                    .expect("checked");
                if !group.volumes.contains(name) {
                    group.volumes.push(name.clone());
                }
            }
            if request.destroyed == Some(true) {
                site.array.set_volume_destroyed(name, true, now);
            }
        }
        let render = Render::new(&site, &ctx.world);
        items(
            names
                .iter()
                .map(|name| render.volume(&site.array.volumes[name]))
                .collect(),
        )
    };

    if copy {
        tokio::time::sleep(ctx.world.clock.latency(Op::ArrayCopy)).await;
    }
    Ok(response)
}

/// What a copy copies.
pub(super) struct CopySource {
    pub(super) name: String,
    pub(super) provisioned: u64,
    pub(super) content: String,
    /// The source volume's copyable tags (the twin's snapshots have none).
    pub(super) tags: Vec<state::Tag>,
}

pub(super) fn copy_source(
    array: &Array,
    reference: &model::Reference,
) -> Result<CopySource, Failure> {
    let by_name = |name: &str| -> Result<CopySource, Failure> {
        if let Some(volume) = array.volumes.get(name) {
            if volume.destroyed {
                return Err(bad("Volume has been destroyed.", name));
            }
            return Ok(CopySource {
                name: name.to_string(),
                provisioned: volume.provisioned,
                content: volume.content.clone(),
                tags: array
                    .volume_tags
                    .get(&volume.id)
                    .into_iter()
                    .flatten()
                    .filter(|tag| tag.copyable)
                    .cloned()
                    .collect(),
            });
        }
        let Some(snapshot) = array.volume_snapshots.get(name) else {
            return Err(bad("No such volume or snapshot.", name));
        };
        if snapshot.destroyed {
            return Err(bad("Snapshot has been destroyed.", name));
        }
        let pending = snapshot
            .protection_group_snapshot
            .as_ref()
            .and_then(|group| array.protection_group_snapshots.get(group))
            .and_then(|group| group.transfer.as_ref())
            .is_some_and(|transfer| !transfer.is_complete() && transfer.peer != array.name)
            && state::replica_source(name).is_some();
        if pending {
            return Err(bad(
                "Snapshot is still being replicated to this array.",
                name,
            ));
        }
        Ok(CopySource {
            name: name.to_string(),
            provisioned: snapshot.provisioned,
            content: snapshot.content.clone(),
            tags: Vec::new(),
        })
    };

    match (&reference.name, &reference.id) {
        (Some(name), _) => by_name(name),
        (None, Some(id)) => {
            let name = array
                .volumes
                .values()
                .find(|v| &v.id == id)
                .map(|v| v.name.clone())
                .or_else(|| {
                    array
                        .volume_snapshots
                        .values()
                        .find(|s| &s.id == id)
                        .map(|s| s.name.clone())
                })
                .ok_or_else(|| bad("No such volume or snapshot.", id))?;
            by_name(&name)
        }
        (None, None) => Err(bad_request("Invalid source: give a name or an id.")),
    }
}

pub(super) async fn volumes_patch(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let patch: model::VolumePatch = body(&bytes)?;
    let truncate = params.flag("truncate")?;
    let selector = targets_of(&params)?;
    if patch.name.is_some() && patch.destroyed.is_some() {
        return Err(bad_request(INVALID_COMBINATION));
    }
    let mut site = ctx.lock();
    let now = ctx.world.clock.now();
    let names = selector.resolve(volume_pairs(&site.array), "Volume does not exist.")?;
    if patch.name.is_some() && names.len() > 1 {
        return Err(bad_request(INVALID_COMBINATION));
    }
    let modifies = patch.name.is_some() || patch.provisioned.is_some() || patch.qos.is_some();
    let (bandwidth, iops) = match &patch.qos {
        Some(qos) => (limit(&qos.bandwidth_limit), limit(&qos.iops_limit)),
        None => (None, None),
    };

    check_qos(bandwidth.flatten(), iops.flatten(), &names[0])?;
    // Validate every volume first: a PATCH applies to all or to none.
    for name in &names {
        let volume = &site.array.volumes[name];
        match patch.destroyed {
            Some(true) if volume.destroyed => return Err(bad("Volume has been destroyed.", name)),
            Some(false) if modifies && volume.destroyed => {}
            _ if modifies && volume.destroyed => {
                return Err(bad("Volume has been destroyed.", name));
            }
            _ => {}
        }
        if let Some(new) = &patch.name {
            if !valid_name(new) {
                return Err(bad(INVALID_NAME, new));
            }
            if new != name && site.array.volumes.contains_key(new) {
                return Err(bad("Volume already exists.", new));
            }
        }
        if let Some(size) = patch.provisioned {
            if size == 0 || size > MAX_PROVISIONED {
                return Err(bad("Invalid provisioned size.", name));
            }
            if size < volume.provisioned && !truncate {
                return Err(bad("Implicit truncation not permitted.", name));
            }
        }
    }
    let mut changed = Vec::new();
    for name in names {
        if let Some(destroyed) = patch.destroyed {
            site.array.set_volume_destroyed(&name, destroyed, now);
        }
        if let Some(size) = patch.provisioned {
            let volume = site.array.volumes.get_mut(&name).expect("validated");
            volume.provisioned = size.div_ceil(512) * 512;
        }
        if patch.qos.is_some() {
            let id = site.array.volumes[&name].id.clone();
            let mut qos = site.array.volume_qos.get(&id).copied().unwrap_or_default();
            if let Some(bandwidth) = bandwidth {
                qos.bandwidth_limit = bandwidth;
            }
            if let Some(iops) = iops {
                qos.iops_limit = iops;
            }
            site.array.volume_qos.insert(id, qos);
        }
        let name = match &patch.name {
            Some(new) if *new != name => {
                site.array.rename_volume(&name, new);
                new.clone()
            }
            _ => name,
        };
        changed.push(name);
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        changed
            .iter()
            .map(|name| render.volume(&site.array.volumes[name]))
            .collect(),
    ))
}

/// A QoS patch value: `None` untouched, `Some(None)` unset, `Some(Some(n))` set.
pub(super) fn limit(value: &Option<model::LimitPatch>) -> Option<Option<u64>> {
    match value {
        None => None,
        Some(model::LimitPatch::Limit(n)) => Some(Some(*n)),
        Some(model::LimitPatch::Unset(_)) => Some(None),
    }
}

pub(super) async fn volumes_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let selector = targets_of(&params)?;
    let mut site = ctx.lock();
    let names = selector.resolve(volume_pairs(&site.array), "Volume does not exist.")?;
    eradicate_destroyed(
        &mut site.array,
        &names,
        |array, name| array.volumes[name].destroyed,
        "Volume must be destroyed before it can be eradicated.",
        Array::eradicate_volume,
    )
}

#[cfg(test)]
mod tests {
    use super::super::request::*;
    use super::super::testing::*;
    use axum::http::StatusCode;
    use serde_json::Value;
    use serde_json::json;

    #[tokio::test]
    async fn volumes_follow_the_array_rules() {
        let h = Harness::new(1e6).await;
        let (status, body) = h
            .call(
                true,
                "POST",
                "volumes?names=v1",
                Some(json!({"provisioned": 1000})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["items"][0]["provisioned"], 1024,
            "rounded up to 512-byte sectors"
        );
        let (_, body) = h
            .call(true, "POST", "volumes?names=v1", Some(json!({})))
            .await;
        assert_eq!(message(&body), "Volume already exists.");
        let (_, body) = h
            .call(true, "POST", "volumes?names=a.b", Some(json!({})))
            .await;
        assert!(message(&body).starts_with("Invalid name"));
        let (_, body) = h
            .call(
                true,
                "PATCH",
                "volumes?names=v1",
                Some(json!({"name": "v2", "destroyed": true})),
            )
            .await;
        assert_eq!(message(&body), INVALID_COMBINATION);
        let (_, body) = h.call(true, "DELETE", "volumes?names=v1", None).await;
        assert!(message(&body).contains("must be destroyed"));
        let (status, _) = h
            .call(
                true,
                "PATCH",
                "volumes?names=v1",
                Some(json!({"destroyed": true})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, body) = h
            .call(
                true,
                "PATCH",
                "volumes?names=v1",
                Some(json!({"name": "v2"})),
            )
            .await;
        assert_eq!(message(&body), "Volume has been destroyed.");
        let (status, body) = h.call(true, "DELETE", "volumes?names=v1", None).await;
        assert_eq!((status, body), (StatusCode::OK, Value::Null));
        let (_, body) = h.call(true, "GET", "volumes?names=v1", None).await;
        assert_eq!(message(&body), "Volume does not exist.");
        assert_eq!(body["errors"][0]["context"], "v1");
    }

    #[tokio::test]
    async fn large_lists_come_in_pages() {
        let h = Harness::new(1e6).await;
        let names: Vec<String> = (0..2500).map(|n| format!("bulk-{n:05}")).collect();
        for chunk in names.chunks(500) {
            let (status, body) = h
                .call(
                    true,
                    "POST",
                    &format!("volumes?names={}", chunk.join(",")),
                    Some(json!({"provisioned": 1 << 30})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let started = std::time::Instant::now();
        let mut seen = 0;
        let mut token: Option<String> = None;
        loop {
            let query = token.map_or(String::new(), |t| {
                format!(
                    "?continuation_token={}",
                    t.replace('+', "%2B")
                        .replace('=', "%3D")
                        .replace('/', "%2F")
                )
            });
            let (status, body) = h.call(true, "GET", &format!("volumes{query}"), None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            seen += body["items"].as_array().unwrap().len();
            match body["continuation_token"].as_str() {
                Some(next) => token = Some(next.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, 2504);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}
