-- wrk script for the benchmark: requests on random tickets among an id
-- range, either purchases (POST), purchases each with a key of its own
-- (POST with a unique Idempotency-Key), purchases each by a new buyer
-- (POST with a unique user_id), or reads (GET).
--   wrk ... -s bench/wrk/tickets.lua URL -- purchase|keyed-purchase|new-buyer-purchase|read FIRST_ID LAST_ID [KEY_PREFIX]
-- KEY_PREFIX (keyed-purchase) must be unique to the run: a key is the prefix,
-- the thread's number and the thread's request count, so no two requests in
-- the run, from any thread, share one.
-- At the end it prints one JSON line with the figures bench.sh needs.

local mode, first, last, key_prefix
local sent = 0
local body = '{"quantity":1,"user_id":"406c1d05-bbb2-4e94-b183-7d208c2692e1"}'
local headers = { ["Content-Type"] = "application/json" }

-- Runs in wrk's main Lua state, once per thread before it starts.
local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("thread_number", threads)
end

function init(args)
    mode, first, last, key_prefix = args[1], tonumber(args[2]), tonumber(args[3]), args[4]
    if mode == "keyed-purchase" and not key_prefix then
        error("keyed-purchase needs a KEY_PREFIX")
    end
    -- Threads start together: mix in an address so each gets its own sequence.
    math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

function request()
    local id = math.random(first, last)
    if mode == "read" then
        return wrk.format("GET", "/tickets/" .. id)
    end
    sent = sent + 1
    if mode == "keyed-purchase" then
        headers["Idempotency-Key"] = key_prefix .. "-" .. thread_number .. "-" .. sent
    end
    if mode == "new-buyer-purchase" then
        -- A UUID of the thread's number and its request count, new each time.
        return wrk.format("POST", "/tickets/" .. id .. "/purchases", headers, string.format(
            '{"quantity":1,"user_id":"00000000-0000-4000-8000-%04d%08d"}', thread_number, sent))
    end
    return wrk.format("POST", "/tickets/" .. id .. "/purchases", headers, body)
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        '{"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f}\n',
        summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
