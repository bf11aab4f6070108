//! Protection-group snapshots and their replication from a source array to its targets.
//!
//! [`take_snapshot`] takes a snapshot `<pg>.<suffix>` of the group's live volumes on the source
//! (`<pg>.<suffix>.<volume>` each) and, when asked to replicate, records on each allowed target
//! the replica group `<source>:<pg>`, its snapshot `<source>:<pg>.<suffix>` and the volume
//! snapshots `<source>:<pg>.<suffix>.<volume>`. Both ends carry a [`Transfer`] whose progress
//! rises from 0 to 1 over the modelled time (`clock::Op::ReplicationStart` plus
//! `Op::ReplicationPerGib` per GiB provisioned), advancing only while both sites are up
//! (`super::advance`).

use std::collections::BTreeSet;
use std::time::Duration;

use super::state::{
    ProtectionGroup, ProtectionGroupSnapshot, Retention, Schedule, Target, Transfer,
    VolumeSnapshot, valid_suffix,
};
use crate::clock::Op;
use crate::openstack::state::ServerStatus;
use crate::world::{Site, World};
use protector_wire::ids::IdGen;

/// How to take a protection-group snapshot.
#[derive(Debug, Clone, Default)]
pub struct SnapshotOptions {
    /// The suffix to use instead of the next number.
    pub suffix: Option<String>,
    /// Replicate it to the group's allowed targets.
    pub replicate: bool,
    /// Record the transfers as already complete (the fixture's initial state, `wait`).
    pub completed: bool,
}

/// Why a snapshot could not be taken; `Display` is the array's error message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SnapshotError {
    #[error("unknown site `{0}`")]
    UnknownSite(String),
    #[error("Protection group does not exist.")]
    NoSuchGroup(String),
    #[error("Protection group has been destroyed.")]
    GroupDestroyed(String),
    #[error("Cannot create a snapshot of a protection group replicated from another array.")]
    NotLocal(String),
    #[error("Invalid suffix.")]
    InvalidSuffix(String),
    #[error("Protection group snapshot already exists.")]
    SuffixTaken(String),
}

impl SnapshotError {
    /// The object the error is about (the array's error `context`).
    pub fn context(&self) -> &str {
        match self {
            SnapshotError::UnknownSite(name)
            | SnapshotError::NoSuchGroup(name)
            | SnapshotError::GroupDestroyed(name)
            | SnapshotError::NotLocal(name)
            | SnapshotError::InvalidSuffix(name)
            | SnapshotError::SuffixTaken(name) => name,
        }
    }
}

/// What travels from the source array to a target in one cycle.
struct Payload {
    source_array: String,
    group: String,
    suffix: String,
    created: i64,
    /// (volume name, provisioned bytes, content).
    volumes: Vec<(String, u64, String)>,
    targets: Vec<String>,
    /// Bytes to send: the volumes changed since the last snapshot sent to the target.
    data_total: u64,
    total: Duration,
    started: std::time::Instant,
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
    let options = SnapshotOptions {
        suffix: None,
        replicate: true,
        completed,
    };

    take_snapshot(world, site, group, &options).map_err(|error| match error {
        SnapshotError::UnknownSite(_) => error.to_string(),
        _ => format!("protection group `{group}`: {error}"),
    })
}

/// Takes a snapshot of protection group `group` on `site`'s array, replicating it as
/// `options` asks. Returns the snapshot's name on the source (`<pg>.<suffix>`).
pub fn take_snapshot(
    world: &World,
    site: &str,
    group: &str,
    options: &SnapshotOptions,
) -> Result<String, SnapshotError> {
    let cell = world
        .site(site)
        .ok_or_else(|| SnapshotError::UnknownSite(site.to_string()))?;
    let payload = {
        let mut site = cell.lock(world);
        snapshot_on_source(&mut site, world, group, options)?
    };

    for target in &payload.targets {
        let Some(target_cell) = world.site_of_array(target) else {
            continue;
        };
        let mut target_site = target_cell.lock(world);
        receive(&mut target_site, &payload, options.completed);
    }
    Ok(format!("{}.{}", payload.group, payload.suffix))
}

