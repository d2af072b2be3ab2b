-- wrk script: POST a JSON body to PATH with a bearer token. If the body contains {n}, each
-- request replaces it with a value unique across threads (for idempotency request ids); if
-- it contains {s}, with the next of SUBJECTS (comma-separated), in turn.
-- Environment: PATH_TO, BEARER, BODY, SUBJECTS (optional).
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  wrk.method = "POST"
  wrk.path = os.getenv("PATH_TO")
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BEARER")
  template = os.getenv("BODY")
  subjects = {}
  for subject in string.gmatch(os.getenv("SUBJECTS") or "", "[^,]+") do
    table.insert(subjects, subject)
  end
  n = 0
  stamp = tostring(os.time())
end

function request()
  n = n + 1
  local body = string.gsub(template, "{n}", stamp .. "-" .. id .. "-" .. n)
  if #subjects > 0 then
    body = string.gsub(body, "{s}", subjects[((n * 2 + id) % #subjects) + 1])
  end
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  io.stderr:write(string.format(
    '{"requests":%d,"seconds":%.3f,"p50_ms":%.3f,"p99_ms":%.3f,"non_2xx":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, summary.errors.status))
end
