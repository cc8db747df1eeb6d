//! In-memory fake of the DAHDI kernel side (hardware.md §2.1), behind the
//! same [`DahdiChannel`]/[`DahdiOpener`] traits as the real descriptor.
//!
//! It exists so the driver's handling of the kernel's rules is unit-tested
//! without the module or a FUSE mount: exclusive opens (`EBUSY`), errno 500
//! on read/write while events are queued, `EAGAIN` when no block is ready,
//! the transmit hook state machine with the §1.10 timings (`EBUSY` for a
//! flash during the off-hook debounce, `EINPROGRESS` + `HOOKCOMPLETE` for
//! non-blocking wink/flash/start), `ENODATA` for tones, dialling and ringing
//! without a tone zone, the receive-side hook timing of §1.9 (dial pulses,
//! flash, on-hook) and the FXO-port ring trailer and ring debounce.
//!
//! Time never passes by itself: tests call [`FakeDahdi::advance`] with
//! milliseconds, and the fake runs its 1 ms kernel ticks (8 samples each)
//! for that long. Nothing sleeps. All handles opened here behave as
//! `O_NONBLOCK` descriptors, since pickupd always opens that way (§1.4).
//!
//! The far end of each line (a telephone on an FXS port, the exchange on an
//! FXO port) is driven through methods such as [`FakeDahdi::phone_off_hook`]
//! and [`FakeDahdi::co_ring`]; audio is scripted with
//! [`FakeDahdi::push_rx_audio`] and collected with
//! [`FakeDahdi::take_tx_audio`]. Audio bytes pass through unchanged: the fake
//! counts block sizes (×2 in linear mode) but does not transcode.
//!
//! Where the spec gives no number, the fake's choice is documented at the
//! place it is made (pulse-digit timeout, zero timings, dialling length).

#![forbid(unsafe_code)]

use super::channel::{check_count, DahdiChannel, DahdiOpener, HookOutcome, Readiness};
use super::consts::*;
use super::error::{Error, Result};
use super::structs::{set_c_chars, DahdiBufferInfo, DahdiConfInfo, DahdiParams};
use nix::errno::Errno;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Transmit hook state of a fake channel (the kernel's `DAHDI_TXSTATE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FakeTxState {
    OnHook,
    /// Off-hook, but within `debouncetime` of going off-hook: flash is `EBUSY`.
    Debounce,
    OffHook,
    PreWink,
    Wink,
    PreFlash,
    /// The on-hook break of a flash.
    Flash,
    /// FXO port: ground-start signal.
    Start,
    AfterStart,
    /// FXS port: ringing, "on" phase of the cadence.
    RingOn,
    /// FXS port: ringing, "off" phase of the cadence.
    RingOff,
    /// FXS port, kewl start: battery drop after hang-up.
    Kewl,
    AfterKewl,
}

impl FakeTxState {
    /// Whether the line is off-hook on the wire in this state.
    pub fn is_off_hook(self) -> bool {
        matches!(
            self,
            Self::Debounce | Self::OffHook | Self::Wink | Self::PreFlash | Self::AfterStart
        )
    }

    fn txsig(self) -> i32 {
        match self {
            Self::Start => DAHDI_TXSIG_START,
            Self::Kewl => DAHDI_TXSIG_KEWL,
            s if s.is_off_hook() => DAHDI_TXSIG_OFFHOOK,
            _ => DAHDI_TXSIG_ONHOOK,
        }
    }
}

/// What a test can observe of one fake channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeChannelState {
    pub open: bool,
    pub removed: bool,
    pub tx_state: FakeTxState,
    pub zone: Option<i32>,
    pub tone: Option<Tone>,
    pub dialing: bool,
    pub conf: DahdiConfInfo,
    pub blocksize: i32,
    pub numbufs: i32,
    pub linear: bool,
    pub law: Law,
    pub queued_events: usize,
    pub params: DahdiParams,
    /// Transmit hook flashes (`DAHDI_HOOK` `FLASH`) completed on this
    /// channel since it was added or restored: what the far end saw as a
    /// flash, countable even when the whole break falls between two looks.
    pub flashes: u64,
    /// Times the transmit side went off hook (`DAHDI_HOOK` `OFFHOOK` from
    /// on hook) since the channel was added or restored: an answer and
    /// hang-up between two looks still counts.
    pub offhooks: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DigitMode {
    Dtmf,
    Pulse,
    Mfr1,
    Mfr2,
}

#[derive(Debug)]
struct Zone {
    num: i32,
    /// ms on, off, on, … (the zero terminator removed).
    cadence: Vec<u32>,
}

#[derive(Debug)]
struct Chan {
    sig: i32,
    generation: u64,
    open: bool,
    removed: bool,
    params: DahdiParams,
    /// `DAHDI_LAW_MULAW`/`ALAW` in use.
    law: i32,
    linear: bool,
    blocksize: i32,
    numbufs: i32,
    zone: Option<i32>,
    events: VecDeque<i32>,
    tx: FakeTxState,
    tx_timer: u32,
    ring_cadence: Vec<u32>,
    ring_pos: usize,
    tone: Option<Tone>,
    dial_remaining: String,
    dial_mode: DigitMode,
    dial_ms: u32,
    conf: DahdiConfInfo,
    // FXS port: the telephone.
    phone_off_hook: bool,
    /// ms the phone has been on-hook after a call, while that can still be
    /// a pulse or flash (`None`: idle or already reported as on-hook).
    onhook_ms: Option<u32>,
    pulse_count: u32,
    pulse_timer: u32,
    // FXO port: the exchange.
    ring_voltage: bool,
    ring_burst: bool,
    ring_trailer: u32,
    ring_debounce: u32,
    // Audio.
    rx: VecDeque<u8>,
    tx_bufs: VecDeque<Vec<u8>>,
    tx_sent: Vec<u8>,
    /// Completed transmit flashes (see [`FakeChannelState::flashes`]).
    flashes: u64,
    /// See [`FakeChannelState::offhooks`].
    offhooks: u64,
}