fn snapshot_on_source(
    site: &mut Site,
    world: &World,
    group_name: &str,
    options: &SnapshotOptions,
) -> Result<Payload, SnapshotError> {
    let created = site.clock.wall_ms();
    let now = world.clock.now();
    let array_name = site.array.name.clone();
    let group = site
        .array
        .protection_groups
        .get(group_name)
        .ok_or_else(|| SnapshotError::NoSuchGroup(group_name.to_string()))?;
    if group.source != array_name {
        return Err(SnapshotError::NotLocal(group_name.to_string()));
    }
    if group.destroyed {
        return Err(SnapshotError::GroupDestroyed(group_name.to_string()));
    }
    let suffix = match &options.suffix {
        Some(suffix) if !valid_suffix(suffix) => {
            return Err(SnapshotError::InvalidSuffix(suffix.clone()));
        }
        Some(suffix) => {
            let name = format!("{group_name}.{suffix}");
            if site.array.protection_group_snapshots.contains_key(&name) {
                return Err(SnapshotError::SuffixTaken(name));
            }
            suffix.clone()
        }
        None => {
            let group = site
                .array
                .protection_groups
                .get_mut(group_name)
                .expect("checked above");
            loop {
                let suffix = group.next_suffix.to_string();
                group.next_suffix += 1;
                let name = format!("{group_name}.{suffix}");
                if !site.array.protection_group_snapshots.contains_key(&name) {
                    break suffix;
                }
            }
        }
    };

    let group = &site.array.protection_groups[group_name];
    let targets: Vec<String> = if options.replicate {
        group
            .targets
            .iter()
            .filter(|target| target.allowed)
            .map(|target| target.name.clone())
            .collect()
    } else {
        Vec::new()
    };

    let volumes: Vec<(String, u64, String)> = group
        .volumes
        .iter()
        .filter_map(|member| site.array.volumes.get(member))
        .filter(|volume| !volume.destroyed)
        .map(|volume| {
            (
                volume.name.clone(),
                volume.provisioned,
                volume.content.clone(),
            )
        })
        .collect();
    let data_total = changed_bytes(site, group_name, targets.first(), &volumes);
    let snapshot_name = format!("{group_name}.{suffix}");
    for (volume, provisioned, content) in &volumes {
        let name = format!("{snapshot_name}.{volume}");
        let mut ids = IdGen::for_name(&site.name, &name);
        let (id, serial) = (ids.uuid(), ids.hex(24).to_uppercase());
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
                serial,
            },
        );
    }
    let total = transfer_time(world, data_total);
    let id = IdGen::for_name(&site.name, &snapshot_name).uuid();
    site.array.protection_group_snapshots.insert(
        snapshot_name.clone(),
        ProtectionGroupSnapshot {
            id,
            name: snapshot_name,
            source: group_name.to_string(),
            suffix: suffix.clone(),
            created,
            destroyed: false,
            transfer: targets
                .first()
                .map(|peer| new_transfer(peer, created, data_total, total, options.completed, now)),
        },
    );
    Ok(Payload {
        source_array: array_name,
        group: group_name.to_string(),
        suffix,
        created,
        volumes,
        targets,
        data_total,
        total,
        started: now,
    })
}

