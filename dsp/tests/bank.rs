//! Detector bank against the scalar detectors on the same inputs: every
//! channel carries a different signal (scenario, timing, level, seed), so a
//! mix-up between lanes would show as events on the wrong channel.

mod common;

use common::*;
use pickupd_dsp::bank::{BankEvent, DetectorBank};
use pickupd_dsp::cas::CasDetector;
use pickupd_dsp::dtmf::{digit_freqs, DtmfDetector, DtmfEvent};
use pickupd_dsp::sas::CallWaitingToneDetector;
use pickupd_dsp::{zones, Frame, FRAME_SAMPLES};

const DUR_MS: u32 = 9000;
/// Report tick may differ by this many ticks, positions by this many samples.
const TICK_TOL: usize = 1;
const SAMPLE_TOL: u64 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Sas,
    Cas,
    Dtmf(char),
}

/// (kind, sample, tick reported).
type Ev = (Kind, u64, usize);

/// Signal of `channel` and whether the scalar detectors must find something.
fn scenario(channel: usize) -> (Vec<i16>, bool) {
    let mut rng = Noise::new(0x5eed ^ (channel as u64 * 7919));
    let jitter = (rng.uniform() * 400.0) as u32; // ms
    let lead = 300 + jitter;
    let mut x = silence(DUR_MS);
    let positive;
    match channel % 11 {
        // SAS (us) single 300 ms burst, later a second one after the hold-off.
        0 => {
            let level = -13.0 - 12.0 * rng.uniform();
            mix_at(&mut x, &tones(&[(440.0, level)], 300), ms(lead));
            mix_at(&mut x, &tones(&[(440.0, level)], 300), ms(lead + 5000));
            positive = true;
        }
        // CWT2 and CWT4 distinctive patterns.
        1 => {
            let mut p = silence(0);
            for (on, off) in [(100, 100), (100, 0)] {
                p.extend(tones(&[(440.0, -13.0)], on));
                p.extend(silence(off));
            }
            mix_at(&mut x, &p, ms(lead));
            let mut q = silence(0);
            for (on, off) in [(100, 100), (300, 100), (100, 0)] {
                q.extend(tones(&[(440.0, -16.0)], on));
                q.extend(silence(off));
            }
            mix_at(&mut x, &q, ms(lead + 4000));
            positive = true;
        }
        // SAS followed at once by CAS (CIDCW).
        2 | 8 => {
            let cas_level = -20.0 - 10.0 * rng.uniform();
            let mut p = tones(&[(440.0, -13.0)], 300);
            p.extend(tones(&[(2130.0, cas_level), (2750.0, cas_level)], 80));
            mix_at(&mut x, &p, ms(lead));
            positive = true;
        }
        // DTMF digits, 60 ms on / 60 ms off, different per channel.
        3 | 9 => {
            let digits: Vec<char> = "0123456789*#ABCD".chars().collect();
            let mut at = lead;
            for i in 0..4 {
                let d = digits[(channel + 3 * i) % digits.len()];
                let (r, c) = digit_freqs(d).expect("digit");
                let level = -10.0 - 15.0 * rng.uniform();
                let on = 50 + (rng.uniform() * 40.0) as u32;
                mix_at(
                    &mut x,
                    &tones(&[(f64::from(r), level), (f64::from(c), level - 2.0)], on),
                    ms(at),
                );
                at += on + 60 + (rng.uniform() * 200.0) as u32;
            }
            positive = true;
        }
        // Dial tone (350 + 440 Hz, contains 440) for the whole time.
        4 => {
            x = tones(&[(350.0, -13.0), (440.0, -13.0)], DUR_MS);
            positive = false;
        }
        // White noise.
        5 => {
            Noise::new(channel as u64).add(&mut x, -25.0 + 10.0 * rng.uniform());
            positive = false;
        }
        // Speech-like near-end signal (the scalar DTMF receiver has some
        // talk-off on it; the bank must report the same) ...
        6 => {
            x = speech_like(DUR_MS, -20.0, channel as u64 + 1);
            positive = false;
        }
        // ... and with SAS + CAS on top (talk-down; whatever the scalar
        // detectors decide, the bank must decide the same).
        7 => {
            x = speech_like(DUR_MS, -24.0, channel as u64 + 100);
            let mut p = tones(&[(440.0, -13.0)], 300);
            p.extend(tones(&[(2130.0, -20.0), (2750.0, -20.0)], 85));
            mix_at(&mut x, &p, ms(lead + 1000));
            positive = false;
        }
        // CAS alone at the accept floor, in light noise.
        10 => {
            mix_at(
                &mut x,
                &tones(&[(2130.0 * 1.005, -31.0), (2750.0 * 0.995, -31.0)], 75),
                ms(lead),
            );
            Noise::new(channel as u64 + 7).add(&mut x, -55.0);
            positive = true;
        }
        _ => unreachable!(),
    }
    x.truncate(ms(DUR_MS));
    (to_pcm(&x), positive)
}

