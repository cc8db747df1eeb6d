//! `<DLE>` shielded codes in both directions (hardware.md §3.4, §3.5).
//!
//! The same letter means different things by direction (`d` is dial tone from
//! the modem but "gain down" from the host; `r` is ringback versus "resume"),
//! so the two directions have separate types and separate tables: mixing them
//! up is a type error rather than a misread tone.

/// The data-link escape byte that introduces every shielded code.
pub const DLE: u8 = 0x10;
/// `<ETX>`: after `<DLE>`, the end of a voice stream (both directions).
pub const ETX: u8 = 0x03;
/// `<SUB>`: after `<DLE>` from some modems, two data bytes 0x10.
pub const SUB: u8 = 0x1A;
/// `<CAN>`: after `<DLE>` from the host, discard queued transmit audio.
pub const CAN: u8 = 0x18;
/// `<NUL>`: after `<DLE>` from the host, a no-op (ZyXEL inactivity timer).
pub const NUL: u8 = 0x00;

/// A DTMF digit as the modem reports it (`0`–`9`, `*`, `#`, `A`–`D`).
///
/// Kept as its ASCII byte so it prints and compares naturally; only the
/// sixteen valid digits can be constructed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtmfDigit(u8);

impl DtmfDigit {
    /// The digit for an ASCII byte, or `None` when the byte is not one of the
    /// sixteen DTMF symbols.
    pub fn from_ascii(byte: u8) -> Option<Self> {
        match byte {
            b'0'..=b'9' | b'*' | b'#' | b'A'..=b'D' => Some(Self(byte)),
            _ => None,
        }
    }

    /// The digit as a character.
    pub fn as_char(self) -> char {
        char::from(self.0)
    }

    /// The digit as its ASCII byte (also its `<DLE>` code, §3.4).
    pub fn as_ascii(self) -> u8 {
        self.0
    }
}

impl std::fmt::Display for DtmfDigit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// An event the modem reports with a `<DLE>` code (§3.4), in command or voice
/// state.
///
/// Aliases of the table (`K` for busy, `i` for dial tone, …) map to the same
/// variant; [`DleEvent::code`] gives the canonical code back, which is what an
/// emulated modem sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DleEvent {
    /// `<DLE><ETX>`: the modem ended the voice stream; it returns to command
    /// state and normally follows with a result line (`OK`).
    EndOfStream,
    /// A DTMF digit. Within a `/` … `~` shield only the first is reported.
    Dtmf(DtmfDigit),
    /// `/`: start of DTMF shielding (the digit is held down).
    DtmfShieldStart,
    /// `~` (or 0x7F, Silicon Labs AN93): end of DTMF shielding (released).
    DtmfShieldEnd,
    /// `R`: ring.
    Ring,
    /// `b` or `K`: busy tone, repeated about every 4 s.
    Busy,
    /// `d` or `i`: dial tone.
    DialTone,
    /// `r`: ringback.
    Ringback,
    /// `c` or `m`: fax calling tone (1100 Hz).
    FaxCallingTone,
    /// `e`: data calling tone (1300 Hz).
    DataCallingTone,
    /// `f`: data answer tone (2225 Hz).
    DataAnswerTone,
    /// `a`: answer tone (2100 Hz).
    AnswerTone,
    /// `s`: silence without prior voice, presumed hang-up. On Lucent modems
    /// (profile quirk `s_is_only_silence_report`) it is reported as
    /// [`DleEvent::Silence`] instead, because those send `s` for all silence.
    NoVoiceEnergy,
    /// `q`: silence after voice, presumed end of message.
    QuietAfterVoice,
    /// `s` from a modem that sends it for every silence (Lucent): the caller
    /// cannot tell a hang-up from a pause.
    Silence,
    /// `h` or `p`: local handset on-hook.
    HandsetOnHook,
    /// `H` or `P` (and `t` on Rockwell legacy modems): local handset off-hook.
    HandsetOffHook,
    /// `l`: loop current interrupted: the far end released.
    LoopBreak,
    /// `L`: loop polarity reversal.
    LoopPolarityReversal,
    /// `w`: call-waiting tone (beep) detected by the modem (event 15, §3.6).
    CallWaiting,
    /// `J`: special information tone.
    SitTone,
    /// `$`: bong tone.
    BongTone,
    /// `t`: TDD detected (except on Rockwell legacy modems, see
    /// [`DleEvent::HandsetOffHook`]).
    TddDetected,
    /// `v` or `V`: voice detected.
    VoiceDetected,
    /// `o`: the modem's receive buffer overran; audio was lost.
    ReceiveOverrun,
    /// `u`: the modem's transmit buffer ran dry.
    TransmitUnderrun,
    /// `E`: the modem rejected the voice format.
    InvalidVoiceFormat,
    /// `Y`: data lost.
    LostData,
    /// `T`: timing mark.
    TimingMark,
    /// `Q`: XON.
    Xon,
    /// `S`: XOFF.
    Xoff,
    /// A code the table does not list. Reported, never dropped, so a new
    /// chipset's events show up in the log instead of vanishing.
    Unknown(u8),
}

