--[[
  Records that a client spoke (any message: seed 004's last_seen on every message) and (re)registers
  it, so a client removed by the cleanup loop during a pause reappears whole when it speaks again.

  KEYS[1] clients set
  KEYS[2] client:{id} hash
  KEYS[3] clients:seen sorted set (score = last_seen ms)
  ARGV[1] client id
  ARGV[2] now, epoch milliseconds
  ARGV[3] now, ISO 8601

  Returns 1 when the client was (re)added to the set, 0 when it was already there.
]]
redis.call('HSET', KEYS[2], 'last_seen', ARGV[3], 'last_seen_ms', ARGV[2])
redis.call('HSETNX', KEYS[2], 'connected_at', ARGV[3])
redis.call('HSETNX', KEYS[2], 'status', 'connected')
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return redis.call('SADD', KEYS[1], ARGV[1])
