-- wrk script for the benchmark: requests on random tickets among an id
-- range, either purchases (POST), purchases each with a key of its own
-- (POST with a unique Idempotency-Key), purchases each by a new buyer
-- (POST with a unique user_id), or reads (GET); or purchases by buyers who
-- authenticate (POST with a buyer's bearer token, no user_id), with or
-- without a key each.
--   wrk ... -s bench/wrk/tickets.lua URL -- purchase|keyed-purchase|new-buyer-purchase|read FIRST_ID LAST_ID [KEY_PREFIX]
--   wrk ... -s bench/wrk/tickets.lua URL -- token-purchase FIRST_ID LAST_ID TOKENS_FILE
--   wrk ... -s bench/wrk/tickets.lua URL -- keyed-token-purchase FIRST_ID LAST_ID KEY_PREFIX TOKENS_FILE
-- KEY_PREFIX (keyed-purchase) must be unique to the run: a key is the prefix,
-- the thread's number and the thread's request count, so no two requests in
-- the run, from any thread, share one.
-- TOKENS_FILE holds buyers' tokens, one a line: each thread takes them in
-- turn, from its own place in the file (thread 1 from the first, thread 2,
-- bench.sh's other one, from half-way), so that together they go through
-- every buyer in the file.
-- At the end it prints one JSON line with the figures bench.sh needs.

local mode, first, last, key_prefix
local sent = 0
local body = '{"quantity":1,"user_id":"406c1d05-bbb2-4e94-b183-7d208c2692e1"}'
local headers = { ["Content-Type"] = "application/json" }
-- The buyers' tokens (token modes), and where this thread starts in them.
local tokens, token_start = {}, 0

-- Runs in wrk's main Lua state, once per thread before it starts.
local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("thread_number", threads)
end

function init(args)
    mode, first, last, key_prefix = args[1], tonumber(args[2]), tonumber(args[3]), args[4]
    if (mode == "keyed-purchase" or mode == "keyed-token-purchase") and not key_prefix then
        error(mode .. " needs a KEY_PREFIX")
    end
    if mode == "token-purchase" or mode == "keyed-token-purchase" then
        -- The caller authenticates: the purchase is the token's buyer's.
        body = '{"quantity":1}'
        for line in io.lines(args[#args]) do
            if line ~= "" then
                tokens[#tokens + 1] = line
            end
        end
        if #tokens == 0 then
            error(mode .. " needs a TOKENS_FILE with at least one token")
        end
        token_start = (thread_number - 1) * math.floor(#tokens / 2)
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
    if #tokens > 0 then
        headers["Authorization"] = "Bearer " .. tokens[(token_start + sent - 1) % #tokens + 1]
    end
    if mode == "keyed-purchase" or mode == "keyed-token-purchase" then
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
