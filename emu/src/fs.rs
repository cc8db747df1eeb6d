//! The FUSE adapter: a read-only tree `dahdi/channel`, `dahdi/ctl` of
//! regular files (device nodes inside a FUSE mount would open the real
//! driver, §2.2) whose `open`, `read`, `write`, `ioctl`, `poll` and
//! `release` are passed to [`crate::ioctl`] and the model.
//!
//! What lives here is plumbing only: file handles, the `O_NONBLOCK`
//! decision (park the request or answer `EAGAIN`), parked blocking reads
//! and writes, and poll notifications. No DAHDI rule is decided here; the
//! readiness and every errno come from the model.
//!
//! Threads: fuser's session runs one worker thread that calls into this
//! file system; the clock thread ([`crate::clock`]) and the injection
//! handles call [`Shared::service`]. Lock order is always `files` →
//! model (the model's own lock is taken inside its calls), and no model
//! call ever calls back here, so there is no cycle.

use crate::ioctl::{ctl_ioctl, ChannelFile};
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, IoctlFlags,
    LockOwner, OpenFlags, PollEvents, PollFlags, PollNotifier, ReplyAttr, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyIoctl, ReplyOpen, ReplyPoll, ReplyWrite, Request,
    WriteFlags,
};
use nix::libc;
use pickupd_hw::dahdi::consts::DAHDI_MAX_BLOCKSIZE;
use pickupd_hw::dahdi::{DahdiChannel, Error, FakeDahdi, Readiness};
use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

const ROOT: INodeNo = INodeNo::ROOT;
const DAHDI_DIR: INodeNo = INodeNo(2);
const CHANNEL: INodeNo = INodeNo(3);
const CTL: INodeNo = INodeNo(4);

/// The nodes are fixed, so the kernel may cache them for as long as it
/// likes; one hour keeps `lookup` traffic out of strace output.
const TTL: Duration = Duration::from_secs(3600);

/// A read never returns more than one block, and the largest block is
/// `DAHDI_MAX_BLOCKSIZE` samples of 2 bytes, so a larger request needs no
/// larger buffer.
const MAX_READ: usize = DAHDI_MAX_BLOCKSIZE as usize * 2;

/// What an open file of the tree is.
enum Node {
    /// `dahdi/channel`: the generic opener, bound by `SPECIFY`.
    Channel(ChannelFile),
    /// `dahdi/ctl`.
    Ctl,
}

/// A blocking `read` with no block ready yet: answered later, from the
/// clock thread, when the model has a block or an event (errno 500).
struct ParkedRead {
    size: usize,
    reply: ReplyData,
}

/// A blocking `write` with no free transmit buffer yet.
struct ParkedWrite {
    data: Vec<u8>,
    reply: ReplyWrite,
}

struct OpenFile {
    node: Node,
    /// Where the kernel wants to be woken when readiness rises.
    poll: Option<PollNotifier>,
    /// Readiness as last seen, to notify on rising edges only (what an
    /// edge-triggered epoll needs) rather than on every tick.
    last: PollEvents,
    reads: VecDeque<ParkedRead>,
    writes: VecDeque<ParkedWrite>,
}

#[derive(Default)]
struct Files {
    next: u64,
    open: HashMap<u64, OpenFile>,
}

/// State shared by the FUSE worker, the clock thread and the handles.
pub(crate) struct Shared {
    pub(crate) model: FakeDahdi,
    files: Mutex<Files>,
}

fn errno(e: Error) -> Errno {
    // Raw errno values pass unchanged, 500 (ELAST) included: the kernel
    // only rejects values of 512 and above (§2.2).
    Errno::from_i32(e.raw_os_error())
}

fn is_nonblocking(flags: OpenFlags) -> bool {
    flags.0 & libc::O_NONBLOCK != 0
}

