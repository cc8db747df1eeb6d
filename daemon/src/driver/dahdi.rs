//! The DAHDI driver: analog ports on DAHDI channels (hardware.md §1), the
//! `fxo` lines (an FXO port facing the exchange: a trunk) and the `fxs`
//! lines (an FXS port powering a telephone: a station).
//!
//! One I/O thread serves every DAHDI channel of the daemon on one
//! [`mio::Poll`]. Each channel's descriptor is registered for
//! `READABLE | PRIORITY` (§1.8): `POLLPRI` means an event is queued and is
//! handled first, by draining `DAHDI_GETEVENT` until it answers "none",
//! because a read or write fails with errno 500 while an event is queued
//! (§1.7); errno 500 from a read or write therefore also drains the events
//! and retries. `POLLIN` means a 20 ms block can be read. mio registers
//! edge-triggered, so every wake-up reads until `EAGAIN`; a slow sweep
//! (every [`SWEEP`]) does the same on every channel, as insurance against a
//! lost edge. The poll timeout is short ([`TICK`]) because the engine's
//! commands and the media worker's transmit frames arrive on queues that
//! cannot wake a `Poll` without changing [`DriverContext`].
//!
//! Per channel, at start and after every reopen, the open sequence of §1.4:
//! the generic opener `<root>/dahdi/channel` + `SPECIFY`, `GET_PARAMS` and a
//! check that the signalling is the configured port kind (DAHDI names it
//! after the device at the *other* end, §1.11), `SET_BUFINFO` (160-sample
//! blocks, 4 buffers, as Asterisk), `SETLINEAR`, then read-modify-write
//! `SET_PARAMS`. Opens hang the line up and reset all of that (§1.4), so a
//! descriptor is held for the daemon's lifetime and reopened only after the
//! device went away.
//!
//! Audio: one read = one block of 160 signed 16-bit host-endian samples,
//! pushed as one [`Frame`] into the line's receive ring; the media worker is
//! woken after each round of reads. Transmit frames are popped from the
//! line's transmit ring and written as they come; a frame the kernel has no
//! buffer for (`EAGAIN`) waits for the next turn.
//!
//! Why the daemon relays audio between a trunk and a station in user space
//! (the media worker, `crate::media`) rather than bridging the two channels
//! with DAHDI conferencing (`SETCONF` `DIGITALMON` or a conference, §1.13):
//! a kernel bridge moves the samples without the daemon, but the
//! call-waiting tone detector, the CAS/FSK receiver and the DTMF detector
//! must see the audio, and the CIDCW procedure must mute the user both ways
//! and inject the acknowledgement digit into the trunk's transmit audio —
//! while `DIGITALMON` overwrites the transmit side and `CONFMUTE` silences
//! the daemon's own writes too. The relay costs one block of latency each
//! way; this driver therefore only moves frames.
//!
//! Nothing here is `unsafe`: every system call goes through hw's
//! [`DahdiFd`]. No device error panics; a channel that fails is reported to
//! the engine as [`HwEvent::DeviceGone`], closed and reopened every
//! [`RETRY_MIN`]–[`RETRY_MAX`] until it works again
//! ([`HwEvent::DeviceBack`]), without the other channels noticing.

#![forbid(unsafe_code)]

use super::{Driver, DriverContext, Port, RING_FRAMES};
use crate::config::LineKind;
use crate::engine::{HwEvent, LineCommand, LineId};
use crate::runtime::EngineHandle;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use nix::errno::Errno;
use pickupd_dsp::{Frame, FRAME_SAMPLES};
use pickupd_hw::dahdi::consts::{
    default_timing, DAHDI_MAX_BLOCKSIZE, DAHDI_MAX_CHANNELS, DAHDI_MAX_EVENTSIZE,
    DAHDI_POLICY_IMMEDIATE, PICKUPD_BLOCKSIZE,
};
use pickupd_hw::dahdi::{
    analog_signalling, sig_name, DahdiBufferInfo, DahdiChannel, DahdiEvent, DahdiFd, DahdiParams,
    Error as DahdiErrno, HookOp, StartMethod,
};
use std::fmt;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use pickupd_hw::dahdi::PortKind;

/// Poll timeout: how late a command or a transmit frame can be serviced.
pub const TICK: Duration = Duration::from_millis(10);
/// Every open channel is drained of events and reads this often even
/// without a wake-up.
pub const SWEEP: Duration = Duration::from_millis(250);
/// First reopen attempt after a channel went away.
pub const RETRY_MIN: Duration = Duration::from_millis(500);
/// Reopen interval after failed attempts.
pub const RETRY_MAX: Duration = Duration::from_secs(1);
/// An offered call counts as abandoned when no ring has begun for this
/// long while the trunk stays on hook: longer than the silent part of any
/// ring cadence (4 s in North America, 4–5 s in Europe) plus a margin.
pub const RING_STOP_AFTER: Duration = Duration::from_secs(8);
/// Margin after the kernel's off-hook debounce before a delayed flash.
const FLASH_SLACK: Duration = Duration::from_millis(30);
/// Reads of a size other than one block in a row before the line is taken
/// out of service (half a second of audio).
const ODD_READ_LIMIT: u32 = 25;
/// Buffers per channel and direction (Asterisk's choice, §1.4): 80 ms of
/// receive slack for a loaded machine. Transmit latency is bounded by the
/// drop-oldest rule in `write_all`, not by fewer buffers.
const NUM_BUFS: i32 = 4;
/// One block in linear mode: 160 samples of 2 bytes.
const BLOCK_BYTES: usize = FRAME_SAMPLES * 2;
/// The read buffer: the largest block the kernel can hand out, so a read
/// never loses the rest of a block (§1.6) and a wrong size is seen.
const READ_BUF: usize = DAHDI_MAX_BLOCKSIZE as usize * 2;
/// Bound on reads per wake-up (a device that never says `EAGAIN` must not
/// starve the other channels).
const MAX_READS: usize = 64;
/// Bound on errno 500 retries of one read or write.
const MAX_EVENT_RETRIES: u32 = 8;

const _: () = assert!(PICKUPD_BLOCKSIZE as usize == FRAME_SAMPLES);

/// One DAHDI line of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DahdiLine {
    pub line: LineId,
    /// the line's name in the configuration (for messages)
    pub name: String,
    /// the device root that contains `dahdi/channel` (`/dev` in production)
    pub root: PathBuf,
    /// global DAHDI channel number, 1 … 1024
    pub channo: i32,
    /// [`PortKind::FxoPort`] for an `fxo` line (a trunk), [`PortKind::FxsPort`]
    /// for an `fxs` line (a station port that powers a phone)
    pub port: PortKind,
    /// Trunks: length of the hook-flash break in ms (`flashtime`, §1.10);
    /// `None` keeps DAHDI's default of 750 ms. Exchanges differ (European
    /// timed-break recall is near 100 ms).
    pub flash_ms: Option<u32>,
}

