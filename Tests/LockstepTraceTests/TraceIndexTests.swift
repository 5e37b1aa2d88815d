import XCTest
import LockstepTestSupport
import Lockstep
@testable import LockstepTrace

/// `TraceIndex`: the leaves and commitment of the full reader without reading the states, each
/// state read on demand; every change of the file caught, by indexing or by the opened state.
final class TraceIndexTests: XCTestCase {
    private let key = TraceFixtures.key

    func testIndexAgreesWithTheFullReader() throws {
        for states in [false, true] {
            let (result, bytes, path) = try TraceFixtures.tracedFile(self, states: states)
            let full = try TraceReader.read(bytes: bytes, keepStates: true)
            // Indexing reads of up to 256 KiB (the whole file on this small model), of one record's
            // fixed part each, and of about three records each; reads that end at every sample
            // step's state (larger than a layer state), and at every state.
            let layerStateBytes = states ? full.header.stateByteCount(.layer) : 0
            XCTAssertLessThan(layerStateBytes, full.header.stateByteCount(.sample))
            let recordBytes = stepRecordFixedBytes + layerStateBytes
            let indexes = [try TraceIndex(path: path, expectedPublicKey: key.publicKey),
                           try TraceIndex(path: path, expectedPublicKey: nil, readBytes: stepRecordFixedBytes),
                           try TraceIndex(path: path, expectedPublicKey: nil, readBytes: 3 * recordBytes),
                           try TraceIndex(path: path, expectedPublicKey: nil, readBytes: skimReadBytes, gapBytes: layerStateBytes),
                           try TraceIndex(path: path, expectedPublicKey: nil, readBytes: skimReadBytes, gapBytes: 0),
                           try TraceIndex(bytes: bytes)]
            for index in indexes {
                XCTAssertEqual(index.header, full.header)
                XCTAssertEqual(index.signed, result.signed)
                XCTAssertEqual(index.leaves, result.leaves)
                if let stored = full.states {
                    // Backwards, so that every read seeks.
                    for i in stored.indices.reversed() { XCTAssertEqual(try index.storedState(at: i), stored[i], "record \(i)") }
                } else {
                    XCTAssertThrowsError(try index.storedState(at: 0))
                }
                XCTAssertThrowsError(try index.storedState(at: -1))
                XCTAssertThrowsError(try index.storedState(at: index.leaves.count))
            }
            XCTAssertThrowsError(try TraceIndex(path: path, expectedPublicKey: Ed25519PrivateKey().publicKey)) {
                guard case .commitment(.publicKeyMismatch)? = $0 as? TraceError else { return XCTFail("\($0)") }
            }
        }
    }

    /// Every single-bit change of a trace with states is caught: by indexing, or, for a bit of a
    /// state (which the index does not read), by that state no longer hashing to its leaf's step
    /// digest when it is opened.
    func testEverySingleBitFlipIsCaughtByIndexingOrOpening() throws {
        let (result, bytes, _) = try TraceFixtures.tracedFile(self, states: true, maxTokens: 2, prompt: [5, 6])
        let header = try TraceIndex(bytes: bytes).header
        let boundaries = TraceFixtures.recordBoundaries(header: header, count: result.leaves.count)
        var recordOfStateByte: [Int: Int] = [:]
        for i in 0 ..< result.leaves.count {
            for b in boundaries[i] + stepRecordFixedBytes ..< boundaries[i + 1] { recordOfStateByte[b] = i }
        }
        var byOpening = 0
        for bit in 0 ..< bytes.count * 8 {
            let b = flipped(bytes, bit: bit)
            if let record = recordOfStateByte[bit / 8] {
                let index = try TraceIndex(bytes: b)
                let state = try index.storedState(at: record)
                let digest = state.withUnsafeBytes { StepDigest.stored(header.schedule.step(at: record), stateBytes: $0, hasher: SHA256Hasher()) }
                XCTAssertNotEqual(digest, index.leaves[record].stepDigest, "bit \(bit) (record \(record))")
                byOpening += 1
            } else {
                XCTAssertThrowsError(try TraceIndex(bytes: b), "bit \(bit) (byte \(bit / 8))")
            }
        }
        print("trace index: \(bytes.count * 8) bit flips, \(byOpening) in states (caught when opened), the rest when indexing")
    }

