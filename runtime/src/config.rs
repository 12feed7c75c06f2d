//! Typed configuration of `weir serve`: the brokers and the jobs to run.
//!
//! Read from a TOML file, then overridden by `WEIR_`-prefixed environment variables (figment), so
//! a container can keep one file and change the brokers per environment:
//!
//! ```toml
//! brokers = "localhost:9092"
//!
//! [[job]]
//! name = "word-count"
//! module = "word-count"          # a component file, or a bundled example's name
//! input = ["lines"]
//! output = "counts"
//! window = "tumbling:10s"
//! lateness = "2s"
//! ```
//!
//! Durations are written as `"10s"`, `"500ms"`, `"1m"`; sizes as `"64MiB"`.
//!
//! A secured cluster's connection and security properties go in a `[kafka]` table
//! (`security.protocol = "SASL_SSL"`, `sasl.username = "weir"`...), the password in
//! `WEIR_KAFKA_SASL_PASSWORD` ([`crate::kafka::properties`]).
//!
//! Jobs can also be created over the HTTP API (they live in the registry topic); a runtime runs
//! both. Without a file, `weir serve` runs only the registry's jobs, configured by flags and
//! `WEIR_*` variables alone.

use crate::engine::GuestLimits;
use crate::kafka::properties::ClientProperties;
use crate::pipeline::{PipelineConfig, TimeMode};
use crate::units::parse_bytes;
use crate::window::WindowSpec;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything `weir serve` runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Kafka bootstrap servers.
    #[serde(default = "default_brokers")]
    pub brokers: String,
    /// How long a runtime may go silent before the group gives its partitions to others.
    #[serde(default = "default_session_timeout", with = "duration")]
    pub session_timeout: Duration,
    /// The jobs of the file (more come from the registry).
    #[serde(default, rename = "job")]
    pub jobs: Vec<JobConfig>,
    /// Where the HTTP API, `/metrics` and the probes listen.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The bearer token the API's mutating endpoints require.
    #[serde(default)]
    pub token: Option<String>,
    /// Serve a non-loopback address without a token (anyone who reaches it can run code).
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// The largest module the API accepts.
    #[serde(default = "default_max_upload", deserialize_with = "bytes")]
    pub max_upload: usize,
    /// How long a stopping runtime waits for its jobs to commit and leave their groups.
    #[serde(default = "default_shutdown_grace", with = "duration")]
    pub shutdown_grace: Duration,
    /// The compacted topic holding modules and jobs.
    #[serde(default = "default_registry_topic")]
    pub registry_topic: String,
    /// The topic where runtimes publish how they run each job.
    #[serde(default = "default_status_topic")]
    pub status_topic: String,
    /// Create missing topics through metadata requests instead of the admin API (only for
    /// `weir dev`'s embedded broker; not read from files or the environment).
    #[serde(skip)]
    pub auto_create_topics: bool,
    /// Where compiled modules are kept between restarts: a directory, or `off`. Default:
    /// `$XDG_CACHE_HOME/weir/compiled` or `~/.cache/weir/compiled` (off without a home).
    #[serde(default)]
    pub compile_cache: Option<String>,
    /// The most a job created over the API may ask for (default: 512 MiB of memory, 30 s per
    /// call, 256 MiB of output per call).
    #[serde(default = "default_max_limits")]
    pub max_limits: LimitsConfig,
    /// How to reach and authenticate to the cluster: librdkafka's connection and security
    /// properties (`security.protocol`, `sasl.*`, `ssl.*`...), added to every client. The
    /// `[kafka]` table, keys written as librdkafka spells them (`sasl.mechanism = "SCRAM-SHA-512"`);
    /// `WEIR_KAFKA_*` variables win over it (`WEIR_KAFKA_SASL_PASSWORD`). Never serialized: it
    /// may hold secrets.
    #[serde(default, deserialize_with = "kafka_properties", skip_serializing)]
    pub kafka: ClientProperties,
}

