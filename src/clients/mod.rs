//! Clients for the services protector talks to: clouds.yaml today; Keystone, Nova, Cinder, Neutron and FlashArray later.

pub mod clouds;
