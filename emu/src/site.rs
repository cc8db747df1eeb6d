//! The simulated world behind emulated hardware: a central office behind
//! every trunk port and a person with a phone behind every station port,
//! so the daemon's real drivers meet simulated people through real system
//! calls. A port is a channel of an emulated DAHDI tree ([`DahdiPort`]) or
//! a V.253 voice modem on a pty ([`ModemPort`], trunks only).
//!
//! ```text
//!  daemon (DahdiFd) ──syscalls──▶ FUSE tree ──▶ FakeDahdi ◀──┐
//!                                                  (model)    │
//!  daemon (modem driver) ──tty──▶ pty ──▶ EmulatedModem ◀─────┼── SiteHardware ◀── host::run(World)
//!                                          (V.253 + line)     │   (this module)      (20 ms ticks)
//! ```
//!
//! # Layout under the site's directory
//!
//! [`EmulatedSite::start`] is given an existing directory `<dir>`:
//!
//! * `<dir>/dev` — the DAHDI tree, mounted with FUSE when the site has
//!   DAHDI ports: `<dir>/dev/dahdi/channel` (open it as
//!   `<dir>/dev/dahdi/channel:N`, hw's device-name syntax) and
//!   `<dir>/dev/dahdi/ctl`. [`EmulatedSite::root`] is `<dir>/dev`.
//! * every modem port's `link` (taken relative to `<dir>` unless absolute;
//!   the daemon's built-in site uses `<dir>/tty/<line name>`) — a symlink
//!   to the slave of the modem's pty (`/dev/pts/N`), made by the site (and
//!   its directory with it), because the pty's name is only known once the
//!   modem runs. It is removed when the modem is unplugged or the site
//!   stops.
//!
//! # DAHDI ports
//!
//! [`EmulatedSite::start`] builds a [`FakeDahdi`] with one channel per
//! [`DahdiPort`] (kewl-start signalling: `fxoks` for a station's FXS port,
//! `fxsks` for a trunk's FXO port, hardware.md §1.11), loads one tone zone
//! (zone 0 with the North American ring cadence 2 s on / 4 s off, the
//! default every open attaches, as `dahdi_cfg loadzone=us defaultzone=us`
//! would), mounts it with [`EmulatedDahdi::mount_model`], and runs
//! [`pickupd_sim::host::run`] on a thread of its own behind a
//! [`Hardware`] that does to each line what a DAHDI card's line would see.
//!
//! What the world does, on the wire:
//!
//! | world | DAHDI line |
//! |---|---|
//! | `RingStart` (once per 6 s ring) | ring voltage on for [`RING_ON`], then off (`RINGBEGIN`, `RINGOFFHOOK` after the 50 ms trailer) |
//! | first ring of a call (a new tag, no ring for [`FIRST_RING_GAP`], or the line answered since the last ring) | also [`SideSignal::Offered`] (when the ring has a tag) and on-hook caller id: Bell 202 FSK, MDMF, at −13 dBm0, [`CALLER_ID_DELAY`] after the ring ends, after a channel seizure of 300 alternating bits and 180 bits of mark (Telcordia GR-30) |
//! | `RingStop` | ring voltage off, no further rings, caller id cancelled; on a port the daemon has just taken off hook (it answered as the caller gave up, before the world saw it), also the loop-current drop of `FarEndDisconnect` |
//! | `FarEndDisconnect` | the exchange drops loop current (`ONHOOK` on a kewl-start FXO port that is off hook) |
//! | `PhoneHook` | the phone goes off or on hook |
//! | `PhoneFlash` | on hook for [`PHONE_FLASH`], then off hook again (within `rxflashtime`, so `WINKFLASH`) |
//! | `Unplugged` / `Plugged` | the channel is removed (`REMOVED`, then `ENODEV`) / restored as a fresh channel (a phone that is off hook is then off hook on it) |
//! | `NetworkCall`, `NetworkHangup` | **no wire form**: a call the network offers straight to a station has no DAHDI signal (a real FXS port only sees the phone), so they go to the site's side channel ([`SideSignal`]) for whoever plays the network to the daemon |
//! | receive frames | written as the bytes `read` returns, in the channel's current mode: s16 host-endian in linear mode, else G.711 of the channel's law |
//!
//! What the daemon does, as the world sees it, is observed on the model
//! once per 20 ms tick: on an FXO port the daemon's hook going off or on
//! ([`Control::Hook`]; the break of a flash does not count) and every
//! completed hook flash ([`Control::Flash`], counted by the model, so a
//! flash that begins and ends between two ticks is not lost); on an FXS port
//! ringing starting or stopping (`HOOK` `RING` … `RINGOFF`, or the phone
//! answering: [`Control::Ring`]). Answering an FXO port while it rings trips
//! the ring at once and cancels caller id not yet sent, as an exchange does.
//! What the daemon wrote is decoded from the mode the channel is in when it
//! is collected, cut into 160-sample frames (a partial frame waits for the
//! rest) and handed to the world.
//!
//! The daemon may close and reopen its descriptors at any time: nothing
//! here holds one, and a hang-up by close is just the hook going on. Audio
//! for a channel nobody has open is dropped (the kernel has no reader
//! either), and a removed channel gets none.
//!
//! Kernel rules apply to the simulated offices too: the 2000 ms ring
//! debounce after every open and every on-hook of an FXO port (§1.9)
//! swallows a ring that starts within it — e.g. the office ringing a held
//! call back one second after the daemon hangs up is first reported with
//! the next ring, 6 s later. Tests open a trunk at least 2 s before they
//! expect its first ring.
//!
//! # Modem ports
//!
//! A [`ModemPort`] is an [`EmulatedModem`] of the port's chipset profile
//! (its pty reached through the port's link) whose line the world drives
//! through the modem's [`ModemHandle`]; the modem itself speaks V.253 to the
//! daemon (results, caller-ID lines, `<DLE>` codes, audio). A modem port's
//! line is a trunk: what the world does to a station has no modem form.
//!
//! | world | modem |
//! |---|---|
//! | `RingStart`, first of a call (the modem's line is idle) | [`ModemHandle::incoming_call`] with the caller (an empty number is sent as `O`, unavailable; an empty name is left out): the modem rings at its own cadence (2 s on, 4 s off, like the world's) and sends caller ID between the first and second ring (`NMBR`/`NAME`, as the host enabled with `+VCID`); also [`SideSignal::Offered`] (when the ring has a tag) |
//! | `RingStart`, later rings of the same call (the modem is still ringing) | nothing: the modem keeps its own cadence |
//! | `RingStop`, `FarEndDisconnect` | [`ModemHandle::far_end_hangup`]: a ringing call stops ringing; a connected one breaks the loop (`<DLE>l`, then busy tone and `<DLE>b`) |
//! | `Unplugged` / `Plugged` | the modem is dropped and its link removed (a client still holding the pty reads end-of-file, writes fail: a USB modem pulled out) / a fresh modem (power-up settings, on hook) on a new pty, at the same link |
//! | receive frames | encoded in the modem's `+VSM` wire format and queued as far-end audio ([`ModemHandle::send_audio`]), which the modem plays at 8 kHz while a call is connected and the host reads in its voice stream: the zone's call-waiting tone and any other in-band signal reach the daemon's detectors this way. The world's frames pace the modem's audio during a call ([`ModemHandle::set_far_end_paced`]): each goes out as soon as it is queued, and the modem fills in with silence only when the world is more than 60 ms late, so the two threads' clocks cut no holes into a tone |
//!
//! What the daemon does is read from [`ModemHandle::state`] once per tick:
//! the modem's hook going off or on ([`Control::Hook`], also an answer and
//! hang-up between two looks, by the modem's off-hook count) and every hook
//! flash it sent (`+VTS=!`, [`Control::Flash`]). What the host transmitted
//! (`+VTR`/`+VTX`) is decoded from the wire format in force and handed to
//! the world in 160-sample frames. Audio is carried only in PCM formats at
//! 8000 samples/s (what the daemon's driver selects); other formats carry
//! signalling only.
//!
//! The modem keeps its own call state: it plays dial tone when taken off
//! hook without a call, busy after a far-end hang-up, and accepts far-end
//! audio only while its call is connected — the world's audio of a call
//! the exchange swapped in by a flash passes, as the modem does not know
//! one call from another.
//!
//! # Limits
//!
//! A DAHDI receive frame is encoded in the mode the channel has when the
//! world produces it, and paced onto the line up to 20 ms later, so the
//! few milliseconds of audio around a mode change (`SETLINEAR` right after
//! an open) are in the old mode; likewise what was written just before a
//! change is decoded in the new one. Caller id carries no date/time field.
//! The model keeps receive audio an open channel's client does not read
//! (the kernel would overrun its buffers instead).
//!
//! Requests ([`EmulatedSite::requests`]) are answered by the world thread
//! after what they caused has been handed to the hardware (see
//! [`pickupd_sim::host::run`]); a request still queued when the site stops
//! is dropped unanswered.

