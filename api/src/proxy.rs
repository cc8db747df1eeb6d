//! Typed client proxies, one per interface, mirroring `interfaces/*.xml`.

use zbus::proxy;
use zbus::zvariant::OwnedObjectPath;

#[proxy(
    interface = "org.pickupd.Pickup1.Manager",
    default_service = "org.pickupd.Pickup1",
    default_path = "/org/pickupd/Pickup1"
)]
pub trait Manager {
    fn find_address(&self, number: &str) -> zbus::Result<OwnedObjectPath>;
    fn reload(&self) -> zbus::Result<()>;
    #[zbus(signal)]
    fn call_added(&self, call: OwnedObjectPath) -> zbus::Result<()>;
    #[zbus(signal)]
    fn call_removed(&self, call: OwnedObjectPath) -> zbus::Result<()>;
    #[zbus(property)]
    fn version(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn zone(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn simulated(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn lines(&self) -> zbus::Result<Vec<OwnedObjectPath>>;
    #[zbus(property)]
    fn addresses(&self) -> zbus::Result<Vec<OwnedObjectPath>>;
    #[zbus(property)]
    fn calls(&self) -> zbus::Result<Vec<OwnedObjectPath>>;
}

#[proxy(
    interface = "org.pickupd.Pickup1.Line",
    default_service = "org.pickupd.Pickup1"
)]
pub trait Line {
    #[zbus(property)]
    fn name(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn kind(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn device(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn state(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn hook(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn addresses(&self) -> zbus::Result<Vec<OwnedObjectPath>>;
}

#[proxy(
    interface = "org.pickupd.Pickup1.Address",
    default_service = "org.pickupd.Pickup1"
)]
pub trait Address {
    fn pickup(&self, dest_address: &str, group_id: &str) -> zbus::Result<OwnedObjectPath>;
    fn dial(&self, number: &str) -> zbus::Result<OwnedObjectPath>;
    #[zbus(property)]
    fn number(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn line(&self) -> zbus::Result<OwnedObjectPath>;
    #[zbus(property)]
    fn appearances(&self) -> zbus::Result<Vec<OwnedObjectPath>>;
    #[zbus(property)]
    fn sharing(&self) -> zbus::Result<u32>;
    #[zbus(property)]
    fn call_groups(&self) -> zbus::Result<Vec<String>>;
    #[zbus(property)]
    fn pickup_groups(&self) -> zbus::Result<Vec<String>>;
    #[zbus(property)]
    fn cap_flags(&self) -> zbus::Result<u32>;
    #[zbus(property)]
    fn features(&self) -> zbus::Result<u32>;
    #[zbus(property)]
    fn calls(&self) -> zbus::Result<Vec<OwnedObjectPath>>;
}

#[proxy(
    interface = "org.pickupd.Pickup1.Call",
    default_service = "org.pickupd.Pickup1"
)]
pub trait Call {
    fn answer(&self) -> zbus::Result<()>;
    #[zbus(name = "Drop")]
    fn drop_call(&self) -> zbus::Result<()>;
    fn hold(&self) -> zbus::Result<()>;
    fn unhold(&self) -> zbus::Result<()>;
    fn swap_hold(&self, held_call: &zbus::zvariant::ObjectPath<'_>) -> zbus::Result<()>;
    /// `StateChanged` (renamed here: the `State` property owns `receive_state_changed`).
    #[zbus(signal, name = "StateChanged")]
    fn call_state_changed(&self, old_state: u32, new_state: u32, mode: u32) -> zbus::Result<()>;
    #[zbus(property)]
    fn address(&self) -> zbus::Result<OwnedObjectPath>;
    #[zbus(property)]
    fn station(&self) -> zbus::Result<OwnedObjectPath>;
    #[zbus(property)]
    fn state(&self) -> zbus::Result<u32>;
    #[zbus(property)]
    fn state_mode(&self) -> zbus::Result<u32>;
    #[zbus(property)]
    fn reason(&self) -> zbus::Result<u32>;
    #[zbus(property)]
    fn direction(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn caller_number(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn caller_name(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn called_number(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn call_waiting(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn detected_by(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn held_by(&self) -> zbus::Result<OwnedObjectPath>;
    #[zbus(property)]
    fn created(&self) -> zbus::Result<u64>;
}

#[proxy(
    interface = "org.pickupd.Pickup1.Simulator",
    default_service = "org.pickupd.Pickup1",
    default_path = "/org/pickupd/Pickup1"
)]
pub trait Simulator {
    fn incoming_call(
        &self,
        number: &str,
        caller_number: &str,
        caller_name: &str,
    ) -> zbus::Result<OwnedObjectPath>;
    fn off_hook(&self, station_number: &str) -> zbus::Result<()>;
    fn on_hook(&self, station_number: &str) -> zbus::Result<()>;
    fn flash(&self, station_number: &str) -> zbus::Result<()>;
    fn dial(&self, station_number: &str, digits: &str) -> zbus::Result<()>;
    fn call_waiting(
        &self,
        trunk_number: &str,
        caller_number: &str,
        caller_name: &str,
    ) -> zbus::Result<()>;
    fn remote_hangup(&self, trunk_or_station_number: &str) -> zbus::Result<()>;
    fn unplug(&self, line_name: &str) -> zbus::Result<()>;
    fn plug(&self, line_name: &str) -> zbus::Result<()>;
}

/// Turn a proxy error into the API error it carries, if it is one of ours.
pub fn api_error(err: &zbus::Error) -> Option<crate::PickupError> {
    match err {
        zbus::Error::MethodError(name, msg, _) => {
            let short = name.as_str().strip_prefix("org.pickupd.Pickup1.Error.")?;
            let msg = msg.clone().unwrap_or_default();
            Some(match short {
                "InvalidAddress" => crate::PickupError::InvalidAddress(msg),
                "InvalidGroupId" => crate::PickupError::InvalidGroupId(msg),
                "NothingToPickUp" => crate::PickupError::NothingToPickUp(msg),
                "OperationUnavailable" => crate::PickupError::OperationUnavailable(msg),
                "InvalidCallState" => crate::PickupError::InvalidCallState(msg),
                "ResourceUnavailable" => crate::PickupError::ResourceUnavailable(msg),
                "OperationFailed" => crate::PickupError::OperationFailed(msg),
                "NotAuthorized" => crate::PickupError::NotAuthorized(msg),
                _ => return None,
            })
        }
        _ => None,
    }
}
