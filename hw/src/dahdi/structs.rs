//! `#[repr(C)]` images of the DAHDI ioctl structures (hardware.md §1.15,
//! x86_64 / LP64).
//!
//! pickupd defines these itself instead of binding `user.h` because that
//! header is only shipped inside the dkms module source (§1.1). The sizes
//! are part of the request codes (§1.14), so each one is pinned by a
//! compile-time assertion at the bottom of this file and, field by field,
//! by `hw/tests/dahdi_abi.rs`.
//!
//! Every structure has a `zeroed()` constructor: read-write ioctls copy the
//! whole struct in before the kernel fills it, so stale stack bytes must
//! never reach the kernel (§1.15), and `Default` cannot be derived for the
//! arrays longer than 32 elements.

#![forbid(unsafe_code)]

use super::consts::{default_timing, DAHDI_MAX_CADENCE, DAHDI_MAX_DTMF_BUF};
use super::consts::{DialOp, Law};
use super::error::Error;
use nix::errno::Errno;
use std::mem::size_of;

/// Bytes of a NUL-padded C `char[n]` up to the first NUL.
pub fn c_chars(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// Copies `text` into a NUL-padded `char[n]`, truncating so that at least
/// one NUL remains (what the kernel's `strncpy`/`strlcpy` readers expect).
pub fn set_c_chars(dst: &mut [u8], text: &[u8]) {
    dst.fill(0);
    let n = text.len().min(dst.len().saturating_sub(1));
    dst[..n].copy_from_slice(&text[..n]);
}

/// `struct dahdi_params` (136 bytes): channel identity, read-only status and
/// the hook timing fields of §1.10 (milliseconds).
#[doc(alias = "dahdi_params")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DahdiParams {
    /// Global channel number; the lookup key when used on the ctl fd.
    pub channo: i32,
    pub spanno: i32,
    pub chanpos: i32,
    /// Read-only: `DAHDI_SIG_*` (§1.11).
    pub sigtype: i32,
    /// Read-only: signalling capabilities.
    pub sigcap: i32,
    /// Read-only: non-zero when the receive side is not idle.
    pub rxisoffhook: i32,
    pub rxbits: i32,
    pub txbits: i32,
    /// Read-only: `DAHDI_TXSIG_*`.
    pub txhooksig: i32,
    /// Read-only: `DAHDI_RXSIG_*`.
    pub rxhooksig: i32,
    /// Read-only: `DAHDI_LAW_MULAW` or `DAHDI_LAW_ALAW`.
    pub curlaw: i32,
    pub idlebits: i32,
    pub name: [u8; 40],
    pub prewinktime: i32,
    pub preflashtime: i32,
    pub winktime: i32,
    pub flashtime: i32,
    pub starttime: i32,
    pub rxwinktime: i32,
    pub rxflashtime: i32,
    pub debouncetime: i32,
    pub pulsebreaktime: i32,
    pub pulsemaketime: i32,
    pub pulseaftertime: i32,
    /// Alarm bits of this channel (`DAHDI_ALARM_*`); ignored on set.
    pub chan_alarms: u32,
}

impl DahdiParams {
    pub const fn zeroed() -> Self {
        Self {
            channo: 0,
            spanno: 0,
            chanpos: 0,
            sigtype: 0,
            sigcap: 0,
            rxisoffhook: 0,
            rxbits: 0,
            txbits: 0,
            txhooksig: 0,
            rxhooksig: 0,
            curlaw: 0,
            idlebits: 0,
            name: [0; 40],
            prewinktime: 0,
            preflashtime: 0,
            winktime: 0,
            flashtime: 0,
            starttime: 0,
            rxwinktime: 0,
            rxflashtime: 0,
            debouncetime: 0,
            pulsebreaktime: 0,
            pulsemaketime: 0,
            pulseaftertime: 0,
            chan_alarms: 0,
        }
    }

