//! A plan as people read it (Terraform's conventions): one line per step with a symbol for what
//! it does (`+` create, `-` remove, `~` change, `>` move between sites, `?` check), grouped by
//! site and phase, then the group's before/after diff, the data-loss disclosure, the predicted
//! RTO and, last, the summary line.

use std::collections::BTreeMap;
use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use super::{HINT, WARNING, paint};
use crate::plan::{
    Action, DataLoss, Estimate, FailoverType, Operation, OperationKind, Plan, SnapshotSource, Step,
    diff,
};
use crate::spec::duration;

fn symbol(action: &Action) -> (char, Style) {
    let green = AnsiColor::Green.on_default();
    let red = AnsiColor::Red.on_default();
    let yellow = AnsiColor::Yellow.on_default();
    let cyan = AnsiColor::Cyan.on_default();
    match action {
        Action::CheckTarget
        | Action::TierActive { .. }
        | Action::VerifyInstance { .. }
        | Action::Stabilize { .. }
        | Action::ProveDrillClean { .. }
        | Action::ProveRolledBack { .. } => ('?', Style::new()),
        Action::BootInstance { .. } | Action::RestoreInstance { .. } => ('>', cyan),
        Action::DeleteInstance { .. }
        | Action::UnmanageVolume { .. }
        | Action::RemoveInstance { .. }
        | Action::RemovePort { .. }
        | Action::RemoveVolume { .. }
        | Action::RemoveArrayVolume { .. }
        | Action::DestroyRetiredVolumes { .. }
        | Action::RemoveServerGroup { .. } => ('-', red),
        Action::StopInstance { .. } | Action::StopRecovered { .. } | Action::Finalize => {
            ('~', yellow)
        }
        Action::SnapshotAndReplicate { .. }
        | Action::CopyVolume { .. }
        | Action::ManageVolume { .. }
        | Action::CreatePort { .. }
        | Action::CreateServerGroup { .. }
        | Action::ConfigureReplication { .. }
        | Action::CreateProtectionGroup { .. }
        | Action::AddVolumesToGroup { .. }
        | Action::AddTarget { .. } => ('+', green),
        Action::SetReplicationSchedule { .. }
        | Action::AllowTarget { .. }
        | Action::RetireVolumes { .. } => ('~', yellow),
    }
}

