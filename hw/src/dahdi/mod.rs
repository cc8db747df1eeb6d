//! DAHDI request codes and structures (hardware.md §1.14–1.15), the ioctl
//! edge that issues them, and an in-memory fake of the kernel side (§2.1).
//!
//! Layout, and why:
//!
//! * [`consts`]: numbers of §1.2–1.13 and the enums the driver matches on
//!   ([`DahdiEvent::from_code`], [`HookOp`], [`PortKind`] for the FXS/FXO
//!   naming inversion of §1.11);
//! * [`structs`]: `#[repr(C)]` layouts of §1.15, sizes pinned at compile time;
//! * [`codes`]: every request code of §1.14, built with nix's
//!   `request_code_*!` macros from those structs;
//! * [`error`]: the raw errno, with errno 500 ("event pending") kept intact;
//! * [`channel`]: the [`DahdiChannel`]/[`DahdiOpener`] traits both back-ends
//!   implement;
//! * [`sys`]: [`DahdiFd`], the only place with `unsafe` (one ioctl per block);
//! * [`fake`]: [`FakeDahdi`], the kernel's rules in memory with explicit time.
//!
//! Everything except `sys` forbids `unsafe` outright; `sys` re-allows it
//! under `deny(unsafe_op_in_unsafe_fn)` and clippy's
//! `undocumented_unsafe_blocks`/`multiple_unsafe_ops_per_block`.

#![deny(unsafe_code)]

pub mod channel;
pub mod codes;
pub mod consts;
pub mod error;
pub mod fake;
pub mod structs;
pub mod sys;

pub use channel::{DahdiChannel, DahdiOpener, HookOutcome, Readiness};
pub use consts::{
    analog_signalling, sig_name, DahdiEvent, DialOp, HookOp, Law, PortKind, StartMethod, Tone,
};
pub use error::{Error, Result};
pub use fake::{FakeChannel, FakeChannelState, FakeDahdi, FakeTxState};
pub use structs::{DahdiBufferInfo, DahdiConfInfo, DahdiDialOperation, DahdiParams, DahdiSpanInfo};
pub use sys::{DahdiDevices, DahdiFd};
