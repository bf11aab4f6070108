//! Effects on Nova: instances (booted, retried when Nova could not place them; stopped,
//! started, quiesced, restored, deleted), server groups, and the servers a step marked as its
//! own.

use std::collections::BTreeMap;
use std::time::Duration;

use super::wait::{LostAnswers, find_or_make};
use super::{SiteRunner, marker, text};
use crate::apply::executor::{Attempts, Created, Outputs};
use crate::clients::nova::model as nova;
use crate::plan::{Action, Step};

/// Boots of one instance a step tries before it fails, when Nova could not place it.
const BOOT_ATTEMPTS: usize = 3;

/// The pause before the second boot of an instance Nova could not place; doubled for each one
/// after. Long enough for a scheduler race or a busy Placement to pass.
const BOOT_RETRY_PAUSE: Duration = Duration::from_secs(1);

impl SiteRunner<'_> {
    /// The flavors and networks the plan boots with still exist on the target.
    pub(super) async fn check_target(&self, site: &str) -> Result<Created, String> {
        for step in self.plan.steps.iter().filter(|s| s.site == site) {
            match &step.action {
                Action::BootInstance { flavor, .. } => {
                    self.flavor_id(site, flavor).await?;
                }
                Action::CreatePort { network, .. } => {
                    self.network_id(site, network).await?;
                }
                _ => {}
            }
        }
        Ok(Created::new())
    }

    pub(super) async fn server(
        &self,
        site: &str,
        id: &str,
    ) -> Result<Option<nova::Server>, String> {
        let openstack = self.openstack(site).await?;
        openstack.compute.server(id).await.map_err(text)
    }

    pub(super) async fn stop(&self, site: &str, id: &str) -> Result<Created, String> {
        self.power(
            site,
            id,
            "stop",
            nova::ServerAction::Stop(()),
            "ACTIVE",
            "SHUTOFF",
        )
        .await?;
        Ok(Created::new())
    }

    pub(super) async fn start(&self, site: &str, id: &str) -> Result<(), String> {
        self.power(
            site,
            id,
            "start",
            nova::ServerAction::Start(()),
            "SHUTOFF",
            "ACTIVE",
        )
        .await
    }

    /// Stops a server an operation booted, once it settled (a boot still under way ends first);
    /// `true` when it was running and is stopped now, `false` when it was not running (gone,
    /// stopped, failed).
    pub(super) async fn quiesce(&self, site: &str, id: &str) -> Result<bool, String> {
        let poll = self.poll("stop", format!("instance {id} to settle"));
        loop {
            let Some(server) = self.server(site, id).await? else {
                return Ok(false);
            };
            match (server.status.as_str(), server.task_state.as_deref()) {
                ("ACTIVE", None) => {
                    self.stop(site, id).await?;
                    return Ok(true);
                }
                ("SHUTOFF" | "ERROR" | "DELETED" | "SOFT_DELETED", None) => return Ok(false),
                _ => poll.wait().await?,
            }
        }
    }

    /// A member's source instance runs again: started if it is stopped, then checked to be
    /// ACTIVE with each of its volumes `in-use` by it and each of its fixed IPs on its ports.
    /// Records whether it had to start it (what undoing the restore stops again).
    pub(super) async fn restore(
        &self,
        site: &str,
        id: &str,
        name: &str,
        volume_ids: &[String],
        fixed_ips: &[String],
    ) -> Result<Created, String> {
        let openstack = self.openstack(site).await?;
        let stopped = self
            .server(site, id)
            .await?
            .ok_or_else(|| format!("instance {name} ({id}) no longer exists on {site}"))?
            .status
            != "ACTIVE";
        if stopped {
            self.start(site, id).await?;
        }
        for volume_id in volume_ids {
            if !self.in_use_by(site, volume_id, id, name).await? {
                return Err(format!(
                    "volume {volume_id} of {name} is still attaching on {site}"
                ));
            }
        }
        let ports = openstack
            .network
            .ports(&[("device_id", id)])
            .await
            .map_err(text)?;
        for ip in fixed_ips {
            if !ports
                .iter()
                .any(|port| port.fixed_ips.iter().any(|fixed| &fixed.ip_address == ip))
            {
                return Err(format!(
                    "{name} ({id}) on {site} no longer has address {ip}"
                ));
            }
        }
        Ok(Created::from([(
            "started".to_string(),
            stopped.to_string(),
        )]))
    }

    /// Asks for `action` once the server is settled in `from`, and waits for `to`; a server
    /// already in `to` (an earlier attempt) is done.
    async fn power(
        &self,
        site: &str,
        id: &str,
        kind: &'static str,
        action: nova::ServerAction,
        from: &str,
        to: &str,
    ) -> Result<(), String> {
        let openstack = self.openstack(site).await?;
        let poll = self.poll(kind, format!("instance {id} to be {to}"));
        let (mut asked, mut lost) = (false, LostAnswers::default());
        loop {
            let server = self
                .server(site, id)
                .await?
                .ok_or_else(|| format!("instance {id} no longer exists on {site}"))?;
            match (server.status.as_str(), server.task_state.as_deref()) {
                (status, None) if status == to => {
                    poll.settled();
                    return Ok(());
                }
                ("ERROR", _) => return Err(fault("instance", &server)),
                (status, None) if status == from && !asked => {
                    match openstack.compute.action(id, &action).await {
                        Ok(()) => asked = true,
                        // The next look tells whether it took.
                        Err(error) => lost.pause_or_fail(error).await?,
                    }
                }
                _ => {}
            }
            poll.wait().await?;
        }
    }

    pub(super) async fn boot(
        &self,
        step: &Step,
        outputs: &Outputs,
        attempts: &Attempts,
    ) -> Result<Created, String> {
        let Action::BootInstance {
            name,
            flavor,
            port_steps,
            volume_steps,
            key_name,
            metadata,
            availability_zone,
            server_group,
            tags,
            description,
        } = &step.action
        else {
            return Err(format!("{} is not a boot", step.id));
        };
        // Into its server group (made by a step before this one, or already there).
        let scheduler_hints = match server_group {
            Some(group) => {
                let found = self.server_groups_named(&step.site, group).await?;
                let [found] = found.as_slice() else {
                    return Err(format!(
                        "{} server groups named {group} on {}: {name} must join exactly one",
                        found.len(),
                        step.site
                    ));
                };
                Some(BTreeMap::from([(
                    "group".to_string(),
                    nova::SchedulerHint::One(found.id.clone()),
                )]))
            }
            None => None,
        };
        let site = step.site.as_str();
        let openstack = self.openstack(site).await?;
        let mut ports = Vec::new();
        for port_step in port_steps {
            ports.push(nova::NetworkRequest {
                uuid: None,
                port: Some(
                    outputs
                        .get(port_step, "port")
                        .ok_or_else(|| format!("step {port_step} recorded no port"))?,
                ),
                fixed_ip: None,
                tag: None,
            });
        }
        let mut devices = Vec::new();
        for (index, volume_step) in volume_steps.iter().enumerate() {
            let volume = outputs
                .get(volume_step, "cinder_volume")
                .ok_or_else(|| format!("step {volume_step} recorded no volume"))?;
            devices.push(nova::BlockDeviceMapping {
                boot_index: Some(nova::IntegerOrDigits::Integer(if index == 0 {
                    0
                } else {
                    -1
                })),
                uuid: Some(volume),
                source_type: nova::BlockDeviceSource::Volume,
                destination_type: Some(nova::BlockDeviceDestination::Volume),
                // The volumes hold the member's data: deleting the server must not delete them.
                delete_on_termination: Some(false),
                volume_size: None,
                volume_type: None,
                device_name: None,
                disk_bus: None,
                device_type: None,
                guest_format: None,
                tag: None,
            });
        }
        let request = nova::ServerCreateRequest {
            server: nova::ServerCreate {
                name: name.clone(),
                flavor_ref: self.flavor_id(site, flavor).await?,
                networks: Some(if ports.is_empty() {
                    nova::ServerNetworks::Allocation(nova::NetworkAllocation::None)
                } else {
                    nova::ServerNetworks::Nics(ports)
                }),
                block_device_mapping_v2: Some(devices),
                metadata: Some(metadata.clone()),
                key_name: key_name.clone(),
                availability_zone: availability_zone.clone(),
                // The member's own, else protector's marker (servers are found by their
                // metadata, which carries it too).
                description: Some(
                    description
                        .clone()
                        .unwrap_or_else(|| marker(self.operation(), &step.id)),
                ),
                tags: (!tags.is_empty()).then(|| tags.clone()),
                ..server_create(name)
            },
            scheduler_hints,
        };
        // A boot that Nova could not place (NoValidHost: hosts busy, or Placement failing for
        // now) is deleted and made again after a pause, its ports and volumes kept, a few times
        // before the step fails with every attempt's fault; an earlier run's failed attempt is
        // deleted the same way. Any other fault fails the step at once: booting again would
        // fail again.
        let mut faults: Vec<String> = Vec::new();
        loop {
            let id = find_or_make(
                async || {
                    let found = self
                        .marked_servers(site, name, self.operation(), &step.id)
                        .await?;
                    let (failed, live): (Vec<_>, Vec<_>) =
                        found.into_iter().partition(|server| server.status == "ERROR");
                    for server in failed {
                        tracing::warn!(fault = %fault("instance", &server), "removing a failed boot before booting again");
                        self.delete_server(site, &server.id).await?;
                    }
                    Ok(live.into_iter().next().map(|server| server.id))
                },
                async || Ok(openstack.compute.create_server(&request).await?.id),
            )
            .await?;
            let poll = self.poll("boot", format!("instance {name} to become ACTIVE"));
            loop {
                match self.server(site, &id).await? {
                    None => return Err(format!("instance {name} ({id}) vanished while booting")),
                    Some(server) if server.status == "ACTIVE" => {
                        poll.settled();
                        return Ok(Created::from([("server".to_string(), id)]));
                    }
                    Some(server) if server.status == "ERROR" => {
                        faults.push(fault("instance", &server));
                        let retryable = server
                            .fault
                            .as_ref()
                            .is_some_and(|fault| placement_failed(&fault.message));
                        if !retryable || faults.len() >= BOOT_ATTEMPTS {
                            return Err(match faults.as_slice() {
                                [only] => only.clone(),
                                all => format!(
                                    "{} boots of {name} failed: {}",
                                    all.len(),
                                    all.join("; ")
                                ),
                            });
                        }
                        let attempt = faults.len() as u32;
                        attempts.failed(step, attempt, &faults[faults.len() - 1]);
                        tracing::warn!(instance = %name, attempt, "boot not placed; booting again");
                        tokio::time::sleep(BOOT_RETRY_PAUSE * 2u32.pow(attempt - 1)).await;
                        break;
                    }
                    Some(_) => poll.wait().await?,
                }
            }
        }
    }

    /// The project's server groups named `name` (read anew: a step of the run may have made
    /// one).
    pub(super) async fn server_groups_named(
        &self,
        site: &str,
        name: &str,
    ) -> Result<Vec<nova::ServerGroup>, String> {
        let openstack = self.openstack(site).await?;
        Ok(openstack
            .compute
            .server_groups()
            .await
            .map_err(text)?
            .into_iter()
            .filter(|group| group.name == name)
            .collect())
    }

    /// Makes the server group members join on the target. One of its name with its policy
    /// found there is adopted: the plan saw none, so it is one an interrupted run of this
    /// step made (server groups carry no marker to tell).
    pub(super) async fn create_server_group(
        &self,
        site: &str,
        group: &crate::inventory::ServerGroup,
    ) -> Result<Created, String> {
        let policy = nova::ServerGroupPolicy::parse(&group.policy)
            .ok_or_else(|| format!("unknown server group policy `{}` in the plan: plan again with this version of protector", group.policy))?;
        let openstack = self.openstack(site).await?;
        let request = nova::ServerGroupCreateRequest {
            server_group: nova::NewServerGroup {
                name: group.name.clone(),
                policies: None,
                policy: Some(policy),
                rules: group.max_server_per_host.map(|max| nova::ServerGroupRules {
                    max_server_per_host: Some(max),
                }),
            },
        };
        let id = find_or_make(
            async || {
                let found = self.server_groups_named(site, &group.name).await?;
                match found.as_slice() {
                    [] => Ok(None),
                    [one] if one.the_policy() == Some(policy) => Ok(Some(one.id.clone())),
                    _ => Err(format!(
                        "{site} now has server groups named {} that are not one {}: rename or delete them and apply again",
                        group.name, group.policy
                    )),
                }
            },
            async || {
                Ok(openstack
                    .compute
                    .create_server_group(&request)
                    .await?
                    .id)
            },
        )
        .await?;
        Ok(Created::from([("server_group".to_string(), id)]))
    }

    /// Servers named `name` that step `step` of `operation` booted (their metadata says so).
    pub(super) async fn marked_servers(
        &self,
        site: &str,
        name: &str,
        operation: &str,
        step: &str,
    ) -> Result<Vec<nova::Server>, String> {
        let openstack = self.openstack(site).await?;
        let pattern = format!("^{}$", regex_escape(name));
        Ok(openstack
            .compute
            .servers(&[("name", pattern.as_str())])
            .await
            .map_err(text)?
            .into_iter()
            .filter(|server| {
                server
                    .metadata
                    .get("protector_operation")
                    .map(String::as_str)
                    == Some(operation)
                    && server.metadata.get("protector_step").map(String::as_str) == Some(step)
            })
            .collect())
    }

    pub(super) async fn delete_server(&self, site: &str, id: &str) -> Result<(), String> {
        let openstack = self.openstack(site).await?;
        if self.server(site, id).await?.is_none() {
            return Ok(());
        }
        openstack.compute.delete_server(id).await.map_err(text)?;
        let poll = self.poll("delete", format!("instance {id} to be deleted"));
        while let Some(server) = self.server(site, id).await? {
            if server.status == "ERROR" && server.task_state.is_none() {
                return Err(fault("deleting instance", &server));
            }
            poll.wait().await?;
        }
        poll.settled();
        Ok(())
    }
}

