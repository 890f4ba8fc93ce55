-- wrk: GET one row by a random id (1..10000)
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/rest/v1/items?id=eq." .. math.random(1, 10000))
end
