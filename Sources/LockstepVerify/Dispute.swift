import LockstepCore
import LockstepModel
import LockstepNative
import LockstepTrace

/// Which side of a dispute computed the divergent step correctly.
public enum DisputeWinner: UInt8, Sendable {
    /// The first trace (A) is right, B is proven wrong.
    case first = 0
    /// The second trace (B) is right, A is proven wrong.
    case second = 1
    /// Both are wrong at the first divergent step.
    case neither = 2
}

/// One step of a fraud proof that both parties committed to: the leaf, its path in A's tree and
/// its path in B's tree, and (for input states) the state.
public struct AgreedOpening: Sendable, Equatable {
    public let leaf: TraceLeaf
    public let pathA: [Digest]
    public let pathB: [Digest]
    public let state: [UInt8]
}

/// A self-contained, offline-checkable fraud proof (§8.4): both signed commitments, the first
/// divergent step `i` with both parties' leaves, the agreed leaf `i − 1`, and the agreed input
/// states of step `i` with their inclusion paths in both trees. A checker with the model
/// recomputes step `i` and confirms the verdict.
public struct FraudProof: Sendable, Equatable {
    public static let magic: [UInt8] = Array("LKSPROOF".utf8)
    public static let version: UInt32 = 1

    public let winner: DisputeWinner
    public let index: Int
    public let a: SignedCommitment
    public let b: SignedCommitment
    /// Leaf i of A and its path in A's tree; leaf i of B and its path in B's tree.
    public let leafA: TraceLeaf, pathA: [Digest]
    public let leafB: TraceLeaf, pathB: [Digest]
    /// Leaf i − 1 (agreed: same chain value), when i > 0.
    public let previous: AgreedOpening?
    /// The states step i reads, in `StepRecomputer.inputIndices` order.
    public let inputs: [AgreedOpening]

    /// The canonical encoding (the proof file).
    public var bytes: [UInt8] {
        var w = Writer()
        w.raw(FraudProof.magic); w.u32(FraudProof.version); w.u8(winner.rawValue); w.u64(UInt64(index))
        for s in [a, b] {
            let m = s.commitment.encoding
            w.u32(UInt32(m.count)); w.raw(m); w.raw(s.signature); w.raw(s.publicKey.rawRepresentation)
        }
        w.raw(leafA.bytes); w.path(pathA)
        w.raw(leafB.bytes); w.path(pathB)
        if let previous { w.raw(previous.leaf.bytes); w.path(previous.pathA); w.path(previous.pathB) }
        w.u32(UInt32(inputs.count))
        for o in inputs { w.raw(o.leaf.bytes); w.path(o.pathA); w.path(o.pathB); w.u32(UInt32(o.state.count)); w.raw(o.state) }
        return w.bytes
    }

    public init(winner: DisputeWinner, index: Int, a: SignedCommitment, b: SignedCommitment, leafA: TraceLeaf, pathA: [Digest],
                leafB: TraceLeaf, pathB: [Digest], previous: AgreedOpening?, inputs: [AgreedOpening]) {
        self.winner = winner; self.index = index; self.a = a; self.b = b; self.leafA = leafA; self.pathA = pathA
        self.leafB = leafB; self.pathB = pathB; self.previous = previous; self.inputs = inputs
    }

