//! Application sessions (ECMA-354 `appl_session`), which an Avaya DMCC
//! link opens before any CSTA service and keeps alive (hardware.md §5.5):
//! `StartApplicationSession` → `StartApplicationSessionPosResponse` (the
//! session id and the session duration the server granted), then a
//! `ResetApplicationSessionTimer` before each duration runs out, and
//! `StopApplicationSession` at the end. A server whose timer expires ends the
//! session and every monitor of it.
//!
//! These messages are not ECMA-323 CSTA: their root is in the namespace
//! [`NAMESPACE`], so [`super::decode`] refuses them
//! ([`DecodeError::WrongNamespace`]). A link that may carry both decodes
//! with [`decode_any`], which parses once and dispatches on the namespace.
//!
//! Only the fields a client and the emulated key system act on are
//! modelled; vendor data (Avaya's `applicationSpecificInfo` login, …) and
//! unknown elements are skipped when decoding, like in the CSTA codec.
//!
//! ```
//! use pickupd_hw::csta::session::*;
//!
//! let start = SessionMessage::StartApplicationSession {
//!     application_id: "pickupd".into(),
//!     protocol_versions: vec![PROTOCOL_ED3.into()],
//!     requested_session_duration: Some(180),
//! };
//! let xml = encode_session(&start);
//! assert_eq!(decode_any(&xml), Ok(Inbound::Session(start)));
//! ```

use super::dom::{self, Element};
use super::xml::{decode_element, escape_into};
use super::{DecodeError, Edition, Message};

/// The namespace of ECMA-354 application-session messages.
pub const NAMESPACE: &str = "http://www.ecma-international.org/standards/ecma-354/appl_session";

/// The protocol version naming plain ECMA-323 edition 3 (Avaya appends
/// `/privN` for its private-data versions).
pub const PROTOCOL_ED3: &str = "http://www.ecma-international.org/standards/ecma-323/csta/ed3";

/// An application-session message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SessionMessage {
    /// Opens a session (client → server).
    StartApplicationSession {
        /// `applicationInfo/applicationID`.
        application_id: String,
        /// `requestedProtocolVersions/protocolVersion`, in order of
        /// preference.
        protocol_versions: Vec<String>,
        /// `requestedSessionDuration`, seconds.
        requested_session_duration: Option<u32>,
    },
    /// The session is open.
    StartApplicationSessionPosResponse {
        /// `sessionID`.
        session_id: String,
        /// `actualProtocolVersion`.
        actual_protocol_version: Option<String>,
        /// `actualSessionDuration`, seconds: reset the timer before it
        /// runs out.
        actual_session_duration: Option<u32>,
    },
    /// The server refused to open a session.
    StartApplicationSessionNegResponse {
        /// `errorCode` (e.g. `invalidApplicationInfo`).
        error_code: String,
    },
    /// Restarts the session timer (client → server, the keep-alive).
    ResetApplicationSessionTimer {
        /// `sessionID`.
        session_id: String,
        /// `requestedSessionDuration`, seconds.
        requested_session_duration: Option<u32>,
    },
    /// The timer was restarted.
    ResetApplicationSessionTimerPosResponse {
        /// `actualSessionDuration`, seconds.
        actual_session_duration: Option<u32>,
    },
    /// The timer could not be restarted (e.g. `invalidSessionID`: the
    /// session already ended).
    ResetApplicationSessionTimerNegResponse {
        /// `errorCode`.
        error_code: String,
    },
    /// Ends the session (either side).
    StopApplicationSession {
        /// `sessionID`.
        session_id: String,
        /// `sessionEndReason/definedEndReason` (e.g. `normal`).
        end_reason: Option<String>,
    },
    /// The session ended.
    StopApplicationSessionPosResponse,
    /// The session could not be ended.
    StopApplicationSessionNegResponse {
        /// `errorCode`.
        error_code: String,
    },
}

impl SessionMessage {
    /// The XML root element name of the message.
    pub fn root_name(&self) -> &'static str {
        match self {
            SessionMessage::StartApplicationSession { .. } => "StartApplicationSession",
            SessionMessage::StartApplicationSessionPosResponse { .. } => {
                "StartApplicationSessionPosResponse"
            }
            SessionMessage::StartApplicationSessionNegResponse { .. } => {
                "StartApplicationSessionNegResponse"
            }
            SessionMessage::ResetApplicationSessionTimer { .. } => "ResetApplicationSessionTimer",
            SessionMessage::ResetApplicationSessionTimerPosResponse { .. } => {
                "ResetApplicationSessionTimerPosResponse"
            }
            SessionMessage::ResetApplicationSessionTimerNegResponse { .. } => {
                "ResetApplicationSessionTimerNegResponse"
            }
            SessionMessage::StopApplicationSession { .. } => "StopApplicationSession",
            SessionMessage::StopApplicationSessionPosResponse => {
                "StopApplicationSessionPosResponse"
            }
            SessionMessage::StopApplicationSessionNegResponse { .. } => {
                "StopApplicationSessionNegResponse"
            }
        }
    }

    /// Whether this is a request (as opposed to a response).
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            SessionMessage::StartApplicationSession { .. }
                | SessionMessage::ResetApplicationSessionTimer { .. }
                | SessionMessage::StopApplicationSession { .. }
        )
    }
}

