import Foundation
import LockstepCore
import LockstepModel
import LockstepNative
import LockstepTokenizer

/// Why a commitment is malformed or its signature is rejected.
public enum CommitmentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A field has a value the format does not allow (names the field).
    case invalidField(String, String)
    /// The canonical encoding cannot be decoded.
    case malformedEncoding(String)
    /// The JSON form cannot be decoded.
    case malformedJSON(String)
    /// The signature does not verify under the public key.
    case badSignature
    /// The commitment carries a different public key than the one it was checked against.
    case publicKeyMismatch(expected: String, found: String)

    public var description: String {
        switch self {
        case let .invalidField(field, why): return "commitment field \(field): \(why)"
        case let .malformedEncoding(why): return "malformed commitment encoding: \(why)"
        case let .malformedJSON(why): return "malformed commitment JSON: \(why)"
        case .badSignature: return "the commitment's signature does not verify"
        case let .publicKeyMismatch(expected, found): return "the commitment is signed by \(found), expected \(expected)"
        }
    }
}

/// Limits every decoder enforces (§7.5).
public enum TraceLimits {
    /// Longest contract version string, in UTF-8 bytes.
    public static let contractVersionBytes = 64
    /// Most prompt tokens and most output tokens in one request.
    public static let tokens = 1 << 24
}

/// The model shape a trace needs to be read without the model: the residual width, the
/// vocabulary size and the number of layers (all covered by the model digest too, but stated in
/// the request so that a trace's layout and step order are signed).
public struct ModelShape: Hashable, Sendable {
    /// Limits (inclusive).
    public static let maxDim = 1 << 16, maxVocabulary = 1 << 24, maxLayers = 1024

    /// Residual width (`LlamaConfig.dim`).
    public let dim: Int
    /// Vocabulary size (logits per sample step).
    public let vocabularySize: Int
    /// Transformer blocks.
    public let layers: Int

    /// - Throws: `CommitmentError.invalidField` for a value outside 1 … its limit.
    public init(dim: Int, vocabularySize: Int, layers: Int) throws(CommitmentError) {
        guard (1 ... ModelShape.maxDim).contains(dim) else { throw .invalidField("dim", "\(dim) is outside 1 … \(ModelShape.maxDim)") }
        guard (1 ... ModelShape.maxVocabulary).contains(vocabularySize) else {
            throw .invalidField("vocab_size", "\(vocabularySize) is outside 1 … \(ModelShape.maxVocabulary)")
        }
        guard (1 ... ModelShape.maxLayers).contains(layers) else { throw .invalidField("layers", "\(layers) is outside 1 … \(ModelShape.maxLayers)") }
        self.dim = dim; self.vocabularySize = vocabularySize; self.layers = layers
    }

    /// The shape of `model`.
    public init(_ model: LlamaModel) throws(CommitmentError) {
        try self.init(dim: model.config.dim, vocabularySize: model.config.vocabularySize, layers: model.config.layers)
    }
}

/// A generation request as committed (§7.5): the contract version, the model, the prompt, the
/// sampler settings and the token budget. Its canonical encoding starts every trace and every
/// commitment, and its digest starts the hash chain.
public struct TraceRequest: Hashable, Sendable {
    /// The arithmetic contract version (`ContractVersion.current`).
    public let contractVersion: String
    /// `LlamaModel.digest()` of the model.
    public let modelDigest: Digest
    /// The model's shape.
    public let shape: ModelShape
    /// The prompt token ids (at least one).
    public let promptTokens: [TokenID]
    /// The sampler temperature, kept as its bit pattern (any pattern round-trips; only finite
    /// values ≥ 0 can be run).
    public let temperatureBits: UInt32
    /// The sampler seed.
    public let seed: UInt64
    /// The maximum number of tokens to generate.
    public let maxTokens: UInt32

