//! DAHDI constants (hardware.md §1.2, §1.5–1.13), with enums where the
//! driver matches on them.
//!
//! Values are copied from the spec's tables (which were taken from
//! dahdi-linux `user.h`/`kernel.h`); the raw `i32` constants stay available
//! because the kernel structures carry plain `int`s.

#![forbid(unsafe_code)]

/// The ioctl "type" byte of every DAHDI request (`DAHDI_CODE`).
pub const DAHDI_CODE: u8 = 0xDA;

/// errno of "an event is queued" (`ELAST` in `user.h`): glibc and musl have
/// no `ELAST`, so user space sees the literal 500 (§1.7).
pub const ELAST: i32 = 500;

// ---------------------------------------------------------------------------
// Devices (§1.2)

/// Character-device major of the fixed DAHDI nodes (`DAHDI_MAJOR`).
pub const DAHDI_MAJOR: u32 = 196;
/// Minor of `/dev/dahdi/ctl`.
pub const DAHDI_CTL: u32 = 0;
/// Minor of `/dev/dahdi/transcode`.
pub const DAHDI_TRANSCODE: u32 = 250;
/// Minor of `/dev/dahdi/timer`.
pub const DAHDI_TIMER: u32 = 253;
/// Minor of `/dev/dahdi/channel`, the generic opener that needs `SPECIFY`.
pub const DAHDI_CHANNEL: u32 = 254;
/// Minor of `/dev/dahdi/pseudo`.
pub const DAHDI_PSEUDO: u32 = 255;
/// Highest global channel number (size of the `dahdi_channels` minor region).
pub const DAHDI_MAX_CHANNELS: i32 = 1024;
/// Highest span number.
pub const DAHDI_MAX_SPANS: i32 = 128;
/// Highest conference number accepted by `SETCONF`.
pub const DAHDI_MAX_CONF: i32 = 1024;
/// Path of the generic channel opener below the device root (§1.4 step 1).
pub const CHANNEL_NODE: &str = "dahdi/channel";

// ---------------------------------------------------------------------------
// Buffers (§1.5)

/// Samples per kernel tick: 8 samples = 1 ms at 8 kHz.
pub const DAHDI_CHUNKSIZE: i32 = 8;
/// Sample rate of every DAHDI channel.
pub const DAHDI_SAMPLE_RATE: i32 = 8000;
/// Block size after open (128 ms): far too coarse, always set it.
pub const DAHDI_DEFAULT_BLOCKSIZE: i32 = 1024;
/// Smallest block size `SET_BLOCKSIZE` accepts.
pub const DAHDI_MIN_BLOCKSIZE: i32 = 16;
/// Largest block size `SET_BLOCKSIZE` accepts.
pub const DAHDI_MAX_BLOCKSIZE: i32 = 8192;
/// Buffers per direction after open.
pub const DAHDI_DEFAULT_NUM_BUFS: i32 = 2;
/// Upper clamp of `numbufs` in `SET_BUFINFO`.
pub const DAHDI_MAX_NUM_BUFS: i32 = 32;
/// Upper bound of `bufsize × numbufs` in `SET_BUFINFO`.
pub const DAHDI_MAX_BUF_SPACE: i32 = 32768;
/// Buffer policy: start at once.
pub const DAHDI_POLICY_IMMEDIATE: i32 = 0;
/// Buffer policy: start when all buffers are full.
pub const DAHDI_POLICY_WHEN_FULL: i32 = 1;
/// Buffer policy: start when half of the buffers are full (transmit only).
pub const DAHDI_POLICY_HALF_FULL: i32 = 2;
/// Block size Asterisk uses and pickupd sets (20 ms).
pub const PICKUPD_BLOCKSIZE: i32 = 160;

// ---------------------------------------------------------------------------
// Events (§1.7, §1.9)

/// Capacity of a channel's event queue.
pub const DAHDI_MAX_EVENTSIZE: usize = 64;

