"""Checks docs/vectors/ with the Python client (tally.py): builds and signs
each transaction from its fields, verifies every proven answer and the
signed header, and refuses a tampered copy of each.

    python3 docs/examples/python/check_vectors.py docs/vectors

Prints one line per check and exits non-zero if any fails.
"""

import json
import os
import sys

import tally

failures = []


def check(name, ok, why=""):
    print("%s  %s%s" % ("ok  " if ok else "FAIL", name, (": " + why) if why and not ok else ""))
    if not ok:
        failures.append(name)


def refused(name, fn):
    """fn must raise tally.Refused (never anything else)."""
    try:
        fn()
    except tally.Refused:
        check("refuses " + name, True)
        return
    except Exception as e:  # a crash is not a refusal
        check("refuses " + name, False, "crashed with %r" % e)
        return
    check("refuses " + name, False, "accepted")


def accepted(name, fn):
    try:
        fn()
        check(name, True)
    except Exception as e:
        check(name, False, repr(e))


def flip(b, i):
    b = bytearray(b)
    b[i] ^= 1
    return bytes(b)


def check_transactions(f):
    keys = {k["name"]: tally.Key(bytes.fromhex(k["seed"])) for k in f["keys"]}
    for k in f["keys"]:
        key = keys[k["name"]]
        check("key %s: public key and address from the seed" % k["name"],
              key.public_key.hex() == k["public_key"] and key.address.hex() == k["address"])
    for v in f["transactions"]:
        key = keys[v["signer"]]
        name = "tx %s" % v["name"]
        msgs = [bytes.fromhex(m["bytes"]) for m in v["messages"]]
        # Build the messages this client knows from their fields.
        m = v["messages"][0]["message"]
        built = None
        if "add_member" in m:
            am = m["add_member"]
            import base64
            pub = base64.b64decode(am["pub_key"])
            roles = [ROLES[r] for r in am.get("roles", [])]
            admin_agency = v["signer"].split("/")[0]
            new_key = next(k for k in keys.values() if k.public_key == pub)
            proof = new_key.sign(tally.key_proof_statement(v["chain_id"], admin_agency, new_key.address, pub, tally.POP_ADD_MEMBER))
            check(name + ": key proof of possession", proof == base64.b64decode(am["key_proof"]))
            built = tally.msg_add_member(pub, roles, proof)
        elif "appropriate" in m:
            a = m["appropriate"]
            built = tally.msg_appropriate(a["reference"], int(a["amount"]), a["currency"])
        elif "vote" in m:
            built = tally.msg_vote(int(m["vote"]["proposal_id"]), VOTE_OPTIONS[m["vote"]["option"]])
        if built is not None:
            check(name + ": message bytes from its fields", built == msgs[0])
        memo = ""
        if v.get("memo"):
            memo = tally.memo_commitment(bytes.fromhex(v["memo"]["salt"]), v["memo"]["note"])
            check(name + ": memo commitment", memo == v["memo"]["commitment"])
        body = tally.tx_body(v["chain_id"], key.address, v["nonce"], v["timeout_height"], memo, msgs)
        check(name + ": body bytes", body.hex() == v["body_bytes"] == v["sign_bytes"])
        tx, sig, h = tally.sign_tx(key, body)
        check(name + ": signature", sig.hex() == v["signature"])
        check(name + ": tx bytes", tx.hex() == v["tx_bytes"])
        check(name + ": hash", h.hex() == v["hash"])
        check(name + ": signature verifies", tally.verify_ed25519(key.public_key, body, sig))
        check(name + ": a changed body does not verify", not tally.verify_ed25519(key.public_key, flip(body, len(body) - 1), sig))


# Enum numbers the vectors' messages use (proto/tally/agency/v1/agency.proto,
# proto/tally/gov/v1/gov.proto).
ROLES = {"ROLE_ADMIN": 1, "ROLE_TREASURY": 2}
VOTE_OPTIONS = {"VOTE_OPTION_YES": 1, "VOTE_OPTION_NO": 2, "VOTE_OPTION_ABSTAIN": 3}


def expected_key(q):
    """The key the client computes from the request (docs/protocol.md §2)."""
    path, data = q["request"]["path"], bytes.fromhex(q["request"]["data"])
    if path == "/agency/account":
        return tally.account_key(data)
    if path == "/tax/tax_type":
        return tally.tax_type_key(data.decode())
    if path == "/agency/members":
        arg, _, _ = tally.parse_list_request(data)
        return tally.members_prefix(arg.decode())
    raise KeyError(path)


def response(q):
    r = q["response"]
    return {"code": r["code"], "codespace": r["codespace"], "key": bytes.fromhex(r["key"]),
            "value": bytes.fromhex(r["value"]), "height": r["height"],
            "proof_ops": [(o["type"], bytes.fromhex(o["key"]), bytes.fromhex(o["data"])) for o in (r["proof_ops"] or [])]}


