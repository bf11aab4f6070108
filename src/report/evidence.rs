//! Evidence bundles: an operation's plan (as recorded), its journal and its report, sealed by a
//! manifest, so that any later change to any of them, or to the manifest, is found.
//!
//! A bundle is a folder of exactly four files:
//!
//! ```text
//! plan.json       the plan file apply kept for the operation, byte for byte
//! journal.jsonl   the operation's journal, byte for byte: one entry a line
//! report.md       the report, as Markdown
//! manifest.json   the SHA-256 of each file, the hash chain, its head, and the manifest's seal
//! ```
//!
//! The hash chain ([`CHAIN_RULE`], which every manifest carries too). Links are SHA-256 digests
//! written as 64 lowercase hex digits. Link 1 = SHA-256(the bytes of `plan.json`); link n =
//! SHA-256(link n-1 as its 64 ASCII hex digits, followed by the bytes of item n), where the
//! items after the plan are the lines of `journal.jsonl` in order, each with its terminating
//! newline (a last line without one as it is), then the bytes of `report.md`. The head is the
//! last link: one value that stands for the whole bundle, worth recording elsewhere (a change
//! ticket) as its anchor.
//!
//! The seal ([`SEAL_RULE`]): the SHA-256 of `manifest.json` as written, with the seal's own 64
//! digits replaced by 64 `0`s.
//!
//! [`verify`] recomputes all of it and names the first thing that does not match. The manifest
//! comes first: it must parse, be written exactly as protector writes it, and match its seal, so
//! a change to the manifest is blamed on the manifest, not on a file it describes. Then the
//! chain, in order (a journal entry is named by its line), each file's digest, the head, and
//! last any file that is not part of a bundle.
//!
//! Without a signature, whoever can rewrite the whole bundle can also recompute its hashes: the
//! bundle shows accidental and partial changes by itself, and deliberate ones against a head
//! recorded elsewhere.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::sha256_hex;
use crate::state::JournalEntry;

pub const PLAN: &str = "plan.json";
pub const JOURNAL: &str = "journal.jsonl";
pub const REPORT: &str = "report.md";
pub const MANIFEST: &str = "manifest.json";
/// The files the chain covers, in its order.
const CHAINED: [&str; 3] = [PLAN, JOURNAL, REPORT];

/// Version of the manifest's format.
pub const FORMAT: u32 = 1;

pub const CHAIN_RULE: &str = "Links are SHA-256 digests written as 64 lowercase hex digits. \
Link 1 = SHA-256(bytes of plan.json). Link n = SHA-256(link n-1 as its 64 ASCII hex digits \
followed by the bytes of item n), where the items after the plan are the lines of journal.jsonl \
in order, each with its terminating newline (a last line without one as it is), then the bytes \
of report.md. The head is the last link.";

pub const SEAL_RULE: &str = "seal = SHA-256 of manifest.json as written, with the seal's own \
64 hex digits replaced by 64 '0' characters.";

/// What `manifest.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// The operation (`op-...`).
    pub operation: String,
    pub chain_rule: String,
    pub seal_rule: String,
    /// Each file the chain covers, in its order.
    pub files: Vec<FileDigest>,
    pub chain: Vec<Link>,
    /// The last link.
    pub head: String,
    pub seal: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDigest {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// One link of the chain and the item it covers: a file, or a line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub file: String,
    /// The journal's line (from 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub sha256: String,
}

/// The first thing in a bundle that does not match: a file, or a line of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub file: String,
    pub line: Option<usize>,
    pub reason: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} line {line}: {}", self.file, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

