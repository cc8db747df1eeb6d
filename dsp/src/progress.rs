//! Call-progress tone detector: dial tone, ringback, busy, reorder
//! (signals.md §6, §8).
//!
//! # Analysis
//!
//! Non-overlapping 200-sample blocks (25 ms, 40 Hz bins: 440 and 480 Hz are
//! exactly one bin apart, so neither leaks into the other's bin) run one
//! Goertzel per frequency of the zone's tones. A block holds the pair `(a, b)`
//! when those two are the strongest bins, each is above −38 dBm0, they are
//! within 10 dB of each other (a single 440 Hz SAS leaks into the 350 Hz bin
//! about 17 dB down and fails this), and together they hold at least half of
//! the block energy (spectral purity; speech and DTMF fail it).
//!
//! # Cadence
//!
//! Runs of blocks with the same pair are *on* periods (a single missed block
//! is bridged), everything else is *off*. A tone is reported once per
//! occurrence, with the start of its first on period:
//!
//! * dial tone: after 300 ms of continuous tone (stutter and recall dial
//!   tone are reported once they turn steady);
//! * ringback: when an on period of 1.5–3 s ends (us: 2 s on, 4 s off),
//!   once per ring cycle, so the caller can count rings;
//! * busy / reorder: after two cycles, i.e. on, off, on and the second off
//!   has lasted its minimum; each on and off within ±25 % (+25 ms for the
//!   block resolution) of nominal (us: 0.5/0.5 s and 0.25/0.25 s).
//!
//! Busy and reorder are reported again after each further two cycles only
//! if the tone stops and restarts; a steady cadence is reported once.
//!
//! # Zones
//!
//! Only the North American figures (`us`, signals.md §6) are tabulated in
//! the project's data; every other zone code currently falls back to `us`
//! (as [`crate::tones::ToneGenerator::progress`] does). Other tone plans can
//! be given through [`ProgressConfig`].

use crate::goertzel::{tone_energy, GoertzelBank};
use crate::{ms_to_samples, sine_energy};

/// Kind of call-progress tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProgressKind {
    /// Dial tone.
    DialTone,
    /// Ringback (audible ringing).
    Ringback,
    /// Busy.
    Busy,
    /// Reorder / congestion.
    Reorder,
}

/// A recognised call-progress tone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgressEvent {
    /// What was recognised.
    pub kind: ProgressKind,
    /// Start of the tone's first on period (block resolution, 25 ms).
    pub at_sample: u64,
    /// Nominal frequencies of the pair.
    pub freqs: (f32, f32),
}

/// How a tone is timed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cadence {
    /// Steady; reported after `min_ms` of tone.
    Continuous { min_ms: u32 },
    /// One long on period between `min_on_ms` and `max_on_ms`, reported
    /// when it ends.
    LongOn { min_on_ms: u32, max_on_ms: u32 },
    /// Regular on/off; reported after two cycles.
    OnOff { on_ms: u32, off_ms: u32 },
}

/// One tone of a zone's plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneSpec {
    /// What it means.
    pub kind: ProgressKind,
    /// The two frequencies (Hz).
    pub freqs: (f32, f32),
    /// Its timing.
    pub cadence: Cadence,
}

/// A zone's call-progress tone plan.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressConfig {
    /// Tones to recognise; pairs may repeat with different cadences.
    pub tones: Vec<ToneSpec>,
    /// Per-tone floor.
    pub floor_dbm0: f32,
}

impl ProgressConfig {
    /// North American tones (signals.md §6).
    pub fn us() -> Self {
        Self {
            tones: vec![
                ToneSpec {
                    kind: ProgressKind::DialTone,
                    freqs: (350.0, 440.0),
                    cadence: Cadence::Continuous { min_ms: 300 },
                },
                ToneSpec {
                    kind: ProgressKind::Ringback,
                    freqs: (440.0, 480.0),
                    cadence: Cadence::LongOn {
                        min_on_ms: 1500,
                        max_on_ms: 3000,
                    },
                },
                ToneSpec {
                    kind: ProgressKind::Busy,
                    freqs: (480.0, 620.0),
                    cadence: Cadence::OnOff {
                        on_ms: 500,
                        off_ms: 500,
                    },
                },
                ToneSpec {
                    kind: ProgressKind::Reorder,
                    freqs: (480.0, 620.0),
                    cadence: Cadence::OnOff {
                        on_ms: 250,
                        off_ms: 250,
                    },
                },
            ],
            floor_dbm0: -38.0,
        }
    }

    /// Plan for a zone code; every zone uses [`ProgressConfig::us`] for now
    /// (see the module comment).
    pub fn for_zone(_zone_code: &str) -> Self {
        Self::us()
    }
}