/// What a step does, in a few words.
pub fn describe(plan: &Plan, step: &Step) -> String {
    match &step.action {
        Action::CheckTarget => "check flavors, networks, quota and Cinder policy".to_string(),
        Action::StopInstance { name, .. } => format!("stop {name}"),
        Action::SnapshotAndReplicate {
            protection_group,
            target_array,
            ..
        } => format!("snapshot {protection_group} and replicate it to {target_array} now"),
        Action::CopyVolume { volume, source, .. } => match source {
            SnapshotSource::Named { snapshot } => format!("array volume {volume} from {snapshot}"),
            SnapshotSource::FromStep { volume: from, .. } => {
                format!("array volume {volume} from the new snapshot of {from}")
            }
        },
        Action::ManageVolume {
            array_volume,
            name,
            bootable,
            ..
        } => format!(
            "Cinder volume {name} from {array_volume}{}",
            if *bootable { " (bootable)" } else { "" }
        ),
        Action::CreatePort {
            network,
            fixed_ip,
            security_groups,
            ..
        } => format!(
            "port on {network} at {}{}",
            fixed_ip.as_deref().unwrap_or("a new address"),
            if security_groups.is_empty() {
                String::new()
            } else {
                format!(" in {}", security_groups.join(", "))
            }
        ),
        Action::CreateServerGroup { group } => format!(
            "server group {}, which {} lacks",
            group.describe(),
            plan.operation.target_site
        ),
        Action::RemoveServerGroup { name, .. } => {
            format!("remove {}server group {name}", made_by(plan))
        }
        Action::BootInstance {
            name,
            flavor,
            port_steps,
            volume_steps,
            key_name,
            server_group,
            tags,
            ..
        } => {
            let waits: Vec<String> = step
                .depends_on
                .iter()
                .filter_map(|d| {
                    d.strip_prefix("boot_instance/")
                        .map(str::to_string)
                        .or_else(|| d.strip_prefix("tier_active/").map(|t| format!("tier {t}")))
                })
                .collect();
            let after = if waits.is_empty() {
                String::new()
            } else {
                format!(", after {} ACTIVE", waits.join(", "))
            };
            let mut identity = String::new();
            if let Some(key) = key_name {
                identity.push_str(&format!(", key {key}"));
            }
            if let Some(group) = server_group {
                identity.push_str(&format!(", in server group {group}"));
            }
            if !tags.is_empty() {
                identity.push_str(&format!(", tags {}", tags.join(", ")));
            }
            format!(
                "{name} on {} as {flavor}, {} NIC(s), {} volume(s){identity}{after}",
                plan.operation.target_site,
                port_steps.len(),
                volume_steps.len()
            )
        }
        Action::DeleteInstance { name, .. } => format!("remove {name}"),
        Action::UnmanageVolume { name, .. } => format!("unmanage {name} (array data kept)"),
        Action::ConfigureReplication {
            protection_group,
            array,
            target_array,
            ..
        } => format!("replicate {protection_group} from {array} back to {target_array}"),
        Action::Finalize => "record the outcome in both sites' state".to_string(),
        Action::TierActive { boot_order } => {
            format!("boot tier {boot_order} is ACTIVE: the next tier may boot")
        }
        Action::CreateProtectionGroup {
            array,
            protection_group,
        } => format!("protection group {protection_group} on {array}"),
        Action::AddVolumesToGroup {
            protection_group,
            volumes,
            ..
        } => format!("protect {} in {protection_group}", volumes.join(", ")),
        Action::SetReplicationSchedule {
            protection_group,
            frequency_ms,
            ..
        } => format!(
            "replicate {protection_group} every {} (the RPO)",
            seconds(*frequency_ms as f64 / 1000.0)
        ),
        Action::AddTarget {
            protection_group,
            target_array,
            ..
        } => format!("replicate {protection_group} to {target_array}"),
        Action::AllowTarget {
            array,
            protection_group,
        } => format!("allow {protection_group} to replicate to {array}"),
        Action::RetireVolumes {
            array,
            protection_group,
            volumes,
            disable_replication,
        } => format!(
            "take {} out of {protection_group} on {array} (array data kept){}",
            if volumes.is_empty() {
                "no volume".to_string()
            } else {
                volumes.join(", ")
            },
            if *disable_replication {
                ", and stop its replication schedule"
            } else {
                ""
            }
        ),
        Action::DestroyRetiredVolumes {
            array,
            volumes,
            eradicate,
        } => format!(
            "destroy {} retired volume(s) on {array} ({}): {}",
            volumes.len(),
            volumes.join(", "),
            if *eradicate {
                "eradicated at once, beyond recovery (policy.retired_volumes.eradicate)"
            } else {
                "recoverable until the array eradicates them"
            }
        ),
        Action::Stabilize {
            seconds,
            boot_steps,
        } => format!(
            "{} recovered instance(s) stay ACTIVE for {}",
            boot_steps.len(),
            duration::format(std::time::Duration::from_secs(*seconds))
        ),
        Action::VerifyInstance { name, profile, .. } => {
            let mut with = vec!["its addresses"];
            if profile
                .nics
                .iter()
                .any(|nic| !nic.security_groups.is_empty())
            {
                with.push("security groups");
            }
            if profile.key_name.is_some() {
                with.push("key pair");
            }
            if profile.server_group.is_some() {
                with.push("server group");
            }
            if !profile.tags.is_empty() {
                with.push("tags");
            }
            if profile.description.is_some() {
                with.push("description");
            }
            let with = match with.split_last() {
                Some((last, [])) => last.to_string(),
                Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                None => String::new(),
            };
            format!(
                "{name} is ACTIVE on its volumes, as {} with {with}",
                profile.flavor
            )
        }
        Action::RemoveInstance { name, .. } => format!("remove {}instance {name}", made_by(plan)),
        Action::RemovePort { name, .. } => format!("remove {}port {name}", made_by(plan)),
        Action::RemoveVolume { name, .. } => format!("unmanage {}volume {name}", made_by(plan)),
        Action::RemoveArrayVolume { array, volume, .. } => format!(
            "destroy {}array volume {volume} on {array} (recoverable until eradicated)",
            made_by(plan)
        ),
        Action::ProveDrillClean { drill, .. } => format!(
            "list servers, volumes, ports, server groups and array volumes: none tagged with {drill} is left"
        ),
        Action::StopRecovered { name, .. } => {
            format!("stop {name}, which the undone operation booted")
        }
        Action::RestoreInstance { name, .. } => {
            format!("start {name} again, ACTIVE on its own volumes and addresses")
        }
        Action::ProveRolledBack {
            operation, source, ..
        } => format!(
            "nothing tagged with {operation} is left here, and every member runs on {source}"
        ),
    }
}

