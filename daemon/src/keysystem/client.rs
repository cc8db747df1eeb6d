//! [`CstaClient`]: one CTI link to a key system, owned by one thread.
//!
//! The link thread connects (TCP or a serial port), opens the application
//! session on a DMCC link, sends `MonitorStart` for every configured
//! device, and then serves requests and delivers events until the link
//! fails. Every
//! input — bytes from the reader thread, the end of the stream, requests
//! from [`CstaClient`] handles, shutdown — arrives on one channel, and the
//! thread's timers (request timeouts, the session keep-alive, the next
//! connection attempt) are the timeout of its `recv`.
//!
//! Replies are matched to requests by DMCC invoke id, or, in the
//! length-prefix framing (which has no ids), by order: a switch answers a
//! link's requests in the order they came. That is also why a request that
//! gets no reply within [`ClientOptions::request_timeout`] takes the link
//! down: a late reply would be taken for the answer to the next request.
//! Messages are handled in the order they arrive, so the reply to a
//! request is handed to its caller before the events it caused are put on
//! the event channel (switches send the reply first).
//!
//! What is not detected: a TCP connection in the length-prefix framing
//! that goes silent without closing (a cable pulled) shows only when the
//! next request times out, since that framing has no keep-alive; DMCC's
//! session keep-alive doubles as one (its reply is timed like any other).
//!
//! Faults — the connection closing or failing, a request timing out, bytes
//! that cannot be framed, a document that is not XML or not CSTA, a reply
//! that does not fit its request in the length-prefix framing — all end the
//! same way: a log line and [`LinkEvent::LinkDown`] with the reason, every
//! waiting request fails with [`CstaError::LinkDown`], the connection is
//! closed, and the thread reconnects after [`ClientOptions::backoff_min`],
//! doubling the wait after each failed attempt up to
//! [`ClientOptions::backoff_max`]. A well-formed CSTA message the client does
//! not know (a vendor event, `ConferencedEvent` …) is skipped, not fatal:
//! switches send more than pickupd needs.

use super::error::{CstaError, Service};
use super::event::{LinkEvent, SwitchEvent};
use super::link::{frame, RxFramer, Transport};
use super::spec::{Framing, LinkSpec};
use pickupd_hw::csta::session::{
    decode_any, encode_session, Inbound, SessionMessage, PROTOCOL_ED3,
};
use pickupd_hw::csta::{
    encode_with, CallId, ConnectionId, CstaError as SwitchError, DecodeError, DeviceId, Edition,
    InvokeId, InvokeIds, Message, MonitorCrossRefId, MonitorObject, Request, Response,
};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How a [`CstaClient`] behaves; [`ClientOptions::new`] gives production
/// values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Names the link in log lines (the configured line's name).
    pub name: String,
    /// The devices (stations and trunks, as the switch names them) to
    /// monitor.
    pub devices: Vec<DeviceId>,
    /// How long a request may wait for its reply.
    pub request_timeout: Duration,
    /// How long one TCP connection attempt may take.
    pub connect_timeout: Duration,
    /// How long the link may refuse to take written bytes.
    pub write_timeout: Duration,
    /// Wait before reconnecting after the link went down.
    pub backoff_min: Duration,
    /// The longest wait between connection attempts.
    pub backoff_max: Duration,
    /// DMCC: the session duration to ask for (whole seconds, at least 1);
    /// the timer is reset every third of the duration granted.
    pub session_duration: Duration,
    /// DMCC: the `applicationID` of the session.
    pub application_id: String,
}

impl ClientOptions {
    /// Production values: 5 s request, connect and write timeouts,
    /// reconnection after 0.5 s backing off to 10 s, a 180 s session.
    pub fn new(name: impl Into<String>, devices: Vec<DeviceId>) -> Self {
        ClientOptions {
            name: name.into(),
            devices,
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(10),
            session_duration: Duration::from_secs(180),
            application_id: "pickupd".into(),
        }
    }
}

/// The reply to a request: the switch's positive response or why there is
/// none.
pub type Reply = Result<Response, CstaError>;

/// Inputs of the link thread.
pub(crate) enum Input {
    /// Bytes from the reader of connection `generation`.
    Received { generation: u64, bytes: Vec<u8> },
    /// The reader of connection `generation` ended.
    ReadFailed { generation: u64, why: String },
    /// A request from a handle.
    Request {
        request: Request,
        reply: SyncSender<Reply>,
    },
    /// Stop the thread.
    Shutdown,
}

