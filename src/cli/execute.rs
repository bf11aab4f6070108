//! What running an operation from the command line shares, whichever command runs it (`apply`,
//! `failover`, `failback`, `drill`, `sync-force`): the flags that execute and look up
//! operations, the runtime, the confirmation before anything changes, refusals, and the progress
//! display (a bar on a terminal, a line per step otherwise, JSON events with `--json`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::render::records::{
    NoteEvent, NoteTag, OperationDone, OperationDoneTag, PlannedEvent, PlannedTag, ProgressEvent,
    StepEvent, StepTag,
};

use super::plan::{check_rto, load_spec, make_plan, read_spec};
use super::{CommandError, Outcome, eprint, print};
use crate::apply::executor::Event;
use crate::apply::{self, Applied, Observer, Options, Refusal};
use crate::plan::schedule::Budgets;
use crate::plan::{OperationKind, Plan, PlanRequest};
use crate::render;
use crate::spec::Spec;
use crate::state::OperationStatus;
use crate::state::store;

/// How the steps run; shared by every command that applies.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    /// Steps running at once, at most (per-service budgets apply below it).
    #[arg(long, value_name = "N", default_value_t = Budgets::default().parallelism)]
    parallelism: usize,
    /// Output: `text` for people, `json` for one JSON object per line on stdout
    /// (step_started, step_done, step_failed, operation_done).
    #[arg(short = 'f', long = "format", value_enum, default_value = "text")]
    format: ProgressFormat,
    /// The same as `-f json`.
    #[arg(long)]
    json: bool,
    /// How long a step may wait for what it started (a boot, a transfer), in seconds.
    #[arg(long, default_value_t = apply::effects::DEFAULT_STEP_TIMEOUT.as_secs(), value_name = "SECONDS")]
    step_timeout: u64,
}

/// Where to find a recorded operation and its spec.
#[derive(Debug, Clone, clap::Args)]
pub struct LookupArgs {
    /// Per-call timeout for the sites' APIs, in seconds (default: each cloud's `api_timeout`
    /// in clouds.yaml, else 30; the arrays' calls: 30).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// The state folder to find operations in (default: $PROTECTOR_STATE, else ./.protector).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// The spec, when not the one the plan names.
    #[arg(long = "file", value_name = "FILE")]
    spec_file: Option<PathBuf>,
}

/// How an apply reports its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressFormat {
    Text,
    Json,
}

impl ExecArgs {
    /// Progress as JSON lines (`-f json`, or its older spelling `--json`).
    pub fn json(&self) -> bool {
        self.json || self.format == ProgressFormat::Json
    }

    pub fn options(&self, timeout: Option<u64>) -> Options {
        Options {
            budgets: Budgets {
                parallelism: self.parallelism.max(1),
                ..Budgets::default()
            },
            timeout: super::call_timeout(timeout),
            step_timeout: Duration::from_secs(self.step_timeout.max(1)),
            rollback_on_failure: false,
            command: command_line(),
        }
    }
}

impl LookupArgs {
    /// The saved plan of operation `operation`, from the state folder.
    pub(super) fn operation_plan(&self, operation: &str) -> Result<Plan, CommandError> {
        let root = operation_folder(self.state.as_deref(), operation)?;
        store::open_folder(&root)
            .find_plan(operation)
            .map_err(super::store_error)?
            .ok_or_else(|| not_found(operation, &[root]))
    }

    /// The spec to run `plan` with: `--file`, else the one it names.
    fn spec_path(&self, plan: &Plan) -> Result<PathBuf, CommandError> {
        match (&self.spec_file, &plan.spec_file) {
            (Some(path), _) => Ok(path.clone()),
            (None, Some(path)) => Ok(PathBuf::from(path)),
            (None, None) => Err(CommandError::new("the plan does not name its spec")
                .hint("pass the spec with --file FILE")),
        }
    }

    /// The spec a recorded operation continues with (one fixed since it started, a moved token
    /// file, is fine: what runs is the recorded plan).
    pub(super) fn spec_for(&self, plan: &Plan) -> Result<crate::spec::Spec, CommandError> {
        load_spec(&self.spec_path(plan)?)
    }

