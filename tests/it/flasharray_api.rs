//! The twin's FlashArray REST 2.x API against Pure's OpenAPI description
//! (`tests/fixtures/api-samples/flasharray/FA2.56-dr-subset.spec.yaml`).
//!
//! Every answer the twin gives here, success or error, goes through [`Checker::check`]: its
//! body must validate against the schema the spec declares for that path, method and status.
//! Pure's spec declares only 200 (and 207) answers; an error answer must be the spec's error
//! body `_errorContextResponse` with at least one error and a message. An answer the spec
//! declares without content (`content: {}`, DELETE and logout) must be empty.
//!
//! The validator covers the JSON-Schema subset the spec uses: `type` (with `int32` ranges),
//! `properties`, `required`, `items`, `allOf`, `oneOf`, `anyOf`, `$ref` to components,
//! `enum`, `minimum`/`maximum`, `minLength`/`maxLength`, `minItems`/`maxItems`, `nullable`, `additionalProperties`;
//! `readOnly`, `format`, `pattern`, descriptions, examples and `x-` extensions are ignored. Any
//! other keyword fails the test, so a newer spec cannot slip past unchecked. Decisions:
//! - **Undeclared fields fail.** Pure's spec never says `additionalProperties`; we read its
//!   absence as `false`: every field the twin sends must be described by the spec (the union
//!   of the properties of an `allOf`).
//! - **`null` is accepted for any property.** Pure's spec marks nothing `nullable`, yet real
//!   arrays send `null` for unset properties (`"continuation_token": null`,
//!   `"source": {"id": null, "name": null}`) and its descriptions say so ("a value of `null`
//!   will be returned"). Elsewhere (array items, whole bodies) `null` needs `nullable: true`.
//!
//! Besides the answers, the wire models themselves are checked: every field of every type in
//! `protector::clients::flasharray::model` must be a property of its spec schema.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use protector::clients::flasharray::model;
use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::{Value, json};

use crate::twin::TwinProcess;

const SPEC_PATH: &str = "tests/fixtures/api-samples/flasharray/FA2.56-dr-subset.spec.yaml";
/// The endpoints Cinder's Pure driver calls that the shared subset leaves out (its paths and
/// schemas are added to the spec's; none may be defined twice).
const CINDER_DRIVER_SPEC_PATH: &str = "tests/fixtures/flasharray/cinder-driver.spec.yaml";

/// The spec, parsed once.
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let read = |relative: &str| -> Value {
            let path = crate::root().join(relative);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
            protector::yaml::from_str(&text)
                .unwrap_or_else(|error| panic!("{} parses: {error}", path.display()))
        };
        let mut spec = read(SPEC_PATH);
        let supplement = read(CINDER_DRIVER_SPEC_PATH);
        for pointer in ["/paths", "/components/schemas"] {
            let added = supplement
                .pointer(pointer)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let into = spec
                .pointer_mut(pointer)
                .and_then(Value::as_object_mut)
                .expect("the spec has paths and schemas");
            for (name, value) in added {
                assert!(
                    into.insert(name.clone(), value).is_none(),
                    "{CINDER_DRIVER_SPEC_PATH} defines {pointer}/{name} again"
                );
            }
        }
        spec
    })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

// ---------------------------------------------------------------------------------------------
// The validator
// ---------------------------------------------------------------------------------------------

/// Schema keywords the validator understands (plus any `x-` extension).
const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "items",
    "allOf",
    "oneOf",
    "anyOf",
    "$ref",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "nullable",
    "additionalProperties",
    // Ignored: annotations, and constraints on what clients send.
    "readOnly",
    "format",
    "pattern",
    "description",
    "example",
    "title",
    "default",
];

struct Validator<'a> {
    spec: &'a Value,
}

impl<'a> Validator<'a> {
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        while let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("only local $ref are supported: {reference}"));
            schema = self
                .spec
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"));
        }
        schema
    }

    /// The schema and its `allOf` parts, flattened, `$ref`s followed.
    fn atoms(&self, schema: &'a Value, out: &mut Vec<&'a Value>) {
        let schema = self.resolve(schema);
        out.push(schema);
        for part in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.atoms(part, out);
        }
    }

    /// The properties an object schema declares, across its `allOf` parts.
    fn properties(&self, schema: &'a Value) -> BTreeMap<String, &'a Value> {
        let mut atoms = Vec::new();
        self.atoms(schema, &mut atoms);
        let mut properties = BTreeMap::new();
        for atom in atoms {
            for (name, property) in atom
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                properties.entry(name.clone()).or_insert(property);
            }
        }
        properties
    }

    /// Checks the schema uses only keywords the validator knows.
    fn check_keywords(&self, schema: &Value, path: &str, errors: &mut Vec<String>) {
        let Some(object) = schema.as_object() else {
            return;
        };
        for (key, value) in object {
            if !(KEYWORDS.contains(&key.as_str()) || key.starts_with("x-")) {
                errors.push(format!("{path}: schema keyword `{key}` is not supported"));
            }
            match key.as_str() {
                "properties" => {
                    for (name, property) in value.as_object().into_iter().flatten() {
                        self.check_keywords(property, &format!("{path}.{name}"), errors);
                    }
                }
                "items" | "additionalProperties" => {
                    self.check_keywords(value, &format!("{path}[]"), errors)
                }
                "allOf" | "oneOf" | "anyOf" => {
                    for part in value.as_array().into_iter().flatten() {
                        self.check_keywords(part, path, errors);
                    }
                }
                _ => {}
            }
        }
    }

    fn validate(&self, schema: &'a Value, value: &Value, path: &str, errors: &mut Vec<String>) {
        let mut atoms = Vec::new();
        self.atoms(schema, &mut atoms);
        if value.is_null() {
            if !atoms
                .iter()
                .any(|a| a.get("nullable") == Some(&Value::Bool(true)))
            {
                errors.push(format!("{path}: null where the spec does not allow it"));
            }
            return;
        }
        for atom in &atoms {
            self.check_atom(atom, value, path, errors);
        }
        if let Value::Object(object) = value {
            let declared = self.properties(schema);
            let additional = atoms.iter().find_map(|a| a.get("additionalProperties"));
            for (key, field) in object {
                let field_path = format!("{path}.{key}");
                match (declared.get(key), additional) {
                    // A property may be null: unset on a real array.
                    (Some(_), _) if field.is_null() => {}
                    (Some(property), _) => self.validate(property, field, &field_path, errors),
                    (None, Some(Value::Bool(true))) => {}
                    (None, Some(extra @ Value::Object(_))) => {
                        self.validate(extra, field, &field_path, errors)
                    }
                    (None, _) => errors.push(format!("{field_path}: not declared by the spec")),
                }
            }
            for atom in &atoms {
                for required in atom
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = required.as_str().unwrap_or_default();
                    if !object.contains_key(name) {
                        errors.push(format!("{path}.{name}: required but missing"));
                    }
                }
            }
        }
        if let (Value::Array(items), Some(item_schema)) =
            (value, atoms.iter().find_map(|a| a.get("items")))
        {
            for (index, item) in items.iter().enumerate() {
                self.validate(item_schema, item, &format!("{path}[{index}]"), errors);
            }
        }
    }

    fn check_atom(&self, atom: &'a Value, value: &Value, path: &str, errors: &mut Vec<String>) {
        if let Some(kind) = atom.get("type").and_then(Value::as_str) {
            let ok = match kind {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "boolean" => value.is_boolean(),
                "number" => value.is_number(),
                "integer" => {
                    let int = value.is_i64() || value.is_u64();
                    let int32 = atom.get("format").and_then(Value::as_str) == Some("int32");
                    int && (!int32 || value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()))
                }
                other => {
                    errors.push(format!("{path}: unknown type `{other}`"));
                    true
                }
            };
            if !ok {
                errors.push(format!("{path}: {value} is not of type {kind}"));
                return;
            }
        }
        if let Some(allowed) = atom.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{path}: {value} is not one of {allowed:?}"));
        }
        if let (Some(minimum), Some(number)) =
            (atom.get("minimum").and_then(Value::as_f64), value.as_f64())
            && number < minimum
        {
            errors.push(format!("{path}: {number} is below the minimum {minimum}"));
        }
        if let (Some(maximum), Some(number)) =
            (atom.get("maximum").and_then(Value::as_f64), value.as_f64())
            && number > maximum
        {
            errors.push(format!("{path}: {number} is above the maximum {maximum}"));
        }
        if let Some(text) = value.as_str() {
            let length = text.chars().count() as u64;
            if atom
                .get("minLength")
                .and_then(Value::as_u64)
                .is_some_and(|min| length < min)
            {
                errors.push(format!("{path}: {text:?} is too short"));
            }
            if atom
                .get("maxLength")
                .and_then(Value::as_u64)
                .is_some_and(|max| length > max)
            {
                errors.push(format!("{path}: {text:?} is too long"));
            }
        }
        if let Some(items) = value.as_array() {
            let count = items.len() as u64;
            if atom
                .get("minItems")
                .and_then(Value::as_u64)
                .is_some_and(|min| count < min)
            {
                errors.push(format!("{path}: fewer than the minimum of items"));
            }
            if atom
                .get("maxItems")
                .and_then(Value::as_u64)
                .is_some_and(|max| count > max)
            {
                errors.push(format!("{path}: more than the maximum of items"));
            }
        }
        for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
            let Some(choices) = atom.get(keyword).and_then(Value::as_array) else {
                continue;
            };
            let matching = choices
                .iter()
                .filter(|choice| {
                    let mut inner = Vec::new();
                    self.validate(choice, value, path, &mut inner);
                    inner.is_empty()
                })
                .count();
            if matching == 0 || (exactly_one && matching > 1) {
                errors.push(format!(
                    "{path}: {value} matches {matching} of the {keyword} choices"
                ));
            }
        }
    }
}

