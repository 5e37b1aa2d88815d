import LockstepGGUF

/// A tokenizer for a llama-family GGUF vocabulary: byte-level BPE (`tokenizer.ggml.model = "gpt2"`,
/// with the `smollm`, `gpt2`/`default` or `llama3` pre-tokenizer) or SentencePiece-style BPE
/// (`"llama"`).
///
/// Immutable after construction and safe to share between threads. Encoding is deterministic: the
/// same vocabulary and text always give the same ids.
public final class Tokenizer: Sendable {
    /// The vocabulary this tokenizer was built from.
    public let vocabulary: TokenizerVocabulary

    /// Number of tokens in the vocabulary (valid ids are `0 ..< vocabularySize`).
    public var vocabularySize: Int { vocabulary.tokens.count }

    /// Pre-tokenizer names accepted for `"gpt2"` models, by kind.
    static let gpt2PreNames: Set<String> = ["gpt2", "gpt-2", "default"]
    static let smollmPreNames: Set<String> = ["smollm"]
    static let llama3PreNames: Set<String> = ["llama3", "llama-bpe", "llama-v3"]

    private enum Kind: Sendable {
        /// Byte-level BPE; `ignoreMerges`: a word that is itself a token is emitted whole (llama3).
        case byteLevel(PreTokenizer, BytePairEncoder, ignoreMerges: Bool)
        case sentencePiece(SentencePieceEncoder, addSpacePrefix: Bool)
    }

    private let kind: Kind
    /// Every token's text → id (the last id wins for duplicate texts, as in llama.cpp).
    private let idForText: TokenTextIndex
    /// The bytes each token decodes to (see ``bytes(of:)``).
    private let pieces: [[UInt8]]
    /// Tokens matched in text when `parseSpecial` is true.
    private let specials: SpecialTokenMatcher
    /// Ids for which ``isEndOfGeneration(_:)`` is true.
    private let endOfGeneration: Set<TokenID>
    /// Ids of control tokens (type 3), which do not start the text for SentencePiece's leading-space rule.
    private let controlIDs: Set<TokenID>

