//! Call-waiting tone (SAS) detector, configured per zone (signals.md §2, §5,
//! §8, §9).
//!
//! # Analysis
//!
//! The input is high-passed at 200 Hz (removes DC and sub-audio parts such as
//! the 16 Hz in DAHDI's Japanese `400+16`), then analysed in 20 ms windows
//! (160 samples, 50 Hz bins) every 10 ms by two staggered Goertzel banks.
//! Each single-tone band is covered by bins at most 25 Hz apart plus one
//! guard bin either side. A window is a tone *hit* for a single-tone band when
//!
//! * the strongest bin of the band (including guards) is inside the band, not
//!   a guard, and above the level floor (−40 dBm0);
//! * that bin holds at least half (−3 dB) of the window energy: a spectral
//!   purity test relative to the signal, not a fixed floor (§9: this removed
//!   talk-off on synthetic speech);
//! * the four 5 ms sub-blocks carry similar energy (within 6 dB). A pure tone
//!   has a flat envelope; two summed tones beat (350+440 dial tone every
//!   11 ms, 440+480 ringback every 25 ms), and a window only counts when the
//!   tone fills it, which gives burst lengths to ≈ 10 ms.
//!
//! Consecutive hits form a burst (up to two missed windows are bridged: a
//! loud syllable of residual echo may spoil one). A burst in a steady
//! single-tone band must then look like an oscillator, judged over its inner
//! windows (the first and last are partly outside the tone):
//!
//! * **purity**: the peak bins hold ≥ 90 % of the inner windows' energy. The
//!   exchange mutes the far end while it signals (§2), so the tone is nearly
//!   alone; a voice that puts one harmonic near the tone carries others;
//! * **no glide**: the frequency, measured in every window from the phase
//!   advance of the peak bin since the window one hop earlier (a fraction of
//!   a hertz for a tone; [`GoertzelBank::complex`]), may change by at most
//!   1.5 Hz along a fitted line over the burst. A voice's pitch glides, and
//!   its harmonics glide with it;
//! * **steady level**: at most 3 dB between the strongest and weakest inner
//!   window; syllables swell and fade.
//!
//! On 3.4 h of synthetic speech these three tests take the false detections
//! of the `uk` (400 Hz, 100 ms) detector from 323 per hour to none, while
//! tones under echo-cancelled near-end speech keep ≥ 99 % recall
//! (`quality/report.md`).
//!
//! Bands taken from amplitude-modulated tones (`425*24`, `400*33`) skip the
//! envelope and steadiness tests (their level and phase move by design). Zones whose every call-waiting variant is a two-tone sum
//! (Taiwan and Korea 350+440, Zimbabwe 523+659, Venezuela 400+450, Brunei,
//! Jordan, Solomon Islands) get dual-tone bands instead: both bins above the
//! floor, within 6 dB of each other, together ≥ −3 dB of the window energy.
//! Modulated and dual bands bridge dropouts of up to 30 ms (beat nulls).
//!
//! # Patterns
//!
//! Bursts separated by less than 1 s form a group, which is matched against
//! the zone's burst patterns (durations within −20 % … +30 %/+30 ms, gaps
//! within −30 %/−20 ms … +20 %/+30 ms). A group is reported once, as soon as its last burst ends —
//! at once if no longer pattern could still continue it, otherwise when the
//! next gap can no longer be a pattern gap. Nothing is required after the
//! last burst, so a CAS (2130+2750 Hz) right after the SAS does not hide it.
//! Bursts starting within the hold-off (2 s) after a report are ignored, so a
//! long imitation counts once; bursts longer than every pattern allows (an
//! operator's 2 s 440 Hz warning) match nothing.
//!
//! # Zones with unusual data
//!
//! Every zone's own first-variant tone is detected (tested). How the odd
//! rows are read (see also [`zones::CallWaitingTone::line_cadence`]):
//!
//! * `tw`, `kr` (350+440), `zw` (523+659), `ve` (400+450), `bn` (376+424),
//!   `jo` (380+460 or 400+440), `sb` (400+450 then 400): no single-tone
//!   variant, so dual-tone bands (for `tw`/`kr` this is the dial-tone pair;
//!   only its short cadence tells it apart).
//! * `us`: the spandsp 480+620 rows (a data error, and PBX variants) are
//!   ignored because single-tone 440 Hz variants exist; likewise the 2-tone
//!   rows of `cl`, `jp`, `hu`, `nz`, `za`, `tr`.
//! * `jp` DAHDI `400+16`: the 16 Hz part is sub-audio and removed by the
//!   high-pass, leaving 400 Hz.
//! * `sg` `425*24`, `za` `400*33`: modulated bands (no envelope test).
//! * `th` `10000/400` reads as silence (above Nyquist), giving two 400 ms
//!   1000 Hz bursts; `cr`'s closing `450/8000` reads as silence; `ke`'s
//!   continuous 425 Hz is a 1 s burst.
//! * `ee`, `lt`, `ru`, `tj`, `py` SIT-like 950/1400/1800 Hz sequences: one
//!   band per frequency; a change of frequency ends one burst and starts
//!   the next with no gap, so the sequence is a multi-burst pattern.
//! * `de`, `dk`, `ag`, `bm`, `pg`, … whose one cycle holds several groups
//!   seconds apart report once per group.