/// A request sent and not answered yet.
#[derive(Debug)]
pub struct PendingReply {
    rx: Receiver<Reply>,
}

impl PendingReply {
    /// Waits for the reply. The link thread always answers (within the
    /// request timeout, or at once when the link goes down).
    pub fn wait(self) -> Reply {
        self.rx.recv().unwrap_or(Err(CstaError::Closed))
    }

    /// The reply, if it has come.
    pub fn try_take(&self) -> Option<Reply> {
        match self.rx.try_recv() {
            Ok(r) => Some(r),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Err(CstaError::Closed)),
        }
    }
}

/// A CSTA client for one key-system link: requests from any thread, link
/// state and call events on the channel [`CstaClient::start`] returns.
/// Dropping it closes the link (ending a DMCC session first) and joins the
/// link thread.
#[derive(Debug)]
pub struct CstaClient {
    tx: Sender<Input>,
    spec: LinkSpec,
    thread: Option<JoinHandle<()>>,
}

impl CstaClient {
    /// Starts the link thread; it connects at once. Events go to the
    /// returned receiver.
    pub fn start(
        spec: LinkSpec,
        options: ClientOptions,
    ) -> io::Result<(CstaClient, Receiver<LinkEvent>)> {
        let (events, rx) = mpsc::channel();
        let client = CstaClient::start_with_channel(spec, options, events)?;
        Ok((client, rx))
    }

    /// Starts the link thread with events going to `events`.
    pub fn start_with_channel(
        spec: LinkSpec,
        options: ClientOptions,
        events: Sender<LinkEvent>,
    ) -> io::Result<CstaClient> {
        let (tx, rx) = mpsc::channel();
        let link = LinkThread::new(spec.clone(), options, tx.clone(), events);
        let thread = thread::Builder::new()
            .name("csta-link".into())
            .spawn(move || link.run(rx))?;
        Ok(CstaClient {
            tx,
            spec,
            thread: Some(thread),
        })
    }

    /// The link's device spec.
    pub fn spec(&self) -> &LinkSpec {
        &self.spec
    }

    /// Sends `request` without waiting for the reply.
    pub fn submit(&self, request: Request) -> PendingReply {
        let (reply, rx) = mpsc::sync_channel(1);
        // If the thread is gone the reply sender is dropped with the
        // message, and the wait reports `Closed`.
        let _ = self.tx.send(Input::Request { request, reply });
        PendingReply { rx }
    }

    /// Sends `request` and waits for the reply.
    pub fn request(&self, request: Request) -> Reply {
        self.submit(request).wait()
    }

    /// DirectedPickupCall: `picker` takes the call alerting at
    /// `ringing_device` (that call if `call` is given, else the switch's
    /// choice, normally the oldest); also takes a call held on a shared
    /// line key when `ringing_device` is the station holding it.
    pub fn directed_pickup(
        &self,
        call: Option<&CallId>,
        ringing_device: &DeviceId,
        picker: &DeviceId,
    ) -> Reply {
        self.request(Request::DirectedPickupCall {
            call_to_be_picked_up: ConnectionId {
                call_id: call.cloned(),
                device_id: Some(ringing_device.clone()),
            },
            requesting_device: picker.clone(),
        })
    }

    /// GroupPickupCall: `picker` takes a call alerting in `group`, or in
    /// its own pickup group(s) when `group` is `None`.
    pub fn group_pickup(&self, picker: &DeviceId, group: Option<&DeviceId>) -> Reply {
        self.request(Request::GroupPickupCall {
            new_destination: picker.clone(),
            pick_group: group.cloned(),
        })
    }

    /// AnswerCall of `call` alerting at `device`.
    pub fn answer(&self, call: &CallId, device: &DeviceId) -> Reply {
        self.request(Request::AnswerCall {
            call_to_be_answered: connection(call, device),
        })
    }

    /// ClearConnection: `device` leaves `call`.
    pub fn clear_connection(&self, call: &CallId, device: &DeviceId) -> Reply {
        self.request(Request::ClearConnection {
            connection_to_be_cleared: connection(call, device),
            reason: None,
        })
    }

    /// HoldCall of `call` at `device`.
    pub fn hold(&self, call: &CallId, device: &DeviceId) -> Reply {
        self.request(Request::HoldCall {
            call_to_be_held: connection(call, device),
        })
    }

