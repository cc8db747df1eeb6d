//! On-hook caller id through the real media worker: FSK between the rings
//! of an idle trunk becomes `HwEvent::CallerId`, and speech-level noise
//! on an idle trunk does not.

use pickupd::driver::RING_FRAMES;
use pickupd::engine::{HwEvent, LineId};
use pickupd::media::{MediaPort, MediaWorker};
use pickupd::runtime::{EngineHandle, Input};
use pickupd_dsp::callerid::{encode_mdmf, CallerId};
use pickupd_dsp::fsk::FskTransmitter;
use pickupd_dsp::{zones, Frame, FRAME_SAMPLES};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TRUNK: LineId = LineId(1);

/// Feeds `frames` to a trunk port of a running media worker, one per
/// wake-up, and returns the hardware events it reported.
fn run_trunk(frames: &[Frame]) -> Vec<HwEvent> {
    let (rx_prod, rx_cons) = rtrb::RingBuffer::new(RING_FRAMES);
    let (tx_prod, mut tx_cons) = rtrb::RingBuffer::new(RING_FRAMES);
    let port = MediaPort::new(TRUNK, false, false, rx_cons, tx_prod);
    let (engine_tx, mut engine_rx) = tokio::sync::mpsc::unbounded_channel();
    let (_media_tx, media_rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let zone = zones::zone("us").expect("us zone");
    let worker = MediaWorker::new(
        vec![port],
        zone,
        EngineHandle::new(engine_tx),
        media_rx,
        stop.clone(),
    )
    .spawn()
    .expect("media thread");
    let mut rx = rx_prod;
    for f in frames {
        while rx.push(*f).is_err() {
            std::thread::yield_now();
        }
        worker.thread().unpark();
        // One round per frame: wait for its transmit frame.
        let deadline = Instant::now() + Duration::from_secs(5);
        while tx_cons.pop().is_err() {
            assert!(Instant::now() < deadline, "the media worker stopped");
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    stop.store(true, Ordering::Relaxed);
    worker.thread().unpark();
    worker.join().expect("media thread ends");
    let mut events = Vec::new();
    while let Ok(input) = engine_rx.try_recv() {
        if let Input::Hw(ev) = input {
            events.push(ev);
        }
    }
    events
}

fn frames_of(samples: &[i16]) -> Vec<Frame> {
    samples
        .chunks(FRAME_SAMPLES)
        .map(|c| {
            let mut f = [0; FRAME_SAMPLES];
            f[..c.len()].copy_from_slice(c);
            f
        })
        .collect()
}

/// Silence, then an MDMF message at −13 dBm0 with 180 bits of mark, then
/// silence: the gap between the first and second ring.
fn caller_id_audio(id: &CallerId) -> Vec<Frame> {
    let mut tx = FskTransmitter::new(-13.0);
    tx.queue_message(&encode_mdmf(id), 150);
    let mut samples = vec![0i16; 4_000];
    let mut chunk = [0i16; FRAME_SAMPLES];
    while !tx.is_idle() {
        tx.fill(&mut chunk);
        samples.extend_from_slice(&chunk);
    }
    samples.extend(std::iter::repeat_n(0, 4_000));
    frames_of(&samples)
}

#[test]
fn fsk_on_an_idle_trunk_becomes_the_calls_caller_id() {
    let id = CallerId {
        number: Some("5550100".into()),
        name: Some("ADA LOVELACE".into()),
        ..Default::default()
    };
    let events = run_trunk(&caller_id_audio(&id));
    let ids: Vec<&HwEvent> = events
        .iter()
        .filter(|e| matches!(e, HwEvent::CallerId { .. }))
        .collect();
    assert_eq!(
        ids,
        vec![&HwEvent::CallerId {
            line: TRUNK,
            number: "5550100".into(),
            name: "ADA LOVELACE".into(),
        }]
    );
}

#[test]
fn noise_on_an_idle_trunk_is_not_caller_id() {
    // Pseudo-random noise well above the gate, for two seconds.
    let mut x: u32 = 0x1234_5678;
    let samples: Vec<i16> = (0..16_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            ((x >> 16) as i16) / 8
        })
        .collect();
    let events = run_trunk(&frames_of(&samples));
    assert!(
        !events.iter().any(|e| matches!(e, HwEvent::CallerId { .. })),
        "{events:?}"
    );
}
