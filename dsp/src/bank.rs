//! Multi-channel detector bank: the in-call detectors (call-waiting tone of
//! one zone, CAS, DTMF) for many channels at once, one 20 ms frame per
//! channel per tick (signals.md §8, §10).
//!
//! # Two stages
//!
//! 1. **Screen** (every channel, every tick, structure of arrays). Channels
//!    are processed in chunks of [`LANES`] with the channel index innermost,
//!    so the per-sample loop `s = (x − s2) + c·s1` is the same straight-line
//!    code for every lane and the compiler turns it into SIMD; there are no
//!    branches in it. The arithmetic is compiled for AVX-512, AVX2 + FMA
//!    and the default target and chosen at run time (`multiversion`). Per
//!    channel and tick it runs, on the raw input:
//!    * the SAS band bins of the zone over the whole 160-sample frame (one
//!      bin per ≤ 50 Hz of each single-tone band, both tones of a dual band);
//!    * 2130 and 2750 Hz and the eight DTMF tones over the two 80-sample
//!      halves of the frame (100 Hz bins, so the ±2 % CAS and ±1.5 % DTMF
//!      tolerances lose at most ≈ 4.6 dB);
//!    * the energy of each half and of the second difference
//!      `x[n] − 2x[n−1] + x[n−2]` (a cheap 12 dB/octave high-pass: speech
//!      below 1 kHz counts 10–30 dB less against the CAS tones than in the
//!      raw energy).
//!
//!    The bins of a chunk are skipped when no lane has the energy to pass
//!    any bin test (a bin's tone energy `2|X|²/N` is at most twice the block
//!    energy, so a chunk whose frame or half energies are all below half the
//!    SAS or CAS/DTMF floor cannot flag anything; the gates sit a further
//!    factor 2 lower). Quiet lines cost little more than the transpose.
//!
//!    At the end of the tick a light, deliberately permissive test per
//!    channel — the scalar detectors' level floors lowered by 3–10 dB, their
//!    spectral-purity shares lowered to 0.15–0.45, flat frame halves for SAS,
//!    two passing halves in a row for CAS and DTMF — flags the channel as a
//!    *candidate* for SAS, CAS and/or DTMF.
//! 2. **Confirm** (candidate channels only). A candidate starts that
//!    channel's scalar detector ([`CallWaitingToneDetector`],
//!    [`CasDetector`], [`DtmfDetector`]: the decision logic is theirs, not a
//!    copy), replays the channel's last [`HISTORY_FRAMES`] frames (160 ms)
//!    into it, aligned to the same window grid as a detector fed from the
//!    first sample, and keeps feeding it every frame until the screen has
//!    been quiet for 200 ms and the detector is idle (no burst, burst group
//!    or hold-off under way: `is_idle`, so stopping loses nothing). Its
//!    events, shifted to the channel's sample count, are the bank's events.
//!
//! On a channel that the screen flags, the bank therefore reports exactly
//! what the scalar detector reports (up to float rounding in the high-pass
//! filters' start-up, 160 ms before the signal). It differs only if the
//! screen misses a signal the scalar detector would accept (tested on SAS
//! bursts, SAS + CAS, DTMF, dial tone, noise and speech-like input, see
//! `tests/bank.rs`), and the cost of a channel rises to bank + scalar while
//! one of its detectors is active (after a candidate tick at least 200 ms,
//! longer while the detector follows a burst or a burst group; after an
//! event its 2 s hold-off).
//!
//! Allocation: [`DetectorBank::new`] allocates everything for the screen;
//! starting a scalar detector allocates it (rare: once per candidate
//! episode). No input can make it panic; frames beyond `channels` are
//! ignored, missing ones are treated as silence.

use crate::cas::{CasConfig, CasDetector, CAS_HIGH_HZ, CAS_LOW_HZ};
use crate::dtmf::{DtmfDetector, DtmfEvent, COL_FREQS, ROW_FREQS};
use crate::goertzel::tone_energy;
use crate::sas::{Band, CallWaitingToneDetector, SasConfig};
use crate::{ms_to_samples, sine_energy, zones, Frame, FRAME_SAMPLES, SAMPLE_RATE};

