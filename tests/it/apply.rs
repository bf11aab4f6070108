//! `protector apply` and the one-command operations end to end: the binary moves the example
//! group between the twin's sites, and the tests check the world as the twin reports it (its
//! `GET /world` dump), not log lines.

use std::process::Command;

use serde_json::Value;

use crate::plan::Setup;
use crate::schema::assert_conforms;
use crate::{stderr, stdout};

const MEMBERS: [&str; 3] = ["db-1", "web-1", "web-2"];

impl Setup {
    /// Runs protector and asserts it exits with `code`; returns stdout.
    pub fn expect(&self, code: i32, args: &[&str]) -> String {
        let output = self.protector(args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "protector {args:?}\n{}\n{}",
            stdout(&output),
            stderr(&output)
        );
        stdout(&output)
    }

    fn group(&self) -> Value {
        let spec = self.spec();
        let text = self.expect(
            0,
            &[
                "protection-group",
                "show",
                spec.to_str().unwrap(),
                "-f",
                "json",
            ],
        );
        serde_json::from_str(&text).unwrap()
    }
}

fn values(map: &Value) -> Vec<&Value> {
    map.as_object()
        .map(|object| object.values().collect())
        .unwrap_or_default()
}

/// The member servers on `site`, by name.
fn servers<'a>(world: &'a Value, site: &str) -> Vec<&'a Value> {
    values(&world["sites"][site]["compute"]["servers"])
        .into_iter()
        .filter(|server| MEMBERS.contains(&server["name"].as_str().unwrap_or_default()))
        .collect()
}

/// What the array behind a Cinder volume holds (the twin models data as a label).
fn content_of(world: &Value, site: &str, volume_id: &str) -> String {
    let site = &world["sites"][site];
    let volume = &site["block"]["volumes"][volume_id];
    let array_volume = volume["metadata"]["array_volume_name"].as_str().unwrap();
    let backing = values(&site["array"]["volumes"])
        .into_iter()
        .find(|v| v["name"] == array_volume)
        .unwrap_or_else(|| panic!("array volume {array_volume} exists"));
    backing["content"].as_str().unwrap().to_string()
}

