//! The engine: the one owner of all line, address and call state.
//!
//! Pure logic, no I/O, deterministic: every bus command and every hardware
//! event is an [`Input`] handled to completion, one at a time, and what the
//! world must see or do comes out as [`Output`]s in order. Ringing, trunk
//! hook state, media routes and `Features` are *derived* from the calls
//! after every input, so they cannot drift from them.

mod model;
mod pickup;

pub use model::*;

use crate::config::{HoldMode, LineKind, Site};
use pickupd_api::tapi::{
    addr_cap_flags, addr_feature, address_sharing, call_reason, call_state as cs, disconnect_mode,
};
use pickupd_api::PickupError;
use std::collections::BTreeMap;

/// A request from the bus.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    FindAddress(String),
    Pickup {
        address: AddressId,
        dest: String,
        group: String,
    },
    Dial {
        address: AddressId,
        number: String,
    },
    Answer(CallId),
    Drop(CallId),
    Hold(CallId),
    Unhold(CallId),
    SwapHold {
        call: CallId,
        held: CallId,
    },
    Reload(Site),
    /// End every call and put lines on hook (SIGTERM).
    Shutdown,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Done,
    Call(CallId),
    Address(AddressId),
}

/// Something the hardware (or a detector on its audio) reported.
#[derive(Debug, Clone, PartialEq)]
pub enum HwEvent {
    /// the phone on a station port went off or on hook
    Hook { line: LineId, off_hook: bool },
    /// hook flash at the phone on a station port
    Flash { line: LineId },
    /// a DTMF digit decoded from the line's receive audio
    Digit { line: LineId, digit: char },
    /// a call-waiting tone found in a trunk's receive audio
    CallWaitingTone { line: LineId },
    /// a CPE alerting signal (CIDCW) found in a trunk's receive audio
    CallWaitingAlert { line: LineId },
    /// caller id of the waiting call, decoded from the FSK after a CAS
    CallWaitingCallerId {
        line: LineId,
        number: String,
        name: String,
    },
    /// a trunk rings (the central office offers a call)
    RingStart {
        line: LineId,
        caller_number: String,
        caller_name: String,
        tag: Option<u64>,
    },
    /// ringing on a trunk has ceased (the caller gave up)
    RingStop { line: LineId },
    /// the far end of the trunk's connected call hung up
    FarEndDisconnect { line: LineId },
    /// the network offers a call straight to a station (simulated DID)
    NetworkCall {
        line: LineId,
        caller_number: String,
        caller_name: String,
        tag: u64,
    },
    /// the network caller of a station call hung up
    NetworkHangup { tag: u64 },
    /// on-hook caller id of the call ringing on a trunk, decoded from its
    /// receive audio between the first and second ring (or reported by a
    /// modem)
    CallerId {
        line: LineId,
        number: String,
        name: String,
    },
    /// the simulated network's reference of the call now ringing on a trunk
    /// whose hardware cannot carry it (emulated devices): lets the
    /// simulator name the call it offered
    Offered { line: LineId, tag: u64 },
    /// the device went away (unplug, driver failure)
    DeviceGone { line: LineId, why: String },
    /// the device is back; `off_hook` is the phone's hook state now
    DeviceBack { line: LineId, off_hook: bool },
}

/// Where the far end of a station's connected call is, for the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FarEnd {
    Trunk(LineId),
    Station(LineId),
    Network(u64),
}

#[derive(Debug)]
struct Line {
    name: String,
    kind: LineKind,
    device: String,
    state: LineState,
    /// station ports: the phone's hook; trunks: our side (derived)
    off_hook: bool,
    own_address: AddressId,
    addresses: Vec<AddressId>,
    policy: LinePolicy,
    /// station ports, while off hook with no call: digits so far
    dialing: Option<String>,
    /// station ports: a failed feature code plays reorder until on hook
    reorder: bool,
    ringing: bool,
    media: MediaSource,
    /// trunks: the call was dropped while ringing; ignore rings until they stop
    rejecting: bool,
    /// trunks whose caller id comes in band: the first ring of a call, held
    /// back until its caller id arrives or the next ring begins
    ring_awaiting_caller_id: Option<HeldRing>,
    /// trunks: the simulated network's tag for the next call offered here
    offered_tag: Option<u64>,
}

/// A first ring not yet shown as a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HeldRing {
    tag: Option<u64>,
}

#[derive(Debug)]
struct Address {
    number: String,
    line: LineId,
    appearances: Vec<LineId>,
    sharing: u32,
    call_groups: Vec<String>,
    pickup_groups: Vec<String>,
    cap_flags: u32,
    features: u32,
    calls: Vec<CallId>,
}

#[derive(Debug, Clone)]
struct Call {
    address: AddressId,
    station: Option<LineId>,
    state: u32,
    mode: u32,
    reason: u32,
    direction: Direction,
    caller_number: String,
    caller_name: String,
    called_number: String,
    call_waiting: bool,
    detected_by: &'static str,
    held_by: Option<LineId>,
    /// held by the central office after a call-waiting flash (not by us)
    office_held: bool,
    created_us: u64,
    /// ordering key: when it began alerting or was put on hold
    since: u64,
    carrier: Carrier,
    /// the network's reference for simulated calls
    tag: Option<u64>,
}

pub struct Engine {
    zone: String,
    pickup_code: String,
    directed_prefix: String,
    lines: BTreeMap<LineId, Line>,
    addresses: BTreeMap<AddressId, Address>,
    calls: BTreeMap<CallId, Call>,
    next_line: u32,
    next_address: u32,
    next_call: u32,
    seq: u64,
    now_us: u64,
    out: Vec<Output>,
}

type CmdResult = Result<Reply, PickupError>;

impl Engine {
    /// Build the engine for a site; the outputs announce every object.
    pub fn new(site: &Site, now_us: u64) -> (Engine, Vec<Output>) {
        let mut engine = Engine {
            zone: site.zone.clone(),
            pickup_code: site.pickup_code.clone(),
            directed_prefix: site.directed_pickup_prefix.clone(),
            lines: BTreeMap::new(),
            addresses: BTreeMap::new(),
            calls: BTreeMap::new(),
            next_line: 1,
            next_address: 1,
            next_call: 1,
            seq: 0,
            now_us,
            out: Vec::new(),
        };
        engine.add_lines(
            site,
            &site
                .lines
                .iter()
                .map(|l| l.name.clone())
                .collect::<Vec<_>>(),
        );
        engine.derive();
        let out = std::mem::take(&mut engine.out);
        (engine, out)
    }

    pub fn zone(&self) -> &str {
        &self.zone
    }

    /// Handle a bus command at time `now_us` (CLOCK_REALTIME µs).
    pub fn command(&mut self, now_us: u64, cmd: Command) -> (CmdResult, Vec<Output>) {
        self.now_us = now_us;
        let result = match cmd {
            Command::FindAddress(number) => self.find_address(&number).map(Reply::Address),
            Command::Pickup {
                address,
                dest,
                group,
            } => self.pickup(address, &dest, &group).map(Reply::Call),
            Command::Dial { address, number } => self.dial(address, &number).map(Reply::Call),
            Command::Answer(call) => self.answer(call).map(|_| Reply::Done),
            Command::Drop(call) => self.drop_call(call).map(|_| Reply::Done),
            Command::Hold(call) => self.hold(call).map(|_| Reply::Done),
            Command::Unhold(call) => self.unhold(call).map(|_| Reply::Done),
            Command::SwapHold { call, held } => self.swap_hold(call, held).map(|_| Reply::Done),
            Command::Reload(site) => {
                self.reload(&site);
                Ok(Reply::Done)
            }
            Command::Shutdown => {
                self.shutdown();
                Ok(Reply::Done)
            }
        };
        self.derive();
        (result, std::mem::take(&mut self.out))
    }

