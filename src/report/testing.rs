//! Hand-built operations for the report's tests: a small failover that completed, the same
//! failover failed at a boot, and a drill proven clean, each with a journal at fixed times.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};

use crate::plan::{
    Action, Basis, DataLoss, Estimate, FORMAT_VERSION, FailoverType, GroupView, Operation,
    OperationKind, Phase, Plan, PlanOptions, ResourceRef, SnapshotSource, Step,
};
use crate::state::{CleanupProof, JournalEntry, JournalEvent, OperationRecord, OperationStatus};

pub const ID: &str = "op-0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5";
/// The drill's prefix: `drill-` and the first 8 hex digits of its id.
const PREFIX: &str = "drill-0c1d2e3f-";
const SNAPSHOT: &str = "fa-a:prod-web-app.7";
/// What the failed boot answered: a `|` and markup, as real error bodies carry.
const BOOT_ERROR: &str =
    "nova on site-b: POST /servers answered 500 | <h1>Internal Server Error</h1>";

/// When the first step started.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

pub fn entry(step: &str, event: JournalEvent, at: DateTime<Utc>) -> JournalEntry {
    JournalEntry {
        at,
        step: step.to_string(),
        event,
        created: BTreeMap::new(),
        error: None,
    }
}

pub fn failure(step: &str, event: JournalEvent, at: DateTime<Utc>) -> JournalEntry {
    JournalEntry {
        error: Some(BOOT_ERROR.to_string()),
        ..entry(step, event, at)
    }
}

fn step(id: &str, phase: Phase, action: Action, depends_on: &[&str], estimate: f64) -> Step {
    Step {
        id: id.to_string(),
        phase,
        site: "site-b".to_string(),
        member: id.split('/').nth(1).map(str::to_string),
        action,
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        creates: Vec::new(),
        estimate_secs: estimate,
    }
}

fn copy(member: &str, volume: &str) -> Action {
    Action::CopyVolume {
        array: "fa-b".to_string(),
        source: SnapshotSource::Named {
            snapshot: format!("{SNAPSHOT}.volume-{member}-0-cinder"),
        },
        volume: volume.to_string(),
    }
}

fn manage(array_volume: &str, name: &str) -> Action {
    Action::ManageVolume {
        cinder_host: "site-b@pure#fa-b".to_string(),
        array_volume: array_volume.to_string(),
        name: name.to_string(),
        volume_type: Some("pure-replicated".to_string()),
        bootable: true,
    }
}

fn boot(name: &str, member: &str) -> Action {
    Action::BootInstance {
        name: name.to_string(),
        flavor: "m2.large".to_string(),
        port_steps: Vec::new(),
        volume_steps: vec![format!("manage_volume/{member}/0")],
        key_name: None,
        metadata: BTreeMap::new(),
        availability_zone: None,
        server_group: None,
        tags: Vec::new(),
        description: None,
    }
}

fn plan(kind: OperationKind, steps: Vec<Step>, warnings: Vec<String>) -> Plan {
    let failover_type = (kind == OperationKind::Failover).then_some(FailoverType::Unplanned);
    let view = |status: &str| GroupView {
        status: status.to_string(),
        current_primary_site: "site-a".to_string(),
        members: BTreeMap::new(),
    };
    Plan {
        format_version: FORMAT_VERSION,
        protection_group: "prod-web-app".to_string(),
        spec_file: None,
        spec_sha256: None,
        protector_version: None,
        operation: Operation {
            id: ID.to_string(),
            kind,
            failover_type,
            source_site: "site-a".to_string(),
            target_site: "site-b".to_string(),
            supersedes: None,
        },
        options: PlanOptions {
            failover_type,
            ..PlanOptions::default()
        },
        basis: Basis {
            state_versions: BTreeMap::from([
                ("site-a".to_string(), Some(3)),
                ("site-b".to_string(), Some(3)),
            ]),
            inventory_fingerprint: "0".repeat(64),
        },
        steps,
        estimate: Estimate {
            predicted_secs: 112.0,
            phase_by_phase_secs: 140.0,
            one_at_a_time_secs: 127.0,
            rto_secs: 1800.0,
            measured: Vec::new(),
        },
        data_loss: Some(DataLoss {
            snapshot: Some(SNAPSHOT.to_string()),
            age_secs: 300.0,
            rpo_secs: 900.0,
            exceeds_rpo: false,
        }),
        warnings,
        before: view("active"),
        after: view("failed_over"),
    }
}

