//! The daemon on emulated DAHDI hardware, watched by strace: every DAHDI
//! request it issues (ioctl type 0xDA) is one of the channel ioctls of
//! hardware.md §1.14, and the ones the open sequence, hook control and
//! event handling need are really issued. Needs strace, /dev/fuse and root.

use pickupd_api::proxy::SimulatorProxy;
use pickupd_api::BUS_NAME;
use pickupd_tests::{binary, wait_for, PrivateBus, TempDir};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The channel ioctls pickupd needs (hardware.md §1.14, first table), as
/// the spec gives them: name and request number.
const CHANNEL_IOCTLS: &[(&str, u32)] = &[
    ("GET_BLOCKSIZE", 0x8004DA01),
    ("SET_BLOCKSIZE", 0x4004DA01),
    ("FLUSH", 0x4004DA03),
    ("SYNC", 0x0000DA04),
    ("GET_PARAMS", 0xC088DA05),
    ("SET_PARAMS", 0x4088DA05),
    ("HOOK", 0x4004DA07),
    ("GETEVENT", 0x8004DA08),
    ("IOMUX", 0xC004DA09),
    ("SPANSTAT", 0xC13ADA0A),
    ("GETCONF", 0xC00CDA0C),
    ("SETCONF", 0xC00CDA0D),
    ("GETGAINS", 0xC204DA10),
    ("SETGAINS", 0x4204DA10),
    ("CONFMUTE", 0x4004DA14),
    ("SENDTONE", 0x4004DA15),
    ("GETTONEZONE", 0x8004DA16),
    ("SETTONEZONE", 0x4004DA16),
    ("GET_BUFINFO", 0x8018DA1B),
    ("SET_BUFINFO", 0x4018DA1B),
    ("DIAL", 0x4104DA1F),
    ("AUDIOMODE", 0x4004DA20),
    ("ECHOCANCEL", 0x4004DA21),
    ("ECHOCANCEL_PARAMS", 0x4008DA21),
    ("CHANNO", 0x8004DA22),
    ("DIALING", 0x8004DA23),
    ("SPECIFY", 0x4004DA26),
    ("SETLAW", 0x4004DA27),
    ("SETLINEAR", 0x4004DA28),
    ("SETCADENCE", 0x4040DA2A),
    ("GETCONFMUTE", 0x8004DA31),
    ("ECHOTRAIN", 0x4004DA32),
    ("ONHOOKTRANSFER", 0x4004DA33),
    ("TONEDETECT", 0x4004DA5B),
    ("SETPOLARITY", 0x4004DA5C),
    ("VMWI", 0xC004DA5E),
    ("VMWI_CONFIG", 0x4004DA5F),
    ("BUFFER_EVENTS", 0x4004DA69),
];

/// What the daemon must issue on the way through the scenario below.
const MUST_ISSUE: &[&str] = &[
    "SPECIFY",
    "GET_PARAMS",
    "SET_PARAMS",
    "SET_BUFINFO",
    "SETLINEAR",
    "HOOK",
    "GETEVENT",
];

