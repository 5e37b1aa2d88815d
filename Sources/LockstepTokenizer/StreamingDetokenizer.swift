/// Streams text out of a growing token sequence: returns only complete UTF-8 text, holding back
/// a partial multi-byte sequence (say, the first two bytes of an emoji that the next token
/// completes) until it is complete.
///
/// The concatenation of every ``append(_:)`` result and ``finish()`` equals
/// `tokenizer.decode(allIDs)`, invalid bytes included (each becomes U+FFFD at the same place).
public struct StreamingDetokenizer: Sendable {
    /// The tokenizer whose tokens are decoded.
    public let tokenizer: Tokenizer
    /// Bytes not yet returned: at most an incomplete (but so far valid) UTF-8 sequence.
    private var pending: [UInt8] = []
    /// Whether no non-control token has been seen yet (SentencePiece leading-space rule).
    private var atStart = true

    /// Creates a detokenizer for an empty sequence.
    public init(tokenizer: Tokenizer) {
        self.tokenizer = tokenizer
    }

    /// Adds one token and returns the text that became complete (possibly empty).
    public mutating func append(_ id: TokenID) -> String {
        tokenizer.appendBytes(of: id, to: &pending, atStart: &atStart)
        let cut = completePrefixLength(pending)
        if cut == 0 { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Returns whatever is held back (an incomplete sequence becomes U+FFFD) and resets the
    /// detokenizer for a new sequence.
    public mutating func finish() -> String {
        let text = String(decoding: pending, as: UTF8.self)
        pending.removeAll()
        atStart = true
        return text
    }
}

/// The length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence that
/// could still be completed: everything except a trailing lead byte followed by fewer
/// continuation bytes than it needs, all of them valid so far.
func completePrefixLength(_ bytes: [UInt8]) -> Int {
    let n = bytes.count
    // A sequence is at most 4 bytes, so an incomplete tail starts within the last 3 bytes.
    var start = n - 1
    while start >= 0 && start >= n - 3 {
        let b = bytes[start]
        if b < 0x80 { return n }            // ASCII: nothing pending after it
        if b >= 0xC0 {                      // a lead byte: is the tail an incomplete valid prefix?
            let need: Int
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
            switch b {
            case 0xC2...0xDF: need = 2
            case 0xE0: need = 3; lo = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: need = 3
            case 0xED: need = 3; hi = 0x9F
            case 0xF0: need = 4; lo = 0x90
            case 0xF1...0xF3: need = 4
            case 0xF4: need = 4; hi = 0x8F
            default: return n               // C0, C1, F5…FF: never valid, decode now
            }
            let have = n - start
            if have >= need { return n }    // complete (or already invalid): decode now
            // All bytes after the lead must be continuation bytes in range (the second may be narrower).
            for k in (start + 1)..<n {
                let c = bytes[k]
                let (l, h) = k == start + 1 ? (lo, hi) : (UInt8(0x80), UInt8(0xBF))
                if c < l || c > h { return n }
            }
            return start
        }
        start -= 1                          // a continuation byte: look further back
    }
    return n
}
