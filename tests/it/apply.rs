//! `protector apply` and the one-command operations end to end: the binary moves the example
//! group between the twin's sites, and the tests check the world as the twin reports it (its
//! `GET /world` dump), not log lines.

use serde_json::Value;

use crate::plan::Setup;
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
    assert_eq!(original_groups[0], vec![vec!["db", "default"]]);

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
    let group = setup.group();
    assert_eq!(group["status"], "active");
    assert_eq!(group["current_primary_site"], "site-a");
    // The protection matches the spec again: converge plans nothing.
    setup.expect(0, &["plan", spec, "--detailed-exitcode"]);
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

    // While site-a is back but not synced, a failback is refused with the way out.
    setup.control("POST", "/sites/site-a/up");
    let output = setup.protector(&["plan", spec, "--operation", "failback"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("sync-force"),
        "{}",
        stderr(&output)
    );

    setup.expect(0, &["protection-group", "sync-force", spec, "--yes"]);
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
