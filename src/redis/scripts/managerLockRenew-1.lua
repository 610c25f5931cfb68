--[[
  Extends a lock's lease only when the caller still owns it, so a process that lost the lock (its
  lease ran out and another took it) can never extend the new owner's lease.

  KEYS[1] lock key
  ARGV[1] owner token
  ARGV[2] lease in milliseconds

  Returns 1 when extended, 0 when the lock belongs to someone else or to nobody.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