    /// Handle a hardware event at time `now_us`.
    pub fn hardware(&mut self, now_us: u64, ev: HwEvent) -> Vec<Output> {
        self.now_us = now_us;
        self.hw_event(ev);
        self.derive();
        std::mem::take(&mut self.out)
    }

    // ----- read-only queries (snapshots for the bus, the simulator, tests) -----

    pub fn line_ids(&self) -> Vec<LineId> {
        self.lines.keys().copied().collect()
    }
    pub fn address_ids(&self) -> Vec<AddressId> {
        self.addresses.keys().copied().collect()
    }
    pub fn call_ids(&self) -> Vec<CallId> {
        self.calls.keys().copied().collect()
    }
    pub fn line_by_name(&self, name: &str) -> Option<LineId> {
        self.lines
            .iter()
            .find(|(_, l)| l.name == name)
            .map(|(id, _)| *id)
    }
    pub fn address_by_number(&self, number: &str) -> Option<AddressId> {
        self.addresses
            .iter()
            .find(|(_, a)| a.number == number)
            .map(|(id, _)| *id)
    }
    pub fn line_view(&self, id: LineId) -> Option<LineView> {
        self.lines.get(&id).map(|l| LineView {
            id,
            name: l.name.clone(),
            kind: l.kind,
            device: l.device.clone(),
            state: l.state,
            off_hook: l.off_hook,
            addresses: l.addresses.clone(),
        })
    }
    pub fn address_view(&self, id: AddressId) -> Option<AddressView> {
        self.addresses.get(&id).map(|a| AddressView {
            id,
            number: a.number.clone(),
            line: a.line,
            appearances: a.appearances.clone(),
            sharing: a.sharing,
            call_groups: a.call_groups.clone(),
            pickup_groups: a.pickup_groups.clone(),
            cap_flags: a.cap_flags,
            features: a.features,
            calls: a.calls.clone(),
        })
    }
    pub fn call_view(&self, id: CallId) -> Option<CallView> {
        self.calls.get(&id).map(|c| CallView {
            id,
            address: c.address,
            station: c.station,
            state: c.state,
            state_mode: c.mode,
            reason: c.reason,
            direction: c.direction,
            caller_number: c.caller_number.clone(),
            caller_name: c.caller_name.clone(),
            called_number: c.called_number.clone(),
            call_waiting: c.call_waiting,
            detected_by: c.detected_by,
            held_by: c.held_by,
            created_us: c.created_us,
        })
    }
    /// The tag of a call that the network delivered (simulated calls).
    pub fn call_tag(&self, id: CallId) -> Option<u64> {
        self.calls.get(&id).and_then(|c| c.tag)
    }
    /// The far end of the connected call at a station, if any.
    pub fn far_end_of(&self, line: LineId) -> Option<FarEnd> {
        let (_, call) = self
            .calls
            .iter()
            .find(|(_, c)| c.station == Some(line) && c.state == cs::CONNECTED)
            .or_else(|| {
                // a trunk answered by the daemon itself is its own station
                self.calls
                    .iter()
                    .find(|(_, c)| c.carrier == Carrier::Trunk(line) && c.state == cs::CONNECTED)
            })?;
        Some(match call.carrier {
            Carrier::Trunk(t) => FarEnd::Trunk(t),
            Carrier::Network { tag } => FarEnd::Network(tag),
            Carrier::Internal { peer, .. } => {
                FarEnd::Station(self.calls.get(&peer).and_then(|p| p.station)?)
            }
        })
    }
    /// The media route each line transmits now.
    pub fn media_of(&self, line: LineId) -> Option<MediaSource> {
        self.lines.get(&line).map(|l| l.media)
    }
    pub fn is_ringing(&self, line: LineId) -> bool {
        self.lines.get(&line).is_some_and(|l| l.ringing)
    }

    // ----- building the site -----

    fn add_lines(&mut self, site: &Site, names: &[String]) {
        let mut added = Vec::new();
        for cfg in site.lines.iter().filter(|l| names.contains(&l.name)) {
            let line_id = LineId(self.next_line);
            self.next_line += 1;
            let addr_id = AddressId(self.next_address);
            self.next_address += 1;
            let station = cfg.kind.is_station_port();
            let mut cap = 0;
            if cfg.pickup_other_groups {
                cap |= addr_cap_flags::PICKUPGROUPID;
            }
            let cw_reachable = if station {
                site.lines
                    .iter()
                    .any(|t| t.kind.is_trunk() && t.call_waiting)
            } else {
                cfg.call_waiting
            };
            if cw_reachable {
                cap |= addr_cap_flags::PICKUPCALLWAIT;
            }
            let sharing = if cfg.appearances.is_empty() {
                address_sharing::PRIVATE
            } else {
                address_sharing::BRIDGEDEXCL
            };
            self.addresses.insert(
                addr_id,
                Address {
                    number: cfg.number.clone(),
                    line: line_id,
                    appearances: vec![line_id],
                    sharing,
                    call_groups: cfg.call_groups.clone(),
                    pickup_groups: cfg.pickup_groups.clone(),
                    cap_flags: cap,
                    features: 0,
                    calls: Vec::new(),
                },
            );
            self.lines.insert(
                line_id,
                Line {
                    name: cfg.name.clone(),
                    kind: cfg.kind,
                    device: cfg.device.clone(),
                    state: LineState::InService,
                    off_hook: false,
                    own_address: addr_id,
                    addresses: vec![addr_id],
                    policy: LinePolicy {
                        call_waiting: cfg.call_waiting,
                        cidcw: cfg.cidcw,
                        hold: cfg.hold,
                    },
                    dialing: None,
                    reorder: false,
                    ringing: false,
                    media: MediaSource::Silence,
                    rejecting: false,
                    ring_awaiting_caller_id: None,
                    offered_tag: None,
                },
            );
            added.push((line_id, addr_id));
        }
        // Appearances: a trunk's number shows on the stations named.
        for cfg in &site.lines {
            for app in &cfg.appearances {
                let (Some(trunk), Some(station)) =
                    (self.line_by_name(&cfg.name), self.line_by_name(app))
                else {
                    continue;
                };
                let addr = self.lines[&trunk].own_address;
                let a = self.addresses.get_mut(&addr).expect("own address exists");
                if a.appearances.len() == 1 && a.appearances[0] == trunk {
                    a.appearances.clear();
                }
                if !a.appearances.contains(&station) {
                    a.appearances.push(station);
                }
                let l = self.lines.get_mut(&station).expect("line exists");
                if !l.addresses.contains(&addr) {
                    l.addresses.push(addr);
                }
            }
        }
        for (line_id, addr_id) in added {
            let lv = self.line_view(line_id).expect("just added");
            self.emit(BusEvent::LineAdded(lv));
            let av = self.address_view(addr_id).expect("just added");
            self.emit(BusEvent::AddressAdded(av));
        }
        self.emit_manager_lists(true, true, false);
    }

    fn emit_manager_lists(&mut self, lines: bool, addresses: bool, calls: bool) {
        if lines {
            let v = self.line_ids();
            self.emit(BusEvent::Manager(ManagerProp::Lines(v)));
        }
        if addresses {
            let v = self.address_ids();
            self.emit(BusEvent::Manager(ManagerProp::Addresses(v)));
        }
        if calls {
            let v = self.call_ids();
            self.emit(BusEvent::Manager(ManagerProp::Calls(v)));
        }
    }

