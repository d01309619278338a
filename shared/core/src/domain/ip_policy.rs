//! What Leadpipe keeps of a visitor's IP address (`IP_ADDRESSES`): all of it, a truncated network prefix, or
//! nothing. Applied at ingest to the postback's `ip_address` field and to the client address the postback log
//! keeps, so a truncated or dropped address is never stored.

use std::net::IpAddr;

/// The IP-address policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpPolicy {
    /// Keep addresses as sent (the default).
    #[default]
    Keep,
    /// Keep the network only: IPv4 `/24` (`203.0.113.77` → `203.0.113.0`), IPv6 `/48`; text that is not an IP
    /// address is dropped.
    Truncate,
    /// Keep no address at all.
    Drop,
}

/// What the policy made of one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpOutcome {
    /// Stored as it came.
    Kept(String),
    /// Stored truncated to its network.
    Truncated(String),
    /// Not stored: the policy drops addresses.
    Dropped,
    /// Not stored: truncation needs an IP address and this is not one.
    NotAnAddress,
}

impl IpOutcome {
    /// The value to store, if any.
    pub fn stored(self) -> Option<String> {
        match self {
            Self::Kept(s) | Self::Truncated(s) => Some(s),
            Self::Dropped | Self::NotAnAddress => None,
        }
    }
}

impl IpPolicy {
    /// Reads `keep`, `truncate` or `drop` (case-insensitive; empty = keep).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "keep" => Some(Self::Keep),
            "truncate" => Some(Self::Truncate),
            "drop" => Some(Self::Drop),
            _ => None,
        }
    }

    /// Applies the policy to one address as sent.
    pub fn apply(self, raw: &str) -> IpOutcome {
        match self {
            Self::Keep => IpOutcome::Kept(raw.to_string()),
            Self::Drop => IpOutcome::Dropped,
            Self::Truncate => match raw.trim().parse::<IpAddr>() {
                Ok(IpAddr::V4(v4)) => {
                    let [a, b, c, _] = v4.octets();
                    IpOutcome::Truncated(std::net::Ipv4Addr::new(a, b, c, 0).to_string())
                }
                Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                    Some(v4) => {
                        let [a, b, c, _] = v4.octets();
                        IpOutcome::Truncated(std::net::Ipv4Addr::new(a, b, c, 0).to_string())
                    }
                    None => {
                        let s = v6.segments();
                        IpOutcome::Truncated(
                            std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0).to_string(),
                        )
                    }
                },
                Err(_) => IpOutcome::NotAnAddress,
            },
        }
    }

    /// The address to store for `raw` under this policy (`None` when nothing is kept).
    pub fn stored(self, raw: Option<&str>) -> Option<String> {
        raw.and_then(|r| self.apply(r).stored())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_the_network_only() {
        let t = IpPolicy::Truncate;
        assert_eq!(
            t.apply("203.0.113.77"),
            IpOutcome::Truncated("203.0.113.0".into())
        );
        assert_eq!(
            t.apply("2001:db8:85a3:8d3:1319:8a2e:370:7348"),
            IpOutcome::Truncated("2001:db8:85a3::".into())
        );
        assert_eq!(
            t.apply("::ffff:198.51.100.9"),
            IpOutcome::Truncated("198.51.100.0".into())
        );
        assert_eq!(
            t.apply(" 10.1.2.3 "),
            IpOutcome::Truncated("10.1.2.0".into())
        );
        assert_eq!(t.apply("my laptop"), IpOutcome::NotAnAddress);
    }

    #[test]
    fn keep_and_drop() {
        assert_eq!(
            IpPolicy::Keep.stored(Some("1.2.3.4")),
            Some("1.2.3.4".into())
        );
        assert_eq!(IpPolicy::Drop.stored(Some("1.2.3.4")), None);
        assert_eq!(IpPolicy::Truncate.stored(None), None);
    }

    #[test]
    fn names_parse() {
        assert_eq!(IpPolicy::parse("TRUNCATE"), Some(IpPolicy::Truncate));
        assert_eq!(IpPolicy::parse(""), Some(IpPolicy::Keep));
        assert_eq!(IpPolicy::parse("drop"), Some(IpPolicy::Drop));
        assert_eq!(IpPolicy::parse("hash"), None);
    }
}
