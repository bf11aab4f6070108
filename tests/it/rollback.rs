//! Rollback when things go wrong, end to end: after a lost answer, after a kill during the
//! boots (and a kill of the rollback itself), with the source down, and when the source cannot
//! start. Judged by the world the twin dumps: the members run on exactly one site at every
//! point, and a rollback that reports success leaves site-a as the failover found it.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::apply_crash::{Failover, MEMBERS, named, new_items, values, wait_until};
use crate::plan::Setup;
use crate::stderr;

/// A member's instance on a site as the world shows it: id, status, volumes, ports with their
/// addresses.
fn instance(world: &Value, site: &str, member: &str) -> Option<Value> {
    let site = &world["sites"][site];
    let servers = named(&site["compute"]["servers"], member);
    let server = servers.first()?;
    let ports: Vec<Value> = server["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| {
            let port = &site["network"]["ports"][id.as_str().unwrap()];
            json!({ "id": id, "fixed_ips": port["fixed_ips"] })
        })
        .collect();
    Some(json!({
        "id": server["id"],
        "status": server["status"],
        "volumes": server["volumes"],
        "ports": ports,
    }))
}

/// Members ACTIVE on each site.
fn active(world: &Value) -> BTreeMap<&'static str, Vec<&'static str>> {
    let mut active = BTreeMap::new();
    for site in ["site-a", "site-b"] {
        for member in MEMBERS {
            if named(&world["sites"][site]["compute"]["servers"], member)
                .iter()
                .any(|server| server["status"] == "ACTIVE")
            {
                active.entry(member).or_insert_with(Vec::new).push(site);
            }
        }
    }
    active
}

/// No member runs on both sites.
fn assert_never_twice(world: &Value) {
    for (member, sites) in active(world) {
        assert!(sites.len() < 2, "{member} ACTIVE on {sites:?}");
    }
}

impl Failover {
    /// `protector rollback OP`.
    fn rollback(&self) -> std::process::Output {
        self.setup.protector(&["rollback", &self.operation])
    }

    /// The world is as the failover found it: the same instances ACTIVE on site-a with the
    /// same volumes, ports and addresses; nothing the operation created left on site-b (servers,
    /// volumes, ports, server groups) but its array copies, destroyed (recoverable); no array
    /// volume of site-a destroyed.
    fn assert_back_as_before(&self) {
        let after = self.setup.world();
        for member in MEMBERS {
            let before = instance(&self.before, "site-a", member).unwrap();
            assert_eq!(before["status"], "ACTIVE");
            assert_eq!(instance(&after, "site-a", member), Some(before), "{member}");
        }
        let (before, now) = (&self.before["sites"]["site-b"], &after["sites"]["site-b"]);
        for (kind, resource) in [
            ("compute", "servers"),
            ("block", "volumes"),
            ("network", "ports"),
        ] {
            let left = new_items(&before[kind][resource], &now[kind][resource]);
            assert!(left.is_empty(), "site-b {resource}: {left:#?}");
        }
        // The web tier's server group, which the failover made on site-b, is gone too.
        assert_eq!(
            now["compute"]["server_groups"], before["compute"]["server_groups"],
            "site-b server groups"
        );
        for copy in new_items(&before["array"]["volumes"], &now["array"]["volumes"]) {
            assert_eq!(copy["destroyed"], true, "{copy:#}");
        }
        for volume in values(&after["sites"]["site-a"]["array"]["volumes"]) {
            assert_eq!(volume["destroyed"], false, "{volume:#}");
        }
        let group = self.group();
        assert_eq!(group["status"], "active", "{group:#}");
        assert_eq!(group["current_primary_site"], "site-a", "{group:#}");
        assert_eq!(self.operation()["status"], "rolled_back");
    }

