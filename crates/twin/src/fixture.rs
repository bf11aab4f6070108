//! The twin's fixture: the world it starts with, in YAML (`examples/sim/two-sites.yaml`), and a
//! generator of large ones (N instances x M volumes) for scale tests and benchmarks.
//!
//! A fixture names things (flavors, networks, users, instances); the twin gives them ids from
//! its seeded generator, so the same fixture and seed always produce the same world.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use protector_wire::nova::ServerGroupPolicy;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Sites by name (`site-a`); each is one OpenStack cloud with one FlashArray.
    pub sites: BTreeMap<String, SiteFixture>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteFixture {
    #[serde(default = "default_region")]
    pub region: String,
    /// Projects by name (all in the `Default` domain).
    pub projects: Vec<String>,
    pub users: Vec<UserFixture>,
    #[serde(default)]
    pub application_credentials: Vec<ApplicationCredentialFixture>,
    /// Roles allowed to manage / unmanage volumes (Cinder's default: `admin` only).
    #[serde(default)]
    pub cinder_policy: CinderPolicyFixture,
    /// Cinder's `volumes` quota of each project (`-1`, the default: unlimited): a create or
    /// manage beyond it fails with Cinder's 413, and `os-quota-sets` reports it.
    #[serde(default = "default_volume_quota")]
    pub volume_quota: i64,
    /// Nova's availability zones (default: `nova`); the compute hosts are spread over them in
    /// turn, and an instance without one of its own runs in the first.
    #[serde(default = "default_zones")]
    pub availability_zones: Vec<String>,
    /// How many compute hosts the site has (default 4): what an anti-affinity group's size is
    /// bounded by (a boot beyond it ends in NoValidHost).
    #[serde(default = "default_compute_hosts")]
    pub compute_hosts: u32,
    /// Nova server groups, which instances join with `server_group`.
    #[serde(default)]
    pub server_groups: Vec<ServerGroupFixture>,
    /// Nova key pairs (each user has their own), which instances name with `key_name`.
    #[serde(default)]
    pub keypairs: Vec<KeyPairFixture>,
    pub flavors: Vec<FlavorFixture>,
    pub networks: Vec<NetworkFixture>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    pub volume_types: Vec<VolumeTypeFixture>,
    /// The Cinder backend host whose volumes live on this site's array, `site-a@pure#fa-a`.
    pub cinder_host: String,
    pub array: ArrayFixture,
    #[serde(default)]
    pub instances: Vec<InstanceFixture>,
}

fn default_region() -> String {
    "RegionOne".to_string()
}

fn default_volume_quota() -> i64 {
    -1
}

fn default_zones() -> Vec<String> {
    vec!["nova".to_string()]
}

