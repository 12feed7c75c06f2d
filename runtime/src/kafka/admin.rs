//! Topic administration: checks the inputs exist, creates the topics a job writes to.

use super::{TopicError, client_config, topic_partitions};
use anyhow::{Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::Producer as _;
use rdkafka::types::RDKafkaErrorCode;
use std::time::Duration;

/// A topic to create when it is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Name.
    pub name: String,
    /// Partitions.
    pub partitions: i32,
    /// Topic configs, e.g. `cleanup.policy=compact`.
    pub config: Vec<(&'static str, String)>,
}

impl TopicSpec {
    /// A compacted topic (`cleanup.policy=compact`): the broker keeps the latest record of each
    /// key, which is all a reader of the registry, the status board or a job's progress needs.
    pub fn compacted(name: impl Into<String>, partitions: i32) -> Self {
        TopicSpec {
            name: name.into(),
            partitions,
            config: vec![("cleanup.policy", "compact".into())],
        }
    }
}

/// An admin client for one cluster.
pub struct Admin {
    client: AdminClient<DefaultClientContext>,
    brokers: String,
    timeout: Duration,
}

impl Admin {
    /// Connects (lazily) to `brokers`. Its metadata requests never create a topic (see
    /// [`topic_partitions`]): a typo in a topic name is an error, even on a broker that
    /// creates topics on request, as `weir dev`'s does.
    pub fn new(brokers: &str) -> Result<Self> {
        let client = client_config(brokers)
            .set("allow.auto.create.topics", "false")
            .create()
            .with_context(|| format!("cannot create an admin client for {brokers}"))?;
        Ok(Admin {
            client,
            brokers: brokers.to_string(),
            timeout: Duration::from_secs(10),
        })
    }

    /// The partition count of `topic`, or an error saying it does not exist or the brokers
    /// cannot be reached.
    pub fn partitions(&self, topic: &str) -> Result<i32> {
        Ok(self.topic(topic)?)
    }

    /// As [`Admin::partitions`], with the reason typed: whether the topic is missing or the
    /// brokers cannot be reached.
    pub fn topic(&self, topic: &str) -> Result<i32, TopicError> {
        let n = topic_partitions(self.client.inner(), &self.brokers, topic, self.timeout)?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }

    /// Whether the brokers are librdkafka's mock cluster (`weir dev`'s embedded broker), by the
    /// cluster id it gives itself: it has no CreateTopics API (a request waits for the whole
    /// timeout) but creates a topic a producer asks about.
    pub fn is_mock_cluster(&self) -> bool {
        self.client
            .inner()
            .fetch_cluster_id(self.timeout)
            .is_some_and(|id| id.starts_with("mockCluster"))
    }

    /// Creates the topics of `specs` that do not exist yet: through the admin API
    /// ([`Admin::ensure`]), else, on a broker without it (`weir dev`'s), by asking for their
    /// metadata ([`Admin::auto_create`]).
    pub fn create(&self, specs: &[TopicSpec]) -> Result<()> {
        if self.is_mock_cluster() {
            return self.auto_create(specs);
        }
        match self.ensure(specs) {
            Ok(()) => Ok(()),
            Err(err) => {
                tracing::debug!(
                    "creating topics through the admin API failed ({err:#}); asking for their metadata"
                );
                self.auto_create(specs).map_err(|_| err)
            }
        }
    }

    /// `err` with why the brokers did not answer, when Weir can tell (a wrong password, an
    /// untrusted certificate: [`super::diagnose`]); the admin client's own requests only time
    /// out.
    fn diagnosed(&self, err: anyhow::Error) -> anyhow::Error {
        match super::diagnose(&self.brokers, Duration::from_secs(5)) {
            Some(why) => err.context(why),
            None => err,
        }
    }

    /// Makes the topics of `specs` exist on a broker that creates topics a producer asks about
    /// (with the broker's default partition count and configs): the embedded broker of
    /// `weir dev`, which has no CreateTopics API.
    pub fn auto_create(&self, specs: &[TopicSpec]) -> Result<()> {
        let producer: rdkafka::producer::BaseProducer = client_config(&self.brokers)
            .set("allow.auto.create.topics", "true")
            .create()
            .with_context(|| format!("cannot create a producer for {}", self.brokers))?;
        for spec in specs {
            producer
                .client()
                .fetch_metadata(Some(&spec.name), self.timeout)
                .with_context(|| format!("cannot create topic `{}` at {}", spec.name, self.brokers))?;
            self.partitions(&spec.name)?;
        }
        Ok(())
    }

    /// Creates the topics of `specs` that do not exist yet (replication factor 1 on a single
    /// broker, else the broker's default). Existing topics are left as they are. An error says
    /// why the brokers did not answer when Weir can tell ([`super::diagnose`]).
    pub fn ensure(&self, specs: &[TopicSpec]) -> Result<()> {
        self.create_missing(specs).map_err(|err| self.diagnosed(err))
    }

    /// [`Admin::ensure`] without the diagnosis.
    fn create_missing(&self, specs: &[TopicSpec]) -> Result<()> {
        let metadata = self.client.inner().fetch_metadata(None, self.timeout).ok();
        let brokers = metadata.as_ref().map_or(1, |m| m.brokers().len());
        let exists = |name: &str| {
            metadata.as_ref().is_some_and(|m| {
                m.topics()
                    .iter()
                    .any(|t| t.name() == name && t.error().is_none() && !t.partitions().is_empty())
            })
        };
        let replication = if brokers <= 1 { 1 } else { -1 };
        let topics: Vec<NewTopic<'_>> = specs
            .iter()
            .filter(|spec| !exists(&spec.name))
            .map(|spec| {
                spec.config.iter().fold(
                    NewTopic::new(&spec.name, spec.partitions, TopicReplication::Fixed(replication)),
                    |topic, (key, value)| topic.set(key, value),
                )
            })
            .collect();
        if topics.is_empty() {
            return Ok(());
        }
        let options = AdminOptions::new()
            .operation_timeout(Some(self.timeout))
            .request_timeout(Some(self.timeout));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .context("cannot start the admin client's executor")?;
        let results = runtime
            .block_on(self.client.create_topics(&topics, &options))
            .with_context(|| format!("cannot create topics at {}", self.brokers))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    anyhow::bail!("cannot create topic `{topic}` at {}: {code}", self.brokers)
                }
            }
        }
        Ok(())
    }
}
