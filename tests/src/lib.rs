//! Test bed: a private `dbus-daemon`, the real `pickupd` binary on it, and
//! typed clients. Used by the integration tests and by the demo.

use pickupd_api::proxy::{AddressProxy, CallProxy, ManagerProxy, SimulatorProxy};
use pickupd_api::BUS_NAME;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zbus::zvariant::OwnedObjectPath;
use zbus::Connection;

/// Directory holding the workspace's binaries (next to this executable).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("own executable path");
    let mut dir = exe
        .parent()
        .expect("executable has a directory")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// Path of a workspace binary; builds it with cargo if it is missing.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    if !path.exists() {
        let release = bin_dir().ends_with("release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let package = if name == "pickupctl" {
            "pickupctl"
        } else {
            "pickupd"
        };
        eprintln!("building {name} (first run) …");
        let mut cmd = Command::new(cargo);
        cmd.arg("build")
            .arg("--quiet")
            .arg("--manifest-path")
            .arg(&manifest);
        cmd.args(["-p", package, "--bin", name]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .unwrap_or_else(|e| panic!("cannot run cargo to build {name}: {e}"));
        assert!(status.success(), "cargo build --bin {name} failed");
    }
    assert!(
        path.exists(),
        "{} is missing; run `cargo build --workspace`",
        path.display()
    );
    path
}

/// Start `dbus-daemon` with a configuration file; returns it and the
/// address it listens on.
pub fn spawn_dbus_daemon(config: &Path) -> std::io::Result<(Child, String)> {
    let mut child = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", config.display()))
        .args(["--nofork", "--print-address=1", "--nopidfile"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot start dbus-daemon ({e}); install it with `apt-get install dbus-daemon`"
                ),
            )
        })?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let address = line.trim().to_string();
    if address.is_empty() {
        let _ = child.kill();
        return Err(std::io::Error::other(
            "dbus-daemon printed no address (configuration rejected?)",
        ));
    }
    Ok((child, address))
}

/// A private message bus, ended on drop.
pub struct PrivateBus {
    child: Child,
    pub address: String,
    _dir: TempDir,
}

