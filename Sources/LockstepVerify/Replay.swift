import Foundation
import LockstepCore
import LockstepModel
import LockstepNative
import LockstepTrace

/// What a replay or spot-check found, with its cost. Neither figure includes reading the trace
/// (`TraceReader`, `TraceIndex`), loading the model or hashing its weights.
public struct CheckReport: Sendable {
    public let verdict: Verdict
    /// Seconds spent recomputing: the teacher-forced forward passes and their step hashing
    /// (replay), or the sampled steps (spot-check).
    public let computeSeconds: Double
    /// Spot-check only (0 for replay): seconds spent opening the sampled steps and their inputs —
    /// reading the states, hashing each against its leaf, checking each leaf's path to the root.
    public let openSeconds: Double
    /// Steps recomputed.
    public let stepsRecomputed: Int
    /// Spot-check only: the sampled leaf indices, in sampling order (with repetitions).
    public let samples: [Int]
    /// Spot-check only (1 for replay): the lanes (`Backend.concurrentLanes`) that checked groups
    /// of steps at the same time; `openSeconds` and `computeSeconds` are summed over them.
    public let lanes: Int
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

/// Why the positions a commitment evaluates cannot come from an honest run of this model, or
/// nil: n_p + n_g − 1 positions (none without output) at most `LlamaConfig.contextLimit` — an
/// honest run stops when the context is full, and no position past the limit has a RoPE angle.
func contextOverrun(_ c: Commitment, config: LlamaConfig) -> String? {
    let positions = c.outputTokens.isEmpty ? 0 : c.request.promptTokens.count + c.outputTokens.count - 1
    guard positions > config.contextLimit else { return nil }
    return "the trace evaluates \(positions) positions, more than the model's context of \(config.contextLimit)"
}

/// Checks, before any step is recomputed, what a commitment claims that no honest run of this
/// model can produce: a prompt token outside the vocabulary, more positions than the context
/// (`contextOverrun`), an end-of-generation output token before the last (§7.9 T1), an output
/// token outside the vocabulary.
/// - Returns: the failing verdict, at the first step concerned, or nil.
func checkClaims(_ c: Commitment, leaves: [TraceLeaf], model: LlamaModel, schedule: StepSchedule) -> Verdict? {
    let vocabulary = model.config.vocabularySize
    func divergence(_ index: Int) -> Divergence? {
        index < leaves.count ? Divergence(at: index, leaves: leaves, schedule: schedule) : nil
    }
    if let p = c.request.promptTokens.firstIndex(where: { $0 < 0 || Int($0) >= vocabulary }) {
        return .fail("prompt token \(p) (\(c.request.promptTokens[p])) is outside the vocabulary of \(vocabulary) tokens",
                     at: divergence(schedule.firstIndex(ofPosition: p)))
    }
    if let why = contextOverrun(c, config: model.config) { return .fail(why, at: divergence(schedule.firstIndex(ofPosition: model.config.contextLimit))) }
    for (j, t) in c.outputTokens.dropLast().enumerated() where model.tokenizer.isEndOfGeneration(t) {
        return .fail("output token \(j) is end-of-generation but the generation went on", at: divergence(schedule.sampleIndex(ofOutput: j)))
    }
    if let j = c.outputTokens.firstIndex(where: { $0 < 0 || Int($0) >= vocabulary }) {
        return .fail("output token \(j) (\(c.outputTokens[j])) is outside the vocabulary", at: divergence(schedule.sampleIndex(ofOutput: j)))
    }
    return nil
}

/// Replay verification (§8.2).
public enum Replay {
    /// Re-executes the request as batched, teacher-forced forward passes over prompt and claimed
    /// output (`TracedGeneration.replay`) and compares every leaf with the trace's.
    /// - Parameter progress: the replay's progress (`TracedGeneration.replay`): embedding and
    ///   layer steps recomputed so far, and their total.
    /// - Throws: `VerifyError` when the trace is for another model or contract.
    public static func verify(trace: TraceContents, model: LlamaModel, modelDigest: Digest, backend: any Backend,
                              progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws(VerifyError) -> CheckReport {
        let c = trace.signed.commitment, request = c.request
        try checkModel(request, model: model, modelDigest: modelDigest)
        let schedule = trace.header.schedule
        func report(_ v: Verdict, _ seconds: Double = 0, _ steps: Int = 0) -> CheckReport {
            CheckReport(verdict: v, computeSeconds: seconds, openSeconds: 0, stepsRecomputed: steps, samples: [], lanes: 1)
        }
        if let bad = checkClaims(c, leaves: trace.leaves, model: model, schedule: schedule) { return report(bad) }
        let started = monotonicNow()
        let replayed: (commitment: Commitment, leaves: [TraceLeaf])
        do {
            replayed = try TracedGeneration.replay(model: model, backend: backend, request: request, outputTokens: c.outputTokens, progress: progress)
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
        // Every leaf agrees, yet a committed token may still differ from the sampler's choice
        // where no leaf holds it: the last token of a trace without states, or a token whose
        // embedding row is another token's.
        let chosen = replayed.commitment.outputTokens
        if let j = c.outputTokens.indices.first(where: { $0 >= chosen.count || chosen[$0] != c.outputTokens[$0] }) {
            let i = schedule.sampleIndex(ofOutput: j)
            let choice = j < chosen.count ? "\(chosen[j])" : "no token"
            return report(.fail("output token \(j): the request's sampler chooses \(choice), the commitment claims \(c.outputTokens[j])",
                                at: Divergence(at: i, leaves: trace.leaves, schedule: schedule, computed: replayed.leaves[i].stepDigest)),
                          seconds, replayed.leaves.count)
        }
        guard replayed.commitment.root == c.root, replayed.commitment.finalChain == c.finalChain else {
            return report(.fail("the replayed root or final chain differs"), seconds, replayed.leaves.count)
        }
        return report(.ok("all \(trace.leaves.count) steps replay bit for bit (\(c.outputTokens.count) output tokens)"), seconds, replayed.leaves.count)
    }
}

/// A monotonic clock in seconds.
public func monotonicNow() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
