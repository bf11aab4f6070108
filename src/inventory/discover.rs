//! Discovery: reading both sites into an [`Inventory`], concurrently.
//!
//! Each site is read with a handful of list calls (servers, volumes, ports, networks, subnets,
//! flavors: paginated, never one call per object) plus Cinder's quota of the project, and the
//! raw answers are turned into facts by [`site_facts`], a pure function tested without sockets. A site that cannot be read becomes
//! [`SiteInventory::Unreachable`] with the reason, never a failure of the whole discovery.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::{
    ArrayFacts, Flavor, Instance, Inventory, Network, Port, ProtectionGroup, ReplicatedSnapshot,
    ServerGroup, SiteFacts, SiteInventory, Subnet, Volume,
};
use crate::clients::cinder;
use crate::clients::clouds::CloudsEnvironment;
use crate::clients::neutron;
use crate::clients::nova;
use crate::clients::site::OpenStack;
use crate::spec::Spec;

/// The raw answers of one site's OpenStack services.
pub struct SiteLists {
    pub servers: Vec<nova::model::Server>,
    pub flavors: Vec<nova::model::Flavor>,
    pub volumes: Vec<cinder::model::Volume>,
    pub networks: Vec<neutron::model::Network>,
    pub subnets: Vec<neutron::model::Subnet>,
    pub ports: Vec<neutron::model::Port>,
    pub roles: Vec<String>,
    /// Cinder's `volumes` quota of the token's project, or why it could not be read.
    pub volume_quota: Result<cinder::model::QuotaUsage, String>,
    /// Cinder's backend pools, or why they could not be listed.
    pub pools: Result<Vec<String>, String>,
    pub security_groups: Vec<neutron::model::SecurityGroup>,
    /// Nova's availability zones and Cinder's volume types, or why they could not be listed.
    pub availability_zones: Result<Vec<String>, String>,
    pub volume_types: Result<Vec<String>, String>,
    pub manage_policy: super::ManagePolicy,
    pub volume_services: super::VolumeServices,
    /// Nova's key pairs of protector's user and the project's server groups, or why they
    /// could not be listed.
    pub keypairs: Result<Vec<String>, String>,
    pub server_groups: Result<Vec<nova::model::ServerGroup>, String>,
}

/// Reads every site of the spec concurrently.
pub async fn discover(spec: &Spec, clouds: &CloudsEnvironment, timeout: Duration) -> Inventory {
    let reads = spec.sites.keys().map(|site| async move {
        (
            site.clone(),
            discover_site(spec, site, clouds, timeout).await,
        )
    });
    let sites = futures::future::join_all(reads).await.into_iter().collect();
    Inventory {
        taken_at_ms: chrono::Utc::now().timestamp_millis(),
        sites,
    }
}

/// Reads only the arrays of every site, concurrently (what protection status needs).
pub async fn arrays(
    spec: &Spec,
    timeout: Duration,
) -> BTreeMap<String, Result<ArrayFacts, String>> {
    let reads = spec
        .sites
        .keys()
        .map(|site| async move { (site.clone(), read_array(spec, site, timeout).await) });
    futures::future::join_all(reads).await.into_iter().collect()
}

/// Reads one site: its OpenStack services and its array, concurrently.
pub async fn discover_site(
    spec: &Spec,
    site: &str,
    clouds: &CloudsEnvironment,
    timeout: Duration,
) -> SiteInventory {
    let (lists, array) = tokio::join!(
        read_site(spec, site, clouds, timeout),
        read_array(spec, site, timeout)
    );
    match lists {
        Ok(lists) => {
            let mut facts = site_facts(spec, &lists);
            match array {
                Ok(array) => facts.array = Some(array),
                Err(error) => facts.array_error = Some(error),
            }
            SiteInventory::Reachable(Box::new(facts))
        }
        Err(error) => SiteInventory::Unreachable { error },
    }
}

