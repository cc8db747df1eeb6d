//! Every DAHDI request code, struct size and given field offset against the
//! literal values of hardware.md §1.14 and §1.15 (copied from the spec, not
//! computed), so a drifting struct or a wrong direction bit fails here
//! before it reaches a kernel.

use pickupd_hw::dahdi::codes::{self, Request};
use pickupd_hw::dahdi::structs::*;
use std::collections::HashMap;
use std::mem::{align_of, offset_of, size_of};

/// (name, computed code, value from the spec's tables).
fn spec_table() -> Vec<(&'static str, Request, u32)> {
    vec![
        // §1.14, channel ioctls pickupd needs.
        ("DAHDI_GET_BLOCKSIZE", codes::GET_BLOCKSIZE, 0x8004DA01),
        ("DAHDI_SET_BLOCKSIZE", codes::SET_BLOCKSIZE, 0x4004DA01),
        ("DAHDI_FLUSH", codes::FLUSH, 0x4004DA03),
        ("DAHDI_SYNC", codes::SYNC, 0x0000DA04),
        ("DAHDI_GET_PARAMS", codes::GET_PARAMS, 0xC088DA05),
        ("DAHDI_SET_PARAMS", codes::SET_PARAMS, 0x4088DA05),
        ("DAHDI_HOOK", codes::HOOK, 0x4004DA07),
        ("DAHDI_GETEVENT", codes::GETEVENT, 0x8004DA08),
        ("DAHDI_IOMUX", codes::IOMUX, 0xC004DA09),
        ("DAHDI_SPANSTAT", codes::SPANSTAT, 0xC13ADA0A),
        ("DAHDI_GETCONF", codes::GETCONF, 0xC00CDA0C),
        ("DAHDI_SETCONF", codes::SETCONF, 0xC00CDA0D),
        ("DAHDI_GETGAINS", codes::GETGAINS, 0xC204DA10),
        ("DAHDI_SETGAINS", codes::SETGAINS, 0x4204DA10),
        ("DAHDI_CONFMUTE", codes::CONFMUTE, 0x4004DA14),
        ("DAHDI_SENDTONE", codes::SENDTONE, 0x4004DA15),
        ("DAHDI_GETTONEZONE", codes::GETTONEZONE, 0x8004DA16),
        ("DAHDI_SETTONEZONE", codes::SETTONEZONE, 0x4004DA16),
        ("DAHDI_GET_BUFINFO", codes::GET_BUFINFO, 0x8018DA1B),
        ("DAHDI_SET_BUFINFO", codes::SET_BUFINFO, 0x4018DA1B),
        ("DAHDI_DIAL", codes::DIAL, 0x4104DA1F),
        ("DAHDI_AUDIOMODE", codes::AUDIOMODE, 0x4004DA20),
        ("DAHDI_ECHOCANCEL", codes::ECHOCANCEL, 0x4004DA21),
        (
            "DAHDI_ECHOCANCEL_PARAMS",
            codes::ECHOCANCEL_PARAMS,
            0x4008DA21,
        ),
        ("DAHDI_CHANNO", codes::CHANNO, 0x8004DA22),
        ("DAHDI_DIALING", codes::DIALING, 0x8004DA23),
        ("DAHDI_SPECIFY", codes::SPECIFY, 0x4004DA26),
        ("DAHDI_SETLAW", codes::SETLAW, 0x4004DA27),
        ("DAHDI_SETLINEAR", codes::SETLINEAR, 0x4004DA28),
        ("DAHDI_SETCADENCE", codes::SETCADENCE, 0x4040DA2A),
        ("DAHDI_GETCONFMUTE", codes::GETCONFMUTE, 0x8004DA31),
        ("DAHDI_ECHOTRAIN", codes::ECHOTRAIN, 0x4004DA32),
        ("DAHDI_ONHOOKTRANSFER", codes::ONHOOKTRANSFER, 0x4004DA33),
        ("DAHDI_TONEDETECT", codes::TONEDETECT, 0x4004DA5B),
        ("DAHDI_SETPOLARITY", codes::SETPOLARITY, 0x4004DA5C),
        ("DAHDI_VMWI", codes::VMWI, 0xC004DA5E),
        ("DAHDI_VMWI_CONFIG", codes::VMWI_CONFIG, 0x4004DA5F),
        ("DAHDI_BUFFER_EVENTS", codes::BUFFER_EVENTS, 0x4004DA69),
        // §1.14, control-fd and diagnostic ioctls.
        ("DAHDI_GET_PARAMS_V1", codes::GET_PARAMS_V1, 0x8088DA05),
        ("DAHDI_SETCONF_V1", codes::SETCONF_V1, 0x400CDA0C),
        ("DAHDI_CONFLINK", codes::CONFLINK, 0x400CDA0E),
        ("DAHDI_DEFAULTZONE", codes::DEFAULTZONE, 0x4004DA18),
        ("DAHDI_LOADZONE", codes::LOADZONE, 0x4070DA19),
        ("DAHDI_FREEZONE", codes::FREEZONE, 0x4004DA1A),
        ("DAHDI_GET_DIALPARAMS", codes::GET_DIALPARAMS, 0x8018DA1D),
        ("DAHDI_SET_DIALPARAMS", codes::SET_DIALPARAMS, 0x4018DA1D),
        ("DAHDI_CHANDIAG", codes::CHANDIAG, 0x4004DA2C),
        ("DAHDI_GETVERSION", codes::GETVERSION, 0x80A0DA39),
        ("DAHDI_TIMERCONFIG", codes::TIMERCONFIG, 0x4004DA2F),
        ("DAHDI_TIMERACK", codes::TIMERACK, 0x4004DA30),
        ("DAHDI_TIMERPING", codes::TIMERPING, 0x0000DA34),
        ("DAHDI_TIMERPONG", codes::TIMERPONG, 0x0000DA35),
        ("DAHDI_INDIRECT", codes::INDIRECT, 0xC010DA38),
        ("DAHDI_ATTACH_ECHOCAN", codes::ATTACH_ECHOCAN, 0x4014DA3B),
        ("DAHDI_SET_HWGAIN", codes::SET_HWGAIN, 0x4008DA56),
        (
            "DAHDI_ECHOCANCEL_FAX_MODE",
            codes::ECHOCANCEL_FAX_MODE,
            0x4004DA66,
        ),
    ]
}

