//! The running endpoints of a twin, shared by the server that starts them and the control API
//! that takes sites down and up: which ports each site listens on, and how a site's ports close
//! and open again.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use super::world::World;

/// One listening endpoint of a site.
pub(crate) struct Endpoint {
    pub(crate) addr: SocketAddr,
    pub(crate) app: Router,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) task: Option<JoinHandle<()>>,
}

/// Shared by the control API and the running twin.
pub struct Runtime {
    pub world: Arc<World>,
    pub(crate) endpoints: Mutex<BTreeMap<String, Vec<Endpoint>>>,
}

impl Runtime {
    /// Takes a site down (its ports refuse connections) or brings it back up.
    pub async fn set_site_up(&self, site: &str, up: bool) -> Result<(), String> {
        let cell = self
            .world
            .site(site)
            .ok_or_else(|| format!("no site named `{site}`"))?;
        // Bring transfers up to date under the old reachability before it changes.
        for other in self.world.sites.values() {
            drop(other.lock(&self.world));
        }
        cell.set_up(up);
        let (addresses, tasks): (Vec<SocketAddr>, Vec<JoinHandle<()>>) = {
            let mut endpoints = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
            let Some(endpoints) = endpoints.get_mut(site) else {
                return Ok(());
            };
            let tasks = endpoints
                .iter_mut()
                .filter_map(|endpoint| endpoint.task.take())
                .collect();
            (
                endpoints.iter().map(|endpoint| endpoint.addr).collect(),
                tasks,
            )
        };
        // An aborted task drops its listener only when the runtime next gets to it: wait for
        // that, so the ports refuse connections (and can be bound again) once this returns.
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
        if !up {
            return Ok(());
        }
        let mut listeners = Vec::new();
        for addr in addresses {
            listeners.push(rebind(addr).await?);
        }
        let mut endpoints = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(endpoints) = endpoints.get_mut(site) {
            for (endpoint, listener) in endpoints.iter_mut().zip(listeners) {
                endpoint.task = Some(spawn_accept(
                    listener,
                    endpoint.app.clone(),
                    endpoint.tls.clone(),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn close_all(&self) {
        let mut endpoints = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        for endpoint in endpoints.values_mut().flatten() {
            if let Some(task) = endpoint.task.take() {
                task.abort();
            }
        }
    }
}

/// A port for a site in 10000-14999, below the kernel's range of ephemeral ports (and the
/// ports tests/real-openstack takes, from 15000): while the site is down its port is free, and
/// one in the ephemeral range could meanwhile become the source port of some connection (a busy
/// machine makes thousands), which would keep the site from coming back.
pub(crate) async fn bind_site_port() -> Result<TcpListener, String> {
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    const FIRST: u16 = 10_000;
    let end = ephemeral.min(15_000);
    if end > FIRST {
        let span = u64::from(end - FIRST);
        // Spread the twins of concurrent tests over the range: a start from the clock and pid.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64)
            ^ (u64::from(std::process::id()) << 20);
        for attempt in 0..64u64 {
            let port = FIRST + ((seed + attempt * 7919) % span) as u16;
            if let Ok(listener) = bind(SocketAddr::from(([127, 0, 0, 1], port))).await {
                return Ok(listener);
            }
        }
    }
    bind("127.0.0.1:0".parse().map_err(|e| format!("{e}"))?).await
}

/// Binds a site's old port again when it comes back up, waiting out (up to 5 s) whatever
/// holds it for a moment.
pub(crate) async fn rebind(addr: SocketAddr) -> Result<TcpListener, String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut pause = std::time::Duration::from_millis(10);
    loop {
        match bind(addr).await {
            Err(error) if std::time::Instant::now() < deadline => {
                tracing::debug!(%error, "binding the site's port again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_millis(200));
            }
            result => return result,
        }
    }
}

/// Binds with SO_REUSEADDR so a site brought back up gets its old port despite TIME_WAIT.
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("cannot open a socket: {e}"))?;
    socket
        .set_reuseaddr(true)
        .map_err(|e| format!("cannot set SO_REUSEADDR: {e}"))?;
    socket
        .bind(addr)
        .map_err(|e| format!("cannot bind {addr}: {e}"))?;
    socket
        .listen(1024)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
}

/// Accepts connections until aborted; aborting also drops every open connection (they live in
/// the accept task's `JoinSet`).
pub(crate) fn spawn_accept(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let service = TowerToHyperService::new(app.clone());
                    let tls = tls.clone();
                    connections.spawn(async move {
                        let builder = hyper::server::conn::http1::Builder::new();
                        match tls {
                            Some(acceptor) => {
                                if let Ok(stream) = acceptor.accept(stream).await {
                                    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                                }
                            }
                            None => {
                                let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    })
}
