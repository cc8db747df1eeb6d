//! The emulated DAHDI tree through the real system calls of hw's
//! `DahdiDevices`/`DahdiFd`: open, `ioctl`, `read`, `write` and `poll` go
//! through the kernel's FUSE layer to the model, exactly as the daemon's
//! driver will use them.
//!
//! These tests need `/dev/fuse` and root (or fusermount3); CI has both.
//! Without them they fail, with a message saying what is missing, rather
//! than pass without testing anything.

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use pickupd_emu::{ChannelSpec, EmulatedDahdi};
use pickupd_hw::dahdi::consts::{DAHDI_SIG_FXOKS, DAHDI_SIG_FXSKS};
use pickupd_hw::dahdi::{
    DahdiChannel, DahdiEvent, DahdiFd, DahdiOpener, FakeDahdi, FakeTxState, HookOp, HookOutcome,
};
use std::fs::OpenOptions;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// A mounted tree in a fresh temporary directory. Field order matters:
/// the tree is unmounted before the directory is removed.
struct Tree {
    emu: EmulatedDahdi,
    dir: tempfile::TempDir,
}

fn mount_model(model: FakeDahdi) -> Tree {
    let dir = tempfile::tempdir().expect("temporary directory");
    let emu = EmulatedDahdi::mount_model(dir.path(), model).unwrap_or_else(|e| {
        panic!(
            "cannot mount the emulated DAHDI tree: {e}\n\
             These tests need /dev/fuse and root (or fusermount3); CI provides both."
        )
    });
    Tree { emu, dir }
}

/// Channel 1: an FXS port (a desk phone); channel 2: an FXO port (a trunk).
fn mount() -> Tree {
    let model = FakeDahdi::new();
    for spec in [ChannelSpec::fxs_port(1), ChannelSpec::fxo_port(2)] {
        model.add_channel(spec.channo, spec.sigtype).unwrap();
    }
    mount_model(model)
}

fn open(tree: &Tree, channo: i32) -> DahdiFd {
    tree.emu
        .devices()
        .open_channel(channo)
        .expect("open + SPECIFY")
}

/// `poll(2)` for `flags`, up to `ms`; returns the revents.
fn wait_for(fd: &impl AsFd, flags: PollFlags, ms: u16) -> PollFlags {
    let mut fds = [PollFd::new(fd.as_fd(), flags)];
    let n = poll(&mut fds, PollTimeout::from(ms)).expect("poll");
    if n == 0 {
        return PollFlags::empty();
    }
    fds[0].revents().unwrap_or(PollFlags::empty())
}

fn is_mounted(dir: &Path) -> bool {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let dir = dir.to_string_lossy();
    mountinfo
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(dir.as_ref()))
}

#[test]
fn open_specify_and_params_round_trip() {
    let tree = mount();
    let fd = open(&tree, 1);
    assert_eq!(fd.channo(), Ok(1));

    let params = fd.get_params().unwrap();
    assert_eq!(params.channo, 1);
    assert_eq!(params.sigtype, DAHDI_SIG_FXOKS);
    assert_eq!(params.flashtime, 750, "kernel default re-applied on open");
    assert_eq!(params.debouncetime, 600);
    assert_eq!(params.name(), b"FAKE/1/1");

    // Read-modify-write (§1.10); read-only fields are ignored on set.
    let mut changed = params;
    changed.flashtime = 300;
    changed.sigtype = 0;
    fd.set_params(&changed).unwrap();
    let after = fd.get_params().unwrap();
    assert_eq!(after.flashtime, 300);
    assert_eq!(after.sigtype, DAHDI_SIG_FXOKS);
    assert_eq!(
        tree.emu
            .channel(1)
            .unwrap()
            .state()
            .unwrap()
            .params
            .flashtime,
        300
    );

    let trunk = open(&tree, 2);
    assert_eq!(trunk.get_params().unwrap().sigtype, DAHDI_SIG_FXSKS);
    assert_eq!({ trunk.spanstat(0).unwrap().numchans }, 2);
}

#[test]
fn blocksize_bufinfo_and_linear() {
    let tree = mount();
    let fd = open(&tree, 1);
    assert_eq!(
        fd.get_blocksize(),
        Ok(1024),
        "DAHDI_DEFAULT_BLOCKSIZE after open"
    );
    fd.set_blocksize(160).unwrap();
    assert_eq!(fd.get_blocksize(), Ok(160));
    assert_eq!(fd.set_blocksize(8), Err(Errno::EINVAL.into()));
    let info = fd.get_bufinfo().unwrap();
    assert_eq!((info.bufsize, info.numbufs, info.readbufs), (160, 2, -1));

    fd.set_linear(true).unwrap();
    let state = tree.emu.channel(1).unwrap().state().unwrap();
    assert!(state.linear);
    assert_eq!(state.blocksize, 160);
}

