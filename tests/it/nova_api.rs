//! The twin's Nova over real loopback HTTP (`protector sim up --speed 1000` + curl, tokens from
//! the twin's Keystone): boot from volume with a fixed IP and a data volume (BUILD -> ACTIVE,
//! volumes in-use), stop/start, delete (volumes available, ports cleaned), the failures Nova
//! answers at once (400) and the one that ends in ERROR with a fault, filters, pagination
//! links followed to the end, microversion headers, the 404 body, and the fields of the API
//! reference samples.

use std::path::Path;
use std::time::{Duration, Instant};

use protector::clients::nova::model as nova;
use serde_json::{Value, json};

use crate::keystone_api::{SiteInfo, call, site_info, token};
use crate::twin::TwinProcess;

struct Nova {
    control: String,
    site: SiteInfo,
    token: String,
}

/// One answer: status, headers, JSON body (Null when empty).
struct Answer {
    status: u16,
    headers: std::collections::BTreeMap<String, String>,
    body: Value,
}

impl Nova {
    fn new(twin: &TwinProcess) -> Nova {
        let site = site_info(twin.control(), "site-a");
        let token = token(&site.openstack, "protector", "site-a-secret");
        Nova {
            control: twin.control().to_string(),
            site,
            token,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/compute/v2.1{path}", self.site.openstack)
    }

    /// A request at microversion `version` (None: no header, 2.1).
    fn request(
        &self,
        method: &str,
        url: &str,
        version: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let header = version.map(|v| format!("compute {v}"));
        let mut headers = vec![("X-Auth-Token", self.token.as_str())];
        if let Some(header) = &header {
            headers.push(("OpenStack-API-Version", header.as_str()));
        }
        let reply = call(method, url, &headers, body);
        let body = if reply.body.trim().is_empty() {
            Value::Null
        } else {
            reply.json()
        };
        Answer {
            status: reply.status,
            headers: reply.headers,
            body,
        }
    }

    fn get(&self, path: &str, version: &str) -> Answer {
        self.request("GET", &self.url(path), Some(version), None)
    }

    fn post(&self, path: &str, version: &str, body: &Value) -> Answer {
        self.request("POST", &self.url(path), Some(version), Some(body))
    }

    fn delete(&self, path: &str) -> Answer {
        self.request("DELETE", &self.url(path), Some("2.1"), None)
    }

    fn world(&self) -> Value {
        call("GET", &format!("{}/world", self.control), &[], None).json()["sites"]["site-a"].clone()
    }

    fn server_id(&self, name: &str) -> String {
        let answer = self.get(&format!("/servers?name=%5E{name}%24"), "2.1");
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body["servers"][0]["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn network_id(&self, name: &str) -> String {
        self.world()["network"]["networks"]
            .as_object()
            .unwrap()
            .values()
            .find(|network| network["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn volume_status(&self, id: &str) -> (String, usize) {
        let volume = &self.world()["block"]["volumes"][id];
        (
            volume["status"].as_str().unwrap_or("gone").to_string(),
            volume["attachments"].as_array().map_or(0, Vec::len),
        )
    }

    fn ports_with_ip(&self, ip: &str) -> Vec<Value> {
        self.world()["network"]["ports"]
            .as_object()
            .unwrap()
            .values()
            .filter(|port| {
                port["fixed_ips"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f["ip_address"] == ip)
            })
            .cloned()
            .collect()
    }

    /// Polls `GET /servers/{id}` until `done` holds (the twin runs at speed 1000).
    fn wait(&self, id: &str, done: impl Fn(&Answer) -> bool) -> Answer {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = self.get(&format!("/servers/{id}"), "2.100");
            if done(&answer) {
                return answer;
            }
            assert!(
                Instant::now() < deadline,
                "server {id} never got there: {}",
                answer.body
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn wait_status(&self, id: &str, status: &str) -> nova::Server {
        let answer = self.wait(id, |a| {
            a.body["server"]["status"] == status
                && a.body["server"]["OS-EXT-STS:task_state"].is_null()
        });
        serde_json::from_value::<nova::ServerResponse>(answer.body)
            .unwrap()
            .server
    }

    fn wait_gone(&self, id: &str) {
        let answer = self.wait(id, |a| a.status == 404);
        assert_eq!(
            answer.body,
            json!({"itemNotFound": {"code": 404, "message": format!("Instance {id} could not be found.")}})
        );
    }

    fn flavor_id(&self, name: &str) -> String {
        let answer = self.get("/flavors", "2.1");
        answer.body["flavors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|flavor| flavor["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn boot_request(name: &str, flavor: &str, volumes: &[impl AsRef<str>], networks: Value) -> Value {
    let mappings: Vec<Value> = volumes
        .iter()
        .enumerate()
        .map(|(index, id)| {
            let mut mapping = json!({"uuid": id.as_ref(), "source_type": "volume",
                "destination_type": "volume", "delete_on_termination": false});
            if index == 0 {
                mapping["boot_index"] = json!(0);
            }
            mapping
        })
        .collect();
    json!({"server": {"name": name, "flavorRef": flavor, "networks": networks,
        "block_device_mapping_v2": mappings, "metadata": {"protector:operation": "op-1"},
        "key_name": "ops", "security_groups": [{"name": "default"}, {"name": "db"}]}})
}

#[test]
fn boot_from_volume_stop_start_delete_over_http() {
    let twin = TwinProcess::start(1000, &[]);
    let nova = Nova::new(&twin);

    // Free db-1's volumes and address by deleting it, as a failback clears the old server.
    let db = nova.server_id("db-1");
    let shown = nova.get(&format!("/servers/{db}"), "2.100");
    let volumes: Vec<String> = shown.body["server"]["os-extended-volumes:volumes_attached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(volumes.len(), 2);
    assert_eq!(nova.delete(&format!("/servers/{db}")).status, 204);
    nova.wait_gone(&db);
    for volume in &volumes {
        assert_eq!(nova.volume_status(volume), ("available".to_string(), 0));
    }
    assert!(
        nova.ports_with_ip("10.10.2.10").is_empty(),
        "the port Nova made went with it"
    );

    // Boot from the boot volume, with the data volume and the same fixed IP.
    let network = nova.network_id("net-primary-db");
    let flavor = nova.flavor_id("m1.large");
    let request = boot_request(
        "db-1b",
        &flavor,
        &volumes,
        json!([{"uuid": network, "fixed_ip": "10.10.2.10"}]),
    );
    let created = nova.post("/servers", "2.100", &request);
    assert_eq!(created.status, 202, "{}", created.body);
    let response: nova::ServerCreateResponse =
        serde_json::from_value(created.body.clone()).unwrap();
    let id = response.server.id;
    assert_eq!(
        created.headers["location"],
        nova.url(&format!("/servers/{id}"))
    );
    assert_eq!(created.headers["openstack-api-version"], "compute 2.100");
    let building = nova.get(&format!("/servers/{id}"), "2.100");
    assert!(
        matches!(
            building.body["server"]["status"].as_str(),
            Some("BUILD" | "ACTIVE")
        ),
        "{}",
        building.body
    );
    for volume in &volumes {
        assert_eq!(nova.volume_status(volume), ("in-use".to_string(), 1));
    }

    let server = nova.wait_status(&id, "ACTIVE");
    assert_eq!(server.power_state, 1);
    assert_eq!(
        server.volume_ids().collect::<Vec<_>>(),
        volumes.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let ips: Vec<(&str, &str)> = server
        .fixed_ips()
        .map(|(net, a)| (net, a.addr.as_str()))
        .collect();
    assert_eq!(ips, [("net-primary-db", "10.10.2.10")]);
    assert_eq!(server.metadata["protector:operation"], "op-1");
    let port = &nova.ports_with_ip("10.10.2.10")[0];
    assert_eq!(port["device_id"], id.as_str());
    // No zone asked for: the scheduler's choice, the first host of the fewest servers.
    assert_eq!(server.availability_zone, "az-1");
    assert_eq!(port["device_owner"], "compute:az-1");

    // Stop and start.
    let stop = nova.post(
        &format!("/servers/{id}/action"),
        "2.1",
        &json!({"os-stop": null}),
    );
    assert_eq!(stop.status, 202, "{}", stop.body);
    let server = nova.wait_status(&id, "SHUTOFF");
    assert_eq!(server.power_state, 4);
    let again = nova.post(
        &format!("/servers/{id}/action"),
        "2.1",
        &json!({"os-stop": null}),
    );
    assert_eq!(again.status, 409);
    assert_eq!(
        again.body["conflictingRequest"]["message"],
        format!("Cannot 'stop' instance {id} while it is in vm_state stopped")
    );
    assert_eq!(
        nova.post(
            &format!("/servers/{id}/action"),
            "2.1",
            &json!({"os-start": null})
        )
        .status,
        202
    );
    nova.wait_status(&id, "ACTIVE");

    // Delete: the volumes are free again, the port Nova made is gone.
    assert_eq!(nova.delete(&format!("/servers/{id}")).status, 204);
    nova.wait_gone(&id);
    for volume in &volumes {
        assert_eq!(nova.volume_status(volume), ("available".to_string(), 0));
    }
    assert!(nova.ports_with_ip("10.10.2.10").is_empty());
    twin.stop();
}

/// The built-in fixture plus a network whose only address a server already holds.
fn fixture_with_a_full_network(dir: &Path) -> String {
    let text = std::fs::read_to_string(crate::root().join("examples/sim/two-sites.yaml")).unwrap();
    let network = "      - { name: net-primary-db, cidr: 10.10.2.0/24 }\n";
    let text = text.replacen(
        network,
        &format!("{network}      - {{ name: net-full, cidr: 10.30.0.0/29, allocation_pool: [10.30.0.2, 10.30.0.2] }}\n"),
        1,
    );
    let instances = "    instances:\n";
    let text = text.replacen(
        instances,
        &format!(
            "{instances}      - name: squatter\n        project: prod\n        user: protector\n        flavor: m1.small\n        networks: [{{ network: net-full }}]\n        volumes: [{{ size_gb: 1, volume_type: pure }}]\n"
        ),
        1,
    );
    let path = dir.join("full-network.yaml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn failures_are_400s_or_an_error_with_a_fault() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture_with_a_full_network(dir.path());
    let twin = TwinProcess::start(1000, &["--fixture", &fixture]);
    let nova = Nova::new(&twin);
    let flavor = nova.flavor_id("m1.small");
    let web = nova.network_id("net-primary-web");
    let full = nova.network_id("net-full");

    // A volume in use: 400, Cinder refuses to reserve it.
    let web_1 = nova.server_id("web-1");
    let in_use = nova.get(&format!("/servers/{web_1}"), "2.1").body["server"]["os-extended-volumes:volumes_attached"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = nova.post(
        "/servers",
        "2.1",
        &boot_request("x", &flavor, &[in_use.as_str()], json!([{"uuid": web}])),
    );
    assert_eq!(answer.status, 400);
    let error: nova::ErrorResponse = serde_json::from_value(answer.body.clone()).unwrap();
    assert!(matches!(error, nova::ErrorResponse::BadRequest(_)));
    assert!(
        error.detail().message.contains(&format!(
            "Volume {in_use} status must be available or downloading to reserve, but the current status is in-use."
        )),
        "{}",
        answer.body
    );

    // Free web-2's volume; an unknown flavor is a 400 and takes nothing.
    let web_2 = nova.server_id("web-2");
    let volume = nova.get(&format!("/servers/{web_2}"), "2.1").body["server"]["os-extended-volumes:volumes_attached"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(nova.delete(&format!("/servers/{web_2}")).status, 204);
    nova.wait_gone(&web_2);
    let answer = nova.post(
        "/servers",
        "2.1",
        &boot_request("x", "m9.huge", &[volume.as_str()], json!([{"uuid": web}])),
    );
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.body["badRequest"]["message"],
        "Flavor m9.huge could not be found."
    );
    // A taken fixed IP: 400 naming its holder.
    let answer = nova.post(
        "/servers",
        "2.1",
        &boot_request(
            "x",
            &flavor,
            &[volume.as_str()],
            json!([{"uuid": web, "fixed_ip": "10.10.1.11"}]),
        ),
    );
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.body["badRequest"]["message"],
        format!("Fixed IP address 10.10.1.11 is already in use on instance {web_1}.")
    );
    assert_eq!(nova.volume_status(&volume), ("available".to_string(), 0));

    // No free address on the network: accepted, then ERROR with Nova's fault; volume freed.
    let answer = nova.post(
        "/servers",
        "2.1",
        &boot_request("late", &flavor, &[volume.as_str()], json!([{"uuid": full}])),
    );
    assert_eq!(answer.status, 202, "{}", answer.body);
    let id = answer.body["server"]["id"].as_str().unwrap().to_string();
    let server = nova.wait_status(&id, "ERROR");
    let fault = server.fault.clone().expect("a fault in ERROR");
    assert_eq!(fault.code, 500);
    assert_eq!(
        fault.message,
        format!(
            "Build of instance {id} aborted: Failed to allocate the network(s) with error No fixed IP addresses available for network: {full}, not rescheduling."
        )
    );
    assert!(server.addresses.0.is_empty());
    assert_eq!(server.volume_ids().collect::<Vec<_>>(), [volume.as_str()]);
    assert_eq!(nova.volume_status(&volume), ("available".to_string(), 0));
    assert_eq!(nova.delete(&format!("/servers/{id}")).status, 204);
    nova.wait_gone(&id);
    twin.stop();
}

#[test]
fn lists_filters_pages_and_microversions_over_http() {
    let twin = TwinProcess::start(1000, &[]);
    let nova = Nova::new(&twin);

    // Version documents, no token.
    let root = call(
        "GET",
        &format!("{}/compute", nova.site.openstack),
        &[],
        None,
    );
    assert_eq!(root.status, 200);
    let versions: nova::VersionsList = serde_json::from_str(&root.body).unwrap();
    assert_eq!(versions.versions.last().unwrap().version, "2.100");
    let v21 = call(
        "GET",
        &format!("{}/compute/v2.1/", nova.site.openstack),
        &[],
        None,
    );
    let version: nova::VersionResponse = serde_json::from_str(&v21.body).unwrap();
    assert_eq!(
        (
            version.version.min_version.as_str(),
            version.version.version.as_str()
        ),
        ("2.1", "2.100")
    );

    // Microversion headers echoed; out of range is a 406.
    let answer = nova.get("/servers", "2.79");
    assert_eq!(answer.headers["openstack-api-version"], "compute 2.79");
    assert_eq!(answer.headers["x-openstack-nova-api-version"], "2.79");
    // Two `Vary` headers, as Nova sends them (the helper keeps the last).
    assert!(answer.headers["vary"].contains("API-Version"));
    let legacy = call(
        "GET",
        &nova.url("/servers"),
        &[
            ("X-Auth-Token", &nova.token),
            ("X-OpenStack-Nova-API-Version", "2.53"),
        ],
        None,
    );
    assert_eq!(legacy.header("openstack-api-version"), Some("compute 2.53"));
    let answer = nova.get("/servers", "2.999");
    assert_eq!(answer.status, 406);
    assert_eq!(
        answer.body["computeFault"]["message"],
        "Version 2.999 is not supported by the API. Minimum is 2.1 and maximum is 2.100."
    );

    // Filters: name is a regex matched anywhere, status a Nova status.
    let names = |path: &str| -> Vec<String> {
        let answer = nova.get(path, "2.100");
        assert_eq!(answer.status, 200, "{}", answer.body);
        let mut names: Vec<String> = answer.body["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("/servers?name=web"), ["web-1", "web-2"]);
    assert_eq!(
        names("/servers/detail?name=%5Edb-%5Cd%24&status=ACTIVE"),
        ["db-1"]
    );
    assert!(names("/servers/detail?status=SHUTOFF").is_empty());
    let answer = nova.get("/servers?status=RUNNING", "2.100");
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body["badRequest"]["message"], "Invalid status value");

    // Pages of two, following the absolute `next` links to the end.
    let mut url = nova.url("/servers/detail?limit=2");
    let mut seen = Vec::new();
    loop {
        let answer = nova.request("GET", &url, Some("2.100"), None);
        let page: nova::ServersDetailList = serde_json::from_value(answer.body).unwrap();
        seen.extend(page.servers.into_iter().map(|s| s.name));
        match page.servers_links {
            Some(links) => {
                assert_eq!(links[0].rel, "next");
                url = links[0].href.clone();
            }
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["db-1", "web-1", "web-2"]);

    // The 404 body.
    let answer = nova.get("/servers/0e44cc9c-e052-415d-afbf-469b0d384170", "2.1");
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.body,
        json!({"itemNotFound": {"code": 404, "message": "Instance 0e44cc9c-e052-415d-afbf-469b0d384170 could not be found."}})
    );
    twin.stop();
}

/// Every key of `sample` (recursively into objects, and into the first element of arrays)
/// that `actual` lacks.
fn missing_keys(sample: &Value, actual: &Value, at: &str, out: &mut Vec<String>) {
    match (sample, actual) {
        (Value::Object(sample), Value::Object(actual)) => {
            for (key, value) in sample {
                let path = format!("{at}/{key}");
                match actual.get(key) {
                    None => out.push(path),
                    Some(actual) => missing_keys(value, actual, &path, out),
                }
            }
        }
        (Value::Array(sample), Value::Array(actual)) => {
            if let (Some(sample), Some(actual)) = (sample.first(), actual.first()) {
                missing_keys(sample, actual, &format!("{at}[0]"), out);
            }
        }
        _ => {}
    }
}

fn sample(name: &str) -> Value {
    let path = crate::root()
        .join("tests/fixtures/api-samples/nova")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn answers_carry_every_field_of_the_api_samples() {
    let twin = TwinProcess::start(1000, &[]);
    let nova = Nova::new(&twin);
    let id = nova.server_id("db-1");
    let volume = nova.get(&format!("/servers/{id}"), "2.1").body["server"]["os-extended-volumes:volumes_attached"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The samples describe servers booted from images (the twin's boot from volumes: `image`
    // is "") and their own data: network names (`private`), metadata keys and scheduler
    // hints; those differ by design.
    let by_design = |path: &str| {
        path.starts_with("/server/image/")
            || ["/addresses/", "/metadata/", "/scheduler_hints/"]
                .iter()
                .any(|data| path.contains(data))
    };
    let cases = [
        (
            "server-get-resp.json",
            nova.get(&format!("/servers/{id}"), "2.1").body,
        ),
        (
            "server-get-resp-v2.100.json",
            nova.get(&format!("/servers/{id}"), "2.100").body,
        ),
        (
            "servers-details-resp.json",
            nova.get("/servers/detail?limit=1", "2.1").body,
        ),
        (
            "servers-details-resp-v2.100.json",
            nova.get("/servers/detail?limit=1", "2.100").body,
        ),
        (
            "flavors-detail-resp.json",
            nova.get("/flavors/detail", "2.1").body,
        ),
        (
            "list-volume-attachments-resp.json",
            nova.get(&format!("/servers/{id}/os-volume_attachments"), "2.1")
                .body,
        ),
        (
            "list-volume-attachments-resp-v2.101.json",
            nova.get(&format!("/servers/{id}/os-volume_attachments"), "2.100")
                .body,
        ),
        (
            "attach-volume-to-server-resp.json",
            nova.get(
                &format!("/servers/{id}/os-volume_attachments/{volume}"),
                "2.1",
            )
            .body,
        ),
    ];
    // Key pairs, server groups and tags: the fixture's, and ones made here.
    let key = sample("keypairs-import-post-req-v2.92.json");
    let imported = nova.post("/os-keypairs", "2.92", &key);
    assert_eq!(imported.status, 201, "{}", imported.body);
    let mut generate = sample("keypairs-post-req-v2.10.json");
    generate["keypair"]
        .as_object_mut()
        .unwrap()
        .remove("user_id");
    let generated = nova.post("/os-keypairs", "2.10", &generate);
    assert_eq!(generated.status, 201, "{}", generated.body);
    let group = nova.get("/os-server-groups", "2.64").body["server_groups"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let made = nova.post(
        "/os-server-groups",
        "2.64",
        &sample("server-groups-post-req-v2.64.json"),
    );
    assert_eq!(made.status, 200, "{}", made.body);
    let made_old = nova.post(
        "/os-server-groups",
        "2.13",
        &sample("server-groups-post-req.json"),
    );
    assert_eq!(made_old.status, 200, "{}", made_old.body);
    let retagged = nova.request(
        "PUT",
        &nova.url(&format!("/servers/{id}/tags")),
        Some("2.26"),
        Some(&sample("server-tags-put-all-req-v2.26.json")),
    );
    assert_eq!(retagged.body, sample("server-tags-index-resp-v2.26.json"));
    let keypair_cases = [
        (
            "keypairs-get-resp-v2.10.json",
            nova.get("/os-keypairs/ops", "2.10").body,
        ),
        (
            "keypairs-list-resp-v2.35.json",
            nova.get("/os-keypairs?limit=1", "2.35").body,
        ),
        ("keypairs-import-post-resp-v2.92.json", imported.body),
        ("keypairs-post-resp-v2.10.json", generated.body),
    ];
    let group_cases = [
        (
            "server-groups-get-resp-v2.64.json",
            nova.get(&format!("/os-server-groups/{group}"), "2.64").body,
        ),
        (
            "server-groups-get-resp-v2.13.json",
            nova.get(&format!("/os-server-groups/{group}"), "2.13").body,
        ),
        (
            "server-groups-list-resp-v2.64.json",
            nova.get("/os-server-groups", "2.64").body,
        ),
        ("server-groups-get-resp-v2.64.json", made.body),
        ("server-groups-get-resp-v2.13.json", made_old.body),
    ];
    let tag_cases = [(
        "server-tags-index-resp-v2.26.json",
        nova.get(&format!("/servers/{id}/tags"), "2.26").body,
    )];
    let mut problems = Vec::new();
    // Each answer reads into the model its sample reads into, and carries no key the sample
    // lacks beyond the ones a microversion adds (the samples are exact views).
    for (name, actual) in keypair_cases.iter().chain(&group_cases).chain(&tag_cases) {
        let sample = sample(name);
        let mut missing = Vec::new();
        missing_keys(&sample, actual, "", &mut missing);
        // A group made without the rule shows `rules: {}` (the sample's has it).
        missing.retain(|path| !path.ends_with("/rules/max_server_per_host"));
        let mut extra = Vec::new();
        missing_keys(actual, &sample, "", &mut extra);
        if !missing.is_empty() || !extra.is_empty() {
            problems.push(format!(
                "{name}: missing {missing:?}, not in the sample {extra:?}"
            ));
        }
        let read = match name.split('-').next() {
            Some("keypairs") if name.contains("list") => {
                serde_json::from_value::<nova::KeypairsList>(actual.clone()).map(drop)
            }
            Some("keypairs") => {
                serde_json::from_value::<nova::KeypairResponse>(actual.clone()).map(drop)
            }
            Some("server") if name.contains("list") => {
                serde_json::from_value::<nova::ServerGroupsList>(actual.clone()).map(drop)
            }
            Some("server") if name.contains("groups") => {
                serde_json::from_value::<nova::ServerGroupResponse>(actual.clone()).map(drop)
            }
            _ => serde_json::from_value::<nova::ServerTags>(actual.clone()).map(drop),
        };
        if let Err(error) = read {
            problems.push(format!("{name}: does not read: {error}"));
        }
    }
    for (name, actual) in &cases {
        let mut missing = Vec::new();
        let sample = sample(name);
        missing_keys(&sample, actual, "", &mut missing);
        missing.retain(|path| !by_design(&path.replace("/servers[0]", "/server")));
        if !missing.is_empty() {
            problems.push(format!("{name}: {missing:?}"));
        }
        // And the answer reads into the same model as the sample.
        match *name {
            n if n.starts_with("server-get") => {
                drop(serde_json::from_value::<nova::ServerResponse>(actual.clone()).unwrap())
            }
            n if n.starts_with("servers-details") => {
                drop(serde_json::from_value::<nova::ServersDetailList>(actual.clone()).unwrap())
            }
            n if n.starts_with("flavors") => {
                drop(serde_json::from_value::<nova::FlavorsList>(actual.clone()).unwrap())
            }
            n if n.starts_with("list-volume") => {
                drop(serde_json::from_value::<nova::VolumeAttachmentsList>(actual.clone()).unwrap())
            }
            _ => drop(
                serde_json::from_value::<nova::VolumeAttachmentResponse>(actual.clone()).unwrap(),
            ),
        }
    }
    // The create answer, from a real create.
    let answer = nova.delete(&format!("/servers/{id}"));
    assert_eq!(answer.status, 204);
    nova.wait_gone(&id);
    let network = nova.network_id("net-primary-db");
    let flavor = nova.flavor_id("m1.large");
    let created = nova.post(
        "/servers",
        "2.100",
        &boot_request(
            "again",
            &flavor,
            &[volume.as_str()],
            json!([{"uuid": network}]),
        ),
    );
    assert_eq!(created.status, 202, "{}", created.body);
    let mut missing = Vec::new();
    missing_keys(
        &sample("server-create-resp-v2.100.json"),
        &created.body,
        "",
        &mut missing,
    );
    if !missing.is_empty() {
        problems.push(format!("server-create-resp-v2.100.json: {missing:?}"));
    }
    assert!(problems.is_empty(), "{problems:#?}");
    twin.stop();
}
