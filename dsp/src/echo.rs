//! Line echo canceller: removes pickupd's own transmit audio that leaks back
//! into the receive direction through the line's 2-wire/4-wire hybrid.
//!
//! While the office plays the call-waiting tone (SAS) or the CPE alerting
//! signal (CAS) it mutes the far party, so the only competing signal on the
//! receive path is this near-end echo (signals.md §2, §9). The transmit
//! audio is known exactly, so an adaptive FIR estimate of the echo path can
//! subtract it before the detectors run.
//!
//! Algorithm: two-path NLMS (normalised least mean squares). A *background*
//! adaptive FIR of `taps` coefficients on the transmit history is adapted
//! on its own error; the *foreground* FIR, which produces the output, is a
//! copy of it taken only when, over a block of [`BLOCK`] samples, the
//! background cancelled clearly better (3 dB) than the foreground and the
//! receive signal was mostly echo. A background that has been pulled off by
//! undetected double talk does worse than the foreground and is reset to
//! it, so the output never follows a diverging filter. Background adaptation
//! is also frozen while
//!
//! * a Geigel double-talk detector fires: `|rx| > max|tx over the filter
//!   span| · 10^(−6/20)` (the hybrid loses at least 6 dB, so a receive
//!   sample louder than that cannot be echo alone), with a hangover of
//!   [`HANGOVER_SAMPLES`], or
//! * once the canceller has converged ([`CONVERGED_BLOCKS`] blocks in a row
//!   with ≥ 15 dB echo return loss enhancement), the short-term (8 ms)
//!   output power exceeds 1/4 (−6 dB) of the short-term receive power, i.e. the receive signal holds
//!   something the echo path does not explain — far-end speech or a tone.
//!   This catches what Geigel misses because of the transmit's crest factor:
//!   without it a tone that coincides with a harmonic of the near-end speech
//!   is partly "learnt" by the filter and cancelled. A far-end signal that
//!   lasts longer than [`RECONVERGE_SAMPLES`] is taken as a changed echo
//!   path instead and the canceller falls back to the Geigel guard alone;
//!   promotion of the background also waits for blocks free of it; or
//! * the transmit signal is too weak to identify the path (its power over
//!   the span is below about −50 dBm0).
//!
//! There is no non-linear processor (residual suppressor): the output must
//! keep every signal the far end sends, tones included, untouched.
//!
//! Bulk delay: a tap covers one sample of lag, so the filter models echo
//! arriving 0 … `taps − 1` samples after the transmit sample. Callers whose
//! receive and transmit streams are offset by a buffering delay choose
//! enough taps to cover it (the daemon uses 512 taps = 64 ms).
//!
//! Working memory is allocated in [`EchoCanceller::new`]; `process` does not
//! allocate and no input can make it panic (mismatched lengths are cut to
//! the shortest).

/// Geigel threshold: receive louder than half the recent transmit peak
/// (−6 dB hybrid loss) is not echo alone.
const GEIGEL_RATIO: f32 = 0.5;
/// Adaptation stays frozen this long after the last double-talk sample
/// (30 ms).
pub const HANGOVER_SAMPLES: u32 = 240;
/// Short-term power smoothing: 1/64 per sample (8 ms).
const SHORT_TERM: f32 = 1.0 / 64.0;
/// Residual-to-receive power ratio above which a converged canceller sees
/// a non-echo signal (−6 dB).
const DT_RATIO: f32 = 0.25;
/// Block ERLE that counts towards convergence (15 dB).
const CONVERGED_ERLE: f32 = 31.6;
/// Consecutive blocks at that ERLE that mark the canceller converged.
pub const CONVERGED_BLOCKS: u32 = 10;
/// An apparent far-end signal lasting this long (4 s) without a pause is
/// taken as a changed echo path: the canceller re-converges.
pub const RECONVERGE_SAMPLES: u32 = 32_000;
/// Partial sums kept apart in the filter loop.
const LANES: usize = 8;
/// Samples per foreground/background comparison block (10 ms).
pub const BLOCK: u32 = 80;
/// NLMS step size (0 < µ < 2; 0.5 trades speed for misadjustment).
const MU: f32 = 0.5;
/// Transmit power per tap below which the path is not adapted: a sine at
/// about −50 dBm0 (peak 72) has a mean square of ≈ 2600.
const MIN_POWER_PER_TAP: f32 = 2600.0;
/// Recompute the running transmit power from scratch this often (samples),
/// so float rounding cannot accumulate.
const POWER_REFRESH: u32 = 4096;

