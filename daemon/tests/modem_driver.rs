//! The modem driver through a real tty: every line's port is opened with
//! tokio-serial on the slave side of a pty whose master is pickupd-emu's
//! emulated V.253 modem, speaking the exact bytes of a chipset family
//! (hardware.md §3, §4). Signalling arrives as `runtime::Input::Hw` on the
//! engine's queue, audio on the ports' rings, exactly as in the daemon.
//!
//! The families: Conexant (the Rockwell/Conexant V.253 parts, 8-bit
//! unsigned PCM) and Lucent/Agere (16-bit linear, reports the call-waiting
//! beep and caller ID on call waiting itself); identification also meets
//! the Conexant HSF softmodem, the legacy Rockwell `#` set and a generic
//! V.253 modem.

use pickupd::driver::{
    Driver, DriverContext, ModemDriver, ModemLine, ModemTimings, Port, RING_FRAMES,
};
use pickupd::engine::{HwEvent, LineCommand, LineId};
use pickupd::runtime::{EngineHandle, Input};
use pickupd_dsp::{Frame, FRAME_SAMPLES};
use pickupd_emu::modem::{CallState, EmulatedModem, ModemHandle, ModemOptions, RingCadence};
use pickupd_hw::v253::{CallerId, CallerNumber, ModemProfile, SampleFormat, StreamKind};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{self, error::TryRecvError};

const A: LineId = LineId(1);
const B: LineId = LineId(2);
/// Bound of every wait for something that must happen.
const WITHIN: Duration = Duration::from_secs(5);

fn fast_ring() -> ModemOptions {
    ModemOptions {
        cadence: RingCadence {
            on_ms: 200,
            off_ms: 400,
            cid_delay_ms: 100,
        },
    }
}

fn timings() -> ModemTimings {
    ModemTimings {
        command: Duration::from_millis(700),
        keepalive: Duration::from_millis(400),
        stream_silence: Duration::from_secs(1),
        retry_min: Duration::from_millis(200),
        retry_max: Duration::from_millis(500),
        ring_stop_after: Duration::from_millis(1200),
    }
}

fn modem(profile: ModemProfile) -> EmulatedModem {
    EmulatedModem::start_with(profile, fast_ring()).expect("start the emulated modem")
}

fn caller() -> CallerId {
    CallerId {
        date: Some("0321".into()),
        time: Some("1405".into()),
        number: Some(CallerNumber::Number("5551234".into())),
        name: Some("DOE JOHN".into()),
        ..CallerId::default()
    }
}

/// One line's end of the audio rings (the media worker's side).
struct Audio {
    rx: rtrb::Consumer<Frame>,
    tx: rtrb::Producer<Frame>,
}

/// A started driver with the engine's and the media worker's ends.
struct Running {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    inputs: mpsc::UnboundedReceiver<Input>,
    commands: std::sync::mpsc::Sender<(LineId, LineCommand)>,
    audio: Vec<(LineId, Audio)>,
    /// every hardware event received so far, in order
    seen: Vec<HwEvent>,
}