    fn emit(&mut self, ev: BusEvent) {
        self.out.push(Output::Bus(ev));
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    // ----- call bookkeeping: every change goes through these -----

    #[allow(clippy::too_many_arguments)]
    fn create_call(
        &mut self,
        address: AddressId,
        station: Option<LineId>,
        state: u32,
        reason: u32,
        direction: Direction,
        caller: (String, String),
        carrier: Carrier,
        tag: Option<u64>,
    ) -> CallId {
        self.create_call_with(
            address,
            station,
            state,
            reason,
            direction,
            caller,
            carrier,
            tag,
            |_| {},
        )
    }

    /// As [`Self::create_call`], with `init` filling in the rest before the
    /// call is announced, so its first appearance is already complete.
    #[allow(clippy::too_many_arguments)]
    fn create_call_with(
        &mut self,
        address: AddressId,
        station: Option<LineId>,
        state: u32,
        reason: u32,
        direction: Direction,
        caller: (String, String),
        carrier: Carrier,
        tag: Option<u64>,
        init: impl FnOnce(&mut Call),
    ) -> CallId {
        let id = CallId(self.next_call);
        self.next_call += 1;
        let since = self.next_seq();
        let called_number = self
            .addresses
            .get(&address)
            .map(|a| a.number.clone())
            .unwrap_or_default();
        self.calls.insert(
            id,
            Call {
                address,
                station,
                state,
                mode: 0,
                reason,
                direction,
                caller_number: caller.0,
                caller_name: caller.1,
                called_number,
                call_waiting: false,
                detected_by: "",
                held_by: None,
                office_held: false,
                created_us: self.now_us,
                since,
                carrier,
                tag,
            },
        );
        if let Some(c) = self.calls.get_mut(&id) {
            init(c);
        }
        let view = self.call_view(id).expect("just inserted");
        self.emit(BusEvent::CallAdded(view));
        if let Some(a) = self.addresses.get_mut(&address) {
            a.calls.push(id);
            let calls = a.calls.clone();
            self.emit(BusEvent::Address(address, AddressProp::Calls(calls)));
        }
        self.emit_manager_lists(false, false, true);
        id
    }

    fn set_state(&mut self, id: CallId, new: u32, mode: u32) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let old = c.state;
        if old == new && c.mode == mode {
            return;
        }
        c.state = new;
        let mode_changed = c.mode != mode;
        c.mode = mode;
        if matches!(new, cs::OFFERING | cs::ONHOLD) {
            c.since = self.seq + 1;
            self.seq += 1;
        }
        self.emit(BusEvent::Call(id, CallProp::State(new)));
        if mode_changed {
            self.emit(BusEvent::Call(id, CallProp::StateMode(mode)));
        }
        self.emit(BusEvent::CallStateChanged {
            call: id,
            old,
            new,
            mode,
        });
    }

    fn set_station(&mut self, id: CallId, station: Option<LineId>) {
        if let Some(c) = self.calls.get_mut(&id) {
            if c.station != station {
                c.station = station;
                self.emit(BusEvent::Call(id, CallProp::Station(station)));
            }
        }
    }

    fn set_held_by(&mut self, id: CallId, held_by: Option<LineId>, office: bool) {
        if let Some(c) = self.calls.get_mut(&id) {
            c.office_held = office && held_by.is_some();
            if c.held_by != held_by {
                c.held_by = held_by;
                self.emit(BusEvent::Call(id, CallProp::HeldBy(held_by)));
            }
        }
    }

    fn set_reason(&mut self, id: CallId, reason: u32) {
        if let Some(c) = self.calls.get_mut(&id) {
            if c.reason != reason {
                c.reason = reason;
                self.emit(BusEvent::Call(id, CallProp::Reason(reason)));
            }
        }
    }

    fn set_call_waiting(&mut self, id: CallId, waiting: bool) {
        if let Some(c) = self.calls.get_mut(&id) {
            if c.call_waiting != waiting {
                c.call_waiting = waiting;
                self.emit(BusEvent::Call(id, CallProp::CallWaiting(waiting)));
            }
        }
    }

    fn set_caller(&mut self, id: CallId, number: &str, name: &str) {
        if let Some(c) = self.calls.get_mut(&id) {
            if !number.is_empty() && c.caller_number != number {
                c.caller_number = number.to_string();
                self.emit(BusEvent::Call(
                    id,
                    CallProp::CallerNumber(number.to_string()),
                ));
            }
        }
        if let Some(c) = self.calls.get_mut(&id) {
            if !name.is_empty() && c.caller_name != name {
                c.caller_name = name.to_string();
                self.emit(BusEvent::Call(id, CallProp::CallerName(name.to_string())));
            }
        }
    }

    /// DISCONNECTED (with `mode`), then IDLE, then the object goes away.
    fn end_call(&mut self, id: CallId, mode: u32) {
        let Some(c) = self.calls.get(&id) else { return };
        if c.state == cs::IDLE {
            return;
        }
        if c.state != cs::DISCONNECTED {
            self.set_state(id, cs::DISCONNECTED, mode);
        }
        self.set_state(id, cs::IDLE, 0);
        let Some(c) = self.calls.remove(&id) else {
            return;
        };
        if let Some(a) = self.addresses.get_mut(&c.address) {
            a.calls.retain(|x| *x != id);
            let calls = a.calls.clone();
            self.emit(BusEvent::Address(c.address, AddressProp::Calls(calls)));
        }
        self.emit(BusEvent::CallRemoved(id));
        self.emit_manager_lists(false, false, true);
        // A person still holding the handset hears dial tone again.
        if let Some(s) = c.station {
            self.start_dialing_if_off_hook(s);
        }
    }

    /// End a call and whatever hangs on it (the other leg of an internal call).
    fn end_call_and_peer(&mut self, id: CallId, mode: u32, peer_mode: u32) {
        let peer = match self.calls.get(&id).map(|c| c.carrier) {
            Some(Carrier::Internal { peer, .. }) => Some(peer),
            _ => None,
        };
        self.end_call(id, mode);
        if let Some(p) = peer {
            self.end_call(p, peer_mode);
        }
    }

    // ----- small queries -----

    fn call_at_station(&self, line: LineId, state: u32) -> Option<CallId> {
        self.calls
            .iter()
            .filter(|(_, c)| c.station == Some(line) && c.state == state)
            .min_by_key(|(_, c)| c.since)
            .map(|(id, _)| *id)
    }

    fn trunk_of(&self, id: CallId) -> Option<LineId> {
        match self.calls.get(&id)?.carrier {
            Carrier::Trunk(t) => Some(t),
            _ => None,
        }
    }

    fn calls_on_trunk(&self, trunk: LineId) -> Vec<CallId> {
        self.calls
            .iter()
            .filter(|(_, c)| c.carrier == Carrier::Trunk(trunk))
            .map(|(id, _)| *id)
            .collect()
    }

    fn line_name(&self, line: LineId) -> String {
        self.lines
            .get(&line)
            .map(|l| l.name.clone())
            .unwrap_or_else(|| format!("line {}", line.0))
    }

    fn number_of(&self, address: AddressId) -> String {
        self.addresses
            .get(&address)
            .map(|a| a.number.clone())
            .unwrap_or_default()
    }

    fn get_call(&self, id: CallId) -> Result<&Call, PickupError> {
        self.calls
            .get(&id)
            .ok_or_else(|| PickupError::InvalidCallState(format!("call {} no longer exists", id.0)))
    }

    fn station_in_service(&self, line: LineId) -> Result<(), PickupError> {
        match self.lines.get(&line) {
            Some(l) if l.state == LineState::InService => Ok(()),
            Some(l) => Err(PickupError::ResourceUnavailable(format!(
                "{} is {}; wait until its device is back",
                l.name,
                l.state.as_str()
            ))),
            None => Err(PickupError::ResourceUnavailable(format!(
                "line {} is gone",
                line.0
            ))),
        }
    }

