import LockstepCore
import LockstepModel
import LockstepNative
import LockstepTokenizer

/// How a traced request runs.
public struct TraceOptions: Sendable {
    /// Store every step's state in the trace file (`--trace-activations`), so that any step can
    /// be opened without recomputation.
    public var storeStates: Bool
    /// Evaluate the prompt in chunks of this many tokens (nil: all at once). Changes no bit of
    /// the trace (§7.2); exposed for memory limits and for the batch-invariance tests.
    public var prefillChunk: Int?

    public init(storeStates: Bool = false, prefillChunk: Int? = nil) {
        self.storeStates = storeStates
        self.prefillChunk = prefillChunk
    }
}

/// The result of a traced request.
public struct TracedResult: Sendable {
    /// The generated tokens.
    public let tokens: [TokenID]
    /// The signed commitment.
    public let signed: SignedCommitment
    /// Every leaf, in order.
    public let leaves: [TraceLeaf]
    /// The Merkle tree over the leaves (inclusion proofs).
    public let tree: MerkleTree
    /// Wall-clock seconds the tracing work took (step hashing, chain, tree, file, signature),
    /// included in the generation's time.
    public let traceSeconds: Double

    public var commitment: Commitment { signed.commitment }
}

/// Runs a generation request with the trace recorder attached to the forward pass (§7).
public enum TracedGeneration {
    /// Generates up to `maxTokens` tokens after `prompt` exactly as `InferenceSession.generate`
    /// does (SPEC §4.4), recording every step; writes the trace file when `tracePath` is given;
    /// signs the commitment with `key`.
    /// - Parameters:
    ///   - modelDigest: `model.digest()` if already known (it costs one pass over the weights).
    ///   - onToken: called with each token as soon as it is chosen; return false to stop.
    /// - Throws: `TraceError.generation` for a request the engine refuses (the partial trace file
    ///   is removed), `TraceError.io` when the trace cannot be written.
    public static func run(model: LlamaModel, backend: any Backend, prompt: [TokenID], maxTokens: Int,
                           sampler: SamplerSettings, key: Ed25519PrivateKey, modelDigest: Digest? = nil,
                           tracePath: String? = nil, options: TraceOptions = TraceOptions(),
                           onToken: (TokenID) -> Bool = { _ in true }) throws(TraceError) -> TracedResult {
        guard !prompt.isEmpty else { throw .generation("the prompt is empty") }
        guard maxTokens >= 0 else { throw .generation("max tokens must be ≥ 0, got \(maxTokens)") }
        if let chunk = options.prefillChunk, chunk < 1 { throw .generation("the prefill chunk must be ≥ 1, got \(chunk)") }
        let setupStarted = monotonicSeconds()
        let header = try makeHeader(model: model, modelDigest: modelDigest, prompt: prompt, sampler: sampler,
                                    maxTokens: maxTokens, storeStates: options.storeStates)
        let writer = try tracePath.map { (path) throws(TraceError) in try TraceWriter(path: path, header: header) }
        let recorder = TraceRecorder(header: header, writer: writer)
        recorder.secondsSpent += monotonicSeconds() - setupStarted
        do {
            let tokens = try generate(model: model, backend: backend, recorder: recorder, prompt: prompt, maxTokens: maxTokens,
                                      sampler: sampler, prefillChunk: options.prefillChunk, onToken: onToken)
            let signed = try recorder.finish(outputTokens: tokens, key: key)
            let treeStarted = monotonicSeconds()
            let tree = recorder.tree()
            recorder.secondsSpent += monotonicSeconds() - treeStarted
            return TracedResult(tokens: tokens, signed: signed, leaves: recorder.leaves, tree: tree, traceSeconds: recorder.secondsSpent)
        } catch {
            writer?.abandon()
            throw error
        }
    }

