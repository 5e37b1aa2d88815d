import LockstepCore
import LockstepModel
import LockstepNative
import LockstepTrace

/// Recomputes one step of a request from the states of the steps it reads (§8.1):
///
/// - `E(p)`: the embedding row of the token at `p` — a prompt token, or for `p ≥ n_p` the token
///   stored at the end of the state of `S(p − 1)` (its only input);
/// - `L(p, l)`: from the states of `L(q, l − 1)` (`E(q)` for `l = 0`), `q = 0 … p`: the rows
///   `q < p` only rebuild layer `l`'s key/value cache (`LlamaModel.fillCache`: norm, key and value
///   products, RoPE), row `p` runs the whole block (`LlamaModel.applyLayer` at position `p`) and is
///   the output. Cost: `p` rows of key/value products (1/16 of a block row each on SmolLM2-135M)
///   and one block row;
/// - `S(p)`: the output head and the sampler (counter `p − (n_p − 1)`) on the state of
///   `L(p, layers − 1)`.
public struct StepRecomputer {
    public let model: LlamaModel
    public let backend: any Backend
    public let request: TraceRequest
    public let schedule: StepSchedule

    public init(model: LlamaModel, backend: any Backend, request: TraceRequest) throws(VerifyError) {
        guard request.shape == (try? ModelShape(model)) else { throw VerifyError("the request's model shape is not the model's") }
        self.model = model; self.backend = backend; self.request = request
        schedule = StepSchedule(promptCount: request.promptTokens.count, layers: request.shape.layers)
    }

    /// The leaf indices whose states step `index` reads, in order (`StepSchedule.inputIndices`).
    public func inputIndices(of index: Int) -> [Int] { schedule.inputIndices(of: index) }

    /// The step digest of step `index` computed from `inputs` (the states of `inputIndices(of:)`,
    /// already checked against their leaves).
    /// - Throws: `VerifyError` when an input has the wrong size; returns a failing reason (as
    ///   `.failure`) when the inputs cannot be what an honest run read (a token outside the vocabulary).
    public func digest(of index: Int, inputs: [[UInt8]]) -> Result<Digest, VerifyError> {
        let step = schedule.step(at: index), p = Int(step.position), c = model.config
        let expected = inputIndices(of: index).count
        guard inputs.count == expected else { return .failure(VerifyError("step \(index) reads \(expected) states, \(inputs.count) given")) }
        let hasher = SHA256Hasher()
        switch step.kind {
        case .embedding:
            let token: Int
            if p < schedule.promptCount {
                token = Int(request.promptTokens[p])
            } else {
                let s = inputs[0]
                guard s.count == 4 * c.vocabularySize + 4 else { return .failure(VerifyError("sample state of the wrong size")) }
                token = Int(s.withUnsafeBytes { TraceHeader.sampledToken(state: $0) })
            }
            guard let d = embeddingDigest(position: p, token: token, hasher: hasher) else {
                return .failure(VerifyError("token \(token) at position \(p) is outside the vocabulary"))
            }
            return .success(d)
        case .layer:
            return layerDigests(layer: Int(step.layer), positions: [p], inputs: inputs).map { $0[0] }
        case .sample:
            guard inputs[0].count == 4 * c.dim, let sampler = request.sampler else { return .failure(VerifyError("bad sample-step input")) }
            let x = FloatBuffer(count: c.dim)
            copyFloats(inputs[0], into: x.mutable)
            let logits = model.logits(residual: x.readOnly, backend: backend)
            return .success(logits.withUnsafeBufferPointer { row in
                let token = Sampler.sample(row, settings: sampler, index: p - (schedule.promptCount - 1))
                return StepDigest.sample(step, logits: row, token: UInt32(bitPattern: token), hasher: hasher)
            })
        }
    }
}

extension StepRecomputer {
    /// The step digest of `E(p)` for `token`: the digest of its embedding row (`dim` floats), or
    /// nil for a token outside the vocabulary.
    public func embeddingDigest(position p: Int, token: Int, hasher: SHA256Hasher = SHA256Hasher()) -> Digest? {
        guard token >= 0 && token < model.config.vocabularySize else { return nil }
        let row = FloatBuffer(count: model.config.dim)   // [dim]: the token's embedding row
        model.weights.embedding.row(token, into: row.mutable.baseAddress!)
        return StepDigest.state(.embedding(p), row: row.readOnly, hasher: hasher)
    }