impl Mismatch {
    fn file(file: &str, reason: impl Into<String>) -> Mismatch {
        Mismatch {
            file: file.to_string(),
            line: None,
            reason: reason.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not empty", .0.display())]
    NotEmpty(PathBuf),
    #[error("the evidence in {} does not verify: {mismatch}", dir.display())]
    Mismatch { dir: PathBuf, mismatch: Mismatch },
}

impl EvidenceError {
    pub fn hint(&self) -> String {
        match self {
            EvidenceError::Io { .. } => "check the folder's path and permissions".to_string(),
            EvidenceError::NotEmpty(_) => {
                "write each bundle to a new folder, so that it holds nothing but the evidence"
                    .to_string()
            }
            EvidenceError::Mismatch { .. } => {
                "the bundle changed after it was written: compare it \
                with a copy kept elsewhere, or write it again from the state with `protector \
                report OP --evidence DIR`"
                    .to_string()
            }
        }
    }
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> EvidenceError + 'a {
    move |source| EvidenceError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The items the chain covers, in its order: the plan, each line of the journal, the report.
fn items<'a>(files: &[&'a [u8]; 3]) -> Vec<(&'static str, Option<usize>, &'a [u8])> {
    let [plan, journal, report] = *files;
    std::iter::once((PLAN, None, plan))
        .chain(
            journal
                .split_inclusive(|byte| *byte == b'\n')
                .enumerate()
                .map(|(index, line)| (JOURNAL, Some(index + 1), line)),
        )
        .chain(std::iter::once((REPORT, None, report)))
        .collect()
}

/// The chain over `files` (the plan, the journal, the report), by [`CHAIN_RULE`].
fn chain(files: &[&[u8]; 3]) -> Vec<Link> {
    let mut previous = String::new();
    items(files)
        .into_iter()
        .map(|(file, line, content)| {
            previous = sha256_hex(&[previous.as_bytes(), content].concat());
            Link {
                file: file.to_string(),
                line,
                sha256: previous.clone(),
            }
        })
        .collect()
}

/// The manifest as written: pretty JSON and a newline.
fn manifest_bytes(manifest: &Manifest) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(manifest).expect("a manifest serializes");
    bytes.push(b'\n');
    bytes
}

/// `manifest`'s seal, by [`SEAL_RULE`].
fn seal(manifest: &Manifest) -> String {
    sha256_hex(&manifest_bytes(&Manifest {
        seal: "0".repeat(64),
        ..manifest.clone()
    }))
}

/// The files of a bundle of operation `operation`, by name.
fn bundle(
    operation: &str,
    plan: &[u8],
    journal: &[u8],
    report: &[u8],
) -> BTreeMap<String, Vec<u8>> {
    let contents = [plan, journal, report];
    let chain = chain(&contents);
    let mut manifest = Manifest {
        format: FORMAT,
        operation: operation.to_string(),
        chain_rule: CHAIN_RULE.to_string(),
        seal_rule: SEAL_RULE.to_string(),
        files: CHAINED
            .iter()
            .zip(contents)
            .map(|(name, bytes)| FileDigest {
                name: name.to_string(),
                bytes: bytes.len() as u64,
                sha256: sha256_hex(bytes),
            })
            .collect(),
        head: chain
            .last()
            .map(|link| link.sha256.clone())
            .unwrap_or_default(),
        chain,
        seal: String::new(),
    };
    manifest.seal = seal(&manifest);
    CHAINED
        .iter()
        .zip(contents)
        .map(|(name, bytes)| (name.to_string(), bytes.to_vec()))
        .chain(std::iter::once((
            MANIFEST.to_string(),
            manifest_bytes(&manifest),
        )))
        .collect()
}

/// Writes the bundle of operation `operation` into `dir`, which must be new or empty.
pub fn write(
    dir: &Path,
    operation: &str,
    plan: &[u8],
    journal: &[u8],
    report: &[u8],
) -> Result<Bundle, EvidenceError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(EvidenceError::NotEmpty(dir.to_path_buf()));
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        }
        Err(error) => return Err(io("read", dir)(error)),
    }
    let files = bundle(operation, plan, journal, report);
    for (name, bytes) in &files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(io("write", &path))?;
    }
    Ok(check(&files).expect("a bundle just made verifies"))
}

/// What a bundle holds, once written or verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub operation: String,
    pub head: String,
    /// Lines of its journal.
    pub entries: usize,
}

/// Verifies the bundle in `dir` (see the module's first lines).
pub fn verify(dir: &Path) -> Result<Bundle, EvidenceError> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(io("read", dir))? {
        let path = entry.map_err(io("read", dir))?.path();
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            return Err(EvidenceError::Mismatch {
                dir: dir.to_path_buf(),
                mismatch: Mismatch::file(&name, "is a folder; a bundle holds four files"),
            });
        }
        files.insert(name, std::fs::read(&path).map_err(io("read", &path))?);
    }
    check(&files).map_err(|mismatch| EvidenceError::Mismatch {
        dir: dir.to_path_buf(),
        mismatch,
    })
}

