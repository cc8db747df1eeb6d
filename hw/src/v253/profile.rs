//! Chipset profiles (hardware.md §3.2, §3.3, §3.9): what differs between
//! voice-modem families, as data, so the driver and the emulated modem read
//! the same table and a new chipset is a new value, not new code.

use super::parser::ParserConfig;
use super::result::{ResultFormat, VsmEntry};

/// Which spelling of the voice commands the modem understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandSet {
    /// ITU-T V.253: `+FCLASS`, `+VLS`, `+VSM`, `+VRX`, …
    V253,
    /// Legacy Rockwell / USRobotics: `#CLS`, `#VLS`, `#VSM`, `#VRX`, …; no
    /// full duplex.
    Hash,
}

/// Sample encodings that appear in the `+VSM` tables of §3.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// 8-bit unsigned linear PCM (Rockwell/Conexant 130, V.253 1).
    UnsignedPcm8,
    /// 8-bit signed linear PCM.
    SignedPcm8,
    /// 16-bit signed linear PCM, little-endian ("Intel byte order").
    SignedPcm16Le,
    /// G.711 µ-law.
    MuLaw,
    /// G.711 A-law.
    ALaw,
    /// 4-bit ADPCM (IMA or vendor): unusable for tone detection.
    Adpcm4,
    /// 2-bit ADPCM (Rockwell 140).
    Adpcm2,
    /// GSM full rate (USRobotics 128).
    Gsm,
}

impl SampleFormat {
    /// Bits per sample on the wire.
    pub fn bits(self) -> u8 {
        match self {
            SampleFormat::UnsignedPcm8
            | SampleFormat::SignedPcm8
            | SampleFormat::MuLaw
            | SampleFormat::ALaw => 8,
            SampleFormat::SignedPcm16Le => 16,
            SampleFormat::Adpcm4 => 4,
            SampleFormat::Adpcm2 => 2,
            SampleFormat::Gsm => 13,
        }
    }

    /// Whether pickupd's tone detectors can run on it directly (§3.3: never
    /// ADPCM for tone detection).
    pub fn is_pcm(self) -> bool {
        matches!(
            self,
            SampleFormat::UnsignedPcm8
                | SampleFormat::SignedPcm8
                | SampleFormat::SignedPcm16Le
                | SampleFormat::MuLaw
                | SampleFormat::ALaw
        )
    }

    /// The format a `+VSM=?` method name and bit count stand for, by the
    /// names vgetty scans for (§3.3).
    pub fn from_vsm_name(name: &str, bits: u8) -> Option<Self> {
        let name = name.trim().to_ascii_uppercase();
        Some(match (name.as_str(), bits) {
            ("SIGNED PCM", 8) => SampleFormat::SignedPcm8,
            ("SIGNED PCM", 16) | ("16-BIT LINEAR", _) | ("LINEAR", 16) => {
                SampleFormat::SignedPcm16Le
            }
            ("UNSIGNED PCM", 8) | ("8-BIT LINEAR", _) => SampleFormat::UnsignedPcm8,
            ("ULAW", _) | ("U-LAW", _) | ("MULAW", _) => SampleFormat::MuLaw,
            ("ALAW", _) | ("A-LAW", _) => SampleFormat::ALaw,
            ("IMA ADPCM", _) | ("4-BIT ADPCM", _) | ("4 BIT ADPCM", _) | ("ADPCM", 4) => {
                SampleFormat::Adpcm4
            }
            ("2 BIT ADPCM", _) | ("2-BIT ADPCM", _) => SampleFormat::Adpcm2,
            _ => return None,
        })
    }

    /// Preference when several methods are offered: µ-law, then 16-bit
    /// linear, then 8-bit linear (§3.3); ADPCM last.
    fn rank(self) -> u8 {
        match self {
            SampleFormat::MuLaw => 0,
            SampleFormat::SignedPcm16Le => 1,
            SampleFormat::UnsignedPcm8 | SampleFormat::SignedPcm8 => 2,
            SampleFormat::ALaw => 3,
            SampleFormat::Gsm | SampleFormat::Adpcm4 | SampleFormat::Adpcm2 => 9,
        }
    }
}

/// How the `+VSM` command is spelt for this modem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VsmSyntax {
    /// `+VSM=<id>` only (Lucent 128/129, as vgetty sends them).
    IdOnly,
    /// `+VSM=<id>,<rate>`, retried as `<id>,<rate>,0,0` on `ERROR` (vgetty's
    /// generic V.253 driver).
    TwoArgsThenFour,
    /// Always `+VSM=<id>,<rate>,0,0`.
    FourArgs,
}

/// The compression method and rate to select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VsmChoice {
    /// The vendor's method number.
    pub id: u16,
    /// What the number means on this chipset.
    pub format: SampleFormat,
    /// Samples per second.
    pub rate: u32,
}

