internal import CLockstepKernels
import LockstepNative

/// An element of GF(p), p = 2^127 − 1 (`PrimeField.p127`), the field of the Freivalds audit
/// (SPEC §8.5): the canonical representative `lo + hi·2^64` in `0 ..< p`.
///
/// The arithmetic is the native Mersenne-reduction kernel of `CLockstepKernels` (m127.c);
/// `init(_: GMPInteger)` and `gmp` convert to and from GMP, whose `PrimeField.p127` is the
/// reference it is tested against.
public struct M127: Hashable, Sendable, CustomStringConvertible {
    /// Low 64 bits of the representative.
    public let lo: UInt64
    /// High bits of the representative (below 2^63).
    public let hi: UInt64

    /// The field order p = 2^127 − 1 as a GMP integer.
    public static var modulus: GMPInteger { PrimeField.p127.modulus }

    /// The additive identity.
    public static let zero = M127(lo: 0, hi: 0)
    /// The multiplicative identity.
    public static let one = M127(lo: 1, hi: 0)

    init(_ v: lk_m127) { lo = v.lo; hi = v.hi }
    var raw: lk_m127 { lk_m127(lo: lo, hi: hi) }

    /// The canonical representative of the 128-bit unsigned integer `lo + hi·2^64`.
    public init(lo: UInt64, hi: UInt64) {
        let r = lk_m127_reduce(lo, hi)
        self.lo = r.lo; self.hi = r.hi
    }

    /// The image of the dyadic rational `significand · 2^exponent` (2 is invertible mod p, so
    /// every dyadic rational has one; the map is a ring homomorphism from ℤ[1/2] onto GF(p)).
    public init(significand: Int128, exponent: Int) {
        let u = UInt128(bitPattern: significand)
        self.init(lk_m127_dyadic(UInt64(truncatingIfNeeded: u), UInt64(truncatingIfNeeded: u >> 64), Int64(exponent)))
    }

    /// `x mod p` for any GMP integer.
    public init(_ x: GMPInteger) {
        let b = PrimeField.p127.element(x).bytesBigEndian(paddedTo: 16)
        var l: UInt64 = 0, h: UInt64 = 0
        for i in 0 ..< 8 { h = h << 8 | UInt64(b[i]); l = l << 8 | UInt64(b[8 + i]) }
        self.init(lo: l, hi: h)
    }

    /// The representative as a GMP integer.
    public var gmp: GMPInteger {
        var bytes: [UInt8] = []
        for w in [hi, lo] { for i in (0 ..< 8).reversed() { bytes.append(UInt8(truncatingIfNeeded: w >> (8 * UInt64(i)))) } }
        return GMPInteger(bytesBigEndian: bytes)
    }

    /// Sum, difference and product in GF(p).
    public static func + (a: M127, b: M127) -> M127 { M127(lk_m127_add(a.raw, b.raw)) }
    public static func - (a: M127, b: M127) -> M127 { M127(lk_m127_sub(a.raw, b.raw)) }
    public static func * (a: M127, b: M127) -> M127 { M127(lk_m127_mul(a.raw, b.raw)) }

    /// `self · 2^e` for any integer `e` (a rotation of the 127 bits, since 2^127 ≡ 1).
    public func timesPowerOfTwo(_ e: Int) -> M127 { M127(lk_m127_pow2(raw, Int64(e))) }

    /// Decimal.
    public var description: String { gmp.description }
}

/// A deterministic stream of 64-bit words: SHA-256(`seed` ‖ u64 counter), counter = 0, 1, …,
/// each digest giving four little-endian words. The audit draws its challenges from it.
public struct HashStream: RandomNumberGenerator {
    private let seed: [UInt8]
    private var counter: UInt64 = 0
    private var buffer: [UInt64] = []
    private let hasher = SHA256Hasher()

    /// A stream keyed by `seed` (a digest of the context the values must depend on).
    public init(seed: Digest) { self.seed = seed.bytes }

    /// The next word of the stream.
    public mutating func next() -> UInt64 {
        if buffer.isEmpty {
            hasher.reset()
            hasher.update(seed)
            hasher.update(littleEndian: counter)
            counter += 1
            let b = hasher.finalize().bytes
            buffer = (0 ..< 4).reversed().map { w in (0 ..< 8).reduce(UInt64(0)) { $0 | UInt64(b[8 * w + $1]) << (8 * UInt64($1)) } }
        }
        return buffer.removeLast()
    }
}
