import LockstepCore
import LockstepTokenizer

/// One request's state: the KV cache and the tokens seen so far. Feed tokens with `prefill`
/// / `decode`, or run a whole greedy or sampled generation with `generate`.
public final class InferenceSession {
    /// The model.
    public let model: LlamaModel
    /// The backend every op runs on.
    public let backend: any Backend
    /// The KV cache.
    public let cache: KVCache
    /// Every token evaluated so far (prompt and generated).
    public private(set) var tokens: [TokenID] = []
    /// Maximum positions (defaults to `model.config.contextLimit`).
    public let contextLimit: Int

    public init(model: LlamaModel, backend: any Backend, contextLimit: Int? = nil) {
        self.model = model
        self.backend = backend
        cache = KVCache(layers: model.config.layers, shape: model.config.attentionShape)
        self.contextLimit = contextLimit.map { min($0, RopeAngles.maxPosition + 1) } ?? model.config.contextLimit
    }

    /// Whether every position is filled, so that no further token can be evaluated.
    public var isFull: Bool { tokens.count >= contextLimit }

    /// Evaluates `newTokens` after the tokens already seen and returns logits
    /// (`rows × vocab`, rows per `logits`).
    /// - Throws: `GenerationError` for an empty input, an out-of-range token id or a context overflow.
    public func evaluate(_ newTokens: [TokenID], logits: LlamaModel.LogitRows = .last,
                         observer: ((_ layer: Int?, _ residual: UnsafeBufferPointer<Float>) -> Void)? = nil) throws(GenerationError) -> [Float] {
        guard !newTokens.isEmpty else { throw GenerationError("no tokens to evaluate") }
        if let bad = newTokens.first(where: { $0 < 0 || Int($0) >= model.config.vocabularySize }) {
            throw GenerationError("token id \(bad) is outside the vocabulary (0..<\(model.config.vocabularySize))")
        }
        guard tokens.count + newTokens.count <= contextLimit else {
            throw GenerationError(tokens.isEmpty
                ? "the prompt has \(newTokens.count) tokens, more than the context limit of \(contextLimit) positions"
                : "\(tokens.count + newTokens.count) positions exceed the context limit \(contextLimit)")
        }
        let out = try model.forward(tokens: newTokens, start: tokens.count, cache: cache, backend: backend, logits: logits, observer: observer)
        tokens += newTokens
        return out
    }

    /// Generates up to `maxTokens` tokens after `prompt`, calling `onToken` with each as soon
    /// as it is chosen (return false to stop). Stops early at an end-of-generation token
    /// (which is included in the result), and when the context is full (§4.4: the prompt and
    /// the output fill `contextLimit + 1` tokens, the last with no position to be evaluated at).
    /// - Returns: the tokens and the reason the generation stopped (`StopReason`).
    /// - Throws: `GenerationError` for a negative `maxTokens`, and as `evaluate` does for the prompt.
    public func generate(prompt: [TokenID], maxTokens: Int, sampler: SamplerSettings,
                         onToken: (TokenID) -> Bool = { _ in true }) throws(GenerationError) -> GeneratedTokens {
        guard maxTokens >= 0 else { throw GenerationError("max tokens must be ≥ 0, got \(maxTokens)") }
        guard maxTokens > 0 else { return GeneratedTokens(tokens: [], stop: .maxTokens) }
        var logits = try evaluate(prompt)
        var out: [TokenID] = []
        while true {
            let next = logits.withUnsafeBufferPointer { Sampler.sample($0, settings: sampler, index: out.count) }
            out.append(next)
            let keepGoing = onToken(next)
            if let stop = StopReason.after(next, produced: out.count, maxTokens: maxTokens, tokenizer: model.tokenizer,
                                           contextFull: isFull, callerContinues: keepGoing) {
                return GeneratedTokens(tokens: out, stop: stop)
            }
            logits = try evaluate([next])
        }
    }
}

/// Why a generation request cannot run.
public struct GenerationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
