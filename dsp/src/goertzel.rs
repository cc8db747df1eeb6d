//! Goertzel single-bin DFT.
//!
//! Per sample `s = x + c·s1 − s2` with `c = 2 cos(2πf/fs)`; at the end of a
//! block the power is `|X|² = s1² + s2² − c·s1·s2`. For a sine of amplitude
//! `A` exactly on the bin `|X|² = (A·N/2)²`, so `2|X|²/N` ([`tone_energy`])
//! equals the energy `Σx²` the tone contributes to the block: detectors compare
//! it directly with the block energy for spectral-purity tests.
//!
//! [`Goertzel`] is one filter with its own block length; [`GoertzelBank`] is a
//! set of filters sharing a block, stored as arrays so the per-sample loop
//! vectorises.

use crate::SAMPLE_RATE;

fn coeff(freq_hz: f32) -> f32 {
    2.0 * (2.0 * std::f32::consts::PI * freq_hz / SAMPLE_RATE as f32).cos()
}

/// Energy contributed to an `n`-sample block by the tone behind Goertzel
/// power `power` (see the module comment).
pub fn tone_energy(power: f32, n: usize) -> f32 {
    if n == 0 {
        0.0
    } else {
        2.0 * power / n as f32
    }
}

/// One Goertzel filter with a fixed block length.
#[derive(Debug, Clone)]
pub struct Goertzel {
    freq_hz: f32,
    coeff: f32,
    s1: f32,
    s2: f32,
    count: usize,
    block_len: usize,
}

impl Goertzel {
    /// Filter centred on `freq_hz` (need not be an integer bin) evaluated over
    /// blocks of `block_len` samples (at least 1).
    pub fn new(freq_hz: f32, block_len: usize) -> Self {
        Self {
            freq_hz,
            coeff: coeff(freq_hz),
            s1: 0.0,
            s2: 0.0,
            count: 0,
            block_len: block_len.max(1),
        }
    }

    /// Centre frequency.
    pub fn freq_hz(&self) -> f32 {
        self.freq_hz
    }

    /// Block length in samples.
    pub fn block_len(&self) -> usize {
        self.block_len
    }

    /// Samples accumulated in the current block.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Accumulate one sample without block handling (see [`Goertzel::push`]).
    #[inline]
    pub fn update(&mut self, x: f32) {
        let s = x + self.coeff * self.s1 - self.s2;
        self.s2 = self.s1;
        self.s1 = s;
        self.count += 1;
    }

    /// `|X|²` of the samples accumulated since the last reset.
    pub fn power(&self) -> f32 {
        self.s1 * self.s1 + self.s2 * self.s2 - self.coeff * self.s1 * self.s2
    }

    /// Clear the state to start a new block.
    pub fn reset(&mut self) {
        self.s1 = 0.0;
        self.s2 = 0.0;
        self.count = 0;
    }

    /// Push one sample; when it completes a block, return the block's `|X|²`
    /// and start the next block.
    #[inline]
    pub fn push(&mut self, x: f32) -> Option<f32> {
        self.update(x);
        if self.count >= self.block_len {
            let p = self.power();
            self.reset();
            Some(p)
        } else {
            None
        }
    }

    /// Push a slice of samples, calling `on_block` with `|X|²` for every block
    /// completed.
    pub fn process(&mut self, samples: &[i16], on_block: &mut dyn FnMut(f32)) {
        for &s in samples {
            if let Some(p) = self.push(f32::from(s)) {
                on_block(p);
            }
        }
    }
}

/// A set of Goertzel filters that always run over the same samples.
#[derive(Debug, Clone)]
pub struct GoertzelBank {
    freqs: Vec<f32>,
    coeffs: Vec<f32>,
    /// `sin ω` per filter, for the complex output.
    sines: Vec<f32>,
    s1: Vec<f32>,
    s2: Vec<f32>,
}

impl GoertzelBank {
    /// One filter per frequency.
    pub fn new(freqs_hz: &[f32]) -> Self {
        Self {
            freqs: freqs_hz.to_vec(),
            coeffs: freqs_hz.iter().map(|&f| coeff(f)).collect(),
            sines: freqs_hz
                .iter()
                .map(|&f| (2.0 * std::f32::consts::PI * f / SAMPLE_RATE as f32).sin())
                .collect(),
            s1: vec![0.0; freqs_hz.len()],
            s2: vec![0.0; freqs_hz.len()],
        }
    }

