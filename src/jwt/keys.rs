//! The verification keys: the HS secret and the public keys of a JWKS document.
//! Each algorithm family only ever meets its own kind of key, so an HS256 token can never be
//! checked against an RSA public key (the classic key-confusion attack).

use base64::Engine;
use hmac::{Hmac, Mac};
use rsa::BigUint;
use serde_json::Value;
use sha2::{Sha256, Sha384, Sha512};

use super::token::B64;

pub struct RsaKey {
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub key: rsa::RsaPublicKey,
}

pub struct EcKey {
    pub kid: Option<String>,
    pub key: p256::ecdsa::VerifyingKey,
}

/// HMAC states already keyed with the secret: each verification clones one instead of
/// hashing the key again.
pub struct HmacKeys {
    pub secret: Vec<u8>,
    pub hs256: Hmac<Sha256>,
    pub hs384: Hmac<Sha384>,
    pub hs512: Hmac<Sha512>,
}

pub struct KeySet {
    hmac: Option<HmacKeys>,
    pub rsa: Vec<RsaKey>,
    pub ec: Vec<EcKey>,
}

impl KeySet {
    /// `secret`: the HS secret (None when HS is disabled). `jwks`: a JWKS document as JSON text.
    pub fn new(secret: Option<String>, jwks: Option<&str>) -> Result<KeySet, String> {
        let hmac = secret.map(|s| {
            let secret = s.into_bytes();
            HmacKeys {
                hs256: <Hmac<Sha256> as Mac>::new_from_slice(&secret).expect("HMAC takes any key length"),
                hs384: <Hmac<Sha384> as Mac>::new_from_slice(&secret).expect("HMAC takes any key length"),
                hs512: <Hmac<Sha512> as Mac>::new_from_slice(&secret).expect("HMAC takes any key length"),
                secret,
            }
        });
        let mut set = KeySet { hmac, rsa: vec![], ec: vec![] };
        if let Some(text) = jwks {
            let doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
            let keys = match &doc {
                Value::Object(o) if o.contains_key("keys") => o["keys"].as_array().ok_or("\"keys\" must be an array")?.clone(),
                Value::Object(_) => vec![doc.clone()], // a single JWK
                _ => return Err("expected a JWKS object {\"keys\": [...]}".into()),
            };
            for jwk in &keys {
                set.add_jwk(jwk)?;
            }
        }
        Ok(set)
    }

    pub fn hmac(&self) -> Option<&HmacKeys> {
        self.hmac.as_ref()
    }

    pub fn hmac_secret(&self) -> Option<&[u8]> {
        self.hmac.as_ref().map(|h| h.secret.as_slice())
    }

    fn add_jwk(&mut self, jwk: &Value) -> Result<(), String> {
        let field = |name: &str| jwk.get(name).and_then(Value::as_str);
        if field("use").is_some_and(|u| u != "sig") {
            return Ok(()); // encryption keys are not for us
        }
        let kid = field("kid").map(str::to_string);
        let decode = |name: &str| -> Result<Vec<u8>, String> {
            let v = field(name).ok_or_else(|| format!("JWK is missing \"{name}\""))?;
            B64.decode(v.trim_end_matches('=')).map_err(|_| format!("JWK \"{name}\" is not base64url"))
        };
        match field("kty") {
            Some("RSA") => {
                let n = BigUint::from_bytes_be(&decode("n")?);
                let e = BigUint::from_bytes_be(&decode("e")?);
                let key = rsa::RsaPublicKey::new(n, e).map_err(|e| format!("bad RSA key: {e}"))?;
                self.rsa.push(RsaKey { kid, alg: field("alg").map(str::to_string), key });
            }
            Some("EC") => {
                if field("crv") != Some("P-256") {
                    return Err("only EC keys on curve P-256 (ES256) are supported".into());
                }
                let (x, y) = (decode("x")?, decode("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err("bad P-256 key: x and y must be 32 bytes".into());
                }
                let mut point = Vec::with_capacity(65);
                point.push(4u8);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .map_err(|_| "bad P-256 key: not a point on the curve".to_string())?;
                self.ec.push(EcKey { kid, key });
            }
            Some("oct") => return Err("symmetric keys belong in bknd.set_jwt_secret, not the JWKS".into()),
            Some(other) => return Err(format!("unsupported key type \"{other}\"")),
            None => return Err("JWK is missing \"kty\"".into()),
        }
        Ok(())
    }
}
