//! Identifiers and the snapshots the engine hands to the bus adapter.

use crate::config::{HoldMode, LineKind};

macro_rules! id_type {
    ($name:ident) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);
    };
}
id_type!(LineId);
id_type!(AddressId);
id_type!(CallId);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineState {
    InService,
    OutOfService,
    Alarm,
}

impl LineState {
    pub fn as_str(self) -> &'static str {
        match self {
            LineState::InService => "in-service",
            LineState::OutOfService => "out-of-service",
            LineState::Alarm => "alarm",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
    Internal,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Internal => "internal",
        }
    }
}

/// How a call reaches the outside, which decides what hardware it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// on a trunk (fxo, modem) to the central office or PBX
    Trunk(LineId),
    /// station to station; `peer` is the other leg
    Internal { peer: CallId, placing: bool },
    /// delivered straight to a station by the network (simulated direct
    /// inward dialling); `tag` is the network's reference
    Network { tag: u64 },
}

/// The tone or audio a line transmits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaSource {
    Silence,
    DialTone,
    Ringback,
    Reorder,
    /// audio received on the other line
    Bridge(LineId),
}

/// Hardware control the engine asks of a driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineCommand {
    /// ring the phone on a station port (or stop)
    Ring(bool),
    /// take a trunk off hook (true) or put it on hook
    Hook(bool),
    /// hook flash on a trunk (reach a waiting call)
    Flash,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineView {
    pub id: LineId,
    pub name: String,
    pub kind: LineKind,
    pub device: String,
    pub state: LineState,
    pub off_hook: bool,
    pub addresses: Vec<AddressId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AddressView {
    pub id: AddressId,
    pub number: String,
    pub line: LineId,
    pub appearances: Vec<LineId>,
    pub sharing: u32,
    pub call_groups: Vec<String>,
    pub pickup_groups: Vec<String>,
    pub cap_flags: u32,
    pub features: u32,
    pub calls: Vec<CallId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallView {
    pub id: CallId,
    pub address: AddressId,
    pub station: Option<LineId>,
    pub state: u32,
    pub state_mode: u32,
    pub reason: u32,
    pub direction: Direction,
    pub caller_number: String,
    pub caller_name: String,
    pub called_number: String,
    pub call_waiting: bool,
    pub detected_by: &'static str,
    pub held_by: Option<LineId>,
    pub created_us: u64,
}

/// A property change, with its new value.
#[derive(Debug, Clone, PartialEq)]
pub enum LineProp {
    State(LineState),
    Hook(bool),
    Addresses(Vec<AddressId>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum AddressProp {
    Appearances(Vec<LineId>),
    Features(u32),
    Calls(Vec<CallId>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum CallProp {
    Station(Option<LineId>),
    State(u32),
    StateMode(u32),
    Reason(u32),
    CallerNumber(String),
    CallerName(String),
    CallWaiting(bool),
    DetectedBy(&'static str),
    HeldBy(Option<LineId>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ManagerProp {
    Lines(Vec<LineId>),
    Addresses(Vec<AddressId>),
    Calls(Vec<CallId>),
}

/// What the bus must show, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum BusEvent {
    LineAdded(LineView),
    LineRemoved(LineId),
    AddressAdded(AddressView),
    AddressRemoved(AddressId),
    CallAdded(CallView),
    CallRemoved(CallId),
    Line(LineId, LineProp),
    Address(AddressId, AddressProp),
    Call(CallId, CallProp),
    CallStateChanged {
        call: CallId,
        old: u32,
        new: u32,
        mode: u32,
    },
    Manager(ManagerProp),
}

/// Everything the engine asks of the world around it.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Bus(BusEvent),
    Line(LineId, LineCommand),
    Media(LineId, MediaSource),
}

/// Station hold policy and other per-line settings the engine needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinePolicy {
    pub call_waiting: bool,
    pub cidcw: bool,
    pub hold: HoldMode,
}
