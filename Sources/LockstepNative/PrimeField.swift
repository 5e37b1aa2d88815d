internal import CGMP

/// Arithmetic in the prime field GF(p), elements represented as `GMPInteger`s in `0 ..< p`.
///
/// Meant for Freivalds-style checks: draw random challenges with `randomElement()`, reduce integer
/// data with `element(_:)`, combine with `dot`. Every operation returns the canonical
/// representative in `0 ..< p`; inputs may be any integers (they are reduced first).
///
/// The modulus is assumed prime, not proven: `init(modulus:)` only checks it with
/// `isProbablePrime`. Immutable and `Sendable`.
public struct PrimeField: Sendable {
    /// p, the field order.
    public let modulus: GMPInteger
    /// The number of bytes of p (16 for 2^127 - 1); `encode` writes this many.
    public let byteCount: Int

    /// GF(2^127 - 1): the Mersenne prime M127 = 170141183460469231731687303715884105727.
    public static let p127 = PrimeField(
        uncheckedModulus: GMPInteger("170141183460469231731687303715884105727")!)

    /// The field of order `modulus`. Precondition: modulus > 2 and passes `isProbablePrime()`.
    public init(modulus: GMPInteger) {
        precondition(modulus > GMPInteger(2), "PrimeField modulus must be an odd prime, got \(modulus)")
        precondition(modulus.isProbablePrime(), "PrimeField modulus \(modulus) is not prime")
        self.init(uncheckedModulus: modulus)
    }

    private init(uncheckedModulus modulus: GMPInteger) {
        self.modulus = modulus
        self.byteCount = modulus.bytesBigEndian().count
    }

    /// The canonical representative of `x` (any sign, any size): `x mod p` in `0 ..< p`.
    public func element(_ x: GMPInteger) -> GMPInteger { x.mod(modulus) }

    /// The canonical representative of `x`.
    public func element(_ x: Int) -> GMPInteger { GMPInteger(x).mod(modulus) }

    /// (a + b) mod p
    public func add(_ a: GMPInteger, _ b: GMPInteger) -> GMPInteger { (a + b).mod(modulus) }

    /// (a - b) mod p, in `0 ..< p`
    public func subtract(_ a: GMPInteger, _ b: GMPInteger) -> GMPInteger { (a - b).mod(modulus) }

    /// (a × b) mod p
    public func multiply(_ a: GMPInteger, _ b: GMPInteger) -> GMPInteger { (a * b).mod(modulus) }

    /// (-a) mod p
    public func negate(_ a: GMPInteger) -> GMPInteger { (-a).mod(modulus) }

    /// a^e mod p. Precondition: e ≥ 0.
    public func power(_ a: GMPInteger, _ e: GMPInteger) -> GMPInteger { a.powMod(e, modulus) }

    /// a^-1 mod p, or nil when a ≡ 0.
    public func inverse(_ a: GMPInteger) -> GMPInteger? { a.inverse(modulo: modulus) }

    /// Σ a[i]·b[i] mod p. The sum is accumulated exactly (in one GMP integer) and reduced once.
    /// Precondition: `a.count == b.count`. The empty sum is 0.
    public func dot(_ a: [GMPInteger], _ b: [GMPInteger]) -> GMPInteger {
        precondition(a.count == b.count, "PrimeField.dot of lengths \(a.count) and \(b.count)")
        return GMPInteger { acc in
            for i in a.indices { lockstep_mpz_addmul(acc, a[i].z, b[i].z) }
            lockstep_mpz_mod(acc, acc, modulus.z)
        }
    }

    /// A uniformly distributed element of `0 ..< p` (bias below 2^-64: reduces byteCount + 8
    /// random bytes), drawn from `generator`.
    public func randomElement<G: RandomNumberGenerator>(using generator: inout G) -> GMPInteger {
        var bytes = [UInt8](repeating: 0, count: byteCount + 8)
        var i = 0
        while i < bytes.count {
            var word = generator.next()
            for _ in 0..<8 where i < bytes.count {
                bytes[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        return GMPInteger(bytesBigEndian: bytes).mod(modulus)
    }

    /// A uniformly distributed element from the system's secure generator.
    public func randomElement() -> GMPInteger {
        var g = SystemRandomNumberGenerator()
        return randomElement(using: &g)
    }

    /// The canonical `byteCount`-byte big-endian encoding of `element(x)`.
    public func encode(_ x: GMPInteger) -> [UInt8] { element(x).bytesBigEndian(paddedTo: byteCount) }
}
