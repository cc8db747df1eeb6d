//! DAHDI ioctl request codes (hardware.md §1.14), computed with nix's
//! `request_code_*!` macros from direction, `DAHDI_CODE`, number and the
//! `size_of` of the argument type.
//!
//! These constants are the single source of truth: `sys.rs` issues exactly
//! these numbers (through nix's `ioctl_*_bad!` wrappers), the emulated
//! device tree dispatches on them, and `hw/tests/dahdi_abi.rs` compares each
//! against the literal hex value in the spec. Computing them from the Rust
//! types means a struct that drifts in size changes the code and fails that
//! test, instead of silently talking to a different ioctl.
//!
//! Scalar arguments are a C `int` passed **by pointer** (never `_IOW` with
//! the value itself, which is what `ioctl_write_int!` would do).

#![forbid(unsafe_code)]

use super::consts::DAHDI_CODE;
use super::structs::*;
use nix::libc::c_int;
use nix::{request_code_none, request_code_read, request_code_readwrite, request_code_write};
use std::mem::size_of;

/// A request number as the platform's `ioctl(2)` takes it (`c_ulong` on
/// glibc, `c_int` on musl); compare with `as u32`.
pub type Request = nix::sys::ioctl::ioctl_num_type;

const INT: usize = size_of::<c_int>();

// Channel ioctls pickupd needs.
pub const GET_BLOCKSIZE: Request = request_code_read!(DAHDI_CODE, 1, INT);
pub const SET_BLOCKSIZE: Request = request_code_write!(DAHDI_CODE, 1, INT);
pub const FLUSH: Request = request_code_write!(DAHDI_CODE, 3, INT);
pub const SYNC: Request = request_code_none!(DAHDI_CODE, 4);
pub const GET_PARAMS: Request = request_code_readwrite!(DAHDI_CODE, 5, size_of::<DahdiParams>());
pub const SET_PARAMS: Request = request_code_write!(DAHDI_CODE, 5, size_of::<DahdiParams>());
pub const HOOK: Request = request_code_write!(DAHDI_CODE, 7, INT);
pub const GETEVENT: Request = request_code_read!(DAHDI_CODE, 8, INT);
pub const IOMUX: Request = request_code_readwrite!(DAHDI_CODE, 9, INT);
pub const SPANSTAT: Request = request_code_readwrite!(DAHDI_CODE, 10, size_of::<DahdiSpanInfo>());
pub const GETCONF: Request = request_code_readwrite!(DAHDI_CODE, 12, size_of::<DahdiConfInfo>());
pub const SETCONF: Request = request_code_readwrite!(DAHDI_CODE, 13, size_of::<DahdiConfInfo>());
pub const GETGAINS: Request = request_code_readwrite!(DAHDI_CODE, 16, size_of::<DahdiGains>());
pub const SETGAINS: Request = request_code_write!(DAHDI_CODE, 16, size_of::<DahdiGains>());
pub const CONFMUTE: Request = request_code_write!(DAHDI_CODE, 20, INT);
pub const SENDTONE: Request = request_code_write!(DAHDI_CODE, 21, INT);
pub const GETTONEZONE: Request = request_code_read!(DAHDI_CODE, 22, INT);
pub const SETTONEZONE: Request = request_code_write!(DAHDI_CODE, 22, INT);
pub const GET_BUFINFO: Request = request_code_read!(DAHDI_CODE, 27, size_of::<DahdiBufferInfo>());
pub const SET_BUFINFO: Request = request_code_write!(DAHDI_CODE, 27, size_of::<DahdiBufferInfo>());
pub const DIAL: Request = request_code_write!(DAHDI_CODE, 31, size_of::<DahdiDialOperation>());
pub const AUDIOMODE: Request = request_code_write!(DAHDI_CODE, 32, INT);
pub const ECHOCANCEL: Request = request_code_write!(DAHDI_CODE, 33, INT);
/// Encodes only the 8-byte header; the parameter array follows in memory.
pub const ECHOCANCEL_PARAMS: Request =
    request_code_write!(DAHDI_CODE, 33, size_of::<DahdiEchoCanParams>());
