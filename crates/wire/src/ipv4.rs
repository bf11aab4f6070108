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

/// Whether `address` is inside one of the inclusive `pools`.
pub fn in_pools(pools: &[(String, String)], address: &str) -> bool {
    let Ok(address) = address.parse::<Ipv4Addr>() else {
        return false;
    };
    pools.iter().any(
        |(start, end)| match (start.parse::<Ipv4Addr>(), end.parse::<Ipv4Addr>()) {
            (Ok(start), Ok(end)) => address >= start && address <= end,
            _ => false,
        },
    )
}

/// How many addresses the inclusive range `start..=end` holds (0 when malformed).
pub fn range_len(start: &str, end: &str) -> u64 {
    match (start.parse::<Ipv4Addr>(), end.parse::<Ipv4Addr>()) {
        (Ok(start), Ok(end)) if end >= start => u64::from(u32::from(end) - u32::from(start)) + 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_pools() {
        assert_eq!(range_len("10.0.0.2", "10.0.0.254"), 253);
        assert_eq!(range_len("10.0.0.9", "10.0.0.2"), 0);
        let pools = vec![("10.0.0.2".to_string(), "10.0.0.4".to_string())];
        assert!(in_pools(&pools, "10.0.0.4"));
        assert!(!in_pools(&pools, "10.0.0.5"));
        assert!(contains("10.0.0.0/24", "10.0.0.255"));
        assert!(!contains("10.0.0.0/24", "10.0.1.0"));
    }
}
