import Foundation
import LockstepCore
import LockstepGGUF
import LockstepModel
import LockstepNative
import LockstepTrace
import LockstepTokenizer

/// Whole-model vectors: tiny seed-generated models identified by their `TinyModelSpec`, and the
/// real model identified by its SHA-256; prompts as token ids, sampler settings, the expected
/// output tokens and a digest of every evaluated position's logits.
enum ModelVectors {
    /// The tiny models: every tensor type, grouped-query ratios, odd widths, tied and untied heads.
    static let tinySpecs: [(spec: TinyModelSpec, comment: String, flags: [String])] = [
        (TinyModelSpec(), "the standard tiny model: Q4_1 projections, Q8_0 embeddings (tied head), 4 heads on 2 KV heads",
         ["Q4_1", "Q8_0", "GroupedQuery", "Tied"]),
        (TinyModelSpec(seed: 2, dim: 96, layers: 2, heads: 3, kvHeads: 1, ffnDim: 160, weightType: .q8_0, embeddingType: .q8_0),
         "Q8_0 everywhere, 3 heads on 1 KV head", ["Q8_0", "GroupedQuery", "Tied"]),
        (TinyModelSpec(seed: 3, dim: 64, layers: 1, heads: 2, kvHeads: 2, ffnDim: 96, weightType: .q4_0, embeddingType: .q4_0, tiedOutput: false),
         "Q4_0 everywhere, untied head", ["Q4_0", "Untied"]),
        (TinyModelSpec(seed: 4, dim: 40, layers: 2, heads: 5, kvHeads: 5, ffnDim: 52, weightType: .f32, embeddingType: .f32),
         "F32 (converted to Q8_0 at load), width 40 and FFN 52 (not multiples of 32), head dimension 8", ["F32", "OddDims", "Tied"]),
        (TinyModelSpec(seed: 5, dim: 48, layers: 1, heads: 4, kvHeads: 2, ffnDim: 80, weightType: .f16, embeddingType: .f16, tiedOutput: false),
         "F16, width 48, head dimension 12, untied head", ["F16", "OddDims", "GroupedQuery", "Untied"]),
        (TinyModelSpec(seed: 6, dim: 64, layers: 1, heads: 1, kvHeads: 1, ffnDim: 64, weightType: .bf16, embeddingType: .bf16),
         "BF16, a single head of 64", ["BF16", "Tied"]),
        (TinyModelSpec(seed: 7, dim: 128, layers: 1, heads: 8, kvHeads: 2, ffnDim: 96, weightType: .q4_1, embeddingType: .q4_1, tiedOutput: false),
         "Q4_1 embeddings (one rounding per element), 8 heads on 2 KV heads, untied head", ["Q4_1", "GroupedQuery", "Untied"]),
        (TinyModelSpec(seed: 8, dim: 160, layers: 1, heads: 2, kvHeads: 1, ffnDim: 64, weightType: .q8_0, embeddingType: .f32),
         "head dimension 80 (three blocks, the attention scale rounds), F32 embeddings with a Q8_0 head", ["Q8_0", "F32", "GroupedQuery", "OddDims", "Untied"]),
        (TinyModelSpec(seed: 9, dim: 72, layers: 2, heads: 6, kvHeads: 3, ffnDim: 100, weightType: .bf16, embeddingType: .f16, tiedOutput: false),
         "BF16 projections with F16 embeddings, width 72, FFN 100", ["BF16", "F16", "OddDims", "GroupedQuery", "Untied"]),
    ]

    static let notes: [(String, String)] = [
        ("Q8_0", "Tensors of type Q8_0."), ("Q4_0", "Tensors of type Q4_0."), ("Q4_1", "Tensors of type Q4_1."),
        ("F32", "Tensors of type F32 (matrices converted to Q8_0 at load, SPEC §2.4)."),
        ("F16", "Tensors of type F16 (matrices converted to Q8_0 at load)."),
        ("BF16", "Tensors of type BF16 (matrices converted to Q8_0 at load)."),
        ("GroupedQuery", "Fewer key/value heads than query heads."),
        ("OddDims", "A width, FFN width or head dimension that is not a multiple of 32."),
        ("Tied", "No output.weight: the embedding table is the output head."),
        ("Untied", "A separate output.weight."),
        ("Greedy", "Temperature 0."),
        ("Temperature", "Stochastic sampling with a seed."),
        ("LongPrompt", "More than 32 positions: attention probabilities span several quantisation blocks."),
        ("SingleToken", "A one-token prompt."),
        ("Chat", "A ChatML prompt with control tokens."),
        ("RealModel", "The real model, fetched separately and identified by its SHA-256."),
    ]

