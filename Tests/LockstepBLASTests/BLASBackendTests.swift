import Foundation
import XCTest
import LockstepBLAS
import LockstepCore
import LockstepTestSupport

/// The blas backend's products must equal the reference backend's bit for bit, including rows
/// whose exponent spread forces the scalar fallback.
final class BLASBackendTests: XCTestCase {
    func testProductsMatchTheReferenceBitForBit() {
        for threads in [1, 2] {
            let blas = BLASBackend(threads: threads, fallback: ReferenceBackend(), minimumGEMMRows: 1)
            XCTAssertEqual(productMismatches(blas), [])
            XCTAssertEqual(rowViewMismatches(blas), [])
        }
    }

    func testSliceWidthKeepsEverySumBelow2To53() {
        for k in [32, 64, 576, 1536, 4096, 49152] {
            let beta = BLASBackend.sliceBits(columns: k)
            XCTAssertLessThanOrEqual(Double(k) * pow(2, Double(2 * beta)), pow(2, 53), "K = \(k)")
        }
    }
}
