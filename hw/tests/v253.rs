//! V.253 codec tests from the examples of hardware.md §3, byte-exact, plus
//! the properties the driver relies on: chunking independence, no panics,
//! bounded lines, and the emulated modem's encoding read back unchanged.

use std::borrow::Cow;

use pickupd_hw::v253::{
    end_stream, escape_audio, report_lines, select_vsm, CallerId, CallerIdCollector, CallerIdField,
    CallerIdMode, CallerNumber, Command, DleEvent, DtmfDigit, EncodeError, Encoder, EventLog,
    EventMask, HostDle, InitAction, InitError, InitSequence, ModemEvent, ModemParser, ModemProfile,
    ParserConfig, ParserMode, ResultFormat, ResultLine, SampleFormat, StreamError, StreamKind,
    Tone, VlsEntry, VoiceWriter, VsmChoice, VsmEntry,
};
use proptest::prelude::*;

fn parse_with(parser: &mut ModemParser, bytes: &[u8]) -> Vec<ModemEvent<'static>> {
    let mut log = EventLog::new();
    parser.feed(bytes, |e| log.push(e));
    log.into_events()
}

fn parse(bytes: &[u8]) -> Vec<ModemEvent<'static>> {
    parse_with(&mut ModemParser::default(), bytes)
}

/// A parser already in voice state, as after `AT+VRX` / `CONNECT`.
fn receiving() -> ModemParser {
    let mut parser = ModemParser::default();
    parser.expect_stream(StreamKind::Receive);
    let events = parse_with(&mut parser, b"\r\nCONNECT\r\n");
    assert_eq!(
        events.last(),
        Some(&ModemEvent::StreamStarted(StreamKind::Receive))
    );
    parser
}

fn audio(bytes: &[u8]) -> ModemEvent<'static> {
    ModemEvent::Audio(Cow::Owned(bytes.to_vec()))
}

fn dle(event: DleEvent) -> ModemEvent<'static> {
    ModemEvent::Dle(event)
}

fn line(line: ResultLine) -> ModemEvent<'static> {
    ModemEvent::Line(line)
}

fn digit(c: u8) -> DleEvent {
    DleEvent::Dtmf(DtmfDigit::from_ascii(c).expect("test digit"))
}

// ---------------------------------------------------------------- lines

#[test]
fn final_results_verbose() {
    let events = parse(
        b"\r\nOK\r\n\r\nERROR\r\n\r\nRING\r\n\r\nVCON\r\n\r\nNO CARRIER\r\n\
          \r\nBUSY\r\n\r\nNO DIALTONE\r\n\r\nNO ANSWER\r\n\r\nCONNECT\r\n",
    );
    assert_eq!(
        events,
        vec![
            line(ResultLine::Ok),
            line(ResultLine::Error),
            line(ResultLine::Ring),
            line(ResultLine::Vcon),
            line(ResultLine::NoCarrier),
            line(ResultLine::Busy),
            line(ResultLine::NoDialtone),
            line(ResultLine::NoAnswer),
            line(ResultLine::Connect(None)),
        ]
    );
}

#[test]
fn numeric_results_only_when_configured() {
    let mut numeric = ModemParser::new(ParserConfig {
        format: ResultFormat::Numeric,
        ..ParserConfig::default()
    });
    assert_eq!(
        parse_with(&mut numeric, b"0\r2\r4\r7\r99\r56000\r\n"),
        vec![
            line(ResultLine::Ok),
            line(ResultLine::Ring),
            line(ResultLine::Error),
            line(ResultLine::Busy),
            line(ResultLine::Numeric(99)),
            line(ResultLine::Info("56000".into())),
        ]
    );
    // Verbose: `ATI` answers such as 56000 or 0 are information (§3.9).
    assert_eq!(
        parse(b"\r\n56000\r\n\r\n0\r\n"),
        vec![
            line(ResultLine::Info("56000".into())),
            line(ResultLine::Info("0".into()))
        ]
    );
}

#[test]
fn numeric_connect_starts_stream_without_swallowing_lf() {
    // `ATV0`: `1<CR>` then audio; an audio byte 0x0A must not be eaten.
    let mut parser = ModemParser::new(ParserConfig {
        format: ResultFormat::Numeric,
        ..ParserConfig::default()
    });
    parser.expect_stream(StreamKind::Receive);
    assert_eq!(
        parse_with(&mut parser, b"1\r\n\x0a\x10\x03"),
        vec![
            line(ResultLine::Connect(None)),
            ModemEvent::StreamStarted(StreamKind::Receive),
            audio(b"\n\n"),
            dle(DleEvent::EndOfStream),
        ]
    );
}

#[test]
fn verbose_connect_lf_is_not_audio() {
    let mut parser = ModemParser::default();
    parser.expect_stream(StreamKind::FullDuplex);
    let mut events = Vec::new();
    // CR and LF in separate reads.
    for chunk in [&b"\r\nCONNECT\r"[..], b"\n", b"\x7f\x80"] {
        events.extend(parse_with(&mut parser, chunk));
    }
    assert_eq!(
        events,
        vec![
            line(ResultLine::Connect(None)),
            ModemEvent::StreamStarted(StreamKind::FullDuplex),
            audio(b"\x7f\x80"),
        ]
    );
}

