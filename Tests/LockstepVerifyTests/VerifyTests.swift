import Foundation
import XCTest
import LockstepTestSupport
import Lockstep

final class ReplayTests: XCTestCase {
    func testHonestTraceVerifiesWithEveryAvailableBackend() throws {
        let (_, t) = try Fixture.trace("honest.trace")
        var ran: [String] = []
        for name in BackendRegistry.names {
            guard let backend = try? BackendRegistry.make(name, threads: 2) else { continue }
            ran.append(name)
            let r = try Replay.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: backend)
            XCTAssertTrue(r.verdict.holds, "\(name): \(r.verdict.reason)")
            let s = try SpotCheck.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: backend, samples: 16, seed: nil)
            XCTAssertTrue(s.verdict.holds, "\(name): \(s.verdict.reason)")
        }
        XCTAssertTrue(ran.contains("reference"))
    }

    /// Progress only grows, counts the trace's steps, and ends at all of them: for replay in one
    /// forward pass and in passes of 2 positions (some of them wholly in the prompt), and for a
    /// spot-check (its distinct samples).
    func testReplayAndSpotCheckReportProgress() throws {
        let (_, t) = try Fixture.trace("progress.trace", maxTokens: 5)
        let c = t.signed.commitment
        func check(_ seen: [(done: Int, total: Int)], total: Int, _ what: String) {
            XCTAssertFalse(seen.isEmpty, what)
            XCTAssertTrue(seen.allSatisfy { $0.total == total && $0.done >= 1 && $0.done <= total }, "\(what): \(seen)")
            XCTAssertTrue(zip(seen, seen.dropFirst()).allSatisfy { $0.done <= $1.done }, "\(what): \(seen)")
            XCTAssertEqual(seen.last?.done, total, what)
        }
        var seen: [(done: Int, total: Int)] = []
        let r = try Replay.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend()) { seen.append(($0, $1)) }
        XCTAssertTrue(r.verdict.holds, r.verdict.reason)
        check(seen, total: t.leaves.count, "replay")
        XCTAssertEqual(seen.count, Fixture.model.config.layers + 2, "one pass: the embedding, every layer, the sampling")
        seen = []
        let chunked = try TracedGeneration.replay(model: Fixture.model, backend: ReferenceBackend(), request: c.request, outputTokens: c.outputTokens,
                                                  chunk: 2) { seen.append(($0, $1)) }
        XCTAssertEqual(chunked.leaves, t.leaves)
        check(seen, total: t.leaves.count, "replay in passes of 2")
        seen = []
        let s = try SpotCheck.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: 12, seed: 3) {
            seen.append(($0, $1))
        }
        XCTAssertTrue(s.verdict.holds, s.verdict.reason)
        check(seen, total: Set(s.samples).count, "spot-check")
        XCTAssertEqual(seen.map(\.done), Array(1 ... Set(s.samples).count))
    }

    /// A greedy replay takes the output head a vocabulary slice at a time, argmaxing and hashing
    /// each slice (`TraceRecorder.greedySampleSteps`): with every slice width — one entry, widths
    /// that do not divide the vocabulary, the whole vocabulary, more — and on every backend
    /// (the `cpu` backend's slices take their row hints from the whole matrix), the leaves are
    /// the generation's, as with the whole head (`headSliceWidth: nil`).
    func testGreedyReplayGivesTheGenerationsLeavesWithEveryHeadSliceWidth() throws {
        let (_, t) = try Fixture.trace("slices.trace", maxTokens: 20)
        let c = t.signed.commitment, vocab = Fixture.model.config.vocabularySize
        XCTAssertEqual(c.request.sampler, .greedy)
        XCTAssertGreaterThan(c.outputTokens.count, 4, "enough sample steps to slice")
        for name in BackendRegistry.names {
            guard let backend = try? BackendRegistry.make(name, threads: 2) else { continue }
            for width in [nil, 1, 7, 64, vocab - 1, vocab, vocab + 5] as [Int?] {
                let r = try TracedGeneration.replay(model: Fixture.model, backend: backend, request: c.request, outputTokens: c.outputTokens,
                                                    chunk: 9, headSliceWidth: width)
                let what = "\(name), slices of \(width.map(String.init) ?? "the whole vocabulary")"
                XCTAssertTrue(r.leaves == t.leaves, "\(what): first different leaf \(String(describing: t.leaves.indices.first { r.leaves[$0] != t.leaves[$0] }))")
                XCTAssertEqual(r.commitment.root, c.root)
            }
        }
        XCTAssertThrowsError(try TracedGeneration.replay(model: Fixture.model, backend: ReferenceBackend(), request: c.request,
                                                         outputTokens: c.outputTokens, headSliceWidth: 0))
    }

    /// A claimed token the greedy head would not choose: whatever the slice width, the replay
    /// chooses the honest token there (so that sample step's leaf, which hashes the replay's
    /// choice, agrees) and the first leaf that differs is the next position's embedding, which
    /// reads the claimed token. (`Replay.verify` names the sample step from the tokens.)
    func testSlicedGreedyReplayNamesAWrongToken() throws {
        let (_, t) = try Fixture.trace("slices-wrong.trace", maxTokens: 8)
        let c = t.signed.commitment, schedule = t.header.schedule
        var claimed = c.outputTokens
        claimed[3] = (claimed[3] + 1) % Int32(Fixture.model.config.vocabularySize)
        let p = schedule.promptCount - 1 + 3
        for width in [nil, 3, 4096] as [Int?] {
            let r = try TracedGeneration.replay(model: Fixture.model, backend: ReferenceBackend(), request: c.request, outputTokens: claimed,
                                                headSliceWidth: width)
            let firstDifferent = t.leaves.indices.first { r.leaves[$0] != t.leaves[$0] }
            XCTAssertEqual(firstDifferent, schedule.firstIndex(ofPosition: p + 1), "slices of \(String(describing: width))")
            XCTAssertEqual(r.commitment.outputTokens[3], c.outputTokens[3], "the replay's own choice at the forged position")
        }
    }

    func testSampledTraceVerifies() throws {
        let (_, t) = try Fixture.trace("sampled.trace", maxTokens: 6, sampler: SamplerSettings(temperature: 0.9, seed: 42))
        XCTAssertTrue(try Replay.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend()).verdict.holds)
    }

    /// Faults at prompt positions, the last prompt position, output positions, every layer and an embedding.
    static let faults: [FaultInjection] = [
        FaultInjection(position: 0, layer: 0), FaultInjection(position: 1, layer: 1), FaultInjection(position: 2, layer: 0),
        FaultInjection(position: 3, layer: 1), FaultInjection(position: 4, layer: nil), FaultInjection(position: 5, layer: 1, valueIndex: 17, bit: 3),
    ]

    func testReplayReportsExactlyTheFaultedStep() throws {
        for (k, fault) in Self.faults.enumerated() {
            let (_, t) = try Fixture.trace("fault-\(k).trace", fault: fault)
            let schedule = t.header.schedule
            let expected = (0 ..< t.leaves.count).first { schedule.step(at: $0) == fault.step }!
            let r = try Replay.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
            XCTAssertFalse(r.verdict.holds)
            XCTAssertEqual(r.verdict.divergence?.index, expected, "\(fault)")
            XCTAssertEqual(r.verdict.divergence?.step, fault.step)
        }
    }

    func testDisputeNamesHonestTraceAndStepAndProofChecks() throws {
        let (_, honest) = try Fixture.trace("honest-d.trace")
        for (k, fault) in Self.faults.enumerated() {
            let (_, bad) = try Fixture.trace("fault-d-\(k).trace", fault: fault)
            let n = min(honest.leaves.count, bad.leaves.count)
            for (a, b, expectWinner) in [(honest, bad, DisputeWinner.first), (bad, honest, DisputeWinner.second)] {
                let r = try Dispute.run(a: a, b: b, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
                XCTAssertEqual(r.winner, expectWinner)
                XCTAssertEqual(r.verdict.holds, expectWinner == .first)
                XCTAssertEqual(r.verdict.divergence?.step, fault.step)
                XCTAssertLessThanOrEqual(r.rounds, Fixture.ceilLog2(n) + 1)
                let proof = try XCTUnwrap(r.proof)
                let parsed = try FraudProof.parse(proof.bytes).get()
                XCTAssertEqual(parsed, proof)
                XCTAssertTrue(try parsed.check(model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend()).holds)
            }
        }
        let same = try Dispute.run(a: honest, b: honest, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
        XCTAssertTrue(same.verdict.holds); XCTAssertNil(same.proof)
    }

    /// A referee that opens states from an index (reading only the states it needs), or from just
    /// the states `Dispute.statesOpened` names, reaches the report and the proof, byte for byte,
    /// of one that holds every state; states that are not
    /// the ones the leaves commit to are refused.
    func testDisputeOverIndexedTracesMatchesDisputeOverKeptStates() throws {
        let (honestPath, honest) = try Fixture.trace("honest-i.trace")
        let honestIndex = try TraceIndex(path: honestPath)
        let honestVerified = try honestIndex.verifyAll()
        XCTAssertNil(honestVerified.states)
        for (k, fault) in Self.faults.enumerated() {
            let (badPath, bad) = try Fixture.trace("fault-i-\(k).trace", fault: fault)
            let badIndex = try TraceIndex(path: badPath)
            let badVerified = try badIndex.verifyAll()
            let kept = try Dispute.run(a: bad, b: honest, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
            // Only the states `statesOpened` names, fetched as from a node: the same report and proof.
            let steps = Dispute.statesOpened(a: badVerified, b: honestVerified)
            XCTAssertEqual(steps, honest.header.schedule.inputIndices(of: try XCTUnwrap(kept.verdict.divergence?.index)))
            let fetched = try FetchedStatesTrace(honestIndex, indices: steps, bytes: try steps.flatMap { (j) throws(VerifyError) in try honest.state(at: j) })
            for opener in [badIndex, honestIndex, fetched] as [any OpenableTrace] {
                let indexed = try Dispute.run(a: badVerified, b: honestVerified, states: opener, model: Fixture.model, modelDigest: Fixture.digest,
                                              backend: ReferenceBackend())
                XCTAssertEqual(indexed.winner, kept.winner)
                XCTAssertEqual(indexed.verdict.divergence?.index, kept.verdict.divergence?.index)
                XCTAssertEqual(indexed.rounds, kept.rounds)
                XCTAssertEqual(try XCTUnwrap(indexed.proof).bytes, try XCTUnwrap(kept.proof).bytes, "\(fault)")
            }
        }
        XCTAssertEqual(Dispute.statesOpened(a: honestVerified, b: honestVerified), [])
        // States of another request do not hash to these leaves: refused, not used.
        let (otherPath, _) = try Fixture.trace("other-i.trace", prompt: [2, 4, 6])
        let (_, bad) = try Fixture.trace("fault-i-other.trace", fault: Self.faults[0])
        XCTAssertThrowsError(try Dispute.run(a: bad, b: honest, states: try TraceIndex(path: otherPath), model: Fixture.model,
                                             modelDigest: Fixture.digest, backend: ReferenceBackend())) {
            XCTAssertTrue("\($0)".contains("the stored state the referee opened"), "\($0)")
        }
    }

    /// A forger re-signs the honest steps (no states) with one output token changed: the traces
    /// agree on every leaf, and the referee names the honest trace in either order — for a token
    /// before the last from the leaf of the agreed embedding step that reads it, with no state
    /// opened; for the last token from the agreed sample state, which a trace with states opens.
    /// With no states to open for the last token, it says so instead of guessing.
    func testDisputeOverAgreedStepsWithDifferentTokensReadsTheAgreedSteps() throws {
        let (_, honest) = try Fixture.trace("honest-tok.trace")
        let (_, plain) = try Fixture.trace("honest-tok-plain.trace", states: false)
        let schedule = honest.header.schedule, truth = honest.signed.commitment.outputTokens
        func forged(_ j: Int) throws -> TraceContents {
            var tokens = truth
            tokens[j] = (tokens[j] + 1) % TokenID(Fixture.model.config.vocabularySize)
            let path = Fixture.dir.appendingPathComponent("forged-tok-\(j).trace").path
            try forgeTrace(path: path, request: honest.signed.commitment.request, stepDigests: honest.leaves.map(\.stepDigest),
                           outputTokens: tokens, key: Fixture.key)
            return try TraceReader.read(path: path, keepStates: false)
        }
        let middle = truth.count - 2, last = truth.count - 1
        let (early, final) = (try forged(middle), try forged(last))
        let embedding = schedule.firstIndex(ofPosition: schedule.promptCount + middle)
        let sample = schedule.firstIndex(ofPosition: schedule.promptCount - 1 + last) + schedule.layers + 1
        let cases: [(TraceContents, TraceContents, DisputeWinner, Int, String)] = [
            (plain, early, .first, embedding, "the agreed embedding step at position \(schedule.promptCount + middle) reads A's \(truth[middle])"),
            (early, plain, .second, embedding, "reads B's \(truth[middle])"),
            (honest, final, .first, sample, "the agreed sample step chose \(truth[last])"),
            (final, honest, .second, sample, "the agreed sample step chose \(truth[last])"),
        ]
        for (a, b, winner, index, reason) in cases {
            let r = try Dispute.run(a: a, b: b, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
            XCTAssertEqual(r.winner, winner)
            XCTAssertEqual(r.verdict.holds, winner == .first)
            XCTAssertEqual(r.verdict.divergence?.index, index)
            XCTAssertTrue(r.verdict.reason.contains(reason), r.verdict.reason)
            XCTAssertEqual(Dispute.statesOpened(a: a, b: b), [schedule.firstIndex(ofPosition: schedule.promptCount - 1 + (index == sample ? last : middle)) + schedule.layers + 1])
        }
        XCTAssertThrowsError(try Dispute.run(a: plain, b: final, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())) {
            XCTAssertTrue("\($0)".contains("without stored states use replay on each"), "\($0)")
        }
        // Which replay then settles: no step reads the last token, but the sampler chose it.
        let replayed = try Replay.verify(trace: final, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
        XCTAssertFalse(replayed.verdict.holds)
        XCTAssertEqual(replayed.verdict.divergence?.index, sample)
        XCTAssertTrue(replayed.verdict.reason.contains("output token \(last): the request's sampler chooses \(truth[last])"), replayed.verdict.reason)
    }

    /// Two tokens with one embedding row — an untied model whose row of an unused token Y is a
    /// copy of token X's — swapped in a re-signed commitment (X for Y at one position) change no
    /// leaf that a replay of the trace without states recomputes: replay compares the committed
    /// tokens with the sampler's choices; a dispute, which cannot tell X from Y by the embedding
    /// step's leaf, opens the sample state that chose the token (and without one says so).
    func testTokensWithOneEmbeddingRowAreToldApartByTheSampler() throws {
        let spec = TinyModelSpec(seed: 7, tiedOutput: false), prompt = Fixture.prompt
        func generate(_ model: LlamaModel, _ name: String, states: Bool) throws -> TraceContents {
            let path = Fixture.dir.appendingPathComponent(name).path
            _ = try TracedGeneration.run(model: model, backend: ReferenceBackend(), prompt: prompt, maxTokens: 6, sampler: .greedy, key: Fixture.key,
                                         modelDigest: model.digest(), tracePath: path, options: TraceOptions(storeStates: states))
            return try TraceReader.read(path: path, keepStates: states)
        }
        var bytes = TinyModel.gguf(spec)
        let basePath = Fixture.dir.appendingPathComponent("twin-base.gguf").path
        try Data(bytes).write(to: URL(fileURLWithPath: basePath))
        let base = try LlamaModel(path: basePath)
        let truth = try generate(base, "twin-base.trace", states: false).signed.commitment.outputTokens
        let middle = truth.count - 2, x = truth[middle]
        let y = try XCTUnwrap((0 ..< TokenID(TinyModel.vocabularySize)).first {
            !truth.contains($0) && !prompt.contains($0) && !base.tokenizer.isEndOfGeneration($0)
        })
        // Token y's embedding row becomes token x's; y is never read, so the generation does not change.
        let table = try XCTUnwrap(try GGUFFile(bytes: bytes).tensor(named: "token_embd.weight"))
        let dataOffset = try GGUFFile(bytes: bytes).dataOffset, rowBytes = table.byteCount / table.dimensions[1]
        let rowX = dataOffset + table.offset + Int(x) * rowBytes, rowY = dataOffset + table.offset + Int(y) * rowBytes
        bytes.replaceSubrange(rowY ..< rowY + rowBytes, with: bytes[rowX ..< rowX + rowBytes])
        let twinPath = Fixture.dir.appendingPathComponent("twin.gguf").path
        try Data(bytes).write(to: URL(fileURLWithPath: twinPath))
        let model = try LlamaModel(path: twinPath), digest = model.digest()
        let plain = try generate(model, "twin-plain.trace", states: false), stored = try generate(model, "twin-states.trace", states: true)
        XCTAssertEqual(plain.signed.commitment.outputTokens, truth)
        var tokens = truth
        tokens[middle] = y
        let forgedPath = Fixture.dir.appendingPathComponent("twin-forged.trace").path
        try forgeTrace(path: forgedPath, request: plain.signed.commitment.request, stepDigests: plain.leaves.map(\.stepDigest), outputTokens: tokens,
                       key: Fixture.key)
        let forged = try TraceReader.read(path: forgedPath, keepStates: false)
        let schedule = plain.header.schedule
        let sample = schedule.firstIndex(ofPosition: schedule.promptCount - 1 + middle) + schedule.layers + 1
        let replay = try Replay.verify(trace: forged, model: model, modelDigest: digest, backend: ReferenceBackend())
        XCTAssertFalse(replay.verdict.holds)
        XCTAssertEqual(replay.verdict.divergence?.index, sample)
        XCTAssertTrue(replay.verdict.reason.contains("output token \(middle): the request's sampler chooses \(x), the commitment claims \(y)"), replay.verdict.reason)
        let dispute = try Dispute.run(a: forged, b: stored, model: model, modelDigest: digest, backend: ReferenceBackend())
        XCTAssertEqual(dispute.winner, .second)
        XCTAssertEqual(dispute.verdict.divergence?.index, sample)
        XCTAssertTrue(dispute.verdict.reason.contains("the agreed sample step chose \(x)"), dispute.verdict.reason)
        XCTAssertThrowsError(try Dispute.run(a: forged, b: plain, model: model, modelDigest: digest, backend: ReferenceBackend())) {
            XCTAssertTrue("\($0)".contains("without stored states use replay on each"), "\($0)")
        }
    }

    /// What no honest run of the model can claim fails before any step is recomputed, in replay
    /// and spot-check alike and whatever the steps: a prompt token outside the vocabulary (at its
    /// embedding step) and more positions than the model's context (at the first step past it,
    /// where no RoPE angle may exist). A dispute decides a trace past the context against it with
    /// no proof, and check-proof refuses a proof that holds such a commitment.
    func testClaimsNoHonestRunCanMakeFailBeforeAnyStepIsRecomputed() throws {
        let limit = Fixture.model.config.contextLimit, vocabulary = TokenID(Fixture.model.config.vocabularySize)
        let shape = try ModelShape(Fixture.model)
        func forged(_ name: String, prompt: [TokenID] = Fixture.prompt, outputs: Int, maxTokens: Int) throws -> TraceContents {
            let request = try TraceRequest(modelDigest: Fixture.digest, shape: shape, promptTokens: prompt, sampler: .greedy, maxTokens: maxTokens)
            let n = TraceHeader(request: request, storesStates: false).schedule.leafCount(outputCount: outputs)
            let path = Fixture.dir.appendingPathComponent(name).path
            try forgeTrace(path: path, request: request, stepDigests: (0 ..< n).map { SHA256Hasher.hash(Array("step \($0)".utf8)) },
                           outputTokens: Array(repeating: 5, count: outputs), key: Fixture.key)
            return try TraceReader.read(path: path, keepStates: false)
        }
        let p = Fixture.prompt.count
        let badPrompt = try forged("claims-prompt.trace", prompt: [1, vocabulary, 2], outputs: 3, maxTokens: 3)
        let over = try forged("claims-over.trace", outputs: limit - p + 2, maxTokens: limit)      // limit + 1 positions
        let full = try forged("claims-full.trace", outputs: limit - p + 1, maxTokens: limit)      // limit positions
        for (t, reason, position) in [(badPrompt, "prompt token 1 (\(vocabulary)) is outside the vocabulary", 1),
                                      (over, "the trace evaluates \(limit + 1) positions, more than the model's context of \(limit)", limit)] {
            let expected = t.header.schedule.firstIndex(ofPosition: position)
            let replay = try Replay.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
            let spot = try SpotCheck.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: 1, seed: 1)
            for r in [replay, spot] {
                XCTAssertFalse(r.verdict.holds)
                XCTAssertTrue(r.verdict.reason.contains(reason), r.verdict.reason)
                XCTAssertEqual(r.verdict.divergence?.index, expected)
                XCTAssertEqual(r.stepsRecomputed, 0)
            }
        }
        // A trace that fills the context exactly is not refused for it (its made-up steps fail later).
        XCTAssertThrowsError(try SpotCheck.verify(trace: full, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(),
                                                  samples: 1, seed: 1)) { XCTAssertTrue("\($0)".contains("--trace-activations"), "\($0)") }
        for (a, b, winner) in [(full, over, DisputeWinner.first), (over, full, .second), (over, over, .neither)] {
            let r = try Dispute.run(a: a, b: b, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
            XCTAssertEqual(r.winner, winner)
            XCTAssertEqual(r.verdict.holds, winner == .first)
            XCTAssertTrue(r.verdict.reason.contains("more than the model's context"), r.verdict.reason)
            XCTAssertNil(r.proof)
        }
        let proof = FraudProof(winner: .first, index: 0, a: full.signed, b: over.signed, leafA: full.leaves[0], pathA: try full.tree.inclusionProof(index: 0).path,
                               leafB: over.leaves[0], pathB: try over.tree.inclusionProof(index: 0).path, previous: nil, inputs: [])
        let checked = try proof.check(model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
        XCTAssertFalse(checked.holds)
        XCTAssertTrue(checked.reason.contains("commitment B: the trace evaluates \(limit + 1) positions"), checked.reason)
    }

    /// A forger re-signs an honest trace with states under other output tokens. With the steps
    /// and states left honest, every seed's spot-check fails before sampling: an output token
    /// other than the last is checked against the leaf of the embedding step that reads it, the
    /// last against the last sample state. When the forger also rewrites that embedding step
    /// (its state and leaf made the forged token's), the binding holds and the lie is found where
    /// the samples fall: at the latest, whenever the sample state that chose the token is opened.
    func testSpotCheckBindsEveryOutputTokenToTheSteps() throws {
        let (_, honest) = try Fixture.trace("honest-spot-tok.trace", maxTokens: 6)
        let schedule = honest.header.schedule, n = honest.leaves.count
        let states = try (0 ..< n).map { (i) throws(VerifyError) in try honest.state(at: i) }
        let truth = honest.signed.commitment.outputTokens, vocabulary = TokenID(Fixture.model.config.vocabularySize)
        let recomputer = try StepRecomputer(model: Fixture.model, backend: ReferenceBackend(), request: honest.signed.commitment.request)
        func forged(_ name: String, token j: Int, rewriteEmbedding: Bool = false) throws -> TraceIndex {
            var tokens = truth, digests = honest.leaves.map(\.stepDigest), forgedStates = states
            tokens[j] = (tokens[j] + 1) % vocabulary
            if rewriteEmbedding {
                let p = schedule.promptCount + j, e = schedule.firstIndex(ofPosition: p)
                let row = FloatBuffer(count: Fixture.model.config.dim)
                Fixture.model.weights.embedding.row(Int(tokens[j]), into: row.mutable.baseAddress!)
                forgedStates[e] = Array(UnsafeRawBufferPointer(row.readOnly))
                digests[e] = try XCTUnwrap(recomputer.embeddingDigest(position: p, token: Int(tokens[j])))
            }
            let path = Fixture.dir.appendingPathComponent(name).path
            try forgeTrace(path: path, request: honest.signed.commitment.request, stepDigests: digests, outputTokens: tokens,
                           key: Fixture.key, states: forgedStates)
            return try TraceIndex(path: path)
        }
        let j = 2, last = truth.count - 1
        let sampleOf = { (k: Int) in schedule.firstIndex(ofPosition: schedule.promptCount - 1 + k) + schedule.layers + 1 }
        for (trace, index, reason) in [
            (try forged("forged-tok-mid.trace", token: j), schedule.firstIndex(ofPosition: schedule.promptCount + j),
             "output token \(j) (\((truth[j] + 1) % vocabulary)) is not the token the embedding step at position \(schedule.promptCount + j) reads"),
            (try forged("forged-tok-last.trace", token: last), sampleOf(last),
             "chose token \(truth[last]), the commitment's output token \(last) is \((truth[last] + 1) % vocabulary)"),
        ] {
            for seed in UInt64(0) ..< 8 {
                let r = try SpotCheck.verify(trace: trace, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: 2, seed: seed)
                XCTAssertFalse(r.verdict.holds, "seed \(seed)")
                XCTAssertEqual(r.verdict.divergence?.index, index, "seed \(seed)")
                XCTAssertTrue(r.verdict.reason.contains(reason), r.verdict.reason)
                XCTAssertEqual(r.stepsRecomputed, 0)
            }
        }
        let rewritten = try forged("forged-tok-rewritten.trace", token: j, rewriteEmbedding: true)
        var caught = 0
        for seed in UInt64(0) ..< 40 {
            let plan = try SpotCheck.Plan(schedule: schedule, root: rewritten.signed.commitment.root, leafCount: n, samples: 2, seed: seed)
            let r = try SpotCheck.verify(trace: rewritten, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: 2, seed: seed)
            if !r.verdict.holds { caught += 1 }
            if plan.openedIndices.contains(sampleOf(j)) { XCTAssertFalse(r.verdict.holds, "seed \(seed)") }
        }
        XCTAssertGreaterThan(caught, 0)
        XCTAssertLessThan(caught, 40, "the rewritten embedding step should be found only where samples fall")
    }

    /// The largest proof of a context-filling trace (the last layer step of the last position
    /// reads a residual row of every position before it) fits `FraudProof.maxByteCount`; a file
    /// one byte longer than the bound is refused before it is read, and one within it reads back.
    func testFraudProofsFitTheirSizeBoundAndLargerFilesAreRefused() throws {
        let c = Fixture.model.config
        let prompt = (0 ..< c.contextLength - 1).map { TokenID(1 + $0 % 50) }
        let fault = FaultInjection(position: c.contextLength - 2, layer: c.layers - 1)
        let (_, honest) = try Fixture.trace("honest-full.trace", maxTokens: 1, prompt: prompt)
        let (_, bad) = try Fixture.trace("bad-full.trace", maxTokens: 1, prompt: prompt, fault: fault)
        let r = try Dispute.run(a: bad, b: honest, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
        XCTAssertEqual(r.verdict.divergence?.step, fault.step)
        let proof = try XCTUnwrap(r.proof)
        XCTAssertEqual(proof.inputs.count, c.contextLength - 1)
        let bytes = proof.bytes, limit = FraudProof.maxByteCount(for: c)
        XCTAssertLessThanOrEqual(bytes.count, limit)

        let fits = Fixture.dir.appendingPathComponent("full.proof").path
        XCTAssertTrue(FileManager.default.createFile(atPath: fits, contents: Data(bytes)))
        XCTAssertEqual(try FraudProof.readFile(fits, for: c), bytes)
        let tooLarge = Fixture.dir.appendingPathComponent("too-large.proof").path
        XCTAssertTrue(FileManager.default.createFile(atPath: tooLarge, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: tooLarge))
        try handle.truncate(atOffset: UInt64(limit + 1))
        try handle.close()
        XCTAssertThrowsError(try FraudProof.readFile(tooLarge, for: c)) { error in
            XCTAssertTrue("\(error)".contains("\(limit + 1) bytes, more than the \(limit) bytes"), "\(error)")
        }
        print("fraud proof of a context-filling trace: \(bytes.count) bytes, bound \(limit)")
    }

    /// Every single-bit change of a fraud proof is rejected (exhaustive when the proof is at most
    /// 6,000 bytes, else a seeded sample of 4,000 bits).
    func testEveryBitFlipOfAFraudProofIsRejected() throws {
        let (_, honest) = try Fixture.trace("honest-p.trace", maxTokens: 2, prompt: [3, 4])
        let (_, bad) = try Fixture.trace("bad-p.trace", maxTokens: 2, prompt: [3, 4], fault: FaultInjection(position: 1, layer: 1))
        let r = try Dispute.run(a: bad, b: honest, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend())
        let bytes = try XCTUnwrap(r.proof).bytes
        let backend = ReferenceBackend()
        XCTAssertTrue(try FraudProof.parse(bytes).get().check(model: Fixture.model, modelDigest: Fixture.digest, backend: backend).holds)
        var bits = Array(0 ..< bytes.count * 8)
        if bytes.count > 6000 {
            var g = SplitMix64(seed: 2024)
            bits = (0 ..< 4000).map { _ in Int.random(in: 0 ..< bytes.count * 8, using: &g) }
        }
        var accepted: [Int] = []
        for bit in bits {
            var b = bytes
            b[bit / 8] ^= 1 << UInt8(bit % 8)
            switch FraudProof.parse(b) {
            case .failure: continue
            case let .success(p):
                do {
                    if try p.check(model: Fixture.model, modelDigest: Fixture.digest, backend: backend).holds { accepted.append(bit) }
                } catch { continue }  // another model: unusable, not accepted
            }
        }
        XCTAssertEqual(accepted, [], "bit flips accepted: \(accepted.prefix(10))")
        print("fraud proof: \(bytes.count) bytes, \(bits.count) bit flips, all rejected")
    }
}

final class StepRecomputerTests: XCTestCase {
    /// Every step of an honest trace recomputes to its leaf from its opened inputs, on every
    /// backend available here, with the openings taken from the fully read trace and from a
    /// `TraceIndex`: the layer-step path (cache fill of the earlier rows, then one block row)
    /// gives the trace's bytes at every position and layer.
    func testEveryStepRecomputesToItsLeafOnEveryBackend() throws {
        let (path, t) = try Fixture.trace("every-step.trace", maxTokens: 5, prompt: [1, 5, 9, 2])
        let index = try TraceIndex(path: path)
        XCTAssertEqual(index.leaves, t.leaves)
        var ran: [String] = []
        for name in BackendRegistry.names {
            guard let backend = try? BackendRegistry.make(name, threads: 2) else { continue }
            ran.append(name)
            let recomputer = try StepRecomputer(model: Fixture.model, backend: backend, request: t.signed.commitment.request)
            for trace in [t as any OpenableTrace, index] {
                for i in 0 ..< t.leaves.count {
                    let inputs = try recomputer.inputIndices(of: i).map { (j) throws(VerifyError) in try trace.state(at: j) }
                    XCTAssertEqual(try recomputer.digest(of: i, inputs: inputs).get(), t.leaves[i].stepDigest, "\(name): step \(i) (\(t.steps[i]))")
                }
            }
        }
        XCTAssertTrue(ran.contains("reference"))
        print("every step recomputes on: \(ran.joined(separator: ", "))")
    }

    /// One cache for several positions of a layer (what spot-check does for the samples of one
    /// layer: the cache filled from every input row, then the sampled rows through the block in
    /// one batch) gives every one of their leaves, for any choice of positions, on every backend
    /// available here; bad arguments fail.
    func testLayerStepsRecomputedTogetherGiveTheirLeaves() throws {
        let (_, t) = try Fixture.trace("layer-group.trace", maxTokens: 5, prompt: [1, 5, 9, 2])
        let schedule = t.header.schedule
        let positions = schedule.promptCount + t.signed.commitment.outputTokens.count - 1   // positions with layer steps
        let choices = [Array(0 ..< positions), [0], [positions - 1], [1, 2], [0, 3, positions - 1], [2, positions - 2]]
        var ran: [String] = []
        for name in BackendRegistry.names {
            guard let backend = try? BackendRegistry.make(name, threads: 2) else { continue }
            ran.append(name)
            let recomputer = try StepRecomputer(model: Fixture.model, backend: backend, request: t.signed.commitment.request)
            for l in 0 ..< schedule.layers {
                for ps in choices {
                    let leaf = { (p: Int) in schedule.firstIndex(ofPosition: p) + 1 + l }
                    let inputs = try recomputer.inputIndices(of: leaf(ps.last!)).map { (j) throws(VerifyError) in try t.state(at: j) }
                    XCTAssertEqual(try recomputer.layerDigests(layer: l, positions: ps, inputs: inputs).get(), ps.map { t.leaves[leaf($0)].stepDigest },
                                   "\(name): layer \(l), positions \(ps)")
                }
            }
            let inputs = try recomputer.inputIndices(of: schedule.firstIndex(ofPosition: 2) + 1).map { (j) throws(VerifyError) in try t.state(at: j) }
            for (l, ps) in [(0, [2, 1]), (0, [1, 1, 2]), (0, []), (-1, [2]), (schedule.layers, [2]), (0, [3])] {
                XCTAssertThrowsError(try recomputer.layerDigests(layer: l, positions: ps, inputs: inputs).get(), "\(name): layer \(l), positions \(ps)")
            }
        }
        XCTAssertTrue(ran.contains("reference") && ran.contains("cpu"), "ran on \(ran)")
    }
}

final class SpotCheckTests: XCTestCase {
    /// With the faulted step the only one that does not follow from its opened inputs (f = 1/N),
    /// K independent samples detect the fault with probability P = 1 − (1 − f)^K. Over S seeds
    /// the detection count is Binomial(S, P); the test accepts |count − S·P| ≤ 5σ (a false alarm
    /// has probability below 10⁻⁶).
    /// Run on the fully read trace and on a `TraceIndex` of its file (the command line's path):
    /// the same samples, the same verdicts.
    func testDetectionRateMatchesPrediction() throws {
        let fault = FaultInjection(position: 2, layer: 1)
        let (path, t) = try Fixture.trace("spot.trace", maxTokens: 3, fault: fault)
        let n = t.leaves.count, k = 4, seeds = 300
        let f = 1.0 / Double(n)
        let p = 1 - pow(1 - f, Double(k))
        let faultIndex = (0 ..< n).first { t.header.schedule.step(at: $0) == fault.step }!
        for trace in [t as any OpenableTrace, try TraceIndex(path: path)] {
            var detected = 0
            for seed in 0 ..< seeds {
                let r = try SpotCheck.verify(trace: trace, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: k, seed: UInt64(seed))
                // Exactly the runs whose samples include the faulted step detect it.
                XCTAssertEqual(!r.verdict.holds, r.samples.contains(faultIndex))
                if !r.verdict.holds {
                    detected += 1
                    XCTAssertEqual(r.verdict.divergence?.step, fault.step)
                }
            }
            let mean = Double(seeds) * p, sigma = (Double(seeds) * p * (1 - p)).squareRoot()
            print("spot-check (\(type(of: trace))): N = \(n), K = \(k), predicted \(mean) ± \(sigma), detected \(detected) of \(seeds)")
            XCTAssertLessThanOrEqual(abs(Double(detected) - mean), 5 * sigma)
        }
    }

    /// A stored state that does not hash to its leaf: the full reader rejects the file; the index
    /// does not read the state until it is opened, so the spot-check fails exactly when a sample
    /// opens it (as the sampled step or as one of its inputs) and holds otherwise.
    func testCorruptStoredStateFailsExactlyWhenOpened() throws {
        let (t, corrupt, target) = try Self.traceWithCorruptState()
        guard case .invalid = try TraceLoading.load(path: corrupt) else { return XCTFail("the full reader accepted a corrupt state") }
        let index = try TraceIndex(path: corrupt)
        let recomputer = try StepRecomputer(model: Fixture.model, backend: ReferenceBackend(), request: t.signed.commitment.request)
        var outcomes = Set<Bool>()
        for seed in 0 ..< 60 {
            let r = try SpotCheck.verify(trace: index, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: 4, seed: UInt64(seed))
            let opensTarget = r.samples.contains { $0 == target || recomputer.inputIndices(of: $0).contains(target) }
            XCTAssertEqual(r.verdict.holds, !opensTarget, "seed \(seed): \(r.verdict.reason)")
            if !r.verdict.holds { XCTAssertTrue(r.verdict.reason.contains("does not hash"), r.verdict.reason) }
            outcomes.insert(r.verdict.holds)
        }
        XCTAssertEqual(outcomes, [true, false], "the seeds should both open and miss the corrupt state")
    }

    /// A trace (read in full) and a copy of its file with one bit of the stored state of L(1, 0)
    /// flipped, and that step's leaf index.
    static func traceWithCorruptState() throws -> (trace: TraceContents, corruptPath: String, target: Int) {
        let (path, t) = try Fixture.trace("corrupt-state.trace", maxTokens: 3)
        let target = (0 ..< t.leaves.count).first { t.header.schedule.step(at: $0) == .layer(1, 0) }!
        let state = try XCTUnwrap(t.states)[target]
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let at = try XCTUnwrap((0 ... bytes.count - state.count).first { bytes[$0 ..< $0 + state.count].elementsEqual(state) })
        bytes[at + state.count / 2] ^= 0x10
        let corrupt = Fixture.dir.appendingPathComponent("corrupt-state-flipped.trace").path
        try Data(bytes).write(to: URL(fileURLWithPath: corrupt))
        return (t, corrupt, target)
    }

    /// The `cpu` backend on 2 threads gives a spot-check 2 lanes, which check its groups of steps
    /// at the same time; the reports are those of checking one group after another on the
    /// reference backend — verdict, reason, first divergence, steps recomputed — for an honest
    /// trace, a trace with a fault, and an index of a file with a corrupt stored state.
    func testSpotCheckOnLanesReportsWhatOneLaneReports() throws {
        let cpu = try BackendRegistry.make("cpu", threads: 2)
        XCTAssertEqual(cpu.concurrentLanes(5).count, 2)
        XCTAssertEqual(cpu.concurrentLanes(1).count, 1)
        let honest = try Fixture.trace("lanes-honest.trace", maxTokens: 4).contents
        let faulted = try Fixture.trace("lanes-fault.trace", maxTokens: 4, fault: FaultInjection(position: 3, layer: 1)).contents
        let corrupt = try TraceIndex(path: try Self.traceWithCorruptState().corruptPath)
        var failures = 0
        for (name, trace) in [("honest", honest as any OpenableTrace), ("fault", faulted), ("corrupt state", corrupt)] {
            for seed in 0 ..< 30 {
                let one = try SpotCheck.verify(trace: trace, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: 6, seed: UInt64(seed))
                var seen: [Int] = []
                let lanes = try SpotCheck.verify(trace: trace, model: Fixture.model, modelDigest: Fixture.digest, backend: cpu, samples: 6, seed: UInt64(seed)) { done, _ in
                    seen.append(done)
                }
                let what = "\(name), seed \(seed)"
                XCTAssertEqual(lanes.samples, one.samples, what)
                XCTAssertEqual(lanes.verdict.holds, one.verdict.holds, what)
                XCTAssertEqual(lanes.verdict.reason, one.verdict.reason, what)
                XCTAssertEqual(lanes.verdict.divergence, one.verdict.divergence, what)
                XCTAssertEqual(lanes.stepsRecomputed, one.stepsRecomputed, what)
                XCTAssertEqual(seen, Array(1 ..< seen.count + 1), what)
                if !one.verdict.holds { failures += 1 }
            }
        }
        XCTAssertGreaterThan(failures, 5, "the seeds should catch the fault and the corrupt state")
    }

    func testSamplingIsDeterministicAndInRange() {
        let root = SHA256Hasher.hash([1, 2, 3])
        let a = SpotCheck.sampleIndices(root: root, leafCount: 37, count: 1000, seed: nil)
        XCTAssertEqual(a, SpotCheck.sampleIndices(root: root, leafCount: 37, count: 1000, seed: nil))
        XCTAssertNotEqual(a, SpotCheck.sampleIndices(root: root, leafCount: 37, count: 1000, seed: 1))
        XCTAssertTrue(a.allSatisfy { (0 ..< 37).contains($0) })
        XCTAssertEqual(Set(a).count, 37)
    }

    func testSpotCheckWithoutStatesIsUnusable() throws {
        let (_, t) = try Fixture.trace("nostates.trace", states: false)
        XCTAssertThrowsError(try SpotCheck.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: 4, seed: 1))
    }

    /// A trace with no steps (max tokens 0) holds, with nothing sampled and a reason that says so.
    func testSpotCheckOfATraceWithoutStepsSamplesNothing() throws {
        let (_, t) = try Fixture.trace("empty-spot.trace", maxTokens: 0)
        XCTAssertEqual(t.leaves.count, 0)
        let r = try SpotCheck.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(), samples: 16, seed: nil)
        XCTAssertTrue(r.verdict.holds)
        XCTAssertTrue(r.verdict.reason.contains("no steps"), r.verdict.reason)
        XCTAssertEqual(r.samples, [])
        XCTAssertEqual(r.stepsRecomputed, 0)
    }

    /// K outside 1 ... maxSamples is refused before any drawing, so a huge K cannot make the
    /// verifier allocate or loop in proportion to it; K = maxSamples itself is checked.
    func testSpotCheckRefusesSampleCountsOutsideItsBounds() throws {
        let (_, t) = try Fixture.trace("samplebounds.trace", states: true)
        for k in [0, -1, SpotCheck.maxSamples + 1, Int.max] {
            XCTAssertThrowsError(try SpotCheck.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(),
                                                      samples: k, seed: 1), "K = \(k)") { error in
                XCTAssertTrue("\(error)".contains("--samples must be between 1 and \(SpotCheck.maxSamples), got \(k)"), "\(error)")
            }
        }
        let r = try SpotCheck.verify(trace: t, model: Fixture.model, modelDigest: Fixture.digest, backend: ReferenceBackend(),
                                     samples: SpotCheck.maxSamples, seed: 1)
        XCTAssertTrue(r.verdict.holds, r.verdict.reason)
        XCTAssertEqual(r.samples.count, SpotCheck.maxSamples)
        XCTAssertEqual(r.stepsRecomputed, t.leaves.count)
    }
}
