//! Helpers of Neutron's tests.

use super::ports::*;
use crate::clock::Clock;
use crate::world::Site;
use crate::world::World;
use serde_json::Value;
use serde_json::json;

pub(super) fn world() -> World {
    let fixture =
        crate::fixture::parse(include_str!("../../../../../examples/sim/two-sites.yaml")).unwrap();
    World::from_fixture(&fixture, 1, Clock::new(100.0)).unwrap()
}

pub(super) fn network_id(site: &Site, name: &str) -> String {
    site.network
        .networks
        .values()
        .find(|network| network.name == name)
        .unwrap()
        .id
        .clone()
}

pub(super) fn spec(site: &Site, network: &str, fixed_ips: Option<Value>) -> PortSpec {
    PortSpec {
        network_id: network_id(site, network),
        project_id: site.project_id("prod").unwrap().to_string(),
        fixed_ips: fixed_ips.map(|value| serde_json::from_value(value).unwrap()),
        admin_state_up: true,
        ..PortSpec::default()
    }
}

pub(super) fn items(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"id": format!("id-{i:02}"), "name": format!("n{}", i % 3), "shared": i % 2 == 0}))
        .collect()
}
