//! CAS detector against the signals.md §3 accept/reject table (TIA-777 style:
//! each accept condition 100 times with random phases and offsets, 0 misses).

mod common;

use common::*;
use pickupd_dsp::cas::{generate_cas, CasDetector, CasEvent, CasGenerator};
use pickupd_dsp::FRAME_SAMPLES;

const LOW: f64 = 2130.0;
const HIGH: f64 = 2750.0;

/// One CAS: (2130·(1+dev_lo), level_lo) + (2750·(1+dev_hi), level_hi).
#[derive(Clone, Copy, Debug)]
struct Cas {
    level: [f64; 2],
    dev: [f64; 2],
    samples: usize,
}

impl Cas {
    fn new(level: f64, dur_ms: u32) -> Self {
        Self {
            level: [level, level],
            dev: [0.0; 2],
            samples: ms(dur_ms),
        }
    }
}

fn render(c: Cas, rng: &mut Noise) -> Vec<f64> {
    let ph = [rng.uniform(), rng.uniform()];
    (0..c.samples)
        .map(|n| {
            [LOW, HIGH]
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let f = f * (1.0 + c.dev[i]);
                    peak(c.level[i]) * (std::f64::consts::TAU * (f * n as f64 / FS + ph[i])).sin()
                })
                .sum()
        })
        .collect()
}

/// Events with the number of samples fed when each was reported.
fn detect(pcm: &[i16], chunk: usize) -> Vec<(CasEvent, usize)> {
    let mut det = CasDetector::new();
    let mut ev = Vec::new();
    let mut fed = 0;
    for frame in pcm.chunks(chunk) {
        let before = fed;
        fed += frame.len();
        // Split the frame to know which sample completed the decision.
        let mut sub_fed = before;
        for piece in frame.chunks(8) {
            sub_fed += piece.len();
            det.process(piece, &mut |e| ev.push((e, sub_fed)));
        }
    }
    ev
}

/// `trials` runs of `c` after a random lead-in; returns misses and checks
/// timing on every hit.
fn accept_trials(c: Cas, trials: usize, seed: u64, what: &str) -> usize {
    let mut rng = Noise::new(seed);
    let mut misses = 0;
    for t in 0..trials {
        let lead = ms(30) + (rng.uniform() * 160.0) as usize;
        let mut x = silence(0);
        x.resize(lead, 0.0);
        x.extend(render(c, &mut rng));
        x.extend(silence(60));
        let ev = detect(&to_pcm(&x), FRAME_SAMPLES);
        if ev.len() != 1 {
            misses += 1;
            eprintln!("{what} trial {t}: {ev:?}");
            continue;
        }
        let (e, fed) = ev[0];
        let end = lead + c.samples;
        assert!(
            (e.at_sample as i64 - lead as i64).abs() <= 16,
            "{what}: start {} vs {lead}",
            e.at_sample
        );
        assert!(
            (e.end_sample as i64 - end as i64).abs() <= 16,
            "{what}: end {} vs {end}",
            e.end_sample
        );
        let true_ms = c.samples as i64 / 8;
        assert!(
            (i64::from(e.duration_ms) - true_ms).abs() <= 4,
            "{what}: {e:?}"
        );
        assert!(
            fed >= end && fed - end <= ms(30),
            "{what}: latency {}",
            fed as i64 - end as i64
        );
        for i in 0..2 {
            assert!(
                (f64::from(e.level_dbm0[i]) - c.level[i]).abs() < 1.5,
                "{what}: {e:?}"
            );
        }
    }
    misses
}

fn reject_trials(c: Cas, trials: usize, seed: u64, what: &str) {
    let mut rng = Noise::new(seed);
    for _ in 0..trials {
        let lead = ms(30) + (rng.uniform() * 160.0) as usize;
        let mut x = vec![0.0; lead];
        x.extend(render(c, &mut rng));
        x.extend(silence(60));
        let ev = detect(&to_pcm(&x), FRAME_SAMPLES);
        assert!(ev.is_empty(), "{what}: {ev:?}");
    }
}