/// The request number of each `ioctl(` line of strace's raw output.
fn ioctl_requests(trace: &str) -> Vec<u32> {
    trace
        .lines()
        .filter_map(|l| {
            let args = l.split_once("ioctl(")?.1;
            let req = args.split(',').nth(1)?.trim();
            u32::from_str_radix(req.strip_prefix("0x")?, 16).ok()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_issues_only_the_dahdi_requests_of_the_spec() {
    assert!(
        Command::new("strace").arg("-V").output().is_ok(),
        "strace is missing: apt-get install strace (.ci/run does)"
    );
    let bus = PrivateBus::start().expect("private bus");
    let dir = TempDir::new("pickupd-strace").expect("temp dir");
    let trace_path = dir.path().join("trace");
    let mut strace = Command::new("strace")
        .args(["-f", "-qq", "-X", "raw", "-e", "trace=ioctl", "-o"])
        .arg(&trace_path)
        .arg(binary("pickupd"))
        .args(["--sim", "--emulated-hardware", "--log-level", "warn"])
        .args(["--address", &bus.address])
        .stdin(Stdio::null())
        .spawn()
        .expect("start strace");
    let conn = bus.connect().await.expect("connect");
    let dbus = zbus::fdo::DBusProxy::new(&conn).await.expect("bus proxy");
    wait_for(
        "pickupd under strace to own its name",
        Duration::from_secs(30),
        || {
            let dbus = dbus.clone();
            async move {
                dbus.name_has_owner(BUS_NAME.try_into().ok()?)
                    .await
                    .ok()
                    .filter(|owned| *owned)
            }
        },
    )
    .await;

    // A call rung on a trunk and answered at a desk (trunk HOOK off), a
    // flash at the desk, the far end hanging up (trunk HOOK on), and a
    // desk unplugged and plugged (the channel is reopened).
    let sim = SimulatorProxy::new(&conn).await.expect("simulator");
    sim.incoming_call("5550100", "5551234", "ALICE")
        .await
        .expect("IncomingCall");
    sim.off_hook("201").await.expect("OffHook");
    tokio::time::sleep(Duration::from_millis(800)).await;
    sim.flash("201").await.expect("Flash");
    tokio::time::sleep(Duration::from_millis(800)).await;
    sim.remote_hangup("201").await.expect("RemoteHangup");
    sim.on_hook("201").await.expect("OnHook");
    sim.unplug("desk-202").await.expect("Unplug");
    tokio::time::sleep(Duration::from_millis(300)).await;
    sim.plug("desk-202").await.expect("Plug");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Stop the traced daemon (not strace, which would only detach).
    let children = std::fs::read_to_string(format!(
        "/proc/{}/task/{}/children",
        strace.id(),
        strace.id()
    ))
    .expect("strace's children");
    let pid: i32 = children
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the traced pickupd");
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success(), "SIGTERM to pickupd {pid}");
    let status = strace.wait().expect("strace ends");
    assert!(
        status.success(),
        "pickupd under strace exited with {status}"
    );

    let trace = std::fs::read_to_string(&trace_path).expect("trace file");
    let allowed: BTreeMap<u32, &str> = CHANNEL_IOCTLS.iter().map(|(n, r)| (*r, *n)).collect();
    let mut issued: BTreeMap<&str, usize> = BTreeMap::new();
    let mut foreign = Vec::new();
    for req in ioctl_requests(&trace) {
        if (req >> 8) & 0xff != 0xda {
            continue; // not DAHDI (terminal, socket and FUSE requests)
        }
        match allowed.get(&req) {
            Some(name) => *issued.entry(name).or_default() += 1,
            None => foreign.push(format!("{req:#010x}")),
        }
    }
    println!("DAHDI requests issued: {issued:?}");
    assert!(
        foreign.is_empty(),
        "DAHDI requests outside §1.14: {foreign:?}"
    );
    for name in MUST_ISSUE {
        assert!(
            issued.contains_key(name),
            "{name} was never issued; issued: {issued:?}"
        );
    }
    // Six channels opened (trunk2 is a modem), and desk-202 once more
    // after the plug.
    assert!(
        issued["SPECIFY"] >= 7,
        "SPECIFY {} times: every channel and the reopen",
        issued["SPECIFY"]
    );
}

#[test]
fn ioctl_lines_are_parsed_from_raw_strace_output() {
    let trace = "123 ioctl(7, 0x4004da26, 0x7ffc1c) = 0\n\
                 124 ioctl(2, 0x5401, 0x7ffd) = -1 ENOTTY (Inappropriate ioctl for device)\n\
                 125 read(3, \"\", 4) = 0\n\
                 126 ioctl(9, 0xc088da05, 0x55e0) = 0\n";
    assert_eq!(ioctl_requests(trace), vec![0x4004DA26, 0x5401, 0xC088DA05]);
}
