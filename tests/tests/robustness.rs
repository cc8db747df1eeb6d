//! Robustness: malformed arguments for every method, floods, clients that
//! vanish, devices that vanish, SIGTERM with calls live, and configuration
//! errors. After every abuse the daemon must still run and answer.

use futures_util::StreamExt;
use pickupd_api::proxy::LineProxy;
use pickupd_api::tapi::call_reason;
use pickupd_api::tapi::call_state::{CONNECTED, DISCONNECTED, IDLE, OFFERING};
use pickupd_api::{
    ADDRESS_INTERFACE, BUS_NAME, CALL_INTERFACE, MANAGER_INTERFACE, ROOT_PATH, SIMULATOR_INTERFACE,
};
use pickupd_tests::{binary, wait_for, Daemon, TempDir};
use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zbus::zvariant::{ObjectPath, OwnedObjectPath, StructureBuilder, Value};
use zbus::{Connection, MatchRule, Message, MessageStream};

const INVALID_ARGS: &str = "org.freedesktop.DBus.Error.InvalidArgs";
const UNKNOWN_METHOD: &str = "org.freedesktop.DBus.Error.UnknownMethod";
const UNKNOWN_OBJECT: &str = "org.freedesktop.DBus.Error.UnknownObject";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

fn api(name: &str) -> String {
    format!("org.pickupd.Pickup1.Error.{name}")
}

/// `(error name, message)` of a failed call; panics on anything else.
fn error_of(e: &zbus::Error) -> (String, String) {
    match e {
        zbus::Error::MethodError(name, msg, _) => {
            (name.as_str().to_owned(), msg.clone().unwrap_or_default())
        }
        zbus::Error::FDO(f) => {
            use zbus::DBusError;
            (
                f.name().as_str().to_owned(),
                f.description().unwrap_or_default().to_owned(),
            )
        }
        other => panic!("not a D-Bus error reply: {other:?}"),
    }
}

/// Assert that `r` failed with `want` and a message a person can read.
#[track_caller]
fn expect_error<T: std::fmt::Debug>(r: zbus::Result<T>, want: &str, what: &str) {
    match r {
        Ok(v) => panic!("{what}: succeeded with {v:?}, expected {want}"),
        Err(e) => {
            let (name, msg) = error_of(&e);
            assert_eq!(name, want, "{what}: error name (message: {msg:?})");
            assert!(!msg.trim().is_empty(), "{what}: {name} carries no message");
        }
    }
}

/// The daemon runs and answers `Manager.Version` (asked on the wire, not
/// from a proxy cache).
async fn assert_healthy(d: &mut Daemon, after: &str) {
    assert!(d.alive(), "pickupd is no longer running after {after}");
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        d.conn.call_method(
            Some(BUS_NAME),
            ROOT_PATH,
            Some(PROPERTIES),
            "Get",
            &(MANAGER_INTERFACE, "Version"),
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("Version did not answer within 10 s after {after}"))
    .unwrap_or_else(|e| panic!("Version failed after {after}: {e}"));
    let v: zbus::zvariant::OwnedValue = reply.body().deserialize().expect("a variant");
    let v: String = v.try_into().expect("Version is a string");
    assert!(!v.is_empty(), "empty Version after {after}");
}

/// Call a method with a body made of arbitrary values (empty for none).
async fn raw(
    conn: &Connection,
    path: &str,
    iface: &str,
    member: &str,
    args: Vec<Value<'static>>,
) -> zbus::Result<Message> {
    if args.is_empty() {
        return conn
            .call_method(Some(BUS_NAME), path, Some(iface), member, &())
            .await;
    }
    let mut b = StructureBuilder::new();
    for a in args {
        b = b.append_field(a);
    }
    let body = b.build().expect("a structure body");
    conn.call_method(Some(BUS_NAME), path, Some(iface), member, &body)
        .await
}

fn s(v: &str) -> Value<'static> {
    Value::from(v.to_owned())
}

fn o(v: &str) -> Value<'static> {
    Value::from(OwnedObjectPath::try_from(v.to_owned()).expect("object path"))
}

// ----------------------------------------------------------------------------
// Every method and the bodies it must refuse.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Root,
    Address,
    Call,
}

/// `(target, interface, member, in-signature)`: every method of the API.
const METHODS: &[(Target, &str, &str, &str)] = &[
    (Target::Root, MANAGER_INTERFACE, "FindAddress", "s"),
    (Target::Root, MANAGER_INTERFACE, "Reload", ""),
    (Target::Address, ADDRESS_INTERFACE, "Pickup", "ss"),
    (Target::Address, ADDRESS_INTERFACE, "Dial", "s"),
    (Target::Call, CALL_INTERFACE, "Answer", ""),
    (Target::Call, CALL_INTERFACE, "Drop", ""),
    (Target::Call, CALL_INTERFACE, "Hold", ""),
    (Target::Call, CALL_INTERFACE, "Unhold", ""),
    (Target::Call, CALL_INTERFACE, "SwapHold", "o"),
    (Target::Root, SIMULATOR_INTERFACE, "IncomingCall", "sss"),
    (Target::Root, SIMULATOR_INTERFACE, "OffHook", "s"),
    (Target::Root, SIMULATOR_INTERFACE, "OnHook", "s"),
    (Target::Root, SIMULATOR_INTERFACE, "Flash", "s"),
    (Target::Root, SIMULATOR_INTERFACE, "Dial", "ss"),
    (Target::Root, SIMULATOR_INTERFACE, "CallWaiting", "sss"),
    (Target::Root, SIMULATOR_INTERFACE, "RemoteHangup", "s"),
    (Target::Root, SIMULATOR_INTERFACE, "Unplug", "s"),
    (Target::Root, SIMULATOR_INTERFACE, "Plug", "s"),
];

