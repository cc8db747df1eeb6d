//! The switch itself: stations, trunks, bridged-exclusive line keys and
//! calls, as a pure state machine.
//!
//! Why pure: every rule of the emulated key system (who may pick up what,
//! which events a service produces, which `CSTAErrorCode` a refusal carries)
//! lives here with no sockets, threads or clocks, so the rules are unit
//! tested as plain sequences of services, and the network server
//! ([`super::server`]) only decodes, locks, calls and fans out. Time is a
//! logical counter that ticks once per operation, which makes "the oldest
//! alerting call" deterministic.
//!
//! Every service returns either its positive [`Response`] together with the
//! events it caused, addressed to the devices that take part in the call
//! ([`Emitted`]), or the [`CstaError`] a switch would answer. A refused
//! service changes nothing.
//!
//! # Event causes
//!
//! Events of a new call (`Originated`, `Delivered`, `Established` on
//! answer) carry `newCall`; `Held` and `Retrieved` carry `normal`;
//! `ConnectionCleared` carries `normalClearing`. Every event that describes a
//! pickup carries `callPickup` (hardware.md §5.3):
//!
//! * directed and group pickup of an alerting call: `Diverted` for the
//!   alerting connection that was taken (diverting device → picker), then
//!   `Established` at the picker, then `ConnectionCleared` for any other
//!   device the call was still ringing at;
//! * a call held on a bridged-exclusive line key, taken at another station
//!   with that key ("transfer through hold", by `RetrieveCall` naming the
//!   other station, or by `DirectedPickupCall` naming the holding station):
//!   `Retrieved` at the picker, then `ConnectionCleared` of the held
//!   connection at the station that held it.
//!
//! # Refusals
//!
//! | situation | `CSTAErrorCode` |
//! |---|---|
//! | a device that is not a station (picker, caller, answering …) | `operation/invalidDeviceID` |
//! | `MakeCall` from / to an unknown device | `operation/invalidCallingDeviceID` / `invalidCalledDeviceID` |
//! | a connection whose device has no part in the named call | `operation/invalidConnectionID` |
//! | directed pickup naming the picker itself | `operation/notDifferentDevices` |
//! | directed pickup of a call the picker is placing, or that rings at the picker too | `operation/invalidCallToBePickedUpObjectType` |
//! | directed pickup where nothing rings (or is held on a shared key) at the device | `stateIncompatibility/invalidConnectionState` |
//! | group pickup where nothing rings in the group | `stateIncompatibility/noCallToAnswer` |
//! | group pickup with no `pickGroup` by a station without a pickup group | `operation/atLeastOneConditionalParameterNotProvided` |
//! | `pickGroup` that is no group of this switch | `operation/invalidPickUpDeviceID` |
//! | `pickGroup` not among the picker's pickup groups, without the right to pick other groups | `operation/privilegeViolationPickUpDevice` |
//! | taking a call held with private hold at another station | `operation/privilegeViolationHeldDevice` |
//! | a station that already has a connected call answers, retrieves, picks up or calls | `stateIncompatibility/connectedCallExists` |
//! | answer of a connection that is not alerting | `stateIncompatibility/invalidConnectionState` |
//! | hold of a connection that is not connected | `stateIncompatibility/invalidConnectionState` |
//! | retrieve with no held call to take | `stateIncompatibility/noHeldCall` |
//! | an incoming call on a trunk that already carries a call | `systemResourceAvailability/resourceBusy` |
//!
//! A pickup whose call was taken a moment earlier by someone else fails with
//! the state error, never with an unknown-object error, so racing pickups
//! read as "nothing to pick up" for all but the winner.

use pickupd_hw::csta::enums::{OperationError, StateIncompatibilityError, SystemResourceError};
use pickupd_hw::csta::{
    CallEvent, CallId, ConnectionCleared, ConnectionId, CstaError, Delivered, DeviceId, Diverted,
    Established, EventCause, EventDevice, Held, LocalConnectionState, Originated, Request,
    Response, Retrieved,
};
use std::collections::BTreeMap;
use std::fmt;

/// A station (a desk telephone) of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationConfig {
    /// Its device id (extension number), e.g. `"201"`.
    pub device: String,
    /// Groups in which a call ringing here can be picked up.
    pub call_groups: Vec<String>,
    /// Groups whose ringing calls this station may pick up.
    pub pickup_groups: Vec<String>,
    /// Whether `GroupPickupCall` may name a group outside `pickup_groups`.
    pub pickup_other_groups: bool,
    /// Private hold (`hold = "private"`): a call this station holds on a
    /// line key cannot be taken at another appearance.
    pub private_hold: bool,
}

impl StationConfig {
    /// A station in no group, with open hold.
    pub fn new(device: impl Into<String>) -> Self {
        StationConfig {
            device: device.into(),
            call_groups: Vec::new(),
            pickup_groups: Vec::new(),
            pickup_other_groups: false,
            private_hold: false,
        }
    }

    /// Sets the call groups.
    pub fn call_groups(mut self, groups: &[&str]) -> Self {
        self.call_groups = groups.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    /// Sets the pickup groups.
    pub fn pickup_groups(mut self, groups: &[&str]) -> Self {
        self.pickup_groups = groups.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    /// Allows picking up in groups outside the pickup groups.
    pub fn pickup_other_groups(mut self, yes: bool) -> Self {
        self.pickup_other_groups = yes;
        self
    }

    /// Makes hold private.
    pub fn private_hold(mut self, yes: bool) -> Self {
        self.private_hold = yes;
        self
    }
}

/// An outside line of the site: its number is its device id, and its line
/// key appears on the stations in `appearances` (bridged-exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkConfig {
    /// Its number and device id, e.g. `"5550100"`.
    pub number: String,
    /// Groups in which a call ringing on this trunk can be picked up.
    pub call_groups: Vec<String>,
    /// Stations with a line key for this trunk.
    pub appearances: Vec<String>,
}

impl TrunkConfig {
    /// A trunk without groups or appearances.
    pub fn new(number: impl Into<String>) -> Self {
        TrunkConfig {
            number: number.into(),
            call_groups: Vec::new(),
            appearances: Vec::new(),
        }
    }

    /// Sets the call groups.
    pub fn call_groups(mut self, groups: &[&str]) -> Self {
        self.call_groups = groups.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    /// Sets the stations with a line key for this trunk.
    pub fn appearances(mut self, stations: &[&str]) -> Self {
        self.appearances = stations.iter().map(|s| (*s).to_owned()).collect();
        self
    }
}

/// The whole site: what the switch is administered with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SiteConfig {
    /// The stations.
    pub stations: Vec<StationConfig>,
    /// The trunks.
    pub trunks: Vec<TrunkConfig>,
}

impl SiteConfig {
    /// The built-in simulated site of site.md: desks 201–205 and trunks
    /// 5550100 (sales) and 5550101 (support), both on every desk's keys.
    pub fn builtin() -> Self {
        let desks = ["201", "202", "203", "204", "205"];
        SiteConfig {
            stations: vec![
                StationConfig::new("201")
                    .call_groups(&["sales"])
                    .pickup_groups(&["sales"])
                    .pickup_other_groups(true),
                StationConfig::new("202")
                    .call_groups(&["sales"])
                    .pickup_groups(&["sales"]),
                StationConfig::new("203")
                    .call_groups(&["sales"])
                    .pickup_groups(&["sales", "support"]),
                StationConfig::new("204")
                    .call_groups(&["support"])
                    .pickup_groups(&["support"]),
                StationConfig::new("205")
                    .call_groups(&["support"])
                    .pickup_groups(&["support"])
                    .pickup_other_groups(true),
            ],
            trunks: vec![
                TrunkConfig::new("5550100")
                    .call_groups(&["sales"])
                    .appearances(&desks),
                TrunkConfig::new("5550101")
                    .call_groups(&["support"])
                    .appearances(&desks),
            ],
        }
    }
}

/// Why a [`SiteConfig`] cannot be administered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteError(pub String);

impl fmt::Display for SiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SiteError {}

/// Where an incoming trunk call rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ring {
    /// At one station.
    Station(String),
    /// At every station that has the group among its call groups.
    Group(String),
    /// At every station with a line key for the trunk.
    Appearances,
}

