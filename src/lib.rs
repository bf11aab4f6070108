//! protector: declarative plan/apply disaster recovery for OpenStack.
//!
//! Operators describe a protection group (VMs whose volumes a FlashArray replicates between two
//! OpenStack sites) in YAML; protector plans each operation (failover, failback, drill,
//! converge) as a DAG, shows what will change, applies it and records what it did.
//!
//! Layout, one concept per module (DESIGN.md §6):
//! - [`spec`]: the YAML model, its validation and JSON Schema;
//! - [`clients`]: clouds.yaml and the service clients;
//! - [`diagnostic`] and [`render`]: what is wrong and how it reads;
//! - [`inventory`]: discovery, what the sites report now;
//! - [`state`]: the recorded state, its stores and journals;
//! - [`plan`]: the pure planner (DAG, diff, RTO); [`apply`]: the executor, the only code
//!   that changes sites;
//! - [`report`]: what an operation did, from its records, and evidence bundles that seal it;
//! - [`cli`]: the command line, thin over the library.
//!
//! Two crates of the workspace beside it: `protector-wire` (the services' wire models, which the
//! [`clients`] re-export, and what both sides share: [`yaml`], [`ipv4`], durations, ids, names)
//! and `protector-twin` (the simulator), which [`cli`] serves for `protector sim` and `demo`
//! and the tests drive; the twin never imports this crate.

pub mod apply;
pub mod cli;
pub mod clients;
pub mod diagnostic;
pub mod inventory;
pub mod plan;
pub mod render;
pub mod report;
pub mod schemas;
pub mod spec;
pub mod state;

pub use protector_wire::{ipv4, yaml};

/// This build's version, as plans record it: the release alone, so that plans made by the
/// same release read the same (`plans/` are compared in tests).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// [`VERSION`], the commit it was built from with that commit's date, and the day the binary
/// was built, as `protector --version` prints it (`unknown` outside a git checkout).
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("PROTECTOR_COMMIT"),
    " ",
    env!("PROTECTOR_COMMIT_DATE"),
    ", built ",
    env!("PROTECTOR_BUILD_DATE"),
    ")"
);
