/// An `Idempotency-Key` header's value: 1 to 255 visible ASCII characters.
/// The draft standard sends it as a quoted string (`"key"`), common
/// practice bare; both name the same key.
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
        let key = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(&value);
        if key.is_empty()
            || key.len() > Self::MAX_CHARS
            || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(format!(
                "must be 1 to {} visible ASCII characters",
                Self::MAX_CHARS
            ));
        }
        Ok(Self(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::bare(
        "8e03978e-40d5-43e8-bc93-6894a57f9324",
        "8e03978e-40d5-43e8-bc93-6894a57f9324"
    )]
    #[case::quoted("\"abc\"", "abc")]
    #[case::at_limit(&"k".repeat(255), &"k".repeat(255))]
    fn keys_are_accepted(#[case] raw: &str, #[case] key: &str) {
        assert_eq!(
            IdempotencyKey::try_from(raw.to_owned()).map(|k| k.as_str().to_owned()),
            Ok(key.to_owned())
        );
    }

    #[rstest]
    #[case::empty("")]
    #[case::empty_quoted("\"\"")]
    #[case::space("a b")]
    #[case::too_long(&"k".repeat(256))]
    #[case::not_ascii("clé")]
    fn other_keys_are_refused(#[case] raw: &str) {
        assert!(IdempotencyKey::try_from(raw.to_owned()).is_err());
    }
}
