import Foundation
import LockstepCore
import LockstepModel
import LockstepNative
import LockstepTokenizer

/// Collects the leaves of one request in canonical order (§7.2): computes the chain and streams
/// each record to an optional `TraceWriter` as soon as it is known. The Merkle tree is grown from
/// the new leaves when its root or the tree is asked for, their hashes taken 16 at a time
/// (`TraceLeaf.hashes`).
///
/// Forward passes report their steps layer-major (all rows of the call for the embedding, then
/// all rows for layer 0, …); `ForwardCapture` hashes each row straight from the engine's buffer
/// and `emitRow` hands the digests over position-major, so any batching gives the same leaves.
public final class TraceRecorder {
    public let header: TraceHeader
    public let schedule: StepSchedule
    private let writer: TraceWriter?
    private let stepHasher = SHA256Hasher(), chainHasher = SHA256Hasher()
    /// The tree over `leaves[..<treeSize]`; the leaves after it are hashed into it together
    /// (in lanes, `TraceLeaf.hashes`) when the root or the tree is asked for.
    private var builder = MerkleTreeBuilder()
    private var treeSize: Int { Int(builder.size) }
    /// The chain value after the last recorded step (c₀ before any).
    public private(set) var chain: Digest
    /// Every leaf so far.
    public private(set) var leaves: [TraceLeaf] = []
    /// Wall-clock seconds spent in tracing work so far (hashing, chain, tree, writing, signing):
    /// the measured cost of tracing, comparable with the generation's own time.
    public internal(set) var secondsSpent: Double = 0

    /// - Parameter writer: where records go (its header must be `header`), or nil.
    public init(header: TraceHeader, writer: TraceWriter? = nil) {
        precondition(writer == nil || writer!.header == header, "TraceRecorder: the writer has another header")
        self.header = header
        self.schedule = header.schedule
        self.writer = writer
        chain = header.request.chainStart
    }

    /// Steps recorded.
    public var count: Int { leaves.count }

    /// The Merkle root over the leaves so far.
    public var root: Digest { growTree(); return builder.root }

    /// The tree over the leaves so far (inclusion proofs).
    public func tree() -> MerkleTree { growTree(); return builder.tree() }

    /// Appends the leaves recorded since the tree was last grown.
    private func growTree() {
        let added = leaves.count - treeSize
        guard added > 0 else { return }
        let started = monotonicSeconds()
        defer { secondsSpent += monotonicSeconds() - started }
        let hashes = leaves[treeSize...].withUnsafeBufferPointer { leaves in
            [Digest](unsafeUninitializedCapacity: added) { out, n in
                TraceLeaf.hashes(leaves, hasher: stepHasher, into: out)
                n = added
            }
        }
        builder.append(leafHashes: hashes)
    }

    /// Records the next step: `digest` is its oᵢ, `state` its canonical output bytes (written only
    /// when the trace stores states).
    /// - Throws: `TraceError.unexpectedStep` when `step` is not the next step in canonical order,
    ///   `TraceError.io` from the writer.
    public func record(_ step: StepID, digest: Digest, state: [UnsafeRawBufferPointer] = []) throws(TraceError) {
        let expected = schedule.step(at: leaves.count)
        guard step == expected else { throw .unexpectedStep(index: leaves.count, expected: expected, found: step) }
        chain = TraceChain.next(chain, digest, hasher: chainHasher)
        let leaf = TraceLeaf(index: UInt64(leaves.count), stepDigest: digest, chain: chain)
        leaves.append(leaf)
        try writer?.append(step, stepDigest: digest, chain: chain, state: header.storesStates ? state : [])
    }

    /// Records the sample step of `position`: its logits row and the chosen token.
    /// - Parameter digest: the step digest when already computed (`sampleDigests`), else nil.
    public func recordSample(position: Int, logits: UnsafeBufferPointer<Float>, token: TokenID, digest known: Digest? = nil) throws(TraceError) {
        let started = monotonicSeconds()
        defer { secondsSpent += monotonicSeconds() - started }
        let step = StepID.sample(position)
        let t = UInt32(bitPattern: token)
        let digest = known ?? StepDigest.sample(step, logits: logits, token: t, hasher: stepHasher)
        if header.storesStates {
            try withUnsafeBytes(of: t.littleEndian) { (tokenBytes) throws(TraceError) in
                try record(step, digest: digest, state: [littleEndianBytes(logits), tokenBytes])
            }
        } else {
            try record(step, digest: digest)
        }
    }

