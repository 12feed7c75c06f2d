//! [`SpecChange`]: what one revision of a job changed in its spec, field by field (`window`,
//! `limits.memory`, `module`...), so a job's history shows every change, not only its module.

use crate::config::JobConfig;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// One field of a job spec that a revision changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SpecChange {
    /// The field, with a dot for a nested one (`limits.memory`).
    pub field: String,
    /// Its value before (absent when the field was not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub from: Option<Value>,
    /// Its value after (absent when the field was unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub to: Option<Value>,
}

fn flatten(prefix: &str, value: &Value, out: &mut Map<String, Value>) {
    match value {
        Value::Object(fields) => {
            for (key, value) in fields {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, value, out);
            }
        }
        Value::Null => {}
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

/// The fields `new` changes from `old`, in field order.
pub fn spec_changes(old: &JobConfig, new: &JobConfig) -> Vec<SpecChange> {
    let fields = |spec: &JobConfig| {
        let mut out = Map::new();
        flatten("", &serde_json::to_value(spec).unwrap_or_default(), &mut out);
        out
    };
    let (before, after) = (fields(old), fields(new));
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| before.get(*name) != after.get(*name))
        .map(|name| SpecChange {
            field: name.clone(),
            from: before.get(name).cloned(),
            to: after.get(name).cloned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: Value) -> JobConfig {
        let mut fields = serde_json::json!({"name": "wc", "input": ["in"], "output": "out"});
        if let (Some(all), Value::Object(extra)) = (fields.as_object_mut(), extra) {
            all.extend(extra);
        }
        serde_json::from_value(fields).expect("a job spec")
    }

    #[test]
    fn a_window_a_limit_and_a_module_change_each_show_as_a_field() {
        let old =
            spec(serde_json::json!({"module": "a", "window": "tumbling:10s", "limits": {"memory": "64MiB"}}));
        let new =
            spec(serde_json::json!({"module": "b", "window": "tumbling:5s", "limits": {"memory": "128MiB"}}));
        let changes = spec_changes(&old, &new);
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, vec!["limits.memory", "module", "window"], "{changes:?}");
        let window = &changes[2];
        assert_eq!(window.from, Some(Value::from("tumbling:10s")));
        assert_eq!(window.to, Some(Value::from("tumbling:5s")));
        assert!(spec_changes(&old, &old).is_empty());
    }

    #[test]
    fn a_field_set_or_unset_has_no_value_on_the_other_side() {
        let old = spec(serde_json::json!({"module": "a", "window": "tumbling:10s"}));
        let new = spec(serde_json::json!({"module": "a", "window": "tumbling:10s", "dead_letters": "dlq"}));
        let changes = spec_changes(&old, &new);
        assert_eq!(
            changes,
            vec![SpecChange {
                field: "dead_letters".into(),
                from: None,
                to: Some(Value::from("dlq")),
            }]
        );
    }
}
