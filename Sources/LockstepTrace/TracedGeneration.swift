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

    /// A deliberate fault (a test facility for cheating nodes, §8.6); nil for an honest run.
    public var fault: FaultInjection?

    public init(storeStates: Bool = false, prefillChunk: Int? = nil, fault: FaultInjection? = nil) {
        self.storeStates = storeStates
        self.prefillChunk = prefillChunk
        self.fault = fault
    }
}

/// A simulated cheating node (`lockstep generate --inject-fault TOKEN:LAYER`): flips one bit of
/// one value of the output state of layer step `L(position, layer)` (or of the embedding step
/// `E(position)` when `layer` is nil) in the engine's residual stream, before the step is hashed,
/// and carries on. Every later step computes from the corrupted state, so the trace is well
/// formed, consistently chained and signed, and wrong from exactly that step.
public struct FaultInjection: Sendable, Equatable {
    /// Token position of the faulted step (0 = the first prompt token).
    public var position: Int
    /// Layer of the faulted step; nil for the embedding step.
    public var layer: Int?
    /// Index of the value flipped within the `dim`-wide row (taken modulo `dim`).
    public var valueIndex: Int
    /// Bit of the binary32 pattern flipped (0 … 31; the default, a high mantissa bit, keeps the
    /// value finite).
    public var bit: Int

    public init(position: Int, layer: Int?, valueIndex: Int = 0, bit: Int = 20) {
        precondition(position >= 0 && (layer ?? 0) >= 0 && (0 ..< 32).contains(bit), "FaultInjection: bad parameters")
        self.position = position; self.layer = layer; self.valueIndex = valueIndex; self.bit = bit
    }

    /// The faulted step.
    public var step: StepID { layer.map { .layer(position, $0) } ?? .embedding(position) }

    /// Wraps a forward-pass observer over positions `start ..< start + rows`: flips the bit in
    /// the residual stream (which the engine goes on computing from) and then calls `observer`.
    func wrap(_ observer: @escaping (_ layer: Int?, _ residual: UnsafeBufferPointer<Float>) -> Void, start: Int, rows: Int, dim: Int)
        -> (_ layer: Int?, _ residual: UnsafeBufferPointer<Float>) -> Void {
        let row = position - start
        guard row >= 0 && row < rows else { return observer }
        let fault = self
        return { layer, residual in
            if layer == fault.layer {
                // The residual stream is the engine's own scratch buffer: the flip is what the
                // rest of the forward pass computes from.
                let x = UnsafeMutableBufferPointer(mutating: residual)
                let i = row * dim + fault.valueIndex % dim
                x[i] = Float(bitPattern: x[i].bitPattern ^ (UInt32(1) << UInt32(fault.bit)))
            }
            observer(layer, residual)
        }
    }
}

/// The result of a traced request.
public struct TracedResult: Sendable {
    /// The generated tokens.
    public let tokens: [TokenID]
    /// Why the generation stopped.
    public let stop: StopReason
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
    ///   is removed, and a file that was at `tracePath` stays as it was), `TraceError.io` when the
    ///   trace cannot be written or `tracePath` is the model's own file.
    public static func run(model: LlamaModel, backend: any Backend, prompt: [TokenID], maxTokens: Int,
                           sampler: SamplerSettings, key: Ed25519PrivateKey, modelDigest: Digest? = nil,
                           tracePath: String? = nil, options: TraceOptions = TraceOptions(),
                           onToken: (TokenID) -> Bool = { _ in true }) throws(TraceError) -> TracedResult {
        guard !prompt.isEmpty else { throw .generation("the prompt is empty") }
        guard maxTokens >= 0 else { throw .generation("max tokens must be ≥ 0, got \(maxTokens)") }
        if let chunk = options.prefillChunk, chunk < 1 { throw .generation("the prefill chunk must be ≥ 1, got \(chunk)") }
        if let fault = options.fault, let l = fault.layer, l >= model.config.layers {
            throw .generation("the fault's layer \(l) is outside the model's \(model.config.layers) layers")
        }
        let setupStarted = monotonicSeconds()
        let header = try makeHeader(model: model, modelDigest: modelDigest, prompt: prompt, sampler: sampler,
                                    maxTokens: maxTokens, storeStates: options.storeStates)
        if let tracePath, isSameFile(tracePath, model.file.path) {
            throw .io("\(tracePath): is the model's file; the trace would replace it")
        }
        let writer = try tracePath.map { (path) throws(TraceError) in try TraceWriter(path: path, header: header) }
        let recorder = TraceRecorder(header: header, writer: writer)
        recorder.secondsSpent += monotonicSeconds() - setupStarted
        do {
            let output = try generate(model: model, backend: backend, recorder: recorder, prompt: prompt, maxTokens: maxTokens,
                                      sampler: sampler, prefillChunk: options.prefillChunk, fault: options.fault, onToken: onToken)
            let tokens = output.tokens
            let signed = try recorder.finish(outputTokens: tokens, key: key)
            let treeStarted = monotonicSeconds()
            let tree = recorder.tree()
            recorder.secondsSpent += monotonicSeconds() - treeStarted
            return TracedResult(tokens: tokens, stop: output.stop, signed: signed, leaves: recorder.leaves, tree: tree, traceSeconds: recorder.secondsSpent)
        } catch {
            writer?.abandon()
            throw error
        }
    }