    /// - Throws: `CommitmentError.invalidField` for an empty or oversized prompt, a negative
    ///   token id, a contract version that is empty or longer than 64 bytes, or `maxTokens`
    ///   outside `0 … 2^32−1`.
    public init(contractVersion: String = ContractVersion.current, modelDigest: Digest, shape: ModelShape, promptTokens: [TokenID],
                temperatureBits: UInt32, seed: UInt64, maxTokens: Int) throws(CommitmentError) {
        let versionBytes = contractVersion.utf8.count
        guard versionBytes >= 1 && versionBytes <= TraceLimits.contractVersionBytes else {
            throw .invalidField("contract_version", "must be 1 … \(TraceLimits.contractVersionBytes) bytes, got \(versionBytes)")
        }
        guard !promptTokens.isEmpty && promptTokens.count <= TraceLimits.tokens else {
            throw .invalidField("prompt_tokens", "must hold 1 … \(TraceLimits.tokens) tokens, got \(promptTokens.count)")
        }
        if let bad = promptTokens.first(where: { $0 < 0 }) { throw .invalidField("prompt_tokens", "negative token id \(bad)") }
        guard maxTokens >= 0 && maxTokens <= Int(UInt32.max) else {
            throw .invalidField("max_tokens", "must be 0 … \(UInt32.max), got \(maxTokens)")
        }
        self.contractVersion = contractVersion
        self.modelDigest = modelDigest
        self.shape = shape
        self.promptTokens = promptTokens
        self.temperatureBits = temperatureBits
        self.seed = seed
        self.maxTokens = UInt32(maxTokens)
    }

    /// A request for `sampler` settings.
    public init(contractVersion: String = ContractVersion.current, modelDigest: Digest, shape: ModelShape, promptTokens: [TokenID],
                sampler: SamplerSettings, maxTokens: Int) throws(CommitmentError) {
        try self.init(contractVersion: contractVersion, modelDigest: modelDigest, shape: shape, promptTokens: promptTokens,
                      temperatureBits: sampler.temperature.bitPattern, seed: sampler.seed, maxTokens: maxTokens)
    }

    /// The temperature as a number.
    public var temperature: Float { Float(bitPattern: temperatureBits) }

    /// The sampler settings, or nil when the temperature is not a finite number ≥ 0.
    public var sampler: SamplerSettings? {
        let t = temperature
        guard t.isFinite && t >= 0 else { return nil }
        return SamplerSettings(temperature: t, seed: seed)
    }

    /// The canonical encoding R (§7.5):
    /// `u32 len ‖ contract version (UTF-8) ‖ model digest (32) ‖ u32 dim ‖ u32 vocab ‖ u32 layers ‖
    /// u32 n_p ‖ n_p × u32 token ‖ u32 temperature bits ‖ u64 seed ‖ u32 max tokens`.
    public var encoding: [UInt8] {
        var w = ByteWriter(capacity: 64 + contractVersion.utf8.count + 4 * promptTokens.count)
        encode(into: &w)
        return w.bytes
    }

    func encode(into w: inout ByteWriter) {
        let v = Array(contractVersion.utf8)
        w.u32(UInt32(v.count)); w.raw(v)
        w.digest(modelDigest)
        w.u32(UInt32(shape.dim)); w.u32(UInt32(shape.vocabularySize)); w.u32(UInt32(shape.layers))
        w.u32(UInt32(promptTokens.count))
        for t in promptTokens { w.u32(UInt32(bitPattern: t)) }
        w.u32(temperatureBits)
        w.u64(seed)
        w.u32(maxTokens)
    }

    static func decode(_ r: inout ByteReader) throws(CommitmentError) -> TraceRequest {
        try decodingEncoding { () throws -> TraceRequest in
            let vlen = Int(try r.u32("contract version length"))
            guard vlen >= 1 && vlen <= TraceLimits.contractVersionBytes else {
                throw CommitmentError.invalidField("contract_version", "length \(vlen) is not 1 … \(TraceLimits.contractVersionBytes)")
            }
            guard let version = String(validating: try r.take(vlen, "contract version"), as: UTF8.self) else {
                throw CommitmentError.invalidField("contract_version", "not valid UTF-8")
            }
            let model = try r.digest("model digest")
            let dim = try r.u32("dim"), vocab = try r.u32("vocab size"), layers = try r.u32("layers")
            let shape = try ModelShape(dim: Int(dim), vocabularySize: Int(vocab), layers: Int(layers))
            let prompt = try decodeTokens(&r, "prompt_tokens", allowEmpty: false)
            let temperature = try r.u32("temperature")
            let seed = try r.u64("seed")
            let maxTokens = try r.u32("max tokens")
            return try TraceRequest(contractVersion: version, modelDigest: model, shape: shape, promptTokens: prompt,
                                    temperatureBits: temperature, seed: seed, maxTokens: Int(maxTokens))
        }
    }

    /// `SHA-256("lockstep.request.v1" 0x00 ‖ R)`.
    public var digest: Digest {
        let h = SHA256Hasher()
        h.update(DomainTag.request)
        h.update(encoding)
        return h.finalize()
    }

