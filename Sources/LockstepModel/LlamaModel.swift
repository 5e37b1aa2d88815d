import LockstepCore
import LockstepGGUF
import LockstepTokenizer

/// A loaded Llama-architecture model: configuration, weights (memory-mapped from the GGUF) and
/// tokenizer. Immutable and shareable; per-request state lives in `InferenceSession`.
public final class LlamaModel: Sendable {
    /// The GGUF file the weights are mapped from.
    public let file: GGUFFile
    /// Hyper-parameters.
    public let config: LlamaConfig
    /// Weights bound to the contract's formats.
    public let weights: LlamaWeights
    /// The model's tokenizer.
    public let tokenizer: Tokenizer
    /// RoPE inverse frequencies.
    public let ropeAngles: RopeAngles

    /// Opens and checks a GGUF model.
    /// - Throws: `ModelError` naming the file, field and value at fault.
    public convenience init(path: String) throws(ModelError) {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch { throw ModelError(error) }
        try self.init(file: file)
    }

    /// Binds an opened GGUF file.
    public init(file: GGUFFile) throws(ModelError) {
        self.file = file
        config = try LlamaConfig(file: file)
        weights = try LlamaWeights(file: file, config: config)
        // The token count is checked before the tokenizer's tables are built from the tokens.
        let vocabulary: TokenizerVocabulary
        do { vocabulary = try TokenizerVocabulary(metadata: file.metadata) } catch {
            throw ModelError(path: file.path, "tokenizer: \(error)")
        }
        guard vocabulary.tokens.count == config.vocabularySize else {
            throw ModelError(path: file.path, "tokenizer has \(vocabulary.tokens.count) tokens but token_embd.weight has \(config.vocabularySize) rows")
        }
        do { tokenizer = try Tokenizer(vocabulary: vocabulary) } catch {
            throw ModelError(path: file.path, "tokenizer: \(error)")
        }
        ropeAngles = RopeAngles(rotatedDimensions: config.ropeDimensions, base: config.ropeBase)
    }

    /// Which rows of logits a forward pass returns.
    public enum LogitRows: Sendable {
        /// Only the last token's logits (generation).
        case last
        /// Every token's logits (scoring, teacher-forced verification).
        case all
        /// No logits (prefill of a prompt prefix).
        case none
        /// The rows from this index of the call's tokens on (teacher-forced replay: every row from
        /// the last prompt token); none when the index is past the last token.
        case from(Int)
    }

    /// One forward pass over `tokens` at positions `start ..< start + tokens.count`, appending
    /// their keys and values to `cache` (which must hold exactly `start` positions).
    ///
    /// The same computation runs for one token or many: each token's result depends only on
    /// the tokens before it, and every product is exact, so prefill and decode give the same bits.
    /// - Throws: `GenerationError` when a residual value leaves the binary32 range (±∞ or NaN),
    ///   which the contract refuses rather than compute (the observer never sees such a state).
    /// - Parameters:
    ///   - observer: called after each step with (token index in `tokens`, layer or nil for the
    ///     embedding, the `[tokens.count × dim]` residual stream).
    /// - Returns: `rows × vocab` logits, row-major (rows per `logits`).
    public func forward(tokens: [TokenID], start: Int, cache: KVCache, backend: any Backend, logits: LogitRows = .last,
                        observer: ((_ layer: Int?, _ residual: UnsafeBufferPointer<Float>) -> Void)? = nil) throws(GenerationError) -> [Float] {
        let c = config, n = tokens.count
        precondition(n > 0 && cache.length(layer: 0) == start, "forward: cache holds \(cache.length(layer: 0)) positions, expected \(start)")
        let scratch = LayerScratch(config: c, rows: n)
        let x = FloatBuffer(count: n * c.dim)          // [n × dim] residual stream
        for (i, t) in tokens.enumerated() { weights.embedding.row(Int(t), into: x.mutable.baseAddress! + i * c.dim) }
        observer?(nil, x.readOnly)
        for l in 0 ..< weights.layers.count {
            applyLayer(l, to: x, rows: n, start: start, cache: cache, backend: backend, scratch: scratch)
            if let bad = x.readOnly.firstNonFiniteIndex() {
                // ±∞ or NaN in the residual stream: NaN payloads are not portable across
                // hardware, so the contract does not define such a computation (SPEC §5.2).
                throw GenerationError("position \(start + bad / c.dim), layer \(l): a residual value is \(x.mutable[bad]); "
                                      + "the computation left the binary32 range, which contract \(ContractVersion.current) does not define")
            }
            observer?(l, x.readOnly)
        }
        let h = scratch.h
        let first: Int
        switch logits {
        case .none: return []
        case .last: first = n - 1
        case .all: first = 0
        case let .from(k):
            precondition(k >= 0, "forward: logits from row \(k)")
            if k >= n { return [] }
            first = k
        }
        let rows = n - first
        let hq = headInput(x.readOnly(first * c.dim ..< n * c.dim), rows: rows, backend: backend, scratch: h)
        // [rows × vocab] logits, written by the product directly (no zero fill, no copy).
        return [Float](unsafeUninitializedCapacity: rows * c.vocabularySize) { out, count in
            backend.matmul(weights.output, hq, into: out)
            count = rows * c.vocabularySize
        }
    }

