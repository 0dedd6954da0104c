"""A Tally client in Python, written from docs/protocol.md alone.

It builds and signs transactions, submits them and reads state over
CometBFT's JSON-RPC, and verifies what a node answers: ICS23 proofs of
IAVL state (present, absent, list pages with their range proofs) against
an app hash, and a signed header (its commit signatures) against a
validator set.

Standard library only, plus the `cryptography` package for ed25519
(Debian: python3-cryptography). Every check raises Refused with a reason;
nothing here trusts a node.
"""

import base64
import calendar
import hashlib
import json
import urllib.parse
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)


class Refused(Exception):
    """An answer, proof, header or transaction that does not verify."""


def sha256(b):
    return hashlib.sha256(b).digest()


# ---------------------------------------------------------------------------
# Protobuf wire format (only what Tally's messages use), §1 "Bytes".

VARINT, I64, LEN, I32 = 0, 1, 2, 5


def uvarint(n):
    if n < 0:
        raise ValueError("uvarint of a negative number")
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_uvarint(b, i):
    """Returns (value, next index); refuses a varint that runs off the end
    or is longer than 10 bytes."""
    n = shift = 0
    for _ in range(10):
        if i >= len(b):
            raise Refused("truncated varint")
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        if c < 0x80:
            return n, i
        shift += 7
    raise Refused("varint longer than 10 bytes")


def field_varint(num, n):
    """A varint field; proto3 writes nothing for the default 0."""
    return b"" if n == 0 else uvarint(num << 3 | VARINT) + uvarint(n)


def field_bytes(num, b, always=False):
    """A length-delimited field (bytes, string, message); proto3 writes
    nothing for an empty one, except a non-nullable embedded message."""
    if isinstance(b, str):
        b = b.encode()
    if not b and not always:
        return b""
    return uvarint(num << 3 | LEN) + uvarint(len(b)) + b


def field_sfixed64(num, n):
    return b"" if n == 0 else uvarint(num << 3 | I64) + (n & (2**64 - 1)).to_bytes(8, "little")


def packed_varints(num, ns):
    if not ns:
        return b""
    return field_bytes(num, b"".join(uvarint(n) for n in ns))


