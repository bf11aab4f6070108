//! A session against the twin: every operation the twin serves, on both arrays, each answer
//! checked against the spec, each operation seen to succeed.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Checker, FlashArray, control, enc, names, wait_for};
use crate::twin::TwinProcess;

/// Every operation the twin serves but those only Cinder's Pure driver needs
/// (`cinder_driver::CINDER_DRIVER_OPERATIONS`); the session test must see each succeed.
const OPERATIONS: &[(&str, &str)] = &[
    ("GET", "api_version"),
    ("POST", "login"),
    ("POST", "logout"),
    ("GET", "arrays"),
    ("GET", "array-connections"),
    ("GET", "volumes"),
    ("POST", "volumes"),
    ("PATCH", "volumes"),
    ("DELETE", "volumes"),
    ("GET", "volumes/protection-groups"),
    ("POST", "volumes/protection-groups"),
    ("DELETE", "volumes/protection-groups"),
    ("GET", "volume-snapshots"),
    ("POST", "volume-snapshots"),
    ("PATCH", "volume-snapshots"),
    ("DELETE", "volume-snapshots"),
    ("GET", "volume-snapshots/transfer"),
    ("GET", "protection-groups"),
    ("POST", "protection-groups"),
    ("PATCH", "protection-groups"),
    ("DELETE", "protection-groups"),
    ("GET", "protection-groups/volumes"),
    ("POST", "protection-groups/volumes"),
    ("DELETE", "protection-groups/volumes"),
    ("GET", "protection-groups/targets"),
    ("POST", "protection-groups/targets"),
    ("PATCH", "protection-groups/targets"),
    ("DELETE", "protection-groups/targets"),
    ("GET", "protection-group-snapshots"),
    ("POST", "protection-group-snapshots"),
    ("PATCH", "protection-group-snapshots"),
    ("DELETE", "protection-group-snapshots"),
    ("GET", "protection-group-snapshots/transfer"),
    ("GET", "hosts"),
    ("POST", "hosts"),
    ("PATCH", "hosts"),
    ("DELETE", "hosts"),
    ("GET", "connections"),
    ("POST", "connections"),
    ("DELETE", "connections"),
];

