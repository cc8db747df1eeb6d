//! The zbus adapter: shows the engine's state on D-Bus and turns method
//! calls into engine commands. It keeps a mirror of what the engine told it,
//! applied strictly in order, so property reads and signals never run ahead
//! of or behind each other.

use crate::authority::Authorization;
use crate::engine::{
    AddressId, AddressProp, AddressView, BusEvent, CallId, CallProp, CallView, Command, FarEnd,
    LineId, LineProp, LineView, ManagerProp, Reply,
};
use crate::runtime::{AdapterGate, BusBatch, EngineHandle};
use crate::sim::{SimControl, SimOk, SimOp};
use pickupd_api::{self as api, PickupError};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;
use zbus::fdo;
use zbus::message::Header;
use zbus::names::InterfaceName;
use zbus::object_server::{ResponseDispatchNotifier, SignalEmitter};
use zbus::zvariant::{ObjectPath, OwnedObjectPath, Value};
use zbus::{interface, Connection};

/// What the bus shows, as last told by the engine.
#[derive(Default)]
pub struct Mirror {
    pub zone: String,
    pub lines: BTreeMap<LineId, LineView>,
    pub addresses: BTreeMap<AddressId, AddressView>,
    pub calls: BTreeMap<CallId, CallView>,
    pub line_order: Vec<LineId>,
    pub address_order: Vec<AddressId>,
    pub call_order: Vec<CallId>,
    /// calls being registered quietly (announced after the method reply)
    quiet: HashSet<CallId>,
}

impl Mirror {
    pub fn new(zone: &str) -> Self {
        Mirror {
            zone: zone.to_string(),
            ..Default::default()
        }
    }
}

/// Re-reads the configuration for `Manager.Reload`.
pub type ReloadFn = Arc<dyn Fn() -> Result<crate::config::Site, String> + Send + Sync>;

pub struct Shared {
    pub mirror: RwLock<Mirror>,
    pub engine: EngineHandle,
    pub sim: Option<SimControl>,
    pub reload: ReloadFn,
    pub simulated: bool,
    /// Who may call the mutating methods.
    pub authorization: Authorization,
}

impl Shared {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Mirror> {
        self.mirror.read().unwrap_or_else(|p| p.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Mirror> {
        self.mirror.write().unwrap_or_else(|p| p.into_inner())
    }
    /// May the sender of this call perform `action`? (polkit, or everyone.)
    async fn authorize(
        &self,
        conn: &Connection,
        hdr: &Header<'_>,
        action: &str,
    ) -> Result<(), BusError> {
        self.authorization
            .check(conn, hdr, action)
            .await
            .map_err(BusError::Api)
    }
}

fn path(s: String) -> OwnedObjectPath {
    OwnedObjectPath::from(ObjectPath::from_string_unchecked(s))
}
fn line_path(id: LineId) -> OwnedObjectPath {
    path(api::line_path(id.0))
}
fn address_path(id: AddressId) -> OwnedObjectPath {
    path(api::address_path(id.0))
}
fn call_path(id: CallId) -> OwnedObjectPath {
    path(api::call_path(id.0))
}
fn opt_line_path(id: Option<LineId>) -> OwnedObjectPath {
    id.map(line_path).unwrap_or_else(|| path("/".into()))
}
fn gone(what: &str) -> fdo::Error {
    fdo::Error::UnknownObject(format!("{what} no longer exists"))
}

fn call_id_of(p: &ObjectPath<'_>) -> Option<CallId> {
    p.as_str()
        .strip_prefix(api::CALL_PATH_PREFIX)
        .and_then(|_| api::object_number(p.as_str()))
        .map(CallId)
}

/// What a method answers with: one of the API's errors, or a standard
/// D-Bus error (wrong arguments, an object that does not exist).
#[derive(Debug)]
pub enum BusError {
    Api(PickupError),
    Fdo(fdo::Error),
}

impl From<PickupError> for BusError {
    fn from(e: PickupError) -> Self {
        BusError::Api(e)
    }
}

impl From<zbus::Error> for BusError {
    fn from(e: zbus::Error) -> Self {
        match e {
            zbus::Error::FDO(f) => BusError::Fdo(*f),
            // The body did not match the method's signature.
            zbus::Error::Variant(v) => BusError::Fdo(fdo::Error::InvalidArgs(format!(
                "{v}; see the method's signature in the introspection data"
            ))),
            zbus::Error::MissingParameter(p) => {
                BusError::Fdo(fdo::Error::InvalidArgs(format!("missing argument {p}")))
            }
            other => BusError::Fdo(fdo::Error::Failed(other.to_string())),
        }
    }
}

impl zbus::DBusError for BusError {
    fn create_reply(
        &self,
        hdr: &zbus::message::Header<'_>,
    ) -> zbus::Result<zbus::message::Message> {
        match self {
            BusError::Api(e) => e.create_reply(hdr),
            BusError::Fdo(e) => e.create_reply(hdr),
        }
    }
    fn name(&self) -> zbus::names::ErrorName<'_> {
        match self {
            BusError::Api(e) => e.name(),
            BusError::Fdo(e) => e.name(),
        }
    }
    fn description(&self) -> Option<&str> {
        match self {
            BusError::Api(e) => e.description(),
            BusError::Fdo(e) => e.description(),
        }
    }
}

type MethodResult<T> = Result<T, BusError>;

/// Turn an engine outcome into the method's result.
fn expect_done(r: Result<Reply, PickupError>) -> Result<(), BusError> {
    r.map(|_| ()).map_err(BusError::Api)
}

// ----------------------------------------------------------------------------
// Manager (root object)

pub struct ManagerIface {
    shared: Arc<Shared>,
}

#[interface(name = "org.pickupd.Pickup1.Manager")]
impl ManagerIface {
    #[zbus(property(emits_changed_signal = "const"))]
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }
    #[zbus(property)]
    fn zone(&self) -> String {
        self.shared.read().zone.clone()
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn simulated(&self) -> bool {
        self.shared.simulated
    }
    #[zbus(property)]
    fn lines(&self) -> Vec<OwnedObjectPath> {
        self.shared
            .read()
            .line_order
            .iter()
            .copied()
            .map(line_path)
            .collect()
    }
    #[zbus(property)]
    fn addresses(&self) -> Vec<OwnedObjectPath> {
        self.shared
            .read()
            .address_order
            .iter()
            .copied()
            .map(address_path)
            .collect()
    }
    #[zbus(property)]
    fn calls(&self) -> Vec<OwnedObjectPath> {
        self.shared
            .read()
            .call_order
            .iter()
            .copied()
            .map(call_path)
            .collect()
    }

    #[zbus(out_args("address"))]
    async fn find_address(&self, number: String) -> Result<OwnedObjectPath, BusError> {
        match self
            .shared
            .engine
            .command(Command::FindAddress(number))
            .await
            .result?
        {
            Reply::Address(a) => Ok(address_path(a)),
            _ => Err(BusError::Api(PickupError::OperationFailed(
                "unexpected engine reply".into(),
            ))),
        }
    }

    async fn reload(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> Result<(), BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONFIGURE)
            .await?;
        let site = (self.shared.reload)().map_err(|e| {
            PickupError::OperationFailed(format!(
                "the configuration was not reloaded: {e}; fix it and reload again"
            ))
        })?;
        if self.shared.simulated {
            let sim = self
                .shared
                .read()
                .lines
                .values()
                .map(|l| l.name.clone())
                .collect::<Vec<_>>();
            let want: Vec<String> = site.lines.iter().map(|l| l.name.clone()).collect();
            if sim != want {
                return Err(BusError::Api(PickupError::OperationUnavailable(
                    "a simulated site cannot gain or lose lines while it runs; restart pickupd --sim to change its lines".into(),
                )));
            }
        }
        expect_done(
            self.shared
                .engine
                .command(Command::Reload(site))
                .await
                .settled()
                .await,
        )
    }

