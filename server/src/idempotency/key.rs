/// An `Idempotency-Key` header's value, as the spec's pattern states it:
/// either a quoted string (`"key"`, the IETF draft's form) whose key is what
/// lies between the quotes, or the key itself, bare (common practice). A
/// key is 1 to 255 visible ASCII characters; a quoted key has no quote in
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_CHARS: usize = 255;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let quoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .filter(|inner| is_key(inner) && !inner.contains('"'));
        match quoted {
            Some(inner) => Ok(Self(inner.to_owned())),
            None if is_key(&value) => Ok(Self(value)),
            None => Err(format!(
                "must be 1 to {} visible ASCII characters, bare or in double quotes",
                Self::MAX_CHARS
            )),
        }
    }
}

fn is_key(raw: &str) -> bool {
    (1..=IdempotencyKey::MAX_CHARS).contains(&raw.len())
        && raw.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::spec_rules;
    use rstest::rstest;

    #[rstest]
    #[case::bare(
        "8e03978e-40d5-43e8-bc93-6894a57f9324",
        "8e03978e-40d5-43e8-bc93-6894a57f9324"
    )]
    #[case::quoted("\"abc\"", "abc")]
    #[case::at_limit(&"k".repeat(255), &"k".repeat(255))]
    #[case::quoted_at_limit(&format!("\"{}\"", "k".repeat(255)), &"k".repeat(255))]
    // Not a quoted string (nothing between the quotes): a bare key of two quotes.
    #[case::two_quotes("\"\"", "\"\"")]
    // A quote inside: not a quoted string either, so a bare key.
    #[case::inner_quote("\"a\"b\"", "\"a\"b\"")]
    #[case::one_leading_quote("\"abc", "\"abc")]
    fn keys_are_accepted(#[case] raw: &str, #[case] key: &str) {
        assert_eq!(
            IdempotencyKey::try_from(raw.to_owned()).map(|k| k.as_str().to_owned()),
            Ok(key.to_owned())
        );
    }

    #[rstest]
    #[case::empty("")]
    #[case::space("a b")]
    #[case::too_long(&"k".repeat(256))]
    #[case::quoted_too_long(&format!("\"{}\"", "k".repeat(256)))]
    #[case::not_ascii("clé")]
    fn other_keys_are_refused(#[case] raw: &str) {
        assert!(IdempotencyKey::try_from(raw.to_owned()).is_err());
    }

    /// The rule is the spec's pattern for the header, which clients and
    /// contract tools make keys from.
    #[rstest]
    #[case("abc")]
    #[case("\"abc\"")]
    #[case("\"\"")]
    #[case("\"a\"b\"")]
    #[case(&"k".repeat(255))]
    #[case(&"k".repeat(256))]
    #[case(&format!("\"{}\"", "k".repeat(255)))]
    #[case(&format!("\"{}\"", "k".repeat(256)))]
    #[case("")]
    #[case("a b")]
    #[case("\u{7f}")]
    fn the_rule_is_the_spec_pattern(#[case] raw: &str) {
        let pattern = spec_rules::pattern("/components/parameters/IdempotencyKey/schema");
        assert_eq!(
            IdempotencyKey::try_from(raw.to_owned()).is_ok(),
            pattern.is_match(raw),
            "{raw:?}"
        );
    }
}
