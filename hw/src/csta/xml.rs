//! The ECMA-323 XML codec: [`Message`] ↔ UTF-8 XML documents
//! (hardware.md §5.4).
//!
//! Decoding is strict about the structure of what it knows and lenient about
//! everything else, because real switches add their own data:
//!
//! * the root element must be in a CSTA namespace (`…/ecma-323/csta/ed3`,
//!   `ed4` or `ed5`) and name a message of [`Message`];
//! * a known child element must appear at most once, required ones must be
//!   present, and choices must name exactly one alternative;
//! * elements the codec does not know, elements in other namespaces
//!   (Siemens' `privateData`, …) and all attributes are ignored;
//! * known children are matched in the root's namespace or in no namespace
//!   (some switches leave their children unqualified);
//! * values are trimmed of the surrounding whitespace of pretty-printed XML.
//!
//! Decoding never panics and bounds its memory (see [`MAX_MESSAGE_LEN`],
//! [`MAX_DEPTH`], [`MAX_ELEMENTS`]).
//!
//! Encoding writes a compact document with an XML declaration and the
//! namespace as the default namespace, children in ECMA-285 field order.

use super::dom::{self, is_xml_char, is_xml_space, Element};
use super::enums::{CstaError, EventCause, LocalConnectionState, PrivateDataError};
use super::model::*;

pub use super::dom::{MAX_DEPTH, MAX_ELEMENTS, MAX_MESSAGE_LEN};

/// The namespace prefix common to all editions of ECMA-323's CSTA schema.
const NS_BASE: &str = "http://www.ecma-international.org/standards/ecma-323/csta/";

/// An edition of ECMA-323, which decides the namespace of the documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Edition {
    /// Edition 3 (`…/csta/ed3`): Avaya DMCC, uaCSTA, Microsoft RCC. The
    /// default, since it is what most switches speak.
    #[default]
    Ed3,
    /// Edition 4 (`…/csta/ed4`).
    Ed4,
    /// Edition 5 (`…/csta/ed5`).
    Ed5,
}

impl Edition {
    /// The namespace URI of the edition.
    pub fn namespace(self) -> &'static str {
        match self {
            Edition::Ed3 => "http://www.ecma-international.org/standards/ecma-323/csta/ed3",
            Edition::Ed4 => "http://www.ecma-international.org/standards/ecma-323/csta/ed4",
            Edition::Ed5 => "http://www.ecma-international.org/standards/ecma-323/csta/ed5",
        }
    }

    /// The edition of a namespace URI, if it is a CSTA one.
    pub fn from_namespace(ns: &str) -> Option<Edition> {
        match ns.strip_prefix(NS_BASE)? {
            "ed3" => Some(Edition::Ed3),
            "ed4" => Some(Edition::Ed4),
            "ed5" => Some(Edition::Ed5),
            _ => None,
        }
    }
}

