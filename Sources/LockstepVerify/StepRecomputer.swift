import LockstepCore
import LockstepModel
import LockstepNative
import LockstepTrace

/// An opened step (§8.1): its leaf, the inclusion path of the leaf in the committed tree, and
/// the step's state bytes (its canonical output, §7.2).
public struct StepOpening: Sendable, Equatable {
    public let leaf: TraceLeaf
    public let path: [Digest]
    public let state: [UInt8]

    public init(leaf: TraceLeaf, path: [Digest], state: [UInt8]) {
        self.leaf = leaf; self.path = path; self.state = state
    }

    /// Opens leaf `index` of a trace that stores states.
    public init(trace: TraceContents, index: Int) throws(VerifyError) {
        guard let states = trace.states else { throw VerifyError("the trace stores no states: write it with --trace-activations") }
        guard index >= 0 && index < trace.leaves.count else { throw VerifyError("step \(index) is outside the trace's \(trace.leaves.count) steps") }
        let proof: InclusionProof
        do { proof = try trace.tree.inclusionProof(index: UInt64(index)) } catch { throw VerifyError("inclusion proof of step \(index): \(error)") }
        self.init(leaf: trace.leaves[index], path: proof.path, state: states[index])
    }

    /// Checks the opening against a signed commitment: the leaf is leaf `index` of the tree whose
    /// root and size the commitment names, and the state hashes to the leaf's step digest.
    /// - Returns: nil when it holds, else the reason.
    public func check(index: Int, step: StepID, header: TraceHeader, commitment: Commitment) -> String? {
        guard leaf.index == UInt64(index) else { return "the opening of step \(index) carries leaf \(leaf.index)" }
        do { try commitment.verifyInclusion(of: leaf, path: path) } catch { return "step \(index): the leaf is not in the committed tree (\(error))" }
        guard state.count == header.stateByteCount(step.kind) else {
            return "step \(index): the opened state has \(state.count) bytes, expected \(header.stateByteCount(step.kind))"
        }
        let digest = state.withUnsafeBytes { StepDigest.stored(step, stateBytes: $0, hasher: SHA256Hasher()) }
        guard digest == leaf.stepDigest else { return "step \(index): the opened state does not hash to the leaf's step digest" }
        return nil
    }
}

/// Recomputes one step of a request from the states of the steps it reads (§8.1):
///
/// - `E(p)`: the embedding row of the token at `p` — a prompt token, or for `p ≥ n_p` the token
///   stored at the end of the state of `S(p − 1)` (its only input);
/// - `L(p, l)`: block `l` over positions `0 … p`, from the states of `L(q, l − 1)` (`E(q)` for
///   `l = 0`), `q = 0 … p` — the earlier rows rebuild layer `l`'s key/value cache; row `p` is the
///   output. Cost: one block over `p + 1` rows, about `1/layers` of a replay of the prefix;
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

    /// The leaf indices whose states step `index` reads, in order.
    public func inputIndices(of index: Int) -> [Int] {
        let step = schedule.step(at: index), p = Int(step.position)
        switch step.kind {
        case .embedding: return p < schedule.promptCount ? [] : [schedule.firstIndex(ofPosition: p) - 1]
        case .layer: return (0 ... p).map { schedule.firstIndex(ofPosition: $0) + Int(step.layer) }
        case .sample: return [schedule.firstIndex(ofPosition: p) + schedule.layers]
        }
    }

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
                let n = s.count
                token = Int(UInt32(s[n - 4]) | UInt32(s[n - 3]) << 8 | UInt32(s[n - 2]) << 16 | UInt32(s[n - 1]) << 24)
            }
            guard token >= 0 && token < c.vocabularySize else { return .failure(VerifyError("token \(token) at position \(p) is outside the vocabulary")) }
            let row = FloatBuffer(count: c.dim)
            model.weights.embedding.row(token, into: row.mutable.baseAddress!)
            return .success(StepDigest.state(step, row: row.readOnly, hasher: hasher))
        case .layer:
            let rows = p + 1
            let x = FloatBuffer(count: rows * c.dim)
            for (r, s) in inputs.enumerated() {
                guard s.count == 4 * c.dim else { return .failure(VerifyError("layer input state of the wrong size")) }
                copyFloats(s, into: UnsafeMutableBufferPointer(rebasing: x.mutable[r * c.dim ..< (r + 1) * c.dim]))
            }
            let cache = KVCache(layers: c.layers, shape: c.attentionShape)
            model.applyLayer(Int(step.layer), to: x, rows: rows, start: 0, cache: cache, backend: backend)
            return .success(StepDigest.state(step, row: x.readOnly(p * c.dim ..< rows * c.dim), hasher: hasher))
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

/// Little-endian binary32 bytes → floats.
func copyFloats(_ bytes: [UInt8], into out: UnsafeMutableBufferPointer<Float>) {
    precondition(bytes.count == 4 * out.count)
    for i in 0 ..< out.count {
        let b = 4 * i
        out[i] = Float(bitPattern: UInt32(bytes[b]) | UInt32(bytes[b + 1]) << 8 | UInt32(bytes[b + 2]) << 16 | UInt32(bytes[b + 3]) << 24)
    }
}
