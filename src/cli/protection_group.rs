//! `protector protection-group show|policy-show|sync-status|sync-force FILE`: the group as
//! recorded, its policy (never a secret: only where secrets are read from), how the sites'
//! records agree, and bringing them back in line.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use super::output::{FileListArgs, RecordOutput, unknown_column};
use super::plan::{load_spec, recorded_state};
use super::{CommandError, Outcome, print};
use crate::inventory::protection::Protection;
use crate::render::records::{
    self, GroupShown, LastOperation, MemberPlacement, PolicyShown, SitePolicy, SyncRow, timestamp,
};
use crate::render::table::{self, Options, UnknownColumn};
use crate::spec::{SecretRef, Setting, Spec, duration};
use crate::state::{RecordedState, StateDocument};

#[derive(Debug, clap::Subcommand)]
pub enum GroupCommand {
    /// The group's status and placement as recorded in the state.
    #[command(after_help = "\
Examples:
  protector protection-group show pg.yaml
  protector protection-group show pg.yaml -f json | jq .current_primary_site")]
    Show(Args),
    /// The group's policy and sites (where secrets come from, never their values).
    #[command(after_help = "\
Examples:
  protector protection-group policy-show pg.yaml
  protector protection-group policy-show pg.yaml -f yaml")]
    PolicyShow(Args),
    /// Whether both sites' state documents agree.
    #[command(after_help = "\
Examples:
  protector protection-group sync-status pg.yaml
  protector protection-group sync-status pg.yaml -f value")]
    SyncStatus(FileListArgs),
    /// Bring a site that was down back in line: remove the workload's stale instances there,
    /// unmanage their volumes (array data kept), allow replication, push the newest state.
    #[command(after_help = "\
Examples:
  protector protection-group sync-force pg.yaml         # shows what it will do, asks
  protector protection-group sync-force pg.yaml --yes

Run it after an unplanned failover, once the old primary is back.")]
    SyncForce(SyncForceArgs),
}

#[derive(Debug, clap::Args)]
pub struct SyncForceArgs {
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(long, visible_alias = "auto-approve")]
    yes: bool,
    /// Per-call timeout for the sites' APIs, in seconds (default: each cloud's `api_timeout`
    /// in clouds.yaml, else 30; the arrays' calls: 30).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
    #[command(flatten)]
    exec: super::execute::ExecArgs,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_name = "FILE")]
    file: PathBuf,
    #[command(flatten)]
    output: RecordOutput,
}

/// Renders one view of the group.
type View = fn(&Spec, &RecordedState, &Observed, &Options) -> Result<String, UnknownColumn>;

/// What the sites' arrays said when asked.
struct Observed {
    /// Whether the replica holds a recoverable copy of every member.
    protection: Protection,
    /// The sites whose array answered: a site recorded UNREACHABLE that answers is back.
    answering: BTreeSet<String>,
}

/// How long the arrays are given to answer for the protection status.
const ARRAY_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(command: &GroupCommand) -> Result<Outcome, CommandError> {
    let (file, options, view): (&PathBuf, Options, View) = match command {
        GroupCommand::Show(args) => (&args.file, args.output.options(), show),
        GroupCommand::PolicyShow(args) => (&args.file, args.output.options(), |spec, _, _, o| {
            policy(spec, o)
        }),
        GroupCommand::SyncStatus(args) => (&args.file, args.output.options(), sync_status),
        GroupCommand::SyncForce(args) => {
            let request = crate::plan::PlanRequest {
                operation: crate::plan::OperationKind::SyncForce,
                options: crate::plan::PlanOptions::default(),
            };
            return super::apply::plan_and_apply(
                &args.file,
                &request,
                args.yes,
                &args.exec,
                args.timeout,
                false,
            );
        }
    };
    let spec = load_spec(file)?;
    let state = recorded_state(&spec)?;
    let observed = match command {
        GroupCommand::PolicyShow(_) => Observed {
            protection: Protection::Unknown {
                reason: "not part of this view".to_string(),
            },
            answering: BTreeSet::new(),
        },
        _ => observe(&spec, &state)?,
    };
    print(&view(&spec, &state, &observed, &options).map_err(unknown_column)?);
    Ok(Outcome::Success)
}

/// Asks the replica site's array whether it holds a recoverable copy of every recorded member.
fn observe(spec: &Spec, state: &RecordedState) -> Result<Observed, CommandError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CommandError::new(format!("cannot start the async runtime: {error}")))?;
    let arrays = runtime.block_on(crate::inventory::discover::arrays(spec, ARRAY_TIMEOUT));
    let answering = arrays
        .iter()
        .filter(|(_, array)| array.is_ok())
        .map(|(site, _)| site.clone())
        .collect();
    let Some(document) = state.newest() else {
        return Ok(Observed {
            protection: Protection::Unknown {
                reason: "nothing is recorded yet: apply a plan first".to_string(),
            },
            answering,
        });
    };
    let primary = document.current_primary_site.as_str();
    let replica = spec.peer_of(primary);
    let replica_array = match arrays.get(replica) {
        Some(Ok(array)) => Ok(array),
        Some(Err(error)) => Err(format!("the array of {replica} did not answer: {error}")),
        None => Err(format!("{replica} is not a site of the spec")),
    };
    let protection = crate::inventory::protection::protection(
        &spec.sites[primary].flasharray.array_name,
        &spec.policy.array_protection_group,
        replica_array.as_ref().copied().map_err(String::as_str),
        &crate::inventory::protection::member_volumes(&document.members),
    );
    Ok(Observed {
        protection,
        answering,
    })
}

