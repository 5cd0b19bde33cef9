//! The AROBS simulator's JSON, spelled as `shared/vendors/arobs-trackgps.md` spells it.
//! Written from the contract, not from the connector's types, so a misread is caught.

use serde::Serialize;

/// The `scope` the documented login answer carries.
pub(super) const SCOPE: &str =
    "CarPoolingAPI IdentityServerApi offline_access openid profile TrackGPSV4Api";

/// `POST /authentication/login` → 200.
#[derive(Debug, Serialize)]
pub(super) struct TokenReply {
    pub access_token: String,
    pub expires_in: u64,
    pub token_type: &'static str,
    pub refresh_token: String,
    pub scope: &'static str,
}

/// An OAuth-style refusal of the login endpoint (`invalid_grant`, `invalid_request`); the
/// contract says the importer must not depend on its shape.
#[derive(Debug, Serialize)]
pub(super) struct LoginRefusal {
    pub error: &'static str,
    pub error_description: String,
}

/// The envelope every data endpoint answers with.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Envelope<T> {
    /// `null` when the call failed.
    pub payload: Option<T>,
    pub correlation_id: String,
    pub failure_reasons: Vec<FailureReason>,
    pub is_success: bool,
}

/// One business error of a data endpoint.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FailureReason {
    pub error_code: String,
    pub error_parameters: Vec<String>,
}

/// One vehicle of `GET /carriers/company-vehicles`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CompanyVehicle {
    pub vehicle_id: i64,
    #[serde(rename = "vehicleUId")]
    pub vehicle_uid: String,
    pub vehicle_name: String,
    pub vehicle_registration_number: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_spelled_as_the_contract_spells_them() {
        let e = Envelope {
            payload: Some(vec![CompanyVehicle {
                vehicle_id: 1,
                vehicle_uid: "u".into(),
                vehicle_name: "n".into(),
                vehicle_registration_number: "r".into(),
            }]),
            correlation_id: "c".into(),
            failure_reasons: vec![FailureReason {
                error_code: "E".into(),
                error_parameters: vec!["p".into()],
            }],
            is_success: true,
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({
                "payload": [{"vehicleId": 1, "vehicleUId": "u", "vehicleName": "n",
                             "vehicleRegistrationNumber": "r"}],
                "correlationId": "c",
                "failureReasons": [{"errorCode": "E", "errorParameters": ["p"]}],
                "isSuccess": true
            })
        );
    }
}