fn frames_of(pcm: &[i16]) -> Vec<Frame> {
    pcm.chunks(FRAME_SAMPLES)
        .map(|c| {
            let mut f = [0i16; FRAME_SAMPLES];
            f[..c.len()].copy_from_slice(c);
            f
        })
        .collect()
}

fn scalar_events(zone: &zones::Zone, frames: &[Frame]) -> Vec<Ev> {
    let mut sas = CallWaitingToneDetector::for_zone(zone);
    let mut cas = CasDetector::new();
    let mut dtmf = DtmfDetector::new();
    let mut ev = Vec::new();
    for (t, f) in frames.iter().enumerate() {
        sas.process(f, &mut |e| ev.push((Kind::Sas, e.at_sample, t)));
        cas.process(f, &mut |e| ev.push((Kind::Cas, e.end_sample, t)));
        dtmf.process(f, &mut |e| {
            if let DtmfEvent::Begin { digit, at_sample } = e {
                ev.push((Kind::Dtmf(digit), at_sample, t));
            }
        });
    }
    ev.sort();
    ev
}

fn bank_events(zone: &zones::Zone, chans: &[Vec<Frame>]) -> Vec<Vec<Ev>> {
    let n = chans.len();
    let mut bank = DetectorBank::new(zone, n);
    let mut ev = vec![Vec::new(); n];
    let ticks = chans.iter().map(Vec::len).max().unwrap_or(0);
    let mut tick_frames = vec![[0i16; FRAME_SAMPLES]; n];
    for t in 0..ticks {
        for (o, ch) in tick_frames.iter_mut().zip(chans) {
            *o = ch.get(t).copied().unwrap_or([0; FRAME_SAMPLES]);
        }
        bank.process_tick(&tick_frames, &mut |c, e| {
            let (k, s) = match e {
                BankEvent::CallWaitingTone { at_sample } => (Kind::Sas, at_sample),
                BankEvent::Cas { end_sample } => (Kind::Cas, end_sample),
                BankEvent::Dtmf { digit, at_sample } => (Kind::Dtmf(digit), at_sample),
            };
            ev[c].push((k, s, t));
        });
    }
    ev.iter_mut().for_each(|v| v.sort());
    ev
}

fn same(a: &[Ev], b: &[Ev]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.0 == y.0 && x.1.abs_diff(y.1) <= SAMPLE_TOL && x.2.abs_diff(y.2) <= TICK_TOL
        })
}

fn check(channels: usize, zone_code: &str) {
    let zone = zones::zone(zone_code).expect("zone");
    let mut chans = Vec::new();
    let mut positive = Vec::new();
    for c in 0..channels {
        let (pcm, pos) = scenario(c);
        chans.push(frames_of(&pcm));
        positive.push(pos);
    }
    let bank = bank_events(zone, &chans);
    let mut total = 0;
    for (c, frames) in chans.iter().enumerate() {
        let scalar = scalar_events(zone, frames);
        assert!(
            same(&scalar, &bank[c]),
            "{channels} channels, channel {c} (scenario {}):\nscalar {scalar:?}\nbank   {:?}",
            c % 11,
            bank[c]
        );
        if positive[c] {
            assert!(!scalar.is_empty(), "channel {c}: scenario found nothing");
        }
        if matches!(c % 11, 4 | 5) {
            assert!(
                scalar.is_empty(),
                "channel {c}: negative scenario {scalar:?}"
            );
        }
        total += scalar.len();
    }
    eprintln!("{channels} channels ({zone_code}): {total} events, same as scalar");
}

