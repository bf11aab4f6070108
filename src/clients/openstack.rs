//! One authenticated OpenStack service of a site (Nova, Cinder or Neutron): calls with the
//! site's token, the service's microversion header, JSON bodies and paginated lists. The typed
//! clients in `nova`, `cinder` and `neutron` are thin layers over it.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::http::{Call, ClientError, Http, Reply};
use super::keystone::{ServiceType, Session};

pub struct ServiceClient {
    pub session: Arc<Session>,
    pub service: ServiceType,
    http: Http,
    /// `("OpenStack-API-Version", "compute 2.79")` and the like.
    headers: Vec<(&'static str, String)>,
}

impl ServiceClient {
    pub fn new(
        session: Arc<Session>,
        service: ServiceType,
        timeout: Duration,
        headers: Vec<(&'static str, String)>,
    ) -> Result<ServiceClient, ClientError> {
        let http = session.service_http(service, timeout)?;
        Ok(ServiceClient {
            session,
            service,
            http,
            headers,
        })
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
        idempotent: bool,
    ) -> Result<Reply, ClientError> {
        let build = |url: String| {
            let mut call = Call::new(method.clone(), url);
            for (name, value) in &self.headers {
                call = call.header(name, value);
            }
            call.body = body.clone();
            if idempotent {
                call = call.idempotent();
            }
            call
        };
        self.session
            .call(self.service, &self.http, build, path)
            .await
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(Method::GET, path, None, true).await?.json()
    }

    /// A GET that answers `None` for 404.
    pub async fn find<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ClientError> {
        match self.send(Method::GET, path, None, true).await {
            Ok(reply) => reply.json().map(Some),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// A POST: not retried unless `idempotent` (a lost answer to a create must not create twice).
    pub async fn post<B: Serialize>(
        &self,
        path: &str,
        body: &B,
        idempotent: bool,
    ) -> Result<Reply, ClientError> {
        let body = serde_json::to_value(body).ok();
        self.send(Method::POST, path, body, idempotent).await
    }

    /// A DELETE that treats 404 as done (deleting twice is not an error for us).
    pub async fn delete(&self, path: &str) -> Result<(), ClientError> {
        match self.send(Method::DELETE, path, None, true).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_not_found() => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Every item of a paginated list.
    pub async fn list<Page: DeserializeOwned, Item>(
        &self,
        first: &str,
        items: impl Fn(Page) -> (Vec<Item>, Option<String>),
    ) -> Result<Vec<Item>, ClientError> {
        let mut all = Vec::new();
        let mut next = Some(first.to_string());
        let mut pages = 0u32;
        while let Some(path) = next.take() {
            let (page, following) = items(self.get::<Page>(&path).await?);
            let empty = page.is_empty();
            all.extend(page);
            pages += 1;
            // A service that keeps linking to empty pages must not loop us forever.
            next = following.filter(|_| !empty && pages < 100_000);
        }
        Ok(all)
    }
}

/// `?a=1&b=x%20y` from pairs (values percent-encoded); empty for no pairs.
pub fn query(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let encode = |text: &str| {
        text.bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (byte as char).to_string()
                }
                other => format!("%{other:02X}"),
            })
            .collect::<String>()
    };
    let joined: Vec<String> = pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect();
    format!("?{}", joined.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_encoded() {
        assert_eq!(query(&[]), "");
        assert_eq!(
            query(&[("name", "^web-1$"), ("limit", "100")]),
            "?name=%5Eweb-1%24&limit=100"
        );
    }
}
