//! Token minting for tests, independent of the extension's own code: HS*, RS256, ES256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()))
}

pub fn hs(alg: &str, secret: &[u8], claims: &Value) -> String {
    let input = signing_input(&json!({"alg": alg, "typ": "JWT"}), claims);
    let sig = match alg {
        "HS256" => mac::<Hmac<sha2::Sha256>>(secret, &input),
        "HS384" => mac::<Hmac<sha2::Sha384>>(secret, &input),
        "HS512" => mac::<Hmac<sha2::Sha512>>(secret, &input),
        _ => panic!("not an HS alg"),
    };
    format!("{input}.{}", B64.encode(sig))
}

fn mac<M: Mac + hmac::digest::KeyInit>(secret: &[u8], input: &str) -> Vec<u8> {
    let mut m = <M as Mac>::new_from_slice(secret).unwrap();
    m.update(input.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// A token with `alg: none` and an empty signature.
pub fn unsigned(claims: &Value) -> String {
    format!("{}.", signing_input(&json!({"alg": "none", "typ": "JWT"}), claims))
}

pub struct RsaKey {
    pub private: rsa::RsaPrivateKey,
    pub kid: String,
}

impl RsaKey {
    pub fn generate(kid: &str) -> RsaKey {
        RsaKey { private: rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap(), kid: kid.into() }
    }

    pub fn jwk(&self) -> Value {
        use rsa::traits::PublicKeyParts;
        let public = self.private.to_public_key();
        json!({"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256",
               "n": B64.encode(public.n().to_bytes_be()), "e": B64.encode(public.e().to_bytes_be())})
    }

    pub fn sign(&self, claims: &Value) -> String {
        use sha2::Digest;
        let input = signing_input(&json!({"alg": "RS256", "typ": "JWT", "kid": self.kid}), claims);
        let hashed = sha2::Sha256::digest(input.as_bytes());
        let sig = self.private.sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &hashed).unwrap();
        format!("{input}.{}", B64.encode(sig))
    }

    /// The raw modulus, as an attacker would use it for an HS256 key-confusion token.
    pub fn public_modulus(&self) -> Vec<u8> {
        use rsa::traits::PublicKeyParts;
        self.private.to_public_key().n().to_bytes_be()
    }
}

pub struct EcKey {
    pub private: p256::ecdsa::SigningKey,
    pub kid: String,
}

impl EcKey {
    pub fn generate(kid: &str) -> EcKey {
        EcKey { private: p256::ecdsa::SigningKey::random(&mut rand::thread_rng()), kid: kid.into() }
    }

    pub fn jwk(&self) -> Value {
        let point = self.private.verifying_key().to_encoded_point(false);
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig",
               "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap())})
    }

    pub fn sign(&self, claims: &Value) -> String {
        use p256::ecdsa::signature::Signer;
        let input = signing_input(&json!({"alg": "ES256", "typ": "JWT", "kid": self.kid}), claims);
        let sig: p256::ecdsa::Signature = self.private.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(sig.to_bytes()))
    }
}
