//! Property tests of the state store's loaders: journals and state documents, as a crash, a
//! full disk or a careless hand leave them. No file makes the store, the journal replay or the
//! planner panic; a journal cut anywhere reads as its whole lines; a journal that reads stays
//! readable after the next append; a document that loads is written and read back the same.
//!
//! Bounded under `cargo test`; `PROPTEST_CASES` for a longer run (README, "Development").
//! Inputs that once failed are files `tests/fixtures/fuzz/*.jsonl` (journals) and
//! `*.state.json` (documents), checked by the last tests below.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::journal::replay;
use super::local::LocalStore;
use super::store::StateStore;
use super::{
    DrillResource, DrillResourceKind, JournalEntry, JournalEvent, OperationStatus, PendingCleanup,
    RecordedState, StateDocument,
};
use crate::plan::fuzz::{edit_value, strings_of, value_edit};
use crate::plan::testing;
use crate::plan::{FailoverType, OperationKind, PlanOptions, PlanRequest};
use crate::spec::fuzz::{apply, cases, edit_with};

const SITE: &str = "site-b";
const GROUP: &str = "prod-web-app";
const OPERATION: &str = "op-00000000-0000-4000-8000-000000000000";

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0)
        .single()
        .unwrap_or_default()
}

fn event() -> impl Strategy<Value = JournalEvent> {
    proptest::sample::select(
        &[
            JournalEvent::Started,
            JournalEvent::Done,
            JournalEvent::Failed,
            JournalEvent::Retrying,
            JournalEvent::UndoStarted,
            JournalEvent::Undone,
            JournalEvent::UndoFailed,
        ][..],
    )
}

/// An entry as apply writes one, with any text where it writes text.
fn entry() -> impl Strategy<Value = JournalEntry> {
    let step = prop_oneof![
        proptest::sample::select(&["stop_instance/db-1", "copy_volume/db-1/0", "finalize"][..])
            .prop_map(str::to_string),
        "\\PC{0,24}",
    ];
    (
        0..1_000_000i64,
        step,
        event(),
        proptest::collection::btree_map("[a-z_]{1,12}", "\\PC{0,24}", 0..3),
        proptest::option::of("\\PC{0,40}"),
    )
        .prop_map(|(seconds, step, event, created, error)| JournalEntry {
            at: at(seconds),
            step,
            event,
            created,
            error,
        })
}

/// The journal's file in a store under `dir`.
fn journal_path(dir: &Path) -> PathBuf {
    dir.join(SITE)
        .join(GROUP)
        .join(format!("{OPERATION}.jsonl"))
}

/// `entries` as apply writes them: one JSON line each.
fn lines(entries: &[JournalEntry]) -> Vec<Vec<u8>> {
    entries
        .iter()
        .map(|entry| {
            let mut line = serde_json::to_vec(entry).unwrap_or_default();
            line.push(b'\n');
            line
        })
        .collect()
}

/// Writes `bytes` as the journal, reads it, and checks what must hold of what reads: it
/// replays, and the next append reads back after it.
fn read_and_append(
    bytes: &[u8],
    next: &JournalEntry,
) -> Result<Option<Vec<JournalEntry>>, TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path = journal_path(dir.path());
    std::fs::create_dir_all(path.parent().unwrap_or(dir.path()))
        .and_then(|()| std::fs::write(&path, bytes))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let store = LocalStore::new(dir.path());
    let Ok(entries) = store.read_journal(SITE, GROUP, OPERATION) else {
        return Ok(None);
    };
    let progress = replay(&entries);
    let _ = progress.percent(entries.len());
    prop_assert!(store.append_journal(SITE, GROUP, OPERATION, next).is_ok());
    let after = store.read_journal(SITE, GROUP, OPERATION);
    let mut expected = entries.clone();
    expected.push(next.clone());
    prop_assert_eq!(
        after.as_ref().map_err(ToString::to_string),
        Ok(&expected),
        "a journal that read must stay readable after an append"
    );
    Ok(Some(entries))
}

