//! CSTA codec and framings (hardware.md §5): round trips of every message,
//! decoding of realistic documents in the shapes of §5.4, framing under
//! arbitrary chunk boundaries, and refusal of garbage.

use pickupd_hw::csta::enums::*;
use pickupd_hw::csta::xml::{MAX_DEPTH, MAX_MESSAGE_LEN};
use pickupd_hw::csta::*;
use proptest::prelude::*;

const NS3: &str = "http://www.ecma-international.org/standards/ecma-323/csta/ed3";

// ---------------------------------------------------------------------------
// Strategies

/// Identifier text, including characters that need escaping and whitespace
/// at the ends, which the encoder must preserve.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[0-9]{1,6}",
        2 => "[0-9A-Za-z:+#*._-]{1,16}",
        1 => "[ -~\t\n\ré€😀]{1,12}",
    ]
    .boxed()
}

fn device() -> BoxedStrategy<DeviceId> {
    text().prop_map(DeviceId).boxed()
}

fn cross_ref() -> BoxedStrategy<MonitorCrossRefId> {
    text().prop_map(MonitorCrossRefId).boxed()
}

fn connection() -> BoxedStrategy<ConnectionId> {
    (proptest::option::of(text()), proptest::option::of(device()))
        .prop_filter("a connection names something", |(c, d)| {
            c.is_some() || d.is_some()
        })
        .prop_map(|(c, d)| ConnectionId {
            call_id: c.map(CallId),
            device_id: d,
        })
        .boxed()
}

fn event_device() -> BoxedStrategy<EventDevice> {
    prop_oneof![
        4 => device().prop_map(EventDevice::Known),
        1 => Just(EventDevice::NotKnown),
        1 => Just(EventDevice::Restricted),
        1 => Just(EventDevice::NotRequired),
        1 => Just(EventDevice::NotSpecified),
    ]
    .boxed()
}

fn opt_device() -> BoxedStrategy<Option<EventDevice>> {
    proptest::option::of(event_device()).boxed()
}

/// Values of a table, or a vendor value (no ECMA-285 identifier starts with
/// `x`, so these decode back to `Other`).
fn table<T: Clone + std::fmt::Debug + 'static>(
    all: &'static [T],
    other: fn(String) -> T,
) -> impl Strategy<Value = T> {
    prop_oneof![
        5 => proptest::sample::select(all),
        1 => "x[A-Za-z]{1,10}".prop_map(other),
    ]
}

fn cause() -> BoxedStrategy<Option<EventCause>> {
    proptest::option::of(table(EventCause::ALL, EventCause::Other)).boxed()
}

fn state() -> BoxedStrategy<Option<LocalConnectionState>> {
    proptest::option::of(table(
        LocalConnectionState::ALL,
        LocalConnectionState::Other,
    ))
    .boxed()
}

fn csta_error() -> BoxedStrategy<CstaError> {
    prop_oneof![
        table(OperationError::ALL, OperationError::Other).prop_map(CstaError::Operation),
        table(SecurityError::ALL, SecurityError::Other).prop_map(CstaError::Security),
        table(
            StateIncompatibilityError::ALL,
            StateIncompatibilityError::Other
        )
        .prop_map(CstaError::StateIncompatibility),
        table(SystemResourceError::ALL, SystemResourceError::Other)
            .prop_map(CstaError::SystemResourceAvailability),
        table(SubscribedResourceError::ALL, SubscribedResourceError::Other)
            .prop_map(CstaError::SubscribedResourceAvailability),
        table(
            PerformanceManagementError::ALL,
            PerformanceManagementError::Other
        )
        .prop_map(CstaError::PerformanceManagement),
        table(PrivateDataError::ALL, PrivateDataError::Other).prop_map(CstaError::PrivateData),
        Just(CstaError::Unspecified),
    ]
    .boxed()
}

fn request() -> BoxedStrategy<Request> {
    prop_oneof![
        device().prop_map(|d| Request::MonitorStart {
            monitor_object: MonitorObject::Device(d)
        }),
        connection().prop_map(|c| Request::MonitorStart {
            monitor_object: MonitorObject::Call(c)
        }),
        cross_ref().prop_map(|cross_ref| Request::MonitorStop { cross_ref }),
        (device(), device()).prop_map(|(a, b)| Request::MakeCall {
            calling_device: a,
            called_directory_number: b
        }),
        connection().prop_map(|c| Request::AnswerCall {
            call_to_be_answered: c
        }),
        (connection(), cause()).prop_map(|(c, reason)| Request::ClearConnection {
            connection_to_be_cleared: c,
            reason
        }),
        connection().prop_map(|c| Request::HoldCall { call_to_be_held: c }),
        connection().prop_map(|c| Request::RetrieveCall {
            call_to_be_retrieved: c
        }),
        (connection(), device()).prop_map(|(c, d)| Request::DirectedPickupCall {
            call_to_be_picked_up: c,
            requesting_device: d
        }),
        (device(), proptest::option::of(device())).prop_map(|(d, g)| Request::GroupPickupCall {
            new_destination: d,
            pick_group: g
        }),
    ]
    .boxed()
}

