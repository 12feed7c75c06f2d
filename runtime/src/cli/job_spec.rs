//! Job specs on the client side: the flags of `weir job create`/`update`, spec files
//! (`-f spec.toml|spec.json|spec.yaml`, `-` for stdin, the same fields as a `[[job]]` of
//! `weir serve`'s config), and how they combine: file, then flags over it; for an update
//! without a file, the job's current spec with the flags over it.
//!
//! Unknown fields in a file are refused here, so a typo fails before any request. Values
//! (windows, durations, sizes, module refs) are the server's to validate.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Fields of a job spec, from flags and an optional spec file (flags win).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SpecFlags {
    /// A spec file: TOML, JSON or YAML (by extension; `-` reads stdin).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The module: a sha256 id, a unique prefix of one, or a name.
    #[arg(long, value_name = "MODULE")]
    pub module: Option<String>,
    /// An input topic (repeat, or separate with commas, for several).
    #[arg(long = "input", value_name = "TOPIC", value_delimiter = ',')]
    pub input: Vec<String>,
    /// The output topic (`-o`/`--output` is how results print, as everywhere).
    #[arg(long = "output-topic", value_name = "TOPIC")]
    pub output: Option<String>,
    /// tumbling:10s, hopping:10s,5s or session:30s (a map/reduce module needs one; a transform
    /// has no windows).
    #[arg(long, value_name = "WINDOW")]
    pub window: Option<String>,
    /// The dead-letter topic [server default: JOB.dead-letters].
    #[arg(long, value_name = "TOPIC")]
    pub dead_letters: Option<String>,
    /// How far event times may run out of order, e.g. 2s.
    #[arg(long, value_name = "DURATION")]
    pub out_of_orderness: Option<String>,
    /// How long a window accepts late records after it ends, e.g. 5s.
    #[arg(long, value_name = "DURATION")]
    pub lateness: Option<String>,
    /// Event time or processing time.
    #[arg(long, value_parser = ["event", "processing"])]
    pub time: Option<String>,
    /// Whether to shuffle by key for a global reduce (true|false).
    #[arg(long, value_name = "BOOL")]
    pub shuffle: Option<bool>,
    /// Partitions of the repartition topic.
    #[arg(long, value_name = "N")]
    pub reduce_partitions: Option<u32>,
    /// Records per guest call.
    #[arg(long, value_name = "N")]
    pub batch_size: Option<u64>,
    /// How often offsets are committed, e.g. 500ms.
    #[arg(long, value_name = "DURATION")]
    pub commit_interval: Option<String>,
    /// Guest linear-memory limit, e.g. 64MiB.
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Guest time limit per call, e.g. 1s.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Limit on the bytes a guest call returns, e.g. 16MiB.
    #[arg(long, value_name = "SIZE")]
    pub max_output: Option<String>,
}

/// A job spec as a file or the flags give it: every field optional, unknown fields refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpecFile {
    /// The job's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A module ref.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Input topics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Topics>,
    /// Output topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Window spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Dead-letter topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letters: Option<String>,
    /// Out-of-orderness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_orderness: Option<String>,
    /// Allowed lateness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lateness: Option<String>,
    /// `event` or `processing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Whether to shuffle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shuffle: Option<bool>,
    /// Repartition topic partitions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reduce_partitions: Option<u32>,
    /// Records per guest call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u64>,
    /// Commit interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_interval: Option<String>,
    /// Guest limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// Input topics: a list, or one topic as a string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Topics {
    /// Several topics.
    Many(Vec<String>),
    /// One topic.
    One(String),
}

/// Guest limits of a spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Linear memory, `64MiB` or bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Size>,
    /// Time per call, `1s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Bytes returned per call, `16MiB` or bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output: Option<Size>,
}

/// A size: a number of bytes or a text like `64MiB`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Size {
    /// Bytes.
    Bytes(u64),
    /// With a unit.
    Text(String),
}