    /// The spec plan file `plan` was made from, as its recorded SHA-256 says; any other is
    /// refused (exit 3).
    pub(super) fn reviewed_spec(&self, plan: &Plan) -> Result<crate::spec::Spec, CommandError> {
        let path = self.spec_path(plan)?;
        let (spec, sha256) = read_spec(&path)?;
        crate::plan::file::check_spec_sha256(plan, &sha256).map_err(|problem| {
            CommandError::new(format!("{}: {problem}", path.display()))
                .hint(format!(
                    "review what changed in the spec and plan again: `protector plan {} ... -o PLAN`",
                    path.display()
                ))
                .refused()
        })?;
        Ok(spec)
    }
}

/// `--state DIR`, else `PROTECTOR_STATE`, else `./.protector` (DESIGN §4).
pub fn state_folder(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("PROTECTOR_STATE").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(".protector"))
}

/// The state folder that holds `operation`: the one `--state` or `PROTECTOR_STATE` names,
/// else `./.protector` if it holds it, else one this user ran operations from (so that the
/// commands protector prints work wherever they are pasted).
pub fn operation_folder(flag: Option<&Path>, operation: &str) -> Result<PathBuf, CommandError> {
    let explicit = flag.is_some() || std::env::var_os("PROTECTOR_STATE").is_some();
    let default = state_folder(flag);
    // An id the store refuses (not of protector's shape) is refused here, whatever folder.
    let held = store::open_folder(&default)
        .find_plan(operation)
        .map_err(super::store_error)?
        .is_some();
    if explicit || held {
        return Ok(default);
    }
    let index = crate::state::index::dir();
    if let Some(found) = index
        .as_deref()
        .and_then(|index| crate::state::index::find(index, operation))
    {
        return Ok(found);
    }
    let mut searched = vec![default];
    if let Some(index) = &index {
        searched.extend(crate::state::index::folders(index));
    }
    Err(not_found(operation, &searched))
}

pub(super) fn not_found(operation: &str, searched: &[PathBuf]) -> CommandError {
    let searched: Vec<String> = searched.iter().map(|f| f.display().to_string()).collect();
    CommandError::new(format!(
        "no operation {operation} in {}",
        searched.join(", ")
    ))
    .hint("point --state (or PROTECTOR_STATE) at the state folder of the spec it ran from (`state.path`, `.protector` beside the spec by default)")
}

/// Remembers the spec's state folder for the lookups of [`operation_folder`] from elsewhere; a
/// state home that cannot be written only costs those.
pub(super) fn remember_state_folder(spec: &Spec) {
    let Some(index) = crate::state::index::dir() else {
        return;
    };
    if let Err(error) = crate::state::index::remember(&index, &spec.state.path) {
        tracing::warn!(%error, "operations of this spec will be found only from its folder");
    }
}

/// The command line, as lock files name their holder.
fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| CommandError::new(format!("cannot start the async runtime: {error}")))
}

/// Plans `request` for the spec at `file`, shows the plan and asks; `None` when the plan has
/// nothing to do.
pub(super) fn plan_and_confirm(
    file: &Path,
    request: &PlanRequest,
    approve: bool,
    timeout: Option<u64>,
) -> Result<Option<(Spec, Plan)>, CommandError> {
    let (spec, plan) = make_plan(file, request, timeout)?;
    eprint(&render::plan::text(&plan));
    check_rto(&plan)?;
    if !plan.has_changes() {
        return Ok(None);
    }
    confirm(approve, &plan)?;
    Ok(Some((spec, plan)))
}

/// A refusal as the command reports it: exit 3 when refused on purpose, 1 for an error.
pub(super) fn refused(refusal: Refusal) -> CommandError {
    CommandError {
        message: refusal.message,
        hint: Some(refusal.hint),
        outcome: if refusal.refused {
            Outcome::Refused
        } else {
            Outcome::Error
        },
    }
}

/// Terraform's question, on a terminal; CI must say `--auto-approve`.
pub(super) fn confirm(auto_approve: bool, plan: &Plan) -> Result<(), CommandError> {
    if auto_approve {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CommandError {
            message: "stdin is not a terminal: cannot ask for confirmation".to_string(),
            hint: Some("review the plan, then pass --auto-approve".to_string()),
            outcome: Outcome::Refused,
        });
    }
    eprint(&format!(
        "\nDo you want to perform this {}?\n  Only 'yes' will be accepted to approve.\n",
        render::plan::operation_name(&plan.operation)
    ));
    let _ = write!(anstream::stderr(), "  Enter a value: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(CommandError {
            message: "apply cancelled".to_string(),
            hint: None,
            outcome: Outcome::Refused,
        })
    }
}

