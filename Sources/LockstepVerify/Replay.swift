import Foundation
import LockstepCore
import LockstepModel
import LockstepNative
import LockstepTrace

/// What a replay or spot-check found, with its cost.
public struct CheckReport: Sendable {
    public let verdict: Verdict
    /// Seconds spent recomputing (the forward passes or the opened steps), excluding reading the trace.
    public let computeSeconds: Double
    /// Steps recomputed.
    public let stepsRecomputed: Int
    /// Spot-check only: the sampled leaf indices, in sampling order (with repetitions).
    public let samples: [Int]
}

/// Checks that a trace's request is one this model can answer.
func checkModel(_ request: TraceRequest, model: LlamaModel, modelDigest: Digest) throws(VerifyError) {
    guard request.modelDigest == modelDigest else {
        throw VerifyError("the trace is for model \(request.modelDigest.hex), --model has digest \(modelDigest.hex)")
    }
    guard request.shape == (try? ModelShape(model)) else { throw VerifyError("the request's model shape is not the model's") }
    guard request.contractVersion == ContractVersion.current else {
        throw VerifyError("the trace was computed under contract \(request.contractVersion), this verifier implements \(ContractVersion.current)")
    }
}

/// Checks that no output token before the last is an end-of-generation token (§7.9 T1).
func checkStopping(_ c: Commitment, model: LlamaModel, schedule: StepSchedule) -> Verdict? {
    for (j, t) in c.outputTokens.dropLast().enumerated() where model.tokenizer.isEndOfGeneration(t) {
        let p = schedule.promptCount - 1 + j
        return .fail("output token \(j) is end-of-generation but the generation went on",
                     at: Divergence(index: schedule.firstIndex(ofPosition: p) + schedule.layers + 1, step: .sample(p), claimed: nil, computed: nil))
    }
    return nil
}