/// Channels processed together by the screen (the SIMD width the compiler
/// targets; 16 f32 = one AVX-512, two AVX2 or four SSE registers).
pub const LANES: usize = 16;
/// Frames of history replayed into a scalar detector when it starts.
pub const HISTORY_FRAMES: usize = 8;

const HALF: usize = FRAME_SAMPLES / 2;
/// CAS (2) + DTMF (8) bins evaluated per half frame.
const HALF_BINS: usize = 10;
/// DTMF hop (`dtmf.rs`: 102-sample windows every 51 samples).
const DTMF_HOP: u64 = 51;
/// DTMF per-tone floor of the scalar detector (−42 dBm0, `dtmf.rs`).
const DTMF_FLOOR_DBM0: f32 = -42.0;

/// Screen margins (see the module comment).
const SAS_FLOOR_MARGIN_DB: f32 = 10.0;
/// Band bin share of the raw frame energy (scalar: 0.5 of the high-passed
/// window energy; a tone at the band edge loses 3.9 dB in the centre bin).
const SAS_SHARE: f32 = 0.3;
/// Energy ratio between the frame halves (scalar: 5 ms sub-blocks ≥ 0.5).
const SAS_FLAT: f32 = 0.3;
const CAS_FLOOR_MARGIN_DB: f32 = 6.0;
/// Per-half twist bound (12 dB; scalar per window 10 dB).
const CAS_TWIST: f32 = 16.0;
/// Tone share of the second-difference energy (scalar: 0.35 of the
/// 1200 Hz high-passed energy per window, 0.4 per burst).
const CAS_SHARE: f32 = 0.2;
const DTMF_FLOOR_MARGIN_DB: f32 = 3.0;
/// Per-half twist bound (14 dB; scalar per window 11 / 7 dB).
const DTMF_TWIST: f32 = 25.0;
/// Row + column share of the half's energy (scalar: 0.63 per window).
const DTMF_SHARE: f32 = 0.55;

/// A detector keeps running this long after the last candidate tick, and
/// then until it is idle. Longer than the replayed history (160 ms), so a
/// detector started again later never replays the tail of a signal the
/// previous one already judged (it would report a digit twice).
const QUIET_MARGIN_MS: u32 = 200;

type Lanes = [f32; LANES];

/// An event reported by [`DetectorBank::process_tick`]; sample positions
/// count from the channel's first sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BankEvent {
    /// Call-waiting tone pattern; `at_sample` is the start of its first burst
    /// ([`crate::sas::CallWaitingToneEvent::at_sample`]).
    CallWaitingTone { at_sample: u64 },
    /// CPE Alerting Signal; `end_sample` is the estimated end of the tone
    /// ([`crate::cas::CasEvent::end_sample`]), the reference for the ACK.
    Cas { end_sample: u64 },
    /// DTMF digit began at `at_sample` ([`DtmfEvent::Begin`]).
    Dtmf { digit: char, at_sample: u64 },
}

/// Screen bands of the zone's SAS configuration.
#[derive(Debug, Clone)]
enum ScreenBand {
    /// Any of the bins `first..first + n` (indices into the SAS bins).
    Single { first: usize, n: usize },
    /// Both bins.
    Dual { i1: usize, i2: usize },
}

/// A scalar detector started for one channel.
#[derive(Debug, Clone)]
struct Active<D> {
    det: D,
    /// Channel sample at which the detector's first sample was.
    offset: u64,
    /// Channel sample from which it may stop.
    until: u64,
}

#[derive(Debug, Default)]
struct Channel {
    sas: Option<Box<Active<CallWaitingToneDetector>>>,
    cas: Option<Box<Active<CasDetector>>>,
    dtmf: Option<Box<Active<DtmfDetector>>>,
}

