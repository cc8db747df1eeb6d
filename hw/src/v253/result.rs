//! Result and information lines of the modem's command state (hardware.md
//! §3.1, §3.2, §3.6, §3.8).
//!
//! Classification is a pure function of one line so the stream parser, the
//! emulated modem and the tests agree on it; anything not recognised stays an
//! [`ResultLine::Info`] with its text, never an error, because modems add
//! banners and vendor lines freely.

use std::fmt;

/// How the modem words its result codes (V.250 `ATV1` / `ATV0`).
///
/// Numeric codes are opt-in: in verbose mode a line of digits is information
/// (`ATI` answers `56000`, `14400`, … which select the chipset, §3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResultFormat {
    /// `ATV1`: `<CR><LF>OK<CR><LF>` (the default of every profile).
    #[default]
    Verbose,
    /// `ATV0`: `0<CR>`; short lines of digits are result codes.
    Numeric,
}

/// A calling number as caller ID reports it (§3.8 `NMBR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerNumber {
    /// The number as the network sent it.
    Number(String),
    /// `P`: the caller withheld it.
    Private,
    /// `O`: unavailable / out of area.
    Unavailable,
}

impl CallerNumber {
    fn parse(value: &str) -> Self {
        match value {
            "P" => CallerNumber::Private,
            "O" => CallerNumber::Unavailable,
            other => CallerNumber::Number(other.to_owned()),
        }
    }
}

/// One caller-ID field (§3.8); a complete record spans several lines between
/// the first and second ring, see [`CallerIdCollector`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerIdField {
    /// `DATE`: `MMDD` as sent (kept raw: some networks send garbage here).
    Date(String),
    /// `TIME`: `HHMM`, 24 h, as sent.
    Time(String),
    /// `NMBR`: the calling number.
    Number(CallerNumber),
    /// `NAME`: the calling name.
    Name(String),
    /// `MESG`: hex dump of a parameter the modem did not decode.
    Message(String),
    /// `DDN_NMBR` (Rockwell) or `CALLED NUMBER:`: the dialled number.
    DialledNumber(String),
    /// ZyXEL `FM:<caller> TO:<called>`: both numbers on one line.
    FromTo {
        /// The calling number.
        caller: CallerNumber,
        /// The called number, when the line has a `TO:` part.
        called: Option<String>,
    },
}

/// A line the modem sent in command state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultLine {
    /// `OK` (numeric 0).
    Ok,
    /// `ERROR` (numeric 4).
    Error,
    /// `RING` (numeric 2).
    Ring,
    /// `CONNECT` (numeric 1) with the text after it, if any
    /// (`CONNECT 33600`). After `+VRX`/`+VTX`/`+VTR` a voice stream follows.
    Connect(Option<String>),
    /// `VCON`: voice connection made (answer of `+VLS`, `ATA`, `ATD` in voice
    /// mode); no stream follows.
    Vcon,
    /// `NO CARRIER` (numeric 3).
    NoCarrier,
    /// `BUSY` (numeric 7).
    Busy,
    /// `NO DIALTONE` (numeric 6; also spelt `NO DIAL TONE`).
    NoDialtone,
    /// `NO ANSWER` (numeric 8).
    NoAnswer,
    /// A caller-ID line (§3.8).
    CallerId(CallerIdField),
    /// `DRON=` / `DROF=` (`+VDR`): distinctive-ring on/off time, 0.1 s units.
    RingCadence {
        /// `true` for `DRON`.
        on: bool,
        /// Duration in tenths of a second.
        tenths: u32,
    },
    /// `CPON=` / `CPOF=` (`+VDT`, Multi-Tech): control-tone on/off time,
    /// 0.1 s units.
    ToneCadence {
        /// `true` for `CPON`.
        on: bool,
        /// Duration in tenths of a second.
        tenths: u32,
    },
    /// A numeric result code the table does not name (numeric mode only).
    Numeric(u16),
    /// Any other line: `+VLS=?`/`+VSM=?` list entries, `ATI` answers,
    /// `+XXX: value` reports. See [`VlsEntry::parse`], [`VsmEntry::parse`].
    Info(String),
}

