import XCTest
import LockstepTestSupport
import LockstepNative

final class BLASTests: XCTestCase {
    /// Row-major stored matrix with padding columns filled with garbage (must be ignored).
    private func matrix(rows: Int, cols: Int, ld: Int, range: ClosedRange<Int>, rng: inout SplitMix64) -> [Int] {
        var m = [Int](repeating: 0, count: max(0, (rows - 1) * ld + cols))
        for i in 0..<rows { for j in 0..<ld where i * ld + j < m.count { m[i * ld + j] = j < cols ? Int.random(in: range, using: &rng) : 999_999 } }
        return m
    }

    func testDgemmExactOnIntegers() {
        var rng = SplitMix64(seed: 21)
        for (m, n, k) in [(1, 1, 1), (7, 5, 3), (33, 17, 65), (64, 64, 64), (3, 100, 257)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2
                    let a = matrix(rows: transA ? k : m, cols: transA ? m : k, ld: lda, range: -4096...4096, rng: &rng)
                    let b = matrix(rows: transB ? n : k, cols: transB ? k : n, ld: ldb, range: -4096...4096, rng: &rng)
                    let c0 = matrix(rows: m, cols: n, ld: ldc, range: -1_000_000...1_000_000, rng: &rng)
                    func A(_ i: Int, _ p: Int) -> Int { transA ? a[p * lda + i] : a[i * lda + p] }
                    func B(_ p: Int, _ j: Int) -> Int { transB ? b[j * ldb + p] : b[p * ldb + j] }
                    var expected = c0
                    for i in 0..<m { for j in 0..<n {
                        var s = 0
                        for p in 0..<k { s += A(i, p) * B(p, j) }
                        expected[i * ldc + j] = 2 * s - 3 * c0[i * ldc + j]
                    } }
                    let ad = a.map(Double.init), bd = b.map(Double.init)
                    var cd = c0.map(Double.init)
                    ad.withUnsafeBufferPointer { ap in bd.withUnsafeBufferPointer { bp in cd.withUnsafeMutableBufferPointer { cp in
                        BLAS.dgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 2, a: ap.baseAddress!, lda: lda,
                                   b: bp.baseAddress!, ldb: ldb, beta: -3, c: cp.baseAddress!, ldc: ldc)
                    } } }
                    for i in 0..<m { for j in 0..<n {
                        XCTAssertEqual(cd[i * ldc + j], Double(expected[i * ldc + j]), "m\(m) n\(n) k\(k) tA\(transA) tB\(transB) (\(i),\(j))")
                    } }
                    // Padding of C untouched.
                    for i in 0..<m { for j in n..<ldc where i * ldc + j < cd.count {
                        XCTAssertEqual(cd[i * ldc + j], Double(c0[i * ldc + j]))
                    } }
                }
            }
        }
    }

    func testBufferOverloadExactOnSmallIntegers() {
        var rng = SplitMix64(seed: 22)
        let (m, n, k) = (19, 23, 31)
        let a = (0..<(m * k)).map { _ in Int.random(in: -64...64, using: &rng) }
        let b = (0..<(k * n)).map { _ in Int.random(in: -64...64, using: &rng) }
        var expected = [Int](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { expected[i * n + j] += a[i * k + p] * b[p * n + j] } } }
        var cd = [Double](repeating: 7, count: m * n)
        let ad = a.map(Double.init), bd = b.map(Double.init)
        ad.withUnsafeBufferPointer { ap in bd.withUnsafeBufferPointer { bp in cd.withUnsafeMutableBufferPointer { cp in
            BLAS.dgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: ap, lda: k, b: bp, ldb: n,
                       beta: 1, c: cp, ldc: n)
        } } }
        XCTAssertEqual(cd, expected.map { Double($0 + 7) })
        // k == 0 with empty operands: C ← beta·C.
        var c2 = [Double](repeating: 3, count: 4)
        c2.withUnsafeMutableBufferPointer { cp in
            BLAS.dgemm(transA: false, transB: false, m: 2, n: 2, k: 0, alpha: 1, a: UnsafeBufferPointer(start: nil, count: 0),
                       lda: 1, b: UnsafeBufferPointer(start: nil, count: 0), ldb: 2, beta: 2, c: cp, ldc: 2)
        }
        XCTAssertEqual(c2, [6, 6, 6, 6])
    }

    func testThreadCountAndConfiguration() {
        let original = BLAS.threadCount
        XCTAssertGreaterThanOrEqual(original, 1)
        BLAS.threadCount = 1
        XCTAssertEqual(BLAS.threadCount, 1)
        BLAS.threadCount = original
        XCTAssertEqual(BLAS.threadCount, original)
        print("OpenBLAS: \(BLAS.configuration), \(original) thread(s)")
        XCTAssertTrue(BLAS.configuration.contains("OpenBLAS"))
    }
}
