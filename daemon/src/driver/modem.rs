//! The voice-modem driver: `modem` lines, an ITU-T V.253 voice modem on a
//! serial port facing the exchange or a PBX (hardware.md §3, §4). To the
//! engine a modem line is a trunk whose caller ID comes in band: the first
//! `RING` is reported as [`HwEvent::RingStart`] with empty caller fields,
//! the modem's `NMBR`/`NAME` lines as [`HwEvent::CallerId`].
//!
//! Everything about the byte protocol comes from pickupd-hw's `v253`
//! module (parser, encoder, chipset profiles, the initialisation state
//! machine); this driver adds the I/O, the timing and the mapping to the
//! engine's events.
//!
//! # I/O: tokio-serial on one current-thread runtime
//!
//! One thread serves every modem line of the daemon; inside it a
//! current-thread tokio runtime runs one task per line, each owning its port
//! opened with tokio-serial (§4: it opens ptys and real ttys alike,
//! `O_NOCTTY | O_NONBLOCK`, takes the exclusive lock, raw termios, and
//! never needs the modem-control ioctls that ptys lack). Why async rather
//! than a `mio` state machine as in the DAHDI driver: a modem is driven by
//! conversations — send a command, wait for its final result or a timeout,
//! meanwhile hand any `RING` or caller-ID line to the signalling — and
//! those read as straight-line code with `await` and `timeout`, while each
//! line's task keeps its own state and its own failures (a hung modem stalls
//! only its own task). The engine's commands and the stop flag arrive on
//! queues that cannot wake a runtime, so a dispatcher task polls them every
//! [`TICK`] and forwards commands to the line tasks.
//!
//! # A line's life
//!
//! 1. Open the tty at 115200 bit/s (8-bit audio at 8 kHz needs more than
//!    80 000 bit/s, §3.3), write the host end codes `<DLE>^ <DLE>! <DLE><ETX>`
//!    in case an earlier run left a voice stream open, and wait for `OK` to
//!    a plain `AT`.
//! 2. Identify the chipset (§3.9): `ATI`, `AT+GMI`, `AT+GMM`; the Rockwell
//!    family's `ATI` numbers are shared by the V.253 Conexant parts and the
//!    legacy `#`-command-set parts, told apart by whether `AT+FCLASS=?`
//!    lists class 8. A modem that matches no family is taken as generic
//!    V.253 if it accepts `AT+FCLASS=8` and lists a PCM method in
//!    `AT+VSM=?` (what vgetty does); otherwise the line stays out of
//!    service with a message saying so. [`ModemLine::with_profile`] skips
//!    the identification.
//! 3. hw's [`InitSequence`] for the profile: reset, echo off, flow control,
//!    voice mode, compression, `+VLS=?` (does the modem report the
//!    call-waiting beep?), caller ID on (`+VCID=1` or `#CID=1`), inactivity
//!    timer off, on hook. A sample rate forced by a quirk (ELSA's 7200 Hz,
//!    for fax-tone detection pickupd does not use) is dropped: the daemon's
//!    detectors and rings run at 8 kHz.
//! 4. Idle: `RING` → `RingStart` (once per call; repeated once at the second
//!    ring when no caller ID came, which is when the engine shows an
//!    in-band-caller-ID call without one), caller-ID lines → `CallerId`
//!    (when number and name are both known, at the next ring, or
//!    [`CALLER_ID_SETTLE`] after the last line; empty fields when withheld),
//!    no ring for [`ModemTimings::ring_stop_after`] → `RingStop`. An idle
//!    modem is asked `AT+FCLASS?` (`AT#CLS?`) every
//!    [`ModemTimings::keepalive`]: no answer, or a class other than 8 (the
//!    modem reset itself), takes the line out of service.
//! 5. `Hook(true)`: off hook (`+VLS=<line label>`, plus `ATH1` on legacy
//!    parts) and full-duplex voice `+VTR` (legacy `#` parts have no full
//!    duplex: `#VRX`, and what the daemon transmits is dropped). Received
//!    audio is unescaped by the parser, converted from the negotiated
//!    `+VSM` format to signed 16-bit and pushed in 160-sample frames; frames
//!    to transmit are converted back and written with every 0x10 doubled.
//!    `<DLE>l` (loop current lost), `<DLE>b` (busy), `<DLE>s` (no voice
//!    energy: presumed hang-up; not on Lucent, whose `s` is any silence) and
//!    `<DLE>d` (dial tone, after answering a call) → `FarEndDisconnect`,
//!    once per seizure. `<DLE>w` (the modem's own call-waiting beep
//!    detector, §3.6 event 15) → `CallWaitingTone` after
//!    [`CALL_WAITING_HOLD`] unless a caller-ID-on-call-waiting report
//!    (`<DLE>X … <DLE>.`, event 28) follows, which becomes
//!    `CallWaitingAlert` + `CallWaitingCallerId`. DTMF codes are ignored:
//!    the media worker's detectors hear the digits in the audio.
//! 6. `Flash`: leave the voice stream (`<DLE>^`), `AT+VTS={!,<n>}` (§3.7;
//!    [`ModemLine::flash_ms`]), and open it again. `Hook(false)`: leave the
//!    stream, on hook (`+VLS=<on-hook label>`, and `ATH0`).
//!
//! # Failures
//!
//! A command without a final result within [`ModemTimings::command`], a
//! voice stream without a byte for [`ModemTimings::stream_silence`], a read
//! or write error or end of file (a USB modem unplugged, the pty gone), an
//! idle modem no longer in voice mode (it reset itself), or a run of
//! unrecognised data ([`GARBAGE_LIMIT`] items within
//! [`GARBAGE_WINDOW`]) takes the line out of service:
//! [`HwEvent::DeviceGone`] with the reason, the port is closed, and it is
//! reopened and initialised again every [`ModemTimings::retry_min`] …
//! [`ModemTimings::retry_max`] until that works ([`HwEvent::DeviceBack`]).
//! Other lines run in their own tasks and never notice. Nothing here panics
//! on anything the modem sends, and nothing is `unsafe`.

#![forbid(unsafe_code)]

use super::{Driver, DriverContext, Port, RING_FRAMES};
use crate::engine::{HwEvent, LineCommand, LineId};
use crate::runtime::EngineHandle;
use pickupd_dsp::{g711, Frame, FRAME_SAMPLES};
use pickupd_hw::v253::{
    end_stream, escape_audio_into, report_lines, select_vsm, CallerIdField, CallerNumber, Command,
    CommandLine, CommandSet, DleEvent, Encoder, InitAction, InitSequence, ModemEvent, ModemParser,
    ModemProfile, ResultLine, SampleFormat, StreamKind, VsmChoice, VsmEntry,
};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::thread::{JoinHandle, Thread};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;
use tokio_serial::{SerialPortBuilderExt, SerialStream};

/// How often the dispatcher looks at the engine's commands and the stop
/// flag, and how late a line task services its transmit ring.
pub const TICK: Duration = Duration::from_millis(10);
/// Serial speed: 8-bit audio at 8 kHz needs more than 80 000 bit/s (§3.3).
pub const BAUD: u32 = 115_200;
/// Hook-flash length when the line does not set one: within the
/// 300–1100 ms a North American exchange takes as a flash. European timed
/// break recall wants about 100 ms: set [`ModemLine::flash_ms`].
pub const DEFAULT_FLASH_MS: u32 = 600;
/// Caller-ID lines come in one burst: the record is complete when no line
/// has come for this long (or at the next ring).
pub const CALLER_ID_SETTLE: Duration = Duration::from_millis(150);
/// `<DLE>w` waits this long for a caller-ID-on-call-waiting report before it
/// is reported as a plain call-waiting tone.
pub const CALL_WAITING_HOLD: Duration = Duration::from_millis(300);
/// Unrecognised items (unknown lines while idle, malformed or oversized
/// input, unknown `<DLE>` codes) tolerated within [`GARBAGE_WINDOW`].
pub const GARBAGE_LIMIT: u32 = 20;
/// See [`GARBAGE_LIMIT`].
pub const GARBAGE_WINDOW: Duration = Duration::from_secs(10);
/// Received audio kept while the line task is busy elsewhere (a command
/// exchange): one second of 16-bit audio.
const MAX_PENDING_AUDIO: usize = 16_000;
/// How long leftovers of an earlier session are read and dropped after
/// opening the port.
const DRAIN: Duration = Duration::from_millis(60);
/// `AT` attempts before an opened modem counts as not answering.
const SYNC_ATTEMPTS: u32 = 3;
/// How long a line task may take to hang up when the daemon stops.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// Receive frames dropped because the media worker fell behind are
/// reported at most this often.
const OVERRUN_REPORT: Duration = Duration::from_secs(5);

/// Timeouts and intervals of the driver; [`Default`] suits real modems,
/// tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModemTimings {
    /// Longest wait for a command's final result (`ATZ` takes up to a second
    /// on real modems).
    pub command: Duration,
    /// An idle modem is asked for its class (`AT+FCLASS?`) this often; no
    /// answer, or not voice mode, takes the line out of service.
    pub keepalive: Duration,
    /// Longest gap in the modem's bytes while a voice stream is open (a
    /// modem sends audio continuously, 8000 bytes a second or more).
    pub stream_silence: Duration,
    /// First reopen attempt after the line went out of service; the
    /// interval doubles up to `retry_max`.
    pub retry_min: Duration,
    /// See `retry_min`.
    pub retry_max: Duration,
    /// An offered call counts as abandoned when no ring has come for this
    /// long: longer than the silent part of any ring cadence (4 s in North
    /// America, 4–5 s in Europe) plus a margin.
    pub ring_stop_after: Duration,
}