use crate::modem::{EmulatedModem, ModemHandle, ModemOptions, WireFormat};
use crate::{ChannelHandle, ChannelSpec, EmulatedDahdi};
use pickupd_dsp::callerid::{encode_mdmf, CallerId};
use pickupd_dsp::fsk::FskTransmitter;
use pickupd_dsp::g711;
use pickupd_dsp::{Frame, FRAME_SAMPLES};
use pickupd_hw::dahdi::{FakeChannelState, FakeDahdi, FakeTxState, Law};
use pickupd_hw::v253::{self, CallerNumber, ModemProfile};
use pickupd_sim::host::{self, Hardware, Request};
use pickupd_sim::{Control, LineKey, SimError, SimOk, SimOp, World, WorldEvent};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Ring voltage per ring of the world's 6 s cadence (North America: 2 s on,
/// 4 s off).
pub const RING_ON: Duration = Duration::from_millis(2_000);
/// A ring with the tag of the previous one but more than this after it
/// starts a new call (with caller id again).
pub const FIRST_RING_GAP: Duration = Duration::from_millis(8_000);
/// From the end of the first ring to the start of the caller-id signal
/// (Bellcore: at least 500 ms after the first ring).
pub const CALLER_ID_DELAY: Duration = Duration::from_millis(500);
/// The on-hook break of a flash at a phone (within 200 ms … `rxflashtime`
/// 1250 ms, so the model reports `WINKFLASH`).
pub const PHONE_FLASH: Duration = Duration::from_millis(500);
/// Level of the on-hook caller-id signal.
pub const CALLER_ID_LEVEL_DBM0: f32 = -13.0;
/// Channel seizure: alternating bits before the mark (GR-30: 300 bits).
pub const SEIZURE_BITS: u32 = 300;
/// Mark before the message (GR-30: 180 bits).
pub const MARK_BITS: u32 = 180;
/// The ring cadence of the tone zone the site loads (zone 0, the default).
pub const RING_CADENCE_MS: [u32; 2] = [2_000, 4_000];
/// Where the DAHDI tree is mounted, under the site's directory.
pub const DAHDI_DIR: &str = "dev";
/// Controls kept for [`EmulatedSite::controls_seen`].
const CONTROL_LOG: usize = 1024;
/// The only rate at which audio passes between the world and a modem.
const MODEM_RATE: u32 = 8000;

/// One DAHDI channel of the site and the world line behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DahdiPort {
    /// The world's line.
    pub key: LineKey,
    /// Global DAHDI channel number, 1 … 1024.
    pub channo: i32,
    /// An FXS port with a phone on it (`fxoks`); else an FXO port facing
    /// the office (`fxsks`).
    pub station: bool,
}

/// A voice modem of the site on a trunk: the world's office behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemPort {
    /// The world's line (a trunk).
    pub key: LineKey,
    /// The chipset family the modem emulates.
    pub profile: ModemProfile,
    /// Where the site puts the symlink to the modem's pty; relative paths
    /// are under the site's directory.
    pub link: PathBuf,
}

/// One port of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SitePort {
    Dahdi(DahdiPort),
    Modem(ModemPort),
}

impl SitePort {
    /// The world's line behind the port.
    pub fn key(&self) -> LineKey {
        match self {
            SitePort::Dahdi(p) => p.key,
            SitePort::Modem(p) => p.key,
        }
    }
}

