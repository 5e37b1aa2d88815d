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
        guard state.count == header.stateByteCount(step.kind) else {
            return "step \(index): the opened state has \(state.count) bytes, expected \(header.stateByteCount(step.kind))"
        }
        let digest = state.withUnsafeBytes { StepDigest.stored(step, stateBytes: $0, hasher: SHA256Hasher()) }
        guard digest == leaf.stepDigest else { return "step \(index): the opened state does not hash to the leaf's step digest" }
        return nil
    }
}

/// A signed trace whose steps a verifier can open (§8.1): a `TraceContents` read with its states
/// kept, or a `TraceIndex` that reads each state from the file when it is opened. The leaves and
/// the commitment have been verified when the trace was read; an opening's state has not, and
/// `StepOpening.check` checks it.
public protocol OpenableTrace {
    var header: TraceHeader { get }
    var signed: SignedCommitment { get }
    /// Every leaf, in order.
    var leaves: [TraceLeaf] { get }
    /// Whether `opening(at:)` can give states (the trace stores them and they were kept).
    var opensStates: Bool { get }
    /// Step `index`'s leaf, its inclusion path and its stored state.
    /// - Throws: `VerifyError` when the trace has no such step or its state cannot be read.
    func opening(at index: Int) throws(VerifyError) -> StepOpening
}

extension OpenableTrace {
    func inclusionPath(_ tree: MerkleTree, _ index: Int) throws(VerifyError) -> [Digest] {
        guard index >= 0 && index < leaves.count else { throw VerifyError("step \(index) is outside the trace's \(leaves.count) steps") }
        do { return try tree.inclusionProof(index: UInt64(index)).path } catch { throw VerifyError("inclusion proof of step \(index): \(error)") }
    }
}

extension TraceContents: OpenableTrace {
    public var opensStates: Bool { states != nil }

    public func opening(at index: Int) throws(VerifyError) -> StepOpening {
        guard let states else { throw VerifyError("the trace stores no states: write it with --trace-activations") }
        let path = try inclusionPath(tree, index)
        return StepOpening(leaf: leaves[index], path: path, state: states[index])
    }
}

extension TraceIndex: OpenableTrace {
    public var opensStates: Bool { header.storesStates }

    public func opening(at index: Int) throws(VerifyError) -> StepOpening {
        let path = try inclusionPath(tree, index)
        do { return StepOpening(leaf: leaves[index], path: path, state: try storedState(at: index)) } catch { throw VerifyError("\(error)") }
    }
}
