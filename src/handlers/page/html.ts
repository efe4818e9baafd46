/**
 * HTML for the pages: a tagged template that escapes every interpolated value unless it is already HTML made by this
 * template, one small stylesheet (allowed by its hash in a strict Content-Security-Policy: no script, no other
 * source), and the response headers every page gets.
 */
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

function render(v: unknown): string {
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join("");
  if (v === undefined || v === null || v === false) return "";
  return escapeHtml(String(v));
}

/** `html\`<p>${text}</p>\``: text is escaped; nested `html` results and arrays of them are kept. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? "");
  return new SafeHtml(out);
}

/** An http(s) URL as given, or undefined for anything else (`javascript:`, relative junk). */
export function safeUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:" ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}

const CSS = `
:root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--bg:#fff;--line:#d1d9e0;--accent:#0969da;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--chip:#f6f8fa}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--line:#3d444d;--accent:#4493f8;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--chip:#151b23}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:104rem;margin:0 auto;padding:.75rem 1rem}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:baseline;justify-content:space-between;border-bottom:1px solid var(--line)}
header .site{font-weight:600;font-size:1.1rem}
a{color:var(--accent)}
a:focus-visible,[tabindex]:focus-visible{outline:3px solid var(--accent);outline-offset:2px;border-radius:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:.5rem;background:var(--bg);padding:.25rem .5rem}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}h3{font-size:1rem;margin:1rem 0 .25rem}
.muted{color:var(--muted)}
.scroll{overflow-x:auto;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%}
caption{text-align:left;padding:.5rem .75rem;color:var(--muted)}
th,td{text-align:left;vertical-align:top;padding:.45rem .75rem;border-top:1px solid var(--line)}
thead th{background:var(--chip);white-space:nowrap;border-top:0}
td.num{white-space:nowrap}
.state{display:inline-block;padding:0 .45rem;border-radius:1rem;border:1px solid currentColor;font-size:.85rem;white-space:nowrap}
.s-ready,.s-success{color:var(--ok)}.s-failed,.s-failure{color:var(--bad)}.s-deploying,.s-queued,.s-in_progress,.s-running{color:var(--warn)}
ol.steps{display:flex;flex-wrap:wrap;gap:0 .75rem;margin:.2rem 0 0;padding:0;list-style:none;font-size:.8rem;min-width:14rem}
th[scope=row]{min-width:12rem}th .muted{font-weight:400}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem}
pre{background:var(--chip);border:1px solid var(--line);border-radius:6px;padding:.75rem;overflow:auto;max-height:32rem;white-space:pre-wrap;word-break:break-word}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;word-break:break-word}
@media (max-width:40rem){dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.5rem}th,td{padding:.4rem .5rem}}
`.trim();

const CSS_HASH = createHash("sha256").update(CSS).digest("base64");
/** Made outside the page template: the hash covers the exact text between the tags, which a formatter must not touch. */
const STYLE = new SafeHtml(`<style>${CSS}</style>`);

/** The policy every page is served with: nothing but the stylesheet above. */
export const CONTENT_SECURITY_POLICY = `default-src 'none'; style-src 'sha256-${CSS_HASH}'; img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

export function securityHeaders(): Record<string, string> {
  return {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
  };
}

export interface Layout {
  title: string;
  /** Signed-in login, shown in the header with a sign-out link. */
  login?: string;
  body: SafeHtml;
}

/** A whole page, sent with the security headers. */
export function sendPage(
  res: ServerResponse,
  status: number,
  l: Layout,
  headers: Record<string, string | string[]> = {},
): void {
  const doc = html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${l.title} · preview-bot</title>
        ${STYLE}
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <a class="site" href="/previews">preview-bot</a>
          <nav aria-label="Account">
            ${l.login ? html`Signed in as <strong>${l.login}</strong> · <a href="/auth/signout">Sign out</a>` : html`<a href="/auth/signin">Sign in with GitHub</a>`}
          </nav>
        </header>
        <main id="main">${l.body}</main>
        <footer class="muted">Read-only. Commands stay with <code>/preview</code> in pull requests and Slack.</footer>
      </body>
    </html> `;
  res
    .writeHead(status, { "content-type": "text/html; charset=utf-8", ...securityHeaders(), ...headers })
    .end(doc.value);
}