impl SpecFlags {
    /// The fields the flags set (not the file's).
    pub fn fields(&self) -> SpecFile {
        let limits = Limits {
            memory: self.memory.clone().map(Size::Text),
            timeout: self.timeout.clone(),
            max_output: self.max_output.clone().map(Size::Text),
        };
        SpecFile {
            name: None,
            module: self.module.clone(),
            input: (!self.input.is_empty()).then(|| Topics::Many(self.input.clone())),
            output: self.output.clone(),
            window: self.window.clone(),
            dead_letters: self.dead_letters.clone(),
            out_of_orderness: self.out_of_orderness.clone(),
            lateness: self.lateness.clone(),
            time: self.time.clone(),
            shuffle: self.shuffle,
            reduce_partitions: self.reduce_partitions,
            batch_size: self.batch_size,
            commit_interval: self.commit_interval.clone(),
            limits: (limits != Limits::default()).then_some(limits),
        }
    }
}

impl SpecFile {
    /// As a JSON object, inputs always a list.
    pub fn into_map(mut self) -> Map<String, Value> {
        if let Some(Topics::One(topic)) = &mut self.input {
            self.input = Some(Topics::Many(vec![std::mem::take(topic)]));
        }
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}

/// The syntax of a spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecSyntax {
    /// TOML: `module = "word-count"`, or a `[[job]]` block copied from a serve config.
    Toml,
    /// JSON, as the API takes it.
    Json,
    /// YAML.
    Yaml,
}

impl SpecSyntax {
    /// From the file's extension; otherwise JSON when the text starts with `{`, else TOML.
    pub fn of(path: &Path, text: &str) -> Self {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("json") => SpecSyntax::Json,
            Some("yaml" | "yml") => SpecSyntax::Yaml,
            Some("toml") => SpecSyntax::Toml,
            _ if text.trim_start().starts_with('{') => SpecSyntax::Json,
            _ => SpecSyntax::Toml,
        }
    }
}

/// Parses a spec file's text.
pub fn parse_spec(text: &str, syntax: SpecSyntax) -> Result<SpecFile> {
    Ok(match syntax {
        SpecSyntax::Json => serde_json::from_str(text)?,
        SpecSyntax::Yaml => serde_norway::from_str(text)?,
        SpecSyntax::Toml => {
            let mut table: toml::Table = toml::from_str(text)?;
            // A `[[job]]` (or `[job]`) block copied from a `weir serve` config.
            if table.len() == 1
                && let Some(job) = table.remove("job")
            {
                let job = match job {
                    toml::Value::Array(mut jobs) if jobs.len() == 1 => jobs.remove(0),
                    toml::Value::Array(jobs) => {
                        bail!(
                            "the file has {} [[job]] blocks; a spec file holds one job",
                            jobs.len()
                        )
                    }
                    other => other,
                };
                job.try_into()?
            } else {
                toml::Value::Table(table).try_into()?
            }
        }
    })
}

/// Reads and parses a spec file (`-` is stdin).
pub fn read_spec(path: &Path) -> Result<SpecFile> {
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the spec from stdin")?;
        text
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the spec file {}", path.display()))?
    };
    let syntax = SpecSyntax::of(path, &text);
    parse_spec(&text, syntax)
        .with_context(|| format!("{} is not a valid job spec ({syntax:?})", path.display()))
}