impl Default for ModemTimings {
    fn default() -> Self {
        ModemTimings {
            command: Duration::from_secs(3),
            keepalive: Duration::from_secs(20),
            stream_silence: Duration::from_secs(2),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            ring_stop_after: Duration::from_secs(8),
        }
    }
}

/// One `modem` line of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemLine {
    pub line: LineId,
    /// the line's name in the configuration (for messages)
    pub name: String,
    /// the serial port (`/dev/ttyACM0`, a udev symlink, a pty)
    pub device: PathBuf,
    /// The chipset profile; `None` identifies the modem at every open.
    pub profile: Option<ModemProfile>,
    /// Length of a hook flash in ms (`+VTS={!,<n>}` in 10 ms units);
    /// `None` is 600 ms (`DEFAULT_FLASH_MS` of this module).
    pub flash_ms: Option<u32>,
}

impl ModemLine {
    /// The line of kind `modem` whose `device` is the modem's tty. The
    /// chipset is identified when the port is opened.
    pub fn new(line: LineId, name: &str, device: &str) -> Result<Self, String> {
        let device = device.trim();
        if device.is_empty() {
            return Err(format!(
                "line \"{name}\" of kind modem needs the modem's serial port as its device, \
                 e.g. device = \"/dev/ttyACM0\""
            ));
        }
        if device.starts_with("sim:") || device.contains("dahdi/channel") {
            return Err(format!(
                "line \"{name}\" of kind modem: device \"{device}\" is not a serial port; \
                 a modem line names the modem's tty, e.g. device = \"/dev/ttyACM0\" \
                 (DAHDI channels are lines of kind fxo or fxs)"
            ));
        }
        Ok(ModemLine {
            line,
            name: name.to_owned(),
            device: PathBuf::from(device),
            profile: None,
            flash_ms: None,
        })
    }

    /// Uses `profile` instead of identifying the modem.
    pub fn with_profile(mut self, profile: ModemProfile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// How messages name this line.
    fn who(&self) -> String {
        format!("line \"{}\" (modem {})", self.name, self.device.display())
    }

    /// The flash length in 10 ms units, 1 … 255.
    fn flash_units(&self) -> u8 {
        let ms = self.flash_ms.unwrap_or(DEFAULT_FLASH_MS);
        u8::try_from(ms.div_ceil(10).clamp(1, 255)).unwrap_or(u8::MAX)
    }
}

/// A configuration the driver refuses (two lines on one serial port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemError {
    pub line: LineId,
    pub message: String,
}

impl fmt::Display for ModemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ModemError {}

/// The driver of every modem line: built with [`ModemDriver::new`],
/// started by the daemon through [`Driver::start`]. Ports are opened in the
/// driver's thread; a modem that cannot be opened or initialised puts its
/// line out of service ([`HwEvent::DeviceGone`]) until it can.
#[derive(Debug)]
pub struct ModemDriver {
    lines: Vec<ModemLine>,
    timings: ModemTimings,
}

impl ModemDriver {
    /// The driver for `lines`. Two lines on one device are an error.
    pub fn new(lines: Vec<ModemLine>) -> Result<Self, ModemError> {
        for (i, cfg) in lines.iter().enumerate() {
            if let Some(other) = lines[..i].iter().find(|o| o.device == cfg.device) {
                return Err(ModemError {
                    line: cfg.line,
                    message: format!(
                        "lines \"{}\" and \"{}\" both use the modem {}: a modem serves one \
                         line only (its port is opened exclusively)",
                        other.name,
                        cfg.name,
                        cfg.device.display()
                    ),
                });
            }
        }
        Ok(ModemDriver {
            lines,
            timings: ModemTimings::default(),
        })
    }

    /// Overrides the [`ModemTimings`] (for unusual modems, and tests).
    pub fn with_timings(mut self, timings: ModemTimings) -> Self {
        self.timings = timings;
        self
    }

    /// The lines this driver serves.
    pub fn lines(&self) -> impl Iterator<Item = &ModemLine> {
        self.lines.iter()
    }
}

impl Driver for ModemDriver {
    fn name(&self) -> &'static str {
        "modem"
    }

    fn start(self: Box<Self>, ctx: DriverContext) -> std::io::Result<JoinHandle<()>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("pickupd-modem-io".into())
            .spawn(move || runtime.block_on(self.run(ctx)))
    }
}

impl ModemDriver {
    async fn run(self, mut ctx: DriverContext) {
        let mut ports: HashMap<LineId, Port> = std::mem::take(&mut ctx.ports)
            .into_iter()
            .map(|p| (p.line, p))
            .collect();
        let mut senders: HashMap<LineId, UnboundedSender<LineCommand>> = HashMap::new();
        let mut tasks = tokio::task::JoinSet::new();
        for cfg in self.lines {
            let port = ports.remove(&cfg.line);
            if port.is_none() {
                tracing::warn!("{}: no audio port; its audio is not moved", cfg.who());
            }
            let (tx, rx) = unbounded_channel();
            senders.insert(cfg.line, tx);
            let task = LineTask::new(
                cfg,
                self.timings,
                ctx.engine.clone(),
                ctx.media.clone(),
                port,
                rx,
            );
            tasks.spawn(task.run());
        }
        for line in ports.keys() {
            tracing::warn!(
                "modem driver: got an audio port for line {}, which is not a modem line",
                line.0
            );
        }
        dispatch(&ctx.commands, &ctx.stop, &senders).await;
        // Closing the queues tells every line task to hang up and end.
        drop(senders);
        let all_done = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(STOP_GRACE, all_done).await.is_err() {
            tracing::warn!("modem driver: a modem did not hang up in time");
        }
    }
}

/// Forwards the engine's commands to the line tasks until the daemon stops.
async fn dispatch(
    commands: &Receiver<(LineId, LineCommand)>,
    stop: &Arc<AtomicBool>,
    senders: &HashMap<LineId, UnboundedSender<LineCommand>>,
) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        // Empty or disconnected: look again next tick (the stop flag ends
        // the driver, not the queue).
        while let Ok((line, cmd)) = commands.try_recv() {
            match senders.get(&line) {
                Some(tx) => {
                    let _ = tx.send(cmd);
                }
                None => tracing::warn!(
                    "modem driver: command {cmd:?} for line {}, which is not a modem line",
                    line.0
                ),
            }
        }
    }
}

// ----- identification -----

/// What the modem said about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Identity {
    /// `ATI` information lines.
    ati: Vec<String>,
    /// `AT+GMI` (manufacturer), empty on `ERROR`.
    gmi: Vec<String>,
    /// `AT+GMM` (model), empty on `ERROR`.
    gmm: Vec<String>,
}

impl Identity {
    fn texts(&self) -> impl Iterator<Item = &String> {
        self.ati.iter().chain(&self.gmi).chain(&self.gmm)
    }

    fn describe(&self) -> String {
        let join = |v: &[String]| {
            if v.is_empty() {
                "nothing".to_owned()
            } else {
                format!("\"{}\"", v.join(" / "))
            }
        };
        format!(
            "ATI answered {}, AT+GMI {}, AT+GMM {}",
            join(&self.ati),
            join(&self.gmi),
            join(&self.gmm)
        )
    }
}

/// The family an identity points to (§3.9).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Family {
    /// A profile of its own.
    Known(ModemProfile),
    /// Rockwell/Conexant numbers, shared by V.253 parts and the legacy `#`
    /// set: `AT+FCLASS=?` decides. `hsf`: the Conexant HSF softmodem.
    Rockwell { hsf: bool },
    /// Nothing matched: try generic V.253.
    Unknown,
}

/// vgetty's `ATI` numbers and PnP names (§3.9), and the manufacturer
/// names of `AT+GMI`.
fn classify(id: &Identity) -> Family {
    let upper: Vec<String> = id.texts().map(|t| t.trim().to_ascii_uppercase()).collect();
    let ati: Vec<String> = id
        .ati
        .iter()
        .map(|t| t.trim().to_ascii_uppercase())
        .collect();
    let any = |needle: &str| upper.iter().any(|t| t.contains(needle));
    let ati_is = |list: &[&str]| ati.iter().any(|t| list.contains(&t.as_str()));
    if any("USR0088") || ati_is(&["1445", "2886", "3361", "3362", "3366", "5601"]) {
        return Family::Known(ModemProfile::usrobotics());
    }
    if any("Z207") || any("U052099") {
        return Family::Known(ModemProfile::lucent());
    }
    let gmi_has = |needle: &str| {
        id.gmi
            .iter()
            .any(|t| t.to_ascii_uppercase().contains(needle))
    };
    if gmi_has("ELSA") {
        return Family::Known(ModemProfile::elsa());
    }
    let hsf = any("HSF");
    if hsf
        || ati_is(&["14400", "33600", "56000", "336", "961", "249"])
        || ati
            .iter()
            .any(|t| t.starts_with("RCV288") || t.starts_with("RCV336"))
        || gmi_has("ROCKWELL")
        || gmi_has("CONEXANT")
    {
        return Family::Rockwell { hsf };
    }
    Family::Unknown
}

