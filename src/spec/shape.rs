//! Reads a spec's YAML into the file's shape ([`SpecFile`]), getting past every key that can be
//! got past, so one `validate` lists every misplaced key rather than the first.
//!
//! The YAML reader stops at the first key that has no place in the spec. Such a key is
//! reported, then repaired in a copy of the text, which is read again: a misspelt key is given
//! the spelling it was probably meant to have (`aray_name` becomes `array_name`, so its value is
//! still checked and its absence not reported), any other unknown or repeated key is blanked
//! out (its line and the lines of its value become spaces). Positions found in the copy are
//! mapped back to the operator's file, and a missing key is pointed at the mapping that lacks
//! it. What cannot be repaired (a wrong value, a missing key,
//! broken syntax, a key inside `{ ... }`) is reported and ends the reading; so does an empty
//! value that only a blanking made.

use std::borrow::Cow;

use super::file::SpecFile;
use super::validate::{self, StrayKey};
use crate::diagnostic::Diagnostic;
use crate::yaml::{self, Span, YamlError};

/// More stray keys than this in one file: the file is probably not a spec at all.
const MOST_STRAY_KEYS: usize = 50;

/// What reading the text gave.
pub(super) struct Shape {
    /// The spec file read, once every stray key was repaired.
    pub file: Option<SpecFile>,
    /// Every shape error, in the order found, pointing into the original text.
    pub errors: Vec<Diagnostic>,
    /// Whether the rules can judge `file` with positions in the original text: not when a key
    /// was respelt, which moved what follows it on its line.
    pub judgeable: bool,
}

pub(super) fn read(text: &str) -> Shape {
    let mut text = Cow::Borrowed(text);
    let mut errors = Vec::new();
    let mut respelt: Vec<Respelling> = Vec::new();
    let mut blanked = false;
    while errors.len() <= MOST_STRAY_KEYS {
        let error = match yaml::from_str::<SpecFile>(&text) {
            Ok(file) => {
                return Shape {
                    file: Some(file),
                    errors,
                    judgeable: respelt.is_empty(),
                };
            }
            Err(error) => error,
        };
        if blanked && error.message.contains("null") {
            break;
        }
        // The reader points a missing key at the mapping's last entry: the mapping is the place.
        let span = match validate::missing_key(&error) {
            Some(_) => mapping_of(&text, error.span),
            None => error.span,
        };
        let original = YamlError {
            span: respelt
                .iter()
                .rev()
                .fold(span, |span, respelling| respelling.undo(span)),
            ..error.clone()
        };
        errors.push(validate::yaml_error(&original));
        let repaired = match validate::stray_key(&error) {
            Some(StrayKey::Unknown {
                key,
                suggestion: Some(meant),
            }) => respell(&text, error.span, &key, &meant).map(|(repaired, respelling)| {
                respelt.push(respelling);
                repaired
            }),
            Some(_) => blank_entry(&text, error.span).inspect(|_| blanked = true),
            None => None,
        };
        match repaired {
            Some(repaired) => text = Cow::Owned(repaired),
            None => break,
        }
    }
    Shape {
        file: None,
        errors,
        judgeable: false,
    }
}

/// Where the block mapping holding the entry at `span` starts: its parent's key, or the `-` of
/// the list item it is; the document's first line for the top-level mapping.
fn mapping_of(text: &str, span: Span) -> Span {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let indent = span.column.saturating_sub(1);
    let before = lines
        .iter()
        .take(span.line.saturating_sub(1))
        .enumerate()
        .rev();
    let parent = before
        .filter(|(_, line)| !is_blank(line))
        .find(|(_, line)| line.len() - line.trim_start_matches(' ').len() < indent);
    let (index, line) = match parent {
        Some((index, line)) => (index, *line),
        None => match lines.iter().enumerate().find(|(_, line)| !is_blank(line)) {
            Some((index, line)) => (index, *line),
            None => return span,
        },
    };
    let depth = line.len() - line.trim_start_matches(' ').len();
    let body = line[depth..].trim_end();
    let width = match body.strip_prefix('-') {
        Some(_) => 1,
        None => body.find(':').unwrap_or(body.len()),
    };
    let start: usize = lines[..index].iter().map(|line| line.len()).sum::<usize>() + depth;
    Span {
        line: index + 1,
        column: line[..depth].chars().count() + 1,
        bytes: Some((start, start + width)),
    }
}

