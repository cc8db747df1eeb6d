//! The key-system link layer (`pickupd::keysystem`) against the emulated
//! CSTA key system (`pickupd_emu::keysystem`) on real sockets and a real
//! pty: monitors for every device, events with `callPickup`, directed and
//! group pickup, transfer through hold, the switch's refusals as typed
//! errors and API errors, and links that drop, time out or carry garbage.
//!
//! Every wait is bounded ([`TIMEOUT`]); the clients use short timeouts and
//! backoffs so that the whole file runs in a few seconds.

use pickupd::keysystem::{
    pickup_error, pickup_error_as, ApiOperation, ClientOptions, CstaClient, CstaError, LinkEvent,
    LinkSpec, Service, SwitchEvent,
};
use pickupd_api::PickupError;
use pickupd_emu::keysystem::{Framing as EmuFraming, KeySystem, Listener, Ring, Switch};
use pickupd_hw::csta::enums::{OperationError, StateIncompatibilityError, SystemResourceError};
use pickupd_hw::csta::{
    decode, encode, CallId, ConnectionId, CstaError as SwitchError, DeviceId, EventCause,
    EventDevice, Framer, LengthPrefixFramer, LocalConnectionState, Message, MonitorCrossRefId,
    Request, Response,
};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Long enough for a loaded CI machine, short enough to fail fast.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long "nothing more happens" is watched.
const QUIET: Duration = Duration::from_millis(200);

/// The built-in site's stations and trunks: what the client monitors.
const DEVICES: [&str; 7] = ["201", "202", "203", "204", "205", "5550100", "5550101"];

fn dev(d: &str) -> DeviceId {
    DeviceId::new(d)
}

fn known(d: &str) -> EventDevice {
    EventDevice::Known(dev(d))
}

fn conn(call: &CallId, d: &str) -> ConnectionId {
    ConnectionId::new(call.as_str(), d)
}

fn options(name: &str) -> ClientOptions {
    let mut o = ClientOptions::new(name, DEVICES.iter().map(|d| dev(d)).collect());
    o.request_timeout = Duration::from_secs(2);
    o.connect_timeout = Duration::from_secs(1);
    o.backoff_min = Duration::from_millis(50);
    o.backoff_max = Duration::from_millis(200);
    // The keep-alive then runs every third of a second.
    o.session_duration = Duration::from_secs(1);
    o
}

fn emu_framing(dmcc: bool) -> EmuFraming {
    if dmcc {
        EmuFraming::Dmcc
    } else {
        EmuFraming::LengthPrefix
    }
}

fn tcp_spec(port: u16, dmcc: bool) -> LinkSpec {
    let text = if dmcc {
        format!("tcp:127.0.0.1:{port}?framing=dmcc")
    } else {
        format!("tcp:127.0.0.1:{port}")
    };
    LinkSpec::parse(&text).expect("a valid spec")
}

fn start_switch(dmcc: bool) -> (KeySystem, Listener) {
    let ks = KeySystem::new(Switch::builtin());
    let listener = ks
        .listen("tcp:127.0.0.1:0", emu_framing(dmcc))
        .expect("listen on loopback");
    (ks, listener)
}

/// The owner's side of a client's event channel. Call events that a wait
/// passes over are kept for the next wait, in order.
struct Events {
    rx: Receiver<LinkEvent>,
    kept: RefCell<VecDeque<SwitchEvent>>,
}

