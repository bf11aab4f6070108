//! What one simulated FlashArray holds, as plain data: volumes, snapshots, protection groups,
//! their snapshots (with replication transfer state on both ends) and the connections to peer
//! arrays and to hosts. Names follow FlashArray rules: a replicated protection group appears on
//! its target as `<source array>:<pg>`, its snapshots as `<source array>:<pg>.<N>` and their
//! volume snapshots as `<source array>:<pg>.<N>.<volume>`.
//!
//! # `GET /world` shape (`sites.<site>.array`)
//!
//! Stable; fields are only ever added. Every map is keyed by object name.
//!
//! | key | value |
//! |---|---|
//! | `id`, `name` | the array's id and name (`fa-a`) |
//! | `volumes.<name>` | [`Volume`]: `id`, `name`, `provisioned` (bytes), `serial`, `created` (ms), `destroyed`, `source` (the object it was copied from, verbatim: `fa-a:prod-web-app.3.vol`), `content` |
//! | `volume_snapshots.<name>` | [`VolumeSnapshot`]: `id`, `name`, `source` (volume name on the array that took it), `suffix`, `provisioned`, `created`, `destroyed`, `content`, `protection_group_snapshot`, `serial` |
//! | `protection_groups.<name>` | [`ProtectionGroup`]: `id`, `name`, `source` (owning array), `volumes` (members), `targets` (`name`, `allowed`), `replication_schedule` / `snapshot_schedule` (`enabled`, `frequency` ms), `source_retention` / `target_retention` (`all_for_sec`, `per_day`, `days`), `destroyed`, `next_suffix` |
//! | `protection_group_snapshots.<name>` | [`ProtectionGroupSnapshot`]: `id`, `name`, `source` (group name on this array), `suffix`, `created`, `destroyed`, `transfer` (`progress` 0..1, `started`, `completed`, `data_total`, `peer`) or null for a snapshot never replicated |
//! | `connections.<peer>` | [`Connection`] to a peer array |
//! | `hosts.<name>` | [`Host`]: `name`, `iqns`, `wwns`, `nqns`, `personality`, `connections` (volume name -> LUN) |
//!
//! A `transfer` exists on both ends of a replication: on the target (`peer` = source array) and
//! on the source (`peer` = the first target); both progress together, and only while both sites
//! are up.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

/// The Purity//FA version the twin's arrays report (`GET /arrays`): recent enough for Cinder's
/// Pure driver (>= 6.1.0, SafeMode defaults from 6.3.4).
pub const PURITY_VERSION: &str = "6.7.4";

/// How long a destroyed object waits in the array's destroyed bin before the array eradicates
/// it (Purity's default), in modelled time.
pub const ERADICATION_DELAY: Duration = Duration::from_secs(24 * 3600);

/// The longest name of a volume, host or protection group.
pub const MAX_NAME_LEN: usize = 63;

/// Usable capacity of every simulated array, bytes (200 TiB).
pub const CAPACITY: u64 = 200 << 40;

/// One controller of a simulated array, with its iSCSI target port.
#[derive(Debug, Clone, Copy)]
pub struct Controller {
    /// `CT0`.
    pub name: &'static str,
    /// `primary` or `secondary`.
    pub mode: &'static str,
    /// The target port (`CT0.ETH4`); its network interface is the lower-case name.
    pub iscsi_port: &'static str,
    /// The port's address. Loopback, and nothing listens there: the twin serves no iSCSI, an
    /// attacher that only passes the connection info on (Nova's fake virt driver) needs none.
    pub address: &'static str,
}

/// Every simulated array's two controllers, both ready, each with one iSCSI port, as Cinder's
/// Pure driver finds its iSCSI targets: ready controllers, then their ports with an IQN.
pub const CONTROLLERS: [Controller; 2] = [
    Controller {
        name: "CT0",
        mode: "primary",
        iscsi_port: "CT0.ETH4",
        address: "127.0.0.1",
    },
    Controller {
        name: "CT1",
        mode: "secondary",
        iscsi_port: "CT1.ETH4",
        address: "127.0.0.2",
    },
];

