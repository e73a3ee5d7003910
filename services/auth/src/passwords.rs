//! Argon2id password hashing and the password policy.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::AuthError;

/// OWASP's Argon2id recommendation: 19 MiB of memory, 2 passes, 1 lane.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 128;

fn params() -> Params {
    // The constants are valid parameters; `Params::new` only rejects out-of-range values.
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or_default()
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// The memory one hash works in: [`MEMORY_KIB`] of 1 KiB blocks.
pub fn working_memory() -> Vec<Block> {
    vec![Block::new(); params().block_count()]
}

/// [`hash`], working in `memory` (from [`working_memory`]) instead of allocating its own: the
/// hashing pool reuses a few of these, so a burst of hashes cannot grow the process (the
/// allocator keeps freed 19 MiB blocks rather than give them back, see `hashing`).
pub fn hash_in(password: &str, memory: &mut [Block]) -> Result<String, AuthError> {
    let fail = |e: String| AuthError::Internal(format!("password hashing failed: {e}"));
    let salt = Salt::new(&rand::random::<[u8; Salt::RECOMMENDED_LENGTH]>())
        .map_err(|e| fail(e.to_string()))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2()
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
        .map_err(|e| fail(e.to_string()))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params()).map_err(|e| fail(e.to_string()))?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| fail(e.to_string()))?),
    };
    Ok(phc.to_string())
}

/// [`verify`], working in `memory`. A stored hash with other parameters (an older policy) is
/// verified the allocating way.
pub fn verify_in(password: &str, phc: &str, memory: &mut [Block]) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let ours = parsed.algorithm == Algorithm::Argon2id.ident()
        && parsed.version == Some(Version::V0x13.into())
        && Params::try_from(&parsed).is_ok_and(|p| p.block_count() == memory.len());
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if !ours {
        return verify(password, phc);
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory)
        .is_ok()
        // Output compares in constant time.
        && Output::new(&out).is_ok_and(|computed| computed == *expected)
}

/// Checks the policy; the error says which rule failed.
pub fn check_policy(password: &str, field: &'static str) -> Result<(), AuthError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(AuthError::invalid(
            field,
            format!("must be at least {MIN_LENGTH} characters (it has {length})"),
        ));
    }
    if length > MAX_LENGTH {
        return Err(AuthError::invalid(
            field,
            format!("must be at most {MAX_LENGTH} characters"),
        ));
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|present| **present).count() < 3 {
        return Err(AuthError::invalid(
            field,
            "must mix at least three of: lower case, upper case, digits, symbols",
        ));
    }
    Ok(())
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) with a random salt.
pub fn hash(password: &str) -> Result<String, AuthError> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| AuthError::Internal(format!("password hashing failed: {e}")))
}

/// True when `password` matches `phc`. A malformed stored hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash of a random password, verified against when the email is unknown, so that path costs
/// the same time as a wrong password and does not reveal whether an account exists.
pub fn decoy_hash() -> String {
    let random: [u8; 24] = rand::random();
    hash(&hex::encode(random)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_rule_that_failed() {
        let short = check_policy("Ab1!", "password").unwrap_err().to_string();
        assert!(
            short.contains("at least 12 characters (it has 4)"),
            "{short}"
        );
        let plain = check_policy("alllowercaseletters", "password")
            .unwrap_err()
            .to_string();
        assert!(plain.contains("at least three of"), "{plain}");
        assert!(check_policy("Correct-Horse-Battery-9", "password").is_ok());
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let first = hash("Correct-Horse-Battery-9").unwrap();
        let second = hash("Correct-Horse-Battery-9").unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "random salt");
        assert!(verify("Correct-Horse-Battery-9", &first));
        assert!(!verify("Correct-Horse-Battery-8", &first));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn hashing_in_reused_memory_agrees_with_the_allocating_way() {
        let mut memory = working_memory();
        let pooled = hash_in("Correct-Horse-Battery-9", &mut memory).unwrap();
        assert!(
            pooled.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{pooled}"
        );
        assert!(verify("Correct-Horse-Battery-9", &pooled));
        let allocated = hash("Correct-Horse-Battery-9").unwrap();
        assert!(verify_in(
            "Correct-Horse-Battery-9",
            &allocated,
            &mut memory
        ));
        assert!(verify_in("Correct-Horse-Battery-9", &pooled, &mut memory));
        assert!(!verify_in("Correct-Horse-Battery-8", &pooled, &mut memory));
        assert!(!verify_in("anything", "not a phc string", &mut memory));
        // Another policy's hash still verifies.
        let older = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"Correct-Horse-Battery-9")
        .unwrap()
        .to_string();
        assert!(verify_in("Correct-Horse-Battery-9", &older, &mut memory));
    }
}