impl Chan {
    fn new(sig: i32) -> Self {
        let mut params = DahdiParams::zeroed();
        params.reset_timings();
        Self {
            sig,
            generation: 0,
            open: false,
            removed: false,
            params,
            law: DAHDI_LAW_MULAW,
            linear: false,
            blocksize: DAHDI_DEFAULT_BLOCKSIZE,
            numbufs: DAHDI_DEFAULT_NUM_BUFS,
            zone: None,
            events: VecDeque::new(),
            tx: FakeTxState::OnHook,
            tx_timer: 0,
            ring_cadence: Vec::new(),
            ring_pos: 0,
            tone: None,
            dial_remaining: String::new(),
            dial_mode: DigitMode::Dtmf,
            dial_ms: 0,
            conf: DahdiConfInfo::zeroed(),
            phone_off_hook: false,
            onhook_ms: None,
            pulse_count: 0,
            pulse_timer: 0,
            ring_voltage: false,
            ring_burst: false,
            ring_trailer: 0,
            ring_debounce: 0,
            rx: VecDeque::new(),
            tx_bufs: VecDeque::new(),
            tx_sent: Vec::new(),
            flashes: 0,
            offhooks: 0,
        }
    }

    fn port(&self) -> Option<(PortKind, StartMethod)> {
        analog_signalling(self.sig)
    }

    fn is_fxs_port(&self) -> bool {
        matches!(self.port(), Some((PortKind::FxsPort, _)))
    }

    fn is_fxo_port(&self) -> bool {
        matches!(self.port(), Some((PortKind::FxoPort, _)))
    }

    /// Queues an event; like the kernel, a full queue drops the new event.
    fn queue(&mut self, code: i32) {
        if self.events.len() < DAHDI_MAX_EVENTSIZE {
            self.events.push_back(code);
        }
    }

    /// Enters a hook state. The spec does not say what a zero (or negative)
    /// timing does; the fake ends such a timed state on the next 1 ms tick
    /// rather than never.
    fn set_tx(&mut self, state: FakeTxState, ms: i64) {
        if state == FakeTxState::Debounce && self.tx != FakeTxState::Debounce {
            self.offhooks += 1;
        }
        self.tx = state;
        self.tx_timer = match state {
            FakeTxState::OnHook | FakeTxState::OffHook => 0,
            _ => u32::try_from(ms.max(1)).unwrap_or(u32::MAX),
        };
    }

    fn hook_complete(&mut self) {
        // HOOKCOMPLETE goes to non-blocking fds only; every fake fd is one.
        if self.open {
            self.queue(DAHDI_EVENT_HOOKCOMPLETE);
        }
    }

    fn cancel_dial_and_tone(&mut self) {
        self.tone = None;
        self.dial_remaining.clear();
        self.dial_ms = 0;
    }

    fn block_bytes(&self) -> usize {
        let samples = usize::try_from(self.blocksize).unwrap_or(0);
        if self.linear {
            samples * 2
        } else {
            samples
        }
    }

    /// The hang-up done by every open and close (`dahdi_hangup`, §1.4).
    fn hangup(&mut self) {
        self.cancel_dial_and_tone();
        if self.is_fxo_port() {
            self.ring_debounce = RING_DEBOUNCE_TIME_MS;
        }
        let far_end_idle = !self.phone_off_hook && self.onhook_ms.is_none();
        if self.sig == DAHDI_SIG_FXOKS && self.tx != FakeTxState::OnHook && !far_end_idle {
            self.set_tx(FakeTxState::Kewl, i64::from(DAHDI_KEWLTIME_MS));
        } else {
            self.set_tx(FakeTxState::OnHook, 0);
        }
    }

    /// `initialize_channel` on open (§1.4).
    fn initialize(&mut self, default_zone: Option<i32>) {
        self.hangup();
        self.events.clear();
        self.law = DAHDI_LAW_MULAW;
        self.linear = false;
        self.conf = DahdiConfInfo::zeroed();
        self.params.reset_timings();
        self.zone = default_zone;
        self.blocksize = DAHDI_DEFAULT_BLOCKSIZE;
        self.numbufs = DAHDI_DEFAULT_NUM_BUFS;
        self.rx.clear();
        self.tx_bufs.clear();
        self.open = true;
    }

    /// `close_channel` (§1.4).
    fn close(&mut self) {
        self.open = false;
        self.hangup();
        self.events.clear();
        self.zone = None;
        self.conf = DahdiConfInfo::zeroed();
        self.linear = false;
        self.tx_bufs.clear();
    }

    /// One 1 ms kernel tick.
    fn tick(&mut self) {
        if self.tx_timer > 0 {
            self.tx_timer -= 1;
            if self.tx_timer == 0 {
                self.tx_expired();
            }
        }
        self.tick_phone();
        self.tick_exchange();
        if self.dial_ms > 0 {
            self.dial_ms -= 1;
            if self.dial_ms == 0 {
                self.dial_remaining.clear();
                self.queue(DAHDI_EVENT_DIALCOMPLETE);
            }
        }
        self.tick_audio();
    }