fn default_compute_hosts() -> u32 {
    4
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerGroupFixture {
    pub name: String,
    /// `affinity`, `anti-affinity`, `soft-affinity` or `soft-anti-affinity`.
    pub policy: ServerGroupPolicy,
    /// The anti-affinity rule: how many members one host may run (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_server_per_host: Option<u32>,
    /// The project owning it (default: the site's first); its user is the project's first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPairFixture {
    pub name: String,
    /// The user owning it.
    pub user: String,
    /// OpenSSH format; a key of the twin's own (ed25519, from the names) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserFixture {
    pub name: String,
    pub password: String,
    pub project: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationCredentialFixture {
    pub name: String,
    pub user: String,
    pub secret: String,
    /// Defaults to all of the user's roles on its project.
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CinderPolicyFixture {
    pub volume_manage: Vec<String>,
    pub volume_unmanage: Vec<String>,
    /// Who may list Cinder's services (`volume_extension:services:index`).
    #[serde(default = "admin_only")]
    pub services_index: Vec<String>,
}

fn admin_only() -> Vec<String> {
    vec!["admin".to_string()]
}

impl Default for CinderPolicyFixture {
    fn default() -> Self {
        CinderPolicyFixture {
            volume_manage: admin_only(),
            volume_unmanage: admin_only(),
            services_index: admin_only(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FlavorFixture {
    pub name: String,
    pub vcpus: u32,
    pub ram_mb: u64,
    pub disk_gb: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFixture {
    pub name: String,
    /// IPv4 CIDR of its one subnet, `10.10.1.0/24`.
    pub cidr: String,
    /// Defaults to the first address of the CIDR.
    #[serde(default)]
    pub gateway: Option<String>,
    /// Inclusive allocation range; defaults to the CIDR less network, gateway and broadcast.
    #[serde(default)]
    pub allocation_pool: Option<(String, String)>,
    #[serde(default)]
    pub shared: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeTypeFixture {
    pub name: String,
    #[serde(default)]
    pub replication_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ArrayFixture {
    pub name: String,
    /// The token `POST /api/2.N/login` accepts (header `api-token`).
    pub api_token: String,
    #[serde(default = "default_array_user")]
    pub user: String,
    /// Peer arrays this one has replication connections to.
    #[serde(default)]
    pub connections: Vec<String>,
    #[serde(default)]
    pub protection_groups: Vec<ProtectionGroupFixture>,
    /// Volumes on the array that Cinder does not manage (e.g. left by an earlier unmanage).
    #[serde(default)]
    pub volumes: Vec<ArrayVolumeFixture>,
}

fn default_array_user() -> String {
    "pureuser".to_string()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectionGroupFixture {
    pub name: String,
    /// Target arrays (they must list this array in their connections).
    pub targets: Vec<String>,
    /// Replication interval, a duration like `15m`.
    pub replicate_every: String,
    /// Whether the twin starts with one completed replicated snapshot on each target.
    #[serde(default = "yes")]
    pub initial_snapshot: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ArrayVolumeFixture {
    pub name: String,
    pub size_gb: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceFixture {
    pub name: String,
    pub project: String,
    /// The user that owns it.
    pub user: String,
    pub flavor: String,
    pub networks: Vec<NicFixture>,
    /// Boot volume first.
    pub volumes: Vec<InstanceVolumeFixture>,
    /// A key pair of its user.
    #[serde(default)]
    pub key_name: Option<String>,
    /// Default: the site's first zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// The server group it is a member of (placed as the group's policy allows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_group: Option<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Nova server tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Nova's server description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The array protection group its volumes belong to.
    #[serde(default)]
    pub protection_group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NicFixture {
    pub network: String,
    /// A fixed IP; allocated from the pool when absent.
    #[serde(default)]
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceVolumeFixture {
    pub size_gb: u64,
    pub volume_type: String,
}

/// Parses a fixture document.
pub fn parse(text: &str) -> Result<Fixture, protector_wire::yaml::YamlError> {
    protector_wire::yaml::from_str(text)
}

/// A two-site fixture with `instances` instances of `volumes_per_instance` volumes each on
/// site-a, all in one protection group replicated to site-b: the shape of
/// `examples/sim/two-sites.yaml` at scale.
pub fn generate(instances: usize, volumes_per_instance: usize) -> Fixture {
    let site = |name: &str, peer: &str, primary: bool| {
        let networks: Vec<NetworkFixture> = (0..4)
            .map(|index| NetworkFixture {
                name: format!("net-{name}-{index}"),
                cidr: format!("10.{}.{index}.0/22", if primary { 20 } else { 30 }),
                gateway: None,
                allocation_pool: None,
                shared: false,
            })
            .collect();
        let instances = if primary {
            (0..instances)
                .map(|index| InstanceFixture {
                    name: format!("vm-{index:05}"),
                    project: "prod".to_string(),
                    user: "protector".to_string(),
                    flavor: "m1.large".to_string(),
                    networks: vec![NicFixture {
                        network: networks[index % networks.len()].name.clone(),
                        ip: None,
                    }],
                    volumes: (0..volumes_per_instance.max(1))
                        .map(|_| InstanceVolumeFixture {
                            size_gb: 10,
                            volume_type: "pure-replicated".to_string(),
                        })
                        .collect(),
                    key_name: None,
                    availability_zone: None,
                    server_group: None,
                    security_groups: vec!["default".to_string()],
                    metadata: BTreeMap::new(),
                    tags: Vec::new(),
                    description: None,
                    protection_group: Some("scale-group".to_string()),
                })
                .collect()
        } else {
            Vec::new()
        };
        SiteFixture {
            region: default_region(),
            projects: vec!["prod".to_string()],
            users: vec![UserFixture {
                name: "protector".to_string(),
                password: format!("{name}-password"),
                project: "prod".to_string(),
                roles: vec!["admin".to_string(), "member".to_string()],
            }],
            application_credentials: Vec::new(),
            cinder_policy: CinderPolicyFixture::default(),
            volume_quota: -1,
            availability_zones: default_zones(),
            compute_hosts: default_compute_hosts(),
            server_groups: Vec::new(),
            keypairs: Vec::new(),
            flavors: vec![FlavorFixture {
                name: if primary { "m1.large" } else { "m2.large" }.to_string(),
                vcpus: 4,
                ram_mb: 8192,
                disk_gb: 80,
            }],
            networks,
            security_groups: Vec::new(),
            volume_types: vec![VolumeTypeFixture {
                name: "pure-replicated".to_string(),
                replication_enabled: true,
            }],
            cinder_host: format!("{name}@pure#fa-{name}"),
            array: ArrayFixture {
                name: format!("fa-{name}"),
                api_token: format!("{name}-array-token"),
                user: default_array_user(),
                connections: vec![format!("fa-{peer}")],
                protection_groups: if primary {
                    vec![ProtectionGroupFixture {
                        name: "scale-group".to_string(),
                        targets: vec![format!("fa-{peer}")],
                        replicate_every: "15m".to_string(),
                        initial_snapshot: true,
                    }]
                } else {
                    Vec::new()
                },
                volumes: Vec::new(),
            },
            instances,
        }
    };

    Fixture {
        sites: BTreeMap::from([
            ("site-a".to_string(), site("site-a", "site-b", true)),
            ("site-b".to_string(), site("site-b", "site-a", false)),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_fixture_parses() {
        let text = include_str!("../../../examples/sim/two-sites.yaml");
        let fixture = parse(text).unwrap();
        assert_eq!(
            fixture.sites.keys().collect::<Vec<_>>(),
            vec!["site-a", "site-b"]
        );
        assert_eq!(fixture.sites["site-a"].instances.len(), 3);
    }

    #[test]
    fn generated_fixtures_have_the_requested_size_and_round_trip() {
        let fixture = generate(25, 3);
        let site_a = &fixture.sites["site-a"];
        assert_eq!(site_a.instances.len(), 25);
        assert!(site_a.instances.iter().all(|i| i.volumes.len() == 3));
        assert!(fixture.sites["site-b"].instances.is_empty());
        let text = protector_wire::yaml::to_string(&fixture).unwrap();
        assert_eq!(parse(&text).unwrap(), fixture);
    }
}
