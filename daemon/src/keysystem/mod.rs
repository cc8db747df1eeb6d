//! The link layer of the key-system CTI driver: a CSTA client (ECMA-323
//! XML, hardware.md §5) over TCP or a serial port, for the lines of kind
//! `keysystem`.
//!
//! ```text
//!  owner (engine) ◀── LinkEvent channel ── link thread ◀── reader thread ◀── TCP / tty
//!        │                                   │  ▲
//!        └── CstaClient::directed_pickup … ──┘  └── framing + hw's codec (pickupd_hw::csta)
//! ```
//!
//! * [`LinkSpec`] parses a line's `device`: `tcp:HOST:PORT` (optionally
//!   `?framing=dmcc`; the default framing is `length-prefix`) or the path of
//!   a serial port (`/dev/ttyS0`, optionally `?framing=dmcc&baud=19200`).
//! * [`CstaClient`] owns the link in one thread: it connects, opens and
//!   keeps alive the application session of a DMCC link, starts a monitor
//!   for every configured device, and reconnects with backoff after any
//!   fault (see [`client`] for which). Its typed requests
//!   ([`CstaClient::directed_pickup`], [`CstaClient::group_pickup`],
//!   [`CstaClient::answer`], [`CstaClient::clear_connection`],
//!   [`CstaClient::hold`], [`CstaClient::retrieve`]) return the switch's
//!   response or a [`CstaError`].
//! * The owner receives [`LinkEvent`]s: `LinkUp`, `LinkDown { why }` and
//!   `Event(`[`SwitchEvent`]`)`, the switch's call events attributed to the
//!   monitored device, with their call id, devices, local connection state
//!   and cause (`callPickup` for pickups).
//! * [`pickup_error`] maps a failed request to the D-Bus API's
//!   [`pickupd_api::PickupError`].
//!
//! What is not here yet: the engine integration (lines and calls following
//! the switch's events, pickups from the API forwarded as requests).

#![forbid(unsafe_code)]

pub mod client;
pub mod error;
pub mod event;
mod link;
pub mod spec;

pub use client::{describe, ClientOptions, CstaClient, PendingReply, Reply};
pub use error::{pickup_error, pickup_error_as, ApiOperation, CstaError, Service};
pub use event::{LinkEvent, SwitchEvent};
pub use link::SERIAL_TICK;
pub use spec::{Framing, LinkSpec, SpecError, DEFAULT_BAUD};

/// The CSTA types the client's API uses, from hw (devices, calls,
/// connections, causes, states, the switch's error codes and responses).
pub use pickupd_hw::csta::{
    CallId, ConnectionId, CstaError as SwitchError, DeviceId, EventCause, EventDevice,
    LocalConnectionState, Request, Response,
};