    /// Parses a proof file. Every length is bounded by the bytes left; trailing bytes are an error.
    /// - Returns: the proof, or the reason it cannot be parsed.
    public static func parse(_ bytes: [UInt8]) -> Result<FraudProof, VerifyError> {
        var r = Reader(bytes)
        guard let m = r.take(8), m == magic else { return .failure(VerifyError("not a Lockstep fraud proof (bad magic)")) }
        guard let v = r.u32(), v == version else { return .failure(VerifyError("unsupported fraud proof version")) }
        guard let wb = r.u8(), let winner = DisputeWinner(rawValue: wb) else { return .failure(VerifyError("bad verdict byte")) }
        guard let index64 = r.u64(), index64 < UInt64(Int32.max) else { return .failure(VerifyError("bad step index")) }
        var signed: [SignedCommitment] = []
        for side in ["A", "B"] {
            guard let n = r.u32(), let m = r.take(Int(n)), let sig = r.take(64), let key = r.take(32) else {
                return .failure(VerifyError("truncated commitment \(side)"))
            }
            do {
                let c = try Commitment(encoding: m)
                signed.append(SignedCommitment(commitment: c, signature: sig, publicKey: try Ed25519PublicKey(rawRepresentation: key)))
            } catch { return .failure(VerifyError("commitment \(side): \(error)")) }
        }
        func leaf() -> TraceLeaf? { r.take(TraceLeaf.byteCount).flatMap { try? TraceLeaf(bytes: $0) } }
        guard let leafA = leaf(), let pathA = r.path(), let leafB = leaf(), let pathB = r.path() else { return .failure(VerifyError("truncated leaves")) }
        var previous: AgreedOpening? = nil
        if index64 > 0 {
            guard let l = leaf(), let pa = r.path(), let pb = r.path() else { return .failure(VerifyError("truncated previous leaf")) }
            previous = AgreedOpening(leaf: l, pathA: pa, pathB: pb, state: [])
        }
        guard let count = r.u32(), Int(count) <= r.remaining / TraceLeaf.byteCount else { return .failure(VerifyError("bad input count")) }
        var inputs: [AgreedOpening] = []
        for _ in 0 ..< count {
            guard let l = leaf(), let pa = r.path(), let pb = r.path(), let n = r.u32(), let s = r.take(Int(n)) else {
                return .failure(VerifyError("truncated input opening"))
            }
            inputs.append(AgreedOpening(leaf: l, pathA: pa, pathB: pb, state: s))
        }
        guard r.remaining == 0 else { return .failure(VerifyError("\(r.remaining) bytes after the end of the proof")) }
        return .success(FraudProof(winner: winner, index: Int(index64), a: signed[0], b: signed[1], leafA: leafA, pathA: pathA,
                                   leafB: leafB, pathB: pathB, previous: previous, inputs: inputs))
    }