    fn find_address(&self, number: &str) -> Result<AddressId, PickupError> {
        if !pickupd_api::is_dialable(number) {
            return Err(PickupError::InvalidAddress(format!(
                "\"{number}\" is not a dialable number (1 to 32 of 0-9 * #)"
            )));
        }
        self.address_by_number(number).ok_or_else(|| {
            PickupError::InvalidAddress(format!("no address has the number {number} in this site"))
        })
    }

    // ----- call control -----

    fn answer(&mut self, id: CallId) -> Result<(), PickupError> {
        let call = self.get_call(id)?.clone();
        if call.state != cs::OFFERING {
            return Err(PickupError::InvalidCallState(format!(
                "call {} is {}, not OFFERING; only a call that is being offered can be answered",
                id.0,
                pickupd_api::tapi::name_of(cs::ALL, call.state)
            )));
        }
        if call.call_waiting {
            // On an analog line a waiting call is answered with a flash.
            let station = self
                .trunk_of(id)
                .and_then(|t| self.active_call_on_trunk(t))
                .and_then(|a| self.calls.get(&a).and_then(|c| c.station));
            let Some(station) = station else {
                return Err(PickupError::InvalidCallState(format!(
                    "call {} waits behind no connected call",
                    id.0
                )));
            };
            return self.flash_to_waiting(station).map(|_| ());
        }
        let station = call.station.unwrap_or(self.addresses[&call.address].line);
        self.station_in_service(station)?;
        // (busy also while it places a call: its RINGBACK leg connects
        // when answered, and a station is in one call at a time)
        if self.station_busy(station) {
            return Err(PickupError::ResourceUnavailable(format!(
                "{} is in another call; hold or drop it first",
                self.line_name(station)
            )));
        }
        self.connect_at(id, station);
        Ok(())
    }

    /// An OFFERING call becomes CONNECTED with its audio at `station`.
    fn connect_at(&mut self, id: CallId, station: LineId) {
        self.set_station(id, Some(station));
        self.set_held_by(id, None, false);
        self.set_state(id, cs::CONNECTED, 0);
        if let Some(l) = self.lines.get_mut(&station) {
            l.dialing = None;
            l.reorder = false;
        }
        if let Some(Carrier::Internal { peer, .. }) = self.calls.get(&id).map(|c| c.carrier) {
            if self
                .calls
                .get(&peer)
                // (a leg its own station put on hold stays held)
                .is_some_and(|p| !matches!(p.state, cs::CONNECTED | cs::ONHOLD))
            {
                self.set_state(peer, cs::CONNECTED, 0);
            }
        }
    }

    fn drop_call(&mut self, id: CallId) -> Result<(), PickupError> {
        let call = self.get_call(id)?.clone();
        if matches!(call.state, cs::IDLE | cs::DISCONNECTED) {
            return Err(PickupError::InvalidCallState(format!(
                "call {} has already ended",
                id.0
            )));
        }
        if call.state == cs::OFFERING && !call.call_waiting {
            if let Carrier::Trunk(t) = call.carrier {
                // An analog ring cannot be refused: stop offering it until it stops.
                if let Some(l) = self.lines.get_mut(&t) {
                    l.rejecting = true;
                }
            }
            self.end_call_and_peer(id, disconnect_mode::REJECT, disconnect_mode::REJECT);
        } else {
            self.end_call_and_peer(id, disconnect_mode::NORMAL, disconnect_mode::NORMAL);
        }
        Ok(())
    }

    fn hold(&mut self, id: CallId) -> Result<(), PickupError> {
        let call = self.get_call(id)?.clone();
        if call.state != cs::CONNECTED {
            return Err(PickupError::InvalidCallState(format!(
                "call {} is {}; only a CONNECTED call can be held",
                id.0,
                pickupd_api::tapi::name_of(cs::ALL, call.state)
            )));
        }
        let station = call.station;
        self.set_station(id, None);
        self.set_held_by(id, station, false);
        self.set_state(id, cs::ONHOLD, 0);
        if let Some(s) = station {
            self.start_dialing_if_off_hook(s);
        }
        Ok(())
    }

    fn unhold(&mut self, id: CallId) -> Result<(), PickupError> {
        let call = self.get_call(id)?.clone();
        if call.state != cs::ONHOLD {
            return Err(PickupError::InvalidCallState(format!(
                "call {} is {}; only a call ONHOLD can be taken off hold",
                id.0,
                pickupd_api::tapi::name_of(cs::ALL, call.state)
            )));
        }
        let Some(station) = call.held_by else {
            return Err(PickupError::InvalidCallState(format!(
                "call {} has no holding station",
                id.0
            )));
        };
        self.station_in_service(station)?;
        if call.office_held {
            let trunk_seized = self
                .trunk_of(id)
                .and_then(|t| self.lines.get(&t))
                .is_some_and(|l| l.off_hook);
            if !trunk_seized {
                return Err(PickupError::InvalidCallState(format!(
                    "the central office holds call {} and rings the line back when it is free; answer that ring",
                    id.0
                )));
            }
            // The central office holds it: a flash swaps back to it, from
            // the other call on the same line or from no call at all.
            let in_other_call = match self.call_at_station(station, cs::CONNECTED) {
                Some(active) => self.trunk_of(active) != self.trunk_of(id),
                None => self.station_busy(station),
            };
            if in_other_call {
                return Err(PickupError::InvalidCallState(format!(
                    "{} is in a call on another line; hold or drop that call first",
                    self.line_name(station)
                )));
            }
            return self.flash_to_waiting(station).map(|_| ());
        }
        if self.station_busy(station) {
            return Err(PickupError::InvalidCallState(format!(
                "{} is in another call; use SwapHold, or hold or drop that call first",
                self.line_name(station)
            )));
        }
        self.connect_at(id, station);
        Ok(())
    }

    fn swap_hold(&mut self, id: CallId, held: CallId) -> Result<(), PickupError> {
        let call = self.get_call(id)?.clone();
        let other = self.get_call(held)?.clone();
        if call.state != cs::CONNECTED {
            return Err(PickupError::InvalidCallState(format!(
                "call {} is {}; SwapHold needs this call CONNECTED",
                id.0,
                pickupd_api::tapi::name_of(cs::ALL, call.state)
            )));
        }
        let Some(station) = call.station else {
            return Err(PickupError::InvalidCallState(format!(
                "call {} has no station",
                id.0
            )));
        };
        let same_trunk = self.trunk_of(id).is_some() && self.trunk_of(id) == self.trunk_of(held);
        let waiting = other.state == cs::OFFERING && other.call_waiting;
        if same_trunk && (other.office_held || waiting) {
            return self.flash_to_waiting(station).map(|_| ());
        }
        if other.state != cs::ONHOLD || other.held_by != Some(station) {
            return Err(PickupError::InvalidCallState(format!(
                "call {} is not held at {}; SwapHold needs a call held by the same station",
                held.0,
                self.line_name(station)
            )));
        }
        self.hold(id)?;
        if let Some(l) = self.lines.get_mut(&station) {
            l.dialing = None;
        }
        self.connect_at(held, station);
        Ok(())
    }