impl From<DahdiPort> for SitePort {
    fn from(port: DahdiPort) -> Self {
        SitePort::Dahdi(port)
    }
}

impl From<ModemPort> for SitePort {
    fn from(port: ModemPort) -> Self {
        SitePort::Modem(port)
    }
}

/// What the world says that has no wire form, or that a test of the
/// site wants to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideSignal {
    /// The network offers a call straight to a station (see the module doc).
    NetworkCall {
        line: LineKey,
        caller_number: String,
        caller_name: String,
        tag: u64,
    },
    /// The network caller of a station call hung up.
    NetworkHangup { tag: u64 },
    /// The first ring of a call on a trunk has started; `tag` is the
    /// network's reference of that call.
    Offered { line: LineKey, tag: u64 },
}

/// Where the site's [`SideSignal`]s go (called on the world thread).
pub type SideChannel = Box<dyn FnMut(SideSignal) + Send>;

/// Emulated ports (a mounted DAHDI tree, modems on ptys) with a running
/// world behind them. Dropping it stops the world (and with it the modems,
/// removing their links) and unmounts the tree, like [`EmulatedSite::stop`]
/// without the error report.
pub struct EmulatedSite {
    requests: Sender<Request>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    controls: Arc<Mutex<VecDeque<(LineKey, Control)>>>,
    dahdi: Option<EmulatedDahdi>,
    root: PathBuf,
    links: BTreeMap<LineKey, PathBuf>,
}

impl std::fmt::Debug for EmulatedSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatedSite")
            .field("dahdi", &self.dahdi)
            .field("links", &self.links)
            .field("running", &self.thread.is_some())
            .finish_non_exhaustive()
    }
}

impl EmulatedSite {
    /// Starts the site in the existing directory `dir` (layout in the
    /// module doc): mounts a DAHDI tree on `<dir>/dev` with one channel per
    /// DAHDI port (only if there is one), starts one modem per modem port
    /// and links it, and runs `world` behind them; `side` receives what has
    /// no wire form. Every port's key must be a line of `world` (a trunk
    /// for a modem: station events have no modem form), and keys, channel numbers and links must be unique
    /// (`InvalidInput` otherwise); a link path taken by anything but a
    /// symlink is `AlreadyExists`. Mount failures are those of
    /// [`EmulatedDahdi::mount_model`].
    pub fn start<P: Into<SitePort>>(
        dir: &Path,
        world: World,
        ports: impl IntoIterator<Item = P>,
        side: SideChannel,
    ) -> io::Result<EmulatedSite> {
        let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
        let ports: Vec<SitePort> = ports.into_iter().map(Into::into).collect();
        let known = world.line_ids();
        let mut keys = Vec::new();
        for port in &ports {
            let key = port.key();
            if !known.contains(&key) {
                return Err(invalid(format!(
                    "line {} is not a line of the world",
                    key.0
                )));
            }
            if keys.contains(&key) {
                return Err(invalid(format!("line {} has two ports", key.0)));
            }
            keys.push(key);
        }
        let model = FakeDahdi::new();
        model
            .load_zone(0, &RING_CADENCE_MS)
            .map_err(|e| invalid(format!("tone zone 0: {e}")))?;
        let mut dahdi_ports = Vec::new();
        let mut modem_ports = Vec::new();
        for port in ports {
            match port {
                SitePort::Dahdi(port) => {
                    let spec = if port.station {
                        ChannelSpec::fxs_port(port.channo)
                    } else {
                        ChannelSpec::fxo_port(port.channo)
                    };
                    model
                        .add_channel(spec.channo, spec.sigtype)
                        .map_err(|e| invalid(format!("channel {}: {e}", port.channo)))?;
                    dahdi_ports.push(port);
                }
                SitePort::Modem(mut port) => {
                    port.link = dir.join(&port.link);
                    if modem_ports.iter().any(|p: &ModemPort| p.link == port.link) {
                        return Err(invalid(format!("two modems at {}", port.link.display())));
                    }
                    modem_ports.push(port);
                }
            }
        }
        let root = dir.join(DAHDI_DIR);
        let mut lines = BTreeMap::new();
        let dahdi = if dahdi_ports.is_empty() {
            None
        } else {
            std::fs::create_dir_all(&root)?;
            let dahdi = EmulatedDahdi::mount_model(&root, model)?;
            for port in dahdi_ports {
                let handle = dahdi.channel(port.channo).ok_or_else(|| {
                    io::Error::other(format!("channel {} vanished from the model", port.channo))
                })?;
                lines.insert(port.key, Line::new(port, handle));
            }
            Some(dahdi)
        };
        // Dropped (modems stopped, links removed) if a later one fails.
        let mut modems = BTreeMap::new();
        let mut links = BTreeMap::new();
        for port in modem_ports {
            links.insert(port.key, port.link.clone());
            let mut line = ModemLine::new(port);
            line.claim_link()?;
            line.plug()?;
            modems.insert(line.port.key, line);
        }
        let controls = Arc::new(Mutex::new(VecDeque::new()));
        let mut hw = SiteHardware {
            lines,
            modems,
            side,
            log: Arc::clone(&controls),
            scratch: Vec::new(),
        };
        let (requests, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("emu-site-world".into())
                .spawn(move || host::run(world, &mut hw, rx, stop))?
        };
        Ok(EmulatedSite {
            requests,
            stop,
            thread: Some(thread),
            controls,
            dahdi,
            root,
            links,
        })
    }

    /// Where Simulator operations go (people and the network acting).
    pub fn requests(&self) -> Sender<Request> {
        self.requests.clone()
    }

    /// Sends `op` to the world; its answer arrives on the receiver (a dial
    /// is answered once its digits have been played).
    pub fn request(&self, op: SimOp) -> Receiver<Result<SimOk, SimError>> {
        let (tx, rx) = mpsc::channel();
        let reply: host::Reply = Box::new(move |result| {
            // The asker may have stopped waiting; nothing to do then.
            let _ = tx.send(result);
        });
        // A stopped world drops the request; the receiver then reports
        // disconnection.
        let _ = self.requests.send(Request { op, reply });
        rx
    }

