//! The DAHDI driver through real system calls: its channels are opened,
//! configured, polled, read and written through hw's `DahdiFd` against
//! pickupd-emu's FUSE-mounted DAHDI tree, which plays the kernel module
//! (hardware.md §2.2). Signalling arrives as `runtime::Input::Hw` on the
//! engine's queue, audio on the ports' rings, exactly as in the daemon.
//!
//! These tests need `/dev/fuse` and root (or fusermount3); CI has both.
//! Without them they fail with a message saying what is missing.

use pickupd::driver::{DahdiDriver, DahdiLine, Driver, DriverContext, Port, PortKind, RING_FRAMES};
use pickupd::engine::{HwEvent, LineCommand, LineId};
use pickupd::runtime::{EngineHandle, Input};
use pickupd_dsp::{Frame, FRAME_SAMPLES};
use pickupd_emu::{ChannelHandle, ChannelSpec, EmulatedDahdi};
use pickupd_hw::dahdi::FakeTxState;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{self, error::TryRecvError};

const STATION: LineId = LineId(1);
const TRUNK: LineId = LineId(2);

/// A mounted tree in a fresh temporary directory (unmounted before the
/// directory is removed: field order).
struct Tree {
    emu: EmulatedDahdi,
    _dir: tempfile::TempDir,
}

fn mount(channels: Vec<ChannelSpec>) -> Tree {
    let dir = tempfile::tempdir().expect("temporary directory");
    let emu = EmulatedDahdi::mount(dir.path(), channels).unwrap_or_else(|e| {
        panic!(
            "cannot mount the emulated DAHDI tree: {e}\n\
             These tests need /dev/fuse and root (or fusermount3); CI provides both."
        )
    });
    Tree { emu, _dir: dir }
}

impl Tree {
    fn line(&self, line: LineId, port: PortKind, channo: i32) -> DahdiLine {
        DahdiLine {
            line,
            name: format!("line-{}", line.0),
            root: self.emu.root().to_path_buf(),
            channo,
            port,
            flash_ms: None,
        }
    }

