//! Ring path latency (issue 3 point 5): from the moment the driver side
//! pushes the receive frame that completes a signal into a line's ring (and
//! unparks the media worker, as `SimDriver` does) until the engine task has
//! applied the resulting `HwEvent`.
//!
//! Real pieces throughout: `MediaPort`s on `rtrb` rings of `RING_FRAMES`,
//! the `MediaWorker` on its own thread, `EngineHandle` and `runtime::run`
//! on a 2-worker multi-thread tokio runtime (as `main` builds it). The end
//! point is the engine's own output: `runtime::run` sends one `BusBatch` to
//! the bus sink after `Engine::hardware` has handled each `Input::Hw`; here a
//! task on the same runtime stands in for the bus adapter and takes the
//! timestamp as soon as it receives that batch (same runtime: the woken
//! task normally runs next on the engine's worker thread, so no further
//! thread hand-off is timed).
//!
//! Signals:
//! * `dtmf`: digit '1' (60 ms silence, 100 ms on, 860 ms off, −10 dBm0
//!   per tone, from `DtmfGenerator`) on an off-hook station; the engine
//!   records it as a dialled digit.
//! * `sas`: the `us` call-waiting tone (`ToneGenerator::sas`, 440 Hz 300 ms)
//!   on a trunk with a connected call, through the echo canceller and the
//!   detector bank; the engine creates the waiting call (`CallAdded`).
//!
//! The worker detects with one `DetectorBank` over all its lines, one round
//! (bank tick) per frame on every line; the bank's events are those of the
//! scalar detectors, so the completing frame is found offline with the
//! scalar detectors on the same frames (the sequence repeated as often as the timed run plays it,
//! to check that every repetition fires at the same frame). Each
//! repetition then pushes the frames before it untimed, with a silent frame
//! on every other line per frame (the worker works in rounds of one frame
//! per line, as a driver delivers them; waiting until the worker has
//! produced their transmit frames), then two warm-up ticks on
//! every line (the frames just before the completing one), and times only the
//! completing frame's tick; the rest of the sequence follows untimed. The
//! engine's state is reset between repetitions (station back on hook, the
//! waiting call dropped) and every repetition checks that exactly one
//! engine batch followed the timed frame and none came earlier or later.
//!
//! With N lines, the N − 1 other lines (alternately stations and trunks)
//! receive a noise frame (−35 dBm0) on the warm-up ticks and the timed
//! tick, so the worker processes them in the same round (the round waits
//! for every line's frame, the timed one included); the signalling line is
//! the last port (the last bank channel; events are acted on after the
//! whole bank tick and the trunks' echo cancellers), and for 120 lines also
//! the first port ("sig. first"). The per-frame cost of each scalar
//! detector chain and the cost of one bank tick over 24 and 120 lines of
//! noise, measured offline on one thread, are printed to read the
//! multi-line rows by.
//!
//! Anchors, in the same run: (a) a bare `rtrb` push → `unpark` → wake-up →
//! pop between two threads; (b) a bare tokio unbounded send from a plain
//! thread to a task on a 2-worker runtime (the media → engine hand-off).
//!
//! Before every timed push the driver side sleeps `RING_PATH_GAP_US`
//! (default 2000 µs) so that the worker and the runtime are idle, as they
//! are between the 20 ms ticks of a real driver.
//!
//! Run: `cargo bench -p pickupd --bench ring_path`
//! (`RING_PATH_REPS`, default 300; `RING_PATH_GAP_US`, default 2000).

