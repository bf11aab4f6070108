//! End to end against two REAL OpenStack sites (tests/real-openstack/): the protector binary
//! drives a refused failover (Cinder's policy denies manage), a drill, failover, failback, an
//! unplanned failover right after it and sync-force of the example group, and every end state is
//! checked through the sites' own APIs (openstacksdk, via `protector_real_os.observe`) and the
//! twin's arrays (`$PROTECTOR_SIM_CONTROL/world`), not through protector: the members' fixed IPs,
//! volumes, security groups, key pair, tags, description, availability zone and server group.
//!
//! Ignored by `cargo test`: it needs the sites up and seeded. CI runs it through
//! `tests/real-openstack/e2e`, or by hand:
//!
//! ```sh
//! tests/real-openstack/up DIR && tests/real-openstack/seed DIR
//! PROTECTOR_REAL_OS_DIR=DIR cargo test --locked --test real_openstack -- --ignored --test-threads=1
//! tests/real-openstack/down DIR
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const SPEC: &str = "prod-web-app.yaml";
const MEMBERS: [&str; 3] = ["db-1", "web-1", "web-2"];
/// The members' fixed IPs, kept across every move (examples/prod-web-app.yaml, seed.py).
const FIXED_IPS: [(&str, &str); 3] = [
    ("db-1", "10.10.2.10"),
    ("web-1", "10.10.1.11"),
    ("web-2", "10.10.1.12"),
];
/// db-1 has a boot and a data volume, the web servers a boot volume each.
const MEMBER_VOLUMES: usize = 4;
/// What else each member carries (seed.py): the security groups of its port, its tags and
/// description. Every member has key pair `ops`; the web servers are in `web-servers`.
const PROFILES: [(&str, [&str; 2], &[&str], &str); 3] = [
    (
        "db-1",
        ["db", "default"],
        &["critical", "db"],
        "PostgreSQL primary",
    ),
    ("web-1", ["default", "web"], &["web"], "Web front end 1"),
    ("web-2", ["default", "web"], &["web"], "Web front end 2"),
];
const KEY_NAME: &str = "ops";
const SERVER_GROUP: (&str, &str, [&str; 2]) = ("web-servers", "anti-affinity", ["web-1", "web-2"]);
/// Cinder's policy overrides on a site (lib/site-up): oslo.policy reads the file again when it
/// changes.
const CINDER_POLICY: &str = "etc/cinder-policy.yaml";
const DENY_MANAGE: &str = "\"volume_extension:volume_manage\": \"role:nobody\"\n";

/// The running sites, as `tests/real-openstack/up DIR` described them in DIR/env.
struct Sites {
    dir: PathBuf,
    harness: PathBuf,
    bin: PathBuf,
    env: BTreeMap<String, String>,
}

