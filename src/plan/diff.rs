//! The change a plan makes, as people review it: the protection group before and after as YAML,
//! diffed line by line, under a Terraform-like summary line.

use std::collections::BTreeMap;

use similar::{ChangeTag, TextDiff};

use super::{Action, GroupView, OperationKind, Plan};

/// One line of the diff: `' '` unchanged, `'-'` removed, `'+'` added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub tag: char,
    pub text: String,
}

/// As a unified diff writes it: the tag, then the text.
impl std::fmt::Display for DiffLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.tag, self.text)
    }
}

/// Unified-diff hunks of two texts, with `context` unchanged lines around changes.
fn hunks(before: &str, after: &str, context: usize) -> Vec<Vec<DiffLine>> {
    let diff = TextDiff::from_lines(before, after);
    diff.grouped_ops(context)
        .iter()
        .map(|group| {
            group
                .iter()
                .flat_map(|op| diff.iter_changes(op))
                .map(|change| DiffLine {
                    tag: match change.tag() {
                        ChangeTag::Equal => ' ',
                        ChangeTag::Delete => '-',
                        ChangeTag::Insert => '+',
                    },
                    text: change.value().trim_end_matches('\n').to_string(),
                })
                .collect()
        })
        .collect()
}

/// The diff of the group before and after: its own fields, then each member on its own (so the
/// diff of ten thousand members costs ten thousand small diffs, not one quadratic one).
pub fn group_diff(plan: &Plan, context: usize) -> Vec<Vec<DiffLine>> {
    let top = |view: &GroupView| {
        format!(
            "status: {}\ncurrent_primary_site: {}\n",
            view.status, view.current_primary_site
        )
    };
    let mut all = hunks(&top(&plan.before), &top(&plan.after), context);
    let names: std::collections::BTreeSet<&String> = plan
        .before
        .members
        .keys()
        .chain(plan.after.members.keys())
        .collect();
    for name in names {
        let member = |view: &GroupView| {
            view.members
                .get(name)
                .map(|member| {
                    let yaml = crate::yaml::to_string(&BTreeMap::from([(name, member)]))
                        .unwrap_or_default();
                    yaml.lines()
                        .map(|line| format!("  {line}\n"))
                        .collect::<String>()
                })
                .unwrap_or_default()
        };
        all.extend(hunks(&member(&plan.before), &member(&plan.after), context));
    }
    all
}

/// What the summary counts, in the order it names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    CreateServerGroup,
    Recreate,
    Manage,
    Stop,
    Remove,
    Unmanage,
    CreateGroup,
    Protect,
    Replication,
    Record,
    DrillBoot,
    DrillCopy,
    Verify,
    DrillRemove,
    Prove,
    StopRecovered,
    Restore,
    RemoveCreated,
    ProveRolledBack,
}

impl Change {
    fn of(action: &Action, kind: &OperationKind) -> Option<Change> {
        let drill = *kind == OperationKind::Drill;
        Some(match action {
            Action::BootInstance { .. } if drill => Change::DrillBoot,
            Action::ManageVolume { .. } if drill => Change::DrillCopy,
            Action::BootInstance { .. } => Change::Recreate,
            Action::ManageVolume { .. } => Change::Manage,
            Action::StopInstance { .. } => Change::Stop,
            Action::DeleteInstance { .. } => Change::Remove,
            Action::UnmanageVolume { .. } => Change::Unmanage,
            Action::CreateProtectionGroup { .. } => Change::CreateGroup,
            Action::CreateServerGroup { .. } => Change::CreateServerGroup,
            Action::AddVolumesToGroup { volumes, .. } if !volumes.is_empty() => Change::Protect,
            Action::SetReplicationSchedule { .. }
            | Action::AddTarget { .. }
            | Action::AllowTarget { .. } => Change::Replication,
            Action::Finalize if *kind == OperationKind::Converge => Change::Record,
            Action::VerifyInstance { .. } => Change::Verify,
            Action::RemoveInstance { .. }
            | Action::RemovePort { .. }
            | Action::RemoveVolume { .. }
            | Action::RemoveArrayVolume { .. }
            | Action::RemoveServerGroup { .. }
                if *kind == OperationKind::Rollback =>
            {
                Change::RemoveCreated
            }
            Action::RemoveInstance { .. }
            | Action::RemovePort { .. }
            | Action::RemoveVolume { .. }
            | Action::RemoveArrayVolume { .. }
            | Action::RemoveServerGroup { .. } => Change::DrillRemove,
            Action::ProveDrillClean { .. } => Change::Prove,
            Action::StopRecovered { .. } => Change::StopRecovered,
            Action::RestoreInstance { .. } => Change::Restore,
            Action::ProveRolledBack { .. } => Change::ProveRolledBack,
            _ => return None,
        })
    }

