//! Records as the OpenStack client prints them: `-f table` (bordered Field/Value or column
//! tables), `json`, `yaml`, `value` (values only, one per line), `csv` and `shell`
//! (`name="value"` lines), with the same fields in every format so scripts can rely on them,
//! and the client's options over them: `-c` picks and orders columns, `--sort-column` sorts a
//! list, `--max-width`/`--fit-width` wrap a table's cells to fit. In JSON and YAML every record
//! (alone or a list's row) starts with `format_version`.

use std::cmp::Ordering;

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
    Value,
    Csv,
    Shell,
}

/// How to print: the format and the OpenStack client's options over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub format: Format,
    /// Only these columns (fields of a record), in this order; all when empty.
    pub columns: Vec<String>,
    /// A list's rows sorted by these columns, the first deciding; as given when empty.
    pub sort_columns: Vec<String>,
    pub descending: bool,
    /// A table at most this many characters wide, its widest cells wrapped.
    pub max_width: Option<usize>,
    /// `-f shell`: the prefix of every variable name.
    pub prefix: String,
}

impl Options {
    /// `format` with no other option.
    pub fn of(format: Format) -> Options {
        Options {
            format,
            columns: Vec::new(),
            sort_columns: Vec::new(),
            descending: false,
            max_width: None,
            prefix: String::new(),
        }
    }
}

/// A column asked for (`-c`, `--sort-column`) that the output does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no column `{asked}` here; columns: {}", available.join(", "))]
pub struct UnknownColumn {
    pub asked: String,
    pub available: Vec<String>,
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join("\n"),
        // As the OpenStack client shows a dict: `name='db-1', site='site-b'`.
        Value::Object(fields) => fields
            .iter()
            .map(|(key, value)| match value {
                Value::String(text) => format!("{key}='{text}'"),
                other => format!("{key}='{}'", cell(other)),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// The columns `options` keeps of `available`, in the order asked.
fn chosen<'a>(available: &[&'a str], options: &Options) -> Result<Vec<&'a str>, UnknownColumn> {
    if options.columns.is_empty() {
        return Ok(available.to_vec());
    }
    options
        .columns
        .iter()
        .map(|asked| known(asked, available))
        .collect()
}

fn known<'a>(asked: &str, available: &[&'a str]) -> Result<&'a str, UnknownColumn> {
    available
        .iter()
        .find(|column| **column == asked)
        .copied()
        .ok_or_else(|| UnknownColumn {
            asked: asked.to_string(),
            available: available.iter().map(|c| c.to_string()).collect(),
        })
}

/// `record` with only `columns`, in their order.
fn only(record: &Map<String, Value>, columns: &[&str]) -> Map<String, Value> {
    columns
        .iter()
        .map(|column| {
            let value = record.get(*column).cloned().unwrap_or(Value::Null);
            (column.to_string(), value)
        })
        .collect()
}

/// A record as machines read it: `format_version` first.
fn versioned(record: &Map<String, Value>) -> Value {
    super::versioned(Value::Object(record.clone()))
}

fn field<'a>(record: &'a Map<String, Value>, column: &str) -> &'a Value {
    record.get(column).unwrap_or(&Value::Null)
}

/// Numbers as numbers, everything else as its cell text; empty cells last.
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.total_cmp(&y)
        }
        _ => cell(a).cmp(&cell(b)),
    }
}

/// Widths that fit `max_width` with borders: narrow columns keep theirs, the wide ones share
/// what is left (at least 1 character each).
fn fitted(widths: &[usize], max_width: Option<usize>) -> Vec<usize> {
    let Some(max_width) = max_width else {
        return widths.to_vec();
    };
    let borders = 3 * widths.len() + 1;
    let mut room = max_width.saturating_sub(borders);
    if widths.iter().sum::<usize>() <= room {
        return widths.to_vec();
    }
    let mut fitted = widths.to_vec();
    let mut wide: Vec<usize> = (0..widths.len()).collect();
    // Give every column at most its share; columns narrower than the share keep their width
    // and leave the rest to the others.
    loop {
        let share = (room / wide.len().max(1)).max(1);
        let (narrow, still_wide): (Vec<usize>, Vec<usize>) =
            wide.iter().partition(|index| widths[**index] <= share);
        if narrow.is_empty() {
            for index in &still_wide {
                fitted[*index] = share;
            }
            // What division left over goes to the first wide columns.
            let mut spare = room.saturating_sub(share * still_wide.len());
            for index in &still_wide {
                if spare == 0 {
                    break;
                }
                fitted[*index] += 1;
                spare -= 1;
            }
            return fitted;
        }
        for index in &narrow {
            room = room.saturating_sub(widths[*index]);
        }
        wide = still_wide;
        if wide.is_empty() {
            return fitted;
        }
    }
}

