//! The telephone line behind the emulated modem: *when* things happen.
//!
//! Kept apart from the byte protocol (`protocol.rs`) so that the daemon's
//! simulated world can drive the same line later: it only knows the hook,
//! the call, the ring cadence and the tones, speaks in [`LineEvent`]s and
//! audio frames, and takes its time as milliseconds from the caller, so it
//! is deterministic under test.

use super::audio::{self, LineAudio, WireFormat};
use pickupd_hw::v253::{CallerId, DtmfDigit, SampleFormat};
use std::collections::VecDeque;

/// The ring cadence of the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingCadence {
    /// Ring burst length, ms.
    pub on_ms: u64,
    /// Pause between bursts, ms.
    pub off_ms: u64,
    /// Caller ID is sent this long after the end of the first burst (it
    /// travels between the first and second ring, §3.8).
    pub cid_delay_ms: u64,
}

impl Default for RingCadence {
    /// North American 2 s on, 4 s off; caller ID 0.5 s after the first ring.
    fn default() -> Self {
        Self {
            on_ms: 2000,
            off_ms: 4000,
            cid_delay_ms: 500,
        }
    }
}

/// Something the modem's detectors notice on the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    /// A ring burst began.
    Ring,
    /// The caller-ID burst between first and second ring.
    CallerId(CallerId),
    /// A DTMF digit from the far end.
    Dtmf(DtmfDigit),
    /// Loop current interrupted: the far end released.
    LoopBreak,
    /// Busy tone (repeated about every 4 s while it lasts).
    Busy,
    /// Dial tone.
    DialTone,
    /// Call-waiting tone; with the waiting caller's identity when the
    /// exchange sent one (CIDCW).
    CallWaiting(Option<CallerId>),
    /// The local handset (phone on the modem's phone jack) changed hook.
    Handset {
        /// `true` when lifted.
        off_hook: bool,
    },
}

/// Where the line stands, for the handle's observers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallState {
    /// No call.
    Idle,
    /// An incoming call is ringing.
    Ringing(CallerId),
    /// The modem is off-hook with the call.
    Connected(CallerId),
    /// The far end released; the modem is still off-hook.
    Released,
    /// The modem dialled out (the number is in [`LineState::dialled`]).
    Outgoing,
}

/// A snapshot of the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineState {
    /// The modem's hook.
    pub off_hook: bool,
    /// The call.
    pub call: CallState,
    /// A call waiting (or held after a flash swapped the calls).
    pub waiting: Option<CallerId>,
    /// Hook flashes the modem sent.
    pub flashes: u32,
    /// Times the modem went off hook (answered or seized), so an observer
    /// that looks now and then also sees an answer and hang-up in between.
    pub offhooks: u32,
    /// DTMF digits the modem sent (`+VTS`), in order.
    pub sent_digits: String,
    /// The last number dialled with `ATD`.
    pub dialled: Option<String>,
}

/// The line. Every method takes the current time in ms.
#[derive(Debug)]
pub struct Line {
    cadence: RingCadence,
    off_hook: bool,
    call: CallState,
    waiting: Option<CallerId>,
    /// When the current call started ringing.
    ring_start: u64,
    rings_sent: u64,
    cid_sent: bool,
    /// Next busy report while released and off-hook.
    next_busy: Option<u64>,
    flashes: u32,
    offhooks: u32,
    sent_digits: String,
    dialled: Option<String>,
    events: VecDeque<LineEvent>,
    audio: LineAudio,
    wire: WireFormat,
    /// Time up to which audio frames have been produced.
    audio_clock_ms: u64,
    /// Far-end audio paces the frames during a call (see
    /// [`Line::set_far_end_paced`]).
    far_end_paced: bool,
}

/// Most events kept for the modem: a detector flood loses the oldest.
const MAX_EVENTS: usize = 256;
/// How far behind real time audio may fall before frames are skipped (the
/// modem's thread stalled): bounded work, real-time pace kept.
const MAX_AUDIO_LAG_MS: u64 = 200;
/// Most digits kept in [`LineState::sent_digits`].
const MAX_DIGITS: usize = 1024;
/// With far-end pacing: how late the far end's next frame may be before
/// the line plays what it has (silence, tones) in its place.
pub const FAR_END_GRACE_MS: u64 = 60;
/// With far-end pacing: how far ahead of real time the line plays far-end
/// audio that has arrived early.
pub const FAR_END_LEAD_MS: u64 = 60;

