-- wrk script for the checkout workload: hold a ticket, then confirm the
-- hold. Each thread keeps the holds it made (their Location) and confirms
-- one whenever it has one, so every connection alternates between the two
-- once the first holds are answered.
--   wrk ... -s bench/wrk/checkout.lua URL -- FIRST_ID LAST_ID
-- At the end it prints one JSON line with the figures bench.sh needs, with
-- "confirmed": how many holds became purchases (201 to a confirm).

local first, last
local held = {}
confirmed = 0 -- a global: done() reads it from each thread
local body = '{"quantity":1,"user_id":"406c1d05-bbb2-4e94-b183-7d208c2692e1"}'
local headers = { ["Content-Type"] = "application/json" }
local no_headers = {}

-- Runs in wrk's main Lua state, once per thread before it starts.
local threads = {}
function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    first, last = tonumber(args[1]), tonumber(args[2])
    math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

function request()
    local hold = table.remove(held)
    if hold then
        return wrk.format("POST", hold .. "/confirm", no_headers)
    end
    return wrk.format("POST", "/tickets/" .. math.random(first, last) .. "/holds", headers, body)
end

function response(status, response_headers)
    if status ~= 201 then
        return
    end
    local location = response_headers["location"] or response_headers["Location"]
    if location and location:find("/holds/") then
        table.insert(held, location)
    else
        confirmed = confirmed + 1
    end
end

function done(summary, latency, requests)
    local total = 0
    for _, thread in ipairs(threads) do
        total = total + thread:get("confirmed")
    end
    local e = summary.errors
    io.write(string.format(
        '{"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"confirmed":%d}\n',
        summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, total))
end
