//! Tests of the call-state engine against `spec/pickup-semantics.md` and
//! `spec/dbus-api.md`: one unit test per rule, and property tests over random
//! sequences of bus commands and hardware events on the built-in site.
//!
//! Every output the engine produces in these tests goes through a
//! [`Tracker`] that checks the bus event stream itself (StateChanged chains,
//! removal only after DISCONNECTED then IDLE, no events for unknown calls)
//! and mirrors the properties the bus would show, so that after every step
//! the mirror can be compared with the engine's own views.

use super::*;
use crate::config;
use pickupd_api::tapi::{
    addr_cap_flags as capf, addr_feature as feat, address_sharing as sharing,
    call_reason as reason, call_state as cs, disconnect_mode as dm,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

// ---------------------------------------------------------------------------
// The bus-stream checker
// ---------------------------------------------------------------------------

/// What the bus has shown so far, rebuilt from the outputs alone.
#[derive(Default)]
struct Tracker {
    /// live calls: the states each went through, starting with CallAdded's
    calls: BTreeMap<CallId, Vec<u32>>,
    /// latest StateMode property per live call
    modes: BTreeMap<CallId, u32>,
    ever: BTreeSet<CallId>,
    removed: BTreeSet<CallId>,
    addr_calls: BTreeMap<AddressId, Vec<CallId>>,
    addr_features: BTreeMap<AddressId, u32>,
    manager_calls: Vec<CallId>,
    ringing: BTreeMap<LineId, bool>,
    media: BTreeMap<LineId, MediaSource>,
    trunk_hook: BTreeMap<LineId, bool>,
    line_state: BTreeMap<LineId, LineState>,
}

impl Tracker {
    fn feed(&mut self, out: &[Output]) -> Result<(), String> {
        for o in out {
            match o {
                Output::Bus(ev) => self.bus(ev)?,
                Output::Line(l, LineCommand::Ring(r)) => {
                    let was = self.ringing.insert(*l, *r).unwrap_or(false);
                    if was == *r {
                        return Err(format!("Ring({r}) sent to line {} twice in a row", l.0));
                    }
                }
                Output::Line(l, LineCommand::Hook(h)) => {
                    self.trunk_hook.insert(*l, *h);
                }
                Output::Line(_, LineCommand::Flash) => {}
                Output::Media(l, m) => {
                    self.media.insert(*l, *m);
                }
            }
        }
        Ok(())
    }

    fn bus(&mut self, ev: &BusEvent) -> Result<(), String> {
        match ev {
            BusEvent::CallAdded(v) => {
                if !self.ever.insert(v.id) {
                    return Err(format!(
                        "call id {} added twice (ids are never reused)",
                        v.id.0
                    ));
                }
                if v.state == cs::IDLE || v.state == cs::DISCONNECTED {
                    return Err(format!("call {} added in state {:#x}", v.id.0, v.state));
                }
                self.calls.insert(v.id, vec![v.state]);
                self.modes.insert(v.id, v.state_mode);
            }
            BusEvent::CallStateChanged {
                call,
                old,
                new,
                mode,
            } => {
                let h = self
                    .calls
                    .get_mut(call)
                    .ok_or_else(|| format!("StateChanged for call {} that is not live", call.0))?;
                let cur = *h.last().expect("history starts with CallAdded");
                if *old != cur {
                    return Err(format!(
                        "call {}: StateChanged old {old:#x} but the last state shown was {cur:#x} (history {h:x?})",
                        call.0
                    ));
                }
                if cur == cs::IDLE {
                    return Err(format!("call {} changed state after IDLE", call.0));
                }
                if (*new == cs::DISCONNECTED) != (*mode != 0) {
                    return Err(format!(
                        "call {}: state {new:#x} with mode {mode:#x}",
                        call.0
                    ));
                }
                if self.modes.get(call) != Some(mode) {
                    return Err(format!(
                        "call {}: StateChanged mode {mode:#x} but StateMode property is {:?}",
                        call.0,
                        self.modes.get(call)
                    ));
                }
                h.push(*new);
            }
            BusEvent::CallRemoved(id) => {
                let h = self
                    .calls
                    .remove(id)
                    .ok_or_else(|| format!("CallRemoved for unknown call {}", id.0))?;
                self.modes.remove(id);
                let n = h.len();
                if n < 2 || h[n - 1] != cs::IDLE || h[n - 2] != cs::DISCONNECTED {
                    return Err(format!(
                        "call {} removed with history {h:x?} (must end DISCONNECTED, IDLE)",
                        id.0
                    ));
                }
                self.removed.insert(*id);
            }
            BusEvent::Call(id, p) => {
                if !self.calls.contains_key(id) {
                    return Err(format!("property {p:?} of call {} that is not live", id.0));
                }
                if let CallProp::StateMode(m) = p {
                    self.modes.insert(*id, *m);
                }
            }
            BusEvent::AddressAdded(v) => {
                self.addr_calls.insert(v.id, v.calls.clone());
                self.addr_features.insert(v.id, v.features);
            }
            BusEvent::AddressRemoved(a) => {
                self.addr_calls.remove(a);
                self.addr_features.remove(a);
            }
            BusEvent::Address(a, AddressProp::Calls(v)) => {
                self.addr_calls.insert(*a, v.clone());
            }
            BusEvent::Address(a, AddressProp::Features(f)) => {
                self.addr_features.insert(*a, *f);
            }
            BusEvent::Manager(ManagerProp::Calls(v)) => self.manager_calls = v.clone(),
            BusEvent::LineAdded(v) => {
                self.line_state.insert(v.id, v.state);
            }
            BusEvent::Line(l, LineProp::State(s)) => {
                self.line_state.insert(*l, *s);
            }
            _ => {}
        }
        Ok(())
    }

    fn state(&self, id: CallId) -> Option<u32> {
        self.calls.get(&id).and_then(|h| h.last().copied())
    }
}

/// Everything that must hold between steps.
fn check_invariants(e: &Engine, tr: &Tracker) -> Result<(), String> {
    let ids = e.call_ids();
    let views: Vec<CallView> = ids
        .iter()
        .map(|id| e.call_view(*id).expect("listed"))
        .collect();

    // No call lost, none invented: the engine's calls are exactly the live
    // ones the bus saw added and not removed, in the state last shown.
    let live: Vec<CallId> = tr.calls.keys().copied().collect();
    if live != ids {
        return Err(format!(
            "engine calls {ids:?} but the bus shows {live:?} live"
        ));
    }
    if tr.manager_calls != ids {
        return Err(format!(
            "Manager.Calls {:?} but calls are {ids:?}",
            tr.manager_calls
        ));
    }
    for v in &views {
        if tr.state(v.id) != Some(v.state) {
            return Err(format!(
                "call {} is {:#x} but the bus last showed {:?}",
                v.id.0,
                v.state,
                tr.state(v.id)
            ));
        }
        if matches!(v.state, cs::IDLE | cs::DISCONNECTED) {
            return Err(format!("call {} lingers in state {:#x}", v.id.0, v.state));
        }
        if (v.state == cs::DISCONNECTED) != (v.state_mode != 0) {
            return Err(format!(
                "call {}: state {:#x} with StateMode {:#x}",
                v.id.0, v.state, v.state_mode
            ));
        }
    }

    // A call is never at two stations, never both connected and held.
    let mut at_station: BTreeMap<LineId, CallId> = BTreeMap::new();
    for v in &views {
        if v.state == cs::CONNECTED {
            if v.held_by.is_some() {
                return Err(format!(
                    "call {} is CONNECTED and held by {:?}",
                    v.id.0, v.held_by
                ));
            }
            let Some(s) = v.station else {
                return Err(format!("call {} is CONNECTED with no station", v.id.0));
            };
            if let Some(other) = at_station.insert(s, v.id) {
                return Err(format!(
                    "calls {} and {} are both CONNECTED at line {}",
                    other.0, v.id.0, s.0
                ));
            }
        }
        if v.state == cs::ONHOLD {
            if v.station.is_some() {
                return Err(format!(
                    "call {} is ONHOLD but its station is {:?}",
                    v.id.0, v.station
                ));
            }
            if v.held_by.is_none() {
                return Err(format!("call {} is ONHOLD and held by nobody", v.id.0));
            }
        } else if v.held_by.is_some() {
            return Err(format!(
                "call {} is {:#x} but HeldBy is {:?}",
                v.id.0, v.state, v.held_by
            ));
        }
        if v.call_waiting && v.state != cs::OFFERING {
            return Err(format!("call {} is waiting but {:#x}", v.id.0, v.state));
        }
    }

    // Addresses: Calls matches the live calls at the address, and the bus
    // shows the same Calls and Features.
    for a in e.address_ids() {
        let av = e.address_view(a).expect("listed");
        let want: Vec<CallId> = views
            .iter()
            .filter(|v| v.address == a)
            .map(|v| v.id)
            .collect();
        let mut have = av.calls.clone();
        have.sort();
        if have != want {
            return Err(format!(
                "address {} Calls {:?} but its live calls are {want:?}",
                av.number, av.calls
            ));
        }
        if tr.addr_calls.get(&a) != Some(&av.calls) {
            return Err(format!(
                "address {}: bus Calls {:?} != {:?}",
                av.number,
                tr.addr_calls.get(&a),
                av.calls
            ));
        }
        if tr.addr_features.get(&a) != Some(&av.features) {
            return Err(format!(
                "address {}: bus Features {:?} != {:#x}",
                av.number,
                tr.addr_features.get(&a),
                av.features
            ));
        }
        let detail = av.features & !feat::PICKUP;
        if (detail != 0) != (av.features & feat::PICKUP != 0) {
            return Err(format!(
                "address {}: PICKUP bit inconsistent in {:#x}",
                av.number, av.features
            ));
        }
        let lv = e.line_view(av.line).expect("address line");
        if lv.state != LineState::InService && av.features != 0 {
            return Err(format!(
                "address {} has Features {:#x} on a line out of service",
                av.number, av.features
            ));
        }
    }

    // Ringing: a phone rings exactly when an OFFERING call is for it.
    for l in e.line_ids() {
        let lv = e.line_view(l).expect("listed");
        if tr.line_state.get(&l) != Some(&lv.state) {
            return Err(format!(
                "line {}: bus State {:?} != {:?}",
                lv.name,
                tr.line_state.get(&l),
                lv.state
            ));
        }
        let ringing = e.is_ringing(l);
        if tr.ringing.get(&l).copied().unwrap_or(false) != ringing {
            return Err(format!(
                "line {}: Ring commands say {:?}, engine says {ringing}",
                lv.name,
                tr.ringing.get(&l)
            ));
        }
        if let Some(m) = e.media_of(l) {
            if tr.media.get(&l).copied().unwrap_or(MediaSource::Silence) != m {
                return Err(format!(
                    "line {}: Media outputs {:?} != {m:?}",
                    lv.name,
                    tr.media.get(&l)
                ));
            }
        }
        if !lv.kind.is_station_port() {
            if ringing {
                return Err(format!("trunk {} rings", lv.name));
            }
            continue;
        }
        let for_it = views.iter().any(|v| {
            v.state == cs::OFFERING
                && !v.call_waiting
                && match v.station {
                    Some(s) => s == l,
                    None => e
                        .address_view(v.address)
                        .is_some_and(|a| a.appearances.contains(&l)),
                }
        });
        if ringing && !for_it {
            return Err(format!("{} rings with no OFFERING call for it", lv.name));
        }
        if ringing && (lv.off_hook || lv.state != LineState::InService) {
            return Err(format!(
                "{} rings while off hook or out of service",
                lv.name
            ));
        }
        if for_it && !ringing && !lv.off_hook && lv.state == LineState::InService {
            return Err(format!(
                "{} has a call offered to it but does not ring",
                lv.name
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// A small driver around the engine
// ---------------------------------------------------------------------------

struct T {
    e: Engine,
    now: u64,
    tr: Tracker,
    /// outputs of the last step
    out: Vec<Output>,
}

const T0: u64 = 1_700_000_000_000_000;

impl T {
    fn builtin() -> T {
        T::with_site(&config::builtin_sim_site())
    }

    fn with_site(site: &config::Site) -> T {
        let (e, out) = Engine::new(site, T0);
        let mut t = T {
            e,
            now: T0,
            tr: Tracker::default(),
            out: Vec::new(),
        };
        t.take(out);
        t
    }

    fn parse(toml: &str) -> T {
        T::with_site(&config::parse("test.toml", toml, true).expect("test site parses"))
    }

    fn take(&mut self, out: Vec<Output>) {
        if let Err(msg) = self.tr.feed(&out) {
            panic!("bad bus stream: {msg}\noutputs: {out:#?}");
        }
        if let Err(msg) = check_invariants(&self.e, &self.tr) {
            panic!("invariant broken: {msg}\noutputs: {out:#?}");
        }
        self.out = out;
    }

    fn tick(&mut self) -> u64 {
        self.now += 1_000;
        self.now
    }

    fn cmd(&mut self, c: Command) -> Result<Reply, PickupError> {
        let now = self.tick();
        let (r, out) = self.e.command(now, c);
        self.take(out);
        r
    }

    fn hw(&mut self, ev: HwEvent) {
        let now = self.tick();
        let out = self.e.hardware(now, ev);
        self.take(out);
    }

    fn line(&self, name: &str) -> LineId {
        self.e
            .line_by_name(name)
            .unwrap_or_else(|| panic!("no line {name}"))
    }
    fn addr(&self, number: &str) -> AddressId {
        self.e
            .address_by_number(number)
            .unwrap_or_else(|| panic!("no address {number}"))
    }
    fn desk(&self, number: &str) -> LineId {
        self.line(&format!("desk-{number}"))
    }
    fn view(&self, c: CallId) -> CallView {
        self.e
            .call_view(c)
            .unwrap_or_else(|| panic!("call {} is gone", c.0))
    }
    fn features(&self, number: &str) -> u32 {
        self.e.address_view(self.addr(number)).unwrap().features
    }
    fn calls(&self) -> Vec<CallId> {
        self.e.call_ids()
    }
    /// The newest call (highest id).
    fn newest(&self) -> CallId {
        *self.calls().last().expect("a call exists")
    }

    fn ring_trunk(&mut self, trunk: &str, caller: &str, name: &str) -> CallId {
        let line = self.line(trunk);
        self.hw(HwEvent::RingStart {
            line,
            caller_number: caller.into(),
            caller_name: name.into(),
            tag: None,
        });
        self.newest()
    }

    fn network_call(&mut self, desk: &str, caller: &str, tag: u64) -> CallId {
        let line = self.desk(desk);
        self.hw(HwEvent::NetworkCall {
            line,
            caller_number: caller.into(),
            caller_name: format!("Caller {caller}"),
            tag,
        });
        let c = self.newest();
        assert_eq!(self.view(c).state, cs::OFFERING);
        c
    }

    fn hook(&mut self, desk: &str, off_hook: bool) {
        let line = self.desk(desk);
        self.hw(HwEvent::Hook { line, off_hook });
    }

    fn dial_digits(&mut self, desk: &str, digits: &str) {
        let line = self.desk(desk);
        for digit in digits.chars() {
            self.hw(HwEvent::Digit { line, digit });
        }
    }

    fn pickup(&mut self, picker: &str, dest: &str, group: &str) -> Result<CallId, PickupError> {
        let address = self.addr(picker);
        match self.cmd(Command::Pickup {
            address,
            dest: dest.into(),
            group: group.into(),
        }) {
            Ok(Reply::Call(c)) => Ok(c),
            Ok(other) => panic!("Pickup replied {other:?}"),
            Err(e) => Err(e),
        }
    }

    /// A trunk call answered at a station: the trunk rings, the station
    /// lifts the handset.
    fn trunk_call_at(&mut self, trunk: &str, desk: &str, caller: &str) -> CallId {
        let c = self.ring_trunk(trunk, caller, "");
        self.hook(desk, true);
        let v = self.view(c);
        assert_eq!((v.state, v.station), (cs::CONNECTED, Some(self.desk(desk))));
        c
    }

    fn bus_events(&self) -> Vec<&BusEvent> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Bus(b) => Some(b),
                _ => None,
            })
            .collect()
    }

    fn state_changes(&self, call: CallId) -> Vec<(u32, u32, u32)> {
        self.bus_events()
            .into_iter()
            .filter_map(|b| match b {
                BusEvent::CallStateChanged {
                    call: c,
                    old,
                    new,
                    mode,
                } if *c == call => Some((*old, *new, *mode)),
                _ => None,
            })
            .collect()
    }

    fn ring_cmds(&self) -> Vec<(LineId, bool)> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Line(l, LineCommand::Ring(r)) => Some((*l, *r)),
                _ => None,
            })
            .collect()
    }

    fn ringing_desks(&self) -> Vec<String> {
        ["201", "202", "203", "204", "205"]
            .into_iter()
            .filter(|n| self.e.is_ringing(self.desk(n)))
            .map(String::from)
            .collect()
    }
}

