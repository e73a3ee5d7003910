//! Checks of user input shared by the auth RPCs.

use crate::error::AuthError;

pub const MAX_EMAIL_LENGTH: usize = 254;
pub const MAX_NAME_LENGTH: usize = 100;

/// A normalised (trimmed, lower-case) email, or an error naming the field.
pub fn email(value: &str, field: &'static str) -> Result<String, AuthError> {
    let email = value.trim().to_lowercase();
    if email.is_empty() {
        return Err(AuthError::invalid(field, "is required"));
    }
    if email.len() > MAX_EMAIL_LENGTH {
        return Err(AuthError::invalid(
            field,
            format!("must be at most {MAX_EMAIL_LENGTH} characters"),
        ));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(AuthError::invalid(field, "must look like name@example.com"));
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if local.is_empty()
        || local.len() > 64
        || !domain_ok
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(AuthError::invalid(field, "must look like name@example.com"));
    }
    Ok(email)
}

/// A display name (tenant, API key): trimmed, 1..=100 characters, no control characters.
pub fn name(value: &str, field: &'static str) -> Result<String, AuthError> {
    let name = value.trim();
    if name.is_empty() {
        return Err(AuthError::invalid(field, "is required"));
    }
    if name.chars().count() > MAX_NAME_LENGTH {
        return Err(AuthError::invalid(
            field,
            format!("must be at most {MAX_NAME_LENGTH} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AuthError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused_with_the_field_named() {
        assert_eq!(
            email("  Ann@Example.COM ", "email").unwrap(),
            "ann@example.com"
        );
        for bad in ["", "no-at-sign", "a@b", "a@.com", "a b@c.com", "@c.com"] {
            let error = email(bad, "email").unwrap_err().to_string();
            assert!(error.starts_with("invalid `email`"), "{bad}: {error}");
        }
        let long = format!("{}@example.com", "a".repeat(300));
        assert!(
            email(&long, "email")
                .unwrap_err()
                .to_string()
                .contains("at most 254")
        );
    }

    #[test]
    fn names_are_bounded() {
        assert_eq!(name(" Acme ", "tenant_name").unwrap(), "Acme");
        assert!(name("", "tenant_name").is_err());
        assert!(name(&"x".repeat(101), "tenant_name").is_err());
        assert!(name("a\u{0}b", "tenant_name").is_err());
    }
}