/// The state of one device's connection to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnState {
    /// Ringing.
    Alerting,
    /// Talking (also the caller's side while its call rings elsewhere).
    Connected,
    /// On hold.
    Held,
}

impl ConnState {
    /// The CSTA `LocalConnectionState` of this state.
    pub fn local(self) -> LocalConnectionState {
        match self {
            ConnState::Alerting => LocalConnectionState::Alerting,
            ConnState::Connected => LocalConnectionState::Connected,
            ConnState::Held => LocalConnectionState::Hold,
        }
    }
}

/// An event for the monitors of one device. The same event goes to every
/// device in the call, each copy with that device's own
/// `localConnectionInfo` (`null` once it has left the call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted {
    /// The device whose monitors get the event.
    pub device: DeviceId,
    /// The event.
    pub event: CallEvent,
}

/// One connection of a call, as [`Switch::calls`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionView {
    /// The device.
    pub device: DeviceId,
    /// Its state.
    pub state: ConnState,
}

/// One call, as [`Switch::calls`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallView {
    /// The call id.
    pub call_id: CallId,
    /// The calling device (trunk number of an incoming call, or station).
    pub origin: DeviceId,
    /// The caller's number as presented (the trunk's caller id, or the
    /// calling station).
    pub calling: EventDevice,
    /// The device originally called.
    pub called: DeviceId,
    /// The trunk carrying the call, if any.
    pub trunk: Option<DeviceId>,
    /// Connections in the order they joined.
    pub connections: Vec<ConnectionView>,
}

/// What the switch's services return: the positive answer and the events.
pub type Outcome = (Response, Vec<Emitted>);

type Result<T> = std::result::Result<T, CstaError>;

#[derive(Debug, Clone)]
struct Station {
    cfg: StationConfig,
}

#[derive(Debug, Clone)]
struct Trunk {
    cfg: TrunkConfig,
}

#[derive(Debug, Clone)]
struct Conn {
    device: DeviceId,
    state: ConnState,
    /// Logical time the connection entered its state (for "oldest").
    since: u64,
}

#[derive(Debug, Clone)]
struct Call {
    id: CallId,
    origin: DeviceId,
    calling: EventDevice,
    called: DeviceId,
    trunk: Option<DeviceId>,
    conns: Vec<Conn>,
}

impl Call {
    fn conn(&self, device: &DeviceId) -> Option<&Conn> {
        self.conns.iter().find(|c| &c.device == device)
    }

    fn conn_mut(&mut self, device: &DeviceId) -> Option<&mut Conn> {
        self.conns.iter_mut().find(|c| &c.device == device)
    }

    fn devices(&self) -> Vec<DeviceId> {
        self.conns.iter().map(|c| c.device.clone()).collect()
    }

    fn remove(&mut self, device: &DeviceId) {
        self.conns.retain(|c| &c.device != device);
    }

    fn connection_id(&self, device: &DeviceId) -> ConnectionId {
        ConnectionId {
            call_id: Some(self.id.clone()),
            device_id: Some(device.clone()),
        }
    }
}

fn op(e: OperationError) -> CstaError {
    CstaError::Operation(e)
}

fn state(e: StateIncompatibilityError) -> CstaError {
    CstaError::StateIncompatibility(e)
}

fn known(d: &DeviceId) -> EventDevice {
    EventDevice::Known(d.clone())
}

/// The emulated key system's switching function.
#[derive(Debug, Clone)]
pub struct Switch {
    stations: BTreeMap<DeviceId, Station>,
    trunks: BTreeMap<DeviceId, Trunk>,
    /// Calls by numeric id, so iteration is in creation order.
    calls: BTreeMap<u64, Call>,
    next_call: u64,
    now: u64,
}

impl Switch {
    /// Administers a site. Device ids must be unique and non-empty, and line
    /// keys must name stations of the site.
    pub fn new(site: SiteConfig) -> std::result::Result<Self, SiteError> {
        let mut stations = BTreeMap::new();
        let mut trunks = BTreeMap::new();
        for s in site.stations {
            let id = DeviceId::new(s.device.clone());
            if s.device.trim().is_empty() || stations.contains_key(&id) {
                return Err(SiteError(format!(
                    "station {:?}: empty or duplicate device id",
                    s.device
                )));
            }
            stations.insert(id, Station { cfg: s });
        }
        for t in site.trunks {
            let id = DeviceId::new(t.number.clone());
            if t.number.trim().is_empty() || trunks.contains_key(&id) || stations.contains_key(&id)
            {
                return Err(SiteError(format!(
                    "trunk {:?}: empty or duplicate device id",
                    t.number
                )));
            }
            if let Some(bad) = t
                .appearances
                .iter()
                .find(|a| !stations.contains_key(&DeviceId::new(a.as_str())))
            {
                return Err(SiteError(format!(
                    "trunk {}: line key on {bad:?}, which is no station",
                    t.number
                )));
            }
            trunks.insert(id, Trunk { cfg: t });
        }
        Ok(Switch {
            stations,
            trunks,
            calls: BTreeMap::new(),
            next_call: 1,
            now: 0,
        })
    }

    /// The built-in site ([`SiteConfig::builtin`]).
    pub fn builtin() -> Self {
        // Valid by construction (unique ids, keys on existing desks), so
        // this cannot fail; the unit tests administer it too.
        Self::new(SiteConfig::builtin()).expect("the built-in site is valid")
    }

    /// Whether `device` is a station or trunk of this switch (what
    /// `MonitorStart` accepts).
    pub fn has_device(&self, device: &DeviceId) -> bool {
        self.stations.contains_key(device) || self.trunks.contains_key(device)
    }

    /// Every call in progress, oldest first.
    pub fn calls(&self) -> Vec<CallView> {
        self.calls
            .values()
            .map(|c| CallView {
                call_id: c.id.clone(),
                origin: c.origin.clone(),
                calling: c.calling.clone(),
                called: c.called.clone(),
                trunk: c.trunk.clone(),
                connections: c
                    .conns
                    .iter()
                    .map(|k| ConnectionView {
                        device: k.device.clone(),
                        state: k.state,
                    })
                    .collect(),
            })
            .collect()
    }

    /// The state of `device`'s connection to `call`, if it has one.
    pub fn connection_state(&self, call: &CallId, device: &DeviceId) -> Option<ConnState> {
        let key = self.key_of(call)?;
        self.calls.get(&key)?.conn(device).map(|c| c.state)
    }

