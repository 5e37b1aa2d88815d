import XCTest
import LockstepCore
import LockstepModel
import LockstepTokenizer

/// Whole-model agreement: every backend available here gives the reference backend's logits,
/// byte for byte, for prefill, chunked prefill and decode, at thread counts 1 and 2.
final class CrossBackendModelTests: XCTestCase {
    private func check(_ model: LlamaModel, _ tokens: [TokenID], _ what: String) throws {
        let expected = try ModelFixtures.logits(model, ReferenceBackend(), tokens, chunk: tokens.count)
        for (label, backend) in try ModelFixtures.acceleratedBackends() {
            for chunk in [tokens.count, 3, 1] {
                let actual = try ModelFixtures.logits(model, backend, tokens, chunk: chunk)
                let differing = zip(expected, actual).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(differing, 0, "\(what), \(label), chunks of \(chunk): \(differing) logits differ")
            }
        }
    }

    func testTinyModelsAgreeOnEveryBackend() throws {
        for spec in ModelFixtures.tinySpecs {
            let model = try ModelFixtures.tiny(spec)
            try check(model, model.tokenizer.encode("The quick brown fox jumps.", addSpecial: false), "tiny seed \(spec.seed)")
        }
    }

    func testRealModelAgreesOnEveryBackend() throws {
        let model = try ModelFixtures.real()
        try check(model, model.tokenizer.encode("The capital of France is Paris. It", addSpecial: false), "real model")
    }

    func testRealModelGeneratesTheSameTokensOnEveryBackend() throws {
        let model = try ModelFixtures.real()
        let prompt = model.tokenizer.encode("The capital of France is", addSpecial: false)
        let expected = try InferenceSession(model: model, backend: ReferenceBackend()).generate(prompt: prompt, maxTokens: 6, sampler: .greedy).tokens
        for (label, backend) in try ModelFixtures.acceleratedBackends() {
            let actual = try InferenceSession(model: model, backend: backend).generate(prompt: prompt, maxTokens: 6, sampler: .greedy).tokens
            XCTAssertEqual(actual, expected, label)
        }
    }
}
