/// The contract's own elementary functions and reduction order (Papers/SPEC.md §3).
///
/// Everything here uses only IEEE-754 +, −, ×, ÷, sqrt, round-to-integral and conversions, each
/// rounded to nearest-even, in exactly the order written — no platform `exp`/`sin`/`cos`, no FMA.
/// The functions are accurate (a few ulps of binary32 or better), but what matters for the
/// contract is that they are *specified*: every implementation computes the same bits.
public enum ContractMath {
    // Cody–Waite split of ln 2: `ln2Hi` has 21 trailing zero bits, so `k · ln2Hi` is exact for |k| < 2^21.
    @usableFromInline static let ln2Hi: Double = 0x1.62e42fee00000p-1
    @usableFromInline static let ln2Lo: Double = 0x1.a39ef35793c76p-33
    @usableFromInline static let log2e: Double = 0x1.71547652b82fep0

    /// `2^k` as a binary64, for `-1022 ≤ k ≤ 1023` (built from its bit pattern: exact).
    @inlinable static func pow2(_ k: Int) -> Double {
        Double(bitPattern: UInt64(k + 1023) << 52)
    }

    /// e^r for |r| ≤ 0.35 in binary64: degree-12 Taylor polynomial by Horner's rule.
    @inlinable static func expKernel(_ r: Double) -> Double {
        var p: Double = 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        return p
    }

    /// The contract's e^x in binary64: +∞ for x > 709, +0 for x < −708, NaN for NaN.
    public static func exp(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x > 709 { return .infinity }
        if x < -708 { return 0 }
        let k = (x * log2e).rounded(.toNearestOrEven)
        let r = (x - k * ln2Hi) - k * ln2Lo
        return expKernel(r) * pow2(Int(k))
    }

    /// The contract's e^x for binary32: computed in binary64 as `exp(Double(x))`, then rounded
    /// once to binary32. Returns +∞ for x > 89, +0 for x < −104, NaN for NaN.
    @inlinable public static func exp(_ x: Float) -> Float {
        if x.isNaN { return x }
        if x > 89 { return .infinity }
        if x < -104 { return 0 }
        let xd = Double(x)
        let k = (xd * log2e).rounded(.toNearestOrEven)
        let r = (xd - k * ln2Hi) - k * ln2Lo
        return Float(expKernel(r) * pow2(Int(k)))
    }

    /// The contract's natural logarithm of a positive, finite binary64 `x`:
    /// `x = m·2^e` with m in [√½, √2), then `ln m = 2·atanh(s)`, `s = (m−1)/(m+1)`, by a
    /// 14-term odd series, plus `e·ln 2`. NaN for x ≤ 0 or non-finite x.
    public static func log(_ x: Double) -> Double {
        guard x > 0, x.isFinite else { return .nan }
        var e = Int(x.exponent)
        var m = x.significand                      // [1, 2)
        if m > 0x1.6a09e667f3bcdp0 { m = m * 0.5; e += 1 }   // √2
        let s = (m - 1.0) / (m + 1.0)
        let s2 = s * s
        var p: Double = 1.0 / 27.0
        var n = 25.0
        while n >= 1 {
            p = p * s2 + 1.0 / n
            n -= 2
        }
        let lnm = 2.0 * s * p
        return (Double(e) * ln2Hi + lnm) + Double(e) * ln2Lo
    }

    // π/2 split in three parts for Cody–Waite reduction (each part has trailing zeros).
    @usableFromInline static let halfPi1: Double = 0x1.921fb54400000p0
    @usableFromInline static let halfPi2: Double = 0x1.0b4611a600000p-34
    @usableFromInline static let halfPi3: Double = 0x1.3198a2e037073p-69
    @usableFromInline static let twoOverPi: Double = 0x1.45f306dc9c883p-1

    /// sin and cos of |r| ≤ π/4 in binary64 by Taylor polynomials of degree 17 and 18.
    @inlinable static func sinCosKernel(_ r: Double) -> (sin: Double, cos: Double) {
        let r2 = r * r
        var s: Double = 1.0 / 355687428096000.0           // 1/17!
        s = s * r2 - 1.0 / 1307674368000.0                 // −1/15!
        s = s * r2 + 1.0 / 6227020800.0                    // 1/13!
        s = s * r2 - 1.0 / 39916800.0                      // −1/11!
        s = s * r2 + 1.0 / 362880.0                        // 1/9!
        s = s * r2 - 1.0 / 5040.0                          // −1/7!
        s = s * r2 + 1.0 / 120.0                           // 1/5!
        s = s * r2 - 1.0 / 6.0                             // −1/3!
        s = s * r2 + 1.0
        var c: Double = -1.0 / 6402373705728000.0          // −1/18!
        c = c * r2 + 1.0 / 20922789888000.0                // 1/16!
        c = c * r2 - 1.0 / 87178291200.0                   // −1/14!
        c = c * r2 + 1.0 / 479001600.0                     // 1/12!
        c = c * r2 - 1.0 / 3628800.0                       // −1/10!
        c = c * r2 + 1.0 / 40320.0                         // 1/8!
        c = c * r2 - 1.0 / 720.0                           // −1/6!
        c = c * r2 + 1.0 / 24.0                            // 1/4!
        c = c * r2 - 0.5                                   // −1/2!
        c = c * r2 + 1.0
        return (s * r, c)
    }

    /// The contract's sine and cosine of a binary64 angle, |θ| ≤ 2^20 (radians): reduce by
    /// `k = roundHalfEven(θ·2/π)` in three Cody–Waite steps, evaluate the kernel, pick by k mod 4.
    public static func sinCos(_ theta: Double) -> (sin: Double, cos: Double) {
        precondition(theta.magnitude <= 1_048_576, "ContractMath.sinCos: angle out of range")
        let k = (theta * twoOverPi).rounded(.toNearestOrEven)
        let r = ((theta - k * halfPi1) - k * halfPi2) - k * halfPi3
        let (s, c) = sinCosKernel(r)
        switch Int(k) & 3 {
        case 0: return (s, c)
        case 1: return (c, -s)
        case 2: return (-s, -c)
        default: return (-c, s)
        }
    }

    /// The contract's reduction order for a binary32 sum of `term(i)` for i in 0..<count:
    /// 32 lanes, term `i` added to lane `i mod 32` in increasing `i`, then lanes folded
    /// pairwise — `lane[j] += lane[j + w]` for `w` = 16, 8, 4, 2, 1 — and lane 0 returned.
    @inlinable public static func orderedSum(count: Int, _ term: (Int) -> Float) -> Float {
        var lanes = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0),
                     Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0),
                     Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0),
                     Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
        return withUnsafeMutableBytes(of: &lanes) { raw in
            let l = raw.bindMemory(to: Float.self)
            for i in 0..<count { l[i & 31] += term(i) }
            var w = 16
            while w >= 1 {
                for j in 0..<w { l[j] += l[j + w] }
                w >>= 1
            }
            return l[0]
        }
    }

    /// `orderedSum` of the values of `x`.
    @inlinable public static func orderedSum(_ x: UnsafeBufferPointer<Float>) -> Float {
        orderedSum(count: x.count) { x[$0] }
    }

    /// `orderedSum` of the squares `x[i]·x[i]` (each product rounded to binary32).
    @inlinable public static func orderedSumOfSquares(_ x: UnsafeBufferPointer<Float>) -> Float {
        orderedSum(count: x.count) { x[$0] * x[$0] }
    }
}
