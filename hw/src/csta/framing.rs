//! Framings that carry CSTA messages over a byte stream (hardware.md §5.5),
//! without I/O.
//!
//! The codec (XML here, BER one day) is independent of the transport, so a
//! framer only cuts a stream into payloads and back: the driver pushes the
//! bytes it read from a TCP socket or tty and pops whole frames; it encodes
//! outgoing payloads into bytes to write. Two framings are implemented:
//!
//! * [`LengthPrefixFramer`]: a big-endian `u16` payload length, then the
//!   payload (CSTA links that carry one APDU per length-prefixed record);
//! * [`DmccFramer`]: the 8-byte header of Avaya DMCC (ECMA-323 Annex J as
//!   public adapters describe it): `u16` BE version 0, `u16` BE length of the
//!   whole frame including the header, four ASCII digits of invoke id
//!   (`9999` for unsolicited events), then the XML.
//!
//! Both buffer at most one maximum-size frame, so a peer cannot make the
//! daemon buffer without bound: [`Framer::push`] takes only what fits and
//! says how much it took. A corrupt header means the stream has lost its
//! frame boundaries, and nothing after it can be trusted: the framer reports
//! a [`FrameError`], stays in that error, and the driver drops the link.

use std::fmt;

/// Why a received byte stream cannot be framed. Every variant means the
/// frame boundaries are lost: drop the link (and reconnect).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A DMCC header with a version other than 0.
    #[error("DMCC header has version {0}, expected 0")]
    BadVersion(u16),
    /// A DMCC header whose length does not even cover the header.
    #[error("DMCC header declares a frame of {0} bytes, shorter than its 8-byte header")]
    LengthTooShort(u16),
    /// A DMCC header whose invoke id is not four ASCII digits.
    #[error("DMCC header has invoke id {0:?}, not four ASCII digits")]
    BadInvokeId([u8; 4]),
    /// A frame larger than this framer accepts.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The declared (or buffered) length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// An outgoing payload too large for the framing's length field (or the
/// framer's configured limit): the message must not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payload of {len} bytes exceeds the framing's limit of {max}")]
pub struct PayloadTooLarge {
    /// The payload's length.
    pub len: usize,
    /// The limit.
    pub max: usize,
}

/// A sans-I/O framer: bytes in, frames out, and frames back to bytes.
pub trait Framer {
    /// What one frame carries.
    type Frame;

    /// Appends received bytes, as many as the bounded buffer has room for,
    /// and returns how many it took. Once a frame is complete, pop it to make
    /// room; a buffer full of an incomplete frame cannot happen, since the
    /// buffer holds one frame of the maximum size.
    fn push(&mut self, bytes: &[u8]) -> Result<usize, FrameError>;

    /// Takes the next complete frame out of the buffer, if there is one.
    fn pop(&mut self) -> Result<Option<Self::Frame>, FrameError>;

    /// Appends the wire form of `frame` to `out`.
    fn encode(&self, frame: &Self::Frame, out: &mut Vec<u8>) -> Result<(), PayloadTooLarge>;

    /// How many received bytes wait for the rest of their frame.
    fn buffered(&self) -> usize;

    /// Pushes all of `bytes`, handing each completed frame to `sink` in
    /// order: the loop every reader needs around [`push`](Self::push) and
    /// [`pop`](Self::pop).
    fn feed(
        &mut self,
        mut bytes: &[u8],
        mut sink: impl FnMut(Self::Frame),
    ) -> Result<(), FrameError>
    where
        Self: Sized,
    {
        loop {
            while let Some(frame) = self.pop()? {
                sink(frame);
            }
            if bytes.is_empty() {
                return Ok(());
            }
            let taken = self.push(bytes)?;
            if taken == 0 {
                // Unreachable while the buffer holds a whole maximum frame;
                // reported rather than looping forever.
                return Err(FrameError::TooLarge {
                    len: self.buffered() + bytes.len(),
                    max: self.buffered(),
                });
            }
            bytes = &bytes[taken..];
        }
    }
}

/// The bounded receive buffer both framers share, with the error that
/// poisons it.
#[derive(Debug, Clone)]
struct Buffer {
    bytes: Vec<u8>,
    capacity: usize,
    failed: Option<FrameError>,
}

