//! How a CSTA request fails, and what that means for the D-Bus API.
//!
//! [`CstaError`] keeps the switch's answer fully typed (hw's
//! [`SwitchError`]: category and value of `CSTAErrorCode`, e.g.
//! `operation/invalidCallToBePickedUpObjectType`,
//! `stateIncompatibility/invalidActiveDeviceState`,
//! `systemResourceAvailability/pickupDeviceOutOfService`), next to the
//! client's own failures (link down, no reply in time, a reply that does not
//! fit). [`pickup_error`] turns it into the API's [`PickupError`].

use pickupd_api::PickupError;
use pickupd_hw::csta::enums::{OperationError, StateIncompatibilityError};
use pickupd_hw::csta::{CstaError as SwitchError, Request, Response};
use std::time::Duration;

/// The CSTA services the client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// MonitorStart (71).
    MonitorStart,
    /// MonitorStop (73).
    MonitorStop,
    /// MakeCall (10).
    MakeCall,
    /// AnswerCall (2).
    AnswerCall,
    /// ClearConnection (5).
    ClearConnection,
    /// HoldCall (9).
    HoldCall,
    /// RetrieveCall (14).
    RetrieveCall,
    /// DirectedPickupCall (220).
    DirectedPickupCall,
    /// GroupPickupCall (221).
    GroupPickupCall,
    /// ECMA-354 StartApplicationSession (DMCC links).
    StartApplicationSession,
    /// ECMA-354 ResetApplicationSessionTimer (the DMCC keep-alive).
    ResetApplicationSessionTimer,
    /// ECMA-354 StopApplicationSession.
    StopApplicationSession,
}

impl Service {
    /// The service of a request.
    pub fn of(request: &Request) -> Service {
        match request {
            Request::MonitorStart { .. } => Service::MonitorStart,
            Request::MonitorStop { .. } => Service::MonitorStop,
            Request::MakeCall { .. } => Service::MakeCall,
            Request::AnswerCall { .. } => Service::AnswerCall,
            Request::ClearConnection { .. } => Service::ClearConnection,
            Request::HoldCall { .. } => Service::HoldCall,
            Request::RetrieveCall { .. } => Service::RetrieveCall,
            Request::DirectedPickupCall { .. } => Service::DirectedPickupCall,
            Request::GroupPickupCall { .. } => Service::GroupPickupCall,
        }
    }