/// Screen results of one tick for one chunk of channels.
#[derive(Debug, Clone)]
struct Scratch {
    /// Transposed input: `x[n][lane]`.
    x: Vec<Lanes>,
    /// SAS bin powers over the frame.
    sas_p: Vec<Lanes>,
    /// CAS + DTMF bin powers per half.
    half_p: [[Lanes; HALF_BINS]; 2],
    /// Raw energy per half.
    energy: [Lanes; 2],
    /// Energy of the second difference per half.
    diff_energy: [Lanes; 2],
}

/// The multi-channel detector bank; see the module comment.
#[derive(Debug)]
pub struct DetectorBank {
    channels: usize,
    sas_config: SasConfig,
    sas_coeffs: Vec<f32>,
    sas_bands: Vec<ScreenBand>,
    half_coeffs: [f32; HALF_BINS],
    /// Power gain of the second difference at 2130 and 2750 Hz.
    cas_diff_gain: [f32; 2],
    sas_floor: f32,
    cas_floor: f32,
    dtmf_floor: f32,
    gates: Gates,
    sas_linger: Linger,
    cas_linger: Linger,
    dtmf_linger: Linger,
    /// Last two samples of the previous frame per channel (for the second
    /// difference).
    prev: [Vec<f32>; 2],
    /// Per channel: whether the last half of the previous frame passed the
    /// CAS (bit 1) and DTMF (bit 2) tests; both need two halves in a row.
    carry: Vec<u8>,
    /// `HISTORY_FRAMES` frames per channel, ring indexed by tick.
    history: Vec<Frame>,
    state: Vec<Channel>,
    scratch: Scratch,
    /// Candidate flags of the current tick per channel (bit 0 SAS, 1 CAS,
    /// 2 DTMF).
    flags: Vec<u8>,
    /// Candidate channel-ticks so far: SAS, CAS, DTMF.
    candidates: [u64; 3],
    ticks: u64,
}

fn coeff(freq_hz: f32) -> f32 {
    2.0 * (2.0 * std::f32::consts::PI * freq_hz / SAMPLE_RATE as f32).cos()
}

/// `a·b + c`, fused where the selected target has FMA (a plain call to
/// `mul_add` without it would go through the slow software `fmaf`).
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Run `G` Goertzel filters over `xs` for all lanes. The lane loop is the
/// innermost one and has a fixed trip count, so it vectorises; `G` filters
/// at once give the CPU independent dependency chains.
#[inline(always)]
fn goertzel_run<const G: usize, const FMA: bool>(
    c: &[f32; G],
    xs: &[Lanes],
    s1: &mut [Lanes; G],
    s2: &mut [Lanes; G],
) {
    let mut a = *s1;
    let mut b = *s2;
    for x in xs {
        for g in 0..G {
            let cg = c[g];
            let mut s = [0.0f32; LANES];
            for (((o, &xv), &av), &bv) in s.iter_mut().zip(x).zip(&a[g]).zip(&b[g]) {
                *o = madd::<FMA>(cg, av, xv - bv);
            }
            b[g] = a[g];
            a[g] = s;
        }
    }
    *s1 = a;
    *s2 = b;
}

#[inline(always)]
fn power(c: f32, s1: &Lanes, s2: &Lanes, out: &mut Lanes) {
    for ((o, &a), &b) in out.iter_mut().zip(s1).zip(s2) {
        *o = a * a + b * b - c * a * b;
    }
}

/// Goertzel powers of the `G` filters `coeffs` over `xs` (fresh state).
#[inline(always)]
fn goertzel_group<const G: usize, const FMA: bool>(
    coeffs: &[f32],
    xs: &[Lanes],
    out: &mut [Lanes],
) {
    let mut c = [0.0f32; G];
    c.copy_from_slice(&coeffs[..G]);
    let mut s1 = [[0.0; LANES]; G];
    let mut s2 = [[0.0; LANES]; G];
    goertzel_run::<G, FMA>(&c, xs, &mut s1, &mut s2);
    for g in 0..G {
        power(c[g], &s1[g], &s2[g], &mut out[g]);
    }
}

