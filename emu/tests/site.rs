//! The simulated world behind the emulated DAHDI tree, through the real
//! system calls of hw's `DahdiDevices`/`DahdiFd`, and behind an emulated
//! voice modem, through its pty, as the daemon's drivers will meet them:
//! people and offices act by Simulator requests, and what they do arrives
//! as DAHDI events, modem results and audio; what the client does reaches
//! the world.
//!
//! These tests need `/dev/fuse` and root (or fusermount3), like
//! `dahdi_fuse.rs`; without them they fail saying so.

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use pickupd_dsp::callerid::{CallerId, MessageAssembler};
use pickupd_dsp::dtmf::{DtmfDetector, DtmfEvent};
use pickupd_dsp::fsk::FskReceiver;
use pickupd_emu::site::{DahdiPort, EmulatedSite, ModemPort, SideSignal, SitePort};
use pickupd_hw::dahdi::{DahdiChannel, DahdiEvent, DahdiFd, DahdiOpener, HookOp, HookOutcome};
use pickupd_hw::v253::{
    end_stream, CallerId as ModemCallerId, CallerIdCollector, CallerIdMode, CallerNumber, Command,
    DleEvent, Encoder, ModemEvent, ModemParser, ModemProfile, ResultLine, StreamKind,
};
use pickupd_sim::{Control, LineKey, LineSpec, SimError, SimOk, SimOp, World};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

const TRUNK: LineKey = LineKey(1);
const DESK: LineKey = LineKey(2);
const TRUNK_CHAN: i32 = 1;
const DESK_CHAN: i32 = 2;
const TRUNK_NUMBER: &str = "5551000";
const DESK_NUMBER: &str = "201";

/// A running site in a fresh directory. Field order matters: the site is
/// stopped and unmounted before the directory is removed.
struct Site {
    site: EmulatedSite,
    side: Receiver<SideSignal>,
    _dir: tempfile::TempDir,
}

fn start() -> Site {
    let lines = [
        LineSpec {
            key: TRUNK,
            name: "trunk1".into(),
            number: TRUNK_NUMBER.into(),
            station: false,
            call_waiting: true,
            cidcw: false,
        },
        LineSpec {
            key: DESK,
            name: "desk-201".into(),
            number: DESK_NUMBER.into(),
            station: true,
            call_waiting: false,
            cidcw: false,
        },
    ];
    let ports = vec![
        DahdiPort {
            key: TRUNK,
            channo: TRUNK_CHAN,
            station: false,
        },
        DahdiPort {
            key: DESK,
            channo: DESK_CHAN,
            station: true,
        },
    ];
    let dir = tempfile::tempdir().expect("temporary directory");
    let (tx, side) = mpsc::channel();
    let site = EmulatedSite::start(
        dir.path(),
        World::new("us", &lines),
        ports,
        Box::new(move |signal| {
            let _ = tx.send(signal);
        }),
    )
    .unwrap_or_else(|e| {
        panic!(
            "cannot start the emulated site: {e}\n\
             These tests need /dev/fuse and root (or fusermount3); CI provides both."
        )
    });
    Site {
        site,
        side,
        _dir: dir,
    }
}

