//! The simulated Traccar server's tables, in memory: `tc_users` (email NOT NULL, UNIQUE,
//! case-insensitive as MySQL's default collation), the manager → user links
//! (`tc_user_user`), the user → device links (`tc_user_device`, no unique constraint) and
//! the seeded devices. The caller is the manager account of `seed::CREDENTIALS`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::wire::{Device, User, email_key};
use crate::model::{Field, VendorKind};
use crate::sandbox::platform::{Platform, Reset, stat};
use crate::sandbox::seed;

/// The manager account the sandbox token logs in as (`sandbox@muster.test:sandbox`).
pub const MANAGER_ID: i64 = 1;
/// Its e-mail, the login half of the Basic token.
pub const MANAGER_EMAIL: &str = "sandbox@muster.test";
/// Its password, the other half.
pub const MANAGER_PASSWORD: &str = "sandbox";

/// A `tc_user_device` row: `userId` may see `deviceId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// The owner: the user.
    pub user_id: i64,
    /// The device the user may see.
    pub device_id: i64,
}

/// Why an insert or update did not reach the table (the SQL error MySQL would raise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `Column '{0}' cannot be null`.
    Null(&'static str),
    /// `Duplicate entry '{0}' for key 'email'`.
    Duplicate(String),
}

/// The tables.
pub(crate) struct Tables {
    pub(crate) users: BTreeMap<i64, User>,
    /// The unique index on `email`: trimmed lower-case email → user id.
    emails: HashMap<String, i64>,
    next_id: i64,
    /// Users the manager manages (`tc_user_user`); others exist but are not its to see.
    pub(crate) managed: BTreeSet<i64>,
    pub(crate) links: Vec<Link>,
    pub(crate) devices: Vec<Device>,
}

impl Tables {
    /// The seeded server plus the users of `seeds` (Traccar's only), managed by the manager.
    fn seeded_with(seeds: &[seed::PlatformSeed]) -> Tables {
        let mut t = Tables::seeded();
        for s in seeds.iter().filter(|s| s.vendor == VendorKind::Traccar) {
            // A seed whose email is taken or missing is skipped: seeds are test data.
            let _ = t.insert(seeded_user(&s.fields), true);
        }
        t
    }

    fn seeded() -> Tables {
        let mut manager = User::new("Sandbox Manager", MANAGER_EMAIL);
        manager.id = MANAGER_ID;
        manager.user_limit = -1;
        manager.device_limit = -1;
        manager.has_password = true;
        Tables {
            emails: HashMap::from([(email_key(MANAGER_EMAIL), MANAGER_ID)]),
            users: BTreeMap::from([(MANAGER_ID, manager)]),
            next_id: MANAGER_ID + 1,
            managed: BTreeSet::new(),
            links: Vec::new(),
            devices: seed::traccar_devices()
                .into_iter()
                .map(|(id, name, unique_id)| Device::new(id, &name, &unique_id))
                .collect(),
        }
    }

    /// Whether the manager may see and change user `id` (its own record included).
    pub(crate) fn may_access_user(&self, id: i64) -> bool {
        id == MANAGER_ID || self.managed.contains(&id)
    }

    /// Whether the manager has device `id` (it has every seeded device).
    pub(crate) fn may_access_device(&self, id: i64) -> bool {
        self.devices.iter().any(|d| d.id == id)
    }

    /// The NOT NULL and UNIQUE checks of `tc_users`, for a row that would get `id`.
    fn check_row(&self, user: &User, id: i64) -> Result<(), Refused> {
        // MySQL reports the first NOT NULL column in table order: name, then email.
        if user.name.is_none() {
            return Err(Refused::Null("name"));
        }
        let (Some(email), Some(key)) = (&user.email, user.email_key()) else {
            return Err(Refused::Null("email"));
        };
        let taken = self.emails.get(&key).is_some_and(|owner| *owner != id);
        if taken {
            return Err(Refused::Duplicate(email.clone()));
        }
        Ok(())
    }

    /// Inserts `user` with a fresh id; `managed` also links it to the manager.
    pub(crate) fn insert(&mut self, mut user: User, managed: bool) -> Result<User, Refused> {
        self.check_row(&user, 0)?;
        user.id = self.next_id;
        self.next_id += 1;
        self.index(&user);
        self.users.insert(user.id, user.clone());
        if managed {
            self.managed.insert(user.id);
        }
        Ok(user)
    }

    /// Replaces user `user.id` (which must exist), keeping its password if none is given.
    pub(crate) fn update(&mut self, mut user: User) -> Result<User, Refused> {
        self.check_row(&user, user.id)?;
        if let Some(before) = self.users.get(&user.id) {
            user.has_password |= before.has_password;
            if let Some(key) = before.email_key() {
                self.emails.remove(&key);
            }
        }
        self.index(&user);
        self.users.insert(user.id, user.clone());
        Ok(user)
    }