impl DahdiLine {
    /// The line of kind `fxo` or `fxs` whose `device` is
    /// `<root>/dahdi/channel:<N>`.
    pub fn new(line: LineId, name: &str, kind: LineKind, device: &str) -> Result<Self, String> {
        let port = match kind {
            LineKind::Fxo => PortKind::FxoPort,
            LineKind::Fxs => PortKind::FxsPort,
            other => {
                return Err(format!(
                    "line \"{name}\" of kind {} is not a DAHDI line (only fxo and fxs are)",
                    other.as_str()
                ))
            }
        };
        let (root, channo) = parse_device(device).map_err(|e| format!("line \"{name}\": {e}"))?;
        Ok(DahdiLine {
            line,
            name: name.to_owned(),
            root,
            channo,
            port,
            flash_ms: None,
        })
    }

    /// A station port (`fxs` line): the daemon rings the phone on it.
    pub fn is_station(&self) -> bool {
        self.port == PortKind::FxsPort
    }

    fn kind(&self) -> &'static str {
        match self.port {
            PortKind::FxoPort => "fxo",
            PortKind::FxsPort => "fxs",
        }
    }

    fn device(&self) -> String {
        format!(
            "{}:{}",
            self.root.join("dahdi/channel").display(),
            self.channo
        )
    }

    /// How messages name this line.
    fn who(&self) -> String {
        format!(
            "line \"{}\" (DAHDI channel {}, {})",
            self.name,
            self.channo,
            self.device()
        )
    }
}

/// Splits a line's `device = "<root>/dahdi/channel:<N>"` into the device
/// root (`/dev` for `/dev/dahdi/channel:1`) and the channel number.
pub fn parse_device(device: &str) -> Result<(PathBuf, i32), String> {
    let wrong = || {
        format!(
            "device \"{device}\" is not a DAHDI channel: expected \
             \"<root>/dahdi/channel:<N>\" with N the DAHDI channel number \
             (1 … {DAHDI_MAX_CHANNELS}), e.g. \"/dev/dahdi/channel:1\""
        )
    };
    let (path, number) = device.rsplit_once(':').ok_or_else(wrong)?;
    let channo = number
        .parse::<i32>()
        .ok()
        .filter(|n| {
            number.bytes().all(|b| b.is_ascii_digit()) && (1..=DAHDI_MAX_CHANNELS).contains(n)
        })
        .ok_or_else(wrong)?;
    let path = Path::new(path);
    let dahdi = path
        .parent()
        .filter(|_| path.file_name().is_some_and(|n| n == "channel"))
        .ok_or_else(wrong)?;
    if dahdi.file_name() != Some(std::ffi::OsStr::new("dahdi")) {
        return Err(wrong());
    }
    let root = match dahdi.parent() {
        Some(root) if !root.as_os_str().is_empty() => root.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((root, channo))
}

/// A configuration the driver refuses: a channel whose signalling is not
/// the configured port kind, or two lines on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DahdiError {
    pub line: LineId,
    pub message: String,
}

impl fmt::Display for DahdiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DahdiError {}

/// The driver of every DAHDI line: built (and its channels opened) with
/// [`DahdiDriver::new`], started by the daemon through [`Driver::start`].
pub struct DahdiDriver {
    chans: Vec<Chan>,
    ring_stop_after: Duration,
}

impl fmt::Debug for DahdiDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DahdiDriver")
            .field(
                "lines",
                &self.chans.iter().map(|c| &c.cfg).collect::<Vec<_>>(),
            )
            .field("ring_stop_after", &self.ring_stop_after)
            .finish()
    }
}

impl DahdiDriver {
    /// Opens every line's channel with the open sequence of §1.4.
    ///
    /// A channel whose signalling does not match its line's kind, or a
    /// channel named by two lines, is an error (the message says what
    /// system.conf should say). A channel that cannot be opened now (no
    /// device, not configured yet, busy) is not: its line starts out of
    /// service ([`HwEvent::DeviceGone`] when the driver starts, with the
    /// reason) and is reopened until it works.
    pub fn new(lines: Vec<DahdiLine>) -> Result<Self, DahdiError> {
        let mut chans: Vec<Chan> = Vec::with_capacity(lines.len());
        for (i, cfg) in lines.into_iter().enumerate() {
            if let Some(other) = chans
                .iter()
                .find(|c| c.cfg.channo == cfg.channo && c.cfg.root == cfg.root)
            {
                return Err(DahdiError {
                    line: cfg.line,
                    message: format!(
                        "lines \"{}\" and \"{}\" both use DAHDI channel {} ({}): \
                         a channel can serve one line only (opens are exclusive)",
                        other.cfg.name,
                        cfg.name,
                        cfg.channo,
                        cfg.device()
                    ),
                });
            }
            let mut chan = Chan::new(cfg, Token(i));
            match open_line(&chan.cfg) {
                Ok(opened) => chan.install(opened),
                Err(OpenError::Misconfigured(message)) => {
                    return Err(DahdiError {
                        line: chan.cfg.line,
                        message,
                    })
                }
                Err(OpenError::Unavailable(why)) => chan.down_reason = Some(why),
            }
            chans.push(chan);
        }
        Ok(DahdiDriver {
            chans,
            ring_stop_after: RING_STOP_AFTER,
        })
    }

    /// Overrides [`RING_STOP_AFTER`], the silence after which an offered
    /// trunk call counts as abandoned (for unusual cadences, and tests).
    pub fn with_ring_stop_after(mut self, after: Duration) -> Self {
        self.ring_stop_after = after;
        self
    }

    /// The lines this driver serves.
    pub fn lines(&self) -> impl Iterator<Item = &DahdiLine> {
        self.chans.iter().map(|c| &c.cfg)
    }
}

impl Driver for DahdiDriver {
    fn name(&self) -> &'static str {
        "dahdi"
    }

    fn start(self: Box<Self>, ctx: DriverContext) -> std::io::Result<JoinHandle<()>> {
        let poll = Poll::new()?;
        std::thread::Builder::new()
            .name("pickupd-dahdi-io".into())
            .spawn(move || self.run(ctx, poll))
    }
}

/// What one turn of the loop needs besides the channel itself.
struct Io<'a> {
    registry: &'a Registry,
    engine: &'a EngineHandle,
    now: Instant,
}

