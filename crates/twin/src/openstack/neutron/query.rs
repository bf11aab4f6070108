//! List queries as Neutron reads them: filters, `fields`, sorting and pages.

use super::{request::*, versions::*};
use crate::world::Site;
use axum::extract::OriginalUri;
use axum::http::StatusCode;
use protector_wire::neutron as wire;
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// A list request's query: filters, sorting, pagination and fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// The query as sent, in order (pagination links are built from it).
    pub pairs: Vec<(String, String)>,
    /// Attribute -> accepted values (empty values dropped, as Neutron does).
    pub filters: Vec<(String, Vec<String>)>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
    pub page_reverse: bool,
    /// (attribute, ascending).
    pub sorts: Vec<(String, bool)>,
    pub fields: Vec<String>,
}

pub(super) const RESERVED: &[&str] = &[
    "limit",
    "marker",
    "page_reverse",
    "sort_key",
    "sort_dir",
    "fields",
];

pub(super) fn percent_decode(text: &str) -> String {
    let hex = |byte: u8| (byte as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    bytes.get(i + 1).and_then(|b| hex(*b)),
                    bytes.get(i + 2).and_then(|b| hex(*b)),
                ) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Python's `quote_plus`, as `urlencode` applies it.
pub(super) fn quote_plus(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

pub(super) fn urlencode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", quote_plus(key), quote_plus(value)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn parse_query(raw: Option<&str>) -> Result<ListQuery, NeutronError> {
    let pairs: Vec<(String, String)> = raw
        .unwrap_or_default()
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect();
    let mut query = ListQuery {
        pairs: pairs.clone(),
        ..ListQuery::default()
    };

    let values = |name: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.clone())
            .collect()
    };

    if let Some(limit) = pairs.iter().find(|(key, _)| key == "limit").map(|(_, v)| v) {
        let parsed: usize = limit.parse().map_err(|_| {
            NeutronError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!(
                    "Bad limit request: Limit must be an integer 0 or greater and not '{limit}'."
                ),
            )
        })?;
        query.limit = (parsed > 0).then_some(parsed);
    }
    query.marker = values("marker").into_iter().next();
    query.page_reverse = pairs
        .iter()
        .find(|(key, _)| key == "page_reverse")
        .is_some_and(|(_, value)| value.eq_ignore_ascii_case("true"));
    let (keys, dirs) = (values("sort_key"), values("sort_dir"));
    if keys.len() != dirs.len() {
        return Err(NeutronError::bad_request(
            "The number of sort_keys and sort_dirs must be same",
        ));
    }
    if let Some(bad) = dirs.iter().find(|dir| *dir != "asc" && *dir != "desc") {
        return Err(NeutronError::bad_request(format!(
            "['{bad}'] is invalid value for sort_dirs, valid value is 'asc' and 'desc'"
        )));
    }
    query.sorts = keys
        .into_iter()
        .zip(dirs)
        .map(|(key, dir)| (key, dir == "asc"))
        .collect();
    query.fields = values("fields");
    for (key, _) in &pairs {
        if RESERVED.contains(&key.as_str()) || query.filters.iter().any(|(k, _)| k == key) {
            continue;
        }
        let accepted = values(key);
        if !accepted.is_empty() {
            query.filters.push((key.clone(), accepted));
        }
    }
    Ok(query)
}

impl ListQuery {
    /// The values a filter accepts, if the query filters on `key`.
    pub fn filter(&self, key: &str) -> Option<&[String]> {
        self.filters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, values)| values.as_slice())
    }
}

pub(super) fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// Whether an item (as JSON) passes one filter. Unknown attributes filter nothing.
pub(super) fn passes(item: &Value, key: &str, values: &[String]) -> bool {
    if key == "fixed_ips" {
        return passes_fixed_ips(item, values);
    }
    match item.get(key) {
        None => true,
        Some(Value::String(text)) => values.contains(text),
        Some(Value::Bool(flag)) => values.iter().any(|value| parse_bool(value) == Some(*flag)),
        Some(Value::Number(number)) => values.contains(&number.to_string()),
        Some(Value::Array(list)) => list.iter().any(|entry| {
            entry
                .as_str()
                .is_some_and(|text| values.iter().any(|v| v == text))
        }),
        Some(_) => false,
    }
}

