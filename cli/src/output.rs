//! Formatting for people and for programs.
//!
//! # JSON shapes (`--json`)
//!
//! Keys are the snake_case of the API's property names. TAPI values appear
//! both decoded and raw; flag words as an array of names plus the raw word;
//! object references as an object with the `path` and a friendly name; a
//! reference to `/` (none) is `null`. Unknown bits or values decode to hex
//! strings (`"0x10000"`). Properties the daemon adds beyond the documented
//! ones appear under their snake_case name, converted generically.
//!
//! Object reference: `{"path": "/org/pickupd/Pickup1/Line/2", "id": 2, "name": "desk-201"}`
//! (lines), `{"path": …, "id": 1, "number": "201"}` (addresses),
//! `{"path": …, "id": 7}` (calls). `name`/`number` is `null` when unknown.
//!
//! Line (`lines`, one per line of output; `line NAME`):
//! ```json
//! {"path": "/org/pickupd/Pickup1/Line/1", "id": 1, "name": "trunk1", "kind": "fxo",
//!  "device": "/dev/ttyACM0", "state": "in-service", "hook": "on",
//!  "addresses": [{"path": "…/Address/1", "id": 1, "number": "5550100"}]}
//! ```
//! Address (`addresses`, `address NUMBER`):
//! ```json
//! {"path": "…/Address/1", "id": 1, "number": "201", "line": {line ref},
//!  "appearances": [{line ref}…], "sharing": "PRIVATE", "sharing_value": 1,
//!  "call_groups": ["sales"], "pickup_groups": ["sales"],
//!  "cap_flags": ["PICKUPGROUPID"], "cap_flags_value": 2,
//!  "features": ["PICKUP", "PICKUPDIRECT"], "features_value": 1028,
//!  "calls": [{call ref}…]}
//! ```
//! Call (`calls`, `call ID`, and the result of `pickup`, `dial`, `sim incoming`):
//! ```json
//! {"path": "…/Call/7", "id": 7, "address": {address ref}, "station": {line ref} | null,
//!  "state": "CONNECTED", "state_value": 256, "state_mode": null | "PICKUP", "state_mode_value": 0,
//!  "reason": "PICKUP", "reason_value": 16, "direction": "inbound",
//!  "caller_number": "5551234", "caller_name": "ALICE", "called_number": "5550100",
//!  "call_waiting": false, "detected_by": "", "held_by": {line ref} | null,
//!  "created": 1764000000123456, "created_time": "2025-11-24T16:00:00.123Z"}
//! ```
//! A call that vanished before it could be read: `{"path", "id", "gone": true}`.
//!
//! Status (`status`):
//! ```json
//! {"path": "/org/pickupd/Pickup1", "version": "0.1.0", "zone": "us", "simulated": true,
//!  "line_count": 3, "address_count": 5, "call_count": 0}
//! ```
//! Actions without a result (`answer`, `drop`, `hold`, `unhold`, `swap`,
//! `reload`, `sim …` other than `incoming`):
//! `{"ok": true, "action": "drop", "call": {call ref}}` — with `call` (and
//! `held_call` for `swap`), `number`/`digits`/`line` as the action has them.
//!
//! `monitor` events are described in [`crate::monitor`].

use std::io::{self, Write};

use pickupd_api::tapi::{flag_names, name_of};
use serde_json::{json, Map, Value as Json};
use zbus::zvariant::Value;

use crate::error::CliError;
use crate::model::{
    schema, snake_case, unwrap_variant, value_bool, value_str, value_strs, value_u32, value_u64,
    Names, ObjKind, Object, PropSpec, PropType, Snapshot, STATE_MODE_TABLE,
};

/// Where results go: stdout in real runs, a buffer in tests.
pub struct Out<'w> {
    w: &'w mut dyn Write,
    pub json: bool,
}

impl<'w> Out<'w> {
    pub fn new(w: &'w mut dyn Write, json: bool) -> Self {
        Out { w, json }
    }

    /// Write one line of text (a trailing newline is added) and flush.
    pub fn text(&mut self, s: &str) -> Result<(), CliError> {
        let r = writeln!(self.w, "{s}").and_then(|()| self.w.flush());
        r.map_err(write_error)
    }