/// A value of the `[kafka]` table: a scalar, or a table of them (TOML reads the dotted key
/// `sasl.username = "x"` as the table `sasl` holding `username`).
#[derive(Deserialize)]
#[serde(untagged)]
enum PropertyNode {
    Text(String),
    Integer(i64),
    Float(f64),
    Flag(bool),
    Table(BTreeMap<String, PropertyNode>),
}

/// Reads the `[kafka]` table into properties, tables flattened into dotted keys.
fn kafka_properties<'de, D: Deserializer<'de>>(d: D) -> Result<ClientProperties, D::Error> {
    fn flatten(prefix: &str, table: BTreeMap<String, PropertyNode>, into: &mut ClientProperties) {
        for (key, node) in table {
            let key = if prefix.is_empty() {
                key
            } else {
                format!("{prefix}.{key}")
            };
            match node {
                PropertyNode::Text(text) => into.set(key, text),
                PropertyNode::Integer(n) => into.set(key, n.to_string()),
                PropertyNode::Float(x) => into.set(key, x.to_string()),
                PropertyNode::Flag(b) => into.set(key, b.to_string()),
                PropertyNode::Table(table) => flatten(&key, table, into),
            }
        }
    }
    let mut properties = ClientProperties::new();
    flatten("", BTreeMap::deserialize(d)?, &mut properties);
    Ok(properties)
}

/// The consumer group of job `job`'s map stage, which reads its input topics: `weir.NAME`
/// (its committed offsets are where a paused or reset job resumes).
pub fn map_group(job: &str) -> String {
    format!("weir.{job}")
}

/// The consumer group of job `job`'s reduce stage, which reads its repartition topic:
/// `weir.NAME.reduce`.
pub fn reduce_group(job: &str) -> String {
    format!("weir.{job}.reduce")
}

/// One job: a module over input topics, its windows and its limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    /// The job's name: it names the consumer groups ([`map_group`]: `weir.NAME`,
    /// [`reduce_group`]: `weir.NAME.reduce`) and the internal topics (`weir.NAME.repartition`,
    /// `weir.NAME.progress`, `weir.NAME.logs`).
    pub name: String,
    /// The module: a component file, or a bundled example's name (`word-count`...).
    pub module: PathBuf,
    /// Input topics; they must exist.
    pub input: Vec<String>,
    /// Output topic, created when missing.
    pub output: String,
    /// Dead-letter topic, created when missing (default `NAME.dead-letters`).
    #[serde(default)]
    pub dead_letters: Option<String>,
    /// Windows: `tumbling:SIZE`, `hopping:SIZE,SLIDE` or `session:GAP`. A map/reduce module
    /// needs one; a transform has no windows and may leave it out (it is ignored if given).
    #[serde(
        default,
        deserialize_with = "window_spec",
        serialize_with = "optional_display",
        skip_serializing_if = "Option::is_none"
    )]
    pub window: Option<WindowSpec>,
    /// How far the watermark trails the largest event time seen.
    #[serde(default, with = "duration")]
    pub out_of_orderness: Duration,
    /// How long after its end a window still accepts records.
    #[serde(default, with = "duration")]
    pub lateness: Duration,
    /// With the shuffle: an input partition that gets no record for this long stops holding
    /// the job's event time back, until it gets records again (Flink's `withIdleness`). Its
    /// records that arrive behind the other partitions then miss windows that have fired.
    /// `0s` (the default) waits for every partition.
    #[serde(default, with = "duration")]
    pub idle_timeout: Duration,
    /// Event time (record or map timestamps) or processing time (wall clock; replays after a
    /// crash may then put records in other windows than the first time).
    #[serde(default, with = "TimeModeSpelling")]
    pub time: TimeMode,
    /// Reduce globally per key through the repartition topic (default). Turn it off when the
    /// input is already partitioned by the reduce key: each input partition is then reduced on
    /// its own and the shuffle is skipped.
    #[serde(default = "yes")]
    pub shuffle: bool,
    /// Partitions of the repartition topic when it is created (default: as many as the inputs').
    #[serde(default)]
    pub reduce_partitions: Option<i32>,
    /// Records per guest call.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// How often the job writes its output, records progress and commits offsets.
    #[serde(default = "default_commit_interval", with = "duration")]
    pub commit_interval: Duration,
    /// Sandbox limits.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// How a config file or a job spec spells the pipeline's [`TimeMode`]: `event` or