/// `dahdi_chan_poll` bits for a readiness sample (§1.8).
fn poll_events(r: Readiness) -> PollEvents {
    let mut ev = PollEvents::empty();
    if r.readable {
        ev |= PollEvents::POLLIN | PollEvents::POLLRDNORM;
    }
    if r.writable {
        ev |= PollEvents::POLLOUT | PollEvents::POLLWRNORM;
    }
    if r.priority {
        ev |= PollEvents::POLLPRI;
    }
    if r.hangup {
        ev |= PollEvents::POLLERR
            | PollEvents::POLLHUP
            | PollEvents::POLLNVAL
            | PollEvents::POLLPRI
            | PollEvents::from_bits_retain(libc::POLLRDHUP as u32);
    }
    ev
}

/// What `dahdi_poll` answers for the ctl node and for a generic opener
/// before `SPECIFY`: it returns `-EINVAL` as the event mask. Mirrored bit
/// for bit so a client sees what the kernel would show it.
fn unbound_poll_events() -> PollEvents {
    PollEvents::from_bits_retain((-libc::EINVAL) as u32)
}

impl OpenFile {
    fn new(node: Node) -> Self {
        Self {
            node,
            poll: None,
            last: PollEvents::empty(),
            reads: VecDeque::new(),
            writes: VecDeque::new(),
        }
    }

    /// The bound channel of a generic opener; `None` for ctl and before
    /// `SPECIFY`.
    fn channel(&mut self) -> Option<&mut pickupd_hw::dahdi::FakeChannel> {
        match &mut self.node {
            Node::Channel(file) => file.channel(),
            Node::Ctl => None,
        }
    }

    fn readiness(&mut self) -> PollEvents {
        match &mut self.node {
            Node::Channel(file) => match file.channel() {
                Some(chan) => chan.readiness().map_or(PollEvents::POLLERR, poll_events),
                None => unbound_poll_events(),
            },
            Node::Ctl => unbound_poll_events(),
        }
    }

    /// Answers parked reads and writes the model can now serve, then
    /// wakes the poller if readiness gained a bit.
    fn service(&mut self) {
        if let Node::Channel(file) = &mut self.node {
            if let Some(chan) = file.channel() {
                while let Some(parked) = self.reads.front() {
                    let mut buf = vec![0; parked.size.min(MAX_READ)];
                    match chan.read_frame(&mut buf) {
                        Err(e) if e.is_would_block() => break,
                        res => {
                            if let Some(parked) = self.reads.pop_front() {
                                match res {
                                    Ok(n) => parked.reply.data(&buf[..n]),
                                    Err(e) => parked.reply.error(errno(e)),
                                }
                            }
                        }
                    }
                }
                while let Some(parked) = self.writes.front() {
                    match chan.write_frame(&parked.data) {
                        Err(e) if e.is_would_block() => break,
                        res => {
                            if let Some(parked) = self.writes.pop_front() {
                                match res {
                                    Ok(n) => parked.reply.written(n as u32),
                                    Err(e) => parked.reply.error(errno(e)),
                                }
                            }
                        }
                    }
                }
            }
        }
        self.refresh();
    }

    /// Samples readiness; a rising edge wakes the kernel's poll waiters
    /// (which then ask again with FUSE_POLL), as the kernel's own wake-up
    /// of the channel's wait queue would.
    fn refresh(&mut self) {
        let now = self.readiness();
        let gained = now & !self.last;
        self.last = now;
        let interesting = PollEvents::POLLIN | PollEvents::POLLPRI | PollEvents::POLLOUT;
        if gained.intersects(interesting | PollEvents::POLLERR | PollEvents::POLLHUP) {
            if let Some(ph) = &self.poll {
                if ph.clone().notify().is_err() {
                    // The kernel forgot this file's poll handle (it was
                    // closed meanwhile); the next FUSE_POLL brings a new one.
                    self.poll = None;
                }
            }
        }
    }

    /// Ends every parked request, e.g. when the tree goes away.
    fn abort_parked(&mut self, err: Errno) {
        for parked in self.reads.drain(..) {
            parked.reply.error(err);
        }
        for parked in self.writes.drain(..) {
            parked.reply.error(err);
        }
    }
}

impl Shared {
    pub(crate) fn new(model: FakeDahdi) -> Self {
        Self {
            model,
            files: Mutex::new(Files::default()),
        }
    }

