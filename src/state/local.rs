//! The local state backend: files under the spec's `state.path`.
//!
//! ```text
//! <path>/<site>/<group>.json          the state document, replaced atomically
//! <path>/<site>/<group>.lock          held while a command writes; says who holds it, until when
//! <path>/<site>/<group>/<op>.jsonl    an operation's journal, append-only
//! <path>/<site>/<group>/<op>.plan.json the plan the operation runs (for resume and rollback)
//! ```
//!
//! A document is written to a temporary file, fsynced, renamed over the old one and the folder
//! fsynced, so a crash leaves either the old or the new document, never half of one. Journal
//! lines are fsynced one by one: a step recorded as started is on disk before the step acts.
//!
//! A lock is a lease: its holder renews it while it runs ([`LEASE`]), so a holder that is gone
//! (killed, its machine lost) is told from one that runs, by its process on this machine and by
//! its lease elsewhere; a lock whose holder is gone is taken over, and an operation recorded as
//! running with no live holder reads as interrupted.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    JournalEntry, OperationRecord, OperationStatus, RecordedRun, RecordedState, StateDocument,
};
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
        holder: Box<LockInfo>,
    },
}

impl StoreError {
    pub fn hint(&self) -> String {
        match self {
            StoreError::Locked { holder, .. } => format!(
                "wait for that command to finish; a holder that is gone loses the lock when its lease ends{}",
                holder
                    .expires
                    .map(|at| format!(" ({})", at.format("%Y-%m-%d %H:%M:%S UTC")))
                    .unwrap_or_default()
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

/// How long a lock holds without being renewed: a holder on another machine that has not
/// renewed it for this long is gone.
pub const LEASE: Duration = Duration::from_secs(60);

/// How often a running holder renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(15);

/// How long a lock file may stay unreadable (created, not written yet) before it counts as left
/// by a holder killed in between.
const UNREADABLE_GRACE: Duration = Duration::from_secs(5);

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub pid: u32,
    pub host: String,
    pub since: DateTime<Utc>,
    pub command: String,
    /// When the lease ends unless renewed (absent in locks of older versions: held until their
    /// process is seen gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
    /// When the holder's process started (clock ticks after boot), so that another process
    /// that reuses its pid is not taken for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_start: Option<u64>,
}

impl LockInfo {
    /// This process, holding a fresh lease.
    fn ours(command: &str) -> LockInfo {
        let now = Utc::now();
        let pid = std::process::id();
        LockInfo {
            pid,
            host: hostname(),
            since: now,
            command: command.to_string(),
            expires: Some(now + LEASE),
            process_start: process_start(pid),
        }
    }

    /// Whether the holder still runs: on this machine, its process; elsewhere, its lease.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        if self.host == hostname() {
            process_alive(self.pid)
                && (self.process_start.is_none() || self.process_start == process_start(self.pid))
        } else {
            self.expires.is_none_or(|expires| expires > now)
        }
    }

    fn same_holder(&self, other: &LockInfo) -> bool {
        (self.pid, &self.host, self.since) == (other.pid, &other.host, other.since)
    }
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

/// A held lock, renewed in the background while the async runtime runs; released when
/// dropped.
#[derive(Debug)]
pub struct LockGuard {
    path: PathBuf,
    info: LockInfo,
    renewal: Option<tokio::task::AbortHandle>,
}

impl LockGuard {
    fn new(path: PathBuf, info: LockInfo) -> LockGuard {
        let renewal = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            let (path, info) = (path.clone(), info.clone());
            runtime
                .spawn(async move {
                    loop {
                        tokio::time::sleep(RENEW_EVERY).await;
                        if !renew(&path, &info) {
                            break;
                        }
                    }
                })
                .abort_handle()
        });
        LockGuard {
            path,
            info,
            renewal,
        }
    }
}

