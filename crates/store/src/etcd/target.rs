//! `etcd://HOST:PORT[,HOST:PORT...]/PREFIX`: where a shared store lives.

use std::fmt;

/// The prefix used when the URL names none.
pub const DEFAULT_PREFIX: &str = "/switchyard";

/// A parsed `etcd://` store URL: the members to reach and the key prefix everything lives under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdTarget {
    /// `HOST:PORT` of each member, as given.
    pub members: Vec<String>,
    /// The key prefix, starting with `/` and without a trailing one.
    pub prefix: String,
}

/// A store URL that does not read as `etcd://HOST:PORT[,HOST:PORT...]/PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store URL {url:?} {problem}: expected etcd://HOST:PORT[,HOST:PORT...]/PREFIX, e.g. etcd://127.0.0.1:2379/switchyard")]
pub struct BadTarget {
    pub url: String,
    pub problem: &'static str,
}

impl EtcdTarget {
    /// Parses `etcd://HOST:PORT[,HOST:PORT...]/PREFIX` (PREFIX defaults to `/switchyard`).
    pub fn parse(url: &str) -> Result<EtcdTarget, BadTarget> {
        let bad = |problem| BadTarget {
            url: url.to_string(),
            problem,
        };
        let rest = url
            .strip_prefix("etcd://")
            .ok_or_else(|| bad("does not start with etcd://"))?;
        let (hosts, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let members: Vec<String> = hosts.split(',').map(str::trim).map(String::from).collect();
        for m in &members {
            let port = m
                .rsplit_once(':')
                .map(|(host, port)| (host, port.parse::<u16>()));
            if !matches!(port, Some((host, Ok(_))) if !host.is_empty()) {
                return Err(bad("has a member that is not HOST:PORT"));
            }
        }
        let prefix = if prefix.is_empty() {
            DEFAULT_PREFIX.to_string()
        } else {
            prefix.to_string()
        };
        Ok(EtcdTarget { members, prefix })
    }

    /// The members as gRPC endpoints (`http://HOST:PORT`).
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| format!("http://{m}")).collect()
    }
}

impl fmt::Display for EtcdTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "etcd://{}{}", self.members.join(","), self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_members_and_prefix() {
        let t = EtcdTarget::parse("etcd://127.0.0.1:2379,10.0.0.2:2379/shop/lb/").unwrap();
        assert_eq!(t.members, ["127.0.0.1:2379", "10.0.0.2:2379"]);
        assert_eq!(t.prefix, "/shop/lb");
        assert_eq!(t.to_string(), "etcd://127.0.0.1:2379,10.0.0.2:2379/shop/lb");
        assert_eq!(
            EtcdTarget::parse("etcd://h:1").unwrap().prefix,
            "/switchyard"
        );
    }

    #[test]
    fn refuses_what_is_not_an_etcd_url() {
        for url in [
            "http://h:1/p",
            "etcd:///p",
            "etcd://h/p",
            "etcd://h:x/p",
            "etcd://h:1,/p",
        ] {
            let err = EtcdTarget::parse(url).unwrap_err();
            assert!(
                err.to_string().contains("expected etcd://HOST:PORT"),
                "{url}: {err}"
            );
        }
    }
}
