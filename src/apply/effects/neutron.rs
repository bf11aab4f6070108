//! Effects on Neutron: the ports a member boots on, made with the step's marker (and found
//! again by it), and deleted.

use super::wait::find_or_make;
use super::{SiteRunner, marker, text};
use crate::apply::executor::Created;
use crate::clients::neutron::model as neutron;
use crate::plan::Step;

impl SiteRunner<'_> {
    /// Ports named `name` whose description is `marker`.
    pub(super) async fn marked_ports(
        &self,
        site: &str,
        name: &str,
        marker: &str,
    ) -> Result<Vec<neutron::Port>, String> {
        let openstack = self.openstack(site).await?;
        Ok(openstack
            .network
            .ports(&[("name", name)])
            .await
            .map_err(text)?
            .into_iter()
            .filter(|port| port.description.as_deref() == Some(marker))
            .collect())
    }

    pub(super) async fn delete_ports(&self, site: &str, ids: &[String]) -> Result<(), String> {
        let openstack = self.openstack(site).await?;
        for id in ids {
            openstack.network.delete_port(id).await.map_err(text)?;
        }
        Ok(())
    }

    pub(super) async fn create_port(
        &self,
        step: &Step,
        network: &str,
        fixed_ip: Option<&str>,
        name: &str,
        security_groups: &[String],
    ) -> Result<Created, String> {
        let site = step.site.as_str();
        let openstack = self.openstack(site).await?;
        let network_id = self.network_id(site, network).await?;
        let marker = marker(self.operation(), &step.id);
        let mut group_ids = Vec::new();
        for group in security_groups {
            group_ids.push(self.security_group_id(site, group).await?);
        }
        let request = neutron::PortCreateRequest {
            port: neutron::PortCreate {
                name: Some(name.to_string()),
                description: Some(marker.clone()),
                fixed_ips: fixed_ip.map(|ip| {
                    vec![neutron::FixedIpRequest {
                        subnet_id: None,
                        ip_address: Some(ip.to_string()),
                    }]
                }),
                // Nova applies no group to a port it is given: the port carries them.
                security_groups: (!group_ids.is_empty()).then_some(group_ids),
                ..port_create(network_id.clone())
            },
        };
        let id = find_or_make(
            async || {
                let found = self.marked_ports(site, name, &marker).await?;
                Ok(found
                    .into_iter()
                    .find(|port| port.network_id == network_id)
                    .map(|port| port.id))
            },
            async || Ok(openstack.network.create_port(&request).await?.id),
        )
        .await?;
        Ok(Created::from([("port".to_string(), id)]))
    }
}

fn port_create(network_id: String) -> neutron::PortCreate {
    neutron::PortCreate {
        network_id,
        name: None,
        description: None,
        admin_state_up: None,
        fixed_ips: None,
        mac_address: None,
        device_id: None,
        device_owner: None,
        security_groups: None,
        allowed_address_pairs: None,
        port_security_enabled: None,
        qos_policy_id: None,
        dns_domain: None,
        dns_name: None,
        propagate_uplink_status: None,
        hardware_offload_type: None,
        pvlan_type: None,
        pvlan_community: None,
        trusted: None,
        binding_host_id: None,
        binding_vnic_type: None,
        binding_profile: None,
        tags: None,
    }
}