fn response() -> BoxedStrategy<Response> {
    prop_oneof![
        cross_ref().prop_map(|cross_ref| Response::MonitorStart { cross_ref }),
        Just(Response::MonitorStop),
        connection().prop_map(|c| Response::MakeCall { calling_device: c }),
        Just(Response::AnswerCall),
        Just(Response::ClearConnection),
        Just(Response::HoldCall),
        Just(Response::RetrieveCall),
        proptest::option::of(connection())
            .prop_map(|picked_call| Response::DirectedPickupCall { picked_call }),
        proptest::option::of(connection())
            .prop_map(|picked_call| Response::GroupPickupCall { picked_call }),
    ]
    .boxed()
}

fn call_event() -> BoxedStrategy<CallEvent> {
    prop_oneof![
        (
            connection(),
            event_device(),
            opt_device(),
            opt_device(),
            opt_device(),
            state(),
            cause()
        )
            .prop_map(|(c, a, g, d, l, s, k)| CallEvent::Delivered(Delivered {
                connection: c,
                alerting_device: a,
                calling_device: g,
                called_device: d,
                last_redirection_device: l,
                local_connection_info: s,
                cause: k,
            })),
        (
            connection(),
            event_device(),
            opt_device(),
            opt_device(),
            opt_device(),
            state(),
            cause()
        )
            .prop_map(|(c, a, g, d, l, s, k)| CallEvent::Established(Established {
                established_connection: c,
                answering_device: a,
                calling_device: g,
                called_device: d,
                last_redirection_device: l,
                local_connection_info: s,
                cause: k,
            })),
        (connection(), event_device(), state(), cause()).prop_map(|(c, d, s, k)| CallEvent::Held(
            Held {
                held_connection: c,
                holding_device: d,
                local_connection_info: s,
                cause: k,
            }
        )),
        (connection(), event_device(), state(), cause()).prop_map(|(c, d, s, k)| {
            CallEvent::Retrieved(Retrieved {
                retrieved_connection: c,
                retrieving_device: d,
                local_connection_info: s,
                cause: k,
            })
        }),
        (
            connection(),
            event_device(),
            event_device(),
            opt_device(),
            opt_device(),
            opt_device(),
            state(),
            cause()
        )
            .prop_map(|(c, v, n, g, d, l, s, k)| CallEvent::Diverted(Diverted {
                connection: c,
                diverting_device: v,
                new_destination: n,
                calling_device: g,
                called_device: d,
                last_redirection_device: l,
                local_connection_info: s,
                cause: k,
            })),
        (connection(), event_device(), state(), cause()).prop_map(|(c, d, s, k)| {
            CallEvent::ConnectionCleared(ConnectionCleared {
                dropped_connection: c,
                releasing_device: d,
                local_connection_info: s,
                cause: k,
            })
        }),
        (connection(), event_device(), opt_device(), state(), cause()).prop_map(
            |(c, g, d, s, k)| CallEvent::Originated(Originated {
                originated_connection: c,
                calling_device: g,
                called_device: d,
                local_connection_info: s,
                cause: k,
            })
        ),
        (
            connection(),
            event_device(),
            opt_device(),
            opt_device(),
            opt_device(),
            state(),
            cause()
        )
            .prop_map(|(c, f, d, g, l, s, k)| CallEvent::Failed(Failed {
                failed_connection: c,
                failing_device: f,
                called_device: d,
                calling_device: g,
                last_redirection_device: l,
                local_connection_info: s,
                cause: k,
            })),
    ]
    .boxed()
}

fn message() -> BoxedStrategy<Message> {
    prop_oneof![
        request().prop_map(Message::Request),
        response().prop_map(Message::Response),
        csta_error().prop_map(Message::Error),
        (cross_ref(), call_event())
            .prop_map(|(cross_ref, event)| Message::Event(EventReport { cross_ref, event })),
    ]
    .boxed()
}

fn edition() -> BoxedStrategy<Edition> {
    prop_oneof![Just(Edition::Ed3), Just(Edition::Ed4), Just(Edition::Ed5)].boxed()
}

// ---------------------------------------------------------------------------
// Round trips

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_message_round_trips(m in message(), ed in edition()) {
        let xml = encode_with(&m, ed);
        prop_assert_eq!(decode_document(&xml), Ok((ed, m)));
    }

    #[test]
    fn messages_round_trip_through_both_framings(
        messages in proptest::collection::vec(message(), 1..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut ids = InvokeIds::new();
        let lp = LengthPrefixFramer::new();
        let dmcc = DmccFramer::new();
        let mut lp_wire = Vec::new();
        let mut dmcc_wire = Vec::new();
        let mut sent_ids = Vec::new();
        for m in &messages {
            let payload = encode(m);
            lp.encode(&payload, &mut lp_wire).expect("fits");
            let invoke_id = if matches!(m, Message::Event(_)) { InvokeId::EVENT } else { ids.next_id() };
            sent_ids.push(invoke_id);
            dmcc.encode(&DmccFrame { invoke_id, payload }, &mut dmcc_wire).expect("fits");
        }

        let mut got = Vec::new();
        let mut rx = LengthPrefixFramer::new();
        for chunk in chunks(&lp_wire, &cuts) {
            rx.feed(chunk, |f| got.push(decode(&f).expect("decodes"))).expect("well-formed");
        }
        prop_assert_eq!(&got, &messages);
        prop_assert_eq!(rx.buffered(), 0);

        let mut got = Vec::new();
        let mut rx = DmccFramer::new();
        for chunk in chunks(&dmcc_wire, &cuts) {
            rx.feed(chunk, |f| got.push((f.invoke_id, decode(&f.payload).expect("decodes"))))
                .expect("well-formed");
        }
        let want: Vec<_> = sent_ids.into_iter().zip(messages).collect();
        prop_assert_eq!(got, want);
    }
}

