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
//!    The input is transposed tile by tile (16 samples): the samples of
//!    channels `2i` and `2i + 1` are packed into one `u32` (lane-wise, so
//!    it vectorises), the packed pairs are transposed with two-source
//!    shuffles, and each half of a packed row is sign-extended in place, so
//!    lanes 0–7 hold the chunk's even channels and lanes 8–15 its odd ones
//!    (the candidate masks are mapped back to channels). The energies of
//!    both halves accumulate in the same pass as the conversion to f32.
//!
//!    The bins of a chunk are skipped when no lane has the energy to pass
//!    any bin test (a bin's tone energy `2|X|²/N` is at most twice the block
//!    energy, so a chunk whose frame or half energies are all below half the
//!    SAS or CAS/DTMF floor cannot flag anything; the gates sit a further
//!    factor 2 lower). Quiet lines cost little more than the transpose.
//!    Each Goertzel filter runs as one unit per half it covers (a SAS bin
//!    as two, the second continuing the state of the first), and the units
//!    of both halves run together in balanced groups of as many independent
//!    recursions as the vector registers hold (eight with AVX-512, three
//!    with AVX2), two samples per loop iteration so the states swap roles
//!    instead of being copied: with the 10 CAS/DTMF bins of each half and
//!    one SAS bin (us), three groups (7, 7 and 8) keep both FMA pipes
//!    nearly busy. Each sum still adds its samples in the same order, so
//!    the values are those of the plain form, bit for bit (unit tests).
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
//! The bank works chunk by chunk: copy the chunk's frames into the history
//! ring (one tick's frames contiguous, so one sequential copy per chunk,
//! which also brings them into cache for the transpose), screen, confirm.
//! The ring holds [`HISTORY_FRAMES`] + 1 ticks, so the copy of the current
//! tick never overwrites a frame a replay of the same tick reads. The copy
//! is 320 bytes per channel and tick, a few per cent of the cost even at
//! 1024 channels (2.9 MB of ring), so every frame is kept rather than
//! guessing which channel might become a candidate.
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
/// Ticks in the history ring: the replayed ones and the current one.
const RING: usize = HISTORY_FRAMES + 1;

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

/// A value aligned to a cache line (whole-vector loads of lanes never
/// straddle two lines).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Aligned<T>(T);

/// Goertzel states and powers of one chunk, per filter slot
/// ([`ScreenParams::coeffs`]): the `nsas` SAS bins, then the CAS and DTMF
/// bins ([`HALF_BINS`]) of the first half, then those of the second.
#[derive(Debug, Clone)]
struct States {
    nsas: usize,
    s1: Vec<Lanes>,
    s2: Vec<Lanes>,
    p: Vec<Lanes>,
}

/// Screen results of one tick for one chunk of channels.
#[derive(Debug, Clone)]
struct Scratch {
    /// Transposed input by half: `x[h][n][lane]` is sample `h·HALF + n`.
    x: Box<Aligned<[[Lanes; HALF]; 2]>>,
    /// The input packed by [`tile_rows`], tile by tile.
    rows: Box<Aligned<[[[u32; LANES / 2]; TILE]; FRAME_SAMPLES / TILE]>>,
    /// Goertzel states and bin powers.
    st: States,
    /// Raw energy per half.
    energy: [Lanes; 2],
    /// Energy of the second difference per half.
    diff_energy: [Lanes; 2],
}

impl Scratch {
    /// SAS bin powers over the frame.
    fn sas_p(&self) -> &[Lanes] {
        self.st.p.get(..self.st.nsas).unwrap_or_default()
    }

