//! The twin's Neutron over real loopback HTTP (`protector sim up` + curl): lists and filters,
//! port create with a fixed IP and from the pool, the 409 for a taken address with Neutron's
//! body, delete, pagination links followed to the end, and the policy 403 for a reader.

use protector::clients::neutron::model as neutron;
use serde_json::{Value, json};

use crate::keystone_api::{SiteInfo, call, site_info, token};
use crate::twin::TwinProcess;

struct Neutron {
    site: SiteInfo,
    token: String,
}

impl Neutron {
    fn new(twin: &TwinProcess, site: &str, user: &str, password: &str) -> Neutron {
        let site = site_info(twin.control(), site);
        let token = token(&site.openstack, user, password);
        Neutron { site, token }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/network/v2.0{path}", self.site.openstack)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let reply = call(
            "GET",
            &self.url(path),
            &[("X-Auth-Token", &self.token)],
            None,
        );
        let body = if reply.body.is_empty() {
            Value::Null
        } else {
            reply.json()
        };
        (reply.status, body)
    }

    fn send(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let reply = call(
            method,
            &self.url(path),
            &[("X-Auth-Token", &self.token)],
            Some(body),
        );
        let body = if reply.body.is_empty() {
            Value::Null
        } else {
            reply.json()
        };
        (reply.status, body)
    }

    fn network(&self, name: &str) -> neutron::Network {
        let (status, body) = self.get(&format!("/networks?name={name}"));
        assert_eq!(status, 200);
        let list: neutron::NetworksList = serde_json::from_value(body).unwrap();
        assert_eq!(list.networks.len(), 1, "one network named {name}");
        list.networks.into_iter().next().unwrap()
    }
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn lists_filter_and_show() {
    let twin = TwinProcess::start(100, &[]);
    let api = Neutron::new(&twin, "site-b", "protector", "site-b-secret");

    let (status, body) = api.get("/networks");
    assert_eq!(status, 200);
    let all: neutron::NetworksList = serde_json::from_value(body).unwrap();
    assert_eq!(all.networks.len(), 4);
    assert!(all.networks_links.is_none(), "no links without limit");
    let drill = api.network("net-drill-web");
    assert_eq!(drill.status, "ACTIVE");
    let (status, shown) = api.get(&format!("/networks/{}", drill.id));
    assert_eq!(status, 200);
    let shown: neutron::NetworkResponse = serde_json::from_value(shown).unwrap();
    assert_eq!(shown.network, drill);

    let (_, subnets) = api.get(&format!("/subnets?network_id={}", drill.id));
    let subnets: neutron::SubnetsList = serde_json::from_value(subnets).unwrap();
    assert_eq!(subnets.subnets.len(), 1);
    let subnet = &subnets.subnets[0];
    assert_eq!(subnet.cidr, "192.168.101.0/24");
    assert_eq!(subnet.gateway_ip.as_deref(), Some("192.168.101.1"));
    assert_eq!(subnet.allocation_pools[0].start, "192.168.101.2");
    let (status, _) = api.get(&format!("/subnets/{}", subnet.id));
    assert_eq!(status, 200);

    let (_, groups) = api.get("/security-groups?name=web");
    let groups: neutron::SecurityGroupsList = serde_json::from_value(groups).unwrap();
    assert_eq!(groups.security_groups.len(), 1);
    assert_eq!(groups.security_groups[0].name, "web");

    // Several values of one filter: any of them; `fields` trims.
    let (_, two) = api.get("/networks?name=net-drill-web&name=net-drill-db&fields=name&fields=id");
    let mut names: Vec<&str> = two["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|network| network["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["net-drill-db", "net-drill-web"]);
    assert_eq!(two["networks"][0].as_object().unwrap().len(), 2);

    let (status, missing) = api.get("/networks/no-such-network");
    assert_eq!(status, 404);
    assert_eq!(
        missing,
        json!({"NeutronError": {"type": "NetworkNotFound",
            "message": "Network no-such-network could not be found.", "detail": ""}})
    );

    // Ports of a server, by device id, on site-a.
    let api = Neutron::new(&twin, "site-a", "protector", "site-a-secret");
    let (_, ports) = api.get("/ports?fixed_ips=ip_address%3D10.10.2.10");
    let ports: neutron::PortsList = serde_json::from_value(ports).unwrap();
    assert_eq!(ports.ports.len(), 1, "db-1's port");
    let port = &ports.ports[0];
    assert_eq!(port.device_owner, "compute:nova");
    let (_, by_device) = api.get(&format!("/ports?device_id={}", port.device_id));
    assert_eq!(ids(&by_device, "ports"), std::slice::from_ref(&port.id));
}

