#!/usr/bin/env python3
"""An independent runner of the Lockstep op vectors (Vectors/ops/*.json).

Written from Vectors/README.md and Papers/SPEC.md only; it shares no code with the Swift
implementation. Python 3 standard library and numpy:

- exact sums (matrix products, attention products, the accumulator) with Python integers, then
  rounded to binary32 by hand (round to nearest, ties to even, gradual underflow);
- binary32 light operations (RMSNorm, softmax, RoPE, SwiGLU, adds) with numpy float32 scalars,
  one IEEE operation at a time;
- binary64 elementary functions (exp64, log64, sinCos64) with Python floats (binary64, RNE, no
  fused multiply-add).

Usage: run_op_vectors.py [VECTORS_DIR] [-v]   (default: the directory above this script)
Prints each failing vector and a final line "N passed, N failed"; exit status 1 on any failure.
"""

import glob
import json
import math
import os
import struct
import sys

import numpy as np

CONTRACT_VERSION = "0.1"
FORMAT = "lockstep.op-vectors.v1"
F32 = np.float32

# ---------------------------------------------------------------------------------------------
# Bit patterns and exact values


def f32_from_bits(b):
    return struct.unpack("<f", struct.pack("<I", b & 0xFFFFFFFF))[0]


def f64_bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def f64_from_bits(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def f32_from_bits_np(b):
    return np.array([b], dtype=np.uint32).view(np.float32)[0]


def dyadic_of_f32_bits(b):
    """(M, e) with value = M * 2^e exactly, for a finite binary32 bit pattern."""
    sign = -1 if b & 0x80000000 else 1
    field = (b >> 23) & 0xFF
    frac = b & 0x7FFFFF
    if field == 0:
        return sign * frac, -149
    return sign * (frac | 0x800000), field - 150


def dyadic_of_float(x):
    """(M, e) with value = M * 2^e exactly, for a finite Python float."""
    n, d = x.as_integer_ratio()
    return n, -(d.bit_length() - 1)


def round_half_even_dyadic(m, e):
    """roundHalfEven(m * 2^e) as an integer."""
    if e >= 0:
        return m << e
    s = -e
    neg = m < 0
    a = -m if neg else m
    q = a >> s
    rem = a - (q << s)
    half = 1 << (s - 1)
    if rem > half or (rem == half and (q & 1)):
        q += 1
    return -q if neg else q


def round_to_format(m, e, prec, emin, bias, ebits):
    """Bit pattern of the IEEE format (precision prec, smallest normal exponent emin) nearest to
    m * 2^e: ties to even, gradual underflow, overflow to infinity. m = 0 gives +0; a non-zero
    value that rounds to zero keeps its sign."""
    if m == 0:
        return 0
    neg = m < 0
    a = -m if neg else m
    sign_bit = 1 << (ebits + prec - 1)
    inf = ((1 << ebits) - 1) << (prec - 1)
    p = a.bit_length() - 1 + e                      # 2^p <= |v| < 2^(p+1)
    lsb = max(p - (prec - 1), emin - (prec - 1))     # weight of the last kept bit
    shift = e - lsb
    if shift >= 0:
        q = a << shift
    else:
        s = -shift
        q = a >> s
        rem = a - (q << s)
        half = 1 << (s - 1)
        if rem > half or (rem == half and (q & 1)):
            q += 1
    while q >= (1 << prec):                         # rounding carried into a new bit
        q >>= 1
        lsb += 1
    if q >= (1 << (prec - 1)):                      # normal
        field = lsb + (prec - 1) + bias
        if field >= (1 << ebits) - 1:
            bits = inf
        else:
            bits = (field << (prec - 1)) | (q - (1 << (prec - 1)))
    else:                                           # subnormal or zero
        bits = q
    return bits | (sign_bit if neg else 0)


def round_f32_bits(m, e):
    return round_to_format(m, e, 24, -126, 127, 8)


def round_f16_bits(m, e):
    return round_to_format(m, e, 11, -14, 15, 5)


def f16_split(bits):
    """fp16 bits -> (sigma, epsilon), value = sigma * 2^epsilon (SPEC 2.2)."""
    e = (bits >> 10) & 0x1F
    f = bits & 0x3FF
    if e == 31:
        raise ValueError("fp16 scale is not finite")
    if e == 0:
        s, eps = f, -24
    else:
        s, eps = 1024 + f, e - 25
    return (-s if bits & 0x8000 else s), eps


class Exact:
    """An exact sum of terms c * 2^e, kept as one big integer over 2^EMIN."""
    EMIN = -1400

    def __init__(self):
        self.total = 0

    def add(self, c, e):
        if c:
            self.total += c << (e - Exact.EMIN)

    def f32_bits(self):
        return round_f32_bits(self.total, Exact.EMIN)


# ---------------------------------------------------------------------------------------------
# Tensor fields

WIDTH = {"f32": 4, "f64": 8, "i16": 2, "i32": 4, "i64": 8, "u64": 8, "Q8_0": 34, "Q4_0": 18, "Q4_1": 20}
STRUCT = {"f32": "I", "f64": "Q", "i16": "h", "i32": "i", "i64": "q", "u64": "Q"}


class Tensor:
    def __init__(self, obj):
        self.type = obj["type"]
        self.shape = list(obj["shape"])
        self.raw = bytes.fromhex(obj["hex"])
        if self.type in ("Q8_0", "Q4_0", "Q4_1"):
            count = self.shape[0] * (self.shape[1] // 32)
        else:
            count = 1
            for d in self.shape:
                count *= d
        if len(self.raw) != count * WIDTH[self.type]:
            raise ValueError("tensor bytes do not match type and shape")
        self.count = count

    def elements(self):
        """Integers: bit patterns for f32/f64, values for integer types."""
        return list(struct.unpack("<%d%s" % (self.count, STRUCT[self.type]), self.raw))


def make_tensor(type_, shape, elements):
    if type_ in ("Q8_0", "Q4_0", "Q4_1"):
        raw = bytes(elements)
    else:
        raw = struct.pack("<%d%s" % (len(elements), STRUCT[type_]), *elements)
    t = Tensor.__new__(Tensor)
    t.type, t.shape, t.raw, t.count = type_, list(shape), raw, len(elements)
    return t


def is_nan_bits(type_, b):
    if type_ == "f32":
        return (b & 0x7F800000) == 0x7F800000 and (b & 0x7FFFFF) != 0
    return (b & 0x7FF0000000000000) == 0x7FF0000000000000 and (b & 0xFFFFFFFFFFFFF) != 0


def compare_tensor(name, want, got):
    if want.type != got.type or want.shape != got.shape:
        return "%s: expected %s %s, got %s %s" % (name, want.type, want.shape, got.type, got.shape)
    if want.type in ("f32", "f64"):
        w, g = want.elements(), got.elements()
        for i, (a, b) in enumerate(zip(w, g)):
            if is_nan_bits(want.type, a):
                if not is_nan_bits(want.type, b):
                    return "%s[%d]: expected NaN, got 0x%x" % (name, i, b)
            elif a != b:
                return "%s[%d]: expected 0x%x, got 0x%x" % (name, i, a, b)
        return None
    if want.raw != got.raw:
        w = WIDTH[want.type]
        for i in range(0, len(want.raw), w):
            if want.raw[i:i + w] != got.raw[i:i + w]:
                return "%s[%d]: expected %s, got %s" % (name, i // w, want.raw[i:i + w].hex(), got.raw[i:i + w].hex())
    return None


# ---------------------------------------------------------------------------------------------
# Activation quantisation (SPEC 2.1)


def quantize_block(bits32):
    """bits32: up to 32 binary32 bit patterns (padding added). Returns (q[32], E, S)."""
    best = 0
    for b in bits32:
        if (b & 0x7F800000) != 0x7F800000:
            best = max(best, b & 0x7FFFFFFF)   # magnitudes order like their bit patterns
    if best == 0:
        E = 0
    else:
        be = best >> 23
        fl = be - 127 if be >= 1 else (best.bit_length() - 1) - 149
        E = fl - 14
    q = []
    for b in bits32:
        if (b & 0x7F800000) == 0x7F800000:
            if b & 0x7FFFFF:
                v = 0                               # NaN
            else:
                v = -32767 if b & 0x80000000 else 32767
        else:
            m, e = dyadic_of_f32_bits(b)
            v = max(-32767, min(32767, round_half_even_dyadic(m, e - E)))
        q.append(v)
    q += [0] * (32 - len(q))
    return q, E, sum(q)


def quantize_row(bits_row):
    """A row of binary32 bit patterns -> list of (q, E, S) per block of 32."""
    out = []
    for start in range(0, len(bits_row), 32):
        out.append(quantize_block(bits_row[start:start + 32]))
    return out


# ---------------------------------------------------------------------------------------------
# The exact products (SPEC 2.2, 2.3, 2.6)


def weight_blocks(fmt, raw, rows, columns):
    """Per row, per block: (sd, ed, ints, sm, em) with the exact weight of element j being
    sd*2^ed * ints[j] (+ sm*2^em for Q4_1)."""
    width = WIDTH[fmt]
    nb = columns // 32
    out = []
    for r in range(rows):
        row = []
        for b in range(nb):
            blk = raw[(r * nb + b) * width:(r * nb + b + 1) * width]
            d = blk[0] | (blk[1] << 8)
            sd, ed = f16_split(d)
            sm = em = 0
            if fmt == "Q8_0":
                ints = [x - 256 if x >= 128 else x for x in blk[2:34]]
            elif fmt == "Q4_0":
                nib = blk[2:18]
                ints = [(nib[k] & 15) - 8 for k in range(16)] + [(nib[k] >> 4) - 8 for k in range(16)]
            else:
                m = blk[2] | (blk[3] << 8)
                sm, em = f16_split(m)
                nib = blk[4:20]
                ints = [nib[k] & 15 for k in range(16)] + [nib[k] >> 4 for k in range(16)]
            row.append((sd, ed, ints, sm, em))
        out.append(row)
    return out


def run_matmul(g, inp):
    fmt, n, k, t = g["format"], g["rows"], g["columns"], g["tokens"]
    w = Tensor(inp["w"])
    assert w.type == fmt and w.shape == [n, k]
    x = Tensor(inp["x"]).elements()
    wb = weight_blocks(fmt, w.raw, n, k)
    y = []
    for ti in range(t):
        qrow = quantize_row(x[ti * k:(ti + 1) * k])
        for ni in range(n):
            acc = Exact()
            for (q, E, S), (sd, ed, ints, sm, em) in zip(qrow, wb[ni]):
                acc.add(sd * sum(a * b for a, b in zip(ints, q)), ed + E)
                if fmt == "Q4_1":
                    acc.add(sm * S, em + E)
            y.append(acc.f32_bits())
    return {"y": make_tensor("f32", [t, n], y)}


def run_quantize(g, inp):
    rows, cols = g["rows"], g["columns"]
    x = Tensor(inp["x"]).elements()
    qs, es, ss = [], [], []
    for r in range(rows):
        for q, E, S in quantize_row(x[r * cols:(r + 1) * cols]):
            qs += q
            es.append(E)
            ss.append(S)
    nb = (cols + 31) // 32
    return {"q": make_tensor("i16", [rows, nb, 32], qs), "exponent": make_tensor("i32", [rows, nb], es),
            "sum": make_tensor("i32", [rows, nb], ss)}


def run_accumulator(g, inp):
    values = Tensor(inp["values"]).elements()
    exps = Tensor(inp["exponents"]).elements()
    acc = Exact()
    for c, e in zip(values, exps):
        assert abs(c) < (1 << 62) and -416 <= e <= 352
        acc.add(c, e)
    return {"result": make_tensor("f32", [], [acc.f32_bits()])}


# ---------------------------------------------------------------------------------------------
# Binary32 light operations (SPEC 3)


def f32v(bits):
    return f32_from_bits_np(bits)


def bits_of(v):
    return int(np.array([v], dtype=np.float32).view(np.uint32)[0])


def ordered_sum(values):
    lanes = [F32(0.0)] * 32
    for i, v in enumerate(values):
        lanes[i % 32] = F32(lanes[i % 32] + v)
    w = 16
    while w >= 1:
        for j in range(w):
            lanes[j] = F32(lanes[j] + lanes[j + w])
        w //= 2
    return lanes[0]


def rms_norm_row(x, g, eps):
    n = len(x)
    ss = ordered_sum([F32(v * v) for v in x])
    r = F32(F32(1.0) / np.sqrt(F32(F32(ss / F32(n)) + eps)))
    return [F32(F32(xi * r) * gi) for xi, gi in zip(x, g)]


def softmax(s):
    m = F32(-np.inf)
    for v in s:
        if v > m:
            m = v
    e = [exp32(F32(v - m)) for v in s]
    z = ordered_sum(e)
    return [F32(v / z) for v in e]


# ---------------------------------------------------------------------------------------------
# Elementary functions (SPEC 3.7)

LN2_HI = float.fromhex("0x1.62e42fee00000p-1")
LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")
LOG2E = float.fromhex("0x1.71547652b82fep0")
SQRT2 = float.fromhex("0x1.6a09e667f3bcdp0")
HALF_PI1 = float.fromhex("0x1.921fb54400000p0")
HALF_PI2 = float.fromhex("0x1.0b4611a600000p-34")
HALF_PI3 = float.fromhex("0x1.3198a2e037073p-69")
TWO_OVER_PI = float.fromhex("0x1.45f306dc9c883p-1")
FACT = [math.factorial(i) for i in range(19)]


def c(n):
    """The binary64 coefficient 1/n! (a correctly rounded binary64 division)."""
    return 1.0 / float(FACT[n])


def round_integral(x):
    """roundHalfEven to an integral binary64 (IEEE roundToIntegralTiesToEven): the sign of a zero
    result is the sign of x (SPEC 3.7: k is an integral binary64, so -0.3 gives -0)."""
    r = float(round(x))
    return math.copysign(r, x) if r == 0 else r


def pow2(k):
    return f64_from_bits((k + 1023) << 52)


def exp_kernel(r):
    p = c(12)
    for n in (11, 10, 9, 8, 7, 6, 5, 4, 3):
        p = p * r + c(n)
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p


def exp64(x):
    if math.isnan(x):
        return x
    if x > 709:
        return math.inf
    if x < -708:
        return 0.0
    k = round_integral(x * LOG2E)
    r = (x - k * LN2_HI) - k * LN2_LO
    return exp_kernel(r) * pow2(int(k))


def exp32(x):
    """x: numpy float32 -> numpy float32."""
    if np.isnan(x):
        return x
    if x > 89:
        return F32(np.inf)
    if x < -104:
        return F32(0.0)
    X = float(x)
    k = round_integral(X * LOG2E)
    r = (X - k * LN2_HI) - k * LN2_LO
    return F32(exp_kernel(r) * pow2(int(k)))


def log64(x):
    if not (x > 0) or math.isinf(x) or math.isnan(x):
        return math.nan
    m, e = math.frexp(x)           # x = m * 2^e, m in [0.5, 1)
    m, e = m * 2.0, e - 1          # m in [1, 2)
    if m > SQRT2:
        m = m * 0.5
        e = e + 1
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = 1.0 / 27.0
    for n in range(25, 0, -2):
        p = p * s2 + 1.0 / float(n)
    lnm = (2.0 * s) * p
    return (float(e) * LN2_HI + lnm) + float(e) * LN2_LO


def sincos64(t):
    if not abs(t) <= 1048576:
        raise ValueError("angle outside the sinCos domain")
    kf = round_integral(t * TWO_OVER_PI)
    k = int(kf)
    r = ((t - kf * HALF_PI1) - kf * HALF_PI2) - kf * HALF_PI3
    r2 = r * r
    s = c(17)
    s = s * r2 - c(15)
    s = s * r2 + c(13)
    s = s * r2 - c(11)
    s = s * r2 + c(9)
    s = s * r2 - c(7)
    s = s * r2 + c(5)
    s = s * r2 - c(3)
    s = s * r2 + 1.0
    sn = s * r
    co = -c(18)
    co = co * r2 + c(16)
    co = co * r2 - c(14)
    co = co * r2 + c(12)
    co = co * r2 - c(10)
    co = co * r2 + c(8)
    co = co * r2 - c(6)
    co = co * r2 + c(4)
    co = co * r2 - 0.5
    co = co * r2 + 1.0
    quadrant = k % 4
    if quadrant == 0:
        return sn, co
    if quadrant == 1:
        return co, -sn
    if quadrant == 2:
        return -sn, -co
    return -co, sn


# ---------------------------------------------------------------------------------------------
# RoPE (SPEC 3.4)


def rope_thetas(n_rot, base32):
    ln_base = log64(float(base32))
    return [exp64(-(float(2 * i) / float(n_rot)) * ln_base) for i in range(n_rot // 2)]


def rope_angles(thetas, pos):
    cos, sin = [], []
    for th in thetas:
        s, co = sincos64(float(pos) * th)
        cos.append(F32(co))
        sin.append(F32(s))
    return cos, sin


def run_rope_angles(g, inp):
    n_rot = g["rotatedDimensions"]
    base = f32v(Tensor(g["base"]).elements()[0])
    thetas = rope_thetas(n_rot, base)
    cos, sin = [], []
    for pos in inp["positions"]:
        co, s = rope_angles(thetas, pos)
        cos += co
        sin += s
    pairs = n_rot // 2
    n = len(inp["positions"])
    return {"inverseFrequencies": make_tensor("f64", [pairs], [f64_bits(t) for t in thetas]),
            "cos": make_tensor("f32", [n, pairs], [bits_of(v) for v in cos]),
            "sin": make_tensor("f32", [n, pairs], [bits_of(v) for v in sin])}


def run_rope(g, inp):
    rows, heads, hd, n_rot = g["rows"], g["heads"], g["headDim"], g["rotatedDimensions"]
    base = f32v(Tensor(g["base"]).elements()[0])
    thetas = rope_thetas(n_rot, base)
    x = [f32v(b) for b in Tensor(inp["x"]).elements()]
    for r, pos in enumerate(inp["positions"]):
        cos, sin = rope_angles(thetas, pos)
        for h in range(heads):
            o = (r * heads + h) * hd
            for i in range(n_rot // 2):
                x0, x1 = x[o + 2 * i], x[o + 2 * i + 1]
                x[o + 2 * i] = F32(F32(x0 * cos[i]) - F32(x1 * sin[i]))
                x[o + 2 * i + 1] = F32(F32(x0 * sin[i]) + F32(x1 * cos[i]))
    return {"y": make_tensor("f32", [rows, heads * hd], [bits_of(v) for v in x])}


# ---------------------------------------------------------------------------------------------
# Attention (SPEC 2.6, 3.5)


def run_attention(g, inp):
    H, G, D = g["heads"], g["kvHeads"], g["headDim"]
    keys = Tensor(inp["keys"]).elements()
    vals = Tensor(inp["values"]).elements()
    qs = Tensor(inp["queries"]).elements()
    positions = inp["positions"]
    P = len(keys) // (G * D)
    kq = [[quantize_row(keys[(p * G + gg) * D:(p * G + gg + 1) * D]) for gg in range(G)] for p in range(P)]
    vq = [[quantize_row(vals[(p * G + gg) * D:(p * G + gg + 1) * D]) for gg in range(G)] for p in range(P)]
    scale = F32(F32(1.0) / np.sqrt(F32(D)))
    out, scores, probs = [], [], []
    for t, pos in enumerate(positions):
        for h in range(H):
            gg = h // (H // G)
            qrow = quantize_row(qs[(t * H + h) * D:(t * H + h + 1) * D])
            s = []
            for p in range(pos + 1):
                acc = Exact()
                for (qa, ea, _), (kb, eb, _) in zip(qrow, kq[p][gg]):
                    acc.add(sum(a * b for a, b in zip(qa, kb)), ea + eb)
                s.append(F32(f32v(acc.f32_bits()) * scale))
            scores += s
            pr = softmax(s)
            probs += pr
            pq = quantize_row([bits_of(v) for v in pr])
            for i in range(D):
                acc = Exact()
                for p in range(pos + 1):
                    qp, ep, _ = pq[p // 32]
                    qv, ev, _ = vq[p][gg][i // 32]
                    acc.add(qp[p % 32] * qv[i % 32], ep + ev)
                out.append(acc.f32_bits())
    return {"output": make_tensor("f32", [len(positions), H * D], out),
            "scores": make_tensor("f32", [len(scores)], [bits_of(v) for v in scores]),
            "probabilities": make_tensor("f32", [len(probs)], [bits_of(v) for v in probs])}


# ---------------------------------------------------------------------------------------------
# Q8_0 conversion (SPEC 2.4)


def run_q8_convert(g, inp):
    x = Tensor(inp["x"]).elements()
    out = []
    for start in range(0, len(x), 32):
        blk = [f32v(b) for b in x[start:start + 32]]
        amax = F32(0.0)
        for v in blk:
            if abs(v) > amax:
                amax = F32(abs(v))
        q32 = F32(amax / F32(127.0))
        d = round_f16_bits(*dyadic_of_f32_bits(bits_of(q32)))
        if (d & 0x7C00) == 0x7C00:
            df = F32(np.inf)
        else:
            sd, ed = f16_split(d)
            df = F32(sd * 2.0 ** ed)
        ints = []
        for v in blk:
            if df == 0:
                ints.append(0)
            else:
                quotient = F32(v / df)
                ints.append(max(-127, min(127, round(float(quotient)))))
        out += [d & 0xFF, d >> 8] + [i & 0xFF for i in ints]
    return {"blocks": make_tensor("Q8_0", [1, len(x)], out)}


# ---------------------------------------------------------------------------------------------
# Sampling (SPEC 4)

MASK = (1 << 64) - 1


def random64(seed, counter):
    z = (seed + ((counter + 1) & MASK) * 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def argmax(logits):
    best, best_v = 0, None
    for i, v in enumerate(logits):
        if np.isnan(v):
            continue
        if best_v is None or v > best_v:
            best, best_v = i, v
    return best


def sample(logits, T, seed, counter):
    a = argmax(logits)
    m = logits[a]
    if T == 0 or not np.isfinite(m):
        return a
    weights = []
    for v in logits:
        if np.isnan(v):
            weights.append(0)
            continue
        z = F32(F32(v - m) / T)
        p = exp32(z)
        weights.append(int(math.floor(float(p) * 4294967296.0)))
    W = sum(weights)
    u = random64(seed, counter)
    r = (u * W) >> 64
    running = 0
    for i, w in enumerate(weights):
        running += w
        if running > r:
            return i
    return len(weights) - 1


# ---------------------------------------------------------------------------------------------
# Dispatch


def floats(inp, name):
    return [f32v(b) for b in Tensor(inp[name]).elements()]


def doubles(inp, name):
    return [f64_from_bits(b) for b in Tensor(inp[name]).elements()]


def f32_out(values, shape=None):
    return make_tensor("f32", shape if shape is not None else [len(values)], [bits_of(v) for v in values])


def f64_out(values):
    return make_tensor("f64", [len(values)], [f64_bits(v) for v in values])


def compute(g, inp):
    t = g["type"]
    if t == "QuantizeTest":
        return run_quantize(g, inp)
    if t == "MatmulTest":
        return run_matmul(g, inp)
    if t == "AccumulatorTest":
        return run_accumulator(g, inp)
    if t == "AttentionTest":
        return run_attention(g, inp)
    if t == "OrderedSumTest":
        return {"sum": f32_out([ordered_sum(floats(inp, "x"))], [])}
    if t == "RmsNormTest":
        rows, cols = g["rows"], g["columns"]
        x, w = floats(inp, "x"), floats(inp, "weight")
        eps = floats(inp, "epsilon")[0]
        y = []
        for r in range(rows):
            y += rms_norm_row(x[r * cols:(r + 1) * cols], w, eps)
        return {"y": f32_out(y, [rows, cols])}
    if t == "RopeAnglesTest":
        return run_rope_angles(g, inp)
    if t == "RopeTest":
        return run_rope(g, inp)
    if t == "SiluMulTest":
        gate, up = floats(inp, "gate"), floats(inp, "up")
        return {"out": f32_out([F32(F32(gv / F32(F32(1.0) + exp32(F32(-gv)))) * uv) for gv, uv in zip(gate, up)])}
    if t == "AddTest":
        return {"sum": f32_out([F32(a + b) for a, b in zip(floats(inp, "x"), floats(inp, "y"))])}
    if t == "SoftmaxTest":
        return {"p": f32_out(softmax(floats(inp, "x")))}
    if t == "Q8ConvertTest":
        return run_q8_convert(g, inp)
    if t == "Exp32Test":
        return {"y": f32_out([exp32(v) for v in floats(inp, "x")])}
    if t == "Exp64Test":
        return {"y": f64_out([exp64(v) for v in doubles(inp, "x")])}
    if t == "Log64Test":
        return {"y": f64_out([log64(v) for v in doubles(inp, "x")])}
    if t == "SinCos64Test":
        r = [sincos64(v) for v in doubles(inp, "x")]
        return {"sin": f64_out([a for a, _ in r]), "cos": f64_out([b for _, b in r])}
    if t == "RandomTest":
        seed = Tensor(inp["seed"]).elements()[0]
        counters = Tensor(inp["counters"]).elements()
        return {"outputs": make_tensor("u64", [len(counters)], [random64(seed, k) for k in counters])}
    if t == "GreedyTest":
        return {"token": argmax(floats(inp, "logits"))}
    if t == "StochasticTest":
        seed = Tensor(inp["seed"]).elements()[0]
        counter = Tensor(inp["counter"]).elements()[0]
        T = floats(inp, "temperature")[0]
        return {"token": sample(floats(inp, "logits"), T, seed, counter),
                "u": make_tensor("u64", [], [random64(seed, counter)])}
    raise ValueError("unknown test type " + t)


def check(expected, actual):
    for name, want in expected.items():
        if name not in actual:
            return "expected field %s is not computed by this runner" % name
        got = actual[name]
        if isinstance(want, dict) and "hex" in want:
            why = compare_tensor(name, Tensor(want), got)
            if why:
                return why
        elif want != got:
            return "%s: expected %r, got %r" % (name, want, got)
    return None


def main(argv):
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    root = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    files = sorted(glob.glob(os.path.join(root, "ops", "*.json")))
    if not files:
        print("no op vectors under %s/ops" % root)
        return 1
    passed = failed = 0
    with np.errstate(all="ignore"):
        for path in files:
            group = "ops/" + os.path.basename(path)[:-5]
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            if doc.get("format") != FORMAT or doc.get("contractVersion") != CONTRACT_VERSION:
                print("FAIL %s: format %r / contract %r, this runner implements %s / %s"
                      % (group, doc.get("format"), doc.get("contractVersion"), FORMAT, CONTRACT_VERSION))
                failed += doc.get("numberOfTests", 1)
                continue
            file_passed = 0
            for g in doc["testGroups"]:
                for t in g["tests"]:
                    try:
                        why = check(t["expected"], compute(g, t["inputs"]))
                    except Exception as e:  # a malformed vector is a failure, not a crash
                        why = "error: %r" % (e,)
                    if why:
                        failed += 1
                        print("FAIL %s #%d (%s): %s" % (group, t["tcId"], t["comment"], why))
                    else:
                        passed += 1
                        file_passed += 1
            if verbose:
                print("%-24s %d/%d" % (group, file_passed, doc["numberOfTests"]))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