#[test]
fn echo_is_reported_and_vtx_echo_arms() {
    let events = parse(b"ATE1\r\r\nOK\r\nAT+VTX\r\r\nCONNECT\r\n\x10d\x10\x03\r\nOK\r\n");
    assert_eq!(
        events,
        vec![
            ModemEvent::Echo("ATE1".into()),
            line(ResultLine::Ok),
            ModemEvent::Echo("AT+VTX".into()),
            line(ResultLine::Connect(None)),
            ModemEvent::StreamStarted(StreamKind::Transmit),
            dle(DleEvent::DialTone),
            dle(DleEvent::EndOfStream),
            line(ResultLine::Ok),
        ]
    );
}

#[test]
fn error_after_vrx_disarms() {
    let mut parser = ModemParser::default();
    parser.expect_stream(StreamKind::Receive);
    let events = parse_with(&mut parser, b"\r\nERROR\r\n\r\nCONNECT\r\nOK\r\n");
    assert_eq!(parser.mode(), ParserMode::Command);
    assert_eq!(
        events,
        vec![
            line(ResultLine::Error),
            line(ResultLine::Connect(None)),
            line(ResultLine::Ok)
        ]
    );
}

#[test]
fn caller_id_both_spellings_and_record() {
    // §3.8: `KEY = value` (spaces) and older `KEY=value`, between rings.
    let events = parse(
        b"\r\nRING\r\n\r\nDATE = 0321\r\nTIME = 1405\r\nNMBR = 5551234\r\nNAME = DOE JOHN\r\n\
          MESG=060142\r\nDDN_NMBR=200\r\n\r\nRING\r\n",
    );
    let mut collector = CallerIdCollector::new();
    let mut records = Vec::new();
    for event in &events {
        if let ModemEvent::Line(l) = event {
            records.extend(collector.line(l));
        }
    }
    assert_eq!(
        records,
        vec![CallerId {
            date: Some("0321".into()),
            time: Some("1405".into()),
            number: Some(CallerNumber::Number("5551234".into())),
            name: Some("DOE JOHN".into()),
            dialled: Some("200".into()),
            messages: vec!["060142".into()],
        }]
    );
    assert_eq!(
        ResultLine::parse("NMBR=P", ResultFormat::Verbose),
        ResultLine::CallerId(CallerIdField::Number(CallerNumber::Private))
    );
    assert_eq!(
        ResultLine::parse("NMBR = O", ResultFormat::Verbose),
        ResultLine::CallerId(CallerIdField::Number(CallerNumber::Unavailable))
    );
    assert_eq!(
        ResultLine::parse("FM:5551234 TO:200", ResultFormat::Verbose),
        ResultLine::CallerId(CallerIdField::FromTo {
            caller: CallerNumber::Number("5551234".into()),
            called: Some("200".into())
        })
    );
    assert_eq!(
        ResultLine::parse("CALLED NUMBER: 200", ResultFormat::Verbose),
        ResultLine::CallerId(CallerIdField::DialledNumber("200".into()))
    );
}

#[test]
fn cadence_reports() {
    assert_eq!(
        parse(b"DRON=20\r\nDROF=40\r\nCPON=5\r\nCPOF=5\r\n"),
        vec![
            line(ResultLine::RingCadence {
                on: true,
                tenths: 20
            }),
            line(ResultLine::RingCadence {
                on: false,
                tenths: 40
            }),
            line(ResultLine::ToneCadence {
                on: true,
                tenths: 5
            }),
            line(ResultLine::ToneCadence {
                on: false,
                tenths: 5
            }),
        ]
    );
}

#[test]
fn result_lines_round_trip_through_display() {
    for l in [
        ResultLine::Ok,
        ResultLine::Connect(Some("33600".into())),
        ResultLine::NoDialtone,
        ResultLine::CallerId(CallerIdField::Name("X Y".into())),
        ResultLine::CallerId(CallerIdField::Number(CallerNumber::Private)),
        ResultLine::RingCadence {
            on: true,
            tenths: 8,
        },
        ResultLine::Info("+VLS: 1".into()),
    ] {
        assert_eq!(parse(&l.to_verbose_bytes()), vec![line(l)]);
    }
}