    fn dial(&mut self, address: AddressId, number: &str) -> Result<CallId, PickupError> {
        let from = self.addresses.get(&address).ok_or_else(|| {
            PickupError::InvalidAddress(format!("address {} no longer exists", address.0))
        })?;
        let line = from.line;
        if !pickupd_api::is_dialable(number) {
            return Err(PickupError::InvalidAddress(format!(
                "\"{number}\" is not a dialable number (1 to 32 of 0-9 * #)"
            )));
        }
        self.station_in_service(line)?;
        let kind = self.lines[&line].kind;
        let target = self.address_by_number(number);
        match target {
            Some(to) if kind.is_station_port() && self.lines[&self.addresses[&to].line].kind.is_station_port() => {
                if to == address {
                    return Err(PickupError::InvalidAddress(format!("{number} is this station's own number")));
                }
                if self.station_busy(line) {
                    return Err(PickupError::ResourceUnavailable(format!(
                        "{} is in a call; hold or drop it before dialling",
                        self.line_name(line)
                    )));
                }
                Ok(self.internal_call(line, address, to))
            }
            _ => Err(PickupError::OperationUnavailable(format!(
                "dialling {number} from {} is not available: this version connects calls between stations of the site only",
                self.number_of(address)
            ))),
        }
    }

    fn internal_call(&mut self, line: LineId, from: AddressId, to: AddressId) -> CallId {
        let to_line = self.addresses[&to].line;
        let from_number = self.number_of(from);
        let from_name = self.line_name(line);
        // Reserve both ids so each leg can name the other.
        let caller_id = CallId(self.next_call);
        let callee_id = CallId(self.next_call + 1);
        let called_number = self.number_of(to);
        let placing = self.create_call_with(
            from,
            Some(line),
            cs::RINGBACK,
            call_reason::DIRECT,
            Direction::Internal,
            (String::new(), String::new()),
            Carrier::Internal {
                peer: callee_id,
                placing: true,
            },
            None,
            |c| c.called_number = called_number,
        );
        debug_assert_eq!(placing, caller_id);
        let receiving = self.create_call(
            to,
            Some(to_line),
            cs::OFFERING,
            call_reason::DIRECT,
            Direction::Internal,
            (from_number, from_name),
            Carrier::Internal {
                peer: caller_id,
                placing: false,
            },
            None,
        );
        debug_assert_eq!(receiving, callee_id);
        if let Some(l) = self.lines.get_mut(&line) {
            l.dialing = None;
        }
        placing
    }

    /// The connected call a trunk carries now (not held, not waiting).
    fn active_call_on_trunk(&self, trunk: LineId) -> Option<CallId> {
        self.calls_on_trunk(trunk)
            .into_iter()
            .find(|id| self.calls[id].state == cs::CONNECTED)
    }

    /// Hook flash on the trunk of the station's connected call: the office
    /// swaps to the waiting (or office-held) call and holds the current one.
    /// With nothing known to wait, the user heard the tone: a call object
    /// is made for the waiting party.
    fn flash_to_waiting(&mut self, station: LineId) -> Result<CallId, PickupError> {
        let active = self.call_at_station(station, cs::CONNECTED).or_else(|| {
            // a trunk answered by the daemon itself
            self.calls
                .iter()
                .find(|(_, c)| c.carrier == Carrier::Trunk(station) && c.state == cs::CONNECTED)
                .map(|(id, _)| *id)
        });
        let trunk = active.and_then(|a| self.trunk_of(a));
        let (Some(active), Some(trunk)) = (active, trunk) else {
            // Unhold of an office-held call after the active one ended.
            let held = self
                .calls
                .iter()
                .filter(|(_, c)| c.office_held && c.held_by == Some(station))
                .min_by_key(|(_, c)| c.since)
                .map(|(id, _)| *id);
            if let Some(h) = held {
                if let Some(t) = self.trunk_of(h) {
                    self.out.push(Output::Line(t, LineCommand::Flash));
                }
                self.connect_at(h, station);
                return Ok(h);
            }
            return Err(PickupError::NothingToPickUp(format!(
                "{} has no connected call on a line with call waiting",
                self.line_name(station)
            )));
        };
        self.station_in_service(trunk)?;
        self.out.push(Output::Line(trunk, LineCommand::Flash));
        let on_trunk = self.calls_on_trunk(trunk);
        let waiting = on_trunk
            .iter()
            .copied()
            .filter(|id| self.calls[id].state == cs::OFFERING && self.calls[id].call_waiting)
            .min_by_key(|id| self.calls[id].since);
        let office_held = on_trunk
            .iter()
            .copied()
            .find(|id| self.calls[id].office_held);
        let audio_at = if station == trunk { trunk } else { station };
        // The current call goes on hold at the office.
        self.set_station(active, None);
        self.set_held_by(active, Some(station), true);
        self.set_state(active, cs::ONHOLD, 0);
        let picked = if let Some(w) = waiting {
            self.set_call_waiting(w, false);
            self.set_reason(w, call_reason::PICKUP);
            self.connect_at(w, audio_at);
            w
        } else if let Some(h) = office_held {
            self.connect_at(h, audio_at);
            h
        } else {
            let address = self.lines[&trunk].own_address;
            // The user heard the tone that no detector reported.
            self.create_call_with(
                address,
                Some(audio_at),
                cs::CONNECTED,
                call_reason::PICKUP,
                Direction::Inbound,
                (String::new(), String::new()),
                Carrier::Trunk(trunk),
                None,
                |c| c.detected_by = "user",
            )
        };
        Ok(picked)
    }

    /// A station that is off hook with no call hears dial tone and may dial.
    fn start_dialing_if_off_hook(&mut self, station: LineId) {
        let busy = self
            .calls
            .values()
            .any(|c| c.station == Some(station) && matches!(c.state, cs::CONNECTED | cs::RINGBACK));
        if let Some(l) = self.lines.get_mut(&station) {
            // Digits already being dialled, or reorder, stay as they are.
            if l.kind.is_station_port() && l.off_hook && !busy && l.dialing.is_none() && !l.reorder
            {
                l.dialing = Some(String::new());
            }
        }
    }

    fn reload(&mut self, site: &Site) {
        self.zone = site.zone.clone();
        self.pickup_code = site.pickup_code.clone();
        self.directed_prefix = site.directed_pickup_prefix.clone();
        // Which lines changed? Compare what each line's objects were built from.
        let old: Vec<(String, LineId)> = self
            .lines
            .iter()
            .map(|(id, l)| (l.name.clone(), *id))
            .collect();
        let mut removed = Vec::new();
        for (name, id) in &old {
            let keep = site
                .lines
                .iter()
                .find(|c| &c.name == name)
                .is_some_and(|c| self.same_config(*id, c, site));
            if !keep {
                removed.push(*id);
            }
        }
        // Appearances of kept trunks may name removed stations; rebuild links below.
        for id in &removed {
            self.remove_line(*id);
        }
        let existing: Vec<String> = self.lines.values().map(|l| l.name.clone()).collect();
        let new_names: Vec<String> = site
            .lines
            .iter()
            .map(|l| l.name.clone())
            .filter(|n| !existing.contains(n))
            .collect();
        if !new_names.is_empty() {
            self.add_lines(site, &new_names);
        }
    }

    fn same_config(&self, id: LineId, cfg: &crate::config::LineConfig, site: &Site) -> bool {
        let Some(l) = self.lines.get(&id) else {
            return false;
        };
        let a = &self.addresses[&l.own_address];
        let appearances: Vec<String> = a
            .appearances
            .iter()
            .filter(|x| **x != id)
            .map(|x| self.line_name(*x))
            .collect();
        let mut want_app = cfg.appearances.clone();
        want_app.sort();
        let mut have_app = appearances;
        have_app.sort();
        // A station's appearances come from the trunks naming it.
        let mut want_carried: Vec<String> = site
            .lines
            .iter()
            .filter(|t| t.appearances.contains(&cfg.name))
            .map(|t| t.number.clone())
            .collect();
        want_carried.sort();
        let mut have_carried: Vec<String> = l
            .addresses
            .iter()
            .filter(|x| **x != l.own_address)
            .map(|x| self.number_of(*x))
            .collect();
        have_carried.sort();
        l.kind == cfg.kind
            && l.device == cfg.device
            && a.number == cfg.number
            && l.policy
                == (LinePolicy {
                    call_waiting: cfg.call_waiting,
                    cidcw: cfg.cidcw,
                    hold: cfg.hold,
                })
            && a.call_groups == cfg.call_groups
            && a.pickup_groups == cfg.pickup_groups
            && (a.cap_flags & addr_cap_flags::PICKUPGROUPID != 0) == cfg.pickup_other_groups
            && want_app == have_app
            && want_carried == have_carried
    }

