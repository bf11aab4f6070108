//! `protector drill` end to end: a rehearsal on the twin's site-b that leaves production as it
//! was and proves its cleanup; a kept drill that runs on the drill networks until `drill
//! cleanup` removes it; a drill that fails and still removes what it created.
//!
//! "Production as it was" is the world dump (`GET /world`): all of site-a, and all of site-b
//! but the array volumes the drill copied. Those are found by the ids the drill's copy steps
//! recorded (Cinder renamed them when it managed and unmanaged them) and stay on the array,
//! destroyed, until it eradicates them. Everything else a drill creates (servers, ports,
//! Cinder volumes, the array's host connections) must be gone. The twin's replication schedule
//! would change both arrays meanwhile (new snapshots, transfers in progress), so these tests
//! run a twin that replicates every 30 days: it starts with one replicated snapshot, and
//! nothing but the drill changes the world during a test.

use serde_json::{Value, json};

use crate::plan::Setup;
use crate::twin::TwinProcess;
use crate::{root, stderr, stdout};

const MEMBERS: [&str; 3] = ["db-1", "web-1", "web-2"];

/// The example spec against a twin whose replication schedule does not fire during a test.
fn quiet() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::fs::read_to_string(root().join("examples/sim/two-sites.yaml")).unwrap();
    assert!(
        fixture.contains("replicate_every: 15m"),
        "the fixture as written here"
    );
    let path = dir.path().join("quiet-twin.yaml");
    std::fs::write(
        &path,
        fixture.replace("replicate_every: 15m", "replicate_every: 30d"),
    )
    .unwrap();
    std::fs::copy(
        root().join("examples/prod-web-app.yaml"),
        dir.path().join("pg.yaml"),
    )
    .unwrap();
    let twin = TwinProcess::start(200, &["--fixture", path.to_str().unwrap()]);
    Setup::around(twin, dir)
}

impl Setup {
    /// `protector report OP --format json`.
    fn report(&self, id: &str) -> Value {
        serde_json::from_str(&self.expect(0, &["report", id, "--format", "json"])).unwrap()
    }

    /// `protector operation show OP -f json` (it exits 1 for a failed operation).
    fn operation(&self, id: &str) -> Value {
        let output = self.protector(&["operation", "show", id, "-f", "json"]);
        serde_json::from_str(&stdout(&output)).unwrap_or_else(|_| panic!("{}", stderr(&output)))
    }
}

