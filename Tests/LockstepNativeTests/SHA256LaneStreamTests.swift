import XCTest
import LockstepTestSupport
import LockstepNative

/// `SHA256LaneStream` against OpenSSL (`SHA256Hasher.hash` of each whole message): messages fed
/// in pieces of every length around SHA-256's block and padding boundaries, in every count of
/// messages (whole groups, remainders above and below `SHA256Lanes.minimumLanes`).
final class SHA256LaneStreamTests: XCTestCase {
    /// Feeds `count` random messages in pieces of `pieces` bytes (the same for every message) to a
    /// stream, group by group, and returns its digests and OpenSSL's.
    private func digests(count: Int, pieces: [Int], rng: inout SplitMix64, vectorised: Bool) -> (stream: [Digest], oracle: [Digest]) {
        let messages = (0 ..< count).map { _ in (0 ..< pieces.reduce(0, +)).map { _ in UInt8.random(in: 0 ... 255, using: &rng) } }
        // Each message in its own allocation, so a lane that read past its piece would read
        // bytes of its own message, not another's (and the oracle would catch it).
        let buffers = messages.map { m -> UnsafeMutableRawPointer in
            let q = UnsafeMutableRawPointer.allocate(byteCount: m.count + 1, alignment: 1)
            m.withUnsafeBytes { if let b = $0.baseAddress { q.copyMemory(from: b, byteCount: m.count) } }
            return q
        }
        defer { buffers.forEach { $0.deallocate() } }
        let stream = SHA256LaneStream(count: count, vectorised: vectorised)
        var digests = [Digest](repeating: Digest(bytes: [UInt8](repeating: 0, count: 32)), count: count)
        digests.withUnsafeMutableBufferPointer { out in
            for g in 0 ..< stream.groups {
                var at = 0
                for piece in pieces {
                    stream.update(group: g, length: piece) { UnsafeRawPointer(buffers[$0] + at) }
                    at += piece
                }
                stream.finalize(group: g, into: out)
            }
        }
        return (digests, messages.map { SHA256Hasher.hash($0) })
    }

    func testMatchesOpenSSLForEveryPieceBoundary() throws {
        try XCTSkipUnless(SHA256Lanes.isVectorised, "no AVX-512 here: SHA256LaneStream hashes one message at a time (OpenSSL)")
        var rng = SplitMix64(seed: 20261208)
        // A trace sample step's shape: tag, 9-byte header, logits slices, 4-byte token.
        let trace = digests(count: 16, pieces: [17, 9, 4096, 4096, 1000, 4], rng: &rng, vectorised: true)
        XCTAssertEqual(trace.stream, trace.oracle)
        for pieces in [[], [0], [1], [55], [56], [63], [64], [65], [119], [120], [1, 63], [63, 1], [64, 0, 64], [10, 54, 10, 118, 3],
                       [17, 9, 256, 256, 4], [200, 7, 129, 1, 1, 1, 56]] {
            let (stream, oracle) = digests(count: 16, pieces: pieces, rng: &rng, vectorised: true)
            XCTAssertEqual(stream, oracle, "16 messages in pieces \(pieces)")
        }
        for count in [0, 1, 7, 8, 9, 16, 17, 24, 31, 40] {
            let (stream, oracle) = digests(count: count, pieces: [17, 9, 130, 70, 4], rng: &rng, vectorised: true)
            XCTAssertEqual(stream, oracle, "\(count) messages")
        }
        for trial in 0 ..< 40 {
            let pieces = (0 ..< Int.random(in: 1 ... 8, using: &rng)).map { _ in Int.random(in: 0 ... 200, using: &rng) }
            let (stream, oracle) = digests(count: Int.random(in: 8 ... 20, using: &rng), pieces: pieces, rng: &rng, vectorised: true)
            XCTAssertEqual(stream, oracle, "trial \(trial): pieces \(pieces)")
        }
    }

    /// The OpenSSL path (`vectorised: false`) on any machine.
    func testOneAtATimePathMatchesOpenSSL() {
        var rng = SplitMix64(seed: 6)
        let (stream, oracle) = digests(count: 20, pieces: [3, 100, 0, 61], rng: &rng, vectorised: false)
        XCTAssertEqual(stream, oracle)
    }
}
