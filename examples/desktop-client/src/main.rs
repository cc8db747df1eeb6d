//! `pickup-desktop`: what a desktop application needs from pickupd, in one
//! file — list the calls that are ringing, follow them as they start and
//! stop ringing, and pick one up to the user's own phone.
//!
//! Everything goes through the public D-Bus API with the typed proxies of
//! the `pickupd-api` crate; copy what you need.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use pickupd_api::proxy::{
    api_error, AddressProxy, CallProxy, LineProxy, ManagerProxy, StateChanged,
};
use pickupd_api::tapi::{call_state, disconnect_mode, name_of};
use pickupd_api::{PickupError, BUS_NAME, CALL_INTERFACE};
use zbus::message::Type;
use zbus::proxy::MethodFlags;
use zbus::zvariant::OwnedObjectPath;
use zbus::{Connection, MatchRule, MessageStream};

#[derive(Parser)]
#[command(about = "List ringing calls and pick one up, through pickupd's D-Bus API")]
struct Cli {
    /// Use the session bus (where `pickupd --sim --session` serves)
    #[arg(long, global = true, conflicts_with = "address")]
    session: bool,
    /// Use the bus at this D-Bus address instead of the system bus
    #[arg(long, global = true, value_name = "ADDR")]
    address: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the calls that are ringing now
    List,
    /// Print a line whenever a call starts or stops ringing (Ctrl-C ends)
    Watch,
    /// Pick up a ringing call to your own phone
    Pickup {
        /// The ringing number; without it, the oldest call ringing in your
        /// pickup groups (the same as dialing *8 at your phone)
        #[arg(value_name = "ADDRESS")]
        ringing: Option<String>,
        /// Your own number: the phone the call comes to
        #[arg(long, value_name = "MY_ADDRESS")]
        at: String,
    },
}

/// A failure, already worded for the person at the desk.
struct Failure(String);

impl From<zbus::Error> for Failure {
    fn from(err: zbus::Error) -> Self {
        // pickupd's own errors carry a sentence meant for people ("nothing is
        // alerting at 204"); the error name tells a program which case it is.
        if let Some(api) = api_error(&err) {
            let hint = match api {
                PickupError::NotAuthorized(_) => {
                    " (ask your administrator for org.pickupd.pickup1.control)"
                }
                _ => "",
            };
            return Failure(format!("{}: {}{hint}", api.short_name(), api.message()));
        }
        match &err {
            zbus::Error::MethodError(name, _, _)
                if name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown" =>
            {
                Failure(
                    "pickupd is not running on this bus (to try it without hardware: \
                         `pickupd --sim --session`, then add --session here)"
                        .into(),
                )
            }
            _ => Failure(format!("D-Bus error: {err}")),
        }
    }
}

/// What a person wants to know about a ringing call.
struct Ringing {
    number: String,
    caller: String,
    line: String,
    /// When it began, CLOCK_REALTIME in microseconds (the `Created` property).
    created_us: u64,
}

/// The call's details if it is ringing, else `None`.
///
/// A call can end between learning its path and reading it; then it is
/// simply no longer ringing, so read errors also give `None`.
async fn ringing(conn: &Connection, path: &OwnedObjectPath) -> Option<Ringing> {
    let read = async {
        let call = CallProxy::new(conn, path).await?;
        // A call-waiting call is OFFERING too, but nothing rings for it: it
        // is a beep in somebody's conversation, theirs to take.
        if call.state().await? != call_state::OFFERING || call.call_waiting().await? {
            return Ok::<_, zbus::Error>(None);
        }
        // The API names numbers and lines by object; people know them by
        // their `Number` and `Name`.
        let address = AddressProxy::new(conn, call.address().await?).await?;
        let line = LineProxy::new(conn, address.line().await?).await?;
        Ok(Some(Ringing {
            number: address.number().await?,
            caller: caller(&call).await?,
            line: line.name().await?,
            created_us: call.created().await?,
        }))
    };
    read.await.ok().flatten()
}

/// "5551234 ALICE"; either part is empty when the network did not send it.
async fn caller(call: &CallProxy<'_>) -> zbus::Result<String> {
    let who = format!(
        "{} {}",
        call.caller_number().await?,
        call.caller_name().await?
    );
    Ok(match who.trim() {
        "" => "unknown caller".to_string(),
        known => known.to_string(),
    })
}

/// "12s", "3m05s": how long ago a `Created` timestamp was.
fn ago(created_us: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now
        .saturating_sub(Duration::from_micros(created_us))
        .as_secs();
    match secs {
        0..60 => format!("{secs}s ago"),
        _ => format!("{}m{:02}s ago", secs / 60, secs % 60),
    }
}

async fn list(conn: &Connection) -> Result<(), Failure> {
    // `Calls` holds every call that is not IDLE; ringing is one state of many.
    let manager = ManagerProxy::new(conn).await?;
    let mut rows = Vec::new();
    for path in manager.calls().await? {
        rows.extend(ringing(conn, &path).await);
    }
    if rows.is_empty() {
        println!("no calls are ringing");
        return Ok(());
    }
    println!("{:<9} {:<24} {:<9} SINCE", "ADDRESS", "CALLER", "LINE");
    for r in rows {
        let since = ago(r.created_us);
        println!("{:<9} {:<24} {:<9} {since}", r.number, r.caller, r.line);
    }
    Ok(())
}