/// `fixed_ips=ip_address=...`, `fixed_ips=subnet_id=...`, `fixed_ips=ip_address_substr=...`: a
/// port passes when one of its addresses meets every condition given.
pub(super) fn passes_fixed_ips(item: &Value, values: &[String]) -> bool {
    let mut conditions: Vec<(&str, Vec<&str>)> = Vec::new();
    for value in values {
        let (key, wanted) = value.split_once('=').unwrap_or((value.as_str(), ""));
        match conditions.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(wanted),
            None => conditions.push((key, vec![wanted])),
        }
    }
    let Some(addresses) = item.get("fixed_ips").and_then(Value::as_array) else {
        return false;
    };

    addresses.iter().any(|address| {
        conditions.iter().all(|(key, wanted)| {
            let field = |name: &str| address.get(name).and_then(Value::as_str).unwrap_or("");
            match *key {
                "ip_address" => wanted.contains(&field("ip_address")),
                "subnet_id" => wanted.contains(&field("subnet_id")),
                "ip_address_substr" => wanted.iter().any(|part| field("ip_address").contains(part)),
                _ => true,
            }
        })
    })
}

pub(super) fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None | Some(Value::Null), None | Some(Value::Null)) => Ordering::Equal,
        (None | Some(Value::Null), _) => Ordering::Less,
        (_, None | Some(Value::Null)) => Ordering::Greater,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

/// The order of a list: the requested sort keys, then id ascending.
pub(super) fn compare(sorts: &[(String, bool)], a: &Value, b: &Value) -> Ordering {
    for (key, ascending) in sorts {
        let order = compare_values(a.get(key), b.get(key));
        if order != Ordering::Equal {
            return if *ascending { order } else { order.reverse() };
        }
    }
    compare_values(a.get("id"), b.get("id"))
}

pub(super) fn only_fields(item: Value, fields: &[String]) -> Value {
    match item {
        Value::Object(map) if !fields.is_empty() => Value::Object(
            map.into_iter()
                .filter(|(key, _)| fields.contains(key))
                .collect(),
        ),
        other => other,
    }
}

/// Filters, sorts, paginates and trims `items`, and answers `{collection: [...]}` plus
/// `<collection>_links` when `limit` is given. `marker_item` is the marker's object (looked up
/// among every visible object, as Neutron does), or None when there is no marker; `url` is the
/// request's URL without its query.
pub fn list_body(
    collection: &str,
    items: Vec<Value>,
    marker_item: Option<Value>,
    query: &ListQuery,
    url: &str,
) -> Result<Value, NeutronError> {
    if let Some(first) = items.first()
        && let Some((bad, _)) = query.sorts.iter().find(|(key, _)| first.get(key).is_none())
    {
        return Err(NeutronError::bad_request(format!(
            "['{bad}'] is invalid attribute for sort_keys"
        )));
    }
    let mut items: Vec<Value> = items
        .into_iter()
        .filter(|item| {
            query
                .filters
                .iter()
                .all(|(key, values)| passes(item, key, values))
        })
        .collect();
    items.sort_by(|a, b| compare(&query.sorts, a, b));
    let page: Vec<Value> = match query.limit {
        None => items,
        Some(limit) => {
            let after = |item: &Value| match &marker_item {
                None => true,
                Some(marker) => compare(&query.sorts, item, marker) == Ordering::Greater,
            };
            let before = |item: &Value| match &marker_item {
                None => true,
                Some(marker) => compare(&query.sorts, item, marker) == Ordering::Less,
            };
            if query.page_reverse {
                let earlier: Vec<Value> = items.into_iter().filter(|item| before(item)).collect();
                let skip = earlier.len().saturating_sub(limit);
                earlier.into_iter().skip(skip).collect()
            } else {
                items
                    .into_iter()
                    .filter(|item| after(item))
                    .take(limit)
                    .collect()
            }
        }
    };

    let mut body = Map::new();
    let links = query
        .limit
        .map(|limit| pagination_links(&page, limit, query, url));
    let page: Vec<Value> = page
        .into_iter()
        .map(|item| only_fields(item, &query.fields))
        .collect();
    body.insert(collection.to_string(), Value::Array(page));
    if let Some(links) = links {
        body.insert(
            format!("{collection}_links"),
            serde_json::to_value(links).unwrap_or_default(),
        );
    }
    Ok(Value::Object(body))
}

