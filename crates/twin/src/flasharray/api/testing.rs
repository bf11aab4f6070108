//! Helpers of the array's tests.

use super::*;
use crate::clock::Clock;
use crate::fixture;
use crate::world::SiteContext;
use crate::world::World;
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::http::StatusCode;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

/// The built-in two-site world at a speed where every modelled wait is a few microseconds,
/// with a logged-in session on each array.
pub(super) struct Harness {
    pub(super) world: Arc<World>,
    pub(super) a: Router,
    pub(super) b: Router,
    pub(super) token_a: String,
    pub(super) token_b: String,
}

impl Harness {
    pub(super) async fn new(speed: f64) -> Harness {
        let text = include_str!("../../../../../examples/sim/two-sites.yaml");
        let fixture = fixture::parse(text).unwrap();
        let world = Arc::new(World::from_fixture(&fixture, 3, Clock::new(speed)).unwrap());
        let app = |site: &str| {
            router().with_state(SiteContext {
                world: world.clone(),
                cell: world.site(site).unwrap().clone(),
            })
        };
        let (a, b) = (app("site-a"), app("site-b"));
        let mut harness = Harness {
            world: world.clone(),
            a,
            b,
            token_a: String::new(),
            token_b: String::new(),
        };
        harness.token_a = harness
            .login(true, &fixture.sites["site-a"].array.api_token)
            .await;
        harness.token_b = harness
            .login(false, &fixture.sites["site-b"].array.api_token)
            .await;
        harness
    }

    pub(super) async fn login(&self, on_a: bool, api_token: &str) -> String {
        let router = if on_a { &self.a } else { &self.b };
        let request = Request::post("/api/2.56/login")
            .header("api-token", api_token)
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.headers()["x-auth-token"]
            .to_str()
            .unwrap()
            .to_string()
    }

    /// `METHOD /api/2.56/<endpoint>` on fa-a (`on_a`) or fa-b: status and JSON body.
    pub(super) async fn call(
        &self,
        on_a: bool,
        method: &str,
        endpoint: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (router, token) = if on_a {
            (&self.a, &self.token_a)
        } else {
            (&self.b, &self.token_b)
        };
        let request = Request::builder()
            .method(method)
            .uri(format!("/api/2.56/{endpoint}"))
            .header("x-auth-token", token)
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, json)
    }

    pub(super) async fn items(&self, on_a: bool, endpoint: &str) -> Vec<Value> {
        let (status, body) = self.call(on_a, "GET", endpoint, None).await;
        assert_eq!(status, StatusCode::OK, "{endpoint}: {body}");
        body["items"].as_array().unwrap().clone()
    }
}

pub(super) fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}
