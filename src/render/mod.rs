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
pub mod table;

use anstyle::{AnsiColor, Style};

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
