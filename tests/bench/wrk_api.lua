-- wrk's side of bench_api.py: per-request bodies for validate / redeem, status counts.
--
-- wrk <url> -s wrk_api.lua -- <case> <data file> <first line> <run id> <api key> <basket>
--     <threads>
--   validate       lines "code<TAB>customer", a random line per request
--   redeem         lines "code<TAB>customer", each used once, from <first line> on
--   redeem_shared  lines "code<TAB>customer", the line's code (the shared one) with a
--                  random line's customer
-- done() prints one line: BENCH {json}, read back by bench_api.py.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

local case, lines, next_line, step, run, basket
-- Globals: done() reads them from each thread with thread:get.
statuses, issued = {}, 0

function init(args)
  case, run, basket = args[1], args[4], args[6]
  lines = {}
  for line in io.lines(args[2]) do
    local code, customer = line:match("([^\t]+)\t([^\t]+)")
    lines[#lines + 1] = { code, customer }
  end
  -- Threads take interleaved lines, so no two send the same single-use code.
  step = tonumber(args[7])
  next_line = tonumber(args[3]) + id - 1
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[5]
  math.randomseed(os.time() + id)
end

local function body(code, customer, order)
  local text = '{"code":"' .. code .. '","customer_id":"' .. customer .. '"'
  if order then
    text = text .. ',"order_id":"' .. order .. '"'
  end
  return text .. ',"order":' .. basket .. '}'
end

function request()
  issued = issued + 1
  local order = run .. "-" .. id .. "-" .. issued
  if case == "validate" then
    local pick = lines[math.random(#lines)]
    return wrk.format(nil, nil, nil, body(pick[1], pick[2], nil))
  elseif case == "redeem" then
    local pick = lines[next_line]
    next_line = next_line + step
    if pick == nil then
      statuses["exhausted"] = (statuses["exhausted"] or 0) + 1
      pick = lines[1]
    end
    return wrk.format(nil, nil, nil, body(pick[1], pick[2], order))
  else
    local pick = lines[math.random(#lines)]
    return wrk.format(nil, nil, nil, body(lines[1][1], pick[2], order))
  end
end

function response(status, headers, text)
  local key = tostring(status)
  if case == "validate" and status == 200 and not text:find('"valid":true', 1, true) then
    key = "200-not-valid"
  end
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local merged, issued_total = {}, 0
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("statuses")) do
      merged[key] = (merged[key] or 0) + n
    end
    issued_total = issued_total + thread:get("issued")
  end
  local parts = {}
  for key, n in pairs(merged) do
    parts[#parts + 1] = string.format('"%s":%d', key, n)
  end
  io.write(string.format(
    'BENCH {"requests":%d,"issued":%d,"seconds":%.6f,"p50_us":%d,"p99_us":%d,'
      .. '"socket_errors":%d,"statuses":{%s}}\n',
    summary.requests, issued_total, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    table.concat(parts, ",")))
end