    /// Sets every timing field to the kernel's default (what each open
    /// re-applies, §1.4); used by the fake and to undo per-line tuning.
    pub fn reset_timings(&mut self) {
        self.prewinktime = default_timing::PREWINKTIME;
        self.preflashtime = default_timing::PREFLASHTIME;
        self.winktime = default_timing::WINKTIME;
        self.flashtime = default_timing::FLASHTIME;
        self.starttime = default_timing::STARTTIME;
        self.rxwinktime = default_timing::RXWINKTIME;
        self.rxflashtime = default_timing::RXFLASHTIME;
        self.debouncetime = default_timing::DEBOUNCETIME;
        self.pulsebreaktime = default_timing::PULSEBREAKTIME;
        self.pulsemaketime = default_timing::PULSEMAKETIME;
        self.pulseaftertime = default_timing::PULSEAFTERTIME;
    }

    /// Copies the fields `SET_PARAMS` applies (the timings) from `other`:
    /// the kernel ignores the read-only ones, so a fake must too.
    pub fn copy_timings_from(&mut self, other: &DahdiParams) {
        self.prewinktime = other.prewinktime;
        self.preflashtime = other.preflashtime;
        self.winktime = other.winktime;
        self.flashtime = other.flashtime;
        self.starttime = other.starttime;
        self.rxwinktime = other.rxwinktime;
        self.rxflashtime = other.rxflashtime;
        self.debouncetime = other.debouncetime;
        self.pulsebreaktime = other.pulsebreaktime;
        self.pulsemaketime = other.pulsemaketime;
        self.pulseaftertime = other.pulseaftertime;
    }

    /// The channel name without its NUL padding.
    pub fn name(&self) -> &[u8] {
        c_chars(&self.name)
    }

    /// `curlaw` decoded.
    pub fn law(&self) -> Option<Law> {
        Law::from_code(self.curlaw)
    }
}

impl Default for DahdiParams {
    fn default() -> Self {
        Self::zeroed()
    }
}

/// `struct dahdi_bufferinfo` (24 bytes): buffer policy and sizes
/// (`GET_BUFINFO`/`SET_BUFINFO`, §1.5).
#[doc(alias = "dahdi_bufferinfo")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DahdiBufferInfo {
    pub txbufpolicy: i32,
    pub rxbufpolicy: i32,
    pub numbufs: i32,
    /// Samples per buffer (= block size).
    pub bufsize: i32,
    /// Always −1 from the kernel (not implemented).
    pub readbufs: i32,
    /// Always −1 from the kernel (not implemented).
    pub writebufs: i32,
}

impl DahdiBufferInfo {
    pub const fn zeroed() -> Self {
        Self {
            txbufpolicy: 0,
            rxbufpolicy: 0,
            numbufs: 0,
            bufsize: 0,
            readbufs: 0,
            writebufs: 0,
        }
    }
}

/// `struct dahdi_confinfo` (12 bytes): conference membership (`GETCONF`,
/// `SETCONF`, §1.13).
#[doc(alias = "dahdi_confinfo")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DahdiConfInfo {
    /// Channel; 0 = the channel of this fd (the kernel writes the real one back).
    pub chan: i32,
    /// Conference number, or a channel number for the monitor modes.
    pub confno: i32,
    /// `DAHDI_CONF_*` mode OR-ed with flags.
    pub confmode: i32,
}

impl DahdiConfInfo {
    pub const fn zeroed() -> Self {
        Self {
            chan: 0,
            confno: 0,
            confmode: 0,
        }
    }

    /// Conference entry for this fd's channel.
    pub const fn new(confno: i32, confmode: i32) -> Self {
        Self {
            chan: 0,
            confno,
            confmode,
        }
    }
}

/// `struct dahdi_dialoperation` (260 bytes): argument of `DAHDI_DIAL`.
#[doc(alias = "dahdi_dialoperation")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DahdiDialOperation {
    pub op: i32,
    /// NUL-terminated dial string (digits, `*#A-D`, `T P M O R W`).
    pub dialstr: [u8; DAHDI_MAX_DTMF_BUF],
}

impl DahdiDialOperation {
    pub const fn zeroed() -> Self {
        Self {
            op: 0,
            dialstr: [0; DAHDI_MAX_DTMF_BUF],
        }
    }

    /// Builds a dial operation. `EINVAL` when `digits` has a NUL or does
    /// not fit in 255 bytes plus the terminating NUL: the C structure could
    /// not carry it, and silently truncating a dial string would dial a
    /// different number.
    pub fn new(op: DialOp, digits: &str) -> Result<Self, Error> {
        let bytes = digits.as_bytes();
        if bytes.len() >= DAHDI_MAX_DTMF_BUF || bytes.contains(&0) {
            return Err(Errno::EINVAL.into());
        }
        let mut dial = Self::zeroed();
        dial.op = op.code();
        dial.dialstr[..bytes.len()].copy_from_slice(bytes);
        Ok(dial)
    }

