//! The texts of a ticket. Lengths count characters, as PostgreSQL's
//! `char_length` does; NUL is refused because PostgreSQL cannot store it.

/// An event's name: 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketName(String);

/// An event's description: at most 2000 characters, possibly empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketDescription(String);

impl TicketName {
    pub const MAX_CHARS: usize = 200;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TicketDescription {
    pub const MAX_CHARS: usize = 2000;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TicketName {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        check_text(&value, 1, Self::MAX_CHARS).map(|()| Self(value))
    }
}

impl TryFrom<String> for TicketDescription {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        check_text(&value, 0, Self::MAX_CHARS).map(|()| Self(value))
    }
}

fn check_text(value: &str, min_chars: usize, max_chars: usize) -> Result<(), String> {
    let chars = value.chars().count();
    if chars < min_chars {
        Err(format!("must be at least {min_chars} character long"))
    } else if chars > max_chars {
        Err(format!("must be at most {max_chars} characters long"))
    } else if value.contains('\0') {
        Err("must not contain the NUL character".to_owned())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::one_char("a")]
    #[case::max_chars(&"é".repeat(TicketName::MAX_CHARS))]
    #[case::spaces_inside("Rock in the park")]
    fn valid_names_are_accepted(#[case] raw: &str) {
        assert_eq!(
            TicketName::try_from(raw.to_owned()).map(|n| n.as_str().to_owned()),
            Ok(raw.to_owned())
        );
    }

    #[rstest]
    #[case::empty("")]
    #[case::too_long(&"a".repeat(TicketName::MAX_CHARS + 1))]
    #[case::nul("a\0b")]
    fn invalid_names_are_refused(#[case] raw: &str) {
        assert!(TicketName::try_from(raw.to_owned()).is_err());
    }

    #[rstest]
    #[case::empty("", true)]
    #[case::max_chars(&"ü".repeat(TicketDescription::MAX_CHARS), true)]
    #[case::too_long(&"a".repeat(TicketDescription::MAX_CHARS + 1), false)]
    #[case::nul("\0", false)]
    fn descriptions_follow_their_rules(#[case] raw: &str, #[case] valid: bool) {
        assert_eq!(TicketDescription::try_from(raw.to_owned()).is_ok(), valid);
    }
}