    /// Runs a call-control service (everything except `MonitorStart` and
    /// `MonitorStop`, which belong to the link, not to the switching
    /// function; those answer `operation/generic` here).
    pub fn request(&mut self, request: &Request) -> Result<Outcome> {
        self.now += 1;
        match request {
            Request::MakeCall {
                calling_device,
                called_directory_number,
            } => self.make_call(calling_device, called_directory_number),
            Request::AnswerCall {
                call_to_be_answered,
            } => self.answer_call(call_to_be_answered),
            Request::ClearConnection {
                connection_to_be_cleared,
                ..
            } => self.clear_connection(connection_to_be_cleared),
            Request::HoldCall { call_to_be_held } => self.hold_call(call_to_be_held),
            Request::RetrieveCall {
                call_to_be_retrieved,
            } => self.retrieve_call(call_to_be_retrieved),
            Request::DirectedPickupCall {
                call_to_be_picked_up,
                requesting_device,
            } => self.directed_pickup(call_to_be_picked_up, requesting_device),
            Request::GroupPickupCall {
                new_destination,
                pick_group,
            } => self.group_pickup(new_destination, pick_group.as_ref()),
            Request::MonitorStart { .. } | Request::MonitorStop { .. } => {
                Err(op(OperationError::Generic))
            }
        }
    }

    // -----------------------------------------------------------------
    // The outside world

    /// A call from the network arrives on `trunk` (caller id `calling`, if
    /// presented) and rings where `ring` says. Returns the new call's id and
    /// the `Delivered` events.
    pub fn incoming_call(
        &mut self,
        trunk: &str,
        calling: Option<&str>,
        ring: Ring,
    ) -> Result<(CallId, Vec<Emitted>)> {
        self.now += 1;
        let trunk_id = DeviceId::new(trunk);
        let Some(t) = self.trunks.get(&trunk_id) else {
            return Err(op(OperationError::InvalidDeviceID));
        };
        if self
            .calls
            .values()
            .any(|c| c.trunk.as_ref() == Some(&trunk_id))
        {
            return Err(CstaError::SystemResourceAvailability(
                SystemResourceError::ResourceBusy,
            ));
        }
        let targets: Vec<DeviceId> = match &ring {
            Ring::Station(s) => {
                let id = DeviceId::new(s.as_str());
                if !self.stations.contains_key(&id) {
                    return Err(op(OperationError::InvalidDeviceID));
                }
                vec![id]
            }
            Ring::Group(g) => self
                .stations
                .iter()
                .filter(|(_, s)| s.cfg.call_groups.iter().any(|c| c == g))
                .map(|(id, _)| id.clone())
                .collect(),
            Ring::Appearances => t
                .cfg
                .appearances
                .iter()
                .map(|a| DeviceId::new(a.as_str()))
                .collect(),
        };
        if targets.is_empty() {
            return Err(op(OperationError::InvalidDestination));
        }
        let id = self.new_call_id();
        let calling = calling
            .map(|c| EventDevice::Known(DeviceId::new(c)))
            .unwrap_or(EventDevice::NotKnown);
        let called = match &ring {
            Ring::Station(s) => DeviceId::new(s.as_str()),
            _ => trunk_id.clone(),
        };
        let mut conns = vec![Conn {
            device: trunk_id.clone(),
            state: ConnState::Connected,
            since: self.now,
        }];
        conns.extend(targets.iter().map(|d| Conn {
            device: d.clone(),
            state: ConnState::Alerting,
            since: self.now,
        }));
        let key = self.next_call - 1;
        self.calls.insert(
            key,
            Call {
                id: id.clone(),
                origin: trunk_id.clone(),
                calling,
                called,
                trunk: Some(trunk_id),
                conns,
            },
        );
        let mut out = Vec::new();
        for d in &targets {
            let call = &self.calls[&key];
            let ev = CallEvent::Delivered(Delivered {
                connection: call.connection_id(d),
                alerting_device: known(d),
                calling_device: Some(call.calling.clone()),
                called_device: Some(known(&call.called)),
                last_redirection_device: Some(EventDevice::NotRequired),
                local_connection_info: None,
                cause: Some(EventCause::NewCall),
            });
            self.emit(&mut out, key, &[], ev);
        }
        Ok((id, out))
    }

    /// The far end of `call` hangs up: the calling side (the trunk of an
    /// incoming call, or the calling station) leaves, which ends the call.
    pub fn far_end_hangup(&mut self, call: &CallId) -> Result<Vec<Emitted>> {
        self.now += 1;
        let key = self.key_of(call).ok_or(op(OperationError::InvalidCallID))?;
        let origin = self.calls[&key].origin.clone();
        let mut out = Vec::new();
        self.clear_and_teardown(&mut out, key, &origin, EventCause::NormalClearing);
        Ok(out)
    }

    // -----------------------------------------------------------------
    // Services

    fn make_call(&mut self, calling: &DeviceId, called: &DeviceId) -> Result<Outcome> {
        if !self.stations.contains_key(calling) {
            return Err(op(OperationError::InvalidCallingDeviceID));
        }
        if !self.stations.contains_key(called) {
            return Err(op(OperationError::InvalidCalledDeviceID));
        }
        if calling == called {
            return Err(op(OperationError::NotDifferentDevices));
        }
        self.ensure_idle(calling)?;
        let id = self.new_call_id();
        let key = self.next_call - 1;
        self.calls.insert(
            key,
            Call {
                id: id.clone(),
                origin: calling.clone(),
                calling: known(calling),
                called: called.clone(),
                trunk: None,
                conns: vec![Conn {
                    device: calling.clone(),
                    state: ConnState::Connected,
                    since: self.now,
                }],
            },
        );
        let mut out = Vec::new();
        let ev = CallEvent::Originated(Originated {
            originated_connection: self.calls[&key].connection_id(calling),
            calling_device: known(calling),
            called_device: Some(known(called)),
            local_connection_info: None,
            cause: Some(EventCause::NewCall),
        });
        self.emit(&mut out, key, &[], ev);
        let before = self.calls[&key].devices();
        let now = self.now;
        if let Some(c) = self.calls.get_mut(&key) {
            c.conns.push(Conn {
                device: called.clone(),
                state: ConnState::Alerting,
                since: now,
            });
        }
        let ev = CallEvent::Delivered(Delivered {
            connection: self.calls[&key].connection_id(called),
            alerting_device: known(called),
            calling_device: Some(known(calling)),
            called_device: Some(known(called)),
            last_redirection_device: Some(EventDevice::NotRequired),
            local_connection_info: None,
            cause: Some(EventCause::NewCall),
        });
        self.emit(&mut out, key, &before, ev);
        let response = Response::MakeCall {
            calling_device: ConnectionId {
                call_id: Some(id),
                device_id: Some(calling.clone()),
            },
        };
        Ok((response, out))
    }

    fn answer_call(&mut self, conn: &ConnectionId) -> Result<Outcome> {
        let (key, device) = self.resolve(conn)?;
        let st = self.calls[&key].conn(&device).map(|c| c.state);
        if st != Some(ConnState::Alerting) {
            return Err(state(StateIncompatibilityError::InvalidConnectionState));
        }
        self.ensure_idle(&device)?;
        let mut out = Vec::new();
        self.set_state(key, &device, ConnState::Connected);
        let call = &self.calls[&key];
        let ev = CallEvent::Established(Established {
            established_connection: call.connection_id(&device),
            answering_device: known(&device),
            calling_device: Some(call.calling.clone()),
            called_device: Some(known(&call.called)),
            last_redirection_device: Some(EventDevice::NotRequired),
            local_connection_info: None,
            cause: Some(EventCause::NewCall),
        });
        let before = call.devices();
        self.emit(&mut out, key, &before, ev);
        self.clear_other_alerting(&mut out, key, &device, EventCause::NormalClearing);
        Ok((Response::AnswerCall, out))
    }

