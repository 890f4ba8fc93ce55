//! Policy rules: the presets, and SQL expressions for those allowed to write them.

use sha2::{Digest, Sha256};

pub enum Rule {
    /// Everyone the policy applies to.
    True,
    /// Rows whose `owner_id` is the caller's `sub`.
    Owner,
    /// Any caller with a user id.
    Authenticated,
    /// An SQL boolean expression (superusers and the table owner only).
    Expression(String),
}

impl Rule {
    pub fn parse(text: &str) -> Rule {
        match text.trim() {
            "true" => Rule::True,
            "owner" => Rule::Owner,
            "authenticated" => Rule::Authenticated,
            other => Rule::Expression(other.to_string()),
        }
    }

    /// The expression used in USING / WITH CHECK. `(SELECT bknd.uid())` runs once per statement.
    pub fn sql(&self) -> String {
        match self {
            Rule::True => "true".into(),
            Rule::Owner => "owner_id = (SELECT bknd.uid())".into(),
            Rule::Authenticated => "(SELECT bknd.uid()) IS NOT NULL".into(),
            Rule::Expression(e) => e.clone(),
        }
    }

    /// The part of the policy name that tells rules apart; deterministic.
    pub fn key(&self) -> String {
        match self {
            Rule::True => "true".into(),
            Rule::Owner => "owner".into(),
            Rule::Authenticated => "authenticated".into(),
            Rule::Expression(e) => {
                let digest = Sha256::digest(e.as_bytes());
                let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
                format!("x{hex}")
            }
        }
    }
}
