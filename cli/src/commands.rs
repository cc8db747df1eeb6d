//! One function per command. Each takes the [`Ctx`] (a connection and its
//! settings) and an [`Out`] to write results to.

use pickupd_api::proxy::SimulatorProxy;
use pickupd_api::CALL_INTERFACE;
use serde_json::{json, Map, Value as Json};
use zbus::zvariant::OwnedObjectPath;

use crate::args::{CallRef, Cli, Cmd, PickupArgs, SimCmd};
use crate::bus::{object_path, Ctx};
use crate::error::CliError;
use crate::model::{ObjKind, Object, Snapshot};
use crate::output::{self, Out};
use crate::{monitor, resolve};

/// Run the command of `cli` on `ctx`, writing results to `out`.
pub async fn run(ctx: &Ctx, cli: &Cli, out: &mut Out<'_>) -> Result<(), CliError> {
    match &cli.command {
        Cmd::Status => status(ctx, out).await,
        Cmd::Lines => list(ctx, out, ObjKind::Line).await,
        Cmd::Line { line } => show_line(ctx, out, line).await,
        Cmd::Addresses => list(ctx, out, ObjKind::Address).await,
        Cmd::Address { number } => show_address(ctx, out, number).await,
        Cmd::Calls => list(ctx, out, ObjKind::Call).await,
        Cmd::Call { id } => show_call(ctx, out, id).await,
        Cmd::Pickup(args) => pickup(ctx, out, args).await,
        Cmd::Dial { at, target } => dial(ctx, out, at, target).await,
        Cmd::Answer { id } => call_action(ctx, out, id, CallAction::Answer).await,
        Cmd::Drop { id } => call_action(ctx, out, id, CallAction::Drop).await,
        Cmd::Hold { id } => call_action(ctx, out, id, CallAction::Hold).await,
        Cmd::Unhold { id } => call_action(ctx, out, id, CallAction::Unhold).await,
        Cmd::Swap { id, held_id } => swap(ctx, out, id, held_id).await,
        Cmd::Monitor => monitor::run(ctx, out).await,
        Cmd::Reload => reload(ctx, out).await,
        Cmd::Sim(sim_cmd) => sim(ctx, out, sim_cmd).await,
        // Offline: the connection is not used.
        Cmd::Tones(cmd) => crate::tones::run(cmd, out),
    }
}

pub async fn status(ctx: &Ctx, out: &mut Out<'_>) -> Result<(), CliError> {
    let snap = ctx.snapshot().await?;
    if out.json {
        out.json(&output::status_json(&snap))
    } else {
        out.text(&output::status_human(&snap))
    }
}

/// `lines`, `addresses`, `calls`: a table, or one JSON object per line.
pub async fn list(ctx: &Ctx, out: &mut Out<'_>, kind: ObjKind) -> Result<(), CliError> {
    let snap = ctx.snapshot().await?;
    let objects = match kind {
        ObjKind::Line => &snap.lines,
        ObjKind::Address => &snap.addresses,
        _ => &snap.calls,
    };
    if out.json {
        for obj in objects {
            out.json(&output::object_json(obj, &snap.names))?;
        }
        return Ok(());
    }
    if objects.is_empty() {
        let what = match kind {
            ObjKind::Line => "no lines",
            ObjKind::Address => "no addresses",
            _ => "no calls",
        };
        return out.text(what);
    }
    let table = match kind {
        ObjKind::Line => output::lines_table(&snap),
        ObjKind::Address => output::addresses_table(&snap),
        _ => output::calls_table(&snap),
    };
    out.text(&table)
}

fn print_object(out: &mut Out<'_>, obj: &Object, snap: &Snapshot) -> Result<(), CliError> {
    if out.json {
        out.json(&output::object_json(obj, &snap.names))
    } else {
        out.text(&output::object_detail(obj, &snap.names))
    }
}

pub async fn show_line(ctx: &Ctx, out: &mut Out<'_>, arg: &str) -> Result<(), CliError> {
    let snap = ctx.snapshot().await?;
    let line = resolve::line(&snap, arg)?;
    print_object(out, line, &snap)
}

pub async fn show_address(ctx: &Ctx, out: &mut Out<'_>, arg: &str) -> Result<(), CliError> {
    let path = resolve::address_path(ctx, arg).await?;
    let snap = ctx.snapshot().await?;
    let addr = snap
        .address_by_path(&path)
        .ok_or_else(|| CliError::NoSuchObject(format!("the address {arg} went away ({path})")))?;
    print_object(out, addr, &snap)
}

pub async fn show_call(ctx: &Ctx, out: &mut Out<'_>, id: &CallRef) -> Result<(), CliError> {
    let snap = ctx.snapshot().await?;
    let call = resolve::call(&snap, id)?;
    print_object(out, call, &snap)
}

