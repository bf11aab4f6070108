//! The twin's FlashArray REST 2.x API against Pure's OpenAPI description
//! (`tests/fixtures/api-samples/flasharray/FA2.56-dr-subset.spec.yaml`).
//!
//! Every answer the twin gives here, success or error, goes through [`Checker::check`]: its
//! body must validate against the schema the spec declares for that path, method and status.
//! Pure's spec declares only 200 (and 207) answers; an error answer must be the spec's error
//! body `_errorContextResponse` with at least one error and a message. An answer the spec
//! declares without content (`content: {}`, DELETE and logout) must be empty.
//!
//! The validator covers the JSON-Schema subset the spec uses: `type` (with `int32` ranges),
//! `properties`, `required`, `items`, `allOf`, `oneOf`, `anyOf`, `$ref` to components,
//! `enum`, `minimum`/`maximum`, `minLength`/`maxLength`, `minItems`/`maxItems`, `nullable`, `additionalProperties`;
//! `readOnly`, `format`, `pattern`, descriptions, examples and `x-` extensions are ignored. Any
//! other keyword fails the test, so a newer spec cannot slip past unchecked. Decisions:
//! - **Undeclared fields fail.** Pure's spec never says `additionalProperties`; we read its
//!   absence as `false`: every field the twin sends must be described by the spec (the union
//!   of the properties of an `allOf`).
//! - **`null` is accepted for any property.** Pure's spec marks nothing `nullable`, yet real
//!   arrays send `null` for unset properties (`"continuation_token": null`,
//!   `"source": {"id": null, "name": null}`) and its descriptions say so ("a value of `null`
//!   will be returned"). Elsewhere (array items, whole bodies) `null` needs `nullable: true`.
//!
//! Besides the answers, the wire models themselves are checked: every field of every type in
//! `protector::clients::flasharray::model` must be a property of its spec schema.
//!
//! Here: the spec, the checker every answer goes through and the array client the tests use.
//! Beside it: `validator` (the JSON-Schema subset; it and the wire models against the spec, no
//! twin needed), `session` (every operation on both arrays), `cinder_driver` (what Cinder's
//! Pure driver alone calls), `pages` (a large array listed in pages) and `replication` (a
//! transfer while a site is down).

mod cinder_driver;
mod pages;
mod replication;
mod session;
mod validator;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use self::validator::violations;
use crate::twin::TwinProcess;

const SPEC_PATH: &str = "tests/fixtures/api-samples/flasharray/FA2.56-dr-subset.spec.yaml";
/// The endpoints Cinder's Pure driver calls that the shared subset leaves out (its paths and
/// schemas are added to the spec's; none may be defined twice).
const CINDER_DRIVER_SPEC_PATH: &str = "tests/fixtures/flasharray/cinder-driver.spec.yaml";

/// The spec, parsed once.
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let read = |relative: &str| -> Value {
            let path = crate::root().join(relative);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
            protector::yaml::from_str(&text)
                .unwrap_or_else(|error| panic!("{} parses: {error}", path.display()))
        };
        let mut spec = read(SPEC_PATH);
        let supplement = read(CINDER_DRIVER_SPEC_PATH);
        for pointer in ["/paths", "/components/schemas"] {
            let added = supplement
                .pointer(pointer)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let into = spec
                .pointer_mut(pointer)
                .and_then(Value::as_object_mut)
                .expect("the spec has paths and schemas");
            for (name, value) in added {
                assert!(
                    into.insert(name.clone(), value).is_none(),
                    "{CINDER_DRIVER_SPEC_PATH} defines {pointer}/{name} again"
                );
            }
        }
        spec
    })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

// ---------------------------------------------------------------------------------------------
// The conformance checker
// ---------------------------------------------------------------------------------------------

