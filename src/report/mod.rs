//! Reports of operations: what was planned, what ran and when, how long it took against the
//! prediction, how much data it recovered against the RPO and, for drills, the proof of cleanup.
//!
//! One [`Report`] value is built from what an operation recorded (its plan copy, its journal
//! and its operation record), without asking any site: it works for a completed, a failed, a
//! rolled back or a still running operation. [`crate::render::report`] renders it as Markdown
//! or HTML through templates, and as JSON by serializing it as is, so a custom template sees
//! exactly the fields of the JSON. [`evidence`] seals the report with its sources in a bundle
//! whose hash chain shows any later change.
//!
//! Timings come from the journal: a step's start is its last `started` entry, its end the
//! `done` or `failed` entry that follows. Offsets count from the first step's start; the
//! measured RTO runs from there to the last step's end (undo entries of a rollback are not part
//! of it). The critical path walks back from the step that finished last, each time through the
//! dependency that finished last: the chain of steps that set the end time.

pub mod evidence;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use crate::plan::{OperationKind, Phase, Plan, diff};
use crate::render::plan::{data_loss, operation_name};
use crate::state::{
    CleanupProof, DrillResource, JournalEntry, JournalEvent, OperationRecord, OperationStatus,
};

/// Characters in a bar of the critical path: the whole measured run.
pub const BAR_WIDTH: usize = 40;
/// A bar's character for a time its step runs.
const BUSY: char = '█';
/// A bar's character for the rest of the run.
const IDLE: char = '░';

/// An operation's report (see the module's first lines).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Report {
    pub operation: OperationSummary,
    pub planned: Planned,
    pub rto: Rto,
    /// What the recovered data is missing, as the plan disclosed it; `None` for operations that
    /// recover no data (converge, cleanup).
    pub data_loss: Option<DataLossReport>,
    /// From the first step to the one that finished last (see the module's first lines).
    pub critical_path: Vec<PathStep>,
    /// Every step of the plan, in its order.
    pub steps: Vec<StepRun>,
    /// Every error the journal recorded, in order (a step that failed and then succeeded on
    /// resume keeps its error here).
    pub errors: Vec<StepError>,
    /// A drill or a drill cleanup: the proof of its cleanup, or what it left.
    pub drill: Option<DrillOutcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct OperationSummary {
    pub id: String,
    pub kind: OperationKind,
    /// As people name it: `planned failover`, `DR drill`, ...
    pub name: String,
    pub protection_group: String,
    pub source_site: String,
    pub target_site: String,
    pub status: OperationStatus,
    pub progress: u8,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
}

/// What the plan said it would do.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Planned {
    /// The plan's summary line (`Plan: 4 to add on site-b, ...`).
    pub summary: String,
    pub steps: usize,
    pub warnings: Vec<String>,
}

/// Recovery time: predicted by the plan, measured from the journal, and the policy's budget.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Rto {
    pub predicted_secs: f64,
    /// From the first step's start to the last step's end; `None` before a step ended.
    pub measured_secs: Option<f64>,
    pub policy_secs: f64,
    pub predicted_within_policy: bool,
    pub measured_within_policy: Option<bool>,
}

/// The data-loss disclosure: the RPO achieved is the age of the snapshot recovered.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DataLossReport {
    /// The snapshot recovered; `None` when the operation took a fresh one (planned failover).
    pub snapshot: Option<String>,
    /// The snapshot's age when the operation was planned; 0 for a fresh one.
    pub rpo_achieved_secs: f64,
    pub rpo_secs: f64,
    pub exceeds_rpo: bool,
    /// The disclosure as the plan worded it.
    pub disclosure: String,
}

/// How a step ended, as its last journal entry says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Done,
    Failed,
    /// Started and not ended: running, or interrupted by a crash.
    Unfinished,
    NotRun,
    /// Done, then undone by a rollback.
    Undone,
    UndoFailed,
    /// A rollback started undoing it and did not end.
    UndoUnfinished,
}

/// A step of the plan as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct StepRun {
    pub id: String,
    pub phase: Phase,
    pub site: String,
    pub member: Option<String>,
    pub action: String,
    pub status: StepStatus,
    /// Seconds from the first step's start to this step's (last) start.
    pub start_secs: Option<f64>,
    /// From its start to its end (`done` or `failed`); `None` while unfinished.
    pub duration_secs: Option<f64>,
    pub estimate_secs: f64,
    /// The error of its last entry, when that entry failed.
    pub error: Option<String>,
}

/// A step on the critical path, with its Gantt bar.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PathStep {
    pub step: String,
    pub start_secs: f64,
    pub duration_secs: f64,
    /// [`BAR_WIDTH`] characters over the measured run: `█` while the step ran, `░` elsewhere.
    pub bar: String,
}

