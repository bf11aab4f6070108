//! How protector's results read: text for people, Markdown for change requests, JSON for
//! machines.
//!
//! Renderers turn library values into strings and never print; `cli` owns stdout and stderr.
//! Colours have fixed meanings (STYLE.md): green success, red error, yellow warning, cyan hints
//! and paths. Text is styled unconditionally; the output stream strips styles when colour is
//! off (`NO_COLOR`, `--no-color`, not a terminal).

pub mod diagnostics;
pub mod markdown;
pub mod plan;
pub mod records;
pub mod redact;
pub mod report;
pub mod table;

use anstyle::{AnsiColor, Style};
use minijinja::{Environment, UndefinedBehavior, syntax::SyntaxConfig};

/// The version of every JSON (and YAML) document protector prints, as `format_version`, first
/// (the plan file has its own): `1.x` adds fields, `2.0` would change or remove one.
pub const FORMAT_VERSION: &str = "1.0";

/// `value` with `format_version` first when it is an object (every JSON record, list row,
/// progress event and report).
pub fn versioned(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(fields) => {
            let mut versioned = serde_json::Map::new();
            versioned.insert("format_version".to_string(), FORMAT_VERSION.into());
            versioned.extend(
                fields
                    .into_iter()
                    .filter(|(key, _)| key != "format_version"),
            );
            serde_json::Value::Object(versioned)
        }
        other => other,
    }
}

pub const ERROR: Style = AnsiColor::Red.on_default().bold();
pub const WARNING: Style = AnsiColor::Yellow.on_default().bold();
pub const SUCCESS: Style = AnsiColor::Green.on_default().bold();
pub const HINT: Style = AnsiColor::Cyan.on_default();

/// `text` wrapped in `style`'s escape codes.
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// The closing hint line every error ends with (STYLE.md: a blank line, then `hint: ...`).
pub fn hint_line(hint: &str) -> String {
    format!("\n{} {hint}", paint(HINT.bold(), "hint:"))
}

/// A minijinja environment for protector's templates: block tags on their own lines leave no
/// blank lines or indentation behind, a misspelt name is an error instead of rendering as
/// nothing, and the `cell` filter keeps a value inside its Markdown table cell.
pub(crate) fn templates<'source>() -> Environment<'source> {
    let mut environment = Environment::new();
    environment.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("a valid syntax configuration"),
    );
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    environment.add_filter("cell", |value: &str| cell(value));
    environment
}

/// Makes a value safe inside a Markdown table cell: a `|` would end the cell, a newline the row.
fn cell(value: &str) -> String {
    value.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_table_cell_keeps_its_row() {
        assert_eq!(super::cell("a|b\nc"), "a\\|b c");
    }
}