#[test]
fn vls_list_line_and_masks() {
    // §3.6: the Conexant line for label 1.
    let entry = VlsEntry::parse(r#"1,"T",0B8433C1,0FE431C1,0B8431C1"#).expect("vls entry");
    assert_eq!(entry.label, 1);
    assert_eq!(entry.primitives, "T");
    // 0x0B = 0000 1011: events 4 (DTMF), 6, 7 on; 5 off.
    assert!(entry.tx_mask.contains(4));
    assert!(!entry.tx_mask.contains(5));
    assert!(entry.tx_mask.contains(6));
    // Event 15 (call-waiting beep) is not in any mask: run our own detector.
    assert!(!entry.reports_call_waiting());
    assert!(!entry.tx_mask.contains(32), "past the 8 digits");
    // `+VEM` default BB863EE0: 0xB = 1011 → event 0 on, 1 off.
    let vem = EventMask::parse("BB863EE0").expect("mask");
    assert!(vem.contains(0) && !vem.contains(1) && vem.contains(2));
    assert!(vem.contains(15) == (0x8 & 0x1 == 1));
    assert!(EventMask::parse("XYZ").is_none());
    assert!(VlsEntry::parse("OK").is_none());
}

#[test]
fn vsm_selection_by_name() {
    // Rockwell RC56LD: 130 is 8-bit unsigned linear, never ADPCM.
    let rc56: Vec<VsmEntry> = [
        r#"1,"UNSIGNED PCM",8,0,(7200,8000,11025),(0),(0)"#,
        r#"129,"IMA ADPCM",4,0,(7200,8000,11025),(0),(0)"#,
        r#"130,"UNSIGNED PCM",8,0,(7200,8000,11025),(0),(0)"#,
        r#"140,"2 Bit ADPCM",2,0,(7200,8000,11025),(0),(0)"#,
        r#"141,"4 Bit ADPCM",4,0,(7200,8000,11025),(0),(0)"#,
    ]
    .iter()
    .map(|l| VsmEntry::parse(l).expect("vsm entry"))
    .collect();
    assert_eq!(
        rc56[2].rates,
        vec![(7200, 7200), (8000, 8000), (11025, 11025)]
    );
    assert!(rc56[2].supports_rate(8000) && !rc56[2].supports_rate(7500));
    let range = VsmEntry::parse(r#"0,"SIGNED PCM",16,0,(7200-11025),(0),(0)"#).expect("range");
    assert!(range.supports_rate(8000) && !range.supports_rate(16000));
    assert_eq!(
        select_vsm(&rc56, 8000),
        Some(VsmChoice {
            id: 1,
            format: SampleFormat::UnsignedPcm8,
            rate: 8000
        })
    );
    // Conexant HSF: ULAW is named, so it wins.
    let hsf: Vec<VsmEntry> = [
        r#"1,"UNSIGNED PCM",8,0,(7200,8000),(0),(0)"#,
        r#"128,"8-BIT LINEAR",8,0,(7200,8000),(0),(0)"#,
        r#"129,"ADPCM",4,0,(7200,8000),(0),(0)"#,
        r#"131,"ULAW",8,0,(7200,8000),(0),(0)"#,
        r#"132,"ALAW",8,0,(7200,8000),(0),(0)"#,
        r#"133,"LINEAR",16,0,(7200,8000),(0),(0)"#,
    ]
    .iter()
    .map(|l| VsmEntry::parse(l).expect("vsm entry"))
    .collect();
    assert_eq!(select_vsm(&hsf, 8000).map(|c| c.id), Some(131));
    assert_eq!(select_vsm(&hsf, 11025), None);
    assert_eq!(select_vsm(&rc56[1..2], 8000), None, "ADPCM only");
}

#[test]
fn overlong_line_is_reported_and_skipped() {
    let mut bytes = vec![b'Z'; 1000];
    bytes.extend_from_slice(b"\r\nOK\r\n");
    assert_eq!(
        parse(&bytes),
        vec![
            ModemEvent::Error(StreamError::LineTooLong { limit: 256 }),
            line(ResultLine::Ok)
        ]
    );
    // Exactly at the limit is still a line.
    let mut bytes = vec![b'Z'; 256];
    bytes.push(b'\n');
    assert_eq!(parse(&bytes), vec![line(ResultLine::Info("Z".repeat(256)))]);
}

// ---------------------------------------------------------------- DLE

#[test]
fn every_modem_dle_code_of_the_table() {
    use DleEvent::*;
    let table: &[(u8, DleEvent)] = &[
        (b'R', Ring),
        (b'b', Busy),
        (b'K', Busy),
        (b'd', DialTone),
        (b'i', DialTone),
        (b'r', Ringback),
        (b'c', FaxCallingTone),
        (b'm', FaxCallingTone),
        (b'e', DataCallingTone),
        (b'f', DataAnswerTone),
        (b'a', AnswerTone),
        (b's', NoVoiceEnergy),
        (b'q', QuietAfterVoice),
        (b'h', HandsetOnHook),
        (b'p', HandsetOnHook),
        (b'H', HandsetOffHook),
        (b'P', HandsetOffHook),
        (b'l', LoopBreak),
        (b'L', LoopPolarityReversal),
        (b'w', CallWaiting),
        (b'J', SitTone),
        (b'$', BongTone),
        (b't', TddDetected),
        (b'v', VoiceDetected),
        (b'V', VoiceDetected),
        (b'o', ReceiveOverrun),
        (b'u', TransmitUnderrun),
        (b'E', InvalidVoiceFormat),
        (b'Y', LostData),
        (b'T', TimingMark),
        (b'Q', Xon),
        (b'S', Xoff),
        (b'*', digit(b'*')),
        (b'#', digit(b'#')),
        (b'0', digit(b'0')),
        (b'9', digit(b'9')),
        (b'A', digit(b'A')),
        (b'D', digit(b'D')),
    ];
    for &(code, event) in table {
        let mut parser = receiving();
        assert_eq!(
            parse_with(&mut parser, &[0x10, code]),
            vec![dle(event)],
            "code {:?}",
            char::from(code)
        );
        // Same code in command state (vgetty handles DLE codes there too).
        assert_eq!(parse(&[0x10, code]), vec![dle(event)]);
    }
}

#[test]
fn profile_dependent_codes() {
    let mut rockwell = ModemParser::new(ModemProfile::rockwell_legacy().parser_config());
    assert_eq!(
        parse_with(&mut rockwell, b"\x10t"),
        vec![dle(DleEvent::HandsetOffHook)]
    );
    let mut lucent = ModemParser::new(ModemProfile::lucent().parser_config());
    assert_eq!(
        parse_with(&mut lucent, b"\x10s"),
        vec![dle(DleEvent::Silence)]
    );
}

#[test]
fn dle_dle_and_sub_are_data() {
    let mut parser = receiving();
    assert_eq!(
        parse_with(&mut parser, b"\x01\x10\x10\x02\x10\x1a\x03"),
        vec![audio(b"\x01\x10\x02\x10\x10\x03")]
    );
}

#[test]
fn dle_at_end_of_chunk() {
    let mut parser = receiving();
    let mut events = parse_with(&mut parser, b"\x55\x10");
    assert_eq!(events, vec![audio(b"\x55")], "code not yet known");
    events = parse_with(&mut parser, b"b\x66");
    assert_eq!(events, vec![dle(DleEvent::Busy), audio(b"\x66")]);
}

#[test]
fn dle_dle_across_chunks() {
    let mut parser = receiving();
    let mut log = EventLog::new();
    for chunk in [&b"\x20\x10"[..], b"\x10", b"\x10", b"\x10\x21"] {
        parser.feed(chunk, |e| log.push(e));
    }
    assert_eq!(log.into_events(), vec![audio(b"\x20\x10\x10\x21")]);
}

#[test]
fn unknown_codes_are_reported() {
    let mut parser = receiving();
    assert_eq!(
        parse_with(&mut parser, b"\x01\x10z\x02\x10\xff"),
        vec![
            audio(b"\x01"),
            dle(DleEvent::Unknown(b'z')),
            audio(b"\x02"),
            dle(DleEvent::Unknown(0xff)),
        ]
    );
    // `<DLE><DLE>` in command state is not audio: reported, not dropped.
    assert_eq!(
        parse(b"\x10\x10OK\r\n"),
        vec![
            ModemEvent::Error(StreamError::DataOutsideStream(0x10)),
            line(ResultLine::Ok)
        ]
    );
}

#[test]
fn end_of_stream_returns_to_command_state() {
    let mut parser = receiving();
    assert_eq!(
        parse_with(&mut parser, b"\x80\x80\x10\x03\r\nOK\r\n"),
        vec![
            audio(b"\x80\x80"),
            dle(DleEvent::EndOfStream),
            line(ResultLine::Ok)
        ]
    );
    assert_eq!(parser.mode(), ParserMode::Command);
}

#[test]
fn dtmf_shielding_reports_first_digit_only() {
    // `/` … `~` with the digit repeating about every 70 ms (§3.4); AN93 ends
    // the shield with 0x7F.
    let mut parser = receiving();
    assert_eq!(
        parse_with(
            &mut parser,
            b"\x10/\x105\x01\x105\x105\x10~\x10/\x105\x105\x10\x7f\x105"
        ),
        vec![
            dle(DleEvent::DtmfShieldStart),
            dle(digit(b'5')),
            audio(b"\x01"),
            dle(DleEvent::DtmfShieldEnd),
            dle(DleEvent::DtmfShieldStart),
            dle(digit(b'5')),
            dle(DleEvent::DtmfShieldEnd),
            dle(digit(b'5')),
        ]
    );
    // Unshielded digits are all reported (two presses of the same key).
    let mut parser = receiving();
    assert_eq!(
        parse_with(&mut parser, b"\x101\x101"),
        vec![dle(digit(b'1')), dle(digit(b'1'))]
    );
}

#[test]
fn complex_event_report() {
    // Si AN93: `<DLE>X` … `<DLE>.` around caller ID, inside the stream.
    let mut parser = receiving();
    let events = parse_with(
        &mut parser,
        b"\x01\x10XDATE=0321\r\nNMBR=5551234\r\n\x10\x10\x10.\x02",
    );
    assert_eq!(
        events,
        vec![
            audio(b"\x01"),
            ModemEvent::Report(b"DATE=0321\r\nNMBR=5551234\r\n\x10".to_vec()),
            audio(b"\x02"),
        ]
    );
    let ModemEvent::Report(report) = &events[1] else {
        unreachable!()
    };
    assert_eq!(
        report_lines(report)[..2],
        [
            ResultLine::CallerId(CallerIdField::Date("0321".into())),
            ResultLine::CallerId(CallerIdField::Number(CallerNumber::Number(
                "5551234".into()
            ))),
        ]
    );
    // Oversized and unterminated reports are reported.
    let mut parser = receiving();
    let mut bytes = b"\x10X".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 300));
    bytes.extend_from_slice(b"\x10.\x10.\x10X\x10\x03");
    assert_eq!(
        parse_with(&mut parser, &bytes),
        vec![
            ModemEvent::Error(StreamError::ReportTooLong { limit: 256 }),
            ModemEvent::Error(StreamError::StrayReportEnd),
            ModemEvent::Error(StreamError::UnterminatedReport),
            dle(DleEvent::EndOfStream),
        ]
    );
    assert_eq!(parser.mode(), ParserMode::Command);
}

