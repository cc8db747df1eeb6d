//! `pickupctl monitor`: every change of the daemon's objects, one line per
//! event, until SIGINT or SIGTERM (then exit 0).
//!
//! It listens (match rules with `sender='org.pickupd.Pickup1'`) to
//! ObjectManager `InterfacesAdded`/`InterfacesRemoved`, `PropertiesChanged`,
//! Call `StateChanged` and Manager `CallAdded`/`CallRemoved`, and to the
//! bus's `NameOwnerChanged` for `org.pickupd.Pickup1` (daemon started or
//! stopped). Each line is flushed at once.
//!
//! Human lines: `<UTC time> <object> <what>`, e.g.
//! ```text
//! 2025-11-24T16:00:00.123Z call 7 added: OFFERING, reason DIRECT, at 5550100, caller 5551234 "ALICE"
//! 2025-11-24T16:00:01.002Z call 7: StateChanged OFFERING -> DISCONNECTED, mode PICKUP
//! 2025-11-24T16:00:01.002Z call 7: State=DISCONNECTED StateMode=PICKUP
//! 2025-11-24T16:00:01.003Z address 201: Features=PICKUPDIRECT
//! 2025-11-24T16:00:01.004Z manager: CallRemoved call 7
//! 2025-11-24T16:00:01.004Z call 7 removed
//! ```
//!
//! JSON (`--json`), one object per line; every event has `event`, `time`
//! (ISO 8601 UTC), `path`, `kind` (`line`, `address`, `call`, `manager`,
//! `object`) and, where known, the friendly `id` / `number` / `name`:
//! - `interfaces_added`: `interfaces` (array of names), `object` (the object's
//!   JSON shape as printed by `line`/`address`/`call`, see [`crate::output`])
//! - `interfaces_removed`: `interfaces`
//! - `properties_changed`: `interface`, `changed` (decoded like the object
//!   shapes: `{"state": "CONNECTED", "state_value": 256}`), `invalidated`
//!   (snake_case names)
//! - `state_changed`: `old_state`, `old_state_value`, `new_state`,
//!   `new_state_value`, `mode` (disconnect mode name or `null`), `mode_value`
//! - `call_added`, `call_removed` (path is the root): `call` (a call reference)
//! - `daemon_started` (`owner`: its unique name), `daemon_stopped` (path is the root)

use std::collections::HashMap;
use std::io::Write as _;

use futures_util::StreamExt;
use pickupd_api::tapi::{call_state, name_of};
use pickupd_api::{BUS_NAME, CALL_INTERFACE, MANAGER_INTERFACE, ROOT_PATH};
use serde_json::{json, Map, Value as Json};
use tokio::signal::unix::{signal, SignalKind};
use zbus::message::{Message, Type};
use zbus::zvariant::OwnedObjectPath;
use zbus::{MatchRule, MessageStream};

use crate::bus::Ctx;
use crate::error::CliError;
use crate::model::{schema, snake_case, spec_of, Names, ObjKind, Object, Props};
use crate::output::{
    call_details, generic_human, generic_json, now_iso, object_json, prop_human, prop_json,
    ref_json, short_name, state_mode_name, Out,
};

const OBJECT_MANAGER: &str = "org.freedesktop.DBus.ObjectManager";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
const DBUS: &str = "org.freedesktop.DBus";

/// One thing that happened at the daemon.
#[derive(Debug, Clone)]
pub enum Event {
    InterfacesAdded {
        path: String,
        /// Sorted by interface name.
        interfaces: Vec<(String, Props)>,
    },
    InterfacesRemoved {
        path: String,
        interfaces: Vec<String>,
    },
    PropertiesChanged {
        path: String,
        interface: String,
        changed: Props,
        invalidated: Vec<String>,
    },
    StateChanged {
        path: String,
        old: u32,
        new: u32,
        mode: u32,
    },
    CallAdded {
        call: String,
    },
    CallRemoved {
        call: String,
    },
    DaemonStarted {
        owner: String,
    },
    DaemonStopped,
}

