//! Call-waiting tone (SAS) detector against real PCM.

mod common;

use common::*;
use pickupd_dsp::sas::{CallWaitingToneDetector, CallWaitingToneEvent};
use pickupd_dsp::tones::{ProgressTone, ToneGenerator};
use pickupd_dsp::zones;
use pickupd_dsp::FRAME_SAMPLES;

/// Events with the number of samples fed when each was reported.
fn detect_zone(code: &str, pcm: &[i16]) -> Vec<(CallWaitingToneEvent, usize)> {
    let zone = zones::zone(code).expect("zone");
    let mut det = CallWaitingToneDetector::for_zone(zone);
    let mut ev = Vec::new();
    let mut fed = 0;
    for frame in pcm.chunks(FRAME_SAMPLES) {
        fed += frame.len();
        det.process(frame, &mut |e| ev.push((e, fed)));
    }
    ev
}

fn us(pcm: &[i16]) -> Vec<(CallWaitingToneEvent, usize)> {
    detect_zone("us", pcm)
}

/// `lead` ms silence, 440 Hz bursts `(on, off)` at `level`, then `tail`.
fn bursts(level: f64, pattern: &[(u32, u32)], tail: Vec<f64>) -> (Vec<f64>, usize) {
    let mut x = silence(500);
    for &(on, off) in pattern {
        x.extend(tones(&[(440.0, level)], on));
        x.extend(silence(off));
    }
    let last = pattern.last().map_or(0, |p| p.1);
    let end = x.len() - ms(last);
    x.extend(tail);
    (x, end)
}

fn assert_single(ev: &[(CallWaitingToneEvent, usize)], bursts: u8, end: usize, what: &str) {
    assert_eq!(ev.len(), 1, "{what}: {ev:?}");
    let (e, fed) = ev[0];
    assert_eq!(e.bursts, bursts, "{what}: {e:?}");
    assert!((e.freq_hz - 440.0).abs() < 10.0, "{what}: {e:?}");
    assert!(
        fed >= end - ms(20),
        "{what}: reported before the end ({fed} < {end})"
    );
    assert!(
        fed <= end + ms(160),
        "{what}: reported {} ms after the end",
        (fed - end) / 8
    );
    assert!(
        (e.at_sample as i64 - ms(500) as i64).abs() <= ms(20) as i64,
        "{what}: {e:?}"
    );
}

#[test]
fn us_sas_at_minus_13_and_minus_25() {
    for level in [-13.0, -25.0] {
        let (x, end) = bursts(level, &[(300, 1000)], silence(0));
        let ev = us(&to_pcm(&x));
        assert_single(&ev, 1, end, &format!("{level} dBm0"));
        let d = ev[0].0.duration_ms;
        assert!((270..=310).contains(&d), "{d}");
    }
}

#[test]
fn us_sas_followed_at_once_by_cas() {
    for level in [-13.0, -25.0] {
        let cas = tones(&[(2130.0, -20.0), (2750.0, -20.0)], 80);
        let (x, end) = bursts(level, &[(300, 0)], cat(&[cas, silence(600)]));
        assert_single(&us(&to_pcm(&x)), 1, end, &format!("{level} dBm0 + CAS"));
    }
}

#[test]
fn us_sas_in_white_noise() {
    for (level, noise, seed) in [(-13.0, -30.0, 1), (-25.0, -40.0, 2), (-20.0, -32.0, 3)] {
        let (mut x, end) = bursts(level, &[(300, 1000)], silence(0));
        Noise::new(seed).add(&mut x, noise);
        assert_single(
            &us(&to_pcm(&x)),
            1,
            end,
            &format!("{level} dBm0 in {noise} dBm0 noise"),
        );
    }
    let mut x = silence(10_000);
    Noise::new(9).add(&mut x, -20.0);
    assert!(us(&to_pcm(&x)).is_empty());
}