    /// The step digests of layer `l`'s steps at `positions` (ascending, distinct), computed from
    /// `inputs`: the states its inputs hold at positions 0 … `positions.last` (`E(q)` for l = 0,
    /// else `L(q, l − 1)`; `inputIndices(of:)` of the last step), already checked against their
    /// leaves. One key/value cache serves every position: it is filled from all the inputs in
    /// one batch (`LlamaModel.fillCache`), then the rows at `positions` run the rest of the block
    /// together (`LlamaModel.applyLayer(_:to:positions:cache:backend:)`), so the block's weights
    /// are streamed once. The same bits as one step at a time (every op is row-independent and
    /// the products do not depend on the batch), for the cache rows once instead of once per position.
    /// - Returns: a failing reason (`.failure`) for inputs of the wrong size or number.
    public func layerDigests(layer l: Int, positions: [Int], inputs: [[UInt8]]) -> Result<[Digest], VerifyError> {
        let c = model.config
        guard let last = positions.last, positions.first! >= 0, zip(positions, positions.dropFirst()).allSatisfy({ $0 < $1 }),
              l >= 0 && l < c.layers else {
            return .failure(VerifyError("layer \(l), positions \(positions): not ascending positions of a layer"))
        }
        guard inputs.count == last + 1 else { return .failure(VerifyError("layer \(l) at position \(last) reads \(last + 1) states, \(inputs.count) given")) }
        guard inputs.allSatisfy({ $0.count == 4 * c.dim }) else { return .failure(VerifyError("layer input state of the wrong size")) }
        let cache = KVCache(layers: c.layers, shape: c.attentionShape), hasher = SHA256Hasher()
        let all = FloatBuffer(count: (last + 1) * c.dim)   // [(last + 1) × dim]: every input row
        for (r, state) in inputs.enumerated() {
            copyFloats(state, into: UnsafeMutableBufferPointer(rebasing: all.mutable[r * c.dim ..< (r + 1) * c.dim]))
        }
        model.fillCache(layer: l, from: all.readOnly, rows: last + 1, start: 0, cache: cache, backend: backend)
        let x = FloatBuffer(count: positions.count * c.dim)   // [positions.count × dim]: the sampled rows
        for (i, p) in positions.enumerated() {
            x.mutable.baseAddress!.advanced(by: i * c.dim).update(from: all.readOnly.baseAddress!.advanced(by: p * c.dim), count: c.dim)
        }
        model.applyLayer(l, to: x, positions: positions, cache: cache, backend: backend)
        let digests = positions.indices.map { i in StepDigest.state(.layer(positions[i], l), row: x.readOnly(i * c.dim ..< (i + 1) * c.dim), hasher: hasher) }
        return .success(digests)
    }
}

/// Little-endian binary32 bytes → floats (a copy of the bytes on a little-endian host).
func copyFloats(_ bytes: [UInt8], into out: UnsafeMutableBufferPointer<Float>) {
    precondition(bytes.count == 4 * out.count)
    #if _endian(little)
    bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(out).copyMemory(from: $0) }
    #else
    for i in 0 ..< out.count {
        let b = 4 * i
        out[i] = Float(bitPattern: UInt32(bytes[b]) | UInt32(bytes[b + 1]) << 8 | UInt32(bytes[b + 2]) << 16 | UInt32(bytes[b + 3]) << 24)
    }
    #endif
}

extension StepSchedule {
    /// The leaf indices whose states step `index` reads, in order (§8.1): none for the embedding
    /// of a prompt token, the previous sample step for a generated token's embedding, `L(q, l − 1)`
    /// (`E(q)` for l = 0) at q = 0 … p for `L(p, l)`, and `L(p, layers − 1)` for `S(p)`.
    public func inputIndices(of index: Int) -> [Int] {
        let step = step(at: index), p = Int(step.position)
        switch step.kind {
        case .embedding: return p < promptCount ? [] : [firstIndex(ofPosition: p) - 1]
        case .layer: return (0 ... p).map { firstIndex(ofPosition: $0) + Int(step.layer) }
        case .sample: return [firstIndex(ofPosition: p) + layers]
        }
    }
}