fn flavor_name(world: &Value, site: &str, id: &str) -> String {
    values(&world["sites"][site]["compute"]["flavors"])
        .into_iter()
        .find(|flavor| flavor["id"] == id)
        .map(|flavor| flavor["name"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Each member runs once on `site`, ACTIVE, on its volumes holding its original data.
fn assert_runs_on(world: &Value, site: &str, flavor: &str) {
    let servers = servers(world, site);
    let mut names: Vec<&str> = servers
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, MEMBERS, "exactly one instance per member on {site}");
    for server in servers {
        let name = server["name"].as_str().unwrap();
        assert_eq!(server["status"], "ACTIVE", "{name}");
        assert_eq!(
            flavor_name(world, site, server["flavor_id"].as_str().unwrap()),
            flavor
        );
        let volumes = server["volumes"].as_array().unwrap();
        assert_eq!(volumes.len(), if name == "db-1" { 2 } else { 1 }, "{name}");
        for (index, attached) in volumes.iter().enumerate() {
            let id = attached["volume_id"].as_str().unwrap();
            assert_eq!(
                world["sites"][site]["block"]["volumes"][id]["status"],
                "in-use"
            );
            assert_eq!(
                content_of(world, site, id),
                format!("data:site-a:{name}:{index}"),
                "{name} boots from a copy of its own data"
            );
        }
    }
}

/// The fixed IP of `member`'s first port on `site`.
fn address(world: &Value, site: &str, member: &str) -> String {
    let server = servers(world, site)
        .into_iter()
        .find(|s| s["name"] == member)
        .unwrap();
    let port = &world["sites"][site]["network"]["ports"][server["ports"][0].as_str().unwrap()];
    port["fixed_ips"][0]["ip_address"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The security groups of `member`'s ports on `site`, by name, port by port.
fn security_groups(world: &Value, site: &str, member: &str) -> Vec<Vec<String>> {
    let site = &world["sites"][site];
    let server = values(&site["compute"]["servers"])
        .into_iter()
        .find(|s| s["name"] == member)
        .unwrap_or_else(|| panic!("no {member}"));
    server["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|port| {
            let mut names: Vec<String> =
                site["network"]["ports"][port.as_str().unwrap()]["security_groups"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|id| {
                        site["network"]["security_groups"][id.as_str().unwrap()]["name"]
                            .as_str()
                            .unwrap()
                            .to_string()
                    })
                    .collect();
            names.sort();
            names
        })
        .collect()
}

/// What `member` is on `site` beyond its ports: key pair, server group (name, policy), tags,
/// description, and the host it runs on.
fn identity(world: &Value, site: &str, member: &str) -> (Value, String) {
    let site = &world["sites"][site];
    let server = values(&site["compute"]["servers"])
        .into_iter()
        .find(|s| s["name"] == member)
        .unwrap_or_else(|| panic!("no {member}"));
    let group = site["compute"]["server_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|group| group["members"].as_array().unwrap().contains(&server["id"]))
        .map(|group| serde_json::json!([group["name"], group["policy"]]));
    (
        serde_json::json!({
            "key_name": server["key_name"],
            "server_group": group,
            "tags": server["tags"],
            "description": server["description"],
        }),
        server["host"].as_str().unwrap_or_default().to_string(),
    )
}

/// Each member's identity on `site`, checked for the web tier's anti-affinity: its two
/// servers on two hosts.
fn identities(world: &Value, site: &str) -> Vec<Value> {
    let found: Vec<(Value, String)> = MEMBERS
        .iter()
        .map(|member| identity(world, site, member))
        .collect();
    assert_ne!(
        found[1].1, found[2].1,
        "web-1 and web-2 share a host on {site}"
    );
    found.into_iter().map(|(identity, _)| identity).collect()
}

#[test]
fn a_planned_failover_and_a_failback_move_the_workload_and_bring_it_back() {
    let setup = Setup::new();
    let spec = setup.spec();
    let spec = spec.to_str().unwrap();
    let before = setup.world();
    let original_address = address(&before, "site-a", "web-1");
    let original_groups: Vec<Vec<Vec<String>>> = MEMBERS
        .iter()
        .map(|member| security_groups(&before, "site-a", member))
        .collect();
    assert_eq!(original_groups[0], vec![vec!["db", "db-admin", "default"]]);
    let original_identities = identities(&before, "site-a");
    assert_eq!(
        original_identities[1],
        serde_json::json!({"key_name": "ops", "server_group": ["web-servers", "anti-affinity"],
            "tags": ["web"], "description": "Web front end 1"})
    );

    let events = setup.expect(
        0,
        &["failover", spec, "--type", "planned", "--yes", "--json"],
    );
    let events: Vec<Value> = events
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(events[0]["event"], "step_started", "{events:?}");
    let done = events.last().unwrap();
    assert_eq!(done["event"], "operation_done");
    assert_eq!(done["status"], "completed");

    let world = setup.world();
    assert_runs_on(&world, "site-b", "m2.large");
    assert!(
        servers(&world, "site-a").is_empty(),
        "nothing left on site-a"
    );
    assert_eq!(address(&world, "site-b", "web-1"), original_address);
    // What lets traffic reach each member comes along: its security groups.
    for (member, groups) in MEMBERS.iter().zip(&original_groups) {
        assert_eq!(
            &security_groups(&world, "site-b", member),
            groups,
            "{member}"
        );
    }
    // And the rest of each member's identity: key pair, server group with its policy (the
    // failover made site-b's), tags, description.
    assert_eq!(identities(&world, "site-b"), original_identities);
    // The source volumes are unmanaged, their array data kept.
    let site_a = &world["sites"]["site-a"];
    for member in MEMBERS {
        assert!(
            values(&site_a["block"]["volumes"])
                .iter()
                .all(|v| !v["name"].as_str().unwrap().starts_with(member)),
            "{member}'s volumes are unmanaged on site-a"
        );
        assert!(
            values(&site_a["array"]["volumes"])
                .iter()
                .any(|v| v["content"] == format!("data:site-a:{member}:0")
                    && v["destroyed"] == false),
            "{member}'s data is still on fa-a"
        );
    }
    let group = setup.group();
    assert_eq!(group["status"], "failed_over");
    assert_eq!(group["current_primary_site"], "site-b");
    assert_eq!(group["failover_count"], 1);
    // What was unmanaged on site-a no longer replicates, nor does the direction left.
    let (volumes, replicating) = array_group(&world, "site-a");
    assert!(volumes.is_empty(), "fa-a's group still holds {volumes:?}");
    assert!(!replicating, "fa-a's group still replicates");
    assert!(array_group(&world, "site-b").1, "fa-b's group replicates");

    setup.expect(0, &["failback", spec, "--reverse-replication", "--yes"]);
    let world = setup.world();
    assert_runs_on(&world, "site-a", "m1.large");
    assert!(
        servers(&world, "site-b").is_empty(),
        "nothing left on site-b"
    );
    assert_eq!(address(&world, "site-a", "web-1"), original_address);
    for (member, groups) in MEMBERS.iter().zip(&original_groups) {
        assert_eq!(
            &security_groups(&world, "site-a", member),
            groups,
            "{member}"
        );
    }
    assert_eq!(identities(&world, "site-a"), original_identities);
    let group = setup.group();
    assert_eq!(group["status"], "active");
    assert_eq!(group["current_primary_site"], "site-a");
    let (volumes, replicating) = array_group(&world, "site-b");
    assert!(volumes.is_empty(), "fa-b's group still holds {volumes:?}");
    assert!(!replicating, "fa-b's group still replicates to fa-a");
    let (volumes, replicating) = array_group(&world, "site-a");
    assert!(replicating && volumes.len() == 4, "{volumes:?}");
    assert!(
        volumes.iter().all(|v| !v.ends_with("-unmanaged")),
        "{volumes:?}"
    );
    // The protection matches the spec again: converge plans nothing.
    setup.expect(0, &["plan", spec, "--detailed-exitcode"]);
}

/// The volumes of the array's own `prod-web-app` group on `site`, and whether it replicates.
fn array_group(world: &Value, site: &str) -> (Vec<String>, bool) {
    let groups = values(&world["sites"][site]["array"]["protection_groups"]);
    let group = groups
        .iter()
        .find(|group| group["name"] == "prod-web-app" && group["destroyed"] == false)
        .unwrap_or_else(|| panic!("no prod-web-app group on {site}"));
    let volumes = group["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    (volumes, group["replication_schedule"]["enabled"] == true)
}

/// `protection-group show`'s `protected_since`, if the replica holds a recoverable copy.
fn protected_since(setup: &Setup, spec: &str) -> Option<String> {
    let text = setup.expect(0, &["protection-group", "show", spec, "-f", "json"]);
    let group: Value = serde_json::from_str(&text).unwrap();
    let since = group["protected_since"].as_str().unwrap().to_string();
    chrono::DateTime::parse_from_rfc3339(&since)
        .is_ok()
        .then_some(since)
}

#[test]
fn output_follows_the_openstack_clients_options() {
    let setup = Setup::new();
    let spec = setup.spec();
    let spec = spec.to_str().unwrap();
    // `-f json` is the progress format's name; `--json` stays its alias.
    let events = setup.expect(
        0,
        &["failover", spec, "--type", "planned", "--yes", "-f", "json"],
    );
    let last: Value = serde_json::from_str(events.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "operation_done", "{events}");
    // Every JSON document printed has its schema in schemas/.
    for line in events.lines() {
        assert_conforms(
            "progress-event.schema.json",
            &serde_json::from_str(line).unwrap(),
        );
    }
    let operation = last["operation"].as_str().unwrap();
    for (schema, args) in [
        (
            "operation-show.schema.json",
            vec!["operation", "show", operation],
        ),
        (
            "operation-list.schema.json",
            vec!["operation", "list", spec],
        ),
        (
            "protection-group-show.schema.json",
            vec!["protection-group", "show", spec],
        ),
        (
            "protection-group-policy-show.schema.json",
            vec!["protection-group", "policy-show", spec],
        ),
        (
            "protection-group-sync-status.schema.json",
            vec!["protection-group", "sync-status", spec],
        ),
        (
            "site-validate.schema.json",
            vec!["site", "validate", spec, "site-a"],
        ),
        ("report.schema.json", vec!["report", operation]),
    ] {
        let mut args = args;
        args.extend(["-f", "json"]);
        let document: Value = serde_json::from_str(&setup.expect(0, &args)).unwrap();
        assert_conforms(schema, &document);
    }

    let shell = setup.expect(
        0,
        &[
            "protection-group",
            "show",
            spec,
            "-f",
            "shell",
            "--prefix",
            "pg_",
            "-c",
            "current_primary_site",
            "-c",
            "failover_count",
        ],
    );
    assert_eq!(
        shell,
        "pg_current_primary_site=\"site-b\"\npg_failover_count=\"1\"\n"
    );
    let sites = setup.expect(
        0,
        &[
            "protection-group",
            "sync-status",
            spec,
            "-f",
            "value",
            "-c",
            "site",
            "--sort-column",
            "site",
            "--sort-descending",
        ],
    );
    assert_eq!(sites, "site-b\nsite-a\n");
    let csv = setup.expect(
        0,
        &[
            "operation",
            "list",
            spec,
            "-f",
            "csv",
            "-c",
            "type",
            "-c",
            "status",
        ],
    );
    assert_eq!(csv, "\"type\",\"status\"\n\"failover\",\"completed\"\n");
    let table = setup.expect(0, &["operation", "list", spec, "--max-width", "60"]);
    assert!(
        table.lines().all(|line| line.chars().count() <= 60),
        "{table}"
    );

    // JSON for machines: versioned, typed fields rather than display text.
    let group: Value =
        serde_json::from_str(&setup.expect(0, &["protection-group", "show", spec, "-f", "json"]))
            .unwrap();
    assert_eq!(group["format_version"], "1.0");
    assert_eq!(
        group["members"][0],
        serde_json::json!({ "name": "db-1", "site": "site-b" })
    );
    assert_eq!(group["last_operation"]["type"], "failover");
    assert_eq!(group["last_operation"]["status"], "completed");
    let policy: Value = serde_json::from_str(
        &setup.expect(0, &["protection-group", "policy-show", spec, "-f", "json"]),
    )
    .unwrap();
    assert_eq!(policy["site site-b"]["array"], "fa-b", "{policy}");
    assert_eq!(
        policy["network_mappings"][0],
        serde_json::json!({ "site-a": "net-primary-web", "site-b": "net-secondary-web" }),
        "{policy}"
    );
    let table = setup.expect(0, &["protection-group", "show", spec, "-c", "members"]);
    assert!(table.contains("name='db-1', site='site-b'"), "{table}");

    let output = setup.protector(&["operation", "list", spec, "-c", "size"]);
    assert_eq!(output.status.code(), Some(1));
    let said = stderr(&output);
    assert!(said.contains("no column `size`"), "{said}");
    assert!(said.contains("columns: id, type, status"), "{said}");
}

#[test]
fn a_failback_with_reverse_replication_is_protected_at_once() {
    let setup = Setup::new();
    let spec = setup.spec();
    let spec = spec.to_str().unwrap();
    setup.expect(0, &["failover", spec, "--type", "planned", "--yes"]);
    // The recovered volumes are new: a copy of them is on site-a's array before it reports.
    assert!(protected_since(&setup, spec).is_some());
    setup.expect(0, &["failback", spec, "--reverse-replication", "--yes"]);
    let since = protected_since(&setup, spec).expect("protected after the failback");
    let text = setup.expect(0, &["protection-group", "sync-status", spec, "-f", "json"]);
    let rows: Vec<Value> = serde_json::from_str(&text).unwrap();
    let site_b = rows.iter().find(|row| row["site"] == "site-b").unwrap();
    assert_eq!(site_b["protected_since"], since.as_str(), "{rows:?}");

    // Site-a lost right away: an unplanned failover recovers from that copy.
    setup.control("POST", "/sites/site-a/down");
    setup.expect(
        0,
        &[
            "failover",
            spec,
            "--type",
            "unplanned",
            "--accept-data-loss",
            "--yes",
        ],
    );
    assert_runs_on(&setup.world(), "site-b", "m2.large");
}

#[test]
fn an_unplanned_failover_then_sync_force_when_the_old_primary_returns() {
    let setup = Setup::new();
    let spec = setup.spec();
    let spec = spec.to_str().unwrap();
    // Record the members (what an unplanned failover rebuilds them from).
    let plan = setup.dir.path().join("converge.plan");
    setup.expect(0, &["plan", spec, "-o", plan.to_str().unwrap()]);
    setup.expect(0, &["apply", plan.to_str().unwrap(), "--auto-approve"]);

    setup.control("POST", "/sites/site-a/down");
    let output = setup.protector(&[
        "failover",
        spec,
        "--type",
        "unplanned",
        "--accept-data-loss",
        "--yes",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The operator is told what the old primary needs once it is back.
    let said = format!("{}{}", stdout(&output), stderr(&output));
    assert!(
        said.contains("site-a could not be reached")
            && said.contains("protection-group sync-force"),
        "{said}"
    );
    assert_runs_on(&setup.world(), "site-b", "m2.large");
    let sync = |setup: &Setup| -> Vec<Value> {
        let text = setup.expect(0, &["protection-group", "sync-status", spec, "-f", "json"]);
        serde_json::from_str(&text).unwrap()
    };
    let rows = sync(&setup);
    let site_b = rows.iter().find(|row| row["site"] == "site-b").unwrap();
    assert_eq!(site_b["sync"], "UNREACHABLE", "{rows:?}");

    // While site-a is back but not synced, it is behind (OUT OF SYNC), no longer UNREACHABLE,
    // and a failback is refused with the way out.
    setup.control("POST", "/sites/site-a/up");
    let rows = sync(&setup);
    assert!(
        rows.iter().all(|row| row["sync"] == "OUT OF SYNC"),
        "{rows:?}"
    );
    let output = setup.protector(&["plan", spec, "--operation", "failback"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("sync-force"),
        "{}",
        stderr(&output)
    );

    let output = setup.protector(&["protection-group", "sync-force", spec, "--yes"]);
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    // It says what it does to the site that was lost, in words, not in its step kinds' names.
    assert!(
        said.contains("the workload's stale instances on site-a are removed"),
        "{said}"
    );
    assert!(said.contains("Apply complete! sync-force"), "{said}");
    assert!(!said.contains("sync_force"), "{said}");
    let rows = sync(&setup);
    assert!(rows.iter().all(|row| row["sync"] == "IN SYNC"), "{rows:?}");
    let world = setup.world();
    assert!(
        servers(&world, "site-a").is_empty(),
        "the stale instances on site-a are gone"
    );
    assert_runs_on(&world, "site-b", "m2.large");
}

#[test]
fn detailed_exitcode_is_0_on_a_converged_group_and_2_after_adding_a_member() {
    let setup = Setup::new();
    let spec = setup.spec();
    let full = std::fs::read_to_string(&spec).unwrap();
    let web_2 = "  - instance: web-2\n    boot_order: 2\n    depends_on: [db-1]\n";
    assert!(
        full.contains(web_2),
        "the example has web-2 as written here"
    );
    std::fs::write(&spec, full.replace(web_2, "")).unwrap();
    let spec = spec.to_str().unwrap();
    let plan = setup.dir.path().join("converge.plan");
    setup.expect(
        2,
        &[
            "plan",
            spec,
            "--detailed-exitcode",
            "-o",
            plan.to_str().unwrap(),
        ],
    );
    setup.expect(0, &["apply", plan.to_str().unwrap(), "--auto-approve"]);
    setup.expect(0, &["plan", spec, "--detailed-exitcode"]);

    std::fs::write(setup.spec(), &full).unwrap();
    let text = setup.expect(2, &["plan", spec, "--detailed-exitcode"]);
    assert!(text.contains("record_members"), "{text}");
}

#[test]
fn a_member_that_fails_after_recovery_fails_the_failover_before_the_source_is_removed() {
    let setup = Setup::new();
    let spec = setup.spec();
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        text.replace("stabilization: 2s", "stabilization: 6s"),
    )
    .unwrap();
    let spec = spec.to_str().unwrap();
    // web-1 turns ERROR 3 s after it first runs on site-b: after its checks, within the window.
    setup.fault(serde_json::json!({
        "site": "site-b",
        "action": { "kind": "server_error", "name": "web-1", "after_ms": 3000 },
        "count": 1
    }));
    let output = setup.protector(&["failover", spec, "--type", "planned", "--yes"]);
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(
        said.contains("stabilize") && said.contains("web-1") && said.contains("ERROR"),
        "{said}"
    );
    // Make before break: site-a's instances are still there to roll back to.
    let world = setup.world();
    assert_eq!(servers(&world, "site-a").len(), MEMBERS.len());
    let operation = said
        .split_whitespace()
        .find(|word| word.starts_with("op-"))
        .unwrap()
        .trim_end_matches(':')
        .to_string();
    // The record says which check failed, and why; the commands protector printed work from
    // any directory, not only the spec's.
    let elsewhere = tempfile::tempdir().unwrap();
    let shown = setup.protector_from(
        elsewhere.path(),
        &["operation", "show", &operation, "-f", "json"],
    );
    let shown: Value = serde_json::from_str(&stdout(&shown)).unwrap();
    assert_eq!(shown["status"], "failed");
    assert!(
        shown["error_message"].as_str().unwrap().contains("web-1"),
        "{shown}"
    );
    assert!(
        said.contains(&format!("protector rollback {operation}")),
        "{said}"
    );
    let rolled_back = setup.protector_from(elsewhere.path(), &["rollback", &operation]);
    assert_eq!(
        rolled_back.status.code(),
        Some(0),
        "{}",
        stderr(&rolled_back)
    );
    assert_runs_on(&setup.world(), "site-a", "m1.large");
    let report = setup.protector_from(elsewhere.path(), &["report", &operation]);
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));
    // Without the state home's memory, the lookup says where it searched.
    let lost = Command::new(env!("CARGO_BIN_EXE_protector"))
        .args(["operation", "show", &operation])
        .current_dir(elsewhere.path())
        .env("XDG_STATE_HOME", elsewhere.path())
        .env_remove("PROTECTOR_STATE")
        .output()
        .unwrap();
    assert_eq!(lost.status.code(), Some(1));
    let said = stderr(&lost);
    assert!(
        said.contains(&format!("no operation {operation} in .protector")),
        "{said}"
    );
    assert!(said.contains("--state"), "{said}");
}

#[test]
fn a_boot_nova_could_not_place_is_booted_again_and_every_attempt_is_journaled_and_shown() {
    let setup = Setup::new();
    let spec = setup.spec();
    let spec = spec.to_str().unwrap();
    // The first two boots on site-b end in ERROR with NoValidHost (Placement busy, say).
    setup.fault(serde_json::json!({
        "site": "site-b",
        "action": { "kind": "no_valid_host" },
        "count": 2
    }));
    let events = setup.expect(
        0,
        &["failover", spec, "--type", "planned", "--yes", "--json"],
    );
    let events: Vec<Value> = events
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let retries: Vec<&Value> = events
        .iter()
        .filter(|event| event["event"] == "step_retrying")
        .collect();
    assert_eq!(retries.len(), 2, "{events:?}");
    for retry in &retries {
        assert!(
            retry["step"]
                .as_str()
                .unwrap()
                .starts_with("boot_instance/"),
            "{retry}"
        );
        assert!(
            retry["error"]
                .as_str()
                .unwrap()
                .contains("No valid host was found"),
            "{retry}"
        );
    }
    let done = events.last().unwrap();
    assert_eq!(done["status"], "completed", "{done}");

    // The failed attempts are gone; the members run once each, on their own volumes.
    let world = setup.world();
    assert_runs_on(&world, "site-b", "m2.large");
    let id = done["operation"].as_str().unwrap().to_string();
    let report = setup.expect(0, &["report", &id]);
    assert_eq!(
        report.matches("(tried again)").count(),
        2,
        "each failed attempt is in the report\n{report}"
    );

    // A boot that cannot be placed on any attempt fails its step with every attempt's fault,
    // before the source is removed; a rollback leaves site-b as it was.
    setup.expect(0, &["failback", spec, "--reverse-replication", "--yes"]);
    setup.fault(serde_json::json!({
        "site": "site-b",
        "action": { "kind": "no_valid_host" },
        "count": 3
    }));
    let output = setup.protector(&["failover", spec, "--type", "planned", "--yes"]);
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains("3 boots of "), "{said}");
    let world = setup.world();
    assert_eq!(servers(&world, "site-a").len(), MEMBERS.len(), "{said}");
    let operation = said
        .split_whitespace()
        .find(|word| word.starts_with("op-"))
        .unwrap()
        .trim_end_matches(':')
        .to_string();
    setup.expect(0, &["rollback", &operation]);
    let world = setup.world();
    assert_runs_on(&world, "site-a", "m1.large");
    assert!(
        servers(&world, "site-b").is_empty(),
        "nothing left on site-b"
    );
}

/// The array volumes named `names` on `site`'s array, as (name, destroyed).
fn array_volumes(world: &Value, site: &str, names: &[String]) -> Vec<(String, bool)> {
    let mut found: Vec<(String, bool)> = values(&world["sites"][site]["array"]["volumes"])
        .into_iter()
        .filter(|v| names.iter().any(|name| v["name"] == name.as_str()))
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                v["destroyed"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    found.sort();
    found
}

#[test]
fn retired_volumes_are_kept_until_the_specs_retention_passed_then_destroyed_recoverably() {
    let setup = Setup::new();
    let spec_path = setup.spec();
    let spec = spec_path.to_str().unwrap();
    setup.expect(0, &["failover", spec, "--type", "planned", "--yes"]);
    // The failover retired site-a's volumes and recorded them in both sites' state.
    let state_of = |site: &str| {
        setup
            .dir
            .path()
            .join(format!(".protector/{site}/prod-web-app.json"))
    };
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(state_of("site-a")).unwrap()).unwrap();
    let retired: Vec<String> = doc["retired_volumes"]
        .as_array()
        .expect("retired volumes recorded")
        .iter()
        .map(|v| {
            assert_eq!(v["array"], "fa-a");
            v["name"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(retired.len(), 4, "{doc}");
    assert!(
        retired
            .iter()
            .all(|name| name.ends_with("-cinder-unmanaged"))
    );
    let kept = array_volumes(&setup.world(), "site-a", &retired);
    assert_eq!(kept.len(), 4);
    assert!(kept.iter().all(|(_, destroyed)| !destroyed), "{kept:?}");

    // No retention policy: kept, and every converge plan says so.
    let text = setup.expect(0, &["plan", spec, "--detailed-exitcode"]);
    assert!(
        text.contains("4 retired volume(s) are kept on fa-a"),
        "{text}"
    );

    // With a week's retention, nothing is due yet.
    let original = std::fs::read_to_string(&spec_path).unwrap();
    let with_policy = original.replace(
        "  stabilization: 2s\n",
        "  stabilization: 2s\n  retired_volumes: { destroy_after: 7d }\n",
    );
    assert_ne!(with_policy, original, "the example sets stabilization: 2s");
    std::fs::write(&spec_path, &with_policy).unwrap();
    setup.expect(0, &["plan", spec, "--detailed-exitcode"]);

    // A week and more later (the state says they were retired long ago): converge destroys
    // them, recoverably, and forgets them.
    for site in ["site-a", "site-b"] {
        let path = state_of(site);
        let mut doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for volume in doc["retired_volumes"].as_array_mut().unwrap() {
            volume["retired_at"] = Value::from("2026-01-01T00:00:00Z");
        }
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
    let plan = setup.dir.path().join("retention.plan");
    let text = setup.expect(
        2,
        &[
            "plan",
            spec,
            "--detailed-exitcode",
            "-o",
            plan.to_str().unwrap(),
        ],
    );
    assert!(text.contains("destroy_retired_volumes/fa-a"), "{text}");
    assert!(
        text.contains("recoverable until the array eradicates them"),
        "{text}"
    );
    setup.expect(0, &["apply", plan.to_str().unwrap(), "--auto-approve"]);
    let destroyed = array_volumes(&setup.world(), "site-a", &retired);
    assert_eq!(
        destroyed.len(),
        4,
        "still on the array, in its destroyed bin"
    );
    assert!(
        destroyed.iter().all(|(_, destroyed)| *destroyed),
        "{destroyed:?}"
    );
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(state_of("site-b")).unwrap()).unwrap();
    assert!(doc.get("retired_volumes").is_none(), "{doc}");
    setup.expect(0, &["plan", spec, "--detailed-exitcode"]);
    // The workload was never touched.
    assert_runs_on(&setup.world(), "site-b", "m2.large");
}