/// The profile a Rockwell-family modem gets from its `AT+FCLASS=?` answer.
fn rockwell_profile(hsf: bool, fclass_lines: &[String]) -> ModemProfile {
    let has_voice = fclass_lines.iter().any(|l| {
        l.split(|c: char| c == ',' || c == '(' || c == ')' || c.is_whitespace())
            .any(|c| c.trim() == "8")
    });
    match (has_voice, hsf) {
        (false, _) => ModemProfile::rockwell_legacy(),
        (true, true) => ModemProfile::conexant_hsf(),
        (true, false) => ModemProfile::conexant(),
    }
}

// ----- audio -----

/// Received wire bytes → 160-sample frames of signed 16-bit PCM.
#[derive(Debug, Clone)]
struct Decoder {
    format: SampleFormat,
    /// the first byte of a 16-bit sample split across reads
    odd: Option<u8>,
    frame: Frame,
    fill: usize,
}

impl Decoder {
    /// `None` for formats that are not PCM (ADPCM, GSM).
    fn new(format: SampleFormat) -> Option<Self> {
        format.is_pcm().then_some(Decoder {
            format,
            odd: None,
            frame: [0; FRAME_SAMPLES],
            fill: 0,
        })
    }

    fn sample(&mut self, s: i16, out: &mut impl FnMut(Frame)) {
        self.frame[self.fill] = s;
        self.fill += 1;
        if self.fill == FRAME_SAMPLES {
            self.fill = 0;
            out(self.frame);
        }
    }

    fn push(&mut self, bytes: &[u8], out: &mut impl FnMut(Frame)) {
        match self.format {
            SampleFormat::SignedPcm16Le => {
                let mut rest = bytes;
                if let Some(lo) = self.odd.take() {
                    match rest.split_first() {
                        Some((&hi, tail)) => {
                            self.sample(i16::from_le_bytes([lo, hi]), out);
                            rest = tail;
                        }
                        None => {
                            self.odd = Some(lo);
                            return;
                        }
                    }
                }
                let mut pairs = rest.chunks_exact(2);
                for pair in pairs.by_ref() {
                    self.sample(i16::from_le_bytes([pair[0], pair[1]]), out);
                }
                self.odd = pairs.remainder().first().copied();
            }
            format => {
                for &b in bytes {
                    self.sample(decode8(format, b), out);
                }
            }
        }
    }
}

/// One 8-bit sample as signed 16-bit.
fn decode8(format: SampleFormat, b: u8) -> i16 {
    match format {
        SampleFormat::UnsignedPcm8 => (i16::from(b) - 128) << 8,
        SampleFormat::SignedPcm8 => i16::from(i8::from_ne_bytes([b])) << 8,
        SampleFormat::MuLaw => g711::ulaw_decode(b),
        SampleFormat::ALaw => g711::alaw_decode(b),
        _ => 0,
    }
}

/// A frame to transmit in the wire format, escaped (every 0x10 doubled),
/// appended to `out`. Nothing for formats that are not PCM.
fn encode_frame(format: SampleFormat, frame: &Frame, out: &mut Vec<u8>) {
    let mut wire = [0u8; FRAME_SAMPLES * 2];
    let len = match format {
        SampleFormat::SignedPcm16Le => {
            for (b, s) in wire.chunks_exact_mut(2).zip(frame) {
                b.copy_from_slice(&s.to_le_bytes());
            }
            FRAME_SAMPLES * 2
        }
        SampleFormat::UnsignedPcm8 => {
            for (b, &s) in wire.iter_mut().zip(frame) {
                *b = ((s >> 8) + 128).to_le_bytes()[0];
            }
            FRAME_SAMPLES
        }
        SampleFormat::SignedPcm8 => {
            for (b, &s) in wire.iter_mut().zip(frame) {
                *b = (s >> 8).to_le_bytes()[0];
            }
            FRAME_SAMPLES
        }
        SampleFormat::MuLaw => {
            g711::ulaw_encode_slice(frame, &mut wire[..FRAME_SAMPLES]);
            FRAME_SAMPLES
        }
        SampleFormat::ALaw => {
            g711::alaw_encode_slice(frame, &mut wire[..FRAME_SAMPLES]);
            FRAME_SAMPLES
        }
        _ => 0,
    };
    escape_audio_into(&wire[..len], out);
}

// ----- signalling -----

/// The caller-ID text of a number: the number, or empty when withheld or
/// unavailable (as the media worker reports an absent FSK number).
fn number_text(number: &CallerNumber) -> String {
    match number {
        CallerNumber::Number(n) => n.clone(),
        CallerNumber::Private | CallerNumber::Unavailable => String::new(),
    }
}

/// A name, or empty for the absence reasons `P` and `O`.
fn name_text(name: &str) -> String {
    match name.trim() {
        "P" | "O" => String::new(),
        other => other.to_owned(),
    }
}

/// Caller-ID fields gathered so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct CallerFields {
    number: Option<String>,
    name: Option<String>,
}

impl CallerFields {
    fn apply(&mut self, field: &CallerIdField) {
        match field {
            CallerIdField::Number(n) | CallerIdField::FromTo { caller: n, .. } => {
                self.number = Some(number_text(n))
            }
            CallerIdField::Name(n) => self.name = Some(name_text(n)),
            _ => {}
        }
    }

    fn is_empty(&self) -> bool {
        self.number.is_none() && self.name.is_none()
    }

    fn is_complete(&self) -> bool {
        self.number.is_some() && self.name.is_some()
    }

    fn take(&mut self) -> (String, String) {
        let fields = std::mem::take(self);
        (
            fields.number.unwrap_or_default(),
            fields.name.unwrap_or_default(),
        )
    }
}

/// The signalling half of a line: modem reports in, engine events out.
/// Pure (time is passed in), so its rules are unit-tested directly.
#[derive(Debug, Clone)]
struct Signalling {
    line: LineId,
    /// our hook
    off_hook: bool,
    /// went off hook to answer a ringing call (dial tone then means the far
    /// end is gone; after a seizure it is expected)
    answered: bool,
    /// a call is being offered (RingStart sent, no RingStop yet)
    ringing: bool,
    rings: u32,
    last_ring: Option<Instant>,
    caller: CallerFields,
    caller_due: Option<Instant>,
    caller_sent: bool,
    /// FarEndDisconnect sent since we went off hook
    disconnected: bool,
    /// `<DLE>w` held for a CIDCW report until then
    call_waiting_due: Option<Instant>,
}

impl Signalling {
    fn new(line: LineId) -> Self {
        Signalling {
            line,
            off_hook: false,
            answered: false,
            ringing: false,
            rings: 0,
            last_ring: None,
            caller: CallerFields::default(),
            caller_due: None,
            caller_sent: false,
            disconnected: false,
            call_waiting_due: None,
        }
    }

    fn ring_start(&self) -> HwEvent {
        HwEvent::RingStart {
            line: self.line,
            caller_number: String::new(),
            caller_name: String::new(),
            tag: None,
        }
    }

    /// The caller ID gathered so far, as an event (once per call).
    fn flush_caller(&mut self, out: &mut Vec<HwEvent>) {
        self.caller_due = None;
        if self.caller.is_empty() {
            return;
        }
        // Withheld or unavailable fields are empty; the event is sent all
        // the same, because it is what makes the engine show the call.
        let (number, name) = self.caller.take();
        self.caller_sent = true;
        out.push(HwEvent::CallerId {
            line: self.line,
            number,
            name,
        });
    }

    /// `RING` or `<DLE>R` while on hook.
    fn ring(&mut self, now: Instant) -> Vec<HwEvent> {
        let mut out = Vec::new();
        if self.off_hook {
            return out;
        }
        self.flush_caller(&mut out);
        self.last_ring = Some(now);
        if !self.ringing {
            self.ringing = true;
            self.rings = 1;
            out.push(self.ring_start());
        } else {
            self.rings = self.rings.saturating_add(1);
            if self.rings == 2 && !self.caller_sent {
                // The engine holds an in-band-caller-ID call for its caller
                // ID and shows it at the next ring without one.
                out.push(self.ring_start());
            }
        }
        out
    }

    /// A caller-ID line.
    fn caller_field(&mut self, field: &CallerIdField, now: Instant) -> Vec<HwEvent> {
        let mut out = Vec::new();
        if self.off_hook {
            return out;
        }
        if !self.ringing {
            // Caller ID before the first ring (or a missed ring): the call
            // is being offered.
            self.ringing = true;
            self.rings = 1;
            self.last_ring = Some(now);
            out.push(self.ring_start());
        }
        self.caller.apply(field);
        if self.caller.is_complete() {
            self.flush_caller(&mut out);
        } else {
            self.caller_due = Some(now + CALLER_ID_SETTLE);
        }
        out
    }

