//! Repairs the few ways a JSON body can be valid-looking text that `serde_json` refuses, so the lead in it is not
//! lost: a UTF-8 byte order mark before the object, a number too large for a 64-bit float (`1e400`), and a lone
//! UTF-16 surrogate escape (`"\ud800"`). Everything else that does not parse stays refused.

/// What [`repair`] changed, each once, for the postback's warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// A leading byte order mark was removed.
    ByteOrderMark,
    /// A number outside a 64-bit float's range was kept as its text (a string).
    NumberOutOfRange,
    /// A lone surrogate escape was replaced by U+FFFD.
    LoneSurrogate,
}

impl Repair {
    /// What happened, for people.
    pub fn message(self) -> &'static str {
        match self {
            Repair::ByteOrderMark => "a UTF-8 byte order mark before the JSON was removed",
            Repair::NumberOutOfRange => {
                "a number too large to store was kept as text; the field reports it if it needs a number"
            }
            Repair::LoneSurrogate => {
                "a lone UTF-16 surrogate escape (\\ud800-\\udfff) was replaced by U+FFFD"
            }
        }
    }
}

const BOM: &str = "\u{feff}";

/// The body rewritten without the problems above, and what was changed; `None` when there was nothing to repair
/// (or the body is not UTF-8), so the original error stands.
pub fn repair(body: &[u8]) -> Option<(String, Vec<Repair>)> {
    let text = std::str::from_utf8(body).ok()?;
    let mut found = Vec::new();
    let text = match text.strip_prefix(BOM) {
        Some(rest) => {
            found.push(Repair::ByteOrderMark);
            rest
        }
        None => text,
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let (mut i, mut in_string) = (0usize, false);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'"' => {
                    in_string = false;
                    out.push('"');
                    i += 1;
                }
                b'\\' if bytes.get(i + 1) == Some(&b'u') => {
                    let unit = hex4(bytes, i + 2);
                    let paired = |u: u16| (0xD800..0xDC00).contains(&u);
                    match unit {
                        Some(u) if paired(u) && hex4_low(bytes, i + 6).is_some() => {
                            out.push_str(&text[i..i + 12]);
                            i += 12;
                        }
                        Some(u) if (0xD800..0xE000).contains(&u) => {
                            note(&mut found, Repair::LoneSurrogate);
                            out.push_str("\\ufffd");
                            i += 6;
                        }
                        _ => {
                            out.push_str("\\u");
                            i += 2;
                        }
                    }
                }
                b'\\' => {
                    let end = (i + 2).min(bytes.len());
                    out.push_str(text.get(i..end)?);
                    i = end;
                }
                _ => {
                    let ch = text[i..].chars().next()?;
                    out.push(ch);
                    i += ch.len_utf8();
                }
            }
        } else if b == b'"' {
            in_string = true;
            out.push('"');
            i += 1;
        } else if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < bytes.len()
                && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
            {
                i += 1;
            }
            let token = &text[start..i];
            match token.parse::<f64>() {
                Ok(v) if !v.is_finite() => {
                    note(&mut found, Repair::NumberOutOfRange);
                    out.push('"');
                    out.push_str(token);
                    out.push('"');
                }
                _ => out.push_str(token),
            }
        } else {
            let ch = text[i..].chars().next()?;
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    (!found.is_empty()).then_some((out, found))
}

fn note(found: &mut Vec<Repair>, r: Repair) {
    if !found.contains(&r) {
        found.push(r);
    }
}

/// The four hex digits at `at`, as a UTF-16 unit.
fn hex4(bytes: &[u8], at: usize) -> Option<u16> {
    let digits = std::str::from_utf8(bytes.get(at..at + 4)?).ok()?;
    u16::from_str_radix(digits, 16).ok()
}

/// A low surrogate escape (`\udc00`-`\udfff`) at `at`.
fn hex4_low(bytes: &[u8], at: usize) -> Option<u16> {
    if bytes.get(at..at + 2)? != b"\\u" {
        return None;
    }
    hex4(bytes, at + 2).filter(|u| (0xDC00..0xE000).contains(u))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn fixed(body: &str) -> (Value, Vec<Repair>) {
        let (text, found) = repair(body.as_bytes()).expect("something to repair");
        (
            serde_json::from_str(&text).expect("valid after repair"),
            found,
        )
    }

    #[test]
    fn a_byte_order_mark_is_removed() {
        let (v, found) = fixed("\u{feff}{\"email\": \"a@b.com\"}");
        assert_eq!(v["email"], "a@b.com");
        assert_eq!(found, [Repair::ByteOrderMark]);
    }

    #[test]
    fn an_out_of_range_number_becomes_its_text() {
        let (v, found) =
            fixed(r#"{"email": "a@b.com", "form_completion_percent": 1e400, "x": [-2E+999, 3.5]}"#);
        assert_eq!(v["form_completion_percent"], "1e400");
        assert_eq!(v["x"][0], "-2E+999");
        assert_eq!(v["x"][1], 3.5);
        assert_eq!(found, [Repair::NumberOutOfRange]);
    }

    #[test]
    fn lone_surrogates_are_replaced_and_pairs_kept() {
        let (v, found) =
            fixed(r#"{"first_name": "a\ud800b", "last_name": "\ud83d\ude00", "c": "\udc00\"\\u"}"#);
        assert_eq!(v["first_name"], "a\u{fffd}b");
        assert_eq!(v["last_name"], "\u{1F600}");
        assert_eq!(v["c"], "\u{fffd}\"\\u");
        assert_eq!(found, [Repair::LoneSurrogate]);
    }

    #[test]
    fn nothing_to_repair_or_not_utf8_is_none() {
        assert!(repair(br#"{"email": "a@b.com", "n": 1e10, "s": "1e400"}"#).is_none());
        assert!(repair(&[0xff, 0xfe]).is_none());
        assert!(repair(b"{\"email\":").is_none());
    }
}