impl DleEvent {
    /// The event for the byte after `<DLE>`, for the codes that stand alone.
    ///
    /// Returns `None` for the codes that carry data or structure (`<DLE>`,
    /// `<SUB>`, `X`, `.`), which the stream parser handles itself.
    /// `rockwell_t` selects the Rockwell meaning of `t` (handset off-hook),
    /// `lucent_s` the Lucent meaning of `s` (any silence), §3.9.
    pub fn from_code(code: u8, rockwell_t: bool, lucent_s: bool) -> Option<Self> {
        use DleEvent::*;
        let event = match code {
            DLE | SUB | b'X' | b'.' => return None,
            ETX => EndOfStream,
            b'/' => DtmfShieldStart,
            b'~' | 0x7F => DtmfShieldEnd,
            b'R' => Ring,
            b'b' | b'K' => Busy,
            b'd' | b'i' => DialTone,
            b'r' => Ringback,
            b'c' | b'm' => FaxCallingTone,
            b'e' => DataCallingTone,
            b'f' => DataAnswerTone,
            b'a' => AnswerTone,
            b's' if lucent_s => Silence,
            b's' => NoVoiceEnergy,
            b'q' => QuietAfterVoice,
            b'h' | b'p' => HandsetOnHook,
            b'H' | b'P' => HandsetOffHook,
            b't' if rockwell_t => HandsetOffHook,
            b't' => TddDetected,
            b'l' => LoopBreak,
            b'L' => LoopPolarityReversal,
            b'w' => CallWaiting,
            b'J' => SitTone,
            b'$' => BongTone,
            b'v' | b'V' => VoiceDetected,
            b'o' => ReceiveOverrun,
            b'u' => TransmitUnderrun,
            b'E' => InvalidVoiceFormat,
            b'Y' => LostData,
            b'T' => TimingMark,
            b'Q' => Xon,
            b'S' => Xoff,
            other => match DtmfDigit::from_ascii(other) {
                Some(digit) => Dtmf(digit),
                None => Unknown(other),
            },
        };
        Some(event)
    }

