//! The committed JSON Schemas are what `protector schema` generates.

use crate::{protector, root, stderr};

#[test]
fn committed_schemas_are_current() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let output = protector(&["schema", "--out", out]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let written = std::fs::read_dir(dir.path()).unwrap();
    let names: Vec<String> = written
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.len() >= 11, "{names:?}");
    for name in &names {
        let generated = std::fs::read_to_string(dir.path().join(name)).unwrap();
        let committed =
            std::fs::read_to_string(root().join("schemas").join(name)).unwrap_or_default();
        assert!(
            generated == committed,
            "schemas/{name} is stale: regenerate it with `cargo run -- schema` and commit it"
        );
    }
}

#[test]
fn the_schema_describes_the_spec() {
    let text = std::fs::read_to_string(root().join("schemas/protection-group.schema.json"))
        .expect("committed schema");
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let required = schema["required"].as_array().unwrap();
    for key in ["version", "name", "sites", "primary", "policy", "members"] {
        assert!(required.contains(&key.into()), "{key} required");
    }
    assert_eq!(schema["additionalProperties"], false);
    let draft07 =
        std::fs::read_to_string(root().join("schemas/protection-group.draft-07.schema.json"))
            .unwrap();
    assert!(draft07.contains("http://json-schema.org/draft-07/schema#"));
}

/// `document` is valid against `schemas/{schema}` (every JSON protector prints has a schema).
pub fn assert_conforms(schema: &str, document: &serde_json::Value) {
    let text = std::fs::read_to_string(root().join("schemas").join(schema)).unwrap();
    let schema_value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema_value).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{schema}: {errors:?}\n{document}");
}
