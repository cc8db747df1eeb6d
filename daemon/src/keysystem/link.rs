//! The byte transport of a CSTA link: a TCP connection or a serial port,
//! a reader thread that hands received bytes to the link thread, and the
//! framings of hardware.md §5.5 on top.
//!
//! Why a reader thread rather than one poll loop: std's `TcpStream` and the
//! serial port (serialport via tokio-serial, which opens ptys and real ttys
//! alike with `TIOCEXCL`, `flock` and raw termios, §4) both block; a
//! reader per connection keeps the link thread free to time requests and
//! keep the session alive, with every input arriving on one channel. The
//! reader is stopped by shutting the socket down (TCP) or by a flag it
//! checks every [`SERIAL_TICK`] (serial), and joined before the next
//! connection, so a serial port is closed (and its lock released) before it
//! is opened again.

use super::client::Input;
use super::spec::{Framing, LinkSpec};
use pickupd_hw::csta::{
    DmccFrame, DmccFramer, FrameError, Framer, InvokeId, LengthPrefixFramer, PayloadTooLarge,
};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often a serial reader looks at its stop flag (its read timeout).
pub const SERIAL_TICK: Duration = Duration::from_millis(50);

/// The receive side of a framing: frames with their DMCC invoke id (none in
/// the length-prefix framing).
pub(crate) enum RxFramer {
    LengthPrefix(LengthPrefixFramer),
    Dmcc(DmccFramer),
}

/// A received frame: its invoke id (DMCC) and payload.
pub(crate) type RxFrame = (Option<InvokeId>, Vec<u8>);

impl RxFramer {
    pub(crate) fn new(framing: Framing) -> Self {
        match framing {
            Framing::LengthPrefix => RxFramer::LengthPrefix(LengthPrefixFramer::new()),
            Framing::Dmcc => RxFramer::Dmcc(DmccFramer::new()),
        }
    }

    /// The frames completed by `bytes`.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<Vec<RxFrame>, FrameError> {
        let mut frames = Vec::new();
        match self {
            RxFramer::LengthPrefix(f) => f.feed(bytes, |p| frames.push((None, p)))?,
            RxFramer::Dmcc(f) => f.feed(bytes, |d| frames.push((Some(d.invoke_id), d.payload)))?,
        }
        Ok(frames)
    }
}

/// The wire form of one payload (`invoke_id` is used by DMCC only).
pub(crate) fn frame(
    framing: Framing,
    invoke_id: InvokeId,
    payload: Vec<u8>,
) -> Result<Vec<u8>, PayloadTooLarge> {
    let mut out = Vec::new();
    match framing {
        Framing::LengthPrefix => LengthPrefixFramer::new().encode(&payload, &mut out)?,
        Framing::Dmcc => DmccFramer::new().encode(&DmccFrame { invoke_id, payload }, &mut out)?,
    }
    Ok(out)
}