impl Site {
    /// A Simulator request and its answer (bounded wait).
    fn ask(&self, op: SimOp) -> Result<SimOk, SimError> {
        let what = format!("{op:?}");
        self.site
            .request(op)
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("no answer to {what}: {e}"))
    }

    /// The next side signal (bounded wait).
    fn side_signal(&self, within: Duration) -> SideSignal {
        self.side
            .recv_timeout(within)
            .unwrap_or_else(|e| panic!("no side signal within {within:?}: {e}"))
    }

    /// Waits until the world has been handed `control` on `line`.
    fn wait_control(&self, line: LineKey, control: Control, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.site.controls_seen().contains(&(line, control)) {
            assert!(
                Instant::now() < deadline,
                "the world never saw {control:?} on {line:?}: {:?}",
                self.site.controls_seen()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn controls_on(&self, line: LineKey) -> Vec<Control> {
        self.site
            .controls_seen()
            .into_iter()
            .filter(|(l, _)| *l == line)
            .map(|(_, c)| c)
            .collect()
    }

    /// Opens a channel as the daemon does (160-sample linear blocks),
    /// retrying while FUSE's asynchronous release of an earlier descriptor
    /// still holds it.
    fn open(&self, channo: i32) -> Client {
        let devices = self.site.dahdi().expect("a DAHDI tree").devices();
        let deadline = Instant::now() + Duration::from_secs(2);
        let fd = loop {
            match devices.open_channel(channo) {
                Ok(fd) => break fd,
                Err(e) if e == Errno::EBUSY && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("open channel {channo}: {e:?}"),
            }
        };
        fd.set_blocksize(160).unwrap();
        fd.set_linear(true).unwrap();
        Client {
            fd,
            events: Vec::new(),
            samples: Vec::new(),
        }
    }
}

/// The daemon's side of one channel: every event and every sample read.
struct Client {
    fd: DahdiFd,
    events: Vec<DahdiEvent>,
    samples: Vec<i16>,
}

impl Client {
    /// Waits in poll(2) and reads what arrives (events first, as the
    /// driver does, then blocks until `EAGAIN`) until `done` says so.
    fn pump_until(&mut self, within: Duration, mut done: impl FnMut(&Client) -> bool) {
        let deadline = Instant::now() + within;
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out after {within:?}; events {:?}, {} samples",
                self.events,
                self.samples.len()
            );
            let ms = left.as_millis().min(50) as u16;
            let mut fds = [PollFd::new(
                self.fd.as_fd(),
                PollFlags::POLLIN | PollFlags::POLLPRI,
            )];
            poll(&mut fds, PollTimeout::from(ms)).expect("poll");
            self.read_all();
        }
    }

    /// Reads for `d`, whatever arrives.
    fn pump_for(&mut self, d: Duration) {
        let until = Instant::now() + d;
        self.pump_until(d + Duration::from_secs(1), |_| Instant::now() >= until);
    }

    fn read_all(&mut self) {
        let mut buf = [0u8; 320];
        loop {
            self.events
                .extend(self.fd.drain_events().expect("GETEVENT"));
            match self.fd.read_frame(&mut buf) {
                Ok(n) => self.samples.extend(
                    buf[..n]
                        .chunks_exact(2)
                        .map(|b| i16::from_ne_bytes([b[0], b[1]])),
                ),
                Err(e) if e.is_event_pending() => continue,
                Err(e) if e == Errno::EAGAIN => return,
                Err(e) => panic!("read: {e:?}"),
            }
        }
    }

    fn saw(&self, event: DahdiEvent) -> bool {
        self.events.contains(&event)
    }
}

/// The daemon's caller-id decoder over what a client has read.
fn caller_ids(samples: &[i16]) -> Vec<CallerId> {
    let mut rx = FskReceiver::new();
    let mut asm = MessageAssembler::new();
    let mut ids = Vec::new();
    rx.process(samples, &mut |byte| {
        if let Some(Ok(id)) = asm.push(byte) {
            ids.push(id);
        }
    });
    ids
}

fn dtmf_digits(samples: &[i16]) -> String {
    let mut det = DtmfDetector::new();
    let mut digits = String::new();
    det.process(samples, &mut |ev| {
        if let DtmfEvent::Begin { digit, .. } = ev {
            digits.push(digit);
        }
    });
    digits
}

/// The FXO port's ring debounce after an open (2000 ms, hardware.md §1.9):
/// rings starting within it are not reported, as by the kernel.
const RING_DEBOUNCE: Duration = Duration::from_millis(2_100);