pub const DAHDI_EVENT_NONE: i32 = 0;
pub const DAHDI_EVENT_ONHOOK: i32 = 1;
pub const DAHDI_EVENT_RINGOFFHOOK: i32 = 2;
pub const DAHDI_EVENT_WINKFLASH: i32 = 3;
pub const DAHDI_EVENT_ALARM: i32 = 4;
pub const DAHDI_EVENT_NOALARM: i32 = 5;
pub const DAHDI_EVENT_ABORT: i32 = 6;
pub const DAHDI_EVENT_OVERRUN: i32 = 7;
pub const DAHDI_EVENT_BADFCS: i32 = 8;
pub const DAHDI_EVENT_DIALCOMPLETE: i32 = 9;
pub const DAHDI_EVENT_RINGERON: i32 = 10;
pub const DAHDI_EVENT_RINGEROFF: i32 = 11;
pub const DAHDI_EVENT_HOOKCOMPLETE: i32 = 12;
pub const DAHDI_EVENT_BITSCHANGED: i32 = 13;
pub const DAHDI_EVENT_PULSE_START: i32 = 14;
pub const DAHDI_EVENT_TIMER_EXPIRED: i32 = 15;
pub const DAHDI_EVENT_TIMER_PING: i32 = 16;
pub const DAHDI_EVENT_POLARITY: i32 = 17;
pub const DAHDI_EVENT_RINGBEGIN: i32 = 18;
pub const DAHDI_EVENT_EC_DISABLED: i32 = 19;
pub const DAHDI_EVENT_REMOVED: i32 = 20;
pub const DAHDI_EVENT_NEONMWI_ACTIVE: i32 = 21;
pub const DAHDI_EVENT_NEONMWI_INACTIVE: i32 = 22;
pub const DAHDI_EVENT_TX_CED_DETECTED: i32 = 23;
pub const DAHDI_EVENT_RX_CED_DETECTED: i32 = 24;
pub const DAHDI_EVENT_TX_CNG_DETECTED: i32 = 25;
pub const DAHDI_EVENT_RX_CNG_DETECTED: i32 = 26;
pub const DAHDI_EVENT_EC_NLP_DISABLED: i32 = 27;
pub const DAHDI_EVENT_EC_NLP_ENABLED: i32 = 28;
pub const DAHDI_EVENT_READ_OVERRUN: i32 = 29;
pub const DAHDI_EVENT_WRITE_UNDERRUN: i32 = 30;
/// OR-ed with the ASCII digit of a pulse-dialled digit.
pub const DAHDI_EVENT_PULSEDIGIT: i32 = 1 << 16;
/// OR-ed with the ASCII digit of a hardware DTMF key-down.
pub const DAHDI_EVENT_DTMFDOWN: i32 = 1 << 17;
/// OR-ed with the ASCII digit of a hardware DTMF key-up.
pub const DAHDI_EVENT_DTMFUP: i32 = 1 << 18;

/// One event from `DAHDI_GETEVENT` (§1.9); `DAHDI_EVENT_NONE` is not an
/// event but "queue empty", which [`DahdiEvent::from_code`] maps to `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DahdiEvent {
    /// FXS port: phone on-hook longer than `rxflashtime`; FXO port
    /// (kewl/ground start): loop current lost, the far end hung up.
    OnHook,
    /// FXS port: phone off-hook; FXO port: a ring burst ended.
    RingOffHook,
    /// FXS port: hook flash (on-hook between 200 ms and `rxflashtime`).
    WinkFlash,
    Alarm,
    NoAlarm,
    Abort,
    Overrun,
    BadFcs,
    /// A `DAHDI_DIAL` string finished.
    DialComplete,
    /// FXS port while ringing: an "on" phase of the cadence begins.
    RingerOn,
    /// FXS port while ringing: an "off" phase of the cadence begins.
    RingerOff,
    /// Non-blocking fds: a wink, flash, start or kewl pulse finished.
    HookComplete,
    BitsChanged,
    /// First dial pulse seen.
    PulseStart,
    TimerExpired,
    TimerPing,
    /// FXO port: polarity reversal.
    Polarity,
    /// FXO port: a ring burst started.
    RingBegin,
    EcDisabled,
    /// Hardware gone; close the fd.
    Removed,
    NeonMwiActive,
    NeonMwiInactive,
    TxCedDetected,
    RxCedDetected,
    TxCngDetected,
    RxCngDetected,
    EcNlpDisabled,
    EcNlpEnabled,
    ReadOverrun,
    WriteUnderrun,
    /// FXS port: pulse-dialled digit (ASCII).
    PulseDigit(u8),
    /// Hardware DTMF key down (ASCII).
    DtmfDown(u8),
    /// Hardware DTMF key up (ASCII).
    DtmfUp(u8),
    /// A code this table does not know; kept so that no event is lost.
    Unknown(i32),
}

