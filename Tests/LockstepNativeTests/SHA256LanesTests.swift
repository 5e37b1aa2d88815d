import XCTest
import LockstepTestSupport
import LockstepNative

/// `SHA256Lanes` against OpenSSL (`SHA256Hasher`, one message at a time): every digest, for
/// every count of messages (whole groups of 16, remainders above and below `minimumLanes`) and
/// part lengths on each side of SHA-256's block and padding boundaries.
final class SHA256LanesTests: XCTestCase {
    /// Digests of `count` messages of random parts with `lengths`, in lanes and one at a time.
    private func digests(count: Int, lengths: [Int], rng: inout SplitMix64, vectorised: Bool) -> (lanes: [Digest], oracle: [Digest]) {
        let parts = (0 ..< count * lengths.count).map { k in
            (0 ..< lengths[k % lengths.count]).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
        }
        let pointers = parts.map { p -> UnsafeMutableRawPointer in
            let q = UnsafeMutableRawPointer.allocate(byteCount: max(p.count, 1), alignment: 1)
            p.withUnsafeBytes { q.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(q), byteCount: p.count) }
            return q
        }
        defer { pointers.forEach { $0.deallocate() } }
        let hasher = SHA256Hasher()
        let lanes = [Digest](unsafeUninitializedCapacity: count) { out, n in
            SHA256Lanes.hash(into: out, partLengths: lengths, hasher: hasher, vectorised: vectorised) { m, j in
                UnsafeRawPointer(pointers[m * lengths.count + j])
            }
            n = count
        }
        let oracle = (0 ..< count).map { m in SHA256Hasher.hash(Array(parts[m * lengths.count ..< (m + 1) * lengths.count].joined())) }
        return (lanes, oracle)
    }

    func testMatchesOpenSSLForEveryCountAndBoundary() throws {
        try XCTSkipUnless(SHA256Lanes.isVectorised, "no AVX-512 here: SHA256Lanes hashes one message at a time (OpenSSL)")
        var rng = SplitMix64(seed: 20261207)
        // One part on each side of the padding limits (55/56 bytes fill one block, 64 ends it).
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000] {
            let (lanes, oracle) = digests(count: 16, lengths: [length], rng: &rng, vectorised: true)
            XCTAssertEqual(lanes, oracle, "16 messages of \(length) bytes")
        }
        // Counts: below minimumLanes (OpenSSL only), a partial group, whole groups, remainders.
        for count in [0, 1, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 40, 70] {
            let (lanes, oracle) = digests(count: count, lengths: [17, 9, 2304], rng: &rng, vectorised: true)
            XCTAssertEqual(lanes, oracle, "\(count) messages shaped like a trace's layer rows")
        }
        // Random shapes of one to five parts, some empty, crossing blocks inside and between parts.
        for trial in 0 ..< 60 {
            let lengths = (0 ..< Int.random(in: 1 ... 5, using: &rng)).map { _ in
                Bool.random(using: &rng) ? Int.random(in: 0 ... 70, using: &rng) : Int.random(in: 0 ... 400, using: &rng)
            }
            let (lanes, oracle) = digests(count: Int.random(in: 8 ... 40, using: &rng), lengths: lengths, rng: &rng, vectorised: true)
            XCTAssertEqual(lanes, oracle, "trial \(trial): parts \(lengths)")
        }
    }

    func testKnownVectorInEveryLane() throws {
        try XCTSkipUnless(SHA256Lanes.isVectorised, "no AVX-512 here")
        let abc = Array("abc".utf8)
        let digests = abc.withUnsafeBytes { abc in
            [Digest](unsafeUninitializedCapacity: 16) { out, n in
                SHA256Lanes.hash(into: out, partLengths: [3], hasher: SHA256Hasher()) { _, _ in abc.baseAddress! }
                n = 16
            }
        }
        XCTAssertEqual(Set(digests.map(\.hex)), ["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"])
    }

    /// The oracle path itself (`vectorised: false`) on any machine.
    func testOneAtATimePathMatchesOpenSSL() {
        var rng = SplitMix64(seed: 5)
        let (lanes, oracle) = digests(count: 20, lengths: [3, 100], rng: &rng, vectorised: false)
        XCTAssertEqual(lanes, oracle)
    }
}
