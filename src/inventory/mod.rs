//! The inventory: what the two sites report now, as one immutable value.
//!
//! Discovery (the only part of this module that does I/O, through `clients`) reads each site
//! concurrently and records what planning needs: the members' instances with their ports and
//! volumes in boot order, the networks, subnets and flavors available, the array protection
//! group and the replicated snapshots with their age and transfer progress. A site that cannot
//! be reached is recorded as such, with the error, so plans that can do without it still can.
//!
//! Planning reads only this value (and the recorded state), which is why plans are pure and
//! testable without sockets.

pub mod discover;
pub mod protection;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Both sites, as discovered at `taken_at_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// Milliseconds since the epoch when discovery ran, on this machine's clock. A snapshot's
    /// age is measured on its array's clock: this plus the array's `clock_offset_ms`.
    pub taken_at_ms: i64,
    pub sites: BTreeMap<String, SiteInventory>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteInventory {
    Reachable(Box<SiteFacts>),
    Unreachable {
        /// What failed, as the operator should read it.
        error: String,
    },
}

impl SiteInventory {
    pub fn facts(&self) -> Option<&SiteFacts> {
        match self {
            SiteInventory::Reachable(facts) => Some(facts),
            SiteInventory::Unreachable { .. } => None,
        }
    }
}

/// Everything one reachable site reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SiteFacts {
    /// The members' instances found on this site, by member name.
    pub instances: BTreeMap<String, Instance>,
    pub networks: Vec<Network>,
    pub flavors: Vec<Flavor>,
    /// Roles of protector's token on this site (Cinder's manage policy is role-based).
    pub roles: Vec<String>,
    /// Volumes the project may still create (`None`: unlimited, or unknown: see
    /// `volume_quota_error`).
    pub volume_quota_left: Option<u64>,
    /// Why Cinder's quota could not be read (a policy that hides it, an old API): discovery
    /// goes on without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_quota_error: Option<String>,
    /// Cinder's backend pools (`host@backend#pool`), when the site lets protector list them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cinder_pools: Option<Vec<String>>,
    /// Names of the security groups the project sees (a name listed twice is ambiguous).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Availability zones instances may be booted in (`None`: the site would not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zones: Option<Vec<String>>,
    /// Volume types the project may use (`None`: the site would not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_types: Option<Vec<String>>,
    /// Whether Cinder's policy lets protector manage volumes here, as probed.
    #[serde(default)]
    pub manage_policy: ManagePolicy,
    /// Cinder's volume services, which must be up for a manage to succeed.
    #[serde(default)]
    pub volume_services: VolumeServices,
    /// Names of protector's user's key pairs: the only ones it may boot with (`None`: the site
    /// would not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keypairs: Option<Vec<String>>,
    /// The project's server groups (`None`: the site would not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_groups: Option<Vec<ServerGroup>>,
    /// The site's array, when it answered.
    pub array: Option<ArrayFacts>,
    /// Why the array did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array_error: Option<String>,
}

impl SiteFacts {
    pub fn network_named(&self, name: &str) -> Option<&Network> {
        self.networks.iter().find(|network| network.name == name)
    }

    pub fn flavor_named(&self, name: &str) -> Option<&Flavor> {
        self.flavors.iter().find(|flavor| flavor.name == name)
    }
}

/// A Nova server group: how its members are placed. Its name is what carries it from site to
/// site (ids differ).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ServerGroup {
    pub name: String,
    /// `affinity`, `anti-affinity`, `soft-affinity` or `soft-anti-affinity`.
    pub policy: String,
    /// The anti-affinity rule: how many members one host may run (Nova's default, 1, when
    /// absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_server_per_host: Option<u32>,
}