/// Goertzel powers of `coeffs` over `xs` (fresh state) into `out`, four
/// filters at a time (independent dependency chains for the FP pipes).
#[inline(always)]
fn goertzel_block<const FMA: bool>(coeffs: &[f32], xs: &[Lanes], out: &mut [Lanes]) {
    let n = coeffs.len().min(out.len());
    let mut i = 0;
    while i < n {
        let (c, o) = (&coeffs[i..n], &mut out[i..n]);
        i += match n - i {
            1 => {
                goertzel_group::<1, FMA>(c, xs, o);
                1
            }
            2 => {
                goertzel_group::<2, FMA>(c, xs, o);
                2
            }
            3 => {
                goertzel_group::<3, FMA>(c, xs, o);
                3
            }
            _ => {
                goertzel_group::<4, FMA>(c, xs, o);
                4
            }
        };
    }
}

/// Largest value of the lanes.
#[inline(always)]
fn lanes_max(v: &Lanes) -> f32 {
    v.iter().fold(0.0f32, |m, &x| m.max(x))
}

/// The arithmetic of the screen for one chunk (after the transpose into
/// `sc.x`): energies, then the Goertzel bins — skipped (left at zero) when
/// no lane of the chunk has the energy any bin test could pass with.
///
/// Compiled for AVX-512, AVX2 + FMA and the default target, chosen at run
/// time ([`multiversion`]: the dispatch is the crate's; no `unsafe` here).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
fn screen_arith(
    src: &[&Frame; LANES],
    sas_coeffs: &[f32],
    half_coeffs: &[f32; HALF_BINS],
    gates: &Gates,
    prev: &mut [Lanes; 2],
    sc: &mut Scratch,
) {
    transpose(src, &mut sc.x);
    if multiversion::target::target_cfg_f!(target_feature = "fma") {
        screen_body::<true>(sas_coeffs, half_coeffs, gates, prev, sc);
    } else {
        screen_body::<false>(sas_coeffs, half_coeffs, gates, prev, sc);
    }
}

/// Transpose `LANES` frames into `x[n][lane]` as f32, in blocks of eight
/// samples (one 128-bit load per frame and block).
#[inline(always)]
fn transpose(src: &[&Frame; LANES], x: &mut [Lanes]) {
    const B: usize = 8;
    for (blk, xs) in x.chunks_exact_mut(B).enumerate() {
        let mut t = [[0i16; B]; LANES];
        for (tl, f) in t.iter_mut().zip(src) {
            if let Some(v) = f.get(blk * B..(blk + 1) * B) {
                tl.copy_from_slice(v);
            }
        }
        for (n, xn) in xs.iter_mut().enumerate() {
            for (o, tl) in xn.iter_mut().zip(&t) {
                *o = f32::from(tl[n]);
            }
        }
    }
}

#[inline(always)]
fn screen_body<const FMA: bool>(
    sas_coeffs: &[f32],
    half_coeffs: &[f32; HALF_BINS],
    gates: &Gates,
    prev: &mut [Lanes; 2],
    sc: &mut Scratch,
) {
    // Energies of each half and of the second difference (a cheap
    // 12 dB/octave high-pass for the CAS share).
    let [mut p1, mut p2] = *prev;
    for h in 0..2 {
        let xs = &sc.x[h * HALF..(h + 1) * HALF];
        let mut e = [0.0f32; LANES];
        let mut d = [0.0f32; LANES];
        for x in xs {
            for l in 0..LANES {
                let dv = (x[l] + p2[l]) - 2.0 * p1[l];
                e[l] = madd::<FMA>(x[l], x[l], e[l]);
                d[l] = madd::<FMA>(dv, dv, d[l]);
            }
            p2 = p1;
            p1 = *x;
        }
        sc.energy[h] = e;
        sc.diff_energy[h] = d;
    }
    *prev = [p1, p2];
    let mut frame_e = [0.0f32; LANES];
    for (o, (&a, &b)) in frame_e
        .iter_mut()
        .zip(sc.energy[0].iter().zip(&sc.energy[1]))
    {
        *o = a + b;
    }
    if lanes_max(&frame_e) >= gates.sas {
        goertzel_block::<FMA>(sas_coeffs, &sc.x, &mut sc.sas_p);
    } else {
        sc.sas_p.iter_mut().for_each(|p| *p = [0.0; LANES]);
    }
    for h in 0..2 {
        if lanes_max(&sc.energy[h]) >= gates.half {
            goertzel_block::<FMA>(
                half_coeffs,
                &sc.x[h * HALF..(h + 1) * HALF],
                &mut sc.half_p[h],
            );
        } else {
            sc.half_p[h] = [[0.0; LANES]; HALF_BINS];
        }
    }
}

