//! The state backend interface: where the recorded state is kept, whatever keeps it.
//!
//! A store holds, per site and protection group: the state document, the group's lock, and per
//! operation its journal and the copy of the plan it runs. Commands reach it only through
//! [`StateStore`], opened from the spec's `state:` ([`open`]) or from a folder named on the
//! command line or remembered by the index ([`open_folder`]); which backend keeps it
//! (`local`: files under `state.path`, [`super::local`]) is said there and nowhere else.
//!
//! What every backend must guarantee (the conformance suite, `state::conformance`, checks each
//! one the same way):
//! - **Names checked.** Every site, group and operation name is refused ([`StoreError::Name`])
//!   before anything is read or written unless [`check_name`] accepts it: names come from plan
//!   files and command lines, and nothing outside the store is reached whatever they say.
//! - **Atomic document replace.** [`StateStore::save`] leaves either the old document or the new
//!   one, never half of one, whenever the process is killed; so does [`StateStore::save_plan`].
//! - **Journals lose at most the line in flight.** [`StateStore::append_journal`] returns once
//!   the entry is durable: a step recorded as started is kept before the step acts. A kill -9
//!   during an append loses that entry only; the entries before it read as they were.
//! - **Locks are exclusive leases.** [`StateStore::lock`] gives the group's lock on a site to
//!   one holder at a time across processes and machines; the holder renews its lease while it
//!   runs ([`LockGuard`]), and a lock whose holder is gone (its lease ended, or its process on
//!   this machine is not running) is taken over. Releasing never removes another holder's lock.
//! - **What is read is what it is kept as.** A document says the site and group it is kept
//!   under, a plan copy the operation, group and target site: anything else is refused
//!   ([`StoreError::Corrupt`], [`StoreError::Plan`]) rather than acted on.
//!
//! What is the same for every backend is written once here, on top of what each implements:
//! reading a group's state for planning ([`StateStore::read_state`]), an operation's run, plan
//! and record, the checks of what a document or plan copy says, and the lock's holder and
//! lease ([`LockInfo`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    JournalEntry, OperationRecord, OperationStatus, RecordedRun, RecordedState, StateDocument,
};
use crate::plan::Plan;
use crate::spec::{Spec, StateBackend, StateConfig};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing what the store keeps failed; `path` is where it is kept (the local
    /// backend: the file).
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
    /// A document that names a site the spec does not have (see [`StateStore::read_state`]).
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

/// The store the spec's `state:` names.
pub fn open(config: &StateConfig) -> Box<dyn StateStore> {
    match config.backend {
        StateBackend::Local => Box::new(super::local::LocalStore::new(&config.path)),
    }
}

/// The store in state folder `folder`: one given with `--state DIR` (or `PROTECTOR_STATE`), or
/// one the index remembers ([`super::index`]).
pub fn open_folder(folder: &Path) -> Box<dyn StateStore> {
    open(&StateConfig {
        backend: StateBackend::Local,
        path: folder.to_path_buf(),
    })
}

/// Where the recorded state is kept. What each backend implements is the first group of
/// methods; the rest are the same for every backend, written here once on top of them.
///
/// Methods block until done, as file I/O does: apply calls them between awaits on a
/// current-thread runtime, from the executor's synchronous journaling callback, and a lock's
/// renewal from a task on that runtime. A backend that talks to a network must therefore not
/// need the caller's runtime to make progress (it runs its requests on a thread of its own).
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// Where the document of `group` on `site` is kept, as errors name it.
    fn document_location(&self, site: &str, group: &str) -> Result<PathBuf, StoreError>;

    /// The document of `group` on `site`, or `None` for a group never applied there. It must
    /// say it is the document it is kept as (`check_kept_document`): saved again, it goes
    /// where it says.
    fn load(&self, site: &str, group: &str) -> Result<Option<StateDocument>, StoreError>;

    /// Replaces the document of its site and group atomically: a crash leaves the old one or
    /// the new one.
    fn save(&self, document: &StateDocument) -> Result<(), StoreError>;

    /// Takes the lock of `group` on `site` for `holder`. A lock whose holder is gone (see
    /// [`LockInfo::is_live`]), or left unreadable by a holder killed as it wrote it, is taken
    /// over; one held by a live holder is refused with [`StoreError::Locked`] naming it.
    fn lock_for(&self, site: &str, group: &str, holder: LockInfo) -> Result<LockGuard, StoreError>;

    /// Who holds the lock of `group` on `site` and still runs; `None` when nobody does (no
    /// lock, or one whose holder is gone).
    fn holder(&self, site: &str, group: &str) -> Result<Option<LockInfo>, StoreError>;

    /// Appends one entry to the journal of `operation`, durably before returning.
    fn append_journal(
        &self,
        site: &str,
        group: &str,
        operation: &str,
        entry: &JournalEntry,
    ) -> Result<(), StoreError>;

    /// The journal of `operation` as kept (empty before its first entry), and its entries in
    /// order; a last line a crash cut short is not an entry (`parse_journal`).
    fn read_journal_copy(
        &self,
        site: &str,
        group: &str,
        operation: &str,
    ) -> Result<KeptJournal, StoreError>;

    /// Keeps the plan an operation runs, under its target `site`, group and operation, next to
    /// its journal: what `apply --resume` and `rollback` work from. Replaced atomically.
    fn save_plan(&self, site: &str, plan: &Plan) -> Result<(), StoreError>;

    /// The plan kept for `operation` under `site` and `group`, as kept and checked
    /// (`check_plan_copy`); `None` when none is kept there.
    fn read_plan_copy(
        &self,
        site: &str,
        group: &str,
        operation: &str,
    ) -> Result<Option<KeptPlan>, StoreError>;

    /// The site and group under which the plan of `operation` is kept, whichever they are.
    fn find_operation(&self, operation: &str) -> Result<Option<(String, String)>, StoreError>;

    /// Takes the lock of `group` on `site` for this process, running `command`.
    fn lock(&self, site: &str, group: &str, command: &str) -> Result<LockGuard, StoreError> {
        self.lock_for(site, group, LockInfo::ours(command))
    }

    /// The journal's entries in order.
    fn read_journal(
        &self,
        site: &str,
        group: &str,
        operation: &str,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(self.read_journal_copy(site, group, operation)?.entries)
    }

    /// The plan kept for `operation` under `site` and `group`.
    fn load_plan(
        &self,
        site: &str,
        group: &str,
        operation: &str,
    ) -> Result<Option<Plan>, StoreError> {
        Ok(self
            .read_plan_copy(site, group, operation)?
            .map(|copy| copy.plan))
    }

    /// The plan kept for `operation`, on whichever site and group of this store holds it.
    fn find_plan(&self, operation: &str) -> Result<Option<Plan>, StoreError> {
        Ok(find_plan_copy(self, operation)?.map(|copy| copy.plan))
    }

    /// Operation `operation` as this store holds it, each of its parts read once (so its plan,
    /// journal and record agree even while another process appends to the journal); `None`
    /// when no plan of it is kept here.
    fn read_operation(&self, operation: &str) -> Result<Option<StoredOperation>, StoreError> {
        let Some(KeptPlan {
            bytes: plan_file,
            plan,
        }) = find_plan_copy(self, operation)?
        else {
            return Ok(None);
        };
        let (site, group) = (&plan.operation.target_site, &plan.protection_group);
        let journal = self.read_journal_copy(site, group, &plan.operation.id)?;
        let record = find_record(self, &plan)?;
        Ok(Some(StoredOperation {
            plan_file,
            plan,
            journal_file: journal.bytes,
            journal: journal.entries,
            record,
        }))
    }

    /// Operation `operation` of `spec`'s group: its plan and how far its journal got.
    fn read_run(&self, spec: &Spec, operation: &str) -> Result<Option<RecordedRun>, StoreError> {
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

    /// Every site's document of `spec`'s group, as stored (`None` where a site has none), and
    /// the run of its last operation when that failover or failback did not finish (what a
    /// failover that takes it over plans from). A document protector could not have written
    /// for the spec is refused (`check_document`).
    fn read_state(&self, spec: &Spec) -> Result<RecordedState, StoreError> {
        let mut sites = std::collections::BTreeMap::new();
        for site in spec.sites.keys() {
            let document = self.load(site, &spec.name)?;
            if let Some(document) = &document {
                check_document(spec, document, || {
                    self.document_location(&document.site, &document.protection_group)
                })?;
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
}

/// A journal as a store keeps it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeptJournal {
    /// As kept, byte for byte (what an evidence bundle holds).
    pub bytes: Vec<u8>,
    pub entries: Vec<JournalEntry>,
}

/// A plan copy as a store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptPlan {
    /// As apply wrote it, byte for byte.
    pub bytes: Vec<u8>,
    pub plan: Plan,
}

/// An operation as the store holds it: its plan copy and journal as they are kept and as
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

/// The plan copy of `operation`, on whichever site and group of `store` holds it.
fn find_plan_copy<S: StateStore + ?Sized>(
    store: &S,
    operation: &str,
) -> Result<Option<KeptPlan>, StoreError> {
    match store.find_operation(operation)? {
        Some((site, group)) => store.read_plan_copy(&site, &group, operation),
        None => Ok(None),
    }
}

/// The record of `plan`'s operation in the newest document of its sites that has one.
fn find_record<S: StateStore + ?Sized>(
    store: &S,
    plan: &Plan,
) -> Result<Option<OperationRecord>, StoreError> {
    let mut newest: Option<(u64, OperationRecord)> = None;
    for site in [&plan.operation.source_site, &plan.operation.target_site] {
        if let Some(doc) = store.load(site, &plan.protection_group)?
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

/// That `document` is one protector could have written for `spec`'s group, in what planning
/// goes by: every site it names is one of the spec's (where the workload runs, where cleanup is
/// owed, where an operation ran); each operation ran between two of them under an id of
/// protector's shape; member names are names (they become step ids); what a drill left is
/// recorded by the step that created it. A site the spec lost (renamed) or an edited document
/// is refused here, saying where (`location`), rather than planned for.
fn check_document(
    spec: &Spec,
    document: &StateDocument,
    location: impl Fn() -> Result<PathBuf, StoreError>,
) -> Result<(), StoreError> {
    let corrupt = |message: String| -> Result<(), StoreError> {
        Err(StoreError::Corrupt {
            path: location()?,
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
            path: location()?,
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

/// `name`, when it can name a site, group or operation of a store (`what` says which).
pub(crate) fn component<'a>(what: &'static str, name: &'a str) -> Result<&'a str, StoreError> {
    check_name(name).map_err(|why| StoreError::Name {
        what,
        name: name.escape_debug().to_string(),
        why,
    })?;
    Ok(name)
}

/// A document kept at `path` as that of `group` on `site`, from its bytes: it must read, and
/// say it is the document it is kept as.
pub(crate) fn check_kept_document(
    path: &Path,
    bytes: &[u8],
    site: &str,
    group: &str,
) -> Result<StateDocument, StoreError> {
    let document: StateDocument = parse_json(path, bytes)?;
    if (document.site.as_str(), document.protection_group.as_str()) != (site, group) {
        return Err(StoreError::Corrupt {
            message: format!(
                "it is kept as the document of `{group}` on {site}, but says it is that of `{}` on {}",
                document.protection_group.escape_debug(),
                document.site.escape_debug()
            ),
            path: path.to_path_buf(),
        });
    }
    Ok(document)
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt {
        path: path.to_path_buf(),
        message: error.to_string(),
    })
}

/// A value as a store writes it: pretty JSON and a newline.
pub(crate) fn to_json<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>, StoreError> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|error| StoreError::Corrupt {
        path: path.to_path_buf(),
        message: error.to_string(),
    })?;
    text.push(b'\n');
    Ok(text)
}

/// The plan copy kept at `path` for `operation` under `site` and `group`, from its bytes:
/// checked ([`crate::plan::file::read`]), and for being the plan it is kept as: its operation,
/// group and target site (where apply keeps it) are the ones it is kept under.
pub(crate) fn check_plan_copy(
    path: &Path,
    bytes: Vec<u8>,
    site: &str,
    group: &str,
    operation: &str,
) -> Result<KeptPlan, StoreError> {
    let invalid = |problem: String| StoreError::Plan {
        path: path.to_path_buf(),
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
    Ok(KeptPlan { bytes, plan })
}

/// A journal's entries in order. What follows its last newline is a line a crash cut short
/// (apply writes a line and its newline at once and acts only once they are kept): it is
/// ignored, its step was not recorded and is redone, and the next append drops it. A whole line
/// that does not read is damage, wherever it is: ignored as the last line, the next append
/// would bury it and leave the journal unreadable.
pub(crate) fn parse_journal(path: &Path, bytes: &[u8]) -> Result<Vec<JournalEntry>, StoreError> {
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

/// How long a lock holds without being renewed: a holder on another machine that has not
/// renewed it for this long is gone.
pub const LEASE: Duration = Duration::from_secs(60);

/// How often a running holder renews its lease.
pub(crate) const RENEW_EVERY: Duration = Duration::from_secs(15);

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
    pub fn ours(command: &str) -> LockInfo {
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

    /// The same holder, whatever its lease says now.
    pub fn same_holder(&self, other: &LockInfo) -> bool {
        (self.pid, &self.host, self.since) == (other.pid, &other.host, other.since)
    }

    /// The same holder with its lease extended from now.
    pub fn renewed(&self) -> LockInfo {
        LockInfo {
            expires: Some(Utc::now() + LEASE),
            ..self.clone()
        }
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

/// This machine's name, as locks name their holder's.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
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
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from the parenthesis that closes it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// A lock as its backend holds it for one holder.
pub trait Lease: Send + Sync + std::fmt::Debug {
    /// Extends the lease, if its holder still has the lock; `false` once it does not (taken
    /// over after the holder stalled past its lease), so renewing stops. A failure to write is
    /// not a loss: renewing goes on.
    fn renew(&self) -> bool;
    /// Gives the lock up, if its holder still has it (never another holder's).
    fn release(&self);
}

/// A held lock, renewed in the background every `RENEW_EVERY` while the async runtime it was
/// taken on runs; released when dropped.
#[derive(Debug)]
pub struct LockGuard {
    lease: Arc<dyn Lease>,
    renewal: Option<tokio::task::AbortHandle>,
}

impl LockGuard {
    pub fn new(lease: Arc<dyn Lease>) -> LockGuard {
        let renewal = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            let lease = lease.clone();
            runtime
                .spawn(async move {
                    loop {
                        tokio::time::sleep(RENEW_EVERY).await;
                        if !lease.renew() {
                            break;
                        }
                    }
                })
                .abort_handle()
        });
        LockGuard { lease, renewal }
    }

    /// Leaves the lock as a holder killed now would: neither renewed nor released.
    #[cfg(test)]
    pub fn abandon(mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        std::mem::forget(self);
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        self.lease.release();
    }
}