    fn remove_line(&mut self, id: LineId) {
        self.end_calls_of_line(id, disconnect_mode::UNAVAIL);
        let Some(line) = self.lines.remove(&id) else {
            return;
        };
        let addr = line.own_address;
        self.addresses.remove(&addr);
        // Drop the appearances that pointed at this line or its address.
        let mut changed_lines = Vec::new();
        for (lid, l) in self.lines.iter_mut() {
            if l.addresses.contains(&addr) {
                l.addresses.retain(|a| *a != addr);
                changed_lines.push((*lid, l.addresses.clone()));
            }
        }
        let mut changed_addrs = Vec::new();
        for (aid, a) in self.addresses.iter_mut() {
            if a.appearances.contains(&id) {
                a.appearances.retain(|l| *l != id);
                if a.appearances.is_empty() {
                    a.appearances.push(a.line);
                }
                changed_addrs.push((*aid, a.appearances.clone()));
            }
        }
        self.emit(BusEvent::AddressRemoved(addr));
        self.emit(BusEvent::LineRemoved(id));
        for (lid, v) in changed_lines {
            self.emit(BusEvent::Line(lid, LineProp::Addresses(v)));
        }
        for (aid, v) in changed_addrs {
            self.emit(BusEvent::Address(aid, AddressProp::Appearances(v)));
        }
        self.emit_manager_lists(true, true, false);
    }

