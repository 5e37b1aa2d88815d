/// An exact-bytes index from token text to token id.
///
/// All token texts are stored back to back in one byte array; an open-addressing hash table
/// (FNV-1a, linear probing) maps text to id. Compared with a `Dictionary<String, TokenID>` this
/// compares UTF-8 bytes rather than canonical equivalence (so `"é"` and `"e\u{301}"` stay
/// distinct tokens), and it is fast to build even in unoptimized builds.
struct TokenTextIndex: Sendable {
    private let storage: [UInt8]
    /// `starts[id] ..< starts[id + 1]`: the bytes of token `id` in `storage`.
    private let starts: [Int32]
    /// Token id + 1 per slot (0: empty). The capacity is a power of two at least twice the count.
    private let slots: [Int32]
    private let mask: Int

    /// Indexes `tokens`; empty texts are left out, and for duplicate texts the last id wins.
    init(_ tokens: [String]) {
        var storage: [UInt8] = []
        var starts: [Int32] = [0]
        starts.reserveCapacity(tokens.count + 1)
        for t in tokens {
            storage.append(contentsOf: t.utf8)
            starts.append(Int32(storage.count))
        }
        var capacity = 16
        while capacity < 2 * tokens.count { capacity *= 2 }
        var slots = [Int32](repeating: 0, count: capacity)
        let mask = capacity - 1
        storage.withUnsafeBufferPointer { s in
            for id in 0..<tokens.count {
                let a = Int(starts[id]), b = Int(starts[id + 1])
                if a == b { continue }
                let text = UnsafeBufferPointer(rebasing: s[a..<b])
                var i = Int(truncatingIfNeeded: TokenTextIndex.hash(text)) & mask
                while slots[i] != 0 {
                    let other = Int(slots[i] - 1)
                    if TokenTextIndex.equal(text, s, Int(starts[other]), Int(starts[other + 1])) { break }
                    i = (i + 1) & mask
                }
                slots[i] = Int32(id + 1)
            }
        }
        self.storage = storage
        self.starts = starts
        self.slots = slots
        self.mask = mask
    }

    /// FNV-1a, 64-bit.
    @inline(__always)
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    @inline(__always)
    private static func equal(_ text: UnsafeBufferPointer<UInt8>, _ s: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int) -> Bool {
        guard b - a == text.count else { return false }
        var k = 0
        while k < text.count {
            if text[k] != s[a + k] { return false }
            k += 1
        }
        return true
    }

    /// The id of the token whose text is exactly these bytes.
    func id(of text: UnsafeBufferPointer<UInt8>) -> TokenID? {
        if text.isEmpty { return nil }
        return storage.withUnsafeBufferPointer { s -> TokenID? in
            var i = Int(truncatingIfNeeded: TokenTextIndex.hash(text)) & mask
            while true {
                let slot = slots[i]
                if slot == 0 { return nil }
                let id = Int(slot - 1)
                if TokenTextIndex.equal(text, s, Int(starts[id]), Int(starts[id + 1])) { return TokenID(id) }
                i = (i + 1) & mask
            }
        }
    }

    /// The id of the token whose text is exactly these bytes.
    func id(of bytes: [UInt8]) -> TokenID? {
        bytes.withUnsafeBufferPointer { id(of: $0) }
    }

    /// The id of the token spelled exactly `text` (compared as UTF-8 bytes).
    func id(of text: String) -> TokenID? {
        var text = text
        return text.withUTF8 { id(of: $0) }
    }
}
