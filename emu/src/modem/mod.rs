//! An emulated V.253 voice modem on a pseudo-terminal pair (hardware.md §3,
//! §4), so the daemon's modem driver is tested through a real tty: real
//! `open`, termios, `read` and `write`, with the exact bytes a chipset
//! family sends.
//!
//! ```text
//!  client (opens the slave path) ──tty──▶ pty master ──▶ I/O thread (poll, 5 ms)
//!                                                           │ bytes + time
//!                                                        ModemCore   protocol.rs: AT commands,
//!                                                           │        results, DLE both ways
//!  ModemHandle (calls, audio, DTMF, SAS) ──────────────▶  Line       line.rs: when things happen
//! ```
//!
//! Why the split: the byte protocol (per chipset profile of hw's
//! [`ModemProfile`], quirks included) knows nothing about calls; the
//! [`Line`] knows nothing about bytes and takes its time from the caller,
//! so the daemon's simulated world can drive a line later and unit tests run
//! without real time. Audio to the host is produced in 20 ms frames at the
//! `+VSM` rate (8000 samples/s), paced by the wall clock.
//!
//! The emulator keeps its own descriptor of the slave open, so the client
//! may close and reopen the path without the master seeing a hang-up; the
//! slave is in raw mode from the start. Modem-line ioctls (`TIOCMGET`, …)
//! fail with `ENOTTY` on a pty (§4): clients must not rely on them here.

mod audio;
mod chipset;
mod command;
mod line;
mod protocol;

pub use audio::{Segment, WireFormat};
pub use chipset::{Chipset, VlsLabel, VsmMethod};
pub use line::{CallState, Line, LineEvent, LineState, RingCadence};
pub use protocol::{ModemCore, ModemSettings};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::openpty;
use nix::sys::termios::{cfmakeraw, cfsetspeed, tcgetattr, tcsetattr, BaudRate, SetArg};
use pickupd_hw::v253::{CallerId, DtmfDigit, ModemProfile, StreamKind};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Instant;

/// Settings of an emulated modem beyond its chipset profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModemOptions {
    /// The exchange's ring cadence (tests shorten it).
    pub cadence: RingCadence,
}

struct Inner {
    core: Mutex<ModemCore>,
    start: Instant,
    stop: AtomicBool,
    /// The firmware hangs: host bytes are dropped, nothing is sent.
    wedged: AtomicBool,
}

impl Inner {
    fn core(&self) -> MutexGuard<'_, ModemCore> {
        // A panic elsewhere must not take the modem down with it: the core's
        // state stays consistent between calls.
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A running emulated modem. Dropping it stops the I/O thread and closes
/// the pty pair; a client still holding the slave then reads end-of-file or
/// `EIO`, as after unplugging a USB modem.
pub struct EmulatedModem {
    path: PathBuf,
    profile: ModemProfile,
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
    /// Held so the pty stays up (and raw) while the client reopens it.
    _slave: OwnedFd,
}

impl std::fmt::Debug for EmulatedModem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatedModem")
            .field("path", &self.path)
            .field("profile", &self.profile.name)
            .finish_non_exhaustive()
    }
}

impl EmulatedModem {
    /// Starts a modem of `profile`'s family with default options.
    pub fn start(profile: ModemProfile) -> io::Result<Self> {
        Self::start_with(profile, ModemOptions::default())
    }

