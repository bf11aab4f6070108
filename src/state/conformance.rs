//! What every state backend must do ([`super::store`]), as tests written once against
//! [`StateStore`]: each backend runs them all with [`conformance!`] given a way to open a fresh,
//! empty store of its kind. What only one backend can show (a torn file, a lock file left
//! half-written) stays with that backend's own tests.

use chrono::Utc;

use super::store::{LEASE, LockInfo, StateStore, StoreError};
use super::{GroupStatus, JournalEntry, JournalEvent, StateDocument};
use crate::plan::testing;

/// The conformance tests, as `#[test]`s of the module that invokes it. `$open` is a function
/// (or closure) that opens a fresh empty store: `fn() -> (K, Box<dyn StateStore>)`, where `K`
/// is kept alive as long as the store is (a temporary folder, a server).
macro_rules! conformance {
    ($open:expr) => {
        #[test]
        fn documents_round_trip_and_are_replaced_whole() {
            let (_keep, store) = ($open)();
            $crate::state::conformance::documents_round_trip_and_are_replaced_whole(&*store);
        }

        #[test]
        fn the_state_of_a_group_is_each_sites_document() {
            let (_keep, store) = ($open)();
            $crate::state::conformance::the_state_of_a_group_is_each_sites_document(&*store);
        }

        #[test]
        fn journals_append_in_order_per_operation() {
            let (_keep, store) = ($open)();
            $crate::state::conformance::journals_append_in_order_per_operation(&*store);
        }

        #[test]
        fn a_plan_copy_round_trips_and_is_found_by_its_operation() {
            let (_keep, store) = ($open)();
            $crate::state::conformance::a_plan_copy_round_trips_and_is_found_by_its_operation(
                &*store,
            );
        }

        #[test]
        fn a_held_lock_names_its_holder_and_is_released_on_drop() {
            let (_keep, store) = ($open)();
            $crate::state::conformance::a_held_lock_names_its_holder_and_is_released_on_drop(
                &*store,
            );
        }

        #[test]
        fn a_lock_held_elsewhere_holds_until_its_lease_ends() {
            let (_keep, store) = ($open)();
            $crate::state::conformance::a_lock_held_elsewhere_holds_until_its_lease_ends(&*store);
        }

        #[test]
        fn a_lock_of_a_dead_process_is_taken_over() {
            let (_keep, store) = ($open)();
            $crate::state::conformance::a_lock_of_a_dead_process_is_taken_over(&*store);
        }

        #[tokio::test(start_paused = true)]
        async fn a_running_holder_renews_its_lease() {
            let (_keep, store) = ($open)();
            $crate::state::conformance::a_running_holder_renews_its_lease(&*store).await;
        }

        #[test]
        fn names_that_would_leave_the_store_are_refused() {
            let (_keep, store) = ($open)();
            $crate::state::conformance::names_that_would_leave_the_store_are_refused(&*store);
        }
    };
}

pub(crate) use conformance;

fn document(site: &str, version: u64) -> StateDocument {
    StateDocument {
        metadata_version: version,
        ..StateDocument::initial(&testing::example_spec(), site)
    }
}

fn entry(step: &str, event: JournalEvent) -> JournalEntry {
    JournalEntry {
        at: Utc::now(),
        step: step.to_string(),
        event,
        created: [("server".to_string(), format!("{step}-id"))].into(),
        error: None,
    }
}

fn plan() -> crate::plan::Plan {
    crate::plan::plan(
        &testing::example_spec(),
        &testing::inventory(),
        &testing::no_state(),
        &testing::request(crate::plan::FailoverType::Planned),
    )
    .unwrap()
}

pub fn documents_round_trip_and_are_replaced_whole(store: &dyn StateStore) {
    let group = &testing::example_spec().name;
    assert_eq!(store.load("site-a", group).unwrap(), None);
    store.save(&document("site-a", 1)).unwrap();
    let mut second = document("site-a", 2);
    second.status = GroupStatus::FailedOver;
    store.save(&second).unwrap();
    assert_eq!(store.load("site-a", group).unwrap(), Some(second));
    assert_eq!(store.load("site-b", group).unwrap(), None, "per site");
    assert_eq!(store.load("site-a", "other-group").unwrap(), None);
}