    #[zbus(signal)]
    async fn call_added(emitter: &SignalEmitter<'_>, call: ObjectPath<'_>) -> zbus::Result<()>;
    #[zbus(signal)]
    async fn call_removed(emitter: &SignalEmitter<'_>, call: ObjectPath<'_>) -> zbus::Result<()>;
}

// ----------------------------------------------------------------------------
// Line

pub struct LineIface {
    shared: Arc<Shared>,
    id: LineId,
}

impl LineIface {
    fn view<T>(&self, f: impl FnOnce(&LineView) -> T) -> fdo::Result<T> {
        self.shared
            .read()
            .lines
            .get(&self.id)
            .map(f)
            .ok_or_else(|| gone("this line"))
    }
}

#[interface(name = "org.pickupd.Pickup1.Line")]
impl LineIface {
    #[zbus(property(emits_changed_signal = "const"))]
    fn name(&self) -> fdo::Result<String> {
        self.view(|l| l.name.clone())
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn kind(&self) -> fdo::Result<String> {
        self.view(|l| l.kind.as_str().to_string())
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn device(&self) -> fdo::Result<String> {
        self.view(|l| l.device.clone())
    }
    #[zbus(property)]
    fn state(&self) -> fdo::Result<String> {
        self.view(|l| l.state.as_str().to_string())
    }
    #[zbus(property)]
    fn hook(&self) -> fdo::Result<String> {
        self.view(|l| hook_str(l.off_hook).to_string())
    }
    #[zbus(property)]
    fn addresses(&self) -> fdo::Result<Vec<OwnedObjectPath>> {
        self.view(|l| l.addresses.iter().copied().map(address_path).collect())
    }
}

fn hook_str(off: bool) -> &'static str {
    if off {
        "off"
    } else {
        "on"
    }
}

// ----------------------------------------------------------------------------
// Address

pub struct AddressIface {
    shared: Arc<Shared>,
    id: AddressId,
}

impl AddressIface {
    fn view<T>(&self, f: impl FnOnce(&AddressView) -> T) -> fdo::Result<T> {
        self.shared
            .read()
            .addresses
            .get(&self.id)
            .map(f)
            .ok_or_else(|| gone("this address"))
    }

