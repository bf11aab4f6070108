//! Swift's behaviours through its router, in process: one test per behaviour a state backend
//! relies on.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use protector_wire::swift::{self as wire, Timestamp};
use serde_json::Value;
use tower::ServiceExt;

use crate::clock::Clock;
use crate::openstack::testing::grant_token;
use crate::world::{SiteContext, World};

struct Swift {
    app: Router,
    world: Arc<World>,
    account: String,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

impl Swift {
    fn new() -> Swift {
        let fixture =
            crate::fixture::parse(include_str!("../../../../../examples/sim/two-sites.yaml"))
                .unwrap();
        let world = Arc::new(World::from_fixture(&fixture, 1, Clock::new(100.0)).unwrap());
        let cell = world.sites["site-a"].clone();
        let account = {
            let mut site = cell.lock(&world);
            grant_token(&mut site, "member", "protector", &["member"]);
            grant_token(&mut site, "reader", "viewer", &["reader"]);
            format!("AUTH_{}", site.project_id("prod").unwrap())
        };
        let app = super::routes().with_state(SiteContext {
            world: world.clone(),
            cell,
        });
        Swift {
            app,
            world,
            account,
        }
    }

    async fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        self.call_as("member", method, path, headers, body).await
    }

    async fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/v1/{}{path}", self.account))
            .header("x-auth-token", token);
        if method == "PUT" {
            request = request.header("content-length", body.len());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// The archive's object names.
    async fn archive(&self, prefix: &str) -> Vec<Value> {
        let reply = self
            .call(
                "GET",
                &format!("/archive?format=json&prefix={prefix}"),
                &[],
                "",
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json().as_array().unwrap().clone()
    }

    /// A `state` container keeping history in `archive`.
    async fn versioned(&self) {
        assert_eq!(self.call("PUT", "/archive", &[], "").await.status, 201);
        let reply = self
            .call("PUT", "/state", &[("x-history-location", "archive")], "")
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
}

const MD5_ONE: &str = "c4ca4238a0b923820dcc509a6f75849b"; // md5("1")
const MD5_TWO: &str = "c81e728d9d4c2f636f067f89cc14862c"; // md5("2")

#[tokio::test]
async fn containers_are_created_then_accepted_and_described() {
    let swift = Swift::new();
    let created = swift
        .call("PUT", "/state", &[("x-container-meta-owner", "dr")], "")
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body, "");
    let again = swift.call("PUT", "/state", &[], "").await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert!(again.body.contains("<h1>Accepted</h1>"), "{}", again.body);
    let head = swift.call("HEAD", "/state", &[], "").await;
    assert_eq!(head.status, StatusCode::NO_CONTENT);
    assert_eq!(head.header("x-container-object-count"), Some("0"));
    assert_eq!(head.header("x-container-meta-owner"), Some("dr"));
    assert!(Timestamp::parse(head.header("x-timestamp").unwrap()).is_some());
    assert_eq!(swift.call("HEAD", "/nothing", &[], "").await.status, 404);
    // Listing an empty container: 204 as text, `[]` as JSON.
    assert_eq!(swift.call("GET", "/state", &[], "").await.status, 204);
    let json = swift.call("GET", "/state?format=json", &[], "").await;
    assert_eq!((json.status, json.body.as_str()), (StatusCode::OK, "[]"));
}

#[tokio::test]
async fn conditional_create_is_201_then_412() {
    let swift = Swift::new();
    swift.call("PUT", "/state", &[], "").await;
    let create = [("if-none-match", "*")];
    let first = swift.call("PUT", "/state/lock", &create, "1").await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.header("etag"), Some(MD5_ONE));
    let second = swift.call("PUT", "/state/lock", &create, "2").await;
    assert_eq!(second.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        second.body,
        "<html><h1>Precondition Failed</h1><p>A precondition for this request was not met.</p></html>"
    );
    let bad = swift
        .call("PUT", "/state/lock", &[("if-none-match", MD5_ONE)], "2")
        .await;
    assert_eq!(
        (bad.status, bad.body.as_str()),
        (StatusCode::BAD_REQUEST, "If-None-Match only supports *")
    );
    // If-Match on PUT is ignored, as real Swift does: no compare-and-swap.
    let blind = swift
        .call("PUT", "/state/lock", &[("if-match", "\"nope\"")], "2")
        .await;
    assert_eq!(blind.status, StatusCode::CREATED);
    let read = swift.call("GET", "/state/lock", &[], "").await;
    assert_eq!((read.status, read.body.as_str()), (StatusCode::OK, "2"));
    // Once deleted, the name can be created again.
    assert_eq!(
        swift.call("DELETE", "/state/lock", &[], "").await.status,
        204
    );
    assert_eq!(
        swift.call("PUT", "/state/lock", &create, "3").await.status,
        201
    );
    // No container: 404.
    assert_eq!(
        swift.call("PUT", "/other/lock", &create, "1").await.status,
        404
    );
}

#[tokio::test]
async fn objects_carry_etag_timestamps_and_metadata() {
    let swift = Swift::new();
    swift.call("PUT", "/state", &[], "").await;
    let headers = [
        ("x-object-meta-holder", "runner-1"),
        ("content-type", "application/json"),
    ];
    let put = swift.call("PUT", "/state/doc.json", &headers, "1").await;
    assert_eq!(put.status, StatusCode::CREATED);
    let head = swift.call("HEAD", "/state/doc.json", &[], "").await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(
        head.header("etag"),
        Some(MD5_ONE),
        "unquoted, as Swift sends it"
    );
    assert_eq!(head.header("content-length"), Some("1"));
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert_eq!(head.header("x-object-meta-holder"), Some("runner-1"));
    let timestamp = Timestamp::parse(head.header("x-timestamp").unwrap()).unwrap();
    assert_eq!(head.header("x-timestamp").unwrap().len(), 16);
    let modified =
        chrono::DateTime::parse_from_rfc2822(head.header("last-modified").unwrap()).unwrap();
    assert_eq!(
        modified.timestamp(),
        timestamp.ceil_secs(),
        "rounded up to the second"
    );
    assert_eq!(put.header("last-modified"), head.header("last-modified"));
    // A body whose ETag is not its MD5: 422.
    let wrong = swift
        .call("PUT", "/state/doc.json", &[("etag", MD5_TWO)], "1")
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    // POST replaces all metadata, keeps the data.
    let post = swift
        .call(
            "POST",
            "/state/doc.json",
            &[("x-object-meta-other", "x")],
            "",
        )
        .await;
    assert_eq!(post.status, StatusCode::ACCEPTED);
    let head = swift.call("HEAD", "/state/doc.json", &[], "").await;
    assert_eq!(head.header("x-object-meta-holder"), None);
    assert_eq!(head.header("x-object-meta-other"), Some("x"));
    assert_eq!(head.header("etag"), Some(MD5_ONE));
}

#[tokio::test]
async fn if_match_and_if_none_match_on_reads() {
    let swift = Swift::new();
    swift.call("PUT", "/state", &[], "").await;
    swift.call("PUT", "/state/doc", &[], "1").await;
    let quoted = format!("\"{MD5_ONE}\"");
    for tag in [MD5_ONE, quoted.as_str(), "*"] {
        let reply = swift
            .call("GET", "/state/doc", &[("if-match", tag)], "")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{tag}");
    }
    let stale = swift
        .call("GET", "/state/doc", &[("if-match", MD5_TWO)], "")
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.header("etag"), Some(MD5_ONE));
    let same = swift
        .call("GET", "/state/doc", &[("if-none-match", MD5_ONE)], "")
        .await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    let missing = swift
        .call("GET", "/state/gone", &[("if-match", "*")], "")
        .await;
    assert_eq!(missing.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(swift.call("GET", "/state/gone", &[], "").await.status, 404);
}

#[tokio::test]
async fn overwrite_keeps_the_previous_version_in_the_archive() {
    let swift = Swift::new();
    swift.versioned().await;
    let head = swift.call("HEAD", "/state", &[], "").await;
    assert_eq!(head.header("x-history-location"), Some("archive"));
    swift
        .call("PUT", "/state/doc", &[("x-object-meta-n", "1")], "1")
        .await;
    let first = swift.call("HEAD", "/state/doc", &[], "").await;
    let first_ts = first.header("x-timestamp").unwrap().to_string();
    assert!(
        swift.archive("").await.is_empty(),
        "a first write archives nothing"
    );
    swift.call("PUT", "/state/doc", &[], "2").await;
    let versions = swift.archive(&wire::archive_prefix("doc")).await;
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["name"], format!("003doc/{first_ts}"));
    assert_eq!(versions[0]["hash"], MD5_ONE);
    let old = swift
        .call("GET", &format!("/archive/003doc/{first_ts}"), &[], "")
        .await;
    assert_eq!((old.status, old.body.as_str()), (StatusCode::OK, "1"));
    assert_eq!(old.header("x-object-meta-n"), Some("1"));
    // A create-only PUT over an existing object archives it before it fails, as
    // versioned_writes copies before the object server checks If-None-Match.
    let refused = swift
        .call("PUT", "/state/doc", &[("if-none-match", "*")], "3")
        .await;
    assert_eq!(refused.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(swift.archive("003doc/").await.len(), 2);
    assert_eq!(swift.call("GET", "/state/doc", &[], "").await.body, "2");
}

#[tokio::test]
async fn delete_archives_the_object_and_writes_a_marker() {
    let swift = Swift::new();
    swift.versioned().await;
    swift.call("PUT", "/state/doc", &[], "1").await;
    assert_eq!(
        swift.call("DELETE", "/state/doc", &[], "").await.status,
        204
    );
    assert_eq!(swift.call("GET", "/state/doc", &[], "").await.status, 404);
    let versions = swift.archive("003doc/").await;
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert_eq!(versions[0]["hash"], MD5_ONE);
    assert_eq!(
        versions[1]["content_type"],
        wire::DELETE_MARKER_CONTENT_TYPE
    );
    assert_eq!(versions[1]["bytes"], 0);
    // Deleting what is not there still writes a marker, and answers 404.
    assert_eq!(
        swift.call("DELETE", "/state/doc", &[], "").await.status,
        404
    );
    assert_eq!(swift.archive("003doc/").await.len(), 3);
    // Without its archive container, a versioned write is a 412.
    swift.call("PUT", "/state/doc", &[], "1").await;
    for name in swift.archive("").await {
        let path = format!("/archive/{}", name["name"].as_str().unwrap());
        assert_eq!(swift.call("DELETE", &path, &[], "").await.status, 204);
    }
    assert_eq!(swift.call("DELETE", "/archive", &[], "").await.status, 204);
    assert_eq!(swift.call("PUT", "/state/doc", &[], "2").await.status, 412);
    assert_eq!(
        swift.call("DELETE", "/state/doc", &[], "").await.status,
        412
    );
    // History off: writes go through again.
    let off = swift
        .call("POST", "/state", &[("x-remove-history-location", "x")], "")
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT);
    assert_eq!(swift.call("PUT", "/state/doc", &[], "2").await.status, 201);
}

