-- wrk script: POST /v1/me/code as several citizens; each thread appends the codes it gets to
-- its own file. Environment: CITIZEN_TOKENS (comma-separated bearers), TOKENS_DIR.
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  citizens = {}
  for bearer in string.gmatch(os.getenv("CITIZEN_TOKENS"), "[^,]+") do
    table.insert(citizens, bearer)
  end
  out = io.open(os.getenv("TOKENS_DIR") .. "/" .. id .. ".txt", "w")
  n = 0
end

function request()
  n = n + 1
  local headers = {["Authorization"] = "Bearer " .. citizens[(n % #citizens) + 1]}
  return wrk.format("POST", "/v1/me/code", headers, "")
end

function response(status, headers, body)
  if status == 200 then
    local token = string.match(body, '"token":"([^"]+)"')
    if token then out:write(token, "\n") end
  end
end