    static let header = [
        "Whole forward passes (SPEC §5) with generation (§4.4). For each test: run generation from 'prompt' with 'maxTokens' and the",
        "sampler (temperature, seed); 'tokens' are the generated ids (an end-of-generation token is kept and stops the run).",
        "'logitsDigest' is SHA-256 over the little-endian binary32 logits (vocab values per position, positions in order) of",
        "positions 0 … evaluatedPositions-1 of the sequence prompt + tokens, evaluatedPositions = len(prompt) + len(tokens) - 1",
        "(every position the generation evaluates; the logits of all of them come from one teacher-forced pass).",
        "'traceRoot' and 'traceLeafCount' are the Merkle root and leaf count of the request's committed trace (SPEC §7), the",
        "request being (contract version, model digest, model shape, prompt, temperature, seed, maxTokens).",
    ]

    // MARK: Specs in JSON

    static func specJSON(_ s: TinyModelSpec) -> JSON {
        .object([("seed", .int(s.seed)), ("dim", .int(s.dim)), ("layers", .int(s.layers)), ("heads", .int(s.heads)),
                 ("kvHeads", .int(s.kvHeads)), ("ffnDim", .int(s.ffnDim)), ("weightType", .string(s.weightType.name)),
                 ("embeddingType", .string(s.embeddingType.name)), ("tiedOutput", .bool(s.tiedOutput)),
                 ("contextLength", .int(s.contextLength))])
    }

    static func spec(_ j: JSON?) throws(VectorError) -> TinyModelSpec {
        guard let j, case .number(let seedText) = j["seed"] ?? .null, let seed = UInt64(seedText),
              let dim = j["dim"]?.int, let layers = j["layers"]?.int, let heads = j["heads"]?.int, let kvHeads = j["kvHeads"]?.int,
              let ffn = j["ffnDim"]?.int, let wt = j["weightType"]?.string, let et = j["embeddingType"]?.string,
              let tied = j["tiedOutput"]?.bool, let context = j["contextLength"]?.int else {
            throw VectorError("incomplete tiny model spec")
        }
        guard let w = GGMLType.allCases.first(where: { $0.name == wt }), let e = GGMLType.allCases.first(where: { $0.name == et }) else {
            throw VectorError("unknown tensor type in the tiny model spec")
        }
        let s = TinyModelSpec(seed: seed, dim: dim, layers: layers, heads: heads, kvHeads: kvHeads, ffnDim: ffn,
                              weightType: w, embeddingType: e, tiedOutput: tied, contextLength: context)
        if let p = s.problem { throw VectorError("tiny model spec: \(p)") }
        return s
    }

    // MARK: Running one test

    /// Generates and evaluates one model test on `backend`; returns the expected-field values.
    static func compute(model: LlamaModel, inputs: JSON, backend: any Backend) throws(VectorError) -> [(String, JSON)] {
        guard let promptJSON = inputs["prompt"]?.array else { throw VectorError("input 'prompt' is missing") }
        let ids = promptJSON.compactMap(\.int)
        guard ids.count == promptJSON.count, !ids.isEmpty else { throw VectorError("input 'prompt' must be a non-empty array of token ids") }
        guard let maxTokens = inputs["maxTokens"]?.int, maxTokens >= 1 else { throw VectorError("input 'maxTokens' must be an integer ≥ 1") }
        let t = try TensorField(inputs["temperature"], name: "temperature")
        let s = try TensorField(inputs["seed"], name: "seed")
        guard t.type == .f32, t.shape == [], s.type == .u64, s.shape == [] else { throw VectorError("temperature must be an f32 scalar, seed a u64 scalar") }
        let temperature = t.floats[0], seed = s.uint64s[0]
        guard temperature.isFinite, temperature >= 0 else { throw VectorError("temperature must be finite and ≥ 0") }
        let prompt = ids.map { TokenID($0) }
        let tokens: [TokenID]
        let logits: [Float]
        let traced: TracedResult
        do {
            // The trace root does not depend on the signing key; a fixed key keeps runs identical.
            traced = try TracedGeneration.run(model: model, backend: backend, prompt: prompt, maxTokens: maxTokens,
                                              sampler: SamplerSettings(temperature: temperature, seed: seed),
                                              key: try Ed25519PrivateKey(seed: [UInt8](repeating: 0, count: 32)))
            tokens = traced.tokens
            let sequence = prompt + tokens.dropLast()
            logits = try InferenceSession(model: model, backend: backend).evaluate(sequence, logits: .all)
        } catch {
            throw VectorError("generation failed: \(error)")
        }
        let h = SHA256Hasher()
        h.update(littleEndian: logits)
        return [("tokens", .array(tokens.map { .int($0) })),
                ("evaluatedPositions", .int(prompt.count + tokens.count - 1)),
                ("logitsDigest", .string(h.finalize().hex)),
                ("traceLeafCount", .int(Int(traced.signed.commitment.leafCount))),
                ("traceRoot", .string(traced.signed.commitment.root.hex))]
    }

    // MARK: Generation

    static func tokenizeTest(_ model: LlamaModel, _ text: String, special: Bool = false) -> [JSON] {
        model.tokenizer.encode(text, addSpecial: false, parseSpecial: special).map { .int($0) }
    }

