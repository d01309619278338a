//! DynamoDB's item-size rules, which decide write and read units: an item's size is the sum of its attribute
//! names' UTF-8 lengths and its values' sizes.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::codec::Item;

/// The size of one value: strings and binaries by length, numbers about one byte per two significant digits
/// plus one, sets and documents by their elements plus a few bytes of overhead.
pub fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(l) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        _ => 0,
    }
}

fn number_size(n: &str) -> usize {
    let digits = n
        .trim_start_matches('-')
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>();
    let significant = digits
        .trim_start_matches('0')
        .trim_end_matches('0')
        .len()
        .max(1);
    significant.div_ceil(2) + 1
}

/// The size of an item.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// Write units of writing an item of `size` bytes (1 KB each, rounded up; at least one).
pub fn write_units(size: usize) -> u64 {
    (size.max(1) as u64).div_ceil(1024)
}

/// Read units of reading `size` bytes (4 KB each, rounded up; halved when eventually consistent).
pub fn read_units(size: usize, consistent: bool) -> f64 {
    let units = (size.max(1) as u64).div_ceil(4096) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_rules() {
        assert_eq!(value_size(&AttributeValue::S("abc".into())), 3);
        assert_eq!(value_size(&AttributeValue::N("12345".into())), 4);
        assert_eq!(value_size(&AttributeValue::N("100".into())), 2);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
        assert_eq!(read_units(4097, false), 1.0);
    }
}