/// Splits `bytes` at the given cut points.
fn chunks<'a>(bytes: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

#[test]
fn every_enumeration_value_round_trips_by_name_and_code() {
    for c in EventCause::ALL {
        assert_eq!(&EventCause::from_name(c.as_str()), c);
        assert_eq!(c.code().and_then(EventCause::from_code).as_ref(), Some(c));
    }
    for e in OperationError::ALL {
        assert_eq!(&OperationError::from_name(e.as_str()), e);
        assert_eq!(
            e.code().and_then(OperationError::from_code).as_ref(),
            Some(e)
        );
    }
    assert_eq!(EventCause::CallPickup.code(), Some(11));
    assert_eq!(EventCause::NewCall.code(), Some(22));
    assert_eq!(EventCause::NormalClearing.code(), Some(48));
    assert_eq!(
        OperationError::InvalidCallToBePickedUpObjectType.code(),
        Some(79)
    );
    assert_eq!(LocalConnectionState::Hold.code(), Some(4));
    assert_eq!(
        EventCause::from_name("vendorCause"),
        EventCause::Other("vendorCause".into())
    );
}

#[test]
fn every_message_kind_round_trips_once() {
    // One of each, written out, so a failure names the message.
    let c = ConnectionId::new("42", "201");
    let all = vec![
        Message::Request(Request::MonitorStart {
            monitor_object: MonitorObject::Device(DeviceId::new("201")),
        }),
        Message::Request(Request::MonitorStop {
            cross_ref: MonitorCrossRefId::new("7"),
        }),
        Message::Request(Request::MakeCall {
            calling_device: DeviceId::new("201"),
            called_directory_number: DeviceId::new("0301234"),
        }),
        Message::Request(Request::AnswerCall {
            call_to_be_answered: c.clone(),
        }),
        Message::Request(Request::ClearConnection {
            connection_to_be_cleared: c.clone(),
            reason: Some(EventCause::NormalClearing),
        }),
        Message::Request(Request::HoldCall {
            call_to_be_held: c.clone(),
        }),
        Message::Request(Request::RetrieveCall {
            call_to_be_retrieved: c.clone(),
        }),
        Message::Request(Request::DirectedPickupCall {
            call_to_be_picked_up: c.clone(),
            requesting_device: DeviceId::new("204"),
        }),
        Message::Request(Request::GroupPickupCall {
            new_destination: DeviceId::new("204"),
            pick_group: Some(DeviceId::new("g1")),
        }),
        Message::Response(Response::MonitorStart {
            cross_ref: MonitorCrossRefId::new("7"),
        }),
        Message::Response(Response::MonitorStop),
        Message::Response(Response::MakeCall {
            calling_device: c.clone(),
        }),
        Message::Response(Response::AnswerCall),
        Message::Response(Response::ClearConnection),
        Message::Response(Response::HoldCall),
        Message::Response(Response::RetrieveCall),
        Message::Response(Response::DirectedPickupCall {
            picked_call: Some(ConnectionId::new("42", "204")),
        }),
        Message::Response(Response::GroupPickupCall { picked_call: None }),
        Message::Error(CstaError::Operation(
            OperationError::InvalidCallToBePickedUpObjectType,
        )),
        Message::Error(CstaError::Unspecified),
        Message::Event(EventReport {
            cross_ref: MonitorCrossRefId::new("7"),
            event: CallEvent::Established(Established {
                established_connection: ConnectionId::new("42", "204"),
                answering_device: EventDevice::Known(DeviceId::new("204")),
                calling_device: Some(EventDevice::Known(DeviceId::new("0301234"))),
                called_device: Some(EventDevice::Known(DeviceId::new("201"))),
                last_redirection_device: Some(EventDevice::NotRequired),
                local_connection_info: Some(LocalConnectionState::Connected),
                cause: Some(EventCause::CallPickup),
            }),
        }),
    ];
    for m in all {
        let xml = encode(&m);
        assert_eq!(
            decode(&xml),
            Ok(m.clone()),
            "{}",
            String::from_utf8_lossy(&xml)
        );
    }
}

#[test]
fn encoder_writes_the_shapes_of_ecma_323() {
    let m = Message::Request(Request::DirectedPickupCall {
        call_to_be_picked_up: ConnectionId::new("42", "201"),
        requesting_device: DeviceId::new("204"),
    });
    let xml = String::from_utf8(encode(&m)).expect("utf-8");
    assert_eq!(
        xml,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DirectedPickupCall xmlns=\"{NS3}\">\
             <callToBePickedUp><callID>42</callID><deviceID>201</deviceID></callToBePickedUp>\
             <requestingDevice>204</requestingDevice></DirectedPickupCall>"
        )
    );
    let xml = String::from_utf8(encode(&Message::Request(Request::MonitorStop {
        cross_ref: MonitorCrossRefId::new(" a&b<c>\r "),
    })))
    .expect("utf-8");
    assert!(
        xml.contains("<monitorCrossRefID>&#x20;a&amp;b&lt;c&gt;&#xD;&#x20;</monitorCrossRefID>"),
        "{xml}"
    );
}

// ---------------------------------------------------------------------------
// Realistic documents

fn ok(doc: &str) -> Message {
    match decode(doc.as_bytes()) {
        Ok(m) => m,
        Err(e) => panic!("{e}\n{doc}"),
    }
}

