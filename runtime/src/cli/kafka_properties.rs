//! `-X KEY=VALUE`: the Kafka client properties of a secured cluster on the command line, shared
//! by the commands that talk to the user's cluster (`weir serve`, `weir produce`, `weir consume`),
//! as `rpk -X` and `kcat -X` take them.

use crate::kafka::properties::{self, ClientProperties};
use anyhow::{Context, Result};

/// The `-X` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KafkaPropertyArgs {
    /// A Kafka client property for a secured cluster, KEY=VALUE, repeatable:
    /// `-X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512`. Connection and security
    /// properties only (`security.protocol`, `sasl.*`, `ssl.*`, `client.id`...). Also
    /// `WEIR_KAFKA_*` variables (`WEIR_KAFKA_SASL_PASSWORD`): prefer them for secrets, as flags
    /// show in `ps`.
    #[arg(
        short = 'X',
        long = "kafka-property",
        value_name = "KEY=VALUE",
        value_parser = ClientProperties::parse_flag
    )]
    pub properties: Vec<(String, String)>,
}

impl KafkaPropertyArgs {
    /// `base` with the flags over it.
    pub fn over(&self, base: &ClientProperties) -> ClientProperties {
        let mut merged = base.clone();
        for (key, value) in &self.properties {
            merged.set(key.clone(), value.clone());
        }
        merged
    }

    /// Installs the `WEIR_KAFKA_*` variables' properties with the flags over them, for every
    /// client this process makes.
    pub fn install_with_env(&self) -> Result<()> {
        let env = ClientProperties::from_env(std::env::vars());
        properties::install(self.over(&env)).context("cannot use the Kafka client properties")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_base() {
        let mut base = ClientProperties::new();
        base.set("sasl.username", "env");
        base.set("client.id", "env");
        let args = KafkaPropertyArgs {
            properties: vec![("sasl.username".into(), "flag".into())],
        };
        let mut expected = ClientProperties::new();
        expected.set("sasl.username", "flag");
        expected.set("client.id", "env");
        assert_eq!(args.over(&base), expected);
    }
}
