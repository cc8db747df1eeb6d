//! The rules of hardware.md §2.1 as the in-memory fake reproduces them,
//! driven only through the `DahdiChannel`/`DahdiOpener` traits plus the
//! fake's far-end and clock controls. Time is passed in with `advance`.

use nix::errno::Errno;
use pickupd_hw::dahdi::consts::*;
use pickupd_hw::dahdi::{
    DahdiBufferInfo, DahdiChannel, DahdiConfInfo, DahdiEvent, DahdiOpener, DialOp, Error,
    FakeDahdi, FakeTxState, HookOp, HookOutcome, Law, Tone,
};

const FXS_PORT: i32 = 1; // fxoks: a telephone is attached
const FXO_PORT: i32 = 2; // fxsks: faces the exchange
const FXO_LOOPSTART: i32 = 3; // fxsls
const UNCONFIGURED: i32 = 4;
const US_CADENCE: [u32; 2] = [2000, 4000];

fn kernel(with_zone: bool) -> FakeDahdi {
    let k = FakeDahdi::new();
    k.add_channel(FXS_PORT, DAHDI_SIG_FXOKS).unwrap();
    k.add_channel(FXO_PORT, DAHDI_SIG_FXSKS).unwrap();
    k.add_channel(FXO_LOOPSTART, DAHDI_SIG_FXSLS).unwrap();
    k.add_channel(UNCONFIGURED, DAHDI_SIG_NONE).unwrap();
    if with_zone {
        k.load_zone(0, &US_CADENCE).unwrap();
    }
    k
}

/// The §1.4 open sequence, generic over the back-end as the driver will be.
fn open_line<O: DahdiOpener>(opener: &O, channo: i32) -> Result<O::Channel, Error> {
    let mut ch = opener.open_channel(channo)?;
    ch.set_blocksize(PICKUPD_BLOCKSIZE)?;
    ch.set_linear(true)?;
    let mut params = ch.get_params()?;
    params.flashtime = 100;
    ch.set_params(&params)?;
    Ok(ch)
}

fn tx(k: &FakeDahdi, channo: i32) -> FakeTxState {
    k.state(channo).unwrap().tx_state
}

// --- open -------------------------------------------------------------------

#[test]
fn opens_are_exclusive_and_released_on_close() {
    let k = kernel(true);
    let first = k.open_channel(FXO_PORT).unwrap();
    assert_eq!(k.open_channel(FXO_PORT).err(), Some(Errno::EBUSY.into()));
    drop(first);
    assert!(k.open_channel(FXO_PORT).is_ok());
}

#[test]
fn specify_errors_follow_the_spec() {
    let k = kernel(true);
    assert_eq!(k.open_channel(99).err(), Some(Errno::EINVAL.into()));
    assert_eq!(
        k.open_channel(UNCONFIGURED).err(),
        Some(Errno::ENXIO.into())
    );
}

#[test]
fn every_open_resets_the_channel() {
    let k = kernel(true);
    k.load_zone(5, &[1000, 1000]).unwrap();
    let mut ch = open_line(&k, FXO_PORT).unwrap();
    ch.set_tonezone(5).unwrap();
    k.inject_event(FXO_PORT, DahdiEvent::Polarity).unwrap();
    let st = k.state(FXO_PORT).unwrap();
    assert_eq!((st.blocksize, st.linear, st.zone), (160, true, Some(5)));
    assert_eq!(st.params.flashtime, 100);
    drop(ch);
    assert_eq!(
        k.state(FXO_PORT).unwrap().zone,
        None,
        "close drops the zone"
    );

    let mut ch = k.open_channel(FXO_PORT).unwrap();
    let st = k.state(FXO_PORT).unwrap();
    assert_eq!(st.blocksize, DAHDI_DEFAULT_BLOCKSIZE);
    assert!(!st.linear);
    assert_eq!(st.zone, Some(0), "the first loaded zone is the default");
    assert_eq!(st.params.flashtime, default_timing::FLASHTIME);
    assert_eq!(ch.get_event(), Ok(None), "the event queue was flushed");
    assert_eq!(ch.channo(), Ok(FXO_PORT));
}