use pickupd::config;
use pickupd::driver::RING_FRAMES;
use pickupd::engine::{BusEvent, CallId, Command, Engine, HwEvent, LineId, Reply};
use pickupd::media::{MediaPort, MediaWorker, ECHO_TAPS};
use pickupd::runtime::{self, BusBatch, EngineHandle, Sinks};
use pickupd_dsp::bank::DetectorBank;
use pickupd_dsp::dtmf::{DtmfDetector, DtmfEvent, DtmfGenerator};
use pickupd_dsp::echo::EchoCanceller;
use pickupd_dsp::sas::CallWaitingToneDetector;
use pickupd_dsp::tones::ToneGenerator;
use pickupd_dsp::{dbm0_to_peak, zones, Frame, FRAME_SAMPLES};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread::Thread;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const ZONE: &str = "us";
/// Frames pushed at once for the untimed parts (half the ring).
const CHUNK: usize = RING_FRAMES / 2;
/// Ticks on every line right before the timed one.
const WARM_TICKS: usize = 2;
const WAIT: Duration = Duration::from_secs(5);
/// Station number of the signalling station; its digit '1' leaves the
/// engine waiting for more digits.
const TARGET_STATION_NUMBER: &str = "1000";
const DIGIT: &str = "1";
/// One SAS repetition: the tone and then silence past the detector's 2 s
/// hold-off after a report (the report comes ≈ 150 ms after the tone).
const SAS_REP_FRAMES: usize = 135;
/// One DTMF repetition: 60 ms of silence, the digit (100 ms), silence. The
/// detector hops 51 samples: 51 frames keep every repetition at the same
/// hop phase, so each fires at the same frame.
const DTMF_LEAD_FRAMES: usize = 3;
const DTMF_REP_FRAMES: usize = 51;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Signal {
    Dtmf,
    Sas,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Dtmf => "dtmf",
            Signal::Sas => "sas",
        }
    }
}

// ---------------------------------------------------------------- frames

/// One repetition of the signal, as receive frames.
fn signal_frames(signal: Signal) -> Vec<Frame> {
    match signal {
        Signal::Dtmf => {
            let mut g = DtmfGenerator::with_timing(100, 100, -10.0);
            g.push_digits(DIGIT).expect("valid digit");
            // Silence first, so the warm-up ticks come before the digit.
            let mut frames = vec![[0; FRAME_SAMPLES]; DTMF_LEAD_FRAMES];
            frames.extend((DTMF_LEAD_FRAMES..DTMF_REP_FRAMES).map(|_| {
                let mut f = [0; FRAME_SAMPLES];
                g.fill(&mut f);
                f
            }));
            frames
        }
        Signal::Sas => {
            let zone = zones::zone(ZONE).expect("us zone");
            let mut g = ToneGenerator::sas(zone);
            (0..SAS_REP_FRAMES)
                .map(|_| {
                    let mut f = [0; FRAME_SAMPLES];
                    g.fill(&mut f);
                    f
                })
                .collect()
        }
    }
}

/// The frame index at which the scalar detector (the same chain the worker
/// runs) reports the signal; checked over `reps` back-to-back repetitions
/// (as many as the timed run plays).
fn completing_frame(signal: Signal, frames: &[Frame], reps: usize) -> usize {
    let mut fired = Vec::new();
    let silence: Frame = [0; FRAME_SAMPLES];
    match signal {
        Signal::Dtmf => {
            let mut d = DtmfDetector::new();
            for (i, f) in frames.iter().cycle().take(reps * frames.len()).enumerate() {
                d.process(f, &mut |ev| {
                    if matches!(ev, DtmfEvent::Begin { .. }) {
                        fired.push(i);
                    }
                });
            }
        }
        Signal::Sas => {
            // A trunk's chain: echo canceller (reference: the silence the
            // worker transmits on it here) → SAS detector.
            let zone = zones::zone(ZONE).expect("us zone");
            let mut echo = EchoCanceller::new(ECHO_TAPS);
            let mut sas = CallWaitingToneDetector::for_zone(zone);
            for (i, f) in frames.iter().cycle().take(reps * frames.len()).enumerate() {
                let mut clean = [0; FRAME_SAMPLES];
                echo.process(&silence, f, &mut clean);
                sas.process(&clean, &mut |_| fired.push(i));
            }
        }
    }
    let k = *fired.first().expect("the detector fires on the signal");
    let expected: Vec<usize> = (0..reps).map(|r| r * frames.len() + k).collect();
    assert_eq!(
        fired,
        expected,
        "{}: the detector must fire once per repetition, at the same frame",
        signal.name()
    );
    k
}