impl DahdiEvent {
    /// Decodes a `GETEVENT` result; `None` for `DAHDI_EVENT_NONE` (queue empty).
    pub fn from_code(code: i32) -> Option<Self> {
        let digit = (code & 0xFF) as u8;
        let ev = match code {
            DAHDI_EVENT_NONE => return None,
            DAHDI_EVENT_ONHOOK => Self::OnHook,
            DAHDI_EVENT_RINGOFFHOOK => Self::RingOffHook,
            DAHDI_EVENT_WINKFLASH => Self::WinkFlash,
            DAHDI_EVENT_ALARM => Self::Alarm,
            DAHDI_EVENT_NOALARM => Self::NoAlarm,
            DAHDI_EVENT_ABORT => Self::Abort,
            DAHDI_EVENT_OVERRUN => Self::Overrun,
            DAHDI_EVENT_BADFCS => Self::BadFcs,
            DAHDI_EVENT_DIALCOMPLETE => Self::DialComplete,
            DAHDI_EVENT_RINGERON => Self::RingerOn,
            DAHDI_EVENT_RINGEROFF => Self::RingerOff,
            DAHDI_EVENT_HOOKCOMPLETE => Self::HookComplete,
            DAHDI_EVENT_BITSCHANGED => Self::BitsChanged,
            DAHDI_EVENT_PULSE_START => Self::PulseStart,
            DAHDI_EVENT_TIMER_EXPIRED => Self::TimerExpired,
            DAHDI_EVENT_TIMER_PING => Self::TimerPing,
            DAHDI_EVENT_POLARITY => Self::Polarity,
            DAHDI_EVENT_RINGBEGIN => Self::RingBegin,
            DAHDI_EVENT_EC_DISABLED => Self::EcDisabled,
            DAHDI_EVENT_REMOVED => Self::Removed,
            DAHDI_EVENT_NEONMWI_ACTIVE => Self::NeonMwiActive,
            DAHDI_EVENT_NEONMWI_INACTIVE => Self::NeonMwiInactive,
            DAHDI_EVENT_TX_CED_DETECTED => Self::TxCedDetected,
            DAHDI_EVENT_RX_CED_DETECTED => Self::RxCedDetected,
            DAHDI_EVENT_TX_CNG_DETECTED => Self::TxCngDetected,
            DAHDI_EVENT_RX_CNG_DETECTED => Self::RxCngDetected,
            DAHDI_EVENT_EC_NLP_DISABLED => Self::EcNlpDisabled,
            DAHDI_EVENT_EC_NLP_ENABLED => Self::EcNlpEnabled,
            DAHDI_EVENT_READ_OVERRUN => Self::ReadOverrun,
            DAHDI_EVENT_WRITE_UNDERRUN => Self::WriteUnderrun,
            c if c & !0xFF == DAHDI_EVENT_PULSEDIGIT => Self::PulseDigit(digit),
            c if c & !0xFF == DAHDI_EVENT_DTMFDOWN => Self::DtmfDown(digit),
            c if c & !0xFF == DAHDI_EVENT_DTMFUP => Self::DtmfUp(digit),
            other => Self::Unknown(other),
        };
        Some(ev)
    }

    /// The kernel's code of this event (inverse of [`Self::from_code`]).
    pub fn code(self) -> i32 {
        match self {
            Self::OnHook => DAHDI_EVENT_ONHOOK,
            Self::RingOffHook => DAHDI_EVENT_RINGOFFHOOK,
            Self::WinkFlash => DAHDI_EVENT_WINKFLASH,
            Self::Alarm => DAHDI_EVENT_ALARM,
            Self::NoAlarm => DAHDI_EVENT_NOALARM,
            Self::Abort => DAHDI_EVENT_ABORT,
            Self::Overrun => DAHDI_EVENT_OVERRUN,
            Self::BadFcs => DAHDI_EVENT_BADFCS,
            Self::DialComplete => DAHDI_EVENT_DIALCOMPLETE,
            Self::RingerOn => DAHDI_EVENT_RINGERON,
            Self::RingerOff => DAHDI_EVENT_RINGEROFF,
            Self::HookComplete => DAHDI_EVENT_HOOKCOMPLETE,
            Self::BitsChanged => DAHDI_EVENT_BITSCHANGED,
            Self::PulseStart => DAHDI_EVENT_PULSE_START,
            Self::TimerExpired => DAHDI_EVENT_TIMER_EXPIRED,
            Self::TimerPing => DAHDI_EVENT_TIMER_PING,
            Self::Polarity => DAHDI_EVENT_POLARITY,
            Self::RingBegin => DAHDI_EVENT_RINGBEGIN,
            Self::EcDisabled => DAHDI_EVENT_EC_DISABLED,
            Self::Removed => DAHDI_EVENT_REMOVED,
            Self::NeonMwiActive => DAHDI_EVENT_NEONMWI_ACTIVE,
            Self::NeonMwiInactive => DAHDI_EVENT_NEONMWI_INACTIVE,
            Self::TxCedDetected => DAHDI_EVENT_TX_CED_DETECTED,
            Self::RxCedDetected => DAHDI_EVENT_RX_CED_DETECTED,
            Self::TxCngDetected => DAHDI_EVENT_TX_CNG_DETECTED,
            Self::RxCngDetected => DAHDI_EVENT_RX_CNG_DETECTED,
            Self::EcNlpDisabled => DAHDI_EVENT_EC_NLP_DISABLED,
            Self::EcNlpEnabled => DAHDI_EVENT_EC_NLP_ENABLED,
            Self::ReadOverrun => DAHDI_EVENT_READ_OVERRUN,
            Self::WriteUnderrun => DAHDI_EVENT_WRITE_UNDERRUN,
            Self::PulseDigit(d) => DAHDI_EVENT_PULSEDIGIT | i32::from(d),
            Self::DtmfDown(d) => DAHDI_EVENT_DTMFDOWN | i32::from(d),
            Self::DtmfUp(d) => DAHDI_EVENT_DTMFUP | i32::from(d),
            Self::Unknown(c) => c,
        }
    }
}

