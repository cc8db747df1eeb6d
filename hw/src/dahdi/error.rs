//! The error of a DAHDI call: the raw errno, with errno 500 (`ELAST`, "an
//! event is queued", hardware.md §1.7) as a first-class value.
//!
//! Why not `nix::Error` directly: `nix::errno::Errno` only represents the
//! errno values the C library names, and `Errno::from_raw(500)` collapses to
//! `Errno::UnknownErrno` (numerically 0), so the one errno the DAHDI driver
//! must act on would be indistinguishable from every other unknown value.
//! This type keeps the raw number, converts losslessly to and from
//! `std::io::Error`, and compares with `Errno` for the named cases.

#![forbid(unsafe_code)]

use super::consts::ELAST;
use nix::errno::Errno;
use std::fmt;
use std::io;

/// A failed DAHDI call, as the errno the kernel (or an emulation) returned.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error {
    raw: i32,
}

/// Result of a DAHDI call.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// errno 500: an event is queued; drain `GETEVENT`, then retry.
    pub const EVENT_PENDING: Error = Error { raw: ELAST };

    /// Wraps a raw errno value.
    pub const fn from_raw_os_error(raw: i32) -> Self {
        Self { raw }
    }

    /// The raw errno value.
    pub const fn raw_os_error(self) -> i32 {
        self.raw
    }

    /// errno 500: the read, write or ioctl failed only because an event is
    /// queued (§1.7).
    pub const fn is_event_pending(self) -> bool {
        self.raw == ELAST
    }

    /// `EAGAIN`: nothing to read / no free write buffer on a non-blocking fd.
    pub fn is_would_block(self) -> bool {
        self.raw == Errno::EAGAIN as i32
    }

    /// The errno as nix names it; `None` for 500 and other values the C
    /// library has no name for.
    pub fn errno(self) -> Option<Errno> {
        match Errno::from_raw(self.raw) {
            Errno::UnknownErrno => None,
            e => Some(e),
        }
    }
}

impl From<Errno> for Error {
    fn from(e: Errno) -> Self {
        Self { raw: e as i32 }
    }
}

impl From<io::Error> for Error {
    /// Errors without an OS code (none arise from file descriptors) become
    /// `EIO`, so they still count as an I/O failure of the channel.
    fn from(e: io::Error) -> Self {
        Self {
            raw: e.raw_os_error().unwrap_or(Errno::EIO as i32),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        io::Error::from_raw_os_error(e.raw)
    }
}

impl PartialEq<Errno> for Error {
    fn eq(&self, other: &Errno) -> bool {
        self.raw == *other as i32 && *other != Errno::UnknownErrno
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errno() {
            Some(e) => write!(f, "Error({e:?})"),
            None if self.is_event_pending() => f.write_str("Error(ELAST/event pending)"),
            None => write!(f, "Error({})", self.raw),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_event_pending() {
            f.write_str("DAHDI event pending (errno 500, ELAST)")
        } else {
            write!(f, "{}", io::Error::from_raw_os_error(self.raw))
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_500_survives_every_conversion() {
        // The reason this type exists: nix cannot name 500.
        assert_eq!(Errno::from_raw(500), Errno::UnknownErrno);
        let e = Error::from_raw_os_error(500);
        assert!(e.is_event_pending());
        assert_eq!(e, Error::EVENT_PENDING);
        assert_eq!(e.errno(), None);
        let io: io::Error = e.into();
        assert_eq!(io.raw_os_error(), Some(500));
        assert_eq!(Error::from(io), Error::EVENT_PENDING);
        assert_ne!(e, Errno::UnknownErrno);
        assert!(e.to_string().contains("500"));
    }

    #[test]
    fn named_errnos_compare_with_nix() {
        let e = Error::from(Errno::EBUSY);
        assert_eq!(e, Errno::EBUSY);
        assert_eq!(e.errno(), Some(Errno::EBUSY));
        assert!(!e.is_event_pending());
        assert!(Error::from(Errno::EAGAIN).is_would_block());
        assert_eq!(
            Error::from(io::Error::other("no errno")),
            Errno::EIO,
            "errors without an errno count as I/O errors"
        );
    }
}
