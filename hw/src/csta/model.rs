//! The CSTA messages pickupd exchanges with a key system or PBX, as plain
//! Rust values, independent of their encoding (ECMA-323 XML here; BER would
//! map onto the same types) and of the framing that carries them.
//!
//! Only the services and events that pickupd uses are modelled (hardware.md
//! §5.1–5.3), with the fields the driver and the emulated key system act on.
//! Optional ASN.1 fields that neither side needs (`correlatorData`,
//! `userData`, filters, media classes …) are left out: the decoder skips them
//! like any other unknown element, so a switch that sends them still works.

use super::enums::{CstaError, EventCause, LocalConnectionState};

/// A device as the switch names it (a `DeviceID`: extension number, trunk,
/// or a vendor form such as Avaya's `2001:CSTA:0:0`). Kept verbatim, since
/// the driver must send back exactly what the switch sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(pub String);

/// The switch's identifier of a call (`callID`, an opaque octet string).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub String);

/// The identifier the switch gives a monitor in `MonitorStartResponse`; every
/// event of that monitor carries it, which is how the driver knows which
/// device an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonitorCrossRefId(pub String);

impl DeviceId {
    /// A device id from anything string-like.
    pub fn new(id: impl Into<String>) -> Self {
        DeviceId(id.into())
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl CallId {
    /// A call id from anything string-like.
    pub fn new(id: impl Into<String>) -> Self {
        CallId(id.into())
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl MonitorCrossRefId {
    /// A cross-reference id from anything string-like.
    pub fn new(id: impl Into<String>) -> Self {
        MonitorCrossRefId(id.into())
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One party's leg of a call (`ConnectionID`): the call and the device. ASN.1
/// allows either part alone; at least one is present (the decoder rejects a
/// connection with neither).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionId {
    /// `callID`.
    pub call_id: Option<CallId>,
    /// `deviceID` (static or dynamic device id, kept as text).
    pub device_id: Option<DeviceId>,
}

impl ConnectionId {
    /// A connection naming both the call and the device, the form every
    /// switch accepts in requests.
    pub fn new(call_id: impl Into<String>, device_id: impl Into<String>) -> Self {
        ConnectionId {
            call_id: Some(CallId(call_id.into())),
            device_id: Some(DeviceId(device_id.into())),
        }
    }
}

/// A device field of an event (`SubjectDeviceID`, `CallingDeviceID`,
/// `RedirectionDeviceID` …): either a device or the reason there is none.
/// Switches differ in which of these forms they use (hardware.md §5.4), so
/// one type covers them all.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventDevice {
    /// `deviceIdentifier` (also `numberDialed` for redirection devices).
    Known(DeviceId),
    /// `notKnown`.
    NotKnown,
    /// `restricted` (presentation restricted).
    Restricted,
    /// `notRequired` (there was no redirection).
    NotRequired,
    /// `notSpecified`.
    NotSpecified,
}

impl EventDevice {
    /// The device, if the switch named one.
    pub fn device(&self) -> Option<&DeviceId> {
        match self {
            EventDevice::Known(d) => Some(d),
            _ => None,
        }
    }
}

/// What `MonitorStart` monitors.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MonitorObject {
    /// `deviceObject`: every call at the device (what pickupd uses).
    Device(DeviceId),
    /// `callObject`: one call.
    Call(ConnectionId),
}

/// A service request (hardware.md §5.1). The driver encodes these and the
/// emulated key system decodes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Request {
    /// MonitorStart (71): report the events of a device.
    MonitorStart {
        /// `monitorObject`.
        monitor_object: MonitorObject,
    },
    /// MonitorStop (73).
    MonitorStop {
        /// `monitorCrossRefID` of the monitor to end.
        cross_ref: MonitorCrossRefId,
    },
    /// MakeCall (10): call `called_directory_number` from `calling_device`.
    MakeCall {
        /// `callingDevice`.
        calling_device: DeviceId,
        /// `calledDirectoryNumber`.
        called_directory_number: DeviceId,
    },
    /// AnswerCall (2).
    AnswerCall {
        /// `callToBeAnswered`.
        call_to_be_answered: ConnectionId,
    },
    /// ClearConnection (5): drop one party from a call.
    ClearConnection {
        /// `connectionToBeCleared`.
        connection_to_be_cleared: ConnectionId,
        /// `reason`.
        reason: Option<EventCause>,
    },
    /// HoldCall (9).
    HoldCall {
        /// `callToBeHeld`.
        call_to_be_held: ConnectionId,
    },
    /// RetrieveCall (14).
    RetrieveCall {
        /// `callToBeRetrieved`.
        call_to_be_retrieved: ConnectionId,
    },
    /// DirectedPickupCall (220): `requesting_device` takes the call alerting
    /// at the device of `call_to_be_picked_up`.
    DirectedPickupCall {
        /// `callToBePickedUp` (the alerting connection).
        call_to_be_picked_up: ConnectionId,
        /// `requestingDevice` (the picker).
        requesting_device: DeviceId,
    },
    /// GroupPickupCall (221): `new_destination` takes a call alerting in its
    /// pickup group, or in `pick_group`.
    GroupPickupCall {
        /// `newDestination` (the picker).
        new_destination: DeviceId,
        /// `pickGroup`; absent means the group administered for the picker.
        pick_group: Option<DeviceId>,
    },
}

/// A positive reply (`<Service>Response`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Response {
    /// `MonitorStartResponse`.
    MonitorStart {
        /// `monitorCrossRefID` that the monitor's events will carry.
        cross_ref: MonitorCrossRefId,
    },
    /// `MonitorStopResponse`.
    MonitorStop,
    /// `MakeCallResponse`.
    MakeCall {
        /// `callingDevice`: the new call's connection at the calling device.
        calling_device: ConnectionId,
    },
    /// `AnswerCallResponse`.
    AnswerCall,
    /// `ClearConnectionResponse`.
    ClearConnection,
    /// `HoldCallResponse`.
    HoldCall,
    /// `RetrieveCallResponse`.
    RetrieveCall,
    /// `DirectedPickupCallResponse`.
    DirectedPickupCall {
        /// `pickedCall`: the call's connection at the picker, if the switch
        /// says.
        picked_call: Option<ConnectionId>,
    },
    /// `GroupPickupCallResponse`.
    GroupPickupCall {
        /// `pickedCall`.
        picked_call: Option<ConnectionId>,
    },
}

/// `DeliveredEvent`: a call is alerting at `alerting_device`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Delivered {
    /// `connection`: the alerting connection.
    pub connection: ConnectionId,
    /// `alertingDevice`.
    pub alerting_device: EventDevice,
    /// `callingDevice`.
    pub calling_device: Option<EventDevice>,
    /// `calledDevice`.
    pub called_device: Option<EventDevice>,
    /// `lastRedirectionDevice`.
    pub last_redirection_device: Option<EventDevice>,
    /// `localConnectionInfo`.
    pub local_connection_info: Option<LocalConnectionState>,
    /// `cause`.
    pub cause: Option<EventCause>,
}