    /// Rows per forward pass of a replay: bounds the logits held at once (rows × vocab binary32)
    /// without changing a bit (batch invariance, SPEC §5.3).
    public static let replayChunk = 256

    /// Teacher-forced replay (DESIGN §4): re-runs a request whose output is claimed to be
    /// `outputTokens` as batched forward passes over the prompt and the claimed output (one pass
    /// for up to `replayChunk` positions), keeping the logits of every row from the last prompt
    /// token on and sampling each with the request's sampler. Thanks to the exact products, an
    /// honest claim gives the very leaves, root and chain of the original generation; the
    /// returned commitment (unsigned) uses the tokens the replay sampled.
    /// - Parameters:
    ///   - chunk: positions per forward pass (≥ 1); any value gives the same leaves.
    ///   - headSliceWidth: for a greedy request replayed without storing states, the output head
    ///     is computed this many vocabulary entries at a time (`greedySampleSteps`), or whole
    ///     when nil; any value gives the same leaves.
    ///   - progress: called on the calling thread after the embedding and each layer of each
    ///     forward pass, and after its sampling, with the steps computed so far and the request's
    ///     step count (its leaf count); the last call has the two equal.
    public static func replay(model: LlamaModel, backend: any Backend, request: TraceRequest, outputTokens: [TokenID],
                              storeStates: Bool = false, writer: TraceWriter? = nil, chunk: Int = replayChunk,
                              headSliceWidth: Int? = LlamaModel.headSliceWidth,
                              progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws(TraceError) -> (commitment: Commitment, leaves: [TraceLeaf]) {
        guard let sampler = request.sampler else { throw .generation("the request's temperature is not a finite number ≥ 0") }
        guard outputTokens.count <= Int(request.maxTokens) else { throw .generation("\(outputTokens.count) output tokens exceed max tokens \(request.maxTokens)") }
        guard request.shape == (try? ModelShape(model)) else { throw .generation("the request's model shape is not the model's") }
        guard chunk >= 1 else { throw .generation("the replay chunk must be ≥ 1, got \(chunk)") }
        guard (headSliceWidth ?? 1) >= 1 else { throw .generation("the head slice width must be ≥ 1, got \(headSliceWidth ?? 0)") }
        let header = TraceHeader(request: request, storesStates: storeStates)
        let recorder = TraceRecorder(header: header, writer: writer)
        let prompt = request.promptTokens, np = prompt.count, ng = outputTokens.count
        var sampled: [TokenID] = []
        if ng > 0 {
            // Position p reads the token at p: the prompt, then every claimed token but the last.
            let fed = prompt + outputTokens.dropLast()
            let session = InferenceSession(model: model, backend: backend)
            let c = model.config, v = c.vocabularySize
            // Greedy replays without stored states take the head a vocabulary slice at a time,
            // hashing and argmaxing each slice in cache (`greedySampleSteps`); the others sample
            // each whole logits row.
            #if _endian(little)
            let sliceWidth = sampler.temperature == 0 && !storeStates ? headSliceWidth : nil
            #else
            let sliceWidth: Int? = nil
            #endif
            let sliced = sliceWidth != nil
            do throws(any Error) {
                var start = 0, stepsDone = 0
                let layers = c.layers, steps = fed.count * (layers + 1) + ng
                while start < fed.count {
                    let end = min(start + chunk, fed.count), rows = end - start
                    let firstSampled = max(np - 1 - start, 0)   // the chunk's first row with a sample step
                    let count = max(rows - firstSampled, 0), first = sampled.count
                    let capture = recorder.capture(start: start, rows: rows, on: backend)
                    let observe = capture.observer, before = stepsDone
                    let final = FloatBuffer(count: sliced ? count * c.dim : 0)   // [count × dim] last residual rows
                    let logits = try session.evaluate(Array(fed[start ..< end]), logits: sliced ? .none : .from(firstSampled), observer: { layer, residual in
                        observe(layer, residual)
                        if sliced && layer == layers - 1 && count > 0 {
                            _ = final.mutable.initialize(from: residual[firstSampled * c.dim ..< rows * c.dim])
                        }
                        progress?(before + rows * ((layer ?? -1) + 2), steps)
                    })
                    let tokens: [TokenID], digests: [Digest]
                    if let sliceWidth {
                        (tokens, digests) = TraceRecorder.greedySampleSteps(model: model, residual: final.readOnly, rows: count,
                                                                            firstPosition: start + firstSampled, on: backend, sliceWidth: sliceWidth)
                    } else {
                        tokens = logits.withUnsafeBufferPointer { all in
                            // Each row is sampled on its own (its index fixes the generator's counter).
                            [TokenID](unsafeUninitializedCapacity: count) { out, initialized in
                                backend.forEachRowRange(count) { range in
                                    for i in range {
                                        (out.baseAddress! + i).initialize(to: Sampler.sample(UnsafeBufferPointer(rebasing: all[i * v ..< (i + 1) * v]),
                                                                                             settings: sampler, index: first + i))
                                    }
                                }
                                initialized = count
                            }
                        }
                        digests = logits.withUnsafeBufferPointer {
                            TraceRecorder.sampleDigests(firstPosition: start + firstSampled, logits: $0, tokens: tokens, on: backend)
                        }
                    }
                    try logits.withUnsafeBufferPointer { (all) throws(TraceError) in
                        for r in 0 ..< rows {
                            try capture.emitRow(r)
                            guard r >= firstSampled else { continue }
                            let i = r - firstSampled
                            // Sliced: no logits rows (the recorder reads them only to store states).
                            let row = sliced ? UnsafeBufferPointer(rebasing: all[0 ..< 0]) : UnsafeBufferPointer(rebasing: all[i * v ..< (i + 1) * v])
                            try recorder.recordSample(position: start + r, logits: row, token: tokens[i], digest: digests[i])
                        }
                    }
                    sampled += tokens
                    stepsDone += rows * (layers + 1) + count
                    progress?(stepsDone, steps)
                    start = end
                }
            } catch let e as TraceError {
                throw e
            } catch {
                throw .generation("\(error)")
            }
        }
        return (try recorder.commitment(outputTokens: sampled), recorder.leaves)
    }

    /// Writes the trace with every step's state (`storeStates`) of a request already committed to,
    /// by replaying it: a node need not keep states, since it can recompute them on demand (DESIGN
    /// §4). The file ends with `signed`, the original signature, once the replay has reproduced its
    /// commitment exactly.
    /// - Throws: `TraceError.commitmentMismatch` when the replay gives another commitment (the
    ///   model, the backend or the claim is not what `signed` says; the file is removed),
    ///   `TraceError.io` when the file cannot be written.
    public static func writeStatesTrace(of signed: SignedCommitment, model: LlamaModel, backend: any Backend,
                                        to path: String) throws(TraceError) {
        let c = signed.commitment
        let writer = try TraceWriter(path: path, header: TraceHeader(request: c.request, storesStates: true))
        do throws(TraceError) {
            let replayed = try replay(model: model, backend: backend, request: c.request, outputTokens: c.outputTokens,
                                      storeStates: true, writer: writer)
            guard replayed.commitment == c else {
                throw TraceError.commitmentMismatch("the replay gives root \(replayed.commitment.root.hex), the commitment says \(c.root.hex)")
            }
            try writer.finish(signed)
        } catch {
            writer.abandon()
            throw error
        }
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
                         sampler: SamplerSettings, prefillChunk: Int?, fault: FaultInjection? = nil,
                         onToken: (TokenID) -> Bool) throws(TraceError) -> GeneratedTokens {
        let dim = model.config.dim
        func observer(_ capture: ForwardCapture) -> (_ layer: Int?, _ residual: UnsafeBufferPointer<Float>) -> Void {
            guard let fault else { return capture.observer }
            return fault.wrap(capture.observer, start: capture.start, rows: capture.rows, dim: dim)
        }
        guard maxTokens > 0 else { return GeneratedTokens(tokens: [], stop: .maxTokens) }
        let session = InferenceSession(model: model, backend: backend)
        let np = prompt.count
        let chunk = prefillChunk ?? np
        var out: [TokenID] = []
        do {
            var logits: [Float] = []
            var i = 0
            while i < np {
                let end = min(i + chunk, np)
                let capture = recorder.capture(start: i, rows: end - i, on: backend)
                logits = try session.evaluate(Array(prompt[i ..< end]), logits: end == np ? .last : .none, observer: observer(capture))
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
                let keepGoing = onToken(next)
                if let stop = StopReason.after(next, produced: out.count, maxTokens: maxTokens, tokenizer: model.tokenizer,
                                               contextFull: session.isFull, callerContinues: keepGoing) {
                    return GeneratedTokens(tokens: out, stop: stop)
                }
                let capture = recorder.capture(start: np + out.count - 1, rows: 1, on: backend)
                logits = try session.evaluate([next], observer: observer(capture))
                try capture.emitAll()
            }
        } catch let e as TraceError {
            throw e
        } catch {
            throw .generation("\(error)")
        }
    }
}
