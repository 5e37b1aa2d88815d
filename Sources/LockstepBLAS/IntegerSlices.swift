import LockstepCore

/// One operand of an exact product rewritten as integers in binary64 slices (Ozaki-style):
/// row `i` stands for `Σₖ slice[k][i, ·] · 2^(rowExponent[i] + k·sliceBits)`, every slice entry an
/// integer of magnitude below `2^sliceBits`, so a GEMM of two slice matrices sums exactly.
///
/// Rows whose integers would not fit 62 bits (an extreme exponent spread inside the row) are
/// marked in `unrepresentable` and computed by the exact scalar path instead.
struct IntegerSlices {
    /// Rows of the operand.
    let rows: Int
    /// Columns (the padded reduction length, a multiple of 32).
    let columns: Int
    /// Bits per slice.
    let sliceBits: Int
    /// Number of slices (≥ 1).
    let sliceCount: Int
    /// `sliceCount × rows × columns` integer-valued doubles, slice-major then row-major.
    let values: [Double]
    /// Power-of-two exponent of each row's integers.
    let rowExponents: [Int]
    /// Rows that must take the scalar exact path.
    let unrepresentable: [Int]

    /// Builds slices from per-row integers `integer(row, column)` at exponent `rowExponents[row]`.
    init(rows: Int, columns: Int, sliceBits: Int, rowExponents: [Int], unrepresentable: [Int],
         integers: [Int64]) {
        self.rows = rows
        self.columns = columns
        self.sliceBits = sliceBits
        self.rowExponents = rowExponents
        self.unrepresentable = unrepresentable
        var widest = 0
        for v in integers where v != 0 { widest = max(widest, 64 - v.magnitude.leadingZeroBitCount) }
        let count = max(1, (widest + sliceBits - 1) / sliceBits)
        sliceCount = count
        var out = [Double](repeating: 0, count: count * rows * columns)
        let mask = (UInt64(1) << UInt64(sliceBits)) - 1
        out.withUnsafeMutableBufferPointer { o in
            for (i, v) in integers.enumerated() where v != 0 {
                let m = v.magnitude
                for k in 0..<count {
                    let part = Double((m >> UInt64(k * sliceBits)) & mask)
                    o[k * rows * columns + i] = v < 0 ? -part : part
                }
            }
        }
        values = out
    }

    /// Quantised activations as slices: row `t` at exponent `min over non-zero blocks of eₜ_b`.
    init(activations x: QuantizedActivations, sliceBits: Int) {
        let k = x.blocksPerRow * 32
        var exponents = [Int](repeating: 0, count: x.rows)
        var bad: [Int] = []
        var ints = [Int64](repeating: 0, count: x.rows * k)
        for t in 0..<x.rows {
            var lo = Int.max, hi = Int.min
            for b in 0..<x.blocksPerRow where x.sums[t * x.blocksPerRow + b] != 0 || Self.blockIsNonZero(x, t, b) {
                let e = Int(x.exponents[t * x.blocksPerRow + b])
                lo = min(lo, e); hi = max(hi, e)
            }
            if lo == Int.max { continue }                       // an all-zero row
            if hi - lo > 46 { bad.append(t); continue }         // 15-bit values shifted past 62 bits
            exponents[t] = lo
            for b in 0..<x.blocksPerRow {
                let shift = Int64(Int(x.exponents[t * x.blocksPerRow + b]) - lo)
                for j in 0..<32 {
                    let s = Int64(x.values[(t * x.blocksPerRow + b) * 32 + j])
                    if s != 0 { ints[t * k + b * 32 + j] = s << shift }
                }
            }
        }
        self.init(rows: x.rows, columns: k, sliceBits: sliceBits, rowExponents: exponents, unrepresentable: bad, integers: ints)
    }

    /// Rows `rowRange` of a weight matrix as slices: row `r` at exponent
    /// `min over its non-zero fp16 scales/offsets`.
    init(weights w: WeightMatrix, rowRange: Range<Int>, sliceBits: Int) {
        let k = w.columns, n = rowRange.count
        var exponents = [Int](repeating: 0, count: n)
        var bad: [Int] = []
        var ints = [Int64](repeating: 0, count: n * k)
        let base = w.bytes.baseAddress!
        for (i, r) in rowRange.enumerated() {
            // Decode the row's blocks: scale d, offset m (Q4_1) and the 32 small integers.
            var scales: [SplitHalf] = [], offsets: [SplitHalf] = []
            var q = [Int32](repeating: 0, count: k)
            for b in 0..<w.blocksPerRow {
                let blk = base + r * w.rowBytes + b * w.format.blockBytes
                scales.append(SplitHalf(bits: blk.loadUnaligned(as: UInt16.self))!)
                switch w.format {
                case .q8_0:
                    for j in 0..<32 { q[b * 32 + j] = Int32((blk + 2 + j).load(as: Int8.self)) }
                case .q4_0, .q4_1:
                    let start = w.format == .q4_0 ? 2 : 4
                    for j in 0..<16 {
                        let byte = (blk + start + j).load(as: UInt8.self)
                        let bias: Int32 = w.format == .q4_0 ? 8 : 0
                        q[b * 32 + j] = Int32(byte & 0xF) - bias
                        q[b * 32 + j + 16] = Int32(byte >> 4) - bias
                    }
                    if w.format == .q4_1 { offsets.append(SplitHalf(bits: (blk + 2).loadUnaligned(as: UInt16.self))!) }
                }
            }
            var lo = Int.max, hi = Int.min
            for s in scales + offsets where s.significand != 0 {
                lo = min(lo, Int(s.exponent)); hi = max(hi, Int(s.exponent))
            }
            if lo == Int.max { continue }
            if hi - lo > 43 { bad.append(i); continue }          // |d·q| < 2^18 shifted past 62 bits
            exponents[i] = lo
            for b in 0..<w.blocksPerRow {
                let d = scales[b]
                let dShift = Int64(Int(d.exponent) - lo)
                let m: Int64 = offsets.isEmpty ? 0 : Int64(offsets[b].significand) << Int64(Int(offsets[b].exponent) - lo)
                for j in 0..<32 {
                    ints[i * k + b * 32 + j] = (Int64(d.significand) * Int64(q[b * 32 + j])) << dShift + m
                }
            }
        }
        self.init(rows: n, columns: k, sliceBits: sliceBits, rowExponents: exponents, unrepresentable: bad, integers: ints)
    }

    private static func blockIsNonZero(_ x: QuantizedActivations, _ t: Int, _ b: Int) -> Bool {
        let start = (t * x.blocksPerRow + b) * 32
        for j in 0..<32 where x.values[start + j] != 0 { return true }
        return false
    }

    /// Slice `k` as a pointer to its `rows × columns` values.
    func slice(_ k: Int, _ body: (UnsafePointer<Double>) -> Void) {
        values.withUnsafeBufferPointer { body($0.baseAddress! + k * rows * columns) }
    }
}