/// Verifies a bundle's files, by name.
fn check(files: &BTreeMap<String, Vec<u8>>) -> Result<Bundle, Mismatch> {
    let manifest = check_manifest(files)?;
    let file = |name: &str| {
        files
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| Mismatch::file(name, "is missing"))
    };
    let contents = [file(PLAN)?, file(JOURNAL)?, file(REPORT)?];
    let found = chain(&contents);
    let length = found.len().max(manifest.chain.len());
    for index in 0..length {
        let (found_link, recorded) = (found.get(index), manifest.chain.get(index));
        if found_link == recorded {
            continue;
        }
        let link = found_link
            .or(recorded)
            .expect("the index is within one of the chains");
        let said = |link: Option<&Link>| {
            link.map_or("nothing".to_string(), |link| {
                format!("link {}", link.sha256)
            })
        };
        let mut reason = format!(
            "does not match link {} of the chain: it gives {}, the manifest has {}",
            index + 1,
            said(found_link),
            said(recorded)
        );
        if link.line.is_some()
            && let Some((_, _, text)) = items(&contents).get(index)
            && let Ok(entry) = serde_json::from_slice::<JournalEntry>(text)
        {
            reason = format!("(step {}, {}) {reason}", entry.step, entry.event.as_str());
        }
        return Err(Mismatch {
            file: link.file.clone(),
            line: link.line,
            reason,
        });
    }
    for (digest, bytes) in manifest.files.iter().zip(contents) {
        let sha256 = sha256_hex(bytes);
        if sha256 != digest.sha256 || bytes.len() as u64 != digest.bytes {
            return Err(Mismatch::file(
                &digest.name,
                format!(
                    "its SHA-256 is {sha256} ({} bytes), the manifest has {} ({} bytes)",
                    bytes.len(),
                    digest.sha256,
                    digest.bytes
                ),
            ));
        }
    }
    let head = found.last().map(|link| link.sha256.as_str());
    if head != Some(manifest.head.as_str()) {
        return Err(Mismatch::file(
            MANIFEST,
            format!(
                "its head {} is not the chain's last link {}",
                manifest.head,
                head.unwrap_or("(none)")
            ),
        ));
    }
    if let Some(extra) = files
        .keys()
        .find(|name| !CHAINED.contains(&name.as_str()) && name.as_str() != MANIFEST)
    {
        return Err(Mismatch::file(
            extra,
            "is not part of the bundle (plan.json, journal.jsonl, report.md, manifest.json)",
        ));
    }
    Ok(Bundle {
        operation: manifest.operation,
        head: manifest.head,
        entries: found.iter().filter(|link| link.line.is_some()).count(),
    })
}

