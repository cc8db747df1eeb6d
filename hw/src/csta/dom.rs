//! A small, bounded element tree built with `quick-xml`, the first stage of
//! decoding.
//!
//! Decoding in two stages (bytes → tree → message) keeps the message mapping
//! readable and lets this stage enforce every limit in one place: input size,
//! nesting depth and element count are checked before anything is allocated
//! for them, so a hostile or broken switch cannot make the daemon use more
//! than a few times [`MAX_MESSAGE_LEN`] of memory or recurse deeply. The tree
//! keeps only what the mapping needs: each element's namespace, local name,
//! child elements and text; attributes are checked for well-formedness and
//! then dropped (vendors put their own data there).

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::DecodeError;

/// The largest XML document accepted, in bytes. A DMCC frame cannot carry
/// more than 65 527 bytes of XML; real messages are under 4 KiB even with
/// vendor private data.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

/// The deepest element nesting accepted. CSTA messages nest four or five
/// levels; vendor private data a few more.
pub const MAX_DEPTH: usize = 32;

/// The most elements accepted in one document.
pub const MAX_ELEMENTS: usize = 4096;

/// One element of the tree.
#[derive(Debug)]
pub(crate) struct Element {
    /// The namespace URI the element's name resolved to (`None`: no
    /// namespace).
    pub ns: Option<String>,
    /// The local name (without prefix).
    pub name: String,
    /// Child elements, in document order.
    pub children: Vec<Element>,
    /// The character data directly inside the element, entity and character
    /// references resolved, with literal leading and trailing whitespace
    /// removed (pretty-printing is not part of a value; whitespace written
    /// as a character reference is kept, which is how the encoder preserves
    /// it).
    pub text: String,
}

/// An element being built: its text arrives in pieces.
struct Open {
    ns: Option<String>,
    name: String,
    children: Vec<Element>,
    /// Text pieces; `true` marks literal text, whose whitespace at either
    /// end of the element's content is insignificant.
    pieces: Vec<(String, bool)>,
}

impl Open {
    fn finish(self) -> Element {
        Element {
            ns: self.ns,
            name: self.name,
            children: self.children,
            text: join_trimmed(&self.pieces),
        }
    }
}

/// XML's whitespace characters (S production).
pub(crate) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Whether `c` may appear in an XML 1.0 document (Char production). Rust's
/// `char` already excludes surrogates.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Concatenates text pieces, dropping literal whitespace at both ends.
fn join_trimmed(pieces: &[(String, bool)]) -> String {
    let mut out = String::new();
    for (text, _) in pieces {
        out.push_str(text);
    }
    // Count the literal whitespace bytes at the start and end, stopping at
    // the first non-whitespace character or the first non-literal piece.
    let mut lead = 0;
    for (text, literal) in pieces {
        if !literal {
            break;
        }
        let ws = text.len() - text.trim_start_matches(is_xml_space).len();
        lead += ws;
        if ws < text.len() {
            break;
        }
    }
    let mut trail = 0;
    for (text, literal) in pieces.iter().rev() {
        if !literal {
            break;
        }
        let ws = text.len() - text.trim_end_matches(is_xml_space).len();
        trail += ws;
        if ws < text.len() {
            break;
        }
    }
    if lead + trail >= out.len() {
        return String::new();
    }
    out[lead..out.len() - trail].to_owned()
}

/// Checks that decoded text contains only characters XML allows (the reader
/// does not check this, and the encoder could not write them back).
fn check_chars(text: &str) -> Result<(), DecodeError> {
    match text.chars().find(|&c| !is_xml_char(c)) {
        Some(c) => Err(DecodeError::IllegalChar(c as u32)),
        None => Ok(()),
    }
}

fn utf8(bytes: &[u8]) -> Result<String, DecodeError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| DecodeError::NotUtf8)
}