#[test]
fn get_params_reports_the_signalling_and_set_params_only_the_timings() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXS_PORT).unwrap();
    let mut p = ch.get_params().unwrap();
    assert_eq!(p.sigtype, DAHDI_SIG_FXOKS);
    assert_eq!(
        analog_signalling(p.sigtype).unwrap().0,
        pickupd_hw::dahdi::PortKind::FxsPort
    );
    assert_eq!(p.law(), Some(Law::MuLaw));
    assert_eq!(p.name(), b"FAKE/1/1");
    assert_eq!(p.debouncetime, 600);
    p.sigtype = DAHDI_SIG_FXSKS;
    p.debouncetime = 0; // accepted unchecked, as the kernel does
    ch.set_params(&p).unwrap();
    let back = ch.get_params().unwrap();
    assert_eq!(
        back.sigtype, DAHDI_SIG_FXOKS,
        "read-only fields are ignored"
    );
    assert_eq!(back.debouncetime, 0);
}

// --- events, read and write -------------------------------------------------

#[test]
fn read_and_write_fail_with_errno_500_while_events_are_queued() {
    let k = kernel(true);
    let mut ch = open_line(&k, FXO_PORT).unwrap();
    k.push_rx_audio(FXO_PORT, &[1; 320]).unwrap();
    k.inject_event(FXO_PORT, DahdiEvent::Polarity).unwrap();
    k.inject_event(FXO_PORT, DahdiEvent::RingBegin).unwrap();

    let ready = ch.readiness().unwrap();
    assert!(
        ready.priority && ready.readable,
        "POLLPRI and POLLIN together"
    );
    let mut buf = [0u8; 320];
    let err = ch.read_frame(&mut buf).unwrap_err();
    assert!(err.is_event_pending());
    assert_eq!(err.raw_os_error(), 500);
    assert_eq!(ch.write_frame(&[0; 320]), Err(Error::EVENT_PENDING));

    assert_eq!(
        ch.drain_events().unwrap(),
        vec![DahdiEvent::Polarity, DahdiEvent::RingBegin]
    );
    assert!(!ch.readiness().unwrap().priority);
    assert_eq!(
        ch.read_frame(&mut buf),
        Ok(320),
        "one linear block of 160 samples"
    );
}

#[test]
fn empty_buffers_give_eagain_and_short_reads_lose_the_rest_of_the_block() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    ch.set_blocksize(160).unwrap();
    let mut buf = [0u8; 400];
    assert_eq!(ch.read_frame(&mut buf), Err(Errno::EAGAIN.into()));
    k.push_rx_audio(FXO_PORT, &[7; 100]).unwrap();
    assert_eq!(
        ch.read_frame(&mut buf),
        Err(Errno::EAGAIN.into()),
        "no full block yet"
    );
    assert!(!ch.readiness().unwrap().readable);

    let block: Vec<u8> = (0..160).map(|i| i as u8).collect();
    k.push_rx_audio(FXO_PORT, &block).unwrap(); // 260 bytes queued
    assert_eq!(
        ch.read_frame(&mut buf),
        Ok(160),
        "at most one block per read"
    );
    let mut small = [0u8; 10];
    k.push_rx_audio(FXO_PORT, &[9; 60]).unwrap(); // 160 queued
    assert_eq!(ch.read_frame(&mut small), Ok(10));
    assert_eq!(
        ch.read_frame(&mut buf),
        Err(Errno::EAGAIN.into()),
        "rest discarded"
    );
    assert_eq!(ch.read_frame(&mut []), Err(Errno::EINVAL.into()));
}

#[test]
fn writes_fill_the_buffers_and_the_kernel_drains_eight_samples_per_ms() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    ch.set_bufinfo(&DahdiBufferInfo {
        bufsize: 160,
        numbufs: 2,
        ..DahdiBufferInfo::zeroed()
    })
    .unwrap();
    assert_eq!(
        ch.write_frame(&[1; 500]),
        Ok(160),
        "at most one block per write"
    );
    assert_eq!(ch.write_frame(&[2; 160]), Ok(160));
    assert!(!ch.readiness().unwrap().writable);
    assert_eq!(ch.write_frame(&[3; 160]), Err(Errno::EAGAIN.into()));
    k.advance(20);
    assert!(ch.readiness().unwrap().writable);
    assert_eq!(k.take_tx_audio(FXO_PORT).unwrap(), vec![1; 160]);
    k.advance(20);
    assert_eq!(k.take_tx_audio(FXO_PORT).unwrap(), vec![2; 160]);
}

