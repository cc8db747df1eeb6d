//! The public contract of pickupd, shared by the daemon, `pickupctl` and
//! any Rust desktop application: bus names, object paths, TAPI numeric
//! values, error names and typed client proxies.
//!
//! The introspection XML in `interfaces/` is the source of truth for the
//! D-Bus surface; [`INTERFACE_XML`] embeds it so tests can compare the
//! running daemon against it.

pub mod error;
pub mod proxy;
pub mod tapi;

pub use error::PickupError;

/// Well-known bus name the daemon owns.
pub const BUS_NAME: &str = "org.pickupd.Pickup1";
/// Root object: ObjectManager, Manager and (simulated sites) Simulator.
pub const ROOT_PATH: &str = "/org/pickupd/Pickup1";
pub const LINE_PATH_PREFIX: &str = "/org/pickupd/Pickup1/Line/";
pub const ADDRESS_PATH_PREFIX: &str = "/org/pickupd/Pickup1/Address/";
pub const CALL_PATH_PREFIX: &str = "/org/pickupd/Pickup1/Call/";

pub const MANAGER_INTERFACE: &str = "org.pickupd.Pickup1.Manager";
pub const LINE_INTERFACE: &str = "org.pickupd.Pickup1.Line";
pub const ADDRESS_INTERFACE: &str = "org.pickupd.Pickup1.Address";
pub const CALL_INTERFACE: &str = "org.pickupd.Pickup1.Call";
pub const SIMULATOR_INTERFACE: &str = "org.pickupd.Pickup1.Simulator";
pub const ERROR_PREFIX: &str = "org.pickupd.Pickup1.Error";

/// polkit action for pickup, answer, drop, hold and the other call controls.
pub const POLKIT_ACTION_CONTROL: &str = "org.pickupd.pickup1.control";
/// polkit action for reload and the simulator.
pub const POLKIT_ACTION_CONFIGURE: &str = "org.pickupd.pickup1.configure";

/// Introspection XML of every pickupd interface, `(interface name, xml)`.
pub const INTERFACE_XML: &[(&str, &str)] = &[
    (
        MANAGER_INTERFACE,
        include_str!("../interfaces/org.pickupd.Pickup1.Manager.xml"),
    ),
    (
        LINE_INTERFACE,
        include_str!("../interfaces/org.pickupd.Pickup1.Line.xml"),
    ),
    (
        ADDRESS_INTERFACE,
        include_str!("../interfaces/org.pickupd.Pickup1.Address.xml"),
    ),
    (
        CALL_INTERFACE,
        include_str!("../interfaces/org.pickupd.Pickup1.Call.xml"),
    ),
    (
        SIMULATOR_INTERFACE,
        include_str!("../interfaces/org.pickupd.Pickup1.Simulator.xml"),
    ),
];

/// Object path of line `n`.
pub fn line_path(n: u32) -> String {
    format!("{LINE_PATH_PREFIX}{n}")
}
/// Object path of address `n`.
pub fn address_path(n: u32) -> String {
    format!("{ADDRESS_PATH_PREFIX}{n}")
}
/// Object path of call `n`.
pub fn call_path(n: u32) -> String {
    format!("{CALL_PATH_PREFIX}{n}")
}

/// The `<N>` of a call, line or address path, if it is one of ours.
pub fn object_number(path: &str) -> Option<u32> {
    [LINE_PATH_PREFIX, ADDRESS_PATH_PREFIX, CALL_PATH_PREFIX]
        .iter()
        .find_map(|p| path.strip_prefix(p))
        .and_then(|n| {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                n.parse().ok()
            }
        })
}

/// A dialable number as the API accepts it: only `0-9*#`, 1–32 characters.
pub fn is_dialable(number: &str) -> bool {
    (1..=32).contains(&number.len())
        && number
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        assert_eq!(object_number(&call_path(17)), Some(17));
        assert_eq!(object_number(&line_path(0)), Some(0));
        assert_eq!(object_number("/org/pickupd/Pickup1/Call/"), None);
        assert_eq!(object_number("/org/pickupd/Pickup1/Call/1x"), None);
        assert_eq!(object_number("/elsewhere/1"), None);
    }

    #[test]
    fn dialable_numbers() {
        assert!(is_dialable("201"));
        assert!(is_dialable("*8"));
        assert!(is_dialable("**201#"));
        assert!(!is_dialable(""));
        assert!(!is_dialable("20a"));
        assert!(!is_dialable(&"1".repeat(33)));
        assert!(is_dialable(&"1".repeat(32)));
    }

    #[test]
    fn every_interface_has_xml_naming_it() {
        for (name, xml) in INTERFACE_XML {
            assert!(
                xml.contains(&format!("<interface name=\"{name}\">")),
                "{name}"
            );
        }
    }
}