/// Why a document could not be decoded. Every variant means "this message
/// is unusable"; whether the link is still usable is the driver's call (a
/// framing error is what says the byte stream itself is lost).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The document is larger than [`MAX_MESSAGE_LEN`].
    #[error("CSTA message of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not UTF-8 (ECMA-323 messages always are).
    #[error("CSTA message is not UTF-8")]
    NotUtf8,
    /// The XML declaration names another encoding.
    #[error("CSTA message declares unsupported encoding {0:?}")]
    UnsupportedEncoding(String),
    /// The document is not well-formed XML.
    #[error("malformed XML: {0}")]
    Xml(String),
    /// A document type declaration (never used by CSTA; refused so that no
    /// entity definitions are ever processed).
    #[error("DOCTYPE is not allowed in a CSTA message")]
    DocType,
    /// A reference to an entity other than XML's five.
    #[error("unknown entity &{0};")]
    UnknownEntity(String),
    /// A character XML does not allow.
    #[error("character U+{0:04X} is not allowed in XML")]
    IllegalChar(u32),
    /// A name prefix without a namespace declaration.
    #[error("namespace prefix {0:?} is not declared")]
    UnboundPrefix(String),
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("elements nested deeper than {max}")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_ELEMENTS`] elements.
    #[error("more than {max} elements")]
    TooManyElements {
        /// The limit.
        max: usize,
    },
    /// No root element.
    #[error("document has no root element")]
    NoRoot,
    /// The root element is not in a CSTA namespace.
    #[error("root element is in namespace {0:?}, not an ECMA-323 CSTA namespace")]
    WrongNamespace(Option<String>),
    /// The root element is not a message this codec knows.
    #[error("unknown CSTA message <{0}>")]
    UnknownMessage(String),
    /// A required element is missing.
    #[error("<{parent}> lacks <{element}>")]
    Missing {
        /// The element that should contain it.
        parent: String,
        /// The missing element (or the alternatives of a choice).
        element: &'static str,
    },
    /// A known element appears more than once, or a choice has more than one
    /// alternative.
    #[error("<{parent}> has more than one <{element}>")]
    Duplicate {
        /// The containing element.
        parent: String,
        /// The repeated element.
        element: String,
    },
    /// An element's value is unusable (empty where a value is required).
    #[error("<{element}> has an invalid value {value:?}")]
    Invalid {
        /// The element.
        element: String,
        /// Its text.
        value: String,
    },
}

/// Decodes one XML document (of any supported edition) into a message.
pub fn decode(input: &[u8]) -> Result<Message, DecodeError> {
    decode_document(input).map(|(_, message)| message)
}

/// Decodes one XML document and tells which edition's namespace it used, so
/// that a peer can answer in the same edition.
pub fn decode_document(input: &[u8]) -> Result<(Edition, Message), DecodeError> {
    decode_element(&dom::parse(input)?)
}

/// Decodes an already parsed document (its root element); the session
/// codec ([`super::session::decode_any`]) parses once and dispatches on the
/// namespace.
pub(crate) fn decode_element(root: &Element) -> Result<(Edition, Message), DecodeError> {
    let edition = root
        .ns
        .as_deref()
        .and_then(Edition::from_namespace)
        .ok_or_else(|| DecodeError::WrongNamespace(root.ns.clone()))?;
    let view = View {
        el: root,
        ns: edition.namespace(),
    };
    Ok((edition, decode_root(view)?))
}

/// Encodes a message as an edition-3 document.
pub fn encode(message: &Message) -> Vec<u8> {
    encode_with(message, Edition::Ed3)
}

/// Encodes a message in the namespace of `edition`.
///
/// Text that XML cannot carry (control characters other than tab and line
/// breaks, U+FFFE, U+FFFF) is replaced by U+FFFD: CSTA identifiers never
/// contain such characters, and encoding stays infallible. Everything else,
/// including leading or trailing whitespace and carriage returns, is written
/// so that [`decode`] gives back the same message.
pub fn encode_with(message: &Message, edition: Edition) -> Vec<u8> {
    let mut w = Writer::default();
    w.out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let root = message.root_name();
    w.out.push('<');
    w.out.push_str(root);
    w.out.push_str(" xmlns=\"");
    w.out.push_str(edition.namespace());
    w.out.push_str("\">");
    encode_body(&mut w, message);
    w.close(root);
    w.out.into_bytes()
}

// ---------------------------------------------------------------------------
// Decoding

/// An element together with the namespace its known children must be in.
#[derive(Clone, Copy)]
struct View<'a> {
    el: &'a Element,
    ns: &'a str,
}

impl<'a> View<'a> {
    /// Whether `child` belongs to the CSTA vocabulary (same namespace as the
    /// root, or unqualified).
    fn ours(&self, child: &Element) -> bool {
        child.ns.as_deref().is_none_or(|ns| ns == self.ns)
    }

    /// The child named `name`, if present; more than one is an error.
    fn opt(&self, name: &'static str) -> Result<Option<View<'a>>, DecodeError> {
        let mut found = None;
        for child in &self.el.children {
            if child.name == name && self.ours(child) {
                if found.is_some() {
                    return Err(DecodeError::Duplicate {
                        parent: self.el.name.clone(),
                        element: name.to_owned(),
                    });
                }
                found = Some(View {
                    el: child,
                    ns: self.ns,
                });
            }
        }
        Ok(found)
    }

    /// The child named `name`, which must be present.
    fn req(&self, name: &'static str) -> Result<View<'a>, DecodeError> {
        self.opt(name)?.ok_or_else(|| DecodeError::Missing {
            parent: self.el.name.clone(),
            element: name,
        })
    }

    /// The one child among `names` (a CHOICE); `None` if there is none.
    fn choice(&self, names: &[&'static str]) -> Result<Option<View<'a>>, DecodeError> {
        let mut found: Option<View<'a>> = None;
        for child in &self.el.children {
            if names.contains(&child.name.as_str()) && self.ours(child) {
                if let Some(first) = found {
                    return Err(DecodeError::Duplicate {
                        parent: self.el.name.clone(),
                        element: format!("{} / {}", first.el.name, child.name),
                    });
                }
                found = Some(View {
                    el: child,
                    ns: self.ns,
                });
            }
        }
        Ok(found)
    }

    fn text(&self) -> &'a str {
        &self.el.text
    }

    /// The text, which must not be empty.
    fn nonempty(&self) -> Result<String, DecodeError> {
        if self.el.text.is_empty() {
            return Err(DecodeError::Invalid {
                element: self.el.name.clone(),
                value: String::new(),
            });
        }
        Ok(self.el.text.clone())
    }
}

fn device_id(v: View<'_>) -> Result<DeviceId, DecodeError> {
    v.nonempty().map(DeviceId)
}

fn cross_ref(v: View<'_>) -> Result<MonitorCrossRefId, DecodeError> {
    v.nonempty().map(MonitorCrossRefId)
}

fn opt_device_id(parent: View<'_>, name: &'static str) -> Result<Option<DeviceId>, DecodeError> {
    parent.opt(name)?.map(device_id).transpose()
}

/// A `ConnectionID`: `callID` and/or `deviceID`. An empty part counts as
/// absent; a `deviceID` may wrap its value in `staticID` or `dynamicID`
/// (the BER structure, which some XML encoders copy).
fn connection(v: View<'_>) -> Result<ConnectionId, DecodeError> {
    let call_id = v
        .opt("callID")?
        .map(|c| c.text())
        .filter(|t| !t.is_empty())
        .map(|t| CallId(t.to_owned()));
    let device_id = match v.opt("deviceID")? {
        None => None,
        Some(d) => {
            let text = match d.choice(&["staticID", "dynamicID"])? {
                Some(inner) => inner.text(),
                None => d.text(),
            };
            (!text.is_empty()).then(|| DeviceId(text.to_owned()))
        }
    };
    if call_id.is_none() && device_id.is_none() {
        return Err(DecodeError::Missing {
            parent: v.el.name.clone(),
            element: "callID or deviceID",
        });
    }
    Ok(ConnectionId { call_id, device_id })
}

fn req_connection(parent: View<'_>, name: &'static str) -> Result<ConnectionId, DecodeError> {
    connection(parent.req(name)?)
}

/// An event device field in any of the forms switches use (hardware.md
/// §5.4): a `deviceIdentifier` (or `numberDialed`) child, an empty
/// `notKnown`/`restricted`/`notRequired`/`notSpecified` child, or bare text.
/// An element with none of these says nothing about the device: `NotKnown`.
fn event_device(v: View<'_>) -> Result<EventDevice, DecodeError> {
    let alternatives = [
        "deviceIdentifier",
        "numberDialed",
        "numberdialed",
        "notKnown",
        "restricted",
        "notRequired",
        "notSpecified",
    ];
    Ok(match v.choice(&alternatives)? {
        Some(alt) => match alt.el.name.as_str() {
            "notKnown" => EventDevice::NotKnown,
            "restricted" => EventDevice::Restricted,
            "notRequired" => EventDevice::NotRequired,
            "notSpecified" => EventDevice::NotSpecified,
            _ if alt.text().is_empty() => EventDevice::NotKnown,
            _ => EventDevice::Known(DeviceId(alt.text().to_owned())),
        },
        None if v.text().is_empty() => EventDevice::NotKnown,
        None => EventDevice::Known(DeviceId(v.text().to_owned())),
    })
}

fn req_event_device(parent: View<'_>, name: &'static str) -> Result<EventDevice, DecodeError> {
    event_device(parent.req(name)?)
}

fn opt_event_device(
    parent: View<'_>,
    name: &'static str,
) -> Result<Option<EventDevice>, DecodeError> {
    parent.opt(name)?.map(event_device).transpose()
}

fn opt_cause(parent: View<'_>, name: &'static str) -> Result<Option<EventCause>, DecodeError> {
    parent
        .opt(name)?
        .map(|v| v.nonempty().map(|t| EventCause::from_name(&t)))
        .transpose()
}

fn opt_state(parent: View<'_>) -> Result<Option<LocalConnectionState>, DecodeError> {
    parent
        .opt("localConnectionInfo")?
        .map(|v| v.nonempty().map(|t| LocalConnectionState::from_name(&t)))
        .transpose()
}

fn decode_root(root: View<'_>) -> Result<Message, DecodeError> {
    let r = root;
    let request = |q: Request| Ok(Message::Request(q));
    let response = |q: Response| Ok(Message::Response(q));
    let event = |event: CallEvent| -> Result<Message, DecodeError> {
        Ok(Message::Event(EventReport {
            cross_ref: cross_ref(r.req("monitorCrossRefID")?)?,
            event,
        }))
    };
    match r.el.name.as_str() {
        "MonitorStart" => {
            let object = r.req("monitorObject")?;
            let monitor_object = match object.choice(&["deviceObject", "callObject"])? {
                Some(v) if v.el.name == "deviceObject" => MonitorObject::Device(device_id(v)?),
                Some(v) => MonitorObject::Call(connection(v)?),
                None => {
                    return Err(DecodeError::Missing {
                        parent: "monitorObject".into(),
                        element: "deviceObject or callObject",
                    })
                }
            };
            request(Request::MonitorStart { monitor_object })
        }
        "MonitorStop" => request(Request::MonitorStop {
            cross_ref: cross_ref(r.req("monitorCrossRefID")?)?,
        }),
        "MakeCall" => request(Request::MakeCall {
            calling_device: device_id(r.req("callingDevice")?)?,
            called_directory_number: device_id(r.req("calledDirectoryNumber")?)?,
        }),
        "AnswerCall" => request(Request::AnswerCall {
            call_to_be_answered: req_connection(r, "callToBeAnswered")?,
        }),
        "ClearConnection" => request(Request::ClearConnection {
            connection_to_be_cleared: req_connection(r, "connectionToBeCleared")?,
            reason: opt_cause(r, "reason")?,
        }),
        "HoldCall" => request(Request::HoldCall {
            call_to_be_held: req_connection(r, "callToBeHeld")?,
        }),
        "RetrieveCall" => request(Request::RetrieveCall {
            call_to_be_retrieved: req_connection(r, "callToBeRetrieved")?,
        }),
        "DirectedPickupCall" => request(Request::DirectedPickupCall {
            call_to_be_picked_up: req_connection(r, "callToBePickedUp")?,
            requesting_device: device_id(r.req("requestingDevice")?)?,
        }),
        "GroupPickupCall" => request(Request::GroupPickupCall {
            new_destination: device_id(r.req("newDestination")?)?,
            pick_group: opt_device_id(r, "pickGroup")?,
        }),

        "MonitorStartResponse" => response(Response::MonitorStart {
            cross_ref: cross_ref(r.req("monitorCrossRefID")?)?,
        }),
        "MonitorStopResponse" => response(Response::MonitorStop),
        "MakeCallResponse" => response(Response::MakeCall {
            calling_device: req_connection(r, "callingDevice")?,
        }),
        "AnswerCallResponse" => response(Response::AnswerCall),
        "ClearConnectionResponse" => response(Response::ClearConnection),
        "HoldCallResponse" => response(Response::HoldCall),
        "RetrieveCallResponse" => response(Response::RetrieveCall),
        "DirectedPickupCallResponse" => response(Response::DirectedPickupCall {
            picked_call: r.opt("pickedCall")?.map(connection).transpose()?,
        }),
        "GroupPickupCallResponse" => response(Response::GroupPickupCall {
            picked_call: r.opt("pickedCall")?.map(connection).transpose()?,
        }),

        "CSTAErrorCode" => {
            let categories = [
                "operation",
                "security",
                "stateIncompatibility",
                "systemResourceAvailability",
                "subscribedResourceAvailability",
                "performanceManagement",
                "privateData",
                "unspecified",
            ];
            let category = r.choice(&categories)?.ok_or(DecodeError::Missing {
                parent: "CSTAErrorCode".into(),
                element: "an error category",
            })?;
            let value = match category.el.name.as_str() {
                "unspecified" => String::new(),
                // ECMA-285 has a single private-data error; switches that
                // put their private structure inside instead of the
                // identifier still mean that one.
                "privateData" if category.text().is_empty() => {
                    PrivateDataError::CSTAPrivateDataInfoError
                        .as_str()
                        .to_owned()
                }
                _ => category.nonempty()?,
            };
            let error = CstaError::from_parts(&category.el.name, &value).ok_or_else(|| {
                DecodeError::UnknownMessage(format!("CSTAErrorCode/{}", category.el.name))
            })?;
            Ok(Message::Error(error))
        }

        "DeliveredEvent" => event(CallEvent::Delivered(Delivered {
            connection: req_connection(r, "connection")?,
            alerting_device: req_event_device(r, "alertingDevice")?,
            calling_device: opt_event_device(r, "callingDevice")?,
            called_device: opt_event_device(r, "calledDevice")?,
            last_redirection_device: opt_event_device(r, "lastRedirectionDevice")?,
            local_connection_info: opt_state(r)?,
            cause: opt_cause(r, "cause")?,
        })),
        "EstablishedEvent" => event(CallEvent::Established(Established {
            established_connection: req_connection(r, "establishedConnection")?,
            answering_device: req_event_device(r, "answeringDevice")?,
            calling_device: opt_event_device(r, "callingDevice")?,
            called_device: opt_event_device(r, "calledDevice")?,
            last_redirection_device: opt_event_device(r, "lastRedirectionDevice")?,
            local_connection_info: opt_state(r)?,
            cause: opt_cause(r, "cause")?,
        })),
        "HeldEvent" => event(CallEvent::Held(Held {
            held_connection: req_connection(r, "heldConnection")?,
            holding_device: req_event_device(r, "holdingDevice")?,
            local_connection_info: opt_state(r)?,
            cause: opt_cause(r, "cause")?,
        })),
        "RetrievedEvent" => event(CallEvent::Retrieved(Retrieved {
            retrieved_connection: req_connection(r, "retrievedConnection")?,
            retrieving_device: req_event_device(r, "retrievingDevice")?,
            local_connection_info: opt_state(r)?,
            cause: opt_cause(r, "cause")?,
        })),
        "DivertedEvent" => event(CallEvent::Diverted(Diverted {
            connection: req_connection(r, "connection")?,
            diverting_device: req_event_device(r, "divertingDevice")?,
            new_destination: req_event_device(r, "newDestination")?,
            calling_device: opt_event_device(r, "callingDevice")?,
            called_device: opt_event_device(r, "calledDevice")?,
            last_redirection_device: opt_event_device(r, "lastRedirectionDevice")?,
            local_connection_info: opt_state(r)?,
            cause: opt_cause(r, "cause")?,
        })),
        "ConnectionClearedEvent" => event(CallEvent::ConnectionCleared(ConnectionCleared {
            dropped_connection: req_connection(r, "droppedConnection")?,
            releasing_device: req_event_device(r, "releasingDevice")?,
            local_connection_info: opt_state(r)?,
            cause: opt_cause(r, "cause")?,
        })),
        "OriginatedEvent" => event(CallEvent::Originated(Originated {
            originated_connection: req_connection(r, "originatedConnection")?,
            calling_device: req_event_device(r, "callingDevice")?,
            called_device: opt_event_device(r, "calledDevice")?,
            local_connection_info: opt_state(r)?,
            cause: opt_cause(r, "cause")?,
        })),
        "FailedEvent" => event(CallEvent::Failed(Failed {
            failed_connection: req_connection(r, "failedConnection")?,
            failing_device: req_event_device(r, "failingDevice")?,
            called_device: opt_event_device(r, "calledDevice")?,
            calling_device: opt_event_device(r, "callingDevice")?,
            last_redirection_device: opt_event_device(r, "lastRedirectionDevice")?,
            local_connection_info: opt_state(r)?,
            cause: opt_cause(r, "cause")?,
        })),
        other => Err(DecodeError::UnknownMessage(other.to_owned())),
    }
}

// ---------------------------------------------------------------------------
// Encoding

/// Appends elements to a string. Element names are the codec's own
/// constants, so only text needs escaping.
#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn empty(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str("/>");
    }

    fn leaf(&mut self, name: &str, value: &str) {
        self.open(name);
        escape_into(&mut self.out, value);
        self.close(name);
    }

    fn connection(&mut self, name: &str, c: &ConnectionId) {
        self.open(name);
        if let Some(call) = &c.call_id {
            self.leaf("callID", &call.0);
        }
        if let Some(device) = &c.device_id {
            self.leaf("deviceID", &device.0);
        }
        self.close(name);
    }

    fn event_device(&mut self, name: &str, d: &EventDevice) {
        self.open(name);
        match d {
            EventDevice::Known(id) => self.leaf("deviceIdentifier", &id.0),
            EventDevice::NotKnown => self.empty("notKnown"),
            EventDevice::Restricted => self.empty("restricted"),
            EventDevice::NotRequired => self.empty("notRequired"),
            EventDevice::NotSpecified => self.empty("notSpecified"),
        }
        self.close(name);
    }

    fn opt_event_device(&mut self, name: &str, d: &Option<EventDevice>) {
        if let Some(d) = d {
            self.event_device(name, d);
        }
    }

    fn tail(&mut self, state: &Option<LocalConnectionState>, cause: &Option<EventCause>) {
        if let Some(state) = state {
            self.leaf("localConnectionInfo", state.as_str());
        }
        if let Some(cause) = cause {
            self.leaf("cause", cause.as_str());
        }
    }
}

/// Escapes text content so that the decoder reads back exactly `value`:
/// markup characters as entities, carriage returns (which XML would
/// normalise) and whitespace at either end (which the decoder trims) as
/// character references, and characters XML forbids as U+FFFD.
pub(crate) fn escape_into(out: &mut String, value: &str) {
    let first = value
        .find(|c: char| !is_xml_space(c))
        .unwrap_or(value.len());
    let last = value.rfind(|c: char| !is_xml_space(c)).map_or(first, |i| {
        i + value[i..].chars().next().map_or(1, char::len_utf8)
    });
    for (i, c) in value.char_indices() {
        let edge = i < first || i >= last;
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            ' ' | '\t' | '\n' if edge => {
                out.push_str("&#x");
                out.push_str(&format!("{:X}", c as u32));
                out.push(';');
            }
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

fn encode_body(w: &mut Writer, message: &Message) {
    match message {
        Message::Request(request) => match request {
            Request::MonitorStart { monitor_object } => {
                w.open("monitorObject");
                match monitor_object {
                    MonitorObject::Device(d) => w.leaf("deviceObject", &d.0),
                    MonitorObject::Call(c) => w.connection("callObject", c),
                }
                w.close("monitorObject");
            }
            Request::MonitorStop { cross_ref } => w.leaf("monitorCrossRefID", &cross_ref.0),
            Request::MakeCall {
                calling_device,
                called_directory_number,
            } => {
                w.leaf("callingDevice", &calling_device.0);
                w.leaf("calledDirectoryNumber", &called_directory_number.0);
            }
            Request::AnswerCall {
                call_to_be_answered,
            } => w.connection("callToBeAnswered", call_to_be_answered),
            Request::ClearConnection {
                connection_to_be_cleared,
                reason,
            } => {
                w.connection("connectionToBeCleared", connection_to_be_cleared);
                if let Some(reason) = reason {
                    w.leaf("reason", reason.as_str());
                }
            }
            Request::HoldCall { call_to_be_held } => w.connection("callToBeHeld", call_to_be_held),
            Request::RetrieveCall {
                call_to_be_retrieved,
            } => w.connection("callToBeRetrieved", call_to_be_retrieved),
            Request::DirectedPickupCall {
                call_to_be_picked_up,
                requesting_device,
            } => {
                w.connection("callToBePickedUp", call_to_be_picked_up);
                w.leaf("requestingDevice", &requesting_device.0);
            }
            Request::GroupPickupCall {
                new_destination,
                pick_group,
            } => {
                w.leaf("newDestination", &new_destination.0);
                if let Some(group) = pick_group {
                    w.leaf("pickGroup", &group.0);
                }
            }
        },
        Message::Response(response) => match response {
            Response::MonitorStart { cross_ref } => w.leaf("monitorCrossRefID", &cross_ref.0),
            Response::MakeCall { calling_device } => w.connection("callingDevice", calling_device),
            Response::DirectedPickupCall { picked_call }
            | Response::GroupPickupCall { picked_call } => {
                if let Some(c) = picked_call {
                    w.connection("pickedCall", c);
                }
            }
            Response::MonitorStop
            | Response::AnswerCall
            | Response::ClearConnection
            | Response::HoldCall
            | Response::RetrieveCall => {}
        },
        Message::Error(error) => match error {
            CstaError::Unspecified => w.empty("unspecified"),
            other => w.leaf(other.category(), other.value()),
        },
        Message::Event(report) => {
            w.leaf("monitorCrossRefID", &report.cross_ref.0);
            match &report.event {
                CallEvent::Delivered(e) => {
                    w.connection("connection", &e.connection);
                    w.event_device("alertingDevice", &e.alerting_device);
                    w.opt_event_device("callingDevice", &e.calling_device);
                    w.opt_event_device("calledDevice", &e.called_device);
                    w.opt_event_device("lastRedirectionDevice", &e.last_redirection_device);
                    w.tail(&e.local_connection_info, &e.cause);
                }
                CallEvent::Established(e) => {
                    w.connection("establishedConnection", &e.established_connection);
                    w.event_device("answeringDevice", &e.answering_device);
                    w.opt_event_device("callingDevice", &e.calling_device);
                    w.opt_event_device("calledDevice", &e.called_device);
                    w.opt_event_device("lastRedirectionDevice", &e.last_redirection_device);
                    w.tail(&e.local_connection_info, &e.cause);
                }
                CallEvent::Held(e) => {
                    w.connection("heldConnection", &e.held_connection);
                    w.event_device("holdingDevice", &e.holding_device);
                    w.tail(&e.local_connection_info, &e.cause);
                }
                CallEvent::Retrieved(e) => {
                    w.connection("retrievedConnection", &e.retrieved_connection);
                    w.event_device("retrievingDevice", &e.retrieving_device);
                    w.tail(&e.local_connection_info, &e.cause);
                }
                CallEvent::Diverted(e) => {
                    w.connection("connection", &e.connection);
                    w.event_device("divertingDevice", &e.diverting_device);
                    w.event_device("newDestination", &e.new_destination);
                    w.opt_event_device("callingDevice", &e.calling_device);
                    w.opt_event_device("calledDevice", &e.called_device);
                    w.opt_event_device("lastRedirectionDevice", &e.last_redirection_device);
                    w.tail(&e.local_connection_info, &e.cause);
                }
                CallEvent::ConnectionCleared(e) => {
                    w.connection("droppedConnection", &e.dropped_connection);
                    w.event_device("releasingDevice", &e.releasing_device);
                    w.tail(&e.local_connection_info, &e.cause);
                }
                CallEvent::Originated(e) => {
                    w.connection("originatedConnection", &e.originated_connection);
                    w.event_device("callingDevice", &e.calling_device);
                    w.opt_event_device("calledDevice", &e.called_device);
                    w.tail(&e.local_connection_info, &e.cause);
                }
                CallEvent::Failed(e) => {
                    w.connection("failedConnection", &e.failed_connection);
                    w.event_device("failingDevice", &e.failing_device);
                    w.opt_event_device("calledDevice", &e.called_device);
                    w.opt_event_device("callingDevice", &e.calling_device);
                    w.opt_event_device("lastRedirectionDevice", &e.last_redirection_device);
                    w.tail(&e.local_connection_info, &e.cause);
                }
            }
        }
    }
}
