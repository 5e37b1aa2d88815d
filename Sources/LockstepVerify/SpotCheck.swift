import LockstepCore
import LockstepModel
import LockstepNative
import LockstepTrace

/// Spot-check verification (§8.3).
public enum SpotCheck {
    /// Domain tag of the sample stream.
    public static let tag: [UInt8] = Array("lockstep.spotcheck.v1".utf8) + [0]

    /// The largest sample count K a spot-check accepts: 2^20. Drawing, keeping and reporting K
    /// indices costs time and memory in proportion to K, while the work of recomputing is bounded
    /// by the trace's distinct steps. K = 2^20 is already about ten draws per step of a trace of
    /// 100,000 steps, each step then left undrawn with probability e^−10.5 ≈ 3 · 10^−5.
    public static let maxSamples = 1 << 20

    /// Checks a sample count K before any work: the CLI calls it before loading the model,
    /// `verify` again for library callers.
    /// - Throws: `VerifyError` unless `1 ≤ samples ≤ maxSamples`.
    public static func checkSampleCount(_ samples: Int) throws(VerifyError) {
        guard (1 ... maxSamples).contains(samples) else { throw VerifyError("--samples must be between 1 and \(maxSamples), got \(samples)") }
    }

    /// `count` leaf indices in `0 ..< leafCount`, drawn independently (with repetition):
    /// `u64` little-endian from the first 8 bytes of `SHA-256(tag ‖ u8 mode ‖ [u64 seed] ‖ root ‖ u64 counter)`,
    /// counter = 0, 1, …, rejecting values ≥ ⌊2⁶⁴ / N⌋ · N (no modulo bias). Mode 0 (Fiat–Shamir,
    /// `seed` nil) omits the seed; mode 1 includes it.
    public static func sampleIndices(root: Digest, leafCount: Int, count: Int, seed: UInt64?) -> [Int] {
        guard leafCount > 0 else { return [] }
        let n = UInt64(leafCount)
        let limit = (UInt64.max / n) * n  // values < limit are unbiased (approximately 2⁶⁴ − 2⁶⁴ mod N)
        var out: [Int] = [], counter: UInt64 = 0
        let h = SHA256Hasher()
        while out.count < count {
            h.reset()
            h.update(tag)
            h.update([seed == nil ? 0 : 1])
            if let seed { h.update(littleEndian: seed) }
            h.update(root)
            h.update(littleEndian: counter)
            counter += 1
            let b = h.finalize().bytes
            var v: UInt64 = 0
            for i in 0 ..< 8 { v |= UInt64(b[i]) << (8 * UInt64(i)) }
            if v < limit { out.append(Int(v % n)) }
        }
        return out
    }