impl Events {
    fn next(&self, deadline: Instant) -> Option<LinkEvent> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(wait) {
            Ok(e) => Some(e),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => panic!("the client's thread is gone"),
        }
    }

    /// The next `LinkUp`/`LinkDown`; no call event may be pending.
    fn link_event(&self) -> LinkEvent {
        let kept = self.kept.borrow();
        assert!(kept.is_empty(), "unconsumed events {kept:#?}");
        match self.next(Instant::now() + TIMEOUT) {
            Some(LinkEvent::Event(e)) => panic!("expected a link state change, got {e:?}"),
            Some(e) => e,
            None => panic!("no link state change within {TIMEOUT:?}"),
        }
    }

    fn up(&self) {
        match self.link_event() {
            LinkEvent::LinkUp { unmonitored } => {
                assert!(unmonitored.is_empty(), "refused monitors: {unmonitored:?}")
            }
            other => panic!("expected LinkUp, got {other:?}"),
        }
    }

    fn down(&self) -> String {
        match self.link_event() {
            LinkEvent::LinkDown { why } => why,
            other => panic!("expected LinkDown, got {other:?}"),
        }
    }

    /// The first call event that `want` accepts, kept or new; a link state
    /// change fails the test.
    fn event(&self, what: &str, want: impl Fn(&SwitchEvent) -> bool) -> SwitchEvent {
        {
            let mut kept = self.kept.borrow_mut();
            if let Some(i) = kept.iter().position(&want) {
                if let Some(e) = kept.remove(i) {
                    return e;
                }
            }
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.next(deadline) {
                Some(LinkEvent::Event(e)) if want(&e) => return e,
                Some(LinkEvent::Event(e)) => self.kept.borrow_mut().push_back(e),
                Some(other) => panic!("waiting for {what}: link changed: {other:?}"),
                None => panic!(
                    "no {what} within {TIMEOUT:?}; other events {:#?}",
                    self.kept.borrow()
                ),
            }
        }
    }

    /// Every call event kept or arriving until nothing has come for a
    /// moment; a link state change fails the test.
    fn drain(&self) -> Vec<SwitchEvent> {
        let mut out: Vec<SwitchEvent> = self.kept.borrow_mut().drain(..).collect();
        loop {
            match self.next(Instant::now() + QUIET) {
                Some(LinkEvent::Event(e)) => out.push(e),
                Some(other) => panic!("unexpected {other:?} (after {out:?})"),
                None => return out,
            }
        }
    }

    /// Asserts that the link does not change state for a moment.
    fn steady(&self) {
        self.drain();
    }
}

fn start_client(spec: LinkSpec, opts: ClientOptions) -> (CstaClient, Events) {
    let (client, rx) = CstaClient::start(spec, opts).expect("start the client thread");
    (
        client,
        Events {
            rx,
            kept: RefCell::new(VecDeque::new()),
        },
    )
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {TIMEOUT:?}");
        thread::sleep(Duration::from_millis(5));
    }
}

