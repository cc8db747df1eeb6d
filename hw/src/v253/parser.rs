//! The modem→host byte stream parser (hardware.md §3.4, §3.6, §3.8), sans I/O.
//!
//! The driver reads whatever the serial port returns and hands it to
//! [`ModemParser::feed`]; the parser keeps all state between calls, so the
//! events depend only on the bytes, never on where the reads split them
//! (the property tests and the fuzz target check exactly that). Audio is
//! handed out as borrowed slices of the input where possible, so the 8 kHz
//! stream costs no copies.
//!
//! Memory is bounded whatever the modem sends: a result line longer than
//! [`ParserConfig::max_line`] and a complex event report longer than
//! [`ParserConfig::max_report`] are reported as [`StreamError`]s and skipped.

use std::borrow::Cow;

use super::dle::{DleEvent, DtmfDigit, DLE, SUB};
use super::result::{ResultFormat, ResultLine};

/// Which voice command opened the stream that follows `CONNECT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// `+VRX`: the modem sends audio; the host ends it with `<DLE>!`.
    Receive,
    /// `+VTX`: the host sends audio; the modem sends only `<DLE>` events.
    Transmit,
    /// `+VTR`: audio both ways; the host ends it with `<DLE>^`.
    FullDuplex,
}

/// Problems in the byte stream. They are reported, the offending bytes are
/// skipped, and parsing goes on: a noisy line must not wedge the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// A command-state line exceeded the limit; the rest of it, up to the
    /// next `<CR>` or `<LF>`, is discarded.
    #[error("modem line longer than {limit} bytes, skipped")]
    LineTooLong {
        /// The configured limit.
        limit: usize,
    },
    /// A `<DLE>X` complex event report exceeded the limit; the rest of it, up
    /// to `<DLE>.`, is discarded.
    #[error("complex event report longer than {limit} bytes, skipped")]
    ReportTooLong {
        /// The configured limit.
        limit: usize,
    },
    /// A `<DLE>X` report was cut short by `<DLE><ETX>` (the stream ended).
    #[error("complex event report ended by <DLE><ETX> before <DLE>.")]
    UnterminatedReport,
    /// `<DLE>.` without a preceding `<DLE>X`.
    #[error("<DLE>. without <DLE>X")]
    StrayReportEnd,
    /// `<DLE><DLE>` or `<DLE><SUB>` (audio data) in command state.
    #[error("audio escape <DLE> 0x{0:02X} outside a voice stream")]
    DataOutsideStream(u8),
}

/// One thing the modem said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModemEvent<'a> {
    /// A result or information line of command state.
    Line(ResultLine),
    /// The echo of a command the host sent (`ATE1`), without its `<CR>`.
    Echo(String),
    /// `CONNECT` after `+VRX`/`+VTX`/`+VTR`: from here on the bytes are a
    /// voice stream until `<DLE><ETX>`.
    StreamStarted(StreamKind),
    /// Received audio, unescaped. Consecutive `Audio` events are one stream;
    /// how it is cut into events depends on the reads and carries no meaning.
    Audio(Cow<'a, [u8]>),
    /// A `<DLE>` event code (§3.4), in command or voice state.
    Dle(DleEvent),
    /// The payload of a `<DLE>X` … `<DLE>.` complex event report (caller ID,
    /// distinctive ring; Silicon Labs AN93), unescaped. See
    /// [`report_lines`].
    Report(Vec<u8>),
    /// Malformed or oversized input that was skipped.
    Error(StreamError),
}

impl ModemEvent<'_> {
    /// The event with its audio copied, free of the input's lifetime.
    pub fn into_owned(self) -> ModemEvent<'static> {
        match self {
            ModemEvent::Audio(audio) => ModemEvent::Audio(Cow::Owned(audio.into_owned())),
            ModemEvent::Line(line) => ModemEvent::Line(line),
            ModemEvent::Echo(echo) => ModemEvent::Echo(echo),
            ModemEvent::StreamStarted(kind) => ModemEvent::StreamStarted(kind),
            ModemEvent::Dle(event) => ModemEvent::Dle(event),
            ModemEvent::Report(report) => ModemEvent::Report(report),
            ModemEvent::Error(error) => ModemEvent::Error(error),
        }
    }
}

/// Splits a complex event report into its lines and classifies them (AN93
/// puts caller-ID `KEY=value` lines inside `<DLE>X` … `<DLE>.`).
pub fn report_lines(report: &[u8]) -> Vec<ResultLine> {
    report
        .split(|&b| b == b'\r' || b == b'\n')
        .map(String::from_utf8_lossy)
        .filter(|line| !line.trim().is_empty())
        .map(|line| ResultLine::parse(&line, ResultFormat::Verbose))
        .collect()
}