/// A well-typed value for one signature character.
fn good(c: char) -> Value<'static> {
    match c {
        's' => s("201"),
        'o' => o("/org/pickupd/Pickup1/Call/1"),
        _ => unreachable!(),
    }
}

/// Bodies whose signature differs from `sig`: too few, too many, wrong types.
fn wrong_bodies(sig: &str) -> Vec<(String, Vec<Value<'static>>)> {
    let n = sig.len();
    let mut out: Vec<(String, Vec<Value<'static>>)> = Vec::new();
    if n > 0 {
        out.push(("no arguments".into(), vec![]));
        out.push((
            "one argument too few".into(),
            sig.chars().skip(1).map(good).collect(),
        ));
        out.push((
            "every argument a u32".into(),
            sig.chars().map(|_| Value::from(42u32)).collect(),
        ));
        // Swap strings and object paths.
        out.push((
            "s and o swapped".into(),
            sig.chars()
                .map(|c| if c == 's' { o("/") } else { s("/") })
                .collect(),
        ));
        out.push((
            "a bool, an int64, a double".into(),
            vec![Value::from(true), Value::from(-7i64), Value::from(2.5f64)],
        ));
    }
    let mut more: Vec<Value<'static>> = sig.chars().map(good).collect();
    more.push(s("extra"));
    out.push(("one argument too many".into(), more));
    out.push((
        "an array of strings".into(),
        vec![Value::from(vec!["201".to_owned(), "202".to_owned()])],
    ));
    out.push(("a byte".into(), vec![Value::from(7u8)]));
    out.retain(|(_, body)| {
        // `one argument too few` of a single-argument method is `no arguments`.
        body.len() != n
            || body
                .iter()
                .zip(sig.chars())
                .any(|(v, c)| v.value_signature().to_string() != c.to_string())
    });
    out
}

/// Drop every call and wait until none is left.
async fn clear_calls(d: &Daemon) {
    let m = d.manager().await;
    for c in m.calls().await.expect("Calls") {
        let _ = d.call(&c).await.drop_call().await;
    }
    for n in ["201", "202", "203", "204", "205"] {
        let _ = d.sim().await.on_hook(n).await;
    }
    wait_for("every call to go away", Duration::from_secs(10), || {
        let m = m.clone();
        async move {
            let calls = uncached_calls(&m).await;
            calls.is_empty().then_some(())
        }
    })
    .await;
}

async fn uncached_calls(m: &pickupd_api::proxy::ManagerProxy<'_>) -> Vec<OwnedObjectPath> {
    let reply = m
        .inner()
        .connection()
        .call_method(
            Some(BUS_NAME),
            ROOT_PATH,
            Some(PROPERTIES),
            "Get",
            &(MANAGER_INTERFACE, "Calls"),
        )
        .await
        .expect("Get Calls");
    let v: zbus::zvariant::OwnedValue = reply.body().deserialize().expect("variant");
    Vec::<OwnedObjectPath>::try_from(v).expect("ao")
}

/// A fresh call ringing at 202 (every other call dropped first).
async fn ringing_call(d: &Daemon) -> OwnedObjectPath {
    clear_calls(d).await;
    d.sim()
        .await
        .incoming_call("202", "5551234", "ALICE")
        .await
        .expect("IncomingCall 202")
}

async fn target_path(d: &Daemon, t: Target) -> String {
    match t {
        Target::Root => ROOT_PATH.to_owned(),
        Target::Address => d
            .manager()
            .await
            .find_address("201")
            .await
            .expect("201")
            .to_string(),
        Target::Call => ringing_call(d).await.to_string(),
    }
}

/// Every method with every wrong body: an error (never a pickupd semantic
/// error, never a crash), and the daemon answers afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_signatures_never_break_the_daemon() {
    let mut d = Daemon::start_sim().await;
    let mut ran = Vec::new();
    for (target, iface, member, sig) in METHODS {
        for (what, body) in wrong_bodies(sig) {
            let path = target_path(&d, *target).await;
            let ctx = format!("{iface}.{member} with {what}");
            match raw(&d.conn, &path, iface, member, body).await {
                Ok(_) => ran.push((ctx.clone(), *sig)),
                Err(e) => {
                    let (name, msg) = error_of(&e);
                    if name.starts_with("org.pickupd.") {
                        // The method ran despite the wrong body.
                        ran.push((ctx.clone(), *sig));
                    } else {
                        assert!(
                            name.starts_with("org.freedesktop."),
                            "{ctx}: a signature error, not {name}: {msg}"
                        );
                    }
                    assert!(!msg.is_empty(), "{ctx}: {name} without a message");
                }
            }
            assert_healthy(&mut d, &ctx).await;
        }
    }
    // Only argument-less methods (wrongly) run with extra arguments; see
    // `wrong_signatures_are_invalid_args` for the strict check. Every method
    // with arguments refuses a wrong body before running.
    for (ctx, sig) in &ran {
        assert!(sig.is_empty(), "{ctx} ran with a wrong body");
    }
}

