/** The list: every preview the visitor can read, then the backup targets they may see. */
import type { StepRecord } from "../../services/shared/run-report.js";
import { html, safeUrl, type SafeHtml } from "./html.js";
import { bytes, duration, relative } from "./format.js";
import type { BackupTargetView, DeploySummary, PagePreview } from "../../services/shared/page-data.js";

export interface ListView {
  previews: PagePreview[];
  backups: BackupTargetView[];
  now: number;
  /** GitHub's web base URL (github.com or the Enterprise Server host), for commit and PR links. */
  githubWeb: string;
}

export function previewPath(p: { owner: string; repo: string; number: number }): string {
  return `/previews/${encodeURIComponent(p.owner)}/${encodeURIComponent(p.repo)}/${p.number}`;
}

export function stateBadge(state: string): SafeHtml {
  const cls = /^[a-z_]+$/.test(state) ? state : "unknown";
  return html`<span class="state s-${cls}">${state.replace(/_/g, " ")}</span>`;
}

export function commitLink(p: { owner: string; repo: string; sha?: string }, web: string): SafeHtml {
  if (!p.sha || !/^[0-9a-f]{7,40}$/i.test(p.sha)) return html`—`;
  const href = `${web}/${encodeURIComponent(p.owner)}/${encodeURIComponent(p.repo)}/commit/${p.sha}`;
  return html`<a href="${href}"><code>${p.sha.slice(0, 7)}</code></a>`;
}

function urls(p: PagePreview): SafeHtml {
  const all = [...(p.url ? [{ title: "", url: p.url }] : []), ...(p.links ?? [])]
    .map((l) => ({ title: l.title, url: safeUrl(l.url) }))
    .filter((l): l is { title: string; url: string } => Boolean(l.url));
  if (all.length === 0) return html`—`;
  return html`${all.map(
    (l, i) => html`${i > 0 ? html`<br />` : ""}<a href="${l.url}">${l.title || new URL(l.url).host}</a>`,
  )}`;
}

function totalMs(d: DeploySummary): number | undefined {
  const a = Date.parse(d.startedAt);
  const b = d.finishedAt ? Date.parse(d.finishedAt) : NaN;
  if (Number.isFinite(a) && Number.isFinite(b)) return b - a;
  const sum = d.steps.reduce((s, x) => s + (x.durationMs ?? 0), 0);
  return sum > 0 ? sum : undefined;
}

function stepLine(s: StepRecord): SafeHtml {
  const mark = s.status === "success" ? "" : ` (${s.status})`;
  return html`<li>
    ${s.name}${mark}${s.durationMs !== undefined ? html` <span class="muted">${duration(s.durationMs)}</span>` : ""}
  </li>`;
}

function lastDeploy(d: DeploySummary | undefined, now: number): SafeHtml {
  if (!d) return html`—`;
  return html`${stateBadge(d.state)}
    <span class="muted">${duration(totalMs(d))}, ${relative(d.finishedAt ?? d.startedAt, now)}</span>
    <ol class="steps">
      ${d.steps.map(stepLine)}
    </ol>`;
}

function sleep(p: PagePreview, now: number): SafeHtml {
  if (!p.sleep) return html`—`;
  return p.sleep.asleep
    ? html`asleep${p.sleep.since ? html`, ${relative(p.sleep.since, now)}` : ""}`
    : html`awake${p.sleep.since ? html`, ${relative(p.sleep.since, now)}` : ""}`;
}

function row(p: PagePreview, v: ListView): SafeHtml {
  return html`<tr>
    <th scope="row">
      <a href="${previewPath(p)}">${p.owner}/${p.repo} #${p.number}</a
      >${p.title ? html`<br /><span class="muted">${p.title}</span>` : ""}
    </th>
    <td>${stateBadge(p.state)}${p.reason ? html`<br /><span class="muted">${p.reason}</span>` : ""}</td>
    <td>${urls(p)}</td>
    <td class="num">${commitLink(p, v.githubWeb)}</td>
    <td class="num">${relative(p.createdAt ?? p.updatedAt, v.now)}</td>
    <td class="num">${relative(p.expiresAt, v.now)}</td>
    <td>${p.database ? html`<code>${p.database}</code>` : "—"}</td>
    <td>${lastDeploy(p.lastDeploy, v.now)}</td>
    <td>${sleep(p, v.now)}</td>
  </tr>`;
}

function backupsSection(targets: BackupTargetView[], now: number): SafeHtml {
  if (targets.length === 0)
    return html`<h2 id="backups">Backups</h2>
      <p class="muted">
        No backup targets you can see. A target is shown to preview-bot admins and to readers of one of its allowed
        repositories.
      </p>`;
  return html`<h2 id="backups">Backups</h2>
    <div class="scroll" role="region" aria-labelledby="backups" tabindex="0">
      <table>
        <caption>
          Backup targets you can see
        </caption>
        <thead>
          <tr>
            <th scope="col">Target</th>
            <th scope="col">Last success</th>
            <th scope="col">Size</th>
            <th scope="col">Verified</th>
            <th scope="col">Next run</th>
          </tr>
        </thead>
        <tbody>
          ${targets.map(
            (t) =>
              html`<tr>
                <th scope="row">
                  <code>${t.name}</code
                  >${t.lastError ? html`<br /><span class="s-failure">Last run failed: ${t.lastError}</span>` : ""}
                </th>
                <td class="num">${relative(t.lastSuccess, now)}</td>
                <td class="num">${bytes(t.sizeBytes)}</td>
                <td class="num">${t.verified ? relative(t.verified, now) : "not verified"}</td>
                <td class="num">${relative(t.nextRun, now)}</td>
              </tr> `,
          )}
        </tbody>
      </table>
    </div>`;
}

export function listBody(v: ListView): SafeHtml {
  const repos = new Set(v.previews.map((p) => `${p.owner}/${p.repo}`.toLowerCase())).size;
  const table =
    v.previews.length === 0
      ? html`<p>No previews of repositories you can read.</p>`
      : html`<div class="scroll" role="region" aria-labelledby="previews-caption" tabindex="0">
          <table>
            <caption id="previews-caption">
              ${v.previews.length} ${v.previews.length === 1 ? "preview" : "previews"} in ${repos}
              ${repos === 1 ? "repository" : "repositories"}
            </caption>
            <thead>
              <tr>
                <th scope="col">Preview</th>
                <th scope="col">State</th>
                <th scope="col">URL</th>
                <th scope="col">Commit</th>
                <th scope="col">Age</th>
                <th scope="col">Expires</th>
                <th scope="col">Database</th>
                <th scope="col">Last deploy</th>
                <th scope="col">Sleep</th>
              </tr>
            </thead>
            <tbody>
              ${v.previews.map((p) => row(p, v))}
            </tbody>
          </table>
        </div>`;
  return html`<h1>Previews you can read</h1>
    ${table} ${backupsSection(v.backups, v.now)}`;
}
