--[[
  Releases a lock only when the caller still owns it (never deletes another process's lock).

  KEYS[1] lock key
  ARGV[1] owner token

  Returns 1 when released, 0 when the lock belongs to someone else or to nobody.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