    fn describe(self, count: usize, site: &str) -> String {
        let plural = |word: &str| format!("{count} {word}{}", if count == 1 { "" } else { "s" });
        match self {
            Change::Recreate => format!("{} to recreate on {site}", plural("instance")),
            Change::Manage => format!("{} to promote and manage on {site}", plural("volume")),
            Change::Stop => format!("{} to stop on {site}", plural("instance")),
            Change::Remove => format!("{} to remove from {site}", plural("instance")),
            Change::Unmanage => format!(
                "{} to unmanage on {site} (array data kept)",
                plural("volume")
            ),
            Change::CreateServerGroup => format!("{} to create on {site}", plural("server group")),
            Change::CreateGroup => format!("a protection group to create on {site}"),
            Change::Protect => format!("member volumes to add to the protection group on {site}"),
            Change::Replication => format!("{} to update on {site}", plural("replication setting")),
            Change::Record => "the members to record in both sites' state".to_string(),
            Change::DrillBoot => format!("{} to boot on {site}", plural("drill instance")),
            Change::DrillCopy => format!(
                "{count} snapshot {} to manage on {site}",
                if count == 1 { "copy" } else { "copies" }
            ),
            Change::Verify => format!("{} to verify on {site}", plural("instance")),
            Change::DrillRemove => format!("{} to remove from {site}", plural("drill resource")),
            Change::Prove => format!("a proof that nothing of the drill is left on {site}"),
            Change::StopRecovered => format!("{} to stop on {site}", plural("recovered instance")),
            Change::Restore => format!("{} to run again on {site}", plural("instance")),
            Change::RemoveCreated => format!(
                "{} the operation created to remove from {site}",
                plural("resource")
            ),
            Change::ProveRolledBack => {
                format!("a proof that nothing of the operation is left on {site}")
            }
        }
    }
}

/// "Plan: 3 instances to recreate on site-b, 4 volumes to promote and manage, ..."
pub fn summary(plan: &Plan) -> String {
    let mut counts: BTreeMap<(Change, &str), usize> = BTreeMap::new();
    for step in &plan.steps {
        if let Some(change) = Change::of(&step.action, &plan.operation.kind) {
            *counts.entry((change, step.site.as_str())).or_default() += 1;
        }
    }
    if counts.is_empty() {
        return "No changes. The protection group matches the spec.".to_string();
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|((change, site), count)| change.describe(*count, site))
        .collect();
    format!("Plan: {}.", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{
        Basis, Estimate, FORMAT_VERSION, MemberView, Operation, OperationKind, PlanOptions,
    };

    fn member(site: &str, flavor: &str, ip: &str) -> MemberView {
        MemberView {
            site: site.to_string(),
            instance: "db-1".to_string(),
            flavor: flavor.to_string(),
            networks: vec![format!("net = {ip}")],
            volumes: vec!["v1".to_string()],
            security_groups: Vec::new(),
            availability_zone: None,
            key_name: None,
            server_group: None,
            tags: Vec::new(),
            description: None,
        }
    }

    fn plan() -> Plan {
        Plan {
            format_version: FORMAT_VERSION,
            protection_group: "pg".to_string(),
            spec_file: None,
            spec_sha256: None,
            protector_version: None,
            operation: Operation {
                id: "op-x".to_string(),
                kind: OperationKind::Failover,
                failover_type: None,
                source_site: "site-a".to_string(),
                target_site: "site-b".to_string(),
                supersedes: None,
            },
            options: PlanOptions::default(),
            basis: Basis {
                state_versions: BTreeMap::new(),
                inventory_fingerprint: String::new(),
            },
            steps: Vec::new(),
            estimate: Estimate {
                predicted_secs: 0.0,
                phase_by_phase_secs: 0.0,
                one_at_a_time_secs: 0.0,
                rto_secs: 0.0,
                measured: Vec::new(),
            },
            data_loss: None,
            warnings: Vec::new(),
            before: GroupView {
                status: "active".to_string(),
                current_primary_site: "site-a".to_string(),
                members: BTreeMap::from([("db-1".to_string(), member("site-a", "m1", "10.0.0.1"))]),
            },
            after: GroupView {
                status: "failed_over".to_string(),
                current_primary_site: "site-b".to_string(),
                members: BTreeMap::from([("db-1".to_string(), member("site-b", "m2", "10.0.0.1"))]),
            },
        }
    }

    #[test]
    fn the_diff_shows_what_moves() {
        let hunks = group_diff(&plan(), 3);
        let lines: Vec<String> = hunks.iter().flatten().map(ToString::to_string).collect();
        assert!(lines.contains(&"-status: active".to_string()), "{lines:#?}");
        assert!(
            lines.contains(&"+status: failed_over".to_string()),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with('+') && l.contains("site: site-b"))
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(' ') && l.contains("net = 10.0.0.1")),
            "{lines:#?}"
        );
    }

    #[test]
    fn an_empty_plan_says_no_changes() {
        assert_eq!(
            summary(&plan()),
            "No changes. The protection group matches the spec."
        );
    }
}