/// A key written anew with another length: positions after it on its line, and every byte
/// offset after it, moved.
#[derive(Debug, PartialEq)]
struct Respelling {
    line: usize,
    /// The first column after the new key.
    after_column: usize,
    /// The first byte after the new key.
    after_byte: usize,
    chars: isize,
    bytes: isize,
}

impl Respelling {
    /// `span` (in the respelt text) in the text before the respelling.
    fn undo(&self, mut span: Span) -> Span {
        if span.line == self.line && span.column >= self.after_column {
            span.column = span.column.saturating_add_signed(-self.chars);
        }
        let undo = |byte: usize| {
            if byte >= self.after_byte {
                byte.saturating_add_signed(-self.bytes)
            } else {
                byte
            }
        };
        span.bytes = span.bytes.map(|(start, end)| (undo(start), undo(end)));
        span
    }
}

/// `text` with the key `key` at `span` written `meant`; `None` when the text there is not that
/// key as a plain word (a quoted key, say).
fn respell(text: &str, span: Span, key: &str, meant: &str) -> Option<(String, Respelling)> {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(span.line.checked_sub(1)?)
        .map(str::len)
        .sum();
    let line = text[line_start..].split_inclusive('\n').next()?;
    let in_line = match line.char_indices().nth(span.column.checked_sub(1)?) {
        Some((offset, _)) => offset,
        None => return None,
    };
    let at = line_start + in_line;
    let after = text[at..].strip_prefix(key)?;
    if !after.starts_with(':') && !after.starts_with(' ') {
        return None;
    }
    let respelt = format!("{}{meant}{after}", &text[..at]);
    let respelling = Respelling {
        line: span.line,
        after_column: span.column + meant.chars().count(),
        after_byte: at + meant.len(),
        chars: meant.chars().count() as isize - key.chars().count() as isize,
        bytes: meant.len() as isize - key.len() as isize,
    };
    Some((respelt, respelling))
}