#[test]
fn an_incoming_call_rings_the_trunk_with_on_hook_caller_id() {
    let site = start();
    let mut trunk = site.open(TRUNK_CHAN);
    trunk.pump_for(RING_DEBOUNCE);
    let Ok(SimOk::Tag(tag)) = site.ask(SimOp::IncomingCall {
        number: TRUNK_NUMBER.into(),
        caller_number: "5550100".into(),
        caller_name: "Ada Lovelace".into(),
    }) else {
        panic!("the network gives a call a tag")
    };
    let asked = Instant::now();
    trunk.pump_until(Duration::from_secs(1), |c| c.saw(DahdiEvent::RingBegin));
    assert!(asked.elapsed() < Duration::from_millis(500), "{asked:?}");
    assert_eq!(
        site.side_signal(Duration::from_secs(1)),
        SideSignal::Offered { line: TRUNK, tag }
    );
    let ring_began = trunk.samples.len();

    // The ring ends after 2 s (RINGOFFHOOK after the 50 ms trailer); the
    // caller id follows on the on-hook line 500 ms later.
    trunk.pump_until(Duration::from_secs(3), |c| c.saw(DahdiEvent::RingOffHook));
    assert!(
        caller_ids(&trunk.samples).is_empty(),
        "no caller id during the ring"
    );
    trunk.pump_until(Duration::from_secs(3), |c| {
        !caller_ids(&c.samples).is_empty()
    });
    let ids = caller_ids(&trunk.samples);
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(ids[0].number.as_deref(), Some("5550100"));
    assert_eq!(ids[0].name.as_deref(), Some("Ada Lovelace"));
    // It began 2.5 s of line time after the ring: find its first loud sample.
    let first = trunk.samples[ring_began..]
        .iter()
        .position(|s| s.unsigned_abs() > 1000)
        .expect("the signal is in what was read");
    let ms = first / 8;
    assert!(
        (2_400..=3_000).contains(&ms),
        "caller id {ms} ms after the ring"
    );
    assert_eq!(
        trunk
            .events
            .iter()
            .filter(|e| **e == DahdiEvent::RingBegin)
            .count(),
        1
    );

    // Answered, then the caller hangs up: the far-end disconnect of a
    // kewl-start FXO port, once past the 600 ms off-hook debounce.
    assert_eq!(trunk.fd.hook(HookOp::OffHook), Ok(HookOutcome::Done));
    site.wait_control(TRUNK, Control::Hook(true), Duration::from_secs(1));
    thread::sleep(Duration::from_millis(700));
    trunk.events.clear();
    site.ask(SimOp::TrunkFarEndHangup(TRUNK)).unwrap();
    trunk.pump_until(Duration::from_secs(1), |c| c.saw(DahdiEvent::OnHook));
    drop(trunk);
    site.site.stop().unwrap();
}