    /// The DAHDI device root to give the driver, `<dir>/dev`: it contains
    /// `dahdi/channel` when the site has DAHDI ports.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The mounted tree (for tests: [`EmulatedDahdi::channel`] handles,
    /// [`EmulatedDahdi::devices`]); `None` without DAHDI ports.
    pub fn dahdi(&self) -> Option<&EmulatedDahdi> {
        self.dahdi.as_ref()
    }

    /// The link to the pty of the modem on `line` (absolute), if that line
    /// is a modem port. The link is missing while the modem is unplugged.
    pub fn modem_link(&self, line: LineKey) -> Option<&Path> {
        self.links.get(&line).map(PathBuf::as_path)
    }

    /// Every control handed to the world so far, oldest first (the last
    /// 1024): what the world saw the daemon do.
    pub fn controls_seen(&self) -> Vec<(LineKey, Control)> {
        self.controls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect()
    }

    /// Stops the world thread (and the modems, removing their links) and
    /// unmounts the tree.
    pub fn stop(mut self) -> io::Result<()> {
        let world = self.stop_world();
        let unmount = match self.dahdi.take() {
            Some(dahdi) => dahdi.unmount(),
            None => Ok(()),
        };
        world.and(unmount)
    }

    fn stop_world(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| io::Error::other("the simulated world's thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for EmulatedSite {
    fn drop(&mut self) {
        // `stop` reports errors; here there is no one to report them to.
        let _ = self.stop_world();
    }
}

/// The on-hook caller-id signal for a caller (Bellcore GR-30): with
/// `seizure`, 300 bits of alternating 0 and 1 (thirty `0x55` characters,
/// whose start and stop bits continue the alternation), then 180 bits of
/// mark, then the MDMF message. An empty number is sent as "unavailable"
/// (`O`), an empty name is left out.
fn caller_id_signal(number: &str, name: &str, seizure: bool) -> FskTransmitter {
    let id = CallerId {
        number: Some(number.to_string()).filter(|n| !n.is_empty()),
        name: Some(name.to_string()).filter(|n| !n.is_empty()),
        number_absent: number.is_empty().then_some('O'),
        ..Default::default()
    };
    let mut fsk = FskTransmitter::new(CALLER_ID_LEVEL_DBM0);
    let mut mark_bits = MARK_BITS;
    if seizure {
        let chars = (SEIZURE_BITS / 10) as usize;
        fsk.queue_message(&vec![0x55; chars], 0);
        // queue_message ends every message with two bits of mark.
        mark_bits -= 2;
    }
    // Mark is queued in whole ms (1.2 bits each), rounded up to bits.
    let mark_ms = mark_bits * 1000 / pickupd_dsp::fsk::BAUD;
    fsk.queue_message(&encode_mdmf(&id), mark_ms);
    fsk
}

/// What the world last learnt of the daemon's side of one channel.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Observed {
    off_hook: bool,
    ringing: bool,
    flashes: u64,
    offhooks: u64,
}

impl Observed {
    /// Compares the channel now with what was seen before; the controls
    /// this means for the world go to `out`, in the order they happened.
    fn update(&mut self, station: bool, st: &FakeChannelState, out: &mut Vec<Control>) {
        if st.removed {
            return;
        }
        if station {
            let ringing = matches!(st.tx_state, FakeTxState::RingOn | FakeTxState::RingOff);
            if ringing != self.ringing {
                self.ringing = ringing;
                out.push(Control::Ring(ringing));
            }
            return;
        }
        // The break of a flash is not the daemon hanging up.
        let off_hook = st.tx_state.is_off_hook() || st.tx_state == FakeTxState::Flash;
        self.trunk(off_hook, st.flashes, st.offhooks, out);
    }

    /// A trunk port (FXO channel or modem): its hook now, and how many
    /// flashes and off-hooks it has counted so far.
    fn trunk(&mut self, off_hook: bool, flashes: u64, offhooks: u64, out: &mut Vec<Control>) {
        // A smaller count is a fresh channel (restored hardware).
        let new_flashes = if flashes >= self.flashes {
            flashes - self.flashes
        } else {
            flashes
        };
        self.flashes = flashes;
        let flash = std::iter::repeat_n(Control::Flash, new_flashes.min(16) as usize);
        // Off-hooks since the last look beyond the one the state shows:
        // an answer and hang-up (or a hang-up and new seizure) in between.
        let new_offhooks = if offhooks >= self.offhooks {
            offhooks - self.offhooks
        } else {
            offhooks
        };
        self.offhooks = offhooks;
        let between = new_offhooks.saturating_sub(u64::from(off_hook && !self.off_hook));
        if off_hook && !self.off_hook {
            // Flashes happen only off hook, so after this off-hook.
            out.push(Control::Hook(true));
            out.extend(flash);
        } else if !off_hook && self.off_hook {
            out.extend(flash);
            out.push(Control::Hook(false));
        } else {
            out.extend(flash);
        }
        for _ in 0..between.min(16) {
            if off_hook {
                out.extend([Control::Hook(false), Control::Hook(true)]);
            } else {
                out.extend([Control::Hook(true), Control::Hook(false)]);
            }
        }
        self.off_hook = off_hook;
    }
}

/// Caller id waiting for its time, then playing into the receive frames.
struct PendingCallerId {
    at: Instant,
    fsk: FskTransmitter,
}

/// One port's state on the world thread.
struct Line {
    port: DahdiPort,
    handle: ChannelHandle,
    seen: Observed,
    /// the current ring's voltage goes off then
    ring_off_at: Option<Instant>,
    /// start and tag of the last ring (to tell a call's first ring)
    last_ring: Option<(Instant, Option<u64>)>,
    caller_id: Option<PendingCallerId>,
    /// the phone comes back off hook then (end of its flash)
    flash_back_at: Option<Instant>,
    /// the far end hung up while our side was still in its off-hook
    /// debounce, when the card would not report the lost loop current: the
    /// exchange keeps the loop open until it does
    disconnect_pending: bool,
    /// transmitted samples short of a frame, and the mode they came in
    tx_samples: Vec<i16>,
    tx_odd_byte: Option<u8>,
    tx_linear: bool,
}

impl Line {
    fn new(port: DahdiPort, handle: ChannelHandle) -> Self {
        Line {
            port,
            handle,
            seen: Observed::default(),
            ring_off_at: None,
            last_ring: None,
            caller_id: None,
            flash_back_at: None,
            disconnect_pending: false,
            tx_samples: Vec::new(),
            tx_odd_byte: None,
            tx_linear: false,
        }
    }