/// Extends the lease of the lock at `path`, if `info`'s holder still has it.
fn renew(path: &Path, info: &LockInfo) -> bool {
    match read_lock(path) {
        Some(current) if current.same_holder(info) => {
            let renewed = LockInfo {
                expires: Some(Utc::now() + LEASE),
                ..current
            };
            match write_atomically(path, &renewed) {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(%error, "cannot renew the lock's lease");
                    true
                }
            }
        }
        _ => false,
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
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

/// When process `pid` started, in clock ticks after boot (`/proc/<pid>/stat`, field 22).
fn process_start(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from the parenthesis that closes it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
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

    /// Every site's document of `spec`'s group, as stored (`None` where a site has none), and
    /// the run of its last operation when that failover or failback did not finish (what a
    /// failover that takes it over plans from).
    pub fn read_state(&self, spec: &crate::spec::Spec) -> Result<RecordedState, StoreError> {
        let mut sites = std::collections::BTreeMap::new();
        for site in spec.sites.keys() {
            sites.insert(site.clone(), self.load(site, &spec.name)?);
        }
        let mut state = RecordedState {
            sites,
            ..RecordedState::default()
        };
        // The last failover or failback: a rollback of it recorded after it (one that undid
        // itself when it could not finish) leaves it to be continued.
        let unfinished = state
            .newest()
            .and_then(|doc| {
                doc.operations
                    .iter()
                    .rev()
                    .find(|op| matches!(op.kind.as_str(), "failover" | "failback"))
            })
            .filter(|op| {
                matches!(
                    op.status,
                    OperationStatus::Pending | OperationStatus::Running | OperationStatus::Failed
                ) && op.superseded_by.is_none()
            })
            .map(|op| op.id.clone());
        if let Some(operation) = unfinished
            && let Some(run) = self.read_run(spec, &operation)?
        {
            state.runs.insert(operation, run);
        }
        Ok(state)
    }

    /// Operation `operation` of `spec`'s group: its plan and how far its journal got.
    pub fn read_run(
        &self,
        spec: &crate::spec::Spec,
        operation: &str,
    ) -> Result<Option<RecordedRun>, StoreError> {
        for site in spec.sites.keys() {
            if let Some(plan) = self.load_plan(site, &spec.name, operation)? {
                let journal = self.read_journal(
                    &plan.operation.target_site,
                    &plan.protection_group,
                    operation,
                )?;
                return Ok(Some(RecordedRun {
                    progress: super::journal::replay(&journal),
                    plan,
                }));
            }
        }
        Ok(None)
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

    fn lock_path(&self, site: &str, group: &str) -> PathBuf {
        self.root.join(site).join(format!("{group}.lock"))
    }

    /// Takes the group's lock on `site` for `command`. A lock whose holder is gone (see
    /// [`LockInfo::is_live`]), or left unreadable by a holder killed as it wrote it, is taken
    /// over.
    pub fn lock(&self, site: &str, group: &str, command: &str) -> Result<LockGuard, StoreError> {
        let path = self.lock_path(site, group);
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder).map_err(io("create", folder))?;
        }
        let info = LockInfo::ours(command);
        for _ in 0..2 {
            match create_whole(&path, &info) {
                Ok(()) => return Ok(LockGuard::new(path, info)),
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

    /// Who holds the group's lock on `site` and still runs; `None` when nobody does (no lock,
    /// or one whose holder is gone).
    pub fn holder(&self, site: &str, group: &str) -> Result<Option<LockInfo>, StoreError> {
        self.holder_at(&self.lock_path(site, group))
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
            ..LockInfo::ours("protector apply")
        };
        fs::write(
            dir.path().join("site-a/pg.lock"),
            serde_json::to_vec(&stale).unwrap(),
        )
        .unwrap();
        assert_eq!(store.holder("site-a", "pg").unwrap(), None);
        assert!(
            store
                .lock("site-a", "pg", "protector apply --resume")
                .is_ok()
        );
    }

    #[test]
    fn a_lock_held_elsewhere_holds_until_its_lease_ends() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        fs::create_dir_all(dir.path().join("site-a")).unwrap();
        let elsewhere = |expires| LockInfo {
            host: "runner-7".to_string(),
            expires: Some(expires),
            ..LockInfo::ours("protector apply")
        };
        let write = |info: &LockInfo| {
            fs::write(
                dir.path().join("site-a/pg.lock"),
                serde_json::to_vec(info).unwrap(),
            )
            .unwrap()
        };
        write(&elsewhere(Utc::now() + LEASE));
        match store.lock("site-a", "pg", "protector plan") {
            Err(error @ StoreError::Locked { .. }) => {
                assert!(error.to_string().contains("on runner-7"), "{error}");
                assert!(
                    error.hint().contains("when its lease ends"),
                    "{}",
                    error.hint()
                );
            }
            other => panic!("{other:?}"),
        }
        write(&elsewhere(Utc::now() - chrono::Duration::seconds(1)));
        assert_eq!(store.holder("site-a", "pg").unwrap(), None);
        assert!(store.lock("site-a", "pg", "protector plan").is_ok());
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

    #[tokio::test(start_paused = true)]
    async fn a_running_holder_renews_its_lease() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let guard = store.lock("site-a", "pg", "protector apply").unwrap();
        let first = read_lock(&dir.path().join("site-a/pg.lock")).unwrap();
        tokio::time::sleep(RENEW_EVERY * 2 + Duration::from_millis(10)).await;
        // The renewal runs on the blocking file system: give it its turn.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let renewed = read_lock(&dir.path().join("site-a/pg.lock")).unwrap();
        assert!(renewed.same_holder(&first));
        assert!(renewed.expires > first.expires, "{renewed:?} vs {first:?}");
        drop(guard);
        assert!(!dir.path().join("site-a/pg.lock").exists());
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