fn refused(r: Result<Response, CstaError>) -> (CstaError, SwitchError) {
    match r {
        Err(e @ CstaError::Refused { .. }) => {
            let code = e.switch_error().cloned().expect("a switch error");
            (e, code)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// ---------------------------------------------------------------------
// 1. Connect and monitor

fn monitors_every_device(dmcc: bool) {
    let (ks, listener) = start_switch(dmcc);
    let (client, events) = start_client(
        tcp_spec(listener.local_addr().port(), dmcc),
        options("ks-monitor"),
    );
    events.up();
    assert_eq!(ks.monitor_count(), DEVICES.len());
    assert_eq!(ks.link_count(), 1);
    if dmcc {
        assert_eq!(ks.application_sessions(), 1);
        // The keep-alive: a 1 s session is reset every third of a second.
        wait_until("two session keep-alives", || ks.session_timer_resets() >= 2);
    } else {
        assert_eq!(ks.application_sessions(), 0);
    }
    events.steady();
    drop(client);
    wait_until("the link closed", || ks.link_count() == 0);
    assert_eq!(ks.monitor_count(), 0);
}

#[test]
fn monitors_every_device_length_prefix() {
    monitors_every_device(false);
}

#[test]
fn monitors_every_device_dmcc_with_session_keepalive() {
    monitors_every_device(true);
}

#[test]
fn a_device_the_switch_does_not_know_is_reported_in_link_up() {
    let (ks, listener) = start_switch(false);
    let mut opts = options("ks-unknown-device");
    opts.devices.push(dev("299"));
    let (_client, events) = start_client(tcp_spec(listener.local_addr().port(), false), opts);
    match events.link_event() {
        LinkEvent::LinkUp { unmonitored } => assert_eq!(
            unmonitored,
            vec![(
                dev("299"),
                SwitchError::Operation(OperationError::InvalidDeviceID)
            )]
        ),
        other => panic!("expected LinkUp, got {other:?}"),
    }
    assert_eq!(ks.monitor_count(), DEVICES.len());
}

// ---------------------------------------------------------------------
// 2. Calls and pickups

/// The `Delivered` of `call` reported by the monitor of `at` (alerting
/// there).
fn expect_delivered(events: &Events, call: &CallId, at: &str) -> SwitchEvent {
    let e = events.event(&format!("Delivered at {at}"), |e| {
        matches!(e, SwitchEvent::Delivered { .. })
            && e.monitored() == &dev(at)
            && e.subject() == &known(at)
            && e.call_id() == Some(call)
    });
    let SwitchEvent::Delivered {
        alerting,
        state,
        cause,
        ..
    } = &e
    else {
        unreachable!("matched above")
    };
    assert_eq!(alerting, &known(at));
    assert_eq!(state, &Some(LocalConnectionState::Alerting));
    assert_eq!(cause, &Some(EventCause::NewCall));
    e
}

fn hang_up(ks: &KeySystem, events: &Events, call: &CallId) {
    ks.far_end_hangup(call).expect("the call exists");
    events.event("the trunk clearing", |e| {
        matches!(e, SwitchEvent::ConnectionCleared { .. }) && e.call_id() == Some(call)
    });
    events.drain();
    assert!(ks.calls().is_empty());
}

fn pickups(dmcc: bool) {
    let (ks, listener) = start_switch(dmcc);
    let (client, events) = start_client(
        tcp_spec(listener.local_addr().port(), dmcc),
        options("ks-pickups"),
    );
    events.up();

    // Directed pickup: a trunk call rings at 202, 201 takes it.
    let call = ks
        .incoming_call("5550100", Some("5551234"), Ring::Station("202".into()))
        .expect("rings");
    let delivered = expect_delivered(&events, &call, "202");
    let SwitchEvent::Delivered { calling, .. } = &delivered else {
        unreachable!()
    };
    assert_eq!(calling, &Some(known("5551234")));
    // The trunk's monitor sees the call too.
    events.event("Delivered at the trunk's monitor", |e| {
        e.name() == "DeliveredEvent" && e.monitored() == &dev("5550100")
    });
    let reply = client.directed_pickup(Some(&call), &dev("202"), &dev("201"));
    assert_eq!(
        reply,
        Ok(Response::DirectedPickupCall {
            picked_call: Some(conn(&call, "201")),
        })
    );
    let diverted = events.event("Diverted at 202", |e| {
        e.name() == "DivertedEvent" && e.monitored() == &dev("202")
    });
    assert!(diverted.is_pickup(), "{diverted:?}");
    let SwitchEvent::Diverted {
        diverting,
        new_destination,
        state,
        ..
    } = &diverted
    else {
        unreachable!()
    };
    assert_eq!((diverting, new_destination), (&known("202"), &known("201")));
    assert_eq!(state, &Some(LocalConnectionState::Null));
    let established = events.event("Established at 201", |e| {
        e.name() == "EstablishedEvent" && e.monitored() == &dev("201")
    });
    assert_eq!(established.cause(), Some(&EventCause::CallPickup));
    assert_eq!(established.subject(), &known("201"));
    assert_eq!(established.connection(), &conn(&call, "201"));
    assert_eq!(established.state(), Some(&LocalConnectionState::Connected));
    hang_up(&ks, &events, &call);

    // Group pickup in the picker's own group: 205 (support) takes a call
    // ringing at 204.
    let call = ks
        .incoming_call("5550101", None, Ring::Station("204".into()))
        .expect("rings");
    expect_delivered(&events, &call, "204");
    assert_eq!(
        client.group_pickup(&dev("205"), None),
        Ok(Response::GroupPickupCall {
            picked_call: Some(conn(&call, "205")),
        })
    );
    let e = events.event("Established at 205", |e| {
        e.name() == "EstablishedEvent" && e.monitored() == &dev("205")
    });
    assert!(e.is_pickup());
    hang_up(&ks, &events, &call);

    // Group pickup naming another group: 201 may pick up in any group.
    let call = ks
        .incoming_call("5550101", None, Ring::Station("204".into()))
        .expect("rings");
    expect_delivered(&events, &call, "204");
    assert_eq!(
        client.group_pickup(&dev("201"), Some(&dev("support"))),
        Ok(Response::GroupPickupCall {
            picked_call: Some(conn(&call, "201")),
        })
    );
    let e = events.event("Diverted at 204", |e| {
        e.name() == "DivertedEvent" && e.monitored() == &dev("204")
    });
    assert!(e.is_pickup());
    hang_up(&ks, &events, &call);

    // Transfer through hold: the trunk rings on every line key, 202
    // answers and holds, 203 picks the held call up from its own key.
    let call = ks
        .incoming_call("5550100", Some("5559999"), Ring::Appearances)
        .expect("rings");
    expect_delivered(&events, &call, "203");
    assert_eq!(client.answer(&call, &dev("202")), Ok(Response::AnswerCall));
    events.event("Established at 202", |e| {
        e.name() == "EstablishedEvent" && e.monitored() == &dev("202")
    });
    assert_eq!(client.hold(&call, &dev("202")), Ok(Response::HoldCall));
    let held = events.event("Held at 202", |e| {
        e.name() == "HeldEvent" && e.monitored() == &dev("202")
    });
    assert_eq!(held.state(), Some(&LocalConnectionState::Hold));
    assert_eq!(held.subject(), &known("202"));
    // Ringing on every key, the answer (the other keys stop ringing), the
    // hold: none of it is a pickup.
    let so_far = events.drain();
    assert!(so_far.iter().all(|e| !e.is_pickup()), "{so_far:#?}");
    assert!(
        so_far.iter().any(|e| e.name() == "ConnectionClearedEvent"
            && e.monitored() == &dev("203")
            && e.subject() == &known("203")),
        "203 stopped ringing: {so_far:#?}"
    );
    assert_eq!(
        client.directed_pickup(Some(&call), &dev("202"), &dev("203")),
        Ok(Response::DirectedPickupCall {
            picked_call: Some(conn(&call, "203")),
        })
    );
    let retrieved = events.event("Retrieved at 203", |e| {
        e.name() == "RetrievedEvent" && e.monitored() == &dev("203")
    });
    assert!(retrieved.is_pickup());
    assert_eq!(retrieved.subject(), &known("203"));
    let cleared = events.event("202 leaving the call", |e| {
        e.name() == "ConnectionClearedEvent"
            && e.monitored() == &dev("202")
            && e.subject() == &known("202")
    });
    assert!(cleared.is_pickup());
    assert_eq!(cleared.subject(), &known("202"));
    let devices: Vec<_> = ks.calls()[0]
        .connections
        .iter()
        .map(|c| c.device.as_str().to_owned())
        .collect();
    assert_eq!(devices, ["5550100", "203"]);

    // Again, from 204's key with RetrieveCall naming 204 (the other form
    // of taking a held call at another appearance).
    assert_eq!(client.hold(&call, &dev("203")), Ok(Response::HoldCall));
    assert_eq!(
        client.retrieve(&call, &dev("204")),
        Ok(Response::RetrieveCall)
    );
    let e = events.event("Retrieved at 204", |e| {
        e.name() == "RetrievedEvent" && e.monitored() == &dev("204")
    });
    assert!(e.is_pickup());
    hang_up(&ks, &events, &call);
    events.steady();
}

#[test]
fn pickups_length_prefix() {
    pickups(false);
}

#[test]
fn pickups_dmcc() {
    pickups(true);
}

// ---------------------------------------------------------------------
// 3. Refusals

fn refusals(dmcc: bool) {
    let (ks, listener) = start_switch(dmcc);
    let (client, events) = start_client(
        tcp_spec(listener.local_addr().port(), dmcc),
        options("ks-refusals"),
    );
    events.up();

    // Nothing rings anywhere.
    let (e, code) = refused(client.directed_pickup(None, &dev("202"), &dev("201")));
    assert_eq!(
        code,
        SwitchError::StateIncompatibility(StateIncompatibilityError::InvalidConnectionState)
    );
    assert_eq!(e.service(), Some(Service::DirectedPickupCall));
    assert!(matches!(pickup_error(&e), PickupError::NothingToPickUp(_)));
    let (e, code) = refused(client.group_pickup(&dev("201"), None));
    assert_eq!(
        code,
        SwitchError::StateIncompatibility(StateIncompatibilityError::NoCallToAnswer)
    );
    let api = pickup_error(&e);
    assert!(matches!(api, PickupError::NothingToPickUp(_)), "{api:?}");
    assert!(api.message().contains("group pickup"), "{}", api.message());

    // The call rings at the picker too: not pickable by it.
    let call = ks
        .incoming_call("5550100", None, Ring::Appearances)
        .expect("rings");
    expect_delivered(&events, &call, "201");
    let (e, code) = refused(client.directed_pickup(Some(&call), &dev("202"), &dev("201")));
    assert_eq!(
        code,
        SwitchError::Operation(OperationError::InvalidCallToBePickedUpObjectType)
    );
    assert!(matches!(pickup_error(&e), PickupError::NothingToPickUp(_)));

    // Hold of a call that only rings.
    let (e, code) = refused(client.hold(&call, &dev("202")));
    assert_eq!(
        code,
        SwitchError::StateIncompatibility(StateIncompatibilityError::InvalidConnectionState)
    );
    assert!(matches!(pickup_error(&e), PickupError::InvalidCallState(_)));

    // A group the picker may not pick from.
    let other = ks
        .incoming_call("5550101", None, Ring::Station("204".into()))
        .expect("rings");
    expect_delivered(&events, &other, "204");
    let (e, code) = refused(client.group_pickup(&dev("202"), Some(&dev("support"))));
    assert_eq!(
        code,
        SwitchError::Operation(OperationError::PrivilegeViolationPickUpDevice)
    );
    assert!(matches!(pickup_error(&e), PickupError::OperationFailed(_)));

    // A station that already talks cannot take a second call.
    assert_eq!(client.answer(&call, &dev("204")), Ok(Response::AnswerCall));
    let (e, code) = refused(client.answer(&other, &dev("204")));
    assert_eq!(
        code,
        SwitchError::StateIncompatibility(StateIncompatibilityError::ConnectedCallExists)
    );
    assert!(matches!(
        pickup_error(&e),
        PickupError::ResourceUnavailable(_)
    ));
    let (e, _) = refused(client.directed_pickup(Some(&other), &dev("204"), &dev("204")));
    assert!(matches!(pickup_error(&e), PickupError::NothingToPickUp(_)));

    // Refusals leave the link up.
    events.drain();
    assert_eq!(ks.monitor_count(), DEVICES.len());
}

#[test]
fn refusals_are_typed_length_prefix() {
    refusals(false);
}

#[test]
fn refusals_are_typed_dmcc() {
    refusals(true);
}

#[test]
fn errors_map_to_the_api_errors() {
    let refused = |service, error| CstaError::Refused {
        service,
        request: "a request".into(),
        error,
    };
    let cases = [
        (
            refused(
                Service::DirectedPickupCall,
                SwitchError::StateIncompatibility(
                    StateIncompatibilityError::InvalidActiveDeviceState,
                ),
            ),
            "ResourceUnavailable",
        ),
        (
            refused(
                Service::HoldCall,
                SwitchError::StateIncompatibility(
                    StateIncompatibilityError::InvalidActiveDeviceState,
                ),
            ),
            "ResourceUnavailable",
        ),
        (
            refused(
                Service::GroupPickupCall,
                SwitchError::SystemResourceAvailability(
                    SystemResourceError::PickupDeviceOutOfService,
                ),
            ),
            "ResourceUnavailable",
        ),
        (
            refused(
                Service::DirectedPickupCall,
                SwitchError::Operation(OperationError::InvalidCallToBePickedUpObjectType),
            ),
            "NothingToPickUp",
        ),
        (
            refused(
                Service::DirectedPickupCall,
                SwitchError::Operation(OperationError::InvalidCallID),
            ),
            "NothingToPickUp",
        ),
        (
            refused(
                Service::AnswerCall,
                SwitchError::Operation(OperationError::InvalidConnectionID),
            ),
            "InvalidCallState",
        ),
        (
            refused(
                Service::RetrieveCall,
                SwitchError::StateIncompatibility(StateIncompatibilityError::NoHeldCall),
            ),
            "InvalidCallState",
        ),
        (
            refused(
                Service::DirectedPickupCall,
                SwitchError::Operation(OperationError::Generic),
            ),
            "OperationFailed",
        ),
        (
            refused(Service::GroupPickupCall, SwitchError::Unspecified),
            "OperationFailed",
        ),
        (
            CstaError::LinkDown { why: "gone".into() },
            "ResourceUnavailable",
        ),
        (
            CstaError::Timeout {
                service: Service::DirectedPickupCall,
                request: "a request".into(),
                after: Duration::from_secs(5),
            },
            "OperationFailed",
        ),
    ];
    for (err, want) in cases {
        let api = pickup_error(&err);
        assert_eq!(api.short_name(), want, "{err:?}");
        assert!(api.message().contains(&err.to_string()), "{api:?}");
    }
    // Taking a held call with RetrieveCall is a pickup for the API.
    let e = refused(
        Service::RetrieveCall,
        SwitchError::StateIncompatibility(StateIncompatibilityError::NoHeldCall),
    );
    assert!(matches!(
        pickup_error_as(&e, ApiOperation::Pickup),
        PickupError::NothingToPickUp(_)
    ));
}

// ---------------------------------------------------------------------
// 4. Faults

fn switch_drops_the_link(dmcc: bool) {
    let (ks, listener) = start_switch(dmcc);
    let port = listener.local_addr().port();
    let (client, events) = start_client(tcp_spec(port, dmcc), options("ks-drop"));
    events.up();
    assert_eq!(ks.monitor_count(), DEVICES.len());

    // The switch goes away: no listener, links hung up.
    drop(listener);
    ks.drop_links();
    let why = events.down();
    assert!(why.contains("closed the connection"), "{why}");
    assert_eq!(ks.monitor_count(), 0);
    // Requests fail at once while the link is down.
    let e = client
        .group_pickup(&dev("201"), None)
        .expect_err("the link is down");
    assert!(matches!(e, CstaError::LinkDown { .. }), "{e:?}");
    assert!(matches!(
        pickup_error(&e),
        PickupError::ResourceUnavailable(_)
    ));
    // Failed attempts (connection refused) are not reported again.
    events.steady();

    // The switch is back on the same port: the client reconnects and
    // monitors every device again.
    let _listener = ks
        .listen(&format!("tcp:127.0.0.1:{port}"), emu_framing(dmcc))
        .expect("listen again on the same port");
    events.up();
    assert_eq!(ks.monitor_count(), DEVICES.len());
    let call = ks
        .incoming_call("5550100", None, Ring::Station("202".into()))
        .expect("rings");
    expect_delivered(&events, &call, "202");
    assert!(client
        .directed_pickup(Some(&call), &dev("202"), &dev("203"))
        .is_ok());
}

#[test]
fn switch_drops_the_link_length_prefix() {
    switch_drops_the_link(false);
}

#[test]
fn switch_drops_the_link_dmcc() {
    switch_drops_the_link(true);
}

#[test]
fn no_switch_at_first_then_it_comes() {
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").expect("bind");
        probe.local_addr().expect("address").port()
    };
    let (_client, events) = start_client(tcp_spec(port, false), options("ks-late"));
    let why = events.down();
    assert!(why.contains("cannot connect"), "{why}");
    let ks = KeySystem::new(Switch::builtin());
    let _listener = ks
        .listen(&format!("tcp:127.0.0.1:{port}"), EmuFraming::LengthPrefix)
        .expect("listen");
    events.up();
    assert_eq!(ks.monitor_count(), DEVICES.len());
}

fn garbage_takes_only_that_link_down(dmcc: bool, garbage: &[u8], reason: &str) {
    let (bad_ks, bad_listener) = start_switch(dmcc);
    let (good_ks, good_listener) = start_switch(dmcc);
    let (_bad, bad_events) = start_client(
        tcp_spec(bad_listener.local_addr().port(), dmcc),
        options("ks-garbage"),
    );
    let (good, good_events) = start_client(
        tcp_spec(good_listener.local_addr().port(), dmcc),
        options("ks-good"),
    );
    bad_events.up();
    good_events.up();

    bad_ks.send_raw(garbage);
    let why = bad_events.down();
    assert!(why.contains(reason), "{why}");
    // Back, with every monitor (and only those: the old link is gone).
    bad_events.up();
    wait_until("the monitors re-established", || {
        bad_ks.monitor_count() == DEVICES.len() && bad_ks.link_count() == 1
    });

    // The other link noticed nothing and still works.
    good_events.steady();
    let call = good_ks
        .incoming_call("5550101", None, Ring::Station("204".into()))
        .expect("rings");
    expect_delivered(&good_events, &call, "204");
    assert!(good.group_pickup(&dev("205"), None).is_ok());
}

#[test]
fn garbage_payload_takes_the_link_down_length_prefix() {
    garbage_takes_only_that_link_down(false, b"\x00\x05hello", "undecodable message");
}

#[test]
fn garbage_header_takes_the_link_down_dmcc() {
    garbage_takes_only_that_link_down(true, b"GET / HTTP/1.1\r\n\r\n", "DMCC header");
}

#[test]
fn garbage_xml_takes_the_link_down_dmcc() {
    garbage_takes_only_that_link_down(true, b"\x00\x00\x00\x0c9999<x/>", "undecodable message");
}

#[test]
fn unknown_but_wellformed_messages_are_skipped() {
    let (ks, listener) = start_switch(false);
    let (client, events) = start_client(
        tcp_spec(listener.local_addr().port(), false),
        options("ks-vendor"),
    );
    events.up();
    // An event of a kind pickupd does not model, and a vendor message.
    for xml in [
        &b"<ConferencedEvent xmlns=\"http://www.ecma-international.org/standards/ecma-323/csta/ed3\"><monitorCrossRefID>1</monitorCrossRefID></ConferencedEvent>"[..],
        &b"<EventBufferSize xmlns=\"http://www.avaya.com/csta\"><size>9</size></EventBufferSize>"[..],
    ] {
        let mut framed = u16::try_from(xml.len())
            .expect("short")
            .to_be_bytes()
            .to_vec();
        framed.extend_from_slice(xml);
        ks.send_raw(&framed);
    }
    events.steady();
    let (_, code) = refused(client.group_pickup(&dev("201"), None));
    assert_eq!(
        code,
        SwitchError::StateIncompatibility(StateIncompatibilityError::NoCallToAnswer)
    );
}

/// A "switch" that accepts connections and never answers.
fn silent_switch() -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    thread::spawn(move || {
        while !stop2.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((mut s, _)) => {
                    thread::spawn(move || {
                        let mut buf = [0u8; 1024];
                        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                    });
                }
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    (port, stop)
}

#[test]
fn a_switch_that_never_answers_times_out() {
    for dmcc in [false, true] {
        let (port, stop) = silent_switch();
        let mut opts = options("ks-silent");
        opts.request_timeout = Duration::from_millis(300);
        let started = Instant::now();
        let (client, events) = start_client(tcp_spec(port, dmcc), opts);
        let why = events.down();
        assert!(
            why.contains("no reply to") && why.contains("300ms"),
            "{why}"
        );
        let want = if dmcc {
            "opening the application session"
        } else {
            "monitoring"
        };
        assert!(why.contains(want), "{why}");
        assert!(started.elapsed() < TIMEOUT);
        // Requests are refused while the link cannot come up.
        assert!(matches!(
            client.hold(&CallId::new("1"), &dev("201")),
            Err(CstaError::LinkDown { .. })
        ));
        drop(client);
        stop.store(true, Ordering::SeqCst);
    }
}

/// A length-prefix "switch" that grants every monitor and answers nothing
/// else.
fn monitors_only_switch() -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    thread::spawn(move || {
        while !stop2.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((s, _)) => {
                    thread::spawn(move || grant_monitors(s));
                }
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    (port, stop)
}

fn grant_monitors(mut s: TcpStream) {
    s.set_nonblocking(false).expect("blocking");
    let mut framer = LengthPrefixFramer::new();
    let mut buf = [0u8; 4096];
    let mut n_monitors = 0u32;
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut frames = Vec::new();
        if framer.feed(&buf[..n], |f| frames.push(f)).is_err() {
            return;
        }
        for payload in frames {
            if let Ok(Message::Request(Request::MonitorStart { .. })) = decode(&payload) {
                n_monitors += 1;
                let reply = encode(&Message::Response(Response::MonitorStart {
                    cross_ref: MonitorCrossRefId::new(n_monitors.to_string()),
                }));
                let mut wire = Vec::new();
                LengthPrefixFramer::new()
                    .encode(&reply, &mut wire)
                    .expect("small");
                if s.write_all(&wire).is_err() {
                    return;
                }
            }
        }
    }
}

#[test]
fn a_request_without_reply_times_out_and_the_link_restarts() {
    let (port, stop) = monitors_only_switch();
    let mut opts = options("ks-no-reply");
    opts.request_timeout = Duration::from_millis(300);
    let (client, events) = start_client(tcp_spec(port, false), opts);
    events.up();
    let started = Instant::now();
    let e = client
        .group_pickup(&dev("201"), None)
        .expect_err("no reply");
    assert!(
        matches!(&e, CstaError::Timeout { service: Service::GroupPickupCall, after, .. }
            if *after == Duration::from_millis(300)),
        "{e:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(matches!(pickup_error(&e), PickupError::OperationFailed(_)));
    let why = events.down();
    assert!(why.contains("no reply to group pickup"), "{why}");
    // A fresh connection: monitors granted again.
    events.up();
    drop(client);
    stop.store(true, Ordering::SeqCst);
}

// ---------------------------------------------------------------------
// 5. A serial link on a pty

#[test]
fn pty_link_length_prefix() {
    let ks = KeySystem::new(Switch::builtin());
    let pty = ks
        .open_pty(EmuFraming::LengthPrefix)
        .expect("open a pty pair");
    let path = pty.path().to_str().expect("a UTF-8 path").to_owned();
    let spec = LinkSpec::parse(&path).expect("a tty path is a link spec");
    assert!(matches!(spec, LinkSpec::Serial { .. }));
    let mut opts = options("ks-pty");
    // Long enough that the emulator sees the port closed before the client
    // opens it again (it looks every 20 ms).
    opts.backoff_min = Duration::from_millis(150);
    opts.backoff_max = Duration::from_millis(300);
    let (client, events) = start_client(spec, opts);
    events.up();
    assert_eq!(ks.monitor_count(), DEVICES.len());

    let call = ks
        .incoming_call("5550100", Some("5551234"), Ring::Station("202".into()))
        .expect("rings");
    expect_delivered(&events, &call, "202");
    assert_eq!(
        client.directed_pickup(Some(&call), &dev("202"), &dev("201")),
        Ok(Response::DirectedPickupCall {
            picked_call: Some(conn(&call, "201")),
        })
    );
    let e = events.event("Established at 201", |e| {
        e.name() == "EstablishedEvent" && e.monitored() == &dev("201")
    });
    assert!(e.is_pickup());
    hang_up(&ks, &events, &call);

    // Garbage on the serial line: down, the port is closed and opened
    // again, a fresh session with every monitor.
    ks.send_raw(b"\x00\x05hello");
    let why = events.down();
    assert!(why.contains("undecodable message"), "{why}");
    events.up();
    wait_until("one session with every monitor", || {
        ks.monitor_count() == DEVICES.len() && ks.link_count() == 1
    });
    let (_, code) = refused(client.group_pickup(&dev("201"), None));
    assert_eq!(
        code,
        SwitchError::StateIncompatibility(StateIncompatibilityError::NoCallToAnswer)
    );

    // The key system closes the port for good.
    drop(pty);
    let why = events.down();
    assert!(why.contains("hung up"), "{why}");
    // Stop before the retry: the pty's number may be given to another
    // pty meanwhile.
    drop(client);
}
