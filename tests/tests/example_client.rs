//! The example desktop client (`examples/desktop-client`, `pickup-desktop`)
//! end to end: the real binary against the real `pickupd --sim` on a private
//! bus. Calls are made to ring with the Simulator; what the program claims
//! is checked on the bus.

use pickupd_api::proxy::LineProxy;
use pickupd_api::tapi::{call_reason, call_state};
use pickupd_tests::{bin_dir, wait_for, Daemon};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use zbus::zvariant::OwnedObjectPath;

const T: Duration = Duration::from_secs(10);

/// The example's binary, built now.
///
/// `cargo test --workspace` compiles a package without integration tests of
/// its own only as a unit-test harness, never as the real binary, and
/// `cargo test -p pickupd-tests` builds no other package at all; so build it
/// here. Cargo does nothing when it is up to date, and a stale copy is never
/// run.
fn pickup_desktop() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = bin_dir();
        let path = dir.join("pickup-desktop");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "pickupd-example-desktop"])
            .args(["--bin", "pickup-desktop", "--manifest-path"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"));
        // The same target directory and profile as this test binary.
        if let Some(target_dir) = dir.parent() {
            cmd.arg("--target-dir").arg(target_dir);
        }
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        match cmd.status() {
            Ok(status) => assert!(status.success(), "cargo build of pickup-desktop failed"),
            Err(e) if path.exists() => {
                eprintln!("cannot run cargo ({e}); using {}", path.display())
            }
            Err(e) => panic!("cannot run cargo to build pickup-desktop: {e}"),
        }
        assert!(path.exists(), "{} is missing", path.display());
        path
    })
    .clone()
}

