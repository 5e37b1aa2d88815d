/// Finds special-token text (control and user-defined tokens such as `<|im_start|>`) in input
/// text, for `encode(_:parseSpecial: true)`.
///
/// Matching is on exact unicode scalars, scanning left to right; at each position the longest
/// special token that starts there wins (leftmost-longest, as Hugging Face's added-token matcher).
struct SpecialTokenMatcher: Sendable {
    /// A piece of the input: plain text (a range of scalars) or a matched special token.
    enum Fragment: Sendable, Equatable {
        case text(Range<Int>)
        case token(TokenID)
    }

    /// Candidates by first scalar, longest first.
    private let byFirst: [UInt32: [(scalars: [Unicode.Scalar], id: TokenID)]]
    private let ids: Set<TokenID>

    /// - Parameters:
    ///   - ids: the special token ids.
    ///   - tokens: the vocabulary's token texts. Empty texts are ignored; when two special tokens
    ///     have the same text, the higher id wins.
    init(ids: [TokenID], tokens: [String]) {
        var byText: [ByteKey: TokenID] = [:]
        for id in ids where !tokens[Int(id)].isEmpty {
            byText[ByteKey(tokens[Int(id)])] = max(id, byText[ByteKey(tokens[Int(id)])] ?? id)
        }
        var table: [UInt32: [(scalars: [Unicode.Scalar], id: TokenID)]] = [:]
        for (_, id) in byText {
            let s = Array(tokens[Int(id)].unicodeScalars)
            table[s[0].value, default: []].append((s, id))
        }
        for k in table.keys {
            table[k]!.sort { $0.scalars.count != $1.scalars.count ? $0.scalars.count > $1.scalars.count : $0.id < $1.id }
        }
        self.byFirst = table
        self.ids = Set(byText.values)
    }

    /// Whether there are no special tokens to match.
    var isEmpty: Bool { byFirst.isEmpty }

    /// Whether `id` is one of the matched special tokens.
    func contains(_ id: TokenID) -> Bool { ids.contains(id) }

    /// Splits text into text ranges and special tokens (text ranges are never empty).
    func split(_ s: [Unicode.Scalar]) -> [Fragment] {
        var out: [Fragment] = []
        var textStart = 0
        var i = 0
        scan: while i < s.count {
            if let candidates = byFirst[s[i].value] {
                for c in candidates where i + c.scalars.count <= s.count {
                    var equal = true
                    for k in 1..<c.scalars.count where s[i + k] != c.scalars[k] { equal = false; break }
                    if equal {
                        if textStart < i { out.append(.text(textStart..<i)) }
                        out.append(.token(c.id))
                        i += c.scalars.count
                        textStart = i
                        continue scan
                    }
                }
            }
            i += 1
        }
        if textStart < s.count { out.append(.text(textStart..<s.count)) }
        return out
    }
}