    /// Builds a tokenizer, checking the vocabulary.
    ///
    /// - Throws: ``TokenizerError`` when the model or pre-tokenizer name is not supported (naming
    ///   it), the vocabulary is empty, `scores`/`tokenTypes` do not have one entry per token, a
    ///   special-token id is out of range, `addBOS`/`addEOS` is set without the id, or a merge is
    ///   malformed or names a token (or produces a concatenation) that is not in the vocabulary.
    public init(vocabulary v: TokenizerVocabulary) throws(TokenizerError) {
        // Model and pre-tokenizer names first.
        var preTokenizer: PreTokenizer?
        switch v.model {
        case "gpt2":
            let name = v.pre ?? "default"
            if Tokenizer.gpt2PreNames.contains(name) {
                preTokenizer = .gpt2
            } else if Tokenizer.smollmPreNames.contains(name) {
                preTokenizer = .smollm
            } else if Tokenizer.llama3PreNames.contains(name) {
                preTokenizer = .llama3
            } else {
                let known = Tokenizer.smollmPreNames.union(Tokenizer.gpt2PreNames).union(Tokenizer.llama3PreNames).sorted()
                throw TokenizerError("unknown pre-tokenizer \(GGUFValue.quoted(name)) (tokenizer.ggml.pre) for model gpt2; supported: \(known.joined(separator: ", "))")
            }
        case "llama":
            preTokenizer = nil  // SentencePiece models have no pre-tokenizer; `pre` is ignored
        default:
            throw TokenizerError("unknown tokenizer model \(GGUFValue.quoted(v.model)) (tokenizer.ggml.model); supported: gpt2 (byte-level BPE), llama (SentencePiece-style BPE)")
        }

        let n = v.tokens.count
        guard n > 0 else { throw TokenizerError("the vocabulary has no tokens (tokenizer.ggml.tokens is empty)") }
        guard n <= Int(Int32.max) else { throw TokenizerError("the vocabulary has \(n) tokens, more than 32-bit ids can address") }
        if let s = v.scores, s.count != n {
            throw TokenizerError("the vocabulary has \(n) tokens but \(s.count) scores (tokenizer.ggml.scores)")
        }
        if let t = v.tokenTypes, t.count != n {
            throw TokenizerError("the vocabulary has \(n) tokens but \(t.count) token types (tokenizer.ggml.token_type)")
        }
        let namedIDs: [(String, TokenID?)] = [
            ("bosID (tokenizer.ggml.bos_token_id)", v.bosID),
            ("eosID (tokenizer.ggml.eos_token_id)", v.eosID),
            ("unknownID (tokenizer.ggml.unknown_token_id)", v.unknownID),
            ("paddingID (tokenizer.ggml.padding_token_id)", v.paddingID),
            ("eotID (tokenizer.ggml.eot_token_id)", v.eotID),
        ]
        for (name, id) in namedIDs {
            if let id, id < 0 || Int(id) >= n {
                throw TokenizerError("\(name) is \(id), out of range: the vocabulary has \(n) tokens (ids 0..<\(n))")
            }
        }
        if v.addBOS && v.bosID == nil {
            throw TokenizerError("addBOS (tokenizer.ggml.add_bos_token) is true but the vocabulary has no bosID")
        }
        if v.addEOS && v.eosID == nil {
            throw TokenizerError("addEOS (tokenizer.ggml.add_eos_token) is true but the vocabulary has no eosID")
        }

        let idForText = TokenTextIndex(v.tokens)

        // Merges: "left right", split at the first space after the first scalar (as llama.cpp does,
        // so that a left part may itself be a space).
        var rules: [UInt64: BytePairEncoder.Rule] = [:]
        rules.reserveCapacity(v.merges.count)
        var both: [UInt8] = []
        for rank in 0..<v.merges.count {
            var merge = v.merges[rank]
            var split = -1
            var l: TokenID?, r: TokenID?, m: TokenID?
            merge.withUTF8 { u in
                guard !u.isEmpty else { return }
                var i = utf8Length(u[0])
                while i < u.count && u[i] != 0x20 { i += 1 }
                guard i < u.count else { return }
                split = i
                let left = UnsafeBufferPointer(rebasing: u[0..<i]), right = UnsafeBufferPointer(rebasing: u[(i + 1)...])
                l = idForText.id(of: left)
                r = idForText.id(of: right)
                both.removeAll(keepingCapacity: true)
                both.append(contentsOf: left)
                both.append(contentsOf: right)
                m = idForText.id(of: both)
            }
            guard split >= 0 else {
                throw TokenizerError("merge #\(rank) \(GGUFValue.quoted(merge)) (tokenizer.ggml.merges) is not of the form \"left right\"")
            }
            guard let l, let r, let m else {
                let u = Array(merge.utf8)
                let left = String(decoding: u[..<split], as: UTF8.self), right = String(decoding: u[(split + 1)...], as: UTF8.self)
                let what = l == nil ? "names \(GGUFValue.quoted(left))" : r == nil ? "names \(GGUFValue.quoted(right))"
                    : "produces \(GGUFValue.quoted(left + right))"
                throw TokenizerError("merge #\(rank) \(GGUFValue.quoted(merge)) (tokenizer.ggml.merges) \(what), which is not a token")
            }
            let key = BytePairEncoder.key(l, r)
            if rules[key] == nil {  // a repeated merge keeps its first (lowest) rank
                rules[key] = BytePairEncoder.Rule(rank: Int32(rank), result: m)
            }
        }

        let types = v.tokenTypes
        func type(_ i: Int) -> Int32 { types?[i] ?? TokenType.normal }

        if let pre = preTokenizer {
            var byteTokens = [TokenID](repeating: -1, count: 256)
            for b in 0..<256 {
                var s = String.UnicodeScalarView()
                s.append(ByteLevel.scalarForByte[b])
                byteTokens[b] = idForText.id(of: String(s)) ?? -1
            }
            kind = .byteLevel(pre, BytePairEncoder(byteTokens: byteTokens, rules: rules), ignoreMerges: pre == .llama3)
        } else {
            var mergeable = [Bool](repeating: false, count: n)
            var byteTokens = [TokenID](repeating: -1, count: 256)
            for (i, t) in v.tokens.enumerated() where !t.isEmpty {
                let ty = type(i)
                if ty == TokenType.byte {
                    if let b = Tokenizer.byteTokenValue(t) { byteTokens[Int(b)] = TokenID(i) }
                    continue
                }
                mergeable[i] = !(ty == TokenType.control || ty == TokenType.userDefined || ty == TokenType.unknown || ty == TokenType.unused)
            }
            let scores = v.scores ?? [Float](repeating: 0, count: n)
            kind = .sentencePiece(SentencePieceEncoder(index: idForText, mergeable: mergeable, scores: scores, byteTokens: byteTokens),
                                  addSpacePrefix: v.addSpacePrefix ?? true)
        }

        // Decoded bytes of every token.
        var pieces: [[UInt8]] = []
        pieces.reserveCapacity(n)
        var controls = Set<TokenID>()
        let byteLevel = v.model == "gpt2"
        for (i, t) in v.tokens.enumerated() {
            let ty = type(i)
            if ty == TokenType.control { controls.insert(TokenID(i)) }
            if ty == TokenType.control || ty == TokenType.userDefined || ty == TokenType.unknown {
                pieces.append(Array(t.utf8))  // special tokens render as their text
            } else if byteLevel {
                pieces.append(ByteLevel.decode(t) ?? Array(t.utf8))
            } else if ty == TokenType.byte, let b = Tokenizer.byteTokenValue(t) {
                pieces.append([b])
            } else {
                pieces.append(Array(t.replacingSpaceMarks().utf8))
            }
        }

        // Special tokens matched by parseSpecial: control and user-defined tokens; without token
        // types, the named special ids.
        var special: [TokenID] = []
        if let types {
            for i in 0..<n where types[i] == TokenType.control || types[i] == TokenType.userDefined {
                special.append(TokenID(i))
            }
        } else {
            special = [v.bosID, v.eosID, v.unknownID, v.paddingID, v.eotID].compactMap { $0 }
        }

        var eog = Set<TokenID>()
        if let e = v.eosID { eog.insert(e) }
        if let e = v.eotID { eog.insert(e) }
        for text in ["<|eot_id|>", "<|im_end|>", "<|endoftext|>", "<|end_of_text|>", "<|eom_id|>", "<|end|>", "<end_of_turn>"] {
            if let id = idForText.id(of: text) {
                let ty = type(Int(id))
                if types == nil || ty == TokenType.control || ty == TokenType.userDefined { eog.insert(id) }
            }
        }

        self.vocabulary = v
        self.idForText = idForText
        self.pieces = pieces
        self.specials = SpecialTokenMatcher(ids: special, tokens: v.tokens)
        self.endOfGeneration = eog
        self.controlIDs = controls
    }