fn err_name(r: Result<CallId, PickupError>) -> &'static str {
    match r {
        Ok(c) => panic!("expected an error, got call {}", c.0),
        Err(e) => e.short_name(),
    }
}

fn unit_err(r: Result<Reply, PickupError>) -> &'static str {
    match r {
        Ok(x) => panic!("expected an error, got {x:?}"),
        Err(e) => e.short_name(),
    }
}

const ALL_DESKS: [&str; 5] = ["201", "202", "203", "204", "205"];

// ---------------------------------------------------------------------------
// The four ways to name the target
// ---------------------------------------------------------------------------

#[test]
fn directed_pickup_of_a_station_call_moves_it_to_the_picker() {
    let mut t = T::builtin();
    let old = t.network_call("202", "5551234", 7);
    assert_eq!(t.ringing_desks(), ["202"]);
    let new = t.pickup("201", "202", "").expect("directed pickup");
    assert_ne!(new, old);
    assert!(t.e.call_view(old).is_none(), "the old object is removed");
    let v = t.view(new);
    assert_eq!(
        v.address,
        t.addr("201"),
        "a station call moves to the picker's address"
    );
    assert_eq!(v.station, Some(t.desk("201")));
    assert_eq!(v.reason, reason::PICKUP);
    assert_eq!(
        (v.caller_number.as_str(), v.caller_name.as_str()),
        ("5551234", "Caller 5551234")
    );
    assert_eq!(v.called_number, "202", "called number carried over");
    assert_eq!(v.direction, Direction::Inbound);
    // 201 is on hook: it rings, the call is offered there
    assert_eq!(v.state, cs::OFFERING);
    assert_eq!(t.ringing_desks(), ["201"]);
    assert!(t.ring_cmds().contains(&(t.desk("202"), false)));
    assert!(t.ring_cmds().contains(&(t.desk("201"), true)));
    assert_eq!(
        t.e.call_tag(new),
        Some(7),
        "the network reference follows the call"
    );
    // the person answers
    t.hook("201", true);
    assert_eq!(t.view(new).state, cs::CONNECTED);
    assert_eq!(t.e.far_end_of(t.desk("201")), Some(FarEnd::Network(7)));
}

#[test]
fn directed_pickup_of_a_trunk_call_keeps_the_line_key_address() {
    let mut t = T::builtin();
    let old = t.ring_trunk("trunk1", "5559999", "Alice");
    assert_eq!(t.ringing_desks(), ALL_DESKS);
    let new = t
        .pickup("204", "5550100", "")
        .expect("directed pickup of the trunk");
    let v = t.view(new);
    assert_eq!(
        v.address,
        t.addr("5550100"),
        "design choice: stays at the trunk's address"
    );
    assert_eq!(v.station, Some(t.desk("204")));
    assert_eq!(v.reason, reason::PICKUP);
    assert_eq!(v.caller_name, "Alice");
    assert!(t.e.call_view(old).is_none());
    assert_eq!(
        t.ringing_desks(),
        ["204"],
        "ringing stops at every other appearance"
    );
}

#[test]
fn directed_pickup_with_matching_and_non_matching_group() {
    let mut t = T::builtin();
    t.network_call("202", "1", 1);
    assert_eq!(
        err_name(t.pickup("201", "202", "support")),
        "InvalidGroupId",
        "202 is not in support"
    );
    assert_eq!(t.calls().len(), 1, "a failed pickup changes nothing");
    assert_eq!(t.ringing_desks(), ["202"]);
    // 204 is in support only, but a directed pickup with 202's group works
    let c = t
        .pickup("204", "202", "sales")
        .expect("dest's group matches");
    assert_eq!(t.view(c).station, Some(t.desk("204")));

    // the group of a trunk number
    let mut t = T::builtin();
    t.ring_trunk("trunk2", "2", "");
    assert_eq!(
        err_name(t.pickup("201", "5550101", "sales")),
        "InvalidGroupId"
    );
    t.pickup("201", "5550101", "support")
        .expect("trunk2 is in support");
}

#[test]
fn other_group_pickup_needs_pickupgroupid() {
    let mut t = T::builtin();
    let old = t.network_call("204", "42", 1);
    // 202: pickup groups [sales], no PICKUPGROUPID
    assert_eq!(
        err_name(t.pickup("202", "", "support")),
        "OperationUnavailable"
    );
    // 203 has support among its own pickup groups: no cap needed
    // 201 has PICKUPGROUPID
    let c = t
        .pickup("201", "", "support")
        .expect("201 may pick in other groups");
    assert_eq!(t.view(c).caller_number, "42");
    assert!(t.e.call_view(old).is_none());

    let mut t = T::builtin();
    t.network_call("204", "42", 1);
    t.pickup("203", "", "support")
        .expect("203's own pickup group");

    // own group named explicitly, without the cap
    let mut t = T::builtin();
    t.network_call("203", "42", 1);
    t.pickup("202", "", "sales")
        .expect("202 names its own group");

    // nothing alerting in the group
    let mut t = T::builtin();
    t.network_call("204", "42", 1);
    assert_eq!(err_name(t.pickup("205", "", "sales")), "NothingToPickUp");
    assert_eq!(err_name(t.pickup("202", "", "sales")), "NothingToPickUp");
}

#[test]
fn unknown_group_is_invalid_group_id() {
    let mut t = T::builtin();
    t.network_call("202", "1", 1);
    assert_eq!(err_name(t.pickup("201", "", "marketing")), "InvalidGroupId");
    assert_eq!(
        err_name(t.pickup("202", "", "marketing")),
        "InvalidGroupId",
        "checked before the capability"
    );
    assert_eq!(
        err_name(t.pickup("201", "202", "marketing")),
        "InvalidGroupId"
    );
    assert_eq!(t.calls().len(), 1);
}

#[test]
fn malformed_or_unknown_dest_is_invalid_address() {
    let mut t = T::builtin();
    t.network_call("202", "1", 1);
    let long = "1".repeat(33);
    for dest in ["20a", "2 0", "+201", long.as_str(), "999", "2020", "55501"] {
        assert_eq!(
            err_name(t.pickup("201", dest, "")),
            "InvalidAddress",
            "dest {dest:?}"
        );
        assert_eq!(
            err_name(t.pickup("201", dest, "sales")),
            "InvalidAddress",
            "dest {dest:?} + group"
        );
    }
    assert_eq!(t.calls().len(), 1);
    // FindAddress uses the same rules
    assert_eq!(
        unit_err(t.cmd(Command::FindAddress("x".into()))),
        "InvalidAddress"
    );
    let a202 = t.addr("202");
    assert!(
        matches!(t.cmd(Command::FindAddress("202".into())), Ok(Reply::Address(a)) if a == a202)
    );
}