fn show(
    spec: &Spec,
    state: &RecordedState,
    observed: &Observed,
    options: &Options,
) -> Result<String, UnknownColumn> {
    let protection = &observed.protection;
    let initial;
    let document: &StateDocument = match state.newest() {
        Some(document) => document,
        None => {
            initial = StateDocument::initial(spec, &spec.primary);
            &initial
        }
    };
    let peer_sync = document
        .sync
        .values()
        .map(|sync| sync.status.label())
        .next()
        .unwrap_or("IN SYNC");
    let members = spec
        .members
        .iter()
        .map(|member| MemberPlacement {
            name: member.instance.clone(),
            site: document
                .members
                .get(&member.instance)
                .map_or(&document.current_primary_site, |record| &record.site)
                .clone(),
        })
        .collect();
    let shown = GroupShown {
        name: spec.name.clone(),
        description: spec.description.clone(),
        status: document.status.as_str().to_string(),
        primary_site: document.primary_site.clone(),
        secondary_site: document.secondary_site.clone(),
        current_primary_site: document.current_primary_site.clone(),
        failover_count: u64::from(document.failover_count),
        last_failover_at: timestamp(document.last_failover_at),
        replication: format!("{:?}", spec.policy.replication).to_lowercase(),
        members,
        metadata_version: document.metadata_version,
        sync_status: peer_sync.to_string(),
        protected_since: protection.label(),
        last_operation: document.operations.last().map(|op| LastOperation {
            id: op.id.clone(),
            kind: op.kind.clone(),
            status: op.status.as_str().to_string(),
        }),
        updated_at: timestamp(document.updated_at),
    };
    table::record(&records::fields(&shown), options)
}

fn setting(setting: &Setting) -> String {
    match setting {
        Setting::Literal(value) => value.clone(),
        Setting::Env(name) => format!("env:{name}"),
    }
}

fn policy(spec: &Spec, options: &Options) -> Result<String, UnknownColumn> {
    let sites = spec
        .sites
        .values()
        .map(|site| {
            let array = &site.flasharray;
            let api_token_from = match &array.api_token {
                SecretRef::Env(name) => format!("env:{name}"),
                SecretRef::File(path) => format!("file:{}", path.display()),
            };
            let policy = SitePolicy {
                cloud: site.cloud.clone(),
                array: array.array_name.clone(),
                url: setting(&array.url),
                api_token_from,
                ca_cert: array
                    .ca_cert
                    .as_ref()
                    .map_or("system roots".to_string(), setting),
                cinder_host: array.cinder_host.clone(),
            };
            (format!("site {}", site.name), policy)
        })
        .collect();
    let pairs = |pairs: &[crate::spec::Pair]| pairs.iter().map(|p| p.names.clone()).collect();
    let shown = PolicyShown {
        name: spec.name.clone(),
        replication: format!("{:?}", spec.policy.replication).to_lowercase(),
        array_protection_group: spec.policy.array_protection_group.clone(),
        rpo: duration::format(spec.policy.rpo),
        rto: duration::format(spec.policy.rto),
        primary: spec.primary.clone(),
        sites,
        network_mappings: pairs(&spec.mappings.networks),
        flavor_mappings: pairs(&spec.mappings.flavors),
        drill_networks: pairs(&spec.drill.networks),
    };
    table::record(&records::fields(&shown), options)
}

/// One row per site; the replica's row says since when it holds a recoverable copy.
fn sync_status(
    spec: &Spec,
    state: &RecordedState,
    observed: &Observed,
    options: &Options,
) -> Result<String, UnknownColumn> {
    let primary = state.newest().map(|d| d.current_primary_site.as_str());
    let rows: Vec<Map<String, Value>> = spec
        .sites
        .keys()
        .map(|site| {
            let document = state.sites.get(site).and_then(|d| d.as_ref());
            let version = document.map(|d| d.metadata_version);
            let status = state.site_sync_now(site, |peer| observed.answering.contains(peer));
            let replica = primary.is_some_and(|primary| primary != site);
            records::fields(&SyncRow {
                site: site.clone(),
                metadata_version: version,
                status: document
                    .map_or("(never applied)", |d| d.status.as_str())
                    .to_string(),
                current_primary_site: document.map(|d| d.current_primary_site.clone()),
                sync: status.label().to_string(),
                protected_since: replica.then(|| observed.protection.label()),
            })
        })
        .collect();
    table::list(
        &[
            "site",
            "metadata_version",
            "status",
            "current_primary_site",
            "sync",
            "protected_since",
        ],
        &rows,
        options,
    )
}
