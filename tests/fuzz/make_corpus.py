#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_decode (tests/fuzz/corpus/) from proto/vectors/.

Each file is one selector byte (see fuzz_decode.c) followed by a decoder's input.
Run it again only when the vectors or the selectors change: python3 make_corpus.py
"""
import json
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))
vectors = os.path.join(here, "..", "..", "proto", "vectors")
out = os.path.join(here, "corpus")
os.makedirs(out, exist_ok=True)
ALL, ENV, HEADER, ACK, META, CREDIT, SUB, HIST, ERROR, CHECKPOINT, JSON, KEYTEXT, KEYFILE = range(13)


def seed(name, selector, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([selector]) + payload)


for n in range(1, 6):
    v = json.load(open(os.path.join(vectors, "msg-%d.json" % n)))
    seed("header-%d" % n, HEADER, v["header"])
    seed("all-header-%d" % n, 0xFF, v["header"])
    seed("keytext-%d" % n, KEYTEXT, v["public_key"])
    seed("keyfile-%d" % n, KEYFILE, v["key_file"])
    prev, chain = bytes.fromhex(v["prev_hash"]), bytes.fromhex(v["chain_hash"])
    seed("meta-%d" % n, META, struct.pack(">QQ", n, 1700000000000 + n) + prev + chain)
    seed("ack-%d" % n, ACK, struct.pack(">QB", n, n % 2))
cp = json.load(open(os.path.join(vectors, "checkpoint-1.json")))
seed("checkpoint-1", CHECKPOINT, cp["json"])
seed("all-checkpoint-1", ALL, cp["json"])
for cmd in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
            0x81, 0x82, 0x83, 0x84, 0x85, 0x88):
    seed("env-%02x" % cmd, ENV, b"HB\x01" + bytes([cmd]) + struct.pack(">I", cmd * 7))
for n in (1, 1000, 100000):
    seed("credit-%d" % n, CREDIT, struct.pack(">I", n))
seed("subscribe-1", SUB, '{"channels":["updates","ops.eu"],"since":17,"credit":250}')
seed("subscribe-2", SUB, '{"channels":["a"]}')
seed("history-1", HIST, '{"channel":"updates","since":99,"limit":1000}')
seed("history-2", HIST, '{"channel":"*"}')
seed("error-1", ERROR, '{"code":8,"error":"BAD_SIGNATURE","reason":"r\\u00e9sum\\u00e9 \u20ac"}')
seed("json-1", JSON, '{"q":"channels","nested":{"a":[1,2.5,true,null,"x"]}}')
seed("all-subscribe-1", ALL, '{"channels":["updates"],"channel":"updates","code":1,"error":"X"}')