    static func samplerInputs(_ t: Float, _ seed: UInt64) -> [(String, JSON)] {
        [("temperature", J.f32(t)), ("seed", J.u64(seed))]
    }

    static func tinyFile() throws(VectorError) -> VectorFile {
        var b = VectorFileBuilder(format: VectorFile.modelFormat, algorithm: "llama-generation", spec: "Papers/SPEC.md §4, §5, Appendix C",
                                  header: header + ["Models: TinyModel.gguf(spec) (SPEC Appendix C); 'ggufSha256' is the SHA-256 of the generated file,",
                                                    "'modelDigest' the model digest of SPEC §5.4. The GGUF files are not committed."],
                                  notes: notes)
        let reference = ReferenceBackend()
        for (spec, comment, flags) in tinySpecs {
            let bytes = TinyModel.gguf(spec)
            let model: LlamaModel
            do { model = try LlamaModel(file: GGUFFile(bytes: bytes, name: "tiny-\(spec.seed).gguf")) } catch {
                throw VectorError("tiny model \(spec.seed): \(error)")
            }
            b.group("TinyModelTest", [("comment", .string(comment)), ("spec", specJSON(spec)),
                                      ("ggufSha256", .string(SHA256Hasher.hash(bytes).hex)), ("modelDigest", .string(model.digest().hex))])
            let long = "The quick brown fox jumps over the lazy dog. Hello world, this is a tiny model that writes text one token at a time, and then another one."
            let cases: [(String, [String], [JSON], Int, Float, UInt64)] = [
                ("greedy from 'The capital of France is'", ["Greedy"], tokenizeTest(model, "The capital of France is"), 8, 0, 0),
                ("temperature 0.8, seed 42, from 'Hello world, this'", ["Temperature"], tokenizeTest(model, "Hello world, this"), 8, 0.8, 42),
                ("temperature 1.5, seed 7, from <|im_start|>", ["Temperature", "SingleToken"], [.int(1)], 6, 1.5, 7),
                ("greedy from a long prompt", ["Greedy", "LongPrompt"], tokenizeTest(model, long), 4, 0, 0),
            ]
            for (what, extra, prompt, maxTokens, t, seed) in cases {
                let inputs: [(String, JSON)] = [("prompt", .array(prompt)), ("maxTokens", .int(maxTokens))] + samplerInputs(t, seed)
                let expected = try compute(model: model, inputs: .object(inputs), backend: reference)
                b.test(what, flags: flags + extra, inputs: inputs, expected: expected)
            }
        }
        return b.build()
    }

    /// The real model's vectors; nil when the model file is not present (or is not the real model).
    static func realFile() throws(VectorError) -> VectorFile? {
        guard let model = try realModel() else { return nil }
        var b = VectorFileBuilder(format: VectorFile.modelFormat, algorithm: "llama-generation", spec: "Papers/SPEC.md §4, §5",
                                  header: header + ["Model: the file named by 'sha256' (SmolLM2-135M-Instruct Q4_1, fetched by scripts/setup.sh,",
                                                    "never committed); runners skip these tests when the file is absent. 'promptText' is informative."],
                                  notes: notes)
        b.group("ModelFileTest", [("fileName", .string(ModelStore.realModelFileName)), ("sha256", .string(ModelStore.realModelSHA256)),
                                  ("byteCount", .int(ModelStore.realModelByteCount)), ("modelDigest", .string(model.digest().hex))])
        let reference = ReferenceBackend()
        let chat = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
        let cases: [(String, [String], String, Bool, Int, Float, UInt64)] = [
            ("greedy from 'The capital of France is'", ["Greedy"], "The capital of France is", false, 6, 0, 0),
            ("greedy ChatML answer", ["Greedy", "Chat"], chat, true, 8, 0, 0),
            ("temperature 0.7, seed 1234, from 'Once upon a time'", ["Temperature"], "Once upon a time", false, 6, 0.7, 1234),
        ]
        for (what, flags, text, special, maxTokens, t, seed) in cases {
            let inputs: [(String, JSON)] = [("promptText", .string(text)), ("prompt", .array(tokenizeTest(model, text, special: special))),
                                            ("maxTokens", .int(maxTokens))] + samplerInputs(t, seed)
            let expected = try compute(model: model, inputs: .object(inputs), backend: reference)
            b.test(what, flags: ["RealModel"] + flags, inputs: inputs, expected: expected)
        }
        return b.build()
    }

    /// The real model from `ModelStore.realModelPath` when that file has the real model's
    /// SHA-256, else nil.
    static func realModel() throws(VectorError) -> LlamaModel? {
        let path = ModelStore.realModelPath
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let file = try GGUFFile(path: path)
            let digest = file.withBytes { SHA256Hasher.hash($0) }
            guard digest.hex == ModelStore.realModelSHA256 else { return nil }
            return try LlamaModel(file: file)
        } catch {
            throw VectorError("\(path): \(error)")
        }
    }
}