/// Byte edits a crash or a disk leaves, besides the text edits: bytes that are not UTF-8, NULs
/// (a file extended but never written), carriage returns.
#[derive(Debug, Clone)]
enum ByteEdit {
    Insert(usize, &'static [u8]),
    Cut(usize),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    const BYTES: [&[u8]; 8] = [
        b"\n",
        b"\r\n",
        b"\xff",
        b"\xc3",
        b"\0\0\0\0",
        b"{",
        b"\"",
        b" ",
    ];
    prop_oneof![
        (any::<usize>(), proptest::sample::select(&BYTES[..]))
            .prop_map(|(at, bytes)| ByteEdit::Insert(at, bytes)),
        any::<usize>().prop_map(ByteEdit::Cut),
    ]
}

fn edit_bytes(mut bytes: Vec<u8>, edit: &ByteEdit) -> Vec<u8> {
    let at = |at: usize| at % (bytes.len() + 1);
    match edit {
        ByteEdit::Insert(position, inserted) => {
            let position = at(*position);
            bytes.splice(position..position, inserted.iter().copied());
        }
        ByteEdit::Cut(position) => bytes.truncate(at(*position)),
    }
    bytes
}

const JSON_TOKENS: [&str; 14] = [
    "\"", ",", ":", "{", "}", "[", "]", "\n", "null", "0", "-1", "1e999", "\"\"", "é",
];

/// A state document with something in each of its parts.
fn document() -> StateDocument {
    let mut document = testing::recorded(&testing::inventory()).sites["site-a"]
        .clone()
        .unwrap_or_else(|| StateDocument::initial(&testing::example_spec(), "site-a"));
    document.operations.push(super::OperationRecord {
        left_on_target: vec![DrillResource {
            kind: DrillResourceKind::Server,
            name: "drill-db-1".to_string(),
            member: Some("db-1".to_string()),
            step: "boot_instance/db-1".to_string(),
            id: Some("s-1".to_string()),
        }],
        ..super::OperationRecord {
            id: OPERATION.to_string(),
            kind: "drill".to_string(),
            status: OperationStatus::Failed,
            progress: 40,
            steps_completed: vec!["copy_volume/db-1/0".to_string()],
            steps_failed: vec!["boot_instance/db-1".to_string()],
            error_message: Some("boom".to_string()),
            started_at: Some(at(0)),
            completed_at: None,
            source_site: "site-a".to_string(),
            target_site: "site-b".to_string(),
            left_on_target: Vec::new(),
            proof: None,
            rollback: None,
            rolls_back: None,
            superseded_by: None,
        }
    });
    document.pending_cleanup.push(PendingCleanup {
        site: "site-a".to_string(),
        member: "web-1".to_string(),
        instance_id: Some("id-web-1".to_string()),
        volume_ids: vec!["vol-web-1-0".to_string()],
        operation: OPERATION.to_string(),
    });
    document
}

/// Every operation planned with `state`, on the inventories it needs.
fn plan_everything(state: &RecordedState) -> Result<(), TestCaseError> {
    let spec = testing::example_spec();
    let mut unplanned = testing::inventory();
    testing::site_a_down(&mut unplanned);
    let request =
        |operation: OperationKind, options: PlanOptions| PlanRequest { operation, options };
    let cases = [
        (testing::inventory(), testing::converge_request()),
        (
            testing::inventory(),
            testing::request(FailoverType::Planned),
        ),
        (unplanned, testing::request(FailoverType::Unplanned)),
        (
            testing::inventory(),
            request(
                OperationKind::Failback,
                PlanOptions {
                    reverse_replication: true,
                    ..PlanOptions::default()
                },
            ),
        ),
        (testing::drill_inventory(), testing::drill_request(false)),
        (
            testing::drill_inventory(),
            request(
                OperationKind::DrillCleanup,
                PlanOptions {
                    drill: Some(OPERATION.to_string()),
                    ..PlanOptions::default()
                },
            ),
        ),
        (
            testing::inventory(),
            request(OperationKind::SyncForce, PlanOptions::default()),
        ),
    ];
    for (inventory, request) in cases {
        match crate::plan::plan(&spec, &inventory, state, &request) {
            Ok(plan) => {
                let _ = crate::render::plan::text(&plan);
            }
            Err(refusals) => {
                prop_assert!(!refusals.is_empty());
                for refusal in &refusals {
                    prop_assert!(
                        !refusal.hint.contains("bug in protector's planner"),
                        "{:?}: {}",
                        request.operation,
                        refusal.message
                    );
                }
            }
        }
    }
    Ok(())
}

/// Writes `bytes` as site-a's document, loads it, and checks what must hold of what loads: it
/// is written and read back the same; with a copy on site-b, the group's state reads (or is
/// refused) without panicking, and every operation plans from what reads.
fn load_and_plan(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path = dir.path().join("site-a").join(format!("{GROUP}.json"));
    std::fs::create_dir_all(path.parent().unwrap_or(dir.path()))
        .and_then(|()| std::fs::write(&path, bytes))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let store = LocalStore::new(dir.path());
    let Ok(Some(document)) = store.load("site-a", GROUP) else {
        return Ok(());
    };
    prop_assert!(store.save(&document).is_ok());
    let again = store
        .load("site-a", GROUP)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(again.as_ref(), Some(&document));
    let peer = StateDocument {
        site: "site-b".to_string(),
        ..document
    };
    prop_assert!(store.save(&peer).is_ok());
    // What planning is given: the state as the store reads it for the spec.
    let Ok(mut state) = store.read_state(&testing::example_spec()) else {
        return Ok(());
    };
    let _ = (state.sync(), state.versions(), state.heal());
    plan_everything(&state)
}

proptest! {
    #![proptest_config(cases(256))]

    /// A crash mid-append leaves a prefix of the journal: it reads as the lines whose newline
    /// is before the cut (an append returns once its line and newline are on disk: a step
    /// acts only then), and the next append follows them.
    #[test]
    fn a_journal_cut_anywhere_reads_as_its_whole_lines(
        entries in proptest::collection::vec(entry(), 0..8),
        cut in any::<usize>(),
        next in entry(),
    ) {
        let lines = lines(&entries);
        let bytes = lines.concat();
        let cut = cut % (bytes.len() + 1);
        let mut end = 0;
        let whole = lines
            .iter()
            .take_while(|line| {
                end += line.len();
                end <= cut
            })
            .count();
        let read = read_and_append(&bytes[..cut], &next)?;
        prop_assert_eq!(read.as_deref(), Some(&entries[..whole]));
    }

    #[test]
    fn a_damaged_journal_never_panics_and_stays_appendable(
        entries in proptest::collection::vec(entry(), 1..6),
        text_edits in proptest::collection::vec(edit_with(&JSON_TOKENS), 0..3),
        byte_edits in proptest::collection::vec(byte_edit(), 0..3),
        next in entry(),
    ) {
        let text = String::from_utf8_lossy(&lines(&entries).concat()).into_owned();
        let text = text_edits.iter().fold(text, |text, e| apply(&text, e));
        let bytes = byte_edits.iter().fold(text.into_bytes(), edit_bytes);
        read_and_append(&bytes, &next)?;
    }

    #[test]
    fn a_damaged_document_never_panics_the_store_or_the_planner(
        value_edits in proptest::collection::vec(value_edit(), 0..3),
        text_edits in proptest::collection::vec(edit_with(&JSON_TOKENS), 0..2),
    ) {
        let mut value = serde_json::to_value(document()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let strings = strings_of(&value);
        for edit in &value_edits {
            edit_value(&mut value, edit, &strings);
        }
        let text = serde_json::to_string_pretty(&value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let text = text_edits.iter().fold(text, |text, e| apply(&text, e));
        load_and_plan(text.as_bytes())?;
    }
}

/// The fixtures with names ending in `suffix`, read.
fn fixtures(suffix: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/fixtures/fuzz") {
        let path = entry.expect("entry").path();
        let name = path.to_string_lossy().into_owned();
        if name.ends_with(suffix) {
            found.push((name, std::fs::read(&path).expect("a fixture")));
        }
    }
    assert!(!found.is_empty(), "no {suffix} in {}", dir.display());
    found
}

/// The journals the properties above once failed on: each reads or is refused without
/// panicking, and one that reads stays readable after an append.
#[test]
fn every_journal_that_once_failed_passes() {
    let next = JournalEntry {
        at: at(0),
        step: "finalize".to_string(),
        event: JournalEvent::Started,
        created: BTreeMap::new(),
        error: None,
    };
    for (name, bytes) in fixtures(".jsonl") {
        if let Err(error) = read_and_append(&bytes, &next) {
            panic!("{name}: {error}");
        }
    }
}

/// The state documents the properties above once failed on.
#[test]
fn every_document_that_once_failed_passes() {
    for (name, bytes) in fixtures(".state.json") {
        if let Err(error) = load_and_plan(&bytes) {
            panic!("{name}: {error}");
        }
    }
}
