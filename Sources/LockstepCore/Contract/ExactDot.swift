/// Exact block dot products: one block of 32 weights (or activations) against one quantised
/// activation block, as an integer and a power-of-two exponent (Papers/SPEC.md §2.3).
public enum ExactDot {
    /// Adds row `row` of `w` times quantised activation row `xRow` of `x` into `acc`, exactly.
    @inlinable public static func accumulateRow(_ w: WeightMatrix, row: Int, _ x: QuantizedActivations, xRow: Int,
                                                into acc: inout ExactAccumulator) {
        precondition(x.blocksPerRow == w.blocksPerRow, "ExactDot: activation and weight widths differ")
        let rowBase = w.bytes.baseAddress! + row * w.rowBytes
        x.values.withUnsafeBufferPointer { values in
            for b in 0..<w.blocksPerRow {
                let blk = rowBase + b * w.format.blockBytes
                let xb = xRow * x.blocksPerRow + b
                let s = values.baseAddress! + xb * 32
                let e = x.exponents[xb]
                let d = SplitHalf(bits: blk.loadUnaligned(as: UInt16.self))!
                var isum: Int32 = 0
                switch w.format {
                case .q8_0:
                    let q = (blk + 2).assumingMemoryBound(to: Int8.self)
                    for j in 0..<32 { isum &+= Int32(q[j]) &* Int32(s[j]) }
                case .q4_0:
                    let q = (blk + 2).assumingMemoryBound(to: UInt8.self)
                    for j in 0..<16 {
                        isum &+= (Int32(q[j] & 0xF) &- 8) &* Int32(s[j])
                        isum &+= (Int32(q[j] >> 4) &- 8) &* Int32(s[j + 16])
                    }
                case .q4_1:
                    let q = (blk + 4).assumingMemoryBound(to: UInt8.self)
                    for j in 0..<16 {
                        isum &+= Int32(q[j] & 0xF) &* Int32(s[j])
                        isum &+= Int32(q[j] >> 4) &* Int32(s[j + 16])
                    }
                    let m = SplitHalf(bits: (blk + 2).loadUnaligned(as: UInt16.self))!
                    acc.add(Int64(m.significand) * Int64(x.sums[xb]), exponent: Int(m.exponent + e))
                }
                acc.add(Int64(d.significand) * Int64(isum), exponent: Int(d.exponent + e))
            }
        }
    }

    /// Adds the product of two quantised activation blocks exactly:
    /// `Σ a[j]·b[j] × 2^(ea + eb)`.
    @inlinable public static func accumulateBlocks(_ a: UnsafePointer<Int16>, _ ea: Int32,
                                                   _ b: UnsafePointer<Int16>, _ eb: Int32,
                                                   into acc: inout ExactAccumulator) {
        var sum: Int64 = 0
        for j in 0..<32 { sum &+= Int64(Int32(a[j]) &* Int32(b[j])) }
        acc.add(sum, exponent: Int(ea + eb))
    }
}