    fn clear_connection(&mut self, conn: &ConnectionId) -> Result<Outcome> {
        let (key, device) = self.resolve(conn)?;
        let mut out = Vec::new();
        self.clear_and_teardown(&mut out, key, &device, EventCause::NormalClearing);
        Ok((Response::ClearConnection, out))
    }

    fn hold_call(&mut self, conn: &ConnectionId) -> Result<Outcome> {
        let (key, device) = self.resolve(conn)?;
        if self.calls[&key].conn(&device).map(|c| c.state) != Some(ConnState::Connected)
            || !self.stations.contains_key(&device)
        {
            return Err(state(StateIncompatibilityError::InvalidConnectionState));
        }
        let mut out = Vec::new();
        self.set_state(key, &device, ConnState::Held);
        let call = &self.calls[&key];
        let ev = CallEvent::Held(Held {
            held_connection: call.connection_id(&device),
            holding_device: known(&device),
            local_connection_info: None,
            cause: Some(EventCause::Normal),
        });
        let before = call.devices();
        self.emit(&mut out, key, &before, ev);
        Ok((Response::HoldCall, out))
    }

    fn retrieve_call(&mut self, conn: &ConnectionId) -> Result<Outcome> {
        let device = conn
            .device_id
            .clone()
            .ok_or(op(OperationError::InvalidConnectionID))?;
        if !self.stations.contains_key(&device) {
            return Err(op(OperationError::InvalidDeviceID));
        }
        let key = conn.call_id.as_ref().and_then(|c| self.key_of(c));
        let own_held =
            key.filter(|k| self.calls[k].conn(&device).map(|c| c.state) == Some(ConnState::Held));
        if let Some(key) = own_held {
            self.ensure_idle(&device)?;
            let mut out = Vec::new();
            self.set_state(key, &device, ConnState::Connected);
            let call = &self.calls[&key];
            let ev = CallEvent::Retrieved(Retrieved {
                retrieved_connection: call.connection_id(&device),
                retrieving_device: known(&device),
                local_connection_info: None,
                cause: Some(EventCause::Normal),
            });
            let before = call.devices();
            self.emit(&mut out, key, &before, ev);
            return Ok((Response::RetrieveCall, out));
        }
        // Not held here: the line key of another station ("transfer
        // through hold").
        let Some(key) = key.filter(|k| self.calls[k].conn(&device).is_none()) else {
            return Err(state(StateIncompatibilityError::NoHeldCall));
        };
        let holder = self
            .bridged_holder(key, &device)?
            .ok_or(state(StateIncompatibilityError::NoHeldCall))?;
        let out = self.take_held(key, &holder, &device)?;
        Ok((Response::RetrieveCall, out))
    }

    fn directed_pickup(&mut self, target: &ConnectionId, picker: &DeviceId) -> Result<Outcome> {
        if !self.stations.contains_key(picker) {
            return Err(op(OperationError::InvalidDeviceID));
        }
        let device = target
            .device_id
            .clone()
            .ok_or(op(OperationError::InvalidConnectionID))?;
        if !self.stations.contains_key(&device) {
            return Err(op(OperationError::InvalidConnectionID));
        }
        if &device == picker {
            return Err(op(OperationError::NotDifferentDevices));
        }
        let nothing = state(StateIncompatibilityError::InvalidConnectionState);
        let key = match &target.call_id {
            Some(c) => self.key_of(c).ok_or(nothing.clone())?,
            None => {
                // The oldest call alerting (or held on a shared key) at
                // the device.
                self.calls
                    .iter()
                    .filter_map(|(k, c)| {
                        let conn = c.conn(&device)?;
                        let ok = conn.state == ConnState::Alerting
                            || (conn.state == ConnState::Held && c.trunk.is_some());
                        ok.then_some((conn.since, *k))
                    })
                    .min()
                    .map(|(_, k)| k)
                    .ok_or(nothing.clone())?
            }
        };
        if self.calls[&key].conn(picker).is_some() {
            // It rings (or is held, or talks) at the picker itself.
            return Err(op(OperationError::InvalidCallToBePickedUpObjectType));
        }
        let st = self.calls[&key].conn(&device).map(|c| c.state);
        match st {
            Some(ConnState::Alerting) => {
                if &self.calls[&key].origin == picker {
                    return Err(op(OperationError::InvalidCallToBePickedUpObjectType));
                }
                self.ensure_idle(picker)?;
                let out = self.pick_alerting(key, &device, picker);
                let response = Response::DirectedPickupCall {
                    picked_call: Some(self.calls[&key].connection_id(picker)),
                };
                Ok((response, out))
            }
            Some(ConnState::Held) => {
                if self.bridged_holder(key, picker)?.as_ref() != Some(&device) {
                    return Err(nothing);
                }
                let out = self.take_held(key, &device, picker)?;
                let response = Response::DirectedPickupCall {
                    picked_call: Some(self.calls[&key].connection_id(picker)),
                };
                Ok((response, out))
            }
            _ => Err(nothing),
        }
    }

    fn group_pickup(&mut self, picker: &DeviceId, group: Option<&DeviceId>) -> Result<Outcome> {
        let Some(station) = self.stations.get(picker) else {
            return Err(op(OperationError::InvalidDeviceID));
        };
        let groups: Vec<String> = match group {
            Some(g) => {
                let g = g.as_str();
                if !self.group_exists(g) {
                    return Err(op(OperationError::InvalidPickUpDeviceID));
                }
                if !station.cfg.pickup_other_groups
                    && !station.cfg.pickup_groups.iter().any(|p| p == g)
                {
                    return Err(op(OperationError::PrivilegeViolationPickUpDevice));
                }
                vec![g.to_owned()]
            }
            None if station.cfg.pickup_groups.is_empty() => {
                return Err(op(
                    OperationError::AtLeastOneConditionalParameterNotProvided,
                ));
            }
            None => station.cfg.pickup_groups.clone(),
        };
        // The oldest alerting connection in one of the groups, in a call
        // that neither rings at nor was placed by the picker.
        let found = self
            .calls
            .iter()
            .filter(|(_, c)| &c.origin != picker && c.conn(picker).is_none())
            .flat_map(|(k, c)| {
                let trunk_groups = c
                    .trunk
                    .as_ref()
                    .and_then(|t| self.trunks.get(t))
                    .map(|t| t.cfg.call_groups.as_slice())
                    .unwrap_or(&[]);
                c.conns
                    .iter()
                    .filter(|conn| conn.state == ConnState::Alerting)
                    .filter(|conn| {
                        let station_groups = self
                            .stations
                            .get(&conn.device)
                            .map(|s| s.cfg.call_groups.as_slice())
                            .unwrap_or(&[]);
                        groups
                            .iter()
                            .any(|g| station_groups.contains(g) || trunk_groups.contains(g))
                    })
                    .map(move |conn| (conn.since, *k, conn.device.clone()))
            })
            .min();
        let Some((_, key, device)) = found else {
            return Err(state(StateIncompatibilityError::NoCallToAnswer));
        };
        self.ensure_idle(picker)?;
        let out = self.pick_alerting(key, &device, picker);
        let response = Response::GroupPickupCall {
            picked_call: Some(self.calls[&key].connection_id(picker)),
        };
        Ok((response, out))
    }

    // -----------------------------------------------------------------
    // Building blocks

    fn new_call_id(&mut self) -> CallId {
        let id = CallId::new(self.next_call.to_string());
        self.next_call += 1;
        id
    }

    fn key_of(&self, call: &CallId) -> Option<u64> {
        let key: u64 = call.as_str().parse().ok()?;
        self.calls.contains_key(&key).then_some(key)
    }

