-- wrk script for bench_teams.py: closed-loop 2026-07-28 `tools/call` load.
--
-- Every connection is one client: it sends a call, waits for the answer, sends the next (wrk's model).
-- The body is what `mcp.Client` sends for the call, with a fresh JSON-RPC id each time. An answer counts
-- as an error unless it is HTTP 200 with a JSON-RPC result that is not a tool error. After CALLS answers
-- the script prints DONE on stdout; bench_teams.py then stops wrk with SIGINT, and `done` prints one
-- RESULT line (microseconds). Settings come from the environment: TOOL, ARGS (JSON), CALLS.

local tool = os.getenv("TOOL") or "list_groups"
local arguments = os.getenv("ARGS") or "{}"
local limit = tonumber(os.getenv("CALLS") or "0")
local threads = {}
local counter = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2026-07-28"
wrk.headers["Mcp-Method"] = "tools/call"
wrk.headers["Mcp-Name"] = tool

local meta = '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
  .. '"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"0"},'
  .. '"io.modelcontextprotocol/clientCapabilities":{}}'

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  errors = 0
  answers = 0
end

function request()
  counter = counter + 1
  local body = '{"jsonrpc":"2.0","id":' .. counter .. ',"method":"tools/call","params":{"name":"' .. tool
    .. '","arguments":' .. arguments .. ',' .. meta .. '}}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  answers = answers + 1
  if status ~= 200 or not string.find(body, '"result":', 1, true)
      or string.find(body, '"isError":true', 1, true) then
    errors = errors + 1
  end
  if answers == limit then
    io.write("DONE\n")
    io.flush()
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("errors")
  end
  io.write(string.format("RESULT requests=%d errors=%d socket_errors=%d duration_us=%d p50_us=%d p99_us=%d\n",
    summary.requests, failed,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
