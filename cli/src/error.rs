//! Errors and exit codes, in one place.
//!
//! | exit | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the operation failed: any API error not listed below, a daemon that is not simulated for `sim`, other D-Bus failures |
//! | 2 | usage error (clap; also `tones analyze` on a file whose format cannot be told) |
//! | 3 | timeout: no answer within `--timeout` (also D-Bus `NoReply` / `Timeout`) |
//! | 4 | not authorized: `org.pickupd.Pickup1.Error.NotAuthorized`, `org.freedesktop.DBus.Error.AccessDenied`, `…InteractiveAuthorizationRequired` |
//! | 8 | daemon not running: `ServiceUnknown` / `NameHasNoOwner` for `org.pickupd.Pickup1`, or no bus to connect to |
//! | 10 | no such object: unknown number, line or call; `InvalidAddress`; `UnknownObject` |

use std::time::Duration;

use zbus::DBusError as _;

use crate::args::BusChoice;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_TIMEOUT: u8 = 3;
pub const EXIT_NOT_AUTHORIZED: u8 = 4;
pub const EXIT_NOT_RUNNING: u8 = 8;
pub const EXIT_NO_SUCH_OBJECT: u8 = 10;

/// Everything that can end a `pickupctl` run early. The message is what
/// is printed on stderr after `pickupctl: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// The operation failed (exit 1). `name` is the D-Bus error name, if any.
    #[error("{message}")]
    Failed {
        name: Option<String>,
        message: String,
    },
    /// No answer in time (exit 3).
    #[error("{0}")]
    Timeout(String),
    /// polkit or the bus said no (exit 4).
    #[error("{0}")]
    NotAuthorized(String),
    /// The daemon is not on the bus, or there is no bus (exit 8).
    #[error("{0}")]
    NotRunning(String),
    /// Unknown number, line or call (exit 10).
    #[error("{0}")]
    NoSuchObject(String),
    /// Bad use of the command line found after parsing (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Whoever read our stdout stopped reading (`| head`): end quietly, exit 0.
    #[error("output closed")]
    OutputClosed,
}

impl CliError {
    pub fn failed(message: impl Into<String>) -> Self {
        CliError::Failed {
            name: None,
            message: message.into(),
        }
    }

    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Failed { .. } => EXIT_FAILED,
            CliError::Timeout(_) => EXIT_TIMEOUT,
            CliError::NotAuthorized(_) => EXIT_NOT_AUTHORIZED,
            CliError::NotRunning(_) => EXIT_NOT_RUNNING,
            CliError::NoSuchObject(_) => EXIT_NO_SUCH_OBJECT,
            CliError::Usage(_) => EXIT_USAGE,
            CliError::OutputClosed => EXIT_OK,
        }
    }

    /// The D-Bus error name behind a `Failed`, if any.
    pub fn dbus_name(&self) -> Option<&str> {
        match self {
            CliError::Failed { name, .. } => name.as_deref(),
            _ => None,
        }
    }

    /// Add a sentence to the message, keeping the kind.
    pub fn with_hint(self, hint: &str) -> Self {
        let add = |m: String| {
            if hint.is_empty() {
                m
            } else {
                format!("{m}; {hint}")
            }
        };
        match self {
            CliError::Failed { name, message } => CliError::Failed {
                name,
                message: add(message),
            },
            CliError::Timeout(m) => CliError::Timeout(add(m)),
            CliError::NotAuthorized(m) => CliError::NotAuthorized(add(m)),
            CliError::NotRunning(m) => CliError::NotRunning(add(m)),
            CliError::NoSuchObject(m) => CliError::NoSuchObject(add(m)),
            CliError::Usage(m) => CliError::Usage(add(m)),
            CliError::OutputClosed => CliError::OutputClosed,
        }
    }
}

/// What a D-Bus error name means for `pickupctl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Failed,
    Timeout,
    NotAuthorized,
    NotRunning,
    NoSuchObject,
}