/// The strict form: a wrong signature is `InvalidArgs` (or `UnknownMethod`),
/// and a method never runs with a body it does not declare.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_signatures_are_invalid_args() {
    let mut d = Daemon::start_sim().await;
    let mut problems = Vec::new();
    for (target, iface, member, sig) in METHODS {
        for (what, body) in wrong_bodies(sig) {
            let path = target_path(&d, *target).await;
            let ctx = format!("{iface}.{member} with {what}");
            match raw(&d.conn, &path, iface, member, body).await {
                Ok(_) => problems.push(format!("{ctx}: accepted")),
                Err(e) => {
                    let (name, msg) = error_of(&e);
                    if name != INVALID_ARGS && name != UNKNOWN_METHOD {
                        problems.push(format!("{ctx}: {name}: {msg}"));
                    }
                    if msg.is_empty() {
                        problems.push(format!("{ctx}: no message"));
                    }
                }
            }
            assert_healthy(&mut d, &ctx).await;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A well-typed body through the same raw path is not refused for its
/// signature (proves the bodies above are wrong for the reason we say).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn well_typed_raw_bodies_pass_the_signature_check() {
    let mut d = Daemon::start_sim().await;
    let r = raw(
        &d.conn,
        ROOT_PATH,
        MANAGER_INTERFACE,
        "FindAddress",
        vec![s("201")],
    )
    .await;
    let reply = r.expect("FindAddress(\"201\")");
    let p: OwnedObjectPath = reply.body().deserialize().expect("o");
    assert!(
        p.as_str().starts_with(pickupd_api::ADDRESS_PATH_PREFIX),
        "{p}"
    );
    let addr = target_path(&d, Target::Address).await;
    expect_error(
        raw(
            &d.conn,
            &addr,
            ADDRESS_INTERFACE,
            "Pickup",
            vec![s(""), s("")],
        )
        .await,
        &api("NothingToPickUp"),
        "Pickup(\"\", \"\") with nothing ringing",
    );
    assert_healthy(&mut d, "well-typed raw calls").await;
}

// ----------------------------------------------------------------------------
// Well-typed but meaningless strings.

fn bad_numbers() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("10 kB of digits", "1".repeat(10_000)),
        ("10 kB of letters", "x".repeat(10_000)),
        ("non-ASCII", "二〇一".into()),
        ("non-ASCII digits", "٢٠١".into()),
        ("control characters", "20\u{7}1\u{1b}[2J\n\t".into()),
        ("digits with a letter", "20a".into()),
        ("letter O for zero", "5O5".into()),
        ("33 digits", "1".repeat(33)),
        ("spaces", " 201 ".into()),
        ("unknown short number", "999".into()),
        ("unknown trunk-like number", "5550199".into()),
        (
            "unknown 32 digits",
            "12345678901234567890123456789012".into(),
        ),
    ]
}

fn api_is_dialable(n: &str) -> bool {
    pickupd_api::is_dialable(n)
}