// ---------------------------------------------------------------------------
// Hook control (§1.10)

pub const DAHDI_ONHOOK: i32 = 0;
pub const DAHDI_OFFHOOK: i32 = 1;
pub const DAHDI_WINK: i32 = 2;
pub const DAHDI_FLASH: i32 = 3;
pub const DAHDI_START: i32 = 4;
pub const DAHDI_RING: i32 = 5;
pub const DAHDI_RINGOFF: i32 = 6;

/// Argument of `DAHDI_HOOK` (§1.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookOp {
    /// Hang up.
    OnHook,
    /// Go off-hook; counts as off-hook only after `debouncetime`.
    OffHook,
    /// Wink (momentary off-hook from on-hook).
    Wink,
    /// Hook flash: on-hook for `flashtime`; `EBUSY` during the off-hook debounce.
    Flash,
    /// FXS port: start ringing (needs a tone zone).
    Start,
    /// Same as `Start`.
    Ring,
    /// Stop ringing.
    RingOff,
}

impl HookOp {
    /// The `int` the kernel expects.
    pub fn code(self) -> i32 {
        match self {
            Self::OnHook => DAHDI_ONHOOK,
            Self::OffHook => DAHDI_OFFHOOK,
            Self::Wink => DAHDI_WINK,
            Self::Flash => DAHDI_FLASH,
            Self::Start => DAHDI_START,
            Self::Ring => DAHDI_RING,
            Self::RingOff => DAHDI_RINGOFF,
        }
    }

    /// Decodes a `DAHDI_HOOK` argument (used by emulated devices).
    pub fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            DAHDI_ONHOOK => Self::OnHook,
            DAHDI_OFFHOOK => Self::OffHook,
            DAHDI_WINK => Self::Wink,
            DAHDI_FLASH => Self::Flash,
            DAHDI_START => Self::Start,
            DAHDI_RING => Self::Ring,
            DAHDI_RINGOFF => Self::RingOff,
            _ => return None,
        })
    }
}

/// Default timing fields of `dahdi_params` in ms (`kernel.h`, re-applied on
/// every open, §1.10).
pub mod default_timing {
    pub const PREWINKTIME: i32 = 50;
    pub const PREFLASHTIME: i32 = 50;
    pub const WINKTIME: i32 = 150;
    pub const FLASHTIME: i32 = 750;
    pub const STARTTIME: i32 = 1500;
    pub const RXWINKTIME: i32 = 300;
    pub const RXFLASHTIME: i32 = 1250;
    pub const DEBOUNCETIME: i32 = 600;
    pub const PULSEBREAKTIME: i32 = 50;
    pub const PULSEMAKETIME: i32 = 50;
    pub const PULSEAFTERTIME: i32 = 750;
}

/// A ring burst is over after this long without ring voltage (ms).
pub const DAHDI_RINGTRAILER_MS: u32 = 50;
/// Rings are ignored for this long after the port went on-hook (ms).
pub const RING_DEBOUNCE_TIME_MS: u32 = 2000;
/// Battery drop of a kewl-start FXS port on hang-up (ms).
pub const DAHDI_KEWLTIME_MS: u32 = 500;
/// Settling time after the kewl pulse (ms).
pub const DAHDI_AFTERKEWLTIME_MS: u32 = 300;
/// Settling time after a start signal (ms).
pub const DAHDI_AFTERSTART_TIME_MS: u32 = 500;
/// Ring time of FXO-signalled ports without a zone (ms).
pub const DAHDI_DEFAULT_RINGTIME_MS: u32 = 2000;
/// Ring-off time without a zone (ms).
pub const DAHDI_RINGOFFTIME_MS: u32 = 4000;
/// Shortest on-hook break counted as a dial pulse (ms).
pub const DAHDI_MINPULSETIME_MS: u32 = 15;
/// Longest on-hook break counted as a dial pulse; longer is a flash (ms).
pub const DAHDI_MAXPULSETIME_MS: u32 = 200;
/// Off-hook time after the last pulse that ends a pulse-dialled digit
/// (`DAHDI_PULSETIMEOUT` = `DAHDI_MAXPULSETIME` + 50 in `kernel.h`; not in
/// the spec's tables).
pub const DAHDI_PULSETIMEOUT_MS: u32 = DAHDI_MAXPULSETIME_MS + 50;