/// Whose leftovers a cleanup step removes, as its line names them: a drill's, or the undone
/// operation's (a rollback's lines need no qualifier).
fn made_by(plan: &Plan) -> &'static str {
    match plan.operation.kind {
        OperationKind::Drill | OperationKind::DrillCleanup => "drill ",
        _ => "",
    }
}

/// A duration as the spec writes it (`1m56s`), rounded to the second.
pub(super) fn seconds(secs: f64) -> String {
    // Under a second (what a drill on a fast site measures), whole seconds would say 0s.
    match secs {
        secs if secs > 0.0 && secs < 0.05 => "<0.1s".to_string(),
        secs if secs > 0.0 && secs < 0.95 => format!("{secs:.1}s"),
        secs => duration::format(duration::from_secs_f64_saturating(secs.round())),
    }
}

/// The operation as a noun: `planned failover`, `DR drill`, ...
pub(crate) fn operation_name(operation: &Operation) -> &'static str {
    match (&operation.kind, operation.failover_type) {
        (OperationKind::Failover, Some(FailoverType::Unplanned)) => "unplanned failover",
        (OperationKind::Failover, _) => "planned failover",
        (OperationKind::Failback, _) => "failback",
        (OperationKind::Drill, _) => "DR drill",
        (OperationKind::Converge, _) => "converge",
        (OperationKind::SyncForce, _) => "sync-force",
        (OperationKind::DrillCleanup, _) => "drill cleanup",
        (OperationKind::Rollback, _) => "rollback",
    }
}

/// How much data the operation may lose, against the RPO. A drill loses none: it shows the
/// age of the data a failover now would recover.
pub(crate) fn data_loss(plan: &Plan, data_loss: &DataLoss) -> String {
    let exceeded = if data_loss.exceeds_rpo {
        ", EXCEEDED"
    } else {
        ""
    };
    match &data_loss.snapshot {
        None => {
            "none: the instances stop before a fresh snapshot is taken and replicated".to_string()
        }
        Some(snapshot) if plan.operation.kind == OperationKind::Drill => format!(
            "none in production; the drill runs on data {} old (snapshot {snapshot}), what a failover now would recover; RPO {}{exceeded}",
            seconds(data_loss.age_secs),
            seconds(data_loss.rpo_secs),
        ),
        Some(snapshot) => format!(
            "up to {} of writes (snapshot {snapshot}); RPO {}{exceeded}",
            seconds(data_loss.age_secs),
            seconds(data_loss.rpo_secs),
        ),
    }
}

/// Whether the predicted RTO fits the policy's: `met` or `EXCEEDED`.
pub(super) fn rto_verdict(estimate: &Estimate) -> &'static str {
    if estimate.predicted_secs <= estimate.rto_secs {
        "met"
    } else {
        "EXCEEDED"
    }
}

