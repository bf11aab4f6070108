//! The plan that runs is the plan that was reviewed: saved plans edited the ways a tester once
//! got applied (a step added, steps removed, a site misspelled, a step id twice, an operation
//! id empty or climbing out of the state folder) are refused with exit 3 before anything
//! moves, the world as the twin dumps it unchanged and nothing written outside the state
//! folder; so is a plan applied with an edited spec, or with another SHA-256 than the approved
//! one; the approved plan then applies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::apply_crash::Failover;
use crate::plan::Setup;
use crate::{root, stderr};

/// The example's twin without scheduled replication (the world then changes only when asked
/// to), with an instance on site-a that is not a member of the group.
fn twin_with_a_bystander() -> Setup {
    let text = std::fs::read_to_string(root().join("examples/sim/two-sites.yaml")).unwrap();
    let bystander = "      - name: billing-1
        project: prod
        user: protector
        flavor: m1.small
        networks: [{ network: net-primary-web, ip: 10.10.1.50 }]
        volumes:
          - { size_gb: 20, volume_type: pure }

  site-b:";
    let fixture = text
        .replace("replicate_every: 15m", "replicate_every: 30d")
        .replacen("\n  site-b:", &format!("\n{bystander}"), 1);
    assert_ne!(fixture, text);
    let path = std::env::temp_dir().join(format!("bystander-{}.yaml", std::process::id()));
    std::fs::write(&path, fixture).unwrap();
    let setup = Setup::with_twin_args(200, &["--fixture", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    setup
}

/// Every file under `dir` with its bytes.
fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    files
}

/// What an operation changes on the sites: servers, Cinder volumes, ports, array volumes.
fn resources(world: &Value) -> Value {
    let mut sites = serde_json::Map::new();
    for site in ["site-a", "site-b"] {
        let world = &world["sites"][site];
        sites.insert(
            site.to_string(),
            json!([
                world["compute"]["servers"],
                world["block"]["volumes"],
                world["network"]["ports"],
                world["array"]["volumes"],
            ]),
        );
    }
    Value::Object(sites)
}

fn servers_named<'a>(world: &'a Value, site: &str, name: &str) -> Vec<&'a Value> {
    crate::apply_crash::named(&world["sites"][site]["compute"]["servers"], name)
}

/// A copy of the failover's plan file with `edit` made to it, as `name`.
fn edited(failover: &Failover, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&failover.plan).unwrap()).unwrap();
    edit(&mut plan);
    let path = failover.setup.dir.path().join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
    path
}

fn steps(plan: &mut Value) -> &mut Vec<Value> {
    plan["steps"].as_array_mut().unwrap()
}

/// Removes the steps whose id starts with one of `prefixes`, and every dependency on them: the
/// plan stays well-formed, it just does less.
fn without_steps(plan: &mut Value, prefixes: &[&str]) {
    let gone = |id: &Value| prefixes.iter().any(|p| id.as_str().unwrap().starts_with(p));
    steps(plan).retain(|step| !gone(&step["id"]));
    for step in steps(plan) {
        step["depends_on"]
            .as_array_mut()
            .unwrap()
            .retain(|id| !gone(id));
    }
}

/// `apply PATH ARGS --auto-approve` is refused with exit 3, saying `says`, and leaves the world
/// and every file as they were, nothing written outside the state folder.
fn assert_refused(failover: &Failover, path: &Path, args: &[&str], says: &str) {
    let setup = &failover.setup;
    let world = resources(&setup.world());
    let files = files_under(setup.dir.path());
    let mut all = vec!["apply", path.to_str().unwrap(), "--auto-approve"];
    all.extend_from_slice(args);
    let output = setup.protector(&all);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{path:?}: {text}");
    assert!(text.contains(says), "{path:?} should say {says:?}:\n{text}");
    assert!(text.contains("hint: "), "{text}");
    assert_eq!(
        resources(&setup.world()),
        world,
        "{path:?} changed the world"
    );
    assert_eq!(files_under(setup.dir.path()), files, "{path:?} wrote files");
}