/// A pool of noise frames (−35 dBm0, roughly Gaussian).
fn noise_pool() -> Vec<Frame> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32 - 0.5
    };
    // sum of 4 uniforms: variance 4/12; scale to the sine's RMS at −35 dBm0
    let rms = dbm0_to_peak(-35.0) / std::f32::consts::SQRT_2;
    let scale = rms / (4.0f32 / 12.0).sqrt();
    (0..64)
        .map(|_| {
            let mut f = [0; FRAME_SAMPLES];
            for s in f.iter_mut() {
                let g = uniform() + uniform() + uniform() + uniform();
                *s = (g * scale) as i16;
            }
            f
        })
        .collect()
}

// ---------------------------------------------------------------- site

/// `lines` lines in the media worker: `lines − 1` fillers (alternately
/// stations and trunks) and the signalling line `target`; plus the station
/// `picker` (engine only, no audio) that answers the trunk call for SAS.
fn site_text(signal: Signal, lines: usize) -> String {
    let mut s =
        String::from("zone = \"us\"\npickup_code = \"*8\"\ndirected_pickup_prefix = \"**\"\n");
    for i in 0..lines.saturating_sub(1) {
        if i % 2 == 0 {
            s += &format!(
                "[[line]]\nname = \"s{i}\"\nkind = \"sim-fxs\"\nnumber = \"{}\"\n",
                2000 + i
            );
        } else {
            s += &format!(
                "[[line]]\nname = \"t{i}\"\nkind = \"sim-fxo\"\nnumber = \"{}\"\n",
                5_551_000 + i
            );
        }
    }
    match signal {
        Signal::Dtmf => {
            s += &format!(
                "[[line]]\nname = \"target\"\nkind = \"sim-fxs\"\nnumber = \"{TARGET_STATION_NUMBER}\"\n"
            );
        }
        Signal::Sas => {
            s += "[[line]]\nname = \"target\"\nkind = \"sim-fxo\"\nnumber = \"5550000\"\n\
                  call_waiting = true\ncall_groups = [\"g\"]\n";
        }
    }
    s += "[[line]]\nname = \"picker\"\nkind = \"sim-fxs\"\nnumber = \"1999\"\n\
          pickup_groups = [\"g\"]\n";
    s
}

// ---------------------------------------------------------------- the rig

/// The driver's end of one line.
struct DriverPort {
    line: LineId,
    rx: rtrb::Producer<Frame>,
    tx: rtrb::Consumer<Frame>,
    /// receive frames pushed whose transmit frame has not come back yet
    outstanding: usize,
}

/// What the stand-in bus adapter saw: when, and the batch's events.
type Seen = (Instant, Vec<BusEvent>);

struct Rig {
    rt: tokio::runtime::Runtime,
    handle: EngineHandle,
    seen: std_mpsc::Receiver<Seen>,
    ports: Vec<DriverPort>,
    target: usize,
    target_line: LineId,
    picker: LineId,
    media: Thread,
    worker: Option<std::thread::JoinHandle<()>>,
    engine_task: Option<tokio::task::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    noise: Vec<Frame>,
    tick: usize,
}

