//! The host→modem side: AT command lines for a chipset profile (hardware.md
//! §3.1, §3.7, §3.8) and the outgoing voice stream (§3.5).
//!
//! Commands are described by intent ([`Command::OffHook`], [`Command::Flash`])
//! and the [`Encoder`] spells them for the profile, so a quirk such as the
//! `#` command set or USRobotics' lost DTMF detection after a beep is handled
//! once, here, rather than in every caller.

use std::fmt::Write as _;

use super::dle::{escape_audio_into, DtmfDigit, HostDle};
use super::parser::StreamKind;
use super::profile::{CommandSet, ModemProfile, VsmChoice, VsmSyntax};

/// What the host wants the modem to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A literal line from a profile's init list; it must start with `AT`
    /// and contain no `<CR>`/`<LF>`.
    Raw(String),
    /// `+FCLASS=8` / `#CLS=8`: voice mode.
    VoiceMode,
    /// `+FCLASS=0` / `#CLS=0`: back to data mode.
    DataMode,
    /// `+VLS=<line label>`: off-hook on the line (§3.1 vgetty order).
    OffHook,
    /// `+VLS=<on-hook label>`: back on-hook with the local phone on the line.
    OnHook,
    /// `+VLS=<handset label>`: connect the local handset to the modem.
    Handset,
    /// `+VLS=<label>` with an explicit label.
    SelectLabel(String),
    /// `ATH0`: hang up (data-mode hook).
    HookOn,
    /// `ATH1`: off-hook (data-mode hook).
    HookOff,
    /// `+VLS=?`: list labels and their event masks.
    QueryLabels,
    /// `+VSM=?`: list compression methods.
    QueryCompression,
    /// `+VSM=…` with the profile's (or a parsed) method; `four_args` picks
    /// the `…,0,0` form that vgetty retries with after `ERROR`.
    Compression {
        /// Method and rate.
        choice: VsmChoice,
        /// Use `<id>,<rate>,0,0`.
        four_args: bool,
    },
    /// `+VRX`: start receiving voice.
    Receive,
    /// `+VTX`: start sending voice.
    Transmit,
    /// `+VTR`: full-duplex voice (V.253 set only).
    FullDuplex,
    /// Hook flash by `+VTS` (§3.7): `!` with the `+VTD` length, or
    /// `{!,<10 ms units>}`.
    Flash {
        /// Flash length in 10 ms units; `None` uses `+VTD`.
        duration: Option<u8>,
    },
    /// `+VTS=<list>`: DTMF digits, flashes and tones.
    Tones(Vec<Tone>),
    /// `+VTD=<n>`: default tone length, 10 ms units.
    ToneDuration(u8),
    /// `+VIT=<n>`: inactivity timer in seconds (0 = off, vgetty sends 0).
    InactivityTimer(u16),
    /// `+VCID=<n>` / `#CID=<n>`.
    CallerId(CallerIdMode),
    /// `+VSD=<sds>,<sdi>`: silence detection.
    SilenceDetection {
        /// Sensitivity: 0 off, 128 default, lower = more sensitive.
        sensitivity: u8,
        /// Interval in 0.1 s.
        interval: u8,
    },
    /// `+VGT=<n>`: transmit gain (128 = default).
    TransmitGain(u8),
    /// `+VGR=<n>`: receive gain (128 = default).
    ReceiveGain(u8),
    /// `+VEM=<8 hex>`: event report mask, event 0 = most significant bit.
    EventMask(u32),
    /// `+IFC=2,2`: RTS/CTS flow control; sends nothing for modems that
    /// reject it (quirk `no_ifc`).
    FlowControl,
    /// `+VNH=<n>`: automatic hang-up control.
    AutomaticHangup(u8),
    /// `+VDR=1,<n>`: distinctive-ring reports, `n` in 0.1 s.
    DistinctiveRing(u8),
    /// `ATA`: answer.
    Answer,
    /// `ATD<number>;` (voice dial; `;` stays in command state).
    Dial(String),
}

/// Caller-ID reporting (§3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerIdMode {
    /// 0: off.
    Off,
    /// 1: formatted `KEY = value` lines.
    Formatted,
    /// 2: the raw SDMF/MDMF message as hex.
    Unformatted,
}

