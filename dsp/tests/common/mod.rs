//! Test signal helpers written independently of the crate's generators.
#![allow(dead_code)]

pub const FS: f64 = 8000.0;

/// Peak of a sine at `dbm0` (0 dBm0 ≈ 22 800 peak).
pub fn peak(dbm0: f64) -> f64 {
    22_800.0 * 10f64.powf(dbm0 / 20.0)
}

pub fn ms(v: u32) -> usize {
    v as usize * 8
}

/// Sum of sines `(freq, dBm0)` for `ms` milliseconds.
pub fn tones(components: &[(f64, f64)], dur_ms: u32) -> Vec<f64> {
    (0..ms(dur_ms))
        .map(|n| {
            components
                .iter()
                .map(|&(f, l)| peak(l) * (2.0 * std::f64::consts::PI * f * n as f64 / FS).sin())
                .sum()
        })
        .collect()
}

pub fn silence(dur_ms: u32) -> Vec<f64> {
    vec![0.0; ms(dur_ms)]
}

pub fn to_pcm(x: &[f64]) -> Vec<i16> {
    x.iter()
        .map(|&v| v.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// Concatenate pieces.
pub fn cat(parts: &[Vec<f64>]) -> Vec<f64> {
    parts.concat()
}

/// Deterministic white Gaussian-ish noise at an RMS level of `dbm0`.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn uniform(&mut self) -> f64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (v >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Approximately normal (sum of 12 uniforms), unit variance.
    pub fn gauss(&mut self) -> f64 {
        (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
    }

    pub fn add(&mut self, x: &mut [f64], dbm0: f64) {
        let rms = peak(dbm0) / 2f64.sqrt();
        for v in x.iter_mut() {
            *v += rms * self.gauss();
        }
    }

    /// Uniform i16 garbage.
    pub fn garbage(&mut self, n: usize) -> Vec<i16> {
        (0..n)
            .map(|_| (self.uniform() * 65536.0 - 32768.0) as i16)
            .collect()
    }
}
