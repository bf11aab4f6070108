//! Where Nova's scheduler puts a new server: one of the site's compute hosts, in the zone asked
//! for (any when none was), that the server group's policy allows, as Nova's
//! `ServerGroupAntiAffinityFilter` (fewer than `max_server_per_host` members on the host, 1 by
//! default) and `ServerGroupAffinityFilter` (a host the members run on, once one does) decide.
//! Of the hosts that pass, the one running the fewest servers wins (Nova's default weighers
//! spread servers out), ties to the first; the soft policies only weigh: fewest members first
//! for `soft-anti-affinity`, most for `soft-affinity`. No host passing is Nova's NoValidHost.

use crate::openstack::state::{Compute, ServerGroup};
use protector_wire::nova::ServerGroupPolicy;

/// The fault of a server the scheduler found no host for (`nova/scheduler/manager.py`).
pub const NO_VALID_HOST: &str = "No valid host was found. There are not enough hosts available.";

/// The host for a new server in `zone` (any zone when None) and `group`; None: NoValidHost.
pub fn place(compute: &Compute, zone: Option<&str>, group: Option<&ServerGroup>) -> Option<String> {
    let on_host = |host: &str| {
        let servers = compute
            .servers
            .values()
            .filter(|server| server.host.as_deref() == Some(host))
            .count();
        let members = group.map_or(0, |group| {
            group
                .members
                .iter()
                .filter(|id| {
                    compute
                        .servers
                        .get(*id)
                        .is_some_and(|server| server.host.as_deref() == Some(host))
                })
                .count()
        });
        (servers, members)
    };

    let member_hosts: Vec<&str> = group
        .map(|group| {
            group
                .members
                .iter()
                .filter_map(|id| compute.servers.get(id)?.host.as_deref())
                .collect()
        })
        .unwrap_or_default();
    compute
        .hosts
        .iter()
        .filter(|host| zone.is_none_or(|zone| host.zone == zone))
        .filter_map(|host| {
            let (servers, members) = on_host(&host.name);
            let allowed = match group {
                Some(group) if group.policy == ServerGroupPolicy::AntiAffinity => {
                    members < group.max_server_per_host.unwrap_or(1) as usize
                }
                Some(group) if group.policy == ServerGroupPolicy::Affinity => {
                    member_hosts.is_empty() || member_hosts.contains(&host.name.as_str())
                }
                _ => true,
            };
            let members = members as i64;
            let weight = match group.map(|group| group.policy) {
                Some(ServerGroupPolicy::SoftAntiAffinity) => members,
                Some(ServerGroupPolicy::SoftAffinity) => -members,
                _ => 0,
            };
            allowed.then_some(((weight, servers), host))
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, host)| host.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openstack::state::{ComputeHost, Server, ServerStatus};

    fn compute(hosts: &[(&str, &str)]) -> Compute {
        Compute {
            hosts: hosts
                .iter()
                .map(|(name, zone)| ComputeHost {
                    name: name.to_string(),
                    zone: zone.to_string(),
                })
                .collect(),
            ..Compute::default()
        }
    }

    fn group(policy: ServerGroupPolicy, max: Option<u32>) -> ServerGroup {
        ServerGroup {
            id: "g".to_string(),
            name: "g".to_string(),
            policy,
            max_server_per_host: max,
            project_id: "p".to_string(),
            user_id: "u".to_string(),
            members: Vec::new(),
        }
    }

    /// Places a server as a boot would and records it (as a member of `group` if given).
    fn boot(
        compute: &mut Compute,
        zone: Option<&str>,
        group: Option<&mut ServerGroup>,
    ) -> Option<String> {
        let host = place(compute, zone, group.as_deref())?;
        let id = format!("server-{}", compute.servers.len());
        let now = chrono::Utc::now();
        compute.servers.insert(
            id.clone(),
            Server {
                id: id.clone(),
                name: id.clone(),
                project_id: "p".to_string(),
                user_id: "u".to_string(),
                status: ServerStatus::Active,
                flavor_id: "f".to_string(),
                key_name: None,
                availability_zone: zone.unwrap_or_default().to_string(),
                host: Some(host.clone()),
                metadata: Default::default(),
                tags: Vec::new(),
                description: None,
                security_groups: Vec::new(),
                ports: Vec::new(),
                volumes: Vec::new(),
                fault: None,
                created: now,
                updated: now,
                pending: None,
            },
        );
        if let Some(group) = group {
            group.members.push(id);
        }
        Some(host)
    }

    #[test]
    fn servers_spread_over_the_zone_asked_for() {
        let mut compute = compute(&[("h1", "az-1"), ("h2", "az-2"), ("h3", "az-1")]);
        assert_eq!(boot(&mut compute, None, None).as_deref(), Some("h1"));
        assert_eq!(boot(&mut compute, None, None).as_deref(), Some("h2"));
        assert_eq!(
            boot(&mut compute, Some("az-1"), None).as_deref(),
            Some("h3")
        );
        assert_eq!(
            boot(&mut compute, Some("az-2"), None).as_deref(),
            Some("h2")
        );
        assert_eq!(boot(&mut compute, Some("az-3"), None), None);
    }

    #[test]
    fn anti_affinity_takes_one_host_per_member_then_no_valid_host() {
        let mut compute = compute(&[("h1", "az-1"), ("h2", "az-1"), ("h3", "az-2")]);
        let mut web = group(ServerGroupPolicy::AntiAffinity, None);
        assert_eq!(
            boot(&mut compute, Some("az-1"), Some(&mut web)).as_deref(),
            Some("h1")
        );
        assert_eq!(
            boot(&mut compute, Some("az-1"), Some(&mut web)).as_deref(),
            Some("h2")
        );
        // The zone is full for the group: the scheduler finds no host.
        assert_eq!(place(&compute, Some("az-1"), Some(&web)), None);
        assert_eq!(place(&compute, None, Some(&web)).as_deref(), Some("h3"));
        // A rule of two per host fits twice as many.
        let mut pairs = group(ServerGroupPolicy::AntiAffinity, Some(2));
        for expected in ["h1", "h2", "h1", "h2"] {
            let host = boot(&mut compute, Some("az-1"), Some(&mut pairs));
            assert_eq!(host.as_deref(), Some(expected));
        }
        assert_eq!(place(&compute, Some("az-1"), Some(&pairs)), None);
    }

    #[test]
    fn affinity_follows_the_first_member_and_soft_policies_only_weigh() {
        let mut compute = compute(&[("h1", "nova"), ("h2", "nova")]);
        boot(&mut compute, None, None);
        let mut together = group(ServerGroupPolicy::Affinity, None);
        assert_eq!(
            boot(&mut compute, None, Some(&mut together)).as_deref(),
            Some("h2")
        );
        assert_eq!(
            boot(&mut compute, None, Some(&mut together)).as_deref(),
            Some("h2")
        );

        let mut apart = group(ServerGroupPolicy::SoftAntiAffinity, None);
        let hosts: Vec<_> = (0..3)
            .map(|_| boot(&mut compute, None, Some(&mut apart)).unwrap())
            .collect();
        assert_eq!(hosts, ["h1", "h2", "h1"], "never refused, spread first");
        let mut near = group(ServerGroupPolicy::SoftAffinity, None);
        let first = boot(&mut compute, None, Some(&mut near)).unwrap();
        assert_eq!(boot(&mut compute, None, Some(&mut near)), Some(first));
    }
}
