import XCTest
import LockstepCore
import LockstepModel
import LockstepTokenizer

final class GenerationTests: XCTestCase {
    func testRealModelSaysParis() throws {
        let model = try ModelFixtures.real()
        let session = InferenceSession(model: model, backend: ReferenceBackend())
        let prompt = model.tokenizer.encode("The capital of France is", addSpecial: true)
        let out = try session.generate(prompt: prompt, maxTokens: 4, sampler: .greedy).tokens
        XCTAssertTrue(model.tokenizer.decode(out).hasPrefix(" Paris"), "got \(model.tokenizer.decode(out))")
        // The float32 numpy reference's first greedy token for this prompt is 7042 (" Paris").
        XCTAssertEqual(out.first, 7042)
    }

    func testSamplingIsReproducibleAndSeedDependent() throws {
        let model = try ModelFixtures.tiny(TinyModelSpec())
        let prompt = model.tokenizer.encode("Hello", addSpecial: false)
        func run(_ seed: UInt64) throws -> [TokenID] {
            try InferenceSession(model: model, backend: ReferenceBackend())
                .generate(prompt: prompt, maxTokens: 12, sampler: SamplerSettings(temperature: 1.5, seed: seed)).tokens
        }
        let a = try run(7)
        XCTAssertEqual(a, try run(7))
        let others = try (8..<12).map { try run($0) }
        XCTAssertTrue(others.contains { $0 != a }, "five seeds gave identical samples")
    }

    /// Each way a generation ends is reported as its `StopReason`, with the tokens up to and
    /// including the one it stopped after.
    func testStopReasons() throws {
        let model = try ModelFixtures.tiny(TinyModelSpec())
        let prompt = model.tokenizer.encode("Hello", addSpecial: false)
        func session(_ limit: Int? = nil) -> InferenceSession { InferenceSession(model: model, backend: ReferenceBackend(), contextLimit: limit) }
        // Greedy from this prompt: no end token among the first 8 (checked, so that the cases
        // below cannot stop at one instead).
        let greedy = try session().generate(prompt: prompt, maxTokens: 8, sampler: .greedy)
        XCTAssertFalse(greedy.tokens.contains { model.tokenizer.isEndOfGeneration($0) }, "\(greedy.tokens)")
        XCTAssertEqual(greedy.stop, .maxTokens)
        XCTAssertEqual(greedy.tokens.count, 8)
        XCTAssertEqual(try session().generate(prompt: prompt, maxTokens: 0, sampler: .greedy), GeneratedTokens(tokens: [], stop: .maxTokens))
        // Context of prompt + 3 positions: 3 more tokens are evaluated, the 4th has no position.
        XCTAssertEqual(try session(prompt.count + 3).generate(prompt: prompt, maxTokens: 8, sampler: .greedy),
                       GeneratedTokens(tokens: Array(greedy.tokens.prefix(4)), stop: .contextFull))
        // When the last allowed token also fills the context, max tokens is the reason (the order of StopReason).
        XCTAssertEqual(try session(prompt.count + 3).generate(prompt: prompt, maxTokens: 4, sampler: .greedy).stop, .maxTokens)
        var seen = 0
        let stopped = try session().generate(prompt: prompt, maxTokens: 8, sampler: .greedy) { _ in seen += 1; return seen < 3 }
        XCTAssertEqual(stopped, GeneratedTokens(tokens: Array(greedy.tokens.prefix(3)), stop: .caller))
        // Sampling at a high temperature reaches the end token for some seeds: the output ends
        // with it, and only there.
        var ended = 0
        for seed in UInt64(0) ..< 64 {
            let out = try session().generate(prompt: prompt, maxTokens: 24, sampler: SamplerSettings(temperature: 8, seed: seed))
            let ends = out.tokens.indices.filter { model.tokenizer.isEndOfGeneration(out.tokens[$0]) }
            XCTAssertTrue(ends.isEmpty || ends == [out.tokens.count - 1], "seed \(seed): end tokens at \(ends) of \(out.tokens.count)")
            XCTAssertEqual(out.stop, ends.isEmpty ? .maxTokens : .endOfGeneration, "seed \(seed)")
            if !ends.isEmpty { ended += 1 }
        }
        XCTAssertGreaterThan(ended, 0, "no seed reached the end token")
    }

