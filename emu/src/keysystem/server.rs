//! The CTI link of the emulated key system: CSTA (ECMA-323 XML) over TCP
//! or a pty, in either framing of hardware.md §5.5, in front of one
//! [`Switch`].
//!
//! Threads, not tokio: each link has one reader thread, which decodes a
//! request, runs it against the switch under the one lock and queues the
//! reply and the events, and one writer thread, which drains that link's
//! queue to the socket. Holding the lock while queueing gives every client
//! the same order of events, and the requester its reply before the events
//! its request caused (as TAPI wants: the handle exists before any event
//! about it), while a slow client only ever blocks its own writer.
//!
//! A link whose byte stream cannot be framed, or whose frame is not a CSTA
//! document, is dropped (its monitors end with it): after garbage nothing on
//! that stream can be trusted, and no other link notices. A well-formed
//! message that is not a request is answered with `operation/generic`.
//!
//! Application sessions (ECMA-354, what a DMCC client opens first and keeps
//! alive, hardware.md §5.5) are answered on either framing: a session is
//! granted the duration it asks for (180 s if it names none) and belongs to
//! its link. The emulator does not require one before CSTA services and
//! does not expire it; it counts the keep-alives
//! ([`KeySystem::session_timer_resets`]) so tests can see them.
//!
//! For fault tests, [`KeySystem::drop_links`] hangs up every TCP link (as a
//! switch restart would) and [`KeySystem::send_raw`] puts bytes of the
//! test's choosing (garbage) on every link.

use super::model::{CallView, Emitted, Ring, Switch};
use pickupd_hw::csta::enums::OperationError;
use pickupd_hw::csta::session::{decode_any, encode_session, Inbound, SessionMessage};
use pickupd_hw::csta::{
    encode_with, CallId, CstaError, DeviceId, DmccFrame, DmccFramer, Edition, EventReport,
    FrameError, Framer, InvokeId, LengthPrefixFramer, Message, MonitorCrossRefId, MonitorObject,
    Request, Response,
};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How a link cuts its byte stream into messages (chosen per listener).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// A big-endian `u16` payload length, then the XML.
    LengthPrefix,
    /// Avaya DMCC's 8-byte header (version, length, invoke id); replies
    /// carry the request's invoke id, events `9999`.
    Dmcc,
}

/// A received frame: its DMCC invoke id (none in the length-prefix
/// framing) and its payload.
type RxFrame = (Option<InvokeId>, Vec<u8>);

/// The receive side of a framing.
enum RxFramer {
    LengthPrefix(LengthPrefixFramer),
    Dmcc(DmccFramer),
}

impl RxFramer {
    fn new(framing: Framing) -> Self {
        match framing {
            Framing::LengthPrefix => RxFramer::LengthPrefix(LengthPrefixFramer::new()),
            Framing::Dmcc => RxFramer::Dmcc(DmccFramer::new()),
        }
    }

    /// Frames in `bytes`, each with its invoke id (DMCC) or none.
    fn feed(&mut self, bytes: &[u8]) -> Result<Vec<RxFrame>, FrameError> {
        let mut frames = Vec::new();
        match self {
            RxFramer::LengthPrefix(f) => f.feed(bytes, |p| frames.push((None, p)))?,
            RxFramer::Dmcc(f) => {
                f.feed(bytes, |d| frames.push((Some(d.invoke_id), d.payload)))?;
            }
        }
        Ok(frames)
    }
}

/// The wire form of one message in `framing`; `None` only if it exceeds
/// the framing's 64 KiB, which the switch's messages never do.
fn frame(framing: Framing, invoke_id: Option<InvokeId>, payload: Vec<u8>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let ok = match framing {
        Framing::LengthPrefix => LengthPrefixFramer::new().encode(&payload, &mut out),
        Framing::Dmcc => DmccFramer::new().encode(
            &DmccFrame {
                invoke_id: invoke_id.unwrap_or(InvokeId::EVENT),
                payload,
            },
            &mut out,
        ),
    };
    ok.ok().map(|()| out)
}

/// How many messages may wait for one link's writer (see [`State::send`]);
/// far more than any burst the switch produces for a reading client.
const QUEUE_LEN: usize = 4096;

struct Client {
    tx: SyncSender<Vec<u8>>,
    framing: Framing,
    /// The edition of the client's last request; events use it too.
    edition: Edition,
    /// A TCP link (which [`KeySystem::drop_links`] can hang up), not a pty
    /// session.
    tcp: bool,
    /// The id of the application session the client opened, if any.
    session: Option<String>,
}

