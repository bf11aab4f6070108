//! The committed JSON Schemas are what `protector schema` generates.

use crate::{protector, root, stderr};

#[test]
fn committed_schemas_are_current() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let output = protector(&["schema", "--out", out]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for name in [
        "protection-group.schema.json",
        "protection-group.draft-07.schema.json",
        "plan.schema.json",
        "cloud-show.schema.json",
    ] {
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
