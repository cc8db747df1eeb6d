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
//!    The bins that run over a half run together in balanced groups of up
//!    to eight (four without AVX-512) independent recursions, the SAS bins
//!    continuing from the first half into the second, so no small group is
//!    left waiting on the latency of its own recursion; the energies of
//!    both halves accumulate in one loop. Each sum still adds its samples in
//!    the same order, so the values are those of the plain form (unit
//!    tests).
//!
//!    At the end of the tick a light, deliberately permissive test per
//!    channel — the scalar detectors' level floors lowered by 3–10 dB, their
//!    spectral-purity shares lowered to 0.15–0.45, flat frame halves for SAS,
//!    two passing halves in a row for CAS and DTMF — flags the channel as a
//!    *candidate* for SAS, CAS and/or DTMF. These tests run inside the same
//!    multiversioned code, as branch-free compares over the 16 lanes that
//!    yield one lane mask per detector; the tests of bins the gates skipped
//!    are not evaluated (they cannot pass).
//! 2. **Confirm** (candidate channels only). A candidate starts that
//!    channel's scalar detector ([`CallWaitingToneDetector`],
//!    [`CasDetector`], [`DtmfDetector`]: the decision logic is theirs, not a
//!    copy), replays the channel's last [`HISTORY_FRAMES`] frames (160 ms)
//!    into it, aligned to the same window grid as a detector fed from the
//!    first sample, and keeps feeding it every frame until the screen has
//!    been quiet for 200 ms and the detector is idle (no burst, burst group
//!    or hold-off under way: `is_idle`, so stopping loses nothing). Its
//!    events, shifted to the channel's sample count, are the bank's events.
//!    Only lanes with a candidate bit or a running detector (a per-chunk
//!    mask) enter this stage; the others cost nothing in it.
//!
//! The bank works chunk by chunk: screen, confirm, then copy the chunk's
//! frames into the history ring (one tick's frames contiguous) while they
//! are still in cache from the transpose. The copy is 320 bytes per channel
//! and tick, a few per cent of the cost even at 1024 channels (2.6 MB of
//! ring), so every frame is kept rather than guessing which channel might
//! become a candidate.
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
    x: Box<[Lanes; FRAME_SAMPLES]>,
    /// Goertzel states of the bins of [`ScreenParams::coeffs`].
    s1: Vec<Lanes>,
    s2: Vec<Lanes>,
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
    params: ScreenParams,
    /// Per chunk: last two samples of the previous frame per lane (for the
    /// second difference).
    prev: Vec<[Lanes; 2]>,
    /// Per chunk: lanes whose last half of the previous frame passed the
    /// CAS (`[0]`) and DTMF (`[1]`) tests; both need two halves in a row.
    carry: Vec<[u16; 2]>,
    /// Per chunk: lanes with a scalar detector running (any slot of their
    /// [`Channel`] is `Some`). Stage 2 visits these and the candidates only.
    active: Vec<u16>,
    /// `HISTORY_FRAMES` frames per channel, ring indexed by tick: frame of
    /// tick `t` of channel `c` at `(t % HISTORY_FRAMES) * channels + c` (one
    /// tick's frames are contiguous, written in order).
    history: Vec<Frame>,
    state: Vec<Channel>,
    scratch: Scratch,
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

/// [`goertzel_run`] on the first `G` filters of slices.
#[inline(always)]
fn goertzel_group<const G: usize, const FMA: bool>(
    c: &[f32],
    xs: &[Lanes],
    s1: &mut [Lanes],
    s2: &mut [Lanes],
) {
    let (Some(c), Some(s1), Some(s2)) = (
        c.first_chunk::<G>(),
        s1.first_chunk_mut::<G>(),
        s2.first_chunk_mut::<G>(),
    ) else {
        return;
    };
    goertzel_run::<G, FMA>(c, xs, s1, s2);
}

/// Continue the Goertzel filters `c` (states `s1`, `s2`) over `xs`, in
/// groups of at most `GMAX` filters run together, of balanced sizes (a
/// group of fewer than four filters is bound by the latency of its
/// recursion, not by the FP pipes).
#[inline(always)]
fn goertzel_filters<const GMAX: usize, const FMA: bool>(
    c: &[f32],
    xs: &[Lanes],
    s1: &mut [Lanes],
    s2: &mut [Lanes],
) {
    let n = c.len().min(s1.len()).min(s2.len());
    let groups = n.div_ceil(GMAX);
    let mut i = 0;
    for g in 0..groups {
        let size = (n - i) / (groups - g);
        let (c, s1, s2) = (&c[i..], &mut s1[i..], &mut s2[i..]);
        match size {
            1 => goertzel_group::<1, FMA>(c, xs, s1, s2),
            2 => goertzel_group::<2, FMA>(c, xs, s1, s2),
            3 => goertzel_group::<3, FMA>(c, xs, s1, s2),
            4 => goertzel_group::<4, FMA>(c, xs, s1, s2),
            5 => goertzel_group::<5, FMA>(c, xs, s1, s2),
            6 => goertzel_group::<6, FMA>(c, xs, s1, s2),
            7 => goertzel_group::<7, FMA>(c, xs, s1, s2),
            _ => goertzel_group::<8, FMA>(c, xs, s1, s2),
        }
        i += size.min(8);
    }
}

