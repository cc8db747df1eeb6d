//! The running daemon's D-Bus surface against the checked-in introspection
//! XML (`api/interfaces/*.xml`), and that XML against the written contract
//! (`shared/spec/dbus-api.md`).

use pickupd_api::{
    ADDRESS_INTERFACE, BUS_NAME, CALL_INTERFACE, INTERFACE_XML, LINE_INTERFACE, MANAGER_INTERFACE,
    ROOT_PATH, SIMULATOR_INTERFACE,
};
use pickupd_tests::Daemon;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

const OBJECT_MANAGER: &str = "org.freedesktop.DBus.ObjectManager";

// ----------------------------------------------------------------------------
// A model of one interface, as introspection XML describes it.

#[derive(Debug, Clone, PartialEq, Eq)]
struct Arg {
    name: Option<String>,
    ty: String,
    direction: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Iface {
    methods: BTreeMap<String, Vec<Arg>>,
    /// name → (type, access)
    properties: BTreeMap<String, (String, String)>,
    signals: BTreeMap<String, Vec<Arg>>,
}

fn attr(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    node.attribute(name).map(str::to_owned)
}

fn args_of(node: roxmltree::Node<'_, '_>, default_direction: &str) -> Vec<Arg> {
    node.children()
        .filter(|c| c.has_tag_name("arg"))
        .map(|a| Arg {
            name: attr(a, "name"),
            ty: attr(a, "type").expect("every <arg> has a type"),
            direction: attr(a, "direction").unwrap_or_else(|| default_direction.to_owned()),
        })
        .collect()
}

/// Every `<interface>` in an introspection document, by name.
fn parse_interfaces(xml: &str) -> BTreeMap<String, Iface> {
    // roxmltree refuses DTDs unless asked.
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, opts)
        .unwrap_or_else(|e| panic!("introspection XML does not parse: {e}\n{xml}"));
    let root = doc.root_element();
    assert!(root.has_tag_name("node"), "root element is <node>: {xml}");
    let mut out = BTreeMap::new();
    for i in root.children().filter(|c| c.has_tag_name("interface")) {
        let name = attr(i, "name").expect("interface name");
        let mut iface = Iface::default();
        for m in i.children().filter(|c| c.is_element()) {
            let member = attr(m, "name").unwrap_or_default();
            match m.tag_name().name() {
                "method" => {
                    assert!(
                        iface
                            .methods
                            .insert(member.clone(), args_of(m, "in"))
                            .is_none(),
                        "{name}: method {member} twice"
                    );
                }
                "signal" => {
                    // Signal args have no meaningful direction (always out).
                    let args = args_of(m, "out")
                        .into_iter()
                        .map(|a| Arg {
                            direction: "out".into(),
                            ..a
                        })
                        .collect();
                    assert!(
                        iface.signals.insert(member.clone(), args).is_none(),
                        "{name}: signal {member} twice"
                    );
                }
                "property" => {
                    let ty = attr(m, "type").expect("property type");
                    let access = attr(m, "access").expect("property access");
                    assert!(
                        iface
                            .properties
                            .insert(member.clone(), (ty, access))
                            .is_none(),
                        "{name}: property {member} twice"
                    );
                }
                "annotation" => {}
                other => panic!("{name}: unexpected element <{other}>"),
            }
        }
        out.insert(name, iface);
    }
    out
}

fn checked_in() -> BTreeMap<String, Iface> {
    let mut all = BTreeMap::new();
    for (name, xml) in INTERFACE_XML {
        let parsed = parse_interfaces(xml);
        assert_eq!(
            parsed.keys().collect::<Vec<_>>(),
            vec![*name],
            "the checked-in XML of {name} holds exactly that interface"
        );
        all.extend(parsed);
    }
    all
}

