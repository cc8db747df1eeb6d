//! The daemon's objects as `pickupctl` sees them: property maps read with
//! `GetAll` / `GetManagedObjects` / signals, a schema saying how each
//! property is decoded, and a snapshot of the whole site.

use std::collections::HashMap;

use pickupd_api::tapi::{
    addr_cap_flags, addr_feature, address_sharing, call_reason, call_state, disconnect_mode, Named,
};
use pickupd_api::{
    object_number, ADDRESS_INTERFACE, ADDRESS_PATH_PREFIX, CALL_INTERFACE, CALL_PATH_PREFIX,
    LINE_INTERFACE, LINE_PATH_PREFIX, MANAGER_INTERFACE, ROOT_PATH,
};
use zbus::zvariant::{OwnedValue, Value};

/// Properties of one interface of one object, as `GetAll` returns them.
pub type Props = HashMap<String, OwnedValue>;

/// `GetManagedObjects`: path → interface → properties.
pub type Managed = HashMap<String, HashMap<String, Props>>;

/// What kind of pickupd object a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjKind {
    Manager,
    Line,
    Address,
    Call,
    Other,
}

impl ObjKind {
    /// Kind of an object path, from its prefix.
    pub fn of_path(path: &str) -> ObjKind {
        if path == ROOT_PATH {
            ObjKind::Manager
        } else if path.starts_with(LINE_PATH_PREFIX) {
            ObjKind::Line
        } else if path.starts_with(ADDRESS_PATH_PREFIX) {
            ObjKind::Address
        } else if path.starts_with(CALL_PATH_PREFIX) {
            ObjKind::Call
        } else {
            ObjKind::Other
        }
    }

    /// Kind of the object implementing `interface`.
    pub fn of_interface(interface: &str) -> ObjKind {
        match interface {
            MANAGER_INTERFACE => ObjKind::Manager,
            LINE_INTERFACE => ObjKind::Line,
            ADDRESS_INTERFACE => ObjKind::Address,
            CALL_INTERFACE => ObjKind::Call,
            _ => ObjKind::Other,
        }
    }

    /// The word used in output (`call`, `line`…).
    pub fn word(self) -> &'static str {
        match self {
            ObjKind::Manager => "manager",
            ObjKind::Line => "line",
            ObjKind::Address => "address",
            ObjKind::Call => "call",
            ObjKind::Other => "object",
        }
    }

    /// The pickupd interface of this kind of object.
    pub fn interface(self) -> Option<&'static str> {
        match self {
            ObjKind::Manager => Some(MANAGER_INTERFACE),
            ObjKind::Line => Some(LINE_INTERFACE),
            ObjKind::Address => Some(ADDRESS_INTERFACE),
            ObjKind::Call => Some(CALL_INTERFACE),
            ObjKind::Other => None,
        }
    }
}