    async fn new_call(
        &self,
        conn: &Connection,
        cmd: Command,
    ) -> Result<ResponseDispatchNotifier<OwnedObjectPath>, BusError> {
        let outcome = self.shared.engine.command(cmd).await;
        let (gate, applied) = (outcome.gate, outcome.applied);
        let Reply::Call(call) = outcome.result? else {
            return Err(BusError::Api(PickupError::OperationFailed(
                "unexpected engine reply".into(),
            )));
        };
        let (response, listener) = ResponseDispatchNotifier::new(call_path(call));
        if let Some(gate) = gate {
            // The object must exist before the reply leaves; the adapter
            // holds back this batch's signals until the reply has gone.
            register_quietly(conn, &self.shared, gate.view).await;
            let _ = gate.dispatched.send(listener);
        } else if let Some(applied) = applied {
            // An existing call was returned (the call-waiting case): reply
            // once the bus shows it connected.
            let _ = applied.await;
        }
        Ok(response)
    }
}

#[interface(name = "org.pickupd.Pickup1.Address")]
impl AddressIface {
    #[zbus(property(emits_changed_signal = "const"))]
    fn number(&self) -> fdo::Result<String> {
        self.view(|a| a.number.clone())
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn line(&self) -> fdo::Result<OwnedObjectPath> {
        self.view(|a| line_path(a.line))
    }
    #[zbus(property)]
    fn appearances(&self) -> fdo::Result<Vec<OwnedObjectPath>> {
        self.view(|a| a.appearances.iter().copied().map(line_path).collect())
    }
    #[zbus(property)]
    fn sharing(&self) -> fdo::Result<u32> {
        self.view(|a| a.sharing)
    }
    #[zbus(property)]
    fn call_groups(&self) -> fdo::Result<Vec<String>> {
        self.view(|a| a.call_groups.clone())
    }
    #[zbus(property)]
    fn pickup_groups(&self) -> fdo::Result<Vec<String>> {
        self.view(|a| a.pickup_groups.clone())
    }
    #[zbus(property)]
    fn cap_flags(&self) -> fdo::Result<u32> {
        self.view(|a| a.cap_flags)
    }
    #[zbus(property)]
    fn features(&self) -> fdo::Result<u32> {
        self.view(|a| a.features)
    }
    #[zbus(property)]
    fn calls(&self) -> fdo::Result<Vec<OwnedObjectPath>> {
        self.view(|a| a.calls.iter().copied().map(call_path).collect())
    }

    #[zbus(out_args("call"))]
    async fn pickup(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        dest_address: String,
        group_id: String,
    ) -> Result<ResponseDispatchNotifier<OwnedObjectPath>, BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONTROL)
            .await?;
        self.new_call(
            conn,
            Command::Pickup {
                address: self.id,
                dest: dest_address,
                group: group_id,
            },
        )
        .await
    }

    #[zbus(out_args("call"))]
    async fn dial(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        number: String,
    ) -> Result<ResponseDispatchNotifier<OwnedObjectPath>, BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONTROL)
            .await?;
        self.new_call(
            conn,
            Command::Dial {
                address: self.id,
                number,
            },
        )
        .await
    }
}

// ----------------------------------------------------------------------------
// Call

pub struct CallIface {
    shared: Arc<Shared>,
    id: CallId,
}

impl CallIface {
    fn view<T>(&self, f: impl FnOnce(&CallView) -> T) -> fdo::Result<T> {
        let m = self.shared.read();
        m.calls
            .get(&self.id)
            .map(f)
            .ok_or_else(|| gone("this call"))
    }

    async fn run(&self, cmd: Command) -> Result<(), BusError> {
        expect_done(self.shared.engine.command(cmd).await.settled().await)
    }
}

#[interface(name = "org.pickupd.Pickup1.Call")]
impl CallIface {
    #[zbus(property(emits_changed_signal = "const"))]
    fn address(&self) -> fdo::Result<OwnedObjectPath> {
        self.view(|c| address_path(c.address))
    }
    #[zbus(property)]
    fn station(&self) -> fdo::Result<OwnedObjectPath> {
        self.view(|c| opt_line_path(c.station))
    }
    #[zbus(property)]
    fn state(&self) -> fdo::Result<u32> {
        self.view(|c| c.state)
    }
    #[zbus(property)]
    fn state_mode(&self) -> fdo::Result<u32> {
        self.view(|c| c.state_mode)
    }
    #[zbus(property)]
    fn reason(&self) -> fdo::Result<u32> {
        self.view(|c| c.reason)
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn direction(&self) -> fdo::Result<String> {
        self.view(|c| c.direction.as_str().to_string())
    }
    #[zbus(property)]
    fn caller_number(&self) -> fdo::Result<String> {
        self.view(|c| c.caller_number.clone())
    }
    #[zbus(property)]
    fn caller_name(&self) -> fdo::Result<String> {
        self.view(|c| c.caller_name.clone())
    }
    #[zbus(property)]
    fn called_number(&self) -> fdo::Result<String> {
        self.view(|c| c.called_number.clone())
    }
    #[zbus(property)]
    fn call_waiting(&self) -> fdo::Result<bool> {
        self.view(|c| c.call_waiting)
    }
    #[zbus(property)]
    fn detected_by(&self) -> fdo::Result<String> {
        self.view(|c| c.detected_by.to_string())
    }
    #[zbus(property)]
    fn held_by(&self) -> fdo::Result<OwnedObjectPath> {
        self.view(|c| opt_line_path(c.held_by))
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn created(&self) -> fdo::Result<u64> {
        self.view(|c| c.created_us)
    }

    async fn answer(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> Result<(), BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONTROL)
            .await?;
        self.run(Command::Answer(self.id)).await
    }
    async fn drop(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> Result<(), BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONTROL)
            .await?;
        self.run(Command::Drop(self.id)).await
    }
    async fn hold(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> Result<(), BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONTROL)
            .await?;
        self.run(Command::Hold(self.id)).await
    }
    async fn unhold(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> Result<(), BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONTROL)
            .await?;
        self.run(Command::Unhold(self.id)).await
    }
    async fn swap_hold(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        held_call: ObjectPath<'_>,
    ) -> Result<(), BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONTROL)
            .await?;
        let Some(held) = call_id_of(&held_call) else {
            return Err(BusError::Fdo(fdo::Error::InvalidArgs(format!(
                "{held_call} is not a call object; pass the path of a held call"
            ))));
        };
        if !self.shared.read().calls.contains_key(&held) {
            return Err(BusError::Fdo(fdo::Error::UnknownObject(format!(
                "there is no call {held_call}; see Manager.Calls"
            ))));
        }
        expect_done(
            self.shared
                .engine
                .command(Command::SwapHold {
                    call: self.id,
                    held,
                })
                .await
                .settled()
                .await,
        )
    }

    #[zbus(signal, name = "StateChanged")]
    async fn emit_state_changed(
        emitter: &SignalEmitter<'_>,
        old_state: u32,
        new_state: u32,
        mode: u32,
    ) -> zbus::Result<()>;
}

