//! The local state backend: files under the spec's `state.path`.
//!
//! ```text
//! <path>/<site>/<group>.json          the state document, replaced atomically
//! <path>/<site>/<group>.lock          held while a command writes; says who holds it, until when
//! <path>/<site>/<group>/<op>.jsonl    an operation's journal, append-only
//! <path>/<site>/<group>/<op>.plan.json the plan the operation runs (for resume and rollback)
//! ```
//!
//! It keeps what [`super::store`] says every backend must: names are checked
//! ([`super::store::check_name`]) before they go into a path, so nothing is read or written
//! outside the state folder whatever they say.
//!
//! A document is written to a temporary file, fsynced, renamed over the old one and the folder
//! fsynced, so a crash leaves either the old or the new document, never half of one. Journal
//! lines are fsynced one by one: a step recorded as started is on disk before the step acts.
//!
//! A lock is a file created only if absent (written whole, then hard-linked into place) naming
//! its holder ([`LockInfo`]) and renewed while it runs, so a holder that is gone (killed, its
//! machine lost) is told from one that runs, by its process on this machine and by its lease
//! elsewhere; a lock whose holder is gone is taken over, and an operation recorded as running
//! with no live holder reads as interrupted.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::JournalEntry;
use super::StateDocument;
use super::store::{
    KeptJournal, KeptPlan, Lease, LockGuard, LockInfo, StateStore, StoreError, check_kept_document,
    check_plan_copy, component, parse_journal, to_json,
};
use crate::plan::Plan;

/// How long a lock file may stay unreadable (created, not written yet) before it counts as left
/// by a holder killed in between.
const UNREADABLE_GRACE: Duration = Duration::from_secs(5);

/// A file's bytes, or `None` when it does not exist.
fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io("read", path)(error)),
    }
}

/// Writes `value` ([`to_json`]) to a temporary file, syncs it, renames it over `path` and syncs
/// the folder: a crash leaves the old file or the new one, never half of one.
fn write_atomically<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let folder = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    fs::create_dir_all(&folder).map_err(io("create", &folder))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let temporary = folder.join(format!(".{name}.{}.tmp", std::process::id()));
    let text = to_json(path, value)?;
    {
        let mut file = File::create(&temporary).map_err(io("write", &temporary))?;
        file.write_all(&text).map_err(io("write", &temporary))?;
        file.sync_all().map_err(io("sync", &temporary))?;
    }
    fs::rename(&temporary, path).map_err(io("replace", path))?;
    File::open(&folder)
        .and_then(|dir| dir.sync_all())
        .map_err(io("sync", &folder))
}

/// Creates `path` holding `value`, failing with `AlreadyExists` if it exists. The content is
/// written to a temporary file first and hard-linked into place, so a process killed while
/// taking a lock never leaves a half-written one that blocks the next command.
fn create_whole<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let temporary = folder.join(format!(".{name}.{}.new", std::process::id()));
    let text = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    let written = File::create(&temporary).and_then(|mut file| {
        file.write_all(&text)?;
        file.sync_all()
    });
    let linked = written.and_then(|()| fs::hard_link(&temporary, path));
    let _ = fs::remove_file(&temporary);
    linked?;
    File::open(folder).and_then(|dir| dir.sync_all())
}

/// Drops a last line a power cut left half-written (no newline): appending after it would glue
/// the next entry to it and make the journal unreadable from there on. Its step was never
/// recorded as done, so it runs again.
fn cut_torn_tail(path: &Path, file: &File) -> Result<(), StoreError> {
    use std::io::{Read, Seek, SeekFrom};
    let length = file.metadata().map_err(io("read", path))?.len();
    if length == 0 {
        return Ok(());
    }
    let mut reader = File::open(path).map_err(io("read", path))?;
    let mut last = [0u8];
    reader
        .seek(SeekFrom::Start(length - 1))
        .and_then(|_| reader.read_exact(&mut last))
        .map_err(io("read", path))?;
    if last[0] == b'\n' {
        return Ok(());
    }
    let mut text = Vec::new();
    reader
        .seek(SeekFrom::Start(0))
        .and_then(|_| reader.read_to_end(&mut text))
        .map_err(io("read", path))?;
    let keep = text
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |end| end + 1);
    file.set_len(keep as u64).map_err(io("truncate", path))?;
    file.sync_all().map_err(io("sync", path))
}

