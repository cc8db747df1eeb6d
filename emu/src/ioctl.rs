//! The DAHDI ioctl ABI on top of the model: a request code and its
//! `in_data` bytes become one typed call on hw's [`FakeDahdi`] /
//! [`FakeChannel`], and the result becomes the reply bytes and errno.
//!
//! This layer knows the ABI (which request carries which struct, what the
//! generic opener accepts before `SPECIFY`) but no telephony: every rule
//! about hook states, events, tones, conferences and buffers is the model's
//! (`hw/src/dahdi/fake.rs`). It has no FUSE types either, so it is tested
//! here without a mount, and the FUSE adapter (`fs.rs`) only moves bytes.
//!
//! Request codes are hw's [`codes`] constants; nothing is renumbered here.

use crate::codec::Wire;
use nix::errno::Errno;
use pickupd_hw::dahdi::codes::{self, Request};
use pickupd_hw::dahdi::consts::{DAHDI_GET_PARAMS_RETURN_MASTER, DAHDI_MAX_CHANNELS};
use pickupd_hw::dahdi::structs::{c_chars, set_c_chars, DahdiSpanInfo, DahdiVersionInfo};
use pickupd_hw::dahdi::{
    DahdiBufferInfo, DahdiChannel, DahdiConfInfo, DahdiDialOperation, DahdiOpener, DahdiParams,
    DialOp, Error, FakeChannel, FakeDahdi, HookOp, HookOutcome, Law, Result, Tone,
};

/// Reply of a successful ioctl: the bytes copied back to the client (empty
/// for write-only requests). The ioctl's return value is always 0, as for
/// every DAHDI request.
pub type Reply = Vec<u8>;

fn is(cmd: u32, request: Request) -> bool {
    // Request codes are 32-bit values in the platform's ioctl number type
    // (`c_ulong` on glibc, `c_int` on musl); FUSE carries them as `u32`.
    // The same comparison as hw's `codes::request_name`.
    request as u32 == cmd
}

fn arg<T: Wire>(in_data: &[u8]) -> Result<T> {
    T::decode(in_data)
}

/// Checks that the client accepts at least `T::SIZE` bytes back; the kernel
/// turns a longer reply into `EIO`, so refuse before doing anything.
fn out<T: Wire>(out_size: u32, value: &T) -> Result<Reply> {
    if usize::try_from(out_size).map_or(true, |n| n < T::SIZE) {
        return Err(Errno::EINVAL.into());
    }
    Ok(value.encode())
}

fn none() -> Result<Reply> {
    Ok(Vec::new())
}

/// The generic opener `<root>/dahdi/channel` (§1.2): one per open file.
/// Until `SPECIFY` succeeds only `SPECIFY` is accepted; afterwards the file
/// is bound to one [`FakeChannel`] for its lifetime, so closing the file
/// drops the channel (hang-up, §1.4) and the exclusive-open rule of the
/// model applies per file.
#[derive(Debug, Default)]
pub struct ChannelFile {
    channel: Option<FakeChannel>,
}

impl ChannelFile {
    pub fn new() -> Self {
        Self::default()
    }

    /// The bound channel, or `None` before `SPECIFY`.
    pub fn channel(&mut self) -> Option<&mut FakeChannel> {
        self.channel.as_mut()
    }

    /// One ioctl on this file. `out_size` is the number of bytes the
    /// client's request lets the server write back.
    pub fn ioctl(
        &mut self,
        model: &FakeDahdi,
        cmd: u32,
        in_data: &[u8],
        out_size: u32,
    ) -> Result<Reply> {
        let Some(chan) = self.channel.as_mut() else {
            // dahdi_prechan_ioctl: SPECIFY or ENOSYS (which FUSE reports as
            // ENOTTY anyway; answering ENOTTY keeps that explicit).
            if is(cmd, codes::SPECIFY) {
                let channo: i32 = arg(in_data)?;
                self.channel = Some(model.open_channel(channo)?);
                return none();
            }
            return Err(Errno::ENOTTY.into());
        };
        channel_ioctl(model, chan, cmd, in_data, out_size)
    }
}

