//! Apply when things go wrong, end to end: the binary killed (SIGKILL) at pseudo-random points
//! of a planned failover and resumed until it completes; a failed step, then its rollback; a
//! storm of 429s and 503s on the target, answers lost after the change included; stale and
//! repeated plans. Outcomes are judged by the world the twin dumps and the state the CLI shows.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use protector_wire::ids::IdGen;
use serde_json::{Value, json};

use crate::plan::Setup;
use crate::stderr;

pub const MEMBERS: [&str; 3] = ["db-1", "web-1", "web-2"];

/// A planned failover of the example group, planned and not applied yet.
pub struct Failover {
    pub setup: Setup,
    pub plan: PathBuf,
    pub operation: String,
    /// The world as the plan found it.
    pub before: Value,
}

impl Failover {
    pub fn plan(setup: Setup) -> Failover {
        let plan = setup.dir.path().join("failover.plan");
        let output = setup.protector(&[
            "plan",
            setup.spec().to_str().unwrap(),
            "--operation",
            "failover",
            "--type",
            "planned",
            "-o",
            plan.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let saved: Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
        let operation = saved["operation"]["id"].as_str().unwrap().to_string();
        let before = setup.world();
        Failover {
            setup,
            plan,
            operation,
            before,
        }
    }

    pub fn apply(&self) -> Output {
        self.setup
            .protector(&["apply", self.plan.to_str().unwrap(), "--auto-approve"])
    }

    /// `protector operation show OP -f json` (which exits 1 for a failed operation).
    pub fn operation(&self) -> Value {
        let output = self
            .setup
            .protector(&["operation", "show", &self.operation, "-f", "json"]);
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("{error}: {}", stderr(&output)))
    }

    /// `protector protection-group show FILE -f json`.
    pub fn group(&self) -> Value {
        let spec = self.setup.spec();
        let output = self.setup.protector(&[
            "protection-group",
            "show",
            spec.to_str().unwrap(),
            "-f",
            "json",
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    pub fn journal(&self) -> PathBuf {
        self.state_folder()
            .join(format!("{}.jsonl", self.operation))
    }

    /// Where apply keeps the operation's journal and its copy of the plan.
    pub fn state_folder(&self) -> PathBuf {
        self.setup.dir.path().join(".protector/site-b/prod-web-app")
    }

    /// The world, the group and the operation after the failover completed.
    pub fn assert_completed(&self) {
        assert_failed_over(&self.before, &self.setup.world());
        let group = self.group();
        assert_eq!(group["status"], "failed_over", "{group:#}");
        assert_eq!(group["current_primary_site"], "site-b", "{group:#}");
        assert_eq!(group["failover_count"], 1, "{group:#}");
        let operation = self.operation();
        assert_eq!(operation["status"], "completed", "{operation:#}");
        assert_eq!(operation["progress"], 100, "{operation:#}");
    }
}

pub fn values(map: &Value) -> impl Iterator<Item = &Value> {
    map.as_object().into_iter().flat_map(|map| map.values())
}

/// The items of `after` (a map of a world dump) whose id `before` does not have.
pub fn new_items<'a>(before: &Value, after: &'a Value) -> Vec<&'a Value> {
    let old: BTreeSet<&str> = values(before).map(|item| text(&item["id"])).collect();
    values(after)
        .filter(|item| !old.contains(text(&item["id"])))
        .collect()
}

pub fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

pub fn named<'a>(servers: &'a Value, name: &str) -> Vec<&'a Value> {
    values(servers).filter(|s| s["name"] == name).collect()
}

