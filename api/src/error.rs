//! The API's errors, `org.pickupd.Pickup1.Error.<Name>`, each carrying a
//! message a person can act on.

use zbus::DBusError;

/// Every error the daemon answers with. The message says what went wrong
/// and, where it can, what to do instead.
#[derive(Debug, Clone, DBusError)]
#[zbus(prefix = "org.pickupd.Pickup1.Error")]
pub enum PickupError {
    /// Transport-level failure; not one of the API's names.
    #[zbus(error)]
    ZBus(zbus::Error),
    /// A number that is malformed or not in the site (LINEERR_INVALADDRESS).
    InvalidAddress(String),
    /// A group that does not exist or does not match the destination.
    InvalidGroupId(String),
    /// No call matches the pickup; also the loser of a pickup race.
    NothingToPickUp(String),
    /// The address or line kind lacks the capability.
    OperationUnavailable(String),
    /// The call is not in a state that allows the operation.
    InvalidCallState(String),
    /// Line out of service, device busy.
    ResourceUnavailable(String),
    /// The hardware or the far switch refused.
    OperationFailed(String),
    /// polkit said no.
    NotAuthorized(String),
}

impl PickupError {
    /// The short D-Bus name (`NothingToPickUp`), without the prefix.
    pub fn short_name(&self) -> &'static str {
        match self {
            PickupError::ZBus(_) => "ZBus",
            PickupError::InvalidAddress(_) => "InvalidAddress",
            PickupError::InvalidGroupId(_) => "InvalidGroupId",
            PickupError::NothingToPickUp(_) => "NothingToPickUp",
            PickupError::OperationUnavailable(_) => "OperationUnavailable",
            PickupError::InvalidCallState(_) => "InvalidCallState",
            PickupError::ResourceUnavailable(_) => "ResourceUnavailable",
            PickupError::OperationFailed(_) => "OperationFailed",
            PickupError::NotAuthorized(_) => "NotAuthorized",
        }
    }

    /// The person-readable message.
    pub fn message(&self) -> String {
        match self {
            PickupError::ZBus(e) => e.to_string(),
            PickupError::InvalidAddress(m)
            | PickupError::InvalidGroupId(m)
            | PickupError::NothingToPickUp(m)
            | PickupError::OperationUnavailable(m)
            | PickupError::InvalidCallState(m)
            | PickupError::ResourceUnavailable(m)
            | PickupError::OperationFailed(m)
            | PickupError::NotAuthorized(m) => m.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_carry_the_prefix() {
        let e = PickupError::NothingToPickUp("nothing is alerting at 204".into());
        assert_eq!(
            e.name().as_str(),
            "org.pickupd.Pickup1.Error.NothingToPickUp"
        );
        assert_eq!(e.description(), Some("nothing is alerting at 204"));
        assert_eq!(e.short_name(), "NothingToPickUp");
    }
}
