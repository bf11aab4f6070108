//! How long a plan takes: the DAG run under concurrency budgets, simulated.
//!
//! The predicted RTO is not the bare critical path: the target cloud cannot boot a thousand
//! servers at once, so steps wait for a slot of their budget (Nova boots, Cinder manage, array
//! copies) and of the global parallelism, exactly as apply schedules them. Among ready steps the
//! one with the longest remaining path to the end goes first (the classic critical-path list
//! scheduling heuristic), ties broken by step id, so the simulation is deterministic.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::{Budget, Phase, Step};

/// Concurrency limits, global and per budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budgets {
    pub parallelism: usize,
    pub per_budget: BTreeMap<Budget, usize>,
}

impl Default for Budgets {
    /// Conservative defaults for one target cloud: enough to be fast, not enough to stampede.
    fn default() -> Self {
        Budgets {
            parallelism: 32,
            per_budget: BTreeMap::from([
                (Budget::NovaBoot, 10),
                (Budget::NovaOther, 20),
                (Budget::CinderManage, 8),
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
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    let micros = |secs: f64| (secs.max(0.0) * 1e6).round() as u64;
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
    let mut waiting_on = vec![0usize; steps.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (index, step) in steps.iter().enumerate() {
        for dependency in &step.depends_on {
            if let Some(&from) = index_of.get(dependency.as_str()) {
                waiting_on[index] += 1;
                dependents[from].push(index);
            }
        }
    }
    // Ready steps per budget: the longest remaining path first, then the earlier step.
    let mut ready: BTreeMap<Budget, BinaryHeap<(u64, Reverse<usize>)>> = BTreeMap::new();
    let push_ready = |ready: &mut BTreeMap<Budget, BinaryHeap<(u64, Reverse<usize>)>>,
                      index: usize| {
        ready
            .entry(steps[index].action.budget())
            .or_default()
            .push((priority[index], Reverse(index)));
    };
    for index in (0..steps.len()).filter(|&index| waiting_on[index] == 0) {
        push_ready(&mut ready, index);
    }
    let mut running: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut in_use: HashMap<Budget, usize> = HashMap::new();
    let mut now = 0u64;
    let parallelism = budgets.parallelism.max(1);
    loop {
        // Start the best ready step among budgets with a free slot, while slots remain.
        while running.len() < parallelism {
            let best = ready
                .iter()
                .filter(|(budget, heap)| {
                    !heap.is_empty()
                        && in_use.get(budget).copied().unwrap_or(0) < budgets.limit(**budget)
                })
                .filter_map(|(budget, heap)| heap.peek().map(|top| (*top, *budget)))
                .max();
            let Some((_, budget)) = best else { break };
            let Some((_, Reverse(index))) = ready.get_mut(&budget).and_then(BinaryHeap::pop) else {
                break;
            };
            *in_use.entry(budget).or_default() += 1;
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
            if let Some(used) = in_use.get_mut(&steps[index].action.budget()) {
                *used -= 1;
            }
            for &dependent in &dependents[index] {
                waiting_on[dependent] -= 1;
                if waiting_on[dependent] == 0 {
                    push_ready(&mut ready, dependent);
                }
            }
        }
    }
    now as f64 / 1e6
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
                availability_zone: None,
                metadata: BTreeMap::new(),
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
        let budgets = Budgets::default(); // 10 concurrent boots
        assert_eq!(makespan(&steps, &budgets), 90.0);
        let unlimited = Budgets {
            parallelism: 100,
            per_budget: BTreeMap::from([(Budget::NovaBoot, 100)]),
        };
        assert_eq!(makespan(&steps, &unlimited), 30.0);
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