/// A lock file held by one holder.
#[derive(Debug)]
struct LockFile {
    path: PathBuf,
    info: LockInfo,
}

impl Lease for LockFile {
    fn renew(&self) -> bool {
        match read_lock(&self.path) {
            Some(current) if current.same_holder(&self.info) => {
                if let Err(error) = write_atomically(&self.path, &current.renewed()) {
                    tracing::warn!(%error, "cannot renew the lock's lease");
                }
                true
            }
            _ => false,
        }
    }

    fn release(&self) {
        if read_lock(&self.path).is_some_and(|current| current.same_holder(&self.info)) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The lock at `path`, if it can be read.
fn read_lock(path: &Path) -> Option<LockInfo> {
    fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
}

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl LocalStore {
    /// The store in folder `root`. Commands open it through [`super::store::open`].
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore { root: root.into() }
    }

    /// `<root>/<site>/<group>` and the file `<group><extension>` beside it: a group's folder
    /// and its files, each name checked.
    fn group_paths(&self, site: &str, group: &str) -> Result<(PathBuf, String), StoreError> {
        let site = component("site", site)?;
        let group = component("protection group", group)?;
        Ok((self.root.join(site).join(group), group.to_string()))
    }

    fn document_path(&self, site: &str, group: &str) -> Result<PathBuf, StoreError> {
        let (folder, group) = self.group_paths(site, group)?;
        Ok(folder.with_file_name(format!("{group}.json")))
    }

    fn lock_path(&self, site: &str, group: &str) -> Result<PathBuf, StoreError> {
        let (folder, group) = self.group_paths(site, group)?;
        Ok(folder.with_file_name(format!("{group}.lock")))
    }

    fn operation_path(
        &self,
        site: &str,
        group: &str,
        operation: &str,
        extension: &str,
    ) -> Result<PathBuf, StoreError> {
        let (folder, _) = self.group_paths(site, group)?;
        let operation = component("operation", operation)?;
        Ok(folder.join(format!("{operation}{extension}")))
    }

    fn journal_path(
        &self,
        site: &str,
        group: &str,
        operation: &str,
    ) -> Result<PathBuf, StoreError> {
        self.operation_path(site, group, operation, ".jsonl")
    }

    fn plan_path(&self, site: &str, group: &str, operation: &str) -> Result<PathBuf, StoreError> {
        self.operation_path(site, group, operation, ".plan.json")
    }

    fn holder_at(&self, path: &Path) -> Result<Option<LockInfo>, StoreError> {
        let now = Utc::now();
        if let Some(holder) = read_lock(path) {
            return Ok(holder.is_live(now).then_some(holder));
        }
        // Unreadable: being written right now, or left half-written by a killed holder.
        let modified = match fs::metadata(path).and_then(|m| m.modified()) {
            Ok(modified) => DateTime::<Utc>::from(modified),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io("read", path)(error)),
        };
        let fresh =
            now - modified < chrono::Duration::from_std(UNREADABLE_GRACE).unwrap_or_default();
        Ok(fresh.then(|| LockInfo {
            pid: 0,
            host: "an unknown host".to_string(),
            since: modified,
            command: "a command still writing its lock".to_string(),
            expires: Some(modified + UNREADABLE_GRACE),
            process_start: None,
        }))
    }
}

impl StateStore for LocalStore {
    fn document_location(&self, site: &str, group: &str) -> Result<PathBuf, StoreError> {
        self.document_path(site, group)
    }