    /// The exchange drops loop current; the card reports it once our side
    /// is off hook past its debounce, so until then it is kept pending (and
    /// forgotten if our side hangs up first).
    fn disconnect(&mut self) {
        match self.handle.state().map(|s| s.tx_state) {
            Some(FakeTxState::OffHook) => {
                self.disconnect_pending = false;
                let _ = self.handle.far_end_disconnect();
            }
            Some(
                FakeTxState::Debounce
                | FakeTxState::PreFlash
                | FakeTxState::Flash
                | FakeTxState::AfterStart,
            ) => self.disconnect_pending = true,
            _ => self.disconnect_pending = false,
        }
    }

    /// Ends the current ring, and with it the call's caller id.
    fn stop_ringing(&mut self) {
        self.ring_off_at = None;
        self.caller_id = None;
        // Refused only for a channel that is not an FXO port, which start()
        // rules out; likewise for every handle call below.
        let _ = self.handle.ring(false);
    }

    fn ring(&mut self, caller_number: &str, caller_name: &str, tag: Option<u64>) -> Option<u64> {
        let now = Instant::now();
        let first = match self.last_ring {
            Some((at, last_tag)) => last_tag != tag || now - at > FIRST_RING_GAP,
            None => true,
        };
        self.last_ring = Some((now, tag));
        let _ = self.handle.ring(true);
        self.ring_off_at = Some(now + RING_ON);
        if !first {
            return None;
        }
        self.caller_id = Some(PendingCallerId {
            at: now + RING_ON + CALLER_ID_DELAY,
            fsk: caller_id_signal(caller_number, caller_name, true),
        });
        tag
    }

    /// Forgets everything of the line's last life (unplugged or restored).
    fn reset(&mut self) {
        self.seen = Observed::default();
        self.ring_off_at = None;
        self.last_ring = None;
        self.caller_id = None;
        self.flash_back_at = None;
        self.tx_samples.clear();
        self.tx_odd_byte = None;
    }
}

/// One modem port on the world thread: the modem while plugged in, and
/// what the world has seen of it.
struct ModemLine {
    port: ModemPort,
    /// `None` while unplugged.
    modem: Option<(EmulatedModem, ModemHandle)>,
    seen: Observed,
    /// transmitted bytes short of a sample, and the format they came in
    tx_bytes: Vec<u8>,
    tx_samples: Vec<i16>,
    tx_wire: Option<WireFormat>,
}

impl ModemLine {
    fn new(port: ModemPort) -> Self {
        ModemLine {
            port,
            modem: None,
            seen: Observed::default(),
            tx_bytes: Vec::new(),
            tx_samples: Vec::new(),
            tx_wire: None,
        }
    }

    fn handle(&self) -> Option<&ModemHandle> {
        self.modem.as_ref().map(|(_, h)| h)
    }

