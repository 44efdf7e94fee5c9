-- wrk script for `deno task bench` (bench/bench.ts sets the environment).
--
-- BENCH_COOKIES       file with one session id per line: the requests carry them
--                     (a returning visitor); unset or empty = no cookie (a first visit)
-- BENCH_COOKIE_NAME   cookie name (default sessionId)
-- BENCH_THREADS       wrk's -t, so each thread takes its own share of the ids
-- BENCH_METHOD, BENCH_BODY, BENCH_CONTENT_TYPE   optional, for POST scenarios
--
-- wrk has no per-connection hook, so "one session per connection" is approximated: thread t
-- takes the ids whose index is t modulo the thread count and sends them round-robin. With
-- as many ids as connections, each id then has about one request in flight at a time, like
-- 50 browsers each waiting for its own page. The requests are built once, in init().
--
-- done() prints one machine-readable line that bench.ts parses:
--   BENCH_JSON {"requests":..,"duration_us":..,"status":..,"connect":..,...}

local next_thread_id = 0

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
end

local requests = nil
local n = 0
local i = 0

function init(args)
  local method = os.getenv("BENCH_METHOD")
  if method == "" then method = nil end
  local body = os.getenv("BENCH_BODY")
  if body == "" then body = nil end
  local content_type = os.getenv("BENCH_CONTENT_TYPE")
  local file = os.getenv("BENCH_COOKIES")
  local name = os.getenv("BENCH_COOKIE_NAME") or "sessionId"
  local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
  local function headers(cookie)
    local h = {}
    for k, v in pairs(wrk.headers) do h[k] = v end
    if content_type and content_type ~= "" then h["Content-Type"] = content_type end
    if cookie then h["Cookie"] = name .. "=" .. cookie end
    return h
  end
  if not file or file == "" then
    if method or body then
      requests = { wrk.format(method, nil, headers(nil), body) }
      n = 1
    end
    return
  end
  requests = {}
  local index = 0
  for line in io.lines(file) do
    if line ~= "" then
      if index % threads == thread_id then
        requests[#requests + 1] = wrk.format(method, nil, headers(line), body)
      end
      index = index + 1
    end
  end
  n = #requests
  if n == 0 then
    error("bench/wrk.lua: no session ids for thread " .. thread_id)
  end
end

-- Only defined as a function when there is something per request to vary; otherwise wrk
-- sends its own pre-built request (the cheapest path for the load generator).
if (os.getenv("BENCH_COOKIES") or "") ~= "" or (os.getenv("BENCH_METHOD") or "") ~= "" then
  function request()
    i = i + 1
    if i > n then i = 1 end
    return requests[i]
  end
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"status":%d,"connect":%d,'
      .. '"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
