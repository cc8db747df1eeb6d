//! DTMF receiver and generator (ITU-T Q.23/Q.24 figures as summarised by
//! spandsp `dtmf.h`; signals.md §7).
//!
//! Receiver design: 102-sample Goertzel windows (12.75 ms, as spandsp and
//! Asterisk) evaluated every 51 samples by two staggered filter banks. A window
//! is a *hit* for a digit when
//!
//! * the strongest row and column tones are each above −42 dBm0,
//! * the twist is plausible (≤ 11 dB normal, ≤ 7 dB reverse): over 102
//!   samples the other group's tone leaks into the weaker bin and moves the
//!   measured twist by up to ±1.2 dB from window to window, so the Q.24
//!   limits — normal twist (row stronger) ≤ 8 dB, reverse ≤ 4 dB — are
//!   checked on the powers summed over the windows that confirm the digit
//!   (with 0.5 dB margin),
//! * each peak is ≥ 8 dB above the other bins of its group (6 dB for the
//!   column group, see [`RELATIVE_PEAK_COL`]),
//! * row + column hold a large share of the window energy (spectral purity,
//!   relative to the signal, not a fixed floor), and
//! * both halves of the window carry similar energy, i.e. the tone fills the
//!   window rather than starting or stopping inside it.
//!
//! The spandsp rule "two consecutive agreeing 102-sample blocks" accepts
//! tones of about 26 ms, too short to reject the 30 ms tones Q.24 wants
//! rejected; with half-block hops five consecutive hits correspond to
//! ≈ 38 ms of steady tone, which accepts every 40 ms tone and rejects every
//! 30 ms one. A digit ends after three consecutive misses (≈ 19 ms).

use std::collections::VecDeque;
use std::fmt;

use crate::goertzel::{tone_energy, GoertzelBank};
use crate::{clamp_i16, dbm0_to_peak, ms_to_samples, sine_energy, SAMPLE_RATE};

/// Row (low group) frequencies.
pub const ROW_FREQS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// Column (high group) frequencies.
pub const COL_FREQS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Row and column index of a digit (`0-9 * # A-D`, letters in either case).
pub fn digit_position(digit: char) -> Option<(usize, usize)> {
    let d = digit.to_ascii_uppercase();
    KEYPAD
        .iter()
        .enumerate()
        .find_map(|(r, row)| row.iter().position(|&c| c == d).map(|c| (r, c)))
}

/// Row and column frequency of a digit.
pub fn digit_freqs(digit: char) -> Option<(f32, f32)> {
    digit_position(digit).map(|(r, c)| (ROW_FREQS[r], COL_FREQS[c]))
}

/// Event reported by [`DtmfDetector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfEvent {
    /// A digit was confirmed; `at_sample` is the estimated start of the tone.
    Begin { digit: char, at_sample: u64 },
    /// The digit stopped; `at_sample` is the estimated end of the tone and
    /// `duration_samples` the estimated tone length.
    End {
        digit: char,
        at_sample: u64,
        duration_samples: u32,
    },
}

