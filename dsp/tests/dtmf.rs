//! DTMF receiver and generator against real PCM.

mod common;

use common::*;
use pickupd_dsp::dtmf::{DtmfDetector, DtmfEvent, DtmfGenerator, InvalidDigit};
use pickupd_dsp::FRAME_SAMPLES;

const DIGITS: &str = "0123456789*#ABCD";

fn freqs(d: char) -> (f64, f64) {
    let rows = [697.0, 770.0, 852.0, 941.0];
    let cols = [1209.0, 1336.0, 1477.0, 1633.0];
    let keys = ["123A", "456B", "789C", "*0#D"];
    for (r, k) in keys.iter().enumerate() {
        if let Some(c) = k.find(d) {
            return (rows[r], cols[c]);
        }
    }
    panic!("bad digit {d}");
}

/// Run the detector over `pcm` in 160-sample frames.
fn detect(pcm: &[i16]) -> Vec<DtmfEvent> {
    let mut det = DtmfDetector::new();
    let mut ev = Vec::new();
    for frame in pcm.chunks(FRAME_SAMPLES) {
        det.process(frame, &mut |e| ev.push(e));
    }
    ev
}

fn begins(ev: &[DtmfEvent]) -> String {
    ev.iter()
        .filter_map(|e| match e {
            DtmfEvent::Begin { digit, .. } => Some(*digit),
            _ => None,
        })
        .collect()
}

/// One digit with independent sine code: row/col level, frequency factor.
fn digit_pcm(
    d: char,
    row_db: f64,
    col_db: f64,
    factor: f64,
    on_ms: u32,
    lead_samples: usize,
) -> Vec<i16> {
    let (r, c) = freqs(d);
    let mut x = vec![0.0; lead_samples];
    x.extend(silence(50));
    x.extend(tones(&[(r * factor, row_db), (c * factor, col_db)], on_ms));
    x.extend(silence(100));
    to_pcm(&x)
}

fn assert_once(d: char, ev: &[DtmfEvent], what: &str) {
    assert_eq!(ev.len(), 2, "{what} digit {d}: {ev:?}");
    match (ev[0], ev[1]) {
        (
            DtmfEvent::Begin {
                digit: b,
                at_sample,
            },
            DtmfEvent::End {
                digit: e,
                at_sample: end,
                duration_samples,
            },
        ) => {
            assert_eq!((b, e), (d, d), "{what}");
            assert!(end > at_sample);
            assert_eq!(u64::from(duration_samples), end - at_sample);
        }
        _ => panic!("{what} digit {d}: {ev:?}"),
    }
}

#[test]
fn every_digit_at_minus_10_and_minus_25() {
    for level in [-10.0, -25.0] {
        for d in DIGITS.chars() {
            let ev = detect(&digit_pcm(d, level, level, 1.0, 60, 0));
            assert_once(d, &ev, &format!("{level} dBm0"));
        }
    }
}

#[test]
fn every_digit_from_the_generator() {
    for level in [-10.0f32, -25.0] {
        let mut g = DtmfGenerator::with_timing(60, 60, level);
        g.push_digits(DIGITS).unwrap();
        let mut pcm = vec![0i16; FRAME_SAMPLES * 100];
        g.fill(&mut pcm);
        assert!(g.is_idle());
        let ev = detect(&pcm);
        assert_eq!(begins(&ev), DIGITS, "{level}: {ev:?}");
        assert_eq!(ev.len(), 2 * DIGITS.len());
    }
}

#[test]
fn onset_and_duration_are_accurate() {
    let ev = detect(&digit_pcm('5', -10.0, -10.0, 1.0, 80, 13));
    let start = (13 + ms(50)) as i64;
    match ev.as_slice() {
        [DtmfEvent::Begin { at_sample, .. }, DtmfEvent::End {
            duration_samples, ..
        }] => {
            assert!(
                (*at_sample as i64 - start).abs() <= 40,
                "{at_sample} vs {start}"
            );
            assert!(
                (*duration_samples as i64 - ms(80) as i64).abs() <= 60,
                "{duration_samples}"
            );
        }
        _ => panic!("{ev:?}"),
    }
}

#[test]
fn frequency_offset_1_5_percent_accepted() {
    for factor in [0.985, 1.015] {
        for level in [-10.0, -25.0] {
            for d in DIGITS.chars() {
                let ev = detect(&digit_pcm(d, level, level, factor, 60, 0));
                assert_once(d, &ev, &format!("x{factor} {level} dBm0"));
            }
        }
    }
}

