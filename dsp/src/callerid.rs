//! Caller-ID messages (signals.md §4): SDMF (type 0x04) and MDMF (type 0x80),
//! built and parsed. A message is type, length, payload, checksum; the
//! checksum is the two's complement of the byte sum, so all bytes including
//! it add to 0 mod 256.
//!
//! Text is carried as bytes; bytes are read as Latin-1 (every byte maps to
//! one `char`, so nothing is lost) and characters beyond U+00FF are sent as
//! `?`.

use std::fmt;

/// SDMF caller ID.
pub const TYPE_SDMF: u8 = 0x04;
/// MDMF caller ID.
pub const TYPE_MDMF: u8 = 0x80;
/// SDMF message waiting.
pub const TYPE_SDMF_MWI: u8 = 0x06;
/// MDMF message waiting.
pub const TYPE_MDMF_MWI: u8 = 0x82;

/// MDMF parameter types.
pub mod param {
    /// Date and time, MMDDHHMM.
    pub const DATETIME: u8 = 0x01;
    /// Calling number.
    pub const NUMBER: u8 = 0x02;
    /// Dialled number.
    pub const DIALLED: u8 = 0x03;
    /// Reason number absent (`O` unavailable, `P` private).
    pub const NUMBER_ABSENT: u8 = 0x04;
    /// Calling name.
    pub const NAME: u8 = 0x07;
    /// Reason name absent.
    pub const NAME_ABSENT: u8 = 0x08;
}

/// Decoded caller-ID information.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerId {
    /// MMDDHHMM.
    pub datetime: Option<String>,
    /// Calling number.
    pub number: Option<String>,
    /// Calling name.
    pub name: Option<String>,
    /// Why the number is absent: `O` unavailable, `P` private.
    pub number_absent: Option<char>,
    /// Why the name is absent: `O` unavailable, `P` private.
    pub name_absent: Option<char>,
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerIdError {
    /// The bytes do not add to 0 mod 256.
    BadChecksum,
    /// Fewer bytes than the length byte announces.
    Truncated,
    /// Not a caller-ID message type.
    UnknownType(u8),
    /// The payload does not follow the format.
    Malformed(&'static str),
}

impl fmt::Display for CallerIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadChecksum => write!(f, "caller-ID checksum mismatch"),
            Self::Truncated => write!(f, "caller-ID message truncated"),
            Self::UnknownType(t) => write!(f, "unknown caller-ID message type 0x{t:02X}"),
            Self::Malformed(why) => write!(f, "malformed caller-ID message: {why}"),
        }
    }
}

impl std::error::Error for CallerIdError {}

fn latin1(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
}

fn from_latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

fn absent_byte(c: Option<char>) -> u8 {
    match c {
        Some('P' | 'p') => b'P',
        _ => b'O',
    }
}

/// Close a message: length byte and checksum.
fn finish(msg_type: u8, mut payload: Vec<u8>) -> Vec<u8> {
    payload.truncate(255);
    let mut out = Vec::with_capacity(payload.len() + 3);
    out.push(msg_type);
    out.push(payload.len() as u8);
    out.extend_from_slice(&payload);
    let sum = out.iter().fold(0u8, |a, &b| a.wrapping_add(b));
    out.push(sum.wrapping_neg());
    out
}

