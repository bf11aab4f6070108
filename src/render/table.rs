//! Records as the OpenStack client prints them: `-f table` (bordered Field/Value or column
//! tables), `json`, `yaml` and `value` (values only, one per line), with the same fields in
//! every format so scripts can rely on them.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
    Value,
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join("\n"),
        Value::Object(_) => serde_json::to_string(value).unwrap_or_default(),
        other => other.to_string(),
    }
}

/// Lines of a bordered table with `header` and `rows` (cells may span several lines).
fn bordered(header: &[String], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (index, value) in row.iter().enumerate().take(columns) {
            for line in value.lines() {
                widths[index] = widths[index].max(line.chars().count());
            }
        }
    }
    let rule: String = format!(
        "+{}+",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+")
    );
    let line = |cells: &[&str]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(text, width)| format!(" {text:width$} "))
            .collect();
        format!("|{}|", parts.join("|"))
    };
    let mut out = vec![
        rule.clone(),
        line(&header.iter().map(String::as_str).collect::<Vec<_>>()),
        rule.clone(),
    ];
    for row in rows {
        let split: Vec<Vec<&str>> = row.iter().map(|value| value.lines().collect()).collect();
        let height = split
            .iter()
            .map(|lines| lines.len().max(1))
            .max()
            .unwrap_or(1);
        for index in 0..height {
            let cells: Vec<&str> = split
                .iter()
                .map(|lines| lines.get(index).copied().unwrap_or(""))
                .collect();
            out.push(line(&cells));
        }
    }
    out.push(rule);
    out.join("\n")
}

/// One record (an ordered JSON object) in `format`.
pub fn record(record: &Map<String, Value>, format: Format) -> String {
    match format {
        Format::Table => {
            let rows: Vec<Vec<String>> = record
                .iter()
                .map(|(field, value)| vec![field.clone(), cell(value)])
                .collect();
            bordered(&["Field".to_string(), "Value".to_string()], &rows)
        }
        Format::Json => serde_json::to_string_pretty(record).unwrap_or_default(),
        Format::Yaml => crate::yaml::to_string(record)
            .unwrap_or_default()
            .trim_end()
            .to_string(),
        Format::Value => record.values().map(cell).collect::<Vec<_>>().join("\n"),
    }
}

/// A list of records with the same fields, in `format`.
pub fn list(columns: &[&str], records: &[Map<String, Value>], format: Format) -> String {
    match format {
        Format::Table => {
            let rows: Vec<Vec<String>> = records
                .iter()
                .map(|record| {
                    columns
                        .iter()
                        .map(|column| record.get(*column).map(cell).unwrap_or_default())
                        .collect()
                })
                .collect();
            bordered(
                &columns.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                &rows,
            )
        }
        Format::Json => serde_json::to_string_pretty(records).unwrap_or_default(),
        Format::Yaml => crate::yaml::to_string(&records)
            .unwrap_or_default()
            .trim_end()
            .to_string(),
        Format::Value => records
            .iter()
            .map(|record| {
                columns
                    .iter()
                    .map(|column| record.get(*column).map(cell).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
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
            record(&sample(), Format::Table),
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
            record(&sample(), Format::Value),
            "prod-web-app\nactive\n0\ndb-1\nweb-1"
        );
        let json: Value = serde_json::from_str(&record(&sample(), Format::Json)).unwrap();
        assert_eq!(json["failover_count"], 0);
        assert!(record(&sample(), Format::Yaml).starts_with("name: prod-web-app"));
        let rows = vec![sample(), sample()];
        let table = list(&["name", "status"], &rows, Format::Table);
        assert_eq!(table.lines().count(), 6);
        assert_eq!(
            list(&["name", "status"], &rows, Format::Value),
            "prod-web-app active\nprod-web-app active"
        );
    }
}
