//! The real ioctl edge, exercised with real system calls but without DAHDI:
//! on a regular file every DAHDI ioctl reaches the kernel's VFS and comes
//! back `ENOTTY`, which proves the call path (fd, request, argument pointer,
//! errno mapping) of each typed method. Behaviour against a device needs
//! the FUSE tree (hardware.md §2.2) and is tested there.

use nix::errno::Errno;
use pickupd_hw::dahdi::consts::{DAHDI_FLUSH_ALL, DAHDI_TONEDETECT_ON};
use pickupd_hw::dahdi::{
    DahdiBufferInfo, DahdiChannel, DahdiConfInfo, DahdiDevices, DahdiDialOperation, DahdiFd,
    DahdiOpener, DahdiParams, DialOp, Error, HookOp, Law, Tone,
};
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

/// A device root whose `dahdi/channel` is a regular file.
struct FakeRoot(PathBuf);

impl FakeRoot {
    fn new(name: &str) -> Self {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("dahdi-fd-{}-{name}", std::process::id()));
        fs::create_dir_all(root.join("dahdi")).expect("create test root");
        fs::write(root.join("dahdi/channel"), b"").expect("create channel file");
        Self(root)
    }
}

impl Drop for FakeRoot {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn enotty<T: std::fmt::Debug>(what: &str, r: Result<T, Error>) {
    match r {
        Err(e) => assert_eq!(e, Errno::ENOTTY, "{what}: {e}"),
        Ok(v) => panic!("{what}: a regular file accepted a DAHDI ioctl: {v:?}"),
    }
}

#[test]
fn specify_on_a_regular_file_is_enotty_from_the_kernel() {
    let root = FakeRoot::new("specify");
    let fd = DahdiFd::open_generic(&root.0).expect("open regular file");
    enotty("SPECIFY", fd.specify(1));
    // The same through open + SPECIFY in one step and through the opener.
    enotty("open_channel", DahdiFd::open_channel(&root.0, 1));
    enotty("DahdiDevices", DahdiDevices::new(&root.0).open_channel(1));
}

#[test]
fn every_typed_ioctl_reaches_the_kernel() {
    let root = FakeRoot::new("all");
    let fd = DahdiFd::open_generic(&root.0).expect("open regular file");
    enotty("CHANNO", fd.channo());
    enotty("GET_BLOCKSIZE", fd.get_blocksize());
    enotty("SET_BLOCKSIZE", fd.set_blocksize(160));
    enotty("GET_BUFINFO", fd.get_bufinfo());
    enotty("SET_BUFINFO", fd.set_bufinfo(&DahdiBufferInfo::zeroed()));
    enotty("FLUSH", fd.flush(DAHDI_FLUSH_ALL));
    enotty("SYNC", fd.sync());
    enotty("GET_PARAMS", fd.get_params());
    enotty("SET_PARAMS", fd.set_params(&DahdiParams::zeroed()));
    enotty("HOOK", fd.hook(HookOp::Flash));
    enotty("GETEVENT", fd.get_event());
    enotty("SPANSTAT", fd.spanstat(0));
    enotty("GETCONF", fd.get_conf(0));
    enotty("SETCONF", fd.set_conf(DahdiConfInfo::zeroed()));
    enotty("CONFMUTE", fd.set_confmute(true));
    enotty("GETCONFMUTE", fd.confmute());
    enotty("SENDTONE", fd.send_tone(Tone::DIALTONE));
    enotty("GETTONEZONE", fd.tonezone());
    enotty("SETTONEZONE", fd.set_tonezone(0));
    let dial = DahdiDialOperation::new(DialOp::Replace, "T123").expect("dial string");
    enotty("DIAL", fd.dial(&dial));
    enotty("DIALING", fd.dialing());
    enotty("SETLAW", fd.set_law(Law::ALaw));
    enotty("SETLINEAR", fd.set_linear(true));
    enotty("ECHOCANCEL", fd.echocancel(128));
    enotty("BUFFER_EVENTS", fd.set_buffer_events(true));
    enotty("SETPOLARITY", fd.set_polarity(true));
    enotty("TONEDETECT", fd.set_tonedetect(DAHDI_TONEDETECT_ON));
}

#[test]
fn the_trait_impl_uses_the_same_syscalls_and_plain_read_write() {
    let root = FakeRoot::new("trait");
    let mut ch = DahdiFd::open_generic(&root.0).expect("open regular file");
    enotty("trait get_event", DahdiChannel::get_event(&mut ch));
    enotty("trait hook", DahdiChannel::hook(&mut ch, HookOp::OffHook));
    enotty(
        "trait dial",
        DahdiChannel::dial(&mut ch, DialOp::Append, "1"),
    );
    enotty("trait drain_events", ch.drain_events());
    // read(2)/write(2) need no ioctl: a regular file takes them.
    assert_eq!(ch.write_frame(&[0x7F; 160]), Ok(160));
    let mut buf = [0u8; 160];
    assert_eq!(ch.read_frame(&mut buf), Ok(0), "at end of file");
    let ready = ch.readiness().expect("poll a regular file");
    assert!(ready.readable && ready.writable && !ready.priority && !ready.hangup);
}

#[test]
fn a_dial_string_the_struct_cannot_carry_is_refused_before_the_syscall() {
    let root = FakeRoot::new("dial");
    let mut ch = DahdiFd::open_generic(&root.0).expect("open regular file");
    let long = "1".repeat(256);
    assert_eq!(
        DahdiChannel::dial(&mut ch, DialOp::Append, &long),
        Err(Errno::EINVAL.into())
    );
    assert_eq!(
        DahdiDialOperation::new(DialOp::Append, "12\u{0}3"),
        Err(Errno::EINVAL.into())
    );
    let ok = DahdiDialOperation::new(DialOp::Append, &"9".repeat(255)).expect("255 digits fit");
    assert_eq!(ok.digits().len(), 255);
    assert_eq!(ok.op, 1);
}

#[test]
fn opening_a_missing_tree_reports_the_os_error() {
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such-dahdi-root");
    let err = DahdiFd::open_generic(&missing).expect_err("nothing to open");
    assert_eq!(err, Errno::ENOENT);
}

#[test]
fn an_adopted_descriptor_is_used_as_is() {
    let root = FakeRoot::new("adopt");
    let file = fs::File::open(root.0.join("dahdi/channel")).expect("open");
    let raw = file.as_raw_fd();
    let fd = DahdiFd::from_owned_fd(OwnedFd::from(file));
    assert_eq!(fd.as_raw_fd(), raw);
    enotty("GET_PARAMS on adopted fd", fd.get_params());
}