    func testContextLimitAndBadTokensAreErrors() throws {
        let model = try ModelFixtures.tiny(TinyModelSpec())
        let session = InferenceSession(model: model, backend: ReferenceBackend(), contextLimit: 4)
        XCTAssertThrowsError(try session.evaluate([1, 2, 3, 4, 5])) { XCTAssertEqual("\($0)", "the prompt has 5 tokens, more than the context limit of 4 positions") }
        XCTAssertNoThrow(try session.evaluate([1, 2]))
        XCTAssertThrowsError(try session.evaluate([1, 2, 3])) { XCTAssertEqual("\($0)", "5 positions exceed the context limit 4") }
        XCTAssertThrowsError(try session.evaluate([TokenID(model.config.vocabularySize)])) { XCTAssertTrue("\($0)".contains("outside the vocabulary")) }
        XCTAssertThrowsError(try session.evaluate([])) { XCTAssertTrue("\($0)".contains("no tokens")) }
    }

    func testScoreMatchesLogitsAndIsConsistent() throws {
        let model = try ModelFixtures.tiny(TinyModelSpec())
        let tokens = model.tokenizer.encode("The capital of France is Paris.", addSpecial: false)
        let r = try model.score(tokens: tokens, backend: ReferenceBackend(), chunk: 4)
        XCTAssertEqual(r.top1.count, tokens.count - 1)
        XCTAssertEqual(r.nll.count, tokens.count - 1)
        let all = try InferenceSession(model: model, backend: ReferenceBackend()).evaluate(tokens, logits: .all)
        let v = model.config.vocabularySize
        for i in 0 ..< tokens.count - 1 {
            let row = Array(all[i * v ..< (i + 1) * v])
            XCTAssertEqual(Int(r.top1[i]), row.withUnsafeBufferPointer { Sampler.argmax($0) })
            XCTAssertGreaterThanOrEqual(r.nll[i], 0)
        }
        XCTAssertEqual(r.perplexity, ContractMath.exp(r.nll.reduce(0, +) / Double(r.nll.count)), accuracy: 1e-9)
        // More positions than RoPE is defined for: refused before any is evaluated.
        let tooMany = [TokenID](repeating: 1, count: RopeAngles.maxPosition + 3)
        XCTAssertThrowsError(try model.score(tokens: tooMany, backend: ReferenceBackend()) { _ in XCTFail("evaluated before refusing") }) {
            XCTAssertTrue("\($0)".contains("more than the \(RopeAngles.maxPosition + 1) the contract defines"), "\($0)")
        }
    }
}

final class RangeRefusalTests: XCTestCase {
    /// A backend whose products overflow binary32 (as adversarial weights can make them):
    /// every residual add writes +∞ into one element of the row of token 1.
    private final class OverflowingBackend: DelegatingBackend {
        let fallback: any Backend = ReferenceBackend()
        var name: String { "overflowing" }
        func add(_ x: UnsafeMutableBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>) {
            fallback.add(x, y)
            x[x.count / 2 + 3] = .infinity
        }
    }

    /// A residual that leaves the binary32 range is refused with the position and layer, never
    /// computed into a NaN (whose payload would differ across hardware) or shown to an observer.
    func testOverflowingActivationsAreRefused() throws {
        let model = try ModelFixtures.tiny(TinyModelSpec())
        let session = InferenceSession(model: model, backend: OverflowingBackend())
        var observedLayers: [Int?] = []
        XCTAssertThrowsError(try session.evaluate([10, 11], observer: { layer, _ in observedLayers.append(layer) })) { error in
            XCTAssertTrue("\(error)".contains("left the binary32 range"), "\(error)")
            XCTAssertTrue("\(error)".contains("position 1, layer 0"), "\(error)")
        }
        XCTAssertEqual(observedLayers, [nil], "only the embedding step may reach the observer")
    }
}
