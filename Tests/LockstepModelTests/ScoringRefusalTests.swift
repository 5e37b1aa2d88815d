import XCTest
import LockstepCore
import LockstepGGUF
import LockstepModel
import LockstepTokenizer

/// Scoring refuses a logits row with a value out of the binary32 range instead of reporting a NaN
/// log-probability, and a perplexity out of the binary64 range instead of reporting +∞: with finite
/// but extreme weights the residual stream stays finite while the output head overflows.
final class ScoringRefusalTests: XCTestCase {
    /// The standard tiny model with every `output_norm.weight` element set to `value` (F32).
    private func tinyModel(outputNorm value: Float) throws -> LlamaModel {
        var bytes = TinyModel.gguf(TinyModelSpec())
        let file = try GGUFFile(bytes: bytes, name: "tiny.gguf")
        let norm = try XCTUnwrap(file.tensor(named: "output_norm.weight"))
        XCTAssertEqual(norm.type, .f32)
        bytes.withUnsafeMutableBytes { b in
            for i in 0 ..< norm.elementCount {
                b.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: file.dataOffset + norm.offset + 4 * i, as: UInt32.self)
            }
        }
        return try LlamaModel(file: GGUFFile(bytes: bytes, name: "tiny.gguf"))
    }

    func testNonFiniteLogitIsRefusedNamingThePosition() throws {
        let tokens: [TokenID] = [5, 9, 12, 7]
        XCTAssertNoThrow(try tinyModel(outputNorm: 1).score(tokens: tokens, backend: ReferenceBackend()))
        let model = try tinyModel(outputNorm: 3e38)
        XCTAssertThrowsError(try model.score(tokens: tokens, backend: ReferenceBackend())) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("position 0, token id "), message)
            XCTAssertTrue(message.contains("the computation left the binary32 range"), message)
        }
    }

    func testPerplexityBeyondBinary64IsRefused() throws {
        // Finite logits around 1e35: the negative log-likelihoods are finite but far above the
        // 709 nats above which the contract's exp gives +∞.
        let model = try tinyModel(outputNorm: 1e35)
        XCTAssertThrowsError(try model.score(tokens: [5, 9, 12, 7], backend: ReferenceBackend())) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("the mean negative log-likelihood is "), message)
            XCTAssertTrue(message.hasSuffix("nats: the perplexity, its exponential, is beyond the binary64 range"), message)
        }
    }
}