use crate::goertzel::{tone_energy, GoertzelBank};
use crate::zones::{self, Segment};
use crate::{ms_to_samples, sine_energy, SAMPLE_RATE};

/// A detected call-waiting tone pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallWaitingToneEvent {
    /// Estimated start of the first burst, counted from the first sample fed.
    pub at_sample: u64,
    /// Estimated frequency of the first burst (lower tone for dual bands).
    pub freq_hz: f32,
    /// From the start of the first burst to the end of the last.
    pub duration_ms: u32,
    /// Number of bursts in the pattern.
    pub bursts: u8,
}

/// A frequency band the detector listens to.
#[derive(Debug, Clone, PartialEq)]
pub enum Band {
    /// One tone between `lo_hz` and `hi_hz`; `modulated` disables the
    /// envelope test (AM tones).
    Single {
        lo_hz: f32,
        hi_hz: f32,
        modulated: bool,
    },
    /// Two tones summed.
    Dual { f1_hz: f32, f2_hz: f32 },
}

/// One burst of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternBurst {
    /// Index into [`SasConfig::bands`].
    pub band: usize,
    /// Nominal burst length.
    pub ms: u32,
    /// Nominal silence before this burst (ignored for the first burst).
    pub gap_before_ms: u32,
}

/// Detector configuration; [`SasConfig::for_zone`] derives it from the data,
/// and every field may be overridden.
#[derive(Debug, Clone, PartialEq)]
pub struct SasConfig {
    /// Bands listened to.
    pub bands: Vec<Band>,
    /// Accepted burst patterns (1 to [`MAX_BURSTS`] bursts each).
    pub patterns: Vec<Vec<PatternBurst>>,
    /// Share of the window energy the tone must hold for a window to count
    /// (0.5 = −3 dB); this finds where a burst begins and ends.
    pub min_share: f32,
    /// Share of the energy a steady tone must hold over the inner windows of
    /// its burst (0.9 = −0.46 dB). The exchange mutes the far end while it
    /// plays the tone (signals.md §2), so the tone is nearly alone; speech
    /// that happens to hold one harmonic near the tone carries others too.
    pub min_burst_share: f32,
    /// Largest change of the phase-measured frequency (along a fitted line)
    /// over a steady tone's inner windows. An exchange's oscillator does not
    /// move; a voice's pitch does, and its harmonics with it.
    pub max_drift_hz: f32,
    /// Largest level change (dB) between a steady tone's inner windows.
    pub max_swing_db: f32,
    /// Minimum tone level.
    pub floor_dbm0: f32,
    /// Bursts starting this long after a report are ignored.
    pub holdoff_ms: u32,
}

/// Most bursts in one pattern (South Africa uses four).
pub const MAX_BURSTS: usize = 4;
/// Silences at least this long separate patterns.
pub const GROUP_GAP_MS: u32 = 1000;
/// Half-width of a single-tone band around each listed frequency.
pub const BAND_HALF_WIDTH_HZ: f32 = 25.0;
/// Components below this are not audio (DAHDI's Japanese `400+16`).
const MIN_AUDIO_HZ: f32 = 100.0;

/// Bellcore distinctive call-waiting cadences CWT1–CWT4 (signals.md §2),
/// as (burst ms, gap before ms) lists.
const BELLCORE_CWT: [&[(u32, u32)]; 4] = [
    &[(300, 0)],
    &[(100, 0), (100, 100)],
    &[(100, 0), (100, 100), (100, 100)],
    &[(100, 0), (300, 100), (100, 100)],
];

#[derive(Debug, Clone, PartialEq)]
enum ElementKind {
    Silence,
    Single { freqs: Vec<f32>, modulated: bool },
    Dual(f32, f32),
    Unsupported,
}

fn element_kind(seg: &Segment) -> ElementKind {
    let audible =
        |v: &Vec<f32>| -> Vec<f32> { v.iter().copied().filter(|&f| f >= MIN_AUDIO_HZ).collect() };
    let candidates: Vec<Vec<f32>> = std::iter::once(&seg.freqs)
        .chain(&seg.alternatives)
        .map(audible)
        .filter(|c| !c.is_empty())
        .collect();
    if candidates.is_empty() {
        return ElementKind::Silence;
    }
    let singles: Vec<f32> = candidates
        .iter()
        .filter(|c| c.len() == 1)
        .map(|c| c[0])
        .collect();
    if !singles.is_empty() {
        return ElementKind::Single {
            freqs: singles,
            modulated: seg.modulation_hz.is_some(),
        };
    }
    match candidates.iter().find(|c| c.len() == 2) {
        Some(c) => ElementKind::Dual(c[0].min(c[1]), c[0].max(c[1])),
        None => ElementKind::Unsupported,
    }
}