/// Parses a whole document into its root element.
pub(crate) fn parse(input: &[u8]) -> Result<Element, DecodeError> {
    if input.len() > MAX_MESSAGE_LEN {
        return Err(DecodeError::TooLarge {
            len: input.len(),
            max: MAX_MESSAGE_LEN,
        });
    }
    let text = std::str::from_utf8(input).map_err(|_| DecodeError::NotUtf8)?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);

    let mut reader = NsReader::from_str(text);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;
    config.check_comments = true;
    config.trim_text(false);

    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;

    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| DecodeError::Xml(e.to_string()))?;
        let ns = match ns {
            ResolveResult::Bound(ns) => Some(utf8(ns.as_ref())?),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(prefix) => {
                return Err(DecodeError::UnboundPrefix(
                    String::from_utf8_lossy(&prefix).into_owned(),
                ))
            }
        };
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(DecodeError::Xml("content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(DecodeError::TooDeep { max: MAX_DEPTH });
                }
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(DecodeError::TooManyElements { max: MAX_ELEMENTS });
                }
                for attr in start.attributes().with_checks(true) {
                    attr.map_err(|e| DecodeError::Xml(e.to_string()))?;
                }
                stack.push(Open {
                    ns,
                    name: utf8(start.local_name().as_ref())?,
                    children: Vec::new(),
                    pieces: Vec::new(),
                });
            }
            Event::End(_) => {
                // The reader has matched the end tag against its start tag
                // (`check_end_names`), so the stack cannot be empty here;
                // treat it as malformed rather than trusting that.
                let open = stack
                    .pop()
                    .ok_or_else(|| DecodeError::Xml("unmatched end tag".into()))?;
                let element = open.finish();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Empty(_) => {
                // `expand_empty_elements` turns these into Start + End.
                return Err(DecodeError::Xml("unexpanded empty element".into()));
            }
            Event::Text(t) => {
                let content = t
                    .xml10_content()
                    .map_err(|e| DecodeError::Xml(e.to_string()))?;
                check_chars(&content)?;
                match stack.last_mut() {
                    Some(open) => open.pieces.push((content.into_owned(), true)),
                    None => {
                        if !content.chars().all(is_xml_space) {
                            return Err(DecodeError::Xml("text outside the root element".into()));
                        }
                    }
                }
            }
            Event::CData(c) => {
                let content = c
                    .xml10_content()
                    .map_err(|e| DecodeError::Xml(e.to_string()))?;
                check_chars(&content)?;
                let open = stack
                    .last_mut()
                    .ok_or_else(|| DecodeError::Xml("CDATA outside the root element".into()))?;
                open.pieces.push((content.into_owned(), false));
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| DecodeError::Xml(e.to_string()))?
                        .ok_or_else(|| DecodeError::Xml("bad character reference".into()))?
                } else {
                    let name = r.decode().map_err(|e| DecodeError::Xml(e.to_string()))?;
                    match name.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(DecodeError::UnknownEntity(other.to_owned())),
                    }
                };
                if !is_xml_char(c) {
                    return Err(DecodeError::IllegalChar(c as u32));
                }
                let open = stack
                    .last_mut()
                    .ok_or_else(|| DecodeError::Xml("reference outside the root element".into()))?;
                open.pieces.push((c.to_string(), false));
            }
            Event::Decl(decl) => {
                if let Some(encoding) = decl.encoding() {
                    let encoding = encoding.map_err(|e| DecodeError::Xml(e.to_string()))?;
                    if !encoding.eq_ignore_ascii_case(b"utf-8") {
                        return Err(DecodeError::UnsupportedEncoding(
                            String::from_utf8_lossy(&encoding).into_owned(),
                        ));
                    }
                }
            }
            Event::DocType(_) => return Err(DecodeError::DocType),
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(DecodeError::Xml("document ends inside an element".into()));
                }
                return root.ok_or(DecodeError::NoRoot);
            }
        }
    }
}
