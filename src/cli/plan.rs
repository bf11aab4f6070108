//! `protector plan FILE`: discover both sites, read the recorded state, plan, show, save.

use std::path::{Path, PathBuf};

use super::{CommandError, Outcome, clouds_for, eprint, print};
use crate::plan::{self, FailoverType, OperationKind, PlanOptions, PlanRequest};
use crate::render::{self, diagnostics};
use crate::spec::{self, Spec};
use crate::state::RecordedState;
use crate::state::store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OperationArg {
    Converge,
    Failover,
    Failback,
    Drill,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TypeArg {
    Planned,
    Unplanned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The protection-group spec.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// What to plan (default: converge the protection to the spec).
    #[arg(long, value_enum, default_value = "converge")]
    operation: OperationArg,
    /// Failover type: planned (both sites up, no data loss) or unplanned (source down).
    #[arg(long = "type", value_enum, default_value = "planned")]
    failover_type: TypeArg,
    /// Failback: restore replication old-primary -> old-secondary afterwards.
    #[arg(long)]
    reverse_replication: bool,
    /// Drill: stop after verification, leaving the drill running (`protector drill cleanup OP`
    /// removes it).
    #[arg(long)]
    keep: bool,
    #[command(flatten)]
    flags: PlanFlags,
    /// Save the plan (JSON) to this file, for `protector apply`.
    #[arg(short = 'o', long = "out", value_name = "PLAN")]
    out: Option<PathBuf>,
    #[arg(short = 'f', long, value_enum, default_value = "text")]
    format: PlanFormat,
    /// Exit 0 when there is nothing to change, 2 when there is (1 on error, 3 refused).
    #[arg(long)]
    detailed_exitcode: bool,
}

/// The choices that shape a plan, shared by `plan` and the plan-and-apply commands.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanFlags {
    /// Map a source network to a target network, overriding the spec (repeatable).
    #[arg(long = "network-mapping", value_name = "SRC=DST", value_parser = parse_pair)]
    network_mappings: Vec<(String, String)>,
    /// Map a source flavor to a target flavor, overriding the spec (repeatable).
    #[arg(long = "flavor-mapping", value_name = "SRC=DST", value_parser = parse_pair)]
    flavor_mappings: Vec<(String, String)>,
    /// Plan despite an out-of-sync or unreachable peer state (with a warning).
    #[arg(long)]
    force: bool,
    /// Accept recovering a snapshot older than the RPO.
    #[arg(long)]
    accept_data_loss: bool,
    /// Refuse (exit 3) when the predicted RTO exceeds the policy's RTO.
    #[arg(long)]
    fail_on_rto: bool,
    /// Per-call timeout for the sites' APIs, in seconds (default: each cloud's `api_timeout`
    /// in clouds.yaml, else 30; the arrays' calls: 30).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

impl PlanFlags {
    pub fn options(
        &self,
        failover_type: Option<FailoverType>,
        reverse_replication: bool,
    ) -> PlanOptions {
        PlanOptions {
            failover_type,
            network_mappings: self.network_mappings.clone(),
            flavor_mappings: self.flavor_mappings.clone(),
            reverse_replication,
            force: self.force,
            accept_data_loss: self.accept_data_loss,
            fail_on_rto: self.fail_on_rto,
            ..PlanOptions::default()
        }
    }
}

impl TypeArg {
    pub fn failover_type(self) -> FailoverType {
        match self {
            TypeArg::Planned => FailoverType::Planned,
            TypeArg::Unplanned => FailoverType::Unplanned,
        }
    }
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((from, to)) if !from.is_empty() && !to.is_empty() => {
            Ok((from.to_string(), to.to_string()))
        }
        _ => Err(format!("`{text}` is not SRC=DST")),
    }
}

/// Reads and validates the spec, or reports its diagnostics.
pub fn load_spec(path: &Path) -> Result<Spec, CommandError> {
    read_spec(path).map(|(spec, _)| spec)
}

/// [`load_spec`], with the SHA-256 of the spec's bytes as read: what a plan records of it.
pub fn read_spec(path: &Path) -> Result<(Spec, String), CommandError> {
    let validation = spec::load(path)
        .map_err(|error| CommandError::new(error.to_string()).hint(error.hint()))?;
    if !validation.report.diagnostics.is_empty() {
        eprint(&diagnostics::text(&validation.report));
    }
    // The text is the file's bytes: a spec is read as UTF-8 and kept as read.
    let sha256 = plan::sha256_hex(validation.report.source.text.as_bytes());
    let spec = validation.spec.ok_or_else(|| {
        CommandError::new(format!("{} is invalid", path.display())).hint(format!(
            "fix the errors above; `protector validate {}` checks again",
            path.display()
        ))
    })?;
    Ok((spec, sha256))
}

