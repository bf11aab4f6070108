//! The one place that reads and writes YAML.
//!
//! Every YAML document protector touches (protection-group specs, clouds.yaml, simulator
//! fixtures, `-f yaml` output) goes through this module, so the YAML crate (serde-saphyr today)
//! can be swapped by editing this file alone. It also owns [`Spanned`], the wrapper that keeps a
//! value's source position so semantic errors found after parsing can still point at
//! `file:line:column`.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{Deserialize, DeserializeOwned, Deserializer};
use serde::ser::{Serialize, Serializer};

/// A position in a source text: 1-based line and column (in characters), plus the byte offset
/// when the source was a string (it always is for us).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub line: usize,
    pub column: usize,
    /// Byte range of the node in the source, when the parser knows it.
    pub bytes: Option<(usize, usize)>,
}

impl Span {
    /// A span for values that did not come from a file (defaults, command-line flags).
    pub const UNKNOWN: Span = Span {
        line: 0,
        column: 0,
        bytes: None,
    };

    pub fn is_known(&self) -> bool {
        self.line > 0
    }

    fn from_location(location: serde_saphyr::Location) -> Span {
        let span = location.span();
        let bytes = match (span.byte_offset(), span.byte_len()) {
            (Some(offset), Some(len)) => Some((offset as usize, (offset + len) as usize)),
            _ => None,
        };
        Span {
            line: location.line() as usize,
            column: location.column() as usize,
            bytes,
        }
    }
}

/// A value together with where it was written. Compares, hashes and serializes as the bare
/// value: the position is metadata for error messages, never part of the data.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }

    /// A value with no source position (built in code, not read from a file).
    pub fn unlocated(value: T) -> Self {
        Spanned {
            value,
            span: Span::UNKNOWN,
        }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<T: Eq> Eq for Spanned<T> {}
impl<T: PartialOrd> PartialOrd for Spanned<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.value.partial_cmp(&other.value)
    }
}
impl<T: Ord> Ord for Spanned<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}
impl<T: std::hash::Hash> std::hash::Hash for Spanned<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state)
    }
}
impl<T: fmt::Display> fmt::Display for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let inner = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        Ok(Spanned {
            value: inner.value,
            span: Span::from_location(inner.referenced),
        })
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// A document that is not well-formed YAML, or does not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// What is wrong, without position (the position is in `span`).
    pub message: String,
    pub span: Span,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.span.is_known() {
            write!(
                f,
                "{} (line {}, column {})",
                self.message, self.span.line, self.span.column
            )
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for YamlError {}

/// Parses one YAML document. Duplicate keys are errors, and only `true`/`false` are booleans
/// (YAML 1.1's `no` meaning false has bitten too many operators: Norway's country code, `on`).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        strict_booleans: true,
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|error| {
        let span = error
            .location()
            .map(Span::from_location)
            .unwrap_or(Span::UNKNOWN);
        YamlError {
            message: plain_message(&error),
            span,
        }
    })
}

/// The parser's message without its trailing "at line X column Y": we render positions
/// ourselves, next to a snippet.
fn plain_message(error: &serde_saphyr::Error) -> String {
    let rendered = error.render_with_options(serde_saphyr::render_options! {
        snippets: serde_saphyr::SnippetMode::Off,
    });
    let first_line = rendered.lines().next().unwrap_or_default().trim();
    let without_position = match first_line.rfind(" at line ") {
        Some(index) => &first_line[..index],
        None => first_line,
    };
    let message = without_position.trim_end_matches(':');
    // The parser's wording addresses its API's users ("set DuplicateKeyPolicy ..."), not ours.
    match message
        .strip_prefix("duplicate mapping key: ")
        .and_then(|rest| rest.split(',').next())
    {
        Some(key) => format!("duplicate key `{key}`"),
        None => message.to_string(),
    }
}

/// Serializes a value as a YAML document (used for `-f yaml` and for files we write).
pub fn to_string<T: Serialize>(value: &T) -> Result<String, YamlError> {
    serde_saphyr::to_string(value).map_err(|error| YamlError {
        message: error.to_string(),
        span: Span::UNKNOWN,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        name: Spanned<String>,
        #[serde(default)]
        items: Vec<Spanned<u32>>,
    }

    #[test]
    fn spanned_values_know_their_line_column_and_bytes() {
        let text = "name: web-1\nitems:\n  - 3\n  - 44\n";
        let doc: Doc = from_str(text).unwrap();
        assert_eq!(doc.name.value, "web-1");
        assert_eq!((doc.name.span.line, doc.name.span.column), (1, 7));
        let (start, end) = doc.name.span.bytes.unwrap();
        assert_eq!(&text[start..end], "web-1");
        assert_eq!((doc.items[1].span.line, doc.items[1].span.column), (4, 5));
    }

    #[test]
    fn duplicate_keys_are_rejected_with_a_position() {
        let error = from_str::<Doc>("name: a\nname: b\n").unwrap_err();
        assert_eq!(error.message, "duplicate key `name`");
        assert_eq!(error.span.line, 2);
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_position() {
        let error = from_str::<Doc>("name: a\nnmae: b\n").unwrap_err();
        assert!(error.message.contains("unknown field `nmae`"), "{error}");
        assert_eq!((error.span.line, error.span.column), (2, 1));
        assert!(!error.message.contains("line 2"), "{error}");
    }

    #[test]
    fn spanned_compares_by_value_only() {
        let a = Spanned::new(1, Span::UNKNOWN);
        let b = Spanned::new(
            1,
            Span {
                line: 3,
                column: 4,
                bytes: None,
            },
        );
        assert_eq!(a, b);
    }

    #[test]
    fn serializes_back_to_yaml() {
        #[derive(serde::Serialize)]
        struct Out {
            name: Spanned<String>,
        }
        let text = to_string(&Out {
            name: Spanned::unlocated("db-1".into()),
        })
        .unwrap();
        assert_eq!(text.trim(), "name: db-1");
    }
}