/// A request on a bound channel file.
fn channel_ioctl(
    model: &FakeDahdi,
    chan: &mut FakeChannel,
    cmd: u32,
    in_data: &[u8],
    out_size: u32,
) -> Result<Reply> {
    if is(cmd, codes::GETEVENT) {
        // First, and without the liveness check below: GETEVENT keeps
        // working after the hardware is removed so REMOVED can be read.
        let code = chan.get_event()?.map_or(0, |ev| ev.code());
        return out(out_size, &code);
    }
    // ENODEV once the channel's hardware is gone (or was replaced).
    let channo = chan.channo()?;
    if is(cmd, codes::CHANNO) {
        out(out_size, &channo)
    } else if is(cmd, codes::GET_BLOCKSIZE) {
        out(out_size, &state(model, channo)?.blocksize)
    } else if is(cmd, codes::SET_BLOCKSIZE) {
        chan.set_blocksize(arg(in_data)?)?;
        none()
    } else if is(cmd, codes::GET_BUFINFO) {
        let s = state(model, channo)?;
        // Policies are not kept by the model (see the crate docs); the
        // kernel reports readbufs/writebufs as −1 (§1.5).
        let info = DahdiBufferInfo {
            numbufs: s.numbufs,
            bufsize: s.blocksize,
            readbufs: -1,
            writebufs: -1,
            ..DahdiBufferInfo::zeroed()
        };
        out(out_size, &info)
    } else if is(cmd, codes::SET_BUFINFO) {
        chan.set_bufinfo(&arg::<DahdiBufferInfo>(in_data)?)?;
        none()
    } else if is(cmd, codes::FLUSH) {
        chan.flush(arg(in_data)?)?;
        none()
    } else if is(cmd, codes::GET_PARAMS) {
        // On a channel fd the fd's channel is used, whatever `channo` says.
        out(out_size, &chan.get_params()?)
    } else if is(cmd, codes::SET_PARAMS) {
        chan.set_params(&arg::<DahdiParams>(in_data)?)?;
        none()
    } else if is(cmd, codes::HOOK) {
        let op = HookOp::from_code(arg(in_data)?).ok_or(Error::from(Errno::EINVAL))?;
        match chan.hook(op)? {
            HookOutcome::Done => none(),
            // The kernel's answer for a non-blocking wink/flash/start; the
            // completion arrives as a HOOKCOMPLETE event.
            HookOutcome::InProgress => Err(Errno::EINPROGRESS.into()),
        }
    } else if is(cmd, codes::SPANSTAT) {
        let query: DahdiSpanInfo = arg(in_data)?;
        out(out_size, &span_info(model, query.spanno, true)?)
    } else if is(cmd, codes::GETCONF) {
        let query: DahdiConfInfo = arg(in_data)?;
        let target = if query.chan == 0 { channo } else { query.chan };
        let mut conf = state(model, target)?.conf;
        conf.chan = target;
        out(out_size, &conf)
    } else if is(cmd, codes::SETCONF) {
        let conf = chan.set_conf(arg(in_data)?)?;
        out(out_size, &conf)
    } else if is(cmd, codes::SENDTONE) {
        chan.send_tone(Tone(arg(in_data)?))?;
        none()
    } else if is(cmd, codes::GETTONEZONE) {
        // dahdi-base: the current zone's number, 0 without a zone.
        out(out_size, &state(model, channo)?.zone.unwrap_or(0))
    } else if is(cmd, codes::SETTONEZONE) {
        let zone: i32 = arg(in_data)?;
        chan.set_tonezone(zone)?;
        none()
    } else if is(cmd, codes::DIAL) {
        let dial: DahdiDialOperation = arg(in_data)?;
        let op = DialOp::from_code(dial.op).ok_or(Error::from(Errno::EINVAL))?;
        let digits =
            std::str::from_utf8(c_chars(&dial.dialstr)).map_err(|_| Error::from(Errno::EINVAL))?;
        chan.dial(op, digits)?;
        none()
    } else if is(cmd, codes::DIALING) {
        out(out_size, &i32::from(chan.dialing()?))
    } else if is(cmd, codes::SETLAW) {
        let law = Law::from_code(arg(in_data)?).ok_or(Error::from(Errno::EINVAL))?;
        chan.set_law(law)?;
        none()
    } else if is(cmd, codes::SETLINEAR) {
        chan.set_linear(arg::<i32>(in_data)? != 0)?;
        none()
    } else {
        // Everything else is what a span driver without that feature
        // answers (§1.14: unknown channel ioctls end in ENOTTY). This
        // includes requests the model has no state for (SYNC, CONFMUTE,
        // GETCONFMUTE, ECHOCANCEL, BUFFER_EVENTS) and the driver-specific
        // ones (SETPOLARITY, TONEDETECT, VMWI, ONHOOKTRANSFER), and a
        // second SPECIFY, which the kernel passes to the channel ioctl.
        Err(Errno::ENOTTY.into())
    }
}

