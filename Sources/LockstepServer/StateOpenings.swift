import Foundation
import LockstepTrace

/// The stored states of chosen steps of a trace a node gave, for a verifier that spot-checks the
/// trace without fetching every state (SPEC §9.5): `POST /v1/traces/<id>/states`. The states come
/// from the trace with states, `<id>-states`, recomputed on demand when the node kept only `<id>`
/// (a node need not store activations, DESIGN §4). They are the prover's word: the verifier
/// checks each against the leaf of the trace it already holds.
public struct StateOpenings: @unchecked Sendable {   // the index is only read (`storedState` is safe on several threads)
    /// The leaf indices asked for, in the order asked (repeats allowed).
    public let steps: [Int]
    /// The answer's length: the states of `steps` one after another.
    public let byteCount: Int
    private let index: TraceIndex

    init(steps: [Int], index: TraceIndex) throws(NodeError) {
        let n = index.leaves.count
        // At most one state per step of the trace: an answer is never longer than the trace with states.
        guard steps.count <= n else {
            throw NodeError(.badRequest, "field 'steps': \(steps.count) steps asked, the trace has \(n); ask for each step once")
        }
        if let bad = steps.firstIndex(where: { $0 < 0 || $0 >= n }) {
            throw NodeError(.badRequest, "field 'steps': entry \(bad) (\(steps[bad])) is not a step of the trace's \(n)")
        }
        let header = index.header
        self.steps = steps
        self.index = index
        byteCount = header.stateByteCount(of: steps)
    }

    /// The stored state of `steps[k]` (`4·dim` bytes for embedding and layer steps, `4·vocab + 4`
    /// for sample steps).
    /// - Throws: `NodeError.failed` when the trace file can no longer be read.
    public func state(_ k: Int) throws(NodeError) -> [UInt8] {
        do { return try index.storedState(at: steps[k]) } catch { throw NodeError(.failed, "the state of step \(steps[k]) cannot be read: \(error)") }
    }

    /// Parses the body of `POST /v1/traces/<id>/states`: `{"steps": [i, …]}`, leaf indices.
    /// - Throws: `NodeError.badRequest` for any other body, naming the field at fault.
    public static func steps(json body: [UInt8]) throws(NodeError) -> [Int] {
        let object = try RequestJSON.object(body, fields: ["steps"], route: "a states request")
        guard object["steps"] != nil else { throw NodeError(.badRequest, "no field 'steps': give the leaf indices to open") }
        guard let fields = try? JSONDecoder().decode([String: [Int]].self, from: Data(body)), let steps = fields["steps"] else {
            throw NodeError(.badRequest, "field 'steps': expected an array of integers (leaf indices)")
        }
        return steps
    }
}

extension NodeService {
    /// The stored states of `steps` of trace `id` (with or without `-states`: the states come from
    /// `<id>-states`, which `tracePath(id:)` writes on demand, waiting in the engine's queue).
    /// - Throws: `NodeError.notFound` for an id naming no trace here, `.badRequest` for more
    ///   steps than the trace has or a step outside it, `.busy`, `.failed` when the states
    ///   cannot be recomputed or read.
    public func stateOpenings(id: String, steps: [Int]) throws(NodeError) -> StateOpenings {
        try Self.checkTraceID(id)
        let statesID = id.hasSuffix("-states") ? id : id + "-states"
        let path: String
        do { path = try tracePath(id: statesID) } catch where error.kind == .notFound { throw NodeError(.notFound, "no trace \(id) on this node") }
        let index: TraceIndex
        do { index = try TraceIndex(path: path) } catch { throw NodeError(.failed, "trace \(statesID) cannot be read: \(error)") }
        return try StateOpenings(steps: steps, index: index)
    }
}
