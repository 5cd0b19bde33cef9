//! Each vendor's own rules, from its contract in `shared/vendors/*.md`: one file per
//! vendor, dispatched on `VendorKind`.

mod arobs;
mod drtrack;
mod motive;
mod pegasus;
mod traccar;

use crate::model::{Action, VendorKind};

use super::generic::Rules;

pub use motive::{DUTY_STATUSES, ELD_MODES, ROLES as MOTIVE_ROLES, TIME_TRACKING_MODES};
pub use pegasus::APPS as PEGASUS_APPS;

/// Adds `vendor`'s problems with the row.
///
/// `create` and `upsert` need every field the platform requires; `update` and `delete`
/// only need the identity key (the user already exists). Formats are checked whenever a
/// value is given.
pub(super) fn check(vendor: VendorKind, rules: &mut Rules, action: Action) {
    let full = matches!(action, Action::Create | Action::Upsert);
    match vendor {
        VendorKind::Traccar => traccar::check(rules, full),
        VendorKind::Motive => motive::check(rules, full),
        VendorKind::Pegasus => pegasus::check(rules, full),
        VendorKind::Drtrack => drtrack::check(rules, full),
        VendorKind::Arobs => arobs::check(rules, full),
    }
}

/// A rule test: the row's cells and the messages expected, in order.
#[cfg(test)]
type Case<'a> = (&'a [(crate::model::Field, &'a str)], &'a [&'a str]);

/// The messages a rule test expects, in order.
#[cfg(test)]
type Expected<'a> = &'a [&'a str];

/// Runs one vendor's rules on a row made of `cells` and returns the messages.
#[cfg(test)]
fn messages_for(
    vendor: VendorKind,
    action: Action,
    cells: &[(crate::model::Field, &str)],
) -> Vec<String> {
    let row = crate::validate::testing::row(cells);
    let columns = super::generic::Columns::of(&row.layout);
    let mut rules = Rules::new(&row, &columns);
    check(vendor, &mut rules, action);
    crate::validate::testing::messages(&rules.problems)
}