/// Classify a D-Bus error name.
pub fn classify(name: &str) -> ErrorClass {
    match name {
        "org.pickupd.Pickup1.Error.NotAuthorized"
        | "org.freedesktop.DBus.Error.AccessDenied"
        | "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
        | "org.freedesktop.PolicyKit1.Error.NotAuthorized" => ErrorClass::NotAuthorized,
        "org.freedesktop.DBus.Error.ServiceUnknown"
        | "org.freedesktop.DBus.Error.NameHasNoOwner" => ErrorClass::NotRunning,
        "org.pickupd.Pickup1.Error.InvalidAddress" | "org.freedesktop.DBus.Error.UnknownObject" => {
            ErrorClass::NoSuchObject
        }
        "org.freedesktop.DBus.Error.NoReply"
        | "org.freedesktop.DBus.Error.Timeout"
        | "org.freedesktop.DBus.Error.TimedOut" => ErrorClass::Timeout,
        _ => ErrorClass::Failed,
    }
}

/// Turn a zbus error from a call to the daemon into a `CliError`, keeping
/// the API's message. `bus` names the bus in messages about a missing daemon;
/// `timeout` is the limit that was applied.
pub fn from_zbus(err: &zbus::Error, bus: &BusChoice, timeout: Duration) -> CliError {
    let (name, message) = match err {
        zbus::Error::MethodError(name, msg, _) => {
            (name.as_str().to_owned(), msg.clone().unwrap_or_default())
        }
        zbus::Error::FDO(e) => (
            e.name().as_str().to_owned(),
            e.description().unwrap_or_default().to_owned(),
        ),
        zbus::Error::InputOutput(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            return timed_out(timeout);
        }
        zbus::Error::InputOutput(io) => {
            return CliError::failed(format!("lost the connection to {bus}: {io}"));
        }
        other => return CliError::failed(format!("D-Bus error: {other}")),
    };
    let message = if message.is_empty() {
        name.clone()
    } else {
        message
    };
    match classify(&name) {
        ErrorClass::Failed => CliError::Failed {
            name: Some(name),
            message,
        },
        ErrorClass::Timeout => CliError::Timeout(message),
        ErrorClass::NotAuthorized => CliError::NotAuthorized(message),
        ErrorClass::NotRunning => CliError::NotRunning(not_running_message(bus)),
        ErrorClass::NoSuchObject => CliError::NoSuchObject(message),
    }
}

/// The error for a call that got no answer in time.
pub fn timed_out(timeout: Duration) -> CliError {
    CliError::Timeout(format!(
        "pickupd did not answer within {} (see --timeout)",
        format_duration(timeout)
    ))
}

/// The message for a daemon that is not on the bus.
pub fn not_running_message(bus: &BusChoice) -> String {
    let hint = match bus {
        BusChoice::System => "; is the service started (systemctl status pickupd)?",
        BusChoice::Session => "; start it with `pickupd --session`",
        BusChoice::Address(_) => "",
    };
    format!(
        "pickupd is not running: no one owns {} on {bus}{hint}",
        pickupd_api::BUS_NAME
    )
}

/// The error for a bus that cannot be reached at all.
pub fn no_bus(bus: &BusChoice, err: &zbus::Error) -> CliError {
    CliError::NotRunning(format!("cannot connect to {bus}: {err}"))
}