/// Which step estimates a drill measured, per drill and site: `drill op-… on site-b:
/// boot_instance 41s, manage_volume 6s`; `None` when every estimate is a default.
pub(super) fn measured_estimates(estimate: &Estimate) -> Option<String> {
    let mut by_source: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    for measured in &estimate.measured {
        by_source
            .entry((measured.operation.as_str(), measured.site.as_str()))
            .or_default()
            .push(format!("{} {}", measured.action, seconds(measured.secs)));
    }
    let sources: Vec<String> = by_source
        .into_iter()
        .map(|((operation, site), kinds)| {
            format!("drill {operation} on {site}: {}", kinds.join(", "))
        })
        .collect();
    (!sources.is_empty()).then(|| sources.join("; "))
}

/// The whole plan as text.
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.has_changes() {
        // As Terraform: nothing to do is one line (and what deserves a warning).
        for warning in &plan.warnings {
            let _ = writeln!(out, "{} {warning}", paint(WARNING, "warning:"));
        }
        let _ = write!(out, "{}", paint(Style::new().bold(), diff::summary(plan)));
        return out;
    }
    let operation = &plan.operation;
    let what = operation_name(operation);
    // Every name starts with a consonant sound except `unplanned failover`.
    let article = if what.starts_with('u') { "an" } else { "a" };
    let _ = match operation.kind {
        // Its sites do not trade places: the stale one is cleaned up after the current one.
        OperationKind::SyncForce => writeln!(
            out,
            "protector will perform a sync-force of {}: {stale} is brought in line with {current}, \
             the workload's stale instances on {stale} are removed (their volumes unmanaged, \
             the array data kept), replication from {current} allowed, and both sites' state \
             made the same.",
            plan.protection_group,
            stale = operation.source_site,
            current = operation.target_site,
        ),
        _ => writeln!(
            out,
            "protector will perform {article} {what} of {} from {} to {}.",
            plan.protection_group, operation.source_site, operation.target_site
        ),
    };
    let _ = writeln!(out, "Operation {}\n", paint(HINT, &operation.id));

    let width = plan.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    let mut heading = None;
    for step in &plan.steps {
        let this = (step.site.as_str(), step.phase);
        if heading != Some(this) {
            let _ = writeln!(out, "  # {} — {}", step.site, step.phase.as_str());
            heading = Some(this);
        }
        let (mark, style) = symbol(&step.action);
        let _ = writeln!(
            out,
            "  {} {:width$}  {}",
            paint(style, mark),
            step.id,
            describe(plan, step)
        );
    }

    let hunks = diff::group_diff(plan, 2);
    if !hunks.is_empty() {
        let _ = writeln!(out, "\nChanges to the protection group:");
        for hunk in hunks {
            let _ = writeln!(out, "  @@");
            for line in hunk {
                let style = match line.tag {
                    '+' => AnsiColor::Green.on_default(),
                    '-' => AnsiColor::Red.on_default(),
                    _ => Style::new(),
                };
                let _ = writeln!(out, "  {}", paint(style, line));
            }
        }
    }

    if let Some(loss) = &plan.data_loss {
        let _ = writeln!(out, "\nData loss: {}", data_loss(plan, loss));
    }
    let estimate = &plan.estimate;
    // A recovery time means something only for what recovers a workload.
    let recovers = matches!(
        operation.kind,
        OperationKind::Failover
            | OperationKind::Failback
            | OperationKind::Drill
            | OperationKind::Rollback
    );
    if recovers {
        let _ = writeln!(
            out,
            "Predicted RTO: {} with the DAG under concurrency budgets (phase by phase: {}; one step at a time: {}); policy RTO {} {}",
            seconds(estimate.predicted_secs),
            seconds(estimate.phase_by_phase_secs),
            seconds(estimate.one_at_a_time_secs),
            seconds(estimate.rto_secs),
            rto_verdict(estimate),
        );
    }
    if let Some(measured) = measured_estimates(estimate) {
        let _ = writeln!(
            out,
            "Step estimates as measured by {measured} (the other steps: defaults)"
        );
    }
    for warning in &plan.warnings {
        let _ = writeln!(out, "{} {warning}", paint(WARNING, "warning:"));
    }
    let _ = write!(out, "\n{}", paint(Style::new().bold(), diff::summary(plan)));
    out
}