    fn end_calls_of_line(&mut self, line: LineId, mode: u32) {
        let own = self.lines.get(&line).map(|l| l.own_address);
        let doomed: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| {
                c.station == Some(line)
                    || c.held_by == Some(line) && !matches!(c.carrier, Carrier::Trunk(_))
                    || c.carrier == Carrier::Trunk(line)
                    || Some(c.address) == own
                        && !matches!(c.carrier, Carrier::Trunk(t) if t != line)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in doomed {
            if self.calls.contains_key(&id) {
                let holder_gone = self.calls[&id].station == Some(line);
                let is_trunk = matches!(self.calls[&id].carrier, Carrier::Trunk(t) if t != line);
                if is_trunk && !holder_gone && self.calls[&id].held_by == Some(line) {
                    continue;
                }
                self.end_call_and_peer(id, mode, mode);
            }
        }
    }

    fn shutdown(&mut self) {
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for id in ids {
            self.end_call(id, disconnect_mode::NORMAL);
        }
        let stations: Vec<LineId> = self.lines.keys().copied().collect();
        for s in stations {
            if let Some(l) = self.lines.get_mut(&s) {
                l.dialing = None;
                l.reorder = false;
            }
        }
    }

    // ----- hardware events -----

    fn hw_event(&mut self, ev: HwEvent) {
        match ev {
            HwEvent::Hook { line, off_hook } => self.on_hook_change(line, off_hook),
            HwEvent::Flash { line } => self.on_station_flash(line),
            HwEvent::Digit { line, digit } => self.on_digit(line, digit),
            HwEvent::CallWaitingTone { line } => self.on_call_waiting(line, "sas"),
            HwEvent::CallWaitingAlert { line } => self.on_call_waiting(line, "cas"),
            HwEvent::CallWaitingCallerId { line, number, name } => {
                // The call waiting on that trunk, or the one just taken from it.
                let waiting = self
                    .calls_on_trunk(line)
                    .into_iter()
                    .filter(|id| self.calls[id].detected_by == "cas")
                    .max_by_key(|id| self.calls[id].since);
                if let Some(id) = waiting {
                    self.set_caller(id, &number, &name);
                }
            }
            HwEvent::RingStart {
                line,
                caller_number,
                caller_name,
                tag,
            } => self.on_ring(line, caller_number, caller_name, tag),
            HwEvent::RingStop { line } => self.on_ring_stop(line),
            HwEvent::CallerId { line, number, name } => self.on_caller_id(line, number, name),
            HwEvent::Offered { line, tag } => self.on_offered(line, tag),
            HwEvent::FarEndDisconnect { line } => self.on_far_end_disconnect(line),
            HwEvent::NetworkCall {
                line,
                caller_number,
                caller_name,
                tag,
            } => self.on_network_call(line, caller_number, caller_name, tag),
            HwEvent::NetworkHangup { tag } => {
                let ids: Vec<CallId> = self
                    .calls
                    .iter()
                    .filter(|(_, c)| c.carrier == (Carrier::Network { tag }))
                    .map(|(id, _)| *id)
                    .collect();
                for id in ids {
                    self.end_call(id, disconnect_mode::NORMAL);
                }
            }
            HwEvent::DeviceGone { line, .. } => {
                let Some(l) = self.lines.get(&line) else {
                    return;
                };
                if l.state == LineState::OutOfService {
                    return;
                }
                self.end_calls_of_line(line, disconnect_mode::OUTOFORDER);
                if let Some(l) = self.lines.get_mut(&line) {
                    l.state = LineState::OutOfService;
                    l.dialing = None;
                    l.reorder = false;
                    l.rejecting = false;
                    l.ring_awaiting_caller_id = None;
                    l.offered_tag = None;
                }
                self.emit(BusEvent::Line(
                    line,
                    LineProp::State(LineState::OutOfService),
                ));
                self.set_station_hook(line, false);
            }
            HwEvent::DeviceBack { line, off_hook } => {
                let Some(l) = self.lines.get_mut(&line) else {
                    return;
                };
                if l.state == LineState::InService {
                    return;
                }
                l.state = LineState::InService;
                self.emit(BusEvent::Line(line, LineProp::State(LineState::InService)));
                if self.lines[&line].kind.is_station_port() {
                    self.set_station_hook(line, off_hook);
                    self.start_dialing_if_off_hook(line);
                }
            }
        }
    }

    fn set_station_hook(&mut self, line: LineId, off_hook: bool) {
        if let Some(l) = self.lines.get_mut(&line) {
            if l.off_hook != off_hook {
                l.off_hook = off_hook;
                self.emit(BusEvent::Line(line, LineProp::Hook(off_hook)));
            }
        }
    }

    fn usable(&self, line: LineId) -> bool {
        self.lines
            .get(&line)
            .is_some_and(|l| l.state == LineState::InService)
    }

    fn on_hook_change(&mut self, line: LineId, off_hook: bool) {
        if !self.usable(line) || !self.lines[&line].kind.is_station_port() {
            return;
        }
        if self.lines[&line].off_hook == off_hook {
            return;
        }
        self.set_station_hook(line, off_hook);
        if off_hook {
            // (a call answered or placed from the bus while the phone was on
            // hook is already here: lifting the handset joins it)
            let in_call = self.station_busy(line);
            if let Some(call) = self.alerting_at_station(line).filter(|_| !in_call) {
                self.connect_at(call, line);
            } else {
                self.start_dialing_if_off_hook(line);
            }
        } else {
            if let Some(l) = self.lines.get_mut(&line) {
                l.dialing = None;
                l.reorder = false;
            }
            let ending: Vec<CallId> = self
                .calls
                .iter()
                .filter(|(_, c)| {
                    c.station == Some(line)
                        && matches!(c.state, cs::CONNECTED | cs::RINGBACK | cs::DIALING)
                })
                .map(|(id, _)| *id)
                .collect();
            for id in ending {
                self.end_call_and_peer(id, disconnect_mode::NORMAL, disconnect_mode::NORMAL);
            }
        }
    }

    /// The oldest call ringing this station's phone.
    fn alerting_at_station(&self, line: LineId) -> Option<CallId> {
        self.calls
            .iter()
            .filter(|(_, c)| self.rings_station(c, line))
            .min_by_key(|(_, c)| c.since)
            .map(|(id, _)| *id)
    }

    fn rings_station(&self, c: &Call, line: LineId) -> bool {
        if c.state != cs::OFFERING || c.call_waiting {
            return false;
        }
        match c.station {
            Some(s) => s == line,
            None => self
                .addresses
                .get(&c.address)
                .is_some_and(|a| a.appearances.contains(&line)),
        }
    }

    fn on_station_flash(&mut self, line: LineId) {
        if !self.usable(line) || !self.lines[&line].off_hook {
            return;
        }
        if let Some(active) = self.call_at_station(line, cs::CONNECTED) {
            let cw_trunk = self
                .trunk_of(active)
                .is_some_and(|t| self.lines.get(&t).is_some_and(|l| l.policy.call_waiting));
            if cw_trunk {
                let _ = self.flash_to_waiting(line);
            } else {
                let _ = self.hold(active);
            }
            return;
        }
        // No call: a flash returns to the call this station holds.
        let held = self
            .calls
            .iter()
            .filter(|(_, c)| c.state == cs::ONHOLD && c.held_by == Some(line))
            .min_by_key(|(_, c)| c.since)
            .map(|(id, _)| *id);
        if let Some(h) = held {
            let _ = self.unhold(h);
        } else if self.station_busy(line) {
            // placing a call (RINGBACK): no second dial tone, no second call
        } else if let Some(l) = self.lines.get_mut(&line) {
            l.dialing = Some(String::new());
            l.reorder = false;
        }
    }

    fn on_digit(&mut self, line: LineId, digit: char) {
        if !self.usable(line) {
            return;
        }
        let Some(l) = self.lines.get_mut(&line) else {
            return;
        };
        let Some(digits) = l.dialing.as_mut() else {
            return;
        };
        digits.push(digit);
        let digits = digits.clone();
        let own = l.own_address;
        let numbers: Vec<String> = self.addresses.values().map(|a| a.number.clone()).collect();
        let action =
            feature_code_action(&digits, &self.pickup_code, &self.directed_prefix, &numbers);
        match action {
            DialAction::Wait => {}
            DialAction::Reorder => self.play_reorder(line),
            DialAction::Pickup(dest) => {
                if let Some(l) = self.lines.get_mut(&line) {
                    l.dialing = None;
                }
                if self.pickup(own, &dest, "").is_err() {
                    self.play_reorder(line);
                }
            }
            DialAction::Call(number) => {
                let target = self.address_by_number(&number);
                match target {
                    Some(to)
                        if to != own
                            && self.lines[&self.addresses[&to].line].kind.is_station_port() =>
                    {
                        self.internal_call(line, own, to);
                    }
                    _ => self.play_reorder(line),
                }
            }
        }
    }

    fn play_reorder(&mut self, line: LineId) {
        if let Some(l) = self.lines.get_mut(&line) {
            l.dialing = None;
            l.reorder = true;
        }
    }

    fn on_call_waiting(&mut self, trunk: LineId, detected_by: &'static str) {
        if !self.usable(trunk) || !self.lines[&trunk].policy.call_waiting {
            return;
        }
        let on_trunk = self.calls_on_trunk(trunk);
        if self.active_call_on_trunk(trunk).is_none() {
            return;
        }
        // One waiting call at a time; the office repeats the tone.
        if on_trunk
            .iter()
            .any(|id| self.calls[id].call_waiting || self.calls[id].office_held)
        {
            return;
        }
        let address = self.lines[&trunk].own_address;
        self.create_call_with(
            address,
            None,
            cs::OFFERING,
            call_reason::DIRECT,
            Direction::Inbound,
            (String::new(), String::new()),
            Carrier::Trunk(trunk),
            None,
            |c| {
                c.call_waiting = true;
                c.detected_by = detected_by;
            },
        );
    }

    fn on_ring(
        &mut self,
        trunk: LineId,
        caller_number: String,
        caller_name: String,
        tag: Option<u64>,
    ) {
        if !self.usable(trunk) || !self.lines[&trunk].kind.is_trunk() {
            return;
        }
        if self.lines[&trunk].rejecting {
            return;
        }
        let on_trunk = self.calls_on_trunk(trunk);
        // Ringing again for a call the office holds: it recalls us.
        if let Some(held) = on_trunk
            .iter()
            .copied()
            .find(|id| self.calls[id].office_held)
        {
            if self.active_call_on_trunk(trunk).is_none() {
                self.set_held_by(held, None, false);
                self.set_station(held, None);
                self.set_state(held, cs::OFFERING, 0);
            }
            return;
        }
        if let Some(alerting) = on_trunk
            .iter()
            .copied()
            .find(|id| self.calls[id].state == cs::OFFERING)
        {
            self.set_caller(alerting, &caller_number, &caller_name);
            return;
        }
        if !on_trunk.is_empty() {
            return;
        }
        let line = self.lines.get_mut(&trunk).expect("usable line");
        let tag = tag.or(line.offered_tag.take());
        // Caller id that comes in band arrives after the first ring: show
        // the call once it is known (or at the next ring without it), as a
        // phone with a caller-id display does.
        if caller_number.is_empty() && caller_name.is_empty() && line.kind.caller_id_in_band() {
            match line.ring_awaiting_caller_id.take() {
                None => {
                    line.ring_awaiting_caller_id = Some(HeldRing { tag });
                    return;
                }
                Some(held) => {
                    let tag = tag.or(held.tag);
                    self.offer_trunk_call(trunk, String::new(), String::new(), tag);
                    return;
                }
            }
        }
        self.offer_trunk_call(trunk, caller_number, caller_name, tag);
    }

    fn offer_trunk_call(
        &mut self,
        trunk: LineId,
        caller_number: String,
        caller_name: String,
        tag: Option<u64>,
    ) {
        let address = self.lines[&trunk].own_address;
        self.create_call(
            address,
            None,
            cs::OFFERING,
            call_reason::DIRECT,
            Direction::Inbound,
            (caller_number, caller_name),
            Carrier::Trunk(trunk),
            tag,
        );
    }

    fn on_caller_id(&mut self, trunk: LineId, number: String, name: String) {
        if !self.usable(trunk) || !self.lines[&trunk].kind.is_trunk() {
            return;
        }
        let held = self
            .lines
            .get_mut(&trunk)
            .and_then(|l| l.ring_awaiting_caller_id.take());
        if let Some(held) = held {
            self.offer_trunk_call(trunk, number, name, held.tag);
            return;
        }
        let on_trunk = self.calls_on_trunk(trunk);
        if let Some(alerting) = on_trunk
            .iter()
            .copied()
            .find(|id| self.calls[id].state == cs::OFFERING && !self.calls[id].call_waiting)
        {
            self.set_caller(alerting, &number, &name);
            return;
        }
        // Caller id is only sent after a ring: on an idle line it means a
        // call whose first ring we missed (a line card ignores rings for 2 s
        // after it goes on hook or is opened).
        let line = &self.lines[&trunk];
        if on_trunk.is_empty() && !line.rejecting && !line.off_hook && line.kind.caller_id_in_band()
        {
            let tag = self
                .lines
                .get_mut(&trunk)
                .and_then(|l| l.offered_tag.take());
            self.offer_trunk_call(trunk, number, name, tag);
        }
    }

    fn on_offered(&mut self, trunk: LineId, tag: u64) {
        let Some(line) = self.lines.get_mut(&trunk) else {
            return;
        };
        match &mut line.ring_awaiting_caller_id {
            Some(held) => held.tag = Some(tag),
            None => line.offered_tag = Some(tag),
        }
    }

    fn on_ring_stop(&mut self, trunk: LineId) {
        if let Some(l) = self.lines.get_mut(&trunk) {
            l.rejecting = false;
            l.ring_awaiting_caller_id = None;
            l.offered_tag = None;
        }
        let abandoned: Vec<CallId> = self
            .calls_on_trunk(trunk)
            .into_iter()
            .filter(|id| self.calls[id].state == cs::OFFERING && !self.calls[id].call_waiting)
            .collect();
        for id in abandoned {
            self.end_call(id, disconnect_mode::NORMAL);
        }
    }

    fn on_far_end_disconnect(&mut self, trunk: LineId) {
        let Some(active) = self.active_call_on_trunk(trunk).or_else(|| {
            // a held call whose caller hangs up (or, picked up from hold, rings a station)
            let seized = self.lines.get(&trunk).is_some_and(|l| l.off_hook);
            self.calls_on_trunk(trunk).into_iter().find(|id| {
                let c = &self.calls[id];
                c.state == cs::ONHOLD || (seized && c.state == cs::OFFERING && !c.call_waiting)
            })
        }) else {
            return;
        };
        let station = self.calls[&active].station;
        self.end_call(active, disconnect_mode::NORMAL);
        // A waiting call becomes an ordinary offered call: the office rings it.
        let waiting: Vec<CallId> = self
            .calls_on_trunk(trunk)
            .into_iter()
            .filter(|id| self.calls[id].call_waiting)
            .collect();
        for w in waiting {
            self.set_call_waiting(w, false);
        }
        if let Some(s) = station {
            self.start_dialing_if_off_hook(s);
        }
    }

    fn on_network_call(
        &mut self,
        line: LineId,
        caller_number: String,
        caller_name: String,
        tag: u64,
    ) {
        if !self.usable(line) {
            return;
        }
        let address = self.lines[&line].own_address;
        self.create_call(
            address,
            Some(line),
            cs::OFFERING,
            call_reason::DIRECT,
            Direction::Inbound,
            (caller_number, caller_name),
            Carrier::Network { tag },
            Some(tag),
        );
    }

    // ----- derived state: ringing, hook, media, features -----

    fn derive(&mut self) {
        let ids: Vec<LineId> = self.lines.keys().copied().collect();
        for id in ids {
            let (ring, hook, media) = self.derive_line(id);
            let l = self.lines.get_mut(&id).expect("line listed");
            if l.kind.is_station_port() {
                if l.ringing != ring {
                    l.ringing = ring;
                    self.out.push(Output::Line(id, LineCommand::Ring(ring)));
                }
            } else if l.kind.is_trunk() && l.off_hook != hook {
                l.off_hook = hook;
                self.out.push(Output::Line(id, LineCommand::Hook(hook)));
                self.emit(BusEvent::Line(id, LineProp::Hook(hook)));
            }
            let l = self.lines.get_mut(&id).expect("line listed");
            if l.media != media {
                l.media = media;
                self.out.push(Output::Media(id, media));
            }
        }
        let addrs: Vec<AddressId> = self.addresses.keys().copied().collect();
        for a in addrs {
            let f = self.features_of(a);
            let addr = self.addresses.get_mut(&a).expect("address listed");
            if addr.features != f {
                addr.features = f;
                self.emit(BusEvent::Address(a, AddressProp::Features(f)));
            }
        }
    }

    /// (ring the phone, trunk off hook, what the line transmits)
    fn derive_line(&self, id: LineId) -> (bool, bool, MediaSource) {
        let l = &self.lines[&id];
        if l.state != LineState::InService {
            return (false, false, MediaSource::Silence);
        }
        if l.kind.is_station_port() {
            let ring = !l.off_hook && self.calls.values().any(|c| self.rings_station(c, id));
            let media = if !l.off_hook {
                MediaSource::Silence
            } else if let Some(c) = self.call_at_station(id, cs::CONNECTED) {
                match self.calls[&c].carrier {
                    Carrier::Trunk(t) => MediaSource::Bridge(t),
                    Carrier::Internal { peer, .. } => self
                        .calls
                        .get(&peer)
                        .and_then(|p| p.station)
                        .map(MediaSource::Bridge)
                        .unwrap_or(MediaSource::Silence),
                    Carrier::Network { .. } => MediaSource::Silence,
                }
            } else if self.call_at_station(id, cs::RINGBACK).is_some() {
                MediaSource::Ringback
            } else if l.reorder {
                MediaSource::Reorder
            } else if l.dialing.as_deref() == Some("") {
                MediaSource::DialTone
            } else {
                MediaSource::Silence
            };
            (ring, false, media)
        } else {
            let on_trunk: Vec<&Call> = self
                .calls
                .values()
                .filter(|c| c.carrier == Carrier::Trunk(id))
                .collect();
            // A held call picked up by a station whose phone still rings
            // keeps the line seized: on hook would hang up on the caller.
            let hook = on_trunk.iter().any(|c| {
                c.state == cs::CONNECTED
                    || (c.state == cs::ONHOLD && !c.office_held)
                    || (l.off_hook
                        && c.state == cs::OFFERING
                        && c.reason == call_reason::PICKUP
                        && c.station.is_some())
            });
            let media = on_trunk
                .iter()
                .find(|c| c.state == cs::CONNECTED)
                .and_then(|c| c.station)
                .filter(|s| *s != id)
                .map(MediaSource::Bridge)
                .unwrap_or(MediaSource::Silence);
            (false, hook, media)
        }
    }
}

/// What a station's digits so far ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialAction {
    Wait,
    Reorder,
    /// `Pickup(dest, "")`; empty dest = the pickup code
    Pickup(String),
    /// an internal number
    Call(String),
}