#[tokio::test]
async fn listing_pages_with_prefix_marker_limit_and_delimiter() {
    let swift = Swift::new();
    swift.call("PUT", "/state", &[], "").await;
    for name in [
        "groups/web.json",
        "journal/op-1/0001",
        "journal/op-1/0002",
        "lock",
    ] {
        assert_eq!(
            swift
                .call("PUT", &format!("/state/{name}"), &[], "x")
                .await
                .status,
            201
        );
    }
    let page = swift
        .call("GET", "/state?format=json&prefix=journal/&limit=1", &[], "")
        .await;
    let entries: Vec<wire::ObjectEntry> = serde_json::from_str(&page.body).unwrap();
    assert!(
        matches!(&entries[..], [wire::ObjectEntry::Object(o)] if o.name == "journal/op-1/0001")
    );
    let next = swift
        .call(
            "GET",
            "/state?prefix=journal/&marker=journal/op-1/0001",
            &[],
            "",
        )
        .await;
    assert_eq!(next.body, "journal/op-1/0002\n");
    let top = swift
        .call(
            "GET",
            "/state?delimiter=/",
            &[("accept", "application/json")],
            "",
        )
        .await;
    assert_eq!(
        top.json(),
        serde_json::json!([{"subdir": "groups/"}, {"subdir": "journal/"},
        top.json()[2].clone()])
    );
    assert_eq!(top.json()[2]["name"], "lock");
    assert_eq!(top.header("x-container-object-count"), Some("4"));
    let too_many = swift.call("GET", "/state?limit=10001", &[], "").await;
    assert_eq!(too_many.status, StatusCode::PRECONDITION_FAILED);
    // The account lists its containers.
    let account = swift.call("GET", "?format=json", &[], "").await;
    assert_eq!(account.json()[0]["name"], "state");
    assert_eq!(account.json()[0]["count"], 4);
    // A container holding objects is not deleted.
    assert_eq!(swift.call("DELETE", "/state", &[], "").await.status, 409);
}