/// Input signatures of every method, checked before dispatch so that a
/// wrong body is answered with `InvalidArgs` (zbus's own answer carries its
/// private error name) and a method never runs with a body it does not
/// declare. A unit test holds this table to `api/interfaces/*.xml`.
pub const METHOD_SIGNATURES: &[(&str, &str, &str)] = &[
    (api::MANAGER_INTERFACE, "FindAddress", "s"),
    (api::MANAGER_INTERFACE, "Reload", ""),
    (api::ADDRESS_INTERFACE, "Pickup", "ss"),
    (api::ADDRESS_INTERFACE, "Dial", "s"),
    (api::CALL_INTERFACE, "Answer", ""),
    (api::CALL_INTERFACE, "Drop", ""),
    (api::CALL_INTERFACE, "Hold", ""),
    (api::CALL_INTERFACE, "Unhold", ""),
    (api::CALL_INTERFACE, "SwapHold", "o"),
    (api::SIMULATOR_INTERFACE, "IncomingCall", "sss"),
    (api::SIMULATOR_INTERFACE, "OffHook", "s"),
    (api::SIMULATOR_INTERFACE, "OnHook", "s"),
    (api::SIMULATOR_INTERFACE, "Flash", "s"),
    (api::SIMULATOR_INTERFACE, "Dial", "ss"),
    (api::SIMULATOR_INTERFACE, "CallWaiting", "sss"),
    (api::SIMULATOR_INTERFACE, "RemoteHangup", "s"),
    (api::SIMULATOR_INTERFACE, "Unplug", "s"),
    (api::SIMULATOR_INTERFACE, "Plug", "s"),
];

/// Who may not be announced yet: a call registered quietly (see [`Checked`]).
struct Quiet {
    shared: Arc<Shared>,
    call: CallId,
}

/// An interface as registered: everything is the macro-generated
/// interface, with two additions. Method bodies are checked against
/// [`METHOD_SIGNATURES`]. And for a call returned by `Pickup`/`Dial`,
/// `GetAll` fails while it is being registered quietly: zbus announces a
/// new object (InterfacesAdded) from `GetAll` inside `ObjectServer::at`
/// and skips the announcement when that fails, so the call exists when the
/// reply arrives and is announced only after it.
pub struct Checked<I> {
    inner: I,
    quiet: Option<Quiet>,
}

impl<I> Checked<I> {
    fn new(inner: I) -> Self {
        Checked { inner, quiet: None }
    }
}

impl Checked<CallIface> {
    fn call(inner: CallIface) -> Self {
        let quiet = Some(Quiet {
            shared: inner.shared.clone(),
            call: inner.id,
        });
        Checked { inner, quiet }
    }
}

fn expected_signature(iface: &str, member: &str) -> Option<&'static str> {
    METHOD_SIGNATURES
        .iter()
        .find(|(i, m, _)| *i == iface && *m == member)
        .map(|(_, _, sig)| *sig)
}

