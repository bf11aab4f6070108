//! The list machinery of the array's REST API: query parameters, `filter` expressions, `sort`,
//! and pages with `limit`, `offset` and continuation tokens.
//!
//! Filters and sorts work on the JSON an item is served as, so any property the response
//! carries can be filtered or sorted on, as on a real array. The filter language is the subset
//! real clients send: comparisons `field=value` (`!=`, `<`, `<=`, `>`, `>=`) with the value in
//! single or double quotes or bare, `*` wildcards in strings, dotted paths (`pod.name='x'`),
//! a bare boolean property (`is_local`), `and`, `or`, `not(...)` and `not x`, parentheses and
//! `contains(field,'text')`. A list-valued field matches
//! when any element does; numbers compare numerically (`progress='1.0'` matches `1`).
//!
//! Pages: without `limit` a page holds at most [`MAX_PAGE`] items (a larger `limit` is cut to
//! it). While items remain, the page says `more_items_remaining: true` and, unless `sort` was
//! given, carries a `continuation_token`: the base64 of the last item's key, so the next page
//! starts right after it even if items before it were deleted meanwhile. py-pure-client quotes
//! the token it sends back (`'TOKEN'`); quotes are stripped.

use std::cmp::Ordering;

use serde_json::Value;

/// The most items one page holds.
pub const MAX_PAGE: usize = 1000;

/// A query the array refuses: HTTP 400 with this message.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryError {
    pub message: String,
    pub context: Option<String>,
}

impl QueryError {
    fn new(message: impl Into<String>, context: Option<&str>) -> Self {
        QueryError {
            message: message.into(),
            context: context.map(str::to_string),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Query parameters
// ---------------------------------------------------------------------------------------------

/// The decoded query string.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes `a=1&b=x%2Cy` (form encoding: `+` is a space).
    pub fn parse(raw: Option<&str>) -> Result<Params, QueryError> {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode(key)?, decode(value)?));
        }
        Ok(Params { pairs })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A comma-separated list parameter (`names=a,b`); `None` when absent.
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        self.get(key).map(|value| {
            value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_string)
                .collect()
        })
    }

    /// A boolean parameter: `true`/`false` in any case (Python clients send `True`).
    pub fn bool(&self, key: &str) -> Result<Option<bool>, QueryError> {
        match self.get(key) {
            None => Ok(None),
            Some(value) if value.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(value) if value.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(value) => Err(QueryError::new(
                format!("Invalid value for parameter `{key}`: expected true or false."),
                Some(value),
            )),
        }
    }

    pub fn flag(&self, key: &str) -> Result<bool, QueryError> {
        Ok(self.bool(key)?.unwrap_or(false))
    }

    pub fn number(&self, key: &str) -> Result<Option<u64>, QueryError> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => value.parse().map(Some).map_err(|_| {
                QueryError::new(
                    format!(
                        "Invalid value for parameter `{key}`: expected a non-negative integer."
                    ),
                    Some(value),
                )
            }),
        }
    }
}

