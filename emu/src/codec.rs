//! Byte images of the `pickupd-hw` DAHDI structures, as the FUSE `ioctl`
//! request carries them (`in_data`) and expects them back.
//!
//! Why a codec at all: the kernel hands the FUSE server the `_IOC_SIZE`
//! bytes the client's pointer referred to, and this crate has no `unsafe`
//! (the project's only `unsafe` is hw's ioctl edge), so it cannot
//! reinterpret those bytes as a `#[repr(C)]` value. Instead each field is
//! read and written at the offset `std::mem::offset_of!` reports for hw's
//! own type: no layout table is repeated here, and a struct that changes in
//! hw changes the offsets used here with it. The `every_byte_is_a_field`
//! test catches a field that was added in hw but forgotten here.
//!
//! Decoding never panics: a short buffer is `EINVAL` (the kernel would have
//! copied the full `_IOC_SIZE`, so a short one is a malformed request).

use nix::errno::Errno;
use pickupd_hw::dahdi::structs::{DahdiSpanInfo, DahdiVersionInfo};
use pickupd_hw::dahdi::{
    DahdiBufferInfo, DahdiConfInfo, DahdiDialOperation, DahdiParams, Error, Result,
};
use std::mem::{offset_of, size_of};

/// A value that crosses the FUSE ioctl boundary as raw bytes.
pub trait Wire: Sized {
    /// `_IOC_SIZE` of the request that carries it: the size of hw's type.
    const SIZE: usize;
    /// Reads the value from the first [`Self::SIZE`] bytes of `bytes`.
    fn decode(bytes: &[u8]) -> Result<Self>;
    /// The value's [`Self::SIZE`] bytes in host order.
    fn encode(&self) -> Vec<u8>;
}

fn einval() -> Error {
    Error::from(Errno::EINVAL)
}

fn field<const N: usize>(bytes: &[u8], offset: usize) -> Result<[u8; N]> {
    bytes
        .get(offset..offset + N)
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(einval)
}

fn get_i32(bytes: &[u8], offset: usize) -> Result<i32> {
    field::<4>(bytes, offset).map(i32::from_ne_bytes)
}

fn get_u32(bytes: &[u8], offset: usize) -> Result<u32> {
    field::<4>(bytes, offset).map(u32::from_ne_bytes)
}

/// Writes `src` at `offset`; `out` is always allocated with the full size
/// of the type whose `offset_of!` produced `offset`, so the range exists.
fn put(out: &mut [u8], offset: usize, src: &[u8]) {
    if let Some(dst) = out.get_mut(offset..offset + src.len()) {
        dst.copy_from_slice(src);
    }
}

impl Wire for i32 {
    const SIZE: usize = size_of::<i32>();

    fn decode(bytes: &[u8]) -> Result<Self> {
        get_i32(bytes, 0)
    }

    fn encode(&self) -> Vec<u8> {
        self.to_ne_bytes().to_vec()
    }
}

/// Reads the listed `i32`/`u32` fields of `$ty` from `$bytes` into `$v`.
macro_rules! decode_fields {
    ($ty:ty, $bytes:expr, $v:ident, i32: [$($f:ident),*], u32: [$($g:ident),*]) => {
        $( $v.$f = get_i32($bytes, offset_of!($ty, $f))?; )*
        $( $v.$g = get_u32($bytes, offset_of!($ty, $g))?; )*
    };
}

/// Writes the listed scalar fields of `$v` (a `$ty`) into `$out`.
macro_rules! encode_fields {
    ($ty:ty, $out:expr, $v:expr, [$($f:ident),*]) => {
        $( put($out, offset_of!($ty, $f), &{ $v.$f }.to_ne_bytes()); )*
    };
}

impl Wire for DahdiParams {
    const SIZE: usize = size_of::<DahdiParams>();

