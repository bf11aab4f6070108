//! `protector cloud show [CLOUD]`: a cloud of clouds.yaml (or of `OS_*` variables) as protector
//! resolves it: the file it came from, auth, region, interface, TLS, timeout and the endpoint of
//! each service, from a token's catalog. No secret is printed.

use serde_json::{Map, Value, json};

use super::output::{RecordOutput, unknown_column};
use super::{CommandError, Outcome, eprint, print};
use crate::clients::clouds::CloudsEnvironment;
use crate::clients::resolution;
use crate::render::{self, table::Format};

#[derive(Debug, clap::Subcommand)]
pub enum CloudCommand {
    /// Show a cloud as protector resolves it: source file, auth type and URL, user and
    /// project, region, interface, TLS verification, timeout, and the endpoint of compute,
    /// block storage, network and identity (authenticating to find them).
    #[command(after_help = "\
Examples:
  protector cloud show site-a
  protector cloud show site-a -f json | jq .endpoints.compute.url
  OS_CLOUD=site-b protector cloud show
  protector cloud show envvars          # the cloud of OS_AUTH_URL, OS_USERNAME, ...

CLOUD defaults to $OS_CLOUD, else the cloud OS_* variables make, else the only cloud of
clouds.yaml. Settings that configure what protector never uses are listed under unused_keys.

Exit codes: 0 resolved, 1 error (clouds.yaml, auth or catalog; the hint says what to fix).")]
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The cloud's name in clouds.yaml (default: $OS_CLOUD).
    #[arg(value_name = "CLOUD")]
    cloud: Option<String>,
    #[command(flatten)]
    output: RecordOutput,
    /// Per-call timeout, in seconds (default: the cloud's `api_timeout`, else 30).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
}

pub fn run(command: &CloudCommand) -> Result<Outcome, CommandError> {
    let CloudCommand::Show(args) = command;
    let clouds = CloudsEnvironment {
        command_timeout: args.timeout.map(|_| super::call_timeout(args.timeout)),
        ..CloudsEnvironment::from_process()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| CommandError::new(format!("cannot start the async runtime: {error}")))?;
    let (resolved, cloud) = runtime
        .block_on(resolution::resolve(
            &clouds,
            args.cloud.as_deref(),
            super::call_timeout(None),
        ))
        .map_err(|error| CommandError {
            message: error.message,
            hint: error.hint,
            outcome: Outcome::Error,
        })?;
    if let Some(warning) = cloud.unverified_warning(&format!("cloud `{}`", cloud.name)) {
        eprint(&format!(
            "{} {warning}",
            render::paint(render::WARNING, "warning:")
        ));
    }
    let value = serde_json::to_value(&resolved).unwrap_or_default();
    let options = args.output.options();
    let record = match options.format {
        Format::Json | Format::Yaml => value.as_object().cloned().unwrap_or_default(),
        _ => flat(&value),
    };
    print(&crate::render::table::record(&record, &options).map_err(unknown_column)?);
    Ok(Outcome::Success)
}

/// The record with `endpoints` and `profile` spelled out one field each, for a table.
fn flat(value: &Value) -> Map<String, Value> {
    let mut record = Map::new();
    for (key, field) in value.as_object().into_iter().flatten() {
        match (key.as_str(), field) {
            ("endpoints", Value::Object(endpoints)) => {
                for (service, endpoint) in endpoints {
                    let text = match (&endpoint["url"], &endpoint["from"]) {
                        (Value::String(url), Value::String(from)) if from == "catalog" => {
                            url.clone()
                        }
                        (Value::String(url), Value::String(from)) => format!("{url} ({from})"),
                        _ => String::new(),
                    };
                    record.insert(format!("{service}_endpoint"), json!(text));
                }
            }
            ("profile", Value::Object(profile)) => {
                record.insert(
                    "profile".to_string(),
                    json!(format!(
                        "{} ({})",
                        profile["name"].as_str().unwrap_or_default(),
                        profile["file"].as_str().unwrap_or_default()
                    )),
                );
            }
            _ => {
                record.insert(key.clone(), field.clone());
            }
        }
    }
    record
}
