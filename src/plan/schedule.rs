//! How long a plan takes: the DAG run under concurrency budgets, simulated.
//!
//! The predicted RTO is not the bare critical path: the target cloud cannot boot a thousand
//! servers at once, so steps wait for a slot of their budget (Nova boots, Cinder manage, array
//! copies) and of the global parallelism, exactly as apply schedules them. Among ready steps the
//! one with the longest remaining path to the end goes first (the classic critical-path list
//! scheduling heuristic), ties broken by step id, so the simulation is deterministic.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use serde::{Deserialize, Serialize};

use super::{Budget, Phase, Step};

/// Concurrency limits: the global parallelism, and each budget on each site (every site is
/// its own cloud and array: a stop on the source does not take a slot of the target's Nova).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budgets {
    pub parallelism: usize,
    pub per_budget: BTreeMap<Budget, usize>,
}

impl Default for Budgets {
    /// Enough to be fast, not enough to stampede a site: 20 concurrent boots is two compute
    /// hosts' worth of Nova's own `max_concurrent_builds` (10), 16 manages keep Cinder's volume
    /// service well inside its RPC thread pool, and array copies are metadata operations.
    fn default() -> Self {
        Budgets {
            parallelism: 64,
            per_budget: BTreeMap::from([
                (Budget::NovaBoot, 20),
                (Budget::NovaOther, 20),
                (Budget::CinderManage, 16),
                (Budget::ArrayCopy, 16),
                (Budget::Other, 32),
            ]),
        }
    }
}

impl Budgets {
    pub fn limit(&self, budget: Budget) -> usize {
        self.per_budget
            .get(&budget)
            .copied()
            .unwrap_or(self.parallelism)
            .clamp(1, self.parallelism.max(1))
    }
}

/// Each step's longest path (its own duration included) to the end of the DAG.
pub fn remaining_path<'a>(steps: &[&'a Step]) -> HashMap<&'a str, f64> {
    let mut dependents: HashMap<&str, Vec<&Step>> = HashMap::new();
    for &step in steps {
        for dependency in &step.depends_on {
            dependents
                .entry(dependency.as_str())
                .or_default()
                .push(step);
        }
    }
    let mut remaining: HashMap<&str, f64> = HashMap::new();
    // Steps are in topological order: walk backwards so dependents are known first.
    for &step in steps.iter().rev() {
        let after = dependents
            .get(step.id.as_str())
            .map(|list| {
                list.iter()
                    .map(|dependent| remaining.get(dependent.id.as_str()).copied().unwrap_or(0.0))
                    .fold(0.0, f64::max)
            })
            .unwrap_or(0.0);
        remaining.insert(step.id.as_str(), step.estimate_secs + after);
    }
    remaining
}

/// Simulated wall time of running `steps` (in topological order) under `budgets`, in
/// O((steps + edges) log steps): heaps for ready and running steps, so plans of tens of
/// thousands of steps simulate in milliseconds.
pub fn makespan(steps: &[Step], budgets: &Budgets) -> f64 {
    let steps: Vec<&Step> = steps.iter().collect();
    makespan_of(&steps, budgets)
}

fn makespan_of(steps: &[&Step], budgets: &Budgets) -> f64 {
    let mut dispatcher = Dispatcher::new(steps, budgets, |_| false);
    let mut running: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut now = 0u64;
    loop {
        while let Some(index) = dispatcher.start_next() {
            running.push(Reverse((now + micros(steps[index].estimate_secs), index)));
        }
        let Some(Reverse((end, _))) = running.peek().copied() else {
            break; // Nothing runs and nothing can start: done, or a cycle.
        };
        now = end;
        while let Some(Reverse((end, index))) = running.peek().copied() {
            if end > now {
                break;
            }
            running.pop();
            dispatcher.finish(index);
        }
    }
    now as f64 / 1e6
}

fn micros(secs: f64) -> u64 {
    (secs.max(0.0) * 1e6).round() as u64
}

/// A site's budget: what a step takes a slot of.
type Slot<'a> = (&'a str, Budget);