#[test]
fn edited_plans_are_refused_and_the_reviewed_one_applies() {
    let failover = Failover::plan(twin_with_a_bystander());
    let setup = &failover.setup;
    let world = setup.world();
    let bystander = servers_named(&world, "site-a", "billing-1")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // A step deleting an instance that is not a member.
    let plan = edited(&failover, "added-delete.plan", |plan| {
        let mut delete = steps(plan)
            .iter()
            .find(|step| step["id"] == "delete_instance/web-2")
            .unwrap()
            .clone();
        delete["id"] = json!("delete_instance/billing-1");
        delete["member"] = json!("billing-1");
        delete["action"] = json!({
            "kind": "delete_instance", "instance_id": bystander, "name": "billing-1", "port_ids": []
        });
        delete["creates"] = json!([]);
        let at = steps(plan).len() - 1;
        steps(plan).insert(at, delete);
    });
    assert_refused(
        &failover,
        &plan,
        &[],
        "(`delete_instance/billing-1`) is for `billing-1`, which is not a member of protection group `prod-web-app`",
    );
    // The same under a member's step: its instance id swapped for the bystander's.
    let plan = edited(&failover, "retargeted-delete.plan", |plan| {
        let delete = steps(plan)
            .iter_mut()
            .find(|step| step["id"] == "delete_instance/web-2")
            .unwrap();
        delete["action"]["instance_id"] = json!(bystander);
    });
    assert_refused(
        &failover,
        &plan,
        &[],
        &format!(
            "(`delete_instance/web-2`) acts on instance `{bystander}`, which is not member web-2's"
        ),
    );
    // Or the bystander's stopped in its place, with the plan otherwise intact.
    let plan = edited(&failover, "retargeted-stop.plan", |plan| {
        let stop = steps(plan)
            .iter_mut()
            .find(|step| step["id"] == "stop_instance/web-2")
            .unwrap();
        stop["action"]["instance_id"] = json!(bystander);
        stop["action"]["name"] = json!("billing-1");
    });
    assert_refused(
        &failover,
        &plan,
        &[],
        &format!(
            "(`stop_instance/web-2`) acts on instance `{bystander}`, which is not member web-2's"
        ),
    );

    // The workload would run on both sites.
    let plan = edited(&failover, "no-stop.plan", |plan| {
        without_steps(plan, &["stop_instance/"])
    });
    assert_refused(
        &failover,
        &plan,
        &[],
        "step `snapshot/prod-web-app` differs from what protector plans: its depends_on is [], protector plans [\"stop_instance/db-1\",",
    );
    let plan = edited(&failover, "no-stop-no-delete.plan", |plan| {
        without_steps(plan, &["stop_instance/", "delete_instance/"])
    });
    assert_refused(&failover, &plan, &[], "differs from what protector plans");

    // A misspelt site, in one step and in the whole plan.
    let plan = edited(&failover, "site-typo.plan", |plan| {
        steps(plan)[1]["site"] = json!("site-aa");
    });
    assert_refused(
        &failover,
        &plan,
        &[],
        "acts on site `site-aa`, which is neither the operation's source site-a nor its target site-b",
    );
    let plan = edited(&failover, "target-typo.plan", |plan| {
        let text = plan.to_string().replace("\"site-b\"", "\"site-bb\"");
        *plan = serde_json::from_str(&text).unwrap();
    });
    assert_refused(
        &failover,
        &plan,
        &[],
        "the plan's site `site-bb` is not one of the spec's (site-a, site-b)",
    );

    // A step id twice.
    let plan = edited(&failover, "duplicate.plan", |plan| {
        let stop = steps(plan)[1].clone();
        steps(plan).insert(2, stop);
    });
    assert_refused(
        &failover,
        &plan,
        &[],
        "steps[1] and steps[2] have the same id",
    );

    // Operation ids: empty, and one that climbs out of the state folder.
    let plan = edited(&failover, "empty-id.plan", |plan| {
        plan["operation"]["id"] = json!("");
    });
    assert_refused(
        &failover,
        &plan,
        &[],
        "the operation id (operation.id) `` is not of the form op-<uuid>",
    );
    let escape = format!("pwned-{}", std::process::id());
    let plan = edited(&failover, "escape.plan", |plan| {
        plan["operation"]["id"] = json!(format!("../../../../{escape}/x"));
    });
    assert_refused(&failover, &plan, &[], "is not of the form op-<uuid>");
    for outside in [setup.dir.path().parent().unwrap(), Path::new("/tmp")] {
        assert!(!outside.join(&escape).exists(), "{outside:?}");
    }
    // The other loaders refuse it too.
    let output = setup.protector(&["show", plan.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let output = setup.protector(&["apply", "--resume", "../x"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("operation `../x` cannot name a file in the state folder"),
        "{}",
        stderr(&output)
    );

    // The spec edited after the plan was made.
    let spec = setup.spec();
    let original = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, format!("{original}# edited after review\n")).unwrap();
    assert_refused(
        &failover,
        &failover.plan,
        &[],
        "the spec is not the one the plan was made from",
    );
    std::fs::write(&spec, &original).unwrap();
    // Or the plan pointed at another spec, or stripped of the spec's SHA-256.
    let other = setup.dir.path().join("other.yaml");
    let longer = original.replace("rto: 30m", "rto: 1h");
    assert_ne!(longer, original);
    std::fs::write(&other, longer).unwrap();
    let plan = edited(&failover, "other-spec.plan", |plan| {
        plan["spec_file"] = json!(other.to_str().unwrap());
    });
    assert_refused(
        &failover,
        &plan,
        &[],
        "the spec is not the one the plan was made from",
    );
    let plan = edited(&failover, "no-spec-sha256.plan", |plan| {
        plan.as_object_mut().unwrap().remove("spec_sha256");
    });
    assert_refused(
        &failover,
        &plan,
        &[],
        "the plan does not record the SHA-256 of the spec it was made from",
    );

    // Only the approved plan file applies.
    let output = setup.protector(&["show", failover.plan.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let approved = stderr(&output)
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(approved.len(), 64, "{}", stderr(&output));
    let wrong = "0".repeat(64);
    assert_refused(
        &failover,
        &failover.plan,
        &["--expect-sha256", &wrong],
        "is not the plan that was approved",
    );
    let reformatted = edited(&failover, "reformatted.plan", |_| {});
    assert_refused(
        &failover,
        &reformatted,
        &["--expect-sha256", &approved],
        "is not the plan that was approved",
    );
    let output = setup.protector(&[
        "apply",
        failover.plan.to_str().unwrap(),
        "--auto-approve",
        "--expect-sha256",
        &approved,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    failover.assert_completed();
    let world = setup.world();
    assert_eq!(
        servers_named(&world, "site-a", "billing-1").len(),
        1,
        "the bystander is left alone"
    );
}