#[test]
fn one_channel() {
    check(1, "us");
}

#[test]
fn seven_channels() {
    check(7, "us");
}

#[test]
fn sixty_four_channels() {
    check(64, "us");
}

#[test]
fn hundred_channels() {
    check(100, "us");
}

/// Every channel gets the same signal shifted by one tick per channel: each
/// lane's events must move with it.
#[test]
fn shifted_copies_stay_in_their_lane() {
    let zone = zones::zone("us").expect("us");
    let (base, _) = scenario(2);
    let n = 20;
    let chans: Vec<Vec<Frame>> = (0..n)
        .map(|c| {
            let mut pcm = vec![0i16; c * FRAME_SAMPLES];
            pcm.extend_from_slice(&base);
            frames_of(&pcm)
        })
        .collect();
    let bank = bank_events(zone, &chans);
    let reference = scalar_events(zone, &chans[0]);
    assert!(reference.len() >= 2, "{reference:?}");
    for (c, ev) in bank.iter().enumerate() {
        let shifted: Vec<Ev> = reference
            .iter()
            .map(|&(k, s, t)| (k, s + (c * FRAME_SAMPLES) as u64, t + c))
            .collect();
        assert!(same(&shifted, ev), "channel {c}: {ev:?} vs {shifted:?}");
    }
}

/// Another zone (dual-tone bands, modulated bands) takes the same path.
#[test]
fn other_zones_match_scalar() {
    for code in ["uk", "sg", "tw", "de"] {
        let Some(zone) = zones::zone(code) else {
            continue;
        };
        let mut gen = pickupd_dsp::tones::ToneGenerator::sas(zone);
        let mut chans = Vec::new();
        for c in 0..5 {
            let mut pcm = vec![0i16; ms(300 + 37 * c as u32)];
            let mut tone = vec![0i16; ms(6000)];
            gen.fill(&mut tone);
            pcm.extend_from_slice(&tone);
            chans.push(frames_of(&pcm));
        }
        let bank = bank_events(zone, &chans);
        for (c, frames) in chans.iter().enumerate() {
            let scalar = scalar_events(zone, frames);
            assert!(
                same(&scalar, &bank[c]),
                "{code} ch {c}: {scalar:?} vs {:?}",
                bank[c]
            );
        }
    }
}

