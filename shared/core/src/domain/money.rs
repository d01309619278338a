//! Exact money: ISO 4217 currencies with their exponents, amounts in integer minor units, decimal parsing that
//! never goes through a float, and conversion to the reporting currency with exchange rates kept as integers.
//!
//! An amount is `minor` units of a [`Currency`]: 4999 USD is $49.99, 500 JPY is ¥500, 1234 BHD is 1.234 BD.
//! Amounts are read from decimal text ([`parse_amount`]); a value that has more decimals than its currency, is
//! larger than [`MAX_MAJOR`] or is not a number is refused with a reason, so callers can keep it apart (never as
//! 0). Rates are [`Rate`]s: reporting-currency units per one unit of a currency, with [`RATE_DECIMALS`] decimals.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Largest absolute amount accepted, in major units (10^12: a trillion dollars).
pub const MAX_MAJOR: i64 = 1_000_000_000_000;
/// Decimals a [`Rate`] keeps.
pub const RATE_DECIMALS: u32 = 12;

/// ISO 4217 active codes whose minor unit is not 2 decimals, with their exponent.
const EXPONENTS: &[(&str, u8)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// ISO 4217 active codes with a 2-decimal minor unit.
const TWO_DECIMALS: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN \
BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS \
GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD \
MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR \
SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS \
VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL";

/// Every known code, sorted (built once).
fn known_codes() -> &'static [&'static str] {
    static CODES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    CODES.get_or_init(|| {
        let mut codes: Vec<&'static str> = TWO_DECIMALS
            .split_whitespace()
            .chain(EXPONENTS.iter().map(|(c, _)| *c))
            .collect();
        codes.sort_unstable();
        codes
    })
}

/// An ISO 4217 currency code Leadpipe knows the exponent of (upper-case, three letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

/// Why a currency or an amount could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not an ISO 4217 code Leadpipe knows.
    #[error("\"{0}\" is not an ISO 4217 currency code (e.g. USD, EUR, JPY)")]
    UnknownCurrency(String),
    /// Not a decimal number.
    #[error("\"{0}\" is not a number")]
    NotANumber(String),
    /// More decimals than the currency has.
    #[error("{value} has more decimals than {currency} has ({exponent})")]
    TooPrecise {
        /// The value as sent.
        value: String,
        /// Its currency.
        currency: Currency,
        /// The currency's decimals.
        exponent: u8,
    },
    /// Larger than [`MAX_MAJOR`].
    #[error("{0} is larger than 10^12")]
    TooLarge(String),
}

impl Currency {
    /// Reads a code, case-insensitively and trimmed (`usd` → `USD`).
    pub fn parse(raw: &str) -> Result<Self, MoneyError> {
        let code = raw.trim().to_ascii_uppercase();
        let known = code.len() == 3 && known_codes().binary_search(&code.as_str()).is_ok();
        if !known {
            return Err(MoneyError::UnknownCurrency(raw.chars().take(16).collect()));
        }
        let b = code.as_bytes();
        Ok(Self([b[0], b[1], b[2]]))
    }

    /// The code (`USD`).
    pub fn as_str(&self) -> &str {
        // Only built from ASCII codes by `parse`.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Decimals of the minor unit (JPY 0, USD 2, BHD 3).
    pub fn exponent(&self) -> u8 {
        EXPONENTS
            .iter()
            .find(|(c, _)| *c == self.as_str())
            .map_or(2, |(_, e)| *e)
    }

    /// US dollars (the default reporting currency).
    pub fn usd() -> Self {
        Self(*b"USD")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Currency::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// An exact amount: `minor` units of `currency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Integer minor units (cents for USD, yen for JPY, fils for BHD); negative for refunds.
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// The amount as decimal text in major units (`4999` USD → `49.99`, `-5` JPY → `-5`).
    pub fn to_decimal(&self) -> String {
        format_minor(i128::from(self.minor), self.currency.exponent())
    }
}

/// Decimal text of `minor` units with `exponent` decimals.
pub fn format_minor(minor: i128, exponent: u8) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if exponent == 0 {
        return format!("{sign}{abs}");
    }
    let scale = 10u128.pow(u32::from(exponent));
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = usize::from(exponent)
    )
}

/// A decimal number read from text exactly: `digits` × 10^-`scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    /// The digits as an integer (signed).
    pub digits: i128,
    /// How many of them are decimals.
    pub scale: u32,
}

impl Decimal {
    /// Reads `-12.5`, `1e3`, `4.999E-2`, `+7`, `.5`. No thousands separators (see [`parse_locale_number`]).
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim();
        let (mantissa, exp) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
            None => (s, 0),
        };
        let (neg, body) = match mantissa.as_bytes().first()? {
            b'-' => (true, &mantissa[1..]),
            b'+' => (false, &mantissa[1..]),
            _ => (false, mantissa),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let all = format!("{int}{frac}");
        let all = all.trim_start_matches('0');
        if all.len() > 30 || !(-40..=40).contains(&exp) {
            return None;
        }
        let mut digits: i128 = if all.is_empty() { 0 } else { all.parse().ok()? };
        let mut scale = i64::try_from(frac.len()).ok()? - i64::from(exp);
        while scale < 0 {
            digits = digits.checked_mul(10)?;
            scale += 1;
        }
        // Drop trailing zero decimals: 1.50 is 1.5.
        while scale > 0 && digits % 10 == 0 {
            digits /= 10;
            scale -= 1;
        }
        if neg {
            digits = -digits;
        }
        Some(Self {
            digits,
            scale: u32::try_from(scale).ok()?,
        })
    }
}