impl Event {
    /// Decode a signal; `None` for anything that is not one of ours.
    pub fn from_message(msg: &Message) -> Option<Event> {
        let header = msg.header();
        if header.message_type() != Type::Signal {
            return None;
        }
        let interface = header.interface()?.as_str().to_owned();
        let member = header.member()?.as_str().to_owned();
        let path = header.path()?.as_str().to_owned();
        let body = msg.body();
        match (interface.as_str(), member.as_str()) {
            (OBJECT_MANAGER, "InterfacesAdded") => {
                let (obj, ifaces): (OwnedObjectPath, HashMap<String, Props>) =
                    body.deserialize().ok()?;
                let mut interfaces: Vec<(String, Props)> = ifaces.into_iter().collect();
                interfaces.sort_by(|a, b| a.0.cmp(&b.0));
                Some(Event::InterfacesAdded {
                    path: obj.to_string(),
                    interfaces,
                })
            }
            (OBJECT_MANAGER, "InterfacesRemoved") => {
                let (obj, interfaces): (OwnedObjectPath, Vec<String>) = body.deserialize().ok()?;
                Some(Event::InterfacesRemoved {
                    path: obj.to_string(),
                    interfaces,
                })
            }
            (PROPERTIES, "PropertiesChanged") => {
                let (interface, changed, invalidated): (String, Props, Vec<String>) =
                    body.deserialize().ok()?;
                Some(Event::PropertiesChanged {
                    path,
                    interface,
                    changed,
                    invalidated,
                })
            }
            (CALL_INTERFACE, "StateChanged") => {
                let (old, new, mode): (u32, u32, u32) = body.deserialize().ok()?;
                Some(Event::StateChanged {
                    path,
                    old,
                    new,
                    mode,
                })
            }
            (MANAGER_INTERFACE, "CallAdded") => {
                let (call,): (OwnedObjectPath,) = body.deserialize().ok()?;
                Some(Event::CallAdded {
                    call: call.to_string(),
                })
            }
            (MANAGER_INTERFACE, "CallRemoved") => {
                let (call,): (OwnedObjectPath,) = body.deserialize().ok()?;
                Some(Event::CallRemoved {
                    call: call.to_string(),
                })
            }
            (DBUS, "NameOwnerChanged") => {
                let (name, _old, new): (String, String, String) = body.deserialize().ok()?;
                if name != BUS_NAME {
                    return None;
                }
                Some(if new.is_empty() {
                    Event::DaemonStopped
                } else {
                    Event::DaemonStarted { owner: new }
                })
            }
            _ => None,
        }
    }

    /// The object the event is about.
    pub fn path(&self) -> &str {
        match self {
            Event::InterfacesAdded { path, .. }
            | Event::InterfacesRemoved { path, .. }
            | Event::PropertiesChanged { path, .. }
            | Event::StateChanged { path, .. } => path,
            Event::CallAdded { .. }
            | Event::CallRemoved { .. }
            | Event::DaemonStarted { .. }
            | Event::DaemonStopped => ROOT_PATH,
        }
    }

    /// The `event` member of the JSON form.
    pub fn name(&self) -> &'static str {
        match self {
            Event::InterfacesAdded { .. } => "interfaces_added",
            Event::InterfacesRemoved { .. } => "interfaces_removed",
            Event::PropertiesChanged { .. } => "properties_changed",
            Event::StateChanged { .. } => "state_changed",
            Event::CallAdded { .. } => "call_added",
            Event::CallRemoved { .. } => "call_removed",
            Event::DaemonStarted { .. } => "daemon_started",
            Event::DaemonStopped => "daemon_stopped",
        }
    }

    /// Learn names from what appeared (call before rendering).
    pub fn learn(&self, names: &mut Names) {
        if let Event::InterfacesAdded { path, interfaces } = self {
            for (iface, props) in interfaces {
                names.learn(path, iface, props);
            }
        }
    }

    /// Forget names of what went away (call after rendering).
    pub fn forget(&self, names: &mut Names) {
        match self {
            Event::InterfacesRemoved { path, interfaces } => {
                if let Some(own) = ObjKind::of_path(path).interface() {
                    if interfaces.iter().any(|i| i == own) {
                        names.forget(path);
                    }
                }
            }
            Event::DaemonStopped => *names = Names::default(),
            _ => {}
        }
    }
}