    fn chan(&self, channo: i32) -> ChannelHandle {
        self.emu.channel(channo).expect("channel in the tree")
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

fn start(driver: DahdiDriver, lines: &[LineId]) -> Running {
    let (tx, inputs) = mpsc::unbounded_channel();
    let (commands, command_rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let mut ports = Vec::new();
    let mut audio = Vec::new();
    for &line in lines {
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
    assert_eq!(driver.name(), "dahdi");
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

    /// Collects hardware events for `period` (a bounded wait for events
    /// that must *not* come).
    fn collect(&mut self, period: Duration) -> Vec<HwEvent> {
        let deadline = Instant::now() + period;
        let first_new = self.seen.len();
        while Instant::now() < deadline {
            match self.inputs.try_recv() {
                Ok(Input::Hw(ev)) => self.seen.push(ev),
                Ok(_) => {}
                Err(_) => thread::sleep(Duration::from_millis(2)),
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

    /// `n` received frames of `line`, within `within`.
    fn frames(&mut self, line: LineId, n: usize, within: Duration) -> Vec<Frame> {
        let deadline = Instant::now() + within;
        let mut got = Vec::new();
        while got.len() < n {
            match self.audio(line).rx.pop() {
                Ok(f) => got.push(f),
                Err(_) if Instant::now() < deadline => {
                    thread::park_timeout(Duration::from_millis(5))
                }
                Err(_) => panic!(
                    "line {}: {} of {n} frames within {within:?}",
                    line.0,
                    got.len()
                ),
            }
        }
        got
    }
}

/// Polls the model until `pred` holds for channel `channo`'s tx state.
fn wait_tx_state(
    tree: &Tree,
    channo: i32,
    within: Duration,
    pred: impl Fn(FakeTxState) -> bool,
) -> FakeTxState {
    let deadline = Instant::now() + within;
    loop {
        let s = tree.chan(channo).state().expect("state").tx_state;
        if pred(s) {
            return s;
        }
        assert!(Instant::now() < deadline, "channel {channo} stuck in {s:?}");
        thread::sleep(Duration::from_millis(2));
    }
}

fn frame_of(seed: i16) -> Frame {
    let mut f = [0i16; FRAME_SAMPLES];
    for (i, s) in f.iter_mut().enumerate() {
        *s = seed
            .wrapping_mul(97)
            .wrapping_add((i as i16).wrapping_mul(211))
            .wrapping_sub(16000);
    }
    f
}

fn bytes_of(frames: &[Frame]) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|f| f.iter().flat_map(|s| s.to_ne_bytes()))
        .collect()
}

fn is_hook(line: LineId, off_hook: bool) -> impl Fn(&HwEvent) -> bool {
    move |e| *e == HwEvent::Hook { line, off_hook }
}

#[test]
fn open_sequence_sets_linear_160_sample_blocks_and_refuses_wrong_signalling() {
    let tree = mount(vec![
        ChannelSpec::fxs_port(1),
        ChannelSpec::fxo_port(2),
        ChannelSpec::fxs_port(3),
        ChannelSpec::fxo_port(4),
    ]);

    // An fxo line on a channel that is an FXS port (signalling FXOKS), and
    // an fxs line on an FXO port (FXSKS): both refused, saying what
    // system.conf should say.
    let e = DahdiDriver::new(vec![tree.line(TRUNK, PortKind::FxoPort, 3)]).unwrap_err();
    assert_eq!(e.line, TRUNK);
    for part in [
        "DAHDI channel 3",
        "FXOKS",
        "fxsks=3",
        "kind = \"fxo\"",
        "line-2",
    ] {
        assert!(e.message.contains(part), "{part:?} missing from: {e}");
    }
    let e = DahdiDriver::new(vec![tree.line(STATION, PortKind::FxsPort, 4)]).unwrap_err();
    for part in ["DAHDI channel 4", "FXSKS", "fxoks=4", "kind = \"fxs\""] {
        assert!(e.message.contains(part), "{part:?} missing from: {e}");
    }
    let twice = DahdiDriver::new(vec![
        tree.line(STATION, PortKind::FxsPort, 1),
        tree.line(LineId(9), PortKind::FxsPort, 1),
    ])
    .unwrap_err();
    assert!(
        twice.message.contains("both use DAHDI channel 1"),
        "{twice}"
    );

    // The right kinds: open, linear, 160-sample blocks, 4 buffers, and the
    // trunk's flash time written by read-modify-write SET_PARAMS.
    let mut trunk = tree.line(TRUNK, PortKind::FxoPort, 2);
    trunk.flash_ms = Some(300);
    let driver = DahdiDriver::new(vec![tree.line(STATION, PortKind::FxsPort, 1), trunk]).unwrap();
    for channo in [1, 2] {
        let s = tree.chan(channo).state().unwrap();
        assert!(s.open, "channel {channo} open");
        assert!(s.linear, "channel {channo} in linear mode");
        assert_eq!(s.blocksize, 160, "channel {channo} block size");
        assert_eq!(s.numbufs, 4, "channel {channo} buffers");
    }
    let trunk_params = tree.chan(2).state().unwrap().params;
    assert_eq!(trunk_params.flashtime, 300);
    assert_eq!(trunk_params.debouncetime, 600, "other timings kept");
    assert_eq!(tree.chan(1).state().unwrap().params.flashtime, 750);
    assert_eq!(driver.lines().count(), 2);
    drop(driver);

    // A channel that is not there is not a configuration error: the line
    // starts out of service, with the reason.
    let missing = DahdiDriver::new(vec![tree.line(LineId(5), PortKind::FxsPort, 9)]).unwrap();
    let mut run = start(missing, &[LineId(5)]);
    let gone = run.expect(Duration::from_secs(1), "DeviceGone", |e| {
        matches!(
            e,
            HwEvent::DeviceGone {
                line: LineId(5),
                ..
            }
        )
    });
    let HwEvent::DeviceGone { why, .. } = gone else {
        unreachable!()
    };
    assert!(why.contains("no DAHDI channel 9"), "{why}");
}

#[test]
fn station_hook_changes_and_flash() {
    let tree = mount(vec![ChannelSpec::fxs_port(1)]);
    let driver = DahdiDriver::new(vec![tree.line(STATION, PortKind::FxsPort, 1)]).unwrap();
    let mut run = start(driver, &[STATION]);
    let phone = tree.chan(1);

    phone.phone_off_hook().unwrap();
    run.expect(Duration::from_secs(1), "off hook", is_hook(STATION, true));

    // A 300 ms break is a hook flash (200 ms … rxflashtime), not on-hook.
    phone.phone_on_hook().unwrap();
    thread::sleep(Duration::from_millis(300));
    phone.phone_off_hook().unwrap();
    run.expect(Duration::from_secs(1), "flash", |e| {
        *e == HwEvent::Flash { line: STATION }
    });
    assert!(
        !run.seen.contains(&HwEvent::Hook {
            line: STATION,
            off_hook: false
        }),
        "{:?}",
        run.seen
    );

    // On hook counts once it has lasted rxflashtime (1250 ms).
    let hung_up = Instant::now();
    phone.phone_on_hook().unwrap();
    run.expect(Duration::from_secs(3), "on hook", is_hook(STATION, false));
    let took = hung_up.elapsed();
    assert!(
        took >= Duration::from_millis(1200),
        "on hook after {took:?}"
    );
    assert_eq!(
        run.seen,
        vec![
            HwEvent::Hook {
                line: STATION,
                off_hook: true
            },
            HwEvent::Flash { line: STATION },
            HwEvent::Hook {
                line: STATION,
                off_hook: false
            },
        ]
    );
}

#[test]
fn trunk_ring_answer_flash_and_far_end_disconnect() {
    let tree = mount(vec![ChannelSpec::fxo_port(2)]);
    let driver = DahdiDriver::new(vec![tree.line(TRUNK, PortKind::FxoPort, 2)])
        .unwrap()
        .with_ring_stop_after(Duration::from_millis(800));
    let opened = Instant::now();
    let mut run = start(driver, &[TRUNK]);
    let line = tree.chan(2);
    let ring_start = |e: &HwEvent| {
        matches!(
            e,
            HwEvent::RingStart {
                line: TRUNK,
                tag: None,
                ..
            }
        )
    };

    // Opening hung the port up, which starts the kernel's 2 s ring debounce.
    thread::sleep(Duration::from_millis(2100).saturating_sub(opened.elapsed()));
    line.ring(true).unwrap();
    run.expect(Duration::from_secs(1), "RingStart", ring_start);
    line.ring(false).unwrap();
    let burst_end = Instant::now();
    run.expect(Duration::from_secs(3), "RingStop", |e| {
        *e == HwEvent::RingStop { line: TRUNK }
    });
    assert!(
        burst_end.elapsed() >= Duration::from_millis(750),
        "{:?}",
        burst_end.elapsed()
    );

    // A new call; answering it.
    line.ring(true).unwrap();
    run.expect(Duration::from_secs(1), "second RingStart", ring_start);
    line.ring(false).unwrap();
    let answered = Instant::now();
    run.command(TRUNK, LineCommand::Hook(true));
    // Flash right away: the kernel refuses it during the 600 ms off-hook
    // debounce (EBUSY); the driver issues it once the debounce is over.
    run.command(TRUNK, LineCommand::Flash);
    wait_tx_state(&tree, 2, Duration::from_secs(1), FakeTxState::is_off_hook);
    let state = wait_tx_state(&tree, 2, Duration::from_secs(3), |s| {
        matches!(s, FakeTxState::PreFlash | FakeTxState::Flash)
    });
    let flashed = answered.elapsed();
    assert!(
        flashed >= Duration::from_millis(600),
        "{state:?} after {flashed:?}"
    );
    assert!(
        flashed < Duration::from_millis(1200),
        "{state:?} after {flashed:?}"
    );
    // The flash break (750 ms) ends back off hook.
    wait_tx_state(&tree, 2, Duration::from_secs(2), |s| {
        s == FakeTxState::OffHook
    });

    // The answered call never counted as abandoned.
    let during = run.collect(Duration::from_millis(100));
    assert!(
        !during.contains(&HwEvent::RingStop { line: TRUNK }),
        "{:?}",
        run.seen
    );
    assert_eq!(
        run.seen.iter().filter(|e| ring_start(e)).count(),
        2,
        "{:?}",
        run.seen
    );

    line.far_end_disconnect().unwrap();
    run.expect(Duration::from_secs(1), "FarEndDisconnect", |e| {
        *e == HwEvent::FarEndDisconnect { line: TRUNK }
    });
    run.command(TRUNK, LineCommand::Hook(false));
    wait_tx_state(&tree, 2, Duration::from_secs(1), |s| {
        s == FakeTxState::OnHook
    });
}

#[test]
fn audio_moves_both_ways_per_line() {
    let tree = mount(vec![ChannelSpec::fxs_port(1), ChannelSpec::fxo_port(2)]);
    let driver = DahdiDriver::new(vec![
        tree.line(STATION, PortKind::FxsPort, 1),
        tree.line(TRUNK, PortKind::FxoPort, 2),
    ])
    .unwrap();
    let mut run = start(driver, &[STATION, TRUNK]);

    // Receive: what each wire carries arrives, sample for sample, as
    // frames on that line's ring.
    let station_audio: Vec<Frame> = (0..5).map(frame_of).collect();
    let trunk_audio: Vec<Frame> = (100..104).map(frame_of).collect();
    tree.chan(1).send_audio(&bytes_of(&station_audio));
    tree.chan(2).send_audio(&bytes_of(&trunk_audio));
    assert_eq!(
        run.frames(STATION, 5, Duration::from_secs(2)),
        station_audio
    );
    assert_eq!(run.frames(TRUNK, 4, Duration::from_secs(2)), trunk_audio);

    // Transmit: frames on a line's ring come out as its written audio.
    let _ = tree.chan(2).take_written_audio().unwrap();
    let sent: Vec<Frame> = (200..203).map(frame_of).collect();
    for f in &sent {
        run.audio(TRUNK).tx.push(*f).unwrap();
    }
    let expected = bytes_of(&sent);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut written = Vec::new();
    while written.len() < expected.len() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
        written.extend(tree.chan(2).take_written_audio().unwrap());
    }
    assert_eq!(written.len(), expected.len(), "bytes written on channel 2");
    assert_eq!(written, expected);
    assert!(tree.chan(1).take_written_audio().unwrap().is_empty());
    assert!(
        run.collect(Duration::from_millis(20)).is_empty(),
        "{:?}",
        run.seen
    );
}

#[test]
fn unplugged_channel_goes_and_comes_back_while_the_other_keeps_working() {
    let tree = mount(vec![ChannelSpec::fxs_port(1), ChannelSpec::fxo_port(2)]);
    let driver = DahdiDriver::new(vec![
        tree.line(STATION, PortKind::FxsPort, 1),
        tree.line(TRUNK, PortKind::FxoPort, 2),
    ])
    .unwrap();
    let mut run = start(driver, &[STATION, TRUNK]);
    let phone = tree.chan(1);

    phone.remove().unwrap();
    let gone = run.expect(Duration::from_secs(1), "DeviceGone", |e| {
        matches!(e, HwEvent::DeviceGone { line: STATION, .. })
    });
    let HwEvent::DeviceGone { why, .. } = gone else {
        unreachable!()
    };
    assert!(
        why.contains("channel 1") && why.contains("removed"),
        "{why}"
    );

    // The trunk does not notice: its audio and commands still work.
    let trunk_audio: Vec<Frame> = (0..3).map(frame_of).collect();
    tree.chan(2).send_audio(&bytes_of(&trunk_audio));
    assert_eq!(run.frames(TRUNK, 3, Duration::from_secs(2)), trunk_audio);
    run.command(TRUNK, LineCommand::Hook(true));
    wait_tx_state(&tree, 2, Duration::from_secs(1), FakeTxState::is_off_hook);

    // Back: reopened with the whole open sequence.
    phone.restore().unwrap();
    run.expect(Duration::from_secs(3), "DeviceBack", |e| {
        *e == HwEvent::DeviceBack {
            line: STATION,
            off_hook: false,
        }
    });
    let s = phone.state().unwrap();
    assert!(s.open && s.linear, "{s:?}");
    assert_eq!((s.blocksize, s.numbufs), (160, 4));

    // … and working: signalling and audio.
    phone.phone_off_hook().unwrap();
    run.expect(
        Duration::from_secs(1),
        "off hook after reopen",
        is_hook(STATION, true),
    );
    let station_audio: Vec<Frame> = (50..53).map(frame_of).collect();
    phone.send_audio(&bytes_of(&station_audio));
    assert_eq!(
        run.frames(STATION, 3, Duration::from_secs(2)),
        station_audio
    );

    let trunk_state = tree.chan(2).state().unwrap().tx_state;
    assert!(
        trunk_state.is_off_hook(),
        "the trunk stayed seized: {trunk_state:?}"
    );
    let trunk_trouble: Vec<_> = run
        .seen
        .iter()
        .filter(|e| {
            matches!(
                e,
                HwEvent::DeviceGone { line: TRUNK, .. } | HwEvent::DeviceBack { line: TRUNK, .. }
            )
        })
        .collect();
    assert!(trunk_trouble.is_empty(), "{:?}", run.seen);
}
