//! The twin's Swift over real loopback HTTP (`protector sim up` + curl), as the Swift state
//! backend of #14 will drive it: the `object-store` endpoint from the token's catalog, a
//! container keeping history, create-only lock objects (201 then 412), overwrites and deletes
//! archived, listings paged by prefix, marker and limit, conditional reads, a lost answer
//! injected through the control API, and a site that is down refusing connections.

use std::process::Command;

use protector_wire::swift::{self as wire, ObjectEntry};
use serde_json::json;

use crate::keystone_api::{Reply, call, issue, password_request, run, site_info};
use crate::twin::TwinProcess;

/// One site's object store, as a client finds it.
struct Store {
    /// `http://127.0.0.1:PORT/v1/AUTH_<project_id>`, from the catalog.
    url: String,
    token: String,
}

impl Store {
    fn new(twin: &TwinProcess, site: &str, user: &str, password: &str) -> Store {
        let site = site_info(twin.control(), site);
        let (token, body) = issue(&site.openstack, &password_request(user, password));
        let url = body
            .endpoint_url(wire::SERVICE_TYPE, "public", None)
            .expect("an object-store endpoint in the catalog")
            .to_string();
        assert_eq!(
            url,
            format!("{}/v1/AUTH_{}", site.openstack, site.project_id)
        );
        Store { url, token }
    }

    /// `curl` with a raw body (`None`: no body at all) and `-I` for HEAD.
    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let mut command = Command::new("curl");
        command.args(["-s", "-S", "-i"]);
        if method == "HEAD" {
            command.arg("-I");
        } else {
            command.args(["-X", method]);
        }
        command.arg(format!("{}{path}", self.url));
        command.args(["-H", &format!("X-Auth-Token: {}", self.token)]);
        for (name, value) in headers {
            command.args(["-H", &format!("{name}: {value}")]);
        }
        if let Some(body) = body {
            command.args([
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                body,
            ]);
        }
        run(&mut command)
    }

    fn put(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        self.send("PUT", path, headers, Some(body))
    }

    fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], None)
    }

    fn listing(&self, path: &str) -> Vec<ObjectEntry> {
        let reply = self.get(path);
        assert_eq!(reply.status, 200, "{}", reply.body);
        serde_json::from_str(&reply.body).expect("a JSON listing")
    }
}

fn names(entries: &[ObjectEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|entry| match entry {
            ObjectEntry::Object(object) => object.name.clone(),
            ObjectEntry::Subdir { subdir } => subdir.clone(),
        })
        .collect()
}