#[async_trait::async_trait]
impl<I: zbus::object_server::Interface> zbus::object_server::Interface for Checked<I> {
    fn name() -> InterfaceName<'static> {
        I::name()
    }
    fn spawn_tasks_for_methods(&self) -> bool {
        self.inner.spawn_tasks_for_methods()
    }
    async fn get(
        &self,
        property_name: &str,
        server: &zbus::ObjectServer,
        connection: &Connection,
        header: Option<&zbus::message::Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<fdo::Result<zbus::zvariant::OwnedValue>> {
        self.inner
            .get(property_name, server, connection, header, emitter)
            .await
    }
    async fn get_all(
        &self,
        server: &zbus::ObjectServer,
        connection: &Connection,
        header: Option<&zbus::message::Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> fdo::Result<HashMap<String, zbus::zvariant::OwnedValue>> {
        if let Some(q) = &self.quiet {
            if q.shared.read().quiet.contains(&q.call) {
                return Err(fdo::Error::Failed(
                    "announced after the method reply".into(),
                ));
            }
        }
        self.inner
            .get_all(server, connection, header, emitter)
            .await
    }
    fn set<'call>(
        &'call self,
        property_name: &'call str,
        value: &'call Value<'_>,
        server: &'call zbus::ObjectServer,
        connection: &'call Connection,
        header: Option<&'call zbus::message::Header<'_>>,
        emitter: &'call SignalEmitter<'_>,
    ) -> zbus::object_server::DispatchResult2<'call> {
        self.inner
            .set(property_name, value, server, connection, header, emitter)
    }
    async fn set_mut(
        &mut self,
        property_name: &str,
        value: &Value<'_>,
        server: &zbus::ObjectServer,
        connection: &Connection,
        header: Option<&zbus::message::Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<fdo::Result<()>> {
        self.inner
            .set_mut(property_name, value, server, connection, header, emitter)
            .await
    }
    fn call<'call>(
        &'call self,
        server: &'call zbus::ObjectServer,
        connection: &'call Connection,
        msg: &'call zbus::Message,
        name: zbus::names::MemberName<'call>,
    ) -> zbus::object_server::DispatchResult2<'call> {
        let hdr = msg.header();
        let got = hdr.signature().to_string();
        if let Some(want) = expected_signature(I::name().as_str(), name.as_str()) {
            // zvariant shows a body of several arguments as one structure;
            // every argument in the table is a single basic type.
            let want_shown = if want.len() > 1 {
                format!("({want})")
            } else {
                want.to_string()
            };
            if got != want_shown {
                let given = got.trim_start_matches('(').trim_end_matches(')');
                let err = fdo::Error::InvalidArgs(format!(
                    "{}.{name} takes ({want}) but was given ({given})",
                    I::name()
                ));
                return zbus::object_server::DispatchResult2::new_async(
                    connection,
                    msg,
                    async move { Err::<(), _>(err) },
                );
            }
        }
        self.inner.call(server, connection, msg, name)
    }
    fn call_mut<'call>(
        &'call mut self,
        server: &'call zbus::ObjectServer,
        connection: &'call Connection,
        msg: &'call zbus::Message,
        name: zbus::names::MemberName<'call>,
    ) -> zbus::object_server::DispatchResult2<'call> {
        self.inner.call_mut(server, connection, msg, name)
    }
    fn introspect_to_writer(&self, writer: &mut dyn std::fmt::Write, level: usize) {
        self.inner.introspect_to_writer(writer, level)
    }
}

// ----------------------------------------------------------------------------
// Simulator

pub struct SimulatorIface {
    shared: Arc<Shared>,
    sim: SimControl,
}

impl SimulatorIface {
    /// Act in the world, then wait until the bus shows what the hardware
    /// reported of it.
    async fn run(&self, op: SimOp) -> Result<SimOk, BusError> {
        let ok = self.sim.request(op).await?;
        self.shared.engine.flush().await;
        Ok(ok)
    }

    async fn station_line(&self, number: &str) -> MethodResult<LineId> {
        let wanted = number.to_string();
        let found = self
            .shared
            .engine
            .query(move |e| {
                let a = e.address_by_number(&wanted)?;
                let v = e.address_view(a)?;
                let l = e.line_view(v.line)?;
                Some((v.line, l.kind.is_station_port(), l.kind.is_trunk()))
            })
            .await
            .flatten();
        found.map(|(line, _, _)| line).ok_or_else(|| {
            BusError::Api(PickupError::InvalidAddress(format!(
                "no line has the number {number}; see pickupctl addresses"
            )))
        })
    }
}