    /// RetrieveCall of `call` at `device`; on a key system, a `device`
    /// other than the holder takes the call from another appearance of the
    /// line ("transfer through hold").
    pub fn retrieve(&self, call: &CallId, device: &DeviceId) -> Reply {
        self.request(Request::RetrieveCall {
            call_to_be_retrieved: connection(call, device),
        })
    }
}

impl Drop for CstaClient {
    fn drop(&mut self) {
        let _ = self.tx.send(Input::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn connection(call: &CallId, device: &DeviceId) -> ConnectionId {
    ConnectionId {
        call_id: Some(call.clone()),
        device_id: Some(device.clone()),
    }
}

fn show_device(d: &DeviceId) -> &str {
    d.as_str()
}

fn show_connection(c: &ConnectionId) -> String {
    match (&c.call_id, &c.device_id) {
        (Some(call), Some(d)) => format!("call {} at {}", call.as_str(), d.as_str()),
        (Some(call), None) => format!("call {}", call.as_str()),
        (None, Some(d)) => format!("the call at {}", d.as_str()),
        (None, None) => "no call".into(),
    }
}

/// A request for a person: "directed pickup of call 3 at 202 for 201".
pub fn describe(request: &Request) -> String {
    match request {
        Request::MonitorStart { monitor_object } => match monitor_object {
            MonitorObject::Device(d) => format!("monitoring {}", show_device(d)),
            MonitorObject::Call(c) => format!("monitoring {}", show_connection(c)),
        },
        Request::MonitorStop { cross_ref } => format!("ending monitor {}", cross_ref.as_str()),
        Request::MakeCall {
            calling_device,
            called_directory_number,
        } => format!(
            "a call from {} to {}",
            show_device(calling_device),
            show_device(called_directory_number)
        ),
        Request::AnswerCall {
            call_to_be_answered,
        } => format!("answering {}", show_connection(call_to_be_answered)),
        Request::ClearConnection {
            connection_to_be_cleared,
            ..
        } => format!("clearing {}", show_connection(connection_to_be_cleared)),
        Request::HoldCall { call_to_be_held } => {
            format!("holding {}", show_connection(call_to_be_held))
        }
        Request::RetrieveCall {
            call_to_be_retrieved,
        } => format!("retrieving {}", show_connection(call_to_be_retrieved)),
        Request::DirectedPickupCall {
            call_to_be_picked_up,
            requesting_device,
        } => format!(
            "directed pickup of {} for {}",
            show_connection(call_to_be_picked_up),
            show_device(requesting_device)
        ),
        Request::GroupPickupCall {
            new_destination,
            pick_group,
        } => match pick_group {
            Some(g) => format!(
                "group pickup in group {} for {}",
                g.as_str(),
                show_device(new_destination)
            ),
            None => format!(
                "group pickup in the pickup group of {}",
                show_device(new_destination)
            ),
        },
    }
}

/// What a pending request is for.
enum Purpose {
    /// A handle waits for the reply.
    User(SyncSender<Reply>),
    /// The handshake's `MonitorStart` of a device.
    Monitor(DeviceId),
    /// The DMCC session's start.
    StartSession,
    /// The DMCC keep-alive.
    ResetTimer,
}

struct Pending {
    service: Service,
    description: String,
    deadline: Instant,
    purpose: Purpose,
}

/// A reply as it came: CSTA or session.
enum ReplyMessage {
    Csta(Result<Response, SwitchError>),
    Session(SessionMessage),
}

impl ReplyMessage {
    fn show(&self) -> String {
        match self {
            ReplyMessage::Csta(Ok(r)) => Message::Response(r.clone()).root_name().to_owned(),
            ReplyMessage::Csta(Err(e)) => format!("CSTAErrorCode {e}"),
            ReplyMessage::Session(m) => m.root_name().to_owned(),
        }
    }
}

/// One connection and what belongs to it.
struct Connected {
    transport: Transport,
    framer: RxFramer,
    ids: InvokeIds,
    /// DMCC: pending requests by invoke id.
    by_id: HashMap<InvokeId, Pending>,
    /// Length prefix: pending requests in the order sent.
    in_order: VecDeque<Pending>,
    /// The edition the switch speaks (requests follow it).
    edition: Edition,
    /// Monitored devices by the cross-reference ids of their monitors.
    monitors: HashMap<MonitorCrossRefId, DeviceId>,
    /// `MonitorStart` replies still awaited in the handshake.
    monitors_awaited: usize,
    unmonitored: Vec<(DeviceId, SwitchError)>,
    /// Whether `LinkUp` was reported for this connection.
    up: bool,
    /// Events that came during the handshake, delivered after `LinkUp`.
    early_events: Vec<SwitchEvent>,
    /// DMCC: the open session and when to reset its timer next.
    session: Option<String>,
    keepalive_every: Duration,
    keepalive_at: Option<Instant>,
}

enum Phase {
    /// No connection; the next attempt is due at `retry_at`.
    Down {
        retry_at: Instant,
    },
    Connected(Box<Connected>),
}

/// What went wrong with the connection, to take it down.
struct Failure(String);

type Step = Result<(), Failure>;

struct LinkThread {
    spec: LinkSpec,
    opts: ClientOptions,
    who: String,
    /// For the readers of new connections.
    inputs: Sender<Input>,
    events: Sender<LinkEvent>,
    phase: Phase,
    generation: u64,
    /// Whether the owner was told `LinkDown` since the last `LinkUp`.
    down_reported: bool,
    /// The wait before the next attempt.
    backoff: Duration,
    /// Why the link is down (for requests made meanwhile).
    down_why: String,
}

impl LinkThread {
    fn new(
        spec: LinkSpec,
        mut opts: ClientOptions,
        inputs: Sender<Input>,
        events: Sender<LinkEvent>,
    ) -> Self {
        opts.backoff_max = opts.backoff_max.max(opts.backoff_min);
        let who = format!("key-system link \"{}\" ({spec})", opts.name);
        LinkThread {
            backoff: opts.backoff_min,
            spec,
            opts,
            who,
            inputs,
            events,
            phase: Phase::Down {
                retry_at: Instant::now(),
            },
            generation: 0,
            down_reported: false,
            down_why: "the link is starting".into(),
        }
    }

    fn run(mut self, rx: Receiver<Input>) {
        loop {
            let now = Instant::now();
            let input = match self.next_deadline() {
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(now)) {
                    Ok(i) => Some(i),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => Some(Input::Shutdown),
                },
                None => Some(rx.recv().unwrap_or(Input::Shutdown)),
            };
            match input {
                Some(Input::Shutdown) => {
                    self.shutdown();
                    return;
                }
                Some(Input::Request { request, reply }) => self.on_request(request, reply),
                Some(Input::Received { generation, bytes }) if generation == self.generation => {
                    let step = self.on_bytes(&bytes);
                    self.settle(step);
                }
                Some(Input::ReadFailed { generation, why }) if generation == self.generation => {
                    self.settle(Err(Failure(why)));
                }
                // From the reader of a connection already closed.
                Some(Input::Received { .. } | Input::ReadFailed { .. }) | None => {}
            }
            self.on_timers();
        }
    }

    /// The earliest moment the thread has something to do without input.
    fn next_deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Down { retry_at } => Some(*retry_at),
            Phase::Connected(c) => {
                let requests = c
                    .by_id
                    .values()
                    .chain(c.in_order.iter())
                    .map(|p| p.deadline)
                    .min();
                [requests, c.keepalive_at].into_iter().flatten().min()
            }
        }
    }

