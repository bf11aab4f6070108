//! Plan files as apply and reviewers receive them: they match the published schema, the same
//! inputs give the same bytes, and what people read of them stays as reviewed.

use serde_json::Value;

use crate::plan::Setup;
use crate::{root, stderr, stdout};

/// `protector plan <spec> ARGS -o <name>` in the setup's folder; returns the file's text.
fn plan_file(setup: &Setup, name: &str, args: &[&str]) -> String {
    let spec = setup.spec();
    let file = setup.dir.path().join(name);
    let mut all = vec!["plan", spec.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", file.to_str().unwrap()]);
    let output = setup.protector(&all);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: {}",
        stderr(&output)
    );
    std::fs::read_to_string(&file).unwrap()
}

/// Plans and applies a converge: both sites' state then records the members as running on
/// site-a, which an unplanned failover rebuilds them from once site-a cannot be asked.
fn record_members(setup: &Setup) {
    plan_file(setup, "record.plan", &[]);
    let plan = setup.dir.path().join("record.plan");
    let output = setup.protector(&["apply", plan.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

const PLANNED: &[&str] = &["--operation", "failover", "--type", "planned"];
const UNPLANNED: &[&str] = &["--operation", "failover", "--type", "unplanned"];

#[test]
fn plan_files_match_the_published_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/plan.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the plan schema compiles");
    // The schema has teeth: a plan missing its steps is not one.
    assert!(!validator.is_valid(&serde_json::json!({ "format_version": 1 })));
    let setup = Setup::new();
    let mut plans = vec![
        ("converge", plan_file(&setup, "converge.plan", &[])),
        (
            "planned failover",
            plan_file(&setup, "planned.plan", PLANNED),
        ),
        (
            "drill",
            plan_file(&setup, "drill.plan", &["--operation", "drill"]),
        ),
    ];
    record_members(&setup);
    setup.control("POST", "/sites/site-a/down");
    plans.push((
        "unplanned failover",
        plan_file(&setup, "unplanned.plan", UNPLANNED),
    ));
    // Fail over for real, bring site-a back in line, and plan the way back.
    let unplanned = setup.dir.path().join("unplanned.plan");
    let output = setup.protector(&["apply", unplanned.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    setup.control("POST", "/sites/site-a/up");
    let spec = setup.spec();
    let output = setup.protector(&[
        "protection-group",
        "sync-force",
        spec.to_str().unwrap(),
        "--yes",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    plans.push((
        "failback",
        plan_file(
            &setup,
            "failback.plan",
            &["--operation", "failback", "--reverse-replication"],
        ),
    ));
    for (what, text) in plans {
        let plan: Value = serde_json::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&plan)
            .map(|error| format!("{}: {error}", error.instance_path()))
            .collect();
        assert!(errors.is_empty(), "the {what} plan: {errors:#?}");
    }
}

#[test]
fn the_same_inputs_give_the_same_plan_file() {
    // No scheduled cycle: a planned failover estimates its final snapshot from the last
    // transfer, so a cycle between its two plans would change an input.
    let fixture = tempfile::NamedTempFile::new().unwrap();
    let text = std::fs::read_to_string(root().join("examples/sim/two-sites.yaml")).unwrap();
    std::fs::write(
        fixture.path(),
        text.replace("replicate_every: 15m", "replicate_every: 30d"),
    )
    .unwrap();
    let setup = Setup::with_twin_args(200, &["--fixture", fixture.path().to_str().unwrap()]);
    // A converge does not rely on the replicated snapshots: a new one must not change a byte.
    for (what, args, replicate) in [
        ("converge", &[][..], true),
        ("planned failover", PLANNED, false),
    ] {
        let first = plan_file(&setup, "first.plan", args);
        if replicate {
            setup.control("POST", "/replicate");
        }
        let second = plan_file(&setup, "second.plan", args);
        assert!(
            first == second,
            "two {what} plans differ:\n{first}\n{second}"
        );
    }

    // An unplanned failover discloses the recovered snapshot's age at planning time, which
    // grows between two plans; everything else, its operation id included, stays the same.
    // The source is down, so no newer snapshot arrives in between.
    record_members(&setup);
    setup.control("POST", "/sites/site-a/down");
    let plans: Vec<Value> = ["first.plan", "second.plan"]
        .map(|name| {
            let mut plan: Value =
                serde_json::from_str(&plan_file(&setup, name, UNPLANNED)).unwrap();
            let age = plan["data_loss"]["age_secs"].take();
            assert!(age.is_number(), "{plan}");
            plan
        })
        .into();
    assert_eq!(plans[0], plans[1]);
}

/// Ids the twin generates (seeded, but they move with any change to its fixture) and the
/// operation id derived from them, which also suffixes the array volumes a plan creates: the
/// snapshots then change only when the output does.
fn redactions() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"op-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", "op-[ID]");
    settings.add_filter(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", "[UUID]");
    settings.add_filter(r"\b[0-9a-f]{64}\b", "[SHA-256]");
    settings.add_filter(r"-[0-9a-f]{8}\b", "-[OP]");
    settings
}

#[test]
fn a_planned_failover_as_people_read_it() {
    let setup = Setup::new();
    let spec = setup.spec();
    let file = setup.dir.path().join("failover.plan");
    let planned = [&["plan", spec.to_str().unwrap()], PLANNED].concat();
    let output = setup.protector(&[&planned[..], &["-o", file.to_str().unwrap()]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let output = setup.protector(
        &[
            &planned[..],
            &["--format", "markdown", "-o", file.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let markdown = stdout(&output);
    // The saved plan reads the same as the one just planned, with the file's SHA-256 that a
    // change request approves.
    let sha256 = protector::plan::sha256_hex(&std::fs::read(&file).unwrap());
    assert!(
        markdown.contains(&format!("--expect-sha256 {sha256}`")),
        "{markdown}"
    );
    assert!(
        stderr(&output).contains(&format!(
            "protector apply {} --expect-sha256 {sha256}",
            file.display()
        )),
        "{}",
        stderr(&output)
    );
    let shown = setup.protector(&["show", file.to_str().unwrap(), "--format", "markdown"]);
    assert_eq!(stdout(&shown), markdown);
    let shown = setup.protector(&["show", file.to_str().unwrap(), "--format", "json"]);
    let json: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(json["plan_sha256"], sha256.as_str());
    redactions().bind(|| {
        insta::assert_snapshot!("planned_failover_text", text);
        insta::assert_snapshot!("planned_failover_markdown", markdown);
    });
}