#[test]
fn accept_levels() {
    for (i, l) in [-9.78, -14.0, -20.0, -32.0].into_iter().enumerate() {
        let m = accept_trials(Cas::new(l, 80), 100, 10 + i as u64, &format!("{l} dBm0"));
        assert_eq!(m, 0, "{l} dBm0");
    }
}

#[test]
fn accept_frequency_tolerance() {
    for (i, dev) in [
        [0.005, 0.005],
        [-0.005, -0.005],
        [0.005, -0.005],
        [-0.005, 0.005],
        [0.011, 0.011],
        [-0.011, -0.011],
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = Cas::new(-20.0, 80);
        c.dev = dev;
        let m = accept_trials(c, 100, 20 + i as u64, &format!("dev {dev:?}"));
        assert_eq!(m, 0, "{dev:?}");
    }
}

#[test]
fn accept_twist_and_durations() {
    let cases: [([f64; 2], u32); 6] = [
        ([-14.0, -20.0], 80),
        ([-20.0, -14.0], 80),
        ([-26.0, -32.0], 80),
        ([-32.0, -26.0], 80),
        ([-20.0, -20.0], 75),
        ([-20.0, -20.0], 85),
    ];
    for (i, (level, dur)) in cases.into_iter().enumerate() {
        let mut c = Cas::new(0.0, dur);
        c.level = level;
        let m = accept_trials(c, 100, 30 + i as u64, &format!("{level:?} {dur} ms"));
        assert_eq!(m, 0, "{level:?} {dur} ms");
    }
}

#[test]
fn accept_combined_near_limits() {
    // Several parameters at 90 % of their limits at once (TIA-777 style).
    let c = Cas {
        level: [-30.0, -24.6],
        dev: [0.0045, -0.0045],
        samples: ms(76),
    };
    assert_eq!(accept_trials(c, 100, 40, "combined low"), 0);
    let c = Cas {
        level: [-14.0, -19.4],
        dev: [-0.0045, 0.0045],
        samples: ms(84),
    };
    assert_eq!(accept_trials(c, 100, 41, "combined high"), 0);
}

#[test]
fn reject_out_of_range() {
    reject_trials(Cas::new(-45.0, 80), 100, 50, "-45 dBm0");
    for (i, dev) in [
        [0.035, 0.035],
        [-0.035, -0.035],
        [0.035, 0.0],
        [0.0, -0.035],
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = Cas::new(-20.0, 80);
        c.dev = dev;
        reject_trials(c, 30, 51 + i as u64, &format!("dev {dev:?}"));
    }
    for (i, level) in [[-12.0, -20.5], [-20.5, -12.0], [-14.0, -24.0]]
        .into_iter()
        .enumerate()
    {
        let mut c = Cas::new(0.0, 80);
        c.level = level;
        reject_trials(c, 30, 60 + i as u64, &format!("twist {level:?}"));
    }
    reject_trials(Cas::new(-20.0, 40), 30, 70, "40 ms");
    reject_trials(Cas::new(-20.0, 55), 30, 71, "55 ms");
    reject_trials(Cas::new(-20.0, 150), 30, 72, "150 ms");
    reject_trials(Cas::new(-14.0, 1000), 5, 73, "1 s");
    let mut single = Cas::new(-20.0, 80);
    single.level = [-20.0, -90.0];
    reject_trials(single, 30, 74, "2130 alone");
    single.level = [-90.0, -20.0];
    reject_trials(single, 30, 75, "2750 alone");
}

#[test]
fn cas_right_after_sas_without_gap() {
    for i in 0..20u64 {
        let mut rng = Noise::new(80 + i);
        let mut x = silence(200);
        x.extend(tones(&[(440.0, -13.0)], 300));
        let at = x.len();
        x.extend(render(Cas::new(-20.0, 80), &mut rng));
        x.extend(silence(100));
        let ev = detect(&to_pcm(&x), FRAME_SAMPLES);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert!((ev[0].0.at_sample as i64 - at as i64).abs() <= 16, "{ev:?}");
    }
}