impl PrivateBus {
    pub fn start() -> std::io::Result<PrivateBus> {
        let dir = TempDir::new("pickupd-bus")?;
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                dir.path().display()
            ),
        )?;
        let (child, address) = spawn_dbus_daemon(&config)?;
        Ok(PrivateBus {
            child,
            address,
            _dir: dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub async fn connect(&self) -> zbus::Result<Connection> {
        zbus::connection::Builder::address(self.address.as_str())?
            // A daemon that never answers fails the test with a timeout
            // instead of hanging the whole suite (zbus has no default).
            .method_timeout(std::time::Duration::from_secs(30))
            .build()
            .await
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> std::io::Result<TempDir> {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `PICKUPD_TEST_HARDWARE=emulated` runs every `--sim` daemon of the suite
/// as `--sim --emulated-hardware`: the same tests, through the real DAHDI
/// driver and its system calls on the emulated device tree.
pub const HARDWARE_ENV: &str = "PICKUPD_TEST_HARDWARE";

/// Is the suite running on emulated hardware?
pub fn emulated_hardware() -> bool {
    match std::env::var(HARDWARE_ENV).as_deref() {
        Ok("emulated") => true,
        Ok("sim") | Ok("") | Err(_) => false,
        Ok(other) => panic!("{HARDWARE_ENV}={other}: use sim or emulated"),
    }
}

/// `Line.Kind` of a line of the built-in site in this run: simulated
/// trunks and desks with `--sim`; on emulated hardware trunk1 an FXO port,
/// trunk2 a voice modem and the desks FXS ports.
pub fn builtin_kind(line: &str) -> &'static str {
    let desk = line.starts_with("desk-");
    match (emulated_hardware(), desk) {
        (false, false) => "sim-fxo",
        (false, true) => "sim-fxs",
        (true, true) => "fxs",
        (true, false) if line == "trunk2" => "modem",
        (true, false) => "fxo",
    }
}

/// The daemon arguments of a simulated site in this run.
pub fn sim_args() -> Vec<&'static str> {
    if emulated_hardware() {
        vec!["--sim", "--emulated-hardware"]
    } else {
        vec!["--sim"]
    }
}

/// The real `pickupd` process on a private bus; SIGTERM and wait on drop.
pub struct Daemon {
    child: Option<Child>,
    pub bus: PrivateBus,
    pub conn: Connection,
}

impl Daemon {
    /// `pickupd --sim` on a fresh private bus, ready when its name is owned;
    /// on emulated hardware when [`HARDWARE_ENV`] says so.
    pub async fn start_sim() -> Daemon {
        Self::start(&sim_args()).await
    }

    pub async fn start(args: &[&str]) -> Daemon {
        let bus = PrivateBus::start().expect("private bus");
        let conn = bus.connect().await.expect("connect to private bus");
        let child = Command::new(binary("pickupd"))
            .args(args)
            .args(["--address", &bus.address, "--log-level"])
            // PICKUPD_TEST_LOG_LEVEL=debug shows what a failing test's daemon did
            .arg(std::env::var("PICKUPD_TEST_LOG_LEVEL").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::null())
            .spawn()
            .expect("start pickupd");
        let mut d = Daemon {
            child: Some(child),
            bus,
            conn,
        };
        d.wait_for_name().await;
        d
    }

    async fn wait_for_name(&mut self) {
        let dbus = zbus::fdo::DBusProxy::new(&self.conn)
            .await
            .expect("bus proxy");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(true) = dbus
                .name_has_owner(BUS_NAME.try_into().expect("valid name"))
                .await
            {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("pickupd exited early with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "pickupd did not take its bus name in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Send SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM to the daemon and its bus, for owners that cannot drop it
    /// (a benchmark's static test bed).
    pub fn stop_processes(&self) {
        for pid in [self.pid(), self.bus.pid()] {
            if pid != 0 {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
    }

    /// Is the process still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    pub async fn manager(&self) -> ManagerProxy<'static> {
        ManagerProxy::new(&self.conn).await.expect("manager proxy")
    }

    pub async fn sim(&self) -> SimulatorProxy<'static> {
        SimulatorProxy::new(&self.conn)
            .await
            .expect("simulator proxy")
    }

    pub async fn address(&self, number: &str) -> AddressProxy<'static> {
        let path = self
            .manager()
            .await
            .find_address(number)
            .await
            .expect("address exists");
        AddressProxy::builder(&self.conn)
            .path(path)
            .expect("path")
            .build()
            .await
            .expect("address proxy")
    }

    pub async fn call(&self, path: &OwnedObjectPath) -> CallProxy<'static> {
        CallProxy::builder(&self.conn)
            .path(path.clone())
            .expect("path")
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .expect("call proxy")
    }

    /// Run `pickupctl` against this daemon; (status, stdout, stderr).
    pub fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(binary("pickupctl"))
            .args(["--address", &self.bus.address])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run pickupctl");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Poll `check` until it returns `Some`, or panic after `timeout` naming `what`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A bus configured like the system bus: owning names and calling methods
/// are denied unless a policy allows them. `include_policy` adds the
/// project's `dbus/org.pickupd.Pickup1.conf`; `extra` is more busconfig XML
/// (policies) for the test at hand. Returns the bus and its address.
pub fn system_like_bus(
    dir: &Path,
    include_policy: bool,
    extra: &str,
) -> (std::process::Child, String) {
    let include = if include_policy {
        format!(
            "<include>{}</include>",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../dbus/org.pickupd.Pickup1.conf")
                .canonicalize()
                .expect("policy")
                .display()
        )
    } else {
        String::new()
    };
    let conf = dir.join("system.conf");
    std::fs::write(
        &conf,
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  {include}
  {extra}
</busconfig>
"#,
            dir.display()
        ),
    )
    .expect("bus config");
    spawn_dbus_daemon(&conf).expect("dbus-daemon rejected the configuration")
}
