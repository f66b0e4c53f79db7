-- predict.lua - the wrk script of bench/serve: POST /v1/predict with one Banking77 text
-- per request (or POST URL_PATH with the prelude's bodies: make_rec_bodies.py's
-- /v1/recommend), cycling through the bodies of the generated prelude, and optionally one
-- malformed body every BAD_EVERY requests. run.sh prepends the prelude (make_bodies.py or
-- make_rec_bodies.py), which defines:
--   URL_PATH   (optional) the path to POST to; default /v1/predict
--   BODIES     the request bodies, {"text": "..."} with the text JSON-escaped
--   BAD        malformed bodies (bad JSON, bad UTF-8, wrong field, empty)
--   BAD_EVERY  0: valid bodies only; N: every Nth request of a thread is the next BAD body
-- All requests carry Content-Type: application/json. The requests are formatted once per
-- thread in init() so that request() is a table lookup: wrk shares the machine's cores
-- with the server, and every cycle it spends is taken from the server.
-- Deliberately no response() hook: defining one makes wrk parse every response's headers
-- and body. Status counts come from wrk's own non-2xx count and the server's /metrics.
-- done() prints one "bench_serve:" line with the exact counts and percentiles.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

local good, bad = {}, {}
local i, n_good, k_bad = 0, 0, 0

function init(args)
   local headers = { ["Content-Type"] = "application/json" }
   local path = URL_PATH or "/v1/predict"
   for j, b in ipairs(BODIES) do
      good[j] = wrk.format("POST", path, headers, b)
   end
   for j, b in ipairs(BAD) do
      bad[j] = wrk.format("POST", path, headers, b)
   end
   -- Each thread starts at its own place in the list.
   i = (id * 7919) % #good
   sent, sent_bad = 0, 0
end

function request()
   sent = sent + 1
   if BAD_EVERY > 0 and sent % BAD_EVERY == 0 then
      sent_bad = sent_bad + 1
      local r = bad[k_bad % #bad + 1]
      k_bad = k_bad + 1
      return r
   end
   i = i % #good + 1
   return good[i]
end

function done(summary, latency, requests)
   local s, sb = 0, 0
   for _, t in ipairs(threads) do
      s = s + t:get("sent")
      sb = sb + t:get("sent_bad")
   end
   local e = summary.errors
   io.write(string.format("bench_serve: requests=%d duration_us=%d p50_us=%.1f p99_us=%.1f " ..
                          "max_us=%d status_errors=%d connect=%d read=%d write=%d timeout=%d " ..
                          "sent=%d sent_bad=%d\n",
                          summary.requests, summary.duration, latency:percentile(50),
                          latency:percentile(99), latency.max, e.status, e.connect, e.read,
                          e.write, e.timeout, s, sb))
end
