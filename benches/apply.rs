//! Apply at scale: a planned failover of a generated 500-member group (1,500 volumes) against
//! the twin in process, its latencies divided by a speed-up. Prints the measured wall time of
//! `apply::apply` (its own discovery and staleness check included) against the plan's
//! predicted RTO scaled by the same speed (target ratio <= 1.10), also with the snapshot's
//! transfer at the time it took (the plan estimates it from the last transfer); each kind of
//! step as it ran against its estimate; the phase-by-phase and one-step-at-a-time times
//! (targets >= 3x and >= 20x slower); and peak RSS.
//! Run with `cargo bench --bench apply` (`PROTECTOR_BENCH_SPEED=100` for another speed-up).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use protector::apply::executor::Event;
use protector::apply::{self, Observer, Options};
use protector::plan::schedule::{self, Budgets};
use protector::plan::{Action, FailoverType, OperationKind, PlanOptions, PlanRequest};
use protector::state::RecordedState;
use protector_twin::fixture;
use protector_twin::openstack::state::ServerStatus;

#[path = "support/rss.rs"]
mod rss;
#[path = "support/scale.rs"]
mod scale;
use rss::peak_rss_mb;
use scale::ScaleTwin;

const MEMBERS: usize = 500;
const VOLUMES: usize = 3;
/// The twin's speed-up: `PROTECTOR_BENCH_SPEED`, else 25. Every request costs the twin and apply
/// a few milliseconds of this 2-core machine whatever the speed; at 25 that is a small part of
/// a modelled step, at 100 it is a tenth of one (run both to see the difference).
fn bench_speed() -> f64 {
    std::env::var("PROTECTOR_BENCH_SPEED")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|speed: &f64| *speed > 0.0)
        .unwrap_or(25.0)
}

/// How long each step took, and what failed.
#[derive(Default)]
struct Timings {
    steps: BTreeMap<String, Duration>,
    failed: Vec<String>,
}

impl Observer for Timings {
    fn step(&mut self, event: &Event<'_>, _: bool, _: usize, _: usize) {
        match event {
            Event::Done { step, elapsed, .. } => {
                self.steps.insert(step.id.clone(), *elapsed);
            }
            Event::Failed { step, error, .. } => self.failed.push(format!("{}: {error}", step.id)),
            Event::Started { .. } | Event::Retrying { .. } => {}
        }
    }

    fn note(&mut self, _: &str) {}
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let speed = bench_speed();
    // 1 GiB volumes: the twin's scheduled transfers move every GiB the running members write
    // (2 s each at speed 1), which at the generated 10 GiB would load the machine for hours.
    let mut fixture = fixture::generate(MEMBERS, VOLUMES);
    for volume in fixture
        .sites
        .values_mut()
        .flat_map(|site| &mut site.instances)
        .flat_map(|instance| &mut instance.volumes)
    {
        volume.size_gb = 1;
    }
    let scale = ScaleTwin::start(&runtime, fixture, speed);
    let timeout = Duration::from_secs(30);
    let inventory = runtime.block_on(protector::inventory::discover::discover(
        &scale.spec,
        &scale.clouds,
        timeout,
    ));
    let state = RecordedState {
        sites: BTreeMap::from([("site-a".to_string(), None), ("site-b".to_string(), None)]),
        ..RecordedState::default()
    };
    let request = PlanRequest {
        operation: OperationKind::Failover,
        options: PlanOptions {
            failover_type: Some(FailoverType::Planned),
            ..PlanOptions::default()
        },
    };
    let plan = protector::plan::plan(&scale.spec, &inventory, &state, &request)
        .unwrap_or_else(|refusals| panic!("no plan: {refusals:?}"));
    let options = Options {
        budgets: Budgets::default(),
        timeout,
        step_timeout: apply::effects::DEFAULT_STEP_TIMEOUT,
        rollback_on_failure: false,
        command: "cargo bench --bench apply".to_string(),
    };
    let mut timings = Timings::default();
    let started = Instant::now();
    let applied = runtime
        .block_on(apply::apply(
            &scale.spec,
            &scale.clouds,
            &plan,
            &options,
            &mut timings,
        ))
        .unwrap_or_else(|refusal| panic!("apply refused: {}", refusal.message));
    let measured = started.elapsed().as_secs_f64();
    assert!(
        applied.report.succeeded(),
        "the failover failed: {:?}",
        timings.failed
    );
    let booted = scale
        .twin
        .world()
        .site("site-b")
        .expect("site-b")
        .lock(scale.twin.world())
        .compute
        .servers
        .values()
        .filter(|server| server.status == ServerStatus::Active)
        .count();
    assert_eq!(booted, MEMBERS, "every member ACTIVE on site-b");

