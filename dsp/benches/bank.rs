//! Channels per core of the in-call detector bank (call-waiting tone of the
//! `us` zone + CAS + DTMF) against the scalar detectors run channel by channel
//! on the same input, and (if built) spandsp's super_tone_rx + dtmf_rx.
//!
//! One iteration = one 20 ms tick for N channels, so
//! channels per core = N × 20 ms / time per tick.
//!
//! Inputs (2 s per channel, cycled):
//! * `speech`: speech-like near-end signal on every channel (talk-off load on
//!   the screen), with SAS + CAS on one channel in 16 and a DTMF digit on
//!   another one in 16;
//! * `quiet`: the same events over −60 dBm0 noise;
//! * `noise` (summary only): −60 dBm0 noise, no events — the screen alone,
//!   below its energy gates (no Goertzel bins run);
//! * `loud` (summary only): −25 dBm0 white noise, no events — the screen
//!   alone with every bin computed.
//!
//! After divan's table a summary with the ratios is printed. The spandsp
//! figure needs `/tmp/super_tone_bench` (see `benches/spandsp/README.md`, or
//! set `SPANDSP_BENCH` to its path); without it the comparison is skipped.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use divan::{black_box, Bencher};
use pickupd_dsp::bank::DetectorBank;
use pickupd_dsp::cas::CasDetector;
use pickupd_dsp::dtmf::DtmfDetector;
use pickupd_dsp::sas::CallWaitingToneDetector;
use pickupd_dsp::{zones, Frame, FRAME_SAMPLES};

const TICKS: usize = 100;
const SIZES: [usize; 2] = [64, 1024];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Speech,
    Quiet,
    /// −60 dBm0 noise without events: the screen alone (its energy gates
    /// skip the Goertzel bins).
    Noise,
    /// −25 dBm0 white noise without events: the screen alone with every
    /// Goertzel bin computed (above all energy gates, no candidates).
    Loud,
}

/// `[tick][channel]` frames.
struct Input {
    ticks: Vec<Vec<Frame>>,
}

fn speech_pool() -> &'static [Vec<f64>] {
    static POOL: OnceLock<Vec<Vec<f64>>> = OnceLock::new();
    POOL.get_or_init(|| {
        (0..16)
            .map(|s| common::speech_like(2 * 2000, -20.0, 1000 + s))
            .collect()
    })
}

fn channel_signal(kind: Kind, c: usize) -> Vec<i16> {
    let n = TICKS * FRAME_SAMPLES;
    let mut x = match kind {
        Kind::Speech => {
            let src = &speech_pool()[c % 16];
            let off = (c * 37 * 8) % (src.len() - n);
            let gain = 10f64.powf(-((c % 7) as f64) / 20.0);
            src[off..off + n].iter().map(|v| v * gain).collect()
        }
        Kind::Quiet | Kind::Noise => {
            let mut x = vec![0.0; n];
            common::Noise::new(c as u64 + 1).add(&mut x, -60.0);
            x
        }
        Kind::Loud => {
            let mut x = vec![0.0; n];
            common::Noise::new(c as u64 + 1).add(&mut x, -25.0);
            x
        }
    };
    let at = common::ms(300 + (c % 10) as u32 * 50);
    match c % 16 {
        _ if matches!(kind, Kind::Noise | Kind::Loud) => {}
        3 => {
            let mut p = common::tones(&[(440.0, -13.0)], 300);
            p.extend(common::tones(&[(2130.0, -20.0), (2750.0, -20.0)], 80));
            common::mix_at(&mut x, &p, at);
        }
        11 => {
            let p = common::tones(&[(941.0, -10.0), (1633.0, -12.0)], 60);
            common::mix_at(&mut x, &p, at);
        }
        _ => {}
    }
    x.truncate(n);
    common::to_pcm(&x)
}

