//! What each chipset family answers (hardware.md §3.2, §3.3, §3.6, §3.9):
//! the `+VSM=?` and `+VLS=?` lists, the caller-ID spelling, the
//! identification string, and which of hw's profile quirks change the
//! modem's behaviour. Derived from hw's [`ModemProfile`] so the emulated
//! modem and the driver read one table of families.

use pickupd_hw::v253::{CommandSet, ModemProfile, SampleFormat};

/// One `+VSM=?` method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VsmMethod {
    /// Vendor method number.
    pub id: u16,
    /// Name as the modem prints it; hosts select by name (§3.3).
    pub name: &'static str,
    /// Bits per sample as printed.
    pub bits: u8,
    /// Rates offered.
    pub rates: &'static [u32],
    /// What the emulator puts on the wire for it.
    pub format: SampleFormat,
}

impl VsmMethod {
    fn new(
        id: u16,
        name: &'static str,
        bits: u8,
        rates: &'static [u32],
        format: SampleFormat,
    ) -> Self {
        Self {
            id,
            name,
            bits,
            rates,
            format,
        }
    }

    /// The list line: `cml,"name",bits,tm,(rates),(scs),(sel)`.
    pub fn list_line(&self) -> String {
        let rates: Vec<String> = self.rates.iter().map(u32::to_string).collect();
        format!(
            "{},\"{}\",{},0,({}),(0),(0)",
            self.id,
            self.name,
            self.bits,
            rates.join(",")
        )
    }
}

/// One `+VLS` label: its primitives, event masks (§3.6: event 0 is the most
/// significant bit) and whether it puts the modem off-hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlsLabel {
    /// The label as the host sends it (`1`, `0A`).
    pub label: &'static str,
    /// Primitives as listed (`T` = telephone line).
    pub primitives: &'static str,
    /// Events reported while transmitting, receiving, idle.
    pub masks: [u32; 3],
    /// Selecting it takes the line off-hook (`None`: leaves the hook alone,
    /// legacy `#VLS` where `ATH1` does that).
    pub off_hook: Option<bool>,
}

/// The event bit of §3.6 in a 32-bit mask.
pub const fn event_bit(n: u32) -> u32 {
    1 << (31 - n)
}

/// Call-waiting beep (§3.6 event 15).
pub const EV_CALL_WAITING: u32 = event_bit(15);
/// Call waiting with caller ID (event 28).
pub const EV_CIDCW: u32 = event_bit(28);

/// Conexant's line-label masks as printed in §3.6
/// (`1,"T",0B8433C1,0FE431C1,0B8431C1`): no call-waiting bit.
const CONEXANT_LINE: [u32; 3] = [0x0B84_33C1, 0x0FE4_31C1, 0x0B84_31C1];
/// Idle on-hook masks: caller ID, distinctive ring, ring (events 0, 2, 3).
const ON_HOOK: [u32; 3] = [0, 0, 0xB000_0000];

/// Everything about a family that shapes the modem's answers.
#[derive(Debug, Clone)]
pub struct Chipset {
    /// The profile it was derived from (command set, labels, quirks).
    pub profile: ModemProfile,
    /// `+VSM=?` entries.
    pub methods: Vec<VsmMethod>,
    /// `+VLS` labels.
    pub labels: Vec<VlsLabel>,
    /// Caller ID as `KEY = value` (V.253 modems) or `KEY=value` (older
    /// Rockwell, §3.8).
    pub cid_spaced: bool,
    /// The `ATI` answer by which vgetty identifies the family (§3.9).
    pub ident: &'static str,
}

const RATES_RC56: &[u32] = &[7200, 8000, 11025];
const RATES_HSF: &[u32] = &[7200, 8000];
const RATES_8K: &[u32] = &[8000];