#[interface(name = "org.pickupd.Pickup1.Simulator")]
impl SimulatorIface {
    #[zbus(out_args("call"))]
    async fn incoming_call(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        number: String,
        caller_number: String,
        caller_name: String,
    ) -> Result<OwnedObjectPath, BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONFIGURE)
            .await?;
        if !caller_number.is_empty() && !api::is_dialable(&caller_number) {
            return Err(BusError::Api(PickupError::InvalidAddress(format!(
                "caller number \"{caller_number}\" must be 1 to 32 of 0-9 * #, or empty"
            ))));
        }
        let SimOk::Tag(tag) = self
            .run(SimOp::IncomingCall {
                number: number.clone(),
                caller_number,
                caller_name,
            })
            .await?
        else {
            return Err(BusError::Api(PickupError::OperationFailed(
                "the simulator gave no call".into(),
            )));
        };
        let call = self.shared.engine.await_tag(tag).await;
        // The object must be on the bus when the caller gets its path.
        self.shared.engine.flush().await;
        match call {
            Some(call) => Ok(call_path(call)),
            None => Err(BusError::Api(PickupError::OperationFailed(format!(
                "{number} rang but no call appeared: its line may be out of service or busy"
            )))),
        }
    }
    async fn off_hook(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        station_number: String,
    ) -> Result<(), BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONFIGURE)
            .await?;
        self.run(SimOp::OffHook(station_number)).await.map(|_| ())
    }
    async fn on_hook(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        station_number: String,
    ) -> Result<(), BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONFIGURE)
            .await?;
        self.run(SimOp::OnHook(station_number)).await.map(|_| ())
    }
    async fn flash(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        station_number: String,
    ) -> Result<(), BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONFIGURE)
            .await?;
        self.run(SimOp::Flash(station_number)).await.map(|_| ())
    }
    async fn dial(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        station_number: String,
        digits: String,
    ) -> Result<(), BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONFIGURE)
            .await?;
        self.run(SimOp::Dial(station_number, digits))
            .await
            .map(|_| ())
    }
    async fn call_waiting(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        trunk_number: String,
        caller_number: String,
        caller_name: String,
    ) -> Result<(), BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONFIGURE)
            .await?;
        if !caller_number.is_empty() && !api::is_dialable(&caller_number) {
            return Err(BusError::Api(PickupError::InvalidAddress(format!(
                "caller number \"{caller_number}\" must be 1 to 32 of 0-9 * #, or empty"
            ))));
        }
        self.run(SimOp::CallWaiting {
            trunk_number,
            caller_number,
            caller_name,
        })
        .await
        .map(|_| ())
    }
    async fn remote_hangup(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        trunk_or_station_number: String,
    ) -> Result<(), BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONFIGURE)
            .await?;
        let number = trunk_or_station_number;
        let line = self.station_line(&number).await?;
        // The far party of whatever is connected there: ask the engine.
        let far = self
            .shared
            .engine
            .query(move |e| {
                let far = e.far_end_of(line);
                let ringing_tag = e
                    .call_ids()
                    .into_iter()
                    .filter_map(|c| e.call_view(c).map(|v| (c, v)))
                    .find(|(c, v)| {
                        v.station == Some(line)
                            && e.call_tag(*c).is_some()
                            && v.state == api::tapi::call_state::OFFERING
                    })
                    .and_then(|(c, _)| e.call_tag(c));
                let is_trunk = e.line_view(line).is_some_and(|l| l.kind.is_trunk());
                (far, ringing_tag, is_trunk)
            })
            .await;
        let op = match far {
            Some((_, _, true)) => SimOp::TrunkFarEndHangup(crate::sim::key(line)),
            Some((Some(FarEnd::Trunk(t)), _, _)) => SimOp::TrunkFarEndHangup(crate::sim::key(t)),
            Some((Some(FarEnd::Station(s)), _, _)) => SimOp::PhoneOnHook(crate::sim::key(s)),
            Some((Some(FarEnd::Network(tag)), _, _)) | Some((None, Some(tag), _)) => {
                SimOp::NetworkHangup(tag)
            }
            _ => {
                return Err(BusError::Api(PickupError::InvalidCallState(format!(
                    "there is no call at {number} whose far party could hang up"
                ))))
            }
        };
        self.run(op).await.map(|_| ())
    }
    async fn unplug(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        line_name: String,
    ) -> Result<(), BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONFIGURE)
            .await?;
        self.run(SimOp::Unplug(line_name)).await.map(|_| ())
    }
    async fn plug(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
        line_name: String,
    ) -> Result<(), BusError> {
        self.shared
            .authorize(conn, &hdr, api::POLKIT_ACTION_CONFIGURE)
            .await?;
        self.run(SimOp::Plug(line_name)).await.map(|_| ())
    }
}

// ----------------------------------------------------------------------------
// Serving and applying the engine's events

/// Register the root object; lines and addresses follow from the engine's
/// first batch.
pub async fn serve_root(conn: &Connection, shared: &Arc<Shared>) -> zbus::Result<()> {
    let server = conn.object_server();
    server.at(api::ROOT_PATH, fdo::ObjectManager).await?;
    server
        .at(
            api::ROOT_PATH,
            Checked::new(ManagerIface {
                shared: shared.clone(),
            }),
        )
        .await?;
    if let Some(sim) = &shared.sim {
        server
            .at(
                api::ROOT_PATH,
                Checked::new(SimulatorIface {
                    shared: shared.clone(),
                    sim: sim.clone(),
                }),
            )
            .await?;
    }
    Ok(())
}

/// Apply the engine's batches, one at a time, in order.
pub async fn run_adapter(
    conn: Connection,
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<BusBatch>,
) {
    let mut status = String::new();
    while let Some(batch) = rx.recv().await {
        let mut gate = batch.gate;
        if let Some(g) = gate.as_mut() {
            // The method handler registers the call it returns; this batch's
            // signals (its announcement among them) follow the reply.
            wait_for_reply(g).await;
        }
        for ev in batch.events {
            if let Err(e) = apply(&conn, &shared, ev, &mut gate).await {
                tracing::warn!("could not show a change on the bus: {e}");
            }
        }
        if let Some(done) = batch.done {
            let _ = done.send(());
        }
        let now = status_text(&shared);
        if now != status {
            // systemd shows it in `systemctl status`; a no-op elsewhere.
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&now)]);
            status = now;
        }
    }
}

/// "3 lines in service, 1 call", for systemd's status line.
fn status_text(shared: &Shared) -> String {
    let m = shared.read();
    let lines = m
        .lines
        .values()
        .filter(|l| l.state == crate::engine::LineState::InService)
        .count();
    let calls = m.calls.len();
    format!(
        "{lines} line{} in service, {calls} call{}",
        if lines == 1 { "" } else { "s" },
        if calls == 1 { "" } else { "s" }
    )
}

/// Wait (once) until the method reply that returns the gated call has been
/// sent; bounded so a stuck client cannot stall the bus.
async fn wait_for_reply(g: &mut AdapterGate) {
    if let Some(dispatched) = g.dispatched.take() {
        if let Ok(Ok(listener)) = tokio::time::timeout(Duration::from_secs(5), dispatched).await {
            let _ = tokio::time::timeout(Duration::from_secs(5), listener).await;
        }
    }
}