/// Build an MDMF message: date/time (if any), number or its absence reason,
/// name or its absence reason. Fields are cut to fit 255 payload bytes.
pub fn encode_mdmf(id: &CallerId) -> Vec<u8> {
    let mut payload = Vec::new();
    let mut add = |t: u8, v: &mut dyn Iterator<Item = u8>| {
        let v: Vec<u8> = v.take(253usize.saturating_sub(payload.len())).collect();
        if payload.len() + 2 + v.len() <= 255 {
            payload.push(t);
            payload.push(v.len() as u8);
            payload.extend_from_slice(&v);
        }
    };
    if let Some(dt) = &id.datetime {
        add(param::DATETIME, &mut latin1(dt));
    }
    match (&id.number, id.number_absent) {
        (Some(n), _) => add(param::NUMBER, &mut latin1(n)),
        (None, r) => add(param::NUMBER_ABSENT, &mut std::iter::once(absent_byte(r))),
    }
    match (&id.name, id.name_absent) {
        (Some(n), _) => add(param::NAME, &mut latin1(n)),
        (None, Some(r)) => add(
            param::NAME_ABSENT,
            &mut std::iter::once(absent_byte(Some(r))),
        ),
        (None, None) => {}
    }
    finish(TYPE_MDMF, payload)
}

/// Build an SDMF message: eight date/time characters (`00000000` if none,
/// padded or cut to eight), then the number or `O`/`P`. SDMF carries no name.
pub fn encode_sdmf(id: &CallerId) -> Vec<u8> {
    let mut payload: Vec<u8> = id
        .datetime
        .as_deref()
        .map(|d| latin1(d).collect())
        .unwrap_or_default();
    payload.resize(8, b'0');
    match &id.number {
        Some(n) => payload.extend(latin1(n)),
        None => payload.push(absent_byte(id.number_absent)),
    }
    finish(TYPE_SDMF, payload)
}

/// True for the message types [`MessageAssembler`] collects.
pub fn is_message_type(b: u8) -> bool {
    matches!(b, TYPE_SDMF | TYPE_MDMF | TYPE_SDMF_MWI | TYPE_MDMF_MWI)
}

fn absent_char(v: &[u8]) -> Result<char, CallerIdError> {
    match v {
        [c @ (b'O' | b'P')] => Ok(char::from(*c)),
        _ => Err(CallerIdError::Malformed("absence reason is not O or P")),
    }
}

/// Decode a complete message (type, length, payload, checksum). Bytes after
/// the checksum are ignored.
pub fn parse(message: &[u8]) -> Result<CallerId, CallerIdError> {
    let (&msg_type, rest) = message.split_first().ok_or(CallerIdError::Truncated)?;
    let (&len, rest) = rest.split_first().ok_or(CallerIdError::Truncated)?;
    let len = usize::from(len);
    if rest.len() < len + 1 {
        return Err(CallerIdError::Truncated);
    }
    let whole = &message[..len + 3];
    if whole.iter().fold(0u8, |a, &b| a.wrapping_add(b)) != 0 {
        return Err(CallerIdError::BadChecksum);
    }
    let payload = &rest[..len];
    match msg_type {
        TYPE_SDMF => parse_sdmf(payload),
        TYPE_MDMF => parse_mdmf(payload),
        t => Err(CallerIdError::UnknownType(t)),
    }
}

fn parse_sdmf(p: &[u8]) -> Result<CallerId, CallerIdError> {
    if p.len() < 9 {
        return Err(CallerIdError::Malformed(
            "SDMF shorter than date/time + number",
        ));
    }
    let (dt, num) = p.split_at(8);
    if !dt.iter().all(u8::is_ascii_digit) {
        return Err(CallerIdError::Malformed("SDMF date/time is not 8 digits"));
    }
    let mut id = CallerId {
        datetime: Some(from_latin1(dt)),
        ..CallerId::default()
    };
    match absent_char(num) {
        Ok(c) => id.number_absent = Some(c),
        Err(_) => id.number = Some(from_latin1(num)),
    }
    Ok(id)
}

