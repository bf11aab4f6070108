//! How the array's state reads as Pure's REST 2.x models.

use crate::flasharray::state::{self, Array};
use crate::world::{Site, World};
use protector_wire::flasharray::{self as model};
use std::time::Instant;

pub(super) struct Render<'a> {
    pub(super) array: &'a Array,
    pub(super) now: Instant,
    pub(super) speed: f64,
}

impl<'a> Render<'a> {
    pub(super) fn new(site: &'a Site, world: &World) -> Self {
        Render {
            array: &site.array,
            now: world.clock.now(),
            speed: world.clock.speed(),
        }
    }

    pub(super) fn time_remaining(&self, id: &str, destroyed: bool) -> Option<u64> {
        self.array
            .time_remaining_ms(id, destroyed, self.now, self.speed)
    }

    pub(super) fn space(provisioned: u64) -> model::Space {
        model::Space {
            data_reduction: Some(1.0),
            snapshots: Some(0),
            thin_provisioning: Some(1.0),
            total_physical: Some(0),
            total_provisioned: Some(provisioned),
            total_reduction: Some(1.0),
            unique: Some(0),
            virtual_: Some(0),
            ..Default::default()
        }
    }

    /// A reference to a local volume by name (with its id when it exists here).
    pub(super) fn volume_ref(&self, name: &str) -> model::Reference {
        match self.array.volumes.get(name) {
            Some(volume) => model::Reference::new(&volume.id, name),
            None => model::Reference::named(name),
        }
    }

    /// The volume a copy came from: the volume itself, or the volume a snapshot was taken of.
    pub(super) fn origin(&self, source: &str) -> model::Reference {
        if self.array.volumes.contains_key(source) {
            return self.volume_ref(source);
        }
        if let Some(snapshot) = self.array.volume_snapshots.get(source) {
            return self.snapshot_source(snapshot);
        }
        let (prefix, rest) = match state::replica_source(source) {
            Some(array) => (format!("{array}:"), &source[array.len() + 1..]),
            None => (String::new(), source),
        };
        let parts: Vec<&str> = rest.split('.').collect();
        let volume = match parts.as_slice() {
            [volume, _suffix] => volume,
            [.., volume] => volume,
            [] => rest,
        };
        if prefix.is_empty() {
            self.volume_ref(volume)
        } else {
            model::Reference::named(format!("{prefix}{volume}"))
        }
    }

    /// A snapshot's `source`: on a target, the replica volume `<array>:<volume>`.
    pub(super) fn snapshot_source(&self, snapshot: &state::VolumeSnapshot) -> model::Reference {
        match state::replica_source(&snapshot.name) {
            Some(array) => model::Reference::named(format!("{array}:{}", snapshot.source)),
            None => self.volume_ref(&snapshot.source),
        }
    }

    pub(super) fn volume(&self, volume: &state::Volume) -> model::Volume {
        let qos = self
            .array
            .volume_qos
            .get(&volume.id)
            .copied()
            .unwrap_or_default();
        model::Volume {
            id: Some(volume.id.clone()),
            name: Some(volume.name.clone()),
            connection_count: Some(self.array.connection_count(&volume.name)),
            created: Some(volume.created),
            destroyed: Some(volume.destroyed),
            host_encryption_key_status: Some("none".to_string()),
            priority_adjustment: Some(model::PriorityAdjustment {
                priority_adjustment_operator: Some("+".to_string()),
                priority_adjustment_value: Some(0),
            }),
            provisioned: Some(volume.provisioned),
            qos: Some(model::Qos {
                bandwidth_limit: qos.bandwidth_limit,
                iops_limit: qos.iops_limit,
            }),
            serial: Some(volume.serial.clone()),
            space: Some(Self::space(volume.provisioned)),
            time_remaining: self.time_remaining(&volume.id, volume.destroyed),
            priority: Some(0),
            promotion_status: Some("promoted".to_string()),
            requested_promotion_state: Some("promoted".to_string()),
            source: volume.source.as_deref().map(|source| self.origin(source)),
            subtype: Some("regular".to_string()),
            ..Default::default()
        }
    }

    pub(super) fn volume_snapshot(
        &self,
        snapshot: &state::VolumeSnapshot,
    ) -> model::VolumeSnapshot {
        model::VolumeSnapshot {
            id: Some(snapshot.id.clone()),
            name: Some(snapshot.name.clone()),
            created: Some(snapshot.created),
            destroyed: Some(snapshot.destroyed),
            provisioned: Some(snapshot.provisioned),
            source: Some(self.snapshot_source(snapshot)),
            suffix: Some(snapshot.suffix.clone()),
            time_remaining: self.time_remaining(&snapshot.id, snapshot.destroyed),
            serial: Some(snapshot.serial.clone()),
            space: Some(Self::space(snapshot.provisioned)),
            ..Default::default()
        }
    }

    pub(super) fn transfer(
        id: &str,
        name: &str,
        destroyed: bool,
        transfer: Option<&state::Transfer>,
        share: f64,
    ) -> model::SnapshotTransfer {
        let moved = transfer.map(|t| (t.data_transferred() as f64 * share).round() as u64);
        model::SnapshotTransfer {
            id: Some(id.to_string()),
            name: Some(name.to_string()),
            destroyed: Some(destroyed),
            completed: transfer.and_then(|t| t.completed),
            data_transferred: moved,
            physical_bytes_written: moved,
            progress: transfer.map(|t| t.progress),
            started: transfer.map(|t| t.started),
            context: None,
        }
    }