impl ResultLine {
    /// Classifies one line, already stripped of `<CR>`/`<LF>`.
    pub fn parse(line: &str, format: ResultFormat) -> Self {
        let line = line.trim();
        if format == ResultFormat::Numeric {
            if let Some(code) = numeric_code(line) {
                return Self::from_numeric(code);
            }
        }
        match line {
            "OK" => return ResultLine::Ok,
            "ERROR" => return ResultLine::Error,
            "RING" => return ResultLine::Ring,
            "CONNECT" => return ResultLine::Connect(None),
            "VCON" => return ResultLine::Vcon,
            "NO CARRIER" => return ResultLine::NoCarrier,
            "BUSY" => return ResultLine::Busy,
            "NO DIALTONE" | "NO DIAL TONE" => return ResultLine::NoDialtone,
            "NO ANSWER" => return ResultLine::NoAnswer,
            _ => {}
        }
        if let Some(rest) = line.strip_prefix("CONNECT ") {
            return ResultLine::Connect(Some(rest.trim().to_owned()));
        }
        if let Some(field) = parse_caller_id(line) {
            return ResultLine::CallerId(field);
        }
        if let Some(cadence) = parse_cadence(line) {
            return cadence;
        }
        ResultLine::Info(line.to_owned())
    }

    /// The result for a V.250 numeric code.
    pub fn from_numeric(code: u16) -> Self {
        match code {
            0 => ResultLine::Ok,
            1 => ResultLine::Connect(None),
            2 => ResultLine::Ring,
            3 => ResultLine::NoCarrier,
            4 => ResultLine::Error,
            6 => ResultLine::NoDialtone,
            7 => ResultLine::Busy,
            8 => ResultLine::NoAnswer,
            other => ResultLine::Numeric(other),
        }
    }

    /// Whether this line ends a command (V.250 final result code): the host
    /// may send its next command after it.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ResultLine::Ok
                | ResultLine::Error
                | ResultLine::Connect(_)
                | ResultLine::Vcon
                | ResultLine::NoCarrier
                | ResultLine::Busy
                | ResultLine::NoDialtone
                | ResultLine::NoAnswer
        )
    }

    /// The line as a verbose modem prints it, without framing (the emulated
    /// modem uses this; [`ResultLine::parse`] reads it back).
    pub fn to_text(&self) -> String {
        self.to_string()
    }

    /// The line framed as a verbose (`ATV1`) modem sends it:
    /// `<CR><LF>text<CR><LF>`.
    pub fn to_verbose_bytes(&self) -> Vec<u8> {
        format!("\r\n{self}\r\n").into_bytes()
    }
}

impl fmt::Display for ResultLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResultLine::Ok => f.write_str("OK"),
            ResultLine::Error => f.write_str("ERROR"),
            ResultLine::Ring => f.write_str("RING"),
            ResultLine::Connect(None) => f.write_str("CONNECT"),
            ResultLine::Connect(Some(text)) => write!(f, "CONNECT {text}"),
            ResultLine::Vcon => f.write_str("VCON"),
            ResultLine::NoCarrier => f.write_str("NO CARRIER"),
            ResultLine::Busy => f.write_str("BUSY"),
            ResultLine::NoDialtone => f.write_str("NO DIALTONE"),
            ResultLine::NoAnswer => f.write_str("NO ANSWER"),
            ResultLine::CallerId(field) => match field {
                CallerIdField::Date(v) => write!(f, "DATE = {v}"),
                CallerIdField::Time(v) => write!(f, "TIME = {v}"),
                CallerIdField::Number(CallerNumber::Number(v)) => write!(f, "NMBR = {v}"),
                CallerIdField::Number(CallerNumber::Private) => f.write_str("NMBR = P"),
                CallerIdField::Number(CallerNumber::Unavailable) => f.write_str("NMBR = O"),
                CallerIdField::Name(v) => write!(f, "NAME = {v}"),
                CallerIdField::Message(v) => write!(f, "MESG = {v}"),
                CallerIdField::DialledNumber(v) => write!(f, "DDN_NMBR = {v}"),
                CallerIdField::FromTo { caller, called } => {
                    let caller = match caller {
                        CallerNumber::Number(n) => n.as_str(),
                        CallerNumber::Private => "P",
                        CallerNumber::Unavailable => "O",
                    };
                    match called {
                        Some(called) => write!(f, "FM:{caller} TO:{called}"),
                        None => write!(f, "FM:{caller}"),
                    }
                }
            },
            ResultLine::RingCadence { on, tenths } => {
                write!(f, "{}={tenths}", if *on { "DRON" } else { "DROF" })
            }
            ResultLine::ToneCadence { on, tenths } => {
                write!(f, "{}={tenths}", if *on { "CPON" } else { "CPOF" })
            }
            ResultLine::Numeric(code) => write!(f, "{code}"),
            ResultLine::Info(text) => f.write_str(text),
        }
    }
}

/// A numeric result: one to three digits (V.250 codes are small; longer digit
/// strings are information such as `ATI`'s `56000`).
fn numeric_code(line: &str) -> Option<u16> {
    if (1..=3).contains(&line.len()) && line.bytes().all(|b| b.is_ascii_digit()) {
        line.parse().ok()
    } else {
        None
    }
}

