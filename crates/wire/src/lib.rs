//! What protector and its twin both speak, so neither imports the other: the request and
//! response types of the services (each client deserializes them, the twin serializes them) and
//! the conventions and formats the two sides must agree on.
//!
//! - [`keystone`], [`nova`], [`cinder`], [`neutron`], [`flasharray`], [`swift`]: the wire models, field for
//!   field as the API references show them; [`common`]: the serde shapes they share;
//! - [`names`]: the Pure driver's name for an unmanaged volume, the `FA_<SITE>_*` variables;
//! - [`ids`]: seeded identifiers (the twin's UUIDs, the clients' request ids);
//! - [`ipv4`]: CIDR arithmetic (planning's fixed IPs, the twin's address management);
//! - [`yaml`]: the one place YAML is read and written (specs, clouds.yaml, twin fixtures);
//! - [`duration`]: durations as operators write them (`15m`, `1h30m`).

pub mod cinder;
pub mod common;
pub mod duration;
pub mod flasharray;
pub mod ids;
pub mod ipv4;
pub mod keystone;
pub mod names;
pub mod neutron;
pub mod nova;
pub mod swift;
pub mod yaml;
