//! `dsco-lingxing console hash-password`: the argon2id hash of a password, for
//! `[[console.users]] password_hash`. The password is read from the terminal without echo, or
//! as the first line of standard input when that is not a terminal (scripts, tests). Only the
//! hash is printed.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// Read a password (no echo) and print its argon2id hash for `[[console.users]]
    /// password_hash`.
    HashPassword,
}

pub fn console(command: ConsoleCommand) -> Result<ExitCode> {
    match command {
        ConsoleCommand::HashPassword => hash_password(),
    }
}

/// Passwords shorter than this are refused: the console may face a network.
const MIN_LEN: usize = 8;

fn hash_password() -> Result<ExitCode> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ")
            .map_err(|e| anyhow!("cannot read the password from the terminal: {e}"))?;
        let again = rpassword::prompt_password("again: ")
            .map_err(|e| anyhow!("cannot read the password from the terminal: {e}"))?;
        if first != again {
            eprintln!("the two passwords differ; nothing printed");
            return Ok(ExitCode::from(2));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| anyhow!("cannot read the password from standard input: {e}"))?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    if password.chars().count() < MIN_LEN {
        eprintln!("the password must have at least {MIN_LEN} characters; nothing printed");
        return Ok(ExitCode::from(2));
    }
    let hash = console::hash_password(&password).map_err(|e| anyhow!(e))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{hash}")?;
    Ok(ExitCode::SUCCESS)
}
