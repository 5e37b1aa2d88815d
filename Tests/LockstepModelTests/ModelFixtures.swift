import Foundation
import XCTest
import LockstepTestSupport
import LockstepBLAS
import LockstepCore
import LockstepCPU
import LockstepGPU
import LockstepGGUF
import LockstepModel
import LockstepTokenizer

/// Models the tests run on: seed-generated tiny models in several shapes and types, and the
/// real model when it is present.
enum ModelFixtures {
    /// Tiny specs covering every tensor type, grouped-query ratios, odd head counts and an
    /// untied output head.
    static let tinySpecs: [TinyModelSpec] = [
        TinyModelSpec(),                                                                   // Q4_1 + Q8_0 embeddings, GQA 2
        TinyModelSpec(seed: 2, dim: 96, layers: 2, heads: 3, kvHeads: 1, ffnDim: 160, weightType: .q8_0, embeddingType: .q8_0),
        TinyModelSpec(seed: 3, dim: 64, layers: 1, heads: 2, kvHeads: 2, ffnDim: 96, weightType: .q4_0, embeddingType: .q4_0, tiedOutput: false),
        TinyModelSpec(seed: 4, dim: 40, layers: 2, heads: 5, kvHeads: 5, ffnDim: 52, weightType: .f32, embeddingType: .f32),
        TinyModelSpec(seed: 5, dim: 48, layers: 1, heads: 4, kvHeads: 2, ffnDim: 80, weightType: .f16, embeddingType: .f16, tiedOutput: false),
        TinyModelSpec(seed: 6, dim: 64, layers: 1, heads: 1, kvHeads: 1, ffnDim: 64, weightType: .bf16, embeddingType: .bf16),
    ]

    /// The accelerated backends to check, each with a label; OpenCL only when a device exists
    /// (required when `LOCKSTEP_REQUIRE_OPENCL=1`).
    static func acceleratedBackends() throws -> [(String, any Backend)] {
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

    static func tiny(_ spec: TinyModelSpec) throws -> LlamaModel {
        try LlamaModel(file: GGUFFile(bytes: TinyModel.gguf(spec), name: "tiny-\(spec.seed).gguf"))
    }

    /// The real model, or a skip (a failure when `LOCKSTEP_REQUIRE_MODEL=1`).
    static func real() throws -> LlamaModel { try RealModel.load() }

    /// Logits of every position of `tokens`, evaluated in chunks of `chunk` tokens on `backend`
    /// (one fresh session; `chunk = 1` is token-by-token decode).
    static func logits(_ model: LlamaModel, _ backend: any Backend, _ tokens: [TokenID], chunk: Int) throws -> [Float] {
        let session = InferenceSession(model: model, backend: backend)
        var out: [Float] = []
        var i = 0
        while i < tokens.count {
            let end = min(i + chunk, tokens.count)
            out += try session.evaluate(Array(tokens[i..<end]), logits: .all)
            i = end
        }
        return out
    }
}