/// `key=value`, quoting values that are empty or contain blanks.
fn kv(key: &str, value: &str) -> String {
    if value.is_empty() || value.contains(char::is_whitespace) || value.contains('"') {
        format!("{key}={value:?}")
    } else {
        format!("{key}={value}")
    }
}

/// The pickupd object in an InterfacesAdded, if there is one.
fn added_object(path: &str, interfaces: &[(String, Props)]) -> Option<Object> {
    interfaces.iter().find_map(|(iface, props)| {
        let kind = ObjKind::of_interface(iface);
        kind.interface()
            .map(|_| Object::new(path, kind, props.clone()))
    })
}

/// The human line of an event, `time` first.
pub fn render_human(ev: &Event, names: &Names, time: &str) -> String {
    let who = short_name(ev.path(), names);
    let what = match ev {
        Event::InterfacesAdded { path, interfaces } => match added_object(path, interfaces) {
            Some(obj) => {
                let details = match obj.kind {
                    ObjKind::Call => call_details(&obj, names),
                    ObjKind::Line => format!(
                        "{}, {}, hook {}",
                        obj.str("Kind"),
                        obj.str("State"),
                        obj.str("Hook")
                    ),
                    ObjKind::Address => format!(
                        "line {}",
                        crate::output::ref_human(ObjKind::Line, &obj.str("Line"), names)
                    ),
                    _ => String::new(),
                };
                if details.is_empty() {
                    return format!("{time} {who} added");
                }
                return format!("{time} {who} added: {details}");
            }
            None => {
                let list: Vec<&str> = interfaces.iter().map(|(i, _)| i.as_str()).collect();
                return format!("{time} {who} added: {}", list.join(", "));
            }
        },
        Event::InterfacesRemoved { path, interfaces } => {
            let own = ObjKind::of_path(path).interface();
            if own.is_some_and(|o| interfaces.iter().any(|i| i == o)) {
                return format!("{time} {who} removed");
            }
            return format!("{time} {who} lost {}", interfaces.join(", "));
        }
        Event::PropertiesChanged {
            interface,
            changed,
            invalidated,
            ..
        } => {
            let mut parts: Vec<String> = Vec::new();
            for spec in schema(interface) {
                if let Some(v) = changed.get(spec.name) {
                    parts.push(kv(spec.name, &prop_human(spec, v, names, false)));
                }
            }
            let mut extra: Vec<&String> = changed
                .keys()
                .filter(|k| spec_of(interface, k).is_none())
                .collect();
            extra.sort();
            for k in extra {
                if let Some(v) = changed.get(k) {
                    parts.push(kv(k, &generic_human(v)));
                }
            }
            if !invalidated.is_empty() {
                parts.push(format!("(changed: {})", invalidated.join(", ")));
            }
            parts.join(" ")
        }
        Event::StateChanged { old, new, mode, .. } => {
            let mut s = format!(
                "StateChanged {} -> {}",
                name_of(call_state::ALL, *old),
                name_of(call_state::ALL, *new)
            );
            if let Some(m) = state_mode_name(*mode) {
                s.push_str(&format!(", mode {m}"));
            }
            s
        }
        Event::CallAdded { call } => format!("CallAdded {}", short_name(call, names)),
        Event::CallRemoved { call } => format!("CallRemoved {}", short_name(call, names)),
        Event::DaemonStarted { owner } => return format!("{time} pickupd started ({owner})"),
        Event::DaemonStopped => return format!("{time} pickupd stopped"),
    };
    format!("{time} {who}: {what}")
}