struct Monitor {
    device: DeviceId,
    client: u64,
}

struct State {
    switch: Switch,
    clients: BTreeMap<u64, Client>,
    /// Monitors by cross-reference number, so fan-out order is stable.
    monitors: BTreeMap<u64, Monitor>,
    next_client: u64,
    next_monitor: u64,
    next_session: u64,
    /// `ResetApplicationSessionTimer` requests granted, on all links.
    session_resets: u64,
}

impl State {
    /// Queues a message for `client`. A client that lets [`QUEUE_LEN`]
    /// messages pile up is not reading: it is removed (its writer then
    /// closes the link) rather than letting it hold memory without bound.
    fn send(&mut self, client: u64, invoke_id: Option<InvokeId>, message: &Message) {
        let Some(c) = self.clients.get(&client) else {
            return;
        };
        let payload = encode_with(message, c.edition);
        self.send_payload(client, invoke_id, payload);
    }

    /// Queues one framed payload for `client` (see [`Self::send`]).
    fn send_payload(&mut self, client: u64, invoke_id: Option<InvokeId>, payload: Vec<u8>) {
        let Some(c) = self.clients.get(&client) else {
            return;
        };
        let Some(bytes) = frame(c.framing, invoke_id, payload) else {
            return;
        };
        self.queue_bytes(client, bytes);
    }

    /// Queues bytes as they are for `client`'s writer.
    fn queue_bytes(&mut self, client: u64, bytes: Vec<u8>) {
        let Some(c) = self.clients.get(&client) else {
            return;
        };
        match c.tx.try_send(bytes) {
            // A client whose writer has gone is being removed by its reader.
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => self.remove_client(client),
        }
    }

    fn fan_out(&mut self, events: Vec<Emitted>) {
        for e in events {
            let targets: Vec<(u64, u64)> = self
                .monitors
                .iter()
                .filter(|(_, m)| m.device == e.device)
                .map(|(n, m)| (*n, m.client))
                .collect();
            for (n, client) in targets {
                let report = Message::Event(EventReport {
                    cross_ref: MonitorCrossRefId::new(n.to_string()),
                    event: e.event.clone(),
                });
                self.send(client, None, &report);
            }
        }
    }

    fn remove_client(&mut self, client: u64) {
        self.clients.remove(&client);
        self.monitors.retain(|_, m| m.client != client);
    }

    /// Answers an application-session request of `client`.
    fn serve_session(&mut self, client: u64, invoke_id: Option<InvokeId>, m: SessionMessage) {
        let current = self.clients.get(&client).and_then(|c| c.session.clone());
        let answer = match m {
            SessionMessage::StartApplicationSession {
                requested_session_duration,
                protocol_versions,
                ..
            } => {
                let id = format!("emu-session-{}", self.next_session);
                self.next_session += 1;
                if let Some(c) = self.clients.get_mut(&client) {
                    c.session = Some(id.clone());
                }
                SessionMessage::StartApplicationSessionPosResponse {
                    session_id: id,
                    actual_protocol_version: protocol_versions.into_iter().next(),
                    actual_session_duration: Some(requested_session_duration.unwrap_or(180)),
                }
            }
            SessionMessage::ResetApplicationSessionTimer {
                session_id,
                requested_session_duration,
            } if current.as_deref() == Some(session_id.as_str()) => {
                self.session_resets += 1;
                SessionMessage::ResetApplicationSessionTimerPosResponse {
                    actual_session_duration: Some(requested_session_duration.unwrap_or(180)),
                }
            }
            SessionMessage::ResetApplicationSessionTimer { .. } => {
                SessionMessage::ResetApplicationSessionTimerNegResponse {
                    error_code: "invalidSessionID".into(),
                }
            }
            SessionMessage::StopApplicationSession { session_id, .. }
                if current.as_deref() == Some(session_id.as_str()) =>
            {
                if let Some(c) = self.clients.get_mut(&client) {
                    c.session = None;
                }
                SessionMessage::StopApplicationSessionPosResponse
            }
            SessionMessage::StopApplicationSession { .. } => {
                SessionMessage::StopApplicationSessionNegResponse {
                    error_code: "invalidSessionID".into(),
                }
            }
            // A response where a request belongs: as for CSTA messages.
            _ => {
                let error = Message::Error(CstaError::Operation(OperationError::Generic));
                self.send(client, invoke_id, &error);
                return;
            }
        };
        self.send_payload(client, invoke_id, encode_session(&answer));
    }

