//! The simulated outside world: a central office behind each trunk, a phone
//! at each station, and a network that can call stations directly.
//!
//! The world knows nothing of the engine. It speaks to the daemon only as
//! hardware would: PCM frames it sends and hears, and signalling (rings,
//! hook changes, flashes). A simulated dialled digit is DTMF audio and a
//! call-waiting signal is the zone's tone, which the daemon's detectors
//! must find. [`crate::driver::SimDriver`] carries it to the daemon in
//! process; the same world can sit behind emulated devices.

mod world;

pub use world::{SimError, World};

use crate::engine::LineId;
use pickupd_api::PickupError;
use std::time::Duration;
use tokio::sync::oneshot;

/// What a person or the network does in the simulated world.
#[derive(Debug, Clone, PartialEq)]
pub enum SimOp {
    IncomingCall {
        number: String,
        caller_number: String,
        caller_name: String,
    },
    OffHook(String),
    OnHook(String),
    Flash(String),
    Dial(String, String),
    CallWaiting {
        trunk_number: String,
        caller_number: String,
        caller_name: String,
    },
    /// the far party on a trunk hangs up (or a ringing caller gives up)
    TrunkFarEndHangup(LineId),
    /// the phone at a station line hangs up
    PhoneOnHook(LineId),
    /// a caller who called a station straight from the network hangs up
    NetworkHangup(u64),
    Unplug(String),
    Plug(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimOk {
    Done,
    /// the network's reference of a call it offered
    Tag(u64),
}

pub struct SimRequest {
    pub op: SimOp,
    pub reply: oneshot::Sender<Result<SimOk, SimError>>,
}

/// Hands simulator operations to the thread that owns the world.
#[derive(Clone)]
pub struct SimControl {
    tx: std::sync::mpsc::Sender<SimRequest>,
}

impl SimControl {
    pub fn new(tx: std::sync::mpsc::Sender<SimRequest>) -> Self {
        SimControl { tx }
    }

    pub async fn request(&self, op: SimOp) -> Result<SimOk, PickupError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(SimRequest { op, reply }).map_err(|_| {
            PickupError::ResourceUnavailable("the simulated world has stopped".into())
        })?;
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(r)) => r.map_err(PickupError::from),
            Ok(Err(_)) => Err(PickupError::ResourceUnavailable(
                "the simulated world has stopped".into(),
            )),
            Err(_) => Err(PickupError::OperationFailed(
                "the simulated world did not answer in 30 s".into(),
            )),
        }
    }
}

impl From<SimError> for PickupError {
    fn from(e: SimError) -> Self {
        match e {
            SimError::NoSuchNumber(m) | SimError::NoSuchLine(m) => PickupError::InvalidAddress(m),
            SimError::WrongState(m) => PickupError::InvalidCallState(m),
            SimError::NoService(m) => PickupError::OperationUnavailable(m),
            SimError::Unplugged(m) => PickupError::ResourceUnavailable(m),
            SimError::BadDigits(m) => PickupError::InvalidAddress(m),
        }
    }
}
