/// Score-ordered BPE over unicode scalars, as SentencePiece BPE models and llama.cpp's
/// `LLM_VOCAB_TYPE_SPM` tokenizer do.
///
/// The text (spaces already replaced by `▁`) starts as one symbol per scalar. Repeatedly, among
/// adjacent pairs whose concatenation is a token, the pair whose token has the highest score is
/// merged (the leftmost on ties). Each final symbol is its token when it is one (only a single
/// scalar can fail to be), else its UTF-8 bytes as `<0xXX>` byte tokens, else the unknown token.
///
/// Only tokens of type normal (or undefined / out-of-table types) are formed from text; control,
/// user-defined, unknown, unused and byte tokens are never produced by merging.
struct SentencePieceEncoder: Sendable {
    /// Every token's text → id.
    let index: TokenTextIndex
    /// Whether text may merge into token `id` (normal tokens only).
    let mergeable: [Bool]
    /// Token scores (higher merges first).
    let scores: [Float]
    /// `byteTokens[b]`: the `<0xXX>` token of byte `b`, or -1.
    let byteTokens: [TokenID]

    /// The mergeable token spelled by `text[range]`, with its score.
    private func piece(_ text: [UInt8], _ range: Range<Int>) -> (id: TokenID, score: Float)? {
        let id = text.withUnsafeBufferPointer { index.id(of: UnsafeBufferPointer(rebasing: $0[range])) }
        guard let id, mergeable[Int(id)] else { return nil }
        return (id, scores[Int(id)])
    }

    private struct Entry {
        var score: Float
        var left: Int32
        var right: Int32
        var size: Int32

        /// Max-heap order: higher score first, then lower position.
        func precedes(_ o: Entry) -> Bool {
            score > o.score || (score == o.score && left < o.left)
        }
    }

    /// Encodes `text` (UTF-8, spaces already escaped to `▁`), appending token ids to `out`.
    func encode(_ text: [UInt8], unknown: TokenID?, into out: inout [TokenID]) {
        // One symbol per UTF-8 scalar: byte start and length.
        var start: [Int32] = [], length: [Int32] = []
        var i = 0
        while i < text.count {
            let len = min(utf8Length(text[i]), text.count - i)
            start.append(Int32(i)); length.append(Int32(len))
            i += len
        }
        let n = start.count
        if n == 0 { return }
        var next = (0..<n).map { Int32($0 + 1) }
        var prev = (0..<n).map { Int32($0 - 1) }
        var heap: [Entry] = []

        func push(_ l: Int32, _ r: Int32) {
            let a = Int(start[Int(l)]), b = Int(start[Int(r)] + length[Int(r)])
            guard let p = piece(text, a..<b) else { return }
            heap.append(Entry(score: p.score, left: l, right: r, size: Int32(b - a)))
            var c = heap.count - 1
            while c > 0 {
                let q = (c - 1) / 2
                guard heap[c].precedes(heap[q]) else { break }
                heap.swapAt(c, q); c = q
            }
        }
        func pop() -> Entry? {
            guard let last = heap.popLast() else { return nil }
            if heap.isEmpty { return last }
            let top = heap[0]
            heap[0] = last
            var q = 0
            while true {
                let l = 2 * q + 1
                if l >= heap.count { break }
                var m = l
                if l + 1 < heap.count && heap[l + 1].precedes(heap[l]) { m = l + 1 }
                guard heap[m].precedes(heap[q]) else { break }
                heap.swapAt(m, q); q = m
            }
            return top
        }

        for k in 0..<(n - 1) { push(Int32(k), Int32(k + 1)) }
        while let e = pop() {
            let l = Int(e.left), r = Int(e.right)
            // Stale when either side was merged away or grew since the entry was pushed.
            guard length[l] > 0, length[r] > 0, next[l] == e.right, length[l] + length[r] == e.size else { continue }
            length[l] += length[r]
            length[r] = 0
            next[l] = next[r]
            if Int(next[r]) < n { prev[Int(next[r])] = e.left }
            if prev[l] >= 0 { push(prev[l], e.left) }
            if Int(next[l]) < n { push(e.left, next[l]) }
        }

        var k = 0
        while k < n {
            let a = Int(start[k]), b = a + Int(length[k])
            if let p = piece(text, a..<b) {
                out.append(p.id)
            } else if text[a..<b].allSatisfy({ byteTokens[Int($0)] >= 0 }) {
                for byte in text[a..<b] { out.append(byteTokens[Int(byte)]) }
            } else if let unknown {
                out.append(unknown)
            }
            k = Int(next[k])
        }
    }
}

/// Length of the UTF-8 sequence introduced by a lead byte (1 for stray continuation bytes).
@inline(__always)
func utf8Length(_ lead: UInt8) -> Int {
    if lead < 0xC0 { return 1 }
    if lead < 0xE0 { return 2 }
    if lead < 0xF0 { return 3 }
    return 4
}
