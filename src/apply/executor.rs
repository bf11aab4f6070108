//! Running a plan's DAG: every step starts as soon as its dependencies are done and its
//! concurrency budget has a slot (no phase barriers), exactly as the plan's RTO simulation
//! schedules it ([`Dispatcher`]).
//!
//! The executor knows nothing about sites: a [`Runner`] performs one step, and every start and
//! end is reported through `on_event` *before* the executor moves on, so the caller journals
//! "started" to disk before the step acts and "done" before any dependent starts. A journal
//! that cannot be written stops the run like a failed step. Tested here with a fake runner.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::plan::Step;
use crate::plan::schedule::{Budgets, Dispatcher};

pub use crate::state::journal::Created;

/// What the finished steps of this operation created, by step id. Shared with running steps,
/// which read what their dependencies made (a boot reads the ids of its managed volumes).
#[derive(Debug, Clone, Default)]
pub struct Outputs(Arc<Mutex<BTreeMap<String, Created>>>);

impl Outputs {
    pub fn new(done: BTreeMap<String, Created>) -> Outputs {
        Outputs(Arc::new(Mutex::new(done)))
    }

    /// The id of the `kind` resource step `step` created.
    pub fn get(&self, step: &str, kind: &str) -> Option<String> {
        self.lock()
            .get(step)
            .and_then(|created| created.get(kind).cloned())
    }

    pub fn all(&self) -> BTreeMap<String, Created> {
        self.lock().clone()
    }