/// Energy gates of the screen: below them no bin test can pass, since a
/// Goertzel's tone energy `2|X|²/N` is at most twice the block energy
/// (Cauchy–Schwarz), and each test needs a bin at or above a floor.
#[derive(Debug, Clone, Copy)]
struct Gates {
    /// Frame energy below which no SAS bin reaches the SAS floor.
    sas: f32,
    /// Half energy below which no CAS or DTMF bin reaches its floor.
    half: f32,
}

impl DetectorBank {
    /// Bank for `channels` channels listening for `zone`'s call-waiting tone
    /// ([`SasConfig::for_zone`]), CAS ([`CasConfig::default`]) and DTMF.
    pub fn new(zone: &zones::Zone, channels: usize) -> Self {
        let sas_config = SasConfig::for_zone(zone);
        let mut sas_freqs = Vec::new();
        let mut sas_bands = Vec::new();
        for band in &sas_config.bands {
            match *band {
                Band::Single { lo_hz, hi_hz, .. } => {
                    let span = (hi_hz - lo_hz).max(0.0);
                    let n = ((span / 50.0).ceil() as usize).clamp(1, 64);
                    let first = sas_freqs.len();
                    for i in 0..n {
                        sas_freqs.push(lo_hz + span * (i as f32 + 0.5) / n as f32);
                    }
                    sas_bands.push(ScreenBand::Single { first, n });
                }
                Band::Dual { f1_hz, f2_hz } => {
                    sas_freqs.push(f1_hz);
                    sas_freqs.push(f2_hz);
                    let i2 = sas_freqs.len() - 1;
                    sas_bands.push(ScreenBand::Dual { i1: i2 - 1, i2 });
                }
            }
        }
        let mut half_coeffs = [0.0; HALF_BINS];
        let half_freqs = [CAS_LOW_HZ, CAS_HIGH_HZ]
            .into_iter()
            .chain(ROW_FREQS)
            .chain(COL_FREQS);
        for (o, f) in half_coeffs.iter_mut().zip(half_freqs) {
            *o = coeff(f);
        }
        let diff_gain = |f: f32| {
            let s = (std::f32::consts::PI * f / SAMPLE_RATE as f32).sin();
            16.0 * s * s * s * s
        };
        let cas = CasConfig::default();
        let ms = |v: u32| ms_to_samples(v);
        // Once the screen is quiet, a detector stops as soon as it is idle
        // (nothing under way it would lose); the margin only covers ticks
        // the screen passes over inside a signal the detector still follows.
        let sas_linger = Linger {
            quiet: ms(QUIET_MARGIN_MS),
        };
        let cas_linger = Linger {
            quiet: ms(QUIET_MARGIN_MS),
        };
        let dtmf_linger = Linger {
            quiet: ms(QUIET_MARGIN_MS),
        };
        let padded = channels.div_ceil(LANES) * LANES;
        let sas_floor = sine_energy(sas_config.floor_dbm0 - SAS_FLOOR_MARGIN_DB, FRAME_SAMPLES);
        let cas_floor = sine_energy(cas.floor_dbm0 - CAS_FLOOR_MARGIN_DB, HALF);
        let dtmf_floor = sine_energy(DTMF_FLOOR_DBM0 - DTMF_FLOOR_MARGIN_DB, HALF);
        // Half of each floor is the exact bound; a further factor 2 covers
        // rounding.
        let gates = Gates {
            sas: sas_floor / 4.0,
            half: cas_floor.min(dtmf_floor) / 4.0,
        };
        Self {
            channels,
            sas_coeffs: sas_freqs.iter().map(|&f| coeff(f)).collect(),
            sas_bands,
            half_coeffs,
            cas_diff_gain: [diff_gain(CAS_LOW_HZ), diff_gain(CAS_HIGH_HZ)],
            sas_floor,
            cas_floor,
            dtmf_floor,
            gates,
            sas_linger,
            cas_linger,
            dtmf_linger,
            prev: [vec![0.0; padded], vec![0.0; padded]],
            carry: vec![0; padded],
            history: vec![[0; FRAME_SAMPLES]; channels * HISTORY_FRAMES],
            state: (0..channels).map(|_| Channel::default()).collect(),
            scratch: Scratch {
                x: vec![[0.0; LANES]; FRAME_SAMPLES],
                sas_p: vec![[0.0; LANES]; sas_freqs.len()],
                half_p: [[[0.0; LANES]; HALF_BINS]; 2],
                energy: [[0.0; LANES]; 2],
                diff_energy: [[0.0; LANES]; 2],
            },
            flags: vec![0; padded],
            sas_config,
            candidates: [0; 3],
            ticks: 0,
        }
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Samples processed per channel so far.
    pub fn samples(&self) -> u64 {
        self.ticks * FRAME_SAMPLES as u64
    }

    /// The SAS configuration in use (from the zone).
    pub fn sas_config(&self) -> &SasConfig {
        &self.sas_config
    }

    /// Channels whose scalar detectors are running: (SAS, CAS, DTMF).
    pub fn active_counts(&self) -> (usize, usize, usize) {
        self.state.iter().fold((0, 0, 0), |(s, c, d), ch| {
            (
                s + usize::from(ch.sas.is_some()),
                c + usize::from(ch.cas.is_some()),
                d + usize::from(ch.dtmf.is_some()),
            )
        })
    }

    /// Channel-ticks flagged as candidates so far: (SAS, CAS, DTMF). Each
    /// starts or prolongs a scalar detector; their rate on a channel's
    /// normal traffic (speech) is what the bank's speed depends on.
    pub fn candidate_ticks(&self) -> (u64, u64, u64) {
        let [s, c, d] = self.candidates;
        (s, c, d)
    }

    /// Process one 160-sample frame per channel (`frames[c]` is channel
    /// `c`); events come through `on_event(channel, event)`.
    pub fn process_tick(&mut self, frames: &[Frame], on_event: &mut dyn FnMut(usize, BankEvent)) {
        const SILENCE: Frame = [0; FRAME_SAMPLES];
        let frame = |c: usize| frames.get(c).unwrap_or(&SILENCE);
        for chunk in 0..self.channels.div_ceil(LANES) {
            self.screen_chunk(chunk, frames);
        }
        let tick_start = self.ticks * FRAME_SAMPLES as u64;
        for c in 0..self.channels {
            self.confirm(c, frame(c), tick_start, on_event);
            let slot = c * HISTORY_FRAMES + (self.ticks % HISTORY_FRAMES as u64) as usize;
            self.history[slot] = *frame(c);
        }
        self.ticks += 1;
    }

    /// Stage 1 for channels `chunk * LANES ..`: fills `self.flags`.
    fn screen_chunk(&mut self, chunk: usize, frames: &[Frame]) {
        let base = chunk * LANES;
        let sc = &mut self.scratch;
        const SILENCE: Frame = [0; FRAME_SAMPLES];
        // Lanes past the end (and missing frames) are silent.
        let src: [&Frame; LANES] = std::array::from_fn(|l| {
            frames
                .get(base + l)
                .filter(|_| base + l < self.channels)
                .unwrap_or(&SILENCE)
        });
        let mut prev = [[0.0f32; LANES]; 2];
        for (p, src) in prev.iter_mut().zip(&self.prev) {
            p.copy_from_slice(&src[base..base + LANES]);
        }
        screen_arith(
            &src,
            &self.sas_coeffs,
            &self.half_coeffs,
            &self.gates,
            &mut prev,
            sc,
        );
        for (p, dst) in prev.iter().zip(&mut self.prev) {
            dst[base..base + LANES].copy_from_slice(p);
        }

        // Light per-channel decisions.
        for l in 0..LANES {
            let mut f = 0u8;
            let (e0, e1) = (sc.energy[0][l], sc.energy[1][l]);
            let energy = e0 + e1;
            let flat = e0.min(e1) >= SAS_FLAT * e0.max(e1);
            let t = |k: usize| tone_energy(sc.sas_p[k][l], FRAME_SAMPLES);
            let sas = self.sas_bands.iter().any(|b| match *b {
                ScreenBand::Single { first, n } => (first..first + n).any(|k| {
                    let v = t(k);
                    v >= self.sas_floor && v >= SAS_SHARE * energy
                }),
                ScreenBand::Dual { i1, i2 } => {
                    let (a, b) = (t(i1), t(i2));
                    a >= self.sas_floor && b >= self.sas_floor && a + b >= SAS_SHARE * energy
                }
            });
            if sas && flat {
                f |= 1;
            }
            let mut carry = self.carry[base + l];
            for h in 0..2 {
                let th = |k: usize| tone_energy(sc.half_p[h][k][l], HALF);
                let (lo, hi) = (th(0), th(1));
                let cas = lo >= self.cas_floor
                    && hi >= self.cas_floor
                    && lo <= hi * CAS_TWIST
                    && hi <= lo * CAS_TWIST
                    && self.cas_diff_gain[0] * lo + self.cas_diff_gain[1] * hi
                        >= CAS_SHARE * sc.diff_energy[h][l];
                if cas && carry & 2 != 0 {
                    f |= 2;
                }
                let row = (2..6).map(th).fold(0.0f32, f32::max);
                let col = (6..10).map(th).fold(0.0f32, f32::max);
                let dtmf = row >= self.dtmf_floor
                    && col >= self.dtmf_floor
                    && row <= col * DTMF_TWIST
                    && col <= row * DTMF_TWIST
                    && row + col >= DTMF_SHARE * sc.energy[h][l];
                if dtmf && carry & 4 != 0 {
                    f |= 4;
                }
                carry = u8::from(cas) << 1 | u8::from(dtmf) << 2;
            }
            self.carry[base + l] = carry;
            self.flags[base + l] = f;
            if base + l < self.channels {
                for (i, n) in self.candidates.iter_mut().enumerate() {
                    *n += u64::from(f >> i & 1);
                }
            }
        }
    }

    /// Stage 2 for channel `c`.
    fn confirm(
        &mut self,
        c: usize,
        frame: &Frame,
        tick_start: u64,
        on_event: &mut dyn FnMut(usize, BankEvent),
    ) {
        let flags = self.flags[c];
        let n = (self.ticks as usize).min(HISTORY_FRAMES);
        let history = History {
            frames: &self.history[c * HISTORY_FRAMES..(c + 1) * HISTORY_FRAMES],
            first_tick: self.ticks - n as u64,
            ticks: self.ticks,
            start: tick_start - (n * FRAME_SAMPLES) as u64,
        };
        let ch = &mut self.state[c];
        let mut out = |e: BankEvent| on_event(c, e);
        let sas_config = &self.sas_config;
        run_slot(
            &mut ch.sas,
            || CallWaitingToneDetector::new(sas_config.clone()),
            flags & 1 != 0,
            &history,
            frame,
            self.sas_linger,
            &mut out,
        );
        run_slot(
            &mut ch.cas,
            CasDetector::new,
            flags & 2 != 0,
            &history,
            frame,
            self.cas_linger,
            &mut out,
        );
        run_slot(
            &mut ch.dtmf,
            DtmfDetector::new,
            flags & 4 != 0,
            &history,
            frame,
            self.dtmf_linger,
            &mut out,
        );
    }
}

/// A channel's replayable history.
struct History<'a> {
    /// The channel's ring of `HISTORY_FRAMES` frames, indexed by tick.
    frames: &'a [Frame],
    first_tick: u64,
    ticks: u64,
    /// Channel sample of the first history sample.
    start: u64,
}

