import Foundation
import LockstepModel
import LockstepNative
import LockstepTrace

/// Input a verifier cannot work with (exit status 2): an unreadable or truncated file, a trace
/// for another model, two traces of different requests, a trace without the states a protocol
/// needs.
public struct VerifyError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// The first step where a trace and the verifier's recomputation (or two traces) differ.
public struct Divergence: Sendable, Equatable, CustomStringConvertible {
    /// Leaf index i (§7.2).
    public let index: Int
    /// The step (kind, token position, layer).
    public let step: StepID
    /// The step digest the trace commits to.
    public let claimed: Digest?
    /// The step digest the verifier computed.
    public let computed: Digest?

    public init(index: Int, step: StepID, claimed: Digest?, computed: Digest?) {
        self.index = index; self.step = step; self.claimed = claimed; self.computed = computed
    }

    /// At leaf `index` of a trace with `leaves` (`index < leaves.count`), its step in `schedule`
    /// and the digest its leaf claims.
    init(at index: Int, leaves: [TraceLeaf], schedule: StepSchedule, computed: Digest? = nil) {
        self.init(index: index, step: schedule.step(at: index), claimed: leaves[index].stepDigest, computed: computed)
    }

    /// The layer, or nil for embedding and sample steps.
    public var layer: Int? { step.kind == .layer ? Int(step.layer) : nil }

    public var description: String {
        "step \(index) (\(step.kind == .embedding ? "embedding" : step.kind == .layer ? "layer \(step.layer)" : "sample"), token position \(step.position))"
    }

    /// JSON fields: `index`, `kind`, `position`, `layer` (null unless a layer step), digests.
    public var jsonObject: [String: Any] {
        var o: [String: Any] = ["index": index, "position": Int(step.position),
                                "kind": step.kind == .embedding ? "embedding" : step.kind == .layer ? "layer" : "sample",
                                "layer": layer.map { $0 as Any } ?? NSNull()]
        if let claimed { o["claimed_step_digest"] = claimed.hex }
        if let computed { o["computed_step_digest"] = computed.hex }
        return o
    }
}

/// The answer to "does the claim hold?" (exit status 0 or 1).
public struct Verdict: Sendable {
    /// Whether the claim holds.
    public let holds: Bool
    /// Why it fails (or a one-line summary when it holds).
    public let reason: String
    /// The first divergent step, when the failure is one.
    public let divergence: Divergence?

    public static func ok(_ summary: String) -> Verdict { Verdict(holds: true, reason: summary, divergence: nil) }
    public static func fail(_ reason: String, at divergence: Divergence? = nil) -> Verdict {
        Verdict(holds: false, reason: reason, divergence: divergence)
    }
}

/// Reads a trace file and sorts the reader's errors: a file that is not a complete trace is
/// unusable input (`VerifyError`); a complete trace whose records, commitment or signature do
/// not agree is a false claim (a failing `Verdict`).
public enum TraceLoading {
    public enum Outcome<Trace> {
        case valid(Trace)
        case invalid(Verdict)
    }

    /// Reads and verifies the whole file, keeping the states when asked (`TraceReader`); else it
    /// indexes the file and hashes the states on several threads (`TraceIndex.verifyAll`): the
    /// same checks, in a fraction of the time.
    /// - Parameter signer: when given, a trace signed by any other key is a false claim.
    public static func load(path: String, keepStates: Bool = false, signer: Ed25519PublicKey? = nil) throws(VerifyError) -> Outcome<TraceContents> {
        try sorting(path) { () throws(TraceError) in
            keepStates ? try TraceReader.read(path: path, keepStates: true, expectedPublicKey: signer)
                       : try TraceIndex(path: path, expectedPublicKey: signer).verifyAll()
        }
    }

    /// Indexes the file for opening a few states (`TraceIndex`): every record's leaf and the
    /// footer are verified, the states only when opened.
    /// - Parameter signer: when given, a trace signed by any other key is a false claim.
    public static func index(path: String, signer: Ed25519PublicKey? = nil) throws(VerifyError) -> Outcome<TraceIndex> {
        try sorting(path) { () throws(TraceError) in try TraceIndex(path: path, expectedPublicKey: signer) }
    }

    /// Verifies an indexed file whole (`TraceIndex.verifyAll`: every stored state against its
    /// leaf, on several threads) and keeps the index, from which states are opened again later:
    /// the full reader's checks with none of the states held in memory.
    public static func verifyAll(_ index: TraceIndex, path: String) throws(VerifyError) -> Outcome<TraceContents> {
        try sorting(path) { () throws(TraceError) in try index.verifyAll() }
    }

    private static func sorting<Trace>(_ path: String, _ read: () throws(TraceError) -> Trace) throws(VerifyError) -> Outcome<Trace> {
        do {
            return .valid(try read())
        } catch {
            switch error {
            case .io, .badMagic, .unsupportedVersion, .unknownFlags, .truncated, .malformed, .limitExceeded, .generation:
                throw VerifyError("\(path): \(error.description)")
            case .unexpectedStep, .chainMismatch, .stepDigestMismatch, .commitmentMismatch, .commitment:
                return .invalid(.fail("\(path): \(error.description)"))
            }
        }
    }
}

extension TraceLoading.Outcome: Sendable where Trace: Sendable {}
