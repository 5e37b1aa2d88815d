import XCTest
import LockstepTestSupport
import LockstepNative
import Dispatch

final class SHA256Tests: XCTestCase {
    // FIPS 180-4 / NIST example vectors.
    func testKnownVectors() {
        XCTAssertEqual(SHA256Hasher.hash([UInt8]()).hex,
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256Hasher.hash(Array("abc".utf8)).hex,
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256Hasher.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hex,
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256Hasher.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)).hex,
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testIncrementalMatchesOneShotAndReset() {
        var rng = SplitMix64(seed: 1)
        let data = (0..<10_007).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let expected = SHA256Hasher.hash(data)
        let hasher = SHA256Hasher()
        var i = 0
        var chunk = 1
        while i < data.count {
            let end = min(data.count, i + chunk)
            data[i..<end].withUnsafeBytes { hasher.update($0) }
            i = end
            chunk = chunk * 3 % 1031 + 1
        }
        XCTAssertEqual(hasher.finalize(), expected)
        hasher.reset()
        hasher.update(data)
        XCTAssertEqual(hasher.finalize(), expected)
        hasher.reset()
        XCTAssertEqual(hasher.finalize().hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // Reset mid-stream discards input.
        hasher.reset()
        hasher.update([1, 2, 3])
        hasher.reset()
        hasher.update(Array("abc".utf8))
        XCTAssertEqual(hasher.finalize(), SHA256Hasher.hash(Array("abc".utf8)))
    }

    func testLittleEndianUpdates() {
        let h1 = SHA256Hasher()
        h1.update(littleEndian: UInt32(0x0403_0201))
        h1.update(littleEndian: Int16(-2))
        h1.update(littleEndian: Float(1.0))
        h1.update(littleEndian: Double(-0.0))
        h1.update(littleEndian: [UInt16(0x0201), 0x0403])
        h1.update(littleEndian: [Float(-2.5)])
        h1.update(littleEndian: [Double(1.0)])
        var expected: [UInt8] = [1, 2, 3, 4, 0xfe, 0xff, 0x00, 0x00, 0x80, 0x3f]
        expected += [0, 0, 0, 0, 0, 0, 0, 0x80]
        expected += [1, 2, 3, 4]
        expected += [0x00, 0x00, 0x20, 0xc0]
        expected += [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]
        XCTAssertEqual(h1.finalize(), SHA256Hasher.hash(expected))
    }

    func testDigestHex() {
        let d = SHA256Hasher.hash(Array("abc".utf8))
        XCTAssertEqual(d.bytes.count, 32)
        XCTAssertEqual(Digest(hex: d.hex), d)
        XCTAssertEqual(Digest(hex: d.hex.uppercased()), d)
        XCTAssertEqual(d.description, d.hex)
        XCTAssertEqual(Digest(bytes: d.bytes), d)
        XCTAssertNil(Digest(hex: String(d.hex.dropLast())))
        XCTAssertNil(Digest(hex: String(d.hex.dropLast(2))))
        XCTAssertNil(Digest(hex: d.hex + "00"))
        XCTAssertNil(Digest(hex: "g" + String(d.hex.dropFirst())))
        XCTAssertNil(Digest(hex: ""))
        XCTAssertEqual(Set([d, Digest(hex: d.hex)!]).count, 1)
    }

    /// The inline storage: every one of the 256 bits takes part in equality and hashing, the bytes
    /// come back in order from memory and from an array, and the digest of "abc" has its FIPS 180-4 value.
    func testDigestBytesAndEquality() {
        let d = SHA256Hasher.hash(Array("abc".utf8))
        XCTAssertEqual(d.hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let bytes = d.bytes
        XCTAssertEqual(bytes.withUnsafeBytes { Digest($0) }, d)
        XCTAssertEqual(d.withUnsafeBytes { Array($0) }, bytes)
        var seen: Set<Digest> = [d]
        for bit in 0 ..< 256 {
            var b = bytes
            b[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
            let other = Digest(bytes: b)
            XCTAssertNotEqual(other, d, "bit \(bit)")
            XCTAssertEqual(other.bytes, b)
            seen.insert(other)
        }
        XCTAssertEqual(seen.count, 257)
    }

    /// Throughput on 100 MB (OpenSSL does the work; the Swift side must add no per-call cost).
    func testThroughput100MB() {
        let size = 100 * 1024 * 1024
        let data = [UInt8](repeating: 0x5a, count: size)
        // Warm up (fetch, page in).
        _ = SHA256Hasher.hash(Array(data[0..<(1 << 20)]))
        let hasher = SHA256Hasher()
        let start = DispatchTime.now().uptimeNanoseconds
        data.withUnsafeBytes { raw in
            // 1 MiB updates, as a trace writer would stream them.
            var offset = 0
            while offset < raw.count {
                let end = min(raw.count, offset + (1 << 20))
                hasher.update(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                offset = end
            }
        }
        let digest = hasher.finalize()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let rate = Double(size) / seconds / 1e9
        print("SHA-256 throughput: \(String(format: "%.3f", rate)) GB/s (100 MiB in \(String(format: "%.3f", seconds)) s)")
        XCTAssertEqual(digest, SHA256Hasher.hash(data))
        XCTAssertGreaterThan(rate, 0.2, "SHA-256 far below OpenSSL speed")
    }

    func testSmallHashesRate() {
        // Many small hashes (trace leaves): report the per-hash cost.
        let leaf = [UInt8](repeating: 7, count: 64)
        let n = 100_000
        let start = DispatchTime.now().uptimeNanoseconds
        var last = SHA256Hasher.hash(leaf)
        for _ in 1..<n { last = SHA256Hasher.hash(last.bytes) }
        let ns = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(n)
        print("SHA-256 of 32..64-byte inputs: \(String(format: "%.0f", ns)) ns per hash")
        XCTAssertEqual(last.bytes.count, 32)
    }
}
