//! [`Watermark`]: the event time up to which the stream is taken to be complete.

/// Maximum event time seen, minus the bounded out-of-orderness. Only rises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    out_of_orderness: i64,
    current: i64,
}

impl Watermark {
    /// A watermark that trails the largest event time by `out_of_orderness` ms. It starts at
    /// `i64::MIN`: nothing is late until something has been seen.
    pub fn new(out_of_orderness: i64) -> Self {
        Watermark {
            out_of_orderness,
            current: i64::MIN,
        }
    }

    /// The current watermark.
    pub fn current(&self) -> i64 {
        self.current
    }

    /// Takes an event time into account.
    pub fn observe(&mut self, event_time: i64) {
        self.advance_to(event_time.saturating_sub(self.out_of_orderness));
    }

    /// Moves the watermark to `watermark` if that is later (end of input, processing time).
    pub fn advance_to(&mut self, watermark: i64) {
        self.current = self.current.max(watermark);
    }
}

#[cfg(test)]
mod tests {
    use super::Watermark;

    #[test]
    fn trails_the_maximum_and_never_falls() {
        let mut w = Watermark::new(100);
        assert_eq!(w.current(), i64::MIN);
        w.observe(1_000);
        assert_eq!(w.current(), 900);
        w.observe(500);
        assert_eq!(w.current(), 900);
        w.observe(i64::MIN);
        assert_eq!(w.current(), 900);
        w.advance_to(i64::MAX);
        assert_eq!(w.current(), i64::MAX);
    }
}