    /// CAS + DTMF bin powers of half `h`.
    fn half_p(&self, h: usize) -> &[Lanes; HALF_BINS] {
        const NONE: [Lanes; HALF_BINS] = [[0.0; LANES]; HALF_BINS];
        let from = self.st.nsas + h * HALF_BINS;
        self.st
            .p
            .get(from..)
            .and_then(|p| p.first_chunk())
            .unwrap_or(&NONE)
    }
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
    /// Per chunk: channels (bit `i` = channel `chunk * LANES + i`) with a
    /// scalar detector running (any slot of their [`Channel`] is `Some`).
    /// Stage 2 visits these and the candidates only.
    active: Vec<u16>,
    /// `RING` frames per channel, ring indexed by tick: frame of tick `t`
    /// of channel `c` at `(t % RING) * channels + c` (one tick's frames are
    /// contiguous, written in order).
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

/// One Goertzel step for all lanes: `s = c·s1 + (x − s2)`.
#[inline(always)]
fn step<const FMA: bool>(c: f32, s1: &Lanes, x: &Lanes, s2: &Lanes) -> Lanes {
    let mut s = [0.0f32; LANES];
    for l in 0..LANES {
        s[l] = madd::<FMA>(c, s1[l], x[l] - s2[l]);
    }
    s
}

/// Run `G` Goertzel filters over `xs` for all lanes (the plain form: the
/// reference of the tests, and the arithmetic every unit repeats).
#[cfg(test)]
fn goertzel_run<const G: usize, const FMA: bool>(
    c: &[f32; G],
    xs: &[Lanes],
    s1: &mut [Lanes; G],
    s2: &mut [Lanes; G],
) {
    for x in xs {
        for g in 0..G {
            let s = step::<FMA>(c[g], &s1[g], x, &s2[g]);
            s2[g] = s1[g];
            s1[g] = s;
        }
    }
}

/// A Goertzel filter over one half of the frame: the screen's unit of work.
/// The SAS bins run as two units (first half, then the second continuing
/// the state), every CAS and DTMF bin as one unit per half, so the units of
/// both halves can run together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Unit {
    /// Filter slot: its coefficient ([`ScreenParams::coeffs`]), state and
    /// power ([`States`]).
    slot: usize,
    /// Half of the frame it runs over.
    half: usize,
    /// Starts from a zero state (else continues the slot's state).
    fresh: bool,
    /// Ends the filter's block: its power is computed.
    last: bool,
}

/// Run `G` units together, each over its half of `x`, continuing or
/// starting their slots' states, and write the states back (and the powers
/// of the units that end a block). Two samples per iteration, so the
/// states swap roles instead of being copied; each filter still computes
/// exactly the recursion of `goertzel_run` (the tests' plain form).
#[inline(always)]
fn goertzel_units<const G: usize, const FMA: bool>(
    units: &[Unit],
    coeffs: &[f32],
    x: &[[Lanes; HALF]; 2],
    sc: &mut States,
) {
    let Some(units) = units.first_chunk::<G>() else {
        return;
    };
    let mut c = [0.0f32; G];
    let mut xs = [&x[0]; G];
    let mut a = [[0.0f32; LANES]; G];
    let mut b = [[0.0f32; LANES]; G];
    for (g, u) in units.iter().enumerate() {
        c[g] = coeffs.get(u.slot).copied().unwrap_or(0.0);
        xs[g] = &x[u.half & 1];
        if let (false, Some(s1), Some(s2)) = (u.fresh, sc.s1.get(u.slot), sc.s2.get(u.slot)) {
            a[g] = *s1;
            b[g] = *s2;
        }
    }
    for i in 0..HALF / 2 {
        // `a` holds s[n−1], `b` s[n−2]: s[n] goes into `b`, then s[n+1]
        // into `a`.
        for g in 0..G {
            b[g] = step::<FMA>(c[g], &a[g], &xs[g][2 * i], &b[g]);
        }
        for g in 0..G {
            a[g] = step::<FMA>(c[g], &b[g], &xs[g][2 * i + 1], &a[g]);
        }
    }
    for (g, u) in units.iter().enumerate() {
        if let (Some(s1), Some(s2), Some(pw)) = (
            sc.s1.get_mut(u.slot),
            sc.s2.get_mut(u.slot),
            sc.p.get_mut(u.slot),
        ) {
            *s1 = a[g];
            *s2 = b[g];
            if u.last {
                *pw = power(c[g], &a[g], &b[g]);
            }
        }
    }
}

/// Run `units` in order, in groups of at most `GMAX` run together, of
/// balanced sizes (a small group is bound by the latency of its
/// recursions, not by the FP pipes). A unit continuing a state must be in
/// a later group than the unit it continues ([`plan`]).
#[inline(always)]
fn goertzel_phase<const GMAX: usize, const FMA: bool>(
    units: &[Unit],
    coeffs: &[f32],
    x: &[[Lanes; HALF]; 2],
    sc: &mut States,
) {
    for r in groups(units.len(), GMAX) {
        let u = &units[r.start..];
        match r.len() {
            1 => goertzel_units::<1, FMA>(u, coeffs, x, sc),
            2 => goertzel_units::<2, FMA>(u, coeffs, x, sc),
            3 => goertzel_units::<3, FMA>(u, coeffs, x, sc),
            4 => goertzel_units::<4, FMA>(u, coeffs, x, sc),
            5 => goertzel_units::<5, FMA>(u, coeffs, x, sc),
            6 => goertzel_units::<6, FMA>(u, coeffs, x, sc),
            7 => goertzel_units::<7, FMA>(u, coeffs, x, sc),
            _ => goertzel_units::<8, FMA>(u, coeffs, x, sc),
        }
    }
}

