//! The OpenStack client's output options, shared by every command that prints records:
//! `-f`, `-c/--column`, `--sort-column` (lists), `--prefix` (`-f shell`), `--max-width` and
//! `--fit-width` (tables). [`crate::render::table`] does the printing.

use crate::render::table::{Format, Options, UnknownColumn};

use super::CommandError;

/// The formats of one record (the client's `show` commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordFormat {
    Table,
    Json,
    Yaml,
    Value,
    Shell,
}

/// The formats of a list (the client's `list` commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
    Yaml,
    Value,
    Csv,
}

/// How a command that shows one record prints it.
#[derive(Debug, Clone, clap::Args)]
pub struct RecordOutput {
    /// Output format.
    #[arg(short = 'f', long = "format", value_enum, default_value = "table")]
    format: RecordFormat,
    /// Show only this field (repeatable, in the order given).
    #[arg(short = 'c', long = "column", value_name = "COLUMN")]
    columns: Vec<String>,
    /// `-f shell`: put this before every variable name.
    #[arg(long, default_value = "", value_name = "PREFIX")]
    prefix: String,
    #[command(flatten)]
    width: Width,
}

/// How a command that lists records prints them.
#[derive(Debug, Clone, clap::Args)]
pub struct ListOutput {
    /// Output format.
    #[arg(short = 'f', long = "format", value_enum, default_value = "table")]
    format: ListFormat,
    /// Show only this column (repeatable, in the order given).
    #[arg(short = 'c', long = "column", value_name = "COLUMN")]
    columns: Vec<String>,
    /// Sort the rows by this column (repeatable: the first decides, the next break ties).
    #[arg(long = "sort-column", value_name = "COLUMN")]
    sort_columns: Vec<String>,
    /// With --sort-column: largest first.
    #[arg(long, requires = "sort_columns")]
    sort_descending: bool,
    #[command(flatten)]
    width: Width,
}

/// A command that lists what a spec's group has recorded: `FILE` and the list's options.
#[derive(Debug, Clone, clap::Args)]
pub struct FileListArgs {
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    #[command(flatten)]
    pub output: ListOutput,
}

/// How wide a table may be.
#[derive(Debug, Clone, clap::Args)]
struct Width {
    /// Table: at most this many characters wide, the widest cells wrapped (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 0)]
    max_width: usize,
    /// Table: as wide as the terminal at most (also: CLIFF_FIT_WIDTH=1, as the OpenStack client).
    #[arg(long)]
    fit_width: bool,
}

impl Width {
    fn max(&self) -> Option<usize> {
        let fit = self.fit_width || std::env::var("CLIFF_FIT_WIDTH").is_ok_and(|v| v == "1");
        let terminal = fit
            .then(|| terminal_size::terminal_size().map(|(width, _)| usize::from(width.0)))
            .flatten();
        match (self.max_width, terminal) {
            (0, terminal) => terminal,
            (max, Some(terminal)) => Some(max.min(terminal)),
            (max, None) => Some(max),
        }
    }
}

impl RecordOutput {
    pub fn options(&self) -> Options {
        Options {
            format: match self.format {
                RecordFormat::Table => Format::Table,
                RecordFormat::Json => Format::Json,
                RecordFormat::Yaml => Format::Yaml,
                RecordFormat::Value => Format::Value,
                RecordFormat::Shell => Format::Shell,
            },
            columns: self.columns.clone(),
            prefix: self.prefix.clone(),
            max_width: self.width.max(),
            ..Options::of(Format::Table)
        }
    }
}

impl ListOutput {
    pub fn options(&self) -> Options {
        Options {
            format: match self.format {
                ListFormat::Table => Format::Table,
                ListFormat::Json => Format::Json,
                ListFormat::Yaml => Format::Yaml,
                ListFormat::Value => Format::Value,
                ListFormat::Csv => Format::Csv,
            },
            columns: self.columns.clone(),
            sort_columns: self.sort_columns.clone(),
            descending: self.sort_descending,
            max_width: self.width.max(),
            prefix: String::new(),
        }
    }
}

/// A column asked for that the output lacks: a usage error, with the columns there are.
pub fn unknown_column(error: UnknownColumn) -> CommandError {
    CommandError::new(format!("no column `{}` in this output", error.asked))
        .hint(format!("columns: {}", error.available.join(", ")))
}