/// Inputs built so far (they are built once per kind and size).
type Cached = (Kind, usize, &'static Input);

fn input(kind: Kind, channels: usize) -> &'static Input {
    static CACHE: OnceLock<std::sync::Mutex<Vec<Cached>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut guard = cache.lock().expect("cache");
    if let Some(&(_, _, i)) = guard.iter().find(|e| e.0 == kind && e.1 == channels) {
        return i;
    }
    let signals: Vec<Vec<i16>> = (0..channels).map(|c| channel_signal(kind, c)).collect();
    let ticks = (0..TICKS)
        .map(|t| {
            signals
                .iter()
                .map(|s| {
                    let mut f = [0i16; FRAME_SAMPLES];
                    f.copy_from_slice(&s[t * FRAME_SAMPLES..(t + 1) * FRAME_SAMPLES]);
                    f
                })
                .collect()
        })
        .collect();
    let leaked: &'static Input = Box::leak(Box::new(Input { ticks }));
    guard.push((kind, channels, leaked));
    leaked
}

fn zone() -> &'static zones::Zone {
    zones::zone("us").expect("us zone")
}

struct Scalar {
    sas: CallWaitingToneDetector,
    cas: CasDetector,
    dtmf: DtmfDetector,
}

fn scalar_bank(n: usize) -> Vec<Scalar> {
    (0..n)
        .map(|_| Scalar {
            sas: CallWaitingToneDetector::for_zone(zone()),
            cas: CasDetector::new(),
            dtmf: DtmfDetector::new(),
        })
        .collect()
}

fn scalar_tick(dets: &mut [Scalar], frames: &[Frame]) {
    for (d, f) in dets.iter_mut().zip(frames) {
        d.sas.process(f, &mut |e| {
            black_box(e);
        });
        d.cas.process(f, &mut |e| {
            black_box(e);
        });
        d.dtmf.process(f, &mut |e| {
            black_box(e);
        });
    }
}

fn bank_tick(bank: &mut DetectorBank, frames: &[Frame]) {
    bank.process_tick(frames, &mut |c, e| {
        black_box((c, e));
    });
}

fn bench_bank(b: Bencher, kind: Kind, n: usize) {
    let inp = input(kind, n);
    let mut bank = DetectorBank::new(zone(), n);
    let mut t = 0;
    b.bench_local(|| {
        bank_tick(&mut bank, black_box(&inp.ticks[t]));
        t = (t + 1) % TICKS;
    });
}

fn bench_scalar(b: Bencher, kind: Kind, n: usize) {
    let inp = input(kind, n);
    let mut dets = scalar_bank(n);
    let mut t = 0;
    b.bench_local(|| {
        scalar_tick(&mut dets, black_box(&inp.ticks[t]));
        t = (t + 1) % TICKS;
    });
}

#[divan::bench(args = SIZES)]
fn bank_speech(b: Bencher, n: usize) {
    bench_bank(b, Kind::Speech, n);
}

#[divan::bench(args = SIZES)]
fn scalar_speech(b: Bencher, n: usize) {
    bench_scalar(b, Kind::Speech, n);
}

#[divan::bench(args = SIZES)]
fn bank_quiet(b: Bencher, n: usize) {
    bench_bank(b, Kind::Quiet, n);
}

#[divan::bench(args = SIZES)]
fn bank_noise(b: Bencher, n: usize) {
    bench_bank(b, Kind::Noise, n);
}

#[divan::bench(args = SIZES)]
fn bank_loud(b: Bencher, n: usize) {
    bench_bank(b, Kind::Loud, n);
}

#[divan::bench(args = SIZES)]
fn scalar_quiet(b: Bencher, n: usize) {
    bench_scalar(b, Kind::Quiet, n);
}

/// Best mean time per tick over `rounds` passes through the input (after one
/// warm-up pass).
fn time_per_tick(rounds: usize, mut tick: impl FnMut(usize)) -> Duration {
    (0..TICKS).for_each(&mut tick);
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let t0 = Instant::now();
        (0..TICKS).for_each(&mut tick);
        best = best.min(t0.elapsed() / TICKS as u32);
    }
    best
}

fn per_core(n: usize, per_tick: Duration) -> f64 {
    n as f64 * 0.020 / per_tick.as_secs_f64()
}

