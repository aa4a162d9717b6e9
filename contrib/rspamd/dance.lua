--[[
contrib/rspamd/dance.lua - rspamd rules that read danced's Authentication-Results
field, and nothing an SMTP client wrote.

Install (rspamd 3.4, Debian 12):
  - copy this file to /etc/rspamd/dance.lua and load it from
    /etc/rspamd/rspamd.local.lua (contrib/rspamd/rspamd.local.lua is that line);
  - put danced's authserv_id into the "dance" section of
    /etc/rspamd/rspamd.conf.local (contrib/rspamd/rspamd.conf.local) - the only
    place it is named;
  - merge contrib/rspamd/local.d/reputation.conf into
    /etc/rspamd/local.d/reputation.conf (redis servers as for any rspamd module);
  - rspamadm configtest, then reload rspamd.

What it reads, and why that is safe:
  - danced's milter removes every field that claims danced's authserv-id
    (or a name under it, or that it cannot read) and inserts its own above
    all others.  So the first Authentication-Results field of the message is
    danced's, and only that field is read here.
  - The field is read raw (task:get_header_full(), .raw), never decoded: an
    encoded word in a kept foreign field cannot turn into our result.
  - The value must begin, after white space, with the authserv-id and ";"
    (case-insensitive, nothing between them), as danced writes it.  Anything
    else - another id, a comment or quote before the id, a field a later hop
    put above danced's - gives no symbol at all.
  - Then whole resinfos are read: comments (nested, with quoted-pairs, so
    danced's reason text is skipped as a unit) and quoted strings never end
    a resinfo.  A "dane=RESULT" resinfo with a smtp.helo, smtp.mailfrom or
    policy.ptr property (a domain-like value) gives the symbol for RESULT
    with "PTYPE.PROPERTY=VALUE" as its option.  A field that cannot be read
    to its end (an unbalanced comment or quote) gives no symbol at all.
Without the milter (policy service alone, PREPEND), forged copies reach
rspamd too: do not use these rules that way.

Symbols (group "dance"; scores are defaults, change them in
local.d/groups.conf or with the usual symbol score settings):
  DANE_PASS       -0.5  the sending MTA's certificate matched the TLSA records
                        of the name it claimed: who sent it, not that it is
                        wanted - a small bonus; reputation does the rest
  DANE_FAIL        2.0  a name whose TLSA records do not match the MTA's
                        certificate: impersonation, or a botched key rollover
  DANE_TEMPERROR   0.0  DNS trouble; no evidence either way
  DANE_PERMERROR   0.1  only malformed or oversized TLSA records
  DANE_NEUTRAL     0.0  cannot be checked with what the MTA handed over
  DANE_NONE        0.0  no certificate, or no DNSSEC-signed TLSA records
  DANE_REPUTATION  2.0  (set by local.d/reputation.conf) times the name's
                        reputation, between -1 and +1
Each symbol is set once, with every identity of that result as an option
("smtp.helo=mta1.example.net"): a pass for both smtp.helo and smtp.mailfrom
scores -0.5, not -1.0.  A field with pass for smtp.helo and fail for
smtp.mailfrom gives both symbols.

Reputation: the selector "dane_verified" (registered here) returns the
one name the message proved: the smtp.mailfrom domain if it passed, else
the smtp.helo name, else the policy.ptr name; nothing when none passed.
local.d/reputation.conf keys a "generic" reputation rule (DANE_REPUTATION)
on it, so a domain's history follows its proven identity, not its IP.

Checked with rspamd 3.4 by t/rspamd/rspamd.sh, on messages delivered by a
real Postfix with danced's milter, and with rspamd's own milter listed after
danced's in smtpd_milters (it sees danced's field).
]]--

local rspamd_logger = require "rspamd_logger"
local lua_selectors = require "lua_selectors"

local N = 'dance'
local GROUP = 'dance'

local symbols = {
  pass = { 'DANE_PASS', -0.5,
    "Sending MTA's client certificate matched its DNSSEC-signed TLSA records" },
  fail = { 'DANE_FAIL', 2.0,
    "Sending MTA claims a name whose TLSA records do not match its certificate" },
  temperror = { 'DANE_TEMPERROR', 0.0,
    "The sending MTA's TLSA records could not be checked (DNS trouble)" },
  permerror = { 'DANE_PERMERROR', 0.1,
    "The sending MTA publishes only malformed or oversized TLSA records" },
  neutral = { 'DANE_NEUTRAL', 0.0,
    "The sending MTA's TLSA records cannot be checked with what the MTA handed over" },
  none = { 'DANE_NONE', 0.0,
    "No client certificate, or no DNSSEC-signed TLSA records for the sending MTA" },
}

-- identities danced writes, and their preference as the reputation key
local identities = { ['smtp.mailfrom'] = 1, ['smtp.helo'] = 2, ['policy.ptr'] = 3 }

-- read_id - the authserv-id from the "dance" section, lower case, or nil.
local function read_id()
  local opts = rspamd_config:get_all_opt(N)
  local id = opts and opts.authserv_id
  if type(id) ~= 'string' or not id:match('^[%w%-%.]+$') or id:match('%.%.')
      or id:match('^%.') or id:match('%.$') then
    return nil
  end
  return id:lower()