/// An instance's fault, as Nova reports it.
pub(super) fn fault(what: &str, server: &nova::Server) -> String {
    match &server.fault {
        Some(fault) => format!(
            "{what} {} ({}) is in ERROR: {}",
            server.name, server.id, fault.message
        ),
        None => format!("{what} {} ({}) is in ERROR", server.name, server.id),
    }
}

/// Whether a build fault says Nova could not place the instance, which a later boot may
/// overcome: NoValidHost (no host passed the filters, or Placement could not record the
/// allocation), and MaxRetriesExceeded (every host Nova rescheduled to failed the build).
fn placement_failed(message: &str) -> bool {
    message.starts_with("No valid host was found")
        || message.starts_with("Exceeded maximum number of retries")
}

/// Nova's `name` filter is a regular expression: match the name exactly.
fn regex_escape(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len());
    for c in name.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A create request with only the name set; callers fill what they need.
fn server_create(name: &str) -> nova::ServerCreate {
    nova::ServerCreate {
        name: name.to_string(),
        image_ref: None,
        flavor_ref: String::new(),
        networks: None,
        block_device_mapping_v2: None,
        metadata: None,
        key_name: None,
        availability_zone: None,
        security_groups: None,
        access_ipv4: None,
        access_ipv6: None,
        disk_config: None,
        user_data: None,
        personality: None,
        config_drive: None,
        admin_pass: None,
        description: None,
        tags: None,
        hostname: None,
        min_count: None,
        max_count: None,
        return_reservation_id: None,
        host: None,
        hypervisor_hostname: None,
        trusted_image_certificates: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_faults_of_placement_are_booted_again() {
        assert!(placement_failed(
            "No valid host was found. There are not enough hosts available."
        ));
        assert!(placement_failed(
            "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance 1e2c."
        ));
        assert!(!placement_failed(
            "Build of instance 1e2c aborted: Volume 9f0a did not finish being created even after we waited 0 seconds or 1 attempts."
        ));
        assert!(!placement_failed("host lost"));
    }

    #[test]
    fn nova_name_filters_match_exactly() {
        assert_eq!(regex_escape("web-1"), "web-1");
        assert_eq!(regex_escape("db.prod (1)"), "db\\.prod \\(1\\)");
    }
}
