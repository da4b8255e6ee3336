//! `tickets-server tokens ...`: organisers' API tokens, made, listed and
//! revoked on the database `DATABASE_URL` names.
//!
//! `create` prints the token alone on stdout (and what it is on stderr), so
//! `TOKEN=$(tickets-server tokens create ...)` keeps it; it is never shown
//! again. Nothing else it prints has the token's `tks_` form.

use std::process::ExitCode;
use std::time::Duration;

use crate::auth::{self, Permissions, Revocation, TicketScope, TokenRecord};
use crate::storage::{self, Pool, PoolSettings};

pub const USAGE: &str = "usage:
  tickets-server tokens create --organiser NAME --permissions LIST [--tickets IDS]
      LIST: comma-separated, from create_tickets, read_orders, change_orders,
            sell_for_buyer, read_metrics
      IDS: comma-separated ticket ids; without it, all of the organiser's tickets
  tickets-server tokens list
  tickets-server tokens revoke ID";

/// Runs `tokens` with the arguments after it.
pub async fn run(args: &[String]) -> ExitCode {
    let command = match Command::parse(args) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("{error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let Some(database_url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("DATABASE_URL is not set: give the PostgreSQL connection string");
        return ExitCode::from(2);
    };
    let pool = storage::build_pool(
        &database_url,
        PoolSettings {
            max_size: 2,
            connect_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(10),
        },
    );
    match command.execute(&pool).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Create {
        organiser: String,
        permissions: Permissions,
        scope: TicketScope,
    },
    List,
    Revoke(i64),
}

impl Command {
    fn parse(args: &[String]) -> Result<Self, String> {
        match args.first().map(String::as_str) {
            Some("create") => Self::parse_create(&args[1..]),
            Some("list") if args.len() == 1 => Ok(Self::List),
            Some("revoke") if args.len() == 2 => match args[1].parse::<i64>() {
                Ok(id) if id > 0 => Ok(Self::Revoke(id)),
                _ => Err(format!("{:?} is not a token id", args[1])),
            },
            Some(other) => Err(format!("unknown or incomplete tokens command {other:?}")),
            None => Err("tokens needs a command".to_owned()),
        }
    }

    fn parse_create(args: &[String]) -> Result<Self, String> {
        let (mut organiser, mut permissions, mut tickets) = (None, None, None);
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (arg.as_str(), None),
            };
            let slot = match name {
                "--organiser" | "--organizer" => &mut organiser,
                "--permissions" => &mut permissions,
                "--tickets" => &mut tickets,
                _ => return Err(format!("unknown option {arg:?}")),
            };
            let value = match inline {
                Some(value) => value,
                None => rest
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))?,
            };
            if slot.replace(value).is_some() {
                return Err(format!("{name} is given twice"));
            }
        }
        let organiser = organiser.ok_or("--organiser is required")?;
        let permissions = Permissions::parse(&permissions.ok_or("--permissions is required")?)?;
        let scope = match tickets {
            None => TicketScope::AllOfTheOrganisers,
            Some(list) => TicketScope::parse_list(&list)?,
        };
        Ok(Self::Create {
            organiser,
            permissions,
            scope,
        })
    }

    async fn execute(self, pool: &Pool) -> anyhow::Result<ExitCode> {
        storage::run_pending_migrations(pool).await?;
        match self {
            Self::Create {
                organiser,
                permissions,
                scope,
            } => {
                let (token, record) = auth::create(pool, &organiser, permissions, &scope).await?;
                eprintln!(
                    "Token {} created for organiser {:?}: it may {} on {}. It is shown \
                     only this once, on the next line; keep it secret.",
                    record.id,
                    record.organiser,
                    in_words(permissions),
                    scope_in_words(&scope)
                );
                println!("{}", token.expose());
                Ok(ExitCode::SUCCESS)
            }
            Self::List => {
                print_list(&auth::list(pool).await?);
                Ok(ExitCode::SUCCESS)
            }
            Self::Revoke(id) => Ok(match auth::revoke(pool, id).await? {
                Revocation::Revoked => {
                    println!("token {id} revoked: every server refuses it within a second");
                    ExitCode::SUCCESS
                }
                Revocation::AlreadyRevoked => {
                    println!("token {id} was already revoked");
                    ExitCode::SUCCESS
                }
                Revocation::NoSuchToken => {
                    eprintln!("there is no token {id}");
                    ExitCode::FAILURE
                }
            }),
        }
    }
}

/// `create_tickets,read_orders` as `create tickets, read orders`: the
/// creation message has no word of the token's `x_y` form.
fn in_words(permissions: Permissions) -> String {
    permissions.to_string().replace('_', " ").replace(',', ", ")
}

fn scope_in_words(scope: &TicketScope) -> String {
    match scope {
        TicketScope::AllOfTheOrganisers => "all of its tickets".to_owned(),
        TicketScope::Listed(_) => format!("tickets {scope}"),
    }
}

fn print_list(records: &[TokenRecord]) {
    println!("ID\tORGANISER\tPERMISSIONS\tTICKETS\tCREATED\tREVOKED");
    for r in records {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            r.id,
            r.organiser,
            r.permissions,
            r.scope,
            r.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            r.revoked_at.map_or_else(
                || "-".to_owned(),
                |at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        Command::parse(&args)
    }

    #[test]
    fn create_reads_its_options_in_either_form() {
        let command = parse(&[
            "create",
            "--organiser",
            "Acme Events",
            "--permissions=create_tickets,read_orders",
            "--tickets",
            "2,1",
        ])
        .expect("valid");
        assert_eq!(
            command,
            Command::Create {
                organiser: "Acme Events".to_owned(),
                permissions: Permissions::parse("read_orders,create_tickets").expect("valid"),
                scope: TicketScope::Listed(vec![1, 2]),
            }
        );
        assert!(matches!(
            parse(&["create", "--organiser", "a", "--permissions", "read_orders"]),
            Ok(Command::Create {
                scope: TicketScope::AllOfTheOrganisers,
                ..
            })
        ));
    }

    #[test]
    fn bad_commands_are_refused_with_a_reason() {
        for (args, says) in [
            (&[][..], "needs a command"),
            (&["create", "--permissions", "read_orders"], "--organiser"),
            (&["create", "--organiser", "a"], "--permissions"),
            (
                &["create", "--organiser", "a", "--permissions", "root"],
                "unknown permission",
            ),
            (&["create", "--organiser"], "needs a value"),
            (&["create", "--organiser", "a", "--organiser", "b"], "twice"),
            (&["create", "--owner", "a"], "unknown option"),
            (
                &[
                    "create",
                    "--organiser",
                    "a",
                    "--permissions",
                    "read_orders",
                    "--tickets",
                    "x",
                ],
                "ticket id",
            ),
            (&["revoke"], "incomplete"),
            (&["revoke", "abc"], "not a token id"),
            (&["list", "all"], "incomplete"),
            (&["delete", "1"], "unknown"),
        ] {
            let error = parse(args).expect_err("refused");
            assert!(
                error.contains(says),
                "{args:?}: {error:?} does not say {says:?}"
            );
        }
    }

    #[test]
    fn the_creation_message_has_no_word_with_an_underscore() {
        let all = Permissions::parse("create_tickets,read_orders,change_orders,sell_for_buyer")
            .expect("valid");
        assert_eq!(
            in_words(all),
            "create tickets, read orders, change orders, sell for buyer"
        );
    }
}