/// The errors of `value` against `schema` (empty: it conforms).
fn violations(schema: &Value, value: &Value) -> Vec<String> {
    let validator = Validator { spec: spec() };
    let mut errors = Vec::new();
    validator.validate(schema, value, "$", &mut errors);
    errors
}

// ---------------------------------------------------------------------------------------------
// The conformance checker
// ---------------------------------------------------------------------------------------------

/// An HTTP answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }

    fn items(&self) -> Vec<Value> {
        self.json()["items"].as_array().cloned().unwrap_or_default()
    }

    fn message(&self) -> String {
        self.json()["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Checks answers against the spec and remembers which operations it saw succeed.
#[derive(Default)]
struct Checker {
    succeeded: Mutex<BTreeSet<(String, String)>>,
}

impl Checker {
    /// Panics unless `reply` is what the spec declares for `method` on `path`.
    fn check(&self, method: &str, path: &str, reply: &Reply) {
        let spec = spec();
        let template = match path.strip_prefix("/api/") {
            Some("api_version") => "/api/api_version".to_string(),
            Some(rest) => format!(
                "/api/2.56/{}",
                rest.split_once('/').map_or("", |(_, endpoint)| endpoint)
            ),
            None => panic!("not an array path: {path}"),
        };
        let operation = spec["paths"]
            .get(&template)
            .and_then(|p| p.get(method.to_lowercase()))
            .unwrap_or_else(|| panic!("the spec has no {method} {template} (asked {path})"));
        let status = reply.status.to_string();
        let context = format!("{method} {path} -> {}", reply.status);
        let errors = match operation["responses"].get(&status) {
            Some(declared) => match declared["content"].get("application/json") {
                Some(content) => {
                    let body: Value = serde_json::from_str(&reply.body).unwrap_or_else(|e| {
                        panic!("{context}: body is not JSON ({e}): {}", reply.body)
                    });
                    assert_eq!(
                        reply.headers.get("content-type").map(String::as_str),
                        Some("application/json"),
                        "{context}"
                    );
                    violations(&content["schema"], &body)
                }
                None => {
                    assert!(
                        reply.body.is_empty(),
                        "{context}: the spec declares no body: {}",
                        reply.body
                    );
                    Vec::new()
                }
            },
            None if reply.status >= 400 => {
                let body: Value = serde_json::from_str(&reply.body).unwrap_or_else(|e| {
                    panic!("{context}: error body is not JSON ({e}): {}", reply.body)
                });
                let mut errors = violations(&schema_ref("_errorContextResponse"), &body);
                let list = body["errors"].as_array().cloned().unwrap_or_default();
                if list.is_empty()
                    || list
                        .iter()
                        .any(|e| e["message"].as_str().is_none_or(str::is_empty))
                {
                    errors.push("an error answer needs errors with messages".to_string());
                }
                errors
            }
            None => panic!("{context}: the spec declares no {status} answer"),
        };
        assert!(
            errors.is_empty(),
            "{context}: the body does not conform to the spec:\n  {}\nbody: {}",
            errors.join("\n  "),
            reply.body
        );
        if reply.status < 300 {
            self.succeeded
                .lock()
                .unwrap()
                .insert((method.to_string(), template));
        }
    }
}

/// Percent-encodes a query value.
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One array of the twin, over HTTPS trusting the twin's CA, through curl.
struct FlashArray<'a> {
    url: String,
    ca: String,
    api_token: String,
    session: Option<String>,
    version: &'static str,
    checker: &'a Checker,
}

impl<'a> FlashArray<'a> {
    fn of(twin: &TwinProcess, site: &str, checker: &'a Checker) -> Self {
        let key = site.to_uppercase().replace('-', "_");
        FlashArray {
            url: twin.env[&format!("FA_{key}_URL")].clone(),
            ca: twin.env[&format!("FA_{key}_CA_CERT")].clone(),
            api_token: twin.env[&format!("FA_{key}_API_TOKEN")].clone(),
            session: None,
            version: "2.56",
            checker,
        }
    }

    /// Any request; the answer is checked against the spec.
    fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> Reply {
        let mut command = Command::new("curl");
        command
            .args(["-sS", "--cacert", &self.ca, "-X", method, "-D", "-"])
            .args(["-H", "Expect:", "-H", "Accept: application/json"])
            .arg(format!("{}{path}", self.url));
        for (name, value) in headers {
            command.args(["-H", &format!("{name}: {value}")]);
        }
        if let Some(body) = body {
            command
                .args(["-H", "Content-Type: application/json", "--data-binary"])
                .arg(body.to_string());
        }
        let output = command.output().expect("curl runs");
        assert!(
            output.status.success(),
            "curl {method} {path}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line: {text}"));
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_lowercase(), value.trim().to_string()))
            .collect();
        let reply = Reply {
            status,
            headers,
            body: body.to_string(),
        };
        let bare_path = path.split('?').next().unwrap_or(path);
        self.checker.check(method, bare_path, &reply);
        reply
    }

    /// A request on `/api/<version>/<endpoint>` with the session token.
    fn call(&self, method: &str, endpoint: &str, body: Option<&Value>) -> Reply {
        let headers: Vec<(&str, String)> = self
            .session
            .iter()
            .map(|token| ("x-auth-token", token.clone()))
            .collect();
        self.raw(
            method,
            &format!("/api/{}/{endpoint}", self.version),
            &headers,
            body,
        )
    }

    fn get(&self, endpoint: &str) -> Reply {
        self.call("GET", endpoint, None)
    }

    fn post(&self, endpoint: &str, body: Value) -> Reply {
        self.call("POST", endpoint, Some(&body))
    }

    fn patch(&self, endpoint: &str, body: Value) -> Reply {
        self.call("PATCH", endpoint, Some(&body))
    }

    fn put(&self, endpoint: &str, body: Value) -> Reply {
        self.call("PUT", endpoint, Some(&body))
    }

    fn delete(&self, endpoint: &str) -> Reply {
        self.call("DELETE", endpoint, None)
    }

    fn login(&mut self) {
        let path = format!("/api/{}/login", self.version);
        let reply = self.raw(
            "POST",
            &path,
            &[("api-token", self.api_token.clone())],
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        self.session = Some(reply.headers["x-auth-token"].clone());
    }

    /// `GET` that must succeed.
    fn ok(&self, endpoint: &str) -> Vec<Value> {
        let reply = self.get(endpoint);
        assert_eq!(reply.status, 200, "GET {endpoint}: {}", reply.body);
        reply.items()
    }
}

