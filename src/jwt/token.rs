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
    GeneralPurposeConfig::new().with_encode_padding(false).with_decode_padding_mode(DecodePaddingMode::Indifferent),
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

#[derive(serde::Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    kid: Option<std::borrow::Cow<'a, str>>,
}

/// The time claims; every other claim is skipped without being built.
#[derive(serde::Deserialize)]
struct Times {
    exp: Option<Value>,
    nbf: Option<Value>,
    iat: Option<Value>,
}

/// A verified token: its payload, the JSON text exactly as signed, and its time window.
#[derive(Debug)]
pub struct Verified {
    pub payload: String,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    /// The payload as a jsonb value's bytes, made on the first `bknd.jwt_verify` of this token
    pub jsonb: std::cell::OnceCell<Box<[u8]>>,
}

impl Verified {
    pub fn claims(&self) -> Map<String, Value> {
        match serde_json::from_str(&self.payload) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(), // verify_payload only accepts objects
        }
    }
}

/// Verify `token` against `keys` at time `now` (seconds since the epoch).
pub fn verify_payload(token: &str, keys: &KeySet, now: i64) -> Result<Verified, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed("expected three dot-separated parts"));
    };
    let header_bytes = B64.decode(h).map_err(|_| JwtError::Malformed("header is not base64url JSON"))?;
    let header: Header = serde_json::from_slice(&header_bytes).map_err(|_| JwtError::Malformed("header is not base64url JSON"))?;
    let alg: &str = header.alg.as_deref().ok_or(JwtError::Malformed("header has no alg"))?;
    let kid: Option<&str> = header.kid.as_deref();
    let signature = B64.decode(s).map_err(|_| JwtError::Malformed("signature is not base64url"))?;
    let signed = &token.as_bytes()[..h.len() + 1 + p.len()];

    match alg {
        "HS256" | "HS384" | "HS512" => {
            let hmac = keys.hmac().ok_or_else(|| JwtError::NoKey(alg.to_string()))?;
            let ok = match alg {
                "HS256" => hmac_check(hmac.hs256.clone(), signed, &signature),
                "HS384" => hmac_check(hmac.hs384.clone(), signed, &signature),
                _ => hmac_check(hmac.hs512.clone(), signed, &signature),
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
            let candidates: Vec<_> = keys.ec.iter().filter(|k| kid.is_none() || k.kid.as_deref() == kid).collect();
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

    let payload = B64.decode(p).map_err(|_| JwtError::Malformed("payload is not base64url JSON"))?;
    let payload = String::from_utf8(payload).map_err(|_| JwtError::Malformed("payload is not UTF-8"))?;
    // (a struct also deserialises from an array, so look at the first byte too)
    if !payload.trim_start().starts_with('{') {
        return Err(JwtError::Malformed("payload is not a JSON object"));
    }
    let times: Times = match serde_json::from_str(&payload) {
        Ok(t) => t,
        Err(e) if e.is_data() => return Err(JwtError::Malformed("payload is not a JSON object")),
        Err(_) => return Err(JwtError::Malformed("payload is not base64url JSON")),
    };
    let time = |value: &Option<Value>| -> Result<Option<i64>, JwtError> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64().map(|f| f.floor() as i64)),
            Some(_) => Err(JwtError::Malformed("exp, nbf and iat must be numbers")),
        }
    };
    let (exp, nbf) = (time(&times.exp)?, time(&times.nbf)?);
    time(&times.iat)?;
    check_window(exp, nbf, now)?;
    Ok(Verified { payload, exp, nbf, jsonb: Default::default() })
}

/// Whether `now` is inside the token's validity window, with `LEEWAY_SECONDS` of clock skew.
pub fn check_window(exp: Option<i64>, nbf: Option<i64>, now: i64) -> Result<(), JwtError> {
    if exp.is_some_and(|exp| now > exp + LEEWAY_SECONDS) {
        return Err(JwtError::Expired);
    }
    if nbf.is_some_and(|nbf| now + LEEWAY_SECONDS < nbf) {
        return Err(JwtError::NotYetValid);
    }
    Ok(())
}

fn hmac_check<M: Mac>(mut mac: M, signed: &[u8], signature: &[u8]) -> bool {
    mac.update(signed);
    mac.verify_slice(signature).is_ok() // constant time
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