const BLOCK: usize = 102;
const HOP: usize = BLOCK / 2;
const HITS_TO_BEGIN: u32 = 5;
const MISSES_TO_END: u32 = 3;
/// Per-tone floor: −42 dBm0 (spandsp threshold).
const FLOOR_DBM0: f32 = -42.0;
/// 8 dB normal twist, as a power ratio, checked on the powers summed over
/// the confirming windows (+0.5 dB measurement margin).
const NORMAL_TWIST: f32 = 7.08;
/// 4 dB reverse twist, checked like [`NORMAL_TWIST`].
const REVERSE_TWIST: f32 = 2.82;
/// Per-window twist limits (11 dB / 7 dB): one window alone measures twist
/// only to about ±1.2 dB (see the module comment).
const NORMAL_TWIST_WINDOW: f32 = 12.6;
const REVERSE_TWIST_WINDOW: f32 = 5.0;
/// Row peak ≥ 8 dB above the other row bins.
const RELATIVE_PEAK_ROW: f32 = 6.31;
/// Column peak ≥ 6 dB above the other column bins: at 8 dB normal twist the
/// strong row tone leaks into the 1209 Hz bin through the 102-sample
/// window's sidelobes and leaves only ≈ 7 dB between the column bins.
pub const RELATIVE_PEAK_COL: f32 = 3.98;
/// Row + column ≥ −2 dB of the window energy. spandsp's −0.85 dB would
/// reject a +1.5 % '#'/'D' (the 1633 Hz bin alone loses 1.4 dB over 102
/// samples); −2 dB still rejects ±3.5 %, where the pair keeps ≤ −2.7 dB.
const PURITY: f32 = 0.63;
/// Minimum energy ratio between the two halves of a window.
const STEADY: f32 = 0.5;

/// DTMF receiver. Feed it any amount of audio; events come through the
/// callback as soon as they are known.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    banks: [GoertzelBank; 2],
    /// Energy of the current and the previous half-window.
    half_energy: f32,
    prev_half_energy: f32,
    /// Samples in the current half-window.
    pos: usize,
    /// Half-windows completed, selects the bank whose window just ended.
    halves: u64,
    /// Samples consumed so far.
    samples: u64,
    floor: f32,
    candidate: Option<char>,
    candidate_hits: u32,
    candidate_start: u64,
    /// Row and column tone energy summed over the candidate's hits.
    candidate_row: f32,
    candidate_col: f32,
    current: Option<char>,
    current_start: u64,
    current_last_end: u64,
    misses: u32,
}

impl Default for DtmfDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl DtmfDetector {
    /// Receiver with the Q.24 settings described in the module comment.
    pub fn new() -> Self {
        let freqs: Vec<f32> = ROW_FREQS.iter().chain(&COL_FREQS).copied().collect();
        Self {
            banks: [GoertzelBank::new(&freqs), GoertzelBank::new(&freqs)],
            half_energy: 0.0,
            prev_half_energy: 0.0,
            pos: 0,
            halves: 0,
            samples: 0,
            floor: sine_energy(FLOOR_DBM0, BLOCK),
            candidate: None,
            candidate_hits: 0,
            candidate_start: 0,
            candidate_row: 0.0,
            candidate_col: 0.0,
            current: None,
            current_start: 0,
            current_last_end: 0,
            misses: 0,
        }
    }

    /// The digit currently being received, if any.
    pub fn current_digit(&self) -> Option<char> {
        self.current
    }