    /// The output head's input (§5.2 step 3): the final norm of `rows` residual rows
    /// (`[rows × dim]`), written to `scratch` (at least `rows × dim`), quantised.
    private func headInput(_ residual: UnsafeBufferPointer<Float>, rows: Int, backend: any Backend, scratch h: FloatBuffer) -> QuantizedActivations {
        let c = config
        precondition(residual.count == rows * c.dim && h.count >= rows * c.dim, "headInput: shapes")
        weights.outputNorm.withUnsafeBufferPointer { norm in
            backend.rmsNorm(residual, weight: norm, rows: rows, epsilon: c.rmsEpsilon, into: h.mutable)
        }
        return backend.quantize(h.readOnly(0 ..< rows * c.dim), rows: rows, columns: c.dim)
    }

    /// Scratch tensors of one transformer block over `rows` positions.
    public final class LayerScratch {
        let h, q, k, v, att, proj, gate, up: FloatBuffer
        /// Buffers for `rows` positions of `config`'s shape.
        public init(config c: LlamaConfig, rows n: Int) {
            let qWidth = c.heads * c.headDim, kvWidth = c.kvHeads * c.headDim
            h = FloatBuffer(count: n * c.dim); q = FloatBuffer(count: n * qWidth)
            k = FloatBuffer(count: n * kvWidth); v = FloatBuffer(count: n * kvWidth)
            att = FloatBuffer(count: n * qWidth); proj = FloatBuffer(count: n * c.dim)
            gate = FloatBuffer(count: n * c.ffnDim); up = FloatBuffer(count: n * c.ffnDim)
        }
    }

    /// Runs transformer block `l` in place on the `[rows × dim]` residual stream `x` of
    /// positions `start ..< start + rows`, appending their keys and values to layer `l` of
    /// `cache` (which must hold exactly `start` positions in that layer). `forward` is this
    /// block applied layer after layer; a verifier uses it to recompute one layer step (§8).
    public func applyLayer(_ l: Int, to x: FloatBuffer, rows n: Int, start: Int, cache: KVCache, backend: any Backend,
                           scratch: LayerScratch? = nil) {
        precondition(x.count >= n * config.dim && cache.length(layer: l) == start, "applyLayer: cache layer \(l) holds \(cache.length(layer: l)) positions, expected \(start)")
        block(l, x, positions: Array(start ..< start + n), cache: cache, appendingKeysValues: true, backend: backend,
              scratch: scratch ?? LayerScratch(config: config, rows: n))
    }

    /// Runs transformer block `l` in place on the `[positions.count × dim]` residual stream `x`,
    /// row `i` at position `positions[i]` (any positions, in any order), whose keys and values
    /// layer `l` of `cache` already holds (`fillCache` of every position up to the largest):
    /// the rows give the bits `applyLayer` gives them at those positions (every op is
    /// row-independent, attention row `i` sees positions `0...positions[i]`), but their keys and
    /// values are not appended again. A verifier recomputes several layer steps of one layer
    /// this way in one batch (§8.1), streaming the block's weights once.
    public func applyLayer(_ l: Int, to x: FloatBuffer, positions: [Int], cache: KVCache, backend: any Backend) {
        precondition(x.count >= positions.count * config.dim, "applyLayer: \(x.count) values for \(positions.count) rows of \(config.dim)")
        precondition(positions.allSatisfy { $0 >= 0 && $0 < cache.length(layer: l) },
                     "applyLayer: positions \(positions) outside the \(cache.length(layer: l)) of cache layer \(l)")
        block(l, x, positions: positions, cache: cache, appendingKeysValues: false, backend: backend,
              scratch: LayerScratch(config: config, rows: positions.count))
    }