    fn load(&self, site: &str, group: &str) -> Result<Option<StateDocument>, StoreError> {
        let path = self.document_path(site, group)?;
        read_bytes(&path)?
            .map(|bytes| check_kept_document(&path, &bytes, site, group))
            .transpose()
    }

    fn save(&self, document: &StateDocument) -> Result<(), StoreError> {
        write_atomically(
            &self.document_path(&document.site, &document.protection_group)?,
            document,
        )
    }

    fn save_plan(&self, site: &str, plan: &Plan) -> Result<(), StoreError> {
        write_atomically(
            &self.plan_path(site, &plan.protection_group, &plan.operation.id)?,
            plan,
        )
    }

    fn read_plan_copy(
        &self,
        site: &str,
        group: &str,
        operation: &str,
    ) -> Result<Option<KeptPlan>, StoreError> {
        let path = self.plan_path(site, group, operation)?;
        read_bytes(&path)?
            .map(|bytes| check_plan_copy(&path, bytes, site, group, operation))
            .transpose()
    }

    fn find_operation(&self, operation: &str) -> Result<Option<(String, String)>, StoreError> {
        let file = format!("{}.plan.json", component("operation", operation)?);
        let name = |entry: &fs::DirEntry| entry.file_name().to_string_lossy().into_owned();
        let Ok(sites) = fs::read_dir(&self.root) else {
            return Ok(None);
        };
        for site in sites.flatten() {
            let Ok(groups) = fs::read_dir(site.path()) else {
                continue;
            };
            if let Some(group) = groups
                .flatten()
                .find(|group| group.path().join(&file).is_file())
            {
                return Ok(Some((name(&site), name(&group))));
            }
        }
        Ok(None)
    }