// ---------------------------------------------------------------------------
// Signalling (§1.11)

/// Building block of the FXO-signalled types (= FXS ports); not for direct use.
pub const __DAHDI_SIG_FXO: i32 = 1 << 12;
/// Building block of the FXS-signalled types (= FXO ports); not for direct use.
pub const __DAHDI_SIG_FXS: i32 = 1 << 13;
pub const DAHDI_SIG_NONE: i32 = 0;
pub const DAHDI_SIG_FXSLS: i32 = 0x2001;
pub const DAHDI_SIG_FXSGS: i32 = 0x2002;
pub const DAHDI_SIG_FXSKS: i32 = 0x2004;
pub const DAHDI_SIG_FXOLS: i32 = 0x1008;
pub const DAHDI_SIG_FXOGS: i32 = 0x1010;
pub const DAHDI_SIG_FXOKS: i32 = 0x1020;
pub const DAHDI_SIG_EM: i32 = 0x40;
pub const DAHDI_SIG_CLEAR: i32 = 0x80;
pub const DAHDI_SIG_HDLCRAW: i32 = 0x180;
pub const DAHDI_SIG_HDLCFCS: i32 = 0x380;
pub const DAHDI_SIG_HDLCNET: i32 = 0x780;
pub const DAHDI_SIG_SLAVE: i32 = 0x800;
pub const DAHDI_SIG_SF: i32 = 0x4000;
pub const DAHDI_SIG_CAS: i32 = 0x8000;
pub const DAHDI_SIG_DACS: i32 = 0x10080;
pub const DAHDI_SIG_EM_E1: i32 = 0x20000;
pub const DAHDI_SIG_DACS_RBS: i32 = 0x50000;
pub const DAHDI_SIG_HARDHDLC: i32 = 0x80080;
pub const DAHDI_SIG_MTP2: i32 = 0x100380;
/// Port broken or failed initialisation (bit 31, negative as an `int`).
pub const DAHDI_SIG_BROKEN: i32 = i32::MIN;

/// The analog port types, named after the port itself, **not** after the
/// DAHDI signalling, which is named after the device at the other end
/// (§1.11): an FXO port reports `DAHDI_SIG_FXS*`, an FXS port `DAHDI_SIG_FXO*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortKind {
    /// Faces a CO line or PBX extension (`fxsks=`/`fxsls=`/`fxsgs=`).
    FxoPort,
    /// Powers a telephone (`fxoks=`/`fxols=`/`fxogs=`).
    FxsPort,
}

/// Start method of an analog port, from the same signalling value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartMethod {
    LoopStart,
    GroundStart,
    KewlStart,
}

/// Splits an analog `sigtype` into port kind and start method; `None` for
/// unconfigured, digital and broken channels.
pub fn analog_signalling(sigtype: i32) -> Option<(PortKind, StartMethod)> {
    Some(match sigtype {
        DAHDI_SIG_FXSLS => (PortKind::FxoPort, StartMethod::LoopStart),
        DAHDI_SIG_FXSGS => (PortKind::FxoPort, StartMethod::GroundStart),
        DAHDI_SIG_FXSKS => (PortKind::FxoPort, StartMethod::KewlStart),
        DAHDI_SIG_FXOLS => (PortKind::FxsPort, StartMethod::LoopStart),
        DAHDI_SIG_FXOGS => (PortKind::FxsPort, StartMethod::GroundStart),
        DAHDI_SIG_FXOKS => (PortKind::FxsPort, StartMethod::KewlStart),
        _ => return None,
    })
}

/// The sysfs `sig` text of a signalling value (§1.11), as pickupd logs it.
pub fn sig_name(sigtype: i32) -> &'static str {
    match sigtype {
        DAHDI_SIG_FXSLS => "FXSLS",
        DAHDI_SIG_FXSGS => "FXSGS",
        DAHDI_SIG_FXSKS => "FXSKS",
        DAHDI_SIG_FXOLS => "FXOLS",
        DAHDI_SIG_FXOGS => "FXOGS",
        DAHDI_SIG_FXOKS => "FXOKS",
        DAHDI_SIG_EM => "E&M",
        DAHDI_SIG_EM_E1 => "E&M-E1",
        DAHDI_SIG_CLEAR => "Clear",
        DAHDI_SIG_HDLCRAW => "HDLCRAW",
        DAHDI_SIG_HDLCFCS => "HDLCFCS",
        DAHDI_SIG_HDLCNET => "HDLCNET",
        DAHDI_SIG_SLAVE => "Slave",
        DAHDI_SIG_CAS => "CAS",
        DAHDI_SIG_DACS => "DACS",
        DAHDI_SIG_DACS_RBS => "DACS+RBS",
        DAHDI_SIG_SF => "SF (ToneOnly)",
        _ => "Unconfigured",
    }
}

