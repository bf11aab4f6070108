//! What Cinder's Pure driver alone calls (stats, iSCSI targets, volume tags), asked as the
//! driver asks it, each answer checked against the spec.

use serde_json::json;

use super::{Checker, FlashArray, enc, names};
use crate::twin::TwinProcess;

/// The operations only Cinder's Pure driver needs (stats, iSCSI targets, volume tags); the
/// driver test must see each succeed.
const CINDER_DRIVER_OPERATIONS: &[(&str, &str)] = &[
    ("GET", "arrays/space"),
    ("GET", "arrays/performance"),
    ("GET", "controllers"),
    ("GET", "ports"),
    ("GET", "network-interfaces"),
    ("GET", "volumes/tags"),
    ("PUT", "volumes/tags/batch"),
    ("DELETE", "volumes/tags"),
];

/// What `PureISCSIDriver` (Cinder 29.0.0) asks, as it asks it: `_update_volume_stats`,
/// `_get_target_iscsi_ports` (ready controllers, their ports, no LACP bonds), `_get_host`
/// (`iqns='...' and is_local`), `_tag_volume` / `_untag_volume`.
#[test]
fn the_calls_of_cinders_pure_driver_are_answered_as_a_flasharray_does() {
    let twin = TwinProcess::start(1000, &[]);
    let checker = Checker::default();
    let mut a = FlashArray::of(&twin, "site-a", &checker);
    let mut b = FlashArray::of(&twin, "site-b", &checker);
    a.login();
    b.login();

    // Stats: capacity and space, and performance samples over the last hour.
    let array = a.ok("arrays").remove(0);
    let space = a.ok("arrays/space").remove(0);
    assert_eq!(space["name"], array["name"]);
    assert_eq!(space["capacity"], array["capacity"]);
    assert_eq!(space["space"], array["space"]);
    let provisioned = space["space"]["total_provisioned"].as_u64().unwrap();
    assert!(provisioned > 0, "the fixture's volumes count: {space}");
    assert!(
        space["space"]["total_physical"].as_u64().unwrap() < space["capacity"].as_u64().unwrap()
    );
    let end = space["time"].as_i64().unwrap();
    let start = end - 3_600_000;
    let samples = a.get(&format!(
        "arrays/performance?start_time={start}&end_time={end}&resolution=30000&total_item_count=true"
    ));
    assert_eq!(samples.status, 200, "{}", samples.body);
    assert_eq!(samples.json()["total_item_count"], 121);
    let newest = &samples.items()[0];
    assert_eq!(newest["time"], end);
    assert_eq!(newest["writes_per_sec"], 0);
    assert_eq!(newest["queue_usec_per_mirrored_write_op"], 0);
    assert_eq!(
        a.ok("arrays/performance").len(),
        1,
        "without a window: the latest"
    );
    let backwards = a.get(&format!(
        "arrays/performance?start_time={end}&end_time={start}"
    ));
    assert_eq!(backwards.status, 400);

    // iSCSI targets: ready controllers, their ports (one IQN for the array, loopback portals),
    // no bonded interfaces; fa-b has its own IQN.
    let controllers = a.ok("controllers?filter=status%3D%27ready%27");
    assert_eq!(names(&controllers), ["CT0", "CT1"]);
    assert_eq!(controllers[0]["mode"], "primary");
    let mut portals = Vec::new();
    for controller in names(&controllers) {
        let ports = a.ok(&format!(
            "ports?filter={}",
            enc(&format!("name='{controller}.*'"))
        ));
        assert_eq!(ports.len(), 1, "{controller}: {ports:?}");
        portals.push(ports[0]["portal"].as_str().unwrap().to_string());
        assert!(
            ports[0]["iqn"]
                .as_str()
                .unwrap()
                .starts_with("iqn.2010-06.com.purestorage:flasharray.")
        );
        assert_eq!(ports[0]["iqn"], a.ok("ports")[0]["iqn"]);
    }
    assert_eq!(portals, ["127.0.0.1:3260", "127.0.0.2:3260"]);
    assert_ne!(a.ok("ports")[0]["iqn"], b.ok("ports")[0]["iqn"]);
    let bonds = a.ok(&format!(
        "network-interfaces?filter={}",
        enc("eth.subtype='lacp_bond' or eth.subtype='vif'")
    ));
    assert!(bonds.is_empty(), "{bonds:?}");
    let interface = a.ok("network-interfaces?names=ct0.eth4").remove(0);
    assert_eq!(interface["services"], json!(["iscsi"]));
    assert_eq!(interface["eth"]["address"], "127.0.0.1");
    assert_eq!(a.get("ports?names=CT9.ETH4").status, 400);

    // Hosts by initiator, local ones (a bare boolean) and not.
    let iqn = "iqn.1994-05.com.redhat:compute-1";
    let created = a.post("hosts?names=compute-1-cinder", json!({"iqns": [iqn]}));
    assert_eq!(created.status, 200, "{}", created.body);
    let local = a.ok(&format!(
        "hosts?filter={}",
        enc(&format!("iqns='{iqn}' and is_local"))
    ));
    assert_eq!(names(&local), ["compute-1-cinder"]);
    let remote = a.ok(&format!(
        "hosts?filter={}",
        enc(&format!("iqns='{iqn}' and not is_local"))
    ));
    assert!(remote.is_empty());

    // Tags: created, updated by namespace and key, listed, carried by a rename and by copies
    // when copyable, deleted by namespace.
    let namespace = "openstack-integration.purestorage.com";
    assert_eq!(
        a.post("volumes?names=tagged", json!({"provisioned": 1 << 30}))
            .status,
        200
    );
    let batch = |value: &str| {
        json!([
            {"key": "ProjectId", "value": value, "namespace": namespace, "copyable": false},
            {"key": "DataStoreType", "value": "Direct Access", "namespace": namespace,
             "copyable": false},
            {"key": "owner", "value": "ops"},
        ])
    };
    let put = a.put("volumes/tags/batch?resource_names=tagged", batch("p1"));
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.items().len(), 3);
    assert_eq!(put.items()[0]["resource"]["name"], "tagged");
    assert_eq!(put.items()[2]["namespace"], "default");
    assert_eq!(put.items()[2]["copyable"], true);
    let updated = a.put("volumes/tags/batch?resource_names=tagged", batch("p2"));
    assert_eq!(updated.status, 200, "{}", updated.body);
    let ours = |name: &str| {
        a.ok(&format!(
            "volumes/tags?resource_names={name}&namespaces={namespace}"
        ))
        .iter()
        .map(|tag| {
            format!(
                "{}={}",
                tag["key"].as_str().unwrap(),
                tag["value"].as_str().unwrap()
            )
        })
        .collect::<Vec<_>>()
    };
    assert_eq!(
        ours("tagged"),
        ["ProjectId=p2", "DataStoreType=Direct Access"]
    );
    assert_eq!(a.ok("volumes/tags?resource_names=tagged").len(), 3);
    assert_eq!(
        a.patch("volumes?names=tagged", json!({"name": "tagged-2"}))
            .status,
        200
    );
    assert_eq!(ours("tagged-2").len(), 2, "a rename keeps the tags");
    let copy = a.post(
        "volumes?names=copy",
        json!({"source": {"name": "tagged-2"}}),
    );
    assert_eq!(copy.status, 200, "{}", copy.body);
    let copied = a.ok("volumes/tags?resource_names=copy");
    assert_eq!(copied.len(), 1, "only the copyable tag: {copied:?}");
    assert_eq!(copied[0]["key"], "owner");
    let deleted = a.delete(&format!(
        "volumes/tags?resource_names=tagged-2&namespaces={namespace}"
    ));
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert!(ours("tagged-2").is_empty());
    assert_eq!(
        a.ok("volumes/tags?resource_names=tagged-2").len(),
        1,
        "other namespaces stay"
    );
    let unknown = a.put("volumes/tags/batch?resource_names=nope", batch("p"));
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.message().contains("does not exist"),
        "{}",
        unknown.body
    );
    assert_eq!(a.put("volumes/tags/batch", batch("p")).status, 400);
    assert_eq!(
        a.put("volumes/tags/batch?resource_names=copy", json!([]))
            .status,
        400
    );

    let seen = checker.succeeded.lock().unwrap().clone();
    let missing: Vec<String> = CINDER_DRIVER_OPERATIONS
        .iter()
        .map(|(method, endpoint)| (method.to_string(), format!("/api/2.56/{endpoint}")))
        .filter(|operation| !seen.contains(operation))
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(
        missing.is_empty(),
        "operations never seen succeed: {missing:?}"
    );
}
