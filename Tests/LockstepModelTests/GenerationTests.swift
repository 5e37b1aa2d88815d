import XCTest
import LockstepCore
import LockstepModel
import LockstepTokenizer

final class GenerationTests: XCTestCase {
    func testRealModelSaysParis() throws {
        let model = try ModelFixtures.real()
        let session = InferenceSession(model: model, backend: ReferenceBackend())
        let prompt = model.tokenizer.encode("The capital of France is", addSpecial: true)
        let out = try session.generate(prompt: prompt, maxTokens: 4, sampler: .greedy)
        XCTAssertTrue(model.tokenizer.decode(out).hasPrefix(" Paris"), "got \(model.tokenizer.decode(out))")
        // The float32 numpy reference's first greedy token for this prompt is 7042 (" Paris").
        XCTAssertEqual(out.first, 7042)
    }

    func testSamplingIsReproducibleAndSeedDependent() throws {
        let model = try ModelFixtures.tiny(TinyModelSpec())
        let prompt = model.tokenizer.encode("Hello", addSpecial: false)
        func run(_ seed: UInt64) throws -> [TokenID] {
            try InferenceSession(model: model, backend: ReferenceBackend())
                .generate(prompt: prompt, maxTokens: 12, sampler: SamplerSettings(temperature: 1.5, seed: seed))
        }
        let a = try run(7)
        XCTAssertEqual(a, try run(7))
        let others = try (8..<12).map { try run($0) }
        XCTAssertTrue(others.contains { $0 != a }, "five seeds gave identical samples")
    }

    func testContextLimitAndBadTokensAreErrors() throws {
        let model = try ModelFixtures.tiny(TinyModelSpec())
        let session = InferenceSession(model: model, backend: ReferenceBackend(), contextLimit: 4)
        XCTAssertThrowsError(try session.evaluate([1, 2, 3, 4, 5])) { XCTAssertTrue("\($0)".contains("context limit")) }
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
