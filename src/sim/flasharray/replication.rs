//! Replication of protection-group snapshots from a source array to its targets.
//!
//! A cycle takes a snapshot `<pg>.<N>` of the group's volumes on the source, then records on
//! each allowed target the replicated group `<source>:<pg>`, its snapshot `<source>:<pg>.<N>`
//! and the volume snapshots `<source>:<pg>.<N>.<volume>`, with a transfer whose progress rises
//! from 0 to 1 over the modelled time (see `clock::Op::ReplicationPerGib`).

use std::time::Duration;

use super::state::{
    ProtectionGroup, ProtectionGroupSnapshot, Retention, Schedule, Target, Transfer, VolumeSnapshot,
};
use crate::sim::clock::Op;
use crate::sim::world::World;

/// What travels from the source array to a target in one cycle.
struct Payload {
    source_array: String,
    group: String,
    suffix: String,
    created: i64,
    /// (volume name, provisioned bytes, content).
    volumes: Vec<(String, u64, String)>,
    targets: Vec<String>,
}

/// Takes a snapshot of protection group `group` on `site`'s array and replicates it to every
/// allowed target. With `completed`, the transfer is already done (the fixture's initial state).
/// Returns the new snapshot's name on the source.
pub fn replicate_now(
    world: &World,
    site: &str,
    group: &str,
    completed: bool,
) -> Result<String, String> {
    let cell = world
        .site(site)
        .ok_or_else(|| format!("unknown site `{site}`"))?;
    let payload = {
        let mut site = cell.lock(world);
        let created = site.clock.wall_ms();
        let array_name = site.array.name.clone();
        let id = site.ids.uuid();
        let array = &mut site.array;
        let protection_group = array
            .protection_groups
            .get_mut(group)
            .filter(|group| !group.destroyed && group.source == array_name)
            .ok_or_else(|| format!("protection group `{group}` does not exist on {array_name}"))?;
        let suffix = protection_group.next_suffix.to_string();
        protection_group.next_suffix += 1;
        let members = protection_group.volumes.clone();
        let targets: Vec<String> = protection_group
            .targets
            .iter()
            .filter(|target| target.allowed)
            .map(|target| target.name.clone())
            .collect();
        let snapshot_name = format!("{group}.{suffix}");
        let mut volumes = Vec::new();
        for member in &members {
            let Some(volume) = array.volumes.get(member).filter(|volume| !volume.destroyed) else {
                continue;
            };
            volumes.push((
                volume.name.clone(),
                volume.provisioned,
                volume.content.clone(),
            ));
        }
        for (volume, provisioned, content) in &volumes {
            let name = format!("{snapshot_name}.{volume}");
            let id = site.ids.uuid();
            site.array.volume_snapshots.insert(
                name.clone(),
                VolumeSnapshot {
                    id,
                    name,
                    source: volume.clone(),
                    suffix: suffix.clone(),
                    provisioned: *provisioned,
                    created,
                    destroyed: false,
                    content: content.clone(),
                    protection_group_snapshot: Some(snapshot_name.clone()),
                },
            );
        }
        site.array.protection_group_snapshots.insert(
            snapshot_name.clone(),
            ProtectionGroupSnapshot {
                id,
                name: snapshot_name,
                source: group.to_string(),
                suffix: suffix.clone(),
                created,
                destroyed: false,
                transfer: None,
            },
        );
        Payload {
            source_array: array_name,
            group: group.to_string(),
            suffix,
            created,
            volumes,
            targets,
        }
    };
    for target in &payload.targets {
        let Some(target_cell) = world.site_of_array(target) else {
            continue;
        };
        let mut target_site = target_cell.lock(world);
        receive(&mut target_site, &payload, completed, world);
    }
    Ok(format!("{}.{}", payload.group, payload.suffix))
}

fn receive(site: &mut crate::sim::world::Site, payload: &Payload, completed: bool, world: &World) {
    let group_name = format!("{}:{}", payload.source_array, payload.group);
    let snapshot_name = format!("{group_name}.{}", payload.suffix);
    let this_array = site.array.name.clone();
    if !site.array.protection_groups.contains_key(&group_name) {
        let id = site.ids.uuid();
        site.array.protection_groups.insert(
            group_name.clone(),
            ProtectionGroup {
                id,
                name: group_name.clone(),
                source: payload.source_array.clone(),
                volumes: Vec::new(),
                targets: vec![Target {
                    name: this_array,
                    allowed: true,
                }],
                replication_schedule: Schedule {
                    enabled: false,
                    frequency: 0,
                },
                snapshot_schedule: Schedule {
                    enabled: false,
                    frequency: 0,
                },
                source_retention: Retention {
                    all_for_sec: 86_400,
                    per_day: 4,
                    days: 7,
                },
                target_retention: Retention {
                    all_for_sec: 86_400,
                    per_day: 4,
                    days: 7,
                },
                destroyed: false,
                next_suffix: 0,
                next_replication: None,
            },
        );
    }
    let data_total: u64 = payload.volumes.iter().map(|(_, bytes, _)| bytes).sum();
    let gib = data_total as f64 / f64::from(1u32 << 30);
    let total = world.clock.latency(Op::ReplicationStart)
        + Duration::from_secs_f64(world.clock.latency(Op::ReplicationPerGib).as_secs_f64() * gib);
    for (volume, provisioned, content) in &payload.volumes {
        let name = format!("{snapshot_name}.{volume}");
        let id = site.ids.uuid();
        site.array.volume_snapshots.insert(
            name.clone(),
            VolumeSnapshot {
                id,
                name,
                source: volume.clone(),
                suffix: payload.suffix.clone(),
                provisioned: *provisioned,
                created: payload.created,
                destroyed: false,
                content: content.clone(),
                protection_group_snapshot: Some(snapshot_name.clone()),
            },
        );
    }
    let id = site.ids.uuid();
    site.array.protection_group_snapshots.insert(
        snapshot_name.clone(),
        ProtectionGroupSnapshot {
            id,
            name: snapshot_name,
            source: group_name,
            suffix: payload.suffix.clone(),
            created: payload.created,
            destroyed: false,
            transfer: Some(Transfer {
                progress: if completed { 1.0 } else { 0.0 },
                started: payload.created,
                completed: completed.then_some(payload.created),
                data_total,
                peer: payload.source_array.clone(),
                remaining: if completed { Duration::ZERO } else { total },
                total,
                updated: Some(world.clock.now()),
            }),
        },
    );
}