    /// The step digests of the sample steps of `tokens.count` consecutive positions from
    /// `firstPosition` (`logits`: their `tokens.count × vocab` rows), computed on several threads
    /// (`backend`'s when given, see `Backend.forEachRowRange`), for
    /// `recordSample(position:logits:token:digest:)`.
    public static func sampleDigests(firstPosition: Int, logits: UnsafeBufferPointer<Float>, tokens: [TokenID],
                                     on backend: (any Backend)? = nil) -> [Digest] {
        let n = tokens.count
        guard n > 0 else { return [] }
        precondition(logits.count % n == 0, "sampleDigests: logits are not \(n) rows")
        let v = logits.count / n
        var digests = [Digest](repeating: Digest(bytes: [UInt8](repeating: 0, count: 32)), count: n)
        digests.withUnsafeMutableBufferPointer { out in
            hashRowsInParallel(n, on: backend) { range, hasher in
                StepDigest.samples(range.map { .sample(firstPosition + $0) }, logits: UnsafeBufferPointer(rebasing: logits[range.lowerBound * v ..< range.upperBound * v]),
                                   vocab: v, tokens: range.map { UInt32(bitPattern: tokens[$0]) }, hasher: hasher,
                                   into: UnsafeMutableBufferPointer(rebasing: out[range]))
            }
        }
        return digests
    }

    /// The greedy sample steps of `rows` consecutive positions from `firstPosition`, from their
    /// final residual rows (`[rows × dim]`): the output head a vocabulary slice at a time
    /// (`LlamaModel.logitSlices`), each slice argmaxed (`RunningArgmax`) and hashed
    /// (`SampleDigestStream`) on `backend`'s threads while it is in cache. The same tokens and
    /// digests as greedy sampling of `forward`'s logits and `sampleDigests`, without the
    /// `rows × vocab` logits (25 MB for a 128-token SmolLM2 replay) in memory never touched before.
    /// Little-endian hosts only.
    /// - Parameter sliceWidth: vocabulary entries per slice (any value gives the same result).
    public static func greedySampleSteps(model: LlamaModel, residual: UnsafeBufferPointer<Float>, rows: Int, firstPosition: Int,
                                         on backend: any Backend, sliceWidth: Int = LlamaModel.headSliceWidth) -> (tokens: [TokenID], digests: [Digest]) {
        let digestStream = SampleDigestStream((0 ..< rows).map { .sample(firstPosition + $0) })
        var choices = [RunningArgmax](repeating: RunningArgmax(), count: rows)
        var digests = [Digest](repeating: Digest(bytes: [UInt8](repeating: 0, count: Digest.byteCount)), count: rows)
        // The groups of rows on the backend's threads: split by rows (each range takes the
        // groups that start in it), as a group count alone is too small to share out.
        func forEachGroup(_ body: (Int) -> Void) {
            backend.forEachRowRange(rows) { range in
                for g in 0 ..< digestStream.groups where range.contains(digestStream.rows(inGroup: g).lowerBound) { body(g) }
            }
        }
        choices.withUnsafeMutableBufferPointer { choices in
            model.logitSlices(residual: residual, rows: rows, backend: backend, width: sliceWidth) { vocab, logits in
                let width = vocab.count
                forEachGroup { g in
                    for r in digestStream.rows(inGroup: g) {
                        choices[r].add(UnsafeBufferPointer(rebasing: logits[r * width ..< (r + 1) * width]), offset: vocab.lowerBound)
                    }
                    digestStream.add(group: g, logits: logits, width: width)
                }
            }
            digests.withUnsafeMutableBufferPointer { out in
                let choices = UnsafeBufferPointer(choices)
                forEachGroup { g in digestStream.finish(group: g, token: { UInt32(bitPattern: choices[$0].token) }, into: out) }
            }
        }
        return (choices.map(\.token), digests)
    }

    /// Starts capturing a forward pass over positions `start ..< start + rows`, run on `backend`:
    /// its threads hash the rows between its ops (`Backend.forEachRowRange`; Dispatch's threads
    /// when nil).
    public func capture(start: Int, rows: Int, on backend: (any Backend)? = nil) -> ForwardCapture {
        ForwardCapture(recorder: self, start: start, rows: rows, backend: backend)
    }

    /// Pushes written records to the file.
    public func flush() throws(TraceError) {
        let started = monotonicSeconds()
        defer { secondsSpent += monotonicSeconds() - started }
        try writer?.flush()
    }

    /// The commitment for `outputTokens` over the recorded steps.
    /// - Throws: `TraceError.commitmentMismatch` when the steps recorded are not exactly the
    ///   steps of a request with these output tokens.
    public func commitment(outputTokens: [TokenID]) throws(TraceError) -> Commitment {
        let needed = schedule.leafCount(outputCount: outputTokens.count)
        guard needed == leaves.count else {
            throw .commitmentMismatch("\(leaves.count) steps recorded, \(outputTokens.count) output tokens need \(needed)")
        }
        do {
            return try Commitment(request: header.request, outputTokens: outputTokens, leafCount: UInt64(leaves.count),
                                  root: root, finalChain: chain)
        } catch { throw .commitment(error) }
    }

    /// Signs the commitment and, with a writer, writes the footer and closes the file.
    public func finish(outputTokens: [TokenID], key: Ed25519PrivateKey) throws(TraceError) -> SignedCommitment {
        let started = monotonicSeconds()
        defer { secondsSpent += monotonicSeconds() - started }
        let unsigned = try commitment(outputTokens: outputTokens)
        let signed: SignedCommitment
        do { signed = try unsigned.signed(with: key) } catch { throw .commitment(error) }
        try writer?.finish(signed)
        return signed
    }

}

