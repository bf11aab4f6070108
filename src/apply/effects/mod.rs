//! What each action does to a site, through the clients: the only code that changes sites.
//!
//! Every effect is idempotent, because a step can be interrupted at any moment and run again
//! by `apply --resume`: before creating anything it looks for what an earlier attempt of the
//! same step created and adopts it. The markers are deterministic: array volumes by their
//! planned name (which carries the operation id), Cinder volumes and Neutron ports by name plus
//! a description naming the operation and step, servers by name plus `protector_operation` /
//! `protector_step` metadata. A create whose answer was lost (a gateway's 502/503/504, a timeout,
//! a cut connection) may have happened all the same: it is looked for again before it is
//! repeated (`find_or_make`). Then the effect waits for the resource to settle (server
//! `ACTIVE`, volume `available`, transfer complete), polling with a backoff that grows with the
//! elapsed time, up to the step timeout.
//!
//! A drill's cleanup finds what the drill created by the ids its steps recorded (an array
//! volume by its id: Cinder renames what it manages), or, for a step that failed before it
//! could record one, by the same markers; its proof lists the whole site for anything still
//! tagged with the drill.
//!
//! Undo (rollback) lives here too, next to the effect it reverses.
//!
//! The runner ([`SiteRunner`]) is here: a site's clients, connected on first use, the names it
//! looks up once per run, and the dispatch from a step's action to its effect. The effects, by
//! what they act on:
//! - `nova`: instances (boot, stop, start, restore, delete) and server groups;
//! - `neutron`: ports;
//! - `cinder`: Cinder volumes (manage, unmanage, remove);
//! - `array`: array volumes (copies, destroyed and retired ones);
//! - `replication`: protection groups and replication (snapshots and their transfer, members,
//!   schedules, targets);
//! - `verify`: a recovered member runs as it did (verified once, then through a stabilization
//!   window);
//! - `cleanup`: what an operation left on a site, found by recorded id or marker, and proven
//!   gone;
//! - `wait`: waiting for a resource to settle, and looking again before a change whose answer
//!   was lost is repeated (shared by all).

mod array;
mod cinder;
mod cleanup;
mod neutron;
mod nova;
mod replication;
mod verify;
mod wait;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use self::wait::{Poll, Settled};
use super::executor::{Attempts, Created, Outputs, Runner};
use crate::clients::clouds::CloudsEnvironment;
use crate::clients::flasharray::FlashArray;
use crate::clients::http::ClientError;
use crate::clients::site::{self, OpenStack};
use crate::plan::{Action, Plan, SnapshotSource, Step};
use crate::spec::Spec;
use crate::state::DrillResourceKind;

/// How long a step may wait for what it started, unless the operator says otherwise.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A site's clients, connected on first use (a site that is down fails only its own steps).
struct SiteHandle {
    openstack: OnceCell<Result<OpenStack, String>>,
    array: OnceCell<Result<FlashArray, String>>,
    flavors: OnceCell<Result<HashMap<String, String>, String>>,
    networks: OnceCell<Result<HashMap<String, String>, String>>,
    security_groups: OnceCell<Result<HashMap<String, String>, String>>,
}

/// Performs steps of one plan against the sites of its spec.
pub struct SiteRunner<'a> {
    spec: &'a Spec,
    plan: &'a Plan,
    clouds: &'a CloudsEnvironment,
    timeout: Duration,
    step_timeout: Duration,
    sites: BTreeMap<String, SiteHandle>,
    /// Finalize: records the outcome in the state; provided by the caller, which owns the store.
    finalize: Finalize<'a>,
    settled: Settled,
    /// Sites not to act on: unreachable when the run started (a planned failover resumed after
    /// losing its source), or the source of an unplanned failover. Their steps fail at once and
    /// what they owed is recorded for `sync-force`.
    unreachable: BTreeSet<String>,
}

/// Records the operation's outcome in the state: the caller owns the store, the runner calls
/// it when the plan's finalize step runs.
pub type Finalize<'a> =
    Box<dyn Fn(&Outputs) -> futures::future::LocalBoxFuture<'a, Result<(), String>> + 'a>;

/// `protector <operation> <step>`: the description that marks what a step created.
pub fn marker(operation: &str, step: &str) -> String {
    format!("protector {operation} {step}")
}

