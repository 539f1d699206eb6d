//! The words of the history and the event log: what made a version ([`VersionKind`]) and what
//! an event records ([`EventKind`]). Code branches on these enums; they become text only where
//! they leave the process, in the database and in JSON, always as the same kebab-case word.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Text that names no kind, read from the database or a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a {what} (known: {known})")]
pub struct UnknownKind {
    /// `version kind` or `event kind`.
    pub what: &'static str,
    pub text: String,
    pub known: String,
}

/// One enum of kinds, each variant with its one text form (used by serde, `Display` and
/// `FromStr` alike).
macro_rules! kinds {
    ($(#[$meta:meta])* $name:ident, $what:literal {
        $($(#[$vmeta:meta])* $variant:ident = $text:literal,)*
    }) => {
        $(#[$meta])*
        #[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)*
        }

        impl $name {
            /// Every kind, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The kind as stored and serialized.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownKind;

            fn from_str(text: &str) -> Result<Self, UnknownKind> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|k| k.as_str() == text)
                    .ok_or_else(|| UnknownKind {
                        what: $what,
                        text: text.to_string(),
                        known: Self::ALL
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            }
        }
    };
}

kinds! {
    /// What made a version: a whole config (`apply`, from a file or the API), an older
    /// version's config again (`rollback`), one server added, taken out of rotation (it
    /// drains first) or put back, or a step of a rollout (servers added, weighted, or taken out
    /// again) or of a decommission.
    VersionKind, "version kind" {
        Apply = "apply", Rollback = "rollback", ServerAdd = "server-add",
        ServerRemove = "server-remove", ServerRestore = "server-restore",
        Rollout = "rollout", Decommission = "decommission",
    }
}

kinds! {
    /// What an event records: a committed version (written by the store itself); a server's
    /// health change, ejection by outlier detection and return; a pool left with no healthy
    /// server, and healthy again; a server reaching or leaving its concurrency limit; a removed
    /// server's drain; the change guard's verdict on a version; a rollout's start and end; a
    /// decommission, done or refused.
    EventKind, "event kind" {
        Version = "version", Health = "health", Ejection = "ejection", Return = "return",
        AllUnhealthy = "all-unhealthy", Recovered = "recovered", Saturation = "saturation",
        Drain = "drain", Guard = "guard", Rollout = "rollout", Decommission = "decommission",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_agree_and_round_trip() {
        for k in VersionKind::ALL {
            let json = serde_json::to_value(k).unwrap();
            assert_eq!(json, k.as_str());
            assert_eq!(k.as_str().parse::<VersionKind>().unwrap(), *k);
        }
        for k in EventKind::ALL {
            let json = serde_json::to_value(k).unwrap();
            assert_eq!(json, k.as_str());
            assert_eq!(serde_json::from_value::<EventKind>(json).unwrap(), *k);
        }
        assert_eq!(EventKind::AllUnhealthy.to_string(), "all-unhealthy");
    }

    #[test]
    fn unknown_text_names_the_known_kinds() {
        let err = "server-move".parse::<VersionKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"server-move\" is not a version kind (known: apply, rollback, server-add, \
             server-remove, server-restore, rollout, decommission)"
        );
    }
}