    /// Removes user `id` and every link to it.
    pub(crate) fn delete(&mut self, id: i64) {
        if let Some(key) = self.users.remove(&id).and_then(|u| u.email_key()) {
            self.emails.remove(&key);
        }
        self.managed.remove(&id);
        self.links.retain(|l| l.user_id != id);
    }

    fn index(&mut self, user: &User) {
        if let Some(key) = user.email_key() {
            self.emails.insert(key, user.id);
        }
    }

    /// The id of the user whose email is `email` (trimmed, any case).
    pub(crate) fn id_by_email(&self, email: &str) -> Option<i64> {
        self.emails.get(&email_key(email)).copied()
    }

    /// Users other than the manager: the `users` gauge.
    pub(crate) fn user_count(&self) -> u64 {
        self.users.len().saturating_sub(1) as u64
    }

    /// The manager's users, ordered by name as `ORDER BY name` under a case-insensitive
    /// collation (ties by id).
    #[cfg(test)]
    pub(crate) fn managed_users(&self) -> Vec<User> {
        self.managed_users_where(|_| true)
    }

    /// The manager's users that `keep` accepts, ordered as [`Tables::managed_users`].
    /// Filters before it copies and computes each sort key once, so a keyword lookup
    /// among 20,000 users stays quick (the lock is held meanwhile).
    pub(crate) fn managed_users_where(&self, keep: impl Fn(&User) -> bool) -> Vec<User> {
        let mut users: Vec<User> = self
            .managed
            .iter()
            .filter_map(|id| self.users.get(id))
            .filter(|u| keep(u))
            .cloned()
            .collect();
        users.sort_by_cached_key(|u| (u.name.clone().unwrap_or_default().to_lowercase(), u.id));
        users
    }

    /// Devices user `id` is linked to, in id order, each once.
    pub(crate) fn devices_of(&self, id: i64) -> Vec<Device> {
        let ids: BTreeSet<i64> = self
            .links
            .iter()
            .filter(|l| l.user_id == id)
            .map(|l| l.device_id)
            .collect();
        self.devices
            .iter()
            .filter(|d| ids.contains(&d.id))
            .cloned()
            .collect()
    }
}

/// The Traccar simulator's state, shared by its handlers and the sandbox.
pub struct Db {
    platform: Platform,
    tables: Mutex<Tables>,
}

/// A user from roster fields (`name`, else first and last name; `email`, `phone`, the
/// yes/no flags, `device_limit`, `expiration_time`).
fn seeded_user(fields: &[(Field, String)]) -> User {
    let get = |f: Field| {
        fields
            .iter()
            .find(|(g, _)| *g == f)
            .map(|(_, v)| v.trim().to_string())
    };
    let name = get(Field::Name).unwrap_or_else(|| {
        [get(Field::FirstName), get(Field::LastName)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    });
    let flag = |f: Field| {
        get(f).is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "1"))
    };
    let mut user = User::new(&name, &get(Field::Email).unwrap_or_default());
    if get(Field::Email).is_none() {
        user.email = None;
    }
    user.phone = get(Field::Phone);
    user.readonly = flag(Field::Readonly);
    user.device_readonly = flag(Field::DeviceReadonly);
    user.disabled = flag(Field::Disabled);
    if let Some(limit) = get(Field::DeviceLimit).and_then(|v| v.parse().ok()) {
        user.device_limit = limit;
    }
    user.expiration_time = get(Field::ExpirationTime);
    user.has_password = true;
    user
}

impl Db {
    /// The seeded server, with the platform's `platform_users` of Traccar.
    pub(crate) fn new(platform: Platform) -> Db {
        let tables = Tables::seeded_with(&platform.options().platform_users);
        let db = Db {
            platform,
            tables: Mutex::new(tables),
        };
        db.done(&db.lock());
        db
    }

    /// Locks the tables for one request. The `users` gauge is kept up to date by
    /// [`Db::done`].
    pub(crate) fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Refreshes the `users` gauge from `tables`.
    pub(crate) fn done(&self, tables: &Tables) {
        self.platform.set(stat::USERS, tables.user_count());
    }
}

impl Reset for Db {
    fn reset(&self) {
        let mut tables = self.lock();
        *tables = Tables::seeded_with(&self.platform.options().platform_users);
        self.done(&tables);
    }
}

/// `expr LIKE '%keyword%'` under a case-insensitive collation: `%` and `_` in the keyword
/// are wildcards, `\` escapes them (traccar.md "GET /users").
#[cfg(test)]
pub(crate) fn like_contains(text: &str, keyword: &str) -> bool {
    Like::new(keyword).matches(text)
}

