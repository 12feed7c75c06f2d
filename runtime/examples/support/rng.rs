//! SplitMix64, the small deterministic generator the benchmarks draw their inputs from (no
//! dependency needed for this): the same seed gives the same workload on every machine.
//! Included with `#[path]` by the examples and benches that generate input.

/// SplitMix64: a small deterministic PRNG.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, n) (with a negligible bias for the small `n` the benchmarks use).
    #[allow(dead_code, reason = "not every includer draws integers")]
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