#[test]
fn buffer_geometry_is_checked_like_the_kernel() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    assert_eq!(ch.set_blocksize(15), Err(Errno::EINVAL.into()));
    assert_eq!(ch.set_blocksize(8193), Err(Errno::EINVAL.into()));
    assert_eq!(ch.set_blocksize(16), Ok(()));
    let too_big = DahdiBufferInfo {
        bufsize: 8192,
        numbufs: 5,
        ..DahdiBufferInfo::zeroed()
    };
    assert_eq!(ch.set_bufinfo(&too_big), Err(Errno::EINVAL.into()));
    let many = DahdiBufferInfo {
        bufsize: 160,
        numbufs: 100,
        ..DahdiBufferInfo::zeroed()
    };
    assert_eq!(ch.set_bufinfo(&many), Ok(()));
    assert_eq!(
        k.state(FXO_PORT).unwrap().numbufs,
        DAHDI_MAX_NUM_BUFS,
        "clamped"
    );
}

#[test]
fn the_event_queue_holds_64_events() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    for _ in 0..70 {
        k.inject_event(FXO_PORT, DahdiEvent::Polarity).unwrap();
    }
    assert_eq!(ch.drain_events().unwrap().len(), DAHDI_MAX_EVENTSIZE);
}

#[test]
fn flush_event_empties_the_queue() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    k.inject_event(FXO_PORT, DahdiEvent::Polarity).unwrap();
    k.push_rx_audio(FXO_PORT, &[0; 2048]).unwrap();
    ch.flush(DAHDI_FLUSH_EVENT).unwrap();
    assert_eq!(ch.get_event(), Ok(None));
    assert!(ch.readiness().unwrap().readable, "audio kept");
    ch.flush(DAHDI_FLUSH_ALL).unwrap();
    assert!(!ch.readiness().unwrap().readable);
}

// --- hook control -------------------------------------------------------------

#[test]
fn flash_is_ebusy_during_the_off_hook_debounce() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    assert_eq!(ch.hook(HookOp::Flash), Err(Errno::EBUSY.into()), "on-hook");
    assert_eq!(ch.hook(HookOp::OffHook), Ok(HookOutcome::Done));
    assert_eq!(tx(&k, FXO_PORT), FakeTxState::Debounce);
    assert_eq!(ch.hook(HookOp::Flash), Err(Errno::EBUSY.into()));
    k.advance(599);
    assert_eq!(ch.hook(HookOp::Flash), Err(Errno::EBUSY.into()), "599 ms");
    k.advance(1);
    assert_eq!(tx(&k, FXO_PORT), FakeTxState::OffHook);
    assert_eq!(
        ch.hook(HookOp::Flash),
        Ok(HookOutcome::InProgress),
        "600 ms"
    );
}

#[test]
fn non_blocking_flash_runs_preflash_then_flashtime_then_reports_hookcomplete() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    ch.hook(HookOp::OffHook).unwrap();
    k.advance(600);
    assert_eq!(ch.hook(HookOp::Flash), Ok(HookOutcome::InProgress));
    assert_eq!(tx(&k, FXO_PORT), FakeTxState::PreFlash);
    k.advance(50);
    assert_eq!(
        tx(&k, FXO_PORT),
        FakeTxState::Flash,
        "on-hook break after preflashtime"
    );
    k.advance(749);
    assert_eq!(ch.get_event(), Ok(None));
    assert_eq!(
        ch.hook(HookOp::Flash),
        Err(Errno::EBUSY.into()),
        "flash in progress"
    );
    k.advance(1);
    assert_eq!(tx(&k, FXO_PORT), FakeTxState::OffHook);
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::HookComplete)));
    assert_eq!(
        ch.hook(HookOp::Flash),
        Ok(HookOutcome::InProgress),
        "again at once"
    );
}

