//! Pickup semantics over the real bus: a private `dbus-daemon`, the real
//! `pickupd --sim` (the built-in simulated site of spec/site.md) and the
//! contract of spec/pickup-semantics.md and spec/dbus-api.md as the oracle.
//!
//! Every test starts its own daemon, so the tests are independent. Most of
//! them also run a [`Recorder`]: a separate connection that records every
//! message the daemon sends, in bus order, so that at the end the
//! `StateChanged` chain of every call can be checked (each old state is the
//! previous new state, the first old state is the state the call was
//! announced with, DISCONNECTED comes before IDLE, nothing after removal).
//!
//! Site reminder: trunk1 5550100 (sales, call waiting + CIDCW), trunk2
//! 5550101 (support, call waiting), both appear on desks 201–205; 201, 202,
//! 203 in sales (203 also picks up in support), 204, 205 in support; 201 and
//! 205 have PICKUPGROUPID.
//!
//! `OperationFailed` (the far switch refused a pickup code) is only produced
//! when the picker is an fxo/modem line doing the pickup *through* another
//! switch, or a key-system CTI link; the simulated site has neither (its
//! trunks answer `OperationUnavailable` for anything but reaching a waiting
//! call), so no test here can provoke it.

use futures_util::StreamExt;
use pickupd_api::proxy::{AddressProxy, LineProxy};
use pickupd_api::tapi::{
    addr_cap_flags as capf, addr_feature as feat, call_reason as reason, call_state as cs,
    disconnect_mode as dm,
};
use pickupd_api::{BUS_NAME, CALL_INTERFACE, ROOT_PATH};
use pickupd_tests::{wait_for, Daemon};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zbus::message::Type as MsgType;
use zbus::names::InterfaceName;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};
use zbus::{Connection, MatchRule, Message, MessageStream};

const T: Duration = Duration::from_secs(5);
const OBJECT_MANAGER: &str = "org.freedesktop.DBus.ObjectManager";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
const ERR: &str = "org.pickupd.Pickup1.Error.";

// ---------------------------------------------------------------------------
// Helpers

/// An error a person can act on: not empty, words, not a bare code.
fn is_sentence(msg: &str) -> bool {
    let m = msg.trim();
    m.len() >= 10 && m.contains(' ') && m.chars().filter(|c| c.is_alphabetic()).count() >= 5
}

/// Assert that `r` failed with `org.pickupd.Pickup1.Error.<name>` and a
/// human sentence; returns the message.
#[track_caller]
fn expect_err<T: std::fmt::Debug>(r: zbus::Result<T>, name: &str) -> String {
    match r {
        Err(zbus::Error::MethodError(n, msg, _)) => {
            let msg = msg.unwrap_or_default();
            assert_eq!(
                n.as_str(),
                format!("{ERR}{name}"),
                "wrong error name (message: {msg:?})"
            );
            assert!(
                is_sentence(&msg),
                "{name}: message {msg:?} is not a human sentence"
            );
            msg
        }
        other => panic!("expected {ERR}{name}, got {other:?}"),
    }
}

/// An Address proxy that never caches (every property read is a Get).
async fn addr(d: &Daemon, number: &str) -> AddressProxy<'static> {
    let path = d
        .manager()
        .await
        .find_address(number)
        .await
        .unwrap_or_else(|e| panic!("address {number}: {e}"));
    addr_on(&d.conn, path).await
}

async fn addr_on(conn: &Connection, path: OwnedObjectPath) -> AddressProxy<'static> {
    AddressProxy::builder(conn)
        .path(path)
        .expect("path")
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("address proxy")
}

async fn addr_path(d: &Daemon, number: &str) -> OwnedObjectPath {
    d.manager()
        .await
        .find_address(number)
        .await
        .expect("address")
}

/// The line (station port or trunk) that owns `number`.
async fn line_of(d: &Daemon, number: &str) -> OwnedObjectPath {
    addr(d, number).await.line().await.expect("Line")
}

async fn line_proxy(d: &Daemon, path: OwnedObjectPath) -> LineProxy<'static> {
    LineProxy::builder(&d.conn)
        .path(path)
        .expect("path")
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("line proxy")
}

/// Every property of a call, read with one GetAll.
#[derive(Debug, Clone)]
#[allow(dead_code)]
struct Snap {
    address: String,
    station: String,
    state: u32,
    mode: u32,
    reason: u32,
    direction: String,
    caller_number: String,
    caller_name: String,
    called_number: String,
    call_waiting: bool,
    detected_by: String,
    held_by: String,
}

fn take<T: TryFrom<OwnedValue>>(m: &mut HashMap<String, OwnedValue>, k: &str) -> T
where
    T::Error: std::fmt::Debug,
{
    let v = m
        .remove(k)
        .unwrap_or_else(|| panic!("call has no property {k}"));
    T::try_from(v).unwrap_or_else(|e| panic!("property {k}: {e:?}"))
}

async fn try_snap(conn: &Connection, p: &OwnedObjectPath) -> zbus::Result<Snap> {
    let props = zbus::fdo::PropertiesProxy::builder(conn)
        .destination(BUS_NAME)?
        .path(p.clone())?
        .build()
        .await?;
    let mut m = props
        .get_all(InterfaceName::from_static_str_unchecked(CALL_INTERFACE))
        .await?;
    Ok(Snap {
        address: take::<OwnedObjectPath>(&mut m, "Address").to_string(),
        station: take::<OwnedObjectPath>(&mut m, "Station").to_string(),
        state: take(&mut m, "State"),
        mode: take(&mut m, "StateMode"),
        reason: take(&mut m, "Reason"),
        direction: take(&mut m, "Direction"),
        caller_number: take(&mut m, "CallerNumber"),
        caller_name: take(&mut m, "CallerName"),
        called_number: take(&mut m, "CalledNumber"),
        call_waiting: take(&mut m, "CallWaiting"),
        detected_by: take(&mut m, "DetectedBy"),
        held_by: take::<OwnedObjectPath>(&mut m, "HeldBy").to_string(),
    })
}

async fn snap(d: &Daemon, p: &OwnedObjectPath) -> Snap {
    try_snap(&d.conn, p)
        .await
        .unwrap_or_else(|e| panic!("GetAll on {p}: {e}"))
}

async fn state(d: &Daemon, p: &OwnedObjectPath) -> Option<u32> {
    d.call(p).await.state().await.ok()
}

async fn wait_state(d: &Daemon, p: &OwnedObjectPath, want: u32) {
    wait_for(
        &format!("{p} to be in state 0x{want:x}"),
        T,
        || async move { (state(d, p).await == Some(want)).then_some(()) },
    )
    .await
}

/// Is the call object gone (not in Manager.Calls)?
async fn gone(d: &Daemon, p: &OwnedObjectPath) -> bool {
    !d.manager().await.calls().await.expect("Calls").contains(p)
}

async fn wait_gone(d: &Daemon, p: &OwnedObjectPath) {
    wait_for(&format!("{p} to go away"), T, || async move {
        gone(d, p).await.then_some(())
    })
    .await
}

async fn live_calls(d: &Daemon) -> Vec<OwnedObjectPath> {
    d.manager().await.calls().await.expect("Manager.Calls")
}

/// The calls at an address, with their properties.
async fn calls_at(d: &Daemon, number: &str) -> Vec<(OwnedObjectPath, Snap)> {
    let mut out = Vec::new();
    for c in addr(d, number).await.calls().await.expect("Calls") {
        if let Ok(s) = try_snap(&d.conn, &c).await {
            out.push((c, s));
        }
    }
    out
}

/// Wait for a call at `number` whose properties satisfy `pred`.
async fn wait_call_at(
    d: &Daemon,
    number: &str,
    what: &str,
    pred: impl Fn(&Snap) -> bool,
) -> (OwnedObjectPath, Snap) {
    let pred = &pred;
    wait_for(what, T, || async move {
        calls_at(d, number).await.into_iter().find(|(_, s)| pred(s))
    })
    .await
}

async fn features(d: &Daemon, number: &str) -> u32 {
    addr(d, number).await.features().await.expect("Features")
}

