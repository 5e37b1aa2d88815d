import Foundation
import LockstepCore
import LockstepGGUF
import LockstepNative

/// The shape and tensor types of a tiny, seed-generated Llama model.
public struct TinyModelSpec: Sendable, Equatable {
    /// Seed of the weight generator.
    public var seed: UInt64
    /// Model width.
    public var dim: Int
    /// Transformer blocks.
    public var layers: Int
    /// Query heads (`dim` must be a multiple).
    public var heads: Int
    /// Key/value heads (divides `heads`).
    public var kvHeads: Int
    /// FFN hidden width.
    public var ffnDim: Int
    /// Type of every 2-D projection matrix.
    public var weightType: GGMLType
    /// Type of `token_embd.weight`.
    public var embeddingType: GGMLType
    /// Whether the output head is tied to the embeddings (no `output.weight`).
    public var tiedOutput: Bool
    /// `llama.context_length`.
    public var contextLength: Int

    public init(seed: UInt64 = 1, dim: Int = 64, layers: Int = 2, heads: Int = 4, kvHeads: Int = 2, ffnDim: Int = 128,
                weightType: GGMLType = .q4_1, embeddingType: GGMLType = .q8_0, tiedOutput: Bool = true, contextLength: Int = 256) {
        self.seed = seed; self.dim = dim; self.layers = layers; self.heads = heads; self.kvHeads = kvHeads
        self.ffnDim = ffnDim; self.weightType = weightType; self.embeddingType = embeddingType
        self.tiedOutput = tiedOutput; self.contextLength = contextLength
    }

    /// The built-in default: the model the CLI falls back to when the real model is absent.
    public static let standard = TinyModelSpec()

    /// The most parameters a tiny model may have: 2^28 (its weights are generated as binary32
    /// in memory, about 1 GiB at the bound).
    public static let maxParameters = 1 << 28

    /// Parameters: the embeddings (and the output matrix when untied), and each layer's
    /// projections and norms; nil when the count does not fit an `Int` or a dimension is not positive.
    public var parameterCount: Int? {
        guard dim >= 1, layers >= 1, heads >= 1, kvHeads >= 1, ffnDim >= 1 else { return nil }
        func product(_ factors: Int...) -> Int? {
            factors.reduce(Optional(1)) { p, f in p.flatMap { let (r, o) = $0.multipliedReportingOverflow(by: f); return o ? nil : r } }
        }
        let terms = [product(layers, 2, dim, dim),                             // query and output projections
                     product(layers, 2, dim, kvHeads, dim / heads),            // key and value projections
                     product(layers, 3, dim, ffnDim),                          // gate, up and down
                     product(layers, 2, dim),                                  // the two norms of each layer
                     product(TinyModel.vocabularySize, tiedOutput ? 1 : 2, dim), // embeddings (and output)
                     dim]                                                      // the output norm
        return terms.reduce(Optional(0)) { sum, t in
            sum.flatMap { s in t.flatMap { let (r, o) = s.addingReportingOverflow($0); return o ? nil : r } }
        }
    }

    /// Why this spec cannot be generated, or nil when it can.
    public var problem: String? {
        if dim < 1 || layers < 1 || heads < 1 || kvHeads < 1 || ffnDim < 1 || contextLength < 1 { return "every dimension must be positive" }
        if contextLength > RopeAngles.maxPosition + 1 { return "context length \(contextLength) is above \(RopeAngles.maxPosition + 1) positions" }
        guard let n = parameterCount, n <= Self.maxParameters else {
            return "\(parameterCount.map { "\($0) parameters are" } ?? "the parameter count is") more than a tiny model's \(Self.maxParameters)"
        }
        if dim % heads != 0 { return "dim \(dim) is not a multiple of heads \(heads)" }
        if heads % kvHeads != 0 { return "heads \(heads) is not a multiple of kv heads \(kvHeads)" }
        if (dim / heads) % 2 != 0 { return "head dimension \(dim / heads) must be even (RoPE pairs)" }
        if embeddingType.blockElements > 1 && dim % 32 != 0 { return "a quantised embedding needs dim a multiple of 32, got \(dim)" }
        if weightType.blockElements > 1 && (dim % 32 != 0 || ffnDim % 32 != 0) {
            return "quantised weights need dim and ffn dim multiples of 32, got \(dim) and \(ffnDim)"
        }
        return nil
    }
}

/// Writes small Llama GGUF files whose weights come from a seed: used by tests, vectors and as
/// the CLI's fallback model. The vocabulary is byte-level BPE (3 ChatML control tokens, the 256
/// byte tokens, then 64 merges learnt from a fixed English text), so real text round-trips.
public enum TinyModel {
    /// Tokens in every tiny model's vocabulary.
    public static let vocabularySize = Vocabulary.make().tokens.count

