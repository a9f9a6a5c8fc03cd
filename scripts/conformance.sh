#!/usr/bin/env bash
# Run the official MCP conformance suite (@modelcontextprotocol/conformance) against
# `lox24-mcp --sandbox --transport http`, served on a free loopback port.
#
#   scripts/conformance.sh                 # the default scenarios below
#   scripts/conformance.sh ping tools-list # just these
#
# From a fresh machine it needs bash, python3, npm, curl, timeout and flock. It installs the suite
# (and a Node 22 binary from npm, when the system Node is older) into $LOX24_TOOLS_DIR
# (default ${XDG_CACHE_HOME:-/tmp}/lox24-mcp-tooling), and the project into .venv when it is not
# there yet. Set LOX24_MCP_BIN to test another lox24-mcp executable.
#
# Exit status: 0 when every scenario passed, 1 otherwise. Results (the suite's checks.json per
# scenario, its output, the server's log) are kept in $CONFORMANCE_RESULTS_DIR
# (default: a new directory under $LOX24_TOOLS_DIR/results).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/npm-tools.sh
. "$SCRIPT_DIR/npm-tools.sh"

DEFAULT_SCENARIOS=(
  server-initialize
  ping
  tools-list
  prompts-list
  dns-rebinding-protection
  logging-set-level
  completion-complete
)
START_TIMEOUT="${START_TIMEOUT:-30}"        # seconds for the server to answer on /mcp
STOP_TIMEOUT="${STOP_TIMEOUT:-15}"          # seconds between SIGTERM and SIGKILL
SCENARIO_TIMEOUT="${SCENARIO_TIMEOUT:-120}" # seconds per scenario
PIP_TIMEOUT="${PIP_TIMEOUT:-900}"           # seconds for a first-time project install
HOST=127.0.0.1                              # loopback only

if [ "$#" -gt 0 ]; then
  scenarios=("$@")
else
  scenarios=("${DEFAULT_SCENARIOS[@]}")
fi

for tool in python3 curl; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

server_pid=""
stop_server() {
  [ -n "$server_pid" ] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$server_pid" 2>/dev/null && [ "$waited" -lt $((STOP_TIMEOUT * 10)) ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      echo "server did not stop within ${STOP_TIMEOUT}s; killing it" >&2
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools --------------------------------------------------------------------------------------
npm_tools_setup
conformance=("$NODE" "$TOOLS_BIN/conformance")
echo "==> conformance $("${conformance[@]}" --version) on Node $("$NODE" --version)"

server_bin="${LOX24_MCP_BIN:-$REPO/.venv/bin/lox24-mcp}"
if [ ! -x "$server_bin" ]; then
  [ -z "${LOX24_MCP_BIN:-}" ] || die "LOX24_MCP_BIN=$LOX24_MCP_BIN is not executable"
  echo "==> installing the project into $REPO/.venv" >&2
  [ -x "$REPO/.venv/bin/python" ] || python3 -m venv "$REPO/.venv"
  timeout "$PIP_TIMEOUT" "$REPO/.venv/bin/pip" install -q --disable-pip-version-check -e "$REPO" >&2 \
    || die "pip install -e $REPO failed"
fi
echo "==> $("$server_bin" --version)"

results="${CONFORMANCE_RESULTS_DIR:-$TOOLS_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)-$$}"
mkdir -p "$results"
server_log="$results/server.log"

# --- server -------------------------------------------------------------------------------------
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Start the server and wait until /mcp answers HTTP at all (any status: a bare GET gets a 4xx).
start_server() {
  port=$(free_port)
  url="http://$HOST:$port/mcp"
  # A bearer token would make the suite's unauthenticated requests fail with 401; the sandbox
  # ignores any real token and API URL.
  env -u LOX24_MCP_HTTP_TOKEN -u LOX24_API_TOKEN -u LOX24_BASE_URL \
    "$server_bin" --sandbox --transport http --host "$HOST" --port "$port" >"$server_log" 2>&1 </dev/null &
  server_pid=$!
  local deadline=$((SECONDS + START_TIMEOUT)) code
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$server_pid" 2>/dev/null || { wait "$server_pid" 2>/dev/null || true; server_pid=""; return 1; }
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
    if [ "$code" != "000" ] && kill -0 "$server_pid" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  echo "server did not answer on $url within ${START_TIMEOUT}s" >&2
  stop_server
  return 1
}

started=false
for attempt in 1 2 3; do # a picked port can be taken before the server binds it
  if start_server; then
    started=true
    break
  fi
  echo "server start attempt $attempt failed; its log:" >&2
  sed 's/^/    /' "$server_log" >&2
done
$started || die "could not start lox24-mcp"
echo "==> lox24-mcp (pid $server_pid) serving $url"

# --- scenarios ----------------------------------------------------------------------------------
strip_ansi() { sed 's/\x1b\[[0-9;]*m//g'; }

# "total success failure warning" from a checks.json
count_checks() {
  "$NODE" -e '
    const checks = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const n = (s) => checks.filter((c) => c.status === s).length;
    console.log(checks.length, n("SUCCESS"), n("FAILURE"), n("WARNING"));
  ' "$1"
}

declare -a summary=()
failed=0
for scenario in "${scenarios[@]}"; do
  echo
  echo "==> scenario $scenario"
  out="$results/$scenario"
  mkdir -p "$out"
  rc=0
  timeout "$SCENARIO_TIMEOUT" "${conformance[@]}" server --url "$url" --scenario "$scenario" -o "$out" \
    >"$out/output.raw" 2>&1 || rc=$?
  strip_ansi <"$out/output.raw" >"$out/output.txt"
  rm -f "$out/output.raw"
  sed 's/^/    /' "$out/output.txt"

  checks_file=$(find "$out" -name checks.json -print -quit)
  total=0 ok=0 bad=0 warn=0
  if [ -n "$checks_file" ]; then
    read -r total ok bad warn < <(count_checks "$checks_file") || true
  fi
  line=$(grep -m1 -E '^Passed: ' "$out/output.txt" || true)
  if [ "$rc" -eq 0 ] && [ "$total" -gt 0 ] && [ "$bad" -eq 0 ]; then
    verdict=PASS
  else
    verdict=FAIL
    failed=$((failed + 1))
    [ "$rc" -ne 124 ] || line="timed out after ${SCENARIO_TIMEOUT}s"
  fi
  summary+=("$(printf '%-4s  %-26s %-44s [checks.json: %s/%s SUCCESS, %s FAILURE, %s WARNING]' \
    "$verdict" "$scenario" "${line:-no checks recorded (exit $rc)}" "$ok" "$total" "$bad" "$warn")")
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "lox24-mcp exited during '$scenario'; its log:" >&2
    sed 's/^/    /' "$server_log" >&2
    die "server died"
  fi
done

echo
echo "==> summary (conformance $CONFORMANCE_VERSION against $url)"
printf '  %s\n' "${summary[@]}"
echo "  results: $results"
if [ "$failed" -gt 0 ]; then
  echo "==> $failed of ${#scenarios[@]} scenarios FAILED"
  exit 1
fi
echo "==> all ${#scenarios[@]} scenarios passed"