impl SasConfig {
    /// Configuration for a zone, from every variant of its call-waiting
    /// tones (each read through [`zones::CallWaitingTone::line_cadence`]):
    ///
    /// * variants made only of single (or modulated) tones give single-tone
    ///   bands (listed frequency ± 25 Hz, overlapping bands merged) and their
    ///   burst groups as patterns; two-tone variants of such zones are ignored
    ///   (the US 480+620 spandsp rows are data errors, §2, and dual tones must
    ///   not trigger);
    /// * zones without any single-tone variant use their two-tone variants as
    ///   dual bands;
    /// * zones that list a 440 Hz single tone also accept the Bellcore
    ///   distinctive cadences CWT1–CWT4 (1–3 bursts of 100/300 ms) on that
    ///   band;
    /// * continuous tones count as 1 s bursts and Thailand's 10 kHz and
    ///   Costa Rica's 8 s tone are read as silence (see `line_cadence`).
    pub fn for_zone(zone: &zones::Zone) -> Self {
        let variants: Vec<Vec<(ElementKind, u32, bool)>> = zone
            .call_waiting
            .iter()
            .map(|cw| {
                cw.line_cadence()
                    .iter()
                    .map(|s| (element_kind(s), s.ms.unwrap_or(u32::MAX), s.ms.is_none()))
                    .collect()
            })
            .collect();
        let is_tone = |k: &ElementKind| !matches!(k, ElementKind::Silence);
        let single_only = |v: &Vec<(ElementKind, u32, bool)>| {
            v.iter().any(|(k, _, _)| is_tone(k))
                && v.iter()
                    .all(|(k, _, _)| matches!(k, ElementKind::Silence | ElementKind::Single { .. }))
        };
        let have_single = variants.iter().any(single_only);
        let chosen: Vec<&Vec<(ElementKind, u32, bool)>> = variants
            .iter()
            .filter(|v| {
                if have_single {
                    single_only(v)
                } else {
                    v.iter().any(|(k, _, _)| is_tone(k))
                        && !v.iter().any(|(k, _, _)| *k == ElementKind::Unsupported)
                }
            })
            .collect();

        // Bands.
        let mut singles: Vec<(f32, f32, bool)> = Vec::new();
        let mut duals: Vec<(f32, f32)> = Vec::new();
        for (kind, _, _) in chosen.iter().flat_map(|v| v.iter()) {
            match kind {
                ElementKind::Single { freqs, modulated } => {
                    let lo = freqs.iter().copied().fold(f32::INFINITY, f32::min);
                    let hi = freqs.iter().copied().fold(0.0, f32::max);
                    singles.push((lo - BAND_HALF_WIDTH_HZ, hi + BAND_HALF_WIDTH_HZ, *modulated));
                }
                ElementKind::Dual(a, b)
                    if !duals
                        .iter()
                        .any(|&(x, y)| (x - a).abs() < 5.0 && (y - b).abs() < 5.0) =>
                {
                    duals.push((*a, *b));
                }
                _ => {}
            }
        }
        singles.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f32, f32, bool)> = Vec::new();
        for (lo, hi, m) in singles {
            match merged.last_mut() {
                Some(last) if lo <= last.1 => {
                    last.1 = last.1.max(hi);
                    last.2 |= m;
                }
                _ => merged.push((lo, hi, m)),
            }
        }
        let mut bands: Vec<Band> = merged
            .iter()
            .map(|&(lo_hz, hi_hz, modulated)| Band::Single {
                lo_hz,
                hi_hz,
                modulated,
            })
            .collect();
        bands.extend(
            duals
                .iter()
                .map(|&(f1_hz, f2_hz)| Band::Dual { f1_hz, f2_hz }),
        );

        let band_of = |kind: &ElementKind| -> Option<usize> {
            bands.iter().position(|b| match (b, kind) {
                (Band::Single { lo_hz, hi_hz, .. }, ElementKind::Single { freqs, .. }) => {
                    freqs.first().is_some_and(|f| f > lo_hz && f < hi_hz)
                }
                (Band::Dual { f1_hz, f2_hz }, ElementKind::Dual(a, b)) => {
                    (f1_hz - a).abs() < 5.0 && (f2_hz - b).abs() < 5.0
                }
                _ => false,
            })
        };