/// The JSON object of an event (shapes in the module doc).
pub fn render_json(ev: &Event, names: &Names, time: &str) -> Json {
    let path = ev.path();
    let kind = ObjKind::of_path(path);
    let mut m = Map::new();
    m.insert("event".into(), json!(ev.name()));
    m.insert("time".into(), json!(time));
    m.insert("path".into(), json!(path));
    m.insert("kind".into(), json!(kind.word()));
    if let Json::Object(r) = ref_json(kind, path, names) {
        for (k, v) in r {
            if k != "path" && !(kind == ObjKind::Manager && k == "id") {
                m.insert(k, v);
            }
        }
    }
    match ev {
        Event::InterfacesAdded { path, interfaces } => {
            let list: Vec<&str> = interfaces.iter().map(|(i, _)| i.as_str()).collect();
            m.insert("interfaces".into(), json!(list));
            let obj = added_object(path, interfaces)
                .map_or_else(|| json!({}), |o| object_json(&o, names));
            m.insert("object".into(), obj);
        }
        Event::InterfacesRemoved { interfaces, .. } => {
            m.insert("interfaces".into(), json!(interfaces));
        }
        Event::PropertiesChanged {
            interface,
            changed,
            invalidated,
            ..
        } => {
            let mut c = Map::new();
            let mut keys: Vec<&String> = changed.keys().collect();
            keys.sort();
            for k in keys {
                let Some(v) = changed.get(k) else { continue };
                match spec_of(interface, k) {
                    Some(spec) => {
                        for (key, j) in prop_json(spec, v, names) {
                            c.insert(key, j);
                        }
                    }
                    None => {
                        c.insert(snake_case(k), generic_json(v));
                    }
                }
            }
            m.insert("interface".into(), json!(interface));
            m.insert("changed".into(), Json::Object(c));
            let inv: Vec<String> = invalidated.iter().map(|k| snake_case(k)).collect();
            m.insert("invalidated".into(), json!(inv));
        }
        Event::StateChanged { old, new, mode, .. } => {
            m.insert("old_state".into(), json!(name_of(call_state::ALL, *old)));
            m.insert("old_state_value".into(), json!(old));
            m.insert("new_state".into(), json!(name_of(call_state::ALL, *new)));
            m.insert("new_state_value".into(), json!(new));
            m.insert("mode".into(), json!(state_mode_name(*mode)));
            m.insert("mode_value".into(), json!(mode));
        }
        Event::CallAdded { call } | Event::CallRemoved { call } => {
            m.insert("call".into(), ref_json(ObjKind::Call, call, names));
        }
        Event::DaemonStarted { owner } => {
            m.insert("owner".into(), json!(owner));
        }
        Event::DaemonStopped => {}
    }
    Json::Object(m)
}

fn rule_error(e: zbus::Error) -> CliError {
    CliError::failed(format!("cannot build a match rule: {e}"))
}