    fn tx_expired(&mut self) {
        let p = self.params;
        match self.tx {
            FakeTxState::Debounce => self.set_tx(FakeTxState::OffHook, 0),
            FakeTxState::PreWink => self.set_tx(FakeTxState::Wink, p.winktime.into()),
            FakeTxState::Wink => {
                self.set_tx(FakeTxState::OnHook, 0);
                self.hook_complete();
            }
            FakeTxState::PreFlash => self.set_tx(FakeTxState::Flash, p.flashtime.into()),
            FakeTxState::Flash => {
                self.flashes += 1;
                self.set_tx(FakeTxState::OffHook, 0);
                self.hook_complete();
            }
            FakeTxState::Start => {
                self.set_tx(FakeTxState::AfterStart, i64::from(DAHDI_AFTERSTART_TIME_MS));
                self.hook_complete();
            }
            FakeTxState::AfterStart => self.set_tx(FakeTxState::OffHook, 0),
            FakeTxState::Kewl => {
                self.set_tx(FakeTxState::AfterKewl, i64::from(DAHDI_AFTERKEWLTIME_MS));
                self.hook_complete();
            }
            FakeTxState::AfterKewl => self.set_tx(FakeTxState::OnHook, 0),
            FakeTxState::RingOn | FakeTxState::RingOff => self.next_ring_phase(),
            FakeTxState::OnHook | FakeTxState::OffHook => {}
        }
    }

    /// Starts the cadence of an FXS port (`DAHDI_HOOK` `START`/`RING`).
    fn start_ringing(&mut self, cadence: Vec<u32>) {
        self.ring_cadence = cadence;
        self.ring_pos = 0;
        let first = self.ring_cadence.first().copied().unwrap_or(1);
        self.set_tx(FakeTxState::RingOn, first.into());
        self.queue(DAHDI_EVENT_RINGERON);
    }

    /// Next cadence phase; phases alternate on/off and the list repeats.
    fn next_ring_phase(&mut self) {
        self.ring_pos = (self.ring_pos + 1) % self.ring_cadence.len().max(1);
        let ms = self.ring_cadence.get(self.ring_pos).copied().unwrap_or(1);
        if self.tx == FakeTxState::RingOn {
            self.set_tx(FakeTxState::RingOff, ms.into());
            self.queue(DAHDI_EVENT_RINGEROFF);
        } else {
            self.set_tx(FakeTxState::RingOn, ms.into());
            self.queue(DAHDI_EVENT_RINGERON);
        }
    }

    /// FXS port, receive side (§1.9): on-hook timer and pulse digits.
    fn tick_phone(&mut self) {
        if let Some(ms) = self.onhook_ms.as_mut() {
            *ms += 1;
            let limit = u32::try_from(self.params.rxflashtime).unwrap_or(0);
            if *ms >= limit {
                self.onhook_ms = None;
                self.pulse_count = 0;
                self.pulse_timer = 0;
                self.queue(DAHDI_EVENT_ONHOOK);
            }
        }
        if self.pulse_timer > 0 {
            self.pulse_timer -= 1;
            if self.pulse_timer == 0 {
                let count = std::mem::take(&mut self.pulse_count);
                if (1..=10).contains(&count) {
                    let digit = if count == 10 {
                        b'0'
                    } else {
                        b'0' + count as u8
                    };
                    self.queue(DAHDI_EVENT_PULSEDIGIT | i32::from(digit));
                }
            }
        }
    }

    /// FXO port, receive side (§1.9): ring trailer and ring debounce.
    fn tick_exchange(&mut self) {
        if self.ring_debounce > 0 {
            self.ring_debounce -= 1;
        }
        if self.ring_burst && !self.ring_voltage {
            self.ring_trailer += 1;
            if self.ring_trailer >= DAHDI_RINGTRAILER_MS {
                self.ring_burst = false;
                self.queue(DAHDI_EVENT_RINGOFFHOOK);
            }
        }
    }

    /// The kernel sends 8 samples per ms from the transmit buffers.
    fn tick_audio(&mut self) {
        let per_ms = (DAHDI_CHUNKSIZE as usize) * if self.linear { 2 } else { 1 };
        let mut budget = per_ms;
        while budget > 0 {
            let Some(front) = self.tx_bufs.front_mut() else {
                break;
            };
            let n = budget.min(front.len());
            self.tx_sent.extend(front.drain(..n));
            budget -= n;
            if front.is_empty() {
                self.tx_bufs.pop_front();
            }
        }
    }