        // Patterns: bursts of each cycle, grouped at long silences.
        let mut patterns: Vec<Vec<PatternBurst>> = Vec::new();
        for v in &chosen {
            let mut group: Vec<PatternBurst> = Vec::new();
            let mut gap: u32 = 0;
            let mut joinable = false;
            let mut flush = |group: &mut Vec<PatternBurst>| {
                if !group.is_empty() {
                    group.truncate(MAX_BURSTS);
                    if !patterns.contains(group) {
                        patterns.push(group.clone());
                    }
                    group.clear();
                }
            };
            for (kind, ms, _) in v.iter() {
                match band_of(kind) {
                    None => {
                        gap = gap.saturating_add(*ms);
                        joinable = false;
                        if gap >= GROUP_GAP_MS {
                            flush(&mut group);
                        }
                    }
                    Some(band) => match group.last_mut() {
                        Some(last) if joinable && last.band == band => {
                            last.ms = last.ms.saturating_add(*ms);
                        }
                        _ => {
                            group.push(PatternBurst {
                                band,
                                ms: *ms,
                                gap_before_ms: if group.is_empty() { 0 } else { gap },
                            });
                            gap = 0;
                            joinable = true;
                        }
                    },
                }
            }
            flush(&mut group);
        }

        // Bellcore distinctive cadences where the zone itself uses 440 Hz.
        let lists_440 = chosen.iter().flat_map(|v| v.iter()).any(|(k, _, _)| {
            matches!(k, ElementKind::Single { freqs, .. } if freqs.iter().any(|f| (f - 440.0).abs() <= 5.0))
        });
        let band_440 = bands.iter().position(
            |b| matches!(b, Band::Single { lo_hz, hi_hz, .. } if *lo_hz < 440.0 && *hi_hz > 440.0),
        );
        if let Some(band) = band_440.filter(|_| lists_440) {
            for cwt in BELLCORE_CWT {
                let p: Vec<PatternBurst> = cwt
                    .iter()
                    .map(|&(ms, gap_before_ms)| PatternBurst {
                        band,
                        ms,
                        gap_before_ms,
                    })
                    .collect();
                if !patterns.contains(&p) {
                    patterns.push(p);
                }
            }
        }

        Self {
            bands,
            patterns,
            min_share: 0.5,
            min_burst_share: 0.9,
            max_drift_hz: 1.5,
            max_swing_db: 3.0,
            floor_dbm0: -40.0,
            holdoff_ms: 2000,
        }
    }
}

const WINDOW: usize = 160;
const HOP: usize = 80;
const SUB: usize = 40;
const SUBS_PER_WINDOW: usize = WINDOW / SUB;
const SUBS_PER_HOP: usize = HOP / SUB;
/// Widest spacing of the bins covering a single-tone band.
const BIN_STEP_HZ: f32 = 25.0;
/// Shortest burst accepted, as a share of the nominal length. Bursts are
/// measured from whole windows, so a tone measures 0–10 ms short; this
/// leaves about 10 % for the exchange's own timing.
const MIN_LEN_FACTOR: f64 = 0.8;
/// Envelope flatness: weakest sub-block ≥ a quarter of the strongest.
const FLATNESS: f32 = 0.25;
/// Dual tones: components within 6 dB.
const DUAL_TWIST: f32 = 4.0;
/// Missed windows bridged inside modulated/dual bursts.
const BRIDGE_WINDOWS: u32 = 3;
/// Missed windows bridged inside steady bursts: one loud syllable of
/// residual echo may spoil a window or two; the steadiness tests judge the
/// windows around it.
const STEADY_BRIDGE_WINDOWS: u32 = 2;
/// High-pass corner.
const HPF_HZ: f32 = 200.0;

#[derive(Debug, Clone)]
enum BandBins {
    /// Bin indices `first..=last`; the first and last are guards.
    Single {
        first: usize,
        last: usize,
        modulated: bool,
    },
    Dual {
        i1: usize,
        i2: usize,
        f1: f32,
    },
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    band: usize,
    min_len: u64,
    max_len: u64,
    min_gap: u64,
    max_gap: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Burst {
    band: usize,
    start: u64,
    end: u64,
    /// Silence before this burst (from the previous burst of the group).
    gap: u64,
    freq: f32,
}

#[derive(Debug, Clone, Copy)]
struct Tracking {
    band: usize,
    start: u64,
    end: u64,
    misses: u32,
    freq_sum: f32,
    freq_n: u32,
    steadiness: Steadiness,
}

/// What one hit window measured.
#[derive(Debug, Clone, Copy)]
struct WindowHit {
    band: usize,
    /// Interpolated peak frequency.
    freq: f32,
    /// Strongest bin, for single steady tones (the phase test).
    bin: Option<usize>,
    /// Energy of the peak bin and its share of the window energy.
    peak: f32,
    share: f32,
}

/// How steady a burst was, over its inner windows only: the first and last
/// windows are partly outside the tone, which skews their phase and level.
#[derive(Debug, Clone, Copy)]
struct Steadiness {
    windows: u32,
    /// The latest window, committed once a later one shows it was inner.
    pending: Option<(Option<f32>, f32, f32)>,
    peak_min: f32,
    peak_max: f32,
    peak_sum: f32,
    energy_sum: f32,
    /// Least-squares sums (n, Σk, Σk², Σf, Σkf) of the phase-measured
    /// frequencies against their window index.
    fit: [f64; 5],
}

/// What [`Steadiness`] concludes about a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SteadinessMeasures {
    /// Frequency change over the burst along the fitted line (Hz).
    trend_hz: f32,
    /// Strongest over weakest inner window (dB).
    swing_db: f32,
    /// Share of the inner windows' energy in the tone's bin.
    share: f32,
}

