//! The cluster refusing Weir's connections: a wrong password, an untrusted certificate, a client
//! speaking plaintext to a TLS listener. librdkafka reports these through every client's error
//! callback, which Weir's default log filter silences (`rdkafka=off`: a broker restart makes
//! every client report each reconnect). A refusal is not transient, though, and nothing else
//! says what it is: metadata requests only time out ("Broker transport failure").
//!
//! [`RefusalLayer`] is a tracing layer that sees the error callback's events whatever the log
//! filter, keeps the latest refusal ([`latest`]: [`super::TopicError::Unreachable`] quotes it),
//! and logs each refusal as Weir's own error, at most once per [`REPEAT_EVERY`] for the same
//! reason, so `weir serve`, `weir produce` and `weir consume` say why they cannot connect.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// How long a refusal logged once stays quiet before it is logged again.
pub const REPEAT_EVERY: Duration = Duration::from_secs(30);

/// The target librdkafka's error callback reports under (`rdkafka`'s default
/// `ClientContext::error`, through the `log` crate). librdkafka's own log lines (`librdkafka`)
/// say the same things again, in other words, and are left out.
pub const TARGET: &str = "rdkafka::client";

/// The refusals seen: the latest, and when each reason was last logged.
static SEEN: Mutex<Seen> = Mutex::new(Seen {
    latest: None,
    logged: BTreeMap::new(),
});

/// How many reasons [`Seen::logged`] remembers; past it, it starts afresh (a reason names a
/// broker, so a cluster gives a few).
const REASONS_KEPT: usize = 64;

#[derive(Debug)]
struct Seen {
    /// The latest reason and when it was seen.
    latest: Option<(String, Instant)>,
    /// When each reason was last logged.
    logged: BTreeMap<String, Instant>,
}

/// The latest refusal seen within `within`, as librdkafka gave it.
pub fn latest(within: Duration) -> Option<String> {
    let seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    seen.latest
        .as_ref()
        .filter(|(_, at)| at.elapsed() <= within)
        .map(|(reason, _)| reason.clone())
}

/// Why brokers did not answer within `timeout`, when Weir can tell: the refusal librdkafka
/// reported meanwhile ([`latest`]), or else, when no `security.protocol` is set, a pointer to
/// the security properties, since a plaintext client to a TLS listener only sees the
/// connection closed, as when a broker restarts.
pub fn explain(timeout: Duration) -> Option<String> {
    if let Some(refusal) = latest(timeout + Duration::from_secs(1)) {
        return Some(format!("the cluster refused the connection: {refusal}"));
    }
    let secured =
        super::properties::installed().is_some_and(|p| p.keys().any(|key| key == "security.protocol"));
    (!secured).then(|| {
        "if the cluster asks for TLS or a login, give its security properties \
         (-X security.protocol=SASL_SSL ..., `[kafka]`, WEIR_KAFKA_*; docs/kafka.md, \
         \"Secured clusters\")"
            .to_string()
    })
}

/// Whether librdkafka's report `text` is the cluster refusing the connection (authentication,
/// TLS, or a security protocol the listener does not speak), rather than a broker being down.
pub fn is_refusal(text: &str) -> bool {
    [
        "Local: Authentication failure",
        "SASL authentication error",
        "SSL handshake failed",
        "Local: SSL error",
        "incorrect security.protocol configuration",
        "Unsupported SASL mechanism",
    ]
    .iter()
    .any(|sign| text.contains(sign))
}

/// The reason in a report: without the `librdkafka: ` prefix rdkafka's lines start with, and
/// without librdkafka's timing (` (after 62ms in state AUTH_REQ)`), which differs from one
/// attempt to the next and would make every report a new reason.
fn reason_of(message: &str) -> &str {
    let reason = message.strip_prefix("librdkafka: ").unwrap_or(message);
    reason.split(" (after ").next().unwrap_or(reason).trim()
}

