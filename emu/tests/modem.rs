//! The emulated V.253 modem through a real pseudo-terminal: the client
//! opens the slave path like a serial port (plain `open` + termios raw mode,
//! as §4 allows; modem-line ioctls are not used because ptys lack them) and
//! speaks to it with hw's encoder, init state machine and parser, exactly
//! the pieces the daemon's driver is built from.

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use pickupd_emu::modem::{CallState, EmulatedModem, ModemHandle, ModemOptions, RingCadence};
use pickupd_hw::v253::{
    end_stream, report_lines, CallerId, CallerIdCollector, CallerNumber, Command, DleEvent,
    DtmfDigit, Encoder, HostDle, InitAction, InitOutcome, InitSequence, ModemEvent, ModemParser,
    ModemProfile, ResultLine, StreamKind, VoiceWriter,
};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(5);

/// A client of the serial port: the daemon's driver, reduced to what the
/// tests need.
struct Client {
    port: File,
    profile: ModemProfile,
    parser: ModemParser,
    events: VecDeque<ModemEvent<'static>>,
    /// Received audio, unescaped, in arrival order.
    audio: Vec<u8>,
}

impl Client {
    fn open(modem: &EmulatedModem) -> Self {
        let port = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NOCTTY | nix::libc::O_NONBLOCK)
            .open(modem.path())
            .expect("open the pty slave");
        let mut termios = tcgetattr(&port).expect("tcgetattr on the pty");
        cfmakeraw(&mut termios);
        tcsetattr(&port, SetArg::TCSANOW, &termios).expect("raw mode");
        let profile = modem.profile().clone();
        Self {
            port,
            parser: ModemParser::new(profile.parser_config()),
            profile,
            events: VecDeque::new(),
            audio: Vec::new(),
        }
    }

    fn write(&mut self, mut bytes: &[u8]) {
        let deadline = Instant::now() + TIMEOUT;
        while !bytes.is_empty() {
            match self.port.write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "pty write stalled");
                    // Keep reading so the modem is never blocked on us.
                    self.pump(Duration::from_millis(5));
                }
                Err(e) => panic!("pty write: {e}"),
            }
        }
    }

    /// Reads for up to `wait`, parsing everything.
    fn pump(&mut self, wait: Duration) {
        let millis = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        let ready = {
            let mut fds = [PollFd::new(self.port.as_fd(), PollFlags::POLLIN)];
            poll(&mut fds, PollTimeout::from(millis)).expect("poll")
        };
        if ready == 0 {
            return;
        }
        let mut buf = [0u8; 8192];
        loop {
            match self.port.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    let (events, audio) = (&mut self.events, &mut self.audio);
                    self.parser.feed(&buf[..n], |event| match event {
                        ModemEvent::Audio(bytes) => audio.extend_from_slice(&bytes),
                        other => events.push_back(other.into_owned()),
                    });
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => panic!("pty read: {e}"),
            }
        }
    }

    /// The next non-audio event.
    fn next(&mut self) -> ModemEvent<'static> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(event) = self.events.pop_front() {
                return event;
            }
            assert!(Instant::now() < deadline, "no event from the modem");
            self.pump(Duration::from_millis(20));
        }
    }

    /// Skips events until `pred` matches; returns the skipped ones too.
    fn until(&mut self, pred: impl Fn(&ModemEvent<'_>) -> bool) -> Vec<ModemEvent<'static>> {
        let mut seen = Vec::new();
        loop {
            let event = self.next();
            let done = pred(&event);
            seen.push(event);
            if done {
                return seen;
            }
        }
    }

    /// Sends every line of `command`, returning each final result.
    fn command(&mut self, command: &Command) -> Vec<ResultLine> {
        let lines = Encoder::new(&self.profile)
            .encode(command)
            .expect("profile can encode it");
        let mut results = Vec::new();
        for line in lines {
            if let Some(kind) = line.opens {
                self.parser.expect_stream(kind);
            }
            self.write(&line.to_bytes());
            results.push(self.final_result());
        }
        results
    }

    fn final_result(&mut self) -> ResultLine {
        loop {
            if let ModemEvent::Line(line) = self.next() {
                if line.is_final() {
                    return line;
                }
            }
        }
    }

    fn raw(&mut self, text: &[u8]) -> ResultLine {
        self.write(text);
        self.final_result()
    }

    /// Runs hw's init state machine to its end.
    fn init(&mut self) -> InitOutcome {
        let mut init = InitSequence::new(&self.profile);
        let mut action = init.start();
        loop {
            match action {
                InitAction::Send(line) => {
                    self.write(&line.to_bytes());
                    action = loop {
                        let event = self.next();
                        if let Some(next) = init.on_event(&event) {
                            break next;
                        }
                    };
                }
                InitAction::Done(outcome) => return outcome,
                InitAction::Failed(error) => panic!("{}: init failed: {error}", self.profile.name),
            }
        }
    }

    /// Waits until `len` bytes of audio have arrived.
    fn audio_at_least(&mut self, len: usize) {
        let deadline = Instant::now() + TIMEOUT;
        while self.audio.len() < len {
            assert!(
                Instant::now() < deadline,
                "audio stopped at {}",
                self.audio.len()
            );
            self.pump(Duration::from_millis(20));
        }
    }
}

fn fast_ring() -> ModemOptions {
    ModemOptions {
        cadence: RingCadence {
            on_ms: 200,
            off_ms: 400,
            cid_delay_ms: 100,
        },
    }
}

fn start(profile: ModemProfile) -> (EmulatedModem, ModemHandle, Client) {
    let modem = EmulatedModem::start_with(profile, fast_ring()).expect("start the modem");
    let handle = modem.handle();
    let client = Client::open(&modem);
    (modem, handle, client)
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

/// Audio with many 0x10 bytes (and 0x03, 0x1A, '!' and '^' after them), so
/// any escaping mistake in either direction corrupts it.
fn tricky_audio(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| match i % 7 {
            0 | 3 => 0x10,
            1 => 0x03,
            4 => b'^',
            5 => 0x1A,
            _ => (i * 31 % 256) as u8,
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Rings, answers by going off-hook, and opens `kind`.
fn answer_and_open(client: &mut Client, handle: &ModemHandle, kind: StreamKind) {
    assert!(handle.incoming_call(caller()));
    client.until(|e| *e == ModemEvent::Line(ResultLine::Ring));
    for result in client.command(&Command::OffHook) {
        assert!(
            matches!(result, ResultLine::Ok | ResultLine::Vcon),
            "off-hook answered {result}"
        );
    }
    assert!(matches!(handle.state().call, CallState::Connected(_)));
    let command = match kind {
        StreamKind::Receive => Command::Receive,
        StreamKind::Transmit => Command::Transmit,
        StreamKind::FullDuplex => Command::FullDuplex,
    };
    assert_eq!(client.command(&command), vec![ResultLine::Connect(None)]);
    assert_eq!(client.next(), ModemEvent::StreamStarted(kind));
}

#[test]
fn init_succeeds_for_every_profile() {
    for profile in ModemProfile::all() {
        let (_modem, handle, mut client) = start(profile.clone());
        let outcome = client.init();
        let expected = profile.vsm.map(|v| v.id);
        if let Some(id) = expected {
            assert_eq!(outcome.vsm.id, id, "{}", profile.name);
        }
        assert_eq!(outcome.vsm.rate, profile.sample_rate(), "{}", profile.name);
        assert!(
            outcome.warnings.is_empty(),
            "{}: {:?}",
            profile.name,
            outcome.warnings
        );
        let expect_cw = match profile.name.as_str() {
            "lucent" => Some(true),
            "rockwell-legacy" | "usrobotics" => None,
            _ => Some(false),
        };
        assert_eq!(outcome.reports_call_waiting, expect_cw, "{}", profile.name);
        assert_eq!(
            handle.wire_format().format,
            outcome.vsm.format,
            "{}",
            profile.name
        );
        assert!(!handle.state().off_hook);
    }
}

#[test]
fn caller_id_arrives_between_rings_and_decodes() {
    for profile in [
        ModemProfile::conexant(),
        ModemProfile::lucent(),
        ModemProfile::rockwell_legacy(),
    ] {
        let (_modem, handle, mut client) = start(profile.clone());
        client.init();
        assert!(handle.incoming_call(caller()));
        let mut collector = CallerIdCollector::new();
        let mut rings = 0;
        let mut record = None;
        while rings < 2 {
            if let ModemEvent::Line(line) = client.next() {
                if line == ResultLine::Ring {
                    rings += 1;
                }
                if let Some(id) = collector.line(&line) {
                    record = Some(id);
                }
            }
        }
        assert_eq!(record, Some(caller()), "{}", profile.name);
        handle.far_end_hangup();
    }
}

#[test]
fn full_duplex_audio_both_ways_with_dle_bytes() {
    for profile in [ModemProfile::conexant(), ModemProfile::lucent()] {
        let (_modem, handle, mut client) = start(profile.clone());
        client.init();
        answer_and_open(&mut client, &handle, StreamKind::FullDuplex);

        // Far end → host.
        let far = tricky_audio(1600);
        assert!(handle.send_audio(&far));
        // Host → far end, written in odd-sized pieces.
        let ours = tricky_audio(2001);
        let mut writer = VoiceWriter::new();
        for piece in ours.chunks(333) {
            writer.audio(piece);
            let bytes = writer.take();
            client.write(&bytes);
        }
        let deadline = Instant::now() + TIMEOUT;
        let mut sent = Vec::new();
        while sent.len() < ours.len() {
            assert!(
                Instant::now() < deadline,
                "{}: host audio lost",
                profile.name
            );
            client.pump(Duration::from_millis(10));
            sent.extend(handle.take_transmitted_audio());
        }
        assert_eq!(sent, ours, "{}", profile.name);
        let deadline = Instant::now() + TIMEOUT;
        while !contains(&client.audio, &far) {
            assert!(
                Instant::now() < deadline,
                "{}: far-end audio not intact",
                profile.name
            );
            client.pump(Duration::from_millis(20));
        }

        // Real-time pace: about one second's worth per second (wide bounds:
        // this checks pacing, not speed, and CI machines are busy).
        let per_second = handle.wire_format().rate as usize
            * usize::from(handle.wire_format().format.bits())
            / 8;
        client.pump(Duration::from_millis(50));
        let before = client.audio.len();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_millis(1000) {
            client.pump(Duration::from_millis(20));
        }
        let got = client.audio.len() - before;
        let elapsed = t0.elapsed().as_secs_f64();
        let rate = got as f64 / elapsed;
        assert!(
            (0.5..1.5).contains(&(rate / per_second as f64)),
            "{}: {rate:.0} bytes/s, expected {per_second}",
            profile.name
        );
        assert!(client
            .events
            .iter()
            .all(|e| !matches!(e, ModemEvent::Error(_))));

        // A DTMF digit from the far end.
        let five = DtmfDigit::from_ascii(b'5').expect("digit");
        assert!(handle.dtmf(five));
        client.until(|e| *e == ModemEvent::Dle(DleEvent::Dtmf(five)));

        // Far end hangs up: loop current break.
        handle.far_end_hangup();
        client.until(|e| *e == ModemEvent::Dle(DleEvent::LoopBreak));

        // The host ends full duplex.
        client.write(&end_stream(StreamKind::FullDuplex));
        client.until(|e| *e == ModemEvent::Dle(DleEvent::EndOfStream));
        assert_eq!(client.final_result(), ResultLine::Ok);
        assert_eq!(
            client.command(&Command::OnHook).last(),
            Some(&ResultLine::Ok)
        );
        assert!(!handle.state().off_hook);
    }
}

#[test]
fn host_end_codes_end_each_stream_kind() {
    let (_modem, handle, mut client) = start(ModemProfile::conexant());
    client.init();
    answer_and_open(&mut client, &handle, StreamKind::Receive);
    client.write(&HostDle::AbortReceive.to_bytes());
    client.until(|e| *e == ModemEvent::Dle(DleEvent::EndOfStream));
    assert_eq!(client.final_result(), ResultLine::Ok);

    assert_eq!(
        client.command(&Command::Transmit),
        vec![ResultLine::Connect(None)]
    );
    assert_eq!(
        client.next(),
        ModemEvent::StreamStarted(StreamKind::Transmit)
    );
    let mut writer = VoiceWriter::new();
    writer
        .audio(&[0x80, 0x10, 0x81])
        .code(HostDle::ClearTransmit)
        .audio(&[0x10])
        .code(HostDle::EndOfTransmit);
    client.write(writer.as_bytes());
    client.until(|e| *e == ModemEvent::Dle(DleEvent::EndOfStream));
    assert_eq!(client.final_result(), ResultLine::Ok);
    assert_eq!(
        handle.take_transmitted_audio(),
        vec![0x80, 0x10, 0x81, 0x10]
    );

    // Full duplex closed half by half: <DLE><ETX> then <DLE>!.
    assert_eq!(
        client.command(&Command::FullDuplex),
        vec![ResultLine::Connect(None)]
    );
    assert_eq!(
        client.next(),
        ModemEvent::StreamStarted(StreamKind::FullDuplex)
    );
    client.write(&HostDle::EndOfTransmit.to_bytes());
    client.pump(Duration::from_millis(100));
    assert_eq!(handle.stream(), Some(StreamKind::FullDuplex));
    client.write(&HostDle::AbortReceive.to_bytes());
    client.until(|e| *e == ModemEvent::Dle(DleEvent::EndOfStream));
    assert_eq!(client.final_result(), ResultLine::Ok);
    assert_eq!(handle.stream(), None);
    // Still in command state and answering.
    assert_eq!(client.raw(b"AT\r"), ResultLine::Ok);
}

#[test]
fn garbage_commands_get_error_and_the_modem_keeps_working() {
    let (_modem, _handle, mut client) = start(ModemProfile::conexant());
    client.init();
    assert_eq!(client.raw(b"AT+NOSUCH=1\r"), ResultLine::Error);
    assert_eq!(client.raw(b"ATY7\r"), ResultLine::Error);
    assert_eq!(client.raw(b"AT\x10\x03\xff\r"), ResultLine::Error);
    assert_eq!(client.raw(b"AT+VSM=999,8000\r"), ResultLine::Error);
    assert_eq!(client.raw(b"AT+VSM=130,12345\r"), ResultLine::Error);
    assert_eq!(client.raw(b"AT+VTS=[100,0,5]\r"), ResultLine::Error);
    assert_eq!(client.raw(b"AT#CLS=8\r"), ResultLine::Error);
    let mut long = b"AT".to_vec();
    long.extend(std::iter::repeat_n(b'E', 5000));
    long.push(b'\r');
    assert_eq!(client.raw(&long), ResultLine::Error);
    // Lines not starting with AT are ignored, as modems do.
    client.write(b"hello\r\x10\x10\r");
    assert_eq!(client.raw(b"AT\r"), ResultLine::Ok);
    assert_eq!(client.command(&Command::VoiceMode), vec![ResultLine::Ok]);
    assert_eq!(client.command(&Command::OffHook), vec![ResultLine::Vcon]);
    assert_eq!(client.command(&Command::OnHook), vec![ResultLine::Ok]);
}

#[test]
fn call_waiting_is_audible_and_reported_where_the_family_does() {
    // Lucent (Venus) reports `<DLE>w` and the CIDCW report.
    let (_modem, handle, mut client) = start(ModemProfile::lucent());
    client.init();
    answer_and_open(&mut client, &handle, StreamKind::Receive);
    let second = CallerId {
        number: Some(CallerNumber::Number("5559876".into())),
        name: Some("SECOND".into()),
        ..CallerId::default()
    };
    assert!(handle.call_waiting(Some(second.clone())));
    client.until(|e| *e == ModemEvent::Dle(DleEvent::CallWaiting));
    let report = client.until(|e| matches!(e, ModemEvent::Report(_)));
    let Some(ModemEvent::Report(body)) = report.last() else {
        unreachable!()
    };
    let mut collector = CallerIdCollector::new();
    for line in report_lines(body) {
        collector.line(&line);
    }
    assert_eq!(collector.ring(), Some(second.clone()));
    client.write(&end_stream(StreamKind::Receive));
    client.until(|e| *e == ModemEvent::Dle(DleEvent::EndOfStream));
    assert_eq!(client.final_result(), ResultLine::Ok);
    // Take the waiting call with a 300 ms flash (§3.7).
    let t0 = Instant::now();
    assert_eq!(
        client.command(&Command::Flash { duration: Some(30) }),
        vec![ResultLine::Ok]
    );
    assert!(t0.elapsed() >= Duration::from_millis(250));
    let state = handle.state();
    assert_eq!(state.flashes, 1);
    assert_eq!(state.call, CallState::Connected(second));
    assert_eq!(state.waiting, Some(caller()));

    // Conexant does not report it: the SAS must be found in the audio.
    let (_modem, handle, mut client) = start(ModemProfile::conexant());
    client.init();
    answer_and_open(&mut client, &handle, StreamKind::Receive);
    client.pump(Duration::from_millis(100));
    let quiet_from = client.audio.len();
    assert!(client.audio[..quiet_from].iter().all(|&b| b == 0x80));
    assert!(handle.call_waiting(None));
    client.audio_at_least(quiet_from + 2400);
    let loud = client.audio[quiet_from..]
        .iter()
        .filter(|&&b| b.abs_diff(0x80) > 8)
        .count();
    assert!(loud > 1000, "SAS not in the audio ({loud} loud samples)");
    client.pump(Duration::from_millis(50));
    assert!(client
        .events
        .iter()
        .all(|e| *e != ModemEvent::Dle(DleEvent::CallWaiting)));
}

#[test]
fn legacy_rockwell_hash_set_receive_and_handset() {
    let (_modem, handle, mut client) = start(ModemProfile::rockwell_legacy());
    client.init();
    // Full duplex does not exist on the `#` set: hw refuses to encode it and
    // the modem refuses the spelling.
    assert_eq!(client.raw(b"AT#VTR\r"), ResultLine::Error);
    answer_and_open(&mut client, &handle, StreamKind::Receive);
    let far = tricky_audio(800);
    assert!(handle.send_audio(&far));
    let deadline = Instant::now() + TIMEOUT;
    while !contains(&client.audio, &far) {
        assert!(Instant::now() < deadline, "far-end audio not intact");
        client.pump(Duration::from_millis(20));
    }
    // `<DLE>t` is handset off-hook on this family (§3.9).
    handle.local_handset(true);
    client.until(|e| *e == ModemEvent::Dle(DleEvent::HandsetOffHook));
    client.write(&end_stream(StreamKind::Receive));
    client.until(|e| *e == ModemEvent::Dle(DleEvent::EndOfStream));
    assert_eq!(client.final_result(), ResultLine::Ok);
    // On-hook is ATH0 then #VLS=0 here.
    assert_eq!(
        client.command(&Command::OnHook),
        vec![ResultLine::Ok, ResultLine::Vcon]
    );
    assert!(!handle.state().off_hook);
}

#[test]
fn silence_and_busy_after_far_end_release() {
    let (_modem, handle, mut client) = start(ModemProfile::lucent());
    client.init();
    // Short silence interval: 0.5 s.
    client.command(&Command::SilenceDetection {
        sensitivity: 128,
        interval: 5,
    });
    answer_and_open(&mut client, &handle, StreamKind::Receive);
    // Lucent reports every silence as `s` (§3.9).
    client.until(|e| *e == ModemEvent::Dle(DleEvent::Silence));
    handle.far_end_hangup();
    client.until(|e| *e == ModemEvent::Dle(DleEvent::LoopBreak));
    client.until(|e| *e == ModemEvent::Dle(DleEvent::Busy));
    client.write(&end_stream(StreamKind::Receive));
    client.until(|e| *e == ModemEvent::Dle(DleEvent::EndOfStream));
    assert_eq!(client.final_result(), ResultLine::Ok);
}

/// The daemon's stack (§4): tokio-serial 5.5 / serialport 4.10 opens the
/// pty slave as a serial port (exclusive lock, raw termios, DTR failure
/// ignored) and talks to the modem asynchronously.
#[tokio::test(flavor = "current_thread")]
async fn tokio_serial_drives_the_modem_through_the_pty() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_serial::SerialPortBuilderExt;

    let modem = EmulatedModem::start_with(ModemProfile::conexant_hsf(), fast_ring())
        .expect("start the modem");
    let handle = modem.handle();
    let path = modem.path().to_string_lossy().into_owned();
    let mut port = tokio_serial::new(path, 115_200)
        .open_native_async()
        .expect("tokio-serial opens the pty slave");
    let profile = modem.profile().clone();
    let mut parser = ModemParser::new(profile.parser_config());
    let mut events: VecDeque<ModemEvent<'static>> = VecDeque::new();
    let mut audio = Vec::new();
    let mut buf = vec![0u8; 8192];

    // Reads until `pred` holds for the next event (or the audio).
    macro_rules! wait_for {
        ($pred:expr) => {{
            let deadline = tokio::time::Instant::now() + TIMEOUT;
            loop {
                if let Some(event) = events.pop_front() {
                    if $pred(&event) {
                        break event;
                    }
                    continue;
                }
                let n = tokio::time::timeout_at(deadline, AsyncReadExt::read(&mut port, &mut buf))
                    .await
                    .expect("modem answered in time")
                    .expect("read");
                parser.feed(&buf[..n], |event| match event {
                    ModemEvent::Audio(bytes) => audio.extend_from_slice(&bytes),
                    other => events.push_back(other.into_owned()),
                });
            }
        }};
    }

    let mut init = InitSequence::new(&profile);
    let mut action = init.start();
    let outcome = loop {
        match action {
            InitAction::Send(line) => {
                AsyncWriteExt::write_all(&mut port, &line.to_bytes())
                    .await
                    .expect("write");
                action = loop {
                    let event = wait_for!(|_: &ModemEvent<'_>| true);
                    if let Some(next) = init.on_event(&event) {
                        break next;
                    }
                };
            }
            InitAction::Done(outcome) => break outcome,
            InitAction::Failed(e) => panic!("init failed: {e}"),
        }
    };
    // HSF offers µ-law, which the profile selects.
    assert_eq!(outcome.vsm.id, 131);

    assert!(handle.incoming_call(caller()));
    wait_for!(|e: &ModemEvent<'_>| *e == ModemEvent::Line(ResultLine::Ring));
    let encoder = Encoder::new(&profile);
    for command in [Command::OffHook, Command::FullDuplex] {
        for line in encoder.encode(&command).expect("encodes") {
            if let Some(kind) = line.opens {
                parser.expect_stream(kind);
            }
            AsyncWriteExt::write_all(&mut port, &line.to_bytes())
                .await
                .expect("write");
            wait_for!(|e: &ModemEvent<'_>| matches!(e, ModemEvent::Line(l) if l.is_final()));
        }
    }
    wait_for!(|e: &ModemEvent<'_>| *e == ModemEvent::StreamStarted(StreamKind::FullDuplex));
    let far = tricky_audio(800);
    assert!(handle.send_audio(&far));
    let ours = tricky_audio(900);
    let mut writer = VoiceWriter::new();
    writer.audio(&ours);
    AsyncWriteExt::write_all(&mut port, writer.as_bytes())
        .await
        .expect("write audio");
    let deadline = Instant::now() + TIMEOUT;
    while !contains(&audio, &far) {
        assert!(Instant::now() < deadline, "far-end audio not intact");
        if let Ok(Ok(n)) = tokio::time::timeout(
            Duration::from_millis(50),
            AsyncReadExt::read(&mut port, &mut buf),
        )
        .await
        {
            parser.feed(&buf[..n], |event| match event {
                ModemEvent::Audio(bytes) => audio.extend_from_slice(&bytes),
                other => events.push_back(other.into_owned()),
            });
        }
    }
    AsyncWriteExt::write_all(&mut port, &end_stream(StreamKind::FullDuplex))
        .await
        .expect("write");
    wait_for!(|e: &ModemEvent<'_>| *e == ModemEvent::Dle(DleEvent::EndOfStream));
    let ok = wait_for!(|e: &ModemEvent<'_>| matches!(e, ModemEvent::Line(l) if l.is_final()));
    assert_eq!(ok, ModemEvent::Line(ResultLine::Ok));
    assert_eq!(handle.take_transmitted_audio(), ours);
}

#[test]
fn dialling_out_reaches_an_answering_party() {
    let (_modem, handle, mut client) = start(ModemProfile::conexant());
    client.init();
    assert_eq!(
        client.command(&Command::Dial("*8#".into())),
        vec![ResultLine::Vcon]
    );
    assert_eq!(handle.state().dialled.as_deref(), Some("*8#"));
    assert_eq!(handle.state().call, CallState::Outgoing);
    assert!(handle.far_end_answer(caller()));
    assert_eq!(handle.state().call, CallState::Connected(caller()));
    assert_eq!(
        client.command(&Command::Tones(
            pickupd_hw::v253::Tone::digits("12").expect("digits")
        )),
        vec![ResultLine::Ok]
    );
    assert_eq!(handle.state().sent_digits, "12");
}
