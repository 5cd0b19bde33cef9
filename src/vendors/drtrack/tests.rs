//! DRTrack's wire, without a server: verdicts, operations, passwords.

use super::wire::{self, Method, OpFields};
use super::*;

#[test]
fn verdicts_are_read_strictly() {
    assert_eq!(wire::parse_verdict("true"), Some(true));
    assert_eq!(wire::parse_verdict(" false\n"), Some(false));
    assert_eq!(wire::parse_verdict("\"true\""), Some(true));
    assert_eq!(wire::parse_verdict("{\"ok\":true}"), None);
}

#[test]
fn operations_carry_only_what_the_row_sets_in_contract_order() {
    let op = wire::operation(
        Method::Add,
        &OpFields {
            branch_ids: Some("101|102"),
            first_name: Some("John"),
            email: Some("jdoe@example.com"),
            login: "jdoe",
            user_group: Some("Admin"),
            ..OpFields::default()
        },
        &[],
    );
    assert_eq!(
        serde_json::to_string(&op).unwrap(),
        r#"{"method":"ADD","branchIds":"101|102","firstName":"John","email":"jdoe@example.com","userLoginId":"jdoe","userGroup":"Admin"}"#
    );
}

#[test]
fn generated_passwords_meet_the_policy() {
    for _ in 0..20 {
        let password = strong_password();
        assert_eq!(
            rules::POLICY.faults(password.expose()),
            Vec::<String>::new()
        );
    }
}
