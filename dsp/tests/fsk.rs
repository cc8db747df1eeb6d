//! Bell 202 modulator/demodulator round trips.

mod common;

use common::*;
use pickupd_dsp::fsk::{FskReceiver, FskTransmitter};
use pickupd_dsp::g711::{ulaw_decode, ulaw_encode};
use pickupd_dsp::FRAME_SAMPLES;

/// Independent Bell 202 modulator: `freq_scale` shifts both tones,
/// `baud_scale` the bit rate; starts with `mark_ms` of mark at a random phase.
fn modulate(
    bytes: &[u8],
    level: f64,
    freq_scale: f64,
    baud_scale: f64,
    mark_ms: u32,
    rng: &mut Noise,
) -> Vec<f64> {
    let mut bits: Vec<bool> = vec![true; (mark_ms as usize * 1200).div_ceil(1000)];
    for &b in bytes {
        bits.push(false);
        bits.extend((0..8).map(|i| (b >> i) & 1 == 1));
        bits.push(true);
    }
    bits.extend([true; 2]);
    let spb = FS / (1200.0 * baud_scale);
    let n = (bits.len() as f64 * spb).ceil() as usize;
    let mut phase = rng.uniform();
    (0..n)
        .map(|i| {
            let bit = bits[((i as f64 / spb) as usize).min(bits.len() - 1)];
            let f = if bit { 1200.0 } else { 2200.0 } * freq_scale;
            let v = peak(level) * (std::f64::consts::TAU * phase).sin();
            phase = (phase + f / FS).fract();
            v
        })
        .collect()
}

fn receive(pcm: &[i16]) -> Vec<u8> {
    let mut rx = FskReceiver::new();
    let mut out = Vec::new();
    for frame in pcm.chunks(FRAME_SAMPLES) {
        rx.process(frame, &mut |b| out.push(b));
    }
    out
}

/// The data must arrive intact and first; noise after the message may
/// rarely add one stray byte (see `fsk::CHAR_CLEAN`). Returns whether it did.
fn check(got: &[u8], data: &[u8], what: &str) -> bool {
    assert!(got.starts_with(data), "{what}: {got:?} vs {data:?}");
    assert!(got.len() <= data.len() + 1, "{what}: {got:?}");
    got.len() > data.len()
}

fn ulaw(pcm: &[i16]) -> Vec<i16> {
    pcm.iter().map(|&s| ulaw_decode(ulaw_encode(s))).collect()
}

fn payload(rng: &mut Noise, n: usize) -> Vec<u8> {
    (0..n).map(|_| (rng.uniform() * 256.0) as u8).collect()
}

/// Lead-in, signal, tail; optional noise at `snr_db` below the signal.
fn channel(x: Vec<f64>, level: f64, snr_db: Option<f64>, rng: &mut Noise) -> Vec<i16> {
    let mut v = vec![0.0; (rng.uniform() * 400.0) as usize + 80];
    v.extend(x);
    v.extend(silence(30));
    if let Some(snr) = snr_db {
        rng.add(&mut v, level - snr);
    }
    to_pcm(&v)
}

#[test]
fn levels_minus_10_to_minus_35() {
    let mut rng = Noise::new(1);
    for level in [-10.0, -13.5, -20.0, -28.0, -35.0] {
        for _ in 0..10 {
            let data = payload(&mut rng, 40);
            let x = modulate(&data, level, 1.0, 1.0, 70, &mut rng);
            let got = receive(&channel(x, level, None, &mut rng));
            assert_eq!(got, data, "{level} dBm0");
        }
    }
}

#[test]
fn white_noise_at_20_db_snr() {
    let mut rng = Noise::new(2);
    let mut stray = 0;
    for level in [-13.5, -25.0, -35.0] {
        for _ in 0..30 {
            let data = payload(&mut rng, 40);
            let x = modulate(&data, level, 1.0, 1.0, 70, &mut rng);
            let got = receive(&channel(x, level, Some(20.0), &mut rng));
            stray += usize::from(check(&got, &data, &format!("{level} dBm0")));
        }
    }
    assert!(stray <= 3, "{stray} stray bytes in 90 messages");
}

#[test]
fn frequency_and_bit_rate_offsets() {
    let mut rng = Noise::new(3);
    for (fs, bs) in [
        (1.01, 1.0),
        (0.99, 1.0),
        (1.0, 1.01),
        (1.0, 0.99),
        (1.01, 1.01),
        (0.99, 0.99),
    ] {
        for _ in 0..10 {
            let data = payload(&mut rng, 60);
            let x = modulate(&data, -20.0, fs, bs, 70, &mut rng);
            let got = receive(&channel(x, -20.0, Some(20.0), &mut rng));
            check(&got, &data, &format!("freq ×{fs} baud ×{bs}"));
        }
    }
}