/// The control node `<root>/dahdi/ctl`: the read-only queries that select
/// their channel or span from the struct (§1.14), so a tool can inspect a
/// channel without opening it.
pub fn ctl_ioctl(model: &FakeDahdi, cmd: u32, in_data: &[u8], out_size: u32) -> Result<Reply> {
    if is(cmd, codes::GET_PARAMS) {
        let query: DahdiParams = arg(in_data)?;
        let want_master = query.channo & DAHDI_GET_PARAMS_RETURN_MASTER != 0;
        let channo = query.channo & !DAHDI_GET_PARAMS_RETURN_MASTER;
        let mut params = state(model, channo)?.params;
        if want_master {
            // Every channel of the model is its own master.
            params.channo = channo | (channo << 16);
        }
        out(out_size, &params)
    } else if is(cmd, codes::SPANSTAT) {
        let query: DahdiSpanInfo = arg(in_data)?;
        out(out_size, &span_info(model, query.spanno, false)?)
    } else if is(cmd, codes::GETVERSION) {
        let mut v = DahdiVersionInfo::zeroed();
        let version = concat!("pickupd-emu ", env!("CARGO_PKG_VERSION"));
        set_c_chars(&mut v.version, version.as_bytes());
        out(out_size, &v)
    } else {
        // Zone loading and span configuration carry trailing arrays or
        // pointers that cannot pass through FUSE (§2.2); the model is
        // configured through its Rust API instead.
        Err(Errno::ENOTTY.into())
    }
}

fn state(model: &FakeDahdi, channo: i32) -> Result<pickupd_hw::dahdi::FakeChannelState> {
    model
        .state(channo)
        .ok_or_else(|| Error::from(Errno::EINVAL))
}

/// `SPANSTAT` of the model's single span: the fake reports `spanno` 1 for
/// every channel (its `GET_PARAMS`), so the span is described from the
/// model's channel list. `spanno` 0 means "this fd's span" on a channel fd
/// only.
fn span_info(model: &FakeDahdi, spanno: i32, channel_fd: bool) -> Result<DahdiSpanInfo> {
    if !(spanno == 1 || (spanno == 0 && channel_fd)) {
        return Err(Errno::EINVAL.into());
    }
    let numchans = channel_count(model);
    let mut s = DahdiSpanInfo::zeroed();
    s.spanno = 1;
    s.numchans = numchans;
    s.totalchans = numchans;
    s.totalspans = 1;
    let mut name = [0; 20];
    set_c_chars(&mut name, b"FAKE/1");
    s.name = name;
    let mut desc = [0; 40];
    set_c_chars(&mut desc, b"pickupd emulated analog span");
    s.desc = desc;
    let mut manufacturer = [0; 40];
    set_c_chars(&mut manufacturer, b"pickupd");
    s.manufacturer = manufacturer;
    let mut devicetype = [0; 40];
    set_c_chars(&mut devicetype, b"FUSE-emulated DAHDI");
    s.devicetype = devicetype;
    Ok(s)
}

