//! The homeserver client against real Synapse: what `register-user` asks before it registers
//! (is the localpart free?), what `issue-compatibility-token` does first (create the device),
//! and the display-name reads and writes that plan and MAS's worker rely on.

use masctl::homeserver::{HomeserverError, HomeserverKind, HomeserverUser};

use super::{localpart, shared};

#[tokio::test]
async fn a_localpart_synapse_has_is_not_available() {
    let Some(synapse) = shared() else { return };
    let client = synapse.client();
    let taken = localpart("avail", "taken");
    let free = localpart("avail", "free");

    assert!(client.is_localpart_available(&taken).await.unwrap());
    // What MAS's provision-user job does for a new user: Synapse creates the account.
    client.set_display_name(&taken, "Taken").await.unwrap();
    assert!(
        !client.is_localpart_available(&taken).await.unwrap(),
        "Synapse answers M_USER_IN_USE for an existing user"
    );
    assert!(client.is_localpart_available(&free).await.unwrap());
    // Synapse's own rules: M_INVALID_USERNAME also means "cannot register".
    assert!(!client.is_localpart_available("Upper Case").await.unwrap());
    // Non-ASCII is refused before any request, as MAS does.
    assert!(!client.is_localpart_available("élise").await.unwrap());
}

#[tokio::test]
async fn query_user_reads_display_names_and_knows_unknown_users() {
    let Some(synapse) = shared() else { return };
    let client = synapse.client();
    let named = localpart("query", "named");
    let unnamed = localpart("query", "unnamed");
    let unknown = localpart("query", "unknown");
    client
        .set_display_name(&named, "Named Person")
        .await
        .unwrap();
    // An empty display name is how Synapse stores "none": the client reports None.
    client.set_display_name(&unnamed, "").await.unwrap();

    assert_eq!(
        client.query_user(&named).await.unwrap(),
        Some(HomeserverUser {
            display_name: Some("Named Person".to_owned()),
            is_deactivated: false,
            is_suspended: false,
        })
    );
    assert_eq!(client.query_user(&unknown).await.unwrap(), None);
    let names = client
        .display_names(
            &[
                named.clone(),
                unnamed.clone(),
                unknown.clone(),
                named.clone(),
            ],
            2,
        )
        .await
        .unwrap();
    assert_eq!(names.len(), 3);
    assert_eq!(names[&named].as_deref(), Some("Named Person"));
    assert_eq!(names[&unnamed], None);
    assert_eq!(names[&unknown], None);

    // The read-only kind reads through the same API.
    let read_only = synapse.client_of(HomeserverKind::SynapseReadOnly);
    let user = read_only.query_user(&named).await.unwrap().unwrap();
    assert_eq!(user.display_name.as_deref(), Some("Named Person"));
}

#[tokio::test]
async fn a_display_name_set_through_provision_user_reads_back() {
    let Some(synapse) = shared() else { return };
    let client = synapse.client();
    let user = localpart("rename", "user");
    client.set_display_name(&user, "First").await.unwrap();
    client
        .set_display_name(&user, "Second Name ✓")
        .await
        .unwrap();
    let names = client
        .display_names(std::slice::from_ref(&user), 1)
        .await
        .unwrap();
    assert_eq!(names[&user].as_deref(), Some("Second Name ✓"));
}

#[tokio::test]
async fn upsert_device_creates_the_device_in_synapse() {
    let Some(synapse) = shared() else { return };
    let client = synapse.client();
    let user = localpart("device", "owner");
    client
        .set_display_name(&user, "Device Owner")
        .await
        .unwrap();
    assert!(synapse.devices(&user).is_empty());

    client.upsert_device(&user, "MASCTLDEV1").await.unwrap();
    assert_eq!(synapse.devices(&user), ["MASCTLDEV1"]);
    // Upserting again changes nothing; a second device is added beside the first.
    client.upsert_device(&user, "MASCTLDEV1").await.unwrap();
    client.upsert_device(&user, "MASCTLDEV2").await.unwrap();
    assert_eq!(synapse.devices(&user), ["MASCTLDEV1", "MASCTLDEV2"]);

    // A user Synapse does not know gets no device: issue-compatibility-token must fail.
    let error = client
        .upsert_device(&localpart("device", "ghost"), "MASCTLDEV3")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, HomeserverError::UnexpectedStatus { status: 404, errcode: Some(code), .. } if code == "M_NOT_FOUND"),
        "{error:?}"
    );
    assert!(error.to_string().contains(&synapse.endpoint()), "{error}");
    assert!(
        error
            .to_string()
            .contains("POST _synapse/mas/upsert_device"),
        "{error}"
    );

    // The read-only kind refuses without asking Synapse.
    let read_only = synapse.client_of(HomeserverKind::SynapseReadOnly);
    let error = read_only
        .upsert_device(&user, "MASCTLDEV4")
        .await
        .unwrap_err();
    assert!(
        matches!(error, HomeserverError::ReadOnly { .. }),
        "{error:?}"
    );
    assert_eq!(synapse.devices(&user), ["MASCTLDEV1", "MASCTLDEV2"]);
}