    fn files(&self) -> MutexGuard<'_, Files> {
        // Every critical section leaves the map consistent (inserts,
        // removes, reply sends), so a panic elsewhere does not poison it
        // for the remaining clients.
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves parked requests and poll wake-ups of every open file; called
    /// after each clock tick and after each injection.
    pub(crate) fn service(&self) {
        for file in self.files().open.values_mut() {
            file.service();
        }
    }

    /// Fails every parked request with `ENODEV`, as a removed device would.
    pub(crate) fn abort_all(&self) {
        for file in self.files().open.values_mut() {
            file.abort_parked(Errno::ENODEV);
        }
    }
}

/// The [`Filesystem`] fuser drives.
pub(crate) struct DahdiFs {
    shared: std::sync::Arc<Shared>,
    uid: u32,
    gid: u32,
    mounted_at: SystemTime,
}

impl DahdiFs {
    pub(crate) fn new(shared: std::sync::Arc<Shared>) -> Self {
        Self {
            shared,
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            mounted_at: SystemTime::now(),
        }
    }

    fn attr(&self, ino: INodeNo) -> Option<FileAttr> {
        let (kind, perm, nlink) = match ino {
            ROOT | DAHDI_DIR => (FileType::Directory, 0o755, 2),
            CHANNEL | CTL => (FileType::RegularFile, 0o660, 1),
            _ => return None,
        };
        Some(FileAttr {
            ino,
            size: 0,
            blocks: 0,
            atime: self.mounted_at,
            mtime: self.mounted_at,
            ctime: self.mounted_at,
            crtime: self.mounted_at,
            kind,
            perm,
            nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }

    fn child(parent: INodeNo, name: &OsStr) -> Option<INodeNo> {
        match (parent, name.to_str()?) {
            (ROOT, "dahdi") => Some(DAHDI_DIR),
            (DAHDI_DIR, "channel") => Some(CHANNEL),
            (DAHDI_DIR, "ctl") => Some(CTL),
            _ => None,
        }
    }
}

impl Filesystem for DahdiFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match Self::child(parent, name).and_then(|ino| self.attr(ino)) {
            Some(attr) => reply.entry(&TTL, &attr, Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.attr(ino) {
            Some(attr) => reply.attr(&TTL, &attr),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        // Only the mounting user (or root) reaches the tree at all (the
        // session's ACL); within it everything is accessible.
        match self.attr(ino) {
            Some(_) => reply.ok(),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries: &[(INodeNo, FileType, &str)] = match ino {
            ROOT => &[
                (ROOT, FileType::Directory, "."),
                (ROOT, FileType::Directory, ".."),
                (DAHDI_DIR, FileType::Directory, "dahdi"),
            ],
            DAHDI_DIR => &[
                (DAHDI_DIR, FileType::Directory, "."),
                (ROOT, FileType::Directory, ".."),
                (CHANNEL, FileType::RegularFile, "channel"),
                (CTL, FileType::RegularFile, "ctl"),
            ],
            CHANNEL | CTL => return reply.error(Errno::ENOTDIR),
            _ => return reply.error(Errno::ENOENT),
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, (child, kind, name)) in entries.iter().enumerate().skip(start) {
            if reply.add(*child, i as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let node = match ino {
            CHANNEL => Node::Channel(ChannelFile::new()),
            CTL => Node::Ctl,
            ROOT | DAHDI_DIR => return reply.error(Errno::EISDIR),
            _ => return reply.error(Errno::ENOENT),
        };
        let mut files = self.shared.files();
        files.next += 1;
        let fh = files.next;
        files.open.insert(fh, OpenFile::new(node));
        // Direct I/O so every read and write reaches the model with the
        // client's count (no page cache, short reads intact); non-seekable
        // like a character device.
        reply.opened(
            FileHandle(fh),
            FopenFlags::FOPEN_DIRECT_IO | FopenFlags::FOPEN_NONSEEKABLE,
        );
    }

    /// `close(2)` of a descriptor: a character device keeps nothing
    /// buffered to write back, so there is nothing to do (the channel
    /// closes on `release`, once the last descriptor is gone).
    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        // Dropping the file drops its FakeChannel: the model closes the
        // channel (hang-up, §1.4) and the channel can be opened again.
        let removed = self.shared.files().open.remove(&fh.0);
        if let Some(mut file) = removed {
            file.abort_parked(Errno::EBADF);
        }
        reply.ok();
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _offset: u64,
        size: u32,
        flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let mut files = self.shared.files();
        let Some(file) = files.open.get_mut(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if file.channel().is_none() {
            // dahdi_no_read: the ctl node, and the generic opener before
            // SPECIFY, have no data.
            return reply.error(Errno::ENOSYS);
        }
        if !file.reads.is_empty() && !is_nonblocking(flags) {
            // Keep blocking readers in order behind the one already waiting.
            file.reads.push_back(ParkedRead { size, reply });
            return;
        }
        let mut buf = vec![0; size.min(MAX_READ)];
        let Some(result) = file.channel().map(|chan| chan.read_frame(&mut buf)) else {
            return reply.error(Errno::ENOSYS);
        };
        match result {
            Ok(n) => reply.data(&buf[..n]),
            Err(e) if e.is_would_block() && !is_nonblocking(flags) => {
                file.reads.push_back(ParkedRead { size, reply });
            }
            Err(e) => reply.error(errno(e)),
        }
        file.refresh();
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut files = self.shared.files();
        let Some(file) = files.open.get_mut(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        if file.channel().is_none() {
            // dahdi_no_write, as for read.
            return reply.error(Errno::ENOSYS);
        }
        let parked = |reply| ParkedWrite {
            data: data.to_vec(),
            reply,
        };
        if !file.writes.is_empty() && !is_nonblocking(flags) {
            file.writes.push_back(parked(reply));
            return;
        }
        let Some(result) = file.channel().map(|chan| chan.write_frame(data)) else {
            return reply.error(Errno::ENOSYS);
        };
        match result {
            // At most one block (≤ 16384 bytes) is taken per call.
            Ok(n) => reply.written(n as u32),
            Err(e) if e.is_would_block() && !is_nonblocking(flags) => {
                file.writes.push_back(parked(reply));
            }
            Err(e) => reply.error(errno(e)),
        }
        file.refresh();
    }

    fn ioctl(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: IoctlFlags,
        cmd: u32,
        in_data: &[u8],
        out_size: u32,
        reply: ReplyIoctl,
    ) {
        let mut files = self.shared.files();
        let Some(file) = files.open.get_mut(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        let result = match &mut file.node {
            Node::Channel(channel_file) => {
                channel_file.ioctl(&self.shared.model, cmd, in_data, out_size)
            }
            Node::Ctl => ctl_ioctl(&self.shared.model, cmd, in_data, out_size),
        };
        match result {
            Ok(data) => reply.ioctl(0, &data),
            Err(e) => reply.error(errno(e)),
        }
        // An ioctl can queue an event (e.g. RINGERON) or drain the queue;
        // either way the poll state may have moved.
        file.refresh();
    }

    fn poll(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        ph: PollNotifier,
        _events: PollEvents,
        flags: PollFlags,
        reply: ReplyPoll,
    ) {
        let mut files = self.shared.files();
        let Some(file) = files.open.get_mut(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        if flags.contains(PollFlags::FUSE_POLL_SCHEDULE_NOTIFY) {
            file.poll = Some(ph);
        }
        // The kernel masks the answer with the events the caller wants.
        let now = file.readiness();
        file.last = now;
        reply.poll(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_maps_to_the_dahdi_poll_bits() {
        let r = Readiness {
            readable: true,
            priority: true,
            ..Readiness::default()
        };
        let ev = poll_events(r);
        assert!(ev.contains(PollEvents::POLLIN | PollEvents::POLLRDNORM | PollEvents::POLLPRI));
        assert!(!ev.contains(PollEvents::POLLOUT));
        let gone = poll_events(Readiness {
            hangup: true,
            ..Readiness::default()
        });
        assert!(gone.contains(PollEvents::POLLHUP | PollEvents::POLLERR | PollEvents::POLLPRI));
    }

    #[test]
    fn unbound_files_poll_like_dahdi_poll() {
        // -EINVAL as a mask: includes POLLERR, so a poller never hangs on
        // a generic opener that was never bound.
        assert!(unbound_poll_events().contains(PollEvents::POLLERR));
    }
}