/// Reads a number as spreadsheets and ad-platform exports write it: `1,234.56`, `1234.56`, `1.234,56`,
/// `1 234,56`, `$1,234.56`, `€12`, `(12.50)` (negative), `12.5%` is refused. A lone separator followed by exactly
/// three digits (`1,234`) is a thousands separator; otherwise it is the decimal mark.
pub fn parse_locale_number(raw: &str) -> Option<Decimal> {
    let mut s: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}' && *c != '\'')
        .collect();
    let negative_parens = s.starts_with('(') && s.ends_with(')');
    if negative_parens {
        s = s[1..s.len() - 1].to_string();
    }
    let s: String = s
        .trim_start_matches(|c: char| !c.is_ascii_digit() && c != '-' && c != '+' && c != '.')
        .trim_end_matches(|c: char| c.is_alphabetic())
        .to_string();
    if s.contains('%') || s.is_empty() {
        return None;
    }
    let last_dot = s.rfind('.');
    let last_comma = s.rfind(',');
    let normal = match (last_dot, last_comma) {
        (Some(d), Some(c)) if d > c => s.replace(',', ""),
        (Some(_), Some(_)) => s.replace('.', "").replace(',', "."),
        (None, Some(c)) => {
            let after = &s[c + 1..];
            if s.matches(',').count() > 1
                || (after.len() == 3 && s[..c].trim_start_matches('-') != "0")
            {
                s.replace(',', "")
            } else {
                s.replace(',', ".")
            }
        }
        (Some(d), None) if s.matches('.').count() > 1 => {
            let _ = d;
            s.replace('.', "")
        }
        _ => s,
    };
    let d = Decimal::parse(&normal)?;
    Some(if negative_parens {
        Decimal {
            digits: -d.digits,
            ..d
        }
    } else {
        d
    })
}

/// An exact amount of `currency` from a decimal in major units: refused when it has more decimals than the
/// currency, or is larger than [`MAX_MAJOR`] either way.
pub fn amount_of(d: Decimal, currency: Currency, raw: &str) -> Result<Money, MoneyError> {
    let exponent = currency.exponent();
    if d.scale > u32::from(exponent) {
        return Err(MoneyError::TooPrecise {
            value: clip_raw(raw),
            currency,
            exponent,
        });
    }
    let minor = d
        .digits
        .checked_mul(10i128.pow(u32::from(exponent) - d.scale))
        .filter(|m| m.unsigned_abs() <= (MAX_MAJOR as u128) * 10u128.pow(u32::from(exponent)))
        .and_then(|m| i64::try_from(m).ok())
        .ok_or_else(|| MoneyError::TooLarge(clip_raw(raw)))?;
    Ok(Money { minor, currency })
}

/// Reads `raw` (decimal text in major units) as an amount of `currency`.
pub fn parse_amount(raw: &str, currency: Currency) -> Result<Money, MoneyError> {
    let d = Decimal::parse(raw).ok_or_else(|| MoneyError::NotANumber(clip_raw(raw)))?;
    amount_of(d, currency, raw)
}

fn clip_raw(raw: &str) -> String {
    raw.trim().chars().take(40).collect()
}

/// An exchange rate: how many reporting-currency units one unit of a currency is worth, with
/// [`RATE_DECIMALS`] decimals (`0.0067` JPY→USD is `6_700_000_000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rate(pub i64);

impl Rate {
    /// The rate of a currency to itself.
    pub const ONE: Rate = Rate(10i64.pow(RATE_DECIMALS));

    /// Reads a positive decimal rate (`0.0067`, `1.08`), at most [`RATE_DECIMALS`] decimals and below 10^6.
    pub fn parse(raw: &str) -> Option<Self> {
        let d = parse_locale_number(raw)?;
        if d.digits <= 0 || d.scale > RATE_DECIMALS {
            return None;
        }
        let v = d.digits.checked_mul(10i128.pow(RATE_DECIMALS - d.scale))?;
        (v < 1_000_000 * i128::from(Rate::ONE.0))
            .then(|| i64::try_from(v).ok().map(Rate))
            .flatten()
    }

