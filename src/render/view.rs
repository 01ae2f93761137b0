//! The manifest-shaped view of one user or token before and after a plan, which the human
//! renderer diffs. Building the "after" side replays the plan's changes on the "before" side,
//! so what the reader sees is exactly what the changes do.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use serde::Serialize;

use crate::model::state::{ActualState, ActualToken, ActualUser};
use crate::model::{TokenState, UserState};
use crate::plan::{Change, PasswordWriteSource, Plan, ALL_USERS_KEY};

/// Whether an object is created, changed or taken away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// It does not exist yet.
    Create,
    /// It exists and changes.
    Change,
    /// It is locked, deactivated or revoked.
    Remove,
}

/// One object's changes, with its YAML before and after.
#[derive(Debug, Clone)]
pub struct ObjectDiff<'a> {
    /// `user alice` or `token welcome`.
    pub title: String,
    /// Create, change or remove.
    pub kind: ObjectKind,
    /// YAML of the object as it is (empty when created).
    pub before: String,
    /// YAML of the object as the plan leaves it.
    pub after: String,
    /// The changes, in plan order.
    pub changes: Vec<&'a Change>,
}

#[derive(Debug, Clone, Default, Serialize)]
struct UserView {
    admin: bool,
    state: UserState,
    // MAS keeps lock and deactivation apart (a reactivated user stays locked): track both and
    // derive the displayed state from them.
    #[serde(skip)]
    locked: bool,
    #[serde(skip)]
    deactivated: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    emails: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    upstream: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
struct TokenView {
    #[serde(serialize_with = "limit_or_unlimited")]
    usage_limit: Option<u32>,
    #[serde(serialize_with = "time_or_never")]
    expires_at: Option<String>,
    state: TokenState,
}

fn limit_or_unlimited<S: serde::Serializer>(
    limit: &Option<u32>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match limit {
        Some(limit) => serializer.serialize_u32(*limit),
        None => serializer.serialize_str("unlimited"),
    }
}

fn time_or_never<S: serde::Serializer>(
    time: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(time.as_deref().unwrap_or("never"))
}

/// Groups the plan's changes per object, with before/after views.
#[must_use]
pub fn object_diffs<'a>(plan: &'a Plan, actual: &ActualState) -> Vec<ObjectDiff<'a>> {
    let mut groups: IndexMap<String, Vec<&Change>> = IndexMap::new();
    for change in &plan.changes {
        groups.entry(change.object_key()).or_default().push(change);
    }
    // Only the objects the plan changes are looked up: a plan touching a few users of a large
    // deployment indexes those few, not every user in the database.
    let named = |kind: &str| -> HashSet<String> {
        groups
            .keys()
            .filter_map(|key| key.strip_prefix(kind))
            .map(str::to_owned)
            .collect()
    };
    let (user_names, token_names) = (named("user:"), named("token:"));
    let all_users = if user_names.is_empty() {
        &[][..]
    } else {
        &actual.users[..]
    };
    let users: HashMap<String, &ActualUser> = all_users
        .iter()
        .filter(|u| user_names.contains(u.username.as_str()))
        .map(|u| (format!("user:{}", u.username), u))
        .collect();
    let tokens: HashMap<String, &ActualToken> = actual
        .registration_tokens
        .iter()
        .filter(|t| token_names.contains(t.token.as_str()))
        .map(|t| (format!("token:{}", t.token), t))
        .collect();
    groups
        .into_iter()
        .map(|(key, changes)| {
            let (kind_word, name) = key.split_once(':').unwrap_or(("object", key.as_str()));
            let title = format!("{kind_word} {name}");
            if key == ALL_USERS_KEY {
                // Every user at once: nothing to diff, the job line says it all.
                ObjectDiff {
                    title: "all users".to_owned(),
                    kind: ObjectKind::Change,
                    before: String::new(),
                    after: String::new(),
                    changes,
                }
            } else if kind_word == "token" {
                let before = tokens.get(&key).map(|t| token_view(t));
                diff_of(title, before, changes, apply_token_change)
            } else {
                let before = users.get(&key).map(|u| user_view(u));
                diff_of(title, before, changes, apply_user_change)
            }
        })
        .collect()
}

fn diff_of<'a, V: Serialize + Clone + Default>(
    title: String,
    before: Option<V>,
    changes: Vec<&'a Change>,
    apply: fn(&mut V, &Change),
) -> ObjectDiff<'a> {
    let mut after = before.clone().unwrap_or_default();
    for change in &changes {
        apply(&mut after, change);
    }
    let kind = if before.is_none() {
        ObjectKind::Create
    } else if changes.iter().any(|c| {
        matches!(
            c,
            Change::LockUser { .. }
                | Change::DeactivateUser { .. }
                | Change::ScheduleDeactivation { .. }
                | Change::RevokeToken { .. }
        )
    }) {
        ObjectKind::Remove
    } else {
        ObjectKind::Change
    };
    ObjectDiff {
        title,
        kind,
        before: before.map(|v| yaml(&v)).unwrap_or_default(),
        after: yaml(&after),
        changes,
    }
}

