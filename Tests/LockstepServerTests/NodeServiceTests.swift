import XCTest
import Lockstep
import LockstepServer

/// The node without HTTP: generation, the kept trace (which verifies), limits and refusals.
final class NodeServiceTests: XCTestCase {
    func testAnswerMatchesTheEngineAndItsTraceReplays() throws {
        let node = try Fixture.node()
        var streamed: [TokenID] = []
        let r = try node.generate(GenerationRequest(prompt: .tokens([1, 5, 9]), maxTokens: 6)) { id, _ in streamed.append(id); return true }
        let session = InferenceSession(model: Fixture.model, backend: ReferenceBackend())
        let expected = try session.generate(prompt: [1, 5, 9], maxTokens: 6, sampler: .greedy)
        XCTAssertEqual(r.tokens, expected.tokens)
        XCTAssertEqual(r.stop, expected.stop)
        XCTAssertEqual(streamed, r.tokens)
        XCTAssertEqual(r.signed.publicKey, node.publicKey)
        XCTAssertEqual(r.traceID, NodeService.traceID(r.signed.commitment, storesStates: false))
        let path = try node.tracePath(id: r.traceID)
        XCTAssertEqual(r.traceBytes, try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let trace = try TraceReader.read(path: path, keepStates: false)
        XCTAssertEqual(trace.signed, r.signed)
        let check = try Replay.verify(trace: trace, model: Fixture.model, modelDigest: node.modelDigest, backend: ReferenceBackend())
        XCTAssertTrue(check.verdict.holds, check.verdict.reason)
        // No leftover pending file; the same request again gives the same id and file.
        let again = try node.generate(GenerationRequest(prompt: .tokens([1, 5, 9]), maxTokens: 6))
        XCTAssertEqual(again.traceID, r.traceID)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: node.traceDirectory), [r.traceID + ".trace"])
        XCTAssertThrowsError(try node.tracePath(id: String(repeating: "0", count: 64) + "-states")) {
            XCTAssertEqual(($0 as? NodeError)?.kind, .notFound)
        }
        // With states: another id, a file that spot-checks can open — asked for by its id when the
        // result was given without states, it is recomputed, and is the file a generation with
        // states writes.
        let recomputed = try Data(contentsOf: URL(fileURLWithPath: try node.tracePath(id: r.traceID + "-states")))
        let states = try TraceIndex(path: try node.tracePath(id: r.traceID + "-states"))
        let spot = try SpotCheck.verify(trace: states, model: Fixture.model, modelDigest: node.modelDigest, backend: ReferenceBackend(), samples: 8, seed: nil)
        XCTAssertTrue(spot.verdict.holds, spot.verdict.reason)
        try FileManager.default.removeItem(atPath: node.tracePath(id: r.traceID + "-states"))
        let full = try node.generate(GenerationRequest(prompt: .tokens([1, 5, 9]), maxTokens: 6, traceActivations: true))
        XCTAssertEqual(full.traceID, r.traceID + "-states")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: node.tracePath(id: full.traceID))), recomputed)
    }

    func testTheCallerStopsAGeneration() throws {
        let node = try Fixture.node()
        var seen = 0
        let r = try node.generate(GenerationRequest(prompt: .tokens([1, 5, 9]), maxTokens: 50)) { _, _ in seen += 1; return seen < 3 }
        XCTAssertEqual(r.tokens.count, 3)
        XCTAssertEqual(r.stop, .caller)
        let trace = try TraceReader.read(path: node.tracePath(id: r.traceID))
        XCTAssertEqual(trace.signed.commitment.outputTokens, r.tokens)
        XCTAssertTrue(try Replay.verify(trace: trace, model: Fixture.model, modelDigest: node.modelDigest, backend: ReferenceBackend()).verdict.holds)
    }

    func testRefusals() throws {
        let node = try Fixture.node(NodeService.Limits(maxTokens: 10))
        let v = Fixture.model.config.vocabularySize
        let cases: [(GenerationRequest, String)] = [
            (GenerationRequest(prompt: .tokens([])), "the prompt is empty"),
            (GenerationRequest(prompt: .text("")), "the prompt is empty"),
            (GenerationRequest(prompt: .tokens([1, TokenID(v)])), "field 'prompt_tokens': entry 1 (\(v)) is outside the vocabulary of \(v) tokens"),
            (GenerationRequest(prompt: .tokens([1]), maxTokens: 11), "field 'max_tokens': this node allows at most 10, got 11"),
            (GenerationRequest(prompt: .tokens([TokenID](repeating: 1, count: Fixture.model.config.contextLimit + 1))),
             "the prompt has \(Fixture.model.config.contextLimit + 1) tokens, more than the \(Fixture.model.config.contextLimit) positions of the model's context"),
        ]
        for (request, expected) in cases {
            XCTAssertThrowsError(try node.generate(request)) {
                XCTAssertEqual(($0 as? NodeError)?.kind, .badRequest)
                XCTAssertTrue("\($0)".contains(expected), "\($0)")
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: node.traceDirectory), [])
        // A prompt that fills the context gives one token, as the engine does (SPEC §4.4); the
        // node refused it.
        let full = try node.generate(GenerationRequest(prompt: .tokens([TokenID](repeating: 1, count: Fixture.model.config.contextLimit)), maxTokens: 5))
        XCTAssertEqual(full.tokens.count, 1)
        XCTAssertEqual(full.stop, .contextFull)
        let fullTrace = try TraceReader.read(path: node.tracePath(id: full.traceID))
        XCTAssertTrue(try Replay.verify(trace: fullTrace, model: Fixture.model, modelDigest: node.modelDigest, backend: ReferenceBackend()).verdict.holds)
        for id in ["", "../tiny", String(repeating: "a", count: 63), String(repeating: "A", count: 64), String(repeating: "a", count: 64) + "-x"] {
            XCTAssertThrowsError(try node.tracePath(id: id)) { XCTAssertEqual(($0 as? NodeError)?.kind, .notFound) }
        }
        XCTAssertThrowsError(try node.tracePath(id: String(repeating: "a", count: 64))) {
            XCTAssertEqual("\($0)", "no trace \(String(repeating: "a", count: 64)) on this node")
        }
    }

    func testRestartRemovesUnfinishedFilesAndKeepsTraces() throws {
        let node = try Fixture.node()
        let r = try node.generate(GenerationRequest(prompt: .tokens([3, 4]), maxTokens: 2))
        let stale = [node.traceDirectory + "/.pending-0.trace", node.traceDirectory + "/.\(r.traceID)-states.trace.partial-Ab12Cd"]
        for path in stale { XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3]))) }
        let restarted = try Fixture.node(directory: node.traceDirectory)
        for path in stale { XCTAssertFalse(FileManager.default.fileExists(atPath: path)) }
        XCTAssertNoThrow(try restarted.tracePath(id: r.traceID))
    }

    func testOldestTracesGoBeyondTheByteLimit() throws {
        let probe = try Fixture.node()
        let size = try probe.generate(GenerationRequest(prompt: .tokens([7]), maxTokens: 3)).traceBytes
        let node = try Fixture.node(NodeService.Limits(maxTraceBytes: 2 * size + size / 2))   // room for two such traces
        let ids = try (1 ... 3).map { try node.generate(GenerationRequest(prompt: .tokens([TokenID($0)]), maxTokens: 3)).traceID }
        XCTAssertThrowsError(try node.tracePath(id: ids[0])) { XCTAssertEqual(($0 as? NodeError)?.kind, .notFound) }
        XCTAssertNoThrow(try node.tracePath(id: ids[1]))
        XCTAssertNoThrow(try node.tracePath(id: ids[2]))
        // A trace larger than the whole limit is still kept (alone).
        let tiny = try Fixture.node(NodeService.Limits(maxTraceBytes: 0))
        let a = try tiny.generate(GenerationRequest(prompt: .tokens([1]), maxTokens: 2)).traceID
        let b = try tiny.generate(GenerationRequest(prompt: .tokens([2]), maxTokens: 2)).traceID
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tiny.traceDirectory), [b + ".trace"])
        XCTAssertNotEqual(a, b)
    }

    func testBusyBeyondTheWaitingLimit() throws {
        let node = try Fixture.node(NodeService.Limits(maxWaiting: 1))
        let request = GenerationRequest(prompt: .tokens([1, 2]), maxTokens: 1)
        var held = [try node.admit(request), try node.admit(request)]   // one running, one waiting
        XCTAssertThrowsError(try node.admit(request)) { XCTAssertEqual(($0 as? NodeError)?.kind, .busy) }
        held.removeLast()                                               // a place is given up with its job
        held.append(try node.admit(request))
        XCTAssertEqual(try node.run(held[0]).tokens.count, 1)
        XCTAssertEqual(held.count, 2)
    }
}