/// NLMS line echo canceller with a Geigel double-talk guard.
#[derive(Debug, Clone)]
pub struct EchoCanceller {
    taps: usize,
    /// Foreground (output) coefficients, `coef[k]` weighs the transmit
    /// sample `k` samples ago.
    coef: Vec<f32>,
    /// Background (adapting) coefficients.
    bg: Vec<f32>,
    /// Block energies: receive, foreground error, background error.
    e_rx: f32,
    e_fg: f32,
    e_bg: f32,
    in_block: u32,
    /// Transmit history, written twice (at `pos` and `pos + taps`) so the
    /// last `taps` samples are always the contiguous slice
    /// `hist[pos .. pos + taps]`, newest first.
    hist: Vec<f32>,
    pos: usize,
    /// Sum of squares of the transmit history.
    power: f32,
    since_refresh: u32,
    hangover: u32,
    /// Short-term receive and output power.
    p_rx: f32,
    p_out: f32,
    converged: bool,
    good_blocks: u32,
    /// Hangover of the residual-power detector.
    dt_hangover: u32,
    /// Consecutive samples it has fired.
    dt_run: u32,
    /// It fired during the current block.
    dt_in_block: bool,
    /// Samples for which adaptation was frozen by the double-talk detector.
    frozen: u64,
}

impl EchoCanceller {
    /// A canceller modelling `taps` samples (at 8 kHz) of echo path;
    /// `taps` of 0 is taken as 1.
    pub fn new(taps: usize) -> Self {
        let taps = taps.max(1);
        EchoCanceller {
            taps,
            coef: vec![0.0; taps],
            bg: vec![0.0; taps],
            e_rx: 0.0,
            e_fg: 0.0,
            e_bg: 0.0,
            in_block: 0,
            hist: vec![0.0; 2 * taps],
            pos: 0,
            power: 0.0,
            since_refresh: 0,
            hangover: 0,
            p_rx: 0.0,
            p_out: 0.0,
            converged: false,
            good_blocks: 0,
            dt_hangover: 0,
            dt_run: 0,
            dt_in_block: false,
            frozen: 0,
        }
    }

    /// Number of taps.
    pub fn taps(&self) -> usize {
        self.taps
    }

    /// The current echo path estimate (`[k]` = gain at `k` samples of lag).
    pub fn coefficients(&self) -> &[f32] {
        &self.coef
    }

    /// Is adaptation currently held by the double-talk detector?
    pub fn double_talk(&self) -> bool {
        self.hangover > 0 || self.dt_hangover > 0
    }

    /// Has the canceller converged on an echo path?
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// Samples processed while the double-talk detector held adaptation.
    pub fn frozen_samples(&self) -> u64 {
        self.frozen
    }

    /// Forget the echo path and the transmit history.
    pub fn reset(&mut self) {
        self.coef.fill(0.0);
        self.bg.fill(0.0);
        self.e_rx = 0.0;
        self.e_fg = 0.0;
        self.e_bg = 0.0;
        self.in_block = 0;
        self.hist.fill(0.0);
        self.pos = 0;
        self.power = 0.0;
        self.since_refresh = 0;
        self.hangover = 0;
        self.p_rx = 0.0;
        self.p_out = 0.0;
        self.converged = false;
        self.good_blocks = 0;
        self.dt_hangover = 0;
        self.dt_run = 0;
        self.dt_in_block = false;
        self.frozen = 0;
    }

    /// Cancel the echo of `tx` (what was sent, sample-aligned with `rx`)
    /// from `rx` (what was received) into `out`. Processes
    /// `min(tx, rx, out)` samples.
    pub fn process(&mut self, tx: &[i16], rx: &[i16], out: &mut [i16]) {
        for ((&t, &r), o) in tx.iter().zip(rx).zip(out.iter_mut()) {
            *o = self.sample(t, r);
        }
    }