/// Match dialled digits against the pickup code, the directed-pickup prefix
/// and the site's numbers. A number is complete when no longer number
/// continues it.
pub fn feature_code_action(
    digits: &str,
    pickup_code: &str,
    prefix: &str,
    numbers: &[String],
) -> DialAction {
    if digits == pickup_code {
        return DialAction::Pickup(String::new());
    }
    let complete = |s: &str| {
        numbers.iter().any(|n| n == s)
            && !numbers
                .iter()
                .any(|n| n.len() > s.len() && n.starts_with(s))
    };
    let continues = |s: &str| numbers.iter().any(|n| n.starts_with(s));
    if let Some(rest) = digits.strip_prefix(prefix) {
        if rest.is_empty() {
            return DialAction::Wait;
        }
        if complete(rest) {
            return DialAction::Pickup(rest.to_string());
        }
        return if continues(rest) {
            DialAction::Wait
        } else {
            DialAction::Reorder
        };
    }
    if complete(digits) {
        return DialAction::Call(digits.to_string());
    }
    if pickup_code.starts_with(digits) || prefix.starts_with(digits) || continues(digits) {
        DialAction::Wait
    } else {
        DialAction::Reorder
    }
}

impl Engine {
    /// Only stations on the hold-open policy let others take what they hold.
    fn held_pickable_by(&self, c: &Call, picker_line: LineId) -> bool {
        if c.state != cs::ONHOLD || c.office_held {
            return false;
        }
        let Some(addr) = self.addresses.get(&c.address) else {
            return false;
        };
        if addr.sharing != address_sharing::BRIDGEDEXCL || !addr.appearances.contains(&picker_line)
        {
            return false;
        }
        match c.held_by {
            Some(holder) if holder == picker_line => false,
            Some(holder) => self
                .lines
                .get(&holder)
                .is_some_and(|h| h.policy.hold == HoldMode::Open),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests;
