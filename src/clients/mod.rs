//! Clients for the services protector talks to, and their wire models (shared with the twin):
//! clouds.yaml (and a cloud as resolved from it, `resolution`), the HTTP layer, Keystone
//! sessions, Nova, Cinder, Neutron and FlashArray.

pub mod cinder;
pub mod clouds;
pub mod flasharray;
pub mod http;
pub mod keystone;
pub mod neutron;
pub mod nova;
pub mod openstack;
pub mod resolution;
pub mod site;
