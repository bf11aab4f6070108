//! What of a YAML source may be a secret, so that no rendered diagnostic shows it.
//!
//! A value under a key that is, or looks like, a secret key (`api_token`, `password`, a near
//! miss such as `api_tokn`) is masked at any depth below that key, whatever its shape: a spec
//! with a token pasted in the wrong place is exactly the spec that gets an error with a
//! snippet. Left readable are only the references the spec asks for, `{ env: NAME }` with a
//! valid variable name and `{ file: PATH }` (they say where a secret is, not what it is, and
//! errors about them must show them), and keys that read as key names (`{ value: ... }`: the
//! error is that key).
//!
//! This reads the text with a small YAML tokenizer, not the parser's events: the files that
//! most need masking are those the parser gives up on halfway.

use std::ops::Range;

use crate::diagnostic::edit_distance;
use crate::spec::is_env_name;

/// Words that name a secret, alone or inside a key (`db_password`), or misspelt by up to one
/// edit (two for the longer ones): `tokn`, `pasword`, `apitokn`.
const SECRET_WORDS: [&str; 12] = [
    "token",
    "apitoken",
    "password",
    "passwd",
    "passphrase",
    "secret",
    "credential",
    "credentials",
    "apikey",
    "privatekey",
    "accesskey",
    "secretkey",
];

/// Words that name a secret only as written: one edit away is another word (`kex`, `pan`).
const SHORT_SECRET_WORDS: [&str; 5] = ["key", "keys", "pass", "pwd", "pin"];

/// Whether the values under `key` are, or may be, secrets.
pub fn looks_secret(key: &str) -> bool {
    let key = key.to_lowercase();
    let words: Vec<&str> = key
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    let joined = words.concat();
    let near_miss = |word: &str| {
        SECRET_WORDS.iter().any(|secret| {
            let allowed = if secret.len() <= 6 { 1 } else { 2 };
            word.contains(secret) || edit_distance(word, secret) <= allowed
        })
    };
    words
        .iter()
        .any(|word| SHORT_SECRET_WORDS.contains(word) || near_miss(word))
        || near_miss(&joined)
        || joined.ends_with("key")
}

/// What to hide of a source: byte ranges to mask, and the words in them, which messages must
/// not quote either (``unknown key `<the token>` ``).
#[derive(Debug, Default, PartialEq)]
pub struct Secrets {
    pub ranges: Vec<Range<usize>>,
    pub words: Vec<String>,
}