/// `KEY = value` or `KEY=value` (§3.8), plus the ZyXEL and `CALLED NUMBER:`
/// spellings of mgetty's `cnd.c`.
fn parse_caller_id(line: &str) -> Option<CallerIdField> {
    if let Some(rest) = line.strip_prefix("CALLED NUMBER:") {
        return Some(CallerIdField::DialledNumber(rest.trim().to_owned()));
    }
    if let Some(rest) = line.strip_prefix("FM:") {
        // ZyXEL puts both numbers on one line: `FM:<caller> TO:<called>`.
        let (caller, called) = match rest.split_once(" TO:") {
            Some((caller, called)) => (caller, Some(called.trim().to_owned())),
            None => (rest, None),
        };
        return Some(CallerIdField::FromTo {
            caller: CallerNumber::parse(caller.trim()),
            called,
        });
    }
    let (key, value) = line.split_once('=')?;
    let value = value.trim().to_owned();
    Some(match key.trim() {
        "DATE" => CallerIdField::Date(value),
        "TIME" => CallerIdField::Time(value),
        "NMBR" => CallerIdField::Number(CallerNumber::parse(&value)),
        "NAME" => CallerIdField::Name(value),
        "MESG" => CallerIdField::Message(value),
        "DDN_NMBR" => CallerIdField::DialledNumber(value),
        _ => return None,
    })
}

fn parse_cadence(line: &str) -> Option<ResultLine> {
    let (key, value) = line.split_once('=')?;
    let tenths: u32 = value.trim().parse().ok()?;
    Some(match key.trim() {
        "DRON" => ResultLine::RingCadence { on: true, tenths },
        "DROF" => ResultLine::RingCadence { on: false, tenths },
        "CPON" => ResultLine::ToneCadence { on: true, tenths },
        "CPOF" => ResultLine::ToneCadence { on: false, tenths },
        _ => return None,
    })
}

/// A complete caller-ID record, as gathered between two rings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerId {
    /// `DATE` (`MMDD`).
    pub date: Option<String>,
    /// `TIME` (`HHMM`).
    pub time: Option<String>,
    /// `NMBR`.
    pub number: Option<CallerNumber>,
    /// `NAME`.
    pub name: Option<String>,
    /// `DDN_NMBR` / called number.
    pub dialled: Option<String>,
    /// Every `MESG` line, in order (the key may repeat).
    pub messages: Vec<String>,
}

impl CallerId {
    /// Whether no field was set.
    pub fn is_empty(&self) -> bool {
        *self == CallerId::default()
    }

    fn apply(&mut self, field: &CallerIdField) {
        match field {
            CallerIdField::Date(v) => self.date = Some(v.clone()),
            CallerIdField::Time(v) => self.time = Some(v.clone()),
            CallerIdField::Number(v) => self.number = Some(v.clone()),
            CallerIdField::Name(v) => self.name = Some(v.clone()),
            CallerIdField::Message(v) => {
                // Bounded: a broken modem repeating MESG must not grow memory.
                if self.messages.len() < 16 {
                    self.messages.push(v.clone());
                }
            }
            CallerIdField::DialledNumber(v) => self.dialled = Some(v.clone()),
            CallerIdField::FromTo { caller, called } => {
                self.number = Some(caller.clone());
                if let Some(called) = called {
                    self.dialled = Some(called.clone());
                }
            }
        }
    }
}

/// Gathers caller-ID lines into one [`CallerId`] per call.
///
/// Caller ID arrives between the first and second `RING` (§3.8); the record is
/// handed out at the next ring (or `<DLE>R`), when it is known to be
/// complete, and only once per call.
#[derive(Debug, Default)]
pub struct CallerIdCollector {
    pending: CallerId,
}

impl CallerIdCollector {
    /// A collector with nothing gathered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a caller-ID field.
    pub fn field(&mut self, field: &CallerIdField) {
        self.pending.apply(field);
    }

    /// Takes a result line: fields are gathered, a `RING` hands out what was
    /// gathered before it (if anything).
    pub fn line(&mut self, line: &ResultLine) -> Option<CallerId> {
        match line {
            ResultLine::CallerId(field) => {
                self.field(field);
                None
            }
            ResultLine::Ring => self.ring(),
            _ => None,
        }
    }

    /// A ring was seen (`RING` or `<DLE>R`): returns the gathered record, if
    /// any, and starts afresh.
    pub fn ring(&mut self) -> Option<CallerId> {
        if self.pending.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.pending))
        }
    }

    /// The call ended before a second ring: drop what was gathered.
    pub fn reset(&mut self) {
        self.pending = CallerId::default();
    }
}

