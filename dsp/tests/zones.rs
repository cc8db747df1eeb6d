//! Embedded call-waiting table and tone-string notation.

use pickupd_dsp::zones::{self, parse_tone_string};

const CSV: &str = include_str!("../data/callwaiting_tones.csv");

#[test]
fn all_174_rows_parse_into_94_zones() {
    let total: usize = zones::all().iter().map(|z| z.call_waiting.len()).sum();
    assert_eq!(total, 174);
    assert_eq!(zones::all().len(), 94);
    // Every raw string also parses on its own, and the CSV has 174 data rows.
    assert_eq!(CSV.lines().filter(|l| !l.trim().is_empty()).count(), 175);
    for z in zones::all() {
        assert!(!z.name.is_empty());
        for cw in &z.call_waiting {
            let segs = parse_tone_string(&cw.raw).expect("parses");
            assert_eq!(segs, cw.segments);
            assert!(!segs.is_empty(), "{}: {}", z.code, cw.raw);
            assert!(!cw.source.is_empty());
        }
    }
}

#[test]
fn lookup() {
    let us = zones::zone("us").expect("us");
    assert_eq!(us.call_waiting[0].raw, "440/300,0/10000");
    assert_eq!(us.call_waiting.len(), 7);
    assert!(zones::zone("US").is_some());
    assert!(zones::zone("us-old").is_some());
    assert!(zones::zone("xx").is_none());
}

#[test]
fn notation_details() {
    let de = &zones::zone("de").expect("de").call_waiting[0].segments;
    assert_eq!(de.len(), 20);
    assert!(de[..19].iter().all(|s| s.once));
    assert!(!de[19].once && de[19].is_silence() && de[19].ms.is_none());

    let hk = &zones::zone("hk").expect("hk").call_waiting[0].segments;
    assert_eq!(hk.len(), 7);
    assert_eq!(hk[0].freq_tolerance_pct, Some(1.0));

    let sg = &zones::zone("sg").expect("sg").call_waiting[0].segments;
    assert_eq!(sg[0].freqs, vec![425.0]);
    assert_eq!(sg[0].modulation_hz, Some(24.0));

    let jo = &zones::zone("jo").expect("jo").call_waiting[0].segments;
    assert_eq!(jo.len(), 6);
    assert_eq!(jo[0].alternatives, vec![vec![400.0, 440.0]]);

    let ke = &zones::zone("ke").expect("ke").call_waiting[0].segments;
    assert_eq!(ke[0].ms, None);
    assert_eq!(ke[0].level_dbm0, Some(-12.0));
}

#[test]
fn line_cadence_corrections() {
    // Thailand: the 10 kHz element becomes silence.
    let th = zones::zone("th").expect("th").call_waiting[0].line_cadence();
    assert!(th[1].is_silence());
    assert_eq!(th[1].ms, Some(400));
    // Costa Rica: the 8 s tone becomes silence.
    let cr = zones::zone("cr").expect("cr").call_waiting[0].line_cadence();
    assert!(cr[3].is_silence());
    // Kenya: continuous tone played for 1 s.
    let ke = zones::zone("ke").expect("ke").call_waiting[0].line_cadence();
    assert_eq!(ke[0].ms, Some(zones::CONTINUOUS_BURST_MS));
    // Every element is played once.
    assert!(th.iter().chain(&cr).chain(&ke).all(|s| s.once));
}
