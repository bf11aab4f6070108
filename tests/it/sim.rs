//! `protector sim up` as a process: ready line, files written, control API, site down/up,
//! clean stop on SIGTERM.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::twin::TwinProcess;

fn http(method: &str, url: &str) -> (u16, String) {
    let output = std::process::Command::new("curl")
        .args(["-s", "-X", method, "-w", "\n%{http_code}", url])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn address(url: &str) -> SocketAddr {
    url.trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("host:port")
}

fn accepts(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

#[test]
fn sim_up_serves_the_built_in_world_and_stops_cleanly() {
    let twin = TwinProcess::start(100, &[]);
    for key in [
        "FA_SITE_A_URL",
        "FA_SITE_A_API_TOKEN",
        "FA_SITE_A_CA_CERT",
        "FA_SITE_B_URL",
    ] {
        assert!(twin.env.contains_key(key), "{key} in env file");
    }
    let clouds = std::fs::read_to_string(twin.clouds_yaml()).unwrap();
    assert!(
        clouds.contains("site-a:") && clouds.contains("site-b-protector-dr:"),
        "{clouds}"
    );
    let ca = std::fs::read_to_string(&twin.env["FA_SITE_A_CA_CERT"]).unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));

    let (status, body) = http("GET", &format!("{}/world", twin.control()));
    assert_eq!(status, 200);
    let world: serde_json::Value = serde_json::from_str(&body).unwrap();
    let site_a = &world["sites"]["site-a"];
    assert_eq!(site_a["compute"]["servers"].as_object().unwrap().len(), 3);
    let replicated = &world["sites"]["site-b"]["array"]["protection_group_snapshots"];
    assert_eq!(
        replicated["fa-a:prod-web-app.1"]["transfer"]["progress"],
        1.0
    );

    let array_a = address(&twin.env["FA_SITE_A_URL"]);
    assert!(accepts(array_a));
    assert_eq!(
        http("POST", &format!("{}/sites/site-a/down", twin.control())).0,
        200
    );
    assert!(!accepts(array_a), "a down site refuses connections");
    assert_eq!(
        http("POST", &format!("{}/sites/site-a/up", twin.control())).0,
        200
    );
    assert!(accepts(array_a), "an up site serves on the same port again");
    assert_eq!(
        http("POST", &format!("{}/sites/nowhere/down", twin.control())).0,
        404
    );
    // A power loss: nothing runs there when the site is back.
    let url = format!("{}/sites/site-a/down", twin.control());
    assert_eq!(http_with("POST", &url, r#"{"power_off": true}"#).0, 200);
    assert_eq!(
        http("POST", &format!("{}/sites/site-a/up", twin.control())).0,
        200
    );
    let world: serde_json::Value =
        serde_json::from_str(&http("GET", &format!("{}/world", twin.control())).1).unwrap();
    let servers = world["sites"]["site-a"]["compute"]["servers"]
        .as_object()
        .unwrap();
    assert!(!servers.is_empty());
    for server in servers.values() {
        assert_eq!(server["status"], "SHUTOFF", "{server:#}");
    }

    let control = address(twin.control());
    assert_eq!(twin.stop(), Some(0), "SIGTERM ends sim up with exit 0");
    assert!(!accepts(array_a) && !accepts(control), "no port left open");
}

fn http_with(method: &str, url: &str, body: &str) -> (u16, String) {
    let output = std::process::Command::new("curl")
        .args([
            "-s",
            "-X",
            method,
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
            "-D",
            "-",
            "-w",
            "\n%{http_code}",
            url,
        ])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn injected_faults_answer_with_the_services_real_bodies_for_their_count() {
    let twin = TwinProcess::start(1000, &[]);
    let clouds = std::fs::read_to_string(twin.clouds_yaml()).unwrap();
    let base = clouds
        .lines()
        .find_map(|line| line.trim().strip_prefix("auth_url: "))
        .and_then(|url| url.strip_suffix("/identity/v3"))
        .expect("an auth_url")
        .to_string();
    let rule = r#"{"site": "site-a", "service": "nova", "path": "/compute/v2.1*", "action": {"kind": "status", "status": 503}, "count": 2}"#;
    assert_eq!(
        http_with("POST", &format!("{}/faults", twin.control()), rule).0,
        201
    );
    for _ in 0..2 {
        let (status, text) = http("GET", &format!("{base}/compute/v2.1"));
        assert_eq!(status, 503);
        assert!(
            text.contains("\"serviceUnavailable\""),
            "Nova's fault body: {text}"
        );
    }
    assert_eq!(
        http("GET", &format!("{base}/compute/v2.1")).0,
        200,
        "the count ran out"
    );

    let rule = r#"{"service": "keystone", "action": {"kind": "rate_limit", "retry_after": 7}, "count": 1}"#;
    assert_eq!(
        http_with("POST", &format!("{}/faults", twin.control()), rule).0,
        201
    );
    let (status, text) = http_with("GET", &format!("{base}/identity/v3"), "");
    assert_eq!(status, 429);
    assert!(text.to_lowercase().contains("retry-after: 7"), "{text}");
    assert!(text.contains("\"error\""), "Keystone's body: {text}");

    let rule =
        r#"{"service": "neutron", "action": {"kind": "status", "status": 409, "message": "boom"}}"#;
    assert_eq!(
        http_with("POST", &format!("{}/faults", twin.control()), rule).0,
        201
    );
    let (status, text) = http("GET", &format!("{base}/network/v2.0"));
    assert_eq!(status, 409);
    assert!(
        text.contains("\"NeutronError\"") && text.contains("boom"),
        "{text}"
    );
    assert_eq!(http("DELETE", &format!("{}/faults", twin.control())).0, 204);
    assert_eq!(
        http("GET", &format!("{base}/network/v2.0")).0,
        200,
        "cleared"
    );
}

#[test]
fn server_faults_fail_a_running_server_through_the_control_api() {
    let twin = TwinProcess::start(1000, &[]);
    let faults = format!("{}/faults", twin.control());
    // Server faults match by site only: a request pattern cannot apply to them.
    let wrong = r#"{"site": "site-a", "path": "/compute/*", "action": {"kind": "no_valid_host"}}"#;
    let (status, body) = http_with("POST", &faults, wrong);
    assert_eq!(status, 400);
    assert!(body.contains("act on servers, not requests"), "{body}");

    let rule = r#"{"site": "site-a", "action": {"kind": "server_error", "name": "web-1", "after_ms": 20}, "count": 1}"#;
    assert_eq!(http_with("POST", &faults, rule).0, 201);
    let server = |name: &str| {
        let (_, body) = http("GET", &format!("{}/world", twin.control()));
        let world: serde_json::Value = serde_json::from_str(&body).unwrap();
        world["sites"]["site-a"]["compute"]["servers"]
            .as_object()
            .unwrap()
            .values()
            .find(|server| server["name"] == name)
            .cloned()
            .unwrap()
    };
    // The first look at the site takes the server; it fails 20 ms (wall time) later (the
    // delay itself is the unit tests' to check: here the twin may look before the test does).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let failed = loop {
        let web = server("web-1");
        if web["status"] == "ERROR" || std::time::Instant::now() > deadline {
            break web;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(failed["status"], "ERROR");
    assert_eq!(failed["fault"]["message"], "Injected fault.");
    assert_eq!(server("web-2")["status"], "ACTIVE");
    assert_eq!(http("GET", &faults).1.trim(), "[]", "its one use is spent");
}

#[test]
fn generated_fixtures_serve_at_their_size() {
    let dir = tempfile::tempdir().unwrap();
    let output = crate::protector(&["sim", "fixture", "--instances", "40", "--volumes", "2"]);
    assert_eq!(output.status.code(), Some(0), "{}", crate::stderr(&output));
    let fixture = dir.path().join("big.yaml");
    std::fs::write(&fixture, &output.stdout).unwrap();
    let twin = TwinProcess::start(1000, &["--fixture", fixture.to_str().unwrap()]);
    let (_, body) = http("GET", &format!("{}/world", twin.control()));
    let world: serde_json::Value = serde_json::from_str(&body).unwrap();
    let site_a = &world["sites"]["site-a"];
    assert_eq!(site_a["compute"]["servers"].as_object().unwrap().len(), 40);
    assert_eq!(site_a["block"]["volumes"].as_object().unwrap().len(), 80);
}
