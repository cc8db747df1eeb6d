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

    pub fn uniform(&mut self) -> f64 {
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

/// Speech-like test signal: voiced syllables (pitch 90–250 Hz gliding,
/// harmonics to 3.4 kHz shaped by moving vowel formants), fricatives
/// (differentiated noise) and pauses, scaled to an RMS of `dbm0` over the
/// whole signal. Not speech, but it has speech's harmonic structure and
/// energy distribution, which is what talk-off/talk-down hinges on.
pub fn speech_like(dur_ms: u32, dbm0: f64, seed: u64) -> Vec<f64> {
    const VOWELS: [[f64; 3]; 6] = [
        [730.0, 1090.0, 2440.0],
        [270.0, 2290.0, 3010.0],
        [300.0, 870.0, 2240.0],
        [530.0, 1840.0, 2480.0],
        [660.0, 1720.0, 2410.0],
        [490.0, 1350.0, 1690.0],
    ];
    let n = ms(dur_ms);
    let mut rng = Noise::new(seed);
    let mut out = vec![0.0; n];
    let mut i = 0;
    let mut phase = 0.0f64;
    let mut f0 = 90.0 + 160.0 * rng.uniform();
    let mut prev = 0.0;
    while i < n {
        let kind = rng.uniform();
        let len = ((0.08 + 0.25 * rng.uniform()) * FS) as usize;
        let end = (i + len).min(n);
        if kind < 0.6 {
            let v0 = VOWELS[(rng.uniform() * 6.0) as usize % 6];
            let v1 = VOWELS[(rng.uniform() * 6.0) as usize % 6];
            let glide = (rng.uniform() - 0.5) * 2.0;
            let span = (end - i) as f64;
            for (j, o) in out[i..end].iter_mut().enumerate() {
                let u = j as f64 / span;
                let env = (std::f64::consts::PI * u).sin().powf(0.5);
                f0 = (f0 * (1.0 + glide * 0.0004 + (rng.uniform() - 0.5) * 0.002))
                    .clamp(85.0, 260.0);
                phase = (phase + f0 / FS).fract();
                let mut v = 0.0;
                let mut h = 1.0;
                while h * f0 < 3400.0 {
                    let f = h * f0;
                    let mut w = 0.0;
                    for j in 0..3 {
                        let fj = v0[j] + (v1[j] - v0[j]) * u;
                        let bw = 80.0 + 40.0 * j as f64;
                        w += 1.0 / (1.0 + ((f - fj) / bw).powi(2));
                    }
                    v += w / (1.0 + f / 400.0) * (std::f64::consts::TAU * h * phase).sin();
                    h += 1.0;
                }
                *o = env * v;
            }
        } else if kind < 0.8 {
            for v in out.iter_mut().take(end).skip(i) {
                let g = rng.gauss();
                *v = 0.15 * (g - prev);
                prev = g;
            }
        }
        i = end;
    }
    let rms = (out.iter().map(|v| v * v).sum::<f64>() / n.max(1) as f64).sqrt();
    let want = peak(dbm0) / 2f64.sqrt();
    if rms > 0.0 {
        out.iter_mut().for_each(|v| *v *= want / rms);
    }
    out
}

/// Add `b` into `a` starting at `at` (a grows if needed).
pub fn mix_at(a: &mut Vec<f64>, b: &[f64], at: usize) {
    if a.len() < at + b.len() {
        a.resize(at + b.len(), 0.0);
    }
    for (x, y) in a[at..].iter_mut().zip(b) {
        *x += y;
    }
}