impl Buffer {
    fn new(capacity: usize) -> Self {
        Buffer {
            bytes: Vec::new(),
            capacity,
            failed: None,
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<usize, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let room = self.capacity.saturating_sub(self.bytes.len());
        let taken = room.min(bytes.len());
        self.bytes.extend_from_slice(&bytes[..taken]);
        Ok(taken)
    }

    fn fail<T>(&mut self, e: FrameError) -> Result<T, FrameError> {
        self.failed = Some(e.clone());
        self.bytes = Vec::new();
        Err(e)
    }

    /// Removes the first `len` bytes (a whole frame) and returns `skip..len`
    /// of them.
    fn take(&mut self, skip: usize, len: usize) -> Vec<u8> {
        let payload = self
            .bytes
            .get(skip..len)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        self.bytes.drain(..len.min(self.bytes.len()));
        payload
    }
}

/// The u16 big-endian length-prefix framing; a frame is the payload.
#[derive(Debug, Clone)]
pub struct LengthPrefixFramer {
    buf: Buffer,
    max_payload: usize,
}

impl LengthPrefixFramer {
    /// The largest payload the length field can describe.
    pub const MAX_PAYLOAD: usize = u16::MAX as usize;

    /// A framer accepting payloads up to [`Self::MAX_PAYLOAD`].
    pub fn new() -> Self {
        Self::with_max_payload(Self::MAX_PAYLOAD)
    }

    /// A framer accepting payloads up to `max_payload` bytes (at most
    /// [`Self::MAX_PAYLOAD`]); a smaller limit bounds memory further.
    pub fn with_max_payload(max_payload: usize) -> Self {
        let max_payload = max_payload.min(Self::MAX_PAYLOAD);
        LengthPrefixFramer {
            buf: Buffer::new(2 + max_payload),
            max_payload,
        }
    }
}

impl Default for LengthPrefixFramer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer for LengthPrefixFramer {
    type Frame = Vec<u8>;

    fn push(&mut self, bytes: &[u8]) -> Result<usize, FrameError> {
        self.buf.push(bytes)
    }

    fn pop(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some(e) = &self.buf.failed {
            return Err(e.clone());
        }
        let [hi, lo, ..] = self.buf.bytes[..] else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len > self.max_payload {
            return self.buf.fail(FrameError::TooLarge {
                len,
                max: self.max_payload,
            });
        }
        if self.buf.bytes.len() < 2 + len {
            return Ok(None);
        }
        Ok(Some(self.buf.take(2, 2 + len)))
    }

    fn encode(&self, frame: &Vec<u8>, out: &mut Vec<u8>) -> Result<(), PayloadTooLarge> {
        let len = u16::try_from(frame.len())
            .ok()
            .filter(|_| frame.len() <= self.max_payload)
            .ok_or(PayloadTooLarge {
                len: frame.len(),
                max: self.max_payload,
            })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(frame);
        Ok(())
    }

    fn buffered(&self) -> usize {
        self.buf.bytes.len()
    }
}

/// A DMCC invoke id: four decimal digits, `0000`–`9999`. Requests carry an
/// id the application chose and their replies carry it back; unsolicited
/// events carry [`InvokeId::EVENT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InvokeId(u16);

impl InvokeId {
    /// The id of unsolicited events (`9999`).
    pub const EVENT: InvokeId = InvokeId(9999);

    /// The id `n`, if it has at most four digits.
    pub fn new(n: u16) -> Option<InvokeId> {
        (n <= 9999).then_some(InvokeId(n))
    }

    /// The id as a number.
    pub fn get(self) -> u16 {
        self.0
    }

    /// Whether this is the id of unsolicited events.
    pub fn is_event(self) -> bool {
        self == Self::EVENT
    }

    /// The four ASCII digits of the header.
    pub fn to_ascii(self) -> [u8; 4] {
        let n = self.0;
        // Each digit is < 10, so the casts cannot truncate.
        [
            b'0' + (n / 1000 % 10) as u8,
            b'0' + (n / 100 % 10) as u8,
            b'0' + (n / 10 % 10) as u8,
            b'0' + (n % 10) as u8,
        ]
    }

    /// The id of four ASCII digits, if they are digits.
    pub fn from_ascii(digits: [u8; 4]) -> Option<InvokeId> {
        let mut n = 0u16;
        for d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u16::from(d - b'0');
        }
        Some(InvokeId(n))
    }
}

impl fmt::Display for InvokeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.0)
    }
}

/// Hands out invoke ids for requests: `0001` to `9998`, then around again.
/// `0000` is left out because some servers treat it as "no id", `9999`
/// because it marks events.
#[derive(Debug, Clone)]
pub struct InvokeIds {
    next: u16,
}

