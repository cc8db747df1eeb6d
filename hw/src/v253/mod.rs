//! V.253 voice-modem result lines and DLE streams (hardware.md §3).
//!
//! Both directions of the serial link, without I/O, so the daemon's modem
//! driver and the emulated modem run the same code:
//!
//! * [`parser`]: the modem→host stream: result lines, caller ID, command
//!   echo, and in voice state the audio with its `<DLE>` event codes;
//! * [`encoder`]: the host→modem side: AT command lines spelt for a chipset
//!   profile, and the escaped outgoing audio with the host `<DLE>` codes;
//! * [`profile`]: chipset families and their quirks, as data;
//! * [`init`]: the initialisation sequence as a state machine;
//! * [`dle`] and [`result`]: the code tables both sides share;
//! * [`cid`]: the raw SDMF/MDMF caller ID of `AT+VCID=2`.
//!
//! A driver's loop, in outline:
//!
//! ```
//! use pickupd_hw::v253::{Command, Encoder, ModemEvent, ModemParser, ModemProfile};
//!
//! let profile = ModemProfile::conexant();
//! let mut parser = ModemParser::new(profile.parser_config());
//! let encoder = Encoder::new(&profile);
//! for line in encoder.encode(&Command::Receive).expect("V.253 set has +VRX") {
//!     if let Some(kind) = line.opens {
//!         parser.expect_stream(kind);
//!     }
//!     assert_eq!(line.to_bytes(), b"AT+VRX\r");
//! }
//! let mut audio = Vec::new();
//! parser.feed(b"\r\nCONNECT\r\n\x80\x10\x10\x81\x10R", |event| {
//!     if let ModemEvent::Audio(bytes) = event {
//!         audio.extend_from_slice(&bytes);
//!     }
//! });
//! assert_eq!(audio, [0x80, 0x10, 0x81]);
//! ```

pub mod cid;
pub mod dle;
pub mod encoder;
pub mod init;
pub mod parser;
pub mod profile;
pub mod result;

pub use cid::{decode_message, decode_unformatted, CidDecodeError};
pub use dle::{escape_audio, escape_audio_into, DleEvent, DtmfDigit, HostDle, DLE};
pub use encoder::{
    end_stream, CallerIdMode, Command, CommandLine, EncodeError, Encoder, Tone, VoiceWriter,
};
pub use init::{InitAction, InitError, InitOutcome, InitSequence};
pub use parser::{
    report_lines, EventLog, ModemEvent, ModemParser, ParserConfig, ParserMode, StreamError,
    StreamKind,
};
pub use profile::{
    select_vsm, CommandSet, ModemProfile, Quirks, SampleFormat, VsmChoice, VsmSyntax,
};
pub use result::{
    CallerId, CallerIdCollector, CallerIdField, CallerNumber, EventMask, ResultFormat, ResultLine,
    VlsEntry, VsmEntry,
};
