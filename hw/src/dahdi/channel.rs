//! The trait boundary of hardware.md §2.1: what the DAHDI driver needs from
//! one open channel, implemented by the real descriptor
//! ([`super::DahdiFd`]) and by the in-memory fake ([`super::FakeChannel`]),
//! so the driver's logic is unit-tested without the kernel module.
//!
//! Every operation is typed (no raw request codes cross this boundary);
//! errors are the raw errno ([`Error`]), so errno 500 ("event pending") and
//! `EAGAIN` reach the driver exactly as the kernel reports them.

#![forbid(unsafe_code)]

use super::consts::{DahdiEvent, DialOp, HookOp, Law, Tone};
use super::error::{Error, Result};
use super::structs::{DahdiBufferInfo, DahdiConfInfo, DahdiParams};
use nix::errno::Errno;

/// How a `DAHDI_HOOK` request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookOutcome {
    /// The hook state changed (or a blocking wink/flash/start finished).
    Done,
    /// `EINPROGRESS` on a non-blocking fd: the wink, flash or start runs in
    /// the kernel and a `HOOKCOMPLETE` event follows (§1.10). This is a
    /// success, not an error.
    InProgress,
}

impl HookOutcome {
    /// Maps the raw result of a `HOOK` ioctl: `EINPROGRESS` is success with a
    /// completion event to come; every other errno is a real failure.
    pub fn from_result(result: Result<()>) -> Result<HookOutcome> {
        match result {
            Ok(()) => Ok(HookOutcome::Done),
            Err(e) if e == Errno::EINPROGRESS => Ok(HookOutcome::InProgress),
            Err(e) => Err(e),
        }
    }
}

/// Poll state of a channel (§1.8), sampled without waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Readiness {
    /// A full receive block can be read (`POLLIN`).
    pub readable: bool,
    /// A transmit buffer is free (`POLLOUT`).
    pub writable: bool,
    /// An event is queued (`POLLPRI`): handle this first, reads fail with
    /// errno 500 until the queue is drained.
    pub priority: bool,
    /// The device is gone (`POLLERR`/`POLLHUP`): drain `GETEVENT`
    /// (`REMOVED`), then close.
    pub hangup: bool,
}

/// One open DAHDI channel (after open + `SPECIFY`).
///
/// Methods take `&mut self` although a descriptor would allow `&self`: the
/// driver owns each channel from its single I/O thread, and the fake's state
/// changes on every call.
pub trait DahdiChannel {
    /// The global channel number this handle is bound to (`DAHDI_CHANNO`).
    fn channo(&mut self) -> Result<i32>;
    /// `DAHDI_GET_PARAMS` on a zeroed struct.
    fn get_params(&mut self) -> Result<DahdiParams>;
    /// `DAHDI_SET_PARAMS`: the kernel copies every timing field unchecked,
    /// so callers read-modify-write (§1.10).
    fn set_params(&mut self, params: &DahdiParams) -> Result<()>;
    /// `DAHDI_SET_BLOCKSIZE` in samples (16 … 8192, else `EINVAL`).
    fn set_blocksize(&mut self, samples: i32) -> Result<()>;
    /// `DAHDI_SET_BUFINFO`: block size and buffer count at once.
    fn set_bufinfo(&mut self, info: &DahdiBufferInfo) -> Result<()>;
    /// `DAHDI_SETLINEAR`: s16 host-endian samples instead of law bytes.
    fn set_linear(&mut self, linear: bool) -> Result<()>;
    /// `DAHDI_SETLAW`.
    fn set_law(&mut self, law: Law) -> Result<()>;
    /// `DAHDI_HOOK`.
    fn hook(&mut self, op: HookOp) -> Result<HookOutcome>;
    /// `DAHDI_GETEVENT`: one queued event, `None` when the queue is empty.
    fn get_event(&mut self) -> Result<Option<DahdiEvent>>;
    /// `DAHDI_FLUSH` with `DAHDI_FLUSH_*` bits.
    fn flush(&mut self, what: i32) -> Result<()>;
    /// `DAHDI_SETCONF`; returns the struct as the kernel wrote it back
    /// (real channel and conference numbers).
    fn set_conf(&mut self, conf: DahdiConfInfo) -> Result<DahdiConfInfo>;
    /// `DAHDI_SETTONEZONE` (`DAHDI_TONE_ZONE_DEFAULT` = −1 for the default).
    fn set_tonezone(&mut self, zone: i32) -> Result<()>;
    /// `DAHDI_SENDTONE` (`ENODATA` without a zone).
    fn send_tone(&mut self, tone: Tone) -> Result<()>;
    /// `DAHDI_DIAL` (`ENODATA` without a zone, `EBUSY` on append overflow).
    fn dial(&mut self, op: DialOp, digits: &str) -> Result<()>;
    /// `DAHDI_DIALING`: whether a dial string is still playing.
    fn dialing(&mut self) -> Result<bool>;
    /// `read(2)`: at most one block; a buffer shorter than the block loses
    /// the rest of it (§1.6). Errno 500 while events are queued, `EAGAIN`
    /// when no block is ready.
    fn read_frame(&mut self, buf: &mut [u8]) -> Result<usize>;
    /// `write(2)`: at most one block. Errno 500 while events are queued,
    /// `EAGAIN` when no transmit buffer is free. Cancels tones and dialling.
    fn write_frame(&mut self, frame: &[u8]) -> Result<usize>;
    /// Current poll state, without waiting.
    fn readiness(&mut self) -> Result<Readiness>;

    /// Drains the event queue (what errno 500 asks for), in order.
    fn drain_events(&mut self) -> Result<Vec<DahdiEvent>> {
        let mut events = Vec::new();
        while let Some(ev) = self.get_event()? {
            events.push(ev);
        }
        Ok(events)
    }
}

/// Opens channels by global number: the generic opener + `SPECIFY`
/// (§1.4), or the fake kernel.
pub trait DahdiOpener {
    type Channel: DahdiChannel;

    /// Opens channel `channo` non-blocking. `EINVAL`: no such channel;
    /// `ENXIO`: not configured; `EBUSY`: already open (opens are exclusive).
    fn open_channel(&self, channo: i32) -> Result<Self::Channel>;
}

/// Rejects an empty buffer as the kernel does (a count below 1 is `EINVAL`).
pub(crate) fn check_count(len: usize) -> Result<()> {
    if len == 0 {
        Err(Error::from(Errno::EINVAL))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn einprogress_from_hook_is_success_with_completion_to_come() {
        assert_eq!(HookOutcome::from_result(Ok(())), Ok(HookOutcome::Done));
        assert_eq!(
            HookOutcome::from_result(Err(Errno::EINPROGRESS.into())),
            Ok(HookOutcome::InProgress)
        );
        assert_eq!(
            HookOutcome::from_result(Err(Errno::EBUSY.into())),
            Err(Errno::EBUSY.into())
        );
        assert_eq!(
            HookOutcome::from_result(Err(Error::EVENT_PENDING)),
            Err(Error::EVENT_PENDING)
        );
    }
}