/// Progress for people (a bar on a terminal, a line per step otherwise) or machines (JSON).
pub(super) struct Display {
    json: bool,
    started: Instant,
    bar: Option<indicatif::ProgressBar>,
    running: Vec<String>,
}

impl Display {
    pub(super) fn new(json: bool) -> Display {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Display {
            json,
            started: Instant::now(),
            bar,
            running: Vec::new(),
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprint(text),
        }
    }

    fn json_line(&self, event: ProgressEvent) {
        let value = serde_json::to_value(event).unwrap_or_default();
        print(&render::versioned(value).to_string());
    }

    pub(super) fn finish(
        mut self,
        result: Result<Applied, Refusal>,
        rollback: bool,
    ) -> Result<Outcome, CommandError> {
        self.clear();
        self.report(&result.map_err(refused)?, rollback)?;
        Ok(Outcome::Success)
    }

    /// Takes the progress bar off the terminal, before the closing lines.
    pub(super) fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// How an apply (or rollback) ended and what to run next; an error when it did not end
    /// well. An apply that failed and was rolled back (`--rollback-on-failure`) did not end
    /// well: the operation did not happen.
    pub(super) fn report(&self, applied: &Applied, rollback: bool) -> Result<(), CommandError> {
        let final_run = applied.rollback.as_deref().unwrap_or(applied);
        let status = final_run
            .record
            .as_ref()
            .map_or(OperationStatus::Failed, |r| r.status);
        let elapsed = self.started.elapsed().as_secs_f64();
        let id = &applied.plan.operation.id;
        if self.json {
            self.json_line(ProgressEvent::OperationDone(OperationDone {
                event: OperationDoneTag::OperationDone,
                operation: final_run.plan.operation.id.clone(),
                status: status.as_str().to_string(),
                elapsed: round(elapsed),
                steps_completed: final_run.report.completed.len(),
                steps_failed: final_run.report.failed.len(),
            }));
        }
        let kind = &final_run.plan.operation.kind;
        let undone = final_run.plan.options.rollback_of.as_deref();
        let steps = |count: usize| format!("{count} step{}", if count == 1 { "" } else { "s" });
        match (status, undone) {
            (OperationStatus::Completed, Some(undone)) => {
                eprint(&format!(
                    "\n{} {undone} rolled back in {elapsed:.1}s ({}): the workload runs on {} as before.",
                    render::paint(render::SUCCESS, "Rollback complete!"),
                    steps(final_run.report.completed.len()),
                    final_run.plan.operation.target_site,
                ));
                if applied.rollback.is_some() && !rollback {
                    return Err(CommandError {
                        message: format!("{id} failed and was rolled back: {}", error_of(applied)),
                        hint: Some("fix the cause, then plan the operation again".to_string()),
                        outcome: Outcome::Error,
                    });
                }
                return Ok(());
            }
            (OperationStatus::Completed, None) => {
                eprint(&format!(
                    "\n{} {} {id} completed in {elapsed:.1}s ({}).",
                    render::paint(render::SUCCESS, "Apply complete!"),
                    render::plan::operation_name(&final_run.plan.operation),
                    steps(final_run.report.completed.len()),
                ));
                // A drill's outcome is its proof, which its command shows.
                if !matches!(kind, OperationKind::Drill | OperationKind::DrillCleanup) {
                    eprint(&format!(
                        "See the group with: {}",
                        render::paint(render::HINT, "protector protection-group show FILE")
                    ));
                }
                return Ok(());
            }
            _ => {}
        }
        let report = &final_run.report;
        eprint(&format!(
            "\n{} of {} completed, {} failed, {} not run.",
            report.completed.len(),
            steps(final_run.plan.steps.len()),
            report.failed.len(),
            report.not_run.len()
        ));
        let (message, hint) = match (status, undone) {
            // A rollback that could not bring the source back, undone in turn.
            (OperationStatus::RolledBack, Some(undone)) => (
                format!(
                    "{undone} was not rolled back: {}; what the rollback changed was undone, {undone} is as it was",
                    error_of(final_run)
                ),
                format!(
                    "fix the cause and roll back again with `protector rollback {undone}`, or continue forward with `protector apply --resume {undone}`"
                ),
            ),
            (_, Some(undone)) => (
                format!(
                    "the rollback of {undone} ({}) failed: {}",
                    final_run.plan.operation.id,
                    error_of(final_run)
                ),
                format!(
                    "fix the cause, then run `protector rollback {undone}` again: it continues"
                ),
            ),
            (_, None) => (
                format!("{id} failed: {}", error_of(final_run)),
                format!(
                    "fix the cause and continue with `protector apply --resume {id}`, or undo it with `protector rollback {id}`"
                ),
            ),
        };
        Err(CommandError {
            message,
            hint: Some(hint),
            outcome: Outcome::Error,
        })
    }
}