impl Sites {
    fn from_env() -> Self {
        let Some(dir) = std::env::var_os("PROTECTOR_REAL_OS_DIR") else {
            panic!(
                "PROTECTOR_REAL_OS_DIR is not set. This suite needs two real OpenStack sites:\n  \
                 tests/real-openstack/up DIR && tests/real-openstack/seed DIR\n  \
                 PROTECTOR_REAL_OS_DIR=DIR cargo test --locked --test real_openstack -- --ignored --test-threads=1\n  \
                 tests/real-openstack/down DIR\n\
                 or all of it: tests/real-openstack/e2e (see tests/real-openstack/README.md)"
            );
        };
        let dir = PathBuf::from(dir);
        let env = read_env(&dir.join("env"));
        let bin = std::env::var_os("PROTECTOR_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_protector")));
        let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real-openstack");
        Sites {
            dir,
            harness,
            bin,
            env,
        }
    }

    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(&self.dir)
            .envs(&self.env)
            .env("NO_COLOR", "1")
            .env("PROTECTOR_STATE", self.dir.join("protector-state"));
        command
    }

    /// Runs protector; panics with its output unless it exits 0.
    fn protector(&self, args: &[&str]) -> String {
        let output = self.command(&self.bin).args(args).output().unwrap();
        succeeded(&format!("protector {}", args.join(" ")), &output)
    }

    /// Runs protector, whatever its exit: (exit code, stdout and stderr together).
    fn protector_status(&self, args: &[&str]) -> (Option<i32>, String) {
        let output = self.command(&self.bin).args(args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code(), text)
    }

    /// Replaces the Cinder policy overrides of `site` (its Cinder reads them at its next check).
    fn cinder_policy(&self, site: &str, yaml: &str) {
        std::fs::write(self.dir.join(site).join(CINDER_POLICY), yaml).unwrap();
    }

    /// Runs an operation with `--json` and returns its events; asserts it completed.
    fn operation(&self, args: &[&str]) -> Events {
        let mut args = args.to_vec();
        args.push("--json");
        let events = Events::parse(&self.protector(&args));
        assert_eq!(
            events.done()["status"],
            "completed",
            "protector {}: {:?}",
            args.join(" "),
            events.failures()
        );
        events
    }

    /// What a site's APIs say: servers, ports, volumes (see protector_real_os/observe.py).
    fn observe(&self, site: &str) -> Value {
        let python = Path::new(&self.env["PROTECTOR_REAL_OS_VENV"]).join("bin/python");
        let output = self
            .command(&python)
            .env("PYTHONPATH", self.harness.join("lib"))
            .args(["-m", "protector_real_os.observe", site])
            .output()
            .unwrap();
        serde_json::from_str(&succeeded(&format!("observe {site}"), &output)).unwrap()
    }

    /// The twin's arrays as its control API has them.
    fn world(&self) -> Value {
        let url = format!("{}/world", self.env["PROTECTOR_SIM_CONTROL"]);
        let output = Command::new("curl").args(["-sf", &url]).output().unwrap();
        serde_json::from_str(&succeeded("curl world", &output)).unwrap()
    }

    /// `POST $PROTECTOR_SIM_CONTROL/PATH` with a JSON body (a site's array down or up, a
    /// replication now).
    fn control(&self, path: &str, body: &str) {
        let url = format!("{}/{path}", self.env["PROTECTOR_SIM_CONTROL"]);
        let output = Command::new("curl")
            .args(["-sf", "-X", "POST", "-H", "content-type: application/json"])
            .args(["-d", body, &url])
            .output()
            .unwrap();
        succeeded(&format!("POST {path}"), &output);
    }

    /// tests/real-openstack/SCRIPT DIR SITE (stop-site, start-site).
    fn harness(&self, script: &str, site: &str) {
        let output = self
            .command(&self.harness.join(script))
            .arg(&self.dir)
            .arg(site)
            .output()
            .unwrap();
        succeeded(&format!("{script} {site}"), &output);
    }

    fn group(&self) -> Value {
        let out = self.protector(&["protection-group", "show", SPEC, "-f", "json"]);
        serde_json::from_str(&out).unwrap()
    }
}

fn read_env(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}: run tests/real-openstack/up first", path.display()));
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

fn succeeded(what: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The `--json` lines of one operation.
struct Events(Vec<Value>);

impl Events {
    fn parse(stdout: &str) -> Self {
        Events(
            stdout
                .lines()
                .filter(|line| line.starts_with('{'))
                .map(|line| serde_json::from_str(line).unwrap())
                .collect(),
        )
    }

    fn done(&self) -> &Value {
        self.0
            .iter()
            .find(|e| e["event"] == "operation_done")
            .expect("no operation_done event")
    }

    fn operation_id(&self) -> String {
        self.done()["operation"].as_str().unwrap().to_string()
    }

    fn failures(&self) -> Vec<&Value> {
        self.0
            .iter()
            .filter(|e| e["event"] == "step_failed")
            .collect()
    }

    /// Seconds since the operation started at which `event` happened to `step`.
    fn at(&self, event: &str, step: &str) -> f64 {
        self.0
            .iter()
            .find(|e| e["event"] == event && e["step"] == step)
            .and_then(|e| e["elapsed"].as_f64())
            .unwrap_or_else(|| panic!("no {event} of {step}"))
    }
}

// ---------------------------------------------------------------- what the real APIs say

fn server<'a>(world: &'a Value, name: &str) -> Option<&'a Value> {
    world["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
}

/// The port bound to `server` on `site`.
fn port_of<'a>(site: &'a Value, server: &Value, name: &str) -> &'a Value {
    site["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["device_id"] == server["id"])
        .unwrap_or_else(|| panic!("{name}: no port bound to {}", server["name"]))
}