fn yaml(value: &impl Serialize) -> String {
    // Views are plain structs of strings, numbers and lists: serialising them cannot fail.
    serde_yaml::to_string(value).unwrap_or_default()
}

fn user_view(user: &ActualUser) -> UserView {
    UserView {
        admin: user.can_request_admin,
        state: user.state(),
        locked: user.locked_at.is_some(),
        deactivated: user.deactivated_at.is_some(),
        emails: user.emails.iter().map(|e| e.email.to_string()).collect(),
        password: user
            .password
            .as_ref()
            .map(|p| format!("(set, scheme version {})", p.version)),
        display_name: None,
        upstream: user
            .upstream_links
            .iter()
            .map(|l| format!("{}:{}", l.provider, l.subject))
            .collect(),
    }
}

fn token_view(token: &ActualToken) -> TokenView {
    TokenView {
        usage_limit: token.usage_limit.and_then(|l| u32::try_from(l).ok()),
        expires_at: token.expires_at.map(|t| t.to_rfc3339()),
        state: if token.revoked_at.is_some() {
            TokenState::Revoked
        } else {
            TokenState::Active
        },
    }
}

fn password_label(source: &PasswordWriteSource) -> String {
    match source {
        PasswordWriteSource::Env { name } => format!("(new, from env {name})"),
        PasswordWriteSource::File { path } => format!("(new, from file {})", path.display()),
        PasswordWriteSource::Hash { version } => {
            format!("(new, given hash, scheme version {version})")
        }
        PasswordWriteSource::Literal => "(new, from the manifest)".to_owned(),
        PasswordWriteSource::CommandLine => "(new, from the command line)".to_owned(),
    }
}

fn replay_user_change(view: &mut UserView, change: &Change) {
    match change {
        Change::CreateUser(new) => {
            *view = UserView {
                admin: new.admin,
                state: new.state,
                locked: new.state == UserState::Locked,
                deactivated: new.state == UserState::Deactivated,
                emails: new.emails.iter().map(ToString::to_string).collect(),
                password: new.password.as_ref().map(|p| password_label(&p.source)),
                display_name: new.display_name.clone(),
                upstream: new
                    .upstream
                    .iter()
                    .map(|(p, s)| format!("{p}:{s}"))
                    .collect(),
            };
        }
        Change::SetAdmin { admin, .. } => view.admin = *admin,
        Change::LockUser { .. } => view.locked = true,
        Change::UnlockUser { .. } => view.locked = false,
        // The scheduled jobs change the state once MAS's worker has run them; the view shows
        // where the user ends up, the job lines say how.
        Change::ReactivateUser { .. } | Change::ScheduleReactivation { .. } => {
            view.deactivated = false;
        }
        Change::DeactivateUser { .. } | Change::ScheduleDeactivation { .. } => {
            view.deactivated = true;
        }
        Change::AddEmail { email, .. } => view.emails.push(email.to_string()),
        Change::RemoveEmail { email, .. } => {
            if let Some(position) = view.emails.iter().position(|e| e == email.as_str()) {
                view.emails.remove(position);
            }
        }
        Change::SetPassword { password, .. } => {
            view.password = Some(password_label(&password.source))
        }
        Change::LinkUpstream {
            provider, subject, ..
        } => view.upstream.push(format!("{provider}:{subject}")),
        Change::UnlinkUpstream {
            provider, subject, ..
        } => {
            let label = format!("{provider}:{subject}");
            view.upstream.retain(|l| *l != label);
        }
        Change::ProvisionUser {
            set_display_name, ..
        } => {
            if let Some(name) = set_display_name {
                view.display_name = Some(name.clone());
            }
        }
        // Sessions and devices are not part of the manifest's view of a user; the renderer
        // lists these as effects and jobs instead.
        Change::FinishSessions { .. }
        | Change::IssueCompatToken { .. }
        | Change::SyncDevices { .. }
        | Change::ProvisionAllUsers { .. }
        | Change::CreateToken(_)
        | Change::UpdateToken { .. }
        | Change::RevokeToken { .. }
        | Change::UnrevokeToken { .. } => {}
    }
}

/// Replays one change on a user view, keeping the displayed state in step with the flags.
fn apply_user_change(view: &mut UserView, change: &Change) {
    replay_user_change(view, change);
    view.state = if view.deactivated {
        UserState::Deactivated
    } else if view.locked {
        UserState::Locked
    } else {
        UserState::Active
    };
}

fn apply_token_change(view: &mut TokenView, change: &Change) {
    match change {
        Change::CreateToken(new) => {
            *view = TokenView {
                usage_limit: new.usage_limit,
                expires_at: new.expires_at.map(|t| t.to_rfc3339()),
                state: if new.revoked {
                    TokenState::Revoked
                } else {
                    TokenState::Active
                },
            };
        }
        Change::UpdateToken {
            usage_limit,
            expires_at,
            ..
        } => {
            view.usage_limit = *usage_limit;
            view.expires_at = expires_at.map(|t| t.to_rfc3339());
        }
        Change::RevokeToken { .. } => view.state = TokenState::Revoked,
        Change::UnrevokeToken { .. } => view.state = TokenState::Active,
        _ => {}
    }
}