impl ServerGroup {
    /// `web-servers (anti-affinity)`, as plans and errors name it.
    pub fn describe(&self) -> String {
        match self.max_server_per_host {
            Some(max) => format!("{} ({}, at most {max} per host)", self.name, self.policy),
            None => format!("{} ({})", self.name, self.policy),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    pub name: String,
    /// Nova status: ACTIVE, SHUTOFF, ERROR, ...
    pub status: String,
    pub flavor: String,
    pub key_name: Option<String>,
    pub availability_zone: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub security_groups: Vec<String>,
    /// Nova's server tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The server group it is a member of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_group: Option<ServerGroup>,
    /// NICs in order.
    pub ports: Vec<Port>,
    /// Boot volume first.
    pub volumes: Vec<Volume>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Port {
    pub id: String,
    pub network: String,
    pub mac_address: String,
    pub fixed_ips: Vec<String>,
    /// Its security groups, by name: what lets traffic reach the member.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    pub id: String,
    pub name: String,
    pub size_gb: u64,
    pub volume_type: Option<String>,
    pub bootable: bool,
    /// Cinder backend host, `site-a@pure#fa-a`.
    pub host: Option<String>,
    /// 0 for the boot volume.
    pub boot_index: Option<u32>,
    pub device: Option<String>,
    /// The array volume holding its data (Pure driver metadata).
    pub array_volume_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub subnets: Vec<Subnet>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    pub id: String,
    pub cidr: String,
    /// Addresses of the allocation pools not yet taken by a port.
    pub free_ips: u64,
    /// Addresses taken by ports, to tell whether a fixed IP can be kept.
    pub used_ips: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: u32,
    pub ram_mb: u64,
    pub disk_gb: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrayFacts {
    pub name: String,
    /// Protection groups relevant to the spec: the local one and replicated ones from the peer.
    pub protection_groups: Vec<ProtectionGroup>,
    /// Replicated protection-group snapshots received from the peer, newest first.
    pub replicated_snapshots: Vec<ReplicatedSnapshot>,
    /// Names of the volumes on the array (to find what an interrupted run created).
    pub volumes: Vec<String>,
    /// How far the array's clock runs ahead of this machine's, in milliseconds (negative:
    /// behind); `None` when the array did not tell its time.
    pub clock_offset_ms: Option<i64>,
}

/// Cinder's answer to protector's manage probe ([`crate::clients::cinder::BlockStorage::may_manage`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagePolicy {
    Allowed,
    Refused,
    /// The probe got no answer that tells.
    Unknown {
        error: String,
    },
    /// Not asked (facts recorded by an older version).
    #[default]
    NotProbed,
}

impl ManagePolicy {
    /// Why the probe told nothing.
    pub fn unanswered(&self) -> &str {
        match self {
            ManagePolicy::Unknown { error } => error,
            _ => "not probed",
        }
    }
}

/// Cinder's volume services (`GET /os-services`), as far as its `services:index` policy lets
/// protector see them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolumeServices {
    Listed {
        services: Vec<VolumeService>,
    },
    /// The policy denies `volume_extension:services:index` to protector's user.
    Refused,
    /// No answer that tells.
    Unknown {
        error: String,
    },
    /// Not asked (facts recorded by an older version).
    #[default]
    NotProbed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeService {
    /// `host@backend`: the part of a pool name (`host@backend#pool`) before `#`.
    pub host: String,
    /// Reported in lately (`state: up`).
    pub up: bool,
    /// Not disabled by an operator (`status: enabled`).
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// When it last reported in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl VolumeServices {
    /// Why the backend serving `pool` (`host@backend#pool`) cannot take a manage request now;
    /// `Ok(None)` when it can; `Err` with why it was not checked.
    pub fn blocks(&self, pool: &str) -> Result<Option<String>, String> {
        let backend = pool.split('#').next().unwrap_or(pool);
        let services = match self {
            VolumeServices::Listed { services } => services,
            VolumeServices::Refused => {
                return Err("Cinder's policy denies `volume_extension:services:index`".to_string());
            }
            VolumeServices::Unknown { error } => return Err(error.clone()),
            VolumeServices::NotProbed => return Err("not probed".to_string()),
        };
        let Some(service) = services.iter().find(|service| service.host == backend) else {
            let known: Vec<&str> = services.iter().map(|s| s.host.as_str()).collect();
            return Ok(Some(format!(
                "no cinder-volume service `{backend}` (its volume services: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        let since = service
            .updated_at
            .as_deref()
            .map(|at| format!(", last report {at}"))
            .unwrap_or_default();
        Ok(if !service.up {
            Some(format!("cinder-volume `{backend}` is down{since}"))
        } else if !service.enabled {
            Some(format!(
                "cinder-volume `{backend}` is disabled{}",
                service
                    .disabled_reason
                    .as_deref()
                    .map(|why| format!(" ({why})"))
                    .unwrap_or_default()
            ))
        } else {
            None
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtectionGroup {
    pub name: String,
    /// The array that owns it.
    pub source: String,
    pub volumes: Vec<String>,
    /// (target array, allowed).
    pub targets: Vec<(String, bool)>,
    pub replication_enabled: bool,
    /// Milliseconds between replications.
    pub replication_frequency_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicatedSnapshot {
    /// `fa-a:prod-web-app.12`.
    pub name: String,
    pub created_ms: i64,
    /// 0.0 to 1.0.
    pub progress: f64,
    pub completed_ms: Option<i64>,
    /// Per-volume snapshots: source volume name -> snapshot name on this array.
    pub volumes: BTreeMap<String, String>,
}

impl ReplicatedSnapshot {
    pub fn is_complete(&self) -> bool {
        self.progress >= 1.0
    }
}