impl Secrets {
    /// `text` with every masked byte but line breaks replaced by `*`. Byte offsets stay valid,
    /// so spans into the source still point at the same places.
    pub fn mask(&self, text: &str) -> String {
        let mut bytes = text.as_bytes().to_vec();
        for range in &self.ranges {
            for byte in &mut bytes[range.clone()] {
                if !matches!(*byte, b'\n' | b'\r') {
                    *byte = b'*';
                }
            }
        }
        // Only whole tokens are masked, and they end at ASCII bytes, so this is still UTF-8.
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// `message` with every whole-word occurrence of a masked word replaced by `***`.
    pub fn scrub(&self, message: &str) -> String {
        let is_word = |c: char| c.is_alphanumeric() || c == '_';
        let mut message = message.to_string();
        for word in &self.words {
            let mut scrubbed = String::with_capacity(message.len());
            let mut rest = message.as_str();
            while let Some(at) = rest.find(word.as_str()) {
                let (before, after) = (&rest[..at], &rest[at + word.len()..]);
                let whole = !before.ends_with(is_word) && !after.starts_with(is_word);
                scrubbed.push_str(before);
                scrubbed.push_str(if whole { "***" } else { word });
                rest = after;
            }
            scrubbed.push_str(rest);
            message = scrubbed;
        }
        message
    }
}

/// The secrets of a YAML `text`.
pub fn secrets(text: &str) -> Secrets {
    let tokens = tokenize(text);
    let mut secrets = Secrets::default();
    let is_key = |index: usize| {
        tokens[index].kind == Kind::Scalar
            && tokens
                .get(index + 1)
                .is_some_and(|next| next.kind == Kind::Colon)
    };
    for index in 0..tokens.len() {
        if !is_key(index) || !looks_secret(unquote(&text[tokens[index].range.clone()])) {
            continue;
        }
        let value = value_of(&tokens, index);
        let reference = is_reference(text, &tokens[value.clone()]);
        for at in value {
            let token = &tokens[at];
            let hidden = match token.kind {
                Kind::Comment => true,
                Kind::Scalar => {
                    let key_name = is_key(at) && is_key_name(&text[token.range.clone()]);
                    !(reference || key_name)
                }
                _ => false,
            };
            if hidden {
                secrets.hide(text, token.range.clone());
            }
        }
    }
    // A line that reads `api_token: ...` to a person may hold no key for the tokenizer: a quote
    // or block scalar left open above swallowed it. Its value, and the lines indented below
    // it, are hidden as a person would read them.
    let key_starts: Vec<usize> = (0..tokens.len())
        .filter(|&index| is_key(index))
        .map(|index| tokens[index].range.start)
        .collect();
    let lines = lines(text);
    for (index, &(start, line)) in lines.iter().enumerate() {
        let Some((key_at, key, value_at)) = key_of_line(line) else {
            continue;
        };
        if key_starts.contains(&(start + key_at)) || !looks_secret(key) {
            continue;
        }
        let value = &line[value_at..];
        if is_reference(value, &tokenize(value)) {
            continue;
        }
        secrets.hide(text, start + value_at..start + line.len());
        for &(start, line) in &lines[index + 1..] {
            let indent = line.len() - line.trim_start().len();
            if line.trim().is_empty() {
                continue;
            }
            if indent <= key_at {
                break;
            }
            secrets.hide(text, start + indent..start + line.len());
        }
    }
    secrets.words.sort();
    secrets.words.dedup();
    secrets
}

impl Secrets {
    fn hide(&mut self, text: &str, range: Range<usize>) {
        let words = text[range.clone()]
            .split_whitespace()
            .map(|word| word.trim_matches(['"', '\'', '{', '}', '[', ']', ',', ':']));
        // Shorter words are no secret, and would scrub words of the messages.
        self.words.extend(
            words
                .filter(|word| word.chars().count() >= 4)
                .map(str::to_string),
        );
        self.ranges.push(range);
    }
}

/// Each line of `text` with the offset it starts at, without its line break.
fn lines(text: &str) -> Vec<(usize, &str)> {
    let mut start = 0;
    text.split('\n')
        .map(|line| {
            let at = start;
            start += line.len() + 1;
            (at, line.strip_suffix('\r').unwrap_or(line))
        })
        .collect()
}

/// Where a line's key starts, the key, and where its value starts, for a line that reads
/// `key: value` (after indentation and `- ` of sequence entries).
fn key_of_line(line: &str) -> Option<(usize, &str, usize)> {
    let mut at = 0;
    loop {
        at = line.len() - line[at..].trim_start_matches([' ', '\t']).len();
        match line[at..].strip_prefix("- ") {
            Some(_) => at += 2,
            None => break,
        }
    }
    let rest = &line[at..];
    if rest.starts_with(['{', '[', '#']) {
        return None;
    }
    let colon = rest
        .find(": ")
        .or_else(|| rest.ends_with(':').then(|| rest.len() - 1))?;
    let key = rest[..colon].trim_end().trim_matches(['"', '\'']);
    let value = &rest[colon + 1..];
    Some((at, key, line.len() - value.trim_start().len()))
}

/// Whether a key under a secret key reads as a key name (`value`, `extra`, `env`), which the
/// error about it must show, rather than as a token pasted as a key (`{ 3f9a-7c2e: 1 }`):
/// lowercase ASCII letters and `_`, at most 16.
fn is_key_name(key: &str) -> bool {
    (1..=16).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// The tokens of the value of the key at `key` (a scalar followed by a colon).
fn value_of(tokens: &[Token], key: usize) -> Range<usize> {
    let start = key + 2;
    let key = &tokens[key];
    if key.depth > 0 {
        // In a flow collection: up to the next comma at the key's depth, or its closing bracket.
        let end = tokens[start..]
            .iter()
            .position(|t| t.depth < key.depth || (t.depth == key.depth && t.kind == Kind::Comma))
            .map_or(tokens.len(), |offset| start + offset);
        return start..end;
    }
    // In a block: the rest of the key's line, then every line indented deeper (or a sequence at
    // the key's own indentation, which YAML allows when the key's line has no value), and what
    // a flow collection or quoted scalar opened there spans. Comment lines alone neither end it
    // nor extend it.
    let empty_line = tokens
        .get(start)
        .is_none_or(|t| t.line != key.line || t.kind == Kind::Comment);
    let mut end = start;
    for (at, token) in tokens.iter().enumerate().skip(start) {
        let continues = token.line == key.line
            || token.depth > 0
            || !token.first_on_line
            || token.column > key.column
            || (empty_line && token.column == key.column && token.kind == Kind::Dash);
        let comment_line = token.kind == Kind::Comment && token.first_on_line;
        if !continues && !comment_line {
            break;
        }
        if !comment_line || token.line == key.line {
            end = at + 1;
        }
    }
    start..end
}

/// Whether `value` is `{ env: NAME }` (a valid variable name) or `{ file: PATH }`, in flow or
/// block style.
fn is_reference(text: &str, value: &[Token]) -> bool {
    let tokens: Vec<&Token> = value.iter().filter(|t| t.kind != Kind::Comment).collect();
    let entry = match tokens.as_slice() {
        [open, key, colon, target, close]
            if text[open.range.clone()].starts_with('{') && close.kind == Kind::Close =>
        {
            [*key, *colon, *target]
        }
        [key, colon, target] => [*key, *colon, *target],
        _ => return false,
    };
    let [key, colon, target] = entry;
    if key.kind != Kind::Scalar || colon.kind != Kind::Colon || target.kind != Kind::Scalar {
        return false;
    }
    let target = unquote(&text[target.range.clone()]);
    match unquote(&text[key.range.clone()]) {
        "env" => is_env_name(target),
        "file" => !target.trim().is_empty(),
        _ => false,
    }
}

/// A scalar's text without its quotes.
fn unquote(scalar: &str) -> &str {
    let scalar = scalar.trim();
    for quote in ['"', '\''] {
        if let Some(inner) = scalar
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner;
        }
    }
    scalar
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Plain, quoted or block scalar, anchor, alias or tag.
    Scalar,
    Comment,
    /// `{` or `[`.
    Open,
    /// `}` or `]`.
    Close,
    Comma,
    /// `:` ending a key.
    Colon,
    /// `-` of a sequence entry, `?` of a complex key.
    Dash,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    range: Range<usize>,
    /// 0-based line and byte column of the token's start.
    line: usize,
    column: usize,
    /// Flow collections the token is in (for a bracket: those around it).
    depth: usize,
    /// Nothing before it on its line (not even the end of a multi-line token).
    first_on_line: bool,
}

/// YAML's tokens, as far as masking needs them. Never fails: text that is not YAML still ends
/// in tokens, and an unterminated quote or bracket runs to the end of the text.
fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens: Vec<Token> = Vec::new();
    let (mut at, mut line, mut line_start, mut depth) = (0, 0, 0, 0usize);
    let mut last_end_line = None;
    while at < bytes.len() {
        match bytes[at] {
            b'\n' => {
                at += 1;
                line += 1;
                line_start = at;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                at += 1;
                continue;
            }
            _ => {}
        }
        let start = at;
        let blank_after = |at: usize| bytes.get(at).is_none_or(|b| b" \t\r\n".contains(b));
        let (kind, token_depth) = match bytes[at] {
            b'#' => {
                at = line_end(bytes, at);
                (Kind::Comment, depth)
            }
            b'"' => {
                at = double_quoted_end(bytes, at);
                (Kind::Scalar, depth)
            }
            b'\'' => {
                at = single_quoted_end(bytes, at);
                (Kind::Scalar, depth)
            }
            b'{' | b'[' => {
                at += 1;
                depth += 1;
                (Kind::Open, depth - 1)
            }
            b'}' | b']' => {
                at += 1;
                depth = depth.saturating_sub(1);
                (Kind::Close, depth)
            }
            b',' if depth > 0 => {
                at += 1;
                (Kind::Comma, depth)
            }
            b':' if depth > 0 || blank_after(at + 1) => {
                at += 1;
                (Kind::Colon, depth)
            }
            b'-' | b'?' if depth == 0 && blank_after(at + 1) => {
                at += 1;
                (Kind::Dash, depth)
            }
            b'|' | b'>' if depth == 0 => {
                let parent = block_parent_column(&tokens, line, at - line_start);
                at = block_scalar_end(bytes, at, parent);
                (Kind::Scalar, depth)
            }
            _ => {
                at = plain_end(bytes, at, depth > 0);
                (Kind::Scalar, depth)
            }
        };
        tokens.push(Token {
            kind,
            range: start..at,
            line,
            column: start - line_start,
            depth: token_depth,
            first_on_line: last_end_line.is_none_or(|end| end < line),
        });
        // A quoted or block scalar may have run over line breaks.
        if let Some(last_break) = bytes[start..at].iter().rposition(|b| *b == b'\n') {
            line += bytes[start..at].iter().filter(|b| **b == b'\n').count();
            line_start = start + last_break + 1;
        }
        last_end_line = Some(line);
    }
    tokens
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |offset| from + offset)
}