#[test]
fn dle_events_round_trip() {
    use DleEvent::*;
    for event in [
        Ring,
        Busy,
        DialTone,
        Ringback,
        CallWaiting,
        LoopBreak,
        HandsetOffHook,
        SitTone,
        digit(b'#'),
        Unknown(b'!'),
    ] {
        assert_eq!(DleEvent::from_code(event.code(), false, false), Some(event));
        let mut parser = receiving();
        assert_eq!(parse_with(&mut parser, &event.to_bytes()), vec![dle(event)]);
    }
}

// ---------------------------------------------------------------- host side

#[test]
fn host_dle_codes_are_byte_exact() {
    assert_eq!(HostDle::GainUp.to_bytes(), [0x10, 0x75]);
    assert_eq!(HostDle::GainDown.to_bytes(), [0x10, 0x64]);
    assert_eq!(HostDle::Pause.to_bytes(), [0x10, 0x70]);
    assert_eq!(HostDle::Resume.to_bytes(), [0x10, 0x72]);
    assert_eq!(HostDle::EndOfTransmit.to_bytes(), [0x10, 0x03]);
    assert_eq!(HostDle::ClearTransmit.to_bytes(), [0x10, 0x18]);
    assert_eq!(HostDle::AbortReceive.to_bytes(), [0x10, 0x21]);
    assert_eq!(HostDle::EndFullDuplex.to_bytes(), [0x10, 0x5E]);
    assert_eq!(HostDle::NoOp.to_bytes(), [0x10, 0x00]);
    for code in [b'u', b'd', b'p', b'r', 0x03, 0x18, b'!', b'^', 0x00] {
        assert_eq!(HostDle::from_code(code).map(HostDle::code), Some(code));
    }
    assert_eq!(HostDle::from_code(b'R'), None);
    assert_eq!(end_stream(StreamKind::Receive), [0x10, b'!']);
    assert_eq!(end_stream(StreamKind::Transmit), [0x10, 0x03]);
    assert_eq!(end_stream(StreamKind::FullDuplex), [0x10, b'^']);
}