/// `EstablishedEvent`: `answering_device` is connected to the call (also the
/// picker's side of a pickup, with cause `callPickup`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Established {
    /// `establishedConnection`.
    pub established_connection: ConnectionId,
    /// `answeringDevice`.
    pub answering_device: EventDevice,
    /// `callingDevice`.
    pub calling_device: Option<EventDevice>,
    /// `calledDevice`.
    pub called_device: Option<EventDevice>,
    /// `lastRedirectionDevice`.
    pub last_redirection_device: Option<EventDevice>,
    /// `localConnectionInfo`.
    pub local_connection_info: Option<LocalConnectionState>,
    /// `cause`.
    pub cause: Option<EventCause>,
}

/// `HeldEvent`: `holding_device` put the call on hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Held {
    /// `heldConnection`.
    pub held_connection: ConnectionId,
    /// `holdingDevice`.
    pub holding_device: EventDevice,
    /// `localConnectionInfo`.
    pub local_connection_info: Option<LocalConnectionState>,
    /// `cause`.
    pub cause: Option<EventCause>,
}

/// `RetrievedEvent`: `retrieving_device` took the call off hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Retrieved {
    /// `retrievedConnection`.
    pub retrieved_connection: ConnectionId,
    /// `retrievingDevice`.
    pub retrieving_device: EventDevice,
    /// `localConnectionInfo`.
    pub local_connection_info: Option<LocalConnectionState>,
    /// `cause`.
    pub cause: Option<EventCause>,
}