/// An HTTP answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }

    fn items(&self) -> Vec<Value> {
        self.json()["items"].as_array().cloned().unwrap_or_default()
    }

    fn message(&self) -> String {
        self.json()["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Checks answers against the spec and remembers which operations it saw succeed.
#[derive(Default)]
struct Checker {
    succeeded: Mutex<BTreeSet<(String, String)>>,
}

impl Checker {
    /// Panics unless `reply` is what the spec declares for `method` on `path`.
    fn check(&self, method: &str, path: &str, reply: &Reply) {
        let spec = spec();
        let template = match path.strip_prefix("/api/") {
            Some("api_version") => "/api/api_version".to_string(),
            Some(rest) => format!(
                "/api/2.56/{}",
                rest.split_once('/').map_or("", |(_, endpoint)| endpoint)
            ),
            None => panic!("not an array path: {path}"),
        };
        let operation = spec["paths"]
            .get(&template)
            .and_then(|p| p.get(method.to_lowercase()))
            .unwrap_or_else(|| panic!("the spec has no {method} {template} (asked {path})"));
        let status = reply.status.to_string();
        let context = format!("{method} {path} -> {}", reply.status);
        let errors = match operation["responses"].get(&status) {
            Some(declared) => match declared["content"].get("application/json") {
                Some(content) => {
                    let body: Value = serde_json::from_str(&reply.body).unwrap_or_else(|e| {
                        panic!("{context}: body is not JSON ({e}): {}", reply.body)
                    });
                    assert_eq!(
                        reply.headers.get("content-type").map(String::as_str),
                        Some("application/json"),
                        "{context}"
                    );
                    violations(&content["schema"], &body)
                }
                None => {
                    assert!(
                        reply.body.is_empty(),
                        "{context}: the spec declares no body: {}",
                        reply.body
                    );
                    Vec::new()
                }
            },
            None if reply.status >= 400 => {
                let body: Value = serde_json::from_str(&reply.body).unwrap_or_else(|e| {
                    panic!("{context}: error body is not JSON ({e}): {}", reply.body)
                });
                let mut errors = violations(&schema_ref("_errorContextResponse"), &body);
                let list = body["errors"].as_array().cloned().unwrap_or_default();
                if list.is_empty()
                    || list
                        .iter()
                        .any(|e| e["message"].as_str().is_none_or(str::is_empty))
                {
                    errors.push("an error answer needs errors with messages".to_string());
                }
                errors
            }
            None => panic!("{context}: the spec declares no {status} answer"),
        };
        assert!(
            errors.is_empty(),
            "{context}: the body does not conform to the spec:\n  {}\nbody: {}",
            errors.join("\n  "),
            reply.body
        );
        if reply.status < 300 {
            self.succeeded
                .lock()
                .unwrap()
                .insert((method.to_string(), template));
        }
    }
}

/// Percent-encodes a query value.
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One array of the twin, over HTTPS trusting the twin's CA, through curl.
struct FlashArray<'a> {
    url: String,
    ca: String,
    api_token: String,
    session: Option<String>,
    version: &'static str,
    checker: &'a Checker,
}

impl<'a> FlashArray<'a> {
    fn of(twin: &TwinProcess, site: &str, checker: &'a Checker) -> Self {
        let key = site.to_uppercase().replace('-', "_");
        FlashArray {
            url: twin.env[&format!("FA_{key}_URL")].clone(),
            ca: twin.env[&format!("FA_{key}_CA_CERT")].clone(),
            api_token: twin.env[&format!("FA_{key}_API_TOKEN")].clone(),
            session: None,
            version: "2.56",
            checker,
        }
    }

    /// Any request; the answer is checked against the spec.
    fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> Reply {
        let mut command = Command::new("curl");
        command
            .args(["-sS", "--cacert", &self.ca, "-X", method, "-D", "-"])
            .args(["-H", "Expect:", "-H", "Accept: application/json"])
            .arg(format!("{}{path}", self.url));
        for (name, value) in headers {
            command.args(["-H", &format!("{name}: {value}")]);
        }
        if let Some(body) = body {
            command
                .args(["-H", "Content-Type: application/json", "--data-binary"])
                .arg(body.to_string());
        }
        let output = command.output().expect("curl runs");
        assert!(
            output.status.success(),
            "curl {method} {path}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line: {text}"));
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_lowercase(), value.trim().to_string()))
            .collect();
        let reply = Reply {
            status,
            headers,
            body: body.to_string(),
        };
        let bare_path = path.split('?').next().unwrap_or(path);
        self.checker.check(method, bare_path, &reply);
        reply
    }

    /// A request on `/api/<version>/<endpoint>` with the session token.
    fn call(&self, method: &str, endpoint: &str, body: Option<&Value>) -> Reply {
        let headers: Vec<(&str, String)> = self
            .session
            .iter()
            .map(|token| ("x-auth-token", token.clone()))
            .collect();
        self.raw(
            method,
            &format!("/api/{}/{endpoint}", self.version),
            &headers,
            body,
        )
    }

    fn get(&self, endpoint: &str) -> Reply {
        self.call("GET", endpoint, None)
    }

    fn post(&self, endpoint: &str, body: Value) -> Reply {
        self.call("POST", endpoint, Some(&body))
    }

    fn patch(&self, endpoint: &str, body: Value) -> Reply {
        self.call("PATCH", endpoint, Some(&body))
    }

    fn put(&self, endpoint: &str, body: Value) -> Reply {
        self.call("PUT", endpoint, Some(&body))
    }

    fn delete(&self, endpoint: &str) -> Reply {
        self.call("DELETE", endpoint, None)
    }

    fn login(&mut self) {
        let path = format!("/api/{}/login", self.version);
        let reply = self.raw(
            "POST",
            &path,
            &[("api-token", self.api_token.clone())],
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        self.session = Some(reply.headers["x-auth-token"].clone());
    }

    /// `GET` that must succeed.
    fn ok(&self, endpoint: &str) -> Vec<Value> {
        let reply = self.get(endpoint);
        assert_eq!(reply.status, 200, "GET {endpoint}: {}", reply.body);
        reply.items()
    }
}

/// The control API (plain HTTP).
fn control(twin: &TwinProcess, method: &str, path: &str, body: Option<Value>) -> Value {
    let mut command = Command::new("curl");
    command
        .args(["-sS", "-X", method, "-w", "\n%{http_code}"])
        .arg(format!("{}{path}", twin.control()));
    if let Some(body) = body {
        command
            .args(["-H", "Content-Type: application/json", "--data-binary"])
            .arg(body.to_string());
    }
    let output = command.output().expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    assert!(
        code.starts_with('2'),
        "control {method} {path}: {code} {body}"
    );
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    done()
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["name"].as_str().unwrap_or_default().to_string())
        .collect()
}
