/// An exact-bytes index from token text to token id.
///
/// All token texts are stored back to back in one byte array; an open-addressing hash table
/// (linear probing) maps text to id. Compared with a `Dictionary<String, TokenID>` this
/// compares UTF-8 bytes rather than canonical equivalence (so `"é"` and `"e\u{301}"` stay
/// distinct tokens), and it is fast to build even in unoptimized builds.
///
/// The hash is Swift's `Hasher` (SipHash, seeded at random per process), so the vocabulary of a
/// model file cannot be crafted to make its texts collide: with a fixed, public hash, texts chosen
/// to share a slot would make building the index quadratic in the token count. Which slot a text
/// lands in changes from run to run; which id a text maps to does not.
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
                var i = TokenTextIndex.hash(text) & mask
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

    /// The per-process seeded `Hasher` value of `bytes`.
    @inline(__always)
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var h = Hasher()
        h.combine(bytes: UnsafeRawBufferPointer(bytes))
        return h.finalize()
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

    /// The probes beyond the first that finding every indexed text takes, summed: each text's
    /// distance from its hash's slot. Building the index costs as many; a well-spread table at
    /// this load (at most half full) averages under one per text, while texts whose hashes share
    /// their low bits pile up in one run and cost quadratically many.
    var totalDisplacement: Int {
        storage.withUnsafeBufferPointer { s in
            var total = 0
            for (i, slot) in slots.enumerated() where slot != 0 {
                let id = Int(slot - 1)
                let home = TokenTextIndex.hash(UnsafeBufferPointer(rebasing: s[Int(starts[id]) ..< Int(starts[id + 1])])) & mask
                total += (i - home) & mask
            }
            return total
        }
    }

    /// The id of the token whose text is exactly these bytes.
    func id(of text: UnsafeBufferPointer<UInt8>) -> TokenID? {
        if text.isEmpty { return nil }
        return storage.withUnsafeBufferPointer { s -> TokenID? in
            var i = TokenTextIndex.hash(text) & mask
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