/// Which step starts next: the one whose dependencies are done, whose budget and the global
/// parallelism have a free slot, and, among those, with the longest remaining path to the end
/// (then the earlier step). Shared by the RTO simulation and by apply's executor, so the
/// prediction schedules exactly as the real run does. O(log steps) per start and finish.
pub struct Dispatcher<'a> {
    steps: &'a [&'a Step],
    budgets: &'a Budgets,
    priority: Vec<u64>,
    waiting_on: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    /// Ready steps and slots in use per site and budget: each site is its own cloud and
    /// array, so a boot on one does not wait for a slot on the other.
    ready: BTreeMap<Slot<'a>, BinaryHeap<(u64, Reverse<usize>)>>,
    in_use: HashMap<Slot<'a>, usize>,
    running: usize,
}

impl<'a> Dispatcher<'a> {
    /// `steps` in topological order; steps for which `already_done` holds (a resumed run) are
    /// treated as finished and never handed out.
    pub fn new(
        steps: &'a [&'a Step],
        budgets: &'a Budgets,
        already_done: impl Fn(usize) -> bool,
    ) -> Dispatcher<'a> {
        let index_of: HashMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(index, step)| (step.id.as_str(), index))
            .collect();
        let priority: Vec<u64> = {
            let remaining = remaining_path(steps);
            steps
                .iter()
                .map(|step| micros(remaining[step.id.as_str()]))
                .collect()
        };
        let done: Vec<bool> = (0..steps.len()).map(&already_done).collect();
        let mut waiting_on = vec![0usize; steps.len()];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
        for (index, step) in steps.iter().enumerate() {
            for dependency in &step.depends_on {
                if let Some(&from) = index_of.get(dependency.as_str())
                    && !done[from]
                {
                    waiting_on[index] += 1;
                    dependents[from].push(index);
                }
            }
        }
        let mut dispatcher = Dispatcher {
            steps,
            budgets,
            priority,
            waiting_on,
            dependents,
            ready: BTreeMap::new(),
            in_use: HashMap::new(),
            running: 0,
        };
        for (index, done) in done.iter().enumerate() {
            if !done && dispatcher.waiting_on[index] == 0 {
                dispatcher.push_ready(index);
            }
        }
        dispatcher
    }

    fn slot(&self, index: usize) -> Slot<'a> {
        let step = self.steps[index];
        (step.site.as_str(), step.action.budget())
    }

    fn push_ready(&mut self, index: usize) {
        let slot = self.slot(index);
        self.ready
            .entry(slot)
            .or_default()
            .push((self.priority[index], Reverse(index)));
    }

    /// The best step that may start now, its slots taken; `None` when none may.
    pub fn start_next(&mut self) -> Option<usize> {
        if self.running >= self.budgets.parallelism.max(1) {
            return None;
        }
        let (_, slot) = self
            .ready
            .iter()
            .filter(|(slot, heap)| {
                !heap.is_empty()
                    && self.in_use.get(slot).copied().unwrap_or(0) < self.budgets.limit(slot.1)
            })
            .filter_map(|(slot, heap)| heap.peek().map(|top| (*top, *slot)))
            .max()?;
        let (_, Reverse(index)) = self.ready.get_mut(&slot)?.pop()?;
        *self.in_use.entry(slot).or_default() += 1;
        self.running += 1;
        Some(index)
    }

    /// A started step ended well: its slots are free and its dependents may become ready.
    pub fn finish(&mut self, index: usize) {
        self.release(index);
        for position in 0..self.dependents[index].len() {
            let dependent = self.dependents[index][position];
            self.waiting_on[dependent] -= 1;
            if self.waiting_on[dependent] == 0 {
                self.push_ready(dependent);
            }
        }
    }

    /// A started step ended without its dependents being allowed to run (it failed).
    pub fn release(&mut self, index: usize) {
        let slot = self.slot(index);
        if let Some(used) = self.in_use.get_mut(&slot) {
            *used = used.saturating_sub(1);
        }
        self.running = self.running.saturating_sub(1);
    }
}

