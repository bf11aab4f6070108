//! The change a plan makes, as people review it: the protection group before and after as YAML,
//! diffed line by line, under a Terraform-like summary line.

use std::collections::BTreeMap;

use similar::{ChangeTag, TextDiff};

use super::{Action, GroupView, Plan};

/// One line of the diff: `' '` unchanged, `'-'` removed, `'+'` added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub tag: char,
    pub text: String,
}

/// The group view as YAML (the text both sides of the diff are made of).
pub fn view_yaml(view: &GroupView) -> String {
    crate::yaml::to_string(view).unwrap_or_default()
}

/// A unified diff of the group before and after, with `context` unchanged lines around changes.
pub fn group_diff(plan: &Plan, context: usize) -> Vec<Vec<DiffLine>> {
    let before = view_yaml(&plan.before);
    let after = view_yaml(&plan.after);
    let diff = TextDiff::from_lines(&before, &after);
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

/// "Plan: 3 instances to recreate on site-b, 4 volumes to promote and manage, ..."
pub fn summary(plan: &Plan) -> String {
    let mut counts: BTreeMap<(&'static str, &str), usize> = BTreeMap::new();
    for step in &plan.steps {
        let key = match step.action {
            Action::BootInstance { .. } => "1 boot",
            Action::ManageVolume { .. } => "2 manage",
            Action::StopInstance { .. } => "3 stop",
            Action::DeleteInstance { .. } => "4 delete",
            Action::UnmanageVolume { .. } => "5 unmanage",
            Action::CreateProtectionGroup { .. } => "6 group",
            Action::AddVolumesToGroup { .. } => "7 protect",
            Action::SetReplicationSchedule { .. }
            | Action::AddTarget { .. }
            | Action::AllowTarget { .. } => "8 replication",
            Action::Finalize if plan.operation.kind == super::OperationKind::Converge => "9 record",
            _ => continue,
        };
        *counts.entry((key, step.site.as_str())).or_default() += 1;
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let parts: Vec<String> = counts
        .iter()
        .map(|((key, site), n)| match *key {
            "1 boot" => format!("{} to recreate on {site}", plural(*n, "instance")),
            "2 manage" => format!("{} to promote and manage on {site}", plural(*n, "volume")),
            "3 stop" => format!("{} to stop on {site}", plural(*n, "instance")),
            "4 delete" => format!("{} to remove from {site}", plural(*n, "instance")),
            _ => format!(
                "{} to unmanage on {site} (array data kept)",
                plural(*n, "volume")
            ),
        })
        .collect();
    if parts.is_empty() {
        "No changes. The protection group matches the spec.".to_string()
    } else {
        format!("Plan: {}.", parts.join(", "))
    }
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
        }
    }

    fn plan() -> Plan {
        Plan {
            format_version: FORMAT_VERSION,
            protection_group: "pg".to_string(),
            operation: Operation {
                id: "op-x".to_string(),
                kind: OperationKind::Failover,
                failover_type: None,
                source_site: "site-a".to_string(),
                target_site: "site-b".to_string(),
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
        let lines: Vec<String> = hunks
            .iter()
            .flatten()
            .map(|line| format!("{}{}", line.tag, line.text))
            .collect();
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