/// The iSCSI port of the portals (`127.0.0.1:3260`).
pub const ISCSI_PORT: u16 = 3260;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Array {
    pub id: String,
    pub name: String,
    /// API tokens accepted by `POST /login`: token -> user name.
    #[serde(skip)]
    pub api_tokens: BTreeMap<String, String>,
    /// Sessions opened by `POST /login`: `x-auth-token` -> user name.
    #[serde(skip)]
    pub sessions: BTreeMap<String, String>,
    /// Logins so far: session ids come from their own stream, so the ids of what the array
    /// creates do not depend on how often clients log in.
    #[serde(skip)]
    pub sessions_issued: u64,
    pub volumes: BTreeMap<String, Volume>,
    pub volume_snapshots: BTreeMap<String, VolumeSnapshot>,
    pub protection_groups: BTreeMap<String, ProtectionGroup>,
    pub protection_group_snapshots: BTreeMap<String, ProtectionGroupSnapshot>,
    /// Replication connections to peer arrays, by peer array name.
    pub connections: BTreeMap<String, Connection>,
    /// Hosts (initiators) known to the array, by name: Cinder's Pure driver creates them to
    /// attach volumes.
    pub hosts: BTreeMap<String, Host>,
    /// QoS limits of volumes, by volume id (absent: unlimited).
    #[serde(skip)]
    pub volume_qos: BTreeMap<String, Qos>,
    /// Tags of volumes, by volume id (so a renamed volume keeps them): Cinder's Pure driver
    /// tags its volumes with the project and the instance they are attached to.
    #[serde(skip)]
    pub volume_tags: BTreeMap<String, Vec<Tag>>,
    /// When destroyed objects (volumes, snapshots, groups) were destroyed, by object id: they
    /// are eradicated [`ERADICATION_DELAY`] later.
    #[serde(skip)]
    pub destroyed_at: BTreeMap<String, Instant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    pub id: String,
    pub name: String,
    /// Bytes.
    pub provisioned: u64,
    pub serial: String,
    /// Milliseconds since the epoch.
    pub created: i64,
    /// Destroyed volumes wait in the array's "destroyed" bin until eradicated or recovered.
    pub destroyed: bool,
    /// The snapshot or volume this one was copied from, if any.
    pub source: Option<String>,
    /// An opaque token standing for the volume's data: copies and snapshots carry it along, so
    /// tests can tell which snapshot a recovered volume was made from.
    pub content: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VolumeSnapshot {
    pub id: String,
    pub name: String,
    /// Name of the volume it was taken of (on the source array for replicated snapshots).
    pub source: String,
    pub suffix: String,
    pub provisioned: u64,
    pub created: i64,
    pub destroyed: bool,
    pub content: String,
    /// The protection-group snapshot this belongs to, if any.
    pub protection_group_snapshot: Option<String>,
    pub serial: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProtectionGroup {
    pub id: String,
    /// `prod-web-app` on its source; `fa-a:prod-web-app` on a target.
    pub name: String,
    /// The array that owns it (takes and replicates its snapshots).
    pub source: String,
    /// Member volume names (source side only).
    pub volumes: Vec<String>,
    pub targets: Vec<Target>,
    pub replication_schedule: Schedule,
    pub snapshot_schedule: Schedule,
    pub source_retention: Retention,
    pub target_retention: Retention,
    pub destroyed: bool,
    /// The next snapshot suffix number.
    pub next_suffix: u64,
    /// When the replication schedule fires next.
    #[serde(skip)]
    pub next_replication: Option<Instant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// The target array's name.
    pub name: String,
    /// Whether the target allows this group to replicate to it (set on the target side).
    pub allowed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    pub enabled: bool,
    /// Milliseconds between snapshots (FlashArray's `frequency`).
    pub frequency: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Retention {
    /// Keep every snapshot for this many seconds.
    pub all_for_sec: u64,
    pub per_day: u64,
    pub days: u64,
}

impl Default for Retention {
    /// Purity's defaults for a new protection group.
    fn default() -> Self {
        Retention {
            all_for_sec: 86_400,
            per_day: 4,
            days: 7,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProtectionGroupSnapshot {
    pub id: String,
    /// `prod-web-app.3` on the source; `fa-a:prod-web-app.3` on a target.
    pub name: String,
    /// The protection group's name on this array.
    pub source: String,
    pub suffix: String,
    pub created: i64,
    pub destroyed: bool,
    /// Replication of this snapshot to (on the source) or from (on a target) the peer.
    pub transfer: Option<Transfer>,
}

/// Replication progress of one protection-group snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Transfer {
    /// 0.0 to 1.0.
    pub progress: f64,
    pub started: i64,
    pub completed: Option<i64>,
    /// Bytes to move in all (sum of the provisioned sizes of its volume snapshots).
    pub data_total: u64,
    /// The peer array: the target on the source side, the source on the target side.
    pub peer: String,
    /// Transfer time still needed at the modelled rate; advances only while both sites are up.
    #[serde(skip)]
    pub remaining: Duration,
    #[serde(skip)]
    pub total: Duration,
    /// When `remaining` was last brought up to date.
    #[serde(skip)]
    pub updated: Option<Instant>,
}

impl Transfer {
    pub fn is_complete(&self) -> bool {
        self.completed.is_some()
    }

    /// Bytes moved so far.
    pub fn data_transferred(&self) -> u64 {
        (self.data_total as f64 * self.progress.clamp(0.0, 1.0)).round() as u64
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub id: String,
    /// The peer array's name.
    pub name: String,
    pub management_address: String,
    /// `connected`; the API reports `connecting` while the peer's site is down.
    pub status: String,
    /// `async-replication`.
    pub r#type: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Host {
    pub name: String,
    pub iqns: Vec<String>,
    pub wwns: Vec<String>,
    pub nqns: Vec<String>,
    /// `aix`, `esxi`, ... (unset by default).
    pub personality: Option<String>,
    /// Volumes connected to this host, with their LUN.
    pub connections: BTreeMap<String, u32>,
}

/// A tag of a volume: `key` is unique within `namespace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub namespace: String,
    pub key: String,
    pub value: String,
    /// Whether copies of the volume get it too.
    pub copyable: bool,
}

/// QoS limits of a volume.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Qos {
    pub bandwidth_limit: Option<u64>,
    pub iops_limit: Option<u64>,
}

/// Whether `name` is a valid name for a volume, host, protection group or snapshot suffix:
/// 1 to 63 letters, digits, `-` and `_`, beginning with a letter or digit, not all digits.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        && !bytes.iter().all(u8::is_ascii_digit)
}

/// Whether `name` is a valid snapshot suffix: like [`valid_name`], digits alone allowed.
pub fn valid_suffix(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

/// The array a replicated object came from: `fa-a` for `fa-a:prod-web-app.3.vol`.
pub fn replica_source(name: &str) -> Option<&str> {
    name.split_once(':').map(|(array, _)| array)
}

impl Array {
    /// The array's iSCSI target name, one for all its ports as on FlashArray:
    /// `iqn.2010-06.com.purestorage:flasharray.<16 hex digits of the array id>`.
    pub fn iqn(&self) -> String {
        let digits: String = self
            .id
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(16)
            .collect();
        format!(
            "iqn.2010-06.com.purestorage:flasharray.{}",
            digits.to_lowercase()
        )
    }

    /// Bytes provisioned to live volumes.
    pub fn provisioned(&self) -> u64 {
        self.volumes
            .values()
            .filter(|v| !v.destroyed)
            .map(|v| v.provisioned)
            .sum()
    }

    /// Hosts connected to `volume`, with the LUN.
    pub fn hosts_of(&self, volume: &str) -> impl Iterator<Item = (&str, u32)> {
        self.hosts.values().filter_map(move |host| {
            host.connections
                .get(volume)
                .map(|lun| (host.name.as_str(), *lun))
        })
    }

    pub fn connection_count(&self, volume: &str) -> u64 {
        self.hosts_of(volume).count() as u64
    }

    /// Protection groups `volume` is a member of.
    pub fn groups_of(&self, volume: &str) -> impl Iterator<Item = &ProtectionGroup> {
        self.protection_groups
            .values()
            .filter(move |group| group.volumes.iter().any(|member| member == volume))
    }

    /// Renames a volume, and with it its plain snapshots (`OLD.s` -> `NEW.s`), its protection
    /// group memberships and its host connections. The caller checked both names.
    pub fn rename_volume(&mut self, old: &str, new: &str) {
        let Some(mut volume) = self.volumes.remove(old) else {
            return;
        };
        volume.name = new.to_string();
        self.volumes.insert(new.to_string(), volume);
        for group in self.protection_groups.values_mut() {
            for member in group.volumes.iter_mut().filter(|member| *member == old) {
                *member = new.to_string();
            }
        }
        for host in self.hosts.values_mut() {
            if let Some(lun) = host.connections.remove(old) {
                host.connections.insert(new.to_string(), lun);
            }
        }
        let plain: Vec<String> = self
            .volume_snapshots
            .values()
            .filter(|snapshot| {
                snapshot.source == old
                    && snapshot.protection_group_snapshot.is_none()
                    && replica_source(&snapshot.name).is_none()
            })
            .map(|snapshot| snapshot.name.clone())
            .collect();
        for name in plain {
            if let Some(mut snapshot) = self.volume_snapshots.remove(&name) {
                snapshot.name = format!("{new}.{}", snapshot.suffix);
                snapshot.source = new.to_string();
                self.volume_snapshots
                    .insert(snapshot.name.clone(), snapshot);
            }
        }
        for snapshot in self.volume_snapshots.values_mut() {
            if snapshot.source == old && replica_source(&snapshot.name).is_none() {
                snapshot.source = new.to_string();
            }
        }
    }

    /// Marks a volume destroyed (`true`) or recovers it; no change when it already is.
    pub fn set_volume_destroyed(&mut self, name: &str, destroyed: bool, now: Instant) {
        if let Some(volume) = self.volumes.get_mut(name)
            && volume.destroyed != destroyed
        {
            volume.destroyed = destroyed;
            mark(&mut self.destroyed_at, &volume.id, destroyed, now);
        }
    }

    /// Removes a volume for good, with its connections and memberships.
    pub fn eradicate_volume(&mut self, name: &str) {
        let Some(volume) = self.volumes.remove(name) else {
            return;
        };
        self.volume_qos.remove(&volume.id);
        self.volume_tags.remove(&volume.id);
        self.destroyed_at.remove(&volume.id);
        for group in self.protection_groups.values_mut() {
            group.volumes.retain(|member| member != name);
        }
        for host in self.hosts.values_mut() {
            host.connections.remove(name);
        }
    }

    pub fn set_volume_snapshot_destroyed(&mut self, name: &str, destroyed: bool, now: Instant) {
        if let Some(snapshot) = self.volume_snapshots.get_mut(name)
            && snapshot.destroyed != destroyed
        {
            snapshot.destroyed = destroyed;
            mark(&mut self.destroyed_at, &snapshot.id, destroyed, now);
        }
    }

    pub fn eradicate_volume_snapshot(&mut self, name: &str) {
        if let Some(snapshot) = self.volume_snapshots.remove(name) {
            self.destroyed_at.remove(&snapshot.id);
        }
    }

    /// Destroys (or recovers) a protection-group snapshot and its volume snapshots; no change
    /// when it already is.
    pub fn set_group_snapshot_destroyed(&mut self, name: &str, destroyed: bool, now: Instant) {
        let Some(snapshot) = self
            .protection_group_snapshots
            .get_mut(name)
            .filter(|snapshot| snapshot.destroyed != destroyed)
        else {
            return;
        };
        snapshot.destroyed = destroyed;
        mark(&mut self.destroyed_at, &snapshot.id, destroyed, now);
        let members: Vec<String> = self
            .volume_snapshots
            .values()
            .filter(|member| member.protection_group_snapshot.as_deref() == Some(name))
            .map(|member| member.name.clone())
            .collect();
        for member in members {
            self.set_volume_snapshot_destroyed(&member, destroyed, now);
        }
    }

    /// Removes a protection-group snapshot and its volume snapshots for good.
    pub fn eradicate_group_snapshot(&mut self, name: &str) {
        if let Some(snapshot) = self.protection_group_snapshots.remove(name) {
            self.destroyed_at.remove(&snapshot.id);
        }
        let members: Vec<String> = self
            .volume_snapshots
            .values()
            .filter(|member| member.protection_group_snapshot.as_deref() == Some(name))
            .map(|member| member.name.clone())
            .collect();
        for member in members {
            self.eradicate_volume_snapshot(&member);
        }
    }

    /// Destroys (or recovers) a protection group and with it its snapshots; no change when it
    /// already is.
    pub fn set_group_destroyed(&mut self, name: &str, destroyed: bool, now: Instant) {
        let Some(group) = self
            .protection_groups
            .get_mut(name)
            .filter(|group| group.destroyed != destroyed)
        else {
            return;
        };
        group.destroyed = destroyed;
        mark(&mut self.destroyed_at, &group.id, destroyed, now);
        for snapshot in self.snapshots_of_group(name) {
            self.set_group_snapshot_destroyed(&snapshot, destroyed, now);
        }
    }

    /// Removes a protection group and all its snapshots for good.
    pub fn eradicate_group(&mut self, name: &str) {
        if let Some(group) = self.protection_groups.remove(name) {
            self.destroyed_at.remove(&group.id);
        }
        for snapshot in self.snapshots_of_group(name) {
            self.eradicate_group_snapshot(&snapshot);
        }
    }

    /// Names of the snapshots of protection group `group`, oldest first.
    pub fn snapshots_of_group(&self, group: &str) -> Vec<String> {
        let mut snapshots: Vec<&ProtectionGroupSnapshot> = self
            .protection_group_snapshots
            .values()
            .filter(|snapshot| snapshot.source == group)
            .collect();
        snapshots.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        snapshots
            .into_iter()
            .map(|snapshot| snapshot.name.clone())
            .collect()
    }

    /// Milliseconds (modelled) until a destroyed object is eradicated; `None` for a live one.
    pub fn time_remaining_ms(
        &self,
        id: &str,
        destroyed: bool,
        now: Instant,
        speed: f64,
    ) -> Option<u64> {
        if !destroyed {
            return None;
        }
        let delay = ERADICATION_DELAY.as_millis() as f64;
        let elapsed = self.destroyed_at.get(id).map_or(0.0, |at| {
            now.saturating_duration_since(*at).as_millis() as f64 * speed
        });
        Some((delay - elapsed).max(0.0) as u64)
    }

    /// Eradicates every destroyed object whose time in the destroyed bin is up.
    pub fn eradicate_expired(&mut self, now: Instant, speed: f64) {
        let expired: Vec<String> = self
            .destroyed_at
            .iter()
            .filter(|(_, at)| {
                now.saturating_duration_since(**at).as_secs_f64() * speed
                    >= ERADICATION_DELAY.as_secs_f64()
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.destroyed_at.remove(&id);
            if let Some(name) = find_name(&self.protection_groups, &id, |g| (&g.id, &g.name)) {
                self.eradicate_group(&name);
            } else if let Some(name) =
                find_name(&self.protection_group_snapshots, &id, |s| (&s.id, &s.name))
            {
                self.eradicate_group_snapshot(&name);
            } else if let Some(name) = find_name(&self.volumes, &id, |v| (&v.id, &v.name)) {
                self.eradicate_volume(&name);
            } else if let Some(name) = find_name(&self.volume_snapshots, &id, |s| (&s.id, &s.name))
            {
                self.eradicate_volume_snapshot(&name);
            }
        }
    }

    /// Applies a group's retention policy to its snapshots on this array: every snapshot
    /// younger than `all_for_sec` stays; of the older ones, the newest `per_day` of each day
    /// stay for `days` days; the rest are destroyed. Ages are modelled time (`speed`).
    /// Returns the names destroyed.
    pub fn apply_retention(
        &mut self,
        group: &str,
        retention: &Retention,
        wall_ms: i64,
        now: Instant,
        speed: f64,
    ) -> Vec<String> {
        let mut live: Vec<(String, i64)> = self
            .snapshots_of_group(group)
            .into_iter()
            .filter_map(|name| {
                let snapshot = &self.protection_group_snapshots[&name];
                let complete = snapshot.transfer.as_ref().is_none_or(Transfer::is_complete);
                (!snapshot.destroyed && complete).then_some((name, snapshot.created))
            })
            .collect();
        live.reverse(); // newest first
        let mut kept_per_day: BTreeMap<u64, u64> = BTreeMap::new();
        let mut destroyed = Vec::new();
        for (name, created) in live {
            let age_sec = ((wall_ms - created).max(0) as f64 * speed / 1000.0) as u64;
            if age_sec < retention.all_for_sec {
                continue;
            }
            let day = (age_sec - retention.all_for_sec) / 86_400;
            let kept = kept_per_day.entry(day).or_default();
            if day < retention.days && *kept < retention.per_day {
                *kept += 1;
                continue;
            }
            self.set_group_snapshot_destroyed(&name, true, now);
            destroyed.push(name);
        }
        destroyed
    }
}

fn mark(destroyed_at: &mut BTreeMap<String, Instant>, id: &str, destroyed: bool, now: Instant) {
    if destroyed {
        destroyed_at.entry(id.to_string()).or_insert(now);
    } else {
        destroyed_at.remove(id);
    }
}

fn find_name<T>(
    map: &BTreeMap<String, T>,
    id: &str,
    key: impl Fn(&T) -> (&String, &String),
) -> Option<String> {
    map.values()
        .map(&key)
        .find(|(object_id, _)| object_id.as_str() == id)
        .map(|(_, name)| name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(name: &str) -> Volume {
        Volume {
            id: format!("id-{name}"),
            name: name.to_string(),
            provisioned: 1 << 30,
            serial: "ABC".to_string(),
            created: 0,
            destroyed: false,
            source: None,
            content: format!("data:{name}"),
        }
    }

    fn group_snapshot(group: &str, suffix: u64, created: i64) -> ProtectionGroupSnapshot {
        ProtectionGroupSnapshot {
            id: format!("id-{group}.{suffix}"),
            name: format!("{group}.{suffix}"),
            source: group.to_string(),
            suffix: suffix.to_string(),
            created,
            destroyed: false,
            transfer: None,
        }
    }

    fn volume_snapshot(name: &str, source: &str, group_snapshot: Option<&str>) -> VolumeSnapshot {
        VolumeSnapshot {
            id: format!("id-{name}"),
            name: name.to_string(),
            source: source.to_string(),
            suffix: name.rsplit('.').next().unwrap().to_string(),
            provisioned: 1 << 30,
            created: 0,
            destroyed: false,
            content: String::new(),
            protection_group_snapshot: group_snapshot.map(str::to_string),
            serial: "S".to_string(),
        }
    }

    #[test]
    fn names_follow_flasharray_rules() {
        assert!(valid_name("volume-1b2c-cinder"));
        assert!(valid_name("a_b"));
        assert!(valid_name(&"x".repeat(63)));
        assert!(!valid_name(&"x".repeat(64)));
        assert!(!valid_name(""));
        assert!(!valid_name("-leading"));
        assert!(!valid_name("has.dot"));
        assert!(!valid_name("fa-a:pg"));
        assert!(!valid_name("with space"));
        assert!(!valid_name("123"));
        assert!(valid_suffix("123"));
        assert!(!valid_suffix("a.b"));
        assert_eq!(replica_source("fa-a:pg.3.vol"), Some("fa-a"));
        assert_eq!(replica_source("pg.3.vol"), None);
    }

    #[test]
    fn renaming_a_volume_carries_its_memberships_connections_and_snapshots() {
        let mut array = Array::default();
        array.volumes.insert("v".into(), volume("v"));
        array.protection_groups.insert(
            "pg".into(),
            ProtectionGroup {
                id: "pg-id".into(),
                name: "pg".into(),
                source: "fa-a".into(),
                volumes: vec!["v".into()],
                targets: Vec::new(),
                replication_schedule: Schedule {
                    enabled: false,
                    frequency: 1,
                },
                snapshot_schedule: Schedule {
                    enabled: false,
                    frequency: 1,
                },
                source_retention: Retention::default(),
                target_retention: Retention::default(),
                destroyed: false,
                next_suffix: 1,
                next_replication: None,
            },
        );
        array.hosts.insert(
            "h".into(),
            Host {
                name: "h".into(),
                connections: BTreeMap::from([("v".to_string(), 1)]),
                ..Default::default()
            },
        );
        array
            .volume_snapshots
            .insert("v.s1".into(), volume_snapshot("v.s1", "v", None));
        array.volume_snapshots.insert(
            "pg.1.v".into(),
            volume_snapshot("pg.1.v", "v", Some("pg.1")),
        );
        array.volume_snapshots.insert(
            "fa-b:pg.1.v".into(),
            volume_snapshot("fa-b:pg.1.v", "v", Some("fa-b:pg.1")),
        );

        array.rename_volume("v", "w");

        assert!(array.volumes.contains_key("w") && !array.volumes.contains_key("v"));
        assert_eq!(array.volumes["w"].name, "w");
        assert_eq!(array.protection_groups["pg"].volumes, vec!["w".to_string()]);
        assert_eq!(array.hosts["h"].connections.get("w"), Some(&1));
        assert_eq!(array.volume_snapshots["w.s1"].source, "w");
        assert_eq!(array.volume_snapshots["pg.1.v"].source, "w");
        assert_eq!(array.connection_count("w"), 1);
        // A replicated snapshot names a volume of another array: untouched.
        assert_eq!(array.volume_snapshots["fa-b:pg.1.v"].source, "v");
    }

    #[test]
    fn destroyed_objects_wait_then_are_eradicated_with_their_parts() {
        let mut array = Array::default();
        array.volumes.insert("v".into(), volume("v"));
        array
            .protection_group_snapshots
            .insert("pg.1".into(), group_snapshot("pg", 1, 0));
        array.volume_snapshots.insert(
            "pg.1.v".into(),
            volume_snapshot("pg.1.v", "v", Some("pg.1")),
        );
        let start = Instant::now();
        array.set_volume_destroyed("v", true, start);
        array.set_group_snapshot_destroyed("pg.1", true, start);
        assert!(array.volume_snapshots["pg.1.v"].destroyed);
        assert_eq!(
            array.time_remaining_ms("id-v", true, start, 1.0),
            Some(ERADICATION_DELAY.as_millis() as u64)
        );
        assert_eq!(array.time_remaining_ms("id-v", false, start, 1.0), None);

        // At speed 86400, a real second is a modelled day.
        let later = start + Duration::from_millis(500);
        array.eradicate_expired(later, 86_400.0);
        assert!(
            array.volumes.contains_key("v"),
            "half a day in: still there"
        );
        let remaining = array
            .time_remaining_ms("id-v", true, later, 86_400.0)
            .unwrap();
        assert!(remaining <= ERADICATION_DELAY.as_millis() as u64 / 2 + 1000);

        array.set_volume_destroyed("v", false, later);
        let day_later = start + Duration::from_secs(1);
        array.eradicate_expired(day_later, 86_400.0);
        assert!(array.volumes.contains_key("v"), "recovered volumes stay");
        assert!(!array.protection_group_snapshots.contains_key("pg.1"));
        assert!(!array.volume_snapshots.contains_key("pg.1.v"));
        assert!(array.destroyed_at.is_empty());
    }

    #[test]
    fn retention_keeps_recent_snapshots_and_a_few_a_day() {
        let mut array = Array::default();
        let day_ms = 86_400_000;
        let now_ms = 10 * day_ms;
        // Four snapshots in the last hour, three each on days 2 and 3 ago, one 9 days ago.
        let created: Vec<i64> = vec![
            now_ms - 60_000,
            now_ms - 120_000,
            now_ms - 180_000,
            now_ms - 240_000,
            now_ms - 2 * day_ms,
            now_ms - 2 * day_ms - 1000,
            now_ms - 2 * day_ms - 2000,
            now_ms - 3 * day_ms,
            now_ms - 3 * day_ms - 1000,
            now_ms - 3 * day_ms - 2000,
            now_ms - 9 * day_ms,
        ];
        for (index, created) in created.iter().enumerate() {
            let snapshot = group_snapshot("pg", index as u64 + 1, *created);
            array
                .protection_group_snapshots
                .insert(snapshot.name.clone(), snapshot);
        }
        let retention = Retention {
            all_for_sec: 3600,
            per_day: 2,
            days: 7,
        };
        let destroyed = array.apply_retention("pg", &retention, now_ms, Instant::now(), 1.0);
        // Day buckets count from the end of the all_for window: 2 days ago is bucket 1, 3 days
        // ago bucket 2; each keeps its newest two. 9 days ago is past `days`.
        assert_eq!(destroyed, vec!["pg.7", "pg.10", "pg.11"]);
        assert!(!array.protection_group_snapshots["pg.1"].destroyed);
        assert!(array.protection_group_snapshots["pg.11"].destroyed);
    }
}