/// Collects events, joining consecutive audio, so that two parses of the same
/// bytes compare equal however the bytes were chunked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EventLog {
    events: Vec<ModemEvent<'static>>,
}

impl EventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an event, merging it into the previous one if both are audio.
    pub fn push(&mut self, event: ModemEvent<'_>) {
        if let ModemEvent::Audio(audio) = &event {
            if audio.is_empty() {
                return;
            }
            if let Some(ModemEvent::Audio(previous)) = self.events.last_mut() {
                previous.to_mut().extend_from_slice(audio);
                return;
            }
        }
        self.events.push(event.into_owned());
    }

    /// The events so far.
    pub fn events(&self) -> &[ModemEvent<'static>] {
        &self.events
    }

    /// The events, consuming the log.
    pub fn into_events(self) -> Vec<ModemEvent<'static>> {
        self.events
    }
}

/// Settings of the parser, normally taken from the chipset profile
/// ([`super::ModemProfile::parser_config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserConfig {
    /// Verbose or numeric result codes.
    pub format: ResultFormat,
    /// Longest command-state line kept, in bytes.
    pub max_line: usize,
    /// Longest `<DLE>X` report kept, in bytes.
    pub max_report: usize,
    /// `<DLE>t` means handset off-hook (Rockwell legacy), not TDD.
    pub rockwell_t: bool,
    /// `<DLE>s` is the modem's only silence report (Lucent), so it does not
    /// imply a hang-up.
    pub lucent_s: bool,
}

impl Default for ParserConfig {
    fn default() -> Self {
        Self {
            format: ResultFormat::Verbose,
            max_line: 256,
            max_report: 256,
            rockwell_t: false,
            lucent_s: false,
        }
    }
}

/// The state the modem is in, as far as the byte stream shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParserMode {
    /// Lines of text, with `<DLE>` event codes interspersed.
    Command,
    /// A voice stream: every byte is audio except `<DLE>` codes.
    Voice(StreamKind),
}

/// The sans-I/O parser of everything the modem sends.
///
/// It must be told when the host sends `+VRX`/`+VTX`/`+VTR`
/// ([`ModemParser::expect_stream`]), because only the command tells a
/// stream-opening `CONNECT` from a data `CONNECT`; with echo on it also
/// notices the echoed command by itself.
#[derive(Debug, Clone)]
pub struct ModemParser {
    config: ParserConfig,
    mode: ParserMode,
    armed: Option<StreamKind>,
    line: Vec<u8>,
    discarding_line: bool,
    /// The last line ended with `<CR>`: a `<LF>` right after it belongs to
    /// that line, even if the line switched to voice mode (`CONNECT<CR><LF>`
    /// then audio).
    swallow_lf: bool,
    pending_dle: bool,
    report: Option<Vec<u8>>,
    discarding_report: bool,
    /// `Some` between `<DLE>/` and `<DLE>~`, holding the digit reported in
    /// this shield, so its repeats (every ~70 ms) are reported once.
    shield: Option<Option<DtmfDigit>>,
}

impl Default for ModemParser {
    fn default() -> Self {
        Self::new(ParserConfig::default())
    }
}