#[test]
fn outgoing_audio_doubles_dle() {
    assert_eq!(escape_audio(b"\x10"), b"\x10\x10");
    assert_eq!(escape_audio(b"a\x10\x10b"), b"a\x10\x10\x10\x10b");
    assert_eq!(escape_audio(b""), b"");
    let mut w = VoiceWriter::new();
    w.audio(b"\x7f\x10\x80").code(HostDle::EndOfTransmit);
    assert_eq!(w.take(), b"\x7f\x10\x10\x80\x10\x03");
    assert!(w.as_bytes().is_empty());
}

fn texts(profile: &ModemProfile, command: &Command) -> Vec<String> {
    Encoder::new(profile)
        .encode(command)
        .expect("encodes")
        .into_iter()
        .map(|l| l.text)
        .collect()
}

#[test]
fn v253_commands_byte_exact() {
    let p = ModemProfile::conexant();
    let e = Encoder::new(&p);
    let bytes = |c: &Command| -> Vec<u8> {
        e.encode(c)
            .expect("encodes")
            .iter()
            .flat_map(|l| l.to_bytes())
            .collect()
    };
    assert_eq!(bytes(&Command::VoiceMode), b"AT+FCLASS=8\r");
    assert_eq!(bytes(&Command::OffHook), b"AT+VLS=1\r");
    assert_eq!(bytes(&Command::OnHook), b"AT+VLS=0\r");
    assert_eq!(bytes(&Command::Handset), b"AT+VLS=2\r");
    assert_eq!(bytes(&Command::QueryLabels), b"AT+VLS=?\r");
    assert_eq!(bytes(&Command::HookOn), b"ATH0\r");
    assert_eq!(bytes(&Command::HookOff), b"ATH1\r");
    let choice = p.vsm.expect("conexant has a fixed method");
    assert_eq!(
        bytes(&Command::Compression {
            choice,
            four_args: false
        }),
        b"AT+VSM=130,8000\r"
    );
    assert_eq!(
        bytes(&Command::Compression {
            choice,
            four_args: true
        }),
        b"AT+VSM=130,8000,0,0\r"
    );
    assert_eq!(bytes(&Command::Receive), b"AT+VRX\r");
    assert_eq!(bytes(&Command::Transmit), b"AT+VTX\r");
    assert_eq!(bytes(&Command::FullDuplex), b"AT+VTR\r");
    assert_eq!(
        bytes(&Command::CallerId(CallerIdMode::Formatted)),
        b"AT+VCID=1\r"
    );
    assert_eq!(bytes(&Command::InactivityTimer(0)), b"AT+VIT=0\r");
    assert_eq!(bytes(&Command::FlowControl), b"AT+IFC=2,2\r");
    assert_eq!(
        bytes(&Command::EventMask(0xBB86_3EE0)),
        b"AT+VEM=BB863EE0\r"
    );
    assert_eq!(
        bytes(&Command::SilenceDetection {
            sensitivity: 128,
            interval: 50
        }),
        b"AT+VSD=128,50\r"
    );
    assert_eq!(bytes(&Command::Dial("*8".into())), b"ATD*8;\r");
    // §3.7: a 300 ms flash, then DTMF 1, 2.
    let flash_then_digits = Command::Tones(vec![
        Tone::FlashFor(30),
        Tone::Digit(DtmfDigit::from_ascii(b'1').expect("digit")),
        Tone::Digit(DtmfDigit::from_ascii(b'2').expect("digit")),
    ]);
    assert_eq!(bytes(&flash_then_digits), b"AT+VTS={!,30},1,2\r");
    assert_eq!(bytes(&Command::Flash { duration: None }), b"AT+VTS=!\r");
    assert_eq!(
        bytes(&Command::Flash { duration: Some(30) }),
        b"AT+VTS={!,30}\r"
    );
    assert_eq!(
        bytes(&Command::Tones(vec![Tone::Dual {
            f1: 440,
            f2: 0,
            duration: 100
        }])),
        b"AT+VTS=[440,0,100]\r"
    );
    // Streams are flagged so the parser can be told.
    let lines = e.encode(&Command::FullDuplex).expect("encodes");
    assert_eq!(lines[0].opens, Some(StreamKind::FullDuplex));
}