const BLOCK: usize = 200;
const PURITY: f32 = 0.5;
const TWIST: f32 = 10.0;
/// Most distinct frequencies in a plan.
const MAX_FREQS: usize = 16;
/// Period history kept for cadence matching.
const HISTORY: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Period {
    /// Pair index while on, `None` for off.
    pair: Option<(usize, usize)>,
    start: u64,
    len: u64,
}

/// Call-progress detector; see the module comment.
#[derive(Debug, Clone)]
pub struct ProgressDetector {
    config: ProgressConfig,
    bank: GoertzelBank,
    /// Bin index of each tone's two frequencies.
    tone_bins: Vec<(usize, usize)>,
    powers: [f32; MAX_FREQS],
    n_freqs: usize,
    energy: f32,
    pos: usize,
    samples: u64,
    floor: f32,
    quiet_floor: f32,
    /// The period in progress.
    cur: Period,
    /// Blocks missed inside the current on period.
    misses: u32,
    /// Completed periods, oldest first.
    history: [Period; HISTORY],
    history_len: usize,
    /// Tone kinds already reported for the current occurrence.
    reported: [bool; 8],
    quiet_blocks: u64,
}

impl ProgressDetector {
    /// Detector for a zone (all zones use the `us` plan for now).
    pub fn for_zone(zone_code: &str) -> Self {
        Self::new(ProgressConfig::for_zone(zone_code))
    }

    /// Detector for an explicit plan (at most 16 distinct frequencies and 8
    /// tones are used).
    pub fn new(mut config: ProgressConfig) -> Self {
        config.tones.truncate(8);
        let mut freqs: Vec<f32> = Vec::new();
        let idx = |f: f32, freqs: &mut Vec<f32>| -> usize {
            match freqs.iter().position(|&g| (g - f).abs() < 1.0) {
                Some(i) => i,
                None if freqs.len() < MAX_FREQS => {
                    freqs.push(f);
                    freqs.len() - 1
                }
                None => 0,
            }
        };
        let tone_bins = config
            .tones
            .iter()
            .map(|t| {
                let a = idx(t.freqs.0, &mut freqs);
                let b = idx(t.freqs.1, &mut freqs);
                (a.min(b), a.max(b))
            })
            .collect();
        Self {
            bank: GoertzelBank::new(&freqs),
            n_freqs: freqs.len(),
            tone_bins,
            powers: [0.0; MAX_FREQS],
            energy: 0.0,
            pos: 0,
            samples: 0,
            floor: sine_energy(config.floor_dbm0, BLOCK),
            quiet_floor: sine_energy(-50.0, BLOCK),
            cur: Period::default(),
            misses: 0,
            history: [Period::default(); HISTORY],
            history_len: 0,
            reported: [false; 8],
            quiet_blocks: 0,
            config,
        }
    }

    /// The plan in use.
    pub fn config(&self) -> &ProgressConfig {
        &self.config
    }

    /// How long the line has been quiet (every block below −50 dBm0), ms,
    /// at block resolution; 0 while there is any signal.
    pub fn quiet_ms(&self) -> u32 {
        u32::try_from(self.quiet_blocks * BLOCK as u64 / 8).unwrap_or(u32::MAX)
    }

    /// Frequencies of the pair currently heard, if any.
    pub fn current_pair(&self) -> Option<(f32, f32)> {
        let (a, b) = self.cur.pair?;
        let f = self.bank.freqs();
        Some((f.get(a).copied()?, f.get(b).copied()?))
    }

