//! Passwords: argon2id with OWASP's parameters (19 MiB, t=2, p=1). Verification compares in
//! constant time, and an unknown email is checked against a dummy hash so it costs the same.

use std::cell::RefCell;
use std::sync::OnceLock;

use argon2::Block;
use subtle::ConstantTimeEq;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 1024;

fn argon() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
}

thread_local! {
    /// argon2's 19 MiB working memory, kept for the life of the backend: allocating it afresh
    /// for every verification costs page faults that more than double a sign-in's time.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let ours = Params::try_from(&parsed).ok().filter(|p| p.m_cost() == 19 * 1024 && p.t_cost() == 2 && p.p_cost() == 1);
    let (Some(params), Some(salt), Some(expected)) = (ours, parsed.salt, parsed.hash) else {
        // a hash with other parameters: the allocating path
        return argon().verify_password(password.as_bytes(), &parsed).is_ok();
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let mut out = vec![0u8; expected.len()];
    let computed = MEMORY.with(|m| {
        let mut memory = m.borrow_mut();
        if memory.len() != params.block_count() {
            *memory = vec![Block::default(); params.block_count()];
        }
        argon().hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..]).is_ok()
    });
    computed && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

/// Spend what a real verification spends, for an email that has no user.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("bknd dummy password for timing"));
    let _ = verify(password, stored);
}

/// Why a new password is refused, if it is.
pub fn weakness(password: &str) -> Option<String> {
    if password.chars().count() < MIN_LENGTH {
        return Some(format!("Password should be at least {MIN_LENGTH} characters."));
    }
    if password.len() > MAX_LENGTH {
        return Some(format!("Password should be at most {MAX_LENGTH} bytes."));
    }
    None
}