#[test]
fn a_per_line_flash_time_is_applied_by_read_modify_write() {
    let k = kernel(true);
    let mut ch = open_line(&k, FXO_PORT).unwrap(); // flashtime 100
    ch.hook(HookOp::OffHook).unwrap();
    k.advance(600);
    ch.hook(HookOp::Flash).unwrap();
    k.advance(50 + 100);
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::HookComplete)));
}

#[test]
fn wink_needs_on_hook_and_completes_after_prewink_and_wink() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    assert_eq!(ch.hook(HookOp::Wink), Ok(HookOutcome::InProgress));
    assert_eq!(ch.hook(HookOp::Wink), Err(Errno::EBUSY.into()));
    k.advance(50);
    assert_eq!(tx(&k, FXO_PORT), FakeTxState::Wink);
    k.advance(149);
    assert_eq!(ch.get_event(), Ok(None));
    k.advance(1);
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::HookComplete)));
    assert_eq!(tx(&k, FXO_PORT), FakeTxState::OnHook);
}

#[test]
fn ringing_needs_a_tone_zone() {
    let k = kernel(false);
    let mut ch = k.open_channel(FXS_PORT).unwrap();
    assert_eq!(
        k.state(FXS_PORT).unwrap().zone,
        None,
        "no zone was ever loaded"
    );
    assert_eq!(ch.hook(HookOp::Start), Err(Errno::ENODATA.into()));
    assert_eq!(ch.hook(HookOp::Ring), Err(Errno::ENODATA.into()));
    assert_eq!(ch.set_tonezone(0), Err(Errno::ENODATA.into()));
    assert_eq!(
        ch.set_tonezone(DAHDI_TONE_ZONE_MAX),
        Err(Errno::EINVAL.into())
    );
}

#[test]
fn an_fxs_port_rings_with_the_zone_cadence_until_the_phone_answers() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXS_PORT).unwrap();
    assert_eq!(ch.hook(HookOp::Ring), Ok(HookOutcome::InProgress));
    assert_eq!(
        ch.hook(HookOp::Ring),
        Err(Errno::EBUSY.into()),
        "already ringing"
    );
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::RingerOn)));
    k.advance(2000);
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::RingerOff)));
    assert_eq!(tx(&k, FXS_PORT), FakeTxState::RingOff);
    k.advance(4000);
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::RingerOn)));
    k.phone_off_hook(FXS_PORT).unwrap();
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::RingOffHook)));
    assert_eq!(tx(&k, FXS_PORT), FakeTxState::OffHook, "ringing stopped");
    k.advance(10_000);
    assert_eq!(ch.get_event(), Ok(None));
}

#[test]
fn ringoff_stops_the_ringing() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXS_PORT).unwrap();
    ch.hook(HookOp::Start).unwrap();
    ch.hook(HookOp::RingOff).unwrap();
    assert_eq!(tx(&k, FXS_PORT), FakeTxState::OnHook);
}

#[test]
fn ground_start_on_an_fxo_port_completes_after_starttime() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    assert_eq!(ch.hook(HookOp::Start), Ok(HookOutcome::InProgress));
    assert_eq!(tx(&k, FXO_PORT), FakeTxState::Start);
    k.advance(1500);
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::HookComplete)));
    k.advance(500);
    assert_eq!(tx(&k, FXO_PORT), FakeTxState::OffHook);
}

#[test]
fn a_kewl_start_port_drops_battery_on_close_and_refuses_off_hook_meanwhile() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXS_PORT).unwrap();
    k.phone_off_hook(FXS_PORT).unwrap();
    ch.hook(HookOp::OffHook).unwrap();
    drop(ch); // closing hangs up: the phone is off-hook, so a kewl pulse
    assert_eq!(tx(&k, FXS_PORT), FakeTxState::Kewl);
    let mut ch = k.open_channel(FXS_PORT).unwrap();
    assert_eq!(
        ch.hook(HookOp::OffHook),
        Err(Errno::EBUSY.into()),
        "during kewl"
    );
    k.advance(500);
    assert_eq!(tx(&k, FXS_PORT), FakeTxState::AfterKewl);
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::HookComplete)));
    assert_eq!(
        ch.hook(HookOp::OffHook),
        Err(Errno::EBUSY.into()),
        "after kewl"
    );
    k.advance(300);
    assert_eq!(ch.hook(HookOp::OffHook), Ok(HookOutcome::Done));
}

