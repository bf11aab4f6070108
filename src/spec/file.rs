//! The protection-group file as written: the serde model of the YAML and the source of its
//! JSON Schema (`protector schema`).
//!
//! Values that later rules check keep their [`Spanned`] position. Nothing here judges
//! meaning (that is `validate`); the only rules enforced while parsing are shape rules:
//! unknown keys, wrong types, duplicate keys.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::yaml::Spanned;

/// The members a group may have: plans are measured at this scale (README, "Figures").
pub const MAX_MEMBERS: usize = 10_000;

/// The longest name of a Nova instance or flavor, or a Neutron network.
pub const OPENSTACK_NAME_MAX: usize = 255;

/// A protection group: the VMs to protect together, the two sites between which their volumes
/// replicate, and how their networks and flavors map between the sites.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "protector protection group")]
pub struct SpecFile {
    /// Spec format version. This protector reads version 1.
    pub version: Spanned<u32>,
    /// Name of the protection group: 1-63 letters, digits, `-` or `_`, starting with a letter or
    /// digit. Names its state documents, and the array protection group unless
    /// `policy.array_protection_group` says otherwise.
    pub name: Spanned<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Exactly two sites, keyed by site name (DNS-label-like: `site-a`).
    pub sites: Spanned<BTreeMap<Spanned<String>, SiteFile>>,
    /// The site where the workload lives while the group is `active`.
    pub primary: Spanned<String>,
    pub policy: PolicyFile,
    /// The instances of the group, on the primary site: at most 10,000.
    #[schemars(length(min = 1, max = MAX_MEMBERS))]
    pub members: Spanned<Vec<MemberFile>>,
    #[serde(default)]
    pub mappings: MappingsFile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateFile>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteFile {
    /// Name of this site's entry in clouds.yaml. Defaults to the site name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<Spanned<String>>,
    pub flasharray: FlashArrayFile,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlashArrayFile {
    /// REST endpoint of the array, `https://...`: a literal or `{ env: NAME }`.
    #[schemars(schema_with = "literal_or_env_schema")]
    pub url: Spanned<ValueSource>,
    /// API token of the array: `{ env: NAME }` or `{ file: PATH }` (a regular file of at most
    /// 64 KiB). Never inline: secrets do not live in the spec.
    #[schemars(schema_with = "secret_reference_schema")]
    pub api_token: Spanned<ValueSource>,
    /// PEM file of the CA that signed the array's certificate (arrays commonly use a private
    /// CA), a regular file of at most 64 KiB: a path (relative to this file) or `{ env: NAME }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "literal_or_env_schema")]
    pub ca_cert: Option<Spanned<ValueSource>>,
    /// The array's name as its replication peers see it (`purearray list`).
    pub array_name: Spanned<String>,
    /// The Cinder backend host that owns this array's volumes, `HOST@BACKEND#POOL`.
    pub cinder_host: Spanned<String>,
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ValueSource {
    /// Read from this environment variable when protector runs.
    #[serde(rename = "env")]
    Env(String),
    /// Read from this file (relative to the spec's folder) when protector runs.
    #[serde(rename = "file")]
    File(String),
    /// Written in the spec.
    #[serde(untagged)]
    Literal(String),
}

impl<'de> Deserialize<'de> for ValueSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueSourceVisitor)
    }
}

struct ValueSourceVisitor;

impl<'de> Visitor<'de> for ValueSourceVisitor {
    type Value = ValueSource;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, `{ env: NAME }` or `{ file: PATH }`")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<ValueSource, E> {
        Ok(ValueSource::Literal(value.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ValueSource, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::invalid_length(0, &self));
        };
        let value: String = map.next_value()?;
        let source = match key.as_str() {
            "env" => ValueSource::Env(value),
            "file" => ValueSource::File(value),
            other => return Err(de::Error::unknown_field(other, &["env", "file"])),
        };
        if map.next_key::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(
                "expected exactly one of `env` or `file`, found more keys",
            ));
        }
        Ok(source)
    }
}

fn env_reference_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": { "env": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" } },
        "required": ["env"],
        "additionalProperties": false
    })
}

fn literal_or_env_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "anyOf": [ { "type": "string" }, env_reference_schema() ] })
}

