import Foundation
import XCTest
import LockstepCore
import LockstepGPU
import LockstepNative
import LockstepTestSupport

/// The CUDA kernels must compile with NVRTC (which needs no GPU); where a GPU exists the cuda
/// backend must match the reference bit for bit.
final class CUDAKernelTests: XCTestCase {
    private func nvrtc() throws -> NVRTC {
        do {
            return try NVRTC()
        } catch {
            if ProcessInfo.processInfo.environment["LOCKSTEP_REQUIRE_NVRTC"] == "1" { XCTFail("\(error)") }
            throw XCTSkip("NVRTC not available: \(error)")
        }
    }

    func testKernelsCompileToPTXWithoutFMA() throws {
        let compiler = try nvrtc()
        for (major, minor) in [(7, 0), (8, 0), (9, 0)] {
            let ptx = try compiler.compile(source: GPUKernelSource.cuda, name: "lockstep.cu",
                                           options: CUDABackend.compileOptions(major: major, minor: minor))
            XCTAssertTrue(ptx.contains(".entry matmul_exact"), "sm_\(major)\(minor): no matmul_exact entry")
            XCTAssertFalse(ptx.contains("fma.rn.f"), "sm_\(major)\(minor): floating-point FMA in the PTX")
        }
    }

    func testCompileErrorsCarryTheLog() throws {
        let compiler = try nvrtc()
        XCTAssertThrowsError(try compiler.compile(source: "extern \"C\" __global__ void k() { undefined_name(); }", name: "bad.cu", options: [])) {
            XCTAssertTrue("\($0)".contains("undefined_name"), "\($0)")
        }
    }

    func testCUDABackendMatchesTheReferenceOrExplainsItsAbsence() throws {
        do {
            let backend = try CUDABackend(fallback: ReferenceBackend())
            XCTAssertEqual(productMismatches(backend), [])
            XCTAssertEqual(rowViewMismatches(backend), [])
        } catch {
            // No GPU here: the error must say what is missing.
            XCTAssertTrue("\(error)".contains("cuda:"), "\(error)")
            throw XCTSkip("no CUDA device: \(error)")
        }
    }
}