    fn hook(&mut self, op: HookOp, zone_cadence: Option<Vec<u32>>) -> Result<HookOutcome> {
        // Any DAHDI_HOOK cancels dialling and tones (§1.10).
        self.cancel_dial_and_tone();
        let p = self.params;
        match op {
            HookOp::OnHook => {
                if self.is_fxo_port() {
                    self.ring_debounce = RING_DEBOUNCE_TIME_MS;
                }
                self.set_tx(FakeTxState::OnHook, 0);
                Ok(HookOutcome::Done)
            }
            HookOp::OffHook => {
                if matches!(self.tx, FakeTxState::Kewl | FakeTxState::AfterKewl) {
                    return Err(Errno::EBUSY.into());
                }
                self.set_tx(FakeTxState::Debounce, p.debouncetime.into());
                Ok(HookOutcome::Done)
            }
            HookOp::Wink => {
                if self.tx != FakeTxState::OnHook {
                    return Err(Errno::EBUSY.into());
                }
                self.set_tx(FakeTxState::PreWink, p.prewinktime.into());
                Ok(HookOutcome::InProgress)
            }
            HookOp::Flash => {
                if self.tx != FakeTxState::OffHook {
                    return Err(Errno::EBUSY.into());
                }
                self.set_tx(FakeTxState::PreFlash, p.preflashtime.into());
                Ok(HookOutcome::InProgress)
            }
            HookOp::Start | HookOp::Ring => {
                let Some(cadence) = zone_cadence else {
                    return Err(Errno::ENODATA.into());
                };
                if self.tx != FakeTxState::OnHook {
                    return Err(Errno::EBUSY.into());
                }
                if self.is_fxs_port() {
                    self.start_ringing(cadence);
                } else {
                    self.set_tx(FakeTxState::Start, p.starttime.into());
                }
                Ok(HookOutcome::InProgress)
            }
            HookOp::RingOff => {
                if matches!(self.tx, FakeTxState::RingOn | FakeTxState::RingOff) {
                    self.set_tx(FakeTxState::OnHook, 0);
                }
                Ok(HookOutcome::Done)
            }
        }
    }

    fn send_tone(&mut self, tone: Tone) -> Result<()> {
        // start_tone: whatever happens, the current tone and dialling stop.
        self.cancel_dial_and_tone();
        if tone == Tone::STOP {
            return Ok(());
        }
        if self.zone.is_none() {
            return Err(Errno::ENODATA.into());
        }
        match tone.0 {
            // The fake's zones define the eleven standard tones 0 … 10.
            0..=10 => {}
            11..=Tone::MAX => return Err(Errno::ENOSYS.into()),
            t if (Tone::DTMF_BASE..Tone::DTMF_BASE + 16).contains(&t) => {}
            _ => return Err(Errno::EINVAL.into()),
        }
        self.tone = Some(tone);
        Ok(())
    }

    fn dial(&mut self, op: DialOp, digits: &str) -> Result<()> {
        if self.zone.is_none() {
            return Err(Errno::ENODATA.into());
        }
        if digits.len() >= DAHDI_MAX_DTMF_BUF || digits.contains('\0') {
            return Err(Errno::EINVAL.into());
        }
        let digits = digits.to_ascii_uppercase();
        match op {
            DialOp::Cancel => {
                self.cancel_dial_and_tone();
                return Ok(());
            }
            DialOp::Replace => {
                self.cancel_dial_and_tone();
                self.dial_mode = DigitMode::Dtmf;
            }
            DialOp::Append => {
                if self.dial_remaining.len() + digits.len() >= DAHDI_MAX_DTMF_BUF {
                    return Err(Errno::EBUSY.into());
                }
                if self.dial_ms == 0 {
                    self.dial_mode = DigitMode::Dtmf;
                }
            }
        }
        let ms = self.dial_length(&digits);
        if ms > 0 {
            self.tone = None;
            self.dial_remaining.push_str(&digits);
            self.dial_ms += ms;
        }
        Ok(())
    }

    /// Playing time of a dial string. The spec gives digit lengths (§1.12:
    /// DTMF 100 ms, MF-R1 68 ms, MF-R2 100 ms, `W` 500 ms) but not the gap;
    /// the fake follows the kernel's silence of one digit length after each
    /// tone digit, and break + make per pulse plus `pulseaftertime` per
    /// pulse digit.
    fn dial_length(&mut self, digits: &str) -> u32 {
        let p = self.params;
        let pulse = u32::try_from(p.pulsebreaktime + p.pulsemaketime).unwrap_or(0);
        let after = u32::try_from(p.pulseaftertime).unwrap_or(0);
        let mut total = 0;
        for c in digits.chars() {
            total += match c {
                'T' => {
                    self.dial_mode = DigitMode::Dtmf;
                    0
                }
                'P' => {
                    self.dial_mode = DigitMode::Pulse;
                    0
                }
                'M' => {
                    self.dial_mode = DigitMode::Mfr1;
                    0
                }
                'O' | 'R' => {
                    self.dial_mode = DigitMode::Mfr2;
                    0
                }
                'W' => DAHDI_CONFIG_PAUSE_LENGTH_MS,
                '0'..='9' | '*' | '#' | 'A'..='D' => match self.dial_mode {
                    DigitMode::Dtmf => 2 * DEFAULT_DTMF_LENGTH_MS,
                    DigitMode::Mfr1 => 2 * DEFAULT_MFR1_LENGTH_MS,
                    DigitMode::Mfr2 => 2 * DEFAULT_MFR2_LENGTH_MS,
                    DigitMode::Pulse => match c.to_digit(10) {
                        Some(0) => 10 * pulse + after,
                        Some(n) => n * pulse + after,
                        None => 0,
                    },
                },
                _ => 0,
            };
        }
        total
    }

    fn read_frame(&mut self, buf: &mut [u8]) -> Result<usize> {
        check_count(buf.len())?;
        if !self.events.is_empty() {
            return Err(Error::EVENT_PENDING);
        }
        let block = self.block_bytes();
        if block == 0 || self.rx.len() < block {
            return Err(Errno::EAGAIN.into());
        }
        let n = buf.len().min(block);
        for (dst, src) in buf.iter_mut().zip(self.rx.drain(..block)) {
            *dst = src;
        }
        // The rest of a block the caller had no room for is gone (§1.6).
        Ok(n)
    }

