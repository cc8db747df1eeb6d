//! The simulated outside world: a central office behind each trunk, a phone
//! at each station, and a network that can call stations directly.
//!
//! The world knows nothing of the daemon. It speaks only as hardware would:
//! PCM frames it sends and hears, and line signalling (rings, hook changes,
//! flashes). A dialled digit is DTMF audio and a call-waiting signal is the
//! zone's tone, which the daemon's detectors must find.
//!
//! [`World`] is pure state advanced in 20 ms ticks; [`host::run`] paces it
//! in real time behind a [`host::Hardware`]: the daemon's in-process
//! simulated driver is one, emulated devices (a DAHDI tree, a modem on a
//! pty) are others, so the same people and offices sit behind every kind of
//! port.

#![forbid(unsafe_code)]

pub mod host;
mod ops;
mod world;

pub use ops::{Applied, SimOk, SimOp};
pub use world::{SimError, World};

/// The world's name for a line; the host chooses the numbers (the daemon
/// uses its engine's line ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineKey(pub u32);

/// One line of the world: a trunk to a central office, or a station with a
/// phone on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSpec {
    pub key: LineKey,
    pub name: String,
    pub number: String,
    /// a phone hangs on this port (else the port faces an office)
    pub station: bool,
    /// the office offers call waiting on this trunk
    pub call_waiting: bool,
    /// ... and caller id on call waiting (CAS, then FSK after the CPE's 'D')
    pub cidcw: bool,
}

/// Line signalling from the world, as the hardware would present it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorldEvent {
    /// the phone on a station went off or on hook
    PhoneHook { line: LineKey, off_hook: bool },
    /// hook flash at the phone on a station
    PhoneFlash { line: LineKey },
    /// a ring on a trunk (every ring of the cadence), with the caller's id
    RingStart {
        line: LineKey,
        caller_number: String,
        caller_name: String,
        tag: Option<u64>,
    },
    /// ringing on a trunk stopped for good (the caller gave up)
    RingStop { line: LineKey },
    /// the far party of a trunk's call hung up
    FarEndDisconnect { line: LineKey },
    /// the network offers a call straight to a station (simulated DID)
    NetworkCall {
        line: LineKey,
        caller_number: String,
        caller_name: String,
        tag: u64,
    },
    /// the network caller of a station call hung up
    NetworkHangup { tag: u64 },
    /// the device of a line was unplugged
    Unplugged { line: LineKey, why: String },
    /// ... and plugged back; `off_hook` is the phone's hook state now
    Plugged { line: LineKey, off_hook: bool },
}

/// What the daemon does to a line, as the world sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// ring the phone on a station (or stop)
    Ring(bool),
    /// take a trunk off hook (true) or put it on hook
    Hook(bool),
    /// hook flash on a trunk
    Flash,
}