    /// Number of filters.
    pub fn len(&self) -> usize {
        self.coeffs.len()
    }

    /// True if the bank has no filters.
    pub fn is_empty(&self) -> bool {
        self.coeffs.is_empty()
    }

    /// Centre frequencies.
    pub fn freqs(&self) -> &[f32] {
        &self.freqs
    }

    /// Accumulate one sample into every filter.
    #[inline]
    pub fn update(&mut self, x: f32) {
        for ((c, s1), s2) in self.coeffs.iter().zip(&mut self.s1).zip(&mut self.s2) {
            let s = x + c * *s1 - *s2;
            *s2 = *s1;
            *s1 = s;
        }
    }

    /// Write `|X|²` of every filter into `out` (the shorter length wins).
    pub fn powers(&self, out: &mut [f32]) {
        for (((o, c), s1), s2) in out.iter_mut().zip(&self.coeffs).zip(&self.s1).zip(&self.s2) {
            *o = s1 * s1 + s2 * s2 - c * s1 * s2;
        }
    }

    /// Write the complex DFT value `(re, im)` of every filter into `out`,
    /// up to a phase factor that depends only on the filter and the block
    /// length. Two blocks of the same length and filter therefore differ in
    /// phase by exactly what the signal advanced between their starts, which
    /// is how a tone's frequency is measured to a fraction of a hertz.
    pub fn complex(&self, out: &mut [(f32, f32)]) {
        for ((((o, c), sn), s1), s2) in out
            .iter_mut()
            .zip(&self.coeffs)
            .zip(&self.sines)
            .zip(&self.s1)
            .zip(&self.s2)
        {
            *o = (s1 - 0.5 * c * s2, sn * s2);
        }
    }

    /// Clear all filters.
    pub fn reset(&mut self) {
        self.s1.iter_mut().for_each(|v| *v = 0.0);
        self.s2.iter_mut().for_each(|v| *v = 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(f: f32, a: f32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (a * (2.0 * std::f32::consts::PI * f * i as f32 / 8000.0).sin()).round() as i16
            })
            .collect()
    }

    #[test]
    fn on_bin_tone_energy_matches_block_energy() {
        let x = sine(1000.0, 10_000.0, 160);
        let mut g = Goertzel::new(1000.0, 160);
        let mut got = Vec::new();
        g.process(&x, &mut |p| got.push(p));
        assert_eq!(got.len(), 1);
        let e: f32 = x.iter().map(|&v| f32::from(v) * f32::from(v)).sum();
        let t = tone_energy(got[0], 160);
        assert!((t / e - 1.0).abs() < 0.01, "{t} vs {e}");
    }

    #[test]
    fn phase_advance_between_blocks_gives_the_frequency() {
        // Blocks of 160 starting 80 samples apart: the phase advances by
        // 2π·f·80/8000, whichever bin near f is used.
        let f = 437.3;
        let x = sine(f, 8_000.0, 240);
        for bin in [425.0, 440.0, 450.0] {
            let mut a = GoertzelBank::new(&[bin]);
            let mut b = GoertzelBank::new(&[bin]);
            for &v in &x[..160] {
                a.update(f32::from(v));
            }
            for &v in &x[80..240] {
                b.update(f32::from(v));
            }
            let (mut za, mut zb) = ([(0.0, 0.0)], [(0.0, 0.0)]);
            a.complex(&mut za);
            b.complex(&mut zb);
            let (re, im) = (
                zb[0].0 * za[0].0 + zb[0].1 * za[0].1,
                zb[0].1 * za[0].0 - zb[0].0 * za[0].1,
            );
            let turns = im.atan2(re) / (2.0 * std::f32::consts::PI);
            let k = (bin / 100.0 - turns).round();
            let est = 100.0 * (k + turns);
            assert!((est - f).abs() < 0.5, "bin {bin}: {est}");
        }
    }

    #[test]
    fn off_frequency_is_small() {
        let x = sine(2000.0, 10_000.0, 160);
        let mut bank = GoertzelBank::new(&[440.0, 2000.0]);
        for &v in &x {
            bank.update(f32::from(v));
        }
        let mut p = [0.0; 2];
        bank.powers(&mut p);
        assert!(p[0] < p[1] * 1e-3);
    }
}