impl Chipset {
    /// The family behind `profile`: the built-in profiles by name, anything
    /// else by command set; the profile's own method is always listed.
    pub fn for_profile(profile: &ModemProfile) -> Self {
        use SampleFormat::*;
        let rc56 = || {
            vec![
                VsmMethod::new(1, "UNSIGNED PCM", 8, RATES_RC56, UnsignedPcm8),
                VsmMethod::new(129, "IMA ADPCM", 4, RATES_RC56, Adpcm4),
                VsmMethod::new(130, "UNSIGNED PCM", 8, RATES_RC56, UnsignedPcm8),
                VsmMethod::new(140, "2 Bit ADPCM", 2, RATES_RC56, Adpcm2),
                VsmMethod::new(141, "4 Bit ADPCM", 4, RATES_RC56, Adpcm4),
            ]
        };
        let v253_labels = |line: [u32; 3], handset: &'static str| {
            vec![
                VlsLabel {
                    label: "0",
                    primitives: "",
                    masks: ON_HOOK,
                    off_hook: Some(false),
                },
                VlsLabel {
                    label: "1",
                    primitives: "T",
                    masks: line,
                    off_hook: Some(true),
                },
                VlsLabel {
                    label: "2",
                    primitives: "L",
                    masks: ON_HOOK,
                    off_hook: Some(false),
                },
                VlsLabel {
                    label: "3",
                    primitives: "LT",
                    masks: line,
                    off_hook: Some(true),
                },
                VlsLabel {
                    label: "4",
                    primitives: "S",
                    masks: ON_HOOK,
                    off_hook: Some(false),
                },
                VlsLabel {
                    label: "5",
                    primitives: "ST",
                    masks: line,
                    off_hook: Some(true),
                },
                VlsLabel {
                    label: handset,
                    primitives: "H",
                    masks: ON_HOOK,
                    off_hook: Some(false),
                },
            ]
        };
        let (methods, labels, cid_spaced, ident) = match profile.name.as_str() {
            "conexant" => (rc56(), v253_labels(CONEXANT_LINE, "2"), true, "56000"),
            "conexant-hsf" => (
                vec![
                    VsmMethod::new(1, "UNSIGNED PCM", 8, RATES_HSF, UnsignedPcm8),
                    VsmMethod::new(128, "8-BIT LINEAR", 8, RATES_HSF, UnsignedPcm8),
                    VsmMethod::new(129, "ADPCM", 4, RATES_HSF, Adpcm4),
                    VsmMethod::new(130, "UNSIGNED PCM", 8, RATES_HSF, UnsignedPcm8),
                    VsmMethod::new(131, "ULAW", 8, RATES_HSF, MuLaw),
                    VsmMethod::new(132, "ALAW", 8, RATES_HSF, ALaw),
                    VsmMethod::new(133, "LINEAR", 16, RATES_HSF, SignedPcm16Le),
                ],
                v253_labels(CONEXANT_LINE, "2"),
                true,
                "HSF 56K",
            ),
            "rockwell-legacy" => (
                rc56(),
                vec![
                    VlsLabel {
                        label: "0",
                        primitives: "T",
                        masks: CONEXANT_LINE,
                        off_hook: None,
                    },
                    VlsLabel {
                        label: "1",
                        primitives: "H",
                        masks: ON_HOOK,
                        off_hook: None,
                    },
                    VlsLabel {
                        label: "2",
                        primitives: "S",
                        masks: ON_HOOK,
                        off_hook: None,
                    },
                    VlsLabel {
                        label: "3",
                        primitives: "M",
                        masks: ON_HOOK,
                        off_hook: None,
                    },
                    VlsLabel {
                        label: "4",
                        primitives: "ST",
                        masks: CONEXANT_LINE,
                        off_hook: None,
                    },
                ],
                false,
                "33600",
            ),
            "usrobotics" => (
                vec![
                    VsmMethod::new(128, "GSM", 8, RATES_8K, Gsm),
                    VsmMethod::new(129, "ADPCM", 4, RATES_8K, Adpcm4),
                ],
                vec![
                    VlsLabel {
                        label: "0",
                        primitives: "",
                        masks: ON_HOOK,
                        off_hook: Some(false),
                    },
                    VlsLabel {
                        label: "0A",
                        primitives: "T",
                        masks: CONEXANT_LINE,
                        off_hook: Some(true),
                    },
                    VlsLabel {
                        label: "2",
                        primitives: "S",
                        masks: ON_HOOK,
                        off_hook: Some(false),
                    },
                ],
                true,
                "5601",
            ),
            "lucent" => (
                vec![
                    VsmMethod::new(128, "8-BIT LINEAR", 8, RATES_8K, UnsignedPcm8),
                    VsmMethod::new(129, "16-BIT LINEAR", 16, RATES_8K, SignedPcm16Le),
                    VsmMethod::new(130, "8-BIT ALAW", 8, RATES_8K, ALaw),
                    VsmMethod::new(131, "8-BIT ULAW", 8, RATES_8K, MuLaw),
                    VsmMethod::new(132, "IMA ADPCM", 4, RATES_8K, Adpcm4),
                ],
                // The Venus call-waiting modem reports the beep (event 15)
                // and CIDCW (event 28) on the line label.
                v253_labels(CONEXANT_LINE.map(|m| m | EV_CALL_WAITING | EV_CIDCW), "2"),
                true,
                "Z207",
            ),
            _ => (
                vec![
                    VsmMethod::new(0, "SIGNED PCM", 8, RATES_RC56, SignedPcm8),
                    VsmMethod::new(1, "UNSIGNED PCM", 8, RATES_RC56, UnsignedPcm8),
                    VsmMethod::new(2, "SIGNED PCM", 16, RATES_RC56, SignedPcm16Le),
                    VsmMethod::new(4, "ULAW", 8, RATES_RC56, MuLaw),
                    VsmMethod::new(5, "ALAW", 8, RATES_RC56, ALaw),
                ],
                v253_labels(CONEXANT_LINE, "14"),
                profile.command_set == CommandSet::V253,
                "V.253",
            ),
        };
        let mut chipset = Self {
            profile: profile.clone(),
            methods,
            labels,
            cid_spaced,
            ident,
        };
        if let Some(choice) = profile.vsm {
            if !chipset.methods.iter().any(|m| m.id == choice.id) {
                chipset.methods.push(VsmMethod::new(
                    choice.id,
                    format_name(choice.format),
                    choice.format.bits(),
                    RATES_RC56,
                    choice.format,
                ));
            }
        }
        chipset
    }

    /// The method with that number.
    pub fn method(&self, id: u16) -> Option<&VsmMethod> {
        self.methods.iter().find(|m| m.id == id)
    }

    /// The label of that spelling (case-insensitive, as modems parse it).
    pub fn label(&self, label: &str) -> Option<&VlsLabel> {
        self.labels
            .iter()
            .find(|l| l.label.eq_ignore_ascii_case(label))
    }

    /// Whether the line label reports the call-waiting beep (`<DLE>w`).
    pub fn reports_call_waiting(&self) -> bool {
        self.label(&self.profile.vls_line)
            .is_some_and(|l| l.masks.iter().any(|m| m & EV_CALL_WAITING != 0))
    }

    /// Whether it reports call waiting with caller ID (`<DLE>X` … `<DLE>.`).
    pub fn reports_cidcw(&self) -> bool {
        self.label(&self.profile.vls_line)
            .is_some_and(|l| l.masks.iter().any(|m| m & EV_CIDCW != 0))
    }

    /// The `+`/`#` prefix of the voice commands.
    pub fn prefix(&self) -> u8 {
        match self.profile.command_set {
            CommandSet::V253 => b'+',
            CommandSet::Hash => b'#',
        }
    }
}