    /// Samples `samples` steps, opens each with its inputs (checking every opened state against
    /// its leaf; the leaves were checked against the signed root when the trace was read) and
    /// recomputes it (`StepRecomputer`); sampled layer steps of one layer are recomputed together,
    /// in one pass over their shared key/value rows. The first step that fails decides (steps in
    /// sampling order, a layer's steps by position). Before any of this, what no honest run can
    /// claim fails outright (`checkClaims`: a token outside the vocabulary, positions past the
    /// context, an end-of-generation token before the last), and every output token is bound to
    /// the steps (`checkOutputTokens`): the committed text is the text the committed steps read.
    ///
    /// The groups of steps (a layer's sampled steps, or one other step) are independent: they run
    /// on the backend's `concurrentLanes`, one group per lane at a time, and their outcomes are
    /// taken in the order above, so the verdict, the first divergence and `stepsRecomputed` are
    /// those of checking one group after another. The report's `openSeconds` (the opening work)
    /// and `computeSeconds` (the recomputation) are summed over the lanes.
    /// `progress` is called on the calling thread after each distinct sampled step is checked,
    /// with the steps checked so far and the number of distinct steps sampled.
    /// - Throws: `VerifyError` for a trace of another model or contract, one whose states cannot
    ///   be opened, or `samples` outside `1 ... maxSamples`.
    public static func verify(trace: some OpenableTrace, model: LlamaModel, modelDigest: Digest, backend: any Backend,
                              samples: Int, seed: UInt64?, progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws(VerifyError) -> CheckReport {
        let c = trace.signed.commitment, request = c.request
        try checkModel(request, model: model, modelDigest: modelDigest)
        try checkSampleCount(samples)
        let schedule = trace.header.schedule
        if let bad = checkClaims(c, leaves: trace.leaves, model: model, schedule: schedule) {
            return CheckReport(verdict: bad, computeSeconds: 0, openSeconds: 0, stepsRecomputed: 0, samples: [], lanes: 1)
        }
        if trace.leaves.isEmpty {
            return CheckReport(verdict: .ok("the trace has no steps (no output tokens): nothing to sample"), computeSeconds: 0, openSeconds: 0,
                               stepsRecomputed: 0, samples: [], lanes: 1)
        }
        guard trace.opensStates else { throw VerifyError("spot-check opens stored states: write the trace with --trace-activations (or use replay)") }
        let plan = try Plan(schedule: schedule, root: c.root, leafCount: trace.leaves.count, samples: samples, seed: seed)
        let groups = plan.groups
        let lanes = try backend.concurrentLanes(groups.count).map { lane throws(VerifyError) in
            try StepRecomputer(model: model, backend: lane, request: request)
        }
        let tokensStarted = monotonicNow()
        if let bad = try checkOutputTokens(trace, recomputer: lanes[0]) {
            return CheckReport(verdict: bad, computeSeconds: monotonicNow() - tokensStarted, openSeconds: 0, stepsRecomputed: 0, samples: plan.picks,
                               lanes: lanes.count)
        }
        var stepsDone = 0, checked = 0, openSeconds = 0.0, computeSeconds = monotonicNow() - tokensStarted
        var outcome: Result<Verdict, VerifyError>?
        InOrderLanes.run(count: groups.count, lanes: lanes.count) { g, lane in
            GroupCheck(groups[g], trace: trace, schedule: schedule, recomputer: lanes[lane])
        } deliver: { g, check in
            stepsDone += groups[g].count
            openSeconds += check.openSeconds; computeSeconds += check.computeSeconds
            switch check.outcome {
            case .success(nil):
                for _ in groups[g] { checked += 1; progress?(checked, plan.distinctSteps) }
                return true
            case let .success(failure?): outcome = .success(failure)
            case let .failure(error): outcome = .failure(error)
            }
            return false
        }
        let verdict = try outcome?.get() ?? .ok("\(samples) samples (\(plan.distinctSteps) distinct steps of \(trace.leaves.count)) recompute bit for bit")
        return CheckReport(verdict: verdict, computeSeconds: computeSeconds, openSeconds: openSeconds, stepsRecomputed: stepsDone, samples: plan.picks,
                           lanes: lanes.count)
    }
}

extension SpotCheck {
    /// The state of step `index` of `trace`, checked against its leaf; for a sample step, also
    /// the token it ends with against the commitment's output token of its position (a trace
    /// indexed for a spot-check has had none of its states read).
    /// - Returns: the state, or why it fails (a false claim).
    /// - Throws: `VerifyError` when the state cannot be read.
    static func openChecked(_ index: Int, of trace: some OpenableTrace, hasher: SHA256Hasher) throws(VerifyError) -> Result<[UInt8], VerifyError> {
        let opened = try trace.checkedState(at: index, hasher: hasher)
        let step = trace.header.schedule.step(at: index), tokens = trace.signed.commitment.outputTokens
        guard case let .success(state) = opened, step.kind == .sample else { return opened }
        let k = Int(step.position) - (trace.header.schedule.promptCount - 1)
        guard k < tokens.count else {
            return .failure(VerifyError("the commitment has no output token \(k) for its sample step at position \(step.position)"))
        }
        let chosen = state.withUnsafeBytes { TraceHeader.sampledToken(state: $0) }
        guard chosen == UInt32(bitPattern: tokens[k]) else {
            return .failure(VerifyError("the sample step at position \(step.position) chose token \(chosen), the commitment's output token \(k) is \(tokens[k])"))
        }
        return opened
    }

    /// Binds every output token of the commitment to the trace's steps, whatever is sampled:
    /// token j < n_g − 1 is what `E(n_p + j)` reads, so that step's leaf must be the digest of
    /// its embedding row; the last token ends the last sample state, which is opened for it
    /// (`openChecked`). Whether each sample step chose its token is then checked where the
    /// samples fall, as every other step is.
    /// - Returns: the failing verdict, at the step whose leaf or state disagrees, or nil.
    static func checkOutputTokens(_ trace: some OpenableTrace, recomputer: StepRecomputer) throws(VerifyError) -> Verdict? {
        let schedule = trace.header.schedule, tokens = trace.signed.commitment.outputTokens, hasher = SHA256Hasher()
        for (j, token) in tokens.dropLast().enumerated() {
            let p = schedule.promptCount + j, index = schedule.firstIndex(ofPosition: p)
            let expected = recomputer.embeddingDigest(position: p, token: Int(token), hasher: hasher)
            guard expected == trace.leaves[index].stepDigest else {
                return .fail("output token \(j) (\(token)) is not the token the embedding step at position \(p) reads",
                             at: Divergence(at: index, leaves: trace.leaves, schedule: schedule, computed: expected))
            }
        }
        let last = trace.leaves.count - 1
        if case let .failure(why) = try openChecked(last, of: trace, hasher: hasher) {
            return .fail(why.description, at: Divergence(at: last, leaves: trace.leaves, schedule: schedule))
        }
        return nil
    }
}

extension SpotCheck {
    /// What a spot-check samples and opens, known from the signed root and the schedule alone —
    /// so a verifier can fetch the states it will open before checking (from a live node that
    /// keeps no states, SPEC §9.5) and `verify` then opens exactly those.
    public struct Plan: Sendable, Equatable {
        /// The sampled leaf indices in the order drawn (`sampleIndices`), repeats included.
        public let picks: [Int]
        /// The steps in the order they are checked: a layer's sampled steps form one group (by
        /// position), checked when the first of them comes up in `picks`; any other step is a
        /// group of its own.
        public let groups: [[Int]]
        /// Every leaf index whose state the check opens — the groups' steps, the states they read
        /// (`StepSchedule.inputIndices` of each group's last step), and the last step, whose
        /// state holds the last output token (`checkOutputTokens`) — ascending, once each.
        public let openedIndices: [Int]

