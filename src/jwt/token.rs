//! JWT parsing, verification and HS256 signing: plain Rust, no database access.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::{Sha256, Sha384, Sha512};

use super::keys::KeySet;

/// base64url, padding optional on input and absent on output.
pub const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: i64 = 30;

#[derive(Debug, PartialEq, Eq)]
pub enum JwtError {
    Malformed(&'static str),
    UnsupportedAlgorithm(String),
    NoKey(String),
    BadSignature,
    Expired,
    NotYetValid,
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtError::Malformed(why) => write!(f, "malformed JWT: {why}"),
            JwtError::UnsupportedAlgorithm(alg) => write!(f, "JWT algorithm \"{alg}\" is not accepted"),
            JwtError::NoKey(alg) => write!(f, "no key is configured to verify {alg} tokens"),
            JwtError::BadSignature => write!(f, "JWT signature is invalid"),
            JwtError::Expired => write!(f, "JWT expired"),
            JwtError::NotYetValid => write!(f, "JWT is not valid yet (nbf)"),
        }
    }
}

/// Verify `token` against `keys` at time `now` (seconds since the epoch); the claims on success.
pub fn verify(token: &str, keys: &KeySet, now: i64) -> Result<Map<String, Value>, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("expected three dot-separated parts"));
    };
    let header = decode_json(h, "header is not base64url JSON")?;
    let alg = header.get("alg").and_then(Value::as_str).ok_or(JwtError::Malformed("header has no alg"))?;
    let kid = header.get("kid").and_then(Value::as_str);
    let signature = B64.decode(s).map_err(|_| JwtError::Malformed("signature is not base64url"))?;
    let signed = &token.as_bytes()[..h.len() + 1 + p.len()];

    match alg {
        "HS256" | "HS384" | "HS512" => {
            let secret = keys.hmac_secret().ok_or_else(|| JwtError::NoKey(alg.to_string()))?;
            let ok = match alg {
                "HS256" => hmac_check::<Hmac<Sha256>>(secret, signed, &signature),
                "HS384" => hmac_check::<Hmac<Sha384>>(secret, signed, &signature),
                _ => hmac_check::<Hmac<Sha512>>(secret, signed, &signature),
            };
            if !ok {
                return Err(JwtError::BadSignature);
            }
        }
        "RS256" | "RS384" | "RS512" => {
            let candidates: Vec<_> = keys
                .rsa
                .iter()
                .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
                .filter(|k| k.alg.as_deref().is_none_or(|a| a == alg))
                .collect();
            if candidates.is_empty() {
                return Err(JwtError::NoKey(alg.to_string()));
            }
            let ok = candidates.iter().any(|k| rsa_check(alg, &k.key, signed, &signature));
            if !ok {
                return Err(JwtError::BadSignature);
            }
        }
        "ES256" => {
            use p256::ecdsa::signature::Verifier;
            let candidates: Vec<_> =
                keys.ec.iter().filter(|k| kid.is_none() || k.kid.as_deref() == kid).collect();
            if candidates.is_empty() {
                return Err(JwtError::NoKey(alg.to_string()));
            }
            let sig = p256::ecdsa::Signature::from_slice(&signature).map_err(|_| JwtError::BadSignature)?;
            if !candidates.iter().any(|k| k.key.verify(signed, &sig).is_ok()) {
                return Err(JwtError::BadSignature);
            }
        }
        other => return Err(JwtError::UnsupportedAlgorithm(other.to_string())),
    }

    let claims = match decode_json(p, "payload is not base64url JSON")? {
        Value::Object(map) => map,
        _ => return Err(JwtError::Malformed("payload is not a JSON object")),
    };
    check_times(&claims, now)?;
    Ok(claims)
}

fn check_times(claims: &Map<String, Value>, now: i64) -> Result<(), JwtError> {
    let time = |name: &str| -> Result<Option<i64>, JwtError> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64().map(|f| f.floor() as i64)),
            Some(_) => Err(JwtError::Malformed("exp, nbf and iat must be numbers")),
        }
    };
    if let Some(exp) = time("exp")? {
        if now > exp + LEEWAY_SECONDS {
            return Err(JwtError::Expired);
        }
    }
    if let Some(nbf) = time("nbf")? {
        if now + LEEWAY_SECONDS < nbf {
            return Err(JwtError::NotYetValid);
        }
    }
    time("iat")?;
    Ok(())
}

fn decode_json(part: &str, why: &'static str) -> Result<Value, JwtError> {
    let bytes = B64.decode(part).map_err(|_| JwtError::Malformed(why))?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed(why))
}

fn hmac_check<M: Mac + hmac::digest::KeyInit>(secret: &[u8], signed: &[u8], signature: &[u8]) -> bool {
    match <M as Mac>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(signed);
            mac.verify_slice(signature).is_ok() // constant time
        }
        Err(_) => false,
    }
}

fn rsa_check(alg: &str, key: &rsa::RsaPublicKey, signed: &[u8], signature: &[u8]) -> bool {
    use sha2::Digest;
    let scheme_ok = |hashed: &[u8], scheme: rsa::Pkcs1v15Sign| key.verify(scheme, hashed, signature).is_ok();
    match alg {
        "RS256" => scheme_ok(&Sha256::digest(signed), rsa::Pkcs1v15Sign::new::<Sha256>()),
        "RS384" => scheme_ok(&Sha384::digest(signed), rsa::Pkcs1v15Sign::new::<Sha384>()),
        _ => scheme_ok(&Sha512::digest(signed), rsa::Pkcs1v15Sign::new::<Sha512>()),
    }
}

/// Sign `claims` with HS256.
pub fn sign_hs256(claims: &Map<String, Value>, secret: &[u8]) -> String {
    let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = B64.encode(Value::Object(claims.clone()).to_string());
    let signing_input = format!("{header}.{payload}");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(signing_input.as_bytes());
    let signature = B64.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}
