--[[
  Adds or removes one client id in JSON-array fields of the Clients_status hash (seed 001), in one
  step, so state changes made by several processes at once never lose each other. Arrays stay
  sorted and free of duplicates; an empty array is stored as "[]" (cjson would write "{}").

  KEYS[1] Clients_status hash
  ARGV[1] client id
  ARGV[2], ARGV[3], ...  pairs of: field name, "add" | "remove"

  Returns an array with, for each pair, 1 when that field changed and 0 when it already was so.
]]
local id = ARGV[1]
local result = {}
for i = 2, #ARGV, 2 do
  local field, op = ARGV[i], ARGV[i + 1]
  local raw = redis.call('HGET', KEYS[1], field)
  local list = {}
  if raw then
    local ok, decoded = pcall(cjson.decode, raw)
    if ok and type(decoded) == 'table' then
      for _, v in ipairs(decoded) do
        if type(v) == 'string' then list[#list + 1] = v end
      end
    end
  end
  local found = 0
  for j, v in ipairs(list) do
    if v == id then found = j break end
  end
  local changed = 0
  if op == 'add' and found == 0 then
    list[#list + 1] = id
    changed = 1
  elseif op == 'remove' and found > 0 then
    table.remove(list, found)
    changed = 1
  end
  if changed == 1 or not raw then
    table.sort(list)
    local encoded = '[]'
    if #list > 0 then encoded = cjson.encode(list) end
    redis.call('HSET', KEYS[1], field, encoded)
  end
  result[#result + 1] = changed
end
return result