/// How a property's value is shown.
#[derive(Debug, Clone, Copy)]
pub enum PropType {
    Str,
    Bool,
    /// CLOCK_REALTIME microseconds.
    Time,
    /// A single TAPI value.
    Enum(&'static [Named]),
    /// `StateMode`: a disconnect mode, 0 meaning none.
    Mode,
    /// A TAPI flag word.
    Flags(&'static [Named]),
    /// An object path, `/` meaning none.
    Ref(ObjKind),
    Refs(ObjKind),
    StrList,
}

/// One property: its D-Bus name, its JSON key and its type.
#[derive(Debug, Clone, Copy)]
pub struct PropSpec {
    pub name: &'static str,
    pub key: &'static str,
    pub ty: PropType,
}

const fn p(name: &'static str, key: &'static str, ty: PropType) -> PropSpec {
    PropSpec { name, key, ty }
}

pub const MANAGER_PROPS: &[PropSpec] = &[
    p("Version", "version", PropType::Str),
    p("Zone", "zone", PropType::Str),
    p("Simulated", "simulated", PropType::Bool),
    p("Lines", "lines", PropType::Refs(ObjKind::Line)),
    p("Addresses", "addresses", PropType::Refs(ObjKind::Address)),
    p("Calls", "calls", PropType::Refs(ObjKind::Call)),
];

pub const LINE_PROPS: &[PropSpec] = &[
    p("Name", "name", PropType::Str),
    p("Kind", "kind", PropType::Str),
    p("Device", "device", PropType::Str),
    p("State", "state", PropType::Str),
    p("Hook", "hook", PropType::Str),
    p("Addresses", "addresses", PropType::Refs(ObjKind::Address)),
];

pub const ADDRESS_PROPS: &[PropSpec] = &[
    p("Number", "number", PropType::Str),
    p("Line", "line", PropType::Ref(ObjKind::Line)),
    p("Appearances", "appearances", PropType::Refs(ObjKind::Line)),
    p("Sharing", "sharing", PropType::Enum(address_sharing::ALL)),
    p("CallGroups", "call_groups", PropType::StrList),
    p("PickupGroups", "pickup_groups", PropType::StrList),
    p(
        "CapFlags",
        "cap_flags",
        PropType::Flags(addr_cap_flags::ALL),
    ),
    p("Features", "features", PropType::Flags(addr_feature::ALL)),
    p("Calls", "calls", PropType::Refs(ObjKind::Call)),
];

pub const CALL_PROPS: &[PropSpec] = &[
    p("Address", "address", PropType::Ref(ObjKind::Address)),
    p("Station", "station", PropType::Ref(ObjKind::Line)),
    p("State", "state", PropType::Enum(call_state::ALL)),
    p("StateMode", "state_mode", PropType::Mode),
    p("Reason", "reason", PropType::Enum(call_reason::ALL)),
    p("Direction", "direction", PropType::Str),
    p("CallerNumber", "caller_number", PropType::Str),
    p("CallerName", "caller_name", PropType::Str),
    p("CalledNumber", "called_number", PropType::Str),
    p("CallWaiting", "call_waiting", PropType::Bool),
    p("DetectedBy", "detected_by", PropType::Str),
    p("HeldBy", "held_by", PropType::Ref(ObjKind::Line)),
    p("Created", "created", PropType::Time),
];

/// The documented properties of an interface, in display order.
pub fn schema(interface: &str) -> &'static [PropSpec] {
    match interface {
        MANAGER_INTERFACE => MANAGER_PROPS,
        LINE_INTERFACE => LINE_PROPS,
        ADDRESS_INTERFACE => ADDRESS_PROPS,
        CALL_INTERFACE => CALL_PROPS,
        _ => &[],
    }
}

/// The spec of one property of an interface, if it is documented.
pub fn spec_of(interface: &str, name: &str) -> Option<&'static PropSpec> {
    schema(interface).iter().find(|s| s.name == name)
}

/// The table of a disconnect mode, for `StateMode`.
pub const STATE_MODE_TABLE: &[Named] = disconnect_mode::ALL;

/// `CamelCase` → `snake_case`, for properties the schema does not know.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

/// Strip `v` variant wrappers.
pub fn unwrap_variant<'a, 'b>(v: &'b Value<'a>) -> &'b Value<'a> {
    let mut v = v;
    while let Value::Value(inner) = v {
        v = inner;
    }
    v
}

pub fn value_str(v: &Value<'_>) -> Option<String> {
    match unwrap_variant(v) {
        Value::Str(s) => Some(s.as_str().to_owned()),
        Value::ObjectPath(p) => Some(p.as_str().to_owned()),
        _ => None,
    }
}

pub fn value_u32(v: &Value<'_>) -> Option<u32> {
    match unwrap_variant(v) {
        Value::U32(n) => Some(*n),
        Value::U16(n) => Some(u32::from(*n)),
        Value::U8(n) => Some(u32::from(*n)),
        Value::I32(n) => u32::try_from(*n).ok(),
        _ => None,
    }
}

pub fn value_u64(v: &Value<'_>) -> Option<u64> {
    match unwrap_variant(v) {
        Value::U64(n) => Some(*n),
        Value::I64(n) => u64::try_from(*n).ok(),
        other => value_u32(other).map(u64::from),
    }
}

