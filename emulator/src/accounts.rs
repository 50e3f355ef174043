//! Which account a request is for, from the access key id of its SigV4 credential, following
//! the convention LocalStack uses for account ids
//! (https://docs.localstack.cloud/references/multi-account-setups/, and
//! `localstack/utils/aws/accounts.py`): an access key id of twelve digits is the account id
//! itself; the temporary keys LocalStack's STS hands out (`LSIA...`, `LKIA...`) carry the
//! account in characters 4 to 12; anything else is the default account. So credentials from
//! LocalStack's AssumeRole reach the emulator as the role's account, as they would on AWS.

/// The base32 alphabet AWS and LocalStack access key ids use.
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// `QAAAAAAA` decoded: the offset LocalStack adds to half the account id.
const ACCOUNT_OFFSET: u64 = 549_755_813_888;

/// The account of the access key id in `authorization`'s credential, or `default`.
pub fn request_account(authorization: Option<&str>, default: &str) -> String {
    let key = authorization
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|credential| credential.split('/').next())
        .unwrap_or_default();
    account_of_access_key(key).unwrap_or_else(|| default.to_owned())
}

/// The account an access key id names, if it names one.
pub fn account_of_access_key(key: &str) -> Option<String> {
    if key.len() == 12 && key.bytes().all(|b| b.is_ascii_digit()) {
        return Some(key.to_owned());
    }
    if key.len() < 20 || !(key.starts_with("LSIA") || key.starts_with("LKIA")) {
        return None;
    }
    let digit = |b: u8| ALPHABET.iter().position(|a| *a == b).map(|p| p as u64);
    let mut encoded = 0u64;
    for b in key[4..12].bytes() {
        encoded = encoded * 32 + digit(b)?;
    }
    let half = encoded.checked_sub(ACCOUNT_OFFSET)?;
    let account = 2 * half + u64::from(digit(key.as_bytes()[12])? >= 16);
    (account <= 999_999_999_999).then(|| format!("{account:012}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_digits_are_the_account_and_localstack_keys_carry_theirs() {
        assert_eq!(account_of_access_key("222233334444").as_deref(), Some("222233334444"));
        // LocalStack's own examples, with its LSIA/LKIA prefixes.
        assert_eq!(account_of_access_key("LSIAQAAAAAAAGMKEM7X5").as_deref(), Some("000000000000"));
        assert_eq!(account_of_access_key("LKIARZPUZDIKGB2VALC4").as_deref(), Some("123456789012"));
        assert_eq!(account_of_access_key("AKIAIOSFODNN7EXAMPLE"), None, "a production key is not read");
        assert_eq!(account_of_access_key("test"), None);
        let auth = "AWS4-HMAC-SHA256 Credential=333344445555/20261205/us-west-2/gameliftstreams/aws4_request, ...";
        assert_eq!(request_account(Some(auth), "111122223333"), "333344445555");
        assert_eq!(request_account(None, "111122223333"), "111122223333");
    }
}