fn announce(r: &Ringing) {
    println!(
        "{} is ringing ({}, on {}) — pick up with: pickup-desktop pickup {} --at YOUR_NUMBER",
        r.number, r.caller, r.line, r.number
    );
}

async fn watch(conn: &Connection) -> Result<(), Failure> {
    let manager = ManagerProxy::new(conn).await?;
    // Subscribe first and look second, so that a call starting to ring in
    // between is not missed.
    let mut added = manager.receive_call_added().await?;
    // One match rule covers the StateChanged of every call, present and
    // future, instead of one proxy (and one rule) per call object.
    let rule = MatchRule::builder()
        .msg_type(Type::Signal)
        .sender(BUS_NAME)?
        .interface(CALL_INTERFACE)?
        .member("StateChanged")?
        .build();
    let mut changes = MessageStream::for_match_rule(rule, conn, None).await?;

    // The calls we announced, by path: once a call stops ringing its
    // properties may already be gone, so remember its number now.
    let mut announced: HashMap<String, String> = HashMap::new();
    for path in manager.calls().await? {
        if let Some(r) = ringing(conn, &path).await {
            announce(&r);
            announced.insert(path.to_string(), r.number);
        }
    }
    println!("watching for ringing calls (Ctrl-C to stop)");

    // Created once, so a Ctrl-C between two events is not lost.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            Some(signal) = added.next() => {
                // Inbound calls are created OFFERING, so a call that rings is
                // ringing when it is added.
                let path = signal.args()?.call;
                if let Some(r) = ringing(conn, &path).await {
                    announce(&r);
                    announced.insert(path.to_string(), r.number);
                }
            }
            Some(Ok(msg)) = changes.next() => {
                let Some(signal) = StateChanged::from_message(msg) else { continue };
                let args = signal.args()?;
                let path = signal.message().header().path().map(|p| p.to_string());
                if *args.old_state() != call_state::OFFERING {
                    continue;
                }
                let Some(number) = path.and_then(|p| announced.remove(&p)) else { continue };
                let why = match (*args.new_state(), *args.mode()) {
                    (call_state::CONNECTED, _) => "answered".to_string(),
                    (call_state::DISCONNECTED, disconnect_mode::PICKUP) => "picked up".to_string(),
                    (call_state::DISCONNECTED, _) => "caller hung up or call ended".to_string(),
                    (state, _) => name_of(call_state::ALL, state),
                };
                println!("{number} stopped ringing ({why})");
            }
        }
    }
}

async fn pickup(conn: &Connection, dest: Option<&str>, at: &str) -> Result<(), Failure> {
    let manager = ManagerProxy::new(conn).await?;
    // Pickup is a method of the *picker's* address (TAPI: linePickup on
    // your own line); FindAddress answers InvalidAddress for an unknown number.
    let me = AddressProxy::new(conn, manager.find_address(at).await?).await?;
    // Pickup(dest, group), empty string = NULL. A number in dest is a
    // directed pickup. Both empty is TAPI's overloaded form, resolved by the
    // daemon in a fixed order: the call waiting behind your conversation,
    // then a call held on a line key of your phone, then the oldest call
    // ringing in your pickup groups. (A group name alone picks in that group.)
    let dest = dest.unwrap_or("");
    // `me.pickup(dest, "")` would do; calling with AllowInteractiveAuth lets
    // polkit ask the user for a password on the system bus instead of
    // answering NotAuthorized at once.
    let picked: Option<OwnedObjectPath> = me
        .inner()
        .call_with_flags(
            "Pickup",
            MethodFlags::AllowInteractiveAuth.into(),
            &(dest, ""),
        )
        .await?;
    let path = picked.ok_or_else(|| Failure("pickupd sent no reply to Pickup".into()))?;
    // The returned call is a *new* object at your station (Reason PICKUP),
    // valid as soon as the reply arrives; the ringing one goes away.
    let call = CallProxy::new(conn, &path).await?;
    let state = call.state().await?;
    println!("picked up the call from {}", caller(&call).await?);
    println!("call:  {}", path.as_str());
    println!("state: {}", name_of(call_state::ALL, state));
    if state == call_state::OFFERING {
        // Your handset was on hook: your own phone rings now instead.
        println!("your phone at {at} is ringing: lift the handset to talk");
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let (bus, builder) = match &cli.address {
        Some(addr) => (
            format!("bus at {addr}"),
            zbus::connection::Builder::address(addr.as_str()),
        ),
        None if cli.session => ("session bus".into(), zbus::connection::Builder::session()),
        None => ("system bus".into(), zbus::connection::Builder::system()),
    };
    let conn = async { builder?.build().await }
        .await
        .map_err(|e| Failure(format!("cannot connect to the {bus}: {e}")))?;
    match cli.command {
        Command::List => list(&conn).await,
        Command::Watch => watch(&conn).await,
        Command::Pickup { ringing, at } => pickup(&conn, ringing.as_deref(), &at).await,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            eprintln!("pickup-desktop: {msg}");
            ExitCode::FAILURE
        }
    }
}
