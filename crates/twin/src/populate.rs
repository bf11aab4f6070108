//! The world a fixture describes, built by the services' own rules: servers placed on hosts by
//! Nova's scheduler, key pairs fingerprinted as Nova does, attached volumes connected to their
//! hosts on the array as the Pure driver leaves them, a first replication of the protection
//! groups that ask for one; and the services' time-driven changes, which the world applies as
//! time passes. A layer above the services (the world below them imports none of them).

use std::collections::BTreeMap;
use std::time::Instant;

use super::clock::Clock;
use super::faults::Faults;
use super::fixture::{Fixture, SiteFixture};
use super::flasharray::{self, state::Array};
use super::openstack::{self, ipam, state::*};
use super::world::{Endpoints, Site, World};
use protector_wire::ids::IdGen;

/// A fixture that does not describe a consistent world.
#[derive(Debug, thiserror::Error)]
#[error("fixture: site {site}: {message}")]
pub struct FixtureError {
    pub site: String,
    pub message: String,
}

impl World {
    /// Builds the world a fixture describes. Identifiers come from `seed`.
    pub fn from_fixture(fixture: &Fixture, seed: u64, clock: Clock) -> Result<World, FixtureError> {
        let mut sites = Vec::new();
        for (name, site_fixture) in &fixture.sites {
            let site =
                build_site(name, site_fixture, seed, &clock).map_err(|message| FixtureError {
                    site: name.clone(),
                    message,
                })?;
            sites.push(site);
        }
        let world = World::new(clock, sites, advance);
        world.check_array_links(fixture)?;
        world.initial_replication(fixture)?;
        Ok(world)
    }

