//! The local state backend: files under the spec's `state.path`.
//!
//! ```text
//! <path>/<site>/<group>.json          the state document, replaced atomically
//! <path>/<site>/<group>.lock          held while a command writes; says who holds it, until when
//! <path>/<site>/<group>/<op>.jsonl    an operation's journal, append-only
//! <path>/<site>/<group>/<op>.plan.json the plan the operation runs (for resume and rollback)
//! ```
//!
//! Every site, group and operation name is checked to be one plain path component before it
//! goes into a path ([`check_name`]): names come from plan files and command lines, and nothing
//! is read or written outside the state folder whatever they say. A plan copy is read through
//! [`crate::plan::file`] and must be the plan of the operation, group and site it is kept as;
//! a document must be that of the site and group it is kept as.
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
    /// A name that would reach outside its folder (see [`check_name`]).
    #[error("{what} `{name}` cannot name a file in the state folder: it {why}")]
    Name {
        what: &'static str,
        /// As written, escaped.
        name: String,
        why: &'static str,
    },
    /// The copy of a plan apply kept is not the plan it started with (see [`crate::plan::file`]).
    #[error("{} {problem}", path.display())]
    Plan { path: PathBuf, problem: String },
    /// A document that names a site the spec does not have (see [`LocalStore::read_state`]).
    #[error("{} names site `{site}` as {field}, which is not one of the spec's ({known})", path.display())]
    Site {
        path: PathBuf,
        /// As written, escaped.
        site: String,
        field: String,
        known: String,
    },
}

impl StoreError {
    /// Refused on purpose (a lock held, a name or plan copy that is not what it must be), not a
    /// failure to read or write.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            StoreError::Locked { .. } | StoreError::Name { .. } | StoreError::Plan { .. }
        )
    }

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
            StoreError::Name { .. } => {
                "operation ids are `op-<uuid>`, as `protector operation list FILE` shows them; sites and groups are the spec's".to_string()
            }
            StoreError::Plan { path, .. } => format!(
                "it is the copy of the plan its operation runs: restore {} from a backup, or from the plan file it was applied from",
                path.display()
            ),
            StoreError::Site { path, .. } => format!(
                "if a site was renamed in the spec, give it back the name the state records; otherwise restore {} from the peer site's copy or a backup",
                path.display()
            ),
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

/// Why `name` cannot name a site, group or operation in the store, if it cannot. Such a name
/// is one path component of letters, digits, `-`, `_` and `.` (not first), so that nothing read
/// or written through it lies outside the state folder, whatever a plan file or a command line
/// says. Spec names, and the operation ids protector makes, are all of this shape.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("is empty")
    } else if name.len() > 255 {
        Err("is longer than 255 bytes")
    } else if name.starts_with('.') {
        Err("starts with `.`")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        Err("has characters other than letters, digits, `-`, `_` and `.`")
    } else {
        Ok(())
    }
}