#[test]
fn encoder_rejects_bad_input() {
    let p = ModemProfile::conexant();
    let e = Encoder::new(&p);
    assert_eq!(
        e.encode(&Command::Tones(vec![Tone::Dual {
            f1: 100,
            f2: 0,
            duration: 1
        }])),
        Err(EncodeError::InvalidFrequency(100))
    );
    assert_eq!(
        e.encode(&Command::Tones(vec![])),
        Err(EncodeError::EmptyTones)
    );
    assert_eq!(Tone::digits("12x"), Err(EncodeError::InvalidDigit('x')));
    assert_eq!(
        e.encode(&Command::Dial("1\r".into())),
        Err(EncodeError::InvalidDialChar('\r'))
    );
    assert!(matches!(
        e.encode(&Command::Raw("AT\rATZ".into())),
        Err(EncodeError::InvalidRaw(_))
    ));
    assert!(matches!(
        e.encode(&Command::SelectLabel("1;H".into())),
        Err(EncodeError::InvalidLabel(_))
    ));
}

#[test]
fn quirks_change_what_is_sent() {
    // Rockwell legacy: `#` set, #CID, ATH1 after #VLS, no +VTR / +VTS flash.
    let rockwell = ModemProfile::rockwell_legacy();
    assert_eq!(texts(&rockwell, &Command::VoiceMode), ["AT#CLS=8"]);
    assert_eq!(texts(&rockwell, &Command::OffHook), ["AT#VLS=0", "ATH1"]);
    assert_eq!(texts(&rockwell, &Command::OnHook), ["ATH0", "AT#VLS=0"]);
    assert_eq!(texts(&rockwell, &Command::Receive), ["AT#VRX"]);
    assert_eq!(
        texts(&rockwell, &Command::CallerId(CallerIdMode::Formatted)),
        ["AT#CID=1"]
    );
    assert!(texts(&rockwell, &Command::FlowControl).is_empty());
    let e = Encoder::new(&rockwell);
    assert!(matches!(
        e.encode(&Command::FullDuplex),
        Err(EncodeError::Unsupported { .. })
    ));
    assert!(matches!(
        e.encode(&Command::Flash { duration: None }),
        Err(EncodeError::Unsupported { .. })
    ));
    // USRobotics: #VLS=0A, and the line re-selected after every beep.
    let usr = ModemProfile::usrobotics();
    assert_eq!(texts(&usr, &Command::OffHook), ["AT#VLS=0A"]);
    assert_eq!(
        texts(&usr, &Command::Tones(Tone::digits("*8").expect("digits"))),
        ["AT#VTS=*,8", "AT#VLS=0A"]
    );
    assert!(matches!(
        Encoder::new(&usr).encode(&Command::Handset),
        Err(EncodeError::NoHandset(_))
    ));
    // Lucent: +VSM=<id> alone.
    let lucent = ModemProfile::lucent();
    let choice = lucent.vsm.expect("lucent has a fixed method");
    assert_eq!(
        texts(
            &lucent,
            &Command::Compression {
                choice,
                four_args: false
            }
        ),
        ["AT+VSM=129"]
    );
    // ELSA: rate forced to 7200.
    let elsa = ModemProfile::elsa();
    assert_eq!(
        texts(
            &elsa,
            &Command::Compression {
                choice: VsmChoice {
                    id: 1,
                    format: SampleFormat::UnsignedPcm8,
                    rate: 8000
                },
                four_args: false
            }
        ),
        ["AT+VSM=1,7200"]
    );
    // Reduced V.253: no +IFC.
    assert!(texts(&ModemProfile::generic_v253_reduced(), &Command::FlowControl).is_empty());
}

