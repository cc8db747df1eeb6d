//! Real time for the model: hw's `FakeDahdi` only moves when told
//! (`advance(ms)`), which suits unit tests; a device tree that a daemon
//! talks to must run on its own. This thread advances the model one 1 ms
//! kernel tick at a time, following the wall clock (late wake-ups are
//! caught up, so timings such as the 600 ms debounce hold on average), and
//! paces injected receive audio into it at 8 kHz: 8 samples per tick, so a
//! block of 160 samples becomes readable every 20 ms, as on a real span.
//!
//! After each batch of ticks it lets the FUSE side answer parked reads and
//! wake pollers ([`Shared::service`]).

use crate::fs::Shared;
use pickupd_hw::dahdi::consts::DAHDI_CHUNKSIZE;
use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Receive audio waiting to go "onto the wire", per channel, as the bytes
/// `read` will return (law bytes, or s16 host-endian in linear mode).
#[derive(Debug, Default)]
pub(crate) struct Feed {
    queues: Mutex<BTreeMap<i32, VecDeque<u8>>>,
}

impl Feed {
    fn queues(&self) -> MutexGuard<'_, BTreeMap<i32, VecDeque<u8>>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn push(&self, channo: i32, bytes: &[u8]) {
        self.queues()
            .entry(channo)
            .or_default()
            .extend(bytes.iter().copied());
    }

    /// Bytes still waiting to be paced in.
    pub(crate) fn pending(&self, channo: i32) -> usize {
        self.queues().get(&channo).map_or(0, VecDeque::len)
    }

    /// One tick's worth of audio into the model: 8 samples per channel,
    /// 16 bytes in linear mode. The audio is on the line whether or not a
    /// client has the channel open; the model decides what to keep.
    fn tick(&self, shared: &Shared) {
        let mut queues = self.queues();
        queues.retain(|&channo, queue| {
            let Some(state) = shared.model.state(channo) else {
                return false; // no such channel: nothing will ever take it
            };
            let per_tick = DAHDI_CHUNKSIZE as usize * if state.linear { 2 } else { 1 };
            let n = per_tick.min(queue.len());
            let chunk: Vec<u8> = queue.drain(..n).collect();
            if !chunk.is_empty() {
                // Cannot fail: the channel exists (checked above).
                let _ = shared.model.push_rx_audio(channo, &chunk);
            }
            !queue.is_empty()
        });
    }
}

/// The running clock thread; stops and joins on drop.
pub(crate) struct Clock {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Clock {
    pub(crate) fn start(shared: Arc<Shared>, feed: Arc<Feed>) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("dahdi-emu-clock".into())
            .spawn(move || run(&shared, &feed, &stopped))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

fn run(shared: &Shared, feed: &Feed, stopped: &mpsc::Receiver<()>) {
    let start = Instant::now();
    let mut ticks: u128 = 0;
    loop {
        match stopped.recv_timeout(Duration::from_millis(1)) {
            Err(RecvTimeoutError::Timeout) => {}
            // A stop message, or the owner is gone.
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let due = start.elapsed().as_millis();
        while ticks < due {
            feed.tick(shared);
            shared.model.advance(1);
            ticks += 1;
        }
        shared.service();
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // The thread only panics if the model does; nothing to add then.
            let _ = thread.join();
        }
    }
}
