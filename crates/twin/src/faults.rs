//! Fault injection: rules that make matching requests fail, stall, hang or lose their answer, so
//! tests and rehearsals can see how protector copes with a misbehaving cloud. Rules match by site,
//! service, HTTP method and a path glob (`*` matches anything), and apply to the next `count`
//! matching requests (all of them when `count` is absent).
//!
//! Two kinds act on Nova's servers instead of on requests (they match by site only): the next
//! `count` boots end in ERROR with the scheduler's NoValidHost fault (`no_valid_host`), and
//! `count` running servers turn ERROR after a delay (`server_error`).

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::errors::Service;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    /// `GET`, `POST`, ... (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Glob on the request path, e.g. `/compute/v2.1/servers*`.
    #[serde(default = "any_path")]
    pub path: String,
    pub action: FaultAction,
    /// How many matching requests it applies to; unlimited when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

fn any_path() -> String {
    "*".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Answer with this HTTP status and the service's real error body. With `served`, only
    /// after serving the request: the change happens but its answer is lost, as when a proxy
    /// in front of the service gives up while the service works.
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        served: bool,
    },
    /// 429 with `Retry-After: retry_after` seconds.
    RateLimit { retry_after: u64 },
    /// Serve the request normally after a delay.
    Delay { ms: u64 },
    /// Never answer (until the client gives up or the site goes down).
    Hang,
    /// Not a request fault: the next boots on the site are accepted (202) and end in ERROR with
    /// Nova's NoValidHost fault, as when a real scheduler finds every host taken.
    NoValidHost,
    /// Not a request fault: a server that is ACTIVE, or becomes ACTIVE while the rule lasts,
    /// turns ERROR `after_ms` (wall time, not scaled by `--speed`) later with a 500 fault: a
    /// VM that dies on its host, e.g. after a failover completed. `name` is a glob on the
    /// server's name; each server it takes uses one of `count`.
    ServerError {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default)]
        after_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

impl FaultAction {
    /// Whether it acts on servers rather than on the requests a rule matches.
    fn on_servers(&self) -> bool {
        matches!(
            self,
            FaultAction::NoValidHost | FaultAction::ServerError { .. }
        )
    }
}

/// The message of an injected fault that names none.
pub const INJECTED: &str = "Injected fault.";

