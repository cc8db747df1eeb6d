//! polkit authorization, end to end: a system-like dbus-daemon with the
//! project's bus policy, polkitd mocked by python-dbusmock's `polkitd`
//! template on it, `pickupd --sim --authorize polkit`, and `pickupctl` run
//! as an unprivileged user. Mutating methods need the polkit actions,
//! reading stays open, and a refusal never harms the daemon.

use pickupd_tests::{binary, system_like_bus, wait_for, TempDir};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use zbus::Connection;

const CONTROL: &str = pickupd_api::POLKIT_ACTION_CONTROL;
const CONFIGURE: &str = pickupd_api::POLKIT_ACTION_CONFIGURE;
const POLKIT_NAME: &str = "org.freedesktop.PolicyKit1";
const POLKIT_PATH: &str = "/org/freedesktop/PolicyKit1/Authority";

/// On top of the system-like bus: the mock may own polkit's name (as root,
/// like polkitd), everyone may connect and talk to polkit.
const EXTRA_POLICY: &str = r#"<policy user="root">
    <allow own="org.freedesktop.PolicyKit1"/>
  </policy>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="org.freedesktop.PolicyKit1"/>
  </policy>"#;

/// A child process killed and reaped on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).as_deref() == Some("0")
}

/// A Python that has dbusmock (pyenv's `python3` may lack Debian's module).
fn python_with_dbusmock() -> String {
    ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|py| {
            Command::new(py)
                .args(["-c", "import dbusmock"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(str::to_string)
        .expect("python3-dbusmock is missing: apt-get install python3-dbusmock (.ci/run does)")
}

/// uid and gid of an unprivileged user: `pickupd-test`, created if missing,
/// else `nobody`.
fn unprivileged_user() -> (String, String) {
    let exists = |u: &str| output(Command::new("id").args(["-u", u])).is_some();
    if !exists("pickupd-test") {
        let _ = Command::new("useradd")
            .args(["-r", "-M", "-s", "/usr/sbin/nologin", "pickupd-test"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let user = if exists("pickupd-test") {
        "pickupd-test"
    } else {
        "nobody"
    };
    let uid = output(Command::new("id").args(["-u", user])).expect("uid");
    let gid = output(Command::new("id").args(["-g", user])).expect("gid");
    assert_ne!(uid, "0", "{user} must not be root");
    (uid, gid)
}

struct Bed {
    address: String,
    conn: Connection,
    pickupd: Proc,
    ctl: PathBuf,
    polkit_log: PathBuf,
    uid: String,
    gid: String,
    // dropped last: the processes first, then the bus, then the directory
    polkit: Proc,
    _bus: Proc,
    _dir: TempDir,
}

impl Bed {
    /// `pickupctl ARGS` on the bus as the unprivileged user.
    fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new("setpriv")
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--clear-groups")
            .arg("--")
            .arg(&self.ctl)
            .args(["--address", &self.address])
            .args(args)
            .env("HOME", "/")
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .expect("setpriv (util-linux) runs pickupctl");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.ctl(args);
        assert_eq!(code, 0, "pickupctl {args:?} failed: {err}{out}");
        out
    }

    /// The command is refused with NotAuthorized (exit 4) naming `action`.
    fn refused(&mut self, args: &[&str], action: &str) {
        let (code, out, err) = self.ctl(args);
        assert_eq!(code, 4, "pickupctl {args:?} was not refused: {out}{err}");
        assert!(
            err.contains("not authorized") && err.contains(action),
            "pickupctl {args:?}: the refusal does not say what is missing: {err}"
        );
        self.assert_alive();
    }

    fn assert_alive(&mut self) {
        assert!(
            matches!(self.pickupd.0.try_wait(), Ok(None)),
            "pickupd exited"
        );
    }

    /// Tell the polkit mock which actions it grants.
    /// The mock's log of `CheckAuthorization` calls, in order.
    fn checks(&self) -> Vec<String> {
        std::fs::read_to_string(&self.polkit_log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("CheckAuthorization"))
            .map(str::to_string)
            .collect()
    }

    async fn allow(&self, actions: &[&str]) {
        self.conn
            .call_method(
                Some(POLKIT_NAME),
                POLKIT_PATH,
                Some("org.freedesktop.DBus.Mock"),
                "SetAllowed",
                &(actions.to_vec(),),
            )
            .await
            .expect("SetAllowed on the polkit mock");
    }
}

async fn name_owned(conn: &Connection, name: &'static str, what: &str, child: &mut Child) {
    let dbus = zbus::fdo::DBusProxy::new(conn).await.expect("bus proxy");
    wait_for(what, Duration::from_secs(20), || {
        let dbus = dbus.clone();
        let exited = matches!(child.try_wait(), Ok(Some(_)));
        async move {
            assert!(!exited, "{name}'s owner exited early");
            matches!(
                dbus.name_has_owner(name.try_into().expect("name")).await,
                Ok(true)
            )
            .then_some(())
        }
    })
    .await;
}

async fn start() -> Option<Bed> {
    if !is_root() {
        eprintln!("skipping the polkit test: it must run as root to run clients as another user");
        return None;
    }
    let python = python_with_dbusmock();
    let (uid, gid) = unprivileged_user();
    let dir = TempDir::new("pickupd-polkit").expect("temp dir");
    // The socket's directory and pickupctl must be reachable by the user.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod temp dir");
    let ctl = dir.path().join("pickupctl");
    std::fs::copy(binary("pickupctl"), &ctl).expect("copy pickupctl");
    std::fs::set_permissions(&ctl, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let (bus, address) = system_like_bus(dir.path(), true, EXTRA_POLICY);
    let bus = Proc(bus);
    let conn = zbus::connection::Builder::address(address.as_str())
        .expect("address")
        .build()
        .await
        .expect("connect as root");

    let polkit_log = dir.path().join("polkit.log");
    let mut polkit = Command::new(&python)
        .args(["-m", "dbusmock", "--system", "--template", "polkitd", "-l"])
        .arg(&polkit_log)
        .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("python3 -m dbusmock");
    name_owned(&conn, POLKIT_NAME, "the polkit mock", &mut polkit).await;
    let polkit = Proc(polkit);

    let mut pickupd = Command::new(binary("pickupd"))
        .args(["--sim", "--address", &address, "--authorize", "polkit"])
        .args(["--log-level", "warn"])
        .stdin(Stdio::null())
        .spawn()
        .expect("pickupd");
    name_owned(&conn, pickupd_api::BUS_NAME, "pickupd", &mut pickupd).await;
    Some(Bed {
        address,
        conn,
        pickupd: Proc(pickupd),
        ctl,
        polkit_log,
        uid,
        gid,
        polkit,
        _bus: bus,
        _dir: dir,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polkit_decides_who_may_change_things() {
    let Some(mut b) = start().await else {
        return;
    };

    // The mock grants nothing.
    b.allow(&[]).await;
    b.refused(&["pickup", "--at", "201", "--dest", "202"], CONTROL);
    b.refused(
        &["--no-ask-password", "dial", "--at", "201", "203"],
        CONTROL,
    );
    // Asked for the caller's bus name; interactive unless --no-ask-password.
    let checks = b.checks();
    assert_eq!(checks.len(), 2, "{checks:#?}");
    for (check, flags) in checks.iter().zip(["1", "0"]) {
        assert!(check.contains("system-bus-name"), "{check}");
        assert!(
            check.ends_with(&format!("\"{CONTROL}\" {{}} {flags} \"\"")),
            "{check}"
        );
    }
    b.refused(&["sim", "incoming", "202", "--from", "5551234"], CONFIGURE);
    b.refused(&["reload"], CONFIGURE);
    // Reading stays open.
    let status = b.ok(&["status"]);
    assert!(!status.trim().is_empty());
    b.ok(&["calls"]);
    b.ok(&["addresses"]);

    // configure drives the simulator, but does not control calls.
    b.allow(&[CONFIGURE]).await;
    let text = b.ok(&[
        "sim", "incoming", "202", "--from", "5551234", "--name", "ALICE",
    ]);
    assert!(text.contains("OFFERING"), "{text}");
    b.ok(&["reload"]);
    b.refused(&["pickup", "--at", "201", "--dest", "202"], CONTROL);
    let calls = b.ok(&["calls"]);
    assert!(calls.contains("ALICE"), "{calls}");

    // control picks the call up; the simulator is closed again.
    b.allow(&[CONTROL]).await;
    let out = b.ok(&["--json", "pickup", "--at", "201", "--dest", "202"]);
    let picked: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(picked["reason"], "PICKUP", "{picked}");
    let id = picked["id"].to_string();
    b.refused(&["sim", "onhook", "201"], CONFIGURE);
    b.refused(&["reload"], CONFIGURE);

    // Refused again mid-call: the call stays, dropping it needs control.
    b.allow(&[]).await;
    b.refused(&["drop", &id], CONTROL);
    let call = b.ok(&["call", &id]);
    assert!(call.contains("5551234"), "{call}");
    b.allow(&[CONTROL]).await;
    b.ok(&["drop", &id]);
    b.assert_alive();

    // Without polkit nobody is authorized, and the message says why.
    let _ = b.polkit.0.kill();
    let _ = b.polkit.0.wait();
    let dbus = zbus::fdo::DBusProxy::new(&b.conn).await.expect("bus proxy");
    wait_for("polkit's name to go", Duration::from_secs(10), || {
        let dbus = dbus.clone();
        async move {
            matches!(
                dbus.name_has_owner(POLKIT_NAME.try_into().expect("name"))
                    .await,
                Ok(false)
            )
            .then_some(())
        }
    })
    .await;
    let (code, _, err) = b.ctl(&["sim", "incoming", "202", "--from", "5551234"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("polkit is not running"), "{err}");
    b.ok(&["status"]);
    b.assert_alive();
}
