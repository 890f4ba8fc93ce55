-- wrk: POST one row
local body = '{"name": "bench", "price": 9.5}'
local headers = { ["Content-Type"] = "application/json" }
request = function()
  return wrk.format("POST", "/rest/v1/items", headers, body)
end