    /// Checks the proof offline against the model: both signatures; one request; the model is the
    /// request's; leaf i of each side is in its tree and the step digests differ; leaf i − 1 is
    /// in both trees (the chains agree before i); every input is in both trees and its state
    /// hashes to its leaf; then step i is recomputed and the verdict must be the proof's.
    /// - Returns: `.ok` when accepted, a failing verdict with the reason when rejected.
    /// - Throws: `VerifyError` when the proof is for another model.
    public func check(model: LlamaModel, modelDigest: Digest, backend: any Backend) throws(VerifyError) -> Verdict {
        for (name, s) in [("A", a), ("B", b)] {
            do { try s.verifySignature() } catch { return .fail("commitment \(name): \(error)") }
        }
        guard a.commitment.request == b.commitment.request else { return .fail("the commitments are for different requests") }
        let request = a.commitment.request
        try checkModel(request, model: model, modelDigest: modelDigest)
        let header = TraceHeader(request: request, storesStates: true)
        let schedule = header.schedule
        let nA = Int(a.commitment.leafCount), nB = Int(b.commitment.leafCount)
        for (name, c) in [("A", a.commitment), ("B", b.commitment)] where Int(c.leafCount) != schedule.leafCount(outputCount: c.outputTokens.count) {
            return .fail("commitment \(name): leaf count \(c.leafCount) does not fit \(c.outputTokens.count) output tokens")
        }
        for (name, c) in [("A", a.commitment), ("B", b.commitment)] {
            if let why = contextOverrun(c, config: model.config) { return .fail("commitment \(name): \(why)") }
        }
        guard index < min(nA, nB) else { return .fail("step \(index) is outside the traces") }
        let step = schedule.step(at: index)
        guard leafA.index == UInt64(index), leafB.index == UInt64(index) else { return .fail("the divergent leaves are not leaf \(index)") }
        do { try a.commitment.verifyInclusion(of: leafA, path: pathA) } catch { return .fail("A's leaf \(index): \(error)") }
        do { try b.commitment.verifyInclusion(of: leafB, path: pathB) } catch { return .fail("B's leaf \(index): \(error)") }
        guard leafA.stepDigest != leafB.stepDigest else { return .fail("the two traces agree on step \(index)") }
        if let previous {
            guard previous.leaf.index == UInt64(index - 1) else { return .fail("the agreed leaf is not leaf \(index - 1)") }
            do {
                try a.commitment.verifyInclusion(of: previous.leaf, path: previous.pathA)
                try b.commitment.verifyInclusion(of: previous.leaf, path: previous.pathB)
            } catch { return .fail("agreed leaf \(index - 1): \(error)") }
        }
        let recomputer = try StepRecomputer(model: model, backend: backend, request: request)
        let needed = recomputer.inputIndices(of: index)
        guard needed.count == inputs.count else { return .fail("step \(index) reads \(needed.count) states, the proof opens \(inputs.count)") }
        for (j, o) in zip(needed, inputs) {
            let inA = StepOpening(leaf: o.leaf, path: o.pathA, state: o.state), inB = StepOpening(leaf: o.leaf, path: o.pathB, state: o.state)
            if let why = inA.check(index: j, step: schedule.step(at: j), header: header, commitment: a.commitment) { return .fail("A: " + why) }
            if let why = inB.check(index: j, step: schedule.step(at: j), header: header, commitment: b.commitment) { return .fail("B: " + why) }
        }
        // An input an honest run cannot have read (a token outside the vocabulary) makes both wrong.
        let computed: Digest?
        switch recomputer.digest(of: index, inputs: inputs.map(\.state)) {
        case let .success(d): computed = d
        case .failure: computed = nil
        }
        let actual: DisputeWinner = computed == leafA.stepDigest ? .first : computed == leafB.stepDigest ? .second : .neither
        let divergence = Divergence(index: index, step: step, claimed: actual == .second ? leafA.stepDigest : leafB.stepDigest, computed: computed)
        guard actual == winner else { return .fail("the proof names \(winner) as right, the recomputation says \(actual)", at: divergence) }
        return Verdict(holds: true, reason: "accepted: at step \(index) (\(step)) \(FraudProof.describe(winner))", divergence: divergence)
    }

    static func describe(_ w: DisputeWinner) -> String {
        switch w {
        case .first: return "trace A is right and trace B is wrong"
        case .second: return "trace B is right and trace A is wrong"
        case .neither: return "both traces are wrong"
        }
    }
}

/// The outcome of a dispute.
public struct DisputeReport: Sendable {
    /// Holds when A is right where the traces first differ (or they do not differ).
    public let verdict: Verdict
    /// Bisection rounds used (each: both parties reveal one chain value).
    public let rounds: Int
    /// ⌈log₂ N⌉ for the common length N.
    public let roundBound: Int
    /// The (lo, hi) interval after each round.
    public let transcript: [(lo: Int, hi: Int)]
    public let winner: DisputeWinner?
    public let proof: FraudProof?
}