#[test]
fn nothing_alerting_at_dest() {
    let mut t = T::builtin();
    assert_eq!(err_name(t.pickup("201", "202", "")), "NothingToPickUp");
    assert_eq!(err_name(t.pickup("201", "5550100", "")), "NothingToPickUp");
    assert_eq!(err_name(t.pickup("201", "", "")), "NothingToPickUp");
    assert_eq!(err_name(t.pickup("201", "", "support")), "NothingToPickUp");
}

// ---------------------------------------------------------------------------
// empty / empty: the fixed order
// ---------------------------------------------------------------------------

#[test]
fn empty_empty_precedence_waiting_then_held_then_group_then_nothing() {
    let mut t = T::builtin();
    // 201 talks on trunk1 (call waiting service)
    let a = t.trunk_call_at("trunk1", "201", "100");
    // 202 answers a trunk2 call and holds it: a held call on 201's line key
    let b = t.ring_trunk("trunk2", "200", "");
    t.hook("202", true);
    assert_eq!(t.view(b).station, Some(t.desk("202")));
    t.cmd(Command::Hold(b)).unwrap();
    // something alerting in 201's pickup group (sales) at 203
    let c = t.network_call("203", "300", 3);
    assert_eq!(
        t.features("201"),
        feat::PICKUP | feat::PICKUPWAITING,
        "busy on a call-waiting line: only the flash is possible"
    );

    // 1. call-waiting wins (no waiting call was detected: the user heard it)
    let w = t.pickup("201", "", "").expect("call-waiting pickup");
    assert!(t
        .out
        .contains(&Output::Line(t.line("trunk1"), LineCommand::Flash)));
    assert_eq!(t.view(a).state, cs::ONHOLD);
    assert_eq!(t.view(w).detected_by, "user");
    assert_eq!(t.view(b).state, cs::ONHOLD, "the held call stays");
    assert_eq!(t.view(c).state, cs::OFFERING, "the group call stays");

    // hang up at 201: both trunk1 calls end
    t.cmd(Command::Drop(w)).unwrap();
    t.cmd(Command::Drop(a)).unwrap();
    t.hook("201", false);
    assert_eq!(
        t.features("201"),
        feat::PICKUP | feat::PICKUPHELD | feat::PICKUPGROUP | feat::PICKUPDIRECT
    );

    // 2. the held call on the bridged appearance
    let h = t.pickup("201", "", "").expect("held pickup");
    assert!(t.e.call_view(b).is_none());
    let hv = t.view(h);
    assert_eq!(
        (hv.address, hv.station, hv.caller_number.as_str()),
        (t.addr("5550101"), Some(t.desk("201")), "200")
    );
    assert_eq!(t.view(c).state, cs::OFFERING);
    t.hook("201", true);
    assert_eq!(t.view(h).state, cs::CONNECTED);
    t.hook("201", false);
    assert!(t.e.call_view(h).is_none());

    // 3. own group
    let g = t.pickup("201", "", "").expect("group pickup");
    assert_eq!(t.view(g).caller_number, "300");
    assert!(t.e.call_view(c).is_none());
    t.cmd(Command::Drop(g)).unwrap();

    // 4. nothing
    assert_eq!(err_name(t.pickup("201", "", "")), "NothingToPickUp");
    assert_eq!(t.features("201"), 0);
}

#[test]
fn empty_empty_own_group_only_matches_pickup_groups() {
    let mut t = T::builtin();
    t.network_call("204", "1", 1); // support
    assert_eq!(
        err_name(t.pickup("202", "", "")),
        "NothingToPickUp",
        "202 picks in sales only"
    );
    assert_eq!(
        err_name(t.pickup("201", "", "")),
        "NothingToPickUp",
        "the cap does not widen empty/empty"
    );
    t.pickup("205", "", "").expect("205 picks in support");
}

#[test]
fn oldest_alerting_call_is_chosen_first() {
    let mut t = T::builtin();
    t.network_call("203", "first", 1);
    t.network_call("202", "second", 2);
    t.ring_trunk("trunk1", "third", "");
    let p1 = t.pickup("201", "", "").unwrap();
    assert_eq!(t.view(p1).caller_number, "first");
    t.cmd(Command::Drop(p1)).unwrap();
    let p2 = t.pickup("201", "", "sales").unwrap();
    assert_eq!(t.view(p2).caller_number, "second");
    t.cmd(Command::Drop(p2)).unwrap();
    let p3 = t.pickup("201", "", "").unwrap();
    assert_eq!(t.view(p3).caller_number, "third");
}

#[test]
fn oldest_held_call_is_chosen_first() {
    let mut t = T::builtin();
    let a = t.trunk_call_at("trunk1", "204", "held-1");
    let b = t.trunk_call_at("trunk2", "205", "held-2");
    t.cmd(Command::Hold(b)).unwrap();
    t.cmd(Command::Hold(a)).unwrap();
    // b went on hold first
    let p = t.pickup("201", "", "").unwrap();
    assert_eq!(t.view(p).caller_number, "held-2");
    assert_eq!(t.view(a).state, cs::ONHOLD);
}

#[test]
fn never_the_pickers_own_address() {
    let mut t = T::builtin();
    let own = t.network_call("201", "1", 1);
    assert_eq!(err_name(t.pickup("201", "201", "")), "NothingToPickUp");
    assert_eq!(
        err_name(t.pickup("201", "", "")),
        "NothingToPickUp",
        "201's own call is in sales"
    );
    assert_eq!(err_name(t.pickup("201", "", "sales")), "NothingToPickUp");
    assert_eq!(t.features("201"), 0);
    assert_eq!(t.view(own).state, cs::OFFERING);
    // others can
    assert_ne!(t.features("202") & feat::PICKUPGROUP, 0);
}

#[test]
fn never_a_call_being_placed() {
    let mut t = T::builtin();
    t.hook("202", true);
    t.dial_digits("202", "203");
    let ids = t.calls();
    assert_eq!(ids.len(), 2);
    let (placing, receiving) = (ids[0], ids[1]);
    assert_eq!(t.view(placing).state, cs::RINGBACK);
    assert_eq!(t.view(receiving).state, cs::OFFERING);
    assert_eq!(t.e.media_of(t.desk("202")), Some(MediaSource::Ringback));
    // the placing leg is not pickable by anyone
    assert_eq!(err_name(t.pickup("201", "202", "")), "NothingToPickUp");
    // the caller cannot pick up its own call at the callee
    assert_eq!(err_name(t.pickup("202", "203", "")), "NothingToPickUp");
    assert_eq!(err_name(t.pickup("202", "", "")), "NothingToPickUp");
    assert_eq!(t.features("202"), 0);
    // a third station can
    t.hook("201", true);
    let p = t.pickup("201", "203", "").unwrap();
    assert_eq!(t.view(p).state, cs::CONNECTED);
    assert_eq!(
        t.view(placing).state,
        cs::CONNECTED,
        "the caller is connected to the picker"
    );
    assert_eq!(
        t.e.media_of(t.desk("202")),
        Some(MediaSource::Bridge(t.desk("201")))
    );
    assert_eq!(
        t.e.media_of(t.desk("201")),
        Some(MediaSource::Bridge(t.desk("202")))
    );
    assert_eq!(
        t.e.far_end_of(t.desk("202")),
        Some(FarEnd::Station(t.desk("201")))
    );
    assert!(!t.e.is_ringing(t.desk("203")));
    // hanging up ends both legs
    t.hook("202", false);
    assert!(t.calls().is_empty());
}

const PRIVATE_SITE: &str = r#"
[[line]]
name = "trunk"
kind = "sim-fxo"
number = "5550100"
call_groups = ["g"]
appearances = ["priv", "open", "other"]

[[line]]
name = "priv"
kind = "sim-fxs"
number = "301"
pickup_groups = ["g"]
hold = "private"

[[line]]
name = "open"
kind = "sim-fxs"
number = "302"
pickup_groups = ["g"]

[[line]]
name = "other"
kind = "sim-fxs"
number = "303"
pickup_groups = ["g"]
"#;

#[test]
fn private_hold_is_not_pickable() {
    let mut t = T::parse(PRIVATE_SITE);
    let (trunk, priv_, open, other) = (
        t.line("trunk"),
        t.line("priv"),
        t.line("open"),
        t.line("other"),
    );
    t.hw(HwEvent::RingStart {
        line: trunk,
        caller_number: "9".into(),
        caller_name: "".into(),
        tag: None,
    });
    let c = t.newest();
    t.hw(HwEvent::Hook {
        line: priv_,
        off_hook: true,
    });
    t.cmd(Command::Hold(c)).unwrap();
    assert_eq!(t.view(c).held_by, Some(priv_));
    assert_eq!(t.features("302") & feat::PICKUPHELD, 0);
    assert_eq!(err_name(t.pickup("302", "", "")), "NothingToPickUp");
    assert_eq!(err_name(t.pickup("302", "5550100", "")), "NothingToPickUp");
    assert_eq!(err_name(t.pickup("303", "", "g")), "NothingToPickUp");
    // only the holder takes it back
    t.cmd(Command::Unhold(c)).unwrap();
    assert_eq!(
        (t.view(c).state, t.view(c).station),
        (cs::CONNECTED, Some(priv_))
    );

    // the same at an open station: pickable
    t.hw(HwEvent::Hook {
        line: priv_,
        off_hook: false,
    });
    t.hw(HwEvent::RingStart {
        line: trunk,
        caller_number: "8".into(),
        caller_name: "".into(),
        tag: None,
    });
    let c = t.newest();
    t.hw(HwEvent::Hook {
        line: open,
        off_hook: true,
    });
    t.cmd(Command::Hold(c)).unwrap();
    assert_ne!(t.features("303") & feat::PICKUPHELD, 0);
    assert_eq!(
        t.features("302") & feat::PICKUPHELD,
        0,
        "the holder uses Unhold, not Pickup"
    );
    t.hw(HwEvent::Hook {
        line: other,
        off_hook: true,
    });
    let p = t.pickup("303", "", "").unwrap();
    assert_eq!(
        (t.view(p).state, t.view(p).station),
        (cs::CONNECTED, Some(other))
    );
}

// ---------------------------------------------------------------------------
// What a successful pickup does
// ---------------------------------------------------------------------------

#[test]
fn old_call_disconnects_with_mode_pickup_then_new_call_appears() {
    let mut t = T::builtin();
    let old = t.network_call("202", "5551234", 9);
    let new = t.pickup("203", "202", "").unwrap();
    assert_eq!(
        t.state_changes(old),
        [
            (cs::OFFERING, cs::DISCONNECTED, dm::PICKUP),
            (cs::DISCONNECTED, cs::IDLE, 0)
        ]
    );
    let ev = t.bus_events();
    let pos =
        |pred: &dyn Fn(&BusEvent) -> bool| ev.iter().position(|b| pred(b)).expect("event present");
    let idle = pos(
        &|b| matches!(b, BusEvent::CallStateChanged { call, new: cs::IDLE, .. } if *call == old),
    );
    let removed = pos(&|b| matches!(b, BusEvent::CallRemoved(c) if *c == old));
    let added = pos(&|b| matches!(b, BusEvent::CallAdded(v) if v.id == new));
    assert!(
        idle < removed && removed < added,
        "DISCONNECTED, IDLE, removed, then the new call"
    );
    let BusEvent::CallAdded(v) = ev[added] else {
        unreachable!()
    };
    assert_eq!(v.reason, reason::PICKUP);
    assert_eq!(v.caller_number, "5551234");
    assert_eq!(v.caller_name, "Caller 5551234");
    assert_eq!(v.station, Some(t.desk("203")));
    assert_eq!(v.state_mode, 0);
    assert!(v.created_us >= T0);
}