pub fn value_bool(v: &Value<'_>) -> Option<bool> {
    match unwrap_variant(v) {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// Strings or object paths of an array value.
pub fn value_strs(v: &Value<'_>) -> Option<Vec<String>> {
    match unwrap_variant(v) {
        Value::Array(a) => a.iter().map(value_str).collect(),
        _ => None,
    }
}

/// One object: its path, kind and the properties of its pickupd interface.
#[derive(Debug, Clone)]
pub struct Object {
    pub path: String,
    pub kind: ObjKind,
    pub props: Props,
}

impl Object {
    pub fn new(path: impl Into<String>, kind: ObjKind, props: Props) -> Self {
        Object {
            path: path.into(),
            kind,
            props,
        }
    }

    /// The `<N>` of the path.
    pub fn id(&self) -> Option<u32> {
        object_number(&self.path)
    }

    pub fn get(&self, name: &str) -> Option<&Value<'static>> {
        self.props.get(name).map(|v| &**v)
    }

    /// A string property, empty when missing.
    pub fn str(&self, name: &str) -> String {
        self.get(name).and_then(value_str).unwrap_or_default()
    }

    /// A u32 property, 0 when missing.
    pub fn u32(&self, name: &str) -> u32 {
        self.get(name).and_then(value_u32).unwrap_or(0)
    }

    pub fn u64(&self, name: &str) -> u64 {
        self.get(name).and_then(value_u64).unwrap_or(0)
    }

    pub fn bool(&self, name: &str) -> bool {
        self.get(name).and_then(value_bool).unwrap_or(false)
    }

    /// A string-list or path-list property, empty when missing.
    pub fn strs(&self, name: &str) -> Vec<String> {
        self.get(name).and_then(value_strs).unwrap_or_default()
    }

    /// The pickupd interface name of this object.
    pub fn interface(&self) -> &'static str {
        self.kind.interface().unwrap_or("")
    }
}

/// Friendly names of lines and addresses, by path.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub lines: HashMap<String, String>,
    pub addresses: HashMap<String, String>,
}

impl Names {
    /// Remember the name of an object from its properties (Line.Name, Address.Number).
    pub fn learn(&mut self, path: &str, interface: &str, props: &Props) {
        let get = |name: &str| props.get(name).and_then(|v| value_str(v));
        match ObjKind::of_interface(interface) {
            ObjKind::Line => {
                if let Some(n) = get("Name") {
                    self.lines.insert(path.to_owned(), n);
                }
            }
            ObjKind::Address => {
                if let Some(n) = get("Number") {
                    self.addresses.insert(path.to_owned(), n);
                }
            }
            _ => {}
        }
    }

    pub fn forget(&mut self, path: &str) {
        self.lines.remove(path);
        self.addresses.remove(path);
    }

    /// The friendly name of a line or address path, if known.
    pub fn name_of(&self, kind: ObjKind, path: &str) -> Option<&str> {
        match kind {
            ObjKind::Line => self.lines.get(path).map(String::as_str),
            ObjKind::Address => self.addresses.get(path).map(String::as_str),
            _ => None,
        }
    }
}

/// Everything the daemon shows, read at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub manager: Object,
    pub lines: Vec<Object>,
    pub addresses: Vec<Object>,
    pub calls: Vec<Object>,
    pub names: Names,
}