/// The DAG in Graphviz dot, one cluster per site.
pub fn dot(plan: &Plan) -> String {
    let mut out = String::from(
        "digraph plan {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    let mut sites: Vec<&str> = plan.steps.iter().map(|s| s.site.as_str()).collect();
    sites.sort();
    sites.dedup();
    for (index, site) in sites.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{index} {{\n    label=\"{site}\";");
        for step in plan.steps.iter().filter(|s| s.site == *site) {
            let _ = writeln!(
                out,
                "    \"{}\" [label=\"{}\\n{}\"];",
                step.id,
                step.id,
                seconds(step.estimate_secs)
            );
        }
        out.push_str("  }\n");
    }
    for step in &plan.steps {
        for dependency in &step.depends_on {
            let _ = writeln!(out, "  \"{dependency}\" -> \"{}\";", step.id);
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::FailoverType;
    use crate::plan::testing::*;

    fn plain(text: &str) -> String {
        anstream::adapter::strip_str(text).to_string()
    }

    #[test]
    fn a_converge_says_no_changes_in_one_line_and_never_predicts_an_rto() {
        let inventory = inventory();
        let converged = crate::plan::plan(
            &example_spec(),
            &inventory,
            &recorded(&inventory),
            &converge_request(),
        )
        .unwrap();
        assert_eq!(
            plain(&text(&converged)),
            "No changes. The protection group matches the spec."
        );
        let unrecorded = crate::plan::plan(
            &example_spec(),
            &inventory,
            &no_state(),
            &converge_request(),
        )
        .unwrap();
        let shown = plain(&text(&unrecorded));
        assert!(shown.contains("record_members"), "{shown}");
        assert!(!shown.contains("RTO"), "{shown}");
    }

    #[test]
    fn seconds_under_one_keep_a_decimal() {
        assert_eq!(seconds(0.0), "0s");
        assert_eq!(seconds(0.01), "<0.1s");
        assert_eq!(seconds(0.26), "0.3s");
        assert_eq!(seconds(30.0), "30s");
        assert_eq!(seconds(116.0), "1m56s");
    }

    /// A plan file is read back by `show` and `apply`: an edited one may hold any number.
    #[test]
    fn seconds_beyond_a_duration_do_not_panic() {
        for secs in [u64::MAX as f64, f64::INFINITY, f64::NAN, -1.0] {
            assert!(!seconds(secs).is_empty(), "{secs}");
        }
    }

    #[test]
    fn a_planned_failover_reads_like_terraform() {
        let plan = crate::plan::plan(
            &example_spec(),
            &inventory(),
            &no_state(),
            &request(FailoverType::Planned),
        )
        .unwrap();
        insta::assert_snapshot!(plain(&text(&plan)));
    }

    #[test]
    fn an_unplanned_failover_discloses_the_snapshot_age() {
        let plan = crate::plan::plan(
            &example_spec(),
            &inventory(),
            &no_state(),
            &request(FailoverType::Unplanned),
        )
        .unwrap();
        let text = plain(&text(&plan));
        assert!(
            text.contains("Data loss: up to 5m of writes (snapshot fa-a:prod-web-app.7); RPO 15m"),
            "{text}"
        );
        assert!(!text.contains("# site-a"), "no step on the source: {text}");
    }

    #[test]
    fn a_drill_reads_like_terraform() {
        let plan = crate::plan::plan(
            &example_spec(),
            &drill_inventory(),
            &no_state(),
            &drill_request(false),
        )
        .unwrap();
        insta::assert_snapshot!(plain(&text(&plan)));
    }

    #[test]
    fn dot_has_every_edge() {
        let plan = crate::plan::plan(
            &example_spec(),
            &inventory(),
            &no_state(),
            &request(FailoverType::Planned),
        )
        .unwrap();
        let graph = dot(&plan);
        let edges: usize = plan.steps.iter().map(|s| s.depends_on.len()).sum();
        assert_eq!(graph.matches(" -> ").count(), edges);
        assert!(graph.contains("\"boot_instance/db-1\" -> \"boot_instance/web-1\";"));
    }
}
