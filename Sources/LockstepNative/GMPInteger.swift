internal import CGMP

/// An arbitrary-precision signed integer backed by GMP (`mpz_t`).
///
/// Value semantics: an instance never changes after it is created; every operation returns a new
/// instance. The `mpz_t` is owned by the instance and cleared in `deinit`.
///
/// Thread rules: because an instance is never written after `init` returns, it may be shared and
/// read from any number of threads at once (GMP is reentrant and its read-only functions do not
/// modify their arguments), hence `@unchecked Sendable`. LockstepNative never changes GMP's global
/// state (memory functions).
public final class GMPInteger: @unchecked Sendable {
    /// The owned `mpz_t` (a heap cell so that its address is stable).
    let z: UnsafeMutablePointer<__mpz_struct>

    /// A new zero-valued integer; `fill` may write the value, before anyone else can see it.
    init(_ fill: (UnsafeMutablePointer<__mpz_struct>) -> Void) {
        z = .allocate(capacity: 1)
        lockstep_mpz_init(z)
        fill(z)
    }

    deinit {
        lockstep_mpz_clear(z)
        z.deallocate()
    }

    /// The value `v`.
    public convenience init(_ v: Int) {
        self.init { lockstep_mpz_set_si($0, v) }
    }

    /// The value `v`.
    public convenience init(_ v: UInt64) {
        self.init { lockstep_mpz_set_ui($0, UInt(v)) }
    }

    /// Parses an optional leading `-` followed by one or more digits in `radix` (2...36: digits
    /// `0-9`, then letters in either case; 37...62: `0-9`, `A-Z`, `a-z`). No prefix, no whitespace,
    /// no `+`. Returns nil for anything else. Precondition: `2 <= radix <= 62`.
    public convenience init?(_ string: String, radix: Int = 10) {
        precondition((2...62).contains(radix), "GMPInteger radix must be in 2...62, got \(radix)")
        let utf8 = Array(string.utf8)
        let digits = utf8.first == UInt8(ascii: "-") ? utf8.dropFirst() : utf8[...]
        // mpz_set_str ignores white space and accepts some things we do not; screen first.
        guard !digits.isEmpty, digits.allSatisfy({ c in
            (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) ||
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) ||
            (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
        }) else { return nil }
        var status: Int32 = 0
        self.init { z in status = lockstep_mpz_set_str(z, string, Int32(radix)) }
        if status != 0 { return nil }
    }

    /// The non-negative integer whose big-endian magnitude is `bytes` (leading zero bytes allowed;
    /// `[]` is zero).
    public convenience init(bytesBigEndian bytes: [UInt8]) {
        self.init { z in
            bytes.withUnsafeBytes { raw in
                if let base = raw.baseAddress, raw.count > 0 { lockstep_mpz_import_be(z, raw.count, base) }
            }
        }
    }

    /// Zero.
    public static let zero = GMPInteger(0)
    /// One.
    public static let one = GMPInteger(1)

    // MARK: Queries

    /// -1, 0 or 1.
    public var signum: Int { Int(lockstep_mpz_sgn(z)) }

    /// True iff the value is below zero.
    public var isNegative: Bool { signum < 0 }

    /// The number of bits of the magnitude (0 for zero).
    public var bitWidth: Int { signum == 0 ? 0 : lockstep_mpz_sizeinbase(z, 2) }

    /// The value as an `Int`, or nil if it does not fit.
    public var intValue: Int? {
        lockstep_mpz_fits_slong_p(z) != 0 ? lockstep_mpz_get_si(z) : nil
    }

    /// Decimal spelling (with a leading `-` when negative).
    public var description: String { toString(radix: 10) }

