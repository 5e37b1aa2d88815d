/// Hand-written pre-tokenizers: they split text into the pieces ("words") that BPE encodes one by
/// one, exactly as the regular expressions used by GPT-2, SmolLM and Llama 3 would with Python's
/// `regex` module (ordered alternation, backtracking), without a regex engine.
///
/// Everything works on unicode scalars (code points), as the regexes do, and character classes
/// come from `Unicode.Scalar.Properties`: `\p{L}` = Lu, Ll, Lt, Lm, Lo; `\p{N}` = Nd, Nl, No;
/// `\s` = White_Space.
enum PreTokenizer: Sendable, Equatable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// Every `\p{N}` scalar is its own piece; the text between is split with ``gpt2``.
    case smollm
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3

    /// Splits `text[range]` into consecutive, non-empty ranges covering it, appended to `pieces`.
    /// The end of `range` acts as the end of the text (for lookaheads).
    func split(_ text: [Unicode.Scalar], _ range: Range<Int>, into pieces: inout [Range<Int>]) {
        switch self {
        case .gpt2:
            PreTokenizer.splitGPT2(text, range, into: &pieces)
        case .smollm:
            var start = range.lowerBound
            for i in range where CharClass.of(text[i]) == .number {
                if start < i { PreTokenizer.splitGPT2(text, start..<i, into: &pieces) }
                pieces.append(i..<(i + 1))
                start = i + 1
            }
            if start < range.upperBound { PreTokenizer.splitGPT2(text, start..<range.upperBound, into: &pieces) }
        case .llama3:
            PreTokenizer.splitLlama3(text, range, into: &pieces)
        }
    }

    // MARK: - GPT-2

    private static func splitGPT2(_ s: [Unicode.Scalar], _ range: Range<Int>, into pieces: inout [Range<Int>]) {
        let end = range.upperBound
        var i = range.lowerBound
        while i < end {
            let len = matchGPT2(s, i, end)
            pieces.append(i..<(i + len))
            i += len
        }
    }

    /// Length of the GPT-2 regex match at `i` (always ≥ 1: some alternative matches any scalar).
    private static func matchGPT2(_ s: [Unicode.Scalar], _ i: Int, _ end: Int) -> Int {
        let c = s[i]
        // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
        if c == "'" {
            let n = contractionLength(s, i, end, caseInsensitive: false)
            if n > 0 { return n }
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one class.
        let j = (c == " " && i + 1 < end) ? i + 1 : i
        let cls = CharClass.of(s[j])
        if cls != .space {
            var k = j + 1
            while k < end && CharClass.of(s[k]) == cls { k += 1 }
            return k - i
        }
        // `\s+(?!\S)|\s+`
        return whitespaceLength(s, i, end)
    }

    // MARK: - Llama 3

    private static func splitLlama3(_ s: [Unicode.Scalar], _ range: Range<Int>, into pieces: inout [Range<Int>]) {
        let end = range.upperBound
        var i = range.lowerBound
        while i < end {
            let len = matchLlama3(s, i, end)
            pieces.append(i..<(i + len))
            i += len
        }
    }

    private static func matchLlama3(_ s: [Unicode.Scalar], _ i: Int, _ end: Int) -> Int {
        let c = s[i]
        let cls = CharClass.of(c)
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if c == "'" {
            let n = contractionLength(s, i, end, caseInsensitive: true)
            if n > 0 { return n }
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if cls == .letter {
            return runLength(s, i, end, .letter)
        }
        if cls != .number && !isNewline(c) && i + 1 < end && CharClass.of(s[i + 1]) == .letter {
            return 1 + runLength(s, i + 1, end, .letter)
        }
        // \p{N}{1,3}
        if cls == .number {
            var k = i + 1
            while k < end && k < i + 3 && CharClass.of(s[k]) == .number { k += 1 }
            return k - i
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        let j = (c == " " && i + 1 < end) ? i + 1 : i
        if CharClass.of(s[j]) == .other {
            var k = j + runLength(s, j, end, .other)
            while k < end && isNewline(s[k]) { k += 1 }
            return k - i
        }
        // `\s*[\r\n]+`: the whitespace run up to and including its last CR/LF.
        // (Here `c` is whitespace: every other scalar was matched above.)
        let runEnd = i + runLength(s, i, end, .space)
        var k = runEnd
        while k > i && !isNewline(s[k - 1]) { k -= 1 }
        if k > i { return k - i }
        // `\s+(?!\S)|\s+`
        return whitespaceLength(s, i, end)
    }

    // MARK: - Shared pieces

    /// Length of `'s|'t|'re|'ve|'m|'ll|'d` at `i` (where `s[i]` is an apostrophe), or 0.
    /// Case-insensitive matching follows Python `regex` (simple case folding): `ſ` (U+017F) matches `s`.
    private static func contractionLength(_ s: [Unicode.Scalar], _ i: Int, _ end: Int, caseInsensitive: Bool) -> Int {
        guard i + 1 < end else { return 0 }
        func fold(_ x: Unicode.Scalar) -> UInt32 {
            guard caseInsensitive else { return x.value }
            if x.value >= 0x41 && x.value <= 0x5A { return x.value + 0x20 }
            if x.value == 0x17F { return 0x73 }  // ſ LATIN SMALL LETTER LONG S folds to s
            return x.value
        }
        let a = fold(s[i + 1])
        switch a {
        case 0x73, 0x74, 0x6D, 0x64:  // s t m d
            return 2
        case 0x72, 0x76:  // r v → 're 've
            return (i + 2 < end && fold(s[i + 2]) == 0x65) ? 3 : 0
        case 0x6C:  // l → 'll
            return (i + 2 < end && fold(s[i + 2]) == 0x6C) ? 3 : 0
        default:
            return 0
        }
    }

    /// `\s+(?!\S)|\s+` at `i` (where `s[i]` is whitespace): a whitespace run that reaches the end
    /// is taken whole; one followed by a non-space gives back its last scalar (which then prefixes
    /// the next word), unless it is a single scalar.
    private static func whitespaceLength(_ s: [Unicode.Scalar], _ i: Int, _ end: Int) -> Int {
        let n = runLength(s, i, end, .space)
        if i + n == end || n == 1 { return n }
        return n - 1
    }

    /// Number of consecutive scalars of class `cls` starting at `i`.
    @inline(__always)
    private static func runLength(_ s: [Unicode.Scalar], _ i: Int, _ end: Int, _ cls: CharClass) -> Int {
        var k = i
        while k < end && CharClass.of(s[k]) == cls { k += 1 }
        return k - i
    }

    @inline(__always)
    private static func isNewline(_ c: Unicode.Scalar) -> Bool { c == "\n" || c == "\r" }
}

/// The four classes the pre-tokenizer regexes distinguish. (No scalar is both a letter or number
/// and whitespace, so the classes partition all scalars.)
enum CharClass: UInt8, Sendable {
    /// `\p{L}`
    case letter
    /// `\p{N}`
    case number
    /// `\s` (Unicode White_Space)
    case space
    /// anything else: `[^\s\p{L}\p{N}]`
    case other

    private static let ascii: [CharClass] = (0..<128).map { v in
        let c = Unicode.Scalar(UInt8(v))
        return classify(c)
    }

    @inline(__always)
    static func of(_ c: Unicode.Scalar) -> CharClass {
        if c.value < 128 { return ascii[Int(c.value)] }
        return classify(c)
    }

    private static func classify(_ c: Unicode.Scalar) -> CharClass {
        let p = c.properties
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return p.isWhitespace ? .space : .other
        }
    }
}