    /// The hash chain's starting value c₀.
    public var chainStart: Digest { TraceChain.start(requestDigest: digest) }
}

/// Runs a decoder of the canonical encodings: a `CommitmentError` it throws passes through, a
/// `DecodeFailure` (or any other error) becomes `.malformedEncoding`.
func decodingEncoding<T>(_ body: () throws -> T) throws(CommitmentError) -> T {
    do {
        return try body()
    } catch let e as DecodeFailure {
        throw .malformedEncoding(e.message)
    } catch let e as CommitmentError {
        throw e
    } catch {
        throw .malformedEncoding("\(error)")
    }
}

/// Reads `u32 count ‖ count × u32 token`, bounding the count by the bytes left.
func decodeTokens(_ r: inout ByteReader, _ field: String, allowEmpty: Bool) throws -> [TokenID] {
    let count = Int(try r.u32("\(field) count"))
    guard count <= TraceLimits.tokens else { throw CommitmentError.invalidField(field, "\(count) tokens exceed the limit \(TraceLimits.tokens)") }
    guard allowEmpty || count > 0 else { throw CommitmentError.invalidField(field, "must not be empty") }
    guard count * 4 <= r.remaining else { throw DecodeFailure("\(field): \(count) tokens need \(count * 4) bytes, only \(r.remaining) left") }
    var tokens: [TokenID] = []
    tokens.reserveCapacity(count)
    for _ in 0 ..< count {
        let t = try r.u32(field)
        guard t <= UInt32(Int32.max) else { throw CommitmentError.invalidField(field, "token id \(t) is above 2^31 − 1") }
        tokens.append(TokenID(t))
    }
    return tokens
}

/// What a node commits to for one request (§7.6): the request, the output tokens, the number of
/// trace leaves, the Merkle root over them and the final chain value.
public struct Commitment: Hashable, Sendable {
    public let request: TraceRequest
    /// The generated token ids.
    public let outputTokens: [TokenID]
    /// Number of leaves (steps) in the trace.
    public let leafCount: UInt64
    /// Merkle root over the leaves.
    public let root: Digest
    /// The chain value after the last step (c₀ when there are no steps).
    public let finalChain: Digest

    /// - Throws: `CommitmentError.invalidField` for more than 2^24 or negative output tokens, or a
    ///   leaf count above 2^63 − 1.
    public init(request: TraceRequest, outputTokens: [TokenID], leafCount: UInt64, root: Digest, finalChain: Digest) throws(CommitmentError) {
        guard outputTokens.count <= TraceLimits.tokens else { throw .invalidField("output_tokens", "more than \(TraceLimits.tokens) tokens") }
        if let bad = outputTokens.first(where: { $0 < 0 }) { throw .invalidField("output_tokens", "negative token id \(bad)") }
        guard leafCount <= UInt64(Int64.max) else { throw .invalidField("leaf_count", "\(leafCount) is above 2^63 − 1") }
        self.request = request; self.outputTokens = outputTokens; self.leafCount = leafCount
        self.root = root; self.finalChain = finalChain
    }

    public var contractVersion: String { request.contractVersion }
    public var modelDigest: Digest { request.modelDigest }

    /// The canonical encoding, which is the signed message (§7.6):
    /// `"lockstep.commitment.v1" 0x00 ‖ R ‖ u32 n_g ‖ n_g × u32 token ‖ u64 leaf count ‖ root (32) ‖ final chain (32)`.
    public var encoding: [UInt8] {
        var w = ByteWriter(capacity: 200 + 4 * (request.promptTokens.count + outputTokens.count))
        w.raw(DomainTag.commitment)
        request.encode(into: &w)
        w.u32(UInt32(outputTokens.count))
        for t in outputTokens { w.u32(UInt32(bitPattern: t)) }
        w.u64(leafCount)
        w.digest(root)
        w.digest(finalChain)
        return w.bytes
    }

    /// Decodes the canonical encoding (exactly; trailing bytes are an error).
    public init(encoding bytes: [UInt8]) throws(CommitmentError) {
        var r = ByteReader(bytes)
        self = try decodingEncoding { () throws -> Commitment in
            let tag = try r.take(DomainTag.commitment.count, "tag")
            guard tag.elementsEqual(DomainTag.commitment) else { throw DecodeFailure("does not start with the tag \"lockstep.commitment.v1\"") }
            let request = try TraceRequest.decode(&r)
            let output = try decodeTokens(&r, "output_tokens", allowEmpty: true)
            let leafCount = try r.u64("leaf count")
            let root = try r.digest("root")
            let chain = try r.digest("final chain")
            guard r.atEnd else { throw DecodeFailure("\(r.remaining) trailing bytes") }
            return try Commitment(request: request, outputTokens: output, leafCount: leafCount, root: root, finalChain: chain)
        }
    }