/// The world after a completed failover: each member once on site-b, ACTIVE with as many volumes
/// attached as it had on site-a, none left on site-a; every Cinder volume and port new on site-b
/// serves a booted member; every array volume of site-a is kept (renamed when unmanaged) and
/// every array volume new on site-b is managed by Cinder.
fn assert_failed_over(before: &Value, after: &Value) {
    let (a_before, b_before) = (&before["sites"]["site-a"], &before["sites"]["site-b"]);
    let (a, b) = (&after["sites"]["site-a"], &after["sites"]["site-b"]);
    let mut booted = BTreeSet::new();
    for member in MEMBERS {
        let on_b = named(&b["compute"]["servers"], member);
        assert_eq!(on_b.len(), 1, "{member} once on site-b: {on_b:#?}");
        let server = on_b[0];
        assert_eq!(server["status"], "ACTIVE", "{server:#}");
        let source = named(&a_before["compute"]["servers"], member)[0];
        let attached = server["volumes"].as_array().unwrap();
        assert_eq!(
            attached.len(),
            source["volumes"].as_array().unwrap().len(),
            "{server:#}"
        );
        for volume in attached {
            let volume = &b["block"]["volumes"][volume["volume_id"].as_str().unwrap()];
            assert_eq!(volume["status"], "in-use", "{volume:#}");
            assert_eq!(volume["attachments"][0]["server_id"], server["id"]);
        }
        assert!(
            named(&a["compute"]["servers"], member).is_empty(),
            "{member} left on site-a"
        );
        booted.insert(server["id"].as_str().unwrap());
    }
    let new = |kind: &str, resource: &str| new_items(&b_before[kind][resource], &b[kind][resource]);
    for volume in new("block", "volumes") {
        let server = text(&volume["attachments"][0]["server_id"]);
        assert!(booted.contains(server), "orphan volume: {volume:#}");
    }
    for port in new("network", "ports") {
        let server = text(&port["device_id"]);
        assert!(booted.contains(server), "orphan port: {port:#}");
    }
    let kept: BTreeSet<&str> = values(&a["array"]["volumes"])
        .filter(|v| v["destroyed"] == false)
        .map(|v| text(&v["id"]))
        .collect();
    for volume in values(&a_before["array"]["volumes"]) {
        assert!(
            kept.contains(text(&volume["id"])),
            "array volume lost: {volume:#}"
        );
    }
    let managed: BTreeSet<&str> = values(&b["block"]["volumes"])
        .map(|v| text(&v["array_volume"]))
        .collect();
    let copies = new("array", "volumes");
    assert!(!copies.is_empty(), "the failover copied volumes on site-b");
    for copy in copies {
        assert_eq!(copy["destroyed"], false, "{copy:#}");
        assert!(
            managed.contains(text(&copy["name"])),
            "unmanaged copy: {copy:#}"
        );
    }
}

/// Kill points the crash test sets; at least 20 must land before the failover completes.
const KILL_POINTS: usize = 26;

/// Where to kill a run: once the journal records `done` steps done, `delay` later.
#[derive(Debug)]
struct KillPoint {
    done: usize,
    delay: Duration,
}

/// Kill points spread over the run: after 0 to `steps - 1` steps done (so the operation is
/// still running), then 0 to 60 ms later: during start-up, as a step starts, inside it, as it
/// ends, inside finalize.
fn kill_points(seed: u64, steps: usize) -> Vec<KillPoint> {
    let mut rng = IdGen::new(seed);
    let mut points: Vec<KillPoint> = (0..KILL_POINTS)
        .map(|_| KillPoint {
            done: (rng.next_u64() % steps as u64) as usize,
            delay: Duration::from_millis(rng.next_u64() % 61),
        })
        .collect();
    points.sort_by_key(|point| point.done);
    points
}