#[test]
fn profiles_are_consistent() {
    let all = ModemProfile::all();
    assert!(all.len() >= 2);
    for p in &all {
        assert_eq!(ModemProfile::by_name(&p.name).as_ref(), Some(p));
        for line in &p.init {
            assert!(
                Encoder::new(p).encode(&Command::Raw(line.clone())).is_ok(),
                "{}: {line}",
                p.name
            );
        }
        if let Some(vsm) = p.vsm {
            assert_eq!(vsm.rate, 8000, "{}", p.name);
        }
    }
    assert_eq!(
        ModemProfile::conexant().vsm.map(|v| (v.id, v.format)),
        Some((130, SampleFormat::UnsignedPcm8))
    );
    assert_eq!(
        ModemProfile::conexant_hsf().vsm.map(|v| (v.id, v.format)),
        Some((131, SampleFormat::MuLaw))
    );
}

// ---------------------------------------------------------------- init

/// Runs an init sequence against a scripted modem: `answer` gives the lines
/// for each command text.
fn run_init(
    profile: &ModemProfile,
    mut answer: impl FnMut(&str) -> Vec<ResultLine>,
) -> (Vec<String>, InitAction) {
    let mut seq = InitSequence::new(profile);
    let mut sent = Vec::new();
    let mut action = seq.start();
    for _ in 0..100 {
        let InitAction::Send(line) = &action else {
            return (sent, action);
        };
        sent.push(line.text.clone());
        let mut next = None;
        for result in answer(&line.text) {
            if let Some(a) = seq.on_line(&result) {
                next = Some(a);
                break;
            }
        }
        action = match next {
            Some(a) => a,
            None => seq.on_timeout(),
        };
    }
    panic!("init did not finish: {sent:?}");
}