        /// The distinct sampled steps.
        public var distinctSteps: Int { groups.reduce(0) { $0 + $1.count } }

        /// - Parameter leafCount: the trace's steps (`schedule`'s first `leafCount`).
        /// - Throws: `VerifyError` unless `1 ≤ samples ≤ maxSamples` and `leafCount ≥ 1`.
        public init(schedule: StepSchedule, root: Digest, leafCount: Int, samples: Int, seed: UInt64?) throws(VerifyError) {
            try checkSampleCount(samples)
            guard leafCount >= 1 else { throw VerifyError("the trace has no steps (no output tokens): nothing to sample") }
            picks = sampleIndices(root: root, leafCount: leafCount, count: samples, seed: seed)
            // The sampled layer steps of one layer are one group, checked when the first of them
            // comes up: one key/value cache serves them all (`StepRecomputer.layerDigests`), so the
            // rows below the highest position are opened and rebuilt once, not once per step.
            var layerGroups: [UInt32: [Int]] = [:]
            for i in Set(picks) where schedule.step(at: i).kind == .layer { layerGroups[schedule.step(at: i).layer, default: []].append(i) }
            var groups: [[Int]] = [], grouped = Set<Int>(), opened = Set<Int>()
            for first in picks where !grouped.contains(first) {
                let step = schedule.step(at: first)
                let group = step.kind == .layer ? layerGroups[step.layer]!.sorted() : [first]   // by position
                grouped.formUnion(group)
                groups.append(group)
                opened.formUnion(group)
                opened.formUnion(schedule.inputIndices(of: group.last!))
            }
            self.groups = groups
            opened.insert(leafCount - 1)
            openedIndices = opened.sorted()
        }
    }
}

/// One group of sampled steps checked: its steps and their inputs opened (each state checked
/// against its leaf), the steps recomputed and compared with their leaves. `openSeconds` is the
/// opening, `computeSeconds` the recomputation and comparison.
private struct GroupCheck {
    /// `.success(nil)`: every step of the group holds; `.success(verdict)`: the failing verdict
    /// (the group's first failing step); `.failure`: a state could not be read.
    let outcome: Result<Verdict?, VerifyError>
    let openSeconds: Double, computeSeconds: Double

    init(_ group: [Int], trace: some OpenableTrace, schedule: StepSchedule, recomputer: StepRecomputer) {
        let started = monotonicNow()
        var computeStarted: Double?
        outcome = Result { () throws(VerifyError) in
            try Self.check(group, trace: trace, schedule: schedule, recomputer: recomputer, computeStarted: &computeStarted)
        }
        let ended = monotonicNow()
        openSeconds = (computeStarted ?? ended) - started
        computeSeconds = computeStarted.map { ended - $0 } ?? 0
    }

    private static func check(_ group: [Int], trace: some OpenableTrace, schedule: StepSchedule, recomputer: StepRecomputer,
                              computeStarted: inout Double?) throws(VerifyError) -> Verdict? {
        let hasher = SHA256Hasher()
        // The state of step j, checked against its leaf and, for a sample state, against the
        // commitment's output token (`SpotCheck.openChecked`), or the reason it fails.
        func open(_ j: Int) throws(VerifyError) -> Result<[UInt8], VerifyError> { try SpotCheck.openChecked(j, of: trace, hasher: hasher) }
        let first = group[0], step0 = schedule.step(at: first)
        for i in group {
            if case let .failure(why) = try open(i) {
                return .fail(why.description, at: Divergence(at: i, leaves: trace.leaves, schedule: schedule))
            }
        }
        var inputs: [[UInt8]] = []
        for j in recomputer.inputIndices(of: group.last!) {
            switch try open(j) {
            case let .success(state): inputs.append(state)
            case let .failure(why): return .fail(why.description, at: Divergence(at: j, leaves: trace.leaves, schedule: schedule))
            }
        }
        computeStarted = monotonicNow()
        let computed = step0.kind == .layer
            ? recomputer.layerDigests(layer: Int(step0.layer), positions: group.map { Int(schedule.step(at: $0).position) }, inputs: inputs)
            : recomputer.digest(of: first, inputs: inputs).map { [$0] }
        switch computed {
        case let .failure(e):
            return .fail("step \(first) (\(step0)): \(e)", at: Divergence(index: first, step: step0, claimed: trace.leaves[first].stepDigest, computed: nil))
        case let .success(digests):
            for (i, d) in zip(group, digests) {
                let step = schedule.step(at: i), claimed = trace.leaves[i].stepDigest
                guard d == claimed else {
                    return .fail("step \(i) (\(step)) does not follow from its opened inputs",
                                 at: Divergence(index: i, step: step, claimed: claimed, computed: d))
                }
            }
            return nil
        }
    }
}