#[test]
fn new_call_connected_when_picker_off_hook() {
    let mut t = T::builtin();
    // off hook first, then the call arrives (no ring at an off-hook phone)
    t.hook("202", true);
    assert_eq!(t.e.media_of(t.desk("202")), Some(MediaSource::DialTone));
    let old = t.ring_trunk("trunk1", "77", "Bob");
    assert_eq!(t.ringing_desks(), ["201", "203", "204", "205"]);
    let new = t.pickup("202", "", "").unwrap();
    assert!(t.e.call_view(old).is_none());
    let v = t.view(new);
    assert_eq!(
        (v.state, v.station, v.reason),
        (cs::CONNECTED, Some(t.desk("202")), reason::PICKUP)
    );
    // created OFFERING and connected in the same step, returned with the reply
    assert!(matches!(
        t.state_changes(new)[..],
        [] | [(cs::OFFERING, cs::CONNECTED, 0)]
    ));
    assert!(t.ringing_desks().is_empty(), "ringing stops everywhere");
    let trunk1 = t.line("trunk1");
    assert!(
        t.out
            .contains(&Output::Line(trunk1, LineCommand::Hook(true))),
        "the trunk is answered"
    );
    assert_eq!(
        t.e.media_of(t.desk("202")),
        Some(MediaSource::Bridge(trunk1))
    );
    assert_eq!(
        t.e.media_of(trunk1),
        Some(MediaSource::Bridge(t.desk("202")))
    );
    assert_eq!(t.e.far_end_of(t.desk("202")), Some(FarEnd::Trunk(trunk1)));
}

#[test]
fn new_call_offering_and_rung_when_picker_on_hook() {
    let mut t = T::builtin();
    let old = t.ring_trunk("trunk2", "77", "Bob");
    let new = t.pickup("205", "", "").unwrap();
    assert!(t.e.call_view(old).is_none());
    let v = t.view(new);
    assert_eq!(
        (v.state, v.station, v.reason),
        (cs::OFFERING, Some(t.desk("205")), reason::PICKUP)
    );
    assert_eq!(t.ringing_desks(), ["205"]);
    for d in ["201", "202", "203", "204"] {
        assert!(
            t.ring_cmds().contains(&(t.desk(d), false)),
            "{d} stops ringing"
        );
    }
    assert!(
        !t.ring_cmds().contains(&(t.desk("205"), false)),
        "205 keeps ringing (for the new call)"
    );
    assert!(
        !t.e.line_view(t.line("trunk2")).unwrap().off_hook,
        "the trunk is answered when the person answers"
    );
    t.hook("205", true);
    let v = t.view(new);
    assert_eq!((v.state, v.reason), (cs::CONNECTED, reason::PICKUP));
    assert!(t.e.line_view(t.line("trunk2")).unwrap().off_hook);
    assert!(t.ringing_desks().is_empty());
}

#[test]
fn held_trunk_call_picked_by_on_hook_station_keeps_the_trunk_seized() {
    let mut t = T::builtin();
    let a = t.trunk_call_at("trunk1", "202", "77");
    t.cmd(Command::Hold(a)).unwrap();
    let trunk1 = t.line("trunk1");
    assert!(
        t.e.line_view(trunk1).unwrap().off_hook,
        "held: the trunk stays off hook"
    );
    let p = t.pickup("203", "", "").unwrap();
    assert_eq!(t.view(p).state, cs::OFFERING);
    assert!(
        !t.out
            .contains(&Output::Line(trunk1, LineCommand::Hook(false))),
        "going on hook would hang up on the held caller"
    );
    assert!(t.e.line_view(trunk1).unwrap().off_hook);
    t.hook("203", true);
    assert_eq!(t.view(p).state, cs::CONNECTED);
    assert_eq!(
        t.e.media_of(t.desk("203")),
        Some(MediaSource::Bridge(trunk1))
    );

    // the held caller hangs up while the picker's phone rings: the call ends
    let a = t.trunk_call_at("trunk2", "204", "78");
    t.cmd(Command::Hold(a)).unwrap();
    let p = t.pickup("205", "", "").unwrap();
    assert_eq!(t.ringing_desks(), ["205"]);
    let trunk2 = t.line("trunk2");
    assert!(t.e.line_view(trunk2).unwrap().off_hook);
    t.hw(HwEvent::FarEndDisconnect { line: trunk2 });
    assert!(t.e.call_view(p).is_none());
    assert!(t.ringing_desks().is_empty());
    assert!(!t.e.line_view(trunk2).unwrap().off_hook);
}

#[test]
fn picked_call_ringing_the_picker_is_not_pickable_again() {
    let mut t = T::builtin();
    t.ring_trunk("trunk1", "1", "");
    let p = t.pickup("202", "5550100", "").unwrap();
    assert_eq!(t.view(p).state, cs::OFFERING);
    assert_eq!(t.features("201"), 0, "nothing alerting any more");
    assert_eq!(err_name(t.pickup("201", "5550100", "")), "NothingToPickUp");
    assert_eq!(err_name(t.pickup("203", "", "")), "NothingToPickUp");
    assert_eq!(err_name(t.pickup("201", "202", "")), "NothingToPickUp");
    // station call: moves to 202's address, which is in sales
    let mut t = T::builtin();
    t.network_call("204", "1", 1);
    let p = t.pickup("202", "204", "").unwrap();
    assert_eq!(t.view(p).address, t.addr("202"));
    assert_eq!(err_name(t.pickup("203", "", "")), "NothingToPickUp");
    assert_eq!(err_name(t.pickup("201", "202", "")), "NothingToPickUp");
    // the picker answers
    t.hook("202", true);
    assert_eq!(t.view(p).state, cs::CONNECTED);
}

// ---------------------------------------------------------------------------
// Call waiting
// ---------------------------------------------------------------------------

#[test]
fn call_waiting_with_a_detected_waiting_call() {
    let mut t = T::builtin();
    let a = t.trunk_call_at("trunk1", "201", "first");
    let trunk1 = t.line("trunk1");
    t.hw(HwEvent::CallWaitingTone { line: trunk1 });
    let w = t.newest();
    assert_ne!(w, a);
    let wv = t.view(w);
    assert_eq!(
        (wv.state, wv.call_waiting, wv.detected_by),
        (cs::OFFERING, true, "sas")
    );
    assert!(
        t.ringing_desks().is_empty(),
        "a waiting call does not ring the phones"
    );
    assert_eq!(
        t.features("202") & (feat::PICKUPDIRECT | feat::PICKUPGROUP),
        0,
        "a waiting call is not alerting"
    );
    assert_eq!(err_name(t.pickup("202", "5550100", "")), "NothingToPickUp");
    assert_eq!(t.features("201"), feat::PICKUP | feat::PICKUPWAITING);

    let p = t.pickup("201", "", "").unwrap();
    assert_eq!(p, w, "the detected call object is returned");
    assert_eq!(t.state_changes(w), [(cs::OFFERING, cs::CONNECTED, 0)]);
    let wv = t.view(w);
    assert_eq!(
        (wv.call_waiting, wv.reason, wv.station),
        (false, reason::PICKUP, Some(t.desk("201")))
    );
    assert!(t.out.contains(&Output::Bus(BusEvent::Call(
        w,
        CallProp::CallWaiting(false)
    ))));
    assert_eq!(t.state_changes(a), [(cs::CONNECTED, cs::ONHOLD, 0)]);
    assert_eq!(t.view(a).held_by, Some(t.desk("201")));
    assert!(t.out.contains(&Output::Line(trunk1, LineCommand::Flash)));
    assert!(t.e.line_view(trunk1).unwrap().off_hook);
    // the office-held call is not pickable by others
    assert_eq!(t.features("202") & feat::PICKUPHELD, 0);
    assert_eq!(err_name(t.pickup("202", "", "")), "NothingToPickUp");

    // flash back: SwapHold
    t.cmd(Command::SwapHold { call: w, held: a }).unwrap();
    assert_eq!(
        (t.view(a).state, t.view(w).state),
        (cs::CONNECTED, cs::ONHOLD)
    );
    assert_eq!(
        t.out
            .iter()
            .filter(|o| **o == Output::Line(trunk1, LineCommand::Flash))
            .count(),
        1
    );
}

#[test]
fn call_waiting_with_none_detected_makes_a_user_call() {
    let mut t = T::builtin();
    let a = t.trunk_call_at("trunk2", "204", "first");
    let trunk2 = t.line("trunk2");
    let before = t.calls();
    let p = t.pickup("204", "", "").unwrap();
    assert!(
        !before.contains(&p),
        "a new call object for the waiting party"
    );
    let v = t.view(p);
    assert_eq!(
        (
            v.state,
            v.reason,
            v.detected_by,
            v.station,
            v.address,
            v.call_waiting
        ),
        (
            cs::CONNECTED,
            reason::PICKUP,
            "user",
            Some(t.desk("204")),
            t.addr("5550101"),
            false
        )
    );
    assert_eq!(t.view(a).state, cs::ONHOLD);
    assert!(t.out.contains(&Output::Line(trunk2, LineCommand::Flash)));
    assert_eq!(
        t.e.media_of(t.desk("204")),
        Some(MediaSource::Bridge(trunk2))
    );
    // the waiting party hangs up: the first call is still held by the office
    t.hw(HwEvent::FarEndDisconnect { line: trunk2 });
    assert!(t.e.call_view(p).is_none());
    assert_eq!(t.view(a).state, cs::ONHOLD);
}

#[test]
fn call_waiting_only_on_lines_with_the_service() {
    let site = r#"
[[line]]
name = "trunk"
kind = "sim-fxo"
number = "5550100"
call_groups = ["g"]
appearances = ["a", "b"]

[[line]]
name = "a"
kind = "sim-fxs"
number = "301"
pickup_groups = ["g"]

[[line]]
name = "b"
kind = "sim-fxs"
number = "302"
pickup_groups = ["g"]
"#;
    let mut t = T::parse(site);
    assert_eq!(
        t.e.address_view(t.addr("301")).unwrap().cap_flags & capf::PICKUPCALLWAIT,
        0
    );
    let trunk = t.line("trunk");
    t.hw(HwEvent::RingStart {
        line: trunk,
        caller_number: "1".into(),
        caller_name: "".into(),
        tag: None,
    });
    let c = t.newest();
    t.hw(HwEvent::Hook {
        line: t.line("a"),
        off_hook: true,
    });
    assert_eq!(t.view(c).state, cs::CONNECTED);
    assert_eq!(t.features("301"), 0, "no PICKUPWAITING without the service");
    t.hw(HwEvent::CallWaitingTone { line: trunk });
    assert_eq!(
        t.calls(),
        [c],
        "a tone on a line without call waiting is ignored"
    );
    assert_eq!(err_name(t.pickup("301", "", "")), "NothingToPickUp");
    assert!(!t
        .out
        .iter()
        .any(|o| matches!(o, Output::Line(_, LineCommand::Flash))));
}

// ---------------------------------------------------------------------------
// Feature codes at the phone
// ---------------------------------------------------------------------------

#[test]
fn feature_code_star8_picks_up_in_own_group() {
    let mut t = T::builtin();
    let old = t.network_call("203", "555", 1);
    t.hook("202", true);
    t.dial_digits("202", "*8");
    assert!(t.e.call_view(old).is_none());
    let p = t.newest();
    let v = t.view(p);
    assert_eq!(
        (v.state, v.station, v.reason, v.caller_number.as_str()),
        (cs::CONNECTED, Some(t.desk("202")), reason::PICKUP, "555")
    );
    assert!(t.ringing_desks().is_empty());
}

