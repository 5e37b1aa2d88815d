import XCTest
import LockstepBLAS
import LockstepCore
import LockstepCPU
import LockstepGPU
import LockstepModel
import LockstepTokenizer

/// Whole-model agreement: every backend available here gives the reference backend's logits,
/// byte for byte, for prefill, chunked prefill and decode, at thread counts 1 and 2.
final class CrossBackendModelTests: XCTestCase {
    /// The accelerated backends to check, each with a label; OpenCL only when a device exists
    /// (required when `LOCKSTEP_REQUIRE_OPENCL=1`).
    private func backends() throws -> [(String, any Backend)] {
        var out: [(String, any Backend)] = []
        for isa in CPUBackend.availableISAs {
            for threads in [1, 2] { out.append(("cpu \(isa)×\(threads)", try CPUBackend.make(threads: threads, isa: isa))) }
        }
        out += [
            ("blas×1", BLASBackend(threads: 1, fallback: ReferenceBackend(), minimumGEMMRows: 2)),
            ("blas×2", BLASBackend(threads: 2, fallback: ReferenceBackend(), minimumGEMMRows: 2)),
        ]
        do {
            out.append(("opencl", try OpenCLBackend(fallback: ReferenceBackend())))
        } catch {
            if ProcessInfo.processInfo.environment["LOCKSTEP_REQUIRE_OPENCL"] == "1" { XCTFail("\(error)") }
        }
        return out
    }

    private func check(_ model: LlamaModel, _ tokens: [TokenID], _ what: String) throws {
        let expected = try ModelFixtures.logits(model, ReferenceBackend(), tokens, chunk: tokens.count)
        for (label, backend) in try backends() {
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
        let expected = try InferenceSession(model: model, backend: ReferenceBackend()).generate(prompt: prompt, maxTokens: 6, sampler: .greedy)
        for (label, backend) in try backends() {
            let actual = try InferenceSession(model: model, backend: backend).generate(prompt: prompt, maxTokens: 6, sampler: .greedy)
            XCTAssertEqual(actual, expected, label)
        }
    }
}