    /// Write one JSON object on one line and flush.
    pub fn json(&mut self, v: &Json) -> Result<(), CliError> {
        self.text(&v.to_string())
    }
}

/// An error writing stdout. A closed pipe (`pickupctl calls | head -1`) is
/// not a failure of ours; [`crate::error::CliError`] treats it as done.
fn write_error(e: io::Error) -> CliError {
    if e.kind() == io::ErrorKind::BrokenPipe {
        CliError::OutputClosed
    } else {
        CliError::failed(format!("cannot write the output: {e}"))
    }
}

// ---------------------------------------------------------------- time

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // d is 1..=31 and m 1..=12 by construction.
    (y, m as u32, d as u32)
}

/// Microseconds since the epoch (CLOCK_REALTIME) as ISO 8601 UTC with milliseconds.
pub fn iso_time_us(us: u64) -> String {
    let secs = us / 1_000_000;
    let ms = (us % 1_000_000) / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Now, as [`iso_time_us`].
pub fn now_iso() -> String {
    let us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    iso_time_us(us)
}

// ---------------------------------------------------------------- references

/// JSON reference to an object: `path` and its friendly name; `null` for `/`.
pub fn ref_json(kind: ObjKind, path: &str, names: &Names) -> Json {
    if path == "/" || path.is_empty() {
        return Json::Null;
    }
    let mut m = Map::new();
    m.insert("path".into(), json!(path));
    m.insert("id".into(), json!(pickupd_api::object_number(path)));
    match kind {
        ObjKind::Line => {
            m.insert("name".into(), json!(names.name_of(kind, path)));
        }
        ObjKind::Address => {
            m.insert("number".into(), json!(names.name_of(kind, path)));
        }
        _ => {}
    }
    Json::Object(m)
}

/// The friendly name of an object for people: `trunk1`, `201`, `call 7`;
/// `-` for `/`.
pub fn ref_human(kind: ObjKind, path: &str, names: &Names) -> String {
    if path == "/" || path.is_empty() {
        return "-".into();
    }
    if let Some(n) = names.name_of(kind, path) {
        return n.to_owned();
    }
    match pickupd_api::object_number(path) {
        Some(id) if ObjKind::of_path(path) == kind => format!("{} {id}", kind.word()),
        _ => path.to_owned(),
    }
}

/// The short name of any object path, with its kind: `call 7`, `address 201`,
/// `line trunk1`, `manager`.
pub fn short_name(path: &str, names: &Names) -> String {
    let kind = ObjKind::of_path(path);
    match kind {
        ObjKind::Manager => "manager".into(),
        ObjKind::Other => path.to_owned(),
        ObjKind::Call => ref_human(kind, path, names),
        ObjKind::Line | ObjKind::Address => match names.name_of(kind, path) {
            Some(n) => format!("{} {n}", kind.word()),
            None => ref_human(kind, path, names),
        },
    }
}

// ---------------------------------------------------------------- values

/// Any D-Bus value as JSON, for properties the schema does not know.
pub fn generic_json(v: &Value<'_>) -> Json {
    match unwrap_variant(v) {
        Value::U8(n) => json!(n),
        Value::Bool(b) => json!(b),
        Value::I16(n) => json!(n),
        Value::U16(n) => json!(n),
        Value::I32(n) => json!(n),
        Value::U32(n) => json!(n),
        Value::I64(n) => json!(n),
        Value::U64(n) => json!(n),
        Value::F64(n) => json!(n),
        Value::Str(s) => json!(s.as_str()),
        Value::Signature(s) => json!(s.to_string()),
        Value::ObjectPath(p) => json!(p.as_str()),
        Value::Array(a) => Json::Array(a.iter().map(generic_json).collect()),
        Value::Dict(d) => {
            let mut m = Map::new();
            for (k, v) in d.iter() {
                let key = value_str(k).unwrap_or_else(|| generic_json(k).to_string());
                m.insert(key, generic_json(v));
            }
            Json::Object(m)
        }
        Value::Structure(s) => Json::Array(s.fields().iter().map(generic_json).collect()),
        other => json!(format!("{other:?}")),
    }
}

/// Any D-Bus value for people.
pub fn generic_human(v: &Value<'_>) -> String {
    match unwrap_variant(v) {
        Value::Str(s) => s.as_str().to_owned(),
        Value::ObjectPath(p) => p.as_str().to_owned(),
        Value::Bool(b) => yes_no(*b).into(),
        other => match generic_json(other) {
            Json::String(s) => s,
            j => j.to_string(),
        },
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// `StateMode` decoded: `None` for 0.
pub fn state_mode_name(mode: u32) -> Option<String> {
    (mode != 0).then(|| name_of(STATE_MODE_TABLE, mode))
}

/// The JSON members for one property: `("state", "CONNECTED"), ("state_value", 256)`.
pub fn prop_json(spec: &PropSpec, v: &Value<'_>, names: &Names) -> Vec<(String, Json)> {
    let key = spec.key.to_owned();
    let raw = || vec![(key.clone(), generic_json(v))];
    match spec.ty {
        PropType::Str => value_str(v).map_or_else(raw, |s| vec![(key.clone(), json!(s))]),
        PropType::Bool => value_bool(v).map_or_else(raw, |b| vec![(key.clone(), json!(b))]),
        PropType::Time => value_u64(v).map_or_else(raw, |t| {
            vec![
                (key.clone(), json!(t)),
                (format!("{key}_time"), json!(iso_time_us(t))),
            ]
        }),
        PropType::Enum(table) => value_u32(v).map_or_else(raw, |n| {
            vec![
                (key.clone(), json!(name_of(table, n))),
                (format!("{key}_value"), json!(n)),
            ]
        }),
        PropType::Mode => value_u32(v).map_or_else(raw, |n| {
            vec![
                (key.clone(), json!(state_mode_name(n))),
                (format!("{key}_value"), json!(n)),
            ]
        }),
        PropType::Flags(table) => value_u32(v).map_or_else(raw, |n| {
            vec![
                (key.clone(), json!(flag_names(table, n))),
                (format!("{key}_value"), json!(n)),
            ]
        }),
        PropType::Ref(kind) => {
            value_str(v).map_or_else(raw, |p| vec![(key.clone(), ref_json(kind, &p, names))])
        }
        PropType::Refs(kind) => value_strs(v).map_or_else(raw, |ps| {
            let refs: Vec<Json> = ps.iter().map(|p| ref_json(kind, p, names)).collect();
            vec![(key.clone(), Json::Array(refs))]
        }),
        PropType::StrList => value_strs(v).map_or_else(raw, |l| vec![(key.clone(), json!(l))]),
    }
}

/// `PICKUP|PICKUPDIRECT`, or `-` when no bit is set.
pub fn flags_human(table: &[pickupd_api::tapi::Named], n: u32) -> String {
    let names = flag_names(table, n);
    if names.is_empty() {
        "-".into()
    } else {
        names.join("|")
    }
}

/// One property for people. `raw` adds the number (`CONNECTED (0x100)`).
pub fn prop_human(spec: &PropSpec, v: &Value<'_>, names: &Names, raw: bool) -> String {
    let with_raw = |s: String, n: u32| {
        if raw {
            format!("{s} (0x{n:x})")
        } else {
            s
        }
    };
    let fallback = || generic_human(v);
    match spec.ty {
        PropType::Str => value_str(v).map_or_else(fallback, |s| dash_if_empty(&s)),
        PropType::Bool => value_bool(v).map_or_else(fallback, |b| yes_no(b).into()),
        PropType::Time => value_u64(v).map_or_else(fallback, iso_time_us),
        PropType::Enum(table) => {
            value_u32(v).map_or_else(fallback, |n| with_raw(name_of(table, n), n))
        }
        PropType::Mode => value_u32(v).map_or_else(fallback, |n| match state_mode_name(n) {
            Some(s) => with_raw(s, n),
            None => "-".into(),
        }),
        PropType::Flags(table) => {
            value_u32(v).map_or_else(fallback, |n| with_raw(flags_human(table, n), n))
        }
        PropType::Ref(kind) => value_str(v).map_or_else(fallback, |p| ref_human(kind, &p, names)),
        PropType::Refs(kind) => value_strs(v).map_or_else(fallback, |ps| {
            let l: Vec<String> = ps.iter().map(|p| ref_human(kind, p, names)).collect();
            dash_if_empty(&l.join(", "))
        }),
        PropType::StrList => value_strs(v).map_or_else(fallback, |l| dash_if_empty(&l.join(", "))),
    }
}

fn dash_if_empty(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_owned()
    }
}

/// Property names of an object beyond the schema, sorted.
fn extra_props<'a>(obj: &'a Object, specs: &[PropSpec]) -> Vec<&'a String> {
    let mut extra: Vec<&String> = obj
        .props
        .keys()
        .filter(|k| !specs.iter().any(|s| s.name == k.as_str()))
        .collect();
    extra.sort();
    extra
}

