//! A plan as Markdown, for the change request that proposes it: the operation, its summary line,
//! warnings, the data-loss and RTO disclosures, a steps table per phase and the group's diff.
//!
//! The wording and layout live in the template `templates/plan.md.j2`, embedded in the binary;
//! this module hands it values already formatted by the text renderer's helpers, so both
//! renderings say the same thing.

use std::collections::BTreeMap;

use minijinja::value::Serde;
use serde::Serialize;

use super::plan::{data_loss, describe, operation_name, rto_verdict, seconds};
use crate::plan::{Phase, Plan, diff};

const TEMPLATE: &str = include_str!("templates/plan.md.j2");

#[derive(Serialize)]
struct View<'a> {
    /// Capitalized, to start the title.
    operation: String,
    protection_group: &'a str,
    source_site: &'a str,
    target_site: &'a str,
    operation_id: &'a str,
    /// Of the plan file, when the plan is one.
    plan_sha256: Option<&'a str>,
    /// The protector that made the plan, when it was saved.
    protector_version: Option<&'a str>,
    summary: String,
    warnings: &'a [String],
    data_loss: Option<String>,
    predicted: String,
    rto: String,
    rto_verdict: &'static str,
    phase_by_phase: String,
    one_at_a_time: String,
    measured: Option<String>,
    phases: Vec<PhaseView<'a>>,
    /// Unified-diff lines, `@@` before each hunk.
    diff: Vec<String>,
}

#[derive(Serialize)]
struct PhaseView<'a> {
    name: &'static str,
    steps: Vec<StepView<'a>>,
}

#[derive(Serialize)]
struct StepView<'a> {
    id: &'a str,
    site: &'a str,
    kind: &'static str,
    depends_on: &'a [String],
    estimate: String,
    what: String,
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn view<'a>(plan: &'a Plan, plan_sha256: Option<&'a str>) -> View<'a> {
    // Steps come in dependency order, where one phase's steps need not be adjacent; reviewers
    // look for a phase in one place, so group them, keeping that order within each.
    let mut phases: BTreeMap<Phase, Vec<StepView>> = BTreeMap::new();
    for step in &plan.steps {
        phases.entry(step.phase).or_default().push(StepView {
            id: &step.id,
            site: &step.site,
            kind: step.action.kind(),
            depends_on: &step.depends_on,
            estimate: seconds(step.estimate_secs),
            what: describe(plan, step),
        });
    }
    let estimate = &plan.estimate;
    View {
        operation: capitalized(operation_name(&plan.operation)),
        protection_group: &plan.protection_group,
        source_site: &plan.operation.source_site,
        target_site: &plan.operation.target_site,
        operation_id: &plan.operation.id,
        plan_sha256,
        protector_version: plan.protector_version.as_deref(),
        summary: diff::summary(plan),
        warnings: &plan.warnings,
        data_loss: plan.data_loss.as_ref().map(|loss| data_loss(plan, loss)),
        predicted: seconds(estimate.predicted_secs),
        rto: seconds(estimate.rto_secs),
        rto_verdict: rto_verdict(estimate),
        phase_by_phase: seconds(estimate.phase_by_phase_secs),
        one_at_a_time: seconds(estimate.one_at_a_time_secs),
        measured: super::plan::measured_estimates(estimate),
        phases: phases
            .into_iter()
            .map(|(phase, steps)| PhaseView {
                name: phase.as_str(),
                steps,
            })
            .collect(),
        diff: diff::group_diff(plan, 2)
            .into_iter()
            .flat_map(|hunk| {
                std::iter::once("@@".to_string())
                    .chain(hunk.into_iter().map(|line| line.to_string()))
            })
            .collect(),
    }
}

/// The whole plan as Markdown; with the SHA-256 of its file, when it is one (what the change
/// request approves).
pub fn plan(plan: &Plan, plan_sha256: Option<&str>) -> String {
    let environment = super::templates();
    // The template is part of the binary and every branch of it runs in the tests below, so a
    // failure here is a bug in this module, not something a plan can cause.
    let rendered = environment
        .template_from_named_str("plan.md.j2", TEMPLATE)
        .and_then(|template| template.render(Serde(view(plan, plan_sha256))))
        .expect("the embedded plan template renders");
    rendered.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use crate::inventory::SiteInventory;
    use crate::plan::FailoverType;
    use crate::plan::testing::*;

    #[test]
    fn a_planned_failover_for_a_change_request() {
        let plan = crate::plan::plan(
            &example_spec(),
            &inventory(),
            &no_state(),
            &request(FailoverType::Planned),
        )
        .unwrap();
        let plan = crate::plan::Plan {
            protector_version: Some("0.1.0".to_string()),
            ..plan
        };
        let sha256 = "0123456789abcdef".repeat(4);
        insta::assert_snapshot!(super::plan(&plan, Some(&sha256)));
    }

    #[test]
    fn a_converge_that_creates_the_protection_group() {
        let mut inventory = inventory();
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-a").unwrap() {
            facts.array.as_mut().unwrap().protection_groups.clear();
        }
        let plan = crate::plan::plan(
            &example_spec(),
            &inventory,
            &no_state(),
            &converge_request(),
        )
        .unwrap();
        insta::assert_snapshot!(super::plan(&plan, None));
    }

    #[test]
    fn an_unplanned_failover_lists_its_warnings_and_discloses_the_snapshot() {
        let plan = crate::plan::plan(
            &example_spec(),
            &inventory(),
            &no_state(),
            &request(FailoverType::Unplanned),
        )
        .unwrap();
        assert!(!plan.warnings.is_empty());
        let markdown = super::plan(&plan, None);
        assert!(
            markdown.contains(&format!("### Warnings\n\n- {}\n", plan.warnings[0])),
            "{markdown}"
        );
        assert!(
            markdown.contains(
                "- **Data loss:** up to 5m of writes (snapshot fa-a:prod-web-app.7); RPO 15m\n"
            ),
            "{markdown}"
        );
    }

    #[test]
    fn a_converged_group_says_no_changes_and_shows_no_steps() {
        let inventory = inventory();
        let plan = crate::plan::plan(
            &example_spec(),
            &inventory,
            &recorded(&inventory),
            &converge_request(),
        )
        .unwrap();
        let markdown = super::plan(&plan, None);
        assert!(
            markdown.contains("**No changes. The protection group matches the spec.**"),
            "{markdown}"
        );
        for absent in ["### Steps", "```diff", "### Warnings", "Data loss"] {
            assert!(!markdown.contains(absent), "{absent}: {markdown}");
        }
    }
}