/// An open connection: the write side, owned by the link thread, and the
/// reader thread.
pub(crate) struct Transport {
    writer: Box<dyn Write + Send>,
    write_timeout: Duration,
    /// A handle to shut a TCP connection down (which wakes the reader).
    tcp: Option<TcpStream>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl Transport {
    /// Connects as `spec` says. Received bytes and the end of the stream
    /// arrive on `inputs`, tagged with `generation`.
    pub(crate) fn open(
        spec: &LinkSpec,
        connect_timeout: Duration,
        write_timeout: Duration,
        generation: u64,
        inputs: Sender<Input>,
    ) -> Result<Transport, String> {
        match spec {
            LinkSpec::Tcp { host, port, .. } => {
                let stream = connect_tcp(host, *port, connect_timeout)?;
                let setup = |s: &TcpStream| -> io::Result<(TcpStream, TcpStream)> {
                    // Requests are small and must not wait for Nagle.
                    s.set_nodelay(true)?;
                    s.set_write_timeout(Some(write_timeout))?;
                    Ok((s.try_clone()?, s.try_clone()?))
                };
                let (reader, closer) =
                    setup(&stream).map_err(|e| format!("cannot set the connection up: {e}"))?;
                let stop = Arc::new(AtomicBool::new(false));
                let handle = spawn_reader(Box::new(reader), generation, inputs, &stop, false)?;
                Ok(Transport {
                    writer: Box::new(stream),
                    write_timeout,
                    tcp: Some(closer),
                    stop,
                    reader: Some(handle),
                })
            }
            LinkSpec::Serial { path, baud, .. } => {
                let name = path.to_string_lossy().into_owned();
                let port = tokio_serial::new(name.as_str(), *baud)
                    .timeout(SERIAL_TICK)
                    .open()
                    .map_err(|e| format!("cannot open the serial port {name}: {e}"))?;
                let reader = port
                    .try_clone()
                    .map_err(|e| format!("cannot use the serial port {name}: {e}"))?;
                let stop = Arc::new(AtomicBool::new(false));
                let handle = spawn_reader(Box::new(reader), generation, inputs, &stop, true)?;
                Ok(Transport {
                    writer: Box::new(port),
                    write_timeout,
                    tcp: None,
                    stop,
                    reader: Some(handle),
                })
            }
        }
    }

    /// Writes all of `bytes`, or says why not (a peer that takes nothing
    /// for the write timeout counts as gone).
    pub(crate) fn write_all(&mut self, mut bytes: &[u8]) -> Result<(), String> {
        let deadline = Instant::now() + self.write_timeout;
        while !bytes.is_empty() {
            match self.writer.write(bytes) {
                Ok(0) => return Err("the link takes no more data".into()),
                Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if Instant::now() >= deadline {
                        return Err(format!(
                            "the key system took no data for {:?}",
                            self.write_timeout
                        ));
                    }
                }
                Err(e) => return Err(format!("write failed: {e}")),
            }
        }
        let _ = self.writer.flush();
        Ok(())
    }

    /// Closes the connection and waits for the reader to end.
    pub(crate) fn close(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(tcp) = self.tcp.take() {
            let _ = tcp.shutdown(Shutdown::Both);
        }
        if let Some(reader) = self.reader.take() {
            // The reader never panics (no unwrap in it); a join error would
            // only repeat that it is gone.
            let _ = reader.join();
        }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.close();
    }
}

fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = format!("{host} has no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

fn spawn_reader(
    reader: Box<dyn Read + Send>,
    generation: u64,
    inputs: Sender<Input>,
    stop: &Arc<AtomicBool>,
    serial: bool,
) -> Result<JoinHandle<()>, String> {
    let stop = Arc::clone(stop);
    thread::Builder::new()
        .name("csta-read".into())
        .spawn(move || read_loop(reader, generation, &inputs, &stop, serial))
        .map_err(|e| format!("cannot start the reader thread: {e}"))
}

/// Reads until the end of the stream, an error or the stop flag.
fn read_loop(
    mut reader: Box<dyn Read + Send>,
    generation: u64,
    inputs: &Sender<Input>,
    stop: &AtomicBool,
    serial: bool,
) {
    let mut buf = vec![0u8; 8192];
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let why = match reader.read(&mut buf) {
            Ok(0) if serial => "end of file on the serial port (it was hung up)".to_owned(),
            Ok(0) => "the key system closed the connection".to_owned(),
            Ok(n) => {
                let bytes = buf.get(..n).unwrap_or_default().to_vec();
                if inputs.send(Input::Received { generation, bytes }).is_err() {
                    return;
                }
                continue;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::WouldBlock
                ) =>
            {
                continue
            }
            // POLLHUP (reported as a broken pipe) or EIO: the other end
            // of the line is gone (a pty whose master closed, a USB
            // adapter pulled out).
            Err(e)
                if serial
                    && (e.kind() == io::ErrorKind::BrokenPipe
                        || e.raw_os_error() == Some(nix::errno::Errno::EIO as i32)) =>
            {
                format!("the serial port was hung up ({e})")
            }
            Err(e) => format!("read failed: {e}"),
        };
        if !stop.load(Ordering::SeqCst) {
            let _ = inputs.send(Input::ReadFailed { generation, why });
        }
        return;
    }
}
