import XCTest
import LockstepNative
import Foundation

/// Every wrapper frees its C handle in deinit: creating and dropping many objects must not grow
/// the process's resident memory by anything like their total size.
final class OwnershipTests: XCTestCase {
    private func residentBytes() throws -> Int {
        #if os(Linux)
        let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
        let pages = Int(statm.split(separator: " ")[1])!
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        #else
        throw XCTSkip("resident memory probe is Linux-only")
        #endif
    }

    func testGMPIntegersAndHashersAreFreed() throws {
        let big = GMPInteger(bytesBigEndian: [UInt8](repeating: 0xab, count: 512))
        _ = big * big
        let before = try residentBytes()
        // 100k products of 1 KiB each: ~100 MB if the mpz_t limbs leaked.
        for _ in 0..<100_000 { _ = big * big }
        // 100k hashers (EVP_MD_CTX + provider context each).
        for _ in 0..<100_000 { _ = SHA256Hasher() }
        // 5k Ed25519 keys (EVP_PKEY each).
        for _ in 0..<5_000 { _ = Ed25519PrivateKey() }
        let growth = try residentBytes() - before
        XCTAssertLessThan(growth, 30 << 20, "resident memory grew by \(growth) bytes")
    }

    func testOpenCLBuffersAreReleased() throws {
        let device = try requireDevice()
        let context = try OpenCLContext(device: device)
        let payload = [UInt8](repeating: 1, count: 4 << 20)
        _ = try OpenCLBuffer(context: context, copying: payload)
        let before = try residentBytes()
        // 300 × 4 MiB copied buffers: 1.2 GB if cl_mem objects leaked.
        for _ in 0..<300 { _ = try OpenCLBuffer(context: context, copying: payload) }
        let growth = try residentBytes() - before
        XCTAssertLessThan(growth, 200 << 20, "resident memory grew by \(growth) bytes")
    }
}
