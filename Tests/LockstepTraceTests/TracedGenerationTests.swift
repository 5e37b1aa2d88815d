import XCTest
import Lockstep
@testable import LockstepTrace

/// The trace of a request is a function of the request alone: every batch shape (prefill at once,
/// in chunks, token by token, teacher-forced replay), backend and thread count gives the same
/// leaves, root and final chain.
final class TracedGenerationTests: XCTestCase {
    private let key = TraceFixtures.key

    private func run(_ model: LlamaModel, _ prompt: [TokenID], maxTokens: Int, sampler: SamplerSettings = .greedy,
                     chunk: Int? = nil, backend: any Backend = ReferenceBackend(), digest: Digest? = nil, states: Bool = false) throws -> TracedResult {
        try TracedGeneration.run(model: model, backend: backend, prompt: prompt, maxTokens: maxTokens, sampler: sampler, key: key,
                                 modelDigest: digest, options: TraceOptions(storeStates: states, prefillChunk: chunk))
    }

    private func assertSameTrace(_ a: TracedResult, _ b: TracedResult, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.tokens, b.tokens, "\(what): tokens", file: file, line: line)
        XCTAssertEqual(a.leaves, b.leaves, "\(what): leaves", file: file, line: line)
        XCTAssertEqual(a.commitment, b.commitment, "\(what): commitment", file: file, line: line)
    }

    func testTinyModelsGiveTheSameRootForEveryBatchShape() throws {
        let specs = [
            TinyModelSpec(),
            TinyModelSpec(seed: 2, dim: 96, layers: 2, heads: 3, kvHeads: 1, ffnDim: 160, weightType: .q8_0, embeddingType: .q8_0),
            TinyModelSpec(seed: 3, dim: 64, layers: 1, heads: 2, kvHeads: 2, ffnDim: 96, weightType: .q4_0, embeddingType: .q4_0, tiedOutput: false),
            TinyModelSpec(seed: 4, dim: 40, layers: 3, heads: 5, kvHeads: 5, ffnDim: 52, weightType: .f32, embeddingType: .f32),
        ]
        for spec in specs {
            let model = try TraceFixtures.tiny(spec)
            let digest = model.digest()
            let prompt = model.tokenizer.encode("The quick brown fox, 1234 times!", addSpecial: false)
            for sampler in [SamplerSettings.greedy, SamplerSettings(temperature: 1.3, seed: 99)] {
                let whole = try run(model, prompt, maxTokens: 9, sampler: sampler, digest: digest)
                XCTAssertEqual(whole.tokens.count, 9)
                XCTAssertEqual(whole.commitment.leafCount, UInt64((prompt.count + 8) * (spec.layers + 1) + 9))
                // The same tokens as the untraced engine.
                let plain = try InferenceSession(model: model, backend: ReferenceBackend()).generate(prompt: prompt, maxTokens: 9, sampler: sampler)
                XCTAssertEqual(whole.tokens, plain.tokens, "seed \(spec.seed)")
                XCTAssertEqual(whole.stop, plain.stop, "seed \(spec.seed)")
                for chunk in [1, 3, 5] {
                    assertSameTrace(whole, try run(model, prompt, maxTokens: 9, sampler: sampler, chunk: chunk, digest: digest), "seed \(spec.seed) chunk \(chunk)")
                }
                assertSameTrace(whole, try run(model, prompt, maxTokens: 9, sampler: sampler, digest: digest, states: true), "seed \(spec.seed) with states")
                // Teacher-forced replay: one forward pass, or passes of any number of positions.
                for chunk in [TracedGeneration.replayChunk, 1, 4, prompt.count] {
                    let replay = try TracedGeneration.replay(model: model, backend: ReferenceBackend(), request: whole.commitment.request,
                                                             outputTokens: whole.tokens, chunk: chunk)
                    XCTAssertEqual(replay.leaves, whole.leaves, "seed \(spec.seed) replay in chunks of \(chunk)")
                    XCTAssertEqual(replay.commitment, whole.commitment, "seed \(spec.seed) replay in chunks of \(chunk)")
                }
            }
        }
    }

    func testEveryBackendAndThreadCountGivesTheSameRoot() throws {
        let model = try TraceFixtures.tiny()
        let prompt = model.tokenizer.encode("Hello world, again", addSpecial: false)
        let reference = try run(model, prompt, maxTokens: 6)
        for name in BackendRegistry.names where BackendRegistry.availability().contains(where: { $0.name == name && $0.available }) {
            for threads in [1, 2, 3] {
                let backend = try BackendRegistry.make(name, threads: threads)
                assertSameTrace(reference, try run(model, prompt, maxTokens: 6, backend: backend), "\(name) × \(threads) threads")
                assertSameTrace(reference, try run(model, prompt, maxTokens: 6, chunk: 2, backend: backend), "\(name) × \(threads) threads, chunks of 2")
            }
        }
    }

    /// The states trace written by replaying a commitment is, byte for byte, the one the generation
    /// writes with `storeStates` (sampled, so the sampler's counter is replayed too); for another
    /// model the replay cannot reproduce the commitment, and no file is left.
    func testStatesTraceByReplayIsTheGenerationsFile() throws {
        let model = try TraceFixtures.tiny(TinyModelSpec(seed: 5))
        let dir = try TraceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let direct = dir.appendingPathComponent("direct.trace").path, replayed = dir.appendingPathComponent("replayed.trace").path
        let sampler = SamplerSettings(temperature: 0.8, seed: 11)
        let plain = try TracedGeneration.run(model: model, backend: ReferenceBackend(), prompt: [3, 1, 4], maxTokens: 9, sampler: sampler, key: key)
        _ = try TracedGeneration.run(model: model, backend: ReferenceBackend(), prompt: [3, 1, 4], maxTokens: 9, sampler: sampler, key: key,
                                     tracePath: direct, options: TraceOptions(storeStates: true))
        try TracedGeneration.writeStatesTrace(of: plain.signed, model: model, backend: BackendRegistry.make("cpu", threads: 2), to: replayed)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: replayed)), try Data(contentsOf: URL(fileURLWithPath: direct)))
        let other = dir.appendingPathComponent("other.trace").path
        XCTAssertThrowsError(try TracedGeneration.writeStatesTrace(of: plain.signed, model: try TraceFixtures.tiny(TinyModelSpec(seed: 6)),
                                                                   backend: ReferenceBackend(), to: other)) {
            guard case .commitmentMismatch = $0 as? TraceError else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["direct.trace", "replayed.trace"])
    }

    func testReplayOfAWrongClaimDiverges() throws {
        let model = try TraceFixtures.tiny()
        let prompt = model.tokenizer.encode("Hello world", addSpecial: false)
        let honest = try run(model, prompt, maxTokens: 6)
        var claimed = honest.tokens
        claimed[2] = (claimed[2] + 1) % TokenID(model.config.vocabularySize)
        let replay = try TracedGeneration.replay(model: model, backend: ReferenceBackend(), request: honest.commitment.request, outputTokens: claimed)
        XCTAssertNotEqual(replay.commitment.root, honest.commitment.root)
        // Every leaf up to and including the sample step that chose token 2 agrees; the next differs.
        let schedule = StepSchedule(promptCount: prompt.count, layers: model.config.layers)
        let firstAfter = schedule.firstIndex(ofPosition: prompt.count + 2)
        XCTAssertEqual(Array(replay.leaves[..<firstAfter]), Array(honest.leaves[..<firstAfter]))
        XCTAssertNotEqual(replay.leaves[firstAfter], honest.leaves[firstAfter])
    }

    func testStepsAndDigestsFollowTheSpecification() throws {
        let model = try TraceFixtures.tiny()
        let prompt: [TokenID] = [10, 20, 30]
        let result = try run(model, prompt, maxTokens: 3, states: true)
        let schedule = StepSchedule(promptCount: 3, layers: model.config.layers)
        XCTAssertEqual(result.leaves.count, schedule.leafCount(outputCount: 3))
        for j in 0 ..< 3 { XCTAssertEqual(schedule.step(at: schedule.sampleIndex(ofOutput: j)), .sample(2 + j)) }
        XCTAssertEqual(schedule.sampleIndex(ofOutput: 2), result.leaves.count - 1)
        // Recompute every step digest from an independent run with the observer's raw rows.
        let session = InferenceSession(model: model, backend: ReferenceBackend())
        let all = prompt + result.tokens.dropLast()
        var rows: [StepID: [Float]] = [:]
        let logits = try session.evaluate(all, logits: .all) { layer, residual in
            let dim = model.config.dim
            for p in 0 ..< all.count {
                let step: StepID = layer.map { .layer(p, $0) } ?? .embedding(p)
                rows[step] = Array(residual[p * dim ..< (p + 1) * dim])
            }
        }
        var chain = result.commitment.request.chainStart
        let v = model.config.vocabularySize
        for (i, leaf) in result.leaves.enumerated() {
            let step = schedule.step(at: i)
            var bytes = Array("lockstep.step.v1".utf8) + [0] + step.header
            if step.kind == .sample {
                let p = Int(step.position)
                bytes += Array(logits[p * v ..< (p + 1) * v]).withUnsafeBytes { Array($0) }
                withUnsafeBytes(of: UInt32(result.tokens[p - 2]).littleEndian) { bytes += $0 }
            } else {
                bytes += rows[step]!.withUnsafeBytes { Array($0) }
            }
            XCTAssertEqual(leaf.stepDigest, SHA256Hasher.hash(bytes), "step \(step)")
            chain = SHA256Hasher.hash(chain.bytes + leaf.stepDigest.bytes)
            XCTAssertEqual(leaf.chain, chain)
            XCTAssertEqual(leaf.index, UInt64(i))
        }
        XCTAssertEqual(result.commitment.finalChain, chain)
        XCTAssertEqual(result.commitment.root, MerkleTree(leaves: result.leaves.map(\.bytes)).root)
        // Every leaf has a proof against the commitment.
        for leaf in result.leaves {
            let proof = try result.tree.inclusionProof(index: leaf.index)
            XCTAssertNoThrow(try result.commitment.verifyInclusion(of: leaf, path: proof.path))
        }
        XCTAssertNoThrow(try result.signed.verifySignature(publicKey: key.publicKey))
    }

    func testEdgeCases() throws {
        let model = try TraceFixtures.tiny()
        // max tokens 0: no forward pass, no steps, the empty tree, chain c₀.
        let none = try run(model, [5, 6], maxTokens: 0)
        XCTAssertEqual(none.tokens, [])
        XCTAssertEqual(none.commitment.leafCount, 0)
        XCTAssertEqual(none.commitment.root, MerkleHasher.rfc6962.emptyRoot)
        XCTAssertEqual(none.commitment.finalChain, none.commitment.request.chainStart)
        // One prompt token, one output token: 1 position, embedding + layers + sample.
        let one = try run(model, [5], maxTokens: 1)
        XCTAssertEqual(one.commitment.leafCount, UInt64(model.config.layers + 2))
        // Stopping early through onToken.
        let stopped = try TracedGeneration.run(model: model, backend: ReferenceBackend(), prompt: [5, 6], maxTokens: 10, sampler: .greedy, key: key) { _ in false }
        XCTAssertEqual(stopped.tokens.count, 1)
        XCTAssertEqual(stopped.commitment.leafCount, UInt64(2 * (model.config.layers + 1) + 1))
        // Refused requests.
        XCTAssertThrowsError(try run(model, [], maxTokens: 3)) { XCTAssertTrue("\($0)".contains("empty")) }
        XCTAssertThrowsError(try run(model, [TokenID(model.config.vocabularySize)], maxTokens: 3)) { XCTAssertTrue("\($0)".contains("vocabulary")) }
        XCTAssertThrowsError(try run(model, [1], maxTokens: -1))
        XCTAssertThrowsError(try run(model, [1], maxTokens: 1, chunk: 0))
        // A refused request leaves no partial trace file behind.
        let dir = try TraceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bad.trace").path
        XCTAssertThrowsError(try TracedGeneration.run(model: model, backend: ReferenceBackend(), prompt: [TokenID(model.config.vocabularySize)], maxTokens: 2,
                                                      sampler: .greedy, key: key, tracePath: path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
        // Recording out of order is refused.
        let header = TraceHeader(request: none.commitment.request, storesStates: false)
        let recorder = TraceRecorder(header: header)
        XCTAssertThrowsError(try recorder.record(.layer(0, 0), digest: sha("x"))) {
            guard case .unexpectedStep(index: 0, expected: .embedding(0), found: .layer(0, 0))? = $0 as? TraceError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try recorder.commitment(outputTokens: [1]))
    }

    /// A generation that fills the context stops there (SPEC §4.4) with and without a trace, the
    /// last token kept, instead of failing on a position past the limit; the trace replays.
    func testGenerationStopsWhenTheContextIsFull() throws {
        let model = try TraceFixtures.tiny(.standard)
        let prompt = model.tokenizer.encode("hello", addSpecial: true)
        let limit = model.config.contextLimit
        let output = try InferenceSession(model: model, backend: ReferenceBackend()).generate(prompt: prompt, maxTokens: 10 * limit, sampler: .greedy)
        let plain = output.tokens
        XCTAssertEqual(prompt.count + plain.count, limit + 1, "no end token before the context fills")
        XCTAssertEqual(output.stop, .contextFull)
        let traced = try run(model, prompt, maxTokens: 10 * limit)
        XCTAssertEqual(traced.tokens, plain)
        XCTAssertEqual(traced.stop, .contextFull)
        let replayed = try TracedGeneration.replay(model: model, backend: ReferenceBackend(), request: traced.commitment.request, outputTokens: plain)
        XCTAssertEqual(replayed.leaves, traced.leaves)
        XCTAssertEqual(replayed.commitment.root, traced.commitment.root)
        // A prompt that fills the context leaves room for exactly one token.
        let full = [TokenID](repeating: prompt[0], count: limit)
        XCTAssertEqual(try run(model, full, maxTokens: 5).tokens.count, 1)
        XCTAssertThrowsError(try run(model, full + [prompt[0]], maxTokens: 5)) { XCTAssertTrue("\($0)".contains("context limit"), "\($0)") }
    }

    /// The trace file appears only when it is complete: a file already at the path stays as it
    /// was until the trace replaces it whole, a refused request or an abandoned writer leaves it
    /// (and no temporary file) behind, and the model's own file is never the trace's path.
    func testTraceFilesAppearWholeAndNeverReplaceTheModel() throws {
        let model = try TraceFixtures.tiny()
        let dir = try TraceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("t.trace").path
        let before = Data("an older file".utf8)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: before))
        func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() }

        XCTAssertThrowsError(try TracedGeneration.run(model: model, backend: ReferenceBackend(), prompt: [TokenID(model.config.vocabularySize)],
                                                      maxTokens: 2, sampler: .greedy, key: key, tracePath: path))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try names(), ["t.trace"])

        let header = TraceHeader(request: try run(model, [5], maxTokens: 1).commitment.request, storesStates: false)
        let writer = try TraceWriter(path: path, header: header)
        XCTAssertEqual(try names().count, 2, "the records go to a temporary file beside the trace")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        writer.abandon()
        XCTAssertEqual(try names(), ["t.trace"])
        do { _ = try TraceWriter(path: path, header: header) }   // dropped unfinished
        XCTAssertEqual(try names(), ["t.trace"])

        let result = try TracedGeneration.run(model: model, backend: ReferenceBackend(), prompt: [5, 6], maxTokens: 3, sampler: .greedy,
                                              key: key, tracePath: path)
        XCTAssertEqual(try names(), ["t.trace"])
        XCTAssertEqual(try TraceReader.read(path: path).signed, result.signed)
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        XCTAssertEqual(mode_t(mode), 0o666 & ~currentFileCreationMask())

        XCTAssertThrowsError(try TraceWriter(path: dir.path, header: header)) { XCTAssertTrue("\($0)".contains("is a directory"), "\($0)") }
        // A FIFO (like a device such as /dev/null) would be replaced by the rename, not written to:
        // refused, and left as it was, with nothing beside it.
        let fifo = dir.appendingPathComponent("fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try TraceWriter(path: fifo, header: header)) { XCTAssertTrue("\($0)".contains("\(fifo): not a regular file"), "\($0)") }
        var st = stat()
        XCTAssertEqual(stat(fifo, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO)
        XCTAssertEqual(try names(), ["fifo", "t.trace"])

        let modelPath = dir.appendingPathComponent("tiny.gguf").path
        try TinyModel.write(TinyModelSpec(), to: modelPath)
        let onDisk = try LlamaModel(path: modelPath), modelBytes = try Data(contentsOf: URL(fileURLWithPath: modelPath))
        XCTAssertThrowsError(try TracedGeneration.run(model: onDisk, backend: ReferenceBackend(), prompt: [5], maxTokens: 1, sampler: .greedy,
                                                      key: key, tracePath: modelPath)) {
            XCTAssertTrue("\($0)".contains("is the model's file"), "\($0)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: modelPath)), modelBytes)
    }

    func testRealModelPrefillChunksAndReplayGiveTheSameRoot() throws {
        let model = try TraceFixtures.real()
        let digest = model.digest()
        let prompt = model.tokenizer.encode("The capital of France is", addSpecial: true)
        let whole = try run(model, prompt, maxTokens: 4, digest: digest)
        XCTAssertEqual(whole.tokens.first, 7042)  // " Paris"
        XCTAssertEqual(whole.commitment.leafCount, UInt64((prompt.count + 3) * 31 + 4))
        assertSameTrace(whole, try run(model, prompt, maxTokens: 4, chunk: 1, digest: digest), "real model token by token")
        assertSameTrace(whole, try run(model, prompt, maxTokens: 4, chunk: 2, digest: digest), "real model chunks of 2")
        let replay = try TracedGeneration.replay(model: model, backend: ReferenceBackend(), request: whole.commitment.request, outputTokens: whole.tokens)
        XCTAssertEqual(replay.commitment, whole.commitment)
        XCTAssertEqual(replay.leaves, whole.leaves)
    }
}
