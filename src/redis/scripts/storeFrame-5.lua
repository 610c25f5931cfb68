--[[
  Stores an agent's frame as its latest (latest wins: the previous one is overwritten), refreshes the
  client's presence and marks it ready for analysis, in one round trip.

  The frame bytes are not written to the AOF or to replicas (redis.set_repl): a frame is only worth
  its latest copy and is stale after a restart, while appending every frame made the AOF grow by
  ~40 kB per frame (at 1000 agents the disk, not the gateway, set the frame rate). `data_frame`
  is written with them, so a frame restored from an AOF rewrite snapshot, older than its
  `frame_number`, is recognised as stale (ClientRegistry.getClientImage) instead of analysed.

  KEYS[1] clients set
  KEYS[2] client:{id} hash
  KEYS[3] image:{id} hash
  KEYS[4] ready sorted set (score = when the client first became ready; kept while it waits)
  KEYS[5] clients:seen sorted set (score = last_seen ms; lets the cleanup loop find silent clients)
  ARGV[1] client id
  ARGV[2] frame bytes (raw JPEG/PNG/WebP, not base64)
  ARGV[3] format: jpeg | png | webp
  ARGV[4] now, epoch milliseconds
  ARGV[5] now, ISO 8601

  Returns the frame's frame_number (1, 2, ... per client).
]]
local seq = redis.call('HINCRBY', KEYS[3], 'frame_number', 1)
redis.call('HSET', KEYS[3], 'size', string.len(ARGV[2]), 'format', ARGV[3], 'timestamp', ARGV[5], 'ts_ms', ARGV[4])
redis.set_repl(redis.REPL_NONE)
redis.call('HSET', KEYS[3], 'data', ARGV[2], 'data_frame', seq)
redis.set_repl(redis.REPL_ALL)
redis.call('HSET', KEYS[2], 'last_seen', ARGV[5], 'last_seen_ms', ARGV[4])
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[4], 'NX', ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
return seq
