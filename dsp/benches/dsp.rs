//! Per-frame cost of the detectors (one 160-sample frame per iteration).

use divan::{black_box, Bencher};
use pickupd_dsp::dtmf::DtmfDetector;
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