/// Register a call without announcing it: its `GetAll` fails while it is
/// marked quiet, which makes zbus skip the InterfacesAdded of `at`.
async fn register_quietly(conn: &Connection, shared: &Arc<Shared>, v: CallView) {
    let id = v.id;
    {
        let mut m = shared.write();
        m.calls.insert(id, v);
        m.quiet.insert(id);
    }
    let call = Checked::call(CallIface {
        shared: shared.clone(),
        id,
    });
    // `at` reports the failed announcement as an error; the object is registered.
    let _ = conn.object_server().at(call_path(id), call).await;
    shared.write().quiet.remove(&id);
}

fn emitter(conn: &Connection, p: &OwnedObjectPath) -> zbus::Result<SignalEmitter<'static>> {
    SignalEmitter::new(conn, p.clone().into_inner())
}

async fn props_changed(
    conn: &Connection,
    p: &OwnedObjectPath,
    iface: &'static str,
    name: &'static str,
    value: Value<'_>,
) -> zbus::Result<()> {
    let e = emitter(conn, p)?;
    let mut changed = HashMap::new();
    changed.insert(name, value);
    fdo::Properties::properties_changed(
        &e,
        InterfaceName::from_static_str_unchecked(iface),
        changed,
        Cow::Borrowed(&[]),
    )
    .await
}

fn paths<T: Copy>(ids: &[T], f: fn(T) -> OwnedObjectPath) -> Value<'static> {
    Value::from(ids.iter().map(|i| f(*i).into_inner()).collect::<Vec<_>>())
}

async fn apply(
    conn: &Connection,
    shared: &Arc<Shared>,
    ev: BusEvent,
    gate: &mut Option<AdapterGate>,
) -> zbus::Result<()> {
    let server = conn.object_server();
    let root = path(api::ROOT_PATH.into());
    match ev {
        BusEvent::LineAdded(v) => {
            let id = v.id;
            shared.write().lines.insert(id, v);
            server
                .at(
                    line_path(id),
                    Checked::new(LineIface {
                        shared: shared.clone(),
                        id,
                    }),
                )
                .await?;
        }
        BusEvent::AddressAdded(v) => {
            let id = v.id;
            shared.write().addresses.insert(id, v);
            server
                .at(
                    address_path(id),
                    Checked::new(AddressIface {
                        shared: shared.clone(),
                        id,
                    }),
                )
                .await?;
        }
        BusEvent::CallAdded(v) => {
            let id = v.id;
            let p = call_path(id);
            match gate.take_if(|g| g.call == id) {
                Some(mut g) => {
                    // Registered quietly before the batch; the reply has been
                    // sent, so it can be announced now.
                    wait_for_reply(&mut g).await;
                    let props = shared.read().calls.get(&id).map(call_properties);
                    if let Some(props) = props {
                        let mut ifaces = HashMap::new();
                        ifaces.insert(
                            InterfaceName::from_static_str_unchecked(api::CALL_INTERFACE),
                            props,
                        );
                        fdo::ObjectManager::interfaces_added(
                            &emitter(conn, &root)?,
                            p.as_ref(),
                            ifaces,
                        )
                        .await?;
                    }
                }
                None => {
                    shared.write().calls.insert(id, v);
                    server
                        .at(
                            p.clone(),
                            Checked::call(CallIface {
                                shared: shared.clone(),
                                id,
                            }),
                        )
                        .await?;
                }
            }
            ManagerIface::call_added(&emitter(conn, &root)?, p.as_ref()).await?;
        }
        BusEvent::CallRemoved(id) => {
            let p = call_path(id);
            server.remove::<Checked<CallIface>, _>(p.clone()).await?;
            shared.write().calls.remove(&id);
            ManagerIface::call_removed(&emitter(conn, &root)?, p.as_ref()).await?;
        }
        BusEvent::LineRemoved(id) => {
            server
                .remove::<Checked<LineIface>, _>(line_path(id))
                .await?;
            shared.write().lines.remove(&id);
        }
        BusEvent::AddressRemoved(id) => {
            server
                .remove::<Checked<AddressIface>, _>(address_path(id))
                .await?;
            shared.write().addresses.remove(&id);
        }
        BusEvent::Line(id, prop) => {
            let p = line_path(id);
            let (name, value): (&'static str, Value) = {
                let mut m = shared.write();
                let Some(l) = m.lines.get_mut(&id) else {
                    return Ok(());
                };
                match prop {
                    LineProp::State(s) => {
                        l.state = s;
                        ("State", Value::from(s.as_str()))
                    }
                    LineProp::Hook(h) => {
                        l.off_hook = h;
                        ("Hook", Value::from(hook_str(h)))
                    }
                    LineProp::Addresses(a) => {
                        let v = paths(&a, address_path);
                        l.addresses = a;
                        ("Addresses", v)
                    }
                }
            };
            props_changed(conn, &p, api::LINE_INTERFACE, name, value).await?;
        }
        BusEvent::Address(id, prop) => {
            let p = address_path(id);
            let (name, value): (&'static str, Value) = {
                let mut m = shared.write();
                let Some(a) = m.addresses.get_mut(&id) else {
                    return Ok(());
                };
                match prop {
                    AddressProp::Appearances(v) => {
                        let val = paths(&v, line_path);
                        a.appearances = v;
                        ("Appearances", val)
                    }
                    AddressProp::Features(f) => {
                        a.features = f;
                        ("Features", Value::from(f))
                    }
                    AddressProp::Calls(v) => {
                        let val = paths(&v, call_path);
                        a.calls = v;
                        ("Calls", val)
                    }
                }
            };
            props_changed(conn, &p, api::ADDRESS_INTERFACE, name, value).await?;
        }
        BusEvent::Call(id, prop) => {
            let p = call_path(id);
            let (name, value): (&'static str, Value) = {
                let mut m = shared.write();
                let Some(c) = m.calls.get_mut(&id) else {
                    return Ok(());
                };
                match prop {
                    CallProp::Station(s) => {
                        c.station = s;
                        ("Station", Value::from(opt_line_path(s).into_inner()))
                    }
                    CallProp::State(s) => {
                        c.state = s;
                        ("State", Value::from(s))
                    }
                    CallProp::StateMode(s) => {
                        c.state_mode = s;
                        ("StateMode", Value::from(s))
                    }
                    CallProp::Reason(r) => {
                        c.reason = r;
                        ("Reason", Value::from(r))
                    }
                    CallProp::CallerNumber(n) => {
                        c.caller_number = n.clone();
                        ("CallerNumber", Value::from(n))
                    }
                    CallProp::CallerName(n) => {
                        c.caller_name = n.clone();
                        ("CallerName", Value::from(n))
                    }
                    CallProp::CallWaiting(b) => {
                        c.call_waiting = b;
                        ("CallWaiting", Value::from(b))
                    }
                    CallProp::DetectedBy(d) => {
                        c.detected_by = d;
                        ("DetectedBy", Value::from(d))
                    }
                    CallProp::HeldBy(h) => {
                        c.held_by = h;
                        ("HeldBy", Value::from(opt_line_path(h).into_inner()))
                    }
                }
            };
            props_changed(conn, &p, api::CALL_INTERFACE, name, value).await?;
        }
        BusEvent::CallStateChanged {
            call,
            old,
            new,
            mode,
        } => {
            CallIface::emit_state_changed(&emitter(conn, &call_path(call))?, old, new, mode)
                .await?;
        }
        BusEvent::Manager(prop) => {
            let (name, value): (&'static str, Value) = {
                let mut m = shared.write();
                match prop {
                    ManagerProp::Lines(v) => {
                        let val = paths(&v, line_path);
                        m.line_order = v;
                        ("Lines", val)
                    }
                    ManagerProp::Addresses(v) => {
                        let val = paths(&v, address_path);
                        m.address_order = v;
                        ("Addresses", val)
                    }
                    ManagerProp::Calls(v) => {
                        let val = paths(&v, call_path);
                        m.call_order = v;
                        ("Calls", val)
                    }
                }
            };
            props_changed(conn, &root, api::MANAGER_INTERFACE, name, value).await?;
        }
    }
    Ok(())
}