/// An error the journal recorded.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct StepError {
    pub step: String,
    /// Seconds from the first step's start.
    pub at_secs: f64,
    /// Undoing the step failed (rollback), rather than the step.
    pub undo: bool,
    /// An attempt failed and the step tried again (a boot Nova could not place).
    pub retried: bool,
    pub error: String,
}

/// How a drill (or its cleanup) left its target.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DrillOutcome {
    /// That nothing tagged with the drill was left, once its cleanup proved it.
    pub proof: Option<CleanupProof>,
    /// What the drill created and has not removed (kept, or failed).
    pub left_on_target: Vec<DrillResource>,
}

/// A step's run as its journal entries tell it.
#[derive(Default)]
struct Timing {
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    last: Option<JournalEvent>,
    error: Option<String>,
}

/// Seconds from `from` to `to`, to the millisecond.
fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

impl Report {
    /// The report of the operation `plan` describes, from its journal and its record.
    pub fn build(plan: &Plan, journal: &[JournalEntry], record: &OperationRecord) -> Report {
        let mut timings: BTreeMap<&str, Timing> = BTreeMap::new();
        for entry in journal {
            let timing = timings.entry(&entry.step).or_default();
            match entry.event {
                JournalEvent::Started => {
                    timing.start = Some(entry.at);
                    timing.end = None;
                }
                JournalEvent::Done | JournalEvent::Failed => timing.end = Some(entry.at),
                JournalEvent::Retrying
                | JournalEvent::UndoStarted
                | JournalEvent::Undone
                | JournalEvent::UndoFailed => {}
            }
            timing.last = Some(entry.event);
            timing.error = entry.error.clone();
        }
        let origin = timings
            .values()
            .filter_map(|timing| timing.start)
            .min()
            .or_else(|| journal.first().map(|entry| entry.at));
        let offset = |at: DateTime<Utc>| origin.map_or(0.0, |origin| secs(origin, at));
        let last_end = timings.values().filter_map(|timing| timing.end).max();
        let measured = origin.zip(last_end).map(|(from, to)| secs(from, to));

        let steps = plan
            .steps
            .iter()
            .map(|step| {
                let timing = timings.get(step.id.as_str());
                let status = match timing.and_then(|t| t.last) {
                    None => StepStatus::NotRun,
                    Some(JournalEvent::Started | JournalEvent::Retrying) => StepStatus::Unfinished,
                    Some(JournalEvent::Done) => StepStatus::Done,
                    Some(JournalEvent::Failed) => StepStatus::Failed,
                    Some(JournalEvent::UndoStarted) => StepStatus::UndoUnfinished,
                    Some(JournalEvent::Undone) => StepStatus::Undone,
                    Some(JournalEvent::UndoFailed) => StepStatus::UndoFailed,
                };
                let start = timing.and_then(|t| t.start);
                StepRun {
                    id: step.id.clone(),
                    phase: step.phase,
                    site: step.site.clone(),
                    member: step.member.clone(),
                    action: step.action.kind().to_string(),
                    status,
                    start_secs: start.map(offset),
                    duration_secs: start
                        .zip(timing.and_then(|t| t.end))
                        .map(|(from, to)| secs(from, to)),
                    estimate_secs: step.estimate_secs,
                    error: timing.and_then(|t| t.error.clone()),
                }
            })
            .collect();

        let errors = journal
            .iter()
            .filter_map(|entry| {
                Some(StepError {
                    step: entry.step.clone(),
                    at_secs: offset(entry.at),
                    undo: entry.event == JournalEvent::UndoFailed,
                    retried: entry.event == JournalEvent::Retrying,
                    error: entry.error.clone()?,
                })
            })
            .collect();

        let estimate = &plan.estimate;
        let drill = matches!(
            plan.operation.kind,
            OperationKind::Drill | OperationKind::DrillCleanup
        )
        .then(|| DrillOutcome {
            proof: record.proof.clone(),
            left_on_target: record.left_on_target.clone(),
        });
        Report {
            operation: OperationSummary {
                id: plan.operation.id.clone(),
                kind: plan.operation.kind.clone(),
                name: operation_name(&plan.operation).to_string(),
                protection_group: plan.protection_group.clone(),
                source_site: plan.operation.source_site.clone(),
                target_site: plan.operation.target_site.clone(),
                status: record.status,
                progress: record.progress,
                started_at: record.started_at,
                completed_at: record.completed_at,
                error_message: record.error_message.clone(),
            },
            planned: Planned {
                summary: diff::summary(plan),
                steps: plan.steps.len(),
                warnings: plan.warnings.clone(),
            },
            rto: Rto {
                predicted_secs: estimate.predicted_secs,
                measured_secs: measured,
                policy_secs: estimate.rto_secs,
                predicted_within_policy: estimate.predicted_secs <= estimate.rto_secs,
                measured_within_policy: measured.map(|measured| measured <= estimate.rto_secs),
            },
            data_loss: plan.data_loss.as_ref().map(|loss| DataLossReport {
                snapshot: loss.snapshot.clone(),
                rpo_achieved_secs: loss.age_secs,
                rpo_secs: loss.rpo_secs,
                exceeds_rpo: loss.exceeds_rpo,
                disclosure: data_loss(plan, loss),
            }),
            critical_path: critical_path(plan, &timings, origin, measured.unwrap_or(0.0)),
            steps,
            errors,
            drill,
        }
    }
}

