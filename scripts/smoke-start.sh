#!/usr/bin/env bash
# Smoke test of the production entry point, run by .ci/run after `npm run build`. It runs what the Dockerfile's CMD
# runs (`node dist/server.js`, through scripts/node.sh so Node >= 22 is used) the way a first-time user would: no
# GitHub App credentials, an empty env file, a free port. It checks that
#   - GET /healthz answers 200 (bounded wait),
#   - GET /readyz answers 503 (not registered yet is not ready),
#   - GET /probot serves the "Register GitHub App" page,
#   - GET /metrics answers 200 with preview_bot_ metrics,
#   - the log tells the user what to do next (open /probot),
#   - SIGTERM stops it cleanly (exit 0) within the grace period,
# and exits non-zero with a message saying which check failed.
set -euo pipefail
cd "$(dirname "$0")/.."

STARTUP_TIMEOUT=${SMOKE_STARTUP_TIMEOUT:-30}
STOP_TIMEOUT=${SMOKE_STOP_TIMEOUT:-35}

if [ ! -f dist/server.js ]; then
  echo "smoke-start: dist/server.js is missing; run 'npm run build' first" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/preview-bot-smoke.XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "smoke-start: FAILED: $*" >&2
  if [ -s "$tmp/server.log" ]; then
    echo "---- server log (last 40 lines) ----" >&2
    tail -n 40 "$tmp/server.log" >&2
  fi
  exit 1
}

# GET a URL with the same Node the server uses (no curl needed); prints the status, writes the body to $2.
http_get() {
  sh scripts/node.sh -e '
    const [url, out] = process.argv.slice(1);
    fetch(url, { signal: AbortSignal.timeout(5000), redirect: "manual" })
      .then(async (r) => { require("node:fs").writeFileSync(out, await r.text()); console.log(r.status); })
      .catch(() => { console.log(0); });
  ' "$1" "$2"
}

: >"$tmp/empty.env"
# A clean environment: no GitHub App or Slack credentials, no kubeconfig, nothing from the caller's .env.
env -i \
  PATH="$PATH" HOME="$tmp" \
  PORT=0 HOST=127.0.0.1 LOG_LEVEL=info NODE_ENV=production \
  ENV_FILE="$tmp/empty.env" WORK_DIR="$tmp/work" \
  sh scripts/node.sh dist/server.js >"$tmp/server.log" 2>&1 &
pid=$!

# PORT=0 lets the OS pick a free port; the server logs the URL it is on.
port=""
deadline=$((SECONDS + STARTUP_TIMEOUT))
while [ -z "$port" ]; do
  kill -0 "$pid" 2>/dev/null || fail "the server exited during startup"
  [ "$SECONDS" -lt "$deadline" ] || fail "the server did not log its URL within ${STARTUP_TIMEOUT} s"
  port=$(grep -o 'http://localhost:[0-9]*' "$tmp/server.log" 2>/dev/null | head -n 1 | sed 's/.*://' || true)
  [ -n "$port" ] || sleep 0.2
done
base="http://127.0.0.1:$port"

status=0
while :; do
  status=$(http_get "$base/healthz" "$tmp/healthz")
  [ "$status" = 200 ] && break
  kill -0 "$pid" 2>/dev/null || fail "the server exited before /healthz answered"
  [ "$SECONDS" -lt "$deadline" ] || fail "GET /healthz did not answer 200 within ${STARTUP_TIMEOUT} s (last status: $status)"
  sleep 0.2
done
grep -q '"status":"ok"' "$tmp/healthz" || fail "GET /healthz body is not {\"status\":\"ok\"}: $(head -c 200 "$tmp/healthz")"

status=$(http_get "$base/readyz" "$tmp/readyz")
[ "$status" = 503 ] || fail "GET /readyz answered $status; an unregistered bot must not be ready (503)"

status=$(http_get "$base/probot" "$tmp/probot")
[ "$status" = 200 ] || fail "GET /probot answered $status, expected 200 (the GitHub App registration page)"
grep -q 'Register GitHub App' "$tmp/probot" || fail "GET /probot does not offer the 'Register GitHub App' button"
grep -q 'name="manifest"' "$tmp/probot" || fail "GET /probot does not carry the app manifest (app.yml) in its form"

status=$(http_get "$base/metrics" "$tmp/metrics")
[ "$status" = 200 ] || fail "GET /metrics answered $status, expected 200"
grep -q '^preview_bot_' "$tmp/metrics" || fail "GET /metrics has no preview_bot_ metrics"

grep -q "/probot" "$tmp/server.log" || fail "the log does not tell the user to open /probot"
grep -q "Register GitHub App" "$tmp/server.log" || fail "the log does not say how to register the GitHub App"

kill -TERM "$pid"
deadline=$((SECONDS + STOP_TIMEOUT))
while kill -0 "$pid" 2>/dev/null; do
  [ "$SECONDS" -lt "$deadline" ] || fail "the server did not stop within ${STOP_TIMEOUT} s of SIGTERM"
  sleep 0.2
done
code=0
wait "$pid" || code=$?
pid=""
[ "$code" = 0 ] || fail "the server exited with status $code after SIGTERM (expected a clean 0)"

echo "smoke-start: ok (healthz 200, readyz 503, /probot registration page, /metrics, next-step log, clean SIGTERM exit) on port $port"