    /// Teacher-forced replay (DESIGN §4): re-runs a request whose output is claimed to be
    /// `outputTokens` as few batched forward passes (the prompt up to its last token, then the
    /// last prompt token and the output in one pass with every row's logits), sampling each row
    /// with the request's sampler. Thanks to the exact products, an honest claim gives the very
    /// leaves, root and chain of the original generation; the returned commitment (unsigned) uses
    /// the tokens the replay sampled.
    public static func replay(model: LlamaModel, backend: any Backend, request: TraceRequest, outputTokens: [TokenID],
                              storeStates: Bool = false, writer: TraceWriter? = nil) throws(TraceError) -> (commitment: Commitment, leaves: [TraceLeaf], tree: MerkleTree) {
        guard let sampler = request.sampler else { throw .generation("the request's temperature is not a finite number ≥ 0") }
        guard outputTokens.count <= Int(request.maxTokens) else { throw .generation("\(outputTokens.count) output tokens exceed max tokens \(request.maxTokens)") }
        guard request.shape == (try? ModelShape(model)) else { throw .generation("the request's model shape is not the model's") }
        let header = TraceHeader(request: request, storesStates: storeStates)
        let recorder = TraceRecorder(header: header, writer: writer)
        let prompt = request.promptTokens, np = prompt.count, ng = outputTokens.count
        var sampled: [TokenID] = []
        if ng > 0 {
            let session = InferenceSession(model: model, backend: backend)
            do {
                if np > 1 {
                    let capture = recorder.capture(start: 0, rows: np - 1)
                    _ = try session.evaluate(Array(prompt[..<(np - 1)]), logits: .none, observer: capture.observer)
                    try capture.emitAll()
                }
                let fed = [prompt[np - 1]] + outputTokens.dropLast()
                let capture = recorder.capture(start: np - 1, rows: fed.count)
                let logits = try session.evaluate(fed, logits: .all, observer: capture.observer)
                let v = model.config.vocabularySize
                try logits.withUnsafeBufferPointer { (all) throws(TraceError) in
                    for r in 0 ..< fed.count {
                        try capture.emitRow(r)
                        let row = UnsafeBufferPointer(rebasing: all[r * v ..< (r + 1) * v])
                        let token = Sampler.sample(row, settings: sampler, index: r)
                        try recorder.recordSample(position: np - 1 + r, logits: row, token: token)
                        sampled.append(token)
                    }
                }
            } catch let e as TraceError {
                throw e
            } catch {
                throw .generation("\(error)")
            }
        }
        return (try recorder.commitment(outputTokens: sampled), recorder.leaves, recorder.tree())
    }

    static func makeHeader(model: LlamaModel, modelDigest: Digest?, prompt: [TokenID], sampler: SamplerSettings,
                           maxTokens: Int, storeStates: Bool) throws(TraceError) -> TraceHeader {
        let request: TraceRequest
        do {
            request = try TraceRequest(modelDigest: modelDigest ?? model.digest(), shape: ModelShape(model), promptTokens: prompt,
                                       sampler: sampler, maxTokens: maxTokens)
        } catch { throw .generation(error.description) }
        return TraceHeader(request: request, storesStates: storeStates)
    }

    /// The generation loop of SPEC §4.4 with every forward pass captured.
    static func generate(model: LlamaModel, backend: any Backend, recorder: TraceRecorder, prompt: [TokenID], maxTokens: Int,
                         sampler: SamplerSettings, prefillChunk: Int?, onToken: (TokenID) -> Bool) throws(TraceError) -> [TokenID] {
        guard maxTokens > 0 else { return [] }
        let session = InferenceSession(model: model, backend: backend)
        let np = prompt.count
        let chunk = prefillChunk ?? np
        var out: [TokenID] = []
        do {
            var logits: [Float] = []
            var i = 0
            while i < np {
                let end = min(i + chunk, np)
                let capture = recorder.capture(start: i, rows: end - i)
                logits = try session.evaluate(Array(prompt[i ..< end]), logits: end == np ? .last : .none, observer: capture.observer)
                try capture.emitAll()
                i = end
            }
            while true {
                let next = logits.withUnsafeBufferPointer { Sampler.sample($0, settings: sampler, index: out.count) }
                try logits.withUnsafeBufferPointer { (row) throws(TraceError) in
                    try recorder.recordSample(position: np - 1 + out.count, logits: row, token: next)
                }
                try recorder.flush()
                out.append(next)
                if !onToken(next) || out.count >= maxTokens || model.tokenizer.isEndOfGeneration(next) { break }
                let capture = recorder.capture(start: np + out.count - 1, rows: 1)
                logits = try session.evaluate([next], observer: capture.observer)
                try capture.emitAll()
            }
        } catch let e as TraceError {
            throw e
        } catch {
            throw .generation("\(error)")
        }
        return out
    }
}
