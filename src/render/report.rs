//! An operation's [`Report`] as Markdown or HTML, through minijinja templates, or as JSON.
//!
//! The wording and layout live in `templates/report.md.j2` and `templates/report.html.j2`,
//! embedded in the binary; an operator's own template (`protector report OP --template FILE`)
//! replaces them. Every template gets the report itself, exactly as the JSON shows it, and these
//! filters: `duration` (seconds as people read them: `4.5s`, `1m40s`), `time` (an RFC 3339
//! timestamp as `2026-03-01 10:00:00 UTC`), `cell` (a value kept inside its Markdown table
//! cell) and `text` (Markdown prose from the state: kept in its cell or list item, and markup
//! shown as text). HTML escapes every value (minijinja's auto-escape), whatever the template's
//! name.

use chrono::DateTime;
use minijinja::AutoEscape;
use minijinja::value::Serde;

use super::plan::seconds;
use crate::report::Report;

const MARKDOWN: &str = include_str!("templates/report.md.j2");
const HTML: &str = include_str!("templates/report.html.j2");

/// What a template writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
}

/// An operator's template: its name (the file, as errors name it) and its text.
#[derive(Debug, Clone, Copy)]
pub struct Template<'a> {
    pub name: &'a str,
    pub source: &'a str,
}

/// A template that does not parse or render: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}{}: {message}", line.map(|line| format!(":{line}")).unwrap_or_default())]
pub struct TemplateError {
    pub name: String,
    pub line: Option<usize>,
    pub message: String,
}

/// Seconds as people read them: tenths under a minute, else as the spec writes durations.
fn duration(secs: f64) -> String {
    if secs.abs() < 60.0 {
        format!("{secs:.1}s")
    } else {
        seconds(secs)
    }
}

