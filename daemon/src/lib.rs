//! pickupd: TAPI-style call pickup for analog telephony on Linux.
//!
//! Layers, data flowing one way: device → [`driver`] (I/O thread) →
//! lock-free ring of frames → [`media`] (detectors from `pickupd-dsp`) →
//! [`engine`] (one owner of all state, pure logic) → [`bus`] (zbus
//! adapter). Commands flow back: bus → engine → driver. [`sim`] is the
//! simulated outside world (central offices, phones, network), which
//! [`driver::SimDriver`] puts behind the same driver interface as real
//! hardware.

pub mod args;
pub mod authority;
pub mod bus;
pub mod config;
pub mod daemon;
pub mod driver;
#[cfg(feature = "emulated-hardware")]
pub mod emulated;
pub mod engine;
pub mod keysystem;
pub mod logging;
pub mod media;
pub mod runtime;
pub mod sim;
