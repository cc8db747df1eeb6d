//! CSTA (ECMA-323 XML) messages and framings (hardware.md §5).
//!
//! Two layers, kept apart as §5.5 asks, because real links combine them
//! freely (the same XML over a DMCC header, a length prefix, SIP INFO …):
//!
//! * the message codec: [`Message`] and its parts ([`model`], [`enums`]),
//!   encoded and decoded as ECMA-323 XML by [`encode`] / [`decode`];
//! * the framings: [`LengthPrefixFramer`] and [`DmccFramer`] behind the
//!   [`Framer`] trait, plus [`InvokeIds`] for DMCC request ids;
//! * the ECMA-354 application-session messages that a DMCC link opens and
//!   keeps alive around the CSTA traffic ([`session`]).
//!
//! Both layers are sans I/O, so the daemon's key-system driver and the
//! emulated key system share them, and each can be fuzzed on its own.
//!
//! ```
//! use pickupd_hw::csta::*;
//!
//! let request = Message::Request(Request::DirectedPickupCall {
//!     call_to_be_picked_up: ConnectionId::new("17", "201"),
//!     requesting_device: DeviceId::new("204"),
//! });
//! let mut ids = InvokeIds::new();
//! let framer = DmccFramer::new();
//! let mut wire = Vec::new();
//! framer
//!     .encode(&DmccFrame { invoke_id: ids.next_id(), payload: encode(&request) }, &mut wire)
//!     .expect("small message");
//!
//! let mut receiver = DmccFramer::new();
//! let mut frames = Vec::new();
//! receiver.feed(&wire, |f| frames.push(f)).expect("well-formed stream");
//! assert_eq!(decode(&frames[0].payload), Ok(request));
//! ```

mod dom;
pub mod enums;
pub mod framing;
pub mod model;
pub mod session;
pub mod xml;

pub use enums::{CstaError, EventCause, LocalConnectionState, Refusal};
pub use framing::{
    DmccFrame, DmccFramer, FrameError, Framer, InvokeId, InvokeIds, LengthPrefixFramer,
    PayloadTooLarge,
};
pub use model::*;
pub use xml::{decode, decode_document, encode, encode_with, DecodeError, Edition};
