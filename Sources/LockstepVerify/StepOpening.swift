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

    /// Checks the opening against a signed commitment: the leaf is leaf `index` of the tree whose
    /// root and size the commitment names, and the state hashes to the leaf's step digest.
    /// - Returns: nil when it holds, else the reason.
    public func check(index: Int, step: StepID, header: TraceHeader, commitment: Commitment) -> String? {
        guard leaf.index == UInt64(index) else { return "the opening of step \(index) carries leaf \(leaf.index)" }
        do { try commitment.verifyInclusion(of: leaf, path: path) } catch { return "step \(index): the leaf is not in the committed tree (\(error))" }
        return StepOpening.checkState(state, of: leaf, step: step, header: header)
    }

    /// Checks that `state` is the state of `step`: its size, and that it hashes (with `hasher`,
    /// reset first) to the leaf's step digest.
    /// - Returns: nil when it holds, else the reason.
    public static func checkState(_ state: [UInt8], of leaf: TraceLeaf, step: StepID, header: TraceHeader,
                                  hasher: SHA256Hasher = SHA256Hasher()) -> String? {
        guard state.count == header.stateByteCount(step.kind) else {
            return "step \(leaf.index): the opened state has \(state.count) bytes, expected \(header.stateByteCount(step.kind))"
        }
        let digest = state.withUnsafeBytes { StepDigest.stored(step, stateBytes: $0, hasher: hasher) }
        guard digest == leaf.stepDigest else { return "step \(leaf.index): the opened state does not hash to the leaf's step digest" }
        return nil
    }
}

/// A signed trace whose stored states a verifier opens (§8.1, §8.3): a `TraceContents` read with
/// its states kept, or a `TraceIndex` that reads each state from the file when asked. Its leaves
/// were verified when it was read — they chain, and the root recomputed from all of them is the
/// signed root, which checks every leaf against the signed commitment at once — so an opening
/// needs no inclusion path; its state is the prover's until `StepOpening.checkState` accepts it.
public protocol OpenableTrace {
    var header: TraceHeader { get }
    var signed: SignedCommitment { get }
    /// Every leaf, in order.
    var leaves: [TraceLeaf] { get }
    /// Whether `state(at:)` can give states (the trace stores them and they were kept).
    var opensStates: Bool { get }
    /// The stored state of step `index` (a leaf index), not yet checked against its leaf. Safe to
    /// call from several threads at once (a spot-check opens its groups of steps concurrently).
    /// - Throws: `VerifyError` when the trace has no such step or its state cannot be read.
    func state(at index: Int) throws(VerifyError) -> [UInt8]
}

extension OpenableTrace {
    /// The stored state of step `index`, read (`state(at:)`) and checked against `leaf` — this
    /// trace's leaf `index` unless another trace's agreeing leaf is given (a dispute opens
    /// either file against A's leaves) — with `StepOpening.checkState`.
    /// - Returns: the state, or why it is not the one the leaf commits to.
    /// - Throws: `VerifyError` when the state cannot be read at all.
    public func checkedState(at index: Int, against leaf: TraceLeaf? = nil,
                             hasher: SHA256Hasher = SHA256Hasher()) throws(VerifyError) -> Result<[UInt8], VerifyError> {
        let state = try state(at: index)
        if let why = StepOpening.checkState(state, of: leaf ?? leaves[index], step: header.schedule.step(at: index), header: header, hasher: hasher) {
            return .failure(VerifyError(why))
        }
        return .success(state)
    }
}

extension TraceContents: OpenableTrace {
    public var opensStates: Bool { states != nil }

    public func state(at index: Int) throws(VerifyError) -> [UInt8] {
        guard let states else { throw VerifyError("the trace stores no states: write it with --trace-activations") }
        guard index >= 0 && index < states.count else { throw VerifyError("step \(index) is outside the trace's \(states.count) steps") }
        return states[index]
    }
}

extension TraceIndex: OpenableTrace {
    public var opensStates: Bool { header.storesStates }

    public func state(at index: Int) throws(VerifyError) -> [UInt8] {
        do { return try storedState(at: index) } catch { throw VerifyError("\(error)") }
    }
}

/// A trace indexed without its states (its leaves verified against the signed root), with the
/// states of some of its steps fetched from elsewhere — from the node that gave it, which opens
/// them on request (SPEC §9.5) — so that a spot-check can open them (`SpotCheck.Plan` says which
/// it needs). The fetched states are the prover's until `StepOpening.checkState` accepts them
/// against the leaves, as with a file's states.
public struct FetchedStatesTrace: OpenableTrace {
    public let header: TraceHeader
    public let signed: SignedCommitment
    public let leaves: [TraceLeaf]
    private let states: [Int: [UInt8]]

    /// - Parameters:
    ///   - trace: the trace without states, indexed.
    ///   - indices: the leaf indices whose states `bytes` holds, in that order.
    ///   - bytes: their states one after another, each `header.stateByteCount` of its step's kind.
    /// - Throws: `VerifyError` when an index is not a step of the trace or `bytes` is not exactly
    ///   as long as those states.
    public init(_ trace: TraceIndex, indices: [Int], bytes: [UInt8]) throws(VerifyError) {
        let header = trace.header, n = trace.leaves.count
        if let bad = indices.first(where: { $0 < 0 || $0 >= n }) { throw VerifyError("step \(bad) is outside the trace's \(n) steps") }
        let sizes = indices.map(header.stateByteCount(at:))
        let expected = sizes.reduce(0, +)
        guard bytes.count == expected else { throw VerifyError("\(bytes.count) bytes of fetched states, expected \(expected) for \(indices.count) states") }
        var states: [Int: [UInt8]] = [:], offset = 0
        for (i, size) in zip(indices, sizes) {
            states[i] = Array(bytes[offset ..< offset + size])
            offset += size
        }
        self.header = header
        signed = trace.signed
        leaves = trace.leaves
        self.states = states
    }

    public var opensStates: Bool { true }

    public func state(at index: Int) throws(VerifyError) -> [UInt8] {
        guard let state = states[index] else { throw VerifyError("the state of step \(index) was not fetched") }
        return state
    }
}