#[test]
fn feature_code_directed_prefix_and_number() {
    let mut t = T::builtin();
    let old = t.network_call("201", "555", 1);
    t.hook("204", true); // 204 is not in sales: only a directed pickup reaches 201
    t.dial_digits("204", "**20");
    assert!(t.e.call_view(old).is_some(), "**20 is not complete");
    t.dial_digits("204", "1");
    assert!(t.e.call_view(old).is_none());
    let v = t.view(t.newest());
    assert_eq!(
        (v.state, v.station, v.address),
        (cs::CONNECTED, Some(t.desk("204")), t.addr("204"))
    );

    // a trunk number
    // (lifting the handset while a line key rings answers it: off hook first)
    let mut t = T::builtin();
    t.hook("201", true);
    t.ring_trunk("trunk2", "1", "");
    t.dial_digits("201", "**5550101");
    let v = t.view(t.newest());
    assert_eq!(
        (v.state, v.station, v.address, v.reason),
        (
            cs::CONNECTED,
            Some(t.desk("201")),
            t.addr("5550101"),
            reason::PICKUP
        )
    );
}

#[test]
fn failed_feature_code_plays_reorder() {
    let mut t = T::builtin();
    t.hook("202", true);
    assert_eq!(t.e.media_of(t.desk("202")), Some(MediaSource::DialTone));
    t.dial_digits("202", "*8");
    assert!(t.calls().is_empty());
    assert_eq!(t.e.media_of(t.desk("202")), Some(MediaSource::Reorder));
    assert!(t
        .out
        .contains(&Output::Media(t.desk("202"), MediaSource::Reorder)));
    // more digits do nothing until on hook
    t.dial_digits("202", "*8");
    assert_eq!(t.e.media_of(t.desk("202")), Some(MediaSource::Reorder));
    t.hook("202", false);
    assert_eq!(t.e.media_of(t.desk("202")), Some(MediaSource::Silence));
    t.hook("202", true);
    assert_eq!(t.e.media_of(t.desk("202")), Some(MediaSource::DialTone));

    // directed at a number with nothing alerting, and at an unknown number
    t.dial_digits("202", "**203");
    assert_eq!(t.e.media_of(t.desk("202")), Some(MediaSource::Reorder));
    t.hook("202", false);
    t.hook("202", true);
    t.dial_digits("202", "**9");
    assert_eq!(t.e.media_of(t.desk("202")), Some(MediaSource::Reorder));
    t.hook("202", false);
    t.hook("202", true);
    // a call offered to 202 while its phone is off hook (so it does not ring)
    t.network_call("202", "1", 1);
    assert!(!t.e.is_ringing(t.desk("202")));
    t.hook("203", true);
    t.dial_digits("203", "**202");
    assert_eq!(t.view(t.newest()).station, Some(t.desk("203")));
}