#[test]
fn answering_and_a_flash_on_the_trunk_reach_the_office() {
    let site = start();
    let mut trunk = site.open(TRUNK_CHAN);
    trunk.pump_for(RING_DEBOUNCE);
    let Ok(SimOk::Tag(first)) = site.ask(SimOp::IncomingCall {
        number: TRUNK_NUMBER.into(),
        caller_number: "5550100".into(),
        caller_name: "Ada".into(),
    }) else {
        panic!("the network gives a call a tag")
    };
    trunk.pump_until(Duration::from_secs(1), |c| c.saw(DahdiEvent::RingBegin));
    assert_eq!(
        site.side_signal(Duration::from_secs(1)),
        SideSignal::Offered {
            line: TRUNK,
            tag: first
        }
    );
    let call_waiting = SimOp::CallWaiting {
        trunk_number: TRUNK_NUMBER.into(),
        caller_number: "5550199".into(),
        caller_name: "Bob".into(),
    };
    assert!(
        matches!(site.ask(call_waiting.clone()), Err(SimError::WrongState(_))),
        "no call in conversation before the answer"
    );

    // HOOK OFFHOOK answers: the office puts the caller through, so a
    // second caller can now wait.
    assert_eq!(trunk.fd.hook(HookOp::OffHook), Ok(HookOutcome::Done));
    assert_eq!(site.ask(call_waiting), Ok(SimOk::Done));
    assert_eq!(site.controls_on(TRUNK), vec![Control::Hook(true)]);

    // A flash far shorter than a tick (5 + 20 ms): still one flash, and
    // its break is not a hang-up.
    thread::sleep(Duration::from_millis(700)); // past the 600 ms debounce
    let mut params = trunk.fd.get_params().unwrap();
    params.preflashtime = 5;
    params.flashtime = 20;
    trunk.fd.set_params(&params).unwrap();
    trunk.events.clear();
    assert_eq!(trunk.fd.hook(HookOp::Flash), Ok(HookOutcome::InProgress));
    trunk.pump_until(Duration::from_secs(1), |c| c.saw(DahdiEvent::HookComplete));
    site.wait_control(TRUNK, Control::Flash, Duration::from_secs(1));

    // The office took the waiting call and held the first: hanging up now
    // leaves the first caller, who rings the line back (a second after
    // the hang-up, within the ring debounce, so the client sees no
    // RINGBEGIN for it yet; the site offers it all the same).
    assert_eq!(trunk.fd.hook(HookOp::OnHook), Ok(HookOutcome::Done));
    let hung_up = Instant::now();
    assert_eq!(
        site.side_signal(Duration::from_secs(3)),
        SideSignal::Offered {
            line: TRUNK,
            tag: first
        },
        "the held (first) call rings back, not the waiting one"
    );
    assert!(hung_up.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        site.controls_on(TRUNK),
        vec![Control::Hook(true), Control::Flash, Control::Hook(false)]
    );
    drop(trunk);
    site.site.stop().unwrap();
}

#[test]
fn the_phone_at_a_station_answers_dials_flashes_and_is_rung() {
    let site = start();
    let mut desk = site.open(DESK_CHAN);

    // HOOK RING rings the phone in the world (zone 0 is loaded).
    assert_eq!(desk.fd.hook(HookOp::Ring), Ok(HookOutcome::InProgress));
    desk.pump_until(Duration::from_secs(1), |c| c.saw(DahdiEvent::RingerOn));
    site.wait_control(DESK, Control::Ring(true), Duration::from_secs(1));

    // The person lifts the handset: RINGOFFHOOK, and the ringing stops.
    assert_eq!(
        site.ask(SimOp::OffHook(DESK_NUMBER.into())),
        Ok(SimOk::Done)
    );
    desk.pump_until(Duration::from_secs(1), |c| c.saw(DahdiEvent::RingOffHook));
    site.wait_control(DESK, Control::Ring(false), Duration::from_secs(1));

    // Dialled digits are DTMF audio in what the client reads.
    let from = desk.samples.len();
    let dialled = site
        .site
        .request(SimOp::Dial(DESK_NUMBER.into(), "*8".into()));
    let mut answer = None;
    desk.pump_until(Duration::from_secs(3), |c| {
        if answer.is_none() {
            answer = dialled.try_recv().ok();
        }
        answer.is_some() && dtmf_digits(&c.samples[from..]) == "*8"
    });
    assert_eq!(answer, Some(Ok(SimOk::Done)));

    // A flash at the phone: WINKFLASH, not a hang-up.
    desk.events.clear();
    assert_eq!(site.ask(SimOp::Flash(DESK_NUMBER.into())), Ok(SimOk::Done));
    desk.pump_until(Duration::from_secs(2), |c| c.saw(DahdiEvent::WinkFlash));
    desk.pump_for(Duration::from_millis(100));
    assert_eq!(desk.events, vec![DahdiEvent::WinkFlash]);
    assert_eq!(desk.fd.get_params().unwrap().rxisoffhook, 1);
    drop(desk);
    site.site.stop().unwrap();
}