/// Sets `top`'s fields over `base`; `limits` merges field by field.
pub fn overlay(base: &mut Map<String, Value>, top: Map<String, Value>) {
    for (key, value) in top {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(old)), Value::Object(new)) if key == "limits" => {
                old.extend(new);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Sets the spec's name to `name`, refusing a file that names another job.
pub fn name_spec(spec: &mut Map<String, Value>, name: Option<&str>) -> Result<String> {
    let in_file = spec.get("name").and_then(Value::as_str).map(str::to_string);
    let name = match (name, in_file) {
        (Some(arg), Some(file)) if arg != file => {
            bail!("the spec file names job `{file}` but the command names `{arg}`; make them agree")
        }
        (Some(arg), _) => arg.to_string(),
        (None, Some(file)) => file,
        (None, None) => {
            bail!("name the job: `weir job create NAME ...`, or `name = \"...\"` in the spec file")
        }
    };
    spec.insert("name".into(), Value::String(name.clone()));
    Ok(name)
}

/// What a new job must have: names the missing fields and the flags that set them. (A window
/// too, unless its module is a transform: the server knows the module, and says so.)
pub fn check_complete(spec: &Map<String, Value>) -> Result<()> {
    let missing: Vec<&str> = ["module", "input", "output"]
        .into_iter()
        .filter(|key| match spec.get(*key) {
            None | Some(Value::Null) => true,
            Some(Value::Array(items)) => items.is_empty(),
            Some(_) => false,
        })
        .collect();
    if !missing.is_empty() {
        let flags: Vec<&str> = missing.iter().map(|m| flag(m)).collect();
        let hint = if missing.contains(&"output") {
            " (-o/--output is how results print; the output topic is --output-topic)"
        } else {
            ""
        };
        bail!(
            "a job needs {}: give {} or set them in a spec file (-f){hint}",
            missing.join(", "),
            flags.join(", ")
        );
    }
    Ok(())
}

/// The flag that sets a spec field.
fn flag(field: &str) -> &'static str {
    match field {
        "module" => "--module",
        "input" => "--input",
        "output" => "--output-topic",
        "window" => "--window",
        _ => "a flag",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOML_SPEC: &str = r#"
name = "wc"
module = "word-count"
input = ["lines"]
output = "counts"
window = "tumbling:10s"
lateness = "5s"
shuffle = false
reduce_partitions = 6
limits = { memory = "64MiB", max_output = 1048576 }
"#;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn a_toml_spec_becomes_the_api_body() {
        let spec = parse_spec(TOML_SPEC, SpecSyntax::Toml).expect("parses");
        assert_eq!(
            Value::Object(spec.into_map()),
            json!({
                "name": "wc", "module": "word-count", "input": ["lines"], "output": "counts",
                "window": "tumbling:10s", "lateness": "5s", "shuffle": false, "reduce_partitions": 6,
                "limits": {"memory": "64MiB", "max_output": 1048576}
            })
        );
    }

    #[test]
    fn json_yaml_and_a_serve_config_job_block_say_the_same() {
        let toml = parse_spec(TOML_SPEC, SpecSyntax::Toml).expect("TOML parses");
        let json_text = serde_json::to_string(&toml).expect("serializes");
        assert_eq!(
            parse_spec(&json_text, SpecSyntax::Json).expect("JSON parses"),
            toml
        );
        let yaml_text = serde_norway::to_string(&toml).expect("serializes");
        assert_eq!(
            parse_spec(&yaml_text, SpecSyntax::Yaml).expect("YAML parses"),
            toml
        );
        let block = format!("[[job]]\n{}", TOML_SPEC.trim_start());
        assert_eq!(
            parse_spec(&block, SpecSyntax::Toml).expect("[[job]] parses"),
            toml
        );
        let two = format!("{block}\n[[job]]\nname = \"other\"\n");
        let err = parse_spec(&two, SpecSyntax::Toml).expect_err("two jobs are refused");
        assert!(err.to_string().contains("2 [[job]] blocks"), "{err}");
    }

    #[test]
    fn one_input_topic_as_a_string_becomes_a_list() {
        let spec = parse_spec("input = \"lines\"\n", SpecSyntax::Toml).expect("parses");
        assert_eq!(Value::Object(spec.into_map()), json!({"input": ["lines"]}));
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let err = parse_spec("{\"windw\": \"tumbling:10s\"}", SpecSyntax::Json).expect_err("typo");
        assert!(err.to_string().contains("windw"), "{err}");
        let err = parse_spec("[limits]\nmemroy = \"1MiB\"\n", SpecSyntax::Toml).expect_err("typo");
        assert!(err.to_string().contains("memroy"), "{err}");
        let err = parse_spec("shuffle = \"yes\"\n", SpecSyntax::Toml).expect_err("wrong type");
        assert!(err.to_string().contains("shuffle"), "{err}");
    }

    #[test]
    fn the_syntax_comes_from_the_extension_or_the_first_character() {
        assert_eq!(SpecSyntax::of(Path::new("a.JSON"), ""), SpecSyntax::Json);
        assert_eq!(SpecSyntax::of(Path::new("a.yml"), "{"), SpecSyntax::Yaml);
        assert_eq!(SpecSyntax::of(Path::new("a.toml"), "{"), SpecSyntax::Toml);
        assert_eq!(
            SpecSyntax::of(Path::new("-"), "  {\"name\": 1}"),
            SpecSyntax::Json
        );
        assert_eq!(SpecSyntax::of(Path::new("-"), "name = 1"), SpecSyntax::Toml);
    }

    #[test]
    fn a_spec_file_is_read_with_its_path_in_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        let good = dir.path().join("wc.toml");
        std::fs::write(&good, TOML_SPEC).expect("write");
        assert_eq!(read_spec(&good).expect("reads").name.as_deref(), Some("wc"));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{").expect("write");
        let err = read_spec(&bad).expect_err("bad JSON");
        assert!(format!("{err:#}").contains("bad.json"), "{err:#}");
    }

    #[test]
    fn flags_override_the_file_and_limits_merge_field_by_field() {
        let mut body = parse_spec(TOML_SPEC, SpecSyntax::Toml)
            .expect("parses")
            .into_map();
        let flags = SpecFlags {
            module: Some("word-count-v2".into()),
            input: vec!["a".into(), "b".into()],
            memory: Some("32MiB".into()),
            timeout: Some("2s".into()),
            ..SpecFlags::default()
        };
        overlay(&mut body, flags.fields().into_map());
        assert_eq!(body["module"], json!("word-count-v2"));
        assert_eq!(body["input"], json!(["a", "b"]));
        assert_eq!(body["window"], json!("tumbling:10s"), "untouched fields stay");
        assert_eq!(
            body["limits"],
            json!({"memory": "32MiB", "max_output": 1048576, "timeout": "2s"})
        );
    }

    #[test]
    fn flags_that_are_not_given_set_nothing() {
        assert!(SpecFlags::default().fields().into_map().is_empty());
    }

    #[test]
    fn the_name_comes_from_the_command_or_the_file_and_they_must_agree() {
        let mut spec = map(json!({"name": "wc"}));
        assert_eq!(name_spec(&mut spec, None).expect("from the file"), "wc");
        assert_eq!(name_spec(&mut spec, Some("wc")).expect("agree"), "wc");
        let err = name_spec(&mut spec, Some("other")).expect_err("disagree");
        assert!(
            err.to_string().contains("`wc`") && err.to_string().contains("`other`"),
            "{err}"
        );
        let mut unnamed = Map::new();
        assert_eq!(name_spec(&mut unnamed, Some("x")).expect("from the command"), "x");
        assert_eq!(unnamed["name"], json!("x"));
        assert!(name_spec(&mut Map::new(), None).is_err());
    }

    #[test]
    fn an_incomplete_spec_names_what_is_missing_and_the_flags() {
        let err =
            check_complete(&map(json!({"name": "wc", "module": "m", "input": []}))).expect_err("incomplete");
        assert_eq!(
            err.to_string(),
            "a job needs input, output: give --input, --output-topic or set them in a spec file \
             (-f) (-o/--output is how results print; the output topic is --output-topic)"
        );
        let complete = json!({"module": "m", "input": ["i"], "output": "o", "window": "session:30s"});
        assert!(check_complete(&map(complete)).is_ok());
        let transform = json!({"module": "filter", "input": ["i"], "output": "o"});
        assert!(
            check_complete(&map(transform)).is_ok(),
            "the server decides whether a window is needed"
        );
    }
}