/// `rxhooksig` values in `dahdi_params`.
pub const DAHDI_RXSIG_ONHOOK: i32 = 0;
pub const DAHDI_RXSIG_OFFHOOK: i32 = 1;
pub const DAHDI_RXSIG_START: i32 = 2;
pub const DAHDI_RXSIG_RING: i32 = 3;
pub const DAHDI_RXSIG_INITIAL: i32 = 4;
/// `txhooksig` values in `dahdi_params`.
pub const DAHDI_TXSIG_ONHOOK: i32 = 0;
pub const DAHDI_TXSIG_OFFHOOK: i32 = 1;
pub const DAHDI_TXSIG_START: i32 = 2;
pub const DAHDI_TXSIG_KEWL: i32 = 3;

// ---------------------------------------------------------------------------
// Law, flush, iomux (§1.6, §1.8)

pub const DAHDI_LAW_DEFAULT: i32 = 0;
pub const DAHDI_LAW_MULAW: i32 = 1;
pub const DAHDI_LAW_ALAW: i32 = 2;

/// Companding law of a channel (`DAHDI_SETLAW`, `curlaw`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// The span's default (only as a `SETLAW` argument).
    Default,
    MuLaw,
    ALaw,
}

impl Law {
    pub fn code(self) -> i32 {
        match self {
            Self::Default => DAHDI_LAW_DEFAULT,
            Self::MuLaw => DAHDI_LAW_MULAW,
            Self::ALaw => DAHDI_LAW_ALAW,
        }
    }

    pub fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            DAHDI_LAW_DEFAULT => Self::Default,
            DAHDI_LAW_MULAW => Self::MuLaw,
            DAHDI_LAW_ALAW => Self::ALaw,
            _ => return None,
        })
    }
}

/// `DAHDI_SETLINEAR` argument: signed 16-bit host-endian samples.
pub const DAHDI_LINEAR_ON: i32 = 1;
/// `DAHDI_SETLINEAR` argument: back to the law's 8-bit codes.
pub const DAHDI_LINEAR_OFF: i32 = 0;

pub const DAHDI_FLUSH_READ: i32 = 1;
pub const DAHDI_FLUSH_WRITE: i32 = 2;
pub const DAHDI_FLUSH_BOTH: i32 = 3;
pub const DAHDI_FLUSH_EVENT: i32 = 4;
pub const DAHDI_FLUSH_ALL: i32 = 7;

pub const DAHDI_IOMUX_READ: i32 = 1;
pub const DAHDI_IOMUX_WRITE: i32 = 2;
pub const DAHDI_IOMUX_WRITEEMPTY: i32 = 4;
pub const DAHDI_IOMUX_SIGEVENT: i32 = 8;
pub const DAHDI_IOMUX_NOWAIT: i32 = 0x100;

// ---------------------------------------------------------------------------
// Tones and dialling (§1.12)

pub const DAHDI_TONE_ZONE_MAX: i32 = 128;
/// `SETTONEZONE` argument restoring the default zone.
pub const DAHDI_TONE_ZONE_DEFAULT: i32 = -1;

/// A `DAHDI_SENDTONE` argument. A newtype rather than an enum because the
/// DTMF and MF ranges are arithmetic (`base + index`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tone(pub i32);

impl Tone {
    pub const STOP: Tone = Tone(-1);
    pub const DIALTONE: Tone = Tone(0);
    pub const BUSY: Tone = Tone(1);
    pub const RINGTONE: Tone = Tone(2);
    pub const CONGESTION: Tone = Tone(3);
    pub const CALLWAIT: Tone = Tone(4);
    pub const DIALRECALL: Tone = Tone(5);
    pub const RECORDTONE: Tone = Tone(6);
    pub const INFO: Tone = Tone(7);
    pub const CUST1: Tone = Tone(8);
    pub const CUST2: Tone = Tone(9);
    pub const STUTTER: Tone = Tone(10);
    /// Highest call-progress tone index a zone can hold.
    pub const MAX: i32 = 16;
    pub const DTMF_BASE: i32 = 64;
    pub const MFR1_BASE: i32 = 80;
    pub const MFR2_FWD_BASE: i32 = 96;
    pub const MFR2_REV_BASE: i32 = 112;

