//! The JSON Schemas protector publishes in `schemas/`, generated from the types that read and
//! write the files so they can never drift: the spec (in draft 2020-12, and in draft-07 for
//! editors whose YAML plugin only knows draft-07), the plan file, and every JSON document the
//! commands print (records, lists, progress lines, reports, `cloud show`, each with its
//! `format_version`). `protector schema` writes them; a test fails when the committed copies
//! are stale.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;

use crate::clients::resolution::ResolvedCloud;
use crate::plan::Plan;
use crate::render::records::{
    GroupShown, OperationRow, OperationShown, PolicyShown, ProgressEvent, SiteCheck, SyncRow,
};
use crate::report::Report;
use crate::spec::file::SpecFile;

/// A JSON document as protector prints it: its format version first, then its fields.
#[derive(JsonSchema)]
#[allow(dead_code)] // only its schema is used: `render::versioned` writes the field
struct Versioned<T> {
    /// The version of the output's format (`1.x` only adds fields).
    format_version: String,
    #[serde(flatten)]
    record: T,
}

/// The schema of `T` as printed, titled `title`.
fn printed<T: JsonSchema>(title: &str) -> String {
    let mut schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert("title".to_string(), title.into());
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

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
            "operation-show.schema.json",
            printed::<Versioned<OperationShown>>("protector operation show OP -f json"),
        ),
        (
            "operation-list.schema.json",
            printed::<Vec<Versioned<OperationRow>>>("protector operation list FILE -f json"),
        ),
        (
            "protection-group-show.schema.json",
            printed::<Versioned<GroupShown>>("protector protection-group show FILE -f json"),
        ),
        (
            "protection-group-policy-show.schema.json",
            printed::<Versioned<PolicyShown>>(
                "protector protection-group policy-show FILE -f json",
            ),
        ),
        (
            "protection-group-sync-status.schema.json",
            printed::<Vec<Versioned<SyncRow>>>(
                "protector protection-group sync-status FILE -f json",
            ),
        ),
        (
            "site-validate.schema.json",
            printed::<Vec<Versioned<SiteCheck>>>("protector site validate FILE SITE -f json"),
        ),
        (
            "progress-event.schema.json",
            printed::<Versioned<ProgressEvent>>(
                "a line of `-f json` progress (apply, failover, failback, drill, rollback, sync-force)",
            ),
        ),
        (
            "report.schema.json",
            printed::<Versioned<Report>>("protector report OP -f json"),
        ),
        (
            "cloud-show.schema.json",
            printed::<Versioned<ResolvedCloud>>("protector cloud show CLOUD -f json"),
        ),
    ]
}