#[test]
fn no_battery_drop_when_the_phone_is_already_idle() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXS_PORT).unwrap();
    ch.hook(HookOp::OffHook).unwrap();
    drop(ch);
    assert_eq!(tx(&k, FXS_PORT), FakeTxState::OnHook);
}

// --- tones and dialling -------------------------------------------------------

#[test]
fn tones_and_dialling_need_a_zone() {
    let k = kernel(false);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    assert_eq!(ch.send_tone(Tone::DIALTONE), Err(Errno::ENODATA.into()));
    assert_eq!(ch.send_tone(Tone::STOP), Ok(()), "stopping needs no zone");
    assert_eq!(ch.dial(DialOp::Replace, "123"), Err(Errno::ENODATA.into()));
}

#[test]
fn tones_play_until_replaced_by_audio_or_hook_changes() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXS_PORT).unwrap();
    ch.send_tone(Tone::DIALTONE).unwrap();
    assert_eq!(k.state(FXS_PORT).unwrap().tone, Some(Tone::DIALTONE));
    assert_eq!(
        ch.send_tone(Tone(Tone::MAX)),
        Err(Errno::ENOSYS.into()),
        "not in zone"
    );
    assert_eq!(ch.send_tone(Tone(40)), Err(Errno::EINVAL.into()));
    ch.send_tone(Tone::dtmf('#').unwrap()).unwrap();
    ch.write_frame(&[0; 8]).unwrap();
    assert_eq!(
        k.state(FXS_PORT).unwrap().tone,
        None,
        "a write cancels the tone"
    );
    ch.send_tone(Tone::BUSY).unwrap();
    ch.hook(HookOp::OnHook).unwrap();
    assert_eq!(
        k.state(FXS_PORT).unwrap().tone,
        None,
        "a hook change cancels it"
    );
}

#[test]
fn a_dial_string_plays_for_its_length_then_reports_dialcomplete() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    ch.hook(HookOp::OffHook).unwrap();
    ch.dial(DialOp::Replace, "12w").unwrap(); // 2 × 200 ms + 500 ms pause
    assert_eq!(ch.dialing(), Ok(true));
    k.advance(899);
    assert_eq!(ch.get_event(), Ok(None));
    k.advance(1);
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::DialComplete)));
    assert_eq!(ch.dialing(), Ok(false));

    ch.dial(DialOp::Replace, "P2").unwrap(); // 2 × (50 + 50) + 750
    k.advance(949);
    assert_eq!(ch.dialing(), Ok(true));
    k.advance(1);
    assert_eq!(ch.drain_events(), Ok(vec![DahdiEvent::DialComplete]));
}

#[test]
fn writing_audio_or_cancelling_stops_dialling_without_an_event() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    ch.dial(DialOp::Replace, "5551234").unwrap();
    ch.write_frame(&[0; 160]).unwrap();
    assert_eq!(ch.dialing(), Ok(false));
    ch.dial(DialOp::Append, "9").unwrap();
    ch.dial(DialOp::Cancel, "").unwrap();
    k.advance(1000);
    assert_eq!(ch.dialing(), Ok(false));
    assert_eq!(ch.get_event(), Ok(None));
}

#[test]
fn appending_past_the_dial_buffer_is_ebusy() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    ch.dial(DialOp::Append, &"1".repeat(200)).unwrap();
    assert_eq!(
        ch.dial(DialOp::Append, &"2".repeat(60)),
        Err(Errno::EBUSY.into())
    );
    assert_eq!(ch.dial(DialOp::Append, &"2".repeat(55)), Ok(()));
}

// --- receive-side hook timing (§1.9) ------------------------------------------

#[test]
fn a_phone_going_off_hook_from_idle_is_ringoffhook() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXS_PORT).unwrap();
    k.phone_off_hook(FXS_PORT).unwrap();
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::RingOffHook)));
    assert_eq!(ch.get_params().unwrap().rxisoffhook, 1);
}