/// One element of a `+VTS` list (§3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A DTMF digit with the `+VTD` length.
    Digit(DtmfDigit),
    /// A hook flash (`!`) with the `+VTD` length.
    Flash,
    /// `{d,dur}`: a digit with its own length in 10 ms units.
    DigitFor(DtmfDigit, u8),
    /// `{!,dur}`: a flash with its own length in 10 ms units.
    FlashFor(u8),
    /// `[f1,f2,dur]`: one or two frequencies in Hz (0 or 200–3000) for
    /// `dur` × 10 ms.
    Dual {
        /// First frequency.
        f1: u16,
        /// Second frequency (0 for a single tone).
        f2: u16,
        /// Length in 10 ms units.
        duration: u8,
    },
}

impl Tone {
    /// The digits of `text` as DTMF tones, or the first invalid character.
    pub fn digits(text: &str) -> Result<Vec<Tone>, EncodeError> {
        text.chars()
            .map(|c| {
                u8::try_from(c)
                    .ok()
                    .and_then(DtmfDigit::from_ascii)
                    .map(Tone::Digit)
                    .ok_or(EncodeError::InvalidDigit(c))
            })
            .collect()
    }
}

/// Why a command cannot be sent to this modem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The family has no such command (full duplex or `+VTS` flash on the
    /// `#` set): the capability is absent, not emulated.
    #[error("{command} is not supported by modem profile {profile}")]
    Unsupported {
        /// The command.
        command: &'static str,
        /// The profile's name.
        profile: String,
    },
    /// The profile has no handset label.
    #[error("modem profile {0} has no handset label")]
    NoHandset(String),
    /// A raw line does not start with `AT` or contains `<CR>`/`<LF>`.
    #[error("not a single AT command line: {0:?}")]
    InvalidRaw(String),
    /// A label with characters other than letters and digits.
    #[error("invalid +VLS label {0:?}")]
    InvalidLabel(String),
    /// A frequency outside 0 or 200–3000 Hz.
    #[error("tone frequency {0} Hz outside 0 or 200-3000")]
    InvalidFrequency(u16),
    /// A character that is not a DTMF digit.
    #[error("{0:?} is not a DTMF digit")]
    InvalidDigit(char),
    /// A character not allowed in a dial string.
    #[error("{0:?} is not allowed in a dial string")]
    InvalidDialChar(char),
    /// `+VTS` with nothing to play.
    #[error("empty tone list")]
    EmptyTones,
}

/// One command line ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The text without the terminating `<CR>`, e.g. `AT+VLS=1`.
    pub text: String,
    /// The voice stream this line opens on `CONNECT`: tell the parser with
    /// [`super::ModemParser::expect_stream`] when sending it.
    pub opens: Option<StreamKind>,
}

impl CommandLine {
    fn new(text: String) -> Self {
        Self { text, opens: None }
    }

    /// The bytes to write: the text and `<CR>` (V.250 S3).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.text.len() + 1);
        bytes.extend_from_slice(self.text.as_bytes());
        bytes.push(b'\r');
        bytes
    }
}

/// Spells [`Command`]s for one profile.
#[derive(Debug, Clone)]
pub struct Encoder<'p> {
    profile: &'p ModemProfile,
}

impl<'p> Encoder<'p> {
    /// An encoder for `profile`.
    pub fn new(profile: &'p ModemProfile) -> Self {
        Self { profile }
    }