#[test]
fn conexant_init_with_vsm_fallback() {
    let profile = ModemProfile::conexant();
    let (sent, action) = run_init(&profile, |cmd| match cmd {
        "AT+VSM=130,8000" => vec![ResultLine::Error],
        "AT+VLS=?" => vec![
            ResultLine::Info(r#"0,"",0B0000C0,0B0000C0,0B0000C0"#.into()),
            ResultLine::Info(r#"1,"T",0B8433C1,0FE431C1,0B8431C1"#.into()),
            ResultLine::Ok,
        ],
        "AT+VCID=1" => vec![ResultLine::Ring, ResultLine::Error],
        _ => vec![ResultLine::Ok],
    });
    assert_eq!(
        sent,
        [
            "ATZ",
            "ATE0V1Q0",
            "AT+IFC=2,2",
            "AT+FCLASS=8",
            "AT+VSM=130,8000",
            "AT+VSM=130,8000,0,0",
            "AT+VLS=?",
            "AT+VCID=1",
            "AT+VIT=0",
            "AT+VLS=0"
        ]
    );
    let InitAction::Done(outcome) = action else {
        panic!("{action:?}")
    };
    assert_eq!(outcome.vsm.id, 130);
    assert_eq!(outcome.labels.len(), 2);
    assert_eq!(outcome.reports_call_waiting, Some(false));
    assert_eq!(outcome.warnings, ["AT+VCID=1 answered ERROR"]);
}

#[test]
fn generic_init_parses_vsm_list() {
    let profile = ModemProfile::generic_v253();
    let (sent, action) = run_init(&profile, |cmd| match cmd {
        "AT+VSM=?" => vec![
            ResultLine::Info(r#"1,"UNSIGNED PCM",8,0,(7200,8000),(0),(0)"#.into()),
            ResultLine::Info(r#"131,"ULAW",8,0,(7200,8000),(0),(0)"#.into()),
            ResultLine::Ok,
        ],
        "AT+VLS=?" => vec![ResultLine::Error],
        _ => vec![ResultLine::Ok],
    });
    assert!(sent.contains(&"AT+VSM=131,8000".to_owned()), "{sent:?}");
    let InitAction::Done(outcome) = action else {
        panic!("{action:?}")
    };
    assert_eq!(outcome.vsm.format, SampleFormat::MuLaw);
    assert_eq!(outcome.reports_call_waiting, None);
}

#[test]
fn init_failures_say_why() {
    let (_, action) = run_init(&ModemProfile::conexant(), |cmd| match cmd {
        "AT+FCLASS=8" => vec![ResultLine::Error],
        _ => vec![ResultLine::Ok],
    });
    assert_eq!(
        action,
        InitAction::Failed(InitError::Rejected {
            command: "AT+FCLASS=8".into(),
            result: ResultLine::Error
        })
    );
    let (_, action) = run_init(&ModemProfile::generic_v253(), |cmd| match cmd {
        "AT+VSM=?" => vec![
            ResultLine::Info(r#"129,"IMA ADPCM",4,0,(8000),(0),(0)"#.into()),
            ResultLine::Ok,
        ],
        _ => vec![ResultLine::Ok],
    });
    assert_eq!(
        action,
        InitAction::Failed(InitError::NoUsableCompression {
            rate: 8000,
            offered: 1
        })
    );
    let mut finished = InitSequence::new(&ModemProfile::conexant());
    let _ = finished.on_timeout();
    assert!(finished.is_finished());
    assert_eq!(
        finished.start(),
        InitAction::Failed(InitError::AlreadyFinished)
    );
    let (sent, action) = run_init(&ModemProfile::lucent(), |cmd| {
        if cmd == "ATE0V1Q0" {
            vec![]
        } else {
            vec![ResultLine::Ok]
        }
    });
    assert_eq!(sent.last().map(String::as_str), Some("ATE0V1Q0"));
    assert_eq!(
        action,
        InitAction::Failed(InitError::Timeout {
            command: "ATE0V1Q0".into()
        })
    );
}

#[test]
fn legacy_init_uses_hash_set() {
    let (sent, action) = run_init(&ModemProfile::usrobotics(), |_| vec![ResultLine::Ok]);
    assert!(matches!(action, InitAction::Done(_)), "{action:?}");
    assert_eq!(
        sent,
        [
            "ATZ",
            "ATE0V1Q0",
            "AT&H1&R2&I0",
            "AT#CLS=8",
            "AT#VSM=129,8000",
            "AT#CID=1",
            "AT#VLS=0"
        ]
    );
}

// ---------------------------------------------------------------- properties

/// Fragments that make the parser visit every state: results, echoes that
/// open streams, DLE codes of all kinds, reports, line ends, raw bytes.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"\r\nOK\r\n".to_vec()),
        Just(b"\r\nCONNECT\r\n".to_vec()),
        Just(b"AT+VRX\r".to_vec()),
        Just(b"AT+VTR\r".to_vec()),
        Just(b"\r\nRING\r\n".to_vec()),
        Just(b"NMBR = 5551234\r\n".to_vec()),
        Just(vec![0x10]),
        Just(vec![0x10, 0x10]),
        Just(vec![0x10, 0x03]),
        Just(vec![0x10, b'X']),
        Just(vec![0x10, b'.']),
        Just(vec![0x10, b'/']),
        Just(vec![0x10, b'~']),
        Just(vec![0x10, b'5']),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::collection::vec(Just(b'Q'), 200..300),
    ]
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(fragment(), 0..40).prop_map(|f| f.concat())
}

fn chunked(
    config: ParserConfig,
    arm: bool,
    input: &[u8],
    cuts: &[usize],
) -> Vec<ModemEvent<'static>> {
    let mut parser = ModemParser::new(config);
    if arm {
        parser.expect_stream(StreamKind::Receive);
    }
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut log = EventLog::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([input.len()]) {
        parser.feed(&input[start..cut], |e| log.push(e));
        start = cut;
    }
    log.into_events()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn chunking_does_not_change_events(
        input in stream(),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
        arm in any::<bool>(),
        numeric in any::<bool>(),
        max_line in 1usize..300,
    ) {
        let config = ParserConfig {
            format: if numeric { ResultFormat::Numeric } else { ResultFormat::Verbose },
            max_line,
            max_report: max_line,
            ..ParserConfig::default()
        };
        let whole = chunked(config, arm, &input, &[]);
        let pieces = chunked(config, arm, &input, &cuts);
        let bytewise: Vec<usize> = (0..=input.len()).collect();
        prop_assert_eq!(&whole, &pieces);
        prop_assert_eq!(&whole, &chunked(config, arm, &input, &bytewise));
        for event in &whole {
            match event {
                ModemEvent::Line(ResultLine::Info(text)) | ModemEvent::Echo(text) => {
                    // Lossy UTF-8 may widen a byte to 3; the byte count is bounded.
                    prop_assert!(text.chars().count() <= max_line);
                }
                ModemEvent::Report(report) => prop_assert!(report.len() <= max_line),
                _ => {}
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..2000), arm in any::<bool>()) {
        let _ = chunked(ParserConfig::default(), arm, &input, &[7, 300]);
    }

    #[test]
    fn emulated_modem_stream_reads_back(
        items in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 1..64).prop_map(Ok),
                prop::sample::select(vec![
                    DleEvent::Ring, DleEvent::Busy, DleEvent::DialTone, DleEvent::Ringback,
                    DleEvent::CallWaiting, DleEvent::LoopBreak, DleEvent::NoVoiceEnergy,
                    DleEvent::QuietAfterVoice, DleEvent::HandsetOffHook, DleEvent::SitTone,
                    DleEvent::VoiceDetected, DleEvent::ReceiveOverrun, digit(b'1'),
                    digit(b'#'), DleEvent::Unknown(b'z'),
                ]).prop_map(Err),
            ],
            0..30,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        // What an emulated modem sends after CONNECT: escaped audio and event
        // codes, then `<DLE><ETX>`.
        let mut wire = b"\r\nCONNECT\r\n".to_vec();
        let mut expected = EventLog::new();
        expected.push(line(ResultLine::Connect(None)));
        expected.push(ModemEvent::StreamStarted(StreamKind::Receive));
        for item in &items {
            match item {
                Ok(samples) => {
                    wire.extend(escape_audio(samples));
                    expected.push(audio(samples));
                }
                Err(event) => {
                    wire.extend(event.to_bytes());
                    expected.push(dle(*event));
                }
            }
        }
        wire.extend([0x10, 0x03]);
        expected.push(dle(DleEvent::EndOfStream));
        prop_assert_eq!(chunked(ParserConfig::default(), true, &wire, &cuts), expected.into_events());
    }
}