    /// The dial string without its NUL padding.
    pub fn digits(&self) -> &[u8] {
        c_chars(&self.dialstr)
    }
}

impl Default for DahdiDialOperation {
    fn default() -> Self {
        Self::zeroed()
    }
}

/// `struct dahdi_dialparams` (24 bytes): global digit lengths (ctl fd only).
#[doc(alias = "dahdi_dialparams")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DahdiDialParams {
    pub mfv1_tonelen: i32,
    pub dtmf_tonelen: i32,
    pub mfr2_tonelen: i32,
    /// Must be zero.
    pub reserved: [i32; 3],
}

/// `struct dahdi_ring_cadence` (64 bytes): ms on, off, on, …, 0-terminated.
#[doc(alias = "dahdi_ring_cadence")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DahdiRingCadence {
    pub ringcadence: [i32; DAHDI_MAX_CADENCE],
}

/// `struct dahdi_gains` (516 bytes): per-code gain lookup tables.
#[doc(alias = "dahdi_gains")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DahdiGains {
    pub chan: i32,
    pub rxgain: [u8; 256],
    pub txgain: [u8; 256],
}

impl DahdiGains {
    pub const fn zeroed() -> Self {
        Self {
            chan: 0,
            rxgain: [0; 256],
            txgain: [0; 256],
        }
    }
}

/// `struct dahdi_versioninfo` (160 bytes), `GETVERSION` on the ctl fd.
#[doc(alias = "dahdi_versioninfo")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DahdiVersionInfo {
    pub version: [u8; 80],
    pub echo_canceller: [u8; 80],
}

impl DahdiVersionInfo {
    pub const fn zeroed() -> Self {
        Self {
            version: [0; 80],
            echo_canceller: [0; 80],
        }
    }
}

/// Header of `struct dahdi_echocanparams` (8 bytes); the request code only
/// encodes this header, the `DahdiEchoCanParam` array follows it in memory
/// and cannot pass through a FUSE fake (§2.2).
#[doc(alias = "dahdi_echocanparams")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DahdiEchoCanParams {
    /// 8 taps per ms.
    pub tap_length: u32,
    pub param_count: u32,
}

/// One element of the array after [`DahdiEchoCanParams`] (20 bytes).
#[doc(alias = "dahdi_echocanparam")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DahdiEchoCanParam {
    pub name: [u8; 16],
    pub value: i32,
}

/// `struct dahdi_vmwi_info` (4 bytes).
#[doc(alias = "dahdi_vmwi_info")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DahdiVmwiInfo {
    /// `DAHDI_VMWI_LREV` / `HVDC` / `HVAC` bits.
    pub vmwi_type: u32,
}

/// Header of `struct dahdi_tone_def_header` (112 bytes; tone definitions
/// follow, so `LOADZONE` cannot pass through FUSE).
#[doc(alias = "dahdi_tone_def_header")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DahdiToneDefHeader {
    pub count: i32,
    pub zone: i32,
    pub ringcadence: [i32; DAHDI_MAX_CADENCE],
    pub name: [u8; 40],
}

/// `struct dahdi_hwgain` (8 bytes); `tx` stands for the C bitfield
/// `__u32 tx:1`, whose bit 0 selects transmit (1) or receive (0).
#[doc(alias = "dahdi_hwgain")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DahdiHwGain {
    /// dB × 10.
    pub newgain: i32,
    pub tx: u32,
}

/// `struct dahdi_attach_echocan` (20 bytes).
#[doc(alias = "dahdi_attach_echocan")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DahdiAttachEchocan {
    pub chan: i32,
    pub echocan: [u8; 16],
}

/// `struct dahdi_maintinfo` (8 bytes).
#[doc(alias = "dahdi_maintinfo")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DahdiMaintInfo {
    pub spanno: i32,
    pub command: i32,
}

