// SPDX-License-Identifier: Apache-2.0
//! [`Rng`]: the workspace's one xorshift generator.

/// A small xorshift generator for random schedules (kill times) without a
/// dependency. The seed is printed so that a failing run can be repeated
/// with `REEDBASE_TEST_SEED`.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `REEDBASE_TEST_SEED`, or from the clock.
    pub fn from_env_or_clock() -> Rng {
        let seed = std::env::var("REEDBASE_TEST_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.subsec_nanos());
                u64::from(nanos) | 1
            });
        println!("random seed {seed} (set REEDBASE_TEST_SEED to repeat)");
        Rng(seed)
    }

    /// Seeded with `seed`; 0, which xorshift never leaves, is taken as 1.
    pub fn with_seed(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// A number in `low..high`.
    pub fn below(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low).max(1)
    }
}

#[cfg(test)]
#[path = "rng_test.rs"]
mod tests;