/// What a snapshot of `volumes` sends to `target`: arrays replicate what changed since the
/// last snapshot of the group sent there. A volume the target never had is sent whole; so is
/// one a running instance writes to (the twin does not track blocks, so it counts all of it);
/// one at rest as in that snapshot (its instance stopped, as before a planned failover's final
/// snapshot) costs nothing.
fn changed_bytes(
    site: &Site,
    group: &str,
    target: Option<&String>,
    volumes: &[(String, u64, String)],
) -> u64 {
    let base = target.and_then(|target| {
        site.array
            .protection_group_snapshots
            .values()
            .filter(|snapshot| snapshot.source == group && !snapshot.destroyed)
            .filter(|snapshot| {
                snapshot
                    .transfer
                    .as_ref()
                    .is_some_and(|transfer| &transfer.peer == target)
            })
            .max_by_key(|snapshot| snapshot.created)
    });
    let written: BTreeSet<&str> = site
        .block
        .volumes
        .values()
        .filter(|volume| {
            volume.attachments.iter().any(|attachment| {
                site.compute
                    .servers
                    .get(&attachment.server_id)
                    .is_some_and(|server| server.status == ServerStatus::Active)
            })
        })
        .map(|volume| volume.array_volume.as_str())
        .collect();
    volumes
        .iter()
        .filter(|(volume, _, content)| {
            written.contains(volume.as_str())
                || base
                    .and_then(|base| {
                        site.array
                            .volume_snapshots
                            .get(&format!("{}.{volume}", base.name))
                    })
                    .is_none_or(|sent| sent.destroyed || &sent.content != content)
        })
        .map(|(_, bytes, _)| bytes)
        .sum()
}

/// The modelled time to move `bytes` to a target.
fn transfer_time(world: &World, bytes: u64) -> Duration {
    let gib = bytes as f64 / f64::from(1u32 << 30);
    world.clock.latency(Op::ReplicationStart)
        + Duration::from_secs_f64(world.clock.latency(Op::ReplicationPerGib).as_secs_f64() * gib)
}

fn new_transfer(
    peer: &str,
    started: i64,
    data_total: u64,
    total: Duration,
    completed: bool,
    now: std::time::Instant,
) -> Transfer {
    Transfer {
        progress: if completed { 1.0 } else { 0.0 },
        started,
        completed: completed.then_some(started),
        data_total,
        peer: peer.to_string(),
        remaining: if completed { Duration::ZERO } else { total },
        total,
        updated: Some(now),
    }
}

