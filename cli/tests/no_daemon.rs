//! `pickupctl` without a daemon: usage errors and an unreachable bus.

use std::process::Command;

fn pickupctl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pickupctl"))
        .args(args)
        .output()
        .expect("run pickupctl")
}

#[test]
fn usage_error_exits_2() {
    assert_eq!(pickupctl(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(pickupctl(&["pickup"]).status.code(), Some(2));
    assert_eq!(pickupctl(&["call", "x7"]).status.code(), Some(2));
}

#[test]
fn no_bus_means_daemon_not_running() {
    let o = pickupctl(&["--address", "unix:path=/nonexistent/bus", "status"]);
    assert_eq!(
        o.status.code(),
        Some(8),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.stderr.is_empty());
}
