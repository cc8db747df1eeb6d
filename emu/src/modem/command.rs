//! V.250 command lines as the modem reads them: `AT` followed by basic
//! commands (`E0`, `&K3`, `S0=0`, `D…`) and extended ones (`+VSM=130,8000`,
//! `#CLS=8`, `+VLS=?`), several per line, extended ones separated by `;`.
//! Pure parsing, so the interpreter only sees typed commands and any
//! malformed line becomes one `ERROR`.

/// How an extended command is invoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `+VTR`
    Exec,
    /// `+VLS=1`: the argument text.
    Set(String),
    /// `+VLS?`
    Query,
    /// `+VLS=?`
    Test,
}

/// One command of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// A basic command: its letter(s) upper-cased (`E`, `&K`) and number.
    Basic {
        /// `E`, `V`, `&K`, …
        name: String,
        /// The number after it (absent = 0 by V.250).
        value: Option<u32>,
    },
    /// `Sn=v` or `Sn?`.
    Register {
        /// Register number.
        n: u32,
        /// `Some` to set.
        value: Option<u32>,
    },
    /// `D…`: the rest of the line.
    Dial(String),
    /// An extended command with its `+` or `#` prefix.
    Extended {
        /// `+` or `#`.
        prefix: u8,
        /// Upper-cased name without the prefix (`VSM`).
        name: String,
        /// How it was invoked.
        op: Op,
    },
}

/// Why a line is not a command line the modem accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Parses the text of one line (without `<CR>`). `Ok(None)` when the line
/// does not start with `AT` (modems ignore such lines).
pub fn parse_line(line: &[u8]) -> Result<Option<Vec<Cmd>>, Malformed> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    let upper = text.to_ascii_uppercase();
    let Some(body) = upper.strip_prefix("AT") else {
        return Ok(None);
    };
    // The original spelling of arguments is kept (caller text, labels).
    let original = &text[2..];
    let b = body.as_bytes();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b';' => i += 1,
            b'+' | b'#' => {
                i += 1;
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if start == i {
                    return Err(Malformed);
                }
                let name = body[start..i].to_owned();
                let op = if body[i..].starts_with("=?") {
                    i += 2;
                    Op::Test
                } else if body[i..].starts_with('=') {
                    i += 1;
                    let start = i;
                    while i < b.len() && b[i] != b';' {
                        i += 1;
                    }
                    Op::Set(original[start..i].trim().to_owned())
                } else if body[i..].starts_with('?') {
                    i += 1;
                    Op::Query
                } else {
                    Op::Exec
                };
                cmds.push(Cmd::Extended {
                    prefix: c,
                    name,
                    op,
                });
            }
            b'D' => {
                cmds.push(Cmd::Dial(original[i + 1..].trim().to_owned()));
                i = b.len();
            }
            b'S' => {
                i += 1;
                let n = number(b, &mut i).ok_or(Malformed)?;
                let value = match b.get(i) {
                    Some(b'=') => {
                        i += 1;
                        Some(number(b, &mut i).unwrap_or(0))
                    }
                    Some(b'?') => {
                        i += 1;
                        None
                    }
                    _ => return Err(Malformed),
                };
                cmds.push(Cmd::Register { n, value });
            }
            b'&' | b'\\' | b'%' => {
                let letter = *b.get(i + 1).ok_or(Malformed)?;
                if !letter.is_ascii_alphabetic() {
                    return Err(Malformed);
                }
                i += 2;
                let value = number(b, &mut i);
                cmds.push(Cmd::Basic {
                    name: format!("{}{}", char::from(c), char::from(letter)),
                    value,
                });
            }
            c if c.is_ascii_alphabetic() => {
                i += 1;
                let value = number(b, &mut i);
                cmds.push(Cmd::Basic {
                    name: char::from(c).to_string(),
                    value,
                });
            }
            _ => return Err(Malformed),
        }
    }
    Ok(Some(cmds))
}

/// Decimal digits at `i`, advancing past them; `None` if there are none.
/// Saturates instead of overflowing on absurd input.
fn number(b: &[u8], i: &mut usize) -> Option<u32> {
    let start = *i;
    let mut n: u32 = 0;
    while *i < b.len() && b[*i].is_ascii_digit() {
        n = n.saturating_mul(10).saturating_add(u32::from(b[*i] - b'0'));
        *i += 1;
    }
    (*i > start).then_some(n)
}

