//! `masctl export`: write the database's users and registration tokens as a manifest, so that an
//! existing deployment can be adopted (`plan` on the result is empty).

use std::path::PathBuf;

use clap::Args;

use super::context::{Context, GlobalArgs};
use super::output;
use crate::exit::Exit;
use crate::export::{self, ExportOptions};
use crate::model::fold_case;
use crate::snapshot::{self, Scope, TokenScope, UserScope};

/// Write the database's users and registration tokens as a manifest (adoption)
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Export only this user (repeatable; matched case-insensitively); tokens are then left out
    #[arg(long = "user", value_name = "NAME")]
    users: Vec<String>,
    /// Write to this file (created with mode 0600) instead of stdout
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
    /// Include each user's current password hash; the output is then a secret
    #[arg(long)]
    include_password_hashes: bool,
}

/// Reads the database and writes the manifest.
pub(crate) async fn run(args: &ExportArgs, global: &GlobalArgs) -> miette::Result<Exit> {
    let context = Context::load(global)?;
    let mut conn = context.connect("export").await?;
    let scope = if args.users.is_empty() {
        Scope::all()
    } else {
        Scope {
            users: UserScope::Named(args.users.clone()),
            registration_tokens: TokenScope::Named(Vec::new()),
        }
    };
    let actual = snapshot::read(&mut conn, &scope)
        .await
        .map_err(|error| miette::miette!("{error}"))?;
    for name in &args.users {
        if !actual
            .users
            .iter()
            .any(|user| user.username.folded() == fold_case(name))
        {
            miette::bail!("--user {name}: the database has no such user");
        }
    }
    let mut header = vec![
        format!(
            "Exported by masctl {} export at {}.",
            env!("CARGO_PKG_VERSION"),
            context.env.now().format("%Y-%m-%d %H:%M:%S UTC")
        ),
        "`masctl plan` on this file is empty. Display names live on the homeserver and are not exported.".to_owned(),
    ];
    header.push(if args.include_password_hashes {
        "This file holds password hashes: keep it secret, out of Git.".to_owned()
    } else {
        "Passwords are not exported: without a `password` key masctl leaves them alone.".to_owned()
    });
    let options = ExportOptions {
        include_password_hashes: args.include_password_hashes,
        include_tokens: args.users.is_empty(),
    };
    let exported = export::export(&actual, options, &header)?;
    for warning in &exported.warnings {
        output::warning(warning);
    }
    match &args.out {
        Some(path) => crate::private_file::write(path, exported.yaml.as_bytes(), &context.env)
            .map_err(|error| miette::miette!("cannot write {}: {error}", path.display()))?,
        None => output::stdout(&exported.yaml),
    }
    output::stderr_line(&format!(
        "Exported {} user{} and {} registration token{}.",
        exported.users,
        if exported.users == 1 { "" } else { "s" },
        exported.tokens,
        if exported.tokens == 1 { "" } else { "s" },
    ));
    Ok(Exit::Success)
}