    fn insert(&self, step: &str, created: Created) {
        self.lock().insert(step.to_string(), created);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Created>> {
        // A panic while holding this lock cannot leave the map half-written: inserts are atomic.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Where a running step tells of an attempt that failed and that it tries again (a boot that
/// Nova could not place): the executor reports it through `on_event` like a start or an end.
#[derive(Debug, Clone)]
pub struct Attempts(tokio::sync::mpsc::UnboundedSender<(String, u32, String)>);

impl Attempts {
    /// Attempt `attempt` (1 for the first) of `step` failed with `error`; another follows.
    pub fn failed(&self, step: &Step, attempt: u32, error: &str) {
        // The receiver lives as long as the run: a send only fails once it is over.
        let _ = self.0.send((step.id.clone(), attempt, error.to_string()));
    }
}

/// Performs one step.
pub trait Runner {
    fn run(
        &self,
        step: &Step,
        outputs: &Outputs,
        attempts: &Attempts,
    ) -> impl Future<Output = Result<Created, String>>;
}

/// A step's start or end, as the caller journals and displays it.
#[derive(Debug)]
pub enum Event<'a> {
    Started {
        step: &'a Step,
    },
    Done {
        step: &'a Step,
        created: &'a Created,
        elapsed: Duration,
    },
    Failed {
        step: &'a Step,
        error: &'a str,
        elapsed: Duration,
    },
    /// Attempt `attempt` of a running step failed; the step tries again.
    Retrying {
        step: &'a Step,
        attempt: u32,
        error: &'a str,
    },
}

/// How failures affect the rest of the run.
#[derive(Debug, Clone, Default)]
pub struct FailurePolicy {
    /// Steps whose failures do not stop the run and do not hold back their dependents: those
    /// that need a site that is down (unplanned failover: the source; what fails there is
    /// recorded for `sync-force`).
    pub tolerated: BTreeSet<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Steps done, by this run or an earlier one, in the order they finished.
    pub completed: Vec<String>,
    pub failed: Vec<(String, String)>,
    /// Steps that never started (their dependencies failed, or the run stopped).
    pub not_run: Vec<String>,
    /// Why the run stopped other than a failed step (the journal could not be written).
    pub aborted: Option<String>,
    pub outputs: BTreeMap<String, Created>,
}

impl Report {
    /// Every step is done, none failed.
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.not_run.is_empty() && self.aborted.is_none()
    }
}

/// Runs `steps` (in topological order). Steps in `done` (from the journal of an earlier,
/// interrupted run) are not run again; their outputs are available to the others.
pub async fn execute<R: Runner>(
    steps: &[Step],
    done: BTreeMap<String, Created>,
    budgets: &Budgets,
    policy: &FailurePolicy,
    runner: &R,
    on_event: &mut dyn FnMut(Event<'_>) -> Result<(), String>,
) -> Report {
    let refs: Vec<&Step> = steps.iter().collect();
    let mut completed: Vec<String> = steps
        .iter()
        .filter(|step| done.contains_key(&step.id))
        .map(|step| step.id.clone())
        .collect();
    let outputs = Outputs::new(done);
    let mut dispatcher = {
        let outputs = outputs.lock();
        Dispatcher::new(&refs, budgets, |index| {
            outputs.contains_key(&steps[index].id)
        })
    };
    let mut failed = Vec::new();
    let mut aborted = None;
    let mut stopping = false;
    let (sender, mut retries) = tokio::sync::mpsc::unbounded_channel();
    let attempts = Attempts(sender);
    let mut running = FuturesUnordered::new();
    // Journals a failed attempt; a journal that cannot be written stops the run.
    let retried = |(id, attempt, error): (String, u32, String),
                   on_event: &mut dyn FnMut(Event<'_>) -> Result<(), String>|
     -> Result<(), String> {
        match steps.iter().find(|step| step.id == id) {
            Some(step) => on_event(Event::Retrying {
                step,
                attempt,
                error: &error,
            }),
            None => Ok(()),
        }
    };
    loop {
        while !stopping && let Some(index) = dispatcher.start_next() {
            let step = &steps[index];
            if let Err(error) = on_event(Event::Started { step }) {
                dispatcher.release(index);
                aborted = Some(error);
                stopping = true;
                break;
            }
            let (outputs, attempts) = (&outputs, &attempts);
            running.push(async move {
                let started = Instant::now();
                let result = runner.run(step, outputs, attempts).await;
                (index, result, started.elapsed())
            });
        }
        let finished = tokio::select! {
            biased;
            Some(retry) = retries.recv() => {
                if let Err(error) = retried(retry, on_event) {
                    aborted.get_or_insert(error);
                    stopping = true;
                }
                continue;
            }
            finished = running.next() => finished,
        };
        // A step's failed attempts are reported before its end.
        while let Ok(retry) = retries.try_recv() {
            if let Err(error) = retried(retry, on_event) {
                aborted.get_or_insert(error);
                stopping = true;
            }
        }
        let Some((index, result, elapsed)) = finished else {
            break;
        };
        let step = &steps[index];
        match result {
            Ok(created) => {
                let recorded = on_event(Event::Done {
                    step,
                    created: &created,
                    elapsed,
                });
                outputs.insert(&step.id, created);
                completed.push(step.id.clone());
                match recorded {
                    Ok(()) => dispatcher.finish(index),
                    Err(error) => {
                        dispatcher.release(index);
                        aborted.get_or_insert(error);
                        stopping = true;
                    }
                }
            }
            Err(error) => {
                let recorded = on_event(Event::Failed {
                    step,
                    error: &error,
                    elapsed,
                });
                failed.push((step.id.clone(), error));
                if let Err(error) = recorded {
                    aborted.get_or_insert(error);
                    stopping = true;
                }
                if !stopping && policy.tolerated.contains(&step.id) {
                    dispatcher.finish(index);
                } else {
                    dispatcher.release(index);
                    stopping = true;
                }
            }
        }
    }
    let finished: BTreeSet<&str> = completed
        .iter()
        .map(String::as_str)
        .chain(failed.iter().map(|(id, _)| id.as_str()))
        .collect();
    let not_run = steps
        .iter()
        .filter(|step| !finished.contains(step.id.as_str()))
        .map(|step| step.id.clone())
        .collect();
    Report {
        completed,
        failed,
        not_run,
        aborted,
        outputs: outputs.all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Phase};
    use std::cell::RefCell;

    fn step(id: &str, site: &str, depends_on: &[&str]) -> Step {
        Step {
            id: id.to_string(),
            phase: Phase::Prepare,
            site: site.to_string(),
            member: None,
            action: Action::CheckTarget,
            depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
            creates: Vec::new(),
            estimate_secs: 1.0,
        }
    }

    /// Records the order steps start in and how many run at once; fails the named steps.
    #[derive(Default)]
    struct Fake {
        failing: Vec<&'static str>,
        /// Steps that report two failed attempts before they succeed.
        flaky: Vec<&'static str>,
        started: RefCell<Vec<String>>,
        running: RefCell<usize>,
        most_at_once: RefCell<usize>,
    }

    impl Runner for Fake {
        async fn run(
            &self,
            step: &Step,
            outputs: &Outputs,
            attempts: &Attempts,
        ) -> Result<Created, String> {
            self.started.borrow_mut().push(step.id.clone());
            *self.running.borrow_mut() += 1;
            let now = *self.running.borrow();
            let most = (*self.most_at_once.borrow()).max(now);
            *self.most_at_once.borrow_mut() = most;
            tokio::task::yield_now().await;
            *self.running.borrow_mut() -= 1;
            // Every finished dependency's output is visible to the step.
            for dependency in &step.depends_on {
                let failed = self.failing.contains(&dependency.as_str());
                if !failed && outputs.get(dependency, "made").is_none() {
                    return Err(format!("{dependency} output missing"));
                }
            }
            if self.failing.contains(&step.id.as_str()) {
                return Err(format!("{} broke", step.id));
            }
            if self.flaky.contains(&step.id.as_str()) {
                attempts.failed(step, 1, "no valid host");
                tokio::task::yield_now().await;
                attempts.failed(step, 2, "no valid host");
            }
            Ok(Created::from([(
                "made".to_string(),
                format!("{}-id", step.id),
            )]))
        }
    }

    fn run(
        steps: &[Step],
        done: BTreeMap<String, Created>,
        policy: &FailurePolicy,
        fake: &Fake,
    ) -> (Report, Vec<String>) {
        let mut events = Vec::new();
        let report = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(execute(
                steps,
                done,
                &Budgets::default(),
                policy,
                fake,
                &mut |event| {
                    events.push(match event {
                        Event::Started { step } => format!("start {}", step.id),
                        Event::Done { step, .. } => format!("done {}", step.id),
                        Event::Failed { step, error, .. } => format!("fail {}: {error}", step.id),
                        Event::Retrying {
                            step,
                            attempt,
                            error,
                        } => format!("retry {} #{attempt}: {error}", step.id),
                    });
                    Ok(())
                },
            ));
        (report, events)
    }

    #[test]
    fn failed_attempts_are_reported_between_the_start_and_the_end_of_their_step() {
        let steps = vec![step("a", "b", &[]), step("b", "b", &["a"])];
        let fake = Fake {
            flaky: vec!["a"],
            ..Fake::default()
        };
        let (report, events) = run(&steps, BTreeMap::new(), &FailurePolicy::default(), &fake);
        assert!(report.succeeded());
        assert_eq!(
            events,
            [
                "start a",
                "retry a #1: no valid host",
                "retry a #2: no valid host",
                "done a",
                "start b",
                "done b"
            ]
        );
    }

    #[test]
    fn dependencies_finish_before_dependents_start() {
        let steps = vec![
            step("a", "b", &[]),
            step("b", "b", &["a"]),
            step("c", "b", &["a"]),
            step("d", "b", &["b", "c"]),
        ];
        let fake = Fake::default();
        let (report, events) = run(&steps, BTreeMap::new(), &FailurePolicy::default(), &fake);
        assert!(report.succeeded(), "{report:?}");
        let position = |event: &str| events.iter().position(|e| e == event).unwrap();
        assert!(position("done a") < position("start b"));
        assert!(position("done b") < position("start d"));
        assert!(position("done c") < position("start d"));
        assert_eq!(*fake.most_at_once.borrow(), 2, "b and c run together");
        assert_eq!(report.outputs["d"]["made"], "d-id");
    }

    #[test]
    fn a_failure_stops_new_steps_and_leaves_dependents_unrun() {
        let steps = vec![
            step("a", "b", &[]),
            step("b", "b", &["a"]),
            step("c", "b", &["b"]),
        ];
        let fake = Fake {
            failing: vec!["b"],
            ..Fake::default()
        };
        let (report, _) = run(&steps, BTreeMap::new(), &FailurePolicy::default(), &fake);
        assert_eq!(report.completed, vec!["a"]);
        assert_eq!(
            report.failed,
            vec![("b".to_string(), "b broke".to_string())]
        );
        assert_eq!(report.not_run, vec!["c"]);
        assert!(!report.succeeded());
    }

    #[test]
    fn failures_of_tolerated_steps_do_not_stop_the_run() {
        let steps = vec![
            step("source-cleanup", "site-a", &[]),
            step("target", "site-b", &["source-cleanup"]),
        ];
        let fake = Fake {
            failing: vec!["source-cleanup"],
            ..Fake::default()
        };
        let policy = FailurePolicy {
            tolerated: BTreeSet::from(["source-cleanup".to_string()]),
        };
        let (report, _) = run(&steps, BTreeMap::new(), &policy, &fake);
        assert_eq!(report.completed, vec!["target"]);
        assert_eq!(report.failed.len(), 1);
        assert!(report.not_run.is_empty());
    }

    #[test]
    fn a_resumed_run_skips_what_the_journal_says_is_done() {
        let steps = vec![step("a", "b", &[]), step("b", "b", &["a"])];
        let done = BTreeMap::from([(
            "a".to_string(),
            Created::from([("made".to_string(), "a-id".to_string())]),
        )]);
        let fake = Fake::default();
        let (report, _) = run(&steps, done, &FailurePolicy::default(), &fake);
        assert_eq!(*fake.started.borrow(), vec!["b"]);
        assert_eq!(report.completed, vec!["a", "b"]);
    }

    #[test]
    fn a_journal_that_cannot_be_written_stops_the_run() {
        let steps = vec![step("a", "b", &[]), step("b", "b", &["a"])];
        let fake = Fake::default();
        let report = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(execute(
                &steps,
                BTreeMap::new(),
                &Budgets::default(),
                &FailurePolicy::default(),
                &fake,
                &mut |event| match event {
                    Event::Done { .. } => Err("disk full".to_string()),
                    _ => Ok(()),
                },
            ));
        assert_eq!(report.aborted.as_deref(), Some("disk full"));
        assert_eq!(report.not_run, vec!["b"]);
        assert!(fake.started.borrow().iter().all(|id| id == "a"));
    }
}
