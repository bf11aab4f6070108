//! The JSON Schema of the spec file, generated from [`SpecFile`](super::file::SpecFile) so it
//! can never drift from the parser. Written by `protector schema` to `schemas/`, in the current
//! draft (2020-12) and in draft-07 for editors whose YAML plugin only knows draft-07.

use schemars::generate::SchemaSettings;

use super::file::SpecFile;

/// `(file name, JSON text)` of every schema protector publishes.
pub fn documents() -> Vec<(&'static str, String)> {
    let render = |settings: SchemaSettings| {
        let schema = settings.into_generator().into_root_schema_for::<SpecFile>();
        let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        text.push('\n');
        text
    };
    vec![
        (
            "protection-group.schema.json",
            render(SchemaSettings::draft2020_12()),
        ),
        (
            "protection-group.draft-07.schema.json",
            render(SchemaSettings::draft07()),
        ),
    ]
}