/// The same steps with a barrier after each phase: every step of a phase waits for the whole
/// previous phase. This is how a runbook-driven failover runs.
pub fn phase_by_phase(steps: &[Step], budgets: &Budgets) -> f64 {
    let phases: BTreeSet<Phase> = steps.iter().map(|step| step.phase).collect();
    phases
        .into_iter()
        .map(|phase| {
            let in_phase: Vec<&Step> = steps.iter().filter(|step| step.phase == phase).collect();
            makespan_of(&in_phase, budgets)
        })
        .sum()
}

/// Every step one after the other.
pub fn one_at_a_time(steps: &[Step]) -> f64 {
    steps.iter().map(|step| step.estimate_secs).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;

    fn step(id: &str, phase: Phase, action: Action, secs: f64, depends_on: &[&str]) -> Step {
        Step {
            id: id.to_string(),
            phase,
            site: "site-b".to_string(),
            member: None,
            action,
            depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
            creates: Vec::new(),
            estimate_secs: secs,
        }
    }

    fn boot(id: &str, secs: f64, depends_on: &[&str]) -> Step {
        step(
            id,
            Phase::RecreateInstances,
            Action::BootInstance {
                name: id.to_string(),
                flavor: "f".to_string(),
                port_steps: Vec::new(),
                volume_steps: Vec::new(),
                key_name: None,
                metadata: BTreeMap::new(),
                availability_zone: None,
            },
            secs,
            depends_on,
        )
    }

    #[test]
    fn unconstrained_makespan_is_the_critical_path() {
        let steps = vec![
            step("a", Phase::Prepare, Action::CheckTarget, 2.0, &[]),
            boot("b", 30.0, &["a"]),
            boot("c", 10.0, &["a"]),
            step("d", Phase::Finalize, Action::Finalize, 1.0, &["b", "c"]),
        ];
        assert_eq!(makespan(&steps, &Budgets::default()), 33.0);
        assert_eq!(one_at_a_time(&steps), 43.0);
        let refs: Vec<&Step> = steps.iter().collect();
        assert_eq!(remaining_path(&refs)["a"], 33.0);
    }

    #[test]
    fn budgets_queue_steps() {
        let steps: Vec<Step> = (0..25)
            .map(|i| boot(&format!("boot-{i:02}"), 30.0, &[]))
            .collect();
        let budgets = Budgets::default(); // 20 concurrent boots
        assert_eq!(makespan(&steps, &budgets), 60.0);
        let unlimited = Budgets {
            parallelism: 100,
            per_budget: BTreeMap::from([(Budget::NovaBoot, 100)]),
        };
        assert_eq!(makespan(&steps, &unlimited), 30.0);
    }

    #[test]
    fn each_site_has_its_own_budgets() {
        let mut steps: Vec<Step> = (0..40)
            .map(|i| boot(&format!("boot-{i:02}"), 30.0, &[]))
            .collect();
        // 40 boots on one site wait for 20 slots twice; split over two sites, they do not.
        assert_eq!(makespan(&steps, &Budgets::default()), 60.0);
        for step in steps.iter_mut().skip(20) {
            step.site = "site-a".to_string();
        }
        assert_eq!(makespan(&steps, &Budgets::default()), 30.0);
    }

    #[test]
    fn phase_barriers_cost_time() {
        // Two chains: a short prepare then a long boot, and a long prepare then a short boot.
        let steps = vec![
            step("p1", Phase::Prepare, Action::CheckTarget, 1.0, &[]),
            step("p2", Phase::Prepare, Action::CheckTarget, 20.0, &[]),
            boot("b1", 20.0, &["p1"]),
            boot("b2", 1.0, &["p2"]),
        ];
        assert_eq!(makespan(&steps, &Budgets::default()), 21.0);
        assert_eq!(phase_by_phase(&steps, &Budgets::default()), 40.0);
    }

    #[test]
    fn a_dangling_cycle_does_not_hang() {
        let steps = vec![boot("x", 1.0, &["y"]), boot("y", 1.0, &["x"])];
        assert_eq!(makespan(&steps, &Budgets::default()), 0.0);
    }
}