    fn decode(bytes: &[u8]) -> Result<Self> {
        let mut p = DahdiParams::zeroed();
        decode_fields!(DahdiParams, bytes, p,
            i32: [channo, spanno, chanpos, sigtype, sigcap, rxisoffhook, rxbits, txbits,
                  txhooksig, rxhooksig, curlaw, idlebits, prewinktime, preflashtime, winktime,
                  flashtime, starttime, rxwinktime, rxflashtime, debouncetime, pulsebreaktime,
                  pulsemaketime, pulseaftertime],
            u32: [chan_alarms]);
        p.name = field(bytes, offset_of!(DahdiParams, name))?;
        Ok(p)
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = vec![0; Self::SIZE];
        encode_fields!(
            DahdiParams,
            &mut out,
            self,
            [
                channo,
                spanno,
                chanpos,
                sigtype,
                sigcap,
                rxisoffhook,
                rxbits,
                txbits,
                txhooksig,
                rxhooksig,
                curlaw,
                idlebits,
                prewinktime,
                preflashtime,
                winktime,
                flashtime,
                starttime,
                rxwinktime,
                rxflashtime,
                debouncetime,
                pulsebreaktime,
                pulsemaketime,
                pulseaftertime,
                chan_alarms
            ]
        );
        put(&mut out, offset_of!(DahdiParams, name), &self.name);
        out
    }
}

impl Wire for DahdiBufferInfo {
    const SIZE: usize = size_of::<DahdiBufferInfo>();

    fn decode(bytes: &[u8]) -> Result<Self> {
        let mut b = DahdiBufferInfo::zeroed();
        decode_fields!(DahdiBufferInfo, bytes, b,
            i32: [txbufpolicy, rxbufpolicy, numbufs, bufsize, readbufs, writebufs], u32: []);
        Ok(b)
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = vec![0; Self::SIZE];
        encode_fields!(
            DahdiBufferInfo,
            &mut out,
            self,
            [
                txbufpolicy,
                rxbufpolicy,
                numbufs,
                bufsize,
                readbufs,
                writebufs
            ]
        );
        out
    }
}

impl Wire for DahdiConfInfo {
    const SIZE: usize = size_of::<DahdiConfInfo>();

    fn decode(bytes: &[u8]) -> Result<Self> {
        let mut c = DahdiConfInfo::zeroed();
        decode_fields!(DahdiConfInfo, bytes, c, i32: [chan, confno, confmode], u32: []);
        Ok(c)
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = vec![0; Self::SIZE];
        encode_fields!(DahdiConfInfo, &mut out, self, [chan, confno, confmode]);
        out
    }
}

impl Wire for DahdiDialOperation {
    const SIZE: usize = size_of::<DahdiDialOperation>();

    fn decode(bytes: &[u8]) -> Result<Self> {
        let mut d = DahdiDialOperation::zeroed();
        d.op = get_i32(bytes, offset_of!(DahdiDialOperation, op))?;
        d.dialstr = field(bytes, offset_of!(DahdiDialOperation, dialstr))?;
        Ok(d)
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = vec![0; Self::SIZE];
        put(
            &mut out,
            offset_of!(DahdiDialOperation, op),
            &self.op.to_ne_bytes(),
        );
        put(
            &mut out,
            offset_of!(DahdiDialOperation, dialstr),
            &self.dialstr,
        );
        out
    }
}

impl Wire for DahdiSpanInfo {
    const SIZE: usize = size_of::<DahdiSpanInfo>();