#[test]
fn every_request_code_matches_the_spec() {
    let table = spec_table();
    let mut wrong = Vec::new();
    for &(name, computed, spec) in &table {
        if computed as u32 != spec {
            wrong.push(format!(
                "{name}: computed {:#010X}, spec {spec:#010X}",
                computed as u32
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "request codes differ:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_spec_table_and_codes_all_list_the_same_requests() {
    let table: HashMap<&str, u32> = spec_table().into_iter().map(|(n, _, v)| (n, v)).collect();
    assert_eq!(table.len(), spec_table().len(), "a name appears twice");
    assert_eq!(codes::ALL.len(), table.len());
    for &(name, code) in codes::ALL {
        assert_eq!(table.get(name), Some(&(code as u32)), "{name}");
        assert_eq!(codes::request_name(code as u32), Some(name));
    }
}

#[test]
fn distinct_requests_have_distinct_numbers() {
    // Numbers shared between directions (§1.14) differ in the direction or
    // size bits; a full collision would make the FUSE fake ambiguous.
    let mut seen: HashMap<u32, &str> = HashMap::new();
    for &(name, code) in codes::ALL {
        if let Some(other) = seen.insert(code as u32, name) {
            panic!("{name} and {other} share {:#010X}", code as u32);
        }
    }
}

#[test]
fn the_direction_size_type_and_number_fields_decode_as_in_the_spec() {
    // Request = dir<<30 | size<<16 | 0xDA<<8 | nr (§1.14).
    for (name, code, _) in spec_table() {
        let code = code as u32;
        assert_eq!((code >> 8) & 0xFF, 0xDA, "{name}: type byte");
    }
    let get_params = codes::GET_PARAMS as u32;
    assert_eq!(get_params >> 30, 3, "GET_PARAMS is read-write");
    assert_eq!((get_params >> 16) & 0x3FFF, 136);
    assert_eq!(get_params & 0xFF, 5);
    assert_eq!(codes::SETCONF as u32 & 0xFF, 13, "SETCONF is nr 13");
    assert_eq!(codes::GETCONF as u32 & 0xFF, 12, "GETCONF is nr 12");
}

#[test]
fn struct_sizes_match_the_spec() {
    assert_eq!(size_of::<DahdiParams>(), 136);
    assert_eq!(size_of::<DahdiConfInfo>(), 12);
    assert_eq!(size_of::<DahdiBufferInfo>(), 24);
    assert_eq!(size_of::<DahdiDialOperation>(), 260);
    assert_eq!(size_of::<DahdiDialParams>(), 24);
    assert_eq!(size_of::<DahdiRingCadence>(), 64);
    assert_eq!(size_of::<DahdiGains>(), 516);
    assert_eq!(size_of::<DahdiVersionInfo>(), 160);
    assert_eq!(size_of::<DahdiEchoCanParams>(), 8);
    assert_eq!(size_of::<DahdiEchoCanParam>(), 20);
    assert_eq!(size_of::<DahdiVmwiInfo>(), 4);
    assert_eq!(size_of::<DahdiToneDefHeader>(), 112);
    assert_eq!(size_of::<DahdiHwGain>(), 8);
    assert_eq!(size_of::<DahdiAttachEchocan>(), 20);
    assert_eq!(size_of::<DahdiMaintInfo>(), 8);
    assert_eq!(size_of::<DahdiIndirectData>(), 16);
    assert_eq!(size_of::<DahdiSpanInfo>(), 314);
    assert_eq!(align_of::<DahdiSpanInfo>(), 1, "dahdi_spaninfo is packed");
    assert_eq!(align_of::<DahdiParams>(), 4);
}

#[test]
fn dahdi_params_offsets_match_the_spec() {
    let expected = [
        ("channo", offset_of!(DahdiParams, channo), 0),
        ("spanno", offset_of!(DahdiParams, spanno), 4),
        ("chanpos", offset_of!(DahdiParams, chanpos), 8),
        ("sigtype", offset_of!(DahdiParams, sigtype), 12),
        ("sigcap", offset_of!(DahdiParams, sigcap), 16),
        ("rxisoffhook", offset_of!(DahdiParams, rxisoffhook), 20),
        ("rxbits", offset_of!(DahdiParams, rxbits), 24),
        ("txbits", offset_of!(DahdiParams, txbits), 28),
        ("txhooksig", offset_of!(DahdiParams, txhooksig), 32),
        ("rxhooksig", offset_of!(DahdiParams, rxhooksig), 36),
        ("curlaw", offset_of!(DahdiParams, curlaw), 40),
        ("idlebits", offset_of!(DahdiParams, idlebits), 44),
        ("name", offset_of!(DahdiParams, name), 48),
        ("prewinktime", offset_of!(DahdiParams, prewinktime), 88),
        ("preflashtime", offset_of!(DahdiParams, preflashtime), 92),
        ("winktime", offset_of!(DahdiParams, winktime), 96),
        ("flashtime", offset_of!(DahdiParams, flashtime), 100),
        ("starttime", offset_of!(DahdiParams, starttime), 104),
        ("rxwinktime", offset_of!(DahdiParams, rxwinktime), 108),
        ("rxflashtime", offset_of!(DahdiParams, rxflashtime), 112),
        ("debouncetime", offset_of!(DahdiParams, debouncetime), 116),
        (
            "pulsebreaktime",
            offset_of!(DahdiParams, pulsebreaktime),
            120,
        ),
        ("pulsemaketime", offset_of!(DahdiParams, pulsemaketime), 124),
        (
            "pulseaftertime",
            offset_of!(DahdiParams, pulseaftertime),
            128,
        ),
        ("chan_alarms", offset_of!(DahdiParams, chan_alarms), 132),
    ];
    for (name, actual, spec) in expected {
        assert_eq!(actual, spec, "dahdi_params.{name}");
    }
}

#[test]
fn dahdi_spaninfo_offsets_match_the_spec() {
    let expected = [
        ("spanno", offset_of!(DahdiSpanInfo, spanno), 0),
        ("name", offset_of!(DahdiSpanInfo, name), 4),
        ("desc", offset_of!(DahdiSpanInfo, desc), 24),
        ("alarms", offset_of!(DahdiSpanInfo, alarms), 64),
        ("txlevel", offset_of!(DahdiSpanInfo, txlevel), 68),
        ("rxlevel", offset_of!(DahdiSpanInfo, rxlevel), 72),
        ("bpvcount", offset_of!(DahdiSpanInfo, bpvcount), 76),
        ("crc4count", offset_of!(DahdiSpanInfo, crc4count), 80),
        ("ebitcount", offset_of!(DahdiSpanInfo, ebitcount), 84),
        ("fascount", offset_of!(DahdiSpanInfo, fascount), 88),
        ("fecount", offset_of!(DahdiSpanInfo, fecount), 92),
        ("cvcount", offset_of!(DahdiSpanInfo, cvcount), 96),
        ("becount", offset_of!(DahdiSpanInfo, becount), 100),
        ("prbs", offset_of!(DahdiSpanInfo, prbs), 104),
        ("errsec", offset_of!(DahdiSpanInfo, errsec), 108),
        ("irqmisses", offset_of!(DahdiSpanInfo, irqmisses), 112),
        ("syncsrc", offset_of!(DahdiSpanInfo, syncsrc), 116),
        ("numchans", offset_of!(DahdiSpanInfo, numchans), 120),
        ("totalchans", offset_of!(DahdiSpanInfo, totalchans), 124),
        ("totalspans", offset_of!(DahdiSpanInfo, totalspans), 128),
        ("lbo", offset_of!(DahdiSpanInfo, lbo), 132),
        ("lineconfig", offset_of!(DahdiSpanInfo, lineconfig), 136),
        ("lboname", offset_of!(DahdiSpanInfo, lboname), 140),
        ("location", offset_of!(DahdiSpanInfo, location), 180),
        ("manufacturer", offset_of!(DahdiSpanInfo, manufacturer), 220),
        ("devicetype", offset_of!(DahdiSpanInfo, devicetype), 260),
        ("irq", offset_of!(DahdiSpanInfo, irq), 300),
        ("linecompat", offset_of!(DahdiSpanInfo, linecompat), 304),
        ("spantype", offset_of!(DahdiSpanInfo, spantype), 308),
    ];
    for (name, actual, spec) in expected {
        assert_eq!(actual, spec, "dahdi_spaninfo.{name}");
    }
}

#[test]
fn small_struct_offsets_match_the_spec() {
    let expected = [
        ("confinfo.chan", offset_of!(DahdiConfInfo, chan), 0),
        ("confinfo.confno", offset_of!(DahdiConfInfo, confno), 4),
        ("confinfo.confmode", offset_of!(DahdiConfInfo, confmode), 8),
        (
            "bufferinfo.txbufpolicy",
            offset_of!(DahdiBufferInfo, txbufpolicy),
            0,
        ),
        (
            "bufferinfo.rxbufpolicy",
            offset_of!(DahdiBufferInfo, rxbufpolicy),
            4,
        ),
        (
            "bufferinfo.numbufs",
            offset_of!(DahdiBufferInfo, numbufs),
            8,
        ),
        (
            "bufferinfo.bufsize",
            offset_of!(DahdiBufferInfo, bufsize),
            12,
        ),
        (
            "bufferinfo.readbufs",
            offset_of!(DahdiBufferInfo, readbufs),
            16,
        ),
        (
            "bufferinfo.writebufs",
            offset_of!(DahdiBufferInfo, writebufs),
            20,
        ),
        ("dialoperation.op", offset_of!(DahdiDialOperation, op), 0),
        (
            "dialoperation.dialstr",
            offset_of!(DahdiDialOperation, dialstr),
            4,
        ),
        (
            "dialparams.mfv1_tonelen",
            offset_of!(DahdiDialParams, mfv1_tonelen),
            0,
        ),
        (
            "dialparams.dtmf_tonelen",
            offset_of!(DahdiDialParams, dtmf_tonelen),
            4,
        ),
        (
            "dialparams.mfr2_tonelen",
            offset_of!(DahdiDialParams, mfr2_tonelen),
            8,
        ),
        (
            "dialparams.reserved",
            offset_of!(DahdiDialParams, reserved),
            12,
        ),
        (
            "ring_cadence.ringcadence",
            offset_of!(DahdiRingCadence, ringcadence),
            0,
        ),
        ("gains.chan", offset_of!(DahdiGains, chan), 0),
        ("gains.rxgain", offset_of!(DahdiGains, rxgain), 4),
        ("gains.txgain", offset_of!(DahdiGains, txgain), 260),
        (
            "versioninfo.version",
            offset_of!(DahdiVersionInfo, version),
            0,
        ),
        (
            "versioninfo.echo_canceller",
            offset_of!(DahdiVersionInfo, echo_canceller),
            80,
        ),
        (
            "echocanparams.tap_length",
            offset_of!(DahdiEchoCanParams, tap_length),
            0,
        ),
        (
            "echocanparams.param_count",
            offset_of!(DahdiEchoCanParams, param_count),
            4,
        ),
        ("echocanparam.name", offset_of!(DahdiEchoCanParam, name), 0),
        (
            "echocanparam.value",
            offset_of!(DahdiEchoCanParam, value),
            16,
        ),
        (
            "vmwi_info.vmwi_type",
            offset_of!(DahdiVmwiInfo, vmwi_type),
            0,
        ),
        (
            "tone_def_header.count",
            offset_of!(DahdiToneDefHeader, count),
            0,
        ),
        (
            "tone_def_header.zone",
            offset_of!(DahdiToneDefHeader, zone),
            4,
        ),
        (
            "tone_def_header.ringcadence",
            offset_of!(DahdiToneDefHeader, ringcadence),
            8,
        ),
        (
            "tone_def_header.name",
            offset_of!(DahdiToneDefHeader, name),
            72,
        ),
        ("hwgain.newgain", offset_of!(DahdiHwGain, newgain), 0),
        ("hwgain.tx", offset_of!(DahdiHwGain, tx), 4),
        (
            "attach_echocan.chan",
            offset_of!(DahdiAttachEchocan, chan),
            0,
        ),
        (
            "attach_echocan.echocan",
            offset_of!(DahdiAttachEchocan, echocan),
            4,
        ),
        ("maintinfo.spanno", offset_of!(DahdiMaintInfo, spanno), 0),
        ("maintinfo.command", offset_of!(DahdiMaintInfo, command), 4),
        ("indirect_data.chan", offset_of!(DahdiIndirectData, chan), 0),
        ("indirect_data.op", offset_of!(DahdiIndirectData, op), 4),
        ("indirect_data.data", offset_of!(DahdiIndirectData, data), 8),
    ];
    for (name, actual, spec) in expected {
        assert_eq!(actual, spec, "{name}");
    }
}

#[test]
fn zeroed_structs_are_all_zero_bytes_where_it_matters() {
    // Read-write ioctls copy the struct in first (§1.15): the constructors
    // the ioctl edge uses must not leave anything but zeros behind.
    let p = DahdiParams::zeroed();
    assert_eq!(p, DahdiParams::default());
    assert_eq!(p.name, [0; 40]);
    assert_eq!(p.flashtime, 0);
    assert_eq!(DahdiSpanInfo::zeroed().spantype, [0; 6]);
    assert_eq!(DahdiDialOperation::zeroed().dialstr, [0; 256]);
}
