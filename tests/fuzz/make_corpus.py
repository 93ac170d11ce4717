#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses: tests/fuzz/corpus/NAME/ for fuzz_NAME.

  decode  one selector byte (see fuzz_decode.c) and a decoder's input, from proto/vectors/
  config  configuration files: systemd/hubd.conf.example and variants of it
  admin   ADMIN bodies as clients/hubctl_admin.c writes them, on the hub of fuzz_hub.h
  action  a kind/author byte (see fuzz_action.c) and an action object as hubctl writes it
  query   QUERY arguments as hubctl sends them

Seeds are only where the fuzzers start: the committed corpora are what the fuzzers kept
from them (libFuzzer -merge=1), so run this to seed a new harness or selector, not to
reset the corpora. Seeds already present are overwritten. Usage: python3 make_corpus.py
"""
import json
import os
import re
import struct

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "..")
vectors = os.path.join(root, "proto", "vectors")
ALL, ENV, HEADER, ACK, META, CREDIT, SUB, HIST, ERROR, CHECKPOINT, JSON, KEYTEXT, KEYFILE, \
    PUBFILE, PACK = range(15)

# The partners of fuzz_hub.h. bob, carol and dave are the Ed25519 keys of the seeds 32 x
# 0x42, 0x43 and 0x44 (only bob and carol are in the hub; dave is new to it).
ADMIN_KEY = "ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ"
ALICE_KEY = "rcFAEfgtHFbZVqpPnXPYhYNhpgYEhSXg0Ixjjcdd2Mc"
HUB_KEY = "AgvUJ0RrcjQk2A0srTUro982SdDvj6rgyn6yVEOUGyk"
BOB_KEY = "IVL40Zt5HSRFMkLhXy6rbLfP-ntqXtMAl5YOBpiB2xI"
DAVE_KEY = "11l5O7wTooGagnx2rbb7qKSa7gB_SfLQmS2ZuCWtLEg"
FUTURE_MS = 4102444800000  # 2100-01-01


def seed(target, name, payload, selector=None):
    if isinstance(payload, (dict, list)):
        payload = json.dumps(payload, separators=(",", ":"))
    if isinstance(payload, str):
        payload = payload.encode()
    if selector is not None:
        payload = bytes([selector]) + payload
    out = os.path.join(here, "corpus", target)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, name), "wb") as f:
        f.write(payload)


# decode: libhubproto
for n in range(1, 6):
    v = json.load(open(os.path.join(vectors, "msg-%d.json" % n)))
    seed("decode", "header-%d" % n, v["header"], HEADER)
    seed("decode", "all-header-%d" % n, v["header"], 0xFF)
    seed("decode", "keytext-%d" % n, v["public_key"], KEYTEXT)
    seed("decode", "keyfile-%d" % n, v["key_file"], KEYFILE)
    seed("decode", "pubfile-%d" % n, " %s\r\n" % v["public_key"], PUBFILE)
    prev, chain = bytes.fromhex(v["prev_hash"]), bytes.fromhex(v["chain_hash"])
    seed("decode", "meta-%d" % n, struct.pack(">QQ", n, 1700000000000 + n) + prev + chain, META)
    seed("decode", "ack-%d" % n, struct.pack(">QB", n, n % 2), ACK)


def record(v, name):
    # One MSGS record (PROTOCOL.md 6.4) of a message vector.
    header, body = v["header"].encode(), v["body"].encode()
    meta = struct.pack(">QQ", v["seq"], 1700000000000) + bytes.fromhex(v["prev_hash"]) + \
        bytes.fromhex(v["chain_hash"])
    return meta + struct.pack(">I", len(header)) + header + struct.pack(">I", len(body)) + \
        body + bytes.fromhex(v["signature"]) + struct.pack(">I", len(name)) + name


packs = [json.load(open(os.path.join(vectors, "msg-%d.json" % n))) for n in (1, 2)]
seed("decode", "pack-1", record(packs[0], b"acme"), PACK)
seed("decode", "pack-2", record(packs[0], b"acme") + record(packs[1], b""), PACK)


def pub_record(v, req_id):
    # One PUBLISHES record (PROTOCOL.md 4.4) of a message vector.
    header, body = v["header"].encode(), v["body"].encode()
    return struct.pack(">II", req_id, len(header)) + header + struct.pack(">I", len(body)) + \
        body + bytes.fromhex(v["signature"])


seed("decode", "publishes-1", pub_record(packs[0], 1) + pub_record(packs[1], 2), PACK)
seed("decode", "acks-1", struct.pack(">IQB", 1, 7, 0) + struct.pack(">IQB", 2, 8, 1), PACK)
cp = json.load(open(os.path.join(vectors, "checkpoint-1.json")))
seed("decode", "checkpoint-1", cp["json"], CHECKPOINT)
seed("decode", "all-checkpoint-1", cp["json"], ALL)
for cmd in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
            0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x88):
    seed("decode", "env-%02x" % cmd, b"HB\x01" + bytes([cmd]) + struct.pack(">I", cmd * 7), ENV)
for n in (1, 1000, 100000):
    seed("decode", "credit-%d" % n, struct.pack(">I", n), CREDIT)
seed("decode", "subscribe-1", '{"channels":["updates","ops.eu"],"since":17,"credit":250}', SUB)
seed("decode", "subscribe-2", '{"channels":["a"]}', SUB)
seed("decode", "subscribe-3", '{"channels":["a"],"since":0,"pack":true}', SUB)
seed("decode", "history-1", '{"channel":"updates","since":99,"limit":1000}', HIST)
seed("decode", "history-2", '{"channel":"*"}', HIST)
seed("decode", "history-3", '{"channel":"*","since":0,"pack":true}', HIST)
seed("decode", "error-1",
     '{"code":8,"error":"BAD_SIGNATURE","reason":"r\\u00e9sum\\u00e9 \u20ac"}', ERROR)
seed("decode", "json-1", '{"q":"channels","nested":{"a":[1,2.5,true,null,"x"]}}', JSON)
seed("decode", "all-subscribe-1",
     '{"channels":["updates"],"channel":"updates","code":1,"error":"X"}', ALL)

# config: the example as shipped, with its relays switched on, and small variants
example = open(os.path.join(root, "systemd", "hubd.conf.example")).read()
seed("config", "example", example)
relays = re.sub(r"^;(\[relay\.|[a-z_]+ = )", r"\1", example, flags=re.M)
seed("config", "example-relays", relays.replace("@HUB_PLUGIN_DIR@", "/usr/lib/hubd/plugins"))
seed("config", "durations", "[reminders]\nbefore = 90s, 15m, 2h, 3d, 600\n"
     "overdue_every = 12h\n[digest]\nevery = 0\n")
seed("config", "hub", "\ufeff[hub]\r\ndata_dir = /var/lib/hubd\r\nendpoint = tcp://[::]:*\r\n"
     "max_message_bytes = 16777216\r\nlog_level = debug\r\nverify_threads = 64\r\n")
seed("config", "multiline", "[relay.mail]\nplugin = email\nchannels = updates,\n"
     "  actions\nto = a@example.org ; comment\n# comment\n\n[relay.mail]\nfrom : hub@x\n")
seed("config", "errors", "[hub]\nmax_message_bytes = 1023\nlog_level = loud\n"
     "verify_threads = -1\nnope = 1\n[relay.]\nx = 1\n[relay.r]\nkey\n[other]\n"
     "[reminders]\nbefore = 1d,,x\noverdue_every = 0\n")
seed("config", "many-relays", "".join("[relay.r%d]\nplugin=email\nchannels=updates\nk%d=v\n" % (i, i)
                                      for i in range(34)))

# admin: as `hubctl partner add|remove` and `hubctl channel create` write them
def partner_add(name, key, org="", email="", roles=()):
    return {"op": "partner.add", "name": name, "key": key, "org": org, "email": email,
            "roles": list(roles)}


seed("admin", "add-dave", partner_add("dave", DAVE_KEY, "Delta Org", "dave@example.org",
                                      ("convener", "finance")))
seed("admin", "add-alice-again", partner_add("alice", DAVE_KEY))
seed("admin", "add-bob-key", partner_add("erin", BOB_KEY))
seed("admin", "add-hub-key", partner_add("hubby", HUB_KEY))
seed("admin", "add-admin-key", partner_add("root", ADMIN_KEY, roles=("admin",)))
seed("admin", "add-builtin", partner_add("hub", DAVE_KEY))
seed("admin", "add-bad-email", partner_add("frank", DAVE_KEY, email="frank at example"))
seed("admin", "add-role-admin", partner_add("mal", DAVE_KEY, roles=("finance", "admin")))
seed("admin", "remove-bob", {"op": "partner.remove", "name": "bob"})
seed("admin", "remove-carol", {"op": "partner.remove", "name": "carol"})
seed("admin", "remove-zed", {"op": "partner.remove", "name": "zed"})
seed("admin", "create-finance", {"op": "channel.create", "name": "finance.eu-2",
                                 "publish": ["convener", "finance"], "read": ["*"]})
seed("admin", "create-ops", {"op": "channel.create", "name": "ops", "publish": ["*"],
                             "read": ["*"]})
seed("admin", "create-default", {"op": "channel.create", "name": "misc"})
seed("admin", "create-empty", {"op": "channel.create", "name": "nobody", "publish": [],
                               "read": ["*"]})
seed("admin", "unknown-op", {"op": "partner.rename", "name": "bob", "to": "robert"})

# action: the byte is kind (low two bits) + 4 * author (0 alice, 1 bob, 2 admin)
ACTION, DONE, CANCEL, REMINDER = range(4)
ALICE, BOB, ADMIN = 0, 4, 8
seed("action", "add", {"owner": "bob", "due": FUTURE_MS}, ACTION | ALICE)
seed("action", "add-past", {"owner": "alice", "due": 1700000000000}, ACTION | BOB)
seed("action", "add-1999", {"owner": "alice", "due": 946684799999}, ACTION | BOB)
seed("action", "add-stranger", {"owner": "zed", "due": FUTURE_MS}, ACTION | ADMIN)
seed("action", "done-7", {"id": 7}, DONE | BOB)
seed("action", "done-9", {"id": 9}, DONE | ALICE)
seed("action", "cancel-8", {"id": 8}, CANCEL | BOB)
seed("action", "cancel-8-admin", {"id": 8}, CANCEL | ADMIN)
seed("action", "done-99", {"id": 99}, DONE | ALICE)
seed("action", "reminder", {"id": 7, "owner": "bob", "due": FUTURE_MS, "slot": "before",
                            "slot_ms": FUTURE_MS - 86400000}, REMINDER)
seed("action", "vector-4", json.load(open(os.path.join(vectors, "msg-4.json")))["header"],
     ACTION | ALICE)

# query: as hubctl's listings ask
for name, query in (("channels", {"q": "channels"}), ("partners", {"q": "partners"}),
                    ("partner", {"q": "partner", "name": "alice"}),
                    ("partner-admin", {"q": "partner", "name": "admin"}),
                    ("actions", {"q": "actions"}),
                    ("actions-owner", {"q": "actions", "owner": "bob", "status": ["open"]}),
                    ("actions-status", {"q": "actions", "status": ["overdue", "done", 3]}),
                    ("action", {"q": "action", "id": 7}),
                    ("action-missing", {"q": "action", "id": 99}),
                    ("relay-retry", {"q": "relay.retry", "name": "mail"}),
                    ("unknown", {"q": "status"})):
    seed("query", name, query)
