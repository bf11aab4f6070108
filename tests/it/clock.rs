//! Time from the arrays: an unplanned failover's data-loss disclosure measures the snapshot's
//! age on the clock of the array that stamped it, and says so when this machine's clock is
//! off, however far.

use crate::keystone_api::call;
use crate::plan::Setup;
use crate::stderr;

const HOUR: i64 = 3600;

/// The twin's sites' clocks read this machine's time plus `offset_secs`.
fn set_clock(setup: &Setup, offset_secs: i64) {
    setup.control_with(
        "POST",
        "/clock",
        &format!(r#"{{"offset_secs": {offset_secs}}}"#),
    );
}

#[test]
fn a_machine_hours_behind_the_arrays_still_sees_the_data_it_would_lose() {
    let setup = Setup::at_speed(200);
    let spec = setup.spec();
    let spec = spec.to_str().unwrap();
    // Record the members: an unplanned failover rebuilds them from the state.
    let converge = setup.dir.path().join("converge.plan");
    setup.expect(0, &["plan", spec, "-o", converge.to_str().unwrap()]);
    setup.expect(0, &["apply", converge.to_str().unwrap(), "--auto-approve"]);

    // The issue's case: this machine runs 3 h behind the arrays and the newest snapshot is
    // 2 h old on their clocks. It is replicated with the clocks 1 h ahead, then site-a is lost
    // (nothing replicates any more) and the clocks step to 3 h ahead. On this machine's clock
    // alone the snapshot was taken an hour from now: age 0, within the 15-minute RPO.
    set_clock(&setup, HOUR);
    setup.control_with("POST", "/replicate", r#"{"site": "site-a", "wait": true}"#);
    setup.control("POST", "/sites/site-a/down");
    set_clock(&setup, 3 * HOUR);
    let openstack = setup.world()["sites"]["site-b"]["endpoints"]["openstack"]
        .as_str()
        .unwrap()
        .to_string();
    let reply = call("GET", &format!("{openstack}/identity/v3"), &[], None);
    let date = chrono::DateTime::parse_from_rfc2822(reply.header("date").unwrap()).unwrap();
    let ahead = date.timestamp() - chrono::Utc::now().timestamp();
    assert!(
        (3 * HOUR - 2..=3 * HOUR + 1).contains(&ahead),
        "the twin's Date header follows its clock: {ahead} s ahead"
    );

    let unplanned = [
        "plan",
        spec,
        "--operation",
        "failover",
        "--type",
        "unplanned",
    ];
    let output = setup.protector(&unplanned);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "refused: {text}");
    assert!(
        text.contains(
            "old on array fa-b's clock (this machine's is 3h behind it), beyond the RPO of 15m"
        ) && text.contains("cannot plan: 1 precondition failed"),
        "{text}"
    );

    let output = setup.protector(&[&unplanned[..], &["--accept-data-loss", "-f", "json"]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let age = plan["data_loss"]["age_secs"].as_f64().unwrap();
    assert!(
        (2.0 * HOUR as f64..2.0 * HOUR as f64 + 120.0).contains(&age),
        "the age on the array's clock: {age}"
    );
    let warnings: Vec<&str> = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|warning| warning.as_str())
        .collect();
    assert!(
        warnings.contains(
            &"this machine's clock is 3h behind array fa-b's: snapshot ages are measured on the array's clock; correct this machine's (NTP)"
        ),
        "{warnings:#?}"
    );
}
