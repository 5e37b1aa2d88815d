/// A dyadic rational `significand · 2^exponent`: the exact value of one output of a matrix
/// product before rounding (SPEC §2.3), as an audit certificate states it (§8.5).
///
/// The representation is not unique (`2 · 2^e` and `1 · 2^(e+1)` are the same value);
/// `==` compares values.
public struct Dyadic: Sendable, CustomStringConvertible {
    /// Signed integer significand.
    public var significand: Int128
    /// Power-of-two exponent.
    public var exponent: Int

    /// The value `significand · 2^exponent`.
    public init(significand: Int128, exponent: Int) {
        self.significand = significand; self.exponent = exponent
    }

    /// Zero.
    public static let zero = Dyadic(significand: 0, exponent: 0)

    /// Whether the value is 0.
    public var isZero: Bool { significand == 0 }

    /// The exponent of the lowest set bit of the value (nil for 0): the value is an odd integer
    /// times 2^lowBit.
    public var lowBit: Int? { significand == 0 ? nil : exponent + significand.trailingZeroBitCount }

    /// The smallest `h` with `|value| < 2^h` (nil for 0).
    public var magnitudeBound: Int? {
        significand == 0 ? nil : exponent + (UInt128.bitWidth - significand.magnitude.leadingZeroBitCount)
    }

    /// The value rounded once to binary32 exactly as the contract rounds an exact sum (SPEC
    /// §2.3 "The rounding fl32"): round to nearest, ties to even, with gradual underflow (the
    /// last significand bit weighs `2^max(p − 23, −149)` for `2^p ≤ |v| < 2^(p+1)`); ±∞ when
    /// the rounded magnitude reaches 2^128; a non-zero value that rounds to zero keeps its sign;
    /// exactly 0 gives +0.
    public var roundedToBinary32: Float {
        if significand == 0 { return 0 }
        let negative = significand < 0
        let m = significand.magnitude                      // UInt128, ≤ 2^127
        let width = UInt128.bitWidth - m.leadingZeroBitCount
        let p = exponent + width - 1                        // exponent of the leading bit
        if p > 127 { return negative ? -.infinity : .infinity }
        var lsb = max(p - 23, -149)                         // exponent of the result's last bit
        var mantissa: UInt128
        if lsb <= exponent {
            mantissa = m << UInt128(exponent - lsb)         // exact: at most 24 bits
        } else {
            let shift = lsb - exponent                      // bits dropped, > 0
            if shift > width {
                mantissa = 0                                // |v| < half an ulp: rounds to zero
            } else {
                mantissa = shift == 128 ? 0 : m >> UInt128(shift)
                let rest = m & ((UInt128(1) << UInt128(shift - 1)) << 1 &- 1)   // the dropped bits
                let half = UInt128(1) << UInt128(shift - 1)
                if rest > half || (rest == half && mantissa & 1 == 1) { mantissa += 1 }
            }
        }
        if mantissa == 1 << 24 { mantissa = 1 << 23; lsb += 1 }
        var bits: UInt32
        if mantissa == 0 {
            bits = 0
        } else if mantissa >= 1 << 23 {
            if lsb + 23 > 127 { return negative ? -.infinity : .infinity }
            bits = UInt32(lsb + 23 + 127) << 23 | UInt32(mantissa & 0x7F_FFFF)
        } else {
            bits = UInt32(mantissa)                          // subnormal: lsb == −149
        }
        if negative { bits |= 0x8000_0000 }
        return Float(bitPattern: bits)
    }

    /// `self + 2^e` exactly. Precondition: the aligned significand fits 127 bits.
    public func adding(powerOfTwo e: Int) -> Dyadic {
        let base = significand == 0 ? e : min(exponent, e)
        let a = significand == 0 ? 0 : significand << Int128(exponent - base)
        return Dyadic(significand: a + (Int128(1) << Int128(e - base)), exponent: base)
    }

    public var description: String { "\(significand)·2^\(exponent)" }
}

extension Dyadic: Equatable {
    /// Equal values (whatever the representation).
    public static func == (a: Dyadic, b: Dyadic) -> Bool {
        if a.significand == 0 || b.significand == 0 { return a.significand == b.significand }
        guard a.lowBit == b.lowBit, (a.significand < 0) == (b.significand < 0) else { return false }
        return a.significand.magnitude >> UInt128(a.significand.trailingZeroBitCount)
            == b.significand.magnitude >> UInt128(b.significand.trailingZeroBitCount)
    }
}