/// `25s`, `1.5s`, `250ms`.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::message::Message;

    /// A method error reply as zbus hands it to a client.
    fn method_error(name: &str, msg: &str) -> zbus::Error {
        let call = Message::method_call("/org/pickupd/Pickup1", "Reload")
            .expect("call builder")
            .sender(":1.1")
            .expect("sender")
            .destination(pickupd_api::BUS_NAME)
            .expect("destination")
            .build(&())
            .expect("call");
        let reply = Message::error(&call.header(), name)
            .expect("error builder")
            .build(&(msg,))
            .expect("reply");
        zbus::Error::MethodError(
            zbus::names::OwnedErrorName::try_from(name).expect("name"),
            Some(msg.to_owned()),
            reply,
        )
    }

    fn code(name: &str) -> u8 {
        from_zbus(
            &method_error(name, "some message"),
            &BusChoice::System,
            Duration::from_secs(25),
        )
        .exit_code()
    }

    #[test]
    fn api_errors_map_to_exit_codes() {
        assert_eq!(code("org.pickupd.Pickup1.Error.NotAuthorized"), 4);
        assert_eq!(code("org.pickupd.Pickup1.Error.InvalidAddress"), 10);
        for failed in [
            "InvalidGroupId",
            "NothingToPickUp",
            "OperationUnavailable",
            "InvalidCallState",
            "ResourceUnavailable",
            "OperationFailed",
        ] {
            assert_eq!(
                code(&format!("org.pickupd.Pickup1.Error.{failed}")),
                1,
                "{failed}"
            );
        }
    }

    #[test]
    fn bus_errors_map_to_exit_codes() {
        assert_eq!(code("org.freedesktop.DBus.Error.AccessDenied"), 4);
        assert_eq!(
            code("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"),
            4
        );
        assert_eq!(code("org.freedesktop.DBus.Error.ServiceUnknown"), 8);
        assert_eq!(code("org.freedesktop.DBus.Error.NameHasNoOwner"), 8);
        assert_eq!(code("org.freedesktop.DBus.Error.UnknownObject"), 10);
        assert_eq!(code("org.freedesktop.DBus.Error.NoReply"), 3);
        assert_eq!(code("org.freedesktop.DBus.Error.UnknownMethod"), 1);
        assert_eq!(code("com.example.Whatever"), 1);
    }

    #[test]
    fn api_message_is_kept() {
        let e = from_zbus(
            &method_error(
                "org.pickupd.Pickup1.Error.NothingToPickUp",
                "nothing is alerting at 204",
            ),
            &BusChoice::System,
            Duration::from_secs(25),
        );
        assert_eq!(e.to_string(), "nothing is alerting at 204");
        assert_eq!(
            e.dbus_name(),
            Some("org.pickupd.Pickup1.Error.NothingToPickUp")
        );
    }

    #[test]
    fn not_running_names_the_bus() {
        let e = from_zbus(
            &method_error("org.freedesktop.DBus.Error.ServiceUnknown", "x"),
            &BusChoice::Session,
            Duration::from_secs(25),
        );
        assert_eq!(e.exit_code(), 8);
        assert!(e.to_string().contains("session bus"), "{e}");
        assert!(e.to_string().contains("org.pickupd.Pickup1"), "{e}");
    }

    #[test]
    fn fdo_errors_are_classified_too() {
        let e = zbus::Error::FDO(Box::new(zbus::fdo::Error::ServiceUnknown("gone".into())));
        assert_eq!(
            from_zbus(&e, &BusChoice::System, Duration::from_secs(1)).exit_code(),
            8
        );
        let e = zbus::Error::FDO(Box::new(zbus::fdo::Error::AccessDenied("no".into())));
        let mapped = from_zbus(&e, &BusChoice::System, Duration::from_secs(1));
        assert_eq!(mapped.exit_code(), 4);
        assert_eq!(mapped.to_string(), "no");
        let e = zbus::Error::FDO(Box::new(zbus::fdo::Error::UnknownObject("none".into())));
        assert_eq!(
            from_zbus(&e, &BusChoice::System, Duration::from_secs(1)).exit_code(),
            10
        );
    }

    #[test]
    fn io_timeouts_are_timeouts() {
        let e = zbus::Error::InputOutput(std::sync::Arc::new(std::io::Error::from(
            std::io::ErrorKind::TimedOut,
        )));
        let mapped = from_zbus(&e, &BusChoice::System, Duration::from_millis(1500));
        assert_eq!(mapped.exit_code(), 3);
        assert!(mapped.to_string().contains("1.5s"), "{mapped}");
    }

    #[test]
    fn hints_keep_the_kind() {
        let e = CliError::NoSuchObject("no line named 'x'".into()).with_hint("lines are: a, b");
        assert_eq!(e.exit_code(), 10);
        assert_eq!(e.to_string(), "no line named 'x'; lines are: a, b");
    }

    #[test]
    fn durations() {
        assert_eq!(format_duration(Duration::from_secs(25)), "25s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }
}
