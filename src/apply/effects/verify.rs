//! Whether a recovered member runs as it did: verified once (ACTIVE on its volumes and ports,
//! with the flavor, key pair, metadata, server group and NICs of its profile), then watched
//! through the stabilization window.

use std::time::Duration;

use super::nova::fault;
use super::{SiteRunner, text};
use crate::apply::executor::{Created, Outputs};
use crate::clients::neutron::model as neutron;
use crate::clients::nova::model as nova;
use crate::plan::{Action, Profile};

/// How often the stabilization window looks at the recovered members.
const STABILIZATION_POLL: Duration = Duration::from_secs(1);

/// What a boot step left: the server, and the volumes and ports it runs on.
struct Booted {
    name: String,
    server_id: String,
    volume_ids: Vec<String>,
    port_ids: Vec<String>,
}

/// A recovered member's state at one look.
enum Health {
    Running(Box<nova::Server>),
    Settling,
    /// Settled in this status (not ACTIVE, not ERROR).
    Stopped(String),
}

impl SiteRunner<'_> {
    /// The server and volumes `boot_step` recorded: what a recovered member runs on.
    fn booted(&self, boot_step: &str, outputs: &Outputs) -> Result<Booted, String> {
        let Some(Action::BootInstance {
            name,
            volume_steps,
            port_steps,
            ..
        }) = self.plan.step(boot_step).map(|step| &step.action)
        else {
            return Err(format!("{boot_step} is not a boot step of this plan"));
        };
        let recorded = |step: &String, key: &str| {
            outputs
                .get(step, key)
                .ok_or_else(|| format!("step {step} recorded no {key}"))
        };
        Ok(Booted {
            name: name.clone(),
            server_id: recorded(&boot_step.to_string(), "server")?,
            volume_ids: volume_steps
                .iter()
                .map(|step| recorded(step, "cinder_volume"))
                .collect::<Result<_, _>>()?,
            port_ids: port_steps
                .iter()
                .map(|step| recorded(step, "port"))
                .collect::<Result<_, _>>()?,
        })
    }

    /// How a recovered member runs now: settled and running (its server), still settling, or
    /// not running (and why); a server in ERROR, or a volume or port it lost, is an error.
    async fn health(&self, site: &str, booted: &Booted) -> Result<Health, String> {
        let Booted {
            name,
            server_id,
            volume_ids,
            port_ids,
        } = booted;
        let openstack = self.openstack(site).await?;
        let server = self
            .server(site, server_id)
            .await?
            .ok_or_else(|| format!("instance {name} ({server_id}) no longer exists on {site}"))?;
        let mut settling = match (server.status.as_str(), server.task_state.as_deref()) {
            ("ACTIVE", None) => false,
            ("ERROR", _) => return Err(fault("instance", &server)),
            (status, None) => return Ok(Health::Stopped(status.to_string())),
            _ => true,
        };
        for id in volume_ids {
            if !self.in_use_by(site, id, server_id, name).await? {
                settling = true;
            }
        }
        if !settling && !port_ids.is_empty() {
            let ports = openstack
                .network
                .ports(&[("device_id", server_id.as_str())])
                .await
                .map_err(text)?;
            for id in port_ids {
                match ports.iter().find(|port| &port.id == id) {
                    Some(port) if port.status == "ACTIVE" => {}
                    Some(port) if port.status == "BUILD" => settling = true,
                    Some(port) => {
                        return Err(format!(
                            "port {id} of instance {name} is `{}`, not ACTIVE",
                            port.status
                        ));
                    }
                    None => {
                        return Err(format!(
                            "port {id} of instance {name} is no longer bound to it"
                        ));
                    }
                }
            }
        }
        Ok(if settling {
            Health::Settling
        } else {
            Health::Running(Box::new(server))
        })
    }

    /// A drill instance runs as the workload would: ACTIVE, each volume it booted with
    /// `in-use` and attached to it. Waits while a transition settles, fails on anything else.
    pub(super) async fn verify(
        &self,
        site: &str,
        name: &str,
        boot_step: &str,
        profile: &Profile,
        outputs: &Outputs,
    ) -> Result<Created, String> {
        let booted = self.booted(boot_step, outputs)?;
        let poll = self.poll("verify", format!("instance {name} to run on its volumes"));
        loop {
            match self.health(site, &booted).await? {
                Health::Running(server) => {
                    let differences = self.differences(site, &server, profile).await?;
                    if !differences.is_empty() {
                        return Err(format!(
                            "instance {name} ({}) on {site} is not what the member was: {}",
                            booted.server_id,
                            differences.join("; ")
                        ));
                    }
                    return Ok(Created::from([
                        ("status".to_string(), "ACTIVE".to_string()),
                        (
                            "volumes_in_use".to_string(),
                            booted.volume_ids.len().to_string(),
                        ),
                        ("profile".to_string(), "matches".to_string()),
                    ]));
                }
                Health::Stopped(status) => {
                    return Err(format!(
                        "instance {name} ({}) is {status}, not ACTIVE",
                        booted.server_id
                    ));
                }
                Health::Settling => poll.wait().await?,
            }
        }
    }

    /// Watches every recovered member for `window`: each must stay ACTIVE on its volumes and
    /// ports. One found stopped (its site lost power since it booted) is started again first:
    /// running there is what the operation is for.
    pub(super) async fn stabilize(
        &self,
        site: &str,
        window: Duration,
        boot_steps: &[String],
        outputs: &Outputs,
    ) -> Result<Created, String> {
        let booted: Vec<Booted> = boot_steps
            .iter()
            .map(|step| self.booted(step, outputs))
            .collect::<Result<_, _>>()?;
        let mut restarted = Vec::new();
        for member in &booted {
            if let Health::Stopped(status) = self.health(site, member).await?
                && status == "SHUTOFF"
            {
                self.start(site, &member.server_id).await?;
                restarted.push(member.name.clone());
            }
        }
        let started = tokio::time::Instant::now();
        loop {
            for member in &booted {
                match self.health(site, member).await {
                    Ok(Health::Running(_) | Health::Settling) => {}
                    Ok(Health::Stopped(status)) => {
                        return Err(format!(
                            "instance {} ({}) on {site} became {status} {}s after recovery",
                            member.name,
                            member.server_id,
                            started.elapsed().as_secs()
                        ));
                    }
                    Err(error) => {
                        return Err(format!(
                            "{error}, {}s after recovery",
                            started.elapsed().as_secs()
                        ));
                    }
                }
            }
            let left = window.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            tokio::time::sleep(left.min(STABILIZATION_POLL)).await;
        }
        let mut created =
            Created::from([("stable_for_secs".to_string(), window.as_secs().to_string())]);
        if !restarted.is_empty() {
            created.insert("restarted".to_string(), restarted.join(","));
        }
        Ok(created)
    }

    /// How `server` differs from `profile`: flavor, key pair, zone, user metadata, tags,
    /// description, server group (and its policy), and each NIC's network, address and
    /// security groups.
    async fn differences(
        &self,
        site: &str,
        server: &nova::Server,
        profile: &Profile,
    ) -> Result<Vec<String>, String> {
        let mut differences = Vec::new();
        let flavor = match &server.flavor {
            nova::ServerFlavor::Embedded(embedded) => embedded.original_name.clone(),
            nova::ServerFlavor::Reference(reference) => {
                let flavor_id = self.flavor_id(site, &profile.flavor).await.ok();
                if flavor_id.as_deref() == Some(reference.id.as_str()) {
                    profile.flavor.clone()
                } else {
                    reference.id.clone()
                }
            }
        };
        if flavor != profile.flavor {
            differences.push(format!("flavor {flavor}, not {}", profile.flavor));
        }
        if server.key_name != profile.key_name {
            differences.push(format!(
                "key pair {:?}, not {:?}",
                server.key_name, profile.key_name
            ));
        }
        if let Some(zone) = &profile.availability_zone
            && &server.availability_zone != zone
        {
            differences.push(format!(
                "availability zone {}, not {zone}",
                server.availability_zone
            ));
        }
        for (key, value) in &profile.metadata {
            if server.metadata.get(key) != Some(value) {
                differences.push(format!("metadata {key} is not {value}"));
            }
        }
        let tags = server.tags.clone().unwrap_or_default();
        let missing: Vec<&str> = profile
            .tags
            .iter()
            .filter(|tag| !tags.contains(tag))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            differences.push(format!("no tag {}", missing.join(", ")));
        }
        let description = server.description.clone().flatten();
        if profile.description.is_some() && description != profile.description {
            differences.push(format!(
                "description {description:?}, not {:?}",
                profile.description
            ));
        }
        if let Some(group) = &profile.server_group {
            let joined = self
                .server_groups_named(site, &group.name)
                .await?
                .into_iter()
                .any(|found| {
                    found.members.contains(&server.id)
                        && found.the_policy().map(nova::ServerGroupPolicy::as_str)
                            == Some(group.policy.as_str())
                });
            if !joined {
                differences.push(format!("not in server group {}", group.describe()));
            }
        }
        let openstack = self.openstack(site).await?;
        let ports = openstack
            .network
            .ports(&[("device_id", server.id.as_str())])
            .await
            .map_err(text)?;
        let mut unmatched: Vec<&neutron::Port> = ports.iter().collect();
        for nic in &profile.nics {
            let network_id = self.network_id(site, &nic.network).await?;
            let mut wanted_groups = Vec::new();
            for group in &nic.security_groups {
                wanted_groups.push(self.security_group_id(site, group).await?);
            }
            wanted_groups.sort();
            let found = unmatched.iter().position(|port| {
                let mut groups = port.security_groups.clone().unwrap_or_default();
                groups.sort();
                port.network_id == network_id
                    && nic.fixed_ip.as_ref().is_none_or(|ip| {
                        port.fixed_ips.iter().any(|fixed| &fixed.ip_address == ip)
                    })
                    // A port asked for with no group gets the project's default one.
                    && (wanted_groups.is_empty() || groups == wanted_groups)
            });
            match found {
                Some(index) => {
                    unmatched.remove(index);
                }
                None => differences.push(format!(
                    "no port on {}{} with security groups [{}]",
                    nic.network,
                    nic.fixed_ip
                        .as_ref()
                        .map(|ip| format!(" at {ip}"))
                        .unwrap_or_default(),
                    nic.security_groups.join(", ")
                )),
            }
        }
        Ok(differences)
    }
}