    /// The block over rows at `positions`; their keys and values are appended first when
    /// `appendingKeysValues` (the cache then holds exactly `positions[0]` positions, consecutive rows).
    private func block(_ l: Int, _ x: FloatBuffer, positions: [Int], cache: KVCache, appendingKeysValues: Bool,
                       backend: any Backend, scratch s: LayerScratch) {
        let c = config, w = weights.layers[l], n = positions.count
        let h = s.h, q = s.q, k = s.k, v = s.v, att = s.att, proj = s.proj, gate = s.gate, up = s.up
        let qWidth = c.heads * c.headDim
        // Attention block.
        w.attentionNorm.withUnsafeBufferPointer { norm in
            backend.rmsNorm(x.readOnly, weight: norm, rows: n, epsilon: c.rmsEpsilon, into: h.mutable)
        }
        let hq = backend.quantize(h.readOnly, rows: n, columns: c.dim)
        if appendingKeysValues {
            // The query, key and value products share their input: one call.
            backend.matmul([w.query, w.key, w.value], hq, into: [q.mutable, k.mutable, v.mutable])
            appendKeysValues(layer: l, rows: n, positions: positions, keys: k, values: v, cache: cache, backend: backend)
        } else {
            backend.matmul(w.query, hq, into: q.mutable)
        }
        backend.rope(q.mutable, rows: n, heads: c.heads, headDim: c.headDim, positions: positions, angles: ropeAngles)
        backend.attention(queries: q.readOnly, rows: n, positions: positions, cache: cache, layer: l, into: att.mutable)
        backend.matmul(w.attentionOutput, backend.quantize(att.readOnly, rows: n, columns: qWidth), into: proj.mutable)
        backend.add(x.mutable, proj.readOnly)
        // Feed-forward block (SwiGLU).
        w.ffnNorm.withUnsafeBufferPointer { norm in
            backend.rmsNorm(x.readOnly, weight: norm, rows: n, epsilon: c.rmsEpsilon, into: h.mutable)
        }
        let fq = backend.quantize(h.readOnly, rows: n, columns: c.dim)
        backend.matmul([w.gate, w.up], fq, into: [gate.mutable, up.mutable])
        backend.siluMul(gate: gate.readOnly, up: up.readOnly, into: gate.mutable)
        backend.matmul(w.down, backend.quantize(gate.readOnly, rows: n, columns: c.ffnDim), into: proj.mutable)
        backend.add(x.mutable, proj.readOnly)
    }

    /// Appends to layer `l` of `cache` the keys and values of positions `start ..< start + rows`,
    /// computed from the block's input rows `x`: RMSNorm (`attn_norm`), activation quantisation,
    /// the key and value products and RoPE on the keys (§5.2 steps 2.1–2.5). These are exactly the
    /// entries `applyLayer` appends for those rows, without the query, attention and feed-forward
    /// work: about `2 · kvHeads · headDim / (2 · heads · headDim + 2 · kvHeads · headDim + 3 · ffnDim)`
    /// of the block's products per row (1/16 on SmolLM2-135M). A verifier rebuilds the cache of the
    /// rows before the one it recomputes (§8.1).
    /// - Parameters:
    ///   - x: the residual stream before block `l`, `[rows × dim]` binary32, row-major.
    ///   - rows: positions to append (≥ 1).
    ///   - start: the first position; layer `l` of `cache` must hold exactly `start` positions.
    public func fillCache(layer l: Int, from x: UnsafeBufferPointer<Float>, rows n: Int, start: Int, cache: KVCache, backend: any Backend) {
        let c = config, w = weights.layers[l], kvWidth = c.kvHeads * c.headDim
        precondition(n >= 1 && x.count == n * c.dim, "fillCache: \(x.count) values for \(n) rows of \(c.dim)")
        precondition(cache.length(layer: l) == start, "fillCache: cache layer \(l) holds \(cache.length(layer: l)) positions, expected \(start)")
        let h = FloatBuffer(count: n * c.dim), k = FloatBuffer(count: n * kvWidth), v = FloatBuffer(count: n * kvWidth)
        w.attentionNorm.withUnsafeBufferPointer { norm in
            backend.rmsNorm(x, weight: norm, rows: n, epsilon: c.rmsEpsilon, into: h.mutable)
        }
        backend.matmul([w.key, w.value], backend.quantize(h.readOnly, rows: n, columns: c.dim), into: [k.mutable, v.mutable])
        appendKeysValues(layer: l, rows: n, positions: Array(start ..< start + n), keys: k, values: v, cache: cache, backend: backend)
    }