/// `processing`. Serde's remote derive, so the one type is `TimeMode` and this only spells it.
#[derive(Serialize, Deserialize)]
#[serde(remote = "TimeMode", rename_all = "snake_case")]
enum TimeModeSpelling {
    Event,
    Processing,
}

/// A job's sandbox limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Linear memory per instance.
    #[serde(deserialize_with = "bytes", default = "default_memory")]
    pub memory: usize,
    /// Time limit of one guest call.
    #[serde(with = "duration", default = "default_timeout")]
    pub timeout: Duration,
    /// Bytes one guest call may return.
    #[serde(deserialize_with = "bytes", default = "default_max_output")]
    pub max_output: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let limits = GuestLimits::default();
        LimitsConfig {
            memory: limits.memory_bytes,
            timeout: limits.call_timeout,
            max_output: limits.output_bytes,
        }
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            brokers: default_brokers(),
            session_timeout: default_session_timeout(),
            jobs: Vec::new(),
            listen: default_listen(),
            token: None,
            allow_unauthenticated: false,
            max_upload: default_max_upload(),
            shutdown_grace: default_shutdown_grace(),
            registry_topic: default_registry_topic(),
            status_topic: default_status_topic(),
            max_limits: default_max_limits(),
            compile_cache: None,
            auto_create_topics: false,
            kafka: ClientProperties::new(),
        }
    }
}

fn default_brokers() -> String {
    "localhost:9092".into()
}
fn default_max_limits() -> LimitsConfig {
    LimitsConfig {
        memory: 512 << 20,
        timeout: Duration::from_secs(30),
        max_output: 256 << 20,
    }
}
fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_max_upload() -> usize {
    32 << 20
}
fn default_shutdown_grace() -> Duration {
    Duration::from_secs(30)
}
fn default_registry_topic() -> String {
    "weir.registry".into()
}
fn default_status_topic() -> String {
    "weir.status".into()
}
fn default_session_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_batch_size() -> usize {
    1024
}
fn default_commit_interval() -> Duration {
    Duration::from_millis(500)
}
fn default_memory() -> usize {
    LimitsConfig::default().memory
}
fn default_timeout() -> Duration {
    LimitsConfig::default().timeout
}
fn default_max_output() -> usize {
    LimitsConfig::default().max_output
}
fn yes() -> bool {
    true
}

/// The settings `WEIR_*` environment variables may set.
const ENV_KEYS: &[&str] = &[
    "brokers",
    "session_timeout",
    "listen",
    "token",
    "allow_unauthenticated",
    "max_upload",
    "shutdown_grace",
    "registry_topic",
    "status_topic",
    "compile_cache",
];

impl ServeConfig {
    /// Reads `path` (TOML) when given, then `WEIR_*` environment variables over it
    /// (`WEIR_BROKERS`, `WEIR_LISTEN`, `WEIR_TOKEN`...).
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::new().merge(Serialized::default("brokers", default_brokers()));
        let source = match path {
            Some(path) => {
                if let Err(err) = std::fs::metadata(path) {
                    anyhow::bail!("cannot read the config {}: {err}", path.display());
                }
                figment = figment.merge(Toml::file_exact(path));
                format!("config {}", path.display())
            }
            None => "settings".into(),
        };
        let mut config: ServeConfig = figment
            .merge(Env::prefixed("WEIR_").only(ENV_KEYS))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid {source}: {}", e.to_string().trim()))?;
        config.kafka.extend(&ClientProperties::from_env(std::env::vars()));
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: names, that jobs do not collide, and the Kafka properties.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.kafka.validate()?;
        let mut names = std::collections::BTreeSet::new();
        for job in &self.jobs {
            job.validate()?;
            if !names.insert(&job.name) {
                anyhow::bail!("two jobs are named `{}`: job names must be unique", job.name);
            }
        }
        Ok(())
    }
}

