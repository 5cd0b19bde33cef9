//! What the simulated platforms hold before any request: devices, groups, branches,
//! vehicles. `samples/` and the templates' example rows refer to these, so a sample roster
//! imports cleanly into a fresh sandbox.

/// Traccar devices: (id, name, uniqueId). IMEIs are 15 digits.
pub fn traccar_devices() -> Vec<(i64, String, String)> {
    (1..=50)
        .map(|n| (n, format!("Bike {n:02}"), format!("3520990{n:08}")))
        .collect()
}

/// Motive groups: (id, name).
pub const MOTIVE_GROUPS: &[(i64, &str)] = &[
    (101, "North"),
    (102, "South"),
    (103, "East"),
    (104, "West"),
    (105, "Yard"),
];

/// Motive custom user role given to fleet users restricted to groups.
pub const MOTIVE_LIMITED_ROLE_ID: i64 = 7;

/// DRTrack branch ids the platform knows.
pub const DRTRACK_BRANCHES: &[i64] = &[101, 102, 103, 104, 105];

/// DRTrack user groups (matched case-insensitively by the platform).
pub const DRTRACK_USER_GROUPS: &[&str] = &["Admin", "Dispatcher", "Driver", "Viewer"];

/// AROBS vehicles of the company: (vehicleId, registration number).
pub fn arobs_vehicles() -> Vec<(i64, String)> {
    (1..=30).map(|n| (n, format!("CJ-{:02}-ARB", n))).collect()
}

/// Credentials the sandbox accepts, as (environment variable, value). The config written by
/// `--write-config` names these variables.
pub const CREDENTIALS: &[(&str, &str)] = &[
    (
        "SANDBOX_TRACCAR_TOKEN",
        "c2FuZGJveEBtdXN0ZXIudGVzdDpzYW5kYm94",
    ),
    ("SANDBOX_MOTIVE_API_KEY", "sandbox-motive-key"),
    ("SANDBOX_PEGASUS_USER", "admin@sandbox.test"),
    ("SANDBOX_PEGASUS_PASSWORD", "Sandbox-Pass-1"),
    ("SANDBOX_DRTRACK_USER", "sandbox-admin"),
    ("SANDBOX_DRTRACK_PASSWORD", "Sandbox-Pass-1!"),
];

/// A Motive API key in test mode: writes answer 200 and save nothing.
pub const MOTIVE_TEST_MODE_KEY: &str = "sandbox-motive-test-mode-key";

/// A user a simulated platform holds before the run, in roster terms (the simulator maps
/// the fields to its own wire shape). See `Options::platform_users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSeed {
    pub vendor: crate::model::VendorKind,
    pub fields: Vec<(crate::model::Field, String)>,
}

/// `count` Traccar users for a large tenant (`muster sandbox --seed-users N`, the
/// benchmarks): user `n` (from 1) is `Rider {n:07}` <`rider{n:07}@fleet.example`>, so
/// [`traccar_roster_row`] gives the roster row that finds it `same`.
pub fn traccar_users(count: usize) -> Vec<PlatformSeed> {
    (1..=count)
        .map(|n| {
            let [first, last, email] = traccar_roster_row(n);
            PlatformSeed {
                vendor: crate::model::VendorKind::Traccar,
                fields: vec![
                    (crate::model::Field::FirstName, first),
                    (crate::model::Field::LastName, last),
                    (crate::model::Field::Email, email),
                ],
            }
        })
        .collect()
}

/// Roster cells (`First name`, `Last name`, `E-mail`) of the `n`th user of
/// [`traccar_users`] (benches/submit.sh writes the same rows with awk).
pub fn traccar_roster_row(n: usize) -> [String; 3] {
    [
        "Rider".to_string(),
        format!("{n:07}"),
        format!("rider{n:07}@fleet.example"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;

    #[test]
    fn seeded_traccar_users_are_distinct_and_match_their_roster_rows() {
        let users = traccar_users(3);
        let emails: Vec<&str> = users
            .iter()
            .flat_map(|u| u.fields.iter())
            .filter(|(f, _)| *f == Field::Email)
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(
            emails,
            [
                "rider0000001@fleet.example",
                "rider0000002@fleet.example",
                "rider0000003@fleet.example"
            ]
        );
        assert_eq!(
            traccar_roster_row(2),
            ["Rider", "0000002", "rider0000002@fleet.example"]
        );
        assert!(traccar_users(0).is_empty());
    }
}