    /// Signs the canonical encoding with `key`.
    public func signed(with key: Ed25519PrivateKey) throws(CommitmentError) -> SignedCommitment {
        let signature: [UInt8]
        do { signature = try key.signature(for: encoding) } catch { throw .invalidField("signature", "signing failed: \(error)") }
        return SignedCommitment(commitment: self, signature: signature, publicKey: key.publicKey)
    }

    /// Checks an Ed25519 signature of the canonical encoding under `publicKey`.
    /// - Throws: `CommitmentError.badSignature`.
    public func verifySignature(_ signature: [UInt8], publicKey: Ed25519PublicKey) throws(CommitmentError) {
        guard publicKey.isValidSignature(signature, for: encoding) else { throw .badSignature }
    }
}

/// A commitment with its Ed25519 signature and the signer's public key.
public struct SignedCommitment: Hashable, Sendable {
    public let commitment: Commitment
    /// The 64-byte Ed25519 signature of `commitment.encoding`.
    public let signature: [UInt8]
    /// The signer.
    public let publicKey: Ed25519PublicKey

    public init(commitment: Commitment, signature: [UInt8], publicKey: Ed25519PublicKey) {
        self.commitment = commitment; self.signature = signature; self.publicKey = publicKey
    }

    /// Checks the signature under the embedded public key. Use `verifySignature(publicKey:)` to
    /// also require a particular signer.
    public func verifySignature() throws(CommitmentError) {
        try commitment.verifySignature(signature, publicKey: publicKey)
    }

    /// Checks that `publicKey` signed this commitment.
    /// - Throws: `.publicKeyMismatch` when the commitment names another key, `.badSignature`.
    public func verifySignature(publicKey expected: Ed25519PublicKey) throws(CommitmentError) {
        guard expected == publicKey else { throw .publicKeyMismatch(expected: expected.hex, found: publicKey.hex) }
        try commitment.verifySignature(signature, publicKey: expected)
    }
}

// MARK: - JSON form

/// The JSON shape of a (signed) commitment (§7.6).
private struct CommitmentJSON: Codable {
    var contract_version: String
    var model_digest: String
    var dim: Int
    var vocab_size: Int
    var layers: Int
    var prompt_tokens: [Int64]
    var temperature: Double?
    var temperature_bits: UInt32
    var seed: String
    var max_tokens: UInt32
    var output_tokens: [Int64]
    var leaf_count: UInt64
    var root: String
    var final_chain: String
    var signature: String?
    var public_key: String?
}

extension Commitment {
    /// The JSON form's keys (§7.6); `temperature` is optional when decoding.
    public static let jsonKeys = ["contract_version", "model_digest", "dim", "vocab_size", "layers", "prompt_tokens", "temperature",
                                  "temperature_bits", "seed", "max_tokens", "output_tokens", "leaf_count", "root", "final_chain"]

    /// The JSON object (as `JSONSerialization` values): digests as hex, `seed` as a decimal
    /// string (exact beyond 2^53), `temperature_bits` as the integer bit pattern and
    /// `temperature` as a number for people (binary32 → binary64 is exact; left out when not finite).
    public var jsonObject: [String: Any] {
        var o: [String: Any] = [
            "contract_version": request.contractVersion,
            "model_digest": request.modelDigest.hex,
            "dim": request.shape.dim,
            "vocab_size": request.shape.vocabularySize,
            "layers": request.shape.layers,
            "prompt_tokens": request.promptTokens.map(Int.init),
            "temperature_bits": Int(request.temperatureBits),
            "seed": String(request.seed),
            "max_tokens": Int(request.maxTokens),
            "output_tokens": outputTokens.map(Int.init),
            "leaf_count": Int(leafCount),
            "root": root.hex,
            "final_chain": finalChain.hex,
        ]
        // JSON has no NaN or infinity: such a (never runnable) temperature is given by its bits only.
        if request.temperature.isFinite { o["temperature"] = Double(request.temperature) }
        return o
    }

