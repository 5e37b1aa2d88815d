import XCTest
import LockstepCore
import LockstepModel
import LockstepTokenizer

/// Prefill (many tokens in one pass), chunked prefill and token-by-token decode must give
/// byte-identical logits at every position.
final class PrefillDecodeTests: XCTestCase {
    private func assertSameBits(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let differing = zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count
        XCTAssertEqual(differing, 0, "\(what): \(differing) of \(a.count) logits differ", file: file, line: line)
    }

    func testTinyModelsAgreeAcrossBatchShapes() throws {
        for spec in ModelFixtures.tinySpecs {
            let model = try ModelFixtures.tiny(spec)
            let tokens = model.tokenizer.encode("The quick brown fox, 1234 times!", addSpecial: false)
            XCTAssertGreaterThan(tokens.count, 8)
            let all = try ModelFixtures.logits(model, ReferenceBackend(), tokens, chunk: tokens.count)
            XCTAssertTrue(all.allSatisfy(\.isFinite), "seed \(spec.seed): non-finite logits")
            assertSameBits(all, try ModelFixtures.logits(model, ReferenceBackend(), tokens, chunk: 1), "seed \(spec.seed) token-by-token")
            assertSameBits(all, try ModelFixtures.logits(model, ReferenceBackend(), tokens, chunk: 3), "seed \(spec.seed) chunks of 3")
        }
    }

    func testRealModelPrefillEqualsDecode() throws {
        let model = try ModelFixtures.real()
        let tokens = model.tokenizer.encode("The capital of France is Paris, and", addSpecial: false)
        let all = try ModelFixtures.logits(model, ReferenceBackend(), tokens, chunk: tokens.count)
        assertSameBits(all, try ModelFixtures.logits(model, ReferenceBackend(), tokens, chunk: 1), "real model token-by-token")
        assertSameBits(all, try ModelFixtures.logits(model, ReferenceBackend(), tokens, chunk: 5), "real model chunks of 5")
    }

    func testDifferentTokensGiveDifferentLogits() throws {
        // Guards the test above against a forward pass that ignores its input.
        let model = try ModelFixtures.tiny(TinyModelSpec())
        let a = try ModelFixtures.logits(model, ReferenceBackend(), model.tokenizer.encode("Hello world", addSpecial: false), chunk: 64)
        let b = try ModelFixtures.logits(model, ReferenceBackend(), model.tokenizer.encode("Hello there", addSpecial: false), chunk: 64)
        XCTAssertNotEqual(a.suffix(model.config.vocabularySize), b.suffix(model.config.vocabularySize))
    }
}