/// `name`, when it can name a file or folder of the store.
fn component<'a>(what: &'static str, name: &'a str) -> Result<&'a str, StoreError> {
    check_name(name).map_err(|why| StoreError::Name {
        what,
        name: name.escape_debug().to_string(),
        why,
    })?;
    Ok(name)
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

/// A journal's entries in order. What follows its last newline is a line a crash cut short
/// (apply writes a line and its newline at once and acts only once they are on disk): it is
/// ignored, its step was not recorded and is redone, and the next append cuts it
/// ([`cut_torn_tail`]). A whole line that does not read is damage, wherever it is: ignored as
/// the last line, the next append would bury it and leave the journal unreadable.
fn parse_journal(path: &Path, bytes: &[u8]) -> Result<Vec<JournalEntry>, StoreError> {
    let whole = bytes
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |end| end + 1);
    let mut entries = Vec::new();
    for (index, line) in bytes[..whole]
        .split_inclusive(|byte| *byte == b'\n')
        .enumerate()
    {
        let line = &line[..line.len() - 1];
        let entry = serde_json::from_slice(line).map_err(|error| StoreError::Corrupt {
            path: path.to_path_buf(),
            message: format!("line {}: {error}", index + 1),
        })?;
        entries.push(entry);
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

    /// Every site's document of `spec`'s group, as stored (`None` where a site has none), and
    /// the run of its last operation when that failover or failback did not finish (what a
    /// failover that takes it over plans from).
    pub fn read_state(&self, spec: &crate::spec::Spec) -> Result<RecordedState, StoreError> {
        let mut sites = std::collections::BTreeMap::new();
        for site in spec.sites.keys() {
            let document = self.load(site, &spec.name)?;
            if let Some(document) = &document {
                self.check_document(spec, document)?;
            }
            sites.insert(site.clone(), document);
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

    /// That `document` is one protector could have written for `spec`'s group, in what
    /// planning goes by: every site it names is one of the spec's (where the workload runs,
    /// where cleanup is owed, where an operation ran); each operation ran between two of them
    /// under an id of protector's shape; member names are names (they become step ids); what a
    /// drill left is recorded by the step that created it. A site the spec lost (renamed) or an
    /// edited document is refused here, saying where, rather than planned for.
    fn check_document(
        &self,
        spec: &crate::spec::Spec,
        document: &StateDocument,
    ) -> Result<(), StoreError> {
        let path = || self.document_path(&document.site, &document.protection_group);
        let corrupt = |message: String| -> Result<(), StoreError> {
            Err(StoreError::Corrupt {
                path: path()?,
                message,
            })
        };
        let mut named: Vec<(String, &str)> = vec![
            ("`primary_site`".to_string(), &document.primary_site),
            ("`secondary_site`".to_string(), &document.secondary_site),
            (
                "`current_primary_site`".to_string(),
                &document.current_primary_site,
            ),
        ];
        named.extend(
            document
                .sync
                .keys()
                .map(|peer| ("a peer in `sync`".to_string(), peer.as_str())),
        );
        let mut members: Vec<&str> = Vec::new();
        for (member, record) in &document.members {
            members.push(member);
            named.push((format!("the site of member {member}"), &record.site));
        }
        for pending in &document.pending_cleanup {
            members.push(&pending.member);
            named.push((
                format!("the site of a cleanup owed by {}", pending.operation),
                &pending.site,
            ));
        }
        for operation in &document.operations {
            if !crate::plan::file::is_operation_id(&operation.id) {
                return corrupt(format!(
                    "operation `{}` is not of the form op-<uuid> protector gives operations",
                    operation.id.escape_debug()
                ));
            }
            if operation.source_site == operation.target_site {
                return corrupt(format!(
                    "operation {} is recorded as moving from {} to the same site",
                    operation.id,
                    operation.source_site.escape_debug()
                ));
            }
            for site in [&operation.source_site, &operation.target_site] {
                named.push((format!("a site of operation {}", operation.id), site));
            }
            let mut recorded = std::collections::BTreeSet::new();
            for resource in &operation.left_on_target {
                members.extend(resource.member.as_deref());
                if !crate::plan::file::is_creating_step(resource.kind, &resource.step)
                    || !recorded.insert((resource.kind, &resource.step))
                {
                    return corrupt(format!(
                        "operation {} records a {} left by step `{}`, which is not a step creating one, or records it twice",
                        operation.id,
                        resource.kind.as_str(),
                        resource.step.escape_debug()
                    ));
                }
            }
        }
        if let Some((field, site)) = named
            .into_iter()
            .find(|(_, site)| !spec.sites.contains_key(*site))
        {
            return Err(StoreError::Site {
                path: path()?,
                site: site.escape_debug().to_string(),
                field: field.escape_debug().to_string(),
                known: spec.sites.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        let is_name = |name: &str| {
            !name.trim().is_empty()
                && name.chars().count() <= crate::spec::file::OPENSTACK_NAME_MAX
                && !name.chars().any(char::is_control)
        };
        match members.into_iter().find(|member| !is_name(member)) {
            Some(member) => corrupt(format!(
                "member `{}` is not an instance name (empty, over {} characters, or with control characters)",
                member.escape_debug(),
                crate::spec::file::OPENSTACK_NAME_MAX
            )),
            None => Ok(()),
        }
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

    /// The document, or `None` for a group never applied on this site. It must say it is the
    /// document it is kept as: saved again, it goes where it says.
    pub fn load(&self, site: &str, group: &str) -> Result<Option<StateDocument>, StoreError> {
        let path = self.document_path(site, group)?;
        let document: Option<StateDocument> = read_json(&path)?;
        match document {
            Some(document)
                if (document.site.as_str(), document.protection_group.as_str())
                    != (site, group) =>
            {
                Err(StoreError::Corrupt {
                    message: format!(
                        "it is kept as the document of `{group}` on {site}, but says it is that of `{}` on {}",
                        document.protection_group.escape_debug(),
                        document.site.escape_debug()
                    ),
                    path,
                })
            }
            document => Ok(document),
        }
    }

    /// Replaces the document atomically.
    pub fn save(&self, document: &StateDocument) -> Result<(), StoreError> {
        write_atomically(
            &self.document_path(&document.site, &document.protection_group)?,
            document,
        )
    }

    /// Keeps the plan an operation runs, next to its journal: what `apply --resume` and
    /// `rollback` work from.
    pub fn save_plan(&self, site: &str, plan: &Plan) -> Result<(), StoreError> {
        write_atomically(
            &self.plan_path(site, &plan.protection_group, &plan.operation.id)?,
            plan,
        )
    }

    pub fn load_plan(
        &self,
        site: &str,
        group: &str,
        operation: &str,
    ) -> Result<Option<Plan>, StoreError> {
        Ok(self
            .read_plan_copy(site, group, operation)?
            .map(|(_, plan)| plan))
    }

    /// The plan kept for `operation` under `site` and `group`, as bytes and checked
    /// ([`crate::plan::file::read`]), and for being the plan it is kept as: its operation,
    /// group and target site (where apply keeps it) are the ones its path names.
    fn read_plan_copy(
        &self,
        site: &str,
        group: &str,
        operation: &str,
    ) -> Result<Option<(Vec<u8>, Plan)>, StoreError> {
        let path = self.plan_path(site, group, operation)?;
        let Some(bytes) = read_bytes(&path)? else {
            return Ok(None);
        };
        let invalid = |problem: String| StoreError::Plan {
            path: path.clone(),
            problem,
        };
        let plan = crate::plan::file::read(&bytes).map_err(|error| invalid(error.to_string()))?;
        let says = (
            plan.operation.id.as_str(),
            plan.protection_group.as_str(),
            plan.operation.target_site.as_str(),
        );
        if says != (operation, group, site) {
            return Err(invalid(format!(
                "is kept as the plan of {operation} of `{group}` on {site}, but is that of {} of `{}` on {}",
                says.0, says.1, says.2
            )));
        }
        Ok(Some((bytes, plan)))
    }

    /// The site and group under which the plan of `operation` is kept, whichever they are.
    fn find_plan_place(&self, operation: &str) -> Result<Option<(String, String)>, StoreError> {
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

    /// The plan copy of `operation`, on whichever site and group of this store holds it.
    fn find_plan_copy(&self, operation: &str) -> Result<Option<(Vec<u8>, Plan)>, StoreError> {
        match self.find_plan_place(operation)? {
            Some((site, group)) => self.read_plan_copy(&site, &group, operation),
            None => Ok(None),
        }
    }

    /// The plan kept for `operation`, on whichever site and group of this store holds it.
    pub fn find_plan(&self, operation: &str) -> Result<Option<Plan>, StoreError> {
        Ok(self.find_plan_copy(operation)?.map(|(_, plan)| plan))
    }

    /// Operation `operation` as this store holds it, each file read once (so its plan, journal
    /// and record agree even while another process appends to the journal); `None` when no
    /// plan of it is kept here.
    pub fn read_operation(&self, operation: &str) -> Result<Option<StoredOperation>, StoreError> {
        let Some((plan_file, plan)) = self.find_plan_copy(operation)? else {
            return Ok(None);
        };
        let (site, group) = (&plan.operation.target_site, &plan.protection_group);
        let journal_path = self.journal_path(site, group, &plan.operation.id)?;
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

    /// Takes the group's lock on `site` for `command`. A lock whose holder is gone (see
    /// [`LockInfo::is_live`]), or left unreadable by a holder killed as it wrote it, is taken
    /// over.
    pub fn lock(&self, site: &str, group: &str, command: &str) -> Result<LockGuard, StoreError> {
        let path = self.lock_path(site, group)?;
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
        self.holder_at(&self.lock_path(site, group)?)
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

    /// The journal's entries in order; a torn last line is ignored (a crash mid-write).
    pub fn read_journal(
        &self,
        site: &str,
        group: &str,
        operation: &str,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let path = self.journal_path(site, group, operation)?;
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