fn decode(text: &str) -> Result<String, QueryError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(index + 1..index + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or_else(|| QueryError::new("Invalid query string.", Some(text)))?;
                out.push(hex);
                index += 2;
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8(out).map_err(|_| QueryError::new("Invalid query string.", Some(text)))
}

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed `filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare {
        path: Vec<String>,
        op: CmpOp,
        value: String,
    },
    Contains {
        path: Vec<String>,
        value: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(CmpOp),
    Open,
    Close,
    Comma,
}

fn tokenize(text: &str) -> Result<Vec<Token>, QueryError> {
    let error = || QueryError::new("Invalid filter.", Some(text));
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        match c {
            ' ' | '\t' => index += 1,
            '(' => {
                tokens.push(Token::Open);
                index += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                index += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                index += 1;
            }
            '\'' | '"' => {
                let end = chars[index + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .ok_or_else(error)?;
                tokens.push(Token::Quoted(
                    chars[index + 1..index + 1 + end].iter().collect(),
                ));
                index += end + 2;
            }
            '=' => {
                tokens.push(Token::Op(CmpOp::Eq));
                index += 1;
            }
            '!' if chars.get(index + 1) == Some(&'=') => {
                tokens.push(Token::Op(CmpOp::Ne));
                index += 2;
            }
            '<' | '>' => {
                let with_eq = chars.get(index + 1) == Some(&'=');
                tokens.push(Token::Op(match (c, with_eq) {
                    ('<', false) => CmpOp::Lt,
                    ('<', true) => CmpOp::Le,
                    ('>', false) => CmpOp::Gt,
                    _ => CmpOp::Ge,
                }));
                index += if with_eq { 2 } else { 1 };
            }
            c if c.is_alphanumeric() || "_.-:*".contains(c) => {
                let start = index;
                while index < chars.len()
                    && (chars[index].is_alphanumeric() || "_.-:*".contains(chars[index]))
                {
                    index += 1;
                }
                tokens.push(Token::Word(chars[start..index].iter().collect()));
            }
            _ => return Err(error()),
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    position: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn error(&self) -> QueryError {
        QueryError::new("Invalid filter.", Some(self.text))
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.position).cloned();
        self.position += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, token: Token) -> Result<(), QueryError> {
        if self.next() == Some(token) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn or(&mut self) -> Result<Filter, QueryError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.position += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, QueryError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.position += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, QueryError> {
        if self.keyword("not") && self.tokens.get(self.position + 1) == Some(&Token::Open) {
            self.position += 2;
            let inner = self.or()?;
            self.expect(Token::Close)?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.keyword("contains") && self.tokens.get(self.position + 1) == Some(&Token::Open) {
            self.position += 2;
            let path = self.path()?;
            self.expect(Token::Comma)?;
            let value = self.value()?;
            self.expect(Token::Close)?;
            return Ok(Filter::Contains { path, value });
        }
        if self.peek() == Some(&Token::Open) {
            self.position += 1;
            let inner = self.or()?;
            self.expect(Token::Close)?;
            return Ok(inner);
        }
        // `not is_local`: Cinder's Pure driver negates without parentheses.
        if self.keyword("not") {
            self.position += 1;
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        let path = self.path()?;
        let op = match self.peek() {
            Some(Token::Op(op)) => *op,
            // A bare property is a boolean test: `iqns='...' and is_local` (Cinder's Pure
            // driver finds its hosts so).
            _ => {
                return Ok(Filter::Compare {
                    path,
                    op: CmpOp::Eq,
                    value: "true".to_string(),
                });
            }
        };
        self.position += 1;
        let value = self.value()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn path(&mut self) -> Result<Vec<String>, QueryError> {
        match self.next() {
            Some(Token::Word(word))
                if word.split('.').all(|part| {
                    !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                }) =>
            {
                Ok(word.split('.').map(str::to_string).collect())
            }
            _ => Err(self.error()),
        }
    }

    fn value(&mut self) -> Result<String, QueryError> {
        match self.next() {
            Some(Token::Quoted(value)) | Some(Token::Word(value)) => Ok(value),
            _ => Err(self.error()),
        }
    }
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, QueryError> {
        let mut parser = Parser {
            tokens: tokenize(text)?,
            position: 0,
            text,
        };
        let filter = parser.or()?;
        if parser.position != parser.tokens.len() {
            return Err(parser.error());
        }
        Ok(filter)
    }

    pub fn matches(&self, item: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(item) && b.matches(item),
            Filter::Or(a, b) => a.matches(item) || b.matches(item),
            Filter::Not(inner) => !inner.matches(item),
            Filter::Compare { path, op, value } => {
                let leaves = leaves(item, path);
                match op {
                    CmpOp::Ne => leaves.iter().all(|leaf| !compare(leaf, CmpOp::Eq, value)),
                    _ => leaves.iter().any(|leaf| compare(leaf, *op, value)),
                }
            }
            Filter::Contains { path, value } => leaves(item, path).iter().any(|leaf| {
                leaf.as_str()
                    .is_some_and(|text| text.contains(value.as_str()))
            }),
        }
    }
}

/// The values at `path` in `item`, looking into every element of the lists on the way.
fn leaves<'a>(item: &'a Value, path: &[String]) -> Vec<&'a Value> {
    let mut current = vec![item];
    for key in path {
        let mut next = Vec::new();
        for value in current {
            match value {
                Value::Object(map) => next.extend(map.get(key)),
                Value::Array(items) => next.extend(items.iter().filter_map(|v| v.get(key))),
                _ => {}
            }
        }
        current = next;
    }
    current
        .into_iter()
        .flat_map(|value| match value {
            Value::Array(items) => items.iter().collect(),
            Value::Null => Vec::new(),
            other => vec![other],
        })
        .collect()
}

fn compare(leaf: &Value, op: CmpOp, literal: &str) -> bool {
    let ordering = match leaf {
        Value::String(text) => {
            if matches!(op, CmpOp::Eq | CmpOp::Ne) {
                let equal = glob(literal, text);
                return (op == CmpOp::Eq) == equal;
            }
            text.as_str().cmp(literal)
        }
        Value::Bool(flag) => {
            let Some(wanted) = parse_bool(literal) else {
                return false;
            };
            return match op {
                CmpOp::Eq => *flag == wanted,
                CmpOp::Ne => *flag != wanted,
                _ => false,
            };
        }
        Value::Number(number) => {
            let (Some(have), Ok(want)) = (number.as_f64(), literal.parse::<f64>()) else {
                return false;
            };
            match have.partial_cmp(&want) {
                Some(ordering) => ordering,
                None => return false,
            }
        }
        _ => return false,
    };

    match op {
        CmpOp::Eq => ordering == Ordering::Equal,
        CmpOp::Ne => ordering != Ordering::Equal,
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::Le => ordering != Ordering::Greater,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::Ge => ordering != Ordering::Less,
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
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

// ---------------------------------------------------------------------------------------------
// Sorting
// ---------------------------------------------------------------------------------------------

/// One `sort` key: a (dotted) property, descending with a trailing `-`.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub path: Vec<String>,
    pub descending: bool,
}

pub fn parse_sort(keys: &[String]) -> Result<Vec<SortKey>, QueryError> {
    keys.iter()
        .map(|key| {
            let (field, descending) = match key.strip_suffix('-') {
                Some(field) => (field, true),
                None => (key.as_str(), false),
            };
            let valid = !field.is_empty()
                && field.split('.').all(|part| {
                    !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                });
            if !valid {
                return Err(QueryError::new("Invalid sort key.", Some(key)));
            }
            Ok(SortKey {
                path: field.split('.').map(str::to_string).collect(),
                descending,
            })
        })
        .collect()
}

fn sort_value<'a>(item: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(item, |value, key| value.get(key))
        .filter(|value| !value.is_null())
}

/// Orders two values of one property; absent values sort last.
fn order(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Selecting a page
// ---------------------------------------------------------------------------------------------

/// What a `GET` list asks for besides the endpoint's own selectors.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub filter: Option<Filter>,
    pub sort: Vec<SortKey>,
    pub limit: Option<usize>,
    pub offset: usize,
    pub continuation_token: Option<String>,
    pub total_item_count: bool,
}

impl ListOptions {
    pub fn from_params(params: &Params) -> Result<ListOptions, QueryError> {
        let filter = match params.get("filter") {
            Some(text) if !text.trim().is_empty() => Some(Filter::parse(text)?),
            _ => None,
        };
        let sort = match params.list("sort") {
            Some(keys) => parse_sort(&keys)?,
            None => Vec::new(),
        };
        let continuation_token = params
            .get("continuation_token")
            .map(|token| token.trim_matches(|c| c == '\'' || c == '"').to_string())
            .filter(|token| !token.is_empty() && token != "None");
        Ok(ListOptions {
            filter,
            sort,
            limit: params.number("limit")?.map(|limit| limit as usize),
            offset: params.number("offset")?.unwrap_or(0) as usize,
            continuation_token,
            total_item_count: params.flag("total_item_count")?,
        })
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub continuation_token: Option<String>,
    pub more_items_remaining: bool,
    pub total_item_count: Option<u64>,
}

/// Filters, sorts and pages `rows` (each item with the JSON it is served as, in the endpoint's
/// natural order). `key` identifies an item for continuation tokens.
pub fn select<T>(
    rows: Vec<(T, Value)>,
    options: &ListOptions,
    key: impl Fn(&Value) -> String,
) -> Result<Page<T>, QueryError> {
    let mut rows: Vec<(T, Value)> = match &options.filter {
        Some(filter) => rows
            .into_iter()
            .filter(|(_, json)| filter.matches(json))
            .collect(),
        None => rows,
    };

    if !options.sort.is_empty() {
        rows.sort_by(|(_, a), (_, b)| {
            options
                .sort
                .iter()
                .map(|sort| {
                    let (x, y) = (sort_value(a, &sort.path), sort_value(b, &sort.path));
                    match (x, y) {
                        // Absent values go last whichever the direction.
                        (None, _) | (_, None) => order(x, y),
                        _ if sort.descending => order(x, y).reverse(),
                        _ => order(x, y),
                    }
                })
                .find(|ordering| *ordering != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
    }
    let total = rows.len();
    let mut start = options.offset.min(total);
    if let Some(token) = &options.continuation_token {
        let (offset, last_key) = decode_token(token)
            .ok_or_else(|| QueryError::new("Invalid continuation token.", Some(token)))?;
        start = rows
            .iter()
            .position(|(_, json)| key(json) == last_key)
            .map_or(offset.min(total), |position| position + 1);
    }
    let size = options.limit.unwrap_or(MAX_PAGE).min(MAX_PAGE);
    let end = (start + size).min(total);
    let more_items_remaining = end < total;
    let continuation_token = (more_items_remaining && options.sort.is_empty() && end > start)
        .then(|| encode_token(end, &key(&rows[end - 1].1)));
    let items = rows
        .into_iter()
        .skip(start)
        .take(end - start)
        .map(|(item, _)| item)
        .collect();
    Ok(Page {
        items,
        continuation_token,
        more_items_remaining,
        total_item_count: options.total_item_count.then_some(total as u64),
    })
}

/// The key of most items: their `name`.
pub fn name_key(json: &Value) -> String {
    json.get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn encode_token(offset: usize, last_key: &str) -> String {
    base64_encode(format!("{offset}\n{last_key}").as_bytes())
}

fn decode_token(token: &str) -> Option<(usize, String)> {
    let text = String::from_utf8(base64_decode(token)?).ok()?;
    let (offset, key) = text.split_once('\n')?;
    Some((offset.parse().ok()?, key.to_string()))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for index in 0..4 {
            if index <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * index) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(name: &str, destroyed: bool, progress: f64) -> Value {
        json!({"name": name, "destroyed": destroyed, "progress": progress,
               "pod": {"name": "p1"}, "iqns": ["iqn.a", "iqn.b"], "size": 10})
    }

    #[test]
    fn params_decode_form_encoding_and_python_booleans() {
        let params = Params::parse(Some(
            "names=a%2Cb,c&destroyed=False&filter=name%3D%27x*%27+and+a%3D1",
        ))
        .unwrap();
        assert_eq!(params.list("names").unwrap(), vec!["a", "b", "c"]);
        assert_eq!(params.bool("destroyed").unwrap(), Some(false));
        assert_eq!(params.get("filter"), Some("name='x*' and a=1"));
        assert!(Params::parse(Some("x=1")).unwrap().bool("x").is_err());
        assert!(Params::parse(Some("x=%zz")).is_err());
    }

    #[test]
    fn filters_match_what_clients_send() {
        let live = item("fa-a:pg.3.vol-1", false, 1.0);
        let cases = [
            ("name='fa-a:pg.3.*'", true),
            ("name=\"fa-a:pg.4.*\"", false),
            ("destroyed='false'", true),
            ("destroyed=false and name='*vol-1'", true),
            ("progress=\"1.0\"", true),
            ("progress='1'", true),
            ("progress<1", false),
            ("progress>=0.5", true),
            ("pod.name='p1'", true),
            ("iqns='iqn.b'", true),
            ("iqns!='iqn.b'", false),
            ("not(destroyed='true')", true),
            ("(size=3 or size=10) and destroyed='false'", true),
            ("contains(name,'pg.3')", true),
            ("missing='x'", false),
            ("missing!='x'", true),
            // Cinder's Pure driver: `_get_host(remote=False)` and `(remote=True)`.
            ("iqns='iqn.a' and is_local", true),
            ("iqns='iqn.a' and not is_local", false),
            ("is_local", true),
            ("not is_local or destroyed", false),
            ("not destroyed and is_local", true),
            ("destroyed", false),
            ("missing", false),
        ];
        let live = {
            let mut live = live;
            live["is_local"] = json!(true);
            live
        };
        for (text, expected) in cases {
            let filter = Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(filter.matches(&live), expected, "{text}");
        }
        for bad in [
            "name=",
            "name='x",
            "(name='x'",
            "name='x' and",
            "= 'x'",
            "name ~ 'x'",
            "name 'x'",
            "not",
            "is_local and",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sort_orders_numbers_strings_and_puts_absent_last() {
        let rows: Vec<(usize, Value)> = vec![
            (0, json!({"name": "b", "started": 3})),
            (1, json!({"name": "a", "started": 10})),
            (2, json!({"name": "c"})),
        ];
        let options = ListOptions {
            sort: parse_sort(&["started-".to_string()]).unwrap(),
            ..Default::default()
        };
        let page = select(rows.clone(), &options, name_key).unwrap();
        assert_eq!(page.items, vec![1, 0, 2]);
        assert_eq!(page.continuation_token, None);
        let options = ListOptions {
            sort: parse_sort(&["name".to_string()]).unwrap(),
            ..Default::default()
        };
        assert_eq!(
            select(rows, &options, name_key).unwrap().items,
            vec![1, 0, 2]
        );
        assert!(parse_sort(&["Name".to_string()]).is_err());
    }

    #[test]
    fn continuation_tokens_walk_every_item_once_even_when_items_go() {
        let rows = |skip: &[usize]| -> Vec<(usize, Value)> {
            (0..25)
                .filter(|n| !skip.contains(n))
                .map(|n| (n, json!({"name": format!("v{n:03}")})))
                .collect()
        };
        let mut options = ListOptions {
            limit: Some(10),
            total_item_count: true,
            ..Default::default()
        };
        let first = select(rows(&[]), &options, name_key).unwrap();
        assert_eq!(first.items, (0..10).collect::<Vec<_>>());
        assert!(first.more_items_remaining);
        assert_eq!(first.total_item_count, Some(25));
        // Items already seen are deleted meanwhile: the next page still starts after v009.
        options.continuation_token = Some(format!("'{}'", first.continuation_token.unwrap()));
        let params = Params::parse(Some(&format!(
            "continuation_token={}",
            options
                .continuation_token
                .clone()
                .unwrap()
                .replace('+', "%2B")
        )))
        .unwrap();
        options.continuation_token = ListOptions::from_params(&params)
            .unwrap()
            .continuation_token;
        let second = select(rows(&[2, 3]), &options, name_key).unwrap();
        assert_eq!(second.items, (10..20).collect::<Vec<_>>());
        options.continuation_token = second.continuation_token;
        let third = select(rows(&[2, 3]), &options, name_key).unwrap();
        assert_eq!(third.items, (20..25).collect::<Vec<_>>());
        assert!(!third.more_items_remaining && third.continuation_token.is_none());
        options.continuation_token = Some("!!".into());
        assert!(select(rows(&[]), &options, name_key).is_err());
    }

    #[test]
    fn pages_are_cut_at_the_maximum_and_limit_zero_only_counts() {
        let rows: Vec<(usize, Value)> = (0..2500)
            .map(|n| (n, json!({"name": format!("v{n:05}")})))
            .collect();
        let page = select(rows.clone(), &ListOptions::default(), name_key).unwrap();
        assert_eq!(page.items.len(), MAX_PAGE);
        assert!(page.more_items_remaining);
        let options = ListOptions {
            limit: Some(0),
            total_item_count: true,
            ..Default::default()
        };
        let count = select(rows.clone(), &options, name_key).unwrap();
        assert!(count.items.is_empty() && count.total_item_count == Some(2500));
        let options = ListOptions {
            offset: 2400,
            ..Default::default()
        };
        assert_eq!(select(rows, &options, name_key).unwrap().items.len(), 100);
    }

    #[test]
    fn base64_round_trips() {
        for text in ["", "a", "ab", "abc", "abcd", "12\nfa-a:pg.1.volume-x"] {
            let encoded = base64_encode(text.as_bytes());
            assert_eq!(encoded.len() % 4, 0);
            assert_eq!(base64_decode(&encoded).unwrap(), text.as_bytes());
        }
        assert_eq!(base64_encode(b"Man"), "TWFu");
        assert_eq!(base64_encode(b"Ma"), "TWE=");
    }
}