/// `text` with the mapping entry whose key starts at `span` replaced by spaces: the rest of the
/// key's line and the lines of its value (indented deeper, or a `- ` list at the key's own
/// indentation). `None` when the key does not start a block entry (it follows `{`, `?`, ...).
fn blank_entry(text: &str, span: Span) -> Option<String> {
    if !span.is_known() {
        return None;
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let key_line = *lines.get(span.line.checked_sub(1)?)?;
    let indent = span.column.checked_sub(1)?;
    let prefix: String = key_line.chars().take(indent).collect();
    // Before a block key: indentation, and the `- ` of the list item the key opens.
    if prefix.chars().count() < indent || !prefix.chars().all(|c| c == ' ' || c == '-') {
        return None;
    }
    let value_on_key_line = !is_blank(after_colon(&key_line[prefix.len()..]));
    let mut blanked = String::with_capacity(text.len());
    for line in &lines[..span.line - 1] {
        blanked.push_str(line);
    }
    blanked.push_str(&prefix);
    blanked.push_str(&spaces(&key_line[prefix.len()..]));
    let mut rest = lines[span.line..].iter();
    for line in rest.by_ref() {
        let depth = line.len() - line.trim_start_matches(' ').len();
        let of_the_value = is_blank(line)
            || depth > indent
            || (depth == indent && !value_on_key_line && line[depth..].starts_with("- "));
        if !of_the_value {
            blanked.push_str(line);
            break;
        }
        blanked.push_str(&spaces(line));
    }
    for line in rest {
        blanked.push_str(line);
    }
    Some(blanked)
}

/// What follows the key's `:` on its line (the whole line when there is none).
fn after_colon(entry: &str) -> &str {
    entry.split_once(": ").map_or_else(
        || entry.trim_end().strip_suffix(':').map_or(entry, |_| ""),
        |(_, value)| value,
    )
}

/// Empty, spaces only, or a comment.
fn is_blank(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line.starts_with('#')
}

/// As many spaces as `line` has bytes, its line break kept: positions after it stay the same.
fn spaces(line: &str) -> String {
    let body = line.trim_end_matches(['\n', '\r']);
    format!("{}{}", " ".repeat(body.len()), &line[body.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Span {
        Span {
            line,
            column,
            bytes: None,
        }
    }

    #[test]
    fn an_entry_and_its_value_become_spaces_of_the_same_length() {
        let text = "a: 1\nbogus:\n  deep: 2\n  deeper:\n    - x\n\nb: 3\n";
        let blanked = blank_entry(text, at(2, 1)).unwrap();
        assert_eq!(blanked.len(), text.len());
        assert_eq!(blanked.lines().count(), text.lines().count());
        assert_eq!(
            yaml::from_str::<serde_json::Value>(&blanked).unwrap(),
            serde_json::json!({"a": 1, "b": 3})
        );
    }

    #[test]
    fn a_key_opening_a_list_item_leaves_the_item_its_other_keys() {
        let text = "items:\n  - bogus: 1\n    name: x\n  - name: y\n";
        let blanked = blank_entry(text, at(2, 5)).unwrap();
        assert_eq!(
            yaml::from_str::<serde_json::Value>(&blanked).unwrap(),
            serde_json::json!({"items": [{"name": "x"}, {"name": "y"}]})
        );
    }

    #[test]
    fn a_list_at_the_keys_indentation_is_its_value() {
        let text = "bogus:\n- 1\n- 2\nb: 3\n";
        let blanked = blank_entry(text, at(1, 1)).unwrap();
        assert_eq!(
            yaml::from_str::<serde_json::Value>(&blanked).unwrap(),
            serde_json::json!({"b": 3})
        );
    }

    #[test]
    fn a_key_inside_braces_is_not_blanked() {
        assert_eq!(blank_entry("a: { b: 1, bogus: 2 }\n", at(1, 12)), None);
        assert_eq!(blank_entry("a: 1\n", Span::UNKNOWN), None);
    }

    #[test]
    fn a_respelt_key_keeps_its_value_and_later_positions_map_back() {
        let text = "a:\n  aray_name: fa-b\n  b: 2\n";
        let (respelt, respelling) = respell(text, at(2, 3), "aray_name", "array_name").unwrap();
        assert_eq!(respelt, "a:\n  array_name: fa-b\n  b: 2\n");
        // The value moved one column right on its line; the next line did not move.
        let value = Span {
            line: 2,
            column: 15,
            bytes: Some((17, 21)),
        };
        assert_eq!(
            respelling.undo(value),
            Span {
                line: 2,
                column: 14,
                bytes: Some((16, 20))
            }
        );
        assert_eq!(respelling.undo(at(3, 3)), at(3, 3));
        assert_eq!(respell(text, at(2, 3), "other", "x"), None);
        assert_eq!(
            respell("\"aray_name\": 1\n", at(1, 1), "aray_name", "x"),
            None
        );
    }

    #[test]
    fn a_missing_key_points_at_the_mapping_that_lacks_it() {
        let text = "a: 1\nsite:\n  flasharray:\n    url: x\n    # note\n    host: y\nitems:\n  - name: n\n    size: 2\n";
        let of = |line, column| {
            let span = mapping_of(text, at(line, column));
            (span.line, span.column, span.bytes.map(|(s, e)| &text[s..e]))
        };
        assert_eq!(of(6, 5), (3, 3, Some("flasharray")));
        assert_eq!(of(9, 5), (8, 3, Some("-")));
        assert_eq!(of(7, 1), (1, 1, Some("a")));
    }

    #[test]
    fn multibyte_text_keeps_its_byte_positions() {
        let text = "bogus: \"é\"\r\nb: 3\r\n";
        let blanked = blank_entry(text, at(1, 1)).unwrap();
        assert_eq!(blanked.len(), text.len());
        assert!(blanked.ends_with("\r\nb: 3\r\n"), "{blanked:?}");
    }
}
