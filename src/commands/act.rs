//! `roster do ACTION SOURCE`: one operation on every account a source names.
//!
//! ```text
//! roster do ACTION SOURCE --server URL [--match username|email] [--dry-run] [--resume]
//!           [--report FILE] [--rejects FILE] [--protect USER,...]
//!           [--yes-delete-permanently] [--confirm-relinquish] [--max-deactivate N|P%] [--force]
//!           [--role NAME... | --add-role NAME... --remove-role NAME...]
//!           [--status online|away|busy|dnd|offline [--message TEXT]]
//!           [--preferences JSON] [--auth-service ldap|saml [--auth-data external-id|username|email]]
//!           [--passwords-out FILE [--no-require-change] | --send-reset-email]
//!           [--tokens-out FILE [--description TEXT]]
//! ```
//! Credentials come from the environment, as for `roster import`.

use anyhow::Result;

use crate::cli::common::{DoArgs, InputArgs, MappingArgs, ReportArgs, ServerArgs};
use crate::cli::settings;
use roster::settings::DoAction;

/// `roster help do`: each action and the server calls it makes.
fn after_help() -> String {
    let mut s = String::from("Actions and their server calls:\n");
    for a in DoAction::ALL {
        let (rc, mm) = a.calls();
        s.push_str(&format!(
            "  {}\n    Rocket.Chat: {rc}\n    Mattermost:  {mm}\n",
            a.name()
        ));
    }
    s.push_str(
        "
Each source row names an account (--match username|email); one not on the server is
reported as skipped, never created. Admins, bots and apps, the account roster runs as
and --protect users are skipped, saying why; `delete` never touches them, whatever the
job file's [safety] write_privileged says. A missing permission or a server setting that
is off stops the run at its first refusal, with one message (exit 2).

delete is refused without --yes-delete-permanently (exit 2). It counts the accounts it
would delete before deleting any: more than --max-deactivate (default 5 % of the
server's accounts or 50, whichever is smaller) refuses the run, exit 4, nothing
deleted; --force lifts that. A delete whose answer was lost is looked up before it is
sent again: an account found gone is reported as deleted, never deleted twice.

offboard --remove-memberships also leaves every team and channel but the default ones
(Mattermost: each team, whose channels go with it; Rocket.Chat: each channel and private
group, a team's main room taking the team membership along). A Rocket.Chat room whose
last owner the user is cannot be left: that row fails, saying so.

set-roles --role NAME (repeatable) gives each account exactly those roles; --add-role and
--remove-role (repeatable, not with --role) adjust its own. The roles to give are checked
against the server's roles first: one it lacks rejects the row, nothing written (Mattermost also
takes user, admin and guest for system_user, system_admin and system_guest). Admins are
protected as above; one named in [safety] write_privileged loses the admin role only
with [safety] demote_admins = true, and never the last active administrator: that row
is rejected.

reset-avatar puts back the server's default picture. set-status --status sets the
presence (Rocket.Chat has busy where Mattermost has dnd: each is sent as the other);
--message sets Rocket.Chat's status message too, and stops a Mattermost run before any
write (it has no status message roster can set).

reset-mfa turns two-factor authentication off, for someone who lost their phone; they
set it up again at their next login where the server requires it. Mattermost shows who
has MFA, so only those are sent a reset; Rocket.Chat shows no one's, so every matched
account is (its reset is idempotent, and mails the user). On Rocket.Chat it needs the
server's two-factor authentication on, and the edit-other-user-totp permission.

set-preferences sets --preferences JSON on every account, then each row's pref.KEY
columns over it (an empty cell sets nothing). Mattermost keys are CATEGORY.NAME
(pref.display_settings.use_military_time; `theme.` is the theme's empty name) and values
text, a JSON value sent as its text; Rocket.Chat keys are those of users.setPreferences
(pref.language, pref.useEmojis), and a cell's true, false, number or JSON array is sent
as such. Preferences are merged with the account's own.

migrate-auth --auth-service ldap|saml (Mattermost) moves email-and-password accounts to
directory sign-in: auth_data is the row's external_id (--auth-data external-id, the
default; the directory's IdAttribute value), or the account's username or email. The
server blanks their passwords. Accounts on another sign-in already are skipped, saying
so; one on the target already is left as it is. Needs a system admin.

convert-to-bot (Mattermost) turns each account into a bot account owned by itself and
ends its sessions; bots are protected from then on.

reset-password --passwords-out FILE sets a random password (24 characters) on each account
and writes `username,password,confirmed` lines to FILE only: never to the report, journal,
rejects or terminal. confirmed is no when the server's answer was lost for good: the
account may have that password; the row fails, and --resume sets a new one. FILE is
created mode 0600 and must not exist, except that --resume appends to the one its
interrupted run wrote. Rocket.Chat makes the user change it at the next login (not
with --no-require-change) and logs the user out everywhere; Mattermost cannot require a
change, so it needs --no-require-change; it revokes the user's sessions, and LDAP or SSO
accounts are skipped, which only a system admin is shown: roster sets Mattermost passwords
as a system admin only. --send-reset-email has the server mail each user its reset link
instead (Rocket.Chat answers alike for every address, and takes 10 a minute).

create-token --tokens-out FILE makes a token for each account (service accounts) and
writes `username,user_id,token_id,token` lines to FILE only, on the same terms. Mattermost:
a personal access token described by --description (needs EnableUserAccessTokens).
Rocket.Chat: a login token of the user's, with no name (no --description), expiring as a
login does (90 days by default), made only with the server's CREATE_TOKENS_FOR_USERS_SECRET
given in the environment variable ROSTER_CREATE_TOKENS_SECRET. A token request whose answer
was lost is not sent again (on Mattermost, --resume does when the server lists no token of
it): that row fails, saying which token to check and revoke. A refusal (a setting, the
secret, a permission) stops the run, and --resume does the rows once the cause is fixed.

Examples:
  roster do offboard leavers.csv --server https://chat.example.org --remove-memberships \\
    --report offboard.csv
  roster do deactivate leavers.csv --server https://mm.example.org --match email --dry-run
  roster do delete gone.csv --server https://chat.example.org --yes-delete-permanently \\
    --confirm-relinquish --report delete.jsonl
  roster do set-roles agents.csv --server https://chat.example.org --add-role livechat-agent
  roster do set-status away.csv --server https://chat.example.org --status away \\
    --message 'on leave until Monday'
  roster do reset-mfa lost-phone.csv --server https://mm.example.org --report mfa.csv
  roster do set-preferences staff.csv --server https://mm.example.org \\
    --preferences '{\"display_settings\": {\"use_military_time\": \"true\"}}'
  roster do migrate-auth everyone.csv --server https://mm.example.org --auth-service ldap \\
    --dry-run
  roster do reset-password people.csv --server https://chat.example.org \\
    --passwords-out new-passwords.csv --report reset.jsonl
  roster do reset-password people.csv --server https://mm.example.org --send-reset-email
  ROSTER_CREATE_TOKENS_SECRET_FILE=~/.rc-token-secret roster do create-token bots.csv \\
    --server https://chat.example.org --tokens-out tokens.csv",
    );
    s
}

#[derive(clap::Args, Debug)]
#[command(after_help = after_help())]
pub struct Args {
    /// What to do to each matched account.
    #[arg(value_enum)]
    pub action: DoAction,
    /// Input: a .csv/.tsv/.ldif/.jsonl file, `-` for stdin, or an ldap:// URL.
    pub source: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub run: DoArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub mapping: MappingArgs,
    #[command(flatten)]
    pub reports: ReportArgs,
}

pub fn run(args: Args) -> Result<i32> {
    roster::interrupt::install();
    settings::no_sync_scope(&args.input)?;
    let config = args.mapping.config.as_deref();
    let job = settings::load_job(config)?;
    let spec = settings::source_spec(args.source.as_deref(), &job)?;
    let (run, act) = settings::act(args.action, &args.run, &job)?;
    let files = settings::server_files(Some(&spec), config, &job, &args.server)
        .write("--passwords-out", args.run.passwords_out.as_deref())
        .write("--tokens-out", args.run.tokens_out.as_deref());
    settings::report_files(files, &args.reports).guard()?;
    let source = settings::source(spec, &args.input, &args.mapping, &args.server.tls, &job)?;
    roster::ops::act(
        &source,
        &settings::server(&args.server, &job),
        &run,
        &act,
        &settings::reports(&args.reports),
    )
}