#[test]
fn feature_code_action_table() {
    let numbers: Vec<String> = ["201", "202", "5550100", "20"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let f = |d: &str| feature_code_action(d, "*8", "**", &numbers);
    assert_eq!(f("*"), DialAction::Wait);
    assert_eq!(f("*8"), DialAction::Pickup(String::new()));
    assert_eq!(f("**"), DialAction::Wait);
    assert_eq!(f("**2"), DialAction::Wait);
    assert_eq!(f("**20"), DialAction::Wait, "20 is a prefix of 201");
    assert_eq!(f("**201"), DialAction::Pickup("201".into()));
    assert_eq!(f("**9"), DialAction::Reorder);
    assert_eq!(f("*9"), DialAction::Reorder);
    assert_eq!(f("202"), DialAction::Call("202".into()));
    assert_eq!(f("9"), DialAction::Reorder);
}

// ---------------------------------------------------------------------------
// Call control
// ---------------------------------------------------------------------------

#[test]
fn answer_happy_path_and_invalid_state() {
    let mut t = T::builtin();
    let c = t.network_call("202", "1", 1);
    t.cmd(Command::Answer(c)).unwrap();
    assert_eq!(t.state_changes(c), [(cs::OFFERING, cs::CONNECTED, 0)]);
    assert_eq!(t.view(c).station, Some(t.desk("202")));
    assert_eq!(unit_err(t.cmd(Command::Answer(c))), "InvalidCallState");
    // a trunk call answered by the daemon on the trunk itself
    let tc = t.ring_trunk("trunk1", "2", "");
    t.cmd(Command::Answer(tc)).unwrap();
    let trunk1 = t.line("trunk1");
    assert_eq!(
        (t.view(tc).state, t.view(tc).station),
        (cs::CONNECTED, Some(trunk1))
    );
    assert!(t.e.line_view(trunk1).unwrap().off_hook);
    assert!(t.ringing_desks().is_empty());
    // gone
    t.cmd(Command::Drop(tc)).unwrap();
    assert_eq!(unit_err(t.cmd(Command::Answer(tc))), "InvalidCallState");
}

#[test]
fn drop_happy_path_and_invalid_state() {
    let mut t = T::builtin();
    let c = t.network_call("202", "1", 1);
    t.cmd(Command::Drop(c)).unwrap();
    assert_eq!(
        t.state_changes(c),
        [
            (cs::OFFERING, cs::DISCONNECTED, dm::REJECT),
            (cs::DISCONNECTED, cs::IDLE, 0)
        ]
    );
    assert!(t.out.contains(&Output::Bus(BusEvent::CallRemoved(c))));
    assert_eq!(unit_err(t.cmd(Command::Drop(c))), "InvalidCallState");
    let a = t.trunk_call_at("trunk1", "203", "1");
    t.cmd(Command::Drop(a)).unwrap();
    assert_eq!(
        t.state_changes(a)[0],
        (cs::CONNECTED, cs::DISCONNECTED, dm::NORMAL)
    );
    assert!(!t.e.line_view(t.line("trunk1")).unwrap().off_hook);
    // (203 is still off hook; the engine leaves it silent until on hook,
    // unlike after FarEndDisconnect, which gives dial tone again)
    assert_eq!(
        unit_err(t.cmd(Command::Drop(CallId(999)))),
        "InvalidCallState"
    );
}

#[test]
fn hold_unhold_happy_paths_and_invalid_state() {
    let mut t = T::builtin();
    let off = t.network_call("204", "1", 1);
    assert_eq!(
        unit_err(t.cmd(Command::Hold(off))),
        "InvalidCallState",
        "OFFERING cannot be held"
    );
    assert_eq!(
        unit_err(t.cmd(Command::Unhold(off))),
        "InvalidCallState",
        "OFFERING is not held"
    );
    let a = t.trunk_call_at("trunk1", "201", "1");
    assert_eq!(
        unit_err(t.cmd(Command::Unhold(a))),
        "InvalidCallState",
        "CONNECTED is not held"
    );
    t.cmd(Command::Hold(a)).unwrap();
    let v = t.view(a);
    assert_eq!(
        (v.state, v.station, v.held_by),
        (cs::ONHOLD, None, Some(t.desk("201")))
    );
    assert_eq!(
        unit_err(t.cmd(Command::Hold(a))),
        "InvalidCallState",
        "already held"
    );
    assert_eq!(t.e.media_of(t.desk("201")), Some(MediaSource::DialTone));
    assert!(
        t.e.line_view(t.line("trunk1")).unwrap().off_hook,
        "held: trunk stays seized"
    );
    t.cmd(Command::Unhold(a)).unwrap();
    let v = t.view(a);
    assert_eq!(
        (v.state, v.station, v.held_by),
        (cs::CONNECTED, Some(t.desk("201")), None)
    );
    // Unhold while the station is in another call
    t.cmd(Command::Hold(a)).unwrap();
    let b = t.pickup("201", "", "support").unwrap(); // 201 has the cap; 204's call
    assert_eq!(t.view(b).state, cs::CONNECTED);
    assert!(t.e.call_view(off).is_none());
    assert_eq!(unit_err(t.cmd(Command::Unhold(a))), "InvalidCallState");
}

#[test]
fn swaphold_happy_path_and_invalid_state() {
    let mut t = T::builtin();
    let a = t.trunk_call_at("trunk1", "201", "A");
    t.cmd(Command::Hold(a)).unwrap();
    t.ring_trunk("trunk2", "B", "");
    let b = t.pickup("201", "5550101", "").unwrap();
    assert_eq!(t.view(b).state, cs::CONNECTED);
    t.cmd(Command::SwapHold { call: b, held: a }).unwrap();
    assert_eq!(
        (t.view(a).state, t.view(b).state),
        (cs::CONNECTED, cs::ONHOLD)
    );
    assert_eq!(t.view(b).held_by, Some(t.desk("201")));
    assert_eq!(
        t.e.media_of(t.desk("201")),
        Some(MediaSource::Bridge(t.line("trunk1")))
    );
    t.cmd(Command::SwapHold { call: a, held: b }).unwrap();
    assert_eq!(
        (t.view(a).state, t.view(b).state),
        (cs::ONHOLD, cs::CONNECTED)
    );
    // the first call must be CONNECTED
    assert_eq!(
        unit_err(t.cmd(Command::SwapHold { call: a, held: b })),
        "InvalidCallState"
    );
    assert_eq!(
        (t.view(a).state, t.view(b).state),
        (cs::ONHOLD, cs::CONNECTED)
    );
}

#[test]
fn swaphold_needs_a_call_held_by_the_same_station() {
    let mut t = T::builtin();
    let a = t.trunk_call_at("trunk1", "201", "A");
    t.cmd(Command::Hold(a)).unwrap();
    let n = t.network_call("203", "N", 5);
    t.hook("203", true);
    assert_eq!(t.view(n).state, cs::CONNECTED);
    assert_eq!(
        unit_err(t.cmd(Command::SwapHold { call: n, held: a })),
        "InvalidCallState"
    );
    let m = t.network_call("204", "M", 6);
    assert_eq!(
        unit_err(t.cmd(Command::SwapHold { call: n, held: m })),
        "InvalidCallState"
    );
    assert_eq!(
        unit_err(t.cmd(Command::SwapHold { call: m, held: n })),
        "InvalidCallState"
    );
    assert_eq!(t.view(a).state, cs::ONHOLD);
    assert_eq!(t.view(n).state, cs::CONNECTED);
}

// ---------------------------------------------------------------------------
// Features and CapFlags
// ---------------------------------------------------------------------------

#[test]
fn cap_flags_of_the_builtin_site() {
    let t = T::builtin();
    for (n, groupid) in [
        ("201", true),
        ("202", false),
        ("203", false),
        ("204", false),
        ("205", true),
    ] {
        let av = t.e.address_view(t.addr(n)).unwrap();
        assert_eq!(av.cap_flags & capf::PICKUPGROUPID != 0, groupid, "{n}");
        assert_ne!(
            av.cap_flags & capf::PICKUPCALLWAIT,
            0,
            "{n} reaches call-waiting trunks"
        );
        assert_eq!(av.sharing, sharing::PRIVATE);
        assert_eq!(av.appearances, [t.desk(n)]);
        assert_eq!(av.features, 0);
    }
    for n in ["5550100", "5550101"] {
        let av = t.e.address_view(t.addr(n)).unwrap();
        assert_eq!(av.sharing, sharing::BRIDGEDEXCL);
        assert_eq!(av.appearances, ALL_DESKS.map(|d| t.desk(d)));
        assert_ne!(av.cap_flags & capf::PICKUPCALLWAIT, 0);
        assert_eq!(av.cap_flags & capf::PICKUPGROUPID, 0);
    }
    let l201 = t.e.line_view(t.desk("201")).unwrap();
    assert_eq!(
        l201.addresses,
        [t.addr("201"), t.addr("5550100"), t.addr("5550101")]
    );
}

#[test]
fn features_follow_the_situation() {
    let mut t = T::builtin();
    let all = |t: &T| ALL_DESKS.map(|d| t.features(d));
    assert_eq!(all(&t), [0; 5]);

    // a call alerting at 202 (sales)
    let c = t.network_call("202", "1", 1);
    let dg = feat::PICKUP | feat::PICKUPDIRECT | feat::PICKUPGROUP;
    let d = feat::PICKUP | feat::PICKUPDIRECT;
    assert_eq!(all(&t), [dg, 0, dg, d, d]);
    assert!(t.out.contains(&Output::Bus(BusEvent::Address(
        t.addr("201"),
        AddressProp::Features(dg)
    ))));

    // 202 answers: nothing alerting
    t.hook("202", true);
    assert_eq!(t.view(c).state, cs::CONNECTED);
    assert_eq!(all(&t), [0; 5]);
    t.hook("202", false);

    // a trunk2 call (support) rings every desk
    let tc = t.ring_trunk("trunk2", "2", "");
    assert_eq!(all(&t), [d, d, dg, dg, dg]);
    // 204 answers on a call-waiting trunk
    t.hook("204", true);
    let w = feat::PICKUP | feat::PICKUPWAITING;
    assert_eq!(all(&t), [0, 0, 0, w, 0]);
    assert_eq!(
        t.features("5550101"),
        w,
        "the trunk address has a connected call on a call-waiting line"
    );
    // 204 holds it: held pickable on the other appearances
    t.cmd(Command::Hold(tc)).unwrap();
    let h = feat::PICKUP | feat::PICKUPHELD;
    assert_eq!(all(&t), [h, h, h, 0, h]);
    assert_eq!(t.features("5550101"), 0);
    // 203 takes it (off hook): everything clear but 203's waiting
    t.hook("203", true);
    let p = t.pickup("203", "", "").unwrap();
    assert_eq!(t.view(p).state, cs::CONNECTED);
    assert_eq!(all(&t), [0, 0, w, 0, 0]);
    // the caller hangs up
    t.hw(HwEvent::FarEndDisconnect {
        line: t.line("trunk2"),
    });
    assert!(t.calls().is_empty());
    assert_eq!(all(&t), [0; 5]);
}

#[test]
fn features_are_zero_for_a_busy_station_except_waiting() {
    let mut t = T::builtin();
    t.hook("201", true);
    t.dial_digits("201", "202"); // internal call 201 -> 202 ringing
    t.network_call("203", "1", 1);
    assert_eq!(t.features("201"), 0, "201 is placing a call: no pickup now");
    assert_eq!(err_name(t.pickup("201", "203", "")), "ResourceUnavailable");
    assert_eq!(t.view(t.newest()).state, cs::OFFERING);
}

// ---------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------

#[test]
fn unplugged_station_ends_its_calls_and_goes_out_of_service() {
    let mut t = T::builtin();
    let a = t.trunk_call_at("trunk1", "201", "1");
    let d201 = t.desk("201");
    t.hw(HwEvent::DeviceGone {
        line: d201,
        why: "usb".into(),
    });
    assert_eq!(
        t.state_changes(a),
        [
            (cs::CONNECTED, cs::DISCONNECTED, dm::OUTOFORDER),
            (cs::DISCONNECTED, cs::IDLE, 0)
        ]
    );
    assert!(t.calls().is_empty());
    let lv = t.e.line_view(d201).unwrap();
    assert_eq!((lv.state, lv.off_hook), (LineState::OutOfService, false));
    assert!(t.out.contains(&Output::Bus(BusEvent::Line(
        d201,
        LineProp::State(LineState::OutOfService)
    ))));
    assert!(
        !t.e.line_view(t.line("trunk1")).unwrap().off_hook,
        "the trunk hangs up"
    );
    // an out-of-service station neither rings nor picks up
    t.network_call("202", "2", 2);
    assert!(!t.e.is_ringing(d201));
    assert_eq!(t.features("201"), 0);
    assert_eq!(err_name(t.pickup("201", "202", "")), "ResourceUnavailable");
    t.ring_trunk("trunk2", "3", "");
    assert_eq!(t.ringing_desks(), ["202", "203", "204", "205"]);
    // back
    t.hw(HwEvent::DeviceBack {
        line: d201,
        off_hook: false,
    });
    assert_eq!(t.e.line_view(d201).unwrap().state, LineState::InService);
    assert!(t.out.contains(&Output::Bus(BusEvent::Line(
        d201,
        LineProp::State(LineState::InService)
    ))));
    assert!(t.e.is_ringing(d201), "trunk2's line key rings again");
    assert_ne!(t.features("201"), 0);
    t.pickup("201", "202", "").unwrap();
}

#[test]
fn unplugged_trunk_ends_its_calls() {
    let mut t = T::builtin();
    let trunk1 = t.line("trunk1");
    let c = t.ring_trunk("trunk1", "1", "");
    assert_eq!(t.ringing_desks(), ALL_DESKS);
    t.hw(HwEvent::DeviceGone {
        line: trunk1,
        why: "gone".into(),
    });
    assert_eq!(
        t.state_changes(c),
        [
            (cs::OFFERING, cs::DISCONNECTED, dm::OUTOFORDER),
            (cs::DISCONNECTED, cs::IDLE, 0)
        ]
    );
    assert!(t.ringing_desks().is_empty());
    assert_eq!(
        t.e.line_view(trunk1).unwrap().state,
        LineState::OutOfService
    );
    // rings on a dead trunk are ignored
    t.hw(HwEvent::RingStart {
        line: trunk1,
        caller_number: "1".into(),
        caller_name: "".into(),
        tag: None,
    });
    assert!(t.calls().is_empty());
    t.hw(HwEvent::DeviceBack {
        line: trunk1,
        off_hook: false,
    });
    assert_eq!(t.e.line_view(trunk1).unwrap().state, LineState::InService);
    let c = t.ring_trunk("trunk1", "1", "");
    assert_eq!(t.view(c).state, cs::OFFERING);
}

#[test]
fn held_trunk_call_survives_unplugging_the_holder() {
    let mut t = T::builtin();
    let a = t.trunk_call_at("trunk1", "201", "1");
    t.cmd(Command::Hold(a)).unwrap();
    t.hw(HwEvent::DeviceGone {
        line: t.desk("201"),
        why: "x".into(),
    });
    assert_eq!(t.view(a).state, cs::ONHOLD);
    let p = t
        .pickup("202", "", "")
        .expect("open hold: another appearance takes it");
    assert_eq!(t.view(p).station, Some(t.desk("202")));
}

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

/// One step of the world or of a bus client, on the built-in site.
#[derive(Debug, Clone)]
enum Op {
    Ring {
        trunk: usize,
        caller: u8,
    },
    RingStop {
        trunk: usize,
    },
    FarEnd {
        trunk: usize,
    },
    CwTone {
        trunk: usize,
    },
    NetCall {
        desk: usize,
        tag: u64,
    },
    NetHangup {
        tag: u64,
    },
    Hook {
        desk: usize,
        off: bool,
    },
    Flash {
        desk: usize,
    },
    Digit {
        desk: usize,
        digit: char,
    },
    Code {
        desk: usize,
        code: usize,
    },
    Gone {
        line: usize,
    },
    Back {
        line: usize,
        off: bool,
    },
    Pickup {
        addr: usize,
        dest: usize,
        group: usize,
    },
    Dial {
        addr: usize,
        number: usize,
    },
    Answer(usize),
    Drop(usize),
    Hold(usize),
    Unhold(usize),
    Swap(usize, usize),
}

const LINES: [&str; 7] = [
    "trunk1", "trunk2", "desk-201", "desk-202", "desk-203", "desk-204", "desk-205",
];
const NUMBERS: [&str; 7] = ["5550100", "5550101", "201", "202", "203", "204", "205"];
const DESTS: [&str; 10] = [
    "", "", "", "5550100", "5550101", "201", "202", "203", "204", "x1",
];
const GROUPS: [&str; 6] = ["", "", "", "sales", "support", "nope"];
const CODES: [&str; 6] = ["*8", "**201", "**202", "**5550100", "**5550101", "203"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize, any::<u8>()).prop_map(|(trunk, caller)| Op::Ring { trunk, caller }),
        1 => (0..2usize).prop_map(|trunk| Op::RingStop { trunk }),
        1 => (0..2usize).prop_map(|trunk| Op::FarEnd { trunk }),
        2 => (0..2usize).prop_map(|trunk| Op::CwTone { trunk }),
        2 => (0..5usize, 0..4u64).prop_map(|(desk, tag)| Op::NetCall { desk, tag }),
        1 => (0..4u64).prop_map(|tag| Op::NetHangup { tag }),
        5 => (0..5usize, any::<bool>()).prop_map(|(desk, off)| Op::Hook { desk, off }),
        2 => (0..5usize).prop_map(|desk| Op::Flash { desk }),
        1 => (0..5usize, prop::sample::select(vec!['*', '8', '2', '0', '1', '3', '#'])).prop_map(|(desk, digit)| Op::Digit { desk, digit }),
        2 => (0..5usize, 0..CODES.len()).prop_map(|(desk, code)| Op::Code { desk, code }),
        1 => (0..7usize).prop_map(|line| Op::Gone { line }),
        1 => (0..7usize, any::<bool>()).prop_map(|(line, off)| Op::Back { line, off }),
        6 => (0..7usize, 0..DESTS.len(), 0..GROUPS.len()).prop_map(|(addr, dest, group)| Op::Pickup { addr, dest, group }),
        1 => (0..7usize, 0..7usize).prop_map(|(addr, number)| Op::Dial { addr, number }),
        2 => any::<usize>().prop_map(Op::Answer),
        2 => any::<usize>().prop_map(Op::Drop),
        2 => any::<usize>().prop_map(Op::Hold),
        2 => any::<usize>().prop_map(Op::Unhold),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Swap(a, b)),
    ]
}

