//! Neutron v2.0 (networking): networks, subnets, ports and security groups.

pub mod model;
