import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { previewNames } from "../../../src/services/preview/naming.js";
import {
  codeBlock,
  codeSpan,
  escapeMarkdown,
  GITHUB_TEXT_LIMIT,
  renderCheckRunOutput,
  renderComment,
  stepsTable,
  stickyMarker,
  truncateMiddle,
} from "../../../src/services/github/report-markdown.js";
import type { RunReport } from "../../../src/services/shared/run-report.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const OPTS = { serverUrl: "https://github.com" };

function report(branch: string, over: Partial<RunReport> = {}): RunReport {
  const ref = { owner: "acme", repo: "web", number: 42, branch, sha: SHA };
  return {
    kind: "deploy",
    ref,
    names: previewNames(ref, { namespace: "feature-{branch}", host: "{name}.previews.example.com" }),
    state: "success",
    steps: [{ name: "Render manifests", status: "success", durationMs: 1200, detail: "29 objects" }],
    summary: "Preview ready",
    url: "https://feature-login.previews.example.com/",
    startedAt: "2026-11-01T10:00:00.000Z",
    trigger: "push by @octocat",
    ...over,
  };
}

/**
 * A small CommonMark reading of what is code: fenced blocks (a backtick fence of ≥ 3 closes only on a line of at
 * least as many backticks) and code spans (a run of n backticks closes on the next run of exactly n). Returns the
 * code contents and the remaining text, so tests can ask "does any of this escape the code?".
 */
function splitCode(md: string): { code: string[]; prose: string } {
  const code: string[] = [];
  const proseLines: string[] = [];
  const lines = md.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})[^`]*$/.exec(lines[i]!);
    if (!open) {
      proseLines.push(lines[i]!);
      continue;
    }
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !new RegExp(`^\`{${open[1]!.length},}\\s*$`).test(lines[j]!)) body.push(lines[j++]!);
    code.push(body.join("\n"));
    i = j;
  }
  let prose = "";
  const text = proseLines.join("\n");
  let k = 0;
  while (k < text.length) {
    const run = /^`+/.exec(text.slice(k));
    if (!run || (k > 0 && text[k - 1] === "\\")) {
      prose += text[k++];
      continue;
    }
    const n = run[0].length;
    const rest = text.slice(k + n);
    const close = new RegExp(`(?<!\`)\`{${n}}(?!\`)`).exec(rest);
    if (!close) {
      prose += run[0];
      k += n;
      continue;
    }
    let content = rest.slice(0, close.index);
    if (content.startsWith(" ") && content.endsWith(" ") && content.trim() !== "") content = content.slice(1, -1);
    code.push(content);
    k += n + close.index + n;
  }
  return { code, prose };
}