impl FaultRule {
    /// Why the rule cannot be applied: a server fault matched by request fields.
    pub fn check(&self) -> Result<(), String> {
        if self.action.on_servers()
            && (self.service.is_some() || self.method.is_some() || self.path != any_path())
        {
            return Err(
                "no_valid_host and server_error act on servers, not requests: give `site` only, no `service`, `method` or `path`"
                    .to_string(),
            );
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<FaultRule>>,
}

impl Faults {
    pub fn add(&self, rule: FaultRule) {
        self.rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(rule);
    }

    pub fn clear(&self) {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The action for a request, consuming one use of the first matching rule.
    pub fn take(&self, site: &str, method: &str, path: &str) -> Option<FaultAction> {
        let service = Service::of_path(path);
        self.take_first(
            site,
            |action| !action.on_servers(),
            |rule| {
                rule.service.is_none_or(|s| Some(s) == service)
                    && rule
                        .method
                        .as_deref()
                        .is_none_or(|m| m.eq_ignore_ascii_case(method))
                    && glob_match(&rule.path, path)
            },
        )
    }

    /// Whether the next boot on `site` ends in NoValidHost (consuming one use of the rule).
    pub fn take_no_valid_host(&self, site: &str) -> bool {
        self.take_first(site, |action| *action == FaultAction::NoValidHost, |_| true)
            .is_some()
    }

    /// Whether some `server_error` rule may apply on `site` (cheap: no rule, no scan).
    pub fn fails_servers(&self, site: &str) -> bool {
        self.rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|rule| {
                matches!(rule.action, FaultAction::ServerError { .. })
                    && rule.site.as_deref().is_none_or(|s| s == site)
            })
    }

    /// For a running server named `name` on `site`: how long until it fails, and the fault's
    /// message, consuming one use of the first `server_error` rule that takes it.
    pub fn take_server_error(&self, site: &str, name: &str) -> Option<(Duration, String)> {
        let action = self.take_first(
            site,
            |action| match action {
                FaultAction::ServerError { name: pattern, .. } => {
                    pattern.as_deref().is_none_or(|p| glob_match(p, name))
                }
                _ => false,
            },
            |_| true,
        )?;
        let FaultAction::ServerError {
            after_ms, message, ..
        } = action
        else {
            return None;
        };
        Some((
            Duration::from_millis(after_ms),
            message.unwrap_or_else(|| INJECTED.to_string()),
        ))
    }

    /// The action of the first rule for `site` whose action and rule match, one use consumed.
    fn take_first(
        &self,
        site: &str,
        action: impl Fn(&FaultAction) -> bool,
        rule: impl Fn(&FaultRule) -> bool,
    ) -> Option<FaultAction> {
        let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        let index = rules.iter().position(|candidate| {
            candidate.site.as_deref().is_none_or(|s| s == site)
                && action(&candidate.action)
                && rule(candidate)
        })?;
        let taken = rules[index].action.clone();
        if let Some(count) = rules[index].count.as_mut() {
            *count = count.saturating_sub(1);
            if *count == 0 {
                rules.remove(index);
            }
        }
        Some(taken)
    }
}

/// How long a hung request waits: longer than any client timeout.
pub const HANG: Duration = Duration::from_secs(3600);

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(index) => rest = &rest[index + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", "/anything"));
        assert!(glob_match(
            "/compute/*/servers*",
            "/compute/v2.1/servers/detail"
        ));
        assert!(!glob_match("/compute/*/servers", "/compute/v2.1/flavors"));
        assert!(glob_match("/a", "/a"));
        assert!(!glob_match("/a*b*c", "/acb"));
        assert!(glob_match("/a*b*c", "/axbyc"));
    }

    #[test]
    fn rules_match_and_count_down() {
        let faults = Faults::default();
        faults.add(FaultRule {
            site: Some("site-b".into()),
            service: Some(Service::Cinder),
            method: Some("POST".into()),
            path: "*manageable_volumes*".into(),
            action: FaultAction::Status {
                status: 503,
                message: None,
                served: false,
            },
            count: Some(2),
        });
        let path = "/volume/v3/p/manageable_volumes";
        assert!(faults.take("site-a", "POST", path).is_none());
        assert!(faults.take("site-b", "GET", path).is_none());
        assert!(faults.take("site-b", "post", path).is_some());
        assert!(faults.take("site-b", "POST", path).is_some());
        assert!(faults.take("site-b", "POST", path).is_none());
        assert!(faults.list().is_empty());
    }

    #[test]
    fn server_faults_never_match_requests_and_count_down() {
        let faults = Faults::default();
        faults.add(FaultRule {
            site: Some("site-b".into()),
            service: None,
            method: None,
            path: any_path(),
            action: FaultAction::NoValidHost,
            count: Some(2),
        });
        faults.add(FaultRule {
            site: Some("site-b".into()),
            service: None,
            method: None,
            path: any_path(),
            action: FaultAction::ServerError {
                name: Some("web-*".into()),
                after_ms: 250,
                message: None,
            },
            count: Some(1),
        });
        assert!(
            faults
                .take("site-b", "POST", "/compute/v2.1/servers")
                .is_none()
        );
        assert!(!faults.take_no_valid_host("site-a"));
        assert!(faults.take_no_valid_host("site-b"));
        assert!(faults.take_no_valid_host("site-b"));
        assert!(!faults.take_no_valid_host("site-b"));

        assert!(!faults.fails_servers("site-a"));
        assert!(faults.fails_servers("site-b"));
        assert_eq!(faults.take_server_error("site-b", "db-1"), None);
        assert_eq!(
            faults.take_server_error("site-b", "web-2"),
            Some((Duration::from_millis(250), INJECTED.to_string()))
        );
        assert_eq!(faults.take_server_error("site-b", "web-1"), None);
        assert!(faults.list().is_empty());
    }

    #[test]
    fn server_faults_take_no_request_fields() {
        let rule: FaultRule = serde_json::from_value(serde_json::json!({
            "site": "site-b", "action": {"kind": "server_error", "name": "web-1", "after_ms": 10}
        }))
        .unwrap();
        assert_eq!(rule.check(), Ok(()));
        let rule: FaultRule = serde_json::from_value(serde_json::json!({
            "site": "site-b", "path": "/compute/*", "action": {"kind": "no_valid_host"}
        }))
        .unwrap();
        assert!(rule.check().unwrap_err().contains("not requests"));
    }
}
