//! Every rule a spec must satisfy that needs no network, each as a diagnostic that says what is
//! wrong, points at it, and hints at the fix. All rules run, so one `validate` shows every
//! problem of the file, not only the first.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use super::file::{self, MAX_MEMBERS, OPENSTACK_NAME_MAX, PairFile, SpecFile, ValueSource};
use super::files::{self, FileError};
use super::{
    Drill, FlashArray, Mappings, Member, Pair, Policy, SecretRef, Setting, Site, Spec, StateConfig,
    duration, site_env_name,
};
use crate::clients::flasharray::model::REPLICATION_FREQUENCY_MS;
use crate::diagnostic::{Diagnostic, edit_distance};
use crate::yaml::{Span, Spanned, YamlError};

pub(super) fn validate(file: &SpecFile, base_dir: &Path) -> (Option<Spec>, Vec<Diagnostic>) {
    let mut rules = Rules {
        diagnostics: Vec::new(),
        base_dir,
    };
    rules.version(&file.version);
    rules.group_name(&file.name);
    let sites = rules.sites(file);
    let site_names: Vec<String> = sites.keys().cloned().collect();
    rules.primary(&file.primary, &site_names);
    let policy = rules.policy(&file.policy, &file.name.value);
    let members = rules.members(&file.members);
    let mappings = Mappings {
        networks: rules.pairs("network", &file.mappings.networks, &site_names),
        flavors: rules.pairs("flavor", &file.mappings.flavors, &site_names),
        security_groups: rules.pairs(
            "security group",
            &file.mappings.security_groups,
            &site_names,
        ),
        availability_zones: rules.pairs(
            "availability zone",
            &file.mappings.availability_zones,
            &site_names,
        ),
        volume_types: rules.pairs("volume type", &file.mappings.volume_types, &site_names),
    };
    let drill = Drill {
        networks: file.drill.as_ref().map_or_else(Vec::new, |drill| {
            rules.pairs("drill network", &drill.networks, &site_names)
        }),
    };
    let state = rules.state(file.state.as_ref());

    let diagnostics = rules.diagnostics;
    if diagnostics.iter().any(Diagnostic::is_error) {
        return (None, diagnostics);
    }
    let spec = Spec {
        name: file.name.value.clone(),
        description: file.description.clone(),
        sites,
        primary: file.primary.value.clone(),
        policy,
        members,
        mappings,
        drill,
        state,
    };
    (Some(spec), diagnostics)
}

/// A YAML that does not parse or does not have the spec's shape.
pub(super) fn yaml_error(error: &YamlError) -> Diagnostic {
    let raw = error.message.as_str();
    let (summary, hint) = if let Some(field) = between(raw, "unknown field `", "`") {
        let expected = expected_keys(raw);
        let hint = match closest(field, &expected) {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None if expected.is_empty() => format!("remove `{field}`"),
            None => format!(
                "remove `{field}`; keys allowed here: {}",
                expected.join(", ")
            ),
        };
        (format!("unknown key `{field}`"), hint)
    } else if let Some(value) = between(raw, "unknown variant `", "`") {
        let expected = expected_keys(raw);
        let hint = match closest(value, &expected) {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None => format!("use one of: {}", expected.join(", ")),
        };
        (format!("unknown value `{value}`"), hint)
    } else if let Some(field) = missing_key(error) {
        (
            format!("missing key `{field}`"),
            format!("add `{field}:` to this mapping (README.md shows an annotated example)"),
        )
    } else if raw.starts_with("duplicate key") {
        (
            raw.to_string(),
            "a key may appear once per mapping: remove or merge the repeated one".to_string(),
        )
    } else if raw.starts_with("invalid") || raw.contains("expected") {
        (
            format!("wrong type of value: {}", shape_message(raw)),
            "check the value against the spec format: `protector schema` writes its JSON Schema"
                .to_string(),
        )
    } else {
        (
            format!("not valid YAML: {raw}"),
            "fix the YAML syntax at this position".to_string(),
        )
    };
    let label = match missing_key(error) {
        Some(field) => format!("this lacks `{field}`"),
        None => "here".to_string(),
    };
    Diagnostic::error(summary).at(error.span, label).hint(hint)
}

/// A key the spec has no place for, which [`super::shape`] blanks out to read past.
pub(super) enum StrayKey {
    /// With the known key it is probably a misspelling of.
    Unknown {
        key: String,
        suggestion: Option<String>,
    },
    Repeated,
}