fn parse_mdmf(mut p: &[u8]) -> Result<CallerId, CallerIdError> {
    let mut id = CallerId::default();
    while !p.is_empty() {
        let [t, len, rest @ ..] = p else {
            return Err(CallerIdError::Malformed("MDMF parameter header cut short"));
        };
        let len = usize::from(*len);
        if rest.len() < len {
            return Err(CallerIdError::Malformed(
                "MDMF parameter overruns the message",
            ));
        }
        let (v, tail) = rest.split_at(len);
        p = tail;
        match *t {
            param::DATETIME => id.datetime = Some(from_latin1(v)),
            param::NUMBER => id.number = Some(from_latin1(v)),
            param::NUMBER_ABSENT => id.number_absent = Some(absent_char(v)?),
            param::NAME => id.name = Some(from_latin1(v)),
            param::NAME_ABSENT => id.name_absent = Some(absent_char(v)?),
            // Dialled number, redirection, qualifier, … are not needed.
            _ => {}
        }
    }
    Ok(id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AsmState {
    Seeking,
    Length,
    Body { need: usize },
}

/// Assembles a message from received bytes (type, length, payload,
/// checksum), skipping leading mark/noise bytes until a known type byte.
///
/// When a message fails its checksum, the bytes after its type byte are
/// searched again for a type byte, so one noise byte that happened to look
/// like a type does not hide the real message behind it (unless its bogus
/// length runs past the real message's end: call [`MessageAssembler::reset`]
/// when the FSK carrier drops). [`crate::fsk::FskReceiver`] only starts
/// characters after clean mark, so such noise bytes are rare.
#[derive(Debug, Clone)]
pub struct MessageAssembler {
    buf: [u8; 258],
    len: usize,
    state: AsmState,
}

impl Default for MessageAssembler {
    fn default() -> Self {
        Self::new()
    }
}

impl MessageAssembler {
    /// Empty assembler.
    pub fn new() -> Self {
        Self {
            buf: [0; 258],
            len: 0,
            state: AsmState::Seeking,
        }
    }

    /// Drop any partial message.
    pub fn reset(&mut self) {
        self.len = 0;
        self.state = AsmState::Seeking;
    }

    /// True while part of a message has been collected.
    pub fn in_message(&self) -> bool {
        self.state != AsmState::Seeking
    }

    /// Feed one received byte; returns the decoded message (or why it could
    /// not be decoded) when its checksum byte arrives.
    pub fn push(&mut self, byte: u8) -> Option<Result<CallerId, CallerIdError>> {
        match self.state {
            AsmState::Seeking => {
                if is_message_type(byte) {
                    self.buf[0] = byte;
                    self.len = 1;
                    self.state = AsmState::Length;
                }
                None
            }
            AsmState::Length => {
                self.buf[1] = byte;
                self.len = 2;
                self.state = AsmState::Body {
                    need: usize::from(byte) + 1,
                };
                None
            }
            AsmState::Body { need } => {
                self.buf[self.len] = byte;
                self.len += 1;
                if need > 1 {
                    self.state = AsmState::Body { need: need - 1 };
                    return None;
                }
                let result = parse(&self.buf[..self.len]);
                let len = self.len;
                self.reset();
                if result == Err(CallerIdError::BadChecksum) {
                    if let Some(found) = self.rescan(len) {
                        return Some(found);
                    }
                }
                Some(result)
            }
        }
    }

    /// Re-feed `buf[1..len]` after a checksum failure; a message completed
    /// inside it (a good one only) is returned.
    fn rescan(&mut self, len: usize) -> Option<Result<CallerId, CallerIdError>> {
        let saved = self.buf;
        let mut good = None;
        for &b in &saved[1..len] {
            if let Some(r) = self.push_plain(b) {
                if r.is_ok() {
                    good = Some(r);
                }
            }
        }
        good
    }

    /// [`MessageAssembler::push`] without the rescan (no recursion).
    fn push_plain(&mut self, byte: u8) -> Option<Result<CallerId, CallerIdError>> {
        match self.state {
            AsmState::Body { need: 1 } => {
                self.buf[self.len] = byte;
                self.len += 1;
                let r = parse(&self.buf[..self.len]);
                self.reset();
                Some(r)
            }
            _ => self.push(byte),
        }
    }
}