pub const CHANNO: Request = request_code_read!(DAHDI_CODE, 34, INT);
pub const DIALING: Request = request_code_read!(DAHDI_CODE, 35, INT);
pub const SPECIFY: Request = request_code_write!(DAHDI_CODE, 38, INT);
pub const SETLAW: Request = request_code_write!(DAHDI_CODE, 39, INT);
pub const SETLINEAR: Request = request_code_write!(DAHDI_CODE, 40, INT);
pub const SETCADENCE: Request = request_code_write!(DAHDI_CODE, 42, size_of::<DahdiRingCadence>());
pub const GETCONFMUTE: Request = request_code_read!(DAHDI_CODE, 49, INT);
pub const ECHOTRAIN: Request = request_code_write!(DAHDI_CODE, 50, INT);
/// Driver-specific (¹ in §1.14): `ENOTTY` from drivers without it.
pub const ONHOOKTRANSFER: Request = request_code_write!(DAHDI_CODE, 51, INT);
/// Driver-specific (¹ in §1.14).
pub const TONEDETECT: Request = request_code_write!(DAHDI_CODE, 91, INT);
/// Driver-specific (¹ in §1.14).
pub const SETPOLARITY: Request = request_code_write!(DAHDI_CODE, 92, INT);
/// Driver-specific (¹ in §1.14).
pub const VMWI: Request = request_code_readwrite!(DAHDI_CODE, 94, INT);
/// Driver-specific (¹ in §1.14).
pub const VMWI_CONFIG: Request = request_code_write!(DAHDI_CODE, 95, size_of::<DahdiVmwiInfo>());
pub const BUFFER_EVENTS: Request = request_code_write!(DAHDI_CODE, 105, INT);

// Control-fd and diagnostic ioctls (recognised, normally not issued).
pub const GET_PARAMS_V1: Request = request_code_read!(DAHDI_CODE, 5, size_of::<DahdiParams>());
/// nr 12 write-only: the obsolete `SETCONF_V1` (`SETCONF` is nr 13).
pub const SETCONF_V1: Request = request_code_write!(DAHDI_CODE, 12, size_of::<DahdiConfInfo>());
pub const CONFLINK: Request = request_code_write!(DAHDI_CODE, 14, size_of::<DahdiConfInfo>());
pub const DEFAULTZONE: Request = request_code_write!(DAHDI_CODE, 24, INT);
/// Encodes only the 112-byte header; tone definitions follow in memory.
pub const LOADZONE: Request = request_code_write!(DAHDI_CODE, 25, size_of::<DahdiToneDefHeader>());
pub const FREEZONE: Request = request_code_write!(DAHDI_CODE, 26, INT);
pub const GET_DIALPARAMS: Request =
    request_code_read!(DAHDI_CODE, 29, size_of::<DahdiDialParams>());
pub const SET_DIALPARAMS: Request =
    request_code_write!(DAHDI_CODE, 29, size_of::<DahdiDialParams>());
pub const CHANDIAG: Request = request_code_write!(DAHDI_CODE, 44, INT);
pub const GETVERSION: Request = request_code_read!(DAHDI_CODE, 57, size_of::<DahdiVersionInfo>());
pub const TIMERCONFIG: Request = request_code_write!(DAHDI_CODE, 47, INT);
pub const TIMERACK: Request = request_code_write!(DAHDI_CODE, 48, INT);
pub const TIMERPING: Request = request_code_none!(DAHDI_CODE, 52);
pub const TIMERPONG: Request = request_code_none!(DAHDI_CODE, 53);
/// Carries a pointer: ABI-dependent size, cannot pass through FUSE.
pub const INDIRECT: Request =
    request_code_readwrite!(DAHDI_CODE, 56, size_of::<DahdiIndirectData>());
pub const ATTACH_ECHOCAN: Request =
    request_code_write!(DAHDI_CODE, 59, size_of::<DahdiAttachEchocan>());
pub const SET_HWGAIN: Request = request_code_write!(DAHDI_CODE, 86, size_of::<DahdiHwGain>());
pub const ECHOCANCEL_FAX_MODE: Request = request_code_write!(DAHDI_CODE, 102, INT);

