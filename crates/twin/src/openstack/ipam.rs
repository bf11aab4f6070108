//! IPv4 address management for simulated subnets: parse CIDRs, default gateways and pools, and
//! hand out the first free address (Neutron's behaviour for a subnet without a fancy IPAM driver).

use std::net::Ipv4Addr;

use protector_wire::ipv4::broadcast;
pub use protector_wire::ipv4::{contains, in_pools, parse_cidr};

/// The default gateway: the first host address.
pub fn default_gateway(cidr: &str) -> Option<String> {
    let (network, _) = parse_cidr(cidr)?;
    Some(Ipv4Addr::from(u32::from(network) + 1).to_string())
}

/// The default allocation pool: every host address after the gateway.
pub fn default_pool(cidr: &str) -> Option<(String, String)> {
    let (network, prefix) = parse_cidr(cidr)?;
    let first = Ipv4Addr::from(u32::from(network) + 2);
    let last = Ipv4Addr::from(broadcast(network, prefix) - 1);
    Some((first.to_string(), last.to_string()))
}

/// The first address of `pools` for which `taken` is false.
pub fn first_free(pools: &[(String, String)], taken: impl Fn(&str) -> bool) -> Option<String> {
    pools.iter().find_map(|(start, end)| {
        let (start, end) = (
            start.parse::<Ipv4Addr>().ok()?,
            end.parse::<Ipv4Addr>().ok()?,
        );
        (u32::from(start)..=u32::from(end))
            .map(|value| Ipv4Addr::from(value).to_string())
            .find(|candidate| !taken(candidate))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_neutron() {
        assert_eq!(
            default_gateway("10.10.1.0/24").as_deref(),
            Some("10.10.1.1")
        );
        assert_eq!(
            default_pool("10.10.1.0/24"),
            Some(("10.10.1.2".to_string(), "10.10.1.254".to_string()))
        );
        assert_eq!(
            parse_cidr("10.10.1.7/24").unwrap().0.to_string(),
            "10.10.1.0"
        );
        assert!(parse_cidr("10.10.1.0/31").is_none());
        assert!(parse_cidr("nonsense").is_none());
    }

    #[test]
    fn allocation_takes_the_first_free_address() {
        let pools = vec![("10.0.0.2".to_string(), "10.0.0.4".to_string())];
        assert_eq!(
            first_free(&pools, |ip| ip == "10.0.0.2").as_deref(),
            Some("10.0.0.3")
        );
        assert_eq!(first_free(&pools, |_| true), None);
        assert!(in_pools(&pools, "10.0.0.4"));
        assert!(!in_pools(&pools, "10.0.0.5"));
        assert!(contains("10.0.0.0/24", "10.0.0.255"));
        assert!(!contains("10.0.0.0/24", "10.0.1.0"));
    }
}
