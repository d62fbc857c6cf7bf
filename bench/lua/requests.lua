-- GET one of BENCH_PATHS (space-separated) at random with BENCH_TOKEN as a bearer token;
-- with BENCH_POST_EVERY=N, every Nth request of a thread POSTs BENCH_BODY to BENCH_POST_PATH.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local paths = {}
for path in string.gmatch(os.getenv("BENCH_PATHS") or "", "%S+") do
  table.insert(paths, path)
end
local post_every = tonumber(os.getenv("BENCH_POST_EVERY") or "")
local post_path = os.getenv("BENCH_POST_PATH")
local body = os.getenv("BENCH_BODY")
local headers = {}
local token = os.getenv("BENCH_TOKEN")
if token then
  headers["Authorization"] = "Bearer " .. token
end
local post_headers = {["Content-Type"] = "application/json"}
for name, value in pairs(headers) do
  post_headers[name] = value
end
local sent = 0

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
end

function request()
  sent = sent + 1
  if post_every and sent % post_every == 0 then
    return wrk.format("POST", post_path, post_headers, body)
  end
  return wrk.format("GET", paths[math.random(#paths)], headers)
end
