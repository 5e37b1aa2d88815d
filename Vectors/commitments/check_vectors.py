#!/usr/bin/env python3
"""An independent check of the trace and commitment vectors, written from Papers/SPEC.md §7
(not from the Swift code): request and commitment encodings, step digests, the hash chain, the
leaves, the RFC 9162 Merkle root, the trace file layout, and (when the `cryptography` package is
installed) the Ed25519 signatures.

    python3 Vectors/commitments/check_vectors.py
"""
import hashlib, json, os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
H = lambda b: hashlib.sha256(b).digest()
tag = lambda s: s.encode() + b"\0"
u32 = lambda v: struct.pack("<I", v)
u64 = lambda v: struct.pack("<Q", v)

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.exceptions import InvalidSignature
except ImportError:  # signatures are then skipped
    Ed25519PublicKey = None


def mth(leaves):
    if not leaves:
        return H(b"")
    if len(leaves) == 1:
        return H(b"\0" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return H(b"\1" + mth(leaves[:k]) + mth(leaves[k:]))


def request_encoding(c):
    v = c["contract_version"].encode()
    r = u32(len(v)) + v + bytes.fromhex(c["model_digest"]) + u32(c["dim"]) + u32(c["vocab_size"]) + u32(c["layers"])
    r += u32(len(c["prompt_tokens"])) + b"".join(u32(t) for t in c["prompt_tokens"])
    return r + u32(c["temperature_bits"]) + u64(int(c["seed"])) + u32(c["max_tokens"])


def commitment_encoding(c):
    m = tag("lockstep.commitment.v1") + request_encoding(c)
    m += u32(len(c["output_tokens"])) + b"".join(u32(t) for t in c["output_tokens"])
    return m + u64(c["leaf_count"]) + bytes.fromhex(c["root"]) + bytes.fromhex(c["final_chain"])


def signature_ok(pub_hex, sig_hex, message):
    if Ed25519PublicKey is None:
        return None
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(pub_hex)).verify(bytes.fromhex(sig_hex), message)
        return True
    except (InvalidSignature, ValueError):
        return False


def steps(n_p, n_g, layers):
    if n_g == 0:
        return
    for p in range(n_p + n_g - 1):
        yield 0, p, 0xFFFFFFFF
        for l in range(layers):
            yield 1, p, l
        if p >= n_p - 1:
            yield 2, p, 0xFFFFFFFF


def check_trace_chain():
    t = json.load(open(os.path.join(HERE, "trace_chain.json")))["testGroups"][0]["tests"][0]
    c = t["commitment"]
    r = request_encoding(c)
    assert r.hex() == t["request"]
    h_r = H(tag("lockstep.request.v1") + r)
    assert h_r.hex() == t["requestDigest"]
    chain = H(tag("lockstep.chain.v1") + h_r)
    assert chain.hex() == t["chainStart"]
    leaves = []
    for i, ((kind, p, l), s) in enumerate(zip(steps(len(c["prompt_tokens"]), len(c["output_tokens"]), c["layers"]), t["steps"])):
        header = bytes([kind]) + u32(p) + u32(l)
        assert header.hex() == s["header"], i
        o = H(tag("lockstep.step.v1") + header + bytes.fromhex(s["state"]))
        assert o.hex() == s["stepDigest"], i
        chain = H(chain + o)
        assert chain.hex() == s["chain"], i
        leaf = u64(i) + o + chain
        assert leaf.hex() == s["leaf"] and H(b"\0" + leaf).hex() == s["leafHash"], i
        leaves.append(leaf)
    assert len(leaves) == len(t["steps"]) == c["leaf_count"]
    assert mth(leaves).hex() == t["root"] == c["root"]
    assert chain.hex() == t["finalChain"] == c["final_chain"]
    m = commitment_encoding(c)
    assert m.hex() == t["commitmentEncoding"]
    assert signature_ok(c["public_key"], c["signature"], m) in (True, None)
    # The trace file, parsed from the layout table of §7.7.
    f = bytes.fromhex(t["traceFile"])
    assert f[:8] == b"LKSTRACE" and struct.unpack_from("<II", f, 8) == (1, 1)
    (rlen,) = struct.unpack_from("<I", f, 16)
    assert f[20:20 + rlen] == r
    at = 20 + rlen
    for i, (kind, p, l) in enumerate(steps(len(c["prompt_tokens"]), len(c["output_tokens"]), c["layers"])):
        assert f[at] == 1 and f[at + 1:at + 10] == bytes([kind]) + u32(p) + u32(l)
        assert f[at + 10:at + 74] == leaves[i][8:]
        size = 4 * c["vocab_size"] + 4 if kind == 2 else 4 * c["dim"]
        assert f[at + 74:at + 74 + size].hex() == t["steps"][i]["state"]
        at += 74 + size
    footer = at
    assert f[at] == 2
    (mlen,) = struct.unpack_from("<I", f, at + 1)
    assert f[at + 5:at + 5 + mlen] == m
    at += 5 + mlen
    assert f[at:at + 64].hex() == c["signature"] and f[at + 64:at + 96].hex() == c["public_key"]
    assert struct.unpack_from("<Q", f, at + 96)[0] == footer and f[at + 104:at + 112] == b"LKSTEND\0"
    assert at + 112 == len(f)
    print("trace_chain.json: ok")


def check_signed():
    data = json.load(open(os.path.join(HERE, "signed.json")))
    n = 0
    for g in data["testGroups"]:
        for t in g["tests"]:
            m = commitment_encoding(t["commitment"])
            assert m.hex() == t["message"], t["tcId"]
            ok = signature_ok(t["publicKey"], t["signature"], m)
            if ok is not None:
                assert ok == (t["result"] == "valid"), t["tcId"]
            n += 1
    assert n == data["numberOfTests"]
    print(f"signed.json: {n} encodings ok" + ("" if Ed25519PublicKey else " (signatures skipped: no 'cryptography' package)")
          + ("" if Ed25519PublicKey is None else ", signatures ok"))


def check_merkle():
    base = os.path.join(HERE, "..", "merkle")
    roots = json.load(open(os.path.join(base, "roots.json")))
    for t in roots["testGroups"][0]["tests"]:
        ok = mth([bytes.fromhex(x) for x in t["leaves"]]).hex() == t["root"]
        assert ok == (t["result"] == "valid"), t["tcId"]
    inc = json.load(open(os.path.join(base, "inclusion.json")))
    for g in inc["testGroups"]:
        for t in g["tests"]:
            ok = verify_inclusion(bytes.fromhex(t["leaf"]), t["index"], t["treeSize"], [bytes.fromhex(p) for p in t["proof"]], bytes.fromhex(t["root"]))
            if t["result"] != "acceptable":
                assert ok == (t["result"] == "valid"), t["tcId"]
    print("merkle vectors: ok")


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, H(b"\0" + leaf)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = H(b"\1" + p + r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = H(b"\1" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


if __name__ == "__main__":
    check_trace_chain()
    check_signed()
    check_merkle()
