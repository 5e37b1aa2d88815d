/// Rank-ordered byte-level BPE (GPT-2 style).
///
/// A word is first spelled as one symbol per byte (the token of its byte-level scalar); then,
/// repeatedly, the adjacent pair whose merge has the lowest rank is merged (the leftmost such pair
/// when the same merge occurs more than once), until no adjacent pair has a merge. A binary heap
/// keyed by (rank, position) makes this O(n log n) in the word length; stale heap entries are
/// skipped when popped.
struct BytePairEncoder: Sendable {
    /// A merge rule: the rank (its index in `tokenizer.ggml.merges`) and the token it produces.
    struct Rule: Sendable {
        var rank: Int32
        var result: TokenID
    }

    /// The token of each byte's byte-level scalar, or -1 when the vocabulary lacks it.
    let byteTokens: [TokenID]
    /// Merge rules keyed by `left << 32 | right` token ids.
    let rules: [UInt64: Rule]

    @inline(__always)
    static func key(_ left: TokenID, _ right: TokenID) -> UInt64 {
        (UInt64(UInt32(bitPattern: left)) << 32) | UInt64(UInt32(bitPattern: right))
    }

    /// Scratch buffers reused across the words of one `encode` call.
    struct Workspace {
        var ids: [TokenID] = []
        var next: [Int32] = []
        var prev: [Int32] = []
        var heap: [Entry] = []
    }

    /// A candidate merge of the adjacent symbols at `left` and `right`.
    struct Entry {
        var rank: Int32
        var left: Int32
        var right: Int32
        var leftID: TokenID
        var rightID: TokenID
        var result: TokenID

        @inline(__always)
        func precedes(_ o: Entry) -> Bool {
            rank < o.rank || (rank == o.rank && left < o.left)
        }
    }

    /// Dead symbols (merged into their left neighbour) carry this id.
    private static let dead: TokenID = .min

    /// Encodes one word given as UTF-8 bytes, appending its token ids to `out`.
    ///
    /// A byte whose byte-level token is missing from the vocabulary is dropped, as llama.cpp and
    /// Hugging Face's byte-level BPE (without an unknown token) do: such vocabularies cannot spell
    /// it. (SmolLM2's lacks 21 bytes: 0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2 and
    /// 0xF5…0xFF, so U+0004 or a scalar in planes 4–11 vanishes.) The unknown token is not used:
    /// in gpt2 vocabularies it is usually an end-of-text token, which must not appear mid-prompt.
    func encode(_ bytes: ArraySlice<UInt8>, into out: inout [TokenID], workspace ws: inout Workspace) {
        let n = bytes.count
        if n == 0 { return }
        if n == 1 {
            emit(byteTokens[Int(bytes[bytes.startIndex])], into: &out)
            return
        }
        ws.ids.removeAll(keepingCapacity: true)
        ws.next.removeAll(keepingCapacity: true)
        ws.prev.removeAll(keepingCapacity: true)
        ws.heap.removeAll(keepingCapacity: true)
        for b in bytes { ws.ids.append(byteTokens[Int(b)]) }
        for i in 0..<n {
            ws.next.append(Int32(i + 1))
            ws.prev.append(Int32(i - 1))
        }
        for i in 0..<(n - 1) { push(Int32(i), Int32(i + 1), &ws) }

        while let e = pop(&ws) {
            let l = Int(e.left), r = Int(e.right)
            // Skip stale entries: a side was merged away or changed since the entry was pushed.
            guard ws.ids[l] == e.leftID, ws.ids[r] == e.rightID, ws.next[l] == e.right else { continue }
            ws.ids[l] = e.result
            ws.ids[r] = BytePairEncoder.dead
            let after = ws.next[r]
            ws.next[l] = after
            if Int(after) < n { ws.prev[Int(after)] = e.left }
            let before = ws.prev[l]
            if before >= 0 { push(before, e.left, &ws) }
            if Int(after) < n { push(e.left, after, &ws) }
        }

        var i = 0
        while i < n {
            emit(ws.ids[i], into: &out)
            i = Int(ws.next[i])
        }
    }

    @inline(__always)
    private func emit(_ id: TokenID, into out: inout [TokenID]) {
        if id >= 0 { out.append(id) }
    }

    /// Pushes the pair (left, right) when a merge rule exists for it.
    @inline(__always)
    private func push(_ left: Int32, _ right: Int32, _ ws: inout Workspace) {
        let a = ws.ids[Int(left)], b = ws.ids[Int(right)]
        guard a >= 0, b >= 0, let rule = rules[BytePairEncoder.key(a, b)] else { return }
        let e = Entry(rank: rule.rank, left: left, right: right, leftID: a, rightID: b, result: rule.result)
        ws.heap.append(e)
        var c = ws.heap.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            guard ws.heap[c].precedes(ws.heap[p]) else { break }
            ws.heap.swapAt(c, p)
            c = p
        }
    }

    /// Removes and returns the entry with the lowest (rank, left).
    @inline(__always)
    private func pop(_ ws: inout Workspace) -> Entry? {
        guard let last = ws.heap.popLast() else { return nil }
        if ws.heap.isEmpty { return last }
        let top = ws.heap[0]
        ws.heap[0] = last
        let count = ws.heap.count
        var p = 0
        while true {
            let l = 2 * p + 1
            if l >= count { break }
            var m = l
            let r = l + 1
            if r < count && ws.heap[r].precedes(ws.heap[l]) { m = r }
            guard ws.heap[m].precedes(ws.heap[p]) else { break }
            ws.heap.swapAt(m, p)
            p = m
        }
        return top
    }
}
