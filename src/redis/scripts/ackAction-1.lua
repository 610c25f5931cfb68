--[[
  Removes one action from a client's action queue once the agent has acknowledged it.
  Actions are JSON objects with an "id" field; delivery keeps them in the queue until acked, so a
  crash or reconnect never loses one.

  KEYS[1] actions:{id} list
  ARGV[1] action id

  Returns 1 when the action was found and removed, 0 when it was not in the queue (already acked).
]]
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for _, raw in ipairs(items) do
  local ok, action = pcall(cjson.decode, raw)
  if ok and type(action) == 'table' and action['id'] == ARGV[1] then
    redis.call('LREM', KEYS[1], 1, raw)
    return 1
  end
end
return 0
