--[[
  Vision scheduler: takes the client that has waited longest for analysis (fair: the ready set's score
  is when the client first became ready), skipping paused/blocked clients and clients another worker
  is analysing, and leases it so one client is analysed by one worker at a time.

  KEYS[1] ready sorted set (member = client id, score = ms when it became ready)
  KEYS[2] vision leases sorted set (member = client id, score = ms when the lease expires)
  ARGV[1] now, epoch milliseconds
  ARGV[2] lease length, milliseconds (a worker process that dies loses its lease after this)
  ARGV[3] how many of the oldest ready clients to look at
  ARGV[4] JSON array of client ids to skip (paused or blocked); they are dropped from the ready set and
          come back with their next frame

  Returns {client id, its ready score}, or false (nil) when no client can be taken.
]]
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local skip = {}
for _, id in ipairs(cjson.decode(ARGV[4])) do skip[id] = true end
local candidates = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)
for _, id in ipairs(candidates) do
  if skip[id] then
    redis.call('ZREM', KEYS[1], id)
  elseif not redis.call('ZSCORE', KEYS[2], id) then
    local score = redis.call('ZSCORE', KEYS[1], id)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
    return {id, score}
  end
end
return false
