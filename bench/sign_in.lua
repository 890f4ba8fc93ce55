-- wrk: sign in with a password
local body = '{"email": "bench@example.com", "password": "bench password 1"}'
local headers = { ["Content-Type"] = "application/json" }
request = function()
  return wrk.format("POST", "/auth/v1/token?grant_type=password", headers, body)
end
