//! Fault injection: rules that make matching requests fail, stall, hang or lose their answer, so
//! tests and rehearsals can see how protector copes with a misbehaving cloud. Rules match by site,
//! service, HTTP method and a path glob (`*` matches anything), and apply to the next `count`
//! matching requests (all of them when `count` is absent).

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
        let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        let index = rules.iter().position(|rule| {
            rule.site.as_deref().is_none_or(|s| s == site)
                && rule.service.is_none_or(|s| Some(s) == service)
                && rule
                    .method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && glob_match(&rule.path, path)
        })?;
        let action = rules[index].action.clone();
        if let Some(count) = rules[index].count.as_mut() {
            *count = count.saturating_sub(1);
            if *count == 0 {
                rules.remove(index);
            }
        }
        Some(action)
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
}
