//! What each target held when a plan was made, as a digest per user: `muster apply`
//! refuses to carry out a plan when a fresh listing differs from it.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::survey::Survey;

/// What each target held when a plan was made: per target, per user key, the platform id
/// and a digest of the user's fields. `muster apply` compares it with a fresh listing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PlatformState {
    pub targets: BTreeMap<String, BTreeMap<String, (String, String)>>,
}

impl PlatformState {
    /// The state of every listed target of `surveys` (unlistable ones have none).
    pub fn of(surveys: &BTreeMap<String, Survey>) -> PlatformState {
        let mut targets = BTreeMap::new();
        for (name, s) in surveys {
            let Some(users) = &s.users else { continue };
            let mut map = BTreeMap::new();
            for u in users {
                let mut h = Sha256::new();
                h.update(u.id.as_bytes());
                h.update(if u.active { "\0active" } else { "\0inactive" });
                let mut fields: Vec<String> = u
                    .fields
                    .iter()
                    .map(|(f, v)| format!("{}={v}", f.name()))
                    .collect();
                fields.sort();
                for f in fields {
                    h.update(b"\0");
                    h.update(f.as_bytes());
                }
                map.insert(
                    u.key.clone(),
                    (u.id.clone(), hex::encode(&h.finalize()[..12])),
                );
            }
            targets.insert(name.clone(), map);
        }
        PlatformState { targets }
    }

    /// A digest of one target's state.
    pub fn fingerprint(&self, target: &str) -> String {
        let mut h = Sha256::new();
        for (key, (id, digest)) in self.targets.get(target).into_iter().flatten() {
            h.update(format!("{key}\0{id}\0{digest}\n"));
        }
        hex::encode(h.finalize())
    }

    /// What changed from `self` (the plan's) to `now`, one line per target that changed,
    /// naming the users; empty when nothing did.
    pub fn changes(&self, now: &PlatformState) -> Vec<String> {
        let mut lines = Vec::new();
        let names: std::collections::BTreeSet<&String> =
            self.targets.keys().chain(now.targets.keys()).collect();
        let empty = BTreeMap::new();
        for name in names {
            let before = self.targets.get(name).unwrap_or(&empty);
            let after = now.targets.get(name).unwrap_or(&empty);
            let mut changed = Vec::new();
            let mut appeared = Vec::new();
            let mut disappeared = Vec::new();
            for (k, v) in after {
                match before.get(k) {
                    None => appeared.push(k.as_str()),
                    Some(b) if b != v => changed.push(k.as_str()),
                    Some(_) => {}
                }
            }
            for k in before.keys() {
                if !after.contains_key(k) {
                    disappeared.push(k.as_str());
                }
            }
            let mut parts = Vec::new();
            for (what, keys) in [
                ("changed", changed),
                ("appeared", appeared),
                ("disappeared", disappeared),
            ] {
                if !keys.is_empty() {
                    parts.push(format!("{what}: {}", keys.join(", ")));
                }
            }
            if !parts.is_empty() {
                lines.push(format!("target {name}: {}", parts.join("; ")));
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(entries: &[(&str, &str, &str, &str)]) -> PlatformState {
        let mut s = PlatformState::default();
        for (t, k, id, d) in entries {
            s.targets
                .entry(t.to_string())
                .or_default()
                .insert(k.to_string(), (id.to_string(), d.to_string()));
        }
        s
    }

    #[test]
    fn platform_changes_name_the_users() {
        let plan = state(&[
            ("a", "x", "1", "d1"),
            ("a", "y", "2", "d2"),
            ("b", "z", "3", "d3"),
        ]);
        let cases = [
            (plan.clone(), vec![]),
            (
                state(&[
                    ("a", "x", "1", "d9"),
                    ("a", "w", "4", "d4"),
                    ("b", "z", "3", "d3"),
                ]),
                vec!["target a: changed: x; appeared: w; disappeared: y".to_string()],
            ),
            (
                state(&[("a", "x", "1", "d1"), ("a", "y", "2", "d2")]),
                vec!["target b: disappeared: z".to_string()],
            ),
        ];
        for (now, want) in cases {
            assert_eq!(plan.changes(&now), want);
        }
        assert_ne!(plan.fingerprint("a"), plan.fingerprint("b"));
        assert_eq!(
            plan.fingerprint("a"),
            state(&[("a", "x", "1", "d1"), ("a", "y", "2", "d2")]).fingerprint("a")
        );
    }
}