    fn decode(bytes: &[u8]) -> Result<Self> {
        let mut s = DahdiSpanInfo::zeroed();
        decode_fields!(DahdiSpanInfo, bytes, s,
            i32: [spanno, alarms, txlevel, rxlevel, bpvcount, crc4count, ebitcount, fascount,
                  irqmisses, syncsrc, numchans, totalchans, totalspans, lbo, lineconfig, irq,
                  linecompat],
            u32: [fecount, cvcount, becount, prbs, errsec]);
        s.name = field(bytes, offset_of!(DahdiSpanInfo, name))?;
        s.desc = field(bytes, offset_of!(DahdiSpanInfo, desc))?;
        s.lboname = field(bytes, offset_of!(DahdiSpanInfo, lboname))?;
        s.location = field(bytes, offset_of!(DahdiSpanInfo, location))?;
        s.manufacturer = field(bytes, offset_of!(DahdiSpanInfo, manufacturer))?;
        s.devicetype = field(bytes, offset_of!(DahdiSpanInfo, devicetype))?;
        s.spantype = field(bytes, offset_of!(DahdiSpanInfo, spantype))?;
        Ok(s)
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = vec![0; Self::SIZE];
        // Packed struct: every field is copied out by value (`{ … }`),
        // never borrowed, so no unaligned reference is formed.
        encode_fields!(
            DahdiSpanInfo,
            &mut out,
            self,
            [
                spanno, alarms, txlevel, rxlevel, bpvcount, crc4count, ebitcount, fascount,
                fecount, cvcount, becount, prbs, errsec, irqmisses, syncsrc, numchans, totalchans,
                totalspans, lbo, lineconfig, irq, linecompat
            ]
        );
        put(&mut out, offset_of!(DahdiSpanInfo, name), &{ self.name });
        put(&mut out, offset_of!(DahdiSpanInfo, desc), &{ self.desc });
        put(&mut out, offset_of!(DahdiSpanInfo, lboname), &{
            self.lboname
        });
        put(&mut out, offset_of!(DahdiSpanInfo, location), &{
            self.location
        });
        put(&mut out, offset_of!(DahdiSpanInfo, manufacturer), &{
            self.manufacturer
        });
        put(&mut out, offset_of!(DahdiSpanInfo, devicetype), &{
            self.devicetype
        });
        put(&mut out, offset_of!(DahdiSpanInfo, spantype), &{
            self.spantype
        });
        out
    }
}

impl Wire for DahdiVersionInfo {
    const SIZE: usize = size_of::<DahdiVersionInfo>();

    fn decode(bytes: &[u8]) -> Result<Self> {
        let mut v = DahdiVersionInfo::zeroed();
        v.version = field(bytes, offset_of!(DahdiVersionInfo, version))?;
        v.echo_canceller = field(bytes, offset_of!(DahdiVersionInfo, echo_canceller))?;
        Ok(v)
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = vec![0; Self::SIZE];
        put(
            &mut out,
            offset_of!(DahdiVersionInfo, version),
            &self.version,
        );
        put(
            &mut out,
            offset_of!(DahdiVersionInfo, echo_canceller),
            &self.echo_canceller,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decoding an all-0xFF image and encoding it again must give all 0xFF:
    /// any byte left 0 belongs to a field this codec forgot (the structs
    /// have no padding, which hw pins by their sizes).
    fn every_byte_round_trips<T: Wire>() {
        let ones = vec![0xFF; T::SIZE];
        let value = T::decode(&ones).expect("full-size image decodes");
        assert_eq!(value.encode(), ones, "{}", std::any::type_name::<T>());
        let pattern: Vec<u8> = (0..T::SIZE).map(|i| (i * 7 + 3) as u8).collect();
        let value = T::decode(&pattern).expect("full-size image decodes");
        assert_eq!(value.encode(), pattern, "{}", std::any::type_name::<T>());
    }

    #[test]
    fn every_byte_is_a_field() {
        every_byte_round_trips::<i32>();
        every_byte_round_trips::<DahdiParams>();
        every_byte_round_trips::<DahdiBufferInfo>();
        every_byte_round_trips::<DahdiConfInfo>();
        every_byte_round_trips::<DahdiDialOperation>();
        every_byte_round_trips::<DahdiSpanInfo>();
        every_byte_round_trips::<DahdiVersionInfo>();
    }

    #[test]
    fn fields_land_at_the_spec_offsets() {
        let mut p = DahdiParams::zeroed();
        p.flashtime = 0x0102_0304;
        p.chan_alarms = 0xA0B0_C0D0;
        let bytes = p.encode();
        assert_eq!(bytes.len(), 136);
        assert_eq!(&bytes[100..104], &0x0102_0304_i32.to_ne_bytes());
        assert_eq!(&bytes[132..136], &0xA0B0_C0D0_u32.to_ne_bytes());
        assert_eq!(DahdiParams::decode(&bytes), Ok(p));
    }

    #[test]
    fn short_buffers_are_einval_not_panics() {
        for len in [0, 1, 3, 135] {
            assert_eq!(
                DahdiParams::decode(&vec![0; len]),
                Err(Errno::EINVAL.into())
            );
        }
        assert_eq!(i32::decode(&[1, 2]), Err(Errno::EINVAL.into()));
        assert_eq!(DahdiSpanInfo::decode(&[0; 313]), Err(Errno::EINVAL.into()));
    }
}