/// How long a scalar detector keeps running, in samples.
#[derive(Debug, Clone, Copy)]
struct Linger {
    /// After the last candidate tick (then until it is idle; an event's
    /// hold-off keeps it from being idle).
    quiet: u64,
}

/// A scalar detector as used by stage 2; events carry the detector's own
/// sample positions.
trait Confirm {
    /// Analysis grid: replays start at a multiple of it.
    const GRID: u64;
    fn feed(&mut self, samples: &[i16], out: &mut dyn FnMut(BankEvent));
    /// Nothing in progress that stopping now would lose.
    fn idle(&self) -> bool {
        true
    }
}

impl Confirm for CallWaitingToneDetector {
    const GRID: u64 = 80;
    fn feed(&mut self, samples: &[i16], out: &mut dyn FnMut(BankEvent)) {
        self.process(samples, &mut |e| {
            out(BankEvent::CallWaitingTone {
                at_sample: e.at_sample,
            })
        });
    }
    fn idle(&self) -> bool {
        self.is_idle()
    }
}

impl Confirm for CasDetector {
    const GRID: u64 = 32;
    fn feed(&mut self, samples: &[i16], out: &mut dyn FnMut(BankEvent)) {
        self.process(samples, &mut |e| {
            out(BankEvent::Cas {
                end_sample: e.end_sample,
            })
        });
    }
    fn idle(&self) -> bool {
        self.is_idle()
    }
}

