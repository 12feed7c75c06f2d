//! [`SinkReport`]: the delivery report of a [`Sink`](super::sink::Sink)'s producer. It counts
//! failed deliveries as [`DeliveryReport`] does, but a job's sink has it keep the records the
//! broker refused as too large (`MSG_SIZE_TOO_LARGE`, a broker or topic limit below Weir's) apart,
//! so that the sink can cut them or set them aside and send them again instead of failing the
//! commit cycle, which would restart the stage into the same refusal forever.

use super::DeliveryReport;
use crate::outgoing::{Kind, Outgoing};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Message};
use std::sync::Mutex;

/// Delivery failures, and the records refused as too large.
#[derive(Default)]
pub struct SinkReport {
    failures: DeliveryReport,
    /// Keep refused-as-too-large records apart (`true`), or count them as failures.
    keep_refused: bool,
    refused: Mutex<Vec<Outgoing>>,
}

impl SinkReport {
    /// A report that keeps records refused as too large apart when `keep_refused`, and
    /// otherwise counts them as failures like any other.
    pub fn new(keep_refused: bool) -> Self {
        SinkReport {
            keep_refused,
            ..SinkReport::default()
        }
    }

    /// How many records failed so far (refused records kept apart not included), and the
    /// latest failure's reason.
    pub fn failures(&self) -> (u64, Option<String>) {
        self.failures.failures()
    }

    /// The records refused as too large since the last call, in the order of their reports.
    pub fn take_refused(&self) -> Vec<Outgoing> {
        std::mem::take(&mut *self.refused.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ClientContext for SinkReport {}

/// The delivery opaque of a record with `timestamp`: librdkafka reports no timestamp for a
/// failed record, and a record sent again must keep its own. 0 (no timestamp: the producer
/// stamps it) also stands for one that does not fit.
pub fn timestamp_opaque(timestamp: Option<i64>) -> usize {
    timestamp.and_then(|t| usize::try_from(t).ok()).unwrap_or(0)
}

impl ProducerContext for SinkReport {
    /// The record's timestamp, from [`timestamp_opaque`].
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, timestamp: Self::DeliveryOpaque) {
        if self.keep_refused
            && let Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), message)) =
                result
        {
            let mut record = outgoing(message);
            record.timestamp = i64::try_from(timestamp).ok().filter(|t| *t > 0);
            self.refused
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(record);
            return;
        }
        self.failures.delivery(result, ());
    }
}

/// A copy of a refused message, to send again (but for its timestamp, which librdkafka does not
/// report for a failed record): its partition is the one it was refused on.
fn outgoing(message: &BorrowedMessage<'_>) -> Outgoing {
    Outgoing {
        kind: Kind::Other,
        topic: message.topic().to_string(),
        partition: Some(message.partition()),
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        timestamp: None,
        headers: super::message_headers(message),
    }
}