    fn write_frame(&mut self, frame: &[u8]) -> Result<usize> {
        check_count(frame.len())?;
        if !self.events.is_empty() {
            return Err(Error::EVENT_PENDING);
        }
        if self.tx_bufs.len() >= usize::try_from(self.numbufs).unwrap_or(0) {
            return Err(Errno::EAGAIN.into());
        }
        // Writing to a real channel cancels kernel tones and dialling (§1.6).
        self.cancel_dial_and_tone();
        let n = frame.len().min(self.block_bytes());
        self.tx_bufs.push_back(frame[..n].to_vec());
        Ok(n)
    }

    fn readiness(&self) -> Readiness {
        Readiness {
            readable: self.block_bytes() > 0 && self.rx.len() >= self.block_bytes(),
            writable: !self.removed
                && self.tx_bufs.len() < usize::try_from(self.numbufs).unwrap_or(0),
            priority: !self.events.is_empty(),
            hangup: self.removed,
        }
    }

    fn get_params(&self, channo: i32) -> DahdiParams {
        let mut p = self.params;
        p.channo = channo;
        p.spanno = 1;
        p.chanpos = channo;
        p.sigtype = self.sig;
        p.sigcap = self.sig;
        let rx_active = if self.is_fxs_port() {
            self.phone_off_hook
        } else {
            self.ring_voltage
        };
        p.rxisoffhook = rx_active.into();
        p.rxbits = 0;
        p.txbits = 0;
        p.txhooksig = self.tx.txsig();
        p.rxhooksig = match (self.is_fxs_port(), rx_active) {
            (true, true) => DAHDI_RXSIG_OFFHOOK,
            (false, true) => DAHDI_RXSIG_RING,
            (_, false) => DAHDI_RXSIG_ONHOOK,
        };
        p.curlaw = self.law;
        p.idlebits = 0;
        set_c_chars(&mut p.name, format!("FAKE/1/{channo}").as_bytes());
        p.chan_alarms = 0;
        p
    }
}

#[derive(Debug, Default)]
struct Kernel {
    now_ms: u64,
    chans: BTreeMap<i32, Chan>,
    /// In load order: the first is the default zone (§1.4).
    zones: Vec<Zone>,
}

impl Kernel {
    fn chan(&mut self, channo: i32) -> Result<&mut Chan> {
        self.chans
            .get_mut(&channo)
            .ok_or_else(|| Error::from(Errno::EINVAL))
    }

    /// The channel behind an open handle: `ENODEV` once the hardware is gone
    /// or was replaced.
    fn handle(&mut self, channo: i32, generation: u64) -> Result<&mut Chan> {
        match self.chans.get_mut(&channo) {
            Some(c) if c.generation == generation && c.open && !c.removed => Ok(c),
            _ => Err(Errno::ENODEV.into()),
        }
    }

    fn zone_cadence(&self, zone: Option<i32>) -> Option<Vec<u32>> {
        let zone = zone?;
        self.zones
            .iter()
            .find(|z| z.num == zone)
            .map(|z| z.cadence.clone())
    }

    /// `dahdi_ioctl_setconf` validation (§1.13).
    fn set_conf(&mut self, channo: i32, conf: DahdiConfInfo) -> Result<DahdiConfInfo> {
        let target = if conf.chan == 0 { channo } else { conf.chan };
        if !self.chans.contains_key(&target) {
            return Err(Errno::EINVAL.into());
        }
        let mode = conf.confmode & DAHDI_CONF_MODE_MASK;
        if mode > DAHDI_CONF_MONITORBOTH_PREECHO {
            return Err(Errno::EINVAL.into());
        }
        let mut confno = conf.confno;
        if conf_mode_targets_channel(mode) {
            if !self.chans.contains_key(&confno) {
                return Err(Errno::EINVAL.into());
            }
        } else {
            if !(-1..=DAHDI_MAX_CONF).contains(&confno) || ((confno == 0) != (mode == 0)) {
                return Err(Errno::EINVAL.into());
            }
            if confno == -1 {
                confno = (1..=DAHDI_MAX_CONF)
                    .find(|n| {
                        !self.chans.values().any(|c| {
                            c.conf.confno == *n
                                && !conf_mode_targets_channel(c.conf.confmode)
                                && c.conf.confmode & DAHDI_CONF_MODE_MASK != 0
                        })
                    })
                    .ok_or_else(|| Error::from(Errno::EBUSY))?;
            }
        }
        let stored = DahdiConfInfo {
            chan: target,
            confno,
            confmode: conf.confmode,
        };
        self.chan(target)?.conf = stored;
        Ok(stored)
    }
}

/// The fake DAHDI kernel: a set of channels, loaded tone zones and a clock.
/// Cloning shares the same kernel.
#[derive(Debug, Clone, Default)]
pub struct FakeDahdi {
    kernel: Arc<Mutex<Kernel>>,
}

