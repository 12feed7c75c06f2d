//! How a job's revisions print (`weir job history`, and the history of `weir job status`): one
//! row per revision with what it changed in the spec, field by field, and whether its spec is
//! kept for `weir job rollback --to-revision`.

use super::job::ApiRevision;
use super::output::{self, Table};
use serde::Deserialize;
use serde_json::Value;

/// One field a revision changed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Change {
    /// The field (`window`, `limits.memory`).
    pub field: String,
    /// Before (absent: not set).
    pub from: Option<Value>,
    /// After (absent: unset).
    pub to: Option<Value>,
}

/// A value as a cell: text as it is, a module id shortened, a list comma-separated.
fn cell(field: &str, value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "(unset)".to_string(),
        Some(Value::String(s)) if field == "module" => output::short_id(s),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// `window: tumbling:10s -> tumbling:5s; limits.memory: 67108864 -> 134217728`.
pub fn changes_text(changes: &[Change]) -> String {
    changes
        .iter()
        .map(|c| {
            format!(
                "{}: {} -> {}",
                c.field,
                cell(&c.field, c.from.as_ref()),
                cell(&c.field, c.to.as_ref())
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `REVISION AT MODULE KEPT CHANGES`, oldest first; the current revision is marked.
pub fn history_table(history: &[ApiRevision], current: u64) -> String {
    let mut table = Table::new(&["REVISION", "AT", "MODULE", "KEPT", "CHANGES"]);
    for revision in history {
        let changes = if revision.changes.is_empty() {
            if revision.revision == history.first().map_or(0, |r| r.revision) {
                "(created)".to_string()
            } else {
                "(not recorded)".to_string()
            }
        } else {
            changes_text(&revision.changes)
        };
        table.row(vec![
            if revision.revision == current {
                format!("{} (current)", revision.revision)
            } else {
                revision.revision.to_string()
            },
            revision.at.clone(),
            output::short_id(&revision.module),
            if revision.kept { "yes" } else { "no" }.to_string(),
            changes,
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_revision_says_what_it_changed_and_whether_it_can_be_returned_to() {
        let history: Vec<ApiRevision> = serde_json::from_value(json!([
            {"revision": 1, "module": "aaaabbbbccccdddd", "at": "2026-11-25T09:00:00Z", "kept": true},
            {"revision": 2, "module": "eeeeffff00001111", "at": "2026-11-25T09:58:00Z",
             "changes": [{"field": "module", "from": "aaaabbbbccccdddd", "to": "eeeeffff00001111"},
                         {"field": "window", "from": "tumbling:10s", "to": "tumbling:5s"},
                         {"field": "dead_letters", "to": "dlq"}]}
        ]))
        .expect("revisions parse");
        let text = history_table(&history, 2);
        assert!(text.contains("(created)"), "{text}");
        assert!(
            text.contains("module: aaaabbbbcccc -> eeeeffff0000; window: tumbling:10s -> tumbling:5s; dead_letters: (unset) -> dlq"),
            "{text}"
        );
        assert!(text.contains("2 (current)"), "{text}");
        assert!(text.lines().nth(1).is_some_and(|l| l.contains("yes")), "{text}");
    }
}