impl DahdiDriver {
    fn run(mut self, mut ctx: DriverContext, mut poll: Poll) {
        for port in std::mem::take(&mut ctx.ports) {
            match self.chans.iter_mut().find(|c| c.cfg.line == port.line) {
                Some(c) => c.port = Some(port),
                None => tracing::warn!(
                    "DAHDI driver: got an audio port for line {}, which is not a DAHDI line",
                    port.line.0
                ),
            }
        }
        let engine = ctx.engine.clone();
        {
            let io = Io {
                registry: poll.registry(),
                engine: &engine,
                now: Instant::now(),
            };
            for c in &mut self.chans {
                if c.port.is_none() {
                    tracing::warn!("{}: no audio port; its audio is not moved", c.cfg.who());
                }
                c.begin(&io);
            }
        }
        let mut events = Events::with_capacity(128);
        let mut buf = vec![0u8; READ_BUF];
        let mut next_sweep = Instant::now() + SWEEP;
        while !ctx.stop.load(Ordering::Relaxed) {
            if let Err(e) = poll.poll(&mut events, Some(TICK)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    tracing::error!("DAHDI driver: poll failed: {e}");
                    std::thread::sleep(TICK);
                }
                events.clear();
            }
            let io = Io {
                registry: poll.registry(),
                engine: &engine,
                now: Instant::now(),
            };
            let mut pushed = false;
            for ev in events.iter() {
                let Some(c) = self.chans.get_mut(ev.token().0) else {
                    continue;
                };
                let hangup = ev.is_error() || ev.is_read_closed();
                pushed |= c.service(
                    &io,
                    &mut buf,
                    ev.is_priority() || hangup,
                    hangup,
                    ev.is_readable(),
                );
            }
            if io.now >= next_sweep {
                next_sweep = io.now + SWEEP;
                for c in &mut self.chans {
                    pushed |= c.service(&io, &mut buf, true, false, true);
                    c.report_overruns();
                }
            }
            while let Ok((line, cmd)) = ctx.commands.try_recv() {
                match self.chans.iter_mut().find(|c| c.cfg.line == line) {
                    Some(c) => c.command(&io, cmd),
                    None => tracing::warn!(
                        "DAHDI driver: command {cmd:?} for line {}, which is not a DAHDI line",
                        line.0
                    ),
                }
            }
            for c in &mut self.chans {
                c.timers(&io, self.ring_stop_after);
                c.transmit(&io);
            }
            if pushed {
                ctx.media.unpark();
            }
        }
        // Dropping the descriptors closes them, which hangs every line up.
    }
}

/// Kernel timings of an open channel (ms values of `dahdi_params`).
#[derive(Debug, Clone, Copy)]
struct Timing {
    debounce: Duration,
    preflash: Duration,
    flash: Duration,
}

fn ms(v: i32) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

impl Timing {
    fn from_params(p: &DahdiParams) -> Self {
        Timing {
            debounce: ms(p.debouncetime),
            preflash: ms(p.preflashtime),
            flash: ms(p.flashtime),
        }
    }

    /// What every open re-applies (§1.10), until a channel has been opened.
    fn kernel_defaults() -> Self {
        Timing {
            debounce: ms(default_timing::DEBOUNCETIME),
            preflash: ms(default_timing::PREFLASHTIME),
            flash: ms(default_timing::FLASHTIME),
        }
    }
}

/// A flash the kernel refused with `EBUSY` (off-hook debounce, or a flash
/// still in progress), to be issued again at `due`.
#[derive(Debug, Clone, Copy)]
struct PendingFlash {
    due: Instant,
    give_up: Instant,
}

/// A channel opened and set up.
struct Opened {
    fd: DahdiFd,
    params: DahdiParams,
}

enum OpenError {
    /// Not there or not usable now: retried.
    Unavailable(String),
    /// The channel is not what the line's kind says: a configuration error.
    Misconfigured(String),
}

impl OpenError {
    fn message(&self) -> &str {
        match self {
            OpenError::Unavailable(m) | OpenError::Misconfigured(m) => m,
        }
    }
}

/// §1.4 for one line: open + `SPECIFY`, `GET_PARAMS` and the signalling
/// check, `SET_BUFINFO`, `SETLINEAR`, read-modify-write `SET_PARAMS`.
fn open_line(cfg: &DahdiLine) -> Result<Opened, OpenError> {
    let node = cfg.root.join("dahdi/channel");
    let fd = DahdiFd::open_generic(&cfg.root)
        .map_err(|e| OpenError::Unavailable(explain_open(cfg, &node, e)))?;
    fd.specify(cfg.channo)
        .map_err(|e| OpenError::Unavailable(explain_specify(cfg, e)))?;
    let params = fd
        .get_params()
        .map_err(|e| OpenError::Unavailable(step_failed(cfg, "DAHDI_GET_PARAMS", e)))?;
    check_signalling(cfg, params.sigtype).map_err(OpenError::Misconfigured)?;
    let bufinfo = DahdiBufferInfo {
        txbufpolicy: DAHDI_POLICY_IMMEDIATE,
        rxbufpolicy: DAHDI_POLICY_IMMEDIATE,
        numbufs: NUM_BUFS,
        bufsize: PICKUPD_BLOCKSIZE,
        ..DahdiBufferInfo::zeroed()
    };
    fd.set_bufinfo(&bufinfo)
        .map_err(|e| OpenError::Unavailable(step_failed(cfg, "DAHDI_SET_BUFINFO", e)))?;
    fd.set_linear(true)
        .map_err(|e| OpenError::Unavailable(step_failed(cfg, "DAHDI_SETLINEAR", e)))?;
    // Read-modify-write: SET_PARAMS copies every timing field unchecked
    // (§1.10), so only the fields changed here differ from what was read.
    let mut params = params;
    if let (PortKind::FxoPort, Some(ms)) = (cfg.port, cfg.flash_ms) {
        params.flashtime = i32::try_from(ms).unwrap_or(i32::MAX);
    }
    fd.set_params(&params)
        .map_err(|e| OpenError::Unavailable(step_failed(cfg, "DAHDI_SET_PARAMS", e)))?;
    Ok(Opened { fd, params })
}

/// The signalling must be the other end's name of the configured port
/// (§1.11): an `fxo` line needs `DAHDI_SIG_FXS*`, an `fxs` line
/// `DAHDI_SIG_FXO*`.
fn check_signalling(cfg: &DahdiLine, sigtype: i32) -> Result<(), String> {
    let found = analog_signalling(sigtype);
    if let Some((port, start)) = found {
        if port == cfg.port {
            if port == PortKind::FxoPort && start == StartMethod::LoopStart {
                tracing::warn!(
                    "{}: loop-start signalling (FXSLS) never reports a far-end \
                     disconnect; configure the channel as fxsks={} in \
                     /etc/dahdi/system.conf",
                    cfg.who(),
                    cfg.channo
                );
            }
            return Ok(());
        }
    }
    let is = match found {
        Some((PortKind::FxsPort, _)) => {
            "which is an FXS port (it powers a telephone; system.conf fxoks=/fxols=)".to_owned()
        }
        Some((PortKind::FxoPort, _)) => {
            "which is an FXO port (it faces the exchange; system.conf fxsks=/fxsls=)".to_owned()
        }
        None if sigtype == 0 => {
            "i.e. it is not configured (dahdi_cfg has not set its signalling)".to_owned()
        }
        None => "which is not an analog FXO/FXS port".to_owned(),
    };
    let (needs, conf) = match cfg.port {
        PortKind::FxoPort => (
            "an FXO port facing the exchange (DAHDI signalling FXSKS/FXSLS)",
            format!("fxsks={}", cfg.channo),
        ),
        PortKind::FxsPort => (
            "an FXS port that powers a telephone (DAHDI signalling FXOKS/FXOLS)",
            format!("fxoks={}", cfg.channo),
        ),
    };
    Err(format!(
        "line \"{}\" (kind = \"{}\", device = \"{}\"): DAHDI channel {} reports \
         signalling {} ({sigtype:#x}), {is}; an {} line needs {needs}, which \
         /etc/dahdi/system.conf declares as {conf} (DAHDI names the signalling \
         after the device at the other end); fix the line's kind or the \
         channel's signalling and run dahdi_cfg",
        cfg.name,
        cfg.kind(),
        cfg.device(),
        cfg.channo,
        sig_name(sigtype),
        cfg.kind(),
    ))
}