    /// Timers: caller ID settled, ringing stopped, call-waiting hold over.
    fn tick(&mut self, now: Instant, ring_stop_after: Duration) -> Vec<HwEvent> {
        let mut out = Vec::new();
        if self.caller_due.is_some_and(|due| now >= due) {
            self.flush_caller(&mut out);
        }
        if self.ringing && !self.off_hook {
            let since = now.saturating_duration_since(self.last_ring.unwrap_or(now));
            if since >= ring_stop_after {
                self.end_offer();
                out.push(HwEvent::RingStop { line: self.line });
            }
        }
        if self.call_waiting_due.is_some_and(|due| now >= due) {
            self.call_waiting_due = None;
            out.push(HwEvent::CallWaitingTone { line: self.line });
        }
        out
    }

    fn end_offer(&mut self) {
        self.ringing = false;
        self.rings = 0;
        self.last_ring = None;
        self.caller = CallerFields::default();
        self.caller_due = None;
        self.caller_sent = false;
    }

    /// Our hook changed (answering ends the offering silently).
    fn set_off_hook(&mut self, off_hook: bool) {
        if off_hook && !self.off_hook {
            self.answered = self.ringing;
            self.end_offer();
        }
        if !off_hook {
            self.answered = false;
        }
        self.off_hook = off_hook;
        self.disconnected = false;
        self.call_waiting_due = None;
    }

    /// A call-progress report that the far end is gone.
    fn far_end_gone(&mut self, event: DleEvent) -> Option<HwEvent> {
        if !self.off_hook || self.disconnected {
            return None;
        }
        if event == DleEvent::DialTone && !self.answered {
            // Seized to dial out: dial tone is what we wait for.
            return None;
        }
        self.disconnected = true;
        Some(HwEvent::FarEndDisconnect { line: self.line })
    }

    /// `<DLE>w`: the modem heard the call-waiting beep.
    fn call_waiting(&mut self, now: Instant) {
        if self.off_hook && self.call_waiting_due.is_none() {
            self.call_waiting_due = Some(now + CALL_WAITING_HOLD);
        }
    }

    /// A `<DLE>X … <DLE>.` report: caller ID of the waiting call (event 28).
    fn report(&mut self, body: &[u8]) -> Vec<HwEvent> {
        let mut fields = CallerFields::default();
        for line in report_lines(body) {
            if let ResultLine::CallerId(field) = line {
                fields.apply(&field);
            }
        }
        if fields.is_empty() || !self.off_hook {
            return Vec::new();
        }
        self.call_waiting_due = None;
        let (number, name) = fields.take();
        vec![
            HwEvent::CallWaitingAlert { line: self.line },
            HwEvent::CallWaitingCallerId {
                line: self.line,
                number,
                name,
            },
        ]
    }
}

/// Counts unrecognised input; too much in a window means the port is not
/// talking to a modem in the expected state.
#[derive(Debug, Clone)]
struct Garbage {
    since: Instant,
    count: u32,
}

impl Garbage {
    fn new(now: Instant) -> Self {
        Garbage {
            since: now,
            count: 0,
        }
    }

    /// Counts one item; `Err` when the limit is reached.
    fn note(&mut self, now: Instant, what: &str) -> Result<(), String> {
        if now.saturating_duration_since(self.since) > GARBAGE_WINDOW {
            self.since = now;
            self.count = 0;
        }
        self.count += 1;
        if self.count >= GARBAGE_LIMIT {
            return Err(format!(
                "the modem sends unrecognised data ({} items within {:?}, the last: {what})",
                self.count, GARBAGE_WINDOW
            ));
        }
        Ok(())
    }
}

// ----- the serial link -----

/// The open port and the parser of what it says.
struct Link {
    port: SerialStream,
    parser: ModemParser,
    /// non-audio events not yet handled
    events: VecDeque<ModemEvent<'static>>,
    /// received audio not yet converted (kept only while `keep_audio`)
    audio: Vec<u8>,
    keep_audio: bool,
    buf: Vec<u8>,
    last_byte: Instant,
}

impl Link {
    fn new(port: SerialStream, parser: ModemParser) -> Self {
        Link {
            port,
            parser,
            events: VecDeque::new(),
            audio: Vec::new(),
            keep_audio: false,
            buf: vec![0; 4096],
            last_byte: Instant::now(),
        }
    }

    /// One read, parsed. Cancel-safe: nothing is lost if the future is
    /// dropped before the read completes.
    async fn fill(&mut self) -> Result<(), String> {
        let n = match self.port.read(&mut self.buf).await {
            Ok(0) => return Err("end of file on the serial port (it was hung up)".into()),
            Ok(n) => n,
            Err(e) => return Err(format!("read from the serial port failed: {e}")),
        };
        self.last_byte = Instant::now();
        let (events, audio, keep) = (&mut self.events, &mut self.audio, self.keep_audio);
        self.parser.feed(&self.buf[..n], |event| match event {
            ModemEvent::Audio(bytes) => {
                if keep {
                    audio.extend_from_slice(&bytes);
                }
            }
            other => events.push_back(other.into_owned()),
        });
        if self.audio.len() > MAX_PENDING_AUDIO {
            let excess = self.audio.len() - MAX_PENDING_AUDIO;
            self.audio.drain(..excess);
        }
        Ok(())
    }

    /// The next non-audio event, or `None` at `deadline`.
    async fn next_event(
        &mut self,
        deadline: Instant,
    ) -> Result<Option<ModemEvent<'static>>, String> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(event));
            }
            match tokio::time::timeout_at(deadline, self.fill()).await {
                Err(_) => return Ok(None),
                Ok(result) => result?,
            }
        }
    }

    async fn write(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), String> {
        match tokio::time::timeout(timeout, self.port.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("write to the serial port failed: {e}")),
            Err(_) => Err(format!(
                "the serial port took no data for {timeout:?} (flow control stuck?)"
            )),
        }
    }
}

/// Per-connection state: from a successful initialisation until the line
/// goes out of service.
struct Conn {
    link: Link,
    profile: ModemProfile,
    vsm: VsmChoice,
    /// `None`: the format is not PCM, audio is not moved
    decoder: Option<Decoder>,
    /// the voice stream open, if any
    stream: Option<StreamKind>,
    /// we are off hook (a stream may or may not be open)
    off_hook: bool,
    /// the modem ended the stream by itself: reopen it then
    reopen_stream_at: Option<Instant>,
    next_keepalive: Instant,
    garbage: Garbage,
    tx_bytes: Vec<u8>,
    tx_drop_warned: bool,
}

/// How a session ended.
enum End {
    /// The daemon stops.
    Stop,
    /// The line goes out of service.
    Gone(String),
}

impl From<String> for End {
    fn from(why: String) -> Self {
        End::Gone(why)
    }
}

/// One modem line's task.
struct LineTask {
    cfg: ModemLine,
    t: ModemTimings,
    engine: EngineHandle,
    media: Thread,
    port: Option<Port>,
    cmds: UnboundedReceiver<LineCommand>,
    sig: Signalling,
    rx_overruns: u64,
    overruns_reported: Instant,
}

enum Wake {
    Read(Result<(), String>),
    Command(Option<LineCommand>),
    Tick,
}

impl LineTask {
    fn new(
        cfg: ModemLine,
        t: ModemTimings,
        engine: EngineHandle,
        media: Thread,
        port: Option<Port>,
        cmds: UnboundedReceiver<LineCommand>,
    ) -> Self {
        let sig = Signalling::new(cfg.line);
        LineTask {
            cfg,
            t,
            engine,
            media,
            port,
            cmds,
            sig,
            rx_overruns: 0,
            overruns_reported: Instant::now(),
        }
    }

    fn hw(&self, events: Vec<HwEvent>) {
        for ev in events {
            tracing::debug!("{}: {ev:?}", self.cfg.who());
            self.engine.hw(ev);
        }
    }

    async fn run(mut self) {
        let who = self.cfg.who();
        // `Some(reason)` while out of service (DeviceGone sent).
        let mut down: Option<String> = None;
        let mut delay = self.t.retry_min;
        loop {
            let end = match self.connect().await {
                Ok(mut conn) => {
                    if down.take().is_some() {
                        tracing::info!("{who}: back in service");
                        self.engine.hw(HwEvent::DeviceBack {
                            line: self.cfg.line,
                            off_hook: false,
                        });
                    }
                    delay = self.t.retry_min;
                    let end = self.serve(&mut conn).await;
                    if let End::Stop = end {
                        self.hang_up_at_stop(&mut conn).await;
                    }
                    end
                }
                Err(end) => end,
            };
            self.sig = Signalling::new(self.cfg.line);
            match end {
                End::Stop => return,
                End::Gone(why) => match &down {
                    None => {
                        tracing::warn!("{who}: out of service: {why}");
                        self.engine.hw(HwEvent::DeviceGone {
                            line: self.cfg.line,
                            why: why.clone(),
                        });
                        down = Some(why);
                    }
                    Some(previous) => {
                        if *previous != why {
                            tracing::info!("{who}: still unavailable: {why}");
                            down = Some(why);
                        }
                        delay = (delay * 2).min(self.t.retry_max);
                    }
                },
            }
            if self.wait_out_of_service(delay).await.is_err() {
                return;
            }
        }
    }

