/// Activations quantised for the exact products: 16-bit integers with a power-of-two scale per
/// block of 32 consecutive values (Papers/SPEC.md §2).
///
/// Layout: `rows` rows of `blocksPerRow` blocks; block `b` of row `r` holds
/// `values[(r·blocksPerRow + b)·32 ..< +32]` and `exponents[r·blocksPerRow + b]`, and stands for
/// `values[j] × 2^exponent`. `sums[r·blocksPerRow + b]` is the block's integer sum (used by the
/// Q4_1 offset term). Rows whose length is not a multiple of 32 are padded with zeros.
public struct QuantizedActivations: Sendable {
    /// Number of rows (tokens, or heads).
    public let rows: Int
    /// Logical length of each row before padding.
    public let columns: Int
    /// Blocks per row: ⌈columns / 32⌉.
    public let blocksPerRow: Int
    /// `rows × blocksPerRow × 32` integers in [-32767, 32767].
    public var values: [Int16]
    /// `rows × blocksPerRow` block exponents.
    public var exponents: [Int32]
    /// `rows × blocksPerRow` block sums Σ values.
    public var sums: [Int32]

    /// Zero-filled storage for `rows × columns` activations.
    public init(rows: Int, columns: Int) {
        precondition(rows >= 0 && columns >= 0)
        self.rows = rows
        self.columns = columns
        self.blocksPerRow = (columns + 31) / 32
        values = [Int16](repeating: 0, count: rows * blocksPerRow * 32)
        exponents = [Int32](repeating: 0, count: rows * blocksPerRow)
        sums = [Int32](repeating: 0, count: rows * blocksPerRow)
    }

    /// Storage for `rows × columns` activations written by `body` without a zero fill first.
    /// - Parameter body: receives `values` (`rows × blocksPerRow × 32`), `exponents` and `sums`
    ///   (`rows × blocksPerRow` each), and must write every element of all three, the padding of
    ///   a last partial block included.
    public init(rows: Int, columns: Int,
                writingEveryElement body: (_ values: UnsafeMutableBufferPointer<Int16>, _ exponents: UnsafeMutableBufferPointer<Int32>,
                                           _ sums: UnsafeMutableBufferPointer<Int32>) -> Void) {
        precondition(rows >= 0 && columns >= 0)
        self.rows = rows
        self.columns = columns
        let blocksPerRow = (columns + 31) / 32, blocks = rows * blocksPerRow
        self.blocksPerRow = blocksPerRow
        var exponents: [Int32] = [], sums: [Int32] = []
        values = [Int16](unsafeUninitializedCapacity: blocks * 32) { v, vCount in
            exponents = [Int32](unsafeUninitializedCapacity: blocks) { e, eCount in
                sums = [Int32](unsafeUninitializedCapacity: blocks) { s, sCount in
                    body(v, e, s)
                    sCount = blocks
                }
                eCount = blocks
            }
            vCount = blocks * 32
        }
        self.exponents = exponents
        self.sums = sums
    }

    /// Quantises a row-major `rows × columns` float matrix with the contract's rule.
    public init(_ x: UnsafeBufferPointer<Float>, rows: Int, columns: Int) {
        precondition(x.count >= rows * columns, "QuantizedActivations: buffer shorter than rows × columns")
        self.init(rows: rows, columns: columns)
        values.withUnsafeMutableBufferPointer { v in
            for r in 0..<rows {
                for b in 0..<blocksPerRow {
                    let start = r * columns + b * 32
                    let n = min(32, columns - b * 32)
                    let block = r * blocksPerRow + b
                    let (e, s) = ActivationQuantizer.quantizeBlock(
                        UnsafeBufferPointer(rebasing: x[start ..< start + n]),
                        into: UnsafeMutableBufferPointer(rebasing: v[block * 32 ..< block * 32 + 32]))
                    exponents[block] = e
                    sums[block] = s
                }
            }
        }
    }
}

/// The activation quantisation rule of the contract.
public enum ActivationQuantizer {
    /// Largest magnitude of a quantised value (the range is symmetric).
    public static let maxMagnitude: Int32 = 32767

    /// The block exponent for a block whose largest finite magnitude is `m` (a binary32 value):
    /// `floor(log2 m) − 14`, so that `m × 2^-e` lies in [2^14, 2^15). Zero (or a block with no
    /// finite non-zero value) gives exponent 0.
    @inlinable public static func blockExponent(maxMagnitude m: Float) -> Int32 {
        let bits = m.bitPattern & 0x7FFF_FFFF
        if bits == 0 || bits >= 0x7F80_0000 { return 0 }
        let biased = Int32(bits >> 23)
        let log2m: Int32
        if biased == 0 {
            // Subnormal: the leading bit of the fraction sets the exponent.
            log2m = Int32(31 - bits.leadingZeroBitCount) - 149
        } else {
            log2m = biased - 127
        }
        return log2m - 14
    }

    /// Quantises one block of up to 32 values (missing values are zeros):
    /// `q = clamp(roundHalfEven(x × 2^-e), −32767, 32767)`, NaN → 0, ±∞ → ±32767, with
    /// `e = blockExponent(max finite |x|)`. The scaling is done in binary64, where it is exact.
    /// - Returns: the block exponent and the sum of the 32 quantised values.
    @inlinable @discardableResult
    public static func quantizeBlock(_ x: UnsafeBufferPointer<Float>, into q: UnsafeMutableBufferPointer<Int16>) -> (exponent: Int32, sum: Int32) {
        precondition(x.count <= 32 && q.count == 32)
        var m: Float = 0
        for v in x where v.isFinite { m = max(m, v.magnitude) }
        let e = blockExponent(maxMagnitude: m)
        let scale = Double(sign: .plus, exponent: Int(-e), significand: 1)   // exact power of two
        var sum: Int32 = 0
        for j in 0..<32 {
            var r: Int32 = 0
            if j < x.count {
                let v = x[j]
                if v.isNaN {
                    r = 0
                } else if v.isInfinite {
                    r = v < 0 ? -maxMagnitude : maxMagnitude
                } else {
                    let t = (Double(v) * scale).rounded(.toNearestOrEven)
                    r = Int32(max(-Double(maxMagnitude), min(Double(maxMagnitude), t)))
                }
            }
            q[j] = Int16(r)
            sum &+= r
        }
        return (e, sum)
    }
}