/// Every request code with its `user.h` name, for emulated devices and
/// diagnostics (`request_name`), and so the ABI test can check that no
/// two different requests share a number by accident.
pub const ALL: &[(&str, Request)] = &[
    ("DAHDI_GET_BLOCKSIZE", GET_BLOCKSIZE),
    ("DAHDI_SET_BLOCKSIZE", SET_BLOCKSIZE),
    ("DAHDI_FLUSH", FLUSH),
    ("DAHDI_SYNC", SYNC),
    ("DAHDI_GET_PARAMS", GET_PARAMS),
    ("DAHDI_SET_PARAMS", SET_PARAMS),
    ("DAHDI_HOOK", HOOK),
    ("DAHDI_GETEVENT", GETEVENT),
    ("DAHDI_IOMUX", IOMUX),
    ("DAHDI_SPANSTAT", SPANSTAT),
    ("DAHDI_GETCONF", GETCONF),
    ("DAHDI_SETCONF", SETCONF),
    ("DAHDI_GETGAINS", GETGAINS),
    ("DAHDI_SETGAINS", SETGAINS),
    ("DAHDI_CONFMUTE", CONFMUTE),
    ("DAHDI_SENDTONE", SENDTONE),
    ("DAHDI_GETTONEZONE", GETTONEZONE),
    ("DAHDI_SETTONEZONE", SETTONEZONE),
    ("DAHDI_GET_BUFINFO", GET_BUFINFO),
    ("DAHDI_SET_BUFINFO", SET_BUFINFO),
    ("DAHDI_DIAL", DIAL),
    ("DAHDI_AUDIOMODE", AUDIOMODE),
    ("DAHDI_ECHOCANCEL", ECHOCANCEL),
    ("DAHDI_ECHOCANCEL_PARAMS", ECHOCANCEL_PARAMS),
    ("DAHDI_CHANNO", CHANNO),
    ("DAHDI_DIALING", DIALING),
    ("DAHDI_SPECIFY", SPECIFY),
    ("DAHDI_SETLAW", SETLAW),
    ("DAHDI_SETLINEAR", SETLINEAR),
    ("DAHDI_SETCADENCE", SETCADENCE),
    ("DAHDI_GETCONFMUTE", GETCONFMUTE),
    ("DAHDI_ECHOTRAIN", ECHOTRAIN),
    ("DAHDI_ONHOOKTRANSFER", ONHOOKTRANSFER),
    ("DAHDI_TONEDETECT", TONEDETECT),
    ("DAHDI_SETPOLARITY", SETPOLARITY),
    ("DAHDI_VMWI", VMWI),
    ("DAHDI_VMWI_CONFIG", VMWI_CONFIG),
    ("DAHDI_BUFFER_EVENTS", BUFFER_EVENTS),
    ("DAHDI_GET_PARAMS_V1", GET_PARAMS_V1),
    ("DAHDI_SETCONF_V1", SETCONF_V1),
    ("DAHDI_CONFLINK", CONFLINK),
    ("DAHDI_DEFAULTZONE", DEFAULTZONE),
    ("DAHDI_LOADZONE", LOADZONE),
    ("DAHDI_FREEZONE", FREEZONE),
    ("DAHDI_GET_DIALPARAMS", GET_DIALPARAMS),
    ("DAHDI_SET_DIALPARAMS", SET_DIALPARAMS),
    ("DAHDI_CHANDIAG", CHANDIAG),
    ("DAHDI_GETVERSION", GETVERSION),
    ("DAHDI_TIMERCONFIG", TIMERCONFIG),
    ("DAHDI_TIMERACK", TIMERACK),
    ("DAHDI_TIMERPING", TIMERPING),
    ("DAHDI_TIMERPONG", TIMERPONG),
    ("DAHDI_INDIRECT", INDIRECT),
    ("DAHDI_ATTACH_ECHOCAN", ATTACH_ECHOCAN),
    ("DAHDI_SET_HWGAIN", SET_HWGAIN),
    ("DAHDI_ECHOCANCEL_FAX_MODE", ECHOCANCEL_FAX_MODE),
];

/// The `user.h` name of a request code, for logs of emulated devices.
pub fn request_name(code: u32) -> Option<&'static str> {
    ALL.iter()
        .find(|&&(_, c)| c as u32 == code)
        .map(|&(name, _)| name)
}