    /// Out of service for `delay`: commands are dropped, transmit frames
    /// discarded. `Err` when the daemon stops.
    async fn wait_out_of_service(&mut self, delay: Duration) -> Result<(), ()> {
        let until = Instant::now() + delay;
        loop {
            self.discard_tx();
            let wake = tokio::select! {
                cmd = self.cmds.recv() => Some(cmd),
                _ = tokio::time::sleep_until(until.min(Instant::now() + Duration::from_millis(100))) => None,
            };
            match wake {
                Some(None) => return Err(()),
                Some(Some(cmd)) => {
                    tracing::debug!("{}: {cmd:?} ignored: out of service", self.cfg.who())
                }
                None => {}
            }
            if Instant::now() >= until {
                return Ok(());
            }
        }
    }

    fn discard_tx(&mut self) {
        if let Some(port) = self.port.as_mut() {
            while port.tx.pop().is_ok() {}
        }
    }

    // ----- opening and initialisation -----

    /// Opens, identifies and initialises the modem.
    async fn connect(&mut self) -> Result<Conn, End> {
        let path = self.cfg.device.to_string_lossy().into_owned();
        let port = tokio_serial::new(path.as_str(), BAUD)
            .open_native_async()
            .map_err(|e| End::Gone(explain_open(&path, &e)))?;
        let mut conn = Conn {
            link: Link::new(
                port,
                ModemParser::new(ModemProfile::conexant().parser_config()),
            ),
            profile: ModemProfile::conexant(),
            vsm: VsmChoice {
                id: 0,
                format: SampleFormat::UnsignedPcm8,
                rate: 8000,
            },
            decoder: None,
            stream: None,
            off_hook: false,
            reopen_stream_at: None,
            next_keepalive: Instant::now(),
            garbage: Garbage::new(Instant::now()),
            tx_bytes: Vec::new(),
            tx_drop_warned: false,
        };
        self.synchronise(&mut conn).await?;
        let profile = match &self.cfg.profile {
            Some(p) => p.clone(),
            None => self.identify(&mut conn).await?,
        };
        let mut profile = profile;
        if profile.sample_rate() != 8000 {
            tracing::info!(
                "{}: profile {} asks for {} samples/s (for fax and data tone \
                 detection pickupd does not use); using 8000",
                self.cfg.who(),
                profile.name,
                profile.sample_rate()
            );
            profile.quirks.forced_sample_rate = None;
            if let Some(vsm) = profile.vsm.as_mut() {
                vsm.rate = 8000;
            }
        }
        conn.link.parser = ModemParser::new(profile.parser_config());
        conn.profile = profile;
        self.initialise(&mut conn).await?;
        conn.next_keepalive = Instant::now() + self.t.keepalive;
        conn.garbage = Garbage::new(Instant::now());
        Ok(conn)
    }

    /// Ends a voice stream an earlier run may have left open, drops
    /// whatever is waiting, and waits for `OK` to `AT`.
    async fn synchronise(&mut self, conn: &mut Conn) -> Result<(), End> {
        let timeout = self.t.command;
        let mut abort = Vec::new();
        for kind in [
            StreamKind::FullDuplex,
            StreamKind::Receive,
            StreamKind::Transmit,
        ] {
            abort.extend_from_slice(&end_stream(kind));
        }
        abort.push(b'\r');
        conn.link.write(&abort, timeout).await?;
        let until = Instant::now() + DRAIN;
        while conn.link.next_event(until).await?.is_some() {}
        conn.link.parser.reset();
        conn.link.events.clear();
        let at = raw_line("AT");
        for _ in 0..SYNC_ATTEMPTS {
            conn.link.write(&at.to_bytes(), timeout).await?;
            let deadline = Instant::now() + timeout;
            while let Some(event) = conn.link.next_event(deadline).await? {
                if let ModemEvent::Line(line) = &event {
                    if line.is_final() {
                        return Ok(());
                    }
                }
            }
        }
        Err(End::Gone(format!(
            "the modem did not answer AT ({SYNC_ATTEMPTS} attempts, {timeout:?} each)"
        )))
    }

    /// Sends `text` and returns its final result with the information
    /// lines before it. Unsolicited reports go to the signalling.
    async fn query(
        &mut self,
        conn: &mut Conn,
        text: &str,
    ) -> Result<(ResultLine, Vec<String>), End> {
        let line = raw_line(text);
        let mut info = Vec::new();
        conn.link.write(&line.to_bytes(), self.t.command).await?;
        let deadline = Instant::now() + self.t.command;
        loop {
            match conn.link.next_event(deadline).await? {
                None => return Err(self.no_answer(&line.text)),
                Some(ModemEvent::Line(ResultLine::Info(text))) => {
                    if info.len() < 32 {
                        info.push(text);
                    }
                }
                Some(ModemEvent::Line(result)) if result.is_final() => return Ok((result, info)),
                Some(other) => self.on_event(conn, other)?,
            }
        }
    }

    fn no_answer(&self, command: &str) -> End {
        End::Gone(format!(
            "the modem did not answer {command} within {:?}",
            self.t.command
        ))
    }

    /// Finds the chipset profile (§3.9).
    async fn identify(&mut self, conn: &mut Conn) -> Result<ModemProfile, End> {
        let mut id = Identity::default();
        for (text, slot) in [("ATI", 0), ("AT+GMI", 1), ("AT+GMM", 2)] {
            let (result, info) = self.query(conn, text).await?;
            if result == ResultLine::Ok {
                let lines: Vec<String> = info.into_iter().filter(|l| !l.is_empty()).collect();
                match slot {
                    0 => id.ati = lines,
                    1 => id.gmi = lines,
                    _ => id.gmm = lines,
                }
            }
        }
        let profile = match classify(&id) {
            Family::Known(profile) => profile,
            Family::Rockwell { hsf } => {
                let (result, info) = self.query(conn, "AT+FCLASS=?").await?;
                let info = if result == ResultLine::Ok {
                    info
                } else {
                    Vec::new()
                };
                rockwell_profile(hsf, &info)
            }
            Family::Unknown => {
                // vgetty's test for a generic V.253 modem: voice mode and a
                // PCM method at 8000 samples/s.
                let (voice, _) = self.query(conn, "AT+FCLASS=8").await?;
                let (listed, entries) = self.query(conn, "AT+VSM=?").await?;
                let entries: Vec<VsmEntry> =
                    entries.iter().filter_map(|l| VsmEntry::parse(l)).collect();
                if voice != ResultLine::Ok
                    || listed != ResultLine::Ok
                    || select_vsm(&entries, 8000).is_none()
                {
                    let why = if voice != ResultLine::Ok {
                        format!("AT+FCLASS=8 answered {voice}")
                    } else {
                        format!(
                            "AT+VSM=? answered {listed} and lists no PCM method at 8000 \
                             samples/s ({} methods)",
                            entries.len()
                        )
                    };
                    return Err(End::Gone(format!(
                        "unknown modem: {}; it is none of the known families \
                         (Rockwell/Conexant, USRobotics, Lucent/Agere, ELSA) and not a \
                         V.253 voice modem ({why})",
                        id.describe()
                    )));
                }
                ModemProfile::generic_v253()
            }
        };
        tracing::info!(
            "{}: modem identified as {} ({})",
            self.cfg.who(),
            profile.name,
            id.describe()
        );
        Ok(profile)
    }

    /// hw's initialisation sequence for the profile.
    async fn initialise(&mut self, conn: &mut Conn) -> Result<(), End> {
        let mut init = InitSequence::new(&conn.profile);
        let mut action = init.start();
        loop {
            match action {
                InitAction::Send(line) => {
                    conn.link.write(&line.to_bytes(), self.t.command).await?;
                    let deadline = Instant::now() + self.t.command;
                    action = loop {
                        match conn.link.next_event(deadline).await? {
                            None => break init.on_timeout(),
                            Some(event) => {
                                if let Some(next) = init.on_event(&event) {
                                    break next;
                                }
                                // Ring and caller ID may come at any time.
                                match event {
                                    ModemEvent::Line(ResultLine::Ring)
                                    | ModemEvent::Line(ResultLine::CallerId(_))
                                    | ModemEvent::Dle(DleEvent::Ring) => {
                                        self.on_event(conn, event)?
                                    }
                                    _ => {}
                                }
                            }
                        }
                    };
                }
                InitAction::Done(outcome) => {
                    for warning in &outcome.warnings {
                        tracing::info!("{}: {warning}", self.cfg.who());
                    }
                    conn.vsm = outcome.vsm;
                    conn.decoder = Decoder::new(outcome.vsm.format);
                    if conn.decoder.is_none() {
                        tracing::error!(
                            "{}: the modem offers no PCM audio ({:?}, +VSM={}): calls get \
                             signalling only, no audio",
                            self.cfg.who(),
                            outcome.vsm.format,
                            outcome.vsm.id
                        );
                    }
                    let call_waiting = match outcome.reports_call_waiting {
                        Some(true) => "reports the call-waiting beep itself",
                        Some(false) => "does not report the call-waiting beep",
                        None => "did not say whether it reports the call-waiting beep",
                    };
                    tracing::info!(
                        "{}: ready: profile {}, +VSM={} ({:?}, {} samples/s); the modem {call_waiting}",
                        self.cfg.who(),
                        conn.profile.name,
                        outcome.vsm.id,
                        outcome.vsm.format,
                        outcome.vsm.rate
                    );
                    return Ok(());
                }
                InitAction::Failed(e) => {
                    return Err(End::Gone(format!(
                        "initialisation as {} failed: {e}",
                        conn.profile.name
                    )))
                }
            }
        }
    }

