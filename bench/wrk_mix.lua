-- wrk_mix.lua -- the request mixes of bench/run_server.sh, chosen by the
-- environment variable MIX: "put" (new keys), "get" (keys the preload
-- stored), "search" (hybrid search with random words) or "searchput"
-- (the same searches, and every 10th request a put into the searched
-- namespace: each put makes the server's read handles catch their vector
-- caches up before their next search). Counts the 200s
-- each thread saw, so that after a put run the script can check that
-- every acknowledged write is in the database.
local mix = os.getenv("MIX") or "get"
local items = tonumber(os.getenv("ITEMS") or "10000")
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
    math.randomseed(id * 7919 + 17)
end

function request()
    local m = mix
    if m == "searchput" then
        counter = counter + 1
        if counter % 10 == 0 then
            local w = words[(counter % #words) + 1]
            return wrk.format("POST", "/v1/items/put", nil,
                string.format('{"ns":["bench","data"],"key":"w%d-%d",' ..
                              '"value":{"text":"new note %d about %s"}}',
                              id, counter, counter, w))
        end
        m = "search"
    end
    if m == "put" then
        counter = counter + 1
        local w = words[(counter % #words) + 1]
        return wrk.format("POST", "/v1/items/put", nil,
            string.format('{"ns":["bench","put","t%d"],"key":"k%d",' ..
                          '"value":{"text":"note %d about %s"}}',
                          id, counter, counter, w))
    elseif m == "get" then
        local k = math.random(0, items - 1)
        return wrk.format("POST", "/v1/items/get", nil,
            string.format('{"ns":["bench","data"],"key":"k%d"}', k))
    else
        local q = words[math.random(#words)] .. " " .. words[math.random(#words)]
        return wrk.format("POST", "/v1/search", nil,
            string.format('{"ns":["bench","data"],"query":"%s","limit":10}', q))
    end
end

function response(status, headers, body)
    if status == 200 then acked = acked + 1 else errors = errors + 1 end
end

function done(summary, latency, requests)
    local a, e = 0, 0
    for _, t in ipairs(threads) do
        a = a + t:get("acked")
        e = e + t:get("errors")
    end
    io.write(string.format("ACKED %d\nNON200 %d\n", a, e))
    for _, p in ipairs({ 50, 90, 99, 99.9 }) do
        io.write(string.format("P%s_US %d\n", tostring(p), latency:percentile(p)))
    end
    io.write(string.format("MAX_US %d\n", latency.max))
end