fn explain_open(cfg: &DahdiLine, node: &Path, e: DahdiErrno) -> String {
    let why = match e.errno() {
        Some(Errno::ENOENT) => format!(
            "{} does not exist (is the dahdi kernel module loaded?)",
            node.display()
        ),
        Some(Errno::EACCES | Errno::EPERM) => format!(
            "permission denied opening {} (the daemon's user needs read-write \
             access: a udev rule for subsystem dahdi)",
            node.display()
        ),
        _ => format!("cannot open {}: {e}", node.display()),
    };
    format!("DAHDI channel {}: {why}", cfg.channo)
}

fn explain_specify(cfg: &DahdiLine, e: DahdiErrno) -> String {
    let n = cfg.channo;
    match e.errno() {
        Some(Errno::EINVAL) => format!(
            "there is no DAHDI channel {n} (DAHDI_SPECIFY: EINVAL; is its span \
             assigned and configured?)"
        ),
        Some(Errno::ENXIO) => format!(
            "DAHDI channel {n} has no signalling or its hardware is gone \
             (DAHDI_SPECIFY: ENXIO; run dahdi_cfg)"
        ),
        Some(Errno::EBUSY) => format!(
            "DAHDI channel {n} is open in another program (DAHDI_SPECIFY: EBUSY; \
             DAHDI opens are exclusive: is Asterisk using it?)"
        ),
        _ => format!("DAHDI channel {n}: DAHDI_SPECIFY failed: {e}"),
    }
}

fn step_failed(cfg: &DahdiLine, step: &str, e: DahdiErrno) -> String {
    format!("DAHDI channel {}: {step} failed: {e}", cfg.channo)
}

/// Errors after which the descriptor is of no further use.
fn is_gone(e: DahdiErrno) -> bool {
    matches!(
        e.errno(),
        Some(Errno::ENODEV | Errno::EIO | Errno::ENXIO | Errno::EBADF | Errno::ENOTCONN)
    )
}

fn describe_gone(channo: i32, op: &str, e: DahdiErrno) -> String {
    let what = match e.errno() {
        Some(Errno::ENODEV) => "the device was removed (ENODEV)".to_owned(),
        Some(Errno::EIO) => "I/O error (EIO)".to_owned(),
        Some(Errno::ENOTCONN) => "the device tree went away (ENOTCONN)".to_owned(),
        _ => e.to_string(),
    };
    format!("DAHDI channel {channo}: {op} failed: {what}")
}

/// The signalling half of a line: DAHDI events in, engine events out.
/// Pure (time is passed in), so its rules are unit-tested directly.
#[derive(Debug, Clone)]
struct Signalling {
    line: LineId,
    station: bool,
    /// station: the phone's hook; trunk: ours
    off_hook: bool,
    /// trunk: when we went off hook
    offhook_at: Option<Instant>,
    /// trunk: a call is being offered (RingStart sent, no RingStop yet)
    ringing: bool,
    /// trunk: between RINGBEGIN and the RINGOFFHOOK that ends the burst
    in_burst: bool,
    /// trunk: start or end of the last ring burst
    last_ring: Option<Instant>,
    /// trunk: FarEndDisconnect sent since we went off hook
    disconnected: bool,
}

impl Signalling {
    fn new(line: LineId, station: bool, off_hook: bool) -> Self {
        Signalling {
            line,
            station,
            off_hook,
            offhook_at: None,
            ringing: false,
            in_burst: false,
            last_ring: None,
            disconnected: false,
        }
    }

    fn event(&mut self, ev: DahdiEvent, now: Instant) -> Option<HwEvent> {
        let line = self.line;
        if self.station {
            return match ev {
                DahdiEvent::RingOffHook if !self.off_hook => {
                    self.off_hook = true;
                    Some(HwEvent::Hook {
                        line,
                        off_hook: true,
                    })
                }
                DahdiEvent::OnHook if self.off_hook => {
                    self.off_hook = false;
                    Some(HwEvent::Hook {
                        line,
                        off_hook: false,
                    })
                }
                DahdiEvent::WinkFlash => Some(HwEvent::Flash { line }),
                DahdiEvent::PulseDigit(d) if d.is_ascii_digit() => Some(HwEvent::Digit {
                    line,
                    digit: char::from(d),
                }),
                _ => None,
            };
        }
        match ev {
            // RINGBEGIN starts a burst; RINGOFFHOOK ends one (and stands
            // for the start too if RINGBEGIN is not compiled in).
            DahdiEvent::RingBegin | DahdiEvent::RingOffHook => {
                self.in_burst = ev == DahdiEvent::RingBegin;
                self.last_ring = Some(now);
                if self.off_hook || self.ringing {
                    return None;
                }
                self.ringing = true;
                Some(HwEvent::RingStart {
                    line,
                    caller_number: String::new(),
                    caller_name: String::new(),
                    tag: None,
                })
            }
            // Kewl-start: loop current lost while we are off hook.
            DahdiEvent::OnHook if self.off_hook && !self.disconnected => {
                self.disconnected = true;
                Some(HwEvent::FarEndDisconnect { line })
            }
            _ => None,
        }
    }

    /// Trunks: ringing stopped without an answer.
    fn tick(&mut self, now: Instant, ring_stop_after: Duration) -> Option<HwEvent> {
        if self.station || !self.ringing || self.off_hook {
            return None;
        }
        // A burst whose end never came is given twice as long.
        let limit = if self.in_burst {
            ring_stop_after * 2
        } else {
            ring_stop_after
        };
        let since = now.saturating_duration_since(self.last_ring.unwrap_or(now));
        if since < limit {
            return None;
        }
        self.ringing = false;
        self.in_burst = false;
        Some(HwEvent::RingStop { line: self.line })
    }

    /// Trunks: our hook changed (answering ends the offering silently).
    fn set_trunk_hook(&mut self, off_hook: bool, now: Instant) {
        self.off_hook = off_hook;
        self.disconnected = false;
        if off_hook {
            self.offhook_at = Some(now);
            self.ringing = false;
            self.in_burst = false;
        } else {
            self.offhook_at = None;
        }
    }
}