    fn group_exists(&self, group: &str) -> bool {
        self.stations.values().any(|s| {
            s.cfg.call_groups.iter().any(|g| g == group)
                || s.cfg.pickup_groups.iter().any(|g| g == group)
        }) || self
            .trunks
            .values()
            .any(|t| t.cfg.call_groups.iter().any(|g| g == group))
    }

    /// The call and device of a connection naming an existing connection.
    fn resolve(&self, conn: &ConnectionId) -> Result<(u64, DeviceId)> {
        let device = conn
            .device_id
            .clone()
            .ok_or(op(OperationError::InvalidConnectionID))?;
        if !self.has_device(&device) {
            return Err(op(OperationError::InvalidDeviceID));
        }
        let key = conn
            .call_id
            .as_ref()
            .and_then(|c| self.key_of(c))
            .ok_or(op(OperationError::InvalidConnectionID))?;
        if self.calls[&key].conn(&device).is_none() {
            return Err(op(OperationError::InvalidConnectionID));
        }
        Ok((key, device))
    }

    /// A station may talk on one call at a time.
    fn ensure_idle(&self, device: &DeviceId) -> Result<()> {
        let busy = self.calls.values().any(|c| {
            c.conn(device)
                .is_some_and(|k| k.state == ConnState::Connected)
        });
        if busy {
            Err(state(StateIncompatibilityError::ConnectedCallExists))
        } else {
            Ok(())
        }
    }

    /// The station holding trunk call `key` on a line key that `picker` also
    /// has, if any (checking private hold).
    fn bridged_holder(&self, key: u64, picker: &DeviceId) -> Result<Option<DeviceId>> {
        let call = &self.calls[&key];
        let Some(trunk) = call.trunk.as_ref().and_then(|t| self.trunks.get(t)) else {
            return Ok(None);
        };
        if !trunk.cfg.appearances.iter().any(|a| a == picker.as_str()) {
            return Ok(None);
        }
        let Some(holder) = call
            .conns
            .iter()
            .find(|c| c.state == ConnState::Held && &c.device != picker)
        else {
            return Ok(None);
        };
        if !trunk
            .cfg
            .appearances
            .iter()
            .any(|a| a == holder.device.as_str())
        {
            return Ok(None);
        }
        if self
            .stations
            .get(&holder.device)
            .is_some_and(|s| s.cfg.private_hold)
        {
            return Err(op(OperationError::PrivilegeViolationHeldDevice));
        }
        Ok(Some(holder.device.clone()))
    }

    /// Transfer through hold: `picker` takes trunk call `key` held at
    /// `holder`.
    fn take_held(
        &mut self,
        key: u64,
        holder: &DeviceId,
        picker: &DeviceId,
    ) -> Result<Vec<Emitted>> {
        self.ensure_idle(picker)?;
        let mut out = Vec::new();
        let before = self.calls[&key].devices();
        let now = self.now;
        if let Some(c) = self.calls.get_mut(&key) {
            c.conns.push(Conn {
                device: picker.clone(),
                state: ConnState::Connected,
                since: now,
            });
        }
        let call = &self.calls[&key];
        let ev = CallEvent::Retrieved(Retrieved {
            retrieved_connection: call.connection_id(picker),
            retrieving_device: known(picker),
            local_connection_info: None,
            cause: Some(EventCause::CallPickup),
        });
        self.emit(&mut out, key, &before, ev);
        let before = self.calls[&key].devices();
        let dropped = self.calls[&key].connection_id(holder);
        if let Some(c) = self.calls.get_mut(&key) {
            c.remove(holder);
        }
        let ev = CallEvent::ConnectionCleared(ConnectionCleared {
            dropped_connection: dropped,
            releasing_device: known(holder),
            local_connection_info: None,
            cause: Some(EventCause::CallPickup),
        });
        self.emit(&mut out, key, &before, ev);
        Ok(out)
    }

    /// `picker` takes call `key` alerting at `device` (checked by callers).
    fn pick_alerting(&mut self, key: u64, device: &DeviceId, picker: &DeviceId) -> Vec<Emitted> {
        let mut out = Vec::new();
        let before = self.calls[&key].devices();
        let diverted = self.calls[&key].connection_id(device);
        let now = self.now;
        if let Some(c) = self.calls.get_mut(&key) {
            c.remove(device);
            c.conns.push(Conn {
                device: picker.clone(),
                state: ConnState::Connected,
                since: now,
            });
        }
        let call = &self.calls[&key];
        let ev = CallEvent::Diverted(Diverted {
            connection: diverted,
            diverting_device: known(device),
            new_destination: known(picker),
            calling_device: Some(call.calling.clone()),
            called_device: Some(known(&call.called)),
            last_redirection_device: Some(EventDevice::NotRequired),
            local_connection_info: None,
            cause: Some(EventCause::CallPickup),
        });
        self.emit(&mut out, key, &before, ev);
        let call = &self.calls[&key];
        let ev = CallEvent::Established(Established {
            established_connection: call.connection_id(picker),
            answering_device: known(picker),
            calling_device: Some(call.calling.clone()),
            called_device: Some(known(&call.called)),
            last_redirection_device: Some(known(device)),
            local_connection_info: None,
            cause: Some(EventCause::CallPickup),
        });
        let now_devices = call.devices();
        self.emit(&mut out, key, &now_devices, ev);
        self.clear_other_alerting(&mut out, key, picker, EventCause::CallPickup);
        out
    }

    fn set_state(&mut self, key: u64, device: &DeviceId, st: ConnState) {
        let now = self.now;
        if let Some(c) = self.calls.get_mut(&key).and_then(|c| c.conn_mut(device)) {
            c.state = st;
            c.since = now;
        }
    }

    /// Stops the call ringing anywhere but at `keep`.
    fn clear_other_alerting(
        &mut self,
        out: &mut Vec<Emitted>,
        key: u64,
        keep: &DeviceId,
        cause: EventCause,
    ) {
        let ringing: Vec<DeviceId> = self.calls[&key]
            .conns
            .iter()
            .filter(|c| c.state == ConnState::Alerting && &c.device != keep)
            .map(|c| c.device.clone())
            .collect();
        for d in ringing {
            self.clear_one(out, key, &d, cause.clone());
        }
    }

    fn clear_one(
        &mut self,
        out: &mut Vec<Emitted>,
        key: u64,
        device: &DeviceId,
        cause: EventCause,
    ) {
        let before = self.calls[&key].devices();
        let dropped = self.calls[&key].connection_id(device);
        if let Some(c) = self.calls.get_mut(&key) {
            c.remove(device);
        }
        let ev = CallEvent::ConnectionCleared(ConnectionCleared {
            dropped_connection: dropped,
            releasing_device: known(device),
            local_connection_info: None,
            cause: Some(cause),
        });
        self.emit(out, key, &before, ev);
    }

    /// `device` leaves call `key`; when the calling side leaves, or nobody
    /// is left for it, the call ends and every other connection is cleared.
    fn clear_and_teardown(
        &mut self,
        out: &mut Vec<Emitted>,
        key: u64,
        device: &DeviceId,
        cause: EventCause,
    ) {
        self.clear_one(out, key, device, cause.clone());
        let call = &self.calls[&key];
        let origin_gone = call.conn(&call.origin).is_none();
        let others = call
            .conns
            .iter()
            .filter(|c| c.device != call.origin)
            .count();
        if origin_gone || others == 0 {
            let rest = call.devices();
            for d in rest {
                self.clear_one(out, key, &d, cause.clone());
            }
            self.calls.remove(&key);
        }
    }

