//! Per-sensor statistics per window: count, sum, min, max and mean of JSON readings
//! `{"sensor": "...", "value": <f64>, "ts": <ms>}`. Event time comes from `ts`.

use serde::{Deserialize, Serialize};
use weir_sdk::{Emitter, MapReduce, Output, Record, Result, Window};

/// The sensor-stats module.
pub struct SensorStats;

/// One input reading.
#[derive(Debug, Deserialize)]
pub struct Reading {
    /// Sensor name: the grouping key.
    pub sensor: String,
    /// The measurement.
    pub value: f64,
    /// Event time, milliseconds since the Unix epoch.
    pub ts: i64,
}

/// Running statistics of a sensor in a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Number of readings.
    pub count: u64,
    /// Sum of the values.
    pub sum: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Stats {
    /// Statistics of one reading.
    pub fn of(value: f64) -> Self {
        Stats {
            count: 1,
            sum: value,
            min: value,
            max: value,
        }
    }

    /// Statistics of the union of two sets of readings.
    pub fn merge(self, other: Stats) -> Self {
        Stats {
            count: self.count + other.count,
            sum: self.sum + other.sum,
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }
}

#[weir_sdk::processor]
impl MapReduce for SensorStats {
    type Key = String;
    type Value = Stats;

    fn map(record: &Record, out: &mut Emitter<String, Stats>) -> Result<()> {
        let reading: Reading = record.json()?;
        if !reading.value.is_finite() {
            return Err(weir_sdk::Error::msg(format_args!(
                "sensor {}: value {} is not a finite number",
                reading.sensor, reading.value
            )));
        }
        out.emit_at(reading.ts, reading.sensor, Stats::of(reading.value));
        Ok(())
    }

    fn reduce(a: Stats, b: Stats) -> Stats {
        a.merge(b)
    }

    fn finish(window: Window, sensor: String, stats: Stats) -> Result<Output> {
        #[derive(Serialize)]
        struct Summary {
            count: u64,
            sum: f64,
            min: f64,
            max: f64,
            mean: f64,
        }
        let summary = Summary {
            count: stats.count,
            sum: stats.sum,
            min: stats.min,
            max: stats.max,
            mean: stats.sum / stats.count as f64,
        };
        Output::window_json(window, &sensor, &summary)
    }
}

#[cfg(test)]
mod tests {
    use super::Stats;

    #[test]
    fn merge_keeps_count_sum_min_max() {
        let s = Stats::of(2.0).merge(Stats::of(-1.0)).merge(Stats::of(5.5));
        assert_eq!(
            s,
            Stats {
                count: 3,
                sum: 6.5,
                min: -1.0,
                max: 5.5
            }
        );
    }
}
