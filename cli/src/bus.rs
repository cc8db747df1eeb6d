//! The connection to the daemon: every D-Bus call goes through [`Ctx`],
//! which applies `--timeout`, the interactive-authorization flag and the
//! error mapping of [`crate::error`].

use std::future::Future;
use std::time::Duration;

use pickupd_api::proxy::{AddressProxy, CallProxy, ManagerProxy, SimulatorProxy};
use pickupd_api::{BUS_NAME, MANAGER_INTERFACE, ROOT_PATH};
use zbus::proxy::{CacheProperties, MethodFlags};
use zbus::zvariant::{DynamicDeserialize, DynamicType, ObjectPath};
use zbus::Connection;

use crate::args::{BusChoice, GlobalOpts};
use crate::error::{self, CliError};
use crate::model::{Managed, Props, Snapshot};

/// A connection to the bus and how to use it.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub conn: Connection,
    /// The bus, for messages.
    pub bus: BusChoice,
    /// Limit for each call.
    pub timeout: Duration,
    /// Set ALLOW_INTERACTIVE_AUTHORIZATION on mutating calls.
    pub interactive: bool,
}

impl Ctx {
    /// Wrap an existing connection (tests, embedding).
    pub fn new(conn: Connection, bus: BusChoice, timeout: Duration, interactive: bool) -> Self {
        Ctx {
            conn,
            bus,
            timeout,
            interactive,
        }
    }

    /// Connect to the bus chosen on the command line.
    pub async fn connect(opts: &GlobalOpts) -> Result<Ctx, CliError> {
        let bus = opts.bus();
        let conn = connect(&bus, opts.timeout).await?;
        Ok(Ctx::new(conn, bus, opts.timeout, !opts.no_ask_password))
    }

    /// Await a D-Bus operation within the timeout, mapping its error.
    pub async fn run<T, E, F>(&self, fut: F) -> Result<T, CliError>
    where
        F: Future<Output = Result<T, E>>,
        E: Into<zbus::Error>,
    {
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(error::timed_out(self.timeout)),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(error::from_zbus(&e.into(), &self.bus, self.timeout)),
        }
    }

    /// Call a method that changes something: with ALLOW_INTERACTIVE_AUTHORIZATION
    /// unless `--no-ask-password`.
    pub async fn invoke<B, R>(
        &self,
        proxy: &zbus::Proxy<'_>,
        method: &'static str,
        body: &B,
    ) -> Result<R, CliError>
    where
        B: serde::Serialize + DynamicType,
        R: for<'d> DynamicDeserialize<'d>,
    {
        if self.interactive {
            let reply: Option<R> = self
                .run(proxy.call_with_flags(method, MethodFlags::AllowInteractiveAuth.into(), body))
                .await?;
            reply.ok_or_else(|| CliError::failed(format!("pickupd sent no reply to {method}")))
        } else {
            self.run(proxy.call(method, body)).await
        }
    }

    pub async fn manager(&self) -> Result<ManagerProxy<'static>, CliError> {
        self.run(async {
            ManagerProxy::builder(&self.conn)
                .cache_properties(CacheProperties::No)
                .build()
                .await
        })
        .await
    }

    pub async fn simulator(&self) -> Result<SimulatorProxy<'static>, CliError> {
        self.run(async {
            SimulatorProxy::builder(&self.conn)
                .cache_properties(CacheProperties::No)
                .build()
                .await
        })
        .await
    }

    pub async fn address(&self, path: &str) -> Result<AddressProxy<'static>, CliError> {
        let path = object_path(path)?;
        self.run(async {
            AddressProxy::builder(&self.conn)
                .path(path)?
                .cache_properties(CacheProperties::No)
                .build()
                .await
        })
        .await
    }

    pub async fn call(&self, path: &str) -> Result<CallProxy<'static>, CliError> {
        let path = object_path(path)?;
        self.run(async {
            CallProxy::builder(&self.conn)
                .path(path)?
                .cache_properties(CacheProperties::No)
                .build()
                .await
        })
        .await
    }

    /// `Properties.GetAll(interface)` of one object.
    pub async fn get_all(&self, path: &str, interface: &'static str) -> Result<Props, CliError> {
        let path = object_path(path)?;
        self.run(async {
            let props = zbus::fdo::PropertiesProxy::builder(&self.conn)
                .destination(BUS_NAME)?
                .path(path)?
                .cache_properties(CacheProperties::No)
                .build()
                .await?;
            let iface = zbus::names::InterfaceName::try_from(interface)?;
            props.get_all(iface).await.map_err(zbus::Error::from)
        })
        .await
    }

    /// `ObjectManager.GetManagedObjects` on the root.
    pub async fn managed_objects(&self) -> Result<Managed, CliError> {
        let objects = self
            .run(async {
                let om = zbus::fdo::ObjectManagerProxy::builder(&self.conn)
                    .destination(BUS_NAME)?
                    .path(ROOT_PATH)?
                    .cache_properties(CacheProperties::No)
                    .build()
                    .await?;
                om.get_managed_objects().await.map_err(zbus::Error::from)
            })
            .await?;
        Ok(objects
            .into_iter()
            .map(|(path, ifaces)| {
                (
                    path.to_string(),
                    ifaces
                        .into_iter()
                        .map(|(i, props)| (i.to_string(), props))
                        .collect(),
                )
            })
            .collect())
    }

    /// The whole site: Manager properties and every object.
    pub async fn snapshot(&self) -> Result<Snapshot, CliError> {
        let manager = self.get_all(ROOT_PATH, MANAGER_INTERFACE).await?;
        let managed = self.managed_objects().await?;
        Ok(Snapshot::build(manager, managed))
    }
}

/// Validate an object path given by the user or the daemon.
pub fn object_path(path: &str) -> Result<ObjectPath<'static>, CliError> {
    ObjectPath::try_from(path.to_owned())
        .map_err(|_| CliError::NoSuchObject(format!("'{path}' is not a D-Bus object path")))
}

/// Open a connection to `bus`, within `timeout`. A bus that cannot be
/// reached is "daemon not running" (exit 8), naming the bus.
pub async fn connect(bus: &BusChoice, timeout: Duration) -> Result<Connection, CliError> {
    let builder = match bus {
        BusChoice::System => zbus::connection::Builder::system(),
        BusChoice::Session => zbus::connection::Builder::session(),
        BusChoice::Address(a) => zbus::connection::Builder::address(a.as_str()),
    };
    let build = async move { builder?.method_timeout(timeout).build().await };
    match tokio::time::timeout(timeout, build).await {
        Err(_) => Err(CliError::Timeout(format!(
            "could not connect to {bus} within {} (see --timeout)",
            error::format_duration(timeout)
        ))),
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(error::no_bus(bus, &e)),
    }
}