end

local authserv_id = read_id()

-- skip_comment - the index after the comment opening at i, or nil if unbalanced.
local function skip_comment(s, i)
  local depth = 0
  local n = #s
  while i <= n do
    local c = s:sub(i, i)
    if c == '\\' then
      i = i + 2
    else
      if c == '(' then
        depth = depth + 1
      elseif c == ')' then
        depth = depth - 1
        if depth == 0 then return i + 1 end
      end
      i = i + 1
    end
  end
  return nil
end

-- skip_quoted - the index after the quoted string opening at i, or nil.
local function skip_quoted(s, i)
  local n = #s
  i = i + 1
  while i <= n do
    local c = s:sub(i, i)
    if c == '\\' then
      i = i + 2
    elseif c == '"' then
      return i + 1
    else
      i = i + 1
    end
  end
  return nil
end

-- resinfo_words - the resinfos of s as lists of words (comments dropped), or nil if unreadable.
local function resinfo_words(s)
  local out, words, word = {}, {}, {}
  local i, n = 1, #s
  local function end_word()
    if #word > 0 then
      table.insert(words, table.concat(word))
      word = {}
    end
  end
  while i <= n do
    local c = s:sub(i, i)
    if c == '(' then
      end_word()
      i = skip_comment(s, i)
      if not i then return nil end
    elseif c == '"' then
      local j = skip_quoted(s, i)
      if not j then return nil end
      table.insert(word, s:sub(i, j - 1))
      i = j
    elseif c == ';' then
      end_word()
      table.insert(out, words)
      words = {}
      i = i + 1
    elseif c:match('%s') then
      end_word()
      i = i + 1
    else
      table.insert(word, c)
      i = i + 1
    end
  end
  end_word()
  table.insert(out, words)
  return out
end

-- dane_results - {result, identity, name} of danced's field, first field only; {} when none.
local function dane_results(task)
  local res = {}
  if not authserv_id then return res end
  local fields = task:get_header_full('Authentication-Results')
  if not fields or not fields[1] then return res end
  local first = fields[1]
  for _, f in ipairs(fields) do
    if f.order and first.order and f.order < first.order then first = f end
  end
  local raw = first.raw
  if type(raw) ~= 'string' then return res end
  -- raw is "Name: value\r\n" with folds kept; drop the name
  local value = raw:match('^[^:]*:(.*)$')
  if not value then return res end
  local rest = value:match('^%s*(.*)$')
  local idlen = #authserv_id
  if rest:sub(1, idlen):lower() ~= authserv_id or rest:sub(idlen + 1, idlen + 1) ~= ';' then
    return res
  end
  local infos = resinfo_words(rest:sub(idlen + 2))
  if not infos then return res end
  for _, words in ipairs(infos) do
    local result = words[1] and words[1]:match('^[Dd][Aa][Nn][Ee]=(%a+)$')
    if result then
      result = result:lower()
      for k = 2, #words do
        local ptype, name = words[k]:match('^([%a%.]+)=([%w%-%.]+)$')
        if ptype and identities[ptype:lower()] then
          table.insert(res, { result = result, identity = ptype:lower(), name = name:lower() })
        end
      end
    end
  end
  return res
end

-- dance_check - the DANE_* symbols of the message, each once, its identities as options.
local function dance_check(task)
  local found, order = {}, {}
  for _, r in ipairs(dane_results(task)) do
    local sym = symbols[r.result]
    if sym then
      if not found[sym[1]] then
        found[sym[1]] = {}
        table.insert(order, sym[1])
      end
      table.insert(found[sym[1]], r.identity .. '=' .. r.name)
    end
  end
  for _, name in ipairs(order) do
    task:insert_result(name, 1.0, found[name])
  end
end

-- dane_verified - the one name the message proved (reputation key), or nil.
local function dane_verified(task)
  local best, rank
  for _, r in ipairs(dane_results(task)) do
    local p = identities[r.identity]
    if r.result == 'pass' and (not rank or p < rank) then
      best, rank = r.name, p
    end
  end
  return best
end

if not authserv_id then
  rspamd_logger.errx(rspamd_config,
    'dance: no valid "authserv_id" in the "dance" section (rspamd.conf.local); DANE_* rules disabled')
  return
end

local id = rspamd_config:register_symbol({
  name = 'DANE_CHECK',
  type = 'callback',
  callback = dance_check,
  group = GROUP,
})
for _, s in pairs(symbols) do
  rspamd_config:register_symbol({
    name = s[1],
    type = 'virtual',
    parent = id,
    score = s[2],
    group = GROUP,
    description = s[3],
  })
end

-- the reputation rule's symbol (local.d/reputation.conf): its score scales
-- the rule's result, from -1 (a name with a clean history) to +1
rspamd_config:set_metric_symbol({
  name = 'DANE_REPUTATION',
  score = 2.0,
  group = GROUP,
  description = 'Reputation of the name the sending MTA proved with DANE',
})

lua_selectors.register_extractor(rspamd_config, 'dane_verified', {
  get_value = function(task)
    local name = dane_verified(task)
    if name then return name, 'string' end
    return nil
  end,
  description = "The name danced's field proved with dane=pass (smtp.mailfrom, else smtp.helo, else policy.ptr)",
})
