//! The world through its public surface: requests, controls, ticks, and the
//! PCM it plays, checked with the daemon's own detectors.

use pickupd_dsp::dtmf::{DtmfDetector, DtmfEvent};
use pickupd_dsp::sas::{CallWaitingToneDetector, SasConfig};
use pickupd_dsp::{zones, Frame};
use pickupd_sim::{Applied, Control, LineKey, LineSpec, SimError, SimOk, SimOp, World, WorldEvent};

const TRUNK: LineKey = LineKey(1);
const DESK: LineKey = LineKey(2);

fn world() -> World {
    let lines = [
        LineSpec {
            key: TRUNK,
            name: "trunk1".into(),
            number: "5551000".into(),
            station: false,
            call_waiting: true,
            cidcw: false,
        },
        LineSpec {
            key: DESK,
            name: "desk-201".into(),
            number: "201".into(),
            station: true,
            call_waiting: false,
            cidcw: false,
        },
    ];
    World::new("us", &lines)
}

/// Ticks `n` times; returns the events and one line's frames.
fn ticks(w: &mut World, n: usize, of: LineKey) -> (Vec<WorldEvent>, Vec<Frame>) {
    let mut events = Vec::new();
    let mut frames = Vec::new();
    for _ in 0..n {
        events.extend(w.tick(|line, f| {
            if line == of {
                frames.push(*f)
            }
        }));
    }
    (events, frames)
}

fn now(w: &mut World, op: SimOp) -> Result<SimOk, SimError> {
    match w.apply(op) {
        Applied::Now(r) => r,
        Applied::Dialing(l) => panic!("unexpected dial on {l:?}"),
    }
}

#[test]
fn an_incoming_call_rings_the_trunk_with_caller_id_until_answered() {
    let mut w = world();
    let tag = now(
        &mut w,
        SimOp::IncomingCall {
            number: "5551000".into(),
            caller_number: "5550100".into(),
            caller_name: "Ada".into(),
        },
    )
    .unwrap();
    let SimOk::Tag(tag) = tag else {
        panic!("no tag")
    };
    let (events, _) = ticks(&mut w, 1, TRUNK);
    assert_eq!(
        events,
        vec![WorldEvent::RingStart {
            line: TRUNK,
            caller_number: "5550100".into(),
            caller_name: "Ada".into(),
            tag: Some(tag),
        }]
    );
    // The next ring is 6 s later: nothing in between.
    let (events, _) = ticks(&mut w, 299, TRUNK);
    assert!(events.is_empty(), "{events:?}");
    let (events, _) = ticks(&mut w, 1, TRUNK);
    assert_eq!(events.len(), 1);
    // Answering (our side off hook) ends the ringing.
    w.command(TRUNK, &Control::Hook(true));
    let (events, _) = ticks(&mut w, 400, TRUNK);
    assert!(events.is_empty(), "{events:?}");
    // A second incoming call on a line in use is refused.
    let busy = now(
        &mut w,
        SimOp::IncomingCall {
            number: "5551000".into(),
            caller_number: "1".into(),
            caller_name: String::new(),
        },
    );
    assert!(matches!(busy, Err(SimError::WrongState(_))), "{busy:?}");
}

#[test]
fn call_waiting_plays_the_zone_tone_that_the_detector_finds() {
    let mut w = world();
    now(
        &mut w,
        SimOp::IncomingCall {
            number: "5551000".into(),
            caller_number: "5550100".into(),
            caller_name: String::new(),
        },
    )
    .unwrap();
    w.command(TRUNK, &Control::Hook(true));
    let (_, quiet) = ticks(&mut w, 10, TRUNK);
    let cw = SimOp::CallWaiting {
        trunk_number: "5551000".into(),
        caller_number: "5550199".into(),
        caller_name: String::new(),
    };
    now(&mut w, cw).unwrap();
    let (_, frames) = ticks(&mut w, 100, TRUNK);
    let zone = zones::zone("us").unwrap();
    let mut det = CallWaitingToneDetector::new(SasConfig::for_zone(zone));
    let mut found = 0;
    for f in quiet.iter().chain(frames.iter()) {
        det.process(f, &mut |_| found += 1);
    }
    assert_eq!(found, 1, "one call-waiting tone in 2 s");
    assert!(quiet.iter().all(|f| f.iter().all(|&s| s == 0)));
}

#[test]
fn dialled_digits_are_dtmf_audio_and_the_dial_ends_when_played() {
    let mut w = world();
    let on_hook = w.apply(SimOp::Dial("201".into(), "*8".into()));
    assert!(matches!(
        on_hook,
        Applied::Now(Err(SimError::WrongState(_)))
    ));
    now(&mut w, SimOp::OffHook("201".into())).unwrap();
    let (events, _) = ticks(&mut w, 1, DESK);
    assert_eq!(
        events,
        vec![WorldEvent::PhoneHook {
            line: DESK,
            off_hook: true
        }]
    );
    assert_eq!(
        w.apply(SimOp::Dial("201".into(), "*8".into())),
        Applied::Dialing(DESK)
    );
    assert!(!w.dialing_done(DESK));
    let (_, frames) = ticks(&mut w, 50, DESK);
    assert!(w.dialing_done(DESK));
    let mut det = DtmfDetector::new();
    let mut digits = String::new();
    for f in &frames {
        det.process(f, &mut |ev| {
            if let DtmfEvent::Begin { digit, .. } = ev {
                digits.push(digit)
            }
        });
    }
    assert_eq!(digits, "*8");
    let bad = w.apply(SimOp::Dial("201".into(), "8x".into()));
    assert!(matches!(bad, Applied::Now(Err(SimError::BadDigits(_)))));
}

#[test]
fn unplugging_drops_the_office_call_and_plugging_reports_the_hook() {
    let mut w = world();
    now(&mut w, SimOp::OffHook("201".into())).unwrap();
    now(&mut w, SimOp::Unplug("desk-201".into())).unwrap();
    let (events, frames) = ticks(&mut w, 2, DESK);
    assert!(events.contains(&WorldEvent::Unplugged {
        line: DESK,
        why: "desk-201 was unplugged".into()
    }));
    assert!(frames.is_empty(), "an unplugged port gives no frames");
    now(&mut w, SimOp::Plug("desk-201".into())).unwrap();
    let (events, frames) = ticks(&mut w, 1, DESK);
    assert!(events.contains(&WorldEvent::Plugged {
        line: DESK,
        off_hook: true
    }));
    assert_eq!(frames.len(), 1);
    let unknown = now(&mut w, SimOp::Unplug("nope".into()));
    assert!(matches!(unknown, Err(SimError::NoSuchLine(m)) if m.contains("desk-201")));
}
