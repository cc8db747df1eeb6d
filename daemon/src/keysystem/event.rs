//! What a CSTA link tells its owner: the link's state and the switch's
//! call events, each attributed to the monitored device that reported it.

use pickupd_hw::csta::{
    CallEvent, CallId, ConnectionId, CstaError as SwitchError, DeviceId, EventCause, EventDevice,
    LocalConnectionState,
};

/// One message on a [`super::CstaClient`]'s event channel.
///
/// `LinkUp` and `LinkDown` alternate: the first is `LinkUp` if the first
/// connection attempt works and `LinkDown` otherwise; failed reconnection
/// attempts after a `LinkDown` are logged, not repeated here. `Event`s
/// arrive only between a `LinkUp` and the next `LinkDown`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The link is up: connected, the application session open (DMCC), and
    /// `MonitorStart` answered for every configured device. Events of
    /// calls that began while the link was down are not replayed.
    LinkUp {
        /// Devices the switch refused to monitor, with its reason (e.g.
        /// `operation/invalidDeviceID` for a device it does not know);
        /// there are no events for them until the next `LinkUp`.
        unmonitored: Vec<(DeviceId, SwitchError)>,
    },
    /// The link is down (never connected, dropped, timed out, garbage):
    /// requests fail at once with [`super::CstaError::LinkDown`] until the
    /// next `LinkUp`; the client reconnects by itself.
    LinkDown {
        /// Why, for a person (also logged).
        why: String,
    },
    /// A call event of a monitored device.
    Event(SwitchEvent),
}

/// A call-control event (hardware.md §5.3), with the device whose monitor
/// reported it (`monitored`): the switch sends the same event once to the
/// monitor of every device in the call, each copy with that device's own
/// `state` (`localConnectionInfo`).
///
/// A pickup is reported with `cause` [`EventCause::CallPickup`]: with the
/// emulated key system, `Diverted` (ringing device → picker) then
/// `Established` at the picker for an alerting call, `Retrieved` at the
/// picker then `ConnectionCleared` at the holder for a call held on a
/// shared line key. Real switches differ (§5.3): look at the cause, not the
/// sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchEvent {
    /// `DeliveredEvent`: the call alerts at `alerting`.
    Delivered {
        /// The device whose monitor reported the event.
        monitored: DeviceId,
        /// The alerting connection.
        connection: ConnectionId,
        /// `alertingDevice`.
        alerting: EventDevice,
        /// `callingDevice` (the caller's number, or why there is none).
        calling: Option<EventDevice>,
        /// `calledDevice`.
        called: Option<EventDevice>,
        /// `lastRedirectionDevice`.
        last_redirection: Option<EventDevice>,
        /// `localConnectionInfo` of `monitored`.
        state: Option<LocalConnectionState>,
        /// `cause`.
        cause: Option<EventCause>,
    },
    /// `EstablishedEvent`: `answering` is connected (answer or pickup).
    Established {
        /// The device whose monitor reported the event.
        monitored: DeviceId,
        /// `establishedConnection`.
        connection: ConnectionId,
        /// `answeringDevice`.
        answering: EventDevice,
        /// `callingDevice`.
        calling: Option<EventDevice>,
        /// `calledDevice`.
        called: Option<EventDevice>,
        /// `lastRedirectionDevice`.
        last_redirection: Option<EventDevice>,
        /// `localConnectionInfo` of `monitored`.
        state: Option<LocalConnectionState>,
        /// `cause`.
        cause: Option<EventCause>,
    },
    /// `HeldEvent`: `holding` put the call on hold.
    Held {
        /// The device whose monitor reported the event.
        monitored: DeviceId,
        /// `heldConnection`.
        connection: ConnectionId,
        /// `holdingDevice`.
        holding: EventDevice,
        /// `localConnectionInfo` of `monitored`.
        state: Option<LocalConnectionState>,
        /// `cause`.
        cause: Option<EventCause>,
    },
    /// `RetrievedEvent`: `retrieving` took the call off hold (with cause
    /// `callPickup`: from another appearance of the line).
    Retrieved {
        /// The device whose monitor reported the event.
        monitored: DeviceId,
        /// `retrievedConnection`.
        connection: ConnectionId,
        /// `retrievingDevice`.
        retrieving: EventDevice,
        /// `localConnectionInfo` of `monitored`.
        state: Option<LocalConnectionState>,
        /// `cause`.
        cause: Option<EventCause>,
    },
    /// `DivertedEvent`: the call left `diverting` for `new_destination`.
    Diverted {
        /// The device whose monitor reported the event.
        monitored: DeviceId,
        /// `connection`.
        connection: ConnectionId,
        /// `divertingDevice`.
        diverting: EventDevice,
        /// `newDestination`.
        new_destination: EventDevice,
        /// `callingDevice`.
        calling: Option<EventDevice>,
        /// `calledDevice`.
        called: Option<EventDevice>,
        /// `localConnectionInfo` of `monitored`.
        state: Option<LocalConnectionState>,
        /// `cause`.
        cause: Option<EventCause>,
    },
    /// `ConnectionClearedEvent`: `releasing` left the call.
    ConnectionCleared {
        /// The device whose monitor reported the event.
        monitored: DeviceId,
        /// `droppedConnection`.
        connection: ConnectionId,
        /// `releasingDevice`.
        releasing: EventDevice,
        /// `localConnectionInfo` of `monitored`.
        state: Option<LocalConnectionState>,
        /// `cause`.
        cause: Option<EventCause>,
    },
    /// `OriginatedEvent`: `calling` placed a call.
    Originated {
        /// The device whose monitor reported the event.
        monitored: DeviceId,
        /// `originatedConnection`.
        connection: ConnectionId,
        /// `callingDevice`.
        calling: EventDevice,
        /// `calledDevice`.
        called: Option<EventDevice>,
        /// `localConnectionInfo` of `monitored`.
        state: Option<LocalConnectionState>,
        /// `cause`.
        cause: Option<EventCause>,
    },
    /// `FailedEvent`: the call failed at `failing`.
    Failed {
        /// The device whose monitor reported the event.
        monitored: DeviceId,
        /// `failedConnection`.
        connection: ConnectionId,
        /// `failingDevice`.
        failing: EventDevice,
        /// `callingDevice`.
        calling: Option<EventDevice>,
        /// `calledDevice`.
        called: Option<EventDevice>,
        /// `localConnectionInfo` of `monitored`.
        state: Option<LocalConnectionState>,
        /// `cause`.
        cause: Option<EventCause>,
    },
}