/// One line's channel, open or waiting to be reopened.
struct Chan {
    cfg: DahdiLine,
    token: Token,
    fd: Option<DahdiFd>,
    timing: Timing,
    sig: Signalling,
    port: Option<Port>,
    pending_tx: Option<Frame>,
    pending_flash: Option<PendingFlash>,
    retry_at: Instant,
    retry_delay: Duration,
    /// why the channel is not open (logged once per distinct reason)
    down_reason: Option<String>,
    odd_reads: u32,
    odd_warned: bool,
    rx_overruns: u64,
    /// last unexpected read/write error, logged once until it changes
    last_io_error: Option<i32>,
}

impl Chan {
    fn new(cfg: DahdiLine, token: Token) -> Self {
        let sig = Signalling::new(cfg.line, cfg.is_station(), false);
        Chan {
            cfg,
            token,
            fd: None,
            timing: Timing::kernel_defaults(),
            sig,
            port: None,
            pending_tx: None,
            pending_flash: None,
            retry_at: Instant::now(),
            retry_delay: RETRY_MIN,
            down_reason: None,
            odd_reads: 0,
            odd_warned: false,
            rx_overruns: 0,
            last_io_error: None,
        }
    }

    fn interest() -> Interest {
        Interest::READABLE | Interest::PRIORITY
    }

    /// Takes over a freshly opened channel (not yet registered).
    fn install(&mut self, opened: Opened) {
        let off_hook = self.cfg.is_station() && opened.params.rxisoffhook != 0;
        self.sig = Signalling::new(self.cfg.line, self.cfg.is_station(), off_hook);
        self.timing = Timing::from_params(&opened.params);
        self.fd = Some(opened.fd);
        self.down_reason = None;
        self.pending_tx = None;
        self.pending_flash = None;
        self.odd_reads = 0;
        self.odd_warned = false;
        self.last_io_error = None;
        self.retry_delay = RETRY_MIN;
        tracing::info!(
            "{}: open ({} line, linear, {}-sample blocks)",
            self.cfg.who(),
            self.cfg.kind(),
            PICKUPD_BLOCKSIZE
        );
    }

    fn register(&self, registry: &Registry) -> std::io::Result<()> {
        match &self.fd {
            Some(fd) => {
                registry.register(&mut SourceFd(&fd.as_raw_fd()), self.token, Self::interest())
            }
            None => Ok(()),
        }
    }

    /// The driver thread starts: register, and tell the engine what the
    /// opens found.
    fn begin(&mut self, io: &Io<'_>) {
        if self.fd.is_some() {
            if let Err(e) = self.register(io.registry) {
                self.gone(
                    io,
                    format!("DAHDI channel {}: cannot poll it: {e}", self.cfg.channo),
                );
                return;
            }
            if self.sig.station && self.sig.off_hook {
                io.engine.hw(HwEvent::Hook {
                    line: self.cfg.line,
                    off_hook: true,
                });
            }
        } else {
            let why = self
                .down_reason
                .clone()
                .unwrap_or_else(|| format!("DAHDI channel {} is not open", self.cfg.channo));
            tracing::warn!("{}: unavailable, retrying: {why}", self.cfg.who());
            io.engine.hw(HwEvent::DeviceGone {
                line: self.cfg.line,
                why,
            });
            self.retry_at = io.now + self.retry_delay;
        }
    }

    /// The channel is lost: stop polling it, close it, tell the engine, and
    /// schedule the reopen.
    fn gone(&mut self, io: &Io<'_>, why: String) {
        if let Some(fd) = self.fd.take() {
            let _ = io.registry.deregister(&mut SourceFd(&fd.as_raw_fd()));
            drop(fd);
        }
        tracing::warn!("{}: out of service: {why}", self.cfg.who());
        io.engine.hw(HwEvent::DeviceGone {
            line: self.cfg.line,
            why: why.clone(),
        });
        self.down_reason = Some(why);
        self.pending_tx = None;
        self.pending_flash = None;
        self.sig = Signalling::new(self.cfg.line, self.cfg.is_station(), false);
        self.retry_delay = RETRY_MIN;
        self.retry_at = io.now + RETRY_MIN;
    }

    fn try_reopen(&mut self, io: &Io<'_>) {
        match open_line(&self.cfg) {
            Ok(opened) => {
                self.install(opened);
                if let Err(e) = self.register(io.registry) {
                    self.fd = None;
                    tracing::warn!("{}: cannot poll the reopened channel: {e}", self.cfg.who());
                    self.retry_at = io.now + self.retry_delay;
                    return;
                }
                tracing::info!("{}: back in service", self.cfg.who());
                io.engine.hw(HwEvent::DeviceBack {
                    line: self.cfg.line,
                    off_hook: self.sig.station && self.sig.off_hook,
                });
            }
            Err(e) => {
                let msg = e.message();
                if self.down_reason.as_deref() != Some(msg) {
                    match e {
                        OpenError::Misconfigured(_) => {
                            tracing::error!("{}: cannot reopen: {msg}", self.cfg.who())
                        }
                        OpenError::Unavailable(_) => {
                            tracing::info!("{}: still unavailable: {msg}", self.cfg.who())
                        }
                    }
                    self.down_reason = Some(msg.to_owned());
                }
                self.retry_at = io.now + self.retry_delay;
                self.retry_delay = (self.retry_delay * 2).min(RETRY_MAX);
            }
        }
    }

    /// Handles a wake-up: events first (`want_events`), then a hang-up, then
    /// reads. Returns whether frames were pushed.
    fn service(
        &mut self,
        io: &Io<'_>,
        buf: &mut [u8],
        want_events: bool,
        hangup: bool,
        readable: bool,
    ) -> bool {
        if self.fd.is_none() {
            return false;
        }
        if want_events {
            if let Err(why) = self.drain_events(io) {
                self.gone(io, why);
                return false;
            }
        }
        if hangup {
            let why = format!(
                "DAHDI channel {}: poll reported a hang-up (POLLHUP/POLLERR) \
                 without DAHDI_EVENT_REMOVED",
                self.cfg.channo
            );
            self.gone(io, why);
            return false;
        }
        if !readable {
            return false;
        }
        match self.read_all(io, buf) {
            Ok(pushed) => pushed,
            Err(why) => {
                self.gone(io, why);
                false
            }
        }
    }