    fn lock_for(&self, site: &str, group: &str, holder: LockInfo) -> Result<LockGuard, StoreError> {
        let path = self.lock_path(site, group)?;
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder).map_err(io("create", folder))?;
        }
        for _ in 0..2 {
            match create_whole(&path, &holder) {
                Ok(()) => {
                    return Ok(LockGuard::new(Arc::new(LockFile { path, info: holder })));
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    match self.holder_at(&path)? {
                        Some(holder) => {
                            return Err(StoreError::Locked {
                                site: site.to_string(),
                                group: group.to_string(),
                                holder: Box::new(holder),
                            });
                        }
                        None => {
                            tracing::warn!(path = %path.display(), "taking over a lock whose holder is gone");
                            fs::remove_file(&path).map_err(io("remove", &path))?;
                        }
                    }
                }
                Err(error) => return Err(io("create", &path)(error)),
            }
        }
        Err(StoreError::Corrupt {
            path,
            message: "the lock keeps reappearing".to_string(),
        })
    }

    fn holder(&self, site: &str, group: &str) -> Result<Option<LockInfo>, StoreError> {
        self.holder_at(&self.lock_path(site, group)?)
    }

    fn append_journal(
        &self,
        site: &str,
        group: &str,
        operation: &str,
        entry: &JournalEntry,
    ) -> Result<(), StoreError> {
        let path = self.journal_path(site, group, operation)?;
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder).map_err(io("create", folder))?;
        }
        let mut line = serde_json::to_vec(entry).map_err(|error| StoreError::Corrupt {
            path: path.clone(),
            message: error.to_string(),
        })?;
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io("open", &path))?;
        cut_torn_tail(&path, &file)?;
        file.write_all(&line).map_err(io("append to", &path))?;
        file.sync_all().map_err(io("sync", &path))
    }

    fn read_journal_copy(
        &self,
        site: &str,
        group: &str,
        operation: &str,
    ) -> Result<KeptJournal, StoreError> {
        let path = self.journal_path(site, group, operation)?;
        let bytes = read_bytes(&path)?.unwrap_or_default();
        let entries = parse_journal(&path, &bytes)?;
        Ok(KeptJournal { bytes, entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::store::check_name;
    use crate::state::{GroupStatus, JournalEvent, OperationStatus};

    mod conformance {
        use super::*;

        fn open() -> (tempfile::TempDir, Box<dyn StateStore>) {
            let dir = tempfile::tempdir().unwrap();
            let store = Box::new(LocalStore::new(dir.path().join("state")));
            (dir, store)
        }

        crate::state::conformance::conformance!(open);
    }

    fn document(version: u64) -> StateDocument {
        StateDocument {
            format: crate::state::FORMAT,
            protection_group: "pg".to_string(),
            site: "site-a".to_string(),
            metadata_version: version,
            status: GroupStatus::Active,
            primary_site: "site-a".to_string(),
            secondary_site: "site-b".to_string(),
            current_primary_site: "site-a".to_string(),
            failover_count: 0,
            last_failover_at: None,
            updated_at: None,
            sync: Default::default(),
            members: Default::default(),
            operations: Vec::new(),
            pending_cleanup: Vec::new(),
            measured: Default::default(),
            retired_volumes: Vec::new(),
        }
    }

    #[test]
    fn documents_round_trip_and_replace_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        assert_eq!(store.load("site-a", "pg").unwrap(), None);
        store.save(&document(1)).unwrap();
        store.save(&document(2)).unwrap();
        assert_eq!(
            store
                .load("site-a", "pg")
                .unwrap()
                .unwrap()
                .metadata_version,
            2
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("site-a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("pg.json")]);
    }

    #[test]
    fn a_corrupt_document_is_reported_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("site-a")).unwrap();
        fs::write(dir.path().join("site-a/pg.json"), "{not json").unwrap();
        let error = LocalStore::new(dir.path())
            .load("site-a", "pg")
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("is not a protector state document")
        );
        assert!(error.hint().contains("sync-force"));
    }

    #[test]
    fn an_unreadable_lock_is_held_briefly_then_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        fs::create_dir_all(dir.path().join("site-a")).unwrap();
        let path = dir.path().join("site-a/pg.lock");
        // Created, not written yet: a holder may be writing it right now.
        fs::write(&path, "").unwrap();
        assert!(matches!(
            store.lock("site-a", "pg", "protector plan"),
            Err(StoreError::Locked { .. })
        ));
        // Left so by a holder killed between creating and writing it.
        let old = std::time::SystemTime::now() - UNREADABLE_GRACE * 2;
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(store.holder("site-a", "pg").unwrap(), None);
        assert!(store.lock("site-a", "pg", "protector plan").is_ok());
    }

    #[test]
    fn names_that_would_leave_the_state_folder_are_refused() {
        for good in ["site-a", "prod-web-app", "op-1", "pg_2.old"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".x",
            "a/b",
            "a\\b",
            "a\0b",
            "a b",
            "é",
            &"x".repeat(256),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("state"));
        let entry = JournalEntry {
            at: Utc::now(),
            step: "a".to_string(),
            event: JournalEvent::Started,
            created: Default::default(),
            error: None,
        };
        let escape = "../../../x/pwned";
        let error = store
            .append_journal("site-b", "pg", escape, &entry)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "operation `../../../x/pwned` cannot name a file in the state folder: it starts with `.`"
        );
        assert!(error.is_refusal());
        assert!(matches!(
            store.read_journal("site-b", "..", "op-1"),
            Err(StoreError::Name { .. })
        ));
        assert!(matches!(
            store.lock("../site-b", "pg", "apply"),
            Err(StoreError::Name { .. })
        ));
        assert!(matches!(
            store.load("site-a", "a/b"),
            Err(StoreError::Name { .. })
        ));
        assert!(matches!(
            store.read_operation("op/../../x"),
            Err(StoreError::Name { .. })
        ));
        let mut stray = document(1);
        stray.protection_group = "../../x".to_string();
        assert!(matches!(store.save(&stray), Err(StoreError::Name { .. })));
        let mut plan = crate::plan::plan(
            &crate::plan::testing::example_spec(),
            &crate::plan::testing::inventory(),
            &crate::plan::testing::no_state(),
            &crate::plan::testing::request(crate::plan::FailoverType::Planned),
        )
        .unwrap();
        plan.operation.id = escape.to_string();
        assert!(matches!(
            store.save_plan("site-b", &plan),
            Err(StoreError::Name { .. })
        ));
        let written: Vec<_> = walk(dir.path());
        assert!(
            written
                .iter()
                .all(|path| path.starts_with(dir.path().join("state"))),
            "{written:?}"
        );
        assert!(!dir.path().join("x").exists());
    }

    /// Every file and folder under `dir`.
    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut folders = vec![dir.to_path_buf()];
        while let Some(folder) = folders.pop() {
            for entry in fs::read_dir(&folder).into_iter().flatten().flatten() {
                if entry.path().is_dir() {
                    folders.push(entry.path());
                }
                found.push(entry.path());
            }
        }
        found
    }

    #[test]
    fn a_plan_copy_or_document_is_what_it_is_kept_as() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let plan = crate::plan::plan(
            &crate::plan::testing::example_spec(),
            &crate::plan::testing::inventory(),
            &crate::plan::testing::no_state(),
            &crate::plan::testing::request(crate::plan::FailoverType::Planned),
        )
        .unwrap();
        let id = plan.operation.id.clone();
        store.save_plan("site-b", &plan).unwrap();
        assert_eq!(store.find_plan(&id).unwrap(), Some(plan.clone()));
        assert_eq!(store.read_operation(&id).unwrap().unwrap().plan, plan);
        let folder = dir.path().join("site-b/prod-web-app");
        let other = crate::plan::operation_id("0");
        fs::copy(
            folder.join(format!("{id}.plan.json")),
            folder.join(format!("{other}.plan.json")),
        )
        .unwrap();
        let error = store.find_plan(&other).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with(&format!("is kept as the plan of {other} of `prod-web-app` on site-b, but is that of {id} of `prod-web-app` on site-b")),
            "{error}"
        );
        assert!(error.hint().contains("restore"), "{}", error.hint());
        let mut edited = plan.clone();
        edited.steps[2].site = "site-c".to_string();
        fs::write(
            folder.join(format!("{id}.plan.json")),
            crate::plan::file::to_bytes(&edited),
        )
        .unwrap();
        let error = store.read_operation(&id).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("is not a plan protector made: steps[2]"),
            "{error}"
        );

        let mut elsewhere = document(3);
        elsewhere.site = "site-b".to_string();
        fs::create_dir_all(dir.path().join("site-a")).unwrap();
        fs::write(
            dir.path().join("site-a/pg.json"),
            serde_json::to_vec(&elsewhere).unwrap(),
        )
        .unwrap();
        let error = store.load("site-a", "pg").unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("it is kept as the document of `pg` on site-a, but says it is that of `pg` on site-b"),
            "{error}"
        );
    }

    #[test]
    fn a_document_is_read_for_planning_only_if_protector_could_have_written_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let spec = crate::plan::testing::example_spec();
        let drill = crate::state::OperationRecord {
            left_on_target: vec![crate::state::DrillResource {
                kind: crate::state::DrillResourceKind::Server,
                name: "drill-db-1".to_string(),
                member: Some("db-1".to_string()),
                step: "boot_instance/db-1".to_string(),
                id: None,
            }],
            ..crate::plan::testing::record_of(
                &crate::plan::plan(
                    &spec,
                    &crate::plan::testing::drill_inventory(),
                    &crate::plan::testing::no_state(),
                    &crate::plan::testing::drill_request(true),
                )
                .unwrap(),
                OperationStatus::Completed,
            )
        };
        let written = StateDocument {
            operations: vec![drill],
            ..StateDocument::initial(&spec, "site-a")
        };
        let read = |edit: &dyn Fn(&mut StateDocument)| {
            let mut document = written.clone();
            edit(&mut document);
            store.save(&document).unwrap();
            store
                .read_state(&spec)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert_eq!(read(&|_| {}), Ok(()));
        let refused = |edit: &dyn Fn(&mut StateDocument), says: &str| {
            let error = read(edit).unwrap_err();
            assert!(error.contains(says), "{error}\nshould say {says}");
            assert!(
                error.starts_with(
                    &dir.path()
                        .join("site-a/prod-web-app.json")
                        .display()
                        .to_string()
                ),
                "{error}"
            );
        };
        refused(
            &|doc| doc.current_primary_site = "site-".to_string(),
            "names site `site-` as `current_primary_site`, which is not one of the spec's (site-a, site-b)",
        );
        refused(
            &|doc| doc.operations[0].target_site = "site-a".to_string(),
            "is recorded as moving from site-a to the same site",
        );
        refused(
            &|doc| doc.operations[0].id = "../x".to_string(),
            "operation `../x` is not of the form op-<uuid>",
        );
        refused(
            &|doc| doc.operations[0].left_on_target[0].step = "boot_instance".to_string(),
            "records a server left by step `boot_instance`, which is not a step creating one",
        );
        refused(
            &|doc| {
                let twice = doc.operations[0].left_on_target[0].clone();
                doc.operations[0].left_on_target.push(twice);
            },
            "or records it twice",
        );
        refused(
            &|doc| doc.operations[0].left_on_target[0].member = Some("a\nb".to_string()),
            "member `a\\nb` is not an instance name",
        );
        let error = StoreError::Site {
            path: PathBuf::from("pg.json"),
            site: "dc-1".to_string(),
            field: "`primary_site`".to_string(),
            known: "site-a, site-b".to_string(),
        };
        assert!(
            error
                .hint()
                .starts_with("if a site was renamed in the spec")
        );
    }

    #[test]
    fn a_whole_journal_line_that_does_not_read_is_damage_even_last() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let entry = JournalEntry {
            at: Utc::now(),
            step: "a".to_string(),
            event: JournalEvent::Started,
            created: Default::default(),
            error: None,
        };
        store
            .append_journal("site-b", "pg", "op-1", &entry)
            .unwrap();
        let path = dir.path().join("site-b/pg/op-1.jsonl");
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"at\": \"2030\"}\n").unwrap();
        let error = store.read_journal("site-b", "pg", "op-1").unwrap_err();
        assert!(error.to_string().contains("line 2: "), "{error}");
        // A whole entry without its newline was never confirmed: cut short, as a torn line.
        fs::write(&path, serde_json::to_vec(&entry).unwrap()).unwrap();
        assert_eq!(store.read_journal("site-b", "pg", "op-1").unwrap(), vec![]);
        store
            .append_journal("site-b", "pg", "op-1", &entry)
            .unwrap();
        assert_eq!(
            store.read_journal("site-b", "pg", "op-1").unwrap(),
            vec![entry]
        );
    }

    #[test]
    fn journals_append_in_order_and_survive_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        for (step, event) in [("a", JournalEvent::Started), ("a", JournalEvent::Done)] {
            let entry = JournalEntry {
                at: Utc::now(),
                step: step.to_string(),
                event,
                created: Default::default(),
                error: None,
            };
            store
                .append_journal("site-b", "pg", "op-1", &entry)
                .unwrap();
        }
        let path = dir.path().join("site-b/pg/op-1.jsonl");
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"at\": \"20").unwrap();
        let entries = store.read_journal("site-b", "pg", "op-1").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].event, JournalEvent::Done);
        // The next run appends after cutting the torn line: the journal stays readable.
        let next = JournalEntry {
            at: Utc::now(),
            step: "b".to_string(),
            event: JournalEvent::Started,
            created: Default::default(),
            error: None,
        };
        store.append_journal("site-b", "pg", "op-1", &next).unwrap();
        let entries = store.read_journal("site-b", "pg", "op-1").unwrap();
        assert_eq!(entries.len(), 3, "{entries:?}");
        assert_eq!(entries[2].step, "b");
        assert!(
            store
                .read_journal("site-b", "pg", "op-2")
                .unwrap()
                .is_empty()
        );
    }
}