/// The steps that set the end time, first to last: from the step that finished last, back
/// through the dependency of each that finished last. Ties go to the step later in the plan.
fn critical_path(
    plan: &Plan,
    timings: &BTreeMap<&str, Timing>,
    origin: Option<DateTime<Utc>>,
    span: f64,
) -> Vec<PathStep> {
    // The steps that ran and ended: their start, end and position in the plan.
    let finished: BTreeMap<&str, Run> = plan
        .steps
        .iter()
        .enumerate()
        .filter_map(|(index, step)| {
            let timing = timings.get(step.id.as_str())?;
            Some((step.id.as_str(), (timing.start?, timing.end?, index)))
        })
        .collect();
    let (Some(origin), Some(mut current)) = (
        origin,
        ended_last(finished.iter().map(|(id, run)| (*id, run))),
    ) else {
        return Vec::new();
    };
    let mut path = Vec::new();
    // A plan file edited by hand could name a cycle: each step is visited once.
    let mut seen = BTreeSet::new();
    while seen.insert(current) {
        let Some(&(start, end, index)) = finished.get(current) else {
            break;
        };
        let (start_secs, duration_secs) = (secs(origin, start), secs(start, end));
        path.push(PathStep {
            step: current.to_string(),
            start_secs,
            duration_secs,
            bar: bar(start_secs, duration_secs, span),
        });
        let dependencies = plan.steps[index].depends_on.iter().filter_map(|id| {
            let (id, run) = finished.get_key_value(id.as_str())?;
            Some((*id, run))
        });
        match ended_last(dependencies) {
            Some(dependency) => current = dependency,
            None => break,
        }
    }
    path.reverse();
    path
}

/// A step's start, end and position in the plan.
type Run = (DateTime<Utc>, DateTime<Utc>, usize);

/// The one of `candidates` that ended last; a tie goes to the one later in the plan.
fn ended_last<'a>(candidates: impl Iterator<Item = (&'a str, &'a Run)>) -> Option<&'a str> {
    candidates
        .max_by_key(|(_, (_, end, index))| (*end, *index))
        .map(|(id, _)| id)
}

