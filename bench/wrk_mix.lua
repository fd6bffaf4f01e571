-- wrk_mix.lua -- the request mixes of bench/run_server.sh, chosen by the
-- environment variable MIX: "put" (new keys), "get" (keys the preload
-- stored), "search" (hybrid search with random words) or "searchput"
-- (the same searches, and every 10th request a put into the searched
-- namespace: each put makes the server's read handles catch their vector
-- caches up before their next search). Counts the 200s
-- each thread saw, so that after a put run the script can check that
-- every acknowledged write is in the database.
--
-- RATE (requests/s over all THREADS wrk threads) paces the requests
-- instead of sending the next one as soon as a connection is free: each
-- thread hands out send times on a fixed schedule, one every
-- THREADS/RATE s, to whichever of its connections asks next (wrk's
-- delay()), so the offered load does not drop when the server slows down
-- as long as some connection is free. wrk times a request from when it
-- is sent; when every connection is busy, requests leave behind their
-- scheduled time and that wait is not in wrk's latency (coordinated
-- omission). So a paced run also times each request from its scheduled
-- send time, as wrk2 does: the request sent is the oldest slot not yet
-- served, its X-Request-Id header carries that time (or the send time,
-- when a timer fired early: never less than wrk's own figure) and the
-- send time, and the server echoes the header, which tells response()
-- which request was answered (wrk's scripts do not see the connection).
-- SCHED_P*_US are those latencies over all threads, SENT_P*_US the same
-- answers timed from their send; both leave out the requests scheduled
-- in the first WARMUP seconds (default 0), while the server is still
-- accepting the connections (1000 connections took over a second at load
-- 10). wrk's own P*_US are from the send over the whole run.
-- LATE_MAX_US and LATE_OVER_1MS say how far behind the schedule requests
-- left: many late sends mean too few connections for the rate.
local mix = os.getenv("MIX") or "get"
local items = tonumber(os.getenv("ITEMS") or "10000")
local rate = tonumber(os.getenv("RATE") or "")
local nthreads = tonumber(os.getenv("THREADS") or "2")
local warmup_us = tonumber(os.getenv("WARMUP") or "0") * 1e6
local words = { "apple", "river", "garden", "python", "coffee", "music",
                "travel", "budget", "meeting", "doctor", "football", "rain" }
local threads = {}
counter = 0

function setup(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
end

function init(args)
    id = id or 0
    acked = 0
    errors = 0
    late_max = 0
    late_over = 0
    sent = 0
    math.randomseed(id * 7919 + 17)
end


-- The next request; `headers` (a table, or nil) go with it.
local function make_request(headers)
    local m = mix
    if m == "searchput" then
        counter = counter + 1
        if counter % 10 == 0 then
            local w = words[(counter % #words) + 1]
            return wrk.format("POST", "/v1/items/put", headers,
                string.format('{"ns":["bench","data"],"key":"w%d-%d",' ..
                              '"value":{"text":"new note %d about %s"}}',
                              id, counter, counter, w))
        end
        m = "search"
    end
    if m == "put" then
        counter = counter + 1
        local w = words[(counter % #words) + 1]
        return wrk.format("POST", "/v1/items/put", headers,
            string.format('{"ns":["bench","put","t%d"],"key":"k%d",' ..
                          '"value":{"text":"note %d about %s"}}',
                          id, counter, counter, w))
    elseif m == "get" then
        local k = math.random(0, items - 1)
        return wrk.format("POST", "/v1/items/get", headers,
            string.format('{"ns":["bench","data"],"key":"k%d"}', k))
    else
        local q = words[math.random(#words)] .. " " .. words[math.random(#words)]
        return wrk.format("POST", "/v1/search", headers,
            string.format('{"ns":["bench","data"],"query":"%s","limit":10}', q))
    end
end

function request()
    return make_request(nil)
end

-- Latencies from the schedule, in 10 us buckets: sched[b] requests took
-- [10b, 10b + 10) us; fromsent[b] from their send. Per thread; done()
-- merges them.
sched = {}
fromsent = {}
sched_n = 0
sched_max = 0
sent_max = 0
unmatched = 0
warmed = 0     -- answers left out: scheduled in the warm-up

if rate ~= nil then
    if rate <= 0 then error("wrk_mix.lua: RATE must be > 0") end
    -- wrk's Lua is LuaJIT: its FFI reads the monotonic clock in us.
    local ffi = require("ffi")
    ffi.cdef [[
        typedef struct { long tv_sec; long tv_nsec; } wrk_mix_ts;
        int clock_gettime(int clk, wrk_mix_ts *ts);
    ]]
    local ts = ffi.new("wrk_mix_ts")
    local function now_us()
        ffi.C.clock_gettime(1, ts)   -- CLOCK_MONOTONIC
        return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
    end
    local interval = 1e6 * nthreads / rate
    local t0, k = nil, 0
    local slots, head, tail = {}, 1, 0   -- handed-out send times, FIFO

    function delay()
        local now = now_us()
        t0 = t0 or now
        k = k + 1
        local slot = t0 + k * interval
        tail = tail + 1
        slots[tail] = slot
        local ms = math.floor((slot - now) / 1000 + 0.5)
        return ms > 0 and ms or 0
    end

    -- A connection's timer fires at its slot, to the millisecond, and
    -- sends the oldest slot not yet served: when connections ran short,
    -- the schedule is served in order, each late request timed from its
    -- own slot.
    function request()
        local now = now_us()
        local start = now
        if head <= tail then
            local slot = slots[head]
            local late = now - slot
            slots[head] = nil
            head = head + 1
            if late > late_max then late_max = late end
            if late > 1000 then late_over = late_over + 1 end
            if slot < now then start = slot end
        end
        sent = sent + 1
        return make_request({ ["X-Request-Id"] = string.format("s%d-%d",
                              math.floor(start), math.floor(now)) })
    end


    function response(status, headers, body)
        if status == 200 then acked = acked + 1 else errors = errors + 1 end
        local id = headers["X-Request-Id"]
        local a, b
        if id then a, b = string.match(id, "^s(%d+)-(%d+)$") end
        local start, at = tonumber(a), tonumber(b)
        if start == nil or at == nil then
            unmatched = unmatched + 1
            return
        end
        if start < (t0 or start) + warmup_us then
            warmed = warmed + 1
            return
        end
        local now = now_us()
        local us, su = now - start, now - at
        local k1, k2 = math.floor(us / 10), math.floor(su / 10)
        sched[k1] = (sched[k1] or 0) + 1
        fromsent[k2] = (fromsent[k2] or 0) + 1
        sched_n = sched_n + 1
        if us > sched_max then sched_max = us end
        if su > sent_max then sent_max = su end
    end
end

if rate == nil then
    function response(status, headers, body)
        if status == 200 then acked = acked + 1 else errors = errors + 1 end
    end
end

-- The p-th percentile (0..100) of merged 10 us buckets `h` holding `n`
-- latencies: the upper edge of the bucket where it falls, in us.
local function bucket_percentile(h, n, p)
    local keys = {}
    for b in pairs(h) do keys[#keys + 1] = b end
    table.sort(keys)
    local want, seen = math.ceil(n * p / 100), 0
    for _, b in ipairs(keys) do
        seen = seen + h[b]
        if seen >= want then return (b + 1) * 10 end
    end
    return 0
end

function done(summary, latency, requests)
    local a, e, lm, lo, n = 0, 0, 0, 0, 0
    for _, t in ipairs(threads) do
        a = a + t:get("acked")
        e = e + t:get("errors")
        lm = math.max(lm, t:get("late_max") or 0)
        lo = lo + (t:get("late_over") or 0)
        n = n + (t:get("sent") or 0)
    end
    io.write(string.format("ACKED %d\nNON200 %d\n", a, e))
    if rate ~= nil then
        io.write(string.format("RATE %d\nSENT %d\nLATE_MAX_US %d\n" ..
                               "LATE_OVER_1MS %d\n", rate, n, lm, lo))
        local h, hs, hn, hmax, smax, um, w = {}, {}, 0, 0, 0, 0, 0
        for _, t in ipairs(threads) do
            for b, c in pairs(t:get("sched")) do h[b] = (h[b] or 0) + c end
            for b, c in pairs(t:get("fromsent")) do
                hs[b] = (hs[b] or 0) + c
            end
            hn = hn + t:get("sched_n")
            hmax = math.max(hmax, t:get("sched_max"))
            smax = math.max(smax, t:get("sent_max"))
            um = um + t:get("unmatched")
            w = w + t:get("warmed")
        end
        -- Answers without our X-Request-Id (a server that does not echo
        -- it) would leave the from-schedule figure meaningless.
        io.write(string.format("TIMED %d\nWARMUP_ANSWERS %d\n" ..
                               "UNMATCHED %d\n", hn, w, um))
        for _, p in ipairs({ 50, 90, 99, 99.9 }) do
            io.write(string.format("SCHED_P%s_US %d\nSENT_P%s_US %d\n",
                                   tostring(p), bucket_percentile(h, hn, p),
                                   tostring(p), bucket_percentile(hs, hn, p)))
        end
        io.write(string.format("SCHED_MAX_US %d\nSENT_MAX_US %d\n", hmax,
                               smax))
    end
    for _, p in ipairs({ 50, 90, 99, 99.9 }) do
        io.write(string.format("P%s_US %d\n", tostring(p), latency:percentile(p)))
    end
    io.write(string.format("MAX_US %d\n", latency.max))
end
