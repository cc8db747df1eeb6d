//! Emulated hardware for pickupd, so the real drivers are tested through
//! their real system calls:
//!
//! * a FUSE-mounted DAHDI device tree that behaves like the kernel module
//!   (hardware.md §2.2–2.3): real `open`, `ioctl`, `read`, `write` and
//!   `poll` through hw's `DahdiFd`, without the module (this page);
//! * [`modem`]: a V.253 voice modem on a pty pair, per chipset profile;
//! * [`keysystem`]: a CSTA key system (stations, trunks, bridged line keys,
//!   the pickup services) on TCP ports and ptys.
//!
//! ```text
//!  client (DahdiFd)  ──syscalls──▶  kernel FUSE  ──▶  fs.rs     FUSE adapter: handles,
//!                                                        │        O_NONBLOCK, parking, poll
//!                                                     ioctl.rs  ABI: request + bytes → typed call
//!                                                        │
//!  clock.rs (1 ms ticks, 8 kHz audio) ──────────────▶ FakeDahdi  hw's model: every DAHDI rule
//!  ChannelHandle (ring, hook, audio)  ──────────────▶
//! ```
//!
//! Why the layers: the telephony rules live only in hw's
//! [`FakeDahdi`] (the same model the driver's
//! unit tests use), so the FUSE adapter contains none, and anything that
//! can drive a `FakeDahdi` — these tests now, the daemon's simulated world
//! later ([`EmulatedDahdi::mount_model`]) — drives the mounted tree.
//!
//! The tree is `<dir>/dahdi/channel` (generic opener: `SPECIFY` first; one
//! open file = one model channel, opens exclusive) and `<dir>/dahdi/ctl`
//! (read-only queries: `GET_PARAMS` by `channo`, `SPANSTAT`,
//! `GETVERSION`). Pass `<dir>` as the device root (`DahdiDevices::new`).
//!
//! Requirements: `/dev/fuse` and root (fuser then mounts with `mount(2)`
//! itself; no libfuse), or the `fusermount3` helper. Only the mounting user
//! can use the tree.
//!
//! One difference comes from FUSE itself: the kernel sends `RELEASE` to
//! the server asynchronously after `close(2)` returns, so an immediate
//! reopen of the same channel can still see `EBUSY` for a moment (the
//! real module closes synchronously). Reopen paths should retry briefly.
//!
//! Differences from the kernel that come from the model, not from FUSE
//! (to be closed in hw, see `FakeDahdi`): hook operations always behave as
//! on an `O_NONBLOCK` fd (`EINPROGRESS` + `HOOKCOMPLETE`), buffer policies
//! are not kept (`GET_BUFINFO` reports policy 0), and `SYNC`, `CONFMUTE`,
//! `GETCONFMUTE`, `ECHOCANCEL` and `BUFFER_EVENTS` answer `ENOTTY`.

#![forbid(unsafe_code)]

mod clock;
pub mod codec;
mod fs;
pub mod ioctl;
pub mod keysystem;
pub mod modem;
pub mod site;

use clock::{Clock, Feed};
use fs::{DahdiFs, Shared};
use fuser::{BackgroundSession, Config, MountOption, Session};
use pickupd_hw::dahdi::consts::{DAHDI_SIG_FXOKS, DAHDI_SIG_FXSKS};
use pickupd_hw::dahdi::{
    DahdiDevices, DahdiEvent, FakeChannelState, FakeDahdi, Result as DahdiResult,
};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One channel of the emulated span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelSpec {
    /// Global channel number, 1 … 1024.
    pub channo: i32,
    /// `DAHDI_SIG_*` as `dahdi_cfg` would have set it (§1.11).
    pub sigtype: i32,
}

impl ChannelSpec {
    pub const fn new(channo: i32, sigtype: i32) -> Self {
        Self { channo, sigtype }
    }

    /// An FXS port (powers a telephone; a desk): kewl-start, which DAHDI
    /// names after the other end, `FXOKS`.
    pub const fn fxs_port(channo: i32) -> Self {
        Self::new(channo, DAHDI_SIG_FXOKS)
    }