/// A Gantt bar of [`BAR_WIDTH`] characters over `span` seconds: busy from `start` for
/// `duration` (one character at least), idle elsewhere.
fn bar(start: f64, duration: f64, span: f64) -> String {
    let cells = |secs: f64| {
        if span > 0.0 {
            (secs / span * BAR_WIDTH as f64).round() as usize
        } else {
            0
        }
    };
    let before = cells(start).min(BAR_WIDTH - 1);
    let busy = cells(duration).clamp(1, BAR_WIDTH - before);
    std::iter::repeat_n(IDLE, before)
        .chain(std::iter::repeat_n(BUSY, busy))
        .chain(std::iter::repeat_n(IDLE, BAR_WIDTH - before - busy))
        .collect()
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn a_completed_operation_measures_its_rto_from_the_first_start_to_the_last_end() {
        let (plan, journal, record) = completed();
        let report = Report::build(&plan, &journal, &record);
        assert_eq!(report.operation.status, OperationStatus::Completed);
        assert_eq!(report.rto.measured_secs, Some(100.0));
        assert_eq!(report.rto.measured_within_policy, Some(true));
        assert!(report.steps.iter().all(|s| s.status == StepStatus::Done));
        let check = &report.steps[0];
        assert_eq!(
            (check.start_secs, check.duration_secs),
            (Some(0.0), Some(5.0))
        );
        assert!(report.errors.is_empty());
        assert!(report.drill.is_none());
        let loss = report.data_loss.as_ref().expect("a failover discloses");
        assert_eq!(loss.rpo_achieved_secs, 300.0);
        assert_eq!(loss.snapshot.as_deref(), Some("fa-a:prod-web-app.7"));
    }

    #[test]
    fn the_critical_path_follows_the_dependency_that_finished_last() {
        let (plan, journal, record) = completed();
        let report = Report::build(&plan, &journal, &record);
        let path: Vec<&str> = report
            .critical_path
            .iter()
            .map(|s| s.step.as_str())
            .collect();
        // db-1's copy (30s) finished after web-1's (20s); web-1 boots after db-1.
        assert_eq!(
            path,
            [
                "check_target",
                "copy_volume/db-1/0",
                "manage_volume/db-1/0",
                "boot_instance/db-1",
                "boot_instance/web-1",
                "finalize"
            ]
        );
        let first = &report.critical_path[0];
        assert_eq!(first.bar, format!("{}{}", "██", "░".repeat(38)));
        // finalize ran from 98s to 100s: 0.8 characters, drawn as one.
        let last = report.critical_path.last().unwrap();
        assert_eq!(last.bar, format!("{}█", "░".repeat(39)));
        assert!(
            report
                .critical_path
                .iter()
                .all(|s| s.bar.chars().count() == BAR_WIDTH)
        );
    }

    #[test]
    fn a_failed_operation_reports_each_error_and_what_never_ran() {
        let (plan, journal, record) = failed();
        let report = Report::build(&plan, &journal, &record);
        assert_eq!(report.operation.status, OperationStatus::Failed);
        let status = |id: &str| report.steps.iter().find(|s| s.id == id).unwrap().status;
        assert_eq!(status("boot_instance/db-1"), StepStatus::Failed);
        assert_eq!(status("boot_instance/web-1"), StepStatus::NotRun);
        assert_eq!(status("finalize"), StepStatus::NotRun);
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].step, "boot_instance/db-1");
        assert!(!report.errors[0].undo);
        assert_eq!(
            report.critical_path.last().unwrap().step,
            "boot_instance/db-1"
        );
        assert_eq!(report.rto.measured_secs, Some(75.0));
    }

    #[test]
    fn a_rolled_back_step_is_undone_and_a_resumed_step_keeps_its_earlier_error() {
        let (plan, mut journal, record) = failed();
        let at = journal.last().unwrap().at;
        let later = |secs| at + chrono::Duration::seconds(secs);
        journal.extend([
            entry("boot_instance/db-1", JournalEvent::Started, later(10)),
            entry("boot_instance/db-1", JournalEvent::Done, later(20)),
            entry("boot_instance/db-1", JournalEvent::UndoStarted, later(30)),
            entry("boot_instance/db-1", JournalEvent::Undone, later(31)),
            entry("manage_volume/db-1/0", JournalEvent::UndoStarted, later(32)),
            failure("manage_volume/db-1/0", JournalEvent::UndoFailed, later(33)),
        ]);
        let report = Report::build(&plan, &journal, &record);
        let step = |id: &str| report.steps.iter().find(|s| s.id == id).unwrap();
        assert_eq!(step("boot_instance/db-1").status, StepStatus::Undone);
        assert_eq!(step("boot_instance/db-1").duration_secs, Some(10.0));
        assert_eq!(step("manage_volume/db-1/0").status, StepStatus::UndoFailed);
        assert_eq!(report.errors.len(), 2);
        assert!(report.errors[1].undo);
        // The resumed boot ended last; the undo entries are not part of the measured run.
        assert_eq!(report.rto.measured_secs, Some(95.0));
    }

    #[test]
    fn a_drill_reports_its_proof() {
        let (plan, journal, record) = drill();
        let report = Report::build(&plan, &journal, &record);
        let drill = report.drill.expect("a drill's outcome");
        assert_eq!(drill.proof, record.proof);
        assert!(drill.left_on_target.is_empty());
    }

    #[test]
    fn an_operation_that_never_started_a_step_has_no_timings() {
        let (plan, _, record) = completed();
        let report = Report::build(&plan, &[], &record);
        assert!(report.critical_path.is_empty());
        assert_eq!(report.rto.measured_secs, None);
        assert!(report.steps.iter().all(|s| s.status == StepStatus::NotRun));
    }

    #[test]
    fn a_bar_is_one_character_at_least_and_stays_in_its_width() {
        assert_eq!(bar(0.0, 0.0, 0.0), format!("█{}", "░".repeat(39)));
        assert_eq!(bar(100.0, 0.0, 100.0), format!("{}█", "░".repeat(39)));
        assert_eq!(bar(0.0, 100.0, 100.0), "█".repeat(40));
        assert_eq!(
            bar(25.0, 50.0, 100.0),
            format!("{}{}{}", "░".repeat(10), "█".repeat(20), "░".repeat(10))
        );
    }
}