    pub(super) fn volume_snapshot_transfer(
        &self,
        snapshot: &state::VolumeSnapshot,
    ) -> model::SnapshotTransfer {
        let transfer = snapshot
            .protection_group_snapshot
            .as_ref()
            .and_then(|group| self.array.protection_group_snapshots.get(group))
            .and_then(|group| group.transfer.as_ref());
        let share = transfer.map_or(0.0, |t| {
            if t.data_total == 0 {
                0.0
            } else {
                snapshot.provisioned as f64 / t.data_total as f64
            }
        });
        Self::transfer(
            &snapshot.id,
            &snapshot.name,
            snapshot.destroyed,
            transfer,
            share,
        )
    }

    pub(super) fn group(&self, group: &state::ProtectionGroup) -> model::ProtectionGroup {
        let local = group.source == self.array.name;
        let retention = |r: &state::Retention| model::RetentionPolicy {
            all_for_sec: Some(r.all_for_sec),
            days: Some(r.days as i64),
            per_day: Some(r.per_day),
            ..Default::default()
        };
        model::ProtectionGroup {
            id: Some(group.id.clone()),
            name: Some(group.name.clone()),
            destroyed: Some(group.destroyed),
            eradication_config: Some(model::ProtectionGroupEradicationConfig {
                manual_eradication: Some("enabled".to_string()),
            }),
            host_count: Some(0),
            host_group_count: Some(0),
            is_local: Some(local),
            replication_schedule: Some(model::ReplicationSchedule {
                enabled: Some(group.replication_schedule.enabled),
                frequency: Some(group.replication_schedule.frequency),
                ..Default::default()
            }),
            retention_lock: Some("unlocked".to_string()),
            snapshot_schedule: Some(model::SnapshotSchedule {
                enabled: Some(group.snapshot_schedule.enabled),
                frequency: Some(group.snapshot_schedule.frequency),
                ..Default::default()
            }),
            source: Some(if local {
                model::Reference::new(&self.array.id, &self.array.name)
            } else {
                model::Reference::named(&group.source)
            }),
            source_retention: Some(retention(&group.source_retention)),
            target_count: Some(group.targets.len() as u64),
            target_retention: Some(retention(&group.target_retention)),
            time_remaining: self.time_remaining(&group.id, group.destroyed),
            volume_count: Some(group.volumes.len() as u64),
            ..Default::default()
        }
    }

    pub(super) fn group_snapshot(
        &self,
        snapshot: &state::ProtectionGroupSnapshot,
    ) -> model::ProtectionGroupSnapshot {
        let source = match self.array.protection_groups.get(&snapshot.source) {
            Some(group) => model::Reference::new(&group.id, &group.name),
            None => model::Reference::named(&snapshot.source),
        };
        model::ProtectionGroupSnapshot {
            id: Some(snapshot.id.clone()),
            name: Some(snapshot.name.clone()),
            created: Some(snapshot.created),
            destroyed: Some(snapshot.destroyed),
            eradication_config: Some(model::ProtectionGroupEradicationConfig {
                manual_eradication: Some("enabled".to_string()),
            }),
            source: Some(source),
            suffix: Some(snapshot.suffix.clone()),
            time_remaining: self.time_remaining(&snapshot.id, snapshot.destroyed),
            ..Default::default()
        }
    }

    pub(super) fn target(
        &self,
        group: &state::ProtectionGroup,
        target: &state::Target,
    ) -> model::TargetProtectionGroup {
        let member_id = if target.name == self.array.name {
            Some(self.array.id.clone())
        } else {
            self.array
                .connections
                .get(&target.name)
                .map(|connection| connection.id.clone())
        };
        model::TargetProtectionGroup {
            allowed: Some(target.allowed),
            group: Some(model::Reference::new(&group.id, &group.name)),
            member: Some(model::ReferenceWithType {
                id: member_id,
                name: Some(target.name.clone()),
                resource_type: Some("arrays".to_string()),
            }),
            status: Some(
                if target.allowed {
                    "replicating"
                } else {
                    "disallowed"
                }
                .to_string(),
            ),
            context: None,
        }
    }

    pub(super) fn membership(
        &self,
        group: &state::ProtectionGroup,
        member: &str,
    ) -> model::ProtectionGroupsVolumes {
        let volume = self.array.volumes.get(member);
        model::ProtectionGroupsVolumes {
            group: Some(model::Reference::new(&group.id, &group.name)),
            member: Some(model::ProtectionGroupsVolumesMember {
                id: volume.map(|v| v.id.clone()),
                name: Some(member.to_string()),
                destroyed: Some(volume.is_some_and(|v| v.destroyed)),
            }),
            context: None,
        }
    }

    pub(super) fn host(&self, host: &state::Host) -> model::Host {
        model::Host {
            name: Some(host.name.clone()),
            connection_count: Some(host.connections.len() as u64),
            destroyed: Some(false),
            iqns: Some(host.iqns.clone()),
            is_local: Some(true),
            nqns: Some(host.nqns.clone()),
            personality: host.personality.clone(),
            port_connectivity: Some(model::HostPortConnectivity {
                details: Some(
                    if host.connections.is_empty() {
                        "None"
                    } else {
                        "Redundant"
                    }
                    .to_string(),
                ),
                status: Some(
                    if host.connections.is_empty() {
                        "critical"
                    } else {
                        "healthy"
                    }
                    .to_string(),
                ),
            }),
            vlan: Some("any".to_string()),
            wwns: Some(host.wwns.clone()),
            ..Default::default()
        }
    }

    pub(super) fn connection(&self, host: &str, volume: &str, lun: u32) -> model::Connection {
        model::Connection {
            host: Some(model::ReferenceNoId::named(host)),
            lun: Some(u64::from(lun)),
            volume: Some(self.volume_ref(volume)),
            ..Default::default()
        }
    }
}