/// The dispute game (§8.4).
public enum Dispute {
    /// Bisection over chain values between two traces of the same request, then the referee's
    /// one-step recomputation from the agreed inputs.
    /// - Parameter states: where the referee opens stored states: A or B indexed
    ///   (`TraceIndex`, which reads only the states opened, so a dispute holds neither file's
    ///   states in memory); nil: the states `a` or `b` kept. Every opened state is checked
    ///   against its leaf.
    /// - Throws: `VerifyError` for traces of different requests, when no stored states are
    ///   given (the agreed inputs are opened from them), or when an opened state is not the
    ///   one its leaf commits to.
    public static func run(a: TraceContents, b: TraceContents, states: (any OpenableTrace)? = nil, model: LlamaModel, modelDigest: Digest,
                           backend: any Backend) throws(VerifyError) -> DisputeReport {
        let source: (any OpenableTrace)? = states ?? (a.opensStates ? a : b.opensStates ? b : nil)
        /// State `j`, checked against leaf `j` (of A; the leaves before the divergent step agree).
        func open(_ j: Int) throws(VerifyError) -> [UInt8]? {
            guard let source else { return nil }
            switch try source.checkedState(at: j, against: a.leaves[j]) {
            case let .success(state): return state
            case let .failure(bad): throw VerifyError("the stored state the referee opened: \(bad)")
            }
        }
        let request = a.signed.commitment.request
        guard request == b.signed.commitment.request else { throw VerifyError("the two traces are for different requests") }
        try checkModel(request, model: model, modelDigest: modelDigest)
        let n = min(a.leaves.count, b.leaves.count)
        let bound = n <= 1 ? 0 : Int.bitWidth - (n - 1).leadingZeroBitCount
        // A commitment past the model's context is wrong whatever its steps (an honest run stops
        // when the context is full): no step needs recomputing, so there is no fraud proof.
        let overA = contextOverrun(a.signed.commitment, config: model.config), overB = contextOverrun(b.signed.commitment, config: model.config)
        if overA != nil || overB != nil {
            let winner: DisputeWinner = overA == nil ? .first : overB == nil ? .second : .neither
            let reason = [("A", overA), ("B", overB)].compactMap { name, why in why.map { "trace \(name): \($0)" } }.joined(separator: "; ")
                + ": " + FraudProof.describe(winner)
            return DisputeReport(verdict: winner == .first ? .ok(reason) : .fail(reason), rounds: 0, roundBound: bound, transcript: [],
                                 winner: winner, proof: nil)
        }
        let i: Int, rounds: Int, transcript: [(lo: Int, hi: Int)]
        switch parting(a, b) {
        case .nowhere:
            let same = a.leaves.count == b.leaves.count
            return DisputeReport(verdict: .ok(same ? "the traces agree on every step" : "no divergent step: one trace is a prefix of the other (an early stop, §7.9 T1)"),
                                 rounds: 0, roundBound: bound, transcript: [], winner: nil, proof: nil)
        case let .outputToken(j, embeddingStep, sampleStep):
            // The steps agree; the commitments' output tokens must then agree too, since each
            // token is part of its (agreed) sample step and read by the next embedding step. A
            // mismatch means one commitment's tokens contradict its own steps: the agreed
            // embedding step's leaf (one token's embedding row) says which, or — for the last
            // token, or two tokens with one embedding row — the stored sample state.
            let ta = a.signed.commitment.outputTokens, tb = b.signed.commitment.outputTokens
            if let e = embeddingStep, let winner = try Self.embeddingReads(a, ta[j], tb[j], at: e, model: model, backend: backend) {
                let p = a.header.schedule.promptCount + j
                let div = Divergence(index: e, step: a.header.schedule.step(at: e), claimed: nil, computed: nil)
                let reader = winner == .first ? "A's \(ta[j])" : winner == .second ? "B's \(tb[j])" : "neither \(ta[j]) nor \(tb[j])"
                let reason = "the traces agree on every step but commit to different output token \(j); the agreed embedding step at position \(p) "
                    + "reads \(reader): \(FraudProof.describe(winner))"
                return DisputeReport(verdict: winner == .first ? Verdict(holds: true, reason: reason, divergence: div) : .fail(reason, at: div),
                                     rounds: 0, roundBound: bound, transcript: [], winner: winner, proof: nil)
            }
            guard let s = sampleStep, let st = try open(s) else {
                throw VerifyError("the traces agree on every step but commit to different output token \(j); without stored states use replay on each")
            }
            let token = Int32(bitPattern: st.withUnsafeBytes { TraceHeader.sampledToken(state: $0) })
            let div = Divergence(index: s, step: a.header.schedule.step(at: s), claimed: nil, computed: nil)
            let winner: DisputeWinner = token == ta[j] ? .first : token == tb[j] ? .second : .neither
            let reason = "the traces agree on every step but commit to different output token \(j); the agreed sample step chose \(token): \(FraudProof.describe(winner))"
            return DisputeReport(verdict: winner == .first ? Verdict(holds: true, reason: reason, divergence: div) : .fail(reason, at: div),
                                 rounds: 0, roundBound: bound, transcript: [], winner: winner, proof: nil)
        case let .step(index, r, t):
            (i, rounds, transcript) = (index, r, t)
        }
        guard source != nil else {
            throw VerifyError("the referee opens the agreed inputs from stored states: neither trace was written with --trace-activations")
        }
        let recomputer = try StepRecomputer(model: model, backend: backend, request: request)
        func proofPath(_ t: TraceContents, _ j: Int) throws(VerifyError) -> [Digest] {
            do { return try t.tree.inclusionProof(index: UInt64(j)).path } catch { throw VerifyError("inclusion proof \(j): \(error)") }
        }
        var inputs: [AgreedOpening] = []
        for j in recomputer.inputIndices(of: i) {
            inputs.append(AgreedOpening(leaf: a.leaves[j], pathA: try proofPath(a, j), pathB: try proofPath(b, j), state: try open(j)!))
        }
        let previous = i > 0 ? AgreedOpening(leaf: a.leaves[i - 1], pathA: try proofPath(a, i - 1), pathB: try proofPath(b, i - 1), state: []) : nil
        let computed: Digest?
        switch recomputer.digest(of: i, inputs: inputs.map(\.state)) {
        case let .success(d): computed = d
        case .failure: computed = nil
        }
        let winner: DisputeWinner = computed == a.leaves[i].stepDigest ? .first : computed == b.leaves[i].stepDigest ? .second : .neither
        let proof = FraudProof(winner: winner, index: i, a: a.signed, b: b.signed, leafA: a.leaves[i], pathA: try proofPath(a, i),
                               leafB: b.leaves[i], pathB: try proofPath(b, i), previous: previous, inputs: inputs)
        let step = a.header.schedule.step(at: i)
        let divergence = Divergence(index: i, step: step, claimed: a.leaves[i].stepDigest, computed: computed)
        let reason = "first divergent step \(i) (\(step)) after \(rounds) rounds: \(FraudProof.describe(winner))"
        return DisputeReport(verdict: winner == .first ? Verdict(holds: true, reason: reason, divergence: divergence) : .fail(reason, at: divergence),
                             rounds: rounds, roundBound: bound, transcript: transcript, winner: winner, proof: proof)
    }
}

