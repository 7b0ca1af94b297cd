//! Keeping the L1 RPC URL out of logs and status: hosted endpoints carry their API key in
//! the path, the query or the user info (`https://mainnet.example/v3/<key>`), and an HTTP
//! client's errors quote the URL they failed on.

use alloy::transports::http::reqwest::Url;

/// `url` without what may be secret: scheme, host and port only, `/…` standing for a path,
/// query or fragment that was there.
pub fn redact_url(url: &str) -> String {
    let Ok(parsed) = url.parse::<Url>() else {
        return "<unparsable url>".to_string();
    };
    let host = parsed.host_str().unwrap_or("");
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let more = (parsed.path() != "/" && !parsed.path().is_empty())
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || !parsed.username().is_empty();
    format!(
        "{}://{host}{port}{}",
        parsed.scheme(),
        if more { "/…" } else { "" }
    )
}

/// `text` with every spelling of `url` (as given, and as an HTTP client prints it after
/// normalising) replaced by [`redact_url`]'s.
pub fn scrub_url(text: &str, url: &str) -> String {
    let redacted = redact_url(url);
    let mut out = text.to_string();
    let mut spellings = vec![url.to_string()];
    if let Ok(parsed) = url.parse::<Url>() {
        spellings.push(parsed.to_string());
    }
    // Longest first, so a spelling that contains another is replaced whole.
    spellings.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in spellings.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), &redacted);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_path_query_and_user_info_are_removed() {
        assert_eq!(
            redact_url("https://eth.example.com/v3/0123abcd"),
            "https://eth.example.com/…"
        );
        assert_eq!(
            redact_url("https://user:pw@eth.example.com:8545/?key=s3cret"),
            "https://eth.example.com:8545/…"
        );
        assert_eq!(redact_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        let err = "error sending request for url (https://eth.example.com/v3/0123abcd)";
        let scrubbed = scrub_url(err, "https://eth.example.com/v3/0123abcd");
        assert!(!scrubbed.contains("0123abcd"), "{scrubbed}");
        let bare = scrub_url(
            "error sending request for url (https://host.example/?k=zz9)",
            "https://host.example?k=zz9",
        );
        assert!(!bare.contains("zz9"), "{bare}");
    }
}