/// `DivertedEvent`: the call left `diverting_device` for `new_destination`
/// (a pickup takes the call away from the alerting device this way).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diverted {
    /// `connection`.
    pub connection: ConnectionId,
    /// `divertingDevice`.
    pub diverting_device: EventDevice,
    /// `newDestination`.
    pub new_destination: EventDevice,
    /// `callingDevice`.
    pub calling_device: Option<EventDevice>,
    /// `calledDevice`.
    pub called_device: Option<EventDevice>,
    /// `lastRedirectionDevice`.
    pub last_redirection_device: Option<EventDevice>,
    /// `localConnectionInfo`.
    pub local_connection_info: Option<LocalConnectionState>,
    /// `cause`.
    pub cause: Option<EventCause>,
}

/// `ConnectionClearedEvent`: `releasing_device` left the call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionCleared {
    /// `droppedConnection`.
    pub dropped_connection: ConnectionId,
    /// `releasingDevice`.
    pub releasing_device: EventDevice,
    /// `localConnectionInfo`.
    pub local_connection_info: Option<LocalConnectionState>,
    /// `cause`.
    pub cause: Option<EventCause>,
}

/// `OriginatedEvent`: `calling_device` placed a call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Originated {
    /// `originatedConnection`.
    pub originated_connection: ConnectionId,
    /// `callingDevice`.
    pub calling_device: EventDevice,
    /// `calledDevice`.
    pub called_device: Option<EventDevice>,
    /// `localConnectionInfo`.
    pub local_connection_info: Option<LocalConnectionState>,
    /// `cause`.
    pub cause: Option<EventCause>,
}

/// `FailedEvent`: the call could not be completed at `failing_device`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Failed {
    /// `failedConnection`.
    pub failed_connection: ConnectionId,
    /// `failingDevice`.
    pub failing_device: EventDevice,
    /// `calledDevice`.
    pub called_device: Option<EventDevice>,
    /// `callingDevice`.
    pub calling_device: Option<EventDevice>,
    /// `lastRedirectionDevice`.
    pub last_redirection_device: Option<EventDevice>,
    /// `localConnectionInfo`.
    pub local_connection_info: Option<LocalConnectionState>,
    /// `cause`.
    pub cause: Option<EventCause>,
}

/// A call-control event (the `callControlEvents` of hardware.md §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallEvent {
    /// `DeliveredEvent`.
    Delivered(Delivered),
    /// `EstablishedEvent`.
    Established(Established),
    /// `HeldEvent`.
    Held(Held),
    /// `RetrievedEvent`.
    Retrieved(Retrieved),
    /// `DivertedEvent`.
    Diverted(Diverted),
    /// `ConnectionClearedEvent`.
    ConnectionCleared(ConnectionCleared),
    /// `OriginatedEvent`.
    Originated(Originated),
    /// `FailedEvent`.
    Failed(Failed),
}

impl CallEvent {
    /// The XML root element name of the event.
    pub fn name(&self) -> &'static str {
        match self {
            CallEvent::Delivered(_) => "DeliveredEvent",
            CallEvent::Established(_) => "EstablishedEvent",
            CallEvent::Held(_) => "HeldEvent",
            CallEvent::Retrieved(_) => "RetrievedEvent",
            CallEvent::Diverted(_) => "DivertedEvent",
            CallEvent::ConnectionCleared(_) => "ConnectionClearedEvent",
            CallEvent::Originated(_) => "OriginatedEvent",
            CallEvent::Failed(_) => "FailedEvent",
        }
    }

    /// The connection the event is about (its first field).
    pub fn connection(&self) -> &ConnectionId {
        match self {
            CallEvent::Delivered(e) => &e.connection,
            CallEvent::Established(e) => &e.established_connection,
            CallEvent::Held(e) => &e.held_connection,
            CallEvent::Retrieved(e) => &e.retrieved_connection,
            CallEvent::Diverted(e) => &e.connection,
            CallEvent::ConnectionCleared(e) => &e.dropped_connection,
            CallEvent::Originated(e) => &e.originated_connection,
            CallEvent::Failed(e) => &e.failed_connection,
        }
    }

    /// The device the event happened at (alerting, answering, holding …).
    pub fn subject_device(&self) -> &EventDevice {
        match self {
            CallEvent::Delivered(e) => &e.alerting_device,
            CallEvent::Established(e) => &e.answering_device,
            CallEvent::Held(e) => &e.holding_device,
            CallEvent::Retrieved(e) => &e.retrieving_device,
            CallEvent::Diverted(e) => &e.diverting_device,
            CallEvent::ConnectionCleared(e) => &e.releasing_device,
            CallEvent::Originated(e) => &e.calling_device,
            CallEvent::Failed(e) => &e.failing_device,
        }
    }

    /// The event's `cause`, if the switch sent one.
    pub fn cause(&self) -> Option<&EventCause> {
        match self {
            CallEvent::Delivered(e) => e.cause.as_ref(),
            CallEvent::Established(e) => e.cause.as_ref(),
            CallEvent::Held(e) => e.cause.as_ref(),
            CallEvent::Retrieved(e) => e.cause.as_ref(),
            CallEvent::Diverted(e) => e.cause.as_ref(),
            CallEvent::ConnectionCleared(e) => e.cause.as_ref(),
            CallEvent::Originated(e) => e.cause.as_ref(),
            CallEvent::Failed(e) => e.cause.as_ref(),
        }
    }

    /// The event's `localConnectionInfo`, if the switch sent one.
    pub fn local_connection_info(&self) -> Option<&LocalConnectionState> {
        match self {
            CallEvent::Delivered(e) => e.local_connection_info.as_ref(),
            CallEvent::Established(e) => e.local_connection_info.as_ref(),
            CallEvent::Held(e) => e.local_connection_info.as_ref(),
            CallEvent::Retrieved(e) => e.local_connection_info.as_ref(),
            CallEvent::Diverted(e) => e.local_connection_info.as_ref(),
            CallEvent::ConnectionCleared(e) => e.local_connection_info.as_ref(),
            CallEvent::Originated(e) => e.local_connection_info.as_ref(),
            CallEvent::Failed(e) => e.local_connection_info.as_ref(),
        }
    }

    /// Whether the switch reports this event as part of a pickup
    /// (cause `callPickup`, hardware.md §5.3).
    pub fn is_pickup(&self) -> bool {
        self.cause() == Some(&EventCause::CallPickup)
    }
}