    fn on_timers(&mut self) {
        let now = Instant::now();
        match &mut self.phase {
            Phase::Down { retry_at } => {
                if now >= *retry_at {
                    self.connect();
                }
            }
            Phase::Connected(c) => {
                // A request past its deadline: answer it with Timeout, then
                // take the link down (the replies can no longer be matched).
                let late = c
                    .by_id
                    .iter()
                    .filter(|(_, p)| p.deadline <= now)
                    .min_by_key(|(_, p)| p.deadline)
                    .map(|(id, _)| *id);
                let late = match late {
                    Some(id) => c.by_id.remove(&id),
                    None if c.in_order.front().is_some_and(|p| p.deadline <= now) => {
                        c.in_order.pop_front()
                    }
                    None => None,
                };
                if let Some(p) = late {
                    let after = self.opts.request_timeout;
                    let why = format!("no reply to {} within {after:?}", p.description);
                    if let Purpose::User(reply) = p.purpose {
                        let _ = reply.send(Err(CstaError::Timeout {
                            service: p.service,
                            request: p.description,
                            after,
                        }));
                    }
                    self.settle(Err(Failure(why)));
                    return;
                }
                if c.keepalive_at.is_some_and(|at| at <= now) {
                    let step = self.send_keepalive();
                    self.settle(step);
                }
            }
        }
    }

    /// Takes the link down if `step` failed.
    fn settle(&mut self, step: Step) {
        if let Err(Failure(why)) = step {
            self.link_failed(why);
        }
    }

