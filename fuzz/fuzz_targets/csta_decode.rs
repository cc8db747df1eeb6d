//! Fuzzes the ECMA-323 XML decoder (`pickupd_hw::csta::decode_document`).
//!
//! Any input may be rejected, but none may panic or exceed the decoder's
//! limits; and whatever decodes must survive a round trip: encoding the
//! message in the same edition and decoding it again gives the same message.
//! That second property is what keeps the driver and the emulated key
//! system, which use opposite directions of the codec, in agreement.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pickupd_hw::csta::{decode_document, encode_with};

fuzz_target!(|data: &[u8]| {
    if let Ok((edition, message)) = decode_document(data) {
        let xml = encode_with(&message, edition);
        match decode_document(&xml) {
            Ok(again) => assert_eq!(again, (edition, message), "round trip changed the message"),
            Err(e) => panic!(
                "re-encoded message does not decode: {e}\n{}",
                String::from_utf8_lossy(&xml)
            ),
        }
    }
});
