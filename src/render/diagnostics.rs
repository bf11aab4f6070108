//! A [`Report`] as text (source snippets, like rustc's) and as the JSON document of
//! `terraform validate -json`, which CI tooling already knows how to read.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use super::{hint_line, redact};
use crate::diagnostic::{Diagnostic, Label, Position, Report, Severity, SourceFile};

/// Every diagnostic of the report, each ending with its hint, separated by blank lines.
pub fn text(report: &Report) -> String {
    let report = redacted(report);
    let renderer = Renderer::styled();
    report
        .diagnostics
        .iter()
        .map(|diagnostic| {
            let mut text =
                renderer.render(&[group(diagnostic, &report.source.name, &report.source)]);
            if let Some(hint) = &diagnostic.hint {
                text.push('\n');
                text.push_str(&hint_line(hint));
            }
            text
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn group<'a>(diagnostic: &'a Diagnostic, path: &'a str, source: &'a SourceFile) -> Group<'a> {
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let mut elements: Vec<annotate_snippets::Element<'a>> = Vec::new();
    let labels: Vec<(&Label, AnnotationKind)> = diagnostic
        .primary
        .iter()
        .map(|label| (label, AnnotationKind::Primary))
        .chain(
            diagnostic
                .secondary
                .iter()
                .map(|label| (label, AnnotationKind::Context)),
        )
        .collect();
    if labels.is_empty() {
        elements.push(Level::NOTE.message(format!("in {path}")).into());
    } else {
        let snippet = Snippet::source(source.text.as_str())
            .path(path)
            .annotations(labels.into_iter().map(|(label, kind)| {
                let (start, end) = source.byte_range(&label.span);
                kind.span(start..end).label(label.message.as_str())
            }));
        elements.push(snippet.into());
    }
    if let Some(detail) = &diagnostic.detail {
        elements.push(Level::NOTE.message(detail.as_str()).into());
    }
    level
        .primary_title(diagnostic.summary.as_str())
        .elements(elements)
}

/// The report as it may be shown: whatever of its source may be a secret (`redact`) masked in
/// the source the snippets are cut from, and scrubbed from the messages, which can quote it.
fn redacted(report: &Report) -> Report {
    let secrets = redact::secrets(&report.source.text);
    let label = |label: &Label| Label {
        span: label.span,
        message: secrets.scrub(&label.message),
    };
    Report {
        source: SourceFile::new(
            report.source.name.clone(),
            secrets.mask(&report.source.text),
        ),
        diagnostics: report
            .diagnostics
            .iter()
            .map(|diagnostic| Diagnostic {
                severity: diagnostic.severity,
                summary: secrets.scrub(&diagnostic.summary),
                detail: diagnostic.detail.as_deref().map(|d| secrets.scrub(d)),
                hint: diagnostic.hint.as_deref().map(|h| secrets.scrub(h)),
                primary: diagnostic.primary.as_ref().map(label),
                secondary: diagnostic.secondary.iter().map(label).collect(),
            })
            .collect(),
    }
}

/// `terraform validate -json`'s document, plus a `hint` per diagnostic.
#[derive(Debug, Serialize)]
pub struct ValidateJson {
    pub format_version: &'static str,
    pub valid: bool,
    pub error_count: usize,
    pub warning_count: usize,
    pub diagnostics: Vec<DiagnosticJson>,
}

#[derive(Debug, Serialize)]
pub struct DiagnosticJson {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<RangeJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<SnippetJson>,
}

#[derive(Debug, Serialize)]
pub struct RangeJson {
    pub filename: String,
    pub start: Position,
    pub end: Position,
}

#[derive(Debug, Serialize)]
pub struct SnippetJson {
    pub context: Option<String>,
    /// The source lines the range covers (secrets masked).
    pub code: String,
    pub start_line: usize,
    /// Byte offsets of the range within `code`.
    pub highlight_start_offset: usize,
    pub highlight_end_offset: usize,
}

pub fn json(report: &Report) -> ValidateJson {
    let report = &redacted(report);
    ValidateJson {
        format_version: super::FORMAT_VERSION,
        valid: !report.has_errors(),
        error_count: report.error_count(),
        warning_count: report.warning_count(),
        diagnostics: report
            .diagnostics
            .iter()
            .map(|diagnostic| diagnostic_json(diagnostic, &report.source))
            .collect(),
    }
}

fn diagnostic_json(diagnostic: &Diagnostic, source: &SourceFile) -> DiagnosticJson {
    let located = diagnostic.primary.as_ref().map(|label| {
        let (start_byte, end_byte) = source.byte_range(&label.span);
        let (start, end) = (source.position(start_byte), source.position(end_byte));
        let code_start = source.line_start(start.line);
        let code_end = source.line_start(end.line) + source.line(end.line).len();
        let range = RangeJson {
            filename: source.name.clone(),
            start,
            end,
        };
        let snippet = SnippetJson {
            context: None,
            code: source.text[code_start..code_end].to_string(),
            start_line: start.line,
            highlight_start_offset: start_byte - code_start,
            highlight_end_offset: end_byte - code_start,
        };
        (range, snippet)
    });
    let (range, snippet) = located.unzip();
    DiagnosticJson {
        severity: diagnostic.severity,
        summary: diagnostic.summary.clone(),
        detail: diagnostic.detail.clone().unwrap_or_default(),
        hint: diagnostic.hint.clone(),
        range,
        snippet,
    }
}