#[test]
fn delivered_event_pretty_printed_with_private_data() {
    let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<DeliveredEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
    <monitorCrossRefID>1001</monitorCrossRefID>
    <connection>
        <callID>  0042 </callID>
        <deviceID typeOfNumber="other" mediaClass="notKnown">201</deviceID>
    </connection>
    <alertingDevice>
        <deviceIdentifier typeOfNumber="dialingNumber">201</deviceIdentifier>
    </alertingDevice>
    <callingDevice>
        <deviceIdentifier>N&lt;+49301234&gt;</deviceIdentifier>
    </callingDevice>
    <calledDevice><deviceIdentifier>201</deviceIdentifier></calledDevice>
    <lastRedirectionDevice><notRequired/></lastRedirectionDevice>
    <localConnectionInfo>alerting</localConnectionInfo>
    <cause>newCall</cause>
    <!-- vendor data follows -->
    <servicesPermitted><callControlServices><answerCall>true</answerCall></callControlServices></servicesPermitted>
    <extensions>
        <privateData>
            <private>
                <iSeries:EventData xmlns:iSeries="http://www.siemens.com/schema/csta">
                    <iSeries:callID>0042</iSeries:callID>
                    <iSeries:cause>callPickup</iSeries:cause>
                </iSeries:EventData>
            </private>
        </privateData>
    </extensions>
</DeliveredEvent>
"#;
    assert_eq!(
        ok(doc),
        Message::Event(EventReport {
            cross_ref: MonitorCrossRefId::new("1001"),
            event: CallEvent::Delivered(Delivered {
                connection: ConnectionId::new("0042", "201"),
                alerting_device: EventDevice::Known(DeviceId::new("201")),
                calling_device: Some(EventDevice::Known(DeviceId::new("N<+49301234>"))),
                called_device: Some(EventDevice::Known(DeviceId::new("201"))),
                last_redirection_device: Some(EventDevice::NotRequired),
                local_connection_info: Some(LocalConnectionState::Alerting),
                cause: Some(EventCause::NewCall),
            }),
        })
    );
}

#[test]
fn prefixed_namespace_and_foreign_elements_of_the_same_name() {
    // Children in a foreign namespace do not count as CSTA fields, even with
    // a CSTA name: the Siemens `cause` below must not clash with the real one.
    let doc = r#"<csta:EstablishedEvent xmlns:csta="http://www.ecma-international.org/standards/ecma-323/csta/ed4"
        xmlns:sie="http://www.siemens.com/schema/csta">
  <csta:monitorCrossRefID>9</csta:monitorCrossRefID>
  <csta:establishedConnection><csta:callID>77</csta:callID><csta:deviceID>204</csta:deviceID></csta:establishedConnection>
  <csta:answeringDevice><csta:deviceIdentifier>204</csta:deviceIdentifier></csta:answeringDevice>
  <csta:callingDevice><csta:notKnown/></csta:callingDevice>
  <csta:calledDevice><csta:deviceIdentifier>201</csta:deviceIdentifier></csta:calledDevice>
  <csta:lastRedirectionDevice><csta:deviceIdentifier>201</csta:deviceIdentifier></csta:lastRedirectionDevice>
  <csta:localConnectionInfo>connected</csta:localConnectionInfo>
  <csta:cause>callPickup</csta:cause>
  <sie:cause>pickupGroup</sie:cause>
</csta:EstablishedEvent>"#;
    let (edition, m) = decode_document(doc.as_bytes()).expect("decodes");
    assert_eq!(edition, Edition::Ed4);
    let Message::Event(report) = m else {
        panic!("not an event: {m:?}")
    };
    assert!(report.event.is_pickup());
    assert_eq!(report.event.connection(), &ConnectionId::new("77", "204"));
    assert_eq!(
        report.event.subject_device().device(),
        Some(&DeviceId::new("204"))
    );
    let CallEvent::Established(e) = report.event else {
        panic!("not Established")
    };
    assert_eq!(e.calling_device, Some(EventDevice::NotKnown));
    assert_eq!(
        e.last_redirection_device,
        Some(EventDevice::Known(DeviceId::new("201")))
    );
}

#[test]
fn pickup_sequence_of_a_switch() {
    // Diverted (the ringing desk loses the call), then ConnectionCleared with
    // the same cause on a switch that reports it that way.
    let diverted = format!(
        r#"<DivertedEvent xmlns="{NS3}"><monitorCrossRefID>1001</monitorCrossRefID>
        <connection><callID>42</callID><deviceID>201</deviceID></connection>
        <divertingDevice><deviceIdentifier>201</deviceIdentifier></divertingDevice>
        <newDestination><deviceIdentifier>204</deviceIdentifier></newDestination>
        <callingDevice><deviceIdentifier>0301234</deviceIdentifier></callingDevice>
        <calledDevice><deviceIdentifier>201</deviceIdentifier></calledDevice>
        <lastRedirectionDevice><notKnown></notKnown></lastRedirectionDevice>
        <localConnectionInfo>null</localConnectionInfo><cause>callPickup</cause></DivertedEvent>"#
    );
    let Message::Event(EventReport {
        event: CallEvent::Diverted(d),
        ..
    }) = ok(&diverted)
    else {
        panic!("not Diverted")
    };
    assert_eq!(d.new_destination, EventDevice::Known(DeviceId::new("204")));
    assert_eq!(d.last_redirection_device, Some(EventDevice::NotKnown));
    assert_eq!(d.local_connection_info, Some(LocalConnectionState::Null));
    assert_eq!(d.cause, Some(EventCause::CallPickup));

    let cleared = format!(
        r#"<ConnectionClearedEvent xmlns="{NS3}"><monitorCrossRefID>1001</monitorCrossRefID>
        <droppedConnection><callID>42</callID><deviceID>201</deviceID></droppedConnection>
        <releasingDevice><deviceIdentifier>201</deviceIdentifier></releasingDevice>
        <localConnectionInfo>null</localConnectionInfo><cause>callPickup</cause>
        </ConnectionClearedEvent>"#
    );
    let Message::Event(report) = ok(&cleared) else {
        panic!("not an event")
    };
    assert!(report.event.is_pickup());
    assert_eq!(report.event.name(), "ConnectionClearedEvent");
}