impl SwitchEvent {
    /// The event as reported by the monitor of `monitored`.
    pub fn from_call_event(monitored: DeviceId, event: CallEvent) -> SwitchEvent {
        match event {
            CallEvent::Delivered(e) => SwitchEvent::Delivered {
                monitored,
                connection: e.connection,
                alerting: e.alerting_device,
                calling: e.calling_device,
                called: e.called_device,
                last_redirection: e.last_redirection_device,
                state: e.local_connection_info,
                cause: e.cause,
            },
            CallEvent::Established(e) => SwitchEvent::Established {
                monitored,
                connection: e.established_connection,
                answering: e.answering_device,
                calling: e.calling_device,
                called: e.called_device,
                last_redirection: e.last_redirection_device,
                state: e.local_connection_info,
                cause: e.cause,
            },
            CallEvent::Held(e) => SwitchEvent::Held {
                monitored,
                connection: e.held_connection,
                holding: e.holding_device,
                state: e.local_connection_info,
                cause: e.cause,
            },
            CallEvent::Retrieved(e) => SwitchEvent::Retrieved {
                monitored,
                connection: e.retrieved_connection,
                retrieving: e.retrieving_device,
                state: e.local_connection_info,
                cause: e.cause,
            },
            CallEvent::Diverted(e) => SwitchEvent::Diverted {
                monitored,
                connection: e.connection,
                diverting: e.diverting_device,
                new_destination: e.new_destination,
                calling: e.calling_device,
                called: e.called_device,
                state: e.local_connection_info,
                cause: e.cause,
            },
            CallEvent::ConnectionCleared(e) => SwitchEvent::ConnectionCleared {
                monitored,
                connection: e.dropped_connection,
                releasing: e.releasing_device,
                state: e.local_connection_info,
                cause: e.cause,
            },
            CallEvent::Originated(e) => SwitchEvent::Originated {
                monitored,
                connection: e.originated_connection,
                calling: e.calling_device,
                called: e.called_device,
                state: e.local_connection_info,
                cause: e.cause,
            },
            CallEvent::Failed(e) => SwitchEvent::Failed {
                monitored,
                connection: e.failed_connection,
                failing: e.failing_device,
                calling: e.calling_device,
                called: e.called_device,
                state: e.local_connection_info,
                cause: e.cause,
            },
        }
    }