/// Follow the daemon until SIGINT/SIGTERM. Exit 8 if it is not running now.
pub async fn run(ctx: &Ctx, out: &mut Out<'_>) -> Result<(), CliError> {
    let sig = |kind: SignalKind| {
        signal(kind).map_err(|e| CliError::failed(format!("cannot handle signals: {e}")))
    };
    let mut sigint = sig(SignalKind::interrupt())?;
    let mut sigterm = sig(SignalKind::terminate())?;

    // Subscribe first, then read the state, so nothing falls in between.
    let ours = MatchRule::builder()
        .msg_type(Type::Signal)
        .sender(BUS_NAME)
        .and_then(|b| b.path_namespace(ROOT_PATH))
        .map_err(rule_error)?
        .build();
    let owner = MatchRule::builder()
        .msg_type(Type::Signal)
        .sender(DBUS)
        .and_then(|b| b.interface(DBUS))
        .and_then(|b| b.member("NameOwnerChanged"))
        .and_then(|b| b.arg(0, BUS_NAME))
        .map_err(rule_error)?
        .build();
    let ours = ctx
        .run(MessageStream::for_match_rule(ours, &ctx.conn, Some(4096)))
        .await?;
    let owner = ctx
        .run(MessageStream::for_match_rule(owner, &ctx.conn, Some(64)))
        .await?;
    let mut events = futures_util::stream::select(ours, owner);

    let snap = ctx.snapshot().await?;
    let mut names = snap.names.clone();
    if !out.json {
        let _ = writeln!(
            std::io::stderr(),
            "following pickupd {} on {} ({} lines, {} addresses, {} calls); Ctrl-C to stop",
            snap.manager.str("Version"),
            ctx.bus,
            snap.lines.len(),
            snap.addresses.len(),
            snap.calls.len()
        );
    }

    loop {
        tokio::select! {
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            next = events.next() => {
                let msg = match next {
                    None => {
                        return Err(CliError::failed(format!("lost the connection to {}", ctx.bus)));
                    }
                    Some(Err(_)) => continue,
                    Some(Ok(msg)) => msg,
                };
                let Some(ev) = Event::from_message(&msg) else { continue };
                ev.learn(&mut names);
                let time = now_iso();
                if out.json {
                    out.json(&render_json(&ev, &names, &time))?;
                } else {
                    out.text(&render_human(&ev, &names, &time))?;
                }
                ev.forget(&mut names);
                if matches!(ev, Event::DaemonStarted { .. }) {
                    if let Ok(snap) = ctx.snapshot().await {
                        names = snap.names;
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testdata::*;
    use pickupd_api::{ADDRESS_INTERFACE, LINE_INTERFACE};

    const T: &str = "2025-11-24T16:00:00.123Z";

    fn names() -> Names {
        snapshot().names
    }

    #[test]
    fn state_changed() {
        let ev = Event::StateChanged {
            path: C7.into(),
            old: 0x2,
            new: 0x4000,
            mode: 0x8,
        };
        assert_eq!(
            render_human(&ev, &names(), T),
            format!("{T} call 7: StateChanged OFFERING -> DISCONNECTED, mode PICKUP")
        );
        let j = render_json(&ev, &names(), T);
        assert_eq!(
            j,
            json!({"event": "state_changed", "time": T, "path": C7, "kind": "call", "id": 7,
                   "old_state": "OFFERING", "old_state_value": 2,
                   "new_state": "DISCONNECTED", "new_state_value": 16384,
                   "mode": "PICKUP", "mode_value": 8})
        );
    }

    #[test]
    fn properties_changed() {
        let ev = Event::PropertiesChanged {
            path: A2.into(),
            interface: ADDRESS_INTERFACE.into(),
            changed: props(vec![
                ("Features", u(0x4 | 0x200)),
                ("Calls", ao(&[C7])),
                ("Extra", s("a b")),
            ]),
            invalidated: vec!["PickupGroups".into()],
        };
        assert_eq!(
            render_human(&ev, &names(), T),
            format!(
                "{T} address 201: Features=PICKUP|PICKUPGROUP Calls=\"call 7\" Extra=\"a b\" (changed: PickupGroups)"
            )
        );
        let j = render_json(&ev, &names(), T);
        assert_eq!(j["event"], "properties_changed");
        assert_eq!(j["number"], "201");
        assert_eq!(j["id"], 2);
        assert_eq!(j["interface"], ADDRESS_INTERFACE);
        assert_eq!(j["changed"]["features"], json!(["PICKUP", "PICKUPGROUP"]));
        assert_eq!(j["changed"]["features_value"], 0x204);
        assert_eq!(j["changed"]["calls"], json!([{"path": C7, "id": 7}]));
        assert_eq!(j["changed"]["extra"], "a b");
        assert_eq!(j["invalidated"], json!(["pickup_groups"]));
    }

    #[test]
    fn call_state_property() {
        let ev = Event::PropertiesChanged {
            path: C7.into(),
            interface: CALL_INTERFACE.into(),
            changed: props(vec![("State", u(0x100)), ("Station", o(L2))]),
            invalidated: vec![],
        };
        assert_eq!(
            render_human(&ev, &names(), T),
            format!("{T} call 7: Station=desk-201 State=CONNECTED")
        );
        let j = render_json(&ev, &names(), T);
        assert_eq!(j["changed"]["state"], "CONNECTED");
        assert_eq!(j["changed"]["state_value"], 256);
        assert_eq!(j["changed"]["station"]["name"], "desk-201");
    }

    #[test]
    fn objects_come_and_go() {
        let mut n = names();
        let new_line = "/org/pickupd/Pickup1/Line/3";
        let added = Event::InterfacesAdded {
            path: new_line.into(),
            interfaces: vec![(
                LINE_INTERFACE.into(),
                props(vec![
                    ("Name", s("trunk2")),
                    ("Kind", s("fxo")),
                    ("State", s("in-service")),
                    ("Hook", s("on")),
                ]),
            )],
        };
        added.learn(&mut n);
        assert_eq!(
            render_human(&added, &n, T),
            format!("{T} line trunk2 added: fxo, in-service, hook on")
        );
        let j = render_json(&added, &n, T);
        assert_eq!(j["event"], "interfaces_added");
        assert_eq!(j["name"], "trunk2");
        assert_eq!(j["object"]["kind"], "fxo");
        assert_eq!(j["interfaces"], json!([LINE_INTERFACE]));

        let removed = Event::InterfacesRemoved {
            path: new_line.into(),
            interfaces: vec![LINE_INTERFACE.into()],
        };
        assert_eq!(
            render_human(&removed, &n, T),
            format!("{T} line trunk2 removed")
        );
        removed.forget(&mut n);
        assert_eq!(n.name_of(ObjKind::Line, new_line), None);

        let call = Event::InterfacesAdded {
            path: C7.into(),
            interfaces: vec![(CALL_INTERFACE.into(), call7())],
        };
        assert_eq!(
            render_human(&call, &n, T),
            format!(
                "{T} call 7 added: CONNECTED, reason PICKUP, at 5550100, station desk-201, caller 5551234 \"ALICE\""
            )
        );
        assert_eq!(render_json(&call, &n, T)["object"]["state"], "CONNECTED");
    }

    #[test]
    fn manager_and_daemon_events() {
        let n = names();
        let ev = Event::CallAdded { call: C7.into() };
        assert_eq!(
            render_human(&ev, &n, T),
            format!("{T} manager: CallAdded call 7")
        );
        assert_eq!(
            render_json(&ev, &n, T),
            json!({"event": "call_added", "time": T, "path": ROOT_PATH, "kind": "manager",
                   "call": {"path": C7, "id": 7}})
        );
        let ev = Event::DaemonStarted {
            owner: ":1.42".into(),
        };
        assert_eq!(
            render_human(&ev, &n, T),
            format!("{T} pickupd started (:1.42)")
        );
        assert_eq!(render_json(&ev, &n, T)["owner"], ":1.42");
        let mut n2 = n.clone();
        Event::DaemonStopped.forget(&mut n2);
        assert!(n2.lines.is_empty());
    }

    #[test]
    fn signals_decode_from_messages() {
        let msg = Message::signal(C7, CALL_INTERFACE, "StateChanged")
            .expect("builder")
            .build(&(0x2u32, 0x100u32, 0u32))
            .expect("msg");
        match Event::from_message(&msg) {
            Some(Event::StateChanged {
                path,
                old,
                new,
                mode,
            }) => {
                assert_eq!((path.as_str(), old, new, mode), (C7, 2, 0x100, 0));
            }
            other => panic!("{other:?}"),
        }
        let changed: HashMap<&str, zbus::zvariant::Value<'_>> =
            HashMap::from([("State", zbus::zvariant::Value::from(0x100u32))]);
        let msg = Message::signal(C7, PROPERTIES, "PropertiesChanged")
            .expect("builder")
            .build(&(CALL_INTERFACE, changed, Vec::<&str>::new()))
            .expect("msg");
        match Event::from_message(&msg) {
            Some(Event::PropertiesChanged {
                interface, changed, ..
            }) => {
                assert_eq!(interface, CALL_INTERFACE);
                assert_eq!(
                    changed
                        .get("State")
                        .and_then(|v| crate::model::value_u32(v)),
                    Some(0x100)
                );
            }
            other => panic!("{other:?}"),
        }
        let msg = Message::signal("/org/freedesktop/DBus", DBUS, "NameOwnerChanged")
            .expect("builder")
            .build(&(BUS_NAME, ":1.5", ""))
            .expect("msg");
        assert!(matches!(
            Event::from_message(&msg),
            Some(Event::DaemonStopped)
        ));
        let msg = Message::signal(ROOT_PATH, MANAGER_INTERFACE, "Unrelated")
            .expect("builder")
            .build(&())
            .expect("msg");
        assert!(Event::from_message(&msg).is_none());
        // A malformed body is ignored, not a crash.
        let msg = Message::signal(C7, CALL_INTERFACE, "StateChanged")
            .expect("builder")
            .build(&("oops",))
            .expect("msg");
        assert!(Event::from_message(&msg).is_none());
    }
}
