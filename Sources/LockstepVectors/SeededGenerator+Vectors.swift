import LockstepModel

/// The vectors' random inputs, drawn from the tiny models' reproducible stream.
extension SeededGenerator {
    /// Uniform integer in `0 ..< n`.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// Uniform integer in `range`.
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }

    /// A normal binary32 with random sign, 24 random significant bits and an exponent
    /// (floor(log2 |x|)) uniform in `exponents`.
    mutating func float(exponents: ClosedRange<Int>) -> Float {
        let e = int(exponents)
        let mantissa = UInt32(truncatingIfNeeded: next()) & 0x7F_FFFF
        let bits = UInt32(e + 127) << 23 | mantissa | (next() & 1 == 0 ? 0 : 0x8000_0000)
        return Float(bitPattern: bits)
    }

    /// A random binary64 with random sign, 53 random significant bits and an exponent in `exponents`.
    mutating func double(exponents: ClosedRange<Int>) -> Double {
        let e = int(exponents)
        let mantissa = next() & 0xF_FFFF_FFFF_FFFF
        return Double(bitPattern: UInt64(e + 1023) << 52 | mantissa | (next() & 1 == 0 ? 0 : 1 << 63))
    }

    /// A finite fp16 bit pattern with exponent field in `fields` (0 = zero/subnormal).
    mutating func half(fields: ClosedRange<Int> = 0...30, negative: Bool? = nil) -> UInt16 {
        let e = UInt16(int(fields))
        let f = UInt16(truncatingIfNeeded: next()) & 0x3FF
        let s: UInt16 = (negative ?? (next() & 1 == 1)) ? 0x8000 : 0
        return s | e << 10 | f
    }

    /// A binary32 uniform in [lo, hi) on a fine grid.
    mutating func float(in lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * (Float(next() >> 40) / Float(1 << 24))
    }
}