fn format_name(format: SampleFormat) -> &'static str {
    match format {
        SampleFormat::UnsignedPcm8 => "UNSIGNED PCM",
        SampleFormat::SignedPcm8 | SampleFormat::SignedPcm16Le => "SIGNED PCM",
        SampleFormat::MuLaw => "ULAW",
        SampleFormat::ALaw => "ALAW",
        SampleFormat::Adpcm4 => "IMA ADPCM",
        SampleFormat::Adpcm2 => "2 Bit ADPCM",
        SampleFormat::Gsm => "GSM",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pickupd_hw::v253::{select_vsm, VlsEntry, VsmEntry};

    #[test]
    fn every_profile_lists_its_own_method_and_hw_parses_the_lists() {
        for profile in ModemProfile::all() {
            let chipset = Chipset::for_profile(&profile);
            let entries: Vec<VsmEntry> = chipset
                .methods
                .iter()
                .filter_map(|m| VsmEntry::parse(&m.list_line()))
                .collect();
            assert_eq!(entries.len(), chipset.methods.len(), "{}", profile.name);
            if let Some(choice) = profile.vsm {
                assert!(chipset.method(choice.id).is_some(), "{}", profile.name);
            } else {
                assert!(select_vsm(&entries, profile.sample_rate()).is_some());
            }
            assert!(
                chipset.label(&profile.vls_line).is_some(),
                "{}",
                profile.name
            );
        }
    }

    #[test]
    fn only_lucent_reports_call_waiting() {
        let lucent = Chipset::for_profile(&ModemProfile::lucent());
        assert!(lucent.reports_call_waiting());
        let conexant = Chipset::for_profile(&ModemProfile::conexant());
        assert!(!conexant.reports_call_waiting());
        let label = conexant.label("1").expect("line label");
        let line = format!(
            "1,\"T\",{:08X},{:08X},{:08X}",
            label.masks[0], label.masks[1], label.masks[2]
        );
        assert_eq!(line, "1,\"T\",0B8433C1,0FE431C1,0B8431C1");
        assert!(!VlsEntry::parse(&line)
            .expect("parses")
            .reports_call_waiting());
    }
}