#[test]
fn ports_get_fixed_or_pool_addresses_and_taken_ones_conflict() {
    let twin = TwinProcess::start(100, &[]);
    let api = Neutron::new(&twin, "site-a", "protector", "site-a-secret");
    let web = api.network("net-primary-web");
    let subnet_id = web.subnets[0].clone();

    // A fixed address, as failover pre-creates ports.
    let request = json!({"port": {"network_id": web.id, "name": "web-1-dr",
        "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.10.1.40"}]}});
    let (status, created) = api.send("POST", "/ports", &request);
    assert_eq!(status, 201, "{created}");
    let created: neutron::PortResponse = serde_json::from_value(created).unwrap();
    let port = created.port;
    assert_eq!(port.name, "web-1-dr");
    assert_eq!(port.fixed_ips[0].ip_address, "10.10.1.40");
    assert_eq!(port.status, "DOWN");
    assert!(port.mac_address.starts_with("fa:16:3e:"));
    assert_eq!(port.security_groups.as_ref().unwrap().len(), 1);

    // The same address again: Neutron's 409.
    let (status, conflict) = api.send("POST", "/ports", &request);
    assert_eq!(status, 409);
    assert_eq!(
        conflict,
        json!({"NeutronError": {"type": "IpAddressAlreadyAllocated",
            "message": format!("IP address 10.10.1.40 already allocated in subnet {subnet_id}"),
            "detail": ""}})
    );
    // web-1's address is taken too, and one outside the subnet is refused.
    let taken =
        json!({"port": {"network_id": web.id, "fixed_ips": [{"ip_address": "10.10.1.11"}]}});
    assert_eq!(api.send("POST", "/ports", &taken).0, 409);
    let outside = json!({"port": {"network_id": web.id,
        "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.10.9.9"}]}});
    let (status, error) = api.send("POST", "/ports", &outside);
    assert_eq!(status, 400);
    assert_eq!(error["NeutronError"]["type"], "InvalidIpForSubnet");

    // From the pool: the lowest free address.
    let (status, pooled) = api.send("POST", "/ports", &json!({"port": {"network_id": web.id}}));
    assert_eq!(status, 201);
    assert_eq!(pooled["port"]["fixed_ips"][0]["ip_address"], "10.10.1.2");

    // Found by address, renamed, deleted; the address is free again.
    let (_, found) = api.get("/ports?fixed_ips=ip_address%3D10.10.1.40");
    assert_eq!(ids(&found, "ports"), std::slice::from_ref(&port.id));
    let (status, updated) = api.send(
        "PUT",
        &format!("/ports/{}", port.id),
        &json!({"port": {"name": "renamed"}}),
    );
    assert_eq!(status, 200);
    assert_eq!(updated["port"]["name"], "renamed");
    assert_eq!(updated["port"]["revision_number"], 2);
    let reply = call(
        "DELETE",
        &api.url(&format!("/ports/{}", port.id)),
        &[("X-Auth-Token", &api.token)],
        None,
    );
    assert_eq!(reply.status, 204);
    let (status, gone) = api.get(&format!("/ports/{}", port.id));
    assert_eq!(status, 404);
    assert_eq!(gone["NeutronError"]["type"], "PortNotFound");
    assert_eq!(api.send("POST", "/ports", &request).0, 201);

    // A reader may look but not create.
    let viewer = Neutron::new(&twin, "site-a", "viewer", "viewer-secret");
    assert_eq!(viewer.get("/ports").0, 200);
    let (status, denied) = viewer.send("POST", "/ports", &json!({"port": {"network_id": web.id}}));
    assert_eq!(status, 403);
    assert_eq!(
        denied,
        json!({"NeutronError": {"type": "PolicyNotAuthorized",
            "message": "rule:create_port is disallowed by policy", "detail": ""}})
    );
}

#[test]
fn pagination_links_lead_through_every_port() {
    let twin = TwinProcess::start(100, &[]);
    let api = Neutron::new(&twin, "site-a", "protector", "site-a-secret");
    let web = api.network("net-primary-web");
    for _ in 0..4 {
        let (status, _) = api.send("POST", "/ports", &json!({"port": {"network_id": web.id}}));
        assert_eq!(status, 201);
    }
    let (_, all) = api.get("/ports");
    let all = ids(&all, "ports");
    assert_eq!(all.len(), 7, "three servers' ports and four new ones");
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "ordered by id");

    let mut seen = Vec::new();
    let mut url = api.url("/ports?limit=2");
    let mut pages = 0;
    loop {
        let reply = call("GET", &url, &[("X-Auth-Token", &api.token)], None);
        assert_eq!(reply.status, 200);
        let page: neutron::PortsList = serde_json::from_str(&reply.body).unwrap();
        let links = page.ports_links.expect("links with a limit");
        assert!(links.iter().any(|link| link.rel == "previous"));
        seen.extend(page.ports.iter().map(|port| port.id.clone()));
        pages += 1;
        match links.iter().find(|link| link.rel == "next") {
            Some(next) => {
                assert!(next.href.starts_with(&api.url("/ports?limit=2&marker=")));
                url = next.href.clone();
            }
            None => break,
        }
        assert!(pages < 10, "pagination ends");
    }
    assert_eq!(seen, all);
    assert_eq!(pages, 4, "2+2+2+1: the short last page has no next link");

    // Backwards from the last one.
    let (_, back) = api.get(&format!(
        "/ports?limit=3&marker={}&page_reverse=True",
        all[6]
    ));
    assert_eq!(ids(&back, "ports"), all[3..6].to_vec());
    let (status, bad) = api.get("/ports?limit=2&marker=no-such-port");
    assert_eq!(status, 404);
    assert_eq!(bad["NeutronError"]["type"], "PortNotFound");
}