    fn connect(&mut self) {
        self.generation += 1;
        let opened = Transport::open(
            &self.spec,
            self.opts.connect_timeout,
            self.opts.write_timeout,
            self.generation,
            self.inputs.clone(),
        );
        let transport = match opened {
            Ok(t) => t,
            Err(why) => {
                self.report_down(why);
                self.schedule_retry();
                return;
            }
        };
        tracing::debug!("{}: connected", self.who);
        self.phase = Phase::Connected(Box::new(Connected {
            transport,
            framer: RxFramer::new(self.spec.framing()),
            ids: InvokeIds::new(),
            by_id: HashMap::new(),
            in_order: VecDeque::new(),
            edition: Edition::Ed3,
            monitors: HashMap::new(),
            monitors_awaited: 0,
            unmonitored: Vec::new(),
            up: false,
            early_events: Vec::new(),
            session: None,
            keepalive_every: Duration::ZERO,
            keepalive_at: None,
        }));
        let step = match self.spec.framing() {
            Framing::Dmcc => {
                let duration = session_seconds(self.opts.session_duration);
                let start = SessionMessage::StartApplicationSession {
                    application_id: self.opts.application_id.clone(),
                    protocol_versions: vec![PROTOCOL_ED3.to_owned()],
                    requested_session_duration: Some(duration),
                };
                self.send(
                    encode_session(&start),
                    Service::StartApplicationSession,
                    "opening the application session".into(),
                    Purpose::StartSession,
                )
            }
            Framing::LengthPrefix => self.start_monitors(),
        };
        self.settle(step);
    }

    fn schedule_retry(&mut self) {
        self.phase = Phase::Down {
            retry_at: Instant::now() + self.backoff,
        };
        self.backoff = (self.backoff * 2).min(self.opts.backoff_max);
    }

    /// Tells the owner the link is down, once per outage.
    fn report_down(&mut self, why: String) {
        if self.down_reported {
            tracing::info!("{}: still down: {why}", self.who);
        } else {
            tracing::warn!("{}: link down: {why}", self.who);
            let _ = self.events.send(LinkEvent::LinkDown { why: why.clone() });
            self.down_reported = true;
        }
        self.down_why = why;
    }

    /// Closes the connection, fails what waits, reports and schedules the
    /// next attempt.
    fn link_failed(&mut self, why: String) {
        let was_up = matches!(&self.phase, Phase::Connected(c) if c.up);
        self.drop_connection(&why);
        if was_up {
            self.backoff = self.opts.backoff_min;
        }
        self.report_down(why);
        self.schedule_retry();
    }

    /// Closes the connection (if any) and answers every pending request
    /// with `LinkDown`.
    fn drop_connection(&mut self, why: &str) {
        let phase = std::mem::replace(
            &mut self.phase,
            Phase::Down {
                retry_at: Instant::now(),
            },
        );
        if let Phase::Connected(mut c) = phase {
            c.transport.close();
            // Inputs still queued from this connection's reader are stale.
            self.generation += 1;
            for p in c.by_id.into_values().chain(c.in_order) {
                if let Purpose::User(reply) = p.purpose {
                    let _ = reply.send(Err(CstaError::LinkDown {
                        why: why.to_owned(),
                    }));
                }
            }
        }
    }

    fn shutdown(&mut self) {
        if let Phase::Connected(c) = &mut self.phase {
            if let Some(session_id) = c.session.take() {
                // Best effort: the server ends the session (and its
                // monitors) at once instead of when its timer runs out.
                let stop = SessionMessage::StopApplicationSession {
                    session_id,
                    end_reason: Some("normal".into()),
                };
                let id = c.ids.next_unused(|id| c.by_id.contains_key(&id));
                if let Some(Ok(bytes)) =
                    id.map(|id| frame(self.spec.framing(), id, encode_session(&stop)))
                {
                    let _ = c.transport.write_all(&bytes);
                }
            }
        }
        self.drop_connection("the client is shutting down");
        tracing::debug!("{}: stopped", self.who);
    }

    fn on_request(&mut self, request: Request, reply: SyncSender<Reply>) {
        let service = Service::of(&request);
        let description = describe(&request);
        let up = matches!(&self.phase, Phase::Connected(c) if c.up);
        if !up {
            let why = match &self.phase {
                Phase::Connected(_) => "the link is opening its session and monitors".to_owned(),
                Phase::Down { .. } => self.down_why.clone(),
            };
            let _ = reply.send(Err(CstaError::LinkDown { why }));
            return;
        }
        let edition = match &self.phase {
            Phase::Connected(c) => c.edition,
            Phase::Down { .. } => Edition::Ed3,
        };
        let payload = encode_with(&Message::Request(request), edition);
        let step = self.send(payload, service, description, Purpose::User(reply));
        self.settle(step);
    }

