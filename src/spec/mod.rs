//! The protection-group spec: the operator's YAML, checked and turned into [`Spec`].
//!
//! `file` is the YAML's shape (and the source of its JSON Schema), which `shape` reads past every
//! stray key; `validate` holds every rule that needs no network, each reported as a
//! [`Diagnostic`] pointing at the offending text; [`Spec`] is what the rest of protector works
//! with: validated, defaulted, with relative paths resolved.

pub mod file;
pub mod files;
#[cfg(test)]
pub(crate) mod fuzz;
mod shape;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::diagnostic::{Diagnostic, Report, SourceFile};
pub use file::{Replication, StateBackend};
pub use protector_wire::duration;
pub use protector_wire::names::site_env_name;
pub use validate::{is_array_name, is_env_name};

/// A validated protection group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spec {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Exactly two, keyed by name.
    pub sites: BTreeMap<String, Site>,
    pub primary: String,
    pub policy: Policy,
    /// In file order.
    pub members: Vec<Member>,
    pub mappings: Mappings,
    pub drill: Drill,
    pub state: StateConfig,
}

impl Spec {
    /// The site that is not `site` (the group has exactly two).
    pub fn peer_of<'a>(&'a self, site: &'a str) -> &'a str {
        self.sites
            .keys()
            .find(|name| name.as_str() != site)
            .map(String::as_str)
            .unwrap_or(site)
    }

    /// The DR site while the group is `active`.
    pub fn secondary(&self) -> &str {
        self.peer_of(&self.primary)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Site {
    pub name: String,
    /// Entry in clouds.yaml.
    pub cloud: String,
    pub flasharray: FlashArray,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlashArray {
    pub url: Setting,
    pub api_token: SecretRef,
    /// Path to the CA bundle the array's certificate chains to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<Setting>,
    pub array_name: String,
    pub cinder_host: String,
}

/// A non-secret setting: written in the spec, or read from the environment at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Setting {
    Env(String),
    #[serde(untagged)]
    Literal(String),
}

/// Where a secret is read from at run time. The secret itself is never held by the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub replication: Replication,
    pub array_protection_group: String,
    #[serde(serialize_with = "serialize_duration")]
    pub rpo: Duration,
    #[serde(serialize_with = "serialize_duration")]
    pub rto: Duration,
    /// The post-completion window: recovered members must stay ACTIVE this long.
    #[serde(serialize_with = "serialize_duration")]
    pub stabilization: Duration,
    /// What becomes of retired array volumes; `None`: kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_volumes: Option<RetiredVolumes>,
}

/// Retired array volumes are destroyed `destroy_after` their retirement (by `converge`), and
/// eradicated at once only with `eradicate`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RetiredVolumes {
    #[serde(serialize_with = "serialize_duration")]
    pub destroy_after: Duration,
    pub eradicate: bool,
}

/// The stabilization window when the spec sets none.
pub const DEFAULT_STABILIZATION: Duration = Duration::from_secs(60);

fn serialize_duration<S: serde::Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&duration::format(*value))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub instance: String,
    pub boot_order: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// The same network or flavor named on each site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Pair {
    pub names: BTreeMap<String, String>,
}

