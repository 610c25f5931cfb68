--[[
  Stores an agent's frame's metadata as its latest (latest wins: the previous one is overwritten),
  refreshes the client's presence and marks it ready for analysis. The frame bytes themselves are
  written by an `HSET image:{id} data <bytes>` in the same MULTI/EXEC, just before this script
  (storeFrame in src/redis/scripts.ts): passed through a script, Redis would copy them twice.

  KEYS[1] clients set
  KEYS[2] client:{id} hash
  KEYS[3] image:{id} hash
  KEYS[4] ready sorted set (score = when the client first became ready; kept while it waits)
  KEYS[5] clients:seen sorted set (score = last_seen ms; lets the cleanup loop find silent clients)
  ARGV[1] client id
  ARGV[2] frame size, bytes
  ARGV[3] format: jpeg | png | webp
  ARGV[4] now, epoch milliseconds
  ARGV[5] now, ISO 8601

  Returns the frame's frame_number (1, 2, ... per client).
]]
local seq = redis.call('HINCRBY', KEYS[3], 'frame_number', 1)
redis.call('HSET', KEYS[3], 'size', ARGV[2], 'format', ARGV[3], 'timestamp', ARGV[5], 'ts_ms', ARGV[4])
redis.call('HSET', KEYS[2], 'last_seen', ARGV[5], 'last_seen_ms', ARGV[4])
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[4], 'NX', ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
return seq
