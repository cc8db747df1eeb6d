//! Who may change things: every mutating method asks polkit
//! (`org.freedesktop.PolicyKit1.Authority.CheckAuthorization`, on the bus
//! the daemon serves) whether the caller holds the method's action
//! (`org.pickupd.pickup1.control` or `.configure`). Reading stays open.
//!
//! On a session bus or a private `--address` bus there is usually no
//! polkit; there the daemon runs with [`Authorization::None`] (everyone is
//! allowed), which is what development, the tests and the demo use.

use pickupd_api::{PickupError, POLKIT_ACTION_CONFIGURE, POLKIT_ACTION_CONTROL};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use zbus::message::{Flags, Header};
use zbus::zvariant::{Type, Value};
use zbus::Connection;

/// How method calls are authorized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authorization {
    /// Ask polkit for every mutating call (the default on the system bus).
    Polkit,
    /// Allow everyone: for the session bus, private buses, tests, the demo.
    None,
}

impl Authorization {
    /// The default for a bus: polkit on the system bus, none elsewhere.
    pub fn default_for(bus: &crate::daemon::BusChoice) -> Authorization {
        match bus {
            crate::daemon::BusChoice::System => Authorization::Polkit,
            _ => Authorization::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Authorization::Polkit => "polkit",
            Authorization::None => "none",
        }
    }

    /// May the sender of the method call with header `hdr` perform `action`?
    pub async fn check(
        self,
        conn: &Connection,
        hdr: &Header<'_>,
        action: &str,
    ) -> Result<(), PickupError> {
        match self {
            Authorization::None => Ok(()),
            Authorization::Polkit => check_polkit(conn, hdr, action).await,
        }
    }
}

impl std::str::FromStr for Authorization {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "polkit" => Ok(Authorization::Polkit),
            "none" => Ok(Authorization::None),
            other => Err(format!(
                "unknown authorization \"{other}\"; use polkit or none"
            )),
        }
    }
}

/// polkit's `Subject`: `(sa{sv})`.
#[derive(Debug, Serialize, Type)]
pub struct Subject<'a> {
    pub kind: &'a str,
    pub details: HashMap<&'a str, Value<'a>>,
}

/// polkit's `AuthorizationResult`: `(bba{ss})`.
#[derive(Debug, Deserialize, Type)]
pub struct AuthorizationResult {
    pub is_authorized: bool,
    pub is_challenge: bool,
    pub details: HashMap<String, String>,
}

/// `CheckAuthorization` flag: polkit may ask the user (through an agent).
pub const ALLOW_USER_INTERACTION: u32 = 1;

#[zbus::proxy(
    interface = "org.freedesktop.PolicyKit1.Authority",
    default_service = "org.freedesktop.PolicyKit1",
    default_path = "/org/freedesktop/PolicyKit1/Authority",
    gen_blocking = false
)]
pub trait Authority {
    fn check_authorization(
        &self,
        subject: &Subject<'_>,
        action_id: &str,
        details: HashMap<&str, &str>,
        flags: u32,
        cancellation_id: &str,
    ) -> zbus::Result<AuthorizationResult>;
}

/// What an action lets one do, for messages.
fn what(action: &str) -> &'static str {
    match action {
        POLKIT_ACTION_CONTROL => "control calls",
        POLKIT_ACTION_CONFIGURE => "configure pickupd (reload, simulator)",
        _ => "do this",
    }
}

fn denied(action: &str, challenge: bool) -> PickupError {
    let what = what(action);
    if challenge {
        PickupError::NotAuthorized(format!(
            "not authorized to {what} (polkit action {action}) without authenticating; \
             run the command again without --no-ask-password from a session with a polkit \
             agent, or ask an administrator to allow the action"
        ))
    } else {
        PickupError::NotAuthorized(format!(
            "not authorized to {what} (polkit action {action}); ask an administrator to \
             allow this action for you (a polkit rule), or run the command as a user who \
             has it"
        ))
    }
}

async fn check_polkit(
    conn: &Connection,
    hdr: &Header<'_>,
    action: &str,
) -> Result<(), PickupError> {
    let Some(sender) = hdr.sender() else {
        return Err(PickupError::NotAuthorized(format!(
            "not authorized to {} (polkit action {action}): the call has no sender to ask polkit about",
            what(action)
        )));
    };
    let interactive = hdr.primary().flags().contains(Flags::AllowInteractiveAuth);
    let mut details = HashMap::new();
    details.insert("name", Value::from(sender.as_str()));
    let subject = Subject {
        kind: "system-bus-name",
        details,
    };
    let proxy = AuthorityProxy::builder(conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .map_err(|e| unreachable_polkit(action, e))?;
    let flags = if interactive {
        ALLOW_USER_INTERACTION
    } else {
        0
    };
    match proxy
        .check_authorization(&subject, action, HashMap::new(), flags, "")
        .await
    {
        Ok(r) if r.is_authorized => Ok(()),
        Ok(r) => {
            tracing::info!(
                "polkit denied {action} to {sender} (challenge: {})",
                r.is_challenge
            );
            Err(denied(action, r.is_challenge))
        }
        Err(e) => Err(unreachable_polkit(action, e)),
    }
}

/// polkit could not be asked: not running, or it failed.
fn unreachable_polkit(action: &str, e: zbus::Error) -> PickupError {
    let absent = matches!(
        &e,
        zbus::Error::FDO(f) if matches!(
            **f,
            zbus::fdo::Error::ServiceUnknown(_)
                | zbus::fdo::Error::NameHasNoOwner(_)
                | zbus::fdo::Error::UnknownObject(_)
        )
    ) || matches!(&e, zbus::Error::MethodError(name, _, _)
        if name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown"
            || name.as_str() == "org.freedesktop.DBus.Error.NameHasNoOwner");
    if absent {
        tracing::warn!("polkit is not running; refusing {action}");
        PickupError::NotAuthorized(format!(
            "not authorized to {} (polkit action {action}): polkit is not running on this bus, \
             so nobody can be authorized; start polkit (systemctl start polkit), or run \
             pickupd with --authorize none on a private bus",
            what(action)
        ))
    } else {
        tracing::warn!("could not ask polkit about {action}: {e}");
        PickupError::NotAuthorized(format!(
            "not authorized to {} (polkit action {action}): polkit could not be asked ({e}); \
             check that polkit is running (systemctl status polkit)",
            what(action)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::zvariant::Type;

    #[test]
    fn wire_types_match_polkit() {
        assert_eq!(Subject::SIGNATURE.to_string(), "(sa{sv})");
        assert_eq!(AuthorizationResult::SIGNATURE.to_string(), "(bba{ss})");
    }

    #[test]
    fn parses_modes() {
        assert_eq!("polkit".parse(), Ok(Authorization::Polkit));
        assert_eq!("none".parse(), Ok(Authorization::None));
        assert!("yes".parse::<Authorization>().is_err());
    }

    #[test]
    fn denial_names_the_action() {
        let m = denied(POLKIT_ACTION_CONTROL, false).message();
        assert!(m.contains("not authorized to control calls"), "{m}");
        assert!(m.contains(POLKIT_ACTION_CONTROL), "{m}");
    }
}