fn lock(kernel: &Mutex<Kernel>) -> MutexGuard<'_, Kernel> {
    // A test that panicked while holding the lock left consistent state
    // behind (every mutation is a few field writes), so keep going.
    kernel.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeDahdi {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Kernel> {
        lock(&self.kernel)
    }

    /// Adds channel `channo` with signalling `sigtype` (`DAHDI_SIG_*`;
    /// `DAHDI_SIG_NONE` = not configured by `dahdi_cfg`, opens give `ENXIO`).
    /// `EINVAL` for a number outside 1 … 1024 or one already present.
    pub fn add_channel(&self, channo: i32, sigtype: i32) -> Result<()> {
        let mut k = self.lock();
        if !(1..=DAHDI_MAX_CHANNELS).contains(&channo) || k.chans.contains_key(&channo) {
            return Err(Errno::EINVAL.into());
        }
        k.chans.insert(channo, Chan::new(sigtype));
        Ok(())
    }

    /// Loads tone zone `zone` with a ring cadence in ms (on, off, …; a 0
    /// ends it, as in `dahdi_ring_cadence`). The first zone loaded is the
    /// default that every open attaches (§1.4). `EINVAL` for a zone number
    /// outside 0 … 127, one already loaded, or an empty cadence.
    pub fn load_zone(&self, zone: i32, ringcadence: &[u32]) -> Result<()> {
        let cadence: Vec<u32> = ringcadence
            .iter()
            .copied()
            .take_while(|&ms| ms != 0)
            .collect();
        let mut k = self.lock();
        if !(0..DAHDI_TONE_ZONE_MAX).contains(&zone)
            || k.zones.iter().any(|z| z.num == zone)
            || cadence.is_empty()
        {
            return Err(Errno::EINVAL.into());
        }
        k.zones.push(Zone { num: zone, cadence });
        Ok(())
    }

    /// Milliseconds of fake time so far.
    pub fn now_ms(&self) -> u64 {
        self.lock().now_ms
    }

    /// Lets `ms` milliseconds pass, one 1 ms kernel tick at a time.
    pub fn advance(&self, ms: u64) {
        let mut k = self.lock();
        for _ in 0..ms {
            k.now_ms += 1;
            for chan in k.chans.values_mut() {
                chan.tick();
            }
        }
    }

    /// What a test can observe of channel `channo`; `None` if absent.
    pub fn state(&self, channo: i32) -> Option<FakeChannelState> {
        let k = self.lock();
        let c = k.chans.get(&channo)?;
        Some(FakeChannelState {
            open: c.open,
            removed: c.removed,
            tx_state: c.tx,
            zone: c.zone,
            tone: c.tone,
            dialing: c.dial_ms > 0,
            conf: c.conf,
            blocksize: c.blocksize,
            numbufs: c.numbufs,
            linear: c.linear,
            law: Law::from_code(c.law).unwrap_or(Law::MuLaw),
            queued_events: c.events.len(),
            params: c.get_params(channo),
            flashes: c.flashes,
            offhooks: c.offhooks,
        })
    }

    /// Queues an arbitrary event, as a driver-generated one would be.
    pub fn inject_event(&self, channo: i32, event: DahdiEvent) -> Result<()> {
        self.lock().chan(channo)?.queue(event.code());
        Ok(())
    }

    /// Scripted receive audio: bytes as `read` will return them.
    pub fn push_rx_audio(&self, channo: i32, bytes: &[u8]) -> Result<()> {
        self.lock().chan(channo)?.rx.extend(bytes.iter().copied());
        Ok(())
    }

    /// Audio the kernel has transmitted since the last call (8 samples per
    /// ms of fake time from the written buffers).
    pub fn take_tx_audio(&self, channo: i32) -> Result<Vec<u8>> {
        Ok(std::mem::take(&mut self.lock().chan(channo)?.tx_sent))
    }

    /// The hardware behind `channo` disappears: `REMOVED` is queued, and
    /// every call on the open handle except `GETEVENT` fails with `ENODEV`.
    pub fn remove_channel(&self, channo: i32) -> Result<()> {
        let mut k = self.lock();
        let c = k.chan(channo)?;
        c.removed = true;
        c.queue(DAHDI_EVENT_REMOVED);
        Ok(())
    }

    /// The hardware comes back as a fresh channel; handles from before the
    /// removal stay dead (`ENODEV`), a new open succeeds.
    pub fn restore_channel(&self, channo: i32) -> Result<()> {
        let mut k = self.lock();
        let c = k.chan(channo)?;
        let mut fresh = Chan::new(c.sig);
        fresh.generation = c.generation + 1;
        *c = fresh;
        Ok(())
    }

    fn fxs_port(&self, channo: i32) -> Result<MutexGuard<'_, Kernel>> {
        let mut k = self.lock();
        if !k.chan(channo)?.is_fxs_port() {
            return Err(Errno::EINVAL.into());
        }
        Ok(k)
    }

    fn fxo_port(&self, channo: i32) -> Result<MutexGuard<'_, Kernel>> {
        let mut k = self.lock();
        if !k.chan(channo)?.is_fxo_port() {
            return Err(Errno::EINVAL.into());
        }
        Ok(k)
    }

    /// FXS port: the telephone goes off-hook. From idle (or while ringing)
    /// that is `RINGOFFHOOK` and stops the ringing; after an on-hook break of
    /// 15–200 ms it is a dial pulse (`PULSE_START` on the first, the digit
    /// after [`DAHDI_PULSETIMEOUT_MS`] off-hook); after 200 ms up to
    /// `rxflashtime` it is `WINKFLASH`; breaks under 15 ms are ignored.
    /// `EINVAL` on a channel that is not an FXS port.
    pub fn phone_off_hook(&self, channo: i32) -> Result<()> {
        let mut k = self.fxs_port(channo)?;
        let c = k.chan(channo)?;
        if c.phone_off_hook {
            return Ok(());
        }
        c.phone_off_hook = true;
        match c.onhook_ms.take() {
            Some(ms) if ms < DAHDI_MINPULSETIME_MS => {}
            Some(ms) if ms <= DAHDI_MAXPULSETIME_MS => {
                if c.pulse_count == 0 {
                    c.queue(DAHDI_EVENT_PULSE_START);
                }
                c.pulse_count += 1;
                c.pulse_timer = DAHDI_PULSETIMEOUT_MS;
            }
            Some(_) => c.queue(DAHDI_EVENT_WINKFLASH),
            None => {
                if matches!(c.tx, FakeTxState::RingOn | FakeTxState::RingOff) {
                    c.set_tx(FakeTxState::OffHook, 0);
                }
                c.queue(DAHDI_EVENT_RINGOFFHOOK);
            }
        }
        Ok(())
    }

    /// FXS port: the telephone goes on-hook; `ONHOOK` follows once it has
    /// stayed on-hook for `rxflashtime`.
    pub fn phone_on_hook(&self, channo: i32) -> Result<()> {
        let mut k = self.fxs_port(channo)?;
        let c = k.chan(channo)?;
        if !c.phone_off_hook {
            return Ok(());
        }
        c.phone_off_hook = false;
        c.pulse_timer = 0;
        c.onhook_ms = Some(0);
        Ok(())
    }

    /// FXO port: ring voltage from the exchange starts (`true`) or stops.
    /// A burst is reported as `RINGBEGIN` at its start and `RINGOFFHOOK`
    /// once no ring was seen for 50 ms; bursts that begin within 2000 ms of
    /// the port going on-hook are ignored (ring debounce).
    pub fn co_ring(&self, channo: i32, on: bool) -> Result<()> {
        let mut k = self.fxo_port(channo)?;
        let c = k.chan(channo)?;
        c.ring_voltage = on;
        if on {
            c.ring_trailer = 0;
            if !c.ring_burst && c.ring_debounce == 0 {
                c.ring_burst = true;
                c.queue(DAHDI_EVENT_RINGBEGIN);
            }
        }
        Ok(())
    }

    /// FXO port: the exchange drops loop current (far-end disconnect).
    /// Reported as `ONHOOK` only on kewl- and ground-start ports that are
    /// off-hook past the debounce; loop-start ports never see it (§1.9).
    pub fn co_disconnect(&self, channo: i32) -> Result<()> {
        let mut k = self.fxo_port(channo)?;
        let c = k.chan(channo)?;
        let reports = matches!(
            c.port(),
            Some((_, StartMethod::KewlStart | StartMethod::GroundStart))
        );
        if reports && c.tx == FakeTxState::OffHook {
            c.queue(DAHDI_EVENT_ONHOOK);
        }
        Ok(())
    }

    /// FXO port: the exchange reverses the line polarity.
    pub fn co_polarity_reversal(&self, channo: i32) -> Result<()> {
        let mut k = self.fxo_port(channo)?;
        k.chan(channo)?.queue(DAHDI_EVENT_POLARITY);
        Ok(())
    }
}

