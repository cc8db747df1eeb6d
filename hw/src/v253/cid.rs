//! Unformatted caller ID (`AT+VCID=2`, hardware.md §3.8): the modem prints
//! the raw Bellcore SDMF/MDMF message as hex ASCII and leaves decoding to the
//! host. Used when a modem's formatted output is wrong or incomplete.

use super::result::{CallerId, CallerNumber};

/// Why an unformatted caller-ID line could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidDecodeError {
    /// Not an even number of hex digits.
    #[error("caller-ID line is not hex")]
    NotHex,
    /// Shorter than its length byte says, or too short to have one.
    #[error("caller-ID message truncated")]
    Truncated,
    /// The bytes do not sum to 0 modulo 256.
    #[error("caller-ID checksum mismatch")]
    Checksum,
    /// A message type other than SDMF (0x04) or MDMF (0x80).
    #[error("unknown caller-ID message type 0x{0:02X}")]
    UnknownType(u8),
}

/// Longest hex line decoded: a message is at most 255 + 3 bytes.
const MAX_HEX: usize = 2 * 258;

/// Decodes one `+VCID=2` line (hex digits, spaces allowed).
pub fn decode_unformatted(line: &str) -> Result<CallerId, CidDecodeError> {
    let digits: Vec<u8> = line.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.is_empty() || digits.len() % 2 != 0 || digits.len() > MAX_HEX {
        return Err(CidDecodeError::NotHex);
    }
    let bytes = digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).map_err(|_| CidDecodeError::NotHex)?;
            u8::from_str_radix(text, 16).map_err(|_| CidDecodeError::NotHex)
        })
        .collect::<Result<Vec<u8>, _>>()?;
    decode_message(&bytes)
}

/// Decodes a binary SDMF/MDMF message including its checksum byte.
pub fn decode_message(bytes: &[u8]) -> Result<CallerId, CidDecodeError> {
    let (&kind, rest) = bytes.split_first().ok_or(CidDecodeError::Truncated)?;
    let (&len, rest) = rest.split_first().ok_or(CidDecodeError::Truncated)?;
    let len = usize::from(len);
    if rest.len() < len + 1 {
        return Err(CidDecodeError::Truncated);
    }
    let sum = bytes[..len + 3]
        .iter()
        .fold(0u8, |acc, &b| acc.wrapping_add(b));
    if sum != 0 {
        return Err(CidDecodeError::Checksum);
    }
    let body = &rest[..len];
    let mut id = CallerId::default();
    match kind {
        0x04 => {
            let date_time = body.get(..8).ok_or(CidDecodeError::Truncated)?;
            set_date_time(&mut id, date_time);
            id.number = Some(number(&body[8..]));
        }
        0x80 => {
            let mut params = body;
            while let [ptype, plen, tail @ ..] = params {
                let plen = usize::from(*plen);
                let value = tail.get(..plen).ok_or(CidDecodeError::Truncated)?;
                match ptype {
                    0x01 if value.len() >= 8 => set_date_time(&mut id, value),
                    0x02 => id.number = Some(number(value)),
                    0x04 => id.number = Some(number(value)),
                    0x07 => id.name = Some(text(value)),
                    0x03 => id.dialled = Some(text(value)),
                    _ => {}
                }
                params = &tail[plen..];
            }
        }
        other => return Err(CidDecodeError::UnknownType(other)),
    }
    Ok(id)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

fn number(bytes: &[u8]) -> CallerNumber {
    match text(bytes).as_str() {
        "P" => CallerNumber::Private,
        "O" | "" => CallerNumber::Unavailable,
        other => CallerNumber::Number(other.to_owned()),
    }
}

/// `MMDDHHMM`, split into the `DATE` and `TIME` fields of §3.8.
fn set_date_time(id: &mut CallerId, value: &[u8]) {
    id.date = Some(text(&value[..4]));
    id.time = Some(text(&value[4..8]));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_checksum(mut bytes: Vec<u8>) -> String {
        let sum = bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b));
        bytes.push(sum.wrapping_neg());
        bytes.iter().map(|b| format!("{b:02X}")).collect()
    }

    #[test]
    fn sdmf() {
        let mut msg = vec![0x04, 15];
        msg.extend_from_slice(b"032114055551234");
        let id = decode_unformatted(&with_checksum(msg)).expect("decodes");
        assert_eq!(id.date.as_deref(), Some("0321"));
        assert_eq!(id.time.as_deref(), Some("1405"));
        assert_eq!(id.number, Some(CallerNumber::Number("5551234".into())));
    }

    #[test]
    fn mdmf_with_private_number_and_name() {
        let mut msg = vec![0x80, 0];
        msg.extend_from_slice(&[0x01, 8]);
        msg.extend_from_slice(b"03211405");
        msg.extend_from_slice(&[0x04, 1, b'P', 0x07, 8]);
        msg.extend_from_slice(b"DOE JOHN");
        msg[1] = u8::try_from(msg.len() - 2).expect("short");
        let id = decode_unformatted(&with_checksum(msg)).expect("decodes");
        assert_eq!(id.number, Some(CallerNumber::Private));
        assert_eq!(id.name.as_deref(), Some("DOE JOHN"));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(decode_unformatted("0"), Err(CidDecodeError::NotHex));
        assert_eq!(decode_unformatted("ZZ"), Err(CidDecodeError::NotHex));
        assert_eq!(decode_unformatted("0405"), Err(CidDecodeError::Truncated));
        assert_eq!(
            decode_unformatted("040100FF"),
            Err(CidDecodeError::Checksum)
        );
        assert_eq!(
            decode_unformatted(&with_checksum(vec![0x99, 0])),
            Err(CidDecodeError::UnknownType(0x99))
        );
        // Parameter longer than the message.
        assert_eq!(
            decode_unformatted(&with_checksum(vec![0x80, 2, 0x07, 9])),
            Err(CidDecodeError::Truncated)
        );
    }
}