    /// An FXO port (faces the exchange; a trunk): kewl-start `FXSKS`, the
    /// signalling that reports far-end disconnects (§1.9).
    pub const fn fxo_port(channo: i32) -> Self {
        Self::new(channo, DAHDI_SIG_FXSKS)
    }
}

/// A mounted emulated DAHDI tree. Dropping it unmounts the tree; if a
/// client still holds a descriptor the mount is detached lazily and served
/// until that descriptor is closed.
pub struct EmulatedDahdi {
    root: PathBuf,
    shared: Arc<Shared>,
    feed: Arc<Feed>,
    clock: Option<Clock>,
    session: Option<BackgroundSession>,
}

impl std::fmt::Debug for EmulatedDahdi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatedDahdi")
            .field("root", &self.root)
            .field("mounted", &self.session.is_some())
            .finish_non_exhaustive()
    }
}

impl EmulatedDahdi {
    /// Mounts a tree with these channels (no tone zone loaded, as on a
    /// span before `dahdi_cfg loadzone=`) on the existing directory `dir`,
    /// and returns once the kernel has completed the FUSE handshake.
    pub fn mount(dir: impl AsRef<Path>, channels: Vec<ChannelSpec>) -> io::Result<Self> {
        let model = FakeDahdi::new();
        for spec in channels {
            model.add_channel(spec.channo, spec.sigtype).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("channel {} (sig {:#x}): {e}", spec.channo, spec.sigtype),
                )
            })?;
        }
        Self::mount_model(dir, model)
    }

    /// Mounts a tree that serves an existing model: whoever holds a clone of
    /// `model` (zones loaded, far ends driven by a simulated world) drives
    /// the tree. The model's time is then advanced by this tree's clock;
    /// do not call `advance` on it elsewhere.
    pub fn mount_model(dir: impl AsRef<Path>, model: FakeDahdi) -> io::Result<Self> {
        let root = dir.as_ref().to_path_buf();
        preflight(&root)?;
        let shared = Arc::new(Shared::new(model));
        let feed = Arc::new(Feed::default());
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("pickupd-emu".into()),
            MountOption::Subtype("dahdi".into()),
            MountOption::NoSuid,
            MountOption::NoExec,
            MountOption::NoAtime,
        ];
        let session = Session::new(DahdiFs::new(Arc::clone(&shared)), &root, &config)
            .map_err(|e| mount_error(&root, e))?
            .spawn()?;
        let clock = Clock::start(Arc::clone(&shared), Arc::clone(&feed))?;
        Ok(Self {
            root,
            shared,
            feed,
            clock: Some(clock),
            session: Some(session),
        })
    }

    /// The device root to give the driver: it contains `dahdi/channel`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// hw's opener for this tree (real system calls).
    pub fn devices(&self) -> DahdiDevices {
        DahdiDevices::new(&self.root)
    }

    /// The model behind the tree (a clone shares it).
    pub fn model(&self) -> &FakeDahdi {
        &self.shared.model
    }

    /// The far end and the wire of channel `channo`; `None` if the model
    /// has no such channel.
    pub fn channel(&self, channo: i32) -> Option<ChannelHandle> {
        self.shared.model.state(channo)?;
        Some(ChannelHandle {
            channo,
            shared: Arc::clone(&self.shared),
            feed: Arc::clone(&self.feed),
        })
    }

    /// Unmounts now and reports failure (drop does the same silently).
    pub fn unmount(mut self) -> io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> io::Result<()> {
        drop(self.clock.take());
        // Wake blocked readers and writers before the connection goes.
        self.shared.abort_all();
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        match session.umount_and_join() {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(nix::libc::EBUSY) => {
                // A client still has a file open: detach now; the session
                // thread ends when the kernel drops the connection.
                nix::mount::umount2(&self.root, nix::mount::MntFlags::MNT_DETACH)
                    .map_err(io::Error::from)
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for EmulatedDahdi {
    fn drop(&mut self) {
        // Nothing useful to do with an error while dropping; `unmount`
        // reports it to callers who care.
        let _ = self.shutdown();
    }
}

/// Checks what the mount needs up front, so a test fails with a sentence
/// that says what is missing rather than with a bare errno.
fn preflight(root: &Path) -> io::Result<()> {
    if !Path::new("/dev/fuse").exists() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "/dev/fuse is missing: the emulated DAHDI tree needs FUSE \
             (load the fuse module, or give the container /dev/fuse)",
        ));
    }
    if !nix::unistd::geteuid().is_root() && !fusermount_available() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the emulated DAHDI tree needs root (to mount with mount(2)) or the \
             fusermount3 helper (Debian/Ubuntu package fuse3)",
        ));
    }
    if !root.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("mount point {} is not a directory", root.display()),
        ));
    }
    Ok(())
}