/// A `LIKE '%keyword%'` pattern, parsed once for a whole list (see [`like_contains`]).
pub(crate) struct Like {
    pattern: Vec<Tok>,
    /// The pattern when it is `%literal%` with an ASCII literal: then an ASCII text is
    /// searched for it directly, without copying the text (the common look-up by e-mail).
    literal: Option<Vec<u8>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Tok {
    Any,
    One,
    Char(char),
}

impl Like {
    pub(crate) fn new(keyword: &str) -> Like {
        let mut pattern = vec![Tok::Any];
        let mut chars = keyword.chars().flat_map(char::to_lowercase);
        while let Some(c) = chars.next() {
            pattern.push(match c {
                '%' => Tok::Any,
                '_' => Tok::One,
                '\\' => Tok::Char(chars.next().unwrap_or('\\')),
                c => Tok::Char(c),
            });
        }
        pattern.push(Tok::Any);
        let inner = &pattern[1..pattern.len() - 1];
        let literal = inner
            .iter()
            .map(|tok| match tok {
                Tok::Char(c) if c.is_ascii() => Some(*c as u8),
                _ => None,
            })
            .collect::<Option<Vec<u8>>>();
        Like { pattern, literal }
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        if let (Some(literal), true) = (&self.literal, text.is_ascii()) {
            return literal.is_empty()
                || text
                    .as_bytes()
                    .windows(literal.len())
                    .any(|w| w.eq_ignore_ascii_case(literal));
        }
        let pattern = &self.pattern;
        let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
        // Classic wildcard matching with backtracking to the last `%`.
        let (mut t, mut p) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some(Tok::Any) => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(Tok::One) => {
                    t += 1;
                    p += 1;
                }
                Some(Tok::Char(c)) if *c == text[t] => {
                    t += 1;
                    p += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|tok| *tok == Tok::Any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_is_a_case_insensitive_substring_with_sql_wildcards() {
        let cases = [
            ("Ann Smith", "smi", true),
            ("Ann Smith", "SMITH", true),
            ("Ann Smith", "", true),
            ("Ann Smith", "smyth", false),
            ("ann_b@x.io", "ann_b", true),
            // `_` is a wildcard, so it matches any one character, not only `_`.
            ("annxb@x.io", "ann_b", true),
            ("annxb@x.io", "ann\\_b", false),
            ("ann_b@x.io", "ann\\_b", true),
            ("a@x.io", "a%io", true),
            ("a@x.io", "io%a", false),
            ("Émile", "émi", true),
            // A plain ASCII keyword searched in ASCII text and in other text alike.
            ("user19@example.com", "USER19@EXAMPLE.COM", true),
            ("xuser19@example.com", "user19@example.com", true),
            ("user1@example.com", "user19@example.com", false),
            ("Émile user9@x.io", "USER9@x", true),
            ("Émile", "mile", true),
            ("ab", "abc", false),
        ];
        for (text, keyword, want) in cases {
            assert_eq!(
                like_contains(text, keyword),
                want,
                "{text} LIKE %{keyword}%"
            );
        }
    }

    #[test]
    fn emails_are_unique_trimmed_and_case_insensitively() {
        let mut t = Tables::seeded();
        let a = t.insert(User::new("A", "a@x.io"), true).unwrap();
        assert_eq!(a.id, 2);
        assert_eq!(
            t.insert(User::new("B", " A@X.io "), true),
            Err(Refused::Duplicate("A@X.io".into()))
        );
        // The manager's own address is taken too.
        assert!(t.insert(User::new("C", MANAGER_EMAIL), true).is_err());
        let mut nameless = User::new("x", "n@x.io");
        nameless.name = None;
        assert_eq!(t.insert(nameless, true), Err(Refused::Null("name")));
        let mut no_email = User::new("x", "");
        no_email.email = None;
        assert_eq!(t.insert(no_email, true), Err(Refused::Null("email")));
        // An update may keep its own address but not take another's.
        let b = t.insert(User::new("B", "b@x.io"), true).unwrap();
        assert!(t.update(b.clone()).is_ok());
        let mut stolen = b;
        stolen.email = Some("a@x.io".into());
        assert!(t.update(stolen).is_err());
        assert_eq!(t.user_count(), 2);
        // Changing or deleting frees the old address.
        let mut moved = t.users[&a.id].clone();
        moved.email = Some("a2@x.io".into());
        t.update(moved).unwrap();
        assert_eq!(t.id_by_email("A2@x.io"), Some(a.id));
        assert!(t.insert(User::new("A", "a@x.io"), true).is_ok());
        t.delete(a.id);
        assert_eq!(t.id_by_email("a2@x.io"), None);
    }

    #[test]
    fn managed_users_are_ordered_by_name_and_hide_other_tenants() {
        let mut t = Tables::seeded();
        t.insert(User::new("bob", "b@x.io"), true).unwrap();
        t.insert(User::new("Alice", "a@x.io"), true).unwrap();
        t.insert(User::new("Aaron", "other@tenant.io"), false)
            .unwrap();
        let names: Vec<_> = t
            .managed_users()
            .into_iter()
            .map(|u| u.name.unwrap())
            .collect();
        assert_eq!(names, ["Alice", "bob"]);
    }
}