#[test]
fn a_session_on_both_arrays_conforms_to_the_spec() {
    let twin = TwinProcess::start(1000, &[]);
    let checker = Checker::default();
    let mut a = FlashArray::of(&twin, "site-a", &checker);
    let mut b = FlashArray::of(&twin, "site-b", &checker);

    // Versions (no session needed), then sessions.
    let versions = a.raw("GET", "/api/api_version", &[], None).json()["version"].clone();
    let versions: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(versions.first(), Some(&"2.0"));
    assert_eq!(versions.last(), Some(&"2.56"));
    assert_eq!(versions.len(), 57);
    let refused = a.raw(
        "POST",
        "/api/2.56/login",
        &[("api-token", "wrong".into())],
        None,
    );
    assert_eq!(refused.status, 400);
    assert_eq!(refused.message(), "Unable to list user for API token.");
    let no_session = a.get("volumes");
    assert_eq!(no_session.status, 401);
    assert_eq!(no_session.message(), "Invalid session.");
    let forged = a.raw(
        "GET",
        "/api/2.56/volumes",
        &[("x-auth-token", "forged".into())],
        None,
    );
    assert_eq!(forged.status, 401);
    a.login();
    b.login();
    // Scheduled cycles (every 0.9 s at this speed) would interleave with ours.
    let unscheduled = a.patch(
        "protection-groups?names=prod-web-app",
        json!({"replication_schedule": {"enabled": false}}),
    );
    assert_eq!(
        unscheduled.items()[0]["replication_schedule"]["enabled"],
        false
    );
    let login = a.raw(
        "POST",
        "/api/2.17/login",
        &[("api-token", a.api_token.clone())],
        None,
    );
    assert_eq!(login.items()[0]["username"], "pureuser");
    assert!(!login.headers["x-auth-token"].is_empty());
    // Older clients (py-pure-client speaks 2.0 to 2.x) are served too; unknown versions are not.
    a.version = "2.4";
    assert_eq!(a.ok("arrays").len(), 1);
    a.version = "2.99";
    assert_eq!(a.get("volumes").status, 404);
    a.version = "2.56";

    // The arrays and their connection.
    let array = &a.ok("arrays")[0];
    assert_eq!(array["name"], "fa-a");
    assert_eq!(array["version"], "6.7.4");
    let connection = &b.ok("array-connections")[0];
    assert_eq!(
        (connection["name"].as_str(), connection["status"].as_str()),
        (Some("fa-a"), Some("connected"))
    );
    assert_eq!(connection["type"], "async-replication");

    // Volumes: list, select, filter.
    let members = a.ok("protection-groups/volumes?group_names=prod-web-app");
    let member_names: Vec<String> = members
        .iter()
        .map(|m| m["member"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(member_names.len(), 4);
    let memberships = a.ok(&format!(
        "volumes/protection-groups?member_names={}",
        enc(&member_names[0])
    ));
    assert_eq!(memberships.len(), 1);
    let volumes = a.ok("volumes");
    assert_eq!(volumes.len(), 4);
    let first = &member_names[0];
    let one = a.ok(&format!("volumes?names={}", enc(first)));
    assert_eq!(names(&one), vec![first.clone()]);
    assert_eq!(
        a.ok(&format!(
            "volumes?filter={}",
            enc("name='volume-*' and destroyed='false'")
        ))
        .len(),
        4
    );
    assert_eq!(
        a.ok(&format!("volumes?filter={}", enc("name='nothing*'")))
            .len(),
        0
    );
    let missing = a.get("volumes?names=no-such-volume");
    assert_eq!(
        (missing.status, missing.message().as_str()),
        (400, "Volume does not exist.")
    );
    assert_eq!(missing.json()["errors"][0]["context"], "no-such-volume");

    // Create, rename, destroy, recover, eradicate.
    let created = a.post("volumes?names=scratch", json!({"provisioned": 10u64 << 30}));
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.items()[0]["provisioned"], 10u64 << 30);
    let again = a.post("volumes?names=scratch", json!({"provisioned": 1024}));
    assert_eq!(
        (again.status, again.message().as_str()),
        (400, "Volume already exists.")
    );
    for invalid in ["bad.name", "-dash", &"x".repeat(64), "fa-a:vol"] {
        let reply = a.post(
            &format!("volumes?names={}", enc(invalid)),
            json!({"provisioned": 1024}),
        );
        assert_eq!(reply.status, 400, "{invalid}");
    }
    let both = a.patch(
        "volumes?names=scratch",
        json!({"name": "scratch-2", "destroyed": true}),
    );
    assert_eq!(
        (both.status, both.message().as_str()),
        (400, "Invalid combination of parameters specified.")
    );
    let renamed = a.patch("volumes?names=scratch", json!({"name": "scratch-2"}));
    assert_eq!(names(&renamed.items()), vec!["scratch-2"]);
    let live = a.delete("volumes?names=scratch-2");
    assert_eq!(live.status, 400, "eradicating a live volume is refused");
    assert!(live.message().contains("destroyed"), "{}", live.message());
    let destroyed = a.patch("volumes?names=scratch-2", json!({"destroyed": true}));
    let item = &destroyed.items()[0];
    assert_eq!(item["destroyed"], true);
    assert!(item["time_remaining"].as_u64().unwrap() > 86_000_000);
    let twice = a.patch("volumes?names=scratch-2", json!({"destroyed": true}));
    assert!(twice.message().contains("has been destroyed"));
    assert_eq!(a.ok("volumes?destroyed=true").len(), 1);
    assert_eq!(
        a.ok("volumes?destroyed=False").len(),
        4,
        "Python clients send True/False"
    );
    let recovered = a.patch("volumes?names=scratch-2", json!({"destroyed": false}));
    assert_eq!(recovered.items()[0]["destroyed"], false);
    let resized = a.patch(
        "volumes?names=scratch-2",
        json!({"provisioned": 20u64 << 30, "qos": {"iops_limit": 5000}}),
    );
    assert_eq!(resized.items()[0]["qos"]["iops_limit"], 5000);
    let shrink = a.patch(
        "volumes?names=scratch-2",
        json!({"provisioned": 1u64 << 30}),
    );
    assert_eq!(shrink.status, 400);
    assert_eq!(
        a.patch("volumes?names=scratch-2", json!({"destroyed": true}))
            .status,
        200
    );
    let eradicated = a.delete("volumes?names=scratch-2");
    assert_eq!(eradicated.status, 200);
    assert_eq!(a.get("volumes?names=scratch-2").status, 400);

    // Volume snapshots.
    let snapshot = a.post(
        &format!("volume-snapshots?source_names={}", enc(first)),
        json!({"suffix": "manual"}),
    );
    assert_eq!(snapshot.status, 200, "{}", snapshot.body);
    let snapshot_name = format!("{first}.manual");
    assert_eq!(names(&snapshot.items()), vec![snapshot_name.clone()]);
    assert_eq!(
        snapshot.items()[0]["source"]["name"].as_str(),
        Some(first.as_str())
    );
    let numbered = a.post(
        &format!("volume-snapshots?source_names={}", enc(first)),
        json!({}),
    );
    assert_eq!(numbered.items()[0]["suffix"], "1");
    let listed = a.ok(&format!("volume-snapshots?source_names={}", enc(first)));
    assert!(names(&listed).contains(&snapshot_name));
    assert!(!a.ok("volume-snapshots/transfer").is_empty());
    let renamed = a.patch(
        &format!("volume-snapshots?names={}", enc(&format!("{first}.1"))),
        json!({"name": "kept"}),
    );
    assert_eq!(names(&renamed.items()), vec![format!("{first}.kept")]);
    let gone = a.patch("volume-snapshots?names=nope.1", json!({"destroyed": true}));
    assert_eq!(gone.message(), "No such volume or snapshot.");
    assert_eq!(
        a.patch(
            &format!("volume-snapshots?names={}", enc(&snapshot_name)),
            json!({"destroyed": true})
        )
        .status,
        200
    );
    assert_eq!(
        a.delete(&format!("volume-snapshots?names={}", enc(&snapshot_name)))
            .status,
        200
    );

    // A protection group of our own, with a member and a target the target array allows.
    assert_eq!(
        a.post("protection-groups?names=extra-pg", json!({})).status,
        200
    );
    assert_eq!(
        a.post("protection-groups?names=extra-pg", json!({}))
            .message(),
        "Protection group already exists."
    );
    let schedule = a.patch(
        "protection-groups?names=extra-pg",
        json!({"replication_schedule": {"frequency": 600000, "enabled": true},
               "target_retention": {"all_for_sec": 3600, "per_day": 2, "days": 3}}),
    );
    let group = &schedule.items()[0];
    assert_eq!(group["replication_schedule"]["frequency"], 600000);
    assert_eq!(group["target_retention"]["per_day"], 2);
    assert_eq!(group["is_local"], true);
    let added = a.post(
        &format!(
            "protection-groups/volumes?group_names=extra-pg&member_names={}",
            enc(first)
        ),
        json!({}),
    );
    assert_eq!(added.items()[0]["group"]["name"], "extra-pg");
    assert_eq!(
        a.ok(&format!(
            "volumes/protection-groups?member_names={}",
            enc(first)
        ))
        .len(),
        2
    );
    let target = a.post(
        "protection-groups/targets?group_names=extra-pg&member_names=fa-b",
        json!({}),
    );
    assert_eq!(target.items()[0]["member"]["name"], "fa-b");
    let twice = a.post(
        "protection-groups/targets?group_names=extra-pg&member_names=fa-b",
        json!({}),
    );
    assert!(
        twice.message().contains("already includes"),
        "{}",
        twice.message()
    );
    let replica = b.ok("protection-groups?names=fa-a:extra-pg");
    assert_eq!(replica[0]["is_local"], false);
    assert_eq!(replica[0]["source"]["name"], "fa-a");
    let allowed = b.patch(
        "protection-groups/targets?group_names=fa-a:extra-pg",
        json!({"allowed": true}),
    );
    assert!(
        allowed.message().contains("already allowed on"),
        "{}",
        allowed.message()
    );
    let disallowed = b.patch(
        "protection-groups/targets?group_names=fa-a:extra-pg",
        json!({"allowed": false}),
    );
    assert_eq!(disallowed.items()[0]["status"], "disallowed");
    assert_eq!(
        a.ok("protection-groups/targets?group_names=extra-pg")[0]["allowed"],
        false,
        "the source learns it"
    );
    assert_eq!(
        a.patch(
            "protection-groups/targets?group_names=extra-pg",
            json!({"allowed": true})
        )
        .status,
        400,
        "allowed is set on the target"
    );
    assert_eq!(
        b.patch(
            "protection-groups/targets?group_names=fa-a:extra-pg",
            json!({"allowed": true})
        )
        .status,
        200
    );
    assert_eq!(
        a.ok("protection-groups/targets?group_names=extra-pg")[0]["allowed"],
        true
    );

    // A snapshot replicated now: the target's transfer rises to 1.0.
    let taken = a.post(
        "protection-group-snapshots?source_names=prod-web-app&replicate_now=true",
        json!({}),
    );
    assert_eq!(taken.status, 200, "{}", taken.body);
    let taken = names(&taken.items()).remove(0);
    assert!(taken.starts_with("prod-web-app."), "{taken}");
    let replica = format!("fa-a:{taken}");
    let progress = || {
        b.ok(&format!(
            "protection-group-snapshots/transfer?names={}",
            enc(&replica)
        ))[0]["progress"]
            .as_f64()
            .unwrap()
    };
    let first_seen = progress();
    assert!(
        first_seen < 1.0,
        "still in flight right after: {first_seen}"
    );
    assert!(
        wait_for(Duration::from_secs(10), || progress() == 1.0),
        "the transfer completes"
    );
    let done = &b.ok(&format!(
        "protection-group-snapshots/transfer?names={}",
        enc(&replica)
    ))[0];
    assert!(done["completed"].as_i64().unwrap() >= done["started"].as_i64().unwrap());
    assert_eq!(done["data_transferred"], 280u64 << 30);
    let source_side = &a.ok(&format!(
        "protection-group-snapshots/transfer?names={taken}"
    ))[0];
    assert_eq!(source_side["progress"], 1.0, "the source sees it done too");
    let both_flags = a.post(
        "protection-group-snapshots?source_names=prod-web-app&replicate=true&replicate_now=true",
        json!({}),
    );
    assert_eq!(
        both_flags.message(),
        "Invalid combination of parameters specified."
    );
    let local_only = a.post(
        "protection-group-snapshots?source_names=extra-pg",
        json!({"suffix": "before-change"}),
    );
    assert_eq!(names(&local_only.items()), vec!["extra-pg.before-change"]);
    let not_local = b.post(
        "protection-group-snapshots?source_names=fa-a:prod-web-app",
        json!({}),
    );
    assert_eq!(not_local.status, 400);

    // What Cinder's Pure driver asks at failover: the latest completed replicated snapshot of
    // the group, then its volume snapshots.
    let latest = b.ok(&format!(
        "protection-group-snapshots/transfer?names=fa-a:prod-web-app&destroyed=False&filter={}&sort=started-",
        enc("progress=\"1.0\"")
    ));
    assert_eq!(names(&latest)[0], replica);
    assert!(latest.len() >= 2, "the fixture's initial one too");
    assert!(latest.iter().all(|t| t["progress"] == 1.0));
    let group_snapshots =
        b.ok("protection-group-snapshots?source_names=fa-a:prod-web-app&sort=created-");
    assert_eq!(group_snapshots[0]["source"]["name"], "fa-a:prod-web-app");
    let replicated = b.ok(&format!(
        "volume-snapshots?filter={}",
        enc(&format!("name='{replica}.*'"))
    ));
    assert_eq!(replicated.len(), 4);
    let from = format!("{replica}.{first}");
    let snap = replicated
        .iter()
        .find(|s| s["name"] == from.as_str())
        .expect("the member's snapshot");
    assert_eq!(
        snap["source"]["name"].as_str(),
        Some(format!("fa-a:{first}").as_str())
    );

    // Recover a volume from it on fa-b, as a copy: the content is the snapshot's.
    let copy = b.post(
        "volumes?names=recovered-db&overwrite=true&with_default_protection=false",
        json!({"source": {"name": from}}),
    );
    assert_eq!(copy.status, 200, "{}", copy.body);
    assert_eq!(
        copy.items()[0]["source"]["name"].as_str(),
        Some(format!("fa-a:{first}").as_str())
    );
    let overwrite = b.post(
        "volumes?names=recovered-db&overwrite=true",
        json!({"source": {"name": from}}),
    );
    assert_eq!(overwrite.status, 200, "overwrite=true replaces");
    let no_overwrite = b.post(
        "volumes?names=recovered-db",
        json!({"source": {"name": from}}),
    );
    assert!(no_overwrite.message().contains("already exists"));
    let no_source = b.post(
        "volumes?names=other",
        json!({"source": {"name": "fa-a:prod-web-app.9.x"}}),
    );
    assert_eq!(no_source.message(), "No such volume or snapshot.");
    let world = control(&twin, "GET", "/world", None);
    let recovered = &world["sites"]["site-b"]["array"]["volumes"]["recovered-db"];
    assert_eq!(recovered["source"].as_str(), Some(from.as_str()));
    assert_eq!(
        recovered["content"],
        world["sites"]["site-a"]["array"]["volumes"][first.as_str()]["content"],
        "the copy carries the replicated data"
    );

    // Attach it to a host as Cinder's driver does, then detach.
    let host = b.post(
        "hosts?names=compute-1",
        json!({"iqns": ["iqn.2010-10.org.openstack:compute-1"]}),
    );
    assert_eq!(
        host.items()[0]["iqns"][0],
        "iqn.2010-10.org.openstack:compute-1"
    );
    let clash = b.post(
        "hosts?names=compute-2",
        json!({"iqns": ["iqn.2010-10.org.openstack:compute-1"]}),
    );
    assert!(clash.message().contains("already in use"));
    let by_iqn = b.ok(&format!(
        "hosts?filter={}",
        enc("iqns='iqn.2010-10.org.openstack:compute-1'")
    ));
    assert_eq!(names(&by_iqn), vec!["compute-1"]);
    let patched = b.patch(
        "hosts?names=compute-1",
        json!({"personality": "esxi", "add_iqns": ["iqn.x"]}),
    );
    assert_eq!(patched.items()[0]["personality"], "esxi");
    let connected = b.post(
        "connections?host_names=compute-1&volume_names=recovered-db",
        json!({}),
    );
    assert_eq!(connected.items()[0]["lun"], 1);
    let twice = b.post(
        "connections?host_names=compute-1&volume_names=recovered-db",
        json!({}),
    );
    assert!(twice.message().contains("already exists"));
    assert_eq!(
        b.ok("connections?volume_names=recovered-db")[0]["host"]["name"],
        "compute-1"
    );
    assert_eq!(b.ok("volumes?names=recovered-db")[0]["connection_count"], 1);
    let busy = b.delete("hosts?names=compute-1");
    assert_eq!(
        busy.message(),
        "Host cannot be deleted due to existing connections."
    );
    assert_eq!(
        b.delete("connections?host_names=compute-1&volume_names=recovered-db")
            .status,
        200
    );
    let again = b.delete("connections?host_names=compute-1&volume_names=recovered-db");
    assert!(again.message().contains("does not exist"));
    assert_eq!(b.delete("hosts?names=compute-1").status, 200);
    assert_eq!(
        b.get("hosts?names=compute-1").message(),
        "Host does not exist."
    );

    // Members and targets go; snapshots and groups are destroyed, then eradicated.
    assert_eq!(
        a.delete(&format!(
            "protection-groups/volumes?group_names=extra-pg&member_names={}",
            enc(first)
        ))
        .status,
        200
    );
    let not_member = a.delete(&format!(
        "protection-groups/volumes?group_names=extra-pg&member_names={}",
        enc(first)
    ));
    assert!(not_member.message().contains("could not be found"));
    // The same memberships from the volumes' side.
    let member_query = format!("group_names=extra-pg&member_names={}", enc(first));
    let readded = a.post(
        &format!("volumes/protection-groups?{member_query}"),
        json!({}),
    );
    assert_eq!(
        readded.items()[0]["member"]["name"].as_str(),
        Some(first.as_str())
    );
    assert_eq!(
        a.delete(&format!("volumes/protection-groups?{member_query}"))
            .status,
        200
    );
    assert_eq!(
        a.delete("protection-groups/targets?group_names=extra-pg&member_names=fa-b")
            .status,
        200
    );
    let pg_snapshot = a.patch(
        "protection-group-snapshots?names=extra-pg.before-change",
        json!({"destroyed": true}),
    );
    assert_eq!(pg_snapshot.items()[0]["destroyed"], true);
    assert_eq!(a.ok("protection-group-snapshots?destroyed=true").len(), 1);
    assert_eq!(
        a.delete("protection-group-snapshots?names=extra-pg.before-change")
            .status,
        200
    );
    let live_group = a.delete("protection-groups?names=extra-pg");
    assert_eq!(live_group.status, 400);
    assert_eq!(
        a.patch(
            "protection-groups?names=extra-pg",
            json!({"destroyed": true})
        )
        .status,
        200
    );
    assert_eq!(a.delete("protection-groups?names=extra-pg").status, 200);
    assert_eq!(
        a.get("protection-groups?names=extra-pg").message(),
        "Protection group does not exist."
    );

    // Logging out ends the session.
    let path = format!("/api/{}/logout", a.version);
    let token = a.session.clone().unwrap();
    assert_eq!(
        a.raw("POST", &path, &[("x-auth-token", token)], None)
            .status,
        200
    );
    assert_eq!(a.get("arrays").status, 401);

    let seen = checker.succeeded.lock().unwrap().clone();
    let missing: Vec<String> = OPERATIONS
        .iter()
        .map(|(method, endpoint)| {
            let path = if *endpoint == "api_version" {
                "/api/api_version".to_string()
            } else {
                format!("/api/2.56/{endpoint}")
            };
            (method.to_string(), path)
        })
        .filter(|operation| !seen.contains(operation))
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(
        missing.is_empty(),
        "operations never seen succeed: {missing:?}"
    );
}