#[inline(always)]
fn power(c: f32, s1: &Lanes, s2: &Lanes, out: &mut Lanes) {
    for ((o, &a), &b) in out.iter_mut().zip(s1).zip(s2) {
        *o = a * a + b * b - c * a * b;
    }
}

/// The arithmetic and the decisions of the screen for one chunk: transpose
/// into `sc.x`, energies, the Goertzel bins — skipped when no lane of the
/// chunk has the energy any bin test could pass with — and the per-lane
/// candidate tests as lane masks ([`decide`]).
///
/// Compiled for AVX-512, AVX2 + FMA and the default target, chosen at run
/// time ([`multiversion`]: the dispatch is the crate's; no `unsafe` here).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512bw+avx2+fma",
    "x86_64+avx2+fma"
))]
fn screen_arith(
    src: &[&Frame; LANES],
    params: &ScreenParams,
    prev: &mut [Lanes; 2],
    carry: &mut [u16; 2],
    sc: &mut Scratch,
) -> Masks {
    transpose(src, &mut sc.x);
    // Eight filters' states fit the 32 vector registers of AVX-512; with 16
    // registers, four.
    let avx512 = multiversion::target::target_cfg_f!(target_feature = "avx512f");
    let fma = multiversion::target::target_cfg_f!(target_feature = "fma");
    let done = match (avx512, fma) {
        (true, true) => screen_body::<8, true>(params, prev, sc),
        (true, false) => screen_body::<8, false>(params, prev, sc),
        (false, true) => screen_body::<4, true>(params, prev, sc),
        (false, false) => screen_body::<4, false>(params, prev, sc),
    };
    decide(params, done, sc, carry)
}

