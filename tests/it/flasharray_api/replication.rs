//! Replication while a site is down: a transfer stands still while its source is down, moves
//! again once it is back, and a snapshot still in flight cannot be copied yet.

use std::time::Duration;

use serde_json::json;

use super::{Checker, FlashArray, control, names};
use crate::twin::TwinProcess;

#[test]
fn a_transfer_stands_still_while_the_source_site_is_down() {
    let twin = TwinProcess::start(1000, &[]);
    let checker = Checker::default();
    let mut a = FlashArray::of(&twin, "site-a", &checker);
    let mut b = FlashArray::of(&twin, "site-b", &checker);
    a.login();
    b.login();
    a.patch(
        "protection-groups?names=prod-web-app",
        json!({"replication_schedule": {"enabled": false}}),
    );
    // 10 TiB more in the group: the next transfer takes about 21 s at speed 1000.
    assert_eq!(
        a.post(
            "volumes?names=big&add_to_protection_group_names=prod-web-app",
            json!({"provisioned": 10u64 << 40})
        )
        .status,
        200
    );
    let taken = a.post(
        "protection-group-snapshots?source_names=prod-web-app&replicate_now=true",
        json!({}),
    );
    assert_eq!(taken.status, 200, "{}", taken.body);
    let taken = names(&taken.items()).remove(0);
    let replica = format!("fa-a:{taken}");
    let progress = |array: &FlashArray, name: &str| {
        array.ok(&format!("protection-group-snapshots/transfer?names={name}"))[0]["progress"]
            .as_f64()
            .unwrap()
    };

    control(&twin, "POST", "/sites/site-a/down", None);
    let frozen = progress(&b, &replica);
    assert!(frozen < 1.0);
    assert_eq!(b.ok("array-connections")[0]["status"], "connecting");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        progress(&b, &replica),
        frozen,
        "no progress while the source is down"
    );

    control(&twin, "POST", "/sites/site-a/up", None);
    std::thread::sleep(Duration::from_millis(500));
    let moving = progress(&b, &replica);
    assert!(moving > frozen && moving < 1.0, "{frozen} -> {moving}");
    assert_eq!(b.ok("array-connections")[0]["status"], "connected");
    let source = progress(&a, &taken);
    assert!(
        (source - moving).abs() < 0.1,
        "both ends agree: {source} vs {moving}"
    );

    // Copying a snapshot still in flight is refused: its data is not here yet.
    let early = b.post(
        "volumes?names=too-early",
        json!({"source": {"name": format!("{replica}.big")}}),
    );
    assert_eq!(early.status, 400);
    // `wait` completes a cycle at once.
    let waited = control(
        &twin,
        "POST",
        "/replicate",
        Some(json!({"site": "site-a", "protection_group": "prod-web-app", "wait": true})),
    );
    let done = waited["snapshots"][0]["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(done, taken);
    assert_eq!(progress(&b, &format!("fa-a:{done}")), 1.0);
    let copy = b.post(
        "volumes?names=in-time",
        json!({"source": {"name": format!("fa-a:{done}.big")}}),
    );
    assert_eq!(copy.status, 200, "{}", copy.body);
}
