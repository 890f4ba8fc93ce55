-- wrk: GET a page of 20 rows
request = function()
  return wrk.format("GET", "/rest/v1/items?order=id.asc&limit=20")
end