/// Most units [`goertzel_phase`] runs together.
const MAX_GROUP: usize = 8;

/// `n` units split into consecutive groups of at most `gmax` (at most
/// [`MAX_GROUP`]), of balanced sizes.
#[inline(always)]
fn groups(n: usize, gmax: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let count = n.div_ceil(gmax.clamp(1, MAX_GROUP));
    (0..count).scan(0, move |i, g| {
        let size = (n - *i) / (count - g);
        let r = *i..*i + size;
        *i += size;
        Some(r)
    })
}

/// `|X|²` of the states, the expression of [`crate::goertzel`].
#[inline(always)]
fn power(c: f32, s1: &Lanes, s2: &Lanes) -> Lanes {
    let mut p = [0.0f32; LANES];
    for l in 0..LANES {
        let (a, b) = (s1[l], s2[l]);
        p[l] = a * a + b * b - c * a * b;
    }
    p
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
    // Eight filters' states (two registers each) fit the 32 vector registers
    // of AVX-512; with AVX2's 16 registers (two per state), three: four
    // spill states inside the loop, onto the recursions' critical path.
    let avx512 = multiversion::target::target_cfg_f!(target_feature = "avx512f");
    let fma = multiversion::target::target_cfg_f!(target_feature = "fma");
    let done = match (avx512, fma) {
        (true, true) => screen_body::<8, true>(src, params, prev, sc),
        (true, false) => screen_body::<8, false>(src, params, prev, sc),
        (false, true) => screen_body::<3, true>(src, params, prev, sc),
        (false, false) => screen_body::<4, false>(src, params, prev, sc),
    };
    decide(params, done, sc, carry)
}

/// Samples per tile of the transpose.
const TILE: usize = 16;

/// `TILE` samples from `start` of the `LANES` frames, transposed: row `k`
/// holds sample `start + k` of every channel, channels `2i` and `2i + 1`
/// packed into `u32` `i` (low and high half). Packing the pairs first is
/// lane-wise (it vectorises) and halves the elements the transpose proper
/// moves, which the compiler then does with two-source shuffles.
#[inline(always)]
fn tile_rows(src: &[&Frame; LANES], start: usize, rows: &mut [[u32; LANES / 2]; TILE]) {
    const NONE: [i16; TILE] = [0; TILE];
    let tile = |l: usize| -> &[i16; TILE] {
        src.get(l)
            .and_then(|f| f.get(start..))
            .and_then(|v| v.first_chunk())
            .unwrap_or(&NONE)
    };
    let mut pairs = [[0u32; TILE]; LANES / 2];
    for (i, pi) in pairs.iter_mut().enumerate() {
        let (a, b) = (tile(2 * i), tile(2 * i + 1));
        for k in 0..TILE {
            pi[k] = u32::from(a[k] as u16) | u32::from(b[k] as u16) << 16;
        }
    }
    for (k, r) in rows.iter_mut().enumerate() {
        for (i, v) in r.iter_mut().enumerate() {
            *v = pairs[i][k];
        }
    }
}

/// The lanes of a packed row of [`tile_rows`] as f32: the low halves
/// (channels `0, 2, … 14`) in lanes 0–7, the high halves (channels `1, 3,
/// … 15`) in lanes 8–15. Sign-extending each half in place needs only
/// shifts, where keeping the channels in order would need a word shuffle
/// (which the compiler gave a false dependency on an unrelated register).
#[inline(always)]
fn unpack(row: &[u32; LANES / 2]) -> Lanes {
    let mut x = [0.0f32; LANES];
    for (i, &v) in row.iter().enumerate() {
        x[i] = ((v << 16) as i32 >> 16) as f32;
        x[i + LANES / 2] = (v as i32 >> 16) as f32;
    }
    x
}