/// An event-report mask of `+VLS=?` or `+VEM` (§3.6): hex digits, event 0 is
/// the most significant bit of the first digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMask {
    bits: u64,
    digits: u8,
}

impl EventMask {
    /// Event number of the call-waiting beep (§3.6): check it before relying
    /// on `<DLE>w`.
    pub const CALL_WAITING: u8 = 15;
    /// Event number of call waiting with caller ID (CIDCW).
    pub const CALL_WAITING_CALLER_ID: u8 = 28;

    /// Parses 1 to 16 hex digits; `None` otherwise.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let bits = u64::from_str_radix(text, 16).ok()?;
        let digits = u8::try_from(text.len()).ok()?;
        Some(Self { bits, digits })
    }

    /// Whether event `number` is in the mask (events past the mask's digits
    /// are not).
    pub fn contains(&self, number: u8) -> bool {
        let width = u32::from(self.digits) * 4;
        let number = u32::from(number);
        number < width && (self.bits >> (width - 1 - number)) & 1 == 1
    }
}

/// One line of the `AT+VLS=?` answer: `label,"primitives",tx,rx,idle`
/// (§3.1, §3.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlsEntry {
    /// The label, e.g. `1`.
    pub label: u16,
    /// The primitives, e.g. `T`.
    pub primitives: String,
    /// Events reported while transmitting.
    pub tx_mask: EventMask,
    /// Events reported while receiving.
    pub rx_mask: EventMask,
    /// Events reported while idle.
    pub idle_mask: EventMask,
}

impl VlsEntry {
    /// Parses one list line; `None` when it is not one.
    pub fn parse(line: &str) -> Option<Self> {
        let mut fields = split_list(line.trim());
        let label = fields.next()?.trim().parse().ok()?;
        let primitives = unquote(fields.next()?)?.to_owned();
        let tx_mask = EventMask::parse(fields.next()?)?;
        let rx_mask = EventMask::parse(fields.next()?)?;
        let idle_mask = EventMask::parse(fields.next()?)?;
        if fields.next().is_some() {
            return None;
        }
        Some(Self {
            label,
            primitives,
            tx_mask,
            rx_mask,
            idle_mask,
        })
    }

    /// Whether the modem reports the call-waiting beep (`<DLE>w`, event 15)
    /// on this label while receiving, idle or transmitting.
    pub fn reports_call_waiting(&self) -> bool {
        [self.tx_mask, self.rx_mask, self.idle_mask]
            .iter()
            .any(|m| m.contains(EventMask::CALL_WAITING))
    }
}

/// One line of the `AT+VSM=?` answer:
/// `cml,"name",bits,tm,(rates),(scs),(sel)` (§3.1, §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VsmEntry {
    /// The method number, vendor-specific above 127.
    pub id: u16,
    /// The method name, e.g. `UNSIGNED PCM`: the only reliable key.
    pub name: String,
    /// Bits per sample.
    pub bits: u8,
    /// Sample rates from the parenthesised list, as inclusive ranges (a
    /// single rate `8000` is `(8000, 8000)`, a range `7200-11025` keeps both
    /// ends).
    pub rates: Vec<(u32, u32)>,
}

impl VsmEntry {
    /// Parses one list line; `None` when it is not one.
    pub fn parse(line: &str) -> Option<Self> {
        let mut fields = split_list(line.trim());
        let id = fields.next()?.trim().parse().ok()?;
        let name = unquote(fields.next()?)?.trim().to_owned();
        let bits = fields.next()?.trim().parse().ok()?;
        let _timing = fields.next();
        let rates = fields
            .next()
            .map(|r| {
                r.trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .split(',')
                    .filter_map(|v| match v.split_once('-') {
                        Some((lo, hi)) => Some((lo.trim().parse().ok()?, hi.trim().parse().ok()?)),
                        None => v.trim().parse().ok().map(|r| (r, r)),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            id,
            name,
            bits,
            rates,
        })
    }
}

/// Splits on commas that are outside quotes and parentheses.
impl VsmEntry {
    /// Whether the method offers `rate` (an entry without a rate list is
    /// taken to offer any).
    pub fn supports_rate(&self, rate: u32) -> bool {
        self.rates.is_empty() || self.rates.iter().any(|&(lo, hi)| lo <= rate && rate <= hi)
    }
}

fn split_list(line: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0u32;
    let mut quoted = false;
    let mut start = 0;
    let mut parts = Vec::new();
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                parts.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&line[start..]);
    parts.into_iter()
}

fn unquote(field: &str) -> Option<&str> {
    field.trim().strip_prefix('"')?.strip_suffix('"')
}