/// The members run on `site`, ACTIVE, with their fixed IPs on ports bound to them, booted from
/// in-use volumes on the site's Cinder pool.
fn assert_members_run_on(site: &Value, name: &str, pool: &str) {
    for (member, ip) in FIXED_IPS {
        let server = server(site, member).unwrap_or_else(|| panic!("{name}: no {member}"));
        assert_eq!(server["status"], "ACTIVE", "{name}: {server}");
        assert_eq!(server["ips"], json!([ip]), "{name}: {server}");
        let port = port_of(site, server, name);
        assert_eq!(port["ips"], json!([ip]), "{name}: {port}");
    }
    let in_use: Vec<&Value> = site["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["status"] == "in-use")
        .collect();
    assert_eq!(in_use.len(), MEMBER_VOLUMES, "{name}: {}", site["volumes"]);
    for volume in in_use {
        assert_eq!(volume["host"], pool, "{name}: {volume}");
    }
}

/// Each member's availability zone where it runs now (the seeded ones: the yardstick).
fn zones(site: &Value) -> BTreeMap<String, Value> {
    MEMBERS
        .iter()
        .map(|member| {
            let server = server(site, member).unwrap_or_else(|| panic!("no {member}"));
            (member.to_string(), server["availability_zone"].clone())
        })
        .collect()
}

/// Every member on `site` is the same application it was on site-a: its port's security
/// groups, key pair `ops`, tags, description and availability zone (`zones`); the web servers
/// are exactly the members of server group `web-servers` there, with its policy
/// (anti-affinity), each on a compute host of its own.
fn assert_members_carry_their_profile(site: &Value, name: &str, zones: &BTreeMap<String, Value>) {
    for (member, groups, tags, description) in PROFILES {
        let server = server(site, member).unwrap_or_else(|| panic!("{name}: no {member}"));
        assert_eq!(server["key_name"], KEY_NAME, "{name}: {server}");
        assert_eq!(server["tags"], json!(tags), "{name}: {server}");
        assert_eq!(server["description"], description, "{name}: {server}");
        assert_eq!(
            server["availability_zone"], zones[member],
            "{name}: {server}"
        );
        let port = port_of(site, server, name);
        assert_eq!(port["security_groups"], json!(groups), "{name}: {port}");
    }
    assert!(
        site["keypairs"]
            .as_array()
            .unwrap()
            .contains(&KEY_NAME.into()),
        "{name}: no key pair {KEY_NAME}: {}",
        site["keypairs"]
    );
    let (group, policy, members) = SERVER_GROUP;
    let named: Vec<&Value> = site["server_groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["name"] == group)
        .collect();
    assert_eq!(named.len(), 1, "{name}: {}", site["server_groups"]);
    assert_eq!(named[0]["policy"], policy, "{name}: {}", named[0]);
    assert_eq!(named[0]["members"], json!(members), "{name}: {}", named[0]);
    let hosts: BTreeSet<&str> = members
        .iter()
        .map(|member| server(site, member).unwrap()["host"].as_str().unwrap())
        .collect();
    assert_eq!(
        hosts.len(),
        members.len(),
        "{name}: the {group} members share a host: {hosts:?}"
    );
}

/// None of the members, nor any volume or port of theirs, is left on `site`.
fn assert_members_gone_from(site: &Value, name: &str) {
    for member in MEMBERS {
        assert!(server(site, member).is_none(), "{name}: {member} is left");
    }
    assert_eq!(site["volumes"], json!([]), "{name}: volumes left");
    for port in site["ports"].as_array().unwrap() {
        let ips = port["ips"].as_array().unwrap();
        assert!(
            !FIXED_IPS.iter().any(|(_, ip)| ips.contains(&(*ip).into())),
            "{name}: port left: {port}"
        );
    }
}

/// Every Cinder volume of `site` is the array volume `volume-<id>-cinder` on its array.
fn assert_volumes_on_array(world: &Value, site: &Value, site_name: &str) {
    let array = &world["sites"][site_name]["array"]["volumes"];
    for volume in site["volumes"].as_array().unwrap() {
        let name = format!("volume-{}-cinder", volume["id"].as_str().unwrap());
        assert!(
            array.get(&name).is_some(),
            "{site_name}: {name} is not on the array"
        );
    }
}

/// Both arrays as the twin's control API has them: volumes, snapshots, protection groups
/// (members, targets, replication), hosts and connections.
fn arrays(world: &Value) -> Value {
    json!({
        "site-a": world["sites"]["site-a"]["array"],
        "site-b": world["sites"]["site-b"]["array"],
    })
}

/// No server, port, volume or server group whose name starts with `drill-` on `site`.
fn assert_no_drill_leftovers(site: &Value) {
    for kind in ["servers", "ports", "volumes", "server_groups"] {
        for item in site[kind].as_array().unwrap() {
            let name = item["name"].as_str().unwrap_or_default();
            assert!(!name.starts_with("drill-"), "drill leftover: {item}");
        }
    }
}

// ---------------------------------------------------------------- the scenario

/// One ordered scenario: each phase starts from the state the one before left. The refusal and
/// the drill run while site-a is the primary (the drill's networks map site-a's onto site-b's
/// isolated ones); the unplanned failover follows the failback at once, as an outage right
/// after a failback would.
#[test]
#[ignore = "needs two real OpenStack sites: tests/real-openstack/e2e"]
fn refusal_drill_failover_failback_outage_and_resync() {
    let sites = Sites::from_env();

    for site in ["site-a", "site-b"] {
        sites.protector(&["site", "validate", SPEC, site]);
    }
    let zones = zones(&sites.observe("site-a"));
    assert_members_carry_their_profile(&sites.observe("site-a"), "site-a, seeded", &zones);

    let plan = sites.dir.join("converge.plan");
    let plan = plan.to_str().unwrap();
    sites.protector(&["plan", SPEC, "--operation", "converge", "-o", plan]);
    sites.operation(&["apply", plan, "--auto-approve"]);

    manage_refused(&sites);
    drill(&sites);
    planned_failover(&sites, &zones);
    failback(&sites, &zones);
    unplanned_failover_after_failback(&sites, &zones);
    sync_force(&sites, &zones);
}

/// Cinder on site-b denies `volume_extension:volume_manage` to protector's user: `site
/// validate` says so, and `plan` and `failover` refuse at plan time (exit 3, README) with
/// nothing changed anywhere: the members still run on site-a, site-b holds no volume, both
/// arrays are as they were. Then the policy is as before and site-b validates again.
fn manage_refused(sites: &Sites) {
    let before = arrays(&sites.world());
    sites.cinder_policy("site-b", DENY_MANAGE);

    let (code, out) = sites.protector_status(&["site", "validate", SPEC, "site-b"]);
    assert_ne!(code, Some(0), "site validate passed:\n{out}");
    assert!(
        out.contains("denies volume_extension:volume_manage"),
        "site validate does not report the policy:\n{out}"
    );
    let plan = sites.dir.join("refused.plan");
    let plan = plan.to_str().unwrap();
    let (code, out) = sites.protector_status(&[
        "plan",
        SPEC,
        "--operation",
        "failover",
        "--type",
        "planned",
        "-o",
        plan,
    ]);
    assert_eq!(code, Some(3), "plan was not refused:\n{out}");
    assert!(
        out.contains("volume_extension:volume_manage"),
        "the refusal does not name the policy:\n{out}"
    );
    let (code, out) = sites.protector_status(&["failover", SPEC, "--type", "planned", "--yes"]);
    assert_eq!(code, Some(3), "failover was not refused:\n{out}");
    assert!(
        out.contains("volume_extension:volume_manage"),
        "the refusal does not name the policy:\n{out}"
    );

    let (a, b) = (sites.observe("site-a"), sites.observe("site-b"));
    assert_members_run_on(&a, "site-a", "site-a@pure#fa-a");
    assert_members_gone_from(&b, "site-b");
    assert_eq!(
        arrays(&sites.world()),
        before,
        "a refused failover changed the arrays"
    );
    let group = sites.group();
    assert_eq!(group["status"], "active", "{group}");
    assert_eq!(group["current_primary_site"], "site-a", "{group}");

    sites.cinder_policy("site-b", "{}\n");
    sites.protector(&["site", "validate", SPEC, "site-b"]);
}

fn drill(sites: &Sites) {
    // A drill boots the newest replicated snapshot, and the arrays of arrays.yaml have no
    // replication schedule: replicate as the array's schedule would, and wait for it.
    sites.control("replicate", r#"{"site": "site-a", "wait": true}"#);
    let events = sites.operation(&["drill", SPEC, "--auto-approve"]);
    let op = events.operation_id();
    let report: Value =
        serde_json::from_str(&sites.protector(&["report", &op, "--format", "json"])).unwrap();
    // The cleanup proof: what the drill listed on site-b after its cleanup, and nothing left.
    let drill = &report["drill"];
    assert_eq!(
        drill["proof"]["site"], "site-b",
        "no drill proof in the report: {report}"
    );
    assert_eq!(
        drill["left_on_target"],
        json!([]),
        "the drill left: {drill}"
    );
    // Independently: site-b holds nothing of the drill, site-a is untouched.
    assert_no_drill_leftovers(&sites.observe("site-b"));
    assert_members_run_on(&sites.observe("site-a"), "site-a", "site-a@pure#fa-a");
}

fn planned_failover(sites: &Sites, zones: &BTreeMap<String, Value>) {
    let events = sites.operation(&["failover", SPEC, "--type", "planned", "--yes"]);
    // Boot order: db-1 (tier 1) is ACTIVE, which its boot step waits for, before the web tier
    // starts booting.
    let db_active = events.at("step_done", "boot_instance/db-1");
    for web in ["web-1", "web-2"] {
        let started = events.at("step_started", &format!("boot_instance/{web}"));
        assert!(
            db_active <= started,
            "{web} started booting at {started}s, before db-1 was ACTIVE at {db_active}s"
        );
    }
    let (a, b) = (sites.observe("site-a"), sites.observe("site-b"));
    assert_members_run_on(&b, "site-b", "site-b@pure#fa-b");
    assert_members_carry_their_profile(&b, "site-b", zones);
    assert_members_gone_from(&a, "site-a");
    assert_volumes_on_array(&sites.world(), &b, "site-b");

    let group = sites.group();
    assert_eq!(group["status"], "failed_over", "{group}");
    assert_eq!(group["current_primary_site"], "site-b", "{group}");
}

fn failback(sites: &Sites, zones: &BTreeMap<String, Value>) {
    sites.operation(&["failback", SPEC, "--reverse-replication", "--yes"]);
    let (a, b) = (sites.observe("site-a"), sites.observe("site-b"));
    assert_members_run_on(&a, "site-a", "site-a@pure#fa-a");
    assert_members_carry_their_profile(&a, "site-a", zones);
    assert_members_gone_from(&b, "site-b");
    assert_volumes_on_array(&sites.world(), &a, "site-a");

    let group = sites.group();
    assert_eq!(group["status"], "active", "{group}");
    assert_eq!(group["current_primary_site"], "site-a", "{group}");
}

/// Site A is lost right after the failback: a site outage takes out the whole site, its
/// OpenStack services AND its array (stopping only the services would leave fa-a answering and
/// replicating, which no real outage does). Nothing replicates in between: the failback's own
/// replication (`--reverse-replication`) is what the unplanned failover recovers.
fn unplanned_failover_after_failback(sites: &Sites, zones: &BTreeMap<String, Value>) {
    sites.harness("stop-site", "site-a");
    sites.control("sites/site-a/down", "{}");
    sites.operation(&[
        "failover",
        SPEC,
        "--type",
        "unplanned",
        "--accept-data-loss",
        "--yes",
    ]);
    let b = sites.observe("site-b");
    assert_members_run_on(&b, "site-b", "site-b@pure#fa-b");
    assert_members_carry_their_profile(&b, "site-b", zones);
    let group = sites.group();
    assert_eq!(group["status"], "failed_over", "{group}");
    assert_eq!(group["current_primary_site"], "site-b", "{group}");
}

/// Site A returns with its stale instances; sync-force removes them and both sites' state
/// agrees again.
fn sync_force(sites: &Sites, zones: &BTreeMap<String, Value>) {
    sites.control("sites/site-a/up", "{}");
    sites.harness("start-site", "site-a");
    let stale = sites.observe("site-a");
    for member in MEMBERS {
        assert!(
            server(&stale, member).is_some(),
            "site-a lost {member} before sync-force"
        );
    }
    sites.protector(&["protection-group", "sync-force", SPEC, "--yes"]);
    let a = sites.observe("site-a");
    for member in MEMBERS {
        assert!(
            server(&a, member).is_none(),
            "site-a: stale {member} is left"
        );
    }
    let b = sites.observe("site-b");
    assert_members_run_on(&b, "site-b", "site-b@pure#fa-b");
    assert_members_carry_their_profile(&b, "site-b", zones);
    let status: Value = serde_json::from_str(&sites.protector(&[
        "protection-group",
        "sync-status",
        SPEC,
        "-f",
        "json",
    ]))
    .unwrap();
    for site in status.as_array().unwrap() {
        assert_eq!(site["sync"], "IN SYNC", "{status}");
        assert_eq!(site["current_primary_site"], "site-b", "{status}");
    }
}
