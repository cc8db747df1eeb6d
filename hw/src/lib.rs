//! The hardware protocols pickupd speaks (`../shared/spec/hardware.md`).
//!
//! Each module is a codec that the daemon's drivers and the emulated devices
//! share, so both ends of every link run the same parsing code, and the
//! parsers can be fuzzed on their own. Only [`dahdi`] touches the system: its
//! `sys` module is the ioctl edge, the one place in the project with
//! `unsafe`; everything else here is pure.
//!
//! * [`dahdi`]: DAHDI request codes and `#[repr(C)]` structures (§1.14–1.15),
//!   the ioctl edge, and an in-memory model of the kernel's rules (§2.1);
//! * [`v253`]: V.253 voice-modem result lines and `<DLE>` audio streams (§3);
//! * [`csta`]: CSTA (ECMA-323 XML) messages and their framings (§5).

pub mod csta;
pub mod dahdi;
pub mod v253;