    /// Runs one request of `client` and queues its answer and events.
    fn serve(&mut self, client: u64, invoke_id: Option<InvokeId>, request: &Request) {
        let answer = match request {
            Request::MonitorStart { monitor_object } => match monitor_object {
                MonitorObject::Device(d) if self.switch.has_device(d) => {
                    let n = self.next_monitor;
                    self.next_monitor += 1;
                    self.monitors.insert(
                        n,
                        Monitor {
                            device: d.clone(),
                            client,
                        },
                    );
                    Ok((
                        Response::MonitorStart {
                            cross_ref: MonitorCrossRefId::new(n.to_string()),
                        },
                        Vec::new(),
                    ))
                }
                MonitorObject::Device(_) => {
                    Err(CstaError::Operation(OperationError::InvalidDeviceID))
                }
                MonitorObject::Call(_) => Err(CstaError::Operation(
                    OperationError::InvalidMonitorObjectType,
                )),
            },
            Request::MonitorStop { cross_ref } => {
                let n = cross_ref
                    .as_str()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| self.monitors.get(n).is_some_and(|m| m.client == client));
                match n {
                    Some(n) => {
                        self.monitors.remove(&n);
                        Ok((Response::MonitorStop, Vec::new()))
                    }
                    None => Err(CstaError::Operation(
                        OperationError::InvalidMonitorCrossRefID,
                    )),
                }
            }
            other => self.switch.request(other),
        };
        match answer {
            Ok((response, events)) => {
                self.send(client, invoke_id, &Message::Response(response));
                self.fan_out(events);
            }
            Err(e) => self.send(client, invoke_id, &Message::Error(e)),
        }
    }
}

struct Inner {
    state: Mutex<State>,
}

impl Inner {
    /// The state; a panic elsewhere while holding the lock cannot leave the
    /// plain data half-updated in a way that matters more than stopping
    /// the emulator, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add_client(&self, framing: Framing, tx: SyncSender<Vec<u8>>, tcp: bool) -> u64 {
        let mut st = self.lock();
        let id = st.next_client;
        st.next_client += 1;
        st.clients.insert(
            id,
            Client {
                tx,
                framing,
                edition: Edition::Ed3,
                tcp,
                session: None,
            },
        );
        id
    }

    /// Handles one received frame; `Err` means "drop the link".
    fn handle(&self, client: u64, invoke_id: Option<InvokeId>, payload: &[u8]) -> Result<(), ()> {
        let (edition, message) = match decode_any(payload).map_err(|_| ())? {
            Inbound::Csta(edition, message) => (edition, message),
            Inbound::Session(m) => {
                self.lock().serve_session(client, invoke_id, m);
                return Ok(());
            }
        };
        let mut st = self.lock();
        if let Some(c) = st.clients.get_mut(&client) {
            c.edition = edition;
        }
        match message {
            Message::Request(request) => st.serve(client, invoke_id, &request),
            _ => st.send(
                client,
                invoke_id,
                &Message::Error(CstaError::Operation(OperationError::Generic)),
            ),
        }
        Ok(())
    }
}

/// The emulated key system: one switch, any number of listeners and links.
/// Cloning shares it.
#[derive(Clone)]
pub struct KeySystem {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KeySystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.inner.lock();
        f.debug_struct("KeySystem")
            .field("links", &st.clients.len())
            .field("monitors", &st.monitors.len())
            .finish_non_exhaustive()
    }
}

