internal import COpenBLAS

/// Double-precision matrix products through OpenBLAS (CBLAS interface), row-major throughout.
///
/// `C ← alpha · op(A) · op(B) + beta · C`, where op(X) is X or Xᵀ, op(A) is m × k, op(B) is k × n
/// and C is m × n. Row-major: element (i, j) of a matrix with leading dimension `ld` is at
/// `i * ld + j`. Stored shapes: A is m × k (`transA == false`) or k × m (`transA == true`); B is
/// k × n or n × k; C is m × n. Leading dimensions are counted in elements, not bytes, and must be
/// at least the stored row length (and at least 1). Sizes must fit OpenBLAS's 32-bit `blasint`.
///
/// Floating-point results of a GEMM depend on OpenBLAS's kernel, blocking and thread count; they
/// are reproducible bit-for-bit only where every partial sum is exact (e.g. integer-valued doubles
/// whose sums stay below 2^53), which is how Lockstep uses it.
///
/// Thread rules: the gemm calls may run concurrently from several threads (OpenBLAS's pthread
/// build serialises its own thread pool); `threadCount` is process-global.
public enum BLAS {
    /// Double-precision GEMM on raw pointers (see the type's documentation for shapes).
    /// Preconditions: m, n, k ≥ 0; lda ≥ max(1, transA ? m : k); ldb ≥ max(1, transB ? k : n);
    /// ldc ≥ max(1, n); all fit in 32 bits. The pointers must cover the stored matrices.
    public static func dgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        checkShape(transA: transA, transB: transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc)
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }

    /// Double-precision GEMM on buffers; also checks that each buffer holds its stored matrix.
    public static func dgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafeBufferPointer<Double>, lda: Int,
        b: UnsafeBufferPointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutableBufferPointer<Double>, ldc: Int
    ) {
        checkShape(transA: transA, transB: transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc)
        checkCounts(transA: transA, transB: transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc,
                    a: a.count, b: b.count, c: c.count)
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // C ← beta · C; the operands may be empty buffers without an address.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        dgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a.baseAddress!, lda: lda,
              b: b.baseAddress!, ldb: ldb, beta: beta, c: c.baseAddress!, ldc: ldc)
    }

    /// The number of threads OpenBLAS uses for one call (`openblas_get_num_threads` /
    /// `openblas_set_num_threads`). Setting it affects the whole process; values below 1 are
    /// clamped to 1. Do not set it while another thread is inside a BLAS call.
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(clamping: max(1, newValue))) }
    }

    /// OpenBLAS's build description (`openblas_get_config`), e.g.
    /// "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64".
    public static var configuration: String {
        guard let text = openblas_get_config() else { return "" }
        return String(cString: text)
    }

    private static func checkShape(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                   lda: Int, ldb: Int, ldc: Int) {
        precondition(m >= 0 && n >= 0 && k >= 0, "gemm sizes must be non-negative (m \(m), n \(n), k \(k))")
        let limit = Int(blasint.max)
        precondition(m <= limit && n <= limit && k <= limit && lda <= limit && ldb <= limit && ldc <= limit,
                     "gemm sizes must fit in a 32-bit blasint")
        precondition(lda >= max(1, transA ? m : k), "gemm lda \(lda) < row length \(transA ? m : k) of A")
        precondition(ldb >= max(1, transB ? k : n), "gemm ldb \(ldb) < row length \(transB ? k : n) of B")
        precondition(ldc >= max(1, n), "gemm ldc \(ldc) < row length \(n) of C")
    }

    /// Elements a stored row-major rows × cols matrix with leading dimension ld spans.
    private static func span(rows: Int, cols: Int, ld: Int) -> Int {
        rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols
    }

    private static func checkCounts(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                    lda: Int, ldb: Int, ldc: Int, a: Int, b: Int, c: Int) {
        let needA = transA ? span(rows: k, cols: m, ld: lda) : span(rows: m, cols: k, ld: lda)
        let needB = transB ? span(rows: n, cols: k, ld: ldb) : span(rows: k, cols: n, ld: ldb)
        let needC = span(rows: m, cols: n, ld: ldc)
        precondition(a >= needA, "gemm: A holds \(a) elements, needs \(needA)")
        precondition(b >= needB, "gemm: B holds \(b) elements, needs \(needB)")
        precondition(c >= needC, "gemm: C holds \(c) elements, needs \(needC)")
    }
}