    /// Spelling in `radix` (2...62; lower-case letters up to 36), with a leading `-` when negative.
    public func toString(radix: Int) -> String {
        precondition((2...62).contains(radix), "GMPInteger radix must be in 2...62, got \(radix)")
        let capacity = lockstep_mpz_sizeinbase(z, Int32(radix)) + 2
        var buffer = [CChar](repeating: 0, count: capacity)
        buffer.withUnsafeMutableBufferPointer { lockstep_mpz_get_str($0.baseAddress, Int32(radix), z) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The big-endian bytes of the magnitude, minimal length (`[]` for zero).
    /// Precondition: the value is not negative.
    public func bytesBigEndian() -> [UInt8] {
        precondition(!isNegative, "GMPInteger.bytesBigEndian of a negative value")
        let count = lockstep_mpz_byte_count(z)
        guard count > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: count)
        let written = out.withUnsafeMutableBytes { lockstep_mpz_export_be($0.baseAddress!, z) }
        precondition(written == count)
        return out
    }

    /// The big-endian bytes of the magnitude left-padded with zeros to exactly `byteCount` bytes
    /// (a canonical fixed-width encoding, e.g. 16 bytes for elements of the field mod 2^127 - 1).
    /// Preconditions: the value is not negative and fits in `byteCount` bytes.
    public func bytesBigEndian(paddedTo byteCount: Int) -> [UInt8] {
        let minimal = bytesBigEndian()
        precondition(minimal.count <= byteCount, "GMPInteger needs \(minimal.count) bytes, more than \(byteCount)")
        return [UInt8](repeating: 0, count: byteCount - minimal.count) + minimal
    }

    // MARK: Arithmetic (each returns a new integer)

    /// self + other
    public func adding(_ other: GMPInteger) -> GMPInteger {
        GMPInteger { lockstep_mpz_add($0, z, other.z) }
    }

    /// self - other
    public func subtracting(_ other: GMPInteger) -> GMPInteger {
        GMPInteger { lockstep_mpz_sub($0, z, other.z) }
    }

    /// self × other
    public func multiplied(by other: GMPInteger) -> GMPInteger {
        GMPInteger { lockstep_mpz_mul($0, z, other.z) }
    }

    /// -self
    public func negated() -> GMPInteger {
        GMPInteger { lockstep_mpz_neg($0, z) }
    }

    /// |self|
    public func magnitude() -> GMPInteger {
        GMPInteger { lockstep_mpz_abs($0, z) }
    }

    /// The quotient rounded toward zero (like Swift's `/` on `Int`). Precondition: divisor ≠ 0.
    public func quotient(dividingBy divisor: GMPInteger) -> GMPInteger {
        precondition(divisor.signum != 0, "GMPInteger division by zero")
        return GMPInteger { lockstep_mpz_tdiv_q($0, z, divisor.z) }
    }

    /// The least non-negative residue: `0 <= r < |modulus|` with `self ≡ r (mod modulus)`
    /// (unlike Swift's `%`, never negative). Precondition: modulus ≠ 0.
    public func mod(_ modulus: GMPInteger) -> GMPInteger {
        precondition(modulus.signum != 0, "GMPInteger.mod by zero")
        return GMPInteger { lockstep_mpz_mod($0, z, modulus.z) }
    }

    /// self^exponent mod modulus, in `0 ..< |modulus|`.
    /// Preconditions: exponent ≥ 0, modulus ≠ 0.
    public func powMod(_ exponent: GMPInteger, _ modulus: GMPInteger) -> GMPInteger {
        precondition(!exponent.isNegative, "GMPInteger.powMod with a negative exponent")
        precondition(modulus.signum != 0, "GMPInteger.powMod modulo zero")
        return GMPInteger { lockstep_mpz_powm($0, z, exponent.z, modulus.z) }
    }

    /// The inverse of self modulo `modulus` in `0 ..< |modulus|`, or nil if gcd(self, modulus) ≠ 1.
    /// Precondition: modulus ≠ 0.
    public func inverse(modulo modulus: GMPInteger) -> GMPInteger? {
        precondition(modulus.signum != 0, "GMPInteger.inverse modulo zero")
        var ok: Int32 = 0
        let result = GMPInteger { ok = lockstep_mpz_invert($0, z, modulus.z) }
        return ok != 0 ? result : nil
    }

    /// Miller–Rabin (after trial division and a Baillie–PSW test) with `reps` rounds, as GMP's
    /// `mpz_probab_prime_p`: false means certainly composite; true means prime, or composite with
    /// probability below 4^-reps. GMP's documentation suggests 15...50 rounds.
    public func isProbablePrime(reps: Int = 40) -> Bool {
        precondition(reps > 0, "isProbablePrime needs at least one round")
        return lockstep_mpz_probab_prime_p(z, Int32(clamping: reps)) != 0
    }

    /// -1, 0 or 1 as self is below, equal to or above `other`.
    public func compare(_ other: GMPInteger) -> Int {
        let c = lockstep_mpz_cmp(z, other.z)
        return c < 0 ? -1 : (c > 0 ? 1 : 0)
    }

    // MARK: Operators

    public static func + (a: GMPInteger, b: GMPInteger) -> GMPInteger { a.adding(b) }
    public static func - (a: GMPInteger, b: GMPInteger) -> GMPInteger { a.subtracting(b) }
    public static func * (a: GMPInteger, b: GMPInteger) -> GMPInteger { a.multiplied(by: b) }
    public static prefix func - (a: GMPInteger) -> GMPInteger { a.negated() }
    /// Same as `a.mod(m)`: the least non-negative residue.
    public static func % (a: GMPInteger, m: GMPInteger) -> GMPInteger { a.mod(m) }
}

extension GMPInteger: Comparable, Hashable, CustomStringConvertible {
    public static func == (a: GMPInteger, b: GMPInteger) -> Bool { a.compare(b) == 0 }
    public static func < (a: GMPInteger, b: GMPInteger) -> Bool { a.compare(b) < 0 }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(signum)
        hasher.combine(magnitude().bytesBigEndian())
    }
}

extension GMPInteger: ExpressibleByIntegerLiteral {
    public convenience init(integerLiteral value: Int) { self.init(value) }
}