#[test]
fn unplugging_removes_the_channel_and_plugging_brings_it_back() {
    let site = start();
    let mut desk = site.open(DESK_CHAN);
    assert_eq!(
        site.ask(SimOp::OffHook(DESK_NUMBER.into())),
        Ok(SimOk::Done)
    );
    desk.pump_until(Duration::from_secs(1), |c| c.saw(DahdiEvent::RingOffHook));

    assert_eq!(site.ask(SimOp::Unplug("desk-201".into())), Ok(SimOk::Done));
    let mut fds = [PollFd::new(desk.fd.as_fd(), PollFlags::POLLPRI)];
    poll(&mut fds, PollTimeout::from(1000u16)).expect("poll");
    let revents = fds[0].revents().unwrap_or(PollFlags::empty());
    assert!(
        revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR),
        "{revents:?}"
    );
    assert_eq!(desk.fd.get_event(), Ok(Some(DahdiEvent::Removed)));
    assert_eq!(desk.fd.get_params().unwrap_err(), Errno::ENODEV);
    assert_eq!(
        desk.fd.read_frame(&mut [0; 320]).unwrap_err(),
        Errno::ENODEV
    );
    // While unplugged, the channel cannot be opened.
    assert_eq!(
        site.site
            .dahdi()
            .expect("a DAHDI tree")
            .devices()
            .open_channel(DESK_CHAN)
            .unwrap_err(),
        Errno::ENXIO
    );

    // Plugged back with the handset still off: a fresh channel that opens,
    // with the phone off hook on it.
    assert_eq!(site.ask(SimOp::Plug("desk-201".into())), Ok(SimOk::Done));
    drop(desk);
    let desk = site.open(DESK_CHAN);
    assert_eq!(desk.fd.get_params().unwrap().rxisoffhook, 1);

    // Closed and reopened by the daemon: the world still reaches it.
    drop(desk);
    let mut desk = site.open(DESK_CHAN);
    assert_eq!(site.ask(SimOp::Flash(DESK_NUMBER.into())), Ok(SimOk::Done));
    desk.pump_until(Duration::from_secs(2), |c| c.saw(DahdiEvent::WinkFlash));
    drop(desk);
    site.site.stop().unwrap();
}

#[test]
fn a_network_call_to_a_station_goes_to_the_side_channel() {
    let site = start();
    let mut desk = site.open(DESK_CHAN);
    let Ok(SimOk::Tag(tag)) = site.ask(SimOp::IncomingCall {
        number: DESK_NUMBER.into(),
        caller_number: "5550123".into(),
        caller_name: "Carol".into(),
    }) else {
        panic!("the network gives a call a tag")
    };
    assert_eq!(
        site.side_signal(Duration::from_secs(1)),
        SideSignal::NetworkCall {
            line: DESK,
            caller_number: "5550123".into(),
            caller_name: "Carol".into(),
            tag,
        }
    );
    assert_eq!(site.ask(SimOp::NetworkHangup(tag)), Ok(SimOk::Done));
    assert_eq!(
        site.side_signal(Duration::from_secs(1)),
        SideSignal::NetworkHangup { tag }
    );
    // Nothing of it on the wire.
    desk.pump_for(Duration::from_millis(100));
    assert_eq!(desk.events, vec![]);
    assert!(desk.samples.iter().all(|&s| s == 0));
    assert!(site.site.controls_seen().is_empty());
    drop(desk);
    site.site.stop().unwrap();
}

// ---- a modem port ----

const MODEM_TRUNK: LineKey = LineKey(3);
const MODEM_NUMBER: &str = "5551001";

