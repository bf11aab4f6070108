//! Listings of an account (its containers) and of a container (its objects), as Swift's
//! account and container servers page them: names in byte order after `marker` and before
//! `end_marker`, starting with `prefix`, names rolled up at the first `delimiter` after the
//! prefix into one `subdir` entry, at most `limit` entries (10 000 at most; more is a 412),
//! `reverse=true` backwards. Plain text (one name a line; 204 when empty) unless `format=json`
//! or `Accept: application/json` asks for JSON (200 `[]` when empty).

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protector_wire::swift::LISTING_LIMIT;
use serde_json::Value;

use super::request::{Refused, plain, with_headers};

/// What a listing request asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct ListingQuery {
    pub prefix: String,
    pub marker: String,
    pub end_marker: String,
    pub delimiter: Option<char>,
    pub limit: usize,
    pub reverse: bool,
    pub json: bool,
}

impl ListingQuery {
    /// Reads the query and `Accept`; a 412 as Swift answers a bad `limit` or `delimiter`.
    pub fn parse(query: &HashMap<String, String>, headers: &HeaderMap) -> Result<Self, Refused> {
        let text = |key: &str| query.get(key).cloned().unwrap_or_default();
        let limit = match query.get("limit") {
            None => LISTING_LIMIT,
            Some(value) => {
                let limit: usize = value.parse().map_err(|_| {
                    plain(
                        StatusCode::PRECONDITION_FAILED,
                        "Value of limit must be a positive integer",
                    )
                })?;
                if limit > LISTING_LIMIT {
                    return Err(plain(
                        StatusCode::PRECONDITION_FAILED,
                        format!("Maximum limit is {LISTING_LIMIT}"),
                    ));
                }
                limit
            }
        };
        let delimiter = text("delimiter");
        let mut chars = delimiter.chars();
        let delimiter = match (chars.next(), chars.next()) {
            (None, _) => None,
            (Some(c), None) => Some(c),
            _ => return Err(plain(StatusCode::PRECONDITION_FAILED, "Bad delimiter")),
        };
        let accept_json = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("application/json"));
        let json = match query.get("format").map(String::as_str) {
            Some("json") => true,
            Some("plain") => false,
            _ => accept_json,
        };
        Ok(ListingQuery {
            prefix: text("prefix"),
            marker: text("marker"),
            end_marker: text("end_marker"),
            delimiter,
            limit,
            reverse: matches!(
                text("reverse").to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on" | "t" | "y"
            ),
            json,
        })
    }

    /// The page of `names` (sorted ascending) the query selects: each an entry's name, or a
    /// rolled-up prefix (`Err`, a `subdir`).
    pub fn select<'a>(&self, names: &[&'a str]) -> Vec<Result<&'a str, String>> {
        let in_range = |name: &str| {
            name.starts_with(self.prefix.as_str())
                && if self.reverse {
                    (self.marker.is_empty() || name < self.marker.as_str())
                        && (self.end_marker.is_empty() || name > self.end_marker.as_str())
                } else {
                    name > self.marker.as_str()
                        && (self.end_marker.is_empty() || name < self.end_marker.as_str())
                }
        };
        let ordered: Box<dyn Iterator<Item = &&'a str>> = if self.reverse {
            Box::new(names.iter().rev())
        } else {
            Box::new(names.iter())
        };
        let mut page: Vec<Result<&'a str, String>> = Vec::new();
        for &name in ordered.filter(|name| in_range(name)) {
            if page.len() >= self.limit {
                break;
            }
            let rolled = self.delimiter.and_then(|delimiter| {
                let rest = &name[self.prefix.len()..];
                rest.find(delimiter)
                    .map(|at| format!("{}{}", self.prefix, &rest[..at + delimiter.len_utf8()]))
            });
            match rolled {
                Some(subdir) => {
                    if page.last() != Some(&Err(subdir.clone())) {
                        page.push(Err(subdir));
                    }
                }
                None => page.push(Ok(name)),
            }
        }
        page
    }

    /// The listing's response: `entries` as JSON (each page item's value) or their names.
    pub fn respond(
        &self,
        page: Vec<(String, Value)>,
        headers: Vec<(HeaderName, String)>,
    ) -> Response {
        let response = if self.json {
            let body: Vec<Value> = page.into_iter().map(|(_, value)| value).collect();
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                Value::Array(body).to_string(),
            )
                .into_response()
        } else if page.is_empty() {
            StatusCode::NO_CONTENT.into_response()
        } else {
            let body: String = page.iter().map(|(name, _)| format!("{name}\n")).collect();
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                body,
            )
                .into_response()
        };
        with_headers(response, headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> ListingQuery {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ListingQuery::parse(&map, &HeaderMap::new()).unwrap()
    }

    const NAMES: [&str; 6] = [
        "groups/db.json",
        "groups/web.json",
        "journal/op-1/0001",
        "journal/op-1/0002",
        "journal/op-2/0001",
        "lock",
    ];

    fn names(page: Vec<Result<&str, String>>) -> Vec<String> {
        page.into_iter()
            .map(|entry| match entry {
                Ok(name) => name.to_string(),
                Err(subdir) => format!("subdir:{subdir}"),
            })
            .collect()
    }

    #[test]
    fn prefix_marker_and_limit_page_in_byte_order() {
        let page = query(&[("prefix", "journal/"), ("limit", "2")]).select(&NAMES);
        assert_eq!(names(page), ["journal/op-1/0001", "journal/op-1/0002"]);
        let next = query(&[
            ("prefix", "journal/"),
            ("limit", "2"),
            ("marker", "journal/op-1/0002"),
        ])
        .select(&NAMES);
        assert_eq!(names(next), ["journal/op-2/0001"]);
        let end = query(&[("end_marker", "journal/")]).select(&NAMES);
        assert_eq!(names(end), ["groups/db.json", "groups/web.json"]);
        let back = query(&[("reverse", "true"), ("limit", "2")]).select(&NAMES);
        assert_eq!(names(back), ["lock", "journal/op-2/0001"]);
    }

    #[test]
    fn delimiter_rolls_names_up_into_subdirs() {
        let top = query(&[("delimiter", "/")]).select(&NAMES);
        assert_eq!(names(top), ["subdir:groups/", "subdir:journal/", "lock"]);
        let ops = query(&[("delimiter", "/"), ("prefix", "journal/")]).select(&NAMES);
        assert_eq!(names(ops), ["subdir:journal/op-1/", "subdir:journal/op-2/"]);
    }

    #[test]
    fn limits_and_delimiters_swift_refuses() {
        let parse = |pairs: &[(&str, &str)]| {
            let map = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            ListingQuery::parse(&map, &HeaderMap::new()).map(|_| ())
        };
        for bad in [
            &[("limit", "10001")][..],
            &[("limit", "-1")],
            &[("delimiter", "//")],
        ] {
            let status = parse(bad).unwrap_err().status();
            assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{bad:?}");
        }
        assert!(query(&[("format", "json")]).json);
        let mut accept = HeaderMap::new();
        accept.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(ListingQuery::parse(&HashMap::new(), &accept).unwrap().json);
    }
}