#[test]
fn flash_is_ebusy_during_debounce_then_einprogress_and_hookcomplete() {
    let tree = mount();
    let fd = open(&tree, 2);
    assert_eq!(fd.hook(HookOp::OffHook), Ok(HookOutcome::Done));
    assert_eq!(
        fd.hook(HookOp::Flash),
        Err(Errno::EBUSY.into()),
        "flash within debouncetime (600 ms) of going off-hook"
    );

    thread::sleep(Duration::from_millis(700));
    let started = Instant::now();
    assert_eq!(fd.hook(HookOp::Flash), Ok(HookOutcome::InProgress));

    // preflashtime 50 ms + flashtime 750 ms, then HOOKCOMPLETE.
    let ready = wait_for(&fd, PollFlags::POLLPRI, 3000);
    assert!(
        ready.contains(PollFlags::POLLPRI),
        "no HOOKCOMPLETE: {ready:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(750),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fd.get_event(), Ok(Some(DahdiEvent::HookComplete)));
    assert_eq!(fd.get_event(), Ok(None));
    assert_eq!(
        tree.emu.channel(2).unwrap().state().unwrap().tx_state,
        FakeTxState::OffHook
    );
}

#[test]
fn ring_wakes_poll_blocks_reads_with_errno_500_until_drained() {
    let tree = mount();
    let mut fd = open(&tree, 2);
    fd.set_blocksize(160).unwrap();
    let line = tree.emu.channel(2).unwrap();

    // Nothing pending: a non-blocking read is EAGAIN.
    let mut buf = [0u8; 160];
    assert_eq!(fd.read_frame(&mut buf), Err(Errno::EAGAIN.into()));

    // The ring arrives from another thread while this one sleeps in
    // poll(2): only a FUSE poll notification can wake it. It comes after
    // the ring debounce (2000 ms) that the hang-up on open starts (§1.9).
    let ringer = {
        let line = line.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(2100));
            line.ring(true).unwrap();
        })
    };
    let started = Instant::now();
    let ready = wait_for(&fd, PollFlags::POLLIN | PollFlags::POLLPRI, 8000);
    ringer.join().unwrap();
    assert!(ready.contains(PollFlags::POLLPRI), "{ready:?}");
    let woke = started.elapsed();
    assert!(
        woke < Duration::from_millis(4000),
        "woken by notification: {woke:?}"
    );

    let err = fd.read_frame(&mut buf).unwrap_err();
    assert!(
        err.is_event_pending(),
        "read while an event is queued: {err:?}"
    );
    assert_eq!(err.raw_os_error(), 500);
    let err = fd.write_frame(&[0xFF; 160]).unwrap_err();
    assert!(err.is_event_pending(), "write too: {err:?}");

    assert_eq!(fd.get_event(), Ok(Some(DahdiEvent::RingBegin)));
    assert_eq!(fd.get_event(), Ok(None));
    assert_eq!(
        fd.read_frame(&mut buf),
        Err(Errno::EAGAIN.into()),
        "reads work again"
    );

    // End of the burst: RINGOFFHOOK after the 50 ms ring trailer.
    line.ring(false).unwrap();
    assert!(wait_for(&fd, PollFlags::POLLPRI, 2000).contains(PollFlags::POLLPRI));
    assert_eq!(fd.drain_events(), Ok(vec![DahdiEvent::RingOffHook]));

    line.send_audio(&[0x55; 160]);
    assert!(wait_for(&fd, PollFlags::POLLIN, 2000).contains(PollFlags::POLLIN));
    assert_eq!(fd.read_frame(&mut buf), Ok(160));
    assert_eq!(buf, [0x55; 160]);
}

#[test]
fn receive_audio_arrives_in_blocks_at_real_time_pace() {
    let tree = mount();
    let mut fd = open(&tree, 1);
    fd.set_blocksize(160).unwrap();
    let line = tree.emu.channel(1).unwrap();

    let audio: Vec<u8> = (0..5 * 160).map(|i| (i % 251) as u8).collect();
    let sent = Instant::now();
    line.send_audio(&audio);

    let mut got = Vec::new();
    let mut times = Vec::new();
    while got.len() < audio.len() {
        let ready = wait_for(&fd, PollFlags::POLLIN, 2000);
        assert!(
            ready.contains(PollFlags::POLLIN),
            "block {} missing",
            times.len()
        );
        let mut buf = [0u8; 400];
        let n = fd.read_frame(&mut buf).unwrap();
        assert_eq!(n, 160, "one block per read");
        got.extend_from_slice(&buf[..n]);
        let at = sent.elapsed();
        // Never early: 8 samples arrive per 1 ms tick, so block k is
        // complete (k + 1) · 20 ms after the send, less up to one tick for
        // where in its tick the send fell; 3 ms of slack. (Late is allowed:
        // a loaded machine may wake the reader after several blocks.)
        let due = Duration::from_millis(20 * (times.len() as u64 + 1) - 3);
        assert!(at >= due, "block {} read at {at:?}", times.len());
        times.push(at);
    }
    assert_eq!(got, audio);
    assert!(times[4] < Duration::from_millis(1500), "{times:?}");
    assert_eq!(line.audio_pending(), 0);
}