/// The JSON events of a `--json` run, one per line.
fn events(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

/// The operations the events report as done, in order: (id, status).
fn operations(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|event| event["event"] == "operation_done")
        .map(|event| {
            (
                event["operation"].as_str().unwrap().to_string(),
                event["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The array volume ids the drill's copy steps recorded.
fn copies(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|event| event["event"] == "step_done" && event["action"] == "copy_volume")
        .map(|event| {
            event["created"]["array_volume_id"]
                .as_str()
                .expect("a copy records its array volume's id")
                .to_string()
        })
        .collect()
}

fn values(map: &Value) -> Vec<&Value> {
    map.as_object()
        .map(|object| object.values().collect())
        .unwrap_or_default()
}

/// The production part of a world dump (see the module's first lines).
fn production(world: &Value, copies: &[String]) -> Value {
    let mut sites = world["sites"].clone();
    if let Some(volumes) = sites["site-b"]["array"]["volumes"].as_object_mut() {
        volumes.retain(|_, volume| !copies.iter().any(|id| volume["id"] == id.as_str()));
    }
    sites
}

/// Where two JSON values differ, as paths (for a readable failure).
fn differences(before: &Value, after: &Value, path: &str, found: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let (x, y) = (&a.get(key), &b.get(key));
                let here = format!("{path}/{key}");
                match (x, y) {
                    (Some(x), Some(y)) => differences(x, y, &here, found),
                    (None, Some(y)) => found.push(format!("+ {here}: {y}")),
                    (Some(x), None) => found.push(format!("- {here}: {x}")),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => found.push(format!("~ {path}: {a} -> {b}")),
        _ => {}
    }
}

fn assert_production_unchanged(before: &Value, after: &Value, copies: &[String]) {
    let mut found = Vec::new();
    differences(
        &production(before, copies),
        &production(after, copies),
        "",
        &mut found,
    );
    assert!(
        found.is_empty(),
        "production changed:\n{}",
        found.join("\n")
    );
}

/// The drill's copies are on site-b's array, destroyed, and held the members' data.
fn assert_copies_destroyed(world: &Value, copies: &[String]) {
    let mut contents: Vec<&str> = values(&world["sites"]["site-b"]["array"]["volumes"])
        .into_iter()
        .filter(|volume| copies.iter().any(|id| volume["id"] == id.as_str()))
        .map(|volume| {
            assert_eq!(volume["destroyed"], true, "{volume}");
            volume["content"].as_str().unwrap()
        })
        .collect();
    contents.sort();
    assert_eq!(
        contents,
        [
            "data:site-a:db-1:0",
            "data:site-a:db-1:1",
            "data:site-a:web-1:0",
            "data:site-a:web-2:0"
        ],
        "one copy of each member volume's replicated data"
    );
}

/// The proof recorded for `operation` clears drill `drill` of `site-b`.
fn assert_proven(setup: &Setup, operation: &str, drill: &str) {
    let shown = setup.operation(operation);
    assert_eq!(shown["status"], "completed", "{shown}");
    let proof = &shown["cleanup_proof"];
    assert_eq!(proof["drill"], drill, "{shown}");
    assert_eq!(proof["site"], "site-b");
    for kind in [
        "servers",
        "cinder_volumes",
        "ports",
        "server_groups",
        "array_volumes",
    ] {
        assert!(proof["listed"][kind].is_u64(), "{kind} listed: {proof}");
    }
    assert_eq!(
        proof["destroyed"].as_array().map(Vec::len),
        Some(4),
        "{proof}"
    );
    assert_eq!(setup.operation(drill)["left_on_target"], json!([]));
}

#[test]
fn a_drill_leaves_production_as_it_was_and_proves_its_cleanup() {
    let setup = quiet();
    let spec = setup.spec();
    let spec = spec.to_str().unwrap();
    let before = setup.world();

    let events = events(&setup.expect(0, &["drill", spec, "--auto-approve", "--json"]));
    let done = operations(&events);
    assert_eq!(done.len(), 1, "{done:?}");
    let (drill, status) = &done[0];
    assert_eq!(status, "completed");
    // It rehearsed: every member booted and verified on site-b before the cleanup.
    for member in MEMBERS {
        for step in [
            format!("boot_instance/{member}"),
            format!("verify_instance/{member}"),
        ] {
            assert!(
                events.iter().any(|e| e["event"] == "step_done"
                    && e["step"] == step.as_str()
                    && e["site"] == "site-b"),
                "{step} done on site-b"
            );
        }
    }
    assert!(
        events
            .iter()
            .filter(|e| e["event"] == "step_started")
            .all(|e| e["site"] == "site-b"),
        "no step on site-a"
    );

    let after = setup.world();
    let copies = copies(&events);
    assert_production_unchanged(&before, &after, &copies);
    assert_copies_destroyed(&after, &copies);
    assert_proven(&setup, drill, drill);
    let shown = setup.operation(drill);
    assert_eq!(shown["type"], "drill");
    // The group did not move.
    let group: Value =
        serde_json::from_str(&setup.expect(0, &["protection-group", "show", spec, "-f", "json"]))
            .unwrap();
    assert_eq!(group["status"], "active", "{group}");
    assert_eq!(group["current_primary_site"], "site-a", "{group}");
    // Its report carries the proof.
    let report = setup.report(drill);
    assert_eq!(report["operation"]["status"], "completed", "{report}");
    assert_eq!(
        report["drill"]["proof"]["drill"],
        drill.as_str(),
        "{report}"
    );
    // The failover it rehearsed is now estimated with the durations the drill measured.
    let plan = setup.expect(
        0,
        &["plan", spec, "--operation", "failover", "--type", "planned"],
    );
    assert!(
        plan.contains(&format!(
            "Step estimates as measured by drill {drill} on site-b: boot_instance "
        )),
        "{plan}"
    );
    let markdown = setup.expect(
        0,
        &[
            "plan",
            spec,
            "--operation",
            "failover",
            "--type",
            "planned",
            "-f",
            "markdown",
        ],
    );
    assert!(
        markdown.contains(&format!(
            "- **Step estimates** as measured by drill {drill} on site-b: "
        )),
        "{markdown}"
    );
}

#[test]
fn a_kept_drill_runs_on_the_drill_networks_until_drill_cleanup_removes_it() {
    let setup = quiet();
    let spec = setup.spec();
    let text = std::fs::read_to_string(&spec).unwrap();
    let drill_networks = "drill:\n  networks:\n    - { site-a: net-primary-web, site-b: net-drill-web }\n    - { site-a: net-primary-db, site-b: net-drill-db }\n";
    assert!(text.contains(drill_networks), "the example as written here");
    // Without drill networks a drill is refused, with the fix.
    let bare = setup.dir.path().join("no-drill.yaml");
    std::fs::write(&bare, text.replace(drill_networks, "")).unwrap();
    let output = setup.protector(&["plan", bare.to_str().unwrap(), "--operation", "drill"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output)
            .contains("network `net-primary-db` of `db-1` has no drill network on site-b"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("under drill.networks"));

    // Planned and applied as any plan, kept after verification.
    let before = setup.world();
    let spec = spec.to_str().unwrap();
    let plan = setup.dir.path().join("drill.plan");
    let text = setup.expect(
        0,
        &[
            "plan",
            spec,
            "--operation",
            "drill",
            "--keep",
            "-o",
            plan.to_str().unwrap(),
        ],
    );
    assert!(
        text.contains("protector will perform a DR drill of prod-web-app from site-a to site-b."),
        "{text}"
    );
    assert!(
        !text.contains("cleanup_drill"),
        "kept: no cleanup step\n{text}"
    );
    let events = events(&setup.expect(
        0,
        &["apply", plan.to_str().unwrap(), "--auto-approve", "--json"],
    ));
    let (drill, _) = operations(&events)[0].clone();
    let prefix = format!("drill-{}-", &drill[3..11]);

    let world = setup.world();
    let site_b = &world["sites"]["site-b"];
    let mut names = Vec::new();
    for server in values(&site_b["compute"]["servers"]) {
        let name = server["name"].as_str().unwrap();
        assert!(
            name.starts_with(&prefix),
            "only drill servers on site-b: {name}"
        );
        assert_eq!(server["status"], "ACTIVE", "{name}");
        names.push(name.to_string());
        for port in server["ports"].as_array().unwrap() {
            let port = &site_b["network"]["ports"][port.as_str().unwrap()];
            let network = &site_b["network"]["networks"][port["network_id"].as_str().unwrap()];
            assert!(
                network["name"].as_str().unwrap().starts_with("net-drill-"),
                "{name} is only on drill networks: {network}"
            );
        }
        for attached in server["volumes"].as_array().unwrap() {
            let volume = &site_b["block"]["volumes"][attached["volume_id"].as_str().unwrap()];
            assert_eq!(volume["status"], "in-use", "{name}");
            assert!(volume["name"].as_str().unwrap().starts_with(&prefix));
        }
    }
    names.sort();
    assert_eq!(names, MEMBERS.map(|m| format!("{prefix}{m}")));
    // Production runs on, untouched.
    let mut found = Vec::new();
    differences(
        &before["sites"]["site-a"],
        &world["sites"]["site-a"],
        "/site-a",
        &mut found,
    );
    assert!(found.is_empty(), "site-a changed:\n{}", found.join("\n"));
    let kept = setup.operation(&drill);
    assert_eq!(
        kept["left_on_target"].as_array().map(Vec::len),
        // 3 servers, 3 ports, 4 Cinder volumes, 4 array volumes, the web tier's server group.
        Some(15),
        "{kept}"
    );

    let cleanup = drill_cleanup(&setup, &drill);
    let after = setup.world();
    let copies = copies(&events);
    assert_production_unchanged(&before, &after, &copies);
    assert_copies_destroyed(&after, &copies);
    assert_proven(&setup, &cleanup, &drill);
    assert_eq!(setup.operation(&cleanup)["type"], "drill_cleanup");
}

/// `protector drill cleanup OP --json`; returns the cleanup's operation id.
fn drill_cleanup(setup: &Setup, drill: &str) -> String {
    let events = events(&setup.expect(0, &["drill", "cleanup", drill, "--auto-approve", "--json"]));
    let done = operations(&events);
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].1, "completed");
    done[0].0.clone()
}

#[test]
fn a_drill_that_fails_still_removes_what_it_created() {
    let setup = quiet();
    let spec = setup.spec();
    let before = setup.world();
    // The first wait for a drill server to become ACTIVE fails after Nova created it (every
    // retry of the read fails too): its id never reaches the journal, and the cleanup must find
    // it by the marker it carries.
    setup.fault(json!({
        "site": "site-b",
        "service": "nova",
        "method": "GET",
        "path": "/compute/v2.1/servers/*-*",
        "action": { "kind": "status", "status": 500 },
        "count": 6
    }));
    let output = setup.protector(&["drill", spec.to_str().unwrap(), "--auto-approve", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("failed: boot_instance/db-1: nova on site-b"),
        "{text}"
    );
    assert!(
        text.contains("what the drill created is removed again"),
        "{text}"
    );
    assert!(
        text.contains("hint: fix the cause, then run the drill again"),
        "{text}"
    );

    let events = events(&stdout(&output));
    let done = operations(&events);
    assert_eq!(done.len(), 2, "the drill, then its cleanup: {done:?}");
    let (drill, status) = &done[0];
    assert_eq!(status, "failed");
    let (cleanup, status) = &done[1];
    assert_eq!(status, "completed");
    let after = setup.world();
    let copies = copies(&events);
    assert_eq!(copies.len(), 4, "the copies ran before the boot failed");
    assert_production_unchanged(&before, &after, &copies);
    assert_copies_destroyed(&after, &copies);
    assert_proven(&setup, cleanup, drill);
    assert_eq!(setup.operation(drill)["status"], "failed");
    // The failed drill's report names the failed step; its cleanup's report has the proof.
    let report = setup.report(drill);
    assert_eq!(report["operation"]["status"], "failed", "{report}");
    assert_eq!(
        report["errors"][0]["step"], "boot_instance/db-1",
        "{report}"
    );
    assert_eq!(report["drill"]["proof"], Value::Null, "{report}");
    assert_eq!(
        setup.report(cleanup)["drill"]["proof"]["drill"],
        drill.as_str()
    );
}