/// Picks the method from a `+VSM=?` answer by name (§3.3): PCM only,
/// µ-law preferred, then 16-bit, then 8-bit linear; the rate is `rate` if the
/// entry lists it (or lists no rates), else the entry is skipped.
pub fn select_vsm(entries: &[VsmEntry], rate: u32) -> Option<VsmChoice> {
    entries
        .iter()
        .filter_map(|entry| {
            let format = SampleFormat::from_vsm_name(&entry.name, entry.bits)?;
            (format.is_pcm() && entry.supports_rate(rate)).then_some(VsmChoice {
                id: entry.id,
                format,
                rate,
            })
        })
        .min_by_key(|choice| (choice.format.rank(), choice.id))
}

/// Differences in behaviour that change what the host sends or how it reads
/// the answers (§3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quirks {
    /// The modem rejects `AT+IFC=2,2`: do not send it (vgetty's reduced
    /// V.253 driver); the port's own RTS/CTS setting still applies.
    pub no_ifc: bool,
    /// `<DLE>t` means handset off-hook (Rockwell legacy), not TDD.
    pub dle_t_is_handset_off_hook: bool,
    /// `<DLE>s` is the only silence report (Lucent): it does not mean hang-up.
    pub s_is_only_silence_report: bool,
    /// After a beep (`#VTS`) DTMF detection stops until the line is selected
    /// again (USRobotics): the encoder re-sends the line selection after
    /// every tone command.
    pub reselect_line_after_tones: bool,
    /// Fax/data calling-tone detection needs this sample rate (ELSA: 7200),
    /// whatever the profile's method says.
    pub forced_sample_rate: Option<u32>,
    /// Caller ID is switched on with `#CID` rather than `+VCID` (older
    /// Rockwell).
    pub legacy_caller_id: bool,
    /// Selecting the line label does not take the line off-hook (legacy
    /// `#VLS`, where the label only routes audio): send `ATH1` after it.
    pub off_hook_needs_h1: bool,
}

/// One voice-modem family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemProfile {
    /// Name used in configuration files and logs.
    pub name: String,
    /// Command lines sent first, in order (reset, echo off, verbose results).
    pub init: Vec<String>,
    /// `+` or `#` command set.
    pub command_set: CommandSet,
    /// `+VLS` label that puts the modem off-hook on the line (§3.2).
    pub vls_line: String,
    /// `+VLS` label for on-hook with the local phone on the line.
    pub vls_on_hook: String,
    /// `+VLS` label of the handset (local phone connected to the modem), if
    /// the family has one.
    pub vls_handset: Option<String>,
    /// The method for 8 kHz PCM, or `None` to parse `+VSM=?` (generic V.253).
    pub vsm: Option<VsmChoice>,
    /// How `+VSM` is spelt.
    pub vsm_syntax: VsmSyntax,
    /// Family quirks.
    pub quirks: Quirks,
}