    /// Feed any number of samples; `at_sample` counts from the first sample
    /// ever fed.
    pub fn process(&mut self, samples: &[i16], on_event: &mut dyn FnMut(DtmfEvent)) {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (HOP - self.pos).min(rest.len());
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            for &s in chunk {
                let x = f32::from(s);
                self.banks[0].update(x);
                self.banks[1].update(x);
                self.half_energy += x * x;
            }
            self.pos += take;
            self.samples += take as u64;
            if self.pos == HOP {
                self.pos = 0;
                self.end_of_half(on_event);
            }
        }
    }

    fn end_of_half(&mut self, on_event: &mut dyn FnMut(DtmfEvent)) {
        // The bank started two half-windows ago now spans a full window.
        let bank = &mut self.banks[(self.halves & 1) as usize];
        self.halves += 1;
        let mut p = [0.0f32; 8];
        bank.powers(&mut p);
        bank.reset();
        let (e1, e2) = (self.prev_half_energy, self.half_energy);
        self.prev_half_energy = e2;
        self.half_energy = 0.0;
        let hit = self.classify(&p, e1, e2);
        let window_end = self.samples;
        let window_start = window_end.saturating_sub(BLOCK as u64);
        self.step(hit, window_start, window_end, on_event);
    }

    fn classify(&self, p: &[f32; 8], e1: f32, e2: f32) -> Option<Hit> {
        let energy = e1 + e2;
        if e1.min(e2) < STEADY * e1.max(e2) {
            return None;
        }
        let mut t = [0.0f32; 8];
        for (o, &v) in t.iter_mut().zip(p) {
            *o = tone_energy(v, BLOCK);
        }
        let (rows, cols) = t.split_at(4);
        let (r, row) = strongest(rows)?;
        let (c, col) = strongest(cols)?;
        if row < self.floor || col < self.floor {
            return None;
        }
        if row > col * NORMAL_TWIST_WINDOW || col > row * REVERSE_TWIST_WINDOW {
            return None;
        }
        let dominates = |group: &[f32], best: usize, peak: f32, ratio: f32| {
            group
                .iter()
                .enumerate()
                .all(|(i, &v)| i == best || peak >= v * ratio)
        };
        if !dominates(rows, r, row, RELATIVE_PEAK_ROW)
            || !dominates(cols, c, col, RELATIVE_PEAK_COL)
        {
            return None;
        }
        if row + col < PURITY * energy {
            return None;
        }
        Some(Hit {
            digit: KEYPAD[r][c],
            row,
            col,
        })
    }

    fn step(
        &mut self,
        hit: Option<Hit>,
        start: u64,
        end: u64,
        on_event: &mut dyn FnMut(DtmfEvent),
    ) {
        match hit {
            Some(h) if self.candidate == Some(h.digit) => {
                self.candidate_hits = self.candidate_hits.saturating_add(1);
                self.candidate_row += h.row;
                self.candidate_col += h.col;
            }
            Some(h) => {
                self.candidate = Some(h.digit);
                self.candidate_hits = 1;
                self.candidate_start = start;
                self.candidate_row = h.row;
                self.candidate_col = h.col;
            }
            None => {
                self.candidate = None;
                self.candidate_hits = 0;
            }
        }

        let hit = hit.map(|h| h.digit);
        if let Some(d) = self.current {
            if hit == Some(d) {
                self.misses = 0;
                self.current_last_end = end;
            } else {
                self.misses += 1;
                if self.misses >= MISSES_TO_END {
                    let duration = self.current_last_end.saturating_sub(self.current_start);
                    on_event(DtmfEvent::End {
                        digit: d,
                        at_sample: self.current_last_end,
                        duration_samples: u32::try_from(duration).unwrap_or(u32::MAX),
                    });
                    self.current = None;
                    self.misses = 0;
                }
            }
        }

        if self.current.is_none() && self.candidate_hits == HITS_TO_BEGIN {
            let (row, col) = (self.candidate_row, self.candidate_col);
            let twist_ok = row <= col * NORMAL_TWIST && col <= row * REVERSE_TWIST;
            if let Some(d) = self.candidate.filter(|_| twist_ok) {
                self.current = Some(d);
                self.current_start = self.candidate_start;
                self.current_last_end = end;
                self.misses = 0;
                // Only a fresh run of hits may start the next digit.
                self.candidate_hits = 0;
                self.candidate = None;
                on_event(DtmfEvent::Begin {
                    digit: d,
                    at_sample: self.current_start,
                });
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Hit {
    digit: char,
    row: f32,
    col: f32,
}

fn strongest(v: &[f32]) -> Option<(usize, f32)> {
    v.iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Error for a character that is not a DTMF digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidDigit(pub char);

impl fmt::Display for InvalidDigit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid DTMF digit {:?}", self.0)
    }
}

impl std::error::Error for InvalidDigit {}

#[derive(Debug, Clone, Copy)]
enum GenState {
    Idle,
    Tone { row: f32, col: f32, n: u64 },
    Gap { remaining: u64 },
}

/// DTMF generator: a queue of digits played `on_ms` on / `off_ms` off.
#[derive(Debug, Clone)]
pub struct DtmfGenerator {
    queue: VecDeque<char>,
    on_samples: u64,
    off_samples: u64,
    row_amp: f32,
    col_amp: f32,
    state: GenState,
}

impl Default for DtmfGenerator {
    fn default() -> Self {
        Self::new()
    }
}

impl DtmfGenerator {
    /// −10 dBm0 per tone, 60 ms on / 60 ms off (60 ms suits the CIDCW ACK).
    pub fn new() -> Self {
        Self::with_timing(60, 60, -10.0)
    }

    /// Custom timing and level per tone.
    pub fn with_timing(on_ms: u32, off_ms: u32, level_dbm0: f32) -> Self {
        let amp = dbm0_to_peak(level_dbm0);
        Self {
            queue: VecDeque::with_capacity(64),
            on_samples: ms_to_samples(on_ms),
            off_samples: ms_to_samples(off_ms),
            row_amp: amp,
            col_amp: amp,
            state: GenState::Idle,
        }
    }

    /// Set row (low group) and column (high group) levels separately, e.g.
    /// to produce twist.
    pub fn set_levels(&mut self, row_dbm0: f32, col_dbm0: f32) {
        self.row_amp = dbm0_to_peak(row_dbm0);
        self.col_amp = dbm0_to_peak(col_dbm0);
    }

    /// Queue digits. Nothing is queued if any character is invalid.
    pub fn push_digits(&mut self, digits: &str) -> Result<(), InvalidDigit> {
        if let Some(bad) = digits.chars().find(|&c| digit_position(c).is_none()) {
            return Err(InvalidDigit(bad));
        }
        self.queue
            .extend(digits.chars().map(|c| c.to_ascii_uppercase()));
        Ok(())
    }

    /// Drop queued digits and stop the current one.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.state = GenState::Idle;
    }

    /// True when nothing is playing or queued (the gap after the last digit
    /// counts as playing).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, GenState::Idle) && self.queue.is_empty()
    }

    /// Write tone or silence into `out`.
    pub fn fill(&mut self, out: &mut [i16]) {
        let w = 2.0 * std::f64::consts::PI / f64::from(SAMPLE_RATE);
        for o in out.iter_mut() {
            if let GenState::Idle = self.state {
                self.next_digit();
            }
            *o = match &mut self.state {
                GenState::Idle => 0,
                GenState::Tone { row, col, n } => {
                    let t = *n as f64 * w;
                    let v = self.row_amp * (t * f64::from(*row)).sin() as f32
                        + self.col_amp * (t * f64::from(*col)).sin() as f32;
                    *n += 1;
                    if *n >= self.on_samples {
                        self.state = if self.off_samples > 0 {
                            GenState::Gap {
                                remaining: self.off_samples,
                            }
                        } else {
                            GenState::Idle
                        };
                    }
                    clamp_i16(v)
                }
                GenState::Gap { remaining } => {
                    *remaining = remaining.saturating_sub(1);
                    if *remaining == 0 {
                        self.state = GenState::Idle;
                    }
                    0
                }
            };
        }
    }

    fn next_digit(&mut self) {
        while let Some(d) = self.queue.pop_front() {
            if let Some((row, col)) = digit_freqs(d) {
                self.state = if self.on_samples > 0 {
                    GenState::Tone { row, col, n: 0 }
                } else if self.off_samples > 0 {
                    GenState::Gap {
                        remaining: self.off_samples,
                    }
                } else {
                    continue;
                };
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_timing() {
        let mut g = DtmfGenerator::new();
        g.push_digits("1").unwrap();
        assert!(!g.is_idle());
        let mut buf = [0i16; 960];
        g.fill(&mut buf);
        assert!(buf[..480].iter().any(|&v| v != 0));
        assert!(buf[480..].iter().all(|&v| v == 0));
        assert!(g.is_idle());
        assert_eq!(g.push_digits("12x"), Err(InvalidDigit('x')));
        assert!(g.is_idle());
    }
}