/// Signals just above the scalar detectors' floors, each alone in a chunk of
/// otherwise silent channels: the screen's energy gates (which skip a
/// chunk's Goertzel bins when no lane could reach a bin floor) must not drop
/// them. A 40 ms DTMF digit with −4 dB reverse / +6 dB normal twist near the
/// −42 dBm0 floor, CAS at −32 dBm0 with ±6 dB twist, SAS at −37 dBm0 at
/// the band edges (the scalar floor is −40).
#[test]
fn weak_signals_pass_the_energy_gates() {
    let zone = zones::zone("us").expect("us");
    let lanes = pickupd_dsp::bank::LANES;
    let mut signals: Vec<(Vec<f64>, &str)> = Vec::new();
    for (r, c, on) in [(-40.5, -36.5, 40), (-35.0, -39.5, 40), (-40.0, -40.0, 42)] {
        let mut x = silence(1500);
        mix_at(
            &mut x,
            &tones(&[(941.0 * 1.015, r), (1477.0 * 0.985, c)], on),
            ms(413),
        );
        signals.push((x, "dtmf"));
    }
    for (lo, hi) in [(-29.0, -35.0), (-35.0, -29.0), (-33.0, -33.0)] {
        let mut x = silence(1500);
        mix_at(
            &mut x,
            &tones(&[(2130.0 * 1.005, lo), (2750.0 * 0.995, hi)], 80),
            ms(377),
        );
        signals.push((x, "cas"));
    }
    for f in [440.0 * 0.985, 440.0 * 1.015, 440.0] {
        let mut x = silence(1500);
        mix_at(&mut x, &tones(&[(f, -37.0)], 300), ms(451));
        signals.push((x, "sas"));
    }
    // One signal per chunk, in a different lane each time.
    let n = signals.len() * lanes;
    let mut chans = vec![frames_of(&to_pcm(&silence(1500))); n];
    let mut used = Vec::new();
    for (i, (x, what)) in signals.iter().enumerate() {
        let c = i * lanes + (i * 5) % lanes;
        chans[c] = frames_of(&to_pcm(x));
        used.push((c, *what));
    }
    let bank = bank_events(zone, &chans);
    for (c, what) in used {
        let scalar = scalar_events(zone, &chans[c]);
        assert!(
            !scalar.is_empty(),
            "{what} on channel {c}: scalar found nothing"
        );
        assert!(
            same(&scalar, &bank[c]),
            "{what} on channel {c}: scalar {scalar:?} bank {:?}",
            bank[c]
        );
    }
    for (c, ev) in bank.iter().enumerate() {
        if !signals
            .iter()
            .enumerate()
            .any(|(i, _)| i * lanes + (i * 5) % lanes == c)
        {
            assert!(ev.is_empty(), "silent channel {c}: {ev:?}");
        }
    }
}

/// Stage 2 visits only candidate lanes and lanes with a running detector:
/// detectors started in lanes of different chunks (and the last, partial
/// chunk) keep being fed after the screen goes quiet, report what the scalar
/// detectors report, and all stop once the signals are over.
#[test]
fn detectors_run_on_after_the_screen_and_stop() {
    let zone = zones::zone("us").expect("us");
    let n = 2 * pickupd_dsp::bank::LANES + 3;
    let quiet = frames_of(&to_pcm(&silence(4000)));
    let mut chans = vec![quiet; n];
    for (k, c) in [0, 15, 16, 33, n - 1].into_iter().enumerate() {
        let (pcm, _) = scenario([0, 2, 3, 8, 9][k]);
        let mut f = frames_of(&pcm[..ms(3000)]);
        f.extend(frames_of(&to_pcm(&silence(1000))));
        chans[c] = f;
    }
    let mut bank = DetectorBank::new(zone, n);
    let mut ev = vec![Vec::new(); n];
    let ticks = chans[0].len();
    let mut frames = vec![[0i16; FRAME_SAMPLES]; n];
    let mut peak = 0;
    for t in 0..ticks {
        for (o, ch) in frames.iter_mut().zip(&chans) {
            *o = ch.get(t).copied().unwrap_or([0; FRAME_SAMPLES]);
        }
        bank.process_tick(&frames, &mut |c, e| ev[c].push((e, t)));
        let (s, c, d) = bank.active_counts();
        peak = peak.max(s + c + d);
    }
    assert!(peak >= 3, "detectors active at most {peak}");
    assert_eq!(
        bank.active_counts(),
        (0, 0, 0),
        "still running after 1 s of silence"
    );
    for (c, frames) in chans.iter().enumerate() {
        let scalar = scalar_events(zone, frames);
        let got: Vec<Ev> = {
            let mut v: Vec<Ev> = ev[c]
                .iter()
                .map(|&(e, t)| match e {
                    BankEvent::CallWaitingTone { at_sample } => (Kind::Sas, at_sample, t),
                    BankEvent::Cas { end_sample } => (Kind::Cas, end_sample, t),
                    BankEvent::Dtmf { digit, at_sample } => (Kind::Dtmf(digit), at_sample, t),
                })
                .collect();
            v.sort();
            v
        };
        assert!(
            same(&scalar, &got),
            "channel {c}: scalar {scalar:?} bank {got:?}"
        );
    }
}