extension Dispute {
    /// Which of two tokens the agreed embedding step at leaf `index` reads, from its leaf (the
    /// digest of one embedding row): nil when the leaf cannot tell them apart, because both
    /// tokens have the same embedding row (then only the sample state that chose the token can).
    static func embeddingReads(_ a: TraceContents, _ tokenA: Int32, _ tokenB: Int32, at index: Int, model: LlamaModel,
                               backend: any Backend) throws(VerifyError) -> DisputeWinner? {
        let recomputer = try StepRecomputer(model: model, backend: backend, request: a.signed.commitment.request)
        let p = Int(a.header.schedule.step(at: index).position), read = a.leaves[index].stepDigest
        let digestA = recomputer.embeddingDigest(position: p, token: Int(tokenA)), digestB = recomputer.embeddingDigest(position: p, token: Int(tokenB))
        guard digestA != digestB else { return nil }
        return digestA == read ? .first : digestB == read ? .second : .neither
    }

    /// Where two traces of one request part, found from their leaves and commitments alone.
    enum Parting {
        /// They agree on every step and every output token (or one is a prefix of the other).
        case nowhere
        /// They agree on every step but commit to different output token `j`; `embeddingStep`,
        /// when both traces have it, is the step that reads token `j` (`E(n_p + j)`); `sampleStep`, when
        /// the traces have it, is the (agreed) sample step that chose it.
        case outputToken(j: Int, embeddingStep: Int?, sampleStep: Int?)
        /// The first divergent step, found by bisection over the chain values in `rounds`
        /// rounds; each round's interval (the chains agree at `lo`, −1 for the chain start, and
        /// differ at `hi`).
        case step(Int, rounds: Int, transcript: [(lo: Int, hi: Int)])
    }