#[test]
fn held_and_retrieved_events() {
    let held = format!(
        r#"<HeldEvent xmlns="{NS3}"><monitorCrossRefID>5</monitorCrossRefID>
        <heldConnection><callID>8</callID><deviceID>202</deviceID></heldConnection>
        <holdingDevice><deviceIdentifier>202</deviceIdentifier></holdingDevice>
        <localConnectionInfo>hold</localConnectionInfo><cause>normal</cause></HeldEvent>"#
    );
    let Message::Event(report) = ok(&held) else {
        panic!()
    };
    assert_eq!(
        report.event.local_connection_info(),
        Some(&LocalConnectionState::Hold)
    );
    let retrieved = format!(
        r#"<RetrievedEvent xmlns="{NS3}"><monitorCrossRefID>5</monitorCrossRefID>
        <retrievedConnection><callID>8</callID><deviceID>203</deviceID></retrievedConnection>
        <retrievingDevice><deviceIdentifier>203</deviceIdentifier></retrievingDevice>
        <cause>callPickup</cause></RetrievedEvent>"#
    );
    let Message::Event(report) = ok(&retrieved) else {
        panic!()
    };
    assert_eq!(
        report.event.subject_device(),
        &EventDevice::Known(DeviceId::new("203"))
    );
    assert_eq!(report.event.local_connection_info(), None);
}

#[test]
fn avaya_style_requests_and_responses() {
    let start = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<MonitorStart xmlns="{NS3}">
  <monitorObject><deviceObject typeOfNumber="other" mediaClass="notKnown">201:CSTA:10.0.0.1:0</deviceObject></monitorObject>
  <requestedMonitorFilter><physicalDeviceFeature><displayUpdated>true</displayUpdated></physicalDeviceFeature></requestedMonitorFilter>
  <extensions><privateData><private><AvayaEvents xmlns="http://www.avaya.com/csta"/></private></privateData></extensions>
</MonitorStart>"#
    );
    assert_eq!(
        ok(&start),
        Message::Request(Request::MonitorStart {
            monitor_object: MonitorObject::Device(DeviceId::new("201:CSTA:10.0.0.1:0"))
        })
    );
    let reply = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><MonitorStartResponse xmlns="{NS3}">
        <monitorCrossRefID>1001</monitorCrossRefID>
        <actualMonitorFilter><callcontrol/></actualMonitorFilter>
        <actualMonitorMediaClass><voice>true</voice></actualMonitorMediaClass>
        </MonitorStartResponse>"#
    );
    assert_eq!(
        ok(&reply),
        Message::Response(Response::MonitorStart {
            cross_ref: MonitorCrossRefId::new("1001")
        })
    );
    let group = format!(
        "<GroupPickupCall xmlns=\"{NS3}\">\r\n\t<newDestination>204</newDestination>\r\n</GroupPickupCall>"
    );
    assert_eq!(
        ok(&group),
        Message::Request(Request::GroupPickupCall {
            new_destination: DeviceId::new("204"),
            pick_group: None
        })
    );
    let answered = format!("<AnswerCallResponse xmlns=\"{NS3}\"/>");
    assert_eq!(ok(&answered), Message::Response(Response::AnswerCall));
    // A dynamic device id in its BER-like wrapper.
    let hold = format!(
        "<HoldCall xmlns=\"{NS3}\"><callToBeHeld><callID>9</callID>\
         <deviceID><dynamicID>0A0B</dynamicID></deviceID></callToBeHeld></HoldCall>"
    );
    assert_eq!(
        ok(&hold),
        Message::Request(Request::HoldCall {
            call_to_be_held: ConnectionId::new("9", "0A0B")
        })
    );
}