pub(super) fn stray_key(error: &YamlError) -> Option<StrayKey> {
    let raw = error.message.as_str();
    if let Some(field) = between(raw, "unknown field `", "`") {
        let suggestion = closest(field, &expected_keys(raw)).map(str::to_string);
        return Some(StrayKey::Unknown {
            key: field.to_string(),
            suggestion,
        });
    }
    raw.starts_with("duplicate key")
        .then_some(StrayKey::Repeated)
}

/// The key a mapping lacks, when that is the error.
pub(super) fn missing_key(error: &YamlError) -> Option<&str> {
    between(&error.message, "missing field `", "`")
}

/// serde's terse type errors, in an operator's words.
fn shape_message(raw: &str) -> String {
    match raw {
        "invalid u32" => "expected a whole number".to_string(),
        "externally tagged enum expected scalar or mapping" => {
            "expected one value (a word), not a list".to_string()
        }
        other => other.to_string(),
    }
}

/// The keys listed after "expected one of" in serde's unknown-field message.
fn expected_keys(message: &str) -> Vec<&str> {
    let Some((_, list)) = message.split_once("expected ") else {
        return Vec::new();
    };
    let list = list.strip_prefix("one of ").unwrap_or(list);
    list.split(", ")
        .map(|key| key.trim().trim_matches('`'))
        .filter(|key| !key.is_empty())
        .collect()
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// The expected key closest to a misspelt one, if close enough to be a typo.
fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (edit_distance(word, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(1))
        .min()
        .map(|(_, candidate)| candidate)
}

/// DNS label: 1-63 lowercase letters, digits and `-`, starting with a letter, not ending with `-`.
fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// FlashArray object names: 1-63 letters, digits, `-` and `_`, starting with a letter or digit.
pub fn is_array_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

/// A POSIX shell variable name: letters, digits and `_`, not starting with a digit.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What a duration of the spec may be, and why (the detail of the error when it is not).
struct Limits {
    min: Duration,
    max: Duration,
    /// What the bounds are, after "shorter than 5m, " and "longer than 400d, ".
    min_is: &'static str,
    max_is: &'static str,
    why: &'static str,
}

/// Converge makes the array protection group replicate every RPO, so an RPO must be a
/// replication frequency the array accepts (which it would only refuse at apply time).
const RPO_LIMITS: Limits = Limits {
    min: Duration::from_millis(*REPLICATION_FREQUENCY_MS.start()),
    max: Duration::from_millis(*REPLICATION_FREQUENCY_MS.end()),
    min_is: "the shortest replication interval of a FlashArray",
    max_is: "the longest replication interval of a FlashArray",
    why: "protector makes the array protection group replicate that often, and the array refuses a schedule outside these bounds.",
};

/// Plans predict a recovery from step estimates of seconds to minutes; a budget beyond a month
/// is no recovery objective, and bounding it keeps every sum and conversion of it finite.
const RTO_LIMITS: Limits = Limits {
    min: Duration::from_secs(1),
    max: Duration::from_secs(30 * 86_400),
    min_is: "the shortest recovery budget",
    max_is: "the longest recovery budget protector accepts",
    why: "plans predict recoveries against it; a budget beyond a month is no recovery objective.",
};

/// Every operation waits this long before it completes; beyond an hour an operator would
/// rather check by hand.
const STABILIZATION_LIMITS: Limits = Limits {
    min: Duration::from_secs(1),
    max: Duration::from_secs(3600),
    min_is: "the shortest stabilization window",
    max_is: "the longest stabilization window protector waits",
    why: "every failover, failback and drill waits that long, watching the recovered members, before it completes.",
};

/// A retired volume holds a member's data as it was before an operation: kept at least an hour
/// (a rollback may still want it), and FlashArray-like bounds above.
const RETIRED_VOLUMES_LIMITS: Limits = Limits {
    min: Duration::from_secs(3600),
    max: Duration::from_secs(400 * 86_400),
    min_is: "the shortest time a retired volume is kept",
    max_is: "the longest retention protector schedules",
    why: "a retired volume holds a member's data as it was before the operation that retired it.",
};

const ARRAY_NAME_RULE: &str = "use 1-63 letters, digits, `-` or `_`, starting with a letter or digit (FlashArray naming rules)";

struct Rules<'a> {
    diagnostics: Vec<Diagnostic>,
    base_dir: &'a Path,
}

