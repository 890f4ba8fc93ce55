-- wrk: the console's data grid paging a 1,000,000-row table, as its page asks: a keyset page of
-- 101 rows after a random key, with the planner's estimate as the total. BENCH_PATH chooses the
-- surface (/console/api/rest with the member's cookie, or /rest/v1 with the service_role key).
math.randomseed(os.time())
local base = os.getenv("BENCH_PATH")
local session = os.getenv("BENCH_SESSION")
local key = os.getenv("BENCH_KEY")
wrk.headers["prefer"] = "count=estimated"
if session and session ~= "" then wrk.headers["cookie"] = "bknd_console=" .. session end
if key and key ~= "" then
  wrk.headers["apikey"] = key
  wrk.headers["authorization"] = "Bearer " .. key
end
request = function()
  return wrk.format("GET", base .. "/big?select=*&order=id.asc&limit=101&id=gt." .. math.random(0, 999899))
end