/// A replica of group `group` of array `source_array`, as it appears on a target.
fn replica_group(site: &mut Site, source_array: &str, group: &str) -> ProtectionGroup {
    ProtectionGroup {
        id: IdGen::for_name(&site.name, &format!("{source_array}:{group}")).uuid(),
        name: format!("{source_array}:{group}"),
        source: source_array.to_string(),
        volumes: Vec::new(),
        targets: vec![Target {
            name: site.array.name.clone(),
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
        source_retention: Retention::default(),
        target_retention: Retention::default(),
        destroyed: false,
        next_suffix: 0,
        next_replication: None,
    }
}

/// Makes sure the target array of `site` knows the replica `<source_array>:<group>` (what
/// adding a target to a group does on the target). Returns whether it is allowed.
pub fn ensure_replica_group(site: &mut Site, source_array: &str, group: &str) -> bool {
    let name = format!("{source_array}:{group}");
    if !site.array.protection_groups.contains_key(&name) {
        let replica = replica_group(site, source_array, group);
        site.array.protection_groups.insert(name.clone(), replica);
    }
    let this_array = site.array.name.clone();
    site.array.protection_groups[&name]
        .targets
        .iter()
        .any(|target| target.name == this_array && target.allowed)
}

fn receive(site: &mut Site, payload: &Payload, completed: bool) {
    ensure_replica_group(site, &payload.source_array, &payload.group);
    let group_name = format!("{}:{}", payload.source_array, payload.group);
    let snapshot_name = format!("{group_name}.{}", payload.suffix);
    for (volume, provisioned, content) in &payload.volumes {
        let name = format!("{snapshot_name}.{volume}");
        let mut ids = IdGen::for_name(&site.name, &name);
        let (id, serial) = (ids.uuid(), ids.hex(24).to_uppercase());
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
                serial,
            },
        );
    }
    let data_total = payload.data_total;
    let id = IdGen::for_name(&site.name, &snapshot_name).uuid();
    site.array.protection_group_snapshots.insert(
        snapshot_name.clone(),
        ProtectionGroupSnapshot {
            id,
            name: snapshot_name,
            source: group_name,
            suffix: payload.suffix.clone(),
            created: payload.created,
            destroyed: false,
            transfer: Some(new_transfer(
                &payload.source_array,
                payload.created,
                data_total,
                payload.total,
                completed,
                payload.started,
            )),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::fixture;

    fn world(speed: f64) -> World {
        let text = include_str!("../../../../examples/sim/two-sites.yaml");
        World::from_fixture(&fixture::parse(text).unwrap(), 7, Clock::new(speed)).unwrap()
    }

    #[test]
    fn the_fixture_starts_with_one_completed_replica_on_each_end() {
        let world = world(1.0);
        let a = world.site("site-a").unwrap().lock(&world);
        let source = &a.array.protection_group_snapshots["prod-web-app.1"];
        let transfer = source.transfer.as_ref().expect("source-side transfer");
        assert_eq!(transfer.peer, "fa-b");
        assert_eq!(transfer.progress, 1.0);
        let members = a.array.protection_groups["prod-web-app"].volumes.len();
        assert_eq!(members, 4);
        drop(a);
        let b = world.site("site-b").unwrap().lock(&world);
        let replica = &b.array.protection_group_snapshots["fa-a:prod-web-app.1"];
        assert_eq!(replica.source, "fa-a:prod-web-app");
        assert!(replica.transfer.as_ref().unwrap().is_complete());
        let volume_snapshots = b
            .array
            .volume_snapshots
            .values()
            .filter(|s| s.protection_group_snapshot.as_deref() == Some("fa-a:prod-web-app.1"))
            .count();
        assert_eq!(volume_snapshots, members);
        assert!(b.array.protection_groups["fa-a:prod-web-app"].targets[0].allowed);
    }

    #[test]
    fn snapshots_take_the_next_number_or_a_given_suffix() {
        let world = world(1.0);
        let local = SnapshotOptions::default();
        assert_eq!(
            take_snapshot(&world, "site-a", "prod-web-app", &local).unwrap(),
            "prod-web-app.2"
        );
        let named = SnapshotOptions {
            suffix: Some("before-upgrade".into()),
            ..Default::default()
        };
        assert_eq!(
            take_snapshot(&world, "site-a", "prod-web-app", &named).unwrap(),
            "prod-web-app.before-upgrade"
        );
        assert_eq!(
            take_snapshot(&world, "site-a", "prod-web-app", &named),
            Err(SnapshotError::SuffixTaken(
                "prod-web-app.before-upgrade".into()
            ))
        );
        let bad = SnapshotOptions {
            suffix: Some("a.b".into()),
            ..Default::default()
        };
        assert!(matches!(
            take_snapshot(&world, "site-a", "prod-web-app", &bad),
            Err(SnapshotError::InvalidSuffix(_))
        ));
        assert_eq!(
            take_snapshot(&world, "site-a", "nope", &local),
            Err(SnapshotError::NoSuchGroup("nope".into()))
        );
        assert_eq!(
            take_snapshot(&world, "site-b", "fa-a:prod-web-app", &local),
            Err(SnapshotError::NotLocal("fa-a:prod-web-app".into()))
        );
        // Not replicated: nothing new on the target, no transfer on the source.
        let b = world.site("site-b").unwrap().lock(&world);
        assert!(
            !b.array
                .protection_group_snapshots
                .contains_key("fa-a:prod-web-app.2")
        );
        drop(b);
        let a = world.site("site-a").unwrap().lock(&world);
        assert!(
            a.array.protection_group_snapshots["prod-web-app.2"]
                .transfer
                .is_none()
        );
    }

    #[test]
    fn a_transfer_takes_the_modelled_time_and_only_moves_while_both_sites_are_up() {
        // 280 GiB at 2 s/GiB + 5 s = 565 s; at speed 5650 that is 0.1 s.
        let world = world(5650.0);
        let name = replicate_now(&world, "site-a", "prod-web-app", false).unwrap();
        assert_eq!(name, "prod-web-app.2");
        let progress = |site: &str, snapshot: &str| {
            let cell = world.site(site).unwrap();
            let site = cell.lock(&world);
            site.array.protection_group_snapshots[snapshot]
                .transfer
                .clone()
                .unwrap()
        };
        let first = progress("site-b", "fa-a:prod-web-app.2");
        assert!(first.progress < 1.0 && first.completed.is_none());
        assert_eq!(first.data_total, 280 << 30);

        // Source down: the target's transfer stands still.
        world.site("site-a").unwrap().set_up(false);
        let frozen = progress("site-b", "fa-a:prod-web-app.2").progress;
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(progress("site-b", "fa-a:prod-web-app.2").progress, frozen);
        // Target down too from the source's point of view.
        world.site("site-a").unwrap().set_up(true);
        world.site("site-b").unwrap().set_up(false);
        let frozen_source = progress("site-a", "prod-web-app.2").progress;
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(progress("site-a", "prod-web-app.2").progress, frozen_source);

        world.site("site-b").unwrap().set_up(true);
        std::thread::sleep(Duration::from_millis(150));
        let target = progress("site-b", "fa-a:prod-web-app.2");
        let source = progress("site-a", "prod-web-app.2");
        assert_eq!(target.progress, 1.0);
        assert!(target.completed.is_some() && source.completed.is_some());
        assert_eq!(source.peer, "fa-b");
        assert_eq!(target.data_transferred(), target.data_total);
    }

    #[test]
    fn a_snapshot_sends_what_running_instances_write_and_what_changed() {
        let world = world(1.0);
        let data_total = |snapshot: &str| {
            let b = world.site("site-b").unwrap().lock(&world);
            b.array.protection_group_snapshots[snapshot]
                .transfer
                .as_ref()
                .unwrap()
                .data_total
        };
        // The members run: every volume they write to goes again.
        replicate_now(&world, "site-a", "prod-web-app", false).unwrap();
        assert_eq!(data_total("fa-a:prod-web-app.2"), 280 << 30);
        // Stopped, as before a planned failover's final snapshot: nothing new to send.
        {
            let mut a = world.site("site-a").unwrap().lock(&world);
            for server in a.compute.servers.values_mut() {
                server.status = ServerStatus::Shutoff;
            }
        }
        replicate_now(&world, "site-a", "prod-web-app", false).unwrap();
        assert_eq!(data_total("fa-a:prod-web-app.3"), 0);
        // Data changed at rest (copied over, say): that volume, whole.
        let changed = {
            let mut a = world.site("site-a").unwrap().lock(&world);
            let name = a.array.protection_groups["prod-web-app"].volumes[0].clone();
            let volume = a.array.volumes.get_mut(&name).unwrap();
            volume.content.push_str("+overwritten");
            volume.provisioned
        };
        replicate_now(&world, "site-a", "prod-web-app", false).unwrap();
        assert_eq!(data_total("fa-a:prod-web-app.4"), changed);
    }

    #[test]
    fn replication_leaves_the_id_streams_of_client_creations_alone() {
        // A scheduled snapshot lands whenever the clock says; what clients create next must
        // get the same ids either way, or the same run hands out different ids under load.
        let next_ids = |world: &World| -> Vec<String> {
            ["site-a", "site-b"]
                .iter()
                .map(|name| world.site(name).unwrap().lock(world).ids.uuid())
                .collect()
        };
        let quiet = world(1.0);
        let replicated = world(1.0);
        let name = replicate_now(&replicated, "site-a", "prod-web-app", true).unwrap();
        let b = replicated.site("site-b").unwrap().lock(&replicated);
        assert!(
            b.array
                .protection_group_snapshots
                .contains_key(&format!("fa-a:{name}"))
        );
        drop(b);
        assert_eq!(next_ids(&quiet), next_ids(&replicated));
    }

    #[test]
    fn disallowed_targets_get_nothing() {
        let world = world(1.0);
        {
            let mut a = world.site("site-a").unwrap().lock(&world);
            a.array
                .protection_groups
                .get_mut("prod-web-app")
                .unwrap()
                .targets[0]
                .allowed = false;
        }
        let name = replicate_now(&world, "site-a", "prod-web-app", true).unwrap();
        let b = world.site("site-b").unwrap().lock(&world);
        assert!(
            !b.array
                .protection_group_snapshots
                .contains_key(&format!("fa-a:{name}"))
        );
    }
}