/// Replay verification (§8.2).
public enum Replay {
    /// Re-executes the request as batched, teacher-forced forward passes over prompt and claimed
    /// output (`TracedGeneration.replay`) and compares every leaf with the trace's.
    /// - Throws: `VerifyError` when the trace is for another model or contract.
    public static func verify(trace: TraceContents, model: LlamaModel, modelDigest: Digest, backend: any Backend) throws(VerifyError) -> CheckReport {
        let c = trace.signed.commitment, request = c.request
        try checkModel(request, model: model, modelDigest: modelDigest)
        let schedule = trace.header.schedule
        func report(_ v: Verdict, _ seconds: Double = 0, _ steps: Int = 0) -> CheckReport {
            CheckReport(verdict: v, computeSeconds: seconds, stepsRecomputed: steps, samples: [])
        }
        if let bad = checkStopping(c, model: model, schedule: schedule) { return report(bad) }
        if let bad = c.outputTokens.firstIndex(where: { $0 < 0 || Int($0) >= model.config.vocabularySize }) {
            let p = schedule.promptCount - 1 + bad
            return report(.fail("output token \(bad) (\(c.outputTokens[bad])) is outside the vocabulary",
                                at: Divergence(index: schedule.firstIndex(ofPosition: p) + schedule.layers + 1, step: .sample(p), claimed: trace.leaves[schedule.firstIndex(ofPosition: p) + schedule.layers + 1].stepDigest, computed: nil)))
        }
        let started = monotonicNow()
        let replayed: (commitment: Commitment, leaves: [TraceLeaf], tree: MerkleTree)
        do {
            replayed = try TracedGeneration.replay(model: model, backend: backend, request: request, outputTokens: c.outputTokens)
        } catch {
            return report(.fail("the request cannot be replayed: \(error)"), monotonicNow() - started)
        }
        let seconds = monotonicNow() - started
        guard replayed.leaves.count == trace.leaves.count else {
            return report(.fail("the replay has \(replayed.leaves.count) steps, the trace \(trace.leaves.count)"), seconds, replayed.leaves.count)
        }
        for i in 0 ..< trace.leaves.count where replayed.leaves[i] != trace.leaves[i] {
            let step = schedule.step(at: i)
            var why = "step \(i) (\(step)) differs from the replay"
            if step.kind == .sample {
                let j = Int(step.position) - (schedule.promptCount - 1)
                if replayed.commitment.outputTokens[j] != c.outputTokens[j] {
                    why += ": the request's sampler chooses token \(replayed.commitment.outputTokens[j]), the trace claims \(c.outputTokens[j])"
                }
            }
            return report(.fail(why, at: Divergence(index: i, step: step, claimed: trace.leaves[i].stepDigest, computed: replayed.leaves[i].stepDigest)),
                          seconds, replayed.leaves.count)
        }
        guard replayed.commitment.root == c.root, replayed.commitment.finalChain == c.finalChain else {
            return report(.fail("the replayed root or final chain differs"), seconds, replayed.leaves.count)
        }
        return report(.ok("all \(trace.leaves.count) steps replay bit for bit (\(c.outputTokens.count) output tokens)"), seconds, replayed.leaves.count)
    }
}

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
            h.update(root.bytes)
            h.update(littleEndian: counter)
            counter += 1
            let b = h.finalize().bytes
            var v: UInt64 = 0
            for i in 0 ..< 8 { v |= UInt64(b[i]) << (8 * UInt64(i)) }
            if v < limit { out.append(Int(v % n)) }
        }
        return out
    }

    /// Samples `samples` steps, opens each with its inputs (checking every opening against the
    /// signed root) and recomputes it.
    public static func verify(trace: TraceContents, model: LlamaModel, modelDigest: Digest, backend: any Backend,
                              samples: Int, seed: UInt64?) throws(VerifyError) -> CheckReport {
        let c = trace.signed.commitment, request = c.request
        try checkModel(request, model: model, modelDigest: modelDigest)
        guard trace.states != nil else { throw VerifyError("spot-check opens stored states: write the trace with --trace-activations (or use replay)") }
        guard samples >= 1 else { throw VerifyError("--samples must be ≥ 1") }
        let schedule = trace.header.schedule
        if let bad = checkStopping(c, model: model, schedule: schedule) { return CheckReport(verdict: bad, computeSeconds: 0, stepsRecomputed: 0, samples: []) }
        let picks = sampleIndices(root: c.root, leafCount: trace.leaves.count, count: samples, seed: seed)
        let recomputer = try StepRecomputer(model: model, backend: backend, request: request)
        let started = monotonicNow()
        var done = Set<Int>()
        for i in picks where !done.contains(i) {
            done.insert(i)
            let step = schedule.step(at: i)
            let target = try StepOpening(trace: trace, index: i)
            if let why = target.check(index: i, step: step, header: trace.header, commitment: c) {
                return CheckReport(verdict: .fail(why, at: Divergence(index: i, step: step, claimed: target.leaf.stepDigest, computed: nil)),
                                   computeSeconds: monotonicNow() - started, stepsRecomputed: done.count, samples: picks)
            }
            var inputs: [[UInt8]] = []
            for j in recomputer.inputIndices(of: i) {
                let o = try StepOpening(trace: trace, index: j)
                if let why = o.check(index: j, step: schedule.step(at: j), header: trace.header, commitment: c) {
                    return CheckReport(verdict: .fail(why), computeSeconds: monotonicNow() - started, stepsRecomputed: done.count, samples: picks)
                }
                inputs.append(o.state)
            }
            switch recomputer.digest(of: i, inputs: inputs) {
            case let .failure(e):
                return CheckReport(verdict: .fail("step \(i) (\(step)): \(e)", at: Divergence(index: i, step: step, claimed: target.leaf.stepDigest, computed: nil)),
                                   computeSeconds: monotonicNow() - started, stepsRecomputed: done.count, samples: picks)
            case let .success(d) where d != target.leaf.stepDigest:
                return CheckReport(verdict: .fail("step \(i) (\(step)) does not follow from its opened inputs",
                                                  at: Divergence(index: i, step: step, claimed: target.leaf.stepDigest, computed: d)),
                                   computeSeconds: monotonicNow() - started, stepsRecomputed: done.count, samples: picks)
            case .success: break
            }
        }
        return CheckReport(verdict: .ok("\(samples) samples (\(done.count) distinct steps of \(trace.leaves.count)) recompute bit for bit"),
                           computeSeconds: monotonicNow() - started, stepsRecomputed: done.count, samples: picks)
    }
}

/// A monotonic clock in seconds.
public func monotonicNow() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