#[test]
fn error_responses_map_to_refusals() {
    let cases = [
        (
            "operation",
            "invalidCallToBePickedUpObjectType",
            Refusal::Failed,
        ),
        ("operation", "invalidDeviceID", Refusal::UnknownObject),
        ("operation", "invalidCallID", Refusal::UnknownObject),
        ("operation", "objectNotKnown", Refusal::UnknownObject),
        (
            "operation",
            "privilegeViolationPickUpDevice",
            Refusal::NotPermitted,
        ),
        ("operation", "serviceNotSupported", Refusal::NotSupported),
        (
            "operation",
            "requestIncompatibleWithPickupDevice",
            Refusal::NotSupported,
        ),
        (
            "stateIncompatibility",
            "invalidActiveDeviceState",
            Refusal::WrongState,
        ),
        (
            "stateIncompatibility",
            "noCallToAnswer",
            Refusal::WrongState,
        ),
        (
            "systemResourceAvailability",
            "pickupDeviceOutOfService",
            Refusal::ResourceUnavailable,
        ),
        (
            "subscribedResourceAvailability",
            "objectMonitorLimitExceeded",
            Refusal::ResourceUnavailable,
        ),
        ("security", "sequenceNumberViolated", Refusal::NotPermitted),
        ("operation", "invalidWidgetID", Refusal::UnknownObject),
    ];
    for (category, value, refusal) in cases {
        let doc = format!(
            "<?xml version=\"1.0\"?>\n<CSTAErrorCode xmlns=\"{NS3}\">\n  <{category}>{value}</{category}>\n</CSTAErrorCode>\n"
        );
        let Message::Error(e) = ok(&doc) else {
            panic!("{doc}")
        };
        assert_eq!(e.category(), category);
        assert_eq!(e.value(), value);
        assert_eq!(e.refusal(), refusal, "{e}");
    }
    assert_eq!(
        ok(&format!(
            "<CSTAErrorCode xmlns=\"{NS3}\"><unspecified/></CSTAErrorCode>"
        )),
        Message::Error(CstaError::Unspecified)
    );
    assert_eq!(
        ok(&format!(
            "<CSTAErrorCode xmlns=\"{NS3}\"><privateData><private><x xmlns=\"urn:v\">7</x></private></privateData></CSTAErrorCode>"
        )),
        Message::Error(CstaError::PrivateData(PrivateDataError::CSTAPrivateDataInfoError))
    );
    assert_eq!(
        CstaError::Operation(OperationError::InvalidCallToBePickedUpObjectType).to_string(),
        "operation/invalidCallToBePickedUpObjectType"
    );
}

#[test]
fn cdata_comments_and_processing_instructions() {
    let doc = format!(
        "<?xml version='1.0'?><!-- hi --><?pi x?><MonitorStop xmlns='{NS3}'>\
         <monitorCrossRefID><![CDATA[ 12 ]]></monitorCrossRefID></MonitorStop>"
    );
    assert_eq!(
        ok(&doc),
        Message::Request(Request::MonitorStop {
            cross_ref: MonitorCrossRefId::new(" 12 ")
        })
    );
    let doc = format!(
        "\u{FEFF}<MonitorStop xmlns='{NS3}'><monitorCrossRefID>&#49;&#x32;</monitorCrossRefID></MonitorStop>"
    );
    assert_eq!(
        ok(&doc),
        Message::Request(Request::MonitorStop {
            cross_ref: MonitorCrossRefId::new("12")
        })
    );
}

// ---------------------------------------------------------------------------
// Garbage

fn err(doc: &[u8]) -> DecodeError {
    match decode(doc) {
        Ok(m) => panic!("decoded {m:?} from {}", String::from_utf8_lossy(doc)),
        Err(e) => e,
    }
}

#[test]
fn malformed_documents_are_errors() {
    let ns = NS3;
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"   ".to_vec(),
        b"not xml at all".to_vec(),
        b"\xff\xfe<\x00".to_vec(),
        format!("<MonitorStop xmlns='{ns}'><monitorCrossRefID>1</monitorCrossRefID>").into_bytes(),
        format!("<MonitorStop xmlns='{ns}'></MonitorStart>").into_bytes(),
        format!("<MonitorStop xmlns='{ns}'><a></b></MonitorStop>").into_bytes(),
        format!("<MonitorStop xmlns='{ns}'/><MonitorStop xmlns='{ns}'/>").into_bytes(),
        format!("<MonitorStop xmlns='{ns}'/>trailing").into_bytes(),
        format!("<MonitorStop a='1' a='2' xmlns='{ns}'/>").into_bytes(),
        format!("<MonitorStop xmlns='{ns}'><monitorCrossRefID>&bogus;</monitorCrossRefID></MonitorStop>").into_bytes(),
        format!("<MonitorStop xmlns='{ns}'><monitorCrossRefID>&#0;</monitorCrossRefID></MonitorStop>").into_bytes(),
        format!("<MonitorStop xmlns='{ns}'><monitorCrossRefID>a\u{1}b</monitorCrossRefID></MonitorStop>").into_bytes(),
        format!("<!DOCTYPE x [<!ENTITY e 'x'>]><MonitorStop xmlns='{ns}'/>").into_bytes(),
        format!("<?xml version='1.0' encoding='ISO-8859-1'?><MonitorStop xmlns='{ns}'/>").into_bytes(),
        b"<p:MonitorStop><p:monitorCrossRefID>1</p:monitorCrossRefID></p:MonitorStop>".to_vec(),
    ];
    for doc in cases {
        err(&doc);
    }
}