pub fn the_state_of_a_group_is_each_sites_document(store: &dyn StateStore) {
    let spec = testing::example_spec();
    let state = store.read_state(&spec).unwrap();
    assert_eq!(state.sites.len(), 2);
    assert!(state.sites.values().all(Option::is_none), "{state:?}");
    store.save(&document("site-b", 3)).unwrap();
    let state = store.read_state(&spec).unwrap();
    assert_eq!(state.sites["site-a"], None);
    assert_eq!(state.sites["site-b"], Some(document("site-b", 3)));
    assert!(state.runs.is_empty());
}

pub fn journals_append_in_order_per_operation(store: &dyn StateStore) {
    let (op1, op2) = ("op-1", "op-2");
    assert!(store.read_journal("site-b", "pg", op1).unwrap().is_empty());
    let entries = [
        entry("a", JournalEvent::Started),
        entry("b", JournalEvent::Started),
        entry("a", JournalEvent::Done),
    ];
    for entry in &entries {
        store.append_journal("site-b", "pg", op1, entry).unwrap();
    }
    let other = entry("c", JournalEvent::Started);
    store.append_journal("site-b", "pg", op2, &other).unwrap();
    assert_eq!(store.read_journal("site-b", "pg", op1).unwrap(), entries);
    assert_eq!(store.read_journal("site-b", "pg", op2).unwrap(), [other]);
    assert!(store.read_journal("site-a", "pg", op1).unwrap().is_empty());
    // As kept: its entries, one JSON line each.
    let kept = store.read_journal_copy("site-b", "pg", op1).unwrap();
    assert_eq!(kept.entries, entries);
    assert_eq!(
        kept.bytes.iter().filter(|byte| **byte == b'\n').count(),
        3,
        "{}",
        String::from_utf8_lossy(&kept.bytes)
    );
}

pub fn a_plan_copy_round_trips_and_is_found_by_its_operation(store: &dyn StateStore) {
    let plan = plan();
    let (id, group, site) = (
        plan.operation.id.clone(),
        plan.protection_group.clone(),
        plan.operation.target_site.clone(),
    );
    assert_eq!(store.find_plan(&id).unwrap(), None);
    assert!(store.read_operation(&id).unwrap().is_none());
    store.save_plan(&site, &plan).unwrap();
    assert_eq!(
        store.load_plan(&site, &group, &id).unwrap(),
        Some(plan.clone())
    );
    assert_eq!(
        store.find_operation(&id).unwrap(),
        Some((site.clone(), group.clone()))
    );
    assert_eq!(store.find_plan(&id).unwrap(), Some(plan.clone()));
    let copy = store.read_plan_copy(&site, &group, &id).unwrap().unwrap();
    assert_eq!(crate::plan::file::read(&copy.bytes).unwrap(), plan);

    let started = entry("a", JournalEvent::Started);
    store.append_journal(&site, &group, &id, &started).unwrap();
    let stored = store.read_operation(&id).unwrap().unwrap();
    assert_eq!(stored.plan, plan);
    assert_eq!(stored.plan_file, copy.bytes);
    assert_eq!(stored.journal, [started]);
    assert_eq!(stored.record, None, "not recorded in a document yet");
    let spec = testing::example_spec();
    let run = store.read_run(&spec, &id).unwrap().unwrap();
    assert_eq!(run.plan, plan);
    assert_eq!(run.progress.in_flight, ["a"]);
}

pub fn a_held_lock_names_its_holder_and_is_released_on_drop(store: &dyn StateStore) {
    assert_eq!(store.holder("site-a", "pg").unwrap(), None);
    let guard = store.lock("site-a", "pg", "protector apply").unwrap();
    match store.lock("site-a", "pg", "protector plan") {
        Err(StoreError::Locked { holder, .. }) => {
            assert_eq!(holder.pid, std::process::id());
            assert_eq!(holder.command, "protector apply");
        }
        other => panic!("{other:?}"),
    }
    let holder = store.holder("site-a", "pg").unwrap().unwrap();
    assert_eq!(holder.command, "protector apply");
    // Per site and group.
    drop(store.lock("site-b", "pg", "protector plan").unwrap());
    drop(store.lock("site-a", "pg-2", "protector plan").unwrap());
    drop(guard);
    assert_eq!(store.holder("site-a", "pg").unwrap(), None);
    assert!(store.lock("site-a", "pg", "protector plan").is_ok());
}