impl KeySystem {
    /// A key system switching with `switch`.
    pub fn new(switch: Switch) -> Self {
        KeySystem {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    switch,
                    clients: BTreeMap::new(),
                    monitors: BTreeMap::new(),
                    next_client: 1,
                    next_monitor: 1,
                    next_session: 1,
                    session_resets: 0,
                }),
            }),
        }
    }

    /// Listens on `spec` = `tcp:HOST:PORT` (port 0: any free port; see
    /// [`Listener::local_addr`]) with `framing`.
    pub fn listen(&self, spec: &str, framing: Framing) -> io::Result<Listener> {
        let addr = spec.strip_prefix("tcp:").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{spec:?}: a key-system listener is tcp:HOST:PORT"),
            )
        })?;
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        let listener = TcpListener::bind(&addrs[..])?;
        let local = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let inner = Arc::clone(&self.inner);
        let stop2 = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("keysystem-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        break;
                    }
                    // A failed accept (peer reset before accept, fd limit)
                    // concerns that peer only.
                    if let Ok(stream) = stream {
                        // Links that fail to start are simply not served.
                        let _ = spawn_tcp_link(Arc::clone(&inner), stream, framing);
                    }
                }
            })?;
        Ok(Listener {
            addr: local,
            stop,
            thread: Some(thread),
        })
    }

    /// Opens a pty pair whose slave (see [`PtyLink::path`]) is a serial CTI
    /// port speaking `framing`, in raw mode. One peer at a time: when the
    /// last holder of the slave closes it, that session's monitors end and
    /// the next opener starts afresh; garbage ends the session the same way.
    pub fn open_pty(&self, framing: Framing) -> io::Result<PtyLink> {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let pty = nix::pty::openpty(None, None).map_err(io::Error::from)?;
        let mut raw = tcgetattr(&pty.slave).map_err(io::Error::from)?;
        cfmakeraw(&mut raw);
        tcsetattr(&pty.slave, SetArg::TCSANOW, &raw).map_err(io::Error::from)?;
        let path = nix::unistd::ttyname(&pty.slave).map_err(io::Error::from)?;
        // The slave is closed here: the master then reads EIO until a peer
        // opens the path, which is how sessions are told apart.
        drop(pty.slave);
        let stop = Arc::new(AtomicBool::new(false));
        let inner = Arc::clone(&self.inner);
        let stop2 = Arc::clone(&stop);
        let master = pty.master;
        let thread = thread::Builder::new()
            .name("keysystem-pty".into())
            .spawn(move || serve_pty(inner, master, framing, stop2))?;
        Ok(PtyLink {
            path,
            stop,
            thread: Some(thread),
        })
    }

    /// The outside world: a call arrives on `trunk` and rings where `ring`
    /// says; the `Delivered` events go to the monitors.
    pub fn incoming_call(
        &self,
        trunk: &str,
        calling: Option<&str>,
        ring: Ring,
    ) -> Result<CallId, CstaError> {
        let mut st = self.inner.lock();
        let (id, events) = st.switch.incoming_call(trunk, calling, ring)?;
        st.fan_out(events);
        Ok(id)
    }

    /// The outside world: the far end of `call` hangs up.
    pub fn far_end_hangup(&self, call: &CallId) -> Result<(), CstaError> {
        let mut st = self.inner.lock();
        let events = st.switch.far_end_hangup(call)?;
        st.fan_out(events);
        Ok(())
    }

    /// Runs a service as if a client had asked (for a simulator acting for
    /// a person at a desk: lifting the handset to answer, hanging up …);
    /// the events go to the monitors.
    pub fn request(&self, request: &Request) -> Result<Response, CstaError> {
        let mut st = self.inner.lock();
        let (response, events) = st.switch.request(request)?;
        st.fan_out(events);
        Ok(response)
    }

    /// The calls in progress.
    pub fn calls(&self) -> Vec<CallView> {
        self.inner.lock().switch.calls()
    }

    /// How many links are connected (TCP clients and open pty sessions).
    pub fn link_count(&self) -> usize {
        self.inner.lock().clients.len()
    }

    /// How many monitors are active on all links.
    pub fn monitor_count(&self) -> usize {
        self.inner.lock().monitors.len()
    }

    /// How many links have an application session open.
    pub fn application_sessions(&self) -> usize {
        self.inner
            .lock()
            .clients
            .values()
            .filter(|c| c.session.is_some())
            .count()
    }

    /// How many `ResetApplicationSessionTimer` keep-alives were granted.
    pub fn session_timer_resets(&self) -> u64 {
        self.inner.lock().session_resets
    }

    /// Hangs up every TCP link at once, as a restarting switch or a broken
    /// network would: their monitors and sessions end and the peers see the
    /// connection closed. Listeners keep accepting (drop them first to keep
    /// the peers out). Pty sessions are left alone: a serial line cannot be
    /// hung up from this side (drop the [`PtyLink`] instead).
    pub fn drop_links(&self) {
        let mut st = self.inner.lock();
        let tcp: Vec<u64> = st
            .clients
            .iter()
            .filter(|(_, c)| c.tcp)
            .map(|(id, _)| *id)
            .collect();
        for id in tcp {
            // The writer ends with the client's queue and shuts the socket.
            st.remove_client(id);
        }
    }

    /// Writes `bytes` as they are (no framing) on every link, after what is
    /// already queued: garbage for fault tests.
    pub fn send_raw(&self, bytes: &[u8]) {
        let mut st = self.inner.lock();
        let ids: Vec<u64> = st.clients.keys().copied().collect();
        for id in ids {
            st.queue_bytes(id, bytes.to_vec());
        }
    }
}