impl Rig {
    fn new(signal: Signal, lines: usize, target_first: bool) -> Rig {
        let site = config::parse("<bench>", &site_text(signal, lines), true).expect("bench site");
        let zone = zones::zone(&site.zone).expect("zone");
        let (engine, initial) = Engine::new(&site, runtime::now_us());
        let by_name = |n: &str| engine.line_by_name(n).expect("line");
        let target_line = by_name("target");
        let picker = by_name("picker");

        // Rings as daemon.rs makes them; the signalling line last (or first).
        let mut names: Vec<String> = site
            .lines
            .iter()
            .map(|l| l.name.clone())
            .filter(|n| n != "picker" && n != "target")
            .collect();
        if target_first {
            names.insert(0, "target".into());
        } else {
            names.push("target".into());
        }
        let mut ports = Vec::new();
        let mut media_ports = Vec::new();
        for name in &names {
            let id = by_name(name);
            let station = engine.line_view(id).expect("view").kind.is_station_port();
            let (rx_prod, rx_cons) = rtrb::RingBuffer::new(RING_FRAMES);
            let (tx_prod, tx_cons) = rtrb::RingBuffer::new(RING_FRAMES);
            ports.push(DriverPort {
                line: id,
                rx: rx_prod,
                tx: tx_cons,
                outstanding: 0,
            });
            media_ports.push(MediaPort::new(id, station, false, rx_cons, tx_prod));
        }
        let target = if target_first { 0 } else { ports.len() - 1 };
        assert_eq!(ports[target].line, target_line);

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (engine_tx, engine_rx) = mpsc::unbounded_channel();
        let handle = EngineHandle::new(engine_tx);
        let (bus_tx, mut bus_rx) = mpsc::unbounded_channel::<BusBatch>();
        let (media_tx, media_rx) = std_mpsc::channel();
        let sinks = Sinks {
            bus: bus_tx,
            line_commands: HashMap::new(),
            media: media_tx,
        };
        // The site's initial outputs (media routes included), as serve() does.
        let _ = runtime::route_outputs(initial, &sinks);
        let (seen_tx, seen) = std_mpsc::channel::<Seen>();
        // Stand-in for the bus adapter: timestamp first, then report, then
        // release whoever waits for the batch to be shown.
        rt.spawn(async move {
            while let Some(batch) = bus_rx.recv().await {
                let t = Instant::now();
                let _ = seen_tx.send((t, batch.events));
                if let Some(done) = batch.done {
                    let _ = done.send(());
                }
            }
        });
        let engine_task = rt.spawn(runtime::run(engine, engine_rx, sinks));
        let stop = Arc::new(AtomicBool::new(false));
        let worker = MediaWorker::new(media_ports, zone, handle.clone(), media_rx, stop.clone())
            .spawn()
            .expect("media thread");
        let media = worker.thread().clone();
        Rig {
            rt,
            handle,
            seen,
            ports,
            target,
            target_line,
            picker,
            media,
            worker: Some(worker),
            engine_task: Some(engine_task),
            stop,
            noise: noise_pool(),
            tick: 0,
        }
    }

    /// Wait until the worker has handled every receive frame pushed (its
    /// transmit frame is back), as the driver would find it next tick.
    fn wait_processed(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut left = 0;
            for p in self.ports.iter_mut() {
                while p.outstanding > 0 && p.tx.pop().is_ok() {
                    p.outstanding -= 1;
                }
                left += p.outstanding;
            }
            if left == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "media worker stalled");
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// Push frames on the signalling line and as many silent frames on
    /// every other line, in chunks, untimed.
    fn push_target(&mut self, frames: &[Frame]) {
        let silence: Frame = [0; FRAME_SAMPLES];
        for chunk in frames.chunks(CHUNK) {
            for (i, p) in self.ports.iter_mut().enumerate() {
                for f in chunk {
                    let f = if i == self.target { f } else { &silence };
                    p.rx.push(*f).expect("ring has room");
                    p.outstanding += 1;
                }
            }
            self.media.unpark();
            self.wait_processed();
        }
    }

    /// Push noise on every other line (not yet unparking).
    fn push_fillers(&mut self) {
        self.tick += 1;
        let n = self.noise.len();
        for (i, p) in self.ports.iter_mut().enumerate() {
            if i == self.target {
                continue;
            }
            p.rx.push(self.noise[(self.tick * 7 + i) % n])
                .expect("ring has room");
            p.outstanding += 1;
        }
    }

