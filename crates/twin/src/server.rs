//! Serving the twin: binds each site's OpenStack port and HTTPS array port and the control
//! port on 127.0.0.1, runs the replication schedules, and takes sites down and up.
//!
//! A site that is down has its listeners closed and its open connections dropped, so clients
//! see "connection refused" as they would from a dead site; bringing it up binds the same ports
//! again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::clock::{Clock, Op};
use super::errors::{self, Service};
use super::faults::{FaultAction, HANG};
use super::fixture::Fixture;
use super::runtime::{Endpoint, Runtime, bind, bind_site_port, spawn_accept};
use super::world::{SiteContext, World};

/// How a twin is started.
#[derive(Debug, Clone)]
pub struct TwinOptions {
    pub fixture: Fixture,
    pub seed: u64,
    /// Latency divisor: 100 makes a 30 s boot take 0.3 s.
    pub speed: f64,
    /// Serve the OpenStack APIs over HTTPS too (the arrays always are).
    pub tls_openstack: bool,
}

/// A running twin. Dropping it (or [`Twin::shutdown`]) closes every port.
pub struct Twin {
    pub runtime: Arc<Runtime>,
    pub ca_pem: String,
    pub control_url: String,
    background: JoinSet<()>,
}

impl Twin {
    pub async fn start(options: TwinOptions) -> Result<Twin, String> {
        let clock = Clock::new(options.speed);
        let world = Arc::new(
            World::from_fixture(&options.fixture, options.seed, clock)
                .map_err(|e| e.to_string())?,
        );
        let tls = super::tls::generate()?;
        let acceptor = TlsAcceptor::from(tls.server_config.clone());
        let runtime = Arc::new(Runtime {
            world: world.clone(),
            endpoints: Mutex::new(BTreeMap::new()),
        });

        for (name, cell) in &world.sites {
            let context = SiteContext {
                world: world.clone(),
                cell: cell.clone(),
            };
            let openstack_tls = options.tls_openstack.then(|| acceptor.clone());
            let openstack = with_common_layers(
                super::openstack::router().with_state(context.clone()),
                runtime.clone(),
                name,
            );
            let array = with_common_layers(
                super::flasharray::api::router().with_state(context),
                runtime.clone(),
                name,
            );
            let mut endpoints = Vec::new();
            for (app, tls) in [(openstack, openstack_tls), (array, Some(acceptor.clone()))] {
                let listener = bind_site_port().await?;
                let addr = listener.local_addr().map_err(|e| e.to_string())?;
                let task = spawn_accept(listener, app.clone(), tls.clone());
                endpoints.push(Endpoint {
                    addr,
                    app,
                    tls,
                    task: Some(task),
                    reserved: None,
                });
            }
            {
                let mut site = cell.lock(&world);
                let scheme = if options.tls_openstack {
                    "https"
                } else {
                    "http"
                };
                site.endpoints.openstack = format!("{scheme}://{}", endpoints[0].addr);
                site.endpoints.array = format!("https://{}", endpoints[1].addr);
            }
            runtime
                .endpoints
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.clone(), endpoints);
        }

        let mut background = JoinSet::new();
        let control = super::control::router(runtime.clone());
        let listener = bind("127.0.0.1:0".parse().map_err(|e| format!("{e}"))?).await?;
        let control_url = format!(
            "http://{}",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        background.spawn(async move {
            let _ = axum::serve(listener, control).await;
        });
        background.spawn(run_schedules(world.clone()));
        Ok(Twin {
            runtime,
            ca_pem: tls.ca_pem,
            control_url,
            background,
        })
    }

    pub fn world(&self) -> &Arc<World> {
        &self.runtime.world
    }

    /// Closes every port and stops the schedules.
    pub fn shutdown(mut self) {
        self.runtime.close_all();
        self.background.abort_all();
    }
}

impl Drop for Twin {
    fn drop(&mut self) {
        self.runtime.close_all();
    }
}

/// Numbers the requests that arrive without an id of their own.
static REQUESTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Request ids, fault injection and the modelled API latency, around every service router.
fn with_common_layers(app: Router, runtime: Arc<Runtime>, site: &str) -> Router {
    let state = (runtime, site.to_string());
    app.layer(middleware::from_fn_with_state(state, common_layer))
}

async fn common_layer(
    State((runtime, site)): State<(Arc<Runtime>, String)>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let method = request.method().as_str().to_string();
    let service = Service::of_path(&path);
    let request_id = request
        .headers()
        .get("x-openstack-request-id")
        .or_else(|| request.headers().get("x-request-id"))
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| {
            let sequence = REQUESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("req-{}", protector_wire::ids::IdGen::new(sequence).uuid())
        });
    tokio::time::sleep(runtime.world.clock.latency(Op::ApiCall)).await;
    let mut response = match runtime.world.faults.take(&site, &method, &path) {
        Some(FaultAction::Status {
            status,
            message,
            served,
        }) => {
            if served {
                // The service does the work; its answer never reaches the client.
                drop(next.run(request).await);
            }
            let status = axum::http::StatusCode::from_u16(status)
                .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
            let message = message.unwrap_or_else(|| "Injected fault.".to_string());
            errors::respond(service.unwrap_or(Service::Nova), status, message)
        }
        Some(FaultAction::RateLimit { retry_after }) => {
            errors::over_limit(service.unwrap_or(Service::Nova), retry_after)
        }
        Some(FaultAction::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(request).await
        }
        Some(FaultAction::Hang) => {
            tokio::time::sleep(HANG).await;
            next.run(request).await
        }
        // Server faults act in Nova, never on a request (`take` does not return them).
        Some(FaultAction::NoValidHost | FaultAction::ServerError { .. }) | None => {
            next.run(request).await
        }
    };

    // The site's clock, not this machine's (hyper's own `Date`), so an offset set through the
    // control API shows in headers as in bodies.
    if let Ok(value) = HeaderValue::from_str(&runtime.world.clock.http_date()) {
        response
            .headers_mut()
            .insert(axum::http::header::DATE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        let name = match service {
            Some(Service::Flasharray) => HeaderName::from_static("x-request-id"),
            _ => HeaderName::from_static("x-openstack-request-id"),
        };
        response.headers_mut().insert(name, value);
    }
    response
}

/// Fires due replication schedules. Ticks often enough to honour a sped-up schedule.
async fn run_schedules(world: Arc<World>) {
    let tick = world
        .clock
        .scale(Duration::from_secs(1))
        .clamp(Duration::from_millis(10), Duration::from_secs(1));
    loop {
        tokio::time::sleep(tick).await;
        let now = world.clock.now();
        for (name, cell) in &world.sites {
            if !cell.is_up() {
                continue;
            }
            let due: Vec<String> = {
                let mut site = cell.lock(&world);
                let array_name = site.array.name.clone();
                let mut due = Vec::new();
                for group in site.array.protection_groups.values_mut() {
                    let schedule = &group.replication_schedule;
                    if group.destroyed || group.source != array_name || !schedule.enabled {
                        continue;
                    }
                    let frequency = world.clock.scale(Duration::from_millis(schedule.frequency));
                    match group.next_replication {
                        Some(next) if next <= now => {
                            group.next_replication = Some(now + frequency);
                            due.push(group.name.clone());
                        }
                        None => group.next_replication = Some(now + frequency),
                        Some(_) => {}
                    }
                }
                due
            };
            for group in due {
                let _ = super::flasharray::replication::replicate_now(&world, name, &group, false);
            }
        }
    }
}