/// The channel (within the chunk) of lane `l` ([`unpack`]).
#[cfg(test)]
const fn lane_channel(l: usize) -> usize {
    2 * (l % (LANES / 2)) + l / (LANES / 2)
}

/// A lane mask as a mask of the chunk's channels ([`unpack`]: lane `l < 8`
/// is channel `2l`, lane `8 + l` channel `2l + 1`).
fn channel_mask(m: u16) -> u16 {
    // Bits 0–7 to the even positions.
    let spread = |v: u16| {
        let mut x = v & 0xFF;
        x = (x | x << 4) & 0x0F0F;
        x = (x | x << 2) & 0x3333;
        (x | x << 1) & 0x5555
    };
    spread(m) | spread(m >> 8) << 1
}

/// Transpose the chunk's frames into `x[h][n][lane]` as f32 (sample
/// `h·HALF + n`), and return the energies of each half and of the second
/// difference `x[n] − 2x[n−1] + x[n−2]` per half (a cheap 12 dB/octave
/// high-pass for the CAS share).
///
/// The frames are read tile by tile from their start into packed rows
/// ([`tile_rows`]); the conversion then takes both halves together: four
/// independent accumulations (each sum still adds its samples in order).
/// The loop-carried sums also keep the compiler from fusing the conversion
/// with the transpose, which it would otherwise turn back into per-element
/// scattered stores.
#[inline(always)]
fn transpose_energies<const FMA: bool>(
    src: &[&Frame; LANES],
    rows: &mut [[[u32; LANES / 2]; TILE]; FRAME_SAMPLES / TILE],
    x: &mut [[Lanes; HALF]; 2],
    prev: &mut [Lanes; 2],
) -> ([Lanes; 2], [Lanes; 2]) {
    for (t, r) in rows.iter_mut().enumerate() {
        tile_rows(src, t * TILE, r);
    }
    let row = |n: usize| &rows[n / TILE][n % TILE];
    let mut p1 = [prev[0], unpack(row(HALF - 1))];
    let mut p2 = [prev[1], unpack(row(HALF - 2))];
    let mut e = [[0.0f32; LANES]; 2];
    let mut d = [[0.0f32; LANES]; 2];
    let [x0, x1] = x;
    for (n, xn) in x0.iter_mut().zip(x1.iter_mut()).enumerate() {
        for (h, o) in [xn.0, xn.1].into_iter().enumerate() {
            let xv = unpack(row(h * HALF + n));
            for l in 0..LANES {
                // (x + p2) − 2·p1: 2·p1 is exact, so fused or not this is
                // the same single rounding of the same value.
                let dv = madd::<FMA>(-2.0, p1[h][l], xv[l] + p2[h][l]);
                e[h][l] = madd::<FMA>(xv[l], xv[l], e[h][l]);
                d[h][l] = madd::<FMA>(dv, dv, d[h][l]);
            }
            p2[h] = p1[h];
            p1[h] = xv;
            *o = xv;
        }
    }
    *prev = [p1[1], p2[1]];
    (e, d)
}