    /// `verifyAll` makes the two state checks indexing leaves out, with the full reader's
    /// verdicts: the same contents for a good file, `stepDigestMismatch` at the record whose state
    /// was changed, and `commitmentMismatch` when the sample states end with other tokens than the
    /// signed output tokens (a file otherwise consistent and validly signed).
    func testVerifyAllMakesTheFullReadersStateChecks() throws {
        let (_, bytes, path) = try TraceFixtures.tracedFile(self, states: true)
        let full = try TraceReader.read(bytes: bytes, keepStates: true)
        let all = try TraceIndex(path: path).verifyAll()
        XCTAssertEqual(all.header, full.header)
        XCTAssertEqual(all.signed, full.signed)
        XCTAssertEqual(all.leaves, full.leaves)
        XCTAssertEqual(all.steps, full.steps)
        XCTAssertNil(all.states)
        XCTAssertEqual(all.tree.root, full.tree.root)

        let header = full.header, states = try XCTUnwrap(full.states)
        let boundaries = TraceFixtures.recordBoundaries(header: header, count: full.leaves.count)
        for i in full.leaves.indices {
            var b = bytes
            b[boundaries[i] + stepRecordFixedBytes + (7 * i) % states[i].count] ^= 0x20
            for read in [{ () throws in _ = try TraceReader.read(bytes: b) }, { () throws in _ = try TraceIndex(bytes: b).verifyAll() }] {
                XCTAssertThrowsError(try read(), "record \(i)") {
                    guard case .stepDigestMismatch(index: i)? = $0 as? TraceError else { return XCTFail("record \(i): \($0)") }
                }
            }
        }

        // The same records and states, signed over output tokens that differ from the states' last tokens.
        let c = full.signed.commitment
        let dir = try TraceFixtures.temporaryDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let forged = dir.appendingPathComponent("tokens.trace").path
        let writer = try TraceWriter(path: forged, header: header)
        for (i, leaf) in full.leaves.enumerated() {
            try states[i].withUnsafeBytes { try writer.append(full.steps[i], stepDigest: leaf.stepDigest, chain: leaf.chain, state: [$0]) }
        }
        var tokens = c.outputTokens
        tokens[0] = (tokens[0] + 1) % TokenID(header.request.shape.vocabularySize)
        let edited = try Commitment(request: c.request, outputTokens: tokens, leafCount: c.leafCount, root: c.root, finalChain: c.finalChain)
        try writer.finish(try edited.signed(with: key))
        for read in [{ () throws in _ = try TraceReader.read(path: forged) }, { () throws in _ = try TraceIndex(path: forged).verifyAll() }] {
            XCTAssertThrowsError(try read()) {
                guard case .commitmentMismatch? = $0 as? TraceError else { return XCTFail("\($0)") }
            }
        }
    }

    func testTruncationAndRandomCorruptionGiveErrorsNotCrashes() throws {
        let (_, bytes, _) = try TraceFixtures.tracedFile(self, states: true)
        for cut in 0 ..< bytes.count {
            XCTAssertThrowsError(try TraceIndex(bytes: Array(bytes[..<cut])), "cut at \(cut)") { XCTAssertTrue($0 is TraceError, "\($0)") }
        }
        XCTAssertThrowsError(try TraceIndex(bytes: bytes + [0]))
        var rng = SplitMix64(seed: 11)
        for _ in 0 ..< 300 {
            var b = bytes
            if Bool.random(using: &rng) {  // a random range removed: the records no longer line up
                let at = Int.random(in: 0 ..< b.count, using: &rng)
                b.removeSubrange(at ..< min(b.count, at + Int.random(in: 1 ... 200, using: &rng)))
                XCTAssertThrowsError(try TraceIndex(bytes: b)) { XCTAssertTrue($0 is TraceError, "\($0)") }
            } else {  // a run of 0xFF (huge lengths and counts, when it lands outside a state)
                let at = Int.random(in: 0 ..< b.count - 8, using: &rng)
                for i in at ..< at + 8 { b[i] = 0xFF }
                if let index = try? TraceIndex(bytes: b) {
                    for i in index.leaves.indices { _ = try index.storedState(at: i) }
                }
            }
        }
    }
}