    /// Sends `event` to every device in call `key` now or in `before`
    /// (the devices in the call before the step), each copy with that
    /// device's `localConnectionInfo`.
    fn emit(&self, out: &mut Vec<Emitted>, key: u64, before: &[DeviceId], event: CallEvent) {
        let call = &self.calls[&key];
        let mut recipients: Vec<DeviceId> = before.to_vec();
        for d in call.devices() {
            if !recipients.contains(&d) {
                recipients.push(d);
            }
        }
        // The subject of a Diverted event (the new destination) learns of
        // its pickup too.
        if let CallEvent::Diverted(d) = &event {
            if let Some(dest) = d.new_destination.device() {
                if !recipients.contains(dest) {
                    recipients.push(dest.clone());
                }
            }
        }
        for device in recipients {
            let local = call
                .conn(&device)
                .map(|c| c.state.local())
                .unwrap_or(LocalConnectionState::Null);
            let mut event = event.clone();
            set_local(&mut event, local);
            out.push(Emitted { device, event });
        }
    }
}

fn set_local(event: &mut CallEvent, local: LocalConnectionState) {
    let slot = match event {
        CallEvent::Delivered(e) => &mut e.local_connection_info,
        CallEvent::Established(e) => &mut e.local_connection_info,
        CallEvent::Held(e) => &mut e.local_connection_info,
        CallEvent::Retrieved(e) => &mut e.local_connection_info,
        CallEvent::Diverted(e) => &mut e.local_connection_info,
        CallEvent::ConnectionCleared(e) => &mut e.local_connection_info,
        CallEvent::Originated(e) => &mut e.local_connection_info,
        CallEvent::Failed(e) => &mut e.local_connection_info,
    };
    *slot = Some(local);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(d: &str) -> DeviceId {
        DeviceId::new(d)
    }

    fn conn(call: &CallId, d: &str) -> ConnectionId {
        ConnectionId::new(call.as_str(), d)
    }

    /// The (device, event name, cause) triples, for sequence assertions.
    fn summary(events: &[Emitted]) -> Vec<(String, &'static str, Option<String>)> {
        events
            .iter()
            .map(|e| {
                (
                    e.device.as_str().to_owned(),
                    e.event.name(),
                    e.event.cause().map(|c| c.as_str().to_owned()),
                )
            })
            .collect()
    }

    fn at<'a>(events: &'a [Emitted], device: &str) -> Vec<&'a CallEvent> {
        events
            .iter()
            .filter(|e| e.device.as_str() == device)
            .map(|e| &e.event)
            .collect()
    }

    fn ring_202(sw: &mut Switch) -> CallId {
        let (call, events) = sw
            .incoming_call("5550100", Some("5551234"), Ring::Station("202".into()))
            .expect("trunk is free");
        let delivered = at(&events, "202");
        assert_eq!(delivered.len(), 1);
        let CallEvent::Delivered(d) = delivered[0] else {
            panic!("expected Delivered, got {:?}", delivered[0]);
        };
        assert_eq!(d.alerting_device, EventDevice::Known(dev("202")));
        assert_eq!(d.calling_device, Some(EventDevice::Known(dev("5551234"))));
        assert_eq!(
            d.local_connection_info,
            Some(LocalConnectionState::Alerting)
        );
        assert_eq!(d.cause, Some(EventCause::NewCall));
        call
    }

    #[test]
    fn builtin_site_is_valid() {
        let sw = Switch::new(SiteConfig::builtin()).expect("valid site");
        for d in ["201", "202", "203", "204", "205", "5550100", "5550101"] {
            assert!(sw.has_device(&dev(d)), "{d}");
        }
        assert!(!sw.has_device(&dev("299")));
    }

    #[test]
    fn site_errors() {
        let dup = SiteConfig {
            stations: vec![StationConfig::new("201"), StationConfig::new("201")],
            trunks: vec![],
        };
        assert!(Switch::new(dup).is_err());
        let bad_key = SiteConfig {
            stations: vec![StationConfig::new("201")],
            trunks: vec![TrunkConfig::new("555").appearances(&["209"])],
        };
        assert!(Switch::new(bad_key).is_err());
    }

    #[test]
    fn directed_pickup_moves_the_call_with_call_pickup_cause() {
        let mut sw = Switch::builtin();
        let call = ring_202(&mut sw);
        let (resp, events) = sw
            .request(&Request::DirectedPickupCall {
                call_to_be_picked_up: conn(&call, "202"),
                requesting_device: dev("201"),
            })
            .expect("pickup succeeds");
        assert_eq!(
            resp,
            Response::DirectedPickupCall {
                picked_call: Some(conn(&call, "201"))
            }
        );
        let pickup = Some("callPickup".to_owned());
        assert_eq!(
            summary(&events),
            vec![
                ("5550100".into(), "DivertedEvent", pickup.clone()),
                ("202".into(), "DivertedEvent", pickup.clone()),
                ("201".into(), "DivertedEvent", pickup.clone()),
                ("5550100".into(), "EstablishedEvent", pickup.clone()),
                ("201".into(), "EstablishedEvent", pickup.clone()),
            ]
        );
        let CallEvent::Established(e) = at(&events, "201")[1] else {
            panic!("expected Established at 201");
        };
        assert_eq!(e.answering_device, EventDevice::Known(dev("201")));
        assert_eq!(
            e.last_redirection_device,
            Some(EventDevice::Known(dev("202")))
        );
        assert_eq!(
            e.local_connection_info,
            Some(LocalConnectionState::Connected)
        );
        // 202 sees its connection gone.
        assert_eq!(
            at(&events, "202")[0].local_connection_info(),
            Some(&LocalConnectionState::Null)
        );
        assert_eq!(
            sw.connection_state(&call, &dev("201")),
            Some(ConnState::Connected)
        );
        assert_eq!(sw.connection_state(&call, &dev("202")), None);
        // The same call id is kept.
        assert_eq!(sw.calls().len(), 1);
        assert_eq!(sw.calls()[0].call_id, call);
    }

    #[test]
    fn directed_pickup_refusals() {
        let mut sw = Switch::builtin();
        let pick = |sw: &mut Switch, target: ConnectionId, picker: &str| {
            sw.request(&Request::DirectedPickupCall {
                call_to_be_picked_up: target,
                requesting_device: dev(picker),
            })
            .map(|_| ())
        };
        // Nothing rings at 202.
        let nothing = Err(CstaError::StateIncompatibility(
            StateIncompatibilityError::InvalidConnectionState,
        ));
        let no_call = ConnectionId {
            call_id: None,
            device_id: Some(dev("202")),
        };
        assert_eq!(pick(&mut sw, no_call.clone(), "201"), nothing);
        assert_eq!(
            pick(&mut sw, no_call.clone(), "299"),
            Err(op(OperationError::InvalidDeviceID))
        );
        assert_eq!(
            pick(&mut sw, ConnectionId::new("1", "299"), "201"),
            Err(op(OperationError::InvalidConnectionID))
        );
        let call = ring_202(&mut sw);
        assert_eq!(
            pick(&mut sw, conn(&call, "202"), "202"),
            Err(op(OperationError::NotDifferentDevices))
        );
        // Without a call id: the call ringing there.
        assert_eq!(pick(&mut sw, no_call, "203"), Ok(()));
        // Someone else was quicker: a state error, not an unknown object.
        assert_eq!(pick(&mut sw, conn(&call, "202"), "201"), nothing);
        // A connected call is not pickable.
        assert_eq!(pick(&mut sw, conn(&call, "203"), "201"), nothing);
    }

    #[test]
    fn own_outgoing_call_is_not_pickable_and_station_calls_work() {
        let mut sw = Switch::builtin();
        let (resp, events) = sw
            .request(&Request::MakeCall {
                calling_device: dev("201"),
                called_directory_number: dev("202"),
            })
            .expect("call placed");
        let Response::MakeCall { calling_device } = resp else {
            panic!("expected MakeCall response");
        };
        let call = calling_device.call_id.clone().expect("call id");
        assert_eq!(
            summary(&events),
            vec![
                ("201".into(), "OriginatedEvent", Some("newCall".into())),
                ("201".into(), "DeliveredEvent", Some("newCall".into())),
                ("202".into(), "DeliveredEvent", Some("newCall".into())),
            ]
        );
        assert_eq!(
            sw.request(&Request::DirectedPickupCall {
                call_to_be_picked_up: conn(&call, "202"),
                requesting_device: dev("201"),
            }),
            Err(op(OperationError::InvalidCallToBePickedUpObjectType))
        );
        let (_, events) = sw
            .request(&Request::AnswerCall {
                call_to_be_answered: conn(&call, "202"),
            })
            .expect("answered");
        assert_eq!(
            summary(&events),
            vec![
                ("201".into(), "EstablishedEvent", Some("newCall".into())),
                ("202".into(), "EstablishedEvent", Some("newCall".into())),
            ]
        );
        // Hanging up one side ends the call for both.
        let (_, events) = sw
            .request(&Request::ClearConnection {
                connection_to_be_cleared: conn(&call, "202"),
                reason: None,
            })
            .expect("cleared");
        assert_eq!(
            summary(&events),
            vec![
                (
                    "201".into(),
                    "ConnectionClearedEvent",
                    Some("normalClearing".into())
                ),
                (
                    "202".into(),
                    "ConnectionClearedEvent",
                    Some("normalClearing".into())
                ),
                (
                    "201".into(),
                    "ConnectionClearedEvent",
                    Some("normalClearing".into())
                ),
            ]
        );
        assert!(sw.calls().is_empty());
    }

    #[test]
    fn group_pickup_takes_the_oldest_call_in_the_group() {
        let mut sw = Switch::builtin();
        let (support, _) = sw
            .incoming_call("5550101", None, Ring::Station("204".into()))
            .expect("rings");
        let sales = ring_202(&mut sw);
        // 203 picks sales and support: the support call is older.
        let (resp, events) = sw
            .request(&Request::GroupPickupCall {
                new_destination: dev("203"),
                pick_group: None,
            })
            .expect("picked");
        assert_eq!(
            resp,
            Response::GroupPickupCall {
                picked_call: Some(conn(&support, "203"))
            }
        );
        assert!(events.iter().all(|e| e.event.is_pickup()));
        // 201 (sales) gets the sales call.
        let (resp, _) = sw
            .request(&Request::GroupPickupCall {
                new_destination: dev("201"),
                pick_group: None,
            })
            .expect("picked");
        assert_eq!(
            resp,
            Response::GroupPickupCall {
                picked_call: Some(conn(&sales, "201"))
            }
        );
        // Nothing rings any more.
        assert_eq!(
            sw.request(&Request::GroupPickupCall {
                new_destination: dev("202"),
                pick_group: None,
            }),
            Err(CstaError::StateIncompatibility(
                StateIncompatibilityError::NoCallToAnswer
            ))
        );
    }

    #[test]
    fn group_pickup_refusals_and_other_groups() {
        let mut sw = Switch::builtin();
        let _ = sw
            .incoming_call("5550101", None, Ring::Station("204".into()))
            .expect("rings");
        let group = |sw: &mut Switch, picker: &str, g: Option<&str>| {
            sw.request(&Request::GroupPickupCall {
                new_destination: dev(picker),
                pick_group: g.map(dev),
            })
            .map(|_| ())
        };
        // 202 is in sales only and may not pick other groups.
        assert_eq!(
            group(&mut sw, "202", Some("support")),
            Err(op(OperationError::PrivilegeViolationPickUpDevice))
        );
        assert_eq!(
            group(&mut sw, "202", None),
            Err(CstaError::StateIncompatibility(
                StateIncompatibilityError::NoCallToAnswer
            ))
        );
        assert_eq!(
            group(&mut sw, "201", Some("nosuchgroup")),
            Err(op(OperationError::InvalidPickUpDeviceID))
        );
        assert_eq!(
            group(&mut sw, "299", None),
            Err(op(OperationError::InvalidDeviceID))
        );
        // 201 may pick other groups.
        assert_eq!(group(&mut sw, "201", Some("support")), Ok(()));
    }

    #[test]
    fn group_ring_stops_everywhere_on_pickup() {
        let mut sw = Switch::builtin();
        let (call, events) = sw
            .incoming_call("5550101", None, Ring::Group("support".into()))
            .expect("rings");
        assert_eq!(at(&events, "204").len(), 2, "two Delivered, both seen");
        let (_, events) = sw
            .request(&Request::GroupPickupCall {
                new_destination: dev("203"),
                pick_group: None,
            })
            .expect("picked");
        let names: Vec<_> = summary(&events)
            .into_iter()
            .filter(|(d, _, _)| d == "203")
            .map(|(_, n, _)| n)
            .collect();
        assert_eq!(
            names,
            vec![
                "DivertedEvent",
                "EstablishedEvent",
                "ConnectionClearedEvent"
            ]
        );
        assert!(events.iter().all(|e| e.event.is_pickup()));
        let view = &sw.calls()[0];
        assert_eq!(view.call_id, call);
        assert_eq!(
            view.connections
                .iter()
                .map(|c| (c.device.as_str(), c.state))
                .collect::<Vec<_>>(),
            vec![
                ("5550101", ConnState::Connected),
                ("203", ConnState::Connected)
            ]
        );
    }

    #[test]
    fn transfer_through_hold_on_a_bridged_line_key() {
        let mut sw = Switch::builtin();
        let call = ring_202(&mut sw);
        sw.request(&Request::AnswerCall {
            call_to_be_answered: conn(&call, "202"),
        })
        .expect("answered");
        // Bridged-exclusive: while 202 talks, nobody else can take it.
        assert_eq!(
            sw.request(&Request::RetrieveCall {
                call_to_be_retrieved: conn(&call, "203"),
            })
            .map(|_| ()),
            Err(CstaError::StateIncompatibility(
                StateIncompatibilityError::NoHeldCall
            ))
        );
        let (_, events) = sw
            .request(&Request::HoldCall {
                call_to_be_held: conn(&call, "202"),
            })
            .expect("held");
        assert_eq!(
            summary(&events),
            vec![
                ("5550100".into(), "HeldEvent", Some("normal".into())),
                ("202".into(), "HeldEvent", Some("normal".into())),
            ]
        );
        let (_, events) = sw
            .request(&Request::RetrieveCall {
                call_to_be_retrieved: conn(&call, "203"),
            })
            .expect("taken at 203");
        let pickup = Some("callPickup".to_owned());
        assert_eq!(
            summary(&events),
            vec![
                ("5550100".into(), "RetrievedEvent", pickup.clone()),
                ("202".into(), "RetrievedEvent", pickup.clone()),
                ("203".into(), "RetrievedEvent", pickup.clone()),
                ("5550100".into(), "ConnectionClearedEvent", pickup.clone()),
                ("202".into(), "ConnectionClearedEvent", pickup.clone()),
                ("203".into(), "ConnectionClearedEvent", pickup.clone()),
            ]
        );
        assert_eq!(
            sw.connection_state(&call, &dev("203")),
            Some(ConnState::Connected)
        );
        assert_eq!(sw.connection_state(&call, &dev("202")), None);
        // Hold again at 203, and 201 takes it by directed pickup of 203.
        sw.request(&Request::HoldCall {
            call_to_be_held: conn(&call, "203"),
        })
        .expect("held");
        let (resp, _) = sw
            .request(&Request::DirectedPickupCall {
                call_to_be_picked_up: ConnectionId {
                    call_id: None,
                    device_id: Some(dev("203")),
                },
                requesting_device: dev("201"),
            })
            .expect("taken at 201");
        assert_eq!(
            resp,
            Response::DirectedPickupCall {
                picked_call: Some(conn(&call, "201"))
            }
        );
        // The far end hangs up: everything is cleared.
        let events = sw.far_end_hangup(&call).expect("call exists");
        assert_eq!(
            summary(&events)
                .into_iter()
                .filter(|(d, _, _)| d == "201")
                .count(),
            2
        );
        assert!(sw.calls().is_empty());
    }

    #[test]
    fn private_hold_and_missing_line_keys_refuse_the_transfer() {
        let site = SiteConfig {
            stations: vec![
                StationConfig::new("201").private_hold(true),
                StationConfig::new("202"),
                StationConfig::new("203"),
            ],
            trunks: vec![TrunkConfig::new("700").appearances(&["201", "202"])],
        };
        let mut sw = Switch::new(site).expect("valid");
        let (call, _) = sw
            .incoming_call("700", None, Ring::Station("201".into()))
            .expect("rings");
        sw.request(&Request::AnswerCall {
            call_to_be_answered: conn(&call, "201"),
        })
        .expect("answered");
        sw.request(&Request::HoldCall {
            call_to_be_held: conn(&call, "201"),
        })
        .expect("held");
        let retrieve = |sw: &mut Switch, d: &str| {
            sw.request(&Request::RetrieveCall {
                call_to_be_retrieved: conn(&call, d),
            })
            .map(|_| ())
        };
        assert_eq!(
            retrieve(&mut sw, "202"),
            Err(op(OperationError::PrivilegeViolationHeldDevice))
        );
        assert_eq!(
            retrieve(&mut sw, "203"),
            Err(CstaError::StateIncompatibility(
                StateIncompatibilityError::NoHeldCall
            ))
        );
        assert_eq!(retrieve(&mut sw, "201"), Ok(()));
    }

    #[test]
    fn a_busy_station_cannot_pick_up_and_refusals_change_nothing() {
        let mut sw = Switch::builtin();
        let (a, _) = sw
            .incoming_call("5550101", None, Ring::Station("201".into()))
            .expect("rings");
        sw.request(&Request::AnswerCall {
            call_to_be_answered: conn(&a, "201"),
        })
        .expect("answered");
        let b = ring_202(&mut sw);
        let before = sw.calls();
        assert_eq!(
            sw.request(&Request::DirectedPickupCall {
                call_to_be_picked_up: conn(&b, "202"),
                requesting_device: dev("201"),
            })
            .map(|_| ()),
            Err(CstaError::StateIncompatibility(
                StateIncompatibilityError::ConnectedCallExists
            ))
        );
        assert_eq!(sw.calls(), before);
        assert_eq!(
            sw.incoming_call("5550101", None, Ring::Appearances)
                .map(|_| ()),
            Err(CstaError::SystemResourceAvailability(
                SystemResourceError::ResourceBusy
            ))
        );
        assert_eq!(
            sw.request(&Request::AnswerCall {
                call_to_be_answered: conn(&a, "201"),
            })
            .map(|_| ()),
            Err(CstaError::StateIncompatibility(
                StateIncompatibilityError::InvalidConnectionState
            ))
        );
    }

    /// Long pseudo-random sequences of services and outside-world events
    /// (a fixed-seed generator, so failures replay): nothing panics, every
    /// refusal leaves the switch unchanged, and the invariants of a key
    /// system hold after every step.
    #[test]
    fn random_sequences_keep_the_invariants() {
        let mut seed: u64 = 0x5eed_cafe;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let devices = [
            "201", "202", "203", "204", "205", "5550100", "5550101", "299",
        ];
        let groups = ["sales", "support", "nope"];
        let mut sw = Switch::builtin();
        let mut successes = [0u32; 10];
        for _ in 0..20_000 {
            let d = |i: u64| dev(devices[i as usize]);
            // Mostly a call in progress, sometimes one that is gone or
            // never was.
            let live = sw.calls();
            let call = match next(5) {
                0 => CallId::new(next(1000).to_string()),
                _ if live.is_empty() => CallId::new("1"),
                _ => live[next(live.len() as u64) as usize].call_id.clone(),
            };
            let target = ConnectionId {
                call_id: (next(4) != 0).then(|| call.clone()),
                device_id: Some(d(next(8))),
            };
            let before = sw.calls();
            let kind = next(10);
            let refused = match kind {
                0 => sw
                    .incoming_call(
                        devices[5 + next(2) as usize],
                        Some("5551234"),
                        match next(3) {
                            0 => Ring::Station(devices[next(8) as usize].into()),
                            1 => Ring::Group(groups[next(3) as usize].into()),
                            _ => Ring::Appearances,
                        },
                    )
                    .is_err(),
                1 => sw.far_end_hangup(&call).is_err(),
                n => {
                    let request = match n {
                        2 => Request::MakeCall {
                            calling_device: d(next(8)),
                            called_directory_number: d(next(8)),
                        },
                        3 => Request::AnswerCall {
                            call_to_be_answered: target,
                        },
                        4 => Request::ClearConnection {
                            connection_to_be_cleared: target,
                            reason: None,
                        },
                        5 => Request::HoldCall {
                            call_to_be_held: target,
                        },
                        6 => Request::RetrieveCall {
                            call_to_be_retrieved: target,
                        },
                        7 => Request::DirectedPickupCall {
                            call_to_be_picked_up: target,
                            requesting_device: d(next(8)),
                        },
                        _ => Request::GroupPickupCall {
                            new_destination: d(next(8)),
                            pick_group: (next(2) == 0).then(|| dev(groups[next(3) as usize])),
                        },
                    };
                    sw.request(&request).is_err()
                }
            };
            let after = sw.calls();
            if refused {
                assert_eq!(before, after, "a refusal changed the switch");
            } else {
                successes[kind as usize] += 1;
            }
            let mut connected = std::collections::BTreeSet::new();
            for c in &after {
                let mut seen = std::collections::BTreeSet::new();
                for k in &c.connections {
                    assert!(
                        seen.insert(k.device.clone()),
                        "two connections of one device"
                    );
                    let is_station = sw.stations.contains_key(&k.device);
                    if k.state == ConnState::Connected && is_station {
                        assert!(
                            connected.insert(k.device.clone()),
                            "{} talks on two calls",
                            k.device.as_str()
                        );
                    }
                }
                assert!(c.connections.len() >= 2, "a call with one party: {c:?}");
                assert!(
                    c.connections.iter().any(|k| k.device == c.origin),
                    "a call without its caller: {c:?}"
                );
            }
            // Trunks carry one call each.
            for t in ["5550100", "5550101"] {
                assert!(after.iter().filter(|c| c.trunk == Some(dev(t))).count() <= 1);
            }
        }
        // Every kind of step succeeded sometimes, so the invariants were
        // checked on real transitions, not only on refusals.
        assert!(successes.iter().all(|&n| n > 0), "{successes:?}");
    }
}