fn fmt_args(args: &[Arg], with_out_names: bool) -> String {
    args.iter()
        .map(|a| {
            let name = if a.direction == "out" && !with_out_names {
                String::new()
            } else {
                a.name.clone().unwrap_or_default()
            };
            format!("{} {} {}", a.direction, a.ty, name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Differences between the daemon's interface and the checked-in one, both
/// directions. Out-argument names of methods are compared only when
/// `out_names` is set (they are not part of the wire format).
fn diff(iface: &str, live: &Iface, want: &Iface, out_names: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let keys = |a: &BTreeMap<String, Vec<Arg>>, b: &BTreeMap<String, Vec<Arg>>| {
        a.keys()
            .chain(b.keys())
            .cloned()
            .collect::<BTreeSet<String>>()
    };
    for m in keys(&live.methods, &want.methods) {
        match (live.methods.get(&m), want.methods.get(&m)) {
            (Some(l), Some(w)) => {
                let (l, w) = (fmt_args(l, out_names), fmt_args(w, out_names));
                if l != w {
                    problems.push(format!("{iface}.{m}: daemon has args ({l}), XML has ({w})"));
                }
            }
            (Some(_), None) => problems.push(format!("{iface}: extra method {m} on the daemon")),
            (None, Some(_)) => problems.push(format!("{iface}: method {m} missing on the daemon")),
            (None, None) => unreachable!(),
        }
    }
    for s in keys(&live.signals, &want.signals) {
        match (live.signals.get(&s), want.signals.get(&s)) {
            (Some(l), Some(w)) => {
                let (l, w) = (fmt_args(l, true), fmt_args(w, true));
                if l != w {
                    problems.push(format!(
                        "{iface}.{s} signal: daemon has ({l}), XML has ({w})"
                    ));
                }
            }
            (Some(_), None) => problems.push(format!("{iface}: extra signal {s} on the daemon")),
            (None, Some(_)) => problems.push(format!("{iface}: signal {s} missing on the daemon")),
            (None, None) => unreachable!(),
        }
    }
    let props: BTreeSet<&String> = live
        .properties
        .keys()
        .chain(want.properties.keys())
        .collect();
    for p in props {
        match (live.properties.get(p), want.properties.get(p)) {
            (Some(l), Some(w)) if l != w => problems.push(format!(
                "{iface}.{p} property: daemon has {l:?}, XML has {w:?}"
            )),
            (Some(_), Some(_)) => {}
            (Some(_), None) => problems.push(format!("{iface}: extra property {p} on the daemon")),
            (None, Some(_)) => {
                problems.push(format!("{iface}: property {p} missing on the daemon"))
            }
            (None, None) => unreachable!(),
        }
    }
    problems
}

async fn introspect(d: &Daemon, path: &str) -> String {
    let reply = d
        .conn
        .call_method(
            Some(BUS_NAME),
            path,
            Some("org.freedesktop.DBus.Introspectable"),
            "Introspect",
            &(),
        )
        .await
        .unwrap_or_else(|e| panic!("Introspect {path}: {e}"));
    reply.body().deserialize::<String>().expect("a string")
}

/// The daemon with one call alive, and the paths of a line, an address and
/// that call.
async fn daemon_with_a_call() -> (Daemon, String, String, OwnedObjectPath) {
    let d = Daemon::start_sim().await;
    let m = d.manager().await;
    let line = m.lines().await.expect("Lines")[0].to_string();
    let address = m.addresses().await.expect("Addresses")[0].to_string();
    let call = d
        .sim()
        .await
        .incoming_call("202", "5551234", "ALICE")
        .await
        .expect("IncomingCall");
    (d, line, address, call)
}

/// `(object, the org.pickupd.* interfaces it must carry)` for the four kinds.
fn expected_objects<'a>(
    line: &'a str,
    address: &'a str,
    call: &'a str,
) -> Vec<(&'a str, Vec<&'static str>)> {
    vec![
        (ROOT_PATH, vec![MANAGER_INTERFACE, SIMULATOR_INTERFACE]),
        (line, vec![LINE_INTERFACE]),
        (address, vec![ADDRESS_INTERFACE]),
        (call, vec![CALL_INTERFACE]),
    ]
}

async fn compare_live_with_xml(out_names: bool) -> Vec<String> {
    let (d, line, address, call) = daemon_with_a_call().await;
    let want = checked_in();
    let mut problems = Vec::new();
    for (path, ifaces) in expected_objects(&line, &address, call.as_str()) {
        let live = parse_interfaces(&introspect(&d, path).await);
        let ours: BTreeSet<&str> = live
            .keys()
            .map(String::as_str)
            .filter(|n| n.starts_with("org.pickupd."))
            .collect();
        let expected: BTreeSet<&str> = ifaces.iter().copied().collect();
        if ours != expected {
            problems.push(format!(
                "{path}: carries {ours:?}, expected exactly {expected:?}"
            ));
        }
        for name in ifaces {
            if let (Some(l), Some(w)) = (live.get(name), want.get(name)) {
                problems.extend(diff(name, l, w, out_names));
            }
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_interfaces_match_the_checked_in_xml() {
    let problems = compare_live_with_xml(false).await;
    assert!(
        problems.is_empty(),
        "the daemon and api/interfaces/*.xml disagree:\n  {}",
        problems.join("\n  ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_out_argument_names_match_the_checked_in_xml() {
    let problems = compare_live_with_xml(true).await;
    assert!(
        problems.is_empty(),
        "the daemon and api/interfaces/*.xml disagree:\n  {}",
        problems.join("\n  ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_is_an_object_manager_with_every_object_and_property() {
    let (d, _, _, call) = daemon_with_a_call().await;
    let root = parse_interfaces(&introspect(&d, ROOT_PATH).await);
    let om = root
        .get(OBJECT_MANAGER)
        .expect("the root implements org.freedesktop.DBus.ObjectManager");
    assert!(om.methods.contains_key("GetManagedObjects"), "{om:?}");
    assert!(om.signals.contains_key("InterfacesAdded"), "{om:?}");
    assert!(om.signals.contains_key("InterfacesRemoved"), "{om:?}");
    assert!(
        root.contains_key(SIMULATOR_INTERFACE),
        "--sim has Simulator"
    );
    let m = d.manager().await;
    assert!(m.simulated().await.expect("Simulated"));

    let reply = d
        .conn
        .call_method(
            Some(BUS_NAME),
            ROOT_PATH,
            Some(OBJECT_MANAGER),
            "GetManagedObjects",
            &(),
        )
        .await
        .expect("GetManagedObjects");
    type Managed = HashMap<OwnedObjectPath, HashMap<String, HashMap<String, OwnedValue>>>;
    let managed: Managed = reply.body().deserialize().expect("a{oa{sa{sv}}}");

    let lines = m.lines().await.expect("Lines");
    let addresses = m.addresses().await.expect("Addresses");
    let calls = m.calls().await.expect("Calls");
    assert_eq!(lines.len(), 7, "the built-in site has 7 lines");
    assert_eq!(addresses.len(), 7, "the built-in site has 7 numbers");
    assert!(calls.contains(&call), "{calls:?} holds {call}");

    let want = checked_in();
    let mut expected: BTreeMap<String, &str> = BTreeMap::new();
    for p in &lines {
        expected.insert(p.to_string(), LINE_INTERFACE);
    }
    for p in &addresses {
        expected.insert(p.to_string(), ADDRESS_INTERFACE);
    }
    for p in &calls {
        expected.insert(p.to_string(), CALL_INTERFACE);
    }
    // zbus also lists the bare parent nodes (`…/Line`, `…/Call`) with no
    // interface at all; those carry nothing and are not objects of ours.
    let got: BTreeSet<String> = managed
        .iter()
        .filter(|(_, ifaces)| !ifaces.is_empty())
        .map(|(p, _)| p.to_string())
        .filter(|p| p != ROOT_PATH)
        .collect();
    assert_eq!(
        got,
        expected.keys().cloned().collect::<BTreeSet<_>>(),
        "GetManagedObjects lists every line, address and call, and nothing else"
    );
    for (path, iface) in &expected {
        let ifaces = &managed[&OwnedObjectPath::try_from(path.as_str()).expect("path")];
        let props = ifaces
            .get(*iface)
            .unwrap_or_else(|| panic!("{path} has {iface} in GetManagedObjects: {ifaces:?}"));
        for (name, (ty, _)) in &want[*iface].properties {
            let v = props
                .get(name)
                .unwrap_or_else(|| panic!("{path}: property {name} missing in GetManagedObjects"));
            assert_eq!(
                v.value_signature().to_string(),
                *ty,
                "{path}: {name} has the XML's type"
            );
        }
        for name in props.keys() {
            // Extra read-only properties are allowed by the spec, but the
            // object manager must not invent ones the interface lacks.
            let live = parse_interfaces(&introspect(&d, path).await);
            assert!(
                live[*iface].properties.contains_key(name),
                "{path}: GetManagedObjects has {name}, which {iface} does not declare"
            );
        }
    }
    // The call we made is the one the object manager reports.
    let call_props = &managed[&call][CALL_INTERFACE];
    let caller: String = call_props["CallerNumber"]
        .try_clone()
        .expect("clone")
        .try_into()
        .expect("s");
    assert_eq!(caller, "5551234");
}

// ----------------------------------------------------------------------------
// The checked-in XML against shared/spec/dbus-api.md.

#[derive(Debug, Clone, PartialEq, Eq)]
enum SpecMember {
    Property {
        ty: String,
    },
    Method {
        ins: Vec<(String, String)>,
        outs: Vec<(String, Option<String>)>,
    },
    Signal {
        args: Vec<(String, String)>,
    },
}

fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec/dbus-api.md")
}

/// `(s number, s caller_number)` → `[("s","number"), …]`; `o call` → `[("o", Some("call"))]`.
fn parse_arg_list(s: &str) -> Vec<(String, Option<String>)> {
    let s = s.trim();
    let inner = s
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .unwrap_or(s)
        .trim();
    if inner.is_empty() {
        return Vec::new();
    }
    inner
        .split(',')
        .map(|a| {
            let mut words = a.split_whitespace();
            let ty = words.next().expect("a type").to_owned();
            (ty, words.next().map(str::to_owned))
        })
        .collect()
}

/// Every member of every table under the `## org.pickupd.Pickup1.X` headings.
fn parse_spec(text: &str) -> BTreeMap<String, BTreeMap<String, SpecMember>> {
    let mut out: BTreeMap<String, BTreeMap<String, SpecMember>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut default_method = false;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            current = h
                .split_whitespace()
                .next()
                .filter(|w| w.starts_with("org.pickupd.Pickup1."))
                .map(str::to_owned);
            default_method = false;
            continue;
        }
        let Some(iface) = &current else { continue };
        if !line.starts_with('|') {
            continue;
        }
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() < 2 {
            continue;
        }
        if cells[0] == "method" && cells[1] == "signature" {
            // The Simulator table: every row is a method.
            default_method = true;
            continue;
        }
        if cells[0] == "member" || cells[0].starts_with("---") {
            continue;
        }
        let (kind, names) = match cells[0].split_once(' ') {
            Some((k @ ("property" | "method" | "signal"), rest)) => (k, rest),
            _ if default_method || cells[1].starts_with('(') => ("method", cells[0]),
            _ => ("property", cells[0]),
        };
        let names: Vec<String> = names
            .split(',')
            .map(|n| n.trim().trim_matches('`').to_owned())
            .filter(|n| !n.is_empty())
            .collect();
        let sig = cells[1];
        let member = match kind {
            "property" => SpecMember::Property {
                ty: sig.split(',').next().expect("type").trim().to_owned(),
            },
            "signal" => SpecMember::Signal {
                args: parse_arg_list(sig)
                    .into_iter()
                    .map(|(t, n)| (t, n.expect("signal args are named in the spec")))
                    .collect(),
            },
            _ => {
                let (ins, outs) = sig
                    .split_once('→')
                    .unwrap_or_else(|| panic!("method signature with →: {line}"));
                SpecMember::Method {
                    ins: parse_arg_list(ins)
                        .into_iter()
                        .map(|(t, n)| (t, n.expect("in args are named in the spec")))
                        .collect(),
                    outs: parse_arg_list(outs),
                }
            }
        };
        let table = out.entry(iface.clone()).or_default();
        for n in names {
            table.insert(n, member.clone());
        }
    }
    out
}

#[test]
fn checked_in_xml_matches_the_written_spec() {
    let path = spec_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the API spec at {} ({e}); CI must check out shared/ beside the \
             repository (…/shared/spec/dbus-api.md next to …/main)",
            path.display()
        )
    });
    let spec = parse_spec(&text);
    let xml = checked_in();
    let names: BTreeSet<&str> = spec.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            MANAGER_INTERFACE,
            LINE_INTERFACE,
            ADDRESS_INTERFACE,
            CALL_INTERFACE,
            SIMULATOR_INTERFACE
        ]
        .into_iter()
        .collect(),
        "the spec documents the five interfaces"
    );
    // Sanity: the spec parser found the tables.
    assert!(
        spec[MANAGER_INTERFACE].len() >= 9,
        "{:?}",
        spec[MANAGER_INTERFACE]
    );
    assert_eq!(spec[CALL_INTERFACE].len(), 19, "{:?}", spec[CALL_INTERFACE]);
    assert_eq!(
        spec[SIMULATOR_INTERFACE].len(),
        9,
        "{:?}",
        spec[SIMULATOR_INTERFACE]
    );

    let mut problems = Vec::new();
    for (iface, members) in &spec {
        let x = &xml[iface];
        for (name, member) in members {
            match member {
                SpecMember::Property { ty } => match x.properties.get(name) {
                    Some((t, access)) => {
                        if t != ty {
                            problems.push(format!("{iface}.{name}: spec type {ty}, XML {t}"));
                        }
                        if access != "read" {
                            problems.push(format!("{iface}.{name}: access {access}, want read"));
                        }
                    }
                    None => problems.push(format!("{iface}: property {name} not in the XML")),
                },
                SpecMember::Method { ins, outs } => match x.methods.get(name) {
                    Some(args) => {
                        let xin: Vec<(String, String)> = args
                            .iter()
                            .filter(|a| a.direction == "in")
                            .map(|a| (a.ty.clone(), a.name.clone().unwrap_or_default()))
                            .collect();
                        let xout: Vec<&Arg> =
                            args.iter().filter(|a| a.direction == "out").collect();
                        if &xin != ins {
                            problems
                                .push(format!("{iface}.{name}: spec in-args {ins:?}, XML {xin:?}"));
                        }
                        let out_ok = xout.len() == outs.len()
                            && xout.iter().zip(outs).all(|(a, (t, n))| {
                                a.ty == *t && n.as_ref().is_none_or(|n| a.name.as_ref() == Some(n))
                            });
                        if !out_ok {
                            problems.push(format!(
                                "{iface}.{name}: spec out-args {outs:?}, XML {xout:?}"
                            ));
                        }
                    }
                    None => problems.push(format!("{iface}: method {name} not in the XML")),
                },
                SpecMember::Signal { args } => match x.signals.get(name) {
                    Some(xa) => {
                        let xa: Vec<(String, String)> = xa
                            .iter()
                            .map(|a| (a.ty.clone(), a.name.clone().unwrap_or_default()))
                            .collect();
                        if &xa != args {
                            problems
                                .push(format!("{iface}.{name} signal: spec {args:?}, XML {xa:?}"));
                        }
                    }
                    None => problems.push(format!("{iface}: signal {name} not in the XML")),
                },
            }
        }
        // Methods and signals are fixed by the spec; only read-only
        // properties may be added.
        for m in x.methods.keys() {
            if !matches!(members.get(m), Some(SpecMember::Method { .. })) {
                problems.push(format!("{iface}: XML method {m} is not in the spec"));
            }
        }
        for s in x.signals.keys() {
            if !matches!(members.get(s), Some(SpecMember::Signal { .. })) {
                problems.push(format!("{iface}: XML signal {s} is not in the spec"));
            }
        }
        for (p, (_, access)) in &x.properties {
            if !members.contains_key(p) && access != "read" {
                problems.push(format!("{iface}: extra XML property {p} is writable"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "api/interfaces/*.xml and {} disagree:\n  {}",
        path.display(),
        problems.join("\n  ")
    );
}

#[test]
fn the_spec_parser_reads_rows_it_should() {
    let spec = parse_spec(
        "## org.pickupd.Pickup1.Manager (root)\n\n| member | signature | meaning |\n|---|---|---|\n\
         | property `Lines`, `Calls` | ao | x |\n| method `FindAddress` | (s number) → o | x |\n\
         | signal `CallAdded` | (o call) | x |\n\n## org.pickupd.Pickup1.Simulator — w\n\n\
         | method | signature | meaning |\n|---|---|---|\n| `Plug` | (s line_name) → () | x |\n\
         \n## Errors\n\n| `InvalidAddress` | x | y |\n",
    );
    let m = &spec[MANAGER_INTERFACE];
    assert_eq!(m["Lines"], SpecMember::Property { ty: "ao".into() });
    assert_eq!(m["Calls"], SpecMember::Property { ty: "ao".into() });
    assert_eq!(
        m["FindAddress"],
        SpecMember::Method {
            ins: vec![("s".into(), "number".into())],
            outs: vec![("o".into(), None)]
        }
    );
    assert_eq!(
        m["CallAdded"],
        SpecMember::Signal {
            args: vec![("o".into(), "call".into())]
        }
    );
    assert_eq!(
        spec[SIMULATOR_INTERFACE]["Plug"],
        SpecMember::Method {
            ins: vec![("s".into(), "line_name".into())],
            outs: vec![]
        }
    );
    assert_eq!(spec.len(), 2, "the Errors table is not an interface");
}