    /// The byte of a `<0xXX>` token text, or `nil`.
    static func byteTokenValue(_ text: String) -> UInt8? {
        let u = Array(text.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }

    /// The id of the token spelled exactly `text` (in the vocabulary's own spelling, e.g. `"Ġthe"`
    /// or `"<|im_end|>"`), or `nil`.
    public func id(forToken text: String) -> TokenID? {
        idForText.id(of: text)
    }

    // MARK: - Encoding

    /// Encodes text into token ids.
    ///
    /// - Parameters:
    ///   - text: the text; processed as unicode scalars, with no normalization.
    ///   - addSpecial: prepend ``TokenizerVocabulary/bosID`` when ``TokenizerVocabulary/addBOS`` is
    ///     set and append ``TokenizerVocabulary/eosID`` when ``TokenizerVocabulary/addEOS`` is set.
    ///   - parseSpecial: text that spells a control or user-defined token (such as `"<|im_start|>"`)
    ///     becomes that token: scanning left to right, the longest such token starting at each
    ///     position wins. When false, such text is tokenized like any other text.
    /// - Returns: the ids. For SentencePiece (`"llama"`) models, each run of text that starts the
    ///   input or follows a special token gets a `▁` prefix when ``TokenizerVocabulary/addSpacePrefix``
    ///   (default true) is set, as in llama.cpp.
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = false) -> [TokenID] {
        let scalars = Array(text.unicodeScalars)
        var out: [TokenID] = []
        out.reserveCapacity(scalars.count / 3 + 2)
        if addSpecial && vocabulary.addBOS, let bos = vocabulary.bosID { out.append(bos) }

        let fragments: [SpecialTokenMatcher.Fragment]
        if parseSpecial && !specials.isEmpty {
            fragments = specials.split(scalars)
        } else {
            fragments = scalars.isEmpty ? [] : [.text(0..<scalars.count)]
        }

        switch kind {
        case .byteLevel(let pre, let bpe, let ignoreMerges):
            var ws = BytePairEncoder.Workspace()
            var words: [Range<Int>] = []
            var bytes: [UInt8] = []
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    out.append(id)
                case .text(let range):
                    words.removeAll(keepingCapacity: true)
                    pre.split(scalars, range, into: &words)
                    for w in words {
                        bytes.removeAll(keepingCapacity: true)
                        for k in w { appendUTF8(scalars[k], to: &bytes) }
                        if ignoreMerges, bytes.count > 1,
                           let whole = idForText.id(of: ByteLevel.encode(bytes)),
                           !specials.contains(whole) {
                            out.append(whole)
                            continue
                        }
                        bpe.encode(bytes[...], into: &out, workspace: &ws)
                    }
                }
            }
        case .sentencePiece(let spm, let addSpacePrefix):
            var previousWasSpecial = true
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    out.append(id)
                    previousWasSpecial = true
                case .text(let range):
                    var bytes: [UInt8] = []
                    if addSpacePrefix && previousWasSpecial { bytes.append(contentsOf: [0xE2, 0x96, 0x81]) }
                    for k in range {
                        if scalars[k] == " " {
                            bytes.append(contentsOf: [0xE2, 0x96, 0x81])  // ▁ U+2581
                        } else {
                            appendUTF8(scalars[k], to: &bytes)
                        }
                    }
                    spm.encode(bytes, unknown: vocabulary.unknownID, into: &out)
                    previousWasSpecial = false
                }
            }
        }

        if addSpecial && vocabulary.addEOS, let eos = vocabulary.eosID { out.append(eos) }
        return out
    }

    // MARK: - Decoding

    /// The raw bytes a token stands for.
    ///
    /// - Byte-level (`gpt2`) tokens: the bytes their byte-level spelling encodes (`"Ġthe"` → ` the`).
    /// - SentencePiece tokens: their text with `▁` turned into a space; `<0xXX>` byte tokens give
    ///   the single byte.
    /// - Control, user-defined and unknown tokens: their text as UTF-8 (so `<|im_end|>` renders
    ///   as `"<|im_end|>"`, never as nothing).
    /// - Ids outside the vocabulary: `[]`.
    public func bytes(of id: TokenID) -> [UInt8] {
        guard id >= 0, Int(id) < pieces.count else { return [] }
        return pieces[Int(id)]
    }

    /// Whether the token is a control token (type 3).
    public func isControl(_ id: TokenID) -> Bool {
        controlIDs.contains(id)
    }

    /// Whether SentencePiece's leading space (added by ``encode(_:addSpecial:parseSpecial:)``) is
    /// removed when decoding: true for `"llama"` models with the space prefix on.
    var stripsLeadingSpace: Bool {
        if case .sentencePiece(_, let addSpacePrefix) = kind { return addSpacePrefix }
        return false
    }

    /// Appends the bytes of `id` to `out`; `atStart` tracks SentencePiece's leading-space rule:
    /// the first non-control token of a sequence loses one leading space.
    func appendBytes(of id: TokenID, to out: inout [UInt8], atStart: inout Bool) {
        let b = bytes(of: id)
        if atStart && stripsLeadingSpace {
            if isControl(id) { out.append(contentsOf: b); return }
            atStart = false
            if b.first == 0x20 {
                out.append(contentsOf: b.dropFirst())
                return
            }
        }
        atStart = false
        out.append(contentsOf: b)
    }

    /// Decodes ids into text: the concatenated ``bytes(of:)`` read as UTF-8, with every invalid
    /// sequence replaced by U+FFFD. For SentencePiece models with the space prefix on, the space
    /// that encoding put before the text (on the first non-control token) is removed, so that
    /// `decode(encode(s, addSpecial: false)) == s`.
    public func decode(_ ids: [TokenID]) -> String {
        var out: [UInt8] = []
        var atStart = true
        for id in ids { appendBytes(of: id, to: &out, atStart: &atStart) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether generation should stop at this token: the EOS and EOT ids, and any control or
    /// user-defined token spelled `<|eot_id|>`, `<|im_end|>`, `<|endoftext|>`, `<|end_of_text|>`,
    /// `<|eom_id|>`, `<|end|>` or `<end_of_turn>`.
    public func isEndOfGeneration(_ id: TokenID) -> Bool {
        endOfGeneration.contains(id)
    }
}

extension String {
    /// The text with SentencePiece's `▁` (U+2581) replaced by a space.
    func replacingSpaceMarks() -> String {
        var s = String.UnicodeScalarView()
        for c in unicodeScalars { s.append(c == "\u{2581}" ? " " : c) }
        return String(s)
    }
}
