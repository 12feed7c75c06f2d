//! Client properties for the user's cluster: how to reach it and prove who Weir is
//! (`security.protocol`, `sasl.*`, `ssl.*`...), added to every Kafka client a process makes.
//!
//! A process talks to one cluster, so the properties are set once, when a command that talks to
//! the user's cluster starts (`weir serve`, `weir produce`, `weir consume`: [`install`]), and
//! [`super::client_config`] adds them to every client from then on. They come from the serve
//! config's `[kafka]` table, from `WEIR_KAFKA_*` variables (`WEIR_KAFKA_SASL_PASSWORD` is
//! `sasl.password`: a Kubernetes Secret can supply it) and from `-X KEY=VALUE` flags, later
//! sources winning.
//!
//! Only connection and security properties are taken ([`allowed`]): Weir's exactness rests on
//! settings it owns (`group.id`, `enable.auto.commit`, `isolation.level`, `enable.idempotence`,
//! `acks`...) and its bounded memory on others (queues, fetch sizes). Every property is checked
//! by librdkafka itself when installed, so a misspelt key or an unsupported value fails at start
//! with librdkafka's reason, not at the first connection.

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The properties of this process's clients, once installed.
static INSTALLED: OnceLock<ClientProperties> = OnceLock::new();

/// The environment variables' prefix: `WEIR_KAFKA_SASL_USERNAME` is `sasl.username`.
pub const ENV_PREFIX: &str = "WEIR_KAFKA_";

/// Properties taken whole.
const ALLOWED_KEYS: &[&str] = &[
    "security.protocol",
    "enable.ssl.certificate.verification",
    "enable.sasl.oauthbearer.unsecure.jwt",
    "client.id",
    "client.rack",
    "broker.address.family",
    "client.dns.lookup",
    "debug",
];

/// Families of properties taken by their prefix.
const ALLOWED_PREFIXES: &[&str] = &["sasl.", "ssl.", "ssl_engine"];

/// Why a client property is refused.
#[derive(Debug, thiserror::Error)]
pub enum PropertyError {
    /// Not a connection or security property.
    #[error(
        "Kafka client property `{key}` is not one Weir passes on: it takes `security.protocol`, \
         `sasl.*`, `ssl.*`, `enable.ssl.certificate.verification`, `client.id`, `client.rack`, \
         `broker.address.family`, `client.dns.lookup` and `debug`; the consumer and producer \
         settings are Weir's own (docs/kafka.md, \"Secured clusters\")"
    )]
    NotAllowed {
        /// The property.
        key: String,
    },
    /// librdkafka refuses the property or its value.
    #[error("Kafka client property `{key}`: {reason}")]
    Invalid {
        /// The property.
        key: String,
        /// librdkafka's reason, with a secret value left out.
        reason: String,
    },
    /// A `-X` argument without `=`.
    #[error("`{0}` is not KEY=VALUE (e.g. -X security.protocol=SASL_SSL)")]
    NotKeyValue(String),
    /// A second, different set of properties for the same process.
    #[error("the Kafka client properties of this process are set already")]
    Reinstalled,
}

/// Whether `key` is a property users may set: a connection or security one.
pub fn allowed(key: &str) -> bool {
    ALLOWED_KEYS.contains(&key) || ALLOWED_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Whether `key`'s value must not be printed (passwords, secrets, keys given inline).
fn secret(key: &str) -> bool {
    [
        "password",
        "secret",
        "ssl.key.pem",
        "ssl.keystore",
        "sasl.jaas.config",
    ]
    .iter()
    .any(|part| key.contains(part))
}

/// librdkafka's `reason` for refusing `key` = `value`, with the value hidden if it is a secret
/// (librdkafka quotes a refused value: `Invalid value "..." for configuration property`).
fn redacted(key: &str, value: &str, reason: String) -> String {
    if secret(key) && !value.is_empty() {
        reason.replace(value, "(hidden)")
    } else {
        reason
    }
}

/// A set of librdkafka client properties, by key. Its `Debug` shows the keys only: some values
/// are secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientProperties(BTreeMap<String, String>);

impl std::fmt::Debug for ClientProperties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.keys()).finish()
    }
}

impl ClientProperties {
    /// No property.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, replacing an earlier value.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    /// Every property of `other` over these.
    pub fn extend(&mut self, other: &ClientProperties) {
        self.0.extend(other.0.iter().map(|(k, v)| (k.clone(), v.clone())));
    }