    /// Refuses a link path that something other than a symlink holds (a
    /// symlink there is taken to be a stale one of ours).
    fn claim_link(&self) -> io::Result<()> {
        match std::fs::symlink_metadata(&self.port.link) {
            Ok(meta) if !meta.file_type().is_symlink() => Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a symlink; the site will not replace it with the \
                     link to a modem",
                    self.port.link.display()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// A fresh modem (power-up state, on hook) on a new pty, linked.
    fn plug(&mut self) -> io::Result<()> {
        self.unplug();
        let modem = EmulatedModem::start_with(self.port.profile.clone(), ModemOptions::default())?;
        let link = &self.port.link;
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Replaced in one step: a new link beside it, renamed over it.
        let name = link
            .file_name()
            .map_or_else(|| "modem".into(), |n| n.to_string_lossy().into_owned());
        let fresh = link.with_file_name(format!(".{name}.new"));
        let _ = std::fs::remove_file(&fresh);
        std::os::unix::fs::symlink(modem.path(), &fresh)?;
        std::fs::rename(&fresh, link)?;
        let handle = modem.handle();
        handle.set_far_end_paced(true);
        self.modem = Some((modem, handle));
        Ok(())
    }

    /// The modem goes away with its pty, and the link with it.
    fn unplug(&mut self) {
        self.seen = Observed::default();
        self.tx_bytes.clear();
        self.tx_samples.clear();
        self.tx_wire = None;
        if self.modem.take().is_some() {
            let is_link = std::fs::symlink_metadata(&self.port.link)
                .is_ok_and(|m| m.file_type().is_symlink());
            if is_link {
                // Gone already is as good.
                let _ = std::fs::remove_file(&self.port.link);
            }
        }
    }
}

impl Drop for ModemLine {
    fn drop(&mut self) {
        self.unplug();
    }
}

/// The caller as a modem's line presents it: an empty number as
/// unavailable (`O`), an empty name left out.
fn modem_caller(number: &str, name: &str) -> v253::CallerId {
    v253::CallerId {
        number: Some(if number.is_empty() {
            CallerNumber::Unavailable
        } else {
            CallerNumber::Number(number.to_string())
        }),
        name: Some(name.to_string()).filter(|n| !n.is_empty()),
        ..v253::CallerId::default()
    }
}

/// Whether audio passes between the world (8 kHz linear frames) and a
/// modem in this wire format.
fn carries_audio(wire: WireFormat) -> bool {
    wire.rate == MODEM_RATE && wire.format.is_pcm()
}

/// The world's side of the emulated ports.
struct SiteHardware {
    lines: BTreeMap<LineKey, Line>,
    modems: BTreeMap<LineKey, ModemLine>,
    side: SideChannel,
    log: Arc<Mutex<VecDeque<(LineKey, Control)>>>,
    scratch: Vec<u8>,
}

impl SiteHardware {
    fn line(&mut self, key: LineKey) -> Option<&mut Line> {
        self.lines.get_mut(&key)
    }
}

impl Hardware for SiteHardware {
    fn controls(&mut self, out: &mut Vec<(LineKey, Control)>) {
        let now = Instant::now();
        let mut seen = Vec::new();
        for (key, line) in self.lines.iter_mut() {
            // Timed line signals first: they are the world's, from before.
            if line.ring_off_at.is_some_and(|at| at <= now) {
                line.ring_off_at = None;
                let _ = line.handle.ring(false);
            }
            if line.flash_back_at.is_some_and(|at| at <= now) {
                line.flash_back_at = None;
                let _ = line.handle.phone_off_hook();
            }
            if line.disconnect_pending {
                line.disconnect();
            }
            let Some(state) = line.handle.state() else {
                continue;
            };
            seen.clear();
            line.seen.update(line.port.station, &state, &mut seen);
            for control in &seen {
                if *control == Control::Hook(true) {
                    // Answered: the exchange trips the ring at once, sends
                    // no caller id, and a ring after this (a held call
                    // ringing back) is a call's first again.
                    if line.ring_off_at.is_some() {
                        line.stop_ringing();
                    }
                    line.caller_id = None;
                    line.last_ring = None;
                }
                out.push((*key, *control));
            }
        }
        for (key, line) in self.modems.iter_mut() {
            let Some(handle) = line.handle() else {
                continue;
            };
            let state = handle.state();
            seen.clear();
            line.seen.trunk(
                state.off_hook,
                u64::from(state.flashes),
                u64::from(state.offhooks),
                &mut seen,
            );
            out.extend(seen.iter().map(|c| (*key, *c)));
        }
        if !out.is_empty() {
            let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
            for c in out.iter() {
                if log.len() == CONTROL_LOG {
                    log.pop_front();
                }
                log.push_back(*c);
            }
        }
    }

    fn frame(&mut self, key: LineKey, frame: &Frame) {
        let now = Instant::now();
        if let Some(handle) = self.modems.get(&key).and_then(ModemLine::handle) {
            let wire = handle.wire_format();
            if carries_audio(wire) {
                self.scratch.clear();
                wire.encode(frame, &mut self.scratch);
                // Refused (and so dropped) unless a call is connected:
                // nobody on the modem's line hears it then.
                handle.send_audio(&self.scratch);
            }
            return;
        }
        let Some(line) = self.lines.get_mut(&key) else {
            return;
        };
        let mut samples = *frame;
        if let Some(cid) = line.caller_id.as_mut().filter(|c| c.at <= now) {
            let mut fsk = [0i16; FRAME_SAMPLES];
            cid.fsk.fill(&mut fsk);
            for (s, f) in samples.iter_mut().zip(fsk) {
                *s = s.saturating_add(f);
            }
            if cid.fsk.is_idle() {
                line.caller_id = None;
            }
        }
        let Some(state) = line.handle.state() else {
            return;
        };
        if !state.open || state.removed {
            return; // nobody reads it
        }
        let bytes = &mut self.scratch;
        bytes.clear();
        if state.linear {
            bytes.extend(samples.iter().flat_map(|s| s.to_ne_bytes()));
        } else {
            let encode = match state.law {
                Law::ALaw => g711::alaw_encode,
                Law::MuLaw | Law::Default => g711::ulaw_encode,
            };
            bytes.extend(samples.iter().map(|&s| encode(s)));
        }
        line.handle.send_audio(bytes);
    }

    fn event(&mut self, event: WorldEvent) {
        match event {
            WorldEvent::RingStart {
                line,
                caller_number,
                caller_name,
                tag,
            } if self.modems.contains_key(&line) => {
                let Some(handle) = self.modems.get(&line).and_then(ModemLine::handle) else {
                    return;
                };
                // The modem rings at its own cadence from the call's first
                // ring; it refuses a call while busy (off hook or ringing),
                // which drops the later rings of the call it is ringing.
                let first = handle.incoming_call(modem_caller(&caller_number, &caller_name));
                if let Some(tag) = tag.filter(|_| first) {
                    (self.side)(SideSignal::Offered { line, tag });
                }
            }
            WorldEvent::RingStop { line } | WorldEvent::FarEndDisconnect { line }
                if self.modems.contains_key(&line) =>
            {
                if let Some(handle) = self.modems.get(&line).and_then(ModemLine::handle) {
                    handle.far_end_hangup();
                }
            }
            WorldEvent::Unplugged { line, .. } if self.modems.contains_key(&line) => {
                if let Some(m) = self.modems.get_mut(&line) {
                    m.unplug();
                }
            }
            WorldEvent::Plugged { line, .. } if self.modems.contains_key(&line) => {
                if let Some(m) = self.modems.get_mut(&line) {
                    // A modem that cannot start (no ptys left) stays
                    // unplugged; the daemon's driver reports the device
                    // missing.
                    let _ = m.plug();
                }
            }
            WorldEvent::RingStart {
                line,
                caller_number,
                caller_name,
                tag,
            } => {
                let offered = self
                    .line(line)
                    .and_then(|l| l.ring(&caller_number, &caller_name, tag));
                if let Some(tag) = offered {
                    (self.side)(SideSignal::Offered { line, tag });
                }
            }
            WorldEvent::RingStop { line } => {
                if let Some(l) = self.line(line) {
                    l.stop_ringing();
                    l.last_ring = None;
                    // The caller gave up as the daemon answered (before
                    // the world saw the answer): the exchange drops the
                    // loop of a call it never put through. Nothing on an
                    // idle line.
                    l.disconnect();
                }
            }
            WorldEvent::FarEndDisconnect { line } => {
                if let Some(l) = self.line(line) {
                    l.caller_id = None;
                    l.disconnect();
                }
            }
            WorldEvent::PhoneHook { line, off_hook } => {
                if let Some(l) = self.line(line) {
                    l.flash_back_at = None;
                    let _ = if off_hook {
                        l.handle.phone_off_hook()
                    } else {
                        l.handle.phone_on_hook()
                    };
                }
            }
            WorldEvent::PhoneFlash { line } => {
                if let Some(l) = self.line(line) {
                    let _ = l.handle.phone_on_hook();
                    l.flash_back_at = Some(Instant::now() + PHONE_FLASH);
                }
            }
            WorldEvent::NetworkCall {
                line,
                caller_number,
                caller_name,
                tag,
            } => (self.side)(SideSignal::NetworkCall {
                line,
                caller_number,
                caller_name,
                tag,
            }),
            WorldEvent::NetworkHangup { tag } => (self.side)(SideSignal::NetworkHangup { tag }),
            WorldEvent::Unplugged { line, .. } => {
                if let Some(l) = self.line(line) {
                    l.reset();
                    let _ = l.handle.remove();
                }
            }
            WorldEvent::Plugged { line, off_hook } => {
                if let Some(l) = self.line(line) {
                    l.reset();
                    let _ = l.handle.restore();
                    if l.port.station && off_hook {
                        let _ = l.handle.phone_off_hook();
                    }
                }
            }
        }
    }

    fn transmitted(&mut self, out: &mut Vec<(LineKey, Frame)>) {
        for (key, line) in self.modems.iter_mut() {
            let Some(handle) = line.handle() else {
                continue;
            };
            let bytes = handle.take_transmitted_audio();
            if bytes.is_empty() {
                continue;
            }
            let wire = handle.wire_format();
            if line.tx_wire != Some(wire) {
                // Format changed: what is left over was of the other one.
                line.tx_wire = Some(wire);
                line.tx_bytes.clear();
                line.tx_samples.clear();
            }
            if !carries_audio(wire) {
                continue;
            }
            line.tx_bytes.extend_from_slice(&bytes);
            let per_sample = wire.bytes_for(1).max(1);
            let whole = line.tx_bytes.len() / per_sample * per_sample;
            if let Some(samples) = wire.decode(&line.tx_bytes[..whole]) {
                line.tx_samples.extend(samples);
            }
            line.tx_bytes.drain(..whole);
            let frames = line.tx_samples.len() / FRAME_SAMPLES * FRAME_SAMPLES;
            for chunk in line.tx_samples[..frames].chunks_exact(FRAME_SAMPLES) {
                let mut frame = [0i16; FRAME_SAMPLES];
                frame.copy_from_slice(chunk);
                out.push((*key, frame));
            }
            line.tx_samples.drain(..frames);
        }
        for (key, line) in self.lines.iter_mut() {
            let bytes = match line.handle.take_written_audio() {
                Ok(b) if !b.is_empty() => b,
                _ => continue,
            };
            let Some(state) = line.handle.state() else {
                continue;
            };
            if state.linear != line.tx_linear {
                // Mode changed: what is left over was of the other mode.
                line.tx_linear = state.linear;
                line.tx_samples.clear();
                line.tx_odd_byte = None;
            }
            if state.linear {
                let mut all = Vec::with_capacity(bytes.len() + 1);
                all.extend(line.tx_odd_byte.take());
                all.extend_from_slice(&bytes);
                let mut pairs = all.chunks_exact(2);
                line.tx_samples
                    .extend(pairs.by_ref().map(|p| i16::from_ne_bytes([p[0], p[1]])));
                line.tx_odd_byte = pairs.remainder().first().copied();
            } else {
                let decode = match state.law {
                    Law::ALaw => g711::alaw_decode,
                    Law::MuLaw | Law::Default => g711::ulaw_decode,
                };
                line.tx_samples.extend(bytes.iter().map(|&b| decode(b)));
            }
            let whole = line.tx_samples.len() / FRAME_SAMPLES * FRAME_SAMPLES;
            for chunk in line.tx_samples[..whole].chunks_exact(FRAME_SAMPLES) {
                let mut frame = [0i16; FRAME_SAMPLES];
                frame.copy_from_slice(chunk);
                out.push((*key, frame));
            }
            line.tx_samples.drain(..whole);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pickupd_dsp::callerid::MessageAssembler;
    use pickupd_dsp::fsk::FskReceiver;
    use pickupd_hw::dahdi::consts::{DAHDI_SIG_FXOKS, DAHDI_SIG_FXSKS};
    use pickupd_hw::dahdi::{DahdiChannel, DahdiOpener, HookOp};

    /// The signal as the wire carries it in µ-law, between silences.
    fn on_the_wire(fsk: &mut FskTransmitter) -> Vec<i16> {
        let mut samples = vec![0i16; 1600];
        let mut frame = [0i16; FRAME_SAMPLES];
        while !fsk.is_idle() {
            fsk.fill(&mut frame);
            samples.extend(frame);
        }
        samples.extend([0i16; 1600]);
        samples
            .iter()
            .map(|&s| g711::ulaw_decode(g711::ulaw_encode(s)))
            .collect()
    }

    /// The daemon's decoder: every message the receiver and the assembler
    /// complete, fed in 20 ms frames.
    fn decode(samples: &[i16]) -> Vec<CallerId> {
        let mut rx = FskReceiver::new();
        let mut asm = MessageAssembler::new();
        let mut ids = Vec::new();
        for frame in samples.chunks(FRAME_SAMPLES) {
            rx.process(frame, &mut |byte| {
                if let Some(Ok(id)) = asm.push(byte) {
                    ids.push(id);
                }
            });
        }
        ids
    }

    #[test]
    fn caller_id_with_channel_seizure_decodes_with_the_daemons_receiver() {
        for (number, name) in [("5550100", "Ada Lovelace"), ("", "Bob"), ("2125551234", "")] {
            let mut fsk = caller_id_signal(number, name, true);
            let wire = on_the_wire(&mut fsk);
            let ids = decode(&wire);
            assert_eq!(ids.len(), 1, "{number:?}/{name:?}: {ids:?}");
            let id = &ids[0];
            assert_eq!(id.number.as_deref().unwrap_or(""), number);
            assert_eq!(id.name.as_deref().unwrap_or(""), name);
            if number.is_empty() {
                assert_eq!(id.number_absent, Some('O'));
            }
        }
    }

    #[test]
    fn caller_id_is_seizure_mark_then_message_at_minus_13_dbm0() {
        let id = CallerId {
            number: Some("5550100".into()),
            name: Some("Ada".into()),
            ..Default::default()
        };
        let message_bits = encode_mdmf(&id).len() as u64 * 10 + 2;
        let mut fsk = caller_id_signal("5550100", "Ada", true);
        let mut samples = Vec::new();
        let mut frame = [0i16; FRAME_SAMPLES];
        while !fsk.is_idle() {
            fsk.fill(&mut frame);
            samples.extend(frame);
        }
        // 20 samples per 3 bits; the last frame is padded with silence.
        let bits = u64::from(SEIZURE_BITS + MARK_BITS) + message_bits;
        let sent = samples.iter().rposition(|&s| s != 0).unwrap() as u64 + 1;
        assert!(
            sent.abs_diff(bits * 20 / 3) <= 7,
            "{sent} samples for {bits} bits"
        );
        // Seizure: the first 300 bits alternate, so no bit-long run of mark
        // (1200 Hz, 6⅔ samples per cycle) lasts two bits: count the zero
        // crossings per bit instead — 1200 Hz gives 2 per bit, 2200 Hz 3⅔.
        let seizure = &samples[..(SEIZURE_BITS as usize * 20 / 3)];
        let mark = &samples[seizure.len()..seizure.len() + MARK_BITS as usize * 20 / 3];
        let crossings = |s: &[i16]| s.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        let per_bit = |s: &[i16]| crossings(s) as f64 / (s.len() as f64 * 3.0 / 20.0);
        assert!((per_bit(mark) - 2.0).abs() < 0.1, "{}", per_bit(mark));
        // alternating: the mean of 2 and 3⅔
        assert!(
            (per_bit(seizure) - 17.0 / 6.0).abs() < 0.15,
            "{}",
            per_bit(seizure)
        );
        let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
        let want = pickupd_dsp::dbm0_to_peak(CALLER_ID_LEVEL_DBM0);
        assert!(
            (f32::from(peak) - want).abs() < want * 0.02,
            "{peak} vs {want}"
        );
    }

    fn observe(k: &FakeDahdi, seen: &mut Observed, station: bool, channo: i32) -> Vec<Control> {
        let mut out = Vec::new();
        seen.update(station, &k.state(channo).unwrap(), &mut out);
        out
    }

    #[test]
    fn a_flash_between_two_looks_is_one_flash_and_no_hang_up() {
        let k = FakeDahdi::new();
        k.add_channel(2, DAHDI_SIG_FXSKS).unwrap();
        let mut seen = Observed::default();
        let mut ch = k.open_channel(2).unwrap();
        let mut p = ch.get_params().unwrap();
        p.preflashtime = 2;
        p.flashtime = 10;
        ch.set_params(&p).unwrap();
        assert_eq!(observe(&k, &mut seen, false, 2), vec![]);
        ch.hook(HookOp::OffHook).unwrap();
        assert_eq!(observe(&k, &mut seen, false, 2), vec![Control::Hook(true)]);
        k.advance(600);
        ch.hook(HookOp::Flash).unwrap();
        k.advance(5);
        assert_eq!(observe(&k, &mut seen, false, 2), vec![], "in the break");
        k.advance(15);
        assert_eq!(observe(&k, &mut seen, false, 2), vec![Control::Flash]);
        // Two flashes and the hang-up between two looks, in that order.
        for _ in 0..2 {
            ch.hook(HookOp::Flash).unwrap();
            k.advance(20);
        }
        ch.hook(HookOp::OnHook).unwrap();
        assert_eq!(
            observe(&k, &mut seen, false, 2),
            vec![Control::Flash, Control::Flash, Control::Hook(false)]
        );
        // Closing the fd hangs up too.
        ch.hook(HookOp::OffHook).unwrap();
        assert_eq!(observe(&k, &mut seen, false, 2), vec![Control::Hook(true)]);
        drop(ch);
        assert_eq!(observe(&k, &mut seen, false, 2), vec![Control::Hook(false)]);
    }

    #[test]
    fn an_answer_and_hang_up_between_two_looks_both_reach_the_world() {
        let k = FakeDahdi::new();
        k.add_channel(2, DAHDI_SIG_FXSKS).unwrap();
        let mut seen = Observed::default();
        let mut ch = k.open_channel(2).unwrap();
        assert_eq!(observe(&k, &mut seen, false, 2), vec![]);
        ch.hook(HookOp::OffHook).unwrap();
        ch.hook(HookOp::OnHook).unwrap();
        assert_eq!(
            observe(&k, &mut seen, false, 2),
            vec![Control::Hook(true), Control::Hook(false)]
        );
        assert_eq!(observe(&k, &mut seen, false, 2), vec![], "seen once");
        // Off hook, then a hang-up and a new seizure between two looks.
        ch.hook(HookOp::OffHook).unwrap();
        assert_eq!(observe(&k, &mut seen, false, 2), vec![Control::Hook(true)]);
        k.advance(700);
        ch.hook(HookOp::OnHook).unwrap();
        ch.hook(HookOp::OffHook).unwrap();
        assert_eq!(
            observe(&k, &mut seen, false, 2),
            vec![Control::Hook(false), Control::Hook(true)]
        );
    }

    #[test]
    fn ringing_a_station_starts_and_stops_ring_control() {
        let k = FakeDahdi::new();
        k.add_channel(1, DAHDI_SIG_FXOKS).unwrap();
        k.load_zone(0, &RING_CADENCE_MS).unwrap();
        let mut seen = Observed::default();
        let mut ch = k.open_channel(1).unwrap();
        ch.hook(HookOp::Ring).unwrap();
        assert_eq!(observe(&k, &mut seen, true, 1), vec![Control::Ring(true)]);
        k.advance(2_500); // into the silent phase: still ringing
        assert_eq!(observe(&k, &mut seen, true, 1), vec![]);
        ch.hook(HookOp::RingOff).unwrap();
        assert_eq!(observe(&k, &mut seen, true, 1), vec![Control::Ring(false)]);
        ch.hook(HookOp::Ring).unwrap();
        assert_eq!(observe(&k, &mut seen, true, 1), vec![Control::Ring(true)]);
        k.phone_off_hook(1).unwrap(); // answered
        assert_eq!(observe(&k, &mut seen, true, 1), vec![Control::Ring(false)]);
    }
}