/// Transpose `LANES` frames into `x[n][lane]` as f32, in blocks of eight
/// samples (one 128-bit load per frame and block).
#[inline(always)]
fn transpose(src: &[&Frame; LANES], x: &mut [Lanes; FRAME_SAMPLES]) {
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

/// Energies and Goertzel bins of a chunk; returns which bins were computed
/// (SAS, first half, second half): the others are left stale and must not
/// be read. `GMAX`: filters run together ([`goertzel_filters`]).
#[inline(always)]
fn screen_body<const GMAX: usize, const FMA: bool>(
    params: &ScreenParams,
    prev: &mut [Lanes; 2],
    sc: &mut Scratch,
) -> [bool; 3] {
    // Energies of each half and of the second difference (a cheap
    // 12 dB/octave high-pass for the CAS share). Both halves in one loop:
    // four independent accumulations instead of two dependency chains in a
    // row (each sum still adds its samples in order).
    let x = &sc.x;
    let mut p1 = [prev[0], x[HALF - 1]];
    let mut p2 = [prev[1], x[HALF - 2]];
    let mut e = [[0.0f32; LANES]; 2];
    let mut d = [[0.0f32; LANES]; 2];
    for n in 0..HALF {
        for h in 0..2 {
            let xv = &x[h * HALF + n];
            for l in 0..LANES {
                let dv = (xv[l] + p2[h][l]) - 2.0 * p1[h][l];
                e[h][l] = madd::<FMA>(xv[l], xv[l], e[h][l]);
                d[h][l] = madd::<FMA>(dv, dv, d[h][l]);
            }
            p2[h] = p1[h];
            p1[h] = *xv;
        }
    }
    *prev = [x[FRAME_SAMPLES - 1], x[FRAME_SAMPLES - 2]];
    sc.energy = e;
    sc.diff_energy = d;

    // The SAS bins run over the whole frame, the CAS and DTMF bins over each
    // half: per half, the bins that pass their gate run together, the SAS
    // ones continuing from the first half.
    let gates = &params.gates;
    let frame_e = lanes_map2(&sc.energy[0], &sc.energy[1], |a, b| a + b);
    let nsas = params.nsas;
    let run_sas = any_at_least(&frame_e, gates.sas);
    let mut done = [run_sas, false, false];
    for h in 0..2 {
        let run_half = any_at_least(&sc.energy[h], gates.half);
        done[1 + h] = run_half;
        if h == 0 && run_sas {
            sc.s1[..nsas].fill([0.0; LANES]);
            sc.s2[..nsas].fill([0.0; LANES]);
        }
        if run_half {
            sc.s1[nsas..].fill([0.0; LANES]);
            sc.s2[nsas..].fill([0.0; LANES]);
        }
        let from = if run_sas { 0 } else { nsas };
        let to = if run_half { nsas + HALF_BINS } else { nsas };
        goertzel_filters::<GMAX, FMA>(
            &params.coeffs[from..to],
            &sc.x[h * HALF..(h + 1) * HALF],
            &mut sc.s1[from..to],
            &mut sc.s2[from..to],
        );
        if run_half {
            for (k, o) in sc.half_p[h].iter_mut().enumerate() {
                let i = nsas + k;
                power(params.coeffs[i], &sc.s1[i], &sc.s2[i], o);
            }
        }
    }
    if run_sas {
        for (k, o) in sc.sas_p.iter_mut().enumerate() {
            power(params.coeffs[k], &sc.s1[k], &sc.s2[k], o);
        }
    }
    done
}

/// Whether any lane is `>= t` (the values are never NaN).
#[inline(always)]
fn any_at_least(v: &Lanes, t: f32) -> bool {
    lanes_mask(|l| v[l] >= t) != 0
}

/// Lane-wise `f(a, b)`.
#[inline(always)]
fn lanes_map2(a: &Lanes, b: &Lanes, f: impl Fn(f32, f32) -> f32) -> Lanes {
    let mut o = [0.0f32; LANES];
    for l in 0..LANES {
        o[l] = f(a[l], b[l]);
    }
    o
}

/// Bit `l` set where `f(l)`; a fixed-trip loop of comparisons, which the
/// compiler turns into vector compares and a mask move.
#[inline(always)]
fn lanes_mask(f: impl Fn(usize) -> bool) -> u16 {
    let mut m = 0u16;
    for l in 0..LANES {
        m |= u16::from(f(l)) << l;
    }
    m
}

/// `a.max(b)` for values that are never NaN (a plain compare and select,
/// where `f32::max` adds NaN handling).
#[inline(always)]
fn max_nonan(a: f32, b: f32) -> f32 {
    if a >= b {
        a
    } else {
        b
    }
}

/// `a.min(b)` for values that are never NaN.
#[inline(always)]
fn min_nonan(a: f32, b: f32) -> f32 {
    if a <= b {
        a
    } else {
        b
    }
}

/// [`crate::goertzel::tone_energy`] for `n > 0`, inlined so the lane loops vectorise (the
/// same expression, so the same rounding).
#[inline(always)]
fn tone_e(power: f32, n: usize) -> f32 {
    2.0 * power / n as f32
}

/// Tone energies of the bin powers `p` over `n` samples, per lane.
#[inline(always)]
fn tone_lanes(p: &Lanes, n: usize) -> Lanes {
    let mut o = [0.0f32; LANES];
    for l in 0..LANES {
        o[l] = tone_e(p[l], n);
    }
    o
}

/// The per-lane candidate tests at the end of the tick, as lane masks:
/// every test is a branch-free compare over the 16 lanes. `done` says which
/// bins [`screen_body`] computed; a skipped bin could not have passed its
/// floor (the energy gates), so its tests are false for every lane.
/// `carry` holds the lanes whose last half of the previous tick passed the
/// CAS (`[0]`) and DTMF (`[1]`) tests: both need two halves in a row.
///
/// Must decide exactly what [`decide_reference`] (the plain per-channel
/// form, kept for the tests) decides.
#[inline(always)]
fn decide(params: &ScreenParams, done: [bool; 3], sc: &Scratch, carry: &mut [u16; 2]) -> Masks {
    let mut out = Masks::default();
    if done[0] {
        let (e0, e1) = (&sc.energy[0], &sc.energy[1]);
        let share = lanes_map2(e0, e1, |a, b| SAS_SHARE * (a + b));
        let flat = lanes_mask(|l| min_nonan(e0[l], e1[l]) >= SAS_FLAT * max_nonan(e0[l], e1[l]));
        let floor = params.sas_floor;
        let mut sas = 0u16;
        for band in &params.sas_bands {
            match *band {
                ScreenBand::Single { first, n } => {
                    for p in sc.sas_p.iter().skip(first).take(n) {
                        let v = tone_lanes(p, FRAME_SAMPLES);
                        sas |= lanes_mask(|l| (v[l] >= floor) & (v[l] >= share[l]));
                    }
                }
                ScreenBand::Dual { i1, i2 } => {
                    let (Some(p1), Some(p2)) = (sc.sas_p.get(i1), sc.sas_p.get(i2)) else {
                        continue;
                    };
                    let (a, b) = (tone_lanes(p1, FRAME_SAMPLES), tone_lanes(p2, FRAME_SAMPLES));
                    sas |= lanes_mask(|l| {
                        (a[l] >= floor) & (b[l] >= floor) & (a[l] + b[l] >= share[l])
                    });
                }
            }
        }
        out.sas = sas & flat;
    }
    let [mut carry_cas, mut carry_dtmf] = *carry;
    for h in 0..2 {
        let (mut cas, mut dtmf) = (0u16, 0u16);
        if done[1 + h] {
            let hp = &sc.half_p[h];
            let (lo, hi) = (tone_lanes(&hp[0], HALF), tone_lanes(&hp[1], HALF));
            let (cf, [g0, g1]) = (params.cas_floor, params.cas_diff_gain);
            let de = &sc.diff_energy[h];
            cas = lanes_mask(|l| {
                (lo[l] >= cf)
                    & (hi[l] >= cf)
                    & (lo[l] <= hi[l] * CAS_TWIST)
                    & (hi[l] <= lo[l] * CAS_TWIST)
                    & (g0 * lo[l] + g1 * hi[l] >= CAS_SHARE * de[l])
            });
            let mut row = [0.0f32; LANES];
            let mut col = [0.0f32; LANES];
            for k in 0..4 {
                let (r, c) = (tone_lanes(&hp[2 + k], HALF), tone_lanes(&hp[6 + k], HALF));
                row = lanes_map2(&row, &r, max_nonan);
                col = lanes_map2(&col, &c, max_nonan);
            }
            let (df, e) = (params.dtmf_floor, &sc.energy[h]);
            dtmf = lanes_mask(|l| {
                (row[l] >= df)
                    & (col[l] >= df)
                    & (row[l] <= col[l] * DTMF_TWIST)
                    & (col[l] <= row[l] * DTMF_TWIST)
                    & (row[l] + col[l] >= DTMF_SHARE * e[l])
            });
        }
        out.cas |= cas & carry_cas;
        out.dtmf |= dtmf & carry_dtmf;
        carry_cas = cas;
        carry_dtmf = dtmf;
    }
    *carry = [carry_cas, carry_dtmf];
    out
}

/// Candidate lanes of one chunk and tick (bit `l` = lane `l`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Masks {
    sas: u16,
    cas: u16,
    dtmf: u16,
}

