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

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use reqwest::Method;
use serde_json::json;
use tokio::sync::OnceCell;

use super::executor::{Attempts, Created, Outputs, Runner};
use crate::clients::cinder::model as cinder;
use crate::clients::clouds::CloudsEnvironment;
use crate::clients::flasharray::FlashArray;
use crate::clients::flasharray::model as fa;
use crate::clients::http::{ClientError, ErrorKind, RetryPolicy};
use crate::clients::neutron::model as neutron;
use crate::clients::nova::model as nova;
use crate::clients::site::{self, OpenStack};
use crate::plan::{Action, Plan, Profile, ResourceRef, SnapshotSource, Step};
use crate::spec::Spec;
use crate::state::DrillResourceKind;

/// Volumes named in one call that adds members to a protection group (a URL stays well under
/// 8 KiB).
const MEMBERS_PER_CALL: usize = 100;

/// Boots of one instance a step tries before it fails, when Nova could not place it.
const BOOT_ATTEMPTS: usize = 3;

/// The pause before the second boot of an instance Nova could not place; doubled for each one
/// after. Long enough for a scheduler race or a busy Placement to pass.
const BOOT_RETRY_PAUSE: Duration = Duration::from_secs(1);

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

/// Where a cleanup finds a resource: its id, or the marker of the step that created it.
enum Found<'r> {
    Id(String),
    Marker { operation: &'r str, step: &'r str },
}

/// The id `reference` names (recorded by a step of this plan or an earlier operation), or the
/// marker to look for.
fn locate<'r>(
    reference: &'r ResourceRef,
    kind: DrillResourceKind,
    outputs: &Outputs,
) -> Result<Found<'r>, String> {
    match reference {
        ResourceRef::Step { step } => outputs
            .get(step, kind.output())
            .map(Found::Id)
            .ok_or_else(|| format!("step {step} recorded no {}", kind.output())),
        ResourceRef::Recorded { id } => Ok(Found::Id(id.clone())),
        ResourceRef::Marker { operation, step } => Ok(Found::Marker { operation, step }),
    }
}

fn text(error: ClientError) -> String {
    error.to_string()
}

/// Whether a failed change may have happened all the same: a gateway that gave up (502, 503,
/// 504), or a call that timed out or was cut off, may have let the service do the work.
fn may_have_happened(error: &ClientError) -> bool {
    matches!(error.status, Some(502..=504))
        || matches!(error.kind, ErrorKind::Timeout | ErrorKind::Unreachable)
}

/// Changes of one step whose answer was lost, counted so a service that keeps failing fails
/// the step after as many tries as the HTTP layer makes.
#[derive(Default)]
struct LostAnswers {
    count: u32,
}

impl LostAnswers {
    /// After a change failed: `Ok`, after a pause, when it may have happened all the same (the
    /// caller looks at the site again before repeating it); the error otherwise.
    async fn pause_or_fail(&mut self, error: ClientError) -> Result<(), String> {
        let policy = RetryPolicy::default();
        if !may_have_happened(&error) || self.count + 1 >= policy.attempts {
            return Err(text(error));
        }
        tracing::info!(%error, "the answer was lost; looking before trying again");
        tokio::time::sleep(policy.pause(self.count, &error.request_id)).await;
        self.count += 1;
        Ok(())
    }
}

/// What `find` finds (an earlier attempt made it), else what `make` makes; when the answer to
/// `make` is lost, `find` looks again before `make` is repeated.
async fn find_or_make<T>(
    find: impl AsyncFn() -> Result<Option<T>, String>,
    make: impl AsyncFn() -> Result<T, ClientError>,
) -> Result<T, String> {
    let mut lost = LostAnswers::default();
    loop {
        if let Some(found) = find().await? {
            return Ok(found);
        }
        match make().await {
            Ok(made) => return Ok(made),
            Err(error) => lost.pause_or_fail(error).await?,
        }
    }
}

