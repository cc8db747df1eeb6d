//! Per-frame cost of the detectors (one 160-sample frame per iteration).

use divan::{black_box, Bencher};
use pickupd_dsp::cas::{CasDetector, CasGenerator};
use pickupd_dsp::dtmf::DtmfDetector;
use pickupd_dsp::fsk::{FskReceiver, FskTransmitter};
use pickupd_dsp::progress::ProgressDetector;
use pickupd_dsp::sas::CallWaitingToneDetector;
use pickupd_dsp::tones::{ProgressTone, ToneGenerator};
use pickupd_dsp::{zones, Frame, FRAME_SAMPLES};

fn main() {
    divan::main();
}

fn speech_like() -> Vec<Frame> {
    let mut g = ToneGenerator::progress(ProgressTone::Ringback, "us");
    (0..500)
        .map(|_| {
            let mut f = [0i16; FRAME_SAMPLES];
            g.fill(&mut f);
            f
        })
        .collect()
}

#[divan::bench]
fn sas_us_frame(b: Bencher) {
    let frames = speech_like();
    let mut det = CallWaitingToneDetector::for_zone(zones::zone("us").expect("us"));
    let mut i = 0;
    b.bench_local(|| {
        i = (i + 1) % frames.len();
        det.process(black_box(&frames[i]), &mut |e| {
            black_box(e);
        });
    });
}

#[divan::bench]
fn dtmf_frame(b: Bencher) {
    let frames = speech_like();
    let mut det = DtmfDetector::new();
    let mut i = 0;
    b.bench_local(|| {
        i = (i + 1) % frames.len();
        det.process(black_box(&frames[i]), &mut |e| {
            black_box(e);
        });
    });
}

#[divan::bench]
fn g711_ulaw_decode_frame(b: Bencher) {
    let bytes = [0x55u8; FRAME_SAMPLES];
    let mut out = [0i16; FRAME_SAMPLES];
    b.bench_local(|| pickupd_dsp::g711::ulaw_decode_slice(black_box(&bytes), &mut out));
}

/// Ringback with a CAS every 25 frames, so the burst logic runs too.
fn with_cas() -> Vec<Frame> {
    let mut frames = speech_like();
    for (i, f) in frames.iter_mut().enumerate() {
        if i % 25 == 0 {
            let mut g = CasGenerator::new(80, -20.0);
            g.fill(&mut f[..]);
        }
    }
    frames
}

#[divan::bench]
fn cas_frame(b: Bencher) {
    let frames = with_cas();
    let mut det = CasDetector::new();
    let mut i = 0;
    b.bench_local(|| {
        i = (i + 1) % frames.len();
        det.process(black_box(&frames[i]), &mut |e| {
            black_box(e);
        });
    });
}

#[divan::bench]
fn fsk_rx_frame(b: Bencher) {
    // A continuous stream of caller-ID-like messages.
    let mut tx = FskTransmitter::new(-13.5);
    let msg: Vec<u8> = (0..=255).collect();
    let frames: Vec<Frame> = (0..500)
        .map(|_| {
            if tx.is_idle() {
                tx.queue_message(&msg, 60);
            }
            let mut f = [0i16; FRAME_SAMPLES];
            tx.fill(&mut f);
            f
        })
        .collect();
    let mut rx = FskReceiver::new();
    let mut i = 0;
    b.bench_local(|| {
        i = (i + 1) % frames.len();
        rx.process(black_box(&frames[i]), &mut |byte| {
            black_box(byte);
        });
    });
}

#[divan::bench]
fn progress_us_frame(b: Bencher) {
    let frames = speech_like();
    let mut det = ProgressDetector::for_zone("us");
    let mut i = 0;
    b.bench_local(|| {
        i = (i + 1) % frames.len();
        det.process(black_box(&frames[i]), &mut |e| {
            black_box(e);
        });
    });
}