    /// RoPE on the keys and the append of keys and values to layer `l` of `cache` (quantised by
    /// the backend, §5.2 step 2.5): the one code path `applyLayer` and `fillCache` share.
    /// `keys` and `values` hold the key and value products of the `rows` rows (at least
    /// `rows × kvHeads · headDim` floats each); the keys are rotated in place.
    private func appendKeysValues(layer l: Int, rows n: Int, positions: [Int], keys k: FloatBuffer, values v: FloatBuffer,
                                  cache: KVCache, backend: any Backend) {
        let c = config
        backend.rope(k.mutable, rows: n, heads: c.kvHeads, headDim: c.headDim, positions: positions, angles: ropeAngles)
        let heads = n * c.kvHeads, kvWidth = c.kvHeads * c.headDim
        cache.append(layer: l, keys: backend.quantize(k.readOnly(0 ..< n * kvWidth), rows: heads, columns: c.headDim),
                     values: backend.quantize(v.readOnly(0 ..< n * kvWidth), rows: heads, columns: c.headDim))
    }

    /// The output head (final norm and output product) of one residual row: the `vocab` logits
    /// that the sample step of its position hashes (§5.2 step 3).
    public func logits(residual row: UnsafeBufferPointer<Float>, backend: any Backend) -> [Float] {
        let c = config
        precondition(row.count == c.dim)
        let hq = headInput(row, rows: 1, backend: backend, scratch: FloatBuffer(count: c.dim))
        let out = FloatBuffer(count: c.vocabularySize)
        backend.matmul(weights.output, hq, into: out.mutable)
        return out.array
    }

    /// Vocabulary entries per slice of `logitSlices`: 4,096 (for SmolLM2-135M, 1.5 MB of the
    /// output matrix and 2.1 MB of logits for 129 rows, where the whole head's logits would be
    /// 25 MB of memory never touched before).
    public static let headSliceWidth = 4096

    /// The output head of `rows` residual rows (`[rows × dim]`), a vocabulary slice at a time:
    /// calls `body` with each slice `v0 ..< v1` of `0 ..< vocab`, in order, and the
    /// `[rows × (v1 − v0)]` logits of those entries (row-major; the buffer is reused, valid only
    /// during the call). The logits are bit for bit those of `forward` (each output is one exact
    /// dot product, whatever the rows computed with it, SPEC §5.3).
    /// - Parameter width: entries per slice, ≥ 1 (the last slice may be narrower).
    public func logitSlices(residual: UnsafeBufferPointer<Float>, rows: Int, backend: any Backend, width: Int = headSliceWidth,
                            _ body: (_ vocab: Range<Int>, _ logits: UnsafeBufferPointer<Float>) throws -> Void) rethrows {
        let c = config
        precondition(width >= 1 && rows >= 0 && residual.count == rows * c.dim, "logitSlices: shapes")
        guard rows > 0 else { return }
        let hq = headInput(residual, rows: rows, backend: backend, scratch: FloatBuffer(count: rows * c.dim))
        let out = FloatBuffer(count: rows * min(width, c.vocabularySize))   // [rows × slice width]
        for v0 in stride(from: 0, to: c.vocabularySize, by: width) {
            let v1 = min(v0 + width, c.vocabularySize)
            let y = UnsafeMutableBufferPointer(rebasing: out.mutable[0 ..< rows * (v1 - v0)])
            backend.matmul(weights.output.rows(v0 ..< v1), hq, into: y)
            try body(v0 ..< v1, UnsafeBufferPointer(y))
        }
    }
}
