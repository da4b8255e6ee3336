-- wrk script for the benchmark: requests on random tickets among an id
-- range, either purchases (POST) or reads (GET).
--   wrk ... -s bench/wrk/tickets.lua URL -- purchase|read FIRST_ID LAST_ID
-- At the end it prints one JSON line with the figures bench.sh needs.

local mode, first, last
local body = '{"quantity":1,"user_id":"406c1d05-bbb2-4e94-b183-7d208c2692e1"}'
local headers = { ["Content-Type"] = "application/json" }

function init(args)
    mode, first, last = args[1], tonumber(args[2]), tonumber(args[3])
    -- Threads start together: mix in an address so each gets its own sequence.
    math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

function request()
    local id = math.random(first, last)
    if mode == "purchase" then
        return wrk.format("POST", "/tickets/" .. id .. "/purchases", headers, body)
    end
    return wrk.format("GET", "/tickets/" .. id)
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        '{"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,"p50_ms":%.3f,"p99_ms":%.3f}\n',
        summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
