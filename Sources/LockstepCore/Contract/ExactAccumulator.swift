/// An exact accumulator for sums of `integer × 2^exponent` terms, rounded once to binary32.
///
/// This is how the contract defines every dot product: the correctly rounded (round to nearest,
/// ties to even) binary32 value of the *exact* sum. The sum does not depend on the order in which
/// terms are added, so any tiling, thread split or batch shape gives the same bits.
///
/// Representation: `value = Σ limbs[i] · 2^(32·i + minExponent)` with signed 64-bit limbs that
/// each receive at most 32 significant bits per addition, so no limb can overflow before
/// 2^30 additions. Terms must satisfy `|value| < 2^62` and
/// `minExponent ≤ exponent ≤ maxTermExponent` (covering every product of two contract operands:
/// int16 activations with power-of-two scales, fp16 block scales, binary32 operands).
public struct ExactAccumulator: Sendable {
    /// Exponent of bit 0 of limb 0.
    public static let minExponent = -416
    /// Number of 32-bit limbs; the top limb is headroom.
    public static let limbCount = 28
    /// The largest exponent a term may carry.
    public static let maxTermExponent = minExponent + 32 * (limbCount - 4)

    @usableFromInline typealias Limbs = (Int64, Int64, Int64, Int64, Int64, Int64, Int64,
                                          Int64, Int64, Int64, Int64, Int64, Int64, Int64,
                                          Int64, Int64, Int64, Int64, Int64, Int64, Int64,
                                          Int64, Int64, Int64, Int64, Int64, Int64, Int64)
    @usableFromInline var limbs: Limbs
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    /// An accumulator holding zero.
    @inlinable public init() {}

    /// Adds `value × 2^exponent` exactly.
    /// - Precondition: `|value| < 2^62`, `minExponent ≤ exponent ≤ maxTermExponent`.
    @inlinable public mutating func add(_ value: Int64, exponent: Int) {
        if value == 0 { return }
        precondition(exponent >= Self.minExponent && exponent <= Self.maxTermExponent,
                     "ExactAccumulator: term exponent \(exponent) out of range")
        let offset = exponent - Self.minExponent
        let index = offset >> 5
        let shift = Int64(offset & 31)
        let lo = value & 0xFFFF_FFFF            // 0 ..< 2^32
        let hi = value >> 32                    // |hi| < 2^30
        let loShifted = lo << shift             // < 2^63
        let hiShifted = hi << shift             // |·| < 2^61
        withUnsafeMutableBytes(of: &limbs) { raw in
            let l = raw.bindMemory(to: Int64.self)
            l[index] &+= loShifted & 0xFFFF_FFFF
            l[index + 1] &+= (loShifted >> 32) &+ (hiShifted & 0xFFFF_FFFF)
            l[index + 2] &+= hiShifted >> 32
        }
    }

    /// Adds every term of another accumulator (exact).
    @inlinable public mutating func add(_ other: ExactAccumulator) {
        withUnsafeMutableBytes(of: &limbs) { raw in
            let l = raw.bindMemory(to: Int64.self)
            withUnsafeBytes(of: other.limbs) { oraw in
                let o = oraw.bindMemory(to: Int64.self)
                for i in 0..<Self.limbCount { l[i] &+= o[i] }
            }
        }
    }

    /// The exact sum rounded to binary32, round to nearest, ties to even; ±infinity past the
    /// binary32 range; subnormal results rounded at 2^-149. An exactly zero sum gives +0.
    public func rounded() -> Float {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: Self.limbCount) { digits in
            Self.round(limbs: limbs, digits: digits)
        }
    }

    @usableFromInline static func round(limbs: Limbs, digits: UnsafeMutableBufferPointer<UInt32>) -> Float {
        var carry: Int64 = 0
        withUnsafeBytes(of: limbs) { raw in
            let l = raw.bindMemory(to: Int64.self)
            for i in 0..<Self.limbCount {
                let v = l[i] &+ carry
                digits[i] = UInt32(truncatingIfNeeded: v)
                carry = v >> 32
            }
        }
        // value = Σ digits·2^(32i) + carry·2^(32·limbCount); bounds keep carry in {0, -1}.
        var negative = false
        if carry < 0 {
            negative = true
            var c: UInt64 = 1
            for i in 0..<Self.limbCount {
                let v = UInt64(~digits[i]) + c
                digits[i] = UInt32(truncatingIfNeeded: v)
                c = v >> 32
            }
        }
        var top = Self.limbCount - 1
        while top >= 0 && digits[top] == 0 { top -= 1 }
        if top < 0 { return 0 }
        let topBit = 31 - digits[top].leadingZeroBitCount
        let p = Self.minExponent + 32 * top + topBit        // exponent of the leading bit
        if p > 127 { return negative ? -.infinity : .infinity }
        let lsb = max(p - 23, -149)                          // exponent of the result's last bit
        func bit(_ e: Int) -> UInt32 {
            let o = e - Self.minExponent
            if o < 0 { return 0 }
            return (digits[o >> 5] >> UInt32(o & 31)) & 1
        }
        var mantissa: UInt32 = 0
        if lsb <= p {
            for e in stride(from: p, through: lsb, by: -1) { mantissa = (mantissa << 1) | bit(e) }
        }
        let roundBit = bit(lsb - 1)
        var sticky = false
        let stickyTop = lsb - 2 - Self.minExponent           // bits at offsets 0...stickyTop
        if stickyTop >= 0 {
            let fullDigits = (stickyTop + 1) >> 5
            for i in 0..<fullDigits where digits[i] != 0 { sticky = true; break }
            let rem = (stickyTop + 1) & 31
            if !sticky && rem > 0 && digits[fullDigits] & ((1 << UInt32(rem)) - 1) != 0 { sticky = true }
        }
        if roundBit == 1 && (sticky || mantissa & 1 == 1) { mantissa += 1 }
        var exponent = lsb
        if mantissa == 1 << 24 { mantissa = 1 << 23; exponent += 1 }
        if mantissa != 0 && exponent + 31 - mantissa.leadingZeroBitCount > 127 {
            return negative ? -.infinity : .infinity
        }
        // Assemble the binary32 bit pattern: normal when the 24-bit mantissa is full, otherwise
        // subnormal (then `exponent == -149` and the mantissa is the stored fraction).
        var bits: UInt32
        if mantissa >= 1 << 23 {
            bits = UInt32(exponent + 23 + 127) << 23 | (mantissa & 0x7F_FFFF)
        } else {
            bits = mantissa
        }
        if negative { bits |= 0x8000_0000 }
        return Float(bitPattern: bits)
    }
}