    /// One untimed tick on every line.
    fn tick_all(&mut self, frame: &Frame, gap: Duration) {
        std::thread::sleep(gap);
        self.push_fillers();
        let p = &mut self.ports[self.target];
        p.rx.push(*frame).expect("ring has room");
        p.outstanding += 1;
        self.media.unpark();
        self.wait_processed();
    }

    /// The timed tick: fillers' frames are in the rings, then the clock
    /// starts, the completing frame goes in and the worker is woken; the
    /// clock stops when the engine's batch for the resulting event is seen.
    fn timed_tick(&mut self, frame: &Frame, gap: Duration) -> (Duration, Vec<BusEvent>) {
        std::thread::sleep(gap);
        self.push_fillers();
        let t0 = Instant::now();
        let p = &mut self.ports[self.target];
        if p.rx.push(*frame).is_err() {
            panic!("ring full");
        }
        self.media.unpark();
        let (t1, events) = self
            .seen
            .recv_timeout(WAIT)
            .expect("the engine handled the event");
        self.ports[self.target].outstanding += 1;
        self.wait_processed();
        (t1.duration_since(t0), events)
    }

    /// Every engine input so far has been handled and shown: returns how
    /// many batches the engine emitted since the last sync (the flush's own
    /// batch not counted).
    fn sync(&mut self) -> usize {
        self.rt.block_on(self.handle.flush());
        let n = self.seen.try_iter().count();
        assert!(n >= 1, "the flush's batch is seen");
        n - 1
    }

    fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.media.unpark();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        self.rt.block_on(self.handle.stop());
        if let Some(t) = self.engine_task.take() {
            let _ = self.rt.block_on(t);
        }
    }
}

/// Latency of the full path for one signal and line count.
fn ring_path(
    signal: Signal,
    k: usize,
    (lines, target_first): (usize, bool),
    reps: usize,
    gap: Duration,
) -> Vec<Duration> {
    let frames = signal_frames(signal);
    assert!(k > WARM_TICKS, "room for the warm-up ticks");
    let mut rig = Rig::new(signal, lines, target_first);
    assert_eq!(rig.sync(), 0);
    if signal == Signal::Sas {
        // A connected call on the trunk: it rings, the picker picks it up.
        rig.handle.hw(HwEvent::RingStart {
            line: rig.target_line,
            caller_number: "5559876".into(),
            caller_name: "BENCH".into(),
            tag: None,
        });
        assert_eq!(rig.sync(), 1);
        let picker_addr = rig
            .rt
            .block_on(rig.handle.query({
                let picker = rig.picker;
                move |e| e.line_view(picker).map(|v| v.addresses[0])
            }))
            .flatten()
            .expect("picker address");
        let outcome = rig.rt.block_on(rig.handle.command(Command::Pickup {
            address: picker_addr,
            dest: String::new(),
            group: String::new(),
        }));
        assert!(
            matches!(outcome.result, Ok(Reply::Call(_))),
            "pickup of the trunk call"
        );
        assert_eq!(rig.sync(), 1);
        // The picker's phone rings; lifting it connects the call.
        rig.handle.hw(HwEvent::Hook {
            line: rig.picker,
            off_hook: true,
        });
        assert_eq!(rig.sync(), 1);
    }
    let mut lat = Vec::with_capacity(reps);
    for _ in 0..reps {
        if signal == Signal::Dtmf {
            rig.handle.hw(HwEvent::Hook {
                line: rig.target_line,
                off_hook: true,
            });
        }
        let warm_from = k - WARM_TICKS;
        rig.push_target(&frames[..warm_from]);
        let expect = usize::from(signal == Signal::Dtmf);
        assert_eq!(rig.sync(), expect, "no event before the warm-up ticks");
        for f in &frames[warm_from..k] {
            rig.tick_all(f, gap);
        }
        assert_eq!(rig.sync(), 0, "no event before the completing frame");
        let (d, events) = rig.timed_tick(&frames[k], gap);
        lat.push(d);
        rig.push_target(&frames[k + 1..]);
        let mut expect = 0;
        match signal {
            Signal::Dtmf => {
                rig.handle.hw(HwEvent::Hook {
                    line: rig.target_line,
                    off_hook: false,
                });
                expect += 1;
            }
            Signal::Sas => {
                let waiting: Vec<CallId> = events
                    .iter()
                    .filter_map(|e| match e {
                        BusEvent::CallAdded(v) => Some(v.id),
                        _ => None,
                    })
                    .collect();
                assert_eq!(waiting.len(), 1, "the tone made a waiting call");
                let r = rig
                    .rt
                    .block_on(rig.handle.command(Command::Drop(waiting[0])));
                assert!(r.result.is_ok(), "drop the waiting call");
                expect += 1;
            }
        }
        assert_eq!(rig.sync(), expect, "no event after the completing frame");
    }
    rig.shutdown();
    lat
}