/// Apply one op; returns an error message if a rule is broken.
fn apply(t: &mut T, op: &Op) -> Result<(), String> {
    let now = t.tick();
    let pick = |t: &T, i: usize| -> Option<CallId> {
        let ids = t.e.call_ids();
        (!ids.is_empty()).then(|| ids[i % ids.len()])
    };
    let line = |t: &T, i: usize| t.e.line_by_name(LINES[i]).expect("builtin line");
    let desk = |t: &T, i: usize| line(t, i + 2);
    let mut failed = Ok(());
    let mut hw = |t: &mut T, ev: HwEvent| {
        let out = t.e.hardware(now, ev);
        if failed.is_ok() {
            failed = t.tr.feed(&out).and_then(|_| check_invariants(&t.e, &t.tr));
        }
    };
    match op {
        Op::Ring { trunk, caller } => {
            let l = line(t, *trunk);
            hw(
                t,
                HwEvent::RingStart {
                    line: l,
                    caller_number: format!("555{caller}"),
                    caller_name: String::new(),
                    tag: None,
                },
            )
        }
        Op::RingStop { trunk } => {
            let l = line(t, *trunk);
            hw(t, HwEvent::RingStop { line: l })
        }
        Op::FarEnd { trunk } => {
            let l = line(t, *trunk);
            hw(t, HwEvent::FarEndDisconnect { line: l })
        }
        Op::CwTone { trunk } => {
            let l = line(t, *trunk);
            hw(t, HwEvent::CallWaitingTone { line: l })
        }
        Op::NetCall { desk: d, tag } => {
            let l = desk(t, *d);
            hw(
                t,
                HwEvent::NetworkCall {
                    line: l,
                    caller_number: format!("9{tag}"),
                    caller_name: String::new(),
                    tag: *tag,
                },
            )
        }
        Op::NetHangup { tag } => hw(t, HwEvent::NetworkHangup { tag: *tag }),
        Op::Hook { desk: d, off } => {
            let l = desk(t, *d);
            hw(
                t,
                HwEvent::Hook {
                    line: l,
                    off_hook: *off,
                },
            )
        }
        Op::Flash { desk: d } => {
            let l = desk(t, *d);
            hw(t, HwEvent::Flash { line: l })
        }
        Op::Digit { desk: d, digit } => {
            let l = desk(t, *d);
            hw(
                t,
                HwEvent::Digit {
                    line: l,
                    digit: *digit,
                },
            )
        }
        Op::Code { desk: d, code } => {
            let l = desk(t, *d);
            for digit in CODES[*code].chars() {
                hw(t, HwEvent::Digit { line: l, digit });
            }
        }
        Op::Gone { line: i } => {
            let l = line(t, *i);
            hw(
                t,
                HwEvent::DeviceGone {
                    line: l,
                    why: "test".into(),
                },
            )
        }
        Op::Back { line: i, off } => {
            let l = line(t, *i);
            hw(
                t,
                HwEvent::DeviceBack {
                    line: l,
                    off_hook: *off,
                },
            )
        }
        _ => {}
    }
    failed?;
    let cmd = match op {
        Op::Pickup { addr, dest, group } => Command::Pickup {
            address: t.addr(NUMBERS[*addr]),
            dest: DESTS[*dest].into(),
            group: GROUPS[*group].into(),
        },
        Op::Dial { addr, number } => Command::Dial {
            address: t.addr(NUMBERS[*addr]),
            number: NUMBERS[*number].into(),
        },
        Op::Answer(i) => match pick(t, *i) {
            Some(c) => Command::Answer(c),
            None => return Ok(()),
        },
        Op::Drop(i) => match pick(t, *i) {
            Some(c) => Command::Drop(c),
            None => return Ok(()),
        },
        Op::Hold(i) => match pick(t, *i) {
            Some(c) => Command::Hold(c),
            None => return Ok(()),
        },
        Op::Unhold(i) => match pick(t, *i) {
            Some(c) => Command::Unhold(c),
            None => return Ok(()),
        },
        Op::Swap(i, j) => match (pick(t, *i), pick(t, *j)) {
            (Some(call), Some(held)) => Command::SwapHold { call, held },
            _ => return Ok(()),
        },
        _ => return Ok(()),
    };
    let picker = match &cmd {
        Command::Pickup { address, .. } => Some(*address),
        _ => None,
    };
    let before = t.e.call_ids();
    // the picker's station is in a call: the call-waiting case (CONNECTED)
    let in_call = picker.is_some_and(|a| {
        let line = t.e.address_view(a).unwrap().line;
        before.iter().any(|c| {
            let v = t.e.call_view(*c).unwrap();
            v.state == cs::CONNECTED && v.station == Some(line)
        })
    });
    let (r, out) = t.e.command(now, cmd.clone());
    t.tr.feed(&out)?;
    check_invariants(&t.e, &t.tr)?;
    match (&r, picker) {
        (Ok(Reply::Call(c)), Some(a)) => {
            let v =
                t.e.call_view(*c)
                    .ok_or_else(|| format!("{cmd:?} returned a call that is gone"))?;
            if v.reason != reason::PICKUP {
                return Err(format!(
                    "{cmd:?} returned call {} with Reason {:#x}",
                    c.0, v.reason
                ));
            }
            let line = t.e.address_view(a).unwrap().line;
            let lv = t.e.line_view(line).unwrap();
            if lv.kind.is_station_port() {
                if v.station != Some(line) {
                    return Err(format!(
                        "{cmd:?}: picked call's Station {:?}, picker's line {}",
                        v.station, line.0
                    ));
                }
                let want = if lv.off_hook || in_call {
                    cs::CONNECTED
                } else {
                    cs::OFFERING
                };
                if v.state != want {
                    return Err(format!(
                        "{cmd:?}: picked call in state {:#x}, want {want:#x}",
                        v.state
                    ));
                }
            }
        }
        (Ok(_), Some(_)) => return Err(format!("{cmd:?} replied {r:?}")),
        (Err(PickupError::ZBus(_)), _) | (Err(PickupError::NotAuthorized(_)), _) => {
            return Err(format!("{cmd:?}: engine answered {r:?}"))
        }
        (Err(_), _) if t.e.call_ids() != before => {
            return Err(format!(
                "{cmd:?} failed ({r:?}) but changed the calls: {before:?} -> {:?}",
                t.e.call_ids()
            ))
        }
        _ => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_the_invariants(ops in prop::collection::vec(op(), 1..70)) {
        let mut t = T::builtin();
        for (i, op) in ops.iter().enumerate() {
            if let Err(msg) = apply(&mut t, op) {
                prop_assert!(false, "step {i} {op:?}: {msg}");
            }
        }
        // shutting down ends every call properly
        let (r, out) = t.e.command(t.now + 1, Command::Shutdown);
        prop_assert!(r.is_ok());
        if let Err(msg) = t.tr.feed(&out).and_then(|_| check_invariants(&t.e, &t.tr)) {
            prop_assert!(false, "shutdown: {msg}");
        }
        prop_assert!(t.e.call_ids().is_empty());
        prop_assert!(t.tr.calls.is_empty());
    }
}

// ----- races -----

/// How a racer names the call.
#[derive(Debug, Clone, Copy)]
enum Way {
    Directed,
    OwnGroup,
    NamedGroup,
}

/// How the contested call arrives.
#[derive(Debug, Clone, Copy)]
enum Arrival {
    /// a trunk rings every appearance
    Trunk,
    /// a call straight to station `target`
    Network,
    /// station `caller` dials station `target`
    Internal,
}

fn race_site(stations: usize) -> String {
    let names: Vec<String> = (0..stations).map(|i| format!("\"s{i}\"")).collect();
    let mut s = format!(
        "[[line]]\nname = \"trunk\"\nkind = \"sim-fxo\"\nnumber = \"5550100\"\ncall_groups = [\"g\"]\nappearances = [{}]\n",
        names.join(", ")
    );
    for i in 0..stations {
        s += &format!(
            "\n[[line]]\nname = \"s{i}\"\nkind = \"sim-fxs\"\nnumber = \"{}\"\ncall_groups = [\"g\"]\npickup_groups = [\"g\"]\n",
            300 + i
        );
    }
    s
}

fn run_race(
    t: &mut T,
    stations: &[(LineId, AddressId)],
    arrival: Arrival,
    target: usize,
    caller: usize,
    racers: &[(usize, Way, bool)],
) -> Result<(), String> {
    let trunk =
        t.e.line_by_name("trunk")
            .or_else(|| t.e.line_by_name("trunk1"))
            .unwrap();
    // hook state first (an off-hook phone is not rung)
    for &(s, _, off) in racers {
        if off {
            t.hw(HwEvent::Hook {
                line: stations[s].0,
                off_hook: true,
            });
        }
    }
    let (dest, placing) = match arrival {
        Arrival::Trunk => {
            t.hw(HwEvent::RingStart {
                line: trunk,
                caller_number: "42".into(),
                caller_name: "".into(),
                tag: None,
            });
            (
                t.e.address_view(t.e.lines[&trunk].own_address)
                    .unwrap()
                    .number,
                None,
            )
        }
        Arrival::Network => {
            t.hw(HwEvent::NetworkCall {
                line: stations[target].0,
                caller_number: "42".into(),
                caller_name: "".into(),
                tag: 1,
            });
            (t.e.address_view(stations[target].1).unwrap().number, None)
        }
        Arrival::Internal => {
            let to = t.e.address_view(stations[target].1).unwrap().number;
            let r = t.cmd(Command::Dial {
                address: stations[caller].1,
                number: to.clone(),
            });
            let Ok(Reply::Call(p)) = r else {
                return Err(format!("dial failed: {r:?}"));
            };
            (to, Some(p))
        }
    };
    let group = if matches!(arrival, Arrival::Trunk) {
        t.e.address_view(t.e.lines[&trunk].own_address)
            .unwrap()
            .call_groups[0]
            .clone()
    } else {
        t.e.address_view(stations[target].1).unwrap().call_groups[0].clone()
    };
    let alerting: Vec<CallId> = t
        .calls()
        .into_iter()
        .filter(|c| t.view(*c).state == cs::OFFERING)
        .collect();
    if alerting.len() != 1 {
        return Err(format!("setup: {} alerting calls", alerting.len()));
    }
    let mut oks = Vec::new();
    for &(s, way, _) in racers {
        let (d, g) = match way {
            Way::Directed => (dest.clone(), String::new()),
            Way::OwnGroup => (String::new(), String::new()),
            Way::NamedGroup => (String::new(), group.clone()),
        };
        let now = t.tick();
        let (r, out) = t.e.command(
            now,
            Command::Pickup {
                address: stations[s].1,
                dest: d,
                group: g,
            },
        );
        t.tr.feed(&out)?;
        check_invariants(&t.e, &t.tr)?;
        match r {
            Ok(Reply::Call(c)) => oks.push((s, c)),
            Ok(other) => return Err(format!("Pickup replied {other:?}")),
            Err(PickupError::NothingToPickUp(_)) => {}
            Err(e) => {
                return Err(format!(
                    "racer {s} ({way:?}) got {}: {}",
                    e.short_name(),
                    e.message()
                ))
            }
        }
    }
    if oks.len() != 1 {
        return Err(format!("{} pickups succeeded: {oks:?}", oks.len()));
    }
    let (winner, c) = oks[0];
    let v = t.view(c);
    let want_calls = if placing.is_some() { 2 } else { 1 };
    if t.calls().len() != want_calls {
        return Err(format!("{} calls live after the race", t.calls().len()));
    }
    if v.station != Some(stations[winner].0) {
        return Err("the winner does not have the call".into());
    }
    for (i, &(l, _)) in stations.iter().enumerate() {
        if t.e.is_ringing(l) && i != winner {
            return Err(format!("station {i} still rings"));
        }
    }
    if let Some(p) = placing {
        if t.e.call_view(p).is_none() {
            return Err("the caller's leg was lost".into());
        }
        let pv = t.view(p);
        let want = if v.state == cs::CONNECTED {
            cs::CONNECTED
        } else {
            cs::RINGBACK
        };
        if pv.state != want {
            return Err(format!(
                "caller's leg {:#x} while the picked leg is {:#x}",
                pv.state, v.state
            ));
        }
    }
    Ok(())
}

fn racers_strategy(
    stations: usize,
) -> impl Strategy<Value = (Arrival, usize, usize, Vec<(usize, Way, bool)>)> {
    let way = prop_oneof![
        Just(Way::Directed),
        Just(Way::OwnGroup),
        Just(Way::NamedGroup)
    ];
    let arrival = prop_oneof![
        Just(Arrival::Trunk),
        Just(Arrival::Network),
        Just(Arrival::Internal)
    ];
    (
        arrival,
        0..stations,
        0..stations,
        prop::collection::vec((way, any::<bool>()), stations),
    )
        .prop_filter("caller is not the target", |(_, target, caller, _)| {
            target != caller
        })
        .prop_flat_map(move |(arrival, target, caller, ways)| {
            // racers: every station but the target (and the caller of an
            // internal call), 2..=N of them, in random order
            let pool: Vec<usize> = (0..stations)
                .filter(|s| match arrival {
                    Arrival::Trunk => true,
                    Arrival::Network => *s != target,
                    Arrival::Internal => *s != target && *s != caller,
                })
                .collect();
            let n = pool.len();
            (
                Just(arrival),
                Just(target),
                Just(caller),
                Just(ways),
                prop::sample::subsequence(pool, 2..=n).prop_shuffle(),
            )
        })
        .prop_map(|(arrival, target, caller, ways, chosen)| {
            let racers = chosen
                .into_iter()
                .map(|s| (s, ways[s].0, ways[s].1))
                .collect();
            (arrival, target, caller, racers)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// 2..=10 stations race for one call.
    #[test]
    fn racing_pickups_exactly_one_wins(
        (arrival, target, caller, racers) in racers_strategy(12),
    ) {
        let mut t = T::parse(&race_site(12));
        let stations: Vec<(LineId, AddressId)> = (0..12)
            .map(|i| (t.line(&format!("s{i}")), t.addr(&format!("{}", 300 + i))))
            .collect();
        let racers: Vec<_> = racers.into_iter().take(10).collect();
        if let Err(msg) = run_race(&mut t, &stations, arrival, target, caller, &racers) {
            prop_assert!(false, "{arrival:?} target {target} caller {caller} racers {racers:?}: {msg}");
        }
    }

    /// The same on the built-in site, where groups differ between stations:
    /// racers use directed pickup (always allowed) or, if they may, a group.
    #[test]
    fn racing_pickups_on_the_builtin_site(
        trunk in 0..2usize,
        order in Just(vec![0usize, 1, 2, 3, 4]).prop_shuffle(),
        n in 2..=5usize,
        offs in prop::collection::vec(any::<bool>(), 5),
    ) {
        let mut t = T::builtin();
        let trunk_name = ["trunk1", "trunk2"][trunk];
        let number = ["5550100", "5550101"][trunk];
        for (i, d) in ALL_DESKS.iter().enumerate() {
            if offs[i] {
                t.hook(d, true);
            }
        }
        let c = t.ring_trunk(trunk_name, "42", "");
        prop_assert_eq!(t.view(c).state, cs::OFFERING);
        let mut oks = 0;
        for &i in order.iter().take(n) {
            match t.pickup(ALL_DESKS[i], number, "") {
                Ok(_) => oks += 1,
                Err(PickupError::NothingToPickUp(_)) => {}
                Err(e) => prop_assert!(false, "{} got {}: {}", ALL_DESKS[i], e.short_name(), e.message()),
            }
        }
        prop_assert_eq!(oks, 1);
        prop_assert_eq!(t.calls().len(), 1);
    }
}

// ----- Features are truthful -----

fn replay(ops: &[Op]) -> T {
    let mut t = T::builtin();
    for op in ops {
        apply(&mut t, op).expect("replay of a sequence that passed");
    }
    t
}

/// Would `Pickup(dest, group)` on `picker` succeed after `ops`? (The engine
/// is rebuilt by replay: it is deterministic.)
fn pickup_would_succeed(ops: &[Op], picker: &str, dest: &str, group: &str) -> bool {
    let mut t = replay(ops);
    let address = t.addr(picker);
    let now = t.tick();
    let (r, _) = t.e.command(
        now,
        Command::Pickup {
            address,
            dest: dest.into(),
            group: group.into(),
        },
    );
    r.is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// "Capabilities are truthful": each Features bit of a station says
    /// exactly whether the matching form of Pickup would succeed now.
    #[test]
    fn features_say_what_pickup_would_do(ops in prop::collection::vec(op(), 1..30)) {
        let t = replay(&ops);
        for n in ALL_DESKS {
            let av = t.e.address_view(t.addr(n)).unwrap();
            let f = av.features;
            let empty = pickup_would_succeed(&ops, n, "", "");
            prop_assert_eq!(
                empty,
                f & (feat::PICKUPWAITING | feat::PICKUPHELD | feat::PICKUPGROUP) != 0,
                "{}: Features {:#x}, Pickup(\"\", \"\") ok = {}", n, f, empty
            );
            let group = av.pickup_groups.iter().any(|g| pickup_would_succeed(&ops, n, "", g));
            prop_assert_eq!(group, f & feat::PICKUPGROUP != 0, "{}: Features {:#x}", n, f);
            let direct = NUMBERS.iter().any(|d| pickup_would_succeed(&ops, n, d, ""));
            prop_assert_eq!(direct, f & feat::PICKUPDIRECT != 0, "{}: Features {:#x}", n, f);
            prop_assert_eq!(f != 0, f & feat::PICKUP != 0);
        }
    }
}

// ----- regressions found by the property tests -----

#[test]
fn lifting_the_handset_in_a_call_answered_from_the_bus_answers_nothing_else() {
    let mut t = T::builtin();
    let a = t.network_call("201", "1", 1);
    t.cmd(Command::Answer(a)).unwrap(); // the phone is still on hook
    let b = t.network_call("201", "2", 2);
    t.hook("201", true);
    assert_eq!(t.view(a).state, cs::CONNECTED);
    assert_eq!(
        t.view(b).state,
        cs::OFFERING,
        "one call at a station at a time"
    );
}

#[test]
fn a_station_placing_a_call_is_busy() {
    let mut t = T::builtin();
    let a202 = t.addr("202");
    let Ok(Reply::Call(placing)) = t.cmd(Command::Dial {
        address: a202,
        number: "203".into(),
    }) else {
        panic!("dial")
    };
    assert_eq!(t.view(placing).state, cs::RINGBACK);
    // another call offered to 202 cannot be connected on top of it
    let n = t.network_call("202", "9", 9);
    assert_eq!(unit_err(t.cmd(Command::Answer(n))), "ResourceUnavailable");
    t.hook("202", true);
    assert_eq!(t.view(n).state, cs::OFFERING);
    assert_eq!(
        unit_err(t.cmd(Command::Dial {
            address: a202,
            number: "204".into()
        })),
        "ResourceUnavailable"
    );
    // a flash gives no second dial tone
    t.hw(HwEvent::Flash {
        line: t.desk("202"),
    });
    t.dial_digits("202", "204");
    assert_eq!(t.calls().len(), 3);
    // the callee answers: one connected call at 202
    t.hook("203", true);
    assert_eq!(t.view(placing).state, cs::CONNECTED);
    assert_eq!(t.view(n).state, cs::OFFERING);
}

#[test]
fn a_leg_held_by_its_own_station_stays_held_when_the_other_leg_unholds() {
    let mut t = T::builtin();
    t.hook("201", true);
    t.dial_digits("201", "203");
    let ids = t.calls();
    let (caller, callee) = (ids[0], ids[1]);
    t.hook("203", true);
    t.cmd(Command::Hold(caller)).unwrap();
    t.cmd(Command::Hold(callee)).unwrap();
    t.cmd(Command::Unhold(caller)).unwrap();
    assert_eq!(t.view(caller).state, cs::CONNECTED);
    let v = t.view(callee);
    assert_eq!((v.state, v.held_by), (cs::ONHOLD, Some(t.desk("203"))));
}

#[test]
fn pickup_returning_an_office_held_call_gives_it_reason_pickup() {
    let mut t = T::builtin();
    let a = t.trunk_call_at("trunk1", "201", "1");
    let w = t.pickup("201", "", "").unwrap(); // flash to the waiting party
    assert_eq!(t.view(a).state, cs::ONHOLD);
    let back = t.pickup("201", "", "").unwrap(); // flash back
    assert_eq!(back, a);
    assert_eq!(t.view(a).reason, reason::PICKUP);
    assert_eq!(
        (t.view(a).state, t.view(w).state),
        (cs::CONNECTED, cs::ONHOLD)
    );
}

#[test]
fn unhold_of_an_office_held_call_needs_the_station_free_or_on_the_same_line() {
    let mut t = T::builtin();
    let a = t.trunk_call_at("trunk2", "202", "1");
    let w = t.pickup("202", "", "").unwrap();
    t.cmd(Command::Drop(w)).unwrap();
    assert_eq!(t.view(a).state, cs::ONHOLD);
    // 202 takes a call from 203 meanwhile
    t.network_call("203", "2", 2);
    let p = t.pickup("202", "203", "").unwrap();
    assert_eq!(t.view(p).state, cs::CONNECTED);
    assert_eq!(unit_err(t.cmd(Command::Unhold(a))), "InvalidCallState");
    assert_eq!(t.view(a).state, cs::ONHOLD);
    assert!(!t
        .out
        .iter()
        .any(|o| matches!(o, Output::Line(_, LineCommand::Flash))));
    t.cmd(Command::Drop(p)).unwrap();
    // Dropping w put trunk2 on hook: the office holds `a` and will ring the
    // line back, so there is nothing to flash to now.
    assert_eq!(unit_err(t.cmd(Command::Unhold(a))), "InvalidCallState");
    let trunk2 = t.line("trunk2");
    t.hw(HwEvent::RingStart {
        line: trunk2,
        caller_number: String::new(),
        caller_name: String::new(),
        tag: None,
    });
    assert_eq!(
        t.view(a).state,
        cs::OFFERING,
        "the office's recall ring offers the held call again"
    );
}

// ---------------------------------------------------------------------------
// Caller id that comes in band (DAHDI FXO ports, modems)
// ---------------------------------------------------------------------------

const FXO_SITE: &str = r#"
zone = "us"
[[line]]
name = "trunk"
kind = "fxo"
device = "/dev/dahdi/channel:1"
number = "5551000"
[[line]]
name = "desk"
kind = "fxs"
device = "/dev/dahdi/channel:2"
number = "201"
"#;

fn fxo_site() -> T {
    T::with_site(&config::parse("test.toml", FXO_SITE, false).expect("fxo site parses"))
}

fn bare_ring(line: LineId) -> HwEvent {
    HwEvent::RingStart {
        line,
        caller_number: String::new(),
        caller_name: String::new(),
        tag: None,
    }
}

#[test]
fn a_first_ring_without_caller_id_waits_for_it_then_offers_the_call_with_it() {
    let mut t = fxo_site();
    let trunk = t.line("trunk");
    t.hw(HwEvent::Offered {
        line: trunk,
        tag: 7,
    });
    t.hw(bare_ring(trunk));
    assert!(t.calls().is_empty(), "no call before its caller id");
    t.hw(HwEvent::CallerId {
        line: trunk,
        number: "5550100".into(),
        name: "ADA".into(),
    });
    let c = t.newest();
    let v = t.view(c);
    assert_eq!(v.state, cs::OFFERING);
    assert_eq!(
        (v.caller_number.as_str(), v.caller_name.as_str()),
        ("5550100", "ADA")
    );
    assert_eq!(
        t.e.call_tag(c),
        Some(7),
        "the simulator's tag follows the call"
    );
    // The next ring belongs to the same call.
    t.hw(bare_ring(trunk));
    assert_eq!(t.calls(), vec![c]);
}

#[test]
fn without_caller_id_the_call_shows_at_the_second_ring_and_a_stop_forgets_the_first() {
    let mut t = fxo_site();
    let trunk = t.line("trunk");
    t.hw(bare_ring(trunk));
    t.hw(HwEvent::RingStop { line: trunk });
    t.hw(bare_ring(trunk));
    assert!(t.calls().is_empty(), "a stop forgets the held first ring");
    t.hw(bare_ring(trunk));
    let c = t.newest();
    assert_eq!(t.view(c).caller_number, "");
    // Caller id that comes late still fills in the offered call.
    t.hw(HwEvent::CallerId {
        line: trunk,
        number: "5550101".into(),
        name: String::new(),
    });
    assert_eq!(t.view(c).caller_number, "5550101");
}

#[test]
fn caller_id_on_an_idle_fxo_trunk_offers_the_call_whose_ring_was_missed() {
    let mut t = fxo_site();
    let trunk = t.line("trunk");
    t.hw(HwEvent::Offered {
        line: trunk,
        tag: 9,
    });
    t.hw(HwEvent::CallerId {
        line: trunk,
        number: "5550102".into(),
        name: "BOB".into(),
    });
    let c = t.newest();
    assert_eq!(
        (
            t.view(c).state,
            t.view(c).caller_number.as_str(),
            t.e.call_tag(c)
        ),
        (cs::OFFERING, "5550102", Some(9))
    );
    // The ring that follows belongs to it.
    t.hw(bare_ring(trunk));
    assert_eq!(t.calls(), vec![c]);
}

#[test]
fn simulated_trunks_offer_at_the_first_ring_and_ignore_stray_caller_id() {
    let mut t = T::builtin();
    let trunk = t.line("trunk1");
    t.hw(HwEvent::CallerId {
        line: trunk,
        number: "1".into(),
        name: String::new(),
    });
    assert!(t.calls().is_empty());
    t.hw(bare_ring(trunk));
    assert_eq!(
        t.calls().len(),
        1,
        "caller id comes with the ring on sim-fxo"
    );
}