/// For each kind of wait (`boot`, `manage`, ...), the shortest one of this run that had to poll:
/// how soon the next one can be expected to settle.
#[derive(Debug, Default)]
struct Settled(Mutex<HashMap<&'static str, Duration>>);

impl Settled {
    fn expected(&self, kind: &str) -> Option<Duration> {
        self.lock().get(kind).copied()
    }

    fn record(&self, kind: &'static str, took: Duration) {
        let mut shortest = self.lock();
        let entry = shortest.entry(kind).or_insert(took);
        *entry = (*entry).min(took);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, Duration>> {
        // A map of durations is never left half-written.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Polls until a deadline, sleeping a tenth of the time waited so far (50 ms to 2 s): quick for
/// fast transitions, gentle on the APIs for slow ones, never more than ~10% late. Once a wait of
/// the same kind has settled in this run, the next ones also look every 1% of the time it took
/// (5 ms to 2 s) from 90% to 110% of it: about 1% late instead of up to 10% when they take as
/// long, which waves of a thousand boots add up along the critical path.
struct Poll<'a> {
    started: Instant,
    deadline: Instant,
    what: String,
    kind: &'static str,
    settled: &'a Settled,
    expected: Option<Duration>,
    paused: Cell<bool>,
}

impl<'a> Poll<'a> {
    fn new(
        kind: &'static str,
        what: impl Into<String>,
        timeout: Duration,
        settled: &'a Settled,
    ) -> Poll<'a> {
        let started = Instant::now();
        Poll {
            started,
            deadline: started + timeout,
            what: what.into(),
            kind,
            settled,
            expected: settled.expected(kind),
            paused: Cell::new(false),
        }
    }

    async fn wait(&self) -> Result<(), String> {
        let now = Instant::now();
        if now >= self.deadline {
            return Err(format!(
                "timed out after {}s waiting for {}",
                (now - self.started).as_secs(),
                self.what
            ));
        }
        let waited = now - self.started;
        let backoff = (waited / 10).clamp(Duration::from_millis(50), Duration::from_secs(2));
        let pause = match self.expected {
            Some(expected) if waited < expected.mul_f64(0.9) => {
                backoff.min(expected.mul_f64(0.9) - waited)
            }
            Some(expected) if waited < expected.mul_f64(1.1) => {
                (expected / 100).clamp(Duration::from_millis(5), Duration::from_secs(2))
            }
            _ => backoff,
        };
        self.paused.set(true);
        tokio::time::sleep(pause.min(self.deadline - now)).await;
        Ok(())
    }

    /// What was waited for is there: a wait that had to poll teaches the next ones of its kind.
    fn settled(&self) {
        if self.paused.get() {
            self.settled.record(self.kind, self.started.elapsed());
        }
    }
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

    /// The suffix of the protection-group snapshot this operation takes: unique per operation,
    /// so a resumed run finds the one it already took.
    fn snapshot_suffix(&self) -> String {
        let short: String = self
            .operation()
            .trim_start_matches("op-")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect();
        format!("protector-{short}")
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

    // ------------------------------------------------------------------------ OpenStack

    /// The flavors and networks the plan boots with still exist on the target.
    async fn check_target(&self, site: &str) -> Result<Created, String> {
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

    async fn server(&self, site: &str, id: &str) -> Result<Option<nova::Server>, String> {
        let openstack = self.openstack(site).await?;
        openstack.compute.server(id).await.map_err(text)
    }

    async fn stop(&self, site: &str, id: &str) -> Result<Created, String> {
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

    async fn start(&self, site: &str, id: &str) -> Result<(), String> {
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
    async fn quiesce(&self, site: &str, id: &str) -> Result<bool, String> {
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
    async fn restore(
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

    async fn boot(
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
    async fn server_groups_named(
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
    async fn create_server_group(
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
    async fn marked_servers(
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

    /// Ports named `name` whose description is `marker`.
    async fn marked_ports(
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

    /// Cinder volumes named `name` whose description is `marker`.
    async fn marked_volumes(
        &self,
        site: &str,
        name: &str,
        marker: &str,
    ) -> Result<Vec<cinder::Volume>, String> {
        let openstack = self.openstack(site).await?;
        Ok(openstack
            .block
            .volumes(&[("name", name)])
            .await
            .map_err(text)?
            .into_iter()
            .filter(|volume| volume.description.as_deref() == Some(marker))
            .collect())
    }

    /// The ids of the `kind` resource named `name` that `reference` designates: the one
    /// recorded, or those its creating step's marker finds (an array volume by the name it was
    /// created with: a copy that recorded no id failed before Cinder could rename it, since its
    /// manage waits for it).
    async fn find_ids(
        &self,
        site: &str,
        kind: DrillResourceKind,
        name: &str,
        reference: &ResourceRef,
        outputs: &Outputs,
    ) -> Result<Vec<String>, String> {
        let (operation, step) = match locate(reference, kind, outputs)? {
            Found::Id(id) => return Ok(vec![id]),
            Found::Marker { operation, step } => (operation, step),
        };
        let marker = marker(operation, step);
        Ok(match kind {
            DrillResourceKind::Server => self
                .marked_servers(site, name, operation, step)
                .await?
                .into_iter()
                .map(|server| server.id)
                .collect(),
            DrillResourceKind::Port => self
                .marked_ports(site, name, &marker)
                .await?
                .into_iter()
                .map(|port| port.id)
                .collect(),
            DrillResourceKind::CinderVolume => self
                .marked_volumes(site, name, &marker)
                .await?
                .into_iter()
                .map(|volume| volume.id)
                .collect(),
            DrillResourceKind::ArrayVolume => self
                .array_volume(site, "names", name)
                .await?
                .and_then(|volume| volume.id)
                .into_iter()
                .collect(),
            // No marker fits in a server group: its name is what its step made it with.
            DrillResourceKind::ServerGroup => self
                .server_groups_named(site, name)
                .await?
                .into_iter()
                .map(|group| group.id)
                .collect(),
        })
    }

    /// A drill instance runs as the workload would: ACTIVE, each volume it booted with
    /// `in-use` and attached to it. Waits while a transition settles, fails on anything else.
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

    /// Whether volume `volume_id` is `in-use` by server `server_id` of `name` (`false`: still
    /// attaching); any other state is an error that says which.
    async fn in_use_by(
        &self,
        site: &str,
        volume_id: &str,
        server_id: &str,
        name: &str,
    ) -> Result<bool, String> {
        let volume = self
            .openstack(site)
            .await?
            .block
            .volume(volume_id)
            .await
            .map_err(text)?
            .ok_or_else(|| format!("volume {volume_id} of {name} no longer exists on {site}"))?;
        let attached = volume
            .attachments
            .iter()
            .any(|a| a.server_id.as_deref() == Some(server_id));
        match volume.status.as_str() {
            "in-use" if attached => Ok(true),
            "attaching" | "reserved" => Ok(false),
            status => Err(format!(
                "volume {} ({volume_id}) of {name} is `{status}`{} on {site}",
                volume.name.as_deref().unwrap_or_default(),
                if attached { "" } else { ", not attached to it" }
            )),
        }
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

    async fn verify(
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
    async fn stabilize(
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

    /// Lists the site's servers, Cinder volumes, ports and array volumes, and fails naming
    /// every one still tagged with drill `drill`: named with its prefix, carrying its marker
    /// (Nova and Cinder metadata, descriptions), or one of its array volumes (by id: Cinder
    /// renamed them). Its drill's array volumes found destroyed are not left: the array
    /// eradicates them. What it listed is what it returns.
    async fn prove_clean(
        &self,
        site: &str,
        drill: &str,
        prefix: &str,
        array_volumes: &[ResourceRef],
        outputs: &Outputs,
    ) -> Result<Created, String> {
        let mut ids = BTreeSet::new();
        for reference in array_volumes {
            if let Found::Id(id) = locate(reference, DrillResourceKind::ArrayVolume, outputs)? {
                ids.insert(id);
            }
        }
        let found = self
            .leftovers(
                site,
                &Owner {
                    operation: drill,
                    prefix: Some(prefix),
                    array_ids: ids,
                    array_names: BTreeSet::new(),
                },
            )
            .await?;
        if !found.left.is_empty() {
            return Err(format!(
                "{} of drill {drill} still on {site}: {}; `protector drill cleanup {drill}` removes what the drill recorded",
                found.left.len(),
                found.left.join(", ")
            ));
        }
        Ok(found.proof())
    }

    /// The rollback of `operation` left nothing of it on this site (see [`Self::leftovers`]),
    /// and each member runs on `source` on the instance it had before.
    async fn prove_rolled_back(
        &self,
        site: &str,
        operation: &str,
        source: &str,
        members: &BTreeMap<String, String>,
        array_volumes: &[(String, ResourceRef)],
        outputs: &Outputs,
    ) -> Result<Created, String> {
        let (mut array_ids, mut array_names) = (BTreeSet::new(), BTreeSet::new());
        for (name, reference) in array_volumes {
            match locate(reference, DrillResourceKind::ArrayVolume, outputs)? {
                Found::Id(id) => array_ids.insert(id),
                Found::Marker { .. } => array_names.insert(name.clone()),
            };
        }
        let found = self
            .leftovers(
                site,
                &Owner {
                    operation,
                    prefix: None,
                    array_ids,
                    array_names,
                },
            )
            .await?;
        let mut wrong = found.left.clone();
        for (member, id) in members {
            match self.server(source, id).await? {
                Some(server) if server.status == "ACTIVE" && server.task_state.is_none() => {}
                Some(server) => wrong.push(format!(
                    "{member} ({id}) is {} on {source}, not ACTIVE",
                    server.status
                )),
                None => wrong.push(format!("{member} ({id}) is gone from {source}")),
            }
        }
        if !wrong.is_empty() {
            return Err(format!(
                "the rollback of {operation} is not complete: {}",
                wrong.join(", ")
            ));
        }
        Ok(found.proof())
    }

    /// Lists the site's servers, Cinder volumes, ports and array volumes: what of `owner` is
    /// still there (named with its prefix, carrying its marker in Nova and Cinder metadata or
    /// descriptions, or one of its array volumes), and what was listed. Its array volumes found
    /// destroyed are not left: the array eradicates them.
    async fn leftovers(&self, site: &str, owner: &Owner<'_>) -> Result<Leftovers, String> {
        let openstack = self.openstack(site).await?;
        let operation = owner.operation;
        let named = |name: &str| owner.prefix.is_some_and(|prefix| name.starts_with(prefix));
        let marked = |description: Option<&str>| {
            description.is_some_and(|d| d.starts_with(&format!("protector {operation} ")))
        };
        let tagged = |metadata: &BTreeMap<String, String>| {
            metadata.get("protector_operation").map(String::as_str) == Some(operation)
        };
        let mut left = Vec::new();
        let servers = openstack.compute.servers(&[]).await.map_err(text)?;
        for server in &servers {
            if named(&server.name) || tagged(&server.metadata) {
                left.push(format!("server {} ({})", server.name, server.id));
            }
        }
        let volumes = openstack.block.volumes(&[]).await.map_err(text)?;
        for volume in &volumes {
            let name = volume.name.as_deref().unwrap_or_default();
            if named(name) || tagged(&volume.metadata) || marked(volume.description.as_deref()) {
                left.push(format!("Cinder volume {name} ({})", volume.id));
            }
        }
        let ports = openstack.network.ports(&[]).await.map_err(text)?;
        for port in &ports {
            if named(&port.name) || marked(port.description.as_deref()) {
                left.push(format!("port {} ({})", port.name, port.id));
            }
        }
        let groups = openstack.compute.server_groups().await.map_err(text)?;
        for group in &groups {
            if named(&group.name) {
                left.push(format!("server group {} ({})", group.name, group.id));
            }
        }
        let on_array: Vec<fa::Volume> = self
            .array(site)
            .await?
            .list("volumes", &[])
            .await
            .map_err(text)?;
        let mut destroyed = Vec::new();
        for volume in &on_array {
            let name = volume.name.clone().unwrap_or_default();
            let ours = named(&name)
                || owner.array_names.contains(&name)
                || volume
                    .id
                    .as_ref()
                    .is_some_and(|id| owner.array_ids.contains(id));
            match (ours, volume.destroyed == Some(true)) {
                (true, true) => destroyed.push(name),
                (true, false) => left.push(format!("array volume {name}")),
                (false, _) => {}
            }
        }
        Ok(Leftovers {
            left,
            listed: [
                ("servers", servers.len()),
                ("cinder_volumes", volumes.len()),
                ("ports", ports.len()),
                ("server_groups", groups.len()),
                ("array_volumes", on_array.len()),
            ],
            destroyed,
        })
    }

    async fn delete_server(&self, site: &str, id: &str) -> Result<(), String> {
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

    async fn delete_ports(&self, site: &str, ids: &[String]) -> Result<(), String> {
        let openstack = self.openstack(site).await?;
        for id in ids {
            openstack.network.delete_port(id).await.map_err(text)?;
        }
        Ok(())
    }

    async fn create_port(
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

    async fn manage(
        &self,
        step: &Step,
        host: &str,
        array_volume: &str,
        name: &str,
        volume_type: Option<&str>,
        bootable: bool,
    ) -> Result<Created, String> {
        let site = step.site.as_str();
        let openstack = self.openstack(site).await?;
        let marker = marker(self.operation(), &step.id);
        let request = cinder::VolumeManageRequest {
            volume: cinder::VolumeManage {
                host: Some(host.to_string()),
                cluster: None,
                // Both keys: Cinder 29's Pure driver reads `source-name`, older ones `name`
                // (see VolumeReference).
                reference: cinder::VolumeReference::array_volume(array_volume),
                name: Some(name.to_string()),
                description: Some(marker.clone()),
                availability_zone: None,
                volume_type: volume_type.map(str::to_string),
                bootable: Some(bootable),
                metadata: None,
            },
        };
        let id = find_or_make(
            async || {
                let found = self.marked_volumes(site, name, &marker).await?;
                Ok(found
                    .into_iter()
                    .find(|volume| !volume.status.starts_with("error"))
                    .map(|volume| volume.id))
            },
            async || Ok(openstack.block.manage(&request).await?.id),
        )
        .await?;
        let poll = self.poll("manage", format!("volume {name} to be managed"));
        let volume = loop {
            let volume = openstack
                .block
                .volume(&id)
                .await
                .map_err(text)?
                .ok_or_else(|| format!("volume {name} ({id}) vanished while being managed"))?;
            match volume.status.as_str() {
                "available" => {
                    poll.settled();
                    break volume;
                }
                status if status.starts_with("error") => {
                    // Cinder keeps the record of a failed manage (`error_managing`, shown as
                    // `error`), and a rollback only undoes completed steps: remove it here, so
                    // that the failed step leaves nothing behind. Delete, not unmanage: Cinder
                    // deletes only the record of a failed manage (the array volume it named
                    // stays for a retry), while the Pure driver's unmanage of it fails and
                    // leaves it in `error_unmanaging` for good.
                    let error = format!(
                        "Cinder on {site} could not manage array volume {array_volume}: volume {id} is `{status}`"
                    );
                    return Err(match self.forget_failed_manage(site, &id).await {
                        Ok(()) => format!("{error} (its record was removed)"),
                        Err(cleanup) => {
                            format!("{error}; removing its record failed too: {cleanup}")
                        }
                    });
                }
                _ => poll.wait().await?,
            }
        };
        // Managing replaces the volume's metadata with the driver's: tag it afterwards.
        let tags = BTreeMap::from([
            (
                "protector_operation".to_string(),
                self.operation().to_string(),
            ),
            ("protector_step".to_string(), step.id.clone()),
        ]);
        openstack
            .block
            .merge_metadata(&id, &tags)
            .await
            .map_err(text)?;
        let renamed = volume
            .metadata
            .get("array_volume_name")
            .cloned()
            .unwrap_or_else(|| array_volume.to_string());
        Ok(Created::from([
            ("cinder_volume".to_string(), id),
            ("array_volume".to_string(), renamed),
        ]))
    }

    /// Deletes the record a failed manage left and waits until Cinder has forgotten it.
    async fn forget_failed_manage(&self, site: &str, id: &str) -> Result<(), String> {
        let openstack = self.openstack(site).await?;
        openstack.block.delete_volume(id).await.map_err(text)?;
        let poll = self.poll("delete", format!("the record of volume {id} to go"));
        loop {
            match openstack.block.volume(id).await.map_err(text)? {
                None => {
                    poll.settled();
                    return Ok(());
                }
                Some(volume) if volume.status == "error_deleting" => {
                    return Err(format!("volume {id} is `error_deleting`"));
                }
                Some(_) => poll.wait().await?,
            }
        }
    }

    /// Makes Cinder forget a volume an operation managed: unmanaged (the array keeps the data),
    /// or, for the record a failed manage left, deleted (Cinder drops only the record of a
    /// volume it never managed, and its Pure driver cannot unmanage one).
    async fn remove_volume(&self, site: &str, id: &str) -> Result<(), String> {
        let openstack = self.openstack(site).await?;
        match openstack.block.volume(id).await.map_err(text)? {
            None => Ok(()),
            Some(volume) if matches!(volume.status.as_str(), "error" | "error_managing") => {
                self.forget_failed_manage(site, id).await
            }
            Some(_) => self.unmanage(site, id).await,
        }
    }

    async fn unmanage(&self, site: &str, id: &str) -> Result<(), String> {
        let openstack = self.openstack(site).await?;
        let poll = self.poll("unmanage", format!("volume {id} to be unmanaged"));
        let (mut asked, mut lost) = (false, LostAnswers::default());
        loop {
            let Some(volume) = openstack.block.volume(id).await.map_err(text)? else {
                poll.settled();
                return Ok(());
            };
            match volume.status.as_str() {
                // A volume still detaching from a deleted server settles first.
                "available" | "error" | "error_managing" if !asked => {
                    match openstack.block.unmanage(id).await {
                        Ok(()) => asked = true,
                        // The next look tells whether it is going.
                        Err(error) => lost.pause_or_fail(error).await?,
                    }
                }
                // The driver failed: Cinder leaves it so, waiting would never end.
                status @ ("error_unmanaging" | "error_deleting") if asked => {
                    return Err(format!(
                        "Cinder could not unmanage volume {id}: it is `{status}`"
                    ));
                }
                _ => {}
            }
            poll.wait().await?;
        }
    }

    // ------------------------------------------------------------------------ FlashArray

    /// A change that is safe to repeat, so the HTTP layer retries it when its answer is lost: a
    /// PATCH, or a create whose "already exists" answer means done ([`Self::array_ensure`]).
    async fn array_call(
        &self,
        site: &str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(), String> {
        self.array(site)
            .await?
            .call(method, path, body, true)
            .await
            .map(drop)
            .map_err(text)
    }

    /// A call whose "already there" answer means the work is done (a resumed step).
    async fn array_ensure(
        &self,
        site: &str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(), String> {
        match self.array_call(site, method, path, body).await {
            Err(error) if error.contains("already") => Ok(()),
            other => other,
        }
    }

    async fn snapshot_and_replicate(
        &self,
        site: &str,
        protection_group: &str,
        target_array: &str,
    ) -> Result<Created, String> {
        let source = self.array(site).await?;
        let suffix = self.snapshot_suffix();
        let name = format!("{protection_group}.{suffix}");
        find_or_make(
            async || {
                let taken: Vec<fa::ProtectionGroupSnapshot> =
                    found(source.list("protection-group-snapshots", &[("names", &name)]).await)?;
                Ok((!taken.is_empty()).then_some(()))
            },
            async || {
                source
                    .call(
                        Method::POST,
                        &format!(
                            "protection-group-snapshots?source_names={protection_group}&replicate_now=true"
                        ),
                        Some(json!({ "suffix": suffix })),
                        false,
                    )
                    .await
                    .map(drop)
            },
        )
        .await?;
        let replicated = format!("{}:{name}", source.name);
        let target_site = self.site_of_array(target_array)?;
        let target = self.array(&target_site).await?;
        let poll = self.poll(
            "transfer",
            format!("snapshot {replicated} to reach {}", target.name),
        );
        loop {
            let transfers: Vec<fa::SnapshotTransfer> = found(
                target
                    .list(
                        "protection-group-snapshots/transfer",
                        &[("names", replicated.as_str())],
                    )
                    .await,
            )?;
            if transfers
                .iter()
                .any(|t| t.completed.is_some() || t.progress.unwrap_or(0.0) >= 1.0)
            {
                break;
            }
            // A transfer whose source is lost never ends: say so now rather than at the step's
            // timeout, so that the way forward (an unplanned failover) is taken in time.
            if let Err(error) = source
                .list::<fa::ProtectionGroupSnapshot>(
                    "protection-group-snapshots",
                    &[("names", name.as_str())],
                )
                .await
                && matches!(error.kind, ErrorKind::Unreachable | ErrorKind::Timeout)
            {
                return Err(format!(
                    "the array of {site} became unreachable while {replicated} was on its way to {}: {error}",
                    target.name
                ));
            }
            poll.wait().await?;
        }
        poll.settled();
        Ok(Created::from([(
            "protection_group_snapshot".to_string(),
            replicated,
        )]))
    }

    /// The spec's site whose FlashArray is `array`.
    fn site_of_array(&self, array: &str) -> Result<String, String> {
        self.spec
            .sites
            .iter()
            .find(|(_, site)| site.flasharray.array_name == array)
            .map(|(name, _)| name.clone())
            .ok_or_else(|| format!("no site of the spec has array {array}"))
    }

    /// The array volume whose `key` (`names` or `ids`) is `value`, unless destroyed.
    async fn array_volume(
        &self,
        site: &str,
        key: &str,
        value: &str,
    ) -> Result<Option<fa::Volume>, String> {
        let volumes: Vec<fa::Volume> = match self
            .array(site)
            .await?
            .list("volumes", &[(key, value)])
            .await
        {
            Ok(found) => found,
            Err(error) if error.message.contains("does not exist") => Vec::new(),
            Err(error) => return Err(text(error)),
        };
        Ok(volumes.into_iter().find(|v| v.destroyed != Some(true)))
    }

    async fn copy_volume(
        &self,
        site: &str,
        snapshot: &str,
        volume: &str,
    ) -> Result<Created, String> {
        let array = self.array(site).await?;
        let find = async || {
            self.array_volume(site, "names", volume)
                .await
                .map(|found| found.and_then(|v| v.id))
        };
        find_or_make(
            async || Ok(find().await?.map(drop)),
            async || {
                array
                    .call(
                        Method::POST,
                        &format!("volumes?names={volume}"),
                        Some(json!({ "source": { "name": snapshot } })),
                        false,
                    )
                    .await
                    .map(drop)
            },
        )
        .await?;
        // The id too: Cinder renames the volumes it manages, and a cleanup must still find it.
        let id = find().await?.ok_or_else(|| {
            format!("array volume {volume} is not on the array of {site} after its copy")
        })?;
        Ok(Created::from([
            ("array_volume".to_string(), volume.to_string()),
            ("array_volume_id".to_string(), id),
        ]))
    }

    /// Destroys (recoverably: the array keeps it for its eradication delay) the array volume
    /// whose `key` (`names` or `ids`) is `value`, which this operation or the drill it cleans
    /// up created.
    async fn destroy_volume(&self, site: &str, key: &str, value: &str) -> Result<(), String> {
        if self.array_volume(site, key, value).await?.is_none() {
            return Ok(());
        }
        self.array_call(
            site,
            Method::PATCH,
            &format!("volumes?{key}={value}"),
            Some(json!({ "destroyed": true })),
        )
        .await
    }

    /// Takes the array volume with id `id` out of protection group `group`, if it is in it: a
    /// volume about to be destroyed must not stay a member that replicates.
    async fn leave_group(&self, site: &str, group: &str, id: &str) -> Result<(), String> {
        let Some(name) = self
            .array_volume(site, "ids", id)
            .await?
            .and_then(|v| v.name)
        else {
            return Ok(());
        };
        let members = match self.array(site).await?.group_volumes(group).await {
            Ok(members) => members,
            Err(error) if error.message.contains("does not exist") => return Ok(()),
            Err(error) => return Err(text(error)),
        };
        if !members.contains(&name) {
            return Ok(());
        }
        self.array_call(
            site,
            Method::DELETE,
            &format!("protection-groups/volumes?group_names={group}&member_names={name}"),
            None,
        )
        .await
    }

    async fn ensure_group(&self, site: &str, group: &str) -> Result<(), String> {
        self.array_ensure(
            site,
            Method::POST,
            &format!("protection-groups?names={group}"),
            None,
        )
        .await
    }

    /// Adds the volumes that are not members yet, many per call (one call per volume kept a
    /// 1,500-volume group busy for minutes), then checks that all are.
    async fn add_volumes(&self, site: &str, group: &str, volumes: &[String]) -> Result<(), String> {
        let array = self.array(site).await?;
        let missing = async || -> Result<Vec<&String>, String> {
            let members: BTreeSet<String> = array
                .group_volumes(group)
                .await
                .map_err(text)?
                .into_iter()
                .collect();
            Ok(volumes.iter().filter(|v| !members.contains(*v)).collect())
        };
        for batch in missing().await?.chunks(MEMBERS_PER_CALL) {
            let names: Vec<&str> = batch.iter().map(|v| v.as_str()).collect();
            self.array_ensure(
                site,
                Method::POST,
                &format!(
                    "protection-groups/volumes?group_names={group}&member_names={}",
                    names.join(",")
                ),
                None,
            )
            .await?;
        }
        match missing().await?.as_slice() {
            [] => Ok(()),
            left => Err(format!(
                "{} volumes are still not members of protection group {group} on {site} after adding them, {} first",
                left.len(),
                left[0]
            )),
        }
    }

    async fn set_schedule(&self, site: &str, group: &str, frequency_ms: u64) -> Result<(), String> {
        self.array_call(
            site,
            Method::PATCH,
            &format!("protection-groups?names={group}"),
            Some(json!({
                "replication_schedule": { "enabled": true, "frequency": frequency_ms }
            })),
        )
        .await
    }

    /// Takes `volumes` out of `group` (those still in it: a continued step finds fewer), then
    /// stops the group's schedule when asked.
    async fn retire(
        &self,
        site: &str,
        group: &str,
        volumes: &[String],
        disable_replication: bool,
    ) -> Result<Created, String> {
        let array = self.array(site).await?;
        let members: BTreeSet<String> = array
            .group_volumes(group)
            .await
            .map_err(text)?
            .into_iter()
            .collect();
        let leaving: Vec<&str> = volumes
            .iter()
            .filter(|volume| members.contains(*volume))
            .map(String::as_str)
            .collect();
        for batch in leaving.chunks(MEMBERS_PER_CALL) {
            let path = format!(
                "protection-groups/volumes?group_names={group}&member_names={}",
                batch.join(",")
            );
            match array.call(Method::DELETE, &path, None, true).await {
                Ok(_) => {}
                // A lost answer retried: it is out already.
                Err(error) if error.message.contains("not a member") => {}
                Err(error) => return Err(text(error)),
            }
        }
        if disable_replication {
            self.array_call(
                site,
                Method::PATCH,
                &format!("protection-groups?names={group}"),
                Some(json!({ "replication_schedule": { "enabled": false } })),
            )
            .await?;
        }
        Ok(Created::from([("retired".to_string(), leaving.join(","))]))
    }

    /// Destroys (and with `eradicate`, eradicates) each retired volume that is still retired:
    /// there under its name, connected to no host, in no protection group. One that is not is
    /// left, never destroyed: named in what the step records (`kept`), and why in the log.
    async fn destroy_retired(
        &self,
        site: &str,
        volumes: &[String],
        eradicate: bool,
    ) -> Result<Created, String> {
        let array = self.array(site).await?;
        let (mut destroyed, mut kept) = (Vec::new(), Vec::new());
        for name in volumes {
            let listed = array
                .list::<fa::Volume>("volumes", &[("names", name.as_str())])
                .await;
            let volume = match listed {
                Ok(found) => found.into_iter().next(),
                Err(error) if error.message.contains("does not exist") => None,
                Err(error) => return Err(text(error)),
            };
            let Some(volume) = volume else {
                continue; // renamed (managed again) or eradicated: nothing retired is left
            };
            if volume.destroyed != Some(true) {
                let connections: Vec<serde_json::Value> = array
                    .list("connections", &[("volume_names", name.as_str())])
                    .await
                    .map_err(text)?;
                let groups: Vec<serde_json::Value> = array
                    .list(
                        "volumes/protection-groups",
                        &[("member_names", name.as_str())],
                    )
                    .await
                    .map_err(text)?;
                if !connections.is_empty() || !groups.is_empty() {
                    let why = if connections.is_empty() {
                        "in a protection group again"
                    } else {
                        "connected to a host"
                    };
                    tracing::warn!(volume = %name, why, "a retired volume in use again is kept");
                    kept.push(name.clone());
                    continue;
                }
                self.array_call(
                    site,
                    Method::PATCH,
                    &format!("volumes?names={name}"),
                    Some(json!({ "destroyed": true })),
                )
                .await?;
            }
            if eradicate {
                match array
                    .call(Method::DELETE, &format!("volumes?names={name}"), None, true)
                    .await
                {
                    Ok(_) => {}
                    // A lost answer retried: it is gone already.
                    Err(error) if error.message.contains("does not exist") => {}
                    Err(error) => return Err(text(error)),
                }
            }
            destroyed.push(name.clone());
        }
        let mut created = Created::from([("destroyed".to_string(), destroyed.join(","))]);
        if !kept.is_empty() {
            created.insert("kept".to_string(), kept.join(","));
        }
        Ok(created)
    }

    async fn add_target(&self, site: &str, group: &str, target_array: &str) -> Result<(), String> {
        self.array_ensure(
            site,
            Method::POST,
            &format!("protection-groups/targets?group_names={group}&member_names={target_array}"),
            None,
        )
        .await
    }

    /// On a target array: accept replication of `group` (`<source array>:<group>`).
    async fn allow(&self, site: &str, group: &str) -> Result<(), String> {
        self.array_ensure(
            site,
            Method::PATCH,
            &format!("protection-groups/targets?group_names={group}"),
            Some(json!({ "allowed": true })),
        )
        .await
    }

    /// Replication from this site's array back to `target_array`: the group with the volumes
    /// the operation created, the target added, and allowed there when that site answers.
    async fn configure_replication(
        &self,
        site: &str,
        group: &str,
        volumes: &[String],
        target_array: &str,
    ) -> Result<Created, String> {
        self.ensure_group(site, group).await?;
        self.add_volumes(site, group, volumes).await?;
        self.add_target(site, group, target_array).await?;
        self.set_schedule(site, group, self.spec.policy.rpo.as_millis() as u64)
            .await?;
        let array = self.array(site).await?.name.clone();
        let mut created = Created::from([("protection_group".to_string(), group.to_string())]);
        // When the old primary is down (an unplanned failover, or one that lost its source),
        // replication back is allowed there by `sync-force` once it returns, not waited for now.
        let allowed = match self.site_of_array(target_array) {
            Ok(peer) if self.unreachable.contains(&peer) => {
                Err("the old primary is down".to_string())
            }
            Ok(peer) => self.allow(&peer, &format!("{array}:{group}")).await,
            Err(error) => Err(error),
        };
        created.insert("allowed_on_target".to_string(), allowed.is_ok().to_string());
        Ok(created)
    }

    // ------------------------------------------------------------------------ compensation

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

/// Whose leftovers [`SiteRunner::leftovers`] looks for.
struct Owner<'a> {
    operation: &'a str,
    /// The name prefix its resources carry (a drill's), if any.
    prefix: Option<&'a str>,
    /// Its array volumes, by the id its steps recorded or the name they were created with.
    array_ids: BTreeSet<String>,
    array_names: BTreeSet<String>,
}

/// What [`SiteRunner::leftovers`] found.
struct Leftovers {
    left: Vec<String>,
    /// How many objects of each kind it listed.
    listed: [(&'static str, usize); 5],
    /// The owner's array volumes it found destroyed.
    destroyed: Vec<String>,
}

impl Leftovers {
    /// What a proof records: the counts listed, and the destroyed array volumes.
    fn proof(&self) -> Created {
        let mut proof: Created = self
            .listed
            .iter()
            .map(|(kind, count)| (kind.to_string(), count.to_string()))
            .collect();
        if !self.destroyed.is_empty() {
            proof.insert("destroyed".to_string(), self.destroyed.join(","));
        }
        proof
    }
}

/// What a list found: one that names an object the array does not have is an error on a
/// FlashArray; here it found nothing.
fn found<T>(listed: Result<Vec<T>, ClientError>) -> Result<Vec<T>, String> {
    match listed {
        Err(error) if error.message.contains("does not exist") => Ok(Vec::new()),
        other => other.map_err(text),
    }
}

/// An instance's fault, as Nova reports it.
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

fn fault(what: &str, server: &nova::Server) -> String {
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

    #[tokio::test(start_paused = true)]
    async fn polling_backs_off_and_times_out() {
        let settled = Settled::default();
        let poll = Poll::new("thing", "a thing", Duration::from_secs(10), &settled);
        let mut waits = 0;
        while poll.wait().await.is_ok() {
            waits += 1;
        }
        // 50 ms pauses at first, growing to a tenth of the elapsed time: far fewer than 200.
        assert!((20..80).contains(&waits), "{waits}");
        let error = poll.wait().await.unwrap_err();
        assert!(
            error.contains("timed out after 10s waiting for a thing"),
            "{error}"
        );
    }

    /// Waits until `settles` has passed; how many pauses it took and how late it noticed.
    async fn wait_for(poll: &Poll<'_>, settles: Duration) -> (usize, Duration) {
        let mut waits = 0;
        while poll.started.elapsed() < settles {
            poll.wait().await.unwrap();
            waits += 1;
        }
        poll.settled();
        (waits, poll.started.elapsed() - settles)
    }

    #[tokio::test(start_paused = true)]
    async fn waits_of_a_kind_that_settled_before_notice_sooner() {
        let settled = Settled::default();
        let timeout = Duration::from_secs(60);
        let boot = Duration::from_secs(30);
        let (_, first_late) = wait_for(&Poll::new("boot", "db-1", timeout, &settled), boot).await;
        // A wait that did not have to poll teaches nothing.
        Poll::new("boot", "web-0", timeout, &settled).settled();
        let (_, next_late) = wait_for(&Poll::new("boot", "web-1", timeout, &settled), boot).await;
        assert!(
            next_late * 2 < first_late,
            "{next_late:?} vs {first_late:?}"
        );
        assert!(next_late <= boot / 50, "{next_late:?}");
        // A faster one is still noticed no later than a tenth of its time.
        let fast = Duration::from_secs(10);
        let (_, late) = wait_for(&Poll::new("boot", "web-2", timeout, &settled), fast).await;
        assert!(late <= fast / 10, "{late:?}");
        // Other kinds start from scratch.
        let stop = Poll::new("stop", "db-1", timeout, &settled);
        assert_eq!(wait_for(&stop, Duration::from_millis(1)).await.0, 1);
    }
}