    /// The profile.
    pub fn profile(&self) -> &'p ModemProfile {
        self.profile
    }

    fn prefix(&self) -> char {
        match self.profile.command_set {
            CommandSet::V253 => '+',
            CommandSet::Hash => '#',
        }
    }

    fn unsupported(&self, command: &'static str) -> EncodeError {
        EncodeError::Unsupported {
            command,
            profile: self.profile.name.clone(),
        }
    }

    fn select(&self, label: &str) -> Result<CommandLine, EncodeError> {
        if label.is_empty() || !label.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(EncodeError::InvalidLabel(label.to_owned()));
        }
        Ok(CommandLine::new(format!("AT{}VLS={label}", self.prefix())))
    }

    /// The lines for `command`, in order. Usually one; none when a quirk
    /// says the modem must not get it (`+IFC` on modems that reject it);
    /// two when a quirk needs a follow-up (line re-selection after USRobotics
    /// tones, `ATH1` after a legacy `#VLS`).
    pub fn encode(&self, command: &Command) -> Result<Vec<CommandLine>, EncodeError> {
        let p = self.prefix();
        let quirks = &self.profile.quirks;
        let one = |text: String| Ok(vec![CommandLine::new(text)]);
        match command {
            Command::Raw(text) => {
                let upper = text.to_ascii_uppercase();
                if !upper.starts_with("AT") || text.contains(['\r', '\n']) {
                    return Err(EncodeError::InvalidRaw(text.clone()));
                }
                let mut line = CommandLine::new(text.clone());
                line.opens = super::parser::echoed_stream(&upper);
                Ok(vec![line])
            }
            Command::VoiceMode => one(match self.profile.command_set {
                CommandSet::V253 => "AT+FCLASS=8".into(),
                CommandSet::Hash => "AT#CLS=8".into(),
            }),
            Command::DataMode => one(match self.profile.command_set {
                CommandSet::V253 => "AT+FCLASS=0".into(),
                CommandSet::Hash => "AT#CLS=0".into(),
            }),
            Command::OffHook => {
                let mut lines = vec![self.select(&self.profile.vls_line)?];
                if quirks.off_hook_needs_h1 {
                    lines.push(CommandLine::new("ATH1".into()));
                }
                Ok(lines)
            }
            Command::OnHook => {
                let mut lines = Vec::new();
                if quirks.off_hook_needs_h1 {
                    lines.push(CommandLine::new("ATH0".into()));
                }
                lines.push(self.select(&self.profile.vls_on_hook)?);
                Ok(lines)
            }
            Command::Handset => match &self.profile.vls_handset {
                Some(label) => Ok(vec![self.select(label)?]),
                None => Err(EncodeError::NoHandset(self.profile.name.clone())),
            },
            Command::SelectLabel(label) => Ok(vec![self.select(label)?]),
            Command::HookOn => one("ATH0".into()),
            Command::HookOff => one("ATH1".into()),
            Command::QueryLabels => one(format!("AT{p}VLS=?")),
            Command::QueryCompression => one(format!("AT{p}VSM=?")),
            Command::Compression { choice, four_args } => {
                let rate = quirks.forced_sample_rate.unwrap_or(choice.rate);
                let text = match (self.profile.vsm_syntax, four_args) {
                    (VsmSyntax::IdOnly, _) => format!("AT{p}VSM={}", choice.id),
                    (VsmSyntax::FourArgs, _) | (VsmSyntax::TwoArgsThenFour, true) => {
                        format!("AT{p}VSM={},{rate},0,0", choice.id)
                    }
                    (VsmSyntax::TwoArgsThenFour, false) => {
                        format!("AT{p}VSM={},{rate}", choice.id)
                    }
                };
                one(text)
            }
            Command::Receive => Ok(vec![CommandLine {
                text: format!("AT{p}VRX"),
                opens: Some(StreamKind::Receive),
            }]),
            Command::Transmit => Ok(vec![CommandLine {
                text: format!("AT{p}VTX"),
                opens: Some(StreamKind::Transmit),
            }]),
            Command::FullDuplex => match self.profile.command_set {
                CommandSet::V253 => Ok(vec![CommandLine {
                    text: "AT+VTR".into(),
                    opens: Some(StreamKind::FullDuplex),
                }]),
                CommandSet::Hash => Err(self.unsupported("full-duplex voice (+VTR)")),
            },
            Command::Flash { duration } => {
                if self.profile.command_set == CommandSet::Hash {
                    // §3.7 defines the flash element for +VTS only.
                    return Err(self.unsupported("hook flash (+VTS=!)"));
                }
                let tone = match duration {
                    Some(d) => Tone::FlashFor(*d),
                    None => Tone::Flash,
                };
                self.tones(&[tone])
            }
            Command::Tones(tones) => self.tones(tones),
            Command::ToneDuration(n) => one(format!("AT{p}VTD={n}")),
            Command::InactivityTimer(n) => one(format!("AT+VIT={n}")),
            Command::CallerId(mode) => {
                let n = match mode {
                    CallerIdMode::Off => 0,
                    CallerIdMode::Formatted => 1,
                    CallerIdMode::Unformatted => 2,
                };
                one(if quirks.legacy_caller_id {
                    format!("AT#CID={n}")
                } else {
                    format!("AT+VCID={n}")
                })
            }
            Command::SilenceDetection {
                sensitivity,
                interval,
            } => one(format!("AT{p}VSD={sensitivity},{interval}")),
            Command::TransmitGain(n) => one(format!("AT+VGT={n}")),
            Command::ReceiveGain(n) => one(format!("AT+VGR={n}")),
            Command::EventMask(mask) => one(format!("AT+VEM={mask:08X}")),
            Command::FlowControl => {
                if quirks.no_ifc {
                    Ok(Vec::new())
                } else {
                    one("AT+IFC=2,2".into())
                }
            }
            Command::AutomaticHangup(n) => one(format!("AT+VNH={n}")),
            Command::DistinctiveRing(n) => one(format!("AT+VDR=1,{n}")),
            Command::Answer => one("ATA".into()),
            Command::Dial(number) => {
                if let Some(bad) = number
                    .chars()
                    .find(|c| !matches!(c, '0'..='9' | '*' | '#' | 'A'..='D' | 'W' | 'P' | 'T' | ',' | '!'))
                {
                    return Err(EncodeError::InvalidDialChar(bad));
                }
                one(format!("ATD{number};"))
            }
        }
    }

    fn tones(&self, tones: &[Tone]) -> Result<Vec<CommandLine>, EncodeError> {
        if tones.is_empty() {
            return Err(EncodeError::EmptyTones);
        }
        let mut text = format!("AT{}VTS=", self.prefix());
        for (i, tone) in tones.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            // Writing into a String cannot fail.
            let _ = match tone {
                Tone::Digit(d) => write!(text, "{d}"),
                Tone::Flash => write!(text, "!"),
                Tone::DigitFor(d, dur) => write!(text, "{{{d},{dur}}}"),
                Tone::FlashFor(dur) => write!(text, "{{!,{dur}}}"),
                Tone::Dual { f1, f2, duration } => {
                    for f in [*f1, *f2] {
                        if f != 0 && !(200..=3000).contains(&f) {
                            return Err(EncodeError::InvalidFrequency(f));
                        }
                    }
                    write!(text, "[{f1},{f2},{duration}]")
                }
            };
        }
        let mut lines = vec![CommandLine::new(text)];
        if self.profile.quirks.reselect_line_after_tones {
            lines.push(self.select(&self.profile.vls_line)?);
        }
        Ok(lines)
    }
}

