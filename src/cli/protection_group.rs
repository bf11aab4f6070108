//! `protector protection-group show|policy-show|sync-status|sync-force FILE`: the group as
//! recorded, its policy (never a secret: only where secrets are read from), how the sites'
//! records agree, and bringing them back in line.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::plan::{load_spec, recorded_state};
use super::{CommandError, Outcome, print};
use crate::inventory::protection::Protection;
use crate::render::table::{self, Format};
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
    SyncStatus(Args),
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
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    format: Format,
}

/// Renders one view of the group.
type View = fn(&Spec, &RecordedState, &Protection, Format) -> String;

/// How long the arrays are given to answer for the protection status.
const ARRAY_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(command: &GroupCommand) -> Result<Outcome, CommandError> {
    let (args, view): (&Args, View) = match command {
        GroupCommand::Show(args) => (args, show),
        GroupCommand::PolicyShow(args) => (args, |spec, _, _, format| policy(spec, format)),
        GroupCommand::SyncStatus(args) => (args, sync_status),
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
    let spec = load_spec(&args.file)?;
    let state = recorded_state(&spec)?;
    let protection = match command {
        GroupCommand::PolicyShow(_) => Protection::Unknown {
            reason: "not part of this view".to_string(),
        },
        _ => protection(&spec, &state)?,
    };
    print(&view(&spec, &state, &protection, args.format));
    Ok(Outcome::Success)
}

/// Asks the replica site's array whether it holds a recoverable copy of every recorded member.
fn protection(spec: &Spec, state: &RecordedState) -> Result<Protection, CommandError> {
    let Some(document) = state.newest() else {
        return Ok(Protection::Unknown {
            reason: "nothing is recorded yet: apply a plan first".to_string(),
        });
    };
    let primary = document.current_primary_site.as_str();
    let replica = spec.peer_of(primary);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CommandError::new(format!("cannot start the async runtime: {error}")))?;
    let arrays = runtime.block_on(crate::inventory::discover::arrays(spec, ARRAY_TIMEOUT));
    let replica_array = match arrays.get(replica) {
        Some(Ok(array)) => Ok(array),
        Some(Err(error)) => Err(format!("the array of {replica} did not answer: {error}")),
        None => Err(format!("{replica} is not a site of the spec")),
    };
    Ok(crate::inventory::protection::protection(
        &spec.sites[primary].flasharray.array_name,
        &spec.policy.array_protection_group,
        replica_array.as_ref().copied().map_err(String::as_str),
        &crate::inventory::protection::member_volumes(&document.members),
    ))
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn timestamp(time: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    time.map_or(Value::Null, |t| {
        Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    })
}

fn show(spec: &Spec, state: &RecordedState, protection: &Protection, format: Format) -> String {
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
    let members: Vec<String> = spec
        .members
        .iter()
        .map(|member| {
            let site = document
                .members
                .get(&member.instance)
                .map_or(document.current_primary_site.as_str(), |record| {
                    record.site.as_str()
                });
            format!("{} ({site})", member.instance)
        })
        .collect();
    let last = document.operations.last();
    table::record(
        &object(json!({
            "name": spec.name,
            "description": spec.description,
            "status": document.status.as_str(),
            "primary_site": document.primary_site,
            "secondary_site": document.secondary_site,
            "current_primary_site": document.current_primary_site,
            "failover_count": document.failover_count,
            "last_failover_at": timestamp(document.last_failover_at),
            "replication": format!("{:?}", spec.policy.replication).to_lowercase(),
            "members": members,
            "metadata_version": document.metadata_version,
            "sync_status": peer_sync,
            "protected_since": protection.label(),
            "last_operation": last.map(|op| format!("{} {} ({:?})", op.id, op.kind, op.status).to_lowercase()),
            "updated_at": timestamp(document.updated_at),
        })),
        format,
    )
}

fn setting(setting: &Setting) -> String {
    match setting {
        Setting::Literal(value) => value.clone(),
        Setting::Env(name) => format!("env:{name}"),
    }
}

fn policy(spec: &Spec, format: Format) -> String {
    let mut record = object(json!({
        "name": spec.name,
        "replication": format!("{:?}", spec.policy.replication).to_lowercase(),
        "array_protection_group": spec.policy.array_protection_group,
        "rpo": duration::format(spec.policy.rpo),
        "rto": duration::format(spec.policy.rto),
        "primary": spec.primary,
    }));
    for site in spec.sites.values() {
        let array = &site.flasharray;
        let token = match &array.api_token {
            SecretRef::Env(name) => format!("env:{name}"),
            SecretRef::File(path) => format!("file:{}", path.display()),
        };
        record.insert(
            format!("site {}", site.name),
            json!([
                format!("cloud: {}", site.cloud),
                format!("array: {} at {}", array.array_name, setting(&array.url)),
                format!("api_token: from {token}"),
                format!(
                    "ca_cert: {}",
                    array
                        .ca_cert
                        .as_ref()
                        .map_or("system roots".to_string(), setting)
                ),
                format!("cinder_host: {}", array.cinder_host),
            ]),
        );
    }
    let pairs = |pairs: &[crate::spec::Pair]| -> Vec<String> {
        pairs
            .iter()
            .map(|pair| {
                pair.names
                    .iter()
                    .map(|(site, name)| format!("{site}: {name}"))
                    .collect::<Vec<_>>()
                    .join(" <-> ")
            })
            .collect()
    };
    record.insert(
        "network_mappings".to_string(),
        json!(pairs(&spec.mappings.networks)),
    );
    record.insert(
        "flavor_mappings".to_string(),
        json!(pairs(&spec.mappings.flavors)),
    );
    record.insert(
        "drill_networks".to_string(),
        json!(pairs(&spec.drill.networks)),
    );
    table::record(&record, format)
}

/// One row per site; the replica's row says since when it holds a recoverable copy.
fn sync_status(
    spec: &Spec,
    state: &RecordedState,
    protection: &Protection,
    format: Format,
) -> String {
    let primary = state.newest().map(|d| d.current_primary_site.as_str());
    let rows: Vec<Map<String, Value>> = spec
        .sites
        .keys()
        .map(|site| {
            let document = state.sites.get(site).and_then(|d| d.as_ref());
            let version = document.map(|d| d.metadata_version);
            let status = state.site_sync(site);
            let replica = primary.is_some_and(|primary| primary != site);
            object(json!({
                "site": site,
                "metadata_version": version,
                "status": document.map_or("(never applied)", |d| d.status.as_str()),
                "current_primary_site": document.map(|d| d.current_primary_site.clone()),
                "sync": status.label(),
                "protected_since": replica.then(|| protection.label()),
            }))
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
        format,
    )
}