/// Transpose, energies and Goertzel bins of a chunk; returns which bins
/// were computed (SAS, first half, second half): the others are left stale
/// and must not be read. `GMAX`: filters run together ([`goertzel_phase`]).
#[inline(always)]
fn screen_body<const GMAX: usize, const FMA: bool>(
    src: &[&Frame; LANES],
    params: &ScreenParams,
    prev: &mut [Lanes; 2],
    sc: &mut Scratch,
) -> [bool; 3] {
    (sc.energy, sc.diff_energy) = transpose_energies::<FMA>(src, &mut sc.rows.0, &mut sc.x.0, prev);

    // The SAS bins run over the whole frame, the CAS and DTMF bins over each
    // half: the units of the bins that pass their gates run together, both
    // halves at once ([`ScreenParams::plans`]).
    let gates = &params.gates;
    let frame_e = lanes_map2(&sc.energy[0], &sc.energy[1], |a, b| a + b);
    let done = [
        any_at_least(&frame_e, gates.sas),
        any_at_least(&sc.energy[0], gates.half),
        any_at_least(&sc.energy[1], gates.half),
    ];
    let plan = usize::from(done[0]) | usize::from(done[1]) << 1 | usize::from(done[2]) << 2;
    for phase in &params.plans[plan] {
        goertzel_phase::<GMAX, FMA>(phase, &params.coeffs, &sc.x.0, &mut sc.st);
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
                    for p in sc.sas_p().iter().skip(first).take(n) {
                        let v = tone_lanes(p, FRAME_SAMPLES);
                        sas |= lanes_mask(|l| (v[l] >= floor) & (v[l] >= share[l]));
                    }
                }
                ScreenBand::Dual { i1, i2 } => {
                    let (Some(p1), Some(p2)) = (sc.sas_p().get(i1), sc.sas_p().get(i2)) else {
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
            let hp = sc.half_p(h);
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

/// Candidates of one chunk and tick: bit `l` is lane `l` as [`decide`]
/// returns them, the chunk's channel `l` once [`channel_mask`] has mapped
/// them ([`DetectorBank::screen_chunk`]).
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

    /// Flags of bit `l`: bit 0 SAS, 1 CAS, 2 DTMF.
    fn lane(&self, l: usize) -> u8 {
        let bit = |m: u16| (m >> l & 1) as u8;
        bit(self.sas) | bit(self.cas) << 1 | bit(self.dtmf) << 2
    }
}

/// What the screen needs besides the input: coefficients, gates, the
/// thresholds of the candidate tests.
#[derive(Debug, Clone)]
struct ScreenParams {
    /// Goertzel coefficient per filter slot ([`States`]): the `nsas` SAS
    /// bins, then the CAS and DTMF bins ([`HALF_BINS`]) of the first half,
    /// then the same of the second.
    coeffs: Vec<f32>,
    /// The Goertzel units to run for each outcome of the gates (index: bit
    /// 0 SAS, bit 1 first half, bit 2 second half), as phases run one
    /// after the other ([`plan`]).
    plans: [Vec<Vec<Unit>>; 8],
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

/// The Goertzel units for one outcome of the gates: SAS bins over the
/// frame (`sas`), CAS and DTMF bins over the first (`h0`) and second (`h1`)
/// half. Everything runs in one phase, so that the units of both halves
/// share groups, with the second half of each SAS bin placed at least
/// [`HALF_BINS`] units after its first half (so in a later group:
/// [`goertzel_phase`] groups at most [`MAX_GROUP`]); with only SAS bins to
/// run, their halves are two phases.
fn plan(nsas: usize, sas: bool, h0: bool, h1: bool) -> Vec<Vec<Unit>> {
    const _: () = assert!(HALF_BINS + 1 >= MAX_GROUP);
    let sas_units = |half: usize| {
        (0..nsas).map(move |slot| Unit {
            slot,
            half,
            fresh: half == 0,
            last: half == 1,
        })
    };
    let bins = |half: usize| {
        (0..HALF_BINS).map(move |k| Unit {
            slot: nsas + half * HALF_BINS + k,
            half,
            fresh: true,
            last: true,
        })
    };
    let sas_n = if sas { nsas } else { 0 };
    if !(h0 || h1) {
        return vec![
            sas_units(0).take(sas_n).collect(),
            sas_units(1).take(sas_n).collect(),
        ];
    }
    let mut units: Vec<Unit> = sas_units(0).take(sas_n).collect();
    if h0 {
        units.extend(bins(0));
    }
    if h1 {
        units.extend(bins(1));
    }
    units.extend(sas_units(1).take(sas_n));
    vec![units]
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
        let nsas = sas_freqs.len();
        let slots = nsas + 2 * HALF_BINS;
        Self {
            channels,
            params: ScreenParams {
                coeffs: sas_freqs
                    .iter()
                    .map(|&f| coeff(f))
                    .chain(half_coeffs)
                    .chain(half_coeffs)
                    .collect(),
                plans: std::array::from_fn(|g| plan(nsas, g & 1 != 0, g & 2 != 0, g & 4 != 0)),
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
            history: vec![[0; FRAME_SAMPLES]; channels * RING],
            state: (0..channels).map(|_| Channel::default()).collect(),
            scratch: Scratch {
                x: Box::new(Aligned([[[0.0; LANES]; HALF]; 2])),
                rows: Box::new(Aligned([[[0; LANES / 2]; TILE]; FRAME_SAMPLES / TILE])),
                st: States {
                    nsas,
                    s1: vec![[0.0; LANES]; slots],
                    s2: vec![[0.0; LANES]; slots],
                    p: vec![[0.0; LANES]; slots],
                },
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
        let slot = (self.ticks % RING as u64) as usize * self.channels;
        // Chunk by chunk: keep the frames in the history (one sequential
        // copy, which also brings them into cache for the transpose),
        // screen, confirm. The slot is that of tick `ticks − RING`, which no
        // replay reads any more.
        for chunk in 0..self.channels.div_ceil(LANES) {
            let base = chunk * LANES;
            let end = (base + LANES).min(self.channels);
            let valid = u16::MAX >> (LANES - (end - base));
            match (
                self.history.get_mut(slot + base..slot + end),
                frames.get(base..end),
            ) {
                (Some(to), Some(from)) => to.copy_from_slice(from),
                _ => {
                    for c in base..end {
                        self.history[slot + c] = *frame(c);
                    }
                }
            }
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
        }
        self.ticks += 1;
    }

    /// Stage 1 for channels `chunk * LANES ..`: candidates of the tick (bit
    /// `i` = channel `chunk * LANES + i`).
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
        let m = screen_arith(
            &src,
            &self.params,
            &mut self.prev[chunk],
            &mut self.carry[chunk],
            &mut self.scratch,
        );
        Masks {
            sas: channel_mask(m.sas),
            cas: channel_mask(m.cas),
            dtmf: channel_mask(m.dtmf),
        }
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
        &self.ring[(t % RING as u64) as usize * self.channels + self.channel]
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

    impl Scratch {
        fn sas_p_mut(&mut self) -> &mut [Lanes] {
            let n = self.st.nsas;
            &mut self.st.p[..n]
        }

        fn half_p_mut(&mut self, h: usize) -> &mut [Lanes] {
            let from = self.st.nsas + h * HALF_BINS;
            &mut self.st.p[from..from + HALF_BINS]
        }
    }

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
            sc.sas_p_mut().iter_mut().for_each(|p| *p = [0.0; LANES]);
        }
        for h in 0..2 {
            if !done[1 + h] {
                sc.half_p_mut(h).fill([0.0; LANES]);
            }
        }
        let mut out = Masks::default();
        let mut new_carry = [0u16; 2];
        for l in 0..LANES {
            let (e0, e1) = (sc.energy[0][l], sc.energy[1][l]);
            let energy = e0 + e1;
            let flat = e0.min(e1) >= SAS_FLAT * e0.max(e1);
            let t = |k: usize| tone_energy(sc.sas_p()[k][l], FRAME_SAMPLES);
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
                let th = |k: usize| tone_energy(sc.half_p(h)[k][l], HALF);
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
                    sc.half_p_mut(h)[k][l] = power(t, HALF);
                }
            }
        }
        let energy = sc.energy;
        for sp in sc.sas_p_mut().iter_mut() {
            for (l, o) in sp.iter_mut().enumerate() {
                let e = energy[0][l] + energy[1][l];
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
                1 => sc.half_p_mut(h)[0][l] = CAS_TWIST * sc.half_p(h)[1][l],
                2 => {
                    let k = (rng.next() * HALF_BINS as f32) as usize % HALF_BINS;
                    let floor = if k < 2 { p.cas_floor } else { p.dtmf_floor };
                    let guess = floor * HALF as f32 / 2.0;
                    if let Some(v) = tie(floor, |x| tone_e(x, HALF), guess) {
                        sc.half_p_mut(h)[k][l] = v;
                    }
                }
                3 => {
                    let guess = p.sas_floor * FRAME_SAMPLES as f32 / 2.0;
                    if let Some(v) = tie(p.sas_floor, |x| tone_e(x, FRAME_SAMPLES), guess) {
                        sc.sas_p_mut()[0][l] = v;
                    }
                }
                4 => {
                    let hp = sc.half_p(h);
                    let (lo, hi) = (tone_e(hp[0][l], HALF), tone_e(hp[1][l], HALF));
                    let g = p.cas_diff_gain[0] * lo + p.cas_diff_gain[1] * hi;
                    if let Some(v) = tie(g, |x| CAS_SHARE * x, g / CAS_SHARE) {
                        sc.diff_energy[h][l] = v;
                    }
                }
                5 => {
                    let t = |k: usize| tone_e(sc.half_p(h)[k][l], HALF);
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
            sc.half_p_mut(0)[3] = [0.0; LANES];
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

    /// Units run in balanced groups give the same states and powers as each
    /// filter run alone over its half, for every unit count (each unit in
    /// exactly one group), fresh or continuing a state.
    #[test]
    fn unit_groups_match_single_filters() {
        let mut rng = Rng(99);
        let mut x = [[[0.0f32; LANES]; HALF]; 2];
        for v in x.as_flattened_mut() {
            *v = std::array::from_fn(|_| (rng.next() - 0.5) * 20000.0);
        }
        for n in 1..=24 {
            let coeffs: Vec<f32> = (0..n).map(|i| coeff(300.0 + 137.0 * i as f32)).collect();
            let units: Vec<Unit> = (0..n)
                .map(|slot| Unit {
                    slot,
                    half: usize::from(rng.next() < 0.5),
                    fresh: rng.next() < 0.5,
                    last: rng.next() < 0.7,
                })
                .collect();
            let random = |rng: &mut Rng| -> Vec<Lanes> {
                (0..n)
                    .map(|_| std::array::from_fn(|_| rng.next() * 100.0))
                    .collect()
            };
            let init = States {
                nsas: 0,
                s1: random(&mut rng),
                s2: random(&mut rng),
                p: random(&mut rng),
            };
            let mut want = init.clone();
            for u in &units {
                let k = u.slot;
                let (mut a, mut b) = if u.fresh {
                    ([[0.0; LANES]], [[0.0; LANES]])
                } else {
                    ([init.s1[k]], [init.s2[k]])
                };
                goertzel_run::<1, false>(&[coeffs[k]], &x[u.half], &mut a, &mut b);
                (want.s1[k], want.s2[k]) = (a[0], b[0]);
                if u.last {
                    want.p[k] = power(coeffs[k], &a[0], &b[0]);
                }
            }
            for gmax in [3, 4, 8] {
                let mut got = init.clone();
                match gmax {
                    3 => goertzel_phase::<3, false>(&units, &coeffs, &x, &mut got),
                    4 => goertzel_phase::<4, false>(&units, &coeffs, &x, &mut got),
                    _ => goertzel_phase::<8, false>(&units, &coeffs, &x, &mut got),
                }
                assert!(
                    (&got.s1, &got.s2, &got.p) == (&want.s1, &want.s2, &want.p),
                    "{n} units, groups of {gmax}"
                );
                let sizes: Vec<usize> = groups(n, gmax).map(|r| r.len()).collect();
                assert_eq!(sizes.iter().sum::<usize>(), n);
                assert!(sizes
                    .iter()
                    .all(|&s| s <= gmax && s + 1 >= n.div_ceil(sizes.len())));
            }
        }
    }

    /// Every plan runs each computed bin exactly once, over the right
    /// halves, and the second half of a SAS bin in a later group or phase
    /// than its first half.
    #[test]
    fn plans_run_each_bin_once_in_order() {
        for nsas in 0..70 {
            for gates in 0..8 {
                let (sas, h0, h1) = (gates & 1 != 0, gates & 2 != 0, gates & 4 != 0);
                let phases = plan(nsas, sas, h0, h1);
                for gmax in [3, 4, 8] {
                    // (phase, group) of each unit.
                    let mut at = Vec::new();
                    for (i, phase) in phases.iter().enumerate() {
                        for (g, r) in groups(phase.len(), gmax).enumerate() {
                            at.extend(phase[r].iter().map(|u| (*u, (i, g))));
                        }
                    }
                    let mut want = Vec::new();
                    for k in 0..nsas {
                        if sas {
                            want.push((k, 0, true, false));
                            want.push((k, 1, false, true));
                        }
                    }
                    for h in 0..2 {
                        if [h0, h1][h] {
                            for k in 0..HALF_BINS {
                                want.push((nsas + h * HALF_BINS + k, h, true, true));
                            }
                        }
                    }
                    let mut got: Vec<_> = at
                        .iter()
                        .map(|(u, _)| (u.slot, u.half, u.fresh, u.last))
                        .collect();
                    got.sort_unstable();
                    want.sort_unstable();
                    assert_eq!(got, want, "nsas {nsas} gates {gates}");
                    for k in 0..nsas {
                        let when = |half| at.iter().find(|(u, _)| u.slot == k && u.half == half);
                        if let (Some(a), Some(b)) = (when(0), when(1)) {
                            assert!(a.1 < b.1, "nsas {nsas} gates {gates} bin {k}");
                        }
                    }
                }
            }
        }
    }

    /// The screen's energies and bins (both halves in one loop, the SAS bins
    /// continued across the halves, filters in groups) equal the plain
    /// sequential computation, bit for bit, including which bins the gates
    /// skip.
    #[test]
    fn screen_arithmetic_matches_plain_form() {
        check_screen::<false>();
        check_screen::<true>();
    }

    /// [`screen_arithmetic_matches_plain_form`] for one `FMA` setting (the
    /// plain form fuses the same multiply-adds: `e`, `d` and the bins').
    fn check_screen<const FMA: bool>() {
        let mut rng = Rng(7);
        for code in ["us", "uk"] {
            let zone = zones::zone(code).expect("zone");
            let bank = DetectorBank::new(zone, LANES);
            let p = &bank.params;
            let nsas = bank.scratch.st.nsas;
            let mut scratch = bank.scratch.clone();
            for trial in 0..50 {
                // Loud, near the gates and silent chunks, chunks where only
                // one half has energy, and full-scale samples.
                let level = [3000.0, 40.0, 8.0, 0.0, 1e6][trial % 5];
                let quiet_half = trial % 3;
                let frames: Vec<Frame> = (0..LANES)
                    .map(|l| {
                        std::array::from_fn(|n| {
                            let g = if n / HALF + 1 == quiet_half {
                                0.0
                            } else {
                                level
                            };
                            let v = (rng.next() - 0.5) * g * (1.0 + l as f32 / 4.0);
                            v.clamp(-32768.0, 32767.0) as i16
                        })
                    })
                    .collect();
                let src: [&Frame; LANES] = std::array::from_fn(|l| &frames[l]);
                let prev0: [Lanes; 2] =
                    std::array::from_fn(|_| std::array::from_fn(|_| rng.next() * 100.0));
                // One scratch for all trials, as in the bank (no state may
                // leak from one chunk into the next).
                let sc = &mut scratch;
                let mut prev = prev0;
                let done = screen_body::<8, FMA>(&src, p, &mut prev, sc);

                // Plain form, from the frames, in the order of the lanes.
                let x: Vec<Lanes> = (0..FRAME_SAMPLES)
                    .map(|n| std::array::from_fn(|l| f32::from(frames[lane_channel(l)][n])))
                    .collect();
                let [mut p1, mut p2] = prev0;
                let mut e = [[0.0f32; LANES]; 2];
                let mut d = [[0.0f32; LANES]; 2];
                for (i, xv) in x.iter().enumerate() {
                    let h = i / HALF;
                    for l in 0..LANES {
                        let dv = (xv[l] + p2[l]) - 2.0 * p1[l];
                        e[h][l] = madd::<FMA>(xv[l], xv[l], e[h][l]);
                        d[h][l] = madd::<FMA>(dv, dv, d[h][l]);
                    }
                    p2 = p1;
                    p1 = *xv;
                }
                assert_eq!(sc.x.0.as_flattened(), &x[..], "{code} trial {trial}");
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
                    goertzel_run::<1, FMA>(&[c], xs, &mut a, &mut b);
                    power(c, &a[0], &b[0])
                };
                if done[0] {
                    for k in 0..nsas {
                        assert_eq!(sc.sas_p()[k], bin(p.coeffs[k], &x[..]), "sas bin {k}");
                    }
                }
                for h in 0..2 {
                    if done[1 + h] {
                        for k in 0..HALF_BINS {
                            let c = p.coeffs[nsas + h * HALF_BINS + k];
                            let want = bin(c, &x[h * HALF..(h + 1) * HALF]);
                            assert_eq!(sc.half_p(h)[k], want, "half {h} bin {k}");
                        }
                    }
                }
            }
        }
    }

    /// Lane masks map to the channels of the lanes ([`unpack`]).
    #[test]
    fn lane_masks_map_to_channels() {
        let mut seen = 0u16;
        for l in 0..LANES {
            let c = lane_channel(l);
            assert_eq!(channel_mask(1 << l), 1 << c, "lane {l}");
            seen |= 1 << c;
        }
        assert_eq!(seen, u16::MAX);
        let mut rng = Rng(3);
        for _ in 0..1000 {
            let m = (rng.next() * 65536.0) as u16;
            let want = (0..LANES).fold(0u16, |a, l| a | (m >> l & 1) << lane_channel(l));
            assert_eq!(channel_mask(m), want);
        }
    }
}
