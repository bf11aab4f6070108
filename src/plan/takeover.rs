//! A failover that takes over one that did not finish, and members already running on the
//! target.
//!
//! When the source is lost in the middle of a planned failover before its final snapshot was
//! replicated, that failover cannot finish as planned; an unplanned failover takes it over: it
//! recovers the newest replicated snapshot instead, removes what the interrupted operation left
//! on the target (its ports hold the members' addresses), and marks it superseded so it is
//! neither resumed nor rolled back afterwards. `--force` takes over an unfinished operation in
//! any state.
//!
//! Whatever the way there, a member that already runs on the target (booted by an interrupted
//! operation, or by hand) is adopted, never booted a second time: only with `--force` or in a
//! takeover; otherwise the plan is refused, naming the commands that finish or undo the
//! operation that booted it.

use std::collections::{BTreeMap, BTreeSet};

use super::recreate::MemberSource;
use super::{Action, OperationKind, Plan, Refusal, ResourceRef};
use crate::inventory::{Instance, SiteFacts};
use crate::state::{DrillResource, DrillResourceKind, OperationStatus, RecordedRun, RecordedState};

/// The failover or failback of the group that did not finish (its record is pending, running
/// or failed), towards `target`, with how far it got.
pub(super) fn unfinished<'a>(state: &'a RecordedState, target: &str) -> Option<&'a RecordedRun> {
    state.runs.values().find(|run| {
        let operation = &run.plan.operation;
        matches!(
            operation.kind,
            OperationKind::Failover | OperationKind::Failback
        ) && operation.target_site == target
            && state.record(&operation.id).is_some_and(|record| {
                record.superseded_by.is_none()
                    && matches!(
                        record.status,
                        OperationStatus::Pending
                            | OperationStatus::Running
                            | OperationStatus::Failed
                    )
            })
    })
}

/// Whether `run`'s final snapshot reached its target: from there it can finish on the target
/// alone (`apply --resume`), the source no longer needed.
pub(super) fn snapshot_replicated(run: &RecordedRun) -> bool {
    run.plan.steps.iter().any(|step| {
        matches!(step.action, Action::SnapshotAndReplicate { .. })
            && run.progress.created(&step.id).is_some()
    })
}

/// What an operation that takes over `run` does about it.
pub(super) struct Takeover<'a> {
    pub run: &'a RecordedRun,
    /// What `run` created on the target that no adopted member uses: removed first.
    pub leftovers: Vec<(DrillResource, ResourceRef)>,
    /// Addresses its leftover ports hold, free once they are removed.
    pub freed_ips: BTreeSet<String>,
}