/// Splits an argument list at commas outside `[]`, `{}`, `()` and quotes.
pub fn split_args(args: &str) -> Vec<&str> {
    let mut depth = 0u32;
    let mut quoted = false;
    let mut start = 0;
    let mut out = Vec::new();
    for (i, c) in args.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' | '(' if !quoted => depth += 1,
            ']' | '}' | ')' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                out.push(args[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(args[start..].trim());
    out
}

/// One `+VTS` element (§3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToneElement {
    /// A DTMF digit (ASCII) for `dur` × 10 ms.
    Digit(u8, u32),
    /// A hook flash for `dur` × 10 ms.
    Flash(u32),
    /// Frequencies for `dur` × 10 ms.
    Dual(u32),
}

impl ToneElement {
    /// Length in 10 ms units.
    pub fn duration(self) -> u32 {
        match self {
            ToneElement::Digit(_, d) | ToneElement::Flash(d) | ToneElement::Dual(d) => d,
        }
    }
}

/// Parses a `+VTS` list with `default` as the `+VTD` length; `None` when
/// any element is invalid.
pub fn parse_tones(args: &str, default: u32) -> Option<Vec<ToneElement>> {
    let mut out = Vec::new();
    for element in split_args(args) {
        let symbol = |s: &str, dur: u32| -> Option<ToneElement> {
            match s.as_bytes() {
                [b'!'] => Some(ToneElement::Flash(dur)),
                [d] if matches!(d, b'0'..=b'9' | b'*' | b'#' | b'A'..=b'D' | b'a'..=b'd') => {
                    Some(ToneElement::Digit(d.to_ascii_uppercase(), dur))
                }
                _ => None,
            }
        };
        let tone = if let Some(inner) = element.strip_prefix('{').and_then(|e| e.strip_suffix('}'))
        {
            let parts = split_args(inner);
            let [sym, dur] = parts.as_slice() else {
                return None;
            };
            symbol(sym, dur.parse().ok().filter(|&d| d <= 255)?)?
        } else if let Some(inner) = element.strip_prefix('[').and_then(|e| e.strip_suffix(']')) {
            let parts = split_args(inner);
            let [f1, f2, dur] = parts.as_slice() else {
                return None;
            };
            for f in [f1, f2] {
                let f: u32 = if f.is_empty() { 0 } else { f.parse().ok()? };
                if f != 0 && !(200..=3000).contains(&f) {
                    return None;
                }
            }
            ToneElement::Dual(dur.parse().ok().filter(|&d| d <= 255)?)
        } else {
            symbol(element, default)?
        };
        out.push(tone);
        if out.len() > 256 {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(prefix: u8, name: &str, op: Op) -> Cmd {
        Cmd::Extended {
            prefix,
            name: name.into(),
            op,
        }
    }

    #[test]
    fn parses_compound_lines() {
        assert_eq!(
            parse_line(b"ATE0V1Q0").unwrap().unwrap(),
            vec![
                Cmd::Basic {
                    name: "E".into(),
                    value: Some(0)
                },
                Cmd::Basic {
                    name: "V".into(),
                    value: Some(1)
                },
                Cmd::Basic {
                    name: "Q".into(),
                    value: Some(0)
                },
            ]
        );
        assert_eq!(
            parse_line(b"AT+VIT=0;+VPR=0").unwrap().unwrap(),
            vec![
                ext(b'+', "VIT", Op::Set("0".into())),
                ext(b'+', "VPR", Op::Set("0".into()))
            ]
        );
        assert_eq!(
            parse_line(b"at#vls=0a").unwrap().unwrap(),
            vec![ext(b'#', "VLS", Op::Set("0a".into()))]
        );
        assert_eq!(
            parse_line(b"AT+VSM=?").unwrap().unwrap(),
            vec![ext(b'+', "VSM", Op::Test)]
        );
        assert_eq!(parse_line(b"AT&H1&R2&I0S0=0").unwrap().unwrap().len(), 4);
        assert_eq!(
            parse_line(b"ATD555;").unwrap().unwrap(),
            vec![Cmd::Dial("555;".into())]
        );
        assert_eq!(parse_line(b"hello").unwrap(), None);
        assert_eq!(parse_line(b"AT+=3"), Err(Malformed));
        assert_eq!(parse_line(b"AT\x01"), Err(Malformed));
    }

    #[test]
    fn parses_tone_lists() {
        assert_eq!(
            parse_tones("{!,30},1,2", 10),
            Some(vec![
                ToneElement::Flash(30),
                ToneElement::Digit(b'1', 10),
                ToneElement::Digit(b'2', 10)
            ])
        );
        assert_eq!(
            parse_tones("[440,0,50]", 10),
            Some(vec![ToneElement::Dual(50)])
        );
        assert_eq!(parse_tones("[100,0,50]", 10), None);
        assert_eq!(parse_tones("x", 10), None);
        assert_eq!(parse_tones("{1,999}", 10), None);
    }
}
