--[[
  Commits one policy step for a client: the new decision history, and (when the policy decided) the
  action message on the client's action queue, in one atomic step. The history carries a revision:
  the write succeeds only if nobody committed since the caller read it (compare-and-set), so two
  workers deciding on the same client never both fire, and a decision is never recorded without its
  action being queued (nor the other way round).

  KEYS[1] history:{id} hash (fields: rev, state, and trail:<action id> outbox entries)
  KEYS[2] actions:{id} list (seed 000 action queue, as ClientsData.enqueueAction)
  ARGV[1] expected revision ("0" when the caller found no history)
  ARGV[2] new state (JSON)
  ARGV[3] TTL of the history, milliseconds
  ARGV[4] action message (JSON), or "" for none
  ARGV[5] wake-up channel (published with the client id when an action was queued)
  ARGV[6] client id
  ARGV[7] outbox field ("trail:<action id>") or "" for none
  ARGV[8] the full action record (JSON): kept in the outbox field until its evidence and audit
          entries are written, so another worker can finish them if this one dies first

  Returns the new revision (>= 1) on success, 0 when the revision did not match (re-read and retry).
]]
local current = redis.call('HGET', KEYS[1], 'rev')
if not current then current = '0' end
if current ~= ARGV[1] then
  return 0
end
local rev = tonumber(current) + 1
redis.call('HSET', KEYS[1], 'rev', rev, 'state', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if ARGV[4] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[4])
  redis.call('PUBLISH', ARGV[5], ARGV[6])
end
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[7], ARGV[8])
end
return rev