impl Masks {
    fn any(&self) -> u16 {
        self.sas | self.cas | self.dtmf
    }

    /// Flags of lane `l`: bit 0 SAS, 1 CAS, 2 DTMF.
    fn lane(&self, l: usize) -> u8 {
        let bit = |m: u16| (m >> l & 1) as u8;
        bit(self.sas) | bit(self.cas) << 1 | bit(self.dtmf) << 2
    }
}

/// What the screen needs besides the input: coefficients, gates, the
/// thresholds of the candidate tests.
#[derive(Debug, Clone)]
struct ScreenParams {
    /// Goertzel coefficients: the `nsas` SAS bins, then the CAS and DTMF
    /// bins ([`HALF_BINS`]).
    coeffs: Vec<f32>,
    nsas: usize,
    sas_bands: Vec<ScreenBand>,
    /// Power gain of the second difference at 2130 and 2750 Hz.
    cas_diff_gain: [f32; 2],
    sas_floor: f32,
    cas_floor: f32,
    dtmf_floor: f32,
    gates: Gates,
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
        let sas_floor = sine_energy(sas_config.floor_dbm0 - SAS_FLOOR_MARGIN_DB, FRAME_SAMPLES);
        let cas_floor = sine_energy(cas.floor_dbm0 - CAS_FLOOR_MARGIN_DB, HALF);
        let dtmf_floor = sine_energy(DTMF_FLOOR_DBM0 - DTMF_FLOOR_MARGIN_DB, HALF);
        // Half of each floor is the exact bound; a further factor 2 covers
        // rounding.
        let gates = Gates {
            sas: sas_floor / 4.0,
            half: cas_floor.min(dtmf_floor) / 4.0,
        };
        let chunks = channels.div_ceil(LANES);
        Self {
            channels,
            params: ScreenParams {
                coeffs: sas_freqs
                    .iter()
                    .map(|&f| coeff(f))
                    .chain(half_coeffs)
                    .collect(),
                nsas: sas_freqs.len(),
                sas_bands,
                cas_diff_gain: [diff_gain(CAS_LOW_HZ), diff_gain(CAS_HIGH_HZ)],
                sas_floor,
                cas_floor,
                dtmf_floor,
                gates,
            },
            prev: vec![[[0.0; LANES]; 2]; chunks],
            carry: vec![[0; 2]; chunks],
            active: vec![0; chunks],
            history: vec![[0; FRAME_SAMPLES]; channels * HISTORY_FRAMES],
            state: (0..channels).map(|_| Channel::default()).collect(),
            scratch: Scratch {
                x: Box::new([[0.0; LANES]; FRAME_SAMPLES]),
                s1: vec![[0.0; LANES]; sas_freqs.len() + HALF_BINS],
                s2: vec![[0.0; LANES]; sas_freqs.len() + HALF_BINS],
                sas_p: vec![[0.0; LANES]; sas_freqs.len()],
                half_p: [[[0.0; LANES]; HALF_BINS]; 2],
                energy: [[0.0; LANES]; 2],
                diff_energy: [[0.0; LANES]; 2],
            },
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
        let tick_start = self.ticks * FRAME_SAMPLES as u64;
        let slot = (self.ticks % HISTORY_FRAMES as u64) as usize * self.channels;
        // Chunk by chunk: screen, confirm, then keep the frames in the
        // history while they are still in cache from the transpose.
        for chunk in 0..self.channels.div_ceil(LANES) {
            let base = chunk * LANES;
            let end = (base + LANES).min(self.channels);
            let valid = u16::MAX >> (LANES - (end - base));
            let masks = self.screen_chunk(chunk, frames);
            for (n, m) in self
                .candidates
                .iter_mut()
                .zip([masks.sas, masks.cas, masks.dtmf])
            {
                *n += u64::from((m & valid).count_ones());
            }
            // Stage 2 only for lanes that are candidates or already have a
            // scalar detector running.
            let mut todo = (masks.any() | self.active[chunk]) & valid;
            while todo != 0 {
                let l = todo.trailing_zeros() as usize;
                todo &= todo - 1;
                let running = self.confirm(
                    base + l,
                    masks.lane(l),
                    frame(base + l),
                    tick_start,
                    on_event,
                );
                let bit = 1u16 << l;
                self.active[chunk] = if running {
                    self.active[chunk] | bit
                } else {
                    self.active[chunk] & !bit
                };
            }
            debug_assert!((base..end).all(|c| {
                let ch = &self.state[c];
                let running = ch.sas.is_some() || ch.cas.is_some() || ch.dtmf.is_some();
                running == (self.active[chunk] >> (c - base) & 1 != 0)
            }));
            for c in base..end {
                self.history[slot + c] = *frame(c);
            }
        }
        self.ticks += 1;
    }