impl Confirm for DtmfDetector {
    const GRID: u64 = DTMF_HOP;
    fn feed(&mut self, samples: &[i16], out: &mut dyn FnMut(BankEvent)) {
        self.process(samples, &mut |e| {
            if let DtmfEvent::Begin { digit, at_sample } = e {
                out(BankEvent::Dtmf { digit, at_sample });
            }
        });
    }
    fn idle(&self) -> bool {
        self.current_digit().is_none()
    }
}

fn shifted(e: BankEvent, offset: u64) -> BankEvent {
    match e {
        BankEvent::CallWaitingTone { at_sample } => BankEvent::CallWaitingTone {
            at_sample: at_sample + offset,
        },
        BankEvent::Cas { end_sample } => BankEvent::Cas {
            end_sample: end_sample + offset,
        },
        BankEvent::Dtmf { digit, at_sample } => BankEvent::Dtmf {
            digit,
            at_sample: at_sample + offset,
        },
    }
}

/// Start (on a candidate), feed and stop one scalar detector of a channel.
fn run_slot<D: Confirm>(
    slot: &mut Option<Box<Active<D>>>,
    make: impl FnOnce() -> D,
    flagged: bool,
    history: &History<'_>,
    frame: &Frame,
    linger: Linger,
    out: &mut dyn FnMut(BankEvent),
) {
    let tick_end = (history.ticks + 1) * FRAME_SAMPLES as u64;
    match slot.as_mut() {
        Some(a) => {
            let offset = a.offset;
            a.det.feed(frame, &mut |e| out(shifted(e, offset)));
        }
        None if flagged => {
            // Replay from the first grid point in the history, so the
            // detector's windows fall where they would had it run from the
            // channel's first sample.
            let offset = history.start.div_ceil(D::GRID) * D::GRID;
            let mut skip = (offset - history.start) as usize;
            let mut det = make();
            let mut cb = |e: BankEvent| out(shifted(e, offset));
            let past = (history.first_tick..history.ticks)
                .map(|t| &history.frames[(t % HISTORY_FRAMES as u64) as usize]);
            for f in past.chain(std::iter::once(frame)) {
                let from = skip.min(FRAME_SAMPLES);
                skip -= from;
                det.feed(&f[from..], &mut cb);
            }
            *slot = Some(Box::new(Active {
                det,
                offset,
                until: 0,
            }));
        }
        None => return,
    }
    let Some(a) = slot.as_mut() else { return };
    if flagged {
        a.until = a.until.max(tick_end + linger.quiet);
    }
    if tick_end >= a.until && a.det.idle() {
        *slot = None;
    }
}