    /// Frames and writes a request, registering it as pending.
    fn send(
        &mut self,
        payload: Vec<u8>,
        service: Service,
        description: String,
        purpose: Purpose,
    ) -> Step {
        let Phase::Connected(c) = &mut self.phase else {
            if let Purpose::User(reply) = purpose {
                let _ = reply.send(Err(CstaError::LinkDown {
                    why: self.down_why.clone(),
                }));
            }
            return Ok(());
        };
        let framing = self.spec.framing();
        let id = match framing {
            Framing::Dmcc => c.ids.next_unused(|id| c.by_id.contains_key(&id)),
            // Unused by the length-prefix framing.
            Framing::LengthPrefix => Some(InvokeId::EVENT),
        };
        let bytes = match id.map(|id| (id, frame(framing, id, payload))) {
            Some((id, Ok(bytes))) => (id, bytes),
            Some((_, Err(e))) => return refuse(purpose, &description, e.to_string()),
            None => {
                return refuse(
                    purpose,
                    &description,
                    "every DMCC invoke id is in use".into(),
                )
            }
        };
        let (id, bytes) = bytes;
        let pending = Pending {
            service,
            description,
            deadline: Instant::now() + self.opts.request_timeout,
            purpose,
        };
        match framing {
            Framing::Dmcc => {
                c.by_id.insert(id, pending);
            }
            Framing::LengthPrefix => c.in_order.push_back(pending),
        }
        // On failure the pending request is answered by `link_failed`.
        c.transport.write_all(&bytes).map_err(Failure)
    }

    fn start_monitors(&mut self) -> Step {
        let devices = self.opts.devices.clone();
        if let Phase::Connected(c) = &mut self.phase {
            c.monitors_awaited = devices.len();
        }
        if devices.is_empty() {
            self.link_up();
            return Ok(());
        }
        for d in devices {
            let request = Request::MonitorStart {
                monitor_object: MonitorObject::Device(d.clone()),
            };
            let description = describe(&request);
            let payload = encode_with(&Message::Request(request), Edition::Ed3);
            self.send(
                payload,
                Service::MonitorStart,
                description,
                Purpose::Monitor(d),
            )?;
        }
        Ok(())
    }

    fn link_up(&mut self) {
        let Phase::Connected(c) = &mut self.phase else {
            return;
        };
        c.up = true;
        self.down_reported = false;
        self.backoff = self.opts.backoff_min;
        tracing::info!(
            "{}: link up, {} device(s) monitored{}",
            self.who,
            c.monitors.len(),
            if c.unmonitored.is_empty() {
                String::new()
            } else {
                format!(", {} refused", c.unmonitored.len())
            }
        );
        let _ = self.events.send(LinkEvent::LinkUp {
            unmonitored: c.unmonitored.clone(),
        });
        for e in c.early_events.drain(..) {
            let _ = self.events.send(LinkEvent::Event(e));
        }
    }

    fn send_keepalive(&mut self) -> Step {
        let Phase::Connected(c) = &mut self.phase else {
            return Ok(());
        };
        let Some(session_id) = c.session.clone() else {
            c.keepalive_at = None;
            return Ok(());
        };
        c.keepalive_at = Some(Instant::now() + c.keepalive_every);
        let reset = SessionMessage::ResetApplicationSessionTimer {
            session_id,
            requested_session_duration: Some(session_seconds(self.opts.session_duration)),
        };
        self.send(
            encode_session(&reset),
            Service::ResetApplicationSessionTimer,
            "keeping the application session alive".into(),
            Purpose::ResetTimer,
        )
    }

    fn on_bytes(&mut self, bytes: &[u8]) -> Step {
        let frames = match &mut self.phase {
            Phase::Connected(c) => c
                .framer
                .feed(bytes)
                .map_err(|e| Failure(format!("garbage on the link: {e}")))?,
            Phase::Down { .. } => return Ok(()),
        };
        for (id, payload) in frames {
            self.on_frame(id, &payload)?;
        }
        Ok(())
    }