impl Rules<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn version(&mut self, version: &Spanned<u32>) {
        if version.value != 1 {
            self.push(
                Diagnostic::error(format!("unsupported spec version {}", version.value))
                    .at(version.span, "this protector reads version 1")
                    .hint("write `version: 1`, or use the protector release that wrote this spec"),
            );
        }
    }

    fn group_name(&mut self, name: &Spanned<String>) {
        if !is_array_name(&name.value) {
            self.push(
                Diagnostic::error(format!(
                    "protection group name `{}` is not a valid name",
                    name.value
                ))
                .at(name.span, "invalid name")
                .detail(
                    "The name names state documents and, by default, the array protection group.",
                )
                .hint(ARRAY_NAME_RULE),
            );
        }
    }

    fn sites(&mut self, file: &SpecFile) -> BTreeMap<String, Site> {
        let sites = &file.sites;
        if sites.value.len() != 2 {
            self.push(
                Diagnostic::error(format!(
                    "a protection group has exactly two sites, found {}",
                    sites.value.len()
                ))
                .at(sites.span, "sites are listed here")
                .detail("protector replicates a group between its primary site and one DR site.")
                .hint("list the primary site and its DR site under `sites:`, e.g. `site-a` and `site-b`"),
            );
        }
        let mut by_array: HashMap<&str, Span> = HashMap::new();
        let mut validated = BTreeMap::new();
        for (name, site) in &sites.value {
            if !is_dns_label(&name.value) {
                self.push(
                    Diagnostic::error(format!("site name `{}` is not DNS-label-like", name.value))
                        .at(name.span, "invalid site name")
                        .hint("use 1-63 lowercase letters, digits and `-`, starting with a letter and not ending with `-` (e.g. `site-a`)"),
                );
            }
            let array = &site.flasharray;
            if let Some(first) = by_array.insert(&array.array_name.value, array.array_name.span) {
                self.push(
                    Diagnostic::error(format!(
                        "both sites name the array `{}`",
                        array.array_name.value
                    ))
                    .at(array.array_name.span, "named again here")
                    .also(first, "first named here")
                    .hint("each site replicates to its own array: give each site its array's name"),
                );
            }
            let flasharray = self.flasharray(&name.value, array);
            let cloud = site
                .cloud
                .as_ref()
                .map_or(&name.value, |cloud| &cloud.value);
            validated.insert(
                name.value.clone(),
                Site {
                    name: name.value.clone(),
                    cloud: cloud.clone(),
                    flasharray,
                },
            );
        }
        validated
    }

    fn flasharray(&mut self, site: &str, array: &file::FlashArrayFile) -> FlashArray {
        let url = self.setting(&array.url, "url", &site_env_name(site, "URL"));
        if let Setting::Literal(url_text) = &url {
            let host = url_text.strip_prefix("https://").unwrap_or_default();
            if host.is_empty() || host.starts_with('/') {
                self.push(
                    Diagnostic::error(format!("FlashArray url `{url_text}` is not an https URL"))
                        .at(array.url.span, "expected https://HOST")
                        .detail("FlashArray REST is served over HTTPS only.")
                        .hint("write it as `https://fa-a.example.net`, or `{ env: NAME }`"),
                );
            }
        }
        let api_token = self.secret(&array.api_token, site);
        let ca_cert = array.ca_cert.as_ref().map(|ca_cert| {
            let env = site_env_name(site, "CA_CERT");
            match self.setting(ca_cert, "ca_cert", &env) {
                Setting::Literal(path) => {
                    let path = self.base_dir.join(path);
                    self.named_file(&path, ca_cert.span, "ca_cert", &format!(
                        "name the PEM file of the array's CA (the system's CAs are trusted already), or `ca_cert: {{ env: {env} }}`"
                    ));
                    Setting::Literal(path.display().to_string())
                }
                env => env,
            }
        });
        if !is_array_name(&array.array_name.value) {
            self.push(
                Diagnostic::error(format!(
                    "array_name `{}` is not a FlashArray name",
                    array.array_name.value
                ))
                .at(array.array_name.span, "invalid array name")
                .hint(ARRAY_NAME_RULE),
            );
        }
        let cinder_host = &array.cinder_host.value;
        let well_formed = cinder_host
            .split_once('@')
            .is_some_and(|(host, backend)| !host.is_empty() && !backend.is_empty());
        if !well_formed {
            self.push(
                Diagnostic::error(format!(
                    "cinder_host `{cinder_host}` is not a Cinder backend host"
                ))
                .at(array.cinder_host.span, "expected HOST@BACKEND#POOL")
                .hint("write it as Cinder shows it (`cinder get-pools`), e.g. `site-a@pure#fa-a`"),
            );
        }
        FlashArray {
            url,
            api_token,
            ca_cert,
            array_name: array.array_name.value.clone(),
            cinder_host: cinder_host.clone(),
        }
    }

    /// A non-secret setting: a literal or `{ env: NAME }`.
    fn setting(&mut self, value: &Spanned<ValueSource>, key: &str, env_example: &str) -> Setting {
        match &value.value {
            ValueSource::Literal(text) => Setting::Literal(text.clone()),
            ValueSource::Env(name) => {
                self.env_name(name, value.span);
                Setting::Env(name.clone())
            }
            ValueSource::File(_) => {
                self.push(
                    Diagnostic::error(format!("`{key}` cannot be read from a file"))
                        .at(value.span, "`file:` is for secrets")
                        .hint(format!(
                            "write the value itself, or `{key}: {{ env: {env_example} }}`"
                        )),
                );
                Setting::Env(String::new())
            }
        }
    }

    fn secret(&mut self, value: &Spanned<ValueSource>, site: &str) -> SecretRef {
        match &value.value {
            ValueSource::Literal(_) => {
                self.push(
                    Diagnostic::error("api_token is written inline; secrets never live in the spec")
                        .at(value.span, "inline secret")
                        .detail("Specs are committed and reviewed; a token in them leaks to everyone who can read the repository. Revoke this token on the array.")
                        .hint(format!(
                            "reference it instead: `api_token: {{ env: {} }}` or `api_token: {{ file: /etc/protector/{site}.token }}`",
                            site_env_name(site, "API_TOKEN")
                        )),
                );
                SecretRef::Env(String::new())
            }
            ValueSource::Env(name) => {
                self.env_name(name, value.span);
                SecretRef::Env(name.clone())
            }
            ValueSource::File(path) => {
                if path.trim().is_empty() {
                    self.push(
                        Diagnostic::error("api_token file path is empty")
                            .at(value.span, "empty path")
                            .hint("name the file holding the token, e.g. `{ file: /etc/protector/fa-a.token }`"),
                    );
                }
                let path = self.base_dir.join(path);
                self.named_file(
                    &path,
                    value.span,
                    "api_token",
                    &format!(
                        "name a file holding only the token, or `api_token: {{ env: {} }}`",
                        site_env_name(site, "API_TOKEN")
                    ),
                );
                SecretRef::File(path)
            }
        }
    }

    /// A token or CA file the spec names, when it is there: a file protector will refuse to
    /// read is an error now. A missing one is not: validate may run where only the spec is (CI),
    /// and plans report what they cannot read.
    fn named_file(&mut self, path: &Path, span: Span, key: &str, hint: &str) {
        match files::check_named(path) {
            Ok(()) | Err(FileError::Io(_)) => {}
            Err(problem) => self.push(
                Diagnostic::error(format!(
                    "{key} file `{}` cannot be used: {problem}",
                    path.display()
                ))
                .at(
                    span,
                    format!(
                        "protector reads a regular file of at most {}",
                        files::bytes(files::NAMED_FILE_LIMIT)
                    ),
                )
                .hint(hint),
            ),
        }
    }

    /// An OpenStack resource's name (an instance, network or flavor): Nova and Neutron take
    /// at most 255 characters.
    fn name_length(&mut self, name: &Spanned<String>, kind: &str) {
        let length = name.value.chars().count();
        if length > OPENSTACK_NAME_MAX {
            self.push(
                Diagnostic::error(format!(
                    "{kind} name is {length} characters long; OpenStack names have at most {OPENSTACK_NAME_MAX}"
                ))
                .at(name.span, "too long")
                .hint(format!("write the {kind}'s name as OpenStack shows it")),
            );
        }
    }

    fn env_name(&mut self, name: &str, span: Span) {
        if !is_env_name(name) {
            self.push(
                Diagnostic::error(format!("`{name}` is not a valid environment variable name"))
                    .at(span, "invalid variable name")
                    .hint("use letters, digits and `_`, not starting with a digit"),
            );
        }
    }

    fn primary(&mut self, primary: &Spanned<String>, site_names: &[String]) {
        if !site_names.contains(&primary.value) {
            self.push(
                Diagnostic::error(format!(
                    "primary site `{}` is not one of the sites ({})",
                    primary.value,
                    site_names.join(", ")
                ))
                .at(primary.span, "unknown site")
                .hint(
                    "set `primary:` to the site where the workload runs while the group is active",
                ),
            );
        }
    }

    fn policy(&mut self, policy: &file::PolicyFile, group_name: &str) -> Policy {
        if policy.replication.value == file::Replication::Sync {
            self.push(
                Diagnostic::warning("sync replication (ActiveDR pods) is not supported yet; plans will refuse this group")
                    .at(policy.replication.span, "not supported yet")
                    .hint("use `replication: async` (FlashArray protection-group snapshots)"),
            );
        }
        let array_protection_group = match &policy.array_protection_group {
            Some(name) => {
                if !is_array_name(&name.value) {
                    self.push(
                        Diagnostic::error(format!(
                            "array_protection_group `{}` is not a FlashArray name",
                            name.value
                        ))
                        .at(name.span, "invalid array protection group name")
                        .hint(ARRAY_NAME_RULE),
                    );
                }
                name.value.clone()
            }
            None => group_name.to_string(),
        };
        Policy {
            replication: policy.replication.value,
            array_protection_group,
            rpo: self.objective(&policy.rpo, "rpo", "the data-loss budget", &RPO_LIMITS),
            rto: self.objective(&policy.rto, "rto", "the recovery time budget", &RTO_LIMITS),
            stabilization: policy.stabilization.as_ref().map_or(
                super::DEFAULT_STABILIZATION,
                |text| {
                    self.objective(
                        text,
                        "stabilization",
                        "how long recovered members must stay up",
                        &STABILIZATION_LIMITS,
                    )
                },
            ),
            retired_volumes: policy
                .retired_volumes
                .as_ref()
                .map(|retired| super::RetiredVolumes {
                    destroy_after: self.objective(
                        &retired.destroy_after,
                        "destroy_after",
                        "how long a retired volume is kept",
                        &RETIRED_VOLUMES_LIMITS,
                    ),
                    eradicate: retired.eradicate.as_ref().is_some_and(|e| e.value),
                }),
        }
    }

    /// A positive duration within `limits`.
    fn objective(
        &mut self,
        text: &Spanned<String>,
        key: &str,
        meaning: &str,
        limits: &Limits,
    ) -> Duration {
        let value = match duration::parse(&text.value) {
            Ok(value) => value,
            Err(error) => {
                self.push(
                    Diagnostic::error(format!("{key}: {error}"))
                        .at(text.span, "not a duration")
                        .hint("write durations like `90s`, `15m`, `1h30m` or `1d`"),
                );
                return Duration::ZERO;
            }
        };
        let (min, max) = (duration::format(limits.min), duration::format(limits.max));
        if value.is_zero() {
            self.push(
                Diagnostic::error(format!("{key} must be greater than zero"))
                    .at(text.span, "zero")
                    .detail(format!("{key} is {meaning}; zero cannot be met."))
                    .hint(format!("set `{key}:` to a positive duration, e.g. `15m`")),
            );
        } else if value < limits.min || value > limits.max {
            let (summary, label) = if value < limits.min {
                (
                    format!("shorter than {min}, {}", limits.min_is),
                    format!("below {min}"),
                )
            } else {
                (
                    format!("longer than {max}, {}", limits.max_is),
                    format!("above {max}"),
                )
            };
            self.push(
                Diagnostic::error(format!("{key} {} is {summary}", text.value.trim()))
                    .at(text.span, label)
                    .detail(format!("{key} is {meaning}; {}", limits.why))
                    .hint(format!("set `{key}:` to a duration from {min} to {max}")),
            );
        }
        value
    }

    fn members(&mut self, members: &Spanned<Vec<file::MemberFile>>) -> Vec<Member> {
        if members.value.is_empty() {
            self.push(
                Diagnostic::error("a protection group needs at least one member")
                    .at(members.span, "no members")
                    .hint(
                        "list the instances to protect under `members:`, e.g. `- instance: db-1`",
                    ),
            );
        }
        if members.value.len() > MAX_MEMBERS {
            self.push(
                Diagnostic::error(format!(
                    "a protection group has at most {MAX_MEMBERS} members, found {}",
                    members.value.len()
                ))
                .at(members.span, "members are listed here")
                .detail(format!(
                    "Plans are measured at {MAX_MEMBERS} members (under a second and 300 MB); how larger groups plan and fail over is not known."
                ))
                .hint("split the members into several protection groups, each failing over on its own"),
            );
        }
        let mut index_of: HashMap<&str, usize> = HashMap::new();
        for (index, member) in members.value.iter().enumerate() {
            let name = member.instance.value.as_str();
            self.name_length(&member.instance, "instance");
            if name.trim().is_empty() {
                self.push(
                    Diagnostic::error("member instance name is empty")
                        .at(member.instance.span, "empty")
                        .hint("write the instance's name or UUID on the primary site"),
                );
            } else if let Some(&first) = index_of.get(name) {
                self.push(
                    Diagnostic::error(format!("member `{name}` is listed twice"))
                        .at(member.instance.span, "listed again here")
                        .also(members.value[first].instance.span, "first listed here")
                        .hint("remove one of the two entries"),
                );
            } else {
                index_of.insert(name, index);
            }
        }
        let boot_order =
            |member: &file::MemberFile| member.boot_order.as_ref().map_or(1, |b| b.value);

        // Edges to known members, with where each was written, for the cycle search.
        let mut edges: Vec<Vec<(usize, Span)>> = vec![Vec::new(); members.value.len()];
        for (index, member) in members.value.iter().enumerate() {
            let name = &member.instance.value;
            for dependency in &member.depends_on {
                let Some(&target) = index_of.get(dependency.value.as_str()) else {
                    self.push(
                        Diagnostic::error(format!(
                            "`{name}` depends on `{dependency}`, which is not a member"
                        ))
                        .at(dependency.span, "not a member")
                        .hint(format!(
                            "add `{dependency}` to members, or remove it from `depends_on`"
                        )),
                    );
                    continue;
                };
                edges[index].push((target, dependency.span));
                let target_member = &members.value[target];
                let (own_order, target_order) = (boot_order(member), boot_order(target_member));
                if target_order > own_order {
                    let mut diagnostic = Diagnostic::error(format!(
                        "`{name}` (boot_order {own_order}) depends on `{dependency}` (boot_order {target_order}), which boots later"
                    ))
                    .at(dependency.span, "boots later");
                    if let Some(order) = &target_member.boot_order {
                        diagnostic = diagnostic.also(
                            order.span,
                            format!("`{dependency}` boots in tier {target_order}"),
                        );
                    }
                    self.push(diagnostic.hint(format!(
                        "give `{dependency}` a boot_order of {own_order} or lower, or remove it from `{name}`'s depends_on"
                    )));
                }
            }
        }
        for cycle in cycles(&edges) {
            let name = |index: usize| members.value[index].instance.value.as_str();
            let path: Vec<&str> = cycle
                .iter()
                .map(|&(from, _)| name(from))
                .chain(std::iter::once(name(cycle[0].0)))
                .collect();
            let mut diagnostic =
                Diagnostic::error(format!("dependency cycle: {}", path.join(" -> ")));
            for (position, &(from, span)) in cycle.iter().enumerate() {
                let to = cycle[(position + 1) % cycle.len()].0;
                let label = format!("`{}` depends on `{}`", name(from), name(to));
                diagnostic = if position == 0 {
                    diagnostic.at(span, label)
                } else {
                    diagnostic.also(span, label)
                };
            }
            self.push(
                diagnostic.hint("remove one of these `depends_on` entries to break the cycle"),
            );
        }

        members
            .value
            .iter()
            .map(|member| Member {
                instance: member.instance.value.clone(),
                boot_order: boot_order(member),
                depends_on: member.depends_on.iter().map(|d| d.value.clone()).collect(),
            })
            .collect()
    }

    fn pairs(&mut self, kind: &str, pairs: &[PairFile], site_names: &[String]) -> Vec<Pair> {
        let mut first_seen: HashMap<(&str, &str), Span> = HashMap::new();
        let mut validated = Vec::new();
        for pair in pairs {
            for (site, name) in &pair.value {
                if !site_names.contains(&site.value) {
                    self.push(
                        Diagnostic::error(format!(
                            "{kind} mapping names `{site}`, which is not a site of this group"
                        ))
                        .at(site.span, "unknown site")
                        .hint(format!("use the site names: {}", site_names.join(", "))),
                    );
                    continue;
                }
                self.name_length(name, kind);
                if name.value.trim().is_empty() {
                    self.push(
                        Diagnostic::error(format!("{kind} mapping has an empty name for `{site}`"))
                            .at(name.span, "empty")
                            .hint(format!("write the {kind}'s name on {site}")),
                    );
                } else if let Some(first) = first_seen.insert((&site.value, &name.value), name.span)
                {
                    self.push(
                        Diagnostic::error(format!("{kind} `{name}` on {site} is mapped twice"))
                            .at(name.span, "mapped again here")
                            .also(first, "first mapped here")
                            .hint(format!(
                                "a {kind} maps to exactly one counterpart: remove one of the pairs"
                            )),
                    );
                }
            }
            for site in site_names {
                if !pair.value.keys().any(|key| &key.value == site) {
                    let example: Vec<String> = site_names
                        .iter()
                        .map(|name| format!("{name}: <its name on {name}>"))
                        .collect();
                    self.push(
                        Diagnostic::error(format!(
                            "{kind} mapping must name both sites; `{site}` is missing"
                        ))
                        .at(pair.span, format!("no `{site}` in this pair"))
                        .hint(format!("write the pair as `{{ {} }}`", example.join(", "))),
                    );
                }
            }
            validated.push(Pair {
                names: pair
                    .value
                    .iter()
                    .map(|(site, name)| (site.value.clone(), name.value.clone()))
                    .collect(),
            });
        }
        validated
    }

    fn state(&mut self, state: Option<&file::StateFile>) -> StateConfig {
        let backend = state.map(|state| state.backend).unwrap_or_default();
        let path = match state.and_then(|state| state.path.as_ref()) {
            Some(path) if path.value.trim().is_empty() => {
                self.push(
                    Diagnostic::error("state path is empty")
                        .at(path.span, "empty")
                        .hint("remove `path:` to use `.protector`, or name a folder"),
                );
                String::new()
            }
            Some(path) => path.value.clone(),
            None => ".protector".to_string(),
        };
        StateConfig {
            backend,
            path: self.base_dir.join(path),
        }
    }
}