/// A decoded document of either kind a DMCC link carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Inbound {
    /// An ECMA-323 CSTA message, with the edition of its namespace.
    Csta(Edition, Message),
    /// An ECMA-354 application-session message.
    Session(SessionMessage),
}

/// Decodes one document that is either a CSTA message (any supported
/// edition) or an application-session message. The limits and leniency of
/// [`super::decode`] apply to both.
pub fn decode_any(input: &[u8]) -> Result<Inbound, DecodeError> {
    let root = dom::parse(input)?;
    if root.ns.as_deref() == Some(NAMESPACE) {
        decode_session_root(&root).map(Inbound::Session)
    } else {
        decode_element(&root).map(|(edition, message)| Inbound::Csta(edition, message))
    }
}

/// Decodes one application-session document.
pub fn decode_session(input: &[u8]) -> Result<SessionMessage, DecodeError> {
    let root = dom::parse(input)?;
    if root.ns.as_deref() != Some(NAMESPACE) {
        return Err(DecodeError::WrongNamespace(root.ns.clone()));
    }
    decode_session_root(&root)
}

/// The children of `el` named `name` in the session namespace or in none.
fn children<'a>(el: &'a Element, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
    el.children
        .iter()
        .filter(move |c| c.name == name && c.ns.as_deref().is_none_or(|ns| ns == NAMESPACE))
}

fn opt<'a>(el: &'a Element, name: &'static str) -> Result<Option<&'a Element>, DecodeError> {
    let mut found = children(el, name);
    let first = found.next();
    if found.next().is_some() {
        return Err(DecodeError::Duplicate {
            parent: el.name.clone(),
            element: name.to_owned(),
        });
    }
    Ok(first)
}

fn req<'a>(el: &'a Element, name: &'static str) -> Result<&'a Element, DecodeError> {
    opt(el, name)?.ok_or_else(|| DecodeError::Missing {
        parent: el.name.clone(),
        element: name,
    })
}

fn nonempty(el: &Element) -> Result<String, DecodeError> {
    if el.text.is_empty() {
        return Err(DecodeError::Invalid {
            element: el.name.clone(),
            value: String::new(),
        });
    }
    Ok(el.text.clone())
}

fn opt_text(el: &Element, name: &'static str) -> Result<Option<String>, DecodeError> {
    opt(el, name)?.map(nonempty).transpose()
}

fn opt_seconds(el: &Element, name: &'static str) -> Result<Option<u32>, DecodeError> {
    opt(el, name)?
        .map(|v| {
            v.text.parse::<u32>().map_err(|_| DecodeError::Invalid {
                element: v.name.clone(),
                value: v.text.clone(),
            })
        })
        .transpose()
}

/// `errorCode`: a CHOICE (`definedError`, an implementation-specific
/// code …); the chosen alternative's text, or the element's own text.
fn error_code(root: &Element) -> Result<String, DecodeError> {
    let code = req(root, "errorCode")?;
    let text = code
        .children
        .iter()
        .find(|c| !c.text.is_empty())
        .map(|c| c.text.clone())
        .unwrap_or_else(|| code.text.clone());
    if text.is_empty() {
        return Err(DecodeError::Invalid {
            element: "errorCode".into(),
            value: String::new(),
        });
    }
    Ok(text)
}

