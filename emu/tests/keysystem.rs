//! The emulated key system over real sockets (and a pty), driven from the
//! client side with hw's CSTA codec and framings — the same code the
//! daemon's key-system driver uses — so these scenarios are what the driver
//! will see: monitors, pickups with cause `callPickup`, transfer through
//! hold on a bridged line key, refusals, and links that misbehave.

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use pickupd_emu::keysystem::{Framing, KeySystem, Listener, Ring, Switch};
use pickupd_hw::csta::enums::{OperationError, StateIncompatibilityError};
use pickupd_hw::csta::{
    decode, encode, CallEvent, CallId, ConnectionId, CstaError, DeviceId, DmccFrame, DmccFramer,
    EventCause, EventDevice, EventReport, Framer, InvokeId, InvokeIds, LengthPrefixFramer,
    LocalConnectionState, Message, MonitorCrossRefId, MonitorObject, Request, Response,
};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Long enough for a loaded 2-core CI machine, short enough to fail fast.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long "nothing more arrives" is watched.
const QUIET: Duration = Duration::from_millis(200);

enum RxFramer {
    Lp(LengthPrefixFramer),
    Dmcc(DmccFramer),
}

/// A CTI client: a writer, a reader thread that hands over raw bytes
/// (empty = end of stream), and hw's framer and codec.
struct Client {
    writer: Box<dyn Write + Send>,
    rx: Receiver<Vec<u8>>,
    framing: Framing,
    framer: RxFramer,
    ids: InvokeIds,
    messages: VecDeque<(Option<InvokeId>, Message)>,
    events: VecDeque<EventReport>,
    closed: bool,
    stop: Arc<AtomicBool>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Client {
    fn tcp(listener: &Listener, framing: Framing) -> Client {
        let stream = TcpStream::connect(listener.local_addr()).expect("connect");
        let reader = stream.try_clone().expect("clone");
        Client::new(Box::new(stream), reader, framing)
    }

    /// The reader polls so that it notices [`Client`]'s drop and closes
    /// its descriptor (a pty peer ends its session only when every
    /// descriptor of the slave is closed).
    fn new(
        writer: Box<dyn Write + Send>,
        reader: impl Read + AsFd + Send + 'static,
        framing: Framing,
    ) -> Client {
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        thread::spawn(move || {
            let mut reader = reader;
            let mut buf = [0u8; 4096];
            loop {
                let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
                let ready = poll(&mut fds, PollTimeout::from(50u8));
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                if ready == Ok(0) || ready == Err(nix::errno::Errno::EINTR) {
                    continue;
                }
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(Vec::new());
                        return;
                    }
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Client {
            writer,
            rx,
            framing,
            framer: match framing {
                Framing::LengthPrefix => RxFramer::Lp(LengthPrefixFramer::new()),
                Framing::Dmcc => RxFramer::Dmcc(DmccFramer::new()),
            },
            ids: InvokeIds::new(),
            messages: VecDeque::new(),
            events: VecDeque::new(),
            closed: false,
            stop,
        }
    }

    fn send(&mut self, message: &Message) -> Option<InvokeId> {
        let payload = encode(message);
        let mut wire = Vec::new();
        let id = match self.framing {
            Framing::LengthPrefix => {
                LengthPrefixFramer::new()
                    .encode(&payload, &mut wire)
                    .expect("small");
                None
            }
            Framing::Dmcc => {
                let id = self.ids.next_id();
                DmccFramer::new()
                    .encode(
                        &DmccFrame {
                            invoke_id: id,
                            payload,
                        },
                        &mut wire,
                    )
                    .expect("small");
                Some(id)
            }
        };
        self.writer.write_all(&wire).expect("write");
        id
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    /// Reads more bytes; false on timeout or end of stream.
    fn pump(&mut self, deadline: Instant) -> bool {
        if self.closed {
            return false;
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        let bytes = match self.rx.recv_timeout(wait) {
            Ok(b) => b,
            Err(RecvTimeoutError::Timeout) => return false,
            Err(RecvTimeoutError::Disconnected) => Vec::new(),
        };
        if bytes.is_empty() {
            self.closed = true;
            return false;
        }
        let mut frames = Vec::new();
        match &mut self.framer {
            RxFramer::Lp(f) => f
                .feed(&bytes, |p| frames.push((None, p)))
                .expect("server frames well"),
            RxFramer::Dmcc(f) => f
                .feed(&bytes, |d| frames.push((Some(d.invoke_id), d.payload)))
                .expect("server frames well"),
        }
        for (id, payload) in frames {
            let message = decode(&payload).expect("server encodes well");
            match message {
                Message::Event(e) => {
                    if let Some(id) = id {
                        assert!(id.is_event(), "events carry invoke id 9999");
                    }
                    self.events.push_back(e);
                }
                other => self.messages.push_back((id, other)),
            }
        }
        true
    }

    /// Sends a request and returns the reply (events that arrive meanwhile
    /// are kept for [`Self::event`]).
    fn request(&mut self, request: Request) -> Message {
        let id = self.send(&Message::Request(request));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some((reply_id, m)) = self.messages.pop_front() {
                assert_eq!(reply_id, id, "the reply carries the request's invoke id");
                return m;
            }
            assert!(self.pump(deadline), "no reply within {TIMEOUT:?}");
        }
    }

    fn monitor(&mut self, device: &str) -> MonitorCrossRefId {
        match self.request(Request::MonitorStart {
            monitor_object: MonitorObject::Device(DeviceId::new(device)),
        }) {
            Message::Response(Response::MonitorStart { cross_ref }) => cross_ref,
            other => panic!("MonitorStart({device}) answered {other:?}"),
        }
    }

    fn event(&mut self) -> EventReport {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(e) = self.events.pop_front() {
                return e;
            }
            assert!(self.pump(deadline), "no event within {TIMEOUT:?}");
        }
    }

    /// Asserts that no further event arrives for a moment.
    fn quiet(&mut self) {
        let deadline = Instant::now() + QUIET;
        while self.pump(deadline) {}
        assert!(
            self.events.is_empty(),
            "unexpected events {:?}",
            self.events
        );
    }

    /// Every event that arrives until the link has been quiet for a moment.
    fn drain(&mut self) -> Vec<EventReport> {
        let deadline = Instant::now() + QUIET;
        while self.pump(deadline) {}
        self.events.drain(..).collect()
    }

    /// Waits for the server to close the link.
    fn wait_closed(&mut self) -> bool {
        let deadline = Instant::now() + TIMEOUT;
        while !self.closed && Instant::now() < deadline {
            self.pump(deadline);
        }
        self.closed
    }
}

fn start(framing: Framing) -> (KeySystem, Listener) {
    let ks = KeySystem::new(Switch::builtin());
    let listener = ks
        .listen("tcp:127.0.0.1:0", framing)
        .expect("listen on loopback");
    assert_ne!(listener.local_addr().port(), 0);
    (ks, listener)
}

fn conn(call: &CallId, device: &str) -> ConnectionId {
    ConnectionId::new(call.as_str(), device)
}

fn known(d: &str) -> EventDevice {
    EventDevice::Known(DeviceId::new(d))
}

/// The `Delivered` a monitor sees for an incoming call.
fn expect_delivered(client: &mut Client, cross_ref: &MonitorCrossRefId, at: &str) -> CallId {
    let report = client.event();
    assert_eq!(&report.cross_ref, cross_ref);
    let CallEvent::Delivered(d) = report.event else {
        panic!("expected Delivered, got {:?}", report.event);
    };
    assert_eq!(d.alerting_device, known(at));
    assert_eq!(
        d.local_connection_info,
        Some(LocalConnectionState::Alerting)
    );
    assert_eq!(d.cause, Some(EventCause::NewCall));
    d.connection.call_id.expect("call id")
}

fn directed_pickup(framing: Framing) {
    let (ks, listener) = start(framing);
    let mut c = Client::tcp(&listener, framing);
    let m201 = c.monitor("201");
    let m202 = c.monitor("202");
    assert_ne!(m201, m202);

    let call = ks
        .incoming_call("5550100", Some("5551234"), Ring::Station("202".into()))
        .expect("rings");
    assert_eq!(expect_delivered(&mut c, &m202, "202"), call);
    c.quiet(); // 201 is not in the call yet.

    let reply = c.request(Request::DirectedPickupCall {
        call_to_be_picked_up: conn(&call, "202"),
        requesting_device: DeviceId::new("201"),
    });
    assert_eq!(
        reply,
        Message::Response(Response::DirectedPickupCall {
            picked_call: Some(conn(&call, "201")),
        })
    );
    // Diverted to both monitors (202 first: it was in the call), then
    // Established at 201 only; all with cause callPickup.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let r = c.event();
        assert!(r.event.is_pickup(), "{:?} lacks callPickup", r.event);
        seen.push((r.cross_ref.clone(), r.event.name()));
        if let CallEvent::Established(e) = &r.event {
            assert_eq!(r.cross_ref, m201);
            assert_eq!(e.answering_device, known("201"));
            assert_eq!(e.established_connection, conn(&call, "201"));
            assert_eq!(
                e.local_connection_info,
                Some(LocalConnectionState::Connected)
            );
        }
    }
    assert_eq!(
        seen,
        vec![
            (m202.clone(), "DivertedEvent"),
            (m201.clone(), "DivertedEvent"),
            (m201.clone(), "EstablishedEvent"),
        ]
    );
    c.quiet();

    // The far end hangs up: 201 sees the trunk leave and its own end.
    ks.far_end_hangup(&call).expect("call exists");
    for _ in 0..2 {
        let r = c.event();
        assert_eq!(r.cross_ref, m201);
        assert_eq!(r.event.name(), "ConnectionClearedEvent");
        assert_eq!(r.event.cause(), Some(&EventCause::NormalClearing));
    }
    c.quiet();
    assert!(ks.calls().is_empty());
}

#[test]
fn directed_pickup_length_prefix() {
    directed_pickup(Framing::LengthPrefix);
}

#[test]
fn directed_pickup_dmcc() {
    directed_pickup(Framing::Dmcc);
}

fn group_pickup(framing: Framing) {
    let (ks, listener) = start(framing);
    // The ringing desk and the picker on separate links.
    let mut ringing = Client::tcp(&listener, framing);
    let mut picker = Client::tcp(&listener, framing);
    let m202 = ringing.monitor("202");
    let m203 = picker.monitor("203");
    let call = ks
        .incoming_call("5550100", None, Ring::Station("202".into()))
        .expect("rings");
    expect_delivered(&mut ringing, &m202, "202");

    let reply = picker.request(Request::GroupPickupCall {
        new_destination: DeviceId::new("203"),
        pick_group: None,
    });
    assert_eq!(
        reply,
        Message::Response(Response::GroupPickupCall {
            picked_call: Some(conn(&call, "203")),
        })
    );
    let r = ringing.event();
    let CallEvent::Diverted(d) = &r.event else {
        panic!("expected Diverted, got {:?}", r.event);
    };
    assert_eq!(d.diverting_device, known("202"));
    assert_eq!(d.new_destination, known("203"));
    assert_eq!(d.cause, Some(EventCause::CallPickup));
    assert_eq!(d.local_connection_info, Some(LocalConnectionState::Null));
    ringing.quiet();

    assert_eq!(picker.event().event.name(), "DivertedEvent");
    let r = picker.event();
    assert_eq!(r.cross_ref, m203);
    assert_eq!(r.event.name(), "EstablishedEvent");
    assert!(r.event.is_pickup());
    picker.quiet();
}

#[test]
fn group_pickup_length_prefix() {
    group_pickup(Framing::LengthPrefix);
}

#[test]
fn group_pickup_dmcc() {
    group_pickup(Framing::Dmcc);
}

#[test]
fn held_call_on_bridged_line_key_is_taken_at_another_desk() {
    let framing = Framing::Dmcc;
    let (ks, listener) = start(framing);
    let mut c = Client::tcp(&listener, framing);
    let m202 = c.monitor("202");
    let m203 = c.monitor("203");
    // The trunk rings on every line key.
    let call = ks
        .incoming_call("5550100", Some("5551234"), Ring::Appearances)
        .expect("rings");
    // The call alerts at all five desks; each monitored desk sees all five
    // Delivered events of its call.
    let delivered = c.drain();
    assert_eq!(delivered.len(), 10, "{delivered:?}");
    assert!(delivered.iter().all(|r| r.event.name() == "DeliveredEvent"));
    let reply = c.request(Request::AnswerCall {
        call_to_be_answered: conn(&call, "202"),
    });
    assert_eq!(reply, Message::Response(Response::AnswerCall));
    // Established at 202 (seen by 202 and 203), then the other keys stop
    // ringing: 203 sees 201's and its own connection cleared, 202 all four.
    let got: Vec<_> = c
        .drain()
        .into_iter()
        .map(|r| (r.cross_ref, r.event.name()))
        .collect();
    let cleared = |m: &MonitorCrossRefId| {
        got.iter()
            .filter(|(r, n)| r == m && *n == "ConnectionClearedEvent")
            .count()
    };
    assert_eq!(
        &got[..2],
        &[
            (m202.clone(), "EstablishedEvent"),
            (m203.clone(), "EstablishedEvent")
        ]
    );
    assert_eq!(
        (cleared(&m202), cleared(&m203), got.len()),
        (4, 2, 8),
        "{got:?}"
    );

    let reply = c.request(Request::HoldCall {
        call_to_be_held: conn(&call, "202"),
    });
    assert_eq!(reply, Message::Response(Response::HoldCall));
    let r = c.event();
    assert_eq!(r.cross_ref, m202);
    let CallEvent::Held(h) = r.event else {
        panic!("expected Held");
    };
    assert_eq!(h.local_connection_info, Some(LocalConnectionState::Hold));
    c.quiet(); // 203 left the call when 202 answered.

    // 203 presses the line key: retrieve from another appearance.
    let reply = c.request(Request::RetrieveCall {
        call_to_be_retrieved: conn(&call, "203"),
    });
    assert_eq!(reply, Message::Response(Response::RetrieveCall));
    let mut got = Vec::new();
    for _ in 0..4 {
        let r = c.event();
        assert!(r.event.is_pickup(), "{:?}", r.event);
        got.push((r.cross_ref.clone(), r.event.name()));
    }
    assert_eq!(
        got,
        vec![
            (m202.clone(), "RetrievedEvent"),
            (m203.clone(), "RetrievedEvent"),
            (m202.clone(), "ConnectionClearedEvent"),
            (m203.clone(), "ConnectionClearedEvent"),
        ]
    );
    c.quiet();
    let view = &ks.calls()[0];
    assert_eq!(
        view.connections
            .iter()
            .map(|c| c.device.as_str())
            .collect::<Vec<_>>(),
        vec!["5550100", "203"]
    );
}

#[test]
fn refusals_carry_the_switch_error_codes() {
    for framing in [Framing::LengthPrefix, Framing::Dmcc] {
        let (ks, listener) = start(framing);
        let mut c = Client::tcp(&listener, framing);
        // Nothing rings anywhere.
        assert_eq!(
            c.request(Request::GroupPickupCall {
                new_destination: DeviceId::new("201"),
                pick_group: None,
            }),
            Message::Error(CstaError::StateIncompatibility(
                StateIncompatibilityError::NoCallToAnswer
            ))
        );
        assert_eq!(
            c.request(Request::DirectedPickupCall {
                call_to_be_picked_up: ConnectionId {
                    call_id: None,
                    device_id: Some(DeviceId::new("202")),
                },
                requesting_device: DeviceId::new("201"),
            }),
            Message::Error(CstaError::StateIncompatibility(
                StateIncompatibilityError::InvalidConnectionState
            ))
        );
        // Unknown devices.
        assert_eq!(
            c.request(Request::DirectedPickupCall {
                call_to_be_picked_up: ConnectionId::new("1", "202"),
                requesting_device: DeviceId::new("299"),
            }),
            Message::Error(CstaError::Operation(OperationError::InvalidDeviceID))
        );
        assert_eq!(
            c.request(Request::MonitorStart {
                monitor_object: MonitorObject::Device(DeviceId::new("299")),
            }),
            Message::Error(CstaError::Operation(OperationError::InvalidDeviceID))
        );
        assert_eq!(
            c.request(Request::MonitorStop {
                cross_ref: MonitorCrossRefId::new("77"),
            }),
            Message::Error(CstaError::Operation(
                OperationError::InvalidMonitorCrossRefID
            ))
        );
        // A group the picker may not pick.
        ks.incoming_call("5550101", None, Ring::Station("204".into()))
            .expect("rings");
        assert_eq!(
            c.request(Request::GroupPickupCall {
                new_destination: DeviceId::new("202"),
                pick_group: Some(DeviceId::new("support")),
            }),
            Message::Error(CstaError::Operation(
                OperationError::PrivilegeViolationPickUpDevice
            ))
        );
        // A message that is not a request.
        c.send(&Message::Response(Response::HoldCall));
        let deadline = Instant::now() + TIMEOUT;
        while c.messages.is_empty() {
            assert!(c.pump(deadline), "no answer");
        }
        assert_eq!(
            c.messages.pop_front().map(|(_, m)| m),
            Some(Message::Error(CstaError::Operation(
                OperationError::Generic
            )))
        );
        // The link is still fine.
        c.monitor("201");
    }
}

#[test]
fn monitor_stop_ends_the_events() {
    let (ks, listener) = start(Framing::LengthPrefix);
    let mut c = Client::tcp(&listener, Framing::LengthPrefix);
    let m = c.monitor("202");
    assert_eq!(
        c.request(Request::MonitorStop { cross_ref: m }),
        Message::Response(Response::MonitorStop)
    );
    ks.incoming_call("5550100", None, Ring::Station("202".into()))
        .expect("rings");
    c.quiet();
    assert_eq!(ks.monitor_count(), 0);
}

fn garbage_drops_only_that_link(framing: Framing, garbage: &[u8]) {
    let (ks, listener) = start(framing);
    let mut good = Client::tcp(&listener, framing);
    let mut bad = Client::tcp(&listener, framing);
    let m = good.monitor("202");
    bad.monitor("202");
    assert_eq!(ks.monitor_count(), 2);
    bad.send_raw(garbage);
    assert!(
        bad.wait_closed(),
        "the server keeps a link that sent garbage"
    );
    // Its monitor is gone; the other link works on.
    let deadline = Instant::now() + TIMEOUT;
    while ks.monitor_count() != 1 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(ks.monitor_count(), 1);
    ks.incoming_call("5550100", None, Ring::Station("202".into()))
        .expect("rings");
    expect_delivered(&mut good, &m, "202");
    good.monitor("203");
    // A new link is accepted as before.
    let mut again = Client::tcp(&listener, framing);
    again.monitor("204");
}

#[test]
fn garbage_length_prefix_payload_drops_the_link() {
    garbage_drops_only_that_link(Framing::LengthPrefix, b"\x00\x05hello");
}

#[test]
fn unfinished_frame_does_not_block_other_links() {
    // A frame that never ends: the server must not wait for it forever
    // once the peer gives up, and must not disturb the others meanwhile.
    let (ks, listener) = start(Framing::LengthPrefix);
    let mut good = Client::tcp(&listener, Framing::LengthPrefix);
    let m = good.monitor("201");
    {
        let mut bad = TcpStream::connect(listener.local_addr()).expect("connect");
        bad.write_all(b"\xff\xff<Monitor").expect("write");
    }
    ks.incoming_call("5550100", None, Ring::Station("201".into()))
        .expect("rings");
    expect_delivered(&mut good, &m, "201");
}

#[test]
fn garbage_dmcc_header_drops_the_link() {
    garbage_drops_only_that_link(Framing::Dmcc, b"GET / HTTP/1.1\r\n\r\n");
}

#[test]
fn garbage_dmcc_payload_drops_the_link() {
    garbage_drops_only_that_link(Framing::Dmcc, b"\x00\x00\x00\x0c0001<x/>");
}

#[test]
fn both_framings_share_one_switch() {
    let ks = KeySystem::new(Switch::builtin());
    let lp = ks
        .listen("tcp:127.0.0.1:0", Framing::LengthPrefix)
        .expect("listen");
    let dmcc = ks.listen("tcp:127.0.0.1:0", Framing::Dmcc).expect("listen");
    let mut a = Client::tcp(&lp, Framing::LengthPrefix);
    let mut b = Client::tcp(&dmcc, Framing::Dmcc);
    let ma = a.monitor("202");
    let mb = b.monitor("201");
    let call = ks
        .incoming_call("5550100", None, Ring::Station("202".into()))
        .expect("rings");
    expect_delivered(&mut a, &ma, "202");
    let reply = b.request(Request::DirectedPickupCall {
        call_to_be_picked_up: conn(&call, "202"),
        requesting_device: DeviceId::new("201"),
    });
    assert!(matches!(reply, Message::Response(_)), "{reply:?}");
    assert_eq!(a.event().event.name(), "DivertedEvent");
    let names: Vec<_> = (0..2).map(|_| b.event()).collect();
    assert!(names
        .iter()
        .all(|r| r.cross_ref == mb && r.event.is_pickup()));
    drop(lp);
    drop(dmcc);
    // Dropping the listeners leaves the links up.
    b.monitor("203");
}

#[test]
fn listen_rejects_a_spec_without_tcp() {
    let ks = KeySystem::new(Switch::builtin());
    let err = ks
        .listen("127.0.0.1:0", Framing::Dmcc)
        .expect_err("no scheme");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn pty_link_serves_sessions_one_after_another() {
    let ks = KeySystem::new(Switch::builtin());
    let pty = ks.open_pty(Framing::LengthPrefix).expect("openpty");
    let open = || -> Client {
        let f: File = OpenOptions::new()
            .read(true)
            .write(true)
            .open(pty.path())
            .expect("open the pty slave");
        let reader = f.try_clone().expect("clone");
        Client::new(Box::new(f), reader, Framing::LengthPrefix)
    };
    {
        let mut c = open();
        let m = c.monitor("202");
        let call = ks
            .incoming_call("5550100", None, Ring::Station("202".into()))
            .expect("rings");
        assert_eq!(expect_delivered(&mut c, &m, "202"), call);
        assert_eq!(
            c.request(Request::DirectedPickupCall {
                call_to_be_picked_up: conn(&call, "202"),
                requesting_device: DeviceId::new("201"),
            }),
            Message::Response(Response::DirectedPickupCall {
                picked_call: Some(conn(&call, "201")),
            })
        );
        assert_eq!(ks.monitor_count(), 1);
    }
    // The peer closed the port: its session and monitor end.
    let deadline = Instant::now() + TIMEOUT;
    while ks.monitor_count() != 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(ks.monitor_count(), 0);
    let mut c = open();
    c.monitor("203");
    assert_eq!(ks.link_count(), 1);
}