#[tokio::test]
async fn expired_objects_are_gone_and_can_be_created_again() {
    let swift = Swift::new();
    swift.call("PUT", "/state", &[], "").await;
    let lease = [("if-none-match", "*"), ("x-delete-after", "60")];
    assert_eq!(
        swift.call("PUT", "/state/lock", &lease, "1").await.status,
        201
    );
    let head = swift.call("HEAD", "/state/lock", &[], "").await;
    let at: i64 = head.header("x-delete-at").unwrap().parse().unwrap();
    assert!((at - chrono::Utc::now().timestamp() - 60).abs() <= 1);
    assert_eq!(
        swift.call("PUT", "/state/lock", &lease, "2").await.status,
        412
    );
    swift.world.clock.set_offset_ms(61_000);
    assert_eq!(swift.call("GET", "/state/lock", &[], "").await.status, 404);
    assert_eq!(
        swift.call("PUT", "/state/lock", &lease, "2").await.status,
        201
    );
    let past = [("x-delete-at", "1000")];
    let refused = swift.call("PUT", "/state/old", &past, "1").await;
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (StatusCode::BAD_REQUEST, "X-Delete-At in past")
    );
}

#[tokio::test]
async fn a_clock_stepped_back_drops_writes_with_202() {
    let swift = Swift::new();
    swift.call("PUT", "/state", &[], "").await;
    assert_eq!(swift.call("PUT", "/state/doc", &[], "1").await.status, 201);
    swift.world.clock.set_offset_ms(-10_000);
    let dropped = swift.call("PUT", "/state/doc", &[], "2").await;
    assert_eq!(dropped.status, StatusCode::ACCEPTED);
    assert_eq!(swift.call("GET", "/state/doc", &[], "").await.body, "1");
    assert_eq!(
        swift.call("DELETE", "/state/doc", &[], "").await.status,
        409
    );
    swift.world.clock.set_offset_ms(0);
    assert_eq!(swift.call("PUT", "/state/doc", &[], "2").await.status, 201);
    let site = swift.world.sites["site-a"].lock(&swift.world);
    let object = &site.object.accounts[&swift.account].containers["state"].objects["doc"];
    assert!(super::objects::timestamp_of(object) > Timestamp(0));
}

#[tokio::test]
async fn tokens_must_own_the_account_with_an_operator_role() {
    let swift = Swift::new();
    let none = swift.call_as("nope", "GET", "", &[], "").await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(
        none.header("www-authenticate")
            .unwrap()
            .starts_with("Keystone uri=")
    );
    let reader = swift.call_as("reader", "PUT", "/state", &[], "").await;
    assert_eq!(reader.status, StatusCode::FORBIDDEN);
    let other = swift
        .app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/v1/AUTH_someone-else")
                .header("x-auth-token", "member")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    let head = swift.call("HEAD", "", &[], "").await;
    assert_eq!(head.status, StatusCode::NO_CONTENT);
    assert_eq!(head.header("x-account-container-count"), Some("0"));
}
