/// The contract's light operations, written once in their specified order (Papers/SPEC.md §3).
/// The reference backend calls these; other backends must reproduce their bits.
public enum LightOps {
    /// RMSNorm of one row: `ss = orderedSum(x²)`, `r = 1 / sqrt(ss / n + eps)`,
    /// `y[i] = (x[i] · r) · w[i]` — every operation in binary32.
    /// - Parameters: `x`, `weight`, `y` have the same length `n > 0`.
    @inlinable public static func rmsNorm(_ x: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>,
                                          epsilon: Float, into y: UnsafeMutableBufferPointer<Float>) {
        let n = x.count
        let ss = ContractMath.orderedSumOfSquares(x)
        let r = 1 / (ss / Float(n) + epsilon).squareRoot()
        for i in 0..<n { y[i] = (x[i] * r) * weight[i] }
    }

    /// SwiGLU activation of one element: `g / (1 + exp(−g)) · u` in binary32.
    @inlinable public static func siluMul(_ g: Float, _ u: Float) -> Float {
        (g / (1 + ContractMath.exp(-g))) * u
    }

    /// Rotates adjacent pairs `(x[2i], x[2i+1])` of one head vector by the angle table's
    /// `(cos, sin)` for pair `i < table.pairs`: `y0 = x0·c − x1·s`, `y1 = x0·s + x1·c`.
    @inlinable public static func rope(_ x: UnsafeMutablePointer<Float>, cos c: UnsafePointer<Float>, sin s: UnsafePointer<Float>, pairs: Int) {
        for i in 0..<pairs {
            let x0 = x[2 * i], x1 = x[2 * i + 1]
            x[2 * i] = x0 * c[i] - x1 * s[i]
            x[2 * i + 1] = x0 * s[i] + x1 * c[i]
        }
    }

    /// Softmax of attention scores in place: `m = max`, `e[j] = exp(x[j] − m)`,
    /// `z = orderedSum(e)`, `p[j] = e[j] / z`. Max ignores NaN.
    @inlinable public static func softmax(_ x: UnsafeMutableBufferPointer<Float>) {
        var m = -Float.infinity
        for v in x where v > m { m = v }
        for j in 0..<x.count { x[j] = ContractMath.exp(x[j] - m) }
        let z = ContractMath.orderedSum(UnsafeBufferPointer(x))
        for j in 0..<x.count { x[j] = x[j] / z }
    }
}

/// RoPE angle table for one position: `cos` and `sin` of `pos · θᵢ` for each rotated pair `i`,
/// with `θᵢ = exp(−(2i / nRot) · ln(base))` in binary64 (contract `exp`/`log`), the angle
/// `Double(pos) · θᵢ` in binary64, its sine/cosine by the contract's `sinCos`, each rounded to
/// binary32.
public struct RopeAngles: Sendable {
    /// Number of rotated pairs (`nRot / 2`).
    public let pairs: Int
    /// Per pair inverse frequency θᵢ (radians per position), binary64.
    public let inverseFrequencies: [Double]

    /// - Parameters: `rotatedDimensions` (nRot, even, ≤ head dimension), `base` (freq_base, > 0).
    public init(rotatedDimensions: Int, base: Float) {
        precondition(rotatedDimensions % 2 == 0 && rotatedDimensions > 0 && base > 0)
        pairs = rotatedDimensions / 2
        let lnBase = ContractMath.log(Double(base))
        inverseFrequencies = (0..<pairs).map { i in
            ContractMath.exp(-(Double(2 * i) / Double(rotatedDimensions)) * lnBase)
        }
    }

    /// The largest position the contract defines (angles stay within `ContractMath.sinCos`'s
    /// range because every θᵢ ≤ 1).
    public static let maxPosition = 1 << 20 - 1

    /// Writes `cos` and `sin` of position `position` (0...maxPosition) for every pair.
    public func angles(position: Int, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        precondition(position >= 0 && position <= Self.maxPosition, "RopeAngles: position \(position) out of range")
        for i in 0..<pairs {
            let (s, c) = ContractMath.sinCos(Double(position) * inverseFrequencies[i])
            cos[i] = Float(c)
            sin[i] = Float(s)
        }
    }
}