/// An unplanned failover of db-1 and web-1 (web-1 boots after db-1).
fn failover() -> Plan {
    let steps = vec![
        step(
            "check_target",
            Phase::ValidateTarget,
            Action::CheckTarget,
            &[],
            5.0,
        ),
        step(
            "copy_volume/db-1/0",
            Phase::PromoteVolumes,
            copy("db-1", "db-1-0-copy"),
            &["check_target"],
            30.0,
        ),
        step(
            "copy_volume/web-1/0",
            Phase::PromoteVolumes,
            copy("web-1", "web-1-0-copy"),
            &["check_target"],
            20.0,
        ),
        step(
            "manage_volume/db-1/0",
            Phase::ManageVolumes,
            manage("db-1-0-copy", "db-1-0"),
            &["copy_volume/db-1/0"],
            10.0,
        ),
        step(
            "manage_volume/web-1/0",
            Phase::ManageVolumes,
            manage("web-1-0-copy", "web-1-0"),
            &["copy_volume/web-1/0"],
            10.0,
        ),
        step(
            "boot_instance/db-1",
            Phase::RecreateInstances,
            boot("db-1", "db-1"),
            &["manage_volume/db-1/0"],
            30.0,
        ),
        step(
            "boot_instance/web-1",
            Phase::RecreateInstances,
            boot("web-1", "web-1"),
            &["manage_volume/web-1/0", "boot_instance/db-1"],
            20.0,
        ),
        step(
            "finalize",
            Phase::Finalize,
            Action::Finalize,
            &["boot_instance/web-1", "boot_instance/db-1"],
            2.0,
        ),
    ];
    plan(
        OperationKind::Failover,
        steps,
        vec![
            "site-a is unreachable: its instances are recorded for cleanup by sync-force"
                .to_string(),
        ],
    )
}

/// A journal of steps that ran from `start` to `end` seconds after [`t0`], failing when
/// `failed`: entries in time order, an end before a start at the same time (a dependent
/// starts once its dependency is recorded done).
fn journal(runs: &[(&str, i64, i64, bool)]) -> Vec<JournalEntry> {
    let mut entries: Vec<(i64, u8, JournalEntry)> = Vec::new();
    for &(step, start, end, failed) in runs {
        entries.push((start, 1, entry(step, JournalEvent::Started, at(start))));
        entries.push(if failed {
            (end, 0, failure(step, JournalEvent::Failed, at(end)))
        } else {
            (end, 0, entry(step, JournalEvent::Done, at(end)))
        });
    }
    entries.sort_by_key(|(secs, rank, _)| (*secs, *rank));
    entries.into_iter().map(|(_, _, entry)| entry).collect()
}

fn record(
    kind: &str,
    status: OperationStatus,
    plan: &Plan,
    journal: &[JournalEntry],
) -> OperationRecord {
    let progress = crate::state::journal::replay(journal);
    OperationRecord {
        id: ID.to_string(),
        kind: kind.to_string(),
        status,
        progress: progress.percent(plan.steps.len()),
        steps_completed: progress.done.iter().map(|(id, _)| id.clone()).collect(),
        steps_failed: progress.failed.iter().map(|(id, _)| id.clone()).collect(),
        error_message: (status == OperationStatus::Failed)
            .then(|| format!("boot_instance/db-1: {BOOT_ERROR}")),
        started_at: Some(t0() - chrono::Duration::seconds(1)),
        completed_at: journal
            .last()
            .map(|entry| entry.at + chrono::Duration::seconds(1)),
        source_site: "site-a".to_string(),
        target_site: "site-b".to_string(),
        left_on_target: Vec::new(),
        proof: None,
        rollback: None,
        rolls_back: None,
        superseded_by: None,
    }
}

pub fn completed() -> (Plan, Vec<JournalEntry>, OperationRecord) {
    let plan = failover();
    let journal = journal(&[
        ("check_target", 0, 5, false),
        ("copy_volume/db-1/0", 5, 35, false),
        ("copy_volume/web-1/0", 5, 25, false),
        ("manage_volume/db-1/0", 35, 45, false),
        ("manage_volume/web-1/0", 25, 35, false),
        ("boot_instance/db-1", 45, 75, false),
        ("boot_instance/web-1", 75, 98, false),
        ("finalize", 98, 100, false),
    ]);
    let record = record("failover", OperationStatus::Completed, &plan, &journal);
    (plan, journal, record)
}

