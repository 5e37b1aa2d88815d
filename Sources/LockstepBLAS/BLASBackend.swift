import LockstepCore
import LockstepNative

/// The `blas` backend: exact matrix products as OpenBLAS `dgemm` calls on integer-valued
/// binary64 slices (SPEC §2.7), every other op (and products with fewer than
/// `minimumGEMMRows` activation rows) on `fallback`.
///
/// Why the GEMM is exact: each operand row is an integer matrix times a power of two per row
/// (weights: the fp16 block scales brought to the row's smallest scale exponent; activations:
/// the block exponents brought to the row's smallest). Integers are split into slices of
/// `β = ⌊(53 − ⌈log2 K⌉) / 2⌋` bits, so every product of two slice entries is below `2^(2β)`
/// and any sum of `K` of them below `2^53`: every partial sum BLAS forms, in any order, with or
/// without FMA, is an integer that binary64 holds exactly. The slice products are then combined
/// per output in the exact accumulator and rounded once.
public final class BLASBackend: DelegatingBackend {
    /// Products with fewer activation rows than this run on `fallback` (a GEMM of one row gains nothing).
    public let minimumGEMMRows: Int
    /// The backend for every op this one does not accelerate.
    public let fallback: any Backend
    /// Weight rows converted per GEMM call (bounds the scratch memory).
    let rowChunk = 1024

    /// - Parameters: `threads`: OpenBLAS threads; `fallback`: backend for the other ops.
    public init(threads: Int, fallback: any Backend, minimumGEMMRows: Int = 8) {
        precondition(threads >= 1)
        BLAS.threadCount = threads
        self.fallback = fallback
        self.minimumGEMMRows = minimumGEMMRows
    }

    public var name: String { "blas" }

    /// Slice width for a reduction of `k` terms.
    public static func sliceBits(columns k: Int) -> Int {
        let logK = Int.bitWidth - (k - 1).leadingZeroBitCount       // ⌈log2 k⌉ for k ≥ 2
        return (53 - max(logK, 1)) / 2
    }

    public func matmul(_ w: WeightMatrix, _ x: QuantizedActivations, into y: UnsafeMutableBufferPointer<Float>) {
        precondition(x.blocksPerRow == w.blocksPerRow && y.count >= x.rows * w.rows)
        guard x.rows >= minimumGEMMRows else { return fallback.matmul(w, x, into: y) }
        let beta = Self.sliceBits(columns: w.columns)
        let a = IntegerSlices(activations: x, sliceBits: beta)
        let badActivation = Set(a.unrepresentable)
        var start = 0
        while start < w.rows {
            let rows = start ..< min(start + rowChunk, w.rows)
            let b = IntegerSlices(weights: w, rowRange: rows, sliceBits: beta)
            let n = rows.count, t = x.rows, k = w.columns
            // products[pair] = A_ka · B_kbᵀ, t × n, for every pair of slices.
            let pairs = a.sliceCount * b.sliceCount
            var products = [Double](repeating: 0, count: pairs * t * n)
            products.withUnsafeMutableBufferPointer { c in
                for ka in 0..<a.sliceCount {
                    for kb in 0..<b.sliceCount {
                        a.slice(ka) { ap in
                            b.slice(kb) { bp in
                                BLAS.dgemm(transA: false, transB: true, m: t, n: n, k: k, alpha: 1, a: ap, lda: k,
                                           b: bp, ldb: k, beta: 0, c: c.baseAddress! + (ka * b.sliceCount + kb) * t * n, ldc: n)
                            }
                        }
                    }
                }
            }
            let badWeight = Set(b.unrepresentable)
            for ti in 0..<t {
                for i in 0..<n {
                    var acc = ExactAccumulator()
                    if badActivation.contains(ti) || badWeight.contains(i) {
                        ExactDot.accumulateRow(w, row: rows.lowerBound + i, x, xRow: ti, into: &acc)
                    } else {
                        let e = a.rowExponents[ti] + b.rowExponents[i]
                        for ka in 0..<a.sliceCount {
                            for kb in 0..<b.sliceCount {
                                let v = products[((ka * b.sliceCount + kb) * t + ti) * n + i]
                                acc.add(Int64(v), exponent: e + (ka + kb) * beta)
                            }
                        }
                    }
                    y[ti * w.rows + rows.lowerBound + i] = acc.rounded()
                }
            }
            start = rows.upperBound
        }
    }
}