pub fn a_lock_held_elsewhere_holds_until_its_lease_ends(store: &dyn StateStore) {
    let elsewhere = |expires| LockInfo {
        host: "runner-7".to_string(),
        expires: Some(expires),
        ..LockInfo::ours("protector apply")
    };
    store
        .lock_for("site-a", "pg", elsewhere(Utc::now() + LEASE))
        .unwrap()
        .abandon();
    match store.lock("site-a", "pg", "protector plan") {
        Err(error @ StoreError::Locked { .. }) => {
            assert!(error.to_string().contains("on runner-7"), "{error}");
            assert!(error.is_refusal());
            assert!(
                error.hint().contains("when its lease ends"),
                "{}",
                error.hint()
            );
        }
        other => panic!("{other:?}"),
    }
    let (site, group) = ("site-b", "pg");
    // A holder elsewhere whose lease ended is gone: its lock is taken over, and when it comes
    // back, letting go of it does not free the lock it lost.
    let stalled = store
        .lock_for(
            site,
            group,
            elsewhere(Utc::now() - chrono::Duration::seconds(1)),
        )
        .unwrap();
    assert_eq!(store.holder(site, group).unwrap(), None);
    let taken = store.lock(site, group, "protector plan").unwrap();
    drop(stalled);
    let holder = store.holder(site, group).unwrap().unwrap();
    assert_eq!(holder.command, "protector plan");
    assert!(store.lock(site, group, "protector apply").is_err());
    drop(taken);
    assert_eq!(store.holder(site, group).unwrap(), None);
}

pub fn a_lock_of_a_dead_process_is_taken_over(store: &dyn StateStore) {
    let stale = LockInfo {
        pid: u32::MAX - 1,
        ..LockInfo::ours("protector apply")
    };
    store.lock_for("site-a", "pg", stale).unwrap().abandon();
    assert_eq!(store.holder("site-a", "pg").unwrap(), None);
    assert!(
        store
            .lock("site-a", "pg", "protector apply --resume")
            .is_ok()
    );
}

pub async fn a_running_holder_renews_its_lease(store: &dyn StateStore) {
    let guard = store.lock("site-a", "pg", "protector apply").unwrap();
    let first = store.holder("site-a", "pg").unwrap().unwrap();
    tokio::time::sleep(super::store::RENEW_EVERY * 2 + std::time::Duration::from_millis(10)).await;
    // The renewal runs on the blocking store: give it its turn.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let renewed = store.holder("site-a", "pg").unwrap().unwrap();
    assert!(renewed.same_holder(&first));
    assert!(renewed.expires > first.expires, "{renewed:?} vs {first:?}");
    drop(guard);
    assert_eq!(store.holder("site-a", "pg").unwrap(), None);
}

pub fn names_that_would_leave_the_store_are_refused(store: &dyn StateStore) {
    let escape = "../../../x/pwned";
    let refused = |result: Result<(), StoreError>| match result {
        Err(error @ StoreError::Name { .. }) => assert!(error.is_refusal()),
        other => panic!("{other:?}"),
    };
    let error = store
        .append_journal("site-b", "pg", escape, &entry("a", JournalEvent::Started))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "operation `../../../x/pwned` cannot name a file in the state folder: it starts with `.`"
    );
    refused(store.read_journal("site-b", "..", "op-1").map(drop));
    refused(store.lock("../site-b", "pg", "apply").map(drop));
    refused(store.holder("site-b", "a/b").map(drop));
    refused(store.load("site-a", "a/b").map(drop));
    refused(store.read_operation("op/../../x").map(drop));
    refused(store.find_plan("").map(drop));
    refused(store.find_operation(".op").map(drop));
    refused(store.load_plan("site-a", "pg", "op 1").map(drop));
    let mut stray = document("site-a", 1);
    stray.protection_group = "../../x".to_string();
    refused(store.save(&stray));
    let mut stray = document("site-a\0", 1);
    stray.protection_group = "pg".to_string();
    refused(store.save(&stray));
    let mut plan = plan();
    plan.operation.id = escape.to_string();
    refused(store.save_plan("site-b", &plan));
    refused(store.save_plan("site/b", &self::plan()));
}