/// Builds the host's side of a voice stream (`+VTX`, `+VTR`): audio with
/// every 0x10 doubled, and the host `<DLE>` codes of §3.5.
#[derive(Debug, Default, Clone)]
pub struct VoiceWriter {
    out: Vec<u8>,
}

impl VoiceWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends audio, escaped.
    pub fn audio(&mut self, samples: &[u8]) -> &mut Self {
        escape_audio_into(samples, &mut self.out);
        self
    }

    /// Appends a host code (`<DLE>!`, `<DLE>^`, `<DLE><ETX>`, …).
    pub fn code(&mut self, code: HostDle) -> &mut Self {
        self.out.extend_from_slice(&code.to_bytes());
        self
    }

    /// The bytes built so far, leaving the writer empty for reuse.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The bytes built so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.out
    }
}

/// The bytes that end a stream of `kind` from the host side (§3.1):
/// `<DLE>!` for `+VRX`, `<DLE><ETX>` for `+VTX`, `<DLE>^` for `+VTR`.
pub fn end_stream(kind: StreamKind) -> [u8; 2] {
    match kind {
        StreamKind::Receive => HostDle::AbortReceive.to_bytes(),
        StreamKind::Transmit => HostDle::EndOfTransmit.to_bytes(),
        StreamKind::FullDuplex => HostDle::EndFullDuplex.to_bytes(),
    }
}
