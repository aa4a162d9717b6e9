-- case.lua - one Sendmail-style milter conversation with danced, for t/milter/sendmail.sh.
--
-- miltertest -D SOCK=inet:PORT@127.0.0.1 -D CASE=name [-D FP=AB:CD:...] [-D HELO=...]
--            [-D MAILFROM=...] [-D VERIFY=...] [-D MTA=...] [-D TLS=1] [-D WANT=...]
--            [-D ADDR=client address, default 127.0.0.1] -s case.lua
--
-- It plays the MTA: negotiation, connect (with the v macro MTA), HELO with
-- the TLS macros a Sendmail built with STARTTLS passes ({tls_version},
-- {cert_fp} = FP, {verify} = VERIFY), MAIL FROM with the queue id, a few
-- header fields (forged copies of our Authentication-Results among them),
-- end of message; the stages danced skips (recipients, DATA, end of
-- headers) and the replies it does not want (connect, HELO, header
-- fields) are checked in the negotiation.  Then it checks what danced asked for at end of
-- message: the message accepted, exactly one field inserted, at index 0,
-- whose value contains every "|"-separated part of WANT, and (FORGED=1)
-- forged fields deleted.  A failed check raises an error: miltertest
-- exits non-zero and the shell script reports "not ok".  INSERTED=path
-- writes the inserted value there, for the authres parsers.  MANY=N sends N
-- more forged fields; EXPECT=reject expects the message refused with
-- a reply code (danced sets 550 5.7.1) instead.

local function check(cond, what)
    if not cond then
        error("CHECK FAILED: " .. what)
    end
end

local function conversation()
local conn = mt.connect(SOCK, 40, 0.05)
check(conn ~= nil, "connect to " .. SOCK)
check(mt.negotiate(conn, nil, nil, nil) == nil, "negotiate")
check(mt.test_action(conn, SMFIF_ADDHDRS), "danced asks to add header fields")
check(mt.test_action(conn, SMFIF_CHGHDRS), "danced asks to change header fields")
check(mt.test_option(conn, SMFIP_NOBODY), "danced skips the body")
check(mt.test_option(conn, SMFIP_NORCPT) and mt.test_option(conn, SMFIP_NODATA)
      and mt.test_option(conn, SMFIP_NOEOH), "danced skips recipients, DATA and the end of headers")
check(mt.test_option(conn, SMFIP_NR_CONN) and mt.test_option(conn, SMFIP_NR_HELO)
      and mt.test_option(conn, SMFIP_NR_HDR), "danced wants no reply to connect, HELO and header fields")
check(not mt.test_option(conn, SMFIP_NR_MAIL), "danced answers MAIL")

check(mt.macro(conn, SMFIC_CONNECT, "v", MTA or "8.17.1", "{client_resolve}", "FAIL") == nil, "connect macros")
check(mt.conninfo(conn, "mta.client.test", ADDR or "127.0.0.1") == nil, "conninfo")
check(mt.getreply(conn) == SMFIR_CONTINUE, "connect continues")

local helo_macros = {}
if TLS == "1" then
    check(mt.macro(conn, SMFIC_HELO, "{tls_version}", "TLSv1.3", "{cipher}", "TLS_AES_256_GCM_SHA384") == nil,
          "TLS macros")
    if FP ~= nil and FP ~= "" then
        check(mt.macro(conn, SMFIC_HELO, "{tls_version}", "TLSv1.3", "{cert_fp}", FP,
                       "{verify}", VERIFY or "FAIL") == nil, "certificate macros")
    elseif VERIFY ~= nil then
        check(mt.macro(conn, SMFIC_HELO, "{tls_version}", "TLSv1.3", "{verify}", VERIFY) == nil,
              "verify macro")
    end
end
check(mt.helo(conn, HELO or "mta1.ok.test") == nil, "helo")
check(mt.getreply(conn) == SMFIR_CONTINUE, "helo continues")

check(mt.macro(conn, SMFIC_MAIL, "i", "4F2B1A7214F") == nil, "mail macros")
check(mt.mailfrom(conn, "<sender@" .. (MAILFROM or HELO or "mta1.ok.test") .. ">") == nil, "mailfrom")
check(mt.getreply(conn) == SMFIR_CONTINUE, "mailfrom continues")

check(mt.header(conn, "Received", "from mta.client.test by mx.dest.test") == nil, "header")
for i = 1, tonumber(MANY or "0") do
    check(mt.header(conn, "Authentication-Results", "mx.dest.test; dane=pass smtp.helo=forged.test") == nil, "h")
end
if FORGED == "1" then
    check(mt.header(conn, "Authentication-Results", "mx.dest.test; dane=pass smtp.helo=forged.test") == nil, "h")
    check(mt.header(conn, "Authentication-Results", "other.example; spf=pass smtp.mailfrom=x.test") == nil, "h")
    check(mt.header(conn, "AUTHENTICATION-RESULTS", "(c) \"MX.DEST.TEST.\" (c); dane=pass") == nil, "h")
end
check(mt.header(conn, "Subject", "milter test") == nil, "header")
if not mt.test_option(conn, SMFIP_NOEOH) then
    check(mt.eoh(conn) == nil, "eoh")
end
check(mt.eom(conn) == nil, "eom")
if EXPECT == "reject" then
    check(mt.getreply(conn) == SMFIR_REPLYCODE, "a reply code, not acceptance")
    check(mt.getheader(conn, "Authentication-Results", 0) == nil, "nothing inserted into a rejected message")
    mt.echo("rejected")
    mt.disconnect(conn)
    return
end
check(mt.getreply(conn) == SMFIR_CONTINUE or mt.getreply(conn) == SMFIR_ACCEPT, "message accepted")

local value = mt.getheader(conn, "Authentication-Results", 0)
check(value ~= nil, "an Authentication-Results field was inserted")
check(mt.getheader(conn, "Authentication-Results", 1) == nil, "exactly one field was inserted")
check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results", value, 0), "inserted at index 0")
check(not mt.eom_check(conn, MT_HDRADD), "nothing appended at the bottom")
if FORGED == "1" then
    check(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results"), "forged fields deleted")
else
    check(not mt.eom_check(conn, MT_HDRDELETE), "nothing deleted")
end
for part in string.gmatch(WANT or "", "[^|]+") do
    check(string.find(value, part, 1, true) ~= nil, "the field has \"" .. part .. "\": " .. value)
end
if INSERTED ~= nil then
    local f = io.open(INSERTED, "w")
    f:write("Authentication-Results: " .. value .. "\n")
    f:close()
end
mt.echo("inserted: " .. string.gsub(value, "[\r\n\t]+", " "))
mt.disconnect(conn)
end

-- miltertest does not print a script's error: say it, then fail
local ok, err = pcall(conversation)
if not ok then
    mt.echo(tostring(err))
    os.exit(1)
end
