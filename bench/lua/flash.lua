-- Scenario 7, the flash sale: every request a new customer (the next bearer token of
-- BENCH_TOKENS_FILE, one a line, each thread its own share) POSTs BENCH_BODY to
-- BENCH_POST_PATH; the answers are counted by status and printed as one FLASH_STATUSES line.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local body = os.getenv("BENCH_BODY")
local path = os.getenv("BENCH_POST_PATH")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local tokens = {}
local next_token = 1
statuses = {}

function init(args)
  local all = {}
  for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
    table.insert(all, line)
  end
  -- Thread k of n takes tokens k+1, k+1+n, …: no two threads send the same customer.
  local n = tonumber(os.getenv("BENCH_THREADS") or "2")
  for i = id + 1, #all, n do
    table.insert(tokens, all[i])
  end
end

function request()
  local token = tokens[next_token]
  next_token = next_token % #tokens + 1
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, response_body)
  statuses[status] = (statuses[status] or 0) + 1
end

local report_done = done

function done(summary, latency, requests)
  report_done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, count in pairs(counts) do
      total[status] = (total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  io.write("FLASH_STATUSES {" .. table.concat(parts, ", ") .. "}\n")
end
