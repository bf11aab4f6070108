//! The JSON Schemas protector publishes in `schemas/`, generated from the types that read and
//! write the files so they can never drift: the spec (in draft 2020-12, and in draft-07 for
//! editors whose YAML plugin only knows draft-07), the plan file, and the JSON of `protector
//! cloud show`. `protector schema` writes
//! them; a test fails when the committed copies are stale.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;

use crate::clients::resolution::ResolvedCloud;
use crate::plan::Plan;
use crate::spec::file::SpecFile;

fn render<T: JsonSchema>(settings: SchemaSettings) -> String {
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// `(file name, JSON text)` of every schema protector publishes.
pub fn documents() -> Vec<(&'static str, String)> {
    vec![
        (
            "protection-group.schema.json",
            render::<SpecFile>(SchemaSettings::draft2020_12()),
        ),
        (
            "protection-group.draft-07.schema.json",
            render::<SpecFile>(SchemaSettings::draft07()),
        ),
        (
            "plan.schema.json",
            render::<Plan>(SchemaSettings::draft2020_12()),
        ),
        (
            "cloud-show.schema.json",
            render::<ResolvedCloud>(SchemaSettings::draft2020_12()),
        ),
    ]
}