/// After the closing quote; `\"` escapes it.
fn double_quoted_end(bytes: &[u8], open: usize) -> usize {
    let mut at = open + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// After the closing quote; `''` is a quote inside.
fn single_quoted_end(bytes: &[u8], open: usize) -> usize {
    let mut at = open + 1;
    while at < bytes.len() {
        if bytes[at] == b'\'' {
            if bytes.get(at + 1) == Some(&b'\'') {
                at += 2;
                continue;
            }
            return at + 1;
        }
        at += 1;
    }
    bytes.len()
}

/// The column a block scalar's lines must be indented beyond: its key's, or its `-`'s, or
/// else its line's first token's.
fn block_parent_column(tokens: &[Token], line: usize, column: usize) -> usize {
    match tokens {
        [.., key, colon] if colon.kind == Kind::Colon && colon.line == line => key.column,
        [.., dash] if dash.kind == Kind::Dash && dash.line == line => dash.column,
        _ => tokens
            .iter()
            .rev()
            .take_while(|t| t.line == line)
            .last()
            .map_or(column, |first| first.column),
    }
}

/// After the last line of a block scalar (`|` or `>` and its header, then every blank line or
/// line indented beyond `parent`).
fn block_scalar_end(bytes: &[u8], header: usize, parent: usize) -> usize {
    let mut end = line_end(bytes, header);
    while end < bytes.len() {
        let next = end + 1;
        let line = &bytes[next..line_end(bytes, next)];
        let indent = line.iter().take_while(|b| **b == b' ').count();
        let blank = line.iter().all(|b| b" \t\r".contains(b));
        if !blank && indent <= parent {
            break;
        }
        end = next + line.len();
    }
    end
}

/// After a plain scalar: it ends before `: `, ` #`, the line's end, and in a flow collection
/// before a flow indicator.
fn plain_end(bytes: &[u8], start: usize, flow: bool) -> usize {
    let flow_indicator = |b: u8| b",[]{}".contains(&b);
    let mut at = start;
    while at < bytes.len() {
        let byte = bytes[at];
        let next = bytes.get(at + 1).copied();
        let ends = match byte {
            b'\n' | b'\r' => true,
            b':' => next.is_none_or(|n| b" \t\r\n".contains(&n) || (flow && flow_indicator(n))),
            b'#' => at > start && matches!(bytes[at - 1], b' ' | b'\t'),
            byte => flow && flow_indicator(byte),
        };
        if ends {
            break;
        }
        at += 1;
    }
    while at > start && matches!(bytes[at - 1], b' ' | b'\t') {
        at -= 1;
    }
    // Every byte that can start a plain scalar is consumed by the loop; this keeps progress
    // certain anyway (`at` stays on a character boundary: the bytes above are ASCII).
    at.max(start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "pureuser-3f9a7c2e-token";

    fn masked(text: &str) -> String {
        secrets(text).mask(text)
    }

    #[test]
    fn secret_keys_and_their_near_misses() {
        for key in [
            "api_token",
            "token",
            "api_tokn",
            "apitokn",
            "api-tkn",
            "tokne",
            "password",
            "pasword",
            "db_password",
            "Passwd",
            "secret",
            "secert",
            "client_secret",
            "credentials",
            "credentails",
            "api_key",
            "apikey",
            "private_key",
            "sshkey",
            "key",
            "pass",
        ] {
            assert!(looks_secret(key), "{key}");
        }
    }

    /// Every key of the spec but `api_token` shows its values.
    #[test]
    fn no_other_key_of_the_spec_looks_secret() {
        let schema = serde_json::to_value(schemars::schema_for!(crate::spec::file::SpecFile))
            .expect("schema");
        fn keys(value: &serde_json::Value, found: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::Object(properties)) = map.get("properties") {
                        found.extend(properties.keys().cloned());
                    }
                    map.values().for_each(|value| keys(value, found));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| keys(v, found)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        keys(&schema, &mut found);
        assert!(found.len() > 20, "{found:?}");
        let secret: Vec<&String> = found.iter().filter(|key| looks_secret(key)).collect();
        assert_eq!(secret, ["api_token"], "{found:?}");
        for site in ["site-a", "site-b", "dc1", "primary-site", "keystone"] {
            assert!(!looks_secret(site), "{site}");
        }
    }

    /// In the expected texts, `{S}` is the token masked; other `*` mask quotes, `#` and
    /// indentation inside a masked scalar.
    #[test]
    fn any_shape_under_a_secret_key_is_masked() {
        let cases = [
            ("api_token: SECRET\n", "api_token: {S}\n"),
            (
                "api_token: { value: SECRET }\n",
                "api_token: { value: {S} }\n",
            ),
            ("api_token: [SECRET]\n", "api_token: [{S}]\n"),
            (
                "  api_tokn: SECRET\n  url: x\n",
                "  api_tokn: {S}\n  url: x\n",
            ),
            (
                "api_token: { env: A, extra: SECRET }\n",
                "api_token: { env: *, extra: {S} }\n",
            ),
            (
                "api_token: \"SECRET\" # SECRET\n",
                "api_token: *{S}* **{S}\n",
            ),
            (
                "api_token:\n  value:\n    - SECRET\n# note\nurl: x\n",
                "api_token:\n  value:\n    - {S}\n# note\nurl: x\n",
            ),
            (
                "api_token:\n- SECRET\nurl: x\n",
                "api_token:\n- {S}\nurl: x\n",
            ),
            (
                "api_token: |\n  SECRET\nurl: x\n",
                "api_token: *\n**{S}\nurl: x\n",
            ),
            (
                "password: 'SECRET\n  SECRET'\nurl: x\n",
                "password: *{S}\n**{S}*\nurl: x\n",
            ),
            (
                "- { api_token: SECRET, url: x }\n",
                "- { api_token: {S}, url: x }\n",
            ),
            (
                "url: 'https://fa\napi_token: SECRET\n",
                "url: 'https://fa\napi_token: {S}\n",
            ),
            (
                "url: \"https://fa\n    api_token: \"SECRET\"\n      more: SECRET\n",
                "url: \"https://fa\n    api_token: *{S}*\n      ******{S}\n",
            ),
            (
                "api_token: { env: [SECRET\nurl: x\n",
                "api_token: { env: [{S}\nurl: *\n",
            ),
        ];
        let masked_secret = "*".repeat(SECRET.len());
        for (text, expected) in cases {
            let text = text.replace("SECRET", SECRET);
            let expected = expected.replace("{S}", &masked_secret);
            assert_eq!(masked(&text), expected, "{text}");
        }
    }

    #[test]
    fn references_and_other_keys_stay_readable() {
        for text in [
            "api_token: { env: FA_SITE_A_API_TOKEN }\nurl: https://fa\n",
            "api_token: { file: /etc/protector/fa-a.token }\n",
            "api_token:\n  env: FA_SITE_A_API_TOKEN\n",
            "url: { env: FA_URL }\nca_cert: certs/ca.pem\nname: token-free\n",
            "members:\n  - instance: db-1\n    depends_on: [web-1]\n",
        ] {
            assert_eq!(masked(text), text);
        }
        // Not a valid variable name: perhaps the token itself.
        assert_eq!(
            masked("api_token: { env: 3f9a-7c2e }\n"),
            "api_token: { env: ********* }\n"
        );
    }

    #[test]
    fn masked_words_are_scrubbed_from_messages() {
        // A flow mapping of one key without a value: `{ token }` where `token` was meant.
        let secrets = secrets(&format!("api_token: {{ {SECRET} }}\n"));
        assert_eq!(secrets.words, [SECRET]);
        assert_eq!(
            secrets.scrub(&format!("unknown key `{SECRET}`; not `x{SECRET}`")),
            format!("unknown key `***`; not `x{SECRET}`")
        );
    }
}