    fn on_frame(&mut self, id: Option<InvokeId>, payload: &[u8]) -> Step {
        let inbound = match decode_any(payload) {
            Ok(m) => m,
            Err(e) if is_garbage(&e) => {
                return Err(Failure(format!(
                    "undecodable message from the key system: {e}"
                )))
            }
            Err(e) => {
                // A well-formed document the client does not understand.
                tracing::debug!("{}: ignored a message: {e}", self.who);
                return self.on_unreadable_reply(id, &e);
            }
        };
        match inbound {
            Inbound::Csta(edition, message) => {
                if let Phase::Connected(c) = &mut self.phase {
                    c.edition = edition;
                }
                match message {
                    Message::Event(report) => {
                        self.on_event(report.cross_ref, report.event);
                        Ok(())
                    }
                    Message::Response(r) => self.on_reply(id, ReplyMessage::Csta(Ok(r))),
                    Message::Error(e) => self.on_reply(id, ReplyMessage::Csta(Err(e))),
                    Message::Request(r) => {
                        tracing::debug!(
                            "{}: ignored a {} request from the key system",
                            self.who,
                            Service::of(&r)
                        );
                        Ok(())
                    }
                }
            }
            Inbound::Session(SessionMessage::StopApplicationSession { end_reason, .. }) => {
                Err(Failure(format!(
                    "the key system ended the application session ({})",
                    end_reason.as_deref().unwrap_or("no reason given")
                )))
            }
            Inbound::Session(m) if m.is_request() => {
                tracing::debug!(
                    "{}: ignored a {} from the key system",
                    self.who,
                    m.root_name()
                );
                Ok(())
            }
            Inbound::Session(m) => self.on_reply(id, ReplyMessage::Session(m)),
        }
    }

    fn on_event(&mut self, cross_ref: MonitorCrossRefId, event: pickupd_hw::csta::CallEvent) {
        let Phase::Connected(c) = &mut self.phase else {
            return;
        };
        let Some(device) = c.monitors.get(&cross_ref).cloned() else {
            tracing::debug!(
                "{}: ignored a {} of unknown monitor {}",
                self.who,
                event.name(),
                cross_ref.as_str()
            );
            return;
        };
        let event = SwitchEvent::from_call_event(device, event);
        if c.up {
            let _ = self.events.send(LinkEvent::Event(event));
        } else {
            c.early_events.push(event);
        }
    }

    /// The pending request a reply answers.
    fn take_pending(&mut self, id: Option<InvokeId>) -> Result<Option<Pending>, Failure> {
        let Phase::Connected(c) = &mut self.phase else {
            return Ok(None);
        };
        match self.spec.framing() {
            Framing::Dmcc => {
                let found = id.and_then(|id| c.by_id.remove(&id));
                if found.is_none() {
                    tracing::debug!(
                        "{}: ignored a reply with invoke id {} that matches no request",
                        self.who,
                        id.map_or_else(|| "none".into(), |i| i.to_string())
                    );
                }
                Ok(found)
            }
            Framing::LengthPrefix => match c.in_order.pop_front() {
                Some(p) => Ok(Some(p)),
                None => Err(Failure(
                    "a reply came with no request waiting: the link is out of step".into(),
                )),
            },
        }
    }

    /// A document that could not be read where a reply may belong: on
    /// DMCC, the request with its invoke id fails; in the length-prefix
    /// framing it is taken for an unknown event (a reply that never comes
    /// then times out).
    fn on_unreadable_reply(&mut self, id: Option<InvokeId>, e: &DecodeError) -> Step {
        if self.spec.framing() != Framing::Dmcc || id.is_none_or(InvokeId::is_event) {
            return Ok(());
        }
        match self.take_pending(id)? {
            Some(p) => self.fail_pending(p, format!("an unreadable message ({e})")),
            None => Ok(()),
        }
    }

    /// A pending request answered with something that is not its reply.
    fn fail_pending(&mut self, p: Pending, got: String) -> Step {
        match p.purpose {
            Purpose::User(reply) => {
                let _ = reply.send(Err(CstaError::Protocol {
                    service: p.service,
                    request: p.description.clone(),
                    got: got.clone(),
                }));
            }
            // The handshake or the session cannot go on.
            Purpose::Monitor(_) | Purpose::StartSession | Purpose::ResetTimer => {
                return Err(Failure(format!(
                    "the key system answered {} with {got}",
                    p.description
                )))
            }
        }
        if self.spec.framing() == Framing::LengthPrefix {
            Err(Failure(format!(
                "the key system answered {} with {got}: the link is out of step",
                p.description
            )))
        } else {
            Ok(())
        }
    }