#[test]
fn structure_errors_name_the_problem() {
    let ns = NS3;
    assert_eq!(
        err(b"<MonitorStop><monitorCrossRefID>1</monitorCrossRefID></MonitorStop>"),
        DecodeError::WrongNamespace(None)
    );
    assert!(matches!(
        err(b"<MonitorStop xmlns='urn:other'/>"),
        DecodeError::WrongNamespace(Some(_))
    ));
    assert!(matches!(
        err(format!("<MonitorStop xmlns='{}/ed9'/>", &ns[..ns.len() - 4]).as_bytes()),
        DecodeError::WrongNamespace(Some(_))
    ));
    assert_eq!(
        err(format!("<StartApplicationSession xmlns='{ns}'/>").as_bytes()),
        DecodeError::UnknownMessage("StartApplicationSession".into())
    );
    assert!(matches!(
        err(format!("<MonitorStop xmlns='{ns}'/>").as_bytes()),
        DecodeError::Missing {
            element: "monitorCrossRefID",
            ..
        }
    ));
    assert!(matches!(
        err(format!("<MonitorStop xmlns='{ns}'><monitorCrossRefID>1</monitorCrossRefID><monitorCrossRefID>2</monitorCrossRefID></MonitorStop>").as_bytes()),
        DecodeError::Duplicate { .. }
    ));
    assert!(matches!(
        err(format!(
            "<MonitorStop xmlns='{ns}'><monitorCrossRefID>  </monitorCrossRefID></MonitorStop>"
        )
        .as_bytes()),
        DecodeError::Invalid { .. }
    ));
    // A connection that names nothing.
    assert!(matches!(
        err(
            format!("<HoldCall xmlns='{ns}'><callToBeHeld><callID/></callToBeHeld></HoldCall>")
                .as_bytes()
        ),
        DecodeError::Missing { .. }
    ));
    // A choice with two alternatives.
    assert!(matches!(
        err(format!("<MonitorStart xmlns='{ns}'><monitorObject><deviceObject>1</deviceObject><callObject><callID>2</callID></callObject></monitorObject></MonitorStart>").as_bytes()),
        DecodeError::Duplicate { .. }
    ));
    assert!(matches!(
        err(
            format!("<CSTAErrorCode xmlns='{ns}'><vendorError>x</vendorError></CSTAErrorCode>")
                .as_bytes()
        ),
        DecodeError::Missing { .. }
    ));
    // An event without its cross reference.
    assert!(matches!(
        err(format!("<HeldEvent xmlns='{ns}'><heldConnection><callID>1</callID></heldConnection><holdingDevice>2</holdingDevice></HeldEvent>").as_bytes()),
        DecodeError::Missing { element: "monitorCrossRefID", .. }
    ));
}

