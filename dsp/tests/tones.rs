//! Tone generator levels and cadences.

use pickupd_dsp::tones::{ProgressTone, ToneGenerator};
use pickupd_dsp::{dbm0_to_peak, zones};

fn render(g: &mut ToneGenerator, ms: usize) -> Vec<i16> {
    let mut v = vec![0; ms * 8];
    g.fill(&mut v);
    v
}

fn peak(v: &[i16]) -> f32 {
    v.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0) as f32
}

fn rms(v: &[i16]) -> f32 {
    (v.iter().map(|&x| f32::from(x).powi(2)).sum::<f32>() / v.len().max(1) as f32).sqrt()
}

#[test]
fn levels() {
    assert!((dbm0_to_peak(0.0) - 22_800.0).abs() < 1.0);
    assert!((dbm0_to_peak(-13.0) - 5_110.0).abs() < 10.0);
    // Dial tone: two components at -13 dBm0 -> RMS = peak(-13).
    let dial = render(&mut ToneGenerator::progress(ProgressTone::Dial, "us"), 1000);
    let expected = dbm0_to_peak(-13.0);
    assert!((rms(&dial) / expected - 1.0).abs() < 0.02, "{}", rms(&dial));
}

#[test]
fn cadences() {
    let mut rb = ToneGenerator::progress(ProgressTone::Ringback, "us");
    let v = render(&mut rb, 12_000);
    let on = |from_ms: usize, to_ms: usize| peak(&v[from_ms * 8..to_ms * 8]) > 0.0;
    assert!(on(0, 1990) && !on(2000, 6000) && on(6000, 7990) && !on(8000, 12_000));
    let mut busy = ToneGenerator::progress(ProgressTone::Busy, "de");
    let v = render(&mut busy, 2000);
    assert!(peak(&v[..4000]) > 0.0 && peak(&v[4000..8000]) == 0.0);
    let expected = 2.0 * dbm0_to_peak(-24.0);
    assert!((peak(&v) / expected - 1.0).abs() < 0.03);
}

#[test]
fn sas_plays_one_cycle() {
    let us = zones::zone("us").expect("us");
    let mut g = ToneGenerator::sas(us);
    let v = render(&mut g, 300);
    assert!((peak(&v) / dbm0_to_peak(-13.0) - 1.0).abs() < 0.01);
    assert!(!g.finished());
    let rest = render(&mut g, 10_100);
    assert!(rest.iter().all(|&x| x == 0));
    assert!(g.finished());
    // The station's beep keeps repeating.
    let mut cw = ToneGenerator::progress(ProgressTone::CallWaiting, "us");
    let v = render(&mut cw, 10_600);
    assert!(peak(&v[10_300 * 8..]) > 0.0);
    assert!(!cw.finished());
}

#[test]
fn every_zone_sas_finishes() {
    for z in zones::all() {
        let mut g = ToneGenerator::sas(z);
        let mut frame = [0i16; 160];
        let mut n = 0;
        while !g.finished() && n < 3000 {
            g.fill(&mut frame);
            n += 1;
        }
        assert!(g.finished(), "{}", z.code);
    }
}

#[test]
fn modulation_and_attenuation() {
    let segs = zones::parse_tone_string("425*25/1000").expect("parses");
    let v = render(&mut ToneGenerator::new(&segs, -10.0), 1000);
    // 90 % AM: envelope from 0.1 to 1.9 x the carrier peak.
    let a = dbm0_to_peak(-10.0);
    assert!((peak(&v) / (1.9 * a) - 1.0).abs() < 0.03, "{}", peak(&v));
    let segs = zones::parse_tone_string("425@/100").expect("parses");
    let v = render(&mut ToneGenerator::new(&segs, -10.0), 100);
    assert!((peak(&v) / (0.3 * a) - 1.0).abs() < 0.03);
}