fn secret_reference_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            env_reference_schema(),
            {
                "type": "object",
                "properties": { "file": { "type": "string" } },
                "required": ["file"],
                "additionalProperties": false
            }
        ]
    })
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// `async`: FlashArray protection-group snapshots replicated on a schedule. `sync` (pods,
    /// ActiveDR) is reserved and not yet supported.
    pub replication: Spanned<Replication>,
    /// Name of the FlashArray protection group holding the members' volumes. Defaults to the
    /// group's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array_protection_group: Option<Spanned<String>>,
    /// Recovery point objective: the data-loss budget, e.g. `15m`, from `5m` to `400d`: the
    /// array protection group replicates that often, and FlashArray replication schedules run
    /// every 5 minutes at the most and every 400 days at the least. Plans disclose the age of the
    /// snapshot they would recover against it.
    #[schemars(schema_with = "duration_schema")]
    pub rpo: Spanned<String>,
    /// Recovery time objective: the time budget, e.g. `1h30m`, at most `30d`. Plans predict
    /// against it.
    #[schemars(schema_with = "duration_schema")]
    pub rto: Spanned<String>,
    /// How long recovered members must stay ACTIVE (volumes in use, ports up) after the last
    /// boot before an operation removes what it recovered from and reports success, e.g. `2m`;
    /// from `1s` to `1h`, default `1m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_schema")]
    pub stabilization: Option<Spanned<String>>,
    /// What becomes of the array volumes protector's unmanages leave behind (`<name>-unmanaged`,
    /// taken out of the protection group, data kept). Without it they are kept until an
    /// operator removes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_volumes: Option<RetiredVolumesFile>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetiredVolumesFile {
    /// How long a retired volume is kept before `converge` destroys it, e.g. `7d`; from `1h` to
    /// `400d`. Destroyed is recoverable: the array keeps it for its eradication delay.
    #[schemars(schema_with = "duration_schema")]
    pub destroy_after: Spanned<String>,
    /// Eradicate right after destroying: the data is gone at once, beyond recovery. Default
    /// `false`: the array eradicates destroyed volumes itself once its delay has passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eradicate: Option<Spanned<bool>>,
}

fn duration_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": "^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$",
        "examples": ["15m", "1h30m"]
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Replication {
    Async,
    Sync,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberFile {
    /// Instance name or UUID on the primary site.
    #[schemars(length(min = 1, max = OPENSTACK_NAME_MAX))]
    pub instance: Spanned<String>,
    /// Lower boots first; an instance waits for every lower tier to be ACTIVE. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_order: Option<Spanned<u32>>,
    /// Members that must be ACTIVE before this one boots (finer-grained than boot_order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Spanned<String>>,
}

/// A pair naming the same thing on both sites: `{ site-a: net-primary-web, site-b:
/// net-secondary-web }`. Valid in both directions.
pub type PairFile = Spanned<BTreeMap<Spanned<String>, Spanned<String>>>;

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingsFile {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "pairs_schema")]
    pub networks: Vec<PairFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "pairs_schema")]
    pub flavors: Vec<PairFile>,
    /// Security groups named differently on the other site (by default a port keeps the
    /// names of its groups).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "pairs_schema")]
    pub security_groups: Vec<PairFile>,
    /// Availability zones to boot in on the other site (by default the scheduler chooses).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "pairs_schema")]
    pub availability_zones: Vec<PairFile>,
    /// Volume types named differently on the other site (by default a volume keeps its
    /// type's name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "pairs_schema")]
    pub volume_types: Vec<PairFile>,
}

fn pairs_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {
            "description": "Site name -> the name on that site; both sites, once each.",
            "type": "object",
            "additionalProperties": {
                "type": "string",
                "minLength": 1,
                "maxLength": OPENSTACK_NAME_MAX
            },
            "minProperties": 2,
            "maxProperties": 2
        }
    })
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrillFile {
    /// Isolated networks for rehearsals: a production network on the source site -> the
    /// isolated network drill instances join on the target site.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "pairs_schema")]
    pub networks: Vec<PairFile>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    /// Where state documents live. `local`: files under `path`.
    #[serde(default)]
    pub backend: StateBackend,
    /// Folder of the local backend, relative to this file. Default `.protector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    #[default]
    Local,
}