    /// The continuous DTMF tone of a digit (`0`–`9`, `*`, `#`, `A`–`D`).
    pub fn dtmf(digit: char) -> Option<Tone> {
        let index = match digit.to_ascii_uppercase() {
            d @ '0'..='9' => d as i32 - '0' as i32,
            '*' => 10,
            '#' => 11,
            d @ 'A'..='D' => 12 + (d as i32 - 'A' as i32),
            _ => return None,
        };
        Some(Tone(Self::DTMF_BASE + index))
    }
}

pub const DAHDI_DIAL_OP_APPEND: i32 = 1;
pub const DAHDI_DIAL_OP_REPLACE: i32 = 2;
pub const DAHDI_DIAL_OP_CANCEL: i32 = 3;
/// Size of `dialstr` (`DAHDI_MAX_DTMF_BUF`); one byte goes to the NUL.
pub const DAHDI_MAX_DTMF_BUF: usize = 256;
/// Length of a `W` pause in a dial string (ms).
pub const DAHDI_CONFIG_PAUSE_LENGTH_MS: u32 = 500;
/// Default DTMF digit length (`DAHDI_SET_DIALPARAMS`, ms).
pub const DEFAULT_DTMF_LENGTH_MS: u32 = 100;
/// Default MF-R1 digit length (ms).
pub const DEFAULT_MFR1_LENGTH_MS: u32 = 68;
/// Default MF-R2 digit length (ms).
pub const DEFAULT_MFR2_LENGTH_MS: u32 = 100;

/// `op` of `struct dahdi_dialoperation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialOp {
    /// Add to the string being dialled (`EBUSY` on overflow).
    Append,
    /// Replace the string being dialled.
    Replace,
    /// Stop dialling.
    Cancel,
}

impl DialOp {
    pub fn code(self) -> i32 {
        match self {
            Self::Append => DAHDI_DIAL_OP_APPEND,
            Self::Replace => DAHDI_DIAL_OP_REPLACE,
            Self::Cancel => DAHDI_DIAL_OP_CANCEL,
        }
    }

    pub fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            DAHDI_DIAL_OP_APPEND => Self::Append,
            DAHDI_DIAL_OP_REPLACE => Self::Replace,
            DAHDI_DIAL_OP_CANCEL => Self::Cancel,
            _ => return None,
        })
    }
}

// ---------------------------------------------------------------------------
// Conferencing (§1.13)

pub const DAHDI_CONF_MODE_MASK: i32 = 0xFF;
pub const DAHDI_CONF_FLAG_MASK: i32 = 0xFF00;
pub const DAHDI_CONF_NORMAL: i32 = 0;
pub const DAHDI_CONF_MONITOR: i32 = 1;
pub const DAHDI_CONF_MONITORTX: i32 = 2;
pub const DAHDI_CONF_MONITORBOTH: i32 = 3;
pub const DAHDI_CONF_CONF: i32 = 4;
pub const DAHDI_CONF_CONFANN: i32 = 5;
pub const DAHDI_CONF_CONFMON: i32 = 6;
pub const DAHDI_CONF_CONFANNMON: i32 = 7;
pub const DAHDI_CONF_REALANDPSEUDO: i32 = 8;
pub const DAHDI_CONF_DIGITALMON: i32 = 9;
pub const DAHDI_CONF_MONITOR_RX_PREECHO: i32 = 10;
pub const DAHDI_CONF_MONITOR_TX_PREECHO: i32 = 11;
pub const DAHDI_CONF_MONITORBOTH_PREECHO: i32 = 12;
pub const DAHDI_CONF_LISTENER: i32 = 0x100;
pub const DAHDI_CONF_TALKER: i32 = 0x200;
pub const DAHDI_CONF_PSEUDO_LISTENER: i32 = 0x400;
pub const DAHDI_CONF_PSEUDO_TALKER: i32 = 0x800;

/// Whether a conference mode takes a channel number in `confno` (the
/// monitor modes and `DIGITALMON`) rather than a conference number.
pub fn conf_mode_targets_channel(confmode: i32) -> bool {
    matches!(
        confmode & DAHDI_CONF_MODE_MASK,
        DAHDI_CONF_MONITOR
            | DAHDI_CONF_MONITORTX
            | DAHDI_CONF_MONITORBOTH
            | DAHDI_CONF_DIGITALMON
            | DAHDI_CONF_MONITOR_RX_PREECHO
            | DAHDI_CONF_MONITOR_TX_PREECHO
            | DAHDI_CONF_MONITORBOTH_PREECHO
    )
}

// ---------------------------------------------------------------------------
// Alarms, misc (§1.14, §1.15)

