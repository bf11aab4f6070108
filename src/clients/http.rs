//! The HTTP layer every service client shares: TLS trust, per-call timeout, request ids,
//! retries, and errors an operator can act on.
//!
//! Retries follow what the services ask for: 429 waits for `Retry-After` (as long as the running
//! step's deadline, [`DEADLINE`], allows; a fixed number of times outside a step), server errors
//! (5xx) and connection failures back off exponentially with full jitter. Only calls marked
//! idempotent are retried on a server error or a failure that may have reached the service
//! (GET, PUT, DELETE; a POST only when the caller knows repeating it is harmless), because
//! retrying a create whose answer was lost would create twice; a 429 or a refused connection
//! never reached the service, so every call is retried then. Each logical call gets a
//! `req-<uuid>` id, sent as `X-OpenStack-Request-ID` and `X-Request-ID` (OpenStack services log
//! it as the global request id; FlashArray echoes it), logged, and named in errors, so an
//! operator can find the call in the services' logs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What went wrong with a call, in the operator's terms (boxed: results stay small).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(pub Box<Failure>);

impl std::ops::Deref for ClientError {
    type Target = Failure;
    fn deref(&self) -> &Failure {
        &self.0
    }
}

impl From<Failure> for ClientError {
    fn from(failure: Failure) -> Self {
        ClientError(Box::new(failure))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `nova on site-b`, `flasharray fa-b`, ...
    pub service: String,
    pub method: String,
    /// The URL path only: never a query that could hold a secret.
    pub path: String,
    pub status: Option<u16>,
    pub message: String,
    pub request_id: String,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Could not connect: the site or service is down or unreachable.
    Unreachable,
    Timeout,
    /// The service answered with an error status.
    Status,
    /// The answer could not be understood.
    Decode,
    /// Configuration (TLS trust, URL) prevented the call.
    Config,
}

impl Failure {
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Failure {
            service,
            method,
            path,
            message,
            request_id,
            ..
        } = self;
        match self.kind {
            // No call was made: there is no request to name.
            ErrorKind::Config => write!(f, "{service}: {message}"),
            _ => write!(
                f,
                "{service}: {method} {path}: {message} (request {request_id})"
            ),
        }
    }
}

impl std::error::Error for Failure {}

/// Whose TLS certificates a client accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Trust {
    /// Those the system's CAs sign.
    #[default]
    System,
    /// Those the system's CAs or the CAs of a PEM bundle sign: a FlashArray's private CA.
    SystemAnd(PathBuf),
    /// Only those the CAs of a PEM bundle sign: clouds.yaml's `cacert`, which openstacksdk hands
    /// to requests as `verify`, and requests then trusts nothing else.
    Only(PathBuf),
    /// Any certificate, unchecked: clouds.yaml's `verify: false` or `insecure: true`.
    Off,
}

