//! Users, sessions, email codes and links, MFA, OAuth and admin (`sql/auth.sql`, `src/auth`).

use serde_json::Value;

use super::{calls, Call};

calls! {
    /// the token's claims, or 28000
    fn jwt_verify(token: String) = "SELECT bknd.jwt_verify($1::text)::text";
    /// a key for `role` (the `bknd keys` command)
    fn jwt_sign_role(role: &str, expires_in: i64) =
        "SELECT to_jsonb(bknd.jwt_sign(jsonb_build_object('role', $1::text, 'iss', 'bknd'), $2::text::integer))::text";
    fn sign_up(email: String, password: String, data: Option<&Value>, ip: Option<String>) =
        "SELECT bknd.sign_up($1::text, $2::text, $3::text::jsonb, $4::text)::text";
    fn sign_in_password(email: String, password: String, ip: Option<String>) =
        "SELECT bknd.sign_in_password($1::text, $2::text, $3::text)::text";
    fn exchange_auth_code(code: String, verifier: String, ip: Option<String>) =
        "SELECT bknd.exchange_auth_code($1::text, $2::text, $3::text)::text";
    fn refresh_session(refresh_token: String, ip: Option<String>) =
        "SELECT bknd.refresh_session($1::text, $2::text)::text";
    fn get_user() = "SELECT bknd.get_user()::text";
    fn update_user(changes: &Value) = "SELECT bknd.update_user($1::text::jsonb)::text";
    fn sign_out(scope: String) = "SELECT bknd.sign_out($1::text)::text";
    fn auth_public_settings() = "SELECT bknd.auth_public_settings()::text";
    /// the sidecar's own: it answers the code to send
    fn request_email_token(email: String, purpose: &str, create_user: bool, ip: Option<String>,
                           code_challenge: Option<String>, code_challenge_method: Option<String>) =
        "SELECT bknd.request_email_token($1::text, $2::text, $3::text::boolean, $4::text, $5::text, $6::text)::text";
    /// the sidecar's own: codes for the current and the new address
    fn request_email_change_tokens(user_id: &str, ip: Option<String>) =
        "SELECT bknd.request_email_change_tokens($1::text, $2::text)::text";
    /// the sidecar's own: the code to send
    fn request_reauthentication(user_id: &str, ip: Option<String>) =
        "SELECT bknd.request_reauthentication($1::text, $2::text)::text";
    fn verify_email_code(email: String, code: String, kind: String, ip: Option<String>) =
        "SELECT bknd.verify_email_code($1::text, $2::text, $3::text, $4::text)::text";
    fn verify_email_link(token_hash: String, kind: String, ip: Option<String>) =
        "SELECT bknd.verify_email_link($1::text, $2::text, $3::text)::text";
    fn mfa_enroll_totp(friendly_name: Option<String>, issuer: Option<String>) =
        "SELECT bknd.mfa_enroll_totp($1::text, $2::text)::text";
    fn mfa_challenge(factor_id: String, ip: Option<String>) = "SELECT bknd.mfa_challenge($1::text, $2::text)::text";
    fn mfa_verify(factor_id: String, challenge_id: String, code: String, ip: Option<String>) =
        "SELECT bknd.mfa_verify($1::text, $2::text, $3::text, $4::text)::text";
    fn mfa_unenroll(factor_id: String) = "SELECT bknd.mfa_unenroll($1::text)::text";
    fn admin_list_users(page: i64, per_page: i64) =
        "SELECT bknd.admin_list_users($1::text::integer, $2::text::integer)::text";
    fn admin_create_user(attributes: &Value) = "SELECT bknd.admin_create_user($1::text::jsonb)::text";
    fn admin_get_user(user_id: String) = "SELECT bknd.admin_get_user($1::text)::text";
    fn admin_update_user(user_id: String, attributes: &Value) =
        "SELECT bknd.admin_update_user($1::text, $2::text::jsonb)::text";
    fn admin_delete_user(user_id: String) = "SELECT bknd.admin_delete_user($1::text)::text";
    fn console_auth_settings() = "SELECT bknd.console_auth_settings()::text";
    fn configure_auth(config: &Value) = "SELECT bknd.configure_auth($1::text::jsonb)::text";
    #[allow(clippy::too_many_arguments)]
    fn configure_oauth_provider(name: String, client_id: String, client_secret: String, issuer: Option<String>,
                                kind: Option<String>, scopes: Option<String>, authorize_url: Option<String>,
                                token_url: Option<String>, userinfo_url: Option<String>, enabled: bool) =
        "SELECT bknd.configure_oauth_provider($1::text, $2::text, $3::text, issuer => $4::text, kind => $5::text, \
         scopes => $6::text, authorize_url => $7::text, token_url => $8::text, userinfo_url => $9::text, \
         enabled => $10::text::boolean)::text";
    fn remove_oauth_provider(name: String) = "SELECT to_jsonb(bknd.remove_oauth_provider($1::text))::text";
    fn admin_search_users(search: Option<String>, after: Option<String>, max: i64) =
        "SELECT bknd.admin_search_users($1::text, $2::text, $3::text::integer)::text";
    fn admin_user_detail(user_id: String) = "SELECT bknd.admin_user_detail($1::text)::text";
    fn admin_sign_out_user(user_id: String) = "SELECT bknd.admin_sign_out_user($1::text)::text";
    fn admin_remove_factors(user_id: String) = "SELECT bknd.admin_remove_factors($1::text)::text";
    /// the sidecar's own: it hands out the provider's client secret
    fn oauth_begin(provider: String, redirect_to: String, code_challenge: Option<String>,
                   code_challenge_method: Option<String>, ip: Option<String>) =
        "SELECT bknd.oauth_begin($1::text, $2::text, $3::text, $4::text, $5::text)::text";
    fn oauth_take_state(state: String) = "SELECT bknd.oauth_take_state($1::text)::text";
    fn oauth_complete(state: String, identity: &Value, ip: Option<String>) =
        "SELECT bknd.oauth_complete($1::text, $2::text::jsonb, $3::text)::text";
}
