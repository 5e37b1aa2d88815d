import LockstepCore
import LockstepGGUF

/// The hyper-parameters of a Llama-architecture model, read from GGUF metadata
/// (`llama.*` keys) and checked for consistency.
public struct LlamaConfig: Sendable, Equatable, Codable {
    /// Model width (`llama.embedding_length`).
    public var dim: Int
    /// Transformer blocks (`llama.block_count`).
    public var layers: Int
    /// Query heads (`llama.attention.head_count`).
    public var heads: Int
    /// Key/value heads (`llama.attention.head_count_kv`, default `heads`).
    public var kvHeads: Int
    /// Elements per head (`llama.attention.key_length`, default `dim / heads`).
    public var headDim: Int
    /// FFN hidden width (`llama.feed_forward_length`).
    public var ffnDim: Int
    /// Vocabulary size (rows of `token_embd.weight`).
    public var vocabularySize: Int
    /// RMSNorm epsilon (`llama.attention.layer_norm_rms_epsilon`).
    public var rmsEpsilon: Float
    /// RoPE base frequency (`llama.rope.freq_base`, default 10000).
    public var ropeBase: Float
    /// Rotated dimensions per head (`llama.rope.dimension_count`, default `headDim`).
    public var ropeDimensions: Int
    /// Trained context length (`llama.context_length`), the default limit on positions.
    public var contextLength: Int

    public init(dim: Int, layers: Int, heads: Int, kvHeads: Int, headDim: Int, ffnDim: Int, vocabularySize: Int,
                rmsEpsilon: Float, ropeBase: Float, ropeDimensions: Int, contextLength: Int) {
        self.dim = dim; self.layers = layers; self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
        self.ffnDim = ffnDim; self.vocabularySize = vocabularySize; self.rmsEpsilon = rmsEpsilon
        self.ropeBase = ropeBase; self.ropeDimensions = ropeDimensions; self.contextLength = contextLength
    }

    /// The positions a generation may fill (SPEC §4.4): `contextLength`, at most the
    /// `RopeAngles.maxPosition + 1` positions the contract defines.
    public var contextLimit: Int { min(contextLength, RopeAngles.maxPosition + 1) }

    /// The attention shape for the backend and KV cache.
    public var attentionShape: AttentionShape { AttentionShape(heads: heads, kvHeads: kvHeads, headDim: headDim) }

    /// Reads and checks the configuration of a GGUF file.
    /// - Throws: `ModelError` naming the key and value at fault.
    public init(file: GGUFFile) throws(ModelError) {
        let path = file.path
        func fail(_ key: String, _ what: String) -> ModelError { ModelError(path: path, "metadata '\(key)': \(what)") }
        guard let archValue = file.metadata["general.architecture"] else { throw fail("general.architecture", "missing") }
        guard let arch = archValue.stringValue else { throw fail("general.architecture", "expected a string, found \(archValue.summary)") }
        guard arch == "llama" else { throw fail("general.architecture", "\(GGUFValue.quoted(arch)) is not supported (only \"llama\")") }
        func int(_ key: String, default def: Int? = nil, range: ClosedRange<Int>) throws(ModelError) -> Int {
            guard let v = file.metadata[key] else {
                if let def { return def }
                throw fail(key, "missing")
            }
            guard let i = v.intValue else { throw fail(key, "expected an integer, found \(v.summary)") }
            guard range.contains(i) else { throw fail(key, "value \(i) outside \(range.lowerBound)...\(range.upperBound)") }
            return i
        }
        func float(_ key: String, default def: Float?) throws(ModelError) -> Float {
            guard let v = file.metadata[key] else {
                if let def { return def }
                throw fail(key, "missing")
            }
            guard let d = v.doubleValue, Float(d).isFinite else { throw fail(key, "expected a finite binary32 number, found \(v.summary)") }
            return Float(d)
        }
        dim = try int("llama.embedding_length", range: 1...65536)
        layers = try int("llama.block_count", range: 1...1024)
        heads = try int("llama.attention.head_count", range: 1...1024)
        kvHeads = try int("llama.attention.head_count_kv", default: heads, range: 1...1024)
        guard heads % kvHeads == 0 else { throw fail("llama.attention.head_count_kv", "\(kvHeads) does not divide head_count \(heads)") }
        if file.metadata["llama.attention.key_length"] == nil && dim % heads != 0 {
            throw fail("llama.attention.head_count", "\(heads) does not divide embedding_length \(dim) and key_length is absent")
        }
        headDim = try int("llama.attention.key_length", default: dim / heads, range: 1...4096)
        let valueLength = try int("llama.attention.value_length", default: headDim, range: 1...4096)
        guard valueLength == headDim else {
            throw fail("llama.attention.value_length", "\(valueLength) differs from key_length \(headDim) (unsupported)")
        }
        ffnDim = try int("llama.feed_forward_length", range: 1...1_048_576)
        rmsEpsilon = try float("llama.attention.layer_norm_rms_epsilon", default: nil)
        guard rmsEpsilon > 0 else { throw fail("llama.attention.layer_norm_rms_epsilon", "must be positive, found \(rmsEpsilon)") }
        ropeBase = try float("llama.rope.freq_base", default: 10000)
        guard ropeBase > 1 else { throw fail("llama.rope.freq_base", "must exceed 1, found \(ropeBase)") }
        ropeDimensions = try int("llama.rope.dimension_count", default: headDim, range: 2...4096)
        guard ropeDimensions % 2 == 0 && ropeDimensions <= headDim else {
            throw fail("llama.rope.dimension_count", "\(ropeDimensions) must be even and at most the head dimension \(headDim)")
        }
        if let v = file.metadata["llama.rope.scaling.type"] {
            guard let scaling = v.stringValue else { throw fail("llama.rope.scaling.type", "expected a string, found \(v.summary)") }
            guard scaling == "none" else { throw fail("llama.rope.scaling.type", "\(GGUFValue.quoted(scaling)) is not supported (only \"none\")") }
        }
        contextLength = try int("llama.context_length", default: 2048, range: 1...RopeAngles.maxPosition + 1)
        guard let embd = file.tensor(named: "token_embd.weight") else {
            throw ModelError(path: path, "tensor 'token_embd.weight' is missing")
        }
        guard embd.dimensions.count == 2, embd.dimensions[0] == dim else {
            throw ModelError(path: path, "tensor 'token_embd.weight': shape \(embd.dimensions), expected [\(dim), vocab]")
        }
        vocabularySize = embd.dimensions[1]
    }
}