async fn read_site(
    spec: &Spec,
    site: &str,
    clouds_env: &CloudsEnvironment,
    timeout: Duration,
) -> Result<SiteLists, String> {
    let openstack = OpenStack::connect(spec, site, clouds_env, timeout).await?;
    let (token, compute, block, network) = (
        &openstack.token,
        &openstack.compute,
        &openstack.block,
        &openstack.network,
    );
    let volume_quota = async {
        let project = token
            .project_id()
            .ok_or("the token is not scoped to a project")?;
        block
            .quota_usage(project)
            .await
            .map(|quotas| quotas.volumes)
            .map_err(|e| e.to_string())
    };
    let pools = async {
        block
            .pools()
            .await
            .map(|pools| pools.into_iter().map(|pool| pool.name).collect())
            .map_err(|e| e.to_string())
    };
    let zones = async {
        compute
            .availability_zones()
            .await
            .map(|zones| zones.into_iter().map(|zone| zone.zone_name).collect())
            .map_err(|e| e.to_string())
    };
    let types = async {
        block
            .volume_types()
            .await
            .map(|types| types.into_iter().map(|t| t.name).collect())
            .map_err(|e| e.to_string())
    };
    let (servers, flavors, volumes, networks, subnets, ports, volume_quota, pools) = tokio::join!(
        compute.servers(&[]),
        compute.flavors(),
        block.volumes(&[]),
        network.networks(),
        network.subnets(),
        network.ports(&[]),
        volume_quota,
        pools,
    );
    let manage_policy = async {
        match block.may_manage().await {
            Ok(true) => super::ManagePolicy::Allowed,
            Ok(false) => super::ManagePolicy::Refused,
            Err(error) => super::ManagePolicy::Unknown {
                error: error.to_string(),
            },
        }
    };
    let volume_services = async {
        match block.volume_services().await {
            Ok(services) => super::VolumeServices::Listed {
                services: services
                    .into_iter()
                    .filter(|service| service.binary == "cinder-volume")
                    .map(|service| super::VolumeService {
                        up: service.state == "up",
                        enabled: service.status == "enabled",
                        host: service.host,
                        disabled_reason: service.disabled_reason,
                        updated_at: service.updated_at,
                    })
                    .collect(),
            },
            Err(error) if error.status == Some(403) => super::VolumeServices::Refused,
            Err(error) => super::VolumeServices::Unknown {
                error: error.to_string(),
            },
        }
    };
    let (
        security_groups,
        availability_zones,
        volume_types,
        keypairs,
        server_groups,
        manage_policy,
        volume_services,
    ) = tokio::join!(
        network.security_groups(),
        zones,
        types,
        compute.keypairs(),
        compute.server_groups(),
        manage_policy,
        volume_services
    );
    Ok(SiteLists {
        servers: servers.map_err(|e| e.to_string())?,
        flavors: flavors.map_err(|e| e.to_string())?,
        volumes: volumes.map_err(|e| e.to_string())?,
        networks: networks.map_err(|e| e.to_string())?,
        subnets: subnets.map_err(|e| e.to_string())?,
        ports: ports.map_err(|e| e.to_string())?,
        roles: token.roles(),
        volume_quota,
        pools,
        security_groups: security_groups.map_err(|e| e.to_string())?,
        availability_zones,
        volume_types,
        manage_policy,
        volume_services,
        keypairs: keypairs.map_err(|e| e.to_string()),
        server_groups: server_groups.map_err(|e| e.to_string()),
    })
}

