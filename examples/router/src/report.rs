//! What the plugin tells the operator: metric names and log text.
//!
//! Decisions are counted in one counter per rule and cluster, with the labels
//! encoded in the name the way Istio's stats plugins did, so that Envoy's
//! `stats_tags` can turn them into Prometheus labels:
//!
//! ```text
//! route_rule=.=<rule name>;.;route_cluster=.=<cluster>;.;route_decisions
//! ```
//!
//! A rule that sets no cluster (a pure rewrite) counts under cluster `-`; a
//! request that no rule matched counts under rule `-` and cluster `-`.

use alloc::format;
use alloc::string::String;
use core::fmt;

use crate::rules::Rule;

/// The label value for "none".
pub const NONE: &str = "-";

/// The counter name for decisions by `rule` (`None`: no rule matched).
pub fn decision_metric(rule: Option<&Rule>) -> String {
    let (name, cluster) = match rule {
        Some(rule) => (rule.name.as_str(), rule.then.cluster.as_deref().unwrap_or(NONE)),
        None => (NONE, NONE),
    };
    format!("route_rule=.={name};.;route_cluster=.={cluster};.;route_decisions")
}

/// Displays bytes from a request for a log line: printable ASCII as is,
/// everything else (and `"` and `\`) escaped as `\xNN`, at most
/// [`Escaped::MAX`] bytes shown.
#[derive(Clone, Copy, Debug)]
pub struct Escaped<'a>(pub &'a [u8]);

impl Escaped<'_> {
    /// How many bytes are shown before the rest is cut to `...`.
    pub const MAX: usize = 128;
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &b in self.0.iter().take(Escaped::MAX) {
            if (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\' {
                fmt::Write::write_char(f, char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_str("\"")?;
        if self.0.len() > Escaped::MAX { f.write_str("...") } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Actions, Match};
    use alloc::string::ToString;

    #[test]
    fn metric_names_carry_rule_and_cluster() {
        let mut rule = Rule {
            name: "acme".into(),
            when: Match::default(),
            then: Actions { cluster: Some("acme-backend".into()), ..Actions::default() },
        };
        assert_eq!(decision_metric(Some(&rule)), "route_rule=.=acme;.;route_cluster=.=acme-backend;.;route_decisions");
        rule.then.cluster = None;
        assert_eq!(decision_metric(Some(&rule)), "route_rule=.=acme;.;route_cluster=.=-;.;route_decisions");
        assert_eq!(decision_metric(None), "route_rule=.=-;.;route_cluster=.=-;.;route_decisions");
    }

    #[test]
    fn escapes_what_is_not_printable() {
        assert_eq!(Escaped(b"canary").to_string(), "\"canary\"");
        assert_eq!(Escaped(b"a\xff\"\\\n").to_string(), "\"a\\xff\\x22\\x5c\\x0a\"");
        let long = [b'a'; 200];
        let shown = Escaped(&long).to_string();
        assert!(shown.ends_with("\"...") && shown.len() == Escaped::MAX + 5, "{shown}");
    }
}
