import XCTest
import LockstepTestSupport
import Lockstep
@testable import LockstepTrace

final class TraceFileTests: XCTestCase {
    private let key = TraceFixtures.key

    private func traced(states: Bool, maxTokens: Int = 4, prompt: [TokenID] = [5, 6, 7]) throws -> (TracedResult, [UInt8], String) {
        try TraceFixtures.tracedFile(self, states: states, maxTokens: maxTokens, prompt: prompt)
    }

    func testRoundTrip() throws {
        for states in [false, true] {
            let (result, bytes, path) = try traced(states: states)
            for contents in [try TraceReader.read(path: path, keepStates: true, expectedPublicKey: key.publicKey),
                             try TraceReader.read(bytes: bytes, keepStates: true)] {
                XCTAssertEqual(contents.signed, result.signed)
                XCTAssertEqual(contents.leaves, result.leaves)
                XCTAssertEqual(contents.tree.root, result.commitment.root)
                XCTAssertEqual(contents.header.storesStates, states)
                XCTAssertEqual(contents.steps.count, result.leaves.count)
                if states {
                    let states = try XCTUnwrap(contents.states)
                    XCTAssertEqual(states.count, result.leaves.count)
                    // Each stored state hashes to its step digest, and sample states end with the token.
                    var sample = 0
                    for (i, s) in states.enumerated() {
                        XCTAssertEqual(s.withUnsafeBytes { StepDigest.stored(contents.steps[i], stateBytes: $0, hasher: SHA256Hasher()) }, contents.leaves[i].stepDigest)
                        if contents.steps[i].kind == .sample {
                            XCTAssertEqual(Array(s.suffix(4)), withUnsafeBytes(of: UInt32(result.tokens[sample]).littleEndian) { Array($0) })
                            sample += 1
                        }
                    }
                } else {
                    XCTAssertNil(contents.states)
                }
            }
            // A different expected signer is refused.
            XCTAssertThrowsError(try TraceReader.read(path: path, expectedPublicKey: Ed25519PrivateKey().publicKey)) {
                guard case .commitment(.publicKeyMismatch)? = $0 as? TraceError else { return XCTFail("\($0)") }
            }
        }
        // Streaming: the records are on disk before the footer; the reader reports each in order.
        let (result, bytes, _) = try traced(states: false)
        let reader = try TraceReader(bytes: bytes)
        var n = 0
        while let record = try reader.next() {
            XCTAssertEqual(record.leaf, result.leaves[n])
            n += 1
        }
        XCTAssertEqual(n, result.leaves.count)
        XCTAssertNotNil(reader.signed)
        XCTAssertNil(try reader.next())
    }

    func testEmptyGenerationRoundTrips() throws {
        let (result, bytes, _) = try traced(states: true, maxTokens: 0)
        let contents = try TraceReader.read(bytes: bytes)
        XCTAssertEqual(contents.leaves, [])
        XCTAssertEqual(contents.signed, result.signed)
    }

    func testTruncationAtEveryRecordBoundaryAndEveryByteIsAClearError() throws {
        for states in [false, true] {
            let (result, bytes, _) = try traced(states: states)
            let contents = try TraceReader.read(bytes: bytes)
            let boundaries = TraceFixtures.recordBoundaries(header: contents.header, count: result.leaves.count)
            XCTAssertEqual(boundaries.last! + 1 + 4 + result.commitment.encoding.count + 64 + 32 + 16, bytes.count)
            var cuts = Set<Int>()
            for b in boundaries { cuts.formUnion([b - 1, b, b + 1]) }
            if !states { cuts.formUnion(0 ..< bytes.count) }  // every byte of the small file
            cuts.formUnion(boundaries.last! ..< bytes.count)  // every byte of the footer
            cuts.formUnion(0 ..< boundaries[0] + 1)  // every byte of the header
            for cut in cuts.sorted() where cut >= 0 && cut < bytes.count {
                XCTAssertThrowsError(try TraceReader.read(bytes: Array(bytes[..<cut])), "cut at \(cut)") { error in
                    guard let e = error as? TraceError else { return XCTFail("cut at \(cut): \(error)") }
                    switch e {
                    case .truncated, .badMagic: break
                    default: XCTFail("cut at \(cut) of \(bytes.count): \(e)")
                    }
                }
            }
            // The file truncated just after a record: a clear message naming the missing record.
            XCTAssertThrowsError(try TraceReader.read(bytes: Array(bytes[..<boundaries[3]]))) {
                XCTAssertEqual("\($0)", "trace truncated: record type at byte \(boundaries[3]) runs past the end of the file")
            }
            // Appended bytes are refused too.
            XCTAssertThrowsError(try TraceReader.read(bytes: bytes + [0]))
        }
    }

    func testEverySingleBitFlipIsDetected() throws {
        let (_, bytes, _) = try traced(states: false, maxTokens: 2, prompt: [5, 6])
        for bit in 0 ..< bytes.count * 8 {
            XCTAssertThrowsError(try TraceReader.read(bytes: flipped(bytes, bit: bit)), "bit \(bit) (byte \(bit / 8))")
        }
    }