/// A TCP listener of the key system. Dropping it stops accepting; links
/// already connected go on until their peers close them.
#[derive(Debug)]
pub struct Listener {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// The bound address (with the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own; if that
        // fails the listener is already unusable and the thread will end on
        // its next accept error, so it is left detached rather than joined.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        if TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

fn spawn_tcp_link(inner: Arc<Inner>, stream: TcpStream, framing: Framing) -> io::Result<()> {
    // Replies are small and must not wait for Nagle.
    stream.set_nodelay(true)?;
    let writer = stream.try_clone()?;
    let closer = stream.try_clone()?;
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(QUEUE_LEN);
    let client = inner.add_client(framing, tx, true);
    let spawned = thread::Builder::new()
        .name("keysystem-write".into())
        .spawn(move || {
            let mut writer = writer;
            for bytes in rx {
                if writer.write_all(&bytes).is_err() {
                    break;
                }
            }
            // Whether the write failed or the client was removed (the link
            // ended, or it stopped reading), the peer learns at once and
            // the reader, if still running, ends and cleans up.
            let _ = writer.shutdown(Shutdown::Both);
        });
    if let Err(e) = spawned {
        inner.lock().remove_client(client);
        return Err(e);
    }
    let inner2 = Arc::clone(&inner);
    let spawned = thread::Builder::new()
        .name("keysystem-read".into())
        .spawn(move || {
            let mut stream = stream;
            read_link(&inner2, client, &mut stream, framing);
            inner2.lock().remove_client(client);
            // Dropping the client's sender ends the writer; the shutdown
            // tells the peer at once.
            let _ = closer.shutdown(Shutdown::Both);
        });
    if let Err(e) = spawned {
        inner.lock().remove_client(client);
        return Err(e);
    }
    Ok(())
}

/// Reads and serves one link until EOF, an I/O error or garbage.
fn read_link(inner: &Inner, client: u64, reader: &mut impl Read, framing: Framing) {
    let mut framer = RxFramer::new(framing);
    let mut buf = [0u8; 4096];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let Ok(frames) = framer.feed(&buf[..n]) else {
            return;
        };
        for (invoke_id, payload) in frames {
            if inner.handle(client, invoke_id, &payload).is_err() {
                return;
            }
        }
    }
}