def check_queries(f, root):
    height = f["state_height"]
    for q in f["queries"]:
        name = "query %s" % q["name"]
        key = expected_key(q)
        check(name + ": the key computed from the request", key.hex() == q["expected_key"])
        res = response(q)
        if q["request"]["path"] == "/agency/members":
            _, after, _ = tally.parse_list_request(bytes.fromhex(q["request"]["data"]))
            check_members(name, root, key, after, res)
            continue
        accepted(name + ": verifies", lambda: tally.verify_record(root, height, key, res))

        def changed(**kw):
            r = dict(res)
            r.update(kw)
            return r
        proof = res["proof_ops"][0][2]
        refused(name + " against another app hash", lambda: tally.verify_record(flip(root, 0), height, key, res))
        refused(name + " for another key", lambda: tally.verify_record(root, height, flip(key, len(key) - 1),
                                                                      changed(key=flip(key, len(key) - 1))))
        for i in (0, len(proof) // 3, len(proof) // 2, len(proof) - 1):
            refused(name + " with proof byte %d changed" % i, lambda: tally.verify_record(
                root, height, key, changed(proof_ops=[(tally.PROOF_OP_TYPE, key, flip(proof, i))])))
        crashed, accepted_flips = [], 0
        for i in range(len(proof)):
            for bit in (0x01, 0x80):
                bad = bytearray(proof)
                bad[i] ^= bit
                try:
                    tally.verify_record(root, height, key, changed(proof_ops=[(tally.PROOF_OP_TYPE, key, bytes(bad))]))
                    accepted_flips += 1
                except tally.Refused:
                    pass
                except Exception as e:  # a crash is not a refusal
                    crashed.append("byte %d: %r" % (i, e))
        check(name + ": every one-bit change of the proof is refused, none crashes",
              not crashed and accepted_flips == 0, "; ".join(crashed[:3]) + " %d accepted" % accepted_flips)
        if res["value"]:
            refused(name + " with a changed value", lambda: tally.verify_record(
                root, height, key, changed(value=flip(res["value"], len(res["value"]) // 2))))
            refused(name + " claimed absent", lambda: tally.verify_record(
                root, height, key, changed(value=b"", code=18, codespace="tx")))
        else:
            refused(name + " with a value given", lambda: tally.verify_record(
                root, height, key, changed(value=b"\x01", code=0, codespace="")))


def check_members(name, root, prefix, after, res):
    def record_key(index_key):  # ag/m/<agency>/<address> -> ag/c/<address>
        return tally.account_key(index_key[len(prefix):])

    page = tally.decode_proved_list(res["value"])
    accepted(name + ": page verifies, complete", lambda: tally.verify_page(root, prefix, after, record_key, page))
    check(name + ": page is complete", page["complete"] and not page["next_key"])
    tampered = {
        "with an entry left out": lambda p: p.update(entries=p["entries"][1:]),
        "with its last range proof cut": lambda p: p.update(range_proofs=p["range_proofs"][:-1]),
        "with a changed entry value": lambda p: p["entries"].__setitem__(0, (p["entries"][0][0], flip(p["entries"][0][1], 3), p["entries"][0][2])),
        "with a changed range proof": lambda p: p["range_proofs"].__setitem__(1, flip(p["range_proofs"][1], len(p["range_proofs"][1]) // 2)),
        "marked incomplete": lambda p: p.update(complete=False),
    }
    for what, change in tampered.items():
        p = tally.decode_proved_list(res["value"])
        change(p)
        refused(name + " " + what, lambda: tally.verify_page(root, prefix, after, record_key, p))
    other = b"" if after else prefix + b"\xff"
    refused(name + " as the answer to another page", lambda: tally.verify_page(
        root, prefix, other, record_key, tally.decode_proved_list(res["value"])))


def check_header(hf, qf):
    chain_id, sh, vals = hf["chain_id"], hf["signed_header"], hf["validators"]
    check("header: validators hash", tally.validators_hash(vals).hex() == hf["validators_hash"])
    check("header: header hash", tally.header_hash(sh["header"]).hex() == hf["header_hash"])
    c = sh["commit"]
    for i, s in enumerate(c["signatures"]):
        if s["block_id_flag"] == tally.BLOCK_ID_FLAG_COMMIT:
            sb = tally.vote_sign_bytes(chain_id, int(c["height"]), int(c["round"]), c["block_id"], s["timestamp"])
            check("header: vote sign bytes of validator %d" % i, sb.hex() == hf["vote_sign_bytes"][i])
    try:
        h = tally.verify_commit(chain_id, sh, vals)
        check("header: commit signed by more than two thirds", True)
    except tally.Refused as e:
        check("header: commit signed by more than two thirds", False, str(e))
        return None
    check("header: height is the state height + 1, app hash is the queries' root",
          int(h["height"]) == qf["state_height"] + 1 and h["app_hash"].lower() == qf["app_hash"])

    def tampered(change):
        cp = json.loads(json.dumps(sh))
        change(cp)
        return cp
    refused("a header with another app hash", lambda: tally.verify_commit(chain_id, tampered(
        lambda s: s["header"].update(app_hash="00" + s["header"]["app_hash"][2:])), vals))

    def bad_sig(s):
        sig = tally.base64.b64decode(s["commit"]["signatures"][0]["signature"])
        s["commit"]["signatures"][0]["signature"] = tally.base64.b64encode(flip(sig, 5)).decode()
    refused("a changed commit signature", lambda: tally.verify_commit(chain_id, tampered(bad_sig), vals))

    def short(s):
        s["commit"]["signatures"][1] = {"block_id_flag": 1, "validator_address": "", "timestamp": "0001-01-01T00:00:00Z", "signature": None}
    refused("a commit short of two thirds", lambda: tally.verify_commit(chain_id, tampered(short), vals))
    refused("a header for another chain", lambda: tally.verify_commit("tally-other-1", sh, vals))
    refused("another validator set", lambda: tally.verify_commit(chain_id, sh, vals[:3]))
    return bytes.fromhex(h["app_hash"])


def main(directory):
    def load(name):
        with open(os.path.join(directory, name)) as fh:
            return json.load(fh)
    txs, qs, hf = load("transactions.json"), load("queries.json"), load("header.json")
    check_transactions(txs)
    root = check_header(hf, qs)
    if root is None:
        check("queries: no verified header to check them against", False)
    else:
        check_queries(qs, root)
    print("%d checks failed" % len(failures) if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/vectors"))