/// Wait until `(Features & mask) == want` at `number`.
async fn wait_features(d: &Daemon, number: &str, mask: u32, want: u32) {
    let what = format!("Features of {number} & 0x{mask:x} == 0x{want:x}");
    let mut last = 0;
    let r = tokio::time::timeout(T, async {
        loop {
            last = features(d, number).await;
            if last & mask == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(r.is_ok(), "timed out waiting for {what}; last 0x{last:x}");
}

/// An incoming call that `IncomingCall` made, OFFERING.
async fn ring(d: &Daemon, number: &str, caller: &str, name: &str) -> OwnedObjectPath {
    let p = d
        .sim()
        .await
        .incoming_call(number, caller, name)
        .await
        .unwrap_or_else(|e| panic!("IncomingCall({number}): {e}"));
    // (the simulator's reply can come a few ms before the object is
    // exported: see the report; Pickup does not have this problem)
    wait_state(d, &p, cs::OFFERING).await;
    p
}

/// Lift the handset at `station`: answers what rings there, or dial tone.
async fn off_hook(d: &Daemon, station: &str) {
    d.sim().await.off_hook(station).await.expect("OffHook");
    let line = line_proxy(d, line_of(d, station).await).await;
    wait_for(&format!("{station} off hook"), T, || {
        let line = line.clone();
        async move { (line.hook().await.ok()? == "off").then_some(()) }
    })
    .await;
}

/// A call at a station (or a trunk appearing on it) answered by lifting the
/// handset; returns the connected call.
async fn answered_by_lifting(d: &Daemon, call: &OwnedObjectPath, station: &str) -> OwnedObjectPath {
    off_hook(d, station).await;
    wait_state(d, call, cs::CONNECTED).await;
    let s = snap(d, call).await;
    assert_eq!(
        s.station,
        line_of(d, station).await.to_string(),
        "{station} took the call"
    );
    call.clone()
}

/// The office signals a second call on `trunk`. The simulated office learns
/// that the line went off hook on its next 20 ms tick, which may come a
/// little after the daemon reports CONNECTED: retry briefly until it takes it.
/// Returns when the successful request was sent.
async fn call_waiting(d: &Daemon, trunk: &str, caller: &str, name: &str) -> Instant {
    let sim = d.sim().await;
    let mut last = None;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let sent = Instant::now();
        match sim.call_waiting(trunk, caller, name).await {
            Ok(()) => return sent,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("CallWaiting({trunk}): {last:?}");
}

/// The simulated office applies what the daemon asks of a trunk (off hook,
/// on hook) on its next 20 ms tick, after the simulator requests queued for
/// that tick: let it catch up before the far end acts (see
/// remote_hangup_right_after_answer_ends_the_call).
async fn settle_sim() {
    tokio::time::sleep(Duration::from_millis(60)).await;
}

/// Wait for a call-waiting call on a trunk.
async fn waiting_call(d: &Daemon, trunk: &str) -> (OwnedObjectPath, Snap) {
    wait_call_at(d, trunk, "the call-waiting tone to be detected", |s| {
        s.call_waiting && s.state == cs::OFFERING
    })
    .await
}

// ---------------------------------------------------------------------------
// Recorder: every message from the daemon, in bus order, on its own connection

struct Recorder {
    conn: Connection,
    msgs: Arc<Mutex<Vec<Message>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    async fn start(d: &Daemon) -> Recorder {
        let conn = zbus::connection::Builder::address(d.bus.address.as_str())
            .expect("address")
            .max_queued(1 << 16)
            .build()
            .await
            .expect("recorder connection");
        let mut stream = MessageStream::from(&conn);
        let msgs = Arc::new(Mutex::new(Vec::new()));
        let sink = msgs.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                sink.lock().unwrap().push(m);
            }
        });
        let rule = MatchRule::builder()
            .msg_type(MsgType::Signal)
            .sender(BUS_NAME)
            .expect("sender")
            .build();
        zbus::fdo::DBusProxy::new(&conn)
            .await
            .expect("bus proxy")
            .add_match_rule(rule)
            .await
            .expect("AddMatch");
        Recorder { conn, msgs, task }
    }

    /// Wait until everything the daemon sent so far has been recorded: a
    /// Ping's reply comes after every earlier message of the daemon.
    async fn sync(&self) {
        tokio::time::sleep(Duration::from_millis(60)).await;
        let reply = self
            .conn
            .call_method(
                Some(BUS_NAME),
                ROOT_PATH,
                Some("org.freedesktop.DBus.Peer"),
                "Ping",
                &(),
            )
            .await
            .expect("Ping");
        let serial = reply.header().reply_serial();
        wait_for("the Ping reply to be recorded", T, || async move {
            self.msgs
                .lock()
                .unwrap()
                .iter()
                .any(|m| {
                    m.header().message_type() == MsgType::MethodReturn
                        && m.header().reply_serial() == serial
                })
                .then_some(())
        })
        .await;
    }

    fn snapshot(&self) -> Vec<Message> {
        self.msgs.lock().unwrap().clone()
    }

    /// Check the StateChanged chain of every call seen; returns how many
    /// calls and changes were checked.
    async fn check_chains(&self) -> (usize, usize) {
        self.sync().await;
        let msgs = self.snapshot();
        let v = check_chains(&msgs);
        self.task.abort();
        v
    }
}

fn member(m: &Message) -> (String, String, String) {
    let h = m.header();
    (
        h.interface().map(|i| i.to_string()).unwrap_or_default(),
        h.member().map(|i| i.to_string()).unwrap_or_default(),
        h.path().map(|i| i.to_string()).unwrap_or_default(),
    )
}

/// One line per message, for failure output.
fn describe(msgs: &[Message]) -> String {
    msgs.iter()
        .enumerate()
        .map(|(i, m)| {
            let h = m.header();
            let (iface, mem, path) = member(m);
            let body = match (iface.as_str(), mem.as_str()) {
                (OBJECT_MANAGER, "InterfacesAdded") => m
                    .body()
                    .deserialize::<(OwnedObjectPath, Ifaces)>()
                    .map(|(p, i)| {
                        let props: Vec<String> = i
                            .iter()
                            .map(|(k, v)| format!("{k}: {} props", v.len()))
                            .collect();
                        format!("{p} {props:?}")
                    })
                    .unwrap_or_default(),
                (_, "InterfacesRemoved") | (_, "CallAdded") | (_, "CallRemoved") => m
                    .body()
                    .deserialize::<zbus::zvariant::Structure>()
                    .map(|s| format!("{s}"))
                    .unwrap_or_default(),
                (CALL_INTERFACE, "StateChanged") => m
                    .body()
                    .deserialize::<(u32, u32, u32)>()
                    .map(|(a, b, c)| format!("{a:#x} -> {b:#x} mode {c:#x}"))
                    .unwrap_or_default(),
                (PROPERTIES, "PropertiesChanged") => m
                    .body()
                    .deserialize::<(String, HashMap<String, OwnedValue>, Vec<String>)>()
                    .map(|(_, c, _)| format!("{c:?}"))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            format!(
                "{i:4} {:?} {path} {iface}.{mem} {} {body}",
                h.message_type(),
                h.reply_serial()
                    .map(|s| format!("reply_serial={s}"))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

type Ifaces = HashMap<String, HashMap<String, OwnedValue>>;

/// Does the body of `m` mention object path `p` (as a whole path)?
fn mentions(m: &Message, p: &str) -> bool {
    let body = m.body();
    let data: &[u8] = body.data();
    let mut needle = p.as_bytes().to_vec();
    needle.push(0);
    data.windows(needle.len()).any(|w| w == needle.as_slice())
}

fn check_chains(msgs: &[Message]) -> (usize, usize) {
    // per call: current state, announced, removed, states seen via StateChanged
    // and via PropertiesChanged(State)
    let mut current: HashMap<String, u32> = HashMap::new();
    let mut removed: HashSet<String> = HashSet::new();
    let mut by_signal: HashMap<String, Vec<u32>> = HashMap::new();
    let mut by_prop: HashMap<String, Vec<u32>> = HashMap::new();
    let mut changes = 0;
    for m in msgs {
        if m.header().message_type() != MsgType::Signal {
            continue;
        }
        let (iface, name, path) = member(m);
        match (iface.as_str(), name.as_str()) {
            (OBJECT_MANAGER, "InterfacesAdded") => {
                let (p, ifaces): (OwnedObjectPath, Ifaces) =
                    m.body().deserialize().expect("InterfacesAdded body");
                if let Some(props) = ifaces.get(CALL_INTERFACE) {
                    // (an announcement without properties is checked by
                    // picked_call_is_announced_after_the_reply_once; here
                    // the announcement that carries the state counts)
                    let Some(st) = props
                        .get("State")
                        .and_then(|v| u32::try_from(v.try_clone().ok()?).ok())
                    else {
                        continue;
                    };
                    assert!(
                        current.insert(p.to_string(), st).is_none(),
                        "{p} announced twice"
                    );
                }
            }
            (OBJECT_MANAGER, "InterfacesRemoved") => {
                let (p, ifaces): (OwnedObjectPath, Vec<String>) =
                    m.body().deserialize().expect("InterfacesRemoved body");
                if ifaces.iter().any(|i| i == CALL_INTERFACE) {
                    let p = p.to_string();
                    assert_eq!(
                        current.get(&p),
                        Some(&cs::IDLE),
                        "{p} removed before reaching IDLE"
                    );
                    removed.insert(p);
                }
            }
            (CALL_INTERFACE, "StateChanged") => {
                let (old, new, mode): (u32, u32, u32) =
                    m.body().deserialize().expect("StateChanged body");
                changes += 1;
                assert!(!removed.contains(&path), "StateChanged on removed {path}");
                let cur = current.get(&path).copied().unwrap_or_else(|| {
                    panic!("StateChanged {old:#x}->{new:#x} on {path} before its InterfacesAdded")
                });
                assert_eq!(
                    old, cur,
                    "{path}: StateChanged old {old:#x} is not the previous state {cur:#x}"
                );
                assert_ne!(old, new, "{path}: StateChanged to the same state");
                if new == cs::IDLE {
                    assert_eq!(cur, cs::DISCONNECTED, "{path}: IDLE not after DISCONNECTED");
                }
                if new != cs::DISCONNECTED {
                    assert_eq!(mode, 0, "{path}: mode {mode:#x} for state {new:#x}");
                } else {
                    assert_ne!(mode, 0, "{path}: DISCONNECTED without a mode");
                }
                current.insert(path.clone(), new);
                by_signal.entry(path).or_default().push(new);
            }
            (PROPERTIES, "PropertiesChanged") if path.contains("/Call/") => {
                let (i, changed, _inv): (String, HashMap<String, OwnedValue>, Vec<String>) =
                    m.body().deserialize().expect("PropertiesChanged body");
                if i == CALL_INTERFACE {
                    if let Some(v) = changed.get("State") {
                        let v = u32::try_from(v.try_clone().expect("clone")).expect("u32");
                        by_prop.entry(path).or_default().push(v);
                    }
                }
            }
            _ => {}
        }
    }
    for (p, sig) in &by_signal {
        if let Some(prop) = by_prop.get(p) {
            assert_eq!(
                prop, sig,
                "{p}: PropertiesChanged(State) sequence differs from StateChanged"
            );
        }
    }
    (current.len(), changes)
}

/// Daemon + recorder.
async fn start() -> (Daemon, Recorder) {
    let d = Daemon::start_sim().await;
    let rec = Recorder::start(&d).await;
    (d, rec)
}

// ---------------------------------------------------------------------------
// 1. The rows of pickup-semantics.md

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directed_pickup_of_a_station_call_moves_it_to_the_picker() {
    let (d, rec) = start().await;
    let old = ring(&d, "202", "5551234", "ALICE").await;
    let new = addr(&d, "201")
        .await
        .pickup("202", "")
        .await
        .expect("Pickup(202)");
    assert_ne!(new, old, "a new call object");
    let s = snap(&d, &new).await;
    assert_eq!(
        s.address,
        addr_path(&d, "201").await.to_string(),
        "moved to 201"
    );
    assert_eq!(s.station, line_of(&d, "201").await.to_string());
    assert_eq!(s.reason, reason::PICKUP);
    assert_eq!(s.state, cs::OFFERING, "201 is on hook: its phone rings");
    assert_eq!(
        (s.caller_number.as_str(), s.caller_name.as_str()),
        ("5551234", "ALICE")
    );
    wait_gone(&d, &old).await;
    // lifting the handset answers it
    answered_by_lifting(&d, &new, "201").await;
    assert_eq!(snap(&d, &new).await.reason, reason::PICKUP);
    // the same with the handset already lifted: CONNECTED at once
    off_hook(&d, "203").await;
    let old = ring(&d, "204", "5550001", "BOB").await;
    let new = addr(&d, "203")
        .await
        .pickup("204", "")
        .await
        .expect("Pickup(204)");
    let s = snap(&d, &new).await;
    assert_eq!(s.state, cs::CONNECTED, "203 is off hook: connected at once");
    assert_eq!(s.address, addr_path(&d, "203").await.to_string());
    assert_eq!(s.station, line_of(&d, "203").await.to_string());
    assert_eq!(s.caller_number, "5550001");
    wait_gone(&d, &old).await;
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directed_pickup_of_a_trunk_call_stays_at_the_trunk() {
    let (d, rec) = start().await;
    let old = ring(&d, "5550100", "5551234", "ALICE").await;
    let new = addr(&d, "204")
        .await
        .pickup("5550100", "")
        .await
        .expect("Pickup(5550100)");
    let s = snap(&d, &new).await;
    assert_eq!(
        s.address,
        addr_path(&d, "5550100").await.to_string(),
        "a trunk call picked by a station with its line key stays at the trunk's address"
    );
    assert_eq!(s.station, line_of(&d, "204").await.to_string());
    assert_eq!(s.reason, reason::PICKUP);
    assert_eq!(s.caller_number, "5551234");
    wait_gone(&d, &old).await;
    answered_by_lifting(&d, &new, "204").await;
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directed_pickup_with_matching_group() {
    let (d, rec) = start().await;
    let old = ring(&d, "202", "5551234", "ALICE").await;
    let new = addr(&d, "203")
        .await
        .pickup("202", "sales")
        .await
        .expect("Pickup(202, sales)");
    assert_eq!(snap(&d, &new).await.caller_number, "5551234");
    wait_gone(&d, &old).await;
    // a trunk in support, named with its group, by a support desk
    let old = ring(&d, "5550101", "5550002", "CAROL").await;
    let new = addr(&d, "204")
        .await
        .pickup("5550101", "support")
        .await
        .expect("Pickup(5550101, support)");
    assert_eq!(snap(&d, &new).await.caller_number, "5550002");
    wait_gone(&d, &old).await;
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directed_pickup_with_non_matching_group_is_invalid_group_id() {
    let (d, rec) = start().await;
    let old = ring(&d, "202", "5551234", "ALICE").await;
    // support exists, but 202 is not in it
    expect_err(
        addr(&d, "201").await.pickup("202", "support").await,
        "InvalidGroupId",
    );
    expect_err(
        addr(&d, "205").await.pickup("202", "support").await,
        "InvalidGroupId",
    );
    // the call is untouched
    wait_state(&d, &old, cs::OFFERING).await;
    assert_eq!(live_calls(&d).await, vec![old]);
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_group_needs_pickupgroupid() {
    let (d, rec) = start().await;
    let support = ring(&d, "5550101", "5550003", "SUPPORT").await;
    // 202 (sales, no PICKUPGROUPID) may not name support
    expect_err(
        addr(&d, "202").await.pickup("", "support").await,
        "OperationUnavailable",
    );
    wait_state(&d, &support, cs::OFFERING).await;
    // 201 (PICKUPGROUPID) may
    let new = addr(&d, "201")
        .await
        .pickup("", "support")
        .await
        .expect("201 picks up in support");
    let s = snap(&d, &new).await;
    assert_eq!(s.caller_number, "5550003");
    assert_eq!(s.station, line_of(&d, "201").await.to_string());
    wait_gone(&d, &support).await;

    // and the other way round: a sales call, 204 (support) refused, 205 allowed
    let sales = ring(&d, "202", "5550004", "SALES").await;
    expect_err(
        addr(&d, "204").await.pickup("", "sales").await,
        "OperationUnavailable",
    );
    wait_state(&d, &sales, cs::OFFERING).await;
    let new = addr(&d, "205")
        .await
        .pickup("", "sales")
        .await
        .expect("205 picks up in sales");
    assert_eq!(snap(&d, &new).await.caller_number, "5550004");
    wait_gone(&d, &sales).await;
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naming_own_group_without_pickupgroupid_is_allowed() {
    let (d, rec) = start().await;
    assert_eq!(
        addr(&d, "202").await.cap_flags().await.unwrap() & capf::PICKUPGROUPID,
        0,
        "202 has no PICKUPGROUPID"
    );
    let c = ring(&d, "5550100", "5550005", "OWN").await;
    let new = addr(&d, "202")
        .await
        .pickup("", "sales")
        .await
        .expect("202 names its own group");
    assert_eq!(snap(&d, &new).await.caller_number, "5550005");
    wait_gone(&d, &c).await;
    // 203 has support among its pickup groups (not its call groups)
    let c = ring(&d, "5550101", "5550006", "OWN2").await;
    let new = addr(&d, "203")
        .await
        .pickup("", "support")
        .await
        .expect("203 names one of its pickup groups");
    assert_eq!(snap(&d, &new).await.caller_number, "5550006");
    wait_gone(&d, &c).await;
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_group_is_invalid_group_id() {
    let (d, rec) = start().await;
    let c = ring(&d, "202", "5550007", "X").await;
    expect_err(
        addr(&d, "201").await.pickup("", "nosuch").await,
        "InvalidGroupId",
    );
    expect_err(
        addr(&d, "201").await.pickup("202", "nosuch").await,
        "InvalidGroupId",
    );
    // also for an address without PICKUPGROUPID: the group does not exist
    expect_err(
        addr(&d, "203").await.pickup("", "nosuch").await,
        "InvalidGroupId",
    );
    wait_state(&d, &c, cs::OFFERING).await;
    rec.check_chains().await;
}

/// (1) call waiting beats a held call on a bridged appearance and an
/// alerting call in the picker's group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_empty_call_waiting_comes_first() {
    let (d, rec) = start().await;
    // a call held on trunk2 (appears on 201), held by 204
    let held = ring(&d, "5550101", "5552001", "HELD").await;
    answered_by_lifting(&d, &held, "204").await;
    d.call(&held).await.hold().await.expect("Hold");
    wait_state(&d, &held, cs::ONHOLD).await;
    // 201 in conversation on trunk1 (call waiting)
    let first = ring(&d, "5550100", "5552002", "FIRST").await;
    answered_by_lifting(&d, &first, "201").await;
    let _ = call_waiting(&d, "5550100", "5552003", "WAITING").await;
    let (waiting, ws) = waiting_call(&d, "5550100").await;
    // trunk1 has caller id on call waiting: the CAS announces the call
    assert_eq!(ws.detected_by, "cas");
    // a call alerting in 201's group
    let group = ring(&d, "202", "5552004", "GROUP").await;
    wait_features(
        &d,
        "201",
        feat::PICKUPWAITING | feat::PICKUP,
        feat::PICKUPWAITING | feat::PICKUP,
    )
    .await;

    let got = addr(&d, "201")
        .await
        .pickup("", "")
        .await
        .expect("Pickup(\"\", \"\")");
    assert_eq!(got, waiting, "the waiting call object itself is returned");
    let s = snap(&d, &got).await;
    assert_eq!(s.state, cs::CONNECTED);
    assert!(!s.call_waiting, "CallWaiting false afterwards");
    assert_eq!(s.reason, reason::PICKUP);
    assert_eq!(s.station, line_of(&d, "201").await.to_string());
    wait_state(&d, &first, cs::ONHOLD).await;
    assert_eq!(
        state(&d, &held).await,
        Some(cs::ONHOLD),
        "held call untouched"
    );
    assert_eq!(
        state(&d, &group).await,
        Some(cs::OFFERING),
        "group call untouched"
    );
    rec.check_chains().await;
}

/// (2) a held call on a bridged appearance beats an alerting group call;
/// the oldest held call first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_empty_held_beats_group_and_oldest_held_first() {
    let (d, rec) = start().await;
    let h2 = ring(&d, "5550101", "5553001", "HELD-T2").await;
    answered_by_lifting(&d, &h2, "204").await;
    d.call(&h2).await.hold().await.expect("Hold");
    wait_state(&d, &h2, cs::ONHOLD).await;
    let h1 = ring(&d, "5550100", "5553002", "HELD-T1").await;
    answered_by_lifting(&d, &h1, "205").await;
    d.call(&h1).await.hold().await.expect("Hold");
    wait_state(&d, &h1, cs::ONHOLD).await;
    let group = ring(&d, "202", "5553003", "GROUP").await;
    wait_features(
        &d,
        "201",
        feat::PICKUPHELD | feat::PICKUPGROUP | feat::PICKUPDIRECT | feat::PICKUP,
        feat::PICKUPHELD | feat::PICKUPGROUP | feat::PICKUPDIRECT | feat::PICKUP,
    )
    .await;

    let a = addr(&d, "201")
        .await
        .pickup("", "")
        .await
        .expect("201 Pickup");
    let s = snap(&d, &a).await;
    assert_eq!(s.caller_number, "5553001", "the oldest held call (trunk2)");
    assert_eq!(s.address, addr_path(&d, "5550101").await.to_string());
    assert_eq!(s.station, line_of(&d, "201").await.to_string());
    assert_eq!(s.reason, reason::PICKUP);
    wait_gone(&d, &h2).await;
    wait_state(&d, &group, cs::OFFERING).await;

    let b = addr(&d, "203")
        .await
        .pickup("", "")
        .await
        .expect("203 Pickup");
    let s = snap(&d, &b).await;
    assert_eq!(s.caller_number, "5553002", "the other held call (trunk1)");
    assert_eq!(s.station, line_of(&d, "203").await.to_string());
    wait_gone(&d, &h1).await;
    wait_state(&d, &group, cs::OFFERING).await;
    rec.check_chains().await;
}

/// (3) own group — only the picker's pickup groups; (4) NothingToPickUp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_empty_own_group_then_nothing() {
    let (d, rec) = start().await;
    // (4) with nothing at all
    let m = expect_err(
        addr(&d, "201").await.pickup("", "").await,
        "NothingToPickUp",
    );
    assert!(m.contains("201"), "message names the address: {m:?}");
    // a support call (older) and a sales call: 201 takes the sales one
    let support = ring(&d, "5550101", "5554001", "SUPPORT").await;
    let sales = ring(&d, "202", "5554002", "SALES").await;
    let got = addr(&d, "201").await.pickup("", "").await.expect("Pickup");
    assert_eq!(snap(&d, &got).await.caller_number, "5554002");
    wait_gone(&d, &sales).await;
    // 202: nothing in sales now; the support call is not in its groups
    expect_err(
        addr(&d, "202").await.pickup("", "").await,
        "NothingToPickUp",
    );
    wait_state(&d, &support, cs::OFFERING).await;
    // 204 (support) takes it
    let got = addr(&d, "204").await.pickup("", "").await.expect("Pickup");
    assert_eq!(snap(&d, &got).await.caller_number, "5554001");
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oldest_alerting_call_first() {
    let (d, rec) = start().await;
    let a = ring(&d, "202", "5555001", "A").await;
    let b = ring(&d, "5550100", "5555002", "B").await;
    let c = ring(&d, "203", "5555003", "C").await;
    let got = addr(&d, "205").await.pickup("", "sales").await.unwrap();
    assert_eq!(snap(&d, &got).await.caller_number, "5555001");
    wait_gone(&d, &a).await;
    let got = addr(&d, "201").await.pickup("", "").await.unwrap();
    assert_eq!(snap(&d, &got).await.caller_number, "5555002");
    wait_gone(&d, &b).await;
    let got = addr(&d, "202").await.pickup("", "").await.unwrap();
    assert_eq!(snap(&d, &got).await.caller_number, "5555003");
    wait_gone(&d, &c).await;
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_the_pickers_own_address() {
    let (d, rec) = start().await;
    let own = ring(&d, "201", "5556001", "OWN").await;
    wait_features(&d, "202", feat::PICKUPDIRECT, feat::PICKUPDIRECT).await;
    assert_eq!(
        features(&d, "201").await & (feat::PICKUPDIRECT | feat::PICKUPGROUP),
        0,
        "201 cannot pick up its own call"
    );
    expect_err(
        addr(&d, "201").await.pickup("201", "").await,
        "NothingToPickUp",
    );
    expect_err(
        addr(&d, "201").await.pickup("", "").await,
        "NothingToPickUp",
    );
    expect_err(
        addr(&d, "201").await.pickup("", "sales").await,
        "NothingToPickUp",
    );
    expect_err(
        addr(&d, "201").await.pickup("201", "sales").await,
        "NothingToPickUp",
    );
    wait_state(&d, &own, cs::OFFERING).await;
    assert_eq!(live_calls(&d).await, vec![own]);
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_a_call_being_placed() {
    let (d, rec) = start().await;
    let placing = addr(&d, "201").await.dial("202").await.expect("Dial 202");
    let (receiving, _) = wait_call_at(&d, "202", "202 to ring", |s| s.state == cs::OFFERING).await;
    let placing_state = state(&d, &placing).await;
    expect_err(
        addr(&d, "203").await.pickup("201", "").await,
        "NothingToPickUp",
    );
    expect_err(
        addr(&d, "203").await.pickup("201", "sales").await,
        "NothingToPickUp",
    );
    assert_eq!(
        state(&d, &placing).await,
        placing_state,
        "placing leg untouched"
    );
    // empty/empty at 203 takes the receiving leg at 202, never the placing one
    let got = addr(&d, "203").await.pickup("", "").await.expect("Pickup");
    let s = snap(&d, &got).await;
    assert_eq!(s.caller_number, "201", "the leg ringing at 202, from 201");
    wait_gone(&d, &receiving).await;
    assert!(!gone(&d, &placing).await, "the placing leg still exists");
    assert_eq!(
        snap(&d, &placing).await.address,
        addr_path(&d, "201").await.to_string()
    );
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privately_held_call_is_not_pickable() {
    let (d, rec) = start().await;
    let c = ring(&d, "202", "5557001", "PRIVATE").await;
    answered_by_lifting(&d, &c, "202").await;
    d.call(&c).await.hold().await.expect("Hold");
    wait_state(&d, &c, cs::ONHOLD).await;
    let s = snap(&d, &c).await;
    assert_eq!(s.held_by, line_of(&d, "202").await.to_string());
    assert_eq!(features(&d, "201").await & feat::PICKUPHELD, 0);
    expect_err(
        addr(&d, "201").await.pickup("", "").await,
        "NothingToPickUp",
    );
    expect_err(
        addr(&d, "201").await.pickup("202", "").await,
        "NothingToPickUp",
    );
    expect_err(
        addr(&d, "203").await.pickup("", "sales").await,
        "NothingToPickUp",
    );
    wait_state(&d, &c, cs::ONHOLD).await;
    // its own station takes it back
    d.call(&c).await.unhold().await.expect("Unhold");
    wait_state(&d, &c, cs::CONNECTED).await;
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_trunk_call_is_pickable_by_another_appearance() {
    let (d, rec) = start().await;
    let c = ring(&d, "5550100", "5558001", "BRIDGED").await;
    answered_by_lifting(&d, &c, "202").await;
    d.call(&c).await.hold().await.expect("Hold");
    wait_state(&d, &c, cs::ONHOLD).await;
    assert_eq!(snap(&d, &c).await.station, "/", "held: no station");
    wait_features(
        &d,
        "204",
        feat::PICKUPHELD | feat::PICKUP,
        feat::PICKUPHELD | feat::PICKUP,
    )
    .await;
    off_hook(&d, "204").await;
    let got = addr(&d, "204").await.pickup("", "").await.expect("Pickup");
    let s = snap(&d, &got).await;
    assert_eq!(s.state, cs::CONNECTED);
    assert_eq!(s.address, addr_path(&d, "5550100").await.to_string());
    assert_eq!(s.station, line_of(&d, "204").await.to_string());
    assert_eq!(s.held_by, "/");
    assert_eq!(s.reason, reason::PICKUP);
    assert_eq!(
        (s.caller_number.as_str(), s.caller_name.as_str()),
        ("5558001", "BRIDGED")
    );
    wait_gone(&d, &c).await;
    wait_features(&d, "203", feat::PICKUPHELD, 0).await;
    rec.check_chains().await;
}

// ---------------------------------------------------------------------------
// 2. What a successful pickup does, seen in the signals

/// A Pickup(202) at 201 sent on the recorder's own connection, so that its
/// reply and the daemon's signals are recorded in the order the daemon sent
/// them. Returns (messages since just before the call, index of the reply,
/// old call, new call).
async fn recorded_pickup(
    d: &Daemon,
    rec: &Recorder,
) -> (Vec<Message>, usize, OwnedObjectPath, OwnedObjectPath) {
    let old = ring(d, "202", "5551234", "ALICE").await;
    for n in ["201", "203", "204", "205"] {
        wait_features(d, n, feat::PICKUPDIRECT, feat::PICKUPDIRECT).await;
    }
    rec.sync().await;
    let before = rec.snapshot().len();
    let a201 = addr_path(d, "201").await;
    let reply = rec
        .conn
        .call_method(
            Some(BUS_NAME),
            a201.as_str(),
            Some("org.pickupd.Pickup1.Address"),
            "Pickup",
            &("202", ""),
        )
        .await
        .expect("Pickup");
    let new: OwnedObjectPath = reply.body().deserialize().expect("o");
    // the handle is usable at once
    let s = try_snap(&rec.conn, &new)
        .await
        .expect("the returned call answers GetAll right after the reply");
    assert_eq!(s.reason, reason::PICKUP);
    assert_eq!(s.state, cs::OFFERING, "201 on hook: it rings");
    assert_eq!(s.station, line_of(d, "201").await.to_string());
    assert_eq!(s.address, a201.to_string());
    assert_eq!(
        (s.caller_number.as_str(), s.caller_name.as_str()),
        ("5551234", "ALICE")
    );
    assert_eq!(s.direction, "inbound");
    rec.sync().await;
    let msgs = rec.snapshot()[before..].to_vec();
    let serial = reply.header().reply_serial();
    let reply_at = msgs
        .iter()
        .position(|m| {
            m.header().message_type() == MsgType::MethodReturn
                && m.header().reply_serial() == serial
        })
        .expect("the reply was recorded");
    (msgs, reply_at, old, new)
}

fn is_signal(m: &Message, iface: &str, name: &str) -> bool {
    let (i, n, _) = member(m);
    m.header().message_type() == MsgType::Signal && i == iface && n == name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn successful_pickup_signals() {
    let (d, rec) = start().await;
    let (msgs, reply_at, old, new) = recorded_pickup(&d, &rec).await;
    let (oldp, newp) = (old.to_string(), new.to_string());
    let dump = describe(&msgs);
    let find = |pred: &dyn Fn(&Message) -> bool| msgs.iter().position(pred);
    let sc = |o: u32, n: u32, mode: u32| {
        let oldp = oldp.clone();
        move |m: &Message| {
            is_signal(m, CALL_INTERFACE, "StateChanged")
                && member(m).2 == oldp
                && m.body().deserialize::<(u32, u32, u32)>().ok() == Some((o, n, mode))
        }
    };
    let disc = find(&sc(cs::OFFERING, cs::DISCONNECTED, dm::PICKUP)).unwrap_or_else(|| {
        panic!("old call OFFERING -> DISCONNECTED with LINEDISCONNECTMODE_PICKUP:\n{dump}")
    });
    let idle = find(&sc(cs::DISCONNECTED, cs::IDLE, 0))
        .unwrap_or_else(|| panic!("old call DISCONNECTED -> IDLE:\n{dump}"));
    let removed = find(&|m: &Message| {
        is_signal(m, OBJECT_MANAGER, "InterfacesRemoved") && mentions(m, &oldp)
    })
    .unwrap_or_else(|| panic!("InterfacesRemoved for the old call:\n{dump}"));
    let call_removed = find(&|m: &Message| {
        is_signal(m, "org.pickupd.Pickup1.Manager", "CallRemoved") && mentions(m, &oldp)
    })
    .unwrap_or_else(|| panic!("CallRemoved for the old call:\n{dump}"));
    assert!(
        disc < idle && idle < removed && idle < call_removed,
        "old call: DISCONNECTED, IDLE, then removal:\n{dump}"
    );
    // the old call said nothing else about its state
    let old_changes = msgs
        .iter()
        .filter(|m| is_signal(m, CALL_INTERFACE, "StateChanged") && member(m).2 == oldp)
        .count();
    assert_eq!(old_changes, 2, "{dump}");
    // the new call: announced (with its properties) and CallAdded after the reply
    let added = find(&|m: &Message| {
        is_signal(m, OBJECT_MANAGER, "InterfacesAdded")
            && mentions(m, &newp)
            && m.body()
                .deserialize::<(OwnedObjectPath, Ifaces)>()
                .is_ok_and(|(_, i)| {
                    i.get(CALL_INTERFACE)
                        .is_some_and(|p| p.contains_key("State"))
                })
    })
    .unwrap_or_else(|| panic!("InterfacesAdded with the new call's properties:\n{dump}"));
    let call_added = find(&|m: &Message| {
        is_signal(m, "org.pickupd.Pickup1.Manager", "CallAdded") && mentions(m, &newp)
    })
    .unwrap_or_else(|| panic!("CallAdded for the new call:\n{dump}"));
    assert!(added > reply_at && call_added > reply_at, "{dump}");
    // ringing stopped everywhere else: no one can pick it up any more
    for n in ["202", "203", "204", "205"] {
        wait_features(&d, n, feat::PICKUPDIRECT | feat::PICKUPGROUP, 0).await;
    }
    assert_eq!(live_calls(&d).await, vec![new.clone()]);
    // and 201's phone rings with it: lifting the handset answers it
    answered_by_lifting(&d, &new, "201").await;
    rec.check_chains().await;
}

/// TAPI: no event for the new call precedes the method reply, and an
/// object appears once, with its properties.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn picked_call_is_announced_after_the_reply_once() {
    let (d, rec) = start().await;
    let (msgs, reply_at, _old, new) = recorded_pickup(&d, &rec).await;
    let newp = new.to_string();
    let about_new = |m: &Message| {
        m.header().message_type() == MsgType::Signal && (member(m).2 == newp || mentions(m, &newp))
    };
    if let Some(i) = msgs.iter().position(about_new) {
        assert!(
            i > reply_at,
            "signal {:?} about the new call came before the method reply:\n{}",
            member(&msgs[i]),
            describe(&msgs)
        );
    }
    let announced = msgs
        .iter()
        .filter(|m| is_signal(m, OBJECT_MANAGER, "InterfacesAdded") && mentions(m, &newp))
        .count();
    assert_eq!(announced, 1, "announced once:\n{}", describe(&msgs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn features_and_capflags_follow_the_situation() {
    let (d, rec) = start().await;
    let f201 = addr(&d, "201").await.cap_flags().await.unwrap();
    assert_eq!(
        f201 & capf::PICKUPGROUPID,
        capf::PICKUPGROUPID,
        "201 CapFlags {f201:#x}"
    );
    assert_eq!(
        f201 & capf::PICKUPCALLWAIT,
        capf::PICKUPCALLWAIT,
        "201 CapFlags {f201:#x}"
    );
    let f205 = addr(&d, "205").await.cap_flags().await.unwrap();
    assert_eq!(
        f205 & capf::PICKUPGROUPID,
        capf::PICKUPGROUPID,
        "205 CapFlags {f205:#x}"
    );
    for n in ["202", "203", "204"] {
        let f = addr(&d, n).await.cap_flags().await.unwrap();
        assert_eq!(f & capf::PICKUPGROUPID, 0, "{n} CapFlags {f:#x}");
    }
    let all = feat::PICKUP
        | feat::PICKUPHELD
        | feat::PICKUPGROUP
        | feat::PICKUPDIRECT
        | feat::PICKUPWAITING;
    // idle site: nothing to pick up
    for n in ["201", "202", "203", "204", "205"] {
        assert_eq!(features(&d, n).await & all, 0, "{n} idle");
    }
    // a call alerting at 202 (sales)
    let c = ring(&d, "202", "5559001", "F").await;
    let dg = feat::PICKUP | feat::PICKUPDIRECT | feat::PICKUPGROUP;
    wait_features(&d, "201", all, dg).await;
    wait_features(&d, "203", all, dg).await;
    wait_features(&d, "204", all, feat::PICKUP | feat::PICKUPDIRECT).await;
    wait_features(&d, "202", all, 0).await;
    // dropped (rejected): features go back
    d.call(&c).await.drop_call().await.expect("Drop");
    for n in ["201", "203", "204"] {
        wait_features(&d, n, all, 0).await;
    }
    // a held trunk call: PICKUPHELD on the other appearances
    let t = ring(&d, "5550100", "5559002", "T").await;
    answered_by_lifting(&d, &t, "202").await;
    wait_features(
        &d,
        "202",
        feat::PICKUPWAITING | feat::PICKUP,
        feat::PICKUPWAITING | feat::PICKUP,
    )
    .await;
    d.call(&t).await.hold().await.expect("Hold");
    wait_state(&d, &t, cs::ONHOLD).await;
    wait_features(&d, "204", all, feat::PICKUP | feat::PICKUPHELD).await;
    wait_features(&d, "201", all, feat::PICKUP | feat::PICKUPHELD).await;
    wait_features(&d, "202", feat::PICKUPWAITING, 0).await;
    // back in conversation: PICKUPWAITING at 202, PICKUPHELD gone elsewhere
    d.call(&t).await.unhold().await.expect("Unhold");
    wait_state(&d, &t, cs::CONNECTED).await;
    wait_features(&d, "204", all, 0).await;
    wait_features(
        &d,
        "202",
        feat::PICKUPWAITING | feat::PICKUP,
        feat::PICKUPWAITING | feat::PICKUP,
    )
    .await;
    // the far end hangs up: all clear
    settle_sim().await;
    d.sim()
        .await
        .remote_hangup("5550100")
        .await
        .expect("RemoteHangup");
    wait_gone(&d, &t).await;
    for n in ["201", "202", "203", "204", "205"] {
        wait_features(&d, n, all, 0).await;
    }
    rec.check_chains().await;
}

// ---------------------------------------------------------------------------
// 3. Error rows of dbus-api.md

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_invalid_address() {
    let (d, rec) = start().await;
    let _c = ring(&d, "202", "5550100", "X").await;
    let a = addr(&d, "201").await;
    expect_err(a.pickup("12a", "").await, "InvalidAddress");
    expect_err(a.pickup(&"1".repeat(33), "").await, "InvalidAddress");
    let m = expect_err(a.pickup("999", "").await, "InvalidAddress");
    assert!(m.contains("999"), "names the number: {m:?}");
    expect_err(a.pickup("12a", "sales").await, "InvalidAddress");
    expect_err(
        d.manager().await.find_address("12a").await,
        "InvalidAddress",
    );
    expect_err(
        d.manager().await.find_address("999").await,
        "InvalidAddress",
    );
    expect_err(
        d.manager().await.find_address(&"2".repeat(33)).await,
        "InvalidAddress",
    );
    expect_err(a.dial("12a").await, "InvalidAddress");
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_group_nothing_unavailable() {
    let (d, rec) = start().await;
    expect_err(
        addr(&d, "201").await.pickup("", "marketing").await,
        "InvalidGroupId",
    );
    let m = expect_err(
        addr(&d, "201").await.pickup("204", "").await,
        "NothingToPickUp",
    );
    assert!(m.contains("204"), "names the destination: {m:?}");
    expect_err(
        addr(&d, "201").await.pickup("", "support").await,
        "NothingToPickUp",
    );
    expect_err(
        addr(&d, "201").await.pickup("5550100", "").await,
        "NothingToPickUp",
    );
    expect_err(
        addr(&d, "202").await.pickup("", "support").await,
        "OperationUnavailable",
    );
    // a trunk's own address is not a station: it can only reach a waiting call
    let _c = ring(&d, "202", "5550009", "X").await;
    expect_err(
        addr(&d, "5550100").await.pickup("202", "").await,
        "OperationUnavailable",
    );
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_invalid_call_state() {
    let (d, rec) = start().await;
    let offering = ring(&d, "203", "5550010", "OFFER").await;
    expect_err(d.call(&offering).await.hold().await, "InvalidCallState");
    expect_err(d.call(&offering).await.unhold().await, "InvalidCallState");
    let connected = ring(&d, "201", "5550011", "CONN").await;
    answered_by_lifting(&d, &connected, "201").await;
    let cc = d.call(&connected).await;
    expect_err(cc.unhold().await, "InvalidCallState");
    expect_err(cc.answer().await, "InvalidCallState");
    // SwapHold with a call that is not held (OFFERING elsewhere, CONNECTED elsewhere)
    expect_err(cc.swap_hold(&offering.as_ref()).await, "InvalidCallState");
    let other = ring(&d, "202", "5550012", "OTHER").await;
    answered_by_lifting(&d, &other, "202").await;
    expect_err(cc.swap_hold(&other.as_ref()).await, "InvalidCallState");
    // SwapHold from a call that is not CONNECTED
    expect_err(
        d.call(&offering).await.swap_hold(&connected.as_ref()).await,
        "InvalidCallState",
    );
    // nothing changed
    wait_state(&d, &connected, cs::CONNECTED).await;
    wait_state(&d, &other, cs::CONNECTED).await;
    wait_state(&d, &offering, cs::OFFERING).await;
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_resource_unavailable_from_unplugged_station() {
    let (d, rec) = start().await;
    let desk = line_proxy(&d, line_of(&d, "201").await).await;
    d.sim().await.unplug("desk-201").await.expect("Unplug");
    wait_for("desk-201 out of service", T, || {
        let desk = desk.clone();
        async move { (desk.state().await.ok()? == "out-of-service").then_some(()) }
    })
    .await;
    let c = ring(&d, "202", "5550013", "X").await;
    assert_eq!(
        features(&d, "201").await,
        0,
        "an unplugged station can do nothing"
    );
    expect_err(
        addr(&d, "201").await.pickup("202", "").await,
        "ResourceUnavailable",
    );
    expect_err(
        addr(&d, "201").await.pickup("", "").await,
        "ResourceUnavailable",
    );
    expect_err(
        addr(&d, "201").await.pickup("", "sales").await,
        "ResourceUnavailable",
    );
    wait_state(&d, &c, cs::OFFERING).await;
    // a station in a call is busy: a directed pickup is refused, the call stays
    let busy = ring(&d, "5550101", "5550014", "BUSY").await;
    answered_by_lifting(&d, &busy, "204").await;
    let m = expect_err(
        addr(&d, "204").await.pickup("202", "").await,
        "ResourceUnavailable",
    );
    assert!(m.contains("desk-204"), "names the line: {m:?}");
    wait_state(&d, &c, cs::OFFERING).await;
    d.sim().await.plug("desk-201").await.expect("Plug");
    wait_for("desk-201 in service", T, || {
        let desk = desk.clone();
        async move { (desk.state().await.ok()? == "in-service").then_some(()) }
    })
    .await;
    let got = addr(&d, "201")
        .await
        .pickup("202", "")
        .await
        .expect("after Plug");
    assert_eq!(snap(&d, &got).await.caller_number, "5550013");
    rec.check_chains().await;
}

// ---------------------------------------------------------------------------
// 4. Call methods

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_drop_hold_unhold() {
    let (d, rec) = start().await;
    // a station call answered from the bus: at its station
    let c = ring(&d, "202", "5551001", "S").await;
    d.call(&c).await.answer().await.expect("Answer");
    wait_state(&d, &c, cs::CONNECTED).await;
    let s = snap(&d, &c).await;
    assert_eq!(s.state, cs::CONNECTED);
    assert_eq!(s.station, line_of(&d, "202").await.to_string());
    // Hold / Unhold
    d.call(&c).await.hold().await.expect("Hold");
    wait_state(&d, &c, cs::ONHOLD).await;
    let s = snap(&d, &c).await;
    assert_eq!(s.state, cs::ONHOLD);
    assert_eq!(s.station, "/");
    assert_eq!(s.held_by, line_of(&d, "202").await.to_string());
    d.call(&c).await.unhold().await.expect("Unhold");
    wait_state(&d, &c, cs::CONNECTED).await;
    let s = snap(&d, &c).await;
    assert_eq!(s.state, cs::CONNECTED);
    assert_eq!(s.station, line_of(&d, "202").await.to_string());
    assert_eq!(s.held_by, "/");
    d.call(&c).await.drop_call().await.expect("Drop");
    wait_gone(&d, &c).await;
    // a trunk call answered at the trunk itself
    let t = ring(&d, "5550100", "5551002", "T").await;
    d.call(&t).await.answer().await.expect("Answer trunk");
    wait_state(&d, &t, cs::CONNECTED).await;
    let s = snap(&d, &t).await;
    assert_eq!(s.state, cs::CONNECTED);
    assert_eq!(
        s.station,
        line_of(&d, "5550100").await.to_string(),
        "answered at the trunk: Station is the trunk line"
    );
    d.call(&t).await.drop_call().await.expect("Drop trunk");
    wait_gone(&d, &t).await;
    // an offered call dropped: rejected
    let r = ring(&d, "204", "5551003", "R").await;
    let mut sigs = d.call(&r).await.receive_call_state_changed().await.unwrap();
    d.call(&r).await.drop_call().await.expect("Drop offering");
    let first = tokio::time::timeout(T, sigs.next()).await.unwrap().unwrap();
    let a = first.args().unwrap();
    assert_eq!(
        (a.old_state, a.new_state, a.mode),
        (cs::OFFERING, cs::DISCONNECTED, dm::REJECT)
    );
    wait_gone(&d, &r).await;
    let (calls, changes) = rec.check_chains().await;
    assert!(
        calls >= 3 && changes >= 8,
        "{calls} calls, {changes} changes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaphold_at_one_station() {
    let (d, rec) = start().await;
    let a = ring(&d, "201", "5552001", "A").await;
    answered_by_lifting(&d, &a, "201").await;
    d.call(&a).await.hold().await.expect("Hold A");
    let b = ring(&d, "201", "5552002", "B").await;
    d.call(&b).await.answer().await.expect("Answer B");
    wait_state(&d, &b, cs::CONNECTED).await;
    d.call(&b)
        .await
        .swap_hold(&a.as_ref())
        .await
        .expect("SwapHold");
    wait_state(&d, &a, cs::CONNECTED).await;
    wait_state(&d, &b, cs::ONHOLD).await;
    let line = line_of(&d, "201").await.to_string();
    assert_eq!(snap(&d, &a).await.station, line);
    assert_eq!(snap(&d, &b).await.held_by, line);
    // and back
    d.call(&a)
        .await
        .swap_hold(&b.as_ref())
        .await
        .expect("SwapHold back");
    wait_state(&d, &a, cs::ONHOLD).await;
    wait_state(&d, &b, cs::CONNECTED).await;
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaphold_on_a_trunk_with_call_waiting_is_a_flash() {
    let (d, rec) = start().await;
    let first = ring(&d, "5550101", "5553001", "FIRST").await;
    answered_by_lifting(&d, &first, "204").await;
    let _ = call_waiting(&d, "5550101", "5553002", "SECOND").await;
    let (w, ws) = waiting_call(&d, "5550101").await;
    assert_eq!(ws.detected_by, "sas");
    d.call(&first)
        .await
        .swap_hold(&w.as_ref())
        .await
        .expect("SwapHold");
    wait_state(&d, &w, cs::CONNECTED).await;
    let s = snap(&d, &w).await;
    assert!(!s.call_waiting);
    assert_eq!(s.station, line_of(&d, "204").await.to_string());
    wait_state(&d, &first, cs::ONHOLD).await;
    // flash back to the first call
    d.call(&w)
        .await
        .swap_hold(&first.as_ref())
        .await
        .expect("SwapHold back");
    wait_state(&d, &first, cs::CONNECTED).await;
    wait_state(&d, &w, cs::ONHOLD).await;
    assert_eq!(
        snap(&d, &first).await.station,
        line_of(&d, "204").await.to_string()
    );
    rec.check_chains().await;
}

// ---------------------------------------------------------------------------
// 5. Feature codes dialled as DTMF audio, and call waiting from the tone

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn star8_picks_up_own_group() {
    let (d, rec) = start().await;
    let c = ring(&d, "201", "5554001", "ERIN").await;
    off_hook(&d, "203").await;
    d.sim().await.dial("203", "*8").await.expect("Dial *8");
    let (got, s) = wait_call_at(&d, "203", "the *8 pickup at 203", |s| {
        s.state == cs::CONNECTED
    })
    .await;
    assert_eq!(s.reason, reason::PICKUP);
    assert_eq!(
        (s.caller_number.as_str(), s.caller_name.as_str()),
        ("5554001", "ERIN")
    );
    assert_eq!(s.station, line_of(&d, "203").await.to_string());
    wait_gone(&d, &c).await;
    assert_eq!(live_calls(&d).await, vec![got]);
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn star_star_number_is_directed_pickup() {
    let (d, rec) = start().await;
    let c = ring(&d, "204", "5554002", "FRANK").await;
    off_hook(&d, "201").await;
    d.sim()
        .await
        .dial("201", "**204")
        .await
        .expect("Dial **204");
    let (_, s) = wait_call_at(&d, "201", "the **204 pickup at 201", |s| {
        s.state == cs::CONNECTED
    })
    .await;
    assert_eq!(s.caller_number, "5554002");
    assert_eq!(s.reason, reason::PICKUP);
    wait_gone(&d, &c).await;
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn star_star_trunk_number_from_a_desk_already_off_hook() {
    let (d, rec) = start().await;
    off_hook(&d, "202").await;
    let t = ring(&d, "5550101", "5554003", "GINA").await;
    d.sim().await.dial("202", "**5550101").await.expect("Dial");
    let (_, s) = wait_call_at(&d, "5550101", "the **5550101 pickup", |s| {
        s.state == cs::CONNECTED && s.reason == reason::PICKUP
    })
    .await;
    assert_eq!(s.station, line_of(&d, "202").await.to_string());
    assert_eq!(s.caller_number, "5554003");
    wait_gone(&d, &t).await;
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_star8_gives_no_call() {
    let (d, rec) = start().await;
    // a support call alerting at 204 (a station: it rings only there, so
    // lifting 202's handset does not answer it); not in 202's groups
    let support = ring(&d, "204", "5554004", "NOPE").await;
    off_hook(&d, "202").await;
    assert_eq!(
        state(&d, &support).await,
        Some(cs::OFFERING),
        "not answered"
    );
    d.sim().await.dial("202", "*8").await.expect("Dial *8");
    // the decode lands a little after Dial returns; give it ample time
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(calls_at(&d, "202").await.is_empty(), "no call at 202");
    assert_eq!(
        live_calls(&d).await,
        vec![support.clone()],
        "nothing else appeared"
    );
    wait_state(&d, &support, cs::OFFERING).await;
    // (reorder tone is audio only: the bus has no property for it; the
    // station stays off hook with no call)
    let (code, out, err) = d.ctl(&["line", "desk-202"]);
    assert_eq!(code, 0, "pickupctl line desk-202: {err}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("Hook:") && l.trim_end().ends_with("off")),
        "desk-202 still off hook: {out}"
    );
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_waiting_detected_by_tone_then_picked_up() {
    let (d, rec) = start().await;
    let first = ring(&d, "5550101", "5555001", "CAROL").await;
    answered_by_lifting(&d, &first, "205").await;
    wait_features(&d, "205", feat::PICKUPWAITING, feat::PICKUPWAITING).await;
    let t0 = call_waiting(&d, "5550101", "5555002", "DAVE").await;
    let (w, ws) = waiting_call(&d, "5550101").await;
    let took = t0.elapsed();
    assert_eq!(ws.detected_by, "sas");
    assert!(ws.call_waiting);
    assert_eq!(ws.station, "/");
    assert!(
        took >= Duration::from_millis(150),
        "detected suspiciously fast: {took:?}"
    );
    let got = addr(&d, "205").await.pickup("", "").await.expect("Pickup");
    assert_eq!(got, w, "the same object");
    let s = snap(&d, &got).await;
    assert_eq!(s.state, cs::CONNECTED);
    assert!(!s.call_waiting);
    assert_eq!(s.reason, reason::PICKUP);
    assert_eq!(s.station, line_of(&d, "205").await.to_string());
    let f = snap(&d, &first).await;
    assert_eq!(f.state, cs::ONHOLD);
    assert_eq!(f.held_by, line_of(&d, "205").await.to_string());
    rec.check_chains().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_waiting_not_yet_detected_user_heard_the_tone() {
    let (d, rec) = start().await;
    let first = ring(&d, "5550101", "5556001", "CAROL").await;
    answered_by_lifting(&d, &first, "205").await;
    let a205 = addr(&d, "205").await;
    let before: HashSet<OwnedObjectPath> = live_calls(&d).await.into_iter().collect();
    let t0 = call_waiting(&d, "5550101", "5556002", "DAVE").await;
    let got = a205.pickup("", "").await.expect("Pickup");
    let took = t0.elapsed();
    assert!(
        took < Duration::from_millis(300),
        "Pickup was not issued before detection ({took:?}); the test is not meaningful"
    );
    assert!(!before.contains(&got), "a new call object");
    let s = snap(&d, &got).await;
    assert_eq!(s.state, cs::CONNECTED);
    // (DetectedBy is set a moment after the object was announced: see
    // user_flash_call_is_announced_with_detected_by_user)
    wait_for("DetectedBy \"user\"", T, || {
        let (d, got) = (&d, &got);
        async move { (snap(d, got).await.detected_by == "user").then_some(()) }
    })
    .await;
    assert_eq!(s.reason, reason::PICKUP);
    assert!(!s.call_waiting);
    assert_eq!(s.station, line_of(&d, "205").await.to_string());
    assert_eq!(s.address, addr_path(&d, "5550101").await.to_string());
    wait_state(&d, &first, cs::ONHOLD).await;
    // the tone that was cut short must not create a second waiting call later
    tokio::time::sleep(Duration::from_millis(700)).await;
    let at_trunk = calls_at(&d, "5550101").await;
    assert_eq!(
        at_trunk.len(),
        2,
        "first (held) and the waiting party: {at_trunk:?}"
    );
    assert!(at_trunk.iter().all(|(_, s)| !s.call_waiting));
    rec.check_chains().await;
}

/// The call created for an undetected waiting party is DetectedBy "user"
/// from the start: its announcement carries it, and a Get right after the
/// reply sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_flash_call_is_announced_with_detected_by_user() {
    let (d, rec) = start().await;
    let first = ring(&d, "5550101", "5556101", "CAROL").await;
    answered_by_lifting(&d, &first, "205").await;
    let a205 = addr(&d, "205").await;
    let _ = call_waiting(&d, "5550101", "5556102", "DAVE").await;
    let got = a205.pickup("", "").await.expect("Pickup");
    rec.sync().await;
    let newp = got.to_string();
    let announced: Vec<String> = rec
        .snapshot()
        .iter()
        .filter(|m| is_signal(m, OBJECT_MANAGER, "InterfacesAdded") && mentions(m, &newp))
        .filter_map(|m| {
            let (_, i): (OwnedObjectPath, Ifaces) = m.body().deserialize().ok()?;
            let v = i.get(CALL_INTERFACE)?.get("DetectedBy")?.try_clone().ok()?;
            String::try_from(v).ok()
        })
        .collect();
    assert_eq!(
        announced,
        vec!["user".to_string()],
        "DetectedBy in InterfacesAdded"
    );
}

/// trunk1 has CIDCW: the waiting caller's number should be filled in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_waiting_with_cidcw_fills_in_the_caller() {
    let (d, _rec) = start().await;
    let first = ring(&d, "5550100", "5557001", "FIRST").await;
    answered_by_lifting(&d, &first, "201").await;
    // The office plays the tone, then the CAS at once; the daemon mutes the
    // station and answers with DTMF 'D'. Like an exchange, the simulated
    // office sends the FSK caller id only if that 'D' began within 100 ms
    // of the CAS end, so a decoded caller id proves the deadline was met.
    let signalled = Instant::now();
    let _ = call_waiting(&d, "5550100", "5557002", "SECOND").await;
    let (w, _) = waiting_call(&d, "5550100").await;
    wait_for("CIDCW caller id on the waiting call", T, || {
        let w = w.clone();
        let d = &d;
        async move { (snap(d, &w).await.caller_number == "5557002").then_some(()) }
    })
    .await;
    // 300 ms of tone, 80 ms of CAS, the 'D' and about 0.3 s of FSK.
    assert!(
        signalled.elapsed() < Duration::from_millis(1_500),
        "caller id took {:?}",
        signalled.elapsed()
    );
    let call = d.call(&w).await;
    assert_eq!(call.detected_by().await.expect("DetectedBy"), "cas");
    assert_eq!(call.caller_name().await.expect("CallerName"), "SECOND");
    assert!(call.call_waiting().await.expect("CallWaiting"));
}

// ---------------------------------------------------------------------------
// 6. The race

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickup_race_exactly_one_winner() {
    // On emulated hardware every round waits for a real first ring and its
    // caller id (about 3 s), so fewer rounds keep the suite's time bounded.
    let rounds: usize = if pickupd_tests::emulated_hardware() {
        25
    } else {
        100
    };
    let started = Instant::now();
    let (d, rec) = start().await;
    // 201 and 203 listen to dial tone (pickups connect at once); 202, 204,
    // 205 are on hook (their phone rings with the picked call).
    off_hook(&d, "201").await;
    off_hook(&d, "203").await;
    let contenders: &[(&str, &str, &str)] = &[
        ("201", "5550100", ""),
        ("202", "5550100", ""),
        ("203", "5550100", ""),
        ("204", "5550100", ""),
        ("205", "5550100", ""),
        ("201", "", "sales"),
        ("202", "", ""),
        ("203", "", "sales"),
        ("205", "", "sales"),
        ("203", "5550100", "sales"),
    ];
    let mut proxies = Vec::new();
    for (n, dest, group) in contenders {
        let conn = d.bus.connect().await.expect("contender connection");
        let p = addr_on(&conn, addr_path(&d, n).await).await;
        proxies.push((conn, p, *n, *dest, *group));
    }
    let trunk = addr_path(&d, "5550100").await.to_string();
    let sim = d.sim().await;
    let (mut winners, mut losers, mut double, mut lost) = (0usize, 0usize, 0usize, 0usize);
    let mut anomalies = Vec::new();
    let mut by_contender = vec![0usize; contenders.len()];
    for round in 0..rounds {
        let caller = format!("555{round:04}");
        // (the office may still be settling the previous call's hook change)
        let offered = wait_for("trunk1 to ring", T, || {
            let (sim, caller) = (&sim, &caller);
            async move { sim.incoming_call("5550100", caller, "RACE").await.ok() }
        })
        .await;
        // every contender on its own task and connection; who sends first
        // rotates from round to round
        let n = proxies.len();
        let tasks: Vec<_> = (0..n)
            .map(|k| (k + round) % n)
            .map(|i| {
                let (_, p, _, dest, group) = &proxies[i];
                let (p, dest, group) = (p.clone(), dest.to_string(), group.to_string());
                (
                    i,
                    tokio::spawn(async move { p.pickup(&dest, &group).await }),
                )
            })
            .collect();
        let mut results = Vec::new();
        for (i, t) in tasks {
            results.push((i, t.await.expect("contender task")));
        }
        let mut won = Vec::new();
        for (i, r) in results {
            match r {
                Ok(p) => won.push((i, p)),
                Err(e) => {
                    expect_err::<()>(Err(e), "NothingToPickUp");
                    losers += 1;
                }
            }
        }
        // (Manager.Calls lists the new call once the daemon has finished
        // announcing it, a moment after the reply)
        let want: Vec<OwnedObjectPath> = won.iter().map(|(_, c)| c.clone()).collect();
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut live = live_calls(&d).await;
        while live != want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
            live = live_calls(&d).await;
        }
        if won.len() != 1 || live.len() != 1 || !live.contains(&won[0].1) {
            double += won.len().saturating_sub(1);
            lost += usize::from(won.is_empty() || !won.iter().all(|(_, c)| live.contains(c)));
            anomalies.push(format!(
                "round {round}: winners {won:?}, live calls {live:?}"
            ));
            // clean up as well as possible and go on
            for c in &live {
                let _ = d.call(c).await.drop_call().await;
            }
            let _ = sim.remote_hangup("5550100").await;
            for n in ["201", "202", "203", "204", "205"] {
                let _ = sim.on_hook(n).await;
            }
            off_hook(&d, "201").await;
            off_hook(&d, "203").await;
            continue;
        }
        winners += 1;
        let (wi, call) = won.pop().unwrap();
        by_contender[wi] += 1;
        let station = proxies[wi].2;
        assert!(
            gone(&d, &offered).await,
            "round {round}: the offered call is gone"
        );
        let s = snap(&d, &call).await;
        assert!(
            matches!(s.state, cs::OFFERING | cs::CONNECTED),
            "round {round}: winner state {:#x}",
            s.state
        );
        assert_eq!(s.reason, reason::PICKUP);
        assert_eq!(
            s.caller_number, caller,
            "round {round}: the caller carried over"
        );
        assert_eq!(s.address, trunk);
        assert_eq!(s.station, line_of(&d, station).await.to_string());
        let want = if ["201", "203"].contains(&station) {
            cs::CONNECTED
        } else {
            cs::OFFERING
        };
        assert_eq!(s.state, want, "round {round}: {station} picked up");
        // no station is left offered the gone call
        for n in ["201", "202", "203", "204", "205"] {
            assert_eq!(
                features(&d, n).await & (feat::PICKUPDIRECT | feat::PICKUPGROUP),
                0,
                "round {round}: {n} still sees a call to pick up"
            );
        }
        // next round: the person answers if it rings, then the call is dropped
        let rang = s.state == cs::OFFERING;
        if rang {
            sim.off_hook(station).await.expect("OffHook");
            wait_state(&d, &call, cs::CONNECTED).await;
        }
        d.call(&call).await.drop_call().await.expect("Drop winner");
        wait_gone(&d, &call).await;
        if rang {
            sim.on_hook(station).await.expect("OnHook");
        }
    }
    let (calls, changes) = rec.check_chains().await;
    println!(
        "race: {rounds} rounds, {winners} winners, {losers} losers, {double} double, {lost} lost \
         ({} contenders a round; {calls} call objects, {changes} state changes checked; {:.1} s)",
        contenders.len(),
        started.elapsed().as_secs_f64()
    );
    let spread: Vec<String> = contenders
        .iter()
        .zip(&by_contender)
        .map(|((n, dest, group), w)| format!("{n}({dest},{group})={w}"))
        .collect();
    println!("race: winners by contender: {}", spread.join(" "));
    assert!(anomalies.is_empty(), "{}", anomalies.join("\n"));
    assert_eq!(winners, rounds);
    assert_eq!(losers, rounds * (contenders.len() - 1));
    assert_eq!((double, lost), (0, 0));
    drop(proxies);
}

// ---------------------------------------------------------------------------
// Simulator ordering

/// The far party hangs up a moment after the call was answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_hangup_right_after_answer_ends_the_call() {
    let (d, _rec) = start().await;
    let t = ring(&d, "5550100", "5559100", "QUICK").await;
    d.call(&t).await.answer().await.expect("Answer");
    d.sim()
        .await
        .remote_hangup("5550100")
        .await
        .expect("RemoteHangup");
    wait_gone(&d, &t).await;
}