#[test]
fn on_hook_breaks_are_pulses_flashes_or_hang_ups_by_length() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXS_PORT).unwrap();
    k.phone_off_hook(FXS_PORT).unwrap();
    ch.drain_events().unwrap();

    // Three 60 ms breaks: a pulse-dialled 3.
    for _ in 0..3 {
        k.phone_on_hook(FXS_PORT).unwrap();
        k.advance(60);
        k.phone_off_hook(FXS_PORT).unwrap();
        k.advance(40);
    }
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::PulseStart)));
    assert_eq!(ch.get_event(), Ok(None), "digit not finished yet");
    k.advance(u64::from(DAHDI_PULSETIMEOUT_MS));
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::PulseDigit(b'3'))));

    // A 10 ms bounce is nothing.
    k.phone_on_hook(FXS_PORT).unwrap();
    k.advance(10);
    k.phone_off_hook(FXS_PORT).unwrap();
    k.advance(1000);
    assert_eq!(ch.get_event(), Ok(None));

    // 500 ms on-hook: a hook flash.
    k.phone_on_hook(FXS_PORT).unwrap();
    k.advance(500);
    k.phone_off_hook(FXS_PORT).unwrap();
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::WinkFlash)));

    // rxflashtime (1250 ms) on-hook: hung up.
    k.phone_on_hook(FXS_PORT).unwrap();
    k.advance(1249);
    assert_eq!(ch.get_event(), Ok(None));
    k.advance(1);
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::OnHook)));
}

#[test]
fn a_ring_burst_ends_after_the_50_ms_trailer() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    k.advance(u64::from(RING_DEBOUNCE_TIME_MS)); // the open hung up
    k.co_ring(FXO_PORT, true).unwrap();
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::RingBegin)));
    assert_eq!(ch.get_params().unwrap().rxhooksig, DAHDI_RXSIG_RING);
    k.advance(2000);
    k.co_ring(FXO_PORT, false).unwrap();
    k.advance(30);
    k.co_ring(FXO_PORT, true).unwrap(); // a gap shorter than the trailer
    k.advance(100);
    k.co_ring(FXO_PORT, false).unwrap();
    k.advance(49);
    assert_eq!(ch.get_event(), Ok(None));
    k.advance(1);
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::RingOffHook)));
}

#[test]
fn rings_within_the_debounce_after_going_on_hook_are_ignored() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    k.advance(3000);
    ch.hook(HookOp::OnHook).unwrap();
    k.advance(1999);
    k.co_ring(FXO_PORT, true).unwrap();
    k.advance(500);
    k.co_ring(FXO_PORT, false).unwrap();
    k.advance(1000);
    assert_eq!(ch.get_event(), Ok(None));
    k.co_ring(FXO_PORT, true).unwrap();
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::RingBegin)));
}

#[test]
fn far_end_disconnect_is_reported_on_kewl_start_after_the_debounce_only() {
    let k = kernel(true);
    let mut ks = k.open_channel(FXO_PORT).unwrap();
    let mut ls = k.open_channel(FXO_LOOPSTART).unwrap();
    ks.hook(HookOp::OffHook).unwrap();
    ls.hook(HookOp::OffHook).unwrap();
    k.co_disconnect(FXO_PORT).unwrap();
    assert_eq!(ks.get_event(), Ok(None), "not during the off-hook debounce");
    k.advance(600);
    k.co_disconnect(FXO_PORT).unwrap();
    k.co_disconnect(FXO_LOOPSTART).unwrap();
    assert_eq!(ks.get_event(), Ok(Some(DahdiEvent::OnHook)));
    assert_eq!(ls.get_event(), Ok(None), "loop start never reports it");
    k.co_polarity_reversal(FXO_LOOPSTART).unwrap();
    assert_eq!(ls.get_event(), Ok(Some(DahdiEvent::Polarity)));
}

#[test]
fn far_end_controls_refuse_the_wrong_port_kind() {
    let k = kernel(true);
    assert_eq!(k.phone_off_hook(FXO_PORT), Err(Errno::EINVAL.into()));
    assert_eq!(k.co_ring(FXS_PORT, true), Err(Errno::EINVAL.into()));
    assert_eq!(k.co_disconnect(99), Err(Errno::EINVAL.into()));
}

// --- conferencing -------------------------------------------------------------

