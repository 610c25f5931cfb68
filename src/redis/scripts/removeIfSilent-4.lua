--[[
  Removes a client that has been silent since before a cutoff, with its latest frame (seed 004 cleanup).
  Checked and removed in one step, so a frame that arrives between the check and the delete keeps
  its client.

  KEYS[1] clients set
  KEYS[2] client:{id} hash
  KEYS[3] image:{id} hash
  KEYS[4] clients:seen sorted set
  ARGV[1] client id
  ARGV[2] cutoff, epoch milliseconds: a last_seen older than this means silent

  Returns 1 when the client was removed, 0 when it is still alive.
]]
local lastSeen = tonumber(redis.call('HGET', KEYS[2], 'last_seen_ms'))
if lastSeen and lastSeen >= tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[4], lastSeen, ARGV[1])
  return 0
end
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3])
return 1
