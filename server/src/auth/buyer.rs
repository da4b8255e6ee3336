//! A buyer is the subject of an OpenID Connect token; purchases and holds
//! name buyers by a UUID `user_id`.

use uuid::Uuid;

/// The namespace of the UUIDs made from subjects that are not UUIDs:
/// UUIDv5 of `urn:tickets-server:oidc-subject` in RFC 9562's URL namespace.
pub const SUBJECT_NAMESPACE: Uuid = Uuid::from_u128(0x77c3_fb1f_b5fc_5aba_8082_60e6_6338_8672);

/// An authenticated buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buyer {
    /// The `user_id` the buyer's purchases and holds carry.
    pub user_id: Uuid,
    /// The token's `sub`, as given: what audit columns record.
    pub subject: String,
}

impl Buyer {
    pub fn from_subject(issuer: &str, subject: &str) -> Self {
        Self {
            user_id: user_id_for(issuer, subject),
            subject: subject.to_owned(),
        }
    }
}

/// A `sub` in UUID's hyphenated form (36 characters, either case) is the
/// `user_id` itself, so a provider that already names users by UUID keeps
/// its ids. Any other `sub` becomes the UUIDv5 of `issuer`, a NUL byte and
/// `sub` in [`SUBJECT_NAMESPACE`]: stable, and distinct across issuers.
pub fn user_id_for(issuer: &str, subject: &str) -> Uuid {
    if subject.len() == 36
        && let Ok(id) = Uuid::try_parse(subject)
    {
        return id;
    }
    let mut name = Vec::with_capacity(issuer.len() + 1 + subject.len());
    name.extend_from_slice(issuer.as_bytes());
    name.push(0);
    name.extend_from_slice(subject.as_bytes());
    Uuid::new_v5(&SUBJECT_NAMESPACE, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_is_derived_as_documented() {
        assert_eq!(
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:tickets-server:oidc-subject"),
            SUBJECT_NAMESPACE
        );
    }

    #[test]
    fn a_uuid_subject_is_the_user_id_as_is() {
        let id = Uuid::new_v4();
        assert_eq!(user_id_for("https://a", &id.to_string()), id);
        assert_eq!(user_id_for("https://a", &id.to_string().to_uppercase()), id);
    }

    #[test]
    fn other_subjects_become_a_uuidv5_of_issuer_and_subject() {
        // The value Python's uuid.uuid5(ns, "https://id.example.com\x00auth0|42") gives.
        assert_eq!(
            user_id_for("https://id.example.com", "auth0|42").to_string(),
            "fa9af460-ec0c-569c-96a4-89062c727333"
        );
        let id = Uuid::new_v4();
        // A UUID in another form is not taken as one.
        assert_ne!(user_id_for("https://a", &id.simple().to_string()), id);
        assert_ne!(
            user_id_for("https://a", "42"),
            user_id_for("https://b", "42")
        );
    }
}