/// Each site's recorded state document.
pub fn recorded_state(spec: &Spec) -> Result<RecordedState, CommandError> {
    let mut state = store::open(&spec.state)
        .read_state(spec)
        .map_err(|error| CommandError::new(error.to_string()).hint(error.hint()))?;
    // As the next apply will repair it on disk, under the group's lock.
    state.heal();
    Ok(state)
}

/// Reads the spec at `file`, discovers the sites and plans `request`; refusals are printed,
/// each with its fix, and end the command with exit 3. The plan records the spec's path and
/// SHA-256, which `apply PLAN` checks.
pub fn make_plan(
    file: &Path,
    request: &PlanRequest,
    timeout: Option<u64>,
) -> Result<(Spec, plan::Plan), CommandError> {
    let (spec, spec_sha256) = read_spec(file)?;
    let spec = &spec;
    let state = recorded_state(spec)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CommandError::new(format!("cannot start the async runtime: {error}")))?;
    let inventory = runtime.block_on(crate::inventory::discover::discover(
        spec,
        &clouds_for(spec, spec.sites.keys(), timeout),
        super::call_timeout(timeout),
    ));
    match plan::plan(spec, &inventory, &state, request) {
        Ok(plan) => Ok((
            spec.clone(),
            plan::Plan {
                spec_file: std::fs::canonicalize(file)
                    .ok()
                    .map(|path| path.display().to_string()),
                spec_sha256: Some(spec_sha256),
                protector_version: Some(crate::VERSION.to_string()),
                ..plan
            },
        )),
        Err(refusals) => {
            for refusal in &refusals {
                eprint(&format!(
                    "{} {}\n{}\n",
                    render::paint(render::ERROR, "refused:"),
                    refusal.message,
                    render::hint_line(&refusal.hint).trim_start()
                ));
            }
            Err(CommandError {
                message: format!(
                    "cannot plan: {} precondition{} failed",
                    refusals.len(),
                    if refusals.len() == 1 { "" } else { "s" }
                ),
                hint: Some("fix the conditions above, or use the flags they name".to_string()),
                outcome: Outcome::Refused,
            })
        }
    }
}

/// Writes `plan` to `out` as `protector apply` reads it; returns the SHA-256 of the bytes
/// written.
fn save(plan: &plan::Plan, out: &Path) -> Result<String, CommandError> {
    let bytes = plan::file::to_bytes(plan);
    std::fs::write(out, &bytes)
        .map_err(|error| CommandError::new(format!("cannot write {}: {error}", out.display())))?;
    Ok(plan::file::sha256(&bytes))
}

/// `--fail-on-rto`: a predicted RTO beyond the policy's is a failed check.
pub fn check_rto(plan: &plan::Plan) -> Result<(), CommandError> {
    if plan.options.fail_on_rto && plan.estimate.predicted_secs > plan.estimate.rto_secs {
        return Err(CommandError {
            message: "the predicted RTO exceeds the policy's RTO".to_string(),
            hint: Some(
                "raise the concurrency budgets, reduce the group, or revise `policy.rto`"
                    .to_string(),
            ),
            outcome: Outcome::Refused,
        });
    }
    Ok(())
}

pub fn run(args: &Args) -> Result<Outcome, CommandError> {
    let request = PlanRequest {
        operation: match args.operation {
            OperationArg::Converge => OperationKind::Converge,
            OperationArg::Failover => OperationKind::Failover,
            OperationArg::Failback => OperationKind::Failback,
            OperationArg::Drill => OperationKind::Drill,
        },
        options: PlanOptions {
            keep: args.keep,
            ..args.flags.options(
                (args.operation == OperationArg::Failover)
                    .then(|| args.failover_type.failover_type()),
                args.reverse_replication,
            )
        },
    };
    let (_, plan) = make_plan(&args.file, &request, args.flags.timeout)?;
    // Saved first: the output names the file's SHA-256.
    let sha256 = args.out.as_ref().map(|out| save(&plan, out)).transpose()?;
    match args.format {
        PlanFormat::Text => print(&render::plan::text(&plan)),
        PlanFormat::Json => print(&super::show::json(&plan, sha256.as_deref())),
        PlanFormat::Markdown => print(&render::markdown::plan(&plan, sha256.as_deref())),
    }
    if let (Some(out), Some(sha256)) = (&args.out, &sha256) {
        eprint(&format!(
            "\nSaved the plan to {}, SHA-256 {sha256}\nReview it with:\n  {}\nApply exactly this file with:\n  {}",
            render::paint(render::HINT, out.display()),
            render::paint(render::HINT, format!("protector show {}", out.display())),
            render::paint(
                render::HINT,
                format!("protector apply {} --expect-sha256 {sha256}", out.display())
            ),
        ));
    }
    check_rto(&plan)?;
    Ok(match (args.detailed_exitcode, plan.has_changes()) {
        (true, true) => Outcome::Changes,
        _ => Outcome::Success,
    })
}