/// The error an operation recorded.
fn error_of(applied: &Applied) -> String {
    applied
        .record
        .as_ref()
        .and_then(|r| r.error_message.clone())
        .unwrap_or_else(|| "the operation did not complete".to_string())
}

fn round(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}

impl Observer for Display {
    fn step(&mut self, event: &Event<'_>, undo: bool, done: usize, total: usize) {
        let at = round(self.started.elapsed().as_secs_f64());
        let (step, tag) = match (event, undo) {
            (Event::Started { step }, false) => (step, StepTag::StepStarted),
            (Event::Done { step, .. }, false) => (step, StepTag::StepDone),
            (Event::Failed { step, .. }, false) => (step, StepTag::StepFailed),
            (Event::Retrying { step, .. }, false) => (step, StepTag::StepRetrying),
            (Event::Started { step }, true) => (step, StepTag::UndoStarted),
            (Event::Done { step, .. }, true) => (step, StepTag::UndoDone),
            (Event::Failed { step, .. }, true) => (step, StepTag::UndoFailed),
            (Event::Retrying { step, .. }, true) => (step, StepTag::UndoRetrying),
        };
        if self.json {
            let mut line = StepEvent {
                event: tag,
                step: step.id.clone(),
                site: step.site.clone(),
                action: step.action.kind().to_string(),
                elapsed: at,
                duration: None,
                created: None,
                attempt: None,
                error: None,
            };
            match event {
                Event::Done {
                    elapsed, created, ..
                } => {
                    line.duration = Some(round(elapsed.as_secs_f64()));
                    line.created = serde_json::to_value(created).ok();
                }
                Event::Failed { elapsed, error, .. } => {
                    line.duration = Some(round(elapsed.as_secs_f64()));
                    line.error = Some(error.to_string());
                }
                Event::Retrying { attempt, error, .. } => {
                    line.attempt = Some(*attempt);
                    line.error = Some(error.to_string());
                }
                Event::Started { .. } => {}
            }
            self.json_line(ProgressEvent::Step(line));
            return;
        }
        let verb = if undo { "undo " } else { "" };
        match event {
            Event::Started { step } => {
                self.running.push(step.id.clone());
                if self.bar.is_none() {
                    self.line(&format!(
                        "[{done:>4}/{total}] {verb}started {} ({})",
                        step.id, step.site
                    ));
                }
            }
            Event::Done { step, elapsed, .. } => {
                self.running.retain(|id| id != &step.id);
                self.line(&format!(
                    "[{done:>4}/{total}] {} {verb}{} in {:.1}s",
                    render::paint(render::SUCCESS, "done"),
                    step.id,
                    elapsed.as_secs_f64()
                ));
            }
            Event::Failed {
                step,
                error,
                elapsed,
            } => {
                self.running.retain(|id| id != &step.id);
                self.line(&format!(
                    "[{done:>4}/{total}] {} {verb}{} after {:.1}s: {error}",
                    render::paint(render::ERROR, "failed"),
                    step.id,
                    elapsed.as_secs_f64()
                ));
            }
            Event::Retrying {
                step,
                attempt,
                error,
            } => {
                self.line(&format!(
                    "[{done:>4}/{total}] {} {} (attempt {attempt} failed: {error})",
                    render::paint(render::WARNING, "retrying"),
                    step.id,
                ));
            }
        }
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(self.running.join(", "));
        }
    }

    fn note(&mut self, text: &str) {
        if self.json {
            self.json_line(ProgressEvent::Note(NoteEvent {
                event: NoteTag::Note,
                message: text.to_string(),
            }));
        } else {
            self.line(text);
        }
    }

    fn planned(&mut self, plan: &Plan) {
        if self.json {
            self.json_line(ProgressEvent::Planned(PlannedEvent {
                event: PlannedTag::Planned,
                operation: plan.operation.id.clone(),
                kind: plan.operation.kind.as_str().to_string(),
                steps: plan.steps.len(),
            }));
        } else {
            self.line(&render::plan::text(plan));
        }
    }
}
