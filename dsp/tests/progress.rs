//! Call-progress classification (zone `us`, signals.md §6).

mod common;

use common::*;
use pickupd_dsp::dtmf::DtmfGenerator;
use pickupd_dsp::progress::{ProgressDetector, ProgressEvent, ProgressKind};
use pickupd_dsp::tones::{ProgressTone, ToneGenerator};
use pickupd_dsp::FRAME_SAMPLES;

/// Events with the number of samples fed when each was reported.
fn detect(pcm: &[i16]) -> Vec<(ProgressEvent, usize)> {
    let mut det = ProgressDetector::for_zone("us");
    let mut ev = Vec::new();
    let mut fed = 0;
    for f in pcm.chunks(FRAME_SAMPLES) {
        fed += f.len();
        det.process(f, &mut |e| ev.push((e, fed)));
    }
    ev
}

/// `lead` samples of silence, then `ms` of the generator.
fn render(tone: ProgressTone, lead: usize, dur_ms: u32) -> Vec<i16> {
    let mut g = ToneGenerator::progress(tone, "us");
    let mut v = vec![0i16; lead + ms(dur_ms)];
    g.fill(&mut v[lead..]);
    v
}

fn assert_kind(ev: &[(ProgressEvent, usize)], kind: ProgressKind, lead: usize, what: &str) {
    assert!(!ev.is_empty(), "{what}: nothing");
    assert!(ev.iter().all(|(e, _)| e.kind == kind), "{what}: {ev:?}");
    let e = ev[0].0;
    assert!(
        (e.at_sample as i64 - lead as i64).abs() <= 200,
        "{what}: start {} vs {lead}",
        e.at_sample
    );
}

#[test]
fn dial_tone() {
    for lead in [0, 77, 1234] {
        let ev = detect(&render(ProgressTone::Dial, lead, 3000));
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_kind(&ev, ProgressKind::DialTone, lead, "dial");
        assert_eq!(ev[0].0.freqs, (350.0, 440.0));
        // Reported after ≈ 300 ms of tone.
        let after = ev[0].1 - lead;
        assert!((ms(275)..=ms(360)).contains(&after), "{after}");
    }
}

#[test]
fn ringback_once_per_ring() {
    let lead = 555;
    let ev = detect(&render(ProgressTone::Ringback, lead, 13_000));
    // Rings at 0 and 6 s have ended by 13 s; the third (12–14 s) has not.
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_kind(&ev, ProgressKind::Ringback, lead, "ringback");
    assert_eq!(ev[0].0.freqs, (440.0, 480.0));
    assert!((ev[1].0.at_sample as i64 - (lead + ms(6000)) as i64).abs() <= 200);
    // Reported at the end of the 2 s ring.
    assert!(ev[0].1 >= lead + ms(2000) && ev[0].1 <= lead + ms(2100));
}

#[test]
fn busy_and_reorder_after_two_cycles() {
    for (tone, kind, cycle) in [
        (ProgressTone::Busy, ProgressKind::Busy, 1000),
        (ProgressTone::Reorder, ProgressKind::Reorder, 500),
    ] {
        let lead = 321;
        let ev = detect(&render(tone, lead, 6000));
        assert_eq!(ev.len(), 1, "{kind:?} reported once: {ev:?}");
        assert_kind(&ev, kind, lead, &format!("{kind:?}"));
        assert_eq!(ev[0].0.freqs, (480.0, 620.0));
        let after = ev[0].1 - lead;
        // Two cycles less the 25 % tolerance on the last off period.
        assert!(
            after >= ms(cycle * 2 - cycle / 8 - 40) && after <= ms(cycle * 2 + 40),
            "{kind:?}: {} ms",
            after / 8
        );
    }
}

#[test]
fn busy_mid_cadence_and_in_noise() {
    // Starting half-way through an on period still classifies.
    let mut x: Vec<f64> = render(ProgressTone::Busy, 0, 6000)[ms(250)..]
        .iter()
        .map(|&s| f64::from(s))
        .collect();
    let mut rng = Noise::new(3);
    rng.add(&mut x, -44.0);
    let ev = detect(&to_pcm(&x));
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].0.kind, ProgressKind::Busy);
    // First complete cycle starts at 750 ms of the trimmed signal.
    assert!(
        (ev[0].0.at_sample as i64 - ms(750) as i64).abs() <= 200,
        "{ev:?}"
    );
}

#[test]
fn reorder_after_dial_tone() {
    let mut pcm = render(ProgressTone::Dial, 0, 1000);
    pcm.extend(render(ProgressTone::Reorder, 0, 2000));
    let kinds: Vec<_> = detect(&pcm).iter().map(|(e, _)| e.kind).collect();
    assert_eq!(kinds, [ProgressKind::DialTone, ProgressKind::Reorder]);
}

#[test]
fn negatives() {
    // Speech-like signal.
    let x = speech_like(20_000, -15.0, 5);
    assert!(detect(&to_pcm(&x)).is_empty());
    // SAS bursts (440 Hz alone), every zone's call-waiting tone for `us`.
    let mut g = ToneGenerator::progress(ProgressTone::CallWaiting, "us");
    let mut v = vec![0i16; ms(25_000)];
    g.fill(&mut v);
    assert!(detect(&v).is_empty());
    // A continuous single 440 or 480 Hz tone, and 440 + 620.
    for comps in [
        vec![(440.0, -13.0)],
        vec![(480.0, -13.0)],
        vec![(440.0, -20.0), (620.0, -20.0)],
    ] {
        assert!(
            detect(&to_pcm(&tones(&comps, 3000))).is_empty(),
            "{comps:?}"
        );
    }
    // DTMF digits, 60/60 and long.
    let mut d = DtmfGenerator::new();
    d.push_digits("0123456789*#ABCD").unwrap();
    let mut v = vec![0i16; ms(3000)];
    d.fill(&mut v);
    assert!(detect(&v).is_empty());
    let long: Vec<f64> = tones(&[(941.0, -10.0), (1336.0, -10.0)], 2000);
    assert!(detect(&to_pcm(&long)).is_empty());
    // White noise and silence.
    let mut n = silence(5000);
    Noise::new(9).add(&mut n, -20.0);
    assert!(detect(&to_pcm(&n)).is_empty());
    assert!(detect(&vec![0; ms(5000)]).is_empty());
    // Wrong cadence on the busy pair: 1 s on / 1 s off is neither.
    let mut x = Vec::new();
    for _ in 0..4 {
        x.extend(tones(&[(480.0, -24.0), (620.0, -24.0)], 1000));
        x.extend(silence(1000));
    }
    assert!(detect(&to_pcm(&x)).is_empty());
}

#[test]
fn other_zones_fall_back_and_garbage_is_safe() {
    let ev_fr = {
        let mut det = ProgressDetector::for_zone("fr");
        let mut ev = Vec::new();
        det.process(&render(ProgressTone::Busy, 0, 3000), &mut |e| ev.push(e));
        ev
    };
    assert_eq!(ev_fr.len(), 1);
    let mut det = ProgressDetector::for_zone("nowhere");
    let mut rng = Noise::new(1);
    for len in [0, 1, 199, 200, 201, 5000] {
        det.process(&rng.garbage(len), &mut |_| {});
    }
    det.process(&[i16::MAX; 1000], &mut |_| {});
    det.process(&vec![0; 8000], &mut |_| {});
    assert!(det.quiet_ms() >= 900);
    assert_eq!(det.current_pair(), None);
}
