import LockstepTokenizer

/// Why a generation ended (SPEC §4.4). When several conditions hold after the same token, the
/// first in this order is reported: end token, max tokens, full context, caller.
public enum StopReason: String, Sendable, Equatable, CaseIterable {
    /// The model chose an end-of-generation token (kept as the output's last token).
    case endOfGeneration = "end_of_generation"
    /// The output holds the request's maximum number of tokens (also for a maximum of 0).
    case maxTokens = "max_tokens"
    /// Prompt and output fill the context: `contextLimit + 1` tokens, the last with no position
    /// of its own to be evaluated at.
    case contextFull = "context_full"
    /// The caller's `onToken` returned false.
    case caller = "caller"

    /// The reason to stop after the `produced`-th output token `token` (1-based count), or nil
    /// to go on. The one stopping rule of every generation loop.
    /// - Parameters:
    ///   - contextFull: whether every position is filled, so that `token` cannot be evaluated
    ///     (`InferenceSession.isFull`).
    ///   - callerContinues: what the caller's `onToken` returned for `token`.
    public static func after(_ token: TokenID, produced: Int, maxTokens: Int, tokenizer: Tokenizer,
                             contextFull: Bool, callerContinues: Bool) -> StopReason? {
        if tokenizer.isEndOfGeneration(token) { return .endOfGeneration }
        if produced >= maxTokens { return .maxTokens }
        if contextFull { return .contextFull }
        if !callerContinues { return .caller }
        return nil
    }
}

/// The output of a generation request: the tokens and why it stopped.
public struct GeneratedTokens: Sendable, Equatable {
    /// The generated token ids, in order (an end-of-generation token that stopped it included).
    public let tokens: [TokenID]
    /// Why the generation ended.
    public let stop: StopReason

    public init(tokens: [TokenID], stop: StopReason) {
        self.tokens = tokens
        self.stop = stop
    }
}