/// Each elementary cycle reachable by depth-first search, as (member, span of its depends_on
/// entry towards the next member), rotated to start at its smallest member so each is
/// reported once.
fn cycles(edges: &[Vec<(usize, Span)>]) -> Vec<Vec<(usize, Span)>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::New; edges.len()];
    let mut found: Vec<Vec<(usize, Span)>> = Vec::new();
    for root in 0..edges.len() {
        if marks[root] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, next edge to follow); `path` holds the edge taken from each node.
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        let mut path: Vec<(usize, Span)> = Vec::new();
        marks[root] = Mark::OnPath;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&(target, span)) = edges[node].get(*next) {
                *next += 1;
                match marks[target] {
                    Mark::New => {
                        marks[target] = Mark::OnPath;
                        path.push((node, span));
                        stack.push((target, 0));
                    }
                    Mark::OnPath => {
                        let start = path.iter().position(|&(from, _)| from == target);
                        let mut cycle: Vec<(usize, Span)> =
                            start.map_or_else(Vec::new, |start| path[start..].to_vec());
                        cycle.push((node, span));
                        let smallest = (0..cycle.len()).min_by_key(|&i| cycle[i].0).unwrap_or(0);
                        cycle.rotate_left(smallest);
                        if !found.iter().any(|known| {
                            known.len() == cycle.len()
                                && known.iter().zip(&cycle).all(|(a, b)| a.0 == b.0)
                        }) {
                            found.push(cycle);
                        }
                    }
                    Mark::Done => {}
                }
            } else {
                marks[node] = Mark::Done;
                stack.pop();
                path.pop();
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_stabilization(line: &str) -> crate::spec::Validation {
        let text =
            include_str!("../../examples/prod-web-app.yaml").replace("  stabilization: 2s\n", line);
        crate::spec::check(
            crate::spec::SourceFile::new("pg.yaml", &text),
            Path::new("."),
        )
    }

    #[test]
    fn the_stabilization_window_defaults_to_a_minute_and_is_bounded() {
        let absent = with_stabilization("");
        assert_eq!(
            absent.spec.unwrap().policy.stabilization,
            Duration::from_secs(60)
        );
        let long = with_stabilization("  stabilization: 2h\n");
        assert!(long.spec.is_none());
        let message = &long.report.diagnostics[0].summary;
        assert!(
            message.contains("stabilization 2h is longer than 1h"),
            "{message}"
        );
    }

    #[test]
    fn retired_volumes_are_kept_unless_a_retention_of_an_hour_or_more_is_set() {
        assert_eq!(
            with_stabilization("").spec.unwrap().policy.retired_volumes,
            None
        );
        let set = with_stabilization("  retired_volumes: { destroy_after: 7d }\n");
        assert_eq!(
            set.spec.unwrap().policy.retired_volumes,
            Some(crate::spec::RetiredVolumes {
                destroy_after: Duration::from_secs(7 * 86_400),
                eradicate: false,
            })
        );
        let eradicating =
            with_stabilization("  retired_volumes: { destroy_after: 1h, eradicate: true }\n");
        assert!(
            eradicating
                .spec
                .unwrap()
                .policy
                .retired_volumes
                .unwrap()
                .eradicate
        );
        let short = with_stabilization("  retired_volumes: { destroy_after: 10m }\n");
        assert!(short.spec.is_none());
        let message = &short.report.diagnostics[0].summary;
        assert!(
            message.contains("destroy_after 10m is shorter than 1h"),
            "{message}"
        );
        let unknown = with_stabilization("  retired_volumes: { keep: 7d }\n");
        assert!(unknown.spec.is_none());
    }

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("site-a"));
        assert!(is_dns_label("dc2"));
        for bad in ["", "Site-A", "site_a", "-a", "a-", "1a", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }

    #[test]
    fn array_names() {
        assert!(is_array_name("prod-web-app"));
        assert!(is_array_name("fa_b1"));
        for bad in ["", "-x", "a.b", "a:b", &"a".repeat(64)] {
            assert!(!is_array_name(bad), "{bad}");
        }
    }

    #[test]
    fn expected_keys_with_or_without_backticks() {
        assert_eq!(
            expected_keys("unknown field `x`, expected one of a, b"),
            vec!["a", "b"]
        );
        assert_eq!(
            expected_keys("unknown field `x`, expected one of `a`, `b`"),
            vec!["a", "b"]
        );
        assert_eq!(expected_keys("unknown field `x`, expected `a`"), vec!["a"]);
    }

    #[test]
    fn suggestions_for_misspelt_keys() {
        assert_eq!(
            closest("membres", &["members", "mappings"]),
            Some("members")
        );
        assert_eq!(closest("prmary", &["primary", "policy"]), Some("primary"));
        assert_eq!(closest("zzz", &["primary", "policy"]), None);
    }

    /// The minimal valid spec with `count` members.
    fn with_members(count: usize) -> String {
        let text = include_str!("../../tests/fixtures/valid-minimal.yaml");
        let (head, rest) = text.split_once("members:\n").unwrap();
        let (_, tail) = rest.split_once("mappings:\n").unwrap();
        let members: String = (0..count)
            .map(|index| format!("  - instance: vm-{index}\n"))
            .collect();
        format!("{head}members:\n{members}mappings:\n{tail}")
    }

    #[test]
    fn a_group_has_at_most_ten_thousand_members() {
        let check = |text: String| {
            let source = crate::diagnostic::SourceFile::new("pg.yaml", text);
            crate::spec::check(source, Path::new("."))
                .report
                .diagnostics
        };
        assert_eq!(check(with_members(MAX_MEMBERS)), []);
        let diagnostics = check(with_members(MAX_MEMBERS + 1));
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert_eq!(
            diagnostics[0].summary,
            "a protection group has at most 10000 members, found 10001"
        );
    }

    fn edge(to: usize) -> (usize, Span) {
        (to, Span::UNKNOWN)
    }

    #[test]
    fn finds_each_cycle_once() {
        // 0 -> 1 -> 0, 2 -> 2, 3 -> 0 (not on a cycle)
        let edges = vec![vec![edge(1)], vec![edge(0)], vec![edge(2)], vec![edge(0)]];
        let found: Vec<Vec<usize>> = cycles(&edges)
            .into_iter()
            .map(|cycle| cycle.into_iter().map(|(node, _)| node).collect())
            .collect();
        assert_eq!(found, vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn acyclic_graphs_have_no_cycles() {
        let edges = vec![vec![], vec![edge(0)], vec![edge(0), edge(1)]];
        assert!(cycles(&edges).is_empty());
    }
}
