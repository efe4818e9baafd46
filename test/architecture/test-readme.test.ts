/**
 * test/README.md says where each module's tests live: its table must list every test file there is, and name none
 * that is not. A new test file (or a moved one) fails here until the README says where it is.
 */
import { describe, expect, it } from "@jest/globals";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../support/paths.js";

const TEST = path.join(ROOT, "test");

/** `test/dir/name` for every `*.test.ts` under test/. */
function testFiles(dir = TEST): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "fixtures" ? [] : testFiles(full);
    return e.name.endsWith(".test.ts") ? [path.relative(ROOT, full).slice(0, -".test.ts".length)] : [];
  });
}

/** The same, from the README's table: rows `| \`test/dir/\` | what | \`a\`, \`b\` | real parts |`. */
function listed(readme: string): string[] {
  const rows = readme.split("\n").filter((l) => /^\|\s*`test\/[^`]*`\s*\|/.test(l));
  return rows.flatMap((row) => {
    const cells = row.split("|").map((c) => c.trim());
    const dir = /`([^`]+)`/.exec(cells[1]!)![1]!;
    return [...cells[3]!.matchAll(/`([^`]+)`/g)].map((m) => `${dir}${m[1]}`);
  });
}

describe("test/README.md", () => {
  const readme = readFileSync(path.join(TEST, "README.md"), "utf8");

  it("lists every test file under its folder, and no file that does not exist", () => {
    const inReadme = listed(readme);
    expect(inReadme.length).toBeGreaterThan(50);
    expect(new Set(inReadme).size).toBe(inReadme.length);
    expect([...inReadme].sort()).toEqual(testFiles().sort());
  });
});