    func testRandomCorruptionGivesErrorsNotCrashes() throws {
        var rng = SplitMix64(seed: 7)
        for states in [false, true] {
            let (_, bytes, _) = try traced(states: states)
            for _ in 0 ..< 300 {
                var b = bytes
                let kind = Int.random(in: 0 ..< 4, using: &rng)
                switch kind {
                case 0:  // a few random bytes overwritten
                    for _ in 0 ..< Int.random(in: 1 ... 8, using: &rng) { b[Int.random(in: 0 ..< b.count, using: &rng)] = UInt8.random(in: 0 ... 255, using: &rng) }
                case 1:  // a run of 0xFF (huge lengths and counts)
                    let at = Int.random(in: 0 ..< b.count - 8, using: &rng)
                    for i in at ..< at + 8 { b[i] = 0xFF }
                case 2:  // a random range removed
                    let at = Int.random(in: 0 ..< b.count, using: &rng)
                    b.removeSubrange(at ..< min(b.count, at + Int.random(in: 1 ... 200, using: &rng)))
                default:  // a random range duplicated
                    let at = Int.random(in: 0 ..< b.count - 80, using: &rng)
                    b.insert(contentsOf: b[at ..< at + 74], at: at)
                }
                if b == bytes { continue }
                XCTAssertThrowsError(try TraceReader.read(bytes: b)) { XCTAssertTrue($0 is TraceError, "\($0)") }
            }
        }
    }

    func testMalformedHeadersAndLimits() throws {
        let (_, bytes, _) = try traced(states: false)
        func error(_ b: [UInt8]) -> TraceError? {
            do { _ = try TraceReader.read(bytes: b); return nil } catch { return error }
        }
        func patched(_ offset: Int, _ value: UInt32) -> [UInt8] {
            var b = bytes
            withUnsafeBytes(of: value.littleEndian) { for (i, x) in $0.enumerated() { b[offset + i] = x } }
            return b
        }
        XCTAssertEqual(error([]), .truncated(offset: 0, what: "magic"))
        XCTAssertEqual(error(Array("LKSTRACX".utf8) + bytes.dropFirst(8)), .badMagic)
        XCTAssertEqual(error(patched(8, 2)), .unsupportedVersion(2))
        XCTAssertEqual(error(patched(12, 6)), .unknownFlags(6))
        // Offsets: magic 0, version 8, flags 12, request length 16, request 20: version string
        // (4 + 3 bytes), model digest, dim 59, vocab 63, layers 67, prompt count 71.
        XCTAssertEqual(error(patched(59, 0)), .malformed(offset: 20, "request: commitment field dim: 0 is outside 1 … 65536"))
        XCTAssertEqual(error(patched(67, 100_000)), .malformed(offset: 20, "request: commitment field layers: 100000 is outside 1 … 1024"))
        // A request length beyond the file: no allocation, a truncation error.
        XCTAssertEqual(error(patched(16, 0xFFFF_FFF0)), .truncated(offset: 20, what: "request (4294967280 bytes)"))
        // A prompt count beyond the request's bytes.
        guard case .malformed? = error(patched(71, 0x00FF_FFFF)) else { return XCTFail("huge prompt count") }
        // Layers changed: the request (hence c₀) changes, so the first record's chain value is wrong.
        XCTAssertEqual(error(patched(67, 3)), .chainMismatch(index: 0))
        // The states flag set on a file without states.
        XCTAssertNotNil(error(patched(12, 1)))
        // Not a file.
        XCTAssertThrowsError(try TraceReader.read(path: "/nonexistent/t.trace")) { guard case .io? = $0 as? TraceError else { return XCTFail("\($0)") } }
        XCTAssertThrowsError(try TraceReader.read(path: "/tmp")) { guard case .io? = $0 as? TraceError else { return XCTFail("\($0)") } }
    }

    func testTamperedButConsistentFilesAreCaught() throws {
        // Rewrite a record's digest and every later chain value consistently: the root and the final
        // chain no longer match the signed commitment.
        let (result, bytes, _) = try traced(states: false)
        let header = try TraceReader(bytes: bytes).header
        let boundaries = TraceFixtures.recordBoundaries(header: header, count: result.leaves.count)
        var b = bytes
        var chain = header.request.chainStart
        for i in 0 ..< result.leaves.count {
            let at = boundaries[i] + 10
            var o = Array(b[at ..< at + 32])
            if i == 5 { o[0] ^= 1 }
            chain = SHA256Hasher.hash(chain.bytes + o)
            b.replaceSubrange(at ..< at + 64, with: o + chain.bytes)
        }
        XCTAssertThrowsError(try TraceReader.read(bytes: b)) {
            guard case .commitmentMismatch? = $0 as? TraceError else { return XCTFail("\($0)") }
        }
    }
}