impl DahdiOpener for FakeDahdi {
    type Channel = FakeChannel;

    fn open_channel(&self, channo: i32) -> Result<FakeChannel> {
        let mut k = self.lock();
        let default_zone = k.zones.first().map(|z| z.num);
        let c = k.chan(channo)?;
        if c.removed || c.sig == DAHDI_SIG_NONE {
            return Err(Errno::ENXIO.into());
        }
        if c.open {
            return Err(Errno::EBUSY.into());
        }
        c.initialize(default_zone);
        Ok(FakeChannel {
            kernel: Arc::clone(&self.kernel),
            channo,
            generation: c.generation,
        })
    }
}

/// An open channel of a [`FakeDahdi`]; dropping it closes the channel
/// (hang-up, zone and conference dropped), like closing the fd.
#[derive(Debug)]
pub struct FakeChannel {
    kernel: Arc<Mutex<Kernel>>,
    channo: i32,
    generation: u64,
}

impl FakeChannel {
    fn with<T>(&self, f: impl FnOnce(&mut Chan) -> Result<T>) -> Result<T> {
        let mut k = lock(&self.kernel);
        f(k.handle(self.channo, self.generation)?)
    }
}

impl Drop for FakeChannel {
    fn drop(&mut self) {
        let mut k = lock(&self.kernel);
        if let Some(c) = k.chans.get_mut(&self.channo) {
            if c.generation == self.generation && c.open {
                c.close();
            }
        }
    }
}

impl DahdiChannel for FakeChannel {
    fn channo(&mut self) -> Result<i32> {
        let channo = self.channo;
        self.with(|_| Ok(channo))
    }

    fn get_params(&mut self) -> Result<DahdiParams> {
        let channo = self.channo;
        self.with(|c| Ok(c.get_params(channo)))
    }

    fn set_params(&mut self, params: &DahdiParams) -> Result<()> {
        self.with(|c| {
            c.params.copy_timings_from(params);
            Ok(())
        })
    }

    fn set_blocksize(&mut self, samples: i32) -> Result<()> {
        self.with(|c| {
            if !(DAHDI_MIN_BLOCKSIZE..=DAHDI_MAX_BLOCKSIZE).contains(&samples) {
                return Err(Errno::EINVAL.into());
            }
            c.blocksize = samples;
            c.rx.clear();
            c.tx_bufs.clear();
            Ok(())
        })
    }

    fn set_bufinfo(&mut self, info: &DahdiBufferInfo) -> Result<()> {
        self.with(|c| {
            if !(DAHDI_MIN_BLOCKSIZE..=DAHDI_MAX_BLOCKSIZE).contains(&info.bufsize)
                || i64::from(info.bufsize) * i64::from(info.numbufs)
                    > i64::from(DAHDI_MAX_BUF_SPACE)
            {
                return Err(Errno::EINVAL.into());
            }
            c.blocksize = info.bufsize;
            c.numbufs = info
                .numbufs
                .clamp(DAHDI_DEFAULT_NUM_BUFS, DAHDI_MAX_NUM_BUFS);
            c.rx.clear();
            c.tx_bufs.clear();
            Ok(())
        })
    }