/// The array of `site`: the protection group, replicated snapshots from the peer, volumes.
async fn read_array(spec: &Spec, site: &str, timeout: Duration) -> Result<ArrayFacts, String> {
    let config = &spec.sites[site].flasharray;
    let peer = &spec.sites[spec.peer_of(site)].flasharray.array_name;
    let array = crate::clients::site::array(spec, site, timeout)?;
    let group = &spec.policy.array_protection_group;
    let replicated = format!("{peer}:{group}");
    let text = |e: crate::clients::http::ClientError| e.to_string();
    let groups = array
        .protection_groups(&[group, &replicated])
        .await
        .map_err(text)?;
    let mut protection_groups = Vec::new();
    for pg in &groups {
        let Some(name) = pg.name.clone() else {
            continue;
        };
        let local = pg.is_local.unwrap_or(!name.contains(':'));
        let (volumes, targets) = if local {
            (
                array.group_volumes(&name).await.map_err(text)?,
                array.group_targets(&name).await.map_err(text)?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        let schedule = pg.replication_schedule.clone().unwrap_or_default();
        protection_groups.push(ProtectionGroup {
            source: pg
                .source
                .as_ref()
                .and_then(|s| s.name.clone())
                .unwrap_or_else(|| config.array_name.clone()),
            name,
            volumes,
            targets,
            replication_enabled: schedule.enabled.unwrap_or(false),
            replication_frequency_ms: schedule.frequency.unwrap_or(0),
        });
    }
    let mut replicated_snapshots = Vec::new();
    if groups
        .iter()
        .any(|pg| pg.name.as_deref() == Some(replicated.as_str()))
    {
        let snapshots: Vec<crate::clients::flasharray::model::ProtectionGroupSnapshot> = array
            .list(
                "protection-group-snapshots",
                &[("source_names", &replicated)],
            )
            .await
            .map_err(text)?;
        let transfers = array.transfers(&replicated).await.map_err(text)?;
        for snapshot in snapshots.iter().filter(|s| s.destroyed != Some(true)) {
            let Some(name) = snapshot.name.clone() else {
                continue;
            };
            let transfer = transfers
                .iter()
                .find(|t| t.name.as_deref() == Some(name.as_str()));
            replicated_snapshots.push(ReplicatedSnapshot {
                created_ms: snapshot.created.unwrap_or(0),
                progress: transfer.and_then(|t| t.progress).unwrap_or(0.0),
                completed_ms: transfer.and_then(|t| t.completed),
                volumes: Default::default(),
                name,
            });
        }
        replicated_snapshots.sort_by_key(|s| std::cmp::Reverse(s.created_ms));
        // Only the newest complete snapshot can be recovered: list its volume snapshots.
        if let Some(newest) = replicated_snapshots.iter_mut().find(|s| s.is_complete()) {
            let volumes = array.snapshot_volumes(&newest.name).await.map_err(text)?;
            let prefix = format!("{}.", newest.name);
            newest.volumes = volumes
                .into_iter()
                .filter_map(|v| v.name)
                .filter_map(|name| {
                    let volume = name.strip_prefix(&prefix)?.to_string();
                    Some((volume, name))
                })
                .collect();
        }
    }
    Ok(ArrayFacts {
        name: config.array_name.clone(),
        protection_groups,
        replicated_snapshots,
        volumes: array.volume_names().await.map_err(text)?,
        clock_offset_ms: array.clock_offset_ms().await.map_err(text)?,
    })
}

/// The facts planning needs, out of one site's raw lists. Members are matched by UUID, else by
/// name (the first ACTIVE one when several share the name).
pub fn site_facts(spec: &Spec, lists: &SiteLists) -> SiteFacts {
    let network_names: HashMap<&str, &str> = lists
        .networks
        .iter()
        .map(|n| (n.id.as_str(), n.name.as_str()))
        .collect();
    let mut ports_by_device: HashMap<&str, Vec<&neutron::model::Port>> = HashMap::new();
    for port in &lists.ports {
        ports_by_device
            .entry(port.device_id.as_str())
            .or_default()
            .push(port);
    }
    let volumes: HashMap<&str, &cinder::model::Volume> =
        lists.volumes.iter().map(|v| (v.id.as_str(), v)).collect();
    let flavor_names: HashMap<&str, &str> = lists
        .flavors
        .iter()
        .map(|f| (f.id.as_str(), f.name.as_str()))
        .collect();
    let group_names: HashMap<&str, &str> = lists
        .security_groups
        .iter()
        .map(|g| (g.id.as_str(), g.name.as_str()))
        .collect();
    let server_groups: Vec<(ServerGroup, &nova::model::ServerGroup)> = lists
        .server_groups
        .iter()
        .flatten()
        .filter_map(|group| Some((server_group(group)?, group)))
        .collect();
    let group_of = |server_id: &str| {
        server_groups
            .iter()
            .find(|(_, group)| group.members.iter().any(|member| member == server_id))
            .map(|(group, _)| group.clone())
    };

    let mut instances = BTreeMap::new();
    for member in &spec.members {
        let wanted = member.instance.as_str();
        let found = lists.servers.iter().find(|s| s.id == wanted).or_else(|| {
            let named: Vec<&nova::model::Server> =
                lists.servers.iter().filter(|s| s.name == wanted).collect();
            named
                .iter()
                .find(|s| s.status == "ACTIVE")
                .or(named.first())
                .copied()
        });
        let Some(server) = found else { continue };
        let mut instance = instance(
            server,
            &ports_by_device,
            &Names {
                networks: &network_names,
                flavors: &flavor_names,
                security_groups: &group_names,
            },
            &volumes,
        );
        instance.server_group = group_of(&server.id);
        instances.insert(member.instance.clone(), instance);
    }

    let mut used_by_subnet: HashMap<&str, Vec<String>> = HashMap::new();
    for port in &lists.ports {
        for fixed in &port.fixed_ips {
            used_by_subnet
                .entry(fixed.subnet_id.as_str())
                .or_default()
                .push(fixed.ip_address.clone());
        }
    }
    let networks = lists
        .networks
        .iter()
        .map(|network| Network {
            id: network.id.clone(),
            name: network.name.clone(),
            subnets: lists
                .subnets
                .iter()
                .filter(|s| s.network_id == network.id && s.ip_version == 4)
                .map(|subnet| {
                    let used = used_by_subnet
                        .get(subnet.id.as_str())
                        .cloned()
                        .unwrap_or_default();
                    let pools: Vec<(String, String)> = subnet
                        .allocation_pools
                        .iter()
                        .map(|p| (p.start.clone(), p.end.clone()))
                        .collect();
                    let size: u64 = pools
                        .iter()
                        .map(|(start, end)| crate::ipv4::range_len(start, end))
                        .sum();
                    let taken = used
                        .iter()
                        .filter(|ip| crate::ipv4::in_pools(&pools, ip))
                        .count() as u64;
                    Subnet {
                        id: subnet.id.clone(),
                        cidr: subnet.cidr.clone(),
                        free_ips: size.saturating_sub(taken),
                        used_ips: used,
                    }
                })
                .collect(),
        })
        .collect();
    SiteFacts {
        instances,
        networks,
        flavors: lists
            .flavors
            .iter()
            .map(|f| Flavor {
                id: f.id.clone(),
                name: f.name.clone(),
                vcpus: f.vcpus,
                ram_mb: f.ram,
                disk_gb: f.disk,
            })
            .collect(),
        roles: lists.roles.clone(),
        volume_quota_left: lists.volume_quota.as_ref().ok().and_then(volumes_left),
        volume_quota_error: lists.volume_quota.as_ref().err().cloned(),
        cinder_pools: lists.pools.as_ref().ok().cloned(),
        security_groups: lists
            .security_groups
            .iter()
            .map(|group| group.name.clone())
            .collect(),
        availability_zones: lists.availability_zones.as_ref().ok().cloned(),
        volume_types: lists.volume_types.as_ref().ok().cloned(),
        manage_policy: lists.manage_policy.clone(),
        volume_services: lists.volume_services.clone(),
        keypairs: lists.keypairs.as_ref().ok().cloned(),
        server_groups: lists.server_groups.as_ref().ok().map(|_| {
            server_groups
                .iter()
                .map(|(group, _)| group.clone())
                .collect()
        }),
        array: None,
        array_error: None,
    }
}

/// A server group as the inventory keeps it; None for one whose policy protector does not
/// know (a newer Nova's).
fn server_group(group: &nova::model::ServerGroup) -> Option<ServerGroup> {
    Some(ServerGroup {
        name: group.name.clone(),
        policy: group.the_policy()?.as_str().to_string(),
        max_server_per_host: group
            .rules
            .as_ref()
            .and_then(|rules| rules.max_server_per_host),
    })
}

/// The volumes a quota still allows (`None`: unlimited). Reserved ones count as taken: they
/// belong to requests Cinder is finishing.
fn volumes_left(quota: &cinder::model::QuotaUsage) -> Option<u64> {
    (quota.limit >= 0).then(|| (quota.limit - quota.in_use - quota.reserved).max(0) as u64)
}

/// Names of the site's objects by id.
struct Names<'a> {
    networks: &'a HashMap<&'a str, &'a str>,
    flavors: &'a HashMap<&'a str, &'a str>,
    security_groups: &'a HashMap<&'a str, &'a str>,
}

fn instance(
    server: &nova::model::Server,
    ports_by_device: &HashMap<&str, Vec<&neutron::model::Port>>,
    names: &Names,
    volumes: &HashMap<&str, &cinder::model::Volume>,
) -> Instance {
    let (network_names, flavor_names) = (names.networks, names.flavors);
    let flavor = match &server.flavor {
        nova::model::ServerFlavor::Embedded(embedded) => embedded.original_name.clone(),
        nova::model::ServerFlavor::Reference(reference) => flavor_names
            .get(reference.id.as_str())
            .map_or_else(|| reference.id.clone(), |name| name.to_string()),
    };
    let ports = ports_by_device
        .get(server.id.as_str())
        .into_iter()
        .flatten()
        .map(|port| Port {
            id: port.id.clone(),
            network: network_names
                .get(port.network_id.as_str())
                .map_or_else(|| port.network_id.clone(), |name| name.to_string()),
            mac_address: port.mac_address.clone(),
            fixed_ips: port
                .fixed_ips
                .iter()
                .map(|f| f.ip_address.clone())
                .collect(),
            security_groups: port
                .security_groups
                .iter()
                .flatten()
                .map(|id| {
                    names
                        .security_groups
                        .get(id.as_str())
                        .map_or_else(|| id.clone(), |name| name.to_string())
                })
                .collect(),
        })
        .collect();
    let mut attached: Vec<Volume> = server
        .volumes_attached
        .iter()
        .filter_map(|attachment| volumes.get(attachment.id.as_str()))
        .map(|volume| {
            let device = volume
                .attachments
                .iter()
                .find(|a| a.server_id.as_deref() == Some(server.id.as_str()))
                .and_then(|a| a.device.clone());
            Volume {
                id: volume.id.clone(),
                name: volume.name.clone().unwrap_or_default(),
                size_gb: volume.size,
                volume_type: volume.volume_type.clone(),
                bootable: volume.bootable.0,
                host: volume.host.clone().flatten(),
                boot_index: None,
                device,
                array_volume_name: volume.metadata.get("array_volume_name").cloned(),
            }
        })
        .collect();
    // The boot volume is the first device (vda); data volumes follow in device order.
    attached.sort_by(|a, b| a.device.cmp(&b.device).then(a.id.cmp(&b.id)));
    if let Some(boot) = attached.first_mut() {
        boot.boot_index = Some(0);
    }
    Instance {
        id: server.id.clone(),
        name: server.name.clone(),
        status: server.status.clone(),
        flavor,
        key_name: server.key_name.clone(),
        availability_zone: Some(server.availability_zone.clone()).filter(|z| !z.is_empty()),
        metadata: server.metadata.clone(),
        security_groups: server
            .security_groups
            .iter()
            .flatten()
            .map(|group| group.name.clone())
            .collect(),
        tags: server.tags.clone().unwrap_or_default(),
        description: server.description.clone().flatten(),
        // Filled by the caller, which has the site's groups.
        server_group: None,
        ports,
        volumes: attached,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cinder::model::QuotaUsage;

    #[test]
    fn the_volumes_left_by_a_quota() {
        let quota = |limit, in_use, reserved| QuotaUsage {
            limit,
            in_use,
            reserved,
            allocated: None,
        };
        assert_eq!(volumes_left(&quota(-1, 12, 0)), None, "unlimited");
        assert_eq!(volumes_left(&quota(10, 4, 1)), Some(5));
        assert_eq!(volumes_left(&quota(10, 10, 0)), Some(0));
        assert_eq!(
            volumes_left(&quota(3, 5, 0)),
            Some(0),
            "a quota lowered below use"
        );
    }
}