    /// The GGUF bytes for `spec`.
    /// - Precondition: `spec.problem == nil`.
    public static func gguf(_ spec: TinyModelSpec) -> [UInt8] {
        precondition(spec.problem == nil, "TinyModel: \(spec.problem ?? "")")
        var rng = SeededGenerator(seed: spec.seed)
        let vocab = Vocabulary.make()
        let headDim = spec.dim / spec.heads
        var w = GGUFWriter(version: 3, alignment: 32)
        w.set("general.architecture", .string("llama"))
        w.set("general.name", .string("lockstep-tiny-\(spec.seed)"))
        w.set("llama.context_length", .uint32(UInt32(spec.contextLength)))
        w.set("llama.embedding_length", .uint32(UInt32(spec.dim)))
        w.set("llama.block_count", .uint32(UInt32(spec.layers)))
        w.set("llama.feed_forward_length", .uint32(UInt32(spec.ffnDim)))
        w.set("llama.attention.head_count", .uint32(UInt32(spec.heads)))
        w.set("llama.attention.head_count_kv", .uint32(UInt32(spec.kvHeads)))
        w.set("llama.attention.layer_norm_rms_epsilon", .float32(1e-5))
        w.set("llama.rope.freq_base", .float32(10000))
        w.set("llama.rope.dimension_count", .uint32(UInt32(headDim)))
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string("smollm"))
        w.set("tokenizer.ggml.tokens", .array(.string(vocab.tokens)))
        w.set("tokenizer.ggml.token_type", .array(.int32(vocab.types)))
        w.set("tokenizer.ggml.merges", .array(.string(vocab.merges)))
        w.set("tokenizer.ggml.bos_token_id", .uint32(1))
        w.set("tokenizer.ggml.eos_token_id", .uint32(2))
        w.set("tokenizer.ggml.add_bos_token", .bool(false))
        w.set("tokenizer.chat_template", .string(
            "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"))