    fn set_linear(&mut self, linear: bool) -> Result<()> {
        self.with(|c| {
            c.linear = linear;
            Ok(())
        })
    }

    fn set_law(&mut self, law: Law) -> Result<()> {
        self.with(|c| {
            // The fake's spans are µ-law.
            c.law = match law {
                Law::Default | Law::MuLaw => DAHDI_LAW_MULAW,
                Law::ALaw => DAHDI_LAW_ALAW,
            };
            Ok(())
        })
    }

    fn hook(&mut self, op: HookOp) -> Result<HookOutcome> {
        let mut k = lock(&self.kernel);
        let zone = k.handle(self.channo, self.generation)?.zone;
        let cadence = k.zone_cadence(zone);
        k.handle(self.channo, self.generation)?.hook(op, cadence)
    }

    fn get_event(&mut self) -> Result<Option<DahdiEvent>> {
        let mut k = lock(&self.kernel);
        // GETEVENT keeps working after removal so `REMOVED` can be read.
        match k.chans.get_mut(&self.channo) {
            Some(c) if c.generation == self.generation && c.open => {
                Ok(c.events.pop_front().and_then(DahdiEvent::from_code))
            }
            _ => Err(Errno::ENODEV.into()),
        }
    }

    fn flush(&mut self, what: i32) -> Result<()> {
        self.with(|c| {
            if what & DAHDI_FLUSH_READ != 0 {
                c.rx.clear();
            }
            if what & DAHDI_FLUSH_WRITE != 0 {
                c.tx_bufs.clear();
            }
            if what & DAHDI_FLUSH_EVENT != 0 {
                c.events.clear();
            }
            Ok(())
        })
    }

    fn set_conf(&mut self, conf: DahdiConfInfo) -> Result<DahdiConfInfo> {
        let mut k = lock(&self.kernel);
        k.handle(self.channo, self.generation)?;
        k.set_conf(self.channo, conf)
    }

    fn set_tonezone(&mut self, zone: i32) -> Result<()> {
        let mut k = lock(&self.kernel);
        // Out of range is EINVAL; a zone number that was never loaded is
        // ENODATA, the kernel's "no tone zone" answer (the spec lists no
        // errno for SETTONEZONE itself).
        if !(DAHDI_TONE_ZONE_DEFAULT..DAHDI_TONE_ZONE_MAX).contains(&zone) {
            return Err(Errno::EINVAL.into());
        }
        let resolved = if zone == DAHDI_TONE_ZONE_DEFAULT {
            k.zones.first().map(|z| z.num)
        } else {
            k.zones.iter().find(|z| z.num == zone).map(|z| z.num)
        };
        let Some(resolved) = resolved else {
            return Err(Errno::ENODATA.into());
        };
        let c = k.handle(self.channo, self.generation)?;
        c.cancel_dial_and_tone();
        c.zone = Some(resolved);
        Ok(())
    }

    fn send_tone(&mut self, tone: Tone) -> Result<()> {
        self.with(|c| c.send_tone(tone))
    }

    fn dial(&mut self, op: DialOp, digits: &str) -> Result<()> {
        self.with(|c| c.dial(op, digits))
    }

    fn dialing(&mut self) -> Result<bool> {
        self.with(|c| Ok(c.dial_ms > 0))
    }

    fn read_frame(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.with(|c| c.read_frame(buf))
    }

    fn write_frame(&mut self, frame: &[u8]) -> Result<usize> {
        self.with(|c| c.write_frame(frame))
    }

    fn readiness(&mut self) -> Result<Readiness> {
        let k = lock(&self.kernel);
        match k.chans.get(&self.channo) {
            Some(c) if c.generation == self.generation && c.open => Ok(c.readiness()),
            // The fd outlived its hardware: poll reports hang-up for good.
            _ => Ok(Readiness {
                hangup: true,
                ..Readiness::default()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_flashes_are_counted_until_the_channel_is_restored() {
        let k = FakeDahdi::new();
        k.add_channel(2, DAHDI_SIG_FXSKS).unwrap();
        let mut ch = k.open_channel(2).unwrap();
        let mut p = ch.get_params().unwrap();
        p.preflashtime = 1;
        p.flashtime = 5;
        ch.set_params(&p).unwrap();
        ch.hook(HookOp::OffHook).unwrap();
        k.advance(600);
        assert_eq!(k.state(2).unwrap().flashes, 0);
        assert_eq!(ch.hook(HookOp::Flash), Ok(HookOutcome::InProgress));
        k.advance(5);
        assert_eq!(k.state(2).unwrap().flashes, 0, "break still going");
        k.advance(1);
        let st = k.state(2).unwrap();
        assert_eq!((st.flashes, st.tx_state), (1, FakeTxState::OffHook));
        // A hook operation that ends a flash early is not a completed one.
        assert_eq!(ch.hook(HookOp::Flash), Ok(HookOutcome::InProgress));
        k.advance(3);
        ch.hook(HookOp::OnHook).unwrap();
        k.advance(10);
        assert_eq!(k.state(2).unwrap().flashes, 1);
        k.remove_channel(2).unwrap();
        k.restore_channel(2).unwrap();
        assert_eq!(k.state(2).unwrap().flashes, 0, "a fresh channel");
    }
}
