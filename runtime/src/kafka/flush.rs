//! [`flush_promptly`]: waits until a producer has every record acknowledged, returning as soon
//! as it has.
//!
//! rust-rdkafka's `BaseProducer::flush` checks once, then polls for up to 100 ms at a time, and
//! its `poll(timeout)` serves events until the timeout has passed, not until the first one: a
//! flush of a record the broker acknowledges in a millisecond took 100 ms, and a claim polled
//! for 50 ms took 50 ms. This polls a millisecond at a time instead.

use rdkafka::producer::{BaseProducer, Producer, ProducerContext};
use std::time::{Duration, Instant};

/// How long each poll of the wait serves delivery reports.
const STEP: Duration = Duration::from_millis(1);

/// Not everything was acknowledged within the timeout.
#[derive(Debug, thiserror::Error)]
#[error("{in_flight} records not acknowledged within {timeout:?}")]
pub struct FlushTimedOut {
    /// Records still in flight.
    pub in_flight: i32,
    /// The timeout.
    pub timeout: Duration,
}

/// Serves `producer`'s delivery reports until none is outstanding (every record acknowledged or
/// failed, and its report handed to the context), or `timeout` has passed.
pub fn flush_promptly<C: ProducerContext>(
    producer: &BaseProducer<C>,
    timeout: Duration,
) -> Result<(), FlushTimedOut> {
    let deadline = Instant::now() + timeout;
    loop {
        producer.poll(Duration::ZERO);
        let in_flight = producer.in_flight_count();
        if in_flight == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(FlushTimedOut { in_flight, timeout });
        }
        producer.poll(STEP);
    }
}