#[test]
fn frequency_offset_3_5_percent_rejected() {
    for factor in [0.965, 1.035] {
        for d in DIGITS.chars() {
            let ev = detect(&digit_pcm(d, -10.0, -10.0, factor, 100, 0));
            assert!(ev.is_empty(), "x{factor} digit {d}: {ev:?}");
        }
    }
}

#[test]
fn twist_limits() {
    for d in DIGITS.chars() {
        // 8 dB normal (row stronger) and 4 dB reverse (column stronger): accepted.
        assert_once(
            d,
            &detect(&digit_pcm(d, -10.0, -18.0, 1.0, 60, 0)),
            "normal 8 dB",
        );
        assert_once(
            d,
            &detect(&digit_pcm(d, -14.0, -10.0, 1.0, 60, 0)),
            "reverse 4 dB",
        );
        // 10 dB normal / 6 dB reverse: rejected.
        let ev = detect(&digit_pcm(d, -10.0, -20.0, 1.0, 60, 0));
        assert!(ev.is_empty(), "normal 10 dB {d}: {ev:?}");
        let ev = detect(&digit_pcm(d, -16.0, -10.0, 1.0, 60, 0));
        assert!(ev.is_empty(), "reverse 6 dB {d}: {ev:?}");
    }
}

#[test]
fn duration_30ms_rejected_40ms_accepted() {
    // Every alignment of the tone against the analysis blocks (step 3 samples).
    for lead in (0..102).step_by(3) {
        for d in ['1', '5', 'D', '#'] {
            let ev = detect(&digit_pcm(d, -10.0, -10.0, 1.0, 30, lead));
            assert!(ev.is_empty(), "30 ms {d} lead {lead}: {ev:?}");
            let ev = detect(&digit_pcm(d, -10.0, -10.0, 1.0, 40, lead));
            assert_once(d, &ev, &format!("40 ms lead {lead}"));
        }
    }
}

#[test]
fn sequences_at_60_60() {
    for seq in ["*8", "**201", "D", "1234567890"] {
        let mut g = DtmfGenerator::with_timing(60, 60, -10.0);
        g.push_digits(seq).unwrap();
        let mut pcm = Vec::new();
        let mut frame = [0i16; FRAME_SAMPLES];
        while !g.is_idle() {
            g.fill(&mut frame);
            pcm.extend_from_slice(&frame);
        }
        pcm.extend(std::iter::repeat_n(0, 800));
        let ev = detect(&pcm);
        assert_eq!(begins(&ev), seq, "{ev:?}");
        assert_eq!(ev.len(), 2 * seq.len(), "{ev:?}");
        // Begin/End alternate.
        for pair in ev.chunks(2) {
            assert!(matches!(
                pair,
                [DtmfEvent::Begin { .. }, DtmfEvent::End { .. }]
            ));
        }
    }
}

#[test]
fn default_generator_is_60_60_at_minus_10() {
    let mut g = DtmfGenerator::new();
    g.push_digits("0").unwrap();
    let mut pcm = vec![0i16; 960];
    g.fill(&mut pcm);
    let on = pcm.iter().rposition(|&v| v != 0).unwrap_or(0);
    assert!((470..480).contains(&on), "{on}");
    let pk = pcm.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0) as f64;
    // Two tones at -10 dBm0 peak together near 2 x 7210.
    assert!(pk > 13_000.0 && pk < 14_500.0, "{pk}");
    assert!(g.is_idle());
    assert_eq!(g.push_digits("1x"), Err(InvalidDigit('x')));
}

#[test]
fn no_digits_in_noise_or_tones() {
    let mut x = silence(3000);
    Noise::new(7).add(&mut x, -20.0);
    assert!(detect(&to_pcm(&x)).is_empty());
    let dial = tones(&[(350.0, -13.0), (440.0, -13.0)], 2000);
    assert!(detect(&to_pcm(&dial)).is_empty());
    // Single DTMF component only.
    let one = tones(&[(697.0, -10.0)], 500);
    assert!(detect(&to_pcm(&one)).is_empty());
}

#[test]
fn chunking_does_not_matter_and_garbage_is_safe() {
    let pcm = digit_pcm('7', -10.0, -10.0, 1.0, 60, 0);
    let reference = detect(&pcm);
    for chunk in [1, 7, 51, 102, 1000] {
        let mut det = DtmfDetector::new();
        let mut ev = Vec::new();
        for c in pcm.chunks(chunk) {
            det.process(c, &mut |e| ev.push(e));
        }
        assert_eq!(ev, reference, "chunk {chunk}");
    }
    let mut det = DtmfDetector::new();
    det.process(&Noise::new(3).garbage(80_000), &mut |_| {});
    det.process(&[i16::MIN; 4000], &mut |_| {});
    det.process(&[], &mut |_| {});
}