#[test]
fn ulaw_round_trip_with_noise() {
    let mut rng = Noise::new(4);
    for level in [-10.0, -20.0, -35.0] {
        for _ in 0..10 {
            let data = payload(&mut rng, 40);
            let x = modulate(&data, level, 1.0, 1.0, 60, &mut rng);
            let got = receive(&ulaw(&channel(x, level, Some(20.0), &mut rng)));
            check(&got, &data, &format!("{level} dBm0 via µ-law"));
        }
    }
}

#[test]
fn transmitter_to_receiver() {
    let mut rng = Noise::new(5);
    for level in [-10.0f32, -13.5, -35.0] {
        let data = payload(&mut rng, 100);
        let mut tx = FskTransmitter::new(level);
        assert!(tx.is_idle());
        tx.queue_message(&data, 58);
        assert!(!tx.is_idle());
        let mut pcm = vec![0i16; 123];
        let mut frame = [0i16; FRAME_SAMPLES];
        while !tx.is_idle() {
            tx.fill(&mut frame);
            pcm.extend_from_slice(&frame);
        }
        // Length: 58 ms mark (70 bits) + 100 × 10 bits + 2, at 1200 bit/s.
        let bits = 70 + 1000 + 2;
        let expect = 123 + bits * 20 / 3;
        assert!(pcm.len() >= expect && pcm.len() < expect + FRAME_SAMPLES);
        let peak = pcm.iter().map(|&s| i32::from(s).abs()).max().unwrap_or(0) as f64;
        assert!((20.0 * (peak / 22_800.0).log10() - f64::from(level)).abs() < 0.2);
        pcm.extend(std::iter::repeat_n(0, 400));
        assert_eq!(receive(&pcm), data, "{level}");
        assert_eq!(receive(&ulaw(&pcm)), data, "{level} µ-law");
    }
}

#[test]
fn transmitter_queues_back_to_back() {
    let mut tx = FskTransmitter::new(-13.5);
    tx.queue_message(b"first", 60);
    tx.queue_message(b"second", 60);
    let mut pcm = Vec::new();
    let mut frame = [0i16; 100];
    while !tx.is_idle() {
        tx.fill(&mut frame);
        pcm.extend_from_slice(&frame);
    }
    tx.fill(&mut frame);
    assert!(frame.iter().all(|&s| s == 0), "idle is silence");
    assert_eq!(receive(&pcm), b"firstsecond");
}

#[test]
fn carrier_detect() {
    let mut rng = Noise::new(6);
    let mut rx = FskReceiver::new();
    assert!(!rx.carrier_present());
    let x = to_pcm(&modulate(b"hello", -30.0, 1.0, 1.0, 70, &mut rng));
    let mut seen = false;
    rx.process(&x[..400], &mut |_| {});
    seen |= rx.carrier_present();
    rx.process(&x[400..], &mut |_| {});
    assert!(seen);
    rx.process(&[0; 160], &mut |_| {});
    assert!(!rx.carrier_present(), "drops within 20 ms of silence");
    let mut quiet = silence(500);
    rng.add(&mut quiet, -55.0);
    rx.process(&to_pcm(&quiet), &mut |_| {});
    assert!(!rx.carrier_present());
}

#[test]
fn noise_speech_and_garbage_are_safe() {
    let mut rng = Noise::new(7);
    let mut rx = FskReceiver::new();
    let mut n = 0;
    let mut quiet = silence(2000);
    rng.add(&mut quiet, -50.0);
    rx.process(&to_pcm(&quiet), &mut |_| n += 1);
    assert_eq!(n, 0, "no bytes from line noise below the carrier threshold");
    for len in [0, 1, 5, 160, 1000] {
        rx.process(&rng.garbage(len), &mut |_| {});
    }
    rx.process(&[i16::MAX; 300], &mut |_| {});
    rx.reset();
    assert!(!rx.carrier_present());
    // After reset a message is still received.
    let data = payload(&mut rng, 20);
    let x = modulate(&data, -13.5, 1.0, 1.0, 60, &mut rng);
    let mut got = Vec::new();
    rx.process(&to_pcm(&x), &mut |b| got.push(b));
    assert_eq!(got, data);
}
