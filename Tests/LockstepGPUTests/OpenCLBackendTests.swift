import Foundation
import XCTest
import LockstepCore
import LockstepGPU
import LockstepTestSupport

final class OpenCLBackendTests: XCTestCase {
    static func backend() throws -> OpenCLBackend {
        do {
            return try OpenCLBackend(fallback: ReferenceBackend())
        } catch {
            if ProcessInfo.processInfo.environment["LOCKSTEP_REQUIRE_OPENCL"] == "1" { XCTFail("\(error)") }
            throw XCTSkip("\(error)")
        }
    }

    func testProductsMatchTheReferenceBitForBit() throws {
        XCTAssertEqual(productMismatches(try Self.backend()), [])
    }

    /// Row views of one matrix share its start address: each gets its own device copy.
    func testRowViewsOfOneMatrixMatchTheReference() throws {
        XCTAssertEqual(rowViewMismatches(try Self.backend()), [])
    }
}