/// Run `pickup-desktop --address <bus> ARGS`; (exit status, stdout, stderr).
async fn run(d: &Daemon, args: &[&str]) -> (i32, String, String) {
    let child = tokio::process::Command::new(pickup_desktop())
        .args(["--address", &d.bus.address])
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(T, child)
        .await
        .unwrap_or_else(|_| panic!("pickup-desktop {args:?} did not finish within {T:?}"))
        .expect("run pickup-desktop");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Make a call ring at `number` and wait until it is OFFERING.
async fn ring(d: &Daemon, number: &str, caller: &str, name: &str) -> OwnedObjectPath {
    let call = d
        .sim()
        .await
        .incoming_call(number, caller, name)
        .await
        .unwrap_or_else(|e| panic!("IncomingCall({number}): {e}"));
    wait_for(&format!("{call} to ring"), T, || async {
        (d.call(&call).await.state().await.ok() == Some(call_state::OFFERING)).then_some(())
    })
    .await;
    call
}

/// The line (station port or trunk) that owns `number`.
async fn line_of(d: &Daemon, number: &str) -> OwnedObjectPath {
    d.address(number).await.line().await.expect("Line")
}

/// The person at `station` lifts the handset (dial tone).
async fn off_hook(d: &Daemon, station: &str) {
    d.sim().await.off_hook(station).await.expect("OffHook");
    let line = LineProxy::builder(&d.conn)
        .path(line_of(d, station).await)
        .expect("path")
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("line proxy");
    wait_for(&format!("{station} off hook"), T, || async {
        (line.hook().await.ok()? == "off").then_some(())
    })
    .await;
}

/// The `call:` line of `pickup`'s output.
fn picked_path(stdout: &str) -> OwnedObjectPath {
    let path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("call:"))
        .unwrap_or_else(|| panic!("no `call:` line in {stdout:?}"))
        .trim();
    OwnedObjectPath::try_from(path.to_owned()).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

async fn live_calls(d: &Daemon) -> Vec<OwnedObjectPath> {
    d.manager().await.calls().await.expect("Manager.Calls")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_ringing_calls_with_their_callers() {
    let d = Daemon::start_sim().await;
    let (code, out, err) = run(&d, &["list"]).await;
    assert_eq!(code, 0, "list: {err}");
    assert_eq!(out.trim(), "no calls are ringing");

    ring(&d, "202", "5551234", "ALICE").await;
    ring(&d, "5550100", "5559876", "BOB").await;
    let (code, out, err) = run(&d, &["list"]).await;
    assert_eq!(code, 0, "list: {err}");
    let row = |number: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(number))
            .unwrap_or_else(|| panic!("no row for {number} in\n{out}"))
            .to_owned()
    };
    let r202 = row("202");
    assert!(
        r202.contains("5551234 ALICE") && r202.contains("desk-202"),
        "{r202}"
    );
    let trunk = row("5550100");
    assert!(
        trunk.contains("5559876 BOB") && trunk.contains("trunk1"),
        "{trunk}"
    );
    assert!(
        out.lines().next().unwrap_or("").contains("CALLER"),
        "a header: {out}"
    );

    // Answered at the phone: no longer ringing, no longer listed.
    off_hook(&d, "202").await;
    wait_for("202 to stop ringing in list", T, || async {
        let (code, out, _) = run(&d, &["list"]).await;
        (code == 0 && !out.contains("ALICE") && out.contains("BOB")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickup_connects_the_call_at_the_picker() {
    let d = Daemon::start_sim().await;
    let ringing = ring(&d, "202", "5551234", "ALICE").await;
    // The person at 201 has lifted the handset: the call is theirs at once.
    off_hook(&d, "201").await;
    let (code, out, err) = run(&d, &["pickup", "202", "--at", "201"]).await;
    assert_eq!(
        code, 0,
        "pickup 202 --at 201: stdout {out:?} stderr {err:?}"
    );
    assert!(out.contains("5551234 ALICE"), "{out}");
    let picked = picked_path(&out);
    assert_ne!(picked, ringing, "Pickup returns a new call object");

    // What the bus says, not what the program printed.
    let call = d.call(&picked).await;
    wait_for("the picked call to be CONNECTED", T, || async {
        (call.state().await.ok()? == call_state::CONNECTED).then_some(())
    })
    .await;
    assert!(out.contains("state: CONNECTED"), "{out}");
    assert_eq!(
        call.station().await.expect("Station"),
        line_of(&d, "201").await
    );
    assert_eq!(
        call.address().await.expect("Address"),
        d.manager().await.find_address("201").await.expect("201")
    );
    assert_eq!(call.reason().await.expect("Reason"), call_reason::PICKUP);
    assert_eq!(call.caller_number().await.expect("CallerNumber"), "5551234");
    wait_for("the ringing call to go away", T, || async {
        (!live_calls(&d).await.contains(&ringing)).then_some(())
    })
    .await;

    // No number: the oldest call ringing in the picker's pickup groups.
    // 205 (support) is on hook, so its own phone rings with the call.
    ring(&d, "204", "5550001", "CAROL").await;
    let (code, out, err) = run(&d, &["pickup", "--at", "205"]).await;
    assert_eq!(code, 0, "pickup --at 205: stdout {out:?} stderr {err:?}");
    let picked = picked_path(&out);
    let call = d.call(&picked).await;
    assert_eq!(call.state().await.expect("State"), call_state::OFFERING);
    assert!(out.contains("state: OFFERING"), "{out}");
    assert_eq!(
        call.station().await.expect("Station"),
        line_of(&d, "205").await
    );
    assert_eq!(call.caller_name().await.expect("CallerName"), "CAROL");
    off_hook(&d, "205").await;
    wait_for("205 to answer the picked call", T, || async {
        (call.state().await.ok()? == call_state::CONNECTED).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickup_of_what_is_not_ringing_fails_with_the_api_error() {
    let d = Daemon::start_sim().await;
    ring(&d, "202", "5551234", "ALICE").await;
    let before = live_calls(&d).await;

    let (code, out, err) = run(&d, &["pickup", "204", "--at", "201"]).await;
    assert_ne!(code, 0, "nothing rings at 204: stdout {out:?}");
    assert!(
        err.contains("NothingToPickUp") && err.contains("204"),
        "{err}"
    );
    assert!(!out.contains("call:"), "{out}");

    let (code, _, err) = run(&d, &["pickup", "202", "--at", "999"]).await;
    assert_ne!(code, 0, "999 is not in the site");
    assert!(
        err.contains("InvalidAddress") && err.contains("999"),
        "{err}"
    );

    assert_eq!(
        live_calls(&d).await,
        before,
        "failed pickups change nothing"
    );
}

/// `pickup-desktop watch`, its stdout collected line by line.
struct Watch {
    child: std::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    fn start(d: &Daemon) -> Watch {
        let mut child = std::process::Command::new(pickup_desktop())
            .args(["--address", &d.bus.address, "watch"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start pickup-desktop watch");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().expect("lock").push(line);
            }
        });
        Watch { child, lines }
    }

    /// Wait until a line contains `text`; returns it.
    async fn line(&self, text: &str, timeout: Duration) -> String {
        let what = format!("watch to print {text:?} (so far: {:?})", self.lines());
        wait_for(&what, timeout, || async {
            self.lines().into_iter().find(|l| l.contains(text))
        })
        .await
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lock").clone()
    }

    /// Ctrl-C; returns the exit status.
    fn interrupt(mut self) -> Option<i32> {
        let sent = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + T;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("watch did not exit within {T:?} of Ctrl-C");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_calls_as_they_ring_and_stop() {
    let d = Daemon::start_sim().await;
    // Already ringing when the program starts: reported first.
    ring(&d, "204", "5550001", "CAROL").await;
    let w = Watch::start(&d);
    w.line("204 is ringing", T).await;
    w.line("watching for ringing calls", T).await;

    let started = Instant::now();
    ring(&d, "202", "5551234", "ALICE").await;
    let line = w.line("202 is ringing", Duration::from_secs(5)).await;
    assert!(
        line.contains("5551234 ALICE") && line.contains("pickup-desktop pickup 202"),
        "{line}"
    );
    eprintln!("announced {:?} after the call rang", started.elapsed());

    // Picked up elsewhere: the program says it stopped ringing.
    d.address("203")
        .await
        .pickup("202", "")
        .await
        .expect("Pickup(202) at 203");
    w.line("202 stopped ringing (picked up)", Duration::from_secs(5))
        .await;
    // 203 was on hook: the picked call now rings there, a new ringing call.
    w.line("203 is ringing", Duration::from_secs(5)).await;
    assert!(
        !w.lines().iter().any(|l| l.starts_with("204 stopped")),
        "204 still rings: {:?}",
        w.lines()
    );
    assert_eq!(w.interrupt(), Some(0), "Ctrl-C ends watch with status 0");
}
