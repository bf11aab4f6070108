//! The twin: a two-site OpenStack + FlashArray simulator that real clients accept.
//!
//! It serves, per site, Keystone, Nova, Cinder and Neutron on one loopback port and a FlashArray
//! REST 2.x API over HTTPS on another, plus a control API to take sites down, inject faults and
//! dump the world. Operators rehearse on it (`protector sim up`), the README demo and the tests
//! run on it. It speaks the wire models of `protector_wire` and never imports protector itself:
//! the compiler keeps the product's logic out of it. Layout: `world` (all state, one lock per
//! site), `fixture` (the starting world), `clock` (modelled latencies, `--speed`),
//! `openstack/` and `flasharray/` (the services).

pub mod clock;
pub mod control;
pub mod errors;
pub mod faults;
pub mod fixture;
pub mod flasharray;
pub mod openstack;
pub mod outputs;
pub mod server;
pub mod tls;
pub mod world;