impl Snapshot {
    /// Build from the Manager's properties and `GetManagedObjects`. Objects
    /// come in the Manager's order (creation order); any that the Manager
    /// does not list follow, by id.
    pub fn build(manager: Props, managed: Managed) -> Snapshot {
        let manager = Object::new(ROOT_PATH, ObjKind::Manager, manager);
        let mut names = Names::default();
        let mut by_kind: HashMap<&'static str, Vec<Object>> = HashMap::new();
        for (path, ifaces) in managed {
            for (iface, props) in ifaces {
                let kind = ObjKind::of_interface(&iface);
                let Some(known) = kind.interface() else {
                    continue;
                };
                if kind == ObjKind::Manager {
                    continue;
                }
                names.learn(&path, known, &props);
                by_kind
                    .entry(known)
                    .or_default()
                    .push(Object::new(path.clone(), kind, props));
            }
        }
        let mut order = |iface: &'static str, prop: &str| -> Vec<Object> {
            let mut objs = by_kind.remove(iface).unwrap_or_default();
            let listed = manager.strs(prop);
            objs.sort_by_key(|o| {
                (
                    listed
                        .iter()
                        .position(|p| *p == o.path)
                        .unwrap_or(usize::MAX),
                    o.id().unwrap_or(u32::MAX),
                    o.path.clone(),
                )
            });
            objs
        };
        let lines = order(LINE_INTERFACE, "Lines");
        let addresses = order(ADDRESS_INTERFACE, "Addresses");
        let calls = order(CALL_INTERFACE, "Calls");
        Snapshot {
            manager,
            lines,
            addresses,
            calls,
            names,
        }
    }

    pub fn line_by_path(&self, path: &str) -> Option<&Object> {
        self.lines.iter().find(|o| o.path == path)
    }

    pub fn line_by_name(&self, name: &str) -> Option<&Object> {
        self.lines.iter().find(|o| o.str("Name") == name)
    }

    pub fn address_by_path(&self, path: &str) -> Option<&Object> {
        self.addresses.iter().find(|o| o.path == path)
    }

    pub fn call_by_path(&self, path: &str) -> Option<&Object> {
        self.calls.iter().find(|o| o.path == path)
    }

    pub fn line_names(&self) -> Vec<String> {
        self.lines.iter().map(|o| o.str("Name")).collect()
    }

    pub fn address_numbers(&self) -> Vec<String> {
        self.addresses.iter().map(|o| o.str("Number")).collect()
    }

    pub fn call_ids(&self) -> Vec<String> {
        self.calls
            .iter()
            .map(|o| o.id().map_or_else(|| o.path.clone(), |n| n.to_string()))
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod testdata {
    //! A small site, as the daemon would show it.
    use super::*;
    use zbus::zvariant::{ObjectPath, Str};

    pub fn s(v: &str) -> OwnedValue {
        OwnedValue::from(Str::from(v.to_owned()))
    }
    pub fn u(v: u32) -> OwnedValue {
        OwnedValue::from(v)
    }
    pub fn b(v: bool) -> OwnedValue {
        OwnedValue::from(v)
    }
    pub fn t(v: u64) -> OwnedValue {
        OwnedValue::from(v)
    }
    pub fn o(v: &str) -> OwnedValue {
        OwnedValue::from(ObjectPath::try_from(v.to_owned()).expect("path"))
    }
    pub fn ao(v: &[&str]) -> OwnedValue {
        let paths: Vec<ObjectPath<'static>> = v
            .iter()
            .map(|p| ObjectPath::try_from((*p).to_owned()).expect("path"))
            .collect();
        OwnedValue::try_from(Value::from(paths)).expect("ao")
    }
    pub fn a_s(v: &[&str]) -> OwnedValue {
        let strs: Vec<String> = v.iter().map(|s| (*s).to_owned()).collect();
        OwnedValue::try_from(Value::from(strs)).expect("as")
    }
    pub fn props(pairs: Vec<(&str, OwnedValue)>) -> Props {
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    pub const L1: &str = "/org/pickupd/Pickup1/Line/1";
    pub const L2: &str = "/org/pickupd/Pickup1/Line/2";
    pub const A1: &str = "/org/pickupd/Pickup1/Address/1";
    pub const A2: &str = "/org/pickupd/Pickup1/Address/2";
    pub const C7: &str = "/org/pickupd/Pickup1/Call/7";

    pub fn manager() -> Props {
        props(vec![
            ("Version", s("0.1.0")),
            ("Zone", s("us")),
            ("Simulated", b(true)),
            ("Lines", ao(&[L1, L2])),
            ("Addresses", ao(&[A1, A2])),
            ("Calls", ao(&[C7])),
        ])
    }

    pub fn line1() -> Props {
        props(vec![
            ("Name", s("trunk1")),
            ("Kind", s("sim-fxo")),
            ("Device", s("sim:trunk1")),
            ("State", s("in-service")),
            ("Hook", s("off")),
            ("Addresses", ao(&[A1])),
        ])
    }

    pub fn line2() -> Props {
        props(vec![
            ("Name", s("desk-201")),
            ("Kind", s("sim-fxs")),
            ("Device", s("sim:desk-201")),
            ("State", s("in-service")),
            ("Hook", s("on")),
            ("Addresses", ao(&[A2, A1])),
        ])
    }

    pub fn addr1() -> Props {
        props(vec![
            ("Number", s("5550100")),
            ("Line", o(L1)),
            ("Appearances", ao(&[L2])),
            ("Sharing", u(0x2)),
            ("CallGroups", a_s(&["sales"])),
            ("PickupGroups", a_s(&[])),
            ("CapFlags", u(0x2 | 0x0040_0000)),
            ("Features", u(0x4 | 0x400)),
            ("Calls", ao(&[C7])),
        ])
    }

    pub fn addr2() -> Props {
        props(vec![
            ("Number", s("201")),
            ("Line", o(L2)),
            ("Appearances", ao(&[L2])),
            ("Sharing", u(0x1)),
            ("CallGroups", a_s(&["sales"])),
            ("PickupGroups", a_s(&["sales", "support"])),
            ("CapFlags", u(0x2)),
            ("Features", u(0)),
            ("Calls", ao(&[])),
        ])
    }

    pub fn call7() -> Props {
        props(vec![
            ("Address", o(A1)),
            ("Station", o(L2)),
            ("State", u(0x100)),
            ("StateMode", u(0)),
            ("Reason", u(0x10)),
            ("Direction", s("inbound")),
            ("CallerNumber", s("5551234")),
            ("CallerName", s("ALICE")),
            ("CalledNumber", s("5550100")),
            ("CallWaiting", b(false)),
            ("DetectedBy", s("")),
            ("HeldBy", o("/")),
            ("Created", t(1_764_000_000_123_456)),
        ])
    }

    pub fn managed() -> Managed {
        let mut m = Managed::new();
        let mut add = |path: &str, iface: &str, props: Props| {
            m.entry(path.to_owned())
                .or_default()
                .insert(iface.to_owned(), props);
        };
        // Listed out of order on purpose: the snapshot follows the Manager.
        add(L2, LINE_INTERFACE, line2());
        add(L1, LINE_INTERFACE, line1());
        add(A2, ADDRESS_INTERFACE, addr2());
        add(A1, ADDRESS_INTERFACE, addr1());
        add(C7, CALL_INTERFACE, call7());
        add(
            "/org/pickupd/Pickup1/Line/2",
            "org.freedesktop.DBus.Peer",
            Props::new(),
        );
        m
    }

    pub fn snapshot() -> Snapshot {
        Snapshot::build(manager(), managed())
    }
}

#[cfg(test)]
mod tests {
    use super::testdata::*;
    use super::*;

    #[test]
    fn snapshot_follows_manager_order() {
        let snap = snapshot();
        assert_eq!(snap.line_names(), vec!["trunk1", "desk-201"]);
        assert_eq!(snap.address_numbers(), vec!["5550100", "201"]);
        assert_eq!(snap.call_ids(), vec!["7"]);
        assert_eq!(snap.names.name_of(ObjKind::Line, L2), Some("desk-201"));
        assert_eq!(snap.names.name_of(ObjKind::Address, A1), Some("5550100"));
        assert_eq!(
            snap.line_by_name("desk-201").map(|o| o.path.as_str()),
            Some(L2)
        );
    }

    #[test]
    fn typed_reads_are_lenient() {
        let snap = snapshot();
        let call = snap.call_by_path(C7).expect("call 7");
        assert_eq!(call.u32("State"), 0x100);
        assert_eq!(call.str("Station"), L2);
        assert_eq!(call.u64("Created"), 1_764_000_000_123_456);
        assert_eq!(call.str("Missing"), "");
        assert_eq!(call.u32("CallerName"), 0);
        assert_eq!(call.id(), Some(7));
        let line = snap.line_by_path(L2).expect("line");
        assert_eq!(line.strs("Addresses"), vec![A2, A1]);
    }

    #[test]
    fn kinds_and_keys() {
        assert_eq!(ObjKind::of_path(C7), ObjKind::Call);
        assert_eq!(ObjKind::of_path(ROOT_PATH), ObjKind::Manager);
        assert_eq!(ObjKind::of_path("/x"), ObjKind::Other);
        assert_eq!(snake_case("CallerNumber"), "caller_number");
        assert_eq!(snake_case("CapFlags"), "cap_flags");
        assert_eq!(snake_case("Version"), "version");
        for iface in [
            MANAGER_INTERFACE,
            LINE_INTERFACE,
            ADDRESS_INTERFACE,
            CALL_INTERFACE,
        ] {
            for spec in schema(iface) {
                assert_eq!(snake_case(spec.name), spec.key, "{iface} {}", spec.name);
            }
        }
    }
}