/// The manifest, once it is shown to be as protector wrote it.
fn check_manifest(files: &BTreeMap<String, Vec<u8>>) -> Result<Manifest, Mismatch> {
    let bytes = files
        .get(MANIFEST)
        .ok_or_else(|| Mismatch::file(MANIFEST, "is missing"))?;
    let manifest: Manifest = serde_json::from_slice(bytes)
        .map_err(|error| Mismatch::file(MANIFEST, format!("is not a manifest: {error}")))?;
    if manifest_bytes(&manifest) != *bytes {
        return Err(Mismatch::file(
            MANIFEST,
            "is not written as protector writes it: its bytes differ from the manifest they parse to",
        ));
    }
    let sealed = seal(&manifest);
    if sealed != manifest.seal {
        return Err(Mismatch::file(
            MANIFEST,
            format!(
                "does not match its seal: its content gives {sealed}, the seal says {}",
                manifest.seal
            ),
        ));
    }
    let names: Vec<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
    if manifest.format != FORMAT
        || manifest.chain_rule != CHAIN_RULE
        || manifest.seal_rule != SEAL_RULE
        || names != CHAINED
    {
        return Err(Mismatch::file(
            MANIFEST,
            format!("is not a bundle of format {FORMAT} as this protector writes it"),
        ));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOURNAL_TEXT: &str = "{\"at\":\"2026-03-01T10:00:00Z\",\"step\":\"a\",\"event\":\"started\"}\n\
{\"at\":\"2026-03-01T10:00:05Z\",\"step\":\"a\",\"event\":\"done\"}\n";

    fn sample() -> BTreeMap<String, Vec<u8>> {
        bundle(
            "op-1",
            b"{\"plan\": 1}\n",
            JOURNAL_TEXT.as_bytes(),
            b"# Report\n",
        )
    }

    #[test]
    fn the_chain_follows_its_documented_rule() {
        let files = sample();
        let manifest: Manifest = serde_json::from_slice(&files[MANIFEST]).unwrap();
        let plan = sha256_hex(b"{\"plan\": 1}\n");
        let lines: Vec<&str> = JOURNAL_TEXT.split_inclusive('\n').collect();
        let first = sha256_hex(format!("{plan}{}", lines[0]).as_bytes());
        let second = sha256_hex(format!("{first}{}", lines[1]).as_bytes());
        let report = sha256_hex(format!("{second}# Report\n").as_bytes());
        let links: Vec<(&str, Option<usize>, &str)> = manifest
            .chain
            .iter()
            .map(|l| (l.file.as_str(), l.line, l.sha256.as_str()))
            .collect();
        assert_eq!(
            links,
            [
                (PLAN, None, plan.as_str()),
                (JOURNAL, Some(1), first.as_str()),
                (JOURNAL, Some(2), second.as_str()),
                (REPORT, None, report.as_str()),
            ]
        );
        assert_eq!(manifest.head, report);
        assert_eq!(
            manifest.files[0].sha256, plan,
            "link 1 is the plan's digest"
        );
        // The seal: the file with its seal zeroed.
        let text = String::from_utf8(files[MANIFEST].clone()).unwrap();
        let zeroed = text.replace(&manifest.seal, &"0".repeat(64));
        assert_eq!(sha256_hex(zeroed.as_bytes()), manifest.seal);
        assert_eq!(
            check(&files),
            Ok(Bundle {
                operation: "op-1".to_string(),
                head: report,
                entries: 2
            })
        );
    }

    #[test]
    fn any_one_byte_change_in_any_file_is_found_and_blamed_on_that_file() {
        let files = sample();
        for (name, bytes) in &files {
            for position in 0..bytes.len() {
                for mask in [0x01, 0x20, 0x80] {
                    let mut changed = files.clone();
                    changed.get_mut(name).unwrap()[position] ^= mask;
                    let mismatch = check(&changed).expect_err("a change is found");
                    assert_eq!(
                        &mismatch.file, name,
                        "byte {position} ^ {mask:#04x}: {mismatch}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_changed_journal_entry_is_named_by_its_line_and_step() {
        let mut files = sample();
        let journal = String::from_utf8(files[JOURNAL].clone()).unwrap();
        files.insert(
            JOURNAL.to_string(),
            journal.replace("10:00:05", "10:00:06").into_bytes(),
        );
        let mismatch = check(&files).unwrap_err();
        assert_eq!((mismatch.file.as_str(), mismatch.line), (JOURNAL, Some(2)));
        assert!(
            mismatch
                .reason
                .starts_with("(step a, done) does not match link 3"),
            "{mismatch}"
        );
    }

    #[test]
    fn a_missing_an_extra_or_a_reordered_file_is_named() {
        let mut files = sample();
        files.remove(REPORT);
        assert_eq!(check(&files).unwrap_err().file, REPORT);

        let mut files = sample();
        files.insert("notes.txt".to_string(), b"hello".to_vec());
        assert_eq!(check(&files).unwrap_err().file, "notes.txt");

        // Two journal lines swapped: every digest of the manifest still describes some line.
        let mut files = sample();
        let lines: Vec<&str> = JOURNAL_TEXT.split_inclusive('\n').collect();
        files.insert(
            JOURNAL.to_string(),
            format!("{}{}", lines[1], lines[0]).into_bytes(),
        );
        let mismatch = check(&files).unwrap_err();
        assert_eq!((mismatch.file.as_str(), mismatch.line), (JOURNAL, Some(1)));
    }

    #[test]
    fn a_bundle_is_written_to_a_new_folder_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("evidence");
        let written = write(&target, "op-1", b"{}", JOURNAL_TEXT.as_bytes(), b"# R\n").unwrap();
        assert_eq!(written.entries, 2);
        assert_eq!(verify(&target).unwrap(), written);
        assert!(matches!(
            write(&target, "op-1", b"{}", b"", b""),
            Err(EvidenceError::NotEmpty(_))
        ));
        std::fs::create_dir(target.join("sub")).unwrap();
        assert!(matches!(
            verify(&target),
            Err(EvidenceError::Mismatch { mismatch: Mismatch { file, .. }, .. }) if file == "sub"
        ));
    }
}