#[test]
fn distinctive_patterns_once_each() {
    let (x, end) = bursts(-13.0, &[(100, 100), (100, 1000)], silence(0));
    assert_single(&us(&to_pcm(&x)), 2, end, "CWT2");
    let (x, end) = bursts(-13.0, &[(100, 100), (100, 100), (100, 1000)], silence(0));
    assert_single(&us(&to_pcm(&x)), 3, end, "CWT3");
    let (x, end) = bursts(-13.0, &[(100, 100), (300, 100), (100, 1000)], silence(0));
    assert_single(&us(&to_pcm(&x)), 3, end, "CWT4");
    // CWT3 straight into CAS.
    let cas = tones(&[(2130.0, -20.0), (2750.0, -20.0)], 80);
    let (x, end) = bursts(
        -13.0,
        &[(100, 100), (100, 100), (100, 0)],
        cat(&[cas, silence(500)]),
    );
    assert_single(&us(&to_pcm(&x)), 3, end, "CWT3 + CAS");
}

#[test]
fn repeated_sas_every_10s_counts_each_time() {
    let mut g = ToneGenerator::progress(ProgressTone::CallWaiting, "us");
    let mut pcm = vec![0i16; 8000 * 25];
    g.fill(&mut pcm);
    let ev = us(&pcm);
    assert_eq!(ev.len(), 3, "{ev:?}");
}

#[test]
fn holdoff_counts_a_burst_train_once() {
    // 300 ms on / 200 ms off for 1.5 s: one report, the rest in hold-off.
    let (x, _) = bursts(-13.0, &[(300, 200), (300, 200), (300, 1000)], silence(0));
    assert_eq!(us(&to_pcm(&x)).len(), 1);
}

#[test]
fn rejects_progress_tones_and_other_frequencies() {
    let cases: Vec<(&str, Vec<f64>)> = vec![
        ("dial", tones(&[(350.0, -13.0), (440.0, -13.0)], 5000)),
        (
            "ringback",
            cat(&[
                tones(&[(440.0, -19.0), (480.0, -19.0)], 2000),
                silence(4000),
            ]),
        ),
        (
            "short ringback",
            cat(&[tones(&[(440.0, -19.0), (480.0, -19.0)], 300), silence(1000)]),
        ),
        (
            "short dial",
            cat(&[tones(&[(350.0, -13.0), (440.0, -13.0)], 300), silence(1000)]),
        ),
        (
            "440 for 2 s",
            cat(&[tones(&[(440.0, -13.0)], 2000), silence(1000)]),
        ),
        (
            "operator warning",
            cat(&[
                tones(&[(440.0, -13.0)], 2000),
                silence(8000),
                tones(&[(440.0, -13.0)], 500),
                silence(1000),
            ]),
        ),
        (
            "1000 Hz bursts",
            cat(&[
                tones(&[(1000.0, -13.0)], 300),
                silence(500),
                tones(&[(1000.0, -13.0)], 100),
                silence(100),
                tones(&[(1000.0, -13.0)], 100),
                silence(1000),
            ]),
        ),
        (
            "480 Hz burst",
            cat(&[tones(&[(480.0, -13.0)], 300), silence(1000)]),
        ),
        (
            "CAS alone",
            cat(&[
                tones(&[(2130.0, -20.0), (2750.0, -20.0)], 80),
                silence(1000),
            ]),
        ),
    ];
    for (name, x) in cases {
        let mut pcm = to_pcm(&silence(300));
        pcm.extend(to_pcm(&x));
        let ev = us(&pcm);
        assert!(ev.is_empty(), "{name}: {ev:?}");
    }
    for tone in [
        ProgressTone::Dial,
        ProgressTone::Ringback,
        ProgressTone::Busy,
        ProgressTone::Reorder,
    ] {
        let mut g = ToneGenerator::progress(tone, "us");
        let mut pcm = vec![0i16; 8000 * 13];
        g.fill(&mut pcm);
        let ev = us(&pcm);
        assert!(ev.is_empty(), "{tone:?}: {ev:?}");
    }
}

#[test]
fn garbage_input_is_safe() {
    let mut det = CallWaitingToneDetector::for_zone(zones::zone("us").expect("us"));
    let mut n = Noise::new(5);
    for chunk in [1, 3, 160, 1001] {
        det.process(&n.garbage(chunk * 10), &mut |_| {});
    }
    det.process(&[i16::MAX; 3000], &mut |_| {});
    det.process(&[], &mut |_| {});
}

