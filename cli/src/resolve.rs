//! Naming objects on the command line: addresses by number or path, lines
//! by name or path, calls by id or path. Unknown names end with exit 10 and
//! a message saying what exists.

use pickupd_api::{is_dialable, ADDRESS_INTERFACE, ADDRESS_PATH_PREFIX, LINE_PATH_PREFIX};

use crate::args::CallRef;
use crate::bus::Ctx;
use crate::error::CliError;
use crate::model::{value_str, Object, Snapshot};

/// How many names a "… are: a, b, c" hint shows.
const HINT_MAX: usize = 20;

/// `lines are: trunk1, trunk2` / `there are no lines`.
pub fn list_hint(what: &str, items: &[String]) -> String {
    if items.is_empty() {
        return format!("there are no {what}");
    }
    let shown: Vec<&str> = items.iter().take(HINT_MAX).map(String::as_str).collect();
    let mut s = format!("{what} are: {}", shown.join(", "));
    if items.len() > HINT_MAX {
        s.push_str(&format!(", … ({} in all)", items.len()));
    }
    s
}

/// A line by name or path, in a snapshot.
pub fn line<'s>(snap: &'s Snapshot, arg: &str) -> Result<&'s Object, CliError> {
    let found = if arg.starts_with('/') {
        snap.line_by_path(arg)
    } else {
        snap.line_by_name(arg)
    };
    found.ok_or_else(|| {
        let what = if arg.starts_with('/') {
            format!("no line at {arg}")
        } else {
            format!("no line named '{arg}'")
        };
        CliError::NoSuchObject(what).with_hint(&list_hint("lines", &snap.line_names()))
    })
}

/// A call by id or path, in a snapshot.
pub fn call<'s>(snap: &'s Snapshot, call: &CallRef) -> Result<&'s Object, CliError> {
    snap.call_by_path(&call.path)
        .ok_or_else(|| no_such_call(call, &snap.call_ids()))
}

/// The error for a call that does not exist.
pub fn no_such_call(call: &CallRef, ids: &[String]) -> CliError {
    let what = match call.id() {
        Some(id) => format!("no call {id}"),
        None => format!("no call at {}", call.path),
    };
    let hint = if ids.is_empty() {
        "there are no calls now".to_owned()
    } else {
        format!("{} (see `pickupctl calls`)", list_hint("calls", ids))
    };
    CliError::NoSuchObject(what).with_hint(&hint)
}

/// Replace a "no such object" from a call method with a message naming the
/// calls that exist. Other errors pass unchanged.
pub async fn explain_call_error(ctx: &Ctx, err: CliError, call: &CallRef) -> CliError {
    let gone = matches!(err, CliError::NoSuchObject(_))
        || err.dbus_name() == Some("org.freedesktop.DBus.Error.UnknownInterface")
        || err.dbus_name() == Some("org.freedesktop.DBus.Error.UnknownMethod");
    if !gone {
        return err;
    }
    match ctx.snapshot().await {
        Ok(snap) if snap.call_by_path(&call.path).is_none() => no_such_call(call, &snap.call_ids()),
        _ => err,
    }
}

/// The path of an address named by number (via `Manager.FindAddress`) or path.
pub async fn address_path(ctx: &Ctx, arg: &str) -> Result<String, CliError> {
    if arg.starts_with('/') {
        if !arg.starts_with(ADDRESS_PATH_PREFIX) {
            return Err(CliError::NoSuchObject(format!(
                "'{arg}' is not an address path ({ADDRESS_PATH_PREFIX}N)"
            )));
        }
        // Confirm that it exists, for a clear message rather than a later UnknownObject.
        let snap = ctx.snapshot().await?;
        return match snap.address_by_path(arg) {
            Some(a) => Ok(a.path.clone()),
            None => Err(CliError::NoSuchObject(format!("no address at {arg}"))
                .with_hint(&numbers_hint(&snap))),
        };
    }
    if !is_dialable(arg) {
        let err = CliError::NoSuchObject(format!(
            "'{arg}' is not a number (only 0-9, * and #, 1 to 32 characters)"
        ));
        return Err(match ctx.snapshot().await {
            Ok(snap) => err.with_hint(&numbers_hint(&snap)),
            Err(_) => err,
        });
    }
    let manager = ctx.manager().await?;
    match ctx.run(manager.find_address(arg)).await {
        Ok(path) => Ok(path.to_string()),
        Err(err @ CliError::NoSuchObject(_)) => Err(match ctx.snapshot().await {
            Ok(snap) => err.with_hint(&numbers_hint(&snap)),
            Err(_) => err,
        }),
        Err(err) => Err(err),
    }
}

fn numbers_hint(snap: &Snapshot) -> String {
    format!(
        "{} (see `pickupctl addresses`)",
        list_hint("numbers", &snap.address_numbers())
    )
}

/// A number argument for the simulator or `--dest`: a number passes as it
/// is (the daemon checks it); an address path becomes its number.
pub async fn number_arg(ctx: &Ctx, arg: &str) -> Result<String, CliError> {
    if !arg.starts_with('/') {
        return Ok(arg.to_owned());
    }
    let path = address_path(ctx, arg).await?;
    let props = ctx.get_all(&path, ADDRESS_INTERFACE).await?;
    props
        .get("Number")
        .and_then(|v| value_str(v))
        .ok_or_else(|| CliError::failed(format!("the address at {path} has no Number")))
}

/// A line name argument: a name is checked against the lines that exist;
/// a line path becomes its name.
pub async fn line_name(ctx: &Ctx, arg: &str) -> Result<String, CliError> {
    if arg.starts_with('/') && !arg.starts_with(LINE_PATH_PREFIX) {
        return Err(CliError::NoSuchObject(format!(
            "'{arg}' is not a line path ({LINE_PATH_PREFIX}N)"
        )));
    }
    let snap = ctx.snapshot().await?;
    line(&snap, arg).map(|l| l.str("Name"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_call_ref;
    use crate::model::testdata::*;

    #[test]
    fn lines_by_name_and_path() {
        let snap = snapshot();
        assert_eq!(line(&snap, "trunk1").expect("name").path, L1);
        assert_eq!(line(&snap, L2).expect("path").str("Name"), "desk-201");
        let e = line(&snap, "trunk9").expect_err("unknown");
        assert_eq!(e.exit_code(), 10);
        assert_eq!(
            e.to_string(),
            "no line named 'trunk9'; lines are: trunk1, desk-201"
        );
        let e = line(&snap, "/org/pickupd/Pickup1/Line/9").expect_err("unknown path");
        assert!(e.to_string().starts_with("no line at /org"), "{e}");
    }

    #[test]
    fn calls_by_id() {
        let snap = snapshot();
        let seven = parse_call_ref("7").expect("7");
        assert_eq!(call(&snap, &seven).expect("call 7").path, C7);
        let nine = parse_call_ref("9").expect("9");
        let e = call(&snap, &nine).expect_err("no call 9");
        assert_eq!(e.exit_code(), 10);
        assert_eq!(
            e.to_string(),
            "no call 9; calls are: 7 (see `pickupctl calls`)"
        );
        assert_eq!(
            no_such_call(&nine, &[]).to_string(),
            "no call 9; there are no calls now"
        );
    }

    #[test]
    fn long_hints_are_cut() {
        let many: Vec<String> = (0..30).map(|n| n.to_string()).collect();
        let h = list_hint("numbers", &many);
        assert!(h.ends_with(", 19, … (30 in all)"), "{h}");
        assert_eq!(list_hint("lines", &[]), "there are no lines");
    }
}
