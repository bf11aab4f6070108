//! Discovery: reading both sites into an [`Inventory`], concurrently.
//!
//! Each site is read with a handful of list calls (servers, volumes, ports, networks, subnets,
//! flavors: paginated, never one call per object) and the raw answers are turned into facts by
//! [`site_facts`], a pure function tested without sockets. A site that cannot be read becomes
//! [`SiteInventory::Unreachable`] with the reason, never a failure of the whole discovery.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::{Flavor, Instance, Inventory, Network, Port, SiteFacts, SiteInventory, Subnet, Volume};
use crate::clients::cinder::{self, BlockStorage};
use crate::clients::clouds::{self, CloudsEnvironment};
use crate::clients::keystone::Session;
use crate::clients::neutron::{self, Networking};
use crate::clients::nova::{self, Compute};
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
}

/// Reads every site of the spec concurrently.
pub async fn discover(spec: &Spec, clouds: &CloudsEnvironment, timeout: Duration) -> Inventory {
    let reads = spec.sites.values().map(|site| async move {
        let facts = match read_site(&site.name, &site.cloud, clouds, timeout).await {
            Ok(lists) => SiteInventory::Reachable(Box::new(site_facts(spec, &lists))),
            Err(error) => SiteInventory::Unreachable { error },
        };
        (site.name.clone(), facts)
    });
    let sites = futures::future::join_all(reads).await.into_iter().collect();
    Inventory {
        taken_at_ms: chrono::Utc::now().timestamp_millis(),
        sites,
    }
}

async fn read_site(
    site: &str,
    cloud: &str,
    clouds_env: &CloudsEnvironment,
    timeout: Duration,
) -> Result<SiteLists, String> {
    let cloud = clouds::load_cloud(clouds_env, cloud).map_err(|error| error.to_string())?;
    let session = Arc::new(Session::new(site, cloud, timeout).map_err(|e| e.to_string())?);
    let token = session.current().await.map_err(|e| e.to_string())?;
    let compute = Compute::new(session.clone(), timeout).map_err(|e| e.to_string())?;
    let block = BlockStorage::new(session.clone(), timeout).map_err(|e| e.to_string())?;
    let network = Networking::new(session.clone(), timeout).map_err(|e| e.to_string())?;
    let (servers, flavors, volumes, networks, subnets, ports) = tokio::join!(
        compute.servers(&[]),
        compute.flavors(),
        block.volumes(&[]),
        network.networks(),
        network.subnets(),
        network.ports(&[]),
    );
    Ok(SiteLists {
        servers: servers.map_err(|e| e.to_string())?,
        flavors: flavors.map_err(|e| e.to_string())?,
        volumes: volumes.map_err(|e| e.to_string())?,
        networks: networks.map_err(|e| e.to_string())?,
        subnets: subnets.map_err(|e| e.to_string())?,
        ports: ports.map_err(|e| e.to_string())?,
        roles: token.roles(),
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
        instances.insert(
            member.instance.clone(),
            instance(
                server,
                &ports_by_device,
                &network_names,
                &volumes,
                &flavor_names,
            ),
        );
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
        volume_quota_left: None,
        array: None,
    }
}

fn instance(
    server: &nova::model::Server,
    ports_by_device: &HashMap<&str, Vec<&neutron::model::Port>>,
    network_names: &HashMap<&str, &str>,
    volumes: &HashMap<&str, &cinder::model::Volume>,
    flavor_names: &HashMap<&str, &str>,
) -> Instance {
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
        ports,
        volumes: attached,
    }
}
