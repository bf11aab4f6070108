//! The twin: a two-site OpenStack + FlashArray simulator that real clients accept.
//!
//! It serves, per site, Keystone, Nova, Cinder, Neutron and Swift on one loopback port and a
//! FlashArray REST 2.x API over HTTPS on another, plus a control API to take sites down, inject
//! faults and dump the world. Operators rehearse on it (`protector sim up`), the README demo and the tests
//! run on it. It speaks the wire models of `protector_wire` and never imports protector itself:
//! the compiler keeps the product's logic out of it.
//!
//! Layout, in layers (a module uses only those of its layer and below):
//! - at the bottom: `clock` (modelled latencies, `--speed`), `errors`, `faults`, `fixture` (the
//!   starting world, as written), `tls`, the state of each service (`openstack::state`,
//!   `flasharray::state`), and `world` (all state, one lock per site, and the [`world::SiteContext`]
//!   a request handler works with; it applies the services' time-driven changes it was made
//!   with, and imports no service);
//! - above it the services: `openstack/` (Keystone, and Nova, Cinder, Neutron and Swift, one
//!   module per resource) and `flasharray/` (the REST API, one module per resource, and
//!   replication), each owning its time-driven changes (`advance`, Nova's `power_off`);
//! - on top: `populate` (the world a fixture describes, built by the services' rules, made with
//!   their time-driven changes), `runtime` (the running endpoints), `control` (the control API),
//!   `server` (starts it all) and `outputs` (the clouds.yaml and env files of a running twin).

pub mod clock;
pub mod control;
pub mod errors;
pub mod faults;
pub mod fixture;
pub mod flasharray;
pub mod openstack;
pub mod outputs;
pub mod populate;
pub mod runtime;
pub mod server;
pub mod tls;
pub mod world;