        let n = vocab.tokens.count
        func matrix(_ name: String, rows: Int, columns: Int, type: GGMLType, gain: Float = 1) {
            let a = gain / Float(columns).squareRoot() * 1.7
            let values = (0 ..< rows * columns).map { _ in rng.uniform() * a }
            w.addTensor(name: name, dimensions: [columns, rows], type: type, data: encode(values, type: type))
        }
        func norm(_ name: String) {
            let values = (0 ..< spec.dim).map { _ in 1 + 0.1 * rng.uniform() }
            w.addTensor(name: name, dimensions: [spec.dim], type: .f32, data: encode(values, type: .f32))
        }
        matrix("token_embd.weight", rows: n, columns: spec.dim, type: spec.embeddingType, gain: 3)
        for l in 0 ..< spec.layers {
            let p = "blk.\(l)."
            norm(p + "attn_norm.weight")
            matrix(p + "attn_q.weight", rows: spec.dim, columns: spec.dim, type: spec.weightType)
            matrix(p + "attn_k.weight", rows: spec.kvHeads * headDim, columns: spec.dim, type: spec.weightType)
            matrix(p + "attn_v.weight", rows: spec.kvHeads * headDim, columns: spec.dim, type: spec.weightType)
            matrix(p + "attn_output.weight", rows: spec.dim, columns: spec.dim, type: spec.weightType)
            norm(p + "ffn_norm.weight")
            matrix(p + "ffn_gate.weight", rows: spec.ffnDim, columns: spec.dim, type: spec.weightType)
            matrix(p + "ffn_up.weight", rows: spec.ffnDim, columns: spec.dim, type: spec.weightType)
            matrix(p + "ffn_down.weight", rows: spec.dim, columns: spec.ffnDim, type: spec.weightType)
        }
        norm("output_norm.weight")
        if !spec.tiedOutput {
            matrix("output.weight", rows: n, columns: spec.dim, type: spec.weightType, gain: 3)
        }
        return w.serialize()
    }

    /// Writes `gguf(spec)` to `path`.
    /// - Throws: `ModelError` naming the path when the spec has a `problem` or the file cannot be written.
    public static func write(_ spec: TinyModelSpec, to path: String) throws(ModelError) {
        if let problem = spec.problem { throw ModelError(path: path, "cannot generate this tiny model: \(problem)") }
        do { try writeFile(atPath: path, gguf(spec)) } catch {
            throw ModelError(path: path, error.reason)
        }
    }

    /// Encodes row-major values (rows of `columns`) in a GGUF tensor type.
    static func encode(_ values: [Float], type: GGMLType) -> [UInt8] {
        var out: [UInt8] = []
        func append<T>(_ v: T) { withUnsafeBytes(of: v) { out.append(contentsOf: $0) } }
        switch type {
        case .f32: for v in values { append(v.bitPattern.littleEndian) }
        case .f16: for v in values { append(Float16(v).bitPattern.littleEndian) }
        case .bf16:
            for v in values {
                let b = v.bitPattern
                let rounded = b &+ 0x7FFF &+ ((b >> 16) & 1)      // round half to even
                append(UInt16(rounded >> 16).littleEndian)
            }
        case .q8_0:
            for start in stride(from: 0, to: values.count, by: 32) {
                let (d, q) = Q8Quantizer.quantize(Array(values[start ..< start + 32]))
                append(d.littleEndian)
                for v in q { append(v) }
            }
        case .q4_0:
            for start in stride(from: 0, to: values.count, by: 32) {
                let block = values[start ..< start + 32]
                let amax = block.map(\.magnitude).max()!
                let d = Float16(amax / 7)
                let q = block.map { v -> UInt8 in
                    Float(d) == 0 ? 8 : UInt8(max(0, min(15, (v / Float(d)).rounded(.toNearestOrEven) + 8)))
                }
                append(d.bitPattern.littleEndian)
                for j in 0..<16 { out.append(q[q.startIndex + j] | q[q.startIndex + j + 16] << 4) }
            }
        case .q4_1:
            for start in stride(from: 0, to: values.count, by: 32) {
                let block = values[start ..< start + 32]
                let lo = block.min()!, hi = block.max()!
                let d = Float16((hi - lo) / 15), m = Float16(lo)
                let q = block.map { v -> UInt8 in
                    Float(d) == 0 ? 0 : UInt8(max(0, min(15, ((v - Float(m)) / Float(d)).rounded(.toNearestOrEven))))
                }
                append(d.bitPattern.littleEndian)
                append(m.bitPattern.littleEndian)
                for j in 0..<16 { out.append(q[q.startIndex + j] | q[q.startIndex + j + 16] << 4) }
            }
        }
        return out
    }

    /// The tiny byte-level BPE vocabulary.
    struct Vocabulary {
        var tokens: [String]
        var types: [Int32]
        var merges: [String]

        static let trainingText = """
            The capital of France is Paris. The quick brown fox jumps over the lazy dog. \
            Hello world, this is a tiny model that writes text one token at a time, \
            and then another one, and then the next one again.
            """

        static func make() -> Vocabulary {
            let byteChars = byteToUnicode()
            var tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
            var types: [Int32] = [3, 3, 3]
            for b in 0..<256 { tokens.append(String(byteChars[b])); types.append(1) }
            // Learn 64 merges from the training text: words split at spaces, a space joining the next word.
            var words: [[String]] = []
            var current = ""
            for ch in trainingText.utf8 {
                if ch == 0x20 && !current.isEmpty { words.append(current.map(String.init)); current = "" }
                current.append(byteChars[Int(ch)])
            }
            if !current.isEmpty { words.append(current.map(String.init)) }
            var merges: [String] = []
            while merges.count < 64 {
                var counts: [String: Int] = [:]
                for word in words where word.count > 1 {
                    for i in 0 ..< word.count - 1 { counts[word[i] + " " + word[i + 1], default: 0] += 1 }
                }
                guard let best = counts.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }) else { break }
                merges.append(best.key)
                let parts = best.key.split(separator: " ", maxSplits: 1).map(String.init)
                tokens.append(parts[0] + parts[1]); types.append(1)
                words = words.map { word in
                    var out: [String] = []
                    var i = 0
                    while i < word.count {
                        if i + 1 < word.count && word[i] == parts[0] && word[i + 1] == parts[1] {
                            out.append(parts[0] + parts[1]); i += 2
                        } else { out.append(word[i]); i += 1 }
                    }
                    return out
                }
            }
            return Vocabulary(tokens: tokens, types: types, merges: merges)
        }

        /// GPT-2's reversible byte → printable character map.
        static func byteToUnicode() -> [Character] {
            var map = [Character](repeating: " ", count: 256)
            var extra = 0
            for b in 0..<256 {
                let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
                let scalar = printable ? b : 256 + extra
                if !printable { extra += 1 }
                map[b] = Character(Unicode.Scalar(UInt32(scalar))!)
            }
            return map
        }
    }
}

/// A reproducible random stream: the sampler's counter-based generator (SPEC §4.2) with an
/// incrementing counter. Generates the tiny models' weights and the determinism vectors' inputs,
/// so any implementation can regenerate them.
public struct SeededGenerator {
    public let seed: UInt64
    public private(set) var counter: UInt64 = 0
    public init(seed: UInt64) { self.seed = seed }
    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        defer { counter += 1 }
        return Sampler.random(seed: seed, counter: counter)
    }
    /// Uniform binary32 in [−1, 1) on a grid of 2^-23.
    public mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}
