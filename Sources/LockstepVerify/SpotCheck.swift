import LockstepCore
import LockstepModel
import LockstepNative
import LockstepTrace

/// Spot-check verification (§8.3).
public enum SpotCheck {
    /// Domain tag of the sample stream.
    public static let tag: [UInt8] = Array("lockstep.spotcheck.v1".utf8) + [0]

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
    /// sampling order, a layer's steps by position). The report's `openSeconds` is the opening
    /// work, `computeSeconds` the recomputation.
    /// `progress` is called after each distinct sampled step is checked, with the steps checked so
    /// far and the number of distinct steps sampled.
    /// - Throws: `VerifyError` for a trace of another model or contract, one whose states cannot
    ///   be opened, or `samples < 1`.
    public static func verify(trace: some OpenableTrace, model: LlamaModel, modelDigest: Digest, backend: any Backend,
                              samples: Int, seed: UInt64?, progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws(VerifyError) -> CheckReport {
        let c = trace.signed.commitment, request = c.request
        try checkModel(request, model: model, modelDigest: modelDigest)
        guard trace.opensStates else { throw VerifyError("spot-check opens stored states: write the trace with --trace-activations (or use replay)") }
        guard samples >= 1 else { throw VerifyError("--samples must be ≥ 1") }
        let schedule = trace.header.schedule
        if let bad = checkStopping(c, model: model, schedule: schedule) {
            return CheckReport(verdict: bad, computeSeconds: 0, openSeconds: 0, stepsRecomputed: 0, samples: [])
        }
        let picks = sampleIndices(root: c.root, leafCount: trace.leaves.count, count: samples, seed: seed)
        let recomputer = try StepRecomputer(model: model, backend: backend, request: request)
        var done = Set<Int>(), openSeconds = 0.0, computeSeconds = 0.0
        let distinct = Set(picks)
        func report(_ verdict: Verdict) -> CheckReport {
            CheckReport(verdict: verdict, computeSeconds: computeSeconds, openSeconds: openSeconds, stepsRecomputed: done.count, samples: picks)
        }
        // The state of step j, checked against its leaf, or the reason it fails.
        let hasher = SHA256Hasher()
        func open(_ j: Int) throws(VerifyError) -> Result<[UInt8], VerifyError> {
            let state = try trace.state(at: j)
            if let why = StepOpening.checkState(state, of: trace.leaves[j], step: schedule.step(at: j), header: trace.header, hasher: hasher) {
                return .failure(VerifyError(why))
            }
            return .success(state)
        }
        // The sampled layer steps of one layer are checked together when the first of them comes
        // up: one key/value cache serves them all (`StepRecomputer.layerDigests`), so the rows
        // below the highest position are opened and rebuilt once, not once per step.
        var layerGroups: [UInt32: [Int]] = [:]
        for i in distinct where schedule.step(at: i).kind == .layer { layerGroups[schedule.step(at: i).layer, default: []].append(i) }
        var checked = 0
        for first in picks where !done.contains(first) {
            let step0 = schedule.step(at: first)
            let group = step0.kind == .layer ? layerGroups[step0.layer]!.sorted() : [first]   // by position
            done.formUnion(group)
            let openStarted = monotonicNow()
            for i in group {
                if case let .failure(why) = try open(i) {
                    openSeconds += monotonicNow() - openStarted
                    return report(.fail(why.description, at: Divergence(index: i, step: schedule.step(at: i), claimed: trace.leaves[i].stepDigest, computed: nil)))
                }
            }
            var inputs: [[UInt8]] = []
            for j in recomputer.inputIndices(of: group.last!) {
                switch try open(j) {
                case let .success(state): inputs.append(state)
                case let .failure(why):
                    openSeconds += monotonicNow() - openStarted
                    return report(.fail(why.description))
                }
            }
            let computeStarted = monotonicNow()
            openSeconds += computeStarted - openStarted
            let computed = step0.kind == .layer
                ? recomputer.layerDigests(layer: Int(step0.layer), positions: group.map { Int(schedule.step(at: $0).position) }, inputs: inputs)
                : recomputer.digest(of: first, inputs: inputs).map { [$0] }
            computeSeconds += monotonicNow() - computeStarted
            switch computed {
            case let .failure(e):
                return report(.fail("step \(first) (\(step0)): \(e)", at: Divergence(index: first, step: step0, claimed: trace.leaves[first].stepDigest, computed: nil)))
            case let .success(digests):
                for (i, d) in zip(group, digests) {
                    let step = schedule.step(at: i), claimed = trace.leaves[i].stepDigest
                    guard d == claimed else {
                        return report(.fail("step \(i) (\(step)) does not follow from its opened inputs",
                                            at: Divergence(index: i, step: step, claimed: claimed, computed: d)))
                    }
                    checked += 1
                    progress?(checked, distinct.count)
                }
            }
        }
        return report(.ok("\(samples) samples (\(done.count) distinct steps of \(trace.leaves.count)) recompute bit for bit"))
    }
}