impl Steadiness {
    fn new() -> Self {
        Self {
            windows: 1,
            pending: None,
            peak_min: f32::INFINITY,
            peak_max: 0.0,
            peak_sum: 0.0,
            energy_sum: 0.0,
            fit: [0.0; 5],
        }
    }

    /// A further hit window; `phase_freq` is its phase-measured frequency.
    fn push(&mut self, phase_freq: Option<f32>, peak: f32, share: f32) {
        self.windows += 1;
        if let Some((freq, peak, share)) = self.pending.take() {
            if let Some(f) = freq {
                let k = self.fit[0];
                let f = f64::from(f);
                self.fit[0] += 1.0;
                self.fit[1] += k;
                self.fit[2] += k * k;
                self.fit[3] += f;
                self.fit[4] += k * f;
            }
            self.peak_min = self.peak_min.min(peak);
            self.peak_max = self.peak_max.max(peak);
            self.peak_sum += peak;
            self.energy_sum += peak / share.max(f32::MIN_POSITIVE);
        }
        // The second window's phase is measured against the first (an edge).
        let freq = phase_freq.filter(|_| self.windows >= 3);
        self.pending = Some((freq, peak, share));
    }

    /// `None` when the burst had no inner window.
    fn measures(&self) -> Option<SteadinessMeasures> {
        if self.peak_max <= 0.0 {
            return None;
        }
        // A line through the frequencies, not their range: interference
        // jitters single windows, a voice glides.
        let [n, sk, skk, sf, skf] = self.fit;
        let trend_hz = if n >= 3.0 {
            let slope = (n * skf - sk * sf) / (n * skk - sk * sk);
            (slope * (n - 1.0)).abs() as f32
        } else {
            // The 40–50 ms bursts of a few zones: judged on level and purity.
            0.0
        };
        Some(SteadinessMeasures {
            trend_hz,
            swing_db: 10.0 * (self.peak_max / self.peak_min.max(f32::MIN_POSITIVE)).log10(),
            share: self.peak_sum / self.energy_sum.max(f32::MIN_POSITIVE),
        })
    }
}

/// Second-order Butterworth high-pass (RBJ cookbook), direct form I.
#[derive(Debug, Clone)]
struct HighPass {
    b: [f32; 3],
    a: [f32; 2],
    x: [f32; 2],
    y: [f32; 2],
}

impl HighPass {
    fn new(fc: f32) -> Self {
        let w0 = 2.0 * std::f32::consts::PI * fc / SAMPLE_RATE as f32;
        let alpha = w0.sin() / (2.0 * std::f32::consts::FRAC_1_SQRT_2);
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

    #[inline]
    fn run(&mut self, x: f32) -> f32 {
        let y = self.b[0] * x + self.b[1] * self.x[0] + self.b[2] * self.x[1]
            - self.a[0] * self.y[0]
            - self.a[1] * self.y[1];
        self.x = [x, self.x[0]];
        self.y = [y, self.y[0]];
        y
    }
}

/// Call-waiting tone detector; see the module comment.
#[derive(Debug, Clone)]
pub struct CallWaitingToneDetector {
    config: SasConfig,
    hpf: HighPass,
    banks: [GoertzelBank; 2],
    bin_freqs: Vec<f32>,
    band_bins: Vec<BandBins>,
    patterns: Vec<Vec<Limits>>,
    /// Scratch for bank powers (allocated once).
    powers: Vec<f32>,
    /// Complex bin values of the window just completed and of the one before.
    phasors: Vec<(f32, f32)>,
    prev_phasors: Vec<(f32, f32)>,
    subs: [f32; SUBS_PER_WINDOW],
    sub_energy: f32,
    sub_pos: usize,
    subs_in_hop: usize,
    /// Windows completed; selects the bank whose window just ended.
    hops: u64,
    samples: u64,
    floor: f32,
    holdoff: u64,
    holdoff_until: u64,
    tracking: Option<Tracking>,
    group: [Burst; MAX_BURSTS],
    group_len: usize,
    /// The group matches a whole pattern and may still grow.
    pending: bool,
    /// Sample after which the group can no longer grow.
    wait_until: u64,
}

impl CallWaitingToneDetector {
    /// Detector for `zone`, from every variant of its call-waiting tones (see
    /// [`SasConfig::for_zone`]).
    pub fn for_zone(zone: &zones::Zone) -> Self {
        Self::new(SasConfig::for_zone(zone))
    }