pub fn failed() -> (Plan, Vec<JournalEntry>, OperationRecord) {
    let plan = failover();
    let journal = journal(&[
        ("check_target", 0, 5, false),
        ("copy_volume/db-1/0", 5, 35, false),
        ("copy_volume/web-1/0", 5, 25, false),
        ("manage_volume/db-1/0", 35, 45, false),
        ("manage_volume/web-1/0", 25, 35, false),
        ("boot_instance/db-1", 45, 75, true),
    ]);
    let record = record("failover", OperationStatus::Failed, &plan, &journal);
    (plan, journal, record)
}

/// A drill of db-1: copied, managed, booted, verified, removed, proven clean.
pub fn drill() -> (Plan, Vec<JournalEntry>, OperationRecord) {
    let name = |what: &str| format!("{PREFIX}{what}");
    let by_step = |step: &str| ResourceRef::Step {
        step: step.to_string(),
    };
    let steps = vec![
        step(
            "copy_volume/db-1/0",
            Phase::PromoteVolumes,
            copy("db-1", &name("db-1-0")),
            &[],
            30.0,
        ),
        step(
            "manage_volume/db-1/0",
            Phase::ManageVolumes,
            manage(&name("db-1-0"), &name("db-1-0")),
            &["copy_volume/db-1/0"],
            10.0,
        ),
        step(
            "boot_instance/db-1",
            Phase::RecreateInstances,
            boot(&name("db-1"), "db-1"),
            &["manage_volume/db-1/0"],
            30.0,
        ),
        step(
            "verify_instance/db-1",
            Phase::VerifyDrill,
            Action::VerifyInstance {
                name: name("db-1"),
                boot_step: "boot_instance/db-1".to_string(),
                profile: Default::default(),
            },
            &["boot_instance/db-1"],
            2.0,
        ),
        step(
            "delete_drill_instance/db-1",
            Phase::CleanupDrill,
            Action::RemoveInstance {
                name: name("db-1"),
                server: by_step("boot_instance/db-1"),
            },
            &["verify_instance/db-1"],
            5.0,
        ),
        step(
            "unmanage_drill_volume/db-1/0",
            Phase::CleanupDrill,
            Action::RemoveVolume {
                name: name("db-1-0"),
                volume: by_step("manage_volume/db-1/0"),
            },
            &["delete_drill_instance/db-1"],
            5.0,
        ),
        step(
            "destroy_drill_volume/db-1/0",
            Phase::CleanupDrill,
            Action::RemoveArrayVolume {
                array: "fa-b".to_string(),
                volume: name("db-1-0"),
                array_volume: by_step("copy_volume/db-1/0"),
                protection_group: None,
            },
            &["unmanage_drill_volume/db-1/0"],
            2.0,
        ),
        step(
            "prove_drill_clean",
            Phase::CleanupDrill,
            Action::ProveDrillClean {
                drill: ID.to_string(),
                prefix: PREFIX.to_string(),
                array_volumes: vec![by_step("copy_volume/db-1/0")],
            },
            &["destroy_drill_volume/db-1/0"],
            3.0,
        ),
    ];
    let plan = plan(OperationKind::Drill, steps, Vec::new());
    let journal = journal(&[
        ("copy_volume/db-1/0", 0, 30, false),
        ("manage_volume/db-1/0", 30, 40, false),
        ("boot_instance/db-1", 40, 70, false),
        ("verify_instance/db-1", 70, 72, false),
        ("delete_drill_instance/db-1", 72, 77, false),
        ("unmanage_drill_volume/db-1/0", 77, 82, false),
        ("destroy_drill_volume/db-1/0", 82, 84, false),
        ("prove_drill_clean", 84, 87, false),
    ]);
    let mut record = record("drill", OperationStatus::Completed, &plan, &journal);
    record.proof = Some(CleanupProof {
        drill: ID.to_string(),
        site: "site-b".to_string(),
        proven_at: at(87),
        listed: BTreeMap::from([
            ("array_volumes".to_string(), 9),
            ("cinder_volumes".to_string(), 4),
            ("ports".to_string(), 5),
            ("servers".to_string(), 3),
        ]),
        destroyed: vec![name("db-1-0")],
    });
    (plan, journal, record)
}