fn lines(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl ModemProfile {
    /// Conexant / Rockwell V.253 family: RC56LD, SmartACF (100722A),
    /// CX81801/CX06833 (102184B), and USR5637. `+VSM=130,8000` is 8-bit
    /// unsigned linear PCM here, not µ-law (§3.3).
    pub fn conexant() -> Self {
        Self {
            name: "conexant".into(),
            init: lines(&["ATZ", "ATE0V1Q0"]),
            command_set: CommandSet::V253,
            vls_line: "1".into(),
            vls_on_hook: "0".into(),
            vls_handset: Some("2".into()),
            vsm: Some(VsmChoice {
                id: 130,
                format: SampleFormat::UnsignedPcm8,
                rate: 8000,
            }),
            vsm_syntax: VsmSyntax::TwoArgsThenFour,
            quirks: Quirks::default(),
        }
    }

    /// Conexant HSF softmodem (100498E) and the USRobotics 56K softmodem:
    /// they offer `131 "ULAW"`, which the detectors prefer.
    pub fn conexant_hsf() -> Self {
        Self {
            name: "conexant-hsf".into(),
            vsm: Some(VsmChoice {
                id: 131,
                format: SampleFormat::MuLaw,
                rate: 8000,
            }),
            ..Self::conexant()
        }
    }

    /// Legacy Rockwell (`ATI` 14400, 33600, 56000, …; `ATI6` RCV288…): the
    /// `#` command set, `#VLS` labels 0 line / 1 handset, `<DLE>t` = handset
    /// off-hook, `#CID=1`.
    pub fn rockwell_legacy() -> Self {
        Self {
            name: "rockwell-legacy".into(),
            init: lines(&["ATZ", "ATE0V1Q0", "AT&K3", "AT#VTD=3F,3F,3F"]),
            command_set: CommandSet::Hash,
            vls_line: "0".into(),
            vls_on_hook: "0".into(),
            vls_handset: Some("1".into()),
            vsm: Some(VsmChoice {
                id: 130,
                format: SampleFormat::UnsignedPcm8,
                rate: 8000,
            }),
            vsm_syntax: VsmSyntax::TwoArgsThenFour,
            quirks: Quirks {
                dle_t_is_handset_off_hook: true,
                legacy_caller_id: true,
                off_hook_needs_h1: true,
                no_ifc: true,
                ..Quirks::default()
            },
        }
    }

    /// USRobotics (`ATI` 1445, 2886, 3361/3362/3366, 5601; PnP `USR0088`):
    /// `#` set, off-hook with `#VLS=0A`, ADPCM only (`#VSM=129,8000`), and
    /// DTMF detection that stops after a beep until `#VLS=0A` again.
    pub fn usrobotics() -> Self {
        Self {
            name: "usrobotics".into(),
            init: lines(&["ATZ", "ATE0V1Q0", "AT&H1&R2&I0"]),
            command_set: CommandSet::Hash,
            vls_line: "0A".into(),
            vls_on_hook: "0".into(),
            vls_handset: None,
            vsm: Some(VsmChoice {
                id: 129,
                format: SampleFormat::Adpcm4,
                rate: 8000,
            }),
            vsm_syntax: VsmSyntax::TwoArgsThenFour,
            quirks: Quirks {
                no_ifc: true,
                reselect_line_after_tones: true,
                legacy_caller_id: true,
                ..Quirks::default()
            },
        }
    }

    /// Lucent/Agere (Zoom V.90 "Z207", Venus "U052099a"): init
    /// `AT+VIT=0;+VPR=0`, `+VLS=0`; 16-bit linear with `+VSM=129`; `<DLE>s`
    /// is the only silence report.
    pub fn lucent() -> Self {
        Self {
            name: "lucent".into(),
            init: lines(&["ATZ", "ATE0V1Q0", "AT+VIT=0;+VPR=0"]),
            command_set: CommandSet::V253,
            vls_line: "1".into(),
            vls_on_hook: "0".into(),
            vls_handset: Some("2".into()),
            vsm: Some(VsmChoice {
                id: 129,
                format: SampleFormat::SignedPcm16Le,
                rate: 8000,
            }),
            vsm_syntax: VsmSyntax::IdOnly,
            quirks: Quirks {
                s_is_only_silence_report: true,
                ..Quirks::default()
            },
        }
    }

    /// Generic V.253 (Multi-Tech MT5634ZPX, Agere AEIGPM560LKTF1, …): the
    /// method comes from parsing `+VSM=?`.
    pub fn generic_v253() -> Self {
        Self {
            name: "v253".into(),
            init: lines(&["ATZ", "ATE0V1Q0"]),
            command_set: CommandSet::V253,
            vls_line: "1".into(),
            vls_on_hook: "0".into(),
            vls_handset: Some("14".into()),
            vsm: None,
            vsm_syntax: VsmSyntax::TwoArgsThenFour,
            quirks: Quirks::default(),
        }
    }

    /// vgetty's reduced ("ugly") V.253 driver, for modems rejecting
    /// `AT+IFC`.
    pub fn generic_v253_reduced() -> Self {
        Self {
            name: "v253-reduced".into(),
            quirks: Quirks {
                no_ifc: true,
                ..Quirks::default()
            },
            ..Self::generic_v253()
        }
    }

    /// ELSA ML 56k Fun: generic V.253 that needs 7200 samples/s for fax and
    /// data calling-tone detection.
    pub fn elsa() -> Self {
        Self {
            name: "elsa".into(),
            quirks: Quirks {
                forced_sample_rate: Some(7200),
                ..Quirks::default()
            },
            ..Self::generic_v253()
        }
    }

    /// Every built-in profile.
    pub fn all() -> Vec<Self> {
        vec![
            Self::conexant(),
            Self::conexant_hsf(),
            Self::rockwell_legacy(),
            Self::usrobotics(),
            Self::lucent(),
            Self::generic_v253(),
            Self::generic_v253_reduced(),
            Self::elsa(),
        ]
    }

    /// The built-in profile of that name.
    pub fn by_name(name: &str) -> Option<Self> {
        Self::all().into_iter().find(|p| p.name == name)
    }

    /// The sample rate to ask for: 8000 unless a quirk forces another.
    pub fn sample_rate(&self) -> u32 {
        self.quirks
            .forced_sample_rate
            .or(self.vsm.map(|v| v.rate))
            .unwrap_or(8000)
    }

    /// Parser settings matching this family.
    pub fn parser_config(&self) -> ParserConfig {
        ParserConfig {
            format: ResultFormat::Verbose,
            rockwell_t: self.quirks.dle_t_is_handset_off_hook,
            lucent_s: self.quirks.s_is_only_silence_report,
            ..ParserConfig::default()
        }
    }
}