    /// Detector for an explicit configuration.
    pub fn new(config: SasConfig) -> Self {
        let mut bin_freqs = Vec::new();
        let mut band_bins = Vec::new();
        for band in &config.bands {
            match *band {
                Band::Single {
                    lo_hz,
                    hi_hz,
                    modulated,
                } => {
                    let span = (hi_hz - lo_hz).max(0.0);
                    // Bounded so a silly configured band cannot allocate thousands of bins.
                    let steps = (span / BIN_STEP_HZ).ceil().clamp(1.0, 256.0);
                    let step = span / steps;
                    let first = bin_freqs.len();
                    bin_freqs.push(lo_hz - BIN_STEP_HZ);
                    for i in 0..=(steps as usize) {
                        bin_freqs.push(lo_hz + step * i as f32);
                    }
                    bin_freqs.push(hi_hz + BIN_STEP_HZ);
                    band_bins.push(BandBins::Single {
                        first,
                        last: bin_freqs.len() - 1,
                        modulated,
                    });
                }
                Band::Dual { f1_hz, f2_hz } => {
                    bin_freqs.push(f1_hz);
                    bin_freqs.push(f2_hz);
                    let i2 = bin_freqs.len() - 1;
                    band_bins.push(BandBins::Dual {
                        i1: i2 - 1,
                        i2,
                        f1: f1_hz,
                    });
                }
            }
        }
        let ms = |v: u32| ms_to_samples(v);
        let patterns = config
            .patterns
            .iter()
            .filter(|p| !p.is_empty() && p.iter().all(|b| b.band < config.bands.len()))
            .map(|p| {
                p.iter()
                    .take(MAX_BURSTS)
                    .map(|b| {
                        let len = f64::from(b.ms);
                        let gap = f64::from(b.gap_before_ms);
                        Limits {
                            band: b.band,
                            min_len: ms((len * MIN_LEN_FACTOR).max(15.0) as u32),
                            max_len: ms((len * 1.3 + 30.0).min(f64::from(u32::MAX)) as u32),
                            min_gap: ms((gap * 0.7 - 20.0).max(0.0) as u32),
                            max_gap: ms((gap * 1.2 + 30.0).min(f64::from(u32::MAX)) as u32),
                        }
                    })
                    .collect()
            })
            .collect();
        Self {
            hpf: HighPass::new(HPF_HZ),
            banks: [GoertzelBank::new(&bin_freqs), GoertzelBank::new(&bin_freqs)],
            powers: vec![0.0; bin_freqs.len()],
            phasors: vec![(0.0, 0.0); bin_freqs.len()],
            prev_phasors: vec![(0.0, 0.0); bin_freqs.len()],
            bin_freqs,
            band_bins,
            patterns,
            subs: [0.0; SUBS_PER_WINDOW],
            sub_energy: 0.0,
            sub_pos: 0,
            subs_in_hop: 0,
            hops: 0,
            samples: 0,
            floor: sine_energy(config.floor_dbm0, WINDOW),
            holdoff: ms_to_samples(config.holdoff_ms),
            holdoff_until: 0,
            tracking: None,
            group: [Burst::default(); MAX_BURSTS],
            group_len: 0,
            pending: false,
            wait_until: 0,
            config,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &SasConfig {
        &self.config
    }

    /// Nothing under way that stopping now would lose: no burst, no burst
    /// group waiting for its next burst, no hold-off. A caller that stops the
    /// detector here and later starts a new one on recent audio gets the
    /// same reports (the detector bank does this).
    pub fn is_idle(&self) -> bool {
        self.tracking.is_none() && self.group_len == 0 && self.samples >= self.holdoff_until
    }

    /// Feed any number of samples; events are reported as soon as known.
    pub fn process(&mut self, samples: &[i16], on_event: &mut dyn FnMut(CallWaitingToneEvent)) {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (SUB - self.sub_pos).min(rest.len());
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            for &s in chunk {
                let x = self.hpf.run(f32::from(s));
                self.banks[0].update(x);
                self.banks[1].update(x);
                self.sub_energy += x * x;
            }
            self.sub_pos += take;
            self.samples += take as u64;
            if self.sub_pos == SUB {
                self.sub_pos = 0;
                self.end_of_sub(on_event);
            }
        }
    }

    fn end_of_sub(&mut self, on_event: &mut dyn FnMut(CallWaitingToneEvent)) {
        self.subs.rotate_left(1);
        self.subs[SUBS_PER_WINDOW - 1] = self.sub_energy;
        self.sub_energy = 0.0;
        self.subs_in_hop += 1;
        if self.subs_in_hop < SUBS_PER_HOP {
            return;
        }
        self.subs_in_hop = 0;
        self.hops += 1;
        let bank = &mut self.banks[(self.hops & 1) as usize];
        bank.powers(&mut self.powers);
        std::mem::swap(&mut self.phasors, &mut self.prev_phasors);
        bank.complex(&mut self.phasors);
        bank.reset();
        let hit = self.classify();
        let end = self.samples;
        let start = end.saturating_sub(WINDOW as u64);
        self.track(hit, start, end, on_event);
    }

    /// Band hit by the window just completed, and what it measured.
    fn classify(&self) -> Option<WindowHit> {
        let energy: f32 = self.subs.iter().sum();
        if energy < self.floor {
            return None;
        }
        let (lo_sub, hi_sub) = self
            .subs
            .iter()
            .fold((f32::INFINITY, 0.0f32), |(lo, hi), &e| {
                (lo.min(e), hi.max(e))
            });
        let flat = lo_sub >= FLATNESS * hi_sub;
        let t = |i: usize| tone_energy(self.powers.get(i).copied().unwrap_or(0.0), WINDOW);
        for (band, bins) in self.band_bins.iter().enumerate() {
            match *bins {
                BandBins::Single {
                    first,
                    last,
                    modulated,
                } => {
                    if !flat && !modulated {
                        continue;
                    }
                    let Some(best) = (first..=last).max_by(|&a, &b| t(a).total_cmp(&t(b))) else {
                        continue;
                    };
                    if best == first || best == last {
                        continue;
                    }
                    let peak = t(best);
                    if peak < self.floor || peak < self.config.min_share * energy {
                        continue;
                    }
                    return Some(WindowHit {
                        band,
                        freq: self.interpolate(best),
                        bin: (!modulated).then_some(best),
                        peak,
                        share: peak / energy,
                    });
                }
                BandBins::Dual { i1, i2, f1 } => {
                    let (a, b) = (t(i1), t(i2));
                    if a < self.floor || b < self.floor {
                        continue;
                    }
                    if a > b * DUAL_TWIST || b > a * DUAL_TWIST {
                        continue;
                    }
                    if a + b < self.config.min_share * energy {
                        continue;
                    }
                    return Some(WindowHit {
                        band,
                        freq: f1,
                        bin: None,
                        peak: a + b,
                        share: (a + b) / energy,
                    });
                }
            }
        }
        None
    }

    /// Frequency of the tone in `bin` from its phase advance since the
    /// previous window, one hop earlier (exact for a steady tone; a speech
    /// harmonic glides with the voice's pitch).
    fn phase_frequency(&self, bin: usize) -> f32 {
        let (Some(&(ar, ai)), Some(&(br, bi)), Some(&f)) = (
            self.prev_phasors.get(bin),
            self.phasors.get(bin),
            self.bin_freqs.get(bin),
        ) else {
            return 0.0;
        };
        let (re, im) = (br * ar + bi * ai, bi * ar - br * ai);
        let turns = im.atan2(re) / std::f32::consts::TAU;
        let hop_hz = SAMPLE_RATE as f32 / HOP as f32;
        let whole = (f / hop_hz - turns).round();
        hop_hz * (whole + turns)
    }

    /// Parabolic interpolation of the peak between its neighbours.
    fn interpolate(&self, i: usize) -> f32 {
        let f = |k: usize| self.bin_freqs.get(k).copied().unwrap_or(0.0);
        if i == 0 {
            return f(i);
        }
        let p = |k: usize| self.powers.get(k).copied().unwrap_or(0.0).max(0.0).sqrt();
        let (a, b, c) = (p(i - 1), p(i), p(i + 1));
        let denom = a - 2.0 * b + c;
        if denom.abs() < f32::EPSILON {
            return f(i);
        }
        let d = (0.5 * (a - c) / denom).clamp(-0.5, 0.5);
        let step = if d >= 0.0 {
            f(i + 1) - f(i)
        } else {
            f(i) - f(i - 1)
        };
        f(i) + d * step
    }

    /// Missed windows bridged inside a burst of `band`.
    fn bridges(&self, band: usize) -> u32 {
        match self.band_bins.get(band) {
            Some(BandBins::Single {
                modulated: false, ..
            }) => STEADY_BRIDGE_WINDOWS,
            Some(_) => BRIDGE_WINDOWS,
            None => 0,
        }
    }

    fn track(
        &mut self,
        hit: Option<WindowHit>,
        start: u64,
        end: u64,
        on_event: &mut dyn FnMut(CallWaitingToneEvent),
    ) {
        if let Some(mut tr) = self.tracking {
            match hit {
                Some(h) if h.band == tr.band => {
                    // The phase advance is only meaningful between two
                    // consecutive windows of the same tone.
                    let phase_freq = h
                        .bin
                        .filter(|_| tr.misses == 0)
                        .map(|bin| self.phase_frequency(bin));
                    tr.steadiness.push(phase_freq, h.peak, h.share);
                    tr.end = end;
                    tr.misses = 0;
                    tr.freq_sum += h.freq;
                    tr.freq_n += 1;
                    self.tracking = Some(tr);
                    return;
                }
                None if tr.misses < self.bridges(tr.band) => {
                    tr.misses += 1;
                    self.tracking = Some(tr);
                    return;
                }
                _ => {
                    self.tracking = None;
                    self.burst_ended(tr, on_event);
                }
            }
        }
        match hit {
            Some(h) => {
                self.tracking = Some(Tracking {
                    band: h.band,
                    start,
                    end,
                    misses: 0,
                    freq_sum: h.freq,
                    freq_n: 1,
                    steadiness: Steadiness::new(),
                });
            }
            None => {
                if self.group_len > 0 && end > self.wait_until {
                    if self.pending {
                        self.emit(on_event);
                    }
                    self.clear_group();
                }
            }
        }
    }

    fn clear_group(&mut self) {
        self.group_len = 0;
        self.pending = false;
    }

    /// Whether a burst in a steady single-tone band was steady and pure
    /// enough to be the exchange's tone (modulated and dual bands are not
    /// judged: their level and phase move by design).
    fn steady_enough(&self, tr: &Tracking) -> bool {
        let steady_band = matches!(
            self.band_bins.get(tr.band),
            Some(BandBins::Single {
                modulated: false,
                ..
            })
        );
        if !steady_band {
            return true;
        }
        tr.steadiness.measures().is_none_or(|m| {
            m.trend_hz <= self.config.max_drift_hz
                && m.swing_db <= self.config.max_swing_db
                && m.share >= self.config.min_burst_share
        })
    }

    fn burst_ended(&mut self, tr: Tracking, on_event: &mut dyn FnMut(CallWaitingToneEvent)) {
        if tr.start < self.holdoff_until {
            self.clear_group();
            return;
        }
        if !self.steady_enough(&tr) {
            // Not the exchange's tone: whatever group it interrupted is over.
            if self.pending {
                self.emit(on_event);
            }
            self.clear_group();
            return;
        }
        let prev_end = self.group[..self.group_len].last().map(|b| b.end);
        let burst = Burst {
            band: tr.band,
            start: tr.start,
            end: tr.end,
            gap: prev_end.map_or(0, |e| tr.start.saturating_sub(e)),
            freq: tr.freq_sum / tr.freq_n.max(1) as f32,
        };
        // A silence longer than any pattern gap starts a new group.
        if burst.gap > ms_to_samples(GROUP_GAP_MS) * 2 {
            self.clear_group();
        }
        let was_pending = self.pending;
        if self.group_len == MAX_BURSTS {
            self.group.copy_within(1.., 0);
            self.group_len -= 1;
        }
        self.group[self.group_len] = burst;
        self.group_len += 1;

        if !self.any_match(false) && was_pending {
            // The continuation failed: report what was complete before it.
            self.group_len -= 1;
            self.emit(on_event);
            return;
        }
        // Drop leading bursts until the rest can be (the start of) a pattern.
        while self.group_len > 0 && !self.any_match(false) {
            self.group.copy_within(1..self.group_len, 0);
            self.group_len -= 1;
        }
        if self.group_len == 0 {
            self.pending = false;
            return;
        }
        let complete = self.any_match(true);
        let next_gap = self.next_gap_limit();
        match next_gap {
            None if complete => self.emit(on_event),
            None => self.clear_group(),
            Some(max_gap) => {
                self.pending = complete;
                self.wait_until = burst.end + max_gap;
            }
        }
    }

    /// Whether the group matches the start of a pattern (`whole`: all of one).
    fn any_match(&self, whole: bool) -> bool {
        let g = &self.group[..self.group_len];
        self.patterns.iter().any(|p| {
            (if whole {
                p.len() == g.len()
            } else {
                p.len() >= g.len()
            }) && prefix(p, g)
        })
    }

    /// Longest gap after which a longer pattern could still continue.
    fn next_gap_limit(&self) -> Option<u64> {
        let g = &self.group[..self.group_len];
        self.patterns
            .iter()
            .filter(|p| p.len() > g.len() && prefix(p, g))
            .map(|p| p[g.len()].max_gap)
            .max()
    }

    fn emit(&mut self, on_event: &mut dyn FnMut(CallWaitingToneEvent)) {
        let g = &self.group[..self.group_len];
        if let (Some(first), Some(last)) = (g.first(), g.last()) {
            let span = last.end.saturating_sub(first.start) * 1000 / u64::from(SAMPLE_RATE);
            on_event(CallWaitingToneEvent {
                at_sample: first.start,
                freq_hz: first.freq,
                duration_ms: u32::try_from(span).unwrap_or(u32::MAX),
                bursts: g.len() as u8,
            });
            self.holdoff_until = self.samples + self.holdoff;
        }
        self.clear_group();
    }
}

fn prefix(pattern: &[Limits], group: &[Burst]) -> bool {
    group.iter().zip(pattern).enumerate().all(|(i, (b, l))| {
        let len = b.end.saturating_sub(b.start);
        b.band == l.band
            && (l.min_len..=l.max_len).contains(&len)
            && (i == 0 || (l.min_gap..=l.max_gap).contains(&b.gap))
    })
}
