//! `protector site validate FILE SITE`: everything a failover to (or from) SITE needs, checked
//! before the worst day: Keystone auth and catalog, the array login, the Cinder manage policy
//! (the role trap that otherwise fails a failover at its manage step), the Cinder backend pool
//! the spec names (a typo fails every manage the same way), mapped networks and flavors present.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::output::{ListOutput, unknown_column};
use super::plan::load_spec;
use super::{CommandError, Outcome, clouds_for, print};
use crate::inventory::{ManagePolicy, SiteInventory};
use crate::render::records::{self, SiteCheck};
use crate::render::table;

#[derive(Debug, clap::Subcommand)]
pub enum SiteCommand {
    /// Check a site can take part in this group's operations.
    #[command(after_help = "\\
Examples:
  protector site validate pg.yaml site-b
  protector site validate pg.yaml site-b -f json

Exit codes: 0 every check passed, 3 a check failed (each says what to fix).")]
    Validate(Args),
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_name = "FILE")]
    file: PathBuf,
    #[arg(value_name = "SITE")]
    site: String,
    #[command(flatten)]
    output: ListOutput,
    /// Per-call timeout for the site's APIs, in seconds (default: the cloud's `api_timeout` in
    /// clouds.yaml, else 30; the array's calls: 30).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
}

pub fn run(command: &SiteCommand) -> Result<Outcome, CommandError> {
    let SiteCommand::Validate(args) = command;
    let spec = load_spec(&args.file)?;
    if !spec.sites.contains_key(&args.site) {
        return Err(CommandError::new(format!(
            "`{}` is not a site of {} (its sites: {})",
            args.site,
            spec.name,
            spec.sites.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CommandError::new(format!("cannot start the async runtime: {error}")))?;
    let inventory = runtime.block_on(crate::inventory::discover::discover_site(
        &spec,
        &args.site,
        &clouds_for(&spec, [&args.site], args.timeout),
        super::call_timeout(args.timeout),
    ));
    let site = &args.site;
    let mut checks: Vec<(String, Result<String, String>)> = Vec::new();
    match &inventory {
        SiteInventory::Unreachable { error } => {
            checks.push(("keystone auth and catalog".to_string(), Err(error.clone())));
        }
        SiteInventory::Reachable(facts) => {
            checks.push((
                "keystone auth and catalog".to_string(),
                Ok("token issued; compute, block-storage and network answered".to_string()),
            ));
            checks.push((
                "array login".to_string(),
                match (&facts.array, &facts.array_error) {
                    (Some(array), _) => Ok(format!(
                        "{} answered ({} volumes)",
                        array.name,
                        array.volumes.len()
                    )),
                    (None, error) => Err(error.clone().unwrap_or_else(|| "no answer".to_string())),
                },
            ));
            let roles = facts.roles.join(", ");
            let admin = facts.roles.iter().any(|role| role == "admin");
            let unanswered = facts.manage_policy.unanswered();
            checks.push((
                "cinder manage policy".to_string(),
                match &facts.manage_policy {
                    ManagePolicy::Allowed => Ok(
                        "Cinder allows volume_extension:volume_manage (probed with a manage request for a host no backend has; nothing was created)".to_string(),
                    ),
                    ManagePolicy::Refused => Err(format!(
                        "Cinder's policy denies volume_extension:volume_manage to protector's user (roles {roles}); give it the admin role or allow its role in Cinder's policy"
                    )),
                    _ if admin => Ok(format!(
                        "not probed ({unanswered}); roles {roles} include admin, which Cinder's default rule requires"
                    )),
                    _ => Err(format!(
                        "not probed ({unanswered}) and roles {roles} lack admin, which Cinder's default volume_extension:volume_manage rule requires"
                    )),
                },
            ));
            let host = &spec.sites[site].flasharray.cinder_host;
            checks.push((
                "cinder backend pool".to_string(),
                match &facts.cinder_pools {
                    Some(pools) if pools.contains(host) => Ok(format!("{host} is a pool of Cinder")),
                    Some(pools) => Err(format!(
                        "no pool {host} (Cinder's pools: {}); set sites.{site}.flasharray.cinder_host to the pool of the backend on the array",
                        if pools.is_empty() { "none".to_string() } else { pools.join(", ") }
                    )),
                    None => Ok(format!(
                        "{host} not checked: Cinder does not let protector list its pools (it checks the host when it manages)"
                    )),
                },
            ));
            checks.push((
                "cinder volume service".to_string(),
                match facts.volume_services.blocks(host) {
                    Ok(None) => Ok(format!(
                        "the volume service of {} is up and enabled",
                        host.split('#').next().unwrap_or(host)
                    )),
                    Ok(Some(problem)) => Err(problem),
                    Err(why) => Ok(format!(
                        "not checked ({why}); Cinder checks it when it manages"
                    )),
                },
            ));
            let mut missing = Vec::new();
            for pair in spec.mappings.networks.iter().chain(&spec.drill.networks) {
                if let Some(name) = pair.on(site)
                    && facts.network_named(name).is_none()
                {
                    missing.push(format!("network {name}"));
                }
            }
            for pair in &spec.mappings.flavors {
                if let Some(name) = pair.on(site)
                    && facts.flavor_named(name).is_none()
                {
                    missing.push(format!("flavor {name}"));
                }
            }
            checks.push((
                "mapped networks and flavors".to_string(),
                if missing.is_empty() {
                    Ok("all present".to_string())
                } else {
                    Err(format!("missing on {site}: {}", missing.join(", ")))
                },
            ));
        }
    }
    let rows: Vec<Map<String, Value>> = checks
        .iter()
        .map(|(check, outcome)| {
            let (status, detail) = match outcome {
                Ok(detail) => ("ok", detail),
                Err(detail) => ("FAILED", detail),
            };
            records::fields(&SiteCheck {
                check: check.to_string(),
                status: status.to_string(),
                detail: detail.clone(),
            })
        })
        .collect();
    print(
        &table::list(
            &["check", "status", "detail"],
            &rows,
            &args.output.options(),
        )
        .map_err(unknown_column)?,
    );
    if checks.iter().any(|(_, outcome)| outcome.is_err()) {
        return Err(CommandError {
            message: format!("{site} is not ready for this group's operations"),
            hint: Some("fix the FAILED checks above and run this again".to_string()),
            outcome: Outcome::Refused,
        });
    }
    Ok(Outcome::Success)
}
