//! Forward recovery after losing the source in the middle of a planned failover: `apply
//! --resume` finishes on the target once the final snapshot arrived there; before, an unplanned
//! failover takes the operation over; `--force` adopts what already runs. Judged by the world:
//! each member runs exactly once, on site-b, and `sync-force` cleans site-a once it is back.

use serde_json::Value;

use crate::apply_crash::{Failover, MEMBERS, named, new_items, text, values};
use crate::plan::Setup;
use crate::rollback::journaled;
use crate::stderr;

/// Each member runs exactly once, on site-b, with every new port and volume there in use.
fn assert_once_on_site_b(failover: &Failover) {
    let world = failover.setup.world();
    let b = &world["sites"]["site-b"];
    for member in MEMBERS {
        let servers = named(&b["compute"]["servers"], member);
        assert_eq!(servers.len(), 1, "{member} on site-b: {servers:#?}");
        assert_eq!(servers[0]["status"], "ACTIVE", "{:#}", servers[0]);
    }
    let before = &failover.before["sites"]["site-b"];
    for port in new_items(&before["network"]["ports"], &b["network"]["ports"]) {
        assert!(
            !text(&port["device_id"]).is_empty(),
            "orphan port: {port:#}"
        );
    }
    for volume in new_items(&before["block"]["volumes"], &b["block"]["volumes"]) {
        assert_eq!(volume["status"], "in-use", "orphan volume: {volume:#}");
    }
    for volume in values(&world["sites"]["site-a"]["array"]["volumes"]) {
        assert_eq!(volume["destroyed"], false, "{volume:#}");
    }
}

/// Site-a back: `sync-force` removes its stale instances and both records agree again.
fn assert_sync_force_cleans_site_a(failover: &Failover) {
    failover.setup.control("POST", "/sites/site-a/up");
    let spec = failover.setup.spec();
    let spec = spec.to_str().unwrap();
    let output = failover
        .setup
        .protector(&["protection-group", "sync-force", spec, "--yes"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let world = failover.setup.world();
    for member in MEMBERS {
        assert!(
            named(&world["sites"]["site-a"]["compute"]["servers"], member).is_empty(),
            "{member} left on site-a"
        );
    }
    let sync = failover
        .setup
        .protector(&["protection-group", "sync-status", spec, "-f", "json"]);
    let sync: Value = serde_json::from_slice(&sync.stdout).unwrap();
    for site in sync.as_array().unwrap() {
        assert_eq!(site["sync"], "IN SYNC", "{sync:#}");
    }
    assert_once_on_site_b(failover);
}

/// Waits until no server on site-b is still building (killed applies leave boots under way).
fn settle(failover: &Failover) {
    for _ in 0..500 {
        let world = failover.setup.world();
        if !values(&world["sites"]["site-b"]["compute"]["servers"])
            .any(|server| server["status"] == "BUILD")
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("site-b's boots never settled");
}

#[test]
fn a_failover_that_lost_its_source_after_the_snapshot_finishes_on_the_target() {
    let failover = Failover::plan(Setup::at_speed(100));
    failover.apply_killed_when(|journal| journaled(journal, "boot_instance/db-1", "done"));
    failover.setup.control("POST", "/sites/site-a/down");

    let output = failover
        .setup
        .protector(&["apply", "--resume", &failover.operation]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("site-a is unreachable: finishing"), "{text}");
    let group = failover.group();
    assert_eq!(group["status"], "failed_over", "{group:#}");
    assert_eq!(group["current_primary_site"], "site-b", "{group:#}");
    assert_once_on_site_b(&failover);
    let spec = failover.setup.spec();
    let sync = failover.setup.protector(&[
        "protection-group",
        "sync-status",
        spec.to_str().unwrap(),
        "-f",
        "json",
    ]);
    assert!(
        crate::stdout(&sync).contains("UNREACHABLE"),
        "{}",
        crate::stdout(&sync)
    );

    assert_sync_force_cleans_site_a(&failover);
}

#[test]
fn an_unplanned_failover_takes_over_one_that_lost_its_source_before_the_snapshot() {
    let failover = Failover::plan(Setup::at_speed(100));
    failover.apply_killed_when(|journal| journaled(journal, "snapshot/prod-web-app", "started"));
    failover.setup.control("POST", "/sites/site-a/down");

    // It cannot finish as planned: the way forward is named.
    let output = failover
        .setup
        .protector(&["apply", "--resume", &failover.operation]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(text.contains("--type unplanned"), "{text}");

    let spec = failover.setup.spec();
    let output = failover.setup.protector(&[
        "failover",
        spec.to_str().unwrap(),
        "--type",
        "unplanned",
        "--accept-data-loss",
        "--yes",
    ]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("takes over {}", failover.operation)),
        "{text}"
    );
    assert_once_on_site_b(&failover);
    // The interrupted operation is done with: neither resumed nor rolled back.
    let shown = failover.operation();
    assert_eq!(shown["status"], "failed", "{shown:#}");
    for args in [
        vec!["apply", "--resume", failover.operation.as_str()],
        vec!["rollback", failover.operation.as_str()],
    ] {
        let output = failover.setup.protector(&args);
        assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
        assert!(
            stderr(&output).contains("taken over by"),
            "{}",
            stderr(&output)
        );
    }
    assert_sync_force_cleans_site_a(&failover);
}

#[test]
fn force_adopts_what_already_runs_on_the_target_and_never_boots_it_twice() {
    let failover = Failover::plan(Setup::at_speed(100));
    failover.apply_killed_when(|journal| journaled(journal, "boot_instance/db-1", "done"));
    failover.setup.control("POST", "/sites/site-a/down");
    settle(&failover);
    let spec = failover.setup.spec();
    let spec = spec.to_str().unwrap();

    // Without --force: refused, naming the command that finishes the interrupted failover.
    let output = failover.setup.protector(&[
        "plan",
        spec,
        "--operation",
        "failover",
        "--type",
        "unplanned",
        "--accept-data-loss",
    ]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(
        text.contains(&format!("protector apply --resume {}", failover.operation)),
        "{text}"
    );

    let output = failover.setup.protector(&[
        "failover",
        spec,
        "--type",
        "unplanned",
        "--accept-data-loss",
        "--force",
        "--yes",
    ]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("adopted, not booted again"), "{text}");
    assert_once_on_site_b(&failover);
    assert_sync_force_cleans_site_a(&failover);
}