    /// The canonical byte that follows `<DLE>` for this event, as a V.253
    /// modem sends it (the emulated modem uses this).
    ///
    /// [`DleEvent::Silence`] encodes as `s`, the only code a Lucent modem has
    /// for it.
    pub fn code(self) -> u8 {
        use DleEvent::*;
        match self {
            EndOfStream => ETX,
            Dtmf(digit) => digit.as_ascii(),
            DtmfShieldStart => b'/',
            DtmfShieldEnd => b'~',
            Ring => b'R',
            Busy => b'b',
            DialTone => b'd',
            Ringback => b'r',
            FaxCallingTone => b'c',
            DataCallingTone => b'e',
            DataAnswerTone => b'f',
            AnswerTone => b'a',
            NoVoiceEnergy | Silence => b's',
            QuietAfterVoice => b'q',
            HandsetOnHook => b'h',
            HandsetOffHook => b'H',
            LoopBreak => b'l',
            LoopPolarityReversal => b'L',
            CallWaiting => b'w',
            SitTone => b'J',
            BongTone => b'$',
            TddDetected => b't',
            VoiceDetected => b'v',
            ReceiveOverrun => b'o',
            TransmitUnderrun => b'u',
            InvalidVoiceFormat => b'E',
            LostData => b'Y',
            TimingMark => b'T',
            Xon => b'Q',
            Xoff => b'S',
            Unknown(code) => code,
        }
    }

    /// The two bytes `<DLE><code>` the modem sends for this event.
    pub fn to_bytes(self) -> [u8; 2] {
        [DLE, self.code()]
    }
}

/// A `<DLE>` code the host sends to the modem (§3.5, Rockwell RC56LD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostDle {
    /// `<DLE>u`: transmit gain up one step.
    GainUp,
    /// `<DLE>d`: transmit gain down one step.
    GainDown,
    /// `<DLE>p`: pause playback.
    Pause,
    /// `<DLE>r`: resume playback.
    Resume,
    /// `<DLE><ETX>`: end of transmitted voice (ends `+VTX`; answer `OK`).
    EndOfTransmit,
    /// `<DLE><CAN>`: discard the audio queued in the modem.
    ClearTransmit,
    /// `<DLE>!`: abort receive (ends `+VRX`; the modem answers
    /// `<DLE><ETX>` and `OK`).
    AbortReceive,
    /// `<DLE>^`: end full duplex (`+VTR`).
    EndFullDuplex,
    /// `<DLE><NUL>`: no-op that restarts the inactivity timer (ZyXEL).
    NoOp,
}

impl HostDle {
    /// The byte after `<DLE>`.
    pub fn code(self) -> u8 {
        match self {
            HostDle::GainUp => b'u',
            HostDle::GainDown => b'd',
            HostDle::Pause => b'p',
            HostDle::Resume => b'r',
            HostDle::EndOfTransmit => ETX,
            HostDle::ClearTransmit => CAN,
            HostDle::AbortReceive => b'!',
            HostDle::EndFullDuplex => b'^',
            HostDle::NoOp => NUL,
        }
    }

    /// The code for the byte after `<DLE>` from the host, or `None` when the
    /// byte is not a host code (the emulated modem's parser uses this).
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            b'u' => HostDle::GainUp,
            b'd' => HostDle::GainDown,
            b'p' => HostDle::Pause,
            b'r' => HostDle::Resume,
            ETX => HostDle::EndOfTransmit,
            CAN => HostDle::ClearTransmit,
            b'!' => HostDle::AbortReceive,
            b'^' => HostDle::EndFullDuplex,
            NUL => HostDle::NoOp,
            _ => return None,
        })
    }

    /// The two bytes `<DLE><code>` on the wire.
    pub fn to_bytes(self) -> [u8; 2] {
        [DLE, self.code()]
    }
}

/// Appends `audio` to `out` with every 0x10 doubled, as both directions
/// require inside a voice stream (§3.1 `+VTX`, §3.4 `<DLE><DLE>`).
///
/// Stateless, so chunks can be escaped independently and concatenated.
pub fn escape_audio_into(audio: &[u8], out: &mut Vec<u8>) {
    out.reserve(audio.len() + audio.len() / 64 + 1);
    for chunk in audio.split_inclusive(|&b| b == DLE) {
        out.extend_from_slice(chunk);
        if chunk.last() == Some(&DLE) {
            out.push(DLE);
        }
    }
}

/// [`escape_audio_into`] into a new buffer.
pub fn escape_audio(audio: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(audio.len() + 8);
    escape_audio_into(audio, &mut out);
    out
}