    // ----- serving -----

    async fn serve(&mut self, conn: &mut Conn) -> End {
        loop {
            match self.turn(conn).await {
                Ok(true) => {}
                Ok(false) => return End::Stop,
                Err(end) => return end,
            }
        }
    }

    /// One turn of the loop: wait for bytes, a command or the tick, then
    /// handle input, timers and transmit audio. `Ok(false)` when the
    /// daemon stops.
    async fn turn(&mut self, conn: &mut Conn) -> Result<bool, End> {
        let wake = tokio::select! {
            r = conn.link.fill() => Wake::Read(r),
            cmd = self.cmds.recv() => Wake::Command(cmd),
            _ = tokio::time::sleep(TICK) => Wake::Tick,
        };
        match wake {
            Wake::Read(result) => result?,
            Wake::Command(None) => return Ok(false),
            Wake::Command(Some(cmd)) => self.command(conn, cmd).await?,
            Wake::Tick => {}
        }
        // Also what a command exchange left queued behind its result.
        self.handle_input(conn)?;
        self.timers(conn).await?;
        self.transmit(conn).await?;
        Ok(true)
    }

    /// Events and audio read so far.
    fn handle_input(&mut self, conn: &mut Conn) -> Result<(), End> {
        while let Some(event) = conn.link.events.pop_front() {
            self.on_event(conn, event)?;
        }
        self.receive(conn);
        Ok(())
    }

    /// Received audio → frames on the receive ring.
    fn receive(&mut self, conn: &mut Conn) {
        if conn.link.audio.is_empty() {
            return;
        }
        let audio = std::mem::take(&mut conn.link.audio);
        let mut pushed = false;
        if let (Some(decoder), Some(port)) = (conn.decoder.as_mut(), self.port.as_mut()) {
            let overruns = &mut self.rx_overruns;
            decoder.push(&audio, &mut |frame| {
                if port.rx.push(frame).is_ok() {
                    pushed = true;
                } else {
                    *overruns += 1;
                }
            });
        }
        // Keep the allocation.
        conn.link.audio = audio;
        conn.link.audio.clear();
        if pushed {
            self.media.unpark();
        }
    }

    /// One unsolicited event (anything no command exchange is waiting for).
    fn on_event(&mut self, conn: &mut Conn, event: ModemEvent<'static>) -> Result<(), End> {
        let now = Instant::now();
        match event {
            ModemEvent::Line(ResultLine::Ring) => {
                let events = self.sig.ring(now);
                self.hw(events);
            }
            ModemEvent::Line(ResultLine::CallerId(field)) => {
                tracing::debug!("{}: caller ID {field:?}", self.cfg.who());
                let events = self.sig.caller_field(&field, now);
                self.hw(events);
            }
            ModemEvent::Line(ResultLine::RingCadence { .. } | ResultLine::ToneCadence { .. }) => {}
            ModemEvent::Line(ResultLine::Info(text)) => {
                tracing::debug!("{}: unexpected line {text:?}", self.cfg.who());
                conn.garbage.note(now, &format!("line {text:?}"))?;
            }
            ModemEvent::Line(ResultLine::Numeric(code)) => {
                conn.garbage.note(now, &format!("numeric result {code}"))?;
            }
            ModemEvent::Line(line) => {
                tracing::debug!("{}: unsolicited {line}", self.cfg.who());
            }
            ModemEvent::Echo(text) => {
                tracing::debug!("{}: echo {text:?}", self.cfg.who());
            }
            ModemEvent::StreamStarted(_) | ModemEvent::Audio(_) => {}
            ModemEvent::Report(body) => {
                tracing::info!(
                    "{}: modem report {:?}",
                    self.cfg.who(),
                    String::from_utf8_lossy(&body)
                );
                let events = self.sig.report(&body);
                self.hw(events);
            }
            ModemEvent::Error(e) => {
                tracing::debug!("{}: {e}", self.cfg.who());
                conn.garbage.note(now, &e.to_string())?;
            }
            ModemEvent::Dle(event) => self.on_dle(conn, event, now)?,
        }
        Ok(())
    }

    fn on_dle(&mut self, conn: &mut Conn, event: DleEvent, now: Instant) -> Result<(), End> {
        match event {
            DleEvent::Ring => {
                let events = self.sig.ring(now);
                self.hw(events);
            }
            DleEvent::LoopBreak | DleEvent::Busy | DleEvent::DialTone | DleEvent::NoVoiceEnergy => {
                if let Some(ev) = self.sig.far_end_gone(event) {
                    tracing::info!("{}: far end gone ({event:?})", self.cfg.who());
                    self.hw(vec![ev]);
                }
            }
            DleEvent::CallWaiting => {
                tracing::info!(
                    "{}: the modem reports a call-waiting tone (<DLE>w)",
                    self.cfg.who()
                );
                self.sig.call_waiting(now);
            }
            DleEvent::EndOfStream => {
                if let Some(kind) = conn.stream.take() {
                    tracing::warn!(
                        "{}: the modem ended the voice stream ({kind:?}) by itself; reopening it",
                        self.cfg.who()
                    );
                    conn.link.keep_audio = false;
                    // Its final result comes next; ask again after that.
                    conn.reopen_stream_at = Some(now + Duration::from_millis(200));
                }
            }
            DleEvent::HandsetOffHook | DleEvent::HandsetOnHook => {
                tracing::info!("{}: the local phone reports {event:?}", self.cfg.who());
            }
            DleEvent::ReceiveOverrun
            | DleEvent::TransmitUnderrun
            | DleEvent::LostData
            | DleEvent::InvalidVoiceFormat => {
                tracing::debug!("{}: modem reports {event:?}", self.cfg.who());
            }
            DleEvent::Unknown(code) => {
                conn.garbage
                    .note(now, &format!("unknown <DLE> code 0x{code:02X}"))?;
            }
            // DTMF: the media worker's detectors hear it in the audio. The
            // rest is call progress the engine has no use for.
            _ => {}
        }
        Ok(())
    }

    /// Timers of the signalling, the keepalive and the stream watchdog.
    async fn timers(&mut self, conn: &mut Conn) -> Result<(), End> {
        let now = Instant::now();
        let events = self.sig.tick(now, self.t.ring_stop_after);
        self.hw(events);
        if now.saturating_duration_since(self.overruns_reported) >= OVERRUN_REPORT {
            self.overruns_reported = now;
            if self.rx_overruns > 0 {
                tracing::warn!(
                    "{}: media worker fell behind: {} receive frames dropped",
                    self.cfg.who(),
                    self.rx_overruns
                );
                self.rx_overruns = 0;
            }
        }
        if conn.stream.is_some() {
            let quiet = now.saturating_duration_since(conn.link.last_byte);
            if quiet >= self.t.stream_silence {
                return Err(End::Gone(format!(
                    "the modem sent nothing for {quiet:?} during a voice stream"
                )));
            }
            return Ok(());
        }
        if let Some(at) = conn.reopen_stream_at {
            if now >= at {
                conn.reopen_stream_at = None;
                if conn.off_hook {
                    self.open_stream(conn).await?;
                }
                return Ok(());
            }
        }
        if now >= conn.next_keepalive {
            // Asking for the class rather than a bare `AT` also notices a
            // modem that reset itself (power glitch) and left voice mode.
            let query = match conn.profile.command_set {
                CommandSet::V253 => "AT+FCLASS?",
                CommandSet::Hash => "AT#CLS?",
            };
            let (result, info) = self.query(conn, query).await?;
            if let Some(class) = fclass_answer(&result, &info) {
                if class != "8" {
                    return Err(End::Gone(format!(
                        "the modem left voice mode ({query} answered {class}; was it reset?)"
                    )));
                }
            } else {
                tracing::debug!("{}: {query} answered {result} {info:?}", self.cfg.who());
            }
            conn.next_keepalive = Instant::now() + self.t.keepalive;
        }
        Ok(())
    }

    /// Frames the daemon transmits → the modem (or dropped when there is
    /// no stream to carry them).
    async fn transmit(&mut self, conn: &mut Conn) -> Result<(), End> {
        let Some(port) = self.port.as_mut() else {
            return Ok(());
        };
        let carries_tx = matches!(
            conn.stream,
            Some(StreamKind::FullDuplex | StreamKind::Transmit)
        ) && conn.decoder.is_some();
        if !carries_tx {
            let mut dropped = false;
            while port.tx.pop().is_ok() {
                dropped = true;
            }
            if dropped && conn.stream.is_some() && !conn.tx_drop_warned {
                conn.tx_drop_warned = true;
                tracing::warn!(
                    "{}: this modem cannot send the daemon's audio during a call \
                     (profile {} has no full-duplex voice or no PCM format); it is dropped",
                    self.cfg.who(),
                    conn.profile.name
                );
            }
            return Ok(());
        }
        conn.tx_bytes.clear();
        for _ in 0..=RING_FRAMES {
            match port.tx.pop() {
                Ok(frame) => encode_frame(conn.vsm.format, &frame, &mut conn.tx_bytes),
                Err(_) => break,
            }
        }
        if conn.tx_bytes.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::take(&mut conn.tx_bytes);
        let result = conn.link.write(&bytes, self.t.command).await;
        conn.tx_bytes = bytes;
        result.map_err(End::Gone)
    }

