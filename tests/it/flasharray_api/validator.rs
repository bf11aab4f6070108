//! The validator of the JSON-Schema subset Pure's spec uses (the overview in `mod.rs` says what
//! it checks and what it ignores), and, no twin needed, the wire models and the validator
//! against the spec: every field of every model is a property of its spec schema, the spec uses
//! only what the validator checks, and the validator rejects what the spec does not describe.

use std::collections::{BTreeMap, BTreeSet};

use protector::clients::flasharray::model;
use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::{Value, json};

use super::{schema_ref, spec};

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
pub(super) fn violations(schema: &Value, value: &Value) -> Vec<String> {
    let validator = Validator { spec: spec() };
    let mut errors = Vec::new();
    validator.validate(schema, value, "$", &mut errors);
    errors
}

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