#[test]
fn a_state_store_with_locks_history_and_listings() {
    let twin = TwinProcess::start(100, &[]);
    let store = Store::new(&twin, "site-a", "protector", "site-a-secret");

    assert_eq!(
        store
            .send("PUT", "/protector-state-archive", &[], None)
            .status,
        201
    );
    let created = store.send(
        "PUT",
        "/protector-state",
        &[("X-History-Location", "protector-state-archive")],
        None,
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(store.send("PUT", "/protector-state", &[], None).status, 202);

    // A lock: created only if absent.
    let lock = [("If-None-Match", "*"), ("X-Delete-After", "60")];
    let first = store.put("/protector-state/locks/web", &lock, r#"{"holder":"a"}"#);
    assert_eq!(first.status, 201, "{}", first.body);
    let second = store.put("/protector-state/locks/web", &lock, r#"{"holder":"b"}"#);
    assert_eq!(second.status, 412, "{}", second.body);
    assert!(
        second.body.contains("Precondition Failed"),
        "{}",
        second.body
    );

    // The document, written twice: the first version is archived under its timestamp.
    let v1 = r#"{"version":1}"#;
    let put = store.put(
        "/protector-state/groups/web.json",
        &[("X-Object-Meta-Version", "1")],
        v1,
    );
    assert_eq!(put.status, 201);
    let etag = put.header("etag").expect("an ETag").to_string();
    assert_eq!(etag.len(), 32, "MD5 hex, unquoted: {etag}");
    let head = store.send("HEAD", "/protector-state/groups/web.json", &[], None);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(v1.len().to_string().as_str())
    );
    assert_eq!(head.header("x-object-meta-version"), Some("1"));
    let first_ts = head.header("x-timestamp").unwrap().to_string();
    assert!(head.header("last-modified").unwrap().ends_with(" GMT"));
    assert_eq!(
        store
            .put("/protector-state/groups/web.json", &[], r#"{"version":2}"#)
            .status,
        201
    );
    let prefix = wire::archive_prefix("groups/web.json");
    let versions = store.listing(&format!(
        "/protector-state-archive?format=json&prefix={prefix}"
    ));
    assert_eq!(
        names(&versions),
        [wire::archive_name(
            "groups/web.json",
            wire::Timestamp::parse(&first_ts).unwrap()
        )]
    );

    // Conditional reads.
    let stale = store.send(
        "GET",
        "/protector-state/groups/web.json",
        &[("If-Match", &etag)],
        None,
    );
    assert_eq!(stale.status, 412);
    let unchanged = store.send(
        "GET",
        "/protector-state/groups/web.json",
        &[("If-None-Match", "*")],
        None,
    );
    assert_eq!(unchanged.status, 304);

    // Journals listed a page at a time.
    for line in 1..=3 {
        let path = format!("/protector-state/journals/op-1/{line:04}");
        assert_eq!(store.put(&path, &[], "{}").status, 201);
    }
    let page = store.listing("/protector-state?format=json&prefix=journals/op-1/&limit=2");
    assert_eq!(names(&page), ["journals/op-1/0001", "journals/op-1/0002"]);
    let rest = store.listing(
        "/protector-state?format=json&prefix=journals/op-1/&limit=2&marker=journals/op-1/0002",
    );
    assert_eq!(names(&rest), ["journals/op-1/0003"]);
    let top = store.listing("/protector-state?format=json&delimiter=/");
    assert_eq!(names(&top), ["groups/", "journals/", "locks/"]);

    // Delete: the object archived and a delete marker written.
    assert_eq!(
        store
            .send("DELETE", "/protector-state/groups/web.json", &[], None)
            .status,
        204
    );
    assert_eq!(store.get("/protector-state/groups/web.json").status, 404);
    let versions = store.listing(&format!(
        "/protector-state-archive?format=json&prefix={prefix}"
    ));
    assert_eq!(versions.len(), 3);
    let ObjectEntry::Object(marker) = &versions[2] else {
        panic!("{versions:?}")
    };
    assert_eq!(marker.content_type, wire::DELETE_MARKER_CONTENT_TYPE);
}

#[test]
fn faults_downtime_and_tokens_apply_to_swift() {
    let twin = TwinProcess::start(100, &[]);
    let store = Store::new(&twin, "site-b", "protector", "site-b-secret");
    let control = twin.control();
    assert_eq!(store.send("PUT", "/state", &[], None).status, 201);

    // A lost answer: the write happens, the client sees a 503 in Swift's shape.
    let fault = json!({"site": "site-b", "service": "swift", "method": "PUT",
        "path": "/v1/*/state/*", "count": 1,
        "action": {"kind": "status", "status": 503, "served": true}});
    let added = call("POST", &format!("{control}/faults"), &[], Some(&fault));
    assert!(added.status < 300, "{}", added.body);
    let lost = store.put("/state/lock", &[("If-None-Match", "*")], "{}");
    assert_eq!(lost.status, 503);
    assert!(
        lost.body.starts_with("<html><h1>Service Unavailable</h1>"),
        "{}",
        lost.body
    );
    let retried = store.put("/state/lock", &[("If-None-Match", "*")], "{}");
    assert_eq!(retried.status, 412, "the first attempt did create it");

    // A site that is down refuses connections; its objects are there when it is back.
    assert!(call("POST", &format!("{control}/sites/site-b/down"), &[], None).status < 300);
    assert_eq!(store.get("/state/lock").status, 0, "connection refused");
    assert!(call("POST", &format!("{control}/sites/site-b/up"), &[], None).status < 300);
    assert_eq!(store.get("/state/lock").status, 200);

    // Tokens: none is a 401, a reader's is a 403.
    let anonymous = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &store.url])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&anonymous.stdout), "401");
    let reader = Store::new(&twin, "site-b", "viewer", "viewer-secret");
    assert_eq!(reader.get("/state").status, 403);
}
