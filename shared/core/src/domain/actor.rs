//! Who makes a change: a signed-in person or a key, and the role the API grants them.
//!
//! Every route outside the postback stream requires a [`Role`]; the HTTP layer resolves the request to an
//! [`Actor`] (the admin key from the environment, a managed key, or a person's session) and refuses it when its
//! role is below the route's. The actor is what the audit log and a manual stage move record.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a person or key may do, each role including the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Dashboards and leads, without export.
    Viewer,
    /// Also moves, edits, notes, orders, imports and export.
    Member,
    /// Also users, keys, webhooks, settings and deletes.
    Admin,
}

impl Role {
    /// The role's name as the API spells it (`viewer`, `member`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Member => "member",
            Self::Admin => "admin",
        }
    }

    /// Reads a role name (case-insensitive, trimmed).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "viewer" => Some(Self::Viewer),
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// Whether this role may do what `required` may.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

/// The kind of caller behind a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActorKind {
    /// A person signed in with a session.
    User {
        /// The account's id.
        id: Uuid,
        /// The account's email, as shown in the audit log.
        email: String,
    },
    /// A key: `ADMIN_API_KEY` from the environment, or a managed key by its name.
    Key {
        /// The key's name (`ADMIN_API_KEY` for the environment's admin key).
        name: String,
    },
    /// No key is configured at all (a local run with every check off): anyone on the machine.
    Open,
    /// Someone with the deployment's own credentials running a `leadpipe` command (the first admin).
    Cli {
        /// The command, e.g. `users create-admin`.
        command: String,
    },
}

/// A resolved caller: who, and with which role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Who.
    #[serde(flatten)]
    pub kind: ActorKind,
    /// What they may do.
    pub role: Role,
}

impl Actor {
    /// The environment's `ADMIN_API_KEY` (automation and first start-up).
    pub fn admin_key() -> Self {
        Self {
            kind: ActorKind::Key {
                name: "ADMIN_API_KEY".into(),
            },
            role: Role::Admin,
        }
    }

    /// Someone running `leadpipe <command>` on the deployment's own credentials (an admin by definition).
    pub fn cli(command: &str) -> Self {
        Self {
            kind: ActorKind::Cli {
                command: command.into(),
            },
            role: Role::Admin,
        }
    }

    /// The caller of a deployment with no key configured (local only).
    pub fn open() -> Self {
        Self {
            kind: ActorKind::Open,
            role: Role::Admin,
        }
    }

    /// A short label for logs, history and the audit log: the email, `key:<name>` or `open`.
    pub fn label(&self) -> String {
        match &self.kind {
            ActorKind::User { email, .. } => email.clone(),
            ActorKind::Key { name } => format!("key:{name}"),
            ActorKind::Open => "open".into(),
            ActorKind::Cli { command } => format!("cli:{command}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Admin.allows(Role::Member));
        assert!(Role::Member.allows(Role::Viewer));
        assert!(Role::Member.allows(Role::Member));
        assert!(!Role::Viewer.allows(Role::Member));
        assert!(!Role::Member.allows(Role::Admin));
    }

    #[test]
    fn roles_round_trip_their_names() {
        for r in [Role::Viewer, Role::Member, Role::Admin] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse(" Admin "), Some(Role::Admin));
        assert_eq!(Role::parse("owner"), None);
    }

    #[test]
    fn labels_name_the_actor() {
        assert_eq!(Actor::admin_key().label(), "key:ADMIN_API_KEY");
        assert_eq!(Actor::open().label(), "open");
        assert_eq!(
            Actor::cli("users create-admin").label(),
            "cli:users create-admin"
        );
        let user = Actor {
            kind: ActorKind::User {
                id: Uuid::nil(),
                email: "ana@example.com".into(),
            },
            role: Role::Viewer,
        };
        assert_eq!(user.label(), "ana@example.com");
        let json = serde_json::to_value(&user).unwrap();
        assert_eq!(json["kind"], "user");
        assert_eq!(json["role"], "viewer");
    }
}