// ---------------------------------------------------------------- objects

/// The JSON object of a line, address or call (shapes in the module doc).
pub fn object_json(obj: &Object, names: &Names) -> Json {
    let specs = schema(obj.interface());
    let mut m = Map::new();
    m.insert("path".into(), json!(obj.path));
    m.insert("id".into(), json!(obj.id()));
    for spec in specs {
        if let Some(v) = obj.get(spec.name) {
            for (k, j) in prop_json(spec, v, names) {
                m.insert(k, j);
            }
        }
    }
    for name in extra_props(obj, specs) {
        if let Some(v) = obj.get(name) {
            m.insert(snake_case(name), generic_json(v));
        }
    }
    Json::Object(m)
}

/// Every property of an object, one per line, for `line`/`address`/`call`.
pub fn object_detail(obj: &Object, names: &Names) -> String {
    let specs = schema(obj.interface());
    let title = match obj.kind {
        ObjKind::Line => format!("line {}", obj.str("Name")),
        ObjKind::Address => format!("address {}", obj.str("Number")),
        _ => short_name(&obj.path, names),
    };
    let mut rows: Vec<(String, String)> = Vec::new();
    if let Some(id) = obj.id() {
        rows.push(("Id".into(), id.to_string()));
    }
    rows.push(("Path".into(), obj.path.clone()));
    for spec in specs {
        if let Some(v) = obj.get(spec.name) {
            rows.push((spec.name.to_owned(), prop_human(spec, v, names, true)));
        }
    }
    for name in extra_props(obj, specs) {
        if let Some(v) = obj.get(name) {
            rows.push((name.clone(), generic_human(v)));
        }
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut out = title;
    for (k, v) in rows {
        out.push_str(&format!("\n  {:<width$} {v}", format!("{k}:")));
    }
    out
}

/// One line about a call: `call 12: CONNECTED, reason PICKUP, at 201, station desk-201, caller 5551234 "ALICE"`.
pub fn call_summary(call: &Object, names: &Names) -> String {
    format!(
        "{}: {}",
        short_name(&call.path, names),
        call_details(call, names)
    )
}

/// A call's summary without its name: `CONNECTED, reason PICKUP, at 201, …`.
pub fn call_details(call: &Object, names: &Names) -> String {
    let mut parts = vec![call_state_text(call)];
    parts.push(format!(
        "reason {}",
        name_of(pickupd_api::tapi::call_reason::ALL, call.u32("Reason"))
    ));
    parts.push(format!(
        "at {}",
        ref_human(ObjKind::Address, &call.str("Address"), names)
    ));
    let station = call.str("Station");
    if !station.is_empty() && station != "/" {
        parts.push(format!(
            "station {}",
            ref_human(ObjKind::Line, &station, names)
        ));
    }
    let caller = caller_text(call);
    if caller != "-" {
        parts.push(format!("caller {caller}"));
    }
    parts.join(", ")
}

/// `CONNECTED`, `OFFERING (waiting)`, `DISCONNECTED (PICKUP)`.
fn call_state_text(call: &Object) -> String {
    let mut s = name_of(pickupd_api::tapi::call_state::ALL, call.u32("State"));
    if let Some(mode) = state_mode_name(call.u32("StateMode")) {
        s.push_str(&format!(" ({mode})"));
    }
    if call.bool("CallWaiting") {
        s.push_str(" (waiting)");
    }
    s
}

/// `5551234 "ALICE"`, `"ALICE"`, `5551234` or `-`.
fn caller_text(call: &Object) -> String {
    let number = call.str("CallerNumber");
    let name = call.str("CallerName");
    match (number.is_empty(), name.is_empty()) {
        (true, true) => "-".into(),
        (false, true) => number,
        (true, false) => format!("{name:?}"),
        (false, false) => format!("{number} {name:?}"),
    }
}

// ---------------------------------------------------------------- tables

/// Left-aligned columns separated by two spaces, no trailing blanks.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let fmt_row = |cells: Vec<&str>| -> String {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths.get(i).copied().unwrap_or(0);
                let len = cell.chars().count();
                line.extend(std::iter::repeat_n(' ', pad.saturating_sub(len)));
            }
        }
        line.trim_end().to_owned()
    };
    let mut out = vec![fmt_row(header.to_vec())];
    for row in rows {
        out.push(fmt_row(row.iter().map(String::as_str).collect()));
    }
    out.join("\n")
}