/// `text` in lines of at most `width` characters, broken at spaces where one is near.
fn wrapped(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for line in text.lines() {
        let mut rest: Vec<char> = line.chars().collect();
        while rest.len() > width {
            let cut = rest[..=width]
                .iter()
                .rposition(|c| *c == ' ')
                .filter(|position| *position > width / 2)
                .unwrap_or(width);
            lines.push(
                rest[..cut]
                    .iter()
                    .collect::<String>()
                    .trim_end()
                    .to_string(),
            );
            rest = rest[cut..].to_vec();
            while rest.first() == Some(&' ') {
                rest.remove(0);
            }
        }
        lines.push(rest.into_iter().collect());
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// Lines of a bordered table with `header` and `rows` (cells may span several lines), at most
/// `max_width` wide when it can be.
fn bordered(header: &[String], rows: &[Vec<String>], max_width: Option<usize>) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (index, value) in row.iter().enumerate().take(columns) {
            for line in value.lines() {
                widths[index] = widths[index].max(line.chars().count());
            }
        }
    }
    let widths = fitted(&widths, max_width);
    let rule: String = format!(
        "+{}+",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+")
    );
    let lines_of = |row: &[String]| -> Vec<String> {
        let split: Vec<Vec<String>> = row
            .iter()
            .zip(&widths)
            .map(|(value, width)| wrapped(value, *width))
            .collect();
        let height = split.iter().map(Vec::len).max().unwrap_or(1);
        (0..height)
            .map(|index| {
                let parts: Vec<String> = split
                    .iter()
                    .zip(&widths)
                    .map(|(lines, width)| {
                        let text = lines.get(index).map_or("", String::as_str);
                        format!(" {text:width$} ")
                    })
                    .collect();
                format!("|{}|", parts.join("|"))
            })
            .collect()
    };
    let mut out = vec![rule.clone()];
    out.extend(lines_of(header));
    out.push(rule.clone());
    for row in rows {
        out.extend(lines_of(row));
    }
    out.push(rule);
    out.join("\n")
}

/// A CSV field, quoted as RFC 4180 says (always, as the OpenStack client does).
fn csv_field(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// A shell variable name: the prefix, then the field with anything but letters, digits and
/// `_` made `_` (as the OpenStack client does).
fn shell_name(prefix: &str, field: &str) -> String {
    let name: String = field
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}{name}")
}

/// A value for `name="value"`, safe inside double quotes.
fn shell_value(text: &str) -> String {
    let mut quoted = String::new();
    for c in text.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted
}

