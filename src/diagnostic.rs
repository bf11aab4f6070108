//! Diagnostics: what is wrong with a user's file, where, and what to do next.
//!
//! A [`Diagnostic`] is data (severity, summary, detail, hint, labelled source spans); it never
//! prints itself. `render::diagnostics` turns a [`Report`] into the human text (with the source
//! snippet) or the `terraform validate -json` shaped document. Keeping positions as
//! [`Span`]s until rendering lets every later stage (validation, planning) point at the spec.

use serde::Serialize;

use crate::yaml::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A span of the source with a short message shown under the snippet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// One line: what is wrong.
    pub summary: String,
    /// Optional longer explanation (why it matters).
    pub detail: Option<String>,
    /// One line: the next thing to try.
    pub hint: Option<String>,
    /// Where it is wrong; `None` for problems of the whole file.
    pub primary: Option<Label>,
    /// Other places that explain the problem (the first of two duplicates, each edge of a cycle).
    pub secondary: Vec<Label>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>) -> Self {
        Self::new(Severity::Error, summary)
    }

    pub fn warning(summary: impl Into<String>) -> Self {
        Self::new(Severity::Warning, summary)
    }

    fn new(severity: Severity, summary: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            summary: summary.into(),
            detail: None,
            hint: None,
            primary: None,
            secondary: Vec::new(),
        }
    }

    /// Points the diagnostic at `span`; unknown spans (values not read from the file) are
    /// ignored so callers need not check.
    pub fn at(mut self, span: Span, message: impl Into<String>) -> Self {
        if span.is_known() {
            self.primary = Some(Label {
                span,
                message: message.into(),
            });
        }
        self
    }

    pub fn also(mut self, span: Span, message: impl Into<String>) -> Self {
        if span.is_known() {
            self.secondary.push(Label {
                span,
                message: message.into(),
            });
        }
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// How many one-character edits (insert, delete, replace, swap two neighbours) turn `a` into
/// `b`: how close a misspelling is to a word (`membres` is 1 from `members`).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // distance[i][j]: from the first i characters of a to the first j of b.
    let mut distance = vec![vec![0; b.len() + 1]; a.len() + 1];
    distance[0] = (0..=b.len()).collect();
    for (i, row) in distance.iter_mut().enumerate() {
        row[0] = i;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let replace = distance[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = replace
                .min(distance[i - 1][j] + 1)
                .min(distance[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(distance[i - 2][j - 2] + 1);
            }
            distance[i][j] = best;
        }
    }
    distance[a.len()][b.len()]
}

/// A source text with its display name and a line index, to turn spans into ranges/snippets.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// As the user named it (a relative path stays relative): what they can open.
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

/// A 1-based line/column position with its byte offset, as `terraform validate -json` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    pub byte: usize,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(index, _)| index + 1))
            .collect();
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// The text of 1-based `line`, without its newline.
    pub fn line(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |next| next - 1);
        self.text[start..end].trim_end_matches('\r')
    }

    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts
            .get(line.wrapping_sub(1))
            .copied()
            .unwrap_or(self.text.len())
    }

    /// Byte offset → position.
    pub fn position(&self, byte: usize) -> Position {
        let byte = byte.min(self.text.len());
        let line_index = self.line_starts.partition_point(|&start| start <= byte) - 1;
        let line_start = self.line_starts[line_index];
        let column = self.text[line_start..byte].chars().count() + 1;
        Position {
            line: line_index + 1,
            column,
            byte,
        }
    }

    /// The byte range a span covers. Nodes the parser gives no length for (whole mappings,
    /// sequences) are shown as the token that starts them, up to the end of the line.
    pub fn byte_range(&self, span: &Span) -> (usize, usize) {
        if let Some((start, end)) = span.bytes
            && end > start
            && !self.text[start..].starts_with(['{', '['])
            && end <= self.text.len()
            && self.text.is_char_boundary(start)
            && self.text.is_char_boundary(end)
        {
            return (start, end);
        }
        let line_start = self.line_start(span.line);
        let line = self.line(span.line);
        let column_offset = line
            .char_indices()
            .nth(span.column.saturating_sub(1))
            .map_or(line.len(), |(offset, _)| offset);
        let start = line_start + column_offset;
        let rest = &line[column_offset..];
        let len = flow_collection_len(rest).unwrap_or_else(|| {
            let token_len = rest
                .find(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}' | '#'))
                .unwrap_or(rest.len());
            if token_len == 0 {
                rest.trim_end().len()
            } else {
                token_len
            }
        });
        (start, start + len)
    }
}

/// Length of a one-line flow collection (`{ a: 1 }`, `[x, y]`) at the start of `text`.
fn flow_collection_len(text: &str) -> Option<usize> {
    if !text.starts_with(['{', '[']) {
        return None;
    }
    let mut depth = 0usize;
    for (index, c) in text.char_indices() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(index + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// All diagnostics of one file.
#[derive(Debug, Clone)]
pub struct Report {
    pub source: SourceFile,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }

    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(line: usize, column: usize) -> Span {
        Span {
            line,
            column,
            bytes: None,
        }
    }

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let source = SourceFile::new("f.yaml", "a: 1\nnamé: x\n");
        assert_eq!(source.position(0).line, 1);
        let x = source.text.find('x').unwrap();
        assert_eq!(
            source.position(x),
            Position {
                line: 2,
                column: 7,
                byte: x
            }
        );
        assert_eq!(source.line(2), "namé: x");
        assert_eq!(source.line(9), "");
    }

    #[test]
    fn spans_without_length_cover_their_token() {
        let source = SourceFile::new("f.yaml", "deps: [db-1, web-1]\n");
        let (start, end) = source.byte_range(&span(1, 14));
        assert_eq!(&source.text[start..end], "web-1");
    }

    #[test]
    fn spans_of_flow_collections_cover_the_collection() {
        let source = SourceFile::new("f.yaml", "  - { a: [1], b: 2 } # pair\n");
        let (start, end) = source.byte_range(&span(1, 5));
        assert_eq!(&source.text[start..end], "{ a: [1], b: 2 }");
    }

    #[test]
    fn edit_distances_count_a_swap_as_one_edit() {
        assert_eq!(edit_distance("membres", "members"), 1);
        assert_eq!(edit_distance("tokn", "token"), 1);
        assert_eq!(edit_distance("", "env"), 3);
        assert_eq!(edit_distance("file", "file"), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn unknown_spans_add_no_label() {
        let diagnostic = Diagnostic::error("x").at(Span::UNKNOWN, "here");
        assert!(diagnostic.primary.is_none());
    }
}