impl JobConfig {
    /// What `new` changes that the job's checkpoints cannot follow, each as a sentence; empty
    /// when the update is safe. A checkpoint says which windows have fired by their bounds and
    /// the watermark: a new window, lateness, out-of-orderness or time mode would fire again,
    /// with only the replayed records, windows that fired before (or never fire some). Turning
    /// the shuffle off abandons the partials waiting in the reduce stage, turning it on starts
    /// the reduce stage without the partials of windows already open; an input topic removed
    /// keeps its last watermark in the reduce stage, which then waits for it forever.
    pub fn incompatible_changes(&self, new: &JobConfig) -> Vec<String> {
        let mut changes = Vec::new();
        let mut changed = |what: &str, old: String, new: String| {
            if old != new {
                changes.push(format!("{what} from {old} to {new}"));
            }
        };
        let window = |w: &Option<WindowSpec>| w.map_or_else(|| "none".to_string(), |w| w.to_string());
        changed("window", window(&self.window), window(&new.window));
        changed(
            "lateness",
            humantime::format_duration(self.lateness).to_string(),
            humantime::format_duration(new.lateness).to_string(),
        );
        changed(
            "out_of_orderness",
            humantime::format_duration(self.out_of_orderness).to_string(),
            humantime::format_duration(new.out_of_orderness).to_string(),
        );
        changed("time", format!("{:?}", self.time), format!("{:?}", new.time));
        changed("shuffle", self.shuffle.to_string(), new.shuffle.to_string());
        for topic in self.input.iter().filter(|t| !new.input.contains(t)) {
            changes.push(format!("input topic `{topic}` removed"));
        }
        changes
    }

    /// Checks the job on its own.
    pub fn validate(&self) -> anyhow::Result<()> {
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if self.name.is_empty() || !self.name.chars().all(valid) {
            anyhow::bail!(
                "job name `{}` must be non-empty and use only letters, digits, `-`, `_` and `.` \
                 (it names Kafka topics and groups)",
                self.name
            );
        }
        if self.input.is_empty() {
            anyhow::bail!("job `{}` has no input topic", self.name);
        }
        if self.input.contains(&self.output) {
            anyhow::bail!(
                "job `{}` writes to its own input topic `{}`",
                self.name,
                self.output
            );
        }
        if self.batch_size == 0 {
            anyhow::bail!("job `{}`: batch_size must be at least 1", self.name);
        }
        Ok(())
    }

    /// The dead-letter topic.
    pub fn dead_letter_topic(&self) -> String {
        self.dead_letters
            .clone()
            .unwrap_or_else(|| format!("{}.dead-letters", self.name))
    }

    /// The consumer group of the job's map stage ([`map_group`]).
    pub fn map_group(&self) -> String {
        map_group(&self.name)
    }

    /// The consumer group of the job's reduce stage ([`reduce_group`]).
    pub fn reduce_group(&self) -> String {
        reduce_group(&self.name)
    }

    /// The internal repartition topic (stage 1 → stage 2).
    pub fn repartition_topic(&self) -> String {
        format!("weir.{}.repartition", self.name)
    }

    /// The internal progress topic (watermarks and fired-window frontiers).
    pub fn progress_topic(&self) -> String {
        format!("weir.{}.progress", self.name)
    }

    /// The internal topic of the job's guest log lines (every runtime's).
    pub fn logs_topic(&self) -> String {
        format!("weir.{}.logs", self.name)
    }

    /// The job's window, or an error saying a map/reduce job needs one.
    pub fn window(&self) -> anyhow::Result<WindowSpec> {
        self.window.ok_or_else(|| {
            anyhow::anyhow!(
                "job `{}` runs a map/reduce module, which needs a window (`window = \"tumbling:10s\"`, \
                 hopping:SIZE,SLIDE or session:GAP); only a transform may leave it out",
                self.name
            )
        })
    }

    /// How the pipeline windows (a transform, which has no window, gets one it ignores).
    pub fn pipeline(&self) -> PipelineConfig {
        PipelineConfig {
            window: self.window.unwrap_or(TRANSFORM_WINDOW),
            out_of_orderness: self.out_of_orderness,
            lateness: self.lateness,
            time: self.time,
        }
    }