// ---------------------------------------------------------------- anchors

/// (a) rtrb push → unpark → wake-up → pop, timed to the pop.
fn anchor_unpark(reps: usize, gap: Duration) -> Vec<Duration> {
    let (mut prod, mut cons) = rtrb::RingBuffer::<Frame>::new(RING_FRAMES);
    let (t_tx, t_rx) = std_mpsc::channel::<Instant>();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let h = std::thread::spawn(move || {
        while !stop2.load(Ordering::Relaxed) {
            std::thread::park_timeout(Duration::from_millis(50));
            while let Ok(f) = cons.pop() {
                let t = Instant::now();
                black_box(&f);
                let _ = t_tx.send(t);
            }
        }
    });
    let frame: Frame = [0; FRAME_SAMPLES];
    let mut lat = Vec::with_capacity(reps);
    for _ in 0..reps {
        std::thread::sleep(gap);
        let t0 = Instant::now();
        prod.push(frame).expect("room");
        h.thread().unpark();
        let t1 = t_rx.recv_timeout(WAIT).expect("popped");
        lat.push(t1.duration_since(t0));
    }
    stop.store(true, Ordering::Relaxed);
    h.thread().unpark();
    let _ = h.join();
    lat
}

/// (b) tokio unbounded send from a plain thread → task on a 2-worker
/// runtime, timed to the task's receive.
fn anchor_tokio(reps: usize, gap: Duration) -> Vec<Duration> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
    let (t_tx, t_rx) = std_mpsc::channel::<Instant>();
    rt.spawn(async move {
        while let Some(v) = rx.recv().await {
            let t = Instant::now();
            black_box(v);
            let _ = t_tx.send(t);
        }
    });
    let mut lat = Vec::with_capacity(reps);
    for i in 0..reps {
        std::thread::sleep(gap);
        let t0 = Instant::now();
        let _ = tx.send(i as u64);
        let t1 = t_rx.recv_timeout(WAIT).expect("received");
        lat.push(t1.duration_since(t0));
    }
    drop(tx);
    lat
}

/// Mean time (µs) the worker's detector chains take per noise frame: a
/// station's DTMF detector, a trunk's echo canceller and SAS detector.
fn detector_cost(frames: usize) -> (f64, f64) {
    let noise = noise_pool();
    let silence: Frame = [0; FRAME_SAMPLES];
    let mut dtmf = DtmfDetector::new();
    let t = Instant::now();
    for f in noise.iter().cycle().take(frames) {
        dtmf.process(black_box(f), &mut |ev| {
            black_box(ev);
        });
    }
    let station = us(t.elapsed()) / frames as f64;
    let zone = zones::zone(ZONE).expect("us zone");
    let mut echo = EchoCanceller::new(ECHO_TAPS);
    let mut sas = CallWaitingToneDetector::for_zone(zone);
    let t = Instant::now();
    for f in noise.iter().cycle().take(frames) {
        let mut clean = [0; FRAME_SAMPLES];
        echo.process(&silence, black_box(f), &mut clean);
        sas.process(&clean, &mut |ev| {
            black_box(ev);
        });
    }
    let trunk = us(t.elapsed()) / frames as f64;
    (station, trunk)
}