    /// End of a comparison block: promote a better background, or pull a
    /// diverging one back to the foreground.
    fn compare(&mut self) {
        let (rx, fg, bg) = (self.e_rx, self.e_fg, self.e_bg);
        let dt = self.dt_in_block;
        self.e_rx = 0.0;
        self.e_fg = 0.0;
        self.e_bg = 0.0;
        self.in_block = 0;
        self.dt_in_block = false;
        // Too quiet to judge (below about -50 dBm0 over the block).
        if rx < MIN_POWER_PER_TAP * BLOCK as f32 {
            return;
        }
        if !dt && rx >= CONVERGED_ERLE * fg {
            self.good_blocks += 1;
            if self.good_blocks >= CONVERGED_BLOCKS {
                self.converged = true;
            }
        } else {
            self.good_blocks = 0;
        }
        if !bg.is_finite() || bg > 4.0 * fg {
            // 6 dB worse than the output filter: undetected double talk or
            // a change the background has not caught up with; restart it
            // from the filter known to work.
            self.bg.copy_from_slice(&self.coef);
        } else if !dt && bg < 0.5 * fg && bg < 0.5 * rx {
            // 3 dB better than the output filter and cancelling at least
            // 3 dB of the receive signal: echo dominates; take it.
            self.coef.copy_from_slice(&self.bg);
        }
    }

    /// One sample: push `tx`, return `rx` minus the echo estimate.
    pub fn sample(&mut self, tx: i16, rx: i16) -> i16 {
        let n = self.taps;
        // Move to the next slot (newest first: decrementing position).
        self.pos = if self.pos == 0 { n - 1 } else { self.pos - 1 };
        let x = f32::from(tx);
        let oldest = self.hist[self.pos];
        self.hist[self.pos] = x;
        self.hist[self.pos + n] = x;
        self.power += x * x - oldest * oldest;
        self.since_refresh += 1;
        let window = &self.hist[self.pos..self.pos + n];
        if self.since_refresh >= POWER_REFRESH {
            self.since_refresh = 0;
            self.power = window.iter().map(|v| v * v).sum();
        }
        if self.power < 0.0 {
            self.power = 0.0;
        }
        // Eight independent partial sums so the compiler can vectorise.
        let mut acc_fg = [0.0f32; LANES];
        let mut acc_bg = [0.0f32; LANES];
        let mut acc_peak = [0.0f32; LANES];
        let chunks = self
            .coef
            .chunks_exact(LANES)
            .zip(self.bg.chunks_exact(LANES))
            .zip(window.chunks_exact(LANES));
        for ((c, b), v) in chunks {
            for l in 0..LANES {
                acc_fg[l] += c[l] * v[l];
                acc_bg[l] += b[l] * v[l];
                acc_peak[l] = acc_peak[l].max(v[l].abs());
            }
        }
        let tail = n - n % LANES;
        let rest = self.coef[tail..]
            .iter()
            .zip(&self.bg[tail..])
            .zip(&window[tail..]);
        for ((&c, &b), &v) in rest {
            acc_fg[0] += c * v;
            acc_bg[0] += b * v;
            acc_peak[0] = acc_peak[0].max(v.abs());
        }
        let estimate: f32 = acc_fg.iter().sum();
        let estimate_bg: f32 = acc_bg.iter().sum();
        let peak = acc_peak.iter().fold(0.0f32, |m, &v| m.max(v));
        let y = f32::from(rx);
        let err = y - estimate;
        let err_bg = y - estimate_bg;
        // Geigel double-talk detection.
        if y.abs() > GEIGEL_RATIO * peak {
            self.hangover = HANGOVER_SAMPLES;
        } else if self.hangover > 0 {
            self.hangover -= 1;
        }
        // Residual-power double-talk detection (see the module comment).
        self.p_rx += (y * y - self.p_rx) * SHORT_TERM;
        self.p_out += (err * err - self.p_out) * SHORT_TERM;
        if self.converged && self.p_rx > MIN_POWER_PER_TAP && self.p_out > DT_RATIO * self.p_rx {
            self.dt_hangover = HANGOVER_SAMPLES;
            self.dt_run += 1;
            if self.dt_run >= RECONVERGE_SAMPLES {
                self.converged = false;
                self.good_blocks = 0;
                self.dt_run = 0;
            }
        } else {
            self.dt_run = 0;
            self.dt_hangover = self.dt_hangover.saturating_sub(1);
        }
        if self.dt_hangover > 0 {
            self.dt_in_block = true;
        }
        let floor = MIN_POWER_PER_TAP * n as f32;
        if self.hangover > 0 || self.dt_hangover > 0 {
            self.frozen += 1;
        } else if self.power > floor && err_bg.is_finite() {
            let g = MU * err_bg / (self.power + floor);
            for (c, &v) in self.bg.iter_mut().zip(window) {
                *c += g * v;
            }
        }
        self.e_rx += y * y;
        self.e_fg += err * err;
        self.e_bg += err_bg * err_bg;
        self.in_block += 1;
        if self.in_block >= BLOCK {
            self.compare();
        }
        // `as` saturates.
        err.round() as i16
    }
}
