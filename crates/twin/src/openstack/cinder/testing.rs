//! Helpers of Cinder's tests.

use super::{driver::*, lifecycle::*, routing::*};
use crate::clock::Clock;
use crate::world::Site;
use crate::world::SiteContext;
use crate::world::World;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

pub(super) const FIXTURE: &str = include_str!("../../../../../examples/sim/two-sites.yaml");

pub(super) struct Twin {
    pub(super) world: Arc<World>,
    pub(super) site: String,
    pub(super) app: Router,
}

impl Twin {
    pub(super) fn new(site: &str) -> Twin {
        let fixture = crate::fixture::parse(FIXTURE).expect("fixture parses");
        Twin::from_fixture(&fixture, site)
    }

    pub(super) fn from_fixture(fixture: &crate::fixture::Fixture, site: &str) -> Twin {
        let world = Arc::new(World::from_fixture(fixture, 7, Clock::new(1.0)).unwrap());
        let cell = world.site(site).expect("site").clone();
        // Nested as `openstack::router()` nests it (the other services are not needed).
        let app = Router::new()
            .nest("/volume", routes())
            .with_state(SiteContext {
                world: world.clone(),
                cell,
            });
        Twin {
            world,
            site: site.to_string(),
            app,
        }
    }

    pub(super) fn site(&self) -> std::sync::MutexGuard<'_, Site> {
        self.world.site(&self.site).unwrap().lock(&self.world)
    }

    /// Runs every pending transition, as if their latency had passed.
    pub(super) fn settle(&self) {
        let mut site = self.site();
        advance(&mut site, Instant::now() + Duration::from_secs(3600));
    }

    /// A token of `user` on `prod` with `roles`.
    pub(super) fn token(&self, user: &str, roles: &[&str]) -> String {
        let id = format!("token-{user}-{}", roles.join("-"));
        crate::openstack::testing::grant_token(&mut self.site(), &id, user, roles);
        id
    }

    pub(super) fn project(&self) -> String {
        self.site().project_id("prod").unwrap().to_string()
    }

    pub(super) async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        version: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let path = path.replace("{project}", &self.project());
        let version = version.map(|v| format!("volume {v}"));
        let mut headers = Vec::new();
        if let Some(token) = token {
            headers.push(("x-auth-token", token));
        }
        if let Some(version) = version.as_deref() {
            headers.push(("openstack-api-version", version));
        }
        crate::openstack::testing::call(&self.app, "cinder.test", method, &path, &headers, body)
            .await
    }
}

/// An array volume on site-b that Cinder does not manage (what a failover copies from a
/// replicated snapshot).
pub(super) fn add_array_volume(twin: &Twin, name: &str, gib: u64) {
    let mut site = twin.site();
    array_create(&mut site, name, gib << 30, None).unwrap();
}
