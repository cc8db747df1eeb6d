//! Fuzzes the V.253 modem→host parser (`pickupd_hw::v253::ModemParser`).
//!
//! The first five bytes choose the set-up (byte 0: bit 0 arms a `+VRX`
//! stream, bit 1 numeric results, bit 2 Rockwell `<DLE>t`, bit 3 Lucent
//! `<DLE>s`, bits 4-7 a small line limit) and seed the chunking; the rest is
//! the modem's byte stream. The same stream is parsed whole, byte by byte and
//! in pseudo-random chunks: the three event logs must be identical (the
//! driver's reads split the stream anywhere), and no line or report may
//! exceed its limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pickupd_hw::v253::{
    decode_unformatted, report_lines, EventLog, ModemEvent, ModemParser, ParserConfig,
    ResultFormat, ResultLine, StreamKind,
};

fn parse(
    config: ParserConfig,
    arm: bool,
    input: &[u8],
    mut chunk: impl FnMut() -> usize,
) -> Vec<ModemEvent<'static>> {
    let mut parser = ModemParser::new(config);
    if arm {
        parser.expect_stream(StreamKind::Receive);
    }
    let mut log = EventLog::new();
    let mut rest = input;
    while !rest.is_empty() {
        let n = chunk().clamp(1, rest.len());
        let (head, tail) = rest.split_at(n);
        parser.feed(head, |e| log.push(e));
        rest = tail;
    }
    log.into_events()
}

fuzz_target!(|data: &[u8]| {
    let (header, input) = if data.len() >= 5 {
        data.split_at(5)
    } else {
        (&[0u8; 5][..], data)
    };
    let flags = header[0];
    let max_line = match flags >> 4 {
        0 => 256,
        n => usize::from(n) * 4,
    };
    let config = ParserConfig {
        format: if flags & 2 != 0 {
            ResultFormat::Numeric
        } else {
            ResultFormat::Verbose
        },
        max_line,
        max_report: max_line,
        rockwell_t: flags & 4 != 0,
        lucent_s: flags & 8 != 0,
    };
    let arm = flags & 1 != 0;
    let mut state = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) | 1;
    let random = move || {
        // xorshift32: cheap, deterministic per input, so crashes reproduce.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 17) as usize
    };

    let whole = parse(config, arm, input, || usize::MAX);
    let bytewise = parse(config, arm, input, || 1);
    let random_chunks = parse(config, arm, input, random);
    assert_eq!(whole, bytewise, "byte-by-byte feeding changed the events");
    assert_eq!(whole, random_chunks, "chunked feeding changed the events");

    for event in &whole {
        match event {
            ModemEvent::Line(ResultLine::Info(text)) | ModemEvent::Echo(text) => {
                assert!(text.chars().count() <= max_line, "line over the limit");
                // A `+VCID=2` driver decodes such lines: must not panic either.
                let _ = decode_unformatted(text);
            }
            ModemEvent::Report(report) => {
                let _ = report_lines(report);
                assert!(report.len() <= max_line, "report over the limit")
            }
            ModemEvent::Audio(audio) => assert!(!audio.is_empty(), "empty audio event"),
            _ => {}
        }
    }
});