fn fusermount_available() -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|dir| dir.join("fusermount3").exists() || dir.join("fusermount").exists())
    })
}

fn mount_error(root: &Path, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "mounting the emulated DAHDI tree on {}: {e} (needs /dev/fuse and root, \
             or fusermount3)",
            root.display()
        ),
    )
}

/// The outside world of one channel: the far end (telephone or exchange)
/// and the wire's audio. Every call wakes pollers at once rather than at
/// the next 1 ms tick.
#[derive(Clone)]
pub struct ChannelHandle {
    channo: i32,
    shared: Arc<Shared>,
    feed: Arc<Feed>,
}

impl std::fmt::Debug for ChannelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelHandle")
            .field("channo", &self.channo)
            .finish_non_exhaustive()
    }
}

impl ChannelHandle {
    pub fn channo(&self) -> i32 {
        self.channo
    }

    fn then_service<T>(&self, result: DahdiResult<T>) -> DahdiResult<T> {
        self.shared.service();
        result
    }

    /// FXO port: ring voltage from the exchange on or off (`RINGBEGIN` at
    /// the start of a burst, `RINGOFFHOOK` 50 ms after its end, §1.9).
    pub fn ring(&self, on: bool) -> DahdiResult<()> {
        self.then_service(self.shared.model.co_ring(self.channo, on))
    }

    /// FXO port: the exchange drops loop current (far-end disconnect).
    pub fn far_end_disconnect(&self) -> DahdiResult<()> {
        self.then_service(self.shared.model.co_disconnect(self.channo))
    }

    /// FXO port: polarity reversal from the exchange.
    pub fn polarity_reversal(&self) -> DahdiResult<()> {
        self.then_service(self.shared.model.co_polarity_reversal(self.channo))
    }

    /// FXS port: the telephone goes off-hook (answer, end of a flash or of
    /// a dial pulse, depending on timing; the model decides).
    pub fn phone_off_hook(&self) -> DahdiResult<()> {
        self.then_service(self.shared.model.phone_off_hook(self.channo))
    }

    /// FXS port: the telephone goes on-hook.
    pub fn phone_on_hook(&self) -> DahdiResult<()> {
        self.then_service(self.shared.model.phone_on_hook(self.channo))
    }

    /// Queues an arbitrary event, as a span driver would.
    pub fn inject_event(&self, event: DahdiEvent) -> DahdiResult<()> {
        self.then_service(self.shared.model.inject_event(self.channo, event))
    }

    /// The hardware disappears (`REMOVED`, then `ENODEV`).
    pub fn remove(&self) -> DahdiResult<()> {
        self.then_service(self.shared.model.remove_channel(self.channo))
    }

    /// The hardware comes back as a fresh channel.
    pub fn restore(&self) -> DahdiResult<()> {
        self.then_service(self.shared.model.restore_channel(self.channo))
    }

    /// Receive audio from the line, in the bytes `read` returns (law bytes,
    /// or s16 host-endian once the client set linear mode). It is paced in
    /// at 8 kHz, so a 160-sample block becomes readable every 20 ms.
    pub fn send_audio(&self, bytes: &[u8]) {
        self.feed.push(self.channo, bytes);
    }

    /// Bytes of [`Self::send_audio`] not yet on the wire.
    pub fn audio_pending(&self) -> usize {
        self.feed.pending(self.channo)
    }

    /// What the client has written and the model has transmitted since the
    /// last call (8 samples per ms of real time).
    pub fn take_written_audio(&self) -> DahdiResult<Vec<u8>> {
        self.shared.model.take_tx_audio(self.channo)
    }

    /// The model's view of the channel (hook state, block size, events …).
    pub fn state(&self) -> Option<FakeChannelState> {
        self.shared.model.state(self.channo)
    }
}