    /// The sandbox limits.
    pub fn guest_limits(&self) -> GuestLimits {
        GuestLimits {
            memory_bytes: self.limits.memory,
            call_timeout: self.limits.timeout,
            output_bytes: self.limits.max_output,
        }
    }
}

/// The window a transform's pipeline is built with: transforms never window, so any will do.
const TRANSFORM_WINDOW: WindowSpec = WindowSpec::Tumbling { size: 1_000 };

fn window_spec<'de, D: Deserializer<'de>>(d: D) -> Result<Option<WindowSpec>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    text.map(|t| t.parse().map_err(serde::de::Error::custom))
        .transpose()
}

fn optional_display<S: serde::Serializer, T: std::fmt::Display>(
    value: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => s.collect_str(value),
        None => s.serialize_none(),
    }
}

fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    /// A size: a whole number of bytes, or a text like `64MiB`.
    struct Size;

    impl serde::de::Visitor<'_> for Size {
        type Value = usize;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a size like \"64MiB\" or a whole number of bytes")
        }

        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<usize, E> {
            usize::try_from(n).map_err(|_| E::custom(format!("{n} bytes is too large")))
        }

        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<usize, E> {
            u64::try_from(n)
                .map_err(|_| E::custom(format!("{n} is negative: give a size like 64MiB")))
                .and_then(|n| self.visit_u64(n))
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<usize, E> {
            parse_bytes(text).map_err(E::custom)
        }
    }

    d.deserialize_any(Size)
}