fn bad_names() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("10 kB", "g".repeat(10_000)),
        ("non-ASCII", "ventes-é-二".into()),
        ("control characters", "sa\u{1}les\u{1b}\n".into()),
        ("unknown", "no-such-thing".into()),
        ("a number, not a name", "201".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_numbers_are_invalid_address_everywhere() {
    let mut d = Daemon::start_sim().await;
    let m = d.manager().await;
    let sim = d.sim().await;
    let a201 = d.address("201").await;
    for (what, n) in bad_numbers() {
        let n = n.as_str();
        let ia = api("InvalidAddress");
        expect_error(
            m.find_address(n).await,
            &ia,
            &format!("FindAddress({what})"),
        );
        if api_is_dialable(n) {
            // A well-formed number outside the site may be an outside
            // number: a station cannot reach it in this version, which is
            // OperationUnavailable, or the number is refused as unknown.
            let (name, msg) = error_of(&a201.dial(n).await.expect_err("Dial unknown"));
            assert!(
                name == ia || name == api("OperationUnavailable"),
                "Address.Dial({what}): {name}: {msg}"
            );
            assert!(!msg.is_empty());
        } else {
            expect_error(a201.dial(n).await, &ia, &format!("Address.Dial({what})"));
        }
        if !n.is_empty() {
            // An empty destination means NULL: not a directed pickup.
            expect_error(
                a201.pickup(n, "").await,
                &ia,
                &format!("Pickup({what}, \"\")"),
            );
        }
        expect_error(
            sim.incoming_call(n, "5551234", "X").await,
            &ia,
            &format!("Simulator.IncomingCall({what})"),
        );
        expect_error(
            sim.off_hook(n).await,
            &ia,
            &format!("Simulator.OffHook({what})"),
        );
        expect_error(
            sim.on_hook(n).await,
            &ia,
            &format!("Simulator.OnHook({what})"),
        );
        expect_error(sim.flash(n).await, &ia, &format!("Simulator.Flash({what})"));
        expect_error(
            sim.dial(n, "1").await,
            &ia,
            &format!("Simulator.Dial({what}, \"1\")"),
        );
        expect_error(
            sim.call_waiting(n, "5551234", "X").await,
            &ia,
            &format!("Simulator.CallWaiting({what})"),
        );
        expect_error(
            sim.remote_hangup(n).await,
            &ia,
            &format!("Simulator.RemoteHangup({what})"),
        );
        if !n.is_empty() && !api_is_dialable(n) {
            // An empty caller number means "unknown", which is allowed; any
            // well-formed number may call.
            expect_error(
                sim.incoming_call("202", n, "X").await,
                &ia,
                &format!("Simulator.IncomingCall(202, caller {what})"),
            );
        }
        assert_healthy(&mut d, &format!("the number {what}")).await;
    }
    assert!(
        uncached_calls(&m).await.is_empty(),
        "no call was created by a bad number"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_groups_digits_and_line_names() {
    let mut d = Daemon::start_sim().await;
    let sim = d.sim().await;
    let a201 = d.address("201").await;
    for (what, g) in bad_names() {
        if g.is_empty() {
            continue;
        }
        expect_error(
            a201.pickup("", &g).await,
            &api("InvalidGroupId"),
            &format!("Pickup(\"\", group {what})"),
        );
        assert_healthy(&mut d, &format!("the group {what}")).await;
    }
    // Empty group and empty destination: the overloaded TAPI case.
    expect_error(
        a201.pickup("", "").await,
        &api("NothingToPickUp"),
        "Pickup(\"\", \"\") with nothing alerting",
    );
    for (what, l) in bad_names() {
        expect_error(
            sim.unplug(&l).await,
            &api("InvalidAddress"),
            &format!("Unplug({what})"),
        );
        expect_error(
            sim.plug(&l).await,
            &api("InvalidAddress"),
            &format!("Plug({what})"),
        );
        assert_healthy(&mut d, &format!("the line name {what}")).await;
    }
    // Digits dialed at a phone that is off hook.
    sim.off_hook("201").await.expect("OffHook 201");
    for (what, digits) in [
        ("empty", String::new()),
        ("10 kB", "1".repeat(10_000)),
        ("non-ASCII", "١٢".to_owned()),
        ("control characters", "1\u{7}2".to_owned()),
        ("letters", "5O5x".to_owned()),
    ] {
        expect_error(
            sim.dial("201", &digits).await,
            &api("InvalidAddress"),
            &format!("Simulator.Dial(201, {what})"),
        );
        assert_healthy(&mut d, &format!("the digits {what}")).await;
    }
    sim.on_hook("201").await.expect("OnHook 201");
    // Caller names are free text: accepted or refused with an API error,
    // never a crash.
    for (what, name) in bad_names() {
        match sim.incoming_call("202", "5551234", &name).await {
            Ok(c) => {
                d.call(&c).await.drop_call().await.expect("drop");
            }
            Err(e) => {
                let (n, msg) = error_of(&e);
                assert!(
                    n.starts_with("org.pickupd.Pickup1.Error."),
                    "{what}: {n} {msg}"
                );
                assert!(!msg.is_empty());
            }
        }
        clear_calls(&d).await;
        assert_healthy(&mut d, &format!("the caller name {what}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_methods_in_the_wrong_state_and_swaphold_with_non_calls() {
    let mut d = Daemon::start_sim().await;
    let ringing = ringing_call(&d).await;
    let c = d.call(&ringing).await;
    let ics = api("InvalidCallState");
    expect_error(c.hold().await, &ics, "Hold on an OFFERING call");
    expect_error(c.unhold().await, &ics, "Unhold on an OFFERING call");
    // A path that is no call object at all is a wrong argument …
    for p in [
        "/",
        "/org/pickupd/Pickup1",
        "/org/pickupd/Pickup1/Line/1",
        "/org/pickupd/Pickup1/Address/3",
        "/org/pickupd/Pickup1/Call",
        "/elsewhere/Call/1",
    ] {
        let path = ObjectPath::try_from(p).expect("path");
        expect_error(
            c.swap_hold(&path).await,
            INVALID_ARGS,
            &format!("SwapHold({p})"),
        );
        assert_healthy(&mut d, &format!("SwapHold({p})")).await;
    }
    // … and a call path with no call behind it is no such object.
    for p in [
        "/org/pickupd/Pickup1/Call/4242",
        "/org/pickupd/Pickup1/Call/0",
    ] {
        let path = ObjectPath::try_from(p).expect("path");
        expect_error(
            c.swap_hold(&path).await,
            UNKNOWN_OBJECT,
            &format!("SwapHold({p})"),
        );
        assert_healthy(&mut d, &format!("SwapHold({p})")).await;
    }
    expect_error(
        c.swap_hold(&ringing.as_ref()).await,
        &ics,
        "SwapHold(itself)",
    );
    // Answer it, then Answer again.
    c.answer().await.expect("Answer the OFFERING call");
    wait_for("CONNECTED", Duration::from_secs(5), || {
        let c = c.clone();
        async move { (c.state().await.ok()? == CONNECTED).then_some(()) }
    })
    .await;
    expect_error(c.answer().await, &ics, "Answer on a CONNECTED call");
    expect_error(c.unhold().await, &ics, "Unhold on a CONNECTED call");
    assert_healthy(&mut d, "wrong-state call methods").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_on_removed_calls() {
    let mut d = Daemon::start_sim().await;
    let m = d.manager().await;
    // Immediately after Drop: the call may still be there (DISCONNECTED)
    // or already gone; either way a clean error.
    let gone = ringing_call(&d).await;
    let c = d.call(&gone).await;
    c.drop_call().await.expect("Drop");
    for (what, r) in [
        ("Answer", c.answer().await),
        ("Drop", c.drop_call().await),
        ("Hold", c.hold().await),
        ("Unhold", c.unhold().await),
    ] {
        let (name, msg) = error_of(&r.expect_err(what));
        assert!(
            name == UNKNOWN_OBJECT || name == api("InvalidCallState"),
            "{what} right after Drop: {name}: {msg}"
        );
        assert!(!msg.is_empty());
    }
    wait_for(
        "the dropped call to be removed",
        Duration::from_secs(5),
        || {
            let m = m.clone();
            let gone = gone.clone();
            async move { (!uncached_calls(&m).await.contains(&gone)).then_some(()) }
        },
    )
    .await;
    // Once removed: no such object, for every method and for properties.
    let other = d
        .sim()
        .await
        .incoming_call("203", "5551234", "BOB")
        .await
        .expect("another call");
    for (member, args) in [
        ("Answer", vec![]),
        ("Drop", vec![]),
        ("Hold", vec![]),
        ("Unhold", vec![]),
        ("SwapHold", vec![o(other.as_str())]),
    ] {
        expect_error(
            raw(&d.conn, gone.as_str(), CALL_INTERFACE, member, args).await,
            UNKNOWN_OBJECT,
            &format!("{member} on a removed call"),
        );
    }
    expect_error(
        raw(
            &d.conn,
            gone.as_str(),
            PROPERTIES,
            "GetAll",
            vec![s(CALL_INTERFACE)],
        )
        .await,
        UNKNOWN_OBJECT,
        "GetAll on a removed call",
    );
    // The live call is untouched by all that, and SwapHold naming the
    // removed call is a call-state error.
    let oc = d.call(&other).await;
    assert_eq!(oc.state().await.expect("State"), OFFERING);
    expect_error(
        oc.swap_hold(&gone.as_ref()).await,
        UNKNOWN_OBJECT,
        "SwapHold naming a removed call",
    );
    assert_healthy(&mut d, "methods on removed calls").await;
}

// ----------------------------------------------------------------------------
// Load and vanishing clients.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_1000_concurrent_calls_from_several_connections() {
    let mut d = Daemon::start_sim().await;
    let a202 = d
        .manager()
        .await
        .find_address("202")
        .await
        .expect("202")
        .to_string();
    let mut conns = Vec::new();
    for _ in 0..10 {
        conns.push(d.bus.connect().await.expect("another connection"));
    }
    let started = Instant::now();
    let mut futs = Vec::new();
    for i in 0..1000usize {
        // dbus-daemon allows 128 pending replies per connection by default.
        let conn = conns[i % conns.len()].clone();
        let a202 = a202.clone();
        futs.push(async move {
            let r = match i % 5 {
                0 => {
                    raw(
                        &conn,
                        ROOT_PATH,
                        MANAGER_INTERFACE,
                        "FindAddress",
                        vec![s("201")],
                    )
                    .await
                }
                1 => {
                    raw(
                        &conn,
                        ROOT_PATH,
                        MANAGER_INTERFACE,
                        "FindAddress",
                        vec![s("20x")],
                    )
                    .await
                }
                2 => {
                    raw(
                        &conn,
                        ROOT_PATH,
                        PROPERTIES,
                        "Get",
                        vec![s(MANAGER_INTERFACE), s("Version")],
                    )
                    .await
                }
                3 => {
                    raw(
                        &conn,
                        &a202,
                        ADDRESS_INTERFACE,
                        "Pickup",
                        vec![s(""), s("")],
                    )
                    .await
                }
                _ => {
                    raw(
                        &conn,
                        ROOT_PATH,
                        MANAGER_INTERFACE,
                        "FindAddress",
                        vec![u(i)],
                    )
                    .await
                }
            };
            (i, r)
        });
    }
    let results = tokio::time::timeout(
        Duration::from_secs(30),
        futures_util::future::join_all(futs),
    )
    .await
    .expect("1000 calls answered within 30 s");
    let elapsed = started.elapsed();
    for (i, r) in results {
        match i % 5 {
            0 | 2 => {
                r.unwrap_or_else(|e| panic!("call {i} failed: {e}"));
            }
            1 => expect_error(r, &api("InvalidAddress"), &format!("flood call {i}")),
            3 => expect_error(r, &api("NothingToPickUp"), &format!("flood call {i}")),
            _ => {
                let (name, msg) = error_of(&r.expect_err("u32 to FindAddress"));
                assert!(name.starts_with("org.freedesktop."), "{name}: {msg}");
            }
        }
    }
    eprintln!("1000 concurrent calls answered in {elapsed:?}");
    assert_healthy(&mut d, "the flood").await;
    // And it still does real work.
    let c = d
        .sim()
        .await
        .incoming_call("202", "5551234", "ALICE")
        .await
        .expect("IncomingCall after the flood");
    let picked = d
        .address("201")
        .await
        .pickup("202", "")
        .await
        .expect("Pickup after the flood");
    assert_ne!(c, picked);
}

fn u(i: usize) -> Value<'static> {
    Value::from(u32::try_from(i).expect("small"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_during_pickup() {
    let mut d = Daemon::start_sim().await;
    let m = d.manager().await;
    let a201 = d.manager().await.find_address("201").await.expect("201");
    for round in 0..5 {
        let ringing = ringing_call(&d).await;
        let conn = d.bus.connect().await.expect("a short-lived client");
        let msg = Message::method_call(a201.as_str(), "Pickup")
            .expect("builder")
            .destination(BUS_NAME)
            .expect("dest")
            .interface(ADDRESS_INTERFACE)
            .expect("iface")
            .build(&("202", ""))
            .expect("message");
        conn.send(&msg).await.expect("send Pickup");
        // Gone before the reply can be delivered.
        conn.close().await.expect("close");
        assert_healthy(
            &mut d,
            &format!("client vanished during Pickup (round {round})"),
        )
        .await;
        // The call is somewhere, exactly once: still ringing at 202, or
        // picked up and ringing back at 201.
        let one = wait_for("the call to settle", Duration::from_secs(5), || {
            let m = m.clone();
            let d = &d;
            async move {
                let calls = uncached_calls(&m).await;
                let mut live = Vec::new();
                for c in &calls {
                    let st = d.call(c).await.state().await.ok()?;
                    if st != DISCONNECTED && st != IDLE {
                        live.push(c.clone());
                    }
                }
                (live.len() == 1 && calls.len() == 1).then(|| live[0].clone())
            }
        })
        .await;
        let c = d.call(&one).await;
        assert_eq!(c.caller_number().await.expect("caller"), "5551234");
        if one != ringing {
            assert_eq!(c.reason().await.expect("Reason"), call_reason::PICKUP);
        }
    }
    // A well-behaved client still gets its pickup.
    let ringing = ringing_call(&d).await;
    let picked = d
        .address("201")
        .await
        .pickup("202", "")
        .await
        .expect("Pickup");
    assert_ne!(picked, ringing);
    let pc = d.call(&picked).await;
    assert_eq!(pc.reason().await.expect("Reason"), call_reason::PICKUP);
    assert_healthy(&mut d, "client disconnects").await;
}

// ----------------------------------------------------------------------------
// Devices that vanish, and SIGTERM.

/// Every Call.StateChanged, in arrival order: (path, old, new, mode).
#[derive(Clone, Default)]
struct StateLog(Arc<Mutex<Vec<StateEntry>>>);

/// (path, old state, new state, mode)
type StateEntry = (String, u32, u32, u32);

impl StateLog {
    async fn start(conn: &Connection) -> StateLog {
        let rule = MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface(CALL_INTERFACE)
            .expect("iface")
            .member("StateChanged")
            .expect("member")
            .build();
        let mut stream = MessageStream::for_match_rule(rule, conn, Some(1000))
            .await
            .expect("match rule");
        let log = StateLog::default();
        let l = log.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let path = msg
                    .header()
                    .path()
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                if let Ok((a, b, c)) = msg.body().deserialize::<(u32, u32, u32)>() {
                    l.0.lock().expect("lock").push((path, a, b, c));
                }
            }
        });
        log
    }

    /// New states of `path`, in order.
    fn states_of(&self, path: &str) -> Vec<u32> {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .filter(|e| e.0 == path)
            .map(|e| e.2)
            .collect()
    }

    /// Wait until `path` ended with DISCONNECTED then IDLE.
    async fn wait_ended(&self, path: &str, what: &str) {
        let log = self.clone();
        let p = path.to_owned();
        wait_for(what, Duration::from_secs(10), move || {
            let states = log.states_of(&p);
            async move { states.ends_with(&[DISCONNECTED, IDLE]).then_some(()) }
        })
        .await;
    }
}

async fn line_by_name(d: &Daemon, name: &str) -> LineProxy<'static> {
    for p in d.manager().await.lines().await.expect("Lines") {
        let l = LineProxy::builder(&d.conn)
            .path(p)
            .expect("path")
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .expect("line proxy");
        if l.name().await.expect("Name") == name {
            return l;
        }
    }
    panic!("no line {name}");
}

async fn wait_line_state(l: &LineProxy<'_>, want: &str) {
    wait_for(
        &format!("line State {want}"),
        Duration::from_secs(10),
        || {
            let l = l.clone();
            async move { (l.state().await.ok()? == want).then_some(()) }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplug_and_plug_a_station() {
    let mut d = Daemon::start_sim().await;
    let log = StateLog::start(&d.conn).await;
    let m = d.manager().await;
    let sim = d.sim().await;
    let line = line_by_name(&d, "desk-202").await;
    assert_eq!(line.state().await.expect("State"), "in-service");
    let call = sim
        .incoming_call("202", "5551234", "ALICE")
        .await
        .expect("IncomingCall 202");
    sim.unplug("desk-202").await.expect("Unplug desk-202");
    wait_line_state(&line, "out-of-service").await;
    log.wait_ended(call.as_str(), "the ringing call to end")
        .await;
    wait_for("the call to be removed", Duration::from_secs(5), || {
        let m = m.clone();
        let call = call.clone();
        async move { (!uncached_calls(&m).await.contains(&call)).then_some(()) }
    })
    .await;
    // Nothing can ring a station that is not there.
    expect_error(
        sim.incoming_call("202", "5551234", "ALICE").await,
        &api("ResourceUnavailable"),
        "IncomingCall to an unplugged station",
    );
    assert_healthy(&mut d, "Unplug desk-202").await;
    sim.plug("desk-202").await.expect("Plug desk-202");
    wait_line_state(&line, "in-service").await;
    // Pickups work again.
    let again = sim
        .incoming_call("202", "5552000", "BOB")
        .await
        .expect("IncomingCall after Plug");
    let picked = d
        .address("201")
        .await
        .pickup("202", "")
        .await
        .expect("Pickup after Plug");
    log.wait_ended(again.as_str(), "the picked call's old object to end")
        .await;
    let pc = d.call(&picked).await;
    assert_eq!(pc.reason().await.expect("Reason"), call_reason::PICKUP);
    assert_eq!(pc.caller_number().await.expect("CallerNumber"), "5552000");
    assert_healthy(&mut d, "Plug desk-202").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplug_and_plug_a_trunk() {
    let mut d = Daemon::start_sim().await;
    let log = StateLog::start(&d.conn).await;
    let m = d.manager().await;
    let sim = d.sim().await;
    let line = line_by_name(&d, "trunk1").await;
    // A connected trunk call at 202 and a call ringing on the trunk.
    sim.incoming_call("5550100", "5551234", "ALICE")
        .await
        .expect("IncomingCall trunk1");
    let talking = d
        .address("202")
        .await
        .pickup("", "")
        .await
        .expect("group pickup at 202");
    sim.off_hook("202").await.expect("OffHook 202");
    let tc = d.call(&talking).await;
    wait_for(
        "the trunk call connected at 202",
        Duration::from_secs(5),
        || {
            let tc = tc.clone();
            async move { (tc.state().await.ok()? == CONNECTED).then_some(()) }
        },
    )
    .await;
    sim.unplug("trunk1").await.expect("Unplug trunk1");
    wait_line_state(&line, "out-of-service").await;
    log.wait_ended(talking.as_str(), "the connected trunk call to end")
        .await;
    wait_for("no call left on trunk1", Duration::from_secs(5), || {
        let m = m.clone();
        async move { uncached_calls(&m).await.is_empty().then_some(()) }
    })
    .await;
    expect_error(
        sim.incoming_call("5550100", "5551234", "ALICE").await,
        &api("ResourceUnavailable"),
        "IncomingCall on an unplugged trunk",
    );
    assert_healthy(&mut d, "Unplug trunk1").await;
    sim.on_hook("202").await.expect("OnHook 202");
    sim.plug("trunk1").await.expect("Plug trunk1");
    wait_line_state(&line, "in-service").await;
    let ringing = sim
        .incoming_call("5550100", "5552000", "BOB")
        .await
        .expect("IncomingCall after Plug");
    let picked = d
        .address("203")
        .await
        .pickup("", "")
        .await
        .expect("Pickup after Plug");
    log.wait_ended(ringing.as_str(), "the trunk call's old object to end")
        .await;
    let pc = d.call(&picked).await;
    assert_eq!(pc.reason().await.expect("Reason"), call_reason::PICKUP);
    assert_eq!(pc.caller_number().await.expect("CallerNumber"), "5552000");
    assert_healthy(&mut d, "Plug trunk1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_calls_live_ends_every_call_and_exits_0() {
    let mut d = Daemon::start_sim().await;
    let log = StateLog::start(&d.conn).await;
    let sim = d.sim().await;
    // A connected call (201 picked up 202's), a call ringing on trunk2, and
    // an internal call 203 → 204.
    sim.incoming_call("202", "5551234", "ALICE")
        .await
        .expect("IncomingCall 202");
    sim.off_hook("201").await.expect("OffHook 201");
    d.address("201")
        .await
        .pickup("202", "")
        .await
        .expect("Pickup");
    sim.incoming_call("5550101", "5553000", "CAROL")
        .await
        .expect("IncomingCall trunk2");
    d.address("203").await.dial("204").await.expect("Dial 204");
    let m = d.manager().await;
    // Picked 201 call, trunk2 ringing, 203 ringing back and 204 ringing
    // (new objects are announced just after the method replies).
    let calls: BTreeSet<String> = wait_for("four live calls", Duration::from_secs(10), || {
        let m = m.clone();
        async move {
            let calls: BTreeSet<String> = uncached_calls(&m)
                .await
                .iter()
                .map(|c| c.to_string())
                .collect();
            (calls.len() >= 4).then_some(calls)
        }
    })
    .await;

    let dbus = zbus::fdo::DBusProxy::new(&d.conn).await.expect("bus proxy");
    let mut owner_changes = dbus
        .receive_name_owner_changed_with_args(&[(0, BUS_NAME)])
        .await
        .expect("NameOwnerChanged");
    let status = d.terminate().expect("pickupd was running");
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status}"
    );
    for c in &calls {
        log.wait_ended(c, &format!("{c} to end with DISCONNECTED, IDLE"))
            .await;
        let states = log.states_of(c);
        let disc = states.iter().filter(|s| **s == DISCONNECTED).count();
        assert_eq!(disc, 1, "{c}: one DISCONNECTED: {states:x?}");
    }
    let change = tokio::time::timeout(Duration::from_secs(5), owner_changes.next())
        .await
        .expect("NameOwnerChanged within 5 s")
        .expect("a signal");
    let args = change.args().expect("args");
    assert!(
        args.new_owner().is_none(),
        "the name was released: {args:?}"
    );
    assert!(
        !dbus
            .name_has_owner(BUS_NAME.try_into().expect("name"))
            .await
            .expect("NameHasOwner"),
        "no one owns {BUS_NAME} any more"
    );
}

// ----------------------------------------------------------------------------
// Configuration files.

const VALID: &str = r#"zone = "us"
pickup_code = "*8"
directed_pickup_prefix = "**"

[[line]]
name = "trunk1"
kind = "sim-fxo"
number = "5550100"
call_waiting = true
cidcw = true
call_groups = ["sales"]
appearances = ["desk-201", "desk-202"]

[[line]]
name = "desk-201"
kind = "sim-fxs"
number = "201"
call_groups = ["sales"]
pickup_groups = ["sales"]
pickup_other_groups = true
hold = "open"

[[line]]
name = "desk-202"
kind = "sim-fxs"
number = "202"
call_groups = ["sales"]
pickup_groups = ["sales"]
"#;

fn pickupd(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary("pickupd"))
        .args(args)
        .output()
        .expect("run pickupd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// VALID with the line containing `find` replaced by `replace`; returns the
/// text and the 1-based line number of the change.
fn broken(find: &str, replace: &str) -> (String, usize) {
    let offset = VALID
        .find(find)
        .unwrap_or_else(|| panic!("{find} not in VALID"));
    let lineno = VALID[..offset].matches('\n').count() + 1;
    (VALID.replacen(find, replace, 1), lineno)
}

/// stderr names `path:line:column:` (column any number).
fn names_position(stderr: &str, path: &str, line: usize) -> bool {
    let prefix = format!("{path}:{line}:");
    stderr.match_indices(&prefix).any(|(i, _)| {
        let rest = &stderr[i + prefix.len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && rest[digits..].starts_with(':')
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_accepts_a_valid_file_and_serves_it() {
    let dir = TempDir::new("pickupd-robust-cfg").expect("temp dir");
    let path = dir.path().join("valid.toml");
    std::fs::write(&path, VALID).expect("write");
    let p = path.to_str().expect("utf-8 path");
    let (code, out, err) = pickupd(&["--sim", "--config", p, "--check-config"]);
    assert_eq!(code, 0, "valid simulated site: {out}{err}");
    // The spec's own example (real hardware kinds) is valid configuration too.
    let real = dir.path().join("real.toml");
    std::fs::write(
        &real,
        VALID
            .replace(
                "kind = \"sim-fxo\"",
                "kind = \"fxo\"\ndevice = \"/dev/dahdi/channel:1\"",
            )
            .replacen(
                "kind = \"sim-fxs\"",
                "kind = \"fxs\"\ndevice = \"/dev/dahdi/channel:5\"",
                1,
            )
            .replacen(
                "kind = \"sim-fxs\"",
                "kind = \"fxs\"\ndevice = \"/dev/dahdi/channel:6\"",
                1,
            ),
    )
    .expect("write");
    let (code, out, err) = pickupd(&["--config", real.to_str().expect("utf-8"), "--check-config"]);
    assert_eq!(code, 0, "valid hardware site: {out}{err}");
    // And a daemon started on it serves exactly those lines.
    let mut d = Daemon::start(&["--sim", "--config", p]).await;
    let lines = d.manager().await.lines().await.expect("Lines");
    assert_eq!(lines.len(), 3);
    d.address("202").await;
    assert_healthy(&mut d, "start from a file").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_refuses_invalid_files_with_78_and_a_position() {
    let dir = TempDir::new("pickupd-robust-bad").expect("temp dir");
    let cases = [
        (
            "unknown-key",
            broken("hold = \"open\"", "hold = \"open\"\ncolour = \"red\""),
        ),
        (
            "bad-kind",
            broken("kind = \"sim-fxo\"", "kind = \"sim-fxq\""),
        ),
        (
            "appearance-of-no-line",
            broken(
                "appearances = [\"desk-201\", \"desk-202\"]",
                "appearances = [\"desk-201\", \"desk-999\"]",
            ),
        ),
        (
            "syntax-error",
            broken("name = \"desk-201\"", "name = \"desk-201"),
        ),
        (
            "syntax-error-table",
            broken(
                "[[line]]\nname = \"desk-202\"",
                "[[line]\nname = \"desk-202\"",
            ),
        ),
    ];
    for (what, (text, line)) in cases {
        // The unknown key sits on the line after the one we matched.
        let line = if what == "unknown-key" {
            line + 1
        } else {
            line
        };
        let path = dir.path().join(format!("{what}.toml"));
        std::fs::write(&path, &text).expect("write");
        let p = path.to_str().expect("utf-8");
        let (code, out, err) = pickupd(&["--sim", "--config", p, "--check-config"]);
        assert_eq!(code, 78, "{what}: exit status; stdout {out} stderr {err}");
        assert!(
            names_position(&err, p, line),
            "{what}: stderr names {p}:{line}:COLUMN: — got:\n{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_config_file_exits_78() {
    let bus = pickupd_tests::PrivateBus::start().expect("bus");
    let (code, out, err) = pickupd(&["--config", "/nonexistent", "--address", &bus.address]);
    assert_eq!(code, 78, "stdout {out} stderr {err}");
    assert!(
        err.contains("/nonexistent"),
        "the message names the file: {err}"
    );
    let (code, _, err) = pickupd(&[
        "--sim",
        "--config",
        "/nonexistent",
        "--address",
        &bus.address,
    ]);
    assert_eq!(code, 78, "--sim --config /nonexistent: {err}");
    // It never took the bus name.
    let conn = bus.connect().await.expect("connect");
    let dbus = zbus::fdo::DBusProxy::new(&conn).await.expect("bus proxy");
    assert!(!dbus
        .name_has_owner(BUS_NAME.try_into().expect("name"))
        .await
        .expect("NameHasOwner"));
}

#[test]
fn the_position_matcher() {
    assert!(names_position(
        "pickupd: /x/a.toml:7:12: unknown key",
        "/x/a.toml",
        7
    ));
    assert!(!names_position(
        "pickupd: /x/a.toml:7: unknown key",
        "/x/a.toml",
        7
    ));
    assert!(!names_position(
        "pickupd: /x/a.toml:8:1: unknown key",
        "/x/a.toml",
        7
    ));
}