/// The control API (plain HTTP).
fn control(twin: &TwinProcess, method: &str, path: &str, body: Option<Value>) -> Value {
    let mut command = Command::new("curl");
    command
        .args(["-sS", "-X", method, "-w", "\n%{http_code}"])
        .arg(format!("{}{path}", twin.control()));
    if let Some(body) = body {
        command
            .args(["-H", "Content-Type: application/json", "--data-binary"])
            .arg(body.to_string());
    }
    let output = command.output().expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    assert!(
        code.starts_with('2'),
        "control {method} {path}: {code} {body}"
    );
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    done()
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The models and the validator against the spec, no twin needed
// ---------------------------------------------------------------------------------------------

/// The field names of a `Deserialize` struct, as serde derive lists them.
fn field_names<T: DeserializeOwned>() -> Vec<&'static str> {
    struct Capture(Option<&'static [&'static str]>);
    #[derive(Debug)]
    struct Done;
    impl std::fmt::Display for Done {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("done")
        }
    }
    impl std::error::Error for Done {}
    impl de::Error for Done {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Done
        }
    }
    impl<'de> de::Deserializer<'de> for &mut Capture {
        type Error = Done;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Done> {
            Err(Done)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Done> {
            self.0 = Some(fields);
            Err(Done)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut capture = Capture(None);
    let _ = T::deserialize(&mut capture);
    capture.0.expect("a struct").to_vec()
}

#[test]
fn every_model_field_is_a_property_of_its_spec_schema() {
    let validator = Validator { spec: spec() };
    let check = |fields: Vec<&'static str>, schemas: &[&str], type_name: &str| {
        let mut declared = BTreeSet::new();
        for schema in schemas {
            let schema = schema_ref(schema);
            declared.extend(validator.properties(&schema).into_keys());
        }
        assert!(
            !declared.is_empty(),
            "{type_name}: no properties in {schemas:?}"
        );
        for field in fields {
            assert!(
                declared.contains(field),
                "{type_name}.{field} is not a property of {schemas:?}"
            );
        }
    };
    macro_rules! models {
        ($($model:ty => [$($schema:literal),+]),* $(,)?) => {
            $( check(field_names::<$model>(), &[$($schema),+], stringify!($model)); )*
        };
    }
    models! {
        model::ApiVersionResponse => ["Api_versionResponse"],
        model::LoginPost => ["LoginPost"],
        model::Username => ["Username"],
        model::UsernameResponse => ["UsernameResponse"],
        model::ListResponse<model::Volume> => ["VolumeGetResponse"],
        model::ItemsResponse<model::Volume> => ["VolumeResponse"],
        model::ErrorResponse => ["_errorContextResponse"],
        model::ApiError => ["_errorcontextresponseErrors"],
        model::Reference => ["_reference", "_fixedReference"],
        model::ReferenceWithType => ["_referenceWithType"],
        model::ReferenceNoId => ["_referenceNoId"],
        model::Space => ["Space", "_volumeSpaceCommon", "_snapshotSpace"],
        model::Qos => ["_qos", "_containerQosCeilings"],
        model::QosPatch => ["_qos_patch"],
        model::PriorityAdjustment => ["_priorityAdjustment"],
        model::TimeWindow => ["_time_window"],
        model::Tag => ["Tag"],
        model::TagBatch => ["TagBatch"],
        model::ArraySpace => ["ArraySpace"],
        model::ArrayPerformance => ["ArrayPerformance"],
        model::Controller => ["Controller"],
        model::Port => ["Port"],
        model::NetworkInterface => ["NetworkInterface"],
        model::NetworkInterfaceEth => ["NetworkInterfaceEth"],
        model::Array => ["Arrays"],
        model::ArrayEncryption => ["ArrayEncryption"],
        model::DataAtRest => ["_arrayencryptionDataAtRest"],
        model::EradicationConfig => ["Eradication_config"],
        model::ArrayConnection => ["ArrayConnection"],
        model::Throttle => ["_throttle"],
        model::Volume => ["Volume"],
        model::VolumePost => ["VolumePost"],
        model::VolumePatch => ["VolumePatch"],
        model::VolumeSnapshot => ["VolumeSnapshot"],
        model::VolumeSnapshotPost => ["VolumeSnapshotPost"],
        model::VolumeSnapshotPatch => ["VolumeSnapshotPatch"],
        model::SnapshotTransfer => ["ProtectionGroupSnapshotTransfer", "VolumeSnapshotTransfer"],
        model::ProtectionGroup => ["ProtectionGroup"],
        model::ProtectionGroupEradicationConfig => ["ProtectionGroupEradicationConfig"],
        model::ReplicationSchedule => ["_replication_schedule"],
        model::SnapshotSchedule => ["_snapshot_schedule"],
        model::RetentionPolicy => ["_retentionPolicy"],
        model::ProtectionGroupPost => ["ProtectionGroupPost"],
        model::ProtectionGroupsVolumes => ["ProtectionGroupsVolumes"],
        model::ProtectionGroupsVolumesMember => ["_protectionGroupsVolumesMember"],
        model::TargetProtectionGroup => ["TargetProtectionGroup"],
        model::TargetProtectionGroupPostPatch => ["TargetProtectionGroupPostPatch"],
        model::ProtectionGroupSnapshot => ["ProtectionGroupSnapshot"],
        model::ProtectionGroupSnapshotPost => ["ProtectionGroupSnapshotPost"],
        model::ProtectionGroupSnapshotPatch => ["ProtectionGroupSnapshotPatch"],
        model::Host => ["Host"],
        model::Chap => ["_chap"],
        model::HostPortConnectivity => ["_host_port_connectivity"],
        model::HostPost => ["HostPost"],
        model::HostPatch => ["HostPatch"],
        model::Connection => ["Connection"],
        model::ConnectionPost => ["ConnectionPost"],
    }
}

#[test]
fn the_spec_uses_only_what_the_validator_checks() {
    let validator = Validator { spec: spec() };
    let mut errors = Vec::new();
    for (name, schema) in spec()["components"]["schemas"].as_object().unwrap() {
        validator.check_keywords(schema, name, &mut errors);
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn the_validator_rejects_what_the_spec_does_not_describe() {
    let schema = schema_ref("VolumeGetResponse");
    let good = json!({
        "continuation_token": null,
        "items": [{"id": "1", "name": "v", "provisioned": 1073741824, "destroyed": false,
                   "space": {"virtual": 0, "total_provisioned": 1073741824},
                   "source": {"id": null, "name": null}, "qos": {"iops_limit": 1000}}],
        "more_items_remaining": false,
        "total_item_count": null
    });
    assert_eq!(violations(&schema, &good), Vec::<String>::new());
    let bad = |edit: &dyn Fn(&mut Value), expected: &str| {
        let mut body = good.clone();
        edit(&mut body);
        let errors = violations(&schema, &body);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "expected `{expected}` in {errors:?} for {body}"
        );
    };
    bad(&|b| b["bogus"] = json!(1), "$.bogus: not declared");
    bad(
        &|b| b["items"][0]["content"] = json!("x"),
        "$.items[0].content: not declared",
    );
    bad(
        &|b| b["items"][0]["space"]["bogus"] = json!(1),
        "space.bogus: not declared",
    );
    bad(
        &|b| b["items"][0]["provisioned"] = json!("10"),
        "is not of type integer",
    );
    bad(
        &|b| b["items"][0]["destroyed"] = json!(1),
        "is not of type boolean",
    );
    bad(&|b| b["items"] = json!({}), "is not of type array");
    bad(&|b| b["items"][0] = json!(null), "null where");
    bad(
        &|b| b["more_items_remaining"] = json!("no"),
        "is not of type boolean",
    );
    bad(
        &|b| b["total_item_count"] = json!(1u64 << 40),
        "is not of type integer",
    );
    bad(
        &|b| b["items"][0]["qos"]["iops_limit"] = json!(5),
        "below the minimum",
    );
    // oneOf: a QoS limit in a PATCH is a number in range, or "" to unset.
    let patch = schema_ref("VolumePatch");
    assert!(violations(&patch, &json!({"qos": {"iops_limit": ""}})).is_empty());
    assert!(violations(&patch, &json!({"qos": {"iops_limit": 500}})).is_empty());
    assert!(!violations(&patch, &json!({"qos": {"iops_limit": "500"}})).is_empty());
    // required, enum and nullable are checked where a schema says them.
    let strict = json!({"type": "object", "required": ["a"],
                        "properties": {"a": {"type": "string", "enum": ["x", "y"]}}});
    assert!(violations(&strict, &json!({"a": "x"})).is_empty());
    assert!(
        violations(&strict, &json!({}))
            .iter()
            .any(|e| e.contains("required"))
    );
    assert!(
        violations(&strict, &json!({"a": "z"}))
            .iter()
            .any(|e| e.contains("not one of"))
    );
    assert!(!violations(&json!({"type": "string"}), &json!(null)).is_empty());
    assert!(violations(&json!({"type": "string", "nullable": true}), &json!(null)).is_empty());
}

// ---------------------------------------------------------------------------------------------
// A session against the twin
// ---------------------------------------------------------------------------------------------

/// Every operation the twin serves but those only Cinder's Pure driver needs
/// ([`CINDER_DRIVER_OPERATIONS`]); the session test must see each succeed.
const OPERATIONS: &[(&str, &str)] = &[
    ("GET", "api_version"),
    ("POST", "login"),
    ("POST", "logout"),
    ("GET", "arrays"),
    ("GET", "array-connections"),
    ("GET", "volumes"),
    ("POST", "volumes"),
    ("PATCH", "volumes"),
    ("DELETE", "volumes"),
    ("GET", "volumes/protection-groups"),
    ("POST", "volumes/protection-groups"),
    ("DELETE", "volumes/protection-groups"),
    ("GET", "volume-snapshots"),
    ("POST", "volume-snapshots"),
    ("PATCH", "volume-snapshots"),
    ("DELETE", "volume-snapshots"),
    ("GET", "volume-snapshots/transfer"),
    ("GET", "protection-groups"),
    ("POST", "protection-groups"),
    ("PATCH", "protection-groups"),
    ("DELETE", "protection-groups"),
    ("GET", "protection-groups/volumes"),
    ("POST", "protection-groups/volumes"),
    ("DELETE", "protection-groups/volumes"),
    ("GET", "protection-groups/targets"),
    ("POST", "protection-groups/targets"),
    ("PATCH", "protection-groups/targets"),
    ("DELETE", "protection-groups/targets"),
    ("GET", "protection-group-snapshots"),
    ("POST", "protection-group-snapshots"),
    ("PATCH", "protection-group-snapshots"),
    ("DELETE", "protection-group-snapshots"),
    ("GET", "protection-group-snapshots/transfer"),
    ("GET", "hosts"),
    ("POST", "hosts"),
    ("PATCH", "hosts"),
    ("DELETE", "hosts"),
    ("GET", "connections"),
    ("POST", "connections"),
    ("DELETE", "connections"),
];

#[test]
fn a_session_on_both_arrays_conforms_to_the_spec() {
    let twin = TwinProcess::start(1000, &[]);
    let checker = Checker::default();
    let mut a = FlashArray::of(&twin, "site-a", &checker);
    let mut b = FlashArray::of(&twin, "site-b", &checker);

    // Versions (no session needed), then sessions.
    let versions = a.raw("GET", "/api/api_version", &[], None).json()["version"].clone();
    let versions: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(versions.first(), Some(&"2.0"));
    assert_eq!(versions.last(), Some(&"2.56"));
    assert_eq!(versions.len(), 57);
    let refused = a.raw(
        "POST",
        "/api/2.56/login",
        &[("api-token", "wrong".into())],
        None,
    );
    assert_eq!(refused.status, 400);
    assert_eq!(refused.message(), "Unable to list user for API token.");
    let no_session = a.get("volumes");
    assert_eq!(no_session.status, 401);
    assert_eq!(no_session.message(), "Invalid session.");
    let forged = a.raw(
        "GET",
        "/api/2.56/volumes",
        &[("x-auth-token", "forged".into())],
        None,
    );
    assert_eq!(forged.status, 401);
    a.login();
    b.login();
    // Scheduled cycles (every 0.9 s at this speed) would interleave with ours.
    let unscheduled = a.patch(
        "protection-groups?names=prod-web-app",
        json!({"replication_schedule": {"enabled": false}}),
    );
    assert_eq!(
        unscheduled.items()[0]["replication_schedule"]["enabled"],
        false
    );
    let login = a.raw(
        "POST",
        "/api/2.17/login",
        &[("api-token", a.api_token.clone())],
        None,
    );
    assert_eq!(login.items()[0]["username"], "pureuser");
    assert!(!login.headers["x-auth-token"].is_empty());
    // Older clients (py-pure-client speaks 2.0 to 2.x) are served too; unknown versions are not.
    a.version = "2.4";
    assert_eq!(a.ok("arrays").len(), 1);
    a.version = "2.99";
    assert_eq!(a.get("volumes").status, 404);
    a.version = "2.56";

    // The arrays and their connection.
    let array = &a.ok("arrays")[0];
    assert_eq!(array["name"], "fa-a");
    assert_eq!(array["version"], "6.7.4");
    let connection = &b.ok("array-connections")[0];
    assert_eq!(
        (connection["name"].as_str(), connection["status"].as_str()),
        (Some("fa-a"), Some("connected"))
    );
    assert_eq!(connection["type"], "async-replication");

    // Volumes: list, select, filter.
    let members = a.ok("protection-groups/volumes?group_names=prod-web-app");
    let member_names: Vec<String> = members
        .iter()
        .map(|m| m["member"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(member_names.len(), 4);
    let memberships = a.ok(&format!(
        "volumes/protection-groups?member_names={}",
        enc(&member_names[0])
    ));
    assert_eq!(memberships.len(), 1);
    let volumes = a.ok("volumes");
    assert_eq!(volumes.len(), 4);
    let first = &member_names[0];
    let one = a.ok(&format!("volumes?names={}", enc(first)));
    assert_eq!(names(&one), vec![first.clone()]);
    assert_eq!(
        a.ok(&format!(
            "volumes?filter={}",
            enc("name='volume-*' and destroyed='false'")
        ))
        .len(),
        4
    );
    assert_eq!(
        a.ok(&format!("volumes?filter={}", enc("name='nothing*'")))
            .len(),
        0
    );
    let missing = a.get("volumes?names=no-such-volume");
    assert_eq!(
        (missing.status, missing.message().as_str()),
        (400, "Volume does not exist.")
    );
    assert_eq!(missing.json()["errors"][0]["context"], "no-such-volume");

    // Create, rename, destroy, recover, eradicate.
    let created = a.post("volumes?names=scratch", json!({"provisioned": 10u64 << 30}));
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.items()[0]["provisioned"], 10u64 << 30);
    let again = a.post("volumes?names=scratch", json!({"provisioned": 1024}));
    assert_eq!(
        (again.status, again.message().as_str()),
        (400, "Volume already exists.")
    );
    for invalid in ["bad.name", "-dash", &"x".repeat(64), "fa-a:vol"] {
        let reply = a.post(
            &format!("volumes?names={}", enc(invalid)),
            json!({"provisioned": 1024}),
        );
        assert_eq!(reply.status, 400, "{invalid}");
    }
    let both = a.patch(
        "volumes?names=scratch",
        json!({"name": "scratch-2", "destroyed": true}),
    );
    assert_eq!(
        (both.status, both.message().as_str()),
        (400, "Invalid combination of parameters specified.")
    );
    let renamed = a.patch("volumes?names=scratch", json!({"name": "scratch-2"}));
    assert_eq!(names(&renamed.items()), vec!["scratch-2"]);
    let live = a.delete("volumes?names=scratch-2");
    assert_eq!(live.status, 400, "eradicating a live volume is refused");
    assert!(live.message().contains("destroyed"), "{}", live.message());
    let destroyed = a.patch("volumes?names=scratch-2", json!({"destroyed": true}));
    let item = &destroyed.items()[0];
    assert_eq!(item["destroyed"], true);
    assert!(item["time_remaining"].as_u64().unwrap() > 86_000_000);
    let twice = a.patch("volumes?names=scratch-2", json!({"destroyed": true}));
    assert!(twice.message().contains("has been destroyed"));
    assert_eq!(a.ok("volumes?destroyed=true").len(), 1);
    assert_eq!(
        a.ok("volumes?destroyed=False").len(),
        4,
        "Python clients send True/False"
    );
    let recovered = a.patch("volumes?names=scratch-2", json!({"destroyed": false}));
    assert_eq!(recovered.items()[0]["destroyed"], false);
    let resized = a.patch(
        "volumes?names=scratch-2",
        json!({"provisioned": 20u64 << 30, "qos": {"iops_limit": 5000}}),
    );
    assert_eq!(resized.items()[0]["qos"]["iops_limit"], 5000);
    let shrink = a.patch(
        "volumes?names=scratch-2",
        json!({"provisioned": 1u64 << 30}),
    );
    assert_eq!(shrink.status, 400);
    assert_eq!(
        a.patch("volumes?names=scratch-2", json!({"destroyed": true}))
            .status,
        200
    );
    let eradicated = a.delete("volumes?names=scratch-2");
    assert_eq!(eradicated.status, 200);
    assert_eq!(a.get("volumes?names=scratch-2").status, 400);

    // Volume snapshots.
    let snapshot = a.post(
        &format!("volume-snapshots?source_names={}", enc(first)),
        json!({"suffix": "manual"}),
    );
    assert_eq!(snapshot.status, 200, "{}", snapshot.body);
    let snapshot_name = format!("{first}.manual");
    assert_eq!(names(&snapshot.items()), vec![snapshot_name.clone()]);
    assert_eq!(
        snapshot.items()[0]["source"]["name"].as_str(),
        Some(first.as_str())
    );
    let numbered = a.post(
        &format!("volume-snapshots?source_names={}", enc(first)),
        json!({}),
    );
    assert_eq!(numbered.items()[0]["suffix"], "1");
    let listed = a.ok(&format!("volume-snapshots?source_names={}", enc(first)));
    assert!(names(&listed).contains(&snapshot_name));
    assert!(!a.ok("volume-snapshots/transfer").is_empty());
    let renamed = a.patch(
        &format!("volume-snapshots?names={}", enc(&format!("{first}.1"))),
        json!({"name": "kept"}),
    );
    assert_eq!(names(&renamed.items()), vec![format!("{first}.kept")]);
    let gone = a.patch("volume-snapshots?names=nope.1", json!({"destroyed": true}));
    assert_eq!(gone.message(), "No such volume or snapshot.");
    assert_eq!(
        a.patch(
            &format!("volume-snapshots?names={}", enc(&snapshot_name)),
            json!({"destroyed": true})
        )
        .status,
        200
    );
    assert_eq!(
        a.delete(&format!("volume-snapshots?names={}", enc(&snapshot_name)))
            .status,
        200
    );

    // A protection group of our own, with a member and a target the target array allows.
    assert_eq!(
        a.post("protection-groups?names=extra-pg", json!({})).status,
        200
    );
    assert_eq!(
        a.post("protection-groups?names=extra-pg", json!({}))
            .message(),
        "Protection group already exists."
    );
    let schedule = a.patch(
        "protection-groups?names=extra-pg",
        json!({"replication_schedule": {"frequency": 600000, "enabled": true},
               "target_retention": {"all_for_sec": 3600, "per_day": 2, "days": 3}}),
    );
    let group = &schedule.items()[0];
    assert_eq!(group["replication_schedule"]["frequency"], 600000);
    assert_eq!(group["target_retention"]["per_day"], 2);
    assert_eq!(group["is_local"], true);
    let added = a.post(
        &format!(
            "protection-groups/volumes?group_names=extra-pg&member_names={}",
            enc(first)
        ),
        json!({}),
    );
    assert_eq!(added.items()[0]["group"]["name"], "extra-pg");
    assert_eq!(
        a.ok(&format!(
            "volumes/protection-groups?member_names={}",
            enc(first)
        ))
        .len(),
        2
    );
    let target = a.post(
        "protection-groups/targets?group_names=extra-pg&member_names=fa-b",
        json!({}),
    );
    assert_eq!(target.items()[0]["member"]["name"], "fa-b");
    let twice = a.post(
        "protection-groups/targets?group_names=extra-pg&member_names=fa-b",
        json!({}),
    );
    assert!(
        twice.message().contains("already includes"),
        "{}",
        twice.message()
    );
    let replica = b.ok("protection-groups?names=fa-a:extra-pg");
    assert_eq!(replica[0]["is_local"], false);
    assert_eq!(replica[0]["source"]["name"], "fa-a");
    let allowed = b.patch(
        "protection-groups/targets?group_names=fa-a:extra-pg",
        json!({"allowed": true}),
    );
    assert!(
        allowed.message().contains("already allowed on"),
        "{}",
        allowed.message()
    );
    let disallowed = b.patch(
        "protection-groups/targets?group_names=fa-a:extra-pg",
        json!({"allowed": false}),
    );
    assert_eq!(disallowed.items()[0]["status"], "disallowed");
    assert_eq!(
        a.ok("protection-groups/targets?group_names=extra-pg")[0]["allowed"],
        false,
        "the source learns it"
    );
    assert_eq!(
        a.patch(
            "protection-groups/targets?group_names=extra-pg",
            json!({"allowed": true})
        )
        .status,
        400,
        "allowed is set on the target"
    );
    assert_eq!(
        b.patch(
            "protection-groups/targets?group_names=fa-a:extra-pg",
            json!({"allowed": true})
        )
        .status,
        200
    );
    assert_eq!(
        a.ok("protection-groups/targets?group_names=extra-pg")[0]["allowed"],
        true
    );

    // A snapshot replicated now: the target's transfer rises to 1.0.
    let taken = a.post(
        "protection-group-snapshots?source_names=prod-web-app&replicate_now=true",
        json!({}),
    );
    assert_eq!(taken.status, 200, "{}", taken.body);
    let taken = names(&taken.items()).remove(0);
    assert!(taken.starts_with("prod-web-app."), "{taken}");
    let replica = format!("fa-a:{taken}");
    let progress = || {
        b.ok(&format!(
            "protection-group-snapshots/transfer?names={}",
            enc(&replica)
        ))[0]["progress"]
            .as_f64()
            .unwrap()
    };
    let first_seen = progress();
    assert!(
        first_seen < 1.0,
        "still in flight right after: {first_seen}"
    );
    assert!(
        wait_for(Duration::from_secs(10), || progress() == 1.0),
        "the transfer completes"
    );
    let done = &b.ok(&format!(
        "protection-group-snapshots/transfer?names={}",
        enc(&replica)
    ))[0];
    assert!(done["completed"].as_i64().unwrap() >= done["started"].as_i64().unwrap());
    assert_eq!(done["data_transferred"], 280u64 << 30);
    let source_side = &a.ok(&format!(
        "protection-group-snapshots/transfer?names={taken}"
    ))[0];
    assert_eq!(source_side["progress"], 1.0, "the source sees it done too");
    let both_flags = a.post(
        "protection-group-snapshots?source_names=prod-web-app&replicate=true&replicate_now=true",
        json!({}),
    );
    assert_eq!(
        both_flags.message(),
        "Invalid combination of parameters specified."
    );
    let local_only = a.post(
        "protection-group-snapshots?source_names=extra-pg",
        json!({"suffix": "before-change"}),
    );
    assert_eq!(names(&local_only.items()), vec!["extra-pg.before-change"]);
    let not_local = b.post(
        "protection-group-snapshots?source_names=fa-a:prod-web-app",
        json!({}),
    );
    assert_eq!(not_local.status, 400);

    // What Cinder's Pure driver asks at failover: the latest completed replicated snapshot of
    // the group, then its volume snapshots.
    let latest = b.ok(&format!(
        "protection-group-snapshots/transfer?names=fa-a:prod-web-app&destroyed=False&filter={}&sort=started-",
        enc("progress=\"1.0\"")
    ));
    assert_eq!(names(&latest)[0], replica);
    assert!(latest.len() >= 2, "the fixture's initial one too");
    assert!(latest.iter().all(|t| t["progress"] == 1.0));
    let group_snapshots =
        b.ok("protection-group-snapshots?source_names=fa-a:prod-web-app&sort=created-");
    assert_eq!(group_snapshots[0]["source"]["name"], "fa-a:prod-web-app");
    let replicated = b.ok(&format!(
        "volume-snapshots?filter={}",
        enc(&format!("name='{replica}.*'"))
    ));
    assert_eq!(replicated.len(), 4);
    let from = format!("{replica}.{first}");
    let snap = replicated
        .iter()
        .find(|s| s["name"] == from.as_str())
        .expect("the member's snapshot");
    assert_eq!(
        snap["source"]["name"].as_str(),
        Some(format!("fa-a:{first}").as_str())
    );

    // Recover a volume from it on fa-b, as a copy: the content is the snapshot's.
    let copy = b.post(
        "volumes?names=recovered-db&overwrite=true&with_default_protection=false",
        json!({"source": {"name": from}}),
    );
    assert_eq!(copy.status, 200, "{}", copy.body);
    assert_eq!(
        copy.items()[0]["source"]["name"].as_str(),
        Some(format!("fa-a:{first}").as_str())
    );
    let overwrite = b.post(
        "volumes?names=recovered-db&overwrite=true",
        json!({"source": {"name": from}}),
    );
    assert_eq!(overwrite.status, 200, "overwrite=true replaces");
    let no_overwrite = b.post(
        "volumes?names=recovered-db",
        json!({"source": {"name": from}}),
    );
    assert!(no_overwrite.message().contains("already exists"));
    let no_source = b.post(
        "volumes?names=other",
        json!({"source": {"name": "fa-a:prod-web-app.9.x"}}),
    );
    assert_eq!(no_source.message(), "No such volume or snapshot.");
    let world = control(&twin, "GET", "/world", None);
    let recovered = &world["sites"]["site-b"]["array"]["volumes"]["recovered-db"];
    assert_eq!(recovered["source"].as_str(), Some(from.as_str()));
    assert_eq!(
        recovered["content"],
        world["sites"]["site-a"]["array"]["volumes"][first.as_str()]["content"],
        "the copy carries the replicated data"
    );

    // Attach it to a host as Cinder's driver does, then detach.
    let host = b.post(
        "hosts?names=compute-1",
        json!({"iqns": ["iqn.2010-10.org.openstack:compute-1"]}),
    );
    assert_eq!(
        host.items()[0]["iqns"][0],
        "iqn.2010-10.org.openstack:compute-1"
    );
    let clash = b.post(
        "hosts?names=compute-2",
        json!({"iqns": ["iqn.2010-10.org.openstack:compute-1"]}),
    );
    assert!(clash.message().contains("already in use"));
    let by_iqn = b.ok(&format!(
        "hosts?filter={}",
        enc("iqns='iqn.2010-10.org.openstack:compute-1'")
    ));
    assert_eq!(names(&by_iqn), vec!["compute-1"]);
    let patched = b.patch(
        "hosts?names=compute-1",
        json!({"personality": "esxi", "add_iqns": ["iqn.x"]}),
    );
    assert_eq!(patched.items()[0]["personality"], "esxi");
    let connected = b.post(
        "connections?host_names=compute-1&volume_names=recovered-db",
        json!({}),
    );
    assert_eq!(connected.items()[0]["lun"], 1);
    let twice = b.post(
        "connections?host_names=compute-1&volume_names=recovered-db",
        json!({}),
    );
    assert!(twice.message().contains("already exists"));
    assert_eq!(
        b.ok("connections?volume_names=recovered-db")[0]["host"]["name"],
        "compute-1"
    );
    assert_eq!(b.ok("volumes?names=recovered-db")[0]["connection_count"], 1);
    let busy = b.delete("hosts?names=compute-1");
    assert_eq!(
        busy.message(),
        "Host cannot be deleted due to existing connections."
    );
    assert_eq!(
        b.delete("connections?host_names=compute-1&volume_names=recovered-db")
            .status,
        200
    );
    let again = b.delete("connections?host_names=compute-1&volume_names=recovered-db");
    assert!(again.message().contains("does not exist"));
    assert_eq!(b.delete("hosts?names=compute-1").status, 200);
    assert_eq!(
        b.get("hosts?names=compute-1").message(),
        "Host does not exist."
    );

    // Members and targets go; snapshots and groups are destroyed, then eradicated.
    assert_eq!(
        a.delete(&format!(
            "protection-groups/volumes?group_names=extra-pg&member_names={}",
            enc(first)
        ))
        .status,
        200
    );
    let not_member = a.delete(&format!(
        "protection-groups/volumes?group_names=extra-pg&member_names={}",
        enc(first)
    ));
    assert!(not_member.message().contains("could not be found"));
    // The same memberships from the volumes' side.
    let member_query = format!("group_names=extra-pg&member_names={}", enc(first));
    let readded = a.post(
        &format!("volumes/protection-groups?{member_query}"),
        json!({}),
    );
    assert_eq!(
        readded.items()[0]["member"]["name"].as_str(),
        Some(first.as_str())
    );
    assert_eq!(
        a.delete(&format!("volumes/protection-groups?{member_query}"))
            .status,
        200
    );
    assert_eq!(
        a.delete("protection-groups/targets?group_names=extra-pg&member_names=fa-b")
            .status,
        200
    );
    let pg_snapshot = a.patch(
        "protection-group-snapshots?names=extra-pg.before-change",
        json!({"destroyed": true}),
    );
    assert_eq!(pg_snapshot.items()[0]["destroyed"], true);
    assert_eq!(a.ok("protection-group-snapshots?destroyed=true").len(), 1);
    assert_eq!(
        a.delete("protection-group-snapshots?names=extra-pg.before-change")
            .status,
        200
    );
    let live_group = a.delete("protection-groups?names=extra-pg");
    assert_eq!(live_group.status, 400);
    assert_eq!(
        a.patch(
            "protection-groups?names=extra-pg",
            json!({"destroyed": true})
        )
        .status,
        200
    );
    assert_eq!(a.delete("protection-groups?names=extra-pg").status, 200);
    assert_eq!(
        a.get("protection-groups?names=extra-pg").message(),
        "Protection group does not exist."
    );

    // Logging out ends the session.
    let path = format!("/api/{}/logout", a.version);
    let token = a.session.clone().unwrap();
    assert_eq!(
        a.raw("POST", &path, &[("x-auth-token", token)], None)
            .status,
        200
    );
    assert_eq!(a.get("arrays").status, 401);

    let seen = checker.succeeded.lock().unwrap().clone();
    let missing: Vec<String> = OPERATIONS
        .iter()
        .map(|(method, endpoint)| {
            let path = if *endpoint == "api_version" {
                "/api/api_version".to_string()
            } else {
                format!("/api/2.56/{endpoint}")
            };
            (method.to_string(), path)
        })
        .filter(|operation| !seen.contains(operation))
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(
        missing.is_empty(),
        "operations never seen succeed: {missing:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// What Cinder's Pure driver alone calls
// ---------------------------------------------------------------------------------------------

/// The operations only Cinder's Pure driver needs (stats, iSCSI targets, volume tags); the
/// driver test must see each succeed.
const CINDER_DRIVER_OPERATIONS: &[(&str, &str)] = &[
    ("GET", "arrays/space"),
    ("GET", "arrays/performance"),
    ("GET", "controllers"),
    ("GET", "ports"),
    ("GET", "network-interfaces"),
    ("GET", "volumes/tags"),
    ("PUT", "volumes/tags/batch"),
    ("DELETE", "volumes/tags"),
];

/// What `PureISCSIDriver` (Cinder 29.0.0) asks, as it asks it: `_update_volume_stats`,
/// `_get_target_iscsi_ports` (ready controllers, their ports, no LACP bonds), `_get_host`
/// (`iqns='...' and is_local`), `_tag_volume` / `_untag_volume`.
#[test]
fn the_calls_of_cinders_pure_driver_are_answered_as_a_flasharray_does() {
    let twin = TwinProcess::start(1000, &[]);
    let checker = Checker::default();
    let mut a = FlashArray::of(&twin, "site-a", &checker);
    let mut b = FlashArray::of(&twin, "site-b", &checker);
    a.login();
    b.login();

    // Stats: capacity and space, and performance samples over the last hour.
    let array = a.ok("arrays").remove(0);
    let space = a.ok("arrays/space").remove(0);
    assert_eq!(space["name"], array["name"]);
    assert_eq!(space["capacity"], array["capacity"]);
    assert_eq!(space["space"], array["space"]);
    let provisioned = space["space"]["total_provisioned"].as_u64().unwrap();
    assert!(provisioned > 0, "the fixture's volumes count: {space}");
    assert!(
        space["space"]["total_physical"].as_u64().unwrap() < space["capacity"].as_u64().unwrap()
    );
    let end = space["time"].as_i64().unwrap();
    let start = end - 3_600_000;
    let samples = a.get(&format!(
        "arrays/performance?start_time={start}&end_time={end}&resolution=30000&total_item_count=true"
    ));
    assert_eq!(samples.status, 200, "{}", samples.body);
    assert_eq!(samples.json()["total_item_count"], 121);
    let newest = &samples.items()[0];
    assert_eq!(newest["time"], end);
    assert_eq!(newest["writes_per_sec"], 0);
    assert_eq!(newest["queue_usec_per_mirrored_write_op"], 0);
    assert_eq!(
        a.ok("arrays/performance").len(),
        1,
        "without a window: the latest"
    );
    let backwards = a.get(&format!(
        "arrays/performance?start_time={end}&end_time={start}"
    ));
    assert_eq!(backwards.status, 400);

    // iSCSI targets: ready controllers, their ports (one IQN for the array, loopback portals),
    // no bonded interfaces; fa-b has its own IQN.
    let controllers = a.ok("controllers?filter=status%3D%27ready%27");
    assert_eq!(names(&controllers), ["CT0", "CT1"]);
    assert_eq!(controllers[0]["mode"], "primary");
    let mut portals = Vec::new();
    for controller in names(&controllers) {
        let ports = a.ok(&format!(
            "ports?filter={}",
            enc(&format!("name='{controller}.*'"))
        ));
        assert_eq!(ports.len(), 1, "{controller}: {ports:?}");
        portals.push(ports[0]["portal"].as_str().unwrap().to_string());
        assert!(
            ports[0]["iqn"]
                .as_str()
                .unwrap()
                .starts_with("iqn.2010-06.com.purestorage:flasharray.")
        );
        assert_eq!(ports[0]["iqn"], a.ok("ports")[0]["iqn"]);
    }
    assert_eq!(portals, ["127.0.0.1:3260", "127.0.0.2:3260"]);
    assert_ne!(a.ok("ports")[0]["iqn"], b.ok("ports")[0]["iqn"]);
    let bonds = a.ok(&format!(
        "network-interfaces?filter={}",
        enc("eth.subtype='lacp_bond' or eth.subtype='vif'")
    ));
    assert!(bonds.is_empty(), "{bonds:?}");
    let interface = a.ok("network-interfaces?names=ct0.eth4").remove(0);
    assert_eq!(interface["services"], json!(["iscsi"]));
    assert_eq!(interface["eth"]["address"], "127.0.0.1");
    assert_eq!(a.get("ports?names=CT9.ETH4").status, 400);

    // Hosts by initiator, local ones (a bare boolean) and not.
    let iqn = "iqn.1994-05.com.redhat:compute-1";
    let created = a.post("hosts?names=compute-1-cinder", json!({"iqns": [iqn]}));
    assert_eq!(created.status, 200, "{}", created.body);
    let local = a.ok(&format!(
        "hosts?filter={}",
        enc(&format!("iqns='{iqn}' and is_local"))
    ));
    assert_eq!(names(&local), ["compute-1-cinder"]);
    let remote = a.ok(&format!(
        "hosts?filter={}",
        enc(&format!("iqns='{iqn}' and not is_local"))
    ));
    assert!(remote.is_empty());

    // Tags: created, updated by namespace and key, listed, carried by a rename and by copies
    // when copyable, deleted by namespace.
    let namespace = "openstack-integration.purestorage.com";
    assert_eq!(
        a.post("volumes?names=tagged", json!({"provisioned": 1 << 30}))
            .status,
        200
    );
    let batch = |value: &str| {
        json!([
            {"key": "ProjectId", "value": value, "namespace": namespace, "copyable": false},
            {"key": "DataStoreType", "value": "Direct Access", "namespace": namespace,
             "copyable": false},
            {"key": "owner", "value": "ops"},
        ])
    };
    let put = a.put("volumes/tags/batch?resource_names=tagged", batch("p1"));
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.items().len(), 3);
    assert_eq!(put.items()[0]["resource"]["name"], "tagged");
    assert_eq!(put.items()[2]["namespace"], "default");
    assert_eq!(put.items()[2]["copyable"], true);
    let updated = a.put("volumes/tags/batch?resource_names=tagged", batch("p2"));
    assert_eq!(updated.status, 200, "{}", updated.body);
    let ours = |name: &str| {
        a.ok(&format!(
            "volumes/tags?resource_names={name}&namespaces={namespace}"
        ))
        .iter()
        .map(|tag| {
            format!(
                "{}={}",
                tag["key"].as_str().unwrap(),
                tag["value"].as_str().unwrap()
            )
        })
        .collect::<Vec<_>>()
    };
    assert_eq!(
        ours("tagged"),
        ["ProjectId=p2", "DataStoreType=Direct Access"]
    );
    assert_eq!(a.ok("volumes/tags?resource_names=tagged").len(), 3);
    assert_eq!(
        a.patch("volumes?names=tagged", json!({"name": "tagged-2"}))
            .status,
        200
    );
    assert_eq!(ours("tagged-2").len(), 2, "a rename keeps the tags");
    let copy = a.post(
        "volumes?names=copy",
        json!({"source": {"name": "tagged-2"}}),
    );
    assert_eq!(copy.status, 200, "{}", copy.body);
    let copied = a.ok("volumes/tags?resource_names=copy");
    assert_eq!(copied.len(), 1, "only the copyable tag: {copied:?}");
    assert_eq!(copied[0]["key"], "owner");
    let deleted = a.delete(&format!(
        "volumes/tags?resource_names=tagged-2&namespaces={namespace}"
    ));
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert!(ours("tagged-2").is_empty());
    assert_eq!(
        a.ok("volumes/tags?resource_names=tagged-2").len(),
        1,
        "other namespaces stay"
    );
    let unknown = a.put("volumes/tags/batch?resource_names=nope", batch("p"));
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.message().contains("does not exist"),
        "{}",
        unknown.body
    );
    assert_eq!(a.put("volumes/tags/batch", batch("p")).status, 400);
    assert_eq!(
        a.put("volumes/tags/batch?resource_names=copy", json!([]))
            .status,
        400
    );

    let seen = checker.succeeded.lock().unwrap().clone();
    let missing: Vec<String> = CINDER_DRIVER_OPERATIONS
        .iter()
        .map(|(method, endpoint)| (method.to_string(), format!("/api/2.56/{endpoint}")))
        .filter(|operation| !seen.contains(operation))
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(
        missing.is_empty(),
        "operations never seen succeed: {missing:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Pages of a large array
// ---------------------------------------------------------------------------------------------

#[test]
fn three_thousand_volumes_list_in_pages_with_continuation_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(crate::root().join("examples/sim/two-sites.yaml")).unwrap();
    let mut fixture = protector_twin::fixture::parse(&text).unwrap();
    let site_a = fixture.sites.get_mut("site-a").unwrap();
    for index in 0..3000 {
        site_a
            .array
            .volumes
            .push(protector_twin::fixture::ArrayVolumeFixture {
                name: format!("bulk-{index:05}"),
                size_gb: 1,
            });
    }
    let path = dir.path().join("large.yaml");
    std::fs::write(&path, protector::yaml::to_string(&fixture).unwrap()).unwrap();
    let twin = TwinProcess::start(1000, &["--fixture", path.to_str().unwrap()]);
    let checker = Checker::default();
    let mut a = FlashArray::of(&twin, "site-a", &checker);
    a.login();

    let count = a.get("volumes?limit=0&total_item_count=true").json();
    assert_eq!(count["total_item_count"], 3004);
    assert_eq!(count["items"].as_array().unwrap().len(), 0);

    // Default pages, then pages of 700 following the token (quoted, as py-pure-client sends it).
    for (limit, quoted) in [(None, false), (Some(700), true)] {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        let started = Instant::now();
        loop {
            let mut query = vec!["total_item_count=true".to_string()];
            if let Some(limit) = limit {
                query.push(format!("limit={limit}"));
            }
            if let Some(token) = &token {
                let token = if quoted {
                    format!("'{token}'")
                } else {
                    token.clone()
                };
                query.push(format!("continuation_token={}", enc(&token)));
            }
            let reply = a.get(&format!("volumes?{}", query.join("&")));
            assert_eq!(reply.status, 200, "{}", reply.body);
            let page = reply.json();
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= limit.unwrap_or(1000));
            seen.extend(names(items));
            pages += 1;
            assert_eq!(page["total_item_count"], 3004);
            match page["continuation_token"].as_str() {
                Some(next) => {
                    assert_eq!(page["more_items_remaining"], true);
                    assert_eq!(
                        reply.headers.get("x-next-token").map(String::as_str),
                        Some(next)
                    );
                    token = Some(next.to_string());
                }
                None => {
                    assert_eq!(page["more_items_remaining"], false);
                    break;
                }
            }
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(
            (seen.len(), unique.len()),
            (3004, 3004),
            "every volume exactly once"
        );
        assert_eq!(pages, 3004usize.div_ceil(limit.unwrap_or(1000)));
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?} for {pages} pages",
            started.elapsed()
        );
    }

    // Sorted lists page by offset and carry no token.
    let sorted = a.get("volumes?sort=name-&limit=10");
    assert_eq!(sorted.json()["continuation_token"], Value::Null);
    assert_eq!(sorted.json()["more_items_remaining"], true);
    let first_page = names(&sorted.items());
    assert!(first_page[0].starts_with("volume-"), "{first_page:?}");
    assert!(
        first_page.windows(2).all(|pair| pair[0] > pair[1]),
        "{first_page:?}"
    );
    let next = a.ok("volumes?sort=name-&limit=10&offset=10");
    assert!(names(&sorted.items()).last() > names(&next).first());
    let filtered = a.get(&format!(
        "volumes?filter={}&limit=100&total_item_count=true",
        enc("name='bulk-01*'")
    ));
    assert_eq!(filtered.json()["total_item_count"], 1000);
    let bad_token = a.get("volumes?continuation_token=%21%21");
    assert_eq!(bad_token.status, 400);
    let bad_filter = a.get(&format!("volumes?filter={}", enc("name=")));
    assert_eq!(bad_filter.status, 400);
}

// ---------------------------------------------------------------------------------------------
// Replication while a site is down
// ---------------------------------------------------------------------------------------------

#[test]
fn a_transfer_stands_still_while_the_source_site_is_down() {
    let twin = TwinProcess::start(1000, &[]);
    let checker = Checker::default();
    let mut a = FlashArray::of(&twin, "site-a", &checker);
    let mut b = FlashArray::of(&twin, "site-b", &checker);
    a.login();
    b.login();
    a.patch(
        "protection-groups?names=prod-web-app",
        json!({"replication_schedule": {"enabled": false}}),
    );
    // 10 TiB more in the group: the next transfer takes about 21 s at speed 1000.
    assert_eq!(
        a.post(
            "volumes?names=big&add_to_protection_group_names=prod-web-app",
            json!({"provisioned": 10u64 << 40})
        )
        .status,
        200
    );
    let taken = a.post(
        "protection-group-snapshots?source_names=prod-web-app&replicate_now=true",
        json!({}),
    );
    assert_eq!(taken.status, 200, "{}", taken.body);
    let taken = names(&taken.items()).remove(0);
    let replica = format!("fa-a:{taken}");
    let progress = |array: &FlashArray, name: &str| {
        array.ok(&format!("protection-group-snapshots/transfer?names={name}"))[0]["progress"]
            .as_f64()
            .unwrap()
    };

    control(&twin, "POST", "/sites/site-a/down", None);
    let frozen = progress(&b, &replica);
    assert!(frozen < 1.0);
    assert_eq!(b.ok("array-connections")[0]["status"], "connecting");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        progress(&b, &replica),
        frozen,
        "no progress while the source is down"
    );

    control(&twin, "POST", "/sites/site-a/up", None);
    std::thread::sleep(Duration::from_millis(500));
    let moving = progress(&b, &replica);
    assert!(moving > frozen && moving < 1.0, "{frozen} -> {moving}");
    assert_eq!(b.ok("array-connections")[0]["status"], "connected");
    let source = progress(&a, &taken);
    assert!(
        (source - moving).abs() < 0.1,
        "both ends agree: {source} vs {moving}"
    );

    // Copying a snapshot still in flight is refused: its data is not here yet.
    let early = b.post(
        "volumes?names=too-early",
        json!({"source": {"name": format!("{replica}.big")}}),
    );
    assert_eq!(early.status, 400);
    // `wait` completes a cycle at once.
    let waited = control(
        &twin,
        "POST",
        "/replicate",
        Some(json!({"site": "site-a", "protection_group": "prod-web-app", "wait": true})),
    );
    let done = waited["snapshots"][0]["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(done, taken);
    assert_eq!(progress(&b, &format!("fa-a:{done}")), 1.0);
    let copy = b.post(
        "volumes?names=in-time",
        json!({"source": {"name": format!("fa-a:{done}.big")}}),
    );
    assert_eq!(copy.status, 200, "{}", copy.body);
}
