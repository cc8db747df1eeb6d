//! Line echo canceller against a synthetic hybrid echo path.

mod common;

use common::*;
use pickupd_dsp::echo::EchoCanceller;
use pickupd_dsp::g711;
use pickupd_dsp::goertzel::Goertzel;
use pickupd_dsp::sas::CallWaitingToneDetector;
use pickupd_dsp::{zones, FRAME_SAMPLES};

#[derive(Clone, Copy)]
enum Law {
    Mu,
    A,
}

fn g711(law: Law, s: i16) -> i16 {
    match law {
        Law::Mu => g711::ulaw_decode(g711::ulaw_encode(s)),
        Law::A => g711::alaw_decode(g711::alaw_encode(s)),
    }
}

/// A hybrid: the transmit goes out G.711 coded, comes back through the
/// impulse response `ir` (lag in samples, relative gain), scaled so its
/// taps' gains sum (in magnitude) to `-loss_db`, and is G.711 coded again.
fn echo_path(tx: &[i16], loss_db: f64, ir: &[(usize, f64)], law: Law) -> Vec<f64> {
    let sent: Vec<f64> = tx.iter().map(|&s| f64::from(g711(law, s))).collect();
    let norm: f64 = ir.iter().map(|(_, g)| g.abs()).sum();
    let scale = 10f64.powf(-loss_db / 20.0) / norm;
    (0..tx.len())
        .map(|n| {
            ir.iter()
                .filter(|(d, _)| *d <= n)
                .map(|&(d, g)| g * scale * sent[n - d])
                .sum()
        })
        .collect()
}

fn coded(law: Law, x: &[f64]) -> Vec<i16> {
    to_pcm(x).into_iter().map(|s| g711(law, s)).collect()
}

fn cancel(ec: &mut EchoCanceller, tx: &[i16], rx: &[i16]) -> Vec<i16> {
    let mut out = vec![0i16; rx.len()];
    for ((t, r), o) in tx
        .chunks(FRAME_SAMPLES)
        .zip(rx.chunks(FRAME_SAMPLES))
        .zip(out.chunks_mut(FRAME_SAMPLES))
    {
        ec.process(t, r, o);
    }
    out
}

fn energy(x: &[i16]) -> f64 {
    x.iter().map(|&v| f64::from(v).powi(2)).sum()
}

/// Echo return loss enhancement over `range` (dB).
fn erle(rx: &[i16], out: &[i16], range: std::ops::Range<usize>) -> f64 {
    10.0 * (energy(&rx[range.clone()]) / energy(&out[range]).max(1.0)).log10()
}

/// Name, hybrid loss (dB), impulse response (lag, relative gain), law.
type Path = (&'static str, f64, &'static [(usize, f64)], Law);

const PATHS: [Path; 4] = [
    (
        "6 dB, 3 taps, µ-law",
        6.0,
        &[(0, 1.0), (1, -0.4), (3, 0.15)],
        Law::Mu,
    ),
    (
        "10 dB, 4 taps + 5 ms, A-law",
        10.0,
        &[(40, 0.8), (41, 1.0), (43, -0.5), (47, 0.2)],
        Law::A,
    ),
    (
        "15 dB, 5 taps + 2 ms, µ-law",
        15.0,
        &[(16, -1.0), (17, 0.6), (19, 0.3), (24, -0.2), (30, 0.1)],
        Law::Mu,
    ),
    (
        "20 dB, 3 taps + 10 ms, A-law",
        20.0,
        &[(80, 1.0), (82, 0.5), (90, -0.25)],
        Law::A,
    ),
];

#[test]
fn erle_after_convergence() {
    for (seed, &(name, loss, ir, law)) in PATHS.iter().enumerate() {
        for &level in &[-12.0, -20.0] {
            let tx: Vec<i16> = to_pcm(&speech_like(8000, level, 11 + seed as u64));
            let rx = coded(law, &echo_path(&tx, loss, ir, law));
            let mut ec = EchoCanceller::new(128);
            let out = cancel(&mut ec, &tx, &rx);
            let first = erle(&rx, &out, 4000..8000);
            let settled = erle(&rx, &out, 8000..rx.len());
            println!(
                "{name}, near-end {level} dBm0: ERLE 0.5–1 s {first:.1} dB, 1–8 s {settled:.1} dB"
            );
            assert!(
                settled >= 20.0,
                "{name} at {level} dBm0: ERLE {settled:.1} dB"
            );
        }
    }
}

#[test]
fn silence_and_garbage_are_harmless() {
    let mut ec = EchoCanceller::new(128);
    let z = vec![0i16; 4000];
    let mut out = vec![1i16; 4000];
    ec.process(&z, &z, &mut out);
    assert!(out.iter().all(|&v| v == 0));
    let mut n = Noise::new(5);
    let a = n.garbage(40_000);
    let b = n.garbage(40_000);
    let mut out = vec![0i16; 40_000];
    ec.process(&a, &b, &mut out);
    assert!(ec.coefficients().iter().all(|c| c.is_finite()));
    // Mismatched lengths are cut to the shortest.
    ec.process(&a[..10], &b[..20], &mut out[..5]);
    ec.reset();
    assert!(ec.coefficients().iter().all(|&c| c == 0.0));
    assert_eq!(EchoCanceller::new(0).taps(), 1);
}

fn goertzel_440(x: &[i16]) -> f64 {
    let mut g = Goertzel::new(440.0, x.len());
    for &v in x {
        g.update(f32::from(v));
    }
    f64::from(g.power())
}