/// A pty CTI port of the key system; dropping it closes the port.
#[derive(Debug)]
pub struct PtyLink {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PtyLink {
    /// The slave device a driver opens (e.g. `/dev/pts/7`).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PtyLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How often the pty thread looks at its stop flag and, while no peer has
/// the slave open, for a new peer.
const PTY_TICK: Duration = Duration::from_millis(20);

/// Serves a pty master: sessions follow one another as peers open and
/// close the slave.
fn serve_pty(inner: Arc<Inner>, master: OwnedFd, framing: Framing, stop: Arc<AtomicBool>) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let Ok(write_fd) = master.try_clone() else {
        return;
    };
    let mut reader = std::fs::File::from(master);
    let writer = Arc::new(Mutex::new(std::fs::File::from(write_fd)));
    let mut session: Option<(u64, RxFramer)> = None;
    let mut buf = [0u8; 4096];
    let tick = PollTimeout::try_from(PTY_TICK).unwrap_or(PollTimeout::NONE);
    while !stop.load(Ordering::SeqCst) {
        let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, tick) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
        let readable = fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN));
        let n = if readable {
            match reader.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // EIO: no peer has the slave open.
                Err(_) => 0,
            }
        } else {
            0
        };
        if n == 0 {
            if let Some((client, _)) = session.take() {
                inner.lock().remove_client(client);
            }
            thread::sleep(PTY_TICK);
            continue;
        }
        let (client, framer) = session.get_or_insert_with(|| {
            let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(QUEUE_LEN);
            let client = inner.add_client(framing, tx, false);
            let writer = Arc::clone(&writer);
            // The writer thread ends when the session's sender is dropped.
            let _ = thread::Builder::new()
                .name("keysystem-pty-write".into())
                .spawn(move || {
                    for bytes in rx {
                        let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
                        if w.write_all(&bytes).is_err() {
                            break;
                        }
                    }
                });
            (client, RxFramer::new(framing))
        });
        let client = *client;
        let ok = match framer.feed(&buf[..n]) {
            Ok(frames) => frames
                .into_iter()
                .all(|(id, payload)| inner.handle(client, id, &payload).is_ok()),
            Err(_) => false,
        };
        if !ok {
            // Garbage ends the session; a serial line cannot be hung up, so
            // what is still in flight is read and discarded as part of the
            // next (failing or fresh) session.
            session = None;
            inner.lock().remove_client(client);
        }
    }
    if let Some((client, _)) = session {
        inner.lock().remove_client(client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pickupd_hw::csta::session::decode_session;

    fn key_system() -> KeySystem {
        KeySystem::new(Switch::builtin())
    }

    /// What one request of `client` queued, unframed (DMCC).
    fn ask(
        inner: &Inner,
        rx: &mpsc::Receiver<Vec<u8>>,
        client: u64,
        id: u16,
        m: &SessionMessage,
    ) -> (InvokeId, Vec<u8>) {
        let id = InvokeId::new(id).expect("four digits");
        inner
            .handle(client, Some(id), &encode_session(m))
            .expect("a session message is served");
        let bytes = rx.try_recv().expect("an answer is queued");
        let mut framer = DmccFramer::new();
        let mut frames = Vec::new();
        framer
            .feed(&bytes, |f| frames.push(f))
            .expect("well framed");
        assert_eq!(frames.len(), 1);
        let f = frames.remove(0);
        (f.invoke_id, f.payload)
    }

    #[test]
    fn application_sessions_are_granted_kept_and_stopped() {
        let ks = key_system();
        let (tx, rx) = mpsc::sync_channel(16);
        let client = ks.inner.add_client(Framing::Dmcc, tx, true);
        let start = SessionMessage::StartApplicationSession {
            application_id: "test".into(),
            protocol_versions: vec![],
            requested_session_duration: Some(30),
        };
        let (id, payload) = ask(&ks.inner, &rx, client, 1, &start);
        assert_eq!(id.get(), 1, "the reply carries the request's invoke id");
        let Ok(SessionMessage::StartApplicationSessionPosResponse {
            session_id,
            actual_session_duration,
            ..
        }) = decode_session(&payload)
        else {
            panic!("not a positive response");
        };
        assert_eq!(actual_session_duration, Some(30));
        assert_eq!(ks.application_sessions(), 1);

        let reset = |session_id: &str| SessionMessage::ResetApplicationSessionTimer {
            session_id: session_id.into(),
            requested_session_duration: None,
        };
        let (_, payload) = ask(&ks.inner, &rx, client, 2, &reset(&session_id));
        assert!(matches!(
            decode_session(&payload),
            Ok(SessionMessage::ResetApplicationSessionTimerPosResponse { .. })
        ));
        assert_eq!(ks.session_timer_resets(), 1);
        let (_, payload) = ask(&ks.inner, &rx, client, 3, &reset("nope"));
        assert!(matches!(
            decode_session(&payload),
            Ok(SessionMessage::ResetApplicationSessionTimerNegResponse { .. })
        ));
        assert_eq!(ks.session_timer_resets(), 1);

        let stop = SessionMessage::StopApplicationSession {
            session_id,
            end_reason: None,
        };
        let (_, payload) = ask(&ks.inner, &rx, client, 4, &stop);
        assert_eq!(
            decode_session(&payload),
            Ok(SessionMessage::StopApplicationSessionPosResponse)
        );
        assert_eq!(ks.application_sessions(), 0);
    }

    #[test]
    fn raw_bytes_reach_every_link_and_drop_links_spares_ptys() {
        let ks = key_system();
        let (tcp_tx, tcp_rx) = mpsc::sync_channel(4);
        let (pty_tx, pty_rx) = mpsc::sync_channel(4);
        ks.inner.add_client(Framing::LengthPrefix, tcp_tx, true);
        ks.inner.add_client(Framing::LengthPrefix, pty_tx, false);
        ks.send_raw(b"junk");
        assert_eq!(tcp_rx.try_recv().as_deref(), Ok(&b"junk"[..]));
        assert_eq!(pty_rx.try_recv().as_deref(), Ok(&b"junk"[..]));
        ks.drop_links();
        assert_eq!(ks.link_count(), 1);
        // The TCP link's queue is closed: its writer ends and hangs up.
        assert!(matches!(
            tcp_rx.try_recv(),
            Err(mpsc::TryRecvError::Disconnected)
        ));
    }
}
