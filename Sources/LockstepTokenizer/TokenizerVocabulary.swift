import LockstepGGUF

/// A token id: an index into ``TokenizerVocabulary/tokens``.
public typealias TokenID = Int32

/// An error raised while reading a vocabulary, building a ``Tokenizer`` or formatting a chat.
///
/// The message names the metadata key, token, merge or id at fault, so it can be shown as is.
public struct TokenizerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A human-readable explanation of what is wrong.
    public let message: String

    /// Creates an error with the given message.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// Token types as stored in `tokenizer.ggml.token_type` (llama.cpp's `llama_token_type`).
public enum TokenType {
    /// Type 0: undefined.
    public static let undefined: Int32 = 0
    /// Type 1: an ordinary token produced by the tokenizer from text.
    public static let normal: Int32 = 1
    /// Type 2: the unknown token.
    public static let unknown: Int32 = 2
    /// Type 3: a control token such as `<|im_start|>` or `<s>`; only produced from text when
    /// `parseSpecial` is true.
    public static let control: Int32 = 3
    /// Type 4: a user-defined token; like control tokens, only matched when `parseSpecial` is true.
    public static let userDefined: Int32 = 4
    /// Type 5: an unused slot.
    public static let unused: Int32 = 5
    /// Type 6: a byte-fallback token `<0xXX>` (SentencePiece vocabularies).
    public static let byte: Int32 = 6
}

/// Everything a tokenizer needs from a GGUF file's `tokenizer.*` metadata, as plain Swift values.
///
/// Build one directly (for tests and synthetic vocabularies) or from a GGUF metadata dictionary
/// with ``init(metadata:)``. Nothing is checked here; ``Tokenizer/init(vocabulary:)`` validates.
public struct TokenizerVocabulary: Sendable, Equatable {
    /// `tokenizer.ggml.model`: `"gpt2"` (byte-level BPE ranked by merges) or `"llama"`
    /// (SentencePiece-style BPE ranked by token scores, with `<0xXX>` byte fallback).
    public var model: String
    /// `tokenizer.ggml.pre`: the pre-tokenizer of a `"gpt2"` model: `"smollm"`, `"gpt2"`/`"gpt-2"`,
    /// `"default"` (same as gpt2), `"llama3"`/`"llama-bpe"`/`"llama-v3"`; `nil` means `"default"`.
    /// Ignored by `"llama"` models, which have no pre-tokenizer (as in llama.cpp).
    public var pre: String?
    /// `tokenizer.ggml.tokens`: the text of every token, indexed by id. Byte-level (`gpt2`) vocabularies
    /// spell bytes with the GPT-2 byte-to-unicode alphabet (`Ġ` for a space); SentencePiece
    /// vocabularies use `▁` for a space.
    public var tokens: [String]
    /// `tokenizer.ggml.scores`: per-token scores (merge priority of a `"llama"` model; higher first).
    public var scores: [Float]?
    /// `tokenizer.ggml.token_type`: per-token types (see ``TokenType``); `nil` means all normal.
    public var tokenTypes: [Int32]?
    /// `tokenizer.ggml.merges`: BPE merges `"left right"` in rank order (lowest rank merges first).
    public var merges: [String]
    /// `tokenizer.ggml.bos_token_id`: beginning-of-sequence token.
    public var bosID: TokenID?
    /// `tokenizer.ggml.eos_token_id`: end-of-sequence token.
    public var eosID: TokenID?
    /// `tokenizer.ggml.unknown_token_id`: the token used for text the vocabulary cannot spell.
    public var unknownID: TokenID?
    /// `tokenizer.ggml.padding_token_id`: padding token.
    public var paddingID: TokenID?
    /// `tokenizer.ggml.eot_token_id`: end-of-turn token, when the file names one.
    public var eotID: TokenID?
    /// `tokenizer.ggml.add_bos_token`: whether `encode(_:addSpecial: true)` prepends ``bosID``.
    public var addBOS: Bool
    /// `tokenizer.ggml.add_eos_token`: whether `encode(_:addSpecial: true)` appends ``eosID``.
    public var addEOS: Bool
    /// `tokenizer.ggml.add_space_prefix`: whether a `"llama"` model prefixes text with a space
    /// (`▁`) before tokenizing. `nil` means the model default: true for `"llama"`. Ignored by
    /// `"gpt2"` models.
    public var addSpacePrefix: Bool?
    /// `tokenizer.chat_template`: the Jinja chat template, used only to pick the chat format.
    public var chatTemplate: String?

    /// Creates a vocabulary from plain values.
    public init(
        model: String,
        pre: String? = nil,
        tokens: [String],
        scores: [Float]? = nil,
        tokenTypes: [Int32]? = nil,
        merges: [String] = [],
        bosID: TokenID? = nil,
        eosID: TokenID? = nil,
        unknownID: TokenID? = nil,
        paddingID: TokenID? = nil,
        eotID: TokenID? = nil,
        addBOS: Bool = false,
        addEOS: Bool = false,
        addSpacePrefix: Bool? = nil,
        chatTemplate: String? = nil
    ) {
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.bosID = bosID
        self.eosID = eosID
        self.unknownID = unknownID
        self.paddingID = paddingID
        self.eotID = eotID
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
        self.chatTemplate = chatTemplate
    }