/// `struct dahdi_indirect_data` (16 bytes on LP64): carries a user pointer,
/// so its layout depends on the ABI; listed for recognition only.
#[doc(alias = "dahdi_indirect_data")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DahdiIndirectData {
    pub chan: i32,
    pub op: i32,
    pub data: *mut std::ffi::c_void,
}

/// `struct dahdi_spaninfo` (314 bytes, **packed**, alignment 1): `SPANSTAT`.
#[doc(alias = "dahdi_spaninfo")]
#[repr(C, packed)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DahdiSpanInfo {
    pub spanno: i32,
    pub name: [u8; 20],
    pub desc: [u8; 40],
    pub alarms: i32,
    pub txlevel: i32,
    pub rxlevel: i32,
    pub bpvcount: i32,
    pub crc4count: i32,
    pub ebitcount: i32,
    pub fascount: i32,
    pub fecount: u32,
    pub cvcount: u32,
    pub becount: u32,
    pub prbs: u32,
    pub errsec: u32,
    pub irqmisses: i32,
    pub syncsrc: i32,
    pub numchans: i32,
    pub totalchans: i32,
    pub totalspans: i32,
    pub lbo: i32,
    pub lineconfig: i32,
    pub lboname: [u8; 40],
    pub location: [u8; 40],
    pub manufacturer: [u8; 40],
    pub devicetype: [u8; 40],
    pub irq: i32,
    /// 0 on analog spans.
    pub linecompat: i32,
    pub spantype: [u8; 6],
}

impl DahdiSpanInfo {
    /// A zeroed query; `spanno` 0 on a channel fd asks for that channel's span.
    pub const fn zeroed() -> Self {
        Self {
            spanno: 0,
            name: [0; 20],
            desc: [0; 40],
            alarms: 0,
            txlevel: 0,
            rxlevel: 0,
            bpvcount: 0,
            crc4count: 0,
            ebitcount: 0,
            fascount: 0,
            fecount: 0,
            cvcount: 0,
            becount: 0,
            prbs: 0,
            errsec: 0,
            irqmisses: 0,
            syncsrc: 0,
            numchans: 0,
            totalchans: 0,
            totalspans: 0,
            lbo: 0,
            lineconfig: 0,
            lboname: [0; 40],
            location: [0; 40],
            manufacturer: [0; 40],
            devicetype: [0; 40],
            irq: 0,
            linecompat: 0,
            spantype: [0; 6],
        }
    }
}

// The request codes encode these sizes; a wrong size is a different ioctl.
const _: () = assert!(size_of::<DahdiParams>() == 136);
const _: () = assert!(size_of::<DahdiBufferInfo>() == 24);
const _: () = assert!(size_of::<DahdiConfInfo>() == 12);
const _: () = assert!(size_of::<DahdiDialOperation>() == 260);
const _: () = assert!(size_of::<DahdiDialParams>() == 24);
const _: () = assert!(size_of::<DahdiRingCadence>() == 64);
const _: () = assert!(size_of::<DahdiGains>() == 516);
const _: () = assert!(size_of::<DahdiVersionInfo>() == 160);
const _: () = assert!(size_of::<DahdiEchoCanParams>() == 8);
const _: () = assert!(size_of::<DahdiEchoCanParam>() == 20);
const _: () = assert!(size_of::<DahdiVmwiInfo>() == 4);
const _: () = assert!(size_of::<DahdiToneDefHeader>() == 112);
const _: () = assert!(size_of::<DahdiHwGain>() == 8);
const _: () = assert!(size_of::<DahdiAttachEchocan>() == 20);
const _: () = assert!(size_of::<DahdiMaintInfo>() == 8);
#[cfg(target_pointer_width = "64")]
const _: () = assert!(size_of::<DahdiIndirectData>() == 16);
const _: () = assert!(size_of::<DahdiSpanInfo>() == 314);
const _: () = assert!(std::mem::align_of::<DahdiSpanInfo>() == 1);
const _: () = assert!(std::mem::offset_of!(DahdiParams, name) == 48);
const _: () = assert!(std::mem::offset_of!(DahdiParams, flashtime) == 100);
const _: () = assert!(std::mem::offset_of!(DahdiParams, chan_alarms) == 132);
const _: () = assert!(std::mem::offset_of!(DahdiSpanInfo, location) == 180);
const _: () = assert!(std::mem::offset_of!(DahdiSpanInfo, spantype) == 308);