impl Line {
    /// An idle line with the modem on-hook.
    pub fn new(cadence: RingCadence) -> Self {
        Self {
            cadence,
            off_hook: false,
            call: CallState::Idle,
            waiting: None,
            ring_start: 0,
            rings_sent: 0,
            cid_sent: false,
            next_busy: None,
            flashes: 0,
            offhooks: 0,
            sent_digits: String::new(),
            dialled: None,
            events: VecDeque::new(),
            audio: LineAudio::default(),
            wire: WireFormat {
                format: SampleFormat::UnsignedPcm8,
                rate: 8000,
            },
            audio_clock_ms: 0,
            far_end_paced: false,
        }
    }

    fn emit(&mut self, event: LineEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// A snapshot for observers.
    pub fn state(&self) -> LineState {
        LineState {
            off_hook: self.off_hook,
            call: self.call.clone(),
            waiting: self.waiting.clone(),
            flashes: self.flashes,
            offhooks: self.offhooks,
            sent_digits: self.sent_digits.clone(),
            dialled: self.dialled.clone(),
        }
    }

    /// The modem changed `+VSM`.
    pub fn set_wire(&mut self, wire: WireFormat) {
        self.wire = wire;
    }

    // ---- the outside world ----

    /// A call comes in; ignored (returns `false`) if the line is busy.
    pub fn incoming_call(&mut self, caller: CallerId, now: u64) -> bool {
        if self.off_hook || self.call != CallState::Idle {
            return false;
        }
        self.call = CallState::Ringing(caller);
        self.ring_start = now;
        self.rings_sent = 0;
        self.cid_sent = false;
        true
    }

    /// The far end hangs up: an unanswered call stops ringing; a connected
    /// one breaks the loop current, then the exchange plays busy.
    pub fn far_end_hangup(&mut self, now: u64) {
        match self.call {
            CallState::Ringing(_) => self.call = CallState::Idle,
            CallState::Connected(_) | CallState::Outgoing => {
                self.call = CallState::Released;
                self.waiting = None;
                self.audio.clear_far_end();
                self.audio.silence_tones();
                self.emit(LineEvent::LoopBreak);
                self.next_busy = Some(now + 1000);
            }
            CallState::Idle | CallState::Released => {}
        }
    }

    /// The called party answers a call the modem dialled (`ATD`); `false`
    /// if there is no outgoing call.
    pub fn far_end_answer(&mut self, party: CallerId) -> bool {
        if self.call != CallState::Outgoing {
            return false;
        }
        self.call = CallState::Connected(party);
        self.audio.set_background(None);
        true
    }

    /// Far-end audio in the wire format; kept only while a call is
    /// connected (nobody hears it otherwise). Returns whether it was taken.
    pub fn far_end_audio(&mut self, bytes: &[u8]) -> bool {
        if self.off_hook && matches!(self.call, CallState::Connected(_) | CallState::Outgoing) {
            self.audio.push_far_end(bytes);
            true
        } else {
            false
        }
    }

    /// Far-end audio not yet on the wire.
    pub fn far_end_pending(&self) -> usize {
        self.audio.far_end_pending()
    }

    /// Lets the far end's audio pace the line during a call: a frame goes
    /// out as soon as its far-end audio is queued (up to
    /// [`FAR_END_LEAD_MS`] ahead of real time), and the line's own clock
    /// fills in with what it has (silence, tones) only when the far end is
    /// more than [`FAR_END_GRACE_MS`] late. For a far end that produces
    /// audio on a clock of its own (a simulated exchange ticking on its own
    /// thread): without it, the two clocks' jitter cuts holes into the
    /// audio whenever a frame arrives just after the line needed it. Off
    /// (the line's clock alone, as on a real line) by default.
    pub fn set_far_end_paced(&mut self, paced: bool) {
        self.far_end_paced = paced;
    }

    /// The far end presses a key: the tone on the line and the detector's
    /// event. Only heard while off-hook.
    pub fn far_end_dtmf(&mut self, digit: DtmfDigit) -> bool {
        if !self.off_hook {
            return false;
        }
        if let Some(tone) = audio::dtmf(digit.as_ascii()) {
            self.audio.play_once(&tone);
        }
        self.emit(LineEvent::Dtmf(digit));
        true
    }

    /// A second call arrives during a connected call: the exchange plays the
    /// SAS and remembers the waiting caller for a flash.
    pub fn call_waiting(&mut self, caller: Option<CallerId>) -> bool {
        if !self.off_hook || !matches!(self.call, CallState::Connected(_)) {
            return false;
        }
        self.audio.play_once(&audio::SAS);
        self.waiting = Some(caller.clone().unwrap_or_default());
        self.emit(LineEvent::CallWaiting(caller));
        true
    }

    /// The phone on the modem's handset jack changes hook.
    pub fn local_handset(&mut self, off_hook: bool) {
        self.emit(LineEvent::Handset { off_hook });
    }

    // ---- the modem ----

    /// The modem goes off-hook: answers a ringing call, or hears dial tone.
    pub fn off_hook(&mut self, _now: u64) {
        if self.off_hook {
            return;
        }
        self.off_hook = true;
        self.offhooks = self.offhooks.wrapping_add(1);
        match std::mem::replace(&mut self.call, CallState::Idle) {
            CallState::Ringing(caller) => self.call = CallState::Connected(caller),
            other => {
                self.call = other;
                if self.call == CallState::Idle {
                    self.audio.set_background(Some(&audio::DIAL_TONE));
                    self.emit(LineEvent::DialTone);
                }
            }
        }
    }

    /// The modem hangs up: the call (and any waiting call) ends.
    pub fn on_hook(&mut self) {
        if !self.off_hook {
            return;
        }
        self.off_hook = false;
        self.call = CallState::Idle;
        self.waiting = None;
        self.next_busy = None;
        self.audio.clear_far_end();
        self.audio.silence_tones();
    }

    /// The modem dials: off-hook, and the call is outgoing.
    pub fn dial(&mut self, number: &str, now: u64) {
        self.off_hook(now);
        self.audio.set_background(None);
        if self.call == CallState::Idle {
            self.call = CallState::Outgoing;
        }
        self.dialled = Some(number.chars().take(64).collect());
    }

    /// A hook flash: with a call waiting, the exchange swaps the calls.
    pub fn flash(&mut self) {
        if !self.off_hook {
            return;
        }
        self.flashes = self.flashes.saturating_add(1);
        if let (CallState::Connected(active), Some(waiting)) = (&self.call, &self.waiting) {
            let (active, waiting) = (active.clone(), waiting.clone());
            self.call = CallState::Connected(waiting);
            self.waiting = Some(active);
            self.audio.clear_far_end();
        }
    }

    /// The modem plays a DTMF digit to the far end.
    pub fn send_digit(&mut self, digit: DtmfDigit) {
        if self.sent_digits.len() < MAX_DIGITS {
            self.sent_digits.push(digit.as_char());
        }
        if self.call == CallState::Outgoing || self.call == CallState::Idle {
            // Dialling: the first digit stops dial tone.
            self.audio.set_background(None);
        }
    }

    // ---- time ----

    /// Advances to `now`: ring cadence, caller ID, busy repetitions.
    /// Returns the events since the last call.
    pub fn advance(&mut self, now: u64) -> Vec<LineEvent> {
        if let CallState::Ringing(caller) = &self.call {
            let period = (self.cadence.on_ms + self.cadence.off_ms).max(1);
            let elapsed = now.saturating_sub(self.ring_start);
            let cid_at = self.cadence.on_ms + self.cadence.cid_delay_ms;
            // Rings and caller ID in time order.
            let caller = caller.clone();
            while self.rings_sent * period <= elapsed {
                if self.rings_sent == 1 && !self.cid_sent {
                    // A late wake-up still sends caller ID before ring two.
                    self.cid_sent = true;
                    if !caller.is_empty() {
                        self.emit(LineEvent::CallerId(caller.clone()));
                    }
                }
                self.rings_sent += 1;
                self.emit(LineEvent::Ring);
            }
            if !self.cid_sent && elapsed >= cid_at {
                self.cid_sent = true;
                if !caller.is_empty() {
                    self.emit(LineEvent::CallerId(caller));
                }
            }
        }
        if self.call == CallState::Released && self.off_hook {
            if let Some(at) = self.next_busy {
                if now >= at {
                    // Restarting the 1 s cadence every 4 s keeps it in phase.
                    self.audio.set_background(Some(&audio::BUSY_TONE));
                    self.emit(LineEvent::Busy);
                    self.next_busy = Some(now.max(at) + 4000);
                }
            }
        }
        self.events.drain(..).collect()
    }

    /// Audio frames (20 ms each) due up to `now`, with whether each carried
    /// sound. Frames are produced whether or not the modem listens: sound
    /// on a line does not wait.
    pub fn audio_frames(&mut self, now: u64) -> Vec<(Vec<u8>, bool)> {
        if now.saturating_sub(self.audio_clock_ms) > MAX_AUDIO_LAG_MS {
            self.audio_clock_ms = now - MAX_AUDIO_LAG_MS;
        }
        let mut frames = Vec::new();
        let samples = self.wire.frame_samples();
        let paced = self.far_end_paced
            && self.off_hook
            && matches!(self.call, CallState::Connected(_) | CallState::Outgoing);
        let (grace, lead) = if paced {
            (FAR_END_GRACE_MS, FAR_END_LEAD_MS)
        } else {
            (0, 0)
        };
        let frame_bytes = self.wire.bytes_for(samples).max(1);
        loop {
            let due = self.audio_clock_ms + 20;
            let arrived = paced && self.audio.far_end_pending() >= frame_bytes;
            if !(due + grace <= now || (arrived && due <= now + lead)) {
                break;
            }
            self.audio_clock_ms = due;
            let frame = self.audio.frame(self.wire, samples);
            frames.push(frame);
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pickupd_hw::v253::CallerNumber;

    fn caller() -> CallerId {
        CallerId {
            number: Some(CallerNumber::Number("5551234".into())),
            ..CallerId::default()
        }
    }

    #[test]
    fn rings_at_the_cadence_with_caller_id_after_the_first() {
        let mut line = Line::new(RingCadence::default());
        assert!(line.incoming_call(caller(), 0));
        assert_eq!(line.advance(0), vec![LineEvent::Ring]);
        assert_eq!(line.advance(2400), vec![]);
        assert_eq!(line.advance(2500), vec![LineEvent::CallerId(caller())]);
        assert_eq!(line.advance(5999), vec![]);
        assert_eq!(line.advance(6000), vec![LineEvent::Ring]);
        line.off_hook(6100);
        assert_eq!(line.advance(20_000), vec![]);
        assert_eq!(line.state().call, CallState::Connected(caller()));
    }

    #[test]
    fn far_end_release_breaks_the_loop_then_busy() {
        let mut line = Line::new(RingCadence::default());
        line.incoming_call(caller(), 0);
        line.off_hook(10);
        line.advance(10);
        line.far_end_hangup(100);
        assert_eq!(line.advance(100), vec![LineEvent::LoopBreak]);
        assert_eq!(line.advance(1100), vec![LineEvent::Busy]);
        assert_eq!(line.advance(5099), vec![]);
        assert_eq!(line.advance(5100), vec![LineEvent::Busy]);
    }

    #[test]
    fn flash_swaps_to_the_waiting_call() {
        let mut line = Line::new(RingCadence::default());
        line.incoming_call(caller(), 0);
        line.off_hook(10);
        let second = CallerId {
            name: Some("SECOND".into()),
            ..CallerId::default()
        };
        assert!(line.call_waiting(Some(second.clone())));
        line.flash();
        let state = line.state();
        assert_eq!(state.call, CallState::Connected(second));
        assert_eq!(state.waiting, Some(caller()));
        assert_eq!(state.flashes, 1);
    }

    #[test]
    fn far_end_audio_can_pace_the_line_during_a_call() {
        let mut line = Line::new(RingCadence::default());
        line.set_far_end_paced(true);
        // Not in a call: the line's clock alone.
        assert_eq!(line.audio_frames(100).len(), 5);
        line.incoming_call(caller(), 100);
        line.off_hook(100);
        assert!(line.far_end_audio(&[0x90; 160]));
        // Out as soon as it is there, ahead of the line's clock.
        let frames = line.audio_frames(105);
        assert_eq!(frames.len(), 1);
        assert!(frames[0].0.iter().all(|&b| b == 0x90));
        // The next frame is late: nothing is played in its place until the
        // grace is over ...
        assert_eq!(line.audio_frames(105 + FAR_END_GRACE_MS).len(), 0);
        assert!(line.far_end_audio(&[0x91; 160]));
        let frames = line.audio_frames(105 + FAR_END_GRACE_MS);
        assert_eq!(frames.len(), 1);
        assert!(frames[0].0.iter().all(|&b| b == 0x91), "no hole before it");
        // ... then the line's clock fills in with silence.
        let frames = line.audio_frames(200 + FAR_END_GRACE_MS);
        assert!(!frames.is_empty());
        assert!(frames.iter().all(|(f, _)| f.iter().all(|&b| b == 0x80)));
        // Early audio is played at most FAR_END_LEAD_MS ahead: from the
        // line's clock (the grace behind) up to the lead ahead, then one
        // frame per 20 ms.
        let now = 200 + FAR_END_GRACE_MS;
        assert!(line.far_end_audio(&[0x92; 3200]));
        let ahead = line.audio_frames(now).len() as u64;
        assert_eq!(ahead * 20, FAR_END_GRACE_MS + FAR_END_LEAD_MS);
        assert_eq!(line.audio_frames(now).len(), 0);
        assert_eq!(line.audio_frames(now + 20).len(), 1);
    }

    #[test]
    fn audio_is_paced_in_20_ms_frames() {
        let mut line = Line::new(RingCadence::default());
        assert_eq!(line.audio_frames(19).len(), 0);
        assert_eq!(line.audio_frames(100).len(), 5);
        // A stall is not caught up beyond the lag bound.
        assert_eq!(line.audio_frames(10_000).len(), 10);
    }
}