    /// Starts a modem: opens the pty pair, puts it in raw mode and starts
    /// the I/O thread. The client opens [`Self::path`].
    pub fn start_with(profile: ModemProfile, options: ModemOptions) -> io::Result<Self> {
        let pty = openpty(None, None).map_err(io::Error::from)?;
        let mut termios = tcgetattr(&pty.slave).map_err(io::Error::from)?;
        cfmakeraw(&mut termios);
        // Cosmetic on a pty, but what a client reading the speed expects
        // (§3.3: 115200 for 8-bit 8 kHz audio).
        cfsetspeed(&mut termios, BaudRate::B115200).map_err(io::Error::from)?;
        tcsetattr(&pty.slave, SetArg::TCSANOW, &termios).map_err(io::Error::from)?;
        let path = nix::unistd::ttyname(&pty.slave).map_err(io::Error::from)?;
        fcntl(&pty.master, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(io::Error::from)?;
        let master = File::from(pty.master);
        let core = ModemCore::new(&profile, Line::new(options.cadence));
        let inner = Arc::new(Inner {
            core: Mutex::new(core),
            start: Instant::now(),
            stop: AtomicBool::new(false),
            wedged: AtomicBool::new(false),
        });
        let thread = thread::Builder::new()
            .name(format!("emu-modem-{}", profile.name))
            .spawn({
                let inner = Arc::clone(&inner);
                move || run(&inner, master)
            })?;
        Ok(Self {
            path,
            profile,
            inner,
            thread: Some(thread),
            _slave: pty.slave,
        })
    }

    /// The slave tty for the client (`/dev/pts/N`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The chipset profile being emulated.
    pub fn profile(&self) -> &ModemProfile {
        &self.profile
    }

    /// The outside world of this modem's line.
    pub fn handle(&self) -> ModemHandle {
        ModemHandle {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl Drop for EmulatedModem {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The thread only returns; a panic there has nothing to report
            // beyond what it printed.
            let _ = thread.join();
        }
    }
}

/// The I/O loop: one thread, non-blocking master, 5 ms poll so line timing
/// and 20 ms audio frames stay on time.
fn run(inner: &Inner, mut master: File) {
    let mut buf = [0u8; 4096];
    while !inner.stop.load(Ordering::Relaxed) {
        let wedged = inner.wedged.load(Ordering::Relaxed);
        let want_write = {
            let mut core = inner.core();
            core.advance(inner.now());
            if wedged {
                // A hung modem says nothing, not even later.
                core.output().clear();
            }
            !core.output().is_empty()
        };
        let mut flags = PollFlags::POLLIN;
        if want_write {
            flags |= PollFlags::POLLOUT;
        }
        let revents = {
            let mut fds = [PollFd::new(master.as_fd(), flags)];
            match poll(&mut fds, PollTimeout::from(5u8)) {
                Ok(_) => fds[0].revents().unwrap_or(PollFlags::empty()),
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            }
        };
        if revents.contains(PollFlags::POLLIN) {
            loop {
                match master.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) if wedged => {}
                    Ok(n) => inner.core().feed(&buf[..n], inner.now()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // EIO: no slave descriptor open (cannot happen while we
                    // hold one); anything else ends the modem.
                    Err(_) => return,
                }
            }
        }
        if want_write || revents.contains(PollFlags::POLLOUT) {
            let mut core = inner.core();
            let out = core.output();
            while !out.is_empty() {
                match master.write(out) {
                    Ok(0) => break,
                    Ok(n) => {
                        out.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
        if revents.intersects(PollFlags::POLLERR | PollFlags::POLLNVAL) {
            return;
        }
    }
}

/// The outside world of an emulated modem: the exchange and the far end.
/// Cheap to clone; every method acts at the modem's current time.
#[derive(Clone)]
pub struct ModemHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ModemHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModemHandle").finish_non_exhaustive()
    }
}

impl ModemHandle {
    fn with<T>(&self, f: impl FnOnce(&mut ModemCore, u64) -> T) -> T {
        let now = self.inner.now();
        f(&mut self.inner.core(), now)
    }

    /// An incoming call: rings at the cadence, caller ID between the first
    /// and second ring (if the host enabled it). `false` if the line is
    /// busy (off-hook or already ringing).
    pub fn incoming_call(&self, caller: CallerId) -> bool {
        self.with(|core, now| core.line.incoming_call(caller, now))
    }

    /// The far end hangs up (or abandons a ringing call).
    pub fn far_end_hangup(&self) {
        self.with(|core, now| core.line.far_end_hangup(now));
    }

    /// The party the modem dialled answers. `false` without an outgoing
    /// call.
    pub fn far_end_answer(&self, party: CallerId) -> bool {
        self.with(|core, _| core.line.far_end_answer(party))
    }

    /// Far-end audio in the modem's current wire format ([`Self::wire_format`]),
    /// played at real-time pace. `false` (and dropped) unless a call is
    /// connected.
    pub fn send_audio(&self, bytes: &[u8]) -> bool {
        self.with(|core, _| core.line.far_end_audio(bytes))
    }

    /// Far-end audio bytes not yet played.
    pub fn audio_pending(&self) -> usize {
        self.with(|core, _| core.line.far_end_pending())
    }

    /// Lets the far end's audio pace the line during a call
    /// ([`Line::set_far_end_paced`]): for a far end that keeps time on a
    /// clock of its own, such as a simulated exchange.
    pub fn set_far_end_paced(&self, paced: bool) {
        self.with(|core, _| core.line.set_far_end_paced(paced));
    }

    /// The far end presses a key. `false` if the modem is on-hook.
    pub fn dtmf(&self, digit: DtmfDigit) -> bool {
        self.with(|core, _| core.line.far_end_dtmf(digit))
    }

    /// A second call arrives during the connected call: SAS on the line
    /// (audible to the host's detectors) and, on families whose line label
    /// reports event 15 (§3.6), `<DLE>w`; with `caller`, families reporting
    /// event 28 also send the CIDCW report. `false` without a connected call.
    pub fn call_waiting(&self, caller: Option<CallerId>) -> bool {
        self.with(|core, _| core.line.call_waiting(caller))
    }

    /// The telephone on the modem's phone jack is lifted or put down.
    pub fn local_handset(&self, off_hook: bool) {
        self.with(|core, _| core.line.local_handset(off_hook));
    }

    /// Audio the host transmitted (`+VTX`/`+VTR`), DLE-unescaped, since the
    /// last call.
    pub fn take_transmitted_audio(&self) -> Vec<u8> {
        self.with(|core, _| core.take_captured())
    }

    /// The line: hook, call, waiting call, flashes, digits sent.
    pub fn state(&self) -> LineState {
        self.with(|core, _| core.line.state())
    }

    /// The audio format selected with `+VSM`.
    pub fn wire_format(&self) -> WireFormat {
        self.with(|core, _| core.wire())
    }

    /// The voice stream open, if any.
    pub fn stream(&self) -> Option<StreamKind> {
        self.with(|core, _| core.stream())
    }

    /// What the host set up: voice mode (`+FCLASS`), caller ID (`+VCID` /
    /// `#CID`), the line label, echo.
    pub fn settings(&self) -> ModemSettings {
        self.with(|core, _| core.settings())
    }

    /// The modem resets itself (power glitch): power-up settings (data
    /// mode, echo on, caller ID off), on hook, no stream; the host is not
    /// told.
    pub fn power_cycle(&self) {
        self.with(|core, _| core.power_cycle());
    }

    /// Bytes to the host as they are, outside the protocol: line noise or a
    /// confused firmware (bounded like all output).
    pub fn send_raw(&self, bytes: &[u8]) {
        self.with(|core, _| core.inject(bytes));
    }

    /// The modem's firmware hangs (`true`): it drops whatever the host
    /// writes and sends nothing, not even results, until released
    /// (`false`); the line behind it goes on, unheard. The tty stays open,
    /// so only a host that expects answers notices.
    pub fn set_wedged(&self, wedged: bool) {
        self.inner.wedged.store(wedged, Ordering::Relaxed);
    }
}