/// An RFC 3339 timestamp as `2026-03-01 10:00:00 UTC`; anything else as it is.
fn time(value: &str) -> String {
    DateTime::parse_from_rfc3339(value).map_or_else(
        |_| value.to_string(),
        |time| time.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// Prose from the state in Markdown: a table cell or list item stays one, and markup (an error
/// body's HTML) reads as text instead of rendering.
fn text(value: &str) -> String {
    super::cell(
        &value
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
    )
}

/// The report through `template`, or the embedded template of `format`.
pub fn render(
    report: &Report,
    format: Format,
    template: Option<Template<'_>>,
) -> Result<String, TemplateError> {
    let template = template.unwrap_or(match format {
        Format::Markdown => Template {
            name: "report.md.j2",
            source: MARKDOWN,
        },
        Format::Html => Template {
            name: "report.html.j2",
            source: HTML,
        },
    });
    let mut environment = super::templates();
    let escape = match format {
        Format::Markdown => AutoEscape::None,
        Format::Html => AutoEscape::Html,
    };
    environment.set_auto_escape_callback(move |_| escape.clone());
    environment.add_filter("duration", duration);
    environment.add_filter("time", |value: &str| time(value));
    environment.add_filter("text", |value: &str| text(value));
    environment
        .template_from_named_str(template.name, template.source)
        .and_then(|compiled| compiled.render(Serde(report)))
        .map(|text| text.trim_end().to_string())
        .map_err(|error| TemplateError {
            name: error.name().unwrap_or(template.name).to_string(),
            line: error.line(),
            message: match error.detail() {
                Some(detail) => format!("{}: {detail}", error.kind()),
                None => error.kind().to_string(),
            },
        })
}

/// The report as JSON: the model itself.
pub fn json(report: &Report) -> String {
    let value = serde_json::to_value(report).expect("a report serializes");
    serde_json::to_string_pretty(&super::versioned(value)).expect("a report serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    fn rendered(
        (plan, journal, record): (
            crate::plan::Plan,
            Vec<crate::state::JournalEntry>,
            crate::state::OperationRecord,
        ),
        format: Format,
    ) -> String {
        render(&Report::build(&plan, &journal, &record), format, None).unwrap()
    }

    fn report(
        (plan, journal, record): (
            crate::plan::Plan,
            Vec<crate::state::JournalEntry>,
            crate::state::OperationRecord,
        ),
    ) -> Report {
        Report::build(&plan, &journal, &record)
    }

    #[test]
    fn a_completed_failover_as_markdown() {
        insta::assert_snapshot!(rendered(testing::completed(), Format::Markdown));
    }

    #[test]
    fn a_completed_failover_as_html() {
        insta::assert_snapshot!(rendered(testing::completed(), Format::Html));
    }

    #[test]
    fn a_completed_failover_as_json() {
        insta::assert_snapshot!(json(&report(testing::completed())));
    }

    #[test]
    fn a_failed_failover_as_markdown() {
        insta::assert_snapshot!(rendered(testing::failed(), Format::Markdown));
    }

    #[test]
    fn a_failed_failover_as_html() {
        insta::assert_snapshot!(rendered(testing::failed(), Format::Html));
    }

    #[test]
    fn a_failed_failover_as_json() {
        insta::assert_snapshot!(json(&report(testing::failed())));
    }

    #[test]
    fn a_drill_as_markdown() {
        insta::assert_snapshot!(rendered(testing::drill(), Format::Markdown));
    }

    #[test]
    fn a_drill_as_html() {
        insta::assert_snapshot!(rendered(testing::drill(), Format::Html));
    }

    #[test]
    fn a_drill_as_json() {
        insta::assert_snapshot!(json(&report(testing::drill())));
    }

    #[test]
    fn html_escapes_what_the_state_says() {
        let html = rendered(testing::failed(), Format::Html);
        assert!(!html.contains("<h1>Internal"), "{html}");
        assert!(
            html.contains("&lt;h1&gt;Internal Server Error&lt;&#x2f;h1&gt;"),
            "{html}"
        );
        // An operator's template is escaped as well, whatever its name.
        let custom = Template {
            name: "mine.txt",
            source: "{{ operation.error_message }}",
        };
        let text = render(&report(testing::failed()), Format::Html, Some(custom)).unwrap();
        assert!(!text.contains('<'), "{text}");
    }

    #[test]
    fn markdown_shows_markup_from_the_state_as_text() {
        let markdown = rendered(testing::failed(), Format::Markdown);
        assert!(!markdown.contains("<h1>"), "{markdown}");
        assert!(
            markdown.contains("answered 500 \\| &lt;h1&gt;Internal Server Error&lt;/h1&gt;"),
            "{markdown}"
        );
    }

    #[test]
    fn an_operators_template_sees_the_json_model() {
        let report = report(testing::drill());
        let custom = Template {
            name: "short.j2",
            source: "{{ operation.id }} {{ operation.status }} {{ rto.measured_secs | duration }} \
                     {{ drill.proof.listed.servers }} {{ critical_path | length }}",
        };
        assert_eq!(
            render(&report, Format::Markdown, Some(custom)).unwrap(),
            format!("{} completed 1m27s 3 8", testing::ID)
        );
    }

    #[test]
    fn a_template_error_names_the_file_and_the_line() {
        let report = report(testing::completed());
        let misspelt = Template {
            name: "team/report.j2",
            source: "# {{ operation.id }}\n\n{{ operation.nmae | upper }}\n",
        };
        let error = render(&report, Format::Markdown, Some(misspelt)).unwrap_err();
        assert_eq!(
            (error.name.as_str(), error.line),
            ("team/report.j2", Some(3))
        );
        assert!(
            error
                .to_string()
                .starts_with("team/report.j2:3: undefined value"),
            "{error}"
        );
        let unclosed = Template {
            name: "broken.j2",
            source: "line one\n{% for step in steps %}\n",
        };
        let error = render(&report, Format::Markdown, Some(unclosed)).unwrap_err();
        assert_eq!(error.name, "broken.j2");
        assert!(error.message.starts_with("syntax error"), "{error}");
    }

    #[test]
    fn durations_read_as_people_read_them() {
        assert_eq!(duration(4.5), "4.5s");
        assert_eq!(duration(100.0), "1m40s");
        assert_eq!(time("2026-03-01T10:00:00.123Z"), "2026-03-01 10:00:00 UTC");
        assert_eq!(time("yesterday"), "yesterday");
    }
}