    let scaled = |secs: f64| secs / speed;
    let budgets = Budgets::default();
    let predicted = scaled(plan.estimate.predicted_secs);
    println!(
        "planned failover of {MEMBERS} members / {} volumes ({} steps), twin in process at speed {speed}:",
        MEMBERS * VOLUMES,
        plan.steps.len()
    );
    println!(
        "  measured {measured:.2} s; predicted {predicted:.2} s; ratio {:.3} (target <= 1.10)",
        measured / predicted
    );
    // The one step whose duration depends on the data: the plan estimates the snapshot's
    // transfer from the last one (here the fixture's, which took no time: the default), the
    // twin moves what changed since. The same schedules with it as it ran tell how closely
    // apply follows the plan.
    let snapshot = plan
        .steps
        .iter()
        .find(|step| matches!(step.action, Action::SnapshotAndReplicate { .. }))
        .expect("a planned failover takes a snapshot");
    let transfer = timings.steps[&snapshot.id].as_secs_f64();
    let mut as_run = plan.steps.clone();
    for step in &mut as_run {
        if step.id == snapshot.id {
            step.estimate_secs = transfer * speed;
        }
    }
    let predicted_as_run = scaled(schedule::makespan(&as_run, &budgets));
    println!(
        "  {} took {transfer:.2} s, planned {:.2} s; predicted with it as it ran {predicted_as_run:.2} s; ratio {:.3}",
        snapshot.id,
        scaled(snapshot.estimate_secs),
        measured / predicted_as_run
    );
    // Where the time goes: each kind of step as it ran against its estimate.
    let mut kinds: BTreeMap<&str, (usize, f64, f64)> = BTreeMap::new();
    for step in &plan.steps {
        if let Some(took) = timings.steps.get(&step.id) {
            let kind = kinds.entry(step.action.kind()).or_default();
            kind.0 += 1;
            kind.1 += took.as_secs_f64();
            kind.2 += scaled(step.estimate_secs);
        }
    }
    for (kind, (count, took, planned)) in kinds {
        println!(
            "    {kind:<24} {count:>5} steps: {:>7.3} s each as run, {:>7.3} s planned",
            took / count as f64,
            planned / count as f64
        );
    }
    let (phase_by_phase, one_at_a_time) = (
        scaled(plan.estimate.phase_by_phase_secs),
        scaled(plan.estimate.one_at_a_time_secs),
    );
    println!(
        "  phase by phase {phase_by_phase:.2} s, one step at a time {one_at_a_time:.2} s: the plan is {:.2}x and {:.1}x faster (targets >= 3x, >= 20x)",
        phase_by_phase / predicted,
        one_at_a_time / predicted
    );
    let (phase_by_phase, one_at_a_time) = (
        scaled(schedule::phase_by_phase(&as_run, &budgets)),
        scaled(schedule::one_at_a_time(&as_run)),
    );
    println!(
        "  with the snapshot as it ran: phase by phase {phase_by_phase:.2} s, one step at a time {one_at_a_time:.2} s: measured is {:.2}x and {:.1}x faster",
        phase_by_phase / measured,
        one_at_a_time / measured
    );
    println!(
        "  peak RSS {:.0} MB (apply and the twin in one process)",
        peak_rss_mb()
    );
    scale.twin.shutdown();
}