    static func parting(_ a: TraceContents, _ b: TraceContents) -> Parting {
        let n = min(a.leaves.count, b.leaves.count)
        // Invariant: the chains agree at lo (−1: the chain start, fixed by the common request)
        // and differ at hi.
        var lo = -1, hi = n - 1, rounds = 0
        var transcript: [(lo: Int, hi: Int)] = []
        if n == 0 || a.leaves[hi].chain == b.leaves[hi].chain {
            let ta = a.signed.commitment.outputTokens, tb = b.signed.commitment.outputTokens
            guard let j = (0 ..< min(ta.count, tb.count)).first(where: { ta[$0] != tb[$0] }) else { return .nowhere }
            let schedule = a.header.schedule
            let s = schedule.sampleIndex(ofOutput: j)
            let e = schedule.firstIndex(ofPosition: schedule.promptCount + j)
            return .outputToken(j: j, embeddingStep: e < n ? e : nil, sampleStep: s < a.leaves.count ? s : nil)
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            rounds += 1
            if a.leaves[mid].chain == b.leaves[mid].chain { lo = mid } else { hi = mid }
            transcript.append((lo, hi))
        }
        return .step(hi, rounds: rounds, transcript: transcript)
    }

    /// The leaf indices whose stored states `run` opens for traces `a` and `b` (known from their
    /// leaves alone, so that a verifier can fetch just those states from a node that keeps
    /// none, SPEC §9.5): the agreed inputs of the first divergent step, or the sample step of
    /// the first differing output token (needed when that token is the last, or shares its
    /// embedding row with the other trace's token; otherwise the leaf of the embedding step
    /// that reads it decides); none when the traces agree or are for different requests.
    public static func statesOpened(a: TraceContents, b: TraceContents) -> [Int] {
        guard a.signed.commitment.request == b.signed.commitment.request else { return [] }
        switch parting(a, b) {
        case .nowhere: return []
        case let .outputToken(_, _, sampleStep): return sampleStep.map { [$0] } ?? []
        case let .step(i, _, _): return a.header.schedule.inputIndices(of: i)
        }
    }
}

// MARK: - Byte coding of proofs

struct Writer {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    /// `u32 count ‖ count × 32 bytes`.
    mutating func path(_ p: [Digest]) { u32(UInt32(p.count)); for d in p { raw(d.bytes) } }
}

struct Reader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var remaining: Int { bytes.count - offset }
    mutating func take(_ n: Int) -> [UInt8]? {
        guard n >= 0, n <= remaining else { return nil }
        defer { offset += n }
        return Array(bytes[offset ..< offset + n])
    }
    mutating func u8() -> UInt8? { take(1)?[0] }
    mutating func u32() -> UInt32? { take(4).map { $0.enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) } } }
    mutating func u64() -> UInt64? { take(8).map { $0.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) } } }
    /// A path of at most 64 digests.
    mutating func path() -> [Digest]? {
        guard let n = u32(), n <= 64, Int(n) * 32 <= remaining else { return nil }
        return (0 ..< Int(n)).map { _ in Digest(bytes: take(32)!) }
    }
}
