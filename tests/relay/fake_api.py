#!/usr/bin/python3
"""fake_api.py - a local stand-in for Slack incoming webhooks and the Trello REST API.

Follows the contracts in INTEGRATIONS.md (sections 1, 3, 5b); standard library only.

    fake_api.py PORT_FILE LOG_FILE [--trello-key K --trello-token T] [--tls CERT KEY]

Binds 127.0.0.1 on a port the system picks and writes it to PORT_FILE; with --tls it
speaks HTTPS with that certificate and key (PEM files). Every request
(except /_control) is appended to LOG_FILE as one JSON line: method, path, query, headers
(lower-cased names), body.

Routes
  POST /services/...                 Slack webhook: 200 "ok", or 400 invalid_payload (not a
                                     JSON object with text/blocks/attachments), invalid_blocks
                                     (Block Kit's published limits, in characters: > 50
                                     blocks; a section without text or fields, its text not
                                     1..3000, > 10 fields or one not 1..2000; a header over
                                     150; a context without 1..10 elements), msg_too_long
                                     (text > 40000)
  POST /1/cards                      Trello: auth (OAuth header or key/token query) -> 401
                                     "invalid key"/"invalid token"; idList ^[0-9a-fA-F]{24}$
                                     -> 400; else 200 + Card
  PUT  /1/cards/{id}                 404 unknown; updates dueComplete/closed/name/desc/due
  POST /1/cards/{id}/actions/comments  text required (400); 200 + commentCard action
  GET  /1/cards/{id}                 the card
  DELETE /1/cards/{id}               deletes it (404 unknown): 200 {"limits": {}}
  GET  /1/lists/{id}/cards           the list's open cards (Trello's default filter), with
                                     only the `fields` asked for (comma-separated; id always)
Parameters come from the query, a JSON body or a form body.

Control
  POST /_control/fail {"status":429,"count":2,"retry_after":1,"body":"...","delay":0,"after":0}
        after AFTER requests served normally, the next COUNT requests answer STATUS (with
        Retry-After if given, BODY as text, or Trello's JSON for a 429 on /1/) without being
        carried out; with "delay" and no status the request is carried out normally but the
        answer is held back DELAY seconds (a lost response/timeout). With "perform": true
        the request is carried out and then answered STATUS (the service did it, the client
        hears of a failure); with "drop": true it is carried out and the connection closed
        without an answer (the reply lost, or the client crashed before reading it).
  POST /_control/limits {"token_max":100,"key_max":300,"interval_ms":10000}
        Trello's rate limits (these are its defaults): each /1/ request counts against the
        token's and the key's window (fixed, from its first request); one over a limit is
        answered 429 API_TOKEN_LIMIT_EXCEEDED / API_KEY_LIMIT_EXCEEDED without being carried
        out. Every /1/ answer carries x-rate-limit-api-{token,key}-{interval-ms,max,remaining}.
  GET  /_control/log    the request log as a JSON array
  GET  /_control/cards  the cards
  POST /_control/reset  clears faults, log and cards
"""
import json
import os
import re
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"faults": [], "cards": {}, "log": [], "windows": {}}
LIMITS = {"token_max": 100, "key_max": 300, "interval_ms": 10000}
CONFIG = {"key": "", "token": "", "log": None}
ID_LIST = re.compile(r"^[0-9a-fA-F]{24}$")
OAUTH = re.compile(r'(\w+)="([^"]*)"')