    /// Reads the `tokenizer.ggml.*` and `tokenizer.chat_template` keys of a GGUF metadata dictionary.
    ///
    /// Required: `tokenizer.ggml.model` (string) and `tokenizer.ggml.tokens` (string array).
    /// Optional: `pre` (string), `scores` (float array), `token_type` (integer array), `merges`
    /// (string array), the `*_token_id` keys (integers), `add_bos_token` / `add_eos_token` /
    /// `add_space_prefix` (bools), `tokenizer.chat_template` (string).
    ///
    /// Defaults when a flag is absent follow llama.cpp: `add_bos_token` is true for `"llama"` models
    /// (when a BOS id is present) and for `gpt2` models with the llama3 pre-tokenizer, false
    /// otherwise; `add_eos_token` is false.
    ///
    /// - Throws: ``TokenizerError`` naming the key and the value at fault when a key is missing, has
    ///   the wrong type, or an array's length does not match the token count.
    public init(metadata: [String: GGUFValue]) throws(TokenizerError) {
        let prefix = "tokenizer.ggml."
        func key(_ name: String) -> String { prefix + name }

        /// The value of key `k` as `extract` reads it, nil when the key is absent.
        func value<T>(_ k: String, expected: String, _ extract: (GGUFValue) -> T?) throws(TokenizerError) -> T? {
            guard let v = metadata[k] else { return nil }
            guard let x = extract(v) else { throw TokenizerError("GGUF metadata \(k) is \(v.summary), expected \(expected)") }
            return x
        }
        func string(_ k: String, required: Bool) throws(TokenizerError) -> String? {
            let s = try value(k, expected: "a string", \.stringValue)
            if s == nil && required { throw TokenizerError("GGUF metadata has no \(k) key") }
            return s
        }
        func bool(_ k: String) throws(TokenizerError) -> Bool? { try value(k, expected: "a bool", \.boolValue) }
        func array(_ k: String) throws(TokenizerError) -> GGUFArray? { try value(k, expected: "an array", \.arrayValue) }
        func id(_ k: String) throws(TokenizerError) -> TokenID? {
            let i = try value(k, expected: "an integer token id") { v -> Int? in
                if case .bool = v { return nil }
                return v.intValue
            }
            guard let i else { return nil }
            guard let t = TokenID(exactly: i) else {
                throw TokenizerError("GGUF metadata \(k) is \(metadata[k]!.summary), which does not fit a 32-bit token id")
            }
            return t
        }

        let model = try string(key("model"), required: true)!
        let pre = try string(key("pre"), required: false)

        guard let tokenArray = try array(key("tokens")) else {
            throw TokenizerError("GGUF metadata has no \(key("tokens")) key")
        }
        guard let tokens = tokenArray.strings else {
            throw TokenizerError("GGUF metadata \(key("tokens")) is \(GGUFValue.array(tokenArray).summary), expected an array of strings")
        }

        var scores: [Float]?
        if let a = try array(key("scores")) {
            switch a {
            case .float32(let f): scores = f
            case .float64(let d): scores = d.map { Float($0) }
            default:
                throw TokenizerError("GGUF metadata \(key("scores")) is \(GGUFValue.array(a).summary), expected an array of floats")
            }
            guard a.count == tokens.count else {
                throw TokenizerError("GGUF metadata \(key("scores")) has \(a.count) elements but \(key("tokens")) has \(tokens.count)")
            }
        }

        var types: [Int32]?
        if let a = try array(key("token_type")) {
            /// The elements as 32-bit types, once their count is known to match the tokens' (a
            /// file's array is never widened before its count is checked).
            func int32s<T: BinaryInteger>(_ elements: [T]) throws(TokenizerError) -> [Int32] {
                guard elements.count == tokens.count else {
                    throw TokenizerError("GGUF metadata \(key("token_type")) has \(elements.count) elements but \(key("tokens")) has \(tokens.count)")
                }
                var out: [Int32] = []
                out.reserveCapacity(elements.count)
                for (i, t) in elements.enumerated() {
                    guard let v = Int32(exactly: t) else {
                        throw TokenizerError("GGUF metadata \(key("token_type"))[\(i)] is \(t), which does not fit a 32-bit token type")
                    }
                    out.append(v)
                }
                return out
            }
            switch a {
            case .uint8(let e): types = try int32s(e)
            case .int8(let e): types = try int32s(e)
            case .uint16(let e): types = try int32s(e)
            case .int16(let e): types = try int32s(e)
            case .uint32(let e): types = try int32s(e)
            case .int32(let e): types = try int32s(e)
            case .uint64(let e): types = try int32s(e)
            case .int64(let e): types = try int32s(e)
            default:
                throw TokenizerError("GGUF metadata \(key("token_type")) is \(GGUFValue.array(a).summary), expected an array of integers")
            }
        }

        var merges: [String] = []
        if let a = try array(key("merges")) {
            guard let m = a.strings else {
                throw TokenizerError("GGUF metadata \(key("merges")) is \(GGUFValue.array(a).summary), expected an array of strings")
            }
            merges = m
        }

        let bos = try id(key("bos_token_id"))
        let eos = try id(key("eos_token_id"))
        let unk = try id(key("unknown_token_id"))
        let pad = try id(key("padding_token_id"))
        let eot = try id(key("eot_token_id"))

        let isLlama3Pre = pre.map { Tokenizer.llama3PreNames.contains($0) } ?? false
        let defaultAddBOS = (model == "llama" && bos != nil) || (model == "gpt2" && isLlama3Pre)
        let addBOS = try bool(key("add_bos_token")) ?? defaultAddBOS
        let addEOS = try bool(key("add_eos_token")) ?? false
        let addSpacePrefix = try bool(key("add_space_prefix"))
        let template = try string("tokenizer.chat_template", required: false)

        self.init(
            model: model, pre: pre, tokens: tokens, scores: scores, tokenTypes: types, merges: merges,
            bosID: bos, eosID: eos, unknownID: unk, paddingID: pad, eotID: eot,
            addBOS: addBOS, addEOS: addEOS, addSpacePrefix: addSpacePrefix, chatTemplate: template)
    }
}