    fn check_array_links(&self, fixture: &Fixture) -> Result<(), FixtureError> {
        for (site, site_fixture) in &fixture.sites {
            let error = |message: String| FixtureError {
                site: site.clone(),
                message,
            };
            for peer in &site_fixture.array.connections {
                if !self.array_sites.contains_key(peer) {
                    return Err(error(format!("array connection to unknown array `{peer}`")));
                }
            }
            for group in &site_fixture.array.protection_groups {
                for target in &group.targets {
                    if !site_fixture.array.connections.contains(target) {
                        return Err(error(format!(
                            "protection group `{}` targets `{target}`, which is not in the array's connections",
                            group.name
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// One completed replication of each protection group that asks for it, so the world
    /// starts with recoverable snapshots on the targets.
    fn initial_replication(&self, fixture: &Fixture) -> Result<(), FixtureError> {
        for (site, site_fixture) in &fixture.sites {
            for group in &site_fixture.array.protection_groups {
                if group.initial_snapshot {
                    flasharray::replication::replicate_now(self, site, &group.name, true).map_err(
                        |message| FixtureError {
                            site: site.clone(),
                            message,
                        },
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// The services' time-driven changes due by `now` (the world's [`Advance`](super::world::Advance)):
/// Nova's, Cinder's, then the array's.
fn advance(site: &mut Site, now: Instant, peer_array_up: &dyn Fn(&str) -> bool, faults: &Faults) {
    openstack::nova::advance(site, now, faults);
    openstack::cinder::advance(site, now);
    flasharray::advance(site, now, peer_array_up);
}

fn build_site(name: &str, fixture: &SiteFixture, seed: u64, clock: &Clock) -> Result<Site, String> {
    let mut ids = IdGen::for_site(seed, name);
    let now = clock.wall();
    let mut site = Site {
        name: name.to_string(),
        region: fixture.region.clone(),
        identity: Identity::default(),
        compute: Compute::default(),
        block: BlockStorage::default(),
        network: Networking::default(),
        object: ObjectStorage::default(),
        array: Array::default(),
        endpoints: Endpoints::default(),
        ids: IdGen::new(0),
        clock: clock.clone(),
    };

    // Identity.
    let domain_id = "default".to_string();
    site.identity.domains.insert(
        domain_id.clone(),
        Domain {
            id: domain_id.clone(),
            name: "Default".to_string(),
        },
    );
    for project in &fixture.projects {
        let id = ids.hex(32);
        site.identity.projects.insert(
            id.clone(),
            Project {
                id,
                name: project.clone(),
                domain_id: domain_id.clone(),
            },
        );
    }
    let mut roles: Vec<String> = ["admin", "member", "reader", "service"]
        .map(String::from)
        .to_vec();
    for user in &fixture.users {
        let project_id = site
            .project_id(&user.project)
            .ok_or_else(|| format!("user `{}`: unknown project `{}`", user.name, user.project))?
            .to_string();
        for role in &user.roles {
            if !roles.contains(role) {
                roles.push(role.clone());
            }
        }
        let id = ids.hex(32);
        site.identity.users.insert(
            id.clone(),
            User {
                id,
                name: user.name.clone(),
                domain_id: domain_id.clone(),
                password: user.password.clone(),
                roles: BTreeMap::from([(project_id, user.roles.clone())]),
            },
        );
    }
    site.identity.roles = roles;
    for credential in &fixture.application_credentials {
        let user = site
            .identity
            .users
            .values()
            .find(|user| user.name == credential.user)
            .ok_or_else(|| {
                format!(
                    "application credential `{}`: unknown user `{}`",
                    credential.name, credential.user
                )
            })?;
        let (project_id, user_roles) = user
            .roles
            .iter()
            .next()
            .map(|(project, roles)| (project.clone(), roles.clone()))
            .unwrap_or_default();
        let roles = if credential.roles.is_empty() {
            user_roles
        } else {
            credential.roles.clone()
        };
        let id = ids.hex(32);
        let user_id = user.id.clone();
        site.identity.application_credentials.insert(
            id.clone(),
            ApplicationCredential {
                id,
                name: credential.name.clone(),
                user_id,
                project_id,
                secret: credential.secret.clone(),
                roles,
            },
        );
    }

    // Compute: hosts spread over the zones in turn; key pairs and server groups, whose ids
    // and keys come from their names (not from `ids`, so adding one moves no other id).
    if fixture.availability_zones.is_empty() || fixture.compute_hosts == 0 {
        return Err("needs at least one availability zone and one compute host".to_string());
    }
    site.compute.availability_zones = fixture.availability_zones.clone();
    site.compute.hosts = (0..fixture.compute_hosts as usize)
        .map(|index| ComputeHost {
            name: format!("{name}-compute-{}", index + 1),
            zone: fixture.availability_zones[index % fixture.availability_zones.len()].clone(),
        })
        .collect();
    for (index, keypair) in fixture.keypairs.iter().enumerate() {
        let context = |message: String| format!("key pair `{}`: {message}", keypair.name);
        let user_id = site
            .user_id(&keypair.user)
            .ok_or_else(|| context(format!("unknown user `{}`", keypair.user)))?
            .to_string();
        if site
            .compute
            .keypairs
            .iter()
            .any(|known| known.user_id == user_id && known.name == keypair.name)
        {
            return Err(context(format!("user `{}` has it twice", keypair.user)));
        }
        let public_key = keypair.public_key.clone().unwrap_or_else(|| {
            let seed = format!("{name}/{}/{}", keypair.user, keypair.name);
            super::openstack::nova::generated_public_key(&seed, &format!("{}@{name}", keypair.user))
        });
        let fingerprint = super::openstack::nova::fingerprint(&public_key)
            .ok_or_else(|| context("`public_key` is not an OpenSSH public key".to_string()))?;
        site.compute.keypairs.push(KeyPair {
            id: index as u64 + 1,
            name: keypair.name.clone(),
            user_id,
            public_key,
            fingerprint,
            created_at: now,
        });
    }
    for group in &fixture.server_groups {
        let context = |message: String| format!("server group `{}`: {message}", group.name);
        let project = group
            .project
            .as_ref()
            .or(fixture.projects.first())
            .ok_or_else(|| context("the site has no project".to_string()))?;
        let project_id = site
            .project_id(project)
            .ok_or_else(|| context(format!("unknown project `{project}`")))?
            .to_string();
        let user = fixture
            .users
            .iter()
            .find(|user| user.project == *project)
            .and_then(|user| site.user_id(&user.name))
            .ok_or_else(|| context(format!("project `{project}` has no user")))?
            .to_string();
        if site
            .compute
            .server_groups
            .iter()
            .any(|known| known.name == group.name)
        {
            return Err(context("named twice".to_string()));
        }
        site.compute.server_groups.push(ServerGroup {
            id: IdGen::new(protector_wire::ids::fnv(&format!(
                "{name}/server-group/{}",
                group.name
            )))
            .uuid(),
            name: group.name.clone(),
            policy: group.policy,
            max_server_per_host: group.max_server_per_host,
            project_id,
            user_id: user,
            members: Vec::new(),
        });
    }
    for flavor in &fixture.flavors {
        let id = ids.uuid();
        site.compute.flavors.insert(
            id.clone(),
            Flavor {
                id,
                name: flavor.name.clone(),
                vcpus: flavor.vcpus,
                ram_mb: flavor.ram_mb,
                disk_gb: flavor.disk_gb,
            },
        );
    }

    // Networking: a `default` security group per project, then the named ones.
    let project_ids: Vec<String> = site.identity.projects.keys().cloned().collect();
    for project_id in &project_ids {
        for group in
            std::iter::once("default").chain(fixture.security_groups.iter().map(String::as_str))
        {
            let id = ids.uuid();
            site.network.security_groups.insert(
                id.clone(),
                SecurityGroup {
                    id,
                    name: group.to_string(),
                    project_id: project_id.clone(),
                    description: format!("{group} security group"),
                },
            );
        }
    }
    let first_project = project_ids.first().cloned().unwrap_or_default();
    for network in &fixture.networks {
        let gateway = match &network.gateway {
            Some(gateway) => Some(gateway.clone()),
            None => ipam::default_gateway(&network.cidr),
        };
        let pool = match &network.allocation_pool {
            Some(pool) => Some(pool.clone()),
            None => ipam::default_pool(&network.cidr),
        };
        let (Some(gateway), Some(pool)) = (gateway, pool) else {
            return Err(format!(
                "network `{}`: `{}` is not an IPv4 CIDR with room for hosts",
                network.name, network.cidr
            ));
        };
        let (network_id, subnet_id) = (ids.uuid(), ids.uuid());
        site.network.subnets.insert(
            subnet_id.clone(),
            Subnet {
                id: subnet_id.clone(),
                name: format!("{}-subnet", network.name),
                network_id: network_id.clone(),
                project_id: first_project.clone(),
                cidr: network.cidr.clone(),
                gateway_ip: Some(gateway),
                allocation_pools: vec![pool],
                created_at: now,
            },
        );
        site.network.networks.insert(
            network_id.clone(),
            Network {
                id: network_id,
                name: network.name.clone(),
                project_id: first_project.clone(),
                shared: network.shared,
                subnet_ids: vec![subnet_id],
                created_at: now,
            },
        );
    }

    // Block storage.
    for volume_type in &fixture.volume_types {
        let id = ids.uuid();
        let mut extra_specs = BTreeMap::from([(
            "volume_backend_name".to_string(),
            fixture
                .cinder_host
                .split('#')
                .next()
                .unwrap_or_default()
                .to_string(),
        )]);
        if volume_type.replication_enabled {
            extra_specs.insert("replication_enabled".to_string(), "<is> True".to_string());
            extra_specs.insert("replication_type".to_string(), "<in> async".to_string());
        }
        site.block.volume_types.insert(
            id.clone(),
            VolumeType {
                id,
                name: volume_type.name.clone(),
                extra_specs,
            },
        );
    }
    site.block.pools = vec![Pool {
        name: fixture.cinder_host.clone(),
        array_name: fixture.array.name.clone(),
    }];
    site.block.policy = CinderPolicy {
        volume_manage: fixture.cinder_policy.volume_manage.clone(),
        volume_unmanage: fixture.cinder_policy.volume_unmanage.clone(),
        services_index: fixture.cinder_policy.services_index.clone(),
    };

    site.block.volume_quota = fixture.volume_quota;

    // The array.
    let array = &fixture.array;
    site.array.id = ids.uuid();
    site.array.name = array.name.clone();
    site.array
        .api_tokens
        .insert(array.api_token.clone(), array.user.clone());
    for peer in &array.connections {
        let id = ids.uuid();
        site.array.connections.insert(
            peer.clone(),
            flasharray::state::Connection {
                id,
                name: peer.clone(),
                management_address: format!("{peer}.mgmt.invalid"),
                status: "connected".to_string(),
                r#type: "async-replication".to_string(),
            },
        );
    }
    for group in &array.protection_groups {
        let frequency = protector_wire::duration::parse(&group.replicate_every)
            .map_err(|error| format!("protection group `{}`: {error}", group.name))?;
        let id = ids.uuid();
        site.array.protection_groups.insert(
            group.name.clone(),
            flasharray::state::ProtectionGroup {
                id,
                name: group.name.clone(),
                source: array.name.clone(),
                volumes: Vec::new(),
                targets: group
                    .targets
                    .iter()
                    .map(|target| flasharray::state::Target {
                        name: target.clone(),
                        allowed: true,
                    })
                    .collect(),
                replication_schedule: flasharray::state::Schedule {
                    enabled: true,
                    frequency: frequency.as_millis() as u64,
                },
                snapshot_schedule: flasharray::state::Schedule {
                    enabled: false,
                    frequency: 3_600_000,
                },
                source_retention: flasharray::state::Retention {
                    all_for_sec: 86_400,
                    per_day: 4,
                    days: 7,
                },
                target_retention: flasharray::state::Retention {
                    all_for_sec: 86_400,
                    per_day: 4,
                    days: 7,
                },
                destroyed: false,
                next_suffix: 1,
                next_replication: Some(clock.now() + clock.scale(frequency)),
            },
        );
    }
    let created_ms = clock.wall_ms();
    for volume in &array.volumes {
        let id = ids.uuid();
        let serial = ids.hex(24).to_uppercase();
        site.array.volumes.insert(
            volume.name.clone(),
            flasharray::state::Volume {
                id,
                name: volume.name.clone(),
                provisioned: volume.size_gb << 30,
                serial,
                created: created_ms,
                destroyed: false,
                source: None,
                content: format!("data:{}:{}", array.name, volume.name),
            },
        );
    }

    // Instances, with their ports and volumes.
    for instance in &fixture.instances {
        add_instance(&mut site, &mut ids, fixture, instance, now)?;
    }
    site.ids = ids;
    // Attached volumes are connected to their compute host on the array, as the Pure driver
    // leaves them (after `ids` is back: connecting draws identifiers).
    super::openstack::cinder::connect_attached_volumes(&mut site, &format!("{name}-compute"));
    Ok(site)
}

fn add_instance(
    site: &mut Site,
    ids: &mut IdGen,
    fixture: &SiteFixture,
    instance: &super::fixture::InstanceFixture,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    let context = |message: String| format!("instance `{}`: {message}", instance.name);
    let project_id = site
        .project_id(&instance.project)
        .ok_or_else(|| context(format!("unknown project `{}`", instance.project)))?
        .to_string();
    let user_id = site
        .user_id(&instance.user)
        .map(str::to_string)
        .ok_or_else(|| context(format!("unknown user `{}`", instance.user)))?;
    let flavor_id = site
        .compute
        .flavors
        .values()
        .find(|flavor| flavor.name == instance.flavor)
        .map(|flavor| flavor.id.clone())
        .ok_or_else(|| context(format!("unknown flavor `{}`", instance.flavor)))?;
    if instance.volumes.is_empty() {
        return Err(context("needs at least a boot volume".to_string()));
    }
    if let Some(key_name) = &instance.key_name
        && !site
            .compute
            .keypairs
            .iter()
            .any(|keypair| keypair.user_id == user_id && keypair.name == *key_name)
    {
        return Err(context(format!(
            "key pair `{key_name}` of user `{}` is not in the site's `keypairs`",
            instance.user
        )));
    }
    if let Some(zone) = &instance.availability_zone
        && !site.compute.availability_zones.contains(zone)
    {
        return Err(context(format!(
            "availability zone `{zone}` is not in the site's `availability_zones`"
        )));
    }
    let group = match &instance.server_group {
        None => None,
        Some(name) => Some(
            site.compute
                .server_groups
                .iter()
                .position(|group| group.name == *name)
                .ok_or_else(|| context(format!("unknown server group `{name}`")))?,
        ),
    };

    let host = super::openstack::nova::place(
        &site.compute,
        instance.availability_zone.as_deref(),
        group.map(|index| &site.compute.server_groups[index]),
    )
    .ok_or_else(|| {
        context(
            "no compute host can take it (its zone, or its server group's policy, rules them all out): add `compute_hosts`"
                .to_string(),
        )
    })?;
    let zone = site
        .compute
        .hosts
        .iter()
        .find(|candidate| candidate.name == host)
        .map(|candidate| candidate.zone.clone())
        .unwrap_or_default();
    let server_id = ids.uuid();
    if let Some(index) = group {
        site.compute.server_groups[index]
            .members
            .push(server_id.clone());
    }
    let mut security_groups = vec!["default".to_string()];
    for group in &instance.security_groups {
        if !security_groups.contains(group) {
            security_groups.push(group.clone());
        }
    }

    let mut port_ids = Vec::new();
    for nic in &instance.networks {
        let network = site
            .network
            .networks
            .values()
            .find(|network| network.name == nic.network)
            .ok_or_else(|| context(format!("unknown network `{}`", nic.network)))?;
        let subnet = network
            .subnet_ids
            .first()
            .and_then(|id| site.network.subnets.get(id))
            .ok_or_else(|| context(format!("network `{}` has no subnet", nic.network)))?;
        let taken = |ip: &str| {
            site.network.ports.values().any(|port| {
                port.fixed_ips
                    .iter()
                    .any(|fixed| fixed.subnet_id == subnet.id && fixed.ip_address == ip)
            })
        };
        let ip = match &nic.ip {
            Some(ip) if taken(ip) => return Err(context(format!("address {ip} is already used"))),
            Some(ip) if !ipam::contains(&subnet.cidr, ip) => {
                return Err(context(format!("address {ip} is outside {}", subnet.cidr)));
            }
            Some(ip) => ip.clone(),
            None => ipam::first_free(&subnet.allocation_pools, taken)
                .ok_or_else(|| context(format!("network `{}` has no free address", nic.network)))?,
        };
        let port_id = ids.uuid();
        let port = Port {
            id: port_id.clone(),
            name: String::new(),
            network_id: network.id.clone(),
            project_id: project_id.clone(),
            mac_address: ids.mac(),
            fixed_ips: vec![FixedIp {
                subnet_id: subnet.id.clone(),
                ip_address: ip,
            }],
            device_id: server_id.clone(),
            device_owner: "compute:nova".to_string(),
            security_groups: site
                .network
                .security_groups
                .values()
                .filter(|group| {
                    group.project_id == project_id && security_groups.contains(&group.name)
                })
                .map(|group| group.id.clone())
                .collect(),
            created_at: now,
        };
        site.network.ports.insert(port_id.clone(), port);
        port_ids.push(port_id);
    }

    let mut attached = Vec::new();
    for (index, volume) in instance.volumes.iter().enumerate() {
        if !site
            .block
            .volume_types
            .values()
            .any(|t| t.name == volume.volume_type)
        {
            return Err(context(format!(
                "unknown volume type `{}`",
                volume.volume_type
            )));
        }
        let volume_id = ids.uuid();
        let array_volume = format!("volume-{volume_id}-cinder");
        let device = format!("/dev/vd{}", (b'a' + index as u8) as char);
        let attachment_id = ids.uuid();
        site.block.volumes.insert(
            volume_id.clone(),
            Volume {
                id: volume_id.clone(),
                name: format!(
                    "{}-{}",
                    instance.name,
                    if index == 0 {
                        "boot".to_string()
                    } else {
                        format!("data-{index}")
                    }
                ),
                description: None,
                project_id: project_id.clone(),
                user_id: user_id.clone(),
                size_gb: volume.size_gb,
                status: VolumeStatus::InUse,
                volume_type: volume.volume_type.clone(),
                bootable: index == 0,
                host: fixture.cinder_host.clone(),
                // Cinder's zone, not Nova's: the fixture's sites have one storage zone.
                availability_zone: "nova".to_string(),
                metadata: BTreeMap::from([
                    ("array_volume_name".to_string(), array_volume.clone()),
                    ("array_name".to_string(), fixture.array.name.clone()),
                ]),
                attachments: vec![VolumeAttachment {
                    attachment_id,
                    server_id: server_id.clone(),
                    device: device.clone(),
                    attached_at: now,
                }],
                array_volume: array_volume.clone(),
                created_at: now,
                updated_at: now,
                pending: None,
            },
        );
        let serial = ids.hex(24).to_uppercase();
        let array_id = ids.uuid();
        site.array.volumes.insert(
            array_volume.clone(),
            flasharray::state::Volume {
                id: array_id,
                name: array_volume.clone(),
                provisioned: volume.size_gb << 30,
                serial,
                created: site.clock.wall_ms(),
                destroyed: false,
                source: None,
                content: format!("data:{}:{}:{index}", site.name, instance.name),
            },
        );
        if let Some(group) = &instance.protection_group {
            let group = site
                .array
                .protection_groups
                .get_mut(group)
                .ok_or_else(|| context(format!("unknown protection group `{group}`")))?;
            group.volumes.push(array_volume);
        }
        attached.push(AttachedVolume {
            volume_id,
            device,
            boot_index: (index == 0).then_some(0),
            delete_on_termination: false,
        });
    }

    site.compute.servers.insert(
        server_id.clone(),
        Server {
            id: server_id,
            name: instance.name.clone(),
            project_id,
            user_id,
            status: ServerStatus::Active,
            flavor_id,
            key_name: instance.key_name.clone(),
            availability_zone: zone,
            host: Some(host),
            metadata: instance.metadata.clone(),
            tags: instance.tags.clone(),
            description: instance.description.clone(),
            security_groups,
            ports: port_ids,
            volumes: attached,
            fault: None,
            created: now,
            updated: now,
            pending: None,
        },
    );
    Ok(())
}
