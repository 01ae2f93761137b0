//! The digest notices every field of every row it is fed, and nothing that is not a row.

use chrono::{Duration, TimeZone, Utc};
use ulid::Ulid;

use super::{Basis, Digestible, Fingerprint};
use crate::model::state::{
    ActualEmail, ActualLink, ActualPassword, ActualProvider, ActualToken, ActualUser,
};
use crate::model::{EmailAddress, ProviderId, Secret, UserId, Username};

fn digest(kind: &str, value: &(impl Digestible + ?Sized)) -> Fingerprint {
    let mut basis = Basis::new();
    basis.add(kind, value);
    basis.finish()
}

fn user() -> ActualUser {
    let time = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    ActualUser {
        id: UserId(Ulid(1)),
        username: Username::from_database("alice".into()),
        created_at: time,
        locked_at: None,
        deactivated_at: Some(time),
        can_request_admin: false,
        emails: vec![ActualEmail {
            id: Ulid(2),
            email: EmailAddress::new_unchecked("alice@example.org".into()),
        }],
        password: Some(Box::new(ActualPassword {
            id: Ulid(3),
            hashed_password: Secret::new("$argon2id$one"),
            version: 1,
            created_at: time,
        })),
        upstream_links: vec![ActualLink {
            id: Ulid(4),
            provider: ProviderId(Ulid(5)),
            subject: "sub".into(),
        }],
    }
}

/// A change to one field of a user.
type Mutation = Box<dyn Fn(&mut ActualUser)>;

/// Every mutation of a user that must make a plan stale.
#[test]
fn every_user_field_changes_the_digest() {
    let before = digest("user", &user());
    let second = Duration::seconds(1);
    let micro = Duration::microseconds(1);
    let mutations: Vec<(&str, Mutation)> = vec![
        ("id", Box::new(|u| u.id = UserId(Ulid(9)))),
        (
            "username",
            Box::new(|u| u.username = Username::from_database("Alice".into())),
        ),
        ("created_at", Box::new(move |u| u.created_at += micro)),
        (
            "locked_at",
            Box::new(move |u| u.locked_at = Some(u.created_at)),
        ),
        ("deactivated_at", Box::new(|u| u.deactivated_at = None)),
        ("admin", Box::new(|u| u.can_request_admin = true)),
        ("email id", Box::new(|u| u.emails[0].id = Ulid(9))),
        (
            "email",
            Box::new(|u| u.emails[0].email = EmailAddress::new_unchecked("a@example.org".into())),
        ),
        ("email count", Box::new(|u| u.emails.clear())),
        ("password", Box::new(|u| u.password = None)),
        (
            "password id",
            Box::new(|u| u.password.as_mut().unwrap().id = Ulid(9)),
        ),
        (
            "password version",
            Box::new(|u| u.password.as_mut().unwrap().version = 2),
        ),
        (
            "password time",
            Box::new(move |u| u.password.as_mut().unwrap().created_at += second),
        ),
        ("link id", Box::new(|u| u.upstream_links[0].id = Ulid(9))),
        (
            "link provider",
            Box::new(|u| u.upstream_links[0].provider = ProviderId(Ulid(9))),
        ),
        (
            "link subject",
            Box::new(|u| u.upstream_links[0].subject = "other".into()),
        ),
        ("link count", Box::new(|u| u.upstream_links.clear())),
    ];
    for (field, mutate) in mutations {
        let mut changed = user();
        mutate(&mut changed);
        assert_ne!(digest("user", &changed), before, "{field}");
    }
}

#[test]
fn the_password_hash_itself_is_not_digested() {
    // Saved plans carry the digest; nothing in them may be derived from a secret.
    let mut rehashed = user();
    rehashed.password.as_mut().unwrap().hashed_password = Secret::new("$argon2id$two");
    assert_eq!(digest("user", &rehashed), digest("user", &user()));
}

#[test]
fn every_token_and_provider_field_changes_the_digest() {
    let token = ActualToken {
        id: Ulid(1),
        token: "abc".into(),
        usage_limit: None,
        expires_at: None,
        revoked_at: None,
    };
    let time = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let before = digest("token", &token);
    let variants = [
        ActualToken {
            id: Ulid(2),
            ..token.clone()
        },
        ActualToken {
            token: "abd".into(),
            ..token.clone()
        },
        ActualToken {
            usage_limit: Some(0),
            ..token.clone()
        },
        ActualToken {
            expires_at: Some(time),
            ..token.clone()
        },
        ActualToken {
            revoked_at: Some(time),
            ..token.clone()
        },
    ];
    for variant in &variants {
        assert_ne!(digest("token", variant), before, "{variant:?}");
    }

    let provider = ActualProvider {
        id: ProviderId(Ulid(1)),
        name: None,
        enabled: true,
    };
    let before = digest("provider", &provider);
    for variant in [
        ActualProvider {
            id: ProviderId(Ulid(2)),
            ..provider.clone()
        },
        ActualProvider {
            name: Some(String::new()),
            ..provider.clone()
        },
        ActualProvider {
            enabled: false,
            ..provider.clone()
        },
    ] {
        assert_ne!(digest("provider", &variant), before, "{variant:?}");
    }
}

#[test]
fn boundaries_between_values_are_unambiguous() {
    let ids = |ids: &[u128]| ids.iter().map(|id| UserId(Ulid(*id))).collect::<Vec<_>>();
    assert_ne!(
        digest("ids", ids(&[1, 2]).as_slice()),
        digest("ids", ids(&[1]).as_slice())
    );
    assert_ne!(
        digest("ids", ids(&[]).as_slice()),
        digest("idz", ids(&[]).as_slice())
    );
    // Strings are length-prefixed: moving a character from one to the next shows.
    let mut first = Basis::new();
    first.add_absent("user", "ab");
    first.add_absent("user", "c");
    let mut second = Basis::new();
    second.add_absent("user", "a");
    second.add_absent("user", "bc");
    assert_ne!(first.finish(), second.finish());
    // A kind marks what was fed: the same row under two kinds differs, and absence is not
    // the same as an empty row.
    assert_ne!(digest("user", &user()), digest("unlisted-user", &user()));
    let mut absent = Basis::new();
    absent.add_absent("ids", "");
    assert_ne!(absent.finish(), digest("ids", ids(&[]).as_slice()));
}