    /// The event's name as the switch writes it (`DeliveredEvent` …).
    pub fn name(&self) -> &'static str {
        match self {
            SwitchEvent::Delivered { .. } => "DeliveredEvent",
            SwitchEvent::Established { .. } => "EstablishedEvent",
            SwitchEvent::Held { .. } => "HeldEvent",
            SwitchEvent::Retrieved { .. } => "RetrievedEvent",
            SwitchEvent::Diverted { .. } => "DivertedEvent",
            SwitchEvent::ConnectionCleared { .. } => "ConnectionClearedEvent",
            SwitchEvent::Originated { .. } => "OriginatedEvent",
            SwitchEvent::Failed { .. } => "FailedEvent",
        }
    }

    /// The device whose monitor reported the event.
    pub fn monitored(&self) -> &DeviceId {
        match self {
            SwitchEvent::Delivered { monitored, .. }
            | SwitchEvent::Established { monitored, .. }
            | SwitchEvent::Held { monitored, .. }
            | SwitchEvent::Retrieved { monitored, .. }
            | SwitchEvent::Diverted { monitored, .. }
            | SwitchEvent::ConnectionCleared { monitored, .. }
            | SwitchEvent::Originated { monitored, .. }
            | SwitchEvent::Failed { monitored, .. } => monitored,
        }
    }

    /// The connection the event is about.
    pub fn connection(&self) -> &ConnectionId {
        match self {
            SwitchEvent::Delivered { connection, .. }
            | SwitchEvent::Established { connection, .. }
            | SwitchEvent::Held { connection, .. }
            | SwitchEvent::Retrieved { connection, .. }
            | SwitchEvent::Diverted { connection, .. }
            | SwitchEvent::ConnectionCleared { connection, .. }
            | SwitchEvent::Originated { connection, .. }
            | SwitchEvent::Failed { connection, .. } => connection,
        }
    }

    /// The call the event is about, if the switch named it.
    pub fn call_id(&self) -> Option<&CallId> {
        self.connection().call_id.as_ref()
    }

    /// The device the event happened at (alerting, answering, holding,
    /// retrieving, diverting, releasing, calling, failing).
    pub fn subject(&self) -> &EventDevice {
        match self {
            SwitchEvent::Delivered { alerting: d, .. }
            | SwitchEvent::Established { answering: d, .. }
            | SwitchEvent::Held { holding: d, .. }
            | SwitchEvent::Retrieved { retrieving: d, .. }
            | SwitchEvent::Diverted { diverting: d, .. }
            | SwitchEvent::ConnectionCleared { releasing: d, .. }
            | SwitchEvent::Originated { calling: d, .. }
            | SwitchEvent::Failed { failing: d, .. } => d,
        }
    }

    /// `localConnectionInfo`: the state of the monitored device's
    /// connection after the event.
    pub fn state(&self) -> Option<&LocalConnectionState> {
        match self {
            SwitchEvent::Delivered { state, .. }
            | SwitchEvent::Established { state, .. }
            | SwitchEvent::Held { state, .. }
            | SwitchEvent::Retrieved { state, .. }
            | SwitchEvent::Diverted { state, .. }
            | SwitchEvent::ConnectionCleared { state, .. }
            | SwitchEvent::Originated { state, .. }
            | SwitchEvent::Failed { state, .. } => state.as_ref(),
        }
    }

    /// `cause`.
    pub fn cause(&self) -> Option<&EventCause> {
        match self {
            SwitchEvent::Delivered { cause, .. }
            | SwitchEvent::Established { cause, .. }
            | SwitchEvent::Held { cause, .. }
            | SwitchEvent::Retrieved { cause, .. }
            | SwitchEvent::Diverted { cause, .. }
            | SwitchEvent::ConnectionCleared { cause, .. }
            | SwitchEvent::Originated { cause, .. }
            | SwitchEvent::Failed { cause, .. } => cause.as_ref(),
        }
    }

    /// Whether the switch reports the event as part of a pickup (cause
    /// `callPickup`).
    pub fn is_pickup(&self) -> bool {
        self.cause() == Some(&EventCause::CallPickup)
    }
}
