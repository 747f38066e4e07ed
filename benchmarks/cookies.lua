-- wrk script of the end-to-end benchmark: the Cookie header of each request
-- comes from the file named after "--", one header per line ("" for none).
-- With one line, every request sends it; with several, each is sent once and
-- the run stops after the last (a session that is regenerated is gone).
local cookies = {}
local sent = 0
local limit = nil

function init(args)
  for line in io.lines(args[1]) do
    cookies[#cookies + 1] = line
  end
  if #cookies > 1 then
    limit = #cookies
  end
end

function request()
  sent = sent + 1
  local cookie = cookies[((sent - 1) % #cookies) + 1]
  if cookie == "" then
    return wrk.format(nil, nil, {})
  end
  return wrk.format(nil, nil, { Cookie = cookie })
end

function response(status, headers, body)
  if limit ~= nil and sent >= limit then
    wrk.thread:stop()
  end
end