/// Mean time (µs) of one detector bank tick over `lines` lines of noise
/// (the frames copied in each tick included).
fn bank_cost(lines: usize, ticks: usize) -> f64 {
    let noise = noise_pool();
    let zone = zones::zone(ZONE).expect("us zone");
    let mut bank = DetectorBank::new(zone, lines);
    let mut frames = vec![[0; FRAME_SAMPLES]; lines];
    let t = Instant::now();
    for k in 0..ticks {
        for (i, f) in frames.iter_mut().enumerate() {
            *f = noise[(k * 7 + i) % noise.len()];
        }
        bank.process_tick(black_box(&frames), &mut |c, e| {
            black_box((c, e));
        });
    }
    us(t.elapsed()) / ticks as f64
}

// ---------------------------------------------------------------- report

struct Stats {
    p50: Duration,
    p90: Duration,
    p99: Duration,
    min: Duration,
    max: Duration,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Stats {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        min: v[0],
        max: v[v.len() - 1],
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    // `cargo test --benches` runs benches with --test (or --bench absent):
    // keep that quick.
    let quick = std::env::args().any(|a| a == "--test");
    let reps = if quick {
        5
    } else {
        env_or("RING_PATH_REPS", 300).max(1) as usize
    };
    let gap = Duration::from_micros(env_or("RING_PATH_GAP_US", 2000));
    println!(
        "ring_path: {reps} repetitions per row, {} µs idle before each timed push",
        gap.as_micros()
    );
    let mut completing = HashMap::new();
    for s in [Signal::Dtmf, Signal::Sas] {
        let frames = signal_frames(s);
        let k = completing_frame(s, &frames, reps);
        println!(
            "  {}: completing frame {k} of {} per repetition (20 ms frames)",
            s.name(),
            frames.len()
        );
        completing.insert(s, k);
    }
    let (station_us, trunk_us) = detector_cost(if quick { 50 } else { 3000 });
    println!(
        "  detector chain per 20 ms frame of noise (offline, one thread): \
         station (DTMF) {station_us:.1} µs, trunk (echo canceller + SAS) {trunk_us:.1} µs"
    );
    let bank_ticks = if quick { 50 } else { 1000 };
    let (bank24, bank120) = (bank_cost(24, bank_ticks), bank_cost(120, bank_ticks));
    println!(
        "  detector bank tick over lines of noise (offline, one thread): \
         24 lines {bank24:.1} µs, 120 lines {bank120:.1} µs"
    );
    let anchor_a = stats(anchor_unpark(reps, gap));
    let anchor_b = stats(anchor_tokio(reps, gap));
    let mut rows: Vec<(String, Stats)> = Vec::new();
    for s in [Signal::Dtmf, Signal::Sas] {
        for (lines, first) in [(1, false), (24, false), (120, false), (120, true)] {
            let name = format!(
                "{} {lines} line{}{}",
                s.name(),
                if lines == 1 { "" } else { "s" },
                if first { ", sig. first" } else { "" }
            );
            eprintln!("  running {name}");
            let lat = ring_path(s, completing[&s], (lines, first), reps, gap);
            rows.push((name, stats(lat)));
        }
    }
    println!(
        "\n{:<40} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "latency (µs)", "min", "p50", "p90", "p99", "max", "p50/(a)", "p99/(a)"
    );
    let print = |name: &str, st: &Stats| {
        println!(
            "{:<40} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8.1} {:>8.1}",
            name,
            us(st.min),
            us(st.p50),
            us(st.p90),
            us(st.p99),
            us(st.max),
            us(st.p50) / us(anchor_a.p50),
            us(st.p99) / us(anchor_a.p99),
        );
    };
    print("(a) rtrb push→unpark→pop", &anchor_a);
    print("(b) tokio send→task (2 workers)", &anchor_b);
    for (name, st) in &rows {
        print(&format!("ring→engine {name}"), st);
    }
}
