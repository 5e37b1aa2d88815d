import XCTest
import LockstepCore

final class NonFiniteScanTests: XCTestCase {
    /// Every non-finite encoding (both infinities, quiet and signalling NaNs with either sign) at
    /// every offset of a block boundary, and finite extremes that share most exponent bits: the
    /// scan agrees with `firstIndex(where: !isFinite)`.
    func testAgreesWithIsFiniteAtEveryBlockBoundary() {
        let nonFinite: [Float] = [.infinity, -.infinity, .nan, -.nan, .signalingNaN,
                                  Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFFFF_FFFF)]
        let finite: [Float] = [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, Float(bitPattern: 0x7F7F_FFFF),
                               .leastNonzeroMagnitude, 0, -0.0, 1]
        for count in [0, 1, 1023, 1024, 1025, 2049] {
            var x = (0 ..< count).map { finite[$0 % finite.count] }
            XCTAssertNil(x.withUnsafeBufferPointer { $0.firstNonFiniteIndex() }, "all finite, count \(count)")
            for at in Set([0, 1022, 1023, 1024, 1025, count - 1]) where at >= 0 && at < count {
                for bad in nonFinite {
                    let kept = x[at]
                    x[at] = bad
                    if at + 1 < count { x[count - 1] = .infinity }   // a later one must not win
                    XCTAssertEqual(x.withUnsafeBufferPointer { $0.firstNonFiniteIndex() }, at, "count \(count), \(bad.bitPattern) at \(at)")
                    XCTAssertEqual(x.firstIndex { !$0.isFinite }, at)
                    x[at] = kept
                    if at + 1 < count { x[count - 1] = finite[(count - 1) % finite.count] }
                }
            }
        }
    }
}
