import XCTest
import LockstepTestSupport
import LockstepCore
import LockstepCPU

/// RMSNorm, RoPE, SiLU·up and residual add: every shape × edge-value kind × backend, bit for bit.
final class LightOpsConformanceTests: XCTestCase {
    /// Row lengths; 20 001 (an odd count of elements, not a multiple of 64) and 17 rows of 1536
    /// are large enough that the multi-threaded backends split the op over their threads.
    static let lengths = [1, 2, 7, 31, 32, 33, 64, 100, 576, 1536, 20_001]

    func testRMSNorm() {
        let reference = ReferenceBackend()
        let counter = ComparisonCounter()
        var rng = SplitMix64(seed: 0x1A_0001)
        for n in Self.lengths {
            for rows in [1, 3, 17] {
                for kind in FloatKind.allCases {
                    for eps: Float in [1e-5, 1e-6] {
                        let x = kind.make(rows * n, rng: &rng)
                        let w = (0..<n).map { _ in rng.normal() * 0.5 + 1 }
                        var want = [Float](repeating: .nan, count: rows * n)
                        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in want.withUnsafeMutableBufferPointer {
                            reference.rmsNorm(xp, weight: wp, rows: rows, epsilon: eps, into: $0) } } }
                        for (label, backend) in BackendsUnderTest.all {
                            var got = [Float](repeating: .nan, count: rows * n)
                            x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in got.withUnsafeMutableBufferPointer {
                                backend.rmsNorm(xp, weight: wp, rows: rows, epsilon: eps, into: $0) } } }
                            assertSameBits(got, want, "rmsNorm \(rows)×\(n) \(kind) eps \(eps) \(label)", counter: counter)
                        }
                    }
                }
            }
        }
        XCTAssertEqual(counter.cases, Self.lengths.count * 3 * FloatKind.allCases.count * 2 * BackendsUnderTest.all.count)
    }

    func testRoPE() {
        let reference = ReferenceBackend()
        let counter = ComparisonCounter()
        var rng = SplitMix64(seed: 0x1A_0002)
        let shapes: [(heads: Int, headDim: Int, rotated: Int)] = [(1, 32, 32), (3, 64, 64), (9, 64, 64), (2, 48, 48), (4, 64, 32), (1, 2, 2), (5, 16, 10)]
        for s in shapes {
            for base: Float in [10000, 100000, 500000] {
                let angles = RopeAngles(rotatedDimensions: s.rotated, base: base)
                for rows in [1, 3, 17, 41] {   // 41 rows of 9 heads: split over threads
                    for kind in [FloatKind.normal, .huge, .tiny, .special, .wideBlocks] {
                        let positions = (0..<rows).map { i in i == 0 ? rng.int(0...3) : rng.int(0...40000) }
                        let x = kind.make(rows * s.heads * s.headDim, rng: &rng)
                        var want = x
                        want.withUnsafeMutableBufferPointer {
                            reference.rope($0, rows: rows, heads: s.heads, headDim: s.headDim, positions: positions, angles: angles)
                        }
                        for (label, backend) in BackendsUnderTest.all {
                            var got = x
                            got.withUnsafeMutableBufferPointer {
                                backend.rope($0, rows: rows, heads: s.heads, headDim: s.headDim, positions: positions, angles: angles)
                            }
                            assertSameBits(got, want, "rope \(rows)×\(s.heads)×\(s.headDim) rot \(s.rotated) base \(base) \(kind) \(label)",
                                           counter: counter)
                        }
                    }
                }
            }
        }
        XCTAssertEqual(counter.cases, shapes.count * 3 * 4 * 5 * BackendsUnderTest.all.count)
    }

    /// The cpu backend keeps each thread's RoPE angles by position for one set of frequencies:
    /// alternating two sets over the same positions (each switch starts the table afresh),
    /// positions rotated again (read from the table), and positions past what the table holds
    /// (up to `RopeAngles.maxPosition`, computed on each call) all give the reference's bits.
    func testRoPEAngleTableAcrossFrequencySetsAndFarPositions() {
        let reference = ReferenceBackend()
        let counter = ComparisonCounter()
        var rng = SplitMix64(seed: 0x1A_0003)
        let sets = [RopeAngles(rotatedDimensions: 64, base: 10000), RopeAngles(rotatedDimensions: 64, base: 100000),
                    RopeAngles(rotatedDimensions: 32, base: 10000)]
        let positions = [0, 1, 139, 255, 256, 4095, 32767, 32768, 65535, 300_000, RopeAngles.maxPosition, 139, 0]
        let x = FloatKind.normal.make(positions.count * 3 * 64, rng: &rng)
        for round in 0 ..< 3 {
            for angles in sets {
                var want = x
                want.withUnsafeMutableBufferPointer {
                    reference.rope($0, rows: positions.count, heads: 3, headDim: 64, positions: positions, angles: angles)
                }
                for (label, backend) in BackendsUnderTest.all {
                    var got = x
                    got.withUnsafeMutableBufferPointer {
                        backend.rope($0, rows: positions.count, heads: 3, headDim: 64, positions: positions, angles: angles)
                    }
                    assertSameBits(got, want, "rope table round \(round) pairs \(angles.pairs) \(label)", counter: counter)
                }
            }
        }
        XCTAssertEqual(counter.cases, 3 * sets.count * BackendsUnderTest.all.count)
    }

    /// SiLU at the contract exp's boundaries (±89, −104), overflow, NaN and infinities.
    func testSiluMul() {
        let reference = ReferenceBackend()
        let counter = ComparisonCounter()
        var rng = SplitMix64(seed: 0x1A_0003)
        let boundary: [Float] = [0, -0.0, 88.9, 89, 89.0001, -89, -89.0001, 103.9, 104, 104.01, -104, -104.01, Float(bitPattern: 0x0001_1170), -Float(bitPattern: 0x0001_1170),
                                 20, -20, 0.5, -0.5, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .infinity, -.infinity]
        for n in Self.lengths + [boundary.count] {
            for kind in FloatKind.allCases {
                var g = kind.make(n, rng: &rng)
                if n == boundary.count { g = boundary }
                let u = FloatKind.normal.make(n, rng: &rng)
                var want = [Float](repeating: .nan, count: n)
                g.withUnsafeBufferPointer { gp in u.withUnsafeBufferPointer { up in want.withUnsafeMutableBufferPointer {
                    reference.siluMul(gate: gp, up: up, into: $0) } } }
                for (label, backend) in BackendsUnderTest.all {
                    var got = [Float](repeating: .nan, count: n)
                    g.withUnsafeBufferPointer { gp in u.withUnsafeBufferPointer { up in got.withUnsafeMutableBufferPointer {
                        backend.siluMul(gate: gp, up: up, into: $0) } } }
                    assertSameBits(got, want, "siluMul \(n) \(kind) \(label)", counter: counter)
                    // In place, as the model calls it (out aliases gate).
                    var inPlace = g
                    inPlace.withUnsafeMutableBufferPointer { gp in u.withUnsafeBufferPointer { up in
                        backend.siluMul(gate: UnsafeBufferPointer(gp), up: up, into: gp) } }
                    assertSameBits(inPlace, want, "siluMul in place \(n) \(kind) \(label)", counter: counter)
                }
            }
        }
        XCTAssertEqual(counter.cases, (Self.lengths.count + 1) * FloatKind.allCases.count * 2 * BackendsUnderTest.all.count)
    }

    /// Residual add, and the contract exp itself over a sweep of inputs.
    func testAddAndExp() {
        let reference = ReferenceBackend()
        let counter = ComparisonCounter()
        var rng = SplitMix64(seed: 0x1A_0004)
        for n in Self.lengths {
            for kind in FloatKind.allCases {
                let x = kind.make(n, rng: &rng), y = FloatKind.allCases.randomElement(using: &rng)!.make(n, rng: &rng)
                var want = x
                y.withUnsafeBufferPointer { yp in want.withUnsafeMutableBufferPointer { reference.add($0, yp) } }
                for (label, backend) in BackendsUnderTest.all {
                    var got = x
                    y.withUnsafeBufferPointer { yp in got.withUnsafeMutableBufferPointer { backend.add($0, yp) } }
                    assertSameBits(got, want, "add \(n) \(kind) \(label)", counter: counter)
                }
            }
        }
        XCTAssertEqual(counter.cases, Self.lengths.count * FloatKind.allCases.count * BackendsUnderTest.all.count)
    }
}