#[test]
fn latency_from_cas_end() {
    let mut worst = 0;
    for i in 0..100u64 {
        let mut rng = Noise::new(90 + i);
        let lead = ms(50) + (rng.uniform() * 160.0) as usize;
        let mut x = vec![0.0; lead];
        x.extend(render(Cas::new(-20.0, 80), &mut rng));
        x.extend(silence(100));
        let ev = detect(&to_pcm(&x), 8);
        assert_eq!(ev.len(), 1);
        let end = lead + ms(80);
        assert!(ev[0].1 >= end);
        worst = worst.max(ev[0].1 - end);
    }
    eprintln!("worst latency {} ms", worst as f64 / 8.0);
    assert!(worst <= ms(30), "{worst}");
    // In practice well under: three 4 ms hops after the last full window.
    assert!(worst <= ms(16), "{worst}");
}

#[test]
fn talk_down_with_near_end_speech() {
    // CAS at −20 and −26 dBm0 per tone over a speech-like signal at −26 dBm0
    // RMS (near end through the hybrid, far end muted).
    let mut misses = 0;
    for i in 0..60u64 {
        let mut rng = Noise::new(100 + i);
        let mut x = speech_like(1200, -26.0, 200 + i);
        let at = ms(400) + (rng.uniform() * 1600.0) as usize;
        let level = if i % 2 == 0 { -20.0 } else { -26.0 };
        mix_at(&mut x, &render(Cas::new(level, 80), &mut rng), at);
        let ev = detect(&to_pcm(&x), FRAME_SAMPLES);
        if ev.len() != 1 || (ev[0].0.at_sample as i64 - at as i64).abs() > 40 {
            misses += 1;
            eprintln!("trial {i}: {ev:?}");
        }
    }
    assert_eq!(misses, 0);
}

#[test]
fn talk_off_speech_and_noise() {
    let mut x = speech_like(60_000, -18.0, 7);
    let mut rng = Noise::new(8);
    rng.add(&mut x, -45.0);
    assert!(detect(&to_pcm(&x), FRAME_SAMPLES).is_empty());
    let mut n = silence(5000);
    rng.add(&mut n, -15.0);
    assert!(detect(&to_pcm(&n), FRAME_SAMPLES).is_empty());
}

#[test]
fn holdoff_and_repeat() {
    let mut x = silence(100);
    for _ in 0..3 {
        generate_cas(80, -20.0, &mut Vec::new());
        let mut v = Vec::new();
        generate_cas(80, -20.0, &mut v);
        x.extend(v.iter().map(|&s| f64::from(s)));
        x.extend(silence(500));
    }
    // Three CAS 580 ms apart: one report (2 s hold-off).
    assert_eq!(detect(&to_pcm(&x), FRAME_SAMPLES).len(), 1);
    x.extend(silence(2500));
    let mut v = Vec::new();
    generate_cas(80, -20.0, &mut v);
    x.extend(v.iter().map(|&s| f64::from(s)));
    x.extend(silence(100));
    assert_eq!(detect(&to_pcm(&x), FRAME_SAMPLES).len(), 2);
}

#[test]
fn generator_frames_and_garbage() {
    let mut g = CasGenerator::new(85, -21.0);
    let mut pcm = vec![0i16; 800];
    let mut frame = [0i16; FRAME_SAMPLES];
    while !g.finished() {
        g.fill(&mut frame);
        pcm.extend_from_slice(&frame);
    }
    pcm.extend(std::iter::repeat_n(0, 800));
    let ev = detect(&pcm, FRAME_SAMPLES);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].0.at_sample, 800);
    assert!((i64::from(ev[0].0.duration_ms) - 85).abs() <= 2, "{ev:?}");
    assert!((ev[0].0.level_dbm0[0] + 21.0).abs() < 0.7, "{ev:?}");
    assert!(ev[0].0.twist_db.abs() < 0.7, "{ev:?}");

    let mut rng = Noise::new(3);
    let mut det = CasDetector::new();
    for len in [0, 1, 7, 31, 32, 33, 160, 1000] {
        det.process(&rng.garbage(len), &mut |_| {});
    }
    det.process(&[i16::MAX; 500], &mut |_| {});
    det.process(&[i16::MIN; 500], &mut |_| {});
    let mut ev = 0;
    det.process(&vec![0; 8000], &mut |_| ev += 1);
    assert_eq!(ev, 0);
}