/// An event report: the monitor it belongs to and the event
/// (ECMA-285 `CSTAEventReportArgument`; in XML the event is the root and
/// carries `monitorCrossRefID`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventReport {
    /// `monitorCrossRefID`.
    pub cross_ref: MonitorCrossRefId,
    /// The event.
    pub event: CallEvent,
}

/// Any CSTA message pickupd sends or receives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// A service request (computer → switch).
    Request(Request),
    /// A positive reply to a request (switch → computer).
    Response(Response),
    /// A negative reply (`CSTAErrorCode`, switch → computer).
    Error(CstaError),
    /// An unsolicited event report (switch → computer).
    Event(EventReport),
}

impl Message {
    /// The XML root element name of the message.
    pub fn root_name(&self) -> &'static str {
        match self {
            Message::Request(r) => match r {
                Request::MonitorStart { .. } => "MonitorStart",
                Request::MonitorStop { .. } => "MonitorStop",
                Request::MakeCall { .. } => "MakeCall",
                Request::AnswerCall { .. } => "AnswerCall",
                Request::ClearConnection { .. } => "ClearConnection",
                Request::HoldCall { .. } => "HoldCall",
                Request::RetrieveCall { .. } => "RetrieveCall",
                Request::DirectedPickupCall { .. } => "DirectedPickupCall",
                Request::GroupPickupCall { .. } => "GroupPickupCall",
            },
            Message::Response(r) => match r {
                Response::MonitorStart { .. } => "MonitorStartResponse",
                Response::MonitorStop => "MonitorStopResponse",
                Response::MakeCall { .. } => "MakeCallResponse",
                Response::AnswerCall => "AnswerCallResponse",
                Response::ClearConnection => "ClearConnectionResponse",
                Response::HoldCall => "HoldCallResponse",
                Response::RetrieveCall => "RetrieveCallResponse",
                Response::DirectedPickupCall { .. } => "DirectedPickupCallResponse",
                Response::GroupPickupCall { .. } => "GroupPickupCallResponse",
            },
            Message::Error(_) => "CSTAErrorCode",
            Message::Event(e) => e.event.name(),
        }
    }

    /// The ROSE operation code of a request (ECMA-285; what a BER framing
    /// would carry), `None` for replies and events.
    pub fn operation_code(&self) -> Option<u16> {
        match self {
            Message::Request(r) => Some(match r {
                Request::AnswerCall { .. } => 2,
                Request::ClearConnection { .. } => 5,
                Request::HoldCall { .. } => 9,
                Request::MakeCall { .. } => 10,
                Request::RetrieveCall { .. } => 14,
                Request::MonitorStart { .. } => 71,
                Request::MonitorStop { .. } => 73,
                Request::DirectedPickupCall { .. } => 220,
                Request::GroupPickupCall { .. } => 221,
            }),
            _ => None,
        }
    }
}
