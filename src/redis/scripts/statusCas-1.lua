--[[
  Compare-and-set of one Clients_status field: the status manager writes a merged list only if no
  other process changed the field since the manager read it (else it retries on its next cycle).

  KEYS[1] Clients_status hash
  ARGV[1] field name
  ARGV[2] the value read before ("" when the field was absent)
  ARGV[3] the new value

  Returns 1 when the field was set, 0 when it had changed meanwhile.
]]
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (current == false and ARGV[2] == '') or current == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