    // ----- the engine's commands -----

    async fn command(&mut self, conn: &mut Conn, cmd: LineCommand) -> Result<(), End> {
        tracing::debug!("{}: {cmd:?}", self.cfg.who());
        match cmd {
            LineCommand::Hook(true) => self.off_hook(conn).await,
            LineCommand::Hook(false) => self.on_hook(conn).await,
            LineCommand::Flash => self.flash(conn).await,
            other => {
                tracing::warn!(
                    "{}: {other:?} does not apply to a modem line; ignored",
                    self.cfg.who()
                );
                Ok(())
            }
        }
    }

    /// Sends every line of `command`; `Ok(false)` (logged) when the modem
    /// refused one.
    async fn run_command(
        &mut self,
        conn: &mut Conn,
        command: &Command,
        extra_time: Duration,
    ) -> Result<bool, End> {
        let lines = match Encoder::new(&conn.profile).encode(command) {
            Ok(lines) => lines,
            Err(e) => {
                tracing::warn!("{}: {e}", self.cfg.who());
                return Ok(false);
            }
        };
        for line in lines {
            let result = self
                .exchange(conn, &line, self.t.command + extra_time)
                .await?;
            if !matches!(
                result,
                ResultLine::Ok | ResultLine::Vcon | ResultLine::Connect(_)
            ) {
                tracing::warn!(
                    "{}: the modem answered {result} to {}",
                    self.cfg.who(),
                    line.text
                );
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Writes one command line and waits for its final result.
    async fn exchange(
        &mut self,
        conn: &mut Conn,
        line: &CommandLine,
        timeout: Duration,
    ) -> Result<ResultLine, End> {
        if let Some(kind) = line.opens {
            conn.link.parser.expect_stream(kind);
        }
        conn.link.write(&line.to_bytes(), self.t.command).await?;
        let deadline = Instant::now() + timeout;
        loop {
            match conn.link.next_event(deadline).await? {
                None => {
                    return Err(End::Gone(format!(
                        "the modem did not answer {} within {timeout:?}",
                        line.text
                    )))
                }
                Some(ModemEvent::Line(result)) if result.is_final() => return Ok(result),
                Some(other) => self.on_event(conn, other)?,
            }
        }
    }

    /// Answer or seize: off hook, then the voice stream.
    async fn off_hook(&mut self, conn: &mut Conn) -> Result<(), End> {
        if conn.off_hook {
            return Ok(());
        }
        if !self
            .run_command(conn, &Command::OffHook, Duration::ZERO)
            .await?
        {
            tracing::error!("{}: the modem did not go off hook", self.cfg.who());
            return Ok(());
        }
        conn.off_hook = true;
        self.sig.set_off_hook(true);
        tracing::info!(
            "{}: off hook ({})",
            self.cfg.who(),
            if self.sig.answered {
                "answered"
            } else {
                "seized"
            }
        );
        self.open_stream(conn).await
    }

    /// Opens the voice stream: full duplex, or receive-only on the legacy
    /// `#` set.
    async fn open_stream(&mut self, conn: &mut Conn) -> Result<(), End> {
        let (command, kind) = match conn.profile.command_set {
            CommandSet::V253 => (Command::FullDuplex, StreamKind::FullDuplex),
            CommandSet::Hash => (Command::Receive, StreamKind::Receive),
        };
        conn.link.keep_audio = true;
        conn.link.audio.clear();
        if self.run_command(conn, &command, Duration::ZERO).await? {
            conn.stream = Some(kind);
            conn.link.last_byte = Instant::now();
            if let Some(d) = conn.decoder.as_mut() {
                d.odd = None;
                d.fill = 0;
            }
        } else {
            conn.link.keep_audio = false;
            tracing::error!(
                "{}: the modem did not open the voice stream",
                self.cfg.who()
            );
        }
        Ok(())
    }

    /// Leaves the voice stream, if one is open: the host end code, then
    /// `<DLE><ETX>` and the final result from the modem.
    async fn close_stream(&mut self, conn: &mut Conn) -> Result<(), End> {
        conn.reopen_stream_at = None;
        conn.link.keep_audio = false;
        conn.link.audio.clear();
        let Some(kind) = conn.stream.take() else {
            return Ok(());
        };
        conn.link.write(&end_stream(kind), self.t.command).await?;
        let deadline = Instant::now() + self.t.command;
        let mut ended = false;
        loop {
            match conn.link.next_event(deadline).await? {
                None => {
                    return Err(End::Gone(format!(
                        "the modem did not end the voice stream within {:?}",
                        self.t.command
                    )))
                }
                Some(ModemEvent::Dle(DleEvent::EndOfStream)) => ended = true,
                Some(ModemEvent::Line(result)) if ended && result.is_final() => return Ok(()),
                Some(other) => self.on_event(conn, other)?,
            }
        }
    }

    async fn on_hook(&mut self, conn: &mut Conn) -> Result<(), End> {
        if !conn.off_hook && conn.stream.is_none() {
            return Ok(());
        }
        self.close_stream(conn).await?;
        let mut ok = self
            .run_command(conn, &Command::OnHook, Duration::ZERO)
            .await?;
        if !conn.profile.quirks.off_hook_needs_h1 {
            // The data-mode hook too (`ATH0`), as vgetty hangs up.
            ok &= self
                .run_command(conn, &Command::HookOn, Duration::ZERO)
                .await?;
        }
        if !ok {
            tracing::error!(
                "{}: the modem did not confirm going on hook",
                self.cfg.who()
            );
        }
        conn.off_hook = false;
        self.sig.set_off_hook(false);
        conn.next_keepalive = Instant::now() + self.t.keepalive;
        tracing::info!("{}: on hook", self.cfg.who());
        Ok(())
    }

    /// Hook flash per §3.7: out of the stream, `+VTS={!,n}`, back in.
    async fn flash(&mut self, conn: &mut Conn) -> Result<(), End> {
        if !conn.off_hook {
            tracing::warn!("{}: flash ignored: the line is on hook", self.cfg.who());
            return Ok(());
        }
        if conn.profile.command_set == CommandSet::Hash {
            tracing::warn!(
                "{}: flash ignored: profile {} has no hook-flash command (+VTS=!)",
                self.cfg.who(),
                conn.profile.name
            );
            return Ok(());
        }
        let reopen = conn.stream.is_some();
        self.close_stream(conn).await?;
        let units = self.cfg.flash_units();
        let length = Duration::from_millis(u64::from(units) * 10);
        if self
            .run_command(
                conn,
                &Command::Flash {
                    duration: Some(units),
                },
                length,
            )
            .await?
        {
            tracing::info!("{}: hook flash ({length:?})", self.cfg.who());
        }
        if reopen {
            self.open_stream(conn).await?;
        }
        Ok(())
    }

    /// The daemon stops: leave the stream and go on hook, best effort.
    async fn hang_up_at_stop(&mut self, conn: &mut Conn) {
        if !conn.off_hook && conn.stream.is_none() {
            return;
        }
        let t = self.t;
        self.t.command = self.t.command.min(Duration::from_millis(500));
        if self.on_hook(conn).await.is_err() {
            tracing::warn!("{}: could not hang up while stopping", self.cfg.who());
        }
        self.t = t;
    }
}

/// The class a `+FCLASS?` / `#CLS?` answer names, if it names one (some
/// modems answer `ERROR` to the query: they count as alive, not as reset).
fn fclass_answer(result: &ResultLine, info: &[String]) -> Option<String> {
    if *result != ResultLine::Ok {
        return None;
    }
    info.iter()
        .map(|l| l.trim())
        .find(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .map(str::to_owned)
}

/// A literal command line.
fn raw_line(text: &str) -> CommandLine {
    CommandLine {
        text: text.to_owned(),
        opens: None,
    }
}

fn explain_open(path: &str, e: &tokio_serial::Error) -> String {
    use std::io::ErrorKind as Io;
    use tokio_serial::ErrorKind as K;
    let hint = match e.kind {
        K::Io(Io::NotFound) => " (no such device: is the modem plugged in?)",
        K::Io(Io::PermissionDenied) => {
            " (permission denied: the daemon's user needs read-write access, group dialout)"
        }
        K::NoDevice => {
            " (in use by another program? ModemManager probes every tty: a udev rule \
             with ID_MM_DEVICE_IGNORE=1 keeps it away)"
        }
        _ => "",
    };
    format!("cannot open {path}: {}{hint}", e.description)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pickupd_hw::v253::DLE;

    const L: LineId = LineId(3);

    fn ring_start() -> HwEvent {
        HwEvent::RingStart {
            line: L,
            caller_number: String::new(),
            caller_name: String::new(),
            tag: None,
        }
    }

    fn id(ati: &[&str], gmi: &[&str]) -> Identity {
        Identity {
            ati: ati.iter().map(|s| (*s).to_owned()).collect(),
            gmi: gmi.iter().map(|s| (*s).to_owned()).collect(),
            gmm: Vec::new(),
        }
    }

    #[test]
    fn identification_follows_vgetty() {
        assert_eq!(
            classify(&id(&["5601"], &[])),
            Family::Known(ModemProfile::usrobotics())
        );
        assert_eq!(
            classify(&id(&["Z207"], &[])),
            Family::Known(ModemProfile::lucent())
        );
        assert_eq!(
            classify(&id(&["56000"], &[])),
            Family::Rockwell { hsf: false }
        );
        assert_eq!(
            classify(&id(&["RCV336DPFSP"], &[])),
            Family::Rockwell { hsf: false }
        );
        assert_eq!(
            classify(&id(&["HSF 56K"], &[])),
            Family::Rockwell { hsf: true }
        );
        assert_eq!(
            classify(&id(&["x"], &["CONEXANT"])),
            Family::Rockwell { hsf: false }
        );
        assert_eq!(
            classify(&id(&["1.0"], &["ELSA AG"])),
            Family::Known(ModemProfile::elsa())
        );
        assert_eq!(classify(&id(&["V.253"], &[])), Family::Unknown);
        assert_eq!(classify(&id(&[], &[])), Family::Unknown);
        let lines = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(rockwell_profile(false, &lines(&["0,1,8"])).name, "conexant");
        assert_eq!(
            rockwell_profile(true, &lines(&["(0,1,2,8)"])).name,
            "conexant-hsf"
        );
        assert_eq!(
            rockwell_profile(false, &lines(&["0,1,2"])).name,
            "rockwell-legacy"
        );
        assert_eq!(rockwell_profile(false, &[]).name, "rockwell-legacy");
    }

    #[test]
    fn audio_round_trips_through_each_format() {
        let frame: Frame = std::array::from_fn(|i| (i as i16 - 80) * 400);
        for format in [
            SampleFormat::UnsignedPcm8,
            SampleFormat::SignedPcm8,
            SampleFormat::SignedPcm16Le,
            SampleFormat::MuLaw,
            SampleFormat::ALaw,
        ] {
            let mut escaped = Vec::new();
            encode_frame(format, &frame, &mut escaped);
            // Unescape as the modem does.
            let mut wire = Vec::new();
            let mut dle = false;
            for &b in &escaped {
                if dle {
                    assert_eq!(b, DLE, "{format:?}: only doubled DLEs");
                    wire.push(DLE);
                    dle = false;
                } else if b == DLE {
                    dle = true;
                } else {
                    wire.push(b);
                }
            }
            assert!(!dle);
            // Fed in awkward pieces (odd lengths split 16-bit samples).
            let mut decoder = Decoder::new(format).expect("PCM");
            let mut frames = Vec::new();
            for piece in wire.chunks(7) {
                decoder.push(piece, &mut |f| frames.push(f));
            }
            assert_eq!(frames.len(), 1, "{format:?}");
            for (a, b) in frames[0].iter().zip(frame.iter()) {
                let tolerance = match format {
                    SampleFormat::SignedPcm16Le => 0,
                    SampleFormat::MuLaw | SampleFormat::ALaw => (b.unsigned_abs() / 16).max(16),
                    _ => 256,
                };
                assert!(a.abs_diff(*b) <= tolerance, "{format:?}: {a} for {b}");
            }
        }
        assert!(Decoder::new(SampleFormat::Adpcm4).is_none());
        let mut out = Vec::new();
        encode_frame(SampleFormat::Gsm, &frame, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn a_call_is_offered_once_with_its_caller_id() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let stop = Duration::from_secs(8);
        let mut s = Signalling::new(L);
        assert_eq!(s.ring(ms(0)), vec![ring_start()]);
        let number = CallerIdField::Number(CallerNumber::Number("5551234".into()));
        assert_eq!(s.caller_field(&number, ms(2500)), vec![]);
        assert_eq!(s.tick(ms(2600), stop), vec![]);
        assert_eq!(
            s.caller_field(&CallerIdField::Name("DOE JOHN".into()), ms(2510)),
            vec![HwEvent::CallerId {
                line: L,
                number: "5551234".into(),
                name: "DOE JOHN".into()
            }]
        );
        assert_eq!(s.ring(ms(6000)), vec![], "same call, caller ID known");
        assert_eq!(s.ring(ms(12_000)), vec![]);
        assert_eq!(s.tick(ms(19_999), stop), vec![]);
        assert_eq!(
            s.tick(ms(20_000), stop),
            vec![HwEvent::RingStop { line: L }]
        );
        assert_eq!(s.tick(ms(21_000), stop), vec![], "once");
    }

    #[test]
    fn without_caller_id_the_second_ring_offers_again() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut s = Signalling::new(L);
        assert_eq!(s.ring(ms(0)), vec![ring_start()]);
        assert_eq!(s.ring(ms(6000)), vec![ring_start()]);
        assert_eq!(s.ring(ms(12_000)), vec![]);
        // A lone number flushes when the burst settles or at the next ring.
        let mut s = Signalling::new(L);
        s.ring(ms(0));
        let private = CallerIdField::Number(CallerNumber::Private);
        s.caller_field(&CallerIdField::Date("0321".into()), ms(2500));
        s.caller_field(&private, ms(2500));
        assert_eq!(
            s.tick(ms(2500) + CALLER_ID_SETTLE, Duration::from_secs(8)),
            vec![HwEvent::CallerId {
                line: L,
                number: String::new(),
                name: String::new()
            }],
            "withheld: shown without a number"
        );
        assert_eq!(s.ring(ms(6000)), vec![], "identified: no second offer");
        let mut s = Signalling::new(L);
        s.ring(ms(0));
        s.caller_field(
            &CallerIdField::Number(CallerNumber::Number("42".into())),
            ms(2500),
        );
        assert_eq!(
            s.ring(ms(6000)),
            vec![HwEvent::CallerId {
                line: L,
                number: "42".into(),
                name: String::new()
            }]
        );
    }

    #[test]
    fn far_end_disconnect_once_per_seizure_and_dial_tone_only_after_answering() {
        let t0 = Instant::now();
        let mut s = Signalling::new(L);
        assert_eq!(s.far_end_gone(DleEvent::LoopBreak), None, "on hook");
        s.set_off_hook(true);
        assert_eq!(
            s.far_end_gone(DleEvent::DialTone),
            None,
            "seized: dial tone"
        );
        assert_eq!(
            s.far_end_gone(DleEvent::Busy),
            Some(HwEvent::FarEndDisconnect { line: L })
        );
        assert_eq!(s.far_end_gone(DleEvent::LoopBreak), None, "once");
        s.set_off_hook(false);
        s.ring(t0);
        s.set_off_hook(true);
        assert!(s.answered);
        assert_eq!(
            s.far_end_gone(DleEvent::DialTone),
            Some(HwEvent::FarEndDisconnect { line: L })
        );
        assert_eq!(
            s.tick(t0 + Duration::from_secs(60), Duration::from_secs(8)),
            vec![],
            "answering ends the offer without RingStop"
        );
    }

    #[test]
    fn modem_call_waiting_reports() {
        let t0 = Instant::now();
        let stop = Duration::from_secs(8);
        let mut s = Signalling::new(L);
        s.set_off_hook(true);
        s.call_waiting(t0);
        assert_eq!(s.tick(t0, stop), vec![]);
        assert_eq!(
            s.tick(t0 + CALL_WAITING_HOLD, stop),
            vec![HwEvent::CallWaitingTone { line: L }]
        );
        s.call_waiting(t0);
        assert_eq!(
            s.report(b"NMBR = 5559876\r\nNAME = SECOND\r\n"),
            vec![
                HwEvent::CallWaitingAlert { line: L },
                HwEvent::CallWaitingCallerId {
                    line: L,
                    number: "5559876".into(),
                    name: "SECOND".into()
                }
            ]
        );
        assert_eq!(s.tick(t0 + CALL_WAITING_HOLD, stop), vec![], "replaced");
    }

    #[test]
    fn garbage_is_tolerated_up_to_the_limit() {
        let t0 = Instant::now();
        let mut g = Garbage::new(t0);
        for _ in 1..GARBAGE_LIMIT {
            assert!(g.note(t0, "x").is_ok());
        }
        let e = g.note(t0, "junk").unwrap_err();
        assert!(e.contains("junk"), "{e}");
        let mut g = Garbage::new(t0);
        for i in 0..(GARBAGE_LIMIT * 3) {
            let at = t0 + GARBAGE_WINDOW / 4 * i;
            assert!(g.note(at, "x").is_ok(), "slow garbage is noise");
        }
    }

    #[test]
    fn line_config_checks_the_device() {
        let l = ModemLine::new(L, "m", "/dev/ttyACM0").unwrap();
        assert_eq!(l.device, PathBuf::from("/dev/ttyACM0"));
        assert_eq!(l.flash_units(), 60);
        assert!(ModemLine::new(L, "m", "").is_err());
        assert!(ModemLine::new(L, "m", "/dev/dahdi/channel:1").is_err());
        let a = ModemLine::new(LineId(1), "a", "/dev/ttyACM0").unwrap();
        let b = ModemLine::new(LineId(2), "b", "/dev/ttyACM0").unwrap();
        let e = ModemDriver::new(vec![a, b]).unwrap_err();
        assert!(e.message.contains("\"a\" and \"b\""), "{e}");
    }
}