    /// The rate as decimal text (`1.08`).
    pub fn to_decimal(&self) -> String {
        let t = format_minor(i128::from(self.0), RATE_DECIMALS as u8);
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Converts `minor` units of `from` into minor units of `to` at `rate` (units of `to` per unit of `from`),
/// rounding half away from zero; `None` on overflow.
pub fn convert(minor: i128, from: Currency, to: Currency, rate: Rate) -> Option<i128> {
    if from == to {
        return Some(minor);
    }
    let num = minor
        .checked_mul(i128::from(rate.0))?
        .checked_mul(10i128.pow(u32::from(to.exponent())))?;
    let den = 10i128.pow(u32::from(from.exponent()) + RATE_DECIMALS);
    let (q, r) = (num / den, num % den);
    Some(if r.abs() * 2 >= den {
        q + num.signum()
    } else {
        q
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(c: &str) -> Currency {
        Currency::parse(c).unwrap()
    }

    #[test]
    fn currencies_have_their_iso_exponent() {
        assert_eq!(cur("jpy").exponent(), 0);
        assert_eq!(cur("USD").exponent(), 2);
        assert_eq!(cur(" bhd ").exponent(), 3);
        assert_eq!(cur("EUR").as_str(), "EUR");
        assert!(Currency::parse("XYZ").is_err());
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("").is_err());
    }

    #[test]
    fn amounts_are_exact_minor_units() {
        assert_eq!(parse_amount("49.99", cur("USD")).unwrap().minor, 4999);
        assert_eq!(parse_amount("0.1", cur("USD")).unwrap().minor, 10);
        assert_eq!(parse_amount("500", cur("JPY")).unwrap().minor, 500);
        assert_eq!(parse_amount("1.234", cur("BHD")).unwrap().minor, 1234);
        assert_eq!(parse_amount("-12.50", cur("EUR")).unwrap().minor, -1250);
        assert_eq!(parse_amount("1e3", cur("USD")).unwrap().minor, 100_000);
        assert_eq!(parse_amount("4.99E1", cur("USD")).unwrap().minor, 4990);
        assert_eq!(parse_amount("4.9E-1", cur("USD")).unwrap().minor, 49);
        assert_eq!(
            parse_amount("1000000000000", cur("USD")).unwrap().minor,
            100_000_000_000_000
        );
    }

    #[test]
    fn bad_amounts_say_why() {
        assert!(matches!(
            parse_amount("1.001", cur("USD")),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse_amount("0.5", cur("JPY")),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse_amount("1000000000000.01", cur("USD")),
            Err(MoneyError::TooLarge(_))
        ));
        assert!(matches!(
            parse_amount("1e30", cur("USD")),
            Err(MoneyError::TooLarge(_))
        ));
        for bad in ["NaN", "abc", "", "1.2.3", "--1", "Infinity", "1e99999"] {
            assert!(
                matches!(
                    parse_amount(bad, cur("USD")),
                    Err(MoneyError::NotANumber(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn export_numbers_are_read_as_written() {
        let n = |s: &str| parse_locale_number(s).map(|d| (d.digits, d.scale));
        assert_eq!(n("1,234.56"), Some((123_456, 2)));
        assert_eq!(n("1.234,56"), Some((123_456, 2)));
        assert_eq!(n("1 234,56"), Some((123_456, 2)));
        assert_eq!(n("$1,234.56"), Some((123_456, 2)));
        assert_eq!(n("1,234"), Some((1234, 0)));
        assert_eq!(n("12,5"), Some((125, 1)));
        assert_eq!(n("0,123"), Some((123, 3)));
        assert_eq!(n("1,234,567"), Some((1_234_567, 0)));
        assert_eq!(n("(12.50)"), Some((-125, 1)));
        assert_eq!(n("€12 EUR"), Some((12, 0)));
        assert_eq!(n("12%"), None);
        assert_eq!(n("--"), None);
    }

    #[test]
    fn formatting_round_trips() {
        let m = parse_amount("-0.05", cur("USD")).unwrap();
        assert_eq!(m.to_decimal(), "-0.05");
        assert_eq!(parse_amount("7", cur("BHD")).unwrap().to_decimal(), "7.000");
        assert_eq!(parse_amount("7", cur("JPY")).unwrap().to_decimal(), "7");
    }

    #[test]
    fn conversion_uses_both_exponents_and_rounds_half_away() {
        let (usd, jpy, bhd) = (cur("USD"), cur("JPY"), cur("BHD"));
        let r = Rate::parse("0.0067").unwrap();
        assert_eq!(r.to_decimal(), "0.0067");
        // ¥1,000 × 0.0067 = $6.70
        assert_eq!(convert(1000, jpy, usd, r), Some(670));
        // 1.234 BD × 2.65 = $3.2701 → 327 cents
        assert_eq!(
            convert(1234, bhd, usd, Rate::parse("2.65").unwrap()),
            Some(327)
        );
        // half a cent rounds away from zero, both signs
        assert_eq!(
            convert(1, cur("EUR"), usd, Rate::parse("0.5").unwrap()),
            Some(1)
        );
        assert_eq!(
            convert(-1, cur("EUR"), usd, Rate::parse("0.5").unwrap()),
            Some(-1)
        );
        assert_eq!(convert(12345, usd, usd, Rate::ONE), Some(12345));
        assert!(
            Rate::parse("0").is_none() && Rate::parse("-1").is_none() && Rate::parse("x").is_none()
        );
    }
}