/// Number of channels in the model. `FakeDahdi` has no channel list, so
/// the valid numbers (1 … `DAHDI_MAX_CHANNELS`) are probed; only
/// `SPANSTAT` needs this, and it is not on any hot path.
fn channel_count(model: &FakeDahdi) -> i32 {
    let present = (1..=DAHDI_MAX_CHANNELS).filter(|&n| model.state(n).is_some());
    i32::try_from(present.count()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pickupd_hw::dahdi::consts::{DAHDI_SIG_FXOKS, DAHDI_SIG_FXSKS};

    fn model() -> FakeDahdi {
        let m = FakeDahdi::new();
        m.add_channel(1, DAHDI_SIG_FXOKS).unwrap();
        m.add_channel(2, DAHDI_SIG_FXSKS).unwrap();
        m
    }

    fn code(r: Request) -> u32 {
        r as u32
    }

    fn bound(m: &FakeDahdi, channo: i32) -> ChannelFile {
        let mut f = ChannelFile::new();
        f.ioctl(m, code(codes::SPECIFY), &channo.encode(), 0)
            .unwrap();
        f
    }

    #[test]
    fn only_specify_before_specify() {
        let m = model();
        let mut f = ChannelFile::new();
        let params = DahdiParams::zeroed().encode();
        assert_eq!(
            f.ioctl(&m, code(codes::GET_PARAMS), &params, 136),
            Err(Errno::ENOTTY.into())
        );
        assert_eq!(
            f.ioctl(&m, code(codes::SPECIFY), &9.encode(), 0),
            Err(Errno::EINVAL.into())
        );
        assert!(
            f.channel().is_none(),
            "a failed SPECIFY leaves the file unbound"
        );
        assert_eq!(
            f.ioctl(&m, code(codes::SPECIFY), &1.encode(), 0),
            Ok(vec![])
        );
        assert_eq!(
            f.ioctl(&m, code(codes::SPECIFY), &1.encode(), 0),
            Err(Errno::ENOTTY.into()),
            "a second SPECIFY is an unknown channel ioctl"
        );
        let mut other = ChannelFile::new();
        assert_eq!(
            other.ioctl(&m, code(codes::SPECIFY), &1.encode(), 0),
            Err(Errno::EBUSY.into())
        );
    }

    #[test]
    fn malformed_requests_are_einval_or_enotty_never_panics() {
        let m = model();
        let mut f = bound(&m, 1);
        // Short argument buffers.
        for req in [
            codes::SET_BLOCKSIZE,
            codes::HOOK,
            codes::SET_PARAMS,
            codes::DIAL,
        ] {
            assert_eq!(
                f.ioctl(&m, code(req), &[1, 2], 0),
                Err(Errno::EINVAL.into())
            );
        }
        // Reply space smaller than the struct.
        assert_eq!(
            f.ioctl(&m, code(codes::GET_PARAMS), &[0; 136], 4),
            Err(Errno::EINVAL.into())
        );
        // Values outside the enum.
        assert_eq!(
            f.ioctl(&m, code(codes::HOOK), &7.encode(), 0),
            Err(Errno::EINVAL.into())
        );
        assert_eq!(
            f.ioctl(&m, code(codes::SETLAW), &3.encode(), 0),
            Err(Errno::EINVAL.into())
        );
        let mut dial = DahdiDialOperation::zeroed();
        dial.op = 9;
        assert_eq!(
            f.ioctl(&m, code(codes::DIAL), &dial.encode(), 0),
            Err(Errno::EINVAL.into())
        );
        dial.op = DialOp::Append.code();
        dial.dialstr[0] = 0xFF; // not UTF-8
        assert_eq!(
            f.ioctl(&m, code(codes::DIAL), &dial.encode(), 0),
            Err(Errno::EINVAL.into())
        );
        // Unknown, driver-specific and pointer-carrying requests.
        for req in [
            0,
            0xDEAD_BEEF,
            code(codes::SETPOLARITY),
            code(codes::INDIRECT),
        ] {
            assert_eq!(f.ioctl(&m, req, &[0; 16], 16), Err(Errno::ENOTTY.into()));
        }
        assert_eq!(ctl_ioctl(&m, 0x1234, &[], 0), Err(Errno::ENOTTY.into()));
        assert_eq!(
            ctl_ioctl(&m, code(codes::GET_PARAMS), &[0; 3], 136),
            Err(Errno::EINVAL.into())
        );
    }

    #[test]
    fn requests_reach_the_model() {
        let m = model();
        let mut f = bound(&m, 2);
        assert_eq!(f.ioctl(&m, code(codes::CHANNO), &[], 4), Ok(2.encode()));
        f.ioctl(&m, code(codes::SET_BLOCKSIZE), &160.encode(), 0)
            .unwrap();
        assert_eq!(m.state(2).unwrap().blocksize, 160);
        assert_eq!(
            f.ioctl(&m, code(codes::HOOK), &HookOp::OffHook.code().encode(), 0),
            Ok(vec![])
        );
        assert_eq!(
            f.ioctl(&m, code(codes::HOOK), &HookOp::Flash.code().encode(), 0),
            Err(Errno::EBUSY.into())
        );
        m.advance(700);
        assert_eq!(
            f.ioctl(&m, code(codes::HOOK), &HookOp::Flash.code().encode(), 0),
            Err(Errno::EINPROGRESS.into())
        );
        m.advance(1000);
        assert_eq!(
            f.ioctl(&m, code(codes::GETEVENT), &[], 4),
            Ok(pickupd_hw::dahdi::DahdiEvent::HookComplete.code().encode())
        );
        assert_eq!(f.ioctl(&m, code(codes::GETEVENT), &[], 4), Ok(0.encode()));

        let query = DahdiParams {
            channo: 1 | DAHDI_GET_PARAMS_RETURN_MASTER,
            ..DahdiParams::zeroed()
        };
        let reply = ctl_ioctl(&m, code(codes::GET_PARAMS), &query.encode(), 136).unwrap();
        let params = DahdiParams::decode(&reply).unwrap();
        assert_eq!(params.channo, 1 | (1 << 16));
        assert_eq!(params.sigtype, DAHDI_SIG_FXOKS);
    }
}