def trello_id():
    return secrets.token_hex(12)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    def rate_limit(self):
        """Counts a /1/ request against Trello's windows: (headers, None) or, over a limit,
        (headers, the 429 body)."""
        now, headers, over = time.time(), {}, None
        with LOCK:
            for which in ("token", "key"):
                most, interval = LIMITS[which + "_max"], LIMITS["interval_ms"]
                w = STATE["windows"].get(which)
                if w is None or now >= w["start"] + interval / 1000:
                    w = STATE["windows"][which] = {"start": now, "used": 0}
                w["used"] += 1
                if w["used"] > most and over is None:
                    over = {"error": "API_%s_LIMIT_EXCEEDED" % which.upper(),
                            "message": "Rate limit exceeded"}
                prefix = "x-rate-limit-api-%s-" % which
                headers[prefix + "interval-ms"] = str(interval)
                headers[prefix + "max"] = str(most)
                headers[prefix + "remaining"] = str(max(0, most - w["used"]))
        return headers, over

    def reply(self, status, body, ctype="text/plain; charset=utf-8", headers=None):
        if isinstance(body, (bytes, str)):
            data = body if isinstance(body, bytes) else body.encode()
        else:
            data = json.dumps(body).encode()
            ctype = "application/json; charset=utf-8"
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if url.path.startswith("/_control/"):
            return self.control(url.path, raw)
        entry = {"t": time.time(), "method": self.command, "path": url.path, "query": query,
                 "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": raw.decode("utf-8", "replace")}
        limit_headers, over = self.rate_limit() if url.path.startswith("/1/") else ({}, None)
        with LOCK:
            fault = STATE["faults"].pop(0) if STATE["faults"] and over is None else None
            #  What the request is answered with when a fault decides it (else 200 or the
            #  route's own answer), so tests can tell failed attempts from deliveries.
            entry["fault_status"] = 429 if over else fault.get("status") if fault else None
            STATE["log"].append(entry)
            with open(CONFIG["log"], "a") as f:
                f.write(json.dumps(entry) + "\n")
        if over is not None:
            return self.reply(429, over, headers=limit_headers)
        if fault and fault.get("status") and not fault.get("perform"):
            time.sleep(fault.get("delay", 0))
            return self.fault_reply(fault, url.path)
        status, body = self.route(url.path, query, raw)
        if fault:
            time.sleep(fault.get("delay", 0))
            if fault.get("drop"):
                self.close_connection = True  # no answer at all: curl sees an empty reply
                return None
            if fault.get("status"):
                return self.fault_reply(fault, url.path)
        return self.reply(status, body, headers=limit_headers)

    def fault_reply(self, fault, path):
        headers = {}
        if fault.get("retry_after") is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        body = fault.get("body")
        if body is None and path.startswith("/1/") and fault["status"] == 429:
            body = {"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate limit exceeded"}
        return self.reply(fault["status"], body if body is not None else "error", headers=headers)

    do_GET = do_POST = do_PUT = do_DELETE = handle_any

    def control(self, path, raw):
        with LOCK:
            if path == "/_control/fail":
                fault = json.loads(raw or b"{}")
                STATE["faults"].extend([None] * int(fault.get("after", 0)))
                STATE["faults"].extend([fault] * int(fault.get("count", 1)))
                return self.reply(200, {"ok": True})
            if path == "/_control/limits":
                LIMITS.update(json.loads(raw or b"{}"))
                STATE["windows"].clear()
                return self.reply(200, {"ok": True})
            if path == "/_control/log":
                return self.reply(200, STATE["log"])
            if path == "/_control/cards":
                return self.reply(200, STATE["cards"])
            if path == "/_control/reset":
                STATE["faults"].clear()
                STATE["cards"].clear()
                STATE["log"].clear()
                STATE["windows"].clear()
                return self.reply(200, {"ok": True})
        return self.reply(404, "no such control")

    def route(self, path, query, raw):
        if path.startswith("/services/"):
            return slack_webhook(self.headers, raw)
        if path.startswith("/1/"):
            return trello(self.command, path, query, self.headers, raw)
        return 404, "not found"


def slack_webhook(headers, raw):
    if not (headers.get("Content-Type") or "").startswith("application/json"):
        return 400, "invalid_payload"
    try:
        msg = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return 400, "invalid_payload"
    if not isinstance(msg, dict) or not any(k in msg for k in ("text", "blocks", "attachments")):
        return 400, "invalid_payload"
    if len(msg.get("text", "")) > 40000:
        return 400, "msg_too_long"
    blocks = msg.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50 or not all(valid_block(b) for b in blocks):
        return 400, "invalid_blocks"
    return 200, "ok"


def text_of(obj, most):
    """True if obj is a text object whose text has 1..MOST characters (Python counts code
    points, as Slack's limits do)."""
    return isinstance(obj, dict) and isinstance(obj.get("text"), str) and 0 < len(obj["text"]) <= most


