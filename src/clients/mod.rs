//! Clients for the services protector talks to: clouds.yaml today; Keystone, Nova, Cinder, Neutron and FlashArray later.

pub mod cinder;
pub mod clouds;
pub mod keystone;
pub mod neutron;
pub mod nova;