fn decode_session_root(root: &Element) -> Result<SessionMessage, DecodeError> {
    Ok(match root.name.as_str() {
        "StartApplicationSession" => {
            let info = req(root, "applicationInfo")?;
            let application_id = nonempty(req(info, "applicationID")?)?;
            let protocol_versions = match opt(root, "requestedProtocolVersions")? {
                Some(v) => children(v, "protocolVersion")
                    .filter(|p| !p.text.is_empty())
                    .map(|p| p.text.clone())
                    .collect(),
                None => Vec::new(),
            };
            SessionMessage::StartApplicationSession {
                application_id,
                protocol_versions,
                requested_session_duration: opt_seconds(root, "requestedSessionDuration")?,
            }
        }
        "StartApplicationSessionPosResponse" => {
            SessionMessage::StartApplicationSessionPosResponse {
                session_id: nonempty(req(root, "sessionID")?)?,
                actual_protocol_version: opt_text(root, "actualProtocolVersion")?,
                actual_session_duration: opt_seconds(root, "actualSessionDuration")?,
            }
        }
        "StartApplicationSessionNegResponse" => {
            SessionMessage::StartApplicationSessionNegResponse {
                error_code: error_code(root)?,
            }
        }
        "ResetApplicationSessionTimer" => SessionMessage::ResetApplicationSessionTimer {
            session_id: nonempty(req(root, "sessionID")?)?,
            requested_session_duration: opt_seconds(root, "requestedSessionDuration")?,
        },
        "ResetApplicationSessionTimerPosResponse" => {
            SessionMessage::ResetApplicationSessionTimerPosResponse {
                actual_session_duration: opt_seconds(root, "actualSessionDuration")?,
            }
        }
        "ResetApplicationSessionTimerNegResponse" => {
            SessionMessage::ResetApplicationSessionTimerNegResponse {
                error_code: error_code(root)?,
            }
        }
        "StopApplicationSession" => SessionMessage::StopApplicationSession {
            session_id: nonempty(req(root, "sessionID")?)?,
            end_reason: match opt(root, "sessionEndReason")? {
                Some(r) => r
                    .children
                    .iter()
                    .find(|c| !c.text.is_empty())
                    .map(|c| c.text.clone())
                    .or_else(|| (!r.text.is_empty()).then(|| r.text.clone())),
                None => None,
            },
        },
        "StopApplicationSessionPosResponse" => SessionMessage::StopApplicationSessionPosResponse,
        "StopApplicationSessionNegResponse" => SessionMessage::StopApplicationSessionNegResponse {
            error_code: error_code(root)?,
        },
        other => return Err(DecodeError::UnknownMessage(other.to_owned())),
    })
}