#[test]
fn linear_blocks_are_twice_as_many_bytes() {
    let tree = mount();
    let mut fd = open(&tree, 1);
    fd.set_blocksize(160).unwrap();
    fd.set_linear(true).unwrap();
    let samples: Vec<u8> = (0..160i16).flat_map(|s| (s * 100).to_ne_bytes()).collect();
    tree.emu.channel(1).unwrap().send_audio(&samples);
    assert!(wait_for(&fd, PollFlags::POLLIN, 2000).contains(PollFlags::POLLIN));
    let mut buf = [0u8; 320];
    assert_eq!(fd.read_frame(&mut buf), Ok(320));
    assert_eq!(&buf[..], &samples[..]);
}

#[test]
fn written_audio_is_captured_and_paced() {
    let tree = mount();
    let mut fd = open(&tree, 1);
    fd.set_blocksize(160).unwrap();
    let line = tree.emu.channel(1).unwrap();
    let _ = line.take_written_audio().unwrap();

    let a = [0x11u8; 160];
    let b = [0x22u8; 160];
    assert_eq!(fd.write_frame(&a), Ok(160));
    assert_eq!(fd.write_frame(&b), Ok(160));
    // Two buffers (DAHDI_DEFAULT_NUM_BUFS) are queued; no free one left
    // until 20 ms have been sent.
    let third = fd.write_frame(&[0x33; 160]);
    assert!(
        third == Err(Errno::EAGAIN.into()) || third == Ok(160),
        "{third:?}"
    );

    let deadline = Instant::now() + Duration::from_secs(2);
    let mut captured = Vec::new();
    while captured.len() < 320 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
        captured.extend(line.take_written_audio().unwrap());
    }
    assert!(captured.len() >= 320, "{} bytes", captured.len());
    assert_eq!(&captured[..160], &a[..]);
    assert_eq!(&captured[160..320], &b[..]);
}

#[test]
fn opens_are_exclusive_and_the_generic_opener_needs_specify() {
    let tree = mount();
    let devices = tree.emu.devices();
    let first = devices.open_channel(1).unwrap();
    assert_eq!(
        devices.open_channel(1).unwrap_err(),
        Errno::EBUSY,
        "second open + SPECIFY of the same channel"
    );
    assert_eq!(
        devices.open_channel(7).unwrap_err(),
        Errno::EINVAL,
        "no channel 7"
    );
    let other = devices.open_channel(2).unwrap();

    // Before SPECIFY only SPECIFY is accepted (ENOSYS, reported as ENOTTY
    // by FUSE); reads are ENOSYS.
    let mut generic = DahdiFd::open_generic(tree.emu.root()).unwrap();
    assert_eq!(generic.get_params().unwrap_err(), Errno::ENOTTY);
    assert_eq!(
        generic.read_frame(&mut [0; 160]).unwrap_err(),
        Errno::ENOSYS
    );
    // A second SPECIFY on a bound fd is an unknown channel ioctl.
    assert_eq!(other.specify(1).unwrap_err(), Errno::ENOTTY);

    // Closing releases the channel; FUSE sends RELEASE asynchronously after
    // close(2) returns, so allow it a moment.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(2);
    let reopened = loop {
        match devices.open_channel(1) {
            Ok(fd) => break fd,
            Err(e) if e == Errno::EBUSY && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("reopen after close: {e:?}"),
        }
    };
    assert_eq!(reopened.channo(), Ok(1));
}

#[test]
fn tones_and_ringing_need_a_zone() {
    let tree = mount();
    let fd = open(&tree, 1);
    assert_eq!(fd.hook(HookOp::Ring), Err(Errno::ENODATA.into()));
    assert_eq!(
        fd.send_tone(pickupd_hw::dahdi::Tone::DIALTONE),
        Err(Errno::ENODATA.into())
    );
    drop(fd);

    let model = FakeDahdi::new();
    model.add_channel(1, DAHDI_SIG_FXOKS).unwrap();
    model.load_zone(0, &[2000, 4000]).unwrap();
    let tree = mount_model(model);
    let mut fd = open(&tree, 1);
    assert_eq!(fd.tonezone(), Ok(0));
    assert_eq!(fd.hook(HookOp::Ring), Ok(HookOutcome::InProgress));
    assert!(wait_for(&fd, PollFlags::POLLPRI, 2000).contains(PollFlags::POLLPRI));
    assert_eq!(fd.get_event(), Ok(Some(DahdiEvent::RingerOn)));
    // The phone answers: RINGOFFHOOK, ringing stops.
    tree.emu.channel(1).unwrap().phone_off_hook().unwrap();
    assert!(wait_for(&fd, PollFlags::POLLPRI, 2000).contains(PollFlags::POLLPRI));
    assert_eq!(fd.drain_events(), Ok(vec![DahdiEvent::RingOffHook]));
}