/// A site with a DAHDI trunk and a modem trunk (call waiting on), the
/// modem linked at `tty/trunk2` under the site's directory.
fn start_with_modem() -> Site {
    let lines = [
        LineSpec {
            key: TRUNK,
            name: "trunk1".into(),
            number: TRUNK_NUMBER.into(),
            station: false,
            call_waiting: true,
            cidcw: false,
        },
        LineSpec {
            key: MODEM_TRUNK,
            name: "trunk2".into(),
            number: MODEM_NUMBER.into(),
            station: false,
            call_waiting: true,
            cidcw: false,
        },
    ];
    let ports = vec![
        SitePort::Dahdi(DahdiPort {
            key: TRUNK,
            channo: TRUNK_CHAN,
            station: false,
        }),
        SitePort::Modem(ModemPort {
            key: MODEM_TRUNK,
            profile: ModemProfile::conexant(),
            link: "tty/trunk2".into(),
        }),
    ];
    let dir = tempfile::tempdir().expect("temporary directory");
    let (tx, side) = mpsc::channel();
    let site = EmulatedSite::start(
        dir.path(),
        World::new("us", &lines),
        ports,
        Box::new(move |signal| {
            let _ = tx.send(signal);
        }),
    )
    .unwrap_or_else(|e| panic!("cannot start the emulated site: {e}"));
    Site {
        site,
        side,
        _dir: dir,
    }
}

/// The daemon's side of the modem: hw's parser over the pty, as the modem
/// driver reads it.
struct ModemClient {
    port: File,
    parser: ModemParser,
    events: VecDeque<ModemEvent<'static>>,
    audio: Vec<u8>,
}

impl ModemClient {
    fn open(path: &Path) -> Self {
        let port = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NOCTTY | nix::libc::O_NONBLOCK)
            .open(path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        let mut termios = tcgetattr(&port).expect("tcgetattr");
        cfmakeraw(&mut termios);
        tcsetattr(&port, SetArg::TCSANOW, &termios).expect("raw mode");
        ModemClient {
            port,
            parser: ModemParser::new(ModemProfile::conexant().parser_config()),
            events: VecDeque::new(),
            audio: Vec::new(),
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        self.port.write_all(bytes).expect("write to the modem");
    }

    /// Reads for up to `wait`; `false` at end of file or a read error
    /// (the modem is gone).
    fn pump(&mut self, wait: Duration) -> bool {
        let mut fds = [PollFd::new(self.port.as_fd(), PollFlags::POLLIN)];
        let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        if poll(&mut fds, PollTimeout::from(ms)).expect("poll") == 0 {
            return true;
        }
        let mut buf = [0u8; 4096];
        loop {
            match self.port.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    let (events, audio) = (&mut self.events, &mut self.audio);
                    self.parser.feed(&buf[..n], |event| match event {
                        ModemEvent::Audio(bytes) => audio.extend_from_slice(&bytes),
                        other => events.push_back(other.into_owned()),
                    });
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
    }

    /// Events until `pred` matches (bounded wait); returns them all.
    fn until(
        &mut self,
        within: Duration,
        pred: impl Fn(&ModemEvent<'_>) -> bool,
    ) -> Vec<ModemEvent<'static>> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            while let Some(event) = self.events.pop_front() {
                let done = pred(&event);
                seen.push(event);
                if done {
                    return seen;
                }
            }
            assert!(
                Instant::now() < deadline,
                "not within {within:?}; saw {seen:?}"
            );
            assert!(self.pump(Duration::from_millis(20)), "the modem went away");
        }
    }

    fn final_result(&mut self) -> ResultLine {
        let seen = self.until(
            Duration::from_secs(3),
            |e| matches!(e, ModemEvent::Line(l) if l.is_final()),
        );
        match seen.last() {
            Some(ModemEvent::Line(l)) => l.clone(),
            _ => unreachable!("until returns the match last"),
        }
    }

    /// Sends a command (every line of it), returning the last final result.
    fn command(&mut self, command: &Command) -> ResultLine {
        let lines = Encoder::new(&ModemProfile::conexant())
            .encode(command)
            .expect("conexant encodes it");
        let mut last = ResultLine::Ok;
        for line in lines {
            if let Some(kind) = line.opens {
                self.parser.expect_stream(kind);
            }
            self.write(&line.to_bytes());
            last = self.final_result();
        }
        last
    }