#[test]
fn setconf_validates_like_the_kernel_and_writes_back_numbers() {
    let k = kernel(true);
    let mut a = k.open_channel(FXS_PORT).unwrap();
    let mut b = k.open_channel(FXO_PORT).unwrap();
    let talk = DAHDI_CONF_CONF | DAHDI_CONF_TALKER | DAHDI_CONF_LISTENER;

    let first = a.set_conf(DahdiConfInfo::new(-1, talk)).unwrap();
    assert_eq!(
        (first.chan, first.confno),
        (FXS_PORT, 1),
        "first free conference"
    );
    let second = b.set_conf(DahdiConfInfo::new(first.confno, talk)).unwrap();
    assert_eq!(second.confno, 1);
    let other = b.set_conf(DahdiConfInfo::new(-1, talk)).unwrap();
    assert_eq!(other.confno, 2, "b moved out of 1, and 1 is a's");

    let dm = a
        .set_conf(DahdiConfInfo::new(FXO_PORT, DAHDI_CONF_DIGITALMON))
        .unwrap();
    assert_eq!(dm.confno, FXO_PORT);
    assert_eq!(
        a.set_conf(DahdiConfInfo::new(77, DAHDI_CONF_DIGITALMON)),
        Err(Errno::EINVAL.into()),
        "monitor target must be a channel"
    );
    assert_eq!(
        a.set_conf(DahdiConfInfo::new(0, talk)),
        Err(Errno::EINVAL.into())
    );
    assert_eq!(
        a.set_conf(DahdiConfInfo::new(3, DAHDI_CONF_NORMAL)),
        Err(Errno::EINVAL.into())
    );
    assert_eq!(
        a.set_conf(DahdiConfInfo::new(DAHDI_MAX_CONF + 1, talk)),
        Err(Errno::EINVAL.into())
    );
    assert_eq!(
        a.set_conf(DahdiConfInfo::new(0, DAHDI_CONF_NORMAL))
            .unwrap()
            .confno,
        0
    );
    assert_eq!(k.state(FXS_PORT).unwrap().conf.confmode, DAHDI_CONF_NORMAL);
}

// --- hot-plug -----------------------------------------------------------------

#[test]
fn removed_hardware_reports_removed_then_enodev_and_comes_back_fresh() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    k.remove_channel(FXO_PORT).unwrap();
    let ready = ch.readiness().unwrap();
    assert!(ready.hangup && ready.priority);
    let mut buf = [0u8; 160];
    assert_eq!(ch.read_frame(&mut buf), Err(Errno::ENODEV.into()));
    assert_eq!(ch.hook(HookOp::OffHook), Err(Errno::ENODEV.into()));
    assert_eq!(ch.get_event(), Ok(Some(DahdiEvent::Removed)));
    assert_eq!(k.open_channel(FXO_PORT).err(), Some(Errno::ENXIO.into()));

    k.restore_channel(FXO_PORT).unwrap();
    assert_eq!(
        ch.get_params().err(),
        Some(Errno::ENODEV.into()),
        "old fd stays dead"
    );
    assert!(ch.readiness().unwrap().hangup);
    let mut fresh = open_line(&k, FXO_PORT).unwrap();
    assert_eq!(fresh.hook(HookOp::OffHook), Ok(HookOutcome::Done));
    drop(ch); // closing the stale handle must not close the new one
    assert!(k.state(FXO_PORT).unwrap().open);
}

#[test]
fn law_and_linear_mode_change_the_frame_size() {
    let k = kernel(true);
    let mut ch = k.open_channel(FXO_PORT).unwrap();
    ch.set_blocksize(160).unwrap();
    ch.set_law(Law::ALaw).unwrap();
    assert_eq!(ch.get_params().unwrap().law(), Some(Law::ALaw));
    k.push_rx_audio(FXO_PORT, &[0; 320]).unwrap();
    let mut buf = [0u8; 320];
    assert_eq!(
        ch.read_frame(&mut buf),
        Ok(160),
        "law mode: 1 byte per sample"
    );
    ch.set_linear(true).unwrap();
    k.push_rx_audio(FXO_PORT, &[0; 160]).unwrap();
    assert_eq!(
        ch.read_frame(&mut buf),
        Ok(320),
        "linear: 2 bytes per sample"
    );
}