fn call_properties(c: &CallView) -> HashMap<&'static str, Value<'static>> {
    let mut m = HashMap::new();
    m.insert("Address", Value::from(address_path(c.address).into_inner()));
    m.insert(
        "Station",
        Value::from(opt_line_path(c.station).into_inner()),
    );
    m.insert("State", Value::from(c.state));
    m.insert("StateMode", Value::from(c.state_mode));
    m.insert("Reason", Value::from(c.reason));
    m.insert("Direction", Value::from(c.direction.as_str()));
    m.insert("CallerNumber", Value::from(c.caller_number.clone()));
    m.insert("CallerName", Value::from(c.caller_name.clone()));
    m.insert("CalledNumber", Value::from(c.called_number.clone()));
    m.insert("CallWaiting", Value::from(c.call_waiting));
    m.insert("DetectedBy", Value::from(c.detected_by));
    m.insert("HeldBy", Value::from(opt_line_path(c.held_by).into_inner()));
    m.insert("Created", Value::from(c.created_us));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every method of the checked-in introspection XML, with the
    /// concatenated types of its `in` arguments.
    fn xml_methods() -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for (iface, xml) in api::INTERFACE_XML {
            let options = roxmltree::ParsingOptions {
                allow_dtd: true,
                ..Default::default()
            };
            let doc = roxmltree::Document::parse_with_options(xml, options)
                .expect("interface XML parses");
            for m in doc.descendants().filter(|n| n.has_tag_name("method")) {
                let sig: String = m
                    .children()
                    .filter(|a| a.has_tag_name("arg") && a.attribute("direction") == Some("in"))
                    .filter_map(|a| a.attribute("type"))
                    .collect();
                out.push((
                    iface.to_string(),
                    m.attribute("name").unwrap_or_default().to_string(),
                    sig,
                ));
            }
        }
        out
    }

    #[test]
    fn signature_table_matches_the_interface_xml() {
        let xml = xml_methods();
        for (iface, member, sig) in &xml {
            assert_eq!(
                expected_signature(iface, member),
                Some(sig.as_str()),
                "{iface}.{member}"
            );
        }
        assert_eq!(
            xml.len(),
            METHOD_SIGNATURES.len(),
            "the table has methods the XML lacks"
        );
    }
}
