-- wrk script for `deno task bench` (bench/bench.ts sets the environment).
--
-- BENCH_COOKIES       file with one session id per line: the requests carry them
--                     (a returning visitor); unset or empty = no cookie (a first visit)
-- BENCH_COOKIE_NAME   cookie name (default sessionId)
-- BENCH_THREADS       wrk's -t, so each thread takes its own share of the ids
-- BENCH_METHOD, BENCH_BODY, BENCH_CONTENT_TYPE   optional, for POST scenarios
-- BENCH_REQUESTS      file with one request per line, each sent exactly once:
--                     cookie TAB path TAB body (the cookie may be empty). Thread t takes
--                     the lines whose index is t modulo the thread count, in order. A
--                     thread that has sent all its lines sends `GET BENCH_FILLER` (a path
--                     the app does not count, answering {"ok":true}) until the answers
--                     of all its lines have been read, then stops itself; done() reports
--                     how many threads ran out.
--
-- wrk has no per-connection hook, so the visitors are spread over the connections: thread t
-- takes the ids whose index is t modulo the thread count and sends them round-robin over
-- its connections (bench.ts writes --visitors ids, 200 by default, for 50 connections). An
-- id comes back only after every other id of its thread, so with more ids than connections
-- each has about one request in flight at most, like that many browsers each waiting for
-- its own page. The requests are built once, in init().
--
-- With BENCH_REQUESTS, response() sorts the answers: 2xx, 409 and any other status are
-- counted apart (wrk's own count puts every status >= 400 together), and filler responses
-- are not counted at all.
--
-- done() prints one machine-readable line that bench.ts parses:
--   BENCH_JSON {"requests":..,"duration_us":..,"status":..,"connect":..,...}

local next_thread_id = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
  threads[#threads + 1] = thread
end

local requests = nil
local n = 0
local i = 0
local once = (os.getenv("BENCH_REQUESTS") or "") ~= ""
local filler = nil

-- Per-thread counts, global so that done() can read them with thread:get().
ok2xx = 0
conflict = 0
other = 0
fillers = 0
sent = 0
exhausted = 0

function init(args)
  local method = os.getenv("BENCH_METHOD")
  if method == "" then method = nil end
  local body = os.getenv("BENCH_BODY")
  if body == "" then body = nil end
  local content_type = os.getenv("BENCH_CONTENT_TYPE")
  local file = os.getenv("BENCH_COOKIES")
  local name = os.getenv("BENCH_COOKIE_NAME") or "sessionId"
  local threads_n = tonumber(os.getenv("BENCH_THREADS") or "1")
  local function headers(cookie)
    local h = {}
    for k, v in pairs(wrk.headers) do h[k] = v end
    if content_type and content_type ~= "" then h["Content-Type"] = content_type end
    if cookie and cookie ~= "" then h["Cookie"] = name .. "=" .. cookie end
    return h
  end
  if once then
    requests = {}
    local index = 0
    for line in io.lines(os.getenv("BENCH_REQUESTS")) do
      if line ~= "" then
        if index % threads_n == thread_id then
          local cookie, path, line_body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
          if not path then error("bench/wrk.lua: bad request line: " .. line) end
          requests[#requests + 1] = wrk.format(method, path, headers(cookie), line_body)
        end
        index = index + 1
      end
    end
    n = #requests
    filler = wrk.format("GET", os.getenv("BENCH_FILLER") or "/healthz", headers(nil), nil)
    return
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
      if index % threads_n == thread_id then
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
-- wrk 4.1 calls request() once on thread 0's script before any connection to check the
-- request (script_verify_request), and sends nothing of it: that call gets the filler so
-- that no line is taken without being sent (if it is ever sent, it counts as a filler).
local verified = false

if once then
  function request()
    if thread_id == 0 and not verified then
      verified = true
      return filler
    end
    if i < n then
      i = i + 1
      sent = i
      return requests[i]
    end
    exhausted = 1
    if ok2xx + conflict + other >= n then wrk.thread:stop() end
    return filler
  end

  function response(status, headers, body)
    if body and body:find('"ok":true', 1, true) then
      fillers = fillers + 1
    elseif status >= 200 and status <= 299 then
      ok2xx = ok2xx + 1
    elseif status == 409 then
      conflict = conflict + 1
    else
      other = other + 1
    end
    -- The last answer of a thread that ran out: nothing of its lines is in flight any more.
    if exhausted == 1 and ok2xx + conflict + other >= n then wrk.thread:stop() end
  end
elseif (os.getenv("BENCH_COOKIES") or "") ~= "" or (os.getenv("BENCH_METHOD") or "") ~= "" then
  function request()
    i = i + 1
    if i > n then i = 1 end
    return requests[i]
  end
end

function done(summary, latency, _)
  local e = summary.errors
  local sums = { ok2xx = 0, conflict = 0, other = 0, fillers = 0, exhausted = 0 }
  local sent_list = {}
  for _, t in ipairs(threads) do
    for k, _ in pairs(sums) do sums[k] = sums[k] + (t:get(k) or 0) end
    sent_list[#sent_list + 1] = tostring(t:get("sent") or 0)
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"status":%d,"connect":%d,'
      .. '"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"ok2xx":%d,"conflict":%d,"other":%d,"fillers":%d,"exhausted":%d,"sent":[%s]}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    sums.ok2xx, sums.conflict, sums.other, sums.fillers, sums.exhausted,
    table.concat(sent_list, ",")))
end