    /// The keys, in order (never the values: some are secrets).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The properties `WEIR_KAFKA_*` variables among `vars` give: the rest of the name in lower
    /// case, each `_` a `.` (`WEIR_KAFKA_SSL_CA_LOCATION` is `ssl.ca.location`). A key with an
    /// underscore of its own (`ssl_engine_id`) can only come from the file or `-X`.
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut properties = Self::new();
        for (name, value) in vars {
            if let Some(rest) = name.strip_prefix(ENV_PREFIX).filter(|r| !r.is_empty()) {
                properties.set(rest.to_ascii_lowercase().replace('_', "."), value);
            }
        }
        properties
    }

    /// Parses one `-X KEY=VALUE` argument (clap's value parser).
    pub fn parse_flag(arg: &str) -> Result<(String, String), PropertyError> {
        match arg.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_string(), value.to_string())),
            _ => Err(PropertyError::NotKeyValue(arg.to_string())),
        }
    }

    /// Checks every property: allowed ([`allowed`]), and accepted by librdkafka with its value.
    pub fn validate(&self) -> Result<(), PropertyError> {
        for (key, value) in &self.0 {
            if !allowed(key) {
                return Err(PropertyError::NotAllowed { key: key.clone() });
            }
            let mut config = ClientConfig::new();
            config.set(key, value);
            if let Err(err) = config.create_native_config() {
                let reason = match err {
                    KafkaError::ClientConfig(_, description, _, _) => description,
                    other => other.to_string(),
                };
                let reason = redacted(key, value, reason);
                return Err(PropertyError::Invalid {
                    key: key.clone(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// These properties with Weir's defaults added: with TLS on (`security.protocol` `SSL` or
    /// `SASL_SSL`) and no CA named (`ssl.ca.location`, `ssl.ca.pem`,
    /// `ssl.ca.certificate.stores`), `ssl.ca.location=probe`, which has librdkafka look for the
    /// system's CA bundle (`/etc/ssl/certs/ca-certificates.crt` and the like; the runtime image
    /// carries Debian's). Without it the vendored OpenSSL would look in its own build
    /// directory, which holds none, and no public certificate would verify.
    pub fn with_defaults(mut self) -> Self {
        let tls = self
            .0
            .get("security.protocol")
            .is_some_and(|p| p.eq_ignore_ascii_case("ssl") || p.eq_ignore_ascii_case("sasl_ssl"));
        let ca_named = ["ssl.ca.location", "ssl.ca.pem", "ssl.ca.certificate.stores"]
            .iter()
            .any(|key| self.0.contains_key(*key));
        if tls && !ca_named {
            self.set("ssl.ca.location", "probe");
        }
        self
    }

    /// Adds every property to `config`.
    pub fn apply(&self, config: &mut ClientConfig) {
        for (key, value) in &self.0 {
            config.set(key, value);
        }
    }
}

/// Validates `properties` ([`ClientProperties::with_defaults`] added) and makes them this
/// process's: every client [`super::client_config`] makes from now on has them. Installing the same properties again is a no-op; different ones
/// are refused (a process talks to one cluster).
pub fn install(properties: ClientProperties) -> Result<(), PropertyError> {
    let properties = properties.with_defaults();
    properties.validate()?;
    let installed = INSTALLED.get_or_init(|| properties.clone());
    if *installed == properties {
        Ok(())
    } else {
        Err(PropertyError::Reinstalled)
    }
}

/// The installed properties (none before [`install`]).
pub fn installed() -> Option<&'static ClientProperties> {
    INSTALLED.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> ClientProperties {
        let mut p = ClientProperties::new();
        for (k, v) in pairs {
            p.set(*k, *v);
        }
        p
    }

    #[test]
    fn connection_and_security_properties_are_allowed_and_weirs_own_are_not() {
        for key in [
            "security.protocol",
            "sasl.mechanism",
            "sasl.password",
            "ssl.ca.location",
            "ssl.endpoint.identification.algorithm",
            "client.id",
            "ssl_engine_id",
        ] {
            assert!(allowed(key), "{key}");
        }
        for key in [
            "group.id",
            "enable.auto.commit",
            "isolation.level",
            "enable.idempotence",
            "acks",
            "bootstrap.servers",
            "fetch.max.bytes",
            "queued.min.messages",
            "session.timeout.ms",
            "transactional.id",
            "security.protocol.x",
            "sasl",
        ] {
            assert!(!allowed(key), "{key}");
        }
    }

    #[test]
    fn a_property_weir_owns_is_refused_by_name() {
        let err = props(&[("enable.auto.commit", "true")])
            .validate()
            .expect_err("refused");
        assert!(matches!(&err, PropertyError::NotAllowed { key } if key == "enable.auto.commit"));
        assert!(
            err.to_string()
                .contains("`enable.auto.commit` is not one Weir passes on"),
            "{err}"
        );
    }

    #[test]
    fn librdkafka_checks_keys_and_values() {
        props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "u"),
            ("sasl.password", "p"),
        ])
        .validate()
        .expect("valid");
        let err = props(&[("security.protocol", "CARRIER_PIGEON")])
            .validate()
            .expect_err("refused");
        assert!(
            matches!(&err, PropertyError::Invalid { key, reason }
            if key == "security.protocol" && reason.contains("CARRIER_PIGEON")),
            "{err}"
        );
        let err = props(&[("ssl.no.such.thing", "1")])
            .validate()
            .expect_err("refused");
        assert!(
            matches!(&err, PropertyError::Invalid { key, .. } if key == "ssl.no.such.thing"),
            "{err}"
        );
    }

    #[test]
    fn tls_and_scram_are_built_in() {
        // Without OpenSSL in librdkafka, SSL and SCRAM are refused ("not available at build
        // time"): this is what the rdkafka `ssl` feature buys.
        props(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-256"),
        ])
        .validate()
        .expect("SASL_SSL with SCRAM");
    }

    #[test]
    fn a_refused_secret_is_not_printed() {
        let quoted = r#"Invalid value "hunter2" for configuration property"#;
        let hidden = r#"Invalid value "(hidden)" for configuration property"#;
        assert_eq!(redacted("sasl.password", "hunter2", quoted.into()), hidden);
        assert_eq!(redacted("ssl.key.password", "hunter2", quoted.into()), hidden);
        assert_eq!(redacted("sasl.mechanism", "hunter2", quoted.into()), quoted);
    }

    #[test]
    fn tls_without_a_named_ca_probes_for_the_systems_bundle() {
        let probed = props(&[("security.protocol", "sasl_ssl")]).with_defaults();
        assert_eq!(
            probed,
            props(&[("security.protocol", "sasl_ssl"), ("ssl.ca.location", "probe")])
        );
        probed.validate().expect("probe is a value librdkafka takes");
        let named = props(&[("security.protocol", "SSL"), ("ssl.ca.pem", "-----BEGIN...")]);
        assert_eq!(named.clone().with_defaults(), named);
        let plain = props(&[("security.protocol", "SASL_PLAINTEXT")]);
        assert_eq!(plain.clone().with_defaults(), plain);
    }

    #[test]
    fn debug_shows_keys_not_values() {
        let shown = format!("{:?}", props(&[("sasl.password", "hunter2")]));
        assert_eq!(shown, r#"{"sasl.password"}"#);
    }

    #[test]
    fn environment_variables_name_properties_with_underscores_for_dots() {
        let vars = [
            ("WEIR_KAFKA_SASL_PASSWORD", "s"),
            ("WEIR_KAFKA_SSL_CA_LOCATION", "/ca.pem"),
            ("WEIR_KAFKA_", "ignored"),
            ("WEIR_BROKERS", "b:9092"),
            ("KAFKA_SASL_USERNAME", "no"),
        ];
        let p = ClientProperties::from_env(vars.map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(
            p,
            props(&[("sasl.password", "s"), ("ssl.ca.location", "/ca.pem")])
        );
    }

    #[test]
    fn flags_are_key_equals_value_and_the_value_may_hold_equals() {
        assert_eq!(
            ClientProperties::parse_flag("sasl.password=a=b").ok(),
            Some(("sasl.password".to_string(), "a=b".to_string()))
        );
        assert_eq!(
            ClientProperties::parse_flag("sasl.password=").ok(),
            Some(("sasl.password".to_string(), String::new()))
        );
        assert!(ClientProperties::parse_flag("security.protocol").is_err());
        assert!(ClientProperties::parse_flag("=x").is_err());
    }

    #[test]
    fn later_sources_win() {
        let mut p = props(&[("sasl.username", "file"), ("client.id", "a")]);
        p.extend(&props(&[("sasl.username", "env")]));
        assert_eq!(p, props(&[("sasl.username", "env"), ("client.id", "a")]));
    }
}