def parse(b):
    """Decodes a message into {field number: [values]}: ints for varints
    and fixed fields, bytes for length-delimited ones."""
    out = {}
    i = 0
    while i < len(b):
        tag, i = read_uvarint(b, i)
        num, wt = tag >> 3, tag & 7
        if num == 0:
            raise Refused("field number 0")
        if wt == VARINT:
            v, i = read_uvarint(b, i)
        elif wt == LEN:
            n, i = read_uvarint(b, i)
            if i + n > len(b):
                raise Refused("truncated field")
            v, i = bytes(b[i:i + n]), i + n
        elif wt == I64:
            if i + 8 > len(b):
                raise Refused("truncated field")
            v, i = int.from_bytes(b[i:i + 8], "little"), i + 8
        elif wt == I32:
            if i + 4 > len(b):
                raise Refused("truncated field")
            v, i = int.from_bytes(b[i:i + 4], "little"), i + 4
        else:
            raise Refused("unsupported wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def one(fields, num, default):
    v = fields.get(num)
    if not v:
        return default
    if len(v) > 1:
        raise Refused("field %d repeated" % num)
    return v[0]


# ---------------------------------------------------------------------------
# Keys and transactions, §1.

class Key:
    """An ed25519 account key from its 32-byte seed."""

    def __init__(self, seed):
        self._priv = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._priv.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.address = address_of(self.public_key)

    def sign(self, msg):
        return self._priv.sign(msg)


def address_of(public_key):
    """An account address: the first 20 bytes of SHA-256 of the key."""
    return sha256(public_key)[:20]


def verify_ed25519(public_key, msg, sig):
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


# Proof of possession purposes (api/keyproof).
POP_ADD_MEMBER = "add-member"
POP_ROTATE_KEY = "rotate-key"
POP_ADMIT_AGENCY = "admit-agency"
POP_GENESIS_ACCOUNT = "genesis-account"
POP_ADD_VALIDATOR = "add-validator"
POP_ROTATE_VALIDATOR = "rotate-validator"


def key_proof_statement(chain_id, agency_id, account, public_key, purpose):
    out = b"tally/pop/v1\x00"
    for f in (chain_id.encode(), agency_id.encode(), account, public_key, purpose.encode()):
        out += uvarint(len(f)) + f
    return out


def memo_commitment(salt, note):
    """The memo a transaction may carry for a note: lower-case hex SHA-256
    of "tally/memo/v1", the 32-byte salt and the note's UTF-8 bytes."""
    return hashlib.sha256(b"tally/memo/v1" + salt + note.encode()).hexdigest()


# Msg oneof field numbers (proto/tally/tx/v1/tx.proto) for the messages
# this client builds from fields.
MSG_ADD_MEMBER = 1
MSG_APPROPRIATE = 20
MSG_VOTE = 101


def msg(field, inner):
    """A tally.tx.v1.Msg holding one message (its oneof field)."""
    return field_bytes(field, inner, always=True)


def msg_add_member(public_key, roles, key_proof):
    return msg(MSG_ADD_MEMBER, field_bytes(1, public_key) + packed_varints(2, roles) + field_bytes(3, key_proof))


def msg_appropriate(reference, amount, currency):
    return msg(MSG_APPROPRIATE, field_bytes(1, reference) + field_varint(2, amount) + field_bytes(3, currency))


def msg_vote(proposal_id, option):
    return msg(MSG_VOTE, field_varint(1, proposal_id) + field_varint(2, option))


def tx_body(chain_id, signer, nonce, timeout_height, memo, messages):
    """TxBody bytes, in the one canonical encoding (fields in order, no
    defaults); messages are encoded tally.tx.v1.Msg."""
    return (field_bytes(1, chain_id) + field_bytes(2, signer) + field_varint(3, nonce)
            + field_varint(4, timeout_height) + field_bytes(5, memo)
            + b"".join(field_bytes(6, m, always=True) for m in messages))


def sign_tx(key, body):
    """Returns (tx bytes, signature, hash): the signature is over the body
    bytes exactly as sent, the hash SHA-256 of the whole Tx."""
    sig = key.sign(body)
    tx = field_bytes(1, body) + field_bytes(2, sig)
    return tx, sig, sha256(tx)


# ---------------------------------------------------------------------------
# JSON-RPC (CometBFT): submit and query.

def rpc(url, method, params):
    req = urllib.request.Request(url, data=json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        ans = json.load(r)
    if "error" in ans:
        raise Refused("%s: %s" % (method, ans["error"]))
    return ans["result"]


def broadcast_tx_sync(url, tx):
    """Sends a transaction; returns (codespace, code, log, hash hex)."""
    r = rpc(url, "broadcast_tx_sync", {"tx": base64.b64encode(tx).decode()})
    return r.get("codespace", ""), int(r.get("code", 0)), r.get("log", ""), r["hash"]


def abci_query(url, path, data, height=0):
    """Asks for a proven answer; returns the response with byte fields
    decoded: key, value, proof_ops [(type, key, data)], height, code,
    codespace."""
    r = rpc(url, "abci_query", {"path": path, "data": data.hex(), "height": str(height), "prove": True})["response"]
    ops = (r.get("proofOps") or r.get("proof_ops") or {}).get("ops") or []
    return {
        "code": int(r.get("code", 0)), "codespace": r.get("codespace", ""),
        "key": base64.b64decode(r.get("key") or ""), "value": base64.b64decode(r.get("value") or ""),
        "height": int(r.get("height", 0)),
        "proof_ops": [(o["type"], base64.b64decode(o.get("key") or ""), base64.b64decode(o.get("data") or "")) for o in ops],
    }


# ---------------------------------------------------------------------------
# ICS23 proofs over IAVL, §3.

HASH_SHA256, LENGTH_VAR_PROTO = 1, 1
# ics23's IavlSpec: inner nodes have two children of 33 bytes (a length
# byte and a SHA-256), and a prefix of 4 to 12 bytes before the left one.
CHILD_SIZE, MIN_PREFIX, MAX_PREFIX = 33, 4, 12


class ExistenceProof:
    def __init__(self, b):
        f = parse(b)
        self.key = one(f, 1, b"")
        self.value = one(f, 2, b"")
        leaf = one(f, 3, None)
        if leaf is None:
            raise Refused("existence proof without a leaf")
        lf = parse(leaf)
        self.leaf = (one(lf, 1, 0), one(lf, 2, 0), one(lf, 3, 0), one(lf, 4, 0), one(lf, 5, b""))
        self.path = []
        for step in f.get(4, []):
            s = parse(step)
            self.path.append((one(s, 1, 0), one(s, 2, b""), one(s, 3, b"")))


def decode_commitment_proof(b):
    """Returns ("exist", ExistenceProof) or ("nonexist", (key, left, right))."""
    f = parse(b)
    if set(f) - {1, 2}:
        raise Refused("the proof is not a single existence or non-existence proof")
    if 1 in f and 2 not in f:
        return "exist", ExistenceProof(one(f, 1, b""))
    if 2 in f and 1 not in f:
        n = parse(one(f, 2, b""))
        left, right = one(n, 2, None), one(n, 3, None)
        return "nonexist", (one(n, 1, b""),
                            ExistenceProof(left) if left is not None else None,
                            ExistenceProof(right) if right is not None else None)
    raise Refused("the proof is neither an existence nor a non-existence proof")


def read_zigzag(b, i):
    n, i = read_uvarint(b, i)
    return (n >> 1) ^ -(n & 1), i


def check_iavl_prefix(prefix, layer):
    """IAVL's node prefix: height, size and version as zigzag varints, all
    non-negative, height at least the layer; a leaf (layer 0) has nothing
    after them, an inner node 1 byte (its child on the left: the length
    byte of the child hash) or 34 (on the right: length byte and hash of
    the left child, then the length byte of this child)."""
    i = 0
    vals = []
    for _ in range(3):
        v, i = read_zigzag(prefix, i)
        if v < 0:
            raise Refused("negative value in an IAVL node prefix")
        vals.append(v)
    if vals[0] < layer:
        raise Refused("IAVL node height below its layer")
    rest = len(prefix) - i
    if layer == 0 and rest != 0:
        raise Refused("IAVL leaf prefix has trailing bytes")
    if layer > 0 and rest not in (1, 34):
        raise Refused("IAVL inner prefix has the wrong length")


def check_spec(ep):
    hash_op, prehash_key, prehash_value, length, prefix = ep.leaf
    if (hash_op, prehash_key, prehash_value, length) != (HASH_SHA256, 0, HASH_SHA256, LENGTH_VAR_PROTO):
        raise Refused("the leaf is not an IAVL leaf")
    if not prefix.startswith(b"\x00"):
        raise Refused("the leaf prefix does not start with 0x00")
    check_iavl_prefix(prefix, 0)
    for layer, (h, pre, suf) in enumerate(ep.path, start=1):
        if h != HASH_SHA256:
            raise Refused("an inner step does not hash with SHA-256")
        check_iavl_prefix(pre, layer)
        if pre.startswith(b"\x00"):
            raise Refused("an inner prefix starts like a leaf")
        if len(pre) < MIN_PREFIX or len(pre) > MAX_PREFIX + CHILD_SIZE:
            raise Refused("an inner prefix has the wrong length")
        if len(suf) % CHILD_SIZE != 0:
            raise Refused("an inner suffix has the wrong length")


def calculate_root(ep):
    check_spec(ep)
    if not ep.key or not ep.value:
        raise Refused("a leaf needs a key and a value")
    prefix = ep.leaf[4]
    h = sha256(prefix + uvarint(len(ep.key)) + ep.key + uvarint(32) + sha256(ep.value))
    for _, pre, suf in ep.path:
        h = sha256(pre + h + suf)
    return h


def verify_existence(ep, root, key, value):
    if ep.key != key:
        raise Refused("the proof is for key %s, not %s" % (ep.key.hex(), key.hex()))
    if ep.value != value:
        raise Refused("the value is not the one the proof commits to")
    if calculate_root(ep) != root:
        raise Refused("the proof of key %s does not lead to the app hash" % key.hex())


def has_padding(step, min_prefix, max_prefix, suffix):
    _, pre, suf = step
    return min_prefix <= len(pre) <= max_prefix and len(suf) == suffix


def is_left_step(step):   # the child is the left one
    return has_padding(step, MIN_PREFIX, MAX_PREFIX, CHILD_SIZE)


def is_right_step(step):  # the child is the right one
    return has_padding(step, CHILD_SIZE + MIN_PREFIX, CHILD_SIZE + MAX_PREFIX, 0)


def is_left_most(path):
    return all(is_left_step(s) for s in path)


def is_right_most(path):
    return all(is_right_step(s) for s in path)


def is_left_neighbour(left, right):
    """left's leaf is right's immediate predecessor: from the top, the
    paths share steps, then split at a node with left below its left
    child and right below its right child, and from there left always
    goes right and right always goes left."""
    left, right = list(left), list(right)
    while left and right and left[-1][1:] == right[-1][1:]:
        left.pop()
        right.pop()
    if not left or not right:
        return False
    if not (is_left_step(left[-1]) and is_right_step(right[-1])):
        return False
    return is_right_most(left[:-1]) and is_left_most(right[:-1])


def verify_absence(np, root, key):
    nkey, left, right = np
    if nkey != key:
        raise Refused("the proof of absence is for key %s, not %s" % (nkey.hex(), key.hex()))
    if left is None and right is None:
        raise Refused("the proof of absence has no neighbours")
    if left is not None:
        verify_existence(left, root, left.key, left.value)
        if not left.key < key:
            raise Refused("the left neighbour is not before the key")
    if right is not None:
        verify_existence(right, root, right.key, right.value)
        if not key < right.key:
            raise Refused("the right neighbour is not after the key")
    if left is None and not is_left_most(right.path):
        raise Refused("no left neighbour, but the right one is not the first key")
    if right is None and not is_right_most(left.path):
        raise Refused("no right neighbour, but the left one is not the last key")
    if left is not None and right is not None and not is_left_neighbour(left.path, right.path):
        raise Refused("the neighbours are not adjacent")


def verify_proof(root, key, value, proof):
    """Checks proof (a marshalled CommitmentProof) of key with value, or of
    its absence when value is None, against root."""
    try:
        kind, p = decode_commitment_proof(proof)
    except (Refused, IndexError, ValueError) as e:
        raise Refused("the proof of key %s does not decode: %s" % (key.hex(), e))
    if value is None:
        if kind != "nonexist":
            raise Refused("absent, but no proof of absence")
        verify_absence(p, root, key)
    else:
        if kind != "exist":
            raise Refused("a value, but no proof that it exists")
        verify_existence(p, root, key, value)


def next_key_from(root, key, proof):
    """A range proof at key: key itself if proven present, else the right
    neighbour of its proven absence (None past the end of state)."""
    kind, p = decode_commitment_proof(proof)
    if kind == "exist":
        verify_existence(p, root, key, p.value)
        return key
    verify_absence(p, root, key)
    return p[2].key if p[2] is not None else None


# ---------------------------------------------------------------------------
# Answers, §2-§5.

NOT_FOUND = ("tx", 18)
PROOF_OP_TYPE = "ics23:iavl"


def account_key(address):
    return b"ag/c/" + address


def tax_type_key(code):
    return b"tax/t/" + code.encode()


def members_prefix(agency_id):
    return b"ag/m/" + agency_id.encode() + b"/"


def verify_record(root, height, expected_key, res):
    """A record answer at state height: returns its value, or None when it
    is proven absent."""
    if res["height"] != height:
        raise Refused("answered for height %d, asked %d" % (res["height"], height))
    if res["key"] != expected_key:
        raise Refused("answered for another key")
    if len(res["proof_ops"]) != 1 or res["proof_ops"][0][0] != PROOF_OP_TYPE or res["proof_ops"][0][1] != expected_key:
        raise Refused("want one %s proof op at the key" % PROOF_OP_TYPE)
    absent = (res["codespace"], res["code"]) == NOT_FOUND
    if res["code"] != 0 and not absent:
        raise Refused("the node refused: %s/%d" % (res["codespace"], res["code"]))
    if absent and res["value"]:
        raise Refused("absent, yet a value")
    value = None if absent else res["value"]
    verify_proof(root, expected_key, value, res["proof_ops"][0][2])
    return value


def list_request(arg, after=b"", limit=0):
    """The query data of a page of a listing (§5): tally.app.v1.ListRequest
    {arg = 1, after = 2, limit = 3}."""
    return field_bytes(1, arg) + field_bytes(2, after) + field_varint(3, limit)


def parse_list_request(b):
    """(arg, after, limit) of a listing's query data."""
    f = parse(b)
    return one(f, 1, b""), one(f, 2, b""), one(f, 3, 0)


def decode_proved_list(b):
    f = parse(b)
    entries = []
    for e in f.get(1, []):
        ef = parse(e)
        entries.append((one(ef, 1, b""), one(ef, 2, b""), one(ef, 3, b"")))
    return {"entries": entries, "next_key": one(f, 2, b""), "complete": bool(one(f, 3, 0)),
            "range_proofs": f.get(200, [])}


def verify_page(root, prefix, after, record_key, page, head=0):
    """A page of a key-range listing (§5): every entry proven, and the
    range proofs show the page leaves no record out. Returns the index keys."""
    for key, value, proof in page["entries"]:
        if not proof:
            raise Refused("a list entry has no proof")
        verify_proof(root, key, value if value else None, proof)
    if not page["range_proofs"]:
        raise Refused("no range proofs")
    if after and not after.startswith(prefix):
        raise Refused("the page continues after a key outside the listing")
    cursor = prefix if not after else after + b"\x00"
    index, ended = [], False
    for p in page["range_proofs"]:
        if ended:
            raise Refused("a range proof after the end of the listing")
        nxt = next_key_from(root, cursor, p)
        if nxt is None or not nxt.startswith(prefix):
            ended = True
            continue
        index.append(nxt)
        cursor = nxt + b"\x00"
    nk = page["next_key"]
    if nk and ended:
        raise Refused("a next_key, but the range proofs reach the end")
    if nk and (not index or index[-1] != nk):
        raise Refused("next_key is not the last index key proven")
    if not nk and not ended:
        raise Refused("the page stops before the end without a next_key")
    if not nk and not page["complete"]:
        raise Refused("the range proofs reach the end but the page is not complete")
    if len(page["entries"]) != head + len(index):
        raise Refused("the page has %d records, the range proofs show %d" % (len(page["entries"]), head + len(index)))
    for i, k in enumerate(index):
        if page["entries"][head + i][0] != record_key(k):
            raise Refused("record %d is not the one index key %s points at" % (head + i, k.hex()))
    return index


# ---------------------------------------------------------------------------
# Headers and commits (CometBFT), §3 step 1.

def merkle_root(items):
    """RFC 6962 Merkle root, as CometBFT's merkle.HashFromByteSlices."""
    if not items:
        return sha256(b"")
    if len(items) == 1:
        return sha256(b"\x00" + items[0])
    k = 1
    while k * 2 < len(items):
        k *= 2
    return sha256(b"\x01" + merkle_root(items[:k]) + merkle_root(items[k:]))


def parse_time(s):
    """RFC 3339 UTC time ("2030-01-02T03:04:07.5Z") to (seconds, nanos)."""
    if not s.endswith("Z"):
        raise Refused("time %r is not UTC" % s)
    main, _, frac = s[:-1].partition(".")
    date, _, clock = main.partition("T")
    y, mo, d = (int(x) for x in date.split("-"))
    h, mi, se = (int(x) for x in clock.split(":"))
    nanos = int((frac + "000000000")[:9]) if frac else 0
    return calendar.timegm((y, mo, d, h, mi, se, 0, 0, 0)), nanos


def timestamp(seconds, nanos):
    return field_varint(1, seconds & (2**64 - 1)) + field_varint(2, nanos)


def block_id_bytes(bid):
    psh = field_varint(1, int(bid["parts"]["total"])) + field_bytes(2, bytes.fromhex(bid["parts"]["hash"]))
    return field_bytes(1, bytes.fromhex(bid["hash"])) + field_bytes(2, psh, always=True)


def header_hash(h):
    """A header's hash: the Merkle root of its fields, each encoded alone
    (scalars and byte strings wrapped in protobuf's StringValue,
    Int64Value or BytesValue)."""
    def bz(hexs):
        return field_bytes(1, bytes.fromhex(hexs))
    version = field_varint(1, int(h["version"]["block"])) + field_varint(2, int(h["version"].get("app", "0")))
    return merkle_root([
        version,
        field_bytes(1, h["chain_id"]),
        field_varint(1, int(h["height"])),
        timestamp(*parse_time(h["time"])),
        block_id_bytes(h["last_block_id"]),
        bz(h["last_commit_hash"]),
        bz(h["data_hash"]),
        bz(h["validators_hash"]),
        bz(h["next_validators_hash"]),
        bz(h["consensus_hash"]),
        bz(h["app_hash"]),
        bz(h["last_results_hash"]),
        bz(h["evidence_hash"]),
        bz(h["proposer_address"]),
    ])


def validator_pub_key(v):
    if v["pub_key"]["type"] != "tendermint/PubKeyEd25519":
        raise Refused("validator key type %s" % v["pub_key"]["type"])
    return base64.b64decode(v["pub_key"]["value"])


def validators_hash(validators):
    """The hash of a validator set, in its order: Merkle root of each
    validator's public key (PublicKey{ed25519}) and voting power."""
    return merkle_root([
        field_bytes(1, field_bytes(1, validator_pub_key(v)), always=True) + field_varint(2, int(v["voting_power"]))
        for v in validators])


PRECOMMIT = 2
BLOCK_ID_FLAG_COMMIT = 2


def vote_sign_bytes(chain_id, height, round_, block_id, time_str):
    """CometBFT's canonical precommit: CanonicalVote, length-prefixed."""
    psh = field_varint(1, int(block_id["parts"]["total"])) + field_bytes(2, bytes.fromhex(block_id["parts"]["hash"]))
    cbid = field_bytes(1, bytes.fromhex(block_id["hash"])) + field_bytes(2, psh, always=True)
    cv = (field_varint(1, PRECOMMIT) + field_sfixed64(2, height) + field_sfixed64(3, round_)
          + field_bytes(4, cbid) + field_bytes(5, timestamp(*parse_time(time_str)), always=True)
          + field_bytes(6, chain_id))
    return uvarint(len(cv)) + cv


def verify_commit(chain_id, signed_header, validators):
    """Checks a signed header against a validator set the client trusts:
    the set is the header's, the commit is for this header, and validators
    with more than two thirds of the voting power signed it. Returns the
    header."""
    h, c = signed_header["header"], signed_header["commit"]
    if h["chain_id"] != chain_id:
        raise Refused("header of chain %s" % h["chain_id"])
    if bytes.fromhex(h["validators_hash"]) != validators_hash(validators):
        raise Refused("the validator set is not the header's")
    if int(c["height"]) != int(h["height"]):
        raise Refused("the commit is for another height")
    if bytes.fromhex(c["block_id"]["hash"]) != header_hash(h):
        raise Refused("the commit is not for this header")
    if len(c["signatures"]) != len(validators):
        raise Refused("the commit has %d signatures for %d validators" % (len(c["signatures"]), len(validators)))
    total = sum(int(v["voting_power"]) for v in validators)
    signed = 0
    for v, s in zip(validators, c["signatures"]):
        if s["block_id_flag"] != BLOCK_ID_FLAG_COMMIT:
            continue
        if bytes.fromhex(s["validator_address"]) != bytes.fromhex(v["address"]) or \
                address_of(validator_pub_key(v)) != bytes.fromhex(v["address"]):
            raise Refused("a signature's validator is not the set's")
        msg = vote_sign_bytes(chain_id, int(c["height"]), int(c["round"]), c["block_id"], s["timestamp"])
        if not verify_ed25519(validator_pub_key(v), msg, base64.b64decode(s["signature"] or "")):
            raise Refused("the signature of validator %s does not verify" % v["address"])
        signed += int(v["voting_power"])
    if signed * 3 <= total * 2:
        raise Refused("validators with %d of %d voting power signed: not more than two thirds" % (signed, total))
    return h