fn write_spandsp_input(kind: Kind, n: usize) -> std::io::Result<std::path::PathBuf> {
    let inp = input(kind, n);
    let mut bytes = Vec::with_capacity(n * TICKS * FRAME_SAMPLES * 2);
    for c in 0..n {
        for t in &inp.ticks {
            for s in t[c] {
                bytes.extend_from_slice(&s.to_le_bytes());
            }
        }
    }
    let name = match kind {
        Kind::Speech => "pickupd-bank-input.s16",
        Kind::Quiet => "pickupd-bank-input-quiet.s16",
        Kind::Noise => "pickupd-bank-input-noise.s16",
        Kind::Loud => "pickupd-bank-input-loud.s16",
    };
    let path = std::env::temp_dir().join(name);
    std::fs::write(&path, bytes)?;
    Ok(path)
}

fn spandsp(kind: Kind, n: usize) -> Option<f64> {
    let path = write_spandsp_input(kind, n).ok()?;
    let exe = std::env::var("SPANDSP_BENCH").unwrap_or_else(|_| "/tmp/super_tone_bench".into());
    if !std::path::Path::new(&exe).exists() {
        println!(
            "  spandsp: {exe} not found (input written to {}); see benches/spandsp/README.md",
            path.display()
        );
        return None;
    }
    let out = std::process::Command::new(&exe)
        .arg(&path)
        .arg(n.to_string())
        .arg("5")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines().filter(|l| !l.starts_with("SPANDSP_")) {
        println!("  {line}");
    }
    text.lines()
        .find_map(|l| l.strip_prefix("SPANDSP_CHANNELS_PER_CORE "))
        .and_then(|v| v.trim().parse().ok())
}

fn summary() {
    // The screen picks its code path at run time (multiversion).
    #[cfg(target_arch = "x86_64")]
    let target = if std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("fma")
    {
        "AVX-512 (run-time dispatch)"
    } else if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
    {
        "AVX2 + FMA (run-time dispatch)"
    } else {
        "SSE2 (default x86-64)"
    };
    #[cfg(not(target_arch = "x86_64"))]
    let target = "default target";
    println!("\n== detector bank summary (us zone: SAS + CAS + DTMF; SIMD: {target}) ==");
    for kind in [Kind::Speech, Kind::Quiet, Kind::Noise, Kind::Loud] {
        for n in SIZES {
            let inp = input(kind, n);
            let mut bank = DetectorBank::new(zone(), n);
            let mut active = [0usize; 3];
            let bank_t = time_per_tick(5, |t| {
                bank_tick(&mut bank, &inp.ticks[t]);
            });
            for t in 0..TICKS {
                bank_tick(&mut bank, &inp.ticks[t]);
                let (s, c, d) = bank.active_counts();
                active[0] += s;
                active[1] += c;
                active[2] += d;
            }
            let (cs, cc, cd) = bank.candidate_ticks();
            let minutes = bank.samples() as f64 / 8000.0 / 60.0 * n as f64;
            let mut dets = scalar_bank(n);
            let scalar_t = time_per_tick(3, |t| scalar_tick(&mut dets, &inp.ticks[t]));
            let (bc, sc) = (per_core(n, bank_t), per_core(n, scalar_t));
            let frac = |a: usize| 100.0 * a as f64 / (n * TICKS) as f64;
            println!(
                "{kind:?} N={n:5}: bank {:8.1} µs/tick = {:9.0} channels/core | scalar {:8.1} µs/tick = {:7.0} channels/core | bank/scalar {:5.2}x | scalar detectors active SAS {:.1} % CAS {:.1} % DTMF {:.1} %",
                bank_t.as_secs_f64() * 1e6,
                bc,
                scalar_t.as_secs_f64() * 1e6,
                sc,
                bc / sc,
                frac(active[0]),
                frac(active[1]),
                frac(active[2]),
            );
            println!(
                "  candidate ticks per channel-minute: SAS {:.1}, CAS {:.1}, DTMF {:.1}",
                cs as f64 / minutes,
                cc as f64 / minutes,
                cd as f64 / minutes
            );
            if n == 64 {
                if let Some(sp) = spandsp(kind, n) {
                    println!(
                        "  bank / spandsp channels per core: {:.1}x ({bc:.0} vs {sp:.0}); scalar / spandsp {:.1}x",
                        bc / sp,
                        sc / sp
                    );
                }
            }
        }
    }
}

fn main() {
    divan::main();
    if std::env::args().any(|a| a == "--bench") {
        summary();
    }
}