impl InvokeIds {
    /// The first id handed out.
    pub const FIRST: u16 = 1;
    /// The last id handed out before wrapping.
    pub const LAST: u16 = 9998;

    /// Starts at `0001`.
    pub fn new() -> Self {
        InvokeIds { next: Self::FIRST }
    }

    /// The next id in turn.
    pub fn next_id(&mut self) -> InvokeId {
        let id = InvokeId(self.next);
        self.next = if self.next >= Self::LAST {
            Self::FIRST
        } else {
            self.next + 1
        };
        id
    }

    /// The next id in turn that `in_use` does not claim (a request still
    /// waiting for its reply), or `None` if all 9998 are in use.
    pub fn next_unused(&mut self, mut in_use: impl FnMut(InvokeId) -> bool) -> Option<InvokeId> {
        for _ in Self::FIRST..=Self::LAST {
            let id = self.next_id();
            if !in_use(id) {
                return Some(id);
            }
        }
        None
    }
}

impl Default for InvokeIds {
    fn default() -> Self {
        Self::new()
    }
}

/// One DMCC frame: the invoke id of its header and the XML after it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DmccFrame {
    /// The header's invoke id.
    pub invoke_id: InvokeId,
    /// The message (an ECMA-323 XML document).
    pub payload: Vec<u8>,
}

/// The DMCC 8-byte-header framing.
#[derive(Debug, Clone)]
pub struct DmccFramer {
    buf: Buffer,
    max_frame: usize,
}

impl DmccFramer {
    /// The header's length.
    pub const HEADER_LEN: usize = 8;
    /// The only header version.
    pub const VERSION: u16 = 0;
    /// The largest whole frame the length field can describe.
    pub const MAX_FRAME: usize = u16::MAX as usize;

    /// A framer accepting frames up to [`Self::MAX_FRAME`] bytes.
    pub fn new() -> Self {
        Self::with_max_frame(Self::MAX_FRAME)
    }

    /// A framer accepting whole frames (header included) up to `max_frame`
    /// bytes, clamped to `8..=65535`.
    pub fn with_max_frame(max_frame: usize) -> Self {
        let max_frame = max_frame.clamp(Self::HEADER_LEN, Self::MAX_FRAME);
        DmccFramer {
            buf: Buffer::new(max_frame),
            max_frame,
        }
    }
}

impl Default for DmccFramer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer for DmccFramer {
    type Frame = DmccFrame;

    fn push(&mut self, bytes: &[u8]) -> Result<usize, FrameError> {
        self.buf.push(bytes)
    }

    fn pop(&mut self) -> Result<Option<DmccFrame>, FrameError> {
        if let Some(e) = &self.buf.failed {
            return Err(e.clone());
        }
        let [v0, v1, l0, l1, i0, i1, i2, i3, ..] = self.buf.bytes[..] else {
            return Ok(None);
        };
        let version = u16::from_be_bytes([v0, v1]);
        if version != Self::VERSION {
            return self.buf.fail(FrameError::BadVersion(version));
        }
        let length = u16::from_be_bytes([l0, l1]);
        let len = usize::from(length);
        if len < Self::HEADER_LEN {
            return self.buf.fail(FrameError::LengthTooShort(length));
        }
        if len > self.max_frame {
            return self.buf.fail(FrameError::TooLarge {
                len,
                max: self.max_frame,
            });
        }
        let digits = [i0, i1, i2, i3];
        let Some(invoke_id) = InvokeId::from_ascii(digits) else {
            return self.buf.fail(FrameError::BadInvokeId(digits));
        };
        if self.buf.bytes.len() < len {
            return Ok(None);
        }
        let payload = self.buf.take(Self::HEADER_LEN, len);
        Ok(Some(DmccFrame { invoke_id, payload }))
    }

    fn encode(&self, frame: &DmccFrame, out: &mut Vec<u8>) -> Result<(), PayloadTooLarge> {
        let max = self.max_frame - Self::HEADER_LEN;
        let total = Self::HEADER_LEN + frame.payload.len();
        let length = u16::try_from(total)
            .ok()
            .filter(|_| total <= self.max_frame)
            .ok_or(PayloadTooLarge {
                len: frame.payload.len(),
                max,
            })?;
        out.extend_from_slice(&Self::VERSION.to_be_bytes());
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&frame.invoke_id.to_ascii());
        out.extend_from_slice(&frame.payload);
        Ok(())
    }

    fn buffered(&self) -> usize {
        self.buf.bytes.len()
    }
}