/// Print a call that a method just returned: its summary, or its JSON.
/// A call that is already gone is reported as such, not as an error.
pub async fn print_new_call(
    ctx: &Ctx,
    out: &mut Out<'_>,
    path: &OwnedObjectPath,
) -> Result<(), CliError> {
    let path = path.as_str();
    let snap = ctx.snapshot().await?;
    let found = match snap.call_by_path(path) {
        Some(c) => Some(c.clone()),
        // Not yet listed by the ObjectManager: ask the call itself.
        None => ctx
            .get_all(path, CALL_INTERFACE)
            .await
            .ok()
            .map(|props| Object::new(path, ObjKind::Call, props)),
    };
    match (found, out.json) {
        (Some(call), true) => out.json(&output::object_json(&call, &snap.names)),
        (Some(call), false) => out.text(&output::call_summary(&call, &snap.names)),
        (None, true) => out.json(&json!({
            "path": path,
            "id": pickupd_api::object_number(path),
            "gone": true,
        })),
        (None, false) => out.text(&format!(
            "{} (already gone)",
            output::short_name(path, &snap.names)
        )),
    }
}

pub async fn pickup(ctx: &Ctx, out: &mut Out<'_>, args: &PickupArgs) -> Result<(), CliError> {
    let at = resolve::address_path(ctx, &args.at).await?;
    let dest = match &args.dest {
        Some(d) => resolve::number_arg(ctx, d).await?,
        None => String::new(),
    };
    let group = args.group.clone().unwrap_or_default();
    let address = ctx.address(&at).await?;
    let call: OwnedObjectPath = ctx
        .invoke(address.inner(), "Pickup", &(dest.as_str(), group.as_str()))
        .await?;
    print_new_call(ctx, out, &call).await
}

pub async fn dial(ctx: &Ctx, out: &mut Out<'_>, at: &str, target: &str) -> Result<(), CliError> {
    let at = resolve::address_path(ctx, at).await?;
    let address = ctx.address(&at).await?;
    let call: OwnedObjectPath = ctx.invoke(address.inner(), "Dial", &(target,)).await?;
    print_new_call(ctx, out, &call).await
}

/// The Call methods without arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallAction {
    Answer,
    Drop,
    Hold,
    Unhold,
}

impl CallAction {
    fn method(self) -> &'static str {
        match self {
            CallAction::Answer => "Answer",
            CallAction::Drop => "Drop",
            CallAction::Hold => "Hold",
            CallAction::Unhold => "Unhold",
        }
    }
    fn word(self) -> &'static str {
        match self {
            CallAction::Answer => "answer",
            CallAction::Drop => "drop",
            CallAction::Hold => "hold",
            CallAction::Unhold => "unhold",
        }
    }
    fn done(self) -> &'static str {
        match self {
            CallAction::Answer => "answered",
            CallAction::Drop => "dropped",
            CallAction::Hold => "put on hold",
            CallAction::Unhold => "taken off hold",
        }
    }
}

fn call_ref_json(call: &CallRef) -> Json {
    json!({"path": call.path, "id": call.id()})
}

/// `{"ok": true, "action": …, more…}`.
fn ok_json(action: &str, more: Vec<(&str, Json)>) -> Json {
    let mut m = Map::new();
    m.insert("ok".into(), json!(true));
    m.insert("action".into(), json!(action));
    for (k, v) in more {
        m.insert(k.into(), v);
    }
    Json::Object(m)
}

fn call_word(call: &CallRef) -> String {
    call.id()
        .map_or_else(|| call.path.clone(), |n| format!("call {n}"))
}

pub async fn call_action(
    ctx: &Ctx,
    out: &mut Out<'_>,
    id: &CallRef,
    action: CallAction,
) -> Result<(), CliError> {
    let proxy = ctx.call(&id.path).await?;
    if let Err(e) = ctx
        .invoke::<_, ()>(proxy.inner(), action.method(), &())
        .await
    {
        return Err(resolve::explain_call_error(ctx, e, id).await);
    }
    if out.json {
        out.json(&ok_json(action.word(), vec![("call", call_ref_json(id))]))
    } else {
        out.text(&format!("{} {}", call_word(id), action.done()))
    }
}

pub async fn swap(
    ctx: &Ctx,
    out: &mut Out<'_>,
    id: &CallRef,
    held: &CallRef,
) -> Result<(), CliError> {
    let proxy = ctx.call(&id.path).await?;
    let held_path = object_path(&held.path)?;
    if let Err(e) = ctx
        .invoke::<_, ()>(proxy.inner(), "SwapHold", &(held_path,))
        .await
    {
        let e = resolve::explain_call_error(ctx, e, id).await;
        return Err(resolve::explain_call_error(ctx, e, held).await);
    }
    if out.json {
        out.json(&ok_json(
            "swap",
            vec![
                ("call", call_ref_json(id)),
                ("held_call", call_ref_json(held)),
            ],
        ))
    } else {
        out.text(&format!(
            "{} on hold, {} connected",
            call_word(id),
            call_word(held)
        ))
    }
}

pub async fn reload(ctx: &Ctx, out: &mut Out<'_>) -> Result<(), CliError> {
    let manager = ctx.manager().await?;
    ctx.invoke::<_, ()>(manager.inner(), "Reload", &()).await?;
    if out.json {
        out.json(&ok_json("reload", vec![]))
    } else {
        out.text("configuration reloaded")
    }
}

