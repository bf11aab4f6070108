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
    /// While the site is down: the task that holds its port, bound but not listening, so
    /// connections are refused and no other twin takes the port meanwhile (see [`reserve`]).
    pub(crate) reserved: Option<JoinHandle<Option<TcpSocket>>>,
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
        type Closing = (
            SocketAddr,
            Option<JoinHandle<()>>,
            Option<JoinHandle<Option<TcpSocket>>>,
        );
        let closing: Vec<Closing> = {
            let mut endpoints = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
            let Some(endpoints) = endpoints.get_mut(site) else {
                return Ok(());
            };
            endpoints
                .iter_mut()
                .map(|endpoint| {
                    (
                        endpoint.addr,
                        endpoint.task.take(),
                        endpoint.reserved.take(),
                    )
                })
                .collect()
        };
        let mut listeners = Vec::new();
        let mut reservations = Vec::new();
        for (addr, task, reserved) in closing {
            // An aborted task drops its listener only when the runtime next gets to it: wait
            // for that, so the port refuses connections (and can be bound again) once this
            // returns.
            if let Some(task) = task {
                task.abort();
                let _ = task.await;
            }
            if up {
                let held = match reserved {
                    Some(holding) if holding.is_finished() => holding.await.ok().flatten(),
                    Some(holding) => {
                        holding.abort();
                        None
                    }
                    None => None,
                };
                let listener = match held.map(|socket| socket.listen(1024)) {
                    Some(Ok(listener)) => listener,
                    _ => rebind(addr).await?,
                };
                listeners.push(listener);
            } else {
                reservations.push(Some(
                    reserved.unwrap_or_else(|| tokio::spawn(reserve(addr))),
                ));
            }
        }
        if !up {
            let mut endpoints = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(endpoints) = endpoints.get_mut(site) {
                for (endpoint, reserved) in endpoints.iter_mut().zip(reservations) {
                    endpoint.reserved = reserved;
                }
            }
            return Ok(());
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

/// A site's port while the site is down: bound (with SO_REUSEADDR, as its connections' TIME_WAIT
/// needs) but not listening, so connections to it are refused as by a site that is gone. It
/// keeps other twins off the port: they bind new site ports without SO_REUSEADDR
/// ([`bind_site_port`]), which fails on a port any socket holds. Without it, a concurrent
/// test's twin could take the port of a site that is down and keep it from coming back.
/// Tried until it holds (a minute at most): the kernel refuses the bind while a client still
/// has a connection to the closed site open.
async fn reserve(addr: SocketAddr) -> Option<TcpSocket> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let socket = TcpSocket::new_v4().ok()?;
        socket.set_reuseaddr(true).ok()?;
        match socket.bind(addr) {
            Ok(()) => return Some(socket),
            Err(error) if std::time::Instant::now() >= deadline => {
                tracing::debug!(%addr, %error, "cannot hold the port of a site that is down");
                return None;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
}

/// A port for a site in 10000-14999, below the kernel's range of ephemeral ports (and the
/// ports tests/real-openstack takes, from 15000): one in the ephemeral range could become the
/// source port of some connection while the site is down (a busy machine makes thousands). It
/// is bound without SO_REUSEADDR, so a port another twin holds for a site that is down
/// ([`reserve`]), or one with connections in TIME_WAIT, is passed over.
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
            if let Ok(listener) = bind_unshared(SocketAddr::from(([127, 0, 0, 1], port))) {
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

/// Binds and listens on a port no socket holds in any state. SO_REUSEADDR is set only once
/// bound: the bind itself is strict, and the connections it leaves in TIME_WAIT still let the
/// site hold and take back its port (a TIME_WAIT socket yields only to sockets that share
/// the flag with it).
fn bind_unshared(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(addr)?;
    socket.set_reuseaddr(true)?;
    socket.listen(1024)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_site_that_is_down_refuses_connections_and_keeps_its_port() {
        let listener = bind_site_port().await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A client that closes first: no TIME_WAIT on the site's side holds the port.
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        drop(client);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop((server, listener));

        let reserved = reserve(addr)
            .await
            .expect("the port of a site that is down is held");
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "refused while down"
        );
        // Another twin looking for a port passes this one over; without the hold it would not.
        assert!(bind_unshared(addr).is_err());
        drop(reserved);
        drop(bind_unshared(addr).expect("free once nothing holds it"));

        let reserved = reserve(addr).await.expect("held again");
        let listener = reserved.listen(1024).expect("the same port, back up");
        let again = tokio::net::TcpStream::connect(addr).await;
        assert!(again.is_ok(), "{again:?}");
        drop(listener);
    }

    #[tokio::test]
    async fn the_port_is_held_once_the_last_client_lets_go() {
        let listener = bind_site_port().await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        drop((server, listener));
        let holding = tokio::spawn(reserve(addr));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        drop(client);
        assert!(holding.await.unwrap().is_some());
    }
}