    /// Feed any number of samples.
    pub fn process(&mut self, samples: &[i16], on_event: &mut dyn FnMut(ProgressEvent)) {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (BLOCK - self.pos).min(rest.len());
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            for &s in chunk {
                let x = f32::from(s);
                self.bank.update(x);
                self.energy += x * x;
            }
            self.pos += take;
            self.samples += take as u64;
            if self.pos == BLOCK {
                self.pos = 0;
                self.end_of_block(on_event);
            }
        }
    }

    fn classify(&self) -> Option<(usize, usize)> {
        let n = self.n_freqs;
        let t = |i: usize| tone_energy(self.powers[i], BLOCK);
        let (mut a, mut b) = (usize::MAX, usize::MAX);
        for i in 0..n {
            if a == usize::MAX || t(i) > t(a) {
                b = a;
                a = i;
            } else if b == usize::MAX || t(i) > t(b) {
                b = i;
            }
        }
        if b == usize::MAX {
            return None;
        }
        let (ea, eb) = (t(a), t(b));
        let ok = eb >= self.floor && ea <= eb * TWIST && ea + eb >= PURITY * self.energy;
        ok.then_some((a.min(b), a.max(b)))
    }

    fn end_of_block(&mut self, on_event: &mut dyn FnMut(ProgressEvent)) {
        self.bank.powers(&mut self.powers[..self.n_freqs]);
        self.bank.reset();
        let pair = self.classify().filter(|p| self.tone_bins.contains(p));
        if self.energy < self.quiet_floor {
            self.quiet_blocks += 1;
        } else {
            self.quiet_blocks = 0;
        }
        self.energy = 0.0;
        let block = BLOCK as u64;
        let start = self.samples - block;
        match (self.cur.pair, pair) {
            (Some(p), Some(q)) if p == q => {
                self.cur.len = self.samples - self.cur.start;
                self.misses = 0;
            }
            // Bridge one missed block; the period's length stays at the last hit.
            (Some(_), None) if self.misses == 0 => self.misses = 1,
            (Some(_), q) => {
                let ended = self.cur;
                let off_start = ended.start + ended.len;
                self.misses = 0;
                self.push_history(ended, on_event);
                self.cur = match q {
                    None => Period {
                        pair: None,
                        start: off_start,
                        len: self.samples.saturating_sub(off_start),
                    },
                    Some(_) => {
                        let off = Period {
                            pair: None,
                            start: off_start,
                            len: start.saturating_sub(off_start),
                        };
                        self.push_history(off, on_event);
                        Period {
                            pair: q,
                            start,
                            len: block,
                        }
                    }
                };
            }
            (None, None) => self.cur.len = self.samples - self.cur.start,
            (None, Some(_)) => {
                let ended = self.cur;
                self.push_history(ended, on_event);
                self.cur = Period {
                    pair,
                    start,
                    len: block,
                };
            }
        }
        self.check(on_event);
    }

    fn push_history(&mut self, p: Period, on_event: &mut dyn FnMut(ProgressEvent)) {
        if p.len == 0 {
            return;
        }
        if self.history_len == HISTORY {
            self.history.copy_within(1.., 0);
            self.history_len -= 1;
        }
        self.history[self.history_len] = p;
        self.history_len += 1;
        if p.pair.is_some() {
            self.on_period_ended(p, on_event);
        }
    }

    fn on_period_ended(&mut self, p: Period, on_event: &mut dyn FnMut(ProgressEvent)) {
        for (i, t) in self.config.tones.iter().enumerate() {
            if p.pair != Some(self.tone_bins[i]) {
                continue;
            }
            if let Cadence::LongOn {
                min_on_ms,
                max_on_ms,
            } = t.cadence
            {
                if (ms_to_samples(min_on_ms)..=ms_to_samples(max_on_ms)).contains(&p.len) {
                    on_event(ProgressEvent {
                        kind: t.kind,
                        at_sample: p.start,
                        freqs: t.freqs,
                    });
                }
            }
        }
    }

    /// Checks made after every block on the period in progress.
    fn check(&mut self, on_event: &mut dyn FnMut(ProgressEvent)) {
        let block = BLOCK as u64;
        let within = |len: u64, nominal_ms: u32, slack_lo: bool| {
            let nom = ms_to_samples(nominal_ms);
            let lo = (nom * 3 / 4).saturating_sub(if slack_lo { block } else { 0 });
            let hi = nom * 5 / 4 + block;
            (lo..=hi).contains(&len)
        };
        for i in 0..self.config.tones.len() {
            let t = self.config.tones[i];
            let bins = self.tone_bins[i];
            let fire = match t.cadence {
                Cadence::Continuous { min_ms } => {
                    self.cur.pair == Some(bins) && self.cur.len >= ms_to_samples(min_ms)
                }
                Cadence::OnOff { on_ms, off_ms } => {
                    // History ends with on, off, on; the current off has
                    // reached its minimum.
                    let h = &self.history[..self.history_len];
                    self.cur.pair.is_none()
                        && h.len() >= 3
                        && h[h.len() - 3].pair == Some(bins)
                        && h[h.len() - 1].pair == Some(bins)
                        && h[h.len() - 2].pair.is_none()
                        && within(h[h.len() - 3].len, on_ms, true)
                        && within(h[h.len() - 2].len, off_ms, true)
                        && within(h[h.len() - 1].len, on_ms, true)
                        && self.cur.len + block >= ms_to_samples(off_ms) * 3 / 4
                }
                Cadence::LongOn { .. } => false,
            };
            let at = match t.cadence {
                Cadence::OnOff { .. } => self.history[..self.history_len]
                    .iter()
                    .rev()
                    .nth(2)
                    .map_or(0, |p| p.start),
                _ => self.cur.start,
            };
            if fire && !self.reported[i] {
                self.reported[i] = true;
                on_event(ProgressEvent {
                    kind: t.kind,
                    at_sample: at,
                    freqs: t.freqs,
                });
            }
            // A continuous tone may be reported again after it stops; a
            // cadence once its pair has been absent for a while.
            if !fire {
                let stale = match t.cadence {
                    Cadence::Continuous { .. } => self.cur.pair != Some(bins),
                    _ => self.cur.pair.is_none() && self.cur.len > ms_to_samples(1500),
                };
                if stale {
                    self.reported[i] = false;
                }
            }
        }
    }
}