/// A monotonic clock in seconds.
func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Hashes `count` independent rows on several threads: `body(range, hasher)` handles the rows in
/// `range` with a hasher of its own. On `backend`'s threads (`Backend.forEachRowRange`) when
/// given, else on Dispatch's (`forEachRowRangeConcurrently`). Step digests are independent of
/// each other (only the chain is sequential), so this changes no bit.
func hashRowsInParallel(_ count: Int, on backend: (any Backend)? = nil, _ body: (Range<Int>, SHA256Hasher) -> Void) {
    if let backend {
        backend.forEachRowRange(count) { body($0, SHA256Hasher()) }
    } else {
        forEachRowRangeConcurrently(count) { body($0, SHA256Hasher()) }
    }
}

/// The view of a binary32 row as little-endian bytes (the host's bytes on little-endian hosts).
func littleEndianBytes(_ values: UnsafeBufferPointer<Float>) -> UnsafeRawBufferPointer {
    #if _endian(little)
    return UnsafeRawBufferPointer(values)
    #else
    fatalError("trace states are written on little-endian hosts only")
    #endif
}

/// Captures one forward pass: `observer` is handed to `LlamaModel.forward` /
/// `InferenceSession.evaluate`; it hashes every row of every step straight from the engine's
/// residual buffer (no copy unless states are stored). Afterwards `emitRow` records each
/// position's steps in canonical order.
public final class ForwardCapture {
    private unowned let recorder: TraceRecorder
    public let start: Int
    public let rows: Int
    private let layers: Int
    private let dim: Int
    /// `digests[row * (layers + 1) + k]`: k = 0 embedding, k = l + 1 layer l.
    private var digests: [Digest?]
    /// The same layout × dim floats, when states are stored.
    private let states: FloatBuffer?
    /// Whose threads hash the rows (nil: Dispatch's).
    private let backend: (any Backend)?
    private var emitted = 0

    init(recorder: TraceRecorder, start: Int, rows: Int, backend: (any Backend)?) {
        self.recorder = recorder
        self.backend = backend
        self.start = start
        self.rows = rows
        layers = recorder.header.layers
        dim = recorder.header.dim
        digests = Array(repeating: nil, count: rows * (layers + 1))
        states = recorder.header.storesStates ? FloatBuffer(count: rows * (layers + 1) * dim) : nil
    }

    /// The forward-pass observer: (layer or nil for the embedding, the `[rows × dim]` residual stream).
    public var observer: (_ layer: Int?, _ residual: UnsafeBufferPointer<Float>) -> Void {
        { [self] layer, residual in observe(layer: layer, residual: residual) }
    }

    private func observe(layer: Int?, residual: UnsafeBufferPointer<Float>) {
        let started = monotonicSeconds()
        defer { recorder.secondsSpent += monotonicSeconds() - started }
        precondition(residual.count == rows * dim, "ForwardCapture: residual has \(residual.count) values, expected \(rows) × \(dim)")
        let k = layer.map { $0 + 1 } ?? 0
        let (start, dim, layers, states) = (self.start, self.dim, self.layers, self.states)
        digests.withUnsafeMutableBufferPointer { digests in
            hashRowsInParallel(rows, on: backend) { range, hasher in
                let steps = range.map { r -> StepID in layer.map { .layer(start + r, $0) } ?? .embedding(start + r) }
                let computed = [Digest](unsafeUninitializedCapacity: range.count) { out, initialized in
                    StepDigest.states(steps, rows: UnsafeBufferPointer(rebasing: residual[range.lowerBound * dim ..< range.upperBound * dim]),
                                      dim: dim, hasher: hasher, into: out)
                    initialized = range.count
                }
                for (i, r) in range.enumerated() {
                    let slot = r * (layers + 1) + k
                    digests[slot] = computed[i]
                    if let states {
                        _ = UnsafeMutableBufferPointer(rebasing: states.mutable[slot * dim ..< (slot + 1) * dim])
                            .initialize(from: UnsafeBufferPointer(rebasing: residual[r * dim ..< (r + 1) * dim]))
                    }
                }
            }
        }
    }

    /// Records the embedding and layer steps of `row` (rows must be emitted in order).
    public func emitRow(_ row: Int) throws(TraceError) {
        let started = monotonicSeconds()
        defer { recorder.secondsSpent += monotonicSeconds() - started }
        precondition(row == emitted && row < rows, "ForwardCapture: rows are emitted once, in order")
        emitted += 1
        for k in 0 ... layers {
            let slot = row * (layers + 1) + k
            guard let digest = digests[slot] else {
                throw .generation("the forward pass did not report \(k == 0 ? "the embedding" : "layer \(k - 1)") of position \(start + row)")
            }
            let step: StepID = k == 0 ? .embedding(start + row) : .layer(start + row, k - 1)
            if let states {
                try recorder.record(step, digest: digest, state: [littleEndianBytes(states.readOnly(slot * dim ..< (slot + 1) * dim))])
            } else {
                try recorder.record(step, digest: digest)
            }
        }
    }

    /// Records every row's embedding and layer steps.
    public func emitAll() throws(TraceError) {
        while emitted < rows { try emitRow(emitted) }
    }
}
