//! Audio plumbing: WAV reading, resampling to 8 kHz, band limiting, levels,
//! G.711 round trips and a deterministic random generator.

use pickupd_dsp::g711::{alaw_decode, alaw_encode, ulaw_decode, ulaw_encode};
use pickupd_dsp::DBM0_PEAK;

/// Output sample rate.
pub const FS: u32 = 8000;

/// RMS (in s16 units) of a signal whose long-term level is 0 dBm0.
pub fn dbm0_rms() -> f32 {
    DBM0_PEAK / std::f32::consts::SQRT_2
}

/// Linear gain for a level change of `db`.
pub fn db_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Mono 16-bit PCM WAV contents.
pub struct Wav {
    pub rate: u32,
    pub samples: Vec<f32>,
}

/// Read a 16-bit PCM WAV file (mono, or the first channel of several).
pub fn read_wav(bytes: &[u8]) -> Result<Wav, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let mut pos = 12;
    let mut format: Option<(u16, u32, u16)> = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let declared = u32_at(pos + 4) as usize;
        let body = pos + 8;
        // espeak-ng writes 0x7fffffff-ish sizes when streaming; clamp to the file.
        let len = declared.min(bytes.len() - body);
        if id == b"fmt " && len >= 16 {
            format = Some((u16_at(body + 2), u32_at(body + 4), u16_at(body + 14)));
        } else if id == b"data" {
            let (channels, rate, bits) = format.ok_or("data before fmt")?;
            if bits != 16 || channels == 0 {
                return Err(format!("unsupported WAV: {bits} bits, {channels} channels"));
            }
            let frame = 2 * usize::from(channels);
            let samples = bytes[body..body + len]
                .chunks_exact(frame)
                .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])))
                .collect();
            return Ok(Wav { rate, samples });
        }
        pos = body + len + (len & 1);
    }
    Err("no data chunk".into())
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Polyphase windowed-sinc resampler from `rate` to 8 kHz with its low-pass
/// at `cutoff_hz` (−6 dB point, Blackman window over ±24 output samples).
pub fn resample_to_8k(x: &[f32], rate: u32, cutoff_hz: f32) -> Vec<f32> {
    let g = gcd(rate, FS);
    let up = (FS / g) as usize; // L
    let down = (rate / g) as usize; // M
                                    // Half-width in input samples: 24 output periods.
    let half = (24.0 * rate as f32 / FS as f32).ceil() as i64;
    let fc = (cutoff_hz / rate as f32).min(0.5); // cycles per input sample
    let taps = (2 * half) as usize;
    // table[p][j] = h(p/L − (j − half + 1)) for j in 0..taps.
    let table: Vec<Vec<f32>> = (0..up)
        .map(|p| {
            (0..taps)
                .map(|j| {
                    let k = j as i64 - half + 1;
                    let u = p as f64 / up as f64 - k as f64;
                    let a = 2.0 * f64::from(fc) * u;
                    let sinc = if a.abs() < 1e-12 {
                        1.0
                    } else {
                        (std::f64::consts::PI * a).sin() / (std::f64::consts::PI * a)
                    };
                    // Blackman over u ∈ (−half, half).
                    let w = 0.5 + u / (2.0 * half as f64);
                    let win = if (0.0..=1.0).contains(&w) {
                        0.42 - 0.5 * (std::f64::consts::TAU * w).cos()
                            + 0.08 * (2.0 * std::f64::consts::TAU * w).cos()
                    } else {
                        0.0
                    };
                    (2.0 * f64::from(fc) * sinc * win) as f32
                })
                .collect()
        })
        .collect();
    let out_len = x.len() * up / down;
    let mut out = Vec::with_capacity(out_len);
    for n in 0..out_len {
        let pos = n * down;
        let i = (pos / up) as i64;
        let coeffs = &table[pos % up];
        let first = i - half + 1;
        let mut acc = 0.0f32;
        if first >= 0 && (first as usize + taps) <= x.len() {
            let s = &x[first as usize..first as usize + taps];
            acc = s.iter().zip(coeffs).map(|(a, b)| a * b).sum();
        } else {
            for (j, c) in coeffs.iter().enumerate() {
                let idx = first + j as i64;
                if idx >= 0 && (idx as usize) < x.len() {
                    acc += x[idx as usize] * c;
                }
            }
        }
        out.push(acc);
    }
    out
}

/// Biquad section, direct form I.
#[derive(Clone, Copy)]
struct Biquad {
    b: [f32; 3],
    a: [f32; 2],
    x: [f32; 2],
    y: [f32; 2],
}

impl Biquad {
    fn high_pass(fc: f32, q: f32) -> Self {
        let w0 = std::f32::consts::TAU * fc / FS as f32;
        let alpha = w0.sin() / (2.0 * q);
        let cos = w0.cos();
        let a0 = 1.0 + alpha;
        let b0 = (1.0 + cos) / 2.0 / a0;
        Self {
            b: [b0, -2.0 * b0, b0],
            a: [-2.0 * cos / a0, (1.0 - alpha) / a0],
            x: [0.0; 2],
            y: [0.0; 2],
        }
    }

    fn run(&mut self, x: f32) -> f32 {
        let y = self.b[0] * x + self.b[1] * self.x[0] + self.b[2] * self.x[1]
            - self.a[0] * self.y[0]
            - self.a[1] * self.y[1];
        self.x = [x, self.x[0]];
        self.y = [y, self.y[0]];
        y
    }
}

/// 4th-order Butterworth high-pass at `fc` (two biquads), in place.
pub fn high_pass_4(x: &mut [f32], fc: f32) {
    let mut s1 = Biquad::high_pass(fc, 0.541_196_1);
    let mut s2 = Biquad::high_pass(fc, 1.306_563);
    for v in x.iter_mut() {
        *v = s2.run(s1.run(*v));
    }
}

/// Long-term RMS.
pub fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt() as f32
}

/// G.711 law used for one stretch of signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    Mu,
    A,
}

impl Law {
    pub fn name(self) -> &'static str {
        match self {
            Law::Mu => "µ-law",
            Law::A => "A-law",
        }
    }

    /// Quantise `x` to s16 and pass it through this law's encoder and decoder.
    pub fn round_trip(self, x: f32) -> i16 {
        let s = x.round().clamp(-32768.0, 32767.0) as i16;
        match self {
            Law::Mu => ulaw_decode(ulaw_encode(s)),
            Law::A => alaw_decode(alaw_encode(s)),
        }
    }
}

/// Deterministic xorshift64* generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Approximately normal, unit variance (sum of 12 uniforms).
    pub fn gauss(&mut self) -> f32 {
        (0..12).map(|_| self.uniform()).sum::<f32>() - 6.0
    }
}

/// Sum of sines (frequency Hz, level dBm0) with random start phases.
pub fn sines(components: &[(f32, f32)], samples: usize, rng: &mut Rng) -> Vec<f32> {
    let comps: Vec<(f64, f32, f64)> = components
        .iter()
        .map(|&(f, l)| {
            (
                f64::from(f) / f64::from(FS),
                pickupd_dsp::dbm0_to_peak(l),
                f64::from(rng.uniform()),
            )
        })
        .collect();
    (0..samples)
        .map(|n| {
            comps
                .iter()
                .map(|&(f, a, ph)| {
                    a * (std::f64::consts::TAU * (f * n as f64 + ph).fract()).sin() as f32
                })
                .sum()
        })
        .collect()
}
