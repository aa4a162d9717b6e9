-- contrib/rspamd/rspamd.local.lua - load danced's rules (contrib/rspamd/dance.lua).
-- Add this line to /etc/rspamd/rspamd.local.lua (create it if missing) and
-- copy dance.lua next to it; see the comment at the top of dance.lua.
dofile(rspamd_paths['LOCAL_CONFDIR'] .. '/dance.lua')