#[test]
fn limits_are_enforced() {
    let ns = NS3;
    let deep = format!(
        "<MonitorStop xmlns='{ns}'>{}{}</MonitorStop>",
        "<a>".repeat(MAX_DEPTH + 5),
        "</a>".repeat(MAX_DEPTH + 5)
    );
    assert_eq!(
        err(deep.as_bytes()),
        DecodeError::TooDeep { max: MAX_DEPTH }
    );
    let big = format!(
        "<MonitorStop xmlns='{ns}'><monitorCrossRefID>{}</monitorCrossRefID></MonitorStop>",
        "1".repeat(MAX_MESSAGE_LEN)
    );
    assert!(matches!(err(big.as_bytes()), DecodeError::TooLarge { .. }));
    let many = format!(
        "<MonitorStop xmlns='{ns}'><monitorCrossRefID>1</monitorCrossRefID>{}</MonitorStop>",
        "<x/>".repeat(5000)
    );
    assert!(matches!(
        err(many.as_bytes()),
        DecodeError::TooManyElements { .. }
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn mutated_documents_never_panic_and_reencode_stably(
        m in message(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut xml = encode(&m);
        for (at, byte) in edits {
            let i = at.index(xml.len());
            xml[i] = byte;
        }
        if let Ok(decoded) = decode(&xml) {
            prop_assert_eq!(decode(&encode(&decoded)), Ok(decoded));
        }
    }
}

// ---------------------------------------------------------------------------
// Framing

#[test]
fn dmcc_header_layout() {
    let framer = DmccFramer::new();
    let mut out = Vec::new();
    framer
        .encode(
            &DmccFrame {
                invoke_id: InvokeId::new(42).expect("4 digits"),
                payload: b"<x/>".to_vec(),
            },
            &mut out,
        )
        .expect("fits");
    assert_eq!(out, b"\x00\x00\x00\x0c0042<x/>");

    let lp = LengthPrefixFramer::new();
    let mut out = Vec::new();
    lp.encode(&b"abc".to_vec(), &mut out).expect("fits");
    assert_eq!(out, b"\x00\x03abc");
}

#[test]
fn events_carry_invoke_id_9999() {
    let mut rx = DmccFramer::new();
    let mut frames = Vec::new();
    rx.feed(b"\x00\x00\x00\x0a9999ab", |f| frames.push(f))
        .expect("well-formed");
    assert_eq!(frames.len(), 1);
    assert!(frames[0].invoke_id.is_event());
    assert_eq!(frames[0].payload, b"ab");
    assert_eq!(InvokeId::EVENT.to_string(), "9999");
}

#[test]
fn corrupt_dmcc_headers_poison_the_link() {
    let cases: [(&[u8], FrameError); 4] = [
        (b"\x00\x01\x00\x0a0001ab", FrameError::BadVersion(1)),
        (b"\x00\x00\x00\x070001", FrameError::LengthTooShort(7)),
        (b"\x00\x00\x00\x0a00a1ab", FrameError::BadInvokeId(*b"00a1")),
        (b"\x00\x00\x00\x0a 001ab", FrameError::BadInvokeId(*b" 001")),
    ];
    for (bytes, want) in cases {
        let mut rx = DmccFramer::new();
        assert_eq!(rx.feed(bytes, |_| {}), Err(want.clone()));
        // Once lost, the stream stays lost, even if good bytes follow.
        assert_eq!(rx.push(b"\x00\x00\x00\x080001"), Err(want.clone()));
        assert_eq!(rx.pop(), Err(want));
    }
    // The error comes only once the whole header is there.
    let mut rx = DmccFramer::new();
    assert_eq!(rx.feed(b"\x00\x01\x00\x0a000", |_| {}), Ok(()));
    assert_eq!(rx.feed(b"1", |_| {}), Err(FrameError::BadVersion(1)));
}

#[test]
fn frames_over_the_limit_are_refused() {
    let mut rx = DmccFramer::with_max_frame(100);
    assert_eq!(
        rx.feed(b"\x00\x00\x01\x000001", |_| {}),
        Err(FrameError::TooLarge { len: 256, max: 100 })
    );
    let mut rx = LengthPrefixFramer::with_max_payload(10);
    assert_eq!(
        rx.feed(b"\x00\x0b", |_| {}),
        Err(FrameError::TooLarge { len: 11, max: 10 })
    );
    let big = vec![b'x'; 70_000];
    let mut out = Vec::new();
    assert!(LengthPrefixFramer::new().encode(&big, &mut out).is_err());
    assert!(DmccFramer::new()
        .encode(
            &DmccFrame {
                invoke_id: InvokeId::EVENT,
                payload: vec![0; 65_528]
            },
            &mut out
        )
        .is_err());
    assert!(DmccFramer::new()
        .encode(
            &DmccFrame {
                invoke_id: InvokeId::EVENT,
                payload: vec![0; 65_527]
            },
            &mut out
        )
        .is_ok());
    assert!(
        out.len() == 65_535,
        "nothing written by the refused encodes"
    );
}

#[test]
fn push_is_bounded_and_pop_makes_room() {
    let mut rx = LengthPrefixFramer::with_max_payload(4);
    let wire = b"\x00\x04abcd\x00\x02ef\x00\x00";
    let taken = rx.push(wire).expect("ok");
    assert_eq!(taken, 6, "one maximum frame fits");
    assert_eq!(rx.pop(), Ok(Some(b"abcd".to_vec())));
    assert_eq!(rx.pop(), Ok(None));
    let taken2 = rx.push(&wire[taken..]).expect("ok");
    assert_eq!(taken2, 6);
    assert_eq!(rx.pop(), Ok(Some(b"ef".to_vec())));
    assert_eq!(rx.pop(), Ok(Some(Vec::new())));
    assert_eq!(rx.pop(), Ok(None));
    assert_eq!(rx.buffered(), 0);
}

#[test]
fn invoke_ids_wrap_from_9998_to_0001() {
    let mut ids = InvokeIds::new();
    assert_eq!(ids.next_id().to_string(), "0001");
    for _ in 2..9998 {
        ids.next_id();
    }
    assert_eq!(ids.next_id().get(), 9998);
    assert_eq!(ids.next_id().get(), 1);
    assert_eq!(
        ids.next_unused(|id| id.get() < 5).map(InvokeId::get),
        Some(5)
    );
    assert_eq!(ids.next_unused(|_| true), None);
    assert_eq!(InvokeId::new(10_000), None);
    assert_eq!(InvokeId::from_ascii(*b"0420").map(InvokeId::get), Some(420));
    assert_eq!(InvokeId::new(7).map(InvokeId::to_ascii), Some(*b"0007"));
}

/// Feeds `bytes` in the given chunks and records frames and the final error.
fn run<F: Framer>(mut framer: F, chunks: &[&[u8]]) -> (Vec<F::Frame>, Option<FrameError>) {
    let mut frames = Vec::new();
    for chunk in chunks {
        if let Err(e) = framer.feed(chunk, |f| frames.push(f)) {
            return (frames, Some(e));
        }
    }
    (frames, None)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn chunking_does_not_change_what_a_stream_frames_to(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        valid_prefix in proptest::collection::vec(
            (0u16..=9999, proptest::collection::vec(any::<u8>(), 0..50)), 0..4),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        // Well-formed frames followed by arbitrary bytes, so that both the
        // good path and the corruption path are exercised.
        let mut lp_wire = Vec::new();
        let mut dmcc_wire = Vec::new();
        for (id, payload) in &valid_prefix {
            LengthPrefixFramer::new().encode(payload, &mut lp_wire).expect("fits");
            let frame = DmccFrame { invoke_id: InvokeId::new(*id).expect("4 digits"), payload: payload.clone() };
            DmccFramer::new().encode(&frame, &mut dmcc_wire).expect("fits");
        }
        lp_wire.extend_from_slice(&bytes);
        dmcc_wire.extend_from_slice(&bytes);

        let whole = run(LengthPrefixFramer::with_max_payload(300), &[&lp_wire]);
        let chunked = run(LengthPrefixFramer::with_max_payload(300), &chunks(&lp_wire, &cuts));
        prop_assert!(whole.0.len() >= valid_prefix.len());
        prop_assert_eq!(whole, chunked);

        let whole = run(DmccFramer::with_max_frame(300), &[&dmcc_wire]);
        let chunked = run(DmccFramer::with_max_frame(300), &chunks(&dmcc_wire, &cuts));
        prop_assert!(whole.0.len() >= valid_prefix.len());
        prop_assert_eq!(whole, chunked);
    }
}

#[test]
fn fuzz_seed_documents_decode() {
    // The hand-written seeds of the decoder's fuzz corpus are realistic
    // messages; each must decode (inputs the fuzzer adds have no extension).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/csta_decode");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "xml") {
            let bytes = std::fs::read(&path).expect("readable");
            let m = decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(decode(&encode(&m)), Ok(m));
            seen += 1;
        }
    }
    assert!(seen >= 12, "only {seen} seeds");
}