impl Pair {
    pub fn on(&self, site: &str) -> Option<&str> {
        self.names.get(site).map(String::as_str)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Mappings {
    pub networks: Vec<Pair>,
    pub flavors: Vec<Pair>,
    pub security_groups: Vec<Pair>,
    pub availability_zones: Vec<Pair>,
    pub volume_types: Vec<Pair>,
}

/// Translates `name` on site `from` to its counterpart on site `to` through symmetric pairs.
pub fn translate<'a>(pairs: &'a [Pair], from: &str, to: &str, name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|pair| pair.on(from) == Some(name))
        .and_then(|pair| pair.on(to))
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Drill {
    pub networks: Vec<Pair>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateConfig {
    pub backend: StateBackend,
    /// Resolved against the spec file's folder.
    pub path: PathBuf,
}

/// The outcome of checking one spec file: the spec when it has no errors, and every
/// diagnostic (errors and warnings) found.
#[derive(Debug, Clone)]
pub struct Validation {
    pub spec: Option<Spec>,
    pub report: Report,
}

/// Checks a spec text. `base_dir` resolves relative paths (the spec file's folder).
pub fn check(source: SourceFile, base_dir: &Path) -> Validation {
    let shape = shape::read(&source.text);
    let (spec, diagnostics) = match shape.file {
        Some(file) if shape.errors.is_empty() => validate::validate(&file, base_dir),
        // Read past stray keys: the rules still judge the rest of the file.
        Some(file) if shape.judgeable => {
            let (_, rules) = validate::validate(&file, base_dir);
            (None, shape.errors.into_iter().chain(rules).collect())
        }
        _ => (None, shape.errors),
    };
    Validation {
        spec,
        report: Report {
            source,
            diagnostics,
        },
    }
}

/// A spec file that cannot be read as text.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {problem}", path.display())]
pub struct ReadError {
    pub path: PathBuf,
    pub problem: ReadProblem,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadProblem {
    #[error(transparent)]
    File(#[from] files::FileError),
    #[error("it is not UTF-8 text (byte {byte:#04x} at line {line}, column {column})")]
    NotUtf8 {
        byte: u8,
        line: usize,
        column: usize,
    },
}

impl ReadError {
    /// The next thing to try.
    pub fn hint(&self) -> String {
        match &self.problem {
            ReadProblem::File(files::FileError::Io(_) | files::FileError::NotRegular(_)) => {
                "check the path; relative paths are relative to the current folder".to_string()
            }
            ReadProblem::File(files::FileError::TooLarge(limit)) => format!(
                "check that the path names a spec: a spec is at most {}",
                files::bytes(*limit)
            ),
            ReadProblem::NotUtf8 { .. } => {
                "save the spec as UTF-8 text (YAML is read as UTF-8), or check that the path names a spec"
                    .to_string()
            }
        }
    }

    /// The error as the one diagnostic of its file, for a command that checks several files
    /// and reports on each.
    pub fn into_validation(self) -> Validation {
        let source = SourceFile::new(self.path.display().to_string(), "");
        let diagnostic = Diagnostic::error(self.to_string()).hint(self.hint());
        Validation {
            spec: None,
            report: Report {
                source,
                diagnostics: vec![diagnostic],
            },
        }
    }
}

/// Reads and checks the spec at `path` (relative paths inside it resolve against its folder).
pub fn load(path: &Path) -> Result<Validation, ReadError> {
    let error = |problem: ReadProblem| ReadError {
        path: path.to_path_buf(),
        problem,
    };
    let bytes = files::read_at_most(path, files::SPEC_LIMIT).map_err(|e| error(e.into()))?;
    let text = String::from_utf8(bytes).map_err(|not_utf8| {
        let valid = not_utf8.utf8_error().valid_up_to();
        let bytes = not_utf8.as_bytes();
        // The valid prefix is text: its end is where the bad byte sits.
        let prefix = String::from_utf8_lossy(&bytes[..valid]);
        let position = SourceFile::new("", prefix).position(valid);
        error(ReadProblem::NotUtf8 {
            byte: bytes[valid],
            line: position.line,
            column: position.column,
        })
    })?;
    let base_dir = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(check(
        SourceFile::new(path.display().to_string(), text),
        base_dir,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translate_works_in_both_directions() {
        let pair = Pair {
            names: [("site-a", "m1.large"), ("site-b", "m2.large")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let pairs = [pair];
        assert_eq!(
            translate(&pairs, "site-a", "site-b", "m1.large"),
            Some("m2.large")
        );
        assert_eq!(
            translate(&pairs, "site-b", "site-a", "m2.large"),
            Some("m1.large")
        );
        assert_eq!(translate(&pairs, "site-a", "site-b", "m1.small"), None);
    }
}