/// Starts one driver for `lines` (line id, device path).
fn start(lines: &[(LineId, &Path)]) -> Running {
    // The driver's log, shown for failing tests.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("pickupd=debug")
        .try_init();
    let cfgs = lines
        .iter()
        .map(|(line, path)| {
            ModemLine::new(*line, &format!("modem-{}", line.0), &path.to_string_lossy())
                .expect("a valid modem line")
        })
        .collect();
    let driver = ModemDriver::new(cfgs)
        .expect("the driver takes the lines")
        .with_timings(timings());
    let (tx, inputs) = mpsc::unbounded_channel();
    let (commands, command_rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let mut ports = Vec::new();
    let mut audio = Vec::new();
    for &(line, _) in lines {
        let (rx_prod, rx_cons) = rtrb::RingBuffer::new(RING_FRAMES);
        let (tx_prod, tx_cons) = rtrb::RingBuffer::new(RING_FRAMES);
        ports.push(Port {
            line,
            rx: rx_prod,
            tx: tx_cons,
        });
        audio.push((
            line,
            Audio {
                rx: rx_cons,
                tx: tx_prod,
            },
        ));
    }
    let ctx = DriverContext {
        ports,
        engine: EngineHandle::new(tx),
        media: thread::current(),
        commands: command_rx,
        stop: Arc::clone(&stop),
    };
    let driver: Box<dyn Driver> = Box::new(driver);
    assert_eq!(driver.name(), "modem");
    let thread = driver.start(ctx).expect("driver thread");
    Running {
        stop,
        thread: Some(thread),
        inputs,
        commands,
        audio,
        seen: Vec::new(),
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Running {
    /// The first hardware event after those already taken that matches,
    /// within `within`; panics listing what came instead.
    fn expect(&mut self, within: Duration, what: &str, pred: impl Fn(&HwEvent) -> bool) -> HwEvent {
        let deadline = Instant::now() + within;
        let first_new = self.seen.len();
        loop {
            match self.inputs.try_recv() {
                Ok(Input::Hw(ev)) => {
                    self.seen.push(ev.clone());
                    if pred(&ev) {
                        return ev;
                    }
                }
                Ok(_) => {}
                Err(TryRecvError::Empty) => {
                    if Instant::now() >= deadline {
                        panic!(
                            "no {what} within {within:?}; got {:?}",
                            &self.seen[first_new..]
                        );
                    }
                    thread::sleep(Duration::from_millis(2));
                }
                Err(TryRecvError::Disconnected) => panic!("driver stopped; waiting for {what}"),
            }
        }
    }

    /// Takes the hardware events that have arrived.
    fn drain(&mut self) -> Vec<HwEvent> {
        let first_new = self.seen.len();
        while let Ok(input) = self.inputs.try_recv() {
            if let Input::Hw(ev) = input {
                self.seen.push(ev);
            }
        }
        self.seen[first_new..].to_vec()
    }

    fn command(&self, line: LineId, cmd: LineCommand) {
        self.commands
            .send((line, cmd))
            .expect("driver takes commands");
    }

    fn audio(&mut self, line: LineId) -> &mut Audio {
        &mut self
            .audio
            .iter_mut()
            .find(|(l, _)| *l == line)
            .expect("a port for the line")
            .1
    }

    fn assert_in_service(&mut self) {
        let gone: Vec<HwEvent> = self
            .drain()
            .into_iter()
            .chain(self.seen.iter().cloned())
            .filter(|e| matches!(e, HwEvent::DeviceGone { .. }))
            .collect();
        assert!(gone.is_empty(), "{gone:?}");
    }
}

/// Polls `pred` until it holds, within [`WITHIN`].
fn wait_until(what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + WITHIN;
    while !pred() {
        assert!(Instant::now() < deadline, "not within {WITHIN:?}: {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// The modem was initialised: voice mode, caller ID formatted, on hook on
/// the profile's on-hook label.
fn initialised(handle: &ModemHandle, profile: &ModemProfile) -> bool {
    let s = handle.settings();
    s.fclass == 8
        && s.caller_id == 1
        && !s.echo
        && s.label.eq_ignore_ascii_case(&profile.vls_on_hook)
        && !handle.state().off_hook
}

fn wait_initialised(handle: &ModemHandle, profile: &ModemProfile) {
    wait_until(&format!("{} initialised", profile.name), || {
        initialised(handle, profile)
    });
    // The last command's answer is still on its way to the driver.
    thread::sleep(Duration::from_millis(50));
}

fn ring_start(line: LineId) -> impl Fn(&HwEvent) -> bool {
    move |e| {
        matches!(e, HwEvent::RingStart { line: l, caller_number, caller_name, tag: None }
            if *l == line && caller_number.is_empty() && caller_name.is_empty())
    }
}

/// Linear samples of wire bytes (independent of the driver's conversion).
fn decode(format: SampleFormat, bytes: &[u8]) -> Vec<i16> {
    match format {
        SampleFormat::UnsignedPcm8 => bytes.iter().map(|&b| (i16::from(b) - 128) << 8).collect(),
        SampleFormat::SignedPcm16Le => bytes
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect(),
        other => panic!("the tests use 8-bit unsigned and 16-bit linear, not {other:?}"),
    }
}

/// Wire bytes rich in 0x10 (and the codes that follow a DLE: ETX, SUB,
/// `^`, `!`), so any escaping mistake either way corrupts them.
fn tricky(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| match i % 7 {
            0 | 3 => 0x10,
            1 => 0x03,
            4 => b'^',
            5 => 0x1A,
            6 => b'!',
            _ => (i * 31 % 256) as u8,
        })
        .collect()
}

fn contains(haystack: &[i16], needle: &[i16]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Rings `line`, answers with `Hook(true)` and waits for the full-duplex
/// stream.
fn answer(run: &mut Running, line: LineId, handle: &ModemHandle) {
    assert!(handle.incoming_call(caller()));
    run.expect(WITHIN, "RingStart", ring_start(line));
    run.command(line, LineCommand::Hook(true));
    wait_until("the call connected in full duplex", || {
        handle.stream() == Some(StreamKind::FullDuplex)
            && matches!(handle.state().call, CallState::Connected(_))
    });
}

#[test]
fn init_identifies_the_chipset_and_leaves_voice_mode_with_caller_id_on() {
    // One driver, one thread, five different modems at once.
    let cases = [
        (ModemProfile::conexant(), SampleFormat::UnsignedPcm8),
        (ModemProfile::conexant_hsf(), SampleFormat::MuLaw),
        (ModemProfile::lucent(), SampleFormat::SignedPcm16Le),
        (ModemProfile::rockwell_legacy(), SampleFormat::UnsignedPcm8),
        // +VSM=? parsed: µ-law preferred over the 8-bit signed default.
        (ModemProfile::generic_v253(), SampleFormat::MuLaw),
    ];
    let modems: Vec<EmulatedModem> = cases.iter().map(|(p, _)| modem(p.clone())).collect();
    let lines: Vec<(LineId, &Path)> = modems
        .iter()
        .enumerate()
        .map(|(i, m)| (LineId(10 + i as u32), m.path()))
        .collect();
    let mut run = start(&lines);
    for ((profile, format), m) in cases.iter().zip(&modems) {
        let handle = m.handle();
        wait_initialised(&handle, profile);
        assert_eq!(handle.wire_format().format, *format, "{}", profile.name);
        assert_eq!(handle.wire_format().rate, 8000, "{}", profile.name);
        assert_eq!(handle.stream(), None, "{}", profile.name);
    }
    run.assert_in_service();
}

#[test]
fn incoming_call_reports_ring_then_caller_id_then_ring_stop() {
    for profile in [ModemProfile::conexant(), ModemProfile::lucent()] {
        let m = modem(profile.clone());
        let handle = m.handle();
        let mut run = start(&[(A, m.path())]);
        wait_initialised(&handle, &profile);
        assert!(handle.incoming_call(caller()));
        run.expect(WITHIN, "RingStart with empty caller", ring_start(A));
        let id = run.expect(WITHIN, "CallerId", |e| {
            matches!(e, HwEvent::CallerId { .. })
        });
        assert_eq!(
            id,
            HwEvent::CallerId {
                line: A,
                number: "5551234".into(),
                name: "DOE JOHN".into()
            },
            "{}",
            profile.name
        );
        // Two more rings (600 ms cadence), no second offer.
        assert!(matches!(handle.state().call, CallState::Ringing(_)));
        thread::sleep(Duration::from_millis(1300));
        let more = run.drain();
        assert!(
            more.iter()
                .all(|e| !matches!(e, HwEvent::RingStart { .. } | HwEvent::RingStop { .. })),
            "{}: {more:?}",
            profile.name
        );
        // The caller gives up: no more rings, then RingStop.
        handle.far_end_hangup();
        let t0 = Instant::now();
        run.expect(WITHIN, "RingStop", |e| *e == HwEvent::RingStop { line: A });
        assert!(
            t0.elapsed() >= Duration::from_millis(500),
            "{}: RingStop only after the ring cadence's silence",
            profile.name
        );
        run.assert_in_service();
    }
}

#[test]
fn answering_moves_audio_both_ways_with_dle_bytes() {
    for profile in [ModemProfile::conexant(), ModemProfile::lucent()] {
        let m = modem(profile.clone());
        let handle = m.handle();
        let mut run = start(&[(A, m.path())]);
        wait_initialised(&handle, &profile);
        answer(&mut run, A, &handle);
        let format = handle.wire_format().format;

        // Far end → rx ring, as 16-bit samples.
        let far = tricky(1600);
        assert!(handle.send_audio(&far));
        let want = decode(format, &far);
        let mut got: Vec<i16> = Vec::new();
        let deadline = Instant::now() + WITHIN;
        while !contains(&got, &want) {
            assert!(
                Instant::now() < deadline,
                "{}: far-end audio not intact on the rx ring ({} samples)",
                profile.name,
                got.len()
            );
            match run.audio(A).rx.pop() {
                Ok(frame) => got.extend_from_slice(&frame),
                Err(_) => thread::park_timeout(Duration::from_millis(5)),
            }
        }

        // tx ring → far end, bytes exactly as the frames encode them.
        let frames = 10;
        let bytes_per_sample = if format == SampleFormat::SignedPcm16Le {
            2
        } else {
            1
        };
        let wire = tricky(frames * FRAME_SAMPLES * bytes_per_sample);
        let samples = decode(format, &wire);
        for chunk in samples.chunks_exact(FRAME_SAMPLES) {
            let frame: Frame = chunk.try_into().expect("a frame");
            run.audio(A).tx.push(frame).expect("room on the tx ring");
        }
        let mut sent = Vec::new();
        let deadline = Instant::now() + WITHIN;
        while sent.len() < wire.len() {
            assert!(
                Instant::now() < deadline,
                "{}: {} of {} bytes reached the far end",
                profile.name,
                sent.len(),
                wire.len()
            );
            thread::sleep(Duration::from_millis(10));
            sent.extend(handle.take_transmitted_audio());
        }
        assert_eq!(sent, wire, "{}", profile.name);
        run.assert_in_service();
    }
}

#[test]
fn far_end_hangup_flash_and_call_waiting_during_a_call() {
    for profile in [ModemProfile::conexant(), ModemProfile::lucent()] {
        let m = modem(profile.clone());
        let handle = m.handle();
        let mut run = start(&[(A, m.path())]);
        wait_initialised(&handle, &profile);
        answer(&mut run, A, &handle);

        if profile.name == "lucent" {
            // The Venus reports the beep and the waiting caller itself.
            let second = CallerId {
                number: Some(CallerNumber::Number("5559876".into())),
                name: Some("SECOND".into()),
                ..CallerId::default()
            };
            assert!(handle.call_waiting(Some(second)));
            run.expect(WITHIN, "CallWaitingAlert", |e| {
                *e == HwEvent::CallWaitingAlert { line: A }
            });
            let id = run.expect(WITHIN, "CallWaitingCallerId", |e| {
                matches!(e, HwEvent::CallWaitingCallerId { .. })
            });
            assert_eq!(
                id,
                HwEvent::CallWaitingCallerId {
                    line: A,
                    number: "5559876".into(),
                    name: "SECOND".into()
                }
            );
        }

        // Flash: out of the stream, +VTS={!,60}, back into full duplex.
        run.command(A, LineCommand::Flash);
        wait_until("the flash", || handle.state().flashes == 1);
        wait_until("full duplex again after the flash", || {
            handle.stream() == Some(StreamKind::FullDuplex)
        });
        if profile.name == "lucent" {
            let state = handle.state();
            assert_eq!(
                state.call,
                CallState::Connected(CallerId {
                    number: Some(CallerNumber::Number("5559876".into())),
                    name: Some("SECOND".into()),
                    ..CallerId::default()
                }),
                "the flash took the waiting call"
            );
        }

        // The far end hangs up: loop current break.
        handle.far_end_hangup();
        run.expect(WITHIN, "FarEndDisconnect", |e| {
            *e == HwEvent::FarEndDisconnect { line: A }
        });
        // The busy tone that follows is not a second disconnect.
        thread::sleep(Duration::from_millis(1200));
        let more = run.drain();
        assert!(
            more.iter()
                .all(|e| !matches!(e, HwEvent::FarEndDisconnect { .. })),
            "{more:?}"
        );

        // Hang up: stream ended, on hook.
        run.command(A, LineCommand::Hook(false));
        wait_until("on hook", || {
            !handle.state().off_hook && handle.stream().is_none()
        });
        assert!(handle
            .settings()
            .label
            .eq_ignore_ascii_case(&profile.vls_on_hook));
        run.assert_in_service();
    }
}

#[test]
fn a_modem_that_stops_answering_goes_out_of_service_and_comes_back() {
    let hung = modem(ModemProfile::conexant());
    let other = modem(ModemProfile::lucent());
    let (h, o) = (hung.handle(), other.handle());
    let mut run = start(&[(A, hung.path()), (B, other.path())]);
    wait_initialised(&h, &ModemProfile::conexant());
    wait_initialised(&o, &ModemProfile::lucent());

    h.set_wedged(true);
    let gone = run.expect(
        WITHIN,
        "DeviceGone",
        |e| matches!(e, HwEvent::DeviceGone { line, .. } if *line == A),
    );
    let HwEvent::DeviceGone { why, .. } = gone else {
        unreachable!()
    };
    assert!(why.contains("did not answer"), "{why}");

    // The other line never notices.
    assert!(o.incoming_call(caller()));
    run.expect(WITHIN, "RingStart on the other line", ring_start(B));

    h.set_wedged(false);
    run.expect(WITHIN, "DeviceBack", |e| {
        *e == HwEvent::DeviceBack {
            line: A,
            off_hook: false,
        }
    });
    // Initialised again, and working.
    wait_initialised(&h, &ModemProfile::conexant());
    assert!(h.incoming_call(caller()));
    run.expect(WITHIN, "RingStart after coming back", ring_start(A));
    assert!(
        run.seen
            .iter()
            .all(|e| !matches!(e, HwEvent::DeviceGone { line, .. } if *line == B)),
        "{:?}",
        run.seen
    );
}

#[test]
fn a_vanished_tty_goes_out_of_service_and_comes_back() {
    // The daemon names the modem by a stable path (a udev symlink); the
    // pty behind it changes when the "modem" comes back.
    let dir = tempfile::tempdir().expect("temporary directory");
    let link = dir.path().join("modem");
    let first = modem(ModemProfile::conexant());
    std::os::unix::fs::symlink(first.path(), &link).expect("symlink");
    let mut run = start(&[(A, &link)]);
    wait_initialised(&first.handle(), &ModemProfile::conexant());
    // During a call, so the stream is open when the tty goes.
    answer(&mut run, A, &first.handle());

    drop(first);
    let gone = run.expect(
        WITHIN,
        "DeviceGone",
        |e| matches!(e, HwEvent::DeviceGone { line, .. } if *line == A),
    );
    let HwEvent::DeviceGone { why, .. } = gone else {
        unreachable!()
    };
    assert!(
        why.contains("serial port") || why.contains("sent nothing"),
        "{why}"
    );

    let second = modem(ModemProfile::lucent());
    let fresh = dir.path().join("modem.new");
    std::os::unix::fs::symlink(second.path(), &fresh).expect("symlink");
    std::fs::rename(&fresh, &link).expect("replace the symlink");
    run.expect(WITHIN, "DeviceBack", |e| {
        *e == HwEvent::DeviceBack {
            line: A,
            off_hook: false,
        }
    });
    // A different chipset now: identified afresh.
    let handle = second.handle();
    wait_initialised(&handle, &ModemProfile::lucent());
    assert_eq!(handle.wire_format().format, SampleFormat::SignedPcm16Le);
    assert!(handle.incoming_call(caller()));
    run.expect(WITHIN, "RingStart on the new modem", ring_start(A));
}

#[test]
fn garbage_from_the_modem_takes_the_line_out_of_service() {
    let m = modem(ModemProfile::conexant());
    let handle = m.handle();
    let mut run = start(&[(A, m.path())]);
    wait_initialised(&handle, &ModemProfile::conexant());
    let mut noise = Vec::new();
    for i in 0..40 {
        noise.extend_from_slice(format!("\r\n~#{i}%\x7f garbage\r\n").as_bytes());
    }
    handle.send_raw(&noise);
    let gone = run.expect(
        WITHIN,
        "DeviceGone",
        |e| matches!(e, HwEvent::DeviceGone { line, .. } if *line == A),
    );
    let HwEvent::DeviceGone { why, .. } = gone else {
        unreachable!()
    };
    assert!(why.contains("unrecognised"), "{why}");
    // The noise stops; the modem is reinitialised.
    run.expect(WITHIN, "DeviceBack", |e| {
        *e == HwEvent::DeviceBack {
            line: A,
            off_hook: false,
        }
    });
    wait_initialised(&handle, &ModemProfile::conexant());
}

#[test]
fn a_modem_that_resets_itself_is_initialised_again() {
    let m = modem(ModemProfile::lucent());
    let handle = m.handle();
    let mut run = start(&[(A, m.path())]);
    wait_initialised(&handle, &ModemProfile::lucent());
    handle.power_cycle();
    assert!(!initialised(&handle, &ModemProfile::lucent()));
    let gone = run.expect(
        WITHIN,
        "DeviceGone",
        |e| matches!(e, HwEvent::DeviceGone { line, .. } if *line == A),
    );
    let HwEvent::DeviceGone { why, .. } = gone else {
        unreachable!()
    };
    assert!(why.contains("left voice mode"), "{why}");
    run.expect(WITHIN, "DeviceBack", |e| {
        *e == HwEvent::DeviceBack {
            line: A,
            off_hook: false,
        }
    });
    wait_initialised(&handle, &ModemProfile::lucent());
    assert!(handle.incoming_call(caller()));
    run.expect(WITHIN, "RingStart", ring_start(A));
    run.expect(WITHIN, "CallerId", |e| {
        matches!(e, HwEvent::CallerId { .. })
    });
}
