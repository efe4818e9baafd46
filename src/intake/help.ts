/** Help text for `/preview` in PR comments and in Slack. Static text only: nothing the user typed ends up here. */

export const COMMENT_HELP = [
  "**preview-bot commands** (type them as the first line of a PR comment):",
  "",
  "| command | what it does |",
  "|---|---|",
  "| `/preview deploy [<sha>]` | build and deploy this PR's preview environment (with a SHA: exactly that commit, which must be the head) |",
  "| `/preview redeploy [<sha>]` | deploy again from the current head commit |",
  "| `/preview destroy [--dry-run]` | tear the preview down (`--dry-run` lists what would go) |",
  "| `/preview status` | show the preview's state and URL |",
  "| `/preview extend <30m\\|12h\\|3d\\|1w>` | keep the preview alive that much longer (at most 30d) |",
  "| `/preview backup` | back the preview database up now |",
  "| `/preview restore <backup-name\\|latest>` | restore the preview database from a backup |",
  "| `/preview help` | this list |",
].join("\n");

export const SLACK_HELP = [
  "*preview-bot* — `/preview <command>`:",
  "• `list [owner/repo]` — previews that exist",
  "• `status owner/repo#N` — one preview's state and URL",
  "• `deploy owner/repo#N [sha]` / `redeploy owner/repo#N [sha]` — deploy the PR's preview (with a SHA: exactly that commit)",
  "• `destroy owner/repo#N [--dry-run]` — tear it down (`--dry-run` lists what would go)",
  "• `extend owner/repo#N 3d` — keep it longer (`30m`, `12h`, `3d`, `1w`; at most 30d)",
  "• `backup owner/repo#N` — back its database up now; `backup <target>` — back a configured database up now",
  "• `backups owner/repo#N` — list its backups; `backups <target>` — list a configured database's backups",
  "• `help` — this list",
].join("\n");