/// Steps the journal records as done.
pub fn done_steps(journal: &Path) -> usize {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(r#""event":"done""#))
        .count()
}

/// Waits until `ready` holds (`true`) or the child exits (`false`).
pub fn wait_until(child: &mut Child, ready: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("the run neither progressed nor ended in 60 s");
}

#[test]
fn a_failover_killed_at_random_points_and_resumed_completes_exactly_once() {
    // At speed 100 a boot takes 0.3 s, a stop 0.1 s, a manage 50 ms and the snapshot's
    // transfer 5.7 s: kill points land inside steps.
    let failover = Failover::plan(Setup::at_speed(100));
    let dir = failover.setup.dir.path();
    let journal = failover.journal();
    let kept_plan = failover
        .state_folder()
        .join(format!("{}.plan.json", failover.operation));
    let steps = {
        let plan: Value =
            serde_json::from_str(&std::fs::read_to_string(&failover.plan).unwrap()).unwrap();
        plan["steps"].as_array().unwrap().len()
    };
    let mut points = kill_points(7, steps).into_iter();
    let mut rng = IdGen::new(11);
    let (mut kills, mut resumes) = (Vec::new(), 0);
    for run in 0.. {
        // Continue with `apply --resume OP` or by applying the plan again, at random, once
        // apply has kept its copy of the plan.
        let resume = kept_plan.exists() && rng.next_u64().is_multiple_of(2);
        let args = if resume {
            resumes += 1;
            vec!["apply", "--resume", failover.operation.as_str()]
        } else {
            vec!["apply", failover.plan.to_str().unwrap(), "--auto-approve"]
        };
        let log = dir.join(format!("run-{run}.log"));
        let mut child = failover.setup.spawn(&args, &log);
        if let Some(point) = points.next()
            && wait_until(&mut child, || done_steps(&journal) >= point.done)
        {
            std::thread::sleep(point.delay);
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                child.wait().unwrap();
                kills.push(point);
                continue;
            }
        }
        let status = child.wait().unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        // A kill that landed once the operation had completed (while the process ended)
        // leaves nothing to continue: saying so is the right answer.
        let was_complete = status.code() == Some(3)
            && (text.contains("already completed") || text.contains("already applied"));
        assert!(
            status.code() == Some(0) || was_complete,
            "run {run} ({args:?}):\n{text}"
        );
        break;
    }
    assert!(
        kills.len() >= 20,
        "only {} kill points landed before the failover completed: {kills:?}",
        kills.len()
    );
    assert!(resumes > 0, "some runs continued with --resume");
    failover.assert_completed();

    // The completed plan is not applied again.
    let output = failover.apply();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!(
            "this plan was already applied: {} completed",
            failover.operation
        )),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_killed_apply_reads_as_interrupted_with_the_way_forward() {
    let failover = Failover::plan(Setup::at_speed(100));
    let journal = failover.journal();
    let log = failover.setup.dir.path().join("apply.log");
    let plan = failover.plan.to_str().unwrap();
    let mut child = failover
        .setup
        .spawn(&["apply", plan, "--auto-approve"], &log);
    assert!(wait_until(&mut child, || done_steps(&journal) >= 3));
    let running = failover.operation();
    assert_eq!(running["status"], "running", "{running:#}");
    assert!(running.get("next").is_none(), "{running:#}");
    child.kill().unwrap();
    child.wait().unwrap();

    let output =
        failover
            .setup
            .protector(&["operation", "show", &failover.operation, "-f", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["status"], "interrupted", "{shown:#}");
    let next = shown["next"].as_str().unwrap();
    for command in ["apply --resume", "rollback"] {
        assert!(
            next.contains(&format!("protector {command} {}", failover.operation)),
            "{next}"
        );
    }
    let spec = failover.setup.spec();
    let list =
        failover
            .setup
            .protector(&["operation", "list", spec.to_str().unwrap(), "-f", "json"]);
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(listed[0]["status"], "interrupted", "{listed:#}");
}

#[test]
fn a_crash_between_the_two_sites_documents_heals_at_the_next_command() {
    let failover = Failover::plan(Setup::new());
    let output = failover.apply();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The end of the run as a crash between the two writes leaves it: site-a's document at the
    // final version, site-b's one version behind (the operation still running there).
    let site_b = failover
        .setup
        .dir
        .path()
        .join(".protector/site-b/prod-web-app.json");
    let mut behind: Value =
        serde_json::from_str(&std::fs::read_to_string(&site_b).unwrap()).unwrap();
    let version = behind["metadata_version"].as_u64().unwrap();
    behind["metadata_version"] = json!(version - 1);
    behind["status"] = json!("failing_over");
    let record = behind["operations"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|op| op["id"] == failover.operation.as_str())
        .unwrap();
    record["status"] = json!("running");
    record["completed_at"] = Value::Null;
    std::fs::write(&site_b, serde_json::to_vec_pretty(&behind).unwrap()).unwrap();

    let spec = failover.setup.spec();
    let spec = spec.to_str().unwrap();
    let sync = failover
        .setup
        .protector(&["protection-group", "sync-status", spec, "-f", "json"]);
    assert_eq!(sync.status.code(), Some(0), "{}", stderr(&sync));
    let sync: Value = serde_json::from_slice(&sync.stdout).unwrap();
    for site in sync.as_array().unwrap() {
        assert_eq!(site["sync"], "IN SYNC", "{sync:#}");
    }
    assert_eq!(failover.group()["status"], "failed_over");
    // The next operation is not refused OUT OF SYNC, and its apply repairs site-b on disk.
    let output = failover.setup.protector(&["failback", spec, "--yes"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let healed: Value = serde_json::from_str(&std::fs::read_to_string(&site_b).unwrap()).unwrap();
    assert!(
        healed["metadata_version"].as_u64().unwrap() > version,
        "{healed:#}"
    );
    assert_eq!(failover.group()["status"], "active");
}

impl Failover {
    /// `protector rollback OP` succeeds and the world is back where the plan found it: the same
    /// instances ACTIVE on site-a, and nothing the operation made left on site-b but its array
    /// copies, destroyed (recoverable).
    pub fn assert_rolled_back(&self) {
        let output = self.setup.protector(&["rollback", &self.operation]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert_eq!(self.operation()["status"], "rolled_back");
        let group = self.group();
        assert_eq!(group["status"], "active", "{group:#}");
        assert_eq!(group["current_primary_site"], "site-a", "{group:#}");

        let (before, after) = (&self.before["sites"], &self.setup.world()["sites"]);
        for member in MEMBERS {
            let now = named(&after["site-a"]["compute"]["servers"], member);
            assert_eq!(now.len(), 1, "{member}");
            assert_eq!(now[0]["status"], "ACTIVE", "{:#}", now[0]);
            assert_eq!(
                now[0]["id"],
                named(&before["site-a"]["compute"]["servers"], member)[0]["id"]
            );
        }
        let new = |kind: &str, resource: &str| {
            new_items(
                &before["site-b"][kind][resource],
                &after["site-b"][kind][resource],
            )
        };
        for (kind, resource) in [
            ("compute", "servers"),
            ("block", "volumes"),
            ("network", "ports"),
        ] {
            let left = new(kind, resource);
            assert!(left.is_empty(), "site-b {resource}: {left:#?}");
        }
        let copies = new("array", "volumes");
        assert_eq!(copies.len(), 4, "one copy per volume: {copies:#?}");
        for copy in copies {
            assert_eq!(copy["destroyed"], true, "{copy:#}");
        }
    }
}

#[test]
fn a_failed_boot_fails_the_failover_and_a_rollback_restores_site_a() {
    let failover = Failover::plan(Setup::new());
    let op = failover.operation.as_str();
    failover.setup.fault(json!({
        "site": "site-b", "service": "nova", "method": "POST", "path": "/compute/v2.1/servers",
        "action": { "kind": "status", "status": 500, "message":
            "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible." },
        "count": 1
    }));
    let output = failover.apply();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    for hint in [
        format!("protector apply --resume {op}"),
        format!("protector rollback {op}"),
    ] {
        assert!(text.contains(&hint), "{text}");
    }
    let operation = failover.operation();
    assert_eq!(operation["status"], "failed", "{operation:#}");
    let error = operation["error_message"].as_str().unwrap();
    assert!(
        error.contains("boot_instance/db-1")
            && error.contains("500")
            && error.contains("Unexpected API Error"),
        "{error}"
    );
    assert_eq!(failover.group()["status"], "error");

    failover.assert_rolled_back();
}

#[test]
fn a_manage_cinder_fails_leaves_no_record_and_a_rollback_restores_site_a() {
    // A Cinder host with no such pool on site-b, on a cloud that hides its pools from
    // protector (so the plan cannot refuse it): Cinder accepts each manage (202), then fails it
    // in the backend and keeps the record in `error`, as real Cinder does.
    let setup = Setup::new();
    setup.fault(json!({
        "site": "site-b", "service": "cinder", "method": "GET",
        "path": "/volume/v3/*/scheduler-stats/get_pools",
        "action": { "kind": "status", "status": 403 }, "count": 100
    }));
    let spec = setup.spec();
    let text = std::fs::read_to_string(&spec).unwrap();
    let wrong = text.replace(
        "cinder_host: site-b@pure#fa-b",
        "cinder_host: site-b@pure#no-such-pool",
    );
    assert_ne!(text, wrong);
    std::fs::write(&spec, wrong).unwrap();
    let failover = Failover::plan(setup);
    let output = failover.apply();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let error = failover.operation()["error_message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("manage_volume/") && error.contains("is `error` (its record was removed)"),
        "{error}"
    );
    // The failed steps removed what Cinder kept of them: no volume record is left on site-b.
    let after = failover.setup.world();
    let left = new_items(
        &failover.before["sites"]["site-b"]["block"]["volumes"],
        &after["sites"]["site-b"]["block"]["volumes"],
    );
    assert!(left.is_empty(), "site-b volumes: {left:#?}");
    failover.assert_rolled_back();
}

#[test]
fn a_storm_of_429s_and_503s_on_the_target_neither_stops_nor_duplicates_the_failover() {
    let failover = Failover::plan(Setup::new());
    let lost = |service: &str, path: &str| {
        json!({
            "site": "site-b", "service": service, "method": "POST", "path": path,
            "action": { "kind": "status", "status": 503, "served": true }, "count": 1
        })
    };
    // Creates whose answer is lost after the change happened: each is found, not made twice.
    for rule in [
        lost("nova", "/compute/v2.1/servers"),
        lost("neutron", "/network/v2.0/ports"),
        lost("cinder", "/volume/v3/*/manageable_volumes"),
        lost("flasharray", "/api/*/volumes"),
        // Refused before the change: made on a later try.
        json!({
            "site": "site-b", "service": "nova", "method": "POST", "path": "/compute/v2.1/servers",
            "action": { "kind": "status", "status": 503 }, "count": 1
        }),
        // Reads: retried by the HTTP layer.
        json!({
            "site": "site-b", "method": "GET",
            "action": { "kind": "status", "status": 503 }, "count": 4
        }),
        json!({
            "site": "site-b", "action": { "kind": "rate_limit", "retry_after": 1 }, "count": 3
        }),
        // Server errors on reads: retried too (five in all, fewer than the HTTP layer's tries,
        // however they fall on one call).
        json!({
            "site": "site-b", "method": "GET",
            "action": { "kind": "status", "status": 500 }, "count": 1
        }),
        // One call told to come back eight times in a row (more tries than the HTTP layer
        // makes for other errors): it waits as told, within its step's deadline.
        json!({
            "site": "site-a", "service": "flasharray", "method": "POST",
            "path": "/api/*/protection-group-snapshots",
            "action": { "kind": "rate_limit", "retry_after": 0 }, "count": 8
        }),
    ] {
        failover.setup.fault(rule);
    }
    let output = failover.apply();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let left = crate::keystone_api::call(
        "GET",
        &format!("{}/faults", failover.setup.twin.control()),
        &[],
        None,
    )
    .json();
    assert_eq!(left, json!([]), "every fault was met");
    failover.assert_completed();
}

#[test]
fn a_failover_planned_before_a_converge_is_refused_as_stale() {
    let failover = Failover::plan(Setup::new());
    let converge = failover.setup.dir.path().join("converge.plan");
    let spec = failover.setup.spec();
    let output = failover.setup.protector(&[
        "plan",
        spec.to_str().unwrap(),
        "-o",
        converge.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = failover
        .setup
        .protector(&["apply", converge.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let output = failover.apply();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(
        text.contains("the plan is stale: the recorded state of site-a moved from version none to"),
        "{text}"
    );
    assert!(text.contains("(converge, completed)"), "{text}");
    assert!(
        text.contains("plan again and review the new plan"),
        "{text}"
    );
    // Refused before the plan is shown and asked about: the refusal is all it says.
    assert!(!text.contains("protector will perform"), "{text}");
    // Nothing moved.
    let world = failover.setup.world();
    for member in MEMBERS {
        assert_eq!(
            named(&world["sites"]["site-a"]["compute"]["servers"], member)[0]["status"],
            "ACTIVE"
        );
    }
    assert_eq!(failover.group()["status"], "active");
}