    /// The service's name (its XML root element).
    pub fn name(self) -> &'static str {
        match self {
            Service::MonitorStart => "MonitorStart",
            Service::MonitorStop => "MonitorStop",
            Service::MakeCall => "MakeCall",
            Service::AnswerCall => "AnswerCall",
            Service::ClearConnection => "ClearConnection",
            Service::HoldCall => "HoldCall",
            Service::RetrieveCall => "RetrieveCall",
            Service::DirectedPickupCall => "DirectedPickupCall",
            Service::GroupPickupCall => "GroupPickupCall",
            Service::StartApplicationSession => "StartApplicationSession",
            Service::ResetApplicationSessionTimer => "ResetApplicationSessionTimer",
            Service::StopApplicationSession => "StopApplicationSession",
        }
    }

    /// Whether `response` is this service's positive reply.
    pub fn answered_by(self, response: &Response) -> bool {
        matches!(
            (self, response),
            (Service::MonitorStart, Response::MonitorStart { .. })
                | (Service::MonitorStop, Response::MonitorStop)
                | (Service::MakeCall, Response::MakeCall { .. })
                | (Service::AnswerCall, Response::AnswerCall)
                | (Service::ClearConnection, Response::ClearConnection)
                | (Service::HoldCall, Response::HoldCall)
                | (Service::RetrieveCall, Response::RetrieveCall)
                | (
                    Service::DirectedPickupCall,
                    Response::DirectedPickupCall { .. }
                )
                | (Service::GroupPickupCall, Response::GroupPickupCall { .. })
        )
    }

    /// The API operation a failure of this service belongs to by default.
    pub fn api_operation(self) -> ApiOperation {
        match self {
            Service::DirectedPickupCall | Service::GroupPickupCall => ApiOperation::Pickup,
            _ => ApiOperation::CallControl,
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a request to the key system did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CstaError {
    /// The switch answered with `CSTAErrorCode`.
    #[error("the key system refused {request}: {error}")]
    Refused {
        /// The service.
        service: Service,
        /// The request, for a person ("directed pickup of call 3 ringing
        /// at 202 for 201").
        request: String,
        /// The switch's error, typed.
        error: SwitchError,
    },
    /// The switch gave no reply in time; the client then takes the link
    /// down and reconnects, since the replies can no longer be trusted to
    /// line up. Whether the service was performed is unknown.
    #[error("the key system did not answer {request} within {after:?}")]
    Timeout {
        /// The service.
        service: Service,
        /// The request, for a person.
        request: String,
        /// The request timeout.
        after: Duration,
    },
    /// The link is down (or went down before the reply came), or is still
    /// opening its session and monitors.
    #[error("the key-system link is down: {why}")]
    LinkDown {
        /// Why.
        why: String,
    },
    /// The switch answered with a reply of another service (or a message
    /// the client cannot read where the reply belonged).
    #[error("the key system answered {request} with {got}")]
    Protocol {
        /// The service.
        service: Service,
        /// The request, for a person.
        request: String,
        /// What came instead.
        got: String,
    },
    /// The request cannot be put on the link (too large for the framing,
    /// or every DMCC invoke id is in use).
    #[error("{request} cannot be sent: {why}")]
    Unsendable {
        /// The request, for a person.
        request: String,
        /// Why.
        why: String,
    },
    /// The client has been shut down.
    #[error("the key-system client has stopped")]
    Closed,
}

impl CstaError {
    /// The switch's error code, if the switch refused.
    pub fn switch_error(&self) -> Option<&SwitchError> {
        match self {
            CstaError::Refused { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The service that failed, if the failure is about one request.
    pub fn service(&self) -> Option<Service> {
        match self {
            CstaError::Refused { service, .. }
            | CstaError::Timeout { service, .. }
            | CstaError::Protocol { service, .. } => Some(*service),
            _ => None,
        }
    }
}

/// What the API was doing when a request failed: the same refusal means
/// different things for a pickup and for hold or answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiOperation {
    /// `Address.Pickup` (directed or group pickup, or taking a held call
    /// from another appearance, even when done with `RetrieveCall`).
    Pickup,
    /// `Call.Answer`, `Drop`, `Hold`, `Unhold`, `SwapHold`, `Dial`.
    CallControl,
}

/// The API error for a failed request, judged by its own service
/// ([`Service::api_operation`]); see [`pickup_error_as`].
pub fn pickup_error(err: &CstaError) -> PickupError {
    let op = err
        .service()
        .map_or(ApiOperation::CallControl, Service::api_operation);
    pickup_error_as(err, op)
}

/// Whether a state error says that the *requesting station* is busy (it
/// already talks on a call, or is otherwise in no state to take one), as
/// opposed to the call not being in the expected state.
fn station_busy(e: &StateIncompatibilityError) -> bool {
    matches!(
        e,
        StateIncompatibilityError::ConnectedCallExists
            | StateIncompatibilityError::InvalidActiveDeviceState
    )
}

/// Operation errors that name a call or connection the switch does not
/// have (any more): the call ended or moved meanwhile.
fn call_gone(e: &OperationError) -> bool {
    matches!(
        e,
        OperationError::InvalidCallID
            | OperationError::InvalidConnectionID
            | OperationError::InvalidActiveCallID
            | OperationError::InvalidHeldCallID
            | OperationError::InvalidActiveConnectionID
            | OperationError::InvalidHeldConnectionID
    )
}

/// The API error (dbus-api.md "Errors") for a failed request made for `op`.
///
/// | failure | Pickup | call control |
/// |---|---|---|
/// | `stateIncompatibility/connectedCallExists`, `invalidActiveDeviceState` | ResourceUnavailable | ResourceUnavailable |
/// | other `stateIncompatibility` (`invalidConnectionState`, `noCallToAnswer`, `noHeldCall` …) | NothingToPickUp | InvalidCallState |
/// | `operation/invalidCallToBePickedUpObjectType`, `notDifferentDevices` | NothingToPickUp | OperationFailed |
/// | `operation/invalidCallID`, `invalidConnectionID` (and the active/held forms) | NothingToPickUp | InvalidCallState |
/// | `systemResourceAvailability/*` (`pickupDeviceOutOfService`, `resourceBusy` …), `subscribedResourceAvailability/*`, `performanceManagement/*` | ResourceUnavailable | ResourceUnavailable |
/// | any other `operation/*`, `security/*`, `privateData/*`, `unspecified` (incl. `operation/generic`) | OperationFailed | OperationFailed |
/// | link down, client stopped | ResourceUnavailable | ResourceUnavailable |
/// | no reply in time, a reply that does not fit, unsendable | OperationFailed | OperationFailed |
///
/// Why: `NothingToPickUp` is the API's answer when "no call matches …; also
/// the loser of a pickup race" — which is what a switch says with a state
/// error (the call stopped ringing, nothing rings in the group), with an
/// unknown call id (the call ended), or with
/// `invalidCallToBePickedUpObjectType` (the call rings at the picker too or
/// is its own: not pickable, pickup-semantics.md "Who may pick up what").
/// For hold, answer and the like the same state errors are
/// `InvalidCallState` ("e.g. Hold on a call that is not CONNECTED"). A
/// station that is busy on another call, or a device or switch resource out
/// of service, is `ResourceUnavailable` ("line out of service, device
/// busy"). Everything else is the far switch refusing: `OperationFailed`,
/// as for a reorder tone after a pickup code on an analog line. A timeout
/// is `OperationFailed` too, not `ResourceUnavailable`: the request may
/// have been carried out.
pub fn pickup_error_as(err: &CstaError, op: ApiOperation) -> PickupError {
    use ApiOperation::{CallControl, Pickup};
    let text = err.to_string();
    match err {
        CstaError::Refused { error, .. } => match (error, op) {
            (SwitchError::StateIncompatibility(e), _) if station_busy(e) => {
                PickupError::ResourceUnavailable(format!("the station is busy: {text}"))
            }
            (SwitchError::StateIncompatibility(_), Pickup) => {
                PickupError::NothingToPickUp(format!("nothing to pick up: {text}"))
            }
            (SwitchError::StateIncompatibility(_), CallControl) => {
                PickupError::InvalidCallState(text)
            }
            (
                SwitchError::Operation(
                    OperationError::InvalidCallToBePickedUpObjectType
                    | OperationError::NotDifferentDevices,
                ),
                Pickup,
            ) => PickupError::NothingToPickUp(format!("nothing to pick up: {text}")),
            (SwitchError::Operation(e), Pickup) if call_gone(e) => {
                PickupError::NothingToPickUp(format!("nothing to pick up: {text}"))
            }
            (SwitchError::Operation(e), CallControl) if call_gone(e) => {
                PickupError::InvalidCallState(text)
            }
            (
                SwitchError::SystemResourceAvailability(_)
                | SwitchError::SubscribedResourceAvailability(_)
                | SwitchError::PerformanceManagement(_),
                _,
            ) => PickupError::ResourceUnavailable(text),
            _ => PickupError::OperationFailed(text),
        },
        CstaError::LinkDown { .. } | CstaError::Closed => PickupError::ResourceUnavailable(text),
        CstaError::Timeout { .. } | CstaError::Protocol { .. } | CstaError::Unsendable { .. } => {
            PickupError::OperationFailed(text)
        }
    }
}

impl From<&CstaError> for PickupError {
    fn from(err: &CstaError) -> PickupError {
        pickup_error(err)
    }
}

impl From<CstaError> for PickupError {
    fn from(err: CstaError) -> PickupError {
        pickup_error(&err)
    }
}
