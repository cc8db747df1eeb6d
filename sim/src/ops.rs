//! What people and the network do, as requests to the world.

use crate::{LineKey, SimError, World};

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
    TrunkFarEndHangup(LineKey),
    /// the phone at a station line hangs up
    PhoneOnHook(LineKey),
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

/// The outcome of applying an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Now(Result<SimOk, SimError>),
    /// Digits are playing on this line; the dial is done once
    /// [`World::dialing_done`] says so.
    Dialing(LineKey),
}

impl World {
    pub fn apply(&mut self, op: SimOp) -> Applied {
        let done = |r: Result<(), SimError>| Applied::Now(r.map(|_| SimOk::Done));
        match op {
            SimOp::IncomingCall {
                number,
                caller_number,
                caller_name,
            } => Applied::Now(
                self.incoming_call(&number, &caller_number, &caller_name)
                    .map(SimOk::Tag),
            ),
            SimOp::OffHook(n) => done(self.set_phone_hook(&n, true)),
            SimOp::OnHook(n) => done(self.set_phone_hook(&n, false)),
            SimOp::Flash(n) => done(self.flash(&n)),
            SimOp::Dial(n, digits) => match self.dial(&n, &digits) {
                Ok(line) => Applied::Dialing(line),
                Err(e) => Applied::Now(Err(e)),
            },
            SimOp::CallWaiting {
                trunk_number,
                caller_number,
                caller_name,
            } => done(self.call_waiting(&trunk_number, &caller_number, &caller_name)),
            SimOp::TrunkFarEndHangup(line) => done(self.trunk_far_end_hangup(line)),
            SimOp::PhoneOnHook(line) => done(self.phone_on_hook_line(line)),
            SimOp::NetworkHangup(tag) => {
                self.network_hangup(tag);
                Applied::Now(Ok(SimOk::Done))
            }
            SimOp::Unplug(name) => done(self.set_plugged(&name, false).map(|_| ())),
            SimOp::Plug(name) => done(self.set_plugged(&name, true).map(|_| ())),
        }
    }
}
