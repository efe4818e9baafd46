/**
 * A YAML syntax error on one line, for messages a user reads (a check run, a comment, the CLI): the `yaml` package's
 * pretty error is "… at line 5, column 1:" then a frame of the text and a caret line; the line the caret points at
 * is quoted instead of the frame (cut to 120 characters). Used for manifests (render/manifests.ts) and for
 * `.github/preview.yml` (config.ts). No imports: the sandboxed render worker reaches it through manifests.ts.
 */
export function yamlErrorLine(message: string): string {
  const [head = "", ...frame] = message.split("\n");
  const caret = frame.findLastIndex((l) => /^\s*\^+\s*$/.test(l));
  const at = caret > 0 ? frame[caret - 1]! : frame.find((l) => l.trim() !== "");
  const quoted = at?.trim() ? ` ${JSON.stringify(at.length > 120 ? `${at.slice(0, 120)}…` : at)}` : "";
  return `${head.replace(/:\s*$/, "")}${quoted ? `:${quoted}` : ""}`;
}
