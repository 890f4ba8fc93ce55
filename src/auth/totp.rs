//! TOTP (RFC 6238): HMAC-SHA-1, 6 digits, 30-second steps, one step of clock skew either way.

use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: u32 = 6;

/// A new secret: 20 random bytes, base32 without padding (what authenticator apps read).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    if getrandom::getrandom(&mut bytes).is_err() {
        crate::errors::raise(crate::errors::Code::ERRCODE_INTERNAL_ERROR, "bknd: no random source available");
    }
    data_encoding::BASE32_NOPAD.encode(&bytes)
}

/// The code for time step `step` (RFC 4226 HOTP with the step as counter).
pub fn code(secret_base32: &str, step: i64) -> Option<String> {
    let key = data_encoding::BASE32_NOPAD.decode(secret_base32.as_bytes()).ok()?;
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(&key).ok()?;
    mac.update(&(step as u64).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    Some(format!("{:0width$}", binary % 10u32.pow(DIGITS), width = DIGITS as usize))
}

/// The step within ±1 of `now` whose code is `given`, if any (compared in constant time).
pub fn matching_step(secret_base32: &str, given: &str, now: i64) -> Option<i64> {
    use subtle::ConstantTimeEq;
    let current = now / STEP_SECONDS;
    let mut found = None;
    for step in [current - 1, current, current + 1] {
        if let Some(expected) = code(secret_base32, step) {
            if expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes())) && found.is_none() {
                found = Some(step);
            }
        }
    }
    found
}

/// `otpauth://totp/<issuer>:<account>?secret=...&issuer=...`
pub fn uri(issuer: &str, account: &str, secret: &str) -> String {
    let enc = |s: &str| percent_encode(s);
    format!(
        "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The URI as an SVG QR code, the markup itself (GoTrue's answer: supabase-js makes it a
/// `data:image/svg+xml;utf-8,` URL). Colours by name: a `#` would end that URL at its fragment.
pub fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .dark_color(qrcode::render::svg::Color("black"))
            .light_color(qrcode::render::svg::Color("white"))
            .build(),
        Err(_) => String::new(),
    }
}
