//! Dev-only helpers shared by Weir's tests, benches and benchmark harnesses (`publish = false`).
//!
//! Holds what more than one of them would otherwise copy: [`Rng`], the SplitMix64 generator the
//! benchmarks draw their inputs from (no dependency needed for this), so the same seed gives the
//! same workload on every machine.
//!
//! It does not depend on `weir`: a helper that needs the runtime's types (a native
//! `weir::guest::Guest` for example) would make `weir`'s dev-dependencies build a
//! second copy of the runtime for its unit tests, so those stay next to the tests that use them.

/// SplitMix64: a small deterministic PRNG.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    #[allow(
        clippy::should_implement_trait,
        reason = "an endless generator, not an iterator; the callers' name since the benches began"
    )]
    #[inline]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, n) (with a negligible bias for the small `n` the benchmarks use).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    /// The first outputs for seed 0 are SplitMix64's published ones: the workloads stay the
    /// same as long as this passes.
    #[test]
    fn splitmix64_reference_values() {
        let mut rng = Rng(0);
        assert_eq!(rng.next(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next(), 0x06C4_5D18_8009_454F);
    }
}