pub const DAHDI_ALARM_NONE: u32 = 0;
pub const DAHDI_ALARM_RECOVER: u32 = 1;
pub const DAHDI_ALARM_LOOPBACK: u32 = 2;
pub const DAHDI_ALARM_YELLOW: u32 = 4;
pub const DAHDI_ALARM_RED: u32 = 8;
pub const DAHDI_ALARM_BLUE: u32 = 16;
pub const DAHDI_ALARM_NOTOPEN: u32 = 32;
pub const DAHDI_ALARM_LOS: u32 = 0x100;
pub const DAHDI_ALARM_LFA: u32 = 0x200;
pub const DAHDI_ALARM_LMFA: u32 = 0x400;

/// OR-ed into `channo` of `GET_PARAMS` on the ctl fd: the master channel
/// comes back in the upper 16 bits.
pub const DAHDI_GET_PARAMS_RETURN_MASTER: i32 = 0x4000_0000;

pub const DAHDI_TONEDETECT_ON: i32 = 1;
pub const DAHDI_TONEDETECT_MUTE: i32 = 2;

pub const DAHDI_VMWI_LREV: u32 = 1;
pub const DAHDI_VMWI_HVDC: u32 = 2;
pub const DAHDI_VMWI_HVAC: u32 = 4;

/// Entries of `ringcadence` (`DAHDI_MAX_CADENCE`).
pub const DAHDI_MAX_CADENCE: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_code_round_trips() {
        assert_eq!(DahdiEvent::from_code(DAHDI_EVENT_NONE), None);
        for code in 1..=DAHDI_EVENT_WRITE_UNDERRUN {
            let ev = DahdiEvent::from_code(code).unwrap();
            assert!(!matches!(ev, DahdiEvent::Unknown(_)), "{code}");
            assert_eq!(ev.code(), code);
        }
        assert_eq!(
            DahdiEvent::from_code(DAHDI_EVENT_PULSEDIGIT | i32::from(b'7')),
            Some(DahdiEvent::PulseDigit(b'7'))
        );
        assert_eq!(
            DahdiEvent::from_code(0x20000 | i32::from(b'#')),
            Some(DahdiEvent::DtmfDown(b'#'))
        );
        assert_eq!(DahdiEvent::DtmfUp(b'D').code(), 0x40000 | 0x44);
        assert_eq!(DahdiEvent::from_code(31), Some(DahdiEvent::Unknown(31)));
        assert_eq!(
            DahdiEvent::from_code(0x30041),
            Some(DahdiEvent::Unknown(0x30041))
        );
    }

    #[test]
    fn hook_law_and_dial_codes_round_trip() {
        for code in 0..=6 {
            assert_eq!(HookOp::from_code(code).unwrap().code(), code);
        }
        assert_eq!(HookOp::from_code(7), None);
        for code in 0..=2 {
            assert_eq!(Law::from_code(code).unwrap().code(), code);
        }
        for code in 1..=3 {
            assert_eq!(DialOp::from_code(code).unwrap().code(), code);
        }
    }

    #[test]
    fn signalling_is_named_after_the_other_end() {
        assert_eq!(
            analog_signalling(DAHDI_SIG_FXSKS),
            Some((PortKind::FxoPort, StartMethod::KewlStart))
        );
        assert_eq!(
            analog_signalling(DAHDI_SIG_FXOLS),
            Some((PortKind::FxsPort, StartMethod::LoopStart))
        );
        assert_eq!(analog_signalling(DAHDI_SIG_NONE), None);
        assert_eq!(analog_signalling(DAHDI_SIG_BROKEN | DAHDI_SIG_FXSKS), None);
        assert_eq!(DAHDI_SIG_FXSKS & __DAHDI_SIG_FXS, __DAHDI_SIG_FXS);
        assert_eq!(DAHDI_SIG_FXOKS & __DAHDI_SIG_FXO, __DAHDI_SIG_FXO);
        assert_eq!(sig_name(DAHDI_SIG_FXOKS), "FXOKS");
        assert_eq!(sig_name(DAHDI_SIG_NONE), "Unconfigured");
    }

    #[test]
    fn dtmf_tones_follow_the_user_h_order() {
        assert_eq!(Tone::dtmf('0'), Some(Tone(64)));
        assert_eq!(Tone::dtmf('9'), Some(Tone(73)));
        assert_eq!(Tone::dtmf('*'), Some(Tone(74)));
        assert_eq!(Tone::dtmf('#'), Some(Tone(75)));
        assert_eq!(Tone::dtmf('a'), Some(Tone(76)));
        assert_eq!(Tone::dtmf('D'), Some(Tone(79)));
        assert_eq!(Tone::dtmf('E'), None);
    }
}