impl ModemParser {
    /// A parser in command state.
    pub fn new(config: ParserConfig) -> Self {
        Self {
            config,
            mode: ParserMode::Command,
            armed: None,
            line: Vec::new(),
            discarding_line: false,
            swallow_lf: false,
            pending_dle: false,
            report: None,
            discarding_report: false,
            shield: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &ParserConfig {
        &self.config
    }

    /// Changes the result format (after the host sent `ATV0`/`ATV1`).
    pub fn set_format(&mut self, format: ResultFormat) {
        self.config.format = format;
    }

    /// Command or voice state.
    pub fn mode(&self) -> ParserMode {
        self.mode
    }

    /// The host sent a command that opens a voice stream: the next `CONNECT`
    /// switches to voice state. Any other final result cancels this.
    pub fn expect_stream(&mut self, kind: StreamKind) {
        self.armed = Some(kind);
    }

    /// Forgets any stream state and returns to command state, for a driver
    /// that gave up waiting for `<DLE><ETX>` (modem reset, timeout). A partly
    /// received line is dropped.
    pub fn reset(&mut self) {
        *self = Self::new(self.config);
    }

    /// Parses `input`, calling `on_event` for each event in order.
    pub fn feed<'a, F>(&mut self, input: &'a [u8], mut on_event: F)
    where
        F: FnMut(ModemEvent<'a>),
    {
        let mut i = 0;
        while i < input.len() {
            if self.pending_dle {
                self.pending_dle = false;
                self.swallow_lf = false;
                let code = input[i];
                i += 1;
                self.dle_code(code, &mut on_event);
                continue;
            }
            match self.mode {
                ParserMode::Voice(_) => i = self.voice_bytes(input, i, &mut on_event),
                ParserMode::Command => {
                    let byte = input[i];
                    i += 1;
                    self.command_byte(byte, &mut on_event);
                }
            }
        }
    }

    /// [`ModemParser::feed`] into a vector of owned events.
    pub fn feed_to_vec(&mut self, input: &[u8]) -> Vec<ModemEvent<'static>> {
        let mut events = Vec::new();
        self.feed(input, |event| events.push(event.into_owned()));
        events
    }

    /// Voice state from `start`: hands out the audio up to the next `<DLE>`
    /// as one slice and returns where to continue.
    fn voice_bytes<'a, F>(&mut self, input: &'a [u8], start: usize, on_event: &mut F) -> usize
    where
        F: FnMut(ModemEvent<'a>),
    {
        let mut start = start;
        if std::mem::take(&mut self.swallow_lf) && input[start] == b'\n' {
            start += 1;
        }
        let rest = &input[start..];
        let run = rest.iter().position(|&b| b == DLE).unwrap_or(rest.len());
        if run > 0 {
            self.data(Cow::Borrowed(&rest[..run]), on_event);
        }
        if run < rest.len() {
            self.pending_dle = true;
            start + run + 1
        } else {
            start + run
        }
    }

    /// Unescaped stream data: audio, or the body of a complex report.
    fn data<'a, F>(&mut self, bytes: Cow<'a, [u8]>, on_event: &mut F)
    where
        F: FnMut(ModemEvent<'a>),
    {
        if self.report.is_some() {
            self.report_bytes(&bytes, on_event);
        } else {
            on_event(ModemEvent::Audio(bytes));
        }
    }

    fn report_bytes<'a, F>(&mut self, bytes: &[u8], on_event: &mut F)
    where
        F: FnMut(ModemEvent<'a>),
    {
        if self.discarding_report {
            return;
        }
        let limit = self.config.max_report;
        if let Some(report) = self.report.as_mut() {
            if report.len() + bytes.len() > limit {
                report.clear();
                self.discarding_report = true;
                on_event(ModemEvent::Error(StreamError::ReportTooLong { limit }));
            } else {
                report.extend_from_slice(bytes);
            }
        }
    }

    fn command_byte<'a, F>(&mut self, byte: u8, on_event: &mut F)
    where
        F: FnMut(ModemEvent<'a>),
    {
        if byte == DLE {
            self.pending_dle = true;
            self.swallow_lf = false;
            return;
        }
        if std::mem::take(&mut self.swallow_lf) && byte == b'\n' {
            return;
        }
        if self.report.is_some() {
            self.report_bytes(&[byte], on_event);
            return;
        }
        match byte {
            b'\r' | b'\n' => {
                self.swallow_lf = byte == b'\r';
                if std::mem::take(&mut self.discarding_line) {
                    self.line.clear();
                } else {
                    self.end_line(on_event);
                }
            }
            _ if self.discarding_line => {}
            _ if self.line.len() >= self.config.max_line => {
                self.line.clear();
                self.discarding_line = true;
                on_event(ModemEvent::Error(StreamError::LineTooLong {
                    limit: self.config.max_line,
                }));
            }
            _ => self.line.push(byte),
        }
    }

    fn end_line<'a, F>(&mut self, on_event: &mut F)
    where
        F: FnMut(ModemEvent<'a>),
    {
        let text = String::from_utf8_lossy(&self.line).trim().to_owned();
        self.line.clear();
        if text.is_empty() {
            return;
        }
        if is_echo(&text) {
            if let Some(kind) = echoed_stream(&text) {
                self.armed = Some(kind);
            }
            on_event(ModemEvent::Echo(text));
            return;
        }
        let line = ResultLine::parse(&text, self.config.format);
        let opens_stream = matches!(line, ResultLine::Connect(_));
        let is_final = line.is_final();
        on_event(ModemEvent::Line(line));
        if !is_final {
            return;
        }
        match self.armed.take() {
            Some(kind) if opens_stream => {
                self.mode = ParserMode::Voice(kind);
                self.shield = None;
                // `ATV0` ends results with `<CR>` alone: the next byte is
                // already audio.
                if self.config.format == ResultFormat::Numeric {
                    self.swallow_lf = false;
                }
                on_event(ModemEvent::StreamStarted(kind));
            }
            _ => {}
        }
    }

    fn dle_code<'a, F>(&mut self, code: u8, on_event: &mut F)
    where
        F: FnMut(ModemEvent<'a>),
    {
        const ONE: &[u8] = &[DLE];
        const TWO: &[u8] = &[DLE, DLE];
        match code {
            DLE | SUB => {
                let data = if code == DLE { ONE } else { TWO };
                if matches!(self.mode, ParserMode::Voice(_)) || self.report.is_some() {
                    self.data(Cow::Borrowed(data), on_event);
                } else {
                    on_event(ModemEvent::Error(StreamError::DataOutsideStream(code)));
                }
            }
            b'X' => {
                if self.report.is_some() && !self.discarding_report {
                    // A new header before the terminator: the old report is
                    // incomplete; say so rather than splice two reports.
                    on_event(ModemEvent::Error(StreamError::UnterminatedReport));
                }
                self.report = Some(Vec::new());
                self.discarding_report = false;
            }
            b'.' => match self.report.take() {
                Some(report) => {
                    if !std::mem::take(&mut self.discarding_report) {
                        on_event(ModemEvent::Report(report));
                    }
                }
                None => on_event(ModemEvent::Error(StreamError::StrayReportEnd)),
            },
            _ => {
                let event = DleEvent::from_code(code, self.config.rockwell_t, self.config.lucent_s)
                    .unwrap_or(DleEvent::Unknown(code));
                self.event(event, on_event);
            }
        }
    }

    fn event<'a, F>(&mut self, event: DleEvent, on_event: &mut F)
    where
        F: FnMut(ModemEvent<'a>),
    {
        match event {
            DleEvent::EndOfStream => {
                if self.report.take().is_some() && !std::mem::take(&mut self.discarding_report) {
                    on_event(ModemEvent::Error(StreamError::UnterminatedReport));
                }
                self.discarding_report = false;
                self.mode = ParserMode::Command;
                self.shield = None;
            }
            DleEvent::DtmfShieldStart => self.shield = Some(None),
            DleEvent::DtmfShieldEnd => self.shield = None,
            DleEvent::Dtmf(digit) => {
                if let Some(held) = self.shield.as_mut() {
                    if *held == Some(digit) {
                        // The shielded digit repeats while held: first only.
                        return;
                    }
                    *held = Some(digit);
                }
            }
            _ => {}
        }
        on_event(ModemEvent::Dle(event));
    }
}

/// Whether a line is the echo of a host command (`AT…` or `A/`).
fn is_echo(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 2
        && bytes[0].eq_ignore_ascii_case(&b'A')
        && (bytes[1].eq_ignore_ascii_case(&b'T') || bytes[1] == b'/')
}

/// The stream an echoed command opens, if it ends with `+VRX`, `+VTX`,
/// `+VTR` (or the `#` spellings of legacy Rockwell and USRobotics).
pub(super) fn echoed_stream(text: &str) -> Option<StreamKind> {
    let upper = text.to_ascii_uppercase();
    let last = upper.rsplit(';').next().unwrap_or(&upper);
    [
        ("VRX", StreamKind::Receive),
        ("VTX", StreamKind::Transmit),
        ("VTR", StreamKind::FullDuplex),
    ]
    .into_iter()
    .find(|(name, _)| last.ends_with(&format!("+{name}")) || last.ends_with(&format!("#{name}")))
    .map(|(_, kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Vec<ModemEvent<'static>> {
        let mut log = EventLog::new();
        ModemParser::default().feed(bytes, |e| log.push(e));
        log.into_events()
    }

    #[test]
    fn echo_of_vrx_arms_the_stream() {
        let events = parse(b"AT+VRX\r\r\nCONNECT\r\n\x01\x02\x10\x03\r\nOK\r\n");
        assert_eq!(
            events,
            vec![
                ModemEvent::Echo("AT+VRX".into()),
                ModemEvent::Line(ResultLine::Connect(None)),
                ModemEvent::StreamStarted(StreamKind::Receive),
                ModemEvent::Audio(Cow::Owned(vec![1, 2])),
                ModemEvent::Dle(DleEvent::EndOfStream),
                ModemEvent::Line(ResultLine::Ok),
            ]
        );
    }

    #[test]
    fn connect_without_voice_command_stays_in_command_state() {
        let events = parse(b"\r\nCONNECT 33600\r\nABC\r\n");
        assert_eq!(
            events,
            vec![
                ModemEvent::Line(ResultLine::Connect(Some("33600".into()))),
                ModemEvent::Line(ResultLine::Info("ABC".into())),
            ]
        );
    }

    #[test]
    fn echo_detection() {
        assert!(is_echo("at+vrx"));
        assert!(is_echo("A/"));
        assert!(!is_echo("A"));
        assert_eq!(echoed_stream("AT+VLS=1;+VTR"), Some(StreamKind::FullDuplex));
        assert_eq!(echoed_stream("AT#VTX"), Some(StreamKind::Transmit));
        assert_eq!(echoed_stream("AT+VTS=1"), None);
    }
}