/// Every zone's own call-waiting tone (first variant, one cycle, as
/// `ToneGenerator::sas` plays it) is detected by that zone's detector.
#[test]
fn every_zone_detects_its_own_tone() {
    let mut missed = Vec::new();
    for zone in zones::all() {
        let mut det = CallWaitingToneDetector::for_zone(zone);
        let mut g = ToneGenerator::sas(zone);
        let mut frame = [0i16; FRAME_SAMPLES];
        let mut found = None;
        // One cycle plus 1 s; stop at the first report to keep the test fast.
        let mut after_end = 0;
        let mut t = 0usize;
        while found.is_none() && after_end < 50 && t < 8000 * 60 {
            g.fill(&mut frame);
            det.process(&frame, &mut |e| found = Some(e));
            if g.finished() {
                after_end += 1;
            }
            t += FRAME_SAMPLES;
        }
        if found.is_none() {
            missed.push(zone.code.clone());
        }
    }
    assert!(missed.is_empty(), "not detected: {missed:?}");
}

/// A 400 Hz tone whose frequency moves linearly by `glide_hz` over its
/// length, with its level moving by `swing_db`, plus harmonics of a voice
/// (`harmonics`: relative amplitudes of 0.5×, 1.5×, 2× the tone).
fn voiced(dur_ms: u32, glide_hz: f64, swing_db: f64, harmonics: [f64; 3]) -> Vec<f64> {
    let n = ms(dur_ms);
    let a0 = peak(-20.0);
    let mut phase = [0.0f64; 4];
    let mults = [1.0, 0.5, 1.5, 2.0];
    (0..n)
        .map(|i| {
            let t = i as f64 / n as f64;
            let f = 400.0 - glide_hz / 2.0 + glide_hz * t;
            let a = a0 * 10f64.powf(swing_db * t / 20.0);
            let mut v = 0.0;
            for (k, m) in mults.iter().enumerate() {
                phase[k] += std::f64::consts::TAU * f * m / 8000.0;
                let rel = if k == 0 { 1.0 } else { harmonics[k - 1] };
                v += a * rel * phase[k].sin();
            }
            v
        })
        .collect()
}

fn uk_events(burst: Vec<f64>) -> usize {
    let x = cat(&[silence(500), burst, silence(1500)]);
    detect_zone("uk", &to_pcm(&x)).len()
}

#[test]
fn a_steady_tone_is_accepted_off_centre() {
    // The exchange's tone may sit anywhere in the band; steady is steady.
    for f in [378.0, 400.0, 422.0] {
        let x = cat(&[silence(500), tones(&[(f, -20.0)], 100), silence(1500)]);
        assert_eq!(detect_zone("uk", &to_pcm(&x)).len(), 1, "{f} Hz");
    }
    assert_eq!(uk_events(voiced(100, 0.0, 0.0, [0.0; 3])), 1);
}

#[test]
fn a_gliding_harmonic_is_not_the_exchanges_tone() {
    // A voice's pitch moves: 400 Hz as its 3rd harmonic glides a few hertz
    // in 100 ms even when the speaker holds the note.
    assert_eq!(uk_events(voiced(100, 6.0, 0.0, [0.0; 3])), 0);
    assert_eq!(uk_events(voiced(100, -6.0, 0.0, [0.0; 3])), 0);
}

#[test]
fn a_tone_with_the_voices_other_harmonics_is_rejected() {
    // The peak holds more than half the energy (every window hits), but the
    // rest of a voiced sound is there too.
    assert_eq!(uk_events(voiced(100, 0.0, 0.0, [0.0, 0.3, 0.2])), 0);
}

#[test]
fn a_swelling_tone_is_rejected() {
    // Syllables swell and fade; the exchange's tone holds its level.
    assert_eq!(uk_events(voiced(100, 0.0, 6.0, [0.0; 3])), 0);
    assert_eq!(uk_events(voiced(100, 0.0, 1.0, [0.0; 3])), 1);
}
