//! An emulated CSTA key system (issue 6, point 4): stations, trunks with
//! bridged-exclusive line keys and the pickup services, behind a CTI link
//! that speaks ECMA-323 XML in the framings of hardware.md §5.5, over TCP
//! or a pty.
//!
//! ```text
//!  driver ──TCP/pty──▶ server.rs  framing + hw's codec, monitors, fan-out
//!                          │
//!  tests / simulator ──▶ model.rs  the switch: calls, services, events, refusals
//! ```
//!
//! Why two layers: the switching rules ([`Switch`]) are pure and tested as
//! sequences of services, while the link layer ([`KeySystem`]) is the part
//! that real sockets exercise. The message model and framings are hw's
//! ([`pickupd_hw::csta`]), the very code the daemon's driver uses, so a
//! mismatch between emulator and driver cannot hide in a private codec.

pub mod model;
pub mod server;

pub use model::{
    CallView, ConnState, ConnectionView, Emitted, Outcome, Ring, SiteConfig, SiteError,
    StationConfig, Switch, TrunkConfig,
};
pub use server::{Framing, KeySystem, Listener, PtyLink};