    /// Runs `apply` in the background and kills it (SIGKILL) once its journal shows `ready`.
    pub(crate) fn apply_killed_when(&self, ready: impl Fn(&str) -> bool) {
        let log = self.setup.dir.path().join("killed.log");
        let plan = self.plan.to_str().unwrap();
        let mut child = self.setup.spawn(&["apply", plan, "--auto-approve"], &log);
        let journal = self.journal();
        let reached = wait_until(&mut child, || {
            ready(&std::fs::read_to_string(&journal).unwrap_or_default())
        });
        assert!(reached, "the apply ended first: {}", read(&log));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `event` journaled for `step`.
pub fn journaled(journal: &str, step: &str, event: &str) -> bool {
    journal
        .lines()
        .any(|line| line.contains(&format!(r#""step":"{step}""#)) && line.contains(event))
}

#[test]
fn a_boot_whose_answer_was_lost_is_rolled_back_with_what_it_created() {
    let failover = Failover::plan(Setup::new());
    // Nova boots db-1 but its answer is lost: the step fails, the server exists, unrecorded.
    failover.setup.fault(json!({
        "site": "site-b", "service": "nova", "method": "POST", "path": "/compute/v2.1/servers",
        "action": { "kind": "status", "status": 500, "served": true }, "count": 1
    }));
    let output = failover.apply();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let world = failover.setup.world();
    assert_eq!(
        named(&world["sites"]["site-b"]["compute"]["servers"], "db-1").len(),
        1
    );

    let output = failover.rollback();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("stop_recovered/db-1"),
        "the plan is shown: {text}"
    );
    assert!(text.contains("Rollback complete!"), "{text}");
    failover.assert_back_as_before();
}

#[test]
fn a_rollback_after_a_kill_during_the_boots_and_a_kill_of_itself_restores_site_a() {
    let failover = Failover::plan(Setup::at_speed(100));
    failover.apply_killed_when(|journal| {
        journal.contains(r#""step":"boot_instance/"#) && journal.contains(r#""event":"started""#)
    });
    assert_never_twice(&failover.setup.world());

    // The rollback killed once it stopped what the failover booted and started restoring.
    let log = failover.setup.dir.path().join("rollback.log");
    let mut child = failover
        .setup
        .spawn(&["rollback", &failover.operation], &log);
    let folder = failover
        .setup
        .dir
        .path()
        .join(".protector/site-a/prod-web-app");
    let reached = wait_until(&mut child, || {
        std::fs::read_dir(&folder)
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| {
                entry.path().extension().is_some_and(|e| e == "jsonl")
                    && journaled(&read(&entry.path()), "restore_instance/db-1", "started")
            })
    });
    assert!(reached, "the rollback ended first: {}", read(&log));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_never_twice(&failover.setup.world());
    assert_eq!(failover.operation()["status"], "rolling_back");

    // Run again, the rollback continues from its journal.
    let output = failover.rollback();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("continuing op-"), "{text}");
    failover.assert_back_as_before();
    // A rolled back operation does not run forward again.
    let output = failover
        .setup
        .protector(&["apply", "--resume", &failover.operation]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
}

#[test]
fn a_rollback_with_the_source_down_changes_nothing_until_it_is_back() {
    let failover = Failover::plan(Setup::at_speed(100));
    failover.apply_killed_when(|journal| journaled(journal, "boot_instance/db-1", "done"));
    failover.setup.control("POST", "/sites/site-a/down");
    let before = failover.setup.world();

    let output = failover.rollback();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(text.contains("site-a is unreachable"), "{text}");
    assert!(text.contains("nothing was changed"), "{text}");
    assert!(
        text.contains(&format!("protector apply --resume {}", failover.operation)),
        "{text}"
    );
    // The only running copy still runs. (A boot the kill interrupted may have finished
    // since: BUILD then ACTIVE is the twin's doing, not the rollback's.)
    let after = failover.setup.world();
    let settled = |world: &Value, member: &str| {
        instance(world, "site-b", member).map(|mut server| {
            if server["status"] == "BUILD" {
                server["status"] = "ACTIVE".into();
            }
            server
        })
    };
    for member in MEMBERS {
        assert_eq!(
            settled(&after, member),
            settled(&before, member),
            "{member}"
        );
    }
    assert_eq!(active(&after)["db-1"], vec!["site-b"]);

    failover.setup.control("POST", "/sites/site-a/up");
    let output = failover.rollback();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    failover.assert_back_as_before();
}

#[test]
fn a_rollback_that_cannot_start_the_source_puts_back_what_it_stopped() {
    let failover = Failover::plan(Setup::at_speed(100));
    failover.apply_killed_when(|journal| journaled(journal, "boot_instance/db-1", "done"));
    // Nova on site-a refuses to start anything.
    failover.setup.fault(json!({
        "site": "site-a", "service": "nova", "method": "POST",
        "path": "/compute/v2.1/servers/*/action",
        "action": { "kind": "status", "status": 409,
                    "message": "Cannot 'start' instance while it is in vm_state error" },
        "count": 100
    }));
    let output = failover.rollback();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("was not rolled back"), "{text}");
    assert!(
        text.contains(&format!("protector apply --resume {}", failover.operation)),
        "{text}"
    );
    let world = failover.setup.world();
    assert_never_twice(&world);
    assert_eq!(active(&world)["db-1"], vec!["site-b"], "db-1 runs again");
    assert_eq!(failover.operation()["status"], "failed");

    // Forward recovery from there: the failover finishes on site-b.
    failover.setup.clear_faults();
    let output = failover
        .setup
        .protector(&["apply", "--resume", &failover.operation]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    failover.assert_completed();
}
