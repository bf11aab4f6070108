//! The local state backend: files under the spec's `state.path`.
//!
//! ```text
//! <path>/<site>/<group>.json          the state document, replaced atomically
//! <path>/<site>/<group>.lock          held while a command writes; says who holds it
//! <path>/<site>/<group>/<op>.jsonl    an operation's journal, append-only
//! <path>/<site>/<group>/<op>.plan.json the plan the operation runs (for resume and rollback)
//! ```
//!
//! A document is written to a temporary file, fsynced, renamed over the old one and the folder
//! fsynced, so a crash leaves either the old or the new document, never half of one. Journal
//! lines are fsynced one by one: a step recorded as started is on disk before the step acts.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{JournalEntry, OperationRecord, StateDocument};
use crate::plan::Plan;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a protector state document: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("protection group `{group}` on {site} is locked by {holder}")]
    Locked {
        site: String,
        group: String,
        holder: LockInfo,
    },
}

impl StoreError {
    pub fn hint(&self) -> String {
        match self {
            StoreError::Locked { holder, .. } => format!(
                "wait for that command to finish; if process {} on {} is gone, remove the lock file it left",
                holder.pid, holder.host
            ),
            StoreError::Corrupt { path, .. } => format!(
                "restore {} from the peer site's copy (`protector protection-group sync-force`) or a backup",
                path.display()
            ),
            StoreError::Io { .. } => {
                "check that the state folder exists and is writable".to_string()
            }
        }
    }
}

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub pid: u32,
    pub host: String,
    pub since: DateTime<Utc>,
    pub command: String,
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` (pid {} on {}, since {})",
            self.command,
            self.pid,
            self.host,
            self.since.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

/// A file's bytes, or `None` when it does not exist.
fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io("read", path)(error)),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt {
        path: path.to_path_buf(),
        message: error.to_string(),
    })
}

/// A JSON file, or `None` when it does not exist.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    read_bytes(path)?
        .map(|bytes| parse_json(path, &bytes))
        .transpose()
}

/// A journal's entries in order. A torn last line (a crash mid-write) is ignored: its step was
/// not recorded, so it is redone.
fn parse_journal(path: &Path, bytes: &[u8]) -> Result<Vec<JournalEntry>, StoreError> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let last = lines.len().saturating_sub(1);
    let mut entries = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(entry) => entries.push(entry),
            Err(_) if index == last => break,
            Err(error) => {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    message: format!("line {}: {error}", index + 1),
                });
            }
        }
    }
    Ok(entries)
}

/// Writes a temporary file, syncs it, renames it over `path` and syncs the folder: a crash
/// leaves the old file or the new one, never half of one.
fn write_atomically<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let folder = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    fs::create_dir_all(&folder).map_err(io("create", &folder))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let temporary = folder.join(format!(".{name}.{}.tmp", std::process::id()));
    let text = serde_json::to_vec_pretty(value).map_err(|error| StoreError::Corrupt {
        path: path.to_path_buf(),
        message: error.to_string(),
    })?;
    {
        let mut file = File::create(&temporary).map_err(io("write", &temporary))?;
        file.write_all(&text).map_err(io("write", &temporary))?;
        file.write_all(b"\n").map_err(io("write", &temporary))?;
        file.sync_all().map_err(io("sync", &temporary))?;
    }
    fs::rename(&temporary, path).map_err(io("replace", path))?;
    File::open(&folder)
        .and_then(|dir| dir.sync_all())
        .map_err(io("sync", &folder))
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

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct LockGuard {
    path: PathBuf,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// An operation as the store holds it: its plan copy and journal as they are on disk and as
/// values, and its record.
#[derive(Debug, Clone)]
pub struct StoredOperation {
    /// The plan file's bytes, as apply wrote them.
    pub plan_file: Vec<u8>,
    pub plan: Plan,
    /// The journal file's bytes (empty before the first step started).
    pub journal_file: Vec<u8>,
    pub journal: Vec<JournalEntry>,
    /// Its record, from the newest state document of its sites; `None` before it started.
    pub record: Option<OperationRecord>,
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

/// This machine's name, for lock files.
fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore { root: root.into() }
    }

    fn document_path(&self, site: &str, group: &str) -> PathBuf {
        self.root.join(site).join(format!("{group}.json"))
    }

    fn journal_path(&self, site: &str, group: &str, operation: &str) -> PathBuf {
        self.root
            .join(site)
            .join(group)
            .join(format!("{operation}.jsonl"))
    }

    fn plan_path(&self, site: &str, group: &str, operation: &str) -> PathBuf {
        self.root
            .join(site)
            .join(group)
            .join(format!("{operation}.plan.json"))
    }

    /// The document, or `None` for a group never applied on this site.
    pub fn load(&self, site: &str, group: &str) -> Result<Option<StateDocument>, StoreError> {
        read_json(&self.document_path(site, group))
    }

    /// Replaces the document atomically.
    pub fn save(&self, document: &StateDocument) -> Result<(), StoreError> {
        write_atomically(
            &self.document_path(&document.site, &document.protection_group),
            document,
        )
    }

    /// Keeps the plan an operation runs, next to its journal: what `apply --resume` and
    /// `rollback` work from.
    pub fn save_plan(&self, site: &str, plan: &Plan) -> Result<(), StoreError> {
        write_atomically(
            &self.plan_path(site, &plan.protection_group, &plan.operation.id),
            plan,
        )
    }

    pub fn load_plan(
        &self,
        site: &str,
        group: &str,
        operation: &str,
    ) -> Result<Option<Plan>, StoreError> {
        read_json(&self.plan_path(site, group, operation))
    }

    /// Where the plan of `operation` is kept, on whichever site and group of this store holds
    /// it.
    fn find_plan_path(&self, operation: &str) -> Option<PathBuf> {
        let file = format!("{operation}.plan.json");
        fs::read_dir(&self.root)
            .ok()?
            .flatten()
            .filter_map(|site| fs::read_dir(site.path()).ok())
            .flat_map(|groups| groups.flatten())
            .map(|group| group.path().join(&file))
            .find(|path| path.is_file())
    }

    /// The plan kept for `operation`, on whichever site and group of this store holds it.
    pub fn find_plan(&self, operation: &str) -> Result<Option<Plan>, StoreError> {
        match self.find_plan_path(operation) {
            Some(path) => read_json(&path),
            None => Ok(None),
        }
    }

    /// Operation `operation` as this store holds it, each file read once (so its plan, journal
    /// and record agree even while another process appends to the journal); `None` when no
    /// plan of it is kept here.
    pub fn read_operation(&self, operation: &str) -> Result<Option<StoredOperation>, StoreError> {
        let Some(path) = self.find_plan_path(operation) else {
            return Ok(None);
        };
        let Some(plan_file) = read_bytes(&path)? else {
            return Ok(None);
        };
        let plan: Plan = parse_json(&path, &plan_file)?;
        let (site, group) = (&plan.operation.target_site, &plan.protection_group);
        let journal_path = self.journal_path(site, group, &plan.operation.id);
        let journal_file = read_bytes(&journal_path)?.unwrap_or_default();
        let journal = parse_journal(&journal_path, &journal_file)?;
        let record = self.find_record(&plan)?;
        Ok(Some(StoredOperation {
            plan_file,
            plan,
            journal_file,
            journal,
            record,
        }))
    }

    /// The record of `plan`'s operation in the newest document of its sites that has one.
    fn find_record(&self, plan: &Plan) -> Result<Option<OperationRecord>, StoreError> {
        let mut newest: Option<(u64, OperationRecord)> = None;
        for site in [&plan.operation.source_site, &plan.operation.target_site] {
            if let Some(doc) = self.load(site, &plan.protection_group)?
                && let Some(found) = doc.operations.iter().find(|op| op.id == plan.operation.id)
                && newest
                    .as_ref()
                    .is_none_or(|(version, _)| *version < doc.metadata_version)
            {
                newest = Some((doc.metadata_version, found.clone()));
            }
        }
        Ok(newest.map(|(_, record)| record))
    }

    /// Takes the group's lock on `site` for `command`. A lock left by a process that no longer
    /// runs on this host is taken over.
    pub fn lock(&self, site: &str, group: &str, command: &str) -> Result<LockGuard, StoreError> {
        let folder = self.root.join(site);
        fs::create_dir_all(&folder).map_err(io("create", &folder))?;
        let path = folder.join(format!("{group}.lock"));
        let info = LockInfo {
            pid: std::process::id(),
            host: hostname(),
            since: Utc::now(),
            command: command.to_string(),
        };
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    let text = serde_json::to_vec(&info).unwrap_or_default();
                    file.write_all(&text).map_err(io("write", &path))?;
                    file.sync_all().map_err(io("sync", &path))?;
                    return Ok(LockGuard { path });
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder: Option<LockInfo> = fs::read_to_string(&path)
                        .ok()
                        .and_then(|text| serde_json::from_str(&text).ok());
                    match holder {
                        Some(holder) if holder.host == info.host && !process_alive(holder.pid) => {
                            tracing::warn!(%holder, "taking over a lock left by a process that is gone");
                            fs::remove_file(&path).map_err(io("remove", &path))?;
                        }
                        Some(holder) => {
                            return Err(StoreError::Locked {
                                site: site.to_string(),
                                group: group.to_string(),
                                holder,
                            });
                        }
                        None => {
                            return Err(StoreError::Corrupt {
                                path,
                                message: "unreadable lock file".to_string(),
                            });
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

    /// Appends one journal entry and syncs it to disk before returning.
    pub fn append_journal(
        &self,
        site: &str,
        group: &str,
        operation: &str,
        entry: &JournalEntry,
    ) -> Result<(), StoreError> {
        let path = self.journal_path(site, group, operation);
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

    /// The journal's entries in order; a torn last line is ignored (a crash mid-write).
    pub fn read_journal(
        &self,
        site: &str,
        group: &str,
        operation: &str,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let path = self.journal_path(site, group, operation);
        match read_bytes(&path)? {
            Some(bytes) => parse_journal(&path, &bytes),
            None => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{GroupStatus, JournalEvent};

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
    fn a_held_lock_names_its_holder_and_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let guard = store.lock("site-a", "pg", "protector apply").unwrap();
        match store.lock("site-a", "pg", "protector plan") {
            Err(StoreError::Locked { holder, .. }) => {
                assert_eq!(holder.pid, std::process::id());
                assert_eq!(holder.command, "protector apply");
            }
            other => panic!("{other:?}"),
        }
        drop(guard);
        assert!(store.lock("site-a", "pg", "protector plan").is_ok());
    }

    #[test]
    fn a_lock_of_a_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        fs::create_dir_all(dir.path().join("site-a")).unwrap();
        let stale = LockInfo {
            pid: u32::MAX - 1,
            host: hostname(),
            since: Utc::now(),
            command: "protector apply".to_string(),
        };
        fs::write(
            dir.path().join("site-a/pg.lock"),
            serde_json::to_vec(&stale).unwrap(),
        )
        .unwrap();
        assert!(
            store
                .lock("site-a", "pg", "protector apply --resume")
                .is_ok()
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