/// Notes a refusal; returns whether to log it now.
fn note(reason: &str, now: Instant) -> bool {
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    seen.latest = Some((reason.to_string(), now));
    let due = seen
        .logged
        .get(reason)
        .is_none_or(|at| now.saturating_duration_since(*at) >= REPEAT_EVERY);
    if due {
        if seen.logged.len() >= REASONS_KEPT {
            seen.logged.clear();
        }
        seen.logged.insert(reason.to_string(), now);
    }
    due
}

/// Collects an event's `message` field, and the target of an event that came from the `log`
/// crate (tracing-log gives those the target `log` and the real one in the field `log.target`).
#[derive(Default)]
struct Fields {
    message: String,
    log_target: Option<String>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            "log.target" => self.log_target = Some(value.to_string()),
            _ => {}
        }
    }
}

/// The tracing layer that notes and logs refusals; give it a filter passing [`TARGET`] at
/// `error` (main.rs does), since the user's log filter may silence it.
pub struct RefusalLayer;

impl<S: Subscriber> Layer<S> for RefusalLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let target = fields.log_target.as_deref().unwrap_or(event.metadata().target());
        if target != TARGET || !is_refusal(&fields.message) {
            return;
        }
        let reason = reason_of(&fields.message);
        if note(reason, Instant::now()) {
            tracing::error!(
                target: "weir::kafka",
                "the Kafka cluster refused a connection: {reason} (check the brokers' address \
                 and the security properties: `[kafka]`, WEIR_KAFKA_*, -X; docs/kafka.md, \
                 \"Secured clusters\")"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_from_a_broker_that_is_down() {
        for refusal in [
            "Global error: Authentication (Local: Authentication failure): sasl_ssl://b:9093/bootstrap: \
             SASL authentication error: SASL SCRAM authentication failed: broker responded with invalid-proof",
            "Global error: SSL (Local: SSL error): ssl://b:9093/bootstrap: SSL handshake failed: \
             error:0A000086:SSL routines::certificate verify failed",
            "Global error: BrokerTransportFailure (Local: Broker transport failure): b:9093/bootstrap: \
             Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol \
             configuration (connecting to a SSL listener?) or broker version is < 0.10",
        ] {
            assert!(is_refusal(refusal), "{refusal}");
        }
        for down in [
            "Global error: BrokerTransportFailure (Local: Broker transport failure): b:9092/bootstrap: \
             Connect to ipv4#127.0.0.1:9092 failed: Connection refused (after 0ms in state CONNECT)",
            "Global error: AllBrokersDown (Local: All broker connections are down): 1/1 brokers are down",
        ] {
            assert!(!is_refusal(down), "{down}");
        }
    }

    #[test]
    fn a_refusal_is_logged_once_per_interval_and_a_new_one_at_once() {
        let start = Instant::now();
        assert!(note("wrong password", start));
        assert!(!note("wrong password", start + Duration::from_secs(1)));
        assert!(!note(
            "wrong password",
            start + REPEAT_EVERY - Duration::from_millis(1)
        ));
        assert!(note("wrong password", start + REPEAT_EVERY));
        assert!(note(
            "untrusted certificate",
            start + REPEAT_EVERY + Duration::from_secs(1)
        ));
        // Two brokers refusing in turn: each reason keeps its own interval.
        assert!(!note(
            "wrong password",
            start + REPEAT_EVERY + Duration::from_secs(2)
        ));
        assert!(!note(
            "untrusted certificate",
            start + REPEAT_EVERY + Duration::from_secs(3)
        ));
        assert_eq!(
            latest(Duration::from_secs(3600)).as_deref(),
            Some("untrusted certificate")
        );
    }

    #[test]
    fn the_prefix_and_the_timing_of_rdkafkas_lines_are_dropped() {
        assert_eq!(reason_of("librdkafka: Global error: x"), "Global error: x");
        assert_eq!(
            reason_of(
                "librdkafka: Global error: x: broker responded with invalid-proof (after 62ms in state AUTH_REQ)"
            ),
            "Global error: x: broker responded with invalid-proof"
        );
        assert_eq!(reason_of("other"), "other");
    }
}
