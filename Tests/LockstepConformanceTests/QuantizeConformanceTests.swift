import XCTest
import LockstepTestSupport
import LockstepCore
import LockstepCPU

/// Activation quantisation: every shape × edge-value kind × backend, integers and exponents equal.
final class QuantizeConformanceTests: XCTestCase {
    static let shapes: [(rows: Int, columns: Int)] = [
        (1, 1), (1, 5), (1, 31), (1, 32), (1, 33), (3, 64), (3, 100), (4, 65), (17, 576), (2, 1536), (1, 48),
        (33, 576),   // large enough to be split over threads
    ]

    func testQuantizeMatchesReference() {
        let reference = ReferenceBackend()
        let counter = ComparisonCounter()
        var rng = SplitMix64(seed: 0x51_0001)
        for shape in Self.shapes {
            for kind in FloatKind.allCases {
                let x = kind.make(shape.rows * shape.columns, rng: &rng)
                let want = x.withUnsafeBufferPointer { reference.quantize($0, rows: shape.rows, columns: shape.columns) }
                for (label, backend) in BackendsUnderTest.all {
                    let got = x.withUnsafeBufferPointer { backend.quantize($0, rows: shape.rows, columns: shape.columns) }
                    let name = "quantize \(shape.rows)×\(shape.columns) \(kind) \(label)"
                    counter.cases += 1
                    XCTAssertEqual(got.blocksPerRow, want.blocksPerRow, name)
                    assertSameInts(got.values, want.values, name + " values", counter: counter)
                    assertSameInts(got.exponents, want.exponents, name + " exponents", counter: counter)
                    assertSameInts(got.sums, want.sums, name + " sums", counter: counter)
                }
            }
        }
        XCTAssertEqual(counter.cases, Self.shapes.count * FloatKind.allCases.count * BackendsUnderTest.all.count)
        XCTAssertGreaterThan(counter.values, 0)
    }
}
