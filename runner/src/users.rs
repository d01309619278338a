//! `leadpipe users create-admin --email E`: the first admin account (and any later one), on the same store flags
//! as `leadpipe serve`. The password comes from `LEADPIPE_ADMIN_PASSWORD` or, else, the first line of standard
//! input; it never appears in the arguments (where `ps` and shell history would show it).

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use leadpipe_core::domain::Role;
use leadpipe_core::store::LeadStore;
use leadpipe_core::{Leadpipe, Settings};
use leadpipe_sqlite::SqliteStore;

/// The variable the password may be given in.
pub const PASSWORD_VAR: &str = "LEADPIPE_ADMIN_PASSWORD";

/// `leadpipe users …`.
#[derive(Subcommand)]
pub enum UsersCommand {
    /// Create an admin account (the first admin). Reads the password from LEADPIPE_ADMIN_PASSWORD, else from the
    /// first line of standard input.
    CreateAdmin(CreateAdminArgs),
}

/// `leadpipe users create-admin`.
#[derive(Parser)]
pub struct CreateAdminArgs {
    /// The admin's sign-in email.
    #[arg(long)]
    email: String,
    /// SQLite database file (the one `leadpipe serve` uses).
    #[arg(long, default_value = "leadpipe.db")]
    db: PathBuf,
    /// Use DynamoDB (table from TABLE_NAME, region and credentials from the standard AWS environment) instead of
    /// SQLite.
    #[arg(long)]
    dynamodb: bool,
}

fn read_password() -> Result<String, Box<dyn std::error::Error>> {
    if let Ok(p) = std::env::var(PASSWORD_VAR) {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err(format!("no password: set {PASSWORD_VAR} or pipe it on standard input").into());
    }
    Ok(password)
}

/// Runs a `leadpipe users` command.
pub async fn run(command: UsersCommand) -> Result<(), Box<dyn std::error::Error>> {
    let UsersCommand::CreateAdmin(args) = command;
    let settings = Settings::from_env()?;
    let password = read_password()?;
    let store: Arc<dyn LeadStore> = if args.dynamodb {
        Arc::new(crate::dynamo_from_env(&settings).await?)
    } else {
        Arc::new(
            SqliteStore::open(&args.db, settings.counter_rules())
                .map_err(|e| format!("cannot open {}: {e}", args.db.display()))?,
        )
    };
    let app = Leadpipe::new(store, settings);
    let user = app
        .create_account(&args.email, &password, Role::Admin, chrono::Utc::now())
        .await
        .map_err(|e| format!("cannot create the admin: {e}"))?;
    eprintln!("created admin {} ({})", user.email, user.id);
    Ok(())
}