/// Opens the generic node without `O_NONBLOCK`: reads then sleep.
fn open_blocking(tree: &Tree, channo: i32) -> DahdiFd {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(tree.emu.root().join("dahdi/channel"))
        .unwrap();
    let fd = DahdiFd::from_owned_fd(OwnedFd::from(file));
    fd.specify(channo).unwrap();
    fd
}

#[test]
fn blocking_reads_sleep_until_a_block_or_an_event() {
    let tree = mount();
    let mut fd = open_blocking(&tree, 2);
    fd.set_blocksize(160).unwrap();
    let line = tree.emu.channel(2).unwrap();

    let feeder = {
        let line = line.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            line.send_audio(&[7; 160]);
        })
    };
    let started = Instant::now();
    let mut buf = [0u8; 160];
    assert_eq!(fd.read_frame(&mut buf), Ok(160));
    assert!(
        started.elapsed() >= Duration::from_millis(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(buf, [7; 160]);
    feeder.join().unwrap();

    let ringer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        line.polarity_reversal().unwrap();
    });
    let err = fd.read_frame(&mut buf).unwrap_err();
    assert!(err.is_event_pending(), "{err:?}");
    assert_eq!(fd.get_event(), Ok(Some(DahdiEvent::Polarity)));
    ringer.join().unwrap();
}

#[test]
fn removed_hardware_hangs_up_and_reports_removed() {
    let tree = mount();
    let mut fd = open(&tree, 2);
    tree.emu.channel(2).unwrap().remove().unwrap();
    let ready = wait_for(&fd, PollFlags::POLLPRI, 1000);
    assert!(
        ready.intersects(PollFlags::POLLHUP | PollFlags::POLLERR),
        "{ready:?}"
    );
    assert_eq!(fd.get_event(), Ok(Some(DahdiEvent::Removed)));
    assert_eq!(fd.get_params().unwrap_err(), Errno::ENODEV);
    assert_eq!(fd.read_frame(&mut [0; 160]).unwrap_err(), Errno::ENODEV);
}

#[test]
fn ctl_node_answers_queries_by_number() {
    let tree = mount();
    let ctl = OpenOptions::new()
        .read(true)
        .write(true)
        .open(tree.emu.root().join("dahdi/ctl"))
        .unwrap();
    let ctl = DahdiFd::from_owned_fd(OwnedFd::from(ctl));
    let span = ctl.spanstat(1).unwrap();
    assert_eq!({ span.totalchans }, 2);
    assert_eq!(ctl.spanstat(2).unwrap_err(), Errno::EINVAL);
    // hw's get_params sends channo 0, which names no channel on ctl.
    assert_eq!(ctl.get_params().unwrap_err(), Errno::EINVAL);
    assert_eq!(ctl.hook(HookOp::OffHook).unwrap_err(), Errno::ENOTTY);
}

#[test]
fn unmounts_on_drop_even_with_a_client_fd_open() {
    let tree = mount();
    let dir = tree.dir.path().to_path_buf();
    assert!(dir.join("dahdi/channel").exists());
    assert!(is_mounted(&dir));
    let Tree { emu, dir: tmp } = tree;
    drop(emu);
    assert!(!dir.join("dahdi/channel").exists());
    assert!(!is_mounted(&dir));
    drop(tmp);

    // A client still holding a descriptor does not make drop hang or fail.
    let tree = mount();
    let dir = tree.dir.path().to_path_buf();
    let fd = open(&tree, 1);
    let Tree { emu, dir: tmp } = tree;
    let started = Instant::now();
    drop(emu);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!is_mounted(&dir), "detached from the namespace");
    drop(fd);
    drop(tmp);
}

#[test]
fn emulated_devices_implement_the_driver_trait() {
    // The same generic code the daemon runs against the fake works here.
    fn setup<O: DahdiOpener>(opener: &O) -> O::Channel {
        let mut chan = opener.open_channel(1).unwrap();
        chan.set_blocksize(160).unwrap();
        chan.set_linear(true).unwrap();
        let mut params = chan.get_params().unwrap();
        params.flashtime = 100;
        chan.set_params(&params).unwrap();
        chan
    }
    let tree = mount();
    let chan = setup(&tree.emu.devices());
    assert_eq!(chan.get_params().unwrap().flashtime, 100);
    assert!(!chan.readiness().unwrap().priority);
}