/// Neutron's `get_pagination_links`: `next` unless a forward page came out short, `previous`
/// unless a backward page did; markers are the page's last and first ids.
pub(super) fn pagination_links(
    page: &[Value],
    limit: usize,
    query: &ListQuery,
    url: &str,
) -> Vec<wire::Link> {
    let id_of = |item: Option<&Value>| {
        item.and_then(|item| item.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };

    let without = |names: &[&str]| -> Vec<(String, String)> {
        query
            .pairs
            .iter()
            .filter(|(key, _)| !names.contains(&key.as_str()))
            .cloned()
            .collect()
    };

    let short = page.len() < limit;
    let mut links = Vec::new();
    if !short || query.page_reverse {
        let mut params = without(&["marker", "page_reverse"]);
        if let Some(marker) = id_of(page.last()) {
            params.push(("marker".to_string(), marker));
        }
        links.push(link(format!("{url}?{}", urlencode(&params)), "next"));
    }
    if !short || !query.page_reverse {
        let mut params = without(&["marker", "page_reverse"]);
        if let Some(marker) = id_of(page.first()) {
            params.push(("marker".to_string(), marker));
        }
        params.push(("page_reverse".to_string(), "True".to_string()));
        links.push(link(format!("{url}?{}", urlencode(&params)), "previous"));
    }
    links
}

pub(super) fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

pub(super) fn request_url(site: &Site, uri: &OriginalUri) -> String {
    format!("{}{}", site.endpoints.openstack, uri.0.path())
}

/// The value of `{singular: view}` for a show, trimmed to `fields` if asked.
pub(super) fn show_body(singular: &str, view: Value, query: &ListQuery) -> Value {
    let mut body = Map::new();
    body.insert(singular.to_string(), only_fields(view, &query.fields));
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::super::query::*;
    use super::super::testing::*;
    use serde_json::json;

    #[test]
    fn pagination_links_follow_neutron() {
        let query = parse_query(Some("limit=2&name=n1&name=n2")).unwrap();
        let body = list_body(
            "networks",
            items(7),
            None,
            &query,
            "http://h/network/v2.0/networks",
        )
        .unwrap();
        let names: Vec<&str> = body["networks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["id-01", "id-02"]);
        assert_eq!(
            body["networks_links"],
            json!([
                {"href": "http://h/network/v2.0/networks?limit=2&name=n1&name=n2&marker=id-02", "rel": "next"},
                {"href": "http://h/network/v2.0/networks?limit=2&name=n1&name=n2&marker=id-01&page_reverse=True", "rel": "previous"}
            ])
        );
        let marker = Some(json!({"id": "id-05"}));
        let query = parse_query(Some("limit=2&marker=id-05&name=n1&name=n2")).unwrap();
        let body = list_body("networks", items(7), marker.clone(), &query, "u").unwrap();
        assert_eq!(body["networks"], json!([]));
        assert_eq!(body["networks_links"].as_array().unwrap().len(), 1);
        assert_eq!(body["networks_links"][0]["rel"], "previous");
        let query = parse_query(Some("limit=3&marker=id-05&page_reverse=true")).unwrap();
        let body = list_body("networks", items(7), marker, &query, "u").unwrap();
        let ids: Vec<&str> = body["networks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["id-02", "id-03", "id-04"]);
        assert!(parse_query(Some("limit=x")).is_err());
        assert!(parse_query(Some("sort_key=name")).is_err());
    }

    #[test]
    fn filters_fields_and_sorting() {
        let query = parse_query(Some("shared=True&fields=id&sort_key=name&sort_dir=desc")).unwrap();
        let body = list_body("networks", items(6), None, &query, "u").unwrap();
        assert_eq!(
            body,
            json!({"networks": [{"id": "id-02"}, {"id": "id-04"}, {"id": "id-00"}]})
        );
        let port = json!({"id": "p", "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.5"}]});
        assert!(passes(
            &port,
            "fixed_ips",
            &["ip_address=10.0.0.5".to_string()]
        ));
        assert!(passes(
            &port,
            "fixed_ips",
            &["ip_address=10.0.0.5".to_string(), "subnet_id=s".to_string()]
        ));
        assert!(!passes(&port, "fixed_ips", &["subnet_id=t".to_string()]));
        assert!(passes(
            &port,
            "fixed_ips",
            &["ip_address_substr=0.0.5".to_string()]
        ));
        assert_eq!(
            parse_query(Some("name=a%20b&device_id=")).unwrap().filters,
            vec![("name".to_string(), vec!["a b".to_string()])]
        );
        assert_eq!(
            quote_plus("ip_address=10.0.0.1 x"),
            "ip_address%3D10.0.0.1+x"
        );
    }
}