#[test]
fn sas_during_near_end_speech_is_kept_and_detected() {
    let zone = zones::zone("us").expect("zone us");
    for (seed, &(name, loss, ir, law)) in PATHS.iter().enumerate() {
        // Near-end speech at -13 dBm0 (as loud as the tone), echo 6–20 dB
        // below; the SAS arrives at 3.0 s, in the middle of the speech.
        let tx: Vec<i16> = to_pcm(&speech_like(5000, -13.0, 100 + seed as u64));
        let echo = echo_path(&tx, loss, ir, law);
        let at = 24_000;
        let tone = tones(&[(440.0, -13.0)], 300);
        let mut mixed = echo.clone();
        for (m, t) in mixed[at..].iter_mut().zip(&tone) {
            *m += t;
        }
        let rx = coded(law, &mixed);
        let mut ec = EchoCanceller::new(128);
        let out = cancel(&mut ec, &tx, &rx);
        let window = at..at + tone.len();
        let reference = goertzel_440(&coded(law, &tone));
        let kept = goertzel_440(&out[window.clone()]);
        let diff = 10.0 * (kept / reference).log10();
        println!(
            "{name}: 440 Hz energy after the canceller {diff:+.2} dB vs the tone alone; \
             double-talk held {} samples",
            ec.frozen_samples()
        );
        assert!(diff.abs() <= 1.0, "{name}: tone changed by {diff:.2} dB");
        // And the detector finds it, once, where it is.
        let mut det = CallWaitingToneDetector::for_zone(zone);
        let mut events = Vec::new();
        for frame in out.chunks(FRAME_SAMPLES) {
            det.process(frame, &mut |e| events.push(e.at_sample));
        }
        assert_eq!(events.len(), 1, "{name}: events {events:?}");
        let start = events[0] as usize;
        assert!(
            start + 400 >= at && start <= at + 400,
            "{name}: detected at {start}, tone at {at}"
        );
    }
}

#[test]
fn double_talk_does_not_diverge() {
    for (seed, &(name, loss, ir, law)) in PATHS.iter().enumerate() {
        // 2 s near-end only, 3 s of loud far-end speech on top, 2 s near-end
        // only again.
        let tx: Vec<i16> = to_pcm(&speech_like(7000, -15.0, 200 + seed as u64));
        let mut rx_lin = echo_path(&tx, loss, ir, law);
        let far = speech_like(3000, -12.0, 300 + seed as u64);
        for (r, f) in rx_lin[16_000..].iter_mut().zip(&far) {
            *r += f;
        }
        let echo_only = coded(law, &echo_path(&tx, loss, ir, law));
        let rx = coded(law, &rx_lin);
        let mut ec = EchoCanceller::new(128);
        let out = cancel(&mut ec, &tx, &rx);
        let before = erle(&rx, &out, 8_000..16_000);
        // Echo left during double talk: output minus the far-end speech.
        let far_pcm = to_pcm(&far);
        let residual: Vec<i16> = out[16_000..40_000]
            .iter()
            .zip(&far_pcm)
            .map(|(&o, &f)| o.saturating_sub(f))
            .collect();
        let during =
            10.0 * (energy(&echo_only[16_000..40_000]) / energy(&residual).max(1.0)).log10();
        let after = erle(&rx, &out, 40_000..48_000);
        println!(
            "{name}: ERLE before double talk {before:.1} dB, during {during:.1} dB, \
             in the 1 s after {after:.1} dB; frozen {} samples",
            ec.frozen_samples()
        );
        assert!(before >= 20.0, "{name}: before {before:.1} dB");
        assert!(during >= 10.0, "{name}: during {during:.1} dB");
        assert!(after >= 20.0, "{name}: after {after:.1} dB");
        assert!(ec.coefficients().iter().all(|c| c.is_finite()));
    }
}

/// The daemon's configuration: 512 taps (64 ms) covering a 40 ms bulk delay
/// between the transmit reference and its echo.
#[test]
fn long_filter_covers_bulk_delay() {
    let ir: &[(usize, f64)] = &[(320, 1.0), (321, -0.5), (324, 0.2)];
    let tx: Vec<i16> = to_pcm(&speech_like(8000, -15.0, 77));
    let rx = coded(Law::Mu, &echo_path(&tx, 10.0, ir, Law::Mu));
    let mut ec = EchoCanceller::new(512);
    let out = cancel(&mut ec, &tx, &rx);
    let first = erle(&rx, &out, 4000..8000);
    let settled = erle(&rx, &out, 8000..rx.len());
    println!(
        "512 taps, 40 ms bulk delay, 10 dB: ERLE 0.5–1 s {first:.1} dB, 1–8 s {settled:.1} dB"
    );
    assert!(settled >= 20.0, "ERLE {settled:.1} dB");
}

#[test]
fn odd_tap_counts_work() {
    let ir: &[(usize, f64)] = &[(2, 1.0), (3, -0.3)];
    let tx: Vec<i16> = to_pcm(&speech_like(6000, -15.0, 9));
    let rx = coded(Law::Mu, &echo_path(&tx, 10.0, ir, Law::Mu));
    let mut ec = EchoCanceller::new(61);
    let out = cancel(&mut ec, &tx, &rx);
    let settled = erle(&rx, &out, 8000..rx.len());
    assert!(settled >= 20.0, "ERLE {settled:.1} dB");
}
