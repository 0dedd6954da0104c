"""Signs, submits and verifies against a running Tally node, with the
Python client (tally.py) alone.

    python3 docs/examples/python/live.py RPC_URL GENESIS_JSON ADMIN_SEED_HEX AGENCY_ID

The admin (an ADMIN of agency AGENCY_ID, whose 32-byte ed25519 seed is given)
adds a new member; the script waits for the block that includes it, then
reads the member's account and an address that has none, and accepts each
answer only after verifying its proof against the app hash of a header it
verified: the next block's, signed by more than two thirds of the
validator set taken from the genesis file (the trust root).
"""

import base64
import hashlib
import json
import secrets
import sys
import time

import tally

ROLE_TREASURY = 2  # proto/tally/agency/v1/agency.proto
DEADLINE_SECONDS = 120  # generous: the machine may be loaded


def step(msg):
    print("ok    " + msg, flush=True)


def wait_for(what, fn):
    """Polls fn until it returns a true value, up to the deadline."""
    end = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            v = fn()
            if v:
                return v
        except (tally.Refused, OSError):
            pass
        if time.monotonic() > end:
            raise SystemExit("FAIL  timed out waiting for " + what)
        time.sleep(0.2)


def latest_height(url):
    return int(tally.rpc(url, "status", {})["sync_info"]["latest_block_height"])


def genesis_validators(genesis):
    """The genesis validators in validator-set order (voting power
    descending, then address ascending), as /validators lists them."""
    vals = [{"address": tally.address_of(base64.b64decode(v["pub_key"]["value"])).hex().upper(),
             "pub_key": v["pub_key"], "voting_power": v["power"]} for v in genesis["validators"]]
    vals.sort(key=lambda v: (-int(v["voting_power"]), bytes.fromhex(v["address"])))
    return vals


def verified_root(url, chain_id, trusted, state_height):
    """The app hash of the state after state_height, from the header of
    the next block, verified against the trusted validator set."""
    h = state_height + 1
    wait_for("block %d" % h, lambda: latest_height(url) >= h)
    sh = tally.rpc(url, "commit", {"height": str(h)})["signed_header"]
    vals = tally.rpc(url, "validators", {"height": str(h)})["validators"]
    if tally.validators_hash(vals) != tally.validators_hash(trusted):
        raise tally.Refused("the validator set changed since genesis; a full light client would follow it")
    header = tally.verify_commit(chain_id, sh, trusted)
    step("header %d verified: signed by more than two thirds of the genesis validators" % h)
    return bytes.fromhex(header["app_hash"])


def main(url, genesis_path, admin_seed, admin_agency):
    with open(genesis_path) as fh:
        genesis = json.load(fh)
    chain_id, trusted = genesis["chain_id"], genesis_validators(genesis)
    admin = tally.Key(bytes.fromhex(admin_seed))

    height = wait_for("the first block", lambda: latest_height(url))
    member = tally.Key(secrets.token_bytes(32))
    proof = member.sign(tally.key_proof_statement(chain_id, admin_agency, member.address, member.public_key, tally.POP_ADD_MEMBER))
    body = tally.tx_body(chain_id, admin.address, secrets.randbits(64) | 1, height + 50, "",
                         [tally.msg_add_member(member.public_key, [ROLE_TREASURY], proof)])
    tx, _, tx_hash = tally.sign_tx(admin, body)
    codespace, code, log, rpc_hash = tally.broadcast_tx_sync(url, tx)
    if code != 0:
        raise SystemExit("FAIL  the node refused the transaction: %s/%d %s" % (codespace, code, log))
    if rpc_hash.lower() != tx_hash.hex():
        raise SystemExit("FAIL  the node names the transaction %s, not SHA-256 of its bytes %s" % (rpc_hash, tx_hash.hex()))
    step("submitted transaction %s" % tx_hash.hex())

    result = wait_for("the transaction in a block",
                      lambda: tally.rpc(url, "tx", {"hash": base64.b64encode(tx_hash).decode()}))
    if int(result["tx_result"].get("code", 0)) != 0:
        raise SystemExit("FAIL  the transaction failed in its block: %s" % result["tx_result"])
    included = int(result["height"])
    step("included in block %d" % included)

    root = verified_root(url, chain_id, trusted, included)
    key = tally.account_key(member.address)
    res = tally.abci_query(url, "/agency/account", member.address, included)
    value = tally.verify_record(root, included, key, res)
    if value is None:
        raise SystemExit("FAIL  the new member is proven absent")
    account = tally.parse(value)
    if tally.one(account, 1, b"") != member.address or tally.one(account, 2, b"") != member.public_key \
            or tally.one(account, 3, b"").decode() != admin_agency:
        raise SystemExit("FAIL  the proven account is not the new member's")
    step("the new member's account is proven present")

    res.update(value=res["value"][:-1] + bytes([res["value"][-1] ^ 1]))
    try:
        tally.verify_record(root, included, key, res)
        raise SystemExit("FAIL  a changed account verified")
    except tally.Refused:
        step("a changed account is refused")

    prefix = tally.members_prefix(admin_agency)
    res = tally.abci_query(url, "/agency/members", tally.list_request(admin_agency.encode()), included)
    if res["code"] != 0 or res["key"] != prefix or res["height"] != included:
        raise SystemExit("FAIL  the members listing answered %s/%d for key %s" % (res["codespace"], res["code"], res["key"].hex()))
    page = tally.decode_proved_list(res["value"])
    tally.verify_page(root, prefix, b"", lambda k: tally.account_key(k[len(prefix):]), page)
    members = sorted(e[0] for e in page["entries"])
    if members != sorted([tally.account_key(admin.address), key]):
        raise SystemExit("FAIL  the proven member list is not the admin and the new member")
    step("the agency's member list is proven complete: the admin and the new member")

    nobody = hashlib.sha256(b"nobody").digest()[:20]
    res = tally.abci_query(url, "/agency/account", nobody, included)
    if tally.verify_record(root, included, tally.account_key(nobody), res) is not None:
        raise SystemExit("FAIL  an address with no account has one")
    step("an address with no account is proven absent")
    print("all checks passed")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
