#!/usr/bin/python3
"""smtp_server.py - a real SMTP server (aiosmtpd, Debian's python3-aiosmtpd) on loopback.

    smtp_server.py PORT_FILE SPOOL_DIR [--port N] [--auth USER:PASSWORD] [--auth-reply "454 ..."]
                   [--rcpt-reply "550 ..."] [--refuse ADDRESS "550 ..."]... [--tls CERT KEY]
                   [--data-reply-once "451 ..."]

Binds 127.0.0.1 on port N (default: one the system picks) and writes it to PORT_FILE.
Each accepted message is stored byte for byte as SPOOL_DIR/N.eml (numbered on from the
messages already there, so a server started again spools beside the first), its
envelope as SPOOL_DIR/N.json
({mail_from, rcpt_tos, auth}). --auth requires AUTH with those credentials (bad ones get
535, or the --auth-reply, e.g. a temporary 454); --rcpt-reply answers every RCPT with that
reply, --refuse only the RCPT of ADDRESS (repeatable); --tls offers and requires STARTTLS;
--data-reply-once answers the first DATA with that reply (every RCPT accepted before it).
"""
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Spool:
    def __init__(self, spool, rcpt_reply, refuse, data_reply=None):
        self.spool, self.rcpt_reply, self.refuse = spool, rcpt_reply, refuse
        self.data_reply = data_reply
        self.count = len([name for name in os.listdir(spool) if name.endswith(".eml")])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply or address in self.refuse:
            return self.rcpt_reply or self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            reply, self.data_reply = self.data_reply, None
            return reply
        self.count += 1
        base = os.path.join(self.spool, str(self.count))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "auth": session.authenticated}, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 Message accepted for delivery"


def authenticator(user, password, reply):
    def check(server, session, envelope, mechanism, auth_data):
        if (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
                and auth_data.password == password.encode() and not reply):
            return AuthResult(success=True)
        # handled=False, or the server answers nothing and the client hangs (INTEGRATIONS 5a)
        return AuthResult(success=False, handled=False, message=reply)
    return check


async def main():
    args = sys.argv[1:]
    port_file, spool = args[0], args[1]
    os.makedirs(spool, exist_ok=True)
    def option(name):
        return args[args.index(name) + 1] if name in args else None
    refuse = {args[at + 1]: args[at + 2] for at, arg in enumerate(args) if arg == "--refuse"}
    handler = Spool(spool, option("--rcpt-reply"), refuse, option("--data-reply-once"))
    kwargs = {"decode_data": False, "hostname": "relaytest.local"}
    if "--auth" in args:
        user, password = option("--auth").split(":", 1)
        kwargs.update(authenticator=authenticator(user, password, option("--auth-reply")),
                      auth_required=True, auth_require_tls=False)
    if "--tls" in args:
        at = args.index("--tls")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args[at + 1], args[at + 2])
        kwargs.update(tls_context=ctx, require_starttls=True)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, **kwargs), "127.0.0.1",
                                      int(option("--port") or 0))
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
