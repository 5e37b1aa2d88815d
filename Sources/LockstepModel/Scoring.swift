import LockstepCore
import LockstepTokenizer

/// Teacher-forced scoring of a token sequence (the analogue of llama.cpp's perplexity tool).
public struct ScoreResult: Sendable, Codable, Equatable {
    /// The scored tokens.
    public var tokens: [TokenID]
    /// For each position i < n−1, the id the model ranks first for position i+1 (ties → lowest id).
    public var top1: [TokenID]
    /// For each position i < n−1, −ln p(tokens[i+1] | tokens[...i]) in nats.
    public var nll: [Double]
    /// exp(mean nll).
    public var perplexity: Double
}

extension LlamaModel {
    /// Scores `tokens` (at least 2, at most `RopeAngles.maxPosition + 2`: positions may go past
    /// the model's context length) teacher-forced, evaluating `chunk` tokens per forward pass.
    /// The log-softmax is computed in binary64 with the contract's `exp` and `log`; as every
    /// logit is finite, so is every `nll` value (the largest logit is subtracted, so the sum of
    /// exponentials is in `1 … vocab`).
    /// - Parameters: `progress` is called with the number of tokens evaluated so far.
    /// - Throws: `GenerationError` for too few or too many tokens, for a residual value out of the
    ///   binary32 range (as `forward` does), for a logit that is ±∞ or NaN, naming the position
    ///   and token id (the contract refuses such a row rather than score it, SPEC §4.5), or when
    ///   the perplexity is +∞ (a mean `nll` above 709 nats, where the contract's `exp` gives +∞).
    public func score(tokens: [TokenID], backend: any Backend, chunk: Int = 64,
                      progress: (Int) -> Void = { _ in }) throws(GenerationError) -> ScoreResult {
        guard tokens.count >= 2 else { throw GenerationError("scoring needs at least 2 tokens, got \(tokens.count)") }
        // Beyond the model's context is allowed, up to the session's limit (the last position
        // RoPE is defined for): refused here rather than after evaluating every position before it.
        let session = InferenceSession(model: self, backend: backend, contextLimit: max(config.contextLength, tokens.count))
        guard tokens.count - 1 <= session.contextLimit else {
            throw GenerationError("scoring evaluates \(tokens.count - 1) positions, more than the \(session.contextLimit) the contract defines")
        }
        let vocab = config.vocabularySize
        var top1: [TokenID] = [], nll: [Double] = []
        var start = 0
        while start < tokens.count - 1 {
            let end = min(start + max(chunk, 1), tokens.count - 1)
            let logits = try session.evaluate(Array(tokens[start..<end]), logits: .all)
            for r in 0 ..< end - start {
                let nonFinite = logits.withUnsafeBufferPointer { all -> (id: Int, value: Float)? in
                    let row = UnsafeBufferPointer(rebasing: all[r * vocab ..< (r + 1) * vocab])
                    if let id = row.firstNonFiniteIndex() { return (id, row[id]) }
                    let best = Sampler.argmax(row)
                    top1.append(TokenID(best))
                    let m = Double(row[best])
                    var z = 0.0
                    for v in row { z += ContractMath.exp(Double(v) - m) }
                    let target = Double(row[Int(tokens[start + r + 1])])
                    nll.append(-(target - m - ContractMath.log(z)))
                    return nil
                }
                if let (id, value) = nonFinite {
                    throw GenerationError("position \(start + r), token id \(id): a logit is \(value); "
                                          + "the computation left the binary32 range, which contract \(ContractVersion.current) does not define")
                }
            }
            start = end
            progress(start)
        }
        let mean = nll.reduce(0, +) / Double(nll.count)
        let perplexity = ContractMath.exp(mean)
        guard perplexity.isFinite else {
            throw GenerationError("the mean negative log-likelihood is \(mean) nats: the perplexity, its exponential, is beyond the binary64 range")
        }
        return ScoreResult(tokens: tokens, top1: top1, nll: nll, perplexity: perplexity)
    }
}