    /// `GETEVENT` until the queue is empty; `Err` = the channel is gone.
    fn drain_events(&mut self, io: &Io<'_>) -> Result<(), String> {
        for _ in 0..DAHDI_MAX_EVENTSIZE * 2 {
            let res = match &self.fd {
                Some(fd) => fd.get_event(),
                None => return Ok(()),
            };
            match res {
                Ok(None) => return Ok(()),
                Ok(Some(DahdiEvent::Removed)) => {
                    return Err(format!(
                        "DAHDI channel {}: the hardware was removed (DAHDI_EVENT_REMOVED)",
                        self.cfg.channo
                    ))
                }
                Ok(Some(ev)) => self.on_event(io, ev),
                Err(e) if is_gone(e) => {
                    return Err(describe_gone(self.cfg.channo, "DAHDI_GETEVENT", e))
                }
                Err(e) => {
                    tracing::warn!("{}: DAHDI_GETEVENT failed: {e}", self.cfg.who());
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn on_event(&mut self, io: &Io<'_>, ev: DahdiEvent) {
        tracing::debug!("{}: event {ev:?}", self.cfg.who());
        match ev {
            DahdiEvent::Alarm => tracing::warn!("{}: span alarm", self.cfg.who()),
            DahdiEvent::NoAlarm => tracing::info!("{}: span alarm cleared", self.cfg.who()),
            DahdiEvent::ReadOverrun | DahdiEvent::WriteUnderrun => {
                tracing::debug!("{}: buffer event {ev:?}", self.cfg.who())
            }
            _ => {}
        }
        if let Some(hw) = self.sig.event(ev, io.now) {
            io.engine.hw(hw);
        }
    }

    /// Reads blocks until `EAGAIN`; `Err` = the channel is gone.
    fn read_all(&mut self, io: &Io<'_>, buf: &mut [u8]) -> Result<bool, String> {
        let mut pushed = false;
        let mut retries = 0;
        for _ in 0..MAX_READS {
            let res = match self.fd.as_mut() {
                Some(fd) => fd.read_frame(buf),
                None => return Ok(pushed),
            };
            match res {
                Ok(n) => {
                    retries = 0;
                    let bytes = buf.get(..n).unwrap_or_default();
                    pushed |= self.received(bytes)?;
                    if n == 0 {
                        break;
                    }
                }
                Err(e) if e.is_would_block() => break,
                Err(e) if e.is_event_pending() => {
                    retries += 1;
                    if retries > MAX_EVENT_RETRIES {
                        break;
                    }
                    self.drain_events(io)?;
                }
                Err(e) if is_gone(e) => return Err(describe_gone(self.cfg.channo, "read", e)),
                Err(e) => {
                    self.unexpected_io_error("read", e);
                    break;
                }
            }
        }
        Ok(pushed)
    }

    fn unexpected_io_error(&mut self, op: &str, e: DahdiErrno) {
        if self.last_io_error != Some(e.raw_os_error()) {
            self.last_io_error = Some(e.raw_os_error());
            tracing::warn!("{}: {op} failed: {e}", self.cfg.who());
        }
    }

    /// One read's bytes: a block becomes a frame; anything else is padded
    /// with silence, warned about once, and takes the line out of service
    /// when it goes on.
    fn received(&mut self, bytes: &[u8]) -> Result<bool, String> {
        if bytes.len() == BLOCK_BYTES {
            self.odd_reads = 0;
            return Ok(self.push(bytes));
        }
        self.odd_reads += 1;
        if !self.odd_warned {
            self.odd_warned = true;
            tracing::warn!(
                "{}: a read returned {} bytes instead of one {BLOCK_BYTES}-byte block \
                 ({PICKUPD_BLOCKSIZE} linear samples); padding with silence",
                self.cfg.who(),
                bytes.len()
            );
        }
        if self.odd_reads >= ODD_READ_LIMIT {
            return Err(format!(
                "DAHDI channel {}: {} reads in a row returned {} bytes instead of \
                 {BLOCK_BYTES}-byte blocks (block size or linear mode lost)",
                self.cfg.channo,
                self.odd_reads,
                bytes.len()
            ));
        }
        let mut pushed = false;
        for chunk in bytes.chunks(BLOCK_BYTES) {
            pushed |= self.push(chunk);
        }
        Ok(pushed)
    }

    fn push(&mut self, bytes: &[u8]) -> bool {
        let Some(port) = self.port.as_mut() else {
            return false;
        };
        let mut frame: Frame = [0; FRAME_SAMPLES];
        for (s, b) in frame.iter_mut().zip(bytes.chunks_exact(2)) {
            *s = i16::from_ne_bytes([b[0], b[1]]);
        }
        if port.rx.push(frame).is_err() {
            self.rx_overruns += 1;
            return false;
        }
        true
    }

    fn report_overruns(&mut self) {
        if self.rx_overruns > 0 {
            tracing::warn!(
                "{}: media worker fell behind: {} receive frames dropped",
                self.cfg.who(),
                self.rx_overruns
            );
            self.rx_overruns = 0;
        }
    }

    /// Writes what the media worker has for this line.
    fn transmit(&mut self, io: &Io<'_>) {
        if self.fd.is_none() {
            // Out of service: nothing is sent, stale audio is not kept.
            self.pending_tx = None;
            if let Some(port) = self.port.as_mut() {
                while port.tx.pop().is_ok() {}
            }
            return;
        }
        if let Err(why) = self.write_all(io) {
            self.gone(io, why);
        }
    }

    fn write_all(&mut self, io: &Io<'_>) -> Result<(), String> {
        let mut bytes = [0u8; BLOCK_BYTES];
        for _ in 0..=RING_FRAMES {
            let frame = match self.pending_tx.take() {
                Some(f) => f,
                None => match self.port.as_mut().map(|p| p.tx.pop()) {
                    Some(Ok(f)) => f,
                    _ => return Ok(()),
                },
            };
            for (b, s) in bytes.chunks_exact_mut(2).zip(frame.iter()) {
                b.copy_from_slice(&s.to_ne_bytes());
            }
            let mut retries = 0;
            loop {
                let res = match self.fd.as_mut() {
                    Some(fd) => fd.write_frame(&bytes),
                    None => return Ok(()),
                };
                match res {
                    Ok(n) => {
                        if n != BLOCK_BYTES {
                            tracing::debug!("{}: short write ({n} bytes)", self.cfg.who());
                        }
                        break;
                    }
                    Err(e) if e.is_would_block() => {
                        // No free transmit buffer: the newest frame goes
                        // next time and older ones are dropped, so a burst
                        // from the media worker cannot add latency for good.
                        let mut newest = frame;
                        let mut dropped = 0u32;
                        if let Some(port) = self.port.as_mut() {
                            while let Ok(f) = port.tx.pop() {
                                newest = f;
                                dropped += 1;
                            }
                        }
                        if dropped > 0 {
                            tracing::debug!(
                                "{}: transmit behind; {dropped} frames dropped",
                                self.cfg.who()
                            );
                        }
                        self.pending_tx = Some(newest);
                        return Ok(());
                    }
                    Err(e) if e.is_event_pending() && retries < MAX_EVENT_RETRIES => {
                        retries += 1;
                        self.drain_events(io)?;
                    }
                    Err(e) if is_gone(e) => return Err(describe_gone(self.cfg.channo, "write", e)),
                    Err(e) => {
                        self.unexpected_io_error("write", e);
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    fn hook(&mut self, op: HookOp) -> Option<Result<pickupd_hw::dahdi::HookOutcome, DahdiErrno>> {
        self.fd.as_ref().map(|fd| fd.hook(op))
    }

    fn command(&mut self, io: &Io<'_>, cmd: LineCommand) {
        if self.fd.is_none() {
            tracing::debug!("{}: {cmd:?} ignored: out of service", self.cfg.who());
            return;
        }
        let result = match (self.cfg.port, &cmd) {
            (PortKind::FxsPort, LineCommand::Ring(on)) => self.ring(*on),
            (PortKind::FxoPort, LineCommand::Hook(off_hook)) => self.trunk_hook(io, *off_hook),
            (PortKind::FxoPort, LineCommand::Flash) => self.flash(io, None),
            _ => {
                tracing::warn!(
                    "{}: {cmd:?} does not apply to an {} line; ignored",
                    self.cfg.who(),
                    self.cfg.kind()
                );
                Ok(())
            }
        };
        if let Err(why) = result {
            self.gone(io, why);
        }
    }

    /// Station: ring the phone, or stop.
    fn ring(&mut self, on: bool) -> Result<(), String> {
        let op = if on { HookOp::Ring } else { HookOp::RingOff };
        match self.hook(op) {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(e)) if is_gone(e) => Err(describe_gone(self.cfg.channo, "DAHDI_HOOK", e)),
            Some(Err(e)) if e == Errno::ENODATA => {
                tracing::error!(
                    "{}: cannot ring the phone: the channel has no tone zone \
                     (DAHDI_HOOK RING: ENODATA); load one with dahdi_cfg, e.g. \
                     loadzone=us and defaultzone=us in /etc/dahdi/system.conf",
                    self.cfg.who()
                );
                Ok(())
            }
            Some(Err(e)) if e == Errno::EBUSY => {
                tracing::warn!(
                    "{}: cannot ring the phone now (DAHDI_HOOK RING: EBUSY; is it off hook?)",
                    self.cfg.who()
                );
                Ok(())
            }
            Some(Err(e)) => {
                tracing::warn!("{}: DAHDI_HOOK {op:?} failed: {e}", self.cfg.who());
                Ok(())
            }
        }
    }

    /// Trunk: go off hook (answer, seize) or on hook (hang up).
    fn trunk_hook(&mut self, io: &Io<'_>, off_hook: bool) -> Result<(), String> {
        let op = if off_hook {
            HookOp::OffHook
        } else {
            HookOp::OnHook
        };
        if !off_hook {
            self.pending_flash = None;
        }
        match self.hook(op) {
            None => Ok(()),
            Some(Ok(_)) => {
                tracing::debug!("{}: {op:?}", self.cfg.who());
                self.sig.set_trunk_hook(off_hook, io.now);
                Ok(())
            }
            Some(Err(e)) if is_gone(e) => Err(describe_gone(self.cfg.channo, "DAHDI_HOOK", e)),
            Some(Err(e)) => {
                tracing::warn!("{}: DAHDI_HOOK {op:?} failed: {e}", self.cfg.who());
                Ok(())
            }
        }
    }

    /// Trunk: hook flash. The kernel refuses it with `EBUSY` during the
    /// off-hook debounce (`debouncetime` after going off hook, §1.10) and
    /// while a flash is still running; then it is issued again once that
    /// time has passed, not lost.
    fn flash(&mut self, io: &Io<'_>, pending: Option<PendingFlash>) -> Result<(), String> {
        if !self.sig.off_hook {
            tracing::warn!("{}: flash ignored: the trunk is on hook", self.cfg.who());
            return Ok(());
        }
        match self.hook(HookOp::Flash) {
            None => Ok(()),
            Some(Ok(outcome)) => {
                tracing::debug!("{}: flash ({outcome:?})", self.cfg.who());
                Ok(())
            }
            Some(Err(e)) if e == Errno::EBUSY => {
                let t = self.timing;
                let give_up = pending.map_or(
                    io.now + t.debounce + t.preflash + t.flash + Duration::from_secs(1),
                    |p| p.give_up,
                );
                if io.now >= give_up {
                    tracing::error!(
                        "{}: hook flash lost: the kernel kept refusing it (EBUSY)",
                        self.cfg.who()
                    );
                    return Ok(());
                }
                // After the debounce if that is what refused it, otherwise
                // after a flash still in progress.
                let settle = match self.sig.offhook_at {
                    Some(at) if at + t.debounce + FLASH_SLACK > io.now => {
                        at + t.debounce + FLASH_SLACK
                    }
                    _ => io.now + (t.preflash + t.flash).min(Duration::from_millis(100)),
                };
                tracing::debug!(
                    "{}: flash refused (EBUSY, off-hook debounce); retrying in {:?}",
                    self.cfg.who(),
                    settle.saturating_duration_since(io.now)
                );
                self.pending_flash = Some(PendingFlash {
                    due: settle,
                    give_up,
                });
                Ok(())
            }
            Some(Err(e)) if is_gone(e) => Err(describe_gone(self.cfg.channo, "DAHDI_HOOK", e)),
            Some(Err(e)) => {
                tracing::warn!("{}: DAHDI_HOOK FLASH failed: {e}", self.cfg.who());
                Ok(())
            }
        }
    }

    fn timers(&mut self, io: &Io<'_>, ring_stop_after: Duration) {
        if self.fd.is_none() {
            if io.now >= self.retry_at {
                self.try_reopen(io);
            }
            return;
        }
        if let Some(hw) = self.sig.tick(io.now, ring_stop_after) {
            io.engine.hw(hw);
        }
        if let Some(p) = self.pending_flash {
            if io.now >= p.due {
                self.pending_flash = None;
                if let Err(why) = self.flash(io, Some(p)) {
                    self.gone(io, why);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: LineId = LineId(7);

    #[test]
    fn odd_sized_reads_are_padded_warned_once_then_take_the_line_down() {
        let cfg = DahdiLine::new(L, "desk", LineKind::Fxs, "/dev/dahdi/channel:1").unwrap();
        let mut chan = Chan::new(cfg, Token(0));
        let (rx, mut media_rx) = rtrb::RingBuffer::new(RING_FRAMES);
        let (_media_tx, tx) = rtrb::RingBuffer::<Frame>::new(RING_FRAMES);
        chan.port = Some(Port { line: L, rx, tx });

        let block: Vec<u8> = (0..FRAME_SAMPLES as i16)
            .flat_map(|s| (s * 3).to_ne_bytes())
            .collect();
        assert_eq!(chan.received(&block), Ok(true));
        let frame = media_rx.pop().unwrap();
        assert_eq!(frame[0..3], [0, 3, 6]);
        assert_eq!(frame[FRAME_SAMPLES - 1], 3 * (FRAME_SAMPLES as i16 - 1));

        // A short read: what came, then silence.
        assert_eq!(chan.received(&block[..100]), Ok(true));
        let frame = media_rx.pop().unwrap();
        assert_eq!(frame[49], 3 * 49);
        assert!(frame[50..].iter().all(|&s| s == 0));
        assert!(chan.odd_warned);

        // A good block resets the count; a run of odd ones does not pass.
        assert_eq!(chan.received(&block), Ok(true));
        for _ in 1..ODD_READ_LIMIT {
            assert_eq!(chan.received(&block[..40]), Ok(true));
        }
        let why = chan.received(&block[..40]).unwrap_err();
        assert!(
            why.contains("channel 1") && why.contains("40 bytes") && why.contains("block size"),
            "{why}"
        );
    }

    #[test]
    fn device_paths_parse_into_root_and_channel() {
        assert_eq!(
            parse_device("/dev/dahdi/channel:1"),
            Ok((PathBuf::from("/dev"), 1))
        );
        assert_eq!(
            parse_device("/tmp/x y/dahdi/channel:1024"),
            Ok((PathBuf::from("/tmp/x y"), 1024))
        );
        assert_eq!(parse_device("dahdi/channel:3"), Ok((PathBuf::from("."), 3)));
        for bad in [
            "/dev/dahdi/channel",
            "/dev/dahdi/channel:",
            "/dev/dahdi/channel:0",
            "/dev/dahdi/channel:1025",
            "/dev/dahdi/channel:-1",
            "/dev/dahdi/channel:+1",
            "/dev/dahdi/channel:x",
            "/dev/dahdi/chan/001/001",
            "/dev/ttyS0:1",
            "sim:desk",
        ] {
            let e = parse_device(bad).unwrap_err();
            assert!(e.contains("<root>/dahdi/channel:<N>"), "{bad}: {e}");
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn line_kinds_map_to_port_kinds() {
        let l = DahdiLine::new(L, "t", LineKind::Fxo, "/dev/dahdi/channel:2").unwrap();
        assert_eq!(
            (l.port, l.channo, l.is_station()),
            (PortKind::FxoPort, 2, false)
        );
        let l = DahdiLine::new(L, "s", LineKind::Fxs, "/dev/dahdi/channel:1").unwrap();
        assert!(l.is_station());
        assert!(DahdiLine::new(L, "m", LineKind::Modem, "/dev/dahdi/channel:1").is_err());
    }

    #[test]
    fn signalling_must_name_the_other_end() {
        use pickupd_hw::dahdi::consts::{DAHDI_SIG_CLEAR, DAHDI_SIG_FXOKS, DAHDI_SIG_FXSKS};
        let trunk = DahdiLine::new(L, "co1", LineKind::Fxo, "/dev/dahdi/channel:5").unwrap();
        assert_eq!(check_signalling(&trunk, DAHDI_SIG_FXSKS), Ok(()));
        let e = check_signalling(&trunk, DAHDI_SIG_FXOKS).unwrap_err();
        assert!(
            e.contains("channel 5") && e.contains("FXOKS") && e.contains("fxsks=5"),
            "{e}"
        );
        let e = check_signalling(&trunk, DAHDI_SIG_CLEAR).unwrap_err();
        assert!(e.contains("Clear") && e.contains("not an analog"), "{e}");
        let e = check_signalling(&trunk, 0).unwrap_err();
        assert!(e.contains("not configured"), "{e}");
        let station = DahdiLine::new(L, "desk", LineKind::Fxs, "/dev/dahdi/channel:1").unwrap();
        assert_eq!(check_signalling(&station, DAHDI_SIG_FXOKS), Ok(()));
        let e = check_signalling(&station, DAHDI_SIG_FXSKS).unwrap_err();
        assert!(e.contains("FXSKS") && e.contains("fxoks=1"), "{e}");
    }

    fn ring_start() -> HwEvent {
        HwEvent::RingStart {
            line: L,
            caller_number: String::new(),
            caller_name: String::new(),
            tag: None,
        }
    }

    #[test]
    fn trunk_offers_once_per_call_and_stops_after_silence() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let stop = Duration::from_secs(8);
        let mut s = Signalling::new(L, false, false);
        assert_eq!(s.event(DahdiEvent::RingBegin, ms(0)), Some(ring_start()));
        assert_eq!(s.event(DahdiEvent::RingOffHook, ms(2000)), None);
        assert_eq!(s.tick(ms(9000), stop), None, "4 s pause of a cadence");
        assert_eq!(s.event(DahdiEvent::RingBegin, ms(6000)), None, "same call");
        assert_eq!(s.event(DahdiEvent::RingOffHook, ms(8000)), None);
        assert_eq!(s.tick(ms(15_999), stop), None);
        assert_eq!(
            s.tick(ms(16_000), stop),
            Some(HwEvent::RingStop { line: L })
        );
        assert_eq!(s.tick(ms(17_000), stop), None, "once");
        // Without RINGBEGIN the end of the first burst offers the call.
        assert_eq!(
            s.event(DahdiEvent::RingOffHook, ms(20_000)),
            Some(ring_start())
        );
        // Answering ends the offering without RingStop.
        s.set_trunk_hook(true, ms(21_000));
        assert_eq!(s.tick(ms(40_000), stop), None);
    }

    #[test]
    fn trunk_far_end_disconnect_only_while_off_hook() {
        let t0 = Instant::now();
        let mut s = Signalling::new(L, false, false);
        assert_eq!(s.event(DahdiEvent::OnHook, t0), None);
        s.set_trunk_hook(true, t0);
        assert_eq!(
            s.event(DahdiEvent::OnHook, t0),
            Some(HwEvent::FarEndDisconnect { line: L })
        );
        assert_eq!(s.event(DahdiEvent::OnHook, t0), None, "once per seizure");
        s.set_trunk_hook(false, t0);
        s.set_trunk_hook(true, t0);
        assert_eq!(
            s.event(DahdiEvent::OnHook, t0),
            Some(HwEvent::FarEndDisconnect { line: L })
        );
    }

    #[test]
    fn station_hook_flash_and_pulse_digits() {
        let t0 = Instant::now();
        let mut s = Signalling::new(L, true, false);
        let hook = |off_hook| Some(HwEvent::Hook { line: L, off_hook });
        assert_eq!(s.event(DahdiEvent::OnHook, t0), None, "already on hook");
        assert_eq!(s.event(DahdiEvent::RingOffHook, t0), hook(true));
        assert_eq!(s.event(DahdiEvent::RingOffHook, t0), None);
        assert_eq!(
            s.event(DahdiEvent::WinkFlash, t0),
            Some(HwEvent::Flash { line: L })
        );
        assert_eq!(
            s.event(DahdiEvent::PulseDigit(b'7'), t0),
            Some(HwEvent::Digit {
                line: L,
                digit: '7'
            })
        );
        assert_eq!(s.event(DahdiEvent::RingBegin, t0), None);
        assert_eq!(s.event(DahdiEvent::OnHook, t0), hook(false));
    }
}