    /// Stage 1 for channels `chunk * LANES ..`: candidate lanes of the tick.
    fn screen_chunk(&mut self, chunk: usize, frames: &[Frame]) -> Masks {
        let base = chunk * LANES;
        const SILENCE: Frame = [0; FRAME_SAMPLES];
        // Lanes past the end (and missing frames) are silent.
        let src: [&Frame; LANES] = std::array::from_fn(|l| {
            frames
                .get(base + l)
                .filter(|_| base + l < self.channels)
                .unwrap_or(&SILENCE)
        });
        screen_arith(
            &src,
            &self.params,
            &mut self.prev[chunk],
            &mut self.carry[chunk],
            &mut self.scratch,
        )
    }

    /// Stage 2 for channel `c` with its candidate `flags` (bit 0 SAS, 1 CAS,
    /// 2 DTMF); returns whether any of its scalar detectors is running
    /// afterwards.
    fn confirm(
        &mut self,
        c: usize,
        flags: u8,
        frame: &Frame,
        tick_start: u64,
        on_event: &mut dyn FnMut(usize, BankEvent),
    ) -> bool {
        let n = (self.ticks as usize).min(HISTORY_FRAMES);
        let history = History {
            ring: &self.history,
            channel: c,
            channels: self.channels,
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
            &mut out,
        );
        run_slot(
            &mut ch.cas,
            CasDetector::new,
            flags & 2 != 0,
            &history,
            frame,
            &mut out,
        );
        run_slot(
            &mut ch.dtmf,
            DtmfDetector::new,
            flags & 4 != 0,
            &history,
            frame,
            &mut out,
        );
        ch.sas.is_some() || ch.cas.is_some() || ch.dtmf.is_some()
    }
}

/// A channel's replayable history.
struct History<'a> {
    /// The ring of all channels ([`DetectorBank::history`]).
    ring: &'a [Frame],
    channel: usize,
    channels: usize,
    first_tick: u64,
    ticks: u64,
    /// Channel sample of the first history sample.
    start: u64,
}