    /// The minimal set-up for calls: voice mode, PCM audio, caller ID.
    fn init(&mut self) {
        for command in [
            Command::Raw("ATE0".into()),
            Command::VoiceMode,
            Command::Compression {
                choice: ModemProfile::conexant().vsm.expect("conexant has a method"),
                four_args: false,
            },
            Command::CallerId(CallerIdMode::Formatted),
        ] {
            assert_eq!(self.command(&command), ResultLine::Ok, "{command:?}");
        }
    }
}

/// Zero crossings per second of unsigned 8-bit PCM (a tone's frequency is
/// half of it).
fn crossings_per_second(pcm: &[u8]) -> f64 {
    let crossings = pcm
        .windows(2)
        .filter(|w| (w[0] >= 0x80) != (w[1] >= 0x80))
        .count();
    crossings as f64 * 8000.0 / pcm.len() as f64
}

#[test]
fn a_modem_trunk_rings_with_caller_id_answers_flashes_and_unplugs() {
    let site = start_with_modem();
    let dir = site._dir.path();
    assert_eq!(site.site.root(), dir.join("dev"));
    let link = site.site.modem_link(MODEM_TRUNK).expect("a modem port");
    assert_eq!(link, dir.join("tty/trunk2"));
    let pty = std::fs::read_link(link).expect("the link to the pty");
    assert!(pty.starts_with("/dev/pts"), "{}", pty.display());
    let mut modem = ModemClient::open(link);
    modem.init();

    // The world's call rings the modem (RING at once), with caller ID
    // between the first and second ring; the site offers the call's tag.
    let Ok(SimOk::Tag(first)) = site.ask(SimOp::IncomingCall {
        number: MODEM_NUMBER.into(),
        caller_number: "5550100".into(),
        caller_name: "ADA".into(),
    }) else {
        panic!("the network gives a call a tag")
    };
    modem.until(Duration::from_secs(1), |e| {
        *e == ModemEvent::Line(ResultLine::Ring)
    });
    assert_eq!(
        site.side_signal(Duration::from_secs(1)),
        SideSignal::Offered {
            line: MODEM_TRUNK,
            tag: first
        }
    );
    let mut collector = CallerIdCollector::new();
    let mut caller = None;
    let mut rings = 1;
    for event in modem.until(Duration::from_secs(7), |e| {
        *e == ModemEvent::Line(ResultLine::Ring)
    }) {
        if let ModemEvent::Line(line) = event {
            rings += usize::from(line == ResultLine::Ring);
            caller = collector.line(&line).or(caller);
        }
    }
    assert_eq!(rings, 2);
    assert_eq!(
        caller,
        Some(ModemCallerId {
            number: Some(CallerNumber::Number("5550100".into())),
            name: Some("ADA".into()),
            ..ModemCallerId::default()
        })
    );
    assert!(
        site.side.try_recv().is_err(),
        "the second ring offers nothing"
    );

    // Off hook answers: the office connects the caller.
    assert_eq!(modem.command(&Command::OffHook), ResultLine::Vcon);
    site.wait_control(MODEM_TRUNK, Control::Hook(true), Duration::from_secs(1));

    // In full duplex, the zone's call-waiting tone (440 Hz) arrives in the
    // audio when a second caller waits.
    assert_eq!(
        modem.command(&Command::FullDuplex),
        ResultLine::Connect(None)
    );
    modem.until(Duration::from_secs(1), |e| {
        *e == ModemEvent::StreamStarted(StreamKind::FullDuplex)
    });
    modem.audio.clear();
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        assert!(modem.pump(Duration::from_millis(20)));
    }
    assert!(
        modem.audio.len() >= 3000,
        "audio flows: {} bytes",
        modem.audio.len()
    );
    assert!(
        modem.audio.iter().all(|&b| b.abs_diff(0x80) <= 2),
        "the connected caller is silent"
    );
    assert_eq!(
        site.ask(SimOp::CallWaiting {
            trunk_number: MODEM_NUMBER.into(),
            caller_number: "5550199".into(),
            caller_name: "BOB".into(),
        }),
        Ok(SimOk::Done)
    );
    let from = modem.audio.len();
    let deadline = Instant::now() + Duration::from_millis(800);
    while Instant::now() < deadline {
        assert!(modem.pump(Duration::from_millis(20)));
    }
    let loud: Vec<u8> = modem.audio[from..]
        .iter()
        .copied()
        .skip_while(|b| b.abs_diff(0x80) <= 8)
        .take(1600)
        .collect();
    assert_eq!(loud.len(), 1600, "the call-waiting tone is heard");
    let hz = crossings_per_second(&loud) / 2.0;
    assert!((420.0..460.0).contains(&hz), "{hz} Hz");

    // The host's audio reaches the world as frames: nothing to assert on
    // a world without listeners beyond its flowing, so leave the stream
    // and flash: the office swaps to the waiting caller.
    modem.write(&end_stream(StreamKind::FullDuplex));
    modem.until(Duration::from_secs(1), |e| {
        *e == ModemEvent::Dle(DleEvent::EndOfStream)
    });
    assert_eq!(modem.final_result(), ResultLine::Ok);
    assert_eq!(
        modem.command(&Command::Flash { duration: Some(60) }),
        ResultLine::Ok
    );
    site.wait_control(MODEM_TRUNK, Control::Flash, Duration::from_secs(1));

    // The waiting caller, now connected, hangs up: loop current break.
    site.ask(SimOp::TrunkFarEndHangup(MODEM_TRUNK)).unwrap();
    modem.until(Duration::from_secs(1), |e| {
        *e == ModemEvent::Dle(DleEvent::LoopBreak)
    });

    // On hook: the held first caller rings back, offered again.
    assert_eq!(modem.command(&Command::OnHook), ResultLine::Ok);
    site.wait_control(MODEM_TRUNK, Control::Hook(false), Duration::from_secs(1));
    modem.until(Duration::from_secs(3), |e| {
        *e == ModemEvent::Line(ResultLine::Ring)
    });
    assert_eq!(
        site.side_signal(Duration::from_secs(1)),
        SideSignal::Offered {
            line: MODEM_TRUNK,
            tag: first
        }
    );
    assert_eq!(
        site.controls_on(MODEM_TRUNK),
        vec![Control::Hook(true), Control::Flash, Control::Hook(false)]
    );

    // Unplugged: the pty goes away under the client and the link with it.
    assert_eq!(site.ask(SimOp::Unplug("trunk2".into())), Ok(SimOk::Done));
    let deadline = Instant::now() + Duration::from_secs(1);
    while modem.pump(Duration::from_millis(20)) {
        assert!(Instant::now() < deadline, "the client still reads");
    }
    assert!(std::fs::symlink_metadata(link).is_err(), "the link is gone");

    // Plugged: a fresh modem (power-up settings) at the same link.
    assert_eq!(site.ask(SimOp::Plug("trunk2".into())), Ok(SimOk::Done));
    let again = std::fs::read_link(link).expect("linked again");
    assert!(again.starts_with("/dev/pts"), "{}", again.display());
    drop(modem);
    let mut modem = ModemClient::open(link);
    modem.write(b"AT+FCLASS?\r");
    let seen = modem.until(
        Duration::from_secs(1),
        |e| matches!(e, ModemEvent::Line(l) if l.is_final()),
    );
    assert!(
        seen.contains(&ModemEvent::Line(ResultLine::Info("0".into()))),
        "{seen:?}"
    );
    modem.init();
    let Ok(SimOk::Tag(_)) = site.ask(SimOp::IncomingCall {
        number: MODEM_NUMBER.into(),
        caller_number: "5550123".into(),
        caller_name: String::new(),
    }) else {
        panic!("the network gives a call a tag")
    };
    modem.until(Duration::from_secs(1), |e| {
        *e == ModemEvent::Line(ResultLine::Ring)
    });
    drop(modem);
    site.site.stop().unwrap();
    assert!(
        std::fs::symlink_metadata(dir.join("tty/trunk2")).is_err(),
        "the site removes its link when it stops"
    );
}