/// Appends `<name>value</name>`.
fn leaf(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_into(out, value);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn error_code_into(out: &mut String, code: &str) {
    out.push_str("<errorCode>");
    leaf(out, "definedError", code);
    out.push_str("</errorCode>");
}

/// Encodes an application-session message (UTF-8 XML, the session
/// namespace as the default namespace).
pub fn encode_session(message: &SessionMessage) -> Vec<u8> {
    let root = message.root_name();
    let mut out = String::new();
    out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    out.push('<');
    out.push_str(root);
    out.push_str(" xmlns=\"");
    out.push_str(NAMESPACE);
    out.push_str("\">");
    match message {
        SessionMessage::StartApplicationSession {
            application_id,
            protocol_versions,
            requested_session_duration,
        } => {
            out.push_str("<applicationInfo>");
            leaf(&mut out, "applicationID", application_id);
            out.push_str("</applicationInfo>");
            if !protocol_versions.is_empty() {
                out.push_str("<requestedProtocolVersions>");
                for v in protocol_versions {
                    leaf(&mut out, "protocolVersion", v);
                }
                out.push_str("</requestedProtocolVersions>");
            }
            if let Some(d) = requested_session_duration {
                leaf(&mut out, "requestedSessionDuration", &d.to_string());
            }
        }
        SessionMessage::StartApplicationSessionPosResponse {
            session_id,
            actual_protocol_version,
            actual_session_duration,
        } => {
            leaf(&mut out, "sessionID", session_id);
            if let Some(v) = actual_protocol_version {
                leaf(&mut out, "actualProtocolVersion", v);
            }
            if let Some(d) = actual_session_duration {
                leaf(&mut out, "actualSessionDuration", &d.to_string());
            }
        }
        SessionMessage::ResetApplicationSessionTimer {
            session_id,
            requested_session_duration,
        } => {
            leaf(&mut out, "sessionID", session_id);
            if let Some(d) = requested_session_duration {
                leaf(&mut out, "requestedSessionDuration", &d.to_string());
            }
        }
        SessionMessage::ResetApplicationSessionTimerPosResponse {
            actual_session_duration,
        } => {
            if let Some(d) = actual_session_duration {
                leaf(&mut out, "actualSessionDuration", &d.to_string());
            }
        }
        SessionMessage::StopApplicationSession {
            session_id,
            end_reason,
        } => {
            leaf(&mut out, "sessionID", session_id);
            if let Some(r) = end_reason {
                out.push_str("<sessionEndReason>");
                leaf(&mut out, "definedEndReason", r);
                out.push_str("</sessionEndReason>");
            }
        }
        SessionMessage::StartApplicationSessionNegResponse { error_code }
        | SessionMessage::ResetApplicationSessionTimerNegResponse { error_code }
        | SessionMessage::StopApplicationSessionNegResponse { error_code } => {
            error_code_into(&mut out, error_code);
        }
        SessionMessage::StopApplicationSessionPosResponse => {}
    }
    out.push_str("</");
    out.push_str(root);
    out.push('>');
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csta::{encode, Request, Response};

    fn all() -> Vec<SessionMessage> {
        vec![
            SessionMessage::StartApplicationSession {
                application_id: "pickupd <1>".into(),
                protocol_versions: vec![PROTOCOL_ED3.into(), format!("{PROTOCOL_ED3}/priv2")],
                requested_session_duration: Some(180),
            },
            SessionMessage::StartApplicationSession {
                application_id: "x".into(),
                protocol_versions: vec![],
                requested_session_duration: None,
            },
            SessionMessage::StartApplicationSessionPosResponse {
                session_id: "7A3F".into(),
                actual_protocol_version: Some(PROTOCOL_ED3.into()),
                actual_session_duration: Some(60),
            },
            SessionMessage::StartApplicationSessionNegResponse {
                error_code: "invalidApplicationInfo".into(),
            },
            SessionMessage::ResetApplicationSessionTimer {
                session_id: "7A3F".into(),
                requested_session_duration: Some(60),
            },
            SessionMessage::ResetApplicationSessionTimerPosResponse {
                actual_session_duration: Some(60),
            },
            SessionMessage::ResetApplicationSessionTimerNegResponse {
                error_code: "invalidSessionID".into(),
            },
            SessionMessage::StopApplicationSession {
                session_id: "7A3F".into(),
                end_reason: Some("normal".into()),
            },
            SessionMessage::StopApplicationSessionPosResponse,
            SessionMessage::StopApplicationSessionNegResponse {
                error_code: "invalidSessionID".into(),
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for m in all() {
            let xml = encode_session(&m);
            assert_eq!(decode_session(&xml), Ok(m.clone()), "{}", m.root_name());
            assert_eq!(decode_any(&xml), Ok(Inbound::Session(m)));
        }
    }

    #[test]
    fn decode_any_passes_csta_through() {
        let m = Message::Response(Response::HoldCall);
        assert_eq!(
            decode_any(&encode(&m)),
            Ok(Inbound::Csta(Edition::Ed3, m.clone()))
        );
        let r = Message::Request(Request::GroupPickupCall {
            new_destination: crate::csta::DeviceId::new("201"),
            pick_group: None,
        });
        assert!(matches!(decode_any(&encode(&r)), Ok(Inbound::Csta(_, _))));
        assert!(matches!(
            decode_session(&encode(&m)),
            Err(DecodeError::WrongNamespace(_))
        ));
        assert!(matches!(
            decode_any(b"<x/>"),
            Err(DecodeError::WrongNamespace(None))
        ));
    }

    #[test]
    fn avaya_shaped_start_is_understood() {
        // As DMCC clients write it: a vendor login inside
        // applicationSpecificInfo, extra namespaces, pretty-printed.
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<StartApplicationSession xmlns="http://www.ecma-international.org/standards/ecma-354/appl_session"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:acx="http://www.avaya.com/csta">
  <applicationInfo>
    <applicationID>TestApp</applicationID>
    <applicationSpecificInfo>
      <acx:SessionLoginInfo xsi:type="acx:SessionLoginInfo">
        <acx:userName>u</acx:userName>
        <acx:password>p</acx:password>
      </acx:SessionLoginInfo>
    </applicationSpecificInfo>
  </applicationInfo>
  <requestedProtocolVersions>
    <protocolVersion>http://www.ecma-international.org/standards/ecma-323/csta/ed3/priv6</protocolVersion>
  </requestedProtocolVersions>
  <requestedSessionDuration>180</requestedSessionDuration>
</StartApplicationSession>"#;
        assert_eq!(
            decode_session(xml),
            Ok(SessionMessage::StartApplicationSession {
                application_id: "TestApp".into(),
                protocol_versions: vec![format!("{PROTOCOL_ED3}/priv6")],
                requested_session_duration: Some(180),
            })
        );
    }

    #[test]
    fn malformed_session_messages_are_errors() {
        let ns = NAMESPACE;
        let bad_duration = format!(
            "<ResetApplicationSessionTimer xmlns=\"{ns}\"><sessionID>1</sessionID>\
             <requestedSessionDuration>soon</requestedSessionDuration></ResetApplicationSessionTimer>"
        );
        assert!(matches!(
            decode_session(bad_duration.as_bytes()),
            Err(DecodeError::Invalid { .. })
        ));
        let no_id = format!("<StartApplicationSessionPosResponse xmlns=\"{ns}\"/>");
        assert!(matches!(
            decode_session(no_id.as_bytes()),
            Err(DecodeError::Missing { .. })
        ));
        let unknown = format!("<SessionTerminated xmlns=\"{ns}\"/>");
        assert_eq!(
            decode_any(unknown.as_bytes()),
            Err(DecodeError::UnknownMessage("SessionTerminated".into()))
        );
    }
}