describe("escaping", () => {
  it("keeps a hostile branch name inside one code span, with nothing leaking into the Markdown", () => {
    const branches = ["`<img src=x onerror=alert(1)>`", "```", "a``b`", "<img src=x onerror=alert(1)>/```"];
    for (const branch of branches) {
      const md = renderComment(
        report(branch, { state: "failure", error: "```\n<img src=x onerror=alert(1)>\n```" }),
        OPTS,
      );
      const { code, prose } = splitCode(md);
      expect(code).toContain(branch);
      expect(prose).not.toMatch(/<img|onerror|<script/i);
      expect(md.split("\n")[0]).toBe(stickyMarker("acme/web#42"));
      expect(prose).toContain("<details><summary>Failure diagnosis</summary>");
      expect(prose).toContain("<details><summary>Commands</summary>");
      expect(prose.match(/<\/details>/g)).toHaveLength(2);
    }
  });

  it("code spans and blocks survive any text (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("`", "a", " ", "<", "|", "\n", "~"), maxLength: 40 }), (text) => {
        const flat = text.replace(/\s+/g, " ");
        if (flat.trim() === "") return;
        expect(splitCode(`x ${codeSpan(text)} y`).code).toEqual([flat]);
        const block = codeBlock(text);
        expect(splitCode(`before\n${block}\nafter`)).toEqual({
          code: [text.replace(/\n+$/, "")],
          prose: "before\nafter",
        });
      }),
    );
  });

  it("escapes inline text for HTML, Markdown and tables, and defuses mentions", () => {
    expect(escapeMarkdown("<script>alert('x')</script> & co")).toBe(
      "&lt;script&gt;alert\\('x'\\)&lt;/script&gt; &amp; co",
    );
    expect(escapeMarkdown("a|b *c* _d_ [e](f) ~g~")).toBe("a\\|b \\*c\\* \\_d\\_ \\[e\\]\\(f\\) \\~g\\~");
    expect(escapeMarkdown("ping @acme/admins\nnext line")).toBe("ping @\u200bacme/admins next line");
    expect(escapeMarkdown("PGPASSWORD=hunter2 postgres://app:s3cret@db:5432/x")).toBe(
      "PGPASSWORD=\\[REDACTED\\] postgres://app:\\[REDACTED\\]@\u200bdb:5432/x",
    );
  });

  it("drops links that are not http(s) and escapes their titles", () => {
    const md = renderComment(
      report("login", {
        links: [
          { title: "Docs *bold*", url: "https://feature-login.previews.example.com/docs (x)" },
          { title: "evil", url: "javascript:alert(1)" },
        ],
      }),
      OPTS,
    );
    expect(md).toContain("[Docs \\*bold\\*](https://feature-login.previews.example.com/docs%20%28x%29)");
    expect(md).not.toContain("javascript:");
    expect(md).toContain(" · evil");
  });
});

describe("rendering", () => {
  it("renders steps with status, timing and detail", () => {
    expect(
      stepsTable([
        { name: "Render manifests", status: "success", durationMs: 1200, detail: "29 objects" },
        { name: "Roll out", status: "failure", durationMs: 125_000, detail: "web 0/1 | ImagePullBackOff" },
        { name: "Health checks", status: "skipped" },
      ]),
    ).toBe(
      [
        "| Step | | Time | Detail |",
        "|---|---|---|---|",
        "| Render manifests | ✅ | 1.2 s | 29 objects |",
        "| Roll out | ❌ | 2 min 5 s | web 0/1 \\| ImagePullBackOff |",
        "| Health checks | ⏭️ |  |  |",
      ].join("\n"),
    );
  });

  it("lists every URL of the preview in the comment, the primary first, and drops one that is not http(s)", () => {
    const md = renderComment(
      report("login", {
        extraUrls: [
          { name: "results", url: "https://feature-login-results.previews.example.com/" },
          { name: "bad", url: "javascript:alert(1)" },
        ],
      }),
      OPTS,
    );
    const lines = md.split("\n").filter((l) => l.startsWith("- **URL"));
    expect(lines).toEqual([
      "- **URL:** https://feature-login.previews.example.com/",
      "- **URL `results`:** https://feature-login-results.previews.example.com/",
    ]);
  });

  it("shows URL, commit, namespace, database, expiry and commands in the comment, never a password", () => {
    const md = renderComment(
      report("login", {
        database: { name: "feature_login", status: "ready (password PGPASSWORD=abc123def)" },
        expiresAt: "2026-11-04T10:00:00.000Z",
      }),
      { ...OPTS, checkRunUrl: "https://github.com/acme/web/pull/42/checks" },
    );
    expect(md).toContain("### ✅ Preview ready");
    expect(md).toContain("- **URL:** https://feature-login.previews.example.com/");
    expect(md).toContain(`- **Commit:** [\`0123456\`](https://github.com/acme/web/commit/${SHA}) on \`login\``);
    expect(md).toContain("- **Namespace:** `feature-login`");
    expect(md).toContain("- **Database:** `feature_login` (ready \\(password PGPASSWORD=\\[REDACTED\\])");
    expect(md).toContain("- **Expires:** 2026-11-04 10:00:00 UTC");
    expect(md).toContain("[Checks](https://github.com/acme/web/pull/42/checks)");
    for (const cmd of [
      "/preview redeploy",
      "/preview destroy",
      "/preview status",
      "/preview extend 3d",
      "/preview help",
    ])
      expect(md).toContain(`\`${cmd}\``);
    expect(md).not.toContain("abc123def");
  });

  it("describes a healthy preview, not the run: no step timings, no trigger, so an unchanged redeploy renders the same text", () => {
    const first = renderComment(
      report("login", { trigger: "push by @octocat", steps: [{ name: "Apply", status: "success", durationMs: 1200 }] }),
      OPTS,
    );
    const again = renderComment(
      report("login", {
        trigger: "/preview redeploy by @hubot",
        steps: [{ name: "Apply", status: "success", durationMs: 3400 }],
      }),
      OPTS,
    );
    expect(again).toBe(first);
    expect(first).not.toContain("| Step |");
    expect(first).not.toContain("Triggered by");
  });

  it("lists what runs by digest: the tag it was found by, a short digest, and the branch it was reused from", () => {
    const d = (c: string) => `sha256:${c.repeat(64)}`;
    const md = renderComment(
      report("login", {
        images: [
          { repository: "ghcr.io/acme/web", tag: SHA, digest: d("a") },
          { repository: "ghcr.io/acme/api", tag: "main", digest: d("b"), reusedFrom: "main" },
        ],
      }),
      OPTS,
    );
    expect(md).toContain(
      [
        "- **Images:**",
        `  - \`ghcr.io/acme/web:${SHA}\` @ \`sha256:${"a".repeat(12)}\``,
        `  - \`ghcr.io/acme/api:main\` @ \`sha256:${"b".repeat(12)}\` — reused from \`main\``,
      ].join("\n"),
    );
  });

  it("keeps the steps, the trigger and the diagnosis in the comment of a failed deploy", () => {
    const md = renderComment(
      report("login", {
        state: "failure",
        summary: "Roll-out failed",
        steps: [{ name: "Roll out", status: "failure", durationMs: 1200, detail: "web 0/1" }],
        error: "rolling out: web 0/1 ready",
      }),
      OPTS,
    );
    expect(md).toContain("| Roll out | ❌ | 1.2 s | web 0/1 |");
    expect(md).toContain("- **Triggered by:** push by @\u200boctocat");
    expect(md).toContain("Failure diagnosis");
  });

  it("says what was removed after teardown", () => {
    const md = renderComment(
      report("login", {
        kind: "destroy",
        summary: "Preview removed",
        database: { name: "feature_login", status: "dropped" },
      }),
      OPTS,
    );
    expect(md).toContain("### ✅ Preview removed");
    expect(md).toContain("- namespace `feature-login`");
    expect(md).toContain("- database `feature_login` (dropped)");
    expect(md).toContain("- deployment environment `preview/feature-login` (marked inactive)");
    expect(md).not.toContain("**URL:**");
  });

  it("keeps the check run text within GitHub's limit with the fences intact", () => {
    const log = Array.from({ length: 20_000 }, (_, i) => `line ${i} \`\`\`\` PASSWORD=hunter2`).join("\n");
    const out = renderCheckRunOutput(
      report("login", {
        state: "failure",
        workloads: [
          {
            kind: "Deployment",
            name: "web",
            ready: false,
            summary: "0/1 ready: CrashLoopBackOff",
            diagnosis: `reason: CrashLoopBackOff\n${log}\nlast line`,
          },
          { kind: "StatefulSet", name: "db", ready: false, summary: "0/1 ready", diagnosis: log },
        ],
      }),
      OPTS,
    );
    expect(out.text!.length).toBeLessThanOrEqual(GITHUB_TEXT_LIMIT);
    const { code, prose } = splitCode(out.text!);
    expect(code).toHaveLength(4); // two fenced blocks, then the workload names' code spans
    expect(code.slice(2)).toEqual(["web", "db"]);
    expect(code[0]).toMatch(/^reason: CrashLoopBackOff/);
    expect(code[0]).toMatch(/last line$/);
    expect(code[0]).toContain("characters cut");
    expect(prose).not.toContain("line 1 ");
    expect(out.text).not.toContain("hunter2");
  });

  it("cuts the middle, keeping head and tail within the limit", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 500 }), fc.integer({ min: 60, max: 400 }), (text, max) => {
        const cut = truncateMiddle(text, max);
        expect(cut.length).toBeLessThanOrEqual(max);
        if (text.length <= max) expect(cut).toBe(text);
        else expect(cut.startsWith(text.slice(0, 5))).toBe(true);
      }),
    );
  });
});
