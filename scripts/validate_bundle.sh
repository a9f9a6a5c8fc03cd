#!/usr/bin/env bash
# Validate the MCP Bundle manifest with the official CLI (@anthropic-ai/mcpb).
#
#   scripts/validate_bundle.sh                  # validates manifest.json at the repository root
#   scripts/validate_bundle.sh path/to/manifest.json
#   scripts/validate_bundle.sh --pack           # also packs a clean copy into a temporary .mcpb
#   scripts/validate_bundle.sh --pack --out F   # ... and keeps it as F (.ci/run then runs it)
#
# From a fresh machine it needs bash, npm, timeout and flock (and git for --pack). It installs
# mcpb (and a Node 22 binary from npm, when the system Node is older) into $LOX24_TOOLS_DIR
# (default ${XDG_CACHE_HOME:-/tmp}/lox24-mcp-tooling). Exit status: mcpb's (0 = valid).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/npm-tools.sh
. "$SCRIPT_DIR/npm-tools.sh"

MCPB_TIMEOUT="${MCPB_TIMEOUT:-120}" # seconds per mcpb command

pack=false
out=""
manifest="$REPO/manifest.json"
while [ $# -gt 0 ]; do
  arg=$1
  shift
  case "$arg" in
    --pack) pack=true ;;
    --out)
      [ $# -gt 0 ] || die "--out needs a file name"
      out=$1
      shift
      ;;
    -h | --help)
      sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    -*) die "unknown option: $arg" ;;
    *) manifest=$arg ;;
  esac
done
[ -f "$manifest" ] || die "no such file: $manifest"

scratch=""
cleanup() {
  [ -z "$scratch" ] || rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

npm_tools_setup
mcpb=("$NODE" "$TOOLS_BIN/mcpb")
echo "==> mcpb $("${mcpb[@]}" --version) on Node $("$NODE" --version)"

echo "==> mcpb validate $manifest"
rc=0
timeout "$MCPB_TIMEOUT" "${mcpb[@]}" validate "$manifest" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "==> INVALID (mcpb exit $rc)"
  exit "$rc"
fi
echo "==> valid"

if $pack; then
  command -v git >/dev/null || die "--pack needs git"
  [ "$manifest" -ef "$REPO/manifest.json" ] || die "--pack packs the repository, so it uses its manifest.json"
  scratch=$(mktemp -d)
  mkdir -p "$scratch/src" "$scratch/out"
  # Only what git would ship (tracked plus untracked-but-not-ignored files): no .venv, no caches.
  (cd "$REPO" && git ls-files -z --cached --others --exclude-standard) >"$scratch/files"
  while IFS= read -r -d '' file; do
    [ -f "$REPO/$file" ] || continue # tracked but deleted in the work tree
    mkdir -p "$scratch/src/$(dirname "$file")"
    cp -p "$REPO/$file" "$scratch/src/$file"
  done <"$scratch/files"
  echo "==> mcpb pack (a clean copy of the repository)"
  timeout "$MCPB_TIMEOUT" "${mcpb[@]}" pack "$scratch/src" "$scratch/out/lox24-mcp.mcpb" | tail -n 12
  timeout "$MCPB_TIMEOUT" "${mcpb[@]}" info "$scratch/out/lox24-mcp.mcpb"
  if [ -n "$out" ]; then
    cp "$scratch/out/lox24-mcp.mcpb" "$out"
    echo "==> kept as $out"
  fi
fi