/// One record (an ordered JSON object) as `options` say.
pub fn record(record: &Map<String, Value>, options: &Options) -> Result<String, UnknownColumn> {
    let available: Vec<&str> = record.keys().map(String::as_str).collect();
    let record = only(record, &chosen(&available, options)?);
    Ok(match options.format {
        Format::Table => {
            let rows: Vec<Vec<String>> = record
                .iter()
                .map(|(field, value)| vec![field.clone(), cell(value)])
                .collect();
            bordered(
                &["Field".to_string(), "Value".to_string()],
                &rows,
                options.max_width,
            )
        }
        Format::Json => serde_json::to_string_pretty(&versioned(&record)).unwrap_or_default(),
        Format::Yaml => crate::yaml::to_string(&versioned(&record))
            .unwrap_or_default()
            .trim_end()
            .to_string(),
        Format::Value => record.values().map(cell).collect::<Vec<_>>().join("\n"),
        Format::Csv => [
            record.keys().map(|k| csv_field(k)).collect::<Vec<_>>(),
            record.values().map(|v| csv_field(&cell(v))).collect(),
        ]
        .map(|row| row.join(","))
        .join("\n"),
        Format::Shell => record
            .iter()
            .map(|(field, value)| {
                let name = shell_name(&options.prefix, field);
                format!("{name}=\"{}\"", shell_value(&cell(value)))
            })
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// A list of records with the same fields (`columns`) as `options` say.
pub fn list(
    columns: &[&str],
    records: &[Map<String, Value>],
    options: &Options,
) -> Result<String, UnknownColumn> {
    let sort_by: Vec<&str> = options
        .sort_columns
        .iter()
        .map(|asked| known(asked, columns))
        .collect::<Result<_, _>>()?;
    let shown = chosen(columns, options)?;
    let mut sorted: Vec<&Map<String, Value>> = records.iter().collect();
    // Stable: rows equal on every sort column keep their order.
    sorted.sort_by(|a, b| {
        let order = sort_by
            .iter()
            .map(|column| compare(field(a, column), field(b, column)))
            .find(|order| order.is_ne())
            .unwrap_or(Ordering::Equal);
        if options.descending {
            order.reverse()
        } else {
            order
        }
    });
    let columns = shown;
    let records: Vec<Map<String, Value>> = sorted
        .into_iter()
        .map(|record| only(record, &columns))
        .collect();
    let rows = || -> Vec<Vec<String>> {
        records
            .iter()
            .map(|record| record.values().map(cell).collect())
            .collect()
    };
    Ok(match options.format {
        Format::Table => bordered(
            &columns.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            &rows(),
            options.max_width,
        ),
        Format::Json => {
            let rows: Vec<Value> = records.iter().map(versioned).collect();
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        }
        Format::Yaml => crate::yaml::to_string(&records.iter().map(versioned).collect::<Vec<_>>())
            .unwrap_or_default()
            .trim_end()
            .to_string(),
        Format::Value => rows()
            .iter()
            .map(|row| row.join(" "))
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Csv => std::iter::once(columns.iter().map(|c| csv_field(c)).collect::<Vec<_>>())
            .chain(
                rows()
                    .iter()
                    .map(|row| row.iter().map(|v| csv_field(v)).collect()),
            )
            .map(|row| row.join(","))
            .collect::<Vec<_>>()
            .join("\n"),
        // One variable per row and column: `{prefix}{row}_{column}`, rows counted from 0.
        Format::Shell => rows()
            .iter()
            .enumerate()
            .flat_map(|(index, row)| {
                columns.iter().zip(row).map(move |(column, value)| {
                    let name = shell_name(&options.prefix, &format!("{index}_{column}"));
                    format!("{name}=\"{}\"", shell_value(value))
                })
            })
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Map<String, Value> {
        json!({ "name": "prod-web-app", "status": "active", "failover_count": 0, "members": ["db-1", "web-1"] })
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn tables_look_like_the_openstack_client() {
        assert_eq!(
            record(&sample(), &Options::of(Format::Table)).unwrap(),
            "\
+----------------+--------------+
| Field          | Value        |
+----------------+--------------+
| name           | prod-web-app |
| status         | active       |
| failover_count | 0            |
| members        | db-1         |
|                | web-1        |
+----------------+--------------+"
        );
    }

    #[test]
    fn every_format_has_the_same_fields() {
        assert_eq!(
            record(&sample(), &Options::of(Format::Value)).unwrap(),
            "prod-web-app\nactive\n0\ndb-1\nweb-1"
        );
        let json: Value =
            serde_json::from_str(&record(&sample(), &Options::of(Format::Json)).unwrap()).unwrap();
        assert_eq!(json["failover_count"], 0);
        assert_eq!(json["format_version"], "1.0");
        let yaml = record(&sample(), &Options::of(Format::Yaml)).unwrap();
        assert!(
            yaml.starts_with("format_version: \"1.0\"\nname: prod-web-app"),
            "{yaml}"
        );
        let rows = vec![sample(), sample()];
        let table = list(&["name", "status"], &rows, &Options::of(Format::Table)).unwrap();
        assert_eq!(table.lines().count(), 6);
        assert_eq!(
            list(&["name", "status"], &rows, &Options::of(Format::Value)).unwrap(),
            "prod-web-app active\nprod-web-app active"
        );
    }

    fn operations() -> Vec<Map<String, Value>> {
        [
            json!({ "id": "op-2", "status": "failed", "steps": 10, "note": null }),
            json!({ "id": "op-1", "status": "completed", "steps": 9, "note": "say \"hi\", $HOME" }),
            json!({ "id": "op-3", "status": "completed", "steps": 100, "note": null }),
        ]
        .into_iter()
        .map(|value| value.as_object().unwrap().clone())
        .collect()
    }

    const COLUMNS: [&str; 4] = ["id", "status", "steps", "note"];

    #[test]
    fn columns_are_picked_and_ordered_in_every_format() {
        let options = Options {
            columns: vec!["status".to_string(), "id".to_string()],
            ..Options::of(Format::Value)
        };
        assert_eq!(
            list(&COLUMNS, &operations(), &options).unwrap(),
            "failed op-2\ncompleted op-1\ncompleted op-3"
        );
        let json = list(
            &COLUMNS,
            &operations(),
            &Options {
                format: Format::Json,
                ..options.clone()
            },
        );
        let json: Value = serde_json::from_str(&json.unwrap()).unwrap();
        assert_eq!(
            json[0],
            json!({ "format_version": "1.0", "status": "failed", "id": "op-2" })
        );
        let record = record(
            &sample(),
            &Options {
                columns: vec!["status".to_string()],
                ..Options::of(Format::Value)
            },
        );
        assert_eq!(record.unwrap(), "active");
        let unknown = list(
            &COLUMNS,
            &operations(),
            &Options {
                columns: vec!["size".to_string()],
                ..options
            },
        );
        assert_eq!(
            unknown.unwrap_err().to_string(),
            "no column `size` here; columns: id, status, steps, note"
        );
    }

    #[test]
    fn rows_sort_by_columns_numbers_as_numbers_and_empty_last() {
        let sorted = |columns: &[&str], descending| {
            let options = Options {
                columns: vec!["id".to_string()],
                sort_columns: columns.iter().map(|c| c.to_string()).collect(),
                descending,
                ..Options::of(Format::Value)
            };
            list(&COLUMNS, &operations(), &options).unwrap()
        };
        assert_eq!(sorted(&["steps"], false), "op-1\nop-2\nop-3");
        assert_eq!(sorted(&["steps"], true), "op-3\nop-2\nop-1");
        // A column not shown still sorts; ties keep the list's order.
        assert_eq!(sorted(&["status"], false), "op-1\nop-3\nop-2");
        assert_eq!(sorted(&["note", "id"], false), "op-1\nop-2\nop-3");
    }

    #[test]
    fn csv_and_shell_quote_what_needs_quoting() {
        assert_eq!(
            list(&COLUMNS[..2], &operations()[..2], &Options::of(Format::Csv)).unwrap(),
            "\"id\",\"status\"\n\"op-2\",\"failed\"\n\"op-1\",\"completed\""
        );
        let one = operations()[1].clone();
        let shell = Options {
            prefix: "pg_".to_string(),
            ..Options::of(Format::Shell)
        };
        assert_eq!(
            record(&one, &shell).unwrap(),
            "pg_id=\"op-1\"\npg_status=\"completed\"\npg_steps=\"9\"\npg_note=\"say \\\"hi\\\", \\$HOME\""
        );
        assert_eq!(
            list(&["id"], &operations()[..1], &shell).unwrap(),
            "pg_0_id=\"op-2\""
        );
    }

    #[test]
    fn a_table_fits_its_maximum_width_by_wrapping_the_widest_cells() {
        let long = json!({ "id": "op-1", "detail": "the array of site-b did not answer: connection refused after 3 attempts" });
        let rows = vec![long.as_object().unwrap().clone()];
        let options = Options {
            max_width: Some(40),
            ..Options::of(Format::Table)
        };
        let table = list(&["id", "detail"], &rows, &options).unwrap();
        assert!(
            table.lines().all(|line| line.chars().count() <= 40),
            "{table}"
        );
        assert!(table.lines().count() > 5, "{table}");
        let words: String = table
            .lines()
            .filter(|line| line.starts_with('|'))
            .skip(1)
            .map(|line| line.split('|').nth(2).unwrap().trim().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            words,
            "the array of site-b did not answer: connection refused after 3 attempts"
        );
        // Wide enough: as without a maximum.
        let roomy = Options {
            max_width: Some(500),
            ..Options::of(Format::Table)
        };
        assert_eq!(
            list(&["id", "detail"], &rows, &roomy).unwrap(),
            list(&["id", "detail"], &rows, &Options::of(Format::Table)).unwrap()
        );
    }
}