fn text(error: ClientError) -> String {
    error.to_string()
}

impl<'a> SiteRunner<'a> {
    pub fn new(
        spec: &'a Spec,
        plan: &'a Plan,
        clouds: &'a CloudsEnvironment,
        timeout: Duration,
        step_timeout: Duration,
        finalize: Finalize<'a>,
    ) -> SiteRunner<'a> {
        let sites = spec
            .sites
            .keys()
            .map(|name| {
                (
                    name.clone(),
                    SiteHandle {
                        openstack: OnceCell::new(),
                        array: OnceCell::new(),
                        flavors: OnceCell::new(),
                        networks: OnceCell::new(),
                        security_groups: OnceCell::new(),
                    },
                )
            })
            .collect();
        SiteRunner {
            spec,
            plan,
            clouds,
            timeout,
            step_timeout,
            sites,
            finalize,
            settled: Settled::default(),
            unreachable: BTreeSet::new(),
        }
    }

    /// The same runner, acting on none of `sites`.
    pub fn leaving_out(self, sites: BTreeSet<String>) -> SiteRunner<'a> {
        SiteRunner {
            unreachable: sites,
            ..self
        }
    }

    /// A wait of `kind` for `what`, up to the step timeout.
    fn poll(&self, kind: &'static str, what: String) -> Poll<'_> {
        Poll::new(kind, what, self.step_timeout, &self.settled)
    }

    fn handle(&self, site: &str) -> Result<&SiteHandle, String> {
        self.sites
            .get(site)
            .ok_or_else(|| format!("the spec has no site `{site}`"))
    }

    async fn openstack(&self, site: &str) -> Result<&OpenStack, String> {
        self.handle(site)?
            .openstack
            .get_or_init(|| OpenStack::connect(self.spec, site, self.clouds, self.timeout))
            .await
            .as_ref()
            .map_err(|error| format!("{site}: {error}"))
    }

    async fn array(&self, site: &str) -> Result<&FlashArray, String> {
        self.handle(site)?
            .array
            .get_or_init(|| async { site::array(self.spec, site, self.timeout) })
            .await
            .as_ref()
            .map_err(|error| format!("{site}: {error}"))
    }

    async fn flavor_id(&self, site: &str, name: &str) -> Result<String, String> {
        let openstack = self.openstack(site).await?;
        let fetch = async {
            let flavors = openstack.compute.flavors().await.map_err(text)?;
            Ok(flavors.into_iter().map(|f| (f.name, f.id)).collect())
        };
        self.named(site, &self.handle(site)?.flavors, "flavor", name, fetch)
            .await
    }

    async fn network_id(&self, site: &str, name: &str) -> Result<String, String> {
        let openstack = self.openstack(site).await?;
        let fetch = async {
            let networks = openstack.network.networks().await.map_err(text)?;
            Ok(networks.into_iter().map(|n| (n.name, n.id)).collect())
        };
        self.named(site, &self.handle(site)?.networks, "network", name, fetch)
            .await
    }

    async fn security_group_id(&self, site: &str, name: &str) -> Result<String, String> {
        let openstack = self.openstack(site).await?;
        let fetch = async {
            let groups = openstack.network.security_groups().await.map_err(text)?;
            Ok(groups.into_iter().map(|g| (g.name, g.id)).collect())
        };
        let cache = &self.handle(site)?.security_groups;
        self.named(site, cache, "security group", name, fetch).await
    }

    /// The id of `what` named `name` on `site`, from a list read once per run.
    async fn named(
        &self,
        site: &str,
        cache: &OnceCell<Result<HashMap<String, String>, String>>,
        what: &str,
        name: &str,
        fetch: impl Future<Output = Result<HashMap<String, String>, String>>,
    ) -> Result<String, String> {
        cache
            .get_or_init(|| fetch)
            .await
            .as_ref()
            .map_err(Clone::clone)?
            .get(name)
            .cloned()
            .ok_or_else(|| format!("{what} `{name}` does not exist on {site}"))
    }

    fn operation(&self) -> &str {
        &self.plan.operation.id
    }

    async fn run_action(
        &self,
        step: &Step,
        outputs: &Outputs,
        attempts: &Attempts,
    ) -> Result<Created, String> {
        if let Some(site) =
            super::needs(self.spec, step).find(|site| self.unreachable.contains(*site))
        {
            return Err(format!(
                "{site} is unreachable: left for `protector protection-group sync-force FILE` once it is back"
            ));
        }
        let site = step.site.as_str();
        match &step.action {
            Action::CheckTarget => self.check_target(site).await,
            Action::StopInstance { instance_id, .. } => self.stop(site, instance_id).await,
            Action::SnapshotAndReplicate {
                protection_group,
                target_array,
                ..
            } => {
                self.snapshot_and_replicate(site, protection_group, target_array)
                    .await
            }
            Action::CopyVolume { source, volume, .. } => {
                let snapshot = match source {
                    SnapshotSource::Named { snapshot } => snapshot.clone(),
                    SnapshotSource::FromStep { step, volume } => {
                        let group_snapshot = outputs
                            .get(step, "protection_group_snapshot")
                            .ok_or_else(|| format!("step {step} recorded no snapshot"))?;
                        format!("{group_snapshot}.{volume}")
                    }
                };
                self.copy_volume(site, &snapshot, volume).await
            }
            Action::ManageVolume {
                cinder_host,
                array_volume,
                name,
                volume_type,
                bootable,
            } => {
                self.manage(
                    step,
                    cinder_host,
                    array_volume,
                    name,
                    volume_type.as_deref(),
                    *bootable,
                )
                .await
            }
            Action::CreatePort {
                network,
                fixed_ip,
                name,
                security_groups,
            } => {
                self.create_port(step, network, fixed_ip.as_deref(), name, security_groups)
                    .await
            }
            Action::BootInstance { .. } => self.boot(step, outputs, attempts).await,
            Action::CreateServerGroup { group } => self.create_server_group(site, group).await,
            Action::TierActive { .. } => Ok(Created::new()),
            Action::DeleteInstance {
                instance_id,
                port_ids,
                ..
            } => {
                self.delete_server(site, instance_id).await?;
                self.delete_ports(site, port_ids).await?;
                Ok(Created::new())
            }
            Action::UnmanageVolume { volume_id, .. } => {
                self.unmanage(site, volume_id).await?;
                Ok(Created::new())
            }
            Action::ConfigureReplication {
                protection_group,
                volumes_from_steps,
                volumes: adopted,
                target_array,
                ..
            } => {
                let mut volumes = adopted.clone();
                for manage in volumes_from_steps {
                    volumes.push(
                        outputs
                            .get(manage, "array_volume")
                            .ok_or_else(|| format!("step {manage} recorded no array volume"))?,
                    );
                }
                self.configure_replication(site, protection_group, &volumes, target_array)
                    .await
            }
            Action::Finalize => {
                (self.finalize)(outputs).await?;
                Ok(Created::new())
            }
            Action::CreateProtectionGroup {
                protection_group, ..
            } => {
                self.ensure_group(site, protection_group).await?;
                Ok(Created::from([(
                    "protection_group".to_string(),
                    protection_group.clone(),
                )]))
            }
            Action::AddVolumesToGroup {
                protection_group,
                volumes,
                ..
            } => {
                self.add_volumes(site, protection_group, volumes).await?;
                Ok(Created::new())
            }
            Action::SetReplicationSchedule {
                protection_group,
                frequency_ms,
                ..
            } => {
                self.set_schedule(site, protection_group, *frequency_ms)
                    .await?;
                Ok(Created::new())
            }
            Action::AddTarget {
                protection_group,
                target_array,
                ..
            } => {
                self.add_target(site, protection_group, target_array)
                    .await?;
                Ok(Created::new())
            }
            Action::AllowTarget {
                protection_group, ..
            } => {
                self.allow(site, protection_group).await?;
                Ok(Created::new())
            }
            Action::VerifyInstance {
                name,
                boot_step,
                profile,
            } => self.verify(site, name, boot_step, profile, outputs).await,
            Action::RetireVolumes {
                protection_group,
                volumes,
                disable_replication,
                ..
            } => {
                self.retire(site, protection_group, volumes, *disable_replication)
                    .await
            }
            Action::DestroyRetiredVolumes {
                volumes, eradicate, ..
            } => self.destroy_retired(site, volumes, *eradicate).await,
            Action::Stabilize {
                seconds,
                boot_steps,
            } => {
                self.stabilize(site, Duration::from_secs(*seconds), boot_steps, outputs)
                    .await
            }
            Action::RemoveInstance { name, server } => {
                let kind = DrillResourceKind::Server;
                for id in self.find_ids(site, kind, name, server, outputs).await? {
                    self.delete_server(site, &id).await?;
                }
                Ok(Created::new())
            }
            Action::RemoveServerGroup { name, server_group } => {
                let kind = DrillResourceKind::ServerGroup;
                let openstack = self.openstack(site).await?;
                for id in self
                    .find_ids(site, kind, name, server_group, outputs)
                    .await?
                {
                    openstack
                        .compute
                        .delete_server_group(&id)
                        .await
                        .map_err(text)?;
                }
                Ok(Created::new())
            }
            Action::RemovePort { name, port } => {
                let kind = DrillResourceKind::Port;
                let ids = self.find_ids(site, kind, name, port, outputs).await?;
                self.delete_ports(site, &ids).await?;
                Ok(Created::new())
            }
            Action::RemoveVolume { name, volume } => {
                let kind = DrillResourceKind::CinderVolume;
                for id in self.find_ids(site, kind, name, volume, outputs).await? {
                    self.remove_volume(site, &id).await?;
                }
                Ok(Created::new())
            }
            Action::RemoveArrayVolume {
                volume,
                array_volume,
                protection_group,
                ..
            } => {
                let kind = DrillResourceKind::ArrayVolume;
                for id in self
                    .find_ids(site, kind, volume, array_volume, outputs)
                    .await?
                {
                    if let Some(group) = protection_group {
                        self.leave_group(site, group, &id).await?;
                    }
                    self.destroy_volume(site, "ids", &id).await?;
                }
                Ok(Created::new())
            }
            Action::StopRecovered { name, server } => {
                let kind = DrillResourceKind::Server;
                let mut stopped = Vec::new();
                for id in self.find_ids(site, kind, name, server, outputs).await? {
                    if self.quiesce(site, &id).await? {
                        stopped.push(id);
                    }
                }
                Ok(Created::from([("stopped".to_string(), stopped.join(","))]))
            }
            Action::RestoreInstance {
                instance_id,
                name,
                volume_ids,
                fixed_ips,
            } => {
                self.restore(site, instance_id, name, volume_ids, fixed_ips)
                    .await
            }
            Action::ProveRolledBack {
                operation,
                source,
                members,
                array_volumes,
            } => {
                self.prove_rolled_back(site, operation, source, members, array_volumes, outputs)
                    .await
            }
            Action::ProveDrillClean {
                drill,
                prefix,
                array_volumes,
            } => {
                self.prove_clean(site, drill, prefix, array_volumes, outputs)
                    .await
            }
        }
    }

    /// Reverses a done step of a rollback that could not bring the source back, before it
    /// removed anything: what it stopped on the target runs again, what it started on the
    /// source stops again (in that order: the executor reverses the dependencies). Other steps
    /// change nothing that needs reversing.
    pub async fn compensate(&self, step: &Step, outputs: &Outputs) -> Result<(), String> {
        let site = step.site.as_str();
        match &step.action {
            Action::StopRecovered { .. } => {
                let stopped = outputs.get(&step.id, "stopped").unwrap_or_default();
                for id in stopped.split(',').filter(|id| !id.is_empty()) {
                    self.start(site, id).await?;
                }
                Ok(())
            }
            Action::RestoreInstance { instance_id, .. }
                if outputs.get(&step.id, "started").as_deref() == Some("true") =>
            {
                self.stop(site, instance_id).await.map(drop)
            }
            _ => Ok(()),
        }
    }
}

impl SiteRunner<'_> {
    /// Runs `work` for one step: its calls wait for a rate-limited service until the step's
    /// deadline.
    pub async fn within_step_deadline<T>(&self, work: impl Future<Output = T>) -> T {
        crate::clients::http::DEADLINE
            .scope(Instant::now() + self.step_timeout, work)
            .await
    }
}

impl Runner for SiteRunner<'_> {
    async fn run(
        &self,
        step: &Step,
        outputs: &Outputs,
        attempts: &Attempts,
    ) -> Result<Created, String> {
        self.within_step_deadline(self.run_action(step, outputs, attempts))
            .await
    }
}