/// `"10s"`-style durations (humantime) in config files.
mod duration {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        crate::units::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<ServeConfig> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("weir.toml");
        std::fs::write(&path, text)?;
        ServeConfig::load(Some(&path))
    }

    #[test]
    fn the_kafka_table_takes_dotted_quoted_and_nested_keys_of_any_scalar() -> anyhow::Result<()> {
        let config = parse(
            r#"
            [kafka]
            security.protocol = "SASL_SSL"
            "sasl.mechanism" = "SCRAM-SHA-512"
            enable.ssl.certificate.verification = false
            sasl.oauthbearer.config = "scope=x"
            [kafka.ssl]
            ca.location = "/etc/weir/ca.pem"
            "#,
        )?;
        let keys: Vec<&str> = config.kafka.keys().collect();
        assert_eq!(
            keys,
            [
                "enable.ssl.certificate.verification",
                "sasl.mechanism",
                "sasl.oauthbearer.config",
                "security.protocol",
                "ssl.ca.location"
            ]
        );
        let mut expected = ClientProperties::new();
        expected.set("security.protocol", "SASL_SSL");
        expected.set("sasl.mechanism", "SCRAM-SHA-512");
        expected.set("enable.ssl.certificate.verification", "false");
        expected.set("sasl.oauthbearer.config", "scope=x");
        expected.set("ssl.ca.location", "/etc/weir/ca.pem");
        assert_eq!(config.kafka, expected);
        Ok(())
    }

    #[test]
    fn a_kafka_property_weir_owns_fails_the_config_by_name() {
        let err = parse("[kafka]\ngroup.id = \"mine\"\n")
            .expect_err("refused")
            .to_string();
        assert!(err.contains("`group.id` is not one Weir passes on"), "{err}");
        let err = parse("[kafka]\nsecurity.protocol = \"TLS\"\n")
            .expect_err("refused")
            .to_string();
        assert!(err.contains("`security.protocol`"), "{err}");
    }

    #[test]
    fn updates_the_checkpoints_cannot_follow_are_named() -> anyhow::Result<()> {
        let config = parse(
            r#"
            [[job]]
            name = "wc"
            module = "word-count"
            input = ["a", "b"]
            output = "counts"
            window = "tumbling:10s"
            "#,
        )?;
        let old = &config.jobs[0];
        let mut new = old.clone();
        new.module = "other.wasm".into();
        new.batch_size = 7;
        new.idle_timeout = Duration::from_secs(5);
        new.input.push("c".into());
        assert!(
            old.incompatible_changes(&new).is_empty(),
            "a module update is safe"
        );
        new.window = Some(WindowSpec::Tumbling { size: 20_000 });
        new.lateness = Duration::from_secs(1);
        new.shuffle = false;
        new.input = vec!["b".into()];
        assert_eq!(
            old.incompatible_changes(&new),
            [
                "window from tumbling:10s to tumbling:20s",
                "lateness from 0s to 1s",
                "shuffle from true to false",
                "input topic `a` removed",
            ]
        );
        Ok(())
    }

    #[test]
    fn reads_a_job_with_defaults() -> anyhow::Result<()> {
        let config = parse(
            r#"
            brokers = "b:9092"
            [[job]]
            name = "wc"
            module = "word-count"
            input = ["lines"]
            output = "counts"
            window = "hopping:10s,5s"
            lateness = "2s"
            idle_timeout = "30s"
            limits = { memory = "32MiB" }
            "#,
        )?;
        assert_eq!(config.brokers, "b:9092");
        let job = &config.jobs[0];
        assert_eq!(
            job.window,
            Some(WindowSpec::Hopping {
                size: 10_000,
                slide: 5_000
            })
        );
        assert_eq!(job.lateness, Duration::from_secs(2));
        assert_eq!(job.idle_timeout, Duration::from_secs(30));
        assert_eq!(job.limits.memory, 32 << 20);
        assert_eq!(job.limits.timeout, Duration::from_secs(1));
        assert!(job.shuffle);
        assert_eq!(job.dead_letter_topic(), "wc.dead-letters");
        assert_eq!(job.repartition_topic(), "weir.wc.repartition");
        assert_eq!(
            (job.map_group(), job.reduce_group()),
            ("weir.wc".into(), "weir.wc.reduce".into())
        );
        Ok(())
    }

    #[test]
    fn a_job_may_leave_the_window_out_and_then_has_none() -> anyhow::Result<()> {
        let config = parse("[[job]]\nname = \"f\"\nmodule = \"filter\"\ninput = [\"a\"]\noutput = \"b\"\n")?;
        let job = &config.jobs[0];
        assert_eq!(job.window, None);
        let err = job.window().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("needs a window"), "{err}");
        let json = serde_json::to_value(job)?;
        assert!(json.get("window").is_none(), "no window, no field: {json}");
        let back: JobConfig = serde_json::from_value(json)?;
        assert_eq!(&back, job);
        Ok(())
    }

    #[test]
    fn time_is_spelled_event_or_processing() -> anyhow::Result<()> {
        let text = "[[job]]\nname = \"f\"\nmodule = \"filter\"\ninput = [\"a\"]\noutput = \"b\"\n";
        assert_eq!(parse(text)?.jobs[0].time, TimeMode::Event, "the default");
        let config = parse(&format!("{text}time = \"processing\"\n"))?;
        let job = &config.jobs[0];
        assert_eq!(job.pipeline().time, TimeMode::Processing);
        let mut json = serde_json::to_value(job)?;
        assert_eq!(json["time"], "processing");
        json["time"] = "wall".into();
        let err = serde_json::from_value::<JobConfig>(json)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("unknown variant `wall`, expected `event` or `processing`")
        );
        Ok(())
    }

    #[test]
    fn refuses_what_would_break_at_run_time() {
        let job = |extra: &str| {
            format!(
                "[[job]]\nname = \"wc\"\nmodule = \"m\"\ninput = [\"a\"]\noutput = \"b\"\nwindow = \"tumbling:1s\"\n{extra}"
            )
        };
        let error = |text: &str| parse(text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            error("").is_empty(),
            "a file without jobs is fine: the registry has them"
        );
        assert!(error("max_upload = \"lots\"").contains("max_upload"));
        assert!(error(&job("lateness = \"soon\"")).contains("not a duration"));
        assert!(error(&job("colour = 1")).contains("unknown field"));
        assert!(error(&job("").replace("tumbling:1s", "weekly")).contains("window"));
        assert!(error(&job("").replace("\"b\"", "\"a\"")).contains("its own input"));
        assert!(error(&format!("{}{}", job(""), job(""))).contains("two jobs"));
        assert!(error(&job("").replace("\"wc\"", "\"w c\"")).contains("job name"));
    }
}