impl History<'_> {
    /// The channel's frame of tick `t` (one of the last `HISTORY_FRAMES`).
    fn frame(&self, t: u64) -> &Frame {
        &self.ring[(t % HISTORY_FRAMES as u64) as usize * self.channels + self.channel]
    }
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
            let past = (history.first_tick..history.ticks).map(|t| history.frame(t));
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
        // Once the screen is quiet, a detector stops as soon as it is idle
        // (nothing under way it would lose; an event's hold-off keeps it
        // busy); the margin covers ticks the screen passes over inside a
        // signal the detector still follows.
        a.until = a.until.max(tick_end + ms_to_samples(QUIET_MARGIN_MS));
    }
    if tick_end >= a.until && a.det.idle() {
        *slot = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel::tone_energy;

    /// Deterministic xorshift64* in `[0, 1)`.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
        }

        /// `v` times a factor log-uniform in ±`db` dB.
        fn around(&mut self, v: f32, db: f32) -> f32 {
            v * 10f32.powf((2.0 * self.next() - 1.0) * db / 10.0)
        }
    }

    /// The candidate tests in their plain per-channel form (as the bank
    /// had them before they were written as lane masks); bins not computed
    /// read as zero.
    fn decide_reference(
        params: &ScreenParams,
        done: [bool; 3],
        sc: &Scratch,
        carry: &mut [u16; 2],
    ) -> Masks {
        let mut sc = sc.clone();
        if !done[0] {
            sc.sas_p.iter_mut().for_each(|p| *p = [0.0; LANES]);
        }
        for h in 0..2 {
            if !done[1 + h] {
                sc.half_p[h] = [[0.0; LANES]; HALF_BINS];
            }
        }
        let mut out = Masks::default();
        let mut new_carry = [0u16; 2];
        for l in 0..LANES {
            let (e0, e1) = (sc.energy[0][l], sc.energy[1][l]);
            let energy = e0 + e1;
            let flat = e0.min(e1) >= SAS_FLAT * e0.max(e1);
            let t = |k: usize| tone_energy(sc.sas_p[k][l], FRAME_SAMPLES);
            let sas = params.sas_bands.iter().any(|b| match *b {
                ScreenBand::Single { first, n } => (first..first + n).any(|k| {
                    let v = t(k);
                    v >= params.sas_floor && v >= SAS_SHARE * energy
                }),
                ScreenBand::Dual { i1, i2 } => {
                    let (a, b) = (t(i1), t(i2));
                    a >= params.sas_floor && b >= params.sas_floor && a + b >= SAS_SHARE * energy
                }
            });
            let bit = 1u16 << l;
            if sas && flat {
                out.sas |= bit;
            }
            let mut cas_prev = carry[0] & bit != 0;
            let mut dtmf_prev = carry[1] & bit != 0;
            for h in 0..2 {
                let th = |k: usize| tone_energy(sc.half_p[h][k][l], HALF);
                let (lo, hi) = (th(0), th(1));
                let cas = lo >= params.cas_floor
                    && hi >= params.cas_floor
                    && lo <= hi * CAS_TWIST
                    && hi <= lo * CAS_TWIST
                    && params.cas_diff_gain[0] * lo + params.cas_diff_gain[1] * hi
                        >= CAS_SHARE * sc.diff_energy[h][l];
                if cas && cas_prev {
                    out.cas |= bit;
                }
                let row = (2..6).map(th).fold(0.0f32, f32::max);
                let col = (6..10).map(th).fold(0.0f32, f32::max);
                let dtmf = row >= params.dtmf_floor
                    && col >= params.dtmf_floor
                    && row <= col * DTMF_TWIST
                    && col <= row * DTMF_TWIST
                    && row + col >= DTMF_SHARE * sc.energy[h][l];
                if dtmf && dtmf_prev {
                    out.dtmf |= bit;
                }
                (cas_prev, dtmf_prev) = (cas, dtmf);
            }
            new_carry[0] |= u16::from(cas_prev) << l;
            new_carry[1] |= u16::from(dtmf_prev) << l;
        }
        *carry = new_carry;
        out
    }

    /// A value near `guess` for which `f` gives exactly `target`, if there
    /// is one within a few units in the last place.
    fn tie(target: f32, f: impl Fn(f32) -> f32, guess: f32) -> Option<f32> {
        (0..64u32)
            .map(|i| {
                let d = (i / 2) as i32 * if i % 2 == 0 { 1 } else { -1 };
                f32::from_bits(guess.to_bits().wrapping_add_signed(d))
            })
            .find(|&x| f(x) == target)
    }

    /// Random screen results around the thresholds, so that every test
    /// passes and fails on some lanes.
    fn random_scratch(bank: &DetectorBank, rng: &mut Rng) -> (Scratch, [bool; 3], [u16; 2]) {
        let p = &bank.params;
        let mut sc = bank.scratch.clone();
        // Bin power giving tone energy `t` over `n` samples.
        let power = |t: f32, n: usize| t * n as f32 / 2.0;
        for h in 0..2 {
            for l in 0..LANES {
                let e = rng.around(p.dtmf_floor.max(p.cas_floor) * 3.0, 12.0);
                sc.energy[h][l] = e;
                sc.diff_energy[h][l] = rng.around(e, 12.0);
                // A dominant pair (CAS or a DTMF row + column) and the rest.
                let strong = rng.around(e * 0.4, 6.0);
                for k in 0..HALF_BINS {
                    let t = if rng.next() < 0.35 {
                        rng.around(strong, 8.0)
                    } else {
                        rng.around(strong * 0.05, 10.0)
                    };
                    sc.half_p[h][k][l] = power(t, HALF);
                }
            }
        }
        for sp in sc.sas_p.iter_mut() {
            for (l, o) in sp.iter_mut().enumerate() {
                let e = sc.energy[0][l] + sc.energy[1][l];
                let t = rng
                    .around(SAS_SHARE * e, 6.0)
                    .max(rng.around(p.sas_floor, 6.0));
                *o = power(t, FRAME_SAMPLES);
            }
        }
        // Ties: exactly equal halves, exact zero bins, and per lane one
        // comparison made an exact equality where the float arithmetic
        // allows it (`>=` against `>` must show).
        if rng.next() < 0.2 {
            sc.energy[1] = sc.energy[0];
        }
        for l in 0..LANES {
            let h = usize::from(rng.next() < 0.5);
            match (rng.next() * 8.0) as u32 {
                0 => sc.energy[1 - h][l] = SAS_FLAT * sc.energy[h][l],
                1 => sc.half_p[h][0][l] = CAS_TWIST * sc.half_p[h][1][l],
                2 => {
                    let k = (rng.next() * HALF_BINS as f32) as usize % HALF_BINS;
                    let floor = if k < 2 { p.cas_floor } else { p.dtmf_floor };
                    let guess = floor * HALF as f32 / 2.0;
                    if let Some(v) = tie(floor, |x| tone_e(x, HALF), guess) {
                        sc.half_p[h][k][l] = v;
                    }
                }
                3 => {
                    let guess = p.sas_floor * FRAME_SAMPLES as f32 / 2.0;
                    if let Some(v) = tie(p.sas_floor, |x| tone_e(x, FRAME_SAMPLES), guess) {
                        sc.sas_p[0][l] = v;
                    }
                }
                4 => {
                    let hp = &sc.half_p[h];
                    let (lo, hi) = (tone_e(hp[0][l], HALF), tone_e(hp[1][l], HALF));
                    let g = p.cas_diff_gain[0] * lo + p.cas_diff_gain[1] * hi;
                    if let Some(v) = tie(g, |x| CAS_SHARE * x, g / CAS_SHARE) {
                        sc.diff_energy[h][l] = v;
                    }
                }
                5 => {
                    let t = |k: usize| tone_e(sc.half_p[h][k][l], HALF);
                    let row = (2..6).map(t).fold(0.0f32, f32::max);
                    let col = (6..10).map(t).fold(0.0f32, f32::max);
                    let sum = row + col;
                    if let Some(v) = tie(sum, |x| DTMF_SHARE * x, sum / DTMF_SHARE) {
                        sc.energy[h][l] = v;
                    }
                }
                _ => {}
            }
        }
        if rng.next() < 0.1 {
            sc.half_p[0][3] = [0.0; LANES];
        }
        let done = [rng.next() < 0.8, rng.next() < 0.8, rng.next() < 0.8];
        let carry = [(rng.next() * 65536.0) as u16, (rng.next() * 65536.0) as u16];
        (sc, done, carry)
    }

    /// The lane-mask tests decide exactly what the per-channel ones decide,
    /// for single-band (us), multi-bin and dual-tone (uk, de) zones.
    #[test]
    fn lane_masks_match_per_channel_tests() {
        let mut rng = Rng(0x1234_5678);
        for code in ["us", "uk", "de", "sg", "tw"] {
            let Some(zone) = zones::zone(code) else {
                continue;
            };
            let bank = DetectorBank::new(zone, LANES);
            let mut set = [0u32; 5];
            for _ in 0..3000 {
                let (sc, done, carry) = random_scratch(&bank, &mut rng);
                let (mut c1, mut c2) = (carry, carry);
                let got = decide(&bank.params, done, &sc, &mut c1);
                let want = decide_reference(&bank.params, done, &sc, &mut c2);
                assert_eq!(got, want, "{code}: done {done:?} carry {carry:?}");
                assert_eq!(c1, c2, "{code}: carry");
                for (n, m) in set
                    .iter_mut()
                    .zip([got.sas, got.cas, got.dtmf, c1[0], c1[1]])
                {
                    *n += m.count_ones();
                }
            }
            // The inputs exercise both outcomes of every test.
            for (what, n) in ["sas", "cas", "dtmf", "cas carry", "dtmf carry"]
                .iter()
                .zip(set)
            {
                assert!(
                    n > 1000 && n < 3000 * 16 - 1000,
                    "{code}: {what} set on {n} lanes"
                );
            }
        }
    }

    /// Balanced groups of filters run together give the same values as each
    /// filter run alone, for every filter count (each filter in exactly one
    /// group).
    #[test]
    fn filter_groups_cover_every_filter_once() {
        let mut rng = Rng(99);
        let xs: Vec<Lanes> = (0..HALF)
            .map(|_| std::array::from_fn(|_| (rng.next() - 0.5) * 20000.0))
            .collect();
        for n in 1..=24 {
            let c: Vec<f32> = (0..n).map(|i| coeff(300.0 + 137.0 * i as f32)).collect();
            let init: Vec<Lanes> = (0..n)
                .map(|_| std::array::from_fn(|_| rng.next() * 100.0))
                .collect();
            let mut want = (init.clone(), init.clone());
            for (i, &ci) in c.iter().enumerate() {
                let (mut a, mut b) = ([want.0[i]], [want.1[i]]);
                goertzel_run::<1, false>(&[ci], &xs, &mut a, &mut b);
                (want.0[i], want.1[i]) = (a[0], b[0]);
            }
            let mut got4 = (init.clone(), init.clone());
            goertzel_filters::<4, false>(&c, &xs, &mut got4.0, &mut got4.1);
            let mut got8 = (init.clone(), init.clone());
            goertzel_filters::<8, false>(&c, &xs, &mut got8.0, &mut got8.1);
            assert!(got4 == want && got8 == want, "{n} filters");
        }
    }

    /// The screen's energies and bins (both halves in one loop, the SAS bins
    /// continued across the halves, filters in groups) equal the plain
    /// sequential computation, bit for bit, including which bins the gates
    /// skip.
    #[test]
    fn screen_arithmetic_matches_plain_form() {
        let mut rng = Rng(7);
        for code in ["us", "uk"] {
            let zone = zones::zone(code).expect("zone");
            let bank = DetectorBank::new(zone, LANES);
            let p = &bank.params;
            let mut scratch = bank.scratch.clone();
            for trial in 0..40 {
                // Loud, near the gates and silent chunks, and chunks where
                // only one half has energy.
                let level = [3000.0, 40.0, 8.0, 0.0][trial % 4];
                let quiet_half = trial % 3;
                let frames: Vec<Frame> = (0..LANES)
                    .map(|l| {
                        std::array::from_fn(|n| {
                            let g = if n / HALF + 1 == quiet_half {
                                0.0
                            } else {
                                level
                            };
                            ((rng.next() - 0.5) * g * (1.0 + l as f32 / 4.0)) as i16
                        })
                    })
                    .collect();
                let src: [&Frame; LANES] = std::array::from_fn(|l| &frames[l]);
                let prev0: [Lanes; 2] =
                    std::array::from_fn(|_| std::array::from_fn(|_| rng.next() * 100.0));
                // One scratch for all trials, as in the bank (no state may
                // leak from one chunk into the next).
                let sc = &mut scratch;
                transpose(&src, &mut sc.x);
                let mut prev = prev0;
                let done = screen_body::<8, false>(p, &mut prev, sc);

                // Plain form.
                let x = &sc.x;
                let [mut p1, mut p2] = prev0;
                let mut e = [[0.0f32; LANES]; 2];
                let mut d = [[0.0f32; LANES]; 2];
                for (i, xv) in x.iter().enumerate() {
                    let h = i / HALF;
                    for l in 0..LANES {
                        let dv = (xv[l] + p2[l]) - 2.0 * p1[l];
                        e[h][l] += xv[l] * xv[l];
                        d[h][l] += dv * dv;
                    }
                    p2 = p1;
                    p1 = *xv;
                }
                assert_eq!(prev, [p1, p2]);
                assert_eq!((sc.energy, sc.diff_energy), (e, d), "{code} trial {trial}");
                let frame_e: Lanes = std::array::from_fn(|l| e[0][l] + e[1][l]);
                let max = |v: &Lanes| v.iter().fold(0.0f32, |m, &x| m.max(x));
                let want_done = [
                    max(&frame_e) >= p.gates.sas,
                    max(&e[0]) >= p.gates.half,
                    max(&e[1]) >= p.gates.half,
                ];
                assert_eq!(done, want_done, "{code} trial {trial}");
                let bin = |c: f32, xs: &[Lanes]| {
                    let (mut a, mut b) = ([[0.0; LANES]], [[0.0; LANES]]);
                    goertzel_run::<1, false>(&[c], xs, &mut a, &mut b);
                    let mut o = [0.0; LANES];
                    power(c, &a[0], &b[0], &mut o);
                    o
                };
                if done[0] {
                    for k in 0..p.nsas {
                        assert_eq!(sc.sas_p[k], bin(p.coeffs[k], &x[..]), "sas bin {k}");
                    }
                }
                for h in 0..2 {
                    if done[1 + h] {
                        for k in 0..HALF_BINS {
                            let want = bin(p.coeffs[p.nsas + k], &x[h * HALF..(h + 1) * HALF]);
                            assert_eq!(sc.half_p[h][k], want, "half {h} bin {k}");
                        }
                    }
                }
            }
        }
    }
}
