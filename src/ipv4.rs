//! IPv4 CIDR arithmetic, shared by planning (can a fixed IP be kept on the target subnet?) and
//! the twin's address management.

use std::net::Ipv4Addr;

/// `10.10.1.0/24` -> (network address, prefix length).
pub fn parse_cidr(cidr: &str) -> Option<(Ipv4Addr, u8)> {
    let (address, prefix) = cidr.split_once('/')?;
    let address: Ipv4Addr = address.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    if prefix > 30 {
        return None;
    }
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Some((Ipv4Addr::from(u32::from(address) & mask), prefix))
}

pub fn broadcast(network: Ipv4Addr, prefix: u8) -> u32 {
    u32::from(network) | (u32::MAX >> prefix)
}

/// Whether `address` lies in the CIDR.
pub fn contains(cidr: &str, address: &str) -> bool {
    let (Some((network, prefix)), Ok(address)) = (parse_cidr(cidr), address.parse::<Ipv4Addr>())
    else {
        return false;
    };
    let value = u32::from(address);
    value >= u32::from(network) && value <= broadcast(network, prefix)
}