impl<'a> Takeover<'a> {
    pub fn new(run: &'a RecordedRun, adopted: &BTreeMap<String, &Instance>) -> Takeover<'a> {
        let target = &run.plan.operation.target_site;
        let touched = run.progress.touched();
        let mut leftovers = Vec::new();
        let mut freed_ips = BTreeSet::new();
        for step in &run.plan.steps {
            let ours = step.site == *target
                && touched.contains(step.id.as_str())
                && !step
                    .member
                    .as_deref()
                    .is_some_and(|member| adopted.contains_key(member));
            // A server group the earlier run made stays: the new plan finds it on the target
            // and boots the members into it (and it may hold members adopted where they run).
            let Some((kind, _)) = step
                .action
                .creation()
                .filter(|(kind, _)| ours && *kind != DrillResourceKind::ServerGroup)
            else {
                continue;
            };
            if let Action::CreatePort {
                fixed_ip: Some(ip), ..
            } = &step.action
            {
                freed_ips.insert(ip.clone());
            }
            let id = run
                .progress
                .created(&step.id)
                .and_then(|created| created.get(kind.output()).cloned());
            let reference = match &id {
                Some(id) => ResourceRef::Recorded { id: id.clone() },
                None => ResourceRef::Marker {
                    operation: run.plan.operation.id.clone(),
                    step: step.id.clone(),
                },
            };
            if let Some(resource) = step.drill_resource(id) {
                leftovers.push((resource, reference));
            }
        }
        Takeover {
            run,
            leftovers,
            freed_ips,
        }
    }

    pub fn operation(&self) -> &str {
        &self.run.plan.operation.id
    }
}

/// The members that already run on the target: adopted when `adopt` (a takeover, `--force`),
/// else refused with the way to finish or undo what booted them. One there but not running
/// (stopped, failed, still building) is refused either way: it must be started or removed first.
pub(super) fn adopted<'a>(
    members: &[MemberSource],
    target: &str,
    facts: &'a SiteFacts,
    unfinished: Option<&Plan>,
    adopt: bool,
    refusals: &mut Vec<Refusal>,
    warnings: &mut Vec<String>,
) -> BTreeMap<String, &'a Instance> {
    let mut adopted = BTreeMap::new();
    for member in members {
        let Some(instance) = facts.instances.get(member.name) else {
            continue;
        };
        let booted_by = instance
            .metadata
            .get("protector_operation")
            .map(|operation| format!(", booted by {operation}"))
            .unwrap_or_default();
        if instance.status != "ACTIVE" {
            refusals.push(Refusal {
                message: format!(
                    "member `{}` already has an instance on {target} ({}, {}{booted_by})",
                    member.name, instance.id, instance.status
                ),
                hint: format!(
                    "start it or remove it on {target} first; protector never boots a member twice"
                ),
            });
        } else if adopt {
            warnings.push(format!(
                "`{}` already runs on {target} ({}{booted_by}): adopted, not booted again",
                member.name, instance.id
            ));
            adopted.insert(member.name.to_string(), instance);
        } else {
            refusals.push(Refusal {
                message: format!(
                    "member `{}` already runs on {target} ({}{booted_by})",
                    member.name, instance.id
                ),
                hint: match unfinished {
                    Some(plan) => format!(
                        "finish {0} with `protector apply --resume {0}`, or undo it with `protector rollback {0}`; --force adopts what runs (never boots a member twice)",
                        plan.operation.id
                    ),
                    None => format!(
                        "remove it from {target}, or pass --force to adopt it (protector never boots a member twice)"
                    ),
                },
            });
        }
    }
    adopted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::SiteInventory;
    use crate::plan::testing::*;
    use crate::plan::{FailoverType, plan as make_plan};
    use crate::state::GroupStatus;
    use crate::state::journal::{Created, Progress};

    /// A planned failover interrupted after `done` (its ids recorded), its source then lost.
    fn interrupted(done: &[&str]) -> (Plan, RecordedState, crate::inventory::Inventory) {
        let inventory = inventory();
        let planned = make_plan(
            &example_spec(),
            &inventory,
            &no_state(),
            &request(FailoverType::Planned),
        )
        .unwrap();
        let mut state = recorded(&inventory);
        let progress = Progress {
            done: done
                .iter()
                .map(|step| {
                    let created = Created::from([
                        ("port".to_string(), format!("{step}-port")),
                        ("server".to_string(), format!("{step}-server")),
                    ]);
                    (step.to_string(), created)
                })
                .collect(),
            ..Progress::default()
        };
        for doc in state.sites.values_mut().flatten() {
            doc.status = GroupStatus::FailingOver;
            doc.operations
                .push(record_of(&planned, OperationStatus::Running));
        }
        state.runs.insert(
            planned.operation.id.clone(),
            RecordedRun {
                plan: planned.clone(),
                progress,
            },
        );
        let mut down = inventory;
        site_a_down(&mut down);
        (planned, state, down)
    }

    #[test]
    fn an_unplanned_failover_takes_over_one_whose_snapshot_never_arrived() {
        let (planned, state, inventory) =
            interrupted(&["check_target", "create_port/db-1/0", "stop_instance/db-1"]);
        let plan = make_plan(
            &example_spec(),
            &inventory,
            &state,
            &request(FailoverType::Unplanned),
        )
        .expect("takes over");
        assert_eq!(
            plan.operation.supersedes.as_deref(),
            Some(planned.operation.id.as_str())
        );
        // Its port goes first (it holds the address db-1 keeps), under an id of its own.
        let removal = plan.step("takeover/delete_port/db-1/0").unwrap();
        assert_eq!(
            removal.action,
            Action::RemovePort {
                name: "db-1-port-0".to_string(),
                port: ResourceRef::Recorded {
                    id: "create_port/db-1/0-port".to_string()
                },
            }
        );
        assert!(crate::plan::testing::depends(
            &plan,
            "create_port/db-1/0",
            "takeover/delete_port/db-1/0"
        ));
        match &plan.step("create_port/db-1/0").unwrap().action {
            Action::CreatePort { fixed_ip, .. } => {
                assert_eq!(fixed_ip.as_deref(), Some("10.10.2.10"))
            }
            other => panic!("{other:?}"),
        }
        assert!(plan.warnings.iter().any(|w| w.starts_with("takes over")));
    }

    #[test]
    fn one_whose_snapshot_arrived_finishes_instead_and_force_adopts_what_runs() {
        let (planned, state, mut inventory) = interrupted(&[
            "check_target",
            "snapshot/prod-web-app",
            "boot_instance/db-1",
        ]);
        // db-1 runs on site-b, booted by the interrupted failover.
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-b").unwrap() {
            let mut running = recorded(&crate::plan::testing::inventory()).sites["site-a"]
                .as_ref()
                .unwrap()
                .members["db-1"]
                .last_known
                .clone()
                .unwrap();
            running.id = "db-1-on-b".to_string();
            running.metadata.insert(
                "protector_operation".to_string(),
                planned.operation.id.clone(),
            );
            facts.instances.insert("db-1".to_string(), running);
        }
        let refusals = make_plan(
            &example_spec(),
            &inventory,
            &state,
            &request(FailoverType::Unplanned),
        )
        .unwrap_err();
        assert!(
            refusals.iter().any(|r| r.hint.contains(&format!(
                "protector apply --resume {}",
                planned.operation.id
            ))),
            "{refusals:?}"
        );
        let mut forced = request(FailoverType::Unplanned);
        forced.options.force = true;
        forced.options.accept_data_loss = true;
        let plan = make_plan(&example_spec(), &inventory, &state, &forced).expect("plans");
        assert!(
            plan.step("boot_instance/db-1").is_none(),
            "never booted twice"
        );
        assert!(plan.step("boot_instance/web-1").is_some());
        // web-1 no longer waits for a db-1 boot of this plan: db-1 already runs.
        assert!(
            !plan
                .step("boot_instance/web-1")
                .unwrap()
                .depends_on
                .iter()
                .any(|d| d.contains("db-1") || d == "tier_active/1")
        );
        assert_eq!(plan.after.members["db-1"].site, "site-b");
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("adopted, not booted again"))
        );
    }
}