pub fn lines_table(snap: &Snapshot) -> String {
    let names = &snap.names;
    let rows: Vec<Vec<String>> = snap
        .lines
        .iter()
        .map(|l| {
            let addrs: Vec<String> = l
                .strs("Addresses")
                .iter()
                .map(|p| ref_human(ObjKind::Address, p, names))
                .collect();
            vec![
                id_text(l),
                dash_if_empty(&l.str("Name")),
                dash_if_empty(&l.str("Kind")),
                dash_if_empty(&l.str("State")),
                dash_if_empty(&l.str("Hook")),
                dash_if_empty(&addrs.join(",")),
                dash_if_empty(&l.str("Device")),
            ]
        })
        .collect();
    table(
        &["ID", "NAME", "KIND", "STATE", "HOOK", "ADDRESSES", "DEVICE"],
        &rows,
    )
}

pub fn addresses_table(snap: &Snapshot) -> String {
    use pickupd_api::tapi::{addr_feature, address_sharing};
    let names = &snap.names;
    let rows: Vec<Vec<String>> = snap
        .addresses
        .iter()
        .map(|a| {
            let calls: Vec<String> = a
                .strs("Calls")
                .iter()
                .map(|p| pickupd_api::object_number(p).map_or_else(|| p.clone(), |n| n.to_string()))
                .collect();
            vec![
                id_text(a),
                dash_if_empty(&a.str("Number")),
                ref_human(ObjKind::Line, &a.str("Line"), names),
                name_of(address_sharing::ALL, a.u32("Sharing")),
                dash_if_empty(&a.strs("CallGroups").join(",")),
                dash_if_empty(&a.strs("PickupGroups").join(",")),
                flags_human(addr_feature::ALL, a.u32("Features")),
                dash_if_empty(&calls.join(",")),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "NUMBER",
            "LINE",
            "SHARING",
            "CALLGROUPS",
            "PICKUPGROUPS",
            "FEATURES",
            "CALLS",
        ],
        &rows,
    )
}

pub fn calls_table(snap: &Snapshot) -> String {
    use pickupd_api::tapi::call_reason;
    let names = &snap.names;
    let rows: Vec<Vec<String>> = snap
        .calls
        .iter()
        .map(|c| {
            vec![
                id_text(c),
                call_state_text(c),
                name_of(call_reason::ALL, c.u32("Reason")),
                dash_if_empty(&c.str("Direction")),
                ref_human(ObjKind::Address, &c.str("Address"), names),
                ref_human(ObjKind::Line, &c.str("Station"), names),
                caller_text(c),
                dash_if_empty(&c.str("CalledNumber")),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "STATE",
            "REASON",
            "DIRECTION",
            "ADDRESS",
            "STATION",
            "CALLER",
            "CALLED",
        ],
        &rows,
    )
}

fn id_text(o: &Object) -> String {
    o.id().map_or_else(|| o.path.clone(), |n| n.to_string())
}

// ---------------------------------------------------------------- status

pub fn status_json(snap: &Snapshot) -> Json {
    let m = &snap.manager;
    json!({
        "path": m.path,
        "version": m.str("Version"),
        "zone": m.str("Zone"),
        "simulated": m.bool("Simulated"),
        "line_count": snap.lines.len(),
        "address_count": snap.addresses.len(),
        "call_count": snap.calls.len(),
    })
}

pub fn status_human(snap: &Snapshot) -> String {
    let m = &snap.manager;
    let rows = [
        ("Version", dash_if_empty(&m.str("Version"))),
        ("Zone", dash_if_empty(&m.str("Zone"))),
        ("Simulated", yes_no(m.bool("Simulated")).to_owned()),
        ("Lines", snap.lines.len().to_string()),
        ("Addresses", snap.addresses.len().to_string()),
        ("Calls", snap.calls.len().to_string()),
    ];
    rows.iter()
        .map(|(k, v)| format!("{:<11}{v}", format!("{k}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testdata::*;

    #[test]
    fn times() {
        assert_eq!(iso_time_us(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_time_us(951_782_400_000_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            iso_time_us(1_764_000_000_123_456),
            "2025-11-24T16:00:00.123Z"
        );
        assert!(iso_time_us(u64::MAX).len() > 10);
        assert!(now_iso().ends_with('Z'));
    }

    #[test]
    fn call_json_shape() {
        let snap = snapshot();
        let call = snap.call_by_path(C7).expect("call");
        let j = object_json(call, &snap.names);
        assert_eq!(j["path"], C7);
        assert_eq!(j["id"], 7);
        assert_eq!(j["state"], "CONNECTED");
        assert_eq!(j["state_value"], 256);
        assert_eq!(j["state_mode"], Json::Null);
        assert_eq!(j["state_mode_value"], 0);
        assert_eq!(j["reason"], "PICKUP");
        assert_eq!(j["reason_value"], 16);
        assert_eq!(j["caller_number"], "5551234");
        assert_eq!(j["caller_name"], "ALICE");
        assert_eq!(j["call_waiting"], false);
        assert_eq!(
            j["address"],
            json!({"path": A1, "id": 1, "number": "5550100"})
        );
        assert_eq!(
            j["station"],
            json!({"path": L2, "id": 2, "name": "desk-201"})
        );
        assert_eq!(j["held_by"], Json::Null);
        assert_eq!(j["created"], 1_764_000_000_123_456u64);
        assert_eq!(j["created_time"], "2025-11-24T16:00:00.123Z");
    }

    #[test]
    fn address_json_shape() {
        let snap = snapshot();
        let a = snap.address_by_path(A1).expect("address");
        let j = object_json(a, &snap.names);
        assert_eq!(j["number"], "5550100");
        assert_eq!(j["sharing"], "BRIDGEDEXCL");
        assert_eq!(j["sharing_value"], 2);
        assert_eq!(j["features"], json!(["PICKUP", "PICKUPDIRECT"]));
        assert_eq!(j["features_value"], 0x404);
        assert_eq!(j["cap_flags"], json!(["PICKUPGROUPID", "PICKUPCALLWAIT"]));
        assert_eq!(j["cap_flags_value"], 0x0040_0002);
        assert_eq!(j["call_groups"], json!(["sales"]));
        assert_eq!(j["pickup_groups"], json!([]));
        assert_eq!(j["line"]["name"], "trunk1");
        assert_eq!(
            j["appearances"],
            json!([{"path": L2, "id": 2, "name": "desk-201"}])
        );
        assert_eq!(j["calls"], json!([{"path": C7, "id": 7}]));
    }

    #[test]
    fn line_json_shape_and_extras() {
        let mut snap = snapshot();
        snap.lines[0]
            .props
            .insert("SerialNumber".into(), s("ABC123"));
        let j = object_json(&snap.lines[0], &snap.names);
        assert_eq!(j["name"], "trunk1");
        assert_eq!(j["kind"], "sim-fxo");
        assert_eq!(j["hook"], "off");
        assert_eq!(j["addresses"][0]["number"], "5550100");
        assert_eq!(j["serial_number"], "ABC123");
    }

    #[test]
    fn unknown_values_decode_to_hex() {
        let mut snap = snapshot();
        snap.calls[0].props.insert("State".into(), u(0x3));
        snap.calls[0].props.insert("StateMode".into(), u(0x8));
        let j = object_json(&snap.calls[0], &snap.names);
        assert_eq!(j["state"], "0x3");
        assert_eq!(j["state_mode"], "PICKUP");
        // A property of the wrong type is shown as it is, not dropped.
        snap.calls[0].props.insert("Reason".into(), s("odd"));
        let j = object_json(&snap.calls[0], &snap.names);
        assert_eq!(j["reason"], "odd");
    }

    #[test]
    fn human_detail() {
        let snap = snapshot();
        let text = object_detail(snap.call_by_path(C7).expect("call"), &snap.names);
        assert!(text.starts_with("call 7\n"), "{text}");
        assert!(text.contains("State:        CONNECTED (0x100)"), "{text}");
        assert!(text.contains("Reason:       PICKUP (0x10)"), "{text}");
        assert!(text.contains("Address:      5550100"), "{text}");
        assert!(text.contains("Station:      desk-201"), "{text}");
        assert!(text.contains("HeldBy:       -"), "{text}");
        assert!(text.contains("StateMode:    -"), "{text}");
        let text = object_detail(snap.address_by_path(A1).expect("addr"), &snap.names);
        assert!(text.starts_with("address 5550100\n"), "{text}");
        assert!(
            text.contains("Features:     PICKUP|PICKUPDIRECT (0x404)"),
            "{text}"
        );
        assert!(text.contains("Appearances:  desk-201"), "{text}");
        assert!(text.contains("Calls:        call 7"), "{text}");
    }

    #[test]
    fn tables() {
        let snap = snapshot();
        let t = calls_table(&snap);
        let mut lines = t.lines();
        let header = lines.next().expect("header");
        assert!(
            header.starts_with("ID  STATE      REASON  DIRECTION"),
            "{t}"
        );
        let row = lines.next().expect("row");
        assert!(row.starts_with("7   CONNECTED  PICKUP  inbound"), "{t}");
        assert!(
            row.contains("5550100  desk-201  5551234 \"ALICE\"  5550100"),
            "{t}"
        );
        let t = addresses_table(&snap);
        assert!(t.contains("PICKUP|PICKUPDIRECT"), "{t}");
        assert!(t.lines().all(|l| l == l.trim_end()));
        let t = lines_table(&snap);
        assert!(t.contains("trunk1"), "{t}");
        assert!(t.contains("201,5550100"), "{t}");
    }

    #[test]
    fn status() {
        let snap = snapshot();
        let j = status_json(&snap);
        assert_eq!(
            j,
            json!({"path": "/org/pickupd/Pickup1", "version": "0.1.0", "zone": "us",
                   "simulated": true, "line_count": 2, "address_count": 2, "call_count": 1})
        );
        let h = status_human(&snap);
        assert!(h.contains("Version:   0.1.0"), "{h}");
        assert!(h.contains("Simulated: yes"), "{h}");
        assert!(h.contains("Calls:     1"), "{h}");
    }

    #[test]
    fn summary_of_a_call() {
        let snap = snapshot();
        let s = call_summary(snap.call_by_path(C7).expect("call"), &snap.names);
        assert_eq!(
            s,
            "call 7: CONNECTED, reason PICKUP, at 5550100, station desk-201, caller 5551234 \"ALICE\""
        );
    }

    #[test]
    fn short_names() {
        let snap = snapshot();
        assert_eq!(short_name(C7, &snap.names), "call 7");
        assert_eq!(short_name(A2, &snap.names), "address 201");
        assert_eq!(short_name(L1, &snap.names), "line trunk1");
        assert_eq!(
            short_name("/org/pickupd/Pickup1/Line/9", &snap.names),
            "line 9"
        );
        assert_eq!(short_name("/org/pickupd/Pickup1", &snap.names), "manager");
    }

    #[test]
    fn out_writes_lines() {
        let mut buf = Vec::new();
        {
            let mut out = Out::new(&mut buf, true);
            out.json(&json!({"a": 1})).expect("write");
            out.text("x").expect("write");
        }
        assert_eq!(String::from_utf8(buf).expect("utf8"), "{\"a\":1}\nx\n");
    }
}