def valid_block(b):
    """Block Kit's published limits for the blocks the relay sends."""
    if not isinstance(b, dict):
        return False
    if b.get("type") == "section":
        fields = b.get("fields")
        if "text" not in b and fields is None:
            return False
        if "text" in b and not text_of(b["text"], 3000):
            return False
        return fields is None or (isinstance(fields, list) and len(fields) <= 10 and
                                  all(text_of(f, 2000) for f in fields))
    if b.get("type") == "header":
        return text_of(b.get("text"), 150)
    if b.get("type") == "context":
        els = b.get("elements")
        return isinstance(els, list) and 0 < len(els) <= 10
    return isinstance(b.get("type"), str)


def trello_params(query, headers, raw):
    params = dict(query)
    ctype = headers.get("Content-Type") or ""
    if raw and ctype.startswith("application/json"):
        body = json.loads(raw.decode("utf-8"))
        params.update({k: v for k, v in body.items()})
    elif raw and ctype.startswith("application/x-www-form-urlencoded"):
        params.update(dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True)))
    auth = headers.get("Authorization") or ""
    if auth.startswith("OAuth "):
        fields = dict(OAUTH.findall(auth))
        params.setdefault("key", fields.get("oauth_consumer_key"))
        params.setdefault("token", fields.get("oauth_token"))
    return params


def truthy(v):
    return v is True or str(v).lower() == "true"


def trello(method, path, query, headers, raw):
    try:
        p = trello_params(query, headers, raw)
    except ValueError:
        return 400, "invalid json"
    if p.get("key") != CONFIG["key"]:
        return 401, "invalid key"
    if p.get("token") != CONFIG["token"]:
        return 401, "invalid token"
    parts = path.strip("/").split("/")  # 1, cards, {id}, actions, comments
    with LOCK:
        cards = STATE["cards"]
        if method == "GET" and len(parts) == 4 and parts[:2] == ["1", "lists"] and parts[3] == "cards":
            if not ID_LIST.match(parts[2]):
                return 400, "invalid id"
            fields = str(p.get("fields", "all"))
            keep = None if fields == "all" else set(fields.split(",")) | {"id"}
            return 200, [{k: v for k, v in c.items() if k != "comments" and (keep is None or k in keep)}
                         for c in cards.values() if c["idList"] == parts[2] and not c["closed"]]
        if method == "POST" and parts == ["1", "cards"]:
            if not ID_LIST.match(str(p.get("idList", ""))):
                return 400, "invalid value for idList"
            cid = trello_id()
            short = secrets.token_urlsafe(6)[:8]
            card = {"id": cid, "name": p.get("name", ""), "desc": p.get("desc", ""),
                    "due": p.get("due"), "dueComplete": truthy(p.get("dueComplete")),
                    "closed": False, "idList": p["idList"], "idBoard": trello_id(),
                    "shortLink": short, "shortUrl": "https://trello.com/c/" + short,
                    "url": "https://trello.com/c/%s/1-card" % short, "comments": []}
            cards[cid] = card
            return 200, {k: v for k, v in card.items() if k != "comments"}
        if len(parts) >= 3 and parts[:2] == ["1", "cards"]:
            card = cards.get(parts[2])
            if card is None:
                return 404, "The requested resource was not found."
            if method == "GET" and len(parts) == 3:
                return 200, card
            if method == "DELETE" and len(parts) == 3:
                del cards[parts[2]]
                return 200, {"limits": {}}
            if method == "PUT" and len(parts) == 3:
                for k in ("dueComplete", "closed"):
                    if k in p:
                        card[k] = truthy(p[k])
                for k in ("name", "desc", "due"):
                    if k in p:
                        card[k] = p[k]
                return 200, {k: v for k, v in card.items() if k != "comments"}
            if method == "POST" and parts[3:] == ["actions", "comments"]:
                if not p.get("text"):
                    return 400, "invalid value for text"
                action = {"id": trello_id(), "type": "commentCard", "idMemberCreator": trello_id(),
                          "date": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                          "data": {"text": p["text"], "card": {"id": card["id"], "name": card["name"]}}}
                card["comments"].append(p["text"])
                return 200, action
    return 404, "Cannot %s %s" % (method, path)


def main():
    args = sys.argv[1:]
    port_file, CONFIG["log"] = args[0], args[1]
    if "--trello-key" in args:
        CONFIG["key"] = args[args.index("--trello-key") + 1]
    if "--trello-token" in args:
        CONFIG["token"] = args[args.index("--trello-token") + 1]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if "--tls" in args:
        at = args.index("--tls")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args[at + 1], args[at + 2])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