    /// Decodes the JSON object form. `temperature_bits` is authoritative; `temperature`, when
    /// present, must be the same binary32 value.
    public init(jsonObject o: [String: Any]) throws(CommitmentError) {
        try self.init(decoded: try decodeJSON(o))
    }

    fileprivate init(decoded j: CommitmentJSON) throws(CommitmentError) {
        func digest(_ key: String, _ hex: String) throws(CommitmentError) -> Digest {
            guard let d = Digest(hex: hex) else { throw .malformedJSON("\"\(key)\" is not 64 hex digits") }
            return d
        }
        func tokens(_ key: String, _ list: [Int64]) throws(CommitmentError) -> [TokenID] {
            guard list.count <= TraceLimits.tokens else { throw .malformedJSON("\"\(key)\" has more than \(TraceLimits.tokens) tokens") }
            guard let bad = list.first(where: { $0 < 0 || $0 > Int64(Int32.max) }) else { return list.map { TokenID($0) } }
            throw .malformedJSON("\"\(key)\" holds \(bad), which is not a token id")
        }
        if let t = j.temperature {
            guard Float(t).bitPattern == j.temperature_bits && Double(Float(t)) == t else {
                throw .malformedJSON("\"temperature\" \(t) does not match \"temperature_bits\" \(j.temperature_bits)")
            }
        }
        guard let seed = UInt64(j.seed) else { throw .malformedJSON("\"seed\" is not the decimal spelling of a u64") }
        let shape = try ModelShape(dim: j.dim, vocabularySize: j.vocab_size, layers: j.layers)
        let request = try TraceRequest(contractVersion: j.contract_version, modelDigest: try digest("model_digest", j.model_digest), shape: shape,
                                       promptTokens: try tokens("prompt_tokens", j.prompt_tokens), temperatureBits: j.temperature_bits,
                                       seed: seed, maxTokens: Int(j.max_tokens))
        try self.init(request: request, outputTokens: try tokens("output_tokens", j.output_tokens), leafCount: j.leaf_count,
                      root: try digest("root", j.root), finalChain: try digest("final_chain", j.final_chain))
    }
}

private func decodeJSON(_ o: [String: Any]) throws(CommitmentError) -> CommitmentJSON {
    do {
        let data = try JSONSerialization.data(withJSONObject: o)
        return try JSONDecoder().decode(CommitmentJSON.self, from: data)
    } catch {
        throw .malformedJSON("\(error)")
    }
}

extension SignedCommitment {
    /// The commitment's JSON object plus `signature` and `public_key` (hex).
    public var jsonObject: [String: Any] {
        var o = commitment.jsonObject
        o["signature"] = Hex.encode(signature)
        o["public_key"] = publicKey.hex
        return o
    }

    /// Decodes the JSON object form (does not check the signature).
    public init(jsonObject o: [String: Any]) throws(CommitmentError) {
        try self.init(decoded: try decodeJSON(o))
    }

    fileprivate init(decoded j: CommitmentJSON) throws(CommitmentError) {
        let commitment = try Commitment(decoded: j)
        guard let sigHex = j.signature, let sig = Hex.decode(sigHex) else { throw .malformedJSON("\"signature\" is missing or not hex") }
        guard let keyHex = j.public_key, let keyBytes = Hex.decode(keyHex) else { throw .malformedJSON("\"public_key\" is missing or not hex") }
        let key: Ed25519PublicKey
        do { key = try Ed25519PublicKey(rawRepresentation: keyBytes) } catch { throw .malformedJSON("\"public_key\": \(error)") }
        self.init(commitment: commitment, signature: sig, publicKey: key)
    }

    /// The JSON text (sorted keys, one line).
    public var json: String {
        let data = (try? JSONSerialization.data(withJSONObject: jsonObject, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses the JSON text (does not check the signature).
    public init(json: String) throws(CommitmentError) {
        let j: CommitmentJSON
        do { j = try JSONDecoder().decode(CommitmentJSON.self, from: Data(json.utf8)) } catch { throw .malformedJSON("\(error)") }
        try self.init(decoded: j)
    }
}

extension Commitment {
    /// Checks that `leaf` is leaf `leaf.index` of this commitment's trace: a tree of `leafCount`
    /// leaves with root `root` (the tree size comes from the commitment, never from the prover).
    /// Check the commitment's signature first.
    public func verifyInclusion(of leaf: TraceLeaf, path: [Digest]) throws(MerkleError) {
        try leaf.verifyInclusion(proof: InclusionProof(index: leaf.index, treeSize: leafCount, path: path), root: root)
    }
}