    fn on_reply(&mut self, id: Option<InvokeId>, reply: ReplyMessage) -> Step {
        let Some(p) = self.take_pending(id)? else {
            return Ok(());
        };
        match (p.purpose, reply) {
            (Purpose::User(tx), ReplyMessage::Csta(Ok(r))) if p.service.answered_by(&r) => {
                let _ = tx.send(Ok(r));
                Ok(())
            }
            (Purpose::User(tx), ReplyMessage::Csta(Err(error))) => {
                let _ = tx.send(Err(CstaError::Refused {
                    service: p.service,
                    request: p.description,
                    error,
                }));
                Ok(())
            }
            (Purpose::Monitor(device), ReplyMessage::Csta(result))
                if result
                    .as_ref()
                    .map_or(true, |r| Service::MonitorStart.answered_by(r)) =>
            {
                self.on_monitor_reply(device, result);
                Ok(())
            }
            (Purpose::StartSession, ReplyMessage::Session(m)) => self.on_session_started(m),
            (Purpose::ResetTimer, ReplyMessage::Session(m)) => match m {
                SessionMessage::ResetApplicationSessionTimerPosResponse { .. } => Ok(()),
                SessionMessage::ResetApplicationSessionTimerNegResponse { error_code } => {
                    Err(Failure(format!(
                        "the key system refused to keep the application session alive: {error_code}"
                    )))
                }
                other => Err(Failure(format!(
                    "the key system answered the session keep-alive with {}",
                    other.root_name()
                ))),
            },
            (purpose, reply) => {
                let got = reply.show();
                let p = Pending {
                    purpose,
                    service: p.service,
                    description: p.description,
                    deadline: p.deadline,
                };
                self.fail_pending(p, got)
            }
        }
    }

    fn on_session_started(&mut self, m: SessionMessage) -> Step {
        match m {
            SessionMessage::StartApplicationSessionPosResponse {
                session_id,
                actual_session_duration,
                ..
            } => {
                let seconds =
                    actual_session_duration.unwrap_or(session_seconds(self.opts.session_duration));
                let every = (Duration::from_secs(u64::from(seconds.max(1))) / 3)
                    .max(Duration::from_millis(100));
                if let Phase::Connected(c) = &mut self.phase {
                    tracing::debug!("{}: application session {session_id} open", self.who);
                    c.session = Some(session_id);
                    c.keepalive_every = every;
                    c.keepalive_at = Some(Instant::now() + every);
                }
                self.start_monitors()
            }
            SessionMessage::StartApplicationSessionNegResponse { error_code } => Err(Failure(
                format!("the key system refused the application session: {error_code}"),
            )),
            other => Err(Failure(format!(
                "the key system answered the application session's start with {}",
                other.root_name()
            ))),
        }
    }

    fn on_monitor_reply(&mut self, device: DeviceId, result: Result<Response, SwitchError>) {
        let Phase::Connected(c) = &mut self.phase else {
            return;
        };
        match result {
            Ok(Response::MonitorStart { cross_ref }) => {
                c.monitors.insert(cross_ref, device);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(
                    "{}: the key system refused to monitor {}: {e}",
                    self.who,
                    device.as_str()
                );
                c.unmonitored.push((device, e));
            }
        }
        c.monitors_awaited = c.monitors_awaited.saturating_sub(1);
        if c.monitors_awaited == 0 && !c.up {
            self.link_up();
        }
    }
}

/// Answers a request that cannot be sent; the link stays up.
fn refuse(purpose: Purpose, description: &str, why: String) -> Step {
    match purpose {
        Purpose::User(reply) => {
            let _ = reply.send(Err(CstaError::Unsendable {
                request: description.to_owned(),
                why,
            }));
            Ok(())
        }
        _ => Err(Failure(format!("{description} cannot be sent: {why}"))),
    }
}

/// Whether a decoding error means the bytes are not a CSTA link's traffic
/// at all (the link is then dropped), as opposed to a well-formed document
/// the client does not know.
fn is_garbage(e: &DecodeError) -> bool {
    match e {
        DecodeError::UnknownMessage(_)
        | DecodeError::Missing { .. }
        | DecodeError::Duplicate { .. }
        | DecodeError::Invalid { .. } => false,
        // A namespaced document of another vocabulary (a vendor message)
        // is skipped; a document in no namespace is no CSTA at all.
        DecodeError::WrongNamespace(ns) => ns.is_none(),
        _ => true,
    }
}

/// The session duration in whole seconds, at least one.
fn session_seconds(d: Duration) -> u32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
}
