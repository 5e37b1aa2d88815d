import XCTest
import LockstepCore
import LockstepModel
import LockstepTokenizer

/// Prefill (many tokens in one pass), chunked prefill and token-by-token decode must give
/// byte-identical logits at every position.
final class PrefillDecodeTests: XCTestCase {
    private func logitsAllAtOnce(_ model: LlamaModel, _ tokens: [TokenID]) throws -> [Float] {
        let session = InferenceSession(model: model, backend: ReferenceBackend())
        return try session.evaluate(tokens, logits: .all)
    }

    private func logitsTokenByToken(_ model: LlamaModel, _ tokens: [TokenID]) throws -> [Float] {
        let session = InferenceSession(model: model, backend: ReferenceBackend())
        var out: [Float] = []
        for t in tokens { out += try session.evaluate([t], logits: .last) }
        return out
    }

    private func logitsChunked(_ model: LlamaModel, _ tokens: [TokenID], chunk: Int) throws -> [Float] {
        let session = InferenceSession(model: model, backend: ReferenceBackend())
        var out: [Float] = []
        var i = 0
        while i < tokens.count {
            let end = min(i + chunk, tokens.count)
            out += try session.evaluate(Array(tokens[i..<end]), logits: .all)
            i = end
        }
        return out
    }

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
            let all = try logitsAllAtOnce(model, tokens)
            XCTAssertTrue(all.allSatisfy(\.isFinite), "seed \(spec.seed): non-finite logits")
            assertSameBits(all, try logitsTokenByToken(model, tokens), "seed \(spec.seed) token-by-token")
            assertSameBits(all, try logitsChunked(model, tokens, chunk: 3), "seed \(spec.seed) chunks of 3")
        }
    }

    func testRealModelPrefillEqualsDecode() throws {
        let model = try ModelFixtures.real()
        let tokens = model.tokenizer.encode("The capital of France is Paris, and", addSpecial: false)
        let all = try logitsAllAtOnce(model, tokens)
        assertSameBits(all, try logitsTokenByToken(model, tokens), "real model token-by-token")
        assertSameBits(all, try logitsChunked(model, tokens, chunk: 5), "real model chunks of 5")
    }

    func testDifferentTokensGiveDifferentLogits() throws {
        // Guards the test above against a forward pass that ignores its input.
        let model = try ModelFixtures.tiny(TinyModelSpec())
        let a = try logitsAllAtOnce(model, model.tokenizer.encode("Hello world", addSpecial: false))
        let b = try logitsAllAtOnce(model, model.tokenizer.encode("Hello there", addSpecial: false))
        XCTAssertNotEqual(a.suffix(model.config.vocabularySize), b.suffix(model.config.vocabularySize))
    }
}
