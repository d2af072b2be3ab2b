-- wrk script: POST /v1/codes/verify, each minted code exactly once.
-- Environment: TOKENS_DIR (thread N reads N.txt, written by mint.lua), TERMINAL_TOKEN, SCENE.
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  tokens = {}
  for line in io.lines(os.getenv("TOKENS_DIR") .. "/" .. id .. ".txt") do
    table.insert(tokens, line)
  end
  next_token = 1
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("TERMINAL_TOKEN")
end

function request()
  local token = tokens[next_token]
  if token == nil then
    wrk.thread:stop()  -- every code this thread minted is spent
    token = tokens[#tokens]
  end
  next_token = next_token + 1
  return wrk.format(nil, "/v1/codes/verify", nil,
    '{"token":"' .. token .. '","scene":"' .. os.getenv("SCENE") .. '"}')
end

function done(summary, latency, requests)
  io.stderr:write(string.format(
    '{"requests":%d,"seconds":%.3f,"p50_ms":%.3f,"p99_ms":%.3f,"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