const NOT_SIMULATED: &str = "pickupd is not running a simulated site (Simulated is false): \
     `pickupctl sim` needs the daemon started with --sim";

/// The Simulator, after checking that the site is simulated.
async fn simulator(ctx: &Ctx) -> Result<SimulatorProxy<'static>, CliError> {
    let manager = ctx.manager().await?;
    if !ctx.run(manager.simulated()).await? {
        return Err(CliError::failed(NOT_SIMULATED));
    }
    ctx.simulator().await
}

/// A root object without the Simulator interface means the site is not
/// simulated (should `Simulated` and the interface ever disagree).
fn sim_error(e: CliError) -> CliError {
    match e.dbus_name() {
        Some("org.freedesktop.DBus.Error.UnknownInterface") => CliError::failed(NOT_SIMULATED),
        _ => e,
    }
}

/// Add the numbers that exist to an unknown-number error.
async fn with_numbers(ctx: &Ctx, e: CliError) -> CliError {
    if !matches!(e, CliError::NoSuchObject(_)) {
        return e;
    }
    match ctx.snapshot().await {
        Ok(snap) => e.with_hint(&format!(
            "{} (see `pickupctl addresses`)",
            resolve::list_hint("numbers", &snap.address_numbers())
        )),
        Err(_) => e,
    }
}

pub async fn sim(ctx: &Ctx, out: &mut Out<'_>, cmd: &SimCmd) -> Result<(), CliError> {
    let sim = simulator(ctx).await?;
    let p = sim.inner();
    // (action word, human text, JSON members) of a method without a result.
    let (action, text, more): (&str, String, Vec<(&str, Json)>) = match cmd {
        SimCmd::Incoming { number, from, name } => {
            let number = resolve::number_arg(ctx, number).await?;
            let call: OwnedObjectPath = match ctx
                .invoke(
                    p,
                    "IncomingCall",
                    &(number.as_str(), from.as_str(), name.as_str()),
                )
                .await
            {
                Ok(c) => c,
                Err(e) => return Err(with_numbers(ctx, sim_error(e)).await),
            };
            return print_new_call(ctx, out, &call).await;
        }
        SimCmd::Offhook { number } => {
            let n = resolve::number_arg(ctx, number).await?;
            sim_call(ctx, p, "OffHook", &(n.as_str(),)).await?;
            (
                "offhook",
                format!("{n} off hook"),
                vec![("number", json!(n))],
            )
        }
        SimCmd::Onhook { number } => {
            let n = resolve::number_arg(ctx, number).await?;
            sim_call(ctx, p, "OnHook", &(n.as_str(),)).await?;
            ("onhook", format!("{n} on hook"), vec![("number", json!(n))])
        }
        SimCmd::Flash { number } => {
            let n = resolve::number_arg(ctx, number).await?;
            sim_call(ctx, p, "Flash", &(n.as_str(),)).await?;
            ("flash", format!("{n} flashed"), vec![("number", json!(n))])
        }
        SimCmd::Dial { number, digits } => {
            let n = resolve::number_arg(ctx, number).await?;
            sim_call(ctx, p, "Dial", &(n.as_str(), digits.as_str())).await?;
            (
                "dial",
                format!("{n} dialed {digits}"),
                vec![("number", json!(n)), ("digits", json!(digits))],
            )
        }
        SimCmd::Callwaiting { trunk, from, name } => {
            let n = resolve::number_arg(ctx, trunk).await?;
            sim_call(
                ctx,
                p,
                "CallWaiting",
                &(n.as_str(), from.as_str(), name.as_str()),
            )
            .await?;
            (
                "callwaiting",
                format!("call waiting on {n} from {from}"),
                vec![
                    ("number", json!(n)),
                    ("caller_number", json!(from)),
                    ("caller_name", json!(name)),
                ],
            )
        }
        SimCmd::Hangup { number } => {
            let n = resolve::number_arg(ctx, number).await?;
            sim_call(ctx, p, "RemoteHangup", &(n.as_str(),)).await?;
            (
                "hangup",
                format!("far party at {n} hung up"),
                vec![("number", json!(n))],
            )
        }
        SimCmd::Unplug { line } => {
            let name = resolve::line_name(ctx, line).await?;
            sim_call(ctx, p, "Unplug", &(name.as_str(),)).await?;
            (
                "unplug",
                format!("{name} unplugged"),
                vec![("line", json!(name))],
            )
        }
        SimCmd::Plug { line } => {
            let name = resolve::line_name(ctx, line).await?;
            sim_call(ctx, p, "Plug", &(name.as_str(),)).await?;
            (
                "plug",
                format!("{name} plugged in"),
                vec![("line", json!(name))],
            )
        }
    };
    if out.json {
        out.json(&ok_json(&format!("sim {action}"), more))
    } else {
        out.text(&text)
    }
}

async fn sim_call<B>(
    ctx: &Ctx,
    p: &zbus::Proxy<'_>,
    method: &'static str,
    body: &B,
) -> Result<(), CliError>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    match ctx.invoke::<_, ()>(p, method, body).await {
        Ok(()) => Ok(()),
        Err(e) => Err(with_numbers(ctx, sim_error(e)).await),
    }
}