tokio::task_local! {
    /// The deadline of the step a call serves: a rate-limited call (429) waits for the service
    /// until then, however many times it is told to come back later.
    pub static DEADLINE: tokio::time::Instant;
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The pause before retry `attempt` (0 for the first) of the call `key` names (its request
    /// id): full jitter, drawn from `key` and `attempt`.
    pub fn pause(&self, attempt: u32, key: &str) -> Duration {
        backoff(self, attempt, seed(key, attempt))
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// One service's HTTP client.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    /// Used in errors and logs: `nova on site-b`.
    pub service: String,
    pub retry: RetryPolicy,
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Option<serde_json::Value>,
    /// Safe to repeat when the answer is lost.
    pub idempotent: bool,
}

impl Call {
    pub fn new(method: Method, url: impl Into<String>) -> Call {
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        Call {
            method,
            url: url.into(),
            headers: HeaderMap::new(),
            body: None,
            idempotent,
        }
    }

    pub fn json<T: Serialize>(mut self, body: &T) -> Call {
        self.body = serde_json::to_value(body).ok();
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Call {
        if let Ok(value) = reqwest::header::HeaderValue::from_str(value) {
            self.headers.insert(name, value);
        }
        self
    }

    /// Marks a POST as safe to repeat (logins, queries).
    pub fn idempotent(mut self) -> Call {
        self.idempotent = true;
        self
    }
}

/// A response that was not an error status.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// The call, to name it if the body cannot be decoded.
    call: Failure,
}

impl Reply {
    pub fn request_id(&self) -> &str {
        &self.call.request_id
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_str(&self.body).map_err(|error| {
            Failure {
                status: Some(self.status.as_u16()),
                message: format!("unexpected answer: {error}"),
                kind: ErrorKind::Decode,
                ..self.call.clone()
            }
            .into()
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A fresh `req-<uuid>` (random enough for log correlation; not a secret).
pub fn request_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let seed = nanos ^ sequence.rotate_left(32) ^ u64::from(std::process::id());
    format!("req-{}", protector_wire::ids::IdGen::new(seed).uuid())
}

/// Full jitter: a uniform delay in [0, min(max, base * 2^attempt)].
fn backoff(policy: &RetryPolicy, attempt: u32, entropy: u64) -> Duration {
    let ceiling = policy
        .base_delay
        .saturating_mul(1u32 << attempt.min(16))
        .min(policy.max_delay);
    let fraction = (entropy % 10_000) as f64 / 10_000.0;
    ceiling.mul_f64(fraction)
}

/// Installs ring as rustls' crypto provider once per process (reqwest is built without one, so
/// the whole program uses a single TLS stack).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Http {
    /// A client accepting the certificates `trust` says, with `timeout` per call. A CA bundle is
    /// read bounded, as every file a spec or clouds.yaml names: a regular file of at most
    /// [`NAMED_FILE_LIMIT`](crate::spec::files::NAMED_FILE_LIMIT) bytes.
    pub fn new(
        service: impl Into<String>,
        trust: &Trust,
        timeout: Duration,
    ) -> Result<Http, ClientError> {
        install_crypto_provider();
        let service = service.into();
        let config_error = |message: String| -> ClientError {
            Failure {
                service: service.clone(),
                method: String::new(),
                path: String::new(),
                status: None,
                message,
                request_id: String::new(),
                kind: ErrorKind::Config,
            }
            .into()
        };
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("protector/", env!("CARGO_PKG_VERSION")));
        let bundle = |ca_file: &Path| -> Result<Vec<reqwest::Certificate>, ClientError> {
            let ca = ca_file.display();
            let pem = crate::spec::files::read_named(ca_file).map_err(|problem| {
                config_error(format!("cannot read the CA certificate {ca}: {problem}"))
            })?;
            match reqwest::Certificate::from_pem_bundle(&pem) {
                Ok(certificates) if !certificates.is_empty() => Ok(certificates),
                Ok(_) => Err(config_error(format!("{ca} holds no PEM certificate"))),
                Err(error) => Err(config_error(format!(
                    "{ca} is not a PEM CA bundle: {error}"
                ))),
            }
        };
        builder = match trust {
            Trust::System => builder,
            Trust::SystemAnd(ca_file) => builder.tls_certs_merge(bundle(ca_file)?),
            Trust::Only(ca_file) => builder.tls_certs_only(bundle(ca_file)?),
            Trust::Off => builder.tls_danger_accept_invalid_certs(true),
        };
        let client = builder
            .build()
            .map_err(|error| config_error(format!("cannot build the HTTP client: {error}")))?;
        Ok(Http {
            client,
            service,
            retry: RetryPolicy::default(),
        })
    }

    /// Sends `call`, retrying as the policy allows. Error statuses become [`ClientError`]s with
    /// the message the service put in its error body.
    pub async fn send(&self, call: Call) -> Result<Reply, ClientError> {
        let request_id = request_id();
        let path = reqwest::Url::parse(&call.url)
            .map(|url| url.path().to_string())
            .unwrap_or_else(|_| call.url.clone());
        let method = call.method.as_str().to_string();
        let error = |status: Option<u16>, message: String, kind: ErrorKind| Failure {
            service: self.service.clone(),
            method: method.clone(),
            path: path.clone(),
            status,
            message,
            request_id: request_id.clone(),
            kind,
        };
        // Tries so far, for the backoff; server errors and rate limits have budgets of their
        // own, so that a 429 never uses up the retries of a 503 or the reverse.
        let (mut attempt, mut server_errors, mut rate_limited) = (0, 0, 0);
        loop {
            let started = std::time::Instant::now();
            let mut request = self
                .client
                .request(call.method.clone(), &call.url)
                .headers(call.headers.clone())
                .header("X-OpenStack-Request-ID", &request_id)
                .header("X-Request-ID", &request_id)
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(body) = &call.body {
                tracing::trace!(request_id = %request_id, method = %method, path = %path, body = %masked(body), "http request body");
                request = request.json(body);
            }
            let outcome = request.send().await;
            match outcome {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let text = response.text().await.unwrap_or_default();
                    tracing::debug!(
                        request_id = %request_id,
                        service = %self.service,
                        method = %method,
                        path = %path,
                        status = status.as_u16(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "http call"
                    );
                    if tracing::enabled!(tracing::Level::TRACE) {
                        let body = match serde_json::from_str::<serde_json::Value>(&text) {
                            Ok(json) => masked(&json).to_string(),
                            // Only JSON is masked: of anything else, its size.
                            Err(_) => format!("({} bytes, not JSON)", text.len()),
                        };
                        tracing::trace!(request_id = %request_id, body = %body, "http response body");
                    }
                    if status.is_success() || status.is_redirection() {
                        return Ok(Reply {
                            status,
                            headers,
                            body: text,
                            call: error(None, String::new(), ErrorKind::Status),
                        });
                    }
                    let message = error_message(status, &text);
                    let code = status.as_u16();
                    let retry = match code {
                        429 => {
                            rate_limited += 1;
                            let delay = retry_after(&headers)
                                .unwrap_or_else(|| self.retry.pause(attempt, &request_id));
                            rate_limit_allows(delay, rate_limited, &self.retry).then_some(delay)
                        }
                        // 501 and 505 will not change on a second try.
                        500..=599 if code != 501 && code != 505 && call.idempotent => {
                            server_errors += 1;
                            (server_errors < self.retry.attempts)
                                .then(|| self.retry.pause(attempt, &request_id))
                        }
                        _ => None,
                    };
                    match retry {
                        Some(delay) => {
                            tracing::info!(request_id = %request_id, status = status.as_u16(), delay_ms = delay.as_millis() as u64, "retrying");
                            tokio::time::sleep(delay).await;
                        }
                        _ => {
                            return Err(
                                error(Some(status.as_u16()), message, ErrorKind::Status).into()
                            );
                        }
                    }
                }
                Err(failure) => {
                    let kind = if failure.is_timeout() {
                        ErrorKind::Timeout
                    } else {
                        ErrorKind::Unreachable
                    };
                    let message = describe(&failure);
                    tracing::debug!(request_id = %request_id, service = %self.service, method = %method, path = %path, error = %message, "http call failed");
                    // A refused connection never reached the service: repeating it is safe
                    // even for a create. Other failures may have reached it.
                    let safe = call.idempotent || failure.is_connect();
                    server_errors += 1;
                    if safe && server_errors < self.retry.attempts {
                        tokio::time::sleep(self.retry.pause(attempt, &request_id)).await;
                    } else {
                        return Err(error(None, message, kind).into());
                    }
                }
            }
            attempt += 1;
        }
    }
}

/// `value` with every value under a key that names a secret (`password`, `api_token`,
/// `secret`, ...) replaced by `***`, at any depth: what a log may show of a body.
fn masked(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let shown = if crate::render::redact::looks_secret(key) {
                        Value::from("***")
                    } else {
                        masked(value)
                    };
                    (key.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(masked).collect()),
        other => other.clone(),
    }
}

/// Whether a call told to come back in `delay` (429) for the `times`th time waits for it:
/// until the running step's deadline when there is one, else as many times as the policy tries.
fn rate_limit_allows(delay: Duration, times: u32, policy: &RetryPolicy) -> bool {
    match DEADLINE.try_with(|deadline| *deadline) {
        Ok(deadline) => tokio::time::Instant::now() + delay < deadline,
        Err(_) => times < policy.attempts,
    }
}

fn seed(request_id: &str, attempt: u32) -> u64 {
    request_id
        .bytes()
        .fold(u64::from(attempt) ^ 0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// `Retry-After` in seconds (the form OpenStack services send).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs >= 0.0)
        .map(|secs| Duration::from_secs_f64(secs.min(300.0)))
}

/// The failure without reqwest's noise, and with the cause that matters (refused, TLS, DNS).
fn describe(failure: &reqwest::Error) -> String {
    let mut message = if failure.is_timeout() {
        "timed out".to_string()
    } else if failure.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(failure);
    let mut last = None;
    while let Some(cause) = source {
        last = Some(cause.to_string());
        source = cause.source();
    }
    if let Some(cause) = last {
        message.push_str(": ");
        message.push_str(&cause);
    }
    message
}

/// The human message out of any of the services' error bodies.
pub fn error_message(status: StatusCode, body: &str) -> String {
    let reason = status.canonical_reason().unwrap_or("error");
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|value| {
        // Keystone {"error": {...}}, Neutron {"NeutronError": {...}}, FlashArray {"errors": [...]},
        // Nova/Cinder {"itemNotFound": {...}} (any single key holding a message).
        if let Some(errors) = value.get("errors").and_then(|e| e.as_array()) {
            let messages: Vec<String> = errors
                .iter()
                .filter_map(|e| {
                    let message = e.get("message")?.as_str()?;
                    Some(
                        match e
                            .get("context")
                            .and_then(|c| c.as_str())
                            .filter(|c| !c.is_empty())
                        {
                            Some(context) => format!("{context}: {message}"),
                            None => message.to_string(),
                        },
                    )
                })
                .collect();
            return (!messages.is_empty()).then(|| messages.join("; "));
        }
        let object = value.as_object()?;
        object
            .values()
            .find_map(|inner| {
                inner
                    .get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .or_else(|| {
                object
                    .get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
    });
    match message {
        Some(message) => format!("{} {reason}: {message}", status.as_u16()),
        None => format!("{} {reason}", status.as_u16()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_from_each_services_body() {
        let status = StatusCode::CONFLICT;
        assert_eq!(
            error_message(
                status,
                r#"{"conflictingRequest": {"code": 409, "message": "Cannot 'stop' instance"}}"#
            ),
            "409 Conflict: Cannot 'stop' instance"
        );
        assert_eq!(
            error_message(
                status,
                r#"{"NeutronError": {"type": "IpAddressAlreadyAllocated", "message": "IP taken", "detail": ""}}"#
            ),
            "409 Conflict: IP taken"
        );
        assert_eq!(
            error_message(
                StatusCode::BAD_REQUEST,
                r#"{"errors": [{"message": "Volume does not exist.", "context": "v1"}]}"#
            ),
            "400 Bad Request: v1: Volume does not exist."
        );
        assert_eq!(
            error_message(
                StatusCode::UNAUTHORIZED,
                r#"{"error": {"code": 401, "message": "no", "title": "Unauthorized"}}"#
            ),
            "401 Unauthorized: no"
        );
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, "<html>"),
            "502 Bad Gateway"
        );
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        let policy = RetryPolicy::default();
        for attempt in 0..30 {
            let delay = backoff(&policy, attempt, 9_999);
            assert!(delay <= policy.max_delay, "{attempt}: {delay:?}");
        }
        assert!(backoff(&policy, 0, 9_999) < backoff(&policy, 3, 9_999));
        assert_eq!(backoff(&policy, 3, 0), Duration::ZERO);
    }

    #[test]
    fn logged_bodies_mask_every_secret() {
        let body = serde_json::json!({"auth": {"identity": {"methods": ["password"],
            "password": {"user": {"name": "protector", "password": "s3cret"}}},
            "application_credential": {"id": "ac", "secret": "sh"}},
            "items": [{"api_token": "t0k", "name": "fa-a"}]});
        let shown = masked(&body).to_string();
        for secret in ["s3cret", "sh\"", "t0k"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("\"name\":\"fa-a\""), "{shown}");
        assert!(shown.contains("\"methods\":[\"password\"]"), "{shown}");
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    /// Serves `answers` (status, extra headers) in order on a loopback port, one per
    /// connection, counting the requests; returns its URL and the count.
    async fn canned(
        answers: Vec<(u16, &'static str)>,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/thing", listener.local_addr().unwrap());
        let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            for (status, headers) in answers {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                count.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"error": {"message": "canned"}}"#;
                let answer = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        (url, served)
    }

    fn http() -> Http {
        Http::new("thing on site-b", &Trust::System, Duration::from_secs(5)).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn reads_are_retried_on_server_errors_and_creates_are_not() {
        let (url, served) = canned(vec![(500, ""), (503, ""), (200, "")]).await;
        let reply = http().send(Call::new(Method::GET, &url)).await;
        assert!(reply.is_ok(), "{reply:?}");
        assert_eq!(served.load(Ordering::SeqCst), 3);

        let (url, served) = canned(vec![(500, ""), (200, "")]).await;
        let error = http()
            .send(Call::new(Method::POST, &url))
            .await
            .unwrap_err();
        assert_eq!(error.status, Some(500));
        assert_eq!(
            served.load(Ordering::SeqCst),
            1,
            "a create is never repeated blindly"
        );

        // Rate limits and server errors have budgets of their own.
        let mut answers = vec![(429, "Retry-After: 0\r\n"); 5];
        answers.extend(vec![(503, ""); 5]);
        answers.push((200, ""));
        let (url, served) = canned(answers).await;
        let reply = http().send(Call::new(Method::GET, &url)).await;
        assert!(reply.is_ok(), "{reply:?}");
        assert_eq!(served.load(Ordering::SeqCst), 11);

        let (url, served) = canned(vec![(501, ""), (200, "")]).await;
        assert!(http().send(Call::new(Method::GET, &url)).await.is_err());
        assert_eq!(served.load(Ordering::SeqCst), 1, "501 does not change");
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limited_call_waits_as_told_until_the_steps_deadline() {
        // Ten 429s: more than the policy's attempts, well within a step's deadline.
        let mut answers = vec![(429, "Retry-After: 2\r\n"); 10];
        answers.push((200, ""));
        let (url, served) = canned(answers).await;
        let started = tokio::time::Instant::now();
        let deadline = started + Duration::from_secs(60);
        let reply = DEADLINE
            .scope(deadline, http().send(Call::new(Method::POST, &url)))
            .await;
        assert!(reply.is_ok(), "{reply:?}");
        assert_eq!(served.load(Ordering::SeqCst), 11);
        assert!(
            started.elapsed() >= Duration::from_secs(20),
            "waited as told"
        );

        // Told to come back after the deadline: the error, at once.
        let (url, served) = canned(vec![(429, "Retry-After: 120\r\n"), (200, "")]).await;
        let error = DEADLINE
            .scope(
                tokio::time::Instant::now() + Duration::from_secs(60),
                http().send(Call::new(Method::GET, &url)),
            )
            .await
            .unwrap_err();
        assert_eq!(error.status, Some(429));
        assert_eq!(served.load(Ordering::SeqCst), 1);

        // Outside a step: as many tries as the policy makes.
        let (url, served) = canned(vec![(429, "Retry-After: 1\r\n"); 8]).await;
        assert!(http().send(Call::new(Method::GET, &url)).await.is_err());
        assert_eq!(
            served.load(Ordering::SeqCst),
            RetryPolicy::default().attempts as usize
        );
    }

    #[test]
    fn request_ids_are_unique_and_shaped() {
        let (a, b) = (request_id(), request_id());
        assert_ne!(a, b);
        assert!(a.starts_with("req-") && a.len() == 40, "{a}");
    }
}
